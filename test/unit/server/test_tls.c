/*
 * test_tls.c - the memory-BIO TLS layer (server/tls.h) without sockets: a
 * dialing and an accepting side pump bytes into each other by hand, so
 * every step (handshake, early writes, large records, close_notify,
 * garbage, refused certificates, a wrong name) is checked exactly; and the
 * tls.* configuration keys, flags and their cross-field rules.
 *
 * Certificates come from scripts/gen-test-certs.sh, run once per program
 * into a temporary directory; without the openssl command the TLS cases
 * are skipped, loudly (the configuration cases still run).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"
#include "server/tls.h"

static char certs[256];

static const char *path(const char *name)
{
    static char bufs[6][320];
    static unsigned next;
    char *b = bufs[next++ % 6];
    snprintf(b, sizeof bufs[0], "%s/%s", certs, name);
    return b;
}

/* Runs scripts/gen-test-certs.sh (found above the test binary). */
static bool make_certs(void)
{
    if (system("command -v openssl >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIPPED: the openssl command is not installed; TLS "
                        "cases do not run\n");
        return false;
    }
    char exe[PATH_MAX], script[PATH_MAX + 40];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return false;
    }
    exe[n] = '\0';
    for (;;) {
        char *slash = strrchr(exe, '/');
        if (slash == NULL || slash == exe) {
            return false;
        }
        *slash = '\0';
        snprintf(script, sizeof script, "%s/scripts/gen-test-certs.sh", exe);
        if (access(script, X_OK) == 0) {
            break;
        }
    }
    char tmpl[] = "/tmp/metastore-unit-tls-XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        return false;
    }
    snprintf(certs, sizeof certs, "%s", tmpl);
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "'%s' '%s' >/dev/null", script, certs);
    return system(cmd) == 0;
}

static struct srv_tls_ctx *ctx(const char *cert, const char *key,
                               const char *ca, bool auth)
{
    struct srv_tls_files f = {.cert_file = path(cert),
                              .key_file = path(key),
                              .ca_file = ca != NULL ? path(ca) : NULL,
                              .client_cert_auth = auth,
                              .what = "tls."};
    char err[512];
    struct srv_tls_ctx *c = NULL;
    int rc = srv_tls_ctx_create(&f, err, sizeof err, &c);
    ck_assert_msg(rc == 0, "%s", err);
    return c;
}

/* Moves the ciphertext `from` has for `to`.  Returns the byte count. */
static size_t pump(struct srv_tls *from, struct srv_tls *to)
{
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;
    ck_assert_int_eq(srv_tls_take(from, &b, &cap, &n), 0);
    if (n > 0) {
        ck_assert_int_eq(srv_tls_feed(to, b, n), 0);
    }
    free(b);
    return n;
}

/* Reads everything `t` has decrypted into out (appends at *len).  Returns
 * the last srv_tls_read() code. */
static int drain(struct srv_tls *t, uint8_t *out, size_t cap, size_t *len)
{
    for (;;) {
        size_t n = 0;
        int rc = srv_tls_read(t, out + *len, cap - *len, &n);
        if (rc != 0 || n == 0) {
            return rc;
        }
        *len += n;
    }
}

/* Pumps both ways until neither side has anything to say; returns the
 * first error either side's read reported (0 if none).  What the server
 * side decrypts is kept in g_sv_plain. */
static uint8_t g_sv_plain[256];
static size_t g_sv_len;

static int converse(struct srv_tls *cl, struct srv_tls *sv)
{
    uint8_t scratch[256];
    g_sv_len = 0;
    for (int round = 0; round < 20; round++) {
        size_t moved = pump(cl, sv);
        int rc = drain(sv, g_sv_plain, sizeof g_sv_plain, &g_sv_len);
        if (rc != 0) {
            pump(sv, cl); /* the alert */
            return rc;
        }
        moved += pump(sv, cl);
        size_t len = 0;
        rc = drain(cl, scratch, sizeof scratch, &len);
        if (rc != 0) {
            return rc;
        }
        if (moved == 0) {
            return 0;
        }
    }
    return 0;
}

START_TEST(handshake_then_early_and_large_writes_arrive_intact)
{
    if (certs[0] == '\0') {
        return;
    }
    struct srv_tls_ctx *sc = ctx("server.pem", "server-key.pem", "ca.pem", true);
    struct srv_tls_ctx *cc = ctx("client.pem", "client-key.pem", "ca.pem", false);
    struct srv_tls *sv = srv_tls_create(sc, true, NULL);
    struct srv_tls *cl = srv_tls_create(cc, false, "127.0.0.1");
    /* Written before the handshake: kept, sent once it is done. */
    ck_assert_int_eq(srv_tls_write(cl, (const uint8_t *)"hello", 5), 0);
    ck_assert(srv_tls_pending(cl) > 0); /* the ClientHello */
    ck_assert_int_eq(converse(cl, sv), 0);
    ck_assert(srv_tls_established(cl));
    ck_assert(srv_tls_established(sv));
    ck_assert_uint_eq(g_sv_len, 5);
    ck_assert(memcmp(g_sv_plain, "hello", 5) == 0);
    size_t n = 1u << 20;
    uint8_t *big = malloc(n), *got = malloc(n + 16);
    for (size_t i = 0; i < n; i++) {
        big[i] = (uint8_t)(i * 7);
    }
    ck_assert_int_eq(srv_tls_write(cl, big, n), 0);
    pump(cl, sv);
    size_t len = 0;
    ck_assert_int_eq(drain(sv, got, n + 16, &len), 0);
    ck_assert_uint_eq(len, n);
    ck_assert(memcmp(got, big, n) == 0);
    /* The other way, then an orderly close. */
    ck_assert_int_eq(srv_tls_write(sv, big, 4096), 0);
    pump(sv, cl);
    len = 0;
    ck_assert_int_eq(drain(cl, got, n, &len), 0);
    ck_assert_uint_eq(len, 4096);
    srv_tls_close_notify(cl);
    pump(cl, sv);
    len = 0;
    ck_assert_int_eq(drain(sv, got, n, &len), SRV_TLS_ECLOSED);
    free(big);
    free(got);
    srv_tls_destroy(sv);
    srv_tls_destroy(cl);
    srv_tls_ctx_destroy(sc);
    srv_tls_ctx_destroy(cc);
}
END_TEST

START_TEST(garbage_fails_the_handshake_with_a_reason)
{
    if (certs[0] == '\0') {
        return;
    }
    struct srv_tls_ctx *sc = ctx("server.pem", "server-key.pem", NULL, false);
    struct srv_tls *sv = srv_tls_create(sc, true, NULL);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(srv_tls_feed(sv, (const uint8_t *)junk, sizeof junk), 0);
    uint8_t out[64];
    size_t n = 0;
    ck_assert_int_eq(srv_tls_read(sv, out, sizeof out, &n), SRV_TLS_EFAIL);
    ck_assert_msg(strstr(srv_tls_error(sv), "TLS handshake failed") != NULL,
                  "%s", srv_tls_error(sv));
    /* Failed for good: more input changes nothing. */
    ck_assert_int_eq(srv_tls_read(sv, out, sizeof out, &n), SRV_TLS_EFAIL);
    srv_tls_destroy(sv);
    srv_tls_ctx_destroy(sc);
}
END_TEST

START_TEST(dialing_side_refuses_a_foreign_or_misnamed_server)
{
    if (certs[0] == '\0') {
        return;
    }
    struct srv_tls_ctx *foreign =
        ctx("foreign-peer.pem", "foreign-peer-key.pem", "ca.pem", false);
    struct srv_tls_ctx *peer = ctx("peer.pem", "peer-key.pem", "ca.pem", true);
    /* A server certificate from a CA we do not trust. */
    struct srv_tls *sv = srv_tls_create(foreign, true, NULL);
    struct srv_tls *cl = srv_tls_create(peer, false, "127.0.0.1");
    ck_assert_int_eq(converse(cl, sv), SRV_TLS_EFAIL);
    ck_assert_msg(strstr(srv_tls_error(cl), "unable to get local issuer") !=
                      NULL,
                  "%s", srv_tls_error(cl));
    srv_tls_destroy(sv);
    srv_tls_destroy(cl);
    /* A trusted certificate that does not name the host we dialed. */
    sv = srv_tls_create(peer, true, NULL);
    cl = srv_tls_create(peer, false, "db.example.com");
    ck_assert_int_eq(converse(cl, sv), SRV_TLS_EFAIL);
    ck_assert_msg(strstr(srv_tls_error(cl), "mismatch") != NULL, "%s",
                  srv_tls_error(cl));
    srv_tls_destroy(sv);
    srv_tls_destroy(cl);
    /* The names it has are accepted. */
    sv = srv_tls_create(peer, true, NULL);
    cl = srv_tls_create(peer, false, "localhost");
    ck_assert_int_eq(converse(cl, sv), 0);
    ck_assert(srv_tls_established(cl) && srv_tls_established(sv));
    srv_tls_destroy(sv);
    srv_tls_destroy(cl);
    srv_tls_ctx_destroy(foreign);
    srv_tls_ctx_destroy(peer);
}
END_TEST

START_TEST(accepting_side_with_client_auth_refuses_a_foreign_client_cert)
{
    if (certs[0] == '\0') {
        return;
    }
    struct srv_tls_ctx *peer = ctx("peer.pem", "peer-key.pem", "ca.pem", true);
    struct srv_tls_ctx *foreign =
        ctx("foreign-peer.pem", "foreign-peer-key.pem", "ca.pem", true);
    struct srv_tls *sv = srv_tls_create(peer, true, NULL);
    struct srv_tls *cl = srv_tls_create(foreign, false, "127.0.0.1");
    ck_assert_int_eq(srv_tls_write(cl, (const uint8_t *)"Hello", 5), 0);
    ck_assert_int_ne(converse(cl, sv), 0);
    ck_assert(!srv_tls_established(sv));
    ck_assert_msg(strstr(srv_tls_error(sv), "unable to get local issuer") !=
                      NULL,
                  "%s", srv_tls_error(sv));
    srv_tls_destroy(sv);
    srv_tls_destroy(cl);
    srv_tls_ctx_destroy(foreign);
    srv_tls_ctx_destroy(peer);
}
END_TEST

START_TEST(context_errors_name_the_key_and_file)
{
    if (certs[0] == '\0') {
        return;
    }
    char err[512];
    struct srv_tls_ctx *c = NULL;
    struct srv_tls_files f = {.cert_file = path("server.pem"),
                              .key_file = path("missing.pem"),
                              .what = "tls.peer_"};
    ck_assert_int_eq(srv_tls_ctx_create(&f, err, sizeof err, &c), SRV_TLS_EFAIL);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "tls.peer_key_file") != NULL &&
                      strstr(err, "No such file") != NULL,
                  "%s", err);
    f.key_file = path("client-key.pem");
    ck_assert_int_eq(srv_tls_ctx_create(&f, err, sizeof err, &c), SRV_TLS_EFAIL);
    ck_assert_msg(strstr(err, "does not match tls.peer_cert_file") != NULL,
                  "%s", err);
    f.key_file = path("server-key.pem");
    f.ca_file = path("server-key.pem");
    ck_assert_int_eq(srv_tls_ctx_create(&f, err, sizeof err, &c), SRV_TLS_EFAIL);
    ck_assert_msg(strstr(err, "tls.peer_trusted_ca_file") != NULL, "%s", err);
}
END_TEST

/* ---- configuration ------------------------------------------------------ */

START_TEST(tls_keys_load_from_yaml_and_flags)
{
    struct srv_config cfg;
    char err[512];
    srv_config_defaults(&cfg);
    ck_assert_str_eq(cfg.tls.cert_file, "");
    ck_assert(!cfg.tls.client_cert_auth && !cfg.tls.peer_client_cert_auth);
    const char *yaml = "tls:\n"
                       "  cert_file: /c.pem\n"
                       "  key_file: /k.pem\n"
                       "  trusted_ca_file: /ca.pem\n"
                       "  client_cert_auth: true\n";
    ck_assert_msg(srv_config_load_string(&cfg, yaml, "t.yaml", err,
                                         sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(cfg.tls.cert_file, "/c.pem");
    ck_assert(cfg.tls.client_cert_auth);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--peer-cert-file", "/p.pem",
                                           err, sizeof err),
                     0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--peer-key-file", "/pk.pem",
                                           err, sizeof err),
                     0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--peer-trusted-ca-file",
                                           "/ca.pem", err, sizeof err),
                     0);
    /* A switch without a value means true. */
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--peer-client-cert-auth",
                                           NULL, err, sizeof err),
                     0);
    ck_assert(cfg.tls.peer_client_cert_auth);
    ck_assert_msg(srv_config_validate(&cfg, err, sizeof err) == 0, "%s", err);
    /* --print-config writes them and reads them back. */
    static char buf[65536];
    srv_config_format(&cfg, buf, sizeof buf);
    ck_assert_ptr_nonnull(strstr(buf, "tls:\n  cert_file: \"/c.pem\""));
    struct srv_config again;
    srv_config_defaults(&again);
    ck_assert_msg(srv_config_load_string(&again, buf, "fmt", err,
                                         sizeof err) == 0,
                  "%s", err);
    ck_assert_str_eq(again.tls.peer_key_file, "/pk.pem");
    ck_assert(again.tls.peer_client_cert_auth);
}
END_TEST

static void expect_invalid(const char *yaml, const char *needle)
{
    struct srv_config cfg;
    char err[512];
    srv_config_defaults(&cfg);
    ck_assert_msg(srv_config_load_string(&cfg, yaml, "t.yaml", err,
                                         sizeof err) == 0,
                  "%s", err);
    ck_assert_int_ne(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_msg(strstr(err, needle) != NULL, "\"%s\" lacks \"%s\"", err,
                  needle);
}

START_TEST(tls_cross_field_rules_name_the_key_and_line)
{
    expect_invalid("tls:\n  cert_file: /c.pem\n",
                   "t.yaml:2: tls.cert_file: is set but tls.key_file is not");
    expect_invalid("tls:\n  key_file: /k.pem\n",
                   "tls.key_file: is set but tls.cert_file is not");
    expect_invalid("tls:\n  trusted_ca_file: /ca.pem\n",
                   "TLS is off on this port");
    expect_invalid("tls:\n  cert_file: /c\n  key_file: /k\n"
                   "  client_cert_auth: true\n",
                   "t.yaml:4: tls.client_cert_auth: needs "
                   "tls.trusted_ca_file");
    expect_invalid("tls:\n  peer_cert_file: /c\n  peer_key_file: /k\n",
                   "peer TLS needs tls.peer_trusted_ca_file");
    expect_invalid("tls:\n  peer_client_cert_auth: true\n",
                   "TLS is off on this port");
}
END_TEST

int main(void)
{
    bool ok = make_certs();
    if (!ok) {
        certs[0] = '\0';
    }
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("memory_bio");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, handshake_then_early_and_large_writes_arrive_intact);
    tcase_add_test(tc, garbage_fails_the_handshake_with_a_reason);
    tcase_add_test(tc, dialing_side_refuses_a_foreign_or_misnamed_server);
    tcase_add_test(tc,
                   accepting_side_with_client_auth_refuses_a_foreign_client_cert);
    tcase_add_test(tc, context_errors_name_the_key_and_file);
    suite_add_tcase(s, tc);
    TCase *cf = tcase_create("config");
    tcase_add_test(cf, tls_keys_load_from_yaml_and_flags);
    tcase_add_test(cf, tls_cross_field_rules_name_the_key_and_line);
    suite_add_tcase(s, cf);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (certs[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", certs);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", certs);
        }
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
