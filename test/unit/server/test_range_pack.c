/*
 * test_range_pack.c - the hand-written RangeResponse encoder and the scratch
 * allocator for RangeRequest decoding (server/range_pack.h): the encoder's
 * bytes must equal protobuf-c's packing of the same message for every
 * shape of result, and decoding through the scratch buffer must give the
 * same request as a malloc'd decode, with nothing leaked.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/range_pack.h"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

/* Values that hit every varint length and the proto3 zero rule: zero,
 * small, around 2^7 and 2^14 boundaries, huge and negative. */
static int64_t rnd_i64(void)
{
    switch (rnd() % 8) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(rnd() % 128);
    case 2:
        return 127 + (int64_t)(rnd() % 3);
    case 3:
        return 16383 + (int64_t)(rnd() % 3);
    case 4:
        return -(int64_t)(rnd() % 1000) - 1;
    case 5:
        return (int64_t)(rnd() >> 1);
    case 6:
        return INT64_MIN + (int64_t)(rnd() % 4);
    default:
        return (int64_t)(rnd() % 100000);
    }
}

#define MAX_KVS 6

struct sample {
    struct range_pack p;
    struct engine_kv kvs[MAX_KVS];
    uint8_t data[MAX_KVS][2][400];
};

/* A random result; binary keys (any byte, NUL included), empty values as
 * with keys_only, no kvs as with count_only. */
static void random_sample(struct sample *sm)
{
    memset(sm, 0, sizeof *sm);
    struct range_pack *p = &sm->p;
    p->cluster_id = (uint64_t)rnd_i64();
    p->member_id = rnd() % 4 == 0 ? 0 : rnd() % 10;
    p->revision = rnd_i64();
    p->raft_term = (uint64_t)rnd_i64();
    p->applied_index = (uint64_t)rnd_i64();
    p->n_kvs = rnd() % (MAX_KVS + 1);
    bool keys_only = rnd() % 4 == 0;
    for (size_t i = 0; i < p->n_kvs; i++) {
        struct engine_kv *kv = &sm->kvs[i];
        kv->key_len = rnd() % 3 == 0 ? 1 + rnd() % 300 : 1 + rnd() % 20;
        kv->value_len = keys_only || rnd() % 5 == 0 ? 0 : rnd() % 400;
        for (size_t j = 0; j < kv->key_len; j++)
            sm->data[i][0][j] = (uint8_t)rnd();
        for (size_t j = 0; j < kv->value_len; j++)
            sm->data[i][1][j] = (uint8_t)rnd();
        kv->key = sm->data[i][0];
        kv->value = sm->data[i][1];
        kv->create_revision = rnd_i64();
        kv->mod_revision = rnd_i64();
        kv->version = rnd_i64();
        kv->lease = rnd() % 3 == 0 ? rnd_i64() : 0;
    }
    p->kvs = sm->kvs;
    if (rnd() % 3 == 0) {
        p->min_mod_revision = rnd() % 2 ? (int64_t)(rnd() % 200) : 0;
        p->max_mod_revision = rnd() % 2 ? (int64_t)(rnd() % 20000) : 0;
        p->min_create_revision = rnd() % 2 ? (int64_t)(rnd() % 200) : 0;
        p->max_create_revision = rnd() % 2 ? (int64_t)(rnd() % 20000) : 0;
    }
    p->more = rnd() % 2 == 0;
    p->count = rnd_i64();
}

/* protobuf-c's bytes for the same response, built the way server/kv.c
 * built it before (to_range_resp).  Returns a malloc'd buffer. */
static uint8_t *reference_pack(const struct range_pack *p, size_t *len)
{
    Metastore__RangeResponse r = METASTORE__RANGE_RESPONSE__INIT;
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    Metastore__KeyValue kv[MAX_KVS];
    Metastore__KeyValue *kvp[MAX_KVS];
    h.cluster_id = p->cluster_id;
    h.member_id = p->member_id;
    h.revision = p->revision;
    h.raft_term = p->raft_term;
    h.applied_index = p->applied_index;
    r.header = &h;
    size_t k = 0;
    for (size_t i = 0; i < p->n_kvs; i++) {
        const struct engine_kv *e = &p->kvs[i];
        if ((p->min_mod_revision > 0 &&
             e->mod_revision < p->min_mod_revision) ||
            (p->max_mod_revision > 0 &&
             e->mod_revision > p->max_mod_revision) ||
            (p->min_create_revision > 0 &&
             e->create_revision < p->min_create_revision) ||
            (p->max_create_revision > 0 &&
             e->create_revision > p->max_create_revision))
            continue;
        metastore__key_value__init(&kv[k]);
        kv[k].key.data = (uint8_t *)e->key;
        kv[k].key.len = e->key_len;
        kv[k].value.data = (uint8_t *)e->value;
        kv[k].value.len = e->value_len;
        kv[k].create_revision = e->create_revision;
        kv[k].mod_revision = e->mod_revision;
        kv[k].version = e->version;
        kv[k].lease = e->lease;
        kvp[k] = &kv[k];
        k++;
    }
    r.kvs = kvp;
    r.n_kvs = k;
    r.more = p->more;
    r.count = p->count;
    *len = metastore__range_response__get_packed_size(&r);
    uint8_t *buf = malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(metastore__range_response__pack(&r, buf), *len);
    return buf;
}

/* 0 when the encoder agrees with protobuf-c on p (and does not write past
 * the size it announced), else a nonzero code naming the disagreement. */
static int compare_with_protobuf(const struct range_pack *p)
{
    size_t ref_len;
    uint8_t *ref = reference_pack(p, &ref_len);
    size_t n = range_pack_size(p);
    int bad = 0;
    if (n != ref_len) {
        bad = 1;
    } else {
        uint8_t *out = malloc(n + 8);
        memset(out, 0xa5, n + 8);
        size_t w = range_pack_write(p, out);
        if (w != n)
            bad = 2;
        else if (memcmp(out, ref, n) != 0)
            bad = 3;
        for (size_t i = n; i < n + 8; i++)
            if (out[i] != 0xa5)
                bad = 4;
        free(out);
    }
    free(ref);
    return bad;
}

START_TEST(encoder_matches_protobuf_c_for_random_results)
{
    static struct sample sm;
    for (int i = 0; i < 20000; i++) {
        random_sample(&sm);
        int bad = compare_with_protobuf(&sm.p);
        if (bad != 0)
            ck_abort_msg("sample %d differs from protobuf-c (code %d)", i,
                         bad);
        /* the same bytes with the header and first kv sizes cached */
        range_pack_prepare(&sm.p);
        bad = compare_with_protobuf(&sm.p);
        sm.p.header_bytes = 0;
        sm.p.kv0_bytes = 0;
        if (bad != 0)
            ck_abort_msg("sample %d, header size cached, differs (code %d)",
                         i, bad);
    }
}
END_TEST

START_TEST(encoder_matches_protobuf_c_for_empty_result)
{
    struct range_pack p = {0};
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
    /* Nothing but an empty header: tag 1, length 0. */
    uint8_t out[4];
    ck_assert_uint_eq(range_pack_size(&p), 2);
    ck_assert_uint_eq(range_pack_write(&p, out), 2);
    ck_assert_uint_eq(out[0], 0x0a);
    ck_assert_uint_eq(out[1], 0x00);
}
END_TEST

START_TEST(encoder_matches_protobuf_c_for_count_only_and_more)
{
    struct range_pack p = {.cluster_id = 7, .member_id = 1, .revision = 42,
                           .raft_term = 3, .applied_index = 99,
                           .count = 10000, .more = true};
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
    p.more = false;
    p.count = -1;
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
}
END_TEST

START_TEST(encoder_matches_protobuf_c_for_keys_only_and_binary_keys)
{
    static const uint8_t k1[] = {0x00, 0xff, 0x80, 0x0a};
    static const uint8_t empty[1];
    static uint8_t big[300];
    memset(big, 0x80, sizeof big);
    struct engine_kv kvs[3] = {
        {.key = k1, .key_len = sizeof k1, .value = empty, .value_len = 0,
         .create_revision = 5, .mod_revision = 9, .version = 2},
        {.key = big, .key_len = sizeof big, .value = empty, .value_len = 0,
         .create_revision = 1, .mod_revision = 1, .version = 1, .lease = 77},
        {.key = k1, .key_len = 1, .value = big, .value_len = 200,
         .create_revision = 3, .mod_revision = 4, .version = 1},
    };
    struct range_pack p = {.member_id = 2, .revision = 10, .raft_term = 1,
                           .applied_index = 12, .kvs = kvs, .n_kvs = 3,
                           .count = 3};
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
}
END_TEST

START_TEST(encoder_leaves_out_kvs_the_revision_filters_exclude)
{
    static const uint8_t key[] = "k";
    struct engine_kv kvs[3] = {
        {.key = key, .key_len = 1, .value = key, .value_len = 1,
         .create_revision = 1, .mod_revision = 5},
        {.key = key, .key_len = 1, .value = key, .value_len = 1,
         .create_revision = 2, .mod_revision = 10},
        {.key = key, .key_len = 1, .value = key, .value_len = 1,
         .create_revision = 3, .mod_revision = 20},
    };
    struct range_pack p = {.kvs = kvs, .n_kvs = 3, .count = 3,
                           .min_mod_revision = 6, .max_mod_revision = 15};
    ck_assert(!range_pack_keeps(&p, &kvs[0]));
    ck_assert(range_pack_keeps(&p, &kvs[1]));
    ck_assert(!range_pack_keeps(&p, &kvs[2]));
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
    uint8_t out[64];
    size_t n = range_pack_write(&p, out);
    Metastore__RangeResponse *r =
        metastore__range_response__unpack(NULL, n, out);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(r->n_kvs, 1);
    ck_assert_int_eq(r->kvs[0]->mod_revision, 10);
    ck_assert_int_eq(r->count, 3);
    metastore__range_response__free_unpacked(r, NULL);
}
END_TEST

/* range_pack_prepare() caches the first key-value's size: the bytes stay
 * protobuf-c's whether that kv is written (a point read) or filtered out. */
START_TEST(encoder_with_cached_first_kv_size_writes_the_same_bytes)
{
    static const uint8_t key[] = "key-0001";
    static uint8_t value[300];
    memset(value, 'v', sizeof value);
    struct engine_kv kvs[2] = {
        {.key = key,
         .key_len = 8,
         .value = value,
         .value_len = 256,
         .create_revision = 3,
         .mod_revision = 200,
         .version = 4},
        {.key = key,
         .key_len = 8,
         .value = value,
         .value_len = 300,
         .create_revision = 9,
         .mod_revision = 900,
         .version = 1,
         .lease = 77},
    };
    struct range_pack p = {.cluster_id = 5,
                           .member_id = 1,
                           .revision = 900,
                           .raft_term = 2,
                           .applied_index = 1000,
                           .kvs = kvs,
                           .n_kvs = 1,
                           .count = 1};
    range_pack_prepare(&p);
    ck_assert_uint_ne(p.kv0_bytes, 0);
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
    /* kvs[0] filtered out, kvs[1] (a different size) written. */
    p.n_kvs = 2;
    p.count = 2;
    p.min_mod_revision = 500;
    range_pack_prepare(&p);
    ck_assert(!range_pack_keeps(&p, &kvs[0]));
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
    /* No kvs: nothing cached. */
    p.n_kvs = 0;
    range_pack_prepare(&p);
    ck_assert_uint_eq(p.kv0_bytes, 0);
    ck_assert_int_eq(compare_with_protobuf(&p), 0);
}
END_TEST

/* The encoder writes these messages field by field: a field added to the
 * .proto must be added to server/range_pack.c too, and this test says so. */
START_TEST(encoder_knows_every_field_of_the_messages_it_writes)
{
    ck_assert_uint_eq(metastore__range_response__descriptor.n_fields, 4);
    ck_assert_uint_eq(metastore__response_header__descriptor.n_fields, 5);
    ck_assert_uint_eq(metastore__key_value__descriptor.n_fields, 6);
}
END_TEST

/* Packs a RangeRequest for key (len bytes) with a range_end and limit. */
static size_t pack_request(const uint8_t *key, size_t len, uint8_t **out)
{
    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    static const uint8_t end[] = "zz";
    q.key.data = (uint8_t *)key;
    q.key.len = len;
    q.range_end.data = (uint8_t *)end;
    q.range_end.len = 2;
    q.limit = 5;
    q.keys_only = true;
    q.min_applied_index = 1234567;
    size_t n = metastore__range_request__get_packed_size(&q);
    *out = malloc(n);
    ck_assert_uint_eq(metastore__range_request__pack(&q, *out), n);
    return n;
}

START_TEST(scratch_decodes_small_request_without_malloc)
{
    static const uint8_t key[] = {'a', 0, 'b'};
    uint8_t *body;
    size_t n = pack_request(key, sizeof key, &body);
    struct range_scratch sc;
    range_scratch_init(&sc);
    Metastore__RangeRequest *r =
        metastore__range_request__unpack(&sc.alloc, n, body);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(sc.heap_allocs, 0);
    ck_assert_uint_gt(sc.used, 0);
    ck_assert(sc.used <= RANGE_SCRATCH_BYTES);
    ck_assert_uint_eq(r->key.len, sizeof key);
    ck_assert_mem_eq(r->key.data, key, sizeof key);
    ck_assert_uint_eq(r->range_end.len, 2);
    ck_assert_int_eq(r->limit, 5);
    ck_assert(r->keys_only);
    ck_assert_uint_eq(r->min_applied_index, 1234567);
    range_scratch_release(&sc, &r->base);
    ck_assert_uint_eq(sc.used, 0);
    free(body);
}
END_TEST

START_TEST(scratch_falls_back_to_malloc_for_large_keys_and_frees_it)
{
    size_t klen = 3 * RANGE_SCRATCH_BYTES;
    uint8_t *key = malloc(klen);
    for (size_t i = 0; i < klen; i++)
        key[i] = (uint8_t)(i * 7);
    uint8_t *body;
    size_t n = pack_request(key, klen, &body);
    struct range_scratch sc;
    range_scratch_init(&sc);
    Metastore__RangeRequest *r =
        metastore__range_request__unpack(&sc.alloc, n, body);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_ge(sc.heap_allocs, 1);
    ck_assert_uint_eq(r->key.len, klen);
    ck_assert_mem_eq(r->key.data, key, klen);
    /* Freed through the allocator (LeakSanitizer checks the ASan build). */
    range_scratch_release(&sc, &r->base);
    ck_assert_uint_eq(sc.heap_allocs, 0);
    ck_assert_uint_eq(sc.used, 0);
    free(body);
    free(key);
}
END_TEST

START_TEST(scratch_decode_of_garbage_fails_and_leaves_nothing_allocated)
{
    /* Field 1 (bytes) announcing 100 bytes with only 3 present. */
    static const uint8_t bad[] = {0x0a, 100, 'a', 'b', 'c'};
    struct range_scratch sc;
    range_scratch_init(&sc);
    Metastore__RangeRequest *r =
        metastore__range_request__unpack(&sc.alloc, sizeof bad, bad);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(sc.heap_allocs, 0);
    range_scratch_release(&sc, NULL);
    ck_assert_uint_eq(sc.used, 0);
}
END_TEST

static Suite *range_pack_suite(void)
{
    Suite *s = suite_create("range_pack");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, encoder_matches_protobuf_c_for_random_results);
    tcase_add_test(tc, encoder_matches_protobuf_c_for_empty_result);
    tcase_add_test(tc, encoder_matches_protobuf_c_for_count_only_and_more);
    tcase_add_test(tc,
                   encoder_matches_protobuf_c_for_keys_only_and_binary_keys);
    tcase_add_test(tc, encoder_leaves_out_kvs_the_revision_filters_exclude);
    tcase_add_test(tc, encoder_with_cached_first_kv_size_writes_the_same_bytes);
    tcase_add_test(tc, encoder_knows_every_field_of_the_messages_it_writes);
    tcase_add_test(tc, scratch_decodes_small_request_without_malloc);
    tcase_add_test(tc,
                   scratch_falls_back_to_malloc_for_large_keys_and_frees_it);
    tcase_add_test(tc,
                   scratch_decode_of_garbage_fails_and_leaves_nothing_allocated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(range_pack_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
