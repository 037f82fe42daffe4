/*
 * peer.c - the peer transport: Raft messages and forwarded client requests
 * between members, on libuv (contract in server/peer.h).
 *
 * Happy path, sending: peer_transport_send() encodes the message at once as
 * a Batch record (server/peer_codec.h) at the end of the peer's output
 * queue, inside an open PEER_RAFT frame whose header is filled in when the
 * frame is closed; peer_transport_flush() closes it and hands the whole
 * queue (Batch frames and Forward requests) to one uv_write.
 *
 * Happy path, the outgoing link of a peer: BACKOFF --timer--> (RESOLVING
 * --getaddrinfo-->) CONNECTING --connect--> HELLO --HelloResponse OK--> UP.
 * One timer per peer serves as the backoff wait and as the deadline of a
 * dial (connect + Hello).  Messages sent during a dial wait in the queue;
 * messages sent while backing off are dropped (the peer is down).
 *
 * Happy path, accepted connections: Hello -> HelloResponse, then PEER_RAFT
 * frames (each message handed to on_message) and PEER_FORWARD requests
 * (handed to on_forward; answers are queued on that connection and written
 * by the next flush).
 *
 * Failure modes: dial refused, timed out or connection lost -> queued
 * messages dropped and counted, waiting forwards fail UNAVAILABLE, redial
 * after a jittered exponential backoff; logged once per outage.  Hello
 * refused (other cluster, wrong member) -> logged once on each side, the
 * dialer backs off.  A frame that breaks the protocol or does not decode
 * -> logged, connection closed; so is an accepted connection that sends
 * no Hello within hello_timeout_ms.  A queue over max_queue_bytes -> sends
 * dropped and counted, logged once per burst.
 *
 * Memory: every uv handle (listener, per-peer timer, connections, forward
 * timers) is counted in t->handles and freed in its close callback, so an
 * object stays valid until the loop has let go of it; the transport is
 * freed when the last handle of a closing transport is gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "proto/raft.pb-c.h"
#include "server/config.h"
#include "server/frame.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/status.h"
#include "server/tls.h"

#define READ_BUF_BYTES (256u * 1024u)
#define ADDR_MAX       256
#define NO_BATCH       SIZE_MAX
#define KEEPALIVE_S    10

enum link_state {
    LINK_BACKOFF = 0, /* down: waiting for the timer to redial */
    LINK_RESOLVING,   /* looking up the host name */
    LINK_CONNECTING,  /* TCP connect in progress */
    LINK_HELLO,       /* Hello sent, waiting for HelloResponse */
    LINK_UP,
};

struct peer_conn {
    uv_tcp_t tcp;
    struct peer_transport *t;
    struct peer *peer; /* outgoing: owner (NULL once detached) */
    bool outgoing;
    bool closing;
    bool hello_done;      /* accepted: Hello accepted */
    raft_id remote;       /* accepted: the id the dialer said hello with */
    bool warned_msg;      /* accepted: logged a misaddressed message */
    uint64_t accepted_ms; /* accepted: uv_now() when accepted */
    struct frame_decoder dec;
    uv_connect_t connect_req;
    struct peer_buf out; /* accepted: answers waiting for the next flush */
    struct peer_conn *next, *prev; /* t->conns */
    char name[64];
    struct srv_tls *tls; /* NULL: plain TCP */
};

struct peer_write {
    uv_write_t req;
    struct peer_conn *c;
    uint8_t *data;
    bool close_after; /* a refusal: close once it is written */
};

struct peer_fwd {
    uv_timer_t timer;
    struct peer_transport *t; /* p may be freed before this timer closes */
    struct peer *p;
    uint64_t req_id;
    peer_forward_cb cb;
    void *arg;
    struct peer_fwd *next, *prev; /* p->fwds */
};

struct peer_forward_token {
    struct peer_conn *c; /* NULL once the connection closed */
    uint64_t req_id;
    struct peer_forward_token *next, *prev; /* t->tokens */
};

struct peer_resolve {
    uv_getaddrinfo_t req;
    struct peer *p; /* NULL once abandoned: the callback only frees */
};

struct peer {
    struct peer_transport *t;
    raft_id id;
    char addr[ADDR_MAX];
    struct peer *next; /* t->peers */
    enum link_state state;
    struct peer_conn *conn;       /* CONNECTING, HELLO, UP */
    struct peer_resolve *resolve; /* RESOLVING */
    uv_timer_t timer;             /* backoff wait or dial deadline */
    uint64_t backoff_ms;          /* the next backoff */
    bool outage_logged;           /* "lost"/"cannot connect" said */
    bool refused_logged;          /* a Hello refusal said */
    bool drop_logged;             /* in a burst of drops */
    char outage_why[160];         /* the reason last logged for an outage */
    /* Output: whole frames; the one at batch_off is an open Batch whose
     * header is written when it is closed. */
    struct peer_buf out;
    size_t batch_off;
    uint64_t out_msgs;
    uint64_t out_frames;
    struct peer_fwd *fwds;
    struct peer_stats st;
};

struct peer_transport {
    uv_loop_t *loop;
    raft_id self;
    uint64_t cluster_id;
    struct peer_callbacks cb;
    struct peer_transport_options opts;
    char version[64];
    char listen_addr[ADDR_MAX];
    uv_tcp_t listener;
    uv_timer_t sweep; /* closes accepted connections silent past Hello */
    struct peer *peers;
    struct peer_conn *conns;
    struct peer_forward_token *tokens;
    raft_id drops[RAFT_MAX_MEMBERS];
    size_t n_drops;
    uint64_t next_req_id;
    uint64_t rng;
    unsigned handles; /* open or closing handles */
    bool closing;
    void (*done)(void *);
    void *done_arg;
    uint64_t hellos_refused;
    raft_id refused_from; /* the last refused Hello, to log it once */
    uint64_t refused_cluster;
    char tls_refused[320]; /* the last TLS refusal logged: "host: why" */
    uint8_t plain_buf[READ_BUF_BYTES]; /* decrypted TLS input */
    uint8_t read_buf[READ_BUF_BYTES];
};

static void link_failed(struct peer *p, const char *why);
static void peer_flush(struct peer *p);

/* ---- small helpers ------------------------------------------------------- */

void peer_transport_options_default(struct peer_transport_options *o)
{
    memset(o, 0, sizeof(*o));
    o->max_queue_bytes = 64u << 20;
    o->max_frame_bytes = 9u << 20;
    o->backoff_min_ms = 50;
    o->backoff_max_ms = 2000;
    o->hello_timeout_ms = 5000;
    o->version = "metastore";
}

static void handle_released(struct peer_transport *t)
{
    if (--t->handles == 0 && t->closing) {
        void (*done)(void *) = t->done;
        void *arg = t->done_arg;
        free(t);
        if (done != NULL)
            done(arg);
    }
}

static uint64_t rng_next(struct peer_transport *t)
{
    /* xorshift64*: jitter only, no need for more. */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 0x2545F4914F6CDD1DULL;
}

static struct peer *peer_find(const struct peer_transport *t, raft_id id)
{
    for (struct peer *p = t->peers; p != NULL; p = p->next)
        if (p->id == id)
            return p;
    return NULL;
}

static bool is_dropped(const struct peer_transport *t, raft_id id)
{
    for (size_t i = 0; i < t->n_drops; i++)
        if (t->drops[i] == id)
            return true;
    return false;
}

/* Parses "ip:port" into *sa; false when host is not a literal address. */
static bool parse_ip(const char *host, uint16_t port,
                     struct sockaddr_storage *sa)
{
    memset(sa, 0, sizeof(*sa));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0)
        return true;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0;
}

static void sockaddr_name(const struct sockaddr_storage *ss, char *out,
                          size_t cap)
{
    char host[64] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        uv_ip4_name(in, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(in6, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, cap, "%s:%d", host, port);
}

/* ---- connections --------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    struct peer_conn *c = h->data;
    struct peer_transport *t = c->t;
    frame_decoder_close(&c->dec);
    srv_tls_destroy(c->tls);
    peer_buf_free(&c->out);
    free(c);
    handle_released(t);
}

static struct peer_conn *conn_new(struct peer_transport *t, bool outgoing)
{
    struct peer_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (uv_tcp_init(t->loop, &c->tcp) != 0) {
        free(c);
        return NULL;
    }
    t->handles++;
    c->t = t;
    c->outgoing = outgoing;
    c->tcp.data = c;
    frame_decoder_init(&c->dec, t->opts.max_frame_bytes);
    snprintf(c->name, sizeof(c->name), "?");
    c->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = c;
    t->conns = c;
    return c;
}

/* Best effort, never blocking: a close_notify (or the alert that ended a
 * failed handshake) goes out only if the socket takes it at once. */
static void tls_goodbye(struct peer_conn *c)
{
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;
    srv_tls_close_notify(c->tls);
    if (srv_tls_take(c->tls, &b, &cap, &n) == 0 && n > 0) {
        uv_buf_t buf = uv_buf_init((char *)b, (unsigned)n);
        (void)uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    }
    free(b);
}

/* Closes c (idempotent).  Forward tokens on it are orphaned; an outgoing
 * connection is detached from its peer (the caller fixes the peer's state). */
static void conn_close(struct peer_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    struct peer_transport *t = c->t;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    for (struct peer_forward_token *k = t->tokens; k != NULL; k = k->next)
        if (k->c == c)
            k->c = NULL;
    if (c->peer != NULL && c->peer->conn == c)
        c->peer->conn = NULL;
    c->peer = NULL;
    if (c->tls != NULL) {
        tls_goodbye(c);
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* A connection failed: an outgoing one takes its peer's link down. */
static void conn_fail(struct peer_conn *c, const char *why)
{
    if (c->closing)
        return;
    if (c->outgoing && c->peer != NULL) {
        link_failed(c->peer, why);
        return;
    }
    if (why != NULL)
        ms_info("peer connection from %s (member %llu) closed: %s", c->name,
                (unsigned long long)c->remote, why);
    conn_close(c);
}

static void on_written(uv_write_t *req, int status)
{
    struct peer_write *w = req->data;
    struct peer_conn *c = w->c;
    free(w->data);
    bool close_after = w->close_after;
    free(w);
    if (c->closing)
        return;
    if (status < 0)
        conn_fail(c, uv_strerror(status));
    else if (close_after)
        conn_close(c);
}

/* Writes data[0..len) (ownership passes here) to c's socket. */
static void raw_write(struct peer_conn *c, uint8_t *data, size_t len,
                       bool close_after)
{
    struct peer_write *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        free(data);
        conn_fail(c, "out of memory");
        return;
    }
    w->c = c;
    w->data = data;
    w->close_after = close_after;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
    int rv = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
    if (rv != 0) {
        free(data);
        free(w);
        conn_fail(c, uv_strerror(rv));
    }
}

/* TLS: writes the ciphertext waiting in c's TLS state (handshake
 * messages, encrypted frames). */
static void tls_push(struct peer_conn *c, bool close_after)
{
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;
    if (srv_tls_take(c->tls, &b, &cap, &n) != 0) {
        free(b);
        conn_fail(c, "out of memory");
        return;
    }
    if (n == 0) {
        free(b);
        return;
    }
    raw_write(c, b, n, close_after);
}

/* Writes data[0..len) (ownership passes here) on c, through TLS when the
 * port has it (before the handshake is done it waits inside c->tls). */
static void conn_write(struct peer_conn *c, uint8_t *data, size_t len,
                       bool close_after)
{
    if (c->tls == NULL) {
        raw_write(c, data, len, close_after);
        return;
    }
    int rc = srv_tls_write(c->tls, data, len);
    free(data);
    if (rc != 0) {
        conn_fail(c, rc == SRV_TLS_ENOMEM ? "out of memory"
                                          : srv_tls_error(c->tls));
        return;
    }
    tls_push(c, close_after);
}

/* Appends a whole frame to b.  FRAME_* / PEER_ENOMEM on failure. */
static int buf_put_frame(struct peer_buf *b, uint16_t method, uint8_t flags,
                         uint64_t req_id, const ProtobufCMessage *msg,
                         uint32_t max_body)
{
    size_t need = frame_message_size(msg);
    if (need - FRAME_HEADER_BYTES > max_body)
        return PEER_ETOOBIG;
    int rc = peer_buf_reserve(b, need);
    if (rc != 0)
        return rc;
    size_t written = 0;
    rc = frame_encode_message(method, flags, req_id, msg, max_body,
                              b->data + b->len, &written);
    if (rc != 0)
        return rc;
    b->len += written;
    return 0;
}

/* Writes one frame on c at once (Hello and HelloResponse). */
static void conn_send_now(struct peer_conn *c, uint16_t method, uint8_t flags,
                          const ProtobufCMessage *msg, bool close_after)
{
    struct peer_buf b;
    peer_buf_init(&b);
    int rc = buf_put_frame(&b, method, flags, 0, msg, UINT32_MAX);
    if (rc != 0) {
        peer_buf_free(&b);
        conn_fail(c, "out of memory");
        return;
    }
    conn_write(c, b.data, b.len, close_after);
}

/* ---- the outgoing link --------------------------------------------------- */

static void fwd_timer_closed(uv_handle_t *h)
{
    struct peer_fwd *f = h->data;
    struct peer_transport *t = f->t;
    free(f);
    handle_released(t);
}

/* Unlinks f from its peer and closes its timer (f is freed later). */
static void fwd_detach(struct peer_fwd *f)
{
    struct peer *p = f->p;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        p->fwds = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    f->next = f->prev = NULL;
    uv_close((uv_handle_t *)&f->timer, fwd_timer_closed);
}

/* Fails every forward of p with UNAVAILABLE.  Callbacks run last, after
 * the list is detached, so they may call back into the transport. */
static void fail_forwards(struct peer *p)
{
    struct peer_fwd *list = p->fwds;
    p->fwds = NULL;
    for (struct peer_fwd *f = list; f != NULL; f = f->next) {
        p->st.forwards_failed++;
        uv_close((uv_handle_t *)&f->timer, fwd_timer_closed);
    }
    /* The forwards are freed by their close callbacks, later: safe to
     * walk the list while calling back. */
    for (struct peer_fwd *f = list; f != NULL; f = f->next)
        f->cb(f->arg, SRV_STATUS_UNAVAILABLE, NULL, 0, false);
}

/* Drops the queue of p, counting its messages as dropped. */
static void drop_queue(struct peer *p)
{
    p->st.msgs_dropped += p->out_msgs;
    p->out_msgs = 0;
    p->out_frames = 0;
    p->out.len = 0;
    p->batch_off = NO_BATCH;
    if (p->out.cap > (1u << 20))
        peer_buf_free(&p->out);
}

/* Stops whatever dial or connection p has; leaves it in BACKOFF with the
 * timer stopped.  The caller fails the forwards afterwards. */
static void link_reset(struct peer *p)
{
    if (p->conn != NULL)
        conn_close(p->conn); /* detaches it */
    if (p->resolve != NULL) {
        p->resolve->p = NULL;
        uv_cancel((uv_req_t *)&p->resolve->req);
        p->resolve = NULL;
    }
    uv_timer_stop(&p->timer);
    drop_queue(p);
    p->state = LINK_BACKOFF;
}

static void on_peer_timer(uv_timer_t *timer);

static void arm_backoff(struct peer *p)
{
    struct peer_transport *t = p->t;
    uint64_t b = p->backoff_ms;
    uint64_t delay = b / 2 + rng_next(t) % (b / 2 + 1);
    p->backoff_ms =
        b * 2 > t->opts.backoff_max_ms ? t->opts.backoff_max_ms : b * 2;
    uv_timer_start(&p->timer, on_peer_timer, delay, 0);
}

static void link_failed(struct peer *p, const char *why)
{
    bool was_up = p->state == LINK_UP;
    link_reset(p);
    if (was_up) {
        ms_warn("lost connection to peer %llu (%s): %s",
                (unsigned long long)p->id, p->addr, why);
        p->outage_logged = true;
    } else if (!p->outage_logged || strncmp(why, p->outage_why, 150) != 0) {
        /* Once per outage, and again when the reason changes (refused,
         * then a certificate the TLS handshake rejects). */
        ms_warn("cannot connect to peer %llu at %s: %s; retrying with backoff",
                (unsigned long long)p->id, p->addr, why);
        p->outage_logged = true;
    }
    snprintf(p->outage_why, sizeof(p->outage_why), "%.150s", why);
    if (!p->t->closing)
        arm_backoff(p);
    fail_forwards(p);
}

static void on_out_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void send_hello(struct peer *p)
{
    struct peer_transport *t = p->t;
    Metastore__Raft__Hello h = METASTORE__RAFT__HELLO__INIT;
    h.cluster_id = t->cluster_id;
    h.from = t->self;
    h.to = p->id;
    h.from_peer_addr = t->listen_addr;
    h.version = t->version;
    conn_send_now(p->conn, SRV_METHOD_PEER_HELLO, 0, &h.base, false);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct peer_conn *c = req->data;
    if (c->closing)
        return; /* cancelled by a close */
    struct peer *p = c->peer;
    if (status != 0) {
        link_failed(p, uv_strerror(status));
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_name(&ss, c->name, sizeof(c->name));
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
    int rv = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_out_read);
    if (rv != 0) {
        link_failed(p, uv_strerror(rv));
        return;
    }
    p->state = LINK_HELLO;
    send_hello(p);
}

static void connect_to(struct peer *p, const struct sockaddr *sa)
{
    struct peer_conn *c = conn_new(p->t, true);
    if (c == NULL) {
        link_failed(p, "out of memory");
        return;
    }
    c->peer = p;
    p->conn = c;
    p->state = LINK_CONNECTING;
    if (p->t->opts.tls != NULL) {
        /* The member's certificate must name the host we dial. */
        char host[ADDR_MAX];
        uint16_t port = 0;
        if (srv_addr_split(p->addr, host, sizeof(host), &port) != 0)
            host[0] = '\0';
        c->tls = srv_tls_create(p->t->opts.tls, false, host);
        if (c->tls == NULL) {
            link_failed(p, "out of memory for TLS");
            return;
        }
    }
    c->connect_req.data = c;
    int rv = uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connected);
    if (rv != 0)
        link_failed(p, uv_strerror(rv));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct peer_resolve *r = req->data;
    struct peer *p = r->p;
    if (p == NULL || status != 0 || ai == NULL) {
        if (p != NULL) {
            p->resolve = NULL;
            link_failed(p, status != 0 ? uv_strerror(status)
                                       : "no address for host");
        }
        if (ai != NULL)
            uv_freeaddrinfo(ai);
        free(r);
        return;
    }
    p->resolve = NULL;
    /* Successive dials walk the addresses the name has (IPv6 and IPv4,
     * several containers...), so one dead address does not block the rest. */
    size_t n = 0;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next)
        n++;
    struct addrinfo *pick = ai;
    for (size_t i = (size_t)((p->st.dials - 1) % n); i > 0; i--)
        pick = pick->ai_next;
    connect_to(p, pick->ai_addr);
    uv_freeaddrinfo(ai);
    free(r);
}

/* Starts a dial of p now; its deadline is hello_timeout_ms. */
static void dial(struct peer *p)
{
    struct peer_transport *t = p->t;
    char host[ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage sa;
    p->st.dials++;
    uv_timer_start(&p->timer, on_peer_timer, t->opts.hello_timeout_ms, 0);
    if (srv_addr_split(p->addr, host, sizeof(host), &port) != 0) {
        link_failed(p, "address is not host:port");
        return;
    }
    if (parse_ip(host, port, &sa)) {
        connect_to(p, (const struct sockaddr *)&sa);
        return;
    }
    struct peer_resolve *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        link_failed(p, "out of memory");
        return;
    }
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r->p = p;
    r->req.data = r;
    p->resolve = r;
    p->state = LINK_RESOLVING;
    int rv =
        uv_getaddrinfo(t->loop, &r->req, on_resolved, host, service, &hints);
    if (rv != 0) {
        p->resolve = NULL;
        free(r);
        link_failed(p, uv_strerror(rv));
    }
}

static void on_peer_timer(uv_timer_t *timer)
{
    struct peer *p = timer->data;
    if (p->state == LINK_BACKOFF)
        dial(p);
    else if (p->state != LINK_UP)
        link_failed(p, "timed out connecting");
}

static void handle_hello_response(struct peer *p, const struct frame *f)
{
    Metastore__Raft__HelloResponse *r =
        metastore__raft__hello_response__unpack(NULL, f->hdr.length, f->body);
    if (r == NULL) {
        link_failed(p, "malformed HelloResponse");
        return;
    }
    char why[300];
    why[0] = '\0';
    if (r->code != SRV_STATUS_OK)
        snprintf(why, sizeof(why), "%s: %.200s", srv_status_name((int)r->code),
                 r->message);
    else if (r->from != p->id)
        snprintf(why, sizeof(why), "answered as member %llu",
                 (unsigned long long)r->from);
    else if (r->cluster_id != p->t->cluster_id)
        snprintf(why, sizeof(why), "answered from cluster %llu",
                 (unsigned long long)r->cluster_id);
    metastore__raft__hello_response__free_unpacked(r, NULL);
    if (why[0] != '\0') {
        if (!p->refused_logged)
            ms_error("peer %llu at %s refused our connection: %s",
                     (unsigned long long)p->id, p->addr, why);
        p->refused_logged = true;
        p->st.refused++;
        p->outage_logged = true; /* said once; no "cannot connect" too */
        snprintf(p->outage_why, sizeof(p->outage_why), "%.150s", why);
        link_failed(p, why);
        return;
    }
    uv_timer_stop(&p->timer);
    p->state = LINK_UP;
    p->backoff_ms = p->t->opts.backoff_min_ms;
    p->st.connects++;
    p->outage_logged = false;
    p->refused_logged = false;
    ms_info("connected to peer %llu at %s", (unsigned long long)p->id, p->addr);
    peer_flush(p); /* what waited for the Hello */
}

static void handle_forward_response(struct peer *p, const struct frame *f)
{
    struct peer_fwd *fw = p->fwds;
    while (fw != NULL && fw->req_id != f->hdr.request_id)
        fw = fw->next;
    if (fw == NULL)
        return; /* timed out meanwhile */
    Metastore__Raft__ForwardResponse *r =
        metastore__raft__forward_response__unpack(NULL, f->hdr.length, f->body);
    if (r == NULL ||
        (r->flags & ~(uint32_t)(FRAME_FLAG_RESPONSE | FRAME_FLAG_ERROR)) != 0) {
        if (r != NULL)
            metastore__raft__forward_response__free_unpacked(r, NULL);
        link_failed(p, "malformed ForwardResponse");
        return;
    }
    fwd_detach(fw);
    if (is_dropped(p->t, p->id)) {
        /* Fault hook: the answer is lost; the requester sees a failure. */
        p->st.forwards_failed++;
        fw->cb(fw->arg, SRV_STATUS_UNAVAILABLE, NULL, 0, false);
    } else {
        fw->cb(fw->arg, SRV_STATUS_OK, r->body.data, r->body.len,
               (r->flags & FRAME_FLAG_ERROR) != 0);
    }
    metastore__raft__forward_response__free_unpacked(r, NULL);
}

/* A frame on our outgoing connection.  Returns false if it broke the link. */
static bool handle_out_frame(struct peer *p, const struct frame *f)
{
    if (p->state == LINK_HELLO && f->hdr.method == SRV_METHOD_PEER_HELLO &&
        f->hdr.flags == FRAME_FLAG_RESPONSE) {
        handle_hello_response(p, f);
        return p->state == LINK_UP;
    }
    if (p->state == LINK_UP && f->hdr.method == SRV_METHOD_PEER_FORWARD &&
        f->hdr.flags == FRAME_FLAG_RESPONSE) {
        handle_forward_response(p, f);
        return p->state == LINK_UP;
    }
    char why[96];
    snprintf(why, sizeof(why), "unexpected frame (method %u, flags 0x%x)",
             (unsigned)f->hdr.method, (unsigned)f->hdr.flags);
    link_failed(p, why);
    return false;
}

/* ---- accepted connections ------------------------------------------------ */

static void refuse_hello(struct peer_conn *c, const Metastore__Raft__Hello *h,
                         uint32_t code, const char *msg)
{
    struct peer_transport *t = c->t;
    t->hellos_refused++;
    if (t->refused_from != h->from || t->refused_cluster != h->cluster_id) {
        ms_error("refused peer connection from %s (member %llu, cluster "
                 "%llu): %s",
                 c->name, (unsigned long long)h->from,
                 (unsigned long long)h->cluster_id, msg);
        t->refused_from = h->from;
        t->refused_cluster = h->cluster_id;
    }
    Metastore__Raft__HelloResponse r = METASTORE__RAFT__HELLO_RESPONSE__INIT;
    r.code = code;
    r.message = (char *)msg;
    r.cluster_id = t->cluster_id;
    r.from = t->self;
    uv_read_stop((uv_stream_t *)&c->tcp);
    conn_send_now(c, SRV_METHOD_PEER_HELLO, FRAME_FLAG_RESPONSE, &r.base, true);
}

static bool handle_hello(struct peer_conn *c, const struct frame *f)
{
    struct peer_transport *t = c->t;
    Metastore__Raft__Hello *h =
        metastore__raft__hello__unpack(NULL, f->hdr.length, f->body);
    if (h == NULL) {
        conn_fail(c, "malformed Hello");
        return false;
    }
    char msg[160];
    uint32_t code = SRV_STATUS_OK;
    if (h->cluster_id != t->cluster_id) {
        code = SRV_STATUS_FAILED_PRECONDITION;
        snprintf(msg, sizeof(msg),
                 "cluster id %llu, this member is in "
                 "cluster %llu",
                 (unsigned long long)h->cluster_id,
                 (unsigned long long)t->cluster_id);
    } else if (h->to != RAFT_NONE && h->to != t->self) {
        code = SRV_STATUS_NOT_FOUND;
        snprintf(msg, sizeof(msg), "this is member %llu, not %llu",
                 (unsigned long long)t->self, (unsigned long long)h->to);
    } else if (h->from == RAFT_NONE || h->from == t->self) {
        code = SRV_STATUS_INVALID_ARGUMENT;
        snprintf(msg, sizeof(msg), "bad member id %llu",
                 (unsigned long long)h->from);
    }
    if (code != SRV_STATUS_OK) {
        refuse_hello(c, h, code, msg);
        metastore__raft__hello__free_unpacked(h, NULL);
        return false;
    }
    /* The member redialed: its older connection is dead or dying. */
    struct peer_conn *next;
    for (struct peer_conn *o = t->conns; o != NULL; o = next) {
        next = o->next;
        if (o != c && !o->outgoing && o->hello_done && o->remote == h->from)
            conn_close(o);
    }
    c->remote = h->from;
    c->hello_done = true;
    ms_debug("peer connection from %s is member %llu (%.64s)", c->name,
             (unsigned long long)h->from, h->version);
    metastore__raft__hello__free_unpacked(h, NULL);
    Metastore__Raft__HelloResponse r = METASTORE__RAFT__HELLO_RESPONSE__INIT;
    r.cluster_id = t->cluster_id;
    r.from = t->self;
    conn_send_now(c, SRV_METHOD_PEER_HELLO, FRAME_FLAG_RESPONSE, &r.base,
                  false);
    return !c->closing;
}

static bool handle_batch(struct peer_conn *c, const struct frame *f)
{
    struct peer_transport *t = c->t;
    struct raft_message *msgs = NULL;
    size_t n = 0;
    int rc = peer_codec_decode_batch(f->body, f->hdr.length, &msgs, &n);
    if (rc != 0) {
        ms_warn("bad Raft batch from member %llu (%s): %s; closing",
                (unsigned long long)c->remote, c->name, peer_strerror(rc));
        conn_close(c);
        return false;
    }
    struct peer *p = peer_find(t, c->remote);
    if (p != NULL)
        p->st.bytes_received += f->hdr.length;
    bool drop = is_dropped(t, c->remote);
    for (size_t i = 0; i < n && !drop && !t->closing; i++) {
        const struct raft_message *m = &msgs[i];
        if (m->to != t->self || m->from != c->remote) {
            if (!c->warned_msg)
                ms_warn("member %llu sent a message from %llu to %llu on its "
                        "connection to %llu; dropped",
                        (unsigned long long)c->remote,
                        (unsigned long long)m->from, (unsigned long long)m->to,
                        (unsigned long long)t->self);
            c->warned_msg = true;
            continue;
        }
        p = peer_find(t, c->remote); /* a callback may have removed it */
        if (p != NULL)
            p->st.msgs_received++;
        if (t->cb.on_message != NULL)
            t->cb.on_message(t->cb.data, m);
    }
    peer_codec_free_msgs(msgs, n);
    return !c->closing && !t->closing;
}

static void reply_unimplemented(struct peer_transport *t,
                                struct peer_forward_token *k)
{
    Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
    e.code = (Metastore__StatusCode)SRV_STATUS_UNIMPLEMENTED;
    e.message = (char *)"this member does not take forwarded requests";
    size_t len = protobuf_c_message_get_packed_size(&e.base);
    uint8_t *b = malloc(len > 0 ? len : 1);
    if (b != NULL)
        protobuf_c_message_pack(&e.base, b);
    peer_forward_reply(t, k, true, b, b != NULL ? len : 0);
    free(b);
}

static bool handle_forward(struct peer_conn *c, const struct frame *f)
{
    struct peer_transport *t = c->t;
    Metastore__Raft__Forward *fw =
        metastore__raft__forward__unpack(NULL, f->hdr.length, f->body);
    if (fw == NULL || fw->method == 0 || fw->method > UINT16_MAX) {
        if (fw != NULL)
            metastore__raft__forward__free_unpacked(fw, NULL);
        conn_fail(c, "malformed Forward");
        return false;
    }
    if (is_dropped(t, c->remote)) {
        metastore__raft__forward__free_unpacked(fw, NULL);
        return true;
    }
    struct peer_forward_token *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        metastore__raft__forward__free_unpacked(fw, NULL);
        conn_fail(c, "out of memory");
        return false;
    }
    k->c = c;
    k->req_id = f->hdr.request_id;
    k->next = t->tokens;
    if (t->tokens != NULL)
        t->tokens->prev = k;
    t->tokens = k;
    if (t->cb.on_forward != NULL)
        t->cb.on_forward(t->cb.data, c->remote, (uint16_t)fw->method,
                         fw->body.data, fw->body.len, fw->timeout_ms, k);
    else
        reply_unimplemented(t, k);
    metastore__raft__forward__free_unpacked(fw, NULL);
    return !c->closing && !t->closing;
}

/* A frame on an accepted connection.  Returns false once c is closing. */
static bool handle_in_frame(struct peer_conn *c, const struct frame *f)
{
    uint16_t method = f->hdr.method;
    if (f->hdr.flags == 0 && !c->hello_done && method == SRV_METHOD_PEER_HELLO)
        return handle_hello(c, f);
    if (f->hdr.flags == 0 && c->hello_done && method == SRV_METHOD_PEER_RAFT)
        return handle_batch(c, f);
    if (f->hdr.flags == 0 && c->hello_done && method == SRV_METHOD_PEER_FORWARD)
        return handle_forward(c, f);
    char why[96];
    snprintf(why, sizeof(why), "unexpected frame (method %u, flags 0x%x)%s",
             (unsigned)method, (unsigned)f->hdr.flags,
             c->hello_done ? "" : " before Hello");
    ms_warn("peer connection from %s: %s; closing", c->name, why);
    conn_close(c);
    return false;
}

/* ---- reading ------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct peer_conn *c = h->data;
    *buf = uv_buf_init((char *)c->t->read_buf, READ_BUF_BYTES);
}

/* Cuts data into frames and hands each to the connection's handler. */
static void read_frames(struct peer_conn *c, const uint8_t *data, size_t len)
{
    struct peer_transport *t = c->t;
    while (!c->closing && !t->closing) {
        struct frame f;
        size_t used = 0;
        int rc = frame_decoder_feed(&c->dec, data, len, &used, &f);
        data += used;
        len -= used;
        if (rc == 0)
            return;
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof(why), "bad frame: %s", frame_strerror(rc));
            if (!c->outgoing)
                ms_warn("peer connection from %s: %s; closing", c->name, why);
            conn_fail(c, why);
            return;
        }
        bool ok;
        if (c->outgoing)
            ok = c->peer != NULL && handle_out_frame(c->peer, &f);
        else
            ok = handle_in_frame(c, &f);
        if (!ok)
            return;
    }
}

/* A refused TLS handshake on an accepted connection: warned about once per
 * remote host and reason (a refused member redials every few seconds). */
static void log_tls_refusal(struct peer_conn *c, const char *why)
{
    struct peer_transport *t = c->t;
    char key[sizeof(t->tls_refused)];
    const char *colon = strrchr(c->name, ':');
    int host_len = colon != NULL ? (int)(colon - c->name) : (int)strlen(c->name);
    snprintf(key, sizeof(key), "%.*s: %s", host_len, c->name, why);
    t->hellos_refused++;
    if (strcmp(key, t->tls_refused) == 0) {
        ms_debug("refused peer connection from %s: %s", c->name, why);
        return;
    }
    snprintf(t->tls_refused, sizeof(t->tls_refused), "%s", key);
    ms_warn("refused peer connection from %s: %s", c->name, why);
}

/* TLS: ciphertext in, plaintext frames out, handshake replies written. */
static void read_tls(struct peer_conn *c, const uint8_t *data, size_t len)
{
    struct peer_transport *t = c->t;
    if (srv_tls_feed(c->tls, data, len) != 0) {
        conn_fail(c, "out of memory");
        return;
    }
    while (!c->closing && !t->closing) {
        size_t n = 0;
        int rc = srv_tls_read(c->tls, t->plain_buf, sizeof(t->plain_buf), &n);
        if (rc == SRV_TLS_ECLOSED) {
            conn_fail(c, "connection closed by peer");
            return;
        }
        if (rc != 0) {
            if (!c->outgoing && !srv_tls_established(c->tls)) {
                log_tls_refusal(c, srv_tls_error(c->tls));
                conn_close(c);
            } else {
                conn_fail(c, srv_tls_error(c->tls));
            }
            return;
        }
        if (n == 0)
            break;
        read_frames(c, t->plain_buf, n);
    }
    if (!c->closing && !t->closing && srv_tls_pending(c->tls) > 0)
        tls_push(c, false);
}

static void on_read_common(struct peer_conn *c, ssize_t nread,
                           const uv_buf_t *buf)
{
    if (c->closing)
        return;
    if (nread == UV_EOF) {
        conn_fail(c, "connection closed by peer");
        return;
    }
    if (nread < 0) {
        conn_fail(c, uv_strerror((int)nread));
        return;
    }
    if (c->tls != NULL)
        read_tls(c, (const uint8_t *)buf->base, (size_t)nread);
    else
        read_frames(c, (const uint8_t *)buf->base, (size_t)nread);
}

static void on_out_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    on_read_common(s->data, nread, buf);
}

static void on_in_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    on_read_common(s->data, nread, buf);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct peer_transport *t = server->data;
    if (status != 0) {
        ms_warn("peer accept failed: %s", uv_strerror(status));
        return;
    }
    struct peer_conn *c = conn_new(t, false);
    if (c == NULL)
        return;
    c->accepted_ms = uv_now(t->loop);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        sockaddr_name(&ss, c->name, sizeof(c->name));
    if (t->opts.tls != NULL) {
        c->tls = srv_tls_create(t->opts.tls, true, NULL);
        if (c->tls == NULL) {
            conn_close(c);
            return;
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_in_read) != 0)
        conn_close(c);
}

/* ---- creating and closing ------------------------------------------------ */

/* An accepted connection must say Hello within hello_timeout_ms. */
static void on_sweep(uv_timer_t *timer)
{
    struct peer_transport *t = timer->data;
    uint64_t now = uv_now(t->loop);
    struct peer_conn *next;
    for (struct peer_conn *c = t->conns; c != NULL; c = next) {
        next = c->next;
        if (!c->outgoing && !c->hello_done &&
            now - c->accepted_ms >= t->opts.hello_timeout_ms) {
            ms_warn("peer connection from %s sent no Hello within %llu ms; "
                    "closing",
                    c->name, (unsigned long long)t->opts.hello_timeout_ms);
            conn_close(c);
        }
    }
}

static void on_sweep_closed(uv_handle_t *h)
{
    handle_released(h->data);
}

static void fill_options(struct peer_transport_options *o,
                         const struct peer_transport_options *in)
{
    peer_transport_options_default(o);
    if (in == NULL)
        return;
    if (in->max_queue_bytes != 0)
        o->max_queue_bytes = in->max_queue_bytes;
    if (in->max_frame_bytes != 0)
        o->max_frame_bytes = in->max_frame_bytes;
    if (in->backoff_min_ms != 0)
        o->backoff_min_ms = in->backoff_min_ms;
    if (in->backoff_max_ms != 0)
        o->backoff_max_ms = in->backoff_max_ms;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms;
    if (in->hello_timeout_ms != 0)
        o->hello_timeout_ms = in->hello_timeout_ms;
    o->seed = in->seed;
    if (in->version != NULL)
        o->version = in->version;
    o->tls = in->tls;
}

static void on_listener_closed(uv_handle_t *h)
{
    handle_released(h->data);
}

int peer_transport_create(uv_loop_t *loop, raft_id self, uint64_t cluster_id,
                          const char *listen_addr,
                          const struct peer_callbacks *cb,
                          const struct peer_transport_options *opts,
                          struct peer_transport **out)
{
    char host[ADDR_MAX];
    uint16_t port = 0;
    struct sockaddr_storage sa;
    *out = NULL;
    if (self == RAFT_NONE || listen_addr == NULL ||
        strlen(listen_addr) >= ADDR_MAX ||
        srv_addr_split(listen_addr, host, sizeof(host), &port) != 0 ||
        !parse_ip(host, port, &sa))
        return PEER_EINVAL;
    struct peer_transport *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return PEER_ENOMEM;
    t->loop = loop;
    t->self = self;
    t->cluster_id = cluster_id;
    if (cb != NULL)
        t->cb = *cb;
    fill_options(&t->opts, opts);
    snprintf(t->version, sizeof(t->version), "%s", t->opts.version);
    t->opts.version = t->version;
    snprintf(t->listen_addr, sizeof(t->listen_addr), "%s", listen_addr);
    t->rng = t->opts.seed != 0 ? t->opts.seed : (uv_hrtime() | 1);
    t->next_req_id = 1;
    int rv = uv_tcp_init(loop, &t->listener);
    if (rv != 0) {
        free(t);
        return rv;
    }
    t->handles = 1;
    t->listener.data = t;
    uv_timer_init(loop, &t->sweep);
    t->handles++;
    t->sweep.data = t;
    rv = uv_tcp_bind(&t->listener, (const struct sockaddr *)&sa, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&t->listener, 128, on_connection);
    if (rv != 0) {
        ms_error("cannot listen for peers on %s: %s", listen_addr,
                 uv_strerror(rv));
        t->closing = true;
        uv_close((uv_handle_t *)&t->sweep, on_sweep_closed);
        uv_close((uv_handle_t *)&t->listener, on_listener_closed);
        return rv;
    }
    uint64_t every = t->opts.hello_timeout_ms / 4 + 1;
    uv_timer_start(&t->sweep, on_sweep, every, every);
    ms_info("listening for peers on %s", listen_addr);
    *out = t;
    return 0;
}

int peer_transport_listen_port(const struct peer_transport *t)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getsockname(&t->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void on_peer_timer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    struct peer_transport *t = p->t;
    peer_buf_free(&p->out);
    free(p);
    handle_released(t);
}

/* Unlinks p (already off t->peers), tears its link down and frees it once
 * its timer is closed.  Forwards fail last. */
static void peer_destroy(struct peer *p)
{
    link_reset(p);
    p->state = LINK_BACKOFF;
    uv_close((uv_handle_t *)&p->timer, on_peer_timer_closed);
    fail_forwards(p);
}

void peer_transport_close(struct peer_transport *t, void (*done)(void *),
                          void *arg)
{
    if (t->closing)
        return;
    t->closing = true;
    t->done = done;
    t->done_arg = arg;
    uv_close((uv_handle_t *)&t->sweep, on_sweep_closed);
    uv_close((uv_handle_t *)&t->listener, on_listener_closed);
    while (t->peers != NULL) {
        struct peer *p = t->peers;
        t->peers = p->next;
        peer_destroy(p);
    }
    while (t->conns != NULL)
        conn_close(t->conns);
    while (t->tokens != NULL) {
        struct peer_forward_token *k = t->tokens;
        t->tokens = k->next;
        free(k);
    }
}

/* ---- peers --------------------------------------------------------------- */

int peer_transport_set_peer(struct peer_transport *t, raft_id id,
                            const char *addr)
{
    char host[ADDR_MAX];
    uint16_t port;
    if (t->closing)
        return PEER_ECLOSED;
    if (id == RAFT_NONE || id == t->self || addr == NULL ||
        strlen(addr) >= ADDR_MAX ||
        srv_addr_split(addr, host, sizeof(host), &port) != 0 || port == 0)
        return PEER_EINVAL;
    struct peer *p = peer_find(t, id);
    if (p != NULL) {
        if (strcmp(p->addr, addr) == 0)
            return 0;
        ms_info("peer %llu moved from %s to %s", (unsigned long long)id,
                p->addr, addr);
        snprintf(p->addr, sizeof(p->addr), "%s", addr);
        link_reset(p);
        p->backoff_ms = t->opts.backoff_min_ms;
        p->outage_logged = false;
        p->refused_logged = false;
        dial(p);
        fail_forwards(p);
        return 0;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return PEER_ENOMEM;
    if (uv_timer_init(t->loop, &p->timer) != 0) {
        free(p);
        return PEER_ENOMEM;
    }
    t->handles++;
    p->timer.data = p;
    p->t = t;
    p->id = id;
    snprintf(p->addr, sizeof(p->addr), "%s", addr);
    p->batch_off = NO_BATCH;
    p->backoff_ms = t->opts.backoff_min_ms;
    p->st.id = id;
    p->next = t->peers;
    t->peers = p;
    dial(p);
    return 0;
}

void peer_transport_remove_peer(struct peer_transport *t, raft_id id)
{
    for (struct peer **pp = &t->peers; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct peer *p = *pp;
            *pp = p->next;
            ms_info("peer %llu (%s) removed", (unsigned long long)id, p->addr);
            peer_destroy(p);
            return;
        }
    }
}

int peer_transport_set_drop(struct peer_transport *t, raft_id id, bool drop)
{
    for (size_t i = 0; i < t->n_drops; i++) {
        if (t->drops[i] == id) {
            if (!drop)
                t->drops[i] = t->drops[--t->n_drops];
            return 0;
        }
    }
    if (!drop)
        return 0;
    if (t->n_drops == RAFT_MAX_MEMBERS)
        return PEER_ENOMEM;
    t->drops[t->n_drops++] = id;
    ms_warn("fault hook: dropping all traffic to and from member %llu",
            (unsigned long long)id);
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

static void drop_msg(struct peer *p, const char *why)
{
    p->st.msgs_dropped++;
    if (!p->drop_logged)
        ms_warn("dropping messages to peer %llu: %s", (unsigned long long)p->id,
                why);
    p->drop_logged = true;
}

static uint64_t queued_bytes(const struct peer *p)
{
    uint64_t n = p->out.len;
    if (p->conn != NULL)
        n += uv_stream_get_write_queue_size((const uv_stream_t *)&p->conn->tcp);
    return n;
}

/* Writes the header of the open Batch frame, if any. */
static void close_batch(struct peer *p)
{
    if (p->batch_off == NO_BATCH)
        return;
    struct frame_header h = {
        .length = (uint32_t)(p->out.len - p->batch_off - FRAME_HEADER_BYTES),
        .method = SRV_METHOD_PEER_RAFT,
        .flags = 0,
        .request_id = 0,
    };
    frame_header_encode(&h, p->out.data + p->batch_off);
    p->out_frames++;
    p->batch_off = NO_BATCH;
}

void peer_transport_send(struct peer_transport *t, const struct raft_message *m)
{
    if (t->closing)
        return;
    struct peer *p = peer_find(t, m->to);
    if (p == NULL)
        return; /* not a peer (yet): Raft retries */
    if (is_dropped(t, m->to)) {
        p->st.msgs_dropped++;
        return;
    }
    if (p->state == LINK_BACKOFF) {
        drop_msg(p, "peer down");
        return;
    }
    size_t start = p->out.len;
    size_t old_batch = p->batch_off;
    if (peer_codec_append_record(&p->out, m) != 0) {
        drop_msg(p, "out of memory");
        return;
    }
    size_t rec = p->out.len - start;
    size_t max_body = t->opts.max_frame_bytes;
    if (rec > max_body) {
        p->out.len = start;
        drop_msg(p, "message larger than the frame limit");
        return;
    }
    if (p->batch_off == NO_BATCH ||
        start - p->batch_off - FRAME_HEADER_BYTES + rec > max_body) {
        /* Start a new Batch frame in front of the record. */
        if (peer_buf_reserve(&p->out, FRAME_HEADER_BYTES) != 0) {
            p->out.len = start;
            drop_msg(p, "out of memory");
            return;
        }
        p->out.len = start; /* the old Batch ends where the record starts */
        close_batch(p);
        p->out.len = start + rec;
        memmove(p->out.data + start + FRAME_HEADER_BYTES, p->out.data + start,
                rec);
        p->batch_off = start;
        p->out.len += FRAME_HEADER_BYTES;
    }
    if (queued_bytes(p) > t->opts.max_queue_bytes) {
        if (p->batch_off != old_batch && old_batch != NO_BATCH)
            p->out_frames--; /* reopen the Batch close_batch() closed */
        p->out.len = start;
        p->batch_off = old_batch;
        drop_msg(p, "queue full (peer slow or not reading)");
        return;
    }
    p->out_msgs++;
    p->drop_logged = false;
}

static void peer_flush(struct peer *p)
{
    if (p->state != LINK_UP || p->conn == NULL || p->out.len == 0)
        return;
    close_batch(p);
    uint8_t *data = p->out.data;
    size_t len = p->out.len;
    p->st.msgs_sent += p->out_msgs;
    p->st.frames_sent += p->out_frames;
    p->st.bytes_sent += len;
    p->out_msgs = 0;
    p->out_frames = 0;
    peer_buf_init(&p->out);
    conn_write(p->conn, data, len, false);
}

void peer_transport_flush(struct peer_transport *t)
{
    if (t->closing)
        return;
    for (struct peer *p = t->peers; p != NULL; p = p->next)
        peer_flush(p);
    struct peer_conn *next;
    for (struct peer_conn *c = t->conns; c != NULL; c = next) {
        next = c->next; /* a failed write closes c */
        if (!c->outgoing && c->out.len > 0) {
            uint8_t *data = c->out.data;
            size_t len = c->out.len;
            peer_buf_init(&c->out);
            conn_write(c, data, len, false);
        }
    }
}

/* ---- forwarding ---------------------------------------------------------- */

static void on_fwd_timeout(uv_timer_t *timer)
{
    struct peer_fwd *f = timer->data;
    f->p->st.forwards_failed++;
    fwd_detach(f);
    f->cb(f->arg, SRV_STATUS_UNAVAILABLE, NULL, 0, false);
}

int peer_forward(struct peer_transport *t, raft_id to, uint16_t method,
                 const uint8_t *body, size_t len, uint64_t timeout_ms,
                 peer_forward_cb cb, void *arg)
{
    if (t->closing)
        return PEER_ECLOSED;
    if (cb == NULL)
        return PEER_EINVAL;
    struct peer *p = peer_find(t, to);
    if (p == NULL)
        return PEER_ENOTFOUND;
    if (p->state == LINK_BACKOFF)
        return PEER_EUNAVAILABLE;
    struct peer_fwd *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return PEER_ENOMEM;
    uint64_t req_id = t->next_req_id++;
    if (!is_dropped(t, to)) {
        Metastore__Raft__Forward fw = METASTORE__RAFT__FORWARD__INIT;
        fw.from = t->self;
        fw.method = method;
        fw.body.data = (uint8_t *)body;
        fw.body.len = body != NULL ? len : 0;
        fw.timeout_ms = timeout_ms;
        size_t keep = p->out.len;
        size_t keep_batch = p->batch_off;
        uint64_t keep_frames = p->out_frames;
        close_batch(p);
        int rc = buf_put_frame(&p->out, SRV_METHOD_PEER_FORWARD, 0, req_id,
                               &fw.base, t->opts.max_frame_bytes);
        if (rc != 0) {
            p->out.len = keep;
            p->batch_off = keep_batch;
            p->out_frames = keep_frames;
            free(f);
            return rc == PEER_ETOOBIG || rc == FRAME_ETOOBIG ? PEER_ETOOBIG
                                                             : PEER_ENOMEM;
        }
    }
    uv_timer_init(t->loop, &f->timer);
    t->handles++;
    f->timer.data = f;
    f->t = t;
    f->p = p;
    f->req_id = req_id;
    f->cb = cb;
    f->arg = arg;
    f->next = p->fwds;
    if (p->fwds != NULL)
        p->fwds->prev = f;
    p->fwds = f;
    if (timeout_ms > 0)
        uv_timer_start(&f->timer, on_fwd_timeout, timeout_ms, 0);
    p->st.forwards_sent++;
    return 0;
}

void peer_forward_reply(struct peer_transport *t,
                        struct peer_forward_token *token, bool is_error,
                        const uint8_t *body, size_t len)
{
    if (token->prev != NULL)
        token->prev->next = token->next;
    else
        t->tokens = token->next;
    if (token->next != NULL)
        token->next->prev = token->prev;
    struct peer_conn *c = token->c;
    uint64_t req_id = token->req_id;
    free(token);
    if (c == NULL || c->closing)
        return;
    Metastore__Raft__ForwardResponse r =
        METASTORE__RAFT__FORWARD_RESPONSE__INIT;
    r.flags = FRAME_FLAG_RESPONSE | (is_error ? FRAME_FLAG_ERROR : 0);
    r.body.data = (uint8_t *)body;
    r.body.len = body != NULL ? len : 0;
    size_t keep = c->out.len;
    int rc =
        buf_put_frame(&c->out, SRV_METHOD_PEER_FORWARD, FRAME_FLAG_RESPONSE,
                      req_id, &r.base, t->opts.max_frame_bytes);
    if (rc == PEER_ETOOBIG || rc == FRAME_ETOOBIG) {
        /* Too large for the requester's frame limit: say so instead. */
        c->out.len = keep;
        Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
        e.code = (Metastore__StatusCode)SRV_STATUS_RESOURCE_EXHAUSTED;
        e.message = (char *)"forwarded reply larger than the peer frame limit";
        uint8_t eb[128];
        r.flags = FRAME_FLAG_RESPONSE | FRAME_FLAG_ERROR;
        r.body.data = eb;
        r.body.len = protobuf_c_message_pack(&e.base, eb);
        rc =
            buf_put_frame(&c->out, SRV_METHOD_PEER_FORWARD, FRAME_FLAG_RESPONSE,
                          req_id, &r.base, t->opts.max_frame_bytes);
    }
    if (rc != 0) {
        c->out.len = keep;
        conn_fail(c, "out of memory");
    }
}

/* ---- statistics ---------------------------------------------------------- */

static void fill_stats(const struct peer *p, struct peer_stats *out)
{
    *out = p->st;
    out->id = p->id;
    out->connected = p->state == LINK_UP;
    out->dropping = is_dropped(p->t, p->id);
    out->queued_bytes = queued_bytes(p);
}

int peer_transport_stats(const struct peer_transport *t, raft_id id,
                         struct peer_stats *out)
{
    const struct peer *p = peer_find(t, id);
    if (p == NULL)
        return PEER_ENOTFOUND;
    fill_stats(p, out);
    return 0;
}

size_t peer_transport_stats_all(const struct peer_transport *t,
                                struct peer_stats *out, size_t cap)
{
    size_t n = 0;
    for (const struct peer *p = t->peers; p != NULL; p = p->next, n++)
        if (n < cap)
            fill_stats(p, &out[n]);
    return n;
}

uint64_t peer_transport_hellos_refused(const struct peer_transport *t)
{
    return t->hellos_refused;
}
