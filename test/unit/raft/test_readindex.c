/*
 * test_readindex.c - ReadIndex (thesis 6.4) and the quorum ack time that
 * leader leases are measured from: a read index is the commit index at
 * request time, confirmed only by a heartbeat round started after the
 * request and acked by a quorum; reads made together share one round; a
 * new leader holds reads until an entry of its term commits; followers get
 * answers through the leader; raft_quorum_ack_time() reports when the
 * newest acked round was SENT and is withheld whenever a lease would be
 * unsafe.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

static void settle(struct net *net)
{
    net_stabilize(net);
    net_tick_all(net, net->opts.heartbeat_tick);
}

static struct net *start3(raft_id leader)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, leader);
    settle(net);
    return net;
}

START_TEST(leader_read_confirmed_only_after_quorum_ack)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    raft_index c = raft_commit_index(r);
    ck_assert_int_eq(raft_read_index(r, 42, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_HEARTBEAT, 1, 2), 1);
    net_stabilize(net);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].ctx, 42);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].index, c);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(read_index_is_commit_at_request_time)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    raft_index c = raft_commit_index(r);
    ck_assert_int_eq(raft_read_index(r, 1, net->now_ns), 0);
    raft_index w = 0;
    ck_assert_int_eq(net_propose(net, 1, "later write", &w), 0);
    settle(net);
    ck_assert_uint_ge(raft_commit_index(r), w);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].index, c);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(read_index_needs_only_a_quorum)
{
    struct net *net = start3(1);
    net_isolate(net, 3);
    ck_assert_int_eq(raft_read_index(net_raft(net, 1), 5, net->now_ns), 0);
    net_stabilize(net);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].ctx, 5);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(reads_before_one_ready_share_one_heartbeat_round)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    raft_index c = raft_commit_index(r);
    net_log_clear(net);
    for (uint64_t ctx = 1; ctx <= 3; ctx++) {
        ck_assert_int_eq(raft_read_index(r, ctx, net->now_ns), 0);
    }
    net_process_node(net, 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_HEARTBEAT, 1, 2), 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_HEARTBEAT, 1, 3), 1);
    net_stabilize(net);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_HEARTBEAT, 1, 0), 2);
    struct net_node *nd = net_node(net, 1);
    ck_assert_uint_eq(nd->n_reads, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(nd->reads[i].ctx, i + 1);
        ck_assert_uint_eq(nd->reads[i].index, c);
    }
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static uint64_t drop_seq_above;
static bool drop_newer_heartbeats(void *data, const struct raft_message *m)
{
    (void)data;
    return (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_APPEND) &&
           m->from == 1 && m->seq > drop_seq_above;
}

START_TEST(read_not_confirmed_by_round_started_before_it)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    net_log_clear(net);
    ck_assert_int_eq(raft_heartbeat(r, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_HEARTBEAT, 1, 2), 1);
    drop_seq_above = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        if (net->log[i].m.type == RAFT_MSG_HEARTBEAT &&
            net->log[i].m.seq > drop_seq_above) {
            drop_seq_above = net->log[i].m.seq;
        }
    }
    /* The read comes after round 1 left; its own round is lost. */
    ck_assert_int_eq(raft_read_index(r, 77, net->now_ns), 0);
    net_set_filter(net, drop_newer_heartbeats, NULL);
    net_stabilize(net);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0);
    /* A later round confirms it. */
    net_heal(net);
    net_tick_all(net, net->opts.heartbeat_tick);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].ctx, 77);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(new_leader_holds_reads_until_its_term_commits)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    raft_index before = raft_last_index(net_raft(net, 1));
    struct raft *r = net_raft(net, 1);
    raft_campaign(r, net->now_ns);
    for (int k = 0; k < 20 && raft_role_of(r) != RAFT_LEADER; k++) {
        net_round(net);
    }
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    ck_assert(!raft_committed_in_term(r));
    uint64_t sent;
    ck_assert(!raft_quorum_ack_time(r, &sent));
    ck_assert_int_eq(raft_read_index(r, 11, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0);
    settle(net);
    ck_assert(raft_committed_in_term(r));
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].ctx, 11);
    ck_assert_uint_ge(net_node(net, 1)->reads[0].index, before + 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_read_index_answered_through_leader)
{
    struct net *net = start3(1);
    raft_index c = raft_commit_index(net_raft(net, 1));
    net_log_clear(net);
    ck_assert_int_eq(raft_read_index(net_raft(net, 2), 9, net->now_ns), 0);
    net_stabilize(net);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_READ_INDEX, 2, 1), 1);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_READ_INDEX_RESP, 1, 2), 1);
    struct net_node *nd = net_node(net, 2);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_uint_eq(nd->reads[0].ctx, 9);
    ck_assert_uint_eq(nd->reads[0].index, c);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0); /* not the leader's */
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_ignores_read_answer_from_non_leader)
{
    /* etcd issue 20418: only the current leader's answer counts. */
    struct net *net = start3(1);
    struct raft *r2 = net_raft(net, 2);
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_READ_INDEX_RESP;
    m.from = 3;
    m.to = 2;
    m.term = raft_term_of(r2);
    m.ctx = 99;
    m.index = 1;
    raft_step(r2, &m, net->now_ns);
    net_process_node(net, 2);
    ck_assert_uint_eq(net_node(net, 2)->n_reads, 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(read_round_stamped_with_request_time)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    uint64_t t1 = net->now_ns + 3000000000ull;
    ck_assert_int_eq(raft_read_index(r, 4, t1), 0);
    net->now_ns = t1 + 250000000ull; /* the acks arrive later */
    net_stabilize(net);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    uint64_t sent = 0;
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_eq(sent, t1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_without_leader_gets_notleader)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    ck_assert_int_eq(raft_read_index(net_raft(net, 2), 1, net->now_ns),
                     RAFT_ENOTLEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(single_voter_answers_reads_at_once)
{
    struct net_opts o;
    net_default_opts(&o, 1);
    struct net *net = net_start(&o, 1);
    struct raft *r = net_raft(net, 1);
    raft_index c = raft_commit_index(r);
    ck_assert_int_eq(raft_read_index(r, 3, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 1);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].ctx, 3);
    ck_assert_uint_eq(net_node(net, 1)->reads[0].index, c);
    uint64_t sent = 0;
    ck_assert(raft_quorum_ack_time(r, &sent));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(isolated_leader_never_answers_reads)
{
    struct net *net = start3(1);
    net_isolate(net, 1);
    struct raft *r = net_raft(net, 1);
    ck_assert_int_eq(raft_read_index(r, 8, net->now_ns), 0);
    for (unsigned k = 0; k < 3 * net->opts.election_tick; k++) {
        net_tick_node(net, 1, 1);
        net_stabilize(net);
    }
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0);
    ck_assert_int_ne(raft_role_of(r), RAFT_LEADER); /* CheckQuorum */
    /* The request was dropped on stepping down: healing does not revive
     * it. */
    net_heal(net);
    net_tick_all(net, 2 * net->opts.election_tick);
    ck_assert_uint_eq(net_node(net, 1)->n_reads, 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_is_send_time_not_ack_time)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    uint64_t sent = 0;
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_le(sent, net->now_ns);

    uint64_t t1 = net->now_ns + 5000000000ull;
    net->now_ns = t1;
    ck_assert_int_eq(raft_heartbeat(r, t1), 0);
    net_process_node(net, 1);
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_lt(sent, t1); /* not acked yet */

    uint64_t t2 = t1 + 700000000ull;
    net->now_ns = t2;
    net_stabilize(net);
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_eq(sent, t1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_needs_a_quorum_of_acks)
{
    struct net_opts o;
    net_default_opts(&o, 5);
    struct net *net = net_start(&o, 1);
    settle(net);
    struct raft *r = net_raft(net, 1);
    uint64_t before = 0, sent = 0;
    ck_assert(raft_quorum_ack_time(r, &before));
    net_isolate(net, 3);
    net_isolate(net, 4);
    net_isolate(net, 5);
    uint64_t t1 = net->now_ns + 1000000000ull;
    net->now_ns = t1;
    ck_assert_int_eq(raft_heartbeat(r, t1), 0);
    net_stabilize(net);
    /* Only node 2 acked: 2 of 5 is no quorum. */
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_eq(sent, before);
    net_heal(net);
    net_isolate(net, 4);
    net_isolate(net, 5);
    uint64_t t2 = t1 + 1000000000ull;
    net->now_ns = t2;
    ck_assert_int_eq(raft_heartbeat(r, t2), 0);
    net_stabilize(net);
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_eq(sent, t2);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_false_on_follower)
{
    struct net *net = start3(1);
    uint64_t sent;
    ck_assert(!raft_quorum_ack_time(net_raft(net, 2), &sent));
    ck_assert_int_eq(raft_heartbeat(net_raft(net, 2), net->now_ns),
                     RAFT_ENOTLEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_false_during_transfer)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    uint64_t sent;
    ck_assert(raft_quorum_ack_time(r, &sent));
    net_isolate(net, 2); /* keep the transfer from completing */
    ck_assert_int_eq(raft_transfer_leadership(r, 2, net->now_ns), 0);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    raft_heartbeat(r, net->now_ns + 1);
    net_stabilize(net);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_false_after_stepping_down)
{
    struct net *net = start3(1);
    struct raft *r = net_raft(net, 1);
    uint64_t sent;
    net_isolate(net, 1);
    net_tick_node(net, 1, 2 * net->opts.election_tick);
    ck_assert_int_ne(raft_role_of(r), RAFT_LEADER);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *readindex_suite(void)
{
    Suite *s = suite_create("raft_readindex");
    TCase *tc = tcase_create("readindex");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, leader_read_confirmed_only_after_quorum_ack);
    tcase_add_test(tc, read_index_is_commit_at_request_time);
    tcase_add_test(tc, read_index_needs_only_a_quorum);
    tcase_add_test(tc, reads_before_one_ready_share_one_heartbeat_round);
    tcase_add_test(tc, read_not_confirmed_by_round_started_before_it);
    tcase_add_test(tc, new_leader_holds_reads_until_its_term_commits);
    tcase_add_test(tc, follower_read_index_answered_through_leader);
    tcase_add_test(tc, follower_ignores_read_answer_from_non_leader);
    tcase_add_test(tc, read_round_stamped_with_request_time);
    tcase_add_test(tc, follower_without_leader_gets_notleader);
    tcase_add_test(tc, single_voter_answers_reads_at_once);
    tcase_add_test(tc, isolated_leader_never_answers_reads);
    tcase_add_test(tc, quorum_ack_time_is_send_time_not_ack_time);
    tcase_add_test(tc, quorum_ack_time_needs_a_quorum_of_acks);
    tcase_add_test(tc, quorum_ack_time_false_on_follower);
    tcase_add_test(tc, quorum_ack_time_false_during_transfer);
    tcase_add_test(tc, quorum_ack_time_false_after_stepping_down);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(readindex_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
