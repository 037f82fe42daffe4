/*
 * test_restart.c - a node rebuilt with raft_create() from what its storage
 * made durable: term and vote survive (no second vote in a term), the
 * commit index comes back, committed entries are handed out again for the
 * state machine, the node rejoins the cluster; storage that contradicts
 * itself is refused with RAFT_ECORRUPT and a bad config with RAFT_EINVAL.
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

static bool granted_to(const struct net *net, raft_id from, raft_id to)
{
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_VOTE_RESP && m->from == from && m->to == to &&
            !m->reject) {
            return true;
        }
    }
    return false;
}

static struct raft_message vote_req(struct net *net, raft_id from, raft_id to,
                                    raft_term term)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE;
    m.from = from;
    m.to = to;
    m.term = term;
    m.index = net_store_last(net, to);
    m.log_term = net_store_term(net, to, m.index);
    return m;
}

START_TEST(restart_keeps_term_and_vote)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_process(net);
    raft_term t = raft_term_of(net_raft(net, 1));
    struct raft_message m = vote_req(net, 2, 1, t + 1);
    ck_assert_int_eq(raft_step(net_raft(net, 1), &m, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert(granted_to(net, 1, 2));

    net_crash(net, 1);
    ck_assert_int_eq(net_restart(net, 1), 0);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 1)), t + 1);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_FOLLOWER);
    net_process_node(net, 1);
    net_log_clear(net);
    m = vote_req(net, 3, 1, t + 1);
    raft_step(net_raft(net, 1), &m, net->now_ns);
    net_process_node(net, 1);
    ck_assert(!granted_to(net, 1, 3));
    /* The vote it gave survives as well. */
    m = vote_req(net, 2, 1, t + 1);
    raft_step(net_raft(net, 1), &m, net->now_ns);
    net_process_node(net, 1);
    ck_assert(granted_to(net, 1, 2));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(vote_lost_before_persist_was_never_sent)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_process(net);
    raft_term t = raft_term_of(net_raft(net, 1));
    net_hold_persist(net, 1, true);
    struct raft_message m = vote_req(net, 2, 1, t + 1);
    raft_step(net_raft(net, 1), &m, net->now_ns);
    net_process_node(net, 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE_RESP, 1, 2), 0);
    net_crash(net, 1); /* the vote never became durable */
    ck_assert_int_eq(net_restart(net, 1), 0);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 1)), t);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE_RESP, 1, 0), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(restart_restores_commit_and_replays_committed_entries)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "a", NULL), 0);
    ck_assert_int_eq(net_propose(net, 1, "b", &i), 0);
    settle(net);
    ck_assert(net_applied_has(net, 2, "b"));
    raft_term t = raft_term_of(net_raft(net, 2));

    net_crash(net, 2);
    ck_assert_int_eq(net_restart(net, 2), 0);
    struct raft *r = net_raft(net, 2);
    ck_assert_uint_eq(raft_commit_index(r), i);
    ck_assert_uint_eq(raft_last_index(r), i);
    ck_assert_uint_eq(raft_term_of(r), t);
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(r)), 3);
    /* The state machine restarts empty: committed entries come out again
     * (the fixture checks they start right after applied_index). */
    ck_assert_uint_eq(raft_applied_index(r), 0);
    net_process_node(net, 2);
    ck_assert(net_applied_has(net, 2, "a"));
    ck_assert(net_applied_has(net, 2, "b"));
    ck_assert_uint_eq(raft_applied_index(r), i);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(restarted_follower_rejoins_cluster)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    ck_assert_int_eq(net_propose(net, 1, "before", NULL), 0);
    settle(net);
    net_crash(net, 3);
    ck_assert_int_eq(net_propose(net, 1, "while-down", NULL), 0);
    settle(net);
    ck_assert_int_eq(net_restart(net, 3), 0);
    ck_assert_int_eq(net_propose(net, 1, "after", NULL), 0);
    settle(net);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert(net_applied_has(net, 3, "while-down"));
    ck_assert(net_applied_has(net, 3, "after"));
    ck_assert_uint_eq(raft_leader(net_raft(net, 3)), 1);
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(restarted_leader_rejoins_as_follower)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    ck_assert_int_eq(net_propose(net, 1, "v1", NULL), 0);
    settle(net);
    net_crash(net, 1);
    raft_id l = RAFT_NONE;
    for (unsigned k = 0; k < 10 * o.election_tick && l == RAFT_NONE; k++) {
        net_tick_all(net, 1);
        l = net_leader(net);
    }
    ck_assert(l == 2 || l == 3);
    ck_assert_int_eq(net_restart(net, 1), 0);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_FOLLOWER);
    ck_assert_int_eq(net_propose(net, l, "v2", NULL), 0);
    settle(net);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert_uint_eq(raft_leader(net_raft(net, 1)), l);
    ck_assert(net_applied_has(net, 1, "v1"));
    ck_assert(net_applied_has(net, 1, "v2"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(restart_from_snapshot_resumes_after_it)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    for (int k = 0; k < 5; k++) {
        ck_assert_int_eq(net_propose(net, 1, "pre", NULL), 0);
    }
    settle(net);
    raft_index snap = net_node(net, 2)->applied_index;
    ck_assert_int_eq(net_compact(net, 2, snap, "sm-state", 8), 0);
    ck_assert_int_eq(net_propose(net, 1, "post", NULL), 0);
    settle(net);
    net_crash(net, 2);
    ck_assert_int_eq(net_restart(net, 2), 0);
    struct raft *r = net_raft(net, 2);
    ck_assert_uint_eq(raft_applied_index(r), snap);
    ck_assert_uint_gt(raft_commit_index(r), snap);
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(r)), 3);
    net_process_node(net, 2);
    ck_assert(net_applied_has(net, 2, "post"));
    ck_assert(!net_applied_has(net, 2, "pre")); /* inside the snapshot */
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(commit_beyond_log_is_corrupt)
{
    struct raft_memstore *ms = raft_memstore_create();
    struct raft_entry e[3];
    memset(e, 0, sizeof(e));
    for (int k = 0; k < 3; k++) {
        e[k].term = 1;
        e[k].index = (raft_index)k + 1;
    }
    ck_assert_int_eq(raft_memstore_append(ms, e, 3), 0);
    struct raft_hard_state hs = {2, 1, 5};
    ck_assert_int_eq(raft_memstore_set_hard_state(ms, &hs), 0);
    struct raft_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.id = 1;
    cfg.storage = raft_memstore_storage(ms);
    cfg.election_tick = 10;
    cfg.heartbeat_tick = 2;
    cfg.max_inflight = 16;
    cfg.max_msg_bytes = 1 << 20;
    cfg.seed = 7;
    struct raft *r = NULL;
    ck_assert_int_eq(raft_create(&cfg, &r), RAFT_ECORRUPT);
    /* The same log with commit 3 is fine. */
    hs.commit = 3;
    ck_assert_int_eq(raft_memstore_set_hard_state(ms, &hs), 0);
    ck_assert_int_eq(raft_create(&cfg, &r), 0);
    ck_assert_uint_eq(raft_commit_index(r), 3);
    ck_assert_uint_eq(raft_term_of(r), 2);
    raft_destroy(r);
    raft_memstore_destroy(ms);
}
END_TEST

START_TEST(bad_config_is_refused)
{
    struct raft_memstore *ms = raft_memstore_create();
    struct raft_config good;
    memset(&good, 0, sizeof(good));
    good.id = 1;
    good.storage = raft_memstore_storage(ms);
    good.election_tick = 10;
    good.heartbeat_tick = 2;
    good.max_inflight = 16;
    good.max_msg_bytes = 1 << 20;
    struct raft *r = NULL;

    struct raft_config c = good;
    c.id = RAFT_NONE;
    ck_assert_int_eq(raft_create(&c, &r), RAFT_EINVAL);
    c = good;
    c.heartbeat_tick = 10; /* must be < election_tick */
    ck_assert_int_eq(raft_create(&c, &r), RAFT_EINVAL);
    c = good;
    c.max_inflight = 0;
    ck_assert_int_eq(raft_create(&c, &r), RAFT_EINVAL);

    ck_assert_int_eq(raft_create(&good, &r), 0);
    ck_assert_uint_eq(raft_id_of(r), 1);
    ck_assert_int_eq(raft_role_of(r), RAFT_FOLLOWER);
    raft_destroy(r);
    raft_memstore_destroy(ms);
}
END_TEST

static Suite *restart_suite(void)
{
    Suite *s = suite_create("raft_restart");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, restart_keeps_term_and_vote);
    tcase_add_test(tc, vote_lost_before_persist_was_never_sent);
    tcase_add_test(tc, restart_restores_commit_and_replays_committed_entries);
    tcase_add_test(tc, restarted_follower_rejoins_cluster);
    tcase_add_test(tc, restarted_leader_rejoins_as_follower);
    tcase_add_test(tc, restart_from_snapshot_resumes_after_it);
    tcase_add_test(tc, commit_beyond_log_is_corrupt);
    tcase_add_test(tc, bad_config_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(restart_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
