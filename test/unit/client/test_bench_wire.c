/*
 * test_bench_wire.c - metastore-bench's hand-written request bodies
 * (client/bench_wire.c) are byte for byte what protobuf-c packs for the
 * same request, its hand-written key names are what snprintf wrote before,
 * and --verify's answer check accepts the right answer and refuses wrong
 * ones.  Random inputs come from a fixed-seed generator.
 */
#include "client/bench_util.h"
#include "client/bench_wire.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"

static void fill_random(struct bench_rng *rng, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)bench_rng_next(rng);
    }
}

START_TEST(range_request_is_what_protobuf_c_packs)
{
    struct bench_rng rng;
    bench_rng_seed(&rng, 7);
    char key[128];
    uint8_t want[256], got[BENCH_WIRE_RANGE_MAX];
    for (int i = 0; i < 5000; i++) {
        /* Every length from empty to 127 bytes, then random ones. */
        size_t klen = i < 128 ? (size_t)i : bench_rng_below(&rng, 128);
        bool ser = (i & 1) != 0;
        fill_random(&rng, (uint8_t *)key, klen);
        Metastore__RangeRequest rq = METASTORE__RANGE_REQUEST__INIT;
        rq.key.data = (uint8_t *)key;
        rq.key.len = klen;
        rq.consistency = ser ? METASTORE__CONSISTENCY__SERIALIZABLE
                             : METASTORE__CONSISTENCY__LINEARIZABLE;
        size_t n = protobuf_c_message_get_packed_size(&rq.base);
        ck_assert_uint_le(n, sizeof want);
        protobuf_c_message_pack(&rq.base, want);
        size_t m = bench_wire_range_request(got, key, klen, ser);
        ck_assert_uint_eq(m, n);
        ck_assert_uint_le(m, BENCH_WIRE_RANGE_MAX);
        ck_assert_mem_eq(got, want, n);
    }
}
END_TEST

START_TEST(put_request_is_what_protobuf_c_packs)
{
    /* Lengths around the varint steps (127/128, 16383/16384). */
    static const size_t vlens[] = {0,   1,     127,   128,   255, 256,
                                   300, 16383, 16384, 70000, 4096};
    struct bench_rng rng;
    bench_rng_seed(&rng, 11);
    uint8_t *value = malloc(70000);
    uint8_t *want = malloc(70200), *got = malloc(70200);
    ck_assert_ptr_nonnull(value);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(got);
    fill_random(&rng, value, 70000);
    char key[BENCH_KEY_MAX];
    for (size_t v = 0; v < sizeof vlens / sizeof vlens[0]; v++) {
        for (int k = 0; k < 3; k++) {
            size_t klen =
                k == 0 ? 0
                       : bench_key_format(bench_rng_next(&rng) % 10000, key);
            Metastore__PutRequest pq = METASTORE__PUT_REQUEST__INIT;
            pq.key.data = (uint8_t *)key;
            pq.key.len = klen;
            pq.value.data = value;
            pq.value.len = vlens[v];
            size_t n = protobuf_c_message_get_packed_size(&pq.base);
            protobuf_c_message_pack(&pq.base, want);
            ck_assert_uint_eq(bench_wire_put_request_size(klen, vlens[v]), n);
            ck_assert_uint_eq(
                bench_wire_put_request(got, key, klen, value, vlens[v]), n);
            ck_assert_mem_eq(got, want, n);
        }
    }
    free(value);
    free(want);
    free(got);
}
END_TEST

START_TEST(key_names_are_what_snprintf_writes)
{
    struct bench_rng rng;
    bench_rng_seed(&rng, 3);
    static const uint64_t edges[] = {
        0, 1, 9, 10, 999999999ull, 1000000000ull, 9999999999ull};
    for (int i = 0; i < 20000; i++) {
        uint64_t idx = i < 7 ? edges[i] : bench_rng_below(&rng, 10000000000ull);
        char got[BENCH_KEY_MAX], want[BENCH_KEY_MAX];
        int n = snprintf(want, sizeof want, "bench-%010llu",
                         (unsigned long long)idx);
        ck_assert_uint_eq(bench_key_format(idx, got), (size_t)n);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

/* ---- --verify ------------------------------------------------------------ */

/* Packs a RangeResponse with n_kvs key-values named by keys[]. */
static size_t pack_range_resp(uint8_t *out, bool header, size_t n_kvs,
                              const char *const *keys, int64_t count)
{
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    h.revision = 7;
    Metastore__KeyValue kv[2] = {METASTORE__KEY_VALUE__INIT,
                                 METASTORE__KEY_VALUE__INIT};
    Metastore__KeyValue *kvp[2] = {&kv[0], &kv[1]};
    for (size_t i = 0; i < n_kvs; i++) {
        kv[i].key.data = (uint8_t *)keys[i];
        kv[i].key.len = strlen(keys[i]);
        kv[i].value.data = (uint8_t *)"v";
        kv[i].value.len = 1;
        kv[i].mod_revision = 3;
    }
    Metastore__RangeResponse r = METASTORE__RANGE_RESPONSE__INIT;
    r.header = header ? &h : NULL;
    r.n_kvs = n_kvs;
    r.kvs = kvp;
    r.count = count;
    return protobuf_c_message_pack(&r.base, out);
}

START_TEST(verify_accepts_the_answer_to_the_range_asked)
{
    uint8_t b[256];
    const char *k[] = {"bench-0000000042", "bench-0000000043"};
    size_t n = pack_range_resp(b, true, 1, k, 1);
    ck_assert(bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
    /* A key that does not exist: no key-values, count 0. */
    n = pack_range_resp(b, true, 0, k, 0);
    ck_assert(bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
}
END_TEST

START_TEST(verify_refuses_wrong_range_answers)
{
    uint8_t b[256];
    const char *k[] = {"bench-0000000042", "bench-0000000043"};
    size_t n = pack_range_resp(b, true, 1, k + 1, 1);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
    n = pack_range_resp(b, true, 1, k, 1);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 15));
    n = pack_range_resp(b, true, 2, k, 2);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
    n = pack_range_resp(b, false, 1, k, 1);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
    n = pack_range_resp(b, true, 1, k, 5);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n, k[0], 16));
    /* Truncated and garbage bodies do not decode. */
    n = pack_range_resp(b, true, 1, k, 1);
    ck_assert(!bench_wire_verify(BENCH_WIRE_RANGE, b, n - 3, k[0], 16));
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    ck_assert(
        !bench_wire_verify(BENCH_WIRE_RANGE, junk, sizeof junk, k[0], 16));
}
END_TEST

START_TEST(verify_wants_a_header_on_ping_and_put_answers)
{
    uint8_t b[64];
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    h.member_id = 1;
    Metastore__PingResponse pr = METASTORE__PING_RESPONSE__INIT;
    pr.header = &h;
    size_t n = protobuf_c_message_pack(&pr.base, b);
    ck_assert(bench_wire_verify(BENCH_WIRE_PING, b, n, NULL, 0));
    Metastore__PutResponse pu = METASTORE__PUT_RESPONSE__INIT;
    pu.header = &h;
    n = protobuf_c_message_pack(&pu.base, b);
    ck_assert(bench_wire_verify(BENCH_WIRE_PUT, b, n, "k", 1));
    /* An empty body is a message with no header. */
    ck_assert(!bench_wire_verify(BENCH_WIRE_PING, b, 0, NULL, 0));
    ck_assert(!bench_wire_verify(BENCH_WIRE_PUT, b, 0, "k", 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_wire");
    TCase *enc = tcase_create("encode");
    tcase_add_test(enc, range_request_is_what_protobuf_c_packs);
    tcase_add_test(enc, put_request_is_what_protobuf_c_packs);
    tcase_add_test(enc, key_names_are_what_snprintf_writes);
    suite_add_tcase(s, enc);
    TCase *ver = tcase_create("verify");
    tcase_add_test(ver, verify_accepts_the_answer_to_the_range_asked);
    tcase_add_test(ver, verify_refuses_wrong_range_answers);
    tcase_add_test(ver, verify_wants_a_header_on_ping_and_put_answers);
    suite_add_tcase(s, ver);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
