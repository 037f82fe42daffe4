/*
 * ops.c - the public calls (ms_put, ms_get, ms_delete, ms_txn, ms_compact,
 * ms_status, ms_ping): each validates its arguments, builds the protobuf
 * request on the stack (plus a few scratch allocations for Txn and prefix
 * range ends), runs it through ms__client_call() and turns the answer into
 * a struct ms_result.  Range, Status and Ping are idempotent (safe to resend
 * after a broken connection); Put, DeleteRange, Txn and Compact are not.
 * The membership and operator calls are in members.c.
 */
#include "client/internal.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t zero_byte[1] = {0};

/* Allocations freed together at the end of a call. */
struct scratch {
    void **p;
    size_t n;
    size_t cap;
};

/* Records p (freeing it if the record cannot grow).  0 or MS_ENOMEM. */
static int scratch_keep(struct scratch *s, void *p)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void **a = realloc(s->p, cap * sizeof(*a));
        if (a == NULL) {
            free(p);
            return MS_ENOMEM;
        }
        s->p = a;
        s->cap = cap;
    }
    s->p[s->n++] = p;
    return 0;
}

static void *scratch_alloc(struct scratch *s, size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (p == NULL || scratch_keep(s, p) != 0) {
        return NULL;
    }
    return p;
}

static void scratch_free(struct scratch *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->p[i]);
    }
    free(s->p);
    s->p = NULL;
    s->n = s->cap = 0;
}

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    ProtobufCBinaryData b = {.len = n, .data = (uint8_t *)(uintptr_t)p};
    return b;
}

/* Fills key and range_end as etcd's clientv3 does for the options. */
static int key_range(struct scratch *s, const void *key, size_t key_len,
                     const struct ms_range_options *o, ProtobufCBinaryData *k,
                     ProtobufCBinaryData *end)
{
    *k = bin(key, key_len);
    *end = bin(NULL, 0);
    if (o == NULL) {
        return 0;
    }
    if (o->prefix && o->from_key) {
        return MS_EINVAL;
    }
    if (o->from_key || (o->prefix && key_len == 0)) {
        if (key_len == 0) {
            *k = bin(zero_byte, 1);
        }
        *end = bin(zero_byte, 1);
        return 0;
    }
    if (o->prefix) {
        uint8_t *e = NULL;
        size_t elen = 0;
        int rc = ms_prefix_range_end(key, key_len, &e, &elen);
        if (rc != 0) {
            return rc;
        }
        if (scratch_keep(s, e) != 0) {
            return MS_ENOMEM;
        }
        *end = bin(e, elen);
        return 0;
    }
    if (o->range_end_len > 0) {
        if (o->range_end == NULL) {
            return MS_EINVAL;
        }
        *end = bin(o->range_end, o->range_end_len);
    }
    return 0;
}

static int fill_range_req(struct ms_client *c, struct scratch *s,
                          Metastore__RangeRequest *req, const void *key,
                          size_t key_len, const struct ms_range_options *o)
{
    metastore__range_request__init(req);
    int rc = key_range(s, key, key_len, o, &req->key, &req->range_end);
    if (rc != 0) {
        return rc;
    }
    req->min_applied_index = ms__client_min_applied(c);
    if (o == NULL) {
        return 0;
    }
    if (o->limit < 0 || o->revision < 0 || o->sort_order > MS_SORT_DESCEND ||
        o->sort_target > MS_SORT_VALUE ||
        o->consistency > MS_CONSISTENCY_SERIALIZABLE) {
        return MS_EINVAL;
    }
    req->limit = o->limit;
    req->revision = o->revision;
    req->keys_only = o->keys_only;
    req->count_only = o->count_only;
    /* Our enums use the protocol's numbers (checked by a unit test). */
    req->sort_order = (Metastore__RangeRequest__SortOrder)o->sort_order;
    req->sort_target = (Metastore__RangeRequest__SortTarget)o->sort_target;
    req->consistency = (Metastore__Consistency)o->consistency;
    return 0;
}

int ms__run(struct ms_client *c, uint16_t method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *desc, bool idempotent,
            enum ms_result_type type, struct ms_result **out)
{
    struct ms__call call = {
        .method = method,
        .req = req,
        .resp_desc = desc,
        .idempotent = idempotent,
    };
    int rc = ms__client_call(c, &call);
    if (rc != 0) {
        return rc;
    }
    rc = ms__result_build(type, &call, out);
    if (*out != NULL) {
        ms__client_note_applied(c, (*out)->header.applied_index);
        if (rc != 0) {
            ms__client_set_errmsg(c, "%s",
                                  (*out)->message[0] != '\0' ? (*out)->message
                                                             : ms_strerror(rc));
        }
    } else if (rc == MS_EPROTO) {
        ms__client_set_errmsg(c, "malformed response from %s",
                              ms_client_endpoint(c));
    }
    return rc;
}

static bool bad_bytes(const void *p, size_t n)
{
    return p == NULL && n > 0;
}

int ms_put(struct ms_client *c, const void *key, size_t key_len,
           const void *value, size_t value_len, int64_t lease, bool prev_kv,
           struct ms_result **out)
{
    *out = NULL;
    if (key_len == 0 || bad_bytes(key, key_len) ||
        bad_bytes(value, value_len)) {
        ms__client_set_errmsg(c, "put: a key is required");
        return MS_EINVAL;
    }
    Metastore__PutRequest req = METASTORE__PUT_REQUEST__INIT;
    req.key = bin(key, key_len);
    req.value = bin(value, value_len);
    req.lease = lease;
    req.prev_kv = prev_kv;
    return ms__run(c, MS__METHOD_PUT, &req.base,
                   &metastore__put_response__descriptor, false, MS_RESULT_PUT,
                   out);
}

int ms_get(struct ms_client *c, const void *key, size_t key_len,
           const struct ms_range_options *opts, struct ms_result **out)
{
    *out = NULL;
    if (bad_bytes(key, key_len)) {
        return MS_EINVAL;
    }
    struct scratch s = {0};
    Metastore__RangeRequest req;
    int rc = fill_range_req(c, &s, &req, key, key_len, opts);
    if (rc == 0) {
        rc = ms__run(c, MS__METHOD_RANGE, &req.base,
                     &metastore__range_response__descriptor, true,
                     MS_RESULT_RANGE, out);
    } else {
        ms__client_set_errmsg(c, "get: %s", ms_strerror(rc));
    }
    scratch_free(&s);
    return rc;
}

int ms_delete(struct ms_client *c, const void *key, size_t key_len,
              const struct ms_range_options *opts, bool prev_kv,
              struct ms_result **out)
{
    *out = NULL;
    if (bad_bytes(key, key_len)) {
        return MS_EINVAL;
    }
    struct scratch s = {0};
    Metastore__DeleteRangeRequest req = METASTORE__DELETE_RANGE_REQUEST__INIT;
    req.prev_kv = prev_kv;
    int rc = key_range(&s, key, key_len, opts, &req.key, &req.range_end);
    if (rc == 0) {
        rc = ms__run(c, MS__METHOD_DELETE_RANGE, &req.base,
                     &metastore__delete_range_response__descriptor, false,
                     MS_RESULT_DELETE, out);
    } else {
        ms__client_set_errmsg(c, "del: %s", ms_strerror(rc));
    }
    scratch_free(&s);
    return rc;
}

static int fill_compare(Metastore__Compare *m, const struct ms_compare *cmp)
{
    metastore__compare__init(m);
    if (cmp->target > MS_CMP_LEASE || cmp->op > MS_CMP_NOT_EQUAL ||
        bad_bytes(cmp->key, cmp->key_len) ||
        bad_bytes(cmp->range_end, cmp->range_end_len) ||
        bad_bytes(cmp->value, cmp->value_len)) {
        return MS_EINVAL;
    }
    m->result = (Metastore__Compare__CompareResult)cmp->op;
    m->target = (Metastore__Compare__CompareTarget)cmp->target;
    m->key = bin(cmp->key, cmp->key_len);
    m->range_end = bin(cmp->range_end, cmp->range_end_len);
    switch (cmp->target) {
    case MS_CMP_VERSION:
        m->target_union_case = METASTORE__COMPARE__TARGET_UNION_VERSION;
        m->version = cmp->number;
        break;
    case MS_CMP_CREATE:
        m->target_union_case = METASTORE__COMPARE__TARGET_UNION_CREATE_REVISION;
        m->create_revision = cmp->number;
        break;
    case MS_CMP_MOD:
        m->target_union_case = METASTORE__COMPARE__TARGET_UNION_MOD_REVISION;
        m->mod_revision = cmp->number;
        break;
    case MS_CMP_VALUE:
        m->target_union_case = METASTORE__COMPARE__TARGET_UNION_VALUE;
        m->value = bin(cmp->value, cmp->value_len);
        break;
    case MS_CMP_LEASE:
        m->target_union_case = METASTORE__COMPARE__TARGET_UNION_LEASE;
        m->lease = cmp->number;
        break;
    }
    return 0;
}

static int fill_request_op(struct ms_client *c, struct scratch *s,
                           Metastore__RequestOp *m, const struct ms_op *op)
{
    metastore__request_op__init(m);
    if (bad_bytes(op->key, op->key_len) ||
        bad_bytes(op->value, op->value_len)) {
        return MS_EINVAL;
    }
    switch (op->type) {
    case MS_OP_RANGE: {
        Metastore__RangeRequest *r = scratch_alloc(s, 1, sizeof(*r));
        if (r == NULL) {
            return MS_ENOMEM;
        }
        m->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE;
        m->request_range = r;
        return fill_range_req(c, s, r, op->key, op->key_len, &op->range);
    }
    case MS_OP_PUT: {
        Metastore__PutRequest *p = scratch_alloc(s, 1, sizeof(*p));
        if (p == NULL) {
            return MS_ENOMEM;
        }
        metastore__put_request__init(p);
        if (op->key_len == 0) {
            return MS_EINVAL;
        }
        p->key = bin(op->key, op->key_len);
        p->value = bin(op->value, op->value_len);
        p->lease = op->lease;
        p->prev_kv = op->prev_kv;
        m->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT;
        m->request_put = p;
        return 0;
    }
    case MS_OP_DELETE: {
        Metastore__DeleteRangeRequest *d = scratch_alloc(s, 1, sizeof(*d));
        if (d == NULL) {
            return MS_ENOMEM;
        }
        metastore__delete_range_request__init(d);
        d->prev_kv = op->prev_kv;
        m->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
        m->request_delete_range = d;
        return key_range(s, op->key, op->key_len, &op->range, &d->key,
                         &d->range_end);
    }
    }
    return MS_EINVAL;
}

/* Builds n request ops into a pointer array allocated from s. */
static int fill_ops(struct ms_client *c, struct scratch *s,
                    const struct ms_op *ops, size_t n,
                    Metastore__RequestOp ***out)
{
    if (n > 0 && ops == NULL) {
        return MS_EINVAL;
    }
    Metastore__RequestOp *arr = scratch_alloc(s, n, sizeof(*arr));
    Metastore__RequestOp **ptrs = scratch_alloc(s, n, sizeof(*ptrs));
    if (arr == NULL || ptrs == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = fill_request_op(c, s, &arr[i], &ops[i]);
        if (rc != 0) {
            return rc;
        }
        ptrs[i] = &arr[i];
    }
    *out = ptrs;
    return 0;
}

static int build_txn(struct ms_client *c, struct scratch *s,
                     Metastore__TxnRequest *req,
                     const struct ms_compare *compares, size_t n_compares,
                     const struct ms_op *success, size_t n_success,
                     const struct ms_op *failure, size_t n_failure)
{
    if (n_compares > 0 && compares == NULL) {
        return MS_EINVAL;
    }
    Metastore__Compare *cmps = scratch_alloc(s, n_compares, sizeof(*cmps));
    Metastore__Compare **cptrs = scratch_alloc(s, n_compares, sizeof(*cptrs));
    if (cmps == NULL || cptrs == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n_compares; i++) {
        int rc = fill_compare(&cmps[i], &compares[i]);
        if (rc != 0) {
            return rc;
        }
        cptrs[i] = &cmps[i];
    }
    req->compare = cptrs;
    req->n_compare = n_compares;
    int rc = fill_ops(c, s, success, n_success, &req->success);
    if (rc == 0) {
        req->n_success = n_success;
        rc = fill_ops(c, s, failure, n_failure, &req->failure);
        req->n_failure = n_failure;
    }
    return rc;
}

int ms_txn(struct ms_client *c, const struct ms_compare *compares,
           size_t n_compares, const struct ms_op *success, size_t n_success,
           const struct ms_op *failure, size_t n_failure,
           struct ms_result **out)
{
    *out = NULL;
    struct scratch s = {0};
    Metastore__TxnRequest req = METASTORE__TXN_REQUEST__INIT;
    int rc = build_txn(c, &s, &req, compares, n_compares, success, n_success,
                       failure, n_failure);
    if (rc == 0) {
        rc = ms__run(c, MS__METHOD_TXN, &req.base,
                     &metastore__txn_response__descriptor, false, MS_RESULT_TXN,
                     out);
    } else {
        ms__client_set_errmsg(c, "txn: %s", ms_strerror(rc));
    }
    scratch_free(&s);
    return rc;
}

int ms_compact(struct ms_client *c, int64_t revision, bool physical,
               struct ms_result **out)
{
    *out = NULL;
    if (revision <= 0) {
        ms__client_set_errmsg(c, "compact: the revision must be positive");
        return MS_EINVAL;
    }
    Metastore__CompactionRequest req = METASTORE__COMPACTION_REQUEST__INIT;
    req.revision = revision;
    req.physical = physical;
    int rc = ms__run(c, MS__METHOD_COMPACT, &req.base,
                     &metastore__compaction_response__descriptor, false,
                     MS_RESULT_COMPACT, out);
    if (*out != NULL) {
        (*out)->compact.revision = revision;
    }
    return rc;
}

int ms_status(struct ms_client *c, struct ms_result **out)
{
    *out = NULL;
    Metastore__StatusRequest req = METASTORE__STATUS_REQUEST__INIT;
    return ms__run(c, MS__METHOD_STATUS, &req.base,
                   &metastore__status_response__descriptor, true,
                   MS_RESULT_STATUS, out);
}

int ms_ping(struct ms_client *c, struct ms_result **out)
{
    *out = NULL;
    Metastore__PingRequest req = METASTORE__PING_REQUEST__INIT;
    return ms__run(c, MS__METHOD_PING, &req.base,
                   &metastore__ping_response__descriptor, true, MS_RESULT_PING,
                   out);
}
