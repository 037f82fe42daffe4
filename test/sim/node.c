/*
 * node.c - the simulated driver: one Raft core, its memstore as durable
 * storage, and a small key-value state machine.
 *
 * Happy path (the loop of the real server driver):
 *     while raft_has_ready: raft_ready; send msgs; start an asynchronous
 *     persist of the batch (completes after a random fsync delay, batches in
 *     order); apply committed entries to the KV map; hand read states to the
 *     waiting reads; raft_advance.
 * When a persist completes, its hard state / entries / snapshot are written
 * into the memstore, msgs_after_persist are sent, raft_persisted() is
 * called and the batch is freed.  Every `snapshot_every` applied entries the
 * node serialises its KV map into the memstore snapshot (a little behind the
 * applied index, so that some entries stay in the log) which compacts the log.
 *
 * The node's leader lease (lease/lease.h) is wired like the server's:
 * lease_update_from_raft() after every ready batch and tick, fast-path reads
 * at the commit index while lease_valid() by the node's local clock, a
 * follower's READ_INDEX answered from the lease, lease_should_renew_early()
 * -> raft_heartbeat() after serving; every read index taken from a lease is
 * checked against the commit indexes of all other nodes (check_lease_read).
 *
 * Failure modes: a crash discards the core, the KV map and every persist in
 * flight; only the memstore survives.  A restart rebuilds the KV map from the
 * memstore's snapshot and lets the core hand out the committed entries after
 * it again.  Anything the core hands out that breaks the driver contract
 * (a gap in applied entries, snapshot chunks out of order, entries the
 * storage cannot take) is reported as a violation.
 */
#include "test/sim/sim_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC 0x534e53534d53494dULL /* "MISMSSNS" */

static uint64_t scaled(uint64_t ns, uint32_t rate_ppm)
{
    return ns / 1000000 * rate_ppm + (ns % 1000000) * rate_ppm / 1000000;
}

uint64_t sim_node_now(const struct sim *s, const struct sim_node *n)
{
    return (uint64_t)((int64_t)scaled(s->now_ns, n->rate_ppm) + n->offset_ns);
}

void sim_node_set_rate(struct sim *s, struct sim_node *n, uint32_t rate_ppm)
{
    uint64_t local = sim_node_now(s, n);
    n->rate_ppm = rate_ppm;
    n->offset_ns = (int64_t)local - (int64_t)scaled(s->now_ns, rate_ppm);
}

uint64_t sim_tick_interval(const struct sim *s, const struct sim_node *n)
{
    return s->p.tick_ns * 1000000 / n->rate_ppm;
}

uint64_t sim_kv_hash(const uint64_t *kv)
{
    return sim_hash(kv, SIM_KEYS * sizeof *kv);
}

static void trace_cb(void *data, raft_id id, raft_term term, const char *msg)
{
    struct sim *s = data;
    sim_log(s, "n%" PRIu64 " core (term %" PRIu64 "): %s", id, term, msg);
}

/* ---- snapshot data: magic, index, term, kv, filler, checksum ------------ */

static size_t snap_size(const struct sim *s)
{
    return 8 * 3 + 4 * 2 + 8 * SIM_KEYS + s->p.snapshot_pad + 8;
}

static void put64(uint8_t **p, uint64_t v)
{
    memcpy(*p, &v, 8);
    *p += 8;
}

static uint64_t get64(const uint8_t **p)
{
    uint64_t v;
    memcpy(&v, *p, 8);
    *p += 8;
    return v;
}

static uint8_t *snap_encode(struct sim *s, const struct sim_sm_state *st,
                            size_t *len)
{
    size_t size = snap_size(s);
    uint8_t *buf = sim_xcalloc(s, 1, size), *p = buf;
    if (!buf)
        return NULL;
    put64(&p, SNAP_MAGIC);
    put64(&p, st->index);
    put64(&p, st->term);
    uint32_t nk = SIM_KEYS, pad = s->p.snapshot_pad;
    memcpy(p, &nk, 4);
    memcpy(p + 4, &pad, 4);
    p += 8;
    for (unsigned k = 0; k < SIM_KEYS; k++)
        put64(&p, st->kv[k]);
    for (uint32_t i = 0; i < pad; i++)
        *p++ = (uint8_t)(st->index * 31 + i);
    put64(&p, sim_hash(buf, size - 8));
    *len = size;
    return buf;
}

/* Validates snapshot bytes (they come from "disk" and "network"). */
static int snap_decode(const uint8_t *buf, size_t len, raft_index *index,
                       raft_term *term, uint64_t *kv)
{
    const uint8_t *p = buf;
    if (!buf || len < 8 * 3 + 8 + 8 * SIM_KEYS + 8)
        return -1;
    uint64_t check;
    memcpy(&check, buf + len - 8, 8);
    if (check != sim_hash(buf, len - 8) || get64(&p) != SNAP_MAGIC)
        return -1;
    *index = get64(&p);
    *term = get64(&p);
    uint32_t nk, pad;
    memcpy(&nk, p, 4);
    memcpy(&pad, p + 4, 4);
    p += 8;
    if (nk != SIM_KEYS || len != 8 * 3 + 8 + 8 * (size_t)nk + pad + 8)
        return -1;
    for (unsigned k = 0; k < SIM_KEYS; k++)
        kv[k] = get64(&p);
    for (uint32_t i = 0; i < pad; i++)
        if (p[i] != (uint8_t)(*index * 31 + i))
            return -1;
    return 0;
}

/* ---- state machine ------------------------------------------------------- */

static void ring_reset(struct sim_node *n)
{
    n->ring_n = 0;
    n->ring_pos = 0;
}

static void ring_push(struct sim_node *n)
{
    n->ring[n->ring_pos] = n->sm;
    n->ring_pos = (n->ring_pos + 1) % SIM_RING;
    if (n->ring_n < SIM_RING)
        n->ring_n++;
}

static const struct sim_sm_state *ring_find(const struct sim_node *n,
                                            raft_index index)
{
    for (unsigned i = 0; i < n->ring_n; i++)
        if (n->ring[i].index == index)
            return &n->ring[i];
    return NULL;
}

static bool conf_has(const struct raft_conf *c, raft_id id)
{
    return raft_conf_find(c, id) != NULL;
}

static void apply_entry(struct sim *s, struct sim_node *n,
                        const struct raft_entry *e)
{
    if (e->index != n->sm.index + 1) {
        sim_violation(s,
                      "n%" PRIu64 " was handed committed entry %" PRIu64
                      " after applying %" PRIu64 " (gap or repeat)",
                      n->id, e->index, n->sm.index);
        return;
    }
    if (e->type == RAFT_ENTRY_NORMAL) {
        uint64_t key, value;
        if (e->len > 0) {
            if (sim_op_decode(e->data, e->len, &key, &value) != 0) {
                sim_violation(s,
                              "n%" PRIu64 " applied entry %" PRIu64
                              " with data no client wrote (%u bytes)",
                              n->id, e->index, e->len);
                return;
            }
            n->sm.kv[key] = value;
        }
    } else if (e->type == RAFT_ENTRY_CONF_CHANGE) {
        struct raft_conf_change cc;
        if (raft_conf_change_decode(e->data, e->len, &cc) != 0) {
            sim_violation(s,
                          "n%" PRIu64 " applied conf change entry %" PRIu64
                          " that does not decode",
                          n->id, e->index);
            return;
        }
        (void)raft_conf_apply(&n->sm.conf, &cc);
    } else {
        sim_violation(
            s, "n%" PRIu64 " applied entry %" PRIu64 " of unknown type %u",
            n->id, e->index, e->type);
        return;
    }
    n->sm.index = e->index;
    n->sm.term = e->term;
    ring_push(n);
    sim_log(s, "n%" PRIu64 " apply %" PRIu64 " term %" PRIu64 " %s%s", n->id,
            e->index, e->term,
            e->type == RAFT_ENTRY_CONF_CHANGE ? "conf change"
                                              : (e->len ? "write" : "no-op"),
            "");
    sim_check_apply(s, n, e, sim_kv_hash(n->sm.kv));
    if (!s->violated)
        sim_workload_on_apply(s, n, e);
}

/* Takes a snapshot of a recent state once enough entries were applied. */
static void maybe_snapshot(struct sim *s, struct sim_node *n)
{
    struct raft_storage st = raft_memstore_storage(n->ms);
    struct raft_snapshot_meta cur;
    if (st.snapshot_meta(st.data, &cur) != 0)
        return;
    if (n->sm.index < cur.index + s->p.snapshot_every + s->p.snapshot_keep)
        return;
    const struct sim_sm_state *target =
        ring_find(n, n->sm.index - s->p.snapshot_keep);
    raft_term t;
    if (!target || target->index <= cur.index ||
        st.term(st.data, target->index, &t) != 0 || t != target->term)
        return; /* not durable yet: try again after the next persist */
    size_t len;
    uint8_t *buf = snap_encode(s, target, &len);
    if (!buf)
        return;
    struct raft_snapshot_meta meta = {
        .index = target->index,
        .term = target->term,
        .conf = target->conf,
        .size = len,
    };
    int rc = raft_memstore_set_snapshot(n->ms, &meta, buf);
    free(buf);
    if (rc != 0) {
        sim_violation(
            s, "n%" PRIu64 " memstore refused own snapshot at %" PRIu64 ": %s",
            n->id, meta.index, raft_strerror(rc));
        return;
    }
    sim_log(s,
            "n%" PRIu64 " took snapshot at %" PRIu64 " term %" PRIu64
            " (%zu bytes), log compacted",
            n->id, meta.index, meta.term, len);
}

/* ---- snapshots received from the leader -----------------------------------
 */

static void collect_chunk(struct sim *s, struct sim_node *n,
                          const struct raft_snapshot_chunk *c)
{
    if (c->offset == 0) {
        n->asm_len = 0;
        n->asm_index = c->meta.index;
    }
    if (c->meta.index != n->asm_index || c->offset != n->asm_len) {
        sim_violation(s,
                      "n%" PRIu64 " was handed snapshot %" PRIu64
                      " chunk at offset %" PRIu64 " but holds %zu bytes of "
                      "snapshot %" PRIu64,
                      n->id, c->meta.index, c->offset, n->asm_len,
                      n->asm_index);
        return;
    }
    if (n->asm_len + c->len > n->asm_cap) {
        size_t cap = (n->asm_len + c->len) * 2;
        uint8_t *b = sim_xrealloc(s, n->asm_buf, cap, 1);
        if (!b)
            return;
        n->asm_buf = b;
        n->asm_cap = cap;
    }
    if (c->len)
        memcpy(n->asm_buf + n->asm_len, c->data, c->len);
    n->asm_len += c->len;
    sim_log(s,
            "n%" PRIu64 " snapshot %" PRIu64 " chunk offset %" PRIu64
            " len %zu%s",
            n->id, c->meta.index, c->offset, c->len, c->last ? " (last)" : "");
}

static void install_snapshot(struct sim *s, struct sim_node *n,
                             struct sim_persist *p)
{
    const struct raft_snapshot_meta *m = &p->rd.snapshot;
    raft_index index;
    raft_term term;
    uint64_t kv[SIM_KEYS];
    if (n->asm_index != m->index || n->asm_len != m->size ||
        snap_decode(n->asm_buf, n->asm_len, &index, &term, kv) != 0 ||
        index != m->index || term != m->term) {
        sim_violation(s,
                      "n%" PRIu64 " was told to install snapshot %" PRIu64
                      " (%" PRIu64 " bytes) but reassembled %zu bytes of "
                      "snapshot %" PRIu64 " that do not decode to it",
                      n->id, m->index, m->size, n->asm_len, n->asm_index);
        return;
    }
    if (m->index < n->sm.index) {
        sim_violation(s,
                      "n%" PRIu64 " was told to install snapshot %" PRIu64
                      " behind its applied index %" PRIu64,
                      n->id, m->index, n->sm.index);
        return;
    }
    memcpy(n->sm.kv, kv, sizeof kv);
    n->sm.index = m->index;
    n->sm.term = m->term;
    n->sm.conf = m->conf;
    ring_reset(n);
    ring_push(n);
    p->snap_data = n->asm_buf;
    n->asm_buf = NULL;
    n->asm_len = n->asm_cap = 0;
    s->res->snapshots_installed++;
    sim_log(s, "n%" PRIu64 " installed snapshot %" PRIu64 " term %" PRIu64,
            n->id, m->index, m->term);
    sim_check_snapshot(s, n, m->index, m->term, sim_kv_hash(n->sm.kv));
    if (!s->violated)
        sim_workload_on_snapshot(s, n);
}

/* ---- the ready loop -------------------------------------------------------
 */

static void on_soft(struct sim *s, struct sim_node *n,
                    const struct raft_soft_state *ns)
{
    struct raft_soft_state old = n->soft;
    n->soft = *ns;
    sim_log(s, "n%" PRIu64 " role %s term %" PRIu64 " leader %" PRIu64, n->id,
            raft_role_name(ns->role), ns->term, ns->leader);
    if (ns->role == RAFT_LEADER &&
        (old.role != RAFT_LEADER || old.term != ns->term)) {
        s->res->leader_elections++;
        sim_check_leader(s, n, ns->term);
    }
    if (!s->violated)
        sim_workload_on_soft(s, n, &old, ns);
}

static void check_membership(struct sim *s, struct sim_node *n)
{
    if (conf_has(&n->sm.conf, n->id)) {
        n->was_member = true;
    } else if (n->was_member && n->sm.conf.n > 0 && !n->stopping) {
        n->stopping = true;
        sim_schedule(s, s->now_ns, SIM_EV_STOP_REMOVED, n->idx, n->inc, 0,
                     NULL);
    }
}

static bool needs_persist(const struct raft_ready *rd)
{
    return rd->has_chunk || rd->has_snapshot || rd->has_hard_state ||
           rd->n_entries > 0 || rd->n_msgs_after_persist > 0 ||
           rd->persist_index != 0;
}

static void log_ready(struct sim *s, struct sim_node *n,
                      const struct raft_ready *rd)
{
    if (!s->opt->verbose)
        return;
    char hs[96] = "", ents[64] = "", com[64] = "";
    if (rd->has_hard_state)
        snprintf(hs, sizeof hs,
                 " hs(term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64 ")",
                 rd->hs.term, rd->hs.vote, rd->hs.commit);
    if (rd->n_entries)
        snprintf(ents, sizeof ents, " entries %" PRIu64 "..%" PRIu64,
                 rd->entries[0].index, rd->entries[rd->n_entries - 1].index);
    if (rd->n_committed)
        snprintf(com, sizeof com, " committed %" PRIu64 "..%" PRIu64,
                 rd->committed[0].index,
                 rd->committed[rd->n_committed - 1].index);
    sim_log(s, "n%" PRIu64 " ready:%s%s%s msgs %zu+%zu reads %zu%s%s", n->id,
            hs, ents, com, rd->n_msgs, rd->n_msgs_after_persist, rd->n_reads,
            rd->has_snapshot ? " snapshot" : "",
            rd->conf_changed ? " conf" : "");
}

static void handle_batch(struct sim *s, struct sim_node *n,
                         struct sim_persist *p)
{
    struct raft_ready *rd = &p->rd;
    log_ready(s, n, rd);
    if (rd->soft_changed)
        on_soft(s, n, &rd->soft);
    for (size_t i = 0; i < rd->n_msgs && !s->violated; i++)
        sim_net_send(s, n->idx, &rd->msgs[i], false);
    if (s->opt->driver_bug == SIM_BUG_ACK_BEFORE_PERSIST)
        for (size_t i = 0; i < rd->n_msgs_after_persist && !s->violated; i++)
            sim_net_send(s, n->idx, &rd->msgs_after_persist[i], false);
    if (rd->has_chunk && !s->violated)
        collect_chunk(s, n, &rd->chunk);
    if (rd->has_snapshot && !s->violated)
        install_snapshot(s, n, p);
    for (size_t i = 0; i < rd->n_committed && !s->violated; i++) {
        if (rd->has_snapshot && rd->committed[i].index <= n->sm.index)
            continue; /* covered by the snapshot just installed */
        apply_entry(s, n, &rd->committed[i]);
    }
    if (rd->conf_changed && !s->violated &&
        memcmp(&rd->conf, &n->sm.conf, sizeof rd->conf) != 0) {
        sim_log(s,
                "n%" PRIu64 " core reports a configuration of %u "
                "members",
                n->id, rd->conf.n);
        n->sm.conf = rd->conf;
        if (n->ring_n > 0)
            n->ring[(n->ring_pos + SIM_RING - 1) % SIM_RING].conf = rd->conf;
    }
    for (size_t i = 0; i < rd->n_reads && !s->violated; i++)
        sim_workload_on_read_state(s, n, &rd->reads[i]);
    if (!s->violated)
        check_membership(s, n);
}

/* The lease follows the core after every ready batch and tick, like the
 * server (lease_update_from_raft() reads role, term, commit-in-term,
 * transferee and the quorum ack time). */
static void lease_follow(struct sim *s, struct sim_node *n)
{
    if (n->r)
        (void)lease_update_from_raft(&n->lease, n->r, sim_node_now(s, n));
}

void sim_node_drive(struct sim *s, struct sim_node *n)
{
    while (!s->violated && n->r && raft_has_ready(n->r)) {
        if (n->n_pend == n->cap_pend) {
            size_t cap = n->cap_pend ? n->cap_pend * 2 : 8;
            struct sim_persist **pp = sim_xrealloc(s, n->pend, cap, sizeof *pp);
            if (!pp)
                return;
            n->pend = pp;
            n->cap_pend = cap;
        }
        struct sim_persist *p = sim_xcalloc(s, 1, sizeof *p);
        if (!p)
            return;
        int rc = raft_ready(n->r, &p->rd);
        if (rc != 0) {
            free(p);
            sim_violation(s, "n%" PRIu64 " raft_ready failed: %s", n->id,
                          raft_strerror(rc));
            return;
        }
        /* Listed before it is handled so log lookups see its entries. */
        n->pend[n->n_pend++] = p;
        handle_batch(s, n, p);
        raft_advance(n->r, &p->rd);
        lease_follow(s, n);
        if (!needs_persist(&p->rd)) {
            n->n_pend--;
            raft_ready_free(&p->rd);
            free(p->snap_data);
            free(p);
        } else {
            uint64_t done =
                s->now_ns + sim_rng_range(&s->rng_disk, s->p.fsync_min_ns,
                                          s->p.fsync_max_ns);
            if (n->n_pend > 1 && n->pend[n->n_pend - 2]->done_at_ns > done)
                done = n->pend[n->n_pend - 2]->done_at_ns;
            p->done_at_ns = done;
            sim_schedule(s, done, SIM_EV_PERSIST, n->idx, n->inc, 0, NULL);
        }
        if (!s->violated)
            sim_workload_on_progress(s, n);
    }
}

void sim_node_persist_done(struct sim *s, struct sim_node *n)
{
    if (n->n_pend == 0)
        return;
    struct sim_persist *p = n->pend[0];
    memmove(n->pend, n->pend + 1, (n->n_pend - 1) * sizeof *n->pend);
    n->n_pend--;
    struct raft_ready *rd = &p->rd;
    int rc = 0;
    if (rd->has_snapshot) {
        rc = raft_memstore_set_snapshot(n->ms, &rd->snapshot, p->snap_data);
        if (rc != 0)
            sim_violation(
                s, "n%" PRIu64 " memstore refused snapshot %" PRIu64 ": %s",
                n->id, rd->snapshot.index, raft_strerror(rc));
    }
    if (rd->has_hard_state && rc == 0)
        rc = raft_memstore_set_hard_state(n->ms, &rd->hs);
    if (rd->n_entries && rc == 0) {
        struct raft_storage st = raft_memstore_storage(n->ms);
        struct raft_snapshot_meta sm;
        size_t skip = 0;
        if (st.snapshot_meta(st.data, &sm) == 0)
            while (skip < rd->n_entries && rd->entries[skip].index <= sm.index)
                skip++;
        if (skip < rd->n_entries) {
            rc = raft_memstore_append(n->ms, rd->entries + skip,
                                      rd->n_entries - skip);
            if (rc != 0)
                sim_violation(
                    s,
                    "n%" PRIu64 " memstore refused entries %" PRIu64 "..: %s",
                    n->id, rd->entries[skip].index, raft_strerror(rc));
        }
    }
    sim_log(s,
            "n%" PRIu64 " persisted batch (index %" PRIu64 " term %" PRIu64 ")",
            n->id, rd->persist_index, rd->persist_term);
    for (size_t i = 0; i < rd->n_msgs_after_persist && !s->violated &&
                       s->opt->driver_bug != SIM_BUG_ACK_BEFORE_PERSIST;
         i++)
        sim_net_send(s, n->idx, &rd->msgs_after_persist[i], true);
    if (rd->persist_index != 0 && !s->violated)
        raft_persisted(n->r, rd->persist_index, rd->persist_term,
                       sim_node_now(s, n));
    raft_ready_free(rd);
    free(p->snap_data);
    free(p);
    if (!s->violated) {
        maybe_snapshot(s, n);
        sim_node_drive(s, n);
    }
}

/* ---- inputs
 * ------------------------------------------------------------------ */

void sim_node_tick(struct sim *s, struct sim_node *n)
{
    uint64_t now = sim_node_now(s, n);
    sim_log(s,
            "n%" PRIu64 " tick (local clock %" PRIu64 " ns, lease left %" PRIu64
            " ns)",
            n->id, now, lease_remaining(&n->lease, now));
    raft_tick(n->r, now);
    lease_follow(s, n);
    lease_tick(&n->lease, now);
    sim_node_drive(s, n);
}

/*
 * The lease's safety property, checked whenever a read index is taken from
 * a lease: while n holds a valid lease no other leader can have committed
 * anything, so no node may know of a commit index beyond n's.  (Once n has
 * committed an entry of its term, every entry committed in an earlier term
 * is at or below n's commit index.)  A node that does is proof that a read
 * served at `index` may miss a committed write: a stale read.
 */
static void check_lease_read(struct sim *s, struct sim_node *n,
                             raft_index index, const char *how)
{
    for (unsigned i = 0; i < s->n_nodes; i++) {
        struct sim_node *o = &s->nodes[i];
        if (o == n || o->state != SIM_NODE_UP || !o->r)
            continue;
        raft_index c = raft_commit_index(o->r);
        if (c > index) {
            sim_violation(s,
                          "stale read: n%" PRIu64 " (leader, term %" PRIu64
                          ") %s at read index %" PRIu64 " from its lease "
                          "(%" PRIu64 " ns left by its clock) but n%" PRIu64
                          " (%s, term %" PRIu64 ") already knows index %" PRIu64
                          " committed",
                          n->id, raft_term_of(n->r), how, index,
                          lease_remaining(&n->lease, sim_node_now(s, n)), o->id,
                          raft_role_name(raft_role_of(o->r)),
                          raft_term_of(o->r), c);
            return;
        }
    }
}

/* Early renewal, as the server does after every lease read it serves. */
void sim_node_lease_served(struct sim *s, struct sim_node *n)
{
    uint64_t now = sim_node_now(s, n);
    if (n->r && lease_should_renew_early(&n->lease, now) &&
        raft_heartbeat(n->r, now) == 0) {
        s->res->lease_renewals++;
        sim_log(s, "n%" PRIu64 " renews its lease early (heartbeat round)",
                n->id);
        sim_node_drive(s, n);
    }
}

/*
 * A follower asks this node for a read index.  Like the server's
 * answer_read_index_from_lease(): a leader with a valid lease answers with
 * its commit index at once instead of running a heartbeat round.  Returns
 * true when it answered (the message is then not stepped into the core).
 */
static bool answer_read_index_from_lease(struct sim *s, struct sim_node *n,
                                         const struct raft_message *m)
{
    uint64_t now = sim_node_now(s, n);
    if (m->type != RAFT_MSG_READ_INDEX || n->policy != SIM_READ_LEASE ||
        raft_role_of(n->r) != RAFT_LEADER || m->term != raft_term_of(n->r) ||
        !lease_valid(&n->lease, now))
        return false;
    struct raft_message resp;
    memset(&resp, 0, sizeof resp);
    resp.type = RAFT_MSG_READ_INDEX_RESP;
    resp.from = n->id;
    resp.to = m->from;
    resp.term = raft_term_of(n->r);
    resp.ctx = m->ctx;
    resp.index = raft_commit_index(n->r);
    check_lease_read(s, n, resp.index, "answered a follower's READ_INDEX");
    if (s->violated)
        return true;
    s->res->lease_answered++;
    sim_log(s,
            "n%" PRIu64 " answers READ_INDEX of n%" PRIu64 " from its lease: "
            "index %" PRIu64,
            n->id, m->from, resp.index);
    sim_net_send(s, n->idx, &resp, false);
    sim_node_lease_served(s, n);
    return true;
}

void sim_node_deliver(struct sim *s, struct sim_node *n,
                      const struct raft_message *m)
{
    char extra[64] = "";
    if (s->opt->verbose && m->n_entries)
        snprintf(extra, sizeof extra, " entries %" PRIu64 "..%" PRIu64,
                 m->entries[0].index, m->entries[m->n_entries - 1].index);
    sim_log(s,
            "deliver %s %" PRIu64 "->%" PRIu64 " term %" PRIu64
            " index %" PRIu64 " commit %" PRIu64 "%s%s",
            sim_msg_name(m->type), m->from, m->to, m->term, m->index, m->commit,
            extra, m->reject ? " REJECT" : "");
    if (answer_read_index_from_lease(s, n, m))
        return;
    int rc = raft_step(n->r, m, sim_node_now(s, n));
    if (rc != 0)
        sim_log(s, "n%" PRIu64 " raft_step: %s", n->id, raft_err_name(rc));
    sim_node_drive(s, n);
}

int sim_node_read_start(struct sim *s, struct sim_node *n, uint64_t ctx,
                        raft_index *index, raft_term *read_term)
{
    uint64_t now = sim_node_now(s, n);
    *read_term = 0;
    switch (n->policy) {
    case SIM_READ_UNSAFE:
        /* Deliberately wrong: no ReadIndex round, no commit-in-term. */
        if (raft_role_of(n->r) == RAFT_LEADER)
            return SIM_READ_SERVE_NOW;
        break;
    case SIM_READ_LEASE:
        /* The server's fast path: lease valid by a fresh clock read, read
         * index = commit index, wait for apply, re-check before serving. */
        if (raft_role_of(n->r) == RAFT_LEADER && lease_valid(&n->lease, now)) {
            *index = raft_commit_index(n->r);
            *read_term = raft_term_of(n->r);
            check_lease_read(s, n, *index, "started a read");
            if (s->violated)
                return RAFT_EINVAL;
            s->res->reads_fast++;
            return SIM_READ_WAIT_APPLY;
        }
        break; /* no lease: ReadIndex round */
    case SIM_READ_INDEX:
    default:
        break;
    }
    int rc = raft_read_index(n->r, ctx, now);
    *index = 0;
    return rc != 0 ? rc : SIM_READ_WAIT_STATE;
}

/* ---- lifecycle -------------------------------------------------------------
 */

void sim_node_init(struct sim *s, unsigned idx)
{
    struct sim_node *n = &s->nodes[idx];
    memset(n, 0, sizeof *n);
    n->idx = idx;
    n->id = idx + 1;
    n->state = SIM_NODE_DOWN;
    n->ms = raft_memstore_create();
    if (!n->ms) {
        s->oom = true;
        s->violated = true;
    }
    n->rate_ppm = (uint32_t)sim_rng_range(
        &s->rng_param, 1000000 - s->p.drift_ppm, 1000000 + s->p.drift_ppm);
    n->offset_ns = (int64_t)sim_rng_range(&s->rng_param, 0, 1000000000ULL);
    if (s->opt->drift_beyond_bound) {
        /* The lease is configured for drift_ppm, but the clocks run 30-50%
         * fast or slow: a slow leader's lease outlives a fast follower's
         * election timeout. */
        uint32_t d = (uint32_t)sim_rng_range(&s->rng_param, 300000, 500000);
        n->rate_ppm =
            sim_rng_chance(&s->rng_param, 500000) ? 1000000 + d : 1000000 - d;
    }
    if (s->opt->read_policy == SIM_READ_UNSAFE)
        n->policy = SIM_READ_UNSAFE;
    else if (s->opt->reads == SIM_READS_LEASE)
        n->policy = SIM_READ_LEASE;
    else if (s->opt->reads == SIM_READS_READINDEX)
        n->policy = SIM_READ_INDEX;
    else
        n->policy = sim_rng_chance(&s->rng_param, 700000) ? SIM_READ_LEASE
                                                          : SIM_READ_INDEX;
}

static void restore_state(struct sim *s, struct sim_node *n)
{
    struct raft_storage st = raft_memstore_storage(n->ms);
    struct raft_snapshot_meta meta;
    memset(&n->sm, 0, sizeof n->sm);
    if (st.snapshot_meta(st.data, &meta) == 0 && meta.index > 0) {
        raft_index index;
        raft_term term;
        if (snap_decode(raft_memstore_snapshot_data(n->ms), meta.size, &index,
                        &term, n->sm.kv) != 0 ||
            index != meta.index || term != meta.term) {
            sim_violation(s,
                          "n%" PRIu64 " cannot decode its own durable "
                          "snapshot %" PRIu64,
                          n->id, meta.index);
            return;
        }
        n->sm.index = meta.index;
        n->sm.term = meta.term;
        n->sm.conf = meta.conf;
    }
    ring_reset(n);
    ring_push(n);
}

int sim_node_start(struct sim *s, struct sim_node *n)
{
    restore_state(s, n);
    if (s->violated)
        return -1;
    struct raft_config cfg = {
        .id = n->id,
        .storage = raft_memstore_storage(n->ms),
        .election_tick = s->p.election_tick,
        .heartbeat_tick = s->p.heartbeat_tick,
        .pre_vote = true,
        .check_quorum = true,
        .max_inflight = s->p.max_inflight,
        .max_msg_bytes = s->p.max_msg_bytes,
        .seed = s->seed * 1000003ULL + n->id * 7919ULL + n->inc,
        .disable_leader_stickiness = s->opt->no_leader_stickiness,
        .bootstrap = n->wiped ? NULL : &s->initial_conf,
        .trace = s->opt->verbose ? trace_cb : NULL,
        .trace_data = s,
    };
    int rc = raft_create(&cfg, &n->r);
    if (rc != 0) {
        n->r = NULL;
        sim_violation(s, "n%" PRIu64 " cannot restart from its storage: %s",
                      n->id, raft_strerror(rc));
        return -1;
    }
    struct lease_config lc = s->p.lease;
    if (n->policy != SIM_READ_LEASE)
        lc.duration_ns = 0; /* leases off, like a server in readindex mode */
    (void)lease_init(&n->lease, &lc);
    n->state = SIM_NODE_UP;
    n->stopping = false;
    n->was_member = conf_has(&n->sm.conf, n->id);
    n->last_commit = raft_commit_index(n->r);
    n->soft.role = raft_role_of(n->r);
    n->soft.leader = raft_leader(n->r);
    n->soft.term = raft_term_of(n->r);
    sim_log(s,
            "n%" PRIu64 " starts (incarnation %u, snapshot %" PRIu64
            ", commit %" PRIu64 ", last %" PRIu64 "%s)",
            n->id, n->inc, n->sm.index, raft_commit_index(n->r),
            raft_last_index(n->r), n->wiped ? ", joining" : "");
    sim_schedule(
        s, s->now_ns + sim_rng_range(&s->rng_param, 1, sim_tick_interval(s, n)),
        SIM_EV_TICK, n->idx, n->inc, 0, NULL);
    sim_node_drive(s, n);
    return 0;
}

static void drop_volatile(struct sim_node *n)
{
    if (n->r)
        raft_destroy(n->r);
    n->r = NULL;
    for (size_t i = 0; i < n->n_pend; i++) {
        raft_ready_free(&n->pend[i]->rd);
        free(n->pend[i]->snap_data);
        free(n->pend[i]);
    }
    n->n_pend = 0;
    free(n->asm_buf);
    n->asm_buf = NULL;
    n->asm_len = n->asm_cap = 0;
    n->asm_index = 0;
}

void sim_node_crash(struct sim *s, struct sim_node *n, uint32_t new_state)
{
    if (n->state == SIM_NODE_UP) {
        sim_log(s, "n%" PRIu64 " %s (%zu persists in flight lost)", n->id,
                new_state == SIM_NODE_DOWN ? "CRASHES" : "stops", n->n_pend);
        sim_workload_on_down(s, n);
    }
    drop_volatile(n);
    n->state = new_state;
    n->inc++;
    memset(&n->soft, 0, sizeof n->soft);
}

void sim_node_wipe(struct sim *s, struct sim_node *n)
{
    sim_node_crash(s, n, SIM_NODE_DOWN);
    raft_memstore_destroy(n->ms);
    n->ms = raft_memstore_create();
    if (!n->ms) {
        s->oom = true;
        s->violated = true;
    }
    n->wiped = true;
    n->was_member = false;
    memset(&n->sm, 0, sizeof n->sm);
    sim_log(s, "n%" PRIu64 " storage wiped", n->id);
}

void sim_node_destroy(struct sim *s, struct sim_node *n)
{
    drop_volatile(n);
    free(n->pend);
    n->pend = NULL;
    n->cap_pend = 0;
    if (n->ms)
        raft_memstore_destroy(n->ms);
    n->ms = NULL;
}

/* ---- log lookups for the checks ---------------------------------------------
 */

int sim_node_entry(struct sim *s, struct sim_node *n, raft_index i,
                   raft_term *term, uint64_t *hash)
{
    for (size_t k = n->n_pend; k-- > 0;) {
        const struct raft_ready *rd = &n->pend[k]->rd;
        if (rd->n_entries && i >= rd->entries[0].index) {
            raft_index off = i - rd->entries[0].index;
            if (off >= rd->n_entries)
                return SIM_ENTRY_ABSENT;
            *term = rd->entries[off].term;
            *hash = sim_hash(rd->entries[off].data, rd->entries[off].len);
            return SIM_ENTRY_DATA;
        }
        if (rd->has_snapshot) {
            if (i == rd->snapshot.index) {
                *term = rd->snapshot.term;
                return SIM_ENTRY_TERM;
            }
            return SIM_ENTRY_UNKNOWN;
        }
    }
    struct raft_storage st = raft_memstore_storage(n->ms);
    raft_term t;
    int rc = st.term(st.data, i, &t);
    if (rc == RAFT_EUNAVAILABLE)
        return SIM_ENTRY_ABSENT;
    if (rc != 0)
        return SIM_ENTRY_UNKNOWN;
    *term = t;
    struct raft_entry e;
    size_t cnt = 0;
    if (i >= st.first_index(st.data) &&
        st.entries(st.data, i, i + 1, UINT64_MAX, &e, &cnt) == 0 && cnt == 1) {
        *hash = sim_hash(e.data, e.len);
        return SIM_ENTRY_DATA;
    }
    (void)s;
    return SIM_ENTRY_TERM;
}

void sim_node_log_range(struct sim *s, struct sim_node *n, raft_index *lo,
                        raft_index *hi)
{
    struct raft_storage st = raft_memstore_storage(n->ms);
    raft_index first = st.first_index(st.data);
    *lo = first > 0 ? first - 1 : 0;
    *hi = st.last_index(st.data);
    for (size_t k = 0; k < n->n_pend; k++) {
        const struct raft_ready *rd = &n->pend[k]->rd;
        if (rd->has_snapshot) {
            *lo = rd->snapshot.index;
            if (*hi < rd->snapshot.index)
                *hi = rd->snapshot.index;
        }
        if (rd->n_entries)
            *hi = rd->entries[rd->n_entries - 1].index;
    }
    (void)s;
}
