/*
 * test_crc32c.c - CRC-32C known vectors, incremental use, and agreement of
 * the SSE4.2 and table paths.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/crc32c.h"

START_TEST(crc32c_matches_known_vectors)
{
    ck_assert_uint_eq(crc32c("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc32c("", 0), 0u);
    ck_assert_uint_eq(crc32c(NULL, 0), 0u);
    /* RFC 3720 (iSCSI) appendix B.4 vectors. */
    uint8_t buf[32];
    memset(buf, 0, sizeof buf);
    ck_assert_uint_eq(crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    ck_assert_uint_eq(crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ck_assert_uint_eq(crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    ck_assert_uint_eq(crc32c(buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(crc32c__extend_sw(0, "123456789", 9), 0xE3069283u);
}
END_TEST

START_TEST(crc32c_incremental_equals_one_shot)
{
    enum { N = 1000 };
    uint8_t *buf = malloc(N);
    ck_assert_ptr_nonnull(buf);
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    uint32_t whole = crc32c(buf, N);
    /* Every split point, and odd starting alignments. */
    for (size_t cut = 0; cut <= N; cut += 7) {
        uint32_t c = crc32c_extend(0, buf, cut);
        c = crc32c_extend(c, buf + cut, N - cut);
        ck_assert_uint_eq(c, whole);
    }
    uint32_t c = 0;
    for (size_t i = 0; i < N; i++)
        c = crc32c_extend(c, buf + i, 1);
    ck_assert_uint_eq(c, whole);
    free(buf);
}
END_TEST

START_TEST(crc32c_hardware_and_table_paths_agree)
{
    enum { N = 300 };
    uint8_t buf[N];
    for (int i = 0; i < N; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= N; len += 13)
            ck_assert_uint_eq(crc32c_extend(0x1234u, buf + off, len),
                              crc32c__extend_sw(0x1234u, buf + off, len));
}
END_TEST

START_TEST(crc32c_detects_single_bit_flips)
{
    uint8_t buf[64];
    for (int i = 0; i < 64; i++)
        buf[i] = (uint8_t)i;
    uint32_t good = crc32c(buf, sizeof buf);
    for (int bit = 0; bit < 64 * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_uint_ne(crc32c(buf, sizeof buf), good);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crc32c");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, crc32c_matches_known_vectors);
    tcase_add_test(tc, crc32c_incremental_equals_one_shot);
    tcase_add_test(tc, crc32c_hardware_and_table_paths_agree);
    tcase_add_test(tc, crc32c_detects_single_bit_flips);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
