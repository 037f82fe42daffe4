/*
 * test_transfer.c - leadership transfer (thesis 3.10): an up-to-date target
 * gets TIMEOUT_NOW and wins at once (its vote requests carry
 * RAFT_MSG_FLAG_TRANSFER, so followers inside the leader's lease grant
 * them); a lagging target is caught up first; the leader refuses proposals
 * meanwhile (RAFT_ETRANSFER) and withdraws its quorum ack time at once; a
 * transfer that does not finish within election_tick ticks is aborted;
 * bad targets are refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

static void settle(struct net *net)
{
    net_stabilize(net);
    net_tick_all(net, net->opts.heartbeat_tick);
}

static struct net *start3(void)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    settle(net);
    return net;
}

START_TEST(transfer_to_up_to_date_follower_makes_it_leader)
{
    struct net *net = start3();
    raft_term t = raft_term_of(net_raft(net, 1));
    net_log_clear(net);
    ck_assert_int_eq(raft_transfer_leadership(net_raft(net, 1), 2, net->now_ns),
                     0);
    ck_assert_uint_eq(raft_transferee(net_raft(net, 1)), 2);
    net_stabilize(net);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 1);
    ck_assert_int_eq(raft_role_of(net_raft(net, 2)), RAFT_LEADER);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(raft_leader(net_raft(net, id)), 2);
        ck_assert_uint_eq(raft_term_of(net_raft(net, id)), t + 1);
    }
    ck_assert_uint_eq(raft_transferee(net_raft(net, 1)), RAFT_NONE);
    /* The vote requests were marked as caused by the transfer. */
    size_t votes = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_VOTE && m->from == 2) {
            votes++;
            ck_assert(m->flags & RAFT_MSG_FLAG_TRANSFER);
        }
    }
    ck_assert_uint_ge(votes, 1);
    ck_assert_int_eq(net_propose(net, 2, "new-leader", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 1, "new-leader"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(proposals_refused_during_transfer)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    net_isolate(net, 2); /* the transfer cannot finish */
    raft_index last = raft_last_index(r);
    ck_assert_int_eq(raft_transfer_leadership(r, 2, net->now_ns), 0);
    ck_assert_int_eq(net_propose(net, 1, "during", NULL), RAFT_ETRANSFER);
    struct raft_conf_change cc;
    memset(&cc, 0, sizeof(cc));
    cc.type = RAFT_CC_ADD_LEARNER;
    cc.id = 4;
    ck_assert_int_eq(raft_propose_conf_change(r, &cc, net->now_ns, NULL, NULL),
                     RAFT_ETRANSFER);
    ck_assert_uint_eq(raft_last_index(r), last);
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(quorum_ack_time_withdrawn_at_transfer_start)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    uint64_t sent;
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_int_eq(raft_transfer_leadership(r, 3, net->now_ns), 0);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    net_stabilize(net);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    ck_assert_int_ne(raft_role_of(r), RAFT_LEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(transfer_to_lagging_follower_catches_it_up_first)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    net_isolate(net, 3);
    char buf[64];
    for (int k = 0; k < 8; k++) {
        snprintf(buf, sizeof(buf), "lag-%d", k);
        ck_assert_int_eq(net_propose(net, 1, buf, NULL), 0);
    }
    settle(net);
    raft_index target = raft_last_index(r);
    ck_assert_uint_lt(net_store_last(net, 3), target);
    net_heal(net);
    net_log_clear(net);
    ck_assert_int_eq(raft_transfer_leadership(r, 3, net->now_ns), 0);
    net_stabilize(net);
    for (unsigned k = 0;
         k + 1 < net->opts.election_tick &&
         raft_role_of(net_raft(net, 3)) != RAFT_LEADER;
         k++) {
        net_tick_all(net, 1);
    }
    ck_assert_int_eq(raft_role_of(net_raft(net, 3)), RAFT_LEADER);
    /* TIMEOUT_NOW only went out once node 3 had acknowledged the log. */
    bool caught_up = false, timeout_now = false;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_APPEND_RESP && m->from == 3 && !m->reject &&
            m->index >= target) {
            caught_up = true;
        }
        if (m->type == RAFT_MSG_TIMEOUT_NOW) {
            ck_assert_msg(caught_up, "TIMEOUT_NOW before the target caught up");
            timeout_now = true;
        }
    }
    ck_assert(timeout_now);
    settle(net);
    ck_assert(net_applied_has(net, 3, "lag-7"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(transfer_aborted_after_election_tick)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    net_isolate(net, 2);
    ck_assert_int_eq(raft_transfer_leadership(r, 2, net->now_ns), 0);
    net_tick_node(net, 1, net->opts.election_tick - 1);
    net_stabilize(net);
    ck_assert_uint_eq(raft_transferee(r), 2);
    ck_assert_int_eq(net_propose(net, 1, "too-early", NULL), RAFT_ETRANSFER);
    net_tick_all(net, 2);
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_transferee(r), RAFT_NONE);
    ck_assert_int_eq(net_propose(net, 1, "after-abort", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 3, "after-abort"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(aborted_transfer_without_timeout_now_restores_quorum_ack_time)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    net_isolate(net, 2);
    ck_assert_int_eq(net_propose(net, 1, "2-lacks-this", NULL), 0);
    settle(net);
    /* Node 2 lags and is unreachable: it can never be sent TIMEOUT_NOW. */
    ck_assert_int_eq(raft_transfer_leadership(r, 2, net->now_ns), 0);
    uint64_t sent;
    ck_assert(!raft_quorum_ack_time(r, &sent));
    net_tick_all(net, net->opts.election_tick + 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_TIMEOUT_NOW, 0, 0), 0);
    ck_assert_uint_eq(raft_transferee(r), RAFT_NONE);
    net_tick_all(net, net->opts.heartbeat_tick);
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_le(sent, net->now_ns);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

/* ARCHITECTURE.md (after TiKV): a leader that sent TIMEOUT_NOW stops using
 * its lease at once; the message may still arrive and start an election
 * that ignores leader stickiness, so an aborted transfer does not bring
 * the lease back within the term. */
START_TEST(quorum_ack_time_withheld_after_timeout_now_was_sent)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 1);
    net_isolate(net, 2);
    ck_assert_int_eq(raft_transfer_leadership(r, 2, net->now_ns), 0);
    net_stabilize(net);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_TIMEOUT_NOW, 1, 2), 1);
    net_tick_all(net, net->opts.election_tick + 1);
    ck_assert_uint_eq(raft_transferee(r), RAFT_NONE);
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    net_tick_all(net, 2 * net->opts.heartbeat_tick);
    uint64_t sent;
    ck_assert(!raft_quorum_ack_time(r, &sent));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(transfer_to_bad_target_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.n_learners = 1;
    struct net *net = net_start(&o, 1);
    struct raft *r = net_raft(net, 1);
    ck_assert_int_eq(raft_transfer_leadership(r, 1, net->now_ns), RAFT_EINVAL);
    ck_assert_int_eq(raft_transfer_leadership(r, 7, net->now_ns), RAFT_EINVAL);
    ck_assert_int_eq(raft_transfer_leadership(r, 4, net->now_ns), RAFT_EINVAL);
    ck_assert_uint_eq(raft_transferee(r), RAFT_NONE);
    ck_assert_int_eq(net_propose(net, 1, "still-fine", NULL), 0);
    ck_assert_int_eq(
        raft_transfer_leadership(net_raft(net, 2), 3, net->now_ns),
        RAFT_ENOTLEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(timeout_now_makes_follower_campaign_at_once)
{
    struct net *net = start3();
    raft_term t = raft_term_of(net_raft(net, 3));
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_TIMEOUT_NOW;
    m.from = 1;
    m.to = 3;
    m.term = t;
    ck_assert_int_eq(raft_step(net_raft(net, 3), &m, net->now_ns), 0);
    net_stabilize(net);
    ck_assert_int_eq(raft_role_of(net_raft(net, 3)), RAFT_LEADER);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 3)), t + 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *transfer_suite(void)
{
    Suite *s = suite_create("raft_transfer");
    TCase *tc = tcase_create("transfer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, transfer_to_up_to_date_follower_makes_it_leader);
    tcase_add_test(tc, proposals_refused_during_transfer);
    tcase_add_test(tc, quorum_ack_time_withdrawn_at_transfer_start);
    tcase_add_test(tc, transfer_to_lagging_follower_catches_it_up_first);
    tcase_add_test(tc, transfer_aborted_after_election_tick);
    tcase_add_test(tc, aborted_transfer_without_timeout_now_restores_quorum_ack_time);
    tcase_add_test(tc, quorum_ack_time_withheld_after_timeout_now_was_sent);
    tcase_add_test(tc, transfer_to_bad_target_is_refused);
    tcase_add_test(tc, timeout_now_makes_follower_campaign_at_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transfer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
