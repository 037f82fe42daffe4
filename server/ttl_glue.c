/*
 * ttl_glue.c - TTL leases in metastored (see ttl_glue.h): requests, apply,
 * the leader's expiry timer, checkpoints, snapshots and restarts around the
 * pure lease table of ttl.c.
 *
 * Happy path: a Grant is validated, proposed like a write and applied on
 * every node (ttl_apply_grant picks the same id everywhere); a Put with the
 * lease attaches its key; the leader renews the lease on each KeepAlive.
 * When the leader's clock says a lease is over, it proposes an expiry
 * entry; applying it (on every node, in log order) removes the lease and
 * deletes its keys in one engine transaction, so at one revision.
 *
 * Failure modes: malformed or out-of-range requests are refused before
 * they are proposed; outcomes decided at apply (unknown lease, taken id,
 * too many leases) are the same on every replica and answered with a
 * status; out of memory while applying stops the node (a replica that
 * skipped an entry would diverge).  A lease request on a follower is
 * forwarded to the leader or refused with NOT_LEADER, as writes are; a
 * leader whose first entry of its term has not applied yet answers
 * UNAVAILABLE (its table may be behind).
 */
#include "server/ttl_glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/snapsection.h"
#include "server/status.h"
#include "storage/rocksdb.h"
#include "storage/wal.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull
/* Leases named per expiry scan and per checkpoint entry. */
#define EXPIRE_BATCH     64
#define CHECKPOINT_BATCH 512
/* Snapshot section: magic, u64 length, ttl_save() image. */
static const char SNAP_MAGIC[8] = {'M', 'S', 'T', 'T', 'L', '0', '0', '1'};

/* ---- open, close -------------------------------------------------------- */

int srv_ttl_open(struct srv *s)
{
    struct srv_ttl *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return -ENOMEM;
    }
    struct ttl_config tc;
    ttl_config_default(&tc);
    /* A lease shorter than an election could expire while the cluster has
     * no leader to renew it: the minimum is at least the election timeout. */
    uint64_t min_ms = s->cfg.ttl.min_ttl_ms;
    if (min_ms < s->cfg.raft.election_timeout_ms) {
        min_ms = s->cfg.raft.election_timeout_ms;
    }
    tc.min_ttl_s = (int64_t)((min_ms + 999) / 1000);
    tc.max_ttl_s = (int64_t)(s->cfg.ttl.max_ttl_ms / 1000);
    tc.max_leases = (size_t)s->cfg.ttl.max_leases;
    int rv = ttl_create(&tc, &g->t);
    if (rv != 0) {
        free(g);
        return rv;
    }
    g->checkpoint_interval_ns = s->cfg.ttl.checkpoint_interval_ms * NS_PER_MS;
    g->election_ns = (int64_t)(s->cfg.raft.election_timeout_ms * NS_PER_MS);
    s->ttl = g;
    return 0;
}

void srv_ttl_close(struct srv *s)
{
    if (s->ttl != NULL) {
        ttl_destroy(s->ttl->t);
        free(s->ttl);
        s->ttl = NULL;
    }
}

/* ---- persistence (RocksDB: the aux blob) ---------------------------------- */

/* Stages the table to be written with the engine's next applied index. */
static int stage_table(struct srv *s)
{
    if (!engine_rocksdb_is(s->eng)) {
        return 0; /* the WAL and snapshots carry it */
    }
    uint8_t *img;
    size_t len;
    /* Without keys: a restart re-attaches them from the engine. */
    int rv = ttl_save_leases(s->ttl->t, &img, &len);
    if (rv != 0) {
        return ENGINE_ENOMEM;
    }
    rv = engine_rocksdb_aux_stage(s->eng, img, len);
    free(img);
    return rv;
}

/* Detaches every key from every lease (the leases stay). */
static int detach_all(struct ttl *t)
{
    size_t n = ttl_count(t);
    int64_t *ids = calloc(n > 0 ? n : 1, sizeof *ids);
    if (ids == NULL) {
        return -ENOMEM;
    }
    ttl_list(t, ids, n);
    for (size_t i = 0; i < n; i++) {
        struct ttl_keys keys;
        if (ttl_time_to_live(t, ids[i], 0, NULL, &keys) == 0) {
            for (size_t k = 0; k < keys.n; k++) {
                (void)ttl_apply_detach(t, keys.v[k].key, keys.v[k].len);
            }
            ttl_keys_free(&keys);
        }
    }
    free(ids);
    return 0;
}

/* Detaches every key, then attaches each live key to the lease its engine
 * record names: the engine's lease fields are written atomically with the
 * data, so they are the truth after a restart (the aux blob's key lists
 * may be older than the newest Put). */
static int reattach_from_engine(struct srv *s)
{
    struct ttl *t = s->ttl->t;
    if (detach_all(t) != 0) {
        return -ENOMEM;
    }
    uint8_t *start = calloc(1, ENGINE_MAX_KEY_BYTES + 1); /* next key */
    if (start == NULL) {
        return -ENOMEM;
    }
    size_t start_len = 1;
    static const uint8_t all = 0;
    size_t attached = 0, orphans = 0;
    for (;;) {
        struct engine_range_req q = {.key = start,
                                     .key_len = start_len,
                                     .range_end = &all,
                                     .range_end_len = 1,
                                     .limit = 1000};
        struct engine_range_result res;
        int rv = engine_range(s->eng, &q, &s->arena, &res);
        if (rv != 0) {
            engine_arena_reset(&s->arena);
            free(start);
            return rv;
        }
        for (size_t i = 0; i < res.kvs_len; i++) {
            const struct engine_kv *kv = &res.kvs[i];
            if (kv->lease == 0) {
                continue;
            }
            if (ttl_apply_attach(t, kv->key, kv->key_len, kv->lease) == 0) {
                attached++;
            } else {
                orphans++;
            }
        }
        bool more = res.more && res.kvs_len > 0;
        if (more) {
            const struct engine_kv *last = &res.kvs[res.kvs_len - 1];
            memcpy(start, last->key, last->key_len);
            start[last->key_len] = 0; /* the next key after it */
            start_len = last->key_len + 1;
        }
        engine_arena_reset(&s->arena);
        if (!more) {
            break;
        }
    }
    free(start);
    if (orphans > 0) {
        ms_warn("%zu key(s) name a lease that does not exist; left unattached",
                orphans);
    }
    ms_info("TTL leases: %zu lease(s), %zu attached key(s) after restart",
            ttl_count(t), attached);
    return 0;
}

int srv_ttl_recover(struct srv *s)
{
    if (!engine_rocksdb_is(s->eng)) {
        if (ttl_count(s->ttl->t) > 0) {
            ms_info("TTL leases: %zu lease(s) from the snapshot",
                    ttl_count(s->ttl->t));
        }
        return 0; /* the WAL replays everything after the snapshot */
    }
    const void *img;
    size_t len;
    int rv = engine_rocksdb_aux_get(s->eng, &s->arena, &img, &len);
    if (rv == 0) {
        rv = ttl_load(s->ttl->t, img, len);
        if (rv != 0) {
            ms_error("the TTL lease table in the RocksDB engine is unreadable: "
                     "%s",
                     ttl_strerror(rv));
        }
    } else if (rv == ENGINE_ENOTFOUND) {
        rv = 0; /* never written: no lease was ever granted */
    } else {
        ms_error("cannot read the TTL lease table: %s", engine_strerror(rv));
    }
    engine_arena_reset(&s->arena);
    return rv == 0 ? reattach_from_engine(s) : rv;
}

/* ---- checkpoint entry body ------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

size_t srv_ttl_checkpoint_encode(const struct ttl_checkpoint *cp, size_t n,
                                 uint8_t *out)
{
    put_le(out, n, 4);
    for (size_t i = 0; i < n; i++) {
        put_le(out + 4 + 16 * i, (uint64_t)cp[i].id, 8);
        put_le(out + 12 + 16 * i, (uint64_t)cp[i].remaining_ms, 8);
    }
    return 4 + 16 * n;
}

long srv_ttl_checkpoint_decode(const uint8_t *in, size_t len,
                               struct ttl_checkpoint *cp, size_t cap)
{
    if (len < 4) {
        return -1;
    }
    uint64_t n = get_le(in, 4);
    if (n > cap || len != 4 + 16 * n) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        cp[i].id = (int64_t)get_le(in + 4 + 16 * i, 8);
        cp[i].remaining_ms = (int64_t)get_le(in + 12 + 16 * i, 8);
        if (cp[i].id <= 0 || cp[i].remaining_ms < 0) {
            return -1;
        }
    }
    return (long)n;
}

/* ---- validation ----------------------------------------------------------- */

bool srv_ttl_validate(struct srv *s, uint16_t method, const uint8_t *body,
                      size_t len, int *status, char *msg, size_t cap)
{
    *status = SRV_STATUS_INVALID_ARGUMENT;
    if (method == SRV_METHOD_LEASE_REVOKE) {
        Metastore__LeaseRevokeRequest *r =
            metastore__lease_revoke_request__unpack(NULL, len, body);
        if (r == NULL) {
            snprintf(msg, cap, "body is not a valid LeaseRevokeRequest");
            return false;
        }
        metastore__lease_revoke_request__free_unpacked(r, NULL);
        return true;
    }
    Metastore__LeaseGrantRequest *r =
        metastore__lease_grant_request__unpack(NULL, len, body);
    if (r == NULL) {
        snprintf(msg, cap, "body is not a valid LeaseGrantRequest");
        return false;
    }
    bool ok = true;
    int64_t max_s = (int64_t)(s->cfg.ttl.max_ttl_ms / 1000);
    if (r->id < 0) {
        ok = false;
        snprintf(msg, cap, "lease id must not be negative");
    } else if (r->ttl > max_s) {
        ok = false;
        snprintf(msg, cap, "lease TTL %lld s is too large (ttl.max_ttl is %lld s)",
                 (long long)r->ttl, (long long)max_s);
    }
    metastore__lease_grant_request__free_unpacked(r, NULL);
    return ok;
}

/* ---- apply ------------------------------------------------------------------ */

bool srv_ttl_owns_entry(uint16_t method)
{
    return method == SRV_METHOD_LEASE_GRANT ||
           method == SRV_METHOD_LEASE_REVOKE ||
           method == SRV_TTL_ENTRY_EXPIRE ||
           method == SRV_TTL_ENTRY_CHECKPOINT;
}

bool srv_ttl_lease_ok(struct srv *s, int64_t lease)
{
    return lease == 0 || ttl_exists(s->ttl->t, lease);
}

bool srv_ttl_active(struct srv *s)
{
    return ttl_count(s->ttl->t) > 0;
}

int srv_ttl_after_put(struct srv *s, const struct engine_put_req *q)
{
    if (q->ignore_lease) {
        return 0; /* the key keeps its lease */
    }
    if (q->lease == 0 && !srv_ttl_active(s)) {
        return 0;
    }
    int rv = ttl_apply_attach(s->ttl->t, q->key, q->key_len, q->lease);
    return rv == TTL_ENOMEM ? ENGINE_ENOMEM : 0;
}

int srv_ttl_after_delete(struct srv *s, const struct engine_delete_result *r)
{
    for (size_t i = 0; i < r->prev_kvs_len; i++) {
        if (r->prev_kvs[i].lease != 0) {
            (void)ttl_apply_detach(s->ttl->t, r->prev_kvs[i].key,
                                   r->prev_kvs[i].key_len);
        }
    }
    return 0;
}

static Metastore__ResponseHeader *header(struct srv *s)
{
    Metastore__ResponseHeader *h =
        engine_arena_alloc(&s->arena, sizeof *h);
    if (h != NULL) {
        srv_fill_header(s, h);
    }
    return h;
}

static void reply(struct srv *s, struct srv_wait *w, int status,
                  const char *msg, ProtobufCMessage *resp)
{
    if (w == NULL) {
        return;
    }
    struct srv_reply r = {.status = status, .resp = resp};
    if (status != SRV_STATUS_OK) {
        srv_conn_reply_error(s, w->conn, w->method, w->request_id, status, msg);
        return;
    }
    srv_conn_reply(s, w->conn, w->method, w->request_id, &r);
}

static int grant_status(int rv)
{
    switch (rv) {
    case TTL_EEXIST:
        return SRV_STATUS_FAILED_PRECONDITION;
    case TTL_ETOOMANY:
        return SRV_STATUS_RESOURCE_EXHAUSTED;
    default:
        return SRV_STATUS_INVALID_ARGUMENT;
    }
}

static int apply_grant(struct srv *s, uint64_t index, const uint8_t *body,
                       size_t len, struct srv_wait *w)
{
    Metastore__LeaseGrantRequest *r =
        metastore__lease_grant_request__unpack(NULL, len, body);
    int64_t id = 0, ttl_s = 0;
    int rv = r == NULL ? TTL_EINVAL
                       : ttl_apply_grant(s->ttl->t, index, r->id, r->ttl,
                                         (int64_t)srv_now_ns(), &id, &ttl_s);
    if (r != NULL) {
        metastore__lease_grant_request__free_unpacked(r, NULL);
    }
    if (rv == TTL_ENOMEM) {
        return ENGINE_ENOMEM;
    }
    int erv = rv == 0 ? stage_table(s) : 0;
    if (erv == 0) {
        erv = engine_mark_applied(s->eng, index);
    }
    if (erv != 0) {
        return erv;
    }
    if (rv != 0) {
        reply(s, w, grant_status(rv), ttl_strerror(rv), NULL);
        return 0;
    }
    s->ttl->stats.grants++;
    Metastore__LeaseGrantResponse p = METASTORE__LEASE_GRANT_RESPONSE__INIT;
    p.header = header(s);
    p.id = id;
    p.ttl = ttl_s;
    reply(s, w, SRV_STATUS_OK, NULL, &p.base);
    return 0;
}

/* Deletes exactly `keys` in one transaction: one revision for all. */
static int delete_keys(struct srv *s, uint64_t index,
                       const struct ttl_keys *keys)
{
    if (keys->n == 0) {
        return engine_mark_applied(s->eng, index);
    }
    struct engine_op *ops = calloc(keys->n, sizeof *ops);
    if (ops == NULL) {
        return ENGINE_ENOMEM;
    }
    for (size_t i = 0; i < keys->n; i++) {
        ops[i].type = ENGINE_OP_DELETE;
        ops[i].u.del.key = keys->v[i].key;
        ops[i].u.del.key_len = keys->v[i].len;
        ops[i].u.del.prev_kv = srv_watch_wants_events(s); /* watch events */
    }
    struct engine_txn_req req = {.success = ops, .success_len = keys->n};
    struct engine_txn_result res;
    /* The engine's op limit is the client's txn limit; a lease may hold
     * more keys than that, and its revoke must still be one revision. */
    int saved = s->eng->max_txn_ops;
    if ((size_t)saved < keys->n) {
        s->eng->max_txn_ops = (int)keys->n;
    }
    int rv = engine_txn(s->eng, index, &req, &s->arena, &res);
    s->eng->max_txn_ops = saved;
    if (rv == 0) {
        srv_watch_txn_applied(s, ops, &res); /* one revision, every key */
    }
    free(ops);
    return rv;
}

static int apply_revoke(struct srv *s, uint64_t index, uint16_t method,
                        const uint8_t *body, size_t len, struct srv_wait *w)
{
    Metastore__LeaseRevokeRequest *r =
        metastore__lease_revoke_request__unpack(NULL, len, body);
    int64_t id = r != NULL ? r->id : 0;
    if (r != NULL) {
        metastore__lease_revoke_request__free_unpacked(r, NULL);
    }
    struct ttl_keys keys = {0};
    int rv = ttl_apply_revoke(s->ttl->t, id, &keys);
    if (rv == TTL_ENOMEM) {
        return ENGINE_ENOMEM;
    }
    if (rv != 0) {
        int erv = engine_mark_applied(s->eng, index);
        if (erv == 0) {
            reply(s, w, SRV_STATUS_NOT_FOUND, ttl_strerror(TTL_ENOTFOUND),
                  NULL);
        }
        return erv;
    }
    int erv = stage_table(s);
    if (erv == 0) {
        erv = delete_keys(s, index, &keys);
    }
    if (erv == 0) {
        ms_debug("lease %llx %s: %zu key(s) deleted", (unsigned long long)id,
                 method == SRV_TTL_ENTRY_EXPIRE ? "expired" : "revoked",
                 keys.n);
    }
    ttl_keys_free(&keys);
    if (erv != 0) {
        return erv;
    }
    if (method == SRV_TTL_ENTRY_EXPIRE) {
        s->ttl->stats.expiries++;
    } else {
        s->ttl->stats.revokes++;
    }
    Metastore__LeaseRevokeResponse p = METASTORE__LEASE_REVOKE_RESPONSE__INIT;
    p.header = header(s);
    reply(s, w, SRV_STATUS_OK, NULL, &p.base);
    return 0;
}

static int apply_checkpoint(struct srv *s, uint64_t index, const uint8_t *body,
                            size_t len)
{
    struct ttl_checkpoint cp[CHECKPOINT_BATCH];
    long n = srv_ttl_checkpoint_decode(body, len, cp, CHECKPOINT_BATCH);
    if (n < 0) {
        ms_error("checkpoint entry %llu is malformed; skipped",
                 (unsigned long long)index);
        n = 0;
    }
    for (long i = 0; i < n; i++) {
        (void)ttl_apply_checkpoint(s->ttl->t, cp[i].id, cp[i].remaining_ms);
    }
    int rv = n > 0 ? stage_table(s) : 0;
    return rv == 0 ? engine_mark_applied(s->eng, index) : rv;
}

int srv_ttl_apply(struct srv *s, uint64_t index, uint16_t method,
                  const uint8_t *body, size_t len, struct srv_wait *w)
{
    switch (method) {
    case SRV_METHOD_LEASE_GRANT:
        return apply_grant(s, index, body, len, w);
    case SRV_METHOD_LEASE_REVOKE:
    case SRV_TTL_ENTRY_EXPIRE:
        return apply_revoke(s, index, method, body, len, w);
    default:
        return apply_checkpoint(s, index, body, len);
    }
}

/* ---- the leader -------------------------------------------------------------- */

/* Follows this node's role: timekeeping starts once the first entry of the
 * leader's term has applied (the table is then complete) and stops when
 * leadership is lost or the term moves on. */
static void sync_role(struct srv *s, uint64_t now)
{
    struct srv_ttl *g = s->ttl;
    bool leader = s->raft != NULL && raft_role_of(s->raft) == RAFT_LEADER;
    uint64_t term = leader ? raft_term_of(s->raft) : 0;
    if (ttl_is_leader(g->t) && (!leader || term != g->leader_term)) {
        ttl_become_follower(g->t);
        g->leader_term = 0;
    }
    if (leader && !ttl_is_leader(g->t) && s->applied_term == term) {
        (void)ttl_become_leader(g->t, (int64_t)now, g->election_ns);
        g->leader_term = term;
        g->last_checkpoint_ns = now;
        if (ttl_count(g->t) > 0) {
            ms_info("TTL leases: leading %zu lease(s), each extended by the "
                    "election timeout",
                    ttl_count(g->t));
        }
    }
}

static void propose_checkpoints(struct srv *s, const struct ttl_checkpoint *cp,
                                size_t n)
{
    uint8_t *buf = malloc(4 + 16 * n);
    if (buf == NULL) {
        return; /* the next interval tries again */
    }
    size_t len = srv_ttl_checkpoint_encode(cp, n, buf);
    if (srv_kv_propose_internal(s, SRV_TTL_ENTRY_CHECKPOINT, buf, len) == 0) {
        s->ttl->stats.checkpoints++;
    }
    free(buf);
}

static void checkpoint_all(struct srv *s, uint64_t now)
{
    static struct ttl_checkpoint cp[CHECKPOINT_BATCH];
    int64_t after = 0;
    size_t n;
    while ((n = ttl_checkpoints(s->ttl->t, (int64_t)now, after, cp,
                                CHECKPOINT_BATCH)) > 0) {
        propose_checkpoints(s, cp, n);
        after = cp[n - 1].id;
    }
}

void srv_ttl_tick(struct srv *s, uint64_t now)
{
    struct srv_ttl *g = s->ttl;
    if (g == NULL || s->failed) {
        return;
    }
    sync_role(s, now);
    if (!ttl_is_leader(g->t)) {
        return;
    }
    int64_t ids[EXPIRE_BATCH];
    size_t n = ttl_expired(g->t, (int64_t)now, ids, EXPIRE_BATCH);
    for (size_t i = 0; i < n; i++) {
        Metastore__LeaseRevokeRequest r = METASTORE__LEASE_REVOKE_REQUEST__INIT;
        r.id = ids[i];
        uint8_t buf[16];
        size_t len = metastore__lease_revoke_request__pack(&r, buf);
        /* A refused proposal (a transfer in progress) is retried when
         * ttl_expired() names the lease again. */
        (void)srv_kv_propose_internal(s, SRV_TTL_ENTRY_EXPIRE, buf, len);
    }
    if (g->checkpoint_interval_ns > 0 &&
        now - g->last_checkpoint_ns >= g->checkpoint_interval_ns) {
        g->last_checkpoint_ns = now;
        checkpoint_all(s, now);
    }
}

/* ---- leader-served requests ------------------------------------------------------ */

bool srv_ttl_is_leader_read(uint16_t method)
{
    return method == SRV_METHOD_LEASE_KEEPALIVE ||
           method == SRV_METHOD_LEASE_TIME_TO_LIVE ||
           method == SRV_METHOD_LEASE_LEASES;
}

static void conn_reply_ok(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, ProtobufCMessage *resp)
{
    struct srv_reply r = {.status = SRV_STATUS_OK, .resp = resp};
    srv_conn_reply(s, c, method, request_id, &r);
}

static void serve_keepalive(struct srv *s, struct srv_conn *c,
                            uint64_t request_id,
                            const Metastore__LeaseKeepAliveRequest *r)
{
    int64_t ttl_s = 0;
    bool reset = false;
    int rv = ttl_keepalive(s->ttl->t, r->id, (int64_t)srv_now_ns(), &ttl_s,
                           &reset);
    if (rv == 0 && reset) {
        /* Later leaders must count from the full TTL again. */
        struct ttl_checkpoint cp = {.id = r->id, .remaining_ms = 0};
        propose_checkpoints(s, &cp, 1);
    }
    Metastore__LeaseKeepAliveResponse p =
        METASTORE__LEASE_KEEP_ALIVE_RESPONSE__INIT;
    p.header = header(s);
    p.id = r->id;
    p.ttl = rv == 0 ? ttl_s : 0; /* 0: the lease is gone (as etcd) */
    conn_reply_ok(s, c, SRV_METHOD_LEASE_KEEPALIVE, request_id, &p.base);
}

static void serve_time_to_live(struct srv *s, struct srv_conn *c,
                               uint64_t request_id,
                               const Metastore__LeaseTimeToLiveRequest *r)
{
    struct ttl_info info;
    struct ttl_keys keys = {0};
    int rv = ttl_time_to_live(s->ttl->t, r->id, (int64_t)srv_now_ns(), &info,
                              r->keys ? &keys : NULL);
    if (rv == TTL_ENOMEM) {
        srv_conn_reply_error(s, c, SRV_METHOD_LEASE_TIME_TO_LIVE, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Metastore__LeaseTimeToLiveResponse p =
        METASTORE__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
    p.header = header(s);
    p.id = r->id;
    p.ttl = -1; /* no such lease (as etcd) */
    ProtobufCBinaryData *kb = NULL;
    if (rv == 0) {
        p.ttl = info.remaining_ttl_s;
        p.granted_ttl = info.granted_ttl_s;
        kb = engine_arena_alloc(&s->arena,
                                (keys.n > 0 ? keys.n : 1) * sizeof *kb);
        for (size_t i = 0; kb != NULL && i < keys.n; i++) {
            kb[i].data = keys.v[i].key;
            kb[i].len = keys.v[i].len;
        }
        if (kb != NULL) {
            p.keys = kb;
            p.n_keys = keys.n;
        }
    }
    conn_reply_ok(s, c, SRV_METHOD_LEASE_TIME_TO_LIVE, request_id, &p.base);
    ttl_keys_free(&keys);
}

static void serve_leases(struct srv *s, struct srv_conn *c,
                         uint64_t request_id)
{
    size_t n = ttl_count(s->ttl->t);
    int64_t *ids = engine_arena_alloc(&s->arena, (n > 0 ? n : 1) * sizeof *ids);
    Metastore__LeaseStatus *st =
        engine_arena_alloc(&s->arena, (n > 0 ? n : 1) * sizeof *st);
    Metastore__LeaseStatus **v =
        engine_arena_alloc(&s->arena, (n > 0 ? n : 1) * sizeof *v);
    if (ids == NULL || st == NULL || v == NULL) {
        srv_conn_reply_error(s, c, SRV_METHOD_LEASE_LEASES, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ttl_list(s->ttl->t, ids, n);
    for (size_t i = 0; i < n; i++) {
        metastore__lease_status__init(&st[i]);
        st[i].id = ids[i];
        v[i] = &st[i];
    }
    Metastore__LeaseLeasesResponse p = METASTORE__LEASE_LEASES_RESPONSE__INIT;
    p.header = header(s);
    p.leases = v;
    p.n_leases = n;
    conn_reply_ok(s, c, SRV_METHOD_LEASE_LEASES, request_id, &p.base);
}

/* Decodes and serves one leader-served request on the leader. */
static void serve(struct srv *s, struct srv_conn *c, uint16_t method,
                  uint64_t request_id, const uint8_t *body, size_t len)
{
    ProtobufCMessage *m = NULL;
    switch (method) {
    case SRV_METHOD_LEASE_KEEPALIVE:
        m = (ProtobufCMessage *)metastore__lease_keep_alive_request__unpack(
            NULL, len, body);
        if (m != NULL) {
            serve_keepalive(s, c, request_id,
                            (Metastore__LeaseKeepAliveRequest *)m);
        }
        break;
    case SRV_METHOD_LEASE_TIME_TO_LIVE:
        m = (ProtobufCMessage *)metastore__lease_time_to_live_request__unpack(
            NULL, len, body);
        if (m != NULL) {
            serve_time_to_live(s, c, request_id,
                               (Metastore__LeaseTimeToLiveRequest *)m);
        }
        break;
    default:
        m = (ProtobufCMessage *)metastore__lease_leases_request__unpack(
            NULL, len, body);
        if (m != NULL) {
            serve_leases(s, c, request_id);
        }
        break;
    }
    if (m == NULL) {
        char msg[96];
        snprintf(msg, sizeof msg, "body is not a valid %s request",
                 srv_method_name(method));
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT, msg);
        return;
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

void srv_ttl_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                      uint64_t request_id, const uint8_t *body, size_t len)
{
    if (s->raft == NULL || raft_role_of(s->raft) != RAFT_LEADER) {
        if (!srv_kv_not_leader(s, c, method, request_id, body, len)) {
            srv_conn_request_done(c);
        }
        return;
    }
    sync_role(s, srv_now_ns());
    if (!ttl_is_leader(s->ttl->t)) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_UNAVAILABLE,
                             "this leader is new and still applying its log; "
                             "retry");
    } else {
        serve(s, c, method, request_id, body, len);
    }
    engine_arena_reset(&s->arena);
    srv_conn_request_done(c);
}

int srv_ttl_lease_keys(struct srv *s, int64_t id, struct ttl_keys *keys)
{
    keys->v = NULL;
    keys->n = 0;
    if (s->ttl == NULL) {
        return TTL_ENOTFOUND;
    }
    return ttl_time_to_live(s->ttl->t, id, 0, NULL, keys);
}

/* ---- snapshots ------------------------------------------------------------------ */

int srv_ttl_snapshot_save(struct srv *s,
                          int (*write)(void *ctx, const void *, size_t),
                          void *ctx)
{
    uint8_t *img;
    size_t len;
    if (ttl_save(s->ttl->t, &img, &len) != 0) {
        return -ENOMEM;
    }
    int rv = srv_snapsection_save(write, ctx, SNAP_MAGIC, img, len);
    free(img);
    return rv;
}

static int snap_load_table(void *ctx, const uint8_t *img, size_t len)
{
    struct srv *s = ctx;
    int rv = ttl_load(s->ttl->t, img, len);
    if (rv != 0) {
        ms_error("the snapshot's TTL lease table is unreadable: %s",
                 ttl_strerror(rv));
        return WAL_ECORRUPT;
    }
    return 0;
}

/* A snapshot written before TTL leases existed: no leases. */
static void snap_load_absent(void *ctx)
{
    struct srv *s = ctx;
    struct ttl *fresh; /* its image is the empty table's */
    struct ttl_config tc;
    ttl_config_default(&tc);
    if (ttl_create(&tc, &fresh) == 0) {
        uint8_t *e;
        size_t elen;
        if (ttl_save(fresh, &e, &elen) == 0) {
            (void)ttl_load(s->ttl->t, e, elen);
            free(e);
        }
        ttl_destroy(fresh);
    }
}

int srv_ttl_snapshot_load(struct srv *s, struct snapfile_reader *r,
                          uint64_t *off, bool load)
{
    static const struct srv_snapsection_ops ops = {snap_load_table,
                                                   snap_load_absent};
    return srv_snapsection_load(r, off, SNAP_MAGIC, 1ull << 40, load, &ops, s);
}

int srv_ttl_persist(struct srv *s)
{
    if (!engine_rocksdb_is(s->eng)) {
        return 0;
    }
    int rv = stage_table(s);
    return rv == 0 ? engine_mark_applied(s->eng, engine_applied_index(s->eng))
                   : rv;
}

/* ---- metrics ----------------------------------------------------------------------- */

static void put_metric(struct metrics *m, enum metrics_type t,
                       const char *name, const char *help, double v)
{
    struct metrics_family *f;
    if (metrics_declare(m, t, name, help, 0, NULL, 0, NULL, &f) == 0) {
        (void)metrics_set(f, NULL, v);
    }
}

void srv_ttl_collect_metrics(struct metrics *m, struct srv *s)
{
    const struct srv_ttl *g = s->ttl;
    if (g == NULL) {
        return;
    }
    put_metric(m, METRICS_GAUGE, "metastore_ttl_leases",
               "TTL leases that exist (replicated state).",
               (double)ttl_count(g->t));
    put_metric(m, METRICS_COUNTER, "metastore_ttl_lease_grants_total",
               "TTL lease grants applied on this node.",
               (double)g->stats.grants);
    put_metric(m, METRICS_COUNTER, "metastore_ttl_lease_revokes_total",
               "TTL leases revoked by clients, applied on this node.",
               (double)g->stats.revokes);
    put_metric(m, METRICS_COUNTER, "metastore_ttl_lease_expiries_total",
               "TTL leases that expired (leader-decided revokes), applied on "
               "this node.",
               (double)g->stats.expiries);
    put_metric(m, METRICS_COUNTER, "metastore_ttl_lease_checkpoints_total",
               "Checkpoint entries this node proposed as leader.",
               (double)g->stats.checkpoints);
}
