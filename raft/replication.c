/*
 * replication.c - log replication (thesis 3.5, 3.6) on both sides.
 *
 * Leader: per follower, send what it lacks from its next index, within the
 * flow control of its progress state (one probe at a time, or up to
 * max_inflight pipelined appends of at most max_msg_bytes each); move the
 * commit index to the newest entry of its term stored by a quorum of voters
 * (5.4.2); heartbeats carry commit = min(commit, follower's match).
 * Follower: accept entries that follow a matching (index, term), answer
 * after persisting, and on mismatch return a hint for fast back-off.
 *
 * Every APPEND and HEARTBEAT carries the current heartbeat round `seq`, and
 * every answer echoes it (see readindex.c).  Failure modes: a compacted
 * next index switches the follower to a snapshot; storage errors are
 * traced and the send is retried later.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

bool raft__maybe_send_append(struct raft *r, struct raft__progress *p,
                             bool send_if_empty)
{
    if (p->id == r->id || raft__progress_paused(p))
        return false;
    raft_index prev = p->next - 1;
    raft_term prev_term = 0;
    int rc = raft__log_term(&r->log, prev, &prev_term);
    struct raft_entry *ents = NULL;
    size_t n = 0;
    raft_index last = raft__log_last_index(&r->log);
    if (rc == 0 && p->next <= last)
        rc = raft__log_slice(&r->log, p->next, last + 1, r->cfg.max_msg_bytes,
                             &ents, &n);
    if (rc == RAFT_ECOMPACTED) {
        raft__send_snapshot(r, p);
        return false;
    }
    if (rc != 0) {
        if (rc == RAFT_ENOMEM)
            r->oom = true;
        raft__trace(r, "append to %llu from %llu failed: %s",
                    (unsigned long long)p->id, (unsigned long long)p->next,
                    raft_err_name(rc));
        return false;
    }
    if (n == 0 && !send_if_empty)
        return false;
    struct raft_message *m = raft__msg_new(r, false, RAFT_MSG_APPEND, p->id);
    m->index = prev;
    m->log_term = prev_term;
    m->entries = ents;
    m->n_entries = n;
    m->commit = r->log.commit;
    m->seq = r->seq;
    raft__progress_sent_entries(p, prev + n, n);
    return true;
}

void raft__bcast_append(struct raft *r, bool send_if_empty)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *p = &r->prs[i];
        if (p->id == r->id)
            continue;
        /* Pipeline as far as flow control allows. */
        bool sent = raft__maybe_send_append(r, p, send_if_empty);
        while (sent && p->state == RAFT_PROGRESS_REPLICATE &&
               p->next <= raft__log_last_index(&r->log))
            sent = raft__maybe_send_append(r, p, false);
    }
}

void raft__bcast_heartbeat(struct raft *r)
{
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *p = &r->prs[i];
        if (p->id == r->id)
            continue;
        struct raft_message *m =
            raft__msg_new(r, false, RAFT_MSG_HEARTBEAT, p->id);
        m->commit = p->match < r->log.commit ? p->match : r->log.commit;
        m->seq = r->seq;
    }
}

static int cmp_desc(const void *a, const void *b)
{
    raft_index x = *(const raft_index *)a, y = *(const raft_index *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

bool raft__maybe_commit(struct raft *r)
{
    raft_index m[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        if (mb->learner)
            continue;
        struct raft__progress *p = raft__progress_of(r, mb->id);
        m[n++] = p != NULL ? p->match : 0;
    }
    if (n == 0)
        return false;
    qsort(m, n, sizeof(m[0]), cmp_desc);
    raft_index q = m[n / 2]; /* stored by n/2 + 1 voters */
    if (q <= r->log.commit)
        return false;
    /* 5.4.2: only entries of the current term commit by counting. */
    if (raft__log_term_or_zero(&r->log, q) != r->term)
        return false;
    raft__log_commit_to(&r->log, q);
    raft__commit_advanced(r);
    return true;
}

static void send_append_resp(struct raft *r, const struct raft_message *m,
                             raft_index index, bool reject, raft_index hint,
                             raft_term hint_term)
{
    struct raft_message *resp =
        raft__msg_new(r, true, RAFT_MSG_APPEND_RESP, m->from);
    resp->index = index;
    resp->reject = reject;
    resp->reject_hint = hint;
    resp->hint_term = hint_term;
    resp->seq = m->seq;
}

void raft__handle_append(struct raft *r, const struct raft_message *m)
{
    struct raft__log *l = &r->log;
    if (m->index < l->commit) {
        /* Already committed here: tell the leader where we are. */
        send_append_resp(r, m, l->commit, false, 0, 0);
        return;
    }
    raft_index lastnewi = 0;
    int err = 0;
    raft_index old_commit = l->commit;
    if (raft__log_maybe_append(l, m->index, m->log_term, m->commit, m->entries,
                               m->n_entries, &lastnewi, &err)) {
        send_append_resp(r, m, lastnewi, false, 0, 0);
        if (l->commit > old_commit)
            raft__commit_advanced(r);
        return;
    }
    if (err != 0) {
        if (err == RAFT_ENOMEM)
            r->oom = true;
        raft__trace(r, "append from %llu at %llu refused: %s",
                    (unsigned long long)m->from, (unsigned long long)m->index,
                    raft_err_name(err));
        return;
    }
    /* Fast back-off (5.3, etcd findConflictByTerm): the largest index at or
     * below the probe whose term is <= the leader's term there. */
    raft_index last = raft__log_last_index(l);
    raft_index hint = m->index < last ? m->index : last;
    raft_term hint_term = 0;
    hint = raft__log_conflict_by_term(l, hint, m->log_term, &hint_term);
    send_append_resp(r, m, m->index, true, hint, hint_term);
}

static void after_match_update(struct raft *r, struct raft__progress *p)
{
    raft_id id = p->id;
    if (raft__maybe_commit(r)) {
        /* A committed conf change may have rebuilt prs[] (p is stale) or
         * removed us. */
        if (r->role != RAFT_LEADER)
            return;
        r->commit_bcast_pending = true; /* one broadcast per ready batch */
        p = raft__progress_of(r, id);
        if (p == NULL)
            return;
    } else {
        raft__maybe_send_append(r, p, false);
    }
    while (p->state == RAFT_PROGRESS_REPLICATE &&
           p->next <= raft__log_last_index(&r->log) &&
           raft__maybe_send_append(r, p, false))
        ;
    if (p->id == r->transferee && p->match == raft__log_last_index(&r->log))
        raft__send_timeout_now(r, p->id);
}

void raft__handle_append_resp(struct raft *r, const struct raft_message *m)
{
    struct raft__progress *p = raft__progress_of(r, m->from);
    if (p == NULL)
        return;
    p->recent_active = true;
    raft__ack_seq(r, p, m->seq);
    if (m->reject) {
        raft_index next_probe = m->reject_hint;
        if (m->hint_term > 0) {
            raft_term t = 0;
            next_probe = raft__log_conflict_by_term(&r->log, m->reject_hint,
                                                    m->hint_term, &t);
        }
        if (raft__progress_maybe_decr_to(p, m->index, next_probe)) {
            if (p->state == RAFT_PROGRESS_REPLICATE)
                raft__progress_become_probe(p);
            raft__maybe_send_append(r, p, true);
        }
        return;
    }
    if (m->index > raft__log_last_index(&r->log)) {
        raft__trace(r, "append ack from %llu beyond our log ignored",
                    (unsigned long long)m->from);
        return;
    }
    bool was_paused = raft__progress_paused(p);
    if (!raft__progress_maybe_update(p, m->index)) {
        if (was_paused && !raft__progress_paused(p))
            raft__maybe_send_append(r, p, false);
        return;
    }
    switch (p->state) {
    case RAFT_PROGRESS_PROBE:
        raft__progress_become_replicate(p);
        break;
    case RAFT_PROGRESS_SNAPSHOT:
        if (p->match >= p->snap.index) {
            raft__progress_become_probe(p);
            raft__progress_become_replicate(p);
        }
        break;
    default:
        raft__inflights_free_le(&p->inflights, m->index);
        break;
    }
    after_match_update(r, p);
}

void raft__handle_heartbeat(struct raft *r, const struct raft_message *m)
{
    struct raft__log *l = &r->log;
    raft_index last = raft__log_last_index(l);
    raft_index c = m->commit < last ? m->commit : last;
    if (raft__log_commit_to(l, c))
        raft__commit_advanced(r);
    struct raft_message *resp =
        raft__msg_new(r, true, RAFT_MSG_HEARTBEAT_RESP, m->from);
    resp->seq = m->seq;
}

void raft__handle_heartbeat_resp(struct raft *r, const struct raft_message *m)
{
    struct raft__progress *p = raft__progress_of(r, m->from);
    if (p == NULL)
        return;
    p->recent_active = true;
    raft__ack_seq(r, p, m->seq);
    p->probe_sent = false;
    if (p->state == RAFT_PROGRESS_SNAPSHOT) {
        if (p->snap_inflight)
            raft__send_snapshot_chunk(r, p); /* the chunk may be lost */
        return;
    }
    if (p->state == RAFT_PROGRESS_REPLICATE)
        raft__inflights_free_first(&p->inflights);
    /* An empty append still probes: if appends were lost, the follower's
     * rejection sends us back to its real match point. */
    if (p->match < raft__log_last_index(&r->log))
        raft__maybe_send_append(r, p, true);
}
