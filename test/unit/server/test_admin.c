/*
 * test_admin.c - the admin HTTP endpoint (server/admin.h) on a real libuv
 * loop: the server listens on an ephemeral 127.0.0.1 port with a fake
 * provider, and libuv clients in the same process send raw HTTP over real
 * sockets.  Also the daemon's provider (admin_glue.c) over a server that
 * has not started yet.
 *
 * No sleeps: every test runs the loop until a condition holds or a
 * deadline passes (a missed deadline fails the test).  Each test ends by
 * stopping the server, closing its clients and checking that the loop has
 * no handle left (uv_loop_close() == 0); ASan checks the memory.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin.h"
#include "server/http.h"
#include "server/log.h"
#include "server/server.h"
#include "server/status.h"

#define DEADLINE_MS 5000
#define RESP_CAP    (256u * 1024u)
#define MAX_RESP    8

/* ---- the fake provider -----------------------------------------------------
 */

struct fake {
    bool unhealthy;
    bool unready;
    char reason[128];
    const char *status; /* NULL: a small default document */
    int collects;
    int status_calls;
};

static void fake_collect(void *data, struct metrics *m)
{
    struct fake *f = data;
    static const char *const l[1] = {"kind"};
    struct metrics_family *c, *g;
    f->collects++;
    ck_assert_int_eq(metrics_declare(m, METRICS_COUNTER, "fake_scrapes_total",
                                     "Scrapes seen.", 0, NULL, 0, NULL, &c),
                     0);
    ck_assert_int_eq(metrics_set(c, NULL, f->collects), 0);
    ck_assert_int_eq(metrics_declare(m, METRICS_GAUGE, "fake_value", "A value.",
                                     1, l, 0, NULL, &g),
                     0);
    const char *lv[1] = {"a"};
    ck_assert_int_eq(metrics_set(g, lv, 42), 0);
}

static int fake_health(void *data, char *reason, size_t cap)
{
    struct fake *f = data;
    snprintf(reason, cap, "%s", f->reason);
    return f->unhealthy ? 1 : 0;
}

static int fake_ready(void *data, char *reason, size_t cap)
{
    struct fake *f = data;
    snprintf(reason, cap, "%s", f->reason);
    return f->unready ? 1 : 0;
}

static size_t fake_status(void *data, char *buf, size_t cap)
{
    struct fake *f = data;
    f->status_calls++;
    const char *doc =
        f->status != NULL ? f->status : "{\"member_id\":7,\"role\":\"leader\"}";
    return (size_t)snprintf(buf, cap, "%s", doc);
}

/* ---- loop, server, clients -------------------------------------------------
 */

static uv_loop_t loop;
static struct admin_server *srv;
static struct fake fake;
static int port;
static bool stopped;

static void on_stopped(void *arg)
{
    *(bool *)arg = true;
}

static bool timed_out;

static void on_deadline(uv_timer_t *t)
{
    (void)t;
    timed_out = true;
}

/* Runs the loop until cond(arg) holds; false when the deadline passed. */
static bool run_until(bool (*cond)(void *), void *arg)
{
    uv_timer_t deadline;
    timed_out = false;
    uv_timer_init(&loop, &deadline);
    uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);
    while (!cond(arg) && !timed_out) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return cond(arg);
}

static void start_server(const struct admin_options *opts)
{
    struct admin_provider p = {
        .data = &fake,
        .collect_metrics = fake_collect,
        .health = fake_health,
        .ready = fake_ready,
        .status_json = fake_status,
    };
    ck_assert_int_eq(admin_start(&loop, "127.0.0.1:0", &p, opts, &srv), 0);
    port = admin_port(srv);
    ck_assert_int_gt(port, 0);
}

static void setup(void)
{
    ms_log_configure(MS_LOG_WARN, MS_LOG_TEXT);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    memset(&fake, 0, sizeof fake);
    srv = NULL;
    stopped = false;
}

static bool is_true(void *arg)
{
    return *(bool *)arg;
}

struct resp {
    int status;
    char headers[1024];
    const char *body;
    size_t body_len;
};

struct client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    char req[4096];
    size_t req_len;
    bool connected;
    bool eof;
    bool closed;
    bool head_only;  /* responses carry no body (HEAD) */
    bool half_close; /* shut down the sending side after the request */
    uv_shutdown_t sreq;
    char *buf;
    size_t len, cap;
    struct resp r[MAX_RESP];
    size_t n_resp;
};

static void client_closed(uv_handle_t *h)
{
    struct client *c = h->data;
    c->closed = true;
}

static void client_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)sz;
    struct client *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - 1 - c->len));
}

/* Splits c->buf into complete responses. */
static void client_parse(struct client *c)
{
    c->buf[c->len] = '\0';
    size_t off = 0;
    c->n_resp = 0;
    while (c->n_resp < MAX_RESP && off < c->len) {
        const char *start = c->buf + off;
        const char *end = strstr(start, "\r\n\r\n");
        if (end == NULL) {
            return;
        }
        size_t hlen = (size_t)(end - start) + 4;
        const char *cl = strstr(start, "Content-Length: ");
        size_t body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
        if (c->head_only) {
            body = 0;
        }
        if (off + hlen + body > c->len) {
            return;
        }
        struct resp *r = &c->r[c->n_resp++];
        r->status = atoi(start + 9);
        snprintf(r->headers, sizeof r->headers, "%.*s", (int)hlen, start);
        r->body = start + hlen;
        r->body_len = body;
        off += hlen + body;
    }
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct client *c = s->data;
    if (n < 0) {
        c->eof = true;
        uv_read_stop(s);
        return;
    }
    c->len += (size_t)n;
    ck_assert_uint_lt(c->len, c->cap - 1);
    client_parse(c);
}

static void client_written(uv_write_t *w, int status)
{
    (void)w;
    (void)status;
}

static void client_send(struct client *c, const char *req)
{
    c->req_len = strlen(req);
    ck_assert_uint_lt(c->req_len, sizeof c->req);
    memcpy(c->req, req, c->req_len);
    uv_buf_t b = uv_buf_init(c->req, (unsigned)c->req_len);
    ck_assert_int_eq(
        uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, client_written), 0);
}

static void client_connected(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    ck_assert_int_eq(status, 0);
    c->connected = true;
    ck_assert_int_eq(
        uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read), 0);
    if (c->req_len > 0) {
        uv_buf_t b = uv_buf_init(c->req, (unsigned)c->req_len);
        ck_assert_int_eq(
            uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, client_written),
            0);
    }
    if (c->half_close) {
        ck_assert_int_eq(uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, NULL),
                         0);
    }
}

/* Connects a new client that can take `cap` bytes of responses; `req`
 * (may be NULL) is sent once connected. */
static struct client *client_open_cap(const char *req, size_t cap,
                                      bool half_close)
{
    struct client *c = calloc(1, sizeof *c);
    c->cap = cap;
    c->half_close = half_close;
    c->buf = malloc(cap);
    c->tcp.data = c;
    c->creq.data = c;
    if (req != NULL) {
        c->req_len = strlen(req);
        memcpy(c->req, req, c->req_len);
    }
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    ck_assert_int_eq(uv_tcp_init(&loop, &c->tcp), 0);
    ck_assert_int_eq(uv_tcp_connect(&c->creq, &c->tcp,
                                    (const struct sockaddr *)&sa,
                                    client_connected),
                     0);
    return c;
}

static struct client *client_open(const char *req)
{
    return client_open_cap(req, RESP_CAP, false);
}

static void client_close(struct client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, client_closed);
    }
    ck_assert(run_until(is_true, &c->closed));
    free(c->buf);
    free(c);
}

struct want {
    struct client *c;
    size_t n;
};

static bool has_responses(void *arg)
{
    struct want *w = arg;
    return w->c->n_resp >= w->n;
}

static bool has_eof(void *arg)
{
    return ((struct client *)arg)->eof;
}

static void wait_responses(struct client *c, size_t n)
{
    struct want w = {c, n};
    ck_assert_msg(run_until(has_responses, &w), "got %zu of %zu responses",
                  c->n_resp, n);
}

/* One request on a new connection, run until its response is in. */
static struct client *request(const char *req, bool head_only)
{
    struct client *c = client_open(req);
    c->head_only = head_only;
    wait_responses(c, 1);
    return c;
}

static void teardown(void)
{
    if (srv != NULL) {
        admin_stop(srv, on_stopped, &stopped);
        ck_assert(run_until(is_true, &stopped));
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}

static void body_eq(const struct resp *r, const char *want)
{
    ck_assert_uint_eq(r->body_len, strlen(want));
    ck_assert_mem_eq(r->body, want, r->body_len);
}

static bool has_header(const struct resp *r, const char *line)
{
    return strstr(r->headers, line) != NULL;
}

/* Every line of a Prometheus text exposition is a comment (# HELP name
 * text, # TYPE name type) or `name[{labels}] value`. */
static void check_exposition(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    ck_assert(len == 0 || copy[len - 1] == '\n');
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            ck_assert_msg(strncmp(line, "# HELP ", 7) == 0 ||
                              strncmp(line, "# TYPE ", 7) == 0,
                          "bad comment: %s", line);
            continue;
        }
        char *sp = strrchr(line, ' ');
        ck_assert_msg(sp != NULL && sp[1] != '\0', "no value: %s", line);
        char *end = NULL;
        double v = strtod(sp + 1, &end);
        (void)v;
        ck_assert_msg(*end == '\0', "bad value: %s", line);
        for (char *c = line; c < sp && *c != '{'; c++) {
            ck_assert_msg((*c >= 'a' && *c <= 'z') || *c == '_' || *c == ':' ||
                              (*c >= 'A' && *c <= 'Z') ||
                              (*c >= '0' && *c <= '9'),
                          "bad name: %s", line);
        }
        char *brace = strchr(line, '{');
        if (brace != NULL && brace < sp) {
            ck_assert_msg(sp[-1] == '}', "unclosed labels: %s", line);
        }
    }
    free(copy);
}

/* ---- endpoints
 * --------------------------------------------------------------- */

START_TEST(health_answers_200_ok_json)
{
    start_server(NULL);
    struct client *c =
        request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert(has_header(&c->r[0], "Content-Type: application/json\r\n"));
    ck_assert(has_header(&c->r[0], "Connection: keep-alive\r\n"));
    body_eq(&c->r[0], "{\"health\":\"ok\"}\n");
    client_close(c);
}
END_TEST

START_TEST(failing_health_answers_503_with_escaped_reason)
{
    start_server(NULL);
    fake.unhealthy = true;
    snprintf(fake.reason, sizeof fake.reason, "no \"leader\" known");
    struct client *c =
        request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 503);
    body_eq(
        &c->r[0],
        "{\"health\":\"failing\",\"reason\":\"no \\\"leader\\\" known\"}\n");
    client_close(c);
}
END_TEST

START_TEST(readyz_follows_the_provider)
{
    start_server(NULL);
    fake.unready = true;
    snprintf(fake.reason, sizeof fake.reason, "catching up: applied 3 of 9");
    struct client *c =
        request("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 503);
    body_eq(&c->r[0],
            "{\"ready\":false,\"reason\":\"catching up: applied 3 of 9\"}\n");
    client_close(c);
    fake.unready = false;
    c = request("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    body_eq(&c->r[0], "{\"ready\":true}\n");
    client_close(c);
}
END_TEST

START_TEST(status_returns_the_provider_document_of_any_size)
{
    start_server(NULL);
    struct client *c =
        request("GET /status HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    body_eq(&c->r[0], "{\"member_id\":7,\"role\":\"leader\"}\n");
    client_close(c);

    /* Larger than the first buffer the server tries: it asks again. */
    size_t n = 40000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    memcpy(big, "{\"pad\":\"", 8);
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    fake.status = big;
    fake.status_calls = 0;
    c = request("GET /status HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert_uint_eq(c->r[0].body_len, n + 1);
    ck_assert_mem_eq(c->r[0].body, big, n);
    ck_assert_int_eq(fake.status_calls, 2);
    client_close(c);
    free(big);
}
END_TEST

START_TEST(metrics_are_collected_on_every_scrape)
{
    start_server(NULL);
    struct client *c = client_open("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_responses(c, 2);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert(has_header(
        &c->r[0],
        "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    body_eq(&c->r[1], "# HELP fake_scrapes_total Scrapes seen.\n"
                      "# TYPE fake_scrapes_total counter\n"
                      "fake_scrapes_total 2\n"
                      "# HELP fake_value A value.\n"
                      "# TYPE fake_value gauge\n"
                      "fake_value{kind=\"a\"} 42\n");
    check_exposition(c->r[0].body, c->r[0].body_len);
    ck_assert_int_eq(fake.collects, 2);
    client_close(c);
}
END_TEST

START_TEST(unknown_path_is_404_and_other_methods_405)
{
    start_server(NULL);
    struct client *c = client_open(
        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
        "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_responses(c, 3);
    ck_assert_int_eq(c->r[0].status, 404);
    ck_assert(has_header(&c->r[0], "Content-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(c->r[0].body, "\"status\":404"));
    ck_assert_int_eq(c->r[1].status, 405);
    ck_assert(has_header(&c->r[1], "Allow: GET, HEAD\r\n"));
    ck_assert_int_eq(c->r[2].status, 405);
    ck_assert(!c->eof); /* all well-formed: the connection stays open */
    client_close(c);
}
END_TEST

START_TEST(head_gets_headers_without_body)
{
    start_server(NULL);
    struct client *c = client_open("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n");
    c->head_only = true;
    wait_responses(c, 2);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert(has_header(&c->r[0], "Content-Length: 16\r\n"));
    ck_assert_int_eq(c->r[1].status, 200);
    /* Nothing but the two heads arrived. */
    ck_assert_uint_eq(c->len,
                      strlen(c->r[0].headers) + strlen(c->r[1].headers));
    client_close(c);
}
END_TEST

START_TEST(pipelined_requests_are_answered_in_order_then_close_on_request)
{
    start_server(NULL);
    struct client *c = client_open("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_responses(c, 3);
    body_eq(&c->r[0], "{\"health\":\"ok\"}\n");
    body_eq(&c->r[1], "{\"ready\":true}\n");
    ck_assert_int_eq(c->r[2].status, 404);
    ck_assert_uint_eq(admin_connections(srv), 1);
    /* The same connection, now asking to close after the answer. */
    client_send(c,
                "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    wait_responses(c, 4);
    ck_assert(has_header(&c->r[3], "Connection: close\r\n"));
    ck_assert(run_until(has_eof, c));
    client_close(c);
}
END_TEST

START_TEST(half_closed_client_still_gets_its_answers)
{
    start_server(NULL);
    struct client *c =
        client_open_cap("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /status HTTP/1.1\r\nHost: x\r\n\r\n",
                        RESP_CAP, true);
    wait_responses(c, 2);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert_int_eq(c->r[1].status, 200);
    ck_assert(run_until(has_eof, c));
    client_close(c);
}
END_TEST

START_TEST(pipelined_output_over_the_high_water_mark_is_all_delivered)
{
    start_server(NULL);
    /* 8 answers of 700 KB: the server stops parsing past 4 MiB of
     * unwritten output and resumes when it drains. */
    size_t n = 700u * 1024u;
    char *big = malloc(n + 1);
    memset(big, 'y', n);
    memcpy(big, "{\"pad\":\"", 8);
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    fake.status = big;
    char req[1024] = "";
    for (int i = 0; i < MAX_RESP; i++) {
        strcat(req, "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    struct client *c = client_open_cap(req, MAX_RESP * (n + 512), false);
    wait_responses(c, MAX_RESP);
    for (int i = 0; i < MAX_RESP; i++) {
        ck_assert_int_eq(c->r[i].status, 200);
        ck_assert_uint_eq(c->r[i].body_len, n + 1);
    }
    ck_assert_int_eq(fake.status_calls, 2 * MAX_RESP); /* each one retried */
    client_close(c);
    free(big);
}
END_TEST

START_TEST(http10_request_is_answered_and_closed)
{
    start_server(NULL);
    struct client *c = request("GET /health HTTP/1.0\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    ck_assert(has_header(&c->r[0], "Connection: close\r\n"));
    ck_assert(run_until(has_eof, c));
    client_close(c);
}
END_TEST

START_TEST(malformed_request_gets_400_and_the_server_keeps_serving)
{
    start_server(NULL);
    struct client *c = request("GARBAGE\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 400);
    ck_assert(has_header(&c->r[0], "Connection: close\r\n"));
    ck_assert_ptr_nonnull(strstr(c->r[0].body, "malformed request line"));
    ck_assert(run_until(has_eof, c));
    client_close(c);

    c = request("GET /health HTTP/1.1\r\n\r\n", false); /* no Host */
    ck_assert_int_eq(c->r[0].status, 400);
    ck_assert(run_until(has_eof, c));
    client_close(c);

    c = request("POST /health HTTP/1.1\r\nHost: x\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                false);
    ck_assert_int_eq(c->r[0].status, 501);
    ck_assert(run_until(has_eof, c));
    client_close(c);

    /* A good request after a bad one on the same connection is never
     * read: the connection is closed after the 400. */
    c = client_open("GET /health HTTP/1.1\r\nHost x\r\n\r\n"
                    "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert(run_until(has_eof, c));
    ck_assert_uint_eq(c->n_resp, 1);
    ck_assert_int_eq(c->r[0].status, 400);
    client_close(c);

    c = request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    client_close(c);
}
END_TEST

START_TEST(body_over_the_limit_gets_413)
{
    struct admin_options o;
    admin_options_default(&o);
    o.max_body = 4;
    start_server(&o);
    struct client *c = request("POST /health HTTP/1.1\r\nHost: x\r\n"
                               "Content-Length: 5\r\n\r\nhello",
                               false);
    ck_assert_int_eq(c->r[0].status, 413);
    client_close(c);
}
END_TEST

static bool n_conns_is(void *arg)
{
    return admin_connections(srv) == *(uint32_t *)arg;
}

START_TEST(connections_over_the_limit_get_503)
{
    struct admin_options o;
    admin_options_default(&o);
    o.max_connections = 2;
    start_server(&o);
    struct client *a = client_open(NULL);
    struct client *b = client_open(NULL);
    uint32_t two = 2, one = 1;
    ck_assert(run_until(n_conns_is, &two));
    struct client *c =
        request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 503);
    ck_assert(run_until(has_eof, c));
    client_close(c);
    client_close(a);
    ck_assert(run_until(n_conns_is, &one));
    c = request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_int_eq(c->r[0].status, 200);
    client_close(c);
    client_close(b);
}
END_TEST

START_TEST(idle_connection_is_closed_by_the_server)
{
    struct admin_options o;
    admin_options_default(&o);
    o.idle_timeout_ms = 20;
    start_server(&o);
    struct client *c = client_open("GET /hea"); /* never completed */
    ck_assert(run_until(has_eof, c));
    ck_assert_uint_eq(c->n_resp, 0);
    client_close(c);
}
END_TEST

START_TEST(stop_closes_open_connections)
{
    start_server(NULL);
    struct client *c =
        request("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false);
    ck_assert_uint_eq(admin_connections(srv), 1);
    admin_stop(srv, on_stopped, &stopped);
    srv = NULL;
    ck_assert(run_until(is_true, &stopped));
    ck_assert(run_until(has_eof, c));
    client_close(c);
}
END_TEST

START_TEST(bad_listen_addresses_are_refused)
{
    struct admin_provider p = {.data = &fake};
    struct admin_server *a = NULL;
    ck_assert_int_eq(admin_start(&loop, "nonsense", &p, NULL, &a), UV_EINVAL);
    ck_assert_int_eq(admin_start(&loop, "127.0.0.1", &p, NULL, &a), UV_EINVAL);
    ck_assert_int_eq(admin_start(&loop, "127.0.0.1:99999", &p, NULL, &a),
                     UV_EINVAL);
    ck_assert_int_eq(admin_start(&loop, "[::1:80", &p, NULL, &a), UV_EINVAL);
    ck_assert_int_eq(admin_start(&loop, "host.example:80", &p, NULL, &a),
                     UV_EINVAL);
    ck_assert_ptr_null(a);
}
END_TEST

START_TEST(listening_on_a_taken_port_fails_cleanly)
{
    start_server(NULL);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    struct admin_provider p = {.data = &fake};
    struct admin_server *a = NULL;
    ck_assert_int_eq(admin_start(&loop, addr, &p, NULL, &a), UV_EADDRINUSE);
    ck_assert_ptr_null(a);
}
END_TEST

/* ---- the daemon's provider on a server that has not started ----------------
 */

START_TEST(glue_reports_a_starting_node_and_exports_every_metric)
{
    struct srv *s = calloc(1, sizeof *s);
    srv_config_defaults(&s->cfg);
    struct admin_glue g;
    admin_glue_init(&g, s, 0);
    ck_assert_uint_eq(g.max_apply_lag, 1000);
    struct admin_provider p = admin_glue_provider(&g);
    char reason[128];
    ck_assert_int_ne(p.health(p.data, reason, sizeof reason), 0);
    ck_assert_str_eq(reason, "starting: storage not recovered yet");
    ck_assert_int_ne(p.ready(p.data, reason, sizeof reason), 0);
    ck_assert_str_eq(reason, "storage not recovered yet");
    s->failed = true;
    ck_assert_int_ne(p.health(p.data, reason, sizeof reason), 0);
    ck_assert_str_eq(reason, "storage failure: the node refuses requests");
    s->failed = false;

    char doc[4096];
    size_t n = p.status_json(p.data, doc, sizeof doc);
    ck_assert_uint_lt(n, sizeof doc);
    ck_assert_ptr_nonnull(strstr(doc, "\"member_id\":1,\"name\":\"node1\""));
    ck_assert_ptr_nonnull(strstr(doc, "\"role\":\"starting\""));
    ck_assert_ptr_nonnull(strstr(doc, "\"members\":[]"));
    ck_assert_ptr_nonnull(strstr(doc, "\"peers\":[]"));
    ck_assert_int_eq(doc[n - 1], '}');
    /* Too small a buffer: the length needed comes back. */
    char tiny[8];
    ck_assert_uint_eq(p.status_json(p.data, tiny, sizeof tiny), n);

    srv_stats_request_done(&s->stats, SRV_METHOD_PUT, SRV_STATUS_OK, 300000);
    srv_stats_request_done(&s->stats, SRV_METHOD_PUT, SRV_STATUS_OK, 2000000);
    srv_stats_request_done(&s->stats, 999, 12345, 1);
    srv_hist_record_count(&s->stats.sync_entries, 3);
    s->stats.reads[SRV_PATH_FAST] = 5;

    struct metrics *m;
    ck_assert_int_eq(metrics_create(&m), 0);
    p.collect_metrics(p.data, m);
    p.collect_metrics(p.data, m); /* idempotent */
    char *text;
    size_t len;
    ck_assert_int_eq(metrics_render(m, &text, &len), 0);
    check_exposition(text, len);
    static const char *const names[] = {"metastore_requests_total",
                                        "metastore_request_duration_seconds",
                                        "metastore_read_path_total",
                                        "metastore_raft_term",
                                        "metastore_raft_commit_index",
                                        "metastore_raft_applied_index",
                                        "metastore_raft_leader_changes_total",
                                        "metastore_raft_is_leader",
                                        "metastore_proposals_pending",
                                        "metastore_lease_valid",
                                        "metastore_lease_remaining_seconds",
                                        "metastore_lease_renewals_total",
                                        "metastore_readindex_rounds_total",
                                        "metastore_log_sync_duration_seconds",
                                        "metastore_log_sync_batch_entries",
                                        "metastore_snapshots_total",
                                        "metastore_snapshot_duration_seconds",
                                        "metastore_client_connections",
                                        "metastore_bytes_received_total",
                                        "metastore_bytes_sent_total",
                                        "metastore_engine_bytes",
                                        "metastore_engine_keys",
                                        "metastore_peer_connected"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char want[128];
        snprintf(want, sizeof want, "# TYPE %s ", names[i]);
        ck_assert_msg(strstr(text, want) != NULL, "missing %s", names[i]);
    }
    ck_assert_ptr_nonnull(strstr(
        text, "metastore_requests_total{method=\"PUT\",status=\"OK\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        text,
        "metastore_requests_total{method=\"UNKNOWN\",status=\"UNKNOWN\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "metastore_request_duration_seconds_bucket{"
                                 "method=\"PUT\",le=\"0.0005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text,
                                 "metastore_request_duration_seconds_bucket{"
                                 "method=\"PUT\",le=\"0.0025\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "metastore_request_duration_seconds_sum{method=\"PUT\"} "
                     "0.0023\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "metastore_log_sync_batch_entries_bucket{le=\"2\"} 0\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "metastore_log_sync_batch_entries_bucket{le=\"4\"} 1\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "metastore_read_path_total{path=\"fast\"} 5\n"));
    ck_assert_ptr_nonnull(strstr(text, "metastore_raft_is_leader 0\n"));
    free(text);
    metrics_destroy(m);
    free(s);
}
END_TEST

static Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, health_answers_200_ok_json);
    tcase_add_test(tc, failing_health_answers_503_with_escaped_reason);
    tcase_add_test(tc, readyz_follows_the_provider);
    tcase_add_test(tc, status_returns_the_provider_document_of_any_size);
    tcase_add_test(tc, metrics_are_collected_on_every_scrape);
    tcase_add_test(tc, unknown_path_is_404_and_other_methods_405);
    tcase_add_test(tc, head_gets_headers_without_body);
    tcase_add_test(
        tc, pipelined_requests_are_answered_in_order_then_close_on_request);
    tcase_add_test(tc, half_closed_client_still_gets_its_answers);
    tcase_add_test(tc,
                   pipelined_output_over_the_high_water_mark_is_all_delivered);
    tcase_add_test(tc, http10_request_is_answered_and_closed);
    tcase_add_test(tc, malformed_request_gets_400_and_the_server_keeps_serving);
    tcase_add_test(tc, body_over_the_limit_gets_413);
    tcase_add_test(tc, connections_over_the_limit_get_503);
    tcase_add_test(tc, idle_connection_is_closed_by_the_server);
    tcase_add_test(tc, stop_closes_open_connections);
    tcase_add_test(tc, bad_listen_addresses_are_refused);
    tcase_add_test(tc, listening_on_a_taken_port_fails_cleanly);
    suite_add_tcase(s, tc);
    TCase *glue = tcase_create("glue");
    tcase_add_test(glue, glue_reports_a_starting_node_and_exports_every_metric);
    suite_add_tcase(s, glue);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(admin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
