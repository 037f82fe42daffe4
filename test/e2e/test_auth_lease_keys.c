/*
 * test_auth_lease_keys.c - LeaseTimeToLive with keys names every key
 * attached to a lease.  Any authenticated user may ask about a lease, but
 * the key names are data like any other: a user must not learn the names of
 * keys it may not read (etcd fixed the same leak, CVE-2023-32082).
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "client/metastore.h"
#include "test/e2e/helpers/authfix.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"

static struct e2e_server srv;

static void setup(void)
{
    static const char *const flags[] = {
        "--set", "auth.password_iterations=1000", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, flags, 10000), 0);
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

static struct ms_client *client_as(const char *user, const char *pw)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 3000,
                                  .user = user,
                                  .password = pw};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

START_TEST(time_to_live_keys_need_read_on_every_key)
{
    struct ms_client *c = client_as(NULL, NULL);
    e2e_auth_make_users(c); /* alice: READ on /app/ only; auth enabled */
    ms_client_close(c);

    /* root attaches /other/secret (alice may not read it) and /app/y. */
    struct ms_client *root = client_as("root", "rootpw");
    int64_t other = 0, mine = 0, ttl = 0;
    ck_assert_int_eq(ms_lease_grant(root, 60, 0, &other, &ttl), 0);
    ck_assert_int_eq(ms_lease_grant(root, 60, 0, &mine, &ttl), 0);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(root, "/other/secret", 13, "v", 1, other, false,
                            &r),
                     0);
    ms_result_free(r);
    ck_assert_int_eq(ms_put(root, "/app/y", 6, "v", 1, mine, false, &r), 0);
    ms_result_free(r);

    struct ms_client *alice = client_as("alice", "alicepw");
    struct ms_lease_info *info = NULL;
    /* Without keys: allowed, nothing read. */
    ck_assert_int_eq(ms_lease_time_to_live(alice, other, false, &info), 0);
    ck_assert_uint_eq(info->n_keys, 0);
    ms_lease_info_free(info);
    info = NULL;
    /* With keys: the key name is not alice's to read. */
    ck_assert_int_eq(ms_lease_time_to_live(alice, other, true, &info),
                     MS_EDENIED);
    ck_assert_ptr_null(info);
    /* Keys alice may read are listed. */
    ck_assert_int_eq(ms_lease_time_to_live(alice, mine, true, &info), 0);
    ck_assert_uint_eq(info->n_keys, 1);
    ck_assert_int_eq(memcmp(info->keys[0].key, "/app/y", 6), 0);
    ms_lease_info_free(info);
    info = NULL;
    /* root sees everything. */
    ck_assert_int_eq(ms_lease_time_to_live(root, other, true, &info), 0);
    ck_assert_uint_eq(info->n_keys, 1);
    ms_lease_info_free(info);
    ms_client_close(alice);
    ms_client_close(root);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_lease_keys");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, time_to_live_keys_need_read_on_every_key);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
