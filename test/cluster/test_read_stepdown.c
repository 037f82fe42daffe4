/*
 * test_read_stepdown.c - parked reads across a change of leader, on a real
 * 3-node cluster with the lease off (every linearizable read needs a
 * ReadIndex round, server/reads.c):
 *
 *  - a leader cut off from its followers cannot finish a round, so its
 *    reads stay parked (Status pending_reads); when the links heal it
 *    learns of the newer term and steps down, and every parked read is
 *    answered NOT_LEADER at once (never silently dropped, never served
 *    from the old leadership, long before its deadline); a write parked
 *    there by a client that closed its connection stays until its entry is
 *    decided, and its reply goes nowhere (the ASan build checks the node);
 *  - reads parked on a follower whose round went to a leader that then
 *    vanished are sent again to the new leader and answered OK.
 *
 * CheckQuorum is off so that the cut-off leader stays leader (and keeps its
 * reads parked) until the test heals the links; request_timeout is 20 s, so
 * an answer within a few seconds cannot be a timeout.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/raw.h"

#define N_READS 5

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static int start_cluster(void)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS,
                           "--set",
                           "lease_read.enable=false",
                           "--set",
                           "lease_read.read_mode=readindex",
                           "--set",
                           "raft.check_quorum=false",
                           "--set",
                           "server.request_timeout=20s",
                           NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader");
    return leader;
}

static struct ms_read_stats stats_of(int i)
{
    struct ms_client *c = cluster_client(&cl, i, 1000);
    ck_assert_msg(c != NULL, "no connection to node %d", i + 1);
    struct ms_result *r = NULL;
    int rv = ms_status(c, &r);
    ck_assert_msg(rv == 0, "status of node %d: %s", i + 1, ms_strerror(rv));
    struct ms_read_stats rs = r->status_info.read_stats;
    ms_result_free(r);
    ms_client_close(c);
    return rs;
}

static void wait_pending(int i, uint64_t want, int timeout_ms)
{
    uint64_t end = e2e_now_ms() + (uint64_t)timeout_ms;
    uint64_t got;
    do {
        got = stats_of(i).pending_reads;
        if (got == want) {
            return;
        }
        usleep(5000);
    } while (e2e_now_ms() < end);
    ck_assert_msg(0, "node %d: %llu reads pending, want %llu", i + 1,
                  (unsigned long long)got, (unsigned long long)want);
}

static void put_v1(int leader)
{
    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "sd/k", "v1"), 0);
    ms_client_close(c);
}

/* N_READS linearizable reads of sd/k, ids 1.., in one write. */
static int send_reads(int node)
{
    int fd = e2e_connect(cl.nodes[node].client_port);
    ck_assert_int_ge(fd, 0);
    uint8_t buf[1024];
    size_t len = 0;
    for (int i = 0; i < N_READS; i++) {
        len += raw_frame_range(buf + len, sizeof buf - len, 1 + (uint64_t)i,
                               "sd/k", false);
    }
    ck_assert_int_eq(raw_send(fd, buf, len), 0);
    return fd;
}

START_TEST(step_down_answers_every_parked_read_not_leader)
{
    int leader = start_cluster();
    put_v1(leader);
    struct ms_read_stats before = stats_of(leader);
    ck_assert_int_eq(cluster_isolate(&cl, leader), 0);

    int fd = send_reads(leader);
    /* A write on a connection that goes away: parked as a proposal. */
    int fdw = e2e_connect(cl.nodes[leader].client_port);
    uint8_t buf[128];
    size_t len = raw_frame_put(buf, sizeof buf, 99, "sd/orphan", "x");
    ck_assert_int_eq(raw_send(fdw, buf, len), 0);
    wait_pending(leader, N_READS, 5000);
    close(fdw);

    /* The others elect a new leader meanwhile; heal and the old one steps
     * down on seeing the newer term. */
    bool others[CLUSTER_MAX_NODES] = {false};
    for (int i = 0; i < cl.n; i++) {
        others[i] = i != leader;
    }
    int next = cluster_wait_leader(&cl, others, 5000);
    ck_assert_msg(next >= 0 && next != leader, "no new leader");
    uint64_t t0 = e2e_now_ms();
    ck_assert_int_eq(cluster_heal_all(&cl), 0);
    for (int i = 0; i < N_READS; i++) {
        struct raw_reply r;
        ck_assert_msg(raw_read_reply(fd, &r) == 0,
                      "read %d of the old leader was never answered", i + 1);
        ck_assert_msg(r.status == METASTORE__STATUS_CODE__NOT_LEADER,
                      "read %llu: status %d: %s", (unsigned long long)r.id,
                      r.status, r.message);
        /* the hint, when the node knew the new leader already */
        ck_assert(r.leader_id == 0 ||
                  r.leader_id == cl.nodes[next].id);
    }
    uint64_t took = e2e_now_ms() - t0;
    ck_assert_msg(took < 5000, "answers took %llu ms",
                  (unsigned long long)took);
    close(fd);
    struct ms_read_stats after = stats_of(leader);
    ck_assert_uint_eq(after.pending_reads, 0);
    ck_assert_uint_eq(after.read_timeouts, before.read_timeouts);
    ck_assert_uint_eq(after.read_index_reads, before.read_index_reads);

    /* A client following the NOT_LEADER answer reads the value. */
    struct ms_client *c = cluster_client(&cl, -1, 3000);
    char *v = NULL;
    ck_assert_int_eq(cluster_get(c, "sd/k", &v), 0);
    ck_assert_str_eq(v, "v1");
    free(v);
    ms_client_close(c);
    fprintf(stderr, "old leader answered %d parked reads NOT_LEADER %llu ms "
                    "after the links healed\n",
            N_READS, (unsigned long long)took);
}
END_TEST

START_TEST(follower_reads_waiting_on_a_lost_leader_go_to_the_new_one)
{
    int leader = start_cluster();
    put_v1(leader);
    int f = (leader + 1) % cl.n;
    ck_assert_int_eq(cluster_wait_applied(&cl, f, 2, 3000), 0);
    struct ms_read_stats before = stats_of(f);

    /* The follower still takes the old leader for leader for a while: its
     * round goes there and is lost. */
    ck_assert_int_eq(cluster_isolate(&cl, leader), 0);
    uint64_t t0 = e2e_now_ms();
    int fd = send_reads(f);
    for (int i = 0; i < N_READS; i++) {
        struct raw_reply r;
        ck_assert_msg(raw_read_reply(fd, &r) == 0,
                      "follower read %d was never answered", i + 1);
        ck_assert_msg(r.status == 0, "read %llu: status %d: %s",
                      (unsigned long long)r.id, r.status, r.message);
    }
    uint64_t took = e2e_now_ms() - t0;
    close(fd);
    struct ms_read_stats after = stats_of(f);
    ck_assert_uint_eq(after.pending_reads, 0);
    ck_assert_uint_eq(after.read_timeouts, before.read_timeouts);
    /* served on the follower path, or as leader if f won the election */
    ck_assert_uint_eq((after.follower_reads - before.follower_reads) +
                          (after.read_index_reads - before.read_index_reads),
                      N_READS);
    ck_assert_msg(took < 5000, "answers took %llu ms",
                  (unsigned long long)took);
    fprintf(stderr, "follower reads answered %llu ms after their leader was "
                    "cut off\n",
            (unsigned long long)took);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    cluster_suite_begin();
    Suite *s = suite_create("cluster_read_stepdown");
    TCase *tc = tcase_create("stepdown");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, step_down_answers_every_parked_read_not_leader);
    tcase_add_test(tc,
                   follower_reads_waiting_on_a_lost_leader_go_to_the_new_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? 0 : 1;
}
