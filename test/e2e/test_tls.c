/*
 * test_tls.c - TLS on the client port of a real server, with client
 * certificates required (tls.client_cert_auth): the right CA and a client
 * certificate work, through the library and metastore-cli; the wrong CA,
 * no client certificate, an expired one, and one from a foreign CA are
 * each refused with a clear reason on both sides; garbage and a silent
 * half-open connection on the TLS port leave the server serving others (and
 * the silent one is closed at the handshake deadline);
 * bad TLS files stop the server at start-up with a message naming them.
 *
 * The certificates are made by scripts/gen-test-certs.sh at test time.
 * Without the openssl command the tests are skipped, loudly.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/e2e.h"

static struct e2e_server srv;
static bool have_certs;
static struct ms_tls_options good_tls;

static void start_tls_server(void)
{
    const char *extra[] = {"--cert-file",
                           e2e_tls_path("server.pem"),
                           "--key-file",
                           e2e_tls_path("server-key.pem"),
                           "--trusted-ca-file",
                           e2e_tls_path("ca.pem"),
                           "--client-cert-auth",
                           /* also the TLS handshake deadline */
                           "--set",
                           "server.request_timeout=1s",
                           NULL};
    e2e_client_tls = &good_tls;
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void setup(void)
{
    if (have_certs) {
        good_tls.ca_file = e2e_tls_path("ca.pem");
        good_tls.cert_file = e2e_tls_path("client.pem");
        good_tls.key_file = e2e_tls_path("client-key.pem");
        start_tls_server();
    }
}

static void teardown(void)
{
    if (have_certs) {
        int st = e2e_server_stop(&srv, SIGTERM, 10000);
        ck_assert_msg(st == 0, "server exit status %d (sanitizer report?)", st);
        e2e_server_cleanup(&srv);
    }
}

/* Opens a client with tls; returns the call's code, the errmsg in why. */
static int try_put(const struct ms_tls_options *tls, char *why, size_t cap)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 2000,
                                  .command_timeout_ms = 3000,
                                  .tls = tls};
    struct ms_client *c = NULL;
    int rc = ms_client_create(eps, 1, &o, &c);
    ck_assert_int_eq(rc, 0);
    struct ms_result *r = NULL;
    rc = ms_put(c, "tls-key", 7, "v", 1, 0, false, &r);
    snprintf(why, cap, "%s", ms_client_errmsg(c));
    ms_result_free(r);
    ms_client_close(c);
    return rc;
}

/* Waits until the server log has needle (the refusal is logged once the
 * server has seen the handshake fail, which may trail the client). */
static bool log_gets(const char *needle)
{
    uint64_t deadline = e2e_now_ms() + 3000;
    while (e2e_now_ms() < deadline) {
        if (e2e_server_log_contains(&srv, needle)) {
            return true;
        }
        usleep(20000); /* poll interval while waiting for the condition */
    }
    return false;
}

START_TEST(right_ca_and_client_certificate_read_and_write_large_values)
{
    if (!have_certs) {
        return;
    }
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.tls = &good_tls};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 1, &o, &c), 0);
    /* A value spanning many TLS records (16 KiB each), both ways. */
    size_t n = 300 * 1024;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)('a' + i % 26);
    }
    struct ms_result *r = NULL;
    int rc = ms_put(c, "big", 3, big, n, 0, false, &r);
    ck_assert_msg(rc == 0, "put: %s", ms_client_errmsg(c));
    ms_result_free(r);
    r = NULL;
    rc = ms_get(c, "big", 3, NULL, &r);
    ck_assert_msg(rc == 0, "get: %s", ms_client_errmsg(c));
    ck_assert_uint_eq(r->range.n_kvs, 1);
    ck_assert_uint_eq(r->range.kvs[0].value_len, n);
    ck_assert(memcmp(r->range.kvs[0].value, big, n) == 0);
    ms_result_free(r);
    free(big);
    ms_client_close(c);
    ck_assert(e2e_server_log_contains(&srv, "client port: TLS, client "
                                            "certificates required"));
}
END_TEST

START_TEST(wrong_ca_fails_with_a_verification_error)
{
    if (!have_certs) {
        return;
    }
    struct ms_tls_options t = good_tls;
    t.ca_file = e2e_tls_path("foreign-ca.pem");
    char why[512];
    int rc = try_put(&t, why, sizeof why);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(why, "certificate verify failed") != NULL, "%s", why);
    /* The same CA with verification off: the channel is still encrypted
     * and the server still checks the client's certificate. */
    t.insecure_skip_verify = true;
    rc = try_put(&t, why, sizeof why);
    ck_assert_msg(rc == 0, "%s", why);
}
END_TEST

START_TEST(no_client_certificate_is_refused)
{
    if (!have_certs) {
        return;
    }
    struct ms_tls_options t = {.ca_file = e2e_tls_path("ca.pem")};
    char why[512];
    int rc = try_put(&t, why, sizeof why);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(why, "certificate required") != NULL, "%s", why);
    ck_assert(log_gets("peer did not return a certificate"));
}
END_TEST

START_TEST(expired_client_certificate_is_refused)
{
    if (!have_certs) {
        return;
    }
    struct ms_tls_options t = good_tls;
    t.cert_file = e2e_tls_path("expired-client.pem");
    t.key_file = e2e_tls_path("expired-client-key.pem");
    char why[512];
    int rc = try_put(&t, why, sizeof why);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(why, "certificate expired") != NULL, "%s", why);
    ck_assert(log_gets("certificate has expired"));
}
END_TEST

START_TEST(client_certificate_from_a_foreign_ca_is_refused)
{
    if (!have_certs) {
        return;
    }
    struct ms_tls_options t = good_tls;
    t.cert_file = e2e_tls_path("foreign-client.pem");
    t.key_file = e2e_tls_path("foreign-client-key.pem");
    char why[512];
    int rc = try_put(&t, why, sizeof why);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(why, "unknown ca") != NULL, "%s", why);
    ck_assert(log_gets("unable to get local issuer certificate"));
}
END_TEST

START_TEST(plaintext_client_on_the_tls_port_is_refused)
{
    if (!have_certs) {
        return;
    }
    char why[512];
    int rc = try_put(NULL, why, sizeof why);
    ck_assert_int_ne(rc, 0);
    ck_assert(log_gets("wrong version number"));
}
END_TEST

START_TEST(garbage_and_silent_connections_leave_others_served)
{
    if (!have_certs) {
        return;
    }
    /* A connection that never says anything, held open throughout. */
    int silent = e2e_connect(srv.client_port);
    ck_assert_int_ge(silent, 0);
    /* Garbage: the server closes that connection. */
    int g = e2e_connect(srv.client_port);
    ck_assert_int_ge(g, 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char)(i * 131 + 7);
    }
    ck_assert_int_eq(write(g, junk, sizeof junk), (ssize_t)sizeof junk);
    char buf[256];
    ssize_t n;
    while ((n = read(g, buf, sizeof buf)) > 0) {
        /* an alert may come first; then the close */
    }
    ck_assert_msg(n == 0 || n < 0, "connection stayed open");
    close(g);
    /* A TLS ClientHello cut short, then garbage in place of the rest. */
    int h = e2e_connect(srv.client_port);
    ck_assert_int_ge(h, 0);
    const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
    ck_assert_int_eq(write(h, hello_start, sizeof hello_start),
                     (ssize_t)sizeof hello_start);
    ck_assert_int_eq(write(h, junk, 600), 600);
    while ((n = read(h, buf, sizeof buf)) > 0) {
    }
    close(h);
    /* Everyone else is served meanwhile, the silent one still open. */
    char why[512];
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(try_put(&good_tls, why, sizeof why) == 0, "%s", why);
    }
    ck_assert(log_gets("TLS handshake failed"));
    /* The silent one is closed once server.request_timeout (1 s here)
     * passes without a finished handshake (read waits up to 5 s). */
    uint64_t t0 = e2e_now_ms();
    n = read(silent, buf, sizeof buf);
    ck_assert_msg(n <= 0, "the silent connection got %zd bytes", n);
    ck_assert_msg(e2e_now_ms() - t0 < 4500, "the silent connection was not "
                                            "closed by the deadline");
    close(silent);
    ck_assert(log_gets("did not finish the TLS handshake within 1000 ms"));
}
END_TEST

START_TEST(cli_speaks_tls_with_etcdctl_flags)
{
    if (!have_certs) {
        return;
    }
    char cacert[400], cert[400], key[400], out[4096], err[4096];
    snprintf(cacert, sizeof cacert, "--cacert=%s", e2e_tls_path("ca.pem"));
    snprintf(cert, sizeof cert, "--cert=%s", e2e_tls_path("client.pem"));
    snprintf(key, sizeof key, "--key=%s", e2e_tls_path("client-key.pem"));
    const char *put[] = {cacert, cert, key, "put", "cli-key", "cli-val", NULL};
    int rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err, put);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(out, "OK\n");
    const char *get[] = {cacert, cert, key, "get", "cli-key", NULL};
    rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err, get);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(out, "cli-key\ncli-val\n");
    /* The wrong CA: exit 1 and a sentence saying why. */
    snprintf(cacert, sizeof cacert, "--cacert=%s",
             e2e_tls_path("foreign-ca.pem"));
    rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err, get);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "certificate verify failed") != NULL, "%s", err);
    /* A CA file that does not exist is named. */
    snprintf(cacert, sizeof cacert, "--cacert=%s", e2e_tls_path("nope.pem"));
    rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err, get);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "nope.pem: No such file") != NULL, "%s", err);
}
END_TEST

/* ---- start-up validation (no server from the fixture) ------------------ */

static void expect_start_failure(const char *const *extra, const char *needle)
{
    struct e2e_server s;
    e2e_server_init(&s);
    ck_assert_int_eq(e2e_server_start(&s, extra, 5000), -1);
    ck_assert_msg(e2e_server_log_contains(&s, needle), "log lacks \"%s\"",
                  needle);
    e2e_server_cleanup(&s);
}

START_TEST(bad_tls_files_stop_the_server_with_a_clear_error)
{
    if (!have_certs) {
        return;
    }
    const char *missing[] = {"--cert-file", e2e_tls_path("nope.pem"),
                             "--key-file", e2e_tls_path("server-key.pem"),
                             NULL};
    expect_start_failure(missing,
                         "tls.cert_file " /* then the path */);
    expect_start_failure(missing, "nope.pem: No such file or directory");
    const char *mismatch[] = {"--cert-file", e2e_tls_path("server.pem"),
                              "--key-file", e2e_tls_path("client-key.pem"),
                              NULL};
    expect_start_failure(mismatch, "does not match tls.cert_file");
    const char *not_pem[] = {"--cert-file", e2e_tls_path("server.pem"),
                             "--key-file", e2e_tls_path("server.pem"), NULL};
    expect_start_failure(not_pem, "not a PEM private key");
    const char *no_key[] = {"--cert-file", e2e_tls_path("server.pem"), NULL};
    expect_start_failure(no_key, "tls.key_file is not");
    const char *auth_no_ca[] = {"--cert-file", e2e_tls_path("server.pem"),
                                "--key-file", e2e_tls_path("server-key.pem"),
                                "--client-cert-auth", NULL};
    expect_start_failure(auth_no_ca, "needs tls.trusted_ca_file");
    const char *peer_no_ca[] = {"--peer-cert-file", e2e_tls_path("peer.pem"),
                                "--peer-key-file",
                                e2e_tls_path("peer-key.pem"), NULL};
    expect_start_failure(peer_no_ca, "peer TLS needs tls.peer_trusted_ca_file");
}
END_TEST

int main(void)
{
    have_certs = e2e_tls_certs(NULL) != NULL;
    Suite *s = suite_create("e2e_tls");
    TCase *tc = tcase_create("client_port");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, right_ca_and_client_certificate_read_and_write_large_values);
    tcase_add_test(tc, wrong_ca_fails_with_a_verification_error);
    tcase_add_test(tc, no_client_certificate_is_refused);
    tcase_add_test(tc, expired_client_certificate_is_refused);
    tcase_add_test(tc, client_certificate_from_a_foreign_ca_is_refused);
    tcase_add_test(tc, plaintext_client_on_the_tls_port_is_refused);
    tcase_add_test(tc, garbage_and_silent_connections_leave_others_served);
    tcase_add_test(tc, cli_speaks_tls_with_etcdctl_flags);
    suite_add_tcase(s, tc);
    TCase *st = tcase_create("start_up");
    tcase_set_timeout(st, 60);
    tcase_add_test(st, bad_tls_files_stop_the_server_with_a_clear_error);
    suite_add_tcase(s, st);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    e2e_tls_certs_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
