/*
 * progress.c - the leader's view of one member's log (thesis 3.5, and
 * etcd's tracker): match and next indexes, the PROBE / REPLICATE / SNAPSHOT
 * states, and the in-flight window that bounds pipelined appends.
 *
 * PROBE: one append at a time until the follower's match point is found.
 * REPLICATE: appends are pipelined, at most max_inflight unacknowledged.
 * SNAPSHOT: a snapshot is being sent; no appends until it is installed.
 * Failure modes: RAFT_ENOMEM from raft__progress_init only.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

int raft__progress_init(struct raft__progress *p, raft_id id, bool learner,
                        raft_index next, uint32_t max_inflight)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->learner = learner;
    p->next = next;
    p->state = RAFT_PROGRESS_PROBE;
    p->inflights.size = max_inflight;
    p->inflights.buf = calloc(max_inflight, sizeof(raft_index));
    return p->inflights.buf != NULL ? 0 : RAFT_ENOMEM;
}

void raft__progress_close(struct raft__progress *p)
{
    free(p->inflights.buf);
    p->inflights.buf = NULL;
}

static void inflights_reset(struct raft__inflights *in)
{
    in->start = 0;
    in->count = 0;
}

static bool inflights_full(const struct raft__inflights *in)
{
    return in->count >= in->size;
}

static void inflights_add(struct raft__inflights *in, raft_index last)
{
    if (inflights_full(in))
        return;
    in->buf[(in->start + in->count) % in->size] = last;
    in->count++;
}

void raft__inflights_free_le(struct raft__inflights *in, raft_index to)
{
    while (in->count > 0 && in->buf[in->start] <= to) {
        in->start = (in->start + 1) % in->size;
        in->count--;
    }
    if (in->count == 0)
        in->start = 0;
}

void raft__inflights_free_first(struct raft__inflights *in)
{
    if (in->count > 0)
        raft__inflights_free_le(in, in->buf[in->start]);
}

bool raft__progress_paused(const struct raft__progress *p)
{
    switch (p->state) {
    case RAFT_PROGRESS_PROBE:
        return p->probe_sent;
    case RAFT_PROGRESS_REPLICATE:
        return inflights_full(&p->inflights);
    default:
        return true;
    }
}

void raft__progress_become_probe(struct raft__progress *p)
{
    raft_index next = p->match + 1;
    if (p->state == RAFT_PROGRESS_SNAPSHOT && p->snap.index + 1 > next)
        next = p->snap.index + 1;
    p->state = RAFT_PROGRESS_PROBE;
    p->next = next;
    p->probe_sent = false;
    p->snap_inflight = false;
    inflights_reset(&p->inflights);
}

void raft__progress_become_replicate(struct raft__progress *p)
{
    p->state = RAFT_PROGRESS_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    p->snap_inflight = false;
    inflights_reset(&p->inflights);
}

void raft__progress_become_snapshot(struct raft__progress *p,
                                    const struct raft_snapshot_meta *snap)
{
    p->state = RAFT_PROGRESS_SNAPSHOT;
    p->snap = *snap;
    p->snap_offset = 0;
    p->snap_sent_len = 0;
    p->snap_inflight = false;
    p->probe_sent = false;
    inflights_reset(&p->inflights);
}

bool raft__progress_maybe_update(struct raft__progress *p, raft_index n)
{
    bool updated = false;
    if (p->match < n) {
        p->match = n;
        updated = true;
        p->probe_sent = false;
    }
    if (p->next < n + 1)
        p->next = n + 1;
    return updated;
}

bool raft__progress_maybe_decr_to(struct raft__progress *p, raft_index rejected,
                                  raft_index match_hint)
{
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        /* Stale rejection, or one already acted on. */
        if (rejected <= p->match)
            return false;
        p->next = p->match + 1;
        return true;
    }
    if (p->next == 0 || p->next - 1 != rejected)
        return false; /* not the probe we are waiting for */
    raft_index next = rejected < match_hint + 1 ? rejected : match_hint + 1;
    if (next < p->match + 1)
        next = p->match + 1;
    if (next < 1)
        next = 1;
    p->next = next;
    p->probe_sent = false;
    return true;
}

void raft__progress_sent_entries(struct raft__progress *p, raft_index last,
                                 size_t n_entries)
{
    switch (p->state) {
    case RAFT_PROGRESS_REPLICATE:
        if (n_entries > 0) {
            p->next = last + 1;
            inflights_add(&p->inflights, last);
        }
        break;
    case RAFT_PROGRESS_PROBE:
        p->probe_sent = true;
        break;
    default:
        break;
    }
}
