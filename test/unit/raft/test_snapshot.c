/*
 * test_snapshot.c - InstallSnapshot (thesis 5): a follower that lags behind
 * the leader's compacted log receives the snapshot in chunks of at most
 * max_msg_bytes, the driver reassembles exactly the leader's bytes and
 * installs them (ready.has_snapshot), the follower then catches up by
 * entries; a lost chunk is sent again; a follower lagging inside the log
 * gets entries, never a snapshot.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

#define SNAP_BYTES 300

static void settle(struct net *net)
{
    net_stabilize(net);
    net_tick_all(net, net->opts.heartbeat_tick);
}

static void fill_pattern(uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)(i * 7 + 3);
    }
}

/* Leader 1 commits 20 entries while node 3 is cut off, then compacts its
 * log into a SNAP_BYTES snapshot at its applied index.  Returns that index. */
static raft_index lag_and_compact(struct net *net, uint8_t *data)
{
    net_isolate(net, 3);
    char buf[64];
    for (int k = 0; k < 20; k++) {
        snprintf(buf, sizeof(buf), "s%d", k);
        ck_assert_int_eq(net_propose(net, 1, buf, NULL), 0);
    }
    settle(net);
    raft_index idx = net_node(net, 1)->applied_index;
    ck_assert_uint_gt(idx, net_store_last(net, 3));
    fill_pattern(data, SNAP_BYTES);
    ck_assert_int_eq(net_compact(net, 1, idx, data, SNAP_BYTES), 0);
    struct raft_storage st = raft_memstore_storage(net_node(net, 1)->ms);
    ck_assert_uint_eq(st.first_index(st.data), idx + 1);
    return idx;
}

static void tick_until_installed(struct net *net, raft_id id, unsigned max)
{
    for (unsigned k = 0; k < max && net_node(net, id)->n_snapshots_installed == 0;
         k++) {
        net_tick_all(net, 1);
    }
}

START_TEST(lagging_follower_installs_chunked_snapshot_then_catches_up)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 64;
    struct net *net = net_start(&o, 1);
    uint8_t data[SNAP_BYTES];
    raft_index idx = lag_and_compact(net, data);
    net_heal(net);
    net_log_clear(net);
    tick_until_installed(net, 3, 10 * o.election_tick);
    struct net_node *n3 = net_node(net, 3);
    ck_assert_uint_eq(n3->n_snapshots_installed, 1);
    ck_assert_uint_eq(n3->installed.index, idx);
    ck_assert_uint_eq(n3->installed.size, SNAP_BYTES);
    ck_assert_uint_ge(n3->n_chunks, 5); /* 300 bytes in chunks of <= 64 */
    ck_assert_uint_eq(raft_conf_voters(&n3->installed.conf), 3);
    size_t chunks = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_SNAPSHOT) {
            chunks++;
            ck_assert_uint_le(m->snap_len, 64);
            ck_assert_uint_eq(m->snap.index, idx);
        }
    }
    ck_assert_uint_ge(chunks, 5);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_SNAPSHOT_RESP, 3, 1), 1);
    ck_assert_mem_eq(raft_memstore_snapshot_data(n3->ms), data, SNAP_BYTES);
    struct raft_storage st = raft_memstore_storage(n3->ms);
    ck_assert_uint_eq(st.first_index(st.data), idx + 1);

    settle(net);
    ck_assert_uint_ge(raft_applied_index(net_raft(net, 3)), idx);
    ck_assert_int_eq(net_propose(net, 1, "after", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 3, "after"));
    ck_assert(!net_applied_has(net, 3, "s0")); /* came in the snapshot */
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 3)),
                      raft_commit_index(net_raft(net, 1)));
    struct raft_progress_info pi[RAFT_MAX_MEMBERS];
    size_t n = 0;
    ck_assert_int_eq(raft_progress(net_raft(net, 1), pi, RAFT_MAX_MEMBERS, &n),
                     0);
    for (size_t k = 0; k < n; k++) {
        if (pi[k].id == 3) {
            ck_assert_uint_eq(pi[k].match, raft_last_index(net_raft(net, 1)));
            ck_assert_uint_eq(pi[k].state, RAFT_PROGRESS_REPLICATE);
        }
    }
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(single_chunk_snapshot_when_it_fits)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    uint8_t data[SNAP_BYTES];
    raft_index idx = lag_and_compact(net, data);
    net_heal(net);
    net_log_clear(net);
    tick_until_installed(net, 3, 10 * o.election_tick);
    ck_assert_uint_eq(net_node(net, 3)->n_snapshots_installed, 1);
    ck_assert_uint_eq(net_node(net, 3)->installed.index, idx);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_SNAPSHOT, 1, 3), 1);
    ck_assert_mem_eq(raft_memstore_snapshot_data(net_node(net, 3)->ms), data,
                     SNAP_BYTES);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static unsigned dropped_chunks;
static bool drop_second_chunk_once(void *data, const struct raft_message *m)
{
    (void)data;
    if (m->type == RAFT_MSG_SNAPSHOT && m->snap_offset > 0 &&
        dropped_chunks == 0) {
        dropped_chunks++;
        return true;
    }
    return false;
}

START_TEST(lost_snapshot_chunk_is_sent_again)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 64;
    struct net *net = net_start(&o, 1);
    uint8_t data[SNAP_BYTES];
    raft_index idx = lag_and_compact(net, data);
    net_heal(net);
    dropped_chunks = 0;
    net_set_filter(net, drop_second_chunk_once, NULL);
    net_log_clear(net);
    tick_until_installed(net, 3, 20 * o.election_tick);
    ck_assert_uint_eq(dropped_chunks, 1);
    struct net_node *n3 = net_node(net, 3);
    ck_assert_uint_eq(n3->n_snapshots_installed, 1);
    ck_assert_uint_eq(n3->installed.index, idx);
    ck_assert_mem_eq(raft_memstore_snapshot_data(n3->ms), data, SNAP_BYTES);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_SNAPSHOT, 1, 3), 6);
    ck_assert_int_eq(net_propose(net, 1, "after", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 3, "after"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(snapshot_responses_leave_only_after_persist)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 64;
    struct net *net = net_start(&o, 1);
    uint8_t data[SNAP_BYTES];
    lag_and_compact(net, data);
    net_heal(net);
    net_log_clear(net);
    tick_until_installed(net, 3, 10 * o.election_tick);
    ck_assert_uint_eq(net_node(net, 3)->n_snapshots_installed, 1);
    size_t resps = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        if (net->log[i].m.type == RAFT_MSG_SNAPSHOT_RESP) {
            resps++;
            ck_assert(net->log[i].after_persist);
        }
    }
    ck_assert_uint_ge(resps, 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(lagging_follower_within_log_gets_entries_not_snapshot)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    for (int k = 0; k < 10; k++) {
        ck_assert_int_eq(net_propose(net, 1, "e", NULL), 0);
    }
    settle(net);
    /* Compact below what node 3 holds. */
    raft_index keep = net_store_last(net, 3);
    ck_assert_int_eq(net_compact(net, 1, keep, "x", 1), 0);
    net_heal(net);
    net_log_clear(net);
    net_tick_all(net, 4 * o.heartbeat_tick);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_SNAPSHOT, 0, 0), 0);
    ck_assert_uint_eq(net_node(net, 3)->n_snapshots_installed, 0);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 3)),
                      raft_commit_index(net_raft(net, 1)));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(restarted_follower_resumes_from_installed_snapshot)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 64;
    struct net *net = net_start(&o, 1);
    uint8_t data[SNAP_BYTES];
    raft_index idx = lag_and_compact(net, data);
    net_heal(net);
    tick_until_installed(net, 3, 10 * o.election_tick);
    ck_assert_uint_eq(net_node(net, 3)->n_snapshots_installed, 1);
    settle(net);
    net_crash(net, 3);
    ck_assert_int_eq(net_restart(net, 3), 0);
    struct raft *r3 = net_raft(net, 3);
    ck_assert_uint_ge(raft_commit_index(r3), idx);
    ck_assert_uint_ge(raft_last_index(r3), idx);
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(r3)), 3);
    ck_assert_int_eq(net_propose(net, 1, "post-restart", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 3, "post-restart"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("raft_snapshot");
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lagging_follower_installs_chunked_snapshot_then_catches_up);
    tcase_add_test(tc, single_chunk_snapshot_when_it_fits);
    tcase_add_test(tc, lost_snapshot_chunk_is_sent_again);
    tcase_add_test(tc, snapshot_responses_leave_only_after_persist);
    tcase_add_test(tc, lagging_follower_within_log_gets_entries_not_snapshot);
    tcase_add_test(tc, restarted_follower_resumes_from_installed_snapshot);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(snapshot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
