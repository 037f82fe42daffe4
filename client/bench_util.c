/*
 * bench_util.c - the pure parts of metastore-bench: option parsing, the
 * random number and zipfian generators, the log-linear latency histogram and
 * the rate limiter's arithmetic (contracts in client/bench_util.h).
 *
 * Happy path: bench.c parses its flags once, then records one latency per
 * answered request and asks the limiter how many requests are due.
 * Failure modes: a bad flag is reported with a sentence naming it; the
 * histogram saturates at UINT64_MAX; nothing here allocates after parsing.
 */
#include "client/bench_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli_util.h"

#define NS_PER_S 1000000000ull

const char bench_usage[] =
    "usage: metastore-bench [flags]\n"
    "  --endpoints LIST     comma-separated host:port list (127.0.0.1:2379)\n"
    "  --target T           leader | followers | all (leader); roles come\n"
    "                       from Status on each endpoint\n"
    "  --conns N            connections (16), spread over the targets\n"
    "  --depth N            requests in flight per connection (8)\n"
    "  --op OP              range | put | ping | mixed (range)\n"
    "  --mix R:W            reads:writes for --op mixed (90:10)\n"
    "  --read-ratio F       the same as a fraction of reads, 0..1\n"
    "  --consistency C      l (linearizable) | s (serializable) (l)\n"
    "  --keys N             key space size (10000)\n"
    "  --value-size B       bytes per put value (64)\n"
    "  --dist D             uniform | zipfian (uniform)\n"
    "  --zipf-s S           zipfian exponent, 0 < S < 1 (0.99)\n"
    "  --duration D         run time, Go syntax: 10s, 1m (10s)\n"
    "  --requests N         stop after N requests (no time limit unless\n"
    "                       --duration is given too)\n"
    "  --rate R             total ops/s over all connections (unlimited)\n"
    "  --preload            put every key once before measuring\n"
    "  --seed N             random seed (1)\n"
    "  --json               print one JSON object instead of the report\n"
    "  --verify             decode every OK answer fully and check it is the\n"
    "                       answer asked for (costs the bench time; off)\n"
    "  --cacert FILE        TLS: verify the servers with this CA bundle\n"
    "  --cert FILE          TLS: client certificate (with --key)\n"
    "  --key FILE           TLS: the client certificate's key\n"
    "  --insecure-skip-tls-verify  TLS without checking the server\n"
    "  --http               speak HTTP/1.1 + JSON (etcd v3 gateway shapes:\n"
    "                       POST /v3/kv/range, /v3/kv/put) to endpoints that\n"
    "                       are HTTP addresses: metastored --http-listen or\n"
    "                       etcd's client port; every endpoint is a target;\n"
    "                       use --depth 1 unless the server pipelines\n"
    "  -h, --help           this text\n";

const char *bench_op_name(enum bench_op op)
{
    switch (op) {
    case BENCH_OP_RANGE:
        return "range";
    case BENCH_OP_PUT:
        return "put";
    case BENCH_OP_PING:
        return "ping";
    case BENCH_OP_MIXED:
        return "mixed";
    }
    return "?";
}

const char *bench_target_name(enum bench_target t)
{
    switch (t) {
    case BENCH_TARGET_LEADER:
        return "leader";
    case BENCH_TARGET_FOLLOWERS:
        return "followers";
    case BENCH_TARGET_ALL:
        return "all";
    }
    return "?";
}

size_t bench_key_format(uint64_t idx, char *buf)
{
    /* By hand, not snprintf: the bench names a key for every request, and
     * snprintf cost it about 650 instructions a key.  --keys is at most
     * 1e10, so idx has at most 10 digits; larger ones fall back. */
    if (idx >= 10000000000ull) {
        int n = snprintf(buf, BENCH_KEY_MAX, "bench-%010llu",
                         (unsigned long long)idx);
        return n < 0 ? 0 : (size_t)n;
    }
    memcpy(buf, "bench-", 6);
    for (int i = 15; i >= 6; i--) {
        buf[i] = (char)('0' + idx % 10);
        idx /= 10;
    }
    buf[16] = '\0';
    return 16;
}

/* ---- options ---------------------------------------------------------- */

static int opt_fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int opt_fail(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err_size > 0) {
        vsnprintf(err, err_size, fmt, ap);
    }
    va_end(ap);
    return MS_EINVAL;
}

/* A whole decimal number in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return MS_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return MS_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (s[0] == '\0') {
        return MS_EINVAL;
    }
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) {
        return MS_EINVAL;
    }
    *out = v;
    return 0;
}

/* "90:10" -> 0.9.  Both parts whole numbers, not both zero. */
static int parse_mix(const char *s, double *ratio)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0') {
        return MS_EINVAL;
    }
    char left[32];
    size_t n = (size_t)(colon - s);
    if (n >= sizeof(left)) {
        return MS_EINVAL;
    }
    memcpy(left, s, n);
    left[n] = '\0';
    uint64_t r = 0, w = 0;
    if (parse_u64(left, 0, 1000000000, &r) != 0 ||
        parse_u64(colon + 1, 0, 1000000000, &w) != 0 || r + w == 0) {
        return MS_EINVAL;
    }
    *ratio = (double)r / (double)(r + w);
    return 0;
}

static void opts_defaults(struct bench_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->conns = 16;
    o->depth = 8;
    o->keys = 10000;
    o->value_size = 64;
    o->dist = BENCH_DIST_UNIFORM;
    o->zipf_s = 0.99;
    o->read_ratio = 0.9;
    o->consistency = MS_CONSISTENCY_LINEARIZABLE;
    o->op = BENCH_OP_RANGE;
    o->target = BENCH_TARGET_LEADER;
    o->duration_ns = 10 * NS_PER_S;
    o->seed = 1;
}

/* Flags that take no value. */
static int opt_switch(struct bench_opts *o, const char *name)
{
    if (strcmp(name, "preload") == 0) {
        o->preload = true;
    } else if (strcmp(name, "json") == 0) {
        o->json = true;
    } else if (strcmp(name, "verify") == 0) {
        o->verify = true;
    } else if (strcmp(name, "insecure-skip-tls-verify") == 0) {
        o->insecure_skip_verify = true;
        o->tls = true;
    } else if (strcmp(name, "http") == 0) {
        o->http = true;
    } else if (strcmp(name, "help") == 0) {
        o->help = true;
    } else {
        return 1; /* not a switch */
    }
    return 0;
}

struct opt_seen {
    bool duration;
    bool requests;
};

/* Flags with a value.  Returns 0, MS_EINVAL (err set), MS_ENOMEM, or 1 for
 * an unknown name. */
static int opt_value(struct bench_opts *o, struct opt_seen *seen,
                     const char *name, const char *v, char *err,
                     size_t err_size)
{
    uint64_t u = 0;
    if (strcmp(name, "endpoints") == 0) {
        if (o->endpoints != NULL) {
            mscli_endpoints_free(o->endpoints);
            o->endpoints = NULL;
        }
        return mscli_endpoints_parse(v, &o->endpoints, &o->n_endpoints, err,
                                     err_size);
    }
    if (strcmp(name, "cacert") == 0 || strcmp(name, "cert") == 0 ||
        strcmp(name, "key") == 0) {
        const char **dst = strcmp(name, "cacert") == 0 ? &o->cacert
                           : strcmp(name, "cert") == 0 ? &o->cert
                                                        : &o->key;
        *dst = v; /* argv outlives the options */
        o->tls = true;
        return 0;
    }
    if (strcmp(name, "conns") == 0) {
        if (parse_u64(v, 1, BENCH_MAX_CONNS, &u) != 0) {
            return opt_fail(err, err_size, "--conns wants 1..%u, not \"%s\"",
                            BENCH_MAX_CONNS, v);
        }
        o->conns = (uint32_t)u;
    } else if (strcmp(name, "depth") == 0) {
        if (parse_u64(v, 1, BENCH_MAX_DEPTH, &u) != 0) {
            return opt_fail(err, err_size, "--depth wants 1..%u, not \"%s\"",
                            BENCH_MAX_DEPTH, v);
        }
        o->depth = (uint32_t)u;
    } else if (strcmp(name, "keys") == 0) {
        if (parse_u64(v, 1, 10000000000ull, &u) != 0) {
            return opt_fail(err, err_size, "--keys wants 1..1e10, not \"%s\"",
                            v);
        }
        o->keys = u;
    } else if (strcmp(name, "value-size") == 0) {
        if (parse_u64(v, 0, BENCH_MAX_VALUE_SIZE, &u) != 0) {
            return opt_fail(err, err_size,
                            "--value-size wants 0..%u bytes, not \"%s\"",
                            BENCH_MAX_VALUE_SIZE, v);
        }
        o->value_size = (uint32_t)u;
    } else if (strcmp(name, "dist") == 0) {
        if (strcmp(v, "uniform") == 0) {
            o->dist = BENCH_DIST_UNIFORM;
        } else if (strcmp(v, "zipfian") == 0 || strcmp(v, "zipf") == 0) {
            o->dist = BENCH_DIST_ZIPFIAN;
        } else {
            return opt_fail(err, err_size,
                            "--dist wants uniform or zipfian, not \"%s\"", v);
        }
    } else if (strcmp(name, "zipf-s") == 0) {
        double s = 0;
        if (parse_double(v, &s) != 0 || !(s > 0.0 && s < 1.0)) {
            return opt_fail(
                err, err_size,
                "--zipf-s wants a number with 0 < s < 1, not \"%s\"", v);
        }
        o->zipf_s = s;
    } else if (strcmp(name, "mix") == 0) {
        if (parse_mix(v, &o->read_ratio) != 0) {
            return opt_fail(err, err_size,
                            "--mix wants reads:writes like 90:10, not \"%s\"",
                            v);
        }
    } else if (strcmp(name, "read-ratio") == 0) {
        double f = 0;
        if (parse_double(v, &f) != 0 || f < 0.0 || f > 1.0) {
            return opt_fail(err, err_size,
                            "--read-ratio wants a fraction 0..1, not \"%s\"",
                            v);
        }
        o->read_ratio = f;
    } else if (strcmp(name, "consistency") == 0) {
        if (strcmp(v, "l") == 0 || strcmp(v, "linearizable") == 0) {
            o->consistency = MS_CONSISTENCY_LINEARIZABLE;
        } else if (strcmp(v, "s") == 0 || strcmp(v, "serializable") == 0) {
            o->consistency = MS_CONSISTENCY_SERIALIZABLE;
        } else {
            return opt_fail(err, err_size,
                            "--consistency wants l or s, not \"%s\"", v);
        }
    } else if (strcmp(name, "op") == 0) {
        if (strcmp(v, "range") == 0 || strcmp(v, "get") == 0) {
            o->op = BENCH_OP_RANGE;
        } else if (strcmp(v, "put") == 0) {
            o->op = BENCH_OP_PUT;
        } else if (strcmp(v, "ping") == 0) {
            o->op = BENCH_OP_PING;
        } else if (strcmp(v, "mixed") == 0) {
            o->op = BENCH_OP_MIXED;
        } else {
            return opt_fail(err, err_size,
                            "--op wants range, put, ping or mixed, not \"%s\"",
                            v);
        }
    } else if (strcmp(name, "target") == 0) {
        if (strcmp(v, "leader") == 0) {
            o->target = BENCH_TARGET_LEADER;
        } else if (strcmp(v, "followers") == 0 || strcmp(v, "follower") == 0) {
            o->target = BENCH_TARGET_FOLLOWERS;
        } else if (strcmp(v, "all") == 0) {
            o->target = BENCH_TARGET_ALL;
        } else {
            return opt_fail(
                err, err_size,
                "--target wants leader, followers or all, not \"%s\"", v);
        }
    } else if (strcmp(name, "duration") == 0) {
        if (mscli_duration_parse(v, &u) != 0 || u == 0) {
            return opt_fail(err, err_size,
                            "--duration wants a positive duration like 10s, "
                            "not \"%s\"",
                            v);
        }
        o->duration_ns = u;
        seen->duration = true;
    } else if (strcmp(name, "requests") == 0) {
        if (parse_u64(v, 1, UINT64_MAX, &u) != 0) {
            return opt_fail(err, err_size,
                            "--requests wants a positive count, not \"%s\"", v);
        }
        o->requests = u;
        seen->requests = true;
    } else if (strcmp(name, "rate") == 0) {
        if (parse_u64(v, 0, UINT32_MAX, &u) != 0) {
            return opt_fail(err, err_size,
                            "--rate wants ops per second (0 = unlimited), "
                            "not \"%s\"",
                            v);
        }
        o->rate = u;
    } else if (strcmp(name, "seed") == 0) {
        if (parse_u64(v, 0, UINT64_MAX, &u) != 0) {
            return opt_fail(err, err_size, "--seed wants a number, not \"%s\"",
                            v);
        }
        o->seed = u;
    } else {
        return 1;
    }
    return 0;
}

int bench_opts_parse(int argc, char **argv, struct bench_opts *o, char *err,
                     size_t err_size)
{
    struct opt_seen seen = {false, false};
    opts_defaults(o);
    if (err_size > 0) {
        err[0] = '\0';
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0) {
            o->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            return opt_fail(err, err_size, "unexpected argument \"%s\"", arg);
        }
        char name[32];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof(name)) {
            return opt_fail(err, err_size, "unknown flag %s", arg);
        }
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        if (eq == NULL && opt_switch(o, name) == 0) {
            continue;
        }
        const char *value = NULL;
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return opt_fail(err, err_size, "--%s needs a value", name);
        }
        int rc = opt_value(o, &seen, name, value, err, err_size);
        if (rc == 1) {
            return opt_fail(err, err_size, "unknown flag --%s", name);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (seen.requests && !seen.duration) {
        o->duration_ns = 0; /* a count alone is not cut short by time */
    }
    if (o->endpoints == NULL) {
        int rc = mscli_endpoints_parse("127.0.0.1:2379", &o->endpoints,
                                       &o->n_endpoints, err, err_size);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

void bench_opts_free(struct bench_opts *o)
{
    if (o->endpoints != NULL) {
        mscli_endpoints_free(o->endpoints);
    }
    o->endpoints = NULL;
    o->n_endpoints = 0;
}

/* ---- random numbers ----------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void bench_rng_seed(struct bench_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t bench_rng_next(struct bench_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bench_rng_double(struct bench_rng *r)
{
    return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t bench_rng_below(struct bench_rng *r, uint64_t n)
{
    /* The high 64 bits of a 64x64 product, from 32-bit halves (C11 has no
     * 128-bit integer type). */
    uint64_t x = bench_rng_next(r);
    uint64_t xl = x & 0xffffffffu, xh = x >> 32;
    uint64_t nl = n & 0xffffffffu, nh = n >> 32;
    uint64_t ll = xl * nl, lh = xl * nh, hl = xh * nl, hh = xh * nh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    return hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* ---- zipfian keys ------------------------------------------------------- */

int bench_zipf_init(struct bench_zipf *z, uint64_t n, double s)
{
    if (n == 0 || !(s > 0.0 && s < 1.0)) {
        return MS_EINVAL;
    }
    double zetan = 0.0;
    /* Sum the small terms first: fewer rounding errors for large n. */
    for (uint64_t i = n; i >= 1; i--) {
        zetan += 1.0 / pow((double)i, s);
    }
    double zeta2 = 1.0 + (n >= 2 ? 1.0 / pow(2.0, s) : 0.0);
    z->n = n;
    z->s = s;
    z->alpha = 1.0 / (1.0 - s);
    z->zetan = zetan;
    z->half_pow_s = pow(0.5, s);
    z->eta = n >= 2
                 ? (1.0 - pow(2.0 / (double)n, 1.0 - s)) / (1.0 - zeta2 / zetan)
                 : 0.0;
    return 0;
}

uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r)
{
    double u = bench_rng_double(r);
    double uz = u * z->zetan;
    if (uz < 1.0 || z->n == 1) {
        return 0;
    }
    if (uz < 1.0 + z->half_pow_s || z->n == 2) {
        return 1;
    }
    double k = (double)z->n * pow(z->eta * u - z->eta + 1.0, z->alpha);
    uint64_t rank = k <= 0.0 ? 0 : (uint64_t)k;
    return rank >= z->n ? z->n - 1 : rank;
}

/* ---- latency histogram ------------------------------------------------ */

void bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

size_t bench_hist_index(uint64_t v)
{
    if (v < BENCH_HIST_SUB) {
        return (size_t)v;
    }
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    uint64_t sub = (v >> shift) - BENCH_HIST_SUB;
    return (size_t)(BENCH_HIST_SUB + (uint64_t)shift * BENCH_HIST_SUB + sub);
}

uint64_t bench_hist_bucket_low(size_t i)
{
    if (i < BENCH_HIST_SUB) {
        return i;
    }
    size_t shift = (i - BENCH_HIST_SUB) / BENCH_HIST_SUB;
    uint64_t sub = (i - BENCH_HIST_SUB) % BENCH_HIST_SUB;
    return (BENCH_HIST_SUB + sub) << shift;
}

uint64_t bench_hist_bucket_high(size_t i)
{
    if (i < BENCH_HIST_SUB) {
        return i;
    }
    size_t shift = (i - BENCH_HIST_SUB) / BENCH_HIST_SUB;
    return bench_hist_bucket_low(i) + ((1ull << shift) - 1);
}

void bench_hist_record(struct bench_hist *h, uint64_t v)
{
    h->counts[bench_hist_index(v)]++;
    h->n++;
    h->sum = v > UINT64_MAX - h->sum ? UINT64_MAX : h->sum + v;
    if (v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
}

void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    if (src->n == 0) {
        return;
    }
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        dst->counts[i] += src->counts[i];
    }
    dst->n += src->n;
    dst->sum =
        src->sum > UINT64_MAX - dst->sum ? UINT64_MAX : dst->sum + src->sum;
    if (src->min < dst->min) {
        dst->min = src->min;
    }
    if (src->max > dst->max) {
        dst->max = src->max;
    }
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double p)
{
    if (h->n == 0) {
        return 0;
    }
    if (p <= 0.0) {
        return h->min;
    }
    if (p >= 100.0) {
        return h->max;
    }
    /* The rank of the value asked for, 1-based; the small slack keeps
     * 99.9% of 1000 at rank 999 despite binary rounding. */
    double want = ceil(p / 100.0 * (double)h->n - 1e-9);
    uint64_t rank = want < 1.0 ? 1 : (uint64_t)want;
    uint64_t seen = 0;
    for (size_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bench_hist_bucket_high(i);
            if (v > h->max) {
                v = h->max;
            }
            return v < h->min ? h->min : v;
        }
    }
    return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
    return h->n == 0 ? 0.0 : (double)h->sum / (double)h->n;
}

/* ---- rate limiter ------------------------------------------------------- */

void bench_rate_init(struct bench_rate *r, uint64_t rate, uint64_t start_ns)
{
    r->rate = rate;
    r->start_ns = start_ns;
    r->issued = 0;
}

uint64_t bench_rate_due(const struct bench_rate *r, uint64_t now_ns)
{
    if (r->rate == 0) {
        return UINT64_MAX;
    }
    if (now_ns < r->start_ns) {
        return 0;
    }
    uint64_t el = now_ns - r->start_ns;
    /* floor(el * rate / 1e9) without overflowing: whole seconds, then the
     * rest ((el % 1e9) * rate < 1e9 * 2^32 fits in 64 bits). */
    uint64_t allowed =
        (el / NS_PER_S) * r->rate + (el % NS_PER_S) * r->rate / NS_PER_S + 1;
    return allowed > r->issued ? allowed - r->issued : 0;
}

void bench_rate_take(struct bench_rate *r, uint64_t n)
{
    r->issued += n;
}

uint64_t bench_rate_next_ns(const struct bench_rate *r)
{
    if (r->rate == 0) {
        return r->start_ns;
    }
    uint64_t k = r->issued;
    uint64_t rest = (k % r->rate) * NS_PER_S;
    return r->start_ns + (k / r->rate) * NS_PER_S +
           (rest + r->rate - 1) / r->rate;
}

/* ---- formatting ------------------------------------------------------- */

void bench_fmt_ns(uint64_t ns, char *buf, size_t size)
{
    if (ns < 1000) {
        snprintf(buf, size, "%lluns", (unsigned long long)ns);
    } else if (ns < 1000000) {
        snprintf(buf, size, "%.1fus", (double)ns / 1e3);
    } else if (ns < NS_PER_S) {
        snprintf(buf, size, "%.2fms", (double)ns / 1e6);
    } else {
        snprintf(buf, size, "%.2fs", (double)ns / 1e9);
    }
}
