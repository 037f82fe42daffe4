/*
 * auth.c - the authentication and authorization calls of the client
 * library (metastore.h "Authentication and authorization"), and the
 * Authenticate handshake client.c runs on every new connection when the
 * client has credentials.
 *
 * Happy path: build the request on the stack, run it through
 * ms__client_call() (redirects, fail-over), copy what the caller needs out
 * of the response, free it.  The handshake cannot use ms__client_call (it
 * runs inside one, whose frame is in the client's buffers): it writes its
 * own frame on the fresh connection and reads until its answer.
 *
 * Failure modes: bad arguments -> MS_EINVAL before anything is sent; the
 * server's refusals come back with its message in ms_client_errmsg().
 * Passwords are wiped from the client's buffers after use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "client/metastore.h"

void ms__wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n-- > 0) {
        *v++ = 0;
    }
}

/* A call whose answer is only a header. */
static int simple(struct ms_client *c, uint16_t method,
                  const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m;
    int rc = ms__call_message(c, method, req, desc, false, &m);
    if (rc == 0) {
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

static bool name_ok(struct ms_client *c, const char *what, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        ms__client_set_errmsg(c, "%s name is empty", what);
        return false;
    }
    return true;
}

/* ---- the handshake ------------------------------------------------------------ */

int ms__auth_handshake(struct ms_client *c, const char *user,
                       const char *password, uint64_t deadline)
{
    Metastore__AuthenticateRequest req = METASTORE__AUTHENTICATE_REQUEST__INIT;
    req.name = (char *)(uintptr_t)user;
    req.password = (char *)(uintptr_t)(password != NULL ? password : "");
    size_t body = protobuf_c_message_get_packed_size(&req.base);
    size_t total = MS__FRAME_HEADER_BYTES + body;
    uint8_t *buf = malloc(total);
    if (buf == NULL) {
        return MS_ENOMEM;
    }
    struct ms__frame_header h = {.length = (uint32_t)body,
                                 .method = MS__METHOD_AUTHENTICATE,
                                 .request_id = ms__client_next_id(c)};
    ms__frame_header_encode(&h, buf);
    protobuf_c_message_pack(&req.base, buf + MS__FRAME_HEADER_BYTES);
    size_t sent = 0;
    int rc = ms__client_write_all(c, buf, total, deadline, &sent);
    ms__wipe(buf, total);
    free(buf);
    uint8_t *rbuf = NULL;
    while (rc == 0) {
        uint8_t raw[MS__FRAME_HEADER_BYTES];
        struct ms__frame_header r;
        rc = ms__client_read_full(c, raw, sizeof raw, deadline);
        if (rc == 0) {
            rc = ms__frame_header_decode(raw, MS__MAX_BODY_BYTES, &r);
        }
        if (rc != 0) {
            break;
        }
        free(rbuf);
        rbuf = malloc(r.length > 0 ? r.length : 1);
        if (rbuf == NULL) {
            rc = MS_ENOMEM;
            break;
        }
        rc = ms__client_read_full(c, rbuf, r.length, deadline);
        if (rc != 0 || !(r.flags & MS__FLAG_RESPONSE) ||
            r.request_id != h.request_id) {
            continue; /* (rc != 0 ends the loop) */
        }
        if (r.flags & MS__FLAG_ERROR) {
            Metastore__ErrorDetail *d =
                metastore__error_detail__unpack(NULL, r.length, rbuf);
            rc = d != NULL ? ms_status_to_error((int)d->code) : MS_EPROTO;
            ms__client_set_errmsg(c, "authentication as \"%s\" failed: %s",
                                  user,
                                  d != NULL && d->message != NULL
                                      ? d->message
                                      : ms_strerror(rc));
            if (d != NULL) {
                metastore__error_detail__free_unpacked(d, NULL);
            }
            if (rc == 0) {
                rc = MS_EPROTO;
            }
        }
        break;
    }
    free(rbuf);
    return rc;
}

/* ---- calls ---------------------------------------------------------------------- */

int ms_authenticate(struct ms_client *c, const char *user,
                    const char *password, char *token, size_t token_cap)
{
    if (c == NULL || !name_ok(c, "user", user)) {
        return MS_EINVAL;
    }
    int rc = ms__client_set_credentials(c, user, password);
    if (rc != 0) {
        return rc;
    }
    Metastore__AuthenticateRequest req = METASTORE__AUTHENTICATE_REQUEST__INIT;
    req.name = (char *)(uintptr_t)user;
    req.password = (char *)(uintptr_t)(password != NULL ? password : "");
    ProtobufCMessage *m;
    rc = ms__call_message(c, MS__METHOD_AUTHENTICATE, &req.base,
                          &metastore__authenticate_response__descriptor, true,
                          &m);
    if (rc != 0) {
        (void)ms__client_set_credentials(c, NULL, NULL);
        return rc;
    }
    Metastore__AuthenticateResponse *r = (Metastore__AuthenticateResponse *)m;
    if (token != NULL && token_cap > 0) {
        snprintf(token, token_cap, "%s", r->token != NULL ? r->token : "");
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int ms_auth_enable(struct ms_client *c)
{
    Metastore__AuthEnableRequest req = METASTORE__AUTH_ENABLE_REQUEST__INIT;
    return simple(c, MS__METHOD_AUTH_ENABLE, &req.base,
                  &metastore__auth_enable_response__descriptor);
}

int ms_auth_disable(struct ms_client *c)
{
    Metastore__AuthDisableRequest req = METASTORE__AUTH_DISABLE_REQUEST__INIT;
    return simple(c, MS__METHOD_AUTH_DISABLE, &req.base,
                  &metastore__auth_disable_response__descriptor);
}

int ms_auth_status(struct ms_client *c, bool *enabled, uint64_t *revision)
{
    Metastore__AuthStatusRequest req = METASTORE__AUTH_STATUS_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_AUTH_STATUS, &req.base,
                              &metastore__auth_status_response__descriptor,
                              true, &m);
    if (rc == 0) {
        Metastore__AuthStatusResponse *r = (Metastore__AuthStatusResponse *)m;
        if (enabled != NULL) {
            *enabled = r->enabled;
        }
        if (revision != NULL) {
            *revision = r->auth_revision;
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

int ms_user_add(struct ms_client *c, const char *name, const char *password,
                bool no_password)
{
    if (!name_ok(c, "user", name)) {
        return MS_EINVAL;
    }
    Metastore__UserAddOptions o = METASTORE__USER_ADD_OPTIONS__INIT;
    o.no_password = no_password;
    Metastore__AuthUserAddRequest req = METASTORE__AUTH_USER_ADD_REQUEST__INIT;
    req.name = (char *)(uintptr_t)name;
    req.password = (char *)(uintptr_t)(password != NULL ? password : "");
    req.options = &o;
    return simple(c, MS__METHOD_USER_ADD, &req.base,
                  &metastore__auth_user_add_response__descriptor);
}

int ms_user_delete(struct ms_client *c, const char *name)
{
    if (!name_ok(c, "user", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthUserDeleteRequest req =
        METASTORE__AUTH_USER_DELETE_REQUEST__INIT;
    req.name = (char *)(uintptr_t)name;
    return simple(c, MS__METHOD_USER_DELETE, &req.base,
                  &metastore__auth_user_delete_response__descriptor);
}

int ms_user_change_password(struct ms_client *c, const char *name,
                            const char *password)
{
    if (!name_ok(c, "user", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthUserChangePasswordRequest req =
        METASTORE__AUTH_USER_CHANGE_PASSWORD_REQUEST__INIT;
    req.name = (char *)(uintptr_t)name;
    req.password = (char *)(uintptr_t)(password != NULL ? password : "");
    return simple(c, MS__METHOD_USER_CHANGE_PASSWORD, &req.base,
                  &metastore__auth_user_change_password_response__descriptor);
}

int ms_user_grant_role(struct ms_client *c, const char *user,
                       const char *role)
{
    if (!name_ok(c, "user", user) || !name_ok(c, "role", role)) {
        return MS_EINVAL;
    }
    Metastore__AuthUserGrantRoleRequest req =
        METASTORE__AUTH_USER_GRANT_ROLE_REQUEST__INIT;
    req.user = (char *)(uintptr_t)user;
    req.role = (char *)(uintptr_t)role;
    return simple(c, MS__METHOD_USER_GRANT_ROLE, &req.base,
                  &metastore__auth_user_grant_role_response__descriptor);
}

int ms_user_revoke_role(struct ms_client *c, const char *user,
                        const char *role)
{
    if (!name_ok(c, "user", user) || !name_ok(c, "role", role)) {
        return MS_EINVAL;
    }
    Metastore__AuthUserRevokeRoleRequest req =
        METASTORE__AUTH_USER_REVOKE_ROLE_REQUEST__INIT;
    req.name = (char *)(uintptr_t)user;
    req.role = (char *)(uintptr_t)role;
    return simple(c, MS__METHOD_USER_REVOKE_ROLE, &req.base,
                  &metastore__auth_user_revoke_role_response__descriptor);
}

void ms_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static int copy_strings(char *const *in, size_t n, char ***out, size_t *n_out)
{
    char **v = calloc(n > 0 ? n : 1, sizeof *v);
    if (v == NULL) {
        return MS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if ((v[i] = strdup(in[i])) == NULL) {
            ms_strings_free(v, i);
            return MS_ENOMEM;
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

int ms_user_get(struct ms_client *c, const char *name, char ***roles,
                size_t *n)
{
    *roles = NULL;
    *n = 0;
    if (!name_ok(c, "user", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthUserGetRequest req = METASTORE__AUTH_USER_GET_REQUEST__INIT;
    req.name = (char *)(uintptr_t)name;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_USER_GET, &req.base,
                              &metastore__auth_user_get_response__descriptor,
                              true, &m);
    if (rc == 0) {
        Metastore__AuthUserGetResponse *r = (Metastore__AuthUserGetResponse *)m;
        rc = copy_strings(r->roles, r->n_roles, roles, n);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

int ms_user_list(struct ms_client *c, char ***users, size_t *n)
{
    *users = NULL;
    *n = 0;
    Metastore__AuthUserListRequest req = METASTORE__AUTH_USER_LIST_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_USER_LIST, &req.base,
                              &metastore__auth_user_list_response__descriptor,
                              true, &m);
    if (rc == 0) {
        Metastore__AuthUserListResponse *r =
            (Metastore__AuthUserListResponse *)m;
        rc = copy_strings(r->users, r->n_users, users, n);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

int ms_role_list(struct ms_client *c, char ***roles, size_t *n)
{
    *roles = NULL;
    *n = 0;
    Metastore__AuthRoleListRequest req = METASTORE__AUTH_ROLE_LIST_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_ROLE_LIST, &req.base,
                              &metastore__auth_role_list_response__descriptor,
                              true, &m);
    if (rc == 0) {
        Metastore__AuthRoleListResponse *r =
            (Metastore__AuthRoleListResponse *)m;
        rc = copy_strings(r->roles, r->n_roles, roles, n);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

int ms_role_add(struct ms_client *c, const char *name)
{
    if (!name_ok(c, "role", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthRoleAddRequest req = METASTORE__AUTH_ROLE_ADD_REQUEST__INIT;
    req.name = (char *)(uintptr_t)name;
    return simple(c, MS__METHOD_ROLE_ADD, &req.base,
                  &metastore__auth_role_add_response__descriptor);
}

int ms_role_delete(struct ms_client *c, const char *name)
{
    if (!name_ok(c, "role", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthRoleDeleteRequest req =
        METASTORE__AUTH_ROLE_DELETE_REQUEST__INIT;
    req.role = (char *)(uintptr_t)name;
    return simple(c, MS__METHOD_ROLE_DELETE, &req.base,
                  &metastore__auth_role_delete_response__descriptor);
}

void ms_permissions_free(struct ms_permission *p, size_t n)
{
    for (size_t i = 0; p != NULL && i < n; i++) {
        free(p[i].key);
        free(p[i].range_end);
    }
    free(p);
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n > 0 ? n : 1);
    if (d != NULL && n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

int ms_role_get(struct ms_client *c, const char *name,
                struct ms_permission **perms, size_t *n)
{
    *perms = NULL;
    *n = 0;
    if (!name_ok(c, "role", name)) {
        return MS_EINVAL;
    }
    Metastore__AuthRoleGetRequest req = METASTORE__AUTH_ROLE_GET_REQUEST__INIT;
    req.role = (char *)(uintptr_t)name;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_ROLE_GET, &req.base,
                              &metastore__auth_role_get_response__descriptor,
                              true, &m);
    if (rc != 0) {
        return rc;
    }
    Metastore__AuthRoleGetResponse *r = (Metastore__AuthRoleGetResponse *)m;
    struct ms_permission *v = calloc(r->n_perm > 0 ? r->n_perm : 1, sizeof *v);
    for (size_t i = 0; v != NULL && i < r->n_perm; i++) {
        v[i].type = (enum ms_perm_type)r->perm[i]->perm_type;
        v[i].key = dup_bytes(r->perm[i]->key.data, r->perm[i]->key.len);
        v[i].key_len = r->perm[i]->key.len;
        v[i].range_end =
            dup_bytes(r->perm[i]->range_end.data, r->perm[i]->range_end.len);
        v[i].range_end_len = r->perm[i]->range_end.len;
        if (v[i].key == NULL || v[i].range_end == NULL) {
            ms_permissions_free(v, i + 1);
            v = NULL;
        }
    }
    if (v != NULL) {
        *perms = v;
        *n = r->n_perm;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return v != NULL ? 0 : MS_ENOMEM;
}

int ms_role_grant_permission(struct ms_client *c, const char *role,
                             enum ms_perm_type type, const void *key,
                             size_t key_len, const void *range_end,
                             size_t range_end_len)
{
    if (!name_ok(c, "role", role) || key == NULL || key_len == 0 ||
        (unsigned)type > MS_PERM_READWRITE) {
        return MS_EINVAL;
    }
    Metastore__Permission p = METASTORE__PERMISSION__INIT;
    p.perm_type = (Metastore__Permission__Type)type;
    p.key.data = (uint8_t *)(uintptr_t)key;
    p.key.len = key_len;
    p.range_end.data = (uint8_t *)(uintptr_t)range_end;
    p.range_end.len = range_end_len;
    Metastore__AuthRoleGrantPermissionRequest req =
        METASTORE__AUTH_ROLE_GRANT_PERMISSION_REQUEST__INIT;
    req.name = (char *)(uintptr_t)role;
    req.perm = &p;
    return simple(c, MS__METHOD_ROLE_GRANT_PERMISSION, &req.base,
                  &metastore__auth_role_grant_permission_response__descriptor);
}

int ms_role_revoke_permission(struct ms_client *c, const char *role,
                              const void *key, size_t key_len,
                              const void *range_end, size_t range_end_len)
{
    if (!name_ok(c, "role", role) || key == NULL || key_len == 0) {
        return MS_EINVAL;
    }
    Metastore__AuthRoleRevokePermissionRequest req =
        METASTORE__AUTH_ROLE_REVOKE_PERMISSION_REQUEST__INIT;
    req.role = (char *)(uintptr_t)role;
    req.key.data = (uint8_t *)(uintptr_t)key;
    req.key.len = key_len;
    req.range_end.data = (uint8_t *)(uintptr_t)range_end;
    req.range_end.len = range_end_len;
    return simple(c, MS__METHOD_ROLE_REVOKE_PERMISSION, &req.base,
                  &metastore__auth_role_revoke_permission_response__descriptor);
}
