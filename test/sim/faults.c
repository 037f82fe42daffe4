/*
 * faults.c - the nemesis: what goes wrong, and when.
 *
 * Every fault_min..fault_max ns of virtual time it picks one action allowed
 * by --faults:
 *   net    heal; a random split into two sides; isolate the leader (the
 *          old leader keeps getting client requests while the majority
 *          elects a new one, until CheckQuorum makes it step down); a
 *          one-way cut.  Loss and duplication run all the time.
 *   crash  crash a node (in-flight fsyncs are lost) and restart it later
 *          from its memstore; at most a minority is down at once.
 *   all    both, plus membership changes (remove a voter, add it back as a
 *          learner with wiped storage, promote it once caught up; a
 *          configuration that lacks a member is repaired first most of the
 *          time) and leadership transfers.
 * With net faults there is also the lease attack, aimed at leader leases,
 * in one of two forms:
 *   - pause the writers, cut the leader A off from one follower C (both
 *     ways) once C has caught up, and wait until another node moved to a
 *     higher term (it voted for C), or until C has campaigned in vain for
 *     a while as a pre-candidate while A's lease is fresh; then isolate A
 *     completely.  With leader stickiness the other followers heard from A
 *     too recently to help C before A's lease runs out;
 *     --no-leader-stickiness breaks that.  Writes are paused while C
 *     catches up so that C's log stays as up-to-date as the others' (else
 *     nobody would vote for it).
 *   - skew the clocks (A's slowest, the others' fastest the bound allows;
 *     with --drift-beyond-bound 65% each way), wait until A has just
 *     renewed its lease (more than 3/4 of it left) and isolate A then.
 *     Clock rates within the bound make the lease end before the others
 *     can elect a leader; --drift-beyond-bound breaks that.
 * Either way A goes on serving lease reads while the rest elect a new
 * leader, and the simulator checks that it stops in time.
 * At the end of the workload everything is healed and restarted so that the
 * cluster can converge before the final checks.
 */
#include "test/sim/sim_internal.h"

#include <inttypes.h>
#include <string.h>

int sim_find_leader(struct sim *s)
{
    int best = -1;
    raft_term term = 0;
    for (unsigned i = 0; i < s->n_nodes; i++) {
        struct sim_node *n = &s->nodes[i];
        if (n->state == SIM_NODE_UP && n->r &&
            raft_role_of(n->r) == RAFT_LEADER && raft_term_of(n->r) >= term) {
            best = (int)i;
            term = raft_term_of(n->r);
        }
    }
    return best;
}

static bool any_cut(const struct sim *s)
{
    for (unsigned a = 0; a < s->n_nodes; a++)
        for (unsigned b = 0; b < s->n_nodes; b++)
            if (s->cut[a][b])
                return true;
    return false;
}

static void heal(struct sim *s)
{
    memset(s->cut, 0, sizeof s->cut);
    sim_log(s, "FAULT heal: every link works");
}

static void split(struct sim *s)
{
    bool side[SIM_MAX_NODES] = {false};
    unsigned ones = 0;
    for (unsigned i = 0; i < s->n_nodes; i++) {
        side[i] = sim_rng_chance(&s->rng_fault, 500000);
        ones += side[i];
    }
    if (ones == 0 || ones == s->n_nodes) {
        unsigned f = (unsigned)sim_rng_range(&s->rng_fault, 0, s->n_nodes - 1);
        side[f] = !side[f];
    }
    char desc[64] = "";
    size_t len = 0;
    for (unsigned i = 0; i < s->n_nodes; i++) {
        for (unsigned j = 0; j < s->n_nodes; j++)
            s->cut[i][j] = side[i] != side[j];
        len += (size_t)snprintf(desc + len, sizeof desc - len, "%u",
                                side[i] ? 1u : 0u);
    }
    sim_log(s, "FAULT partition: sides by node %s", desc);
}

static void isolate_leader(struct sim *s)
{
    int l = sim_find_leader(s);
    unsigned v =
        l >= 0 ? (unsigned)l
               : (unsigned)sim_rng_range(&s->rng_fault, 0, s->n_nodes - 1);
    memset(s->cut, 0, sizeof s->cut);
    for (unsigned i = 0; i < s->n_nodes; i++)
        if (i != v)
            s->cut[v][i] = s->cut[i][v] = true;
    sim_log(s, "FAULT isolate n%u%s", v + 1, l >= 0 ? " (the leader)" : "");
}

static void one_way(struct sim *s)
{
    unsigned a = (unsigned)sim_rng_range(&s->rng_fault, 0, s->n_nodes - 1);
    unsigned b = (unsigned)sim_rng_range(&s->rng_fault, 0, s->n_nodes - 2);
    if (b >= a)
        b++;
    s->cut[a][b] = true;
    sim_log(s, "FAULT one-way cut n%u -> n%u", a + 1, b + 1);
}

static void attack_stop(struct sim *s, const char *why)
{
    if (s->attack_leader < 0)
        return;
    sim_log(s, "FAULT lease attack on n%d ends: %s", s->attack_leader + 1, why);
    s->attack_leader = -1;
    s->attack_target = -1;
    s->writes_paused = false;
}

static void lease_attack(struct sim *s)
{
    int l = sim_find_leader(s);
    if (l < 0 || s->attack_leader >= 0)
        return;
    struct sim_node *ln = &s->nodes[l];
    const struct raft_conf *c = raft_conf_of(ln->r);
    unsigned cand[SIM_MAX_NODES], nc = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        raft_id id = c->members[i].id;
        if (!c->members[i].learner && id != ln->id && id >= 1 &&
            id <= s->n_nodes && s->nodes[id - 1].state == SIM_NODE_UP)
            cand[nc++] = (unsigned)(id - 1);
    }
    if (nc == 0)
        return;
    unsigned v = cand[sim_rng_range(&s->rng_fault, 0, nc - 1)];
    memset(s->cut, 0, sizeof s->cut);
    s->attack_leader = l;
    s->attack_leader_inc = ln->inc;
    s->attack_deadline_ns = s->now_ns + 500 * 1000 * 1000ULL;
    if (sim_rng_chance(&s->rng_fault, 500000)) {
        /* Worst clocks allowed: the leader's slow, everyone else's fast
         * (with --drift-beyond-bound: far beyond the bound). */
        uint32_t d = s->opt->drift_beyond_bound ? 650000 : s->p.drift_ppm;
        for (unsigned i = 0; i < s->n_nodes; i++)
            sim_node_set_rate(s, &s->nodes[i],
                              i == (unsigned)l ? 1000000 - d : 1000000 + d);
        s->attack_target = -1;
        sim_log(s,
                "FAULT lease attack: clocks skewed (leader n%" PRIu64
                " at -%u ppm, others at +%u ppm); isolate n%" PRIu64
                " right after it renews its lease",
                ln->id, d, d, ln->id);
    } else {
        s->attack_target = (int)v;
        s->attack_cut = false;
        s->attack_campaign_ns = 0;
        s->writes_paused = true;
        sim_log(s,
                "FAULT lease attack: writers paused; once n%u has caught up "
                "cut leader n%" PRIu64 " <-> n%u, isolate n%" PRIu64
                " when n%u campaigns",
                v + 1, ln->id, v + 1, ln->id, v + 1);
    }
    sim_schedule(s, s->now_ns + 1000 * 1000, SIM_EV_ATTACK, 0, 0, 0, NULL);
}

void sim_attack_step(struct sim *s)
{
    if (s->attack_leader < 0)
        return;
    unsigned a = (unsigned)s->attack_leader;
    struct sim_node *ln = &s->nodes[a];
    if (!s->faults_on) {
        attack_stop(s, "faults are over");
        return;
    }
    if (ln->state != SIM_NODE_UP || ln->inc != s->attack_leader_inc || !ln->r ||
        raft_role_of(ln->r) != RAFT_LEADER) {
        attack_stop(s, "the leader is gone");
        return;
    }
    if (s->now_ns >= s->attack_deadline_ns) {
        attack_stop(s, "it timed out");
        return;
    }
    bool go;
    if (s->attack_target < 0) {
        uint64_t d = s->p.lease.duration_ns;
        go = ln->policy != SIM_READ_LEASE ||
             lease_remaining(&ln->lease, sim_node_now(s, ln)) > d / 4 * 3;
    } else {
        unsigned v = (unsigned)s->attack_target;
        struct sim_node *tn = &s->nodes[v];
        if (!s->attack_cut) {
            /* Cut only once C holds A's whole log: else no one would vote
             * for C. */
            if (tn->state == SIM_NODE_UP && tn->r &&
                raft_last_index(tn->r) == raft_last_index(ln->r) &&
                raft_commit_index(tn->r) == raft_commit_index(ln->r)) {
                memset(s->cut, 0, sizeof s->cut);
                s->cut[a][v] = s->cut[v][a] = true;
                s->attack_cut = true;
                sim_log(s, "FAULT lease attack: cut n%u <-> n%u", a + 1, v + 1);
            }
            sim_schedule(s, s->now_ns + 1000 * 1000, SIM_EV_ATTACK, 0, 0, 0,
                         NULL);
            return;
        }
        if (!s->cut[a][v] || !s->cut[v][a]) {
            attack_stop(s, "another fault changed the network");
            return;
        }
        /* Isolate A as soon as any node moved past A's term (it voted for
         * C: A would hear of it with the next response and step down), or
         * when C has been a pre-candidate for a while in vain (the others
         * refuse, being sticky) and A's lease is fresh. */
        uint64_t d = s->p.lease.duration_ns;
        bool campaigning = tn->state == SIM_NODE_UP && tn->r &&
                           raft_role_of(tn->r) == RAFT_PRE_CANDIDATE;
        if (campaigning && s->attack_campaign_ns == 0)
            s->attack_campaign_ns = s->now_ns;
        go = campaigning &&
             s->now_ns - s->attack_campaign_ns >= 2 * s->p.delay_max_ns &&
             lease_remaining(&ln->lease, sim_node_now(s, ln)) > d / 4 * 3;
        for (unsigned i = 0; i < s->n_nodes && !go; i++) {
            struct sim_node *o = &s->nodes[i];
            go = i != a && o->state == SIM_NODE_UP && o->r &&
                 raft_term_of(o->r) > raft_term_of(ln->r);
        }
    }
    if (go) {
        for (unsigned i = 0; i < s->n_nodes; i++)
            if (i != a)
                s->cut[a][i] = s->cut[i][a] = true;
        sim_log(s,
                "FAULT lease attack: isolate n%u (lease left %" PRIu64 " ns)",
                a + 1, lease_remaining(&ln->lease, sim_node_now(s, ln)));
        attack_stop(s, "leader isolated");
        return;
    }
    sim_schedule(s, s->now_ns + 1000 * 1000, SIM_EV_ATTACK, 0, 0, 0, NULL);
}

static void crash(struct sim *s)
{
    unsigned down = 0, up[SIM_MAX_NODES], n_up = 0;
    for (unsigned i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].state == SIM_NODE_DOWN)
            down++;
        else if (s->nodes[i].state == SIM_NODE_UP)
            up[n_up++] = i;
    }
    if (n_up == 0 || down >= (s->n_nodes + 1) / 2)
        return;
    struct sim_node *n =
        &s->nodes[up[sim_rng_range(&s->rng_fault, 0, n_up - 1)]];
    sim_node_crash(s, n, SIM_NODE_DOWN);
    s->res->crashes++;
    uint64_t after = sim_rng_range(&s->rng_fault, 50 * 1000 * 1000ULL,
                                   1000 * 1000 * 1000ULL);
    sim_log(s, "FAULT crash n%" PRIu64 ", restart in %" PRIu64 " ms", n->id,
            after / 1000000);
    sim_schedule(s, s->now_ns + after, SIM_EV_RESTART, n->idx, n->inc, 0, NULL);
}

static void transfer(struct sim *s)
{
    int l = sim_find_leader(s);
    if (l < 0)
        return;
    struct sim_node *ln = &s->nodes[l];
    const struct raft_conf *c = raft_conf_of(ln->r);
    raft_id cand[RAFT_MAX_MEMBERS];
    unsigned nc = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (!c->members[i].learner && c->members[i].id != ln->id)
            cand[nc++] = c->members[i].id;
    if (nc == 0)
        return;
    raft_id to = cand[sim_rng_range(&s->rng_fault, 0, nc - 1)];
    /* Like the server: the lease ends before the transfer starts. */
    lease_transfer_started(&ln->lease, sim_node_now(s, ln));
    int rc = raft_transfer_leadership(ln->r, to, sim_node_now(s, ln));
    sim_log(s, "FAULT transfer leadership n%" PRIu64 " -> n%" PRIu64 ": %s",
            ln->id, to, rc ? raft_err_name(rc) : "started");
    if (rc == 0)
        s->res->transfers++;
    sim_node_drive(s, ln);
}

static bool conf_incomplete(struct sim *s)
{
    int l = sim_find_leader(s);
    if (l < 0)
        return false;
    return raft_conf_voters(raft_conf_of(s->nodes[l].r)) < s->n_nodes;
}

static int propose_cc(struct sim *s, struct sim_node *ln, uint32_t type,
                      raft_id id)
{
    struct raft_conf_change cc = {.type = type, .id = id};
    raft_index index = 0;
    raft_term term = 0;
    int rc = raft_propose_conf_change(ln->r, &cc, sim_node_now(s, ln), &index,
                                      &term);
    static const char *const names[] = {"add voter", "add learner", "remove"};
    sim_log(s,
            "FAULT membership: %s n%" PRIu64 " on leader n%" PRIu64
            ": %s (index %" PRIu64 ")",
            type <= 2 ? names[type] : "?", id, ln->id,
            rc ? raft_err_name(rc) : "proposed", index);
    if (rc == 0)
        s->res->conf_changes++;
    return rc;
}

static void membership(struct sim *s)
{
    int l = sim_find_leader(s);
    if (l < 0 || s->n_nodes < 3)
        return;
    struct sim_node *ln = &s->nodes[l];
    const struct raft_conf *c = raft_conf_of(ln->r);
    /* 1. A member missing: add it back as a learner with fresh storage. */
    for (unsigned i = 0; i < s->n_nodes; i++) {
        raft_id id = i + 1;
        if (raft_conf_find(c, id))
            continue;
        if (propose_cc(s, ln, RAFT_CC_ADD_LEARNER, id) == 0) {
            /* The leader has committed its term and has no change pending,
             * so `id` is in no configuration: its state may go. */
            struct sim_node *n = &s->nodes[i];
            sim_node_wipe(s, n);
            if (!s->violated)
                sim_node_start(s, n);
        }
        sim_node_drive(s, ln);
        return;
    }
    /* 2. A learner: promote it once it has caught up. */
    for (uint32_t i = 0; i < c->n; i++) {
        if (!c->members[i].learner)
            continue;
        struct raft_progress_info info[RAFT_MAX_MEMBERS];
        size_t cnt = 0;
        if (raft_progress(ln->r, info, RAFT_MAX_MEMBERS, &cnt) != 0)
            return;
        for (size_t k = 0; k < cnt; k++) {
            if (info[k].id == c->members[i].id &&
                info[k].match + 10 >= raft_last_index(ln->r)) {
                propose_cc(s, ln, RAFT_CC_ADD_VOTER, info[k].id);
                sim_node_drive(s, ln);
            }
        }
        return;
    }
    /* 3. Full cluster: remove a voter (now and then the leader itself). */
    raft_id cand[RAFT_MAX_MEMBERS];
    unsigned nc = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->members[i].id != ln->id)
            cand[nc++] = c->members[i].id;
    raft_id victim = ln->id;
    if (nc > 0 && sim_rng_chance(&s->rng_fault, 800000))
        victim = cand[sim_rng_range(&s->rng_fault, 0, nc - 1)];
    propose_cc(s, ln, RAFT_CC_REMOVE, victim);
    sim_node_drive(s, ln);
}

void sim_faults_step(struct sim *s)
{
    bool net =
        s->opt->faults == SIM_FAULTS_NET || s->opt->faults == SIM_FAULTS_ALL;
    bool crashes =
        s->opt->faults == SIM_FAULTS_CRASH || s->opt->faults == SIM_FAULTS_ALL;
    bool all = s->opt->faults == SIM_FAULTS_ALL;
    bool members = all && s->n_nodes >= 3;
    if (members && conf_incomplete(s) &&
        sim_rng_chance(&s->rng_fault, 600000)) {
        membership(s);
        return;
    }
    /* The teeth runs (leases made unsafe on purpose) attack more often so
     * that a few hundred seeds are enough to catch them. */
    unsigned attack_weight =
        s->opt->drift_beyond_bound || s->opt->no_leader_stickiness ? 80 : 15;
    /* weights of: heal, split, isolate leader, one-way, crash, membership,
     * transfer, lease attack */
    unsigned w[8] = {
        net && any_cut(s) ? 30 : 0,
        net && s->n_nodes > 1 ? 12 : 0,
        net && s->n_nodes > 1 ? 20 : 0,
        net && s->n_nodes > 1 ? 8 : 0,
        crashes ? 25 : 0,
        members ? 10 : 0,
        all && s->n_nodes > 1 ? 10 : 0,
        net && s->n_nodes > 1 && s->attack_leader < 0 ? attack_weight : 0,
    };
    unsigned total = 0;
    for (unsigned i = 0; i < 8; i++)
        total += w[i];
    if (total == 0)
        return;
    uint64_t r = sim_rng_range(&s->rng_fault, 0, total - 1);
    unsigned pick = 0;
    while (r >= w[pick]) {
        r -= w[pick];
        pick++;
    }
    switch (pick) {
    case 0:
        heal(s);
        break;
    case 1:
        split(s);
        break;
    case 2:
        isolate_leader(s);
        break;
    case 3:
        one_way(s);
        break;
    case 4:
        crash(s);
        break;
    case 5:
        membership(s);
        break;
    case 6:
        transfer(s);
        break;
    case 7:
        lease_attack(s);
        break;
    }
}

void sim_faults_end(struct sim *s)
{
    attack_stop(s, "end of workload");
    heal(s);
    s->p.loss_ppm = 0;
    s->p.dup_ppm = 0;
    s->p.slow_ppm = 0;
    for (unsigned i = 0; i < s->n_nodes && !s->violated; i++)
        if (s->nodes[i].state == SIM_NODE_DOWN)
            sim_node_start(s, &s->nodes[i]);
}
