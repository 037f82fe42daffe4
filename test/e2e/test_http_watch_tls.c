/*
 * test_http_watch_tls.c - the streamed POST /v3/watch and TLS on the HTTP
 * port, against a real metastored (docs/http-api.md "Watch" and "TLS").
 *
 * Watch: `curl -N` receives the created line, then one JSON line per
 * event, in revision order, as the writes happen; killing curl releases
 * the watcher (the metastore_watchers gauge on /metrics falls back to 0).
 * A client that stops reading is canceled as slow by the same rules as a
 * binary-protocol stream (server.watch_backlog_bytes,
 * server.watch_slow_timeout) and the server keeps serving.
 *
 * TLS: with tls.http_* files and client certificates required, curl with
 * the right CA and certificate works; the wrong CA, no client certificate,
 * a certificate from a foreign CA, plain HTTP and garbage bytes are each
 * refused (and logged with the reason) while the server keeps serving; a
 * watch streams over TLS too.  With the tls.http_* keys empty the HTTP
 * port uses the client port's certificate.
 *
 * Certificates come from scripts/gen-test-certs.sh; without the openssl
 * command the TLS tests are skipped, loudly.  Each test ends by stopping
 * the server with SIGTERM and requiring exit status 0 (under
 * AddressSanitizer a leak makes that fail).
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/scrape.h"

static struct e2e_server srv;
static uint16_t http_port;
static bool have_certs;

static void start_with(const char *const *more)
{
    e2e_server_init(&srv);
    do {
        http_port = e2e_free_port();
    } while (http_port == srv.client_port || http_port == srv.peer_port ||
             http_port == srv.admin_port);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", http_port);
    const char *extra[40] = {"--http-listen", addr};
    for (int i = 0; more != NULL && more[i] != NULL && i < 36; i++) {
        extra[2 + i] = more[i];
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
    e2e_client_tls = NULL;
    ck_assert_msg(ok, "metastored did not exit cleanly (status %d)", st);
}

/* Runs cmd through sh: its exit status; stdout (and stderr) into out. */
static int sh(const char *cmd, char *out, size_t cap)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The value of a metric without labels on /metrics, or -1. */
static long metric(const char *name)
{
    return (long)e2e_metric(srv.admin_port, name);
}

/* Waits (deadline timeout_ms) until metric `name` equals want. */
static void wait_metric(const char *name, long want, int timeout_ms)
{
    uint64_t end = e2e_now_ms() + (uint64_t)timeout_ms;
    long v;
    while ((v = metric(name)) != want && e2e_now_ms() < end) {
        usleep(20000);
    }
    ck_assert_msg(v == want, "%s is %ld, expected %ld", name, v, want);
}

/* ---- a curl child whose output is read line by line ----------------------- */

struct child {
    pid_t pid;
    int fd;
    char buf[1 << 16];
    size_t len;
};

static void child_start(struct child *ch, const char *const *argv)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ch->pid = fork();
    ck_assert_int_ge(ch->pid, 0);
    if (ch->pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    ch->fd = p[0];
    ch->len = 0;
}

/* The next line of its output (malloc'd, without the newline), or NULL
 * when none came within timeout_ms or the output ended. */
static char *child_line(struct child *ch, int timeout_ms)
{
    uint64_t end = e2e_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        char *nl = memchr(ch->buf, '\n', ch->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - ch->buf);
            char *line = strndup(ch->buf, n);
            memmove(ch->buf, nl + 1, ch->len - n - 1);
            ch->len -= n + 1;
            return line;
        }
        uint64_t now = e2e_now_ms();
        if (now >= end || ch->len == sizeof ch->buf) {
            return NULL;
        }
        struct pollfd pf = {.fd = ch->fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(end - now)) <= 0) {
            return NULL;
        }
        ssize_t r = read(ch->fd, ch->buf + ch->len, sizeof ch->buf - ch->len);
        if (r <= 0) {
            return NULL;
        }
        ch->len += (size_t)r;
    }
}

static void child_stop(struct child *ch)
{
    kill(ch->pid, SIGTERM);
    int st;
    waitpid(ch->pid, &st, 0);
    close(ch->fd);
}

/* curl -s -X POST <url> -d <json> (plus tls_args); its output in out. */
static int post(const char *scheme, const char *tls_args, const char *path,
                const char *json, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "curl -s -S %s -X POST %s://127.0.0.1:%u%s -d '%s'", tls_args,
             scheme, http_port, path, json);
    return sh(cmd, out, cap);
}

/* Starts curl -N on /v3/watch with body; waits for the created line. */
static void watch_start(struct child *ch, const char *scheme,
                        const char *const *tls_argv, const char *body)
{
    static char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%u/v3/watch", scheme,
             http_port);
    const char *argv[24] = {"curl", "-s", "-N", "-X", "POST", url, "-d", body};
    int n = 8;
    for (int i = 0; tls_argv != NULL && tls_argv[i] != NULL; i++) {
        argv[n++] = tls_argv[i];
    }
    child_start(ch, argv);
    char *line = child_line(ch, 5000);
    ck_assert_msg(line != NULL, "no created line from the watch");
    ck_assert_msg(strstr(line, "\"created\":true") != NULL &&
                      strncmp(line, "{\"result\":{\"header\":", 20) == 0,
                  "first line %s", line);
    free(line);
}

/* ---- watch ---------------------------------------------------------------- */

START_TEST(watch_streams_events_in_order_and_curl_exit_releases_it)
{
    start_with(NULL);
    ck_assert_int_eq(metric("metastore_watchers"), 0);
    struct child ch;
    /* key "w" (dw==), prefix: "w" to "x" (eA==) */
    watch_start(&ch, "http", NULL,
                "{\"create_request\": {\"key\": \"dw==\", \"range_end\": "
                "\"eA==\", \"prev_kv\": true}}");
    wait_metric("metastore_watchers", 1, 5000);
    char out[4096];
    for (int i = 0; i < 10; i++) {
        char body[128];
        /* "w1" is dzE=; values "0".."9" are MA== .. OQ== */
        static const char *const vals[] = {"MA==", "MQ==", "Mg==", "Mw==",
                                           "NA==", "NQ==", "Ng==", "Nw==",
                                           "OA==", "OQ=="};
        snprintf(body, sizeof body, "{\"key\": \"dzE=\", \"value\": \"%s\"}",
                 vals[i]);
        ck_assert_int_eq(post("http", "", "/v3/kv/put", body, out, sizeof out),
                         0);
    }
    /* A key outside the range, then a delete inside it. */
    ck_assert_int_eq(post("http", "", "/v3/kv/put",
                          "{\"key\": \"eQ==\", \"value\": \"eA==\"}", out,
                          sizeof out),
                     0);
    ck_assert_int_eq(
        post("http", "", "/v3/kv/deleterange", "{\"key\": \"dzE=\"}", out,
             sizeof out),
        0);
    int events = 0;
    long last_rev = 0;
    while (events < 11) {
        char *line = child_line(&ch, 5000);
        ck_assert_msg(line != NULL, "only %d events arrived", events);
        ck_assert_msg(strncmp(line, "{\"result\":", 10) == 0, "line %s", line);
        for (char *p = strstr(line, "\"mod_revision\":\""); p != NULL;
             p = strstr(p + 1, "\"mod_revision\":\"")) {
            /* kv first, then prev_kv (older): check the event's own. */
            if (p > strstr(line, "\"kv\":") &&
                (strstr(line, "\"prev_kv\"") == NULL ||
                 p < strstr(line, "\"prev_kv\""))) {
                long rev = strtol(p + 16, NULL, 10);
                ck_assert_msg(rev > last_rev, "revision %ld after %ld", rev,
                              last_rev);
                last_rev = rev;
            }
        }
        if (events < 10) {
            static const char *const vals[] = {"MA==", "MQ==", "Mg==", "Mw==",
                                               "NA==", "NQ==", "Ng==", "Nw==",
                                               "OA==", "OQ=="};
            char want[64];
            snprintf(want, sizeof want, "\"value\":\"%s\"}", vals[events]);
            ck_assert_msg(strstr(line, want) != NULL &&
                              strstr(line, "\"type\"") == NULL,
                          "event %d: %s", events, line);
        } else {
            ck_assert_msg(strstr(line, "\"type\":\"DELETE\"") != NULL &&
                              strstr(line, "\"prev_kv\":{\"key\":\"dzE=\"") !=
                                  NULL,
                          "last event: %s", line);
        }
        ck_assert_msg(strstr(line, "eQ==") == NULL, "foreign key: %s", line);
        free(line);
        events++;
    }
    child_stop(&ch);
    wait_metric("metastore_watchers", 0, 5000);
    /* The server goes on serving. */
    ck_assert_int_eq(post("http", "", "/v3/kv/range", "{\"key\": \"eQ==\"}",
                          out, sizeof out),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\"count\":\"1\""));
    stop_clean();
}
END_TEST

/* A raw connection with a tiny receive buffer that sends a watch and
 * reads its head, then stops reading. */
static int slow_watch_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(http_port),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char body[] = "{\"create_request\": {\"key\": \"cw==\"}}";
    char req[256];
    int n = snprintf(req, sizeof req,
                     "POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     "%zu\r\n\r\n%s",
                     sizeof body - 1, body);
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    char buf[2048];
    size_t got = 0;
    uint64_t end = e2e_now_ms() + 5000;
    while (got < sizeof buf - 1 && e2e_now_ms() < end) {
        ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
        buf[got] = '\0';
        if (strstr(buf, "\"created\":true") != NULL) {
            break;
        }
    }
    ck_assert_msg(strstr(buf, "HTTP/1.1 200 OK\r\n") == buf &&
                      strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL &&
                      strstr(buf, "\"created\":true") != NULL,
                  "watch head: %s", buf);
    return fd;
}

START_TEST(a_watch_client_that_stops_reading_is_canceled_as_slow)
{
    const char *const more[] = {"--set", "server.watch_backlog_bytes=4096",
                                "--set", "server.watch_slow_timeout=1s",
                                NULL};
    start_with(more);
    int fd = slow_watch_open();
    wait_metric("metastore_watchers", 1, 5000);
    /* Far more than the socket buffers hold: 40 values of 512 KiB. */
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 2000,
                                  .command_timeout_ms = 10000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    size_t vlen = 512u * 1024u;
    char *v = malloc(vlen);
    memset(v, 'x', vlen);
    for (int i = 0; i < 40; i++) {
        struct ms_result *r = NULL;
        ck_assert_int_eq(ms_put(c, "s", 1, v, vlen, 0, false, &r), 0);
        ms_result_free(r);
    }
    free(v);
    ms_client_close(c);
    wait_metric("metastore_watch_slow_canceled_total", 1, 10000);
    wait_metric("metastore_watchers", 0, 5000);
    char out[4096];
    ck_assert_int_eq(post("http", "", "/v3/kv/range",
                          "{\"key\": \"cw==\", \"count_only\": true}", out,
                          sizeof out),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "\"count\":\"1\""));
    ck_assert(e2e_server_log_contains(&srv, "canceling its 1 watcher(s) as "
                                            "slow"));
    close(fd);
    stop_clean();
}
END_TEST

/* ---- TLS ------------------------------------------------------------------- */

static char good[512];

static void start_tls(void)
{
    const char *const more[] = {"--http-cert-file",
                                e2e_tls_path("server.pem"),
                                "--http-key-file",
                                e2e_tls_path("server-key.pem"),
                                "--http-trusted-ca-file",
                                e2e_tls_path("ca.pem"),
                                "--http-client-cert-auth",
                                "--set",
                                "server.request_timeout=1s",
                                NULL};
    start_with(more);
    snprintf(good, sizeof good, "--cacert %s --cert %s --key %s",
             e2e_tls_path("ca.pem"), e2e_tls_path("client.pem"),
             e2e_tls_path("client-key.pem"));
}

/* A put with the right CA and certificate works (the server serves). */
static void good_put(void)
{
    char out[4096];
    ck_assert_int_eq(post("https", good, "/v3/kv/put",
                          "{\"key\": \"dA==\", \"value\": \"dg==\"}", out,
                          sizeof out),
                     0);
    ck_assert_msg(strncmp(out, "{\"header\":", 10) == 0, "put: %s", out);
}

START_TEST(tls_http_port_takes_the_right_ca_and_refuses_the_rest)
{
    if (!have_certs) {
        return;
    }
    start_tls();
    good_put();
    char out[4096], args[1024];
    /* The wrong CA: curl refuses the server (exit 60). */
    snprintf(args, sizeof args, "--cacert %s --cert %s --key %s",
             e2e_tls_path("foreign-ca.pem"), e2e_tls_path("client.pem"),
             e2e_tls_path("client-key.pem"));
    ck_assert_int_eq(post("https", args, "/v3/kv/range", "{\"key\": \"dA==\"}",
                          out, sizeof out),
                     60);
    good_put();
    /* No client certificate. */
    snprintf(args, sizeof args, "--cacert %s", e2e_tls_path("ca.pem"));
    ck_assert_int_ne(post("https", args, "/v3/kv/range",
                          "{\"key\": \"dA==\"}", out, sizeof out),
                     0);
    ck_assert(e2e_server_log_contains(&srv, "peer did not return a "
                                            "certificate"));
    good_put();
    /* A certificate from a CA the port does not trust. */
    snprintf(args, sizeof args, "--cacert %s --cert %s --key %s",
             e2e_tls_path("ca.pem"), e2e_tls_path("foreign-client.pem"),
             e2e_tls_path("foreign-client-key.pem"));
    ck_assert_int_ne(post("https", args, "/v3/kv/range",
                          "{\"key\": \"dA==\"}", out, sizeof out),
                     0);
    ck_assert(e2e_server_log_contains(&srv, "certificate verify failed"));
    good_put();
    /* Plain HTTP on the TLS port. */
    ck_assert_int_ne(post("http", "", "/v3/kv/range", "{\"key\": \"dA==\"}",
                          out, sizeof out),
                     0);
    ck_assert(e2e_server_log_contains(&srv, "TLS handshake failed: http "
                                            "request"));
    good_put();
    /* Garbage: the server closes that connection, nobody else notices. */
    int fd = e2e_connect(http_port);
    ck_assert_int_ge(fd, 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char)('!' + (i * 7) % 90);
    }
    ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    char buf[256];
    ssize_t r;
    do {
        r = read(fd, buf, sizeof buf); /* an alert at most, then EOF */
    } while (r > 0);
    ck_assert_msg(r == 0 || errno == ECONNRESET, "read: %s", strerror(errno));
    close(fd);
    good_put();
    stop_clean();
}
END_TEST

START_TEST(a_watch_streams_over_tls)
{
    if (!have_certs) {
        return;
    }
    start_tls();
    const char *const tls_argv[] = {"--cacert",
                                    e2e_tls_path("ca.pem"),
                                    "--cert",
                                    e2e_tls_path("client.pem"),
                                    "--key",
                                    e2e_tls_path("client-key.pem"),
                                    NULL};
    struct child ch;
    watch_start(&ch, "https", tls_argv,
                "{\"create_request\": {\"key\": \"dA==\"}}");
    good_put();
    char *line = child_line(&ch, 5000);
    ck_assert_msg(line != NULL && strstr(line, "\"value\":\"dg==\"") != NULL,
                  "event: %s", line != NULL ? line : "(none)");
    free(line);
    child_stop(&ch);
    wait_metric("metastore_watchers", 0, 5000);
    stop_clean();
}
END_TEST

START_TEST(empty_http_tls_keys_reuse_the_client_ports_certificate)
{
    if (!have_certs) {
        return;
    }
    static struct ms_tls_options client_tls;
    client_tls.ca_file = e2e_tls_path("ca.pem");
    e2e_client_tls = &client_tls;
    const char *const more[] = {"--cert-file", e2e_tls_path("server.pem"),
                                "--key-file", e2e_tls_path("server-key.pem"),
                                NULL};
    start_with(more);
    char out[4096], args[512];
    snprintf(args, sizeof args, "--cacert %s", e2e_tls_path("ca.pem"));
    ck_assert_int_eq(post("https", args, "/v3/kv/put",
                          "{\"key\": \"dA==\", \"value\": \"dg==\"}", out,
                          sizeof out),
                     0);
    ck_assert_msg(strncmp(out, "{\"header\":", 10) == 0, "put: %s", out);
    ck_assert_int_ne(post("http", "", "/v3/kv/range", "{\"key\": \"dA==\"}",
                          out, sizeof out),
                     0);
    ck_assert(e2e_server_log_contains(&srv, "TLS (the client port's)"));
    stop_clean();
}
END_TEST

START_TEST(bad_http_tls_files_stop_the_server_at_start_up)
{
    if (!have_certs) {
        return;
    }
    e2e_server_init(&srv);
    char out[4096], cmd[2048];
    /* The key of another certificate. */
    snprintf(cmd, sizeof cmd,
             "%s --data-dir %s --listen-client 127.0.0.1:%u --listen-peer "
             "127.0.0.1:%u --listen-admin 127.0.0.1:%u --http-listen "
             "127.0.0.1:%u --http-cert-file %s --http-key-file %s",
             e2e_bin("metastored"), srv.dir, srv.client_port, srv.peer_port,
             srv.admin_port, e2e_free_port(), e2e_tls_path("server.pem"),
             e2e_tls_path("client-key.pem"));
    ck_assert_int_ne(sh(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "tls.http_key_file") != NULL &&
                      strstr(out, "does not match") != NULL,
                  "output: %s", out);
    /* client_cert_auth without a CA. */
    snprintf(cmd, sizeof cmd,
             "%s --data-dir %s --listen-client 127.0.0.1:%u --listen-peer "
             "127.0.0.1:%u --listen-admin 127.0.0.1:%u --http-listen "
             "127.0.0.1:%u --http-cert-file %s --http-key-file %s "
             "--http-client-cert-auth",
             e2e_bin("metastored"), srv.dir, srv.client_port, srv.peer_port,
             srv.admin_port, e2e_free_port(), e2e_tls_path("server.pem"),
             e2e_tls_path("server-key.pem"));
    ck_assert_int_ne(sh(cmd, out, sizeof out), 0);
    ck_assert_msg(strstr(out, "tls.http_client_cert_auth") != NULL &&
                      strstr(out, "tls.http_trusted_ca_file") != NULL,
                  "output: %s", out);
    e2e_server_cleanup(&srv);
}
END_TEST

static Suite *http_watch_tls_suite(void)
{
    Suite *s = suite_create("http_watch_tls");
    TCase *tc = tcase_create("watch");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, watch_streams_events_in_order_and_curl_exit_releases_it);
    tcase_add_test(tc, a_watch_client_that_stops_reading_is_canceled_as_slow);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("tls");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, tls_http_port_takes_the_right_ca_and_refuses_the_rest);
    tcase_add_test(tt, a_watch_streams_over_tls);
    tcase_add_test(tt, empty_http_tls_keys_reuse_the_client_ports_certificate);
    tcase_add_test(tt, bad_http_tls_files_stop_the_server_at_start_up);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    have_certs = e2e_tls_certs(NULL) != NULL;
    SRunner *sr = srunner_create(http_watch_tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    e2e_tls_certs_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
