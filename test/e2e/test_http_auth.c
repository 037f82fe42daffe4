/*
 * test_http_auth.c - authentication on the HTTP/JSON API against a real
 * metastored, with curl (docs/http-api.md "Authentication").
 *
 * The documented walk-through (root, enable, authenticate, a put with and
 * without a token, a reader refused a write) runs in test_http_api.c from
 * the page itself.  Here: a role revoked takes effect at the next request
 * carrying the same token; a deleted user's token stops working; a
 * streamed watch needs READ on its range (403 before any stream opens);
 * wrong passwords over HTTP are counted on /metrics and locked out by
 * client address, the binary protocol from the same address included;
 * TLS with client certificates and auth together on the HTTP port; a
 * token is not looked at while auth is disabled.
 *
 * Passwords are hashed with auth.password_iterations=1000 so that the
 * tests stay quick under AddressSanitizer.  Each test ends by stopping
 * the server with SIGTERM and requiring exit status 0 (under
 * AddressSanitizer a leak makes that fail).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/scrape.h"

static struct e2e_server srv;
static uint16_t http_port;
static bool have_certs;
static char scheme[8] = "http";
static char tls_args[1024]; /* curl's --cacert/--cert/--key, or "" */

static void start_with(const char *const *more)
{
    e2e_server_init(&srv);
    do {
        http_port = e2e_free_port();
    } while (http_port == srv.client_port || http_port == srv.peer_port ||
             http_port == srv.admin_port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", http_port);
    const char *extra[40] = {"--http-listen", addr, "--set",
                             "auth.password_iterations=1000"};
    for (int i = 0; more != NULL && more[i] != NULL && i < 34; i++) {
        extra[4 + i] = more[i];
    }
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void stop_clean(void)
{
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    bool ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "tail -n 40 %s >&2", srv.log_path);
        if (system(cmd) != 0) {
            fprintf(stderr, "(no log)\n");
        }
    }
    e2e_server_cleanup(&srv);
    snprintf(scheme, sizeof scheme, "http");
    tls_args[0] = '\0';
    ck_assert_msg(ok, "metastored did not exit cleanly (status %d)", st);
}

/* Runs cmd through sh: its exit status; stdout into out. */
static int sh(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * POST path with the JSON body and, unless token is NULL, the header
 * "Authorization: <token>".  Returns the HTTP status; the body in out.
 */
static int post(const char *path, const char *token, const char *json,
                char *out, size_t cap)
{
    char cmd[4096], auth[128] = "";
    if (token != NULL) {
        snprintf(auth, sizeof auth, "-H 'Authorization: %s'", token);
    }
    snprintf(cmd, sizeof cmd,
             "curl -s -S %s -w '\\n%%{http_code}' %s -X POST "
             "%s://127.0.0.1:%u%s -d '%s'",
             tls_args, auth, scheme, http_port, path, json);
    ck_assert_int_eq(sh(cmd, out, cap), 0);
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    return atoi(nl + 1);
}

/* POST that must answer 200. */
static void ok(const char *path, const char *token, const char *json)
{
    char out[4096];
    int st = post(path, token, json, out, sizeof out);
    ck_assert_msg(st == 200, "%s %s: %d %s", path, json, st, out);
}

/* POST that must answer `want` with `needle` in the body. */
static void refused(const char *path, const char *token, const char *json,
                    int want, const char *needle)
{
    char out[4096];
    int st = post(path, token, json, out, sizeof out);
    ck_assert_msg(st == want && strstr(out, needle) != NULL,
                  "%s %s: %d %s (wanted %d with \"%s\")", path, json, st, out,
                  want, needle);
}

/* Authenticates; the token into tok[33]. */
static void login(const char *name, const char *password, char tok[33])
{
    char body[256], out[4096];
    snprintf(body, sizeof body, "{\"name\": \"%s\", \"password\": \"%s\"}",
             name, password);
    int st = post("/v3/auth/authenticate", NULL, body, out, sizeof out);
    ck_assert_msg(st == 200, "authenticate %s: %d %s", name, st, out);
    const char *t = strstr(out, "\"token\":\"");
    ck_assert_ptr_nonnull(t);
    t += 9;
    ck_assert_msg(strlen(t) > 32 && t[32] == '"', "token in %s", out);
    memcpy(tok, t, 32);
    tok[32] = '\0';
}

static char root_tok[33];

/* root (with the root role), a role "reader" with READ on /app/, a user
 * alice holding it; auth enabled; root_tok is root's token. */
static void set_up_users(void)
{
    ok("/v3/auth/user/add", NULL, "{\"name\": \"root\", \"password\": \"r\"}");
    ok("/v3/auth/user/grant", NULL, "{\"user\": \"root\", \"role\": \"root\"}");
    ok("/v3/auth/role/add", NULL, "{\"name\": \"reader\"}");
    ok("/v3/auth/role/grant", NULL,
       "{\"name\": \"reader\", \"perm\": {\"permType\": \"READ\", \"key\": "
       "\"L2FwcC8=\", \"range_end\": \"L2FwcDA=\"}}");
    ok("/v3/auth/user/add", NULL, "{\"name\": \"alice\", \"password\": \"a\"}");
    ok("/v3/auth/user/grant", NULL,
       "{\"user\": \"alice\", \"role\": \"reader\"}");
    ok("/v3/auth/enable", NULL, "{}");
    login("root", "r", root_tok);
    ok("/v3/kv/put", root_tok, "{\"key\": \"L2FwcC94\", \"value\": \"MQ==\"}");
}

/* The value of a metric line "name{labels} value" on /metrics, or -1. */
static long metric(const char *name_and_labels)
{
    return (long)e2e_metric(srv.admin_port, name_and_labels);
}

START_TEST(revoking_the_role_takes_effect_at_the_next_request_with_the_token)
{
    start_with(NULL);
    set_up_users();
    char alice[33];
    login("alice", "a", alice);
    ok("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}");
    ok("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}");
    ok("/v3/auth/user/revoke", root_tok,
       "{\"name\": \"alice\", \"role\": \"reader\"}");
    refused("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}", 403,
            "PERMISSION_DENIED");
    /* Granted again: the same token reads again. */
    ok("/v3/auth/user/grant", root_tok,
       "{\"user\": \"alice\", \"role\": \"reader\"}");
    ok("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}");
    /* A permission revoked from the role acts at once as well. */
    ok("/v3/auth/role/revoke", root_tok,
       "{\"role\": \"reader\", \"key\": \"L2FwcC8=\", \"range_end\": "
       "\"L2FwcDA=\"}");
    refused("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}", 403,
            "may not read");
    /* A deleted user's token is no identity any more (401). */
    ok("/v3/auth/user/delete", root_tok, "{\"name\": \"alice\"}");
    refused("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}", 401,
            "was deleted or changed password");
    /* A token the node never issued, with or without "Bearer ". */
    refused("/v3/kv/range", "0123456789abcdef0123456789abcdef",
            "{\"key\": \"L2FwcC94\"}", 401, "invalid auth token");
    char bearer[64];
    snprintf(bearer, sizeof bearer, "Bearer %s", root_tok);
    ok("/v3/kv/range", bearer, "{\"key\": \"L2FwcC94\"}");
    /* Root-only endpoints refuse a request without a token. */
    refused("/v3/auth/user/list", NULL, "{}", 401, "UNAUTHENTICATED");
    ck_assert_int_ge(metric("metastore_auth_denied_total{status="
                            "\"PERMISSION_DENIED\"}"),
                     2);
    ck_assert_int_ge(metric("metastore_auth_denied_total{status="
                            "\"UNAUTHENTICATED\"}"),
                     3);
    stop_clean();
}
END_TEST

START_TEST(a_streamed_watch_needs_read_on_its_range)
{
    start_with(NULL);
    set_up_users();
    char alice[33];
    login("alice", "a", alice);
    /* Outside alice's range: a plain 403 answer, no stream. */
    refused("/v3/watch", alice, "{\"create_request\": {\"key\": \"Zm9v\"}}",
            403, "may not read");
    refused("/v3/watch", NULL, "{\"create_request\": {\"key\": \"L2FwcC94\"}}",
            401, "authenticate first");
    ck_assert_int_eq(metric("metastore_watchers"), 0);
    /* Inside it: the stream opens (its first line says created); curl is
     * stopped after at most 3 s, whichever comes first. */
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "curl -s -N -m 3 -H 'Authorization: %s' -X POST "
             "http://127.0.0.1:%u/v3/watch -d '{\"create_request\": "
             "{\"key\": \"L2FwcC94\"}}' | head -n 1",
             alice, http_port);
    (void)sh(cmd, out, sizeof out);
    ck_assert_msg(strstr(out, "\"created\":true") != NULL, "watch: %s", out);
    stop_clean();
}
END_TEST

START_TEST(wrong_passwords_are_counted_and_locked_out_by_address)
{
    const char *const more[] = {"--set", "auth.max_failures=3", "--set",
                                "auth.lockout=1h", NULL};
    start_with(more);
    set_up_users();
    refused("/v3/auth/authenticate", NULL,
            "{\"name\": \"root\", \"password\": \"wrong\"}", 401,
            "invalid user ID or password");
    refused("/v3/auth/authenticate", NULL,
            "{\"name\": \"nobody\", \"password\": \"x\"}", 401,
            "invalid user ID or password");
    refused("/v3/auth/authenticate", NULL,
            "{\"name\": \"root\", \"password\": \"wrong again\"}", 401,
            "invalid user ID or password");
    /* The third failure in a row locked the address out: even the right
     * password is refused now, without being checked. */
    refused("/v3/auth/authenticate", NULL,
            "{\"name\": \"root\", \"password\": \"r\"}", 429,
            "too many failed authentications");
    ck_assert_int_eq(
        metric("metastore_auth_attempts_total{result=\"bad_password\"}"), 2);
    ck_assert_int_eq(
        metric("metastore_auth_attempts_total{result=\"unknown_user\"}"), 1);
    ck_assert_int_eq(
        metric("metastore_auth_attempts_total{result=\"rate_limited\"}"), 1);
    ck_assert(e2e_server_log_contains(&srv, "refusing that address"));
    /* The client port counts the same address: it is locked out too. */
    char out[4096], err[4096];
    const char *const args[] = {"--user", "root:r", "get", "/app/x", NULL};
    ck_assert_int_ne(
        e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err, args), 0);
    ck_assert_msg(strstr(err, "too many failed") != NULL, "cli: %s", err);
    /* A token issued before the lockout still works: tokens are not
     * passwords. */
    ok("/v3/kv/range", root_tok, "{\"key\": \"L2FwcC94\"}");
    stop_clean();
}
END_TEST

START_TEST(tls_and_auth_together_on_the_http_port)
{
    if (!have_certs) {
        return;
    }
    const char *const more[] = {
        "--http-cert-file",        e2e_tls_path("server.pem"),
        "--http-key-file",         e2e_tls_path("server-key.pem"),
        "--http-trusted-ca-file",  e2e_tls_path("ca.pem"),
        "--http-client-cert-auth", NULL};
    start_with(more);
    snprintf(scheme, sizeof scheme, "https");
    snprintf(tls_args, sizeof tls_args, "--cacert %s --cert %s --key %s",
             e2e_tls_path("ca.pem"), e2e_tls_path("client.pem"),
             e2e_tls_path("client-key.pem"));
    set_up_users();
    refused("/v3/kv/put", NULL, "{\"key\": \"L2FwcC94\", \"value\": \"Mg==\"}",
            401, "authenticate first");
    char alice[33];
    login("alice", "a", alice);
    refused("/v3/kv/put", alice, "{\"key\": \"L2FwcC94\", \"value\": \"Mg==\"}",
            403, "may not write");
    ok("/v3/kv/put", root_tok, "{\"key\": \"L2FwcC94\", \"value\": \"Mg==\"}");
    char out[4096];
    ck_assert_int_eq(
        post("/v3/kv/range", alice, "{\"key\": \"L2FwcC94\"}", out, sizeof out),
        200);
    ck_assert_msg(strstr(out, "\"value\":\"Mg==\"") != NULL, "%s", out);
    /* A client certificate is not an identity: without a token, still 401
     * (and without the certificate, no connection at all). */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "curl -s --cacert %s -X POST https://127.0.0.1:%u/v3/kv/range "
             "-d '{\"key\": \"L2FwcC94\"}'",
             e2e_tls_path("ca.pem"), http_port);
    ck_assert_int_ne(sh(cmd, out, sizeof out), 0);
    stop_clean();
}
END_TEST

START_TEST(a_token_is_not_looked_at_while_auth_is_disabled)
{
    start_with(NULL);
    /* No users, auth off: any Authorization header is ignored, as etcd. */
    ok("/v3/kv/put", "garbage", "{\"key\": \"L2FwcC94\", \"value\": \"MQ==\"}");
    set_up_users();
    ok("/v3/auth/disable", root_tok, "{}");
    ok("/v3/kv/range", "0123456789abcdef0123456789abcdef",
       "{\"key\": \"L2FwcC94\"}");
    ok("/v3/kv/range", NULL, "{\"key\": \"L2FwcC94\"}");
    char out[4096];
    ck_assert_int_eq(post("/v3/auth/status", NULL, "{}", out, sizeof out), 200);
    ck_assert_msg(strstr(out, "\"enabled\"") == NULL, "%s", out);
    stop_clean();
}
END_TEST

static Suite *http_auth_suite(void)
{
    Suite *s = suite_create("http_auth");
    TCase *tc = tcase_create("http_auth");
    tcase_set_timeout(tc, 120);
    tcase_add_test(
        tc, revoking_the_role_takes_effect_at_the_next_request_with_the_token);
    tcase_add_test(tc, a_streamed_watch_needs_read_on_its_range);
    tcase_add_test(tc, wrong_passwords_are_counted_and_locked_out_by_address);
    tcase_add_test(tc, tls_and_auth_together_on_the_http_port);
    tcase_add_test(tc, a_token_is_not_looked_at_while_auth_is_disabled);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    have_certs = e2e_tls_certs(NULL) != NULL;
    if (!have_certs) {
        fprintf(stderr, "test_http_auth: no openssl command: the TLS test is "
                        "SKIPPED\n");
    }
    SRunner *sr = srunner_create(http_auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    e2e_tls_certs_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
