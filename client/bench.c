/*
 * bench.c - metastore-bench, the load generator of MetaStore-C.
 *
 * Happy path: parse the flags (client/bench_util.c); ask every endpoint for
 * its Status with the synchronous client library to learn the roles, and
 * keep the endpoints --target names; open --conns TCP connections on one
 * libuv loop, spread round-robin over those endpoints; optionally put every
 * key once through the same pipeline (--preload); then keep --depth
 * requests in flight on every connection, matched to their answers by
 * request id, until --duration has passed or --requests were sent; wait for
 * the answers still in flight; print throughput, errors by status and the
 * latency histogram (or one JSON object with --json).
 *
 * Speed: requests are encoded straight into a per-connection output buffer
 * and every connection has at most one uv_write in flight, carrying every
 * frame queued since the previous one; buffers are reused; request
 * bodies are written by hand (client/bench_wire.c); successful answers are
 * matched by header only, never unpacked, unless --verify asks for a full
 * decode of each.
 *
 * Failure modes: an error answer is counted by its status (NOT_LEADER
 * included; the bench does not follow redirects, it learns the leader once
 * at start); a connection that fails or sends a malformed frame is closed
 * and its requests in flight are counted as CONNECTION_LOST or
 * PROTOCOL_ERROR; requests still unanswered 5 s after the end are counted
 * as ABANDONED.  The run ends early when every connection is gone.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client/bench_util.h"
#include "client/bench_wire.h"
#include "client/internal.h"
#include "client/metastore.h"
#include "proto/metastore.pb-c.h"

#define MAX_BODY       MS__MAX_BODY_BYTES
#define READ_CHUNK     (64u * 1024u)
#define DRAIN_MS       5000u
#define LEADER_WAIT_MS 5000u
#define N_STATUS       128 /* server codes 0..126; 127 = anything larger */
#define ST_CONN_LOST   (N_STATUS + 0)
#define ST_PROTO       (N_STATUS + 1)
#define ST_ABANDONED   (N_STATUS + 2)
#define ST_BAD_ANSWER  (N_STATUS + 3) /* --verify found a wrong answer */
#define N_ERR_SLOTS    (N_STATUS + 4)

enum kind { K_PING = 0, K_RANGE, K_PUT, K_COUNT };
static const char *const kind_names[K_COUNT] = {"ping", "range", "put"};

enum phase { PH_CONNECT, PH_PRELOAD, PH_MAIN, PH_DONE };

struct buf {
    uint8_t *p;
    size_t len, cap;
};

struct slot {
    uint64_t id;
    uint64_t start_ns;
    uint64_t key; /* the key's index, for --verify */
    uint8_t kind;
    uint8_t busy;
};

struct target {
    const char *endpoint;
    char role[32];
    uint64_t member_id;
    struct sockaddr_storage addr;
};

struct run;

struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct run *run;
    const struct target *target;
    struct slot *slots;
    uint32_t *free_ids;
    uint32_t n_free;
    uint64_t seq;
    struct buf out;  /* frames queued since the last write */
    struct buf wout; /* the frames of the write in flight */
    struct buf in;   /* bytes read, not yet a whole frame */
    /* --http: answers come in request order; the slots in flight, oldest
     * first. */
    uint32_t *fifo;
    uint32_t fifo_head, fifo_len;
    bool writing;
    bool tcp_open; /* uv_tcp_init done: the handle must be closed */
    bool connected;
    bool dead;
    /* TLS (NULL ssl: plain TCP); the BIOs belong to ssl */
    SSL *ssl;
    BIO *rbio, *wbio;
    struct buf cin; /* ciphertext just read */
};

struct stats {
    uint64_t ok[K_COUNT];
    uint64_t errs[N_ERR_SLOTS];
    uint64_t n_errs;
    struct bench_hist hist[K_COUNT];
    struct bench_hist all;
};

struct run {
    uv_loop_t *loop;
    const struct bench_opts *o;
    struct target *targets;
    size_t n_targets;
    struct conn *conns;
    size_t n_conns, n_connect_done, n_connected, n_dead, n_connect_failed;
    size_t n_lost; /* connections lost after connecting */
    enum phase phase;
    bool stop_issuing;
    bool tty;
    int rc;
    uint64_t issued, inflight, completed;
    uint64_t preload_next, preload_done, preload_errors;
    uint64_t preload_start_ns, preload_ns;
    struct bench_rate rate;
    struct bench_rng rng;
    struct bench_zipf zipf;
    uint8_t *value;
    uv_timer_t t_stop, t_pace, t_progress, t_drain;
    uv_signal_t sig_int;
    uint64_t start_ns, last_done_ns;
    uint64_t prog_ns, prog_completed;
    size_t rr;
    struct stats st;
    SSL_CTX *tls_ctx; /* NULL: plain TCP */
};

static void conn_fail(struct conn *c, int slot_status, const char *why);
static void run_check_done(struct run *r);
static void run_stop_issuing(struct run *r);

/* ---- buffers ------------------------------------------------------------ */

static uint8_t *buf_reserve(struct buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap != 0 ? b->cap : 4096;
        while (cap - b->len < n) {
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) {
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- issuing requests ------------------------------------------------- */

static uint64_t pick_key(struct run *r)
{
    if (r->o->dist == BENCH_DIST_ZIPFIAN) {
        return bench_zipf_next(&r->zipf, &r->rng);
    }
    return bench_rng_below(&r->rng, r->o->keys);
}

static enum kind pick_kind(struct run *r)
{
    switch (r->o->op) {
    case BENCH_OP_PING:
        return K_PING;
    case BENCH_OP_PUT:
        return K_PUT;
    case BENCH_OP_RANGE:
        return K_RANGE;
    case BENCH_OP_MIXED:
        break;
    }
    return bench_rng_double(&r->rng) < r->o->read_ratio ? K_RANGE : K_PUT;
}

/* --http: appends one HTTP request to c->out.  0 or MS_ENOMEM. */
static int encode_http(struct conn *c, enum kind k, uint64_t key_idx)
{
    struct run *r = c->run;
    char key[BENCH_KEY_MAX];
    size_t klen = k != K_PING ? bench_key_format(key_idx, key) : 0;
    enum bench_http_kind hk = k == K_RANGE ? BENCH_HTTP_RANGE
                              : k == K_PUT ? BENCH_HTTP_PUT
                                           : BENCH_HTTP_STATUS;
    bool ser = r->o->consistency == MS_CONSISTENCY_SERIALIZABLE;
    /* Base64 takes 4/3 of the bytes; the head about 150. */
    if (buf_reserve(&c->out, 256 + 2 * (klen + r->o->value_size)) == NULL) {
        return MS_ENOMEM;
    }
    size_t cap = c->out.cap - c->out.len;
    size_t need = bench_http_request((char *)c->out.p + c->out.len, cap, hk,
                                     c->target->endpoint, key, klen, r->value,
                                     r->o->value_size, ser);
    if (need > cap) {
        if (need == (size_t)-1 || buf_reserve(&c->out, need) == NULL) {
            return MS_ENOMEM;
        }
        need = bench_http_request((char *)c->out.p + c->out.len, need, hk,
                                  c->target->endpoint, key, klen, r->value,
                                  r->o->value_size, ser);
    }
    c->out.len += need;
    return 0;
}

/* Appends one request frame to c->out.  Returns 0 or MS_ENOMEM.  The
 * bodies are written by client/bench_wire.c, not protobuf-c: same bytes,
 * a fraction of the bench's instructions per request. */
static int encode_request(struct conn *c, enum kind k, uint64_t key_idx,
                          uint64_t id)
{
    struct run *r = c->run;
    char key[BENCH_KEY_MAX];
    if (r->o->http) {
        (void)id;
        return encode_http(c, k, key_idx);
    }
    size_t klen = k != K_PING ? bench_key_format(key_idx, key) : 0;
    size_t max = k == K_RANGE ? BENCH_WIRE_RANGE_MAX
                 : k == K_PUT
                     ? bench_wire_put_request_size(klen, r->o->value_size)
                     : 0;
    uint8_t *p = buf_reserve(&c->out, MS__FRAME_HEADER_BYTES + max);
    if (p == NULL) {
        return MS_ENOMEM;
    }
    uint8_t *b = p + MS__FRAME_HEADER_BYTES;
    size_t body = 0;
    uint16_t method = MS__METHOD_PING;
    if (k == K_RANGE) {
        body = bench_wire_range_request(
            b, key, klen, r->o->consistency == MS_CONSISTENCY_SERIALIZABLE);
        method = MS__METHOD_RANGE;
    } else if (k == K_PUT) {
        body = bench_wire_put_request(b, key, klen, r->value, r->o->value_size);
        method = MS__METHOD_PUT;
    }
    struct ms__frame_header h = {.length = (uint32_t)body,
                                 .method = method,
                                 .flags = 0,
                                 .request_id = id};
    ms__frame_header_encode(&h, p);
    c->out.len += MS__FRAME_HEADER_BYTES + body;
    return 0;
}

/* Takes a free slot and queues one request in it. */
static int conn_issue(struct conn *c, enum kind k, uint64_t key_idx,
                      uint64_t now)
{
    struct run *r = c->run;
    uint32_t s = c->free_ids[c->n_free - 1];
    uint64_t id = c->seq++ * r->o->depth + s;
    if (encode_request(c, k, key_idx, id) != 0) {
        return MS_ENOMEM;
    }
    c->n_free--;
    c->slots[s] = (struct slot){.id = id,
                                .start_ns = now,
                                .key = key_idx,
                                .kind = (uint8_t)k,
                                .busy = 1};
    if (r->o->http) {
        c->fifo[(c->fifo_head + c->fifo_len++) % r->o->depth] = s;
    }
    r->inflight++;
    return 0;
}

static void on_write(uv_write_t *req, int status);
static void tls_flush(struct conn *c);

/* Starts a write of everything queued, unless one is in flight (its
 * callback starts the next). */
static void conn_flush(struct conn *c)
{
    if (c->writing || c->dead) {
        return;
    }
    if (c->ssl != NULL) {
        tls_flush(c);
        return;
    }
    if (c->out.len == 0) {
        return;
    }
    struct buf t = c->wout;
    c->wout = c->out;
    c->out = t;
    c->out.len = 0;
    uv_buf_t b = uv_buf_init((char *)c->wout.p, (unsigned int)c->wout.len);
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc != 0) {
        conn_fail(c, ST_CONN_LOST, uv_strerror(rc));
        return;
    }
    c->writing = true;
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->data;
    c->writing = false;
    c->wout.len = 0;
    if (status < 0) {
        conn_fail(c, ST_CONN_LOST, uv_strerror(status));
        return;
    }
    conn_flush(c);
}

/* ---- TLS ----------------------------------------------------------------- */
/*
 * With --cacert/--cert/--key/--insecure-skip-tls-verify every connection
 * speaks TLS through memory BIOs: frames queued before the handshake is
 * done wait in `out`; once it is, each flush encrypts `out` into the write
 * BIO and writes the ciphertext (still one uv_write in flight); read bytes
 * go into the read BIO and come out as plaintext in `in`.
 */
static SSL_CTX *tls_ctx_create(const struct bench_opts *o)
{
    struct ms_tls_options t = {.ca_file = o->cacert,
                               .cert_file = o->cert,
                               .key_file = o->key,
                               .insecure_skip_verify = o->insecure_skip_verify};
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    bool ok = true;
    if (t.ca_file != NULL) {
        ok = SSL_CTX_load_verify_locations(ctx, t.ca_file, NULL) == 1;
    } else {
        (void)SSL_CTX_set_default_verify_paths(ctx);
    }
    if (ok && t.cert_file != NULL) {
        ok = SSL_CTX_use_certificate_chain_file(ctx, t.cert_file) == 1 &&
             t.key_file != NULL &&
             SSL_CTX_use_PrivateKey_file(ctx, t.key_file, SSL_FILETYPE_PEM) ==
                 1;
    }
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        fprintf(stderr, "metastore-bench: TLS files: %s\n",
                e != 0 ? ERR_reason_error_string(e) : "cannot be used");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, t.insecure_skip_verify ? SSL_VERIFY_NONE
                                                   : SSL_VERIFY_PEER,
                       NULL);
    return ctx;
}

static int tls_conn_init(struct run *r, struct conn *c)
{
    char host[256];
    uint16_t port;
    c->ssl = SSL_new(r->tls_ctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || rb == NULL || wb == NULL) {
        BIO_free(rb);
        BIO_free(wb);
        return MS_ENOMEM;
    }
    SSL_set_bio(c->ssl, rb, wb);
    c->rbio = rb;
    c->wbio = wb;
    SSL_set_connect_state(c->ssl);
    if (ms_endpoint_parse(c->target->endpoint, host, sizeof(host), &port) ==
        0) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);
        if (ip != NULL) {
            ASN1_OCTET_STRING_free(ip);
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
        } else {
            SSL_set1_host(c->ssl, host);
            SSL_set_tlsext_host_name(c->ssl, host);
        }
    }
    ERR_clear_error();
    return 0;
}

static const char *tls_reason(struct conn *c)
{
    static char why[256];
    unsigned long e = ERR_peek_last_error();
    long v = SSL_get_verify_result(c->ssl);
    snprintf(why, sizeof(why), "TLS: %s%s%s",
             e != 0 ? ERR_reason_error_string(e) : "protocol error",
             v != X509_V_OK ? ": " : "",
             v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
    ERR_clear_error();
    return why;
}

/* Encrypts what is queued (once the handshake is done) and writes the
 * ciphertext waiting in the write BIO. */
static void tls_flush(struct conn *c)
{
    if (c->out.len > 0 && SSL_is_init_finished(c->ssl)) {
        if (SSL_write(c->ssl, c->out.p, (int)c->out.len) <= 0) {
            conn_fail(c, ST_CONN_LOST, tls_reason(c));
            return;
        }
        c->out.len = 0;
    }
    size_t n = BIO_ctrl_pending(c->wbio);
    if (n == 0) {
        return;
    }
    if (buf_reserve(&c->wout, n) == NULL) {
        conn_fail(c, ST_CONN_LOST, "out of memory");
        return;
    }
    c->wout.len = (size_t)BIO_read(c->wbio, c->wout.p, (int)n);
    uv_buf_t b = uv_buf_init((char *)c->wout.p, (unsigned int)c->wout.len);
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc != 0) {
        conn_fail(c, ST_CONN_LOST, uv_strerror(rc));
        return;
    }
    c->writing = true;
}

/* nread ciphertext bytes arrived in c->cin: decrypt them into c->in.
 * Returns 0, or -1 when the connection failed. */
static int tls_input(struct conn *c, size_t nread)
{
    if (BIO_write(c->rbio, c->cin.p, (int)nread) != (int)nread) {
        conn_fail(c, ST_CONN_LOST, "out of memory");
        return -1;
    }
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ) {
                conn_fail(c, ST_CONN_LOST, tls_reason(c));
                return -1;
            }
            conn_flush(c);
            return 0;
        }
    }
    for (;;) {
        uint8_t *p = buf_reserve(&c->in, READ_CHUNK);
        if (p == NULL) {
            conn_fail(c, ST_CONN_LOST, "out of memory");
            return -1;
        }
        int n = SSL_read(c->ssl, p, (int)(c->in.cap - c->in.len));
        if (n > 0) {
            c->in.len += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            break;
        }
        conn_fail(c, ST_CONN_LOST,
                  e == SSL_ERROR_ZERO_RETURN ? "closed by the server"
                                             : tls_reason(c));
        return -1;
    }
    conn_flush(c); /* frames queued during the handshake, key updates */
    return 0;
}

/* Fills the free slots of c with whatever the phase allows, then writes. */
static void conn_fill(struct conn *c, uint64_t now)
{
    struct run *r = c->run;
    while (c->n_free > 0 && !c->dead) {
        int rc = 0;
        if (r->phase == PH_PRELOAD) {
            if (r->preload_next >= r->o->keys) {
                break;
            }
            rc = conn_issue(c, K_PUT, r->preload_next, now);
            r->preload_next += rc == 0 ? 1 : 0;
        } else if (r->phase == PH_MAIN && !r->stop_issuing) {
            if (r->o->requests != 0 && r->issued >= r->o->requests) {
                r->stop_issuing = true;
                break;
            }
            if (r->o->rate != 0) {
                if (bench_rate_due(&r->rate, now) == 0) {
                    break;
                }
                bench_rate_take(&r->rate, 1);
            }
            enum kind k = pick_kind(r);
            rc = conn_issue(c, k, k == K_PING ? 0 : pick_key(r), now);
            r->issued += rc == 0 ? 1 : 0;
        } else {
            break;
        }
        if (rc != 0) {
            conn_fail(c, ST_CONN_LOST, "out of memory");
            return;
        }
    }
    conn_flush(c);
}

/* ---- answers --------------------------------------------------------------
 */

static void count_error(struct run *r, int slot_status)
{
    if (r->phase == PH_PRELOAD) {
        r->preload_errors++;
        return;
    }
    r->st.errs[slot_status]++;
    r->st.n_errs++;
}

/* Releases slot s after its answer (status: an index into st.errs, 0 OK). */
static void slot_done(struct conn *c, uint32_t s, int status, uint64_t now)
{
    struct run *r = c->run;
    struct slot *sl = &c->slots[s];
    sl->busy = 0;
    c->free_ids[c->n_free++] = s;
    r->inflight--;
    if (r->phase == PH_PRELOAD) {
        r->preload_done++;
        if (status != 0) {
            r->preload_errors++;
        }
        return;
    }
    if (r->phase != PH_MAIN) {
        return;
    }
    r->completed++;
    r->last_done_ns = now;
    if (status != 0) {
        count_error(r, status);
        return;
    }
    uint64_t lat = now > sl->start_ns ? now - sl->start_ns : 0;
    r->st.ok[sl->kind]++;
    bench_hist_record(&r->st.hist[sl->kind], lat);
    bench_hist_record(&r->st.all, lat);
}

/* The status code of an ERROR answer's body. */
static int error_status(const uint8_t *body, size_t len)
{
    Metastore__ErrorDetail *e =
        metastore__error_detail__unpack(NULL, len, body);
    if (e == NULL) {
        return ST_PROTO;
    }
    int code = (int)e->code;
    metastore__error_detail__free_unpacked(e, NULL);
    if (code <= 0) {
        return ST_PROTO; /* an ERROR frame must not say OK */
    }
    return code < N_STATUS - 1 ? code : N_STATUS - 1;
}

/* --verify: true when an OK answer decodes as the answer to slot sl. */
static bool verify_answer(const struct slot *sl, const uint8_t *body,
                          size_t len)
{
    static const enum bench_wire_kind wk[K_COUNT] = {[K_PING] = BENCH_WIRE_PING,
                                                     [K_RANGE] =
                                                         BENCH_WIRE_RANGE,
                                                     [K_PUT] = BENCH_WIRE_PUT};
    char key[BENCH_KEY_MAX];
    size_t klen = sl->kind != K_PING ? bench_key_format(sl->key, key) : 0;
    return bench_wire_verify(wk[sl->kind], body, len, key, klen);
}

/* Handles one whole frame.  Returns 0, or MS_EPROTO when the connection
 * must be dropped. */
static int conn_frame(struct conn *c, const struct ms__frame_header *h,
                      const uint8_t *body, uint64_t now)
{
    uint32_t depth = c->run->o->depth;
    if ((h->flags & MS__FLAG_RESPONSE) == 0) {
        return MS_EPROTO;
    }
    uint32_t s = (uint32_t)(h->request_id % depth);
    if (!c->slots[s].busy || c->slots[s].id != h->request_id) {
        return MS_EPROTO; /* an answer to nothing we asked */
    }
    int status = 0;
    if (h->flags & MS__FLAG_ERROR) {
        status = error_status(body, h->length);
    } else if (c->run->o->verify &&
               !verify_answer(&c->slots[s], body, h->length)) {
        status = ST_BAD_ANSWER;
    }
    slot_done(c, s, status, now);
    return 0;
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    struct conn *c = handle->data;
    uint8_t *p = buf_reserve(c->ssl != NULL ? &c->cin : &c->in, READ_CHUNK);
    if (p == NULL) {
        *out = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
        return;
    }
    struct buf *b = c->ssl != NULL ? &c->cin : &c->in;
    *out = uv_buf_init((char *)p, (unsigned int)(b->cap - b->len));
}

/* --http: handles the whole responses in c->in.  0, or -1 when the
 * connection must be dropped (conn_fail already called). */
static int http_answers(struct conn *c, uint64_t now)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        int code = 0;
        int rv = bench_http_response(c->in.p + off, c->in.len - off, &used,
                                     &code);
        if (rv == 0) {
            break;
        }
        if (rv < 0 || (code != -100 && c->fifo_len == 0)) {
            conn_fail(c, ST_PROTO, "not an HTTP response to a request");
            return -1;
        }
        off += used;
        if (code == -100) {
            continue; /* 100 Continue */
        }
        uint32_t s = c->fifo[c->fifo_head];
        c->fifo_head = (c->fifo_head + 1) % c->run->o->depth;
        c->fifo_len--;
        int status = code == 0 ? 0 : code < N_STATUS - 1 ? code : N_STATUS - 1;
        slot_done(c, s, status, now);
    }
    if (off > 0) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct conn *c = stream->data;
    if (nread < 0) {
        conn_fail(c, ST_CONN_LOST,
                  nread == UV_EOF ? "closed by the server"
                                  : uv_strerror((int)nread));
        run_check_done(c->run);
        return;
    }
    if (c->ssl == NULL) {
        c->in.len += (size_t)nread;
    } else if (tls_input(c, (size_t)nread) != 0) {
        run_check_done(c->run);
        return;
    }
    uint64_t now = uv_hrtime();
    if (c->run->o->http) {
        if (http_answers(c, now) == 0) {
            conn_fill(c, now);
        }
        run_check_done(c->run);
        return;
    }
    size_t off = 0;
    while (c->in.len - off >= MS__FRAME_HEADER_BYTES) {
        struct ms__frame_header h;
        if (ms__frame_header_decode(c->in.p + off, MAX_BODY, &h) != 0) {
            conn_fail(c, ST_PROTO, "malformed frame header");
            run_check_done(c->run);
            return;
        }
        size_t need = MS__FRAME_HEADER_BYTES + (size_t)h.length;
        if (c->in.len - off < need) {
            break;
        }
        if (conn_frame(c, &h, c->in.p + off + MS__FRAME_HEADER_BYTES, now) !=
            0) {
            conn_fail(c, ST_PROTO, "answer with an unknown request id");
            run_check_done(c->run);
            return;
        }
        off += need;
    }
    if (off > 0) {
        memmove(c->in.p, c->in.p + off, c->in.len - off);
        c->in.len -= off;
    }
    conn_fill(c, now);
    run_check_done(c->run);
}

/* ---- connections ------------------------------------------------------ */

static void on_close_conn(uv_handle_t *h)
{
    (void)h;
}

static void conn_fail(struct conn *c, int slot_status, const char *why)
{
    struct run *r = c->run;
    if (r == NULL || c->dead) {
        return; /* never set up, or already gone */
    }
    c->dead = true;
    r->n_dead++;
    if (r->phase != PH_DONE && c->connected && slot_status != ST_ABANDONED &&
        r->n_lost++ == 0) {
        fprintf(stderr, "metastore-bench: connection to %s lost: %s\n",
                c->target->endpoint, why); /* once: the others say the same */
    }
    uint64_t now = uv_hrtime();
    for (uint32_t s = 0; c->slots != NULL && s < r->o->depth; s++) {
        if (c->slots[s].busy) {
            slot_done(c, s, slot_status, now);
        }
    }
    if (c->tcp_open && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, on_close_conn);
    }
}

static void run_start_main(struct run *r);

static void run_start_preload(struct run *r)
{
    r->phase = PH_PRELOAD;
    r->preload_start_ns = uv_hrtime();
    for (size_t i = 0; i < r->n_conns; i++) {
        conn_fill(&r->conns[i], r->preload_start_ns);
    }
}

static void run_connected_check(struct run *r);

static void on_connect(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    struct run *r = c->run;
    r->n_connect_done++;
    if (status < 0) {
        if (!c->dead && r->n_connect_failed++ == 0) {
            fprintf(stderr, "metastore-bench: cannot connect to %s: %s\n",
                    c->target->endpoint, uv_strerror(status));
        }
        c->dead = true; /* nothing in flight yet */
        r->n_dead++;
        uv_close((uv_handle_t *)&c->tcp, on_close_conn);
    } else if (!c->dead) {
        r->n_connected++;
        c->connected = true;
        uv_tcp_nodelay(&c->tcp, 1);
        int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (rc != 0) {
            conn_fail(c, ST_CONN_LOST, uv_strerror(rc));
        } else if (r->tls_ctx != NULL) {
            if (tls_conn_init(r, c) != 0) {
                conn_fail(c, ST_CONN_LOST, "out of memory for TLS");
            } else {
                (void)SSL_do_handshake(c->ssl); /* the ClientHello */
                ERR_clear_error();
                conn_flush(c);
            }
        }
    }
    run_connected_check(r);
}

/* Starts the first phase once every connection attempt has ended. */
static void run_connected_check(struct run *r)
{
    if (r->n_connect_done < r->n_conns || r->phase != PH_CONNECT) {
        return;
    }
    if (r->n_connect_failed > 0) {
        fprintf(stderr, "metastore-bench: %zu of %zu connections failed\n",
                r->n_connect_failed, r->n_conns);
    }
    if (r->n_connected == 0) {
        fprintf(stderr, "metastore-bench: no connection could be opened\n");
        r->rc = 1;
        r->phase = PH_DONE;
        run_check_done(r);
        return;
    }
    if (r->o->preload) {
        run_start_preload(r);
    } else {
        run_start_main(r);
    }
}

static int conn_init(struct run *r, struct conn *c, const struct target *t)
{
    memset(c, 0, sizeof(*c));
    c->target = t;
    c->slots = calloc(r->o->depth, sizeof(*c->slots));
    c->free_ids = calloc(r->o->depth, sizeof(*c->free_ids));
    c->fifo = calloc(r->o->depth, sizeof(*c->fifo));
    if (c->slots == NULL || c->free_ids == NULL || c->fifo == NULL) {
        return MS_ENOMEM;
    }
    for (uint32_t i = 0; i < r->o->depth; i++) {
        c->free_ids[i] = r->o->depth - 1 - i;
    }
    c->n_free = r->o->depth;
    int rc = uv_tcp_init(r->loop, &c->tcp);
    if (rc != 0) {
        return rc;
    }
    c->run = r;
    c->tcp_open = true;
    c->tcp.data = c;
    c->creq.data = c;
    c->wreq.data = c;
    rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&t->addr,
                        on_connect);
    if (rc != 0) {
        if (r->n_connect_failed++ == 0) {
            fprintf(stderr, "metastore-bench: cannot connect to %s: %s\n",
                    t->endpoint, uv_strerror(rc));
        }
        uv_close((uv_handle_t *)&c->tcp, on_close_conn);
        c->dead = true;
        r->n_dead++;
        r->n_connect_done++;
    }
    return 0;
}

/* ---- phases and timers -------------------------------------------------- */

static void on_progress(uv_timer_t *t)
{
    struct run *r = t->data;
    uint64_t now = uv_hrtime();
    double el = (double)(now - r->start_ns) / 1e9;
    double dt = (double)(now - r->prog_ns) / 1e9;
    double rate = dt > 0 ? (double)(r->completed - r->prog_completed) / dt : 0;
    char p99[24];
    bench_fmt_ns(bench_hist_percentile(&r->st.all, 99.0), p99, sizeof(p99));
    printf("\r\033[K%6.1fs %10.0f ops/s  p99 %s  ok %" PRIu64
           "  errors %" PRIu64,
           el, rate, p99, r->completed - r->st.n_errs, r->st.n_errs);
    fflush(stdout);
    r->prog_ns = now;
    r->prog_completed = r->completed;
}

static void run_fill_all(struct run *r, uint64_t now)
{
    for (size_t i = 0; i < r->n_conns; i++) {
        struct conn *c = &r->conns[(r->rr + i) % r->n_conns];
        conn_fill(c, now);
    }
    r->rr = (r->rr + 1) % r->n_conns;
}

static void on_pace(uv_timer_t *t)
{
    struct run *r = t->data;
    run_fill_all(r, uv_hrtime());
    run_check_done(r);
}

static void on_drain(uv_timer_t *t)
{
    struct run *r = t->data;
    /* Whatever is still unanswered now never will be, as far as we care. */
    for (size_t i = 0; i < r->n_conns; i++) {
        conn_fail(&r->conns[i], ST_ABANDONED, "answers overdue at the end");
    }
    run_check_done(r);
}

/* No new requests from now on; the answers in flight get DRAIN_MS. */
static void run_stop_issuing(struct run *r)
{
    if (uv_is_active((uv_handle_t *)&r->t_drain) ||
        uv_is_closing((uv_handle_t *)&r->t_drain)) {
        return;
    }
    r->stop_issuing = true;
    uv_timer_stop(&r->t_pace);
    uv_timer_start(&r->t_drain, on_drain, DRAIN_MS, 0);
}

static void on_stop(uv_timer_t *t)
{
    run_stop_issuing(t->data);
    run_check_done(t->data);
}

static void on_sigint(uv_signal_t *s, int signum)
{
    struct run *r = s->data;
    (void)signum;
    if (r->phase == PH_MAIN) {
        run_stop_issuing(r);
        run_check_done(r);
    } else {
        r->rc = 1;
        r->phase = PH_DONE;
        for (size_t i = 0; i < r->n_conns; i++) {
            conn_fail(&r->conns[i], ST_ABANDONED, "interrupted");
        }
        run_check_done(r);
    }
}

static void run_start_main(struct run *r)
{
    r->phase = PH_MAIN;
    r->start_ns = uv_hrtime();
    r->last_done_ns = r->start_ns;
    r->prog_ns = r->start_ns;
    bench_rate_init(&r->rate, r->o->rate, r->start_ns);
    if (r->o->duration_ns != 0) {
        uv_timer_start(&r->t_stop, on_stop,
                       (r->o->duration_ns + 999999) / 1000000, 0);
    }
    if (r->o->rate != 0) {
        uv_timer_start(&r->t_pace, on_pace, 1, 1);
    }
    if (r->tty) {
        uv_timer_start(&r->t_progress, on_progress, 1000, 1000);
    }
    run_fill_all(r, r->start_ns);
    run_check_done(r);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void run_finish(struct run *r)
{
    r->phase = PH_DONE;
    for (size_t i = 0; i < r->n_conns; i++) {
        conn_fail(&r->conns[i], ST_ABANDONED, "finished");
    }
    close_handle((uv_handle_t *)&r->t_stop);
    close_handle((uv_handle_t *)&r->t_pace);
    close_handle((uv_handle_t *)&r->t_progress);
    close_handle((uv_handle_t *)&r->t_drain);
    close_handle((uv_handle_t *)&r->sig_int);
    if (r->tty) {
        printf("\r\033[K");
        fflush(stdout);
    }
    if (r->n_lost > 1) {
        fprintf(stderr, "metastore-bench: %zu connections lost\n", r->n_lost);
    }
}

static void run_check_done(struct run *r)
{
    switch (r->phase) {
    case PH_CONNECT:
        return;
    case PH_PRELOAD:
        if (r->n_dead == r->n_conns) {
            fprintf(stderr, "metastore-bench: every connection lost during "
                            "preload\n");
            r->rc = 1;
            run_finish(r);
        } else if (r->preload_done >= r->o->keys && r->inflight == 0) {
            r->preload_ns = uv_hrtime() - r->preload_start_ns;
            run_start_main(r);
        }
        return;
    case PH_MAIN:
        if (r->stop_issuing ||
            (r->o->requests != 0 && r->issued >= r->o->requests)) {
            run_stop_issuing(r);
        }
        if (r->n_dead == r->n_conns || (r->stop_issuing && r->inflight == 0)) {
            run_finish(r);
        }
        return;
    case PH_DONE:
        if (!uv_is_closing((uv_handle_t *)&r->t_stop)) {
            run_finish(r);
        }
        return;
    }
}

/* ---- targets ------------------------------------------------------------ */

static int resolve(const char *endpoint, struct sockaddr_storage *out)
{
    char host[256];
    uint16_t port = 0;
    if (ms_endpoint_parse(endpoint, host, sizeof(host), &port) != 0) {
        return MS_EINVAL;
    }
    char port_s[8];
    snprintf(port_s, sizeof(port_s), "%u", (unsigned)port);
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port_s, &hints, &ai) != 0 || ai == NULL) {
        return MS_EINVAL;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return 0;
}

/* Asks endpoint e for its Status; role "" when it did not answer. */
static void probe(const struct bench_opts *o, struct target *t)
{
    struct ms_client *c = NULL;
    struct ms_tls_options tls = {.ca_file = o->cacert,
                                 .cert_file = o->cert,
                                 .key_file = o->key,
                                 .insecure_skip_verify =
                                     o->insecure_skip_verify};
    struct ms_client_options copts = {.dial_timeout_ms = 1000,
                                      .command_timeout_ms = 2000,
                                      .max_redirects = 0,
                                      .tls = o->tls ? &tls : NULL};
    const char *eps[1] = {t->endpoint};
    t->role[0] = '\0';
    if (ms_client_open(eps, 1, &copts, &c) != 0) {
        return;
    }
    struct ms_result *res = NULL;
    if (ms_status(c, &res) == 0 && res != NULL) {
        snprintf(t->role, sizeof(t->role), "%s", res->status_info.role);
        t->member_id = res->status_info.member_id;
    }
    ms_result_free(res);
    ms_client_close(c);
}

static bool target_wanted(const struct bench_opts *o, const struct target *t)
{
    switch (o->target) {
    case BENCH_TARGET_LEADER:
        return strcmp(t->role, "leader") == 0;
    case BENCH_TARGET_FOLLOWERS:
        return t->role[0] != '\0' && strcmp(t->role, "leader") != 0;
    case BENCH_TARGET_ALL:
        return true;
    }
    return false;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Probes every endpoint (retrying for a while when the leader is wanted
 * but none is known yet, as right after start) and keeps the wanted ones
 * at the front of r->targets.  Returns 0 or 1 (message printed). */
static int pick_targets(struct run *r)
{
    const struct bench_opts *o = r->o;
    r->targets = calloc(o->n_endpoints, sizeof(*r->targets));
    if (r->targets == NULL) {
        return 1;
    }
    if (o->http) {
        /* HTTP endpoints (ours or etcd's) are not asked for roles: every
         * one is a target. */
        for (size_t i = 0; i < o->n_endpoints; i++) {
            struct target *t = &r->targets[i];
            t->endpoint = o->endpoints[i];
            snprintf(t->role, sizeof(t->role), "http");
            if (resolve(t->endpoint, &t->addr) != 0) {
                fprintf(stderr, "metastore-bench: cannot resolve %s\n",
                        t->endpoint);
                return 1;
            }
        }
        r->n_targets = o->n_endpoints;
        return 0;
    }
    size_t kept = 0;
    for (unsigned waited = 0;; waited += 100) {
        kept = 0;
        for (size_t i = 0; i < o->n_endpoints; i++) {
            struct target *t = &r->targets[kept];
            memset(t, 0, sizeof(*t));
            t->endpoint = o->endpoints[i];
            probe(r->o, t);
            if (t->role[0] == '\0' && waited == 0) {
                fprintf(stderr, "metastore-bench: no Status from %s\n",
                        t->endpoint);
            }
            if (target_wanted(o, t)) {
                if (resolve(t->endpoint, &t->addr) != 0) {
                    fprintf(stderr, "metastore-bench: cannot resolve %s\n",
                            t->endpoint);
                    return 1;
                }
                kept++;
            }
        }
        if (kept > 0 || o->target != BENCH_TARGET_LEADER ||
            waited >= LEADER_WAIT_MS) {
            break;
        }
        sleep_ms(100);
    }
    if (kept == 0) {
        fprintf(stderr, "metastore-bench: no endpoint is a %s\n",
                o->target == BENCH_TARGET_LEADER ? "leader" : "follower");
        return 1;
    }
    r->n_targets = kept;
    return 0;
}

/* ---- report ------------------------------------------------------------- */

static const char *err_name(int idx)
{
    switch (idx) {
    case ST_CONN_LOST:
        return "CONNECTION_LOST";
    case ST_PROTO:
        return "PROTOCOL_ERROR";
    case ST_ABANDONED:
        return "ABANDONED";
    case ST_BAD_ANSWER:
        return "BAD_ANSWER";
    case N_STATUS - 1:
        return "OTHER";
    default:
        return ms_status_name(idx);
    }
}

static void print_latency_line(const char *label, const struct bench_hist *h)
{
    static const double ps[] = {50, 90, 99, 99.9};
    char a[24], b[24];
    bench_fmt_ns(h->n ? h->min : 0, a, sizeof(a));
    bench_fmt_ns((uint64_t)bench_hist_mean(h), b, sizeof(b));
    printf("  %-6s n=%-10" PRIu64 " min %-8s mean %-8s", label, h->n, a, b);
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        bench_fmt_ns(bench_hist_percentile(h, ps[i]), a, sizeof(a));
        printf(" p%g %-8s", ps[i], a);
    }
    bench_fmt_ns(h->max, a, sizeof(a));
    printf(" max %s\n", a);
}

/* One row per power of two between the smallest and largest latency. */
static void print_histogram(const struct bench_hist *h)
{
    if (h->n == 0) {
        return;
    }
    size_t lo = bench_hist_index(h->min) / BENCH_HIST_SUB;
    size_t hi = bench_hist_index(h->max) / BENCH_HIST_SUB;
    uint64_t rows[64] = {0}, peak = 1;
    for (size_t g = lo; g <= hi; g++) {
        for (size_t j = 0; j < BENCH_HIST_SUB; j++) {
            rows[g] += h->counts[g * BENCH_HIST_SUB + j];
        }
        peak = rows[g] > peak ? rows[g] : peak;
    }
    printf("histogram:\n");
    for (size_t g = lo; g <= hi; g++) {
        char upto[24];
        bench_fmt_ns(
            bench_hist_bucket_high(g * BENCH_HIST_SUB + BENCH_HIST_SUB - 1),
            upto, sizeof(upto));
        int bar = (int)(rows[g] * 40 / peak);
        printf("  <= %-8s %10" PRIu64 " %6.2f%% %.*s\n", upto, rows[g],
               100.0 * (double)rows[g] / (double)h->n, bar,
               "########################################");
    }
}

static double run_seconds(const struct run *r)
{
    uint64_t end =
        r->last_done_ns > r->start_ns ? r->last_done_ns : r->start_ns;
    return (double)(end - r->start_ns) / 1e9;
}

static void print_text(const struct run *r)
{
    const struct bench_opts *o = r->o;
    double secs = run_seconds(r);
    uint64_t ok = r->st.all.n;
    printf("metastore-bench: %s", bench_op_name(o->op));
    if (o->op == BENCH_OP_MIXED) {
        printf(" %.0f%% reads", o->read_ratio * 100.0);
    }
    if (o->op == BENCH_OP_RANGE || o->op == BENCH_OP_MIXED) {
        printf(" %s", o->consistency == MS_CONSISTENCY_SERIALIZABLE
                          ? "serializable"
                          : "linearizable");
    }
    if (o->op != BENCH_OP_PING) {
        printf(", %s over %" PRIu64 " keys, %u-byte values",
               o->dist == BENCH_DIST_ZIPFIAN ? "zipfian" : "uniform", o->keys,
               o->value_size);
    }
    printf(", %zu conns x depth %u, target %s:", r->n_conns, o->depth,
           bench_target_name(o->target));
    for (size_t i = 0; i < r->n_targets; i++) {
        printf(" %s(%s)", r->targets[i].endpoint, r->targets[i].role);
    }
    printf("\n");
    if (o->preload) {
        printf("preload: %" PRIu64 " keys in %.2fs, %" PRIu64 " errors\n",
               r->preload_done, (double)r->preload_ns / 1e9, r->preload_errors);
    }
    printf("time %.2fs, %" PRIu64 " requests: %" PRIu64 " ok, %" PRIu64
           " errors\n",
           secs, r->completed, ok, r->st.n_errs);
    printf("throughput: %.0f ops/s (ok: %.0f ops/s)\n",
           secs > 0 ? (double)r->completed / secs : 0.0,
           secs > 0 ? (double)ok / secs : 0.0);
    if (r->st.n_errs > 0) {
        printf("errors by status:");
        for (int i = 0; i < N_ERR_SLOTS; i++) {
            if (r->st.errs[i] != 0) {
                printf(" %s %" PRIu64, err_name(i), r->st.errs[i]);
            }
        }
        printf("\n");
    }
    printf("latency of ok requests:\n");
    print_latency_line("all", &r->st.all);
    if (o->op == BENCH_OP_MIXED) {
        print_latency_line("range", &r->st.hist[K_RANGE]);
        print_latency_line("put", &r->st.hist[K_PUT]);
    }
    print_histogram(&r->st.all);
}

static void json_latency(const struct bench_hist *h)
{
    printf("{\"n\":%" PRIu64 ",\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,"
           "\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
           h->n, (double)(h->n ? h->min : 0) / 1e3, bench_hist_mean(h) / 1e3,
           (double)bench_hist_percentile(h, 50) / 1e3,
           (double)bench_hist_percentile(h, 90) / 1e3,
           (double)bench_hist_percentile(h, 99) / 1e3,
           (double)bench_hist_percentile(h, 99.9) / 1e3, (double)h->max / 1e3);
}

static void print_json(const struct run *r)
{
    const struct bench_opts *o = r->o;
    double secs = run_seconds(r);
    printf("{\"op\":\"%s\",\"consistency\":\"%s\",\"dist\":\"%s\","
           "\"keys\":%" PRIu64 ",\"value_size\":%u,\"read_ratio\":%.4f,"
           "\"conns\":%zu,\"depth\":%u,\"rate\":%" PRIu64 ",\"target\":\"%s\","
           "\"endpoints\":[",
           bench_op_name(o->op),
           o->consistency == MS_CONSISTENCY_SERIALIZABLE ? "serializable"
                                                         : "linearizable",
           o->dist == BENCH_DIST_ZIPFIAN ? "zipfian" : "uniform", o->keys,
           o->value_size, o->read_ratio, r->n_conns, o->depth, o->rate,
           bench_target_name(o->target));
    for (size_t i = 0; i < r->n_targets; i++) {
        printf("%s\"%s\"", i ? "," : "", r->targets[i].endpoint);
    }
    printf("],\"seconds\":%.3f,\"requests\":%" PRIu64 ",\"ok\":%" PRIu64
           ",\"errors\":%" PRIu64 ",\"ops_per_s\":%.1f,\"errors_by_status\":{",
           secs, r->completed, r->st.all.n, r->st.n_errs,
           secs > 0 ? (double)r->completed / secs : 0.0);
    bool first = true;
    for (int i = 0; i < N_ERR_SLOTS; i++) {
        if (r->st.errs[i] != 0) {
            printf("%s\"%s\":%" PRIu64, first ? "" : ",", err_name(i),
                   r->st.errs[i]);
            first = false;
        }
    }
    printf("},\"latency_us\":");
    json_latency(&r->st.all);
    printf(",\"latency_us_by_op\":{");
    first = true;
    for (int k = 0; k < K_COUNT; k++) {
        if (r->st.hist[k].n != 0) {
            printf("%s\"%s\":", first ? "" : ",", kind_names[k]);
            json_latency(&r->st.hist[k]);
            first = false;
        }
    }
    printf("}");
    if (o->preload) {
        printf(",\"preload\":{\"keys\":%" PRIu64 ",\"errors\":%" PRIu64
               ",\"seconds\":%.3f}",
               r->preload_done, r->preload_errors, (double)r->preload_ns / 1e9);
    }
    printf("}\n");
}

/* ---- main --------------------------------------------------------------- */

static int run_setup(struct run *r)
{
    const struct bench_opts *o = r->o;
    bench_rng_seed(&r->rng, o->seed);
    uv_timer_t *timers[] = {&r->t_stop, &r->t_pace, &r->t_progress,
                            &r->t_drain};
    for (size_t i = 0; i < 4; i++) {
        uv_timer_init(r->loop, timers[i]);
        timers[i]->data = r;
    }
    uv_signal_init(r->loop, &r->sig_int);
    r->sig_int.data = r;
    if (o->dist == BENCH_DIST_ZIPFIAN && o->op != BENCH_OP_PING &&
        bench_zipf_init(&r->zipf, o->keys, o->zipf_s) != 0) {
        fprintf(stderr, "metastore-bench: bad zipfian parameters\n");
        return 1;
    }
    r->value = malloc(o->value_size > 0 ? o->value_size : 1);
    if (r->value == NULL) {
        return 1;
    }
    for (uint32_t i = 0; i < o->value_size; i++) {
        r->value[i] = (uint8_t)('a' + bench_rng_below(&r->rng, 26));
    }
    for (int k = 0; k < K_COUNT; k++) {
        bench_hist_init(&r->st.hist[k]);
    }
    bench_hist_init(&r->st.all);
    if (o->tls && (r->tls_ctx = tls_ctx_create(o)) == NULL) {
        return 1;
    }
    r->tty = !o->json && isatty(STDOUT_FILENO);
    uv_signal_start(&r->sig_int, on_sigint, SIGINT);
    r->n_conns = o->conns;
    r->conns = calloc(r->n_conns, sizeof(*r->conns));
    if (r->conns == NULL) {
        return 1;
    }
    r->phase = PH_CONNECT;
    for (size_t i = 0; i < r->n_conns; i++) {
        if (conn_init(r, &r->conns[i], &r->targets[i % r->n_targets]) != 0) {
            fprintf(stderr, "metastore-bench: out of memory\n");
            return 1;
        }
    }
    run_connected_check(r); /* every attempt may have failed at once */
    return 0;
}

static void run_free(struct run *r)
{
    for (size_t i = 0; r->conns != NULL && i < r->n_conns; i++) {
        struct conn *c = &r->conns[i];
        free(c->slots);
        free(c->free_ids);
        free(c->fifo);
        buf_free(&c->out);
        buf_free(&c->wout);
        buf_free(&c->in);
        buf_free(&c->cin);
        SSL_free(c->ssl);
    }
    free(r->conns);
    free(r->targets);
    SSL_CTX_free(r->tls_ctx);
    free(r->value);
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    char err[256];
    if (bench_opts_parse(argc, argv, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "metastore-bench: %s\n%s", err, bench_usage);
        bench_opts_free(&o);
        return 2;
    }
    if (o.help) {
        fputs(bench_usage, stdout);
        bench_opts_free(&o);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    struct run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        bench_opts_free(&o);
        return 1;
    }
    r->o = &o;
    r->loop = uv_default_loop();
    int rc = pick_targets(r);
    if (rc == 0) {
        rc = run_setup(r);
        if (rc != 0) {
            r->phase = PH_DONE;
            run_finish(r);
        }
        uv_run(r->loop, UV_RUN_DEFAULT);
        if (rc == 0) {
            rc = r->rc;
        }
        if (rc == 0) {
            if (o.json) {
                print_json(r);
            } else {
                print_text(r);
            }
            rc = r->st.all.n > 0 ? 0 : 1;
        }
    }
    uv_loop_close(r->loop);
    run_free(r);
    free(r);
    bench_opts_free(&o);
    return rc;
}
