/*
 * test_elect_cluster.c - `metastore-cli elect` and `lock` on three real
 * nodes, the campaigners given every endpoint (the Raft leader's first, so
 * their connections and keep-alives start on the node that is killed):
 *   - the elected leader stays elected through the death (-9) of the Raft
 *     leader node: for three lease TTLs after the kill it keeps running,
 *     its key stays, and no other candidate claims leadership; then it
 *     resigns and the next candidate leads at once on the two survivors;
 *   - a lock holder keeps the lock through the same failover, and a waiter
 *     takes it when the holder releases.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cliproc.h"
#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

#define TTL_S 2

static struct cluster cl;
static char tmp[256];
static char eps[512]; /* every endpoint, the Raft leader's first */

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

/* Starts three nodes; returns the Raft leader's index and fills eps. */
static int start3(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/metastore-elect-cl-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    const char *extra[] = {CLUSTER_FAST_FLAGS, "--set", "ttl.min_ttl=1s",
                           NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no Raft leader");
    snprintf(eps, sizeof eps, "%s", cl.nodes[leader].endpoint);
    for (int i = 0; i < 3; i++) {
        if (i != leader) {
            strcat(eps, ",");
            strcat(eps, cl.nodes[i].endpoint);
        }
    }
    return leader;
}

/* Linearizable count of the keys under prefix through the survivors;
 * -1 when no node answered in time. */
static int count_keys(const char *prefix)
{
    struct ms_client *c = cluster_client(&cl, -1, 2000);
    struct ms_range_options o = {.prefix = true, .count_only = true};
    struct ms_result *r = NULL;
    int rc = ms_get(c, prefix, strlen(prefix), &o, &r);
    int n = rc == 0 ? (int)r->range.count : -1;
    ms_result_free(r);
    ms_client_close(c);
    return n;
}

static void wait_keys(const char *prefix, int n)
{
    uint64_t deadline = e2e_now_ms() + 10000;
    while (count_keys(prefix) != n && e2e_now_ms() < deadline) {
        usleep(20000); /* candidates still starting */
    }
    ck_assert_int_eq(count_keys(prefix), n);
}

/* Indexes of the processes that printed something, as a bit set. */
static unsigned printed(struct cliproc *p, int n)
{
    unsigned set = 0;
    for (int i = 0; i < n; i++) {
        char buf[64];
        if (cliproc_out(&p[i], buf, sizeof buf) > 0) {
            set |= 1u << i;
        }
    }
    return set;
}

static int wait_printed(struct cliproc *p, int n, unsigned *set,
                        int want_bits, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (__builtin_popcount(*set = printed(p, n)) < want_bits &&
           e2e_now_ms() < deadline) {
        usleep(10000); /* until a candidate prints */
    }
    return __builtin_popcount(*set);
}

START_TEST(elected_leader_survives_the_raft_leaders_death)
{
    int raft_leader = start3();
    enum { N = 3 };
    struct cliproc p[N];
    const char *props[N] = {"c0", "c1", "c2"};
    for (int i = 0; i < N; i++) {
        cliproc_start(&p[i], tmp, props[i], eps,
                      (const char *const[]){"elect", "--ttl=2", "svc",
                                            props[i], NULL});
    }
    wait_keys("svc/", N);
    unsigned set = 0;
    ck_assert_int_eq(wait_printed(p, N, &set, 1, 5000), 1);
    int elected = __builtin_ctz(set);

    ck_assert_int_eq(cluster_node_kill(&cl, raft_leader), 0);
    /* Three TTLs: long enough for the lease to have expired had the
     * keep-alive not found the new Raft leader. */
    uint64_t end = e2e_now_ms() + 3 * TTL_S * 1000;
    while (e2e_now_ms() < end) {
        ck_assert_msg(cliproc_running(&p[elected]),
                      "the elected process exited (status %d)",
                      p[elected].status);
        ck_assert_msg(printed(p, N) == set, "a second leader was elected");
        usleep(50000); /* watching for a violation during the window */
    }
    ck_assert_int_eq(count_keys("svc/"), N);

    cliproc_signal(&p[elected], SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&p[elected], 5000), 0);
    unsigned after = 0;
    ck_assert_int_eq(wait_printed(p, N, &after, 2, 5000), 2);
    for (int i = 0; i < N; i++) {
        cliproc_kill(&p[i]);
    }
}
END_TEST

START_TEST(lock_holder_keeps_the_lock_through_raft_failover)
{
    int raft_leader = start3();
    struct cliproc a, b;
    cliproc_start(&a, tmp, "a", eps,
                  (const char *const[]){"lock", "--ttl=2", "mu", NULL});
    ck_assert(cliproc_wait_out(&a, "mu/", 10000));
    cliproc_start(&b, tmp, "b", eps,
                  (const char *const[]){"lock", "--ttl=2", "mu", NULL});
    wait_keys("mu/", 2);
    ck_assert_int_eq(cluster_node_kill(&cl, raft_leader), 0);
    uint64_t end = e2e_now_ms() + 3 * TTL_S * 1000;
    char buf[64];
    while (e2e_now_ms() < end) {
        ck_assert_msg(cliproc_running(&a), "the holder exited (status %d)",
                      a.status);
        ck_assert_msg(cliproc_out(&b, buf, sizeof buf) == 0,
                      "the waiter took a lock that is held");
        usleep(50000); /* watching for a violation during the window */
    }
    cliproc_signal(&a, SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&a, 5000), 0);
    ck_assert(cliproc_wait_out(&b, "mu/", 5000));
    cliproc_kill(&b);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_elect");
    TCase *tc = tcase_create("elect");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, elected_leader_survives_the_raft_leaders_death);
    tcase_add_test(tc, lock_holder_keeps_the_lock_through_raft_failover);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
