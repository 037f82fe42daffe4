/*
 * http_auth.c - etcd v3 JSON gateway shapes <-> MetaStore's auth messages
 * (see server/http_auth.h).
 *
 * Happy path of a request: find the route method's request descriptor,
 * walk the JSON object's members, match each to a field of the descriptor
 * (snake_case or lowerCamelCase), convert the value by the field's type
 * into the message (allocated in the JSON document's arena, as http_kv.c
 * does), recurse into nested messages (UserAddOptions, Permission).  The
 * auth requests are flat and small, so the descriptor walk replaces
 * sixteen hand-written readers with one.
 *
 * Happy path of a reply: unpack with the response descriptor, write the
 * header and the few fields each response has, by method.
 *
 * Failure modes: the first bad member stops the walk with
 * INVALID_ARGUMENT and a message naming the field; out of memory is
 * RESOURCE_EXHAUSTED; a field type without a JSON mapping here (a .proto
 * change nobody mapped) is INTERNAL, never a crash.
 */
#include "server/http_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "server/frame.h"
#include "server/http_kv.h"
#include "server/status.h"

struct auth_map {
    uint16_t method;
    const ProtobufCMessageDescriptor *req;
    const ProtobufCMessageDescriptor *resp;
};

#define MAP(m, rq, rs)                                                         \
    {                                                                          \
        SRV_METHOD_##m, &metastore__##rq##__descriptor,                        \
            &metastore__##rs##__descriptor                                     \
    }

static const struct auth_map maps[] = {
    MAP(AUTHENTICATE, authenticate_request, authenticate_response),
    MAP(AUTH_ENABLE, auth_enable_request, auth_enable_response),
    MAP(AUTH_DISABLE, auth_disable_request, auth_disable_response),
    MAP(AUTH_STATUS, auth_status_request, auth_status_response),
    MAP(USER_ADD, auth_user_add_request, auth_user_add_response),
    MAP(USER_GET, auth_user_get_request, auth_user_get_response),
    MAP(USER_LIST, auth_user_list_request, auth_user_list_response),
    MAP(USER_DELETE, auth_user_delete_request, auth_user_delete_response),
    MAP(USER_CHANGE_PASSWORD, auth_user_change_password_request,
        auth_user_change_password_response),
    MAP(USER_GRANT_ROLE, auth_user_grant_role_request,
        auth_user_grant_role_response),
    MAP(USER_REVOKE_ROLE, auth_user_revoke_role_request,
        auth_user_revoke_role_response),
    MAP(ROLE_ADD, auth_role_add_request, auth_role_add_response),
    MAP(ROLE_GET, auth_role_get_request, auth_role_get_response),
    MAP(ROLE_LIST, auth_role_list_request, auth_role_list_response),
    MAP(ROLE_DELETE, auth_role_delete_request, auth_role_delete_response),
    MAP(ROLE_GRANT_PERMISSION, auth_role_grant_permission_request,
        auth_role_grant_permission_response),
    MAP(ROLE_REVOKE_PERMISSION, auth_role_revoke_permission_request,
        auth_role_revoke_permission_response),
};

#undef MAP

static const struct auth_map *map_of(uint16_t method)
{
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        if (maps[i].method == method) {
            return &maps[i];
        }
    }
    return NULL;
}

bool hauth_is_method(uint16_t method)
{
    return map_of(method) != NULL;
}

/* ---- requests
 * ---------------------------------------------------------------- */

struct reader {
    struct json_doc *doc;
    char *err;
    size_t cap;
    int status;     /* SRV_STATUS_* of the first failure */
    char where[64]; /* "perm." while inside a nested message */
};

static bool failf(struct reader *rd, int st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool failf(struct reader *rd, int st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->err, rd->cap, fmt, ap);
    va_end(ap);
    rd->status = st;
    return false;
}

static bool bad_type(struct reader *rd, const struct json_value *v,
                     const char *want)
{
    return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                 "field \"%s%.*s\": expected %s, got %s", rd->where,
                 (int)(v->name_len < 64 ? v->name_len : 64), v->name, want,
                 json_type_name(v->type));
}

static bool read_string(struct reader *rd, const struct json_value *v,
                        char **out)
{
    if (v->type != JSON_STRING) {
        return bad_type(rd, v, "a string");
    }
    if (strlen(v->str) != v->len) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"%s%.*s\": must not hold a NUL character",
                     rd->where, (int)(v->name_len < 64 ? v->name_len : 64),
                     v->name);
    }
    *out = (char *)v->str; /* the arena's; packing copies it */
    return true;
}

static bool read_bytes(struct reader *rd, const struct json_value *v,
                       ProtobufCBinaryData *out)
{
    if (v->type != JSON_STRING) {
        return bad_type(rd, v, "a base64 string");
    }
    uint8_t *buf = json_doc_alloc(rd->doc, v->len / 4 * 3 + 3);
    if (buf == NULL) {
        return failf(rd, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    if (base64_decode(v->str, v->len, buf, &out->len) != 0) {
        return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                     "field \"%s%.*s\": not valid base64 (keys are "
                     "base64-encoded, e.g. \"L2FwcC8=\" for /app/)",
                     rd->where, (int)(v->name_len < 64 ? v->name_len : 64),
                     v->name);
    }
    out->data = buf;
    return true;
}

static bool read_enum(struct reader *rd, const struct json_value *v,
                      const ProtobufCEnumDescriptor *d, int *out)
{
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
    char names[128] = "";
    size_t k = 0;
    for (unsigned i = 0; i < d->n_values && k + 1 < sizeof names; i++) {
        int w = snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "",
                         d->values[i].name);
        k += w > 0 ? (size_t)w : 0;
    }
    return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                 "field \"%s%.*s\": unknown value (one of %s)", rd->where,
                 (int)(v->name_len < 64 ? v->name_len : 64), v->name, names);
}

static bool read_message(struct reader *rd, const ProtobufCMessageDescriptor *d,
                         const char *msg_name, const struct json_value *o,
                         ProtobufCMessage *m);

/* Nested message field f from object v into *slot (arena). */
static bool read_nested(struct reader *rd, const ProtobufCFieldDescriptor *f,
                        const struct json_value *v, ProtobufCMessage **slot)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    ProtobufCMessage *sub = json_doc_alloc(rd->doc, d->sizeof_message);
    if (sub == NULL) {
        return failf(rd, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    d->message_init(sub);
    size_t saved = strlen(rd->where);
    snprintf(rd->where + saved, sizeof rd->where - saved, "%s.", f->name);
    if (!read_message(rd, d, d->short_name, v, sub)) {
        return false;
    }
    rd->where[saved] = '\0';
    *slot = sub;
    return true;
}

/* One member v into field f of message m. */
static bool read_field(struct reader *rd, const ProtobufCFieldDescriptor *f,
                       const struct json_value *v, ProtobufCMessage *m)
{
    if (v->type == JSON_NULL) {
        return true; /* the default, which init left there */
    }
    void *slot = (char *)m + f->offset;
    int e = 0;
    protobuf_c_boolean *b = slot;
    /* No auth request has a repeated field: refused as unmapped. */
    switch (f->label != PROTOBUF_C_LABEL_REPEATED ? (int)f->type : -1) {
    case PROTOBUF_C_TYPE_STRING:
        return read_string(rd, v, (char **)slot);
    case PROTOBUF_C_TYPE_BYTES:
        return read_bytes(rd, v, (ProtobufCBinaryData *)slot);
    case PROTOBUF_C_TYPE_BOOL:
        if (v->type != JSON_TRUE && v->type != JSON_FALSE) {
            return bad_type(rd, v, "true or false");
        }
        *b = v->type == JSON_TRUE;
        return true;
    case PROTOBUF_C_TYPE_ENUM:
        if (!read_enum(rd, v, f->descriptor, &e)) {
            return false;
        }
        *(int *)slot = e;
        return true;
    case PROTOBUF_C_TYPE_MESSAGE:
        if (v->type != JSON_OBJECT) {
            return bad_type(rd, v, "an object");
        }
        return read_nested(rd, f, v, (ProtobufCMessage **)slot);
    default:
        return failf(rd, SRV_STATUS_INTERNAL,
                     "field \"%s%.*s\": no JSON mapping for this field type",
                     rd->where, (int)(v->name_len < 64 ? v->name_len : 64),
                     v->name);
    }
}

static bool read_message(struct reader *rd, const ProtobufCMessageDescriptor *d,
                         const char *msg_name, const struct json_value *o,
                         ProtobufCMessage *m)
{
    if (o->type != JSON_OBJECT) {
        if (o->name == NULL) {
            return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                         "the body must be a JSON object (a %s), not %s",
                         msg_name, json_type_name(o->type));
        }
        return bad_type(rd, o, "an object");
    }
    for (const struct json_value *v = o->child; v != NULL; v = v->next) {
        const ProtobufCFieldDescriptor *f = NULL;
        for (unsigned i = 0; i < d->n_fields && f == NULL; i++) {
            if (hkv__named(v, d->fields[i].name)) {
                f = &d->fields[i];
            }
        }
        if (f == NULL) {
            return failf(rd, SRV_STATUS_INVALID_ARGUMENT,
                         "unknown field \"%s%.*s\" in %s", rd->where,
                         (int)(v->name_len < 64 ? v->name_len : 64), v->name,
                         msg_name);
        }
        if (!read_field(rd, f, v, m)) {
            return false;
        }
    }
    return true;
}

int hauth_read_request(struct json_doc *doc, uint16_t method,
                       const char *msg_name, const struct json_value *root,
                       ProtobufCMessage **msg, char *err, size_t cap)
{
    struct reader rd = {.doc = doc, .err = err, .cap = cap};
    const struct auth_map *mp = map_of(method);
    if (mp == NULL) {
        failf(&rd, SRV_STATUS_UNIMPLEMENTED, "no JSON mapping for %s",
              srv_method_name(method));
        return rd.status;
    }
    ProtobufCMessage *m = json_doc_alloc(doc, mp->req->sizeof_message);
    if (m == NULL) {
        failf(&rd, SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return rd.status;
    }
    mp->req->message_init(m);
    if (!read_message(&rd, mp->req, msg_name, root, m)) {
        return rd.status;
    }
    *msg = m;
    return 0;
}

/* ---- replies
 * ----------------------------------------------------------------- */

static void put_names(struct json_out *o, const char *key, char *const *v,
                      size_t n)
{
    if (n == 0) {
        return;
    }
    json_out_key(o, key);
    json_out_begin_array(o);
    for (size_t i = 0; i < n; i++) {
        json_out_str(o, v[i], strlen(v[i]));
    }
    json_out_end_array(o);
}

/* etcd's authpb.Permission: "permType" (left out for READ, the default),
 * "key", "range_end". */
static void put_perms(struct json_out *o, Metastore__Permission *const *p,
                      size_t n)
{
    if (n == 0) {
        return;
    }
    json_out_key(o, "perm");
    json_out_begin_array(o);
    for (size_t i = 0; i < n; i++) {
        json_out_begin_object(o);
        const ProtobufCEnumValue *e = protobuf_c_enum_descriptor_get_value(
            &metastore__permission__type__descriptor, (int)p[i]->perm_type);
        if (p[i]->perm_type != METASTORE__PERMISSION__TYPE__READ && e != NULL) {
            json_out_key(o, "permType");
            json_out_str(o, e->name, strlen(e->name));
        }
        if (p[i]->key.len > 0) {
            json_out_key(o, "key");
            json_out_b64(o, p[i]->key.data, p[i]->key.len);
        }
        if (p[i]->range_end.len > 0) {
            json_out_key(o, "range_end");
            json_out_b64(o, p[i]->range_end.data, p[i]->range_end.len);
        }
        json_out_end_object(o);
    }
    json_out_end_array(o);
}

static void put_reply(struct json_out *o, uint16_t method,
                      const ProtobufCMessage *m)
{
    switch (method) {
    case SRV_METHOD_AUTHENTICATE: {
        const Metastore__AuthenticateResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        if (r->token != NULL && r->token[0] != '\0') {
            json_out_key(o, "token");
            json_out_str(o, r->token, strlen(r->token));
        }
        break;
    }
    case SRV_METHOD_AUTH_STATUS: {
        const Metastore__AuthStatusResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        if (r->enabled) {
            json_out_key(o, "enabled");
            json_out_bool(o, true);
        }
        if (r->auth_revision != 0) {
            json_out_key(o, "authRevision"); /* etcd's spelling */
            json_out_uint64_str(o, r->auth_revision);
        }
        break;
    }
    case SRV_METHOD_USER_GET: {
        const Metastore__AuthUserGetResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        put_names(o, "roles", r->roles, r->n_roles);
        break;
    }
    case SRV_METHOD_USER_LIST: {
        const Metastore__AuthUserListResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        put_names(o, "users", r->users, r->n_users);
        break;
    }
    case SRV_METHOD_ROLE_LIST: {
        const Metastore__AuthRoleListResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        put_names(o, "roles", r->roles, r->n_roles);
        break;
    }
    case SRV_METHOD_ROLE_GET: {
        const Metastore__AuthRoleGetResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        put_perms(o, r->perm, r->n_perm);
        break;
    }
    default: {
        /* Every change answers a message holding only the header. */
        const Metastore__AuthEnableResponse *r = (const void *)m;
        hkv__put_header(o, r->header);
        break;
    }
    }
}

int hauth_render_reply(uint16_t method, const uint8_t *body, size_t len,
                       struct json_out *o)
{
    const struct auth_map *mp = map_of(method);
    ProtobufCMessage *m =
        mp != NULL ? protobuf_c_message_unpack(mp->resp, NULL, len, body)
                   : NULL;
    if (m == NULL) {
        return hkv_render_error(o, SRV_STATUS_INTERNAL, 0,
                                "the server's reply did not decode");
    }
    json_out_begin_object(o);
    put_reply(o, method, m);
    json_out_end_object(o);
    json_out_raw(o, "\n", 1);
    protobuf_c_message_free_unpacked(m, NULL);
    return 200;
}
