/*
 * test_http_auth.c - the HTTP API's auth endpoints (server/http_auth.h
 * through server/http_kv.h): every /v3/auth/ route, etcd's gateway field
 * names on input (permType, range_end, hashedPassword, options) and
 * output (token, authRevision, perm), and every way an auth body is
 * refused before it reaches the dispatcher.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/frame.h"
#include "server/http_kv.h"
#include "server/status.h"

static char msg[256];

static int enc(const char *path, const char *body, size_t body_len,
               uint8_t **out, size_t *len)
{
    const struct hkv_route *r = hkv_route_find(path);
    ck_assert_msg(r != NULL, "no route %s", path);
    msg[0] = '\0';
    *out = NULL;
    *len = 0;
    return hkv_encode_request(r, (const uint8_t *)body, body_len, NULL, out,
                              len, msg, sizeof msg);
}

static void refused(const char *path, const char *body, const char *needle)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(enc(path, body, strlen(body), &out, &len),
                     SRV_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(msg, needle) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", body, msg, needle);
}

static char *render(const char *path, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(m, buf);
    struct json_out o;
    json_out_init(&o);
    ck_assert_int_eq(hkv_render_reply(hkv_route_find(path), false, buf, n, &o),
                     200);
    free(buf);
    ck_assert(!json_out_failed(&o));
    return o.buf; /* the caller frees it */
}

START_TEST(every_auth_endpoint_has_its_route)
{
    static const struct {
        const char *path;
        uint16_t method;
    } want[] = {
        {"/v3/auth/authenticate", SRV_METHOD_AUTHENTICATE},
        {"/v3/auth/enable", SRV_METHOD_AUTH_ENABLE},
        {"/v3/auth/disable", SRV_METHOD_AUTH_DISABLE},
        {"/v3/auth/status", SRV_METHOD_AUTH_STATUS},
        {"/v3/auth/user/add", SRV_METHOD_USER_ADD},
        {"/v3/auth/user/get", SRV_METHOD_USER_GET},
        {"/v3/auth/user/list", SRV_METHOD_USER_LIST},
        {"/v3/auth/user/delete", SRV_METHOD_USER_DELETE},
        {"/v3/auth/user/changepw", SRV_METHOD_USER_CHANGE_PASSWORD},
        {"/v3/auth/user/grant", SRV_METHOD_USER_GRANT_ROLE},
        {"/v3/auth/user/revoke", SRV_METHOD_USER_REVOKE_ROLE},
        {"/v3/auth/role/add", SRV_METHOD_ROLE_ADD},
        {"/v3/auth/role/get", SRV_METHOD_ROLE_GET},
        {"/v3/auth/role/list", SRV_METHOD_ROLE_LIST},
        {"/v3/auth/role/delete", SRV_METHOD_ROLE_DELETE},
        {"/v3/auth/role/grant", SRV_METHOD_ROLE_GRANT_PERMISSION},
        {"/v3/auth/role/revoke", SRV_METHOD_ROLE_REVOKE_PERMISSION},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct hkv_route *r = hkv_route_find(want[i].path);
        ck_assert_msg(r != NULL, "%s", want[i].path);
        ck_assert_int_eq(r->method, want[i].method);
        /* The empty body is the empty message where that makes sense. */
        uint8_t *out;
        size_t len;
        ck_assert_int_eq(enc(want[i].path, "", 0, &out, &len), 0);
        free(out);
    }
}
END_TEST

START_TEST(user_requests_take_etcd_field_names)
{
    uint8_t *out;
    size_t len;
    const char *b = "{\"name\": \"alice\", \"password\": \"pw\", "
                    "\"options\": {\"noPassword\": false}}";
    ck_assert_int_eq(enc("/v3/auth/user/add", b, strlen(b), &out, &len), 0);
    Metastore__AuthUserAddRequest *ua =
        metastore__auth_user_add_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(ua);
    ck_assert_str_eq(ua->name, "alice");
    ck_assert_str_eq(ua->password, "pw");
    ck_assert_ptr_nonnull(ua->options);
    ck_assert(!ua->options->no_password);
    metastore__auth_user_add_request__free_unpacked(ua, NULL);
    free(out);

    b = "{\"name\": \"bob\", \"hashedPassword\": \"AAEC\"}";
    ck_assert_int_eq(enc("/v3/auth/user/changepw", b, strlen(b), &out, &len),
                     0);
    Metastore__AuthUserChangePasswordRequest *cp =
        metastore__auth_user_change_password_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(cp);
    ck_assert_uint_eq(cp->hashed_password.len, 3);
    ck_assert_uint_eq(cp->hashed_password.data[2], 2);
    metastore__auth_user_change_password_request__free_unpacked(cp, NULL);
    free(out);

    b = "{\"user\": \"alice\", \"role\": \"reader\"}";
    ck_assert_int_eq(enc("/v3/auth/user/grant", b, strlen(b), &out, &len), 0);
    Metastore__AuthUserGrantRoleRequest *g =
        metastore__auth_user_grant_role_request__unpack(NULL, len, out);
    ck_assert_str_eq(g->user, "alice");
    ck_assert_str_eq(g->role, "reader");
    metastore__auth_user_grant_role_request__free_unpacked(g, NULL);
    free(out);
}
END_TEST

START_TEST(permissions_take_permtype_names_or_numbers_and_base64_keys)
{
    uint8_t *out;
    size_t len;
    const char *b = "{\"name\": \"r\", \"perm\": {\"permType\": \"READWRITE\", "
                    "\"key\": \"L2FwcC8=\", \"range_end\": \"L2FwcDA=\"}}";
    ck_assert_int_eq(enc("/v3/auth/role/grant", b, strlen(b), &out, &len), 0);
    Metastore__AuthRoleGrantPermissionRequest *r =
        metastore__auth_role_grant_permission_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(r->perm);
    ck_assert_int_eq(r->perm->perm_type,
                     METASTORE__PERMISSION__TYPE__READWRITE);
    ck_assert_uint_eq(r->perm->key.len, 5);
    ck_assert_mem_eq(r->perm->key.data, "/app/", 5);
    ck_assert_mem_eq(r->perm->range_end.data, "/app0", 5);
    metastore__auth_role_grant_permission_request__free_unpacked(r, NULL);
    free(out);

    b = "{\"name\": \"r\", \"perm\": {\"perm_type\": 1, \"key\": \"eA==\"}}";
    ck_assert_int_eq(enc("/v3/auth/role/grant", b, strlen(b), &out, &len), 0);
    r = metastore__auth_role_grant_permission_request__unpack(NULL, len, out);
    ck_assert_int_eq(r->perm->perm_type, METASTORE__PERMISSION__TYPE__WRITE);
    metastore__auth_role_grant_permission_request__free_unpacked(r, NULL);
    free(out);

    b = "{\"role\": \"r\", \"key\": \"eA==\", \"rangeEnd\": \"AA==\"}";
    ck_assert_int_eq(enc("/v3/auth/role/revoke", b, strlen(b), &out, &len), 0);
    Metastore__AuthRoleRevokePermissionRequest *v =
        metastore__auth_role_revoke_permission_request__unpack(NULL, len, out);
    ck_assert_str_eq(v->role, "r");
    ck_assert_uint_eq(v->range_end.len, 1);
    ck_assert_uint_eq(v->range_end.data[0], 0);
    metastore__auth_role_revoke_permission_request__free_unpacked(v, NULL);
    free(out);
}
END_TEST

START_TEST(bad_auth_bodies_are_refused_naming_the_field)
{
    refused("/v3/auth/user/add", "{\"name\": \"x\", \"pasword\": \"y\"}",
            "unknown field \"pasword\" in AuthUserAddRequest");
    refused("/v3/auth/user/add", "{\"name\": 7}",
            "field \"name\": expected a string");
    refused("/v3/auth/authenticate", "[\"root\"]",
            "must be a JSON object (a AuthenticateRequest)");
    refused("/v3/auth/role/grant",
            "{\"name\": \"r\", \"perm\": {\"permType\": \"ALL\"}}",
            "field \"perm.permType\": unknown value (one of READ, WRITE, "
            "READWRITE)");
    refused("/v3/auth/role/grant",
            "{\"name\": \"r\", \"perm\": {\"permType\": 9}}", "perm.permType");
    refused("/v3/auth/role/grant", "{\"name\": \"r\", \"perm\": \"READ\"}",
            "field \"perm\": expected an object");
    refused("/v3/auth/role/grant",
            "{\"name\": \"r\", \"perm\": {\"key\": \"not base64!\"}}",
            "field \"perm.key\": not valid base64");
    refused("/v3/auth/role/grant",
            "{\"name\": \"r\", \"perm\": {\"colour\": 1}}",
            "unknown field \"perm.colour\" in Permission");
    refused("/v3/auth/user/add",
            "{\"name\": \"x\", \"options\": {\"no_password\": \"yes\"}}",
            "field \"options.no_password\": expected true or false");
    /* A NUL inside a name or password would cut the C string. */
    refused("/v3/auth/authenticate",
            "{\"name\": \"root\", \"password\": \"a\\u0000b\"}",
            "field \"password\": must not hold a NUL character");
    refused("/v3/auth/enable", "{\"force\": true}",
            "unknown field \"force\" in AuthEnableRequest");
}
END_TEST

START_TEST(auth_replies_render_as_etcd_gateway_prints_them)
{
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    h.revision = 4;

    Metastore__AuthenticateResponse a = METASTORE__AUTHENTICATE_RESPONSE__INIT;
    a.header = &h;
    a.token = "00ff";
    char *s = render("/v3/auth/authenticate", &a.base);
    ck_assert_str_eq(s,
                     "{\"header\":{\"revision\":\"4\"},\"token\":\"00ff\"}\n");
    free(s);

    Metastore__AuthStatusResponse st = METASTORE__AUTH_STATUS_RESPONSE__INIT;
    st.header = &h;
    st.enabled = true;
    st.auth_revision = 12;
    s = render("/v3/auth/status", &st.base);
    ck_assert_str_eq(s, "{\"header\":{\"revision\":\"4\"},\"enabled\":true,"
                        "\"authRevision\":\"12\"}\n");
    free(s);

    Metastore__Permission p1 = METASTORE__PERMISSION__INIT, p2 = p1;
    p1.key.data = (uint8_t *)"/a/";
    p1.key.len = 3;
    p2.perm_type = METASTORE__PERMISSION__TYPE__READWRITE;
    p2.key.data = (uint8_t *)"k";
    p2.key.len = 1;
    p2.range_end.data = (uint8_t *)"\0";
    p2.range_end.len = 1;
    Metastore__Permission *ps[] = {&p1, &p2};
    Metastore__AuthRoleGetResponse rg = METASTORE__AUTH_ROLE_GET_RESPONSE__INIT;
    rg.header = &h;
    rg.perm = ps;
    rg.n_perm = 2;
    s = render("/v3/auth/role/get", &rg.base);
    ck_assert_str_eq(s,
                     "{\"header\":{\"revision\":\"4\"},\"perm\":[{\"key\":"
                     "\"L2Ev\"},{\"permType\":\"READWRITE\",\"key\":\"aw==\","
                     "\"range_end\":\"AA==\"}]}\n");
    free(s);

    char *names[] = {"alice", "root"};
    Metastore__AuthUserListResponse ul =
        METASTORE__AUTH_USER_LIST_RESPONSE__INIT;
    ul.header = &h;
    ul.users = names;
    ul.n_users = 2;
    s = render("/v3/auth/user/list", &ul.base);
    ck_assert_str_eq(s, "{\"header\":{\"revision\":\"4\"},\"users\":[\"alice\","
                        "\"root\"]}\n");
    free(s);

    Metastore__AuthUserGetResponse ug = METASTORE__AUTH_USER_GET_RESPONSE__INIT;
    ug.header = &h;
    ug.roles = names + 1;
    ug.n_roles = 1;
    s = render("/v3/auth/user/get", &ug.base);
    ck_assert_str_eq(s, "{\"header\":{\"revision\":\"4\"},\"roles\":[\"root\"]}"
                        "\n");
    free(s);

    Metastore__AuthUserAddResponse ua = METASTORE__AUTH_USER_ADD_RESPONSE__INIT;
    ua.header = &h;
    s = render("/v3/auth/user/add", &ua.base);
    ck_assert_str_eq(s, "{\"header\":{\"revision\":\"4\"}}\n");
    free(s);
}
END_TEST

START_TEST(an_undecodable_auth_reply_is_a_500)
{
    struct json_out o;
    json_out_init(&o);
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    ck_assert_int_eq(hkv_render_reply(hkv_route_find("/v3/auth/role/get"),
                                      false, junk, sizeof junk, &o),
                     500);
    ck_assert(strstr(o.buf, "did not decode") != NULL);
    json_out_free(&o);
}
END_TEST

static Suite *http_auth_suite(void)
{
    Suite *s = suite_create("http_auth");
    TCase *tc = tcase_create("http_auth");
    tcase_add_test(tc, every_auth_endpoint_has_its_route);
    tcase_add_test(tc, user_requests_take_etcd_field_names);
    tcase_add_test(tc,
                   permissions_take_permtype_names_or_numbers_and_base64_keys);
    tcase_add_test(tc, bad_auth_bodies_are_refused_naming_the_field);
    tcase_add_test(tc, auth_replies_render_as_etcd_gateway_prints_them);
    tcase_add_test(tc, an_undecodable_auth_reply_is_a_500);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
