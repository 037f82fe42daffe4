/*
 * test_range_decode.c - the hand-written RangeRequest decoder of the read
 * fast path (server/range_decode.h) against protobuf-c: every request
 * protobuf-c packs decodes to the same fields; the corner cases where the
 * two could part (10-byte varints, bools with high bits, enums past 32
 * bits, repeated fields, empty bytes) agree; and everything the decoder
 * leaves to protobuf-c (unknown fields, wrong wire types, multi-byte tags,
 * truncated or oversized input) returns -1 without reading past the end.
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/range_decode.h"

static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static int64_t rnd_i64(void)
{
    switch (rnd() % 6) {
    case 0:
        return 0;
    case 1:
        return (int64_t)(rnd() % 200);
    case 2:
        return -(int64_t)(rnd() % 1000) - 1;
    case 3:
        return INT64_MAX - (int64_t)(rnd() % 3);
    case 4:
        return INT64_MIN + (int64_t)(rnd() % 3);
    default:
        return (int64_t)rnd();
    }
}

static bool bytes_eq(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Asserts that our decode of buf agrees with protobuf-c's. */
static void assert_same(const uint8_t *buf, size_t len)
{
    Metastore__RangeRequest ours;
    ck_assert_int_eq(range_request_decode(buf, len, &ours), 0);
    Metastore__RangeRequest *pc = metastore__range_request__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(pc);
    ck_assert(bytes_eq(ours.key, pc->key));
    ck_assert(bytes_eq(ours.range_end, pc->range_end));
    ck_assert(ours.key.len > 0 || ours.key.data == NULL);
    ck_assert_int_eq(ours.limit, pc->limit);
    ck_assert_int_eq(ours.revision, pc->revision);
    ck_assert_int_eq(ours.sort_order, pc->sort_order);
    ck_assert_int_eq(ours.sort_target, pc->sort_target);
    ck_assert_int_eq(ours.consistency, pc->consistency);
    ck_assert_int_eq(ours.keys_only, pc->keys_only);
    ck_assert_int_eq(ours.count_only, pc->count_only);
    ck_assert_int_eq(ours.min_mod_revision, pc->min_mod_revision);
    ck_assert_int_eq(ours.max_mod_revision, pc->max_mod_revision);
    ck_assert_int_eq(ours.min_create_revision, pc->min_create_revision);
    ck_assert_int_eq(ours.max_create_revision, pc->max_create_revision);
    ck_assert_uint_eq(ours.min_applied_index, pc->min_applied_index);
    metastore__range_request__free_unpacked(pc, NULL);
}

START_TEST(every_packed_request_decodes_as_protobuf_c_decodes_it)
{
    uint8_t key[64], end[64], buf[512];
    for (int i = 0; i < 20000; i++) {
        Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
        q.key.len = rnd() % 3 == 0 ? 0 : rnd() % sizeof key;
        q.range_end.len = rnd() % 2 == 0 ? 0 : rnd() % sizeof end;
        for (size_t k = 0; k < sizeof key; k++) {
            key[k] = (uint8_t)rnd();
            end[k] = (uint8_t)rnd();
        }
        q.key.data = key;
        q.range_end.data = end;
        q.limit = rnd_i64();
        q.revision = rnd_i64();
        q.sort_order = (Metastore__RangeRequest__SortOrder)(rnd() % 4);
        q.sort_target = (Metastore__RangeRequest__SortTarget)(rnd() % 6);
        q.consistency = (Metastore__Consistency)(rnd() % 3);
        q.keys_only = rnd() % 2;
        q.count_only = rnd() % 2;
        q.min_mod_revision = rnd_i64();
        q.max_mod_revision = rnd_i64();
        q.min_create_revision = rnd_i64();
        q.max_create_revision = rnd_i64();
        q.min_applied_index = (uint64_t)rnd_i64();
        size_t n = metastore__range_request__get_packed_size(&q);
        ck_assert_uint_le(n, sizeof buf);
        metastore__range_request__pack(&q, buf);
        assert_same(buf, n);
        Metastore__RangeRequest ours;
        ck_assert_int_eq(range_request_decode(buf, n, &ours), 0);
        ck_assert_int_eq(ours.limit, q.limit);
        /* the bytes point into the body: nothing was copied */
        if (q.key.len > 0) {
            ck_assert(ours.key.data > buf && ours.key.data < buf + n);
        }
    }
}
END_TEST

START_TEST(empty_body_is_the_default_request)
{
    Metastore__RangeRequest ours;
    ck_assert_int_eq(range_request_decode((const uint8_t *)"", 0, &ours), 0);
    ck_assert_uint_eq(ours.key.len, 0);
    ck_assert_ptr_null(ours.key.data);
    ck_assert_int_eq(ours.consistency, 0);
    assert_same((const uint8_t *)"", 0);
}
END_TEST

START_TEST(corner_cases_agree_with_protobuf_c)
{
    /* a bool whose only nonzero bits lie past bit 63 is still true */
    static const uint8_t bool_high[] = {0x40, 0x80, 0x80, 0x80, 0x80, 0x80,
                                        0x80, 0x80, 0x80, 0x80, 0x02};
    /* 0x40 = field 8 varint; that varint is 10 bytes: fine */
    assert_same(bool_high, sizeof bool_high);
    /* an enum from a varint wider than 32 bits keeps the low 32 */
    static const uint8_t enum_wide[] = {0x28, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_same(enum_wide, sizeof enum_wide);
    /* the last occurrence wins, for scalars and bytes */
    static const uint8_t repeated[] = {0x18, 0x05, 0x0a, 0x01, 'a', 0x18,
                                       0x07, 0x0a, 0x02, 'b',  'c'};
    assert_same(repeated, sizeof repeated);
    Metastore__RangeRequest ours;
    ck_assert_int_eq(range_request_decode(repeated, sizeof repeated, &ours), 0);
    ck_assert_int_eq(ours.limit, 7);
    ck_assert_uint_eq(ours.key.len, 2);
    /* an empty bytes field after a non-empty one clears it */
    static const uint8_t cleared[] = {0x0a, 0x01, 'a', 0x0a, 0x00};
    assert_same(cleared, sizeof cleared);
    /* -1 as a 10-byte varint */
    static const uint8_t minus_one[] = {0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
                                        0xff, 0xff, 0xff, 0xff, 0x01};
    assert_same(minus_one, sizeof minus_one);
    /* a length written with redundant continuation bytes */
    static const uint8_t long_len[] = {0x0a, 0x81, 0x80, 0x00, 'k'};
    assert_same(long_len, sizeof long_len);
}
END_TEST

/* Inputs the decoder leaves to protobuf-c; pc_ok says whether protobuf-c
 * accepts them (unknown fields are kept there, malformed input is not). */
static void assert_declined(const uint8_t *buf, size_t len, bool pc_ok)
{
    /* copied to the heap at its exact size so ASan sees any overread */
    uint8_t *copy = malloc(len > 0 ? len : 1);
    memcpy(copy, buf, len);
    Metastore__RangeRequest ours;
    ck_assert_int_eq(range_request_decode(copy, len, &ours), -1);
    Metastore__RangeRequest *pc =
        metastore__range_request__unpack(NULL, len, copy);
    ck_assert_msg((pc != NULL) == pc_ok, "protobuf-c %s it",
                  pc != NULL ? "accepts" : "refuses");
    if (pc != NULL) {
        metastore__range_request__free_unpacked(pc, NULL);
    }
    free(copy);
}

START_TEST(what_it_does_not_handle_goes_back_to_protobuf_c)
{
    /* unknown field 15 (varint), field 20 (two-byte tag), field 1000 */
    assert_declined((const uint8_t[]){0x78, 0x01}, 2, true);
    assert_declined((const uint8_t[]){0xa0, 0x01, 0x01}, 3, true);
    assert_declined((const uint8_t[]){0xc2, 0x3e, 0x01, 'x'}, 4, true);
    /* known fields with the wrong wire type */
    assert_declined((const uint8_t[]){0x08, 0x01}, 2, false); /* key varint */
    assert_declined((const uint8_t[]){0x1a, 0x01, 0x00}, 3, false);
    assert_declined((const uint8_t[]){0x1d, 0, 0, 0, 0}, 5, false);
    /* truncated: varint, length, data; tag without value */
    assert_declined((const uint8_t[]){0x18, 0x80}, 2, false);
    assert_declined((const uint8_t[]){0x0a, 0x80}, 2, false);
    assert_declined((const uint8_t[]){0x0a, 0x05, 'a', 'b'}, 4, false);
    assert_declined((const uint8_t[]){0x18}, 1, false);
    /* an 11-byte varint */
    assert_declined((const uint8_t[]){0x18, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x80, 0x80, 0x80, 0x00},
                    12, false);
    /* a 6-byte length, and one above INT_MAX */
    assert_declined((const uint8_t[]){0x0a, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x00},
                    7, false);
    assert_declined((const uint8_t[]){0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, 6,
                    false);
    /* field number 0 */
    assert_declined((const uint8_t[]){0x00, 0x01}, 2, false);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("range_decode");
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_packed_request_decodes_as_protobuf_c_decodes_it);
    tcase_add_test(tc, empty_body_is_the_default_request);
    tcase_add_test(tc, corner_cases_agree_with_protobuf_c);
    tcase_add_test(tc, what_it_does_not_handle_goes_back_to_protobuf_c);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
