/*
 * test_ttl.c - TTL leases on three real nodes:
 *   - keys attached to a lease nobody keeps alive vanish after the TTL, and
 *     every node deleted the same keys at the same revision (one revision
 *     for all of them), while a key without a lease stays;
 *   - the client library's background keep-alive keeps a lease through a
 *     leader killed with -9 or paused with SIGSTOP (the new leader extends
 *     leases rather than expiring them); once the keep-alive stops, the
 *     keys vanish;
 *   - a lease and its keys survive a restart of the whole cluster (every
 *     node killed with -9) with the memory engine (WAL + snapshots, small
 *     snapshot interval so the table rides in a snapshot) and with RocksDB,
 *     and can be revoked afterwards on every node;
 *   - a follower that catches up by InstallSnapshot receives the lease
 *     table with it (both engines);
 *   - checkpointed remaining TTLs are what a new leader counts from;
 *   - lease calls made to a follower reach the leader (forwarded, or
 *     redirected with NOT_LEADER).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/cluster_up.h"
#include "test/e2e/helpers/e2e.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static int start3(const char *engine, const char *const *more)
{
    const char *const base[] = {CLUSTER_FAST_FLAGS, "--engine", engine, "--set",
                                "ttl.min_ttl=1s",   NULL};
    return cluster_up(&cl, 3, base, more);
}

/* Grants a lease through any node, retrying while a leader settles. */
static int64_t grant(struct ms_client *c, int64_t ttl)
{
    int64_t id = 0;
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_lease_grant(c, ttl, 0, &id, NULL)) != 0 &&
           e2e_now_ms() < deadline) {
        usleep(50000); /* no leader yet: ask again */
    }
    ck_assert_msg(rc == 0, "grant: %s", ms_client_errmsg(c));
    return id;
}

static void put_lease(struct ms_client *c, const char *k, int64_t lease)
{
    struct ms_result *r = NULL;
    int rc = ms_put(c, k, strlen(k), "v", 1, lease, false, &r);
    ck_assert_msg(rc == 0, "put %s: %s", k, ms_client_errmsg(c));
    ms_result_free(r);
}

/* Serializable read of key k on the node c talks to, at revision rev
 * (0: newest).  Returns 1 present, 0 absent, <0 error; *hdr_rev receives
 * the node's revision. */
static int local_get(struct ms_client *c, const char *k, int64_t rev,
                     int64_t *hdr_rev, int64_t *lease)
{
    struct ms_range_options o = {.revision = rev,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    int rc = ms_get(c, k, strlen(k), &o, &r);
    if (rc != 0) {
        ms_result_free(r);
        return rc;
    }
    int present = r->range.n_kvs > 0;
    if (hdr_rev != NULL) {
        *hdr_rev = r->header.revision;
    }
    if (lease != NULL) {
        *lease = present ? r->range.kvs[0].lease : 0;
    }
    ms_result_free(r);
    return present;
}

/* Waits until key k is absent on node i (serializable); true if so. */
static bool wait_gone(int i, const char *k, int timeout_ms)
{
    struct ms_client *c = cluster_client(&cl, i, 1000);
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    bool gone = false;
    while (c != NULL && !gone && e2e_now_ms() < deadline) {
        gone = local_get(c, k, 0, NULL, NULL) == 0;
        if (!gone) {
            usleep(50000); /* the expiry entry is on its way */
        }
    }
    ms_client_close(c);
    return gone;
}

static uint64_t leader_applied(int leader)
{
    struct cluster_status st;
    uint64_t deadline = e2e_now_ms() + 5000;
    while (cluster_status(&cl, leader, &st) != 0 && e2e_now_ms() < deadline) {
        usleep(20000); /* busy: ask again */
    }
    return st.applied;
}

START_TEST(expiry_deletes_same_keys_at_same_revision_on_every_node)
{
    int leader = start3("memory", NULL);
    struct ms_client *c = cluster_client(&cl, -1, 3000);
    int64_t id = grant(c, 2);
    put_lease(c, "ttl/a", id);
    put_lease(c, "ttl/b", id);
    put_lease(c, "ttl/c", id);
    put_lease(c, "plain", 0);
    uint64_t t0 = e2e_now_ms();
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(wait_gone(i, "ttl/c", 15000),
                      "node %d still has the key of an expired lease", i + 1);
    }
    uint64_t waited = e2e_now_ms() - t0;
    ck_assert_msg(waited >= 1500, "keys vanished after %" PRIu64
                                  " ms, before the 2 s TTL",
                  waited);
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_int_ge(leader, 0);
    uint64_t applied = leader_applied(leader);
    int64_t rev_del[3];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(cluster_wait_applied(&cl, i, applied, 5000), 0);
        struct ms_client *n = cluster_client(&cl, i, 2000);
        ck_assert_ptr_nonnull(n);
        int64_t rev = 0;
        ck_assert_int_eq(local_get(n, "plain", 0, &rev, NULL), 1);
        rev_del[i] = rev;
        /* One revision before the delete all three keys were there; at it
         * none is. */
        const char *keys[] = {"ttl/a", "ttl/b", "ttl/c"};
        for (int k = 0; k < 3; k++) {
            ck_assert_int_eq(local_get(n, keys[k], rev - 1, NULL, NULL), 1);
            ck_assert_int_eq(local_get(n, keys[k], rev, NULL, NULL), 0);
        }
        ms_client_close(n);
    }
    ck_assert_int_eq(rev_del[0], rev_del[1]);
    ck_assert_int_eq(rev_del[1], rev_del[2]);
    int64_t *ids = NULL;
    size_t n_ids = 9;
    ck_assert_int_eq(ms_lease_leases(c, &ids, &n_ids), 0);
    ck_assert_uint_eq(n_ids, 0);
    free(ids);
    ms_client_close(c);
}
END_TEST

/* Keeps lease `id` (key `key`) alive with the library's keep-alive while
 * the leader is killed (-9) or paused (SIGSTOP) and a new one takes over;
 * the key must stay through two TTLs on each side of the failover. */
static void keepalive_through_failover(bool pause)
{
    int leader = start3("memory", NULL);
    struct ms_client *c = cluster_client(&cl, -1, 3000);
    int64_t id = grant(c, 3);
    put_lease(c, "svc/one", id);
    const char *eps[3] = {cl.nodes[0].endpoint, cl.nodes[1].endpoint,
                          cl.nodes[2].endpoint};
    struct ms_keepalive *ka = NULL;
    ck_assert_int_eq(ms_keepalive_start(eps, 3, id, NULL, NULL, &ka), 0);
    /* Two TTLs with keep-alive: the key stays. */
    uint64_t until = e2e_now_ms() + 6000;
    while (e2e_now_ms() < until) {
        char *v = NULL;
        ck_assert_int_eq(cluster_get(c, "svc/one", &v), 0);
        ck_assert_msg(v != NULL, "a kept-alive key vanished");
        free(v);
        usleep(200000); /* sample the key over two TTLs */
    }
    ck_assert_uint_ge(ms_keepalive_renewals(ka), 3);
    if (pause) {
        cluster_node_pause(&cl, leader);
    } else {
        ck_assert_int_eq(cluster_node_kill(&cl, leader), 0);
    }
    bool others[3] = {true, true, true};
    others[leader] = false;
    int next = cluster_wait_leader(&cl, others, 5000);
    ck_assert_msg(next >= 0, "no new leader after the kill");
    /* Two more TTLs under the new leader. */
    until = e2e_now_ms() + 6000;
    while (e2e_now_ms() < until) {
        int64_t lease = 0;
        struct ms_client *n = cluster_client(&cl, next, 2000);
        ck_assert_ptr_nonnull(n);
        ck_assert_int_eq(local_get(n, "svc/one", 0, NULL, &lease), 1);
        ck_assert_int_eq(lease, id);
        ms_client_close(n);
        usleep(200000); /* sample the key over two TTLs */
    }
    ck_assert_msg(!ms_keepalive_lost(ka), "keep-alive reported a lost lease");
    if (pause) {
        cluster_node_resume(&cl, leader); /* it learns the new term */
    }
    ms_keepalive_stop(ka);
    /* Without keep-alive the lease runs out. */
    ck_assert_msg(wait_gone(next, "svc/one", 15000),
                  "the key outlived its lease");
    ms_client_close(c);
}

START_TEST(keepalive_keeps_lease_through_leader_failover)
{
    keepalive_through_failover(false);
}
END_TEST

START_TEST(keepalive_keeps_lease_while_leader_is_paused)
{
    keepalive_through_failover(true);
}
END_TEST

static void restart_keeps_leases(const char *engine)
{
    const char *more[] = {"--set", "raft.snapshot_entries=20", NULL};
    start3(engine, more);
    struct ms_client *c = cluster_client(&cl, -1, 3000);
    int64_t id = grant(c, 3600);
    put_lease(c, "keep/a", id);
    for (int i = 0; i < 60; i++) { /* enough entries for snapshots */
        char k[32];
        snprintf(k, sizeof k, "fill/%d", i);
        put_lease(c, k, 0);
    }
    put_lease(c, "keep/b", id);
    ms_client_close(c);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(cluster_node_kill(&cl, i), 0);
    }
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    ck_assert_int_ge(cluster_wait_leader(&cl, NULL, 5000), 0);
    c = cluster_client(&cl, -1, 3000);
    struct ms_lease_info *info = NULL;
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_lease_time_to_live(c, id, true, &info)) != 0 &&
           rc != MS_ENOTFOUND && e2e_now_ms() < deadline) {
        usleep(50000); /* the new leader is still applying its log */
    }
    ck_assert_msg(rc == 0, "lease lost in the restart: %s",
                  ms_client_errmsg(c));
    ck_assert_int_eq(info->granted_ttl_s, 3600);
    ck_assert_uint_eq(info->n_keys, 2);
    ck_assert_str_eq((char *)info->keys[0].key, "keep/a");
    ck_assert_str_eq((char *)info->keys[1].key, "keep/b");
    ms_lease_info_free(info);
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(wait_gone(i, "keep/a", 5000), "node %d kept keep/a",
                      i + 1);
        ck_assert_msg(wait_gone(i, "keep/b", 5000), "node %d kept keep/b",
                      i + 1);
        struct ms_client *n = cluster_client(&cl, i, 2000);
        ck_assert_int_eq(local_get(n, "fill/0", 0, NULL, NULL), 1);
        ms_client_close(n);
    }
    ms_client_close(c);
}

START_TEST(whole_cluster_restart_keeps_leases_memory)
{
    restart_keeps_leases("memory");
}
END_TEST

START_TEST(whole_cluster_restart_keeps_leases_rocksdb)
{
    restart_keeps_leases("rocksdb");
}
END_TEST

/* A follower that was stopped while the lease was granted and its keys
 * attached catches up by InstallSnapshot; the snapshot carries the lease
 * table, so the later revoke deletes the keys on that follower too. */
static void snapshot_carries_table(const char *engine)
{
    const char *more[] = {"--set", "raft.snapshot_entries=50", "--set",
                          "raft.snapshot_keep_entries=5", NULL};
    int leader = start3(engine, more);
    int behind = (leader + 1) % cl.n;
    cluster_node_pause(&cl, behind);
    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    int64_t id = grant(c, 3600);
    put_lease(c, "snap/leased", id);
    for (int i = 0; i < 600; i++) { /* more than raft.max_inflight */
        char k[32];
        snprintf(k, sizeof k, "snap/fill%d", i);
        put_lease(c, k, 0);
    }
    ms_client_close(c);
    cluster_node_resume(&cl, behind);
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_int_ge(leader, 0);
    ck_assert_int_eq(cluster_wait_applied(&cl, behind, leader_applied(leader),
                                          10000),
                     0);
    ck_assert_msg(cluster_log_contains(&cl, behind, "installed snapshot"),
                  "the follower caught up without a snapshot");
    c = cluster_client(&cl, -1, 3000);
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    ms_client_close(c);
    ck_assert_msg(wait_gone(behind, "snap/leased", 5000),
                  "the follower kept a key of a revoked lease: the snapshot "
                  "lacked the lease table");
}

START_TEST(snapshot_carries_lease_table_memory)
{
    snapshot_carries_table("memory");
}
END_TEST

START_TEST(snapshot_carries_lease_table_rocksdb)
{
    snapshot_carries_table("rocksdb");
}
END_TEST

/* With checkpoints every second, a new leader counts from the checkpointed
 * remaining TTL, not from the full TTL. */
START_TEST(checkpoint_keeps_remaining_ttl_across_failover)
{
    const char *more[] = {"--set", "ttl.checkpoint_interval=1s", NULL};
    int leader = start3("memory", more);
    struct ms_client *c = cluster_client(&cl, -1, 3000);
    int64_t id = grant(c, 30);
    uint64_t granted_ms = e2e_now_ms();
    /* Let at least two checkpoints run (interval 1 s, ticks of 10 ms). */
    while (e2e_now_ms() < granted_ms + 3500) {
        usleep(100000); /* time passes on the leader's lease clock */
    }
    ck_assert_int_eq(cluster_node_kill(&cl, leader), 0);
    bool others[3] = {true, true, true};
    others[leader] = false;
    ck_assert_int_ge(cluster_wait_leader(&cl, others, 5000), 0);
    struct ms_lease_info *info = NULL;
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_lease_time_to_live(c, id, false, &info)) != 0 &&
           e2e_now_ms() < deadline) {
        usleep(50000); /* the new leader is still applying its log */
    }
    ck_assert_msg(rc == 0, "timetolive: %s", ms_client_errmsg(c));
    /* Without checkpoints the new leader would give 30 s + 300 ms. */
    ck_assert_msg(info->ttl_s <= 28, "remaining %lld s: the checkpoint was "
                                     "not used",
                  (long long)info->ttl_s);
    ck_assert_int_ge(info->ttl_s, 20);
    ck_assert_int_eq(info->granted_ttl_s, 30);
    ms_lease_info_free(info);
    /* A keep-alive restores the full TTL (and resets the checkpoint). */
    int64_t ttl = 0;
    ck_assert_int_eq(ms_lease_keepalive_once(c, id, &ttl), 0);
    ck_assert_int_eq(ttl, 30);
    ms_client_close(c);
}
END_TEST

/* Every lease call made to a follower reaches the leader: forwarded over
 * the peer link, or answered NOT_LEADER and followed by the client. */
static void calls_through_follower(const char *mode)
{
    char set[64];
    snprintf(set, sizeof set, "server.follower_writes=%s", mode);
    const char *more[] = {"--set", set, NULL};
    int leader = start3("memory", more);
    int follower = (leader + 1) % cl.n;
    struct ms_client *c = cluster_client(&cl, follower, 3000);
    ck_assert_ptr_nonnull(c);
    int64_t id = grant(c, 30);
    put_lease(c, "f/key", id);
    int64_t ttl = 0;
    ck_assert_int_eq(ms_lease_keepalive_once(c, id, &ttl), 0);
    ck_assert_int_eq(ttl, 30);
    struct ms_lease_info *info = NULL;
    ck_assert_int_eq(ms_lease_time_to_live(c, id, true, &info), 0);
    ck_assert_uint_eq(info->n_keys, 1);
    ck_assert_int_le(info->ttl_s, 30);
    ck_assert_int_ge(info->ttl_s, 25);
    ms_lease_info_free(info);
    int64_t *ids = NULL;
    size_t n = 0;
    ck_assert_int_eq(ms_lease_leases(c, &ids, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ids[0], id);
    free(ids);
    ck_assert_int_eq(ms_lease_revoke(c, id), 0);
    ck_assert_int_eq(ms_lease_keepalive_once(c, id, &ttl), MS_ENOTFOUND);
    ms_client_close(c);
    for (int i = 0; i < 3; i++) {
        ck_assert(wait_gone(i, "f/key", 5000));
    }
}

START_TEST(lease_calls_through_follower_forwarded)
{
    calls_through_follower("forward");
}
END_TEST

START_TEST(lease_calls_through_follower_redirected)
{
    calls_through_follower("redirect");
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_ttl");
    TCase *tc = tcase_create("ttl");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, expiry_deletes_same_keys_at_same_revision_on_every_node);
    tcase_add_test(tc, keepalive_keeps_lease_through_leader_failover);
    tcase_add_test(tc, keepalive_keeps_lease_while_leader_is_paused);
    tcase_add_test(tc, whole_cluster_restart_keeps_leases_memory);
    tcase_add_test(tc, whole_cluster_restart_keeps_leases_rocksdb);
    tcase_add_test(tc, snapshot_carries_lease_table_memory);
    tcase_add_test(tc, snapshot_carries_lease_table_rocksdb);
    tcase_add_test(tc, checkpoint_keeps_remaining_ttl_across_failover);
    tcase_add_test(tc, lease_calls_through_follower_forwarded);
    tcase_add_test(tc, lease_calls_through_follower_redirected);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
