/*
 * ready.c - the batch cycle between the core and its driver (raft.h).
 *
 * raft_ready() first finishes work deferred for batching (one append
 * broadcast for all proposals and commit advances since the last batch, one
 * heartbeat round for all ReadIndex requests), then moves everything the
 * driver must do into the batch: soft and hard state changes, a snapshot
 * chunk, the snapshot to install, entries to persist, messages (to send now
 * / after persisting), committed entries (never beyond what is durable
 * here), read states and the new configuration.  Everything handed out is
 * marked as such at once (etcd's acceptReady), so raft_advance() has
 * nothing left to do.  raft_persisted() moves the durable boundary and lets
 * a leader count its own copy towards commit.  Failure modes: RAFT_ENOMEM
 * (also for allocation failures remembered since the last batch) and
 * storage errors from reading committed entries.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static raft_index apply_limit(const struct raft *r)
{
    raft_index d = raft__log_durable_index(&r->log);
    return r->log.commit < d ? r->log.commit : d;
}

static struct raft_soft_state soft_of(const struct raft *r)
{
    struct raft_soft_state s = {
        .role = r->role, .leader = r->lead, .term = r->term};
    return s;
}

static struct raft_hard_state hard_of(const struct raft *r)
{
    struct raft_hard_state h = {
        .term = r->term, .vote = r->vote, .commit = r->log.commit};
    return h;
}

bool raft_has_ready(const struct raft *r)
{
    struct raft_soft_state s = soft_of(r);
    struct raft_hard_state h = hard_of(r);
    const struct raft__log *l = &r->log;
    if (s.role != r->prev_soft.role || s.leader != r->prev_soft.leader ||
        s.term != r->prev_soft.term)
        return true;
    if (h.term != r->prev_hs.term || h.vote != r->prev_hs.vote ||
        h.commit != r->prev_hs.commit)
        return true;
    if (r->chunk.valid || (l->u_has_snap && !l->u_snap_handed))
        return true;
    if (raft__log_last_index(l) > l->u_handed && l->u_n > 0)
        return true;
    if (r->msgs.n > 0 || r->msgs_after.n > 0 || r->n_read_states > 0)
        return true;
    if (apply_limit(r) > l->applied || r->conf_changed || r->oom)
        return true;
    if (r->role == RAFT_LEADER &&
        (((r->broadcast_pending || r->commit_bcast_pending) && r->n_prs > 1) ||
         r->read_round_pending))
        return true;
    return false;
}

static void take_msgs(struct raft__msgvec *v, struct raft_message **out,
                      size_t *n)
{
    *out = v->n > 0 ? v->v : NULL;
    *n = v->n;
    if (v->n == 0)
        free(v->v);
    memset(v, 0, sizeof(*v));
}

static int ready_log(struct raft *r, struct raft_ready *rd)
{
    struct raft__log *l = &r->log;
    if (l->u_has_snap && !l->u_snap_handed) {
        rd->has_snapshot = true;
        rd->snapshot = l->u_snap;
        l->u_snap_handed = true;
        if (l->applied < l->u_snap.index)
            l->applied = l->u_snap.index;
        rd->persist_index = l->u_snap.index;
        rd->persist_term = l->u_snap.term;
    }
    raft_index lo =
        l->u_handed + 1 > l->u_offset ? l->u_handed + 1 : l->u_offset;
    raft_index last = raft__log_last_index(l);
    if (l->u_n > 0 && lo <= last) {
        int rc = raft__log_slice(l, lo, last + 1, UINT64_MAX, &rd->entries,
                                 &rd->n_entries);
        if (rc != 0)
            return rc;
        l->u_handed = last;
        rd->persist_index = last;
        rd->persist_term = rd->entries[rd->n_entries - 1].term;
    }
    raft_index hi = apply_limit(r);
    if (hi > l->applied) {
        int rc = raft__log_slice(l, l->applied + 1, hi + 1, UINT64_MAX,
                                 &rd->committed, &rd->n_committed);
        if (rc != 0)
            return rc;
        assert(rd->n_committed == hi - l->applied);
        l->applied = hi;
    }
    return 0;
}

int raft_ready(struct raft *r, struct raft_ready *rd)
{
    if (r == NULL || rd == NULL)
        return RAFT_EINVAL;
    memset(rd, 0, sizeof(*rd));
    if (r->role == RAFT_LEADER) {
        if (r->broadcast_pending || r->commit_bcast_pending)
            raft__bcast_append(r, r->commit_bcast_pending);
        r->broadcast_pending = false;
        r->commit_bcast_pending = false;
        if (r->read_round_pending)
            raft__start_read_round(r);
        raft__process_reads(r);
    }
    rd->soft = soft_of(r);
    rd->soft_changed = rd->soft.role != r->prev_soft.role ||
                       rd->soft.leader != r->prev_soft.leader ||
                       rd->soft.term != r->prev_soft.term;
    r->prev_soft = rd->soft;
    rd->hs = hard_of(r);
    rd->has_hard_state = rd->hs.term != r->prev_hs.term ||
                         rd->hs.vote != r->prev_hs.vote ||
                         rd->hs.commit != r->prev_hs.commit;
    r->prev_hs = rd->hs;
    if (r->chunk.valid) {
        rd->has_chunk = true;
        rd->chunk = r->chunk.c;
        memset(&r->chunk, 0, sizeof(r->chunk));
    }
    int rc = ready_log(r, rd);
    take_msgs(&r->msgs, &rd->msgs, &rd->n_msgs);
    take_msgs(&r->msgs_after, &rd->msgs_after_persist,
              &rd->n_msgs_after_persist);
    rd->reads = r->n_read_states > 0 ? r->read_states : NULL;
    rd->n_reads = r->n_read_states;
    if (r->n_read_states == 0)
        free(r->read_states);
    r->read_states = NULL;
    r->n_read_states = r->cap_read_states = 0;
    if (r->conf_changed) {
        rd->conf_changed = true;
        rd->conf = r->conf;
        r->conf_changed = false;
    }
    if (rc == 0 && r->oom)
        rc = RAFT_ENOMEM;
    r->oom = false;
    return rc;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    /* raft_ready() already marked everything in the batch as handed out
     * (etcd's acceptReady); nothing is left to do here. */
    (void)r;
    (void)rd;
}

void raft_persisted(struct raft *r, raft_index index, raft_term term,
                    uint64_t now_ns)
{
    if (r == NULL)
        return;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (index == 0)
        return;
    raft__log_stable_to(&r->log, index, term);
    if (r->role != RAFT_LEADER)
        return;
    struct raft__progress *self = raft__progress_of(r, r->id);
    if (self == NULL)
        return;
    raft_index d = raft__log_durable_index(&r->log);
    if (d > self->match) {
        self->match = d;
        self->next = d + 1;
        /* May rebuild prs[] or step down: self is stale after this. */
        if (raft__maybe_commit(r) && r->role == RAFT_LEADER)
            r->commit_bcast_pending = true;
        raft__process_reads(r);
    }
}
