/*
 * cli_output.c - metastore-cli's printers for -w simple|json|table.
 *
 * simple mirrors etcdctl's simple printer (key line, value line; "OK";
 * the deleted count; SUCCESS/FAILURE then each response); json mirrors the
 * shape etcdctl prints (Go's encoding of etcd's protobuf structs: zero
 * fields omitted, keys and values base64, 64-bit ids as plain numbers);
 * table draws tablewriter-style boxes for endpoint status and health.
 * Keys and values are written as raw bytes in simple output, as etcdctl does.
 */
#include "client/cli_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int mscli_format_parse(const char *s)
{
    if (s == NULL) {
        return -1;
    }
    if (strcmp(s, "simple") == 0) {
        return MSCLI_SIMPLE;
    }
    if (strcmp(s, "json") == 0) {
        return MSCLI_JSON;
    }
    if (strcmp(s, "table") == 0) {
        return MSCLI_TABLE;
    }
    return -1;
}

/* ---- small formatters ------------------------------------------------ */

int mscli_base64(const void *p, size_t n, char **out)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *b = p;
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (s == NULL) {
        return MS_ENOMEM;
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)b[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= b[i + 2];
        }
        s[j++] = tbl[(v >> 18) & 63];
        s[j++] = tbl[(v >> 12) & 63];
        s[j++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        s[j++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    s[j] = '\0';
    *out = s;
    return 0;
}

void mscli_human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *sizes[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
    if (n < 10) {
        snprintf(buf, size, "%" PRIu64 " B", n);
        return;
    }
    int e = 0;
    double base = 1;
    while (e < 6 && (double)n >= base * 1000) {
        base *= 1000;
        e++;
    }
    /* humanize rounds to one decimal, then drops it at 10 and above. */
    double val = (double)(uint64_t)((double)n / base * 10 + 0.5) / 10;
    snprintf(buf, size, val < 10 ? "%.1f %s" : "%.0f %s", val, sizes[e]);
}

/* Appends "<int>[.<frac>]<unit>" with trailing zeros of frac dropped. */
static int fmt_frac(char *buf, size_t size, uint64_t v, uint64_t div,
                    int digits, const char *unit)
{
    char frac[32] = "";
    uint64_t f = v % div;
    if (f != 0) {
        snprintf(frac, sizeof(frac), ".%0*" PRIu64, digits, f);
        size_t l = strlen(frac);
        while (frac[l - 1] == '0') {
            frac[--l] = '\0';
        }
    }
    return snprintf(buf, size, "%" PRIu64 "%s%s", v / div, frac, unit);
}

void mscli_human_duration(uint64_t ns, char *buf, size_t size)
{
    if (ns == 0) {
        snprintf(buf, size, "0s");
    } else if (ns < 1000) {
        snprintf(buf, size, "%" PRIu64 "ns", ns);
    } else if (ns < 1000000) {
        fmt_frac(buf, size, ns, 1000, 3, "\xc2\xb5s");
    } else if (ns < 1000000000) {
        fmt_frac(buf, size, ns, 1000000, 6, "ms");
    } else if (ns < 60000000000ull) {
        fmt_frac(buf, size, ns, 1000000000, 9, "s");
    } else {
        uint64_t s_ns = ns % 60000000000ull, min = ns / 60000000000ull;
        char secs[48];
        fmt_frac(secs, sizeof(secs), s_ns, 1000000000, 9, "s");
        if (min >= 60) {
            snprintf(buf, size, "%" PRIu64 "h%" PRIu64 "m%s", min / 60,
                     min % 60, secs);
        } else {
            snprintf(buf, size, "%" PRIu64 "m%s", min, secs);
        }
    }
}

void mscli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_bytes(FILE *out, const char *name, const uint8_t *p, size_t n)
{
    char *b64 = NULL;
    if (n == 0) {
        return; /* omitempty */
    }
    if (mscli_base64(p, n, &b64) != 0) {
        return;
    }
    fprintf(out, ",\"%s\":\"%s\"", name, b64);
    free(b64);
}

/* ,"name":v for a non-zero v (Go's omitempty), the comma first. */
static void json_i64(FILE *out, const char *name, int64_t v)
{
    if (v != 0) {
        fprintf(out, ",\"%s\":%" PRId64, name, v);
    }
}

static void json_u64(FILE *out, const char *name, uint64_t v)
{
    if (v != 0) {
        fprintf(out, ",\"%s\":%" PRIu64, name, v);
    }
}

/* Writes {"key":...,...}; the first field never starts with a comma. */
static void json_kv(FILE *out, const struct ms_kv *kv)
{
    char *b64 = NULL;
    fputs("{", out);
    if (mscli_base64(kv->key, kv->key_len, &b64) == 0) {
        fprintf(out, "\"key\":\"%s\"", b64);
        free(b64);
    }
    json_i64(out, "create_revision", kv->create_revision);
    json_i64(out, "mod_revision", kv->mod_revision);
    json_i64(out, "version", kv->version);
    json_bytes(out, "value", kv->value, kv->value_len);
    json_i64(out, "lease", kv->lease);
    fputs("}", out);
}

void mscli_json_header(FILE *out, const struct ms_header *h)
{
    const char *sep = "";
    fputs("\"header\":{", out);
    if (h->cluster_id != 0) {
        fprintf(out, "\"cluster_id\":%" PRIu64, h->cluster_id);
        sep = ",";
    }
    if (h->member_id != 0) {
        fprintf(out, "%s\"member_id\":%" PRIu64, sep, h->member_id);
        sep = ",";
    }
    if (h->revision != 0) {
        fprintf(out, "%s\"revision\":%" PRId64, sep, h->revision);
        sep = ",";
    }
    if (h->raft_term != 0) {
        fprintf(out, "%s\"raft_term\":%" PRIu64, sep, h->raft_term);
    }
    fputs("}", out);
}

static void json_kvs(FILE *out, const char *name, const struct ms_kv *kvs,
                     size_t n)
{
    if (n == 0) {
        return;
    }
    fprintf(out, ",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        json_kv(out, &kvs[i]);
    }
    fputc(']', out);
}

/* ---- get / put / del / txn / compaction -------------------------------- */

static void simple_kv(FILE *out, const struct ms_kv *kv, bool value_only)
{
    if (!value_only) {
        fwrite(kv->key, 1, kv->key_len, out);
        fputc('\n', out);
    }
    fwrite(kv->value, 1, kv->value_len, out);
    fputc('\n', out);
}

static void simple_range(FILE *out, const struct ms_range_result *r,
                         const struct mscli_get_print *o)
{
    if (o != NULL && o->count_only) {
        fprintf(out, "%" PRId64 "\n", r->count);
        return;
    }
    for (size_t i = 0; i < r->n_kvs; i++) {
        simple_kv(out, &r->kvs[i], o != NULL && o->print_value_only);
    }
}

static void json_range_body(FILE *out, const struct ms_header *h,
                            const struct ms_range_result *r)
{
    fputc('{', out);
    mscli_json_header(out, h);
    json_kvs(out, "kvs", r->kvs, r->n_kvs);
    if (r->more) {
        fputs(",\"more\":true", out);
    }
    json_i64(out, "count", r->count);
    fputc('}', out);
}

static void json_put_body(FILE *out, const struct ms_header *h,
                          const struct ms_put_result *p)
{
    fputc('{', out);
    mscli_json_header(out, h);
    if (p->has_prev_kv) {
        fputs(",\"prev_kv\":", out);
        json_kv(out, &p->prev_kv);
    }
    fputc('}', out);
}

static void json_del_body(FILE *out, const struct ms_header *h,
                          const struct ms_delete_result *d)
{
    fputc('{', out);
    mscli_json_header(out, h);
    json_i64(out, "deleted", d->deleted);
    json_kvs(out, "prev_kvs", d->prev_kvs, d->n_prev_kvs);
    fputc('}', out);
}

void mscli_print_get(FILE *out, enum mscli_format f, const struct ms_result *r,
                     const struct mscli_get_print *opts)
{
    if (f == MSCLI_JSON) {
        json_range_body(out, &r->header, &r->range);
        fputc('\n', out);
        return;
    }
    simple_range(out, &r->range, opts);
}

static void simple_put(FILE *out, const struct ms_put_result *p)
{
    fputs("OK\n", out);
    if (p->has_prev_kv) {
        simple_kv(out, &p->prev_kv, false);
    }
}

void mscli_print_put(FILE *out, enum mscli_format f, const struct ms_result *r)
{
    if (f == MSCLI_JSON) {
        json_put_body(out, &r->header, &r->put);
        fputc('\n', out);
        return;
    }
    simple_put(out, &r->put);
}

static void simple_del(FILE *out, const struct ms_delete_result *d)
{
    fprintf(out, "%" PRId64 "\n", d->deleted);
    for (size_t i = 0; i < d->n_prev_kvs; i++) {
        simple_kv(out, &d->prev_kvs[i], false);
    }
}

void mscli_print_del(FILE *out, enum mscli_format f, const struct ms_result *r)
{
    if (f == MSCLI_JSON) {
        json_del_body(out, &r->header, &r->del);
        fputc('\n', out);
        return;
    }
    simple_del(out, &r->del);
}

void mscli_print_txn(FILE *out, enum mscli_format f, const struct ms_result *r)
{
    const struct ms_txn_result *t = &r->txn;
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        if (t->succeeded) {
            fputs(",\"succeeded\":true", out);
        }
        if (t->n_responses > 0) {
            fputs(",\"responses\":[", out);
        }
        for (size_t i = 0; i < t->n_responses; i++) {
            const struct ms_op_result *o = &t->responses[i];
            fputs(i > 0 ? ",{\"Response\":{" : "{\"Response\":{", out);
            if (o->type == MS_OP_RANGE) {
                fputs("\"response_range\":", out);
                json_range_body(out, &o->header, &o->range);
            } else if (o->type == MS_OP_PUT) {
                fputs("\"response_put\":", out);
                json_put_body(out, &o->header, &o->put);
            } else {
                fputs("\"response_delete_range\":", out);
                json_del_body(out, &o->header, &o->del);
            }
            fputs("}}", out);
        }
        fputs(t->n_responses > 0 ? "]}\n" : "}\n", out);
        return;
    }
    fputs(t->succeeded ? "SUCCESS\n" : "FAILURE\n", out);
    for (size_t i = 0; i < t->n_responses; i++) {
        const struct ms_op_result *o = &t->responses[i];
        fputc('\n', out);
        if (o->type == MS_OP_RANGE) {
            simple_range(out, &o->range, NULL);
        } else if (o->type == MS_OP_PUT) {
            simple_put(out, &o->put);
        } else {
            simple_del(out, &o->del);
        }
    }
}

void mscli_print_compact(FILE *out, enum mscli_format f,
                         const struct ms_result *r)
{
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        fputs("}\n", out);
        return;
    }
    fprintf(out, "compacted revision %" PRId64 "\n", r->compact.revision);
}

/* ---- tables ------------------------------------------------------------ */

/* Display width of a UTF-8 string (code points; good enough here). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

static void rule(FILE *out, const size_t *w, size_t ncol)
{
    for (size_t c = 0; c < ncol; c++) {
        fputc('+', out);
        for (size_t i = 0; i < w[c] + 2; i++) {
            fputc('-', out);
        }
    }
    fputs("+\n", out);
}

static void pad(FILE *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fputc(' ', out);
    }
}

void mscli_table(FILE *out, const char *const *head, size_t ncol,
                 char *const *cells, size_t nrow)
{
    size_t w[16] = {0};
    if (ncol > 16) {
        return;
    }
    for (size_t c = 0; c < ncol; c++) {
        w[c] = width(head[c]);
        for (size_t r = 0; r < nrow; r++) {
            size_t cw = width(cells[r * ncol + c]);
            w[c] = cw > w[c] ? cw : w[c];
        }
    }
    rule(out, w, ncol);
    for (size_t c = 0; c < ncol; c++) {
        size_t gap = w[c] - width(head[c]);
        fputs("| ", out);
        pad(out, gap / 2);
        fputs(head[c], out);
        pad(out, gap - gap / 2);
        fputc(' ', out);
    }
    fputs("|\n", out);
    rule(out, w, ncol);
    for (size_t r = 0; r < nrow; r++) {
        for (size_t c = 0; c < ncol; c++) {
            const char *cell = cells[r * ncol + c];
            fputs("| ", out);
            pad(out, w[c] - width(cell));
            fputs(cell, out);
            fputc(' ', out);
        }
        fputs("|\n", out);
    }
    rule(out, w, ncol);
}

#define STATUS_COLS 11

/* Fills the etcdctl columns of one status row, plus REVISION before ERRORS
 * (each cell malloc'ed).  A member that did not answer (status NULL) has its
 * id and the failure in ERRORS, every other cell empty. */
static void status_cells(const struct mscli_status_row *row, char **cell)
{
    char tmp[STATUS_COLS][600];
    memset(tmp, 0, sizeof(tmp));
    snprintf(tmp[0], sizeof(tmp[0]), "%s", row->endpoint);
    if (row->status == NULL) {
        if (row->member_id != 0) {
            snprintf(tmp[1], sizeof(tmp[1]), "%" PRIx64, row->member_id);
        }
        snprintf(tmp[10], sizeof(tmp[10]), "%s",
                 row->error != NULL ? row->error : "");
    } else {
        const struct ms_status_result *s = &row->status->status_info;
        const struct ms_header *h = &row->status->header;
        char size[32];
        mscli_human_bytes(s->db_size > 0 ? (uint64_t)s->db_size : 0, size,
                          sizeof(size));
        for (size_t i = 0; i < s->n_errors; i++) {
            size_t l = strlen(tmp[10]);
            snprintf(tmp[10] + l, sizeof(tmp[10]) - l, "%s%s", i ? ", " : "",
                     s->errors[i]);
        }
        uint64_t id = s->member_id != 0 ? s->member_id : h->member_id;
        snprintf(tmp[1], sizeof(tmp[1]), "%" PRIx64, id);
        snprintf(tmp[2], sizeof(tmp[2]), "%s", s->version);
        snprintf(tmp[3], sizeof(tmp[3]), "%s", size);
        snprintf(tmp[4], sizeof(tmp[4]), "%s",
                 s->leader != 0 && s->leader == id ? "true" : "false");
        snprintf(tmp[5], sizeof(tmp[5]), "%s",
                 s->is_learner ? "true" : "false");
        snprintf(tmp[6], sizeof(tmp[6]), "%" PRIu64, s->raft_term);
        snprintf(tmp[7], sizeof(tmp[7]), "%" PRIu64, s->raft_index);
        snprintf(tmp[8], sizeof(tmp[8]), "%" PRIu64, s->raft_applied_index);
        snprintf(tmp[9], sizeof(tmp[9]), "%" PRId64,
                 s->revision != 0 ? s->revision : h->revision);
    }
    for (int c = 0; c < STATUS_COLS; c++) {
        cell[c] = strdup(tmp[c]);
    }
}

/* MetaStore's own addition to etcd's status JSON: the read paths and
 * the leader lease. */
static void json_read_stats(FILE *out, const struct ms_read_stats *r)
{
    fputs(",\"readStats\":{\"leaseValid\":", out);
    fputs(r->lease_valid ? "true" : "false", out);
    fprintf(out,
            ",\"leaseRemainingUs\":%llu,\"leaseRenewals\":%llu,"
            "\"leaseExpirations\":%llu,\"leaseRevocations\":%llu,"
            "\"leaseLastRenewAgoUs\":%llu,\"leaseReads\":%llu,"
            "\"readIndexReads\":%llu,\"followerReads\":%llu,"
            "\"forwarded\":%llu,\"serializableReads\":%llu,"
            "\"logReads\":%llu,\"readIndexRounds\":%llu,"
            "\"applyWaits\":%llu,\"readTimeouts\":%llu,"
            "\"leaseAnsweredFollower\":%llu,\"pendingReads\":%llu,"
            "\"rejectedReads\":%llu,\"cancelledReads\":%llu,"
            "\"readIndexRoundReads\":%llu,\"latency\":[",
            (unsigned long long)r->lease_remaining_us,
            (unsigned long long)r->lease_renewals,
            (unsigned long long)r->lease_expirations,
            (unsigned long long)r->lease_revocations,
            (unsigned long long)r->lease_last_renew_ago_us,
            (unsigned long long)r->lease_reads,
            (unsigned long long)r->read_index_reads,
            (unsigned long long)r->follower_reads,
            (unsigned long long)r->forwarded,
            (unsigned long long)r->serializable_reads,
            (unsigned long long)r->log_reads,
            (unsigned long long)r->read_index_rounds,
            (unsigned long long)r->apply_waits,
            (unsigned long long)r->read_timeouts,
            (unsigned long long)r->lease_answered_follower,
            (unsigned long long)r->pending_reads,
            (unsigned long long)r->rejected_reads,
            (unsigned long long)r->cancelled_reads,
            (unsigned long long)r->read_index_round_reads);
    for (size_t i = 0; i < r->n_latency; i++) {
        const struct ms_path_latency *l = &r->latency[i];
        fprintf(out,
                "%s{\"path\":\"%s\",\"count\":%llu,\"p50Us\":%llu,"
                "\"p90Us\":%llu,\"p99Us\":%llu,\"p999Us\":%llu,"
                "\"maxUs\":%llu}",
                i > 0 ? "," : "", l->path, (unsigned long long)l->count,
                (unsigned long long)l->p50_us, (unsigned long long)l->p90_us,
                (unsigned long long)l->p99_us, (unsigned long long)l->p999_us,
                (unsigned long long)l->max_us);
    }
    fputs("]}", out);
}

static void json_status(FILE *out, const struct mscli_status_row *rows,
                        size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"Endpoint\":" : "{\"Endpoint\":", out);
        mscli_json_string(out, rows[i].endpoint);
        if (rows[i].status == NULL) {
            json_u64(out, "ID", rows[i].member_id);
            fputs(",\"Error\":", out);
            mscli_json_string(out, rows[i].error != NULL ? rows[i].error : "");
            fputc('}', out);
            continue;
        }
        const struct ms_status_result *s = &rows[i].status->status_info;
        fputs(",\"Status\":{", out);
        mscli_json_header(out, &rows[i].status->header);
        fputs(",\"version\":", out);
        mscli_json_string(out, s->version);
        json_i64(out, "dbSize", s->db_size);
        if (s->engine != NULL && s->engine[0] != '\0') {
            fputs(",\"engine\":", out);
            mscli_json_string(out, s->engine);
        }
        json_u64(out, "keyCount", s->key_count);
        json_u64(out, "leader", s->leader);
        json_u64(out, "raftIndex", s->raft_index);
        json_u64(out, "raftTerm", s->raft_term);
        json_u64(out, "raftAppliedIndex", s->raft_applied_index);
        if (s->is_learner) {
            fputs(",\"isLearner\":true", out);
        }
        json_read_stats(out, &s->read_stats);
        if (s->n_errors > 0) {
            fputs(",\"errors\":[", out);
            for (size_t e = 0; e < s->n_errors; e++) {
                if (e > 0) {
                    fputc(',', out);
                }
                mscli_json_string(out, s->errors[e]);
            }
            fputc(']', out);
        }
        fputs("}}", out);
    }
    fputs("]\n", out);
}

/* MetaStore's second table under `endpoint status -w table`: the leader
 * lease and the read paths of each endpoint that answered. */
#define READ_COLS 10
static void read_stats_table(FILE *out, const struct mscli_status_row *rows,
                             size_t n)
{
    static const char *head[READ_COLS] = {
        "ENDPOINT",  "LEASE",        "LEASE LEFT", "RENEWALS",
        "FAST READS", "READINDEX READS", "FOLLOWER READS",
        "SERIAL READS", "LOG READS", "FAST P99"};
    char **cells = calloc(n * READ_COLS + 1, sizeof(*cells));
    size_t rowsn = 0;
    if (cells == NULL) {
        return;
    }
    for (size_t r = 0; r < n; r++) {
        if (rows[r].status == NULL) {
            continue;
        }
        const struct ms_read_stats *st = &rows[r].status->status_info.read_stats;
        uint64_t p99 = 0;
        for (size_t i = 0; i < st->n_latency; i++) {
            if (strcmp(st->latency[i].path, "fast") == 0) {
                p99 = st->latency[i].p99_us;
            }
        }
        char v[READ_COLS][48];
        snprintf(v[0], sizeof v[0], "%s", rows[r].endpoint);
        snprintf(v[1], sizeof v[1], "%s", st->lease_valid ? "valid" : "none");
        snprintf(v[2], sizeof v[2], "%llu ms",
                 (unsigned long long)(st->lease_remaining_us / 1000u));
        snprintf(v[3], sizeof v[3], "%llu",
                 (unsigned long long)st->lease_renewals);
        snprintf(v[4], sizeof v[4], "%llu", (unsigned long long)st->lease_reads);
        snprintf(v[5], sizeof v[5], "%llu",
                 (unsigned long long)st->read_index_reads);
        snprintf(v[6], sizeof v[6], "%llu",
                 (unsigned long long)st->follower_reads);
        snprintf(v[7], sizeof v[7], "%llu",
                 (unsigned long long)st->serializable_reads);
        snprintf(v[8], sizeof v[8], "%llu", (unsigned long long)st->log_reads);
        snprintf(v[9], sizeof v[9], "%llu us", (unsigned long long)p99);
        for (size_t c = 0; c < READ_COLS; c++) {
            cells[rowsn * READ_COLS + c] = strdup(v[c]);
        }
        rowsn++;
    }
    bool ok = true;
    for (size_t i = 0; i < rowsn * READ_COLS; i++) {
        ok = ok && cells[i] != NULL;
    }
    if (ok && rowsn > 0) {
        mscli_table(out, head, READ_COLS, cells, rowsn);
    }
    for (size_t i = 0; i < rowsn * READ_COLS; i++) {
        free(cells[i]);
    }
    free(cells);
}

void mscli_print_status(FILE *out, enum mscli_format f,
                        const struct mscli_status_row *rows, size_t n)
{
    static const char *head[STATUS_COLS] = {
        "ENDPOINT",           "ID",         "VERSION",   "DB SIZE",
        "IS LEADER",          "IS LEARNER", "RAFT TERM", "RAFT INDEX",
        "RAFT APPLIED INDEX", "REVISION",   "ERRORS"};
    if (f == MSCLI_JSON) {
        json_status(out, rows, n);
        return;
    }
    char **cells = calloc(n * STATUS_COLS + 1, sizeof(*cells));
    if (cells == NULL) {
        return;
    }
    for (size_t r = 0; r < n; r++) {
        status_cells(&rows[r], cells + r * STATUS_COLS);
    }
    bool ok = true;
    for (size_t i = 0; i < n * STATUS_COLS; i++) {
        ok = ok && cells[i] != NULL;
    }
    if (ok && f == MSCLI_TABLE) {
        mscli_table(out, head, STATUS_COLS, cells, n);
        read_stats_table(out, rows, n);
    } else if (ok) {
        for (size_t r = 0; r < n; r++) {
            for (size_t c = 0; c < STATUS_COLS; c++) {
                fprintf(out, "%s%s", c ? ", " : "", cells[r * STATUS_COLS + c]);
            }
            fputc('\n', out);
        }
    }
    for (size_t i = 0; i < n * STATUS_COLS; i++) {
        free(cells[i]);
    }
    free(cells);
}

void mscli_print_health(FILE *out, FILE *err, enum mscli_format f,
                        const struct mscli_health_row *rows, size_t n)
{
    static const char *head[4] = {"ENDPOINT", "HEALTH", "TOOK", "ERROR"};
    char took[48];
    if (f == MSCLI_JSON) {
        fputc('[', out);
        for (size_t i = 0; i < n; i++) {
            mscli_human_duration(rows[i].took_ns, took, sizeof(took));
            fputs(i ? ",{\"endpoint\":" : "{\"endpoint\":", out);
            mscli_json_string(out, rows[i].endpoint);
            fprintf(out, ",\"health\":%s,\"took\":\"%s\"",
                    rows[i].healthy ? "true" : "false", took);
            if (!rows[i].healthy) {
                fputs(",\"error\":", out);
                mscli_json_string(out, rows[i].error);
            }
            fputc('}', out);
        }
        fputs("]\n", out);
        return;
    }
    if (f == MSCLI_TABLE) {
        char **cells = calloc(n * 4 + 1, sizeof(*cells));
        if (cells == NULL) {
            return;
        }
        bool ok = true;
        for (size_t i = 0; i < n; i++) {
            mscli_human_duration(rows[i].took_ns, took, sizeof(took));
            cells[i * 4] = strdup(rows[i].endpoint);
            cells[i * 4 + 1] = strdup(rows[i].healthy ? "true" : "false");
            cells[i * 4 + 2] = strdup(took);
            cells[i * 4 + 3] = strdup(rows[i].error);
            for (size_t c = 0; c < 4; c++) {
                ok = ok && cells[i * 4 + c] != NULL;
            }
        }
        if (ok) {
            mscli_table(out, head, 4, cells, n);
        }
        for (size_t i = 0; i < n * 4; i++) {
            free(cells[i]);
        }
        free(cells);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        mscli_human_duration(rows[i].took_ns, took, sizeof(took));
        if (rows[i].healthy) {
            fprintf(out,
                    "%s is healthy: successfully committed proposal: "
                    "took = %s\n",
                    rows[i].endpoint, took);
        } else {
            fprintf(err, "%s is unhealthy: failed to commit proposal: %s\n",
                    rows[i].endpoint, rows[i].error);
        }
    }
}

/* ---- watch ---------------------------------------------------------------- */

void mscli_print_watch(FILE *out, enum mscli_format f,
                       const struct ms_watch_response *r)
{
    if (r->n_events == 0) {
        return; /* etcdctl shows events only */
    }
    if (f != MSCLI_JSON) {
        /* etcdctl's simple printer: the type, then (prev) key and value
         * lines; a DELETE has an empty value line. */
        for (size_t i = 0; i < r->n_events; i++) {
            const struct ms_event *e = &r->events[i];
            fputs(e->type == MS_EVENT_DELETE ? "DELETE\n" : "PUT\n", out);
            if (e->has_prev_kv) {
                fwrite(e->prev_kv.key, 1, e->prev_kv.key_len, out);
                fputc('\n', out);
                fwrite(e->prev_kv.value, 1, e->prev_kv.value_len, out);
                fputc('\n', out);
            }
            fwrite(e->kv.key, 1, e->kv.key_len, out);
            fputc('\n', out);
            fwrite(e->kv.value, 1, e->kv.value_len, out);
            fputc('\n', out);
        }
        fflush(out);
        return;
    }
    /* etcdctl -w json: clientv3.WatchResponse marshalled by Go. */
    const struct ms_header *h = &r->header;
    fprintf(out,
            "{\"Header\":{\"cluster_id\":%" PRIu64 ",\"member_id\":%" PRIu64
            ",\"revision\":%" PRId64 ",\"raft_term\":%" PRIu64 "},\"Events\":[",
            h->cluster_id, h->member_id, h->revision, h->raft_term);
    for (size_t i = 0; i < r->n_events; i++) {
        const struct ms_event *e = &r->events[i];
        fputs(i > 0 ? ",{" : "{", out);
        if (e->type == MS_EVENT_DELETE) {
            fputs("\"type\":1,", out);
        }
        fputs("\"kv\":", out);
        json_kv(out, &e->kv);
        if (e->has_prev_kv) {
            fputs(",\"prev_kv\":", out);
            json_kv(out, &e->prev_kv);
        }
        fputs("}", out);
    }
    fprintf(out,
            "],\"CompactRevision\":%" PRId64
            ",\"Canceled\":%s,\"Created\":%s}\n",
            r->compact_revision, r->canceled ? "true" : "false",
            r->created ? "true" : "false");
    fflush(out);
}
