/*
 * conn.c - client connections of metastored.
 *
 * Happy path: accept, read whatever the socket has, cut it into frames
 * (server/frame.h), hand each request to the command dispatcher (kv.c).
 * Replies are packed into the connection's output buffer as they are
 * produced and written with one uv_write per connection per loop turn.
 *
 * Backpressure: while a connection has max_pending_per_conn requests in
 * progress, or more than OUT_HIGH_WATER bytes of replies not yet written,
 * the server stops reading from it, so a client that sends faster than the
 * server answers is slowed down by TCP instead of growing memory.
 *
 * Failure modes: a header that is not a MetaStore frame (bad version or
 * flags) -> the connection is closed at once; a frame over
 * server.max_frame_bytes -> RESOURCE_EXHAUSTED for its request id, then
 * close; more than server.max_connections -> the new connection is closed
 * at once; a write error -> close.  Each is logged once.  Other
 * connections never notice.
 *
 * Lifetime: a connection is referenced by the loop while open and by each
 * parked request (struct srv_wait); it is freed when the last reference
 * goes, so a reply to a connection that closed meanwhile is dropped safely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/auth_glue.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/range_pack.h"
#include "server/server.h"
#include "server/status.h"
#include "server/tls.h"

#define READ_BUF_BYTES (64u * 1024u)
#define OUT_HIGH_WATER (4u * 1024u * 1024u)
/* Replies are not bound by max_frame_bytes (a range may be large). */
#define MAX_REPLY_BYTES (0x7fffffffu)

struct srv_conn {
    uv_tcp_t tcp;
    struct srv *s;
    struct srv_conn *next, *prev; /* s->conns */
    struct srv_conn *next_dirty;
    bool dirty;
    bool closing;
    bool reading;
    bool close_after_flush;
    int refs;
    uint64_t pending; /* requests in progress */
    struct frame_decoder dec;
    char peer[64];
    /* Replies being gathered, and the ones being written. */
    uint8_t *out;
    size_t out_len, out_cap;
    uint8_t *wbuf;
    size_t wbuf_len, wbuf_cap;
    bool writing;
    uv_write_t wreq;
    /* A request forwarded by a follower: the reply goes to this token. */
    struct peer_forward_token *forward;
    bool is_forward; /* no socket behind it */
    /* TLS on the client port (NULL: plain TCP).  Replies are encrypted
     * when flushed; wbuf then holds ciphertext. */
    struct srv_tls *tls;
    uint64_t accepted_ms; /* uv_now() at accept: the handshake deadline */
    /* A request from another front door: the reply goes to this callback
     * (srv_conn_callback). */
    srv_conn_reply_cb reply_cb;
    void *reply_arg;
    bool is_callback;
    struct srv_auth_id auth_id; /* set by AUTHENTICATE (auth_glue.c) */
    /* A stream from another front door (srv_conn_stream): every frame goes
     * to these, with reply_arg. */
    const struct srv_conn_stream_ops *stream_ops;
};

static char g_read_buf[READ_BUF_BYTES];
static uint8_t g_plain_buf[READ_BUF_BYTES]; /* decrypted TLS input */
/* With TLS on the client port: closes connections whose handshake is not
 * done within server.request_timeout, so that silent or slow clients do
 * not keep max_connections slots (the peer port has its Hello deadline). */
static uv_timer_t g_handshake_sweep;
static bool g_sweep_started;

void srv_conn_ref(struct srv_conn *c)
{
    c->refs++;
}

void srv_conn_unref(struct srv_conn *c)
{
    if (--c->refs == 0) {
        srv_tls_destroy(c->tls);
        if (c->reply_cb != NULL) {
            /* Never answered: the callback still runs once. */
            srv_conn_reply_cb cb = c->reply_cb;
            c->reply_cb = NULL;
            cb(c->reply_arg, true, NULL, 0);
        }
        frame_decoder_close(&c->dec);
        free(c->out);
        free(c->wbuf);
        free(c);
    }
}

static void on_closed(uv_handle_t *h)
{
    struct srv_conn *c = h->data;
    c->s->n_conns--;
    srv_conn_unref(c);
}

/* Best effort, never blocking: a close_notify (or the alert that ended a
 * failed handshake) goes out only if the socket takes it at once. */
static void tls_goodbye(struct srv_conn *c)
{
    /* Not into wbuf: a write of it may still be in flight.  uv_try_write()
     * refuses while earlier bytes wait, so nothing is reordered. */
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;
    srv_tls_close_notify(c->tls);
    if (srv_tls_take(c->tls, &b, &cap, &n) == 0 && n > 0) {
        uv_buf_t buf = uv_buf_init((char *)b, (unsigned)n);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    }
    free(b);
}

static void conn_close(struct srv_conn *c, const char *why)
{
    if (c->closing) {
        return;
    }
    if (why != NULL) {
        ms_info("closing client connection %s: %s", c->peer, why);
    }
    c->closing = true;
    struct srv *s = c->s;
    if (c->tls != NULL) {
        tls_goodbye(c);
    }
    /* Its parked reads go at once: nobody will take their answers. */
    srv_node_conn_closed(s, c);
    srv_watch_conn_closed(s, c);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- output ---------------------------------------------------------------- */

static void mark_dirty(struct srv_conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next_dirty = c->s->dirty;
        c->s->dirty = c;
        srv_conn_ref(c);
    }
}

static uint8_t *out_reserve(struct srv_conn *c, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
        while (cap < c->out_len + n) {
            cap *= 2;
        }
        uint8_t *p = realloc(c->out, cap);
        if (p == NULL) {
            return NULL;
        }
        c->out = p;
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

/* A forwarded request's one reply: back through the peer transport. */
static void reply_forward(struct srv_conn *c, bool is_error,
                          const uint8_t *body, size_t len)
{
    if (c->reply_cb != NULL) {
        srv_conn_reply_cb cb = c->reply_cb;
        c->reply_cb = NULL;
        c->closing = true;
        cb(c->reply_arg, is_error, body, len);
        return;
    }
    peer_forward_reply(c->s->peers, c->forward, is_error, body, len);
    c->forward = NULL;
    c->closing = true; /* nothing more can be sent */
    /* The pseudo-connection lives until its request is done
     * (srv_conn_request_done), which may come after this reply. */
}

bool srv_conn_is_forwarded(const struct srv_conn *c)
{
    return c->is_forward && !c->is_callback;
}

struct srv_conn *srv_conn_callback(struct srv *s, const char *peer,
                                   srv_conn_reply_cb cb, void *arg)
{
    struct srv_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->s = s;
    c->refs = 1;
    c->reply_cb = cb;
    c->reply_arg = arg;
    c->is_callback = true;
    c->is_forward = true; /* no socket: lives until its request is done */
    c->pending = 1;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    return c;
}

struct srv_conn *srv_conn_stream(struct srv *s, const char *peer,
                                 const struct srv_conn_stream_ops *ops,
                                 void *arg)
{
    struct srv_conn *c = srv_conn_callback(s, peer, NULL, arg);
    if (c != NULL) {
        c->stream_ops = ops;
        c->refs = 2; /* the request in progress, and the owner */
    }
    return c;
}

void srv_conn_stream_close(struct srv_conn *c)
{
    if (!c->closing) {
        c->closing = true;
        srv_node_conn_closed(c->s, c);
        srv_watch_conn_closed(c->s, c);
    }
    c->stream_ops = NULL;
    srv_conn_unref(c);
}

struct srv_conn *srv_conn_forwarded(struct srv *s,
                                    struct peer_forward_token *token)
{
    struct srv_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->s = s;
    c->refs = 1;
    c->forward = token;
    c->is_forward = true;
    c->pending = 1; /* the forwarded request; its end frees the conn */
    snprintf(c->peer, sizeof c->peer, "a forwarding peer");
    return c;
}

void srv_conn_reply_raw(struct srv *s, struct srv_conn *c, uint16_t method,
                        uint64_t request_id, bool is_error,
                        const uint8_t *body, size_t len)
{
    (void)s;
    if (c->closing) {
        return;
    }
    if (c->forward != NULL || c->reply_cb != NULL) {
        reply_forward(c, is_error, body, len);
        return;
    }
    struct frame_header h = {
        .length = (uint32_t)len,
        .method = method,
        .flags = (uint8_t)(FRAME_FLAG_RESPONSE | (is_error ? FRAME_FLAG_ERROR : 0)),
        .request_id = request_id};
    uint8_t *dst = out_reserve(c, FRAME_HEADER_BYTES + len);
    if (dst == NULL) {
        conn_close(c, "out of memory for replies");
        return;
    }
    frame_header_encode(&h, dst);
    if (len > 0) {
        memcpy(dst + FRAME_HEADER_BYTES, body, len);
    }
    c->out_len += FRAME_HEADER_BYTES + len;
    mark_dirty(c);
}

/* A frame for a stream pseudo-connection: packed into a scratch buffer and
 * handed over at once (the owner copies what it keeps). */
static void stream_frame(struct srv_conn *c, uint8_t flags, size_t body_len,
                         size_t (*pack)(const void *ctx, uint8_t *out),
                         const void *ctx)
{
    uint8_t stack[512] = {0};
    uint8_t *buf = body_len <= sizeof stack ? stack : malloc(body_len);
    if (buf == NULL) {
        /* No gap may go unnoticed: end the stream with an error. */
        c->stream_ops->frame(c->reply_arg, FRAME_FLAG_ERROR, NULL, 0);
        return;
    }
    size_t n = body_len > 0 ? pack(ctx, buf) : 0;
    c->stream_ops->frame(c->reply_arg, flags, buf, n);
    if (buf != stack) {
        free(buf);
    }
}

/* Queues a reply frame whose body_len-byte body pack() writes into the
 * output buffer: the body is sized once by the caller and packed in place. */
static void append_packed(struct srv_conn *c, uint16_t method, uint8_t flags,
                          uint64_t request_id, size_t body_len,
                          size_t (*pack)(const void *ctx, uint8_t *out),
                          const void *ctx)
{
    if (c->stream_ops != NULL) {
        stream_frame(c, flags, body_len, pack, ctx);
        return;
    }
    if (c->forward != NULL || c->reply_cb != NULL) {
        uint8_t stack[512] = {0};
        uint8_t *buf = body_len <= sizeof stack ? stack : malloc(body_len);
        if (buf == NULL) {
            reply_forward(c, true, NULL, 0);
            return;
        }
        if (body_len > 0) {
            pack(ctx, buf);
        }
        reply_forward(c, (flags & FRAME_FLAG_ERROR) != 0, buf, body_len);
        if (buf != stack) {
            free(buf);
        }
        return;
    }
    if (body_len > MAX_REPLY_BYTES) {
        ms_error("cannot encode a %s reply: %s", srv_method_name(method),
                 frame_strerror(FRAME_ETOOBIG));
        conn_close(c, "reply too large");
        return;
    }
    struct frame_header h = {.length = (uint32_t)body_len,
                             .method = method,
                             .flags = flags,
                             .request_id = request_id};
    uint8_t *dst = out_reserve(c, FRAME_HEADER_BYTES + body_len);
    if (dst == NULL) {
        conn_close(c, "out of memory for replies");
        return;
    }
    int rv = frame_header_encode(&h, dst);
    size_t n = body_len > 0 ? pack(ctx, dst + FRAME_HEADER_BYTES) : 0;
    if (rv != 0 || n != body_len) {
        ms_error("cannot encode a %s reply: %s", srv_method_name(method),
                 frame_strerror(rv != 0 ? rv : FRAME_EINVAL));
        conn_close(c, "reply encoding failed");
        return;
    }
    c->out_len += FRAME_HEADER_BYTES + body_len;
    mark_dirty(c);
}

static size_t pack_pb(const void *ctx, uint8_t *out)
{
    return protobuf_c_message_pack(ctx, out);
}

/* A protobuf reply (NULL msg: empty body), sized once and packed once. */
static void append_frame(struct srv_conn *c, uint16_t method, uint8_t flags,
                         uint64_t request_id, const ProtobufCMessage *msg)
{
    size_t len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : 0;
    append_packed(c, method, flags, request_id, len, pack_pb, msg);
}

void srv_conn_reply_stream(struct srv_conn *c, uint16_t method,
                           uint64_t request_id, uint8_t flags,
                           const ProtobufCMessage *msg)
{
    if (c->closing || c->forward != NULL) {
        return;
    }
    append_frame(c, method, flags, request_id, msg);
}

size_t srv_conn_backlog(const struct srv_conn *c)
{
    if (c->stream_ops != NULL) {
        return c->stream_ops->backlog(c->reply_arg);
    }
    return c->out_len + c->wbuf_len;
}

struct srv_auth_id *srv_conn_auth_id(struct srv_conn *c)
{
    return &c->auth_id;
}

const char *srv_conn_peer(const struct srv_conn *c)
{
    return c->peer;
}

static size_t pack_range(const void *ctx, uint8_t *out)
{
    return range_pack_write(ctx, out);
}

void srv_conn_reply_range(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, const struct range_pack *r)
{
    if (c->closing) {
        return;
    }
    srv_stats_request_done(&s->stats, method, SRV_STATUS_OK,
                           srv_now_ns() - s->reply_start_ns);
    append_packed(c, method, FRAME_FLAG_RESPONSE, request_id,
                  range_pack_size(r), pack_range, r);
}

void srv_conn_reply(struct srv *s, struct srv_conn *c, uint16_t method,
                    uint64_t request_id, const struct srv_reply *r)
{
    if (c->closing) {
        return;
    }
    if (r->status != SRV_STATUS_OK) {
        srv_conn_reply_error(s, c, method, request_id, r->status, r->msg);
        return;
    }
    srv_stats_request_done(&s->stats, method, SRV_STATUS_OK,
                           srv_now_ns() - s->reply_start_ns);
    append_frame(c, method, FRAME_FLAG_RESPONSE, request_id, r->resp);
}

void srv_conn_reply_error(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, int status, const char *msg)
{
    if (c == NULL || c->closing) {
        return;
    }
    Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
    Metastore__ResponseHeader h;
    e.code = (Metastore__StatusCode)status;
    e.message = (char *)(msg != NULL ? msg : srv_status_text(status));
    if (s->eng != NULL && s->raft != NULL) {
        srv_fill_header(s, &h);
        e.header = &h;
    }
    if (status == SRV_STATUS_NOT_LEADER && s->raft != NULL) {
        e.leader_id = raft_leader(s->raft);
        e.leader_addr = (char *)srv_node_leader_addr(s, e.leader_id);
    }
    if (status == SRV_STATUS_INVALID_ARGUMENT ||
        status == SRV_STATUS_UNIMPLEMENTED ||
        status == SRV_STATUS_RESOURCE_EXHAUSTED ||
        status == SRV_STATUS_INTERNAL) {
        /* Refused requests are logged once, here. */
        ms_info("request %llu from %s (%s): %s: %s",
                 (unsigned long long)request_id, c->peer,
                 srv_method_name(method), srv_status_name(status), e.message);
    }
    s->stats.refused++;
    srv_stats_request_done(&s->stats, method, status,
                           srv_now_ns() - s->reply_start_ns);
    append_frame(c, method, FRAME_FLAG_RESPONSE | FRAME_FLAG_ERROR, request_id,
                 &e.base);
}

/* Reply bytes not yet taken by the kernel (plaintext and ciphertext). */
static size_t queued_bytes(const struct srv_conn *c)
{
    size_t n = c->out_len + c->wbuf_len;
    if (c->tls != NULL) {
        n += srv_tls_pending(c->tls);
    }
    return n;
}

static void start_reading(struct srv_conn *c);

static void maybe_resume(struct srv_conn *c)
{
    struct srv *s = c->s;
    if (!c->is_forward && !c->reading && !c->closing && !s->shutting_down &&
        c->pending < s->cfg.server.max_pending_per_conn &&
        queued_bytes(c) < OUT_HIGH_WATER) {
        start_reading(c);
    }
}

void srv_conn_request_start(struct srv_conn *c)
{
    c->pending++;
}

void srv_conn_request_done(struct srv_conn *c)
{
    if (c->pending > 0) {
        c->pending--;
    }
    if (c->is_forward) {
        if (c->pending == 0) {
            srv_conn_unref(c); /* the reference srv_conn_forwarded() gave */
        }
        return;
    }
    maybe_resume(c);
}

static void flush(struct srv_conn *c);

static void on_written(uv_write_t *req, int status)
{
    struct srv_conn *c = req->data;
    c->writing = false;
    c->wbuf_len = 0;
    if (status != 0) {
        if (!c->closing) {
            ms_info("write to %s failed: %s", c->peer, uv_strerror(status));
        }
        conn_close(c, NULL);
    } else if (!c->closing) {
        if (c->out_len > 0 || (c->tls != NULL && srv_tls_pending(c->tls) > 0)) {
            flush(c);
        } else if (c->close_after_flush) {
            conn_close(c, NULL);
        }
        srv_watch_conn_drained(c->s, c);
        maybe_resume(c);
    }
    srv_conn_unref(c);
}

static void write_wbuf(struct srv_conn *c);

/* TLS: encrypt what gathered, then write whatever ciphertext waits (also
 * handshake messages and alerts). */
static void flush_tls(struct srv_conn *c)
{
    if (c->out_len > 0) {
        int rc = srv_tls_write(c->tls, c->out, c->out_len);
        c->out_len = 0;
        if (rc != 0) {
            conn_close(c, rc == SRV_TLS_ENOMEM ? "out of memory for replies"
                                               : srv_tls_error(c->tls));
            return;
        }
    }
    if (srv_tls_take(c->tls, &c->wbuf, &c->wbuf_cap, &c->wbuf_len) != 0) {
        conn_close(c, "out of memory for replies");
        return;
    }
    if (c->wbuf_len > 0) {
        write_wbuf(c);
    }
}

static void flush(struct srv_conn *c)
{
    if (c->closing || c->writing) {
        return;
    }
    if (c->tls != NULL) {
        flush_tls(c);
        return;
    }
    if (c->out_len == 0) {
        return;
    }
    /* Swap buffers: replies keep gathering while this write runs. */
    uint8_t *b = c->wbuf;
    size_t bcap = c->wbuf_cap;
    c->wbuf = c->out;
    c->wbuf_cap = c->out_cap;
    c->wbuf_len = c->out_len;
    c->out = b;
    c->out_cap = bcap;
    c->out_len = 0;
    write_wbuf(c);
}

/* One uv_write of wbuf[0..wbuf_len). */
static void write_wbuf(struct srv_conn *c)
{
    uv_buf_t buf = uv_buf_init((char *)c->wbuf, (unsigned)c->wbuf_len);
    c->s->stats.bytes_sent += c->wbuf_len;
    c->wreq.data = c;
    c->writing = true;
    srv_conn_ref(c);
    int rv = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rv != 0) {
        c->writing = false;
        srv_conn_unref(c);
        conn_close(c, uv_strerror(rv));
    }
}

void srv_conn_flush_all(struct srv *s)
{
    while (s->dirty != NULL) {
        struct srv_conn *c = s->dirty;
        s->dirty = c->next_dirty;
        c->dirty = false;
        flush(c);
        srv_conn_unref(c);
    }
}

/* ---- input ------------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(g_read_buf, sizeof g_read_buf);
}

static void stop_reading(struct srv_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void handle_frame(struct srv_conn *c, const struct frame *f)
{
    struct srv *s = c->s;
    if (f->hdr.flags & FRAME_FLAG_RESPONSE) {
        srv_conn_reply_error(s, c, f->hdr.method, f->hdr.request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "a client may not send responses");
        return;
    }
    srv_conn_request_start(c);
    srv_kv_dispatch(s, c, f->hdr.method, f->hdr.request_id, f->body,
                    f->hdr.length);
}

static void read_frames(struct srv_conn *c, const uint8_t *p, size_t left);
static void read_tls(struct srv_conn *c, const uint8_t *p, size_t len);

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_conn *c = stream->data;
    if (nread == UV_EOF) {
        int rv = frame_decoder_finish(&c->dec);
        conn_close(c, rv != 0 ? "connection ended inside a frame" : NULL);
        return;
    }
    if (nread < 0) {
        conn_close(c, uv_strerror((int)nread));
        return;
    }
    c->s->stats.bytes_received += (uint64_t)nread;
    srv_conn_ref(c);
    if (c->tls != NULL) {
        read_tls(c, (const uint8_t *)buf->base, (size_t)nread);
    } else {
        read_frames(c, (const uint8_t *)buf->base, (size_t)nread);
    }
    if (!c->closing && c->reading &&
        (c->pending >= c->s->cfg.server.max_pending_per_conn ||
         queued_bytes(c) >= OUT_HIGH_WATER)) {
        stop_reading(c); /* backpressure: TCP slows the client down */
    }
    srv_conn_unref(c);
}

/* Cuts plaintext into frames and dispatches each request. */
static void read_frames(struct srv_conn *c, const uint8_t *p, size_t left)
{
    while (!c->closing) {
        struct frame f;
        size_t used = 0;
        int rv = frame_decoder_feed(&c->dec, p, left, &used, &f);
        p += used;
        left -= used;
        if (rv == 1) {
            handle_frame(c, &f);
            continue;
        }
        if (rv == FRAME_ETOOBIG) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "frame body of %u bytes exceeds server.max_frame_bytes "
                     "(%llu)",
                     f.hdr.length,
                     (unsigned long long)c->s->cfg.server.max_frame_bytes);
            ms_warn("client %s: %s; closing", c->peer, msg);
            srv_conn_reply_error(c->s, c, f.hdr.method, f.hdr.request_id,
                                 SRV_STATUS_RESOURCE_EXHAUSTED, msg);
            stop_reading(c);
            c->close_after_flush = true;
        } else if (rv < 0) {
            ms_warn("client %s sent bytes that are not a MetaStore frame (%s); "
                    "closing",
                    c->peer, frame_strerror(rv));
            conn_close(c, NULL);
        }
        break;
    }
}

/* TLS: ciphertext in, plaintext frames out.  Handshake messages the input
 * produced are written by the next flush. */
static void read_tls(struct srv_conn *c, const uint8_t *p, size_t len)
{
    if (srv_tls_feed(c->tls, p, len) != 0) {
        conn_close(c, "out of memory");
        return;
    }
    while (!c->closing && !c->close_after_flush) {
        size_t n = 0;
        int rc = srv_tls_read(c->tls, g_plain_buf, sizeof g_plain_buf, &n);
        if (rc == SRV_TLS_ECLOSED) {
            int frc = frame_decoder_finish(&c->dec);
            conn_close(c, frc != 0 ? "connection ended inside a frame" : NULL);
            return;
        }
        if (rc != 0) {
            ms_warn("client %s: %s; closing", c->peer, srv_tls_error(c->tls));
            conn_close(c, NULL);
            return;
        }
        if (n == 0) {
            break;
        }
        read_frames(c, g_plain_buf, n);
    }
    if (!c->closing && srv_tls_pending(c->tls) > 0) {
        mark_dirty(c);
    }
}

static void start_reading(struct srv_conn *c)
{
    int rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rv != 0) {
        conn_close(c, uv_strerror(rv));
        return;
    }
    c->reading = true;
}

static void peer_name(uv_tcp_t *tcp, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, cap, "?");
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    char host[48] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        uv_ip4_name(in, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(in6, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%d", host, port);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct srv *s = server->data;
    if (status != 0) {
        ms_warn("accept failed: %s", uv_strerror(status));
        return;
    }
    struct srv_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->s = s;
    c->refs = 1;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    frame_decoder_init(&c->dec, (uint32_t)s->cfg.server.max_frame_bytes);
    s->n_conns++;
    c->next = s->conns;
    if (s->conns != NULL) {
        s->conns->prev = c;
    }
    s->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, NULL);
        return;
    }
    peer_name(&c->tcp, c->peer, sizeof c->peer);
    if (s->shutting_down) {
        conn_close(c, "shutting down");
        return;
    }
    if (s->n_conns > s->cfg.server.max_connections) {
        ms_warn("refused client connection %s: server.max_connections (%llu) "
                "reached",
                c->peer, (unsigned long long)s->cfg.server.max_connections);
        s->stats.refused++;
        conn_close(c, NULL);
        return;
    }
    if (s->client_tls != NULL) {
        c->tls = srv_tls_create(s->client_tls, true, NULL);
        if (c->tls == NULL) {
            conn_close(c, "out of memory for TLS");
            return;
        }
    }
    c->accepted_ms = uv_now(s->loop);
    uv_tcp_nodelay(&c->tcp, 1);
    start_reading(c);
}

static void on_handshake_sweep(uv_timer_t *t)
{
    struct srv *s = t->data;
    uint64_t now = uv_now(s->loop);
    uint64_t limit = s->cfg.server.request_timeout_ms;
    struct srv_conn *next;
    for (struct srv_conn *c = s->conns; c != NULL; c = next) {
        next = c->next;
        if (c->tls != NULL && !c->closing && !srv_tls_established(c->tls) &&
            now - c->accepted_ms >= limit) {
            ms_warn("client %s did not finish the TLS handshake within %llu "
                    "ms (server.request_timeout); closing",
                    c->peer, (unsigned long long)limit);
            conn_close(c, NULL);
        }
    }
}

int srv_conn_listen(struct srv *s)
{
    char host[256];
    uint16_t port;
    struct sockaddr_storage addr;
    int rv = srv_addr_split(s->cfg.server.client_listen, host, sizeof host,
                            &port);
    if (rv == 0) {
        rv = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
        if (rv != 0) {
            rv = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
        }
    }
    if (rv != 0) {
        ms_error("server.client_listen %s: not an IP address and port",
                 s->cfg.server.client_listen);
        return rv;
    }
    uv_tcp_init(s->loop, &s->client_listener);
    s->client_listener.data = s;
    rv = uv_tcp_bind(&s->client_listener, (struct sockaddr *)&addr, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&s->client_listener, 511, on_connection);
    }
    if (rv != 0) {
        ms_error("cannot listen for clients on %s: %s",
                 s->cfg.server.client_listen, uv_strerror(rv));
        return rv;
    }
    if (s->client_tls != NULL) {
        uint64_t every = s->cfg.server.request_timeout_ms / 4 + 1;
        uv_timer_init(s->loop, &g_handshake_sweep);
        g_handshake_sweep.data = s;
        uv_timer_start(&g_handshake_sweep, on_handshake_sweep, every, every);
        g_sweep_started = true;
    }
    ms_info("listening for clients on %s", s->cfg.server.client_listen);
    return 0;
}

void srv_conn_close_listener(struct srv *s)
{
    if (g_sweep_started &&
        !uv_is_closing((uv_handle_t *)&g_handshake_sweep)) {
        uv_close((uv_handle_t *)&g_handshake_sweep, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&s->client_listener)) {
        uv_close((uv_handle_t *)&s->client_listener, NULL);
    }
}

void srv_conn_stop_reading_all(struct srv *s)
{
    for (struct srv_conn *c = s->conns; c != NULL; c = c->next) {
        stop_reading(c);
    }
}

void srv_conn_close_all(struct srv *s)
{
    while (s->conns != NULL) {
        conn_close(s->conns, NULL);
    }
}
