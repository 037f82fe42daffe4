/*
 * The RocksDB engine: the shared conformance suite (helpers/conformance.c)
 * on engine_rocksdb_open() with a fresh temporary directory per engine, plus
 * what is specific to a persistent engine: reopen and crash recovery, the
 * ENGINE marker, compaction in bounded steps, snapshots byte-identical to
 * the memory engine's, binary keys against the memory engine as a model,
 * and the Raft log and hard state column families.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/conformance.h"
#include "storage/engine.h"
#include "storage/rocksdb.h"

/* ---- temporary directories ---------------------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory that does not exist yet (the engine creates it). */
static char *new_dir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/ms-rocks-XXXXXX",
             base != NULL && base[0] != 0 ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *d = malloc(strlen(tmpl) + 8);
    ck_assert_ptr_nonnull(d);
    sprintf(d, "%s/db", tmpl);
    return d;
}

static void free_dir(char *d)
{
    char *slash = strrchr(d, '/');
    *slash = 0;
    rm_rf(d);
    free(d);
}

/* ---- conformance factory ------------------------------------------------ */

/* Each engine remembers its directory so close() can remove it. */
struct opened {
    struct engine *e;
    char *dir;
};

static struct opened opened[8];

static int open_rocks(void *ctx, struct engine **out)
{
    (void)ctx;
    char *dir = new_dir();
    struct engine_options o = {0, dir};
    int rc = engine_rocksdb_open(&o, out);
    if (rc != 0) {
        free_dir(dir);
        return rc;
    }
    for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++) {
        if (opened[i].e == NULL) {
            opened[i].e = *out;
            opened[i].dir = dir;
            return 0;
        }
    }
    engine_close(*out);
    free_dir(dir);
    return ENGINE_ENOMEM;
}

static void close_rocks(void *ctx, struct engine *e)
{
    (void)ctx;
    engine_close(e);
    for (size_t i = 0; i < sizeof(opened) / sizeof(opened[0]); i++) {
        if (opened[i].e == e) {
            free_dir(opened[i].dir);
            opened[i].e = NULL;
            opened[i].dir = NULL;
        }
    }
}

static const struct conformance_factory rocks_factory = {
    "rocksdb-engine-conformance", open_rocks, close_rocks, NULL};

/* ---- helpers ------------------------------------------------------------ */

#define ck_ok(expr)                                                            \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        ck_assert_msg(rc_ == 0, "%s -> %s", #expr, engine_err_name(rc_));      \
    } while (0)

static struct engine *open_at(const char *dir)
{
    struct engine_options o = {0, dir};
    struct engine *e = NULL;
    ck_ok(engine_rocksdb_open(&o, &e));
    return e;
}

static int64_t put_kv(struct engine *e, uint64_t idx, const void *k, size_t kl,
                      const char *v)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_put_req p;
    memset(&p, 0, sizeof(p));
    p.key = k;
    p.key_len = kl;
    p.value = v;
    p.value_len = strlen(v);
    struct engine_put_result pr;
    ck_ok(engine_put(e, idx, &p, &a, &pr));
    engine_arena_free(&a);
    return pr.revision;
}

static int64_t put_s(struct engine *e, uint64_t idx, const char *k,
                     const char *v)
{
    return put_kv(e, idx, k, strlen(k), v);
}

static int64_t del_range(struct engine *e, uint64_t idx, const void *k,
                         size_t kl, const void *end, size_t el)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_delete_req d = {k, kl, end, el, false};
    struct engine_delete_result dr;
    ck_ok(engine_delete_range(e, idx, &d, &a, &dr));
    engine_arena_free(&a);
    return dr.deleted;
}

/* Every kv visible at rev as one string (binary-safe: hex). */
static char *dump(struct engine *e, int64_t rev)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_range_req r;
    memset(&r, 0, sizeof(r));
    r.key = "\0";
    r.key_len = 1;
    r.range_end = "\0";
    r.range_end_len = 1;
    r.revision = rev;
    struct engine_range_result res;
    ck_ok(engine_range(e, &r, &a, &res));
    size_t cap = 128, n = 0;
    for (size_t i = 0; i < res.kvs_len; i++)
        cap += 2 * (res.kvs[i].key_len + res.kvs[i].value_len) + 96;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    n += (size_t)snprintf(s + n, cap - n, "count=%lld:", (long long)res.count);
    for (size_t i = 0; i < res.kvs_len; i++) {
        const struct engine_kv *kv = &res.kvs[i];
        for (size_t j = 0; j < kv->key_len; j++)
            n += (size_t)snprintf(s + n, cap - n, "%02x", kv->key[j]);
        s[n++] = '=';
        for (size_t j = 0; j < kv->value_len; j++)
            n += (size_t)snprintf(s + n, cap - n, "%02x", kv->value[j]);
        n += (size_t)snprintf(s + n, cap - n, "@%lld/%lld/%lld/%lld;",
                              (long long)kv->create_revision,
                              (long long)kv->mod_revision,
                              (long long)kv->version, (long long)kv->lease);
    }
    s[n] = 0;
    engine_arena_free(&a);
    return s;
}

static void ck_same_dump(struct engine *x, struct engine *y, int64_t rev)
{
    char *a = dump(x, rev), *b = dump(y, rev);
    ck_assert_msg(strcmp(a, b) == 0, "rev %lld:\n%s\n%s", (long long)rev, a, b);
    free(a);
    free(b);
}

struct membuf {
    uint8_t *data;
    size_t len, cap, pos;
};

static int membuf_write(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->len + len)
            cap *= 2;
        m->data = realloc(m->data, cap);
        ck_assert_ptr_nonnull(m->data);
        m->cap = cap;
    }
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return 0;
}

static ssize_t membuf_read(void *ctx, void *buf, size_t cap)
{
    struct membuf *m = ctx;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- open, marker, reopen, crash ---------------------------------------- */

START_TEST(open_creates_directory_and_marker)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    ck_assert_str_eq(engine_name(e), "rocksdb");
    ck_assert(engine_rocksdb_is(e));
    ck_assert_int_eq(engine_revision(e), 1);
    ck_assert_uint_eq(engine_applied_index(e), 0);
    char p[4200];
    snprintf(p, sizeof(p), "%s/ENGINE", dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char buf[32] = {0};
    ck_assert_uint_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
    fclose(f);
    ck_assert_str_eq(buf, "rocksdb\n");
    ck_assert_uint_gt(engine_rocksdb_disk_bytes(e), 0);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(directory_of_another_engine_is_refused)
{
    char *dir = new_dir();
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    char p[4200];
    snprintf(p, sizeof(p), "%s/ENGINE", dir);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("memory\n", f);
    fclose(f);
    char msg[256] = {0};
    struct engine_rocksdb_options ro;
    memset(&ro, 0, sizeof(ro));
    ro.err_buf = msg;
    ro.err_buf_len = sizeof(msg);
    struct engine_options o = {0, dir};
    struct engine *e = NULL;
    ck_assert_int_eq(engine_rocksdb_open_ex(&o, &ro, &e), ENGINE_EINVAL);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(msg, "\"memory\" engine") != NULL, "%s", msg);
    struct engine_options none = {0, NULL};
    ck_assert_int_eq(engine_rocksdb_open(&none, &e), ENGINE_EINVAL);
    free_dir(dir);
}
END_TEST

START_TEST(second_open_of_same_directory_fails_while_locked)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    struct engine_options o = {0, dir};
    struct engine *e2 = NULL;
    ck_assert_int_eq(engine_rocksdb_open(&o, &e2), ENGINE_EIO);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(reopen_keeps_data_revisions_applied_index_and_compaction)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    put_s(e, 1, "a", "1");                                 /* rev 2 */
    put_s(e, 2, "a", "2");                                 /* 3 */
    put_s(e, 3, "b", "x");                                 /* 4 */
    ck_assert_int_eq(del_range(e, 4, "b", 1, NULL, 0), 1); /* 5 */
    put_s(e, 5, "c", "3");                                 /* 6 */
    ck_ok(engine_compact(e, 6, 3));
    ck_ok(engine_mark_applied(e, 9));
    struct engine_stats before;
    engine_stats(e, &before);
    char *d_before = dump(e, 4);
    engine_close(e);

    e = open_at(dir);
    ck_assert_int_eq(engine_revision(e), 6);
    ck_assert_uint_eq(engine_applied_index(e), 9);
    struct engine_stats after;
    engine_stats(e, &after);
    ck_assert_mem_eq(&before, &after, sizeof(before));
    char *d_after = dump(e, 4);
    ck_assert_str_eq(d_before, d_after);
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_range_req r;
    memset(&r, 0, sizeof(r));
    r.key = "a";
    r.key_len = 1;
    r.revision = 2;
    struct engine_range_result res;
    ck_assert_int_eq(engine_range(e, &r, &a, &res), ENGINE_ECOMPACTED);
    /* Writes go on from where they were. */
    ck_assert_int_eq(put_s(e, 10, "a", "3"), 7);
    engine_arena_free(&a);
    free(d_before);
    free(d_after);
    engine_close(e);
    free_dir(dir);
}
END_TEST

/* A child writes and exits without closing the database (no flush, no
 * clean shutdown): every write it finished is there after reopen, with the
 * applied index that came with it. */
START_TEST(writes_survive_a_crash_without_close)
{
    char *dir = new_dir();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct engine_options o = {0, dir};
        struct engine *e;
        if (engine_rocksdb_open(&o, &e) != 0)
            _exit(2);
        struct engine_arena a;
        engine_arena_init(&a);
        char k[32];
        for (int i = 0; i < 500; i++) {
            snprintf(k, sizeof(k), "key%04d", i);
            struct engine_put_req p = {k, strlen(k), k,     strlen(k),
                                       0, false,     false, false};
            struct engine_put_result pr;
            if (engine_put(e, (uint64_t)i + 1, &p, &a, &pr) != 0)
                _exit(3);
            engine_arena_reset(&a);
        }
        if (engine_mark_applied(e, 777) != 0)
            _exit(4);
        _exit(0); /* no engine_close */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    struct engine *e = open_at(dir);
    ck_assert_int_eq(engine_revision(e), 501);
    ck_assert_uint_eq(engine_applied_index(e), 777);
    struct engine_stats st;
    engine_stats(e, &st);
    ck_assert_uint_eq(st.keys, 500);
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_range_req r;
    memset(&r, 0, sizeof(r));
    r.key = "key0499";
    r.key_len = 7;
    struct engine_range_result res;
    ck_ok(engine_range(e, &r, &a, &res));
    ck_assert_int_eq(res.kvs_len, 1);
    ck_assert_int_eq(res.kvs[0].mod_revision, 501);
    engine_arena_free(&a);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(compression_options_open_and_parse)
{
    static const char *names[] = {"none", "snappy", "lz4", "zstd", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct engine_rocksdb_options ro;
        memset(&ro, 0, sizeof(ro));
        ck_ok(engine_rocksdb_parse_compression(names[i], &ro.compression));
        ro.block_cache_bytes = 1 << 20;
        ro.write_buffer_bytes = 1 << 20;
        ro.max_background_jobs = 1;
        char *dir = new_dir();
        struct engine_options o = {0, dir};
        struct engine *e;
        ck_ok(engine_rocksdb_open_ex(&o, &ro, &e));
        put_s(e, 1, "k", "compressible compressible compressible");
        engine_close(e);
        free_dir(dir);
    }
    enum engine_rocksdb_compression c;
    ck_assert_int_eq(engine_rocksdb_parse_compression("gzip", &c),
                     ENGINE_EINVAL);
}
END_TEST

/* ---- compaction in steps ------------------------------------------------ */

START_TEST(compaction_runs_in_bounded_steps_and_resumes_after_reopen)
{
    char *dir = new_dir();
    struct engine_rocksdb_options ro;
    memset(&ro, 0, sizeof(ro));
    ro.compact_budget = 50;
    struct engine_options o = {0, dir};
    struct engine *e;
    ck_ok(engine_rocksdb_open_ex(&o, &ro, &e));
    uint64_t idx = 0;
    char k[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(k, sizeof(k), "k%04d", i);
            put_s(e, ++idx, k, round == 0 ? "first" : "later");
        }
    }
    ck_assert_int_eq(del_range(e, ++idx, "k0100", 5, "k0200", 5), 100);
    int64_t crev = engine_revision(e);
    put_s(e, ++idx, "k0000", "after");
    char *want_now = dump(e, 0), *want_at = dump(e, crev);
    ck_ok(engine_compact(e, ++idx, crev));
    ck_assert(engine_rocksdb_compact_pending(e));
    struct engine_stats st;
    engine_stats(e, &st);
    ck_assert_int_eq(st.compact_revision, crev);
    ck_assert_uint_gt(st.revisions, 201);
    /* Reads are already as after a full compaction. */
    char *got = dump(e, crev);
    ck_assert_str_eq(got, want_at);
    free(got);
    ck_assert_int_eq(engine_rocksdb_compact_step(e, 50), 1);
    engine_close(e);

    ck_ok(engine_rocksdb_open_ex(&o, &ro, &e));
    ck_assert(engine_rocksdb_compact_pending(e));
    int steps = 0, rc;
    while ((rc = engine_rocksdb_compact_step(e, 50)) == 1)
        steps++;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_ge(steps, 2);
    ck_assert(!engine_rocksdb_compact_pending(e));
    engine_stats(e, &st);
    ck_assert_uint_eq(st.revisions, 201); /* 200 live + k0000's new put */
    ck_assert_uint_eq(st.keys, 200);
    got = dump(e, 0);
    ck_assert_str_eq(got, want_now);
    free(got);
    got = dump(e, crev);
    ck_assert_str_eq(got, want_at);
    free(got);
    free(want_now);
    free(want_at);
    engine_close(e);
    free_dir(dir);
}
END_TEST

/* ---- differential tests against the memory engine ----------------------- */

/* Keys over a small alphabet that includes 0x00 and 0xff, lengths 1..4, so
 * prefixes and escape sequences collide as much as they can. */
static size_t random_key(uint8_t *k)
{
    static const uint8_t alpha[] = {0x00, 0x01, 0xff, 'a', 0xfe};
    size_t n = 1 + rnd() % 4;
    for (size_t i = 0; i < n; i++)
        k[i] = alpha[rnd() % sizeof(alpha)];
    return n;
}

static void both_write(struct engine *m, struct engine *r, uint64_t idx)
{
    uint8_t k[8], end[8];
    size_t kl = random_key(k);
    struct engine_arena a;
    engine_arena_init(&a);
    uint64_t what = rnd() % 10;
    if (what < 6) {
        char v[16];
        snprintf(v, sizeof(v), "v%llu", (unsigned long long)(rnd() % 1000));
        struct engine_put_req p = {
            k, kl, v, strlen(v), (int64_t)(rnd() % 3), true, false, false};
        struct engine_put_result pm, pr;
        ck_ok(engine_put(m, idx, &p, &a, &pm));
        ck_ok(engine_put(r, idx, &p, &a, &pr));
        ck_assert_int_eq(pm.has_prev_kv, pr.has_prev_kv);
    } else {
        size_t el = what < 8 ? 0 : random_key(end);
        if (what == 9) {
            end[0] = 0;
            el = 1;
        }
        struct engine_delete_req d = {k, kl, end, el, true};
        struct engine_delete_result dm, dr;
        ck_ok(engine_delete_range(m, idx, &d, &a, &dm));
        ck_ok(engine_delete_range(r, idx, &d, &a, &dr));
        ck_assert_int_eq(dm.deleted, dr.deleted);
    }
    engine_arena_free(&a);
    ck_assert_int_eq(engine_revision(m), engine_revision(r));
}

static void both_ranges(struct engine *m, struct engine *r, int64_t rev)
{
    struct engine_arena a;
    engine_arena_init(&a);
    for (int i = 0; i < 4; i++) {
        uint8_t k[8], end[8];
        struct engine_range_req q;
        memset(&q, 0, sizeof(q));
        q.key = k;
        q.key_len = random_key(k);
        q.range_end = end;
        q.range_end_len = i == 0 ? 0 : random_key(end);
        q.revision = rev;
        q.limit = (int64_t)(rnd() % 3);
        q.sort_order = (enum engine_sort_order)(rnd() % 3);
        q.sort_target = (enum engine_sort_target)(rnd() % 5);
        struct engine_range_result x, y;
        ck_ok(engine_range(m, &q, &a, &x));
        ck_ok(engine_range(r, &q, &a, &y));
        ck_assert_int_eq(x.count, y.count);
        ck_assert_int_eq(x.more, y.more);
        ck_assert_uint_eq(x.kvs_len, y.kvs_len);
        for (size_t j = 0; j < x.kvs_len; j++) {
            ck_assert_uint_eq(x.kvs[j].key_len, y.kvs[j].key_len);
            ck_assert_mem_eq(x.kvs[j].key, y.kvs[j].key, x.kvs[j].key_len);
            ck_assert_int_eq(x.kvs[j].mod_revision, y.kvs[j].mod_revision);
        }
    }
    engine_arena_free(&a);
}

static void ck_same_snapshot(struct engine *m, struct engine *r)
{
    struct membuf bm = {0}, br = {0};
    ck_ok(engine_snapshot_save(m, membuf_write, &bm));
    ck_ok(engine_snapshot_save(r, membuf_write, &br));
    ck_assert_uint_eq(bm.len, br.len);
    ck_assert(memcmp(bm.data, br.data, bm.len) == 0);
    free(bm.data);
    free(br.data);
}

START_TEST(binary_keys_match_memory_engine_and_snapshots_are_identical)
{
    char *dir = new_dir();
    struct engine_rocksdb_options ro;
    memset(&ro, 0, sizeof(ro));
    ro.compact_budget = 3; /* leave compactions half done */
    struct engine_options o = {0, dir};
    struct engine *r, *m;
    ck_ok(engine_rocksdb_open_ex(&o, &ro, &r));
    ck_ok(engine_memory_open(NULL, &m));
    int64_t compact = 0;
    for (uint64_t idx = 1; idx <= 3000; idx++) {
        both_write(m, r, idx);
        if (idx % 25 == 0) {
            int64_t span = engine_revision(m) - compact + 1;
            int64_t rev = compact + (int64_t)(rnd() % (uint64_t)span);
            both_ranges(m, r, rev < 1 ? 0 : rev);
        }
        if (idx % 700 == 0) {
            compact = engine_revision(m) - (int64_t)(rnd() % 30);
            ck_ok(engine_compact(m, ++idx, compact));
            ck_ok(engine_compact(r, idx, compact));
            ck_same_snapshot(m, r); /* physical compaction still going */
        }
    }
    for (int64_t rev = compact; rev <= engine_revision(m); rev += 11)
        ck_same_dump(m, r, rev);
    ck_same_snapshot(m, r);
    while (engine_rocksdb_compact_step(r, 100) == 1)
        ;
    ck_same_snapshot(m, r);
    struct engine_stats sm, sr;
    engine_stats(m, &sm);
    engine_stats(r, &sr);
    ck_assert_uint_eq(sm.keys, sr.keys);
    ck_assert_uint_eq(sm.revisions, sr.revisions);
    engine_close(m);
    engine_close(r);
    free_dir(dir);
}
END_TEST

/* Txn ranges read the txn's own earlier writes through the write batch, in
 * both directions and every sort order, exactly as the memory engine does. */
START_TEST(txn_ranges_see_own_writes_like_memory_engine)
{
    char *dir = new_dir();
    struct engine *r = open_at(dir), *m;
    ck_ok(engine_memory_open(NULL, &m));
    uint64_t idx = 0;
    for (int i = 0; i < 400; i++)
        both_write(m, r, ++idx);
    struct engine_arena a;
    engine_arena_init(&a);
    for (int round = 0; round < 60; round++) {
        uint8_t k1[8], k2[8], s[8];
        size_t l1 = random_key(k1), l2 = random_key(k2);
        if (l1 == l2 && memcmp(k1, k2, l1) == 0)
            continue;
        struct engine_op ops[4];
        memset(ops, 0, sizeof(ops));
        ops[0].type = ENGINE_OP_PUT;
        ops[0].u.put.key = k1;
        ops[0].u.put.key_len = l1;
        ops[0].u.put.value = "txn";
        ops[0].u.put.value_len = 3;
        ops[0].u.put.prev_kv = true;
        ops[1].type = ENGINE_OP_DELETE;
        ops[1].u.del.key = k2;
        ops[1].u.del.key_len = l2;
        ops[1].u.del.prev_kv = true;
        for (int j = 2; j < 4; j++) {
            ops[j].type = ENGINE_OP_RANGE;
            ops[j].u.range.key = s;
            ops[j].u.range.key_len = random_key(s);
            ops[j].u.range.range_end = "\0";
            ops[j].u.range.range_end_len = 1;
            ops[j].u.range.sort_order = (enum engine_sort_order)(rnd() % 3);
            ops[j].u.range.sort_target = (enum engine_sort_target)(rnd() % 5);
            ops[j].u.range.limit = (int64_t)(rnd() % 4);
        }
        struct engine_compare c;
        memset(&c, 0, sizeof(c));
        c.key = k1;
        c.key_len = l1;
        c.target = ENGINE_CMP_VERSION;
        /* Mostly the success branch (always true), sometimes "k1 exists". */
        bool always = rnd() % 5 != 0;
        c.result = always ? ENGINE_CMP_LESS : ENGINE_CMP_GREATER;
        c.operand = always ? 1000 : 0;
        struct engine_txn_req t = {&c, 1, ops, 4, ops + 2, 2};
        struct engine_txn_result tm, tr;
        int rm = engine_txn(m, ++idx, &t, &a, &tm);
        int rr = engine_txn(r, idx, &t, &a, &tr);
        ck_assert_int_eq(rm, rr);
        if (rm != 0)
            continue;
        ck_assert_int_eq(tm.succeeded, tr.succeeded);
        ck_assert_int_eq(tm.revision, tr.revision);
        ck_assert_uint_eq(tm.results_len, tr.results_len);
        for (size_t j = 0; j < tm.results_len; j++) {
            if (tm.results[j].type != ENGINE_OP_RANGE)
                continue;
            const struct engine_range_result *x = &tm.results[j].u.range,
                                             *y = &tr.results[j].u.range;
            ck_assert_int_eq(x->count, y->count);
            ck_assert_uint_eq(x->kvs_len, y->kvs_len);
            for (size_t q = 0; q < x->kvs_len; q++) {
                ck_assert_uint_eq(x->kvs[q].key_len, y->kvs[q].key_len);
                ck_assert_mem_eq(x->kvs[q].key, y->kvs[q].key,
                                 x->kvs[q].key_len);
                ck_assert_int_eq(x->kvs[q].mod_revision,
                                 y->kvs[q].mod_revision);
                ck_assert_int_eq(x->kvs[q].version, y->kvs[q].version);
            }
        }
        engine_arena_reset(&a);
    }
    ck_same_dump(m, r, 0);
    ck_same_snapshot(m, r);
    engine_arena_free(&a);
    engine_close(m);
    engine_close(r);
    free_dir(dir);
}
END_TEST

START_TEST(restore_from_memory_snapshot_survives_reopen)
{
    struct engine *m;
    ck_ok(engine_memory_open(NULL, &m));
    uint64_t idx = 0;
    static const uint8_t bin[] = {0, 0xff, 0};
    put_kv(m, ++idx, bin, sizeof(bin), "binary");
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%02d", i % 20);
        put_s(m, ++idx, k, i % 2 ? "odd" : "even");
    }
    del_range(m, ++idx, "k05", 3, "k10", 3);
    ck_ok(engine_compact(m, ++idx, 30));
    put_s(m, ++idx, "k07", "back");
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(m, membuf_write, &buf));

    char *dir = new_dir();
    struct engine *r = open_at(dir);
    put_s(r, 1, "old", "state"); /* replaced by the restore */
    ck_ok(engine_snapshot_restore(r, membuf_read, &buf));
    for (int64_t rev = 30; rev <= engine_revision(m); rev++)
        ck_same_dump(m, r, rev);
    engine_close(r);
    r = open_at(dir); /* the switched column family is the live one */
    ck_assert_int_eq(engine_revision(r), engine_revision(m));
    ck_assert_uint_eq(engine_applied_index(r), engine_applied_index(m));
    for (int64_t rev = 30; rev <= engine_revision(m); rev++)
        ck_same_dump(m, r, rev);
    ck_same_snapshot(m, r);
    /* A second restore (kv.1 -> kv.2) works the same way. */
    buf.pos = 0;
    ck_ok(engine_snapshot_restore(r, membuf_read, &buf));
    engine_close(r);
    r = open_at(dir);
    ck_same_snapshot(m, r);
    put_s(r, engine_applied_index(r) + 1, "new", "write");
    ck_assert_int_eq(engine_revision(r), engine_revision(m) + 1);
    engine_close(r);
    engine_close(m);
    free(buf.data);
    free_dir(dir);
}
END_TEST

/* A restore that fails half way leaves the old state, also on disk. */
START_TEST(failed_restore_keeps_old_state_after_reopen)
{
    struct engine *m;
    ck_ok(engine_memory_open(NULL, &m));
    for (int i = 0; i < 100; i++) {
        char k[16];
        snprintf(k, sizeof(k), "m%03d", i);
        put_s(m, (uint64_t)i + 1, k, "memory");
    }
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(m, membuf_write, &buf));
    buf.data[buf.len - 3] ^= 0x40; /* checksum no longer matches */

    char *dir = new_dir();
    struct engine *r = open_at(dir);
    put_s(r, 1, "kept", "yes");
    char *before = dump(r, 0);
    ck_assert_int_eq(engine_snapshot_restore(r, membuf_read, &buf),
                     ENGINE_ECORRUPT);
    engine_close(r);
    r = open_at(dir);
    char *after = dump(r, 0);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(engine_applied_index(r), 1);
    free(before);
    free(after);
    engine_close(r);
    engine_close(m);
    free(buf.data);
    free_dir(dir);
}
END_TEST

/* ---- Raft log and hard state -------------------------------------------- */

static void append_terms(struct engine *e, raft_index first,
                         const raft_term *terms, size_t n, bool sync)
{
    struct raft_entry ents[16];
    char data[16][16];
    ck_assert_uint_le(n, 16);
    for (size_t i = 0; i < n; i++) {
        ents[i].index = first + i;
        ents[i].term = terms[i];
        ents[i].type = (uint32_t)(i % 2);
        snprintf(data[i], sizeof(data[i]), "e%llu-t%llu",
                 (unsigned long long)(first + i), (unsigned long long)terms[i]);
        ents[i].data = (uint8_t *)data[i];
        ents[i].len = (uint32_t)strlen(data[i]);
    }
    ck_ok(engine_rocksdb_log_append(e, ents, n, sync));
}

static void ck_entry(struct engine *e, raft_index i, raft_term t)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct raft_entry ent;
    ck_ok(engine_rocksdb_log_get(e, i, &a, &ent));
    ck_assert_uint_eq(ent.index, i);
    ck_assert_uint_eq(ent.term, t);
    char want[32];
    snprintf(want, sizeof(want), "e%llu-t%llu", (unsigned long long)i,
             (unsigned long long)t);
    ck_assert_uint_eq(ent.len, strlen(want));
    ck_assert_mem_eq(ent.data, want, ent.len);
    engine_arena_free(&a);
}

START_TEST(raft_log_append_overwrites_suffix_and_survives_reopen)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    raft_index first, last;
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 0);
    ck_assert_uint_eq(last, 0);
    static const raft_term t1[] = {1, 1, 1, 2, 2, 2};
    append_terms(e, 1, t1, 6, true);
    /* A new leader's entries from index 4 replace 4..6. */
    static const raft_term t3[] = {3, 3};
    append_terms(e, 4, t3, 2, true);
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 1);
    ck_assert_uint_eq(last, 5);
    struct engine_arena a;
    engine_arena_init(&a);
    struct raft_entry ent;
    ck_assert_int_eq(engine_rocksdb_log_get(e, 6, &a, &ent), ENGINE_ENOTFOUND);
    /* A gap after the last entry is refused and changes nothing. */
    ck_assert_int_eq(engine_rocksdb_log_append(e, &ent, 0, false), 0);
    struct raft_entry gap = {4, 9, 0, 0, NULL};
    ck_assert_int_eq(engine_rocksdb_log_append(e, &gap, 1, false),
                     ENGINE_EINVAL);
    engine_close(e);

    e = open_at(dir);
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 1);
    ck_assert_uint_eq(last, 5);
    ck_entry(e, 1, 1);
    ck_entry(e, 3, 1);
    ck_entry(e, 4, 3);
    ck_entry(e, 5, 3);
    ck_assert_int_eq(engine_rocksdb_log_get(e, 6, &a, &ent), ENGINE_ENOTFOUND);
    ck_assert_int_eq(engine_rocksdb_log_get(e, 0, &a, &ent), ENGINE_ENOTFOUND);
    engine_arena_free(&a);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(raft_log_truncates_prefix_and_suffix)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    static const raft_term t[] = {1, 1, 2, 2, 2, 3, 3, 3, 3, 4};
    append_terms(e, 1, t, 10, false);
    ck_ok(engine_rocksdb_log_truncate_prefix(e, 4, true));
    raft_index first, last;
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 5);
    ck_assert_uint_eq(last, 10);
    ck_ok(engine_rocksdb_log_truncate_suffix(e, 9, true));
    engine_close(e);
    e = open_at(dir);
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 5);
    ck_assert_uint_eq(last, 8);
    ck_entry(e, 5, 2);
    ck_entry(e, 8, 3);
    struct engine_arena a;
    engine_arena_init(&a);
    struct raft_entry ent;
    ck_assert_int_eq(engine_rocksdb_log_get(e, 4, &a, &ent), ENGINE_ENOTFOUND);
    /* Appending below the first index is refused; after dropping the
     * whole log (a snapshot past it) the log may restart anywhere. */
    static const raft_term t9[] = {9};
    struct raft_entry low = {9, 2, 0, 0, NULL};
    ck_assert_int_eq(engine_rocksdb_log_append(e, &low, 1, false),
                     ENGINE_EINVAL);
    ck_ok(engine_rocksdb_log_truncate_prefix(e, 100, true));
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(last, 0);
    append_terms(e, 101, t9, 1, true);
    engine_close(e);
    e = open_at(dir);
    engine_rocksdb_log_bounds(e, &first, &last);
    ck_assert_uint_eq(first, 101);
    ck_assert_uint_eq(last, 101);
    ck_entry(e, 101, 9);
    engine_arena_free(&a);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(hard_state_and_blobs_roundtrip_across_reopen)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    struct raft_hard_state hs;
    ck_assert_int_eq(engine_rocksdb_hard_state_load(e, &hs), ENGINE_ENOTFOUND);
    struct raft_hard_state w = {7, 3, 42};
    ck_ok(engine_rocksdb_hard_state_save(e, &w, true));
    w.commit = 43;
    ck_ok(engine_rocksdb_hard_state_save(e, &w, true));
    static const uint8_t blob[] = {1, 0, 2, 0, 3};
    ck_ok(engine_rocksdb_state_put(e, "snapshot", blob, sizeof(blob), true));
    ck_assert_int_eq(engine_rocksdb_state_put(e, "hardstate", blob, 1, false),
                     ENGINE_EINVAL);
    engine_close(e);
    e = open_at(dir);
    ck_ok(engine_rocksdb_hard_state_load(e, &hs));
    ck_assert_uint_eq(hs.term, 7);
    ck_assert_uint_eq(hs.vote, 3);
    ck_assert_uint_eq(hs.commit, 43);
    struct engine_arena a;
    engine_arena_init(&a);
    const void *v;
    size_t len;
    ck_ok(engine_rocksdb_state_get(e, "snapshot", &a, &v, &len));
    ck_assert_uint_eq(len, sizeof(blob));
    ck_assert_mem_eq(v, blob, len);
    ck_assert_int_eq(engine_rocksdb_state_get(e, "nothing", &a, &v, &len),
                     ENGINE_ENOTFOUND);
    /* The kv side is untouched by all this. */
    ck_assert_int_eq(engine_revision(e), 1);
    engine_arena_free(&a);
    engine_close(e);
    free_dir(dir);
}
END_TEST

START_TEST(aux_blob_is_written_with_the_next_applied_index)
{
    char *dir = new_dir();
    struct engine *e = open_at(dir);
    struct engine_arena a;
    engine_arena_init(&a);
    const void *v;
    size_t len;
    ck_assert_int_eq(engine_rocksdb_aux_get(e, &a, &v, &len),
                     ENGINE_ENOTFOUND);
    static const uint8_t one[] = {1, 2, 3}, two[] = {9, 8};
    ck_ok(engine_rocksdb_aux_stage(e, one, sizeof one));
    /* Staged only: nothing is written before a write records an index. */
    ck_assert_int_eq(engine_rocksdb_aux_get(e, &a, &v, &len),
                     ENGINE_ENOTFOUND);
    ck_ok(engine_mark_applied(e, 5));
    ck_ok(engine_rocksdb_aux_get(e, &a, &v, &len));
    ck_assert_uint_eq(len, sizeof one);
    ck_assert_mem_eq(v, one, len);
    /* The next stage goes out with a put, atomically with its index. */
    ck_ok(engine_rocksdb_aux_stage(e, two, sizeof two));
    put_kv(e, 6, "k", 1, "v");
    engine_close(e);
    e = open_at(dir);
    ck_assert_uint_eq(engine_applied_index(e), 6);
    ck_ok(engine_rocksdb_aux_get(e, &a, &v, &len));
    ck_assert_uint_eq(len, sizeof two);
    ck_assert_mem_eq(v, two, len);
    /* A stage that no write followed is lost with the process. */
    ck_ok(engine_rocksdb_aux_stage(e, one, sizeof one));
    engine_close(e);
    e = open_at(dir);
    ck_ok(engine_rocksdb_aux_get(e, &a, &v, &len));
    ck_assert_mem_eq(v, two, sizeof two);
    engine_arena_free(&a);
    engine_close(e);
    struct engine *m;
    ck_ok(engine_memory_open(NULL, &m));
    ck_assert_int_eq(engine_rocksdb_aux_stage(m, one, 1), ENGINE_EINVAL);
    engine_close(m);
    free_dir(dir);
}
END_TEST

START_TEST(rocksdb_functions_refuse_other_engines)
{
    struct engine *m;
    ck_ok(engine_memory_open(NULL, &m));
    ck_assert(!engine_rocksdb_is(m));
    ck_assert(!engine_rocksdb_compact_pending(m));
    ck_assert_int_eq(engine_rocksdb_compact_step(m, 10), ENGINE_EINVAL);
    struct raft_hard_state hs = {1, 1, 1};
    ck_assert_int_eq(engine_rocksdb_hard_state_save(m, &hs, false),
                     ENGINE_EINVAL);
    engine_close(m);
}
END_TEST

static Suite *rocks_suite(void)
{
    Suite *s = suite_create("rocksdb-engine");
    TCase *tc = tcase_create("persistence");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, open_creates_directory_and_marker);
    tcase_add_test(tc, directory_of_another_engine_is_refused);
    tcase_add_test(tc, second_open_of_same_directory_fails_while_locked);
    tcase_add_test(tc,
                   reopen_keeps_data_revisions_applied_index_and_compaction);
    tcase_add_test(tc, writes_survive_a_crash_without_close);
    tcase_add_test(tc, compression_options_open_and_parse);
    tcase_add_test(tc, rocksdb_functions_refuse_other_engines);
    suite_add_tcase(s, tc);
    tc = tcase_create("mvcc");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc,
                   compaction_runs_in_bounded_steps_and_resumes_after_reopen);
    tcase_add_test(tc,
                   binary_keys_match_memory_engine_and_snapshots_are_identical);
    tcase_add_test(tc, txn_ranges_see_own_writes_like_memory_engine);
    tcase_add_test(tc, restore_from_memory_snapshot_survives_reopen);
    tcase_add_test(tc, failed_restore_keeps_old_state_after_reopen);
    suite_add_tcase(s, tc);
    tc = tcase_create("raft");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, raft_log_append_overwrites_suffix_and_survives_reopen);
    tcase_add_test(tc, raft_log_truncates_prefix_and_suffix);
    tcase_add_test(tc, hard_state_and_blobs_roundtrip_across_reopen);
    tcase_add_test(tc, aux_blob_is_written_with_the_next_applied_index);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conformance_suite(&rocks_factory));
    srunner_add_suite(sr, rocks_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
