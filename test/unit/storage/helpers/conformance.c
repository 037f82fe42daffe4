/*
 * The engine conformance suite (see conformance.h): etcd v3 MVCC behaviour
 * checked through storage/engine.h only, so the same tests run on every
 * engine.  Each test gets a fresh engine, a result arena and a Raft applied
 * index that every write advances by one.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* realloc that fails the test instead of returning NULL. */
static void *grow(void *p, size_t n)
{
    void *q = realloc(p, n);
    ck_assert_ptr_nonnull(q);
    return q;
}

static const struct conformance_factory *factory;

static struct engine *E;
static struct engine_arena A;
static uint64_t IDX;

#define FROM_KEY "\0", 1 /* range_end meaning "every key from key on" */

/* ---- fixture and small helpers ------------------------------------------ */

static struct engine *eng_open(void)
{
    struct engine *e = NULL;
    int rc = factory->open(factory->ctx, &e);
    ck_assert_msg(rc == 0, "open: %s", engine_strerror(rc));
    ck_assert_ptr_nonnull(e);
    return e;
}

static void eng_close(struct engine *e)
{
    if (factory->close != NULL)
        factory->close(factory->ctx, e);
    else
        engine_close(e);
}

static void setup(void)
{
    E = eng_open();
    engine_arena_init(&A);
    IDX = 0;
}

static void teardown(void)
{
    engine_arena_free(&A);
    eng_close(E);
}

#define ck_ok(expr)                                                            \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        ck_assert_msg(rc_ == 0, "%s -> %s", #expr, engine_err_name(rc_));      \
    } while (0)

#define ck_err(expr, want)                                                     \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        ck_assert_msg(rc_ == (want), "%s -> %s, want %s", #expr,               \
                      engine_err_name(rc_), engine_err_name(want));            \
    } while (0)

static struct engine_put_req put_req(const void *k, size_t kl, const void *v,
                                     size_t vl)
{
    struct engine_put_req r;
    memset(&r, 0, sizeof(r));
    r.key = k;
    r.key_len = kl;
    r.value = v;
    r.value_len = vl;
    return r;
}

/* Puts and returns the revision of the put. */
static int64_t putb(const void *k, size_t kl, const void *v, size_t vl)
{
    struct engine_put_req r = put_req(k, kl, v, vl);
    struct engine_put_result res;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    return res.revision;
}

static int64_t put(const char *k, const char *v)
{
    return putb(k, strlen(k), v, strlen(v));
}

/* Deletes (key, end) and returns how many keys went. */
static int64_t delb(const void *k, size_t kl, const void *end, size_t el)
{
    struct engine_delete_req r;
    memset(&r, 0, sizeof(r));
    r.key = k;
    r.key_len = kl;
    r.range_end = end;
    r.range_end_len = el;
    struct engine_delete_result res;
    ck_ok(engine_delete_range(E, ++IDX, &r, &A, &res));
    return res.deleted;
}

static struct engine_range_req range_req(const void *k, size_t kl,
                                         const void *end, size_t el)
{
    struct engine_range_req r;
    memset(&r, 0, sizeof(r));
    r.key = k;
    r.key_len = kl;
    r.range_end = end;
    r.range_end_len = el;
    return r;
}

static struct engine_range_result do_range(const struct engine_range_req *r)
{
    struct engine_range_result res;
    ck_ok(engine_range(E, r, &A, &res));
    return res;
}

/* Reads one key at `rev` (0 = current); true when it exists. */
static bool get_at(const char *k, int64_t rev, struct engine_kv *kv)
{
    struct engine_range_req r = range_req(k, strlen(k), NULL, 0);
    r.revision = rev;
    struct engine_range_result res = do_range(&r);
    ck_assert_int_le(res.kvs_len, 1);
    ck_assert_int_eq(res.count, (int64_t)res.kvs_len);
    if (res.kvs_len == 0)
        return false;
    *kv = res.kvs[0];
    return true;
}

static bool get(const char *k, struct engine_kv *kv)
{
    return get_at(k, 0, kv);
}

static bool bytes_eq(const void *a, size_t al, const void *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void ck_kv(const struct engine_kv *kv, const char *k, const char *v)
{
    ck_assert_msg(bytes_eq(kv->key, kv->key_len, k, strlen(k)),
                  "key %.*s, want %s", (int)kv->key_len, kv->key, k);
    ck_assert_msg(bytes_eq(kv->value, kv->value_len, v, strlen(v)),
                  "value %.*s, want %s", (int)kv->value_len, kv->value, v);
}

/* The keys of a result, joined with ',' (for compact assertions). */
static const char *keys_of(const struct engine_range_result *r)
{
    static char buf[1024];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0;
         i < r->kvs_len && n + r->kvs[i].key_len + 2 < sizeof(buf); i++) {
        if (i > 0)
            buf[n++] = ',';
        memcpy(buf + n, r->kvs[i].key, r->kvs[i].key_len);
        n += r->kvs[i].key_len;
        buf[n] = 0;
    }
    return buf;
}

static const char *scan_keys(const char *k, const void *end, size_t el)
{
    struct engine_range_req r = range_req(k, strlen(k), end, el);
    struct engine_range_result res = do_range(&r);
    return keys_of(&res);
}

/* ---- basic put / get ---------------------------------------------------- */

START_TEST(empty_store_starts_at_revision_one)
{
    struct engine_stats st;
    engine_stats(E, &st);
    ck_assert_int_eq(st.revision, 1);
    ck_assert_int_eq(engine_revision(E), 1);
    ck_assert_int_eq(st.keys, 0);
    ck_assert_int_eq(st.compact_revision, 0);
    ck_assert_uint_eq(engine_applied_index(E), 0);
    struct engine_kv kv;
    ck_assert(!get("a", &kv));
}
END_TEST

START_TEST(put_get_roundtrip_reports_revisions)
{
    ck_assert_int_eq(put("foo", "bar"), 2);
    struct engine_kv kv;
    ck_assert(get("foo", &kv));
    ck_kv(&kv, "foo", "bar");
    ck_assert_int_eq(kv.create_revision, 2);
    ck_assert_int_eq(kv.mod_revision, 2);
    ck_assert_int_eq(kv.version, 1);
    ck_assert_int_eq(kv.lease, 0);
    ck_assert_int_eq(engine_revision(E), 2);
    ck_assert(!get("fo", &kv));
    ck_assert(!get("fooo", &kv));
}
END_TEST

START_TEST(overwrite_bumps_version_and_mod_not_create)
{
    put("k", "v1");
    put("other", "x");
    ck_assert_int_eq(put("k", "v2"), 4);
    struct engine_kv kv;
    ck_assert(get("k", &kv));
    ck_kv(&kv, "k", "v2");
    ck_assert_int_eq(kv.create_revision, 2);
    ck_assert_int_eq(kv.mod_revision, 4);
    ck_assert_int_eq(kv.version, 2);
}
END_TEST

START_TEST(delete_then_put_starts_new_generation)
{
    put("k", "v1");
    put("k", "v2");
    ck_assert_int_eq(delb("k", 1, NULL, 0), 1);
    ck_assert_int_eq(engine_revision(E), 4);
    struct engine_kv kv;
    ck_assert(!get("k", &kv));
    ck_assert_int_eq(put("k", "v3"), 5);
    ck_assert(get("k", &kv));
    ck_kv(&kv, "k", "v3");
    ck_assert_int_eq(kv.version, 1);
    ck_assert_int_eq(kv.create_revision, 5);
    ck_assert_int_eq(kv.mod_revision, 5);
}
END_TEST

START_TEST(put_stores_lease_and_ignore_flags_keep_old_fields)
{
    struct engine_put_req r = put_req("k", 1, "v", 1);
    r.lease = 42;
    struct engine_put_result res;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    struct engine_kv kv;
    ck_assert(get("k", &kv));
    ck_assert_int_eq(kv.lease, 42);

    r = put_req("k", 1, NULL, 0);
    r.ignore_value = true;
    r.lease = 7;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    ck_assert(get("k", &kv));
    ck_kv(&kv, "k", "v");
    ck_assert_int_eq(kv.lease, 7);
    ck_assert_int_eq(kv.version, 2);

    r = put_req("k", 1, "w", 1);
    r.ignore_lease = true;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    ck_assert(get("k", &kv));
    ck_kv(&kv, "k", "w");
    ck_assert_int_eq(kv.lease, 7);

    r = put_req("missing", 7, NULL, 0);
    r.ignore_value = true;
    ck_err(engine_put(E, ++IDX, &r, &A, &res), ENGINE_ENOTFOUND);
    ck_assert_int_eq(engine_revision(E), 4);
}
END_TEST

START_TEST(put_prev_kv_returns_previous)
{
    struct engine_put_req r = put_req("k", 1, "v1", 2);
    r.prev_kv = true;
    struct engine_put_result res;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    ck_assert(!res.has_prev_kv);
    r.value = "v2";
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    ck_assert(res.has_prev_kv);
    ck_kv(&res.prev_kv, "k", "v1");
    ck_assert_int_eq(res.prev_kv.mod_revision, 2);
    ck_assert_int_eq(res.prev_kv.version, 1);
    ck_assert_int_eq(res.revision, 3);
    /* The previous kv is a copy: it survives later writes. */
    put("k", "v3");
    ck_kv(&res.prev_kv, "k", "v1");
}
END_TEST

START_TEST(binary_keys_with_nul_bytes)
{
    static const uint8_t k1[] = {'a', 0, 'b'};
    static const uint8_t k2[] = {'a', 0};
    static const uint8_t k3[] = {'a'};
    static const uint8_t v[] = {0, 1, 0, 2};
    putb(k1, sizeof(k1), v, sizeof(v));
    putb(k2, sizeof(k2), "two", 3);
    putb(k3, sizeof(k3), "one", 3);
    struct engine_range_req r = range_req(k2, sizeof(k2), NULL, 0);
    struct engine_range_result res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 1);
    ck_assert(bytes_eq(res.kvs[0].value, res.kvs[0].value_len, "two", 3));
    r = range_req(k1, sizeof(k1), NULL, 0);
    res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 1);
    ck_assert(bytes_eq(res.kvs[0].value, res.kvs[0].value_len, v, sizeof(v)));
    /* Order: "a" < "a\0" < "a\0b". */
    r = range_req("a", 1, "b", 1);
    res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 3);
    ck_assert(bytes_eq(res.kvs[0].key, res.kvs[0].key_len, k3, sizeof(k3)));
    ck_assert(bytes_eq(res.kvs[1].key, res.kvs[1].key_len, k2, sizeof(k2)));
    ck_assert(bytes_eq(res.kvs[2].key, res.kvs[2].key_len, k1, sizeof(k1)));
    /* [a\0, a\0b) holds exactly "a\0". */
    r = range_req(k2, sizeof(k2), k1, sizeof(k1));
    res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 1);
    ck_assert(bytes_eq(res.kvs[0].key, res.kvs[0].key_len, k2, sizeof(k2)));
}
END_TEST

START_TEST(empty_value_allowed)
{
    put("k", "");
    struct engine_kv kv;
    ck_assert(get("k", &kv));
    ck_assert_int_eq(kv.value_len, 0);
    ck_assert_ptr_nonnull(kv.value);
    ck_assert_int_eq(kv.version, 1);
}
END_TEST

START_TEST(empty_key_and_bad_arguments_rejected)
{
    struct engine_put_req p = put_req("", 0, "v", 1);
    struct engine_put_result pr;
    ck_err(engine_put(E, ++IDX, &p, &A, &pr), ENGINE_EINVAL);
    struct engine_range_req r = range_req("", 0, NULL, 0);
    struct engine_range_result rr;
    ck_err(engine_range(E, &r, &A, &rr), ENGINE_EINVAL);
    r = range_req("a", 1, NULL, 0);
    r.limit = -1;
    ck_err(engine_range(E, &r, &A, &rr), ENGINE_EINVAL);
    r.limit = 0;
    r.sort_target = (enum engine_sort_target)99;
    ck_err(engine_range(E, &r, &A, &rr), ENGINE_EINVAL);
    ck_assert_int_eq(engine_revision(E), 1);
    /* A rejected write still consumed its entry. */
    ck_assert_uint_eq(engine_applied_index(E), IDX);
}
END_TEST

/* ---- ranges ------------------------------------------------------------- */

static void put_abcde(void)
{
    put("a", "1");
    put("b", "2");
    put("c", "3");
    put("d", "4");
    put("e", "5");
}

START_TEST(range_half_open_interval)
{
    put_abcde();
    ck_assert_str_eq(scan_keys("b", "d", 1), "b,c");
    ck_assert_str_eq(scan_keys("a", "b", 1), "a");
    ck_assert_str_eq(scan_keys("bb", "cc", 2), "c");
    ck_assert_str_eq(scan_keys("d", "b", 1), ""); /* end <= key: empty */
    ck_assert_str_eq(scan_keys("c", "c", 1), "");
    ck_assert_str_eq(scan_keys("x", "z", 1), "");
}
END_TEST

START_TEST(range_prefix)
{
    put("app/a", "1");
    put("app/b", "2");
    put("app", "0");
    put("apq", "3");
    put("ap", "4");
    uint8_t end[16];
    size_t el = engine_prefix_end("app/", 4, end);
    ck_assert_str_eq(scan_keys("app/", end, el), "app/a,app/b");
    el = engine_prefix_end("app", 3, end);
    ck_assert_str_eq(scan_keys("app", end, el), "app,app/a,app/b");
    static const uint8_t ff[] = {0xff, 0xff};
    ck_assert_int_eq(engine_prefix_end(ff, 2, end), 1);
    ck_assert_int_eq(end[0], 0);
}
END_TEST

START_TEST(range_from_key_with_nul_end)
{
    put_abcde();
    ck_assert_str_eq(scan_keys("c", FROM_KEY), "c,d,e");
    struct engine_range_req r = range_req("\0", 1, FROM_KEY);
    struct engine_range_result res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,b,c,d,e");
    ck_assert_str_eq(scan_keys("f", FROM_KEY), "");
}
END_TEST

START_TEST(range_limit_sets_more_and_total_count)
{
    put_abcde();
    struct engine_range_req r = range_req("a", 1, FROM_KEY);
    r.limit = 2;
    struct engine_range_result res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,b");
    ck_assert_int_eq(res.count, 5);
    ck_assert(res.more);
    r.limit = 5;
    res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 5);
    ck_assert(!res.more);
    r.limit = 0;
    res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 5);
    ck_assert(!res.more);
    ck_assert_int_eq(res.revision, 6);
}
END_TEST

START_TEST(range_count_only_returns_no_kvs)
{
    put_abcde();
    delb("c", 1, NULL, 0);
    struct engine_range_req r = range_req("a", 1, "e", 1);
    r.count_only = true;
    r.limit = 1;
    struct engine_range_result res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 0);
    ck_assert_int_eq(res.count, 3);
    ck_assert(!res.more);
}
END_TEST

START_TEST(range_keys_only_omits_values)
{
    put_abcde();
    struct engine_range_req r = range_req("a", 1, "c", 1);
    r.keys_only = true;
    struct engine_range_result res = do_range(&r);
    ck_assert_int_eq(res.kvs_len, 2);
    ck_assert_int_eq(res.kvs[0].value_len, 0);
    ck_assert_int_eq(res.kvs[1].value_len, 0);
    ck_assert_int_eq(res.kvs[1].mod_revision, 3);
    ck_assert_str_eq(keys_of(&res), "a,b");
}
END_TEST

START_TEST(range_sort_descending_by_key)
{
    put_abcde();
    struct engine_range_req r = range_req("b", 1, FROM_KEY);
    r.sort_order = ENGINE_SORT_DESCEND;
    struct engine_range_result res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "e,d,c,b");
    r.limit = 2;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "e,d");
    ck_assert(res.more);
    ck_assert_int_eq(res.count, 4);
    r = range_req("a", 1, "d", 1);
    r.sort_order = ENGINE_SORT_DESCEND;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "c,b,a");
}
END_TEST

START_TEST(range_sort_by_mod_create_version_value)
{
    put("a", "z");
    put("b", "y");
    put("c", "x");
    put("a", "w"); /* a: mod 5, version 2 */
    struct engine_range_req r = range_req("a", 1, FROM_KEY);
    r.sort_target = ENGINE_SORT_MOD;
    r.sort_order = ENGINE_SORT_DESCEND;
    struct engine_range_result res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,c,b");
    r.sort_order = ENGINE_SORT_NONE; /* non-key target: ascending */
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "b,c,a");
    r.sort_target = ENGINE_SORT_CREATE;
    r.sort_order = ENGINE_SORT_ASCEND;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,b,c");
    r.sort_target = ENGINE_SORT_VALUE;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,c,b");
    r.sort_target = ENGINE_SORT_VERSION;
    r.sort_order = ENGINE_SORT_DESCEND;
    r.limit = 1;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a");
    ck_assert(res.more);
    ck_assert_int_eq(res.count, 3);
}
END_TEST

/* ---- revisions and compaction ------------------------------------------- */

START_TEST(read_at_old_revision_sees_old_state)
{
    put("k", "v1");        /* 2 */
    put("k", "v2");        /* 3 */
    put("j", "x");         /* 4 */
    delb("k", 1, NULL, 0); /* 5 */
    struct engine_kv kv;
    ck_assert(get_at("k", 2, &kv));
    ck_kv(&kv, "k", "v1");
    ck_assert_int_eq(kv.version, 1);
    ck_assert(get_at("k", 4, &kv));
    ck_kv(&kv, "k", "v2");
    ck_assert_int_eq(kv.version, 2);
    ck_assert(!get_at("k", 5, &kv));
    ck_assert(!get_at("k", 1, &kv));
    ck_assert(!get_at("j", 3, &kv));
    struct engine_range_req r = range_req("a", 1, FROM_KEY);
    r.revision = 3;
    struct engine_range_result res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "k");
    ck_assert_int_eq(res.revision, 5); /* header: the current revision */
}
END_TEST

START_TEST(read_future_revision_fails)
{
    put("k", "v");
    struct engine_range_req r = range_req("k", 1, NULL, 0);
    struct engine_range_result res;
    r.revision = 3;
    ck_err(engine_range(E, &r, &A, &res), ENGINE_EFUTURE_REV);
    r.revision = 2;
    ck_ok(engine_range(E, &r, &A, &res));
}
END_TEST

START_TEST(compaction_rejects_older_revisions_keeps_current_data)
{
    put("a", "1");         /* 2 */
    put("a", "2");         /* 3 */
    put("b", "1");         /* 4 */
    delb("b", 1, NULL, 0); /* 5 */
    put("c", "1");         /* 6 */
    ck_ok(engine_compact(E, ++IDX, 5));
    struct engine_stats st;
    engine_stats(E, &st);
    ck_assert_int_eq(st.compact_revision, 5);
    ck_assert_int_eq(st.revision, 6);
    struct engine_range_req r = range_req("a", 1, FROM_KEY);
    struct engine_range_result res;
    r.revision = 4;
    ck_err(engine_range(E, &r, &A, &res), ENGINE_ECOMPACTED);
    r.revision = 5; /* the compact revision itself stays readable */
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a");
    ck_kv(&res.kvs[0], "a", "2");
    ck_assert_int_eq(res.kvs[0].create_revision, 2);
    ck_assert_int_eq(res.kvs[0].version, 2);
    r.revision = 0;
    res = do_range(&r);
    ck_assert_str_eq(keys_of(&res), "a,c");
    /* Writes go on from the same revision. */
    ck_assert_int_eq(put("a", "3"), 7);
    struct engine_kv kv;
    ck_assert(get("a", &kv));
    ck_assert_int_eq(kv.version, 3);
    ck_assert_int_eq(kv.create_revision, 2);
}
END_TEST

START_TEST(compaction_frees_old_versions)
{
    for (int i = 0; i < 100; i++)
        put("k", "some value that takes room");
    put("gone", "x");
    delb("gone", 4, NULL, 0);
    struct engine_stats before, after;
    engine_stats(E, &before);
    ck_assert_uint_ge(before.revisions, 102);
    ck_ok(engine_compact(E, ++IDX, engine_revision(E)));
    engine_stats(E, &after);
    ck_assert_uint_eq(after.revisions, 1);
    ck_assert_uint_eq(after.keys, 1);
    ck_assert_uint_lt(after.approx_bytes, before.approx_bytes);
    struct engine_kv kv;
    ck_assert(get("k", &kv));
    ck_assert_int_eq(kv.version, 100);
}
END_TEST

START_TEST(compact_beyond_current_or_twice_fails)
{
    put("k", "v");
    ck_err(engine_compact(E, ++IDX, 3), ENGINE_EFUTURE_REV);
    ck_ok(engine_compact(E, ++IDX, 2));
    ck_err(engine_compact(E, ++IDX, 2), ENGINE_ECOMPACTED);
    ck_err(engine_compact(E, ++IDX, 1), ENGINE_ECOMPACTED);
    ck_assert_uint_eq(engine_applied_index(E), IDX);
    ck_assert_int_eq(engine_revision(E), 2);
}
END_TEST

/* ---- delete ------------------------------------------------------------- */

START_TEST(delete_range_counts_and_returns_prev_kvs)
{
    put_abcde();
    struct engine_delete_req d;
    memset(&d, 0, sizeof(d));
    d.key = "b";
    d.key_len = 1;
    d.range_end = "d";
    d.range_end_len = 1;
    d.prev_kv = true;
    struct engine_delete_result res;
    ck_ok(engine_delete_range(E, ++IDX, &d, &A, &res));
    ck_assert_int_eq(res.deleted, 2);
    ck_assert_int_eq(res.revision, 7);
    ck_assert_int_eq(res.prev_kvs_len, 2);
    ck_kv(&res.prev_kvs[0], "b", "2");
    ck_kv(&res.prev_kvs[1], "c", "3");
    ck_assert_int_eq(res.prev_kvs[1].mod_revision, 4);
    ck_assert_str_eq(scan_keys("a", FROM_KEY), "a,d,e");
    ck_assert_int_eq(delb("a", 1, FROM_KEY), 3);
    ck_assert_str_eq(scan_keys("a", FROM_KEY), "");
    struct engine_stats st;
    engine_stats(E, &st);
    ck_assert_uint_eq(st.keys, 0);
}
END_TEST

START_TEST(delete_nothing_keeps_revision)
{
    put("a", "1");
    struct engine_delete_req d;
    memset(&d, 0, sizeof(d));
    d.key = "zz";
    d.key_len = 2;
    struct engine_delete_result res;
    ck_ok(engine_delete_range(E, ++IDX, &d, &A, &res));
    ck_assert_int_eq(res.deleted, 0);
    ck_assert_int_eq(res.revision, 2);
    ck_assert_int_eq(engine_revision(E), 2);
    ck_assert_int_eq(delb("a", 1, NULL, 0), 1);
    ck_assert_int_eq(delb("a", 1, NULL, 0), 0); /* already gone */
    ck_assert_int_eq(engine_revision(E), 3);
}
END_TEST

/* ---- txn ---------------------------------------------------------------- */

static struct engine_compare cmp_value(const char *k, enum engine_cmp_result r,
                                       const char *v)
{
    struct engine_compare c;
    memset(&c, 0, sizeof(c));
    c.key = k;
    c.key_len = strlen(k);
    c.target = ENGINE_CMP_VALUE;
    c.result = r;
    c.value = v;
    c.value_len = strlen(v);
    return c;
}

static struct engine_compare cmp_int(const char *k, enum engine_cmp_target t,
                                     enum engine_cmp_result r, int64_t x)
{
    struct engine_compare c;
    memset(&c, 0, sizeof(c));
    c.key = k;
    c.key_len = strlen(k);
    c.target = t;
    c.result = r;
    c.operand = x;
    return c;
}

static struct engine_op op_put(const char *k, const char *v)
{
    struct engine_op op;
    memset(&op, 0, sizeof(op));
    op.type = ENGINE_OP_PUT;
    op.u.put = put_req(k, strlen(k), v, strlen(v));
    return op;
}

static struct engine_op op_get(const char *k)
{
    struct engine_op op;
    memset(&op, 0, sizeof(op));
    op.type = ENGINE_OP_RANGE;
    op.u.range = range_req(k, strlen(k), NULL, 0);
    return op;
}

static struct engine_op op_del(const char *k, const void *end, size_t el)
{
    struct engine_op op;
    memset(&op, 0, sizeof(op));
    op.type = ENGINE_OP_DELETE;
    op.u.del.key = k;
    op.u.del.key_len = strlen(k);
    op.u.del.range_end = end;
    op.u.del.range_end_len = el;
    return op;
}

/* Runs "if c then put(k, "yes") else put(k, "no")"; true when the success
 * branch ran (checked against what was written). */
static bool txn_if(const struct engine_compare *c)
{
    struct engine_op ok = op_put("outcome", "yes");
    struct engine_op ko = op_put("outcome", "no");
    struct engine_txn_req t = {c, 1, &ok, 1, &ko, 1};
    struct engine_txn_result res;
    ck_ok(engine_txn(E, ++IDX, &t, &A, &res));
    struct engine_kv kv;
    ck_assert(get("outcome", &kv));
    ck_assert(bytes_eq(kv.value, kv.value_len, res.succeeded ? "yes" : "no",
                       res.succeeded ? 3 : 2));
    ck_assert_int_eq(res.results_len, 1);
    return res.succeeded;
}

START_TEST(txn_compare_value_chooses_branch)
{
    put("k", "m");
    struct engine_compare c = cmp_value("k", ENGINE_CMP_EQUAL, "m");
    ck_assert(txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_EQUAL, "n");
    ck_assert(!txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_NOT_EQUAL, "n");
    ck_assert(txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_NOT_EQUAL, "m");
    ck_assert(!txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_LESS, "n");
    ck_assert(txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_LESS, "m");
    ck_assert(!txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_GREATER, "l");
    ck_assert(txn_if(&c));
    c = cmp_value("k", ENGINE_CMP_GREATER, "mm");
    ck_assert(!txn_if(&c));
    /* A missing key has no value to compare: always false. */
    c = cmp_value("missing", ENGINE_CMP_NOT_EQUAL, "x");
    ck_assert(!txn_if(&c));
}
END_TEST

START_TEST(txn_compare_version_create_mod)
{
    put("k", "1"); /* 2 */
    put("k", "2"); /* 3: version 2, create 2, mod 3 */
    struct engine_compare c;
    c = cmp_int("k", ENGINE_CMP_VERSION, ENGINE_CMP_EQUAL, 2);
    ck_assert(txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_VERSION, ENGINE_CMP_GREATER, 2);
    ck_assert(!txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_CREATE, ENGINE_CMP_EQUAL, 2);
    ck_assert(txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_CREATE, ENGINE_CMP_LESS, 2);
    ck_assert(!txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_MOD, ENGINE_CMP_EQUAL, 3);
    ck_assert(txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_MOD, ENGINE_CMP_NOT_EQUAL, 3);
    ck_assert(!txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_MOD, ENGINE_CMP_LESS, 4);
    ck_assert(txn_if(&c));
    c = cmp_int("k", ENGINE_CMP_LEASE, ENGINE_CMP_EQUAL, 0);
    ck_assert(txn_if(&c));
    /* Missing key: version, create and mod are 0 (etcd's "key absent"). */
    c = cmp_int("nokey", ENGINE_CMP_CREATE, ENGINE_CMP_EQUAL, 0);
    ck_assert(txn_if(&c));
    c = cmp_int("nokey", ENGINE_CMP_VERSION, ENGINE_CMP_GREATER, 0);
    ck_assert(!txn_if(&c));
}
END_TEST

START_TEST(txn_compare_over_range_needs_every_key)
{
    put("p/a", "1");
    put("p/b", "1");
    put("p/b", "2");
    struct engine_compare c =
        cmp_int("p/", ENGINE_CMP_VERSION, ENGINE_CMP_EQUAL, 1);
    c.range_end = "p0";
    c.range_end_len = 2;
    ck_assert(!txn_if(&c));
    c.result = ENGINE_CMP_GREATER;
    c.operand = 0;
    ck_assert(txn_if(&c));
    c.key = "q/";
    c.range_end = "q0";
    c.result = ENGINE_CMP_EQUAL; /* empty range: judged as a missing key */
    ck_assert(txn_if(&c));
}
END_TEST

START_TEST(txn_writes_share_one_revision)
{
    put("x", "0"); /* 2 */
    struct engine_op ops[4] = {op_put("a", "1"), op_put("b", "2"),
                               op_del("x", NULL, 0), op_get("a")};
    struct engine_txn_req t = {NULL, 0, ops, 4, NULL, 0};
    struct engine_txn_result res;
    ck_ok(engine_txn(E, ++IDX, &t, &A, &res));
    ck_assert(res.succeeded);
    ck_assert_int_eq(res.revision, 3);
    ck_assert_int_eq(engine_revision(E), 3);
    ck_assert_int_eq(res.results_len, 4);
    ck_assert_int_eq(res.results[0].type, ENGINE_OP_PUT);
    ck_assert_int_eq(res.results[0].u.put.revision, 3);
    ck_assert_int_eq(res.results[2].u.del.deleted, 1);
    /* A range inside the txn sees the txn's own earlier writes. */
    ck_assert_int_eq(res.results[3].u.range.kvs_len, 1);
    ck_kv(&res.results[3].u.range.kvs[0], "a", "1");
    ck_assert_int_eq(res.results[3].u.range.kvs[0].mod_revision, 3);
    struct engine_kv kv;
    ck_assert(get("a", &kv));
    ck_assert_int_eq(kv.mod_revision, 3);
    ck_assert(get("b", &kv));
    ck_assert_int_eq(kv.mod_revision, 3);
    ck_assert(!get("x", &kv));
    ck_assert(get_at("x", 2, &kv));
}
END_TEST

START_TEST(txn_without_writes_keeps_revision)
{
    put("a", "1");
    struct engine_op ops[2] = {op_get("a"), op_del("nothing", NULL, 0)};
    struct engine_txn_req t = {NULL, 0, ops, 2, NULL, 0};
    struct engine_txn_result res;
    ck_ok(engine_txn(E, ++IDX, &t, &A, &res));
    ck_assert_int_eq(res.revision, 2);
    ck_assert_int_eq(engine_revision(E), 2);
    ck_assert_uint_eq(engine_applied_index(E), IDX);
    ck_kv(&res.results[0].u.range.kvs[0], "a", "1");
}
END_TEST

START_TEST(txn_rejects_duplicate_keys_and_too_many_ops)
{
    struct engine_op dup[2] = {op_put("a", "1"), op_put("a", "2")};
    struct engine_txn_req t = {NULL, 0, dup, 2, NULL, 0};
    struct engine_txn_result res;
    ck_err(engine_txn(E, ++IDX, &t, &A, &res), ENGINE_EDUPKEY);
    struct engine_op in_del[2] = {op_put("b", "1"), op_del("a", "c", 1)};
    t.success = in_del;
    ck_err(engine_txn(E, ++IDX, &t, &A, &res), ENGINE_EDUPKEY);
    /* Also checked in the branch that does not run. */
    struct engine_op fine = op_put("z", "1");
    struct engine_txn_req t2 = {NULL, 0, &fine, 1, dup, 2};
    ck_err(engine_txn(E, ++IDX, &t2, &A, &res), ENGINE_EDUPKEY);
    ck_assert_int_eq(engine_revision(E), 1);
    struct engine_op *many = calloc(E->max_txn_ops + 1, sizeof(*many));
    char(*keys)[16] = calloc(E->max_txn_ops + 1, sizeof(*keys));
    for (int i = 0; i <= E->max_txn_ops; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        many[i] = op_put(keys[i], "v");
    }
    struct engine_txn_req t3 = {NULL, 0, many, (size_t)E->max_txn_ops + 1,
                                NULL, 0};
    ck_err(engine_txn(E, ++IDX, &t3, &A, &res), ENGINE_ETOOMANYOPS);
    t3.success_len--;
    ck_ok(engine_txn(E, ++IDX, &t3, &A, &res));
    ck_assert_int_eq(engine_revision(E), 2);
    free(many);
    free(keys);
}
END_TEST

START_TEST(txn_range_at_compacted_revision_fails_without_writing)
{
    put("a", "1");
    put("a", "2");
    ck_ok(engine_compact(E, ++IDX, 3));
    struct engine_op ops[2] = {op_put("b", "1"), op_get("a")};
    ops[1].u.range.revision = 2;
    struct engine_txn_req t = {NULL, 0, ops, 2, NULL, 0};
    struct engine_txn_result res;
    ck_err(engine_txn(E, ++IDX, &t, &A, &res), ENGINE_ECOMPACTED);
    struct engine_kv kv;
    ck_assert(!get("b", &kv));
    ck_assert_int_eq(engine_revision(E), 3);
    ck_assert_uint_eq(engine_applied_index(E), IDX);
}
END_TEST

/* ---- applied index ------------------------------------------------------ */

START_TEST(applied_index_persisted_with_writes_unchanged_by_reads)
{
    struct engine_put_req p = put_req("k", 1, "v", 1);
    struct engine_put_result pr;
    ck_ok(engine_put(E, 10, &p, &A, &pr));
    ck_assert_uint_eq(engine_applied_index(E), 10);
    struct engine_kv kv;
    ck_assert(get("k", &kv));
    ck_assert_uint_eq(engine_applied_index(E), 10);
    ck_ok(engine_mark_applied(E, 12)); /* an entry with no kv write */
    ck_assert_uint_eq(engine_applied_index(E), 12);
    ck_assert_int_eq(engine_revision(E), 2);
    /* Going back is refused and changes nothing. */
    ck_err(engine_put(E, 11, &p, &A, &pr), ENGINE_EINDEX);
    ck_assert_uint_eq(engine_applied_index(E), 12);
    ck_assert_int_eq(engine_revision(E), 2);
    struct engine_delete_req d;
    memset(&d, 0, sizeof(d));
    d.key = "none";
    d.key_len = 4;
    struct engine_delete_result dr;
    ck_ok(engine_delete_range(E, 13, &d, &A, &dr));
    ck_assert_uint_eq(engine_applied_index(E), 13);
    struct engine_stats st;
    engine_stats(E, &st);
    ck_assert_uint_eq(st.applied_index, 13);
}
END_TEST

/* ---- snapshots ---------------------------------------------------------- */

struct membuf {
    uint8_t *data;
    size_t len, cap;
    size_t pos;       /* reader */
    size_t piece;     /* reader hands out at most this much per call */
    size_t max_write; /* largest piece the writer was given */
    size_t writes;
};

static int membuf_write(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (len > m->max_write)
        m->max_write = len;
    m->writes++;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->len + len)
            cap *= 2;
        m->data = grow(m->data, cap);
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
    if (m->piece > 0 && n > m->piece)
        n = m->piece;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

/* Every kv visible at `rev` over the whole key space, as a string. */
static char *dump_at(struct engine *e, int64_t rev)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_range_req r = range_req("\0", 1, FROM_KEY);
    r.revision = rev;
    struct engine_range_result res;
    ck_ok(engine_range(e, &r, &a, &res));
    size_t cap = 64, n = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < res.kvs_len; i++) {
        const struct engine_kv *kv = &res.kvs[i];
        size_t need = kv->key_len + kv->value_len + 128;
        if (n + need >= cap) {
            cap = (n + need) * 2;
            s = grow(s, cap);
            ck_assert_ptr_nonnull(s);
        }
        memcpy(s + n, kv->key, kv->key_len);
        n += kv->key_len;
        s[n++] = '=';
        memcpy(s + n, kv->value, kv->value_len);
        n += kv->value_len;
        n += (size_t)snprintf(s + n, cap - n, "@%lld/%lld/%lld/%lld;",
                              (long long)kv->create_revision,
                              (long long)kv->mod_revision,
                              (long long)kv->version, (long long)kv->lease);
    }
    s[n] = 0;
    engine_arena_free(&a);
    return s;
}

static void ck_same_state(struct engine *x, struct engine *y, int64_t from)
{
    ck_assert_int_eq(engine_revision(x), engine_revision(y));
    ck_assert_uint_eq(engine_applied_index(x), engine_applied_index(y));
    struct engine_stats sx, sy;
    engine_stats(x, &sx);
    engine_stats(y, &sy);
    ck_assert_int_eq(sx.compact_revision, sy.compact_revision);
    ck_assert_uint_eq(sx.keys, sy.keys);
    for (int64_t rev = from; rev <= engine_revision(x); rev++) {
        char *a = dump_at(x, rev), *b = dump_at(y, rev);
        ck_assert_msg(strcmp(a, b) == 0, "rev %lld differs", (long long)rev);
        free(a);
        free(b);
    }
}

static void build_history(void)
{
    static const uint8_t bin[] = {0, 'x', 0};
    put_abcde();
    put("a", "again");
    delb("b", 1, "d", 1);
    putb(bin, sizeof(bin), "", 0);
    struct engine_put_req p = put_req("leased", 6, "v", 1);
    p.lease = 99;
    struct engine_put_result pr;
    ck_ok(engine_put(E, ++IDX, &p, &A, &pr));
    ck_ok(engine_compact(E, ++IDX, 7));
    put("c", "reborn");
    put("e", "5b");
    ck_ok(engine_mark_applied(E, IDX + 5));
    IDX += 5;
}

START_TEST(snapshot_restore_reproduces_state)
{
    build_history();
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(E, membuf_write, &buf));
    struct engine *copy = eng_open();
    buf.piece = 7; /* reads that split every field */
    ck_ok(engine_snapshot_restore(copy, membuf_read, &buf));
    ck_same_state(E, copy, 7);
    struct engine_range_req r = range_req("a", 1, NULL, 0);
    r.revision = 6;
    struct engine_range_result res;
    ck_err(engine_range(copy, &r, &A, &res), ENGINE_ECOMPACTED);
    /* The restored engine goes on exactly like the original. */
    struct engine *orig = E;
    put("after", "1");
    E = copy;
    IDX--;
    put("after", "1");
    E = orig;
    ck_same_state(E, copy, 7);
    eng_close(copy);
    free(buf.data);
}
END_TEST

START_TEST(snapshot_streams_in_bounded_chunks)
{
    size_t big = 3 * ENGINE_SNAPSHOT_CHUNK + 123;
    char *v = malloc(big);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < big; i++)
        v[i] = (char)('a' + i % 26);
    putb("big", 3, v, big);
    for (int i = 0; i < 2000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05d", i);
        put(k, "value");
    }
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(E, membuf_write, &buf));
    ck_assert_uint_le(buf.max_write, ENGINE_SNAPSHOT_CHUNK);
    ck_assert_uint_gt(buf.writes, 3);
    struct engine *copy = eng_open();
    ck_ok(engine_snapshot_restore(copy, membuf_read, &buf));
    ck_same_state(E, copy, engine_revision(E));
    eng_close(copy);
    free(buf.data);
    free(v);
}
END_TEST

START_TEST(snapshot_corruption_detected_and_state_kept)
{
    build_history();
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(E, membuf_write, &buf));
    struct engine *copy = eng_open();
    struct engine_put_req p = put_req("mine", 4, "x", 1);
    struct engine_put_result pr;
    ck_ok(engine_put(copy, 1, &p, &A, &pr));
    /* Every single flipped byte and every truncation is caught. */
    for (size_t i = 0; i < buf.len; i++) {
        buf.data[i] ^= 0x20;
        buf.pos = 0;
        int rc = engine_snapshot_restore(copy, membuf_read, &buf);
        ck_assert_msg(rc == ENGINE_ECORRUPT, "flip at %zu: %s", i,
                      engine_err_name(rc));
        buf.data[i] ^= 0x20;
    }
    size_t full = buf.len;
    for (size_t cut = 0; cut < full; cut += 5) {
        buf.len = cut;
        buf.pos = 0;
        ck_err(engine_snapshot_restore(copy, membuf_read, &buf),
               ENGINE_ECORRUPT);
    }
    buf.len = full;
    /* The engine kept its own state through every failed restore. */
    ck_assert_int_eq(engine_revision(copy), 2);
    struct engine_range_req r = range_req("mine", 4, NULL, 0);
    struct engine_range_result res;
    ck_ok(engine_range(copy, &r, &A, &res));
    ck_assert_int_eq(res.kvs_len, 1);
    buf.pos = 0;
    ck_ok(engine_snapshot_restore(copy, membuf_read, &buf));
    ck_same_state(E, copy, 7);
    eng_close(copy);
    free(buf.data);
}
END_TEST

static int failing_write(void *ctx, const void *buf, size_t len)
{
    (void)buf;
    (void)len;
    int *calls = ctx;
    return ++*calls == 2 ? -5 : 0; /* -EIO on the second piece */
}

START_TEST(snapshot_write_error_is_returned)
{
    for (int i = 0; i < 3000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%05d", i);
        put(k, "a value long enough to need several pieces..........");
    }
    int calls = 0;
    ck_assert_int_eq(engine_snapshot_save(E, failing_write, &calls), -5);
    ck_assert_int_eq(calls, 2);
}
END_TEST

/* ---- random operations against a model ---------------------------------- */

#define MODEL_KEYS 48

struct model_event {
    int key;
    int64_t rev;
    bool live;
    int64_t create, version, lease;
    char value[12];
};

struct model {
    uint8_t keys[MODEL_KEYS][6];
    size_t key_len[MODEL_KEYS];
    int order[MODEL_KEYS]; /* key ids sorted by engine_key_cmp */
    struct model_event *ev;
    size_t n_ev, cap_ev;
    int64_t rev, compact;
    uint64_t rng;
};

static struct model *M;

static uint64_t rnd(void)
{
    M->rng ^= M->rng << 13;
    M->rng ^= M->rng >> 7;
    M->rng ^= M->rng << 17;
    return M->rng;
}

static int by_key(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return engine_key_cmp(M->keys[x], M->key_len[x], M->keys[y], M->key_len[y]);
}

static void model_init(void)
{
    M = calloc(1, sizeof(*M));
    ck_assert_ptr_nonnull(M);
    M->rng = 0x9e3779b97f4a7c15ull;
    M->rev = 1;
    for (int i = 0; i < MODEL_KEYS; i++) {
        /* Short keys over a tiny alphabet that includes NUL and 0xff, so
         * prefixes and embedded NULs are common. */
        static const uint8_t alpha[] = {0, 'a', 'b', 0xff};
        size_t len = 1 + (size_t)i % 5;
        uint64_t x = (uint64_t)i * 2654435761u;
        for (size_t j = 0; j < len; j++)
            M->keys[i][j] = alpha[(x >> (2 * j)) & 3];
        M->keys[i][0] = (uint8_t)('a' + i % 3); /* never starts empty */
        M->key_len[i] = len;
        /* Make keys unique by suffixing a distinguishing byte. */
        M->keys[i][len] = (uint8_t)i;
        M->key_len[i] = len + 1;
        M->order[i] = i;
    }
    qsort(M->order, MODEL_KEYS, sizeof(int), by_key);
}

static void model_free(void)
{
    free(M->ev);
    free(M);
}

/* The state of key k at revision rev: the last event at or before it. */
static const struct model_event *model_at(int k, int64_t rev)
{
    const struct model_event *last = NULL;
    for (size_t i = 0; i < M->n_ev; i++)
        if (M->ev[i].key == k && M->ev[i].rev <= rev)
            last = &M->ev[i];
    return last != NULL && last->live ? last : NULL;
}

static void model_push(struct model_event ev)
{
    if (M->n_ev == M->cap_ev) {
        M->cap_ev = M->cap_ev ? M->cap_ev * 2 : 1024;
        M->ev = grow(M->ev, M->cap_ev * sizeof(*M->ev));
        ck_assert_ptr_nonnull(M->ev);
    }
    M->ev[M->n_ev++] = ev;
}

static void model_put(int k, int64_t rev, const char *v, int64_t lease)
{
    const struct model_event *cur = model_at(k, rev);
    struct model_event ev = {
        k,     rev, true, cur ? cur->create : rev, cur ? cur->version + 1 : 1,
        lease, {0}};
    snprintf(ev.value, sizeof(ev.value), "%s", v);
    model_push(ev);
}

static void model_del(int k, int64_t rev)
{
    struct model_event ev = {k, rev, false, 0, 0, 0, {0}};
    model_push(ev);
}

/* Random (start, end) over the model's key order: a single key, a
 * half-open range between two keys, or from a key on. */
static void pick_range(int *lo, int *hi, bool *single, bool *to_end)
{
    int a = (int)(rnd() % MODEL_KEYS), b = (int)(rnd() % MODEL_KEYS);
    int kind = (int)(rnd() % 4);
    *single = kind == 0;
    *to_end = kind == 1;
    *lo = a < b ? a : b;
    *hi = a < b ? b : a;
}

static void range_args(int lo, int hi, bool single, bool to_end,
                       struct engine_range_req *r)
{
    int s = M->order[lo], t = M->order[hi];
    *r = range_req(M->keys[s], M->key_len[s], NULL, 0);
    if (to_end) {
        r->range_end = "\0";
        r->range_end_len = 1;
    } else if (!single) {
        r->range_end = M->keys[t];
        r->range_end_len = M->key_len[t];
    }
}

static void check_range(int lo, int hi, bool single, bool to_end, int64_t rev)
{
    struct engine_range_req r;
    range_args(lo, hi, single, to_end, &r);
    r.revision = rev;
    struct engine_range_result res = do_range(&r);
    size_t n = 0;
    int last = single ? lo : (to_end ? MODEL_KEYS - 1 : hi - 1);
    for (int i = lo; i <= last; i++) {
        int k = M->order[i];
        const struct model_event *ev = model_at(k, rev ? rev : M->rev);
        if (ev == NULL)
            continue;
        ck_assert_msg(n < res.kvs_len, "missing key at rev %lld",
                      (long long)rev);
        const struct engine_kv *kv = &res.kvs[n++];
        ck_assert(bytes_eq(kv->key, kv->key_len, M->keys[k], M->key_len[k]));
        ck_assert(
            bytes_eq(kv->value, kv->value_len, ev->value, strlen(ev->value)));
        ck_assert_int_eq(kv->create_revision, ev->create);
        ck_assert_int_eq(kv->version, ev->version);
        ck_assert_int_eq(kv->lease, ev->lease);
    }
    ck_assert_int_eq(res.kvs_len, n);
    ck_assert_int_eq(res.count, (int64_t)n);
}

static void random_put(int k, const char *v)
{
    struct engine_put_req p = put_req(M->keys[k], M->key_len[k], v, strlen(v));
    p.lease = (int64_t)(rnd() % 3);
    p.prev_kv = true;
    struct engine_put_result pr;
    ck_ok(engine_put(E, ++IDX, &p, &A, &pr));
    const struct model_event *cur = model_at(k, M->rev);
    ck_assert(pr.has_prev_kv == (cur != NULL));
    if (cur != NULL)
        ck_assert_int_eq(pr.prev_kv.version, cur->version);
    M->rev++;
    ck_assert_int_eq(pr.revision, M->rev);
    model_put(k, M->rev, v, p.lease);
}

static void random_delete(void)
{
    int lo, hi;
    bool single, to_end;
    pick_range(&lo, &hi, &single, &to_end);
    struct engine_range_req r;
    range_args(lo, hi, single, to_end, &r);
    int last = single ? lo : (to_end ? MODEL_KEYS - 1 : hi - 1);
    int64_t want = 0;
    for (int i = lo; i <= last; i++)
        if (model_at(M->order[i], M->rev) != NULL)
            want++;
    int64_t got = delb(r.key, r.key_len, r.range_end, r.range_end_len);
    ck_assert_int_eq(got, want);
    if (want == 0)
        return; /* deleting nothing is not a revision */
    M->rev++;
    for (int i = lo; i <= last; i++)
        if (model_at(M->order[i], M->rev - 1) != NULL)
            model_del(M->order[i], M->rev);
}

/* if version(k) == guess then put(k2, v) else delete(k2) */
static void random_txn(int k, const char *v)
{
    int k2 = (int)(rnd() % MODEL_KEYS);
    const struct model_event *cur = model_at(k, M->rev);
    int64_t guess = cur ? cur->version : 0;
    if (rnd() % 3 == 0)
        guess++;
    struct engine_compare c;
    memset(&c, 0, sizeof(c));
    c.key = M->keys[k];
    c.key_len = M->key_len[k];
    c.target = ENGINE_CMP_VERSION;
    c.result = ENGINE_CMP_EQUAL;
    c.operand = guess;
    struct engine_op ok, ko;
    memset(&ok, 0, sizeof(ok));
    memset(&ko, 0, sizeof(ko));
    ok.type = ENGINE_OP_PUT;
    ok.u.put = put_req(M->keys[k2], M->key_len[k2], v, strlen(v));
    ko.type = ENGINE_OP_DELETE;
    ko.u.del.key = M->keys[k2];
    ko.u.del.key_len = M->key_len[k2];
    struct engine_txn_req t = {&c, 1, &ok, 1, &ko, 1};
    struct engine_txn_result res;
    ck_ok(engine_txn(E, ++IDX, &t, &A, &res));
    bool want = (cur ? cur->version : 0) == guess;
    ck_assert(res.succeeded == want);
    if (want) {
        M->rev++;
        model_put(k2, M->rev, v, 0);
    } else if (model_at(k2, M->rev) != NULL) {
        M->rev++;
        model_del(k2, M->rev);
    }
    ck_assert_int_eq(res.revision, M->rev);
}

static void random_write(void)
{
    int op = (int)(rnd() % 10);
    int k = (int)(rnd() % MODEL_KEYS);
    char v[12];
    snprintf(v, sizeof(v), "v%llu", (unsigned long long)(rnd() % 1000));
    if (op < 5)
        random_put(k, v);
    else if (op < 7)
        random_delete();
    else
        random_txn(k, v);
    ck_assert_int_eq(engine_revision(E), M->rev);
    ck_assert_uint_eq(engine_applied_index(E), IDX);
}

START_TEST(random_ops_match_model)
{
    model_init();
    for (int i = 0; i < 10000; i++) {
        random_write();
        if (i % 50 == 0) {
            int lo, hi;
            bool single, to_end;
            pick_range(&lo, &hi, &single, &to_end);
            int64_t rev =
                M->compact +
                (int64_t)(rnd() % (uint64_t)(M->rev - M->compact + 1));
            if (rev < 1)
                rev = 0;
            check_range(lo, hi, single, to_end, rev);
        }
        if (i % 1500 == 1499) {
            M->compact = M->rev - (int64_t)(rnd() % 20);
            ck_ok(engine_compact(E, ++IDX, M->compact));
        }
        engine_arena_reset(&A);
    }
    check_range(0, MODEL_KEYS - 1, false, true, 0);
    for (int64_t rev = M->compact; rev <= M->rev; rev += 7)
        check_range(0, MODEL_KEYS - 1, false, true, rev);
    struct engine_stats st;
    engine_stats(E, &st);
    uint64_t live = 0;
    for (int k = 0; k < MODEL_KEYS; k++)
        live += model_at(k, M->rev) != NULL;
    ck_assert_uint_eq(st.keys, live);
    /* The end state also survives a snapshot round trip. */
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(E, membuf_write, &buf));
    struct engine *copy = eng_open();
    ck_ok(engine_snapshot_restore(copy, membuf_read, &buf));
    ck_same_state(E, copy, M->compact);
    eng_close(copy);
    free(buf.data);
    model_free();
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

/* ---- history ------------------------------------------------------------ */

/* History of (k, end) from `start` in engine e as one string:
 * "P k=v@mod/ver" or "D k@mod" per event, with "<prev" appended for a
 * prev_kv, separated by spaces; "|more>N" when the limit stopped it. */
static char hist_buf[4096];

static const char *history_of(struct engine *e, const char *k, const void *end,
                              size_t el, int64_t start, int64_t limit,
                              bool prev)
{
    /* "" stands for the key "\0", the smallest key. */
    size_t kl = k[0] != '\0' ? strlen(k) : 1;
    struct engine_history_req r = {k, kl, end, el, start, limit, prev};
    struct engine_history_result res;
    ck_ok(engine_history(e, &r, &A, &res));
    ck_assert_int_eq(res.revision, engine_revision(e));
    size_t n = 0;
    hist_buf[0] = '\0';
    for (size_t i = 0; i < res.events_len; i++) {
        const struct engine_event *ev = &res.events[i];
        const struct engine_kv *kv = &ev->kv;
        if (ev->type == ENGINE_EVENT_PUT)
            n += (size_t)snprintf(
                hist_buf + n, sizeof(hist_buf) - n, "%sP %.*s=%.*s@%lld/%lld",
                i ? " " : "", (int)kv->key_len, (const char *)kv->key,
                (int)kv->value_len, (const char *)kv->value,
                (long long)kv->mod_revision, (long long)kv->version);
        else {
            ck_assert_int_eq(kv->version, 0);
            ck_assert_int_eq(kv->value_len, 0);
            n += (size_t)snprintf(hist_buf + n, sizeof(hist_buf) - n,
                                  "%sD %.*s@%lld", i ? " " : "",
                                  (int)kv->key_len, (const char *)kv->key,
                                  (long long)kv->mod_revision);
        }
        if (ev->has_prev_kv)
            n += (size_t)snprintf(hist_buf + n, sizeof(hist_buf) - n, "<%.*s",
                                  (int)ev->prev_kv.value_len,
                                  (const char *)ev->prev_kv.value);
        ck_assert(n < sizeof(hist_buf));
    }
    if (res.more)
        n += (size_t)snprintf(hist_buf + n, sizeof(hist_buf) - n, "|more>%lld",
                              (long long)res.next_revision);
    else
        ck_assert_int_eq(res.next_revision, engine_revision(e) + 1);
    ck_assert(n < sizeof(hist_buf));
    return hist_buf;
}

/* rev 2..: a=1, b=1, a=2, del b, txn{put c=1, put a=3}, del [a, c). */
static void history_writes(void)
{
    put("a", "1");
    put("b", "1");
    put("a", "2");
    delb("b", 1, NULL, 0);
    struct engine_op ops[2] = {op_put("c", "1"), op_put("a", "3")};
    struct engine_txn_req t = {NULL, 0, ops, 2, NULL, 0};
    struct engine_txn_result tr;
    ck_ok(engine_txn(E, ++IDX, &t, &A, &tr));
    ck_assert_int_eq(tr.revision, 6);
    delb("a", 1, "c", 1);
    ck_assert_int_eq(engine_revision(E), 7);
}

START_TEST(history_lists_puts_deletes_and_txn_in_revision_order)
{
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 1, 0, false), "");
    history_writes();
    /* A txn's events share revision 6 and come in key order. */
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 1, 0, false),
                     "P a=1@2/1 P b=1@3/1 P a=2@4/2 D b@5 P a=3@6/3 "
                     "P c=1@6/1 D a@7");
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 8, 0, false), "");
}
END_TEST

START_TEST(history_filters_single_key_range_and_prefix)
{
    history_writes();
    put("ab", "x");
    put("b2", "y");
    ck_assert_str_eq(history_of(E, "a", NULL, 0, 1, 0, false),
                     "P a=1@2/1 P a=2@4/2 P a=3@6/3 D a@7");
    ck_assert_str_eq(history_of(E, "b", "c", 1, 1, 0, false),
                     "P b=1@3/1 D b@5 P b2=y@9/1");
    uint8_t end[1];
    size_t el = engine_prefix_end("a", 1, end);
    ck_assert_str_eq(history_of(E, "a", end, el, 1, 0, false),
                     "P a=1@2/1 P a=2@4/2 P a=3@6/3 D a@7 P ab=x@8/1");
    ck_assert_str_eq(history_of(E, "zz", FROM_KEY, 1, 0, false), "");
    ck_assert_str_eq(history_of(E, "c", "a", 1, 1, 0, false), "");
}
END_TEST

START_TEST(history_from_middle_revision_with_prev_kv)
{
    history_writes();
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 4, 0, true),
                     "P a=2@4/2<1 D b@5<1 P a=3@6/3<2 P c=1@6/1 D a@7<3");
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 6, 0, false),
                     "P a=3@6/3 P c=1@6/1 D a@7");
    put("a", "new");
    /* After a delete the key starts again without a prev. */
    ck_assert_str_eq(history_of(E, "a", NULL, 0, 8, 0, true), "P a=new@8/1");
}
END_TEST

START_TEST(history_limit_stops_at_revision_boundary_and_continues)
{
    history_writes();
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 1, 2, false),
                     "P a=1@2/1 P b=1@3/1|more>4");
    /* Limit 3 ends inside revision 6: the whole revision comes. */
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 4, 3, false),
                     "P a=2@4/2 D b@5 P a=3@6/3 P c=1@6/1|more>7");
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 7, 2, false), "D a@7");
}
END_TEST

START_TEST(history_from_compacted_revision_fails)
{
    history_writes();
    ck_ok(engine_compact(E, ++IDX, 5));
    struct engine_history_req r = {"a", 1, NULL, 0, 5, 0, false};
    struct engine_history_result res;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_ECOMPACTED);
    r.start_revision = 2;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_ECOMPACTED);
    ck_assert_str_eq(history_of(E, "\0", FROM_KEY, 6, 0, true),
                     "P a=3@6/3<2 P c=1@6/1 D a@7<3");
    r.start_revision = 9;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_EFUTURE_REV);
    r.start_revision = 0;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_EINVAL);
    r.start_revision = 6;
    r.limit = -1;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_EINVAL);
    r.limit = 0;
    r.key_len = 0;
    ck_err(engine_history(E, &r, &A, &res), ENGINE_EINVAL);
}
END_TEST

START_TEST(history_survives_snapshot_restore_above_compact_revision)
{
    history_writes();
    ck_ok(engine_compact(E, ++IDX, 4));
    put("d", "1");
    struct membuf buf = {0};
    ck_ok(engine_snapshot_save(E, membuf_write, &buf));
    struct engine *copy = eng_open();
    ck_ok(engine_snapshot_restore(copy, membuf_read, &buf));
    char want[sizeof(hist_buf)];
    snprintf(want, sizeof(want), "%s",
             history_of(E, "\0", FROM_KEY, 5, 0, true));
    ck_assert_str_eq(want, "D b@5<1 P a=3@6/3<2 P c=1@6/1 D a@7<3 P d=1@8/1");
    ck_assert_str_eq(history_of(copy, "\0", FROM_KEY, 5, 0, true), want);
    struct engine_history_req r = {"a", 1, NULL, 0, 4, 0, false};
    struct engine_history_result res;
    ck_err(engine_history(copy, &r, &A, &res), ENGINE_ECOMPACTED);
    eng_close(copy);
    free(buf.data);
}
END_TEST

Suite *conformance_suite(const struct conformance_factory *f)
{
    factory = f;
    Suite *s = suite_create(f->name);
    struct {
        const char *name;
        const TTest *tests[16];
    } groups[] = {
        {"basic",
         {empty_store_starts_at_revision_one,
          put_get_roundtrip_reports_revisions,
          overwrite_bumps_version_and_mod_not_create,
          delete_then_put_starts_new_generation,
          put_stores_lease_and_ignore_flags_keep_old_fields,
          put_prev_kv_returns_previous, binary_keys_with_nul_bytes,
          empty_value_allowed, empty_key_and_bad_arguments_rejected}},
        {"range",
         {range_half_open_interval, range_prefix, range_from_key_with_nul_end,
          range_limit_sets_more_and_total_count,
          range_count_only_returns_no_kvs, range_keys_only_omits_values,
          range_sort_descending_by_key,
          range_sort_by_mod_create_version_value}},
        {"revisions",
         {read_at_old_revision_sees_old_state, read_future_revision_fails,
          compaction_rejects_older_revisions_keeps_current_data,
          compaction_frees_old_versions, compact_beyond_current_or_twice_fails,
          applied_index_persisted_with_writes_unchanged_by_reads}},
        {"delete",
         {delete_range_counts_and_returns_prev_kvs,
          delete_nothing_keeps_revision}},
        {"txn",
         {txn_compare_value_chooses_branch, txn_compare_version_create_mod,
          txn_compare_over_range_needs_every_key, txn_writes_share_one_revision,
          txn_without_writes_keeps_revision,
          txn_rejects_duplicate_keys_and_too_many_ops,
          txn_range_at_compacted_revision_fails_without_writing}},
        {"snapshot",
         {snapshot_restore_reproduces_state, snapshot_streams_in_bounded_chunks,
          snapshot_corruption_detected_and_state_kept,
          snapshot_write_error_is_returned}},
        {"model", {random_ops_match_model}},
        {"history",
         {history_lists_puts_deletes_and_txn_in_revision_order,
          history_filters_single_key_range_and_prefix,
          history_from_middle_revision_with_prev_kv,
          history_limit_stops_at_revision_boundary_and_continues,
          history_from_compacted_revision_fails,
          history_survives_snapshot_restore_above_compact_revision}},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        for (size_t i = 0; i < 16 && groups[g].tests[i] != NULL; i++)
            tcase_add_test(tc, groups[g].tests[i]);
        suite_add_tcase(s, tc);
    }
    return s;
}
