/*
 * test_snapshot.c - a follower that was down while the leader wrote many
 * entries and compacted its log catches up by InstallSnapshot, and then
 * holds exactly the leader's data.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

#define KEYS 600

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

START_TEST(follower_far_behind_catches_up_by_snapshot)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS,
                           "--set",
                           "raft.snapshot_entries=100",
                           "--set",
                           "raft.snapshot_keep_entries=10",
                           NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0);
    int behind = (leader + 1) % cl.n;
    ck_assert_int_eq(cluster_node_kill(&cl, behind), 0);

    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < KEYS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "snap/%04d", i);
        snprintf(v, sizeof v, "v%d", i * 7);
        int rv = cluster_put(c, k, v);
        ck_assert_msg(rv == 0, "put %s: %s", k, ms_strerror(rv));
    }
    ms_client_close(c);
    ck_assert_msg(cluster_log_contains(&cl, leader, "snapshot at index"),
                  "the leader never took a snapshot");

    ck_assert_int_eq(cluster_node_start(&cl, behind, false, NULL, 10000), 0);
    struct cluster_status st;
    ck_assert_int_eq(cluster_status(&cl, leader, &st), 0);
    ck_assert_msg(cluster_wait_applied(&cl, behind, st.applied, 10000) == 0,
                  "follower did not catch up to %llu",
                  (unsigned long long)st.applied);
    ck_assert_msg(cluster_log_contains(&cl, behind, "installed snapshot"),
                  "the follower caught up without a snapshot");

    /* Its own state (serializable: no help from the leader) is complete. */
    c = cluster_client(&cl, behind, 3000);
    ck_assert_ptr_nonnull(c);
    struct ms_range_options o = {.prefix = true,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    int rv = ms_get(c, "snap/", 5, &o, &r);
    ck_assert_msg(rv == 0, "range on follower: %s", ms_strerror(rv));
    ck_assert_uint_eq(r->range.n_kvs, KEYS);
    for (size_t i = 0; i < r->range.n_kvs; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "snap/%04zu", i);
        snprintf(v, sizeof v, "v%zu", i * 7);
        const struct ms_kv *kv = &r->range.kvs[i];
        ck_assert(kv->key_len == strlen(k) &&
                  memcmp(kv->key, k, kv->key_len) == 0);
        ck_assert_msg(kv->value_len == strlen(v) &&
                          memcmp(kv->value, v, kv->value_len) == 0,
                      "follower has wrong value for %s", k);
    }
    ms_result_free(r);
    ms_client_close(c);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, follower_far_behind_catches_up_by_snapshot);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
