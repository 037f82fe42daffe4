/*
 * kv.c - client requests against the engine: validation, the command
 * table, proposals, apply, and reads.
 *
 * Happy path of a write: decode and validate the request, propose
 * [header | request body] through Raft and park the client; when the entry
 * applies (node.c) decode it again, run it on the engine with the entry's
 * index, answer the parked client.  Every replica applies the same bytes in
 * the same order, so engine rejections (a txn that writes a key twice, a
 * compaction of an old revision) are outcomes of the entry, identical
 * everywhere.
 *
 * Happy path of a linearizable read: ask the core for a read index (a
 * ReadIndex round; immediate on a single voter), park until the engine has
 * applied it, then read.  Serializable reads run at once on local state.
 *
 * Failure modes: malformed protobuf, empty or oversized keys and values, a
 * range_end before the key, too many txn ops -> INVALID_ARGUMENT with a
 * message saying which; a request this node cannot serve -> NOT_LEADER with
 * the leader's id and address, or UNAVAILABLE when there is none; unknown
 * methods -> UNIMPLEMENTED.  Nothing the client sends reaches an assert.
 *
 * Responses are built in the server's arena (protobuf structs point at
 * engine result bytes without copying) and packed into the connection's
 * output buffer at once, after which the arena is reset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/auth_glue.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/range_decode.h"
#include "server/range_pack.h"
#include "server/server.h"
#include "server/status.h"
#include "server/ttl_glue.h"
#include "storage/rocksdb.h"

/* Header of a proposed entry: version, reserved, method (big-endian). */
#define ENTRY_HDR_BYTES 4
#define ENTRY_VERSION 1

struct kv_error {
    int status;
    char msg[200];
};

static bool fail(struct kv_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(struct kv_error *err, int status, const char *fmt, ...)
{
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return false;
}

static void *arena(struct srv *s, size_t n)
{
    return engine_arena_alloc(&s->arena, n);
}

void srv_fill_header(struct srv *s, Metastore__ResponseHeader *h)
{
    metastore__response_header__init(h);
    h->cluster_id = s->cluster_id;
    h->member_id = s->cfg.node.id;
    h->revision = engine_revision(s->eng);
    h->raft_term = raft_term_of(s->raft);
    h->applied_index = engine_applied_index(s->eng);
}

static Metastore__ResponseHeader *new_header(struct srv *s)
{
    Metastore__ResponseHeader *h = arena(s, sizeof *h);
    if (h != NULL) {
        srv_fill_header(s, h);
    }
    return h;
}

static int engine_status(int rv)
{
    switch (rv) {
    case ENGINE_ECOMPACTED:
        return SRV_STATUS_COMPACTED;
    case ENGINE_ENOTFOUND:
        return SRV_STATUS_NOT_FOUND;
    case ENGINE_EINVAL:
    case ENGINE_EFUTURE_REV:
    case ENGINE_EDUPKEY:
    case ENGINE_ETOOMANYOPS:
    case ENGINE_ETOOBIG:
        return SRV_STATUS_INVALID_ARGUMENT;
    default:
        return SRV_STATUS_INTERNAL;
    }
}

static void reply_ok(struct srv *s, struct srv_conn *c, uint16_t method,
                     uint64_t request_id, ProtobufCMessage *resp)
{
    struct srv_reply r = {.status = SRV_STATUS_OK, .resp = resp};
    srv_conn_reply(s, c, method, request_id, &r);
}

static void reply_engine_error(struct srv *s, struct srv_conn *c,
                               uint16_t method, uint64_t request_id, int rv)
{
    srv_conn_reply_error(s, c, method, request_id, engine_status(rv),
                         engine_strerror(rv));
}

/* ---- validation --------------------------------------------------------- */

static bool check_range_keys(struct srv *s, const ProtobufCBinaryData *key,
                             const ProtobufCBinaryData *end,
                             struct kv_error *err)
{
    if (key->len == 0) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT, "key is empty");
    }
    if (key->len > s->cfg.server.max_key_bytes) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "key is %zu bytes; the limit is %llu", key->len,
                    (unsigned long long)s->cfg.server.max_key_bytes);
    }
    if (end->len > s->cfg.server.max_key_bytes) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "range_end is %zu bytes; the limit is %llu", end->len,
                    (unsigned long long)s->cfg.server.max_key_bytes);
    }
    bool all = end->len == 1 && end->data[0] == 0;
    if (end->len > 0 && !all &&
        engine_key_cmp(end->data, end->len, key->data, key->len) < 0) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "range_end sorts before key");
    }
    return true;
}

static bool check_range(struct srv *s, const Metastore__RangeRequest *r,
                        struct kv_error *err)
{
    if (!check_range_keys(s, &r->key, &r->range_end, err)) {
        return false;
    }
    if (r->limit < 0) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT, "limit is negative");
    }
    if ((unsigned)r->sort_order > METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND ||
        (unsigned)r->sort_target > METASTORE__RANGE_REQUEST__SORT_TARGET__VALUE) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT, "unknown sort option");
    }
    return true;
}

static bool check_put(struct srv *s, const Metastore__PutRequest *r,
                      struct kv_error *err)
{
    ProtobufCBinaryData none = {0, NULL};
    if (!check_range_keys(s, &r->key, &none, err)) {
        return false;
    }
    if (r->value.len > s->cfg.server.max_value_bytes) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "value is %zu bytes; the limit is %llu", r->value.len,
                    (unsigned long long)s->cfg.server.max_value_bytes);
    }
    if (r->lease < 0) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "lease id must not be negative");
    }
    if (r->lease != 0 && r->ignore_lease) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "lease and ignore_lease are exclusive");
    }
    return true;
}

static bool check_txn(struct srv *s, const Metastore__TxnRequest *t,
                      struct kv_error *err)
{
    uint64_t max = s->cfg.server.max_txn_ops;
    if (t->n_compare > max || t->n_success > max || t->n_failure > max) {
        return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                    "too many operations in txn (limit %llu)",
                    (unsigned long long)max);
    }
    for (size_t i = 0; i < t->n_compare; i++) {
        const Metastore__Compare *c = t->compare[i];
        if (!check_range_keys(s, &c->key, &c->range_end, err)) {
            return false;
        }
        if ((unsigned)c->target > METASTORE__COMPARE__COMPARE_TARGET__LEASE ||
            (unsigned)c->result > METASTORE__COMPARE__COMPARE_RESULT__NOT_EQUAL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "compare %zu: unknown target or result", i);
        }
    }
    for (int branch = 0; branch < 2; branch++) {
        size_t n = branch == 0 ? t->n_success : t->n_failure;
        Metastore__RequestOp **ops = branch == 0 ? t->success : t->failure;
        for (size_t i = 0; i < n; i++) {
            const Metastore__RequestOp *op = ops[i];
            bool ok = true;
            switch (op->request_case) {
            case METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE:
                ok = check_range(s, op->request_range, err);
                break;
            case METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT:
                ok = check_put(s, op->request_put, err);
                break;
            case METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
                ok = check_range_keys(s, &op->request_delete_range->key,
                                      &op->request_delete_range->range_end,
                                      err);
                break;
            case METASTORE__REQUEST_OP__REQUEST_REQUEST_TXN:
                return fail(err, SRV_STATUS_UNIMPLEMENTED,
                            "nested txn is not supported");
            default:
                return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                            "txn op %zu is empty", i);
            }
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

/* ---- protobuf <-> engine ------------------------------------------------- */

static void to_range_req(const Metastore__RangeRequest *r,
                         struct engine_range_req *q)
{
    memset(q, 0, sizeof *q);
    q->key = r->key.data;
    q->key_len = r->key.len;
    q->range_end = r->range_end.data;
    q->range_end_len = r->range_end.len;
    q->limit = r->limit;
    q->revision = r->revision > 0 ? r->revision : 0;
    q->keys_only = r->keys_only;
    q->count_only = r->count_only;
    q->sort_order = (enum engine_sort_order)r->sort_order;
    q->sort_target = (enum engine_sort_target)r->sort_target;
}

static void to_put_req(const Metastore__PutRequest *r, struct engine_put_req *q)
{
    memset(q, 0, sizeof *q);
    q->key = r->key.data;
    q->key_len = r->key.len;
    q->value = r->value.data;
    q->value_len = r->value.len;
    q->lease = r->lease;
    q->prev_kv = r->prev_kv;
    q->ignore_value = r->ignore_value;
    q->ignore_lease = r->ignore_lease;
}

static void to_delete_req(const Metastore__DeleteRangeRequest *r,
                          struct engine_delete_req *q)
{
    memset(q, 0, sizeof *q);
    q->key = r->key.data;
    q->key_len = r->key.len;
    q->range_end = r->range_end.data;
    q->range_end_len = r->range_end.len;
    q->prev_kv = r->prev_kv;
}

static Metastore__KeyValue *to_pb_kv(struct srv *s, const struct engine_kv *kv)
{
    Metastore__KeyValue *p = arena(s, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    metastore__key_value__init(p);
    p->key.data = (uint8_t *)kv->key;
    p->key.len = kv->key_len;
    p->value.data = (uint8_t *)kv->value;
    p->value.len = kv->value_len;
    p->create_revision = kv->create_revision;
    p->mod_revision = kv->mod_revision;
    p->version = kv->version;
    p->lease = kv->lease;
    return p;
}

static Metastore__KeyValue **to_pb_kvs(struct srv *s,
                                       const struct engine_kv *kvs, size_t n,
                                       size_t *n_out,
                                       const Metastore__RangeRequest *filter)
{
    Metastore__KeyValue **v = arena(s, (n > 0 ? n : 1) * sizeof *v);
    size_t k = 0;
    if (v == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct engine_kv *kv = &kvs[i];
        /* etcd applies these filters after the limit, as here. */
        if (filter != NULL &&
            ((filter->min_mod_revision > 0 &&
              kv->mod_revision < filter->min_mod_revision) ||
             (filter->max_mod_revision > 0 &&
              kv->mod_revision > filter->max_mod_revision) ||
             (filter->min_create_revision > 0 &&
              kv->create_revision < filter->min_create_revision) ||
             (filter->max_create_revision > 0 &&
              kv->create_revision > filter->max_create_revision))) {
            continue;
        }
        if ((v[k] = to_pb_kv(s, kv)) == NULL) {
            return NULL;
        }
        k++;
    }
    *n_out = k;
    return v;
}

static Metastore__RangeResponse *
to_range_resp(struct srv *s, const struct engine_range_result *res,
              const Metastore__RangeRequest *req)
{
    Metastore__RangeResponse *p = arena(s, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    metastore__range_response__init(p);
    p->header = new_header(s);
    p->kvs = to_pb_kvs(s, res->kvs, res->kvs_len, &p->n_kvs, req);
    p->more = res->more;
    p->count = res->count;
    return p->header != NULL && p->kvs != NULL ? p : NULL;
}

static Metastore__PutResponse *to_put_resp(struct srv *s,
                                           const struct engine_put_result *res)
{
    Metastore__PutResponse *p = arena(s, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    metastore__put_response__init(p);
    p->header = new_header(s);
    if (res->has_prev_kv) {
        p->prev_kv = to_pb_kv(s, &res->prev_kv);
    }
    return p->header != NULL ? p : NULL;
}

static Metastore__DeleteRangeResponse *
to_delete_resp(struct srv *s, const struct engine_delete_result *res)
{
    Metastore__DeleteRangeResponse *p = arena(s, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    metastore__delete_range_response__init(p);
    p->header = new_header(s);
    p->deleted = res->deleted;
    p->prev_kvs =
        to_pb_kvs(s, res->prev_kvs, res->prev_kvs_len, &p->n_prev_kvs, NULL);
    return p->header != NULL && p->prev_kvs != NULL ? p : NULL;
}

/* ---- txn ------------------------------------------------------------------ */

static int to_engine_ops(struct srv *s, Metastore__RequestOp **ops, size_t n,
                         struct engine_op **out)
{
    struct engine_op *v = arena(s, (n > 0 ? n : 1) * sizeof *v);
    if (v == NULL) {
        return ENGINE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        switch (ops[i]->request_case) {
        case METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE:
            v[i].type = ENGINE_OP_RANGE;
            to_range_req(ops[i]->request_range, &v[i].u.range);
            break;
        case METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT:
            v[i].type = ENGINE_OP_PUT;
            to_put_req(ops[i]->request_put, &v[i].u.put);
            break;
        case METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
            v[i].type = ENGINE_OP_DELETE;
            to_delete_req(ops[i]->request_delete_range, &v[i].u.del);
            break;
        default:
            return ENGINE_EINVAL; /* validated before proposing */
        }
    }
    *out = v;
    return 0;
}

/* TTL lease attachments of the txn branch that ran; prev_kvs the client
 * did not ask for are dropped from the results. */
static int txn_leases_applied(struct srv *s, Metastore__RequestOp **req,
                              const struct engine_op *ops,
                              struct engine_txn_result *res)
{
    for (size_t i = 0; i < res->results_len; i++) {
        struct engine_op_result *r = &res->results[i];
        int rv = 0;
        if (r->type == ENGINE_OP_PUT) {
            rv = srv_ttl_after_put(s, &ops[i].u.put);
            if (!req[i]->request_put->prev_kv) {
                r->u.put.has_prev_kv = false; /* asked for watch events */
            }
        } else if (r->type == ENGINE_OP_DELETE) {
            rv = srv_ttl_after_delete(s, &r->u.del);
            if (!req[i]->request_delete_range->prev_kv) {
                r->u.del.prev_kvs_len = 0;
            }
        }
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

/* True when every Put of the txn names an existing lease (or none). */
static bool txn_leases_exist(struct srv *s, const Metastore__TxnRequest *t)
{
    for (size_t i = 0; i < t->n_success + t->n_failure; i++) {
        const Metastore__RequestOp *op =
            i < t->n_success ? t->success[i] : t->failure[i - t->n_success];
        if (op->request_case == METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT &&
            !srv_ttl_lease_ok(s, op->request_put->lease)) {
            return false;
        }
    }
    return true;
}

static int run_txn(struct srv *s, uint64_t index, const Metastore__TxnRequest *t,
                   Metastore__TxnResponse **resp_out)
{
    struct engine_compare *cmps =
        arena(s, (t->n_compare > 0 ? t->n_compare : 1) * sizeof *cmps);
    if (cmps == NULL) {
        return ENGINE_ENOMEM;
    }
    for (size_t i = 0; i < t->n_compare; i++) {
        const Metastore__Compare *c = t->compare[i];
        struct engine_compare *e = &cmps[i];
        memset(e, 0, sizeof *e);
        e->key = c->key.data;
        e->key_len = c->key.len;
        e->range_end = c->range_end.data;
        e->range_end_len = c->range_end.len;
        e->target = (enum engine_cmp_target)c->target;
        e->result = (enum engine_cmp_result)c->result;
        switch (c->target_union_case) {
        case METASTORE__COMPARE__TARGET_UNION_VERSION:
            e->operand = c->version;
            break;
        case METASTORE__COMPARE__TARGET_UNION_CREATE_REVISION:
            e->operand = c->create_revision;
            break;
        case METASTORE__COMPARE__TARGET_UNION_MOD_REVISION:
            e->operand = c->mod_revision;
            break;
        case METASTORE__COMPARE__TARGET_UNION_LEASE:
            e->operand = c->lease;
            break;
        case METASTORE__COMPARE__TARGET_UNION_VALUE:
            e->value = c->value.data;
            e->value_len = c->value.len;
            break;
        default:
            break; /* operand 0 / empty value */
        }
    }
    struct engine_txn_req req = {.compares = cmps,
                                 .compares_len = t->n_compare,
                                 .success_len = t->n_success,
                                 .failure_len = t->n_failure};
    struct engine_op *succ, *fail_ops;
    int rv = to_engine_ops(s, t->success, t->n_success, &succ);
    if (rv == 0) {
        rv = to_engine_ops(s, t->failure, t->n_failure, &fail_ops);
    }
    if (rv != 0) {
        return rv;
    }
    req.success = succ;
    req.failure = fail_ops;
    /* TTL leases: a delete must name the keys it removed to detach them.
     * Watch events: deletes likewise, puts derive from the previous kv. */
    bool leases = srv_ttl_active(s);
    bool live = srv_watch_wants_events(s);
    for (size_t i = 0; (leases || live) && i < t->n_success + t->n_failure;
         i++) {
        struct engine_op *o = i < t->n_success ? &succ[i]
                                               : &fail_ops[i - t->n_success];
        if (o->type == ENGINE_OP_DELETE) {
            o->u.del.prev_kv = true;
        } else if (live && o->type == ENGINE_OP_PUT) {
            o->u.put.prev_kv = true;
        }
    }
    struct engine_txn_result res;
    rv = index != 0 ? engine_txn(s->eng, index, &req, &s->arena, &res)
                    : ENGINE_EINVAL;
    if (rv == 0) {
        srv_watch_txn_applied(s, res.succeeded ? succ : fail_ops, &res);
        rv = txn_leases_applied(s, res.succeeded ? t->success : t->failure,
                                res.succeeded ? succ : fail_ops, &res);
    }
    if (rv != 0 || resp_out == NULL) {
        return rv;
    }
    Metastore__TxnResponse *p = arena(s, sizeof *p);
    Metastore__RequestOp **ops = res.succeeded ? t->success : t->failure;
    Metastore__ResponseOp **rops =
        arena(s, (res.results_len > 0 ? res.results_len : 1) * sizeof *rops);
    if (p == NULL || rops == NULL) {
        return ENGINE_ENOMEM;
    }
    metastore__txn_response__init(p);
    p->header = new_header(s);
    p->succeeded = res.succeeded;
    for (size_t i = 0; i < res.results_len; i++) {
        Metastore__ResponseOp *ro = arena(s, sizeof *ro);
        if (ro == NULL) {
            return ENGINE_ENOMEM;
        }
        metastore__response_op__init(ro);
        const struct engine_op_result *r = &res.results[i];
        switch (r->type) {
        case ENGINE_OP_RANGE:
            ro->response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
            ro->response_range =
                to_range_resp(s, &r->u.range, ops[i]->request_range);
            break;
        case ENGINE_OP_PUT:
            ro->response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
            ro->response_put = to_put_resp(s, &r->u.put);
            break;
        case ENGINE_OP_DELETE:
            ro->response_case =
                METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
            ro->response_delete_range = to_delete_resp(s, &r->u.del);
            break;
        }
        rops[i] = ro;
    }
    p->n_responses = res.results_len;
    p->responses = rops;
    *resp_out = p;
    return 0;
}

/* ---- apply ----------------------------------------------------------------- */

static void run_range(struct srv *s, struct srv_conn *c, uint16_t method,
                      uint64_t request_id, const Metastore__RangeRequest *r);

/* Is this engine error the entry's outcome (same on every replica), or a
 * failure of this node? */
static bool engine_outcome(int rv)
{
    return engine_status(rv) != SRV_STATUS_INTERNAL;
}

int srv_kv_apply(struct srv *s, const struct raft_entry *e, struct srv_wait *w)
{
    if (w != NULL) {
        s->reply_start_ns = w->start_ns;
    }
    if (e->type != RAFT_ENTRY_NORMAL || e->len < ENTRY_HDR_BYTES ||
        e->data[0] != ENTRY_VERSION) {
        if (e->type == RAFT_ENTRY_NORMAL && e->len > 0) {
            ms_error("entry %llu has an unknown format; skipped",
                     (unsigned long long)e->index);
        }
        return engine_mark_applied(s->eng, e->index);
    }
    uint16_t method = (uint16_t)((e->data[2] << 8) | e->data[3]);
    const uint8_t *body = e->data + ENTRY_HDR_BYTES;
    size_t len = e->len - ENTRY_HDR_BYTES;
    ProtobufCMessage *resp = NULL;
    int rv = ENGINE_EINVAL;
    ProtobufCMessage *req = NULL;
    bool lease_missing = false; /* a Put names an unknown TTL lease */
    if (srv_ttl_owns_entry(method)) {
        int result = srv_ttl_apply(s, e->index, method, body, len, w);
        engine_arena_reset(&s->arena);
        return result;
    }
    if (srv_auth_owns_entry(method)) {
        int result = srv_auth_apply(s, e->index, method, body, len, w);
        engine_arena_reset(&s->arena);
        return result;
    }

    switch (method) {
    case SRV_METHOD_PUT: {
        Metastore__PutRequest *r = metastore__put_request__unpack(NULL, len, body);
        req = (ProtobufCMessage *)r;
        if (r != NULL && !srv_ttl_lease_ok(s, r->lease)) {
            lease_missing = true; /* applied as a refusal, below */
        } else if (r != NULL) {
            struct engine_put_req q;
            struct engine_put_result res;
            to_put_req(r, &q);
            /* Watch events are derived from the previous kv. */
            q.prev_kv = q.prev_kv || srv_watch_wants_events(s);
            rv = engine_put(s->eng, e->index, &q, &s->arena, &res);
            if (rv == 0) {
                srv_watch_put_applied(s, &q, &res);
                res.has_prev_kv = res.has_prev_kv && r->prev_kv;
                rv = srv_ttl_after_put(s, &q);
            }
            if (rv == 0 && w != NULL) {
                resp = &to_put_resp(s, &res)->base;
            }
        }
        break;
    }
    case SRV_METHOD_DELETE_RANGE: {
        Metastore__DeleteRangeRequest *r =
            metastore__delete_range_request__unpack(NULL, len, body);
        req = (ProtobufCMessage *)r;
        if (r != NULL) {
            struct engine_delete_req q;
            struct engine_delete_result res;
            to_delete_req(r, &q);
            /* TTL leases: the deleted keys are detached from theirs. */
            /* Watch events name the deleted keys. */
            q.prev_kv =
                q.prev_kv || srv_ttl_active(s) || srv_watch_wants_events(s);
            rv = engine_delete_range(s->eng, e->index, &q, &s->arena, &res);
            if (rv == 0) {
                srv_watch_delete_applied(s, &q, &res);
                rv = srv_ttl_after_delete(s, &res);
                if (!r->prev_kv) {
                    res.prev_kvs_len = 0;
                }
            }
            if (rv == 0 && w != NULL) {
                resp = &to_delete_resp(s, &res)->base;
            }
        }
        break;
    }
    case SRV_METHOD_TXN: {
        Metastore__TxnRequest *r = metastore__txn_request__unpack(NULL, len, body);
        req = (ProtobufCMessage *)r;
        if (r != NULL && !txn_leases_exist(s, r)) {
            lease_missing = true;
        } else if (r != NULL) {
            Metastore__TxnResponse *tr = NULL;
            rv = run_txn(s, e->index, r, w != NULL ? &tr : NULL);
            resp = tr != NULL ? &tr->base : NULL;
        }
        break;
    }
    case SRV_METHOD_RANGE: {
        /* read_mode: log: the read is answered where it applies. */
        Metastore__RangeRequest *r = metastore__range_request__unpack(NULL, len, body);
        req = (ProtobufCMessage *)r;
        rv = engine_mark_applied(s->eng, e->index);
        if (r != NULL && rv == 0 && w != NULL) {
            run_range(s, w->conn, w->method, w->request_id, r);
            srv_read_done(s, SRV_PATH_LOG, w->start_ns);
            w = NULL; /* answered */
        }
        break;
    }
    case SRV_METHOD_COMPACT: {
        Metastore__CompactionRequest *r =
            metastore__compaction_request__unpack(NULL, len, body);
        req = (ProtobufCMessage *)r;
        if (r != NULL) {
            rv = engine_compact(s->eng, e->index, r->revision);
            if (rv == 0 && w != NULL) {
                Metastore__CompactionResponse *cr = arena(s, sizeof *cr);
                if (cr != NULL) {
                    metastore__compaction_response__init(cr);
                    cr->header = new_header(s);
                    resp = &cr->base;
                }
            }
        }
        break;
    }
    default:
        break;
    }
    if (lease_missing) {
        rv = ENGINE_EINVAL; /* an outcome: the entry is applied, refused */
    }
    if (req == NULL || rv == ENGINE_EINVAL) {
        /* Undecodable (cannot happen for entries this code proposed) or
         * refused by the engine: either way the entry is applied. */
        if (engine_applied_index(s->eng) < e->index) {
            (void)engine_mark_applied(s->eng, e->index);
        }
    }
    if (req != NULL) {
        protobuf_c_message_free_unpacked(req, NULL);
    }
    int result = 0;
    if (rv != 0 && !engine_outcome(rv)) {
        result = rv; /* this node failed: the caller stops the server */
    } else if (w != NULL) {
        if (lease_missing) {
            srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                                 SRV_STATUS_NOT_FOUND,
                                 "requested lease not found");
        } else if (rv != 0) {
            reply_engine_error(s, w->conn, w->method, w->request_id, rv);
        } else if (resp == NULL) {
            srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                                 SRV_STATUS_INTERNAL, "out of memory");
        } else {
            reply_ok(s, w->conn, w->method, w->request_id, resp);
        }
    }
    engine_arena_reset(&s->arena);
    return result;
}

/* ---- reads ----------------------------------------------------------------- */

static void run_range(struct srv *s, struct srv_conn *c, uint16_t method,
                      uint64_t request_id, const Metastore__RangeRequest *r)
{
    struct engine_range_req q;
    struct engine_range_result res;
    to_range_req(r, &q);
    int rv = engine_range(s->eng, &q, &s->arena, &res);
    if (rv != 0) {
        reply_engine_error(s, c, method, request_id, rv);
    } else {
        /* Encoded straight from the engine's result: the same bytes as
         * to_range_resp() packed by protobuf-c (server/range_pack.h). */
        struct range_pack p = {
            .cluster_id = s->cluster_id,
            .member_id = s->cfg.node.id,
            .revision = engine_revision(s->eng),
            .raft_term = raft_term_of(s->raft),
            .applied_index = engine_applied_index(s->eng),
            .kvs = res.kvs,
            .n_kvs = res.kvs_len,
            .min_mod_revision = r->min_mod_revision,
            .max_mod_revision = r->max_mod_revision,
            .min_create_revision = r->min_create_revision,
            .max_create_revision = r->max_create_revision,
            .more = res.more,
            .count = res.count,
        };
        range_pack_prepare(&p);
        srv_conn_reply_range(s, c, method, request_id, &p);
    }
    engine_arena_reset(&s->arena);
}

/* RangeRequest decoding: by the hand-written decoder into *fast (bytes
 * point into body, nothing allocated), or, for what it leaves to
 * protobuf-c (unknown fields, malformed input), into a stack scratch
 * buffer; release with range_scratch_release() either way. */
static Metastore__RangeRequest *unpack_range(struct range_scratch *sc,
                                             Metastore__RangeRequest *fast,
                                             const uint8_t *body, size_t len)
{
    range_scratch_init(sc);
    if (range_request_decode(body, len, fast) == 0) {
        return fast;
    }
    return metastore__range_request__unpack(&sc->alloc, len, body);
}

void srv_kv_run_read(struct srv *s, struct srv_wait *w)
{
    s->reply_start_ns = w->start_ns;
    if ((w->path == SRV_PATH_FAST || w->path == SRV_PATH_READINDEX) &&
        (raft_role_of(s->raft) != RAFT_LEADER ||
         raft_term_of(s->raft) != w->read_term)) {
        /* The index came from a leadership this node no longer holds
         * (etcd issue 20418): answering now could be stale. */
        s->stats.read_retries++;
        srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                             SRV_STATUS_UNAVAILABLE,
                             "leadership changed while the read waited; "
                             "retry");
        return;
    }
    struct range_scratch sc;
    Metastore__RangeRequest decoded;
    Metastore__RangeRequest *r = unpack_range(&sc, &decoded, w->body,
                                              w->body_len);
    if (r == NULL) {
        range_scratch_release(&sc, NULL);
        srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                             SRV_STATUS_INTERNAL, "lost the parked request");
        return;
    }
    run_range(s, w->conn, w->method, w->request_id, r);
    range_scratch_release(&sc, &r->base);
    srv_read_done(s, w->path, w->start_ns);
}

const char *srv_read_path_name(enum srv_read_path p)
{
    static const char *const names[SRV_PATH_COUNT] = {
        "fast", "readindex", "follower", "serializable", "log"};
    return (unsigned)p < SRV_PATH_COUNT ? names[p] : "?";
}

void srv_read_done(struct srv *s, enum srv_read_path path, uint64_t start_ns)
{
    s->stats.reads[path]++;
    lease_hist_record(&s->stats.read_latency[path], srv_now_ns() - start_ns);
}

/* ---- dispatch --------------------------------------------------------------- */

static struct srv_wait *new_wait(struct srv *s, struct srv_conn *c,
                                 enum srv_wait_kind kind, uint16_t method,
                                 uint64_t request_id)
{
    struct srv_wait *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return NULL;
    }
    w->kind = kind;
    w->conn = c;
    srv_conn_ref(c);
    w->method = method;
    w->request_id = request_id;
    w->start_ns = srv_now_ns();
    w->deadline_ns = w->start_ns + s->cfg.server.request_timeout_ms * 1000000u;
    return w;
}

static void reply_not_leader(struct srv *s, struct srv_conn *c,
                             uint16_t method, uint64_t request_id)
{
    raft_id leader = raft_leader(s->raft);
    if (leader == RAFT_NONE) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_UNAVAILABLE,
                             "no leader at the moment; retry");
        return;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "not the leader; the leader is node %llu",
             (unsigned long long)leader);
    srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_NOT_LEADER, msg);
}

/* Proposes a write; returns true when the request was parked, false when
 * it was answered at once. */
static bool park_for_leader(struct srv *s, struct srv_conn *c,
                            uint16_t method, uint64_t request_id,
                            const uint8_t *body, size_t len);
static bool forward_to_leader(struct srv *s, struct srv_conn *c,
                              uint16_t method, uint64_t request_id,
                              const uint8_t *body, size_t len);

/* A log entry's bytes: the entry header (version, method) then body.
 * malloc'd (ENTRY_HDR_BYTES + len bytes); NULL when out of memory. */
static uint8_t *entry_encode(uint16_t method, const uint8_t *body, size_t len)
{
    uint8_t *buf = malloc(ENTRY_HDR_BYTES + len);
    if (buf == NULL) {
        return NULL;
    }
    buf[0] = ENTRY_VERSION;
    buf[1] = 0;
    buf[2] = (uint8_t)(method >> 8);
    buf[3] = (uint8_t)method;
    if (len > 0) {
        memcpy(buf + ENTRY_HDR_BYTES, body, len);
    }
    return buf;
}

static bool propose(struct srv *s, struct srv_conn *c, uint16_t method,
                    uint64_t request_id, const uint8_t *body, size_t len)
{
    uint8_t *buf = entry_encode(method, body, len);
    if (buf == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    raft_index index;
    raft_term term;
    int rv = raft_propose(s->raft, buf, ENTRY_HDR_BYTES + len, srv_now_ns(),
                          &index, &term);
    free(buf);
    switch (rv) {
    case 0:
        break;
    case RAFT_ENOTLEADER:
        if (raft_leader(s->raft) == RAFT_NONE) {
            return park_for_leader(s, c, method, request_id, body, len);
        }
        if (s->cfg.server.follower_writes == SRV_FOLLOWER_WRITES_FORWARD &&
            !srv_conn_is_forwarded(c)) {
            return forward_to_leader(s, c, method, request_id, body, len);
        }
        reply_not_leader(s, c, method, request_id);
        return false;
    case RAFT_ETRANSFER:
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_UNAVAILABLE,
                             "leadership transfer in progress; retry");
        return false;
    case RAFT_ETOOBIG:
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "request larger than raft.max_msg_bytes");
        return false;
    default:
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_INTERNAL,
                             raft_strerror(rv));
        return false;
    }
    struct srv_wait *w = new_wait(s, c, SRV_WAIT_PROPOSAL, method, request_id);
    if (w == NULL) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_INTERNAL,
                             "out of memory; the write may still apply");
        return false;
    }
    w->index = index;
    w->term = term;
    s->stats.proposals++;
    srv_node_park(s, w);
    return true;
}

bool srv_kv_propose(struct srv *s, struct srv_conn *c, uint16_t method,
                    uint64_t request_id, const uint8_t *body, size_t len)
{
    return propose(s, c, method, request_id, body, len);
}

bool srv_kv_not_leader(struct srv *s, struct srv_conn *c, uint16_t method,
                       uint64_t request_id, const uint8_t *body, size_t len)
{
    if (raft_leader(s->raft) == RAFT_NONE) {
        return park_for_leader(s, c, method, request_id, body, len);
    }
    if (s->cfg.server.follower_writes == SRV_FOLLOWER_WRITES_FORWARD &&
        !srv_conn_is_forwarded(c) && raft_leader(s->raft) != s->cfg.node.id) {
        return forward_to_leader(s, c, method, request_id, body, len);
    }
    reply_not_leader(s, c, method, request_id);
    return false;
}

int srv_kv_propose_internal(struct srv *s, uint16_t method,
                            const uint8_t *body, size_t len)
{
    uint8_t *buf = entry_encode(method, body, len);
    if (buf == NULL) {
        return RAFT_ENOMEM;
    }
    raft_index index;
    raft_term term;
    int rv = raft_propose(s->raft, buf, ENTRY_HDR_BYTES + len, srv_now_ns(),
                          &index, &term);
    free(buf);
    if (rv == 0) {
        s->stats.proposals++;
    }
    return rv;
}

/* Parks a request until a leader is known (or its deadline passes). */
static bool park_for_leader(struct srv *s, struct srv_conn *c,
                            uint16_t method, uint64_t request_id,
                            const uint8_t *body, size_t len)
{
    struct srv_wait *w = new_wait(s, c, SRV_WAIT_LEADER, method, request_id);
    if (w != NULL && len > 0 && (w->body = malloc(len)) != NULL) {
        memcpy(w->body, body, len);
    } else if (w != NULL && len > 0) {
        srv_conn_unref(c);
        free(w);
        w = NULL;
    }
    if (w == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    w->body_len = len;
    srv_node_park(s, w);
    return true;
}

void srv_kv_redispatch(struct srv *s, struct srv_wait *w)
{
    srv_conn_request_start(w->conn);
    srv_kv_dispatch(s, w->conn, w->method, w->request_id, w->body,
                    w->body_len);
    srv_wait_free(w);
}

struct forward_call {
    struct srv *s;
    struct srv_conn *c;
    uint16_t method;
    uint64_t request_id;
    uint64_t start_ns;
};

static void forward_done(void *arg, int status, const uint8_t *resp,
                         size_t len, bool is_error)
{
    struct forward_call *f = arg;
    f->s->reply_start_ns = f->start_ns;
    if (status != SRV_STATUS_OK) {
        srv_conn_reply_error(f->s, f->c, f->method, f->request_id,
                             SRV_STATUS_UNAVAILABLE,
                             "lost the link to the leader while forwarding; "
                             "the write may still apply");
    } else {
        srv_conn_reply_raw(f->s, f->c, f->method, f->request_id, is_error,
                           resp, len);
    }
    srv_conn_request_done(f->c);
    srv_conn_unref(f->c);
    free(f);
}

/* Sends a write to the leader over the peer link; the leader's answer is
 * relayed to the client as is. */
static bool forward_to_leader(struct srv *s, struct srv_conn *c,
                              uint16_t method, uint64_t request_id,
                              const uint8_t *body, size_t len)
{
    struct forward_call *f = malloc(sizeof *f);
    if (f == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    *f = (struct forward_call){s, c, method, request_id, s->reply_start_ns};
    int rv = peer_forward(s->peers, raft_leader(s->raft), method, body, len,
                          s->cfg.server.request_timeout_ms, forward_done, f);
    if (rv != 0) {
        free(f);
        reply_not_leader(s, c, method, request_id);
        return false;
    }
    srv_conn_ref(c);
    s->stats.forwarded++;
    return true; /* forward_done finishes the request */
}

/*
 * The read path of a Range (docs/reads.md):
 *   serializable            local state at once (after min_applied_index)
 *   read_mode: log          proposed through Raft, answered when applied
 *   leader, valid lease     fast path: read index = commit index, no round
 *   leader, no lease        ReadIndex round (batched by the core)
 *   follower                read index from the leader, then a local read
 * A read that has to wait keeps a copy of its body.
 */
static void dispatch_range(struct srv *s, struct srv_conn *c, uint16_t method,
                           uint64_t request_id, const uint8_t *body,
                           size_t len)
{
    uint64_t start = srv_now_ns();
    struct range_scratch sc;
    Metastore__RangeRequest decoded;
    Metastore__RangeRequest *r = unpack_range(&sc, &decoded, body, len);
    struct kv_error err;
    if (r == NULL) {
        range_scratch_release(&sc, NULL);
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "body is not a valid RangeRequest");
        srv_conn_request_done(c);
        return;
    }
    if (!check_range(s, r, &err)) {
        srv_conn_reply_error(s, c, method, request_id, err.status, err.msg);
        range_scratch_release(&sc, &r->base);
        srv_conn_request_done(c);
        return;
    }
    bool serializable = r->consistency == METASTORE__CONSISTENCY__SERIALIZABLE;
    raft_index min_applied = r->min_applied_index;
    raft_index applied = engine_applied_index(s->eng);
    bool leader = raft_role_of(s->raft) == RAFT_LEADER;
    const struct srv_config *cfg = &s->cfg;
    bool lease_mode = cfg->lease_read.enable &&
                      cfg->lease_read.read_mode == SRV_READ_MODE_LEASE;
    bool fast = !serializable && leader && lease_mode &&
                cfg->lease_read.read_mode != SRV_READ_MODE_LOG &&
                lease_valid(&s->lease, start);
    raft_index index = fast ? raft_commit_index(s->raft) : 0;
    if (index < min_applied) {
        index = min_applied;
    }
    if ((serializable && applied >= min_applied) || (fast && applied >= index)) {
        /* Served at once: the common case of the lease fast path. */
        enum srv_read_path path = fast ? SRV_PATH_FAST : SRV_PATH_SERIALIZABLE;
        run_range(s, c, method, request_id, r);
        range_scratch_release(&sc, &r->base);
        srv_read_done(s, path, start);
        srv_conn_request_done(c);
        if (fast && lease_should_renew_early(&s->lease, start)) {
            srv_node_renew_lease(s, start);
        }
        return;
    }
    range_scratch_release(&sc, &r->base);

    if (!serializable && cfg->lease_read.read_mode == SRV_READ_MODE_LOG) {
        if (!propose(s, c, method, request_id, body, len)) {
            srv_conn_request_done(c);
        }
        return;
    }
    struct srv_wait *w = new_wait(s, c, SRV_WAIT_READ, method, request_id);
    if (w != NULL && len > 0 && (w->body = malloc(len)) == NULL) {
        srv_conn_unref(c);
        free(w);
        w = NULL;
    }
    if (w == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        srv_conn_request_done(c);
        return;
    }
    if (len > 0) {
        memcpy(w->body, body, len);
    }
    w->body_len = len;
    w->start_ns = start;
    w->read_term = raft_term_of(s->raft);
    /* Waits for apply (lease or serializable), or for a ReadIndex round
     * that srv_reads_start_rounds() starts once for every read parked in
     * this loop turn (reads.c); on a node that knows no leader yet the read
     * waits for one.  Refused with RESOURCE_EXHAUSTED past
     * server.max_pending_reads. */
    if (serializable || fast) {
        w->path = fast ? SRV_PATH_FAST : SRV_PATH_SERIALIZABLE;
        w->index = index;
    } else {
        w->path = leader ? SRV_PATH_READINDEX : SRV_PATH_FOLLOWER;
    }
    srv_node_park(s, w);
}

static void dispatch_status(struct srv *s, struct srv_conn *c, uint16_t method,
                            uint64_t request_id)
{
    Metastore__StatusResponse *p = arena(s, sizeof *p);
    Metastore__ReadStats *rs = arena(s, sizeof *rs);
    if (p == NULL || rs == NULL) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_INTERNAL,
                             "out of memory");
        return;
    }
    struct engine_stats st;
    engine_stats(s->eng, &st);
    metastore__status_response__init(p);
    metastore__read_stats__init(rs);
    uint64_t now = srv_now_ns();
    struct lease_stats ls;
    lease_stats(&s->lease, now, &ls);
    rs->lease_reads = s->stats.reads[SRV_PATH_FAST];
    rs->read_index_reads = s->stats.reads[SRV_PATH_READINDEX];
    rs->follower_reads = s->stats.reads[SRV_PATH_FOLLOWER];
    rs->serializable_reads = s->stats.reads[SRV_PATH_SERIALIZABLE];
    rs->log_reads = s->stats.reads[SRV_PATH_LOG];
    rs->forwarded = s->stats.forwarded;
    rs->lease_renewals = ls.renewals;
    rs->lease_expirations = ls.expirations;
    rs->lease_revocations = ls.revocations;
    rs->lease_valid = ls.valid;
    rs->lease_remaining_us = lease_remaining(&s->lease, now) / 1000u;
    rs->lease_last_renew_ago_us =
        ls.last_renew_ns != 0 && now > ls.last_renew_ns
            ? (now - ls.last_renew_ns) / 1000u
            : 0;
    struct readindex_stats ri;
    readindex_stats(&s->reads, &ri);
    rs->read_index_rounds = s->stats.readindex_rounds;
    rs->read_index_round_reads = ri.round_reads;
    rs->pending_reads = ri.pending;
    rs->rejected_reads = ri.rejected;
    rs->cancelled_reads = ri.cancelled;
    rs->apply_waits = s->stats.apply_waits;
    rs->read_timeouts = s->stats.read_timeouts;
    rs->lease_answered_follower = s->stats.lease_answered_follower;
    Metastore__PathLatency **lat = arena(s, SRV_PATH_COUNT * sizeof *lat);
    for (int i = 0; lat != NULL && i < SRV_PATH_COUNT; i++) {
        const struct lease_hist *h = &s->stats.read_latency[i];
        Metastore__PathLatency *pl = arena(s, sizeof *pl);
        if (pl == NULL) {
            lat = NULL;
            break;
        }
        metastore__path_latency__init(pl);
        pl->path = (char *)srv_read_path_name((enum srv_read_path)i);
        pl->count = s->stats.reads[i];
        pl->p50_us = lease_hist_quantile(h, 0.50) / 1000u;
        pl->p90_us = lease_hist_quantile(h, 0.90) / 1000u;
        pl->p99_us = lease_hist_quantile(h, 0.99) / 1000u;
        pl->p999_us = lease_hist_quantile(h, 0.999) / 1000u;
        pl->max_us = lease_hist_quantile(h, 1.0) / 1000u;
        lat[i] = pl;
    }
    if (lat != NULL) {
        rs->latency = lat;
        rs->n_latency = SRV_PATH_COUNT;
    }
    p->header = new_header(s);
    p->version = METASTORE_VERSION;
    p->member_id = s->cfg.node.id;
    p->leader_id = raft_leader(s->raft);
    p->raft_term = raft_term_of(s->raft);
    p->raft_index = raft_last_index(s->raft);
    p->commit_index = raft_commit_index(s->raft);
    p->applied_index = engine_applied_index(s->eng);
    p->revision = st.revision;
    p->compact_revision = st.compact_revision;
    p->db_size = engine_rocksdb_is(s->eng)
                     ? (int64_t)engine_rocksdb_disk_bytes(s->eng)
                     : (int64_t)st.approx_bytes;
    p->key_count = st.keys;
    p->engine = (char *)engine_name(s->eng);
    p->role = (char *)raft_role_name(raft_role_of(s->raft));
    const struct raft_member *me =
        raft_conf_find(raft_conf_of(s->raft), s->cfg.node.id);
    p->is_learner = me != NULL && me->learner;
    p->read_stats = rs;
    reply_ok(s, c, method, request_id, &p->base);
}

static void dispatch_ping(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, const uint8_t *body, size_t len)
{
    Metastore__PingRequest *r = metastore__ping_request__unpack(NULL, len, body);
    if (r == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "body is not a valid PingRequest");
        return;
    }
    Metastore__PingResponse p = METASTORE__PING_RESPONSE__INIT;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    p.header = &h;
    p.payload = r->payload;
    reply_ok(s, c, method, request_id, &p.base);
    metastore__ping_request__free_unpacked(r, NULL);
}

/* ---- membership and admin --------------------------------------------------- */

static Metastore__Member *member_pb(struct srv *s,
                                    const struct srv_member_info *m)
{
    Metastore__Member *p = arena(s, sizeof *p);
    if (p != NULL) {
        metastore__member__init(p);
        p->id = m->id;
        p->name = (char *)m->name;
        p->peer_addr = (char *)m->peer_addr;
        p->client_addr = (char *)m->client_addr;
        p->is_learner = m->learner;
    }
    return p;
}

static Metastore__Member **members_pb(struct srv *s, size_t *n)
{
    Metastore__Member **v = arena(s, (s->members.n + 1) * sizeof *v);
    *n = 0;
    for (uint32_t i = 0; v != NULL && i < s->members.n; i++) {
        if ((v[i] = member_pb(s, &s->members.m[i])) == NULL) {
            return NULL;
        }
        (*n)++;
    }
    return v;
}

static void dispatch_member_list(struct srv *s, struct srv_conn *c,
                                 uint16_t method, uint64_t request_id)
{
    Metastore__MemberListResponse p = METASTORE__MEMBER_LIST_RESPONSE__INIT;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    p.header = &h;
    p.members = members_pb(s, &p.n_members);
    reply_ok(s, c, method, request_id, &p.base);
}

void srv_kv_conf_applied(struct srv *s, struct srv_wait *w)
{
    s->reply_start_ns = w->start_ns;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    size_t n = 0;
    Metastore__Member **all = members_pb(s, &n);
    switch (w->method) {
    case SRV_METHOD_MEMBER_ADD: {
        Metastore__MemberAddResponse p = METASTORE__MEMBER_ADD_RESPONSE__INIT;
        const struct srv_member_info *m = srv_members_get(&s->members, w->ctx);
        p.header = &h;
        p.member = m != NULL ? member_pb(s, m) : NULL;
        p.members = all;
        p.n_members = n;
        reply_ok(s, w->conn, w->method, w->request_id, &p.base);
        break;
    }
    case SRV_METHOD_MEMBER_REMOVE: {
        Metastore__MemberRemoveResponse p =
            METASTORE__MEMBER_REMOVE_RESPONSE__INIT;
        p.header = &h;
        p.members = all;
        p.n_members = n;
        reply_ok(s, w->conn, w->method, w->request_id, &p.base);
        break;
    }
    case SRV_METHOD_MEMBER_PROMOTE: {
        Metastore__MemberPromoteResponse p =
            METASTORE__MEMBER_PROMOTE_RESPONSE__INIT;
        p.header = &h;
        p.members = all;
        p.n_members = n;
        reply_ok(s, w->conn, w->method, w->request_id, &p.base);
        break;
    }
    case SRV_METHOD_MOVE_LEADER: {
        Metastore__MoveLeaderResponse p = METASTORE__MOVE_LEADER_RESPONSE__INIT;
        p.header = &h;
        reply_ok(s, w->conn, w->method, w->request_id, &p.base);
        break;
    }
    default:
        srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                             SRV_STATUS_INTERNAL, "unexpected request");
    }
    engine_arena_reset(&s->arena);
}

/* A member id nobody uses: derived from the clock, never 0. */
static uint64_t new_member_id(struct srv *s)
{
    uint64_t x = srv_now_ns() ^ (s->cfg.node.id << 48);
    for (;;) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        uint64_t id = x & 0x7fffffffffffffffull;
        if (id != 0 && srv_members_get(&s->members, id) == NULL) {
            return id;
        }
        x++;
    }
}

static int conf_status(int rv, char *msg, size_t cap)
{
    switch (rv) {
    case RAFT_ECONFPENDING:
        snprintf(msg, cap, "another membership change is still in progress "
                           "(or the leader is new); retry shortly");
        return SRV_STATUS_FAILED_PRECONDITION;
    case RAFT_EBADCONF:
        snprintf(msg, cap, "the change does not apply to the current "
                           "membership");
        return SRV_STATUS_FAILED_PRECONDITION;
    case RAFT_ETRANSFER:
        snprintf(msg, cap, "leadership transfer in progress; retry");
        return SRV_STATUS_UNAVAILABLE;
    default:
        snprintf(msg, cap, "%s", raft_strerror(rv));
        return SRV_STATUS_INTERNAL;
    }
}

/* Validates a membership request into *cc (ctx points into *ctx_buf). */
static bool member_change(struct srv *s, uint16_t method, const uint8_t *body,
                          size_t len, struct raft_conf_change *cc,
                          uint8_t **ctx_buf, struct kv_error *err)
{
    memset(cc, 0, sizeof *cc);
    *ctx_buf = NULL;
    if (method == SRV_METHOD_MEMBER_ADD) {
        Metastore__MemberAddRequest *r =
            metastore__member_add_request__unpack(NULL, len, body);
        if (r == NULL || r->member == NULL) {
            if (r != NULL) {
                metastore__member_add_request__free_unpacked(r, NULL);
            }
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid MemberAddRequest");
        }
        struct srv_member_info m;
        memset(&m, 0, sizeof m);
        bool ok = true;
        char host[256];
        uint16_t port;
        if (srv_addr_split(r->member->peer_addr, host, sizeof host, &port) !=
                0 ||
            strlen(r->member->name) >= sizeof m.name ||
            strlen(r->member->client_addr) >= sizeof m.client_addr) {
            ok = fail(err, SRV_STATUS_INVALID_ARGUMENT,
                      "member needs a name and a peer address host:port");
        }
        for (uint32_t i = 0; ok && i < s->members.n; i++) {
            if (strcmp(s->members.m[i].peer_addr, r->member->peer_addr) == 0 ||
                (r->member->id != 0 && s->members.m[i].id == r->member->id)) {
                ok = fail(err, SRV_STATUS_FAILED_PRECONDITION,
                          "a member with that id or peer address exists");
            }
        }
        if (ok) {
            m.id = r->member->id != 0 ? r->member->id : new_member_id(s);
            m.learner = r->is_learner || r->member->is_learner;
            snprintf(m.name, sizeof m.name, "%s", r->member->name);
            snprintf(m.peer_addr, sizeof m.peer_addr, "%s",
                     r->member->peer_addr);
            snprintf(m.client_addr, sizeof m.client_addr, "%s",
                     r->member->client_addr);
            size_t clen;
            ok = srv_member_encode(&m, ctx_buf, &clen) == 0 ||
                 fail(err, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            cc->type = m.learner ? RAFT_CC_ADD_LEARNER : RAFT_CC_ADD_VOTER;
            cc->id = m.id;
            cc->ctx = *ctx_buf;
            cc->ctx_len = (uint32_t)clen;
        }
        metastore__member_add_request__free_unpacked(r, NULL);
        return ok;
    }
    uint64_t id = 0;
    if (method == SRV_METHOD_MEMBER_REMOVE) {
        Metastore__MemberRemoveRequest *r =
            metastore__member_remove_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid MemberRemoveRequest");
        }
        id = r->id;
        metastore__member_remove_request__free_unpacked(r, NULL);
        cc->type = RAFT_CC_REMOVE;
    } else {
        Metastore__MemberPromoteRequest *r =
            metastore__member_promote_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid MemberPromoteRequest");
        }
        id = r->id;
        metastore__member_promote_request__free_unpacked(r, NULL);
        cc->type = RAFT_CC_ADD_VOTER;
    }
    const struct raft_member *rm = raft_conf_find(raft_conf_of(s->raft), id);
    if (rm == NULL) {
        return fail(err, SRV_STATUS_NOT_FOUND, "no member with id %llu",
                    (unsigned long long)id);
    }
    if (method == SRV_METHOD_MEMBER_PROMOTE) {
        if (!rm->learner) {
            return fail(err, SRV_STATUS_FAILED_PRECONDITION,
                        "member %llu is not a learner",
                        (unsigned long long)id);
        }
        struct raft_progress_info pr[RAFT_MAX_MEMBERS];
        size_t n = 0;
        raft_index match = 0;
        if (raft_progress(s->raft, pr, RAFT_MAX_MEMBERS, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (pr[i].id == id) {
                    match = pr[i].match;
                }
            }
        }
        raft_index commit = raft_commit_index(s->raft);
        if (match * 10 < commit * 9) {
            return fail(err, SRV_STATUS_FAILED_PRECONDITION,
                        "learner %llu is not caught up yet (has %llu of %llu "
                        "entries); retry later",
                        (unsigned long long)id, (unsigned long long)match,
                        (unsigned long long)commit);
        }
    }
    cc->id = id;
    return true;
}

static bool dispatch_member_change(struct srv *s, struct srv_conn *c,
                                   uint16_t method, uint64_t request_id,
                                   const uint8_t *body, size_t len)
{
    if (raft_role_of(s->raft) != RAFT_LEADER) {
        if (raft_leader(s->raft) == RAFT_NONE) {
            return park_for_leader(s, c, method, request_id, body, len);
        }
        reply_not_leader(s, c, method, request_id);
        return false;
    }
    struct raft_conf_change cc;
    uint8_t *ctx = NULL;
    struct kv_error err;
    if (!member_change(s, method, body, len, &cc, &ctx, &err)) {
        free(ctx);
        srv_conn_reply_error(s, c, method, request_id, err.status, err.msg);
        return false;
    }
    raft_index index;
    raft_term term;
    int rv = raft_propose_conf_change(s->raft, &cc, srv_now_ns(), &index,
                                      &term);
    free(ctx);
    if (rv != 0) {
        char msg[160];
        int st = conf_status(rv, msg, sizeof msg);
        srv_conn_reply_error(s, c, method, request_id, st, msg);
        return false;
    }
    struct srv_wait *w = new_wait(s, c, SRV_WAIT_PROPOSAL, method, request_id);
    if (w == NULL) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_INTERNAL,
                             "out of memory; the change may still apply");
        return false;
    }
    w->index = index;
    w->term = term;
    w->ctx = cc.id;
    ms_info("membership change proposed: %s node %llu at entry %llu",
            srv_method_name(method), (unsigned long long)cc.id,
            (unsigned long long)index);
    srv_node_park(s, w);
    return true;
}

static bool dispatch_move_leader(struct srv *s, struct srv_conn *c,
                                 uint16_t method, uint64_t request_id,
                                 const uint8_t *body, size_t len)
{
    Metastore__MoveLeaderRequest *r =
        metastore__move_leader_request__unpack(NULL, len, body);
    if (r == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "body is not a valid MoveLeaderRequest");
        return false;
    }
    uint64_t target = r->target_id;
    metastore__move_leader_request__free_unpacked(r, NULL);
    if (raft_role_of(s->raft) != RAFT_LEADER) {
        reply_not_leader(s, c, method, request_id);
        return false;
    }
    if (target == s->cfg.node.id) {
        Metastore__MoveLeaderResponse p = METASTORE__MOVE_LEADER_RESPONSE__INIT;
        Metastore__ResponseHeader h;
        srv_fill_header(s, &h);
        p.header = &h;
        reply_ok(s, c, method, request_id, &p.base);
        return false;
    }
    /* The lease ends before the transfer starts (TiKV's "suspect"). */
    lease_transfer_started(&s->lease, srv_now_ns());
    int rv = raft_transfer_leadership(s->raft, target, srv_now_ns());
    if (rv != 0) {
        srv_conn_reply_error(
            s, c, method, request_id,
            rv == RAFT_EINVAL ? SRV_STATUS_INVALID_ARGUMENT
                              : SRV_STATUS_FAILED_PRECONDITION,
            rv == RAFT_EINVAL ? "the target is not a voting member"
                              : raft_strerror(rv));
        return false;
    }
    ms_info("leadership transfer to node %llu started",
            (unsigned long long)target);
    struct srv_wait *w = new_wait(s, c, SRV_WAIT_TRANSFER, method, request_id);
    if (w == NULL) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_INTERNAL,
                             "out of memory");
        return false;
    }
    w->index = target;
    srv_node_park(s, w);
    return true;
}

static void dispatch_fault(struct srv *s, struct srv_conn *c, uint16_t method,
                           uint64_t request_id, const uint8_t *body,
                           size_t len)
{
    if (!s->cfg.server.enable_fault_hook) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_PERMISSION_DENIED,
                             "the fault hook is for tests and disabled "
                             "(server.enable_fault_hook: false)");
        return;
    }
    Metastore__FaultRequest *r = metastore__fault_request__unpack(NULL, len, body);
    if (r == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "body is not a valid FaultRequest");
        return;
    }
    int rv = 0;
    switch (r->action) {
    case METASTORE__FAULT_REQUEST__ACTION__DROP_PEER:
    case METASTORE__FAULT_REQUEST__ACTION__HEAL_PEER:
        rv = srv_node_fault_drop(
            s, r->peer_id,
            r->action == METASTORE__FAULT_REQUEST__ACTION__DROP_PEER);
        break;
    case METASTORE__FAULT_REQUEST__ACTION__HEAL_ALL:
        for (uint32_t i = 0; i < s->members.n; i++) {
            (void)srv_node_fault_drop(s, s->members.m[i].id, false);
        }
        break;
    default:
        rv = -1;
    }
    metastore__fault_request__free_unpacked(r, NULL);
    if (rv != 0) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_UNIMPLEMENTED,
                             "fault action not supported");
        return;
    }
    Metastore__FaultResponse p = METASTORE__FAULT_RESPONSE__INIT;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    p.header = &h;
    reply_ok(s, c, method, request_id, &p.base);
}

/* Decodes a write request only to validate it; the entry carries the raw
 * body and is decoded again when it applies. */
static bool validate_write(struct srv *s, uint16_t method, const uint8_t *body,
                           size_t len, struct kv_error *err)
{
    bool ok = false;
    switch (method) {
    case SRV_METHOD_PUT: {
        Metastore__PutRequest *r = metastore__put_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid PutRequest");
        }
        ok = check_put(s, r, err);
        metastore__put_request__free_unpacked(r, NULL);
        break;
    }
    case SRV_METHOD_DELETE_RANGE: {
        Metastore__DeleteRangeRequest *r =
            metastore__delete_range_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid DeleteRangeRequest");
        }
        ok = check_range_keys(s, &r->key, &r->range_end, err);
        metastore__delete_range_request__free_unpacked(r, NULL);
        break;
    }
    case SRV_METHOD_TXN: {
        Metastore__TxnRequest *r = metastore__txn_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid TxnRequest");
        }
        ok = check_txn(s, r, err);
        metastore__txn_request__free_unpacked(r, NULL);
        break;
    }
    case SRV_METHOD_COMPACT: {
        Metastore__CompactionRequest *r =
            metastore__compaction_request__unpack(NULL, len, body);
        if (r == NULL) {
            return fail(err, SRV_STATUS_INVALID_ARGUMENT,
                        "body is not a valid CompactionRequest");
        }
        ok = r->revision > 0 ||
             fail(err, SRV_STATUS_INVALID_ARGUMENT, "revision must be > 0");
        if (ok && r->revision > engine_revision(s->eng)) {
            ok = fail(err, SRV_STATUS_INVALID_ARGUMENT,
                      "revision %lld is in the future (current %lld)",
                      (long long)r->revision,
                      (long long)engine_revision(s->eng));
        }
        metastore__compaction_request__free_unpacked(r, NULL);
        break;
    }
    case SRV_METHOD_LEASE_GRANT:
    case SRV_METHOD_LEASE_REVOKE: {
        int st;
        char msg[160];
        ok = srv_ttl_validate(s, method, body, len, &st, msg, sizeof msg) ||
             fail(err, st, "%s", msg);
        break;
    }
    default:
        break;
    }
    return ok;
}

/* The command table: what each method is and how it is served. */
enum cmd_flags {
    CMD_WRITE = 1, /* proposed through Raft */
    CMD_READ = 2,  /* the read path */
    CMD_LOCAL = 4, /* answered from this node's state */
    CMD_ADMIN = 8, /* membership and operator requests */
    CMD_STREAM = 16, /* opens or drives a stream (watch_glue.c) */
    CMD_LEADER = 32, /* served by the leader from its state (TTL leases) */
    CMD_AUTH = 64, /* users, roles, permissions (auth_glue.c) */
};

static const struct cmd {
    uint16_t method;
    unsigned flags;
} commands[] = {
    {SRV_METHOD_PING, CMD_LOCAL},         {SRV_METHOD_STATUS, CMD_LOCAL},
    {SRV_METHOD_RANGE, CMD_READ},         {SRV_METHOD_PUT, CMD_WRITE},
    {SRV_METHOD_DELETE_RANGE, CMD_WRITE}, {SRV_METHOD_TXN, CMD_WRITE},
    {SRV_METHOD_COMPACT, CMD_WRITE},
    {SRV_METHOD_MEMBER_LIST, CMD_LOCAL},  {SRV_METHOD_MEMBER_ADD, CMD_ADMIN},
    {SRV_METHOD_MEMBER_REMOVE, CMD_ADMIN}, {SRV_METHOD_MEMBER_PROMOTE, CMD_ADMIN},
    {SRV_METHOD_MOVE_LEADER, CMD_ADMIN},  {SRV_METHOD_FAULT, CMD_LOCAL},
    {SRV_METHOD_WATCH, CMD_STREAM},
    {SRV_METHOD_LEASE_GRANT, CMD_WRITE},  {SRV_METHOD_LEASE_REVOKE, CMD_WRITE},
    {SRV_METHOD_LEASE_KEEPALIVE, CMD_LEADER},
    {SRV_METHOD_LEASE_TIME_TO_LIVE, CMD_LEADER},
    {SRV_METHOD_LEASE_LEASES, CMD_LEADER},
    {SRV_METHOD_AUTHENTICATE, CMD_AUTH},  {SRV_METHOD_AUTH_ENABLE, CMD_AUTH},
    {SRV_METHOD_AUTH_DISABLE, CMD_AUTH},  {SRV_METHOD_AUTH_STATUS, CMD_AUTH},
    {SRV_METHOD_USER_ADD, CMD_AUTH},      {SRV_METHOD_USER_GET, CMD_AUTH},
    {SRV_METHOD_USER_LIST, CMD_AUTH},     {SRV_METHOD_USER_DELETE, CMD_AUTH},
    {SRV_METHOD_USER_CHANGE_PASSWORD, CMD_AUTH},
    {SRV_METHOD_USER_GRANT_ROLE, CMD_AUTH},
    {SRV_METHOD_USER_REVOKE_ROLE, CMD_AUTH},
    {SRV_METHOD_ROLE_ADD, CMD_AUTH},      {SRV_METHOD_ROLE_GET, CMD_AUTH},
    {SRV_METHOD_ROLE_LIST, CMD_AUTH},     {SRV_METHOD_ROLE_DELETE, CMD_AUTH},
    {SRV_METHOD_ROLE_GRANT_PERMISSION, CMD_AUTH},
    {SRV_METHOD_ROLE_REVOKE_PERMISSION, CMD_AUTH},
};

void srv_kv_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                     uint64_t request_id, const uint8_t *body, size_t len)
{
    s->reply_start_ns = srv_now_ns();
    const struct cmd *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (commands[i].method == method) {
            cmd = &commands[i];
            break; /* methods are unique; Ping and Range come first */
        }
    }
    s->stats.requests++;
    if (cmd == NULL) {
        char msg[96];
        snprintf(msg, sizeof msg, "method %u (%s) is not supported", method,
                 srv_method_name(method));
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_UNIMPLEMENTED, msg);
        srv_conn_request_done(c);
        return;
    }
    if (s->failed || s->shutting_down) {
        srv_conn_reply_error(s, c, method, request_id, SRV_STATUS_UNAVAILABLE,
                             s->failed ? "server failed" : "shutting down");
        srv_conn_request_done(c);
        return;
    }
    if (!srv_conn_is_forwarded(c)) {
        /* Before anything reaches the engine or the log; a forwarded
         * request was checked on the node that received it. */
        char msg[200];
        int st = srv_auth_check(s, srv_conn_auth_id(c), method, body, len,
                                msg, sizeof msg);
        if (st != SRV_STATUS_OK) {
            srv_conn_reply_error(s, c, method, request_id, st, msg);
            srv_conn_request_done(c);
            return;
        }
    }
    if (cmd->flags & CMD_AUTH) {
        srv_auth_dispatch(s, c, method, request_id, body, len);
        return;
    }
    if (cmd->flags & CMD_STREAM) {
        /* A stream is not a request in progress: it never counts against
         * max_pending_per_conn. */
        srv_watch_request(s, c, request_id, body, len);
        srv_conn_request_done(c);
        return;
    }
    if (cmd->flags & CMD_WRITE) {
        struct kv_error err;
        if (!validate_write(s, method, body, len, &err)) {
            srv_conn_reply_error(s, c, method, request_id, err.status, err.msg);
            srv_conn_request_done(c);
            return;
        }
        if (!propose(s, c, method, request_id, body, len)) {
            srv_conn_request_done(c);
        }
        return;
    }
    if (cmd->flags & CMD_READ) {
        dispatch_range(s, c, method, request_id, body, len);
        return;
    }
    if (cmd->flags & CMD_LEADER) {
        srv_ttl_dispatch(s, c, method, request_id, body, len);
        return;
    }
    if (cmd->flags & CMD_ADMIN) {
        bool parked =
            method == SRV_METHOD_MOVE_LEADER
                ? dispatch_move_leader(s, c, method, request_id, body, len)
                : dispatch_member_change(s, c, method, request_id, body, len);
        engine_arena_reset(&s->arena);
        if (!parked) {
            srv_conn_request_done(c);
        }
        return;
    }
    switch (method) {
    case SRV_METHOD_STATUS:
        dispatch_status(s, c, method, request_id);
        break;
    case SRV_METHOD_MEMBER_LIST:
        dispatch_member_list(s, c, method, request_id);
        break;
    case SRV_METHOD_FAULT:
        dispatch_fault(s, c, method, request_id, body, len);
        break;
    default:
        dispatch_ping(s, c, method, request_id, body, len);
    }
    engine_arena_reset(&s->arena);
    srv_conn_request_done(c);
}
