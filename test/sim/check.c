/*
 * check.c - Raft's safety properties, checked while the simulation runs.
 *
 *   election safety      at most one leader per term, over the whole run
 *   commit monotonicity  a node's commit index never decreases within one
 *                        incarnation
 *   state machine safety no two nodes apply different entries (term + data)
 *                        at the same index, and every node's state after
 *                        index i is the same (this also checks snapshots)
 *   leader completeness  a new leader's log holds every entry any node has
 *                        applied
 *   log matching         two logs holding an entry with the same index and
 *                        term are identical up to it; committed entries in
 *                        any log equal the applied ones (every 250 ms of
 *                        virtual time and at the end of the seed)
 *
 * The first violation stops the seed (sim_violation); the report carries
 * the step number so that a verbose replay can be read up to it.
 */
#include "test/sim/sim_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sim_violation(struct sim *s, const char *fmt, ...)
{
    if (s->res->violation)
        return;
    va_list ap;
    s->violated = true;
    s->res->violation = true;
    s->res->step = s->step;
    s->res->time_ns = s->now_ns;
    va_start(ap, fmt);
    vsnprintf(s->res->what, sizeof s->res->what, fmt, ap);
    va_end(ap);
    sim_log(s, "VIOLATION: %s", s->res->what);
}

static struct sim_applied *applied_slot(struct sim *s, raft_index i)
{
    if (i >= s->cap_applied) {
        size_t cap = s->cap_applied ? s->cap_applied : 1024;
        while (cap <= i)
            cap *= 2;
        struct sim_applied *a = sim_xrealloc(s, s->applied, cap, sizeof *a);
        if (!a)
            return NULL;
        memset(a + s->cap_applied, 0, (cap - s->cap_applied) * sizeof *a);
        s->applied = a;
        s->cap_applied = cap;
    }
    return &s->applied[i];
}

void sim_check_apply(struct sim *s, struct sim_node *n,
                     const struct raft_entry *e, uint64_t state_hash)
{
    struct sim_applied *a = applied_slot(s, e->index);
    if (!a)
        return;
    uint64_t h = sim_hash(e->data, e->len);
    if (a->term == 0) {
        a->term = e->term;
        a->type = e->type;
        a->data_hash = h;
        a->state_hash = state_hash;
        if (e->index > s->max_applied)
            s->max_applied = e->index;
        return;
    }
    if (a->term != e->term || a->type != e->type || a->data_hash != h) {
        sim_violation(
            s,
            "state machine safety: n%" PRIu64 " applied index %" PRIu64
            " term %" PRIu64 " (hash %016" PRIx64 ") but index %" PRIu64
            " was applied elsewhere with term %" PRIu64 " (hash %016" PRIx64
            ")",
            n->id, e->index, e->term, h, e->index, a->term, a->data_hash);
        return;
    }
    if (a->state_hash != state_hash)
        sim_violation(s,
                      "state machine safety: n%" PRIu64
                      " state after index %" PRIu64
                      " differs from another node's state after it",
                      n->id, e->index);
}

void sim_check_snapshot(struct sim *s, struct sim_node *n, raft_index index,
                        raft_term term, uint64_t state_hash)
{
    if (index >= s->cap_applied || s->applied[index].term == 0)
        return; /* nobody has applied that far: nothing to compare */
    const struct sim_applied *a = &s->applied[index];
    if (a->term != term)
        sim_violation(s,
                      "snapshot: n%" PRIu64 " installed a snapshot at index "
                      "%" PRIu64 " term %" PRIu64
                      " but the entry applied there has term %" PRIu64,
                      n->id, index, term, a->term);
    else if (a->state_hash != state_hash)
        sim_violation(s,
                      "snapshot: n%" PRIu64 " restored a state at index "
                      "%" PRIu64 " that differs from the applied state there",
                      n->id, index);
}

void sim_check_leader(struct sim *s, struct sim_node *n, raft_term term)
{
    if (term >= s->cap_terms) {
        size_t cap = s->cap_terms ? s->cap_terms : 64;
        while (cap <= term)
            cap *= 2;
        raft_id *t = sim_xrealloc(s, s->term_leader, cap, sizeof *t);
        if (!t)
            return;
        memset(t + s->cap_terms, 0, (cap - s->cap_terms) * sizeof *t);
        s->term_leader = t;
        s->cap_terms = cap;
    }
    if (s->term_leader[term] != RAFT_NONE && s->term_leader[term] != n->id) {
        sim_violation(s,
                      "election safety: n%" PRIu64 " and n%" PRIu64
                      " were both leader in term %" PRIu64,
                      s->term_leader[term], n->id, term);
        return;
    }
    s->term_leader[term] = n->id;

    /* Leader completeness (5.4): every applied entry is in its log. */
    raft_index lo, hi;
    sim_node_log_range(s, n, &lo, &hi);
    if (hi < s->max_applied) {
        sim_violation(s,
                      "leader completeness: n%" PRIu64
                      " became leader of term %" PRIu64
                      " with last index %" PRIu64 " but index %" PRIu64
                      " was already applied",
                      n->id, term, hi, s->max_applied);
        return;
    }
    if (lo == 0)
        lo = 1;
    for (raft_index i = lo; i <= s->max_applied; i++) {
        raft_term t;
        uint64_t h;
        int rc = sim_node_entry(s, n, i, &t, &h);
        const struct sim_applied *a = &s->applied[i];
        if (rc == SIM_ENTRY_ABSENT ||
            ((rc == SIM_ENTRY_DATA || rc == SIM_ENTRY_TERM) && a->term != 0 &&
             t != a->term) ||
            (rc == SIM_ENTRY_DATA && a->term != 0 && h != a->data_hash)) {
            sim_violation(
                s,
                "leader completeness: n%" PRIu64
                " became leader of term %" PRIu64 " but its entry %" PRIu64
                " (term %" PRIu64 ") is not the applied one (term %" PRIu64 ")",
                n->id, term, i, rc == SIM_ENTRY_ABSENT ? 0 : t, a->term);
            return;
        }
    }
}

void sim_check_step(struct sim *s)
{
    for (unsigned i = 0; i < s->n_nodes; i++) {
        struct sim_node *n = &s->nodes[i];
        if (n->state != SIM_NODE_UP || !n->r)
            continue;
        raft_index c = raft_commit_index(n->r);
        if (c < n->last_commit) {
            sim_violation(s,
                          "commit index of n%" PRIu64 " went back from "
                          "%" PRIu64 " to %" PRIu64,
                          n->id, n->last_commit, c);
            return;
        }
        n->last_commit = c;
    }
}

/* Log matching between two nodes over the indexes both can look up. */
static void check_pair(struct sim *s, struct sim_node *a, struct sim_node *b)
{
    raft_index alo, ahi, blo, bhi;
    sim_node_log_range(s, a, &alo, &ahi);
    sim_node_log_range(s, b, &blo, &bhi);
    raft_index lo = alo > blo ? alo : blo;
    raft_index hi = ahi < bhi ? ahi : bhi;
    if (lo == 0)
        lo = 1;
    raft_index match = 0;
    for (raft_index i = hi; i >= lo && i > 0; i--) {
        raft_term ta, tb;
        uint64_t ha, hb;
        int ra = sim_node_entry(s, a, i, &ta, &ha);
        int rb = sim_node_entry(s, b, i, &tb, &hb);
        if (ra <= SIM_ENTRY_TERM && rb <= SIM_ENTRY_TERM && ta == tb) {
            match = i;
            break;
        }
    }
    for (raft_index i = lo; i <= match; i++) {
        raft_term ta, tb;
        uint64_t ha, hb;
        int ra = sim_node_entry(s, a, i, &ta, &ha);
        int rb = sim_node_entry(s, b, i, &tb, &hb);
        if (ra > SIM_ENTRY_TERM || rb > SIM_ENTRY_TERM)
            continue;
        if (ta != tb ||
            (ra == SIM_ENTRY_DATA && rb == SIM_ENTRY_DATA && ha != hb)) {
            sim_violation(s,
                          "log matching: n%" PRIu64 " and n%" PRIu64
                          " agree on index %" PRIu64 " term %" PRIu64
                          " but differ at index %" PRIu64 " (terms %" PRIu64
                          " and %" PRIu64 ")",
                          a->id, b->id, match, ta, i, ta, tb);
            return;
        }
    }
}

/* Entries a node knows to be committed equal the applied ones. */
static void check_committed(struct sim *s, struct sim_node *n)
{
    raft_index lo, hi;
    sim_node_log_range(s, n, &lo, &hi);
    raft_index c = raft_commit_index(n->r);
    if (c > hi)
        c = hi;
    if (lo == 0)
        lo = 1;
    for (raft_index i = lo; i <= c && i <= s->max_applied; i++) {
        raft_term t;
        uint64_t h;
        int rc = sim_node_entry(s, n, i, &t, &h);
        const struct sim_applied *a = &s->applied[i];
        if (a->term == 0 || rc > SIM_ENTRY_TERM)
            continue;
        if (t != a->term || (rc == SIM_ENTRY_DATA && h != a->data_hash)) {
            sim_violation(s,
                          "committed entry changed: n%" PRIu64
                          " has index %" PRIu64 " term %" PRIu64
                          " (commit %" PRIu64 ") but term %" PRIu64
                          " was applied there",
                          n->id, i, t, raft_commit_index(n->r), a->term);
            return;
        }
    }
}

void sim_check_logs(struct sim *s)
{
    for (unsigned i = 0; i < s->n_nodes && !s->violated; i++) {
        struct sim_node *a = &s->nodes[i];
        if (a->state != SIM_NODE_UP || !a->r)
            continue;
        check_committed(s, a);
        for (unsigned j = i + 1; j < s->n_nodes && !s->violated; j++) {
            struct sim_node *b = &s->nodes[j];
            if (b->state == SIM_NODE_UP && b->r)
                check_pair(s, a, b);
        }
    }
}

void sim_check_free(struct sim *s)
{
    free(s->applied);
    free(s->term_leader);
    s->applied = NULL;
    s->term_leader = NULL;
}
