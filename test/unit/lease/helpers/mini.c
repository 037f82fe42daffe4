/*
 * mini.c - the tiny synchronous cluster of mini.h: just enough of a raft.h
 * driver (persist, send, apply, read states, advance, persisted) to put real
 * Raft cores behind the lease tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini.h"

struct mini *mini_create(size_t n)
{
    if (n == 0 || n > MINI_MAX_NODES)
        abort();
    struct mini *m = calloc(1, sizeof(*m));
    if (m == NULL)
        abort();
    m->n = n;
    m->now_ns = 1000000000ull;
    m->boot.n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        m->boot.members[i].id = i + 1;
    for (raft_id id = 1; id <= n; id++) {
        struct raft_config c;
        memset(&c, 0, sizeof(c));
        m->ms[id] = raft_memstore_create();
        if (m->ms[id] == NULL)
            abort();
        c.id = id;
        c.storage = raft_memstore_storage(m->ms[id]);
        c.election_tick = MINI_ELECTION_TICK;
        c.heartbeat_tick = MINI_HEARTBEAT_TICK;
        c.pre_vote = true;
        c.check_quorum = true;
        c.max_inflight = 16;
        c.max_msg_bytes = 1 << 20;
        c.seed = 7000 + id;
        c.bootstrap = &m->boot;
        if (raft_create(&c, &m->r[id]) != 0) {
            fprintf(stderr, "mini: raft_create(%llu) failed\n",
                    (unsigned long long)id);
            abort();
        }
    }
    return m;
}

void mini_destroy(struct mini *m)
{
    for (raft_id id = 1; id <= m->n; id++) {
        raft_destroy(m->r[id]);
        raft_memstore_destroy(m->ms[id]);
    }
    free(m);
}

static void send_all(struct mini *m, raft_id from,
                     const struct raft_message *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        raft_id to = msgs[i].to;
        if (to == 0 || to > m->n || m->cut[from][to])
            continue;
        if (raft_step(m->r[to], &msgs[i], m->now_ns) != 0)
            m->errors++;
    }
}

static void handle(struct mini *m, raft_id id, struct raft_ready *rd)
{
    struct raft *r = m->r[id];
    send_all(m, id, rd->msgs, rd->n_msgs);
    if (rd->n_committed > 0)
        m->applied[id] = rd->committed[rd->n_committed - 1].index;
    for (size_t i = 0; i < rd->n_reads; i++) {
        if (m->n_reads[id] < MINI_MAX_READS)
            m->reads[id][m->n_reads[id]++] = rd->reads[i];
    }
    raft_advance(r, rd);
    bool persisted = rd->has_hard_state || rd->n_entries > 0;
    if (rd->has_hard_state)
        raft_memstore_set_hard_state(m->ms[id], &rd->hs);
    if (rd->n_entries > 0 &&
        raft_memstore_append(m->ms[id], rd->entries, rd->n_entries) != 0)
        m->errors++;
    send_all(m, id, rd->msgs_after_persist, rd->n_msgs_after_persist);
    if (persisted)
        raft_persisted(r, rd->persist_index, rd->persist_term, m->now_ns);
    raft_ready_free(rd);
}

void mini_process(struct mini *m, raft_id id)
{
    for (int guard = 0; raft_has_ready(m->r[id]); guard++) {
        struct raft_ready rd;
        memset(&rd, 0, sizeof(rd));
        if (guard > 1000 || raft_ready(m->r[id], &rd) != 0) {
            m->errors++;
            return;
        }
        handle(m, id, &rd);
    }
}

void mini_settle(struct mini *m)
{
    for (int round = 0; round < 1000; round++) {
        bool any = false;
        for (raft_id id = 1; id <= m->n; id++) {
            if (raft_has_ready(m->r[id])) {
                any = true;
                mini_process(m, id);
            }
        }
        if (!any)
            return;
    }
    m->errors++;
}

bool mini_elect(struct mini *m, raft_id id)
{
    if (raft_campaign(m->r[id], m->now_ns) != 0)
        return false;
    mini_settle(m);
    return raft_role_of(m->r[id]) == RAFT_LEADER;
}

void mini_tick(struct mini *m, unsigned k)
{
    for (unsigned i = 0; i < k; i++) {
        m->now_ns += MINI_TICK_NS;
        for (raft_id id = 1; id <= m->n; id++)
            raft_tick(m->r[id], m->now_ns);
        mini_settle(m);
    }
}
