/*
 * result.c - turns an unpacked protobuf response into a struct ms_result.
 *
 * The result keeps the unpacked message and points into it (keys and
 * values are not copied); the arrays of struct ms_kv, ms_op_result and
 * ms_member are allocated here and recorded so ms_result_free() can release
 * them.
 * A response that lacks what its type needs (no header, a Txn response op
 * of an unknown kind) is rejected with MS_EPROTO rather than half-filled.
 */
#include "client/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The private part behind every struct ms_result. */
struct result_impl {
    struct ms_result pub; /* first: ms_result_free() casts back */
    ProtobufCMessage *msg;
    void **allocs;
    size_t n_allocs;
    size_t cap_allocs;
};

static const uint8_t empty[1] = {0};

void ms_result_free(struct ms_result *r)
{
    if (r == NULL) {
        return;
    }
    struct result_impl *impl = (struct result_impl *)r;
    for (size_t i = 0; i < impl->n_allocs; i++) {
        free(impl->allocs[i]);
    }
    free(impl->allocs);
    if (impl->msg != NULL) {
        protobuf_c_message_free_unpacked(impl->msg, NULL);
    }
    free(impl);
}

/* calloc that records the block in impl.  n may be 0. */
static void *alloc(struct result_impl *impl, size_t n, size_t size)
{
    if (impl->n_allocs == impl->cap_allocs) {
        size_t cap = impl->cap_allocs ? impl->cap_allocs * 2 : 8;
        void **a = realloc(impl->allocs, cap * sizeof(*a));
        if (a == NULL) {
            return NULL;
        }
        impl->allocs = a;
        impl->cap_allocs = cap;
    }
    void *p = calloc(n ? n : 1, size);
    if (p != NULL) {
        impl->allocs[impl->n_allocs++] = p;
    }
    return p;
}

static void copy_header(struct ms_header *out,
                        const Metastore__ResponseHeader *h)
{
    if (h == NULL) {
        return;
    }
    out->cluster_id = h->cluster_id;
    out->member_id = h->member_id;
    out->revision = h->revision;
    out->raft_term = h->raft_term;
    out->applied_index = h->applied_index;
}

static void copy_kv(struct ms_kv *out, const Metastore__KeyValue *kv)
{
    out->key = kv->key.data != NULL ? kv->key.data : empty;
    out->key_len = kv->key.len;
    out->value = kv->value.data != NULL ? kv->value.data : empty;
    out->value_len = kv->value.len;
    out->create_revision = kv->create_revision;
    out->mod_revision = kv->mod_revision;
    out->version = kv->version;
    out->lease = kv->lease;
}

static int copy_kvs(struct result_impl *impl, struct ms_kv **out, size_t *n,
                    Metastore__KeyValue **kvs, size_t n_kvs)
{
    *out = alloc(impl, n_kvs, sizeof(**out));
    if (*out == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n_kvs; i++) {
        if (kvs[i] == NULL) {
            return MS_EPROTO;
        }
        copy_kv(&(*out)[i], kvs[i]);
    }
    *n = n_kvs;
    return 0;
}

static int fill_range(struct result_impl *impl, struct ms_range_result *out,
                      const Metastore__RangeResponse *m)
{
    out->more = m->more;
    out->count = m->count;
    return copy_kvs(impl, &out->kvs, &out->n_kvs, m->kvs, m->n_kvs);
}

static void fill_put(struct ms_put_result *out, const Metastore__PutResponse *m)
{
    if (m->prev_kv != NULL) {
        out->has_prev_kv = true;
        copy_kv(&out->prev_kv, m->prev_kv);
    }
}

static int fill_delete(struct result_impl *impl, struct ms_delete_result *out,
                       const Metastore__DeleteRangeResponse *m)
{
    out->deleted = m->deleted;
    return copy_kvs(impl, &out->prev_kvs, &out->n_prev_kvs, m->prev_kvs,
                    m->n_prev_kvs);
}

static int fill_op(struct result_impl *impl, struct ms_op_result *out,
                   const Metastore__ResponseOp *op)
{
    switch (op->response_case) {
    case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_RANGE:
        out->type = MS_OP_RANGE;
        copy_header(&out->header, op->response_range->header);
        return fill_range(impl, &out->range, op->response_range);
    case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
        out->type = MS_OP_PUT;
        copy_header(&out->header, op->response_put->header);
        fill_put(&out->put, op->response_put);
        return 0;
    case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
        out->type = MS_OP_DELETE;
        copy_header(&out->header, op->response_delete_range->header);
        return fill_delete(impl, &out->del, op->response_delete_range);
    default:
        return MS_EPROTO; /* nested txn or unset: we never ask for one */
    }
}

static int fill_txn(struct result_impl *impl, struct ms_txn_result *out,
                    const Metastore__TxnResponse *m)
{
    out->succeeded = m->succeeded;
    out->responses = alloc(impl, m->n_responses, sizeof(*out->responses));
    if (out->responses == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < m->n_responses; i++) {
        if (m->responses[i] == NULL) {
            return MS_EPROTO;
        }
        int rc = fill_op(impl, &out->responses[i], m->responses[i]);
        if (rc != 0) {
            return rc;
        }
    }
    out->n_responses = m->n_responses;
    return 0;
}

static void fill_status(struct ms_status_result *out,
                        const Metastore__StatusResponse *m)
{
    out->version = m->version != NULL ? m->version : "";
    out->engine = m->engine != NULL ? m->engine : "";
    out->role = m->role != NULL ? m->role : "";
    out->member_id = m->member_id;
    out->leader = m->leader_id;
    out->raft_term = m->raft_term;
    out->raft_index = m->raft_index;
    out->commit_index = m->commit_index;
    out->raft_applied_index = m->applied_index;
    out->revision = m->revision;
    out->compact_revision = m->compact_revision;
    out->db_size = m->db_size;
    out->key_count = m->key_count;
    out->is_learner = m->is_learner;
    out->errors = (const char *const *)m->errors;
    out->n_errors = m->n_errors;
    const Metastore__ReadStats *s = m->read_stats;
    if (s != NULL) {
        out->read_stats = (struct ms_read_stats){
            .lease_reads = s->lease_reads,
            .read_index_reads = s->read_index_reads,
            .follower_reads = s->follower_reads,
            .forwarded = s->forwarded,
            .serializable_reads = s->serializable_reads,
            .log_reads = s->log_reads,
            .lease_renewals = s->lease_renewals,
            .lease_expirations = s->lease_expirations,
            .lease_valid = s->lease_valid,
            .lease_remaining_us = s->lease_remaining_us,
            .lease_revocations = s->lease_revocations,
            .lease_last_renew_ago_us = s->lease_last_renew_ago_us,
            .read_index_rounds = s->read_index_rounds,
            .apply_waits = s->apply_waits,
            .read_timeouts = s->read_timeouts,
            .lease_answered_follower = s->lease_answered_follower,
            .pending_reads = s->pending_reads,
            .rejected_reads = s->rejected_reads,
            .cancelled_reads = s->cancelled_reads,
            .read_index_round_reads = s->read_index_round_reads,
        };
        for (size_t i = 0; i < s->n_latency && i < MS_MAX_READ_PATHS; i++) {
            const Metastore__PathLatency *l = s->latency[i];
            struct ms_path_latency *d = &out->read_stats.latency[i];
            snprintf(d->path, sizeof d->path, "%s", l->path);
            d->count = l->count;
            d->p50_us = l->p50_us;
            d->p90_us = l->p90_us;
            d->p99_us = l->p99_us;
            d->p999_us = l->p999_us;
            d->max_us = l->max_us;
            out->read_stats.n_latency = i + 1;
        }
    }
}

static void copy_member(struct ms_member *out, const Metastore__Member *m)
{
    out->id = m->id;
    out->name = m->name != NULL ? m->name : "";
    out->peer_addr = m->peer_addr != NULL ? m->peer_addr : "";
    out->client_addr = m->client_addr != NULL ? m->client_addr : "";
    out->is_learner = m->is_learner;
}

/* Copies a repeated Member field; a NULL element is malformed. */
static int fill_members(struct result_impl *impl, struct ms_members_result *out,
                        Metastore__Member **ms, size_t n)
{
    out->members = alloc(impl, n, sizeof(*out->members));
    if (out->members == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (ms[i] == NULL) {
            return MS_EPROTO;
        }
        copy_member(&out->members[i], ms[i]);
    }
    out->n_members = n;
    return 0;
}

/* The membership responses: MemberAdd also names the new member. */
static int fill_member_resp(struct result_impl *impl, enum ms_result_type type,
                            struct ms_members_result *out,
                            const ProtobufCMessage *m)
{
    static const Metastore__Member none = METASTORE__MEMBER__INIT;
    copy_member(&out->added, &none);
    switch (type) {
    case MS_RESULT_MEMBER_LIST: {
        const Metastore__MemberListResponse *r = (const void *)m;
        return fill_members(impl, out, r->members, r->n_members);
    }
    case MS_RESULT_MEMBER_ADD: {
        const Metastore__MemberAddResponse *r = (const void *)m;
        if (r->member != NULL) {
            copy_member(&out->added, r->member);
        }
        return fill_members(impl, out, r->members, r->n_members);
    }
    case MS_RESULT_MEMBER_REMOVE: {
        const Metastore__MemberRemoveResponse *r = (const void *)m;
        return fill_members(impl, out, r->members, r->n_members);
    }
    case MS_RESULT_MEMBER_PROMOTE: {
        const Metastore__MemberPromoteResponse *r = (const void *)m;
        return fill_members(impl, out, r->members, r->n_members);
    }
    default:
        return 0;
    }
}

/* The header field sits right after `base` in every response message we
 * handle, but reading it through the concrete type keeps this honest. */
static const Metastore__ResponseHeader *header_of(enum ms_result_type type,
                                                  const ProtobufCMessage *m)
{
    switch (type) {
    case MS_RESULT_RANGE:
        return ((const Metastore__RangeResponse *)m)->header;
    case MS_RESULT_PUT:
        return ((const Metastore__PutResponse *)m)->header;
    case MS_RESULT_DELETE:
        return ((const Metastore__DeleteRangeResponse *)m)->header;
    case MS_RESULT_TXN:
        return ((const Metastore__TxnResponse *)m)->header;
    case MS_RESULT_COMPACT:
        return ((const Metastore__CompactionResponse *)m)->header;
    case MS_RESULT_STATUS:
        return ((const Metastore__StatusResponse *)m)->header;
    case MS_RESULT_PING:
        return ((const Metastore__PingResponse *)m)->header;
    case MS_RESULT_MEMBER_LIST:
        return ((const Metastore__MemberListResponse *)m)->header;
    case MS_RESULT_MEMBER_ADD:
        return ((const Metastore__MemberAddResponse *)m)->header;
    case MS_RESULT_MEMBER_REMOVE:
        return ((const Metastore__MemberRemoveResponse *)m)->header;
    case MS_RESULT_MEMBER_PROMOTE:
        return ((const Metastore__MemberPromoteResponse *)m)->header;
    case MS_RESULT_MOVE_LEADER:
        return ((const Metastore__MoveLeaderResponse *)m)->header;
    case MS_RESULT_FAULT:
        return ((const Metastore__FaultResponse *)m)->header;
    }
    return NULL;
}

static int fill_ok(struct result_impl *impl, enum ms_result_type type)
{
    struct ms_result *r = &impl->pub;
    const ProtobufCMessage *m = impl->msg;
    const Metastore__ResponseHeader *h = header_of(type, m);
    if (h == NULL) {
        return MS_EPROTO;
    }
    copy_header(&r->header, h);
    switch (type) {
    case MS_RESULT_RANGE:
        return fill_range(impl, &r->range, (const Metastore__RangeResponse *)m);
    case MS_RESULT_PUT:
        fill_put(&r->put, (const Metastore__PutResponse *)m);
        return 0;
    case MS_RESULT_DELETE:
        return fill_delete(impl, &r->del,
                           (const Metastore__DeleteRangeResponse *)m);
    case MS_RESULT_TXN:
        return fill_txn(impl, &r->txn, (const Metastore__TxnResponse *)m);
    case MS_RESULT_STATUS:
        fill_status(&r->status_info, (const Metastore__StatusResponse *)m);
        return 0;
    case MS_RESULT_MEMBER_LIST:
    case MS_RESULT_MEMBER_ADD:
    case MS_RESULT_MEMBER_REMOVE:
    case MS_RESULT_MEMBER_PROMOTE:
        return fill_member_resp(impl, type, &r->members, m);
    case MS_RESULT_COMPACT:
    case MS_RESULT_PING:
    case MS_RESULT_MOVE_LEADER:
    case MS_RESULT_FAULT:
        return 0;
    }
    return MS_EPROTO;
}

int ms__result_build(enum ms_result_type type, struct ms__call *call,
                     struct ms_result **out)
{
    *out = NULL;
    struct result_impl *impl = calloc(1, sizeof(*impl));
    if (impl == NULL) {
        return MS_ENOMEM;
    }
    struct ms_result *r = &impl->pub;
    r->type = type;
    r->message = "";
    r->leader_addr = "";
    r->members.added.name = "";
    r->members.added.peer_addr = "";
    r->members.added.client_addr = "";
    r->took_ns = call->took_ns;
    int rc;
    if (call->err != NULL) {
        Metastore__ErrorDetail *d = call->err;
        impl->msg = &d->base;
        call->err = NULL;
        r->status = (int)d->code;
        r->message = d->message != NULL ? d->message : "";
        r->leader_id = d->leader_id;
        r->leader_addr = d->leader_addr != NULL ? d->leader_addr : "";
        r->compact_revision = d->compact_revision;
        copy_header(&r->header, d->header);
        /* An error detail that says OK is malformed. */
        rc = d->code == METASTORE__STATUS_CODE__OK
                 ? MS_EPROTO
                 : ms_status_to_error((int)d->code);
        if (rc == MS_EPROTO) {
            ms_result_free(r);
            return rc;
        }
        *out = r;
        return rc;
    }
    impl->msg = call->resp;
    call->resp = NULL;
    if (impl->msg == NULL) {
        ms_result_free(r);
        return MS_EPROTO;
    }
    rc = fill_ok(impl, type);
    if (rc != 0) {
        ms_result_free(r);
        return rc;
    }
    *out = r;
    return 0;
}
