/*
 * test_replication.c - log replication (thesis 3.5, 3.6): proposals commit
 * on a quorum, a leader commits only entries of its own term by counting
 * (5.4.2, the Figure 8 scenario), conflicting suffixes are replaced, fast
 * back-off, flow control (max in-flight appends, max bytes per append),
 * batching of proposals, durability before acknowledgement (a leader counts
 * itself only once persisted; a follower acks only after persisting), and
 * the errors raft_propose() returns.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

/* Stabilize, then one heartbeat period so followers learn the commit. */
static void settle(struct net *net)
{
    net_stabilize(net);
    net_tick_all(net, net->opts.heartbeat_tick);
}

/* Ticks all nodes until one of the nodes in [lo, hi] is leader. */
static raft_id tick_until_leader_among(struct net *net, raft_id lo, raft_id hi,
                                       unsigned max_ticks)
{
    for (unsigned k = 0; k < max_ticks; k++) {
        net_tick_all(net, 1);
        for (raft_id id = lo; id <= hi; id++) {
            struct raft *r = net_raft(net, id);
            if (r != NULL && raft_role_of(r) == RAFT_LEADER) {
                return id;
            }
        }
    }
    return RAFT_NONE;
}

START_TEST(proposals_replicate_and_commit)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 1));
    const char *vals[] = {"alpha", "beta", "gamma"};
    raft_index idx[3];
    for (int i = 0; i < 3; i++) {
        raft_term et = 0;
        ck_assert_int_eq(raft_propose(net_raft(net, 1), vals[i],
                                      strlen(vals[i]), net->now_ns, &idx[i],
                                      &et),
                         0);
        ck_assert_uint_eq(et, t);
        if (i > 0) {
            ck_assert_uint_eq(idx[i], idx[i - 1] + 1);
        }
    }
    settle(net);
    for (raft_id id = 1; id <= 3; id++) {
        for (int i = 0; i < 3; i++) {
            const struct raft_entry *e = net_applied_at(net, id, idx[i]);
            ck_assert_ptr_nonnull(e);
            ck_assert_uint_eq(e->term, t);
            ck_assert_uint_eq(e->len, strlen(vals[i]));
            ck_assert_mem_eq(e->data, vals[i], e->len);
        }
        ck_assert_uint_eq(raft_commit_index(net_raft(net, id)), idx[2]);
        ck_assert_uint_eq(raft_applied_index(net_raft(net, id)), idx[2]);
    }
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(empty_proposal_commits)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index i = 0;
    ck_assert_int_eq(raft_propose(net_raft(net, 1), NULL, 0, net->now_ns, &i,
                                  NULL),
                     0);
    settle(net);
    const struct raft_entry *e = net_applied_at(net, 2, i);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->len, 0);
    ck_assert_uint_eq(e->type, RAFT_ENTRY_NORMAL);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(new_leader_appends_empty_entry_of_its_term)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    raft_index before = raft_last_index(net_raft(net, 2));
    ck_assert_uint_eq(net_elect(net, 2), 2);
    raft_term t = raft_term_of(net_raft(net, 2));
    ck_assert_uint_eq(raft_last_index(net_raft(net, 2)), before + 1);
    settle(net);
    for (raft_id id = 1; id <= 3; id++) {
        const struct raft_entry *e = net_applied_at(net, id, before + 1);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(e->term, t);
        ck_assert_uint_eq(e->len, 0);
        ck_assert_uint_eq(e->type, RAFT_ENTRY_NORMAL);
    }
    ck_assert(raft_committed_in_term(net_raft(net, 2)));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(bootstrap_entries_are_committed_conf_changes)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    for (raft_id id = 1; id <= 3; id++) {
        struct raft *r = net_raft(net, id);
        ck_assert_uint_ge(raft_commit_index(r), 3);
        ck_assert_uint_eq(raft_conf_voters(raft_conf_of(r)), 3);
        for (raft_index i = 1; i <= 3; i++) {
            const struct raft_entry *e = net_applied_at(net, id, i);
            ck_assert_ptr_nonnull(e);
            ck_assert_uint_eq(e->type, RAFT_ENTRY_CONF_CHANGE);
            ck_assert_uint_eq(e->term, 1);
            struct raft_conf_change cc;
            ck_assert_int_eq(raft_conf_change_decode(e->data, e->len, &cc), 0);
            ck_assert_uint_eq(cc.id, i);
            ck_assert_uint_eq(cc.type, RAFT_CC_ADD_VOTER);
        }
    }
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

/*
 * Figure 8 (5.4.2).  Node 1 leads term T and writes "old" at index i, on
 * its own disk only.  It restarts and wins term T+1 with node 2's vote.  It
 * then brings node 2 up to date: node 1 and node 2 (a majority) hold entry
 * i, but while node 1's own copy of its term T+1 entry is not durable, the
 * only index a majority holds is i, of term T: counting replicas must not
 * commit it.  Once node 1 persists, entry i+1 (term T+1) commits and i
 * with it.
 */
START_TEST(leader_commits_only_current_term_entries_by_counting)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 1));
    net_isolate(net, 1);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "old", &i), 0);
    net_stabilize(net);
    ck_assert_uint_eq(net_store_last(net, 1), i);
    raft_index commit0 = raft_commit_index(net_raft(net, 1));
    ck_assert_uint_eq(commit0, i - 1);

    net_crash(net, 1);
    ck_assert_int_eq(net_restart(net, 1), 0);
    /* Everybody alone long enough for every lease to run out; with PreVote
     * nobody's term moves. */
    net_isolate(net, 2);
    net_isolate(net, 3);
    net_tick_all(net, 3 * o.election_tick);
    for (raft_id id = 1; id <= 3; id++) {
        ck_assert_uint_eq(raft_term_of(net_raft(net, id)), t);
    }
    net_heal(net);
    net_isolate(net, 3);
    raft_campaign(net_raft(net, 1), net->now_ns);
    for (int k = 0; k < 20 && raft_role_of(net_raft(net, 1)) != RAFT_LEADER;
         k++) {
        net_round(net);
    }
    ck_assert_int_eq(raft_role_of(net_raft(net, 1)), RAFT_LEADER);
    ck_assert_uint_gt(raft_term_of(net_raft(net, 1)), t);
    net_hold_persist(net, 1, true);
    settle(net);
    ck_assert_uint_ge(net_store_last(net, 2), i + 1); /* node 2 has both */
    ck_assert_uint_eq(net_store_term(net, 2, i), t);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), commit0);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 2)), commit0);
    ck_assert(!net_applied_has(net, 2, "old"));

    net_hold_persist(net, 1, false);
    net_release_persist(net, 1);
    settle(net);
    ck_assert_uint_ge(raft_commit_index(net_raft(net, 1)), i + 1);
    ck_assert(net_applied_has(net, 1, "old"));
    ck_assert(net_applied_has(net, 2, "old"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_conflicting_suffix_is_replaced)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 1);
    ck_assert_int_eq(net_propose(net, 1, "lost-1", NULL), 0);
    ck_assert_int_eq(net_propose(net, 1, "lost-2", NULL), 0);
    ck_assert_int_eq(net_propose(net, 1, "lost-3", NULL), 0);
    net_stabilize(net);
    raft_id l = tick_until_leader_among(net, 2, 3, 10 * o.election_tick);
    ck_assert_uint_ne(l, RAFT_NONE);
    ck_assert_int_eq(net_propose(net, l, "won", NULL), 0);
    settle(net);
    net_heal(net);
    net_tick_all(net, 3 * o.heartbeat_tick);
    ck_assert_uint_eq(raft_leader(net_raft(net, 1)), l);
    ck_assert(net_applied_has(net, 1, "won"));
    ck_assert(!net_applied_has(net, 1, "lost-1"));
    ck_assert_uint_eq(net_store_last(net, 1), net_store_last(net, l));
    for (raft_index i = 1; i <= net_store_last(net, l); i++) {
        ck_assert_uint_eq(net_store_term(net, 1, i), net_store_term(net, l, i));
    }
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

/*
 * Node 3 led term T and wrote 50 entries nobody else has; nodes 1 and 2
 * then wrote 50 different entries in a later term and changed leader.
 * Rejoining, node 3 must converge with a handful of rejections, not one
 * per entry (5.3's optimization, etcd's findConflictByTerm).
 */
START_TEST(fast_backoff_converges_in_few_round_trips)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 3);
    net_isolate(net, 3);
    char buf[64];
    for (int k = 0; k < 50; k++) {
        snprintf(buf, sizeof(buf), "stale-%d", k);
        ck_assert_int_eq(net_propose(net, 3, buf, NULL), 0);
        net_process_node(net, 3);
    }
    raft_id l = tick_until_leader_among(net, 1, 2, 10 * o.election_tick);
    ck_assert_uint_ne(l, RAFT_NONE);
    for (int k = 0; k < 50; k++) {
        snprintf(buf, sizeof(buf), "fresh-%d", k);
        ck_assert_int_eq(net_propose(net, l, buf, NULL), 0);
        net_process_node(net, l);
    }
    settle(net);
    /* A new leader whose log already holds the fresh entries, so that its
     * first probe of node 3 lands far above the point where they agree. */
    raft_id l2 = l == 1 ? 2 : 1;
    ck_assert_int_eq(raft_transfer_leadership(net_raft(net, l), l2, net->now_ns),
                     0);
    settle(net);
    ck_assert_int_eq(raft_role_of(net_raft(net, l2)), RAFT_LEADER);
    net_heal(net);
    net_log_clear(net);
    net_tick_all(net, 6 * o.heartbeat_tick);
    ck_assert(net_applied_has(net, 3, "fresh-49"));
    ck_assert(!net_applied_has(net, 3, "stale-0"));
    size_t rejects = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_APPEND_RESP && m->from == 3 && m->reject) {
            rejects++;
        }
    }
    ck_assert_msg(rejects <= 4, "%zu rejected appends before converging",
                  rejects);
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(inflight_appends_to_silent_follower_are_capped)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_inflight = 4;
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    net_log_clear(net);
    char buf[64];
    for (int k = 0; k < 20; k++) {
        snprintf(buf, sizeof(buf), "v%d", k);
        ck_assert_int_eq(net_propose(net, 1, buf, NULL), 0);
        net_stabilize(net);
    }
    size_t to3 = 0, to2 = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if (m->type == RAFT_MSG_APPEND && m->n_entries > 0) {
            to3 += m->to == 3;
            to2 += m->to == 2;
        }
    }
    ck_assert_uint_ge(to3, 1);
    ck_assert_uint_le(to3, 4);
    ck_assert_uint_ge(to2, 20); /* the acking follower is not throttled */
    ck_assert(net_applied_has(net, 1, "v19"));
    /* Healed, the silent follower catches up. */
    net_heal(net);
    net_tick_all(net, 4 * o.heartbeat_tick);
    ck_assert(net_applied_has(net, 3, "v19"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(appends_respect_max_msg_bytes)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 100;
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    char buf[64];
    for (int k = 0; k < 12; k++) {
        snprintf(buf, sizeof(buf), "%02d-xxxxxxxxxxxxxxxxxxxxxxxxxxx", k);
        ck_assert_uint_eq(strlen(buf), 30);
        ck_assert_int_eq(net_propose(net, 1, buf, NULL), 0);
    }
    settle(net);
    net_heal(net);
    net_log_clear(net);
    net_tick_all(net, 6 * o.heartbeat_tick);
    ck_assert(net_applied_has(net, 3, "11-xxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    size_t appends = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct net_rec *r = &net->log[i];
        if (r->m.type == RAFT_MSG_APPEND && r->m.n_entries > 1) {
            ck_assert_msg(r->entry_bytes <= 100,
                          "APPEND with %zu entries, %llu bytes",
                          r->m.n_entries, (unsigned long long)r->entry_bytes);
        }
        appends += r->m.type == RAFT_MSG_APPEND && r->m.to == 3 &&
                   r->m.n_entries > 0;
    }
    ck_assert_uint_ge(appends, 4); /* 360 bytes need at least 4 appends */
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(proposal_larger_than_max_msg_bytes_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    o.max_msg_bytes = 64;
    struct net *net = net_start(&o, 1);
    raft_index last = raft_last_index(net_raft(net, 1));
    uint8_t big[65];
    memset(big, 'b', sizeof(big));
    ck_assert_int_eq(raft_propose(net_raft(net, 1), big, 65, net->now_ns, NULL,
                                  NULL),
                     RAFT_ETOOBIG);
    ck_assert_uint_eq(raft_last_index(net_raft(net, 1)), last);
    ck_assert_int_eq(raft_propose(net_raft(net, 1), big, 64, net->now_ns, NULL,
                                  NULL),
                     0);
    settle(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 2)), last + 1);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(proposals_batch_into_one_append_per_ready)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_log_clear(net);
    char buf[64];
    for (int k = 0; k < 5; k++) {
        snprintf(buf, sizeof(buf), "b%d", k);
        ck_assert_int_eq(net_propose(net, 1, buf, NULL), 0);
    }
    net_process_node(net, 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_APPEND, 1, 2), 1);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_APPEND, 1, 3), 1);
    for (size_t i = 0; i < net->n_log; i++) {
        if (net->log[i].m.type == RAFT_MSG_APPEND) {
            ck_assert_uint_eq(net->log[i].m.n_entries, 5);
            ck_assert(!net->log[i].after_persist); /* sent while persisting */
        }
    }
    settle(net);
    ck_assert(net_applied_has(net, 3, "b4"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(leader_counts_itself_only_after_persist)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    net_hold_persist(net, 1, true);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "x", &i), 0);
    settle(net);
    ck_assert_uint_ge(net_store_last(net, 2), i); /* node 2 acked */
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    ck_assert(!net_applied_has(net, 1, "x"));
    net_hold_persist(net, 1, false);
    net_release_persist(net, 1);
    settle(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), i);
    ck_assert(net_applied_has(net, 1, "x"));
    ck_assert(net_applied_has(net, 2, "x"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(single_voter_commits_only_after_persist)
{
    struct net_opts o;
    net_default_opts(&o, 1);
    struct net *net = net_start(&o, 1);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    net_hold_persist(net, 1, true);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "solo", &i), 0);
    net_stabilize(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    net_hold_persist(net, 1, false);
    net_release_persist(net, 1);
    net_stabilize(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), i);
    ck_assert(net_applied_has(net, 1, "solo"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_responses_leave_only_after_persist)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(net_propose(net, 1, "p", NULL), 0);
        settle(net);
    }
    size_t resps = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct net_rec *r = &net->log[i];
        if (r->m.type == RAFT_MSG_APPEND_RESP) {
            resps++;
            ck_assert_msg(r->after_persist,
                          "APPEND_RESP from %llu left before persist",
                          (unsigned long long)r->m.from);
        }
    }
    ck_assert_uint_ge(resps, 6);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(follower_ack_waits_for_its_persist)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_isolate(net, 3);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    net_hold_persist(net, 2, true);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "y", &i), 0);
    settle(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    net_hold_persist(net, 2, false);
    net_release_persist(net, 2);
    settle(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), i);
    ck_assert(net_applied_has(net, 2, "y"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

/*
 * Node 2 receives entry a at i (term T) from leader 1 but its write is
 * slow.  Meanwhile {3, 4, 5} elect a leader in a later term whose entry at
 * i replaces a on node 2 (a second write, also slow).  When the first
 * write completes, raft_persisted(i, T) names an entry that no longer
 * exists: it must be ignored - node 2 must neither acknowledge the new
 * entry i before the second write is durable nor take a for it.
 */
START_TEST(stale_persisted_call_for_replaced_entries_is_ignored)
{
    struct net_opts o;
    net_default_opts(&o, 5);
    struct net *net = net_start(&o, 1);
    raft_term t = raft_term_of(net_raft(net, 1));
    for (raft_id b = 3; b <= 5; b++) {
        net_cut(net, 1, b);
    }
    net_hold_persist(net, 2, true);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "a", &i), 0);
    net_stabilize(net);
    ck_assert_uint_eq(raft_last_index(net_raft(net, 2)), i);
    ck_assert_uint_lt(net_store_last(net, 2), i); /* not durable */

    /* Node 1 goes away; {3, 4, 5} elect a leader, which reaches node 2. */
    net_isolate(net, 1);
    raft_id l = RAFT_NONE;
    for (unsigned k = 0; k < 10 * o.election_tick && l == RAFT_NONE; k++) {
        net_tick_all(net, 1);
        for (raft_id id = 3; id <= 5; id++) {
            if (raft_role_of(net_raft(net, id)) == RAFT_LEADER) {
                l = id;
            }
        }
    }
    ck_assert_uint_ne(l, RAFT_NONE);
    raft_term lt = raft_term_of(net_raft(net, l));
    ck_assert_uint_gt(lt, t);
    ck_assert_uint_eq(net_store_term(net, l, i), lt);

    /* Find node 2's held write of the new leader's entry i. */
    struct net_node *n2 = net_node(net, 2);
    size_t b2 = n2->n_pending;
    for (size_t k = 0; k < n2->n_pending && b2 == n2->n_pending; k++) {
        const struct raft_ready *rd = &n2->pending[k].rd;
        for (size_t e = 0; e < rd->n_entries; e++) {
            if (rd->entries[e].index == i && rd->entries[e].term == lt) {
                b2 = k;
            }
        }
    }
    ck_assert_msg(b2 < n2->n_pending, "node 2 never got the new entry %llu",
                  (unsigned long long)i);
    ck_assert_uint_ge(b2, 1); /* the write of a comes first */

    /* Complete every write before it, the stale one of a included. */
    net_log_clear(net);
    for (size_t k = 0; k < b2; k++) {
        ck_assert(net_release_one(net, 2));
        net_stabilize(net);
        for (size_t q = 0; q < net->n_log; q++) {
            const struct raft_message *m = &net->log[q].m;
            ck_assert_msg(!(m->type == RAFT_MSG_APPEND_RESP && m->from == 2 &&
                            m->to == l && !m->reject && m->index >= i),
                          "node 2 acked index %llu before writing it",
                          (unsigned long long)m->index);
        }
    }
    net_hold_persist(net, 2, false);
    net_release_persist(net, 2);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert_uint_eq(net_store_term(net, 2, i), lt);
    ck_assert_int_eq(net_propose(net, l, "c", NULL), 0);
    net_tick_all(net, 2 * o.heartbeat_tick);
    ck_assert(net_applied_has(net, 2, "c"));
    ck_assert(!net_applied_has(net, 2, "a"));
    ck_assert(net_check_applied(net));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(leader_with_several_batches_in_flight_commits_when_durable)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index c0 = raft_commit_index(net_raft(net, 1));
    net_isolate(net, 3);
    net_hold_persist(net, 1, true);
    raft_index last = 0;
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(net_propose(net, 1, "g", &last), 0);
        net_stabilize(net); /* one batch each, all held */
    }
    ck_assert_uint_ge(net_node(net, 1)->n_pending, 3);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0);
    /* The first write completes: the first entry commits, not the rest. */
    ck_assert(net_release_one(net, 1));
    net_stabilize(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), c0 + 1);
    net_hold_persist(net, 1, false);
    net_release_persist(net, 1);
    net_stabilize(net);
    ck_assert_uint_eq(raft_commit_index(net_raft(net, 1)), last);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(propose_on_follower_is_refused_with_leader_hint)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index last = raft_last_index(net_raft(net, 2));
    ck_assert_int_eq(net_propose(net, 2, "z", NULL), RAFT_ENOTLEADER);
    ck_assert_uint_eq(raft_leader(net_raft(net, 2)), 1);
    ck_assert_uint_eq(raft_last_index(net_raft(net, 2)), last);
    net_process_node(net, 2);
    ck_assert_uint_eq(net_count(net, RAFT_MSG_APPEND, 2, 0), 0);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(propose_without_leader_is_refused)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_create(&o);
    net_process(net);
    ck_assert_int_eq(net_propose(net, 1, "z", NULL), RAFT_ENOTLEADER);
    ck_assert_uint_eq(raft_leader(net_raft(net, 1)), RAFT_NONE);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(leader_progress_tracks_followers)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    raft_index i = 0;
    ck_assert_int_eq(net_propose(net, 1, "q", &i), 0);
    settle(net);
    struct raft_progress_info pi[RAFT_MAX_MEMBERS];
    size_t n = 0;
    ck_assert_int_eq(raft_progress(net_raft(net, 1), pi, RAFT_MAX_MEMBERS, &n),
                     0);
    ck_assert_uint_eq(n, 3);
    for (size_t k = 0; k < n; k++) {
        ck_assert_uint_eq(pi[k].match, i);
        ck_assert_uint_ge(pi[k].next, i + 1);
        ck_assert(!pi[k].learner);
    }
    ck_assert_int_eq(raft_progress(net_raft(net, 2), pi, RAFT_MAX_MEMBERS, &n),
                     RAFT_ENOTLEADER);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *replication_suite(void)
{
    Suite *s = suite_create("raft_replication");
    TCase *tc = tcase_create("replication");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, proposals_replicate_and_commit);
    tcase_add_test(tc, empty_proposal_commits);
    tcase_add_test(tc, new_leader_appends_empty_entry_of_its_term);
    tcase_add_test(tc, bootstrap_entries_are_committed_conf_changes);
    tcase_add_test(tc, leader_commits_only_current_term_entries_by_counting);
    tcase_add_test(tc, follower_conflicting_suffix_is_replaced);
    tcase_add_test(tc, fast_backoff_converges_in_few_round_trips);
    tcase_add_test(tc, inflight_appends_to_silent_follower_are_capped);
    tcase_add_test(tc, appends_respect_max_msg_bytes);
    tcase_add_test(tc, proposal_larger_than_max_msg_bytes_is_refused);
    tcase_add_test(tc, proposals_batch_into_one_append_per_ready);
    tcase_add_test(tc, leader_counts_itself_only_after_persist);
    tcase_add_test(tc, single_voter_commits_only_after_persist);
    tcase_add_test(tc, follower_responses_leave_only_after_persist);
    tcase_add_test(tc, follower_ack_waits_for_its_persist);
    tcase_add_test(tc, stale_persisted_call_for_replaced_entries_is_ignored);
    tcase_add_test(tc, leader_with_several_batches_in_flight_commits_when_durable);
    tcase_add_test(tc, propose_on_follower_is_refused_with_leader_hint);
    tcase_add_test(tc, propose_without_leader_is_refused);
    tcase_add_test(tc, leader_progress_tracks_followers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replication_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
