/*
 * test_bench.c - the pure parts of metastore-bench (client/bench_util.c):
 * flag parsing and its refusals, the zipfian key generator's distribution,
 * the log-linear histogram's buckets and percentiles, and the rate
 * limiter's arithmetic.  Random draws use fixed seeds, and the tolerances
 * are wide enough to hold for any seed, so nothing here is flaky.
 */
#include "client/bench_util.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parses a NULL-terminated list of flags (argv[0] is added). */
static int parse(struct bench_opts *o, char *err, const char *const *flags)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"metastore-bench";
    for (size_t i = 0; flags[i] != NULL; i++) {
        argv[argc++] = (char *)flags[i];
    }
    argv[argc] = NULL;
    return bench_opts_parse(argc, argv, o, err, 256);
}

/* ---- options ---------------------------------------------------------- */

START_TEST(opts_defaults_without_flags)
{
    struct bench_opts o;
    char err[256];
    const char *flags[] = {NULL};
    ck_assert_int_eq(parse(&o, err, flags), 0);
    ck_assert_uint_eq(o.n_endpoints, 1);
    ck_assert_str_eq(o.endpoints[0], "127.0.0.1:2379");
    ck_assert_uint_eq(o.conns, 16);
    ck_assert_uint_eq(o.depth, 8);
    ck_assert_uint_eq(o.keys, 10000);
    ck_assert_uint_eq(o.value_size, 64);
    ck_assert_int_eq(o.op, BENCH_OP_RANGE);
    ck_assert_int_eq(o.dist, BENCH_DIST_UNIFORM);
    ck_assert_int_eq(o.target, BENCH_TARGET_LEADER);
    ck_assert_int_eq(o.consistency, MS_CONSISTENCY_LINEARIZABLE);
    ck_assert_uint_eq(o.duration_ns, 10000000000ull);
    ck_assert_uint_eq(o.requests, 0);
    ck_assert_uint_eq(o.rate, 0);
    ck_assert(!o.preload && !o.json && !o.help && !o.verify);
    ck_assert_double_eq_tol(o.read_ratio, 0.9, 1e-12);
    bench_opts_free(&o);
}
END_TEST

START_TEST(opts_accept_every_flag_in_both_spellings)
{
    struct bench_opts o;
    char err[256];
    const char *flags[] = {"--endpoints",  "a:1, b:2,c:3", "--conns=100",
                           "--depth",      "32",           "--keys=1000000",
                           "--value-size", "256",          "--dist=zipfian",
                           "--zipf-s",     "0.8",          "--consistency=s",
                           "--op",         "mixed",        "--mix=70:30",
                           "--target",     "followers",    "--duration=1m30s",
                           "--rate",       "50000",        "--preload",
                           "--json",       "--seed=42",    "--verify",
                           NULL};
    ck_assert_int_eq(parse(&o, err, flags), 0);
    ck_assert_uint_eq(o.n_endpoints, 3);
    ck_assert_str_eq(o.endpoints[1], "b:2");
    ck_assert_uint_eq(o.conns, 100);
    ck_assert_uint_eq(o.depth, 32);
    ck_assert_uint_eq(o.keys, 1000000);
    ck_assert_uint_eq(o.value_size, 256);
    ck_assert_int_eq(o.dist, BENCH_DIST_ZIPFIAN);
    ck_assert_double_eq_tol(o.zipf_s, 0.8, 1e-12);
    ck_assert_int_eq(o.consistency, MS_CONSISTENCY_SERIALIZABLE);
    ck_assert_int_eq(o.op, BENCH_OP_MIXED);
    ck_assert_double_eq_tol(o.read_ratio, 0.7, 1e-12);
    ck_assert_int_eq(o.target, BENCH_TARGET_FOLLOWERS);
    ck_assert_uint_eq(o.duration_ns, 90000000000ull);
    ck_assert_uint_eq(o.rate, 50000);
    ck_assert(o.preload && o.json && o.verify);
    ck_assert_uint_eq(o.seed, 42);
    bench_opts_free(&o);
}
END_TEST

START_TEST(opts_mix_and_read_ratio_set_the_fraction_of_reads)
{
    struct bench_opts o;
    char err[256];
    const char *a[] = {"--mix", "1:3", NULL};
    ck_assert_int_eq(parse(&o, err, a), 0);
    ck_assert_double_eq_tol(o.read_ratio, 0.25, 1e-12);
    bench_opts_free(&o);
    const char *b[] = {"--mix", "0:5", NULL};
    ck_assert_int_eq(parse(&o, err, b), 0);
    ck_assert_double_eq_tol(o.read_ratio, 0.0, 1e-12);
    bench_opts_free(&o);
    const char *c[] = {"--read-ratio", "0.95", NULL};
    ck_assert_int_eq(parse(&o, err, c), 0);
    ck_assert_double_eq_tol(o.read_ratio, 0.95, 1e-12);
    bench_opts_free(&o);
}
END_TEST

START_TEST(opts_requests_alone_lift_the_time_limit)
{
    struct bench_opts o;
    char err[256];
    const char *a[] = {"--requests", "5000", NULL};
    ck_assert_int_eq(parse(&o, err, a), 0);
    ck_assert_uint_eq(o.requests, 5000);
    ck_assert_uint_eq(o.duration_ns, 0);
    bench_opts_free(&o);
    const char *b[] = {"--duration", "2s", "--requests", "5000", NULL};
    ck_assert_int_eq(parse(&o, err, b), 0);
    ck_assert_uint_eq(o.requests, 5000);
    ck_assert_uint_eq(o.duration_ns, 2000000000ull);
    bench_opts_free(&o);
}
END_TEST

START_TEST(opts_help_is_reported_not_an_error)
{
    struct bench_opts o;
    char err[256];
    const char *a[] = {"-h", NULL};
    ck_assert_int_eq(parse(&o, err, a), 0);
    ck_assert(o.help);
    bench_opts_free(&o);
    const char *b[] = {"--conns", "2", "--help", NULL};
    ck_assert_int_eq(parse(&o, err, b), 0);
    ck_assert(o.help);
    bench_opts_free(&o);
}
END_TEST

/* Each of these must be refused, with a sentence naming the flag. */
static const char *const bad_flags[][3] = {
    {"--conns", "0", "--conns"},
    {"--conns", "10001", "--conns"},
    {"--conns", "-3", "--conns"},
    {"--depth", "65537", "--depth"},
    {"--depth", "8x", "--depth"},
    {"--keys", "0", "--keys"},
    {"--value-size", "99999999999", "--value-size"},
    {"--dist", "normal", "--dist"},
    {"--zipf-s", "1", "--zipf-s"},
    {"--zipf-s", "0", "--zipf-s"},
    {"--zipf-s", "abc", "--zipf-s"},
    {"--mix", "90", "--mix"},
    {"--mix", ":10", "--mix"},
    {"--mix", "90:", "--mix"},
    {"--mix", "0:0", "--mix"},
    {"--mix", "a:b", "--mix"},
    {"--read-ratio", "1.5", "--read-ratio"},
    {"--read-ratio", "-0.1", "--read-ratio"},
    {"--consistency", "x", "--consistency"},
    {"--op", "delete", "--op"},
    {"--target", "leaders-ish", "--target"},
    {"--duration", "5", "--duration"},
    {"--duration", "0s", "--duration"},
    {"--requests", "0", "--requests"},
    {"--rate", "-1", "--rate"},
    {"--rate", "9999999999", "--rate"},
    {"--bogus", "1", "--bogus"},
    {"--endpoints", "", "endpoint"},
};

START_TEST(opts_refuse_bad_values_naming_the_flag)
{
    struct bench_opts o;
    char err[256];
    const char *const *bad = bad_flags[_i];
    const char *flags[] = {bad[0], bad[1], NULL};
    ck_assert_int_eq(parse(&o, err, flags), MS_EINVAL);
    ck_assert_msg(strstr(err, bad[2]) != NULL, "%s %s: \"%s\"", bad[0], bad[1],
                  err);
    bench_opts_free(&o);
}
END_TEST

START_TEST(opts_refuse_missing_values_and_stray_words)
{
    struct bench_opts o;
    char err[256];
    const char *a[] = {"--conns", NULL};
    ck_assert_int_eq(parse(&o, err, a), MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "needs a value"));
    bench_opts_free(&o);
    const char *b[] = {"ping", NULL};
    ck_assert_int_eq(parse(&o, err, b), MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unexpected argument"));
    bench_opts_free(&o);
    const char *c[] = {"--", NULL};
    ck_assert_int_eq(parse(&o, err, c), MS_EINVAL);
    bench_opts_free(&o);
}
END_TEST

START_TEST(key_names_are_fixed_width_and_ordered)
{
    char a[BENCH_KEY_MAX], b[BENCH_KEY_MAX];
    size_t na = bench_key_format(42, a);
    size_t nb = bench_key_format(9999999999ull, b);
    ck_assert_uint_eq(na, 16);
    ck_assert_str_eq(a, "bench-0000000042");
    ck_assert_uint_eq(nb, na);
    ck_assert_int_lt(strcmp(a, b), 0);
}
END_TEST

/* ---- random numbers and zipfian keys ------------------------------------ */

START_TEST(rng_is_deterministic_per_seed)
{
    struct bench_rng a, b, c;
    bench_rng_seed(&a, 7);
    bench_rng_seed(&b, 7);
    bench_rng_seed(&c, 8);
    bool differs = false;
    for (int i = 0; i < 100; i++) {
        uint64_t x = bench_rng_next(&a);
        ck_assert_uint_eq(x, bench_rng_next(&b));
        differs |= x != bench_rng_next(&c);
    }
    ck_assert(differs);
}
END_TEST

START_TEST(rng_below_is_uniform_over_its_range)
{
    struct bench_rng r;
    bench_rng_seed(&r, 1);
    uint64_t counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = bench_rng_below(&r, 10);
        ck_assert_uint_lt(v, 10);
        counts[v]++;
    }
    /* 10000 expected each; the standard deviation is about 95. */
    for (int i = 0; i < 10; i++) {
        ck_assert_uint_gt(counts[i], 9500);
        ck_assert_uint_lt(counts[i], 10500);
    }
    for (int i = 0; i < 1000; i++) {
        double d = bench_rng_double(&r);
        ck_assert(d >= 0.0 && d < 1.0);
        ck_assert_uint_lt(bench_rng_below(&r, UINT64_MAX), UINT64_MAX);
        ck_assert_uint_eq(bench_rng_below(&r, 1), 0);
    }
}
END_TEST

START_TEST(zipf_refuses_bad_parameters)
{
    struct bench_zipf z;
    ck_assert_int_eq(bench_zipf_init(&z, 0, 0.99), MS_EINVAL);
    ck_assert_int_eq(bench_zipf_init(&z, 10, 0.0), MS_EINVAL);
    ck_assert_int_eq(bench_zipf_init(&z, 10, 1.0), MS_EINVAL);
    ck_assert_int_eq(bench_zipf_init(&z, 10, 1.5), MS_EINVAL);
    ck_assert_int_eq(bench_zipf_init(&z, 10, NAN), MS_EINVAL);
}
END_TEST

START_TEST(zipf_with_one_or_two_keys_stays_in_range)
{
    struct bench_zipf z;
    struct bench_rng r;
    bench_rng_seed(&r, 3);
    ck_assert_int_eq(bench_zipf_init(&z, 1, 0.99), 0);
    for (int i = 0; i < 1000; i++) {
        ck_assert_uint_eq(bench_zipf_next(&z, &r), 0);
    }
    ck_assert_int_eq(bench_zipf_init(&z, 2, 0.99), 0);
    uint64_t ones = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t v = bench_zipf_next(&z, &r);
        ck_assert_uint_lt(v, 2);
        ones += v;
    }
    /* P(1) = 2^-0.99 / (1 + 2^-0.99) = 0.334 */
    ck_assert_uint_gt(ones, 3000);
    ck_assert_uint_lt(ones, 3700);
}
END_TEST

START_TEST(zipf_frequencies_follow_the_power_law)
{
    const uint64_t n = 1000;
    const double s = 0.99;
    const int draws = 500000;
    struct bench_zipf z;
    struct bench_rng r;
    bench_rng_seed(&r, 12345);
    ck_assert_int_eq(bench_zipf_init(&z, n, s), 0);
    uint64_t *counts = calloc(n, sizeof(*counts));
    ck_assert_ptr_nonnull(counts);
    for (int i = 0; i < draws; i++) {
        uint64_t v = bench_zipf_next(&z, &r);
        ck_assert_uint_lt(v, n);
        counts[v]++;
    }
    double zetan = 0;
    for (uint64_t k = 1; k <= n; k++) {
        zetan += 1.0 / pow((double)k, s);
    }
    /* The two hottest ranks are exact in Gray's method. */
    double p0 = 1.0 / zetan, p1 = pow(0.5, s) / zetan;
    ck_assert_double_eq_tol((double)counts[0] / draws, p0, p0 * 0.03);
    ck_assert_double_eq_tol((double)counts[1] / draws, p1, p1 * 0.04);
    /* Further ranks are approximated; the decay must still be a power law
     * within a loose margin: rank 9 about 10^-s of rank 0. */
    double ratio = (double)counts[9] / (double)counts[0];
    ck_assert_double_eq_tol(ratio, pow(10.0, -s), pow(10.0, -s) * 0.35);
    /* Skew: the hottest 1% of keys draw far more than the coldest half. */
    uint64_t hot = 0, cold = 0;
    for (uint64_t k = 0; k < n / 100; k++) {
        hot += counts[k];
    }
    for (uint64_t k = n / 2; k < n; k++) {
        cold += counts[k];
    }
    ck_assert_uint_gt(hot, cold * 2);
    ck_assert_uint_gt(cold, 0); /* the tail is reachable */
    free(counts);
}
END_TEST

/* ---- histogram ------------------------------------------------------------
 */

START_TEST(hist_counts_small_values_exactly)
{
    static struct bench_hist h;
    bench_hist_init(&h);
    for (uint64_t v = 0; v < 128; v++) {
        bench_hist_record(&h, v);
    }
    ck_assert_uint_eq(h.n, 128);
    ck_assert_uint_eq(bench_hist_percentile(&h, 50), 63);
    ck_assert_uint_eq(bench_hist_percentile(&h, 0), 0);
    ck_assert_uint_eq(bench_hist_percentile(&h, 100), 127);
    ck_assert_double_eq_tol(bench_hist_mean(&h), 63.5, 1e-9);
}
END_TEST

START_TEST(hist_buckets_cover_values_within_one_percent)
{
    struct bench_rng r;
    bench_rng_seed(&r, 9);
    uint64_t probes[] = {0,         1,   127,  128,      129,
                         255,       256, 1000, 1u << 20, (1ull << 40) + 12345,
                         UINT64_MAX};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]) + 10000; i++) {
        uint64_t v = i < sizeof(probes) / sizeof(probes[0])
                         ? probes[i]
                         : bench_rng_next(&r) >> (bench_rng_next(&r) % 64);
        size_t b = bench_hist_index(v);
        ck_assert_uint_lt(b, BENCH_HIST_BUCKETS);
        uint64_t lo = bench_hist_bucket_low(b), hi = bench_hist_bucket_high(b);
        ck_assert_msg(lo <= v && v <= hi, "v=%llu in [%llu, %llu]",
                      (unsigned long long)v, (unsigned long long)lo,
                      (unsigned long long)hi);
        ck_assert((double)(hi - lo) <= (double)lo / 128.0);
        if (b + 1 < BENCH_HIST_BUCKETS) {
            ck_assert_uint_eq(bench_hist_bucket_low(b + 1), hi + 1);
        }
    }
    ck_assert_uint_eq(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}
END_TEST

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

START_TEST(hist_percentiles_are_at_most_one_percent_high)
{
    static struct bench_hist h;
    enum { N = 20000 };
    static uint64_t vals[N];
    struct bench_rng r;
    bench_rng_seed(&r, 77);
    bench_hist_init(&h);
    for (int i = 0; i < N; i++) {
        /* latencies from 10us to about 100ms, log-spread */
        vals[i] =
            10000 + (bench_rng_next(&r) >> (40 + bench_rng_below(&r, 24)));
        bench_hist_record(&h, vals[i]);
    }
    qsort(vals, N, sizeof(vals[0]), cmp_u64);
    const double ps[] = {1, 25, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        size_t rank = (size_t)ceil(ps[i] / 100.0 * N - 1e-9);
        uint64_t truth = vals[rank - 1];
        uint64_t got = bench_hist_percentile(&h, ps[i]);
        ck_assert_msg(got >= truth && (double)got <= (double)truth * 1.008 + 1,
                      "p%g: %llu vs true %llu", ps[i], (unsigned long long)got,
                      (unsigned long long)truth);
    }
    ck_assert_uint_eq(bench_hist_percentile(&h, 100), vals[N - 1]);
    ck_assert_uint_eq(bench_hist_percentile(&h, 0), vals[0]);
}
END_TEST

START_TEST(hist_uniform_one_to_hundred_thousand)
{
    static struct bench_hist h;
    bench_hist_init(&h);
    for (uint64_t v = 1; v <= 100000; v++) {
        bench_hist_record(&h, v);
    }
    uint64_t p50 = bench_hist_percentile(&h, 50);
    uint64_t p99 = bench_hist_percentile(&h, 99);
    uint64_t p999 = bench_hist_percentile(&h, 99.9);
    ck_assert(p50 >= 50000 && p50 <= 50400);
    ck_assert(p99 >= 99000 && p99 <= 99800);
    ck_assert(p999 >= 99900 && p999 <= 100000);
    ck_assert_uint_eq(h.min, 1);
    ck_assert_uint_eq(h.max, 100000);
    ck_assert_double_eq_tol(bench_hist_mean(&h), 50000.5, 1e-6);
}
END_TEST

START_TEST(hist_merge_equals_recording_everything_in_one)
{
    static struct bench_hist a, b, all;
    bench_hist_init(&a);
    bench_hist_init(&b);
    bench_hist_init(&all);
    for (uint64_t v = 1; v < 5000; v += 7) {
        bench_hist_record(v % 2 ? &a : &b, v * 1000);
        bench_hist_record(&all, v * 1000);
    }
    bench_hist_merge(&a, &b);
    ck_assert_mem_eq(&a, &all, sizeof(a));
}
END_TEST

START_TEST(hist_empty_answers_zero)
{
    static struct bench_hist h;
    bench_hist_init(&h);
    ck_assert_uint_eq(bench_hist_percentile(&h, 99), 0);
    ck_assert_uint_eq(bench_hist_percentile(&h, 100), 0);
    ck_assert_double_eq(bench_hist_mean(&h), 0.0);
}
END_TEST

/* ---- rate limiter ------------------------------------------------------- */

START_TEST(rate_zero_is_unlimited)
{
    struct bench_rate r;
    bench_rate_init(&r, 0, 100);
    ck_assert_uint_eq(bench_rate_due(&r, 0), UINT64_MAX);
    bench_rate_take(&r, 1000000);
    ck_assert_uint_eq(bench_rate_due(&r, 100), UINT64_MAX);
}
END_TEST

START_TEST(rate_paces_operations_evenly)
{
    struct bench_rate r;
    const uint64_t t0 = 5000000000ull;
    bench_rate_init(&r, 1000, t0); /* one op per millisecond */
    ck_assert_uint_eq(bench_rate_due(&r, t0 - 1), 0);
    ck_assert_uint_eq(bench_rate_due(&r, t0), 1);
    ck_assert_uint_eq(bench_rate_next_ns(&r), t0);
    bench_rate_take(&r, 1);
    ck_assert_uint_eq(bench_rate_due(&r, t0 + 999999), 0);
    ck_assert_uint_eq(bench_rate_next_ns(&r), t0 + 1000000);
    ck_assert_uint_eq(bench_rate_due(&r, t0 + 1000000), 1);
    /* Falling behind: what was not issued stays due (open loop). */
    ck_assert_uint_eq(bench_rate_due(&r, t0 + 10500000), 10);
    bench_rate_take(&r, 10);
    ck_assert_uint_eq(bench_rate_due(&r, t0 + 10500000), 0);
    ck_assert_uint_eq(bench_rate_next_ns(&r), t0 + 11000000);
    /* After one second exactly 1001 operations were allowed in all. */
    ck_assert_uint_eq(bench_rate_due(&r, t0 + 1000000000ull), 1001 - 11);
}
END_TEST

START_TEST(rate_rounds_next_time_up)
{
    struct bench_rate r;
    bench_rate_init(&r, 3, 0); /* every 333,333,333.3 ns */
    bench_rate_take(&r, 1);
    ck_assert_uint_eq(bench_rate_next_ns(&r), 333333334);
    ck_assert_uint_eq(bench_rate_due(&r, 333333333), 0);
    ck_assert_uint_eq(bench_rate_due(&r, 333333334), 1);
    bench_rate_take(&r, 3);
    ck_assert_uint_eq(bench_rate_next_ns(&r), 1333333334);
}
END_TEST

START_TEST(rate_does_not_overflow_at_the_limits)
{
    struct bench_rate r;
    const uint64_t rate = UINT32_MAX;
    const uint64_t el = 3000000000ull * 1000000000ull; /* 95 years */
    bench_rate_init(&r, rate, 0);
    uint64_t want = (el / 1000000000ull) * rate + 1;
    ck_assert_uint_eq(bench_rate_due(&r, el), want);
    ck_assert_uint_eq(bench_rate_due(&r, el + 999999999ull),
                      want + 999999999ull * rate / 1000000000ull);
}
END_TEST

START_TEST(durations_format_in_readable_units)
{
    char b[32];
    bench_fmt_ns(812, b, sizeof(b));
    ck_assert_str_eq(b, "812ns");
    bench_fmt_ns(45300, b, sizeof(b));
    ck_assert_str_eq(b, "45.3us");
    bench_fmt_ns(1250000, b, sizeof(b));
    ck_assert_str_eq(b, "1.25ms");
    bench_fmt_ns(2500000000ull, b, sizeof(b));
    ck_assert_str_eq(b, "2.50s");
}
END_TEST

static Suite *bench_suite(void)
{
    Suite *s = suite_create("bench");
    TCase *opts = tcase_create("options");
    tcase_add_test(opts, opts_defaults_without_flags);
    tcase_add_test(opts, opts_accept_every_flag_in_both_spellings);
    tcase_add_test(opts, opts_mix_and_read_ratio_set_the_fraction_of_reads);
    tcase_add_test(opts, opts_requests_alone_lift_the_time_limit);
    tcase_add_test(opts, opts_help_is_reported_not_an_error);
    tcase_add_loop_test(opts, opts_refuse_bad_values_naming_the_flag, 0,
                        (int)(sizeof(bad_flags) / sizeof(bad_flags[0])));
    tcase_add_test(opts, opts_refuse_missing_values_and_stray_words);
    tcase_add_test(opts, key_names_are_fixed_width_and_ordered);
    suite_add_tcase(s, opts);

    TCase *gen = tcase_create("generators");
    tcase_set_timeout(gen, 30);
    tcase_add_test(gen, rng_is_deterministic_per_seed);
    tcase_add_test(gen, rng_below_is_uniform_over_its_range);
    tcase_add_test(gen, zipf_refuses_bad_parameters);
    tcase_add_test(gen, zipf_with_one_or_two_keys_stays_in_range);
    tcase_add_test(gen, zipf_frequencies_follow_the_power_law);
    suite_add_tcase(s, gen);

    TCase *hist = tcase_create("histogram");
    tcase_add_test(hist, hist_counts_small_values_exactly);
    tcase_add_test(hist, hist_buckets_cover_values_within_one_percent);
    tcase_add_test(hist, hist_percentiles_are_at_most_one_percent_high);
    tcase_add_test(hist, hist_uniform_one_to_hundred_thousand);
    tcase_add_test(hist, hist_merge_equals_recording_everything_in_one);
    tcase_add_test(hist, hist_empty_answers_zero);
    suite_add_tcase(s, hist);

    TCase *rate = tcase_create("rate");
    tcase_add_test(rate, rate_zero_is_unlimited);
    tcase_add_test(rate, rate_paces_operations_evenly);
    tcase_add_test(rate, rate_rounds_next_time_up);
    tcase_add_test(rate, rate_does_not_overflow_at_the_limits);
    tcase_add_test(rate, durations_format_in_readable_units);
    suite_add_tcase(s, rate);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bench_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
