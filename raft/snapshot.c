/*
 * snapshot.c - InstallSnapshot (thesis 5.3), chunked and stop-and-wait.
 *
 * Leader: when a follower needs compacted entries, take the storage's
 * newest snapshot and send it in chunks of at most max_msg_bytes, one chunk
 * in flight; each SNAPSHOT_RESP says which offset the follower wants next.
 * A chunk lost on the way is resent when the follower's next heartbeat
 * response shows no progress.  When the storage has replaced the snapshot
 * (RAFT_ESNAPSHOT) the transfer restarts from offset 0 with the new one.
 * Follower: accept chunks in order, hand each to the driver in a ready
 * batch, and on the last one install the snapshot in the core (log reset,
 * commit and configuration taken from it); acknowledge after persisting.
 * A snapshot at or below our commit index is acknowledged at once.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

void raft__send_snapshot(struct raft *r, struct raft__progress *p)
{
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    int rc = r->cfg.storage.snapshot_meta(r->cfg.storage.data, &meta);
    if (rc != 0 || meta.index == 0) {
        raft__trace(r, "follower %llu needs a snapshot but none is available",
                    (unsigned long long)p->id);
        return;
    }
    raft__progress_become_snapshot(p, &meta);
    raft__trace(r, "sending snapshot %llu (%llu bytes) to %llu",
                (unsigned long long)meta.index, (unsigned long long)meta.size,
                (unsigned long long)p->id);
    raft__send_snapshot_chunk(r, p);
}

void raft__send_snapshot_chunk(struct raft *r, struct raft__progress *p)
{
    size_t cap = (size_t)r->cfg.max_msg_bytes;
    uint64_t left = p->snap.size - p->snap_offset;
    if (p->snap_offset > p->snap.size)
        left = 0;
    if (left < cap)
        cap = (size_t)left;
    uint8_t *buf = cap > 0 ? malloc(cap) : NULL;
    if (cap > 0 && buf == NULL) {
        r->oom = true;
        return;
    }
    size_t n = 0;
    bool last = false;
    const struct raft_storage *st = &r->cfg.storage;
    int rc = st->snapshot_read(st->data, p->snap.index, p->snap_offset, buf,
                               cap, &n, &last);
    if (rc == RAFT_ESNAPSHOT) {
        free(buf);
        struct raft_snapshot_meta meta;
        memset(&meta, 0, sizeof(meta));
        if (st->snapshot_meta(st->data, &meta) != 0 || meta.index == 0 ||
            meta.index == p->snap.index) {
            raft__progress_become_probe(p);
            return;
        }
        raft__trace(r, "snapshot replaced: restarting transfer to %llu",
                    (unsigned long long)p->id);
        raft__progress_become_snapshot(p, &meta);
        raft__send_snapshot_chunk(r, p);
        return;
    }
    if (rc != 0 || n > cap) {
        free(buf);
        raft__trace(r, "snapshot read failed: %s", raft_err_name(rc));
        raft__progress_become_probe(p);
        return;
    }
    /* The storage says where the data ends; keep meta.size consistent. */
    if (last)
        p->snap.size = p->snap_offset + n;
    struct raft_message *m = raft__msg_new(r, false, RAFT_MSG_SNAPSHOT, p->id);
    m->snap = p->snap;
    m->snap_offset = p->snap_offset;
    m->snap_len = n;
    m->snap_data = n > 0 ? buf : NULL;
    if (n == 0)
        free(buf);
    m->snap_last = last;
    m->commit = r->log.commit;
    m->seq = r->seq;
    p->snap_inflight = true;
    p->snap_sent_len = n;
}

void raft__handle_snapshot_resp(struct raft *r, const struct raft_message *m)
{
    struct raft__progress *p = raft__progress_of(r, m->from);
    if (p == NULL)
        return;
    p->recent_active = true;
    raft__ack_seq(r, p, m->seq);
    if (p->state != RAFT_PROGRESS_SNAPSHOT || m->snap.index != p->snap.index)
        return;
    if (m->snap_last && !m->reject) {
        raft_index match = m->index;
        if (match > raft__log_last_index(&r->log))
            match = p->snap.index;
        raft__trace(r, "follower %llu installed snapshot %llu",
                    (unsigned long long)p->id,
                    (unsigned long long)p->snap.index);
        if (match > p->match)
            p->match = match;
        raft__progress_become_probe(p);
        raft__maybe_send_append(r, p, true);
        /* May rebuild prs[]: p must not be used after this. */
        if (raft__maybe_commit(r) && r->role == RAFT_LEADER)
            r->commit_bcast_pending = true;
        return;
    }
    if (m->reject) {
        p->snap_offset = m->snap_offset <= p->snap.size ? m->snap_offset : 0;
        raft__send_snapshot_chunk(r, p);
        return;
    }
    if (p->snap_inflight &&
        m->snap_offset == p->snap_offset + p->snap_sent_len) {
        p->snap_offset = m->snap_offset;
        p->snap_inflight = false;
        raft__send_snapshot_chunk(r, p);
    }
}

static void send_resp(struct raft *r, const struct raft_message *m,
                      uint64_t next, bool reject, bool done, raft_index index)
{
    struct raft_message *resp =
        raft__msg_new(r, true, RAFT_MSG_SNAPSHOT_RESP, m->from);
    resp->snap.index = m->snap.index;
    resp->snap.term = m->snap.term;
    resp->snap_offset = next;
    resp->reject = reject;
    resp->snap_last = done;
    resp->index = index;
    resp->seq = m->seq;
}

/* Adds the chunk to the one waiting for the next ready batch. */
static int queue_chunk(struct raft *r, const struct raft_message *m)
{
    struct raft__chunk *c = &r->chunk;
    if (c->valid && m->snap_offset != 0 && c->c.meta.index == m->snap.index &&
        c->c.offset + c->c.len == m->snap_offset) {
        if (m->snap_len > 0) {
            uint8_t *d = realloc(c->c.data, c->c.len + m->snap_len);
            if (d == NULL)
                return RAFT_ENOMEM;
            memcpy(d + c->c.len, m->snap_data, m->snap_len);
            c->c.data = d;
            c->c.len += m->snap_len;
        }
        c->c.last = m->snap_last;
        return 0;
    }
    uint8_t *d = NULL;
    if (m->snap_len > 0) {
        d = malloc(m->snap_len);
        if (d == NULL)
            return RAFT_ENOMEM;
        memcpy(d, m->snap_data, m->snap_len);
    }
    free(c->c.data);
    c->valid = true;
    c->c.meta = m->snap;
    c->c.offset = m->snap_offset;
    c->c.len = m->snap_len;
    c->c.data = d;
    c->c.last = m->snap_last;
    return 0;
}

static void install(struct raft *r, const struct raft_snapshot_meta *s)
{
    raft__log_restore(&r->log, s);
    r->conf = s->conf;
    r->conf_index = s->index;
    r->conf_changed = true;
    r->recv_snap_index = 0;
    raft__trace(r, "installed snapshot %llu term %llu",
                (unsigned long long)s->index, (unsigned long long)s->term);
}

void raft__handle_snapshot(struct raft *r, const struct raft_message *m)
{
    const struct raft_snapshot_meta *s = &m->snap;
    if (s->index <= r->log.commit) {
        /* We have all of it already. */
        r->recv_snap_index = 0;
        send_resp(r, m, s->size, false, true, r->log.commit);
        return;
    }
    if (m->snap_offset == 0) {
        r->recv_snap_index = s->index;
        r->recv_snap_term = s->term;
        r->recv_snap_next = 0;
    } else if (r->recv_snap_index != s->index || r->recv_snap_term != s->term) {
        send_resp(r, m, 0, true, false, 0);
        return;
    }
    if (m->snap_offset < r->recv_snap_next) {
        send_resp(r, m, r->recv_snap_next, false, false, 0); /* duplicate */
        return;
    }
    if (m->snap_offset > r->recv_snap_next) {
        send_resp(r, m, r->recv_snap_next, true, false, 0);
        return;
    }
    if (queue_chunk(r, m) != 0) {
        r->oom = true;
        return; /* the leader resends */
    }
    r->recv_snap_next += m->snap_len;
    if (!m->snap_last) {
        send_resp(r, m, r->recv_snap_next, false, false, 0);
        return;
    }
    install(r, s);
    send_resp(r, m, s->size, false, true, s->index);
}
