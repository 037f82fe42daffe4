/*
 * readindex.c - heartbeat rounds, the quorum ack time that leader leases
 * are measured from, and ReadIndex (thesis 6.4).
 *
 * The leader numbers its heartbeat rounds (seq) and remembers when each
 * started (a ring of RAFT__ROUNDS).  Every APPEND, HEARTBEAT and SNAPSHOT
 * carries the current seq and every response echoes it, so the newest
 * round acknowledged by a quorum of voters (the leader counting itself) is
 * known at all times: that round's start time is the lease input, and a
 * ReadIndex request is confirmed once the round started after it was made
 * has been acknowledged by a quorum.
 *
 * Rules: no read is confirmed before the leader commits an entry of its
 * term (requests wait, then take the new commit index); requests made
 * between two ready batches share one round; pending requests are dropped
 * on any role or term change.  Failure modes: RAFT_ENOMEM when the queue
 * cannot grow.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

void raft__new_round(struct raft *r)
{
    r->seq++;
    r->round_ns[r->seq % RAFT__ROUNDS] = r->now_ns;
}

void raft__ack_seq(struct raft *r, struct raft__progress *p, uint64_t seq)
{
    if (seq > r->seq)
        return; /* not a round we started: bogus */
    if (seq > p->acked_seq)
        p->acked_seq = seq;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

uint64_t raft__quorum_acked_seq(const struct raft *r)
{
    uint64_t v[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        if (mb->learner)
            continue;
        if (mb->id == r->id) {
            v[n++] = r->seq;
            continue;
        }
        uint64_t s = 0;
        for (uint32_t k = 0; k < r->n_prs; k++)
            if (r->prs[k].id == mb->id)
                s = r->prs[k].acked_seq;
        v[n++] = s;
    }
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(v[0]), cmp_desc);
    uint64_t q = v[n / 2];
    return q >= r->lead_start_seq ? q : 0;
}

bool raft_quorum_ack_time(const struct raft *r, uint64_t *sent_ns)
{
    if (r->role != RAFT_LEADER || r->transferee != RAFT_NONE ||
        r->lease_suspect || !raft_committed_in_term(r))
        return false;
    uint64_t q = raft__quorum_acked_seq(r);
    if (q == 0 || r->seq - q >= RAFT__ROUNDS)
        return false;
    if (sent_ns != NULL)
        *sent_ns = r->round_ns[q % RAFT__ROUNDS];
    return true;
}

int raft__push_read_state(struct raft *r, uint64_t ctx, raft_index index)
{
    if (r->n_read_states == r->cap_read_states) {
        size_t cap = r->cap_read_states ? r->cap_read_states * 2 : 8;
        struct raft_read_state *v = realloc(r->read_states, cap * sizeof(*v));
        if (v == NULL) {
            r->oom = true;
            return RAFT_ENOMEM;
        }
        r->read_states = v;
        r->cap_read_states = cap;
    }
    r->read_states[r->n_read_states].ctx = ctx;
    r->read_states[r->n_read_states].index = index;
    r->n_read_states++;
    return 0;
}

int raft__read_request(struct raft *r, uint64_t ctx, raft_id from)
{
    if (r->n_reads == r->cap_reads) {
        size_t cap = r->cap_reads ? r->cap_reads * 2 : 16;
        struct raft__read *v = realloc(r->reads, cap * sizeof(*v));
        if (v == NULL)
            return RAFT_ENOMEM;
        r->reads = v;
        r->cap_reads = cap;
    }
    struct raft__read *rd = &r->reads[r->n_reads++];
    memset(rd, 0, sizeof(*rd));
    rd->ctx = ctx;
    rd->from = from;
    if (raft_committed_in_term(r)) {
        rd->index = r->log.commit;
        r->read_round_pending = true;
    } else {
        rd->held = true; /* etcd issue 7331: wait for our first commit */
    }
    return 0;
}

void raft__release_held_reads(struct raft *r)
{
    for (size_t i = 0; i < r->n_reads; i++) {
        struct raft__read *rd = &r->reads[i];
        if (!rd->held)
            continue;
        rd->held = false;
        rd->index = r->log.commit;
        r->read_round_pending = true;
    }
}

void raft__start_read_round(struct raft *r)
{
    r->read_round_pending = false;
    bool any = false;
    for (size_t i = 0; i < r->n_reads; i++)
        if (!r->reads[i].held && r->reads[i].seq == 0)
            any = true;
    if (!any)
        return;
    raft__new_round(r);
    for (size_t i = 0; i < r->n_reads; i++)
        if (!r->reads[i].held && r->reads[i].seq == 0)
            r->reads[i].seq = r->seq;
    raft__bcast_heartbeat(r);
}

void raft__process_reads(struct raft *r)
{
    if (r->role != RAFT_LEADER || r->n_reads == 0 || !raft_committed_in_term(r))
        return;
    uint64_t q = raft__quorum_acked_seq(r);
    size_t done = 0;
    while (done < r->n_reads) {
        struct raft__read *rd = &r->reads[done];
        if (rd->held || rd->seq == 0 || rd->seq > q)
            break;
        if (rd->from == r->id) {
            if (raft__push_read_state(r, rd->ctx, rd->index) != 0)
                break;
        } else {
            struct raft_message *m =
                raft__msg_new(r, false, RAFT_MSG_READ_INDEX_RESP, rd->from);
            m->ctx = rd->ctx;
            m->index = rd->index;
        }
        done++;
    }
    if (done == 0)
        return;
    memmove(r->reads, r->reads + done, (r->n_reads - done) * sizeof(*r->reads));
    r->n_reads -= done;
}

void raft__drop_reads(struct raft *r)
{
    r->n_reads = 0;
    r->read_round_pending = false;
}

void raft__handle_read_index(struct raft *r, const struct raft_message *m)
{
    if (r->role != RAFT_LEADER) {
        struct raft_message *resp =
            raft__msg_new(r, false, RAFT_MSG_READ_INDEX_RESP, m->from);
        resp->ctx = m->ctx;
        resp->reject = true;
        return;
    }
    if (raft__read_request(r, m->ctx, m->from) != 0)
        r->oom = true;
}

void raft__handle_read_index_resp(struct raft *r, const struct raft_message *m)
{
    /* Only the current leader's answers count (etcd issue 20418). */
    if (m->reject || m->from != r->lead)
        return;
    raft__push_read_state(r, m->ctx, m->index);
}
