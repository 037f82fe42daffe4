/*
 * admin.c - the admin HTTP server of metastored (see server/admin.h).
 *
 * Happy path: accept, feed what the socket gives to the connection's HTTP
 * parser (server/http.h); each complete request is answered at once from
 * the provider into the connection's output buffer; the buffer is written
 * with one uv_write at a time (responses gathered meanwhile go out in the
 * next one), which keeps pipelined responses in order.
 *
 * Failure modes: a malformed request gets its 4xx/5xx JSON answer, then
 * the connection is shut down and closed (its framing can no longer be
 * trusted); a read or write error closes the connection; a connection over
 * max_connections gets 503 and is closed; a connection that has not
 * completed a request within idle_timeout_ms is closed.  When more than
 * OUT_HIGH_WATER bytes of responses are waiting, the connection stops
 * reading and parks the unparsed bytes until the output drains.  Other
 * connections never notice any of this.
 *
 * Lifetime: a connection owns two handles (socket and idle timer) and is
 * freed when both have closed.  The server is freed after admin_stop() once
 * its listener and every connection are closed.
 */
#include "server/admin.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"
#include "server/log.h"

#define READ_BUF_BYTES   (16u * 1024u)
#define OUT_HIGH_WATER   (4u * 1024u * 1024u)
#define STATUS_FIRST_CAP (16u * 1024u)
#define STATUS_MAX_CAP   (4u * 1024u * 1024u)
#define REASON_CAP       256

struct admin_conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct admin_server *a;
    struct admin_conn *next, *prev;
    int handles; /* open handles: freed at 0 */
    bool closing;
    bool rejected;  /* over the connection limit: only a 503 is written */
    bool finishing; /* answer queued, then shut down and close */
    bool reading;
    bool writing;
    struct http_parser p;
    char *out; /* responses gathered */
    size_t out_len, out_cap;
    char *wbuf; /* responses being written */
    size_t wbuf_len, wbuf_cap;
    uint8_t *parked; /* unparsed bytes held back by backpressure */
    size_t parked_len;
};

struct admin_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct admin_provider prov;
    struct admin_options opts;
    struct metrics *metrics;
    struct admin_conn *conns;
    uint32_t n_conns; /* accepted within the limit */
    int port;
    bool stopping;
    int live; /* listener + connections not yet freed */
    void (*done)(void *);
    void *done_arg;
    char rbuf[READ_BUF_BYTES];
};

/* ---- JSON writer ------------------------------------------------------------
 */

void admin_json_init(struct admin_json *j, char *buf, size_t cap)
{
    j->buf = buf;
    j->cap = cap;
    j->len = 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
}

static void json_vraw(struct admin_json *j, const char *fmt, va_list ap)
{
    size_t room = j->len < j->cap ? j->cap - j->len : 0;
    int n = vsnprintf(room > 0 ? j->buf + j->len : NULL, room, fmt, ap);
    if (n > 0) {
        j->len += (size_t)n;
    }
}

void admin_json_raw(struct admin_json *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_vraw(j, fmt, ap);
    va_end(ap);
}

void admin_json_str(struct admin_json *j, const char *s)
{
    admin_json_raw(j, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            admin_json_raw(j, "\\%c", *c);
        } else if (*c < 0x20) {
            admin_json_raw(j, "\\u%04x", *c);
        } else {
            admin_json_raw(j, "%c", *c);
        }
    }
    admin_json_raw(j, "\"");
}

/* ---- options and addresses --------------------------------------------------
 */

void admin_options_default(struct admin_options *o)
{
    o->max_connections = 64;
    o->idle_timeout_ms = 30000;
    o->max_body = 64u * 1024u;
}

/* "1.2.3.4:80" or "[::1]:80" -> sockaddr. */
static int parse_addr(const char *s, struct sockaddr_storage *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0') {
        return UV_EINVAL;
    }
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') {
            return UV_EINVAL;
        }
        h++;
        hlen -= 2;
    }
    if (hlen >= sizeof host) {
        return UV_EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535 || colon[1] < '0' || colon[1] > '9') {
        return UV_EINVAL;
    }
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)out) == 0) {
        return 0;
    }
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)out) == 0) {
        return 0;
    }
    return UV_EINVAL;
}

/* ---- lifetime
 * ---------------------------------------------------------------- */

static void server_unref(struct admin_server *a)
{
    if (--a->live > 0) {
        return;
    }
    void (*done)(void *) = a->done;
    void *arg = a->done_arg;
    metrics_destroy(a->metrics);
    free(a);
    if (done != NULL) {
        done(arg);
    }
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct admin_conn *c = h->data;
    if (--c->handles > 0) {
        return;
    }
    struct admin_server *a = c->a;
    http_parser_close(&c->p);
    free(c->out);
    free(c->wbuf);
    free(c->parked);
    free(c);
    server_unref(a);
}

static void conn_close(struct admin_conn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    struct admin_server *a = c->a;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        a->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (!c->rejected) {
        a->n_conns--;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

/* ---- output
 * ------------------------------------------------------------------ */

static bool out_put(struct admin_conn *c, const void *data, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        while (cap < c->out_len + n) {
            cap *= 2;
        }
        char *p = realloc(c->out, cap);
        if (p == NULL) {
            return false;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    return true;
}

/* Queues one response.  keep_alive false: the connection finishes after
 * it.  head_only: headers as for GET, no body (HEAD). */
static void respond(struct admin_conn *c, int status, const char *ctype,
                    const char *body, size_t len, const char *extra,
                    bool keep_alive, bool head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                     "%sConnection: %s\r\n\r\n",
                     status, http_reason(status), ctype, len,
                     extra != NULL ? extra : "",
                     keep_alive ? "keep-alive" : "close");
    bool ok = n > 0 && (size_t)n < sizeof head && out_put(c, head, (size_t)n) &&
              (head_only || len == 0 || out_put(c, body, len));
    if (!ok) {
        ms_warn("admin: out of memory for a response; closing connection");
        conn_close(c);
        return;
    }
    if (!keep_alive) {
        c->finishing = true;
    }
}

static void respond_json(struct admin_conn *c, int status, const char *json,
                         const char *extra, bool keep_alive, bool head_only)
{
    respond(c, status, "application/json", json, strlen(json), extra,
            keep_alive, head_only);
}

static void respond_error(struct admin_conn *c, int status, const char *msg,
                          const char *extra, bool keep_alive, bool head_only)
{
    char buf[512];
    struct admin_json j;
    admin_json_init(&j, buf, sizeof buf);
    admin_json_raw(&j, "{\"status\":%d,\"error\":", status);
    admin_json_str(&j, msg);
    admin_json_raw(&j, "}\n");
    respond_json(c, status, buf, extra, keep_alive, head_only);
}

static void process_parked(struct admin_conn *c);
static void conn_flush(struct admin_conn *c);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
}

static void conn_finish(struct admin_conn *c)
{
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct admin_conn *c = req->data;
    c->writing = false;
    c->wbuf_len = 0;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        conn_close(c);
        return;
    }
    process_parked(c);
    if (c->closing) {
        return;
    }
    if (c->out_len > 0) {
        conn_flush(c);
    } else if (c->finishing) {
        conn_finish(c);
    }
}

/* Starts writing what was gathered unless a write is in flight. */
static void conn_flush(struct admin_conn *c)
{
    if (c->closing || c->writing || c->out_len == 0) {
        return;
    }
    char *tb = c->wbuf;
    size_t tcap = c->wbuf_cap;
    c->wbuf = c->out;
    c->wbuf_cap = c->out_cap;
    c->wbuf_len = c->out_len;
    c->out = tb;
    c->out_cap = tcap;
    c->out_len = 0;
    uv_buf_t b = uv_buf_init(c->wbuf, (unsigned)c->wbuf_len);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        conn_close(c);
        return;
    }
    c->writing = true;
}

/* ---- endpoints --------------------------------------------------------------
 */

static void serve_metrics(struct admin_conn *c, bool ka, bool head_only)
{
    struct admin_server *a = c->a;
    if (a->prov.collect_metrics != NULL) {
        a->prov.collect_metrics(a->prov.data, a->metrics);
    }
    char *text = NULL;
    size_t len = 0;
    if (metrics_render(a->metrics, &text, &len) != 0) {
        respond_error(c, 500, "out of memory", NULL, ka, head_only);
        return;
    }
    respond(c, 200, METRICS_CONTENT_TYPE, text, len, NULL, ka, head_only);
    free(text);
}

/* /health and /readyz: a yes/no check with a reason. */
static void serve_check(struct admin_conn *c, bool health, bool ka,
                        bool head_only)
{
    struct admin_server *a = c->a;
    int (*check)(void *, char *, size_t) =
        health ? a->prov.health : a->prov.ready;
    char reason[REASON_CAP] = "";
    int bad = check != NULL ? check(a->prov.data, reason, sizeof reason) : 0;
    reason[sizeof reason - 1] = '\0';
    char buf[REASON_CAP * 6 + 64];
    struct admin_json j;
    admin_json_init(&j, buf, sizeof buf);
    if (bad == 0) {
        admin_json_raw(&j,
                       health ? "{\"health\":\"ok\"}\n" : "{\"ready\":true}\n");
    } else {
        admin_json_raw(&j, health ? "{\"health\":\"failing\",\"reason\":"
                                  : "{\"ready\":false,\"reason\":");
        admin_json_str(&j, reason[0] != '\0' ? reason : "unknown");
        admin_json_raw(&j, "}\n");
    }
    respond_json(c, bad == 0 ? 200 : 503, buf, NULL, ka, head_only);
}

static void serve_status(struct admin_conn *c, bool ka, bool head_only)
{
    struct admin_server *a = c->a;
    if (a->prov.status_json == NULL) {
        respond_json(c, 200, "{}\n", NULL, ka, head_only);
        return;
    }
    size_t cap = STATUS_FIRST_CAP;
    for (;;) {
        char *buf = malloc(cap + 1);
        if (buf == NULL) {
            respond_error(c, 500, "out of memory", NULL, ka, head_only);
            return;
        }
        size_t n = a->prov.status_json(a->prov.data, buf, cap);
        if (n < cap) {
            buf[n] = '\n';
            respond(c, 200, "application/json", buf, n + 1, NULL, ka,
                    head_only);
            free(buf);
            return;
        }
        free(buf);
        if (n + 1 > STATUS_MAX_CAP) {
            respond_error(c, 500, "status document too large", NULL, ka,
                          head_only);
            return;
        }
        cap = n + 1;
    }
}

static void serve(struct admin_conn *c, const struct http_request *r)
{
    bool ka = r->keep_alive;
    bool get = strcmp(r->method, "GET") == 0;
    bool head = strcmp(r->method, "HEAD") == 0;
    enum { P_NONE, P_METRICS, P_HEALTH, P_READY, P_STATUS } path = P_NONE;
    if (strcmp(r->path, "/metrics") == 0) {
        path = P_METRICS;
    } else if (strcmp(r->path, "/health") == 0) {
        path = P_HEALTH;
    } else if (strcmp(r->path, "/readyz") == 0) {
        path = P_READY;
    } else if (strcmp(r->path, "/status") == 0) {
        path = P_STATUS;
    }
    if (path == P_NONE) {
        respond_error(c, 404,
                      "no such endpoint (try /metrics, /health, "
                      "/readyz, /status)",
                      NULL, ka, head);
        return;
    }
    if (!get && !head) {
        respond_error(c, 405, "only GET and HEAD are allowed",
                      "Allow: GET, HEAD\r\n", ka, false);
        return;
    }
    switch (path) {
    case P_METRICS:
        serve_metrics(c, ka, head);
        break;
    case P_HEALTH:
        serve_check(c, true, ka, head);
        break;
    case P_READY:
        serve_check(c, false, ka, head);
        break;
    default:
        serve_status(c, ka, head);
        break;
    }
}

/* ---- input
 * ------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct admin_conn *c = h->data;
    *buf = uv_buf_init(c->a->rbuf, sizeof c->a->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void reading(struct admin_conn *c, bool on)
{
    if (on == c->reading || c->closing) {
        return;
    }
    if (on) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            conn_close(c);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    c->reading = on;
}

static void on_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void restart_idle(struct admin_conn *c)
{
    uv_timer_start(&c->idle, on_idle, c->a->opts.idle_timeout_ms, 0);
}

/*
 * Parses and answers requests in d[0..n) until the bytes run out, the
 * connection finishes, or too much output is waiting.  Returns the bytes
 * consumed.
 */
static size_t process(struct admin_conn *c, const uint8_t *d, size_t n)
{
    size_t off = 0;
    while (off < n && !c->finishing && !c->closing &&
           c->out_len < OUT_HIGH_WATER) {
        size_t used = 0;
        int rv = http_parser_feed(&c->p, d + off, n - off, &used);
        off += used;
        if (rv == HTTP_DONE) {
            serve(c, http_parser_request(&c->p));
            http_parser_reset(&c->p);
            restart_idle(c);
        } else if (rv < 0) {
            respond_error(c, http_error_status(rv), http_strerror(rv), NULL,
                          false, false);
            return n; /* the rest cannot be framed: dropped */
        }
    }
    return off;
}

/* Input left over from a read that stopped on backpressure. */
static void process_parked(struct admin_conn *c)
{
    if (c->parked_len > 0) {
        size_t used = process(c, c->parked, c->parked_len);
        memmove(c->parked, c->parked + used, c->parked_len - used);
        c->parked_len -= used;
    }
    if (c->parked_len == 0 && !c->finishing && !c->closing) {
        reading(c, true);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct admin_conn *c = st->data;
    if (nread == 0 || c->closing) {
        return;
    }
    if (nread == UV_EOF && (c->writing || c->out_len > 0)) {
        /* The client half-closed after asking: answer, then close. */
        reading(c, false);
        c->finishing = true;
        conn_flush(c);
        return;
    }
    if (nread < 0) {
        conn_close(c); /* EOF or error: nothing more can be asked */
        return;
    }
    const uint8_t *d = (const uint8_t *)buf->base;
    size_t n = (size_t)nread;
    size_t used = process(c, d, n);
    if (used < n && !c->closing && !c->finishing) {
        /* Backpressure: keep the rest until the output drains. */
        uint8_t *p = malloc(n - used);
        if (p == NULL) {
            conn_close(c);
            return;
        }
        memcpy(p, d + used, n - used);
        free(c->parked);
        c->parked = p;
        c->parked_len = n - used;
        reading(c, false);
    }
    if (c->finishing) {
        reading(c, false);
    }
    conn_flush(c);
}

/* ---- accepting
 * ------------------------------------------------------------------ */

static void on_connection(uv_stream_t *listener, int status)
{
    struct admin_server *a = listener->data;
    if (status < 0 || a->stopping) {
        return;
    }
    struct admin_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return; /* the kernel keeps it queued; the next accept retries */
    }
    c->a = a;
    c->tcp.data = c;
    c->idle.data = c;
    if (uv_tcp_init(a->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    c->handles = 2;
    uv_timer_init(a->loop, &c->idle);
    a->live++;
    c->next = a->conns;
    if (a->conns != NULL) {
        a->conns->prev = c;
    }
    a->conns = c;
    c->rejected = a->n_conns >= a->opts.max_connections;
    if (!c->rejected) {
        a->n_conns++;
    }
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    restart_idle(c);
    if (c->rejected) {
        respond_error(c, 503, "too many admin connections", NULL, false, false);
        conn_flush(c);
        return;
    }
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_body = a->opts.max_body;
    if (http_parser_init(&c->p, &lim) != 0) {
        conn_close(c);
        return;
    }
    reading(c, true);
}

/* ---- start and stop
 * ------------------------------------------------------------ */

/* A listener that could not bind: the server was never handed out. */
static void on_failed_listener_closed(uv_handle_t *h)
{
    struct admin_server *a = h->data;
    metrics_destroy(a->metrics);
    free(a);
}

int admin_start(uv_loop_t *loop, const char *listen_addr,
                const struct admin_provider *provider,
                const struct admin_options *opts, struct admin_server **out)
{
    struct sockaddr_storage sa;
    int rv = parse_addr(listen_addr, &sa);
    if (rv != 0) {
        ms_error("admin: cannot parse listen address \"%s\"", listen_addr);
        return rv;
    }
    struct admin_server *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return UV_ENOMEM;
    }
    a->loop = loop;
    a->prov = *provider;
    admin_options_default(&a->opts);
    if (opts != NULL) {
        a->opts.max_connections = opts->max_connections != 0
                                      ? opts->max_connections
                                      : a->opts.max_connections;
        a->opts.idle_timeout_ms = opts->idle_timeout_ms != 0
                                      ? opts->idle_timeout_ms
                                      : a->opts.idle_timeout_ms;
        a->opts.max_body = opts->max_body;
    }
    if (metrics_create(&a->metrics) != 0) {
        free(a);
        return UV_ENOMEM;
    }
    a->live = 1;
    a->listener.data = a;
    uv_tcp_init(loop, &a->listener);
    rv = uv_tcp_bind(&a->listener, (const struct sockaddr *)&sa, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&a->listener, 128, on_connection);
    }
    if (rv != 0) {
        ms_error("admin: cannot listen on %s: %s", listen_addr,
                 uv_strerror(rv));
        uv_close((uv_handle_t *)&a->listener, on_failed_listener_closed);
        return rv;
    }
    struct sockaddr_storage bound;
    int blen = (int)sizeof bound;
    if (uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &blen) ==
        0) {
        a->port = ntohs(bound.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&bound)->sin6_port
                            : ((struct sockaddr_in *)&bound)->sin_port);
    }
    ms_info("admin endpoint listening on %s", listen_addr);
    *out = a;
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    server_unref(h->data);
}

void admin_stop(struct admin_server *a, void (*done)(void *), void *arg)
{
    a->stopping = true;
    a->done = done;
    a->done_arg = arg;
    while (a->conns != NULL) {
        conn_close(a->conns);
    }
    if (!uv_is_closing((uv_handle_t *)&a->listener)) {
        uv_close((uv_handle_t *)&a->listener, on_listener_closed);
    }
}

int admin_port(const struct admin_server *a)
{
    return a->port;
}

uint32_t admin_connections(const struct admin_server *a)
{
    return a->n_conns;
}
