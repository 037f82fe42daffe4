/*
 * http_kv.c - etcd v3 JSON gateway shapes <-> MetaStore protobuf (see
 * server/http_kv.h for the mapping rules).
 *
 * Happy path of a request: parse the body with the strict JSON parser,
 * walk the top-level object with the reader of the route's message (one
 * small function per message, each a loop over members that matches
 * names and converts values), build the protobuf structs in the JSON
 * document's arena (bytes fields point at decoded base64 in the same
 * arena), pack once into a malloc'd buffer, free the document.
 *
 * Happy path of a reply: unpack the response message of the route's
 * method (or the ErrorDetail) with protobuf-c, write it with the JSON
 * writer leaving out default values, free it.
 *
 * Failure modes: the first bad member stops the walk with
 * INVALID_ARGUMENT and a message naming the field and what was expected;
 * out of memory is RESOURCE_EXHAUSTED; a reply that does not decode (a
 * bug) renders as a 500 error body.
 */
#include "server/http_kv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/frame.h"
#include "server/http_auth.h"
#include "server/status.h"

/* ---- routes
 * -------------------------------------------------------------------- */

static const struct hkv_route routes[] = {
    {"/v3/kv/range", SRV_METHOD_RANGE, "RangeRequest"},
    {"/v3/kv/put", SRV_METHOD_PUT, "PutRequest"},
    {"/v3/kv/deleterange", SRV_METHOD_DELETE_RANGE, "DeleteRangeRequest"},
    {"/v3/kv/txn", SRV_METHOD_TXN, "TxnRequest"},
    {"/v3/kv/compaction", SRV_METHOD_COMPACT, "CompactionRequest"},
    {"/v3/maintenance/status", SRV_METHOD_STATUS, "StatusRequest"},
    /* TTL leases, with etcd's older /v3/kv/lease/ aliases. */
    {"/v3/lease/grant", SRV_METHOD_LEASE_GRANT, "LeaseGrantRequest"},
    {"/v3/lease/revoke", SRV_METHOD_LEASE_REVOKE, "LeaseRevokeRequest"},
    {"/v3/kv/lease/revoke", SRV_METHOD_LEASE_REVOKE, "LeaseRevokeRequest"},
    {"/v3/lease/keepalive", SRV_METHOD_LEASE_KEEPALIVE,
     "LeaseKeepAliveRequest"},
    {"/v3/lease/timetolive", SRV_METHOD_LEASE_TIME_TO_LIVE,
     "LeaseTimeToLiveRequest"},
    {"/v3/kv/lease/timetolive", SRV_METHOD_LEASE_TIME_TO_LIVE,
     "LeaseTimeToLiveRequest"},
    {"/v3/lease/leases", SRV_METHOD_LEASE_LEASES, "LeaseLeasesRequest"},
    {"/v3/kv/lease/leases", SRV_METHOD_LEASE_LEASES, "LeaseLeasesRequest"},
    /* A streamed response (http_api.c serves it on its own). */
    {"/v3/watch", SRV_METHOD_WATCH, "WatchRequest"},
    /* Authentication and users/roles (server/http_auth.c maps them). */
    {"/v3/auth/authenticate", SRV_METHOD_AUTHENTICATE, "AuthenticateRequest"},
    {"/v3/auth/enable", SRV_METHOD_AUTH_ENABLE, "AuthEnableRequest"},
    {"/v3/auth/disable", SRV_METHOD_AUTH_DISABLE, "AuthDisableRequest"},
    {"/v3/auth/status", SRV_METHOD_AUTH_STATUS, "AuthStatusRequest"},
    {"/v3/auth/user/add", SRV_METHOD_USER_ADD, "AuthUserAddRequest"},
    {"/v3/auth/user/get", SRV_METHOD_USER_GET, "AuthUserGetRequest"},
    {"/v3/auth/user/list", SRV_METHOD_USER_LIST, "AuthUserListRequest"},
    {"/v3/auth/user/delete", SRV_METHOD_USER_DELETE, "AuthUserDeleteRequest"},
    {"/v3/auth/user/changepw", SRV_METHOD_USER_CHANGE_PASSWORD,
     "AuthUserChangePasswordRequest"},
    {"/v3/auth/user/grant", SRV_METHOD_USER_GRANT_ROLE,
     "AuthUserGrantRoleRequest"},
    {"/v3/auth/user/revoke", SRV_METHOD_USER_REVOKE_ROLE,
     "AuthUserRevokeRoleRequest"},
    {"/v3/auth/role/add", SRV_METHOD_ROLE_ADD, "AuthRoleAddRequest"},
    {"/v3/auth/role/get", SRV_METHOD_ROLE_GET, "AuthRoleGetRequest"},
    {"/v3/auth/role/list", SRV_METHOD_ROLE_LIST, "AuthRoleListRequest"},
    {"/v3/auth/role/delete", SRV_METHOD_ROLE_DELETE, "AuthRoleDeleteRequest"},
    {"/v3/auth/role/grant", SRV_METHOD_ROLE_GRANT_PERMISSION,
     "AuthRoleGrantPermissionRequest"},
    {"/v3/auth/role/revoke", SRV_METHOD_ROLE_REVOKE_PERMISSION,
     "AuthRoleRevokePermissionRequest"},
};

const struct hkv_route *hkv_route_find(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            return &routes[i];
        }
    }
    return NULL;
}

const struct hkv_route *hkv_routes(size_t *n)
{
    *n = sizeof routes / sizeof routes[0];
    return routes;
}

/* ---- statuses
 * ------------------------------------------------------------------ */

int hkv_http_status(int st)
{
    switch (st) {
    case SRV_STATUS_OK:
        return 200;
    case SRV_STATUS_INVALID_ARGUMENT:
    case SRV_STATUS_FAILED_PRECONDITION: /* grpc-gateway: 400, not 412 */
    case SRV_STATUS_COMPACTED:           /* gRPC OUT_OF_RANGE */
        return 400;
    case SRV_STATUS_UNAUTHENTICATED:
        return 401;
    case SRV_STATUS_PERMISSION_DENIED:
        return 403;
    case SRV_STATUS_NOT_FOUND:
        return 404;
    case SRV_STATUS_RESOURCE_EXHAUSTED:
        return 429;
    case SRV_STATUS_UNIMPLEMENTED:
        return 501;
    case SRV_STATUS_UNAVAILABLE:
    case SRV_STATUS_NOT_LEADER:
        return 503;
    case SRV_STATUS_DEADLINE_EXCEEDED:
        return 504;
    default:
        return 500;
    }
}

int hkv_grpc_code(int st)
{
    switch (st) {
    case SRV_STATUS_NOT_LEADER:
        return 14; /* UNAVAILABLE */
    case SRV_STATUS_COMPACTED:
        return 11; /* OUT_OF_RANGE */
    default:
        return srv_status_known(st) ? st : 2; /* UNKNOWN */
    }
}

static void error_fields(struct json_out *o, int st, const char *msg)
{
    json_out_key(o, "error");
    json_out_str(o, msg, strlen(msg));
    json_out_key(o, "code");
    json_out_int(o, hkv_grpc_code(st));
    json_out_key(o, "message");
    json_out_str(o, msg, strlen(msg));
    json_out_key(o, "status");
    const char *name = srv_status_name(st);
    json_out_str(o, name, strlen(name));
}

int hkv_render_error(struct json_out *o, int st, int http_status,
                     const char *msg)
{
    json_out_begin_object(o);
    error_fields(o, st, msg);
    json_out_end_object(o);
    json_out_raw(o, "\n", 1);
    return http_status != 0 ? http_status : hkv_http_status(st);
}

/* ---- reading JSON
 * -------------------------------------------------------------- */

struct reader {
    struct json_doc *doc;
    char *msg;
    size_t cap;
    int status;     /* SRV_STATUS_* of the first failure */
    char where[96]; /* "compare[2]." while inside a nested message */
};

static bool failf(struct reader *rd, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool failf(struct reader *rd, int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->msg, rd->cap, fmt, ap);
    va_end(ap);
    rd->status = st;
    return false;
}

static bool bad_type(struct reader *rd, const struct json_value *v,
                     const char *want)
{
    return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                 "field \"%s%s\": expected %s, got %s", rd->where, v->name,
                 want, json_type_name(v->type));
}

/* Is member v named `snake` (or its lowerCamelCase form)? */
static bool named(const struct json_value *v, const char *snake)
{
    size_t n = strlen(snake);
    if (v->name_len == n && memcmp(v->name, snake, n) == 0) {
        return true;
    }
    size_t i = 0, k = 0;
    for (; snake[i] != '\0'; i++, k++) {
        char c = snake[i];
        if (c == '_' && snake[i + 1] != '\0') {
            c = (char)(snake[++i] - 'a' + 'A');
        }
        if (k >= v->name_len || v->name[k] != c) {
            return false;
        }
    }
    return k == v->name_len;
}

static bool read_bytes(struct reader *rd, const struct json_value *v,
                       ProtobufCBinaryData *out)
{
    out->len = 0;
    out->data = NULL;
    if (v->type == JSON_NULL) {
        return true;
    }
    if (v->type != JSON_STRING) {
        return bad_type(rd, v, "a base64 string");
    }
    uint8_t *buf = json_doc_alloc(rd->doc, v->len / 4 * 3 + 3);
    if (buf == NULL) {
        return failf(rd, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (base64_decode(v->str, v->len, buf, &out->len) != 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"%s%s\": not valid base64 (keys and values are "
                     "base64-encoded, e.g. \"Zm9v\" for foo)",
                     rd->where, v->name);
    }
    out->data = buf;
    return true;
}

static bool read_i64(struct reader *rd, const struct json_value *v,
                     int64_t *out)
{
    *out = 0;
    if (v->type == JSON_NULL) {
        return true;
    }
    if (v->type != JSON_NUMBER && v->type != JSON_STRING) {
        return bad_type(rd, v, "an integer (number or string)");
    }
    if (json_int64(v, out) != 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"%s%s\": \"%.40s\" is not a 64-bit integer",
                     rd->where, v->name, v->str);
    }
    return true;
}

static bool read_u64(struct reader *rd, const struct json_value *v,
                     uint64_t *out)
{
    *out = 0;
    if (v->type == JSON_NULL) {
        return true;
    }
    if (v->type != JSON_NUMBER && v->type != JSON_STRING) {
        return bad_type(rd, v, "an integer (number or string)");
    }
    if (json_uint64(v, out) != 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"%s%s\": \"%.40s\" is not an unsigned 64-bit "
                     "integer",
                     rd->where, v->name, v->str);
    }
    return true;
}

static bool read_bool(struct reader *rd, const struct json_value *v,
                      protobuf_c_boolean *out)
{
    *out = 0;
    if (v->type == JSON_NULL || v->type == JSON_FALSE) {
        return true;
    }
    if (v->type != JSON_TRUE) {
        return bad_type(rd, v, "true or false");
    }
    *out = 1;
    return true;
}

/* An enum by name (as protobuf's JSON mapping writes it) or number. */
static bool read_enum(struct reader *rd, const struct json_value *v,
                      const ProtobufCEnumDescriptor *d, int *out)
{
    *out = 0;
    if (v->type == JSON_NULL) {
        return true;
    }
    if (v->type == JSON_STRING) {
        const ProtobufCEnumValue *e =
            protobuf_c_enum_descriptor_get_value_by_name(d, v->str);
        if (e != NULL && strlen(v->str) == v->len) {
            *out = e->value;
            return true;
        }
    } else if (v->type == JSON_NUMBER) {
        int64_t n;
        if (json_int64(v, &n) == 0 && n >= INT32_MIN && n <= INT32_MAX &&
            protobuf_c_enum_descriptor_get_value(d, (int)n) != NULL) {
            *out = (int)n;
            return true;
        }
    } else {
        return bad_type(rd, v, "an enum name or number");
    }
    char names[160] = "";
    size_t k = 0;
    for (unsigned i = 0; i < d->n_values && k + 1 < sizeof names; i++) {
        int w = snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
                         d->values[i].name);
        k += w > 0 ? (size_t)w : 0;
    }
    return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                 "field \"%s%s\": unknown value (one of %s)", rd->where,
                 v->name, names);
}

static bool unknown_field(struct reader *rd, const struct json_value *m,
                          const char *msg_name)
{
    return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                 "unknown field \"%s%.*s\" in %s", rd->where,
                 (int)(m->name_len < 64 ? m->name_len : 64), m->name, msg_name);
}

static bool need_object(struct reader *rd, const struct json_value *v,
                        const char *msg_name)
{
    if (v->type == JSON_OBJECT) {
        return true;
    }
    if (v->name == NULL && rd->where[0] == '\0') {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "the body must be a JSON object (a %s), not %s", msg_name,
                     json_type_name(v->type));
    }
    if (v->name == NULL) { /* an array element */
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "%sexpected an object (a %s), got %s", rd->where, msg_name,
                     json_type_name(v->type));
    }
    return bad_type(rd, v, "an object");
}

static void *arena_msg(struct reader *rd, size_t n)
{
    void *p = json_doc_alloc(rd->doc, n);
    if (p == NULL) {
        failf(rd, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    return p;
}

/* ---- request messages
 * ------------------------------------------------------------ */

static bool read_range(struct reader *rd, const struct json_value *o,
                       Metastore__RangeRequest *r)
{
    if (!need_object(rd, o, "RangeRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        int e = 0;
        protobuf_c_boolean ser = 0;
        bool ok;
        if (named(m, "key")) {
            ok = read_bytes(rd, m, &r->key);
        } else if (named(m, "range_end")) {
            ok = read_bytes(rd, m, &r->range_end);
        } else if (named(m, "limit")) {
            ok = read_i64(rd, m, &r->limit);
        } else if (named(m, "revision")) {
            ok = read_i64(rd, m, &r->revision);
        } else if (named(m, "sort_order")) {
            ok = read_enum(
                rd, m, &metastore__range_request__sort_order__descriptor, &e);
            r->sort_order = (Metastore__RangeRequest__SortOrder)e;
        } else if (named(m, "sort_target")) {
            ok = read_enum(
                rd, m, &metastore__range_request__sort_target__descriptor, &e);
            r->sort_target = (Metastore__RangeRequest__SortTarget)e;
        } else if (named(m, "serializable")) {
            /* etcd's flag; MetaStore's protocol has an enum. */
            ok = read_bool(rd, m, &ser);
            if (ser) {
                r->consistency = METASTORE__CONSISTENCY__SERIALIZABLE;
            }
        } else if (named(m, "keys_only")) {
            ok = read_bool(rd, m, &r->keys_only);
        } else if (named(m, "count_only")) {
            ok = read_bool(rd, m, &r->count_only);
        } else if (named(m, "min_mod_revision")) {
            ok = read_i64(rd, m, &r->min_mod_revision);
        } else if (named(m, "max_mod_revision")) {
            ok = read_i64(rd, m, &r->max_mod_revision);
        } else if (named(m, "min_create_revision")) {
            ok = read_i64(rd, m, &r->min_create_revision);
        } else if (named(m, "max_create_revision")) {
            ok = read_i64(rd, m, &r->max_create_revision);
        } else if (named(m, "min_applied_index")) {
            ok = read_u64(rd, m, &r->min_applied_index);
        } else {
            ok = unknown_field(rd, m, "RangeRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_put(struct reader *rd, const struct json_value *o,
                     Metastore__PutRequest *r)
{
    if (!need_object(rd, o, "PutRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "key")) {
            ok = read_bytes(rd, m, &r->key);
        } else if (named(m, "value")) {
            ok = read_bytes(rd, m, &r->value);
        } else if (named(m, "lease")) {
            ok = read_i64(rd, m, &r->lease);
        } else if (named(m, "prev_kv")) {
            ok = read_bool(rd, m, &r->prev_kv);
        } else if (named(m, "ignore_value")) {
            ok = read_bool(rd, m, &r->ignore_value);
        } else if (named(m, "ignore_lease")) {
            ok = read_bool(rd, m, &r->ignore_lease);
        } else {
            ok = unknown_field(rd, m, "PutRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_delete(struct reader *rd, const struct json_value *o,
                        Metastore__DeleteRangeRequest *r)
{
    if (!need_object(rd, o, "DeleteRangeRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "key")) {
            ok = read_bytes(rd, m, &r->key);
        } else if (named(m, "range_end")) {
            ok = read_bytes(rd, m, &r->range_end);
        } else if (named(m, "prev_kv")) {
            ok = read_bool(rd, m, &r->prev_kv);
        } else {
            ok = unknown_field(rd, m, "DeleteRangeRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_compare(struct reader *rd, const struct json_value *o,
                         Metastore__Compare *c)
{
    if (!need_object(rd, o, "Compare")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        int e = 0;
        bool ok;
        Metastore__Compare__TargetUnionCase u =
            METASTORE__COMPARE__TARGET_UNION__NOT_SET;
        if (named(m, "result")) {
            ok = read_enum(rd, m,
                           &metastore__compare__compare_result__descriptor, &e);
            c->result = (Metastore__Compare__CompareResult)e;
        } else if (named(m, "target")) {
            ok = read_enum(rd, m,
                           &metastore__compare__compare_target__descriptor, &e);
            c->target = (Metastore__Compare__CompareTarget)e;
        } else if (named(m, "key")) {
            ok = read_bytes(rd, m, &c->key);
        } else if (named(m, "range_end")) {
            ok = read_bytes(rd, m, &c->range_end);
        } else if (named(m, "version")) {
            u = METASTORE__COMPARE__TARGET_UNION_VERSION;
            ok = read_i64(rd, m, &c->version);
        } else if (named(m, "create_revision")) {
            u = METASTORE__COMPARE__TARGET_UNION_CREATE_REVISION;
            ok = read_i64(rd, m, &c->create_revision);
        } else if (named(m, "mod_revision")) {
            u = METASTORE__COMPARE__TARGET_UNION_MOD_REVISION;
            ok = read_i64(rd, m, &c->mod_revision);
        } else if (named(m, "value")) {
            u = METASTORE__COMPARE__TARGET_UNION_VALUE;
            ok = read_bytes(rd, m, &c->value);
        } else if (named(m, "lease")) {
            u = METASTORE__COMPARE__TARGET_UNION_LEASE;
            ok = read_i64(rd, m, &c->lease);
        } else {
            ok = unknown_field(rd, m, "Compare");
        }
        if (!ok) {
            return false;
        }
        if (u != METASTORE__COMPARE__TARGET_UNION__NOT_SET) {
            if (c->target_union_case !=
                METASTORE__COMPARE__TARGET_UNION__NOT_SET) {
                return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                             "%scompare has more than one of version, "
                             "create_revision, mod_revision, value, lease",
                             rd->where);
            }
            c->target_union_case = u;
        }
    }
    return true;
}

static bool read_txn(struct reader *rd, const struct json_value *o,
                     Metastore__TxnRequest *t);

static bool read_op(struct reader *rd, const struct json_value *o,
                    Metastore__RequestOp *op)
{
    if (!need_object(rd, o, "RequestOp")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        if (op->request_case != METASTORE__REQUEST_OP__REQUEST__NOT_SET) {
            return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                         "%sa request op holds more than one request",
                         rd->where);
        }
        bool ok;
        if (named(m, "request_range")) {
            Metastore__RangeRequest *r = arena_msg(rd, sizeof *r);
            ok = r != NULL;
            if (ok) {
                metastore__range_request__init(r);
                op->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE;
                op->request_range = r;
                ok = read_range(rd, m, r);
            }
        } else if (named(m, "request_put")) {
            Metastore__PutRequest *r = arena_msg(rd, sizeof *r);
            ok = r != NULL;
            if (ok) {
                metastore__put_request__init(r);
                op->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT;
                op->request_put = r;
                ok = read_put(rd, m, r);
            }
        } else if (named(m, "request_delete_range")) {
            Metastore__DeleteRangeRequest *r = arena_msg(rd, sizeof *r);
            ok = r != NULL;
            if (ok) {
                metastore__delete_range_request__init(r);
                op->request_case =
                    METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
                op->request_delete_range = r;
                ok = read_delete(rd, m, r);
            }
        } else if (named(m, "request_txn")) {
            Metastore__TxnRequest *r = arena_msg(rd, sizeof *r);
            ok = r != NULL;
            if (ok) {
                metastore__txn_request__init(r);
                op->request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_TXN;
                op->request_txn = r;
                ok = read_txn(rd, m, r);
            }
        } else {
            ok = unknown_field(rd, m, "RequestOp");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* A JSON array of `what` into an arena array of pointers. */
static bool read_list(struct reader *rd, const struct json_value *a,
                      const char *what, size_t *n_out, void ***out)
{
    *n_out = 0;
    *out = NULL;
    if (a->type == JSON_NULL) {
        return true;
    }
    if (a->type != JSON_ARRAY) {
        return bad_type(rd, a, "an array");
    }
    void **v = arena_msg(rd, (a->n > 0 ? a->n : 1) * sizeof *v);
    if (v == NULL) {
        return false;
    }
    size_t saved = strlen(rd->where);
    size_t i = 0;
    for (const struct json_value *e = a->child; e != NULL; e = e->next, i++) {
        snprintf(rd->where + saved, sizeof rd->where - saved, "%s[%zu].", what,
                 i);
        bool ok;
        if (strcmp(what, "compare") == 0) {
            Metastore__Compare *c = arena_msg(rd, sizeof *c);
            ok = c != NULL;
            if (ok) {
                metastore__compare__init(c);
                ok = read_compare(rd, e, c);
            }
            v[i] = c;
        } else {
            Metastore__RequestOp *op = arena_msg(rd, sizeof *op);
            ok = op != NULL;
            if (ok) {
                metastore__request_op__init(op);
                ok = read_op(rd, e, op);
            }
            v[i] = op;
        }
        if (!ok) {
            return false;
        }
    }
    rd->where[saved] = '\0';
    *n_out = a->n;
    *out = v;
    return true;
}

static bool read_txn(struct reader *rd, const struct json_value *o,
                     Metastore__TxnRequest *t)
{
    if (!need_object(rd, o, "TxnRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "compare")) {
            ok = read_list(rd, m, "compare", &t->n_compare,
                           (void ***)&t->compare);
        } else if (named(m, "success")) {
            ok = read_list(rd, m, "success", &t->n_success,
                           (void ***)&t->success);
        } else if (named(m, "failure")) {
            ok = read_list(rd, m, "failure", &t->n_failure,
                           (void ***)&t->failure);
        } else {
            ok = unknown_field(rd, m, "TxnRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_compaction(struct reader *rd, const struct json_value *o,
                            Metastore__CompactionRequest *r)
{
    if (!need_object(rd, o, "CompactionRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "revision")) {
            ok = read_i64(rd, m, &r->revision);
        } else if (named(m, "physical")) {
            ok = read_bool(rd, m, &r->physical);
        } else {
            ok = unknown_field(rd, m, "CompactionRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_status(struct reader *rd, const struct json_value *o,
                        Metastore__StatusRequest *r)
{
    (void)r;
    if (!need_object(rd, o, "StatusRequest")) {
        return false;
    }
    if (o->child != NULL) {
        return unknown_field(rd, o->child, "StatusRequest");
    }
    return true;
}

static bool read_request_more(struct reader *rd, uint16_t method,
                              const struct json_value *root,
                              ProtobufCMessage **msg);
static int render_reply_more(uint16_t method, const uint8_t *body, size_t len,
                             struct json_out *o);

/* Reads the route's message from the body; *msg in rd's arena. */
static bool read_request(struct reader *rd, uint16_t method,
                         const struct json_value *root, ProtobufCMessage **msg)
{
    union {
        Metastore__RangeRequest *range;
        Metastore__PutRequest *put;
        Metastore__DeleteRangeRequest *del;
        Metastore__TxnRequest *txn;
        Metastore__CompactionRequest *compact;
        Metastore__StatusRequest *status;
        void *any;
    } u;
    size_t sizes[] = {sizeof *u.range, sizeof *u.put,     sizeof *u.del,
                      sizeof *u.txn,   sizeof *u.compact, sizeof *u.status};
    size_t max = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        max = sizes[i] > max ? sizes[i] : max;
    }
    if ((u.any = arena_msg(rd, max)) == NULL) {
        return false;
    }
    *msg = u.any;
    switch (method) {
    case SRV_METHOD_RANGE:
        metastore__range_request__init(u.range);
        return read_range(rd, root, u.range);
    case SRV_METHOD_PUT:
        metastore__put_request__init(u.put);
        return read_put(rd, root, u.put);
    case SRV_METHOD_DELETE_RANGE:
        metastore__delete_range_request__init(u.del);
        return read_delete(rd, root, u.del);
    case SRV_METHOD_TXN:
        metastore__txn_request__init(u.txn);
        return read_txn(rd, root, u.txn);
    case SRV_METHOD_COMPACT:
        metastore__compaction_request__init(u.compact);
        return read_compaction(rd, root, u.compact);
    case SRV_METHOD_STATUS:
        metastore__status_request__init(u.status);
        return read_status(rd, root, u.status);
    default:
        /* Leases and watch: the section at the end of this file. */
        return read_request_more(rd, method, root, msg);
    }
}

int hkv_encode_request(const struct hkv_route *r, const uint8_t *json,
                       size_t len, const struct json_limits *lim, uint8_t **out,
                       size_t *out_len, char *msg, size_t cap)
{
    *out = NULL;
    *out_len = 0;
    struct json_doc doc;
    size_t at = 0;
    static const char empty[] = "{}";
    const char *text = len > 0 ? (const char *)json : empty;
    int rv = json_parse(text, len > 0 ? len : 2, lim, &doc, &at);
    if (rv != 0) {
        snprintf(msg, cap, "the body is not valid JSON: %s at byte %zu",
                 json_strerror(rv), at);
        json_doc_free(&doc);
        return rv == JSON_ENOMEM ? SRV_STATUS_RESOURCE_EXHAUSTED
                                 : SRV_STATUS_INVALID_ARGUMENT;
    }
    struct reader rd = {.doc = &doc, .msg = msg, .cap = cap};
    ProtobufCMessage *m = NULL;
    if (hauth_is_method(r->method)) { /* the auth endpoints: http_auth.c */
        rd.status = hauth_read_request(&doc, r->method, r->request, doc.root,
                                       &m, msg, cap);
    } else if (!read_request(&rd, r->method, doc.root, &m)) {
        rd.status = rd.status != 0 ? rd.status : SRV_STATUS_INTERNAL;
    }
    if (rd.status != 0) {
        json_doc_free(&doc);
        return rd.status;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n > 0 ? n : 1);
    if (buf == NULL) {
        json_doc_free(&doc);
        snprintf(msg, cap, "out of memory");
        return SRV_STATUS_RESOURCE_EXHAUSTED;
    }
    protobuf_c_message_pack(m, buf);
    json_doc_free(&doc);
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- writing replies
 * ------------------------------------------------------------- */

static void put_i64(struct json_out *o, const char *name, int64_t v)
{
    if (v != 0) {
        json_out_key(o, name);
        json_out_int64_str(o, v);
    }
}

static void put_u64(struct json_out *o, const char *name, uint64_t v)
{
    if (v != 0) {
        json_out_key(o, name);
        json_out_uint64_str(o, v);
    }
}

static void put_bool(struct json_out *o, const char *name, bool v)
{
    if (v) {
        json_out_key(o, name);
        json_out_bool(o, true);
    }
}

static void put_bytes(struct json_out *o, const char *name,
                      const ProtobufCBinaryData *b)
{
    if (b->len > 0) {
        json_out_key(o, name);
        json_out_b64(o, b->data, b->len);
    }
}

static void put_string(struct json_out *o, const char *name, const char *s)
{
    if (s != NULL && s[0] != '\0') {
        json_out_key(o, name);
        json_out_str(o, s, strlen(s));
    }
}

static void put_header(struct json_out *o, const Metastore__ResponseHeader *h)
{
    if (h == NULL) {
        return;
    }
    json_out_key(o, "header");
    json_out_begin_object(o);
    put_u64(o, "cluster_id", h->cluster_id);
    put_u64(o, "member_id", h->member_id);
    put_i64(o, "revision", h->revision);
    put_u64(o, "raft_term", h->raft_term);
    put_u64(o, "applied_index", h->applied_index);
    json_out_end_object(o);
}

static void put_kv(struct json_out *o, const Metastore__KeyValue *kv)
{
    json_out_begin_object(o);
    put_bytes(o, "key", &kv->key);
    put_i64(o, "create_revision", kv->create_revision);
    put_i64(o, "mod_revision", kv->mod_revision);
    put_i64(o, "version", kv->version);
    put_bytes(o, "value", &kv->value);
    put_i64(o, "lease", kv->lease);
    json_out_end_object(o);
}

static void put_kvs(struct json_out *o, const char *name,
                    Metastore__KeyValue *const *kvs, size_t n)
{
    if (n == 0) {
        return;
    }
    json_out_key(o, name);
    json_out_begin_array(o);
    for (size_t i = 0; i < n; i++) {
        put_kv(o, kvs[i]);
    }
    json_out_end_array(o);
}

static void put_range(struct json_out *o, const Metastore__RangeResponse *r)
{
    json_out_begin_object(o);
    put_header(o, r->header);
    put_kvs(o, "kvs", r->kvs, r->n_kvs);
    put_bool(o, "more", r->more);
    put_i64(o, "count", r->count);
    json_out_end_object(o);
}

static void put_put(struct json_out *o, const Metastore__PutResponse *r)
{
    json_out_begin_object(o);
    put_header(o, r->header);
    if (r->prev_kv != NULL) {
        json_out_key(o, "prev_kv");
        put_kv(o, r->prev_kv);
    }
    json_out_end_object(o);
}

static void put_delete(struct json_out *o,
                       const Metastore__DeleteRangeResponse *r)
{
    json_out_begin_object(o);
    put_header(o, r->header);
    put_i64(o, "deleted", r->deleted);
    put_kvs(o, "prev_kvs", r->prev_kvs, r->n_prev_kvs);
    json_out_end_object(o);
}

static void put_txn(struct json_out *o, const Metastore__TxnResponse *t)
{
    json_out_begin_object(o);
    put_header(o, t->header);
    put_bool(o, "succeeded", t->succeeded);
    if (t->n_responses > 0) {
        json_out_key(o, "responses");
        json_out_begin_array(o);
        for (size_t i = 0; i < t->n_responses; i++) {
            const Metastore__ResponseOp *r = t->responses[i];
            json_out_begin_object(o);
            switch (r->response_case) {
            case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_RANGE:
                json_out_key(o, "response_range");
                put_range(o, r->response_range);
                break;
            case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
                json_out_key(o, "response_put");
                put_put(o, r->response_put);
                break;
            case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
                json_out_key(o, "response_delete_range");
                put_delete(o, r->response_delete_range);
                break;
            case METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_TXN:
                json_out_key(o, "response_txn");
                put_txn(o, r->response_txn);
                break;
            default:
                break;
            }
            json_out_end_object(o);
        }
        json_out_end_array(o);
    }
    json_out_end_object(o);
}

/* etcd's StatusResponse fields first, spelled as etcd 3.4's gateway prints
 * them (camelCase: they carry json_name in etcd's proto), then MetaStore's
 * own fields in snake_case. */
static void put_status(struct json_out *o, const Metastore__StatusResponse *s)
{
    json_out_begin_object(o);
    put_header(o, s->header);
    put_string(o, "version", s->version);
    put_i64(o, "dbSize", s->db_size);
    put_u64(o, "leader", s->leader_id);
    put_u64(o, "raftIndex", s->raft_index);
    put_u64(o, "raftTerm", s->raft_term);
    put_u64(o, "raftAppliedIndex", s->applied_index);
    if (s->n_errors > 0) {
        json_out_key(o, "errors");
        json_out_begin_array(o);
        for (size_t i = 0; i < s->n_errors; i++) {
            json_out_str(o, s->errors[i], strlen(s->errors[i]));
        }
        json_out_end_array(o);
    }
    put_i64(o, "dbSizeInUse", s->db_size);
    put_bool(o, "isLearner", s->is_learner);
    put_u64(o, "member_id", s->member_id);
    put_u64(o, "commit_index", s->commit_index);
    put_i64(o, "revision", s->revision);
    put_i64(o, "compact_revision", s->compact_revision);
    put_u64(o, "key_count", s->key_count);
    put_string(o, "engine", s->engine);
    put_string(o, "role", s->role);
    json_out_end_object(o);
}

static int render_error_detail(const uint8_t *body, size_t len,
                               struct json_out *o)
{
    Metastore__ErrorDetail *e =
        metastore__error_detail__unpack(NULL, len, body);
    if (e == NULL) {
        return hkv_render_error(o, SRV_STATUS_INTERNAL, 0,
                                "the server's error reply did not decode");
    }
    int st = (int)e->code;
    if (st == SRV_STATUS_OK || !srv_status_known(st)) {
        st = SRV_STATUS_INTERNAL;
    }
    const char *msg = e->message != NULL && e->message[0] != '\0'
                          ? e->message
                          : srv_status_text(st);
    json_out_begin_object(o);
    error_fields(o, st, msg);
    if (st == SRV_STATUS_NOT_LEADER) {
        put_u64(o, "leader_id", e->leader_id);
        put_string(o, "leader_addr", e->leader_addr);
    }
    put_i64(o, "compact_revision", e->compact_revision);
    json_out_end_object(o);
    json_out_raw(o, "\n", 1);
    metastore__error_detail__free_unpacked(e, NULL);
    return hkv_http_status(st);
}

int hkv_render_reply(const struct hkv_route *r, bool is_error,
                     const uint8_t *body, size_t len, struct json_out *o)
{
    if (is_error) {
        if (body == NULL) {
            return hkv_render_error(o, SRV_STATUS_UNAVAILABLE, 0,
                                    "the request ended without an answer; "
                                    "retry (a write may still apply)");
        }
        return render_error_detail(body, len, o);
    }
    if (hauth_is_method(r->method)) {
        return hauth_render_reply(r->method, body, len, o);
    }
    if (r->method == SRV_METHOD_WATCH ||
        (r->method >= SRV_METHOD_LEASE_GRANT &&
         r->method <= SRV_METHOD_LEASE_LEASES)) {
        return render_reply_more(r->method, body, len, o);
    }
    const ProtobufCMessageDescriptor *d;
    switch (r->method) {
    case SRV_METHOD_RANGE:
        d = &metastore__range_response__descriptor;
        break;
    case SRV_METHOD_PUT:
        d = &metastore__put_response__descriptor;
        break;
    case SRV_METHOD_DELETE_RANGE:
        d = &metastore__delete_range_response__descriptor;
        break;
    case SRV_METHOD_TXN:
        d = &metastore__txn_response__descriptor;
        break;
    case SRV_METHOD_COMPACT:
        d = &metastore__compaction_response__descriptor;
        break;
    case SRV_METHOD_STATUS:
        d = &metastore__status_response__descriptor;
        break;
    default:
        return hkv_render_error(o, SRV_STATUS_INTERNAL, 0,
                                "no JSON mapping for this reply");
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, body);
    if (m == NULL) {
        return hkv_render_error(o, SRV_STATUS_INTERNAL, 0,
                                "the server's reply did not decode");
    }
    switch (r->method) {
    case SRV_METHOD_RANGE:
        put_range(o, (const Metastore__RangeResponse *)m);
        break;
    case SRV_METHOD_PUT:
        put_put(o, (const Metastore__PutResponse *)m);
        break;
    case SRV_METHOD_DELETE_RANGE:
        put_delete(o, (const Metastore__DeleteRangeResponse *)m);
        break;
    case SRV_METHOD_TXN:
        put_txn(o, (const Metastore__TxnResponse *)m);
        break;
    case SRV_METHOD_COMPACT: {
        const Metastore__CompactionResponse *c =
            (const Metastore__CompactionResponse *)m;
        json_out_begin_object(o);
        put_header(o, c->header);
        json_out_end_object(o);
        break;
    }
    default:
        put_status(o, (const Metastore__StatusResponse *)m);
        break;
    }
    json_out_raw(o, "\n", 1);
    protobuf_c_message_free_unpacked(m, NULL);
    return 200;
}

/* ---- TTL leases and watch
 * ----------------------------------------------------------
 *
 * etcd's Lease messages name their fields "TTL" and "ID" (and
 * "grantedTTL"), and its gateway prints them that way; requests may also
 * use the lower-case spelling of MetaStore's own .proto.
 */

static bool named_id(const struct json_value *m)
{
    return named(m, "ID") || named(m, "id");
}

static bool read_lease_grant(struct reader *rd, const struct json_value *o,
                             Metastore__LeaseGrantRequest *r)
{
    if (!need_object(rd, o, "LeaseGrantRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "TTL") || named(m, "ttl")) {
            ok = read_i64(rd, m, &r->ttl);
            if (ok && r->ttl < 0) {
                ok = failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                           "field \"%s\": a lease TTL is a number of seconds "
                           "and must not be negative",
                           m->name);
            }
        } else if (named_id(m)) {
            ok = read_i64(rd, m, &r->id);
        } else {
            ok = unknown_field(rd, m, "LeaseGrantRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* LeaseRevokeRequest and LeaseKeepAliveRequest: {"ID"} alone. */
static bool read_lease_id(struct reader *rd, const struct json_value *o,
                          const char *msg_name, int64_t *id)
{
    if (!need_object(rd, o, msg_name)) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok = named_id(m) ? read_i64(rd, m, id)
                              : unknown_field(rd, m, msg_name);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_lease_ttl(struct reader *rd, const struct json_value *o,
                           Metastore__LeaseTimeToLiveRequest *r)
{
    if (!need_object(rd, o, "LeaseTimeToLiveRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named_id(m)) {
            ok = read_i64(rd, m, &r->id);
        } else if (named(m, "keys")) {
            ok = read_bool(rd, m, &r->keys);
        } else {
            ok = unknown_field(rd, m, "LeaseTimeToLiveRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool read_filters(struct reader *rd, const struct json_value *a,
                         Metastore__WatchCreateRequest *r)
{
    if (a->type == JSON_NULL) {
        return true;
    }
    if (a->type != JSON_ARRAY) {
        return bad_type(rd, a, "an array of filter names");
    }
    int *v = arena_msg(rd, (a->n > 0 ? a->n : 1) * sizeof *v);
    if (v == NULL) {
        return false;
    }
    size_t i = 0;
    for (const struct json_value *e = a->child; e != NULL; e = e->next, i++) {
        int f = 0;
        struct json_value named_e = *e;
        named_e.name = "filters[]";
        named_e.name_len = strlen(named_e.name);
        if (!read_enum(rd, &named_e,
                       &metastore__watch_create_request__filter_type__descriptor,
                       &f)) {
            return false;
        }
        v[i] = f;
    }
    r->n_filters = a->n;
    r->filters = (Metastore__WatchCreateRequest__FilterType *)v;
    return true;
}

static bool read_watch_create(struct reader *rd, const struct json_value *o,
                              Metastore__WatchCreateRequest *r)
{
    if (!need_object(rd, o, "WatchCreateRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        bool ok;
        if (named(m, "key")) {
            ok = read_bytes(rd, m, &r->key);
        } else if (named(m, "range_end")) {
            ok = read_bytes(rd, m, &r->range_end);
        } else if (named(m, "start_revision")) {
            ok = read_i64(rd, m, &r->start_revision);
        } else if (named(m, "progress_notify")) {
            ok = read_bool(rd, m, &r->progress_notify);
        } else if (named(m, "filters")) {
            ok = read_filters(rd, m, r);
        } else if (named(m, "prev_kv")) {
            ok = read_bool(rd, m, &r->prev_kv);
        } else if (named(m, "watch_id")) {
            ok = read_i64(rd, m, &r->watch_id);
        } else if (named(m, "fragment")) {
            ok = read_bool(rd, m, &r->fragment);
        } else {
            ok = unknown_field(rd, m, "WatchCreateRequest");
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

/*
 * A WatchRequest body.  One HTTP request opens one stream with one watcher,
 * so only create_request makes sense here (etcd's gateway takes more
 * requests on a streamed request body; MetaStore's HTTP bodies have a
 * Content-Length).  A range that selects nothing is refused here, before
 * any stream opens, so that the client gets a plain 400.
 */
static bool read_watch(struct reader *rd, const struct json_value *o,
                       Metastore__WatchRequest *r)
{
    if (!need_object(rd, o, "WatchRequest")) {
        return false;
    }
    for (const struct json_value *m = o->child; m != NULL; m = m->next) {
        if (!named(m, "create_request")) {
            if (named(m, "cancel_request") || named(m, "progress_request")) {
                return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                             "field \"%s\": over HTTP a watch is one "
                             "create_request per POST /v3/watch; close the "
                             "connection to cancel it",
                             m->name);
            }
            return unknown_field(rd, m, "WatchRequest");
        }
        Metastore__WatchCreateRequest *c = arena_msg(rd, sizeof *c);
        if (c == NULL) {
            return false;
        }
        metastore__watch_create_request__init(c);
        snprintf(rd->where, sizeof rd->where, "create_request.");
        if (!read_watch_create(rd, m, c)) {
            return false;
        }
        rd->where[0] = '\0';
        r->request_union_case =
            METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
        r->create_request = c;
    }
    const Metastore__WatchCreateRequest *c = r->create_request;
    if (c == NULL) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "a WatchRequest needs a \"create_request\" object");
    }
    if (c->key.len == 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"create_request.key\": the watched key is empty");
    }
    bool to_end = c->range_end.len == 1 && c->range_end.data[0] == 0;
    if (c->range_end.len > 0 && !to_end) {
        size_t n = c->key.len < c->range_end.len ? c->key.len
                                                 : c->range_end.len;
        int cmp = memcmp(c->key.data, c->range_end.data, n);
        if (cmp > 0 || (cmp == 0 && c->key.len >= c->range_end.len)) {
            return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                         "field \"create_request.range_end\": the range is "
                         "empty (range_end must sort after key; \"AA==\" "
                         "means every key from key on)");
        }
    }
    if (c->start_revision < 0 || c->watch_id < 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"create_request.%s\": must not be negative",
                     c->start_revision < 0 ? "start_revision" : "watch_id");
    }
    return true;
}

static bool read_request_more(struct reader *rd, uint16_t method,
                              const struct json_value *root,
                              ProtobufCMessage **msg)
{
    union {
        Metastore__LeaseGrantRequest grant;
        Metastore__LeaseRevokeRequest revoke;
        Metastore__LeaseKeepAliveRequest keepalive;
        Metastore__LeaseTimeToLiveRequest ttl;
        Metastore__LeaseLeasesRequest leases;
        Metastore__WatchRequest watch;
    } *u = arena_msg(rd, sizeof *u);
    if (u == NULL) {
        return false;
    }
    switch (method) {
    case SRV_METHOD_LEASE_GRANT:
        metastore__lease_grant_request__init(&u->grant);
        *msg = &u->grant.base;
        return read_lease_grant(rd, root, &u->grant);
    case SRV_METHOD_LEASE_REVOKE:
        metastore__lease_revoke_request__init(&u->revoke);
        *msg = &u->revoke.base;
        return read_lease_id(rd, root, "LeaseRevokeRequest", &u->revoke.id);
    case SRV_METHOD_LEASE_KEEPALIVE:
        metastore__lease_keep_alive_request__init(&u->keepalive);
        *msg = &u->keepalive.base;
        return read_lease_id(rd, root, "LeaseKeepAliveRequest",
                             &u->keepalive.id);
    case SRV_METHOD_LEASE_TIME_TO_LIVE:
        metastore__lease_time_to_live_request__init(&u->ttl);
        *msg = &u->ttl.base;
        return read_lease_ttl(rd, root, &u->ttl);
    case SRV_METHOD_LEASE_LEASES:
        metastore__lease_leases_request__init(&u->leases);
        *msg = &u->leases.base;
        if (!need_object(rd, root, "LeaseLeasesRequest")) {
            return false;
        }
        return root->child == NULL ||
               unknown_field(rd, root->child, "LeaseLeasesRequest");
    case SRV_METHOD_WATCH:
        metastore__watch_request__init(&u->watch);
        *msg = &u->watch.base;
        return read_watch(rd, root, &u->watch);
    default:
        return failf(rd, SRV_STATUS_UNIMPLEMENTED, "no JSON mapping for %s",
                     srv_method_name(method));
    }
}

static void put_event(struct json_out *o, const Metastore__Event *e)
{
    json_out_begin_object(o);
    if (e->type == METASTORE__EVENT__EVENT_TYPE__DELETE) {
        json_out_key(o, "type");
        json_out_str(o, "DELETE", 6);
    }
    if (e->kv != NULL) {
        json_out_key(o, "kv");
        put_kv(o, e->kv);
    }
    if (e->prev_kv != NULL) {
        json_out_key(o, "prev_kv");
        put_kv(o, e->prev_kv);
    }
    json_out_end_object(o);
}

/* {"result": WatchResponse}, as etcd's gateway streams it. */
static void put_watch(struct json_out *o, const Metastore__WatchResponse *w)
{
    json_out_begin_object(o);
    json_out_key(o, "result");
    json_out_begin_object(o);
    put_header(o, w->header);
    put_i64(o, "watch_id", w->watch_id);
    put_bool(o, "created", w->created);
    put_bool(o, "canceled", w->canceled);
    put_i64(o, "compact_revision", w->compact_revision);
    put_string(o, "cancel_reason", w->cancel_reason);
    put_bool(o, "fragment", w->fragment);
    if (w->n_events > 0) {
        json_out_key(o, "events");
        json_out_begin_array(o);
        for (size_t i = 0; i < w->n_events; i++) {
            put_event(o, w->events[i]);
        }
        json_out_end_array(o);
    }
    json_out_end_object(o);
    json_out_end_object(o);
}

static void put_lease_reply(struct json_out *o, uint16_t method,
                            const ProtobufCMessage *m)
{
    json_out_begin_object(o);
    switch (method) {
    case SRV_METHOD_LEASE_GRANT: {
        const Metastore__LeaseGrantResponse *r = (const void *)m;
        put_header(o, r->header);
        put_i64(o, "ID", r->id);
        put_i64(o, "TTL", r->ttl);
        put_string(o, "error", r->error);
        break;
    }
    case SRV_METHOD_LEASE_REVOKE:
        put_header(o, ((const Metastore__LeaseRevokeResponse *)m)->header);
        break;
    case SRV_METHOD_LEASE_KEEPALIVE: {
        /* etcd's gateway streams keep-alive answers: one {"result": ...}
         * per request, here exactly one. */
        const Metastore__LeaseKeepAliveResponse *r = (const void *)m;
        json_out_key(o, "result");
        json_out_begin_object(o);
        put_header(o, r->header);
        put_i64(o, "ID", r->id);
        put_i64(o, "TTL", r->ttl);
        json_out_end_object(o);
        break;
    }
    case SRV_METHOD_LEASE_TIME_TO_LIVE: {
        const Metastore__LeaseTimeToLiveResponse *r = (const void *)m;
        put_header(o, r->header);
        put_i64(o, "ID", r->id);
        put_i64(o, "TTL", r->ttl);
        put_i64(o, "grantedTTL", r->granted_ttl);
        if (r->n_keys > 0) {
            json_out_key(o, "keys");
            json_out_begin_array(o);
            for (size_t i = 0; i < r->n_keys; i++) {
                json_out_b64(o, r->keys[i].data, r->keys[i].len);
            }
            json_out_end_array(o);
        }
        break;
    }
    default: {
        const Metastore__LeaseLeasesResponse *r = (const void *)m;
        put_header(o, r->header);
        if (r->n_leases > 0) {
            json_out_key(o, "leases");
            json_out_begin_array(o);
            for (size_t i = 0; i < r->n_leases; i++) {
                json_out_begin_object(o);
                put_i64(o, "ID", r->leases[i]->id);
                json_out_end_object(o);
            }
            json_out_end_array(o);
        }
        break;
    }
    }
    json_out_end_object(o);
}

static int render_reply_more(uint16_t method, const uint8_t *body, size_t len,
                             struct json_out *o)
{
    const ProtobufCMessageDescriptor *d;
    switch (method) {
    case SRV_METHOD_LEASE_GRANT:
        d = &metastore__lease_grant_response__descriptor;
        break;
    case SRV_METHOD_LEASE_REVOKE:
        d = &metastore__lease_revoke_response__descriptor;
        break;
    case SRV_METHOD_LEASE_KEEPALIVE:
        d = &metastore__lease_keep_alive_response__descriptor;
        break;
    case SRV_METHOD_LEASE_TIME_TO_LIVE:
        d = &metastore__lease_time_to_live_response__descriptor;
        break;
    case SRV_METHOD_LEASE_LEASES:
        d = &metastore__lease_leases_response__descriptor;
        break;
    default:
        d = &metastore__watch_response__descriptor;
        break;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, body);
    if (m == NULL) {
        return hkv_render_error(o, SRV_STATUS_INTERNAL, 0,
                                "the server's reply did not decode");
    }
    if (method == SRV_METHOD_WATCH) {
        put_watch(o, (const Metastore__WatchResponse *)m);
    } else {
        put_lease_reply(o, method, m);
    }
    json_out_raw(o, "\n", 1);
    protobuf_c_message_free_unpacked(m, NULL);
    return 200;
}

/* ---- shared with http_auth.c
 * --------------------------------------------------------- */

bool hkv__named(const struct json_value *v, const char *snake)
{
    return named(v, snake);
}

void hkv__put_header(struct json_out *o, const Metastore__ResponseHeader *h)
{
    put_header(o, h);
}
