/*
 * test_cli.c - metastore-cli against a real one-node metastored: every
 * command of the single-node release, with etcdctl's output.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/e2e/helpers/e2e.h"

static struct e2e_server srv;
static char out[65536];
static char err[8192];

static void setup(void)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
}

static void teardown(void)
{
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}

#define CLI(input, ...)                                                        \
    e2e_cli(srv.endpoint, input, out, sizeof out, err, sizeof err,             \
            (const char *const[]){__VA_ARGS__, NULL})

START_TEST(put_then_get_prints_key_and_value)
{
    ck_assert_int_eq(CLI(NULL, "put", "foo", "bar"), 0);
    ck_assert_str_eq(out, "OK\n");
    ck_assert_int_eq(CLI(NULL, "get", "foo"), 0);
    ck_assert_str_eq(out, "foo\nbar\n");
    ck_assert_int_eq(CLI(NULL, "get", "foo", "--print-value-only"), 0);
    ck_assert_str_eq(out, "bar\n");
}
END_TEST

START_TEST(get_missing_key_prints_nothing_and_succeeds)
{
    ck_assert_int_eq(CLI(NULL, "get", "nothing-here"), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(put_prev_kv_prints_previous_pair)
{
    ck_assert_int_eq(CLI(NULL, "put", "k", "v1"), 0);
    ck_assert_int_eq(CLI(NULL, "put", "k", "v2", "--prev-kv"), 0);
    ck_assert_str_eq(out, "OK\nk\nv1\n");
}
END_TEST

START_TEST(get_prefix_limit_keys_only_count_only)
{
    const char *keys[] = {"app/a", "app/b", "app/c", "other"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(CLI(NULL, "put", keys[i], "x"), 0);
    }
    ck_assert_int_eq(CLI(NULL, "get", "app/", "--prefix"), 0);
    ck_assert_str_eq(out, "app/a\nx\napp/b\nx\napp/c\nx\n");
    ck_assert_int_eq(CLI(NULL, "get", "app/", "--prefix", "--limit", "2"), 0);
    ck_assert_str_eq(out, "app/a\nx\napp/b\nx\n");
    ck_assert_int_eq(CLI(NULL, "get", "app/", "--prefix", "--keys-only"), 0);
    ck_assert_str_eq(out, "app/a\n\napp/b\n\napp/c\n\n");
    ck_assert_int_eq(CLI(NULL, "get", "app/", "--prefix", "--count-only",
                         "-w", "json"),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\"count\":3"));
    ck_assert_int_eq(CLI(NULL, "get", "app/b", "--from-key"), 0);
    ck_assert_str_eq(out, "app/b\nx\napp/c\nx\nother\nx\n");
    ck_assert_int_eq(CLI(NULL, "get", "app/a", "app/c"), 0);
    ck_assert_str_eq(out, "app/a\nx\napp/b\nx\n");
    ck_assert_int_eq(CLI(NULL, "get", "app/", "--prefix", "--order=DESCEND"), 0);
    ck_assert_str_eq(out, "app/c\nx\napp/b\nx\napp/a\nx\n");
}
END_TEST

START_TEST(del_prefix_prints_count)
{
    ck_assert_int_eq(CLI(NULL, "put", "d/1", "x"), 0);
    ck_assert_int_eq(CLI(NULL, "put", "d/2", "x"), 0);
    ck_assert_int_eq(CLI(NULL, "del", "d/", "--prefix"), 0);
    ck_assert_str_eq(out, "2\n");
    ck_assert_int_eq(CLI(NULL, "del", "d/1"), 0);
    ck_assert_str_eq(out, "0\n");
    ck_assert_int_eq(CLI(NULL, "get", "d/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(get_old_revision_then_compaction)
{
    ck_assert_int_eq(CLI(NULL, "put", "r", "one"), 0);   /* rev 2 */
    ck_assert_int_eq(CLI(NULL, "put", "r", "two"), 0);   /* rev 3 */
    ck_assert_int_eq(CLI(NULL, "get", "r", "--rev", "2"), 0);
    ck_assert_str_eq(out, "r\none\n");
    ck_assert_int_eq(CLI(NULL, "compaction", "3"), 0);
    ck_assert_str_eq(out, "compacted revision 3\n");
    ck_assert_int_ne(CLI(NULL, "get", "r", "--rev", "2"), 0);
    ck_assert_ptr_nonnull(strstr(err, "compacted"));
    ck_assert_int_eq(CLI(NULL, "get", "r"), 0);
    ck_assert_str_eq(out, "r\ntwo\n");
}
END_TEST

START_TEST(txn_from_stdin_takes_the_right_branch)
{
    ck_assert_int_eq(CLI(NULL, "put", "t", "v1"), 0);
    ck_assert_int_eq(
        CLI("value(\"t\") = \"v1\"\n\nput t v2\n\nput t failed\n", "txn"), 0);
    ck_assert_str_eq(out, "SUCCESS\n\nOK\n");
    ck_assert_int_eq(CLI(NULL, "get", "t", "--print-value-only"), 0);
    ck_assert_str_eq(out, "v2\n");
    ck_assert_int_eq(
        CLI("value(\"t\") = \"v1\"\n\nput t v3\n\nget t\n", "txn"), 0);
    ck_assert_str_eq(out, "FAILURE\n\nt\nv2\n");
    ck_assert_int_eq(CLI("version(\"t\") > \"1\"\nmod(\"t\") > \"0\"\n\n"
                         "del t\n\n\n",
                         "txn"),
                     0);
    ck_assert_str_eq(out, "SUCCESS\n\n1\n");
}
END_TEST

START_TEST(txn_with_bad_syntax_fails_with_message)
{
    ck_assert_int_ne(CLI("value(\"t\" = \"v1\"\n\n\n\n", "txn"), 0);
    ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(endpoint_status_and_health)
{
    ck_assert_int_eq(CLI(NULL, "endpoint", "status", "-w", "json"), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"leader\":1"));
    ck_assert_int_eq(CLI(NULL, "endpoint", "status", "-w", "table"), 0);
    ck_assert_ptr_nonnull(strstr(out, "IS LEADER"));
    ck_assert_ptr_nonnull(strstr(out, srv.endpoint));
    ck_assert_int_eq(CLI(NULL, "endpoint", "health"), 0);
    ck_assert_ptr_nonnull(strstr(out, "is healthy"));
}
END_TEST

START_TEST(serializable_get_sees_acknowledged_write)
{
    ck_assert_int_eq(CLI(NULL, "put", "s", "local"), 0);
    ck_assert_int_eq(CLI(NULL, "get", "s", "--consistency=s"), 0);
    ck_assert_str_eq(out, "s\nlocal\n");
}
END_TEST

START_TEST(bad_requests_exit_non_zero_with_a_message)
{
    ck_assert_int_ne(CLI(NULL, "put", "", "v"), 0);
    ck_assert_str_ne(err, "");
    ck_assert_int_ne(CLI(NULL, "get", "b", "a"), 0); /* range_end < key */
    ck_assert_ptr_nonnull(strstr(err, "range_end"));
    ck_assert_int_ne(CLI(NULL, "no-such-command"), 0);
    /* The server is still fine. */
    ck_assert_int_eq(CLI(NULL, "put", "after", "ok"), 0);
}
END_TEST

START_TEST(unreachable_endpoint_fails)
{
    char ep[64];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", e2e_free_port());
    int rc = e2e_cli(ep, NULL, out, sizeof out, err, sizeof err,
                     (const char *const[]){"--dial-timeout=300ms", "get", "x",
                                           NULL});
    ck_assert_int_ne(rc, 0);
    ck_assert_str_ne(err, "");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("one node");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, put_then_get_prints_key_and_value);
    tcase_add_test(tc, get_missing_key_prints_nothing_and_succeeds);
    tcase_add_test(tc, put_prev_kv_prints_previous_pair);
    tcase_add_test(tc, get_prefix_limit_keys_only_count_only);
    tcase_add_test(tc, del_prefix_prints_count);
    tcase_add_test(tc, get_old_revision_then_compaction);
    tcase_add_test(tc, txn_from_stdin_takes_the_right_branch);
    tcase_add_test(tc, txn_with_bad_syntax_fails_with_message);
    tcase_add_test(tc, endpoint_status_and_health);
    tcase_add_test(tc, serializable_get_sees_acknowledged_write);
    tcase_add_test(tc, bad_requests_exit_non_zero_with_a_message);
    tcase_add_test(tc, unreachable_endpoint_fails);
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
