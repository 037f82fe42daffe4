/*
 * test_bench_tls.c - metastore-bench's TLS flags (client/bench_util.h):
 * each lands in its own field, any of them turns TLS on, none leaves it
 * off.
 */
#include <check.h>
#include <stdlib.h>

#include "client/bench_util.h"

static int parse(char **argv, int argc, struct bench_opts *o)
{
    char err[256];
    return bench_opts_parse(argc, argv, o, err, sizeof(err));
}

START_TEST(tls_flags_fill_their_own_fields)
{
    char *argv[] = {"bench", "--cacert", "ca.pem", "--cert=c.pem",
                    "--key", "k.pem", "--insecure-skip-tls-verify"};
    struct bench_opts o;
    ck_assert_int_eq(parse(argv, 7, &o), 0);
    ck_assert(o.tls);
    ck_assert_str_eq(o.cacert, "ca.pem");
    ck_assert_str_eq(o.cert, "c.pem");
    ck_assert_str_eq(o.key, "k.pem");
    ck_assert(o.insecure_skip_verify);
    bench_opts_free(&o);
}
END_TEST

START_TEST(no_tls_flag_means_plain_tcp)
{
    char *argv[] = {"bench", "--conns", "2"};
    struct bench_opts o;
    ck_assert_int_eq(parse(argv, 3, &o), 0);
    ck_assert(!o.tls);
    ck_assert_ptr_null(o.cacert);
    bench_opts_free(&o);
    char *argv2[] = {"bench", "--key", "k.pem"};
    ck_assert_int_eq(parse(argv2, 3, &o), 0);
    ck_assert(o.tls);
    ck_assert_ptr_null(o.cert);
    ck_assert_str_eq(o.key, "k.pem");
    bench_opts_free(&o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_tls_flags");
    TCase *tc = tcase_create("flags");
    tcase_add_test(tc, tls_flags_fill_their_own_fields);
    tcase_add_test(tc, no_tls_flag_means_plain_tcp);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
