/*
 * test_auth_cluster.c - users, roles and permissions on a real 3-node
 * cluster: the auth table, set up through a follower (its changes are
 * forwarded or redirected to the leader, passwords hashed on the node that
 * received them), reaches every node; each follower enforces the same
 * permissions on follower reads, serializable reads and watch creation; a
 * revoke on the leader takes effect on a connection held to a follower;
 * a follower restarted from its own disk still enforces them.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/authfix.h"
#include "test/e2e/helpers/e2e.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

/* A client of node i only, authenticated as user (NULL: none). */
static struct ms_client *node_client(int i, const char *user, const char *pw)
{
    const char *eps[] = {cl.nodes[i].endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 3000,
                                  .user = user,
                                  .password = pw};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

#define OK(call) ck_assert_msg((call) == 0, "%s: %s", #call, ms_client_errmsg(c))

static int stop_at_once(void *arg, const struct ms_watch_response *r)
{
    (void)arg;
    (void)r;
    return 1;
}

/* Waits until node i reports auth enabled == want. */
static void wait_auth(int i, bool want)
{
    struct ms_client *c = node_client(i, NULL, NULL);
    uint64_t deadline = e2e_now_ms() + 5000;
    bool on = !want;
    while (e2e_now_ms() < deadline) {
        if (ms_auth_status(c, &on, NULL) == 0 && on == want) {
            break;
        }
        usleep(20000);
    }
    ms_client_close(c);
    ck_assert_msg(on == want, "node %d: auth enabled is %d", i, on);
}

/* Node i, as alice: READ on /app/ only. */
static void check_alice(int i)
{
    struct ms_client *c = node_client(i, "alice", "alicepw");
    struct ms_result *r = NULL;
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_get(c, "/app/x", 6, NULL, &r)) != 0 &&
           e2e_now_ms() < deadline) {
        ms_result_free(r); /* the table may still be on its way */
        r = NULL;
        usleep(20000);
    }
    ck_assert_msg(rc == 0, "node %d: %s", i, ms_client_errmsg(c));
    ck_assert_uint_eq(r->range.n_kvs, 1);
    ms_result_free(r);
    struct ms_range_options ser = {.consistency = MS_CONSISTENCY_SERIALIZABLE};
    OK(ms_get(c, "/app/x", 6, &ser, &r));
    ms_result_free(r);
    ck_assert_int_eq(ms_get(c, "/other/y", 8, NULL, &r), MS_EDENIED);
    ms_result_free(r);
    ck_assert_int_eq(ms_get(c, "/other/y", 8, &ser, &r), MS_EDENIED);
    ms_result_free(r);
    ck_assert_int_eq(ms_put(c, "/app/x", 6, "9", 1, 0, false, &r), MS_EDENIED);
    ms_result_free(r);
    struct ms_watch_options bad = {.key = "/other/", .key_len = 7,
                                   .prefix = true};
    ck_assert_int_eq(ms_watch(c, &bad, 3000, stop_at_once, NULL), MS_EDENIED);
    struct ms_watch_options good = {.key = "/app/", .key_len = 5,
                                    .prefix = true, .start_revision = 1};
    ck_assert_int_eq(ms_watch(c, &good, 3000, stop_at_once, NULL), 0);
    ms_client_close(c);
}

START_TEST(auth_replicates_and_followers_enforce_it)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS, "--set",
                           "auth.password_iterations=1000", NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader elected");
    int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;

    /* Everything set up through a follower. */
    struct ms_client *c = node_client(f1, NULL, NULL);
    struct ms_result *r = NULL;
    e2e_auth_make_users(c);
    ms_client_close(c);
    for (int i = 0; i < 3; i++) {
        wait_auth(i, true);
        check_alice(i);
    }

    /* A revoke on the leader reaches a connection held to a follower. */
    struct ms_client *alice = node_client(f2, "alice", "alicepw");
    OK(ms_get(alice, "/app/x", 6, NULL, &r));
    ms_result_free(r);
    c = node_client(leader, "root", "rootpw");
    OK(ms_user_revoke_role(c, "alice", "app"));
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_get(alice, "/app/x", 6, NULL, &r)) == 0 &&
           e2e_now_ms() < deadline) {
        ms_result_free(r);
        r = NULL;
        usleep(10000);
    }
    ck_assert_int_eq(rc, MS_EDENIED);
    ms_result_free(r);
    OK(ms_user_grant_role(c, "alice", "app"));
    ms_client_close(c);
    ms_client_close(alice);

    /* A follower restarted from its own disk enforces the same table. */
    ck_assert_int_eq(cluster_node_kill(&cl, f2), 0);
    ck_assert_int_eq(cluster_node_start(&cl, f2, false, NULL, 10000), 0);
    wait_auth(f2, true);
    check_alice(f2);
}
END_TEST

/* A follower cut off while the table is set up catches up by installing a
 * snapshot, which must carry the table. */
static void snapshot_carries_the_table(const char *engine)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS, "--set",
                           "auth.password_iterations=1000", "--set",
                           "raft.snapshot_entries=50", "--set",
                           "raft.snapshot_keep_entries=10", "--engine", engine,
                           NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader elected");
    int f = (leader + 1) % 3;
    ck_assert_int_eq(cluster_isolate(&cl, f), 0);

    struct ms_client *c = node_client(leader, NULL, NULL);
    struct ms_result *r = NULL;
    e2e_auth_make_users(c);
    ms_client_close(c);
    c = node_client(leader, "root", "rootpw");
    for (int i = 0; i < 150; i++) {
        OK(ms_put(c, "/fill", 5, "v", 1, 0, false, &r));
        ms_result_free(r);
    }
    ms_client_close(c);
    /* The fault hook is root-only once auth is on (f has not heard of it
     * yet: its table is still empty). */
    for (int i = 0; i < 3; i++) {
        c = i == f ? node_client(i, NULL, NULL)
                   : node_client(i, "root", "rootpw");
        OK(ms_fault(c, MS_FAULT_HEAL_ALL, 0, &r));
        ms_result_free(r);
        ms_client_close(c);
    }
    uint64_t deadline = e2e_now_ms() + 10000;
    while (!cluster_log_contains(&cl, f, "installed snapshot") &&
           e2e_now_ms() < deadline) {
        usleep(50000);
    }
    ck_assert_msg(cluster_log_contains(&cl, f, "installed snapshot"),
                  "the follower caught up without a snapshot");
    wait_auth(f, true);
    check_alice(f);
}

START_TEST(snapshot_install_carries_the_table_memory)
{
    snapshot_carries_the_table("memory");
}
END_TEST

START_TEST(snapshot_install_carries_the_table_rocksdb)
{
    snapshot_carries_the_table("rocksdb");
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_auth");
    TCase *tc = tcase_create("auth");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, auth_replicates_and_followers_enforce_it);
    tcase_add_test(tc, snapshot_install_carries_the_table_memory);
    tcase_add_test(tc, snapshot_install_carries_the_table_rocksdb);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
