/*
 * net.c - the test network of Raft cores used by the raft/ unit tests.
 *
 * Happy path: net_create() bootstraps N cores on memstores; tests drive
 * them with proposals, ticks and rounds of message delivery; every ready
 * batch is carried out in the order raft.h prescribes, durable at once
 * unless the test holds a node's persistence.
 *
 * Failure modes: allocation failure aborts the program (a test fixture has
 * nowhere better to go); anything the core hands out that breaks raft.h's
 * contract is written into net->err (first problem only) for the test to
 * report through net_ok().
 */
#include "net.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small utilities                                                     */
/* ------------------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "net: out of memory\n");
        abort();
    }
    return q;
}

static void *xmemdup(const void *p, size_t n)
{
    if (n == 0) {
        return NULL;
    }
    void *q = xrealloc(NULL, n);
    memcpy(q, p, n);
    return q;
}

/* Grows an array so that it holds at least `need` elements of `size`. */
static void grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return;
    }
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need) {
        c *= 2;
    }
    *arr = xrealloc(*arr, c * size);
    *cap = c;
}

static void net_fail(struct net *net, const char *fmt, ...)
{
    if (net->err[0] != '\0') {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(net->err, sizeof(net->err), fmt, ap);
    va_end(ap);
}

bool net_ok(const struct net *net)
{
    return net->err[0] == '\0';
}

static void entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
    *dst = *src;
    dst->data = xmemdup(src->data, src->len);
}

/* Deep copy of a message: entries, their data and the snapshot chunk. */
static void msg_clone(struct raft_message *dst, const struct raft_message *src)
{
    *dst = *src;
    dst->entries = NULL;
    if (src->n_entries > 0) {
        dst->entries = xrealloc(NULL, src->n_entries * sizeof(*dst->entries));
        for (size_t i = 0; i < src->n_entries; i++) {
            entry_copy(&dst->entries[i], &src->entries[i]);
        }
    }
    dst->snap_data = xmemdup(src->snap_data, src->snap_len);
}

static void msg_release(struct raft_message *m)
{
    for (size_t i = 0; i < m->n_entries; i++) {
        free(m->entries[i].data);
    }
    free(m->entries);
    free(m->snap_data);
    m->entries = NULL;
    m->snap_data = NULL;
    m->n_entries = 0;
}

static bool id_ok(raft_id id)
{
    return id >= 1 && id <= NET_MAX_NODES;
}

struct net_node *net_node(struct net *net, raft_id id)
{
    if (!id_ok(id) || !net->nodes[id].present) {
        return NULL;
    }
    return &net->nodes[id];
}

struct raft *net_raft(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    return nd && nd->up ? nd->r : NULL;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */
/* ------------------------------------------------------------------ */

void net_default_opts(struct net_opts *o, size_t n_voters)
{
    memset(o, 0, sizeof(*o));
    o->n_voters = n_voters;
    o->election_tick = 10;
    o->heartbeat_tick = 2;
    o->pre_vote = true;
    o->check_quorum = true;
    o->max_inflight = 64;
    o->max_msg_bytes = 1024 * 1024;
    o->seed = 1;
}

static void node_start(struct net *net, raft_id id, bool bootstrap)
{
    struct net_node *nd = &net->nodes[id];
    struct raft_config *c = &nd->cfg;
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->storage = raft_memstore_storage(nd->ms);
    c->election_tick = net->opts.election_tick;
    c->heartbeat_tick = net->opts.heartbeat_tick;
    c->pre_vote = net->opts.pre_vote;
    c->check_quorum = net->opts.check_quorum;
    c->max_inflight = net->opts.max_inflight;
    c->max_msg_bytes = net->opts.max_msg_bytes;
    c->seed = net->opts.seed * 1000 + id;
    c->disable_leader_stickiness = net->opts.disable_leader_stickiness;
    c->bootstrap = bootstrap ? &net->boot : NULL;
    int rv = raft_create(c, &nd->r);
    if (rv != 0) {
        fprintf(stderr, "net: raft_create(%llu): %d\n", (unsigned long long)id,
                rv);
        abort();
    }
    nd->up = true;
}

static void node_slot_init(struct net *net, raft_id id)
{
    struct net_node *nd = &net->nodes[id];
    memset(nd, 0, sizeof(*nd));
    nd->id = id;
    nd->present = true;
    nd->ms = raft_memstore_create();
    if (nd->ms == NULL) {
        abort();
    }
}

struct net *net_create(const struct net_opts *o)
{
    if (o->n_voters + o->n_learners > NET_MAX_NODES) {
        abort();
    }
    struct net *net = xrealloc(NULL, sizeof(*net));
    memset(net, 0, sizeof(*net));
    net->opts = *o;
    net->now_ns = 1000000000ull;
    size_t total = o->n_voters + o->n_learners;
    for (size_t i = 0; i < total; i++) {
        net->boot.members[i].id = i + 1;
        net->boot.members[i].learner = i >= o->n_voters;
    }
    net->boot.n = (uint32_t)total;
    for (raft_id id = 1; id <= total; id++) {
        node_slot_init(net, id);
        node_start(net, id, true);
    }
    return net;
}

struct net *net_start(const struct net_opts *o, raft_id leader)
{
    struct net *net = net_create(o);
    raft_id got = net_elect(net, leader);
    ck_assert_msg(got == leader, "net_start: node %llu did not win (leader %llu)",
                  (unsigned long long)leader, (unsigned long long)got);
    ck_assert_int_eq(raft_role_of(net_raft(net, leader)), RAFT_LEADER);
    net_tick_all(net, o->heartbeat_tick);
    ck_assert_msg(net_ok(net), "fixture: %s", net->err);
    return net;
}

void net_add_node(struct net *net, raft_id id)
{
    if (!id_ok(id) || net->nodes[id].present) {
        abort();
    }
    node_slot_init(net, id);
    node_start(net, id, false);
}

static void drop_pending(struct net_node *nd)
{
    for (size_t i = 0; i < nd->n_pending; i++) {
        raft_ready_free(&nd->pending[i].rd);
    }
    nd->n_pending = 0;
}

void net_destroy(struct net *net)
{
    for (raft_id id = 1; id <= NET_MAX_NODES; id++) {
        struct net_node *nd = &net->nodes[id];
        if (!nd->present) {
            continue;
        }
        drop_pending(nd);
        free(nd->pending);
        if (nd->up) {
            raft_destroy(nd->r);
        }
        raft_memstore_destroy(nd->ms);
        for (size_t i = 0; i < nd->n_applied; i++) {
            free(nd->applied[i].data);
        }
        free(nd->applied);
        free(nd->reads);
        free(nd->snap_buf);
    }
    for (size_t i = net->q_head; i < net->q_len; i++) {
        msg_release(&net->q[i]);
    }
    free(net->q);
    free(net->log);
    free(net);
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static bool should_drop(struct net *net, const struct raft_message *m)
{
    if (!id_ok(m->from) || !id_ok(m->to)) {
        return true;
    }
    if (net->cut[m->from][m->to]) {
        return true;
    }
    if (m->type <= RAFT_MSG_READ_INDEX_RESP && net->drop_type[m->type]) {
        return true;
    }
    if (net->filter != NULL && net->filter(net->filter_data, m)) {
        return true;
    }
    return false;
}

static void send_one(struct net *net, raft_id from,
                     const struct raft_message *m, bool after_persist)
{
    if (m->from != from) {
        net_fail(net, "node %llu sent a message with from=%llu",
                 (unsigned long long)from, (unsigned long long)m->from);
    }
    grow((void **)&net->log, &net->cap_log, net->n_log + 1,
         sizeof(*net->log));
    struct net_rec *rec = &net->log[net->n_log++];
    rec->m = *m;
    rec->m.entries = NULL;
    rec->m.snap_data = NULL;
    rec->entry_bytes = 0;
    for (size_t i = 0; i < m->n_entries; i++) {
        rec->entry_bytes += m->entries[i].len;
    }
    rec->after_persist = after_persist;
    rec->dropped = should_drop(net, m);
    if (rec->dropped) {
        return;
    }
    grow((void **)&net->q, &net->q_cap, net->q_len + 1, sizeof(*net->q));
    msg_clone(&net->q[net->q_len++], m);
}

/* ------------------------------------------------------------------ */
/* Carrying out ready batches                                          */
/* ------------------------------------------------------------------ */

static void take_chunk(struct net *net, struct net_node *nd,
                       const struct raft_snapshot_chunk *c)
{
    if (c->offset == 0) {
        nd->snap_len = 0;
    }
    if (c->offset != nd->snap_len) {
        net_fail(net, "node %llu: snapshot chunk at offset %llu, have %zu",
                 (unsigned long long)nd->id, (unsigned long long)c->offset,
                 nd->snap_len);
        return;
    }
    grow((void **)&nd->snap_buf, &nd->snap_cap, nd->snap_len + c->len, 1);
    if (c->len > 0) {
        memcpy(nd->snap_buf + nd->snap_len, c->data, c->len);
    }
    nd->snap_len += c->len;
    nd->n_chunks++;
}

static void take_committed(struct net *net, struct net_node *nd,
                           const struct raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        if (e->index != nd->applied_index + 1) {
            net_fail(net, "node %llu: committed index %llu after %llu",
                     (unsigned long long)nd->id, (unsigned long long)e->index,
                     (unsigned long long)nd->applied_index);
        }
        grow((void **)&nd->applied, &nd->cap_applied, nd->n_applied + 1,
             sizeof(*nd->applied));
        entry_copy(&nd->applied[nd->n_applied++], e);
        nd->applied_index = e->index;
    }
}

static void take_soft(struct net_node *nd, const struct raft_ready *rd)
{
    if (!rd->soft_changed) {
        return;
    }
    if (rd->soft.role == RAFT_LEADER && nd->soft.role != RAFT_LEADER) {
        nd->n_became_leader++;
    }
    if ((rd->soft.role == RAFT_CANDIDATE &&
         nd->soft.role != RAFT_CANDIDATE) ||
        (rd->soft.role == RAFT_PRE_CANDIDATE &&
         nd->soft.role != RAFT_PRE_CANDIDATE)) {
        nd->n_became_candidate++;
    }
    nd->soft = rd->soft;
    nd->n_soft_changes++;
}

/* The part of a batch that happens once its persistence is durable. */
static void make_durable(struct net *net, struct net_node *nd,
                         struct raft_ready *rd)
{
    bool persisted = rd->has_hard_state || rd->n_entries > 0 ||
                     rd->has_snapshot || rd->has_chunk;
    if (rd->has_snapshot) {
        if (nd->snap_len != rd->snapshot.size) {
            net_fail(net, "node %llu: snapshot of %llu bytes, chunks gave %zu",
                     (unsigned long long)nd->id,
                     (unsigned long long)rd->snapshot.size, nd->snap_len);
        } else {
            int rv = raft_memstore_set_snapshot(nd->ms, &rd->snapshot,
                                                nd->snap_buf);
            if (rv != 0) {
                net_fail(net, "node %llu: memstore_set_snapshot: %d",
                         (unsigned long long)nd->id, rv);
            }
        }
    }
    if (rd->has_hard_state) {
        raft_memstore_set_hard_state(nd->ms, &rd->hs);
    }
    if (rd->n_entries > 0) {
        int rv = raft_memstore_append(nd->ms, rd->entries, rd->n_entries);
        if (rv != 0) {
            net_fail(net, "node %llu: memstore_append at %llu: %d",
                     (unsigned long long)nd->id,
                     (unsigned long long)rd->entries[0].index, rv);
        }
    }
    for (size_t i = 0; i < rd->n_msgs_after_persist; i++) {
        send_one(net, nd->id, &rd->msgs_after_persist[i], true);
    }
    if (persisted) {
        raft_persisted(nd->r, rd->persist_index, rd->persist_term,
                       net->now_ns);
    }
    raft_ready_free(rd);
}

static void handle_batch(struct net *net, struct net_node *nd,
                         struct raft_ready *rd)
{
    take_soft(nd, rd);
    for (size_t i = 0; i < rd->n_msgs; i++) {
        send_one(net, nd->id, &rd->msgs[i], false);
    }
    if (rd->has_chunk) {
        take_chunk(net, nd, &rd->chunk);
    }
    if (rd->has_snapshot) {
        nd->n_snapshots_installed++;
        nd->installed = rd->snapshot;
        if (rd->snapshot.index > nd->applied_index) {
            nd->applied_index = rd->snapshot.index;
        }
    }
    take_committed(net, nd, rd);
    for (size_t i = 0; i < rd->n_reads; i++) {
        grow((void **)&nd->reads, &nd->cap_reads, nd->n_reads + 1,
             sizeof(*nd->reads));
        nd->reads[nd->n_reads++] = rd->reads[i];
    }
    if (rd->conf_changed) {
        nd->have_conf = true;
        nd->conf = rd->conf;
    }
    raft_advance(nd->r, rd);
    if (nd->hold) {
        grow((void **)&nd->pending, &nd->cap_pending, nd->n_pending + 1,
             sizeof(*nd->pending));
        nd->pending[nd->n_pending++].rd = *rd;
        memset(rd, 0, sizeof(*rd));
        return;
    }
    make_durable(net, nd, rd);
}

void net_process_node(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || !nd->up) {
        return;
    }
    for (int guard = 0; raft_has_ready(nd->r); guard++) {
        if (guard >= 1000) {
            net_fail(net, "node %llu: ready batches never end",
                     (unsigned long long)id);
            return;
        }
        struct raft_ready rd;
        memset(&rd, 0, sizeof(rd));
        int rv = raft_ready(nd->r, &rd);
        if (rv != 0) {
            net_fail(net, "node %llu: raft_ready: %d", (unsigned long long)id,
                     rv);
            return;
        }
        handle_batch(net, nd, &rd);
    }
}

void net_process(struct net *net)
{
    for (raft_id id = 1; id <= NET_MAX_NODES; id++) {
        net_process_node(net, id);
    }
}

void net_hold_persist(struct net *net, raft_id id, bool hold)
{
    struct net_node *nd = net_node(net, id);
    if (nd != NULL) {
        nd->hold = hold;
    }
}

void net_release_persist(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || !nd->up) {
        return;
    }
    for (size_t i = 0; i < nd->n_pending; i++) {
        make_durable(net, nd, &nd->pending[i].rd);
    }
    nd->n_pending = 0;
}

bool net_release_one(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || !nd->up || nd->n_pending == 0) {
        return false;
    }
    struct raft_ready rd = nd->pending[0].rd;
    nd->n_pending--;
    memmove(nd->pending, nd->pending + 1, nd->n_pending * sizeof(*nd->pending));
    make_durable(net, nd, &rd);
    return true;
}

/* ------------------------------------------------------------------ */
/* Delivery and time                                                   */
/* ------------------------------------------------------------------ */

size_t net_deliver(struct net *net)
{
    size_t end = net->q_len;
    size_t n = 0;
    while (net->q_head < end) {
        struct raft_message m = net->q[net->q_head++];
        struct net_node *nd = net_node(net, m.to);
        if (nd != NULL && nd->up) {
            int rv = raft_step(nd->r, &m, net->now_ns);
            if (rv != 0) {
                nd->step_errors++;
            }
            n++;
        }
        msg_release(&m);
    }
    if (net->q_head == net->q_len) {
        net->q_head = 0;
        net->q_len = 0;
    }
    return n;
}

static bool any_ready(const struct net *net)
{
    for (raft_id id = 1; id <= NET_MAX_NODES; id++) {
        const struct net_node *nd = &net->nodes[id];
        if (nd->present && nd->up && raft_has_ready(nd->r)) {
            return true;
        }
    }
    return false;
}

void net_round(struct net *net)
{
    net_process(net);
    net_deliver(net);
}

unsigned net_stabilize(struct net *net)
{
    unsigned rounds = 0;
    while (net->q_head < net->q_len || any_ready(net)) {
        if (rounds >= 1000) {
            net_fail(net, "network does not settle after 1000 rounds");
            break;
        }
        net_round(net);
        rounds++;
    }
    return rounds;
}

void net_tick_all(struct net *net, unsigned n)
{
    for (unsigned k = 0; k < n; k++) {
        net->now_ns += NET_TICK_NS;
        for (raft_id id = 1; id <= NET_MAX_NODES; id++) {
            struct net_node *nd = &net->nodes[id];
            if (nd->present && nd->up) {
                raft_tick(nd->r, net->now_ns);
            }
        }
        net_stabilize(net);
    }
}

void net_tick_node(struct net *net, raft_id id, unsigned n)
{
    struct raft *r = net_raft(net, id);
    if (r == NULL) {
        return;
    }
    for (unsigned k = 0; k < n; k++) {
        raft_tick(r, net->now_ns);
        net_process_node(net, id);
    }
}

raft_id net_elect(struct net *net, raft_id id)
{
    struct raft *r = net_raft(net, id);
    if (r == NULL) {
        return RAFT_NONE;
    }
    net_stabilize(net);
    raft_campaign(r, net->now_ns);
    net_stabilize(net);
    return raft_leader(r);
}

raft_id net_leader(struct net *net)
{
    raft_id best = RAFT_NONE;
    raft_term best_term = 0;
    for (raft_id id = 1; id <= NET_MAX_NODES; id++) {
        struct raft *r = net_raft(net, id);
        if (r != NULL && raft_role_of(r) == RAFT_LEADER &&
            raft_term_of(r) >= best_term) {
            best = id;
            best_term = raft_term_of(r);
        }
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* Faults                                                              */
/* ------------------------------------------------------------------ */

void net_cut_oneway(struct net *net, raft_id from, raft_id to)
{
    if (id_ok(from) && id_ok(to)) {
        net->cut[from][to] = true;
    }
}

void net_cut(struct net *net, raft_id a, raft_id b)
{
    net_cut_oneway(net, a, b);
    net_cut_oneway(net, b, a);
}

void net_isolate(struct net *net, raft_id id)
{
    for (raft_id o = 1; o <= NET_MAX_NODES; o++) {
        if (o != id) {
            net_cut(net, id, o);
        }
    }
}

void net_heal(struct net *net)
{
    memset(net->cut, 0, sizeof(net->cut));
    memset(net->drop_type, 0, sizeof(net->drop_type));
    net->filter = NULL;
    net->filter_data = NULL;
}

void net_drop_type(struct net *net, uint32_t type, bool drop)
{
    if (type <= RAFT_MSG_READ_INDEX_RESP) {
        net->drop_type[type] = drop;
    }
}

void net_set_filter(struct net *net, net_filter_cb cb, void *data)
{
    net->filter = cb;
    net->filter_data = data;
}

void net_crash(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || !nd->up) {
        return;
    }
    drop_pending(nd);
    raft_destroy(nd->r);
    nd->r = NULL;
    nd->up = false;
    nd->snap_len = 0;
}

int net_restart(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || nd->up) {
        return RAFT_EINVAL;
    }
    nd->cfg.storage = raft_memstore_storage(nd->ms);
    int rv = raft_create(&nd->cfg, &nd->r);
    if (rv != 0) {
        nd->r = NULL;
        return rv;
    }
    nd->up = true;
    /* The state machine restarts from the snapshot: whatever the core hands
     * out again follows raft_applied_index(). */
    for (size_t i = 0; i < nd->n_applied; i++) {
        free(nd->applied[i].data);
    }
    nd->n_applied = 0;
    nd->applied_index = raft_applied_index(nd->r);
    nd->soft.role = RAFT_FOLLOWER;
    nd->soft.leader = RAFT_NONE;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Queries                                                             */
/* ------------------------------------------------------------------ */

int net_propose(struct net *net, raft_id id, const char *s, raft_index *index)
{
    struct raft *r = net_raft(net, id);
    if (r == NULL) {
        return RAFT_EINVAL;
    }
    return raft_propose(r, s, strlen(s), net->now_ns, index, NULL);
}

bool net_applied_has(const struct net *net, raft_id id, const char *s)
{
    if (!id_ok(id)) {
        return false;
    }
    const struct net_node *nd = &net->nodes[id];
    size_t len = strlen(s);
    for (size_t i = 0; i < nd->n_applied; i++) {
        const struct raft_entry *e = &nd->applied[i];
        if (e->type == RAFT_ENTRY_NORMAL && e->len == len &&
            (len == 0 || memcmp(e->data, s, len) == 0)) {
            return true;
        }
    }
    return false;
}

const struct raft_entry *net_applied_at(const struct net *net, raft_id id,
                                        raft_index index)
{
    if (!id_ok(id)) {
        return NULL;
    }
    const struct net_node *nd = &net->nodes[id];
    for (size_t i = nd->n_applied; i-- > 0;) {
        if (nd->applied[i].index == index) {
            return &nd->applied[i];
        }
    }
    return NULL;
}

static bool same_entry(const struct raft_entry *a, const struct raft_entry *b)
{
    return a->term == b->term && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

bool net_check_applied(struct net *net)
{
    for (raft_id a = 1; a <= NET_MAX_NODES; a++) {
        const struct net_node *na = &net->nodes[a];
        if (!na->present) {
            continue;
        }
        for (size_t i = 0; i < na->n_applied; i++) {
            const struct raft_entry *ea = &na->applied[i];
            for (raft_id b = a + 1; b <= NET_MAX_NODES; b++) {
                if (!net->nodes[b].present) {
                    continue;
                }
                const struct raft_entry *eb = net_applied_at(net, b, ea->index);
                if (eb != NULL && !same_entry(ea, eb)) {
                    net_fail(net, "nodes %llu and %llu applied different "
                             "entries at index %llu",
                             (unsigned long long)a, (unsigned long long)b,
                             (unsigned long long)ea->index);
                    return false;
                }
            }
        }
    }
    return true;
}

size_t net_count(const struct net *net, uint32_t type, raft_id from,
                 raft_id to)
{
    size_t n = 0;
    for (size_t i = 0; i < net->n_log; i++) {
        const struct raft_message *m = &net->log[i].m;
        if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
            (to == 0 || m->to == to)) {
            n++;
        }
    }
    return n;
}

void net_log_clear(struct net *net)
{
    net->n_log = 0;
}

raft_term net_store_term(struct net *net, raft_id id, raft_index i)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL) {
        return 0;
    }
    struct raft_storage st = raft_memstore_storage(nd->ms);
    raft_term t = 0;
    if (st.term(st.data, i, &t) != 0) {
        return 0;
    }
    return t;
}

raft_index net_store_last(struct net *net, raft_id id)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL) {
        return 0;
    }
    struct raft_storage st = raft_memstore_storage(nd->ms);
    return st.last_index(st.data);
}

int net_compact(struct net *net, raft_id id, raft_index index,
                const void *data, size_t len)
{
    struct net_node *nd = net_node(net, id);
    if (nd == NULL || !nd->up || index > nd->applied_index) {
        return RAFT_EINVAL;
    }
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = index;
    meta.term = net_store_term(net, id, index);
    meta.conf = *raft_conf_of(nd->r);
    meta.size = len;
    return raft_memstore_set_snapshot(nd->ms, &meta, data);
}
