/*
 * The memory engine: the shared conformance suite (helpers/conformance.c)
 * run on engine_memory_open(), plus tests of what is specific to it: the
 * B+tree index under heavy insert/remove, the result arena, the error
 * table and the key helpers.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/conformance.h"
#include "storage/btree.h"
#include "storage/engine.h"

/* realloc that fails the test instead of returning NULL. */
static void *grow(void *p, size_t n)
{
    void *q = realloc(p, n);
    ck_assert_ptr_nonnull(q);
    return q;
}

static int open_memory(void *ctx, struct engine **out)
{
    (void)ctx;
    return engine_memory_open(NULL, out);
}

static const struct conformance_factory memory_factory = {
    "memory-engine-conformance", open_memory, NULL, NULL};

/* ---- B+tree ------------------------------------------------------------- */

struct titem {
    struct engine__bt_item it;
    uint8_t key[12];
};

static uint64_t seed = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static int item_cmp(const void *a, const void *b)
{
    const struct titem *x = *(const struct titem *const *)a;
    const struct titem *y = *(const struct titem *const *)b;
    return engine_key_cmp(x->it.key, x->it.key_len, y->it.key, y->it.key_len);
}

START_TEST(btree_random_inserts_and_removes_keep_order)
{
    enum { N = 40000 };
    struct titem *items = calloc(N, sizeof(*items));
    bool *in = calloc(N, sizeof(*in));
    ck_assert_ptr_nonnull(items);
    ck_assert_ptr_nonnull(in);
    for (uint32_t i = 0; i < N; i++) {
        items[i].it.key = items[i].key;
        items[i].it.key_len = 4 + i % 9;
        memset(items[i].key, 'k', sizeof(items[i].key));
        items[i].key[items[i].it.key_len - 1] = (uint8_t)i;
        items[i].key[items[i].it.key_len - 2] = (uint8_t)(i >> 8);
        items[i].key[0] = (uint8_t)(i >> 16);
        if (items[i].it.key_len > 4)
            items[i].key[1] = (uint8_t)(i % 7); /* includes NUL bytes */
    }
    /* Make the keys unique: drop duplicates by marking them unusable. */
    struct titem **sorted = malloc(N * sizeof(*sorted));
    for (uint32_t i = 0; i < N; i++)
        sorted[i] = &items[i];
    qsort(sorted, N, sizeof(*sorted), item_cmp);
    bool *usable = calloc(N, sizeof(*usable));
    for (uint32_t i = 0; i < N; i++)
        usable[sorted[i] - items] =
            i == 0 || item_cmp(&sorted[i - 1], &sorted[i]) != 0;
    struct engine__btree t;
    ck_assert_int_eq(engine__btree_init(&t), 0);
    size_t live = 0;
    for (int round = 0; round < 200000; round++) {
        uint32_t i = (uint32_t)(rnd() % N);
        if (!usable[i])
            continue;
        /* Insert-heavy first half, remove-heavy second half. */
        bool want_in = round < 100000 ? rnd() % 4 != 0 : rnd() % 4 == 0;
        if (want_in && !in[i]) {
            ck_assert_ptr_null(
                engine__btree_get(&t, items[i].it.key, items[i].it.key_len));
            ck_assert_int_eq(engine__btree_insert(&t, &items[i].it), 0);
            in[i] = true;
            live++;
        } else if (!want_in && in[i]) {
            ck_assert_ptr_eq(
                engine__btree_remove(&t, items[i].it.key, items[i].it.key_len),
                &items[i].it);
            in[i] = false;
            live--;
        } else {
            struct engine__bt_item *got =
                engine__btree_get(&t, items[i].it.key, items[i].it.key_len);
            ck_assert(in[i] ? got == &items[i].it : got == NULL);
        }
        if (round % 20000 == 0)
            ck_assert(engine__btree_check(&t));
    }
    ck_assert(engine__btree_check(&t));
    ck_assert_uint_eq(t.size, live);
    /* Forward and backward walks see exactly the live items, in order. */
    struct engine__bt_cursor c;
    size_t n = 0, s = 0;
    for (engine__btree_first(&t, &c); engine__btree_item(&c) != NULL;
         engine__btree_next(&c), n++) {
        while (!in[sorted[s] - items])
            s++;
        ck_assert_ptr_eq(engine__btree_item(&c), &sorted[s]->it);
        s++;
    }
    ck_assert_uint_eq(n, live);
    n = 0;
    for (engine__btree_last(&t, &c); engine__btree_item(&c) != NULL;
         engine__btree_prev(&c))
        n++;
    ck_assert_uint_eq(n, live);
    /* Remove everything: the tree shrinks back to one empty leaf. */
    for (uint32_t i = 0; i < N; i++)
        if (in[i])
            engine__btree_remove(&t, items[i].it.key, items[i].it.key_len);
    ck_assert(engine__btree_check(&t));
    ck_assert_uint_eq(t.size, 0);
    ck_assert_uint_eq(t.height, 1);
    engine__btree_first(&t, &c);
    ck_assert_ptr_null(engine__btree_item(&c));
    engine__btree_destroy(&t, NULL);
    free(usable);
    free(sorted);
    free(in);
    free(items);
}
END_TEST

START_TEST(btree_seek_finds_neighbours)
{
    enum { N = 5000 };
    struct titem *items = calloc(N, sizeof(*items));
    struct engine__btree t;
    ck_assert_int_eq(engine__btree_init(&t), 0);
    /* Even numbers only, as 4-byte big-endian keys. */
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = 2 * i;
        items[i].key[0] = (uint8_t)(v >> 24);
        items[i].key[1] = (uint8_t)(v >> 16);
        items[i].key[2] = (uint8_t)(v >> 8);
        items[i].key[3] = (uint8_t)v;
        items[i].it.key = items[i].key;
        items[i].it.key_len = 4;
        ck_assert_int_eq(engine__btree_insert(&t, &items[i].it), 0);
    }
    ck_assert_uint_ge(t.height, 3);
    for (uint32_t v = 0; v < 2 * N + 2; v++) {
        uint8_t k[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
                        (uint8_t)(v >> 8), (uint8_t)v};
        struct engine__bt_cursor c;
        engine__btree_seek_ge(&t, k, 4, &c);
        uint32_t ge = (v + 1) / 2; /* index of first even >= v */
        if (ge < N)
            ck_assert_ptr_eq(engine__btree_item(&c), &items[ge].it);
        else
            ck_assert_ptr_null(engine__btree_item(&c));
        engine__btree_seek_lt(&t, k, 4, &c);
        if (v == 0)
            ck_assert_ptr_null(engine__btree_item(&c));
        else
            ck_assert_ptr_eq(engine__btree_item(&c),
                             &items[(v - 1) / 2 < N ? (v - 1) / 2 : N - 1].it);
    }
    engine__btree_destroy(&t, NULL);
    free(items);
}
END_TEST

/* ---- memory engine specifics -------------------------------------------- */

START_TEST(compaction_removes_deleted_keys_from_index)
{
    struct engine *e;
    ck_assert_int_eq(engine_memory_open(NULL, &e), 0);
    struct engine_arena a;
    engine_arena_init(&a);
    uint64_t idx = 0;
    char k[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "key%06d", i);
        struct engine_put_req p = {k, strlen(k), "v",   1,
                                   0, false,     false, false};
        struct engine_put_result pr;
        ck_assert_int_eq(engine_put(e, ++idx, &p, &a, &pr), 0);
        engine_arena_reset(&a);
    }
    struct engine_delete_req d = {"key", 3, "key015000", 9, false};
    struct engine_delete_result dr;
    ck_assert_int_eq(engine_delete_range(e, ++idx, &d, &a, &dr), 0);
    ck_assert_int_eq(dr.deleted, 15000);
    struct engine_stats st;
    engine_stats(e, &st);
    ck_assert_uint_eq(st.revisions, 35000);
    ck_assert_int_eq(engine_compact(e, ++idx, engine_revision(e)), 0);
    engine_stats(e, &st);
    ck_assert_uint_eq(st.revisions, 5000);
    ck_assert_uint_eq(st.keys, 5000);
    /* Reads still walk the survivors in both directions. */
    struct engine_range_req r = {
        "\0",           1, "\0", 1, 0, 0, true, false, ENGINE_SORT_DESCEND,
        ENGINE_SORT_KEY};
    struct engine_range_result rr;
    ck_assert_int_eq(engine_range(e, &r, &a, &rr), 0);
    ck_assert_int_eq(rr.kvs_len, 5000);
    ck_assert(memcmp(rr.kvs[0].key, "key019999", 9) == 0);
    ck_assert(memcmp(rr.kvs[4999].key, "key015000", 9) == 0);
    engine_arena_free(&a);
    engine_close(e);
}
END_TEST

/* After a reset, the same workload fits in one contiguous chunk: the
 * allocations come back back-to-back. */
START_TEST(arena_settles_on_one_chunk)
{
    struct engine_arena a;
    engine_arena_init(&a);
    unsigned char *first = NULL, *last = NULL;
    for (int i = 0; i < 100; i++) {
        unsigned char *p = engine_arena_alloc(&a, 1000);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, i, 1000);
        if (i == 0)
            first = p;
        last = p;
    }
    ck_assert(last - first != 99 * 1008); /* grew through several chunks */
    for (int round = 0; round < 3; round++) {
        engine_arena_reset(&a);
        for (int i = 0; i < 100; i++) {
            unsigned char *p = engine_arena_alloc(&a, 1000);
            ck_assert_ptr_nonnull(p);
            memset(p, i, 1000);
            if (i == 0)
                first = p;
            last = p;
        }
        ck_assert_int_eq(last - first, 99 * 1008);
    }
    ck_assert_ptr_nonnull(engine_arena_alloc(&a, 0));
    engine_arena_free(&a);
    ck_assert_ptr_null(a.head);
}
END_TEST

START_TEST(error_table_names_every_code)
{
    static const int codes[] = {
#define CODE(name, value, text) name,
        ENGINE_ERRORS(CODE)
#undef CODE
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ck_assert_str_ne(engine_err_name(codes[i]), "ENGINE_E?");
        ck_assert_str_ne(engine_strerror(codes[i]), "unknown engine error");
        for (size_t j = 0; j < i; j++)
            ck_assert_int_ne(codes[i], codes[j]);
    }
    ck_assert_str_eq(engine_err_name(ENGINE_ECOMPACTED), "ENGINE_ECOMPACTED");
    ck_assert_str_eq(engine_err_name(12345), "ENGINE_E?");
    ck_assert_str_eq(engine_strerror(0), "success");
}
END_TEST

START_TEST(key_range_helpers_follow_etcd)
{
    ck_assert(engine_key_in_range("b", 1, "b", 1, NULL, 0));
    ck_assert(!engine_key_in_range("ba", 2, "b", 1, NULL, 0));
    ck_assert(engine_key_in_range("ba", 2, "b", 1, "c", 1));
    ck_assert(!engine_key_in_range("c", 1, "b", 1, "c", 1));
    ck_assert(engine_key_in_range("zzz", 3, "b", 1, "\0", 1));
    ck_assert(!engine_key_in_range("a", 1, "b", 1, "\0", 1));
    uint8_t end[4];
    static const uint8_t p[] = {'a', 0xff};
    ck_assert_uint_eq(engine_prefix_end(p, 2, end), 1);
    ck_assert_int_eq(end[0], 'b');
    ck_assert_int_lt(engine_key_cmp("a", 1, "a\0", 2), 0);
    ck_assert_int_gt(engine_key_cmp("b", 1, "a\xff", 2), 0);
}
END_TEST

START_TEST(memory_engine_reports_name_and_options)
{
    struct engine_options o = {7, NULL};
    struct engine *e;
    ck_assert_int_eq(engine_memory_open(&o, &e), 0);
    ck_assert_str_eq(engine_name(e), "memory");
    ck_assert_int_eq(e->max_txn_ops, 7);
    engine_close(e);
    ck_assert_int_eq(engine_memory_open(NULL, &e), 0);
    ck_assert_int_eq(e->max_txn_ops, ENGINE_DEFAULT_MAX_TXN_OPS);
    engine_close(e);
}
END_TEST

/* ---- out of memory ------------------------------------------------------ */

/* Allocations left before every later one fails; -1 = never fail. */
static long alloc_budget = -1;

static bool fail_when_spent(void *ctx, size_t len)
{
    (void)ctx;
    (void)len;
    if (alloc_budget < 0)
        return false;
    if (alloc_budget == 0)
        return true;
    alloc_budget--;
    return false;
}

static void oom_after(long n)
{
    alloc_budget = n;
    engine_set_alloc_fail_hook(fail_when_spent, NULL);
}

static void oom_off(void)
{
    engine_set_alloc_fail_hook(NULL, NULL);
    alloc_budget = -1;
}

/* Everything visible now, with metadata, as one string (caller frees). */
static char *dump(struct engine *e)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_range_req r = {
        "\0",           1, "\0", 1, 0, 0, false, false, ENGINE_SORT_NONE,
        ENGINE_SORT_KEY};
    struct engine_range_result res;
    ck_assert_int_eq(engine_range(e, &r, &a, &res), 0);
    size_t cap = 64 + res.kvs_len * 96, n = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    n += (size_t)snprintf(out, cap, "rev %lld idx %llu;",
                          (long long)engine_revision(e),
                          (unsigned long long)engine_applied_index(e));
    for (size_t i = 0; i < res.kvs_len; i++) {
        const struct engine_kv *kv = &res.kvs[i];
        n += (size_t)snprintf(out + n, cap - n, "%.*s=%.*s@%lld/%lld/%lld;",
                              (int)kv->key_len, kv->key, (int)kv->value_len,
                              kv->value, (long long)kv->create_revision,
                              (long long)kv->mod_revision,
                              (long long)kv->version);
    }
    engine_arena_free(&a);
    return out;
}

static struct engine *filled_engine(int keys, uint64_t *idx)
{
    struct engine *e;
    ck_assert_int_eq(engine_memory_open(NULL, &e), 0);
    struct engine_arena a;
    engine_arena_init(&a);
    for (int i = 0; i < keys; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%04d", i * 2);
        struct engine_put_req p = {k, strlen(k), "value", 5,
                                   0, false,     false,   false};
        struct engine_put_result pr;
        ck_assert_int_eq(engine_put(e, ++*idx, &p, &a, &pr), 0);
    }
    engine_arena_free(&a);
    return e;
}

/* Each new key is tried with 0, 1, 2... allocations allowed until it
 * goes through; every failure must leave the engine exactly as it was. */
START_TEST(put_out_of_memory_changes_nothing)
{
    uint64_t idx = 0;
    struct engine *e = filled_engine(200, &idx);
    struct engine_arena a;
    engine_arena_init(&a);
    int failures = 0;
    for (int i = 0; i < 200; i++) {
        char k[16];
        /* odd keys are new (some force a leaf split); multiples of 10 exist */
        snprintf(k, sizeof(k), "k%04d", i % 10 == 0 ? i : i * 2 + 1);
        struct engine_put_req p = {k, strlen(k), "v2",  2,
                                   0, true,      false, false};
        struct engine_put_result pr;
        for (long budget = 0;; budget++) {
            char *before = dump(e);
            engine_arena_free(&a);
            oom_after(budget);
            int rc = engine_put(e, idx + 1, &p, &a, &pr);
            oom_off();
            if (rc == 0) {
                idx++;
                free(before);
                break;
            }
            ck_assert_int_eq(rc, ENGINE_ENOMEM);
            failures++;
            char *after = dump(e);
            ck_assert_str_eq(before, after);
            free(before);
            free(after);
        }
    }
    ck_assert_int_gt(failures, 200);
    struct engine_stats st;
    engine_stats(e, &st);
    ck_assert_uint_eq(st.keys, 200 + 180);
    ck_assert_int_eq(engine_revision(e), 1 + 200 + 200);
    engine_arena_free(&a);
    engine_close(e);
}
END_TEST

START_TEST(delete_out_of_memory_changes_nothing)
{
    uint64_t idx = 0;
    struct engine *e = filled_engine(300, &idx);
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_delete_req d = {"k0100", 5, "k0400", 5, true};
    struct engine_delete_result dr;
    int failures = 0;
    for (long budget = 0;; budget++) {
        char *before = dump(e);
        engine_arena_free(&a);
        oom_after(budget);
        int rc = engine_delete_range(e, idx + 1, &d, &a, &dr);
        oom_off();
        char *after = dump(e);
        if (rc == 0) {
            free(before);
            free(after);
            break;
        }
        ck_assert_int_eq(rc, ENGINE_ENOMEM);
        ck_assert_str_eq(before, after);
        failures++;
        free(before);
        free(after);
    }
    /* Reserved capacity survives a failed attempt (it is not state), so
     * each retry gets further. */
    ck_assert_int_gt(failures, 10);
    ck_assert_int_eq(dr.deleted, 150);
    ck_assert_int_eq(dr.prev_kvs_len, 150);
    engine_arena_free(&a);
    engine_close(e);
}
END_TEST

struct bytes {
    unsigned char *p;
    size_t len, cap, pos;
};

static int bytes_write(void *ctx, const void *p, size_t len)
{
    struct bytes *b = ctx;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2;
        b->p = grow(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

static ssize_t bytes_read(void *ctx, void *p, size_t cap)
{
    struct bytes *b = ctx;
    size_t n = b->len - b->pos < cap ? b->len - b->pos : cap;
    memcpy(p, b->p + b->pos, n);
    b->pos += n;
    return (ssize_t)n;
}

START_TEST(txn_out_of_memory_after_a_write_breaks_engine_until_restore)
{
    uint64_t idx = 0;
    struct engine *e = filled_engine(100, &idx);
    struct bytes snap = {0};
    ck_assert_int_eq(engine_snapshot_save(e, bytes_write, &snap), 0);
    char *good = dump(e);
    struct engine_op ops[20];
    char keys[20][16];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof(keys[i]), "new%02d", i);
        memset(&ops[i], 0, sizeof(ops[i]));
        ops[i].type = ENGINE_OP_PUT;
        ops[i].u.put.key = keys[i];
        ops[i].u.put.key_len = strlen(keys[i]);
        ops[i].u.put.value = "v";
        ops[i].u.put.value_len = 1;
    }
    struct engine_txn_req t = {NULL, 0, ops, 20, NULL, 0};
    struct engine_txn_result res;
    struct engine_arena a;
    engine_arena_init(&a);
    int broken = 0;
    for (long budget = 0;; budget++) {
        oom_after(budget);
        int rc = engine_txn(e, idx + 1, &t, &a, &res);
        oom_off();
        if (rc == 0)
            break;
        if (rc == ENGINE_ENOMEM) { /* failed before changing anything */
            char *now = dump(e);
            ck_assert_str_eq(now, good);
            free(now);
            continue;
        }
        ck_assert_int_eq(rc, ENGINE_EBROKEN);
        broken++;
        struct engine_range_req r = {"k",
                                     1,
                                     NULL,
                                     0,
                                     0,
                                     0,
                                     false,
                                     false,
                                     ENGINE_SORT_NONE,
                                     ENGINE_SORT_KEY};
        struct engine_range_result rr;
        ck_assert_int_eq(engine_range(e, &r, &a, &rr), ENGINE_EBROKEN);
        ck_assert_int_eq(engine_mark_applied(e, idx + 5), ENGINE_EBROKEN);
        snap.pos = 0;
        ck_assert_int_eq(engine_snapshot_restore(e, bytes_read, &snap), 0);
        char *now = dump(e);
        ck_assert_str_eq(now, good);
        free(now);
    }
    ck_assert_int_gt(broken, 10);
    ck_assert_int_eq(res.results_len, 20);
    ck_assert_int_eq(engine_revision(e), 102);
    free(good);
    free(snap.p);
    engine_arena_free(&a);
    engine_close(e);
}
END_TEST

START_TEST(snapshot_out_of_memory_keeps_state)
{
    uint64_t idx = 0;
    struct engine *src = filled_engine(500, &idx);
    struct bytes snap = {0};
    for (long budget = 0;; budget++) {
        snap.len = 0;
        oom_after(budget);
        int rc = engine_snapshot_save(src, bytes_write, &snap);
        oom_off();
        if (rc == 0)
            break;
        ck_assert_int_eq(rc, ENGINE_ENOMEM);
    }
    uint64_t idx2 = 0;
    struct engine *dst = filled_engine(3, &idx2);
    char *mine = dump(dst);
    int failures = 0;
    for (long budget = 0;; budget++) {
        snap.pos = 0;
        oom_after(budget);
        int rc = engine_snapshot_restore(dst, bytes_read, &snap);
        oom_off();
        if (rc == 0)
            break;
        ck_assert_int_eq(rc, ENGINE_ENOMEM);
        char *now = dump(dst);
        ck_assert_str_eq(now, mine);
        free(now);
        failures++;
    }
    ck_assert_int_gt(failures, 500);
    char *a = dump(src), *b = dump(dst);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    free(mine);
    free(snap.p);
    engine_close(src);
    engine_close(dst);
}
END_TEST

START_TEST(compaction_needs_no_memory)
{
    uint64_t idx = 0;
    struct engine *e = filled_engine(300, &idx);
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_delete_req d = {"k0100", 5, "k0600", 5, false};
    struct engine_delete_result dr;
    ck_assert_int_eq(engine_delete_range(e, ++idx, &d, &a, &dr), 0);
    oom_after(0);
    int rc = engine_compact(e, ++idx, engine_revision(e));
    oom_off();
    ck_assert_int_eq(rc, 0);
    struct engine_stats st;
    engine_stats(e, &st);
    ck_assert_uint_eq(st.keys, 300 - 250);
    ck_assert_uint_eq(st.revisions, 50);
    engine_arena_free(&a);
    engine_close(e);
}
END_TEST

static Suite *memory_suite(void)
{
    Suite *s = suite_create("memory-engine");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, btree_random_inserts_and_removes_keep_order);
    tcase_add_test(tc, btree_seek_finds_neighbours);
    suite_add_tcase(s, tc);
    tc = tcase_create("engine");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, compaction_removes_deleted_keys_from_index);
    tcase_add_test(tc, arena_settles_on_one_chunk);
    tcase_add_test(tc, error_table_names_every_code);
    tcase_add_test(tc, key_range_helpers_follow_etcd);
    tcase_add_test(tc, memory_engine_reports_name_and_options);
    suite_add_tcase(s, tc);
    tc = tcase_create("out-of-memory");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, put_out_of_memory_changes_nothing);
    tcase_add_test(tc, delete_out_of_memory_changes_nothing);
    tcase_add_test(tc,
                   txn_out_of_memory_after_a_write_breaks_engine_until_restore);
    tcase_add_test(tc, snapshot_out_of_memory_keeps_state);
    tcase_add_test(tc, compaction_needs_no_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conformance_suite(&memory_factory));
    srunner_add_suite(sr, memory_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
