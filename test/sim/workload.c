/*
 * workload.c - simulated clients and the history they record.
 *
 * Each client runs one operation at a time on a handful of keys:
 *   write  picks a node (its last known leader, else a random one),
 *          proposes "key = unique value" there and succeeds when that node
 *          applies an entry with the (index, term) raft_propose returned;
 *   read   asks a node for a linearizable read (sim_node_read_start()):
 *          ReadIndex (raft_read_index, then wait for applied >= index, then
 *          read the KV map); with the lease policy a leader holding a valid
 *          lease takes its commit index as the read index and serves only
 *          if it is still leader in the same term once applied has caught
 *          up; with the unsafe policy a leader answers from its KV map at
 *          once.  Some reads go to a follower on purpose (follower_read_ppm);
 *          while the lease attack waits for a follower to catch up, clients
 *          only read.
 * Every operation records call and return times (virtual ns) as a
 * struct lin_op; at the end of the seed the history goes to lin_check().
 *
 * Failure modes: a write whose node steps down, crashes or times out
 * (op_timeout_ns) has an unknown outcome (ret = LIN_PENDING); a write whose
 * index is taken by an entry of another term certainly failed and is left
 * out, as is a rejected proposal; a read that fails or times out is left out
 * (reads have no effect).
 */
#include "test/sim/sim_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define OP_MAGIC 0x3157564bU /* "KVW1" */

enum outcome { OUT_OK, OUT_UNKNOWN, OUT_DROP };

void sim_op_encode(uint8_t *buf, uint32_t client, uint64_t key, uint64_t value)
{
    uint32_t magic = OP_MAGIC;
    uint64_t check = (key * 0x9e3779b97f4a7c15ULL) ^ value ^ magic;
    memcpy(buf, &magic, 4);
    memcpy(buf + 4, &client, 4);
    memcpy(buf + 8, &key, 8);
    memcpy(buf + 16, &value, 8);
    memcpy(buf + 24, &check, 8);
}

int sim_op_decode(const uint8_t *buf, size_t len, uint64_t *key,
                  uint64_t *value)
{
    uint32_t magic;
    uint64_t check;
    if (!buf || len != SIM_OP_BYTES)
        return -1;
    memcpy(&magic, buf, 4);
    memcpy(key, buf + 8, 8);
    memcpy(value, buf + 16, 8);
    memcpy(&check, buf + 24, 8);
    if (magic != OP_MAGIC || *key >= SIM_KEYS ||
        check != ((*key * 0x9e3779b97f4a7c15ULL) ^ *value ^ magic))
        return -1;
    return 0;
}

static size_t hist_add(struct sim *s, struct sim_client *c, uint32_t kind,
                       uint64_t key, uint64_t value)
{
    if (s->n_hist == s->cap_hist) {
        size_t cap = s->cap_hist ? s->cap_hist * 2 : 256;
        struct sim_hist_op *h = sim_xrealloc(s, s->hist, cap, sizeof *h);
        if (!h)
            return SIZE_MAX;
        s->hist = h;
        s->cap_hist = cap;
    }
    struct sim_hist_op *o = &s->hist[s->n_hist];
    memset(o, 0, sizeof *o);
    o->op.client = c->id;
    o->op.kind = kind;
    o->op.key = key;
    o->op.value = value;
    o->op.call = s->now_ns;
    o->op.ret = LIN_PENDING;
    return s->n_hist++;
}

static void schedule_next(struct sim *s, struct sim_client *c)
{
    if (!s->workload_on)
        return;
    sim_schedule(s,
                 s->now_ns + sim_rng_range(&s->rng_work, s->p.think_min_ns,
                                           s->p.think_max_ns),
                 SIM_EV_CLIENT, 0, 0, c->id, NULL);
}

static void finish(struct sim *s, struct sim_client *c, enum outcome out,
                   uint64_t read_value)
{
    struct sim_hist_op *o = &s->hist[c->hist_i];
    bool write = o->op.kind == LIN_WRITE;
    switch (out) {
    case OUT_OK:
        o->op.ret = s->now_ns > o->op.call ? s->now_ns : o->op.call + 1;
        if (!write)
            o->op.value = read_value;
        if (write)
            s->res->writes_ok++;
        else
            s->res->reads_ok++;
        break;
    case OUT_UNKNOWN:
        if (write) {
            s->res->writes_unknown++;
            break;
        }
        /* A read with an unknown outcome is left out. */
        /* fall through */
    case OUT_DROP:
        o->dropped = true;
        if (!write)
            s->res->reads_failed++;
        break;
    }
    sim_log(s, "client %u %s key %" PRIu64 " = %" PRIu64 " on n%u: %s", c->id,
            write ? "write" : "read", o->op.key, o->op.value, c->node + 1,
            out == OUT_OK        ? "ok"
            : out == OUT_UNKNOWN ? "unknown"
                                 : "failed");
    c->state = SIM_CL_IDLE;
    schedule_next(s, c);
}

static void learn_leader(struct sim *s, struct sim_client *c,
                         struct sim_node *n)
{
    raft_id l = n->r ? raft_leader(n->r) : RAFT_NONE;
    c->known_leader = (l >= 1 && l <= s->n_nodes) ? (int)(l - 1) : -1;
}

static void start_write(struct sim *s, struct sim_client *c, struct sim_node *n,
                        uint64_t key)
{
    uint8_t buf[SIM_OP_BYTES];
    uint64_t value = s->next_value++;
    sim_op_encode(buf, c->id, key, value);
    size_t hi = hist_add(s, c, LIN_WRITE, key, value);
    if (hi == SIZE_MAX)
        return;
    raft_index index;
    raft_term term;
    int rc =
        raft_propose(n->r, buf, sizeof buf, sim_node_now(s, n), &index, &term);
    if (rc != 0) {
        s->hist[hi].dropped = true;
        sim_log(s,
                "client %u write key %" PRIu64 " on n%" PRIu64 " rejected: %s",
                c->id, key, n->id, raft_err_name(rc));
        learn_leader(s, c, n);
        schedule_next(s, c);
        return;
    }
    c->state = SIM_CL_WRITE;
    c->hist_i = hi;
    c->index = index;
    c->term = term;
    sim_log(s,
            "client %u write key %" PRIu64 " = %" PRIu64
            " proposed on n%" PRIu64 " at index %" PRIu64 " term %" PRIu64,
            c->id, key, value, n->id, index, term);
    sim_schedule(s, s->now_ns + s->p.op_timeout_ns, SIM_EV_TIMEOUT, c->id, 0,
                 c->op_seq, NULL);
    sim_node_drive(s, n);
}

static void start_read(struct sim *s, struct sim_client *c, struct sim_node *n,
                       uint64_t key)
{
    size_t hi = hist_add(s, c, LIN_READ, key, 0);
    if (hi == SIZE_MAX)
        return;
    c->hist_i = hi;
    uint64_t ctx = s->next_ctx++;
    raft_index index = 0;
    raft_term read_term = 0;
    if (n->r && raft_role_of(n->r) != RAFT_LEADER)
        s->res->reads_follower++;
    int rc = sim_node_read_start(s, n, ctx, &index, &read_term);
    if (s->violated)
        return;
    c->read_term = read_term;
    if (rc == SIM_READ_SERVE_NOW) {
        c->state = SIM_CL_READ_WAIT_APPLY;
        finish(s, c, OUT_OK, n->sm.kv[key]);
        return;
    }
    if (rc < 0) {
        s->hist[hi].dropped = true;
        s->res->reads_failed++;
        sim_log(s,
                "client %u read key %" PRIu64 " on n%" PRIu64 " rejected: %s",
                c->id, key, n->id, raft_err_name(rc));
        learn_leader(s, c, n);
        schedule_next(s, c);
        return;
    }
    c->state = rc == SIM_READ_WAIT_APPLY ? SIM_CL_READ_WAIT_APPLY
                                         : SIM_CL_READ_WAIT_STATE;
    c->ctx = ctx;
    c->index = index;
    sim_log(s,
            "client %u read key %" PRIu64 " on n%" PRIu64 " (ctx %" PRIu64 ")",
            c->id, key, n->id, ctx);
    sim_schedule(s, s->now_ns + s->p.op_timeout_ns, SIM_EV_TIMEOUT, c->id, 0,
                 c->op_seq, NULL);
    sim_node_drive(s, n);
    sim_workload_on_progress(s, n); /* SIM_READ_WAIT_APPLY may be done */
}

void sim_workload_start(struct sim *s)
{
    s->n_clients = s->p.n_clients;
    s->workload_on = true;
    s->next_ctx = 1;
    s->next_value = 1;
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        memset(c, 0, sizeof *c);
        c->id = i;
        c->known_leader = -1;
        sim_schedule(s,
                     sim_rng_range(&s->rng_work, 100 * 1000 * 1000ULL,
                                   400 * 1000 * 1000ULL),
                     SIM_EV_CLIENT, 0, 0, i, NULL);
    }
}

void sim_client_wake(struct sim *s, unsigned ci)
{
    if (ci >= s->n_clients)
        return;
    struct sim_client *c = &s->clients[ci];
    if (c->state != SIM_CL_IDLE || !s->workload_on ||
        s->ops_started >= s->p.max_ops)
        return;
    unsigned target;
    if (c->known_leader >= 0 &&
        !sim_rng_chance(&s->rng_work, s->p.random_node_ppm))
        target = (unsigned)c->known_leader;
    else
        target = (unsigned)sim_rng_range(&s->rng_work, 0, s->n_nodes - 1);
    uint64_t key = sim_rng_range(&s->rng_work, 0, SIM_KEYS - 1);
    bool write = sim_rng_chance(&s->rng_work, s->p.write_ppm);
    if (s->writes_paused)
        write = false;
    if (!write && s->n_nodes > 1 && s->p.follower_read_ppm &&
        sim_rng_chance(&s->rng_work, s->p.follower_read_ppm)) {
        /* A follower read on purpose: any node but the known leader. */
        unsigned f = (unsigned)sim_rng_range(&s->rng_work, 0, s->n_nodes - 2);
        if (c->known_leader >= 0 && f >= (unsigned)c->known_leader)
            f++;
        target = f;
    }
    struct sim_node *n = &s->nodes[target];
    if (n->state != SIM_NODE_UP || !n->r) {
        sim_log(s, "client %u: n%" PRIu64 " is down", c->id, n->id);
        c->known_leader = -1;
        schedule_next(s, c);
        return;
    }
    s->ops_started++;
    c->op_seq++;
    c->node = target;
    c->node_inc = n->inc;
    c->key = key;
    if (write)
        start_write(s, c, n, key);
    else
        start_read(s, c, n, key);
}

void sim_client_timeout(struct sim *s, unsigned ci, uint64_t op_seq)
{
    if (ci >= s->n_clients)
        return;
    struct sim_client *c = &s->clients[ci];
    if (c->state == SIM_CL_IDLE || c->op_seq != op_seq)
        return;
    sim_log(s, "client %u: operation timed out", c->id);
    c->known_leader = -1;
    finish(s, c, OUT_UNKNOWN, 0);
}

/* Clients waiting on node n in its current incarnation. */
static bool waits_on(const struct sim_client *c, const struct sim_node *n)
{
    return c->state != SIM_CL_IDLE && c->node == n->idx &&
           c->node_inc == n->inc;
}

void sim_workload_on_apply(struct sim *s, struct sim_node *n,
                           const struct raft_entry *e)
{
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (!waits_on(c, n) || c->state != SIM_CL_WRITE || c->index != e->index)
            continue;
        if (e->term == c->term) {
            c->known_leader = (int)n->idx;
            finish(s, c, OUT_OK, 0);
        } else {
            /* Another entry took the index: ours can never commit. */
            finish(s, c, OUT_DROP, 0);
        }
    }
}

void sim_workload_on_snapshot(struct sim *s, struct sim_node *n)
{
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (waits_on(c, n) && c->state == SIM_CL_WRITE &&
            c->index <= n->sm.index)
            finish(s, c, OUT_UNKNOWN, 0);
    }
}

void sim_workload_on_read_state(struct sim *s, struct sim_node *n,
                                const struct raft_read_state *rs)
{
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (waits_on(c, n) && c->state == SIM_CL_READ_WAIT_STATE &&
            c->ctx == rs->ctx) {
            c->state = SIM_CL_READ_WAIT_APPLY;
            c->index = rs->index;
            sim_log(s, "client %u: read index %" PRIu64 " from n%" PRIu64,
                    c->id, rs->index, n->id);
        }
    }
}

void sim_workload_on_progress(struct sim *s, struct sim_node *n)
{
    bool renew = false;
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (!waits_on(c, n) || c->state != SIM_CL_READ_WAIT_APPLY ||
            n->sm.index < c->index)
            continue;
        if (c->read_term != 0 && (!n->r || raft_role_of(n->r) != RAFT_LEADER ||
                                  raft_term_of(n->r) != c->read_term)) {
            /* The index came from a lease this node no longer holds
             * (etcd issue 20418): the server answers "retry". */
            s->res->lease_recheck_failed++;
            finish(s, c, OUT_DROP, 0);
            continue;
        }
        renew = renew || c->read_term != 0;
        finish(s, c, OUT_OK, n->sm.kv[c->key]);
    }
    if (renew && !s->violated)
        sim_node_lease_served(s, n);
}

void sim_workload_on_soft(struct sim *s, struct sim_node *n,
                          const struct raft_soft_state *old_soft,
                          const struct raft_soft_state *new_soft)
{
    (void)old_soft;
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (!waits_on(c, n))
            continue;
        if (c->state == SIM_CL_WRITE &&
            (new_soft->role != RAFT_LEADER || new_soft->term != c->term))
            finish(s, c, OUT_UNKNOWN, 0);
        else if (c->state == SIM_CL_READ_WAIT_STATE)
            finish(s, c, OUT_DROP, 0);
    }
}

void sim_workload_on_down(struct sim *s, struct sim_node *n)
{
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (waits_on(c, n))
            finish(s, c, c->state == SIM_CL_WRITE ? OUT_UNKNOWN : OUT_DROP, 0);
    }
}

void sim_workload_finish(struct sim *s)
{
    s->workload_on = false;
    for (unsigned i = 0; i < s->n_clients; i++) {
        struct sim_client *c = &s->clients[i];
        if (c->state != SIM_CL_IDLE)
            finish(s, c, c->state == SIM_CL_WRITE ? OUT_UNKNOWN : OUT_DROP, 0);
    }
    struct lin_op *ops = sim_xcalloc(s, s->n_hist ? s->n_hist : 1, sizeof *ops);
    if (!ops)
        return;
    size_t n = 0;
    for (size_t i = 0; i < s->n_hist; i++)
        if (!s->hist[i].dropped)
            ops[n++] = s->hist[i].op;
    struct lin_result lr;
    memset(&lr, 0, sizeof lr);
    int rc = lin_check(ops, n, s->opt->lin_budget, &lr);
    free(ops);
    sim_log(s, "history: %zu operations checked: %s", n,
            rc != 0           ? "checker failed"
            : lr.linearizable ? "linearizable"
            : lr.exhausted    ? "search budget exhausted"
                              : "NOT linearizable");
    if (rc != 0) {
        s->oom = true;
        s->violated = true;
    } else if (lr.exhausted) {
        s->res->lin_exhausted = true;
    } else if (!lr.linearizable) {
        sim_violation(s, "linearizability: %s", lr.msg);
    }
}
