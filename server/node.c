/*
 * node.c - the Raft driver of metastored.
 *
 * It feeds the Raft core (ticks, client proposals and read requests) and
 * carries out every ready batch in the order the core's contract demands:
 *
 *   1. messages that may leave at once go to the peer transport;
 *   2. hard state and entries are buffered in the WAL; the batch joins the
 *      persistence queue;
 *   3. committed entries are applied to the engine and the proposals waiting
 *      on them are answered; confirmed read indexes wake parked reads;
 *   4. raft_advance().
 *
 * Group commit: one WAL sync runs at a time on libuv's thread pool; every
 * record buffered meanwhile goes out with the next one.  When a sync ends,
 * the batches it covered are written into the memstore (the core's view of
 * the durable log), their after-persist messages leave, and
 * raft_persisted() lets the leader count its own copy.  A write is thus
 * acknowledged only after it is durable and applied.
 *
 * Failure modes: a WAL sync or engine failure marks the server failed:
 * every parked request is answered INTERNAL, new requests are refused and
 * the process stops with a non-zero exit code (the data on disk is what the
 * next start recovers).  A proposal whose index was taken by another
 * leader's entry is answered UNAVAILABLE ("not applied, retry").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/metastore.pb-c.h"
#include "server/autocompact_glue.h"
#include "server/ttl_glue.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/server.h"
#include "server/status.h"
#include "storage/rocksdb.h"

struct srv_persist {
    struct srv_persist *next;
    struct raft_ready rd;
    uint64_t gen; /* sync generation that makes it durable; 0: none */
};

uint64_t srv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fatal(struct srv *s, const char *what, const char *why)
{
    if (!s->failed) {
        ms_error("%s: %s; refusing further requests and stopping", what, why);
    }
    s->failed = true;
    s->exit_code = 1;
    srv_node_fail_all(s, SRV_STATUS_INTERNAL, "storage failure on the server");
    uv_stop(s->loop);
}

/* ---- parked requests ---------------------------------------------------- */

void srv_wait_free(struct srv_wait *w)
{
    srv_conn_request_done(w->conn);
    srv_conn_unref(w->conn);
    free(w->body);
    free(w);
}

static void wait_fail(struct srv *s, struct srv_wait *w, int status,
                      const char *msg)
{
    s->reply_start_ns = w->start_ns;
    srv_conn_reply_error(s, w->conn, w->method, w->request_id, status, msg);
    s->parked--;
    srv_wait_free(w);
}

void srv_node_park(struct srv *s, struct srv_wait *w)
{
    w->next = NULL;
    s->parked++;
    switch (w->kind) {
    case SRV_WAIT_PROPOSAL:
        /* Our proposals get increasing indexes, so the list stays sorted. */
        if (s->proposals_tail != NULL) {
            s->proposals_tail->next = w;
        } else {
            s->proposals_head = w;
        }
        s->proposals_tail = w;
        break;
    case SRV_WAIT_READ:
        if (srv_reads_park(s, w) != 0) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "too many reads waiting on this node "
                     "(server.max_pending_reads is %llu); retry later",
                     (unsigned long long)s->cfg.server.max_pending_reads);
            wait_fail(s, w, SRV_STATUS_RESOURCE_EXHAUSTED, msg);
        }
        break;
    case SRV_WAIT_LEADER:
        w->next = s->wait_leader;
        s->wait_leader = w;
        break;
    case SRV_WAIT_TRANSFER:
        w->next = s->transfers;
        s->transfers = w;
        break;
    }
}

static void fail_list(struct srv *s, struct srv_wait **head, int status,
                      const char *msg)
{
    while (*head != NULL) {
        struct srv_wait *w = *head;
        *head = w->next;
        wait_fail(s, w, status, msg);
    }
}

void srv_node_fail_all(struct srv *s, int status, const char *msg)
{
    fail_list(s, &s->proposals_head, status, msg);
    s->proposals_tail = NULL;
    srv_reads_fail_all(s, status, msg);
    fail_list(s, &s->wait_leader, status, msg);
    fail_list(s, &s->transfers, status, msg);
}

/* Answers DEADLINE_EXCEEDED to every request past its deadline. */
static void expire_list(struct srv *s, struct srv_wait **head,
                        struct srv_wait **tail, uint64_t now)
{
    struct srv_wait *prev = NULL;
    struct srv_wait *w = *head;
    while (w != NULL) {
        struct srv_wait *next = w->next;
        if (w->deadline_ns <= now) {
            if (prev != NULL) {
                prev->next = next;
            } else {
                *head = next;
            }
            if (tail != NULL && *tail == w) {
                *tail = prev;
            }
            if (w->kind == SRV_WAIT_LEADER) {
                wait_fail(s, w, SRV_STATUS_UNAVAILABLE,
                          "no leader within the request timeout");
            } else {
                wait_fail(s, w, SRV_STATUS_DEADLINE_EXCEEDED,
                          w->kind == SRV_WAIT_PROPOSAL
                              ? "request timed out; the write may still be "
                                "applied"
                              : "request timed out");
            }
        } else {
            prev = w;
        }
        w = next;
    }
}

static void expire_waits(struct srv *s, uint64_t now)
{
    expire_list(s, &s->proposals_head, &s->proposals_tail, now);
    srv_reads_expire(s, now);
    expire_list(s, &s->wait_leader, NULL, now);
    expire_list(s, &s->transfers, NULL, now);
}

/* ---- ready batches ------------------------------------------------------ */

const char *srv_node_leader_addr(const struct srv *s, raft_id leader)
{
    const struct srv_member_info *m = srv_members_get(&s->members, leader);
    if (m != NULL && m->client_addr[0] != '\0') {
        return m->client_addr;
    }
    const struct srv_member *c = srv_config_member(&s->cfg, leader);
    return c != NULL ? c->client_addr : "";
}

/* Tells the transport where every other member listens. */
static void sync_peers(struct srv *s)
{
    if (s->peers == NULL) {
        return;
    }
    for (uint32_t i = 0; i < s->members.n; i++) {
        const struct srv_member_info *m = &s->members.m[i];
        if (m->id != s->cfg.node.id && m->peer_addr[0] != '\0') {
            (void)peer_transport_set_peer(s->peers, m->id, m->peer_addr);
        }
    }
}

static void peer_removed(struct srv *s, raft_id id)
{
    if (s->peers != NULL && id != s->cfg.node.id) {
        peer_transport_remove_peer(s->peers, id);
    }
}

int srv_node_fault_drop(struct srv *s, raft_id peer, bool drop)
{
    if (s->peers == NULL) {
        return 0;
    }
    ms_warn("fault hook: %s all traffic with node %llu",
            drop ? "dropping" : "restoring", (unsigned long long)peer);
    return peer_transport_set_drop(s->peers, peer, drop);
}

static void handle_soft(struct srv *s, const struct raft_soft_state *soft)
{
    ms_log_set_raft(soft->term, raft_role_name(soft->role));
    if (soft->leader != s->last_leader) {
        s->stats.leader_changes++;
        if (soft->leader == RAFT_NONE) {
            ms_info("lost the leader (term %llu)",
                    (unsigned long long)soft->term);
        } else if (soft->leader == s->cfg.node.id) {
            ms_info("became leader (term %llu)",
                    (unsigned long long)soft->term);
        } else {
            ms_info("leader is node %llu (term %llu)",
                    (unsigned long long)soft->leader,
                    (unsigned long long)soft->term);
        }
    }
    srv_reads_soft_changed(s, soft);
    s->last_leader = soft->leader;
    s->last_role = soft->role;
    if (soft->leader != RAFT_NONE) {
        /* Requests that waited for a leader go now. */
        struct srv_wait *list = s->wait_leader;
        s->wait_leader = NULL;
        while (list != NULL) {
            struct srv_wait *w = list;
            list = w->next;
            s->parked--;
            srv_kv_redispatch(s, w);
        }
        struct srv_wait **pp = &s->transfers;
        while (*pp != NULL) {
            struct srv_wait *w = *pp;
            if (w->index == soft->leader) {
                *pp = w->next;
                s->parked--;
                srv_kv_conf_applied(s, w);
                srv_wait_free(w);
            } else {
                pp = &w->next;
            }
        }
    }
}

static void apply_conf_change(struct srv *s, const struct raft_entry *e)
{
    struct raft_conf_change cc;
    if (raft_conf_change_decode(e->data, e->len, &cc) != 0) {
        ms_error("conf change entry %llu does not decode; skipped",
                 (unsigned long long)e->index);
        return;
    }
    (void)raft_conf_apply(&s->applied_conf, &cc);
    srv_members_apply(&s->members, &cc, &s->cfg);
    const struct srv_member_info *m = srv_members_get(&s->members, cc.id);
    static const char *const what[] = {"added voter", "added learner",
                                       "removed"};
    ms_info("membership: %s node %llu%s%s (entry %llu)",
            cc.type <= RAFT_CC_REMOVE ? what[cc.type] : "changed",
            (unsigned long long)cc.id, m != NULL ? " at " : "",
            m != NULL ? m->peer_addr : "", (unsigned long long)e->index);
    if (cc.type == RAFT_CC_REMOVE) {
        peer_removed(s, cc.id);
        if (cc.id == s->cfg.node.id) {
            ms_warn("this node was removed from the cluster");
        }
    } else {
        sync_peers(s);
    }
}

static void apply_committed(struct srv *s, const struct raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        if (e->index <= engine_applied_index(s->eng)) {
            /* Already in a persistent engine (restart): only the member
             * table, rebuilt from the snapshot, needs the change again. */
            if (e->type == RAFT_ENTRY_CONF_CHANGE) {
                apply_conf_change(s, e);
            }
            s->applied_term = e->term;
            continue;
        }
        struct srv_wait *w = NULL;
        while (s->proposals_head != NULL &&
               s->proposals_head->index <= e->index) {
            struct srv_wait *h = s->proposals_head;
            s->proposals_head = h->next;
            if (s->proposals_head == NULL) {
                s->proposals_tail = NULL;
            }
            if (h->index == e->index && h->term == e->term) {
                s->parked--;
                w = h;
                break;
            }
            wait_fail(s, h, SRV_STATUS_UNAVAILABLE,
                      "leadership changed before the write committed; it was "
                      "not applied, retry");
        }
        int rv = 0;
        if (e->type == RAFT_ENTRY_CONF_CHANGE) {
            apply_conf_change(s, e);
            rv = engine_mark_applied(s->eng, e->index);
            if (w != NULL) {
                srv_kv_conf_applied(s, w);
            }
        } else {
            rv = srv_kv_apply(s, e, w);
        }
        srv_watch_applied(s);
        if (w != NULL) {
            srv_wait_free(w);
        }
        if (rv != 0) {
            fatal(s, "applying a committed entry", engine_strerror(rv));
            return;
        }
        s->applied_term = e->term;
    }
}

static void enqueue_persist(struct srv *s, struct srv_persist *p)
{
    p->next = NULL;
    if (s->persist_tail != NULL) {
        s->persist_tail->next = p;
    } else {
        s->persist_head = p;
    }
    s->persist_tail = p;
}

static void send_messages(struct srv *s, const struct raft_message *m,
                          size_t n)
{
    /* Unknown or unreachable peers: the transport drops, Raft retries. */
    for (size_t i = 0; i < n && s->peers != NULL; i++) {
        peer_transport_send(s->peers, &m[i]);
    }
}

static void persist_pump(struct srv *s);

static int take_ready(struct srv *s)
{
    struct srv_persist *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return RAFT_ENOMEM;
    }
    int rv = raft_ready(s->raft, &p->rd);
    if (rv != 0) {
        free(p);
        return rv;
    }
    struct raft_ready *rd = &p->rd;
    if (rd->soft_changed) {
        handle_soft(s, &rd->soft);
    }
    send_messages(s, rd->msgs, rd->n_msgs);

    bool writes = false;
    if (rd->has_chunk) {
        rv = srv_snapshot_receive(s, &rd->chunk);
    }
    if (rv == 0 && rd->has_snapshot) {
        rv = srv_snapshot_install(s, &rd->snapshot);
        srv_watch_applied(s); /* watchers catch up from the new state */
        writes = true;
        /* Waiting proposals at or below the snapshot: outcome unknown. */
        while (rv == 0 && s->proposals_head != NULL &&
               s->proposals_head->index <= rd->snapshot.index) {
            struct srv_wait *h = s->proposals_head;
            s->proposals_head = h->next;
            if (s->proposals_head == NULL) {
                s->proposals_tail = NULL;
            }
            wait_fail(s, h, SRV_STATUS_UNAVAILABLE,
                      "replaced by a snapshot; the write may have applied");
        }
        if (rv == 0) {
            sync_peers(s);
        }
    }
    if (rv != 0) {
        raft_ready_free(rd);
        free(p);
        fatal(s, "installing a snapshot from the leader",
              srv_logstore_strerror(rv));
        return 0;
    }
    if (rd->has_hard_state) {
        rv = srv_logstore_set_hard_state(s->log, &rd->hs);
        writes = true;
    }
    if (rv == 0 && rd->n_entries > 0) {
        rv = srv_logstore_append(s->log, rd->entries, rd->n_entries);
        s->buffered_entries += rd->n_entries;
        writes = true;
    }
    if (rv != 0) {
        raft_ready_free(rd);
        free(p);
        fatal(s, "buffering log records", srv_logstore_strerror(rv));
        return 0;
    }
    p->gen = writes ? s->sync_gen_next : 0;

    apply_committed(s, rd);
    for (size_t i = 0; i < rd->n_reads; i++) {
        srv_reads_on_read_state(s, &rd->reads[i]);
    }
    srv_reads_on_applied(s);
    raft_advance(s->raft, rd);
    (void)lease_update_from_raft(&s->lease, s->raft, srv_now_ns());

    if (!writes && rd->n_msgs_after_persist == 0 && s->persist_head == NULL) {
        raft_ready_free(rd);
        free(p);
    } else {
        enqueue_persist(s, p);
    }
    return 0;
}

void srv_node_process(struct srv *s)
{
    if (s->failed || s->raft == NULL) {
        return;
    }
    /* Reads parked since the last turn share one ReadIndex round. */
    srv_reads_start_rounds(s);
    while (raft_has_ready(s->raft)) {
        int rv = take_ready(s);
        if (rv != 0) {
            fatal(s, "processing a Raft ready batch", raft_strerror(rv));
            return;
        }
        if (s->failed) {
            return;
        }
        /* Reads a batch woke up (a leader became known) go now too. */
        srv_reads_start_rounds(s);
    }
    persist_pump(s);
    if (s->cfg.raft.snapshot_entries > 0 &&
        engine_applied_index(s->eng) >=
            s->last_snapshot_index + s->cfg.raft.snapshot_entries &&
        !s->sync_inflight) {
        int rv = srv_snapshot_take(s);
        if (rv != 0) {
            ms_warn("snapshot failed: %s (will retry)", srv_logstore_strerror(rv));
        }
    }
}

/* ---- group commit --------------------------------------------------------- */

static void sync_work(uv_work_t *req)
{
    struct srv *s = req->data;
    s->sync_result = srv_logstore_sync_prepared(s->log);
}

static void complete_batch(struct srv *s, struct srv_persist *p)
{
    struct raft_ready *rd = &p->rd;
    int rv = 0;
    if (rd->has_snapshot) {
        struct raft_snapshot_meta m = rd->snapshot;
        m.size = 0; /* the data is in the snapshot file */
        rv = raft_memstore_set_snapshot(s->ms, &m, NULL);
    }
    if (rv == 0 && rd->has_hard_state) {
        rv = raft_memstore_set_hard_state(s->ms, &rd->hs);
    }
    if (rv == 0 && rd->n_entries > 0) {
        rv = raft_memstore_append(s->ms, rd->entries, rd->n_entries);
    }
    if (rv != 0) {
        fatal(s, "updating the in-memory log", raft_strerror(rv));
    } else {
        send_messages(s, rd->msgs_after_persist, rd->n_msgs_after_persist);
        if (rd->persist_index != 0) {
            raft_persisted(s->raft, rd->persist_index, rd->persist_term,
                           srv_now_ns());
        }
    }
    raft_ready_free(rd);
    free(p);
}

static void sync_done(uv_work_t *req, int status)
{
    struct srv *s = req->data;
    int rv = srv_logstore_sync_done(s->log);
    s->sync_inflight = false;
    s->stats.fsyncs++;
    uint64_t took_ns = srv_now_ns() - s->sync_start_ns;
    uint64_t took_ms = took_ns / 1000000u;
    srv_hist_record_ns(&s->stats.sync_ns, took_ns);
    srv_hist_record_count(&s->stats.sync_entries, s->sync_entries);
    if (took_ms > 1000) {
        ms_warn("slow log sync: %llu ms", (unsigned long long)took_ms);
    }
    if (status != 0 || rv != 0) {
        fatal(s, "syncing the log", srv_logstore_strerror(rv != 0 ? rv : status));
        return;
    }
    s->sync_gen_done = s->sync_gen_next - 1;
    srv_node_process(s);
    srv_node_flush(s);
}

/* Completes durable batches in order and starts the next sync. */
static void persist_pump(struct srv *s)
{
    while (s->persist_head != NULL && !s->failed &&
           s->persist_head->gen <= s->sync_gen_done) {
        struct srv_persist *p = s->persist_head;
        s->persist_head = p->next;
        if (s->persist_head == NULL) {
            s->persist_tail = NULL;
        }
        complete_batch(s, p);
    }
    if (s->failed || s->sync_inflight || !srv_logstore_has_pending(s->log)) {
        return;
    }
    int rv = srv_logstore_prepare_sync(s->log);
    if (rv < 0) {
        fatal(s, "starting a log sync", srv_logstore_strerror(rv));
        return;
    }
    if (rv == 0) {
        return;
    }
    s->sync_gen_next++;
    s->sync_inflight = true;
    s->sync_entries = s->buffered_entries;
    s->buffered_entries = 0;
    s->sync_start_ns = srv_now_ns();
    s->sync_work.data = s;
    rv = uv_queue_work(s->loop, &s->sync_work, sync_work, sync_done);
    if (rv != 0) {
        s->sync_inflight = false;
        fatal(s, "queueing a log sync", uv_strerror(rv));
    }
}

bool srv_node_quiesced(const struct srv *s)
{
    return !s->sync_inflight && s->persist_head == NULL;
}

/* ---- start and stop ----------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    struct srv *s = t->data;
    uint64_t now = srv_now_ns();
    raft_tick(s->raft, now);
    (void)lease_update_from_raft(&s->lease, s->raft, now);
    lease_tick(&s->lease, now);
    expire_waits(s, now);
    srv_ttl_tick(s, now); /* TTL leases: leader expiry and checkpoints */
    srv_autocompact_tick(s, now); /* compaction.mode: leader compacts */
    if (engine_rocksdb_is(s->eng) && engine_rocksdb_compact_pending(s->eng)) {
        /* Compaction's physical deletes, a bounded slice per tick. */
        int rv = engine_rocksdb_compact_step(s->eng, 2000);
        if (rv < 0) {
            ms_warn("background compaction step failed: %s",
                    engine_strerror(rv));
        }
    }
    srv_node_process(s);
    srv_node_flush(s);
}

static void on_prepare(uv_prepare_t *h)
{
    struct srv *s = h->data;
    srv_node_process(s);
    srv_node_flush(s);
}

void srv_node_flush(struct srv *s)
{
    if (s->peers != NULL) {
        peer_transport_flush(s->peers);
    }
    srv_watch_pump(s);
    srv_conn_flush_all(s);
}

void srv_node_renew_lease(struct srv *s, uint64_t now_ns)
{
    if (raft_heartbeat(s->raft, now_ns) == 0) {
        s->stats.early_renewals++;
    }
}

/*
 * A follower asks for a read index.  While this leader holds a valid lease
 * no other leader can exist, so its commit index is the answer and the
 * heartbeat round the core would run is saved.
 */
static bool answer_read_index_from_lease(struct srv *s,
                                         const struct raft_message *m,
                                         uint64_t now)
{
    if (m->type != RAFT_MSG_READ_INDEX || s->peers == NULL ||
        raft_role_of(s->raft) != RAFT_LEADER ||
        m->term != raft_term_of(s->raft) || !s->cfg.lease_read.enable ||
        s->cfg.lease_read.read_mode != SRV_READ_MODE_LEASE ||
        !lease_valid(&s->lease, now)) {
        return false;
    }
    struct raft_message resp;
    memset(&resp, 0, sizeof resp);
    resp.type = RAFT_MSG_READ_INDEX_RESP;
    resp.from = s->cfg.node.id;
    resp.to = m->from;
    resp.term = raft_term_of(s->raft);
    resp.ctx = m->ctx;
    resp.index = raft_commit_index(s->raft);
    peer_transport_send(s->peers, &resp);
    s->stats.lease_answered_follower++;
    if (lease_should_renew_early(&s->lease, now)) {
        srv_node_renew_lease(s, now);
    }
    return true;
}

static void on_peer_message(void *data, const struct raft_message *m)
{
    struct srv *s = data;
    if (s->raft == NULL || s->failed) {
        return;
    }
    uint64_t now = srv_now_ns();
    if (answer_read_index_from_lease(s, m, now)) {
        return;
    }
    int rv = raft_step(s->raft, m, now);
    if (rv != 0) {
        ms_debug("dropped a message from node %llu: %s",
                 (unsigned long long)m->from, raft_strerror(rv));
    }
}

static void on_peer_forward(void *data, raft_id from, uint16_t method,
                            const uint8_t *body, size_t len,
                            uint64_t timeout_ms,
                            struct peer_forward_token *token)
{
    struct srv *s = data;
    (void)timeout_ms;
    struct srv_conn *c = srv_conn_forwarded(s, token);
    if (c == NULL) {
        /* Out of memory: answer with a real ErrorDetail. */
        Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
        e.code = METASTORE__STATUS_CODE__UNAVAILABLE;
        e.message = "the leader is out of memory; retry";
        uint8_t buf[128];
        size_t n = metastore__error_detail__pack(&e, buf);
        peer_forward_reply(s->peers, token, true, buf, n);
        return;
    }
    ms_debug("request %s forwarded by node %llu", srv_method_name(method),
             (unsigned long long)from);
    srv_kv_dispatch(s, c, method, 0, body, len);
}

static int start_peers(struct srv *s)
{
    struct peer_callbacks cb = {.data = s,
                                .on_message = on_peer_message,
                                .on_forward = on_peer_forward};
    struct peer_transport_options o;
    peer_transport_options_default(&o);
    o.max_frame_bytes = (uint32_t)(s->cfg.raft.max_msg_bytes + (1u << 20));
    o.version = METASTORE_VERSION;
    o.tls = s->peer_tls;
    int rv = peer_transport_create(s->loop, s->cfg.node.id, s->cluster_id,
                                   s->cfg.server.peer_listen, &cb, &o,
                                   &s->peers);
    if (rv != 0) {
        return rv; /* peer_transport_create() logged why */
    }
    /* Before the log says who is in the cluster, the configured members
     * are the peers to talk to (a joining node finds the leader this way). */
    for (uint32_t i = 0; i < s->cfg.cluster.n_members; i++) {
        const struct srv_member *m = &s->cfg.cluster.members[i];
        if (m->id != s->cfg.node.id && srv_members_get(&s->members, m->id) == NULL) {
            (void)peer_transport_set_peer(s->peers, m->id, m->peer_addr);
        }
    }
    sync_peers(s);
    return 0;
}

void srv_node_close_peers(struct srv *s)
{
    if (s->peers != NULL) {
        peer_transport_close(s->peers, NULL, NULL);
        s->peers = NULL;
    }
}

static void trace(void *data, raft_id id, raft_term term, const char *msg)
{
    (void)data;
    (void)id;
    (void)term;
    ms_debug("raft: %s", msg);
}

int srv_node_start(struct srv *s)
{
    struct raft_conf boot;
    memset(&boot, 0, sizeof boot);
    for (uint32_t i = 0; i < s->cfg.cluster.n_members; i++) {
        boot.members[boot.n].id = s->cfg.cluster.members[i].id;
        boot.members[boot.n].learner = false;
        boot.n++;
    }
    struct raft_config rc;
    memset(&rc, 0, sizeof rc);
    rc.id = s->cfg.node.id;
    rc.storage = s->storage;
    rc.election_tick = srv_config_election_ticks(&s->cfg);
    rc.heartbeat_tick = srv_config_heartbeat_ticks(&s->cfg);
    rc.pre_vote = s->cfg.raft.pre_vote;
    rc.check_quorum = s->cfg.raft.check_quorum;
    rc.max_inflight = (unsigned)s->cfg.raft.max_inflight;
    rc.max_msg_bytes = s->cfg.raft.max_msg_bytes;
    rc.seed = srv_now_ns() ^ s->cfg.node.id;
    rc.bootstrap = s->cfg.cluster.join ? NULL : &boot;
    rc.trace = trace;
    int rv = raft_create(&rc, &s->raft);
    if (rv != 0) {
        ms_error("cannot start Raft: %s", raft_strerror(rv));
        return rv;
    }
    rv = start_peers(s);
    if (rv != 0) {
        return rv;
    }
    struct lease_config lc = {
        .duration_ns = s->cfg.lease_read.enable
                           ? srv_config_lease_duration_ms(&s->cfg) * 1000000u
                           : 0,
        .clock_drift_ns = s->cfg.lease_read.clock_drift_ms * 1000000u};
    (void)lease_init(&s->lease, &lc);
    for (int i = 0; i < SRV_PATH_COUNT; i++) {
        lease_hist_init(&s->stats.read_latency[i]);
    }
    if (lc.duration_ns > 0) {
        ms_info("lease reads on: lease %llu ms, clock drift bound %llu ms",
                (unsigned long long)(lc.duration_ns / 1000000u),
                (unsigned long long)s->cfg.lease_read.clock_drift_ms);
    } else {
        ms_info("lease reads off: every linearizable read takes a ReadIndex "
                "round");
    }
    s->last_role = RAFT_FOLLOWER;
    s->sync_gen_next = 1;
    s->sync_gen_done = 0;
    rv = srv_reads_init(s);
    if (rv != 0) {
        return rv;
    }

    /* A lone voter need not wait out an election timeout. */
    const struct raft_conf *conf = raft_conf_of(s->raft);
    const struct raft_member *me = raft_conf_find(conf, s->cfg.node.id);
    if (raft_conf_voters(conf) == 1 && me != NULL && !me->learner) {
        (void)raft_campaign(s->raft, srv_now_ns());
    }

    uv_timer_init(s->loop, &s->tick_timer);
    s->tick_timer.data = s;
    uv_timer_start(&s->tick_timer, on_tick, s->cfg.raft.tick_interval_ms,
                   s->cfg.raft.tick_interval_ms);
    uv_prepare_init(s->loop, &s->prepare);
    s->prepare.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    srv_node_process(s);
    return 0;
}

void srv_node_stop(struct srv *s)
{
    uv_timer_stop(&s->tick_timer);
}
