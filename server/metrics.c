/*
 * metrics.c - the metrics registry and its Prometheus text rendering (see
 * server/metrics.h).
 *
 * Families and series are singly linked lists in declaration order: a
 * registry holds a few dozen families with a handful of series each, so a
 * linear lookup per operation costs less than keeping an index.  Rendering
 * appends to one growing buffer.
 *
 * Failure modes: invalid names and mismatched re-declarations are refused
 * (METRICS_EINVAL / METRICS_EMISMATCH) without changing the registry; an
 * allocation failure leaves the registry as it was (METRICS_ENOMEM).
 */
#include "server/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics_series {
    struct metrics_series *next;
    char *labels[METRICS_MAX_LABELS];
    double value;     /* counter, gauge */
    uint64_t *counts; /* histogram: n_buckets + 1, per bucket */
    double sum;
};

struct metrics_family {
    struct metrics_family *next;
    enum metrics_type type;
    char *name;
    char *help;
    size_t n_labels;
    char *label_names[METRICS_MAX_LABELS];
    size_t n_buckets;
    double bounds[METRICS_MAX_BUCKETS];
    struct metrics_series *series, *series_tail;
};

struct metrics {
    struct metrics_family *families, *families_tail;
};

const char *metrics_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case METRICS_ENOMEM:
        return "out of memory";
    case METRICS_EINVAL:
        return "invalid argument";
    case METRICS_EMISMATCH:
        return "metric declared again with another shape";
    case METRICS_ETYPE:
        return "operation not valid for this metric type";
    default:
        return "unknown error";
    }
}

int metrics_create(struct metrics **out)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? 0 : METRICS_ENOMEM;
}

static void series_free(struct metrics_series *s)
{
    for (size_t i = 0; i < METRICS_MAX_LABELS; i++) {
        free(s->labels[i]);
    }
    free(s->counts);
    free(s);
}

void metrics_family_clear(struct metrics_family *f)
{
    struct metrics_series *s = f->series;
    while (s != NULL) {
        struct metrics_series *next = s->next;
        series_free(s);
        s = next;
    }
    f->series = f->series_tail = NULL;
}

static void family_free(struct metrics_family *f)
{
    metrics_family_clear(f);
    for (size_t i = 0; i < METRICS_MAX_LABELS; i++) {
        free(f->label_names[i]);
    }
    free(f->name);
    free(f->help);
    free(f);
}

void metrics_destroy(struct metrics *m)
{
    if (m == NULL) {
        return;
    }
    struct metrics_family *f = m->families;
    while (f != NULL) {
        struct metrics_family *next = f->next;
        family_free(f);
        f = next;
    }
    free(m);
}

/* ---- declaring
 * ---------------------------------------------------------------- */

static bool valid_name(const char *s, bool colon_ok)
{
    if (s == NULL || *s == '\0') {
        return false;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     c == '_' || (colon_ok && c == ':');
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) {
            return false;
        }
    }
    return true;
}

static int check_declaration(enum metrics_type type, const char *name,
                             size_t n_labels, const char *const *label_names,
                             size_t n_buckets, const double *bounds)
{
    if (!valid_name(name, true) || n_labels > METRICS_MAX_LABELS ||
        (n_labels > 0 && label_names == NULL)) {
        return METRICS_EINVAL;
    }
    for (size_t i = 0; i < n_labels; i++) {
        const char *l = label_names[i];
        if (!valid_name(l, false) || strncmp(l, "__", 2) == 0 ||
            (type == METRICS_HISTOGRAM && strcmp(l, "le") == 0)) {
            return METRICS_EINVAL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(label_names[j], l) == 0) {
                return METRICS_EINVAL;
            }
        }
    }
    if (type != METRICS_HISTOGRAM) {
        return n_buckets == 0 ? 0 : METRICS_EINVAL;
    }
    if (n_buckets == 0 || n_buckets > METRICS_MAX_BUCKETS || bounds == NULL) {
        return METRICS_EINVAL;
    }
    for (size_t i = 0; i < n_buckets; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            return METRICS_EINVAL;
        }
    }
    return 0;
}

static bool same_shape(const struct metrics_family *f, enum metrics_type type,
                       size_t n_labels, const char *const *label_names,
                       size_t n_buckets, const double *bounds)
{
    if (f->type != type || f->n_labels != n_labels ||
        f->n_buckets != n_buckets) {
        return false;
    }
    for (size_t i = 0; i < n_labels; i++) {
        if (strcmp(f->label_names[i], label_names[i]) != 0) {
            return false;
        }
    }
    for (size_t i = 0; i < n_buckets; i++) {
        if (f->bounds[i] != bounds[i]) {
            return false;
        }
    }
    return true;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL) {
        memcpy(d, s, n);
    }
    return d;
}

int metrics_declare(struct metrics *m, enum metrics_type type, const char *name,
                    const char *help, size_t n_labels,
                    const char *const *label_names, size_t n_buckets,
                    const double *bounds, struct metrics_family **out)
{
    int rv =
        check_declaration(type, name, n_labels, label_names, n_buckets, bounds);
    if (rv != 0) {
        return rv;
    }
    for (struct metrics_family *f = m->families; f != NULL; f = f->next) {
        if (strcmp(f->name, name) == 0) {
            if (!same_shape(f, type, n_labels, label_names, n_buckets,
                            bounds)) {
                return METRICS_EMISMATCH;
            }
            *out = f;
            return 0;
        }
    }
    struct metrics_family *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return METRICS_ENOMEM;
    }
    f->type = type;
    f->n_labels = n_labels;
    f->n_buckets = n_buckets;
    f->name = dup_str(name);
    f->help = help != NULL ? dup_str(help) : NULL;
    bool ok = f->name != NULL && (help == NULL || f->help != NULL);
    for (size_t i = 0; i < n_labels; i++) {
        f->label_names[i] = dup_str(label_names[i]);
        ok = ok && f->label_names[i] != NULL;
    }
    if (!ok) {
        family_free(f);
        return METRICS_ENOMEM;
    }
    for (size_t i = 0; i < n_buckets; i++) {
        f->bounds[i] = bounds[i];
    }
    if (m->families_tail != NULL) {
        m->families_tail->next = f;
    } else {
        m->families = f;
    }
    m->families_tail = f;
    *out = f;
    return 0;
}

/* ---- series
 * ------------------------------------------------------------------- */

static int series_get(struct metrics_family *f, const char *const *lv,
                      struct metrics_series **out)
{
    if (f->n_labels > 0 && lv == NULL) {
        return METRICS_EINVAL;
    }
    for (size_t i = 0; i < f->n_labels; i++) {
        if (lv[i] == NULL) {
            return METRICS_EINVAL;
        }
    }
    for (struct metrics_series *s = f->series; s != NULL; s = s->next) {
        size_t i = 0;
        while (i < f->n_labels && strcmp(s->labels[i], lv[i]) == 0) {
            i++;
        }
        if (i == f->n_labels) {
            *out = s;
            return 0;
        }
    }
    struct metrics_series *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return METRICS_ENOMEM;
    }
    bool ok = true;
    for (size_t i = 0; i < f->n_labels; i++) {
        s->labels[i] = dup_str(lv[i]);
        ok = ok && s->labels[i] != NULL;
    }
    if (f->type == METRICS_HISTOGRAM) {
        s->counts = calloc(f->n_buckets + 1, sizeof *s->counts);
        ok = ok && s->counts != NULL;
    }
    if (!ok) {
        series_free(s);
        return METRICS_ENOMEM;
    }
    if (f->series_tail != NULL) {
        f->series_tail->next = s;
    } else {
        f->series = s;
    }
    f->series_tail = s;
    *out = s;
    return 0;
}

int metrics_set(struct metrics_family *f, const char *const *label_values,
                double v)
{
    if (f->type == METRICS_HISTOGRAM) {
        return METRICS_ETYPE;
    }
    struct metrics_series *s;
    int rv = series_get(f, label_values, &s);
    if (rv == 0) {
        s->value = v;
    }
    return rv;
}

int metrics_add(struct metrics_family *f, const char *const *label_values,
                double v)
{
    if (f->type == METRICS_HISTOGRAM) {
        return METRICS_ETYPE;
    }
    if (f->type == METRICS_COUNTER && !(v >= 0)) {
        return METRICS_EINVAL; /* a counter never goes down (NaN neither) */
    }
    struct metrics_series *s;
    int rv = series_get(f, label_values, &s);
    if (rv == 0) {
        s->value += v;
    }
    return rv;
}

int metrics_observe(struct metrics_family *f, const char *const *label_values,
                    double v)
{
    if (f->type != METRICS_HISTOGRAM) {
        return METRICS_ETYPE;
    }
    if (isnan(v)) {
        return METRICS_EINVAL;
    }
    struct metrics_series *s;
    int rv = series_get(f, label_values, &s);
    if (rv != 0) {
        return rv;
    }
    size_t b = 0;
    while (b < f->n_buckets && v > f->bounds[b]) {
        b++; /* le: a value equal to a bound falls in that bucket */
    }
    s->counts[b]++;
    s->sum += v;
    return 0;
}

int metrics_histogram_load(struct metrics_family *f,
                           const char *const *label_values,
                           const uint64_t *counts, double sum)
{
    if (f->type != METRICS_HISTOGRAM) {
        return METRICS_ETYPE;
    }
    struct metrics_series *s;
    int rv = series_get(f, label_values, &s);
    if (rv != 0) {
        return rv;
    }
    memcpy(s->counts, counts, (f->n_buckets + 1) * sizeof *counts);
    s->sum = sum;
    return 0;
}

/* ---- rendering
 * ------------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* HELP text escapes \ and newline; label values also escape ". */
static void sb_escaped(struct sbuf *b, const char *s, bool quote)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\') {
            sb_str(b, "\\\\");
        } else if (*s == '\n') {
            sb_str(b, "\\n");
        } else if (quote && *s == '"') {
            sb_str(b, "\\\"");
        } else {
            sb_put(b, s, 1);
        }
    }
}

/* Shortest text that reads back as exactly v (Go's strconv style), with
 * Prometheus' spelling of the special values. */
static void fmt_double(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, cap, "%.0f", v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, v);
            if (strtod(out, NULL) == v) {
                break;
            }
        }
    }
}

static void sb_double(struct sbuf *b, double v)
{
    char num[40];
    fmt_double(v, num, sizeof num);
    sb_str(b, num);
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    sb_str(b, num);
}

/* {a="x",b="y"} plus an optional le; nothing when there are no labels. */
static void sb_labels(struct sbuf *b, const struct metrics_family *f,
                      const struct metrics_series *s, const char *le)
{
    if (f->n_labels == 0 && le == NULL) {
        return;
    }
    sb_str(b, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i > 0) {
            sb_str(b, ",");
        }
        sb_str(b, f->label_names[i]);
        sb_str(b, "=\"");
        sb_escaped(b, s->labels[i], true);
        sb_str(b, "\"");
    }
    if (le != NULL) {
        sb_str(b, f->n_labels > 0 ? ",le=\"" : "le=\"");
        sb_str(b, le);
        sb_str(b, "\"");
    }
    sb_str(b, "}");
}

static void render_histogram(struct sbuf *b, const struct metrics_family *f,
                             const struct metrics_series *s)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->n_buckets; i++) {
        char le[40];
        if (i < f->n_buckets) {
            fmt_double(f->bounds[i], le, sizeof le);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        cum += s->counts[i];
        sb_str(b, f->name);
        sb_str(b, "_bucket");
        sb_labels(b, f, s, le);
        sb_str(b, " ");
        sb_u64(b, cum);
        sb_str(b, "\n");
    }
    sb_str(b, f->name);
    sb_str(b, "_sum");
    sb_labels(b, f, s, NULL);
    sb_str(b, " ");
    sb_double(b, s->sum);
    sb_str(b, "\n");
    sb_str(b, f->name);
    sb_str(b, "_count");
    sb_labels(b, f, s, NULL);
    sb_str(b, " ");
    sb_u64(b, cum);
    sb_str(b, "\n");
}

static const char *type_name(enum metrics_type t)
{
    switch (t) {
    case METRICS_COUNTER:
        return "counter";
    case METRICS_GAUGE:
        return "gauge";
    default:
        return "histogram";
    }
}

static void render_family(struct sbuf *b, const struct metrics_family *f)
{
    if (f->help != NULL) {
        sb_str(b, "# HELP ");
        sb_str(b, f->name);
        sb_str(b, " ");
        sb_escaped(b, f->help, false);
        sb_str(b, "\n");
    }
    sb_str(b, "# TYPE ");
    sb_str(b, f->name);
    sb_str(b, " ");
    sb_str(b, type_name(f->type));
    sb_str(b, "\n");
    for (const struct metrics_series *s = f->series; s != NULL; s = s->next) {
        if (f->type == METRICS_HISTOGRAM) {
            render_histogram(b, f, s);
            continue;
        }
        sb_str(b, f->name);
        sb_labels(b, f, s, NULL);
        sb_str(b, " ");
        sb_double(b, s->value);
        sb_str(b, "\n");
    }
}

int metrics_render(const struct metrics *m, char **out, size_t *len)
{
    struct sbuf b = {0};
    sb_put(&b, "", 0); /* an empty registry still gives "" */
    for (const struct metrics_family *f = m->families; f != NULL; f = f->next) {
        render_family(&b, f);
    }
    if (b.oom) {
        free(b.p);
        return METRICS_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
