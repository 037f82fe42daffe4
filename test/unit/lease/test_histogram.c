/*
 * test_histogram.c - the log-linear latency histogram (lease/histogram.h):
 * exact small values, buckets never wider than 1/64 of their values, every
 * 64-bit value has a bucket, quantiles within one bucket of the truth and
 * never outside [min, max], merging.
 */
#include <check.h>
#include <stdint.h>

#include "lease/histogram.h"

static struct lease_hist h; /* 30 KiB: not on the test's stack */

START_TEST(empty_histogram_reports_zero)
{
    lease_hist_init(&h);
    ck_assert_uint_eq(h.count, 0);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.5), 0);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.999), 0);
    ck_assert_uint_eq(lease_hist_mean(&h), 0);
}
END_TEST

START_TEST(small_values_are_exact)
{
    lease_hist_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        lease_hist_record(&h, v);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.5), 50);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.9), 90);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.99), 99);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.999), 100);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.0), 1);
    ck_assert_uint_eq(lease_hist_quantile(&h, 1.0), 100);
    ck_assert_uint_eq(lease_hist_quantile(&h, 7.0), 100); /* clamped */
    ck_assert_uint_eq(lease_hist_mean(&h), 50);
    ck_assert_uint_eq(h.min, 1);
    ck_assert_uint_eq(h.max, 100);
}
END_TEST

START_TEST(buckets_tile_the_whole_range_within_two_percent)
{
    uint64_t prev_hi = 0;
    for (unsigned b = 0; b < LEASE_HIST_BUCKETS; b++) {
        uint64_t lo, hi;
        lease_hist_bucket_range(b, &lo, &hi);
        if (b > 0)
            ck_assert_uint_eq(lo, prev_hi + 1); /* no gap, no overlap */
        ck_assert_uint_le(hi - lo, lo / 64);    /* ~2 significant digits */
        ck_assert_uint_eq(lease_hist_bucket(lo), b);
        ck_assert_uint_eq(lease_hist_bucket(hi), b);
        prev_hi = hi;
    }
    ck_assert_uint_eq(prev_hi, UINT64_MAX);
    ck_assert_uint_eq(lease_hist_bucket(UINT64_MAX), LEASE_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(quantiles_of_latencies_are_within_a_bucket)
{
    lease_hist_init(&h);
    /* 1000 values 1us..1ms: the k-th smallest is k microseconds */
    for (uint64_t k = 1; k <= 1000; k++)
        lease_hist_record(&h, k * 1000);
    struct {
        double q;
        uint64_t want;
    } cases[] = {{0.5, 500000}, {0.9, 900000}, {0.99, 990000}, {0.999, 999000}};
    for (unsigned i = 0; i < 4; i++) {
        uint64_t got = lease_hist_quantile(&h, cases[i].q);
        ck_assert_uint_ge(got, cases[i].want);
        ck_assert_uint_le(got, cases[i].want + cases[i].want / 64);
    }
    ck_assert_uint_eq(lease_hist_quantile(&h, 1.0), 1000000); /* = max */
    ck_assert_uint_eq(lease_hist_mean(&h), 500500);
}
END_TEST

START_TEST(quantile_never_leaves_recorded_range)
{
    lease_hist_init(&h);
    lease_hist_record(&h, 1000001); /* one value inside a wide bucket */
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.5), 1000001);
    ck_assert_uint_eq(lease_hist_quantile(&h, 0.0), 1000001);
    lease_hist_record(&h, UINT64_MAX);
    ck_assert_uint_eq(lease_hist_quantile(&h, 1.0), UINT64_MAX);
    ck_assert_uint_eq(h.sum, UINT64_MAX); /* saturated, not wrapped */
}
END_TEST

START_TEST(merge_adds_counts_and_bounds)
{
    static struct lease_hist a, b;
    lease_hist_init(&a);
    lease_hist_init(&b);
    for (uint64_t v = 1; v <= 50; v++)
        lease_hist_record(&a, v);
    for (uint64_t v = 51; v <= 100; v++)
        lease_hist_record(&b, v);
    lease_hist_merge(&a, &b);
    ck_assert_uint_eq(a.count, 100);
    ck_assert_uint_eq(a.min, 1);
    ck_assert_uint_eq(a.max, 100);
    ck_assert_uint_eq(lease_hist_quantile(&a, 0.9), 90);
}
END_TEST

static Suite *histogram_suite(void)
{
    Suite *s = suite_create("histogram");
    TCase *tc = tcase_create("histogram");
    tcase_add_test(tc, empty_histogram_reports_zero);
    tcase_add_test(tc, small_values_are_exact);
    tcase_add_test(tc, buckets_tile_the_whole_range_within_two_percent);
    tcase_add_test(tc, quantiles_of_latencies_are_within_a_bucket);
    tcase_add_test(tc, quantile_never_leaves_recorded_range);
    tcase_add_test(tc, merge_adds_counts_and_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(histogram_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
