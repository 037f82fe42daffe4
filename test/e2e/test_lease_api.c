/*
 * test_lease_api.c - TTL leases through the client library against one
 * real metastored (server.max_txn_ops = 4): Txn puts attach and Txn
 * deletes detach; a Txn naming an unknown lease fails as a whole; a revoke
 * deletes more keys than a client txn may hold, at one revision; a delete
 * without prev_kv returns none although the server asks the engine for
 * them; Grant's id and TTL rules; background keep-alive reporting a
 * revoked lease as lost.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"

static struct e2e_server srv;
static struct ms_client *c;

static void setup(void)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "server.max_txn_ops=4", "--set",
                           "ttl.max_ttl=1h", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 5000};
    ck_assert_int_eq(ms_client_open(eps, 1, &o, &c), 0);
}

static void teardown(void)
{
    ms_client_close(c);
    bool report = e2e_server_finish(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

static int64_t grant(int64_t ttl)
{
    int64_t id = 0;
    ck_assert_int_eq(ms_lease_grant(c, ttl, 0, &id, NULL), 0);
    ck_assert_int_gt(id, 0);
    return id;
}

static size_t attached(int64_t id)
{
    struct ms_lease_info *info = NULL;
    ck_assert_int_eq(ms_lease_time_to_live(c, id, true, &info), 0);
    size_t n = info->n_keys;
    ms_lease_info_free(info);
    return n;
}

static int64_t revision(void)
{
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "zz", 2, NULL, &r), 0);
    int64_t rev = r->header.revision;
    ms_result_free(r);
    return rev;
}

static bool exists(const char *k)
{
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, k, strlen(k), NULL, &r), 0);
    bool yes = r->range.n_kvs > 0;
    ms_result_free(r);
    return yes;
}

START_TEST(txn_attaches_and_detaches)
{
    int64_t id = grant(60);
    struct ms_op puts[2] = {
        {.type = MS_OP_PUT, .key = "a", .key_len = 1, .value = "1",
         .value_len = 1, .lease = id},
        {.type = MS_OP_PUT, .key = "b", .key_len = 1, .value = "1",
         .value_len = 1, .lease = id},
    };
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_txn(c, NULL, 0, puts, 2, NULL, 0, &r), 0);
    ms_result_free(r);
    ck_assert_uint_eq(attached(id), 2);
    struct ms_op del = {.type = MS_OP_DELETE, .key = "a", .key_len = 1};
    ck_assert_int_eq(ms_txn(c, NULL, 0, &del, 1, NULL, 0, &r), 0);
    ck_assert_uint_eq(r->txn.n_responses, 1);
    ck_assert_int_eq(r->txn.responses[0].del.deleted, 1);
    ck_assert_uint_eq(r->txn.responses[0].del.n_prev_kvs, 0);
    ms_result_free(r);
    ck_assert_uint_eq(attached(id), 1);
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    ck_assert(!exists("b"));
}
END_TEST

START_TEST(txn_naming_unknown_lease_fails_as_a_whole)
{
    int64_t id = grant(60);
    struct ms_compare cmp = {.target = MS_CMP_VERSION, .op = MS_CMP_EQUAL,
                             .key = "nokey", .key_len = 5, .number = 0};
    struct ms_op ok = {.type = MS_OP_PUT, .key = "t1", .key_len = 2,
                       .value = "v", .value_len = 1, .lease = id};
    struct ms_op bad = {.type = MS_OP_PUT, .key = "t2", .key_len = 2,
                        .value = "v", .value_len = 1, .lease = id + 1000};
    struct ms_result *r = NULL;
    int64_t before = revision();
    ck_assert_int_eq(ms_txn(c, &cmp, 1, &ok, 1, &bad, 1, &r), MS_ENOTFOUND);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->message, "requested lease not found");
    ms_result_free(r);
    ck_assert_int_eq(revision(), before);
    ck_assert(!exists("t1"));
    ck_assert_uint_eq(attached(id), 0);
}
END_TEST

START_TEST(revoke_deletes_more_keys_than_a_txn_holds_at_one_revision)
{
    int64_t id = grant(60);
    for (int i = 0; i < 10; i++) {
        char k[32];
        snprintf(k, sizeof k, "many/%d", i);
        struct ms_result *r = NULL;
        ck_assert_int_eq(ms_put(c, k, strlen(k), "v", 1, id, false, &r), 0);
        ms_result_free(r);
    }
    ck_assert_uint_eq(attached(id), 10);
    int64_t before = revision();
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    ck_assert_int_eq(revision(), before + 1);
    struct ms_range_options o = {.prefix = true, .count_only = true};
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "many/", 5, &o, &r), 0);
    ck_assert_int_eq(r->range.count, 0);
    ms_result_free(r);
    /* A revoke of a lease without keys does not move the revision. */
    id = grant(60);
    before = revision();
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    ck_assert_int_eq(revision(), before);
}
END_TEST

START_TEST(delete_without_prev_kv_returns_none_and_detaches)
{
    int64_t id = grant(60);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "d/1", 3, "v", 1, id, false, &r), 0);
    ms_result_free(r);
    ck_assert_int_eq(ms_put(c, "d/2", 3, "v", 1, 0, false, &r), 0);
    ms_result_free(r);
    struct ms_range_options o = {.prefix = true};
    ck_assert_int_eq(ms_delete(c, "d/", 2, &o, false, &r), 0);
    ck_assert_int_eq(r->del.deleted, 2);
    ck_assert_uint_eq(r->del.n_prev_kvs, 0);
    ms_result_free(r);
    ck_assert_uint_eq(attached(id), 0);
    ck_assert_int_eq(ms_delete(c, "nothing", 7, NULL, true, &r), 0);
    ms_result_free(r);
}
END_TEST

START_TEST(grant_id_and_ttl_rules)
{
    int64_t id = 0, ttl = 0;
    ck_assert_int_eq(ms_lease_grant(c, 30, 0x1234, &id, &ttl), 0);
    ck_assert_int_eq(id, 0x1234);
    ck_assert_int_eq(ttl, 30);
    ck_assert_int_eq(ms_lease_grant(c, 30, 0x1234, &id, &ttl),
                     MS_EPRECONDITION);
    ck_assert_int_eq(ms_lease_grant(c, 1, 0, &id, &ttl), 0);
    ck_assert_int_eq(ttl, 2); /* raised to ttl.min_ttl */
    ck_assert_int_eq(ms_lease_grant(c, 3601, 0, &id, &ttl), MS_EINVAL);
    ck_assert_int_eq(ms_lease_revoke(c, 0x999999), MS_ENOTFOUND);
    int64_t *ids = NULL;
    size_t n = 0;
    ck_assert_int_eq(ms_lease_leases(c, &ids, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_lt(ids[0], ids[1]);
    free(ids);
}
END_TEST

struct lost_note {
    volatile int lost_err;
};

static void on_keepalive(void *arg, int64_t id, int64_t ttl, int err)
{
    (void)id;
    (void)ttl;
    struct lost_note *n = arg;
    if (err != 0) {
        __atomic_store_n(&n->lost_err, err, __ATOMIC_SEQ_CST);
    }
}

START_TEST(background_keepalive_reports_revoked_lease)
{
    int64_t id = grant(3);
    const char *eps[] = {srv.endpoint};
    struct lost_note note = {0};
    struct ms_keepalive *ka = NULL;
    ck_assert_int_eq(
        ms_keepalive_start(eps, 1, id, on_keepalive, &note, &ka), 0);
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    uint64_t deadline = e2e_now_ms() + 5000;
    while (!ms_keepalive_lost(ka) && e2e_now_ms() < deadline) {
        usleep(20000); /* the next renewal (TTL/3) finds the lease gone */
    }
    ck_assert(ms_keepalive_lost(ka));
    ck_assert_int_eq(__atomic_load_n(&note.lost_err, __ATOMIC_SEQ_CST),
                     MS_ENOTFOUND);
    ms_keepalive_stop(ka);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lease_api");
    TCase *tc = tcase_create("lease_api");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, txn_attaches_and_detaches);
    tcase_add_test(tc, txn_naming_unknown_lease_fails_as_a_whole);
    tcase_add_test(tc,
                   revoke_deletes_more_keys_than_a_txn_holds_at_one_revision);
    tcase_add_test(tc, delete_without_prev_kv_returns_none_and_detaches);
    tcase_add_test(tc, grant_id_and_ttl_rules);
    tcase_add_test(tc, background_keepalive_reports_revoked_lease);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
