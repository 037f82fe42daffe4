/*
 * test_core_smoke.c - end-to-end smoke test of the Raft core.
 *
 * A tiny in-test cluster of cores on memstores, wired by a synchronous
 * message queue; every ready batch is persisted at once, in raft.h's order.
 * It checks the basics that everything else builds on: an election, a
 * proposal committed and applied everywhere, ReadIndex on leader and
 * follower, a one-node cluster, and the leader's quorum ack time.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

#define N_MAX   5
#define TICK_NS 1000000ull

struct node {
    struct raft *r;
    struct raft_memstore *ms;
    raft_index applied;
    raft_term applied_term[64]; /* term of applied entry i (small tests) */
    char applied_data[64][16];
    struct raft_read_state reads[16];
    size_t n_reads;
};

struct cluster {
    size_t n;
    struct node nodes[N_MAX + 1];
    struct raft_message q[1024];
    size_t q_len;
    uint64_t now;
    raft_id isolated; /* messages from and to it are lost */
};

static void copy_msg(struct cluster *c, const struct raft_message *m)
{
    ck_assert_uint_lt(c->q_len, 1024);
    struct raft_message *d = &c->q[c->q_len++];
    *d = *m;
    if (m->n_entries > 0) {
        d->entries = calloc(m->n_entries, sizeof(*d->entries));
        for (size_t i = 0; i < m->n_entries; i++) {
            d->entries[i] = m->entries[i];
            d->entries[i].data = NULL;
            if (m->entries[i].len > 0) {
                d->entries[i].data = malloc(m->entries[i].len);
                memcpy(d->entries[i].data, m->entries[i].data,
                       m->entries[i].len);
            }
        }
    }
    d->snap_data = NULL;
    if (m->snap_len > 0) {
        d->snap_data = malloc(m->snap_len);
        memcpy(d->snap_data, m->snap_data, m->snap_len);
    }
}

static void process(struct cluster *c, struct node *nd)
{
    while (raft_has_ready(nd->r)) {
        struct raft_ready rd;
        ck_assert_int_eq(raft_ready(nd->r, &rd), 0);
        for (size_t i = 0; i < rd.n_msgs; i++)
            copy_msg(c, &rd.msgs[i]);
        if (rd.has_hard_state)
            raft_memstore_set_hard_state(nd->ms, &rd.hs);
        if (rd.n_entries > 0)
            ck_assert_int_eq(
                raft_memstore_append(nd->ms, rd.entries, rd.n_entries), 0);
        for (size_t i = 0; i < rd.n_committed; i++) {
            const struct raft_entry *e = &rd.committed[i];
            ck_assert_uint_eq(e->index, nd->applied + 1);
            nd->applied = e->index;
            if (e->index < 64) {
                nd->applied_term[e->index] = e->term;
                size_t k = e->len < 15 ? e->len : 15;
                if (e->type == RAFT_ENTRY_NORMAL && k > 0)
                    memcpy(nd->applied_data[e->index], e->data, k);
            }
        }
        for (size_t i = 0; i < rd.n_reads && nd->n_reads < 16; i++)
            nd->reads[nd->n_reads++] = rd.reads[i];
        raft_advance(nd->r, &rd);
        for (size_t i = 0; i < rd.n_msgs_after_persist; i++)
            copy_msg(c, &rd.msgs_after_persist[i]);
        raft_persisted(nd->r, rd.persist_index, rd.persist_term, c->now);
        raft_ready_free(&rd);
    }
}

/* Processes every node and delivers every message until quiet. */
static void settle(struct cluster *c)
{
    for (int round = 0; round < 200; round++) {
        for (size_t i = 1; i <= c->n; i++)
            process(c, &c->nodes[i]);
        if (c->q_len == 0)
            return;
        size_t n = c->q_len;
        struct raft_message q[1024];
        memcpy(q, c->q, n * sizeof(q[0]));
        c->q_len = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert(q[i].to >= 1 && q[i].to <= c->n);
            if (q[i].to != c->isolated && q[i].from != c->isolated)
                ck_assert_int_eq(raft_step(c->nodes[q[i].to].r, &q[i], c->now),
                                 0);
            raft_message_free_parts(&q[i]);
        }
    }
    ck_abort_msg("cluster does not settle");
}

static void tick_all(struct cluster *c, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        c->now += TICK_NS;
        for (size_t i = 1; i <= c->n; i++)
            raft_tick(c->nodes[i].r, c->now);
        settle(c);
    }
}

static struct cluster *cluster_new(size_t n)
{
    struct cluster *c = calloc(1, sizeof(*c));
    c->n = n;
    c->now = 1000 * TICK_NS;
    struct raft_conf boot;
    memset(&boot, 0, sizeof(boot));
    boot.n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        boot.members[i].id = i + 1;
    for (size_t i = 1; i <= n; i++) {
        struct node *nd = &c->nodes[i];
        nd->ms = raft_memstore_create();
        struct raft_config cfg = {
            .id = i,
            .storage = raft_memstore_storage(nd->ms),
            .election_tick = 10,
            .heartbeat_tick = 2,
            .pre_vote = true,
            .check_quorum = true,
            .max_inflight = 8,
            .max_msg_bytes = 4096,
            .seed = 42,
            .bootstrap = &boot,
        };
        ck_assert_int_eq(raft_create(&cfg, &nd->r), 0);
    }
    settle(c);
    return c;
}

static void cluster_free(struct cluster *c)
{
    for (size_t i = 0; i < c->q_len; i++)
        raft_message_free_parts(&c->q[i]);
    for (size_t i = 1; i <= c->n; i++) {
        raft_destroy(c->nodes[i].r);
        raft_memstore_destroy(c->nodes[i].ms);
    }
    free(c);
}

static size_t count_leaders(struct cluster *c, raft_id *who)
{
    size_t k = 0;
    for (size_t i = 1; i <= c->n; i++) {
        if (raft_role_of(c->nodes[i].r) == RAFT_LEADER) {
            k++;
            *who = i;
        }
    }
    return k;
}

/* Ticks until exactly one leader exists, which every node follows. */
static raft_id elect(struct cluster *c)
{
    raft_id lead = RAFT_NONE;
    for (int i = 0; i < 100; i++) {
        tick_all(c, 1);
        if (count_leaders(c, &lead) == 1 &&
            raft_committed_in_term(c->nodes[lead].r))
            break;
    }
    ck_assert_uint_eq(count_leaders(c, &lead), 1);
    for (size_t i = 1; i <= c->n; i++)
        ck_assert_uint_eq(raft_leader(c->nodes[i].r), lead);
    return lead;
}

START_TEST(three_nodes_elect_exactly_one_leader)
{
    struct cluster *c = cluster_new(3);
    raft_id lead = elect(c);
    ck_assert(lead >= 1 && lead <= 3);
    ck_assert(raft_committed_in_term(c->nodes[lead].r));
    for (size_t i = 1; i <= 3; i++) {
        ck_assert_uint_eq(raft_term_of(c->nodes[i].r),
                          raft_term_of(c->nodes[lead].r));
        ck_assert_uint_eq(raft_conf_voters(raft_conf_of(c->nodes[i].r)), 3);
    }
    cluster_free(c);
}
END_TEST

START_TEST(proposal_commits_and_applies_on_all_nodes)
{
    struct cluster *c = cluster_new(3);
    raft_id lead = elect(c);
    raft_index idx = 0;
    raft_term term = 0;
    ck_assert_int_eq(
        raft_propose(c->nodes[lead].r, "hello", 5, c->now, &idx, &term), 0);
    settle(c);
    tick_all(c, 2); /* a heartbeat carries the commit index */
    for (size_t i = 1; i <= 3; i++) {
        struct node *nd = &c->nodes[i];
        ck_assert_uint_ge(nd->applied, idx);
        ck_assert_uint_eq(nd->applied_term[idx], term);
        ck_assert_str_eq(nd->applied_data[idx], "hello");
        ck_assert_uint_ge(raft_commit_index(nd->r), idx);
    }
    raft_id other = lead == 1 ? 2 : 1;
    ck_assert_int_eq(
        raft_propose(c->nodes[other].r, "x", 1, c->now, NULL, NULL),
        RAFT_ENOTLEADER);
    cluster_free(c);
}
END_TEST

START_TEST(read_index_answers_on_leader_and_follower)
{
    struct cluster *c = cluster_new(3);
    raft_id lead = elect(c);
    raft_id fol = lead == 1 ? 2 : 1;
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose(c->nodes[lead].r, "v", 1, c->now, &idx, NULL),
                     0);
    settle(c);
    ck_assert_int_eq(raft_read_index(c->nodes[lead].r, 7, c->now), 0);
    ck_assert_int_eq(raft_read_index(c->nodes[fol].r, 8, c->now), 0);
    settle(c);
    ck_assert_uint_eq(c->nodes[lead].n_reads, 1);
    ck_assert_uint_eq(c->nodes[lead].reads[0].ctx, 7);
    ck_assert_uint_ge(c->nodes[lead].reads[0].index, idx);
    ck_assert_uint_eq(c->nodes[fol].n_reads, 1);
    ck_assert_uint_eq(c->nodes[fol].reads[0].ctx, 8);
    ck_assert_uint_ge(c->nodes[fol].reads[0].index, idx);
    cluster_free(c);
}
END_TEST

START_TEST(single_node_elects_itself_and_commits)
{
    struct cluster *c = cluster_new(1);
    struct node *nd = &c->nodes[1];
    ck_assert_int_eq(raft_campaign(nd->r, c->now), 0);
    settle(c);
    ck_assert_int_eq(raft_role_of(nd->r), RAFT_LEADER);
    ck_assert(raft_committed_in_term(nd->r));
    raft_index idx = 0;
    ck_assert_int_eq(raft_propose(nd->r, "solo", 4, c->now, &idx, NULL), 0);
    settle(c);
    ck_assert_uint_eq(nd->applied, idx);
    ck_assert_str_eq(nd->applied_data[idx], "solo");
    ck_assert_int_eq(raft_read_index(nd->r, 99, c->now), 0);
    settle(c);
    ck_assert_uint_eq(nd->n_reads, 1);
    ck_assert_uint_eq(nd->reads[0].index, idx);
    uint64_t sent = 0;
    ck_assert(raft_quorum_ack_time(nd->r, &sent));
    tick_all(c, 2);
    uint64_t later = 0;
    ck_assert(raft_quorum_ack_time(nd->r, &later));
    ck_assert_uint_gt(later, sent); /* a lone leader's lease renews */
    cluster_free(c);
}
END_TEST

START_TEST(quorum_ack_time_follows_heartbeat_rounds)
{
    struct cluster *c = cluster_new(3);
    raft_id lead = elect(c);
    struct raft *r = c->nodes[lead].r;
    raft_id fol = lead == 1 ? 2 : 1;
    ck_assert(!raft_quorum_ack_time(c->nodes[fol].r, NULL));
    c->now += 5 * TICK_NS;
    uint64_t round_start = c->now;
    ck_assert_int_eq(raft_heartbeat(r, c->now), 0);
    settle(c);
    uint64_t sent = 0;
    ck_assert(raft_quorum_ack_time(r, &sent));
    ck_assert_uint_eq(sent, round_start);
    /* A transfer withdraws the lease input at once... */
    c->isolated = fol;
    ck_assert_int_eq(raft_transfer_leadership(r, fol, c->now), 0);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    /* ...and for the rest of the term, even once the transfer has been
     * aborted: a late TIMEOUT_NOW could still start a forced election. */
    tick_all(c, 12);
    ck_assert_int_eq(raft_role_of(r), RAFT_LEADER);
    ck_assert_uint_eq(raft_transferee(r), RAFT_NONE);
    ck_assert(!raft_quorum_ack_time(r, &sent));
    ck_assert_int_eq(raft_read_index(r, 5, c->now), 0); /* reads still work */
    size_t before = c->nodes[lead].n_reads;
    settle(c);
    ck_assert_uint_eq(c->nodes[lead].n_reads, before + 1);
    cluster_free(c);
}
END_TEST

/* Drops queued messages; returns how many of `type` granted were queued. */
static size_t take_granted(struct cluster *c, uint32_t type)
{
    size_t k = 0;
    for (size_t i = 0; i < c->q_len; i++) {
        if (c->q[i].type == type && !c->q[i].reject)
            k++;
        raft_message_free_parts(&c->q[i]);
    }
    c->q_len = 0;
    return k;
}

static struct raft_config node_cfg(struct node *nd, raft_id id)
{
    struct raft_config cfg = {
        .id = id,
        .storage = raft_memstore_storage(nd->ms),
        .election_tick = 10,
        .heartbeat_tick = 2,
        .pre_vote = true,
        .check_quorum = true,
        .max_inflight = 8,
        .max_msg_bytes = 4096,
        .seed = 42,
    };
    return cfg;
}

START_TEST(restarted_node_refuses_votes_for_one_election_timeout)
{
    struct cluster *c = cluster_new(3);
    raft_id lead = elect(c);
    raft_id victim = lead == 3 ? 2 : 3;
    raft_id cand = 6 - lead - victim;
    struct node *nd = &c->nodes[victim];
    raft_destroy(nd->r);
    struct raft_config cfg = node_cfg(nd, victim);
    ck_assert_int_eq(raft_create(&cfg, &nd->r), 0);
    nd->applied = raft_applied_index(nd->r); /* replays from there */
    struct raft *cr = c->nodes[cand].r;
    struct raft_message m = {
        .type = RAFT_MSG_VOTE,
        .from = cand,
        .to = victim,
        .term = raft_term_of(cr) + 1,
        .index = raft_last_index(cr),
        .log_term = raft_term_of(cr),
    };
    /* It may have acknowledged a lease round just before going down. */
    ck_assert_int_eq(raft_step(nd->r, &m, c->now), 0);
    process(c, nd);
    ck_assert_uint_eq(take_granted(c, RAFT_MSG_VOTE_RESP), 0);
    ck_assert_uint_eq(raft_term_of(nd->r), m.term - 1);
    for (int i = 0; i < 10; i++) {
        c->now += TICK_NS;
        raft_tick(nd->r, c->now);
    }
    process(c, nd);
    take_granted(c, RAFT_MSG_VOTE_RESP);
    ck_assert_int_eq(raft_step(nd->r, &m, c->now), 0);
    process(c, nd);
    ck_assert_uint_eq(take_granted(c, RAFT_MSG_VOTE_RESP), 1);
    cluster_free(c);
}
END_TEST

START_TEST(node_without_configuration_never_grants_votes)
{
    struct cluster *c = cluster_new(3);
    /* Node 3 loses its storage and comes back empty, as a joiner would. */
    struct node *nd = &c->nodes[3];
    raft_destroy(nd->r);
    raft_memstore_destroy(nd->ms);
    nd->ms = raft_memstore_create();
    struct raft_config cfg = node_cfg(nd, 3);
    ck_assert_int_eq(raft_create(&cfg, &nd->r), 0);
    nd->applied = 0;
    ck_assert_uint_eq(raft_conf_of(nd->r)->n, 0);
    struct raft_message m = {
        .type = RAFT_MSG_PRE_VOTE,
        .from = 1,
        .to = 3,
        .term = 2,
        .index = 3,
        .log_term = 1,
    };
    ck_assert_int_eq(raft_step(nd->r, &m, c->now), 0);
    m.type = RAFT_MSG_VOTE;
    ck_assert_int_eq(raft_step(nd->r, &m, c->now), 0);
    process(c, nd);
    ck_assert_uint_eq(take_granted(c, RAFT_MSG_PRE_VOTE_RESP), 0);
    /* It never campaigns either. */
    for (int i = 0; i < 50; i++)
        raft_tick(nd->r, c->now);
    ck_assert_int_eq(raft_role_of(nd->r), RAFT_FOLLOWER);
    ck_assert_int_eq(raft_campaign(nd->r, c->now), RAFT_EREMOVED);
    cluster_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("raft_core_smoke");
    TCase *tc = tcase_create("smoke");
    tcase_add_test(tc, three_nodes_elect_exactly_one_leader);
    tcase_add_test(tc, proposal_commits_and_applies_on_all_nodes);
    tcase_add_test(tc, read_index_answers_on_leader_and_follower);
    tcase_add_test(tc, single_node_elects_itself_and_commits);
    tcase_add_test(tc, quorum_ack_time_follows_heartbeat_rounds);
    tcase_add_test(tc, restarted_node_refuses_votes_for_one_election_timeout);
    tcase_add_test(tc, node_without_configuration_never_grants_votes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
