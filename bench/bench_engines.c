/*
 * bench_engines.c - the memory and RocksDB engines side by side, in process.
 *
 * A standalone benchmark, not a test: for each engine it preloads N keys
 * (default 1,000,000) with V-byte values (default 256) in a shuffled order
 * (not timed), then runs, each for a fixed time on one thread:
 *   get    point get of a random preloaded key (linearizable reads end here)
 *   range  a range of 100 keys from a random preloaded key
 *   put    overwrite of a random preloaded key (a new revision each time)
 * and prints one table: ops/s of the one benchmark thread (= per core,
 * measured on that thread's CPU clock, so time the machine gave to other
 * processes does not count) and wall-clock ops/s, with the ratio
 * memory/rocksdb for each operation.  It writes nothing but the RocksDB
 * directory it creates (removed at the end unless --keep) and stdout.
 *
 * Each operation resets one arena, as the server does per request, so the
 * numbers include copying results out of the engine.  RocksDB state-machine
 * writes are sync=false, as in the server (the Raft log makes them durable),
 * so "put" here is the engine's own cost, not an fsync.
 *
 * Failure modes: a bad flag prints the usage and exits 2; an engine error
 * is printed with its name and exits 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/engine.h"
#include "storage/rocksdb.h"

#define RANGE_LIMIT       100
#define KEY_CAP           32
#define CLOCK_CHECK_EVERY 256
#define NOISE_BYTES       (1u << 20)

enum bench_op { OP_GET, OP_RANGE, OP_PUT, N_OPS };
static const char *const op_names[N_OPS] = {"get", "range100", "put"};

struct bench_cfg {
    uint64_t keys;
    size_t value_bytes;
    double seconds;
    uint64_t cache_mb;
    bool run_memory, run_rocksdb;
    const char *dir; /* NULL = a new directory under /tmp */
    bool keep;
    uint64_t seed;
};

struct bench_result {
    uint64_t ops;
    double cpu_s; /* the benchmark thread's CPU time */
    double wall_s;
};

struct bench_ctx {
    const struct bench_cfg *cfg;
    struct engine *e;
    struct engine_arena arena;
    uint64_t applied;
    uint64_t rng;
    unsigned char *noise; /* NOISE_BYTES random bytes values are cut from */
};

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, good enough to pick keys. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Key i: "bench/" + 10 decimal digits (fixed length, so order is i's).
 * Formatted by hand: snprintf would cost as much as a cached memory get. */
static size_t make_key(char *buf, uint64_t i)
{
    memcpy(buf, "bench/", 6);
    for (int d = 15; d >= 6; d--) {
        buf[d] = (char)('0' + i % 10);
        i /= 10;
    }
    buf[16] = '\0';
    return 16;
}

static void fail_engine(const char *what, int rv)
{
    fprintf(stderr, "bench_engines: %s: %s (%s)\n", what, engine_strerror(rv),
            engine_err_name(rv));
    exit(1);
}

static void put_key(struct bench_ctx *b, uint64_t i)
{
    char key[KEY_CAP];
    size_t kl = make_key(key, i);
    /* Random, incompressible values: RocksDB compresses its blocks (lz4),
     * and a repeated pattern would let far more of them fit in its cache. */
    size_t off =
        (size_t)(rng_next(&b->rng) % (NOISE_BYTES - b->cfg->value_bytes));
    struct engine_put_req req = {.key = key,
                                 .key_len = kl,
                                 .value = b->noise + off,
                                 .value_len = b->cfg->value_bytes};
    struct engine_put_result res;
    engine_arena_reset(&b->arena);
    int rv = engine_put(b->e, ++b->applied, &req, &b->arena, &res);
    if (rv != 0) {
        fail_engine("put", rv);
    }
}

/* Preloads keys 0..n-1 in a shuffled order (Fisher-Yates), so neither
 * engine gets the easy case of sequential inserts. */
static void preload(struct bench_ctx *b)
{
    const uint64_t n = b->cfg->keys;
    uint64_t *order = malloc(n * sizeof *order);
    if (order == NULL) {
        fprintf(stderr, "bench_engines: out of memory\n");
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++) {
        order[i] = i;
    }
    for (uint64_t i = n - 1; i > 0; i--) {
        uint64_t j = rng_next(&b->rng) % (i + 1);
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint64_t i = 0; i < n; i++) {
        put_key(b, order[i]);
    }
    free(order);
}

static void one_op(struct bench_ctx *b, enum bench_op op)
{
    uint64_t i = rng_next(&b->rng) % b->cfg->keys;
    char key[KEY_CAP];
    size_t kl = make_key(key, i);
    engine_arena_reset(&b->arena);
    if (op == OP_PUT) {
        put_key(b, i);
        return;
    }
    struct engine_range_req req = {.key = key, .key_len = kl};
    char end[KEY_CAP];
    if (op == OP_RANGE) {
        /* [key i, key i+100): exactly 100 keys (fewer at the end), so the
         * engine's count (which ignores limits) costs no extra scan. */
        req.range_end = end;
        req.range_end_len = make_key(end, i + RANGE_LIMIT);
    }
    struct engine_range_result res;
    int rv = engine_range(b->e, &req, &b->arena, &res);
    if (rv != 0) {
        fail_engine(op_names[op], rv);
    }
    size_t want = 1;
    if (op == OP_RANGE) {
        want = b->cfg->keys - i < RANGE_LIMIT ? (size_t)(b->cfg->keys - i)
                                              : RANGE_LIMIT;
    }
    if (res.kvs_len != want || res.kvs[0].value_len != b->cfg->value_bytes) {
        fprintf(stderr, "bench_engines: %s of key %llu returned %zu kvs\n",
                op_names[op], (unsigned long long)i, res.kvs_len);
        exit(1);
    }
}

static struct bench_result run_op(struct bench_ctx *b, enum bench_op op)
{
    struct bench_result r = {0};
    const double w0 = clock_s(CLOCK_MONOTONIC);
    const double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    double w = w0;
    while (w - w0 < b->cfg->seconds) {
        for (int k = 0; k < CLOCK_CHECK_EVERY; k++) {
            one_op(b, op);
        }
        r.ops += CLOCK_CHECK_EVERY;
        w = clock_s(CLOCK_MONOTONIC);
    }
    r.wall_s = w - w0;
    r.cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    return r;
}

static int open_engine(const struct bench_cfg *cfg, bool rocks, const char *dir,
                       struct engine **out)
{
    if (!rocks) {
        return engine_memory_open(&(struct engine_options){0}, out);
    }
    char err[256] = "";
    struct engine_rocksdb_options ro = {.block_cache_bytes = cfg->cache_mb
                                                             << 20,
                                        .err_buf = err,
                                        .err_buf_len = sizeof err};
    int rv =
        engine_rocksdb_open_ex(&(struct engine_options){.path = dir}, &ro, out);
    if (rv != 0) {
        fprintf(stderr, "bench_engines: cannot open RocksDB in %s: %s\n", dir,
                err);
    }
    return rv;
}

/* Preloads one engine and runs every operation on it. */
static void bench_engine(const struct bench_cfg *cfg, bool rocks,
                         const char *dir, struct bench_result res[N_OPS])
{
    struct bench_ctx b = {.cfg = cfg, .rng = cfg->seed | 1};
    b.noise = malloc(NOISE_BYTES);
    if (b.noise == NULL) {
        fprintf(stderr, "bench_engines: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < NOISE_BYTES; i++) {
        b.noise[i] = (unsigned char)(rng_next(&b.rng) >> 56);
    }
    engine_arena_init(&b.arena);
    int rv = open_engine(cfg, rocks, dir, &b.e);
    if (rv != 0) {
        fail_engine("open", rv);
    }
    double t0 = clock_s(CLOCK_MONOTONIC);
    preload(&b);
    fprintf(stderr, "%s: preloaded %llu keys in %.1f s\n",
            rocks ? "rocksdb" : "memory", (unsigned long long)cfg->keys,
            clock_s(CLOCK_MONOTONIC) - t0);
    for (int op = 0; op < N_OPS; op++) {
        res[op] = run_op(&b, (enum bench_op)op);
        fprintf(stderr, "%s %s: %.0f ops/s\n", rocks ? "rocksdb" : "memory",
                op_names[op], (double)res[op].ops / res[op].cpu_s);
    }
    engine_close(b.e);
    engine_arena_free(&b.arena);
    free(b.noise);
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: bench_engines [--keys N] [--value-bytes B] [--seconds S]\n"
           "                     [--engines memory,rocksdb] [--cache-mb M]\n"
           "                     [--dir DIR] [--keep] [--seed X]\n"
           "  --keys N         keys preloaded (default 1000000)\n"
           "  --value-bytes B  value size (default 256)\n"
           "  --seconds S      time per operation and engine (default 3)\n"
           "  --engines LIST   which engines (default memory,rocksdb)\n"
           "  --cache-mb M     RocksDB block cache (default 64, the server's)\n"
           "  --dir DIR        RocksDB directory (must not exist; default a\n"
           "                   new one under /tmp), removed unless --keep\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return false;
    }
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct bench_cfg *cfg)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n = 0;
        if (strcmp(a, "--keep") == 0) {
            cfg->keep = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            return -1;
        }
        i++;
        if (strcmp(a, "--keys") == 0 && parse_u64(v, &n) && n >= 1) {
            cfg->keys = n;
        } else if (strcmp(a, "--value-bytes") == 0 && parse_u64(v, &n) &&
                   n >= 1 && n <= NOISE_BYTES / 2) {
            cfg->value_bytes = (size_t)n;
        } else if (strcmp(a, "--seconds") == 0) {
            char *end;
            cfg->seconds = strtod(v, &end);
            if (*end != '\0' || !(cfg->seconds > 0)) {
                return -1;
            }
        } else if (strcmp(a, "--cache-mb") == 0 && parse_u64(v, &n) && n >= 1) {
            cfg->cache_mb = n;
        } else if (strcmp(a, "--dir") == 0) {
            cfg->dir = v;
        } else if (strcmp(a, "--seed") == 0 && parse_u64(v, &n)) {
            cfg->seed = n;
        } else if (strcmp(a, "--engines") == 0) {
            cfg->run_memory = strstr(v, "memory") != NULL;
            cfg->run_rocksdb = strstr(v, "rocksdb") != NULL;
            if (!cfg->run_memory && !cfg->run_rocksdb) {
                return -1;
            }
        } else {
            return -1;
        }
    }
    return 0;
}

static void print_table(const struct bench_cfg *cfg,
                        const struct bench_result mem[N_OPS],
                        const struct bench_result rocks[N_OPS])
{
    printf("engines, in process, one thread: %llu keys, %zu-byte values, "
           "%.1f s per operation\n\n",
           (unsigned long long)cfg->keys, cfg->value_bytes, cfg->seconds);
    printf(
        "| operation | memory ops/s per core | memory ops/s wall "
        "| rocksdb ops/s per core | rocksdb ops/s wall | memory/rocksdb |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int op = 0; op < N_OPS; op++) {
        double m = 0, mw = 0, r = 0, rw = 0;
        if (cfg->run_memory) {
            m = (double)mem[op].ops / mem[op].cpu_s;
            mw = (double)mem[op].ops / mem[op].wall_s;
        }
        if (cfg->run_rocksdb) {
            r = (double)rocks[op].ops / rocks[op].cpu_s;
            rw = (double)rocks[op].ops / rocks[op].wall_s;
        }
        printf("| %s | %.0f | %.0f | %.0f | %.0f | ", op_names[op], m, mw, r,
               rw);
        if (m > 0 && r > 0) {
            printf("%.1fx |\n", m / r);
        } else {
            printf("- |\n");
        }
    }
    printf("\nper core = operations / CPU seconds of the benchmark thread; "
           "range100 = one range of %d keys\n",
           RANGE_LIMIT);
}

int main(int argc, char **argv)
{
    struct bench_cfg cfg = {.keys = 1000000,
                            .value_bytes = 256,
                            .seconds = 3.0,
                            .cache_mb = 64,
                            .run_memory = true,
                            .run_rocksdb = true,
                            .seed = 0x9e3779b97f4a7c15ULL};
    if (parse_args(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    struct bench_result mem[N_OPS] = {0}, rocks[N_OPS] = {0};
    if (cfg.run_memory) {
        bench_engine(&cfg, false, NULL, mem);
    }
    if (cfg.run_rocksdb) {
        char tmpl[] = "/tmp/bench-engines-XXXXXX";
        char dir[4200];
        if (cfg.dir != NULL) {
            snprintf(dir, sizeof dir, "%s", cfg.dir);
        } else if (mkdtemp(tmpl) != NULL) {
            snprintf(dir, sizeof dir, "%s/db", tmpl);
        } else {
            perror("bench_engines: mkdtemp");
            return 1;
        }
        bench_engine(&cfg, true, dir, rocks);
        if (!cfg.keep) {
            char cmd[4300];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'",
                     cfg.dir != NULL ? dir : tmpl);
            if (system(cmd) != 0) {
                fprintf(stderr, "bench_engines: could not remove %s\n", dir);
            }
        } else {
            fprintf(stderr, "kept %s\n", dir);
        }
    }
    print_table(&cfg, mem, rocks);
    return 0;
}
