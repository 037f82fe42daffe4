/*
 * test_membership.c - one-server-at-a-time membership changes (thesis 4.1,
 * 4.2.1): a learner receives the log but neither votes nor counts, a
 * promoted learner counts, a removed voter stops counting, one change at a
 * time (RAFT_ECONFPENDING, also before the leader commits in its term),
 * nonsensical changes (RAFT_EBADCONF), a leader that removes itself steps
 * down, and the configuration comes back after a restart.
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

static int change(struct net *net, raft_id on, uint32_t type, raft_id id,
                  raft_index *index)
{
    struct raft_conf_change cc;
    memset(&cc, 0, sizeof(cc));
    cc.type = type;
    cc.id = id;
    cc.ctx = (const uint8_t *)"addr";
    cc.ctx_len = 4;
    return raft_propose_conf_change(net_raft(net, on), &cc, net->now_ns, index,
                                    NULL);
}

static bool is_learner(const struct raft_conf *c, raft_id id)
{
    const struct raft_member *m = raft_conf_find(c, id);
    return m != NULL && m->learner;
}

static bool is_voter(const struct raft_conf *c, raft_id id)
{
    const struct raft_member *m = raft_conf_find(c, id);
    return m != NULL && !m->learner;
}

/* 3 voters led by 1, plus node 4 added as a learner and caught up. */
static struct net *with_learner4(void)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_add_node(net, 4);
    raft_index i = 0;
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 4, &i), 0);
    settle(net);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert_uint_ge(raft_commit_index(net_raft(net, 1)), i);
    ck_assert_uint_ge(raft_commit_index(net_raft(net, 4)), i);
    return net;
}

START_TEST(added_learner_receives_log)
{
    struct net *net = with_learner4();
    ck_assert(is_learner(raft_conf_of(net_raft(net, 1)), 4));
    ck_assert(is_learner(raft_conf_of(net_raft(net, 4)), 4));
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(net_raft(net, 4))), 3);
    ck_assert(net_node(net, 1)->have_conf);
    ck_assert(is_learner(&net_node(net, 1)->conf, 4));
    ck_assert(is_learner(&net_node(net, 2)->conf, 4));
    /* The conf change entry itself came out in committed with its ctx. */
    bool seen = false;
    const struct net_node *n2 = net_node(net, 2);
    for (size_t k = 0; k < n2->n_applied; k++) {
        const struct raft_entry *e = &n2->applied[k];
        struct raft_conf_change cc;
        if (e->type == RAFT_ENTRY_CONF_CHANGE &&
            raft_conf_change_decode(e->data, e->len, &cc) == 0 && cc.id == 4) {
            seen = true;
            ck_assert_uint_eq(cc.type, RAFT_CC_ADD_LEARNER);
            ck_assert_uint_eq(cc.ctx_len, 4);
            ck_assert_mem_eq(cc.ctx, "addr", 4);
        }
    }
    ck_assert(seen);
    ck_assert_int_eq(net_propose(net, 1, "for-all", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 4, "for-all"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(learner_does_not_count_towards_commit)
{
    struct net *net = with_learner4();
    net_isolate(net, 2);
    net_isolate(net, 3);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "needs-voters", &i), 0);
    settle(net);
    ck_assert_uint_ge(net_store_last(net, 4), i); /* the learner has it */
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    net_heal(net);
    settle(net);
    ck_assert(net_applied_has(net, 1, "needs-voters"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(learner_does_not_vote)
{
    struct net *net = with_learner4();
    /* A pre-vote / vote the learner answers must not elect anyone: node 2
     * alone with the learner stays a (pre-)candidate. */
    net_isolate(net, 1);
    net_isolate(net, 3); /* 2 and 4 still talk */
    net_tick_all(net, 6 * net->opts.election_tick);
    ck_assert_int_ne(raft_role_of(net_raft(net, 2)), RAFT_LEADER);
    ck_assert_int_ne(raft_role_of(net_raft(net, 4)), RAFT_LEADER);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE, 4, 0), 0);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_PRE_VOTE, 4, 0), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(promoted_learner_counts_towards_commit)
{
    struct net *net = with_learner4();
    raft_index i = 0;
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_VOTER, 4, &i), 0);
    settle(net);
    ck_assert(is_voter(raft_conf_of(net_raft(net, 1)), 4));
    ck_assert(is_voter(raft_conf_of(net_raft(net, 4)), 4));
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(net_raft(net, 1))), 4);
    /* 4 voters: {1, 2, 4} is a quorum, {1, 2} is not. */
    net_isolate(net, 3);
    ck_assert_int_eq(net_propose(net, 1, "three-of-four", &i), 0);
    settle(net);
    ck_assert(net_applied_has(net, 1, "three-of-four"));
    net_isolate(net, 4);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    ck_assert_int_eq(net_propose(net, 1, "two-of-four", &i), 0);
    settle(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(removed_voter_no_longer_counts)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index i = 0;
    ck_assert_int_eq(change(net, 1, RAFT_CC_REMOVE, 3, &i), 0);
    settle(net);
    ck_assert_ptr_null(raft_conf_find(raft_conf_of(net_raft(net, 1)), 3));
    ck_assert_ptr_null(raft_conf_find(raft_conf_of(net_raft(net, 2)), 3));
    ck_assert_uint_eq(raft_conf_voters(raft_conf_of(net_raft(net, 1))), 2);
    net_crash(net, 3);
    ck_assert_int_eq(net_propose(net, 1, "two-voters", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 2, "two-voters"));
    /* With 2 voters, one alone is no quorum. */
    net_isolate(net, 2);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    ck_assert_int_eq(net_propose(net, 1, "alone", NULL), 0);
    net_stabilize(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(second_change_while_one_pending_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_add_node(net, 4);
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 4, NULL), 0);
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 5, NULL),
                     RAFT_ECONFPENDING);
    settle(net);
    /* Once it committed, the next one is accepted. */
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_VOTER, 4, NULL), 0);
    settle(net);
    ck_assert(is_voter(raft_conf_of(net_raft(net, 1)), 4));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(change_before_leader_commits_in_term_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    struct raft *r = net_raft(net, 1);
    raft_campaign(r, net->now_ns);
    for (int k = 0; k < 20 && raft_role_of(r) != RAFT_LEADER; k++) {
        net_round(net);
    }
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    ck_assert(!raft_committed_in_term(r));
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 4, NULL),
                     RAFT_ECONFPENDING);
    settle(net);
    ck_assert(raft_committed_in_term(r));
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 4, NULL), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(nonsensical_changes_are_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index last = raft_last_index(net_raft(net, 1));
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_VOTER, 2, NULL), RAFT_EBADCONF);
    ck_assert_int_eq(change(net, 1, RAFT_CC_REMOVE, 9, NULL), RAFT_EBADCONF);
    ck_assert_uint_eq(raft_last_index(net_raft(net, 1)), last);
    /* A refused change leaves nothing pending. */
    ck_assert_int_eq(change(net, 1, RAFT_CC_ADD_LEARNER, 4, NULL), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(change_on_follower_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    ck_assert_int_eq(change(net, 2, RAFT_CC_ADD_LEARNER, 4, NULL),
                     RAFT_ENOTLEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(removed_leader_steps_down)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index i = 0;
    ck_assert_int_eq(change(net, 1, RAFT_CC_REMOVE, 1, &i), 0);
    settle(net);
    ck_assert_uint_ge(raft_commit_index(net_raft(net, 2)), i);
    ck_assert_int_ne(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    ck_assert_ptr_null(raft_conf_find(raft_conf_of(net_raft(net, 2)), 1));
    /* The two remaining voters carry on without it. */
    raft_id l = RAFT_NONE;
    for (unsigned k = 0; k < 10 * o.election_tick && l == RAFT_NONE; k++) {
        net_tick_all(net, 1);
        for (raft_id id = 2; id <= 3; id++) {
            if (raft_role_of(net_raft(net, id)) == RAFT_LEADER) {
                l = id;
            }
        }
    }
    ck_assert_uint_ne(l, RAFT_NONE);
    ck_assert_int_ne(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    net_crash(net, 1);
    ck_assert_int_eq(net_propose(net, l, "without-1", NULL), 0);
    settle(net);
    ck_assert(net_applied_has(net, 2, "without-1"));
    ck_assert(net_applied_has(net, 3, "without-1"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(configuration_rebuilt_after_restart)
{
    struct net *net = with_learner4();
    raft_index i = 0;
    ck_assert_int_eq(change(net, 1, RAFT_CC_REMOVE, 3, &i), 0);
    settle(net);
    net_crash(net, 2);
    ck_assert_int_eq(net_restart(net, 2), 0);
    const struct raft_conf *c = raft_conf_of(net_raft(net, 2));
    ck_assert(is_learner(c, 4));
    ck_assert(is_voter(c, 1));
    ck_assert(is_voter(c, 2));
    ck_assert_ptr_null(raft_conf_find(c, 3));
    ck_assert_uint_eq(raft_conf_voters(c), 2);
    net_crash(net, 4);
    ck_assert_int_eq(net_restart(net, 4), 0);
    ck_assert(is_learner(raft_conf_of(net_raft(net, 4)), 4));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(configuration_rebuilt_from_snapshot_after_restart)
{
    struct net *net = with_learner4();
    settle(net);
    raft_index idx = net_node(net, 2)->applied_index;
    ck_assert_int_eq(net_compact(net, 2, idx, "state", 5), 0);
    net_crash(net, 2);
    ck_assert_int_eq(net_restart(net, 2), 0);
    const struct raft_conf *c = raft_conf_of(net_raft(net, 2));
    ck_assert(is_learner(c, 4));
    ck_assert_uint_eq(raft_conf_voters(c), 3);
    ck_assert_uint_ge(raft_commit_index(net_raft(net, 2)), idx);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *membership_suite(void)
{
    Suite *s = suite_create("raft_membership");
    TCase *tc = tcase_create("membership");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, added_learner_receives_log);
    tcase_add_test(tc, learner_does_not_count_towards_commit);
    tcase_add_test(tc, learner_does_not_vote);
    tcase_add_test(tc, promoted_learner_counts_towards_commit);
    tcase_add_test(tc, removed_voter_no_longer_counts);
    tcase_add_test(tc, second_change_while_one_pending_is_refused);
    tcase_add_test(tc, change_before_leader_commits_in_term_is_refused);
    tcase_add_test(tc, nonsensical_changes_are_refused);
    tcase_add_test(tc, change_on_follower_is_refused);
    tcase_add_test(tc, removed_leader_steps_down);
    tcase_add_test(tc, configuration_rebuilt_after_restart);
    tcase_add_test(tc, configuration_rebuilt_from_snapshot_after_restart);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(membership_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
