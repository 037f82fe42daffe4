/*
 * test_election.c - real 3- and 5-node clusters elect exactly one leader,
 * and a write sent to any node (followers forward it) is seen by a
 * linearizable read on every node.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/e2e/helpers/cluster.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static void start_cluster(int n)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS, NULL};
    cluster_init(&cl, n, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
}

/* Every node takes a write and every node reads every write back. */
static void writes_anywhere_read_everywhere(void)
{
    for (int w = 0; w < cl.n; w++) {
        struct ms_client *c = cluster_client(&cl, w, 3000);
        ck_assert_ptr_nonnull(c);
        char key[32], val[32];
        snprintf(key, sizeof key, "k%d", w);
        snprintf(val, sizeof val, "written-through-node%d", w + 1);
        int rv = cluster_put(c, key, val);
        ck_assert_msg(rv == 0, "put via node %d: %s (%s)", w + 1,
                      ms_strerror(rv), ms_client_errmsg(c));
        ms_client_close(c);
        /* The write was acknowledged: a linearizable read on any node
         * must see it at once, without waiting for replication. */
        for (int r = 0; r < cl.n; r++) {
            struct ms_client *rc = cluster_client(&cl, r, 3000);
            ck_assert_ptr_nonnull(rc);
            char *got = NULL;
            rv = cluster_get(rc, key, &got);
            ck_assert_msg(rv == 0, "get via node %d: %s (%s)", r + 1,
                          ms_strerror(rv), ms_client_errmsg(rc));
            ck_assert_msg(got != NULL && strcmp(got, val) == 0,
                          "node %d read %s = %s, want %s", r + 1, key,
                          got != NULL ? got : "(absent)", val);
            free(got);
            ms_client_close(rc);
        }
    }
}

static void elects_one_leader_and_serves(int n)
{
    start_cluster(n);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "%d nodes agreed on no leader", n);
    /* Exactly one node calls itself leader, and all name it. */
    int leaders = 0;
    for (int i = 0; i < cl.n; i++) {
        struct cluster_status st;
        ck_assert_int_eq(cluster_status(&cl, i, &st), 0);
        leaders += strcmp(st.role, "leader") == 0;
    }
    ck_assert_int_eq(leaders, 1);
    writes_anywhere_read_everywhere();
}

START_TEST(three_nodes_elect_one_leader_and_reads_see_writes_on_every_node)
{
    elects_one_leader_and_serves(3);
}
END_TEST

START_TEST(five_nodes_elect_one_leader_and_reads_see_writes_on_every_node)
{
    elects_one_leader_and_serves(5);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_election");
    TCase *tc = tcase_create("election");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(
        tc, three_nodes_elect_one_leader_and_reads_see_writes_on_every_node);
    tcase_add_test(
        tc, five_nodes_elect_one_leader_and_reads_see_writes_on_every_node);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
