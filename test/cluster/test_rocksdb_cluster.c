/*
 * test_rocksdb_cluster.c - three real nodes, all with --engine rocksdb
 * (state machine, Raft log and hard state in RocksDB; snapshots in
 * <data_dir>/snap):
 *   - the leader killed with -9 under writes: a new leader takes over and,
 *     after the old leader restarts and catches up, every acknowledged write
 *     is there (read through the restarted node) and the clients' history is
 *     linearizable;
 *   - a follower stopped (SIGSTOP) while the leader writes and compacts its
 *     log catches up by InstallSnapshot after SIGCONT and holds exactly the
 *     leader's data;
 *   - a follower cut off with the fault hook (a minority of one) never
 *     becomes leader and refuses writes while the majority serves, and it
 *     catches up once healed;
 *   - a learner added with --engine memory installs the RocksDB leader's
 *     snapshot (the stream is engine-neutral), so a cluster can move from
 *     one engine to the other one member at a time.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/cluster_up.h"
#include "test/e2e/helpers/e2e.h"

#define DURABLE_MAX 3000
#define SNAP_KEYS   600

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

/* Starts 3 rocksdb nodes with the fast timing plus `more` (NULL-terminated
 * pairs of "--set", "x=y", at most 6 strings); returns the leader. */
static int start_rocks_cluster(const char *const *more)
{
    const char *const base[] = {CLUSTER_FAST_FLAGS, "--engine", "rocksdb",
                                NULL};
    int leader = cluster_up(&cl, 3, base, more);
    for (int i = 0; i < cl.n; i++) {
        ck_assert_msg(cluster_log_contains(&cl, i, "engine rocksdb"),
                      "node %d did not start the rocksdb engine", i + 1);
    }
    return leader;
}

/* Status of node i, asked again until it answers (cluster_status() has a
 * short timeout that a loaded machine can miss).  0 or the last error. */
static int status_retry(int i, struct cluster_status *st)
{
    uint64_t deadline = e2e_now_ms() + 5000;
    int rv;
    while ((rv = cluster_status(&cl, i, st)) != 0 && e2e_now_ms() < deadline) {
        usleep(20000); /* the node is busy: ask again */
    }
    return rv;
}

/* Waits until node i has applied everything node `ref` has. */
static void wait_caught_up(int i, int ref)
{
    struct cluster_status st;
    int rv = status_retry(ref, &st);
    ck_assert_msg(rv == 0, "status of node %d: %s", ref + 1, ms_strerror(rv));
    ck_assert_msg(cluster_wait_applied(&cl, i, st.applied, 10000) == 0,
                  "node %d did not reach applied index %llu", i + 1,
                  (unsigned long long)st.applied);
}

/* A writer of unique keys "d/<n>": every acknowledged one must survive. */
struct durable_writer {
    pthread_t thread;
    volatile int stop;      /* __atomic builtins */
    int acked[DURABLE_MAX]; /* 1 when write n was acknowledged */
    int attempted;
};

static void *durable_main(void *arg)
{
    struct durable_writer *d = arg;
    struct ms_client *c = cluster_client(&cl, -1, 1000);
    for (int n = 0; n < DURABLE_MAX && c != NULL &&
                    !__atomic_load_n(&d->stop, __ATOMIC_SEQ_CST);
         n++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "d/%05d", n);
        snprintf(v, sizeof v, "durable-%d", n);
        d->attempted = n + 1;
        if (cluster_put(c, k, v) == 0) {
            d->acked[n] = 1;
        } else {
            ms_client_close(c);
            c = cluster_client(&cl, -1, 1000);
            usleep(10000); /* do not spin while there is no leader */
        }
    }
    ms_client_close(c);
    return NULL;
}

START_TEST(killed_leader_restarts_catches_up_and_no_acknowledged_write_is_lost)
{
    /* Real fsyncs: the Raft log's group commit is what is under test. */
    const char *more[] = {"--set", "storage.fsync=true", NULL};
    int old = start_rocks_cluster(more);
    struct cluster_workload w;
    cluster_workload_start(&w, &cl, 3, 4, 1000);
    static struct durable_writer d;
    memset(&d, 0, sizeof d);
    pthread_create(&d.thread, NULL, durable_main, &d);
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 200, 10000), 0);

    uint64_t t_kill = cluster_now_ns();
    ck_assert_int_eq(cluster_node_kill(&cl, old), 0);
    bool others[CLUSTER_MAX_NODES] = {false};
    for (int i = 0; i < cl.n; i++) {
        others[i] = i != old;
    }
    int leader = cluster_wait_leader(&cl, others, 5000);
    ck_assert_msg(leader >= 0 && leader != old, "no new leader after kill");
    ck_assert_msg(cluster_workload_wait_write_after(&w, t_kill, 5000) != 0,
                  "no write succeeded after the leader died");
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 100, 10000), 0);

    /* The old leader comes back from its RocksDB data and catches up. */
    ck_assert_int_eq(cluster_node_start(&cl, old, false, NULL, 10000), 0);
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 50, 10000), 0);
    __atomic_store_n(&d.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(d.thread, NULL);
    cluster_workload_stop(&w);
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0);
    wait_caught_up(old, leader);

    /* Every acknowledged write, read through the restarted node. */
    struct ms_client *c = cluster_client(&cl, old, 3000);
    ck_assert_ptr_nonnull(c);
    int acked = 0;
    for (int n = 0; n < d.attempted; n++) {
        if (!d.acked[n]) {
            continue;
        }
        acked++;
        char k[32], v[32];
        snprintf(k, sizeof k, "d/%05d", n);
        snprintf(v, sizeof v, "durable-%d", n);
        char *got = NULL;
        int rv = cluster_get(c, k, &got);
        ck_assert_msg(rv == 0, "read %s via restarted node %d: %s", k, old + 1,
                      ms_strerror(rv));
        ck_assert_msg(got != NULL && strcmp(got, v) == 0,
                      "acknowledged write %s lost (read %s)", k,
                      got != NULL ? got : "nothing");
        free(got);
    }
    ck_assert_int_gt(acked, 0);
    ck_assert_int_eq(cluster_workload_final_reads(&w, c), 0);
    ms_client_close(c);
    ck_assert(cluster_history_check(&w.hist, "rocksdb kill -9 leader"));
    cluster_workload_free(&w);
}
END_TEST

START_TEST(stopped_follower_catches_up_by_snapshot_and_serves_same_data)
{
    const char *more[] = {"--set", "raft.snapshot_entries=100", "--set",
                          "raft.snapshot_keep_entries=10", NULL};
    int leader = start_rocks_cluster(more);
    int behind = (leader + 1) % cl.n;
    cluster_node_pause(&cl, behind);

    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < SNAP_KEYS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "snap/%04d", i);
        snprintf(v, sizeof v, "v%d", i * 7);
        int rv = cluster_put(c, k, v);
        ck_assert_msg(rv == 0, "put %s: %s", k, ms_strerror(rv));
    }
    ms_client_close(c);
    ck_assert_msg(cluster_log_contains(&cl, leader, "snapshot at index"),
                  "the leader never took a snapshot");

    cluster_node_resume(&cl, behind);
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0 && leader != behind);
    wait_caught_up(behind, leader);
    ck_assert_msg(cluster_log_contains(&cl, behind, "installed snapshot"),
                  "the follower caught up without a snapshot");

    /* Its own state (serializable: no help from the leader) is complete and
     * equal to the leader's. */
    struct ms_range_options o = {.prefix = true,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *rs[2] = {NULL, NULL};
    int nodes[2] = {behind, leader};
    for (int j = 0; j < 2; j++) {
        c = cluster_client(&cl, nodes[j], 3000);
        ck_assert_ptr_nonnull(c);
        int rv = ms_get(c, "snap/", 5, &o, &rs[j]);
        ck_assert_msg(rv == 0, "range on node %d: %s", nodes[j] + 1,
                      ms_strerror(rv));
        ms_client_close(c);
    }
    ck_assert_uint_eq(rs[0]->range.n_kvs, SNAP_KEYS);
    ck_assert_uint_eq(rs[1]->range.n_kvs, SNAP_KEYS);
    for (size_t i = 0; i < SNAP_KEYS; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "snap/%04zu", i);
        snprintf(v, sizeof v, "v%zu", i * 7);
        const struct ms_kv *a = &rs[0]->range.kvs[i];
        const struct ms_kv *b = &rs[1]->range.kvs[i];
        ck_assert(a->key_len == strlen(k) &&
                  memcmp(a->key, k, a->key_len) == 0);
        ck_assert_msg(a->value_len == strlen(v) &&
                          memcmp(a->value, v, a->value_len) == 0,
                      "follower has a wrong value for %s", k);
        ck_assert_msg(a->mod_revision == b->mod_revision &&
                          a->create_revision == b->create_revision &&
                          a->version == b->version,
                      "follower and leader disagree on %s's revisions", k);
    }
    ms_result_free(rs[0]);
    ms_result_free(rs[1]);

    /* And it keeps up with new writes after the snapshot. */
    c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "snap/after", "yes"), 0);
    ms_client_close(c);
    wait_caught_up(behind, leader);
}
END_TEST

START_TEST(cut_off_minority_keeps_no_leader_while_majority_serves)
{
    const char *more[] = {"--set", "server.request_timeout=1s", NULL};
    int leader = start_rocks_cluster(more);
    int minority = (leader + 1) % cl.n;
    ck_assert_int_eq(cluster_isolate(&cl, minority), 0);

    bool in_majority[CLUSTER_MAX_NODES] = {false};
    for (int i = 0; i < cl.n; i++) {
        in_majority[i] = i != minority;
    }
    ck_assert_int_eq(cluster_wait_leader(&cl, in_majority, 5000), leader);

    /* For several election timeouts the majority serves writes and the
     * cut-off node never becomes leader. */
    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    uint64_t until = e2e_now_ms() + 1500;
    int writes = 0;
    while (e2e_now_ms() < until) {
        char k[32];
        snprintf(k, sizeof k, "part/%04d", writes);
        int rv = cluster_put(c, k, "majority");
        ck_assert_msg(rv == 0, "majority write %s: %s", k, ms_strerror(rv));
        writes++;
        struct cluster_status st;
        if (cluster_status(&cl, minority, &st) == 0) {
            ck_assert_msg(strcmp(st.role, "leader") != 0,
                          "cut-off node %d became leader (term %llu)",
                          minority + 1, (unsigned long long)st.term);
        }
    }
    ms_client_close(c);
    ck_assert_int_gt(writes, 10);

    /* A write sent to the cut-off node is not acknowledged. */
    c = cluster_client(&cl, minority, 3000);
    ck_assert_ptr_nonnull(c);
    int rv = cluster_put(c, "part/minority", "must-not-be-acknowledged");
    ck_assert_msg(rv == MS_EUNAVAILABLE || rv == MS_ETIMEDOUT,
                  "write on the cut-off node: %s", ms_strerror(rv));
    ms_client_close(c);

    /* Healed, it catches up and holds the majority's writes. */
    ck_assert_int_eq(cluster_heal_all(&cl), 0);
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0);
    wait_caught_up(minority, leader);
    c = cluster_client(&cl, minority, 3000);
    ck_assert_ptr_nonnull(c);
    struct ms_range_options o = {.prefix = true,
                                 .count_only = true,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "part/", 5, &o, &r), 0);
    ck_assert_int_eq(r->range.count, writes);
    ms_result_free(r);
    char *got = NULL;
    ck_assert_int_eq(cluster_get(c, "part/minority", &got), 0);
    ck_assert_msg(got == NULL, "the refused write was applied: %s", got);
    ms_client_close(c);
}
END_TEST

/* Sends "member add --learner" for node `node` to the leader, again while
 * the leader changes or is not ready, until the deadline.  Last status. */
static int add_learner(int node, char *msg, size_t cap)
{
    uint64_t deadline = e2e_now_ms() + 8000;
    int st = -1;
    do {
        int l = cluster_wait_leader(&cl, NULL, 3000);
        if (l >= 0) {
            st = cluster_member_add(&cl, l, node, true, msg, cap);
            if (st != MS_STATUS_NOT_LEADER &&
                st != MS_STATUS_FAILED_PRECONDITION && st != -1) {
                return st;
            }
        }
        usleep(50000); /* a leader is elected or gets ready */
    } while (e2e_now_ms() < deadline);
    return st;
}

START_TEST(memory_learner_installs_snapshot_of_rocksdb_leader)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS,
                           "--engine",
                           "rocksdb",
                           "--set",
                           "raft.snapshot_entries=100",
                           "--set",
                           "raft.snapshot_keep_entries=10",
                           NULL};
    cluster_init(&cl, 3, extra);
    int newbie = cluster_node_add(&cl); /* described, not a member yet */
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0);
    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < 300; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "mix/%04d", i);
        snprintf(v, sizeof v, "m%d", i);
        int rv = cluster_put(c, k, v);
        ck_assert_msg(rv == 0, "put %s: %s", k, ms_strerror(rv));
    }
    ms_client_close(c);
    ck_assert(cluster_log_contains(&cl, leader, "snapshot at index"));

    char msg[256] = "";
    int st = add_learner(newbie, msg, sizeof msg);
    ck_assert_msg(st == 0, "member add --learner: status %d: %s", st, msg);
    const char *mem[] = {"--engine", "memory", NULL};
    ck_assert_int_eq(cluster_node_start(&cl, newbie, true, mem, 10000), 0);
    cl.nodes[newbie].member = true;
    ck_assert(cluster_log_contains(&cl, newbie, "engine memory"));
    leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert(leader >= 0);
    wait_caught_up(newbie, leader);
    ck_assert_msg(cluster_log_contains(&cl, newbie, "installed snapshot"),
                  "the memory learner caught up without a snapshot");

    c = cluster_client(&cl, newbie, 3000);
    ck_assert_ptr_nonnull(c);
    struct ms_range_options o = {.prefix = true,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "mix/", 4, &o, &r), 0);
    ck_assert_uint_eq(r->range.n_kvs, 300);
    for (size_t i = 0; i < r->range.n_kvs; i++) {
        char v[32];
        snprintf(v, sizeof v, "m%zu", i);
        const struct ms_kv *kv = &r->range.kvs[i];
        ck_assert_msg(kv->value_len == strlen(v) &&
                          memcmp(kv->value, v, kv->value_len) == 0,
                      "memory learner has a wrong value at %zu", i);
    }
    ms_result_free(r);
    ms_client_close(c);
}
END_TEST


/* Read statistics of node i (a fresh Status). */
static struct ms_read_stats read_stats_of(int i)
{
    struct ms_client *c = cluster_client(&cl, i, 2000);
    ck_assert_ptr_nonnull(c);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_status(c, &r), 0);
    struct ms_read_stats st = r->status_info.read_stats;
    ms_result_free(r);
    ms_client_close(c);
    return st;
}

START_TEST(lease_fast_path_serves_reads_on_rocksdb)
{
    int leader = start_rocks_cluster(NULL);
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    ck_assert_int_eq(cluster_put(c, "lease/k", "v1"), 0);
    /* The leader gets its lease once a heartbeat round of its term is
     * acknowledged; wait for it. */
    uint64_t deadline = e2e_now_ms() + 5000;
    while (!read_stats_of(leader).lease_valid && e2e_now_ms() < deadline) {
        usleep(20000);
    }
    ck_assert_msg(read_stats_of(leader).lease_valid, "leader holds no lease");
    for (int i = 0; i < cl.n; i++) {
        if (i != leader) {
            ck_assert_msg(!read_stats_of(i).lease_valid,
                          "follower %d holds a lease", i + 1);
        }
    }
    struct ms_read_stats before = read_stats_of(leader);
    for (int k = 0; k < 200; k++) {
        char *v = NULL;
        ck_assert_int_eq(cluster_get(c, "lease/k", &v), 0);
        ck_assert_str_eq(v, "v1");
        free(v);
    }
    struct ms_read_stats after = read_stats_of(leader);
    /* Under load a lease may lapse between rounds; most reads still take
     * the fast path, and every read is counted on one path or the other. */
    uint64_t fast = after.lease_reads - before.lease_reads;
    uint64_t slow = after.read_index_reads - before.read_index_reads;
    ck_assert_uint_eq(fast + slow, 200);
    ck_assert_msg(fast >= 150, "only %llu of 200 reads took the fast path",
                  (unsigned long long)fast);
    ms_client_close(c);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_rocksdb");
    TCase *tc = tcase_create("rocksdb");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(
        tc,
        killed_leader_restarts_catches_up_and_no_acknowledged_write_is_lost);
    tcase_add_test(
        tc, stopped_follower_catches_up_by_snapshot_and_serves_same_data);
    tcase_add_test(tc, cut_off_minority_keeps_no_leader_while_majority_serves);
    tcase_add_test(tc, memory_learner_installs_snapshot_of_rocksdb_leader);
    tcase_add_test(tc, lease_fast_path_serves_reads_on_rocksdb);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
