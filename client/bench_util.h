/*
 * bench_util.h - the pure parts of metastore-bench (client/bench.c): option
 * parsing, a seeded random number generator, a zipfian key generator, a
 * log-linear latency histogram and the arithmetic of the rate limiter.
 * Nothing here does I/O or reads a clock (times are passed in), so all of it
 * is unit-tested in test/unit/client/test_bench.c.  Private to metastore-bench
 * even though the Makefile puts it in the client library.
 */
#ifndef METASTORE_CLIENT_BENCH_UTIL_H
#define METASTORE_CLIENT_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/metastore.h"

/* ---- options ---------------------------------------------------------- */

enum bench_op {
    BENCH_OP_RANGE = 0,
    BENCH_OP_PUT,
    BENCH_OP_PING,
    BENCH_OP_MIXED
};
enum bench_dist { BENCH_DIST_UNIFORM = 0, BENCH_DIST_ZIPFIAN };
enum bench_target {
    BENCH_TARGET_LEADER = 0,
    BENCH_TARGET_FOLLOWERS,
    BENCH_TARGET_ALL
};

#define BENCH_MAX_CONNS      10000u
#define BENCH_MAX_DEPTH      65536u
#define BENCH_MAX_VALUE_SIZE (16u * 1024u * 1024u)

struct bench_opts {
    char **endpoints; /* NULL-terminated, malloc'ed (mscli_endpoints_parse) */
    size_t n_endpoints;
    uint32_t conns;      /* connections, default 16 */
    uint32_t depth;      /* requests in flight per connection, default 8 */
    uint64_t keys;       /* key space size, default 10000 */
    uint32_t value_size; /* bytes per put value, default 64 */
    enum bench_dist dist;
    double zipf_s;     /* zipfian exponent, 0 < s < 1, default 0.99 */
    double read_ratio; /* fraction of reads in --op mixed, default 0.9 */
    enum ms_consistency consistency;
    enum bench_op op; /* default range */
    enum bench_target target;
    uint64_t duration_ns; /* 0: no time limit (only with --requests) */
    uint64_t requests;    /* 0: no count limit */
    uint64_t rate;        /* total ops/s over all connections, 0: unlimited */
    uint64_t seed;
    bool preload;
    bool json;
    /* --verify: decode every OK answer (client/bench_wire.h); without it
     * answers are matched by their frame header only. */
    bool verify;
    bool http; /* --http: etcd v3 JSON gateway over HTTP/1.1 */
    bool help;
    /* TLS (etcdctl's flag names); tls is set when any was given.  The
     * strings point into argv. */
    const char *cacert, *cert, *key;
    bool insecure_skip_verify;
    bool tls;
};

/*
 * Parses argv[1..argc-1] ("--name value" or "--name=value") into *o, which
 * it initialises with the defaults first.  Returns 0 (o->help set for
 * --help/-h), MS_EINVAL with a sentence in err for an unknown flag, a
 * missing or malformed value or a value out of range, or MS_ENOMEM.
 * Free with bench_opts_free(), also after a failure.
 */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o, char *err,
                     size_t err_size);
void bench_opts_free(struct bench_opts *o);

/* The usage text for --help. */
extern const char bench_usage[];

/* "range", "put", "ping", "mixed" and the like, for reports. */
const char *bench_op_name(enum bench_op op);
const char *bench_target_name(enum bench_target t);

/*
 * Writes the name of key number idx ("bench-0000000042") into buf, which
 * must hold BENCH_KEY_MAX bytes; returns its length (no NUL counted).
 */
#define BENCH_KEY_MAX 32
size_t bench_key_format(uint64_t idx, char *buf);

/* ---- random numbers ----------------------------------------------------- */

/* xoshiro256** seeded through splitmix64: fast, good enough for load. */
struct bench_rng {
    uint64_t s[4];
};
void bench_rng_seed(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, 1). */
double bench_rng_double(struct bench_rng *r);
/* Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64). */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);

/* ---- zipfian keys ------------------------------------------------------- */

/*
 * Zipfian ranks over [0, n) with exponent s (item k drawn with probability
 * proportional to 1/(k+1)^s; rank 0 is the hottest), by the method of Gray
 * et al., "Quickly generating billion-record synthetic databases" (SIGMOD
 * 1994), as YCSB does.  Requires n >= 1 and 0 < s < 1.  Init costs O(n)
 * (the zeta sum); each draw is O(1).
 */
struct bench_zipf {
    uint64_t n;
    double s, alpha, zetan, eta, half_pow_s;
};
int bench_zipf_init(struct bench_zipf *z, uint64_t n, double s);
uint64_t bench_zipf_next(const struct bench_zipf *z, struct bench_rng *r);

/* ---- latency histogram ------------------------------------------------ */

/*
 * A log-linear histogram of uint64 values (nanoseconds): values below 128
 * are counted exactly; above, each power of two is split into 128 equal
 * buckets, so a bucket is at most 1/128 (0.8%) of its values wide.  Fixed
 * size (about 58 KiB), no allocation, record is O(1).
 */
#define BENCH_HIST_SUB_BITS 7
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_BUCKETS  (BENCH_HIST_SUB * (64 - BENCH_HIST_SUB_BITS + 1))

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t n, min, max, sum;
};
void bench_hist_init(struct bench_hist *h);
void bench_hist_record(struct bench_hist *h, uint64_t v);
/* Adds src's counts to dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The bucket v falls in, and the range [low, high] of values it holds. */
size_t bench_hist_index(uint64_t v);
uint64_t bench_hist_bucket_low(size_t i);
uint64_t bench_hist_bucket_high(size_t i);
/*
 * The value at percentile p (0..100): the highest value of the bucket that
 * holds the ceil(p/100 * n)-th smallest value, clamped to [min, max], so it
 * is never below the true value and at most 0.8% above it.  p <= 0 gives
 * min, p >= 100 gives max, an empty histogram gives 0.
 */
uint64_t bench_hist_percentile(const struct bench_hist *h, double p);
/* Mean of the recorded values, 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

/* ---- rate limiter ------------------------------------------------------- */

/*
 * Paces operations at `rate` per second from start_ns: operation k (from 0)
 * is due at start_ns + k * 1e9 / rate.  Open loop: operations not issued
 * when due stay due (they are issued as soon as a slot frees).  rate 0 means
 * unlimited.  Exact integer arithmetic, no overflow for rate < 2^32 and
 * runs shorter than 500 years.
 */
struct bench_rate {
    uint64_t rate;
    uint64_t start_ns;
    uint64_t issued;
};
void bench_rate_init(struct bench_rate *r, uint64_t rate, uint64_t start_ns);
/* How many operations may be issued at now_ns (UINT64_MAX when unlimited). */
uint64_t bench_rate_due(const struct bench_rate *r, uint64_t now_ns);
/* Records n operations as issued. */
void bench_rate_take(struct bench_rate *r, uint64_t n);
/* When the next operation becomes due (start_ns when unlimited). */
uint64_t bench_rate_next_ns(const struct bench_rate *r);

/* ---- the HTTP/JSON mode (--http, client/bench_http.c) --------------------- */

/* What an HTTP request asks for. */
enum bench_http_kind {
    BENCH_HTTP_STATUS = 0, /* POST /v3/maintenance/status (for --op ping) */
    BENCH_HTTP_RANGE,      /* POST /v3/kv/range {"key"} */
    BENCH_HTTP_PUT,        /* POST /v3/kv/put {"key","value"} */
};

/*
 * Writes one keep-alive HTTP/1.1 request in etcd v3 JSON gateway shape
 * (base64 key and value) into out[0..cap) and returns its length; a return
 * > cap means "needs that many bytes" (nothing useful written).  `host` is
 * the Host header.  serializable adds "serializable":true to a range.
 */
size_t bench_http_request(char *out, size_t cap, enum bench_http_kind k,
                          const char *host, const char *key, size_t key_len,
                          const uint8_t *value, size_t value_len,
                          bool serializable);

/*
 * Parses one HTTP/1.1 response with a Content-Length body at p[0..n).
 * Returns 0 (incomplete: read more), 1 (complete: *used bytes, *code 0
 * for a 2xx answer, else the gRPC "code" of the JSON error body, or the
 * HTTP status when the body has none), or -1 (not an HTTP response, or no
 * Content-Length).
 */
int bench_http_response(const uint8_t *p, size_t n, size_t *used, int *code);

/* ---- formatting ------------------------------------------------------- */

/* "812ns", "45.3us", "1.25ms", "2.50s" into buf (at least 16 bytes). */
void bench_fmt_ns(uint64_t ns, char *buf, size_t size);

#endif /* METASTORE_CLIENT_BENCH_UTIL_H */
