/*
 * raft.c - the node: creation and restart, input validation and dispatch,
 * proposals and the other inputs, and queries.  (Membership changes are in
 * membership.c, the ready/advance/persisted cycle in ready.c.)
 *
 * Happy path: raft_create() loads whatever the storage holds; inputs
 * (raft_step, raft_tick, raft_propose, ...) change state and queue output;
 * raft_ready() finishes deferred work (one append broadcast, one ReadIndex
 * heartbeat round) and moves all output into a batch the caller owns;
 * raft_persisted() moves the durable boundary and lets the leader count
 * itself.  Failure modes: RAFT_EINVAL for bad configs and malformed
 * messages (no state change), RAFT_ECORRUPT for contradictory storage,
 * RAFT_ENOMEM (remembered and reported by the next raft_ready()).
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

/* ---- small helpers -------------------------------------------------- */

void raft__trace(struct raft *r, const char *fmt, ...)
{
    if (r->cfg.trace == NULL)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r->cfg.trace(r->cfg.trace_data, r->id, r->term, buf);
}

struct raft_message *raft__msg_new(struct raft *r, bool after_persist,
                                   uint32_t type, raft_id to)
{
    struct raft__msgvec *v = after_persist ? &r->msgs_after : &r->msgs;
    struct raft_message *m;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct raft_message *nv = realloc(v->v, cap * sizeof(*nv));
        if (nv == NULL) {
            r->oom = true;
            raft_message_free_parts(&r->scratch);
            m = &r->scratch;
            goto fill;
        }
        v->v = nv;
        v->cap = cap;
    }
    m = &v->v[v->n++];
fill:
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->from = r->id;
    m->to = to;
    m->term = r->term;
    return m;
}

struct raft__progress *raft__progress_of(struct raft *r, raft_id id)
{
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].id == id)
            return &r->prs[i];
    return NULL;
}

bool raft__is_voter(const struct raft *r, raft_id id)
{
    const struct raft_member *m = raft_conf_find(&r->conf, id);
    return m != NULL && !m->learner;
}

bool raft__promotable(const struct raft *r)
{
    return raft__is_voter(r, r->id) && !r->log.u_has_snap;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- creation ------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void raft__reset_randomized_timeout(struct raft *r)
{
    unsigned et = r->cfg.election_tick;
    r->randomized_timeout = et + (unsigned)(splitmix64(&r->rng) % et);
}

static int check_config(const struct raft_config *c)
{
    const struct raft_storage *s = &c->storage;
    if (c->id == RAFT_NONE || c->election_tick < 2 || c->heartbeat_tick < 1 ||
        c->heartbeat_tick >= c->election_tick || c->max_inflight < 1 ||
        c->max_msg_bytes < 1)
        return RAFT_EINVAL;
    if (s->initial_state == NULL || s->first_index == NULL ||
        s->last_index == NULL || s->term == NULL || s->entries == NULL ||
        s->snapshot_meta == NULL || s->snapshot_read == NULL)
        return RAFT_EINVAL;
    const struct raft_conf *b = c->bootstrap;
    if (b != NULL) {
        if (b->n < 1 || b->n > RAFT_MAX_MEMBERS || raft_conf_voters(b) < 1)
            return RAFT_EINVAL;
        for (uint32_t i = 0; i < b->n; i++) {
            if (b->members[i].id == RAFT_NONE)
                return RAFT_EINVAL;
            for (uint32_t k = 0; k < i; k++)
                if (b->members[k].id == b->members[i].id)
                    return RAFT_EINVAL;
        }
    }
    return 0;
}

/* First start: one committed conf change entry per member, term 1. */
static int bootstrap(struct raft *r, const struct raft_conf *b)
{
    struct raft_entry e[RAFT_MAX_MEMBERS];
    uint8_t *bufs[RAFT_MAX_MEMBERS] = {NULL};
    int rc = 0;
    memset(e, 0, sizeof(e));
    for (uint32_t i = 0; i < b->n && rc == 0; i++) {
        struct raft_conf_change cc = {
            .type =
                b->members[i].learner ? RAFT_CC_ADD_LEARNER : RAFT_CC_ADD_VOTER,
            .id = b->members[i].id,
        };
        size_t len = 0;
        rc = raft_conf_change_encode(&cc, &bufs[i], &len);
        e[i].term = 1;
        e[i].index = i + 1;
        e[i].type = RAFT_ENTRY_CONF_CHANGE;
        e[i].len = (uint32_t)len;
        e[i].data = bufs[i];
    }
    if (rc == 0)
        rc = raft__log_append(&r->log, e, b->n);
    for (uint32_t i = 0; i < b->n; i++)
        free(bufs[i]);
    if (rc != 0)
        return rc;
    r->term = 1;
    raft__log_commit_to(&r->log, b->n);
    raft__apply_conf_to_commit(r);
    raft__trace(r, "bootstrapped with %u members", (unsigned)b->n);
    return 0;
}

static int load(struct raft *r)
{
    struct raft_hard_state hs;
    struct raft_snapshot_meta snap;
    memset(&hs, 0, sizeof(hs));
    memset(&snap, 0, sizeof(snap));
    int rc = r->cfg.storage.initial_state(r->cfg.storage.data, &hs, &snap);
    if (rc != 0)
        return rc;
    if (snap.conf.n > RAFT_MAX_MEMBERS)
        return RAFT_ECORRUPT;
    raft__log_init(&r->log, &r->cfg.storage);
    raft_index first = raft__log_first_index(&r->log);
    raft_index last = raft__log_last_index(&r->log);
    if (first > last + 1 ||
        (snap.index > 0 && first != snap.index + 1 && first > snap.index + 1))
        return RAFT_ECORRUPT;
    if (hs.commit > last)
        return RAFT_ECORRUPT;
    r->term = hs.term;
    r->vote = hs.vote;
    r->log.commit = hs.commit > snap.index ? hs.commit : snap.index;
    if (r->log.commit > last)
        return RAFT_ECORRUPT;
    r->log.applied = snap.index;
    r->conf = snap.conf;
    r->conf_index = snap.index;
    r->prev_hs = hs;
    if (last == 0 && hs.term == 0 && snap.index == 0 &&
        r->cfg.bootstrap != NULL)
        return bootstrap(r, r->cfg.bootstrap);
    raft__apply_conf_to_commit(r);
    if (r->conf_index != r->log.commit)
        return RAFT_ECORRUPT; /* committed entries could not be read */
    return 0;
}

int raft_create(const struct raft_config *cfg, struct raft **out)
{
    if (cfg == NULL || out == NULL)
        return RAFT_EINVAL;
    int rc = check_config(cfg);
    if (rc != 0)
        return rc;
    struct raft *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return RAFT_ENOMEM;
    r->cfg = *cfg;
    r->id = cfg->id;
    r->rng = cfg->seed ^ (cfg->id * 0xd1b54a32d192ed03ULL);
    rc = load(r);
    r->cfg.bootstrap = NULL;
    if (rc != 0) {
        raft_destroy(r);
        return rc;
    }
    raft__become_follower(r, r->term, RAFT_NONE);
    r->restart_quiet = r->prev_hs.term > 0;
    r->prev_soft.role = RAFT_FOLLOWER;
    r->prev_soft.leader = RAFT_NONE;
    r->prev_soft.term = r->term;
    r->conf_changed = r->conf.n > 0;
    raft__trace(r, "started: commit %llu last %llu members %u",
                (unsigned long long)r->log.commit,
                (unsigned long long)raft__log_last_index(&r->log),
                (unsigned)r->conf.n);
    *out = r;
    return 0;
}

static void free_msgvec(struct raft__msgvec *v)
{
    for (size_t i = 0; i < v->n; i++)
        raft_message_free_parts(&v->v[i]);
    free(v->v);
    memset(v, 0, sizeof(*v));
}

void raft_destroy(struct raft *r)
{
    if (r == NULL)
        return;
    for (uint32_t i = 0; i < r->n_prs; i++)
        raft__progress_close(&r->prs[i]);
    raft__log_close(&r->log);
    free_msgvec(&r->msgs);
    free_msgvec(&r->msgs_after);
    raft_message_free_parts(&r->scratch);
    free(r->reads);
    free(r->read_states);
    free(r->chunk.c.data);
    free(r);
}

/* ---- input validation and dispatch --------------------------------- */

static int validate_entries(const struct raft_message *m)
{
    if (m->n_entries == 0)
        return 0;
    if (m->type != RAFT_MSG_APPEND || m->entries == NULL)
        return RAFT_EINVAL;
    raft_term prev = m->log_term;
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i || e->term < prev ||
            e->term > m->term || e->type > RAFT_ENTRY_CONF_CHANGE ||
            (e->len > 0 && e->data == NULL))
            return RAFT_EINVAL;
        prev = e->term;
    }
    return 0;
}

static int validate(const struct raft *r, const struct raft_message *m)
{
    if (m == NULL || m->type < RAFT_MSG_APPEND ||
        m->type > RAFT_MSG_READ_INDEX_RESP)
        return RAFT_EINVAL;
    if (m->from == RAFT_NONE || m->from == r->id || m->to != r->id ||
        m->term == 0)
        return RAFT_EINVAL;
    if (validate_entries(m) != 0)
        return RAFT_EINVAL;
    if (m->type == RAFT_MSG_APPEND && m->log_term > m->term)
        return RAFT_EINVAL;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        const struct raft_snapshot_meta *s = &m->snap;
        if (s->index == 0 || s->term == 0 || s->term > m->term ||
            s->conf.n > RAFT_MAX_MEMBERS || s->conf.n == 0)
            return RAFT_EINVAL;
        if (m->snap_len > 0 && m->snap_data == NULL)
            return RAFT_EINVAL;
        if (m->snap_offset > s->size || m->snap_len > s->size - m->snap_offset)
            return RAFT_EINVAL;
        if (m->snap_last != (m->snap_offset + m->snap_len == s->size))
            return RAFT_EINVAL;
    }
    return 0;
}

/*
 * Leader stickiness (thesis 4.2.3, 6.4.1): a node that heard from a leader
 * less than election_tick ago refuses to help elect another.  A node that
 * restarts cannot know whether it heard from one just before it went down
 * (and acknowledged a round that some lease counts on), so it assumes it
 * did for its first election_tick ticks.
 */
static bool sticky(const struct raft *r)
{
    return !r->cfg.disable_leader_stickiness &&
           (r->lead != RAFT_NONE || r->restart_quiet) &&
           r->election_elapsed < r->cfg.election_tick;
}

/* Term rules (5.1, 9.6, and etcd's handling).  Returns false when the
 * message has been fully dealt with. */
static bool handle_term(struct raft *r, const struct raft_message *m)
{
    uint32_t t = m->type;
    if (m->term > r->term) {
        if (t == RAFT_MSG_VOTE || t == RAFT_MSG_PRE_VOTE) {
            bool force = (m->flags & RAFT_MSG_FLAG_TRANSFER) != 0;
            if (!force && sticky(r)) {
                raft__trace(r,
                            "ignored %s from %llu at term %llu: "
                            "leader %llu is current",
                            t == RAFT_MSG_VOTE ? "vote" : "pre-vote",
                            (unsigned long long)m->from,
                            (unsigned long long)m->term,
                            (unsigned long long)r->lead);
                return false;
            }
        }
        if (t == RAFT_MSG_PRE_VOTE)
            return true; /* answering a pre-vote changes nothing */
        if (t == RAFT_MSG_PRE_VOTE_RESP && !m->reject)
            return true; /* our own future term; counted below */
        if (t == RAFT_MSG_APPEND || t == RAFT_MSG_HEARTBEAT ||
            t == RAFT_MSG_SNAPSHOT)
            raft__become_follower(r, m->term, m->from);
        else
            raft__become_follower(r, m->term, RAFT_NONE);
        return true;
    }
    if (m->term < r->term) {
        if (t == RAFT_MSG_APPEND || t == RAFT_MSG_HEARTBEAT ||
            t == RAFT_MSG_SNAPSHOT) {
            /* Tell a deposed leader about the newer term. */
            raft__msg_new(r, true, RAFT_MSG_APPEND_RESP, m->from);
        } else if (t == RAFT_MSG_PRE_VOTE) {
            struct raft_message *resp =
                raft__msg_new(r, true, RAFT_MSG_PRE_VOTE_RESP, m->from);
            resp->reject = true;
        }
        return false;
    }
    return true;
}

static void step_follower(struct raft *r, const struct raft_message *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        r->election_elapsed = 0;
        r->lead = m->from;
        if (m->type == RAFT_MSG_APPEND)
            raft__handle_append(r, m);
        else if (m->type == RAFT_MSG_HEARTBEAT)
            raft__handle_heartbeat(r, m);
        else
            raft__handle_snapshot(r, m);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PRE_VOTE:
        raft__handle_vote(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        raft__handle_timeout_now(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        raft__handle_read_index(r, m); /* refuses: not leader */
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        raft__handle_read_index_resp(r, m);
        break;
    default:
        break; /* late responses from an earlier role */
    }
}

static void step_candidate(struct raft *r, const struct raft_message *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        /* Someone won this term. */
        raft__become_follower(r, m->term, m->from);
        step_follower(r, m);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PRE_VOTE:
        raft__handle_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        if (r->role == RAFT_CANDIDATE)
            raft__handle_vote_resp(r, m);
        break;
    case RAFT_MSG_PRE_VOTE_RESP:
        if (r->role == RAFT_PRE_CANDIDATE)
            raft__handle_vote_resp(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        raft__handle_read_index(r, m);
        break;
    default:
        break;
    }
}

static void step_leader(struct raft *r, const struct raft_message *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND_RESP:
        raft__handle_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        raft__handle_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        raft__handle_snapshot_resp(r, m);
        break;
    case RAFT_MSG_VOTE:
    case RAFT_MSG_PRE_VOTE:
        raft__handle_vote(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        raft__handle_read_index(r, m);
        break;
    case RAFT_MSG_APPEND:
    case RAFT_MSG_HEARTBEAT:
    case RAFT_MSG_SNAPSHOT:
        raft__trace(r, "two leaders in one term? message from %llu ignored",
                    (unsigned long long)m->from);
        break;
    default:
        break;
    }
}

int raft_step(struct raft *r, const struct raft_message *m, uint64_t now_ns)
{
    if (r == NULL || validate(r, m) != 0)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (!handle_term(r, m))
        return 0;
    switch (r->role) {
    case RAFT_FOLLOWER:
        step_follower(r, m);
        break;
    case RAFT_PRE_CANDIDATE:
    case RAFT_CANDIDATE:
        step_candidate(r, m);
        break;
    case RAFT_LEADER:
        step_leader(r, m);
        if (r->role == RAFT_LEADER)
            raft__process_reads(r);
        break;
    }
    return 0;
}

void raft_tick(struct raft *r, uint64_t now_ns)
{
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (r->role == RAFT_LEADER)
        raft__tick_leader(r);
    else
        raft__tick_election(r);
}

/* ---- proposals ------------------------------------------------------ */

static int append_local(struct raft *r, uint32_t type, const void *data,
                        size_t len, raft_index *index, raft_term *term)
{
    struct raft_entry e = {
        .term = r->term,
        .index = raft__log_last_index(&r->log) + 1,
        .type = type,
        .len = (uint32_t)len,
        .data = (uint8_t *)data,
    };
    int rc = raft__log_append(&r->log, &e, 1);
    if (rc != 0)
        return rc;
    r->broadcast_pending = true;
    if (index != NULL)
        *index = e.index;
    if (term != NULL)
        *term = e.term;
    return 0;
}

static int can_propose(const struct raft *r, size_t len)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->transferee != RAFT_NONE)
        return RAFT_ETRANSFER;
    if (len > r->cfg.max_msg_bytes || len > UINT32_MAX)
        return RAFT_ETOOBIG;
    return 0;
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t now_ns,
                 raft_index *index, raft_term *term)
{
    if (r == NULL || (len > 0 && data == NULL))
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    int rc = can_propose(r, len);
    if (rc != 0)
        return rc;
    return append_local(r, RAFT_ENTRY_NORMAL, data, len, index, term);
}

int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc,
                             uint64_t now_ns, raft_index *index,
                             raft_term *term)
{
    if (r == NULL || cc == NULL)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    int rc = can_propose(r, 0);
    if (rc != 0)
        return rc;
    if (r->pending_conf_index > r->log.commit || !raft_committed_in_term(r))
        return RAFT_ECONFPENDING;
    struct raft_conf c = r->conf;
    if (raft_conf_apply(&c, cc) != 0)
        return RAFT_EBADCONF;
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = raft_conf_change_encode(cc, &buf, &len);
    if (rc != 0)
        return rc == RAFT_ENOMEM ? rc : RAFT_EBADCONF;
    if (len > r->cfg.max_msg_bytes) {
        free(buf);
        return RAFT_ETOOBIG;
    }
    raft_index i = 0;
    rc = append_local(r, RAFT_ENTRY_CONF_CHANGE, buf, len, &i, term);
    free(buf);
    if (rc != 0)
        return rc;
    r->pending_conf_index = i;
    if (index != NULL)
        *index = i;
    raft__trace(r, "proposed conf change at %llu", (unsigned long long)i);
    return 0;
}

int raft_read_index(struct raft *r, uint64_t ctx, uint64_t now_ns)
{
    if (r == NULL)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (r->role == RAFT_LEADER)
        return raft__read_request(r, ctx, r->id);
    if (r->role != RAFT_FOLLOWER || r->lead == RAFT_NONE)
        return RAFT_ENOTLEADER;
    struct raft_message *m =
        raft__msg_new(r, false, RAFT_MSG_READ_INDEX, r->lead);
    m->ctx = ctx;
    return 0;
}

int raft_transfer_leadership(struct raft *r, raft_id to, uint64_t now_ns)
{
    if (r == NULL)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (to == r->id || !raft__is_voter(r, to))
        return RAFT_EINVAL;
    if (r->transferee == to)
        return 0;
    if (r->transferee != RAFT_NONE)
        raft__abort_transfer(r);
    struct raft__progress *p = raft__progress_of(r, to);
    if (p == NULL)
        return RAFT_EINVAL;
    r->transferee = to;
    r->election_elapsed = 0; /* the transfer times out after election_tick */
    raft__trace(r, "leadership transfer to %llu started",
                (unsigned long long)to);
    if (p->match == raft__log_last_index(&r->log))
        raft__send_timeout_now(r, to);
    else
        raft__maybe_send_append(r, p, true);
    return 0;
}

int raft_heartbeat(struct raft *r, uint64_t now_ns)
{
    if (r == NULL)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    raft__new_round(r);
    raft__bcast_heartbeat(r);
    raft__process_reads(r);
    return 0;
}

int raft_campaign(struct raft *r, uint64_t now_ns)
{
    if (r == NULL)
        return RAFT_EINVAL;
    r->now_ns = max_u64(r->now_ns, now_ns);
    if (r->role == RAFT_LEADER)
        return 0;
    if (!raft__promotable(r))
        return RAFT_EREMOVED;
    raft__campaign(r, r->cfg.pre_vote, false);
    return 0;
}

/* ---- queries -------------------------------------------------------- */

raft_id raft_id_of(const struct raft *r)
{
    return r->id;
}

enum raft_role raft_role_of(const struct raft *r)
{
    return r->role;
}

raft_id raft_leader(const struct raft *r)
{
    return r->lead;
}

raft_term raft_term_of(const struct raft *r)
{
    return r->term;
}

raft_index raft_commit_index(const struct raft *r)
{
    return r->log.commit;
}

raft_index raft_last_index(const struct raft *r)
{
    return raft__log_last_index(&r->log);
}

raft_index raft_applied_index(const struct raft *r)
{
    return r->log.applied;
}

const struct raft_conf *raft_conf_of(const struct raft *r)
{
    return &r->conf;
}

bool raft_committed_in_term(const struct raft *r)
{
    return r->role == RAFT_LEADER &&
           raft__log_term_or_zero(&r->log, r->log.commit) == r->term;
}

raft_id raft_transferee(const struct raft *r)
{
    return r->transferee;
}

int raft_progress(const struct raft *r, struct raft_progress_info *out,
                  size_t cap, size_t *n)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    size_t k = 0;
    for (uint32_t i = 0; i < r->n_prs && k < cap; i++) {
        const struct raft__progress *p = &r->prs[i];
        out[k].id = p->id;
        out[k].learner = p->learner;
        out[k].match = p->match;
        out[k].next = p->next;
        out[k].state = p->state;
        out[k].recent_active = p->recent_active;
        k++;
    }
    *n = k;
    return 0;
}
