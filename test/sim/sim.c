/*
 * sim.c - the simulator's world: PRNG, event queue, virtual clock, network
 * and the run loop of one seed.
 *
 * Happy path: sim_run_seed() derives every parameter of the seed from its
 * own PRNG streams, starts the nodes, the clients and the nemesis, then pops
 * events in (virtual time, sequence number) order and hands each to the node,
 * client or nemesis it belongs to; after every event it runs the safety
 * checks.  At the end it checks the logs and the clients' history.
 *
 * Failure modes: the first violation stops the seed and is reported with the
 * step number and the command line that replays it; running out of memory
 * stops the seed with -ENOMEM.  Nothing here reads a clock or calls rand().
 */
#include "test/sim/sim_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG -------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *g, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed * 0x2545f4914f6cdd1dULL + stream * 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = hi - lo + 1;
    if (span == 0) /* the full 64-bit range */
        return sim_rng_next(g);
    return lo + sim_rng_next(g) % span;
}

bool sim_rng_chance(struct sim_rng *g, uint32_t ppm)
{
    return sim_rng_next(g) % 1000000 < ppm;
}

uint64_t sim_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- memory ------------------------------------------------------------- */

void *sim_xcalloc(struct sim *s, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        s->oom = true;
        s->violated = true;
    }
    return p;
}

void *sim_xrealloc(struct sim *s, void *p, size_t n, size_t size)
{
    void *q = realloc(p, (n ? n : 1) * size);
    if (!q) {
        s->oom = true;
        s->violated = true;
    }
    return q;
}

/* ---- logging --------------------------------------------------------------
 */

void sim_log(struct sim *s, const char *fmt, ...)
{
    if (!s->opt->verbose || !s->opt->out)
        return;
    va_list ap;
    fprintf(s->opt->out, "[%6" PRIu64 ".%06" PRIu64 " ms #%" PRIu64 "] ",
            s->now_ns / 1000000, s->now_ns % 1000000, s->step);
    va_start(ap, fmt);
    vfprintf(s->opt->out, fmt, ap);
    va_end(ap);
    fputc('\n', s->opt->out);
}

const char *sim_msg_name(uint32_t type)
{
    switch (type) {
    case RAFT_MSG_APPEND:
        return "APPEND";
    case RAFT_MSG_APPEND_RESP:
        return "APPEND_RESP";
    case RAFT_MSG_VOTE:
        return "VOTE";
    case RAFT_MSG_VOTE_RESP:
        return "VOTE_RESP";
    case RAFT_MSG_PRE_VOTE:
        return "PRE_VOTE";
    case RAFT_MSG_PRE_VOTE_RESP:
        return "PRE_VOTE_RESP";
    case RAFT_MSG_HEARTBEAT:
        return "HEARTBEAT";
    case RAFT_MSG_HEARTBEAT_RESP:
        return "HEARTBEAT_RESP";
    case RAFT_MSG_SNAPSHOT:
        return "SNAPSHOT";
    case RAFT_MSG_SNAPSHOT_RESP:
        return "SNAPSHOT_RESP";
    case RAFT_MSG_TIMEOUT_NOW:
        return "TIMEOUT_NOW";
    case RAFT_MSG_READ_INDEX:
        return "READ_INDEX";
    case RAFT_MSG_READ_INDEX_RESP:
        return "READ_INDEX_RESP";
    default:
        return "MSG?";
    }
}

/* ---- event queue: a binary heap ordered by (at_ns, seq) ----------------- */

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
    if (a->at_ns != b->at_ns)
        return a->at_ns < b->at_ns;
    return a->seq < b->seq;
}

void sim_schedule(struct sim *s, uint64_t at_ns, uint32_t type, uint32_t node,
                  uint32_t inc, uint64_t arg, struct raft_message *msg)
{
    if (s->n_ev == s->cap_ev) {
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 256;
        struct sim_event *ev = sim_xrealloc(s, s->ev, cap, sizeof *ev);
        if (!ev) {
            if (msg) {
                raft_message_free_parts(msg);
                free(msg);
            }
            return;
        }
        s->ev = ev;
        s->cap_ev = cap;
    }
    struct sim_event e = {
        .at_ns = at_ns < s->now_ns ? s->now_ns : at_ns,
        .seq = s->seq++,
        .type = type,
        .node = node,
        .inc = inc,
        .arg = arg,
        .msg = msg,
    };
    size_t i = s->n_ev++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!ev_before(&e, &s->ev[parent]))
            break;
        s->ev[i] = s->ev[parent];
        i = parent;
    }
    s->ev[i] = e;
}

static struct sim_event ev_pop(struct sim *s)
{
    struct sim_event top = s->ev[0];
    struct sim_event last = s->ev[--s->n_ev];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= s->n_ev)
            break;
        m = l;
        if (l + 1 < s->n_ev && ev_before(&s->ev[l + 1], &s->ev[l]))
            m = l + 1;
        if (!ev_before(&s->ev[m], &last))
            break;
        s->ev[i] = s->ev[m];
        i = m;
    }
    if (s->n_ev > 0)
        s->ev[i] = last;
    return top;
}

/* ---- network ---------------------------------------------------------------
 */

static void free_message(struct raft_message *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_entries; i++)
        free(m->entries[i].data);
    free(m->entries);
    free(m->snap_data);
    free(m);
}

static struct raft_message *copy_message(struct sim *s,
                                         const struct raft_message *m)
{
    struct raft_message *c = sim_xcalloc(s, 1, sizeof *c);
    if (!c)
        return NULL;
    *c = *m;
    c->entries = NULL;
    c->snap_data = NULL;
    c->n_entries = 0;
    c->snap_len = 0;
    if (m->n_entries) {
        c->entries = sim_xcalloc(s, m->n_entries, sizeof *c->entries);
        if (!c->entries)
            goto fail;
        for (size_t i = 0; i < m->n_entries; i++) {
            c->entries[i] = m->entries[i];
            c->entries[i].data = NULL;
            c->n_entries = i + 1;
            if (m->entries[i].len) {
                c->entries[i].data = sim_xcalloc(s, 1, m->entries[i].len);
                if (!c->entries[i].data)
                    goto fail;
                memcpy(c->entries[i].data, m->entries[i].data,
                       m->entries[i].len);
            }
        }
    }
    if (m->snap_len) {
        c->snap_data = sim_xcalloc(s, 1, m->snap_len);
        if (!c->snap_data)
            goto fail;
        memcpy(c->snap_data, m->snap_data, m->snap_len);
        c->snap_len = m->snap_len;
    }
    return c;
fail:
    free_message(c);
    return NULL;
}

static void describe_message(char *buf, size_t cap,
                             const struct raft_message *m)
{
    snprintf(buf, cap,
             "%s %" PRIu64 "->%" PRIu64 " term=%" PRIu64 " log_term=%" PRIu64
             " index=%" PRIu64 " commit=%" PRIu64 "%s n=%zu seq=%" PRIu64 "%s",
             sim_msg_name(m->type), m->from, m->to, m->term, m->log_term,
             m->index, m->commit, m->reject ? " REJECT" : "", m->n_entries,
             m->seq, m->type == RAFT_MSG_SNAPSHOT ? " (snapshot chunk)" : "");
}

void sim_net_send(struct sim *s, unsigned from, const struct raft_message *m,
                  bool after_persist)
{
    char d[256];
    s->res->messages_sent++;
    if (s->opt->verbose)
        describe_message(d, sizeof d, m);
    if (m->to == RAFT_NONE || m->to > s->n_nodes || m->to == from + 1) {
        s->res->messages_dropped++;
        sim_log(s, "drop (bad destination) %s", d);
        return;
    }
    unsigned to = (unsigned)(m->to - 1);
    if (s->cut[from][to]) {
        s->res->messages_dropped++;
        sim_log(s, "drop (cut) %s", d);
        return;
    }
    if (sim_rng_chance(&s->rng_net, s->p.loss_ppm)) {
        s->res->messages_dropped++;
        sim_log(s, "drop (loss) %s", d);
        return;
    }
    unsigned copies = sim_rng_chance(&s->rng_net, s->p.dup_ppm) ? 2 : 1;
    for (unsigned k = 0; k < copies; k++) {
        uint64_t delay =
            sim_rng_range(&s->rng_net, s->p.delay_min_ns, s->p.delay_max_ns);
        if (s->p.slow_ppm && sim_rng_chance(&s->rng_net, s->p.slow_ppm))
            delay = sim_rng_range(&s->rng_net, delay, s->p.slow_max_ns);
        struct raft_message *c = copy_message(s, m);
        if (!c)
            return;
        sim_log(s, "send%s%s %s, arrives in %" PRIu64 " us",
                after_persist ? " (after persist)" : "",
                k ? " (duplicate)" : "", d, delay / 1000);
        sim_schedule(s, s->now_ns + delay, SIM_EV_DELIVER, to, 0, 0, c);
    }
}

/* ---- options --------------------------------------------------------------
 */

void sim_options_init(struct sim_options *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = 3;
    o->faults = SIM_FAULTS_ALL;
    o->read_policy = SIM_READ_INDEX;
    o->reads = SIM_READS_MIXED;
}

const char *sim_reads_name(enum sim_reads r)
{
    switch (r) {
    case SIM_READS_MIXED:
        return "mixed";
    case SIM_READS_LEASE:
        return "lease";
    case SIM_READS_READINDEX:
        return "readindex";
    }
    return "?";
}

int sim_reads_parse(const char *str, enum sim_reads *out)
{
    for (int r = SIM_READS_MIXED; r <= SIM_READS_READINDEX; r++) {
        if (strcmp(str, sim_reads_name((enum sim_reads)r)) == 0) {
            *out = (enum sim_reads)r;
            return 0;
        }
    }
    return -1;
}

const char *sim_faults_name(enum sim_faults f)
{
    switch (f) {
    case SIM_FAULTS_NONE:
        return "none";
    case SIM_FAULTS_NET:
        return "net";
    case SIM_FAULTS_CRASH:
        return "crash";
    case SIM_FAULTS_ALL:
        return "all";
    }
    return "?";
}

int sim_faults_parse(const char *str, enum sim_faults *out)
{
    for (int f = SIM_FAULTS_NONE; f <= SIM_FAULTS_ALL; f++) {
        if (strcmp(str, sim_faults_name((enum sim_faults)f)) == 0) {
            *out = (enum sim_faults)f;
            return 0;
        }
    }
    return -1;
}

int sim_replay_command(const struct sim_options *o, uint64_t seed, char *buf,
                       size_t cap)
{
    return snprintf(buf, cap,
                    "%s --first-seed %" PRIu64
                    " --seeds 1 --nodes %u --faults %s --reads %s%s%s%s%s "
                    "--verbose",
                    o->prog ? o->prog : "metastore-sim", seed, o->nodes,
                    sim_faults_name(o->faults), sim_reads_name(o->reads),
                    o->drift_beyond_bound ? " --drift-beyond-bound" : "",
                    o->no_leader_stickiness ? " --no-leader-stickiness" : "",
                    o->read_policy == SIM_READ_UNSAFE ? " --unsafe-reads" : "",
                    o->driver_bug == SIM_BUG_ACK_BEFORE_PERSIST
                        ? " --driver-bug ack-before-persist"
                        : "");
}

/* ---- parameters of one seed --------------------------------------------- */

static void choose_params(struct sim *s)
{
    struct sim_rng *g = &s->rng_param;
    struct sim_params *p = &s->p;
    p->tick_ns = 10 * 1000 * 1000;
    p->election_tick = 10;
    p->heartbeat_tick = (unsigned)sim_rng_range(g, 1, 2);
    p->max_inflight = (unsigned)sim_rng_range(g, 64, 256);
    p->max_msg_bytes = sim_rng_range(g, 1024, 4096);
    p->snapshot_every = (unsigned)sim_rng_range(g, 10, 40);
    p->snapshot_keep = (unsigned)sim_rng_range(g, 0, 10);
    p->snapshot_pad = (unsigned)sim_rng_range(g, 0, 12000);
    p->delay_min_ns = 1000 * 1000;
    p->delay_max_ns = sim_rng_range(g, 5, 20) * 1000 * 1000;
    p->fsync_min_ns = 500 * 1000;
    p->fsync_max_ns = sim_rng_range(g, 1000, 5000) * 1000;
    p->drift_ppm = 50000;
    p->work_ns = sim_rng_range(g, 3000, 5000) * 1000 * 1000ULL;
    p->end_ns = p->work_ns + 1500 * 1000 * 1000ULL;
    p->op_timeout_ns = 1000 * 1000 * 1000ULL;
    p->think_min_ns = 1000 * 1000;
    p->think_max_ns = sim_rng_range(g, 20, 60) * 1000 * 1000;
    p->fault_min_ns = 100 * 1000 * 1000ULL;
    p->fault_max_ns = 600 * 1000 * 1000ULL;
    p->n_clients = (unsigned)sim_rng_range(g, 3, 6);
    p->max_ops = (unsigned)sim_rng_range(g, 200, 400);
    p->write_ppm = (uint32_t)sim_rng_range(g, 300000, 600000);
    p->random_node_ppm = 200000;
    bool net =
        s->opt->faults == SIM_FAULTS_NET || s->opt->faults == SIM_FAULTS_ALL;
    p->loss_ppm = net ? (uint32_t)sim_rng_range(g, 0, 50000) : 0;
    p->dup_ppm = net ? (uint32_t)sim_rng_range(g, 0, 30000) : 0;
    p->slow_ppm = net ? (uint32_t)sim_rng_range(g, 0, 20000) : 0;
    p->slow_max_ns = 300 * 1000 * 1000ULL;

    /* Leases: the server's rule, with this seed's drift bound. */
    if (s->opt->drift_beyond_bound)
        p->drift_ppm = 10000; /* configured 1%; the real clocks break it */
    else
        p->drift_ppm = (uint32_t)sim_rng_range(g, 10000, 50000);
    uint64_t et_ns = p->election_tick * p->tick_ns;
    uint64_t hb_ns = p->heartbeat_tick * p->tick_ns;
    /* Two clocks within the bound part by up to 2 * drift over an
     * election timeout. */
    p->clock_drift_ns = et_ns / 1000000 * 2 * p->drift_ppm;
    p->lease.duration_ns =
        lease_default_duration_ns(et_ns, hb_ns, p->clock_drift_ns);
    p->lease.clock_drift_ns = p->clock_drift_ns;
    p->lease.renew_divisor = 0;
    p->follower_read_ppm = s->opt->reads == SIM_READS_READINDEX
                               ? 0
                               : (uint32_t)sim_rng_range(g, 50000, 300000);
}

/* ---- the run loop
 * ------------------------------------------------------------ */

static void dispatch(struct sim *s, struct sim_event *e)
{
    struct sim_node *n = e->node < s->n_nodes ? &s->nodes[e->node] : NULL;
    switch (e->type) {
    case SIM_EV_TICK:
        if (n->state == SIM_NODE_UP && n->inc == e->inc) {
            sim_node_tick(s, n);
            sim_schedule(s, s->now_ns + sim_tick_interval(s, n), SIM_EV_TICK,
                         n->idx, n->inc, 0, NULL);
        }
        break;
    case SIM_EV_DELIVER: {
        unsigned from = (unsigned)(e->msg->from - 1);
        if (n->state != SIM_NODE_UP) {
            s->res->messages_dropped++;
            sim_log(s, "drop (n%" PRIu64 " is down) %s from %" PRIu64, n->id,
                    sim_msg_name(e->msg->type), e->msg->from);
        } else if (e->msg->from >= 1 && e->msg->from <= s->n_nodes &&
                   s->cut[from][n->idx]) {
            s->res->messages_dropped++;
            sim_log(s, "drop (cut in flight) %s %" PRIu64 "->%" PRIu64,
                    sim_msg_name(e->msg->type), e->msg->from, n->id);
        } else {
            sim_node_deliver(s, n, e->msg);
        }
        free_message(e->msg);
        e->msg = NULL;
        break;
    }
    case SIM_EV_PERSIST:
        if (n->state == SIM_NODE_UP && n->inc == e->inc)
            sim_node_persist_done(s, n);
        break;
    case SIM_EV_RESTART:
        if (n->state == SIM_NODE_DOWN && n->inc == e->inc)
            sim_node_start(s, n);
        break;
    case SIM_EV_STOP_REMOVED:
        if (n->state == SIM_NODE_UP && n->inc == e->inc) {
            sim_log(s, "n%" PRIu64 " applied its own removal: stopped", n->id);
            sim_node_crash(s, n, SIM_NODE_REMOVED);
        }
        break;
    case SIM_EV_CLIENT:
        sim_client_wake(s, (unsigned)e->arg);
        break;
    case SIM_EV_TIMEOUT:
        sim_client_timeout(s, e->node, e->arg);
        break;
    case SIM_EV_FAULT:
        if (s->faults_on) {
            sim_faults_step(s);
            sim_schedule(s,
                         s->now_ns + sim_rng_range(&s->rng_fault,
                                                   s->p.fault_min_ns,
                                                   s->p.fault_max_ns),
                         SIM_EV_FAULT, 0, 0, 0, NULL);
        }
        break;
    case SIM_EV_END_WORKLOAD:
        sim_log(s, "end of workload: healing, restarting, draining");
        s->workload_on = false;
        s->faults_on = false;
        sim_faults_end(s);
        break;
    case SIM_EV_ATTACK:
        sim_attack_step(s);
        break;
    case SIM_EV_CHECK:
        sim_check_logs(s);
        sim_schedule(s, s->now_ns + 250 * 1000 * 1000ULL, SIM_EV_CHECK, 0, 0, 0,
                     NULL);
        break;
    }
}

static void setup(struct sim *s)
{
    s->n_nodes = s->opt->nodes;
    s->attack_leader = -1;
    s->attack_target = -1;
    char why[256];
    if (lease_config_check(s->p.lease.duration_ns, s->p.lease.clock_drift_ns,
                           s->p.election_tick * s->p.tick_ns, s->p.tick_ns, why,
                           sizeof why) != 0) {
        sim_violation(s, "the seed's lease configuration is refused: %s", why);
        return;
    }
    s->initial_conf.n = s->n_nodes;
    for (unsigned i = 0; i < s->n_nodes; i++) {
        s->initial_conf.members[i].id = i + 1;
        s->initial_conf.members[i].learner = false;
    }
    for (unsigned i = 0; i < s->n_nodes; i++)
        sim_node_init(s, i);
    for (unsigned i = 0; i < s->n_nodes && !s->violated; i++)
        sim_node_start(s, &s->nodes[i]);
    s->faults_on = s->opt->faults != SIM_FAULTS_NONE;
    if (s->faults_on)
        sim_schedule(s,
                     sim_rng_range(&s->rng_fault, 300 * 1000 * 1000ULL,
                                   s->p.fault_max_ns * 2),
                     SIM_EV_FAULT, 0, 0, 0, NULL);
    sim_workload_start(s);
    sim_schedule(s, s->p.work_ns, SIM_EV_END_WORKLOAD, 0, 0, 0, NULL);
    sim_schedule(s, 250 * 1000 * 1000ULL, SIM_EV_CHECK, 0, 0, 0, NULL);
    sim_log(
        s,
        "seed %" PRIu64 ": nodes=%u faults=%s reads=%s lease=%" PRIu64
        "ms drift_bound=%" PRIu64 "ms%s%s clients=%u "
        "max_ops=%u heartbeat_tick=%u max_inflight=%u max_msg_bytes=%" PRIu64
        " snapshot_every=%u keep=%u pad=%u delay=1..%" PRIu64
        "ms loss=%u ppm dup=%u ppm fsync<=%" PRIu64 "us work=%" PRIu64 "ms",
        s->seed, s->n_nodes, sim_faults_name(s->opt->faults),
        s->opt->read_policy == SIM_READ_UNSAFE ? "unsafe"
                                               : sim_reads_name(s->opt->reads),
        s->p.lease.duration_ns / 1000000, s->p.clock_drift_ns / 1000000,
        s->opt->drift_beyond_bound ? " DRIFT-BEYOND-BOUND" : "",
        s->opt->no_leader_stickiness ? " NO-LEADER-STICKINESS" : "",
        s->p.n_clients, s->p.max_ops, s->p.heartbeat_tick, s->p.max_inflight,
        s->p.max_msg_bytes, s->p.snapshot_every, s->p.snapshot_keep,
        s->p.snapshot_pad, s->p.delay_max_ns / 1000000, s->p.loss_ppm,
        s->p.dup_ppm, s->p.fsync_max_ns / 1000, s->p.work_ns / 1000000);
}

static void teardown(struct sim *s)
{
    while (s->n_ev > 0) {
        struct sim_event e = ev_pop(s);
        free_message(e.msg);
    }
    free(s->ev);
    for (unsigned i = 0; i < s->n_nodes; i++)
        sim_node_destroy(s, &s->nodes[i]);
    free(s->hist);
    sim_check_free(s);
}

int sim_run_seed(const struct sim_options *o, uint64_t seed,
                 struct sim_result *res)
{
    memset(res, 0, sizeof *res);
    if (!o ||
        (o->nodes != 1 && o->nodes != 3 && o->nodes != 5 && o->nodes != 7) ||
        o->faults > SIM_FAULTS_ALL || o->read_policy > SIM_READ_LEASE ||
        o->reads > SIM_READS_READINDEX ||
        o->driver_bug > SIM_BUG_ACK_BEFORE_PERSIST)
        return -EINVAL;
    struct sim *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->opt = o;
    s->res = res;
    s->seed = seed;
    sim_rng_seed(&s->rng_param, seed, 1);
    sim_rng_seed(&s->rng_net, seed, 2);
    sim_rng_seed(&s->rng_fault, seed, 3);
    sim_rng_seed(&s->rng_work, seed, 4);
    sim_rng_seed(&s->rng_disk, seed, 5);
    choose_params(s);
    setup(s);

    while (!s->violated && s->n_ev > 0) {
        struct sim_event e = ev_pop(s);
        if (e.at_ns > s->p.end_ns) {
            free_message(e.msg);
            break;
        }
        s->now_ns = e.at_ns;
        s->step++;
        dispatch(s, &e);
        free_message(e.msg);
        if (!s->violated)
            sim_check_step(s);
    }
    if (!s->violated) {
        s->now_ns = s->p.end_ns;
        sim_check_logs(s);
    }
    if (!s->violated)
        sim_workload_finish(s);
    res->events = s->step;
    res->max_applied = s->max_applied;
    int rc = s->oom ? -ENOMEM : 0;
    if (s->oom) {
        res->violation = true;
        snprintf(res->what, sizeof res->what, "out of memory");
    }
    if (res->violation && o->out) {
        char cmd[512];
        sim_replay_command(o, seed, cmd, sizeof cmd);
        fprintf(o->out,
                "VIOLATION seed=%" PRIu64 " step=%" PRIu64 " t=%" PRIu64
                ".%06" PRIu64 "ms: %s\n  replay: %s\n",
                seed, res->step, res->time_ns / 1000000, res->time_ns % 1000000,
                res->what, cmd);
    }
    teardown(s);
    free(s);
    return rc;
}
