/*
 * http_api.c - the HTTP/JSON API listener and its connections (see
 * server/http_api.h).
 *
 * Happy path: accept; feed what the socket gives to the connection's HTTP
 * parser (server/http.h); a complete request is routed by path, its JSON
 * body translated into the protobuf request (server/http_kv.h) and handed
 * to srv_kv_dispatch() on a pseudo-connection whose reply comes back to
 * on_reply(); that renders the JSON response into the output buffer.  One
 * request is in progress per connection at a time: while it is, the
 * connection stops reading and keeps unparsed bytes aside, so pipelined
 * requests are answered in order.  Output is written with one uv_write at
 * a time (responses gathered meanwhile go out with the next).
 *
 * Failure modes: see http_api.h.  A framing error (or a body too large, or
 * chunked) queues its answer, shuts down the write side once it is sent,
 * then drains and drops input until the client closes or LINGER_MS passes.
 *
 * Lifetime: a connection holds one reference while its handles are open
 * and one while a request is in progress (the dispatcher may answer after
 * the client went away); it is freed when both are gone.  The server
 * object lives until its listener and every connection are freed.
 */
#include "server/http_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <uv.h>

#include "server/auth_glue.h"
#include "server/http.h"
#include "server/http_kv.h"
#include "server/json.h"
#include "server/log.h"
#include "server/server.h"
#include "server/status.h"
#include "server/tls.h"

#define READ_BUF_BYTES (64u * 1024u)
#define OUT_HIGH_WATER (4u * 1024u * 1024u)
#define IDLE_MS        60000u /* no request in progress for this long */
#define LINGER_MS      2000u  /* draining input after a closing error */
#define LINGER_BYTES   (64u * 1024u * 1024u)

struct hconn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    struct http_api *h;
    struct hconn *next, *prev;
    int handles; /* open handles */
    int refs;    /* 1 while handles are open + 1 per request in progress */
    bool closing;
    bool rejected;  /* over the connection limit */
    bool finishing; /* answer queued, then shut down (and linger) */
    bool shut;      /* uv_shutdown() called */
    bool draining;  /* write side shut: read and drop until EOF */
    bool reading;
    bool writing;
    bool busy;          /* a request is with the dispatcher */
    bool in_dispatch;   /* inside srv_kv_dispatch() (reply may come now) */
    bool continue_sent; /* "100 Continue" already sent for this request */
    bool req_keep_alive;
    size_t drained;
    const struct hkv_route *route;
    struct http_parser p;
    char *out;
    size_t out_len, out_cap;
    char *wbuf;
    size_t wbuf_len, wbuf_cap;
    uint8_t *parked;
    size_t parked_len;
    char peer[64];
    /* TLS (NULL: plain HTTP): ciphertext goes through wbuf. */
    struct srv_tls *tls;
    /* POST /v3/watch: the stream pseudo-connection while it lasts (it holds
     * a reference on this connection); the response is chunked. */
    struct srv_conn *watch;
    bool streaming;      /* a watch owns the connection (until it ends) */
    bool stream_started; /* 200 and the chunked head are queued */
    /* Who the request being served is (check_identity), put on its
     * pseudo-connection so that srv_kv_dispatch checks it. */
    struct srv_auth_id id;
};

struct http_api {
    struct srv *s;
    uv_tcp_t listener;
    struct hconn *conns;
    uint64_t n_conns; /* accepted within the limit */
    int port;
    bool stopping;
    int live; /* listener + connections not yet freed */
    struct json_limits jlim;
    struct srv_tls_ctx *tls_ctx; /* NULL: plain HTTP */
    bool own_tls_ctx;            /* tls.http_* files: freed with h */
    char rbuf[READ_BUF_BYTES];
    uint8_t pbuf[READ_BUF_BYTES]; /* decrypted TLS input */
};

/* ---- lifetime ---------------------------------------------------------------
 */

static void api_unref(struct http_api *h)
{
    if (--h->live == 0) {
        if (h->own_tls_ctx) {
            srv_tls_ctx_destroy(h->tls_ctx);
        }
        free(h);
    }
}

static void conn_unref(struct hconn *c)
{
    if (--c->refs > 0) {
        return;
    }
    struct http_api *h = c->h;
    http_parser_close(&c->p);
    srv_tls_destroy(c->tls);
    free(c->out);
    free(c->wbuf);
    free(c->parked);
    free(c);
    api_unref(h);
}

static void on_handle_closed(uv_handle_t *hd)
{
    struct hconn *c = hd->data;
    if (--c->handles == 0) {
        conn_unref(c);
    }
}

static void conn_close(struct hconn *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    struct http_api *h = c->h;
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        h->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    if (!c->rejected) {
        h->n_conns--;
        h->s->stats.http_connections = h->n_conns;
    }
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_handle_closed);
    if (c->watch != NULL) {
        /* The client went away: its watcher goes at once. */
        struct srv_conn *pc = c->watch;
        c->watch = NULL;
        srv_conn_stream_close(pc);
        conn_unref(c); /* the stream's reference */
    }
}

/* ---- output
 * ------------------------------------------------------------------- */

static bool out_put(struct hconn *c, const void *data, size_t n)
{
    if (c->out_cap - c->out_len < n) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        while (cap - c->out_len < n) {
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

/* Queues one response; keep_alive false finishes the connection after
 * it. */
static void respond(struct hconn *c, int status, const char *body, size_t len,
                    const char *extra, bool keep_alive)
{
    char head[320];
    int n =
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n",
                 status, http_reason(status), len, extra != NULL ? extra : "",
                 keep_alive ? "keep-alive" : "close");
    if (n <= 0 || (size_t)n >= sizeof head || !out_put(c, head, (size_t)n) ||
        !out_put(c, body, len)) {
        ms_warn("http: out of memory for a response to %s; closing", c->peer);
        conn_close(c);
        return;
    }
    if (status >= 100 && status < 600) {
        c->h->s->stats.http_responses[status / 100]++;
    }
    if (!keep_alive) {
        c->finishing = true;
    }
}

/* An error found before dispatch: JSON error body, status, maybe close. */
static void respond_error(struct hconn *c, int srv_status, int http_status,
                          const char *msg, const char *extra, bool keep_alive)
{
    struct json_out o;
    json_out_init(&o);
    int st = hkv_render_error(&o, srv_status, http_status, msg);
    if (json_out_failed(&o)) {
        respond(c, 500, "{}\n", 3, NULL, false);
    } else {
        respond(c, st, o.buf, o.len, extra, keep_alive);
    }
    json_out_free(&o);
}

static void process_parked(struct hconn *c);
static void read_tls(struct hconn *c, const uint8_t *d, size_t n);
static void input(struct hconn *c, const uint8_t *d, size_t n);
static void dispatch_watch(struct hconn *c, const uint8_t *pb, size_t pb_len,
                           bool keep_alive);
static void conn_flush(struct hconn *c);
static void reading(struct hconn *c, bool on);
static void restart_idle(struct hconn *c, uint64_t ms);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct hconn *c = req->data;
    if (c->closing) {
        return;
    }
    if (status != 0) {
        conn_close(c);
        return;
    }
    /* Lingering close: read and drop what the client still sends so that
     * it gets our answer rather than a reset. */
    c->draining = true;
    restart_idle(c, LINGER_MS);
    reading(c, true);
}

static void conn_finish(struct hconn *c)
{
    if (c->shut) {
        return;
    }
    c->shut = true;
    if (c->tls != NULL) {
        /* Best effort and never blocking (nothing else is being written):
         * the close_notify alert, so the client sees an orderly end. */
        uint8_t *b = NULL;
        size_t cap = 0, n = 0;
        srv_tls_close_notify(c->tls);
        if (srv_tls_take(c->tls, &b, &cap, &n) == 0 && n > 0) {
            uv_buf_t ub = uv_buf_init((char *)b, (unsigned)n);
            (void)uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
        }
        free(b);
    }
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c);
    }
}

static void on_written(uv_write_t *req, int status)
{
    struct hconn *c = req->data;
    c->writing = false;
    c->wbuf_len = 0;
    if (c->closing) {
        return;
    }
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->watch != NULL) {
        srv_watch_conn_drained(c->h->s, c->watch);
    }
    process_parked(c);
    if (c->closing) {
        return;
    }
    if (c->out_len > 0 || (c->tls != NULL && srv_tls_pending(c->tls) > 0)) {
        conn_flush(c);
    } else if (c->finishing && !c->busy) {
        conn_finish(c);
    }
}

/* TLS: encrypts what gathered and takes the ciphertext waiting (also
 * handshake messages) into wbuf.  False when there is nothing to write or
 * the connection closed. */
static bool tls_take(struct hconn *c)
{
    if (c->out_len > 0) {
        int rc = srv_tls_write(c->tls, (const uint8_t *)c->out, c->out_len);
        c->out_len = 0;
        if (rc != 0) {
            ms_warn("http: %s: %s; closing", c->peer,
                    rc == SRV_TLS_ENOMEM ? "out of memory"
                                         : srv_tls_error(c->tls));
            conn_close(c);
            return false;
        }
    }
    uint8_t *b = (uint8_t *)c->wbuf;
    size_t cap = c->wbuf_cap, n = 0;
    int rc = srv_tls_take(c->tls, &b, &cap, &n);
    c->wbuf = (char *)b;
    c->wbuf_cap = cap;
    c->wbuf_len = n;
    if (rc != 0) {
        conn_close(c);
        return false;
    }
    return n > 0;
}

static void conn_flush(struct hconn *c)
{
    if (c->closing || c->writing) {
        return;
    }
    if (c->tls != NULL) {
        if (!tls_take(c)) {
            return;
        }
        uv_buf_t tb = uv_buf_init(c->wbuf, (unsigned)c->wbuf_len);
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &tb, 1, on_written) !=
            0) {
            conn_close(c);
            return;
        }
        c->writing = true;
        return;
    }
    if (c->out_len == 0) {
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

/* ---- requests
 * ------------------------------------------------------------------ */

/* The dispatcher's one reply for the request in progress. */
static void on_reply(void *arg, bool is_error, const uint8_t *body, size_t len)
{
    struct hconn *c = arg;
    c->busy = false;
    if (!c->closing) {
        struct json_out o;
        json_out_init(&o);
        int st = hkv_render_reply(c->route, is_error, body, len, &o);
        if (json_out_failed(&o)) {
            respond(c, 500, "{}\n", 3, NULL, false);
        } else {
            respond(c, st, o.buf, o.len, NULL, c->req_keep_alive);
        }
        json_out_free(&o);
        if (!c->in_dispatch && !c->closing) {
            /* A parked request answered later: carry on with the next. */
            restart_idle(c, IDLE_MS);
            process_parked(c);
            conn_flush(c);
        }
    }
    conn_unref(c); /* the request's reference */
}

static void dispatch(struct hconn *c, const struct http_request *r)
{
    struct srv *s = c->h->s;
    uint8_t *pb = NULL;
    size_t pb_len = 0;
    char msg[256];
    int st = hkv_encode_request(c->route, r->body, r->body_len, &c->h->jlim,
                                &pb, &pb_len, msg, sizeof msg);
    if (st != 0) {
        respond_error(c, st, 0, msg, NULL, r->keep_alive);
        return;
    }
    if (c->route->method == SRV_METHOD_WATCH) {
        if (r->version_minor == 0) {
            free(pb);
            respond_error(c, SRV_STATUS_INVALID_ARGUMENT, 505,
                          "a watch is streamed with chunked transfer "
                          "encoding: use HTTP/1.1",
                          NULL, false);
            return;
        }
        dispatch_watch(c, pb, pb_len, r->keep_alive);
        free(pb);
        return;
    }
    struct srv_conn *pc = srv_conn_callback(s, c->peer, on_reply, c);
    if (pc == NULL) {
        free(pb);
        respond_error(c, SRV_STATUS_RESOURCE_EXHAUSTED, 0, "out of memory",
                      NULL, r->keep_alive);
        return;
    }
    *srv_conn_auth_id(pc) = c->id;
    c->refs++; /* released by on_reply */
    c->busy = true;
    c->req_keep_alive = r->keep_alive;
    c->in_dispatch = true;
    uv_timer_stop(&c->idle); /* the request timeout bounds it now */
    srv_kv_dispatch(s, pc, c->route->method, 1, pb, pb_len);
    c->in_dispatch = false;
    if (srv_auth_is_method(c->route->method)) {
        OPENSSL_cleanse(pb, pb_len); /* may hold a password */
    }
    free(pb);
}

/* ---- watch streams
 * ------------------------------------------------------------- */

/* Unsent bytes of this connection: the watch glue stops sending to a
 * stream at server.watch_backlog_bytes and cancels it as slow after
 * server.watch_slow_timeout, as it does for binary-protocol streams. */
static size_t watch_backlog(void *arg)
{
    const struct hconn *c = arg;
    size_t n = c->out_len + c->wbuf_len;
    if (c->tls != NULL) {
        n += srv_tls_pending(c->tls);
    }
    return n;
}

static void put_chunk(struct hconn *c, const char *data, size_t n)
{
    char head[24];
    int k = snprintf(head, sizeof head, "%zx\r\n", n);
    if (!out_put(c, head, (size_t)k) || !out_put(c, data, n) ||
        !out_put(c, "\r\n", 2)) {
        ms_warn("http: out of memory for a watch response to %s; closing",
                c->peer);
        conn_close(c);
    }
}

/* The watch ended (canceled, refused, or the server broke it): the stream
 * pseudo-connection goes, the response is finished, the connection closes
 * once it is written. */
static void watch_end(struct hconn *c)
{
    struct srv_conn *pc = c->watch;
    c->watch = NULL;
    c->streaming = false;
    c->finishing = true;
    /* A client that stopped reading (a slow watcher) would otherwise hold
     * the connection for ever: it gets IDLE_MS to take the end. */
    restart_idle(c, IDLE_MS);
    srv_conn_stream_close(pc);
    conn_unref(c); /* the stream's reference; the handles still hold one */
}

/* One WatchResponse (or error) from the watch glue: the first one decides
 * the status; after a 200 each is one chunk holding one JSON line. */
static void on_watch_frame(void *arg, uint8_t flags, const uint8_t *body,
                           size_t len)
{
    struct hconn *c = arg;
    if (c->closing || c->watch == NULL) {
        return;
    }
    bool is_error = (flags & FRAME_FLAG_ERROR) != 0;
    struct json_out o;
    json_out_init(&o);
    int st = hkv_render_reply(c->route, is_error, body, len, &o);
    if (json_out_failed(&o)) {
        json_out_free(&o);
        conn_close(c);
        return;
    }
    if (!c->stream_started && is_error) {
        respond(c, st, o.buf, o.len, NULL, false);
    } else {
        if (!c->stream_started) {
            static const char head[] =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            c->stream_started = out_put(c, head, sizeof head - 1);
            c->h->s->stats.http_responses[2]++;
        }
        put_chunk(c, o.buf, o.len);
    }
    json_out_free(&o);
    if (c->closing) {
        return;
    }
    if (is_error || (flags & FRAME_FLAG_STREAM_END) != 0) {
        if (c->stream_started) {
            (void)out_put(c, "0\r\n\r\n", 5);
        }
        watch_end(c);
    }
    conn_flush(c);
}

static const struct srv_conn_stream_ops watch_ops = {
    .frame = on_watch_frame,
    .backlog = watch_backlog,
};

/* POST /v3/watch: one watcher, streamed until it is canceled or the client
 * closes.  The request body is already a packed WatchRequest. */
static void dispatch_watch(struct hconn *c, const uint8_t *pb, size_t pb_len,
                           bool keep_alive)
{
    struct srv *s = c->h->s;
    struct srv_conn *pc = srv_conn_stream(s, c->peer, &watch_ops, c);
    if (pc == NULL) {
        respond_error(c, SRV_STATUS_RESOURCE_EXHAUSTED, 0, "out of memory",
                      NULL, keep_alive);
        return;
    }
    *srv_conn_auth_id(pc) = c->id; /* READ on the range, checked there */
    c->watch = pc;
    c->streaming = true;
    c->stream_started = false;
    c->refs++;               /* the stream's, released by watch_end() */
    uv_timer_stop(&c->idle); /* a quiet watch is not an idle connection */
    c->refs++;               /* c stays while the dispatcher runs */
    srv_kv_dispatch(s, pc, SRV_METHOD_WATCH, 1, pb, pb_len);
    conn_unref(c);
}

/*
 * The one place where a request's identity is established: every HTTP
 * request, watch included, passes here after routing and before its body
 * reaches the dispatcher.  As etcd's gateway, the token from POST
 * /v3/auth/authenticate comes bare in the Authorization header ("Bearer
 * <token>" is taken too).  The identity goes into c->id; what it may do
 * is checked by srv_kv_dispatch, the same check as for the binary
 * protocol.  An unknown or expired token while auth is enabled is refused
 * here (UNAUTHENTICATED, 401), except on /v3/auth/authenticate itself, so
 * that a client holding a stale token can get a new one.  0 lets the
 * request through; otherwise an SRV_STATUS_* code with msg.
 */
static int check_identity(struct hconn *c, const struct http_request *r,
                          char *msg, size_t cap)
{
    memset(&c->id, 0, sizeof c->id);
    if (c->route->method == SRV_METHOD_AUTHENTICATE) {
        return 0;
    }
    const char *token = http_request_header(r, "Authorization");
    if (token != NULL && strncmp(token, "Bearer ", 7) == 0) {
        token += 7;
        while (*token == ' ') {
            token++;
        }
    }
    return srv_auth_token_identity(c->h->s, token, &c->id, msg, cap);
}

static void serve(struct hconn *c, const struct http_request *r)
{
    bool ka = r->keep_alive;
    c->route = hkv_route_find(r->path);
    if (c->route == NULL) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "no such endpoint %.60s (the API serves POST /v3/kv/range, "
                 "put, deleterange, txn, compaction, /v3/lease/grant, "
                 "revoke, keepalive, timetolive, leases, /v3/watch, "
                 "/v3/auth/... and /v3/maintenance/status)",
                 r->path);
        respond_error(c, SRV_STATUS_NOT_FOUND, 0, msg, NULL, ka);
        return;
    }
    if (strcmp(r->method, "POST") != 0) {
        respond_error(c, SRV_STATUS_UNIMPLEMENTED, 405,
                      "method not allowed: the API takes POST with a JSON "
                      "body",
                      "Allow: POST\r\n", ka);
        return;
    }
    char msg[256];
    int st = check_identity(c, r, msg, sizeof msg);
    if (st != 0) {
        respond_error(c, st, 0, msg, NULL, ka);
        return;
    }
    dispatch(c, r);
}

/* Answers a framing error and finishes the connection. */
static void framing_error(struct hconn *c, int rv)
{
    char msg[160];
    if (rv == HTTP_EUNSUPPORTED) {
        respond_error(c, SRV_STATUS_INVALID_ARGUMENT, 411,
                      "Transfer-Encoding (chunked) is not supported: send "
                      "the body with a Content-Length",
                      NULL, false);
        return;
    }
    if (rv == HTTP_EBODYTOOBIG) {
        snprintf(msg, sizeof msg,
                 "request body larger than server.http_max_body_bytes "
                 "(%llu bytes)",
                 (unsigned long long)c->h->s->cfg.server.http_max_body_bytes);
        respond_error(c, SRV_STATUS_RESOURCE_EXHAUSTED, 413, msg, NULL, false);
        return;
    }
    snprintf(msg, sizeof msg, "malformed HTTP request: %s", http_strerror(rv));
    respond_error(c, SRV_STATUS_INVALID_ARGUMENT, http_error_status(rv), msg,
                  NULL, false);
}

/* "Expect: 100-continue": tell the client to send the body now (curl
 * otherwise waits a second before sending a large one). */
static void maybe_continue(struct hconn *c)
{
    const struct http_request *head = http_parser_head(&c->p);
    if (head == NULL || c->continue_sent || head->body_len == 0) {
        return;
    }
    const char *e = http_request_header(head, "Expect");
    if (e != NULL && strcmp(e, "100-continue") == 0 &&
        head->version_minor == 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        c->continue_sent = out_put(c, cont, sizeof cont - 1);
    }
}

/*
 * Parses and serves requests in d[0..n) until the bytes run out, a
 * request waits for the dispatcher, the connection finishes, or too much
 * output waits.  Returns the bytes consumed.
 */
static size_t process(struct hconn *c, const uint8_t *d, size_t n)
{
    size_t off = 0;
    while (off < n && !c->busy && !c->finishing && !c->closing &&
           !c->streaming && c->out_len < OUT_HIGH_WATER) {
        size_t used = 0;
        int rv = http_parser_feed(&c->p, d + off, n - off, &used);
        off += used;
        if (rv == HTTP_DONE) {
            serve(c, http_parser_request(&c->p));
            http_parser_reset(&c->p);
            c->continue_sent = false;
            if (!c->busy && !c->streaming) {
                restart_idle(c, IDLE_MS);
            }
        } else if (rv < 0) {
            framing_error(c, rv);
            return n; /* the rest cannot be framed: dropped */
        } else {
            maybe_continue(c);
        }
    }
    return off;
}

static void process_parked(struct hconn *c)
{
    if (c->parked_len > 0) {
        size_t used = process(c, c->parked, c->parked_len);
        memmove(c->parked, c->parked + used, c->parked_len - used);
        c->parked_len -= used;
    }
    if (c->parked_len == 0 && !c->finishing && !c->closing && !c->busy) {
        reading(c, true);
    }
}

/* ---- input
 * ----------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct hconn *c = hd->data;
    *buf = uv_buf_init(c->h->rbuf, sizeof c->h->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void reading(struct hconn *c, bool on)
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

static void restart_idle(struct hconn *c, uint64_t ms)
{
    if (!c->closing) {
        uv_timer_start(&c->idle, on_idle, ms, 0);
    }
}

/* Plaintext from the client: requests are served; what cannot be served
 * yet waits in c->parked (and reading stops) so that order is kept. */
static void input(struct hconn *c, const uint8_t *d, size_t n)
{
    if (c->streaming) {
        return; /* a watch owns the connection: later bytes are ignored */
    }
    size_t used = c->parked_len > 0 ? 0 : process(c, d, n);
    if (c->streaming || c->closing) {
        return;
    }
    if (used < n && !c->finishing) {
        /* A request in progress or backpressure: keep the rest. */
        uint8_t *p = realloc(c->parked, c->parked_len + (n - used));
        if (p == NULL) {
            conn_close(c);
            return;
        }
        memcpy(p + c->parked_len, d + used, n - used);
        c->parked = p;
        c->parked_len += n - used;
        reading(c, false);
    } else if (c->busy || c->finishing) {
        reading(c, false);
    }
}

/* TLS: ciphertext in, plaintext to input().  A client that is not
 * speaking TLS (plain HTTP, garbage) fails the handshake: logged once,
 * its connection closed; nobody else notices. */
static void read_tls(struct hconn *c, const uint8_t *d, size_t n)
{
    if (srv_tls_feed(c->tls, d, n) != 0) {
        conn_close(c);
        return;
    }
    bool was = srv_tls_established(c->tls);
    while (!c->closing) {
        size_t got = 0;
        int rc = srv_tls_read(c->tls, c->h->pbuf, sizeof c->h->pbuf, &got);
        if (rc == SRV_TLS_ECLOSED) {
            conn_close(c);
            return;
        }
        if (rc != 0) {
            ms_warn("http: %s: %s; closing", c->peer, srv_tls_error(c->tls));
            /* The alert that says why, if the socket takes it now. */
            uint8_t *b = NULL;
            size_t cap = 0, len = 0;
            if (srv_tls_take(c->tls, &b, &cap, &len) == 0 && len > 0 &&
                !c->writing) {
                uv_buf_t ub = uv_buf_init((char *)b, (unsigned)len);
                (void)uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
            }
            free(b);
            conn_close(c);
            return;
        }
        if (got == 0) {
            break;
        }
        input(c, c->h->pbuf, got);
    }
    if (!was && srv_tls_established(c->tls) && !c->busy && !c->streaming &&
        !c->closing) {
        restart_idle(c, IDLE_MS); /* the handshake deadline is over */
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct hconn *c = st->data;
    if (nread == 0 || c->closing) {
        return;
    }
    if (c->draining) {
        c->drained += nread > 0 ? (size_t)nread : 0;
        if (nread < 0 || c->drained > LINGER_BYTES) {
            conn_close(c);
        }
        return;
    }
    if (nread == UV_EOF && !c->streaming &&
        (c->writing || c->out_len > 0 || c->busy)) {
        /* The client half-closed after asking: answer, then close. */
        reading(c, false);
        c->finishing = true;
        conn_flush(c);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (c->tls != NULL) {
        read_tls(c, (const uint8_t *)buf->base, (size_t)nread);
    } else {
        input(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    if (c->closing) {
        return;
    }
    conn_flush(c);
    if (!c->closing && c->finishing && !c->writing && c->out_len == 0 &&
        !c->busy) {
        conn_finish(c);
    }
}

/* ---- accepting
 * ------------------------------------------------------------------- */

static void peer_name(uv_tcp_t *tcp, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char host[48] = "?";
    int port = 0;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            uv_ip4_name(in, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(in6, host, sizeof host);
            port = ntohs(in6->sin6_port);
        }
    }
    snprintf(out, cap, "http %s:%d", host, port);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct http_api *h = listener->data;
    if (status < 0 || h->stopping) {
        return;
    }
    struct hconn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return; /* the kernel keeps it queued; the next accept retries */
    }
    c->h = h;
    c->tcp.data = c;
    c->idle.data = c;
    if (uv_tcp_init(h->s->loop, &c->tcp) != 0) {
        free(c);
        return;
    }
    uv_timer_init(h->s->loop, &c->idle);
    c->handles = 2;
    c->refs = 1;
    h->live++;
    c->next = h->conns;
    if (h->conns != NULL) {
        h->conns->prev = c;
    }
    h->conns = c;
    c->rejected = h->n_conns >= h->s->cfg.server.http_max_connections;
    if (!c->rejected) {
        h->n_conns++;
        h->s->stats.http_connections = h->n_conns;
    }
    struct http_limits lim;
    http_limits_default(&lim);
    lim.max_body = (size_t)h->s->cfg.server.http_max_body_bytes;
    if (http_parser_init(&c->p, &lim) != 0 ||
        uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    uv_tcp_nodelay(&c->tcp, 1);
    if (h->tls_ctx != NULL) {
        if (c->rejected || h->s->shutting_down) {
            /* No answer can be sent before a handshake: just close. */
            if (c->rejected) {
                ms_warn("refused %s: server.http_max_connections reached",
                        c->peer);
            }
            conn_close(c);
            return;
        }
        c->tls = srv_tls_create(h->tls_ctx, true, NULL);
        if (c->tls == NULL) {
            conn_close(c);
            return;
        }
        /* A handshake must finish within server.request_timeout, so that
         * silent clients do not hold connection slots. */
        restart_idle(c, h->s->cfg.server.request_timeout_ms);
        reading(c, true);
        return;
    }
    restart_idle(c, IDLE_MS);
    if (c->rejected || h->s->shutting_down) {
        if (c->rejected) {
            ms_warn("refused %s: server.http_max_connections (%llu) reached",
                    c->peer,
                    (unsigned long long)h->s->cfg.server.http_max_connections);
        }
        respond_error(c, SRV_STATUS_UNAVAILABLE, 503,
                      c->rejected ? "too many HTTP connections; retry later"
                                  : "shutting down",
                      NULL, false);
        conn_flush(c);
        return;
    }
    reading(c, true);
}

/* ---- start and stop
 * ------------------------------------------------------------ */

static void on_failed_listener_closed(uv_handle_t *hd)
{
    free(hd->data);
}

static void on_listener_closed(uv_handle_t *hd)
{
    api_unref(hd->data);
}

/* TLS on the HTTP port: the tls.http_* files when given, else the client
 * port's context (NULL when the client port is plain TCP too).  Checks the
 * files as srv_tls_load_config() does for the other ports. */
static int load_tls(struct http_api *h)
{
    const struct srv_config *cfg = &h->s->cfg;
    if (cfg->tls.http_cert_file[0] == '\0') {
        h->tls_ctx = h->s->client_tls;
        return 0;
    }
    struct srv_tls_files f = {.cert_file = cfg->tls.http_cert_file,
                              .key_file = cfg->tls.http_key_file,
                              .ca_file = cfg->tls.http_trusted_ca_file,
                              .client_cert_auth =
                                  cfg->tls.http_client_cert_auth,
                              .what = "tls.http_"};
    char err[512];
    int rc = srv_tls_ctx_create(&f, err, sizeof err, &h->tls_ctx);
    if (rc != 0) {
        ms_error("%s", err);
        return UV_EINVAL;
    }
    h->own_tls_ctx = true;
    return 0;
}

int http_api_start(struct srv *s, struct http_api **out)
{
    const char *addr_s = s->cfg.server.http_listen;
    char host[256];
    uint16_t port;
    struct sockaddr_storage addr;
    int rv = srv_addr_split(addr_s, host, sizeof host, &port);
    if (rv == 0) {
        rv = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
        if (rv != 0) {
            rv = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
        }
    }
    if (rv != 0) {
        ms_error("server.http_listen %s: not an IP address and port", addr_s);
        return UV_EINVAL;
    }
    struct http_api *h = calloc(1, sizeof *h);
    if (h == NULL) {
        return UV_ENOMEM;
    }
    h->s = s;
    h->live = 1;
    json_limits_default(&h->jlim);
    if (load_tls(h) != 0) {
        free(h);
        return UV_EINVAL;
    }
    h->listener.data = h;
    uv_tcp_init(s->loop, &h->listener);
    rv = uv_tcp_bind(&h->listener, (struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&h->listener, 128, on_connection);
    }
    if (rv != 0) {
        ms_error("cannot listen for HTTP on %s: %s", addr_s, uv_strerror(rv));
        if (h->own_tls_ctx) {
            srv_tls_ctx_destroy(h->tls_ctx);
        }
        uv_close((uv_handle_t *)&h->listener, on_failed_listener_closed);
        return rv;
    }
    struct sockaddr_storage bound;
    int blen = (int)sizeof bound;
    if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&bound, &blen) ==
        0) {
        h->port = ntohs(bound.ss_family == AF_INET6
                            ? ((struct sockaddr_in6 *)&bound)->sin6_port
                            : ((struct sockaddr_in *)&bound)->sin_port);
    }
    if (h->tls_ctx == NULL) {
        ms_info("HTTP/JSON API listening on %s", addr_s);
    } else {
        bool auth = h->own_tls_ctx ? s->cfg.tls.http_client_cert_auth
                                   : s->cfg.tls.client_cert_auth;
        ms_info("HTTP/JSON API listening on %s: TLS (%s), %s", addr_s,
                h->own_tls_ctx ? "tls.http_cert_file" : "the client port's",
                auth ? "client certificates required"
                     : "no client certificates");
    }
    *out = h;
    return 0;
}

void http_api_stop(struct http_api *h)
{
    h->stopping = true;
    while (h->conns != NULL) {
        conn_close(h->conns);
    }
    if (!uv_is_closing((uv_handle_t *)&h->listener)) {
        uv_close((uv_handle_t *)&h->listener, on_listener_closed);
    }
}

int http_api_port(const struct http_api *h)
{
    return h->port;
}
