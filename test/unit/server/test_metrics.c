/*
 * test_metrics.c - the metrics registry (server/metrics.h): declaration
 * rules, counter/gauge/histogram semantics, and the exact Prometheus text
 * format 0.0.4 it renders (HELP/TYPE lines, label escaping, cumulative
 * buckets with +Inf, _sum and _count, number spelling).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/metrics.h"

static struct metrics *m;

static void setup(void)
{
    ck_assert_int_eq(metrics_create(&m), 0);
}

static void teardown(void)
{
    metrics_destroy(m);
}

/* Renders and compares with `want` exactly. */
static void expect_render(const char *want)
{
    char *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(metrics_render(m, &out, &len), 0);
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_str_eq(out, want);
    free(out);
}

START_TEST(counter_and_gauge_render_with_help_and_type)
{
    struct metrics_family *c, *g;
    ck_assert_int_eq(metrics_declare(m, METRICS_COUNTER, "x_total",
                                     "Things done.", 0, NULL, 0, NULL, &c),
                     0);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "y", NULL, 0, NULL, 0, NULL, &g), 0);
    ck_assert_int_eq(metrics_add(c, NULL, 2), 0);
    ck_assert_int_eq(metrics_add(c, NULL, 3), 0);
    ck_assert_int_eq(metrics_set(g, NULL, -1.5), 0);
    expect_render("# HELP x_total Things done.\n"
                  "# TYPE x_total counter\n"
                  "x_total 5\n"
                  "# TYPE y gauge\n"
                  "y -1.5\n");
}
END_TEST

START_TEST(labelled_series_render_in_first_use_order_with_escaping)
{
    static const char *const names[2] = {"method", "status"};
    struct metrics_family *f;
    ck_assert_int_eq(metrics_declare(m, METRICS_COUNTER, "req_total",
                                     "Back\\slash and\nnewline.", 2, names, 0,
                                     NULL, &f),
                     0);
    const char *a[2] = {"PUT", "OK"};
    const char *b[2] = {"a\"b\\c\nd", "X"};
    ck_assert_int_eq(metrics_set(f, a, 7), 0);
    ck_assert_int_eq(metrics_set(f, b, 1), 0);
    ck_assert_int_eq(metrics_add(f, a, 1), 0);
    expect_render("# HELP req_total Back\\\\slash and\\nnewline.\n"
                  "# TYPE req_total counter\n"
                  "req_total{method=\"PUT\",status=\"OK\"} 8\n"
                  "req_total{method=\"a\\\"b\\\\c\\nd\",status=\"X\"} 1\n");
}
END_TEST

START_TEST(histogram_buckets_are_cumulative_and_le_inclusive)
{
    static const char *const names[1] = {"path"};
    const double bounds[3] = {0.1, 0.5, 1};
    struct metrics_family *f;
    ck_assert_int_eq(metrics_declare(m, METRICS_HISTOGRAM, "lat_seconds",
                                     "Latency.", 1, names, 3, bounds, &f),
                     0);
    const char *lv[1] = {"fast"};
    /* 0.1 lands in le="0.1" (bounds are inclusive); 2 only in +Inf. */
    ck_assert_int_eq(metrics_observe(f, lv, 0.1), 0);
    ck_assert_int_eq(metrics_observe(f, lv, 0.25), 0);
    ck_assert_int_eq(metrics_observe(f, lv, 0.5), 0);
    ck_assert_int_eq(metrics_observe(f, lv, 2), 0);
    expect_render("# HELP lat_seconds Latency.\n"
                  "# TYPE lat_seconds histogram\n"
                  "lat_seconds_bucket{path=\"fast\",le=\"0.1\"} 1\n"
                  "lat_seconds_bucket{path=\"fast\",le=\"0.5\"} 3\n"
                  "lat_seconds_bucket{path=\"fast\",le=\"1\"} 3\n"
                  "lat_seconds_bucket{path=\"fast\",le=\"+Inf\"} 4\n"
                  "lat_seconds_sum{path=\"fast\"} 2.85\n"
                  "lat_seconds_count{path=\"fast\"} 4\n");
}
END_TEST

START_TEST(histogram_load_replaces_counts_without_labels)
{
    const double bounds[2] = {1, 10};
    struct metrics_family *f;
    ck_assert_int_eq(metrics_declare(m, METRICS_HISTOGRAM, "batch", NULL, 0,
                                     NULL, 2, bounds, &f),
                     0);
    ck_assert_int_eq(metrics_observe(f, NULL, 5), 0);
    const uint64_t counts[3] = {4, 0, 2};
    ck_assert_int_eq(metrics_histogram_load(f, NULL, counts, 40), 0);
    expect_render("# TYPE batch histogram\n"
                  "batch_bucket{le=\"1\"} 4\n"
                  "batch_bucket{le=\"10\"} 4\n"
                  "batch_bucket{le=\"+Inf\"} 6\n"
                  "batch_sum 40\n"
                  "batch_count 6\n");
}
END_TEST

START_TEST(declaring_again_returns_the_same_family_or_refuses_a_new_shape)
{
    static const char *const l1[1] = {"peer"};
    static const char *const l2[1] = {"node"};
    struct metrics_family *a, *b;
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "up", "Up.", 1, l1, 0, NULL, &a), 0);
    ck_assert_int_eq(metrics_declare(m, METRICS_GAUGE, "up", "Other help.", 1,
                                     l1, 0, NULL, &b),
                     0);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_COUNTER, "up", NULL, 1, l1, 0, NULL, &b),
        METRICS_EMISMATCH);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "up", NULL, 1, l2, 0, NULL, &b),
        METRICS_EMISMATCH);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "up", NULL, 0, NULL, 0, NULL, &b),
        METRICS_EMISMATCH);
    const double b1[1] = {1}, b2[1] = {2};
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL, 1, b1, &a),
        0);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL, 1, b2, &b),
        METRICS_EMISMATCH);
}
END_TEST

START_TEST(invalid_names_labels_and_buckets_are_refused)
{
    struct metrics_family *f;
    static const char *const dunder[1] = {"__name"};
    static const char *const le[1] = {"le"};
    static const char *const dup[2] = {"a", "a"};
    static const char *const colon[1] = {"a:b"};
    const double unsorted[2] = {2, 1};
    const double inf[1] = {INFINITY};
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "1abc", NULL, 0, NULL, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "a-b", NULL, 0, NULL, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "", NULL, 0, NULL, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "g", NULL, 1, dunder, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "g", NULL, 2, dup, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "g", NULL, 1, colon, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 1, le, 1, inf + 0, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL,
                                     2, unsorted, &f),
                     METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL, 1, inf, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL, 0, NULL, &f),
        METRICS_EINVAL);
    ck_assert_int_eq(metrics_declare(m, METRICS_GAUGE, "ns:sub_total", NULL, 0,
                                     NULL, 0, NULL, &f),
                     0); /* colons are fine in metric names */
    expect_render("# TYPE ns:sub_total gauge\n");
}
END_TEST

START_TEST(operations_check_the_family_type_and_values)
{
    static const char *const l[1] = {"k"};
    const double b[1] = {1};
    struct metrics_family *c, *h;
    ck_assert_int_eq(
        metrics_declare(m, METRICS_COUNTER, "c", NULL, 1, l, 0, NULL, &c), 0);
    ck_assert_int_eq(
        metrics_declare(m, METRICS_HISTOGRAM, "h", NULL, 0, NULL, 1, b, &h), 0);
    const char *lv[1] = {"v"};
    ck_assert_int_eq(metrics_add(c, lv, -1), METRICS_EINVAL);
    ck_assert_int_eq(metrics_add(c, lv, NAN), METRICS_EINVAL);
    ck_assert_int_eq(metrics_set(c, NULL, 1), METRICS_EINVAL); /* labels */
    ck_assert_int_eq(metrics_observe(c, lv, 1), METRICS_ETYPE);
    ck_assert_int_eq(metrics_set(h, NULL, 1), METRICS_ETYPE);
    ck_assert_int_eq(metrics_add(h, NULL, 1), METRICS_ETYPE);
    ck_assert_int_eq(metrics_observe(h, NULL, NAN), METRICS_EINVAL);
    ck_assert_str_eq(metrics_strerror(METRICS_EMISMATCH),
                     "metric declared again with another shape");
}
END_TEST

START_TEST(family_clear_drops_series_but_keeps_the_family)
{
    static const char *const l[1] = {"peer"};
    struct metrics_family *f;
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "peer_up", "Up.", 1, l, 0, NULL, &f),
        0);
    const char *p2[1] = {"2"}, *p3[1] = {"3"};
    ck_assert_int_eq(metrics_set(f, p2, 1), 0);
    ck_assert_int_eq(metrics_set(f, p3, 0), 0);
    metrics_family_clear(f);
    ck_assert_int_eq(metrics_set(f, p3, 1), 0);
    expect_render("# HELP peer_up Up.\n"
                  "# TYPE peer_up gauge\n"
                  "peer_up{peer=\"3\"} 1\n");
}
END_TEST

START_TEST(numbers_use_shortest_exact_and_special_spellings)
{
    static const char *const l[1] = {"v"};
    struct metrics_family *f;
    ck_assert_int_eq(
        metrics_declare(m, METRICS_GAUGE, "n", NULL, 1, l, 0, NULL, &f), 0);
    const char *a[1] = {"a"}, *b[1] = {"b"}, *c[1] = {"c"}, *d[1] = {"d"},
               *e[1] = {"e"}, *g[1] = {"g"};
    ck_assert_int_eq(metrics_set(f, a, 0.1), 0);
    ck_assert_int_eq(metrics_set(f, b, 1e-9), 0);
    ck_assert_int_eq(metrics_set(f, c, 18446744073709551615.0), 0);
    ck_assert_int_eq(metrics_set(f, d, NAN), 0);
    ck_assert_int_eq(metrics_set(f, e, -INFINITY), 0);
    ck_assert_int_eq(metrics_set(f, g, 123456789), 0);
    expect_render("# TYPE n gauge\n"
                  "n{v=\"a\"} 0.1\n"
                  "n{v=\"b\"} 1e-09\n"
                  "n{v=\"c\"} 1.8446744073709552e+19\n"
                  "n{v=\"d\"} NaN\n"
                  "n{v=\"e\"} -Inf\n"
                  "n{v=\"g\"} 123456789\n");
}
END_TEST

START_TEST(empty_registry_renders_empty_text)
{
    expect_render("");
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("registry");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counter_and_gauge_render_with_help_and_type);
    tcase_add_test(tc, labelled_series_render_in_first_use_order_with_escaping);
    tcase_add_test(tc, histogram_buckets_are_cumulative_and_le_inclusive);
    tcase_add_test(tc, histogram_load_replaces_counts_without_labels);
    tcase_add_test(
        tc, declaring_again_returns_the_same_family_or_refuses_a_new_shape);
    tcase_add_test(tc, invalid_names_labels_and_buckets_are_refused);
    tcase_add_test(tc, operations_check_the_family_type_and_values);
    tcase_add_test(tc, family_clear_drops_series_but_keeps_the_family);
    tcase_add_test(tc, numbers_use_shortest_exact_and_special_spellings);
    tcase_add_test(tc, empty_registry_renders_empty_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
