/*
 * cli_parse.c - metastore-cli's parsers: Go-style durations, endpoint lists,
 * command-line words with Go-quoted strings, and etcdctl's txn syntax.
 *
 * All input comes from the user, so every malformed piece is reported with a
 * sentence that names the offending text; nothing here asserts on input.
 */
#include "client/cli_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err != NULL && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return MS_EINVAL;
}

/* ---- durations ------------------------------------------------------- */

struct unit {
    const char *name;
    uint64_t ns;
};

static const struct unit units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs (U+00B5) */
    {"\xce\xbcs", 1000}, /* μs (U+03BC) */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", 60000000000ull},
    {"h", 3600000000000ull},
};

/* Matches the longest unit at s; returns its length or 0. */
static size_t match_unit(const char *s, uint64_t *ns)
{
    size_t best = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);
        if (n > best && strncmp(s, units[i].name, n) == 0) {
            best = n;
            *ns = units[i].ns;
        }
    }
    return best;
}

int mscli_duration_parse(const char *s, uint64_t *out_ns)
{
    if (s == NULL || *s == '\0') {
        return MS_EINVAL;
    }
    if (strcmp(s, "0") == 0) {
        *out_ns = 0;
        return 0;
    }
    uint64_t total = 0;
    while (*s != '\0') {
        if (!isdigit((unsigned char)*s) && *s != '.') {
            return MS_EINVAL;
        }
        uint64_t whole = 0, frac = 0, scale = 1;
        bool digits = false;
        for (; isdigit((unsigned char)*s); s++) {
            if (whole > (UINT64_MAX - 9) / 10) {
                return MS_EINVAL;
            }
            whole = whole * 10 + (uint64_t)(*s - '0');
            digits = true;
        }
        if (*s == '.') {
            for (s++; isdigit((unsigned char)*s); s++) {
                if (scale < 1000000000000ull) { /* ignore beyond 1e-12 */
                    frac = frac * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
                digits = true;
            }
        }
        uint64_t unit_ns = 0;
        size_t ulen = match_unit(s, &unit_ns);
        if (!digits || ulen == 0) {
            return MS_EINVAL;
        }
        s += ulen;
        if (whole > UINT64_MAX / unit_ns) {
            return MS_EINVAL;
        }
        uint64_t v = whole * unit_ns;
        /* frac/scale * unit_ns without overflow: unit_ns <= 3.6e12 and
         * frac < scale <= 1e12, so split the multiplication. */
        uint64_t fpart =
            (uint64_t)((double)frac * (double)unit_ns / (double)scale);
        if (v > UINT64_MAX - fpart || total > UINT64_MAX - v - fpart) {
            return MS_EINVAL;
        }
        total += v + fpart;
    }
    *out_ns = total;
    return 0;
}

/* ---- endpoints ------------------------------------------------------- */

void mscli_endpoints_free(char **eps)
{
    if (eps == NULL) {
        return;
    }
    for (char **p = eps; *p != NULL; p++) {
        free(*p);
    }
    free(eps);
}

int mscli_endpoints_parse(const char *list, char ***out, size_t *n, char *err,
                          size_t err_size)
{
    *out = NULL;
    *n = 0;
    if (list == NULL) {
        return fail(err, err_size, "no endpoints given");
    }
    size_t cap = 1;
    for (const char *p = list; *p != '\0'; p++) {
        cap += *p == ',';
    }
    char **eps = calloc(cap + 1, sizeof(*eps));
    if (eps == NULL) {
        return MS_ENOMEM;
    }
    size_t count = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma != NULL ? comma : p + strlen(p);
        while (p < end && isspace((unsigned char)*p)) {
            p++;
        }
        const char *e = end;
        while (e > p && isspace((unsigned char)e[-1])) {
            e--;
        }
        if (e == p) {
            mscli_endpoints_free(eps);
            return fail(err, err_size, "empty endpoint in list \"%s\"", list);
        }
        char *ep = strndup(p, (size_t)(e - p));
        if (ep == NULL) {
            mscli_endpoints_free(eps);
            return MS_ENOMEM;
        }
        eps[count++] = ep;
        char host[256];
        uint16_t port;
        if (ms_endpoint_parse(ep, host, sizeof(host), &port) != 0) {
            fail(err, err_size,
                 "invalid endpoint \"%s\" (want host:port, e.g. "
                 "127.0.0.1:2379)",
                 ep);
            mscli_endpoints_free(eps);
            return MS_EINVAL;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *out = eps;
    *n = count;
    return 0;
}

/* ---- words and quoted strings ----------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * Decodes a Go-quoted string starting at *sp (which points at the opening
 * quote) into buf (at least strlen(*sp) bytes).  On success *sp points past
 * the closing quote and *len is the decoded length.
 */
static int unquote(const char **sp, char *buf, size_t *len)
{
    const char *s = *sp;
    size_t n = 0;
    if (*s != '"') {
        return MS_EINVAL;
    }
    for (s++; *s != '"'; s++) {
        if (*s == '\0' || *s == '\n') {
            return MS_EINVAL; /* unterminated */
        }
        if (*s != '\\') {
            buf[n++] = *s;
            continue;
        }
        s++;
        switch (*s) {
        case '"':
        case '\\':
        case '\'':
            buf[n++] = *s;
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case '0':
            buf[n++] = '\0';
            break;
        case 'x': {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (hi < 0 || lo < 0) {
                return MS_EINVAL;
            }
            buf[n++] = (char)(hi * 16 + lo);
            s += 2;
            break;
        }
        default:
            return MS_EINVAL;
        }
    }
    *sp = s + 1;
    *len = n;
    return 0;
}

/* A word: its bytes may contain NULs when it came from a quoted string. */
struct word {
    char *p;
    size_t len;
};

static void free_words(struct word *w, int n)
{
    for (int i = 0; i < n; i++) {
        free(w[i].p);
    }
    free(w);
}

/* Splits line into words with lengths.  Returns count or a negative code. */
static int split(const char *line, struct word **out)
{
    size_t cap = strlen(line) / 2 + 2;
    struct word *w = calloc(cap, sizeof(*w));
    if (w == NULL) {
        return MS_ENOMEM;
    }
    int n = 0;
    const char *s = line;
    for (;;) {
        while (isspace((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            break;
        }
        char *buf = malloc(strlen(s) + 1);
        if (buf == NULL) {
            free_words(w, n);
            return MS_ENOMEM;
        }
        size_t len = 0;
        if (*s == '"') {
            if (unquote(&s, buf, &len) != 0 ||
                (*s != '\0' && !isspace((unsigned char)*s))) {
                free(buf);
                free_words(w, n);
                return MS_EINVAL;
            }
        } else {
            while (*s != '\0' && !isspace((unsigned char)*s)) {
                buf[len++] = *s++;
            }
        }
        buf[len] = '\0';
        w[n].p = buf;
        w[n].len = len;
        n++;
    }
    *out = w;
    return n;
}

int mscli_split_words(const char *line, char ***argv)
{
    struct word *w = NULL;
    int n = split(line, &w);
    if (n < 0) {
        return n;
    }
    char **v = calloc((size_t)n + 1, sizeof(*v));
    if (v == NULL) {
        free_words(w, n);
        return MS_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        v[i] = w[i].p;
    }
    free(w);
    *argv = v;
    return n;
}

/* ---- txn ------------------------------------------------------------- */

void mscli_txn_init(struct mscli_txn *t)
{
    memset(t, 0, sizeof(*t));
}

void mscli_txn_free(struct mscli_txn *t)
{
    for (size_t i = 0; i < t->n_allocs; i++) {
        free(t->allocs[i]);
    }
    free(t->allocs);
    free(t->compares);
    free(t->success);
    free(t->failure);
    mscli_txn_init(t);
}

/* Hands p to t (freed by mscli_txn_free).  Frees p on failure. */
static int own(struct mscli_txn *t, void *p)
{
    if (t->n_allocs == t->cap_allocs) {
        size_t cap = t->cap_allocs ? t->cap_allocs * 2 : 16;
        void **a = realloc(t->allocs, cap * sizeof(*a));
        if (a == NULL) {
            free(p);
            return MS_ENOMEM;
        }
        t->allocs = a;
        t->cap_allocs = cap;
    }
    t->allocs[t->n_allocs++] = p;
    return 0;
}

/* Grows an array by one element; returns the new element or NULL. */
static void *push(void **arr, size_t *n, size_t elem)
{
    void *a = realloc(*arr, (*n + 1) * elem);
    if (a == NULL) {
        return NULL;
    }
    *arr = a;
    char *e = (char *)a + *n * elem;
    memset(e, 0, elem);
    (*n)++;
    return e;
}

static int parse_i64(const char *s, int64_t *v)
{
    if (*s == '\0') {
        return MS_EINVAL;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return MS_EINVAL;
    }
    *v = (int64_t)x;
    return 0;
}

static int compare_target(const char *s, size_t n, enum ms_compare_target *t)
{
    static const struct {
        const char *name;
        enum ms_compare_target target;
    } names[] = {
        {"value", MS_CMP_VALUE},     {"val", MS_CMP_VALUE},
        {"version", MS_CMP_VERSION}, {"ver", MS_CMP_VERSION},
        {"create", MS_CMP_CREATE},   {"c", MS_CMP_CREATE},
        {"mod", MS_CMP_MOD},         {"m", MS_CMP_MOD},
        {"lease", MS_CMP_LEASE},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0) {
            *t = names[i].target;
            return 0;
        }
    }
    return MS_EINVAL;
}

static int compare_op(const char *s, size_t n, enum ms_compare_op *op)
{
    if (n == 1 && s[0] == '=') {
        *op = MS_CMP_EQUAL;
    } else if (n == 2 && strncmp(s, "!=", 2) == 0) {
        *op = MS_CMP_NOT_EQUAL;
    } else if (n == 1 && s[0] == '<') {
        *op = MS_CMP_LESS;
    } else if (n == 1 && s[0] == '>') {
        *op = MS_CMP_GREATER;
    } else {
        return MS_EINVAL;
    }
    return 0;
}

/* Decodes the quoted string at *sp into a buffer owned by t. */
static int owned_quoted(struct mscli_txn *t, const char **sp, char **out,
                        size_t *len)
{
    char *buf = malloc(strlen(*sp) + 1);
    if (buf == NULL) {
        return MS_ENOMEM;
    }
    if (unquote(sp, buf, len) != 0) {
        free(buf);
        return MS_EINVAL;
    }
    buf[*len] = '\0';
    *out = buf;
    return own(t, buf);
}

static const char *skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

int mscli_txn_parse_compare(struct mscli_txn *t, const char *line, char *err,
                            size_t err_size)
{
    const char *s = skip_blank(line);
    const char *paren = strchr(s, '(');
    if (paren == NULL) {
        return fail(err, err_size,
                    "malformed comparison: %s (want "
                    "target(\"key\") op \"value\")",
                    line);
    }
    size_t tlen = (size_t)(paren - s);
    while (tlen > 0 && isspace((unsigned char)s[tlen - 1])) {
        tlen--;
    }
    struct ms_compare c = {0};
    if (compare_target(s, tlen, &c.target) != 0) {
        return fail(err, err_size,
                    "malformed comparison: %s (unknown target "
                    "\"%.*s\"; want value, version, create, mod or lease)",
                    line, (int)tlen, s);
    }
    s = skip_blank(paren + 1);
    char *key = NULL, *operand = NULL, *end = NULL;
    size_t klen = 0, olen = 0, elen = 0;
    int rc = owned_quoted(t, &s, &key, &klen);
    if (rc == MS_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        return fail(err, err_size,
                    "malformed comparison: %s (the key must "
                    "be a quoted string)",
                    line);
    }
    s = skip_blank(s);
    if (*s == ',') { /* optional range end: mod("a", "b") */
        s = skip_blank(s + 1);
        rc = owned_quoted(t, &s, &end, &elen);
        if (rc != 0) {
            return rc == MS_ENOMEM ? rc
                                   : fail(err, err_size,
                                          "malformed "
                                          "comparison: %s (bad range end)",
                                          line);
        }
        s = skip_blank(s);
    }
    if (*s != ')') {
        return fail(err, err_size,
                    "malformed comparison: %s (missing ')' "
                    "after the key)",
                    line);
    }
    s = skip_blank(s + 1);
    const char *op = s;
    while (*s != '\0' && !isspace((unsigned char)*s) && *s != '"') {
        s++;
    }
    if (compare_op(op, (size_t)(s - op), &c.op) != 0) {
        return fail(err, err_size,
                    "malformed comparison: %s (unknown "
                    "operator \"%.*s\"; want =, !=, < or >)",
                    line, (int)(s - op), op);
    }
    s = skip_blank(s);
    rc = owned_quoted(t, &s, &operand, &olen);
    if (rc == MS_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        return fail(err, err_size,
                    "malformed comparison: %s (the operand "
                    "must be a quoted string)",
                    line);
    }
    s = skip_blank(s);
    if (*s != '\0' && *s != '\r' && *s != '\n') {
        return fail(err, err_size,
                    "malformed comparison: %s (unexpected "
                    "text after the operand)",
                    line);
    }
    c.key = key;
    c.key_len = klen;
    c.range_end = end;
    c.range_end_len = elen;
    if (c.target == MS_CMP_VALUE) {
        c.value = operand;
        c.value_len = olen;
    } else if (strlen(operand) != olen || parse_i64(operand, &c.number)) {
        return fail(err, err_size,
                    "malformed comparison: %s (\"%s\" is not "
                    "an integer)",
                    line, operand);
    }
    struct ms_compare *slot =
        push((void **)&t->compares, &t->n_compares, sizeof(*slot));
    if (slot == NULL) {
        return MS_ENOMEM;
    }
    *slot = c;
    return 0;
}

/* The value of flag `name` at w[*i] ("--name=value" or "--name value",
 * which advances *i), or NULL when w[*i] is not that flag. */
static const char *flag_value(struct word *w, int n, int *i, const char *name)
{
    size_t len = strlen(name);
    const char *a = w[*i].p;
    if (strncmp(a, name, len) != 0) {
        return NULL;
    }
    if (a[len] == '=') {
        return a + len + 1;
    }
    if (a[len] == '\0' && *i + 1 < n) {
        (*i)++;
        return w[*i].p;
    }
    return NULL;
}

static int op_flag(struct ms_op *op, struct word *w, int n, int *i, char *err,
                   size_t err_size)
{
    const char *a = w[*i].p;
    const char *v;
    bool is_get = op->type == MS_OP_RANGE, is_put = op->type == MS_OP_PUT;
    if (!is_put && strcmp(a, "--prefix") == 0) {
        op->range.prefix = true;
    } else if (!is_put && strcmp(a, "--from-key") == 0) {
        op->range.from_key = true;
    } else if (!is_get && strcmp(a, "--prev-kv") == 0) {
        op->prev_kv = true;
    } else if (is_get && strcmp(a, "--keys-only") == 0) {
        op->range.keys_only = true;
    } else if (is_get && strcmp(a, "--count-only") == 0) {
        op->range.count_only = true;
    } else if (is_get && (v = flag_value(w, n, i, "--limit")) != NULL) {
        if (parse_i64(v, &op->range.limit) || op->range.limit < 0) {
            return fail(err, err_size, "bad --limit \"%s\"", v);
        }
    } else if (is_get && (v = flag_value(w, n, i, "--rev")) != NULL) {
        if (parse_i64(v, &op->range.revision) || op->range.revision < 0) {
            return fail(err, err_size, "bad --rev \"%s\"", v);
        }
    } else if (is_get && (v = flag_value(w, n, i, "--consistency")) != NULL) {
        if (strcmp(v, "l") == 0) {
            op->range.consistency = MS_CONSISTENCY_LINEARIZABLE;
        } else if (strcmp(v, "s") == 0) {
            op->range.consistency = MS_CONSISTENCY_SERIALIZABLE;
        } else {
            return fail(err, err_size, "bad --consistency \"%s\" (l or s)", v);
        }
    } else if (is_put && (v = flag_value(w, n, i, "--lease")) != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long id = strtoull(v, &end, 16);
        if (errno != 0 || *v == '\0' || *end != '\0') {
            return fail(err, err_size, "bad --lease \"%s\" (hex id)", v);
        }
        op->lease = (int64_t)id;
    } else {
        return fail(err, err_size, "unknown flag \"%s\"", a);
    }
    return 0;
}

/* Fills op from words w[0..n) (w[0] is the verb); keeps the strings. */
static int fill_op(struct ms_op *op, struct word *w, int n, char *err,
                   size_t err_size)
{
    int npos = 0;
    for (int i = 1; i < n; i++) {
        if (strncmp(w[i].p, "--", 2) == 0) {
            int rc = op_flag(op, w, n, &i, err, err_size);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (npos == 0) {
            op->key = w[i].p;
            op->key_len = w[i].len;
        } else if (npos == 1 && op->type == MS_OP_PUT) {
            op->value = w[i].p;
            op->value_len = w[i].len;
        } else if (npos == 1) {
            op->range.range_end = w[i].p;
            op->range.range_end_len = w[i].len;
        } else {
            return fail(err, err_size, "too many arguments");
        }
        npos++;
    }
    if (npos == 0) {
        return fail(err, err_size, "missing key");
    }
    if (op->type == MS_OP_PUT && npos < 2) {
        return fail(err, err_size, "put needs a key and a value");
    }
    if (op->range.prefix && op->range.from_key) {
        return fail(err, err_size, "--prefix and --from-key conflict");
    }
    return 0;
}

int mscli_txn_parse_op(struct mscli_txn *t, bool success, const char *line,
                       char *err, size_t err_size)
{
    struct word *w = NULL;
    int n = split(line, &w);
    if (n == MS_ENOMEM) {
        return n;
    }
    if (n < 0) {
        return fail(err, err_size,
                    "malformed request: %s (unterminated "
                    "quote or bad escape)",
                    line);
    }
    int rc = 0;
    struct ms_op op = {0};
    if (n == 0) {
        rc = fail(err, err_size, "empty request");
    } else if (strcmp(w[0].p, "put") == 0) {
        op.type = MS_OP_PUT;
    } else if (strcmp(w[0].p, "get") == 0) {
        op.type = MS_OP_RANGE;
    } else if (strcmp(w[0].p, "del") == 0 || strcmp(w[0].p, "delete") == 0) {
        op.type = MS_OP_DELETE;
    } else {
        rc = fail(err, err_size,
                  "malformed request: %s (unknown command "
                  "\"%s\"; want put, get or del)",
                  line, w[0].p);
    }
    if (rc == 0) {
        char inner[200] = "";
        rc = fill_op(&op, w, n, inner, sizeof(inner));
        if (rc != 0) {
            fail(err, err_size, "malformed request: %s (%s)", line, inner);
        }
    }
    /* Hand every word to t so op's pointers stay valid (or get freed). */
    for (int i = 0; i < n; i++) {
        int orc = own(t, w[i].p);
        if (orc != 0) {
            for (int j = i + 1; j < n; j++) {
                free(w[j].p);
            }
            free(w);
            return orc;
        }
    }
    free(w);
    if (rc != 0) {
        return rc;
    }
    struct ms_op *slot =
        success ? push((void **)&t->success, &t->n_success, sizeof(*slot))
                : push((void **)&t->failure, &t->n_failure, sizeof(*slot));
    if (slot == NULL) {
        return MS_ENOMEM;
    }
    *slot = op;
    return 0;
}

/* Reads one line into *buf (getline); strips the newline.  Returns its
 * length, or -1 at EOF. */
static ssize_t read_line(FILE *in, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, in);
    if (n < 0) {
        return -1;
    }
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) {
        (*buf)[--n] = '\0';
    }
    return n;
}

static bool blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if (!isspace((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

int mscli_txn_read(struct mscli_txn *t, FILE *in, FILE *prompt, char *err,
                   size_t err_size)
{
    static const char *titles[] = {
        "compares:\n",
        "\nsuccess requests (get, put, del):\n",
        "\nfailure requests (get, put, del):\n",
    };
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    bool eof = false;
    for (int section = 0; section < 3 && rc == 0; section++) {
        if (prompt != NULL) {
            fputs(titles[section], prompt);
            fflush(prompt);
        }
        while (!eof) {
            ssize_t n = read_line(in, &line, &cap);
            if (n < 0) {
                eof = true;
                break;
            }
            lineno++;
            if (blank(line)) {
                break;
            }
            char inner[400] = "";
            rc = section == 0
                     ? mscli_txn_parse_compare(t, line, inner, sizeof(inner))
                     : mscli_txn_parse_op(t, section == 1, line, inner,
                                          sizeof(inner));
            if (rc != 0) {
                if (rc != MS_ENOMEM) {
                    fail(err, err_size, "line %d: %s", lineno, inner);
                }
                break;
            }
        }
    }
    free(line);
    return rc;
}
