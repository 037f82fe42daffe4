/*
 * test_election.c - leader election (thesis 3.4, 4.2.3, 9.6): one leader per
 * term, randomized timeouts, PreVote, CheckQuorum, leader stickiness (the
 * rule leader leases rest on), the election restriction (5.4.1), one vote
 * per term, votes leaving only after they are durable, learners that never
 * campaign.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

/* Ticks every node until some node is leader; returns it (or RAFT_NONE). */
static raft_id tick_until_leader(struct net *net, unsigned max_ticks)
{
    for (unsigned k = 0; k < max_ticks; k++) {
        net_tick_all(net, 1);
        raft_id l = net_leader(net);
        if (l != RAFT_NONE) {
            return l;
        }
    }
    return RAFT_NONE;
}

/* The last response of `type` from `from` to `to` recorded, or NULL. */
static const struct net_rec *last_msg(const struct net *net, uint32_t type,
                                      raft_id from, raft_id to)
{
    for (size_t i = net->n_log; i-- > 0;) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == type && m->from == from && m->to == to) {
            return &net->log[i];
        }
    }
    return NULL;
}

/* Whether `from` granted anything of `type` to `to` in the log. */
static bool granted(const struct net *net, uint32_t type, raft_id from,
                    raft_id to)
{
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == type && m->from == from && m->to == to && !m->reject) {
            return true;
        }
    }
    return false;
}

/* A vote request from `from` to `to` whose log is as up to date as `to`'s
 * durable log (`index_delta` shortens it). */
static struct raft_message vote_req(struct net *net, uint32_t type,
                                    raft_id from, raft_id to, raft_term term,
                                    raft_index index_delta)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = from;
    m.to = to;
    m.term = term;
    raft_index last = net_store_last(net, to);
    m.index = last - index_delta;
    m.log_term = net_store_term(net, to, m.index);
    return m;
}

START_TEST(single_node_elects_itself)
{
    struct net_opts o;
    net_default_opts(&o, 1);
    struct net *net = net_create(&o);
    raft_id l = tick_until_leader(net, 2 * o.election_tick + 1);
    ck_assert_uint_eq(l, 1);
    ck_assert_uint_eq(raft_leader(net_raft(net, 1)), 1);
    ck_assert(raft_committed_in_term(net_raft(net, 1)));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(three_nodes_elect_exactly_one_leader)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    raft_id l = tick_until_leader(net, 20 * o.election_tick);
    ck_assert_uint_ne(l, RAFT_NONE);
    net_tick_all(net, o.heartbeat_tick);
    raft_term t = raft_term_of(net_raft(net, l));
    unsigned leaders = 0;
    for (raft_id id = 1; id <= 3; id++) {
        struct raft *r = net_raft(net, id);
        leaders += raft_role_of(r) == RAFT_LEADER;
        ck_assert_uint_eq(raft_leader(r), l);
        ck_assert_uint_eq(raft_term_of(r), t);
    }
    ck_assert_uint_eq(leaders, 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

/* The node that first leaves the follower role with seed `seed`, and after
 * how many ticks. */
static raft_id first_candidate(uint64_t seed, unsigned *ticks)
{
    struct net_opts o;
    net_default_opts(&o, 5);
    o.seed = seed;
    struct net *net = net_create(&o);
    raft_id first = RAFT_NONE;
    for (unsigned k = 1; k <= 3 * o.election_tick && first == RAFT_NONE; k++) {
        net_tick_all(net, 1);
        for (raft_id id = 1; id <= 5; id++) {
            if (net_node(net, id)->n_became_candidate > 0) {
                first = id;
                *ticks = k;
                break;
            }
        }
    }
    net_destroy(net);
    return first;
}

START_TEST(election_timeouts_are_randomized_by_seed)
{
    bool seen[6] = {false};
    unsigned distinct = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        unsigned ticks = 0;
        raft_id c = first_candidate(seed, &ticks);
        ck_assert_uint_ne(c, RAFT_NONE);
        /* Randomized timeout in [election_tick, 2 * election_tick). */
        ck_assert_uint_ge(ticks, 10);
        ck_assert_uint_le(ticks, 20);
        if (!seen[c]) {
            seen[c] = true;
            distinct++;
        }
        /* The same seed replays the same election. */
        unsigned again = 0;
        ck_assert_uint_eq(first_candidate(seed, &again), c);
        ck_assert_uint_eq(again, ticks);
    }
    ck_assert_uint_ge(distinct, 2);
}
END_TEST

START_TEST(prevote_keeps_rejoining_node_from_disrupting_leader)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 1));
    net_isolate(net, 3);
    net_tick_all(net, 6 * o.election_tick);
    /* Pre-candidates never win a pre-vote alone, so the term stays. */
    ck_assert_uint_gt(net_node(net, 3)->n_became_candidate, 0);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 3)), t);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_LEADER);

    net_heal(net);
    net_tick_all(net, 3 * o.election_tick);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(raft_term_of(net_raft(net, id)), t);
        ck_assert_uint_eq(raft_leader(net_raft(net, id)), 1);
    }
    ck_assert_uint_eq(net_node(net, 1)->n_became_leader, 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(prevote_candidate_does_not_persist_a_new_term)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    raft_term t = raft_term_of(net_raft(net, 2));
    net_isolate(net, 2);
    raft_campaign(net_raft(net, 2), net->now_ns);
    net_process_node(net, 2);
    ck_assert_int_eq(raft_role_of(net_raft(net, 2)), RAFT_PRE_CANDIDATE);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 2)), t);
    const struct net_rec *pv = last_msg(net, RAFT_MSG_PRE_VOTE, 2, 1);
    ck_assert_ptr_nonnull(pv);
    ck_assert_uint_eq(pv->m.term, t + 1); /* asks for the next term */
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE, 2, 0), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(check_quorum_isolated_leader_steps_down)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 1);
    net_tick_node(net, 1, 2 * o.election_tick);
    ck_assert_int_ne(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    ck_assert_int_ne(net_node(net, 1)->soft.role, RAFT_LEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(check_quorum_leader_with_quorum_stays)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    net_tick_all(net, 5 * o.election_tick);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    ck_assert_uint_eq(net_node(net, 1)->n_became_leader, 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(without_check_quorum_isolated_leader_stays)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.check_quorum = false;
    struct net *net = net_start(&o, 1);
    net_isolate(net, 1);
    net_tick_node(net, 1, 4 * o.election_tick);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_in_lease_ignores_vote_from_higher_term)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 2));
    net_log_clear(net);
    struct raft_message m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 1, 0);
    raft_step(net_raft(net, 2), &m, net->now_ns);
    net_process_node(net, 2);
    ck_assert(!granted(net, RAFT_MSG_VOTE_RESP, 2, 3));
    /* Thesis 4.2.3: neither the vote nor the term changes. */
    ck_assert_uint_eq(raft_term_of(net_raft(net, 2)), t);
    ck_assert_uint_eq(raft_leader(net_raft(net, 2)), 1);
    ck_assert_int_eq(raft_role_of(net_raft(net, 2)), RAFT_FOLLOWER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_in_lease_refuses_prevote)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 2));
    net_log_clear(net);
    struct raft_message m = vote_req(net, RAFT_MSG_PRE_VOTE, 3, 2, t + 1, 0);
    raft_step(net_raft(net, 2), &m, net->now_ns);
    net_process_node(net, 2);
    ck_assert(!granted(net, RAFT_MSG_PRE_VOTE_RESP, 2, 3));
    ck_assert_uint_eq(raft_term_of(net_raft(net, 2)), t);
    ck_assert_uint_eq(raft_leader(net_raft(net, 2)), 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_in_lease_grants_transfer_vote)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 2));
    net_log_clear(net);
    struct raft_message m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 1, 0);
    m.flags = RAFT_MSG_FLAG_TRANSFER;
    ck_assert_int_eq(raft_step(net_raft(net, 2), &m, net->now_ns), 0);
    net_process_node(net, 2);
    const struct net_rec *r = last_msg(net, RAFT_MSG_VOTE_RESP, 2, 3);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->m.reject);
    ck_assert_uint_eq(r->m.term, t + 1);
    ck_assert(r->after_persist);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 2)), t + 1);
    struct raft_hard_state hs;
    struct raft_snapshot_meta sm;
    struct raft_storage st = raft_memstore_storage(net_node(net, 2)->ms);
    st.initial_state(st.data, &hs, &sm);
    ck_assert_uint_eq(hs.term, t + 1);
    ck_assert_uint_eq(hs.vote, 3);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_past_lease_grants_vote)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 2));
    /* Node 2 hears nothing for election_tick ticks.  It may start its own
     * election meanwhile; ask for a term above anything it could reach. */
    net_isolate(net, 2);
    net_tick_node(net, 2, o.election_tick + 1);
    net_heal(net);
    net_log_clear(net);
    struct raft_message m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 5, 0);
    raft_step(net_raft(net, 2), &m, net->now_ns);
    net_process_node(net, 2);
    const struct net_rec *r = last_msg(net, RAFT_MSG_VOTE_RESP, 2, 3);
    ck_assert_ptr_nonnull(r);
    ck_assert(!r->m.reject);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 2)), t + 5);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(vote_refused_to_candidate_with_stale_log)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.disable_leader_stickiness = true; /* only the log decides here */
    struct net *net = net_start(&o, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(net_propose(net, 1, "x", NULL), 0);
    }
    net_stabilize(net);
    net_tick_all(net, o.heartbeat_tick);
    raft_term t = raft_term_of(net_raft(net, 2));
    net_log_clear(net);

    /* Same last term, shorter log (5.4.1). */
    struct raft_message m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 1, 1);
    raft_step(net_raft(net, 2), &m, net->now_ns);
    net_process_node(net, 2);
    ck_assert(!granted(net, RAFT_MSG_VOTE_RESP, 2, 3));

    /* Older last term, longer log. */
    raft_term last_term = net_store_term(net, 2, net_store_last(net, 2));
    if (last_term > 1) {
        m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 2, 0);
        m.index += 100;
        m.log_term = last_term - 1;
        raft_step(net_raft(net, 2), &m, net->now_ns);
        net_process_node(net, 2);
        ck_assert(!granted(net, RAFT_MSG_VOTE_RESP, 2, 3));
    }

    /* Control: an up-to-date candidate in a new term gets the vote. */
    m = vote_req(net, RAFT_MSG_VOTE, 3, 2, t + 3, 0);
    raft_step(net_raft(net, 2), &m, net->now_ns);
    net_process_node(net, 2);
    ck_assert(granted(net, RAFT_MSG_VOTE_RESP, 2, 3));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(one_vote_per_term)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_process(net);
    raft_term t = raft_term_of(net_raft(net, 1));
    net_log_clear(net);

    struct raft_message m = vote_req(net, RAFT_MSG_VOTE, 2, 1, t + 1, 0);
    ck_assert_int_eq(raft_step(net_raft(net, 1), &m, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert(granted(net, RAFT_MSG_VOTE_RESP, 1, 2));

    m = vote_req(net, RAFT_MSG_VOTE, 3, 1, t + 1, 0);
    raft_step(net_raft(net, 1), &m, net->now_ns);
    net_process_node(net, 1);
    ck_assert(!granted(net, RAFT_MSG_VOTE_RESP, 1, 3));

    /* A repeated request from the same candidate is granted again. */
    net_log_clear(net);
    m = vote_req(net, RAFT_MSG_VOTE, 2, 1, t + 1, 0);
    raft_step(net_raft(net, 1), &m, net->now_ns);
    net_process_node(net, 1);
    ck_assert(granted(net, RAFT_MSG_VOTE_RESP, 1, 2));

    struct raft_hard_state hs;
    struct raft_snapshot_meta sm;
    struct raft_storage st = raft_memstore_storage(net_node(net, 1)->ms);
    st.initial_state(st.data, &hs, &sm);
    ck_assert_uint_eq(hs.term, t + 1);
    ck_assert_uint_eq(hs.vote, 2);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(prevote_grant_changes_neither_term_nor_vote)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    struct raft *r = net_raft(net, 1);
    raft_term t = raft_term_of(r);
    net_log_clear(net);
    struct raft_message m = vote_req(net, RAFT_MSG_PRE_VOTE, 2, 1, t + 1, 0);
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert(granted(net, RAFT_MSG_PRE_VOTE_RESP, 1, 2));
    ck_assert_uint_eq(raft_term_of(r), t);
    /* The pre-vote promised nothing: a real vote in t + 1 is still free. */
    m = vote_req(net, RAFT_MSG_VOTE, 3, 1, t + 1, 0);
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), 0);
    net_process_node(net, 1);
    ck_assert(granted(net, RAFT_MSG_VOTE_RESP, 1, 3));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(candidate_without_majority_never_wins)
{
    struct net_opts o;
    net_default_opts(&o, 5);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_cut(net, 1, 3);
    net_cut(net, 1, 4);
    net_cut(net, 1, 5);
    net_isolate(net, 2);
    net_cut(net, 3, 4); /* nobody else can win either */
    net_cut(net, 3, 5);
    net_cut(net, 4, 5);
    net->cut[1][2] = net->cut[2][1] = false;
    raft_campaign(net_raft(net, 1), net->now_ns);
    net_stabilize(net);
    ck_assert(granted(net, RAFT_MSG_VOTE_RESP, 2, 1));
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_CANDIDATE);
    net_tick_all(net, 4 * o.election_tick);
    ck_assert_uint_eq(net_leader(net), RAFT_NONE);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(votes_leave_only_after_persist)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    ck_assert_uint_eq(net_elect(net, 2), 2);
    size_t votes = 0, resps = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct net_rec *r = &net->log[i];
        if (r->m.type == RAFT_MSG_VOTE) {
            votes++;
            ck_assert_msg(r->after_persist, "VOTE sent before persist");
        }
        if (r->m.type == RAFT_MSG_VOTE_RESP) {
            resps++;
            ck_assert_msg(r->after_persist, "VOTE_RESP sent before persist");
        }
    }
    ck_assert_uint_eq(votes, 2);
    ck_assert_uint_ge(resps, 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(candidate_with_held_persist_sends_no_votes)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_hold_persist(net, 2, true);
    raft_campaign(net_raft(net, 2), net->now_ns);
    net_stabilize(net);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE, 2, 0), 0);
    ck_assert_int_ne(raft_role_of(net_raft(net, 2)), RAFT_LEADER);
    net_hold_persist(net, 2, false);
    net_release_persist(net, 2);
    net_stabilize(net);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE, 2, 0), 2);
    ck_assert_int_eq(raft_role_of(net_raft(net, 2)), RAFT_LEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(learner_never_campaigns)
{
    struct net_opts o;
    net_default_opts(&o, 2);
    o.n_learners = 1;
    struct net *net = net_create(&o);
    net_isolate(net, 3);
    net_tick_all(net, 6 * o.election_tick);
    raft_campaign(net_raft(net, 3), net->now_ns);
    net_tick_all(net, 1);
    ck_assert_uint_eq(net_node(net, 3)->n_became_candidate, 0);
    ck_assert_int_eq(raft_role_of(net_raft(net, 3)), RAFT_FOLLOWER);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_VOTE, 3, 0), 0);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_PRE_VOTE, 3, 0), 0);
    /* The two voters elect a leader without the learner. */
    ck_assert_uint_ne(net_leader(net), RAFT_NONE);
    ck_assert_uint_ne(net_leader(net), 3);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(learner_vote_does_not_count)
{
    /* Voters 1 and 2, learner 3.  Node 1 reaches only the learner: even if
     * the learner grants its vote, 1 of 2 voters is no majority. */
    struct net_opts o;
    net_default_opts(&o, 2);
    o.n_learners = 1;
    o.pre_vote = false;
    struct net *net = net_create(&o);
    net_isolate(net, 2);
    struct raft *r = net_raft(net, 1);
    raft_campaign(r, net->now_ns);
    net_stabilize(net);
    ck_assert_uint_ge(net_count(net, RAFT_MSG_VOTE, 1, 2), 1);
    ck_assert_int_eq(raft_role_of(r), RAFT_CANDIDATE);
    /* Whether or not the core asks learners, a learner's grant is no vote. */
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_VOTE_RESP;
    m.from = 3;
    m.to = 1;
    m.term = raft_term_of(r);
    raft_step(r, &m, net->now_ns);
    net_stabilize(net);
    ck_assert_int_eq(raft_role_of(r), RAFT_CANDIDATE);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(stale_term_leader_steps_down_on_higher_term)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.check_quorum = false;
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 1));
    net_isolate(net, 1);
    /* 2 and 3 elect a new leader after their leases run out. */
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
    ck_assert_uint_gt(raft_term_of(net_raft(net, l)), t);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    net_heal(net);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_FOLLOWER);
    ck_assert_uint_eq(raft_leader(net_raft(net, 1)), l);
    ck_assert_uint_eq(raft_term_of(net_raft(net, 1)),
                      raft_term_of(net_raft(net, l)));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *election_suite(void)
{
    Suite *s = suite_create("raft_election");
    TCase *tc = tcase_create("election");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, single_node_elects_itself);
    tcase_add_test(tc, three_nodes_elect_exactly_one_leader);
    tcase_add_test(tc, election_timeouts_are_randomized_by_seed);
    tcase_add_test(tc, prevote_keeps_rejoining_node_from_disrupting_leader);
    tcase_add_test(tc, prevote_candidate_does_not_persist_a_new_term);
    tcase_add_test(tc, check_quorum_isolated_leader_steps_down);
    tcase_add_test(tc, check_quorum_leader_with_quorum_stays);
    tcase_add_test(tc, without_check_quorum_isolated_leader_stays);
    tcase_add_test(tc, follower_in_lease_ignores_vote_from_higher_term);
    tcase_add_test(tc, follower_in_lease_refuses_prevote);
    tcase_add_test(tc, follower_in_lease_grants_transfer_vote);
    tcase_add_test(tc, follower_past_lease_grants_vote);
    tcase_add_test(tc, vote_refused_to_candidate_with_stale_log);
    tcase_add_test(tc, one_vote_per_term);
    tcase_add_test(tc, prevote_grant_changes_neither_term_nor_vote);
    tcase_add_test(tc, candidate_without_majority_never_wins);
    tcase_add_test(tc, votes_leave_only_after_persist);
    tcase_add_test(tc, candidate_with_held_persist_sends_no_votes);
    tcase_add_test(tc, learner_never_campaigns);
    tcase_add_test(tc, learner_vote_does_not_count);
    tcase_add_test(tc, stale_term_leader_steps_down_on_higher_term);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(election_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
