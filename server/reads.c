/*
 * reads.c - the reads a node has parked, kept in the ReadIndexManager
 * (lease/readindex.h): the server's side of docs/reads.md.
 *
 * Happy path: dispatch_range() (kv.c) answers a read at once when it can
 * (lease valid and applied >= commit, or a serializable read); otherwise
 * it parks the read here with srv_reads_park().  Once per loop turn
 * srv_reads_start_rounds() hands every read that needs a ReadIndex round
 * ONE fresh ctx and calls raft_read_index() once for all of them (reads
 * that arrive together share a round).  The core's answer
 * (srv_reads_on_read_state) gives each read of that round its index; after
 * every ready batch srv_reads_on_applied() runs the reads whose index has
 * applied (srv_kv_run_read, which re-checks leadership before serving).
 *
 * Failure modes, each ending the read exactly once:
 *   - the table is full (server.max_pending_reads): srv_reads_park()
 *     refuses it and the client gets RESOURCE_EXHAUSTED at once;
 *   - its deadline (server.request_timeout) passes: DEADLINE_EXCEEDED;
 *   - this node stops leading (or its term changes): a read whose index
 *     came from that leadership (lease or ReadIndex round on the leader)
 *     gets NOT_LEADER with the new leader's id and address when known;
 *     a read that waits on another node's answer is sent again to the new
 *     leader with a fresh ctx (readindex_retry_all), so an answer to the
 *     old round can never be taken for the new one;
 *   - its connection closes: the read is cancelled at once and its slot,
 *     request body and connection reference are released
 *     (srv_node_conn_closed); nothing is sent;
 *   - shutdown or a storage failure: the status srv_node_fail_all() gives.
 */
#include <stdio.h>
#include <time.h>

#include "server/log.h"
#include "server/server.h"
#include "server/status.h"

/* What the answer callback needs besides the read itself. */
struct answer_ctx {
    struct srv *s;
    int status;      /* for any other LEASE_E* code (fail_all) */
    const char *msg; /* idem */
};

static enum readindex_path to_rim_path(enum srv_read_path p)
{
    switch (p) {
    case SRV_PATH_FAST:
        return READINDEX_PATH_FAST;
    case SRV_PATH_READINDEX:
        return READINDEX_PATH_SLOW;
    case SRV_PATH_FOLLOWER:
        return READINDEX_PATH_FOLLOWER;
    case SRV_PATH_SERIALIZABLE:
        return READINDEX_PATH_SERIALIZABLE;
    default:
        return READINDEX_PATH_LOG;
    }
}

static void reply_not_leader(struct srv *s, struct srv_wait *w)
{
    raft_id leader = raft_leader(s->raft);
    char msg[128];
    if (leader == RAFT_NONE) {
        snprintf(msg, sizeof msg, "this node stopped leading while the read "
                                  "waited; no leader is known yet, retry");
    } else {
        snprintf(msg, sizeof msg,
                 "this node stopped leading while the read waited; the "
                 "leader is node %llu",
                 (unsigned long long)leader);
    }
    srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                         SRV_STATUS_NOT_LEADER, msg);
}

/* Called by the manager exactly once per read that leaves it. */
static void on_answer(void *data, uint64_t id, void *user, int status,
                      raft_index index)
{
    (void)id;
    (void)index;
    struct answer_ctx *a = data;
    struct srv *s = a->s;
    struct srv_wait *w = user;
    s->parked--;
    s->reply_start_ns = w->start_ns;
    switch (status) {
    case 0:
        srv_kv_run_read(s, w);
        break;
    case LEASE_ECANCELED:
        break; /* the client is gone: nothing to send */
    case LEASE_ETIMEDOUT:
        s->stats.read_timeouts++;
        srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                             SRV_STATUS_DEADLINE_EXCEEDED,
                             raft_leader(s->raft) == RAFT_NONE
                                 ? "no leader within the request timeout"
                                 : "request timed out");
        break;
    case LEASE_ENOTLEADER:
        reply_not_leader(s, w);
        break;
    default:
        srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                             a->status != 0 ? a->status
                                            : SRV_STATUS_UNAVAILABLE,
                             a->msg != NULL ? a->msg
                                            : "the read cannot be served "
                                              "now; retry");
        break;
    }
    srv_wait_free(w);
}

int srv_reads_init(struct srv *s)
{
    /* Read contexts of this run lie above those of any earlier run (a
     * late answer to a read sent before a restart never matches). */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t base =
        (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
    int rv = readindex_init(&s->reads, (size_t)s->cfg.server.max_pending_reads,
                            base);
    if (rv != 0) {
        ms_error("cannot set up the table of %llu pending reads: %s",
                 (unsigned long long)s->cfg.server.max_pending_reads,
                 lease_strerror(rv));
    }
    s->reads_term = 0;
    return rv;
}

void srv_reads_close(struct srv *s)
{
    readindex_close(&s->reads);
}

int srv_reads_park(struct srv *s, struct srv_wait *w)
{
    raft_index index = w->index;
    enum readindex_path path = to_rim_path(w->path);
    uint64_t id = readindex_next_id(&s->reads);
    int rv = readindex_add(&s->reads, id, path, w->start_ns, w->deadline_ns, w);
    if (rv != 0) {
        return rv;
    }
    w->ctx = id;
    if (path == READINDEX_PATH_FAST) {
        (void)readindex_fast_path(&s->reads, id, index);
        s->stats.apply_waits++;
    } else if (path == READINDEX_PATH_SERIALIZABLE) {
        (void)readindex_set_index(&s->reads, id, index);
        s->stats.apply_waits++;
    }
    return 0;
}

void srv_reads_start_rounds(struct srv *s)
{
    if (raft_leader(s->raft) == RAFT_NONE) {
        return; /* the reads wait for a leader (or their deadline) */
    }
    uint64_t ctx;
    if (readindex_take_batch(&s->reads, &ctx, NULL, 0) == 0) {
        return;
    }
    int rv = raft_read_index(s->raft, ctx, srv_now_ns());
    if (rv != 0) {
        (void)readindex_unbatch(&s->reads, ctx);
        return;
    }
    s->stats.readindex_rounds++;
}

void srv_reads_on_read_state(struct srv *s, const struct raft_read_state *rs)
{
    /* 0 when the round's reads timed out or were cancelled meanwhile, or
     * for an answer to a retired ctx: ignored. */
    (void)readindex_on_read_state(&s->reads, rs->ctx, rs->index);
}

void srv_reads_on_applied(struct srv *s)
{
    struct answer_ctx a = {s, 0, NULL};
    (void)readindex_on_applied(&s->reads, engine_applied_index(s->eng),
                               srv_now_ns(), on_answer, &a);
}

void srv_reads_expire(struct srv *s, uint64_t now_ns)
{
    struct answer_ctx a = {s, 0, NULL};
    (void)readindex_expire(&s->reads, now_ns, on_answer, &a);
}

void srv_reads_soft_changed(struct srv *s, const struct raft_soft_state *soft)
{
    struct answer_ctx a = {s, 0, NULL};
    if (s->last_role == RAFT_LEADER &&
        (soft->role != RAFT_LEADER || soft->term != s->reads_term)) {
        /* Indexes from the leadership just lost must not be served (etcd
         * issue 20418); the core dropped its pending rounds too. */
        size_t n = readindex_fail_paths(
            &s->reads,
            READINDEX_PATH_BIT(READINDEX_PATH_FAST) |
                READINDEX_PATH_BIT(READINDEX_PATH_SLOW),
            LEASE_ENOTLEADER, on_answer, &a);
        if (n > 0) {
            s->stats.read_retries += n;
            ms_info("stepped down with %zu read(s) waiting: answered "
                    "NOT_LEADER",
                    n);
        }
    }
    if (soft->leader != s->last_leader) {
        /* Rounds sent to the old leader may never be answered: ask the
         * new one (a fresh ctx each) once it is known. */
        (void)readindex_retry_all(&s->reads);
    }
    s->reads_term = soft->term;
}

void srv_reads_fail_all(struct srv *s, int status, const char *msg)
{
    struct answer_ctx a = {s, status, msg};
    (void)readindex_fail_all(&s->reads, LEASE_EUNAVAILABLE, on_answer, &a);
}

static bool of_conn(void *arg, void *user)
{
    return ((struct srv_wait *)user)->conn == arg;
}

void srv_node_conn_closed(struct srv *s, struct srv_conn *c)
{
    struct answer_ctx a = {s, 0, NULL};
    size_t n = readindex_cancel_if(&s->reads, of_conn, c, on_answer, &a);
    /* Requests waiting for a leader were never proposed: dropping them
     * loses nothing.  Proposals stay until they apply (their replies to
     * the closed connection are dropped then). */
    for (struct srv_wait **pp = &s->wait_leader; *pp != NULL;) {
        struct srv_wait *w = *pp;
        if (w->conn == c) {
            *pp = w->next;
            s->parked--;
            srv_wait_free(w);
            n++;
        } else {
            pp = &w->next;
        }
    }
    if (n > 0) {
        ms_debug("client connection closed: %zu parked request(s) cancelled",
                 n);
    }
}
