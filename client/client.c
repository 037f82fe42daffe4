/*
 * client.c - the client object: endpoints, the one connection, and the
 * request/response exchange every call goes through (ms__client_call).
 *
 * Happy path: encode the frame once, write it, read frames until the one
 * with our request id arrives (frames with other ids are stale answers to
 * requests that timed out earlier, and are skipped), unpack the body.
 * Failure modes, each bounded by the call's deadline:
 *   - connect fails: the next endpoint in the list is tried, each at most
 *     once per call, each within the dial timeout;
 *   - the connection breaks while writing: the request is resent on the
 *     next endpoint if no byte of it left, or if it is idempotent;
 *   - the connection breaks while reading: resent only if idempotent;
 *   - NOT_LEADER naming the leader's address: reconnect there and resend
 *     (the server did not apply the request), at most max_redirects times;
 *     NOT_LEADER without an address: try the next endpoint;
 *   - the deadline passes: MS_ETIMEDOUT and the connection is dropped (a
 *     half-read frame would desynchronise the stream).
 */
#include "client/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENDPOINT_MAX 300

struct ms_client {
    char **endpoints;
    size_t n_endpoints;
    size_t next;                /* where connect_any() starts */
    char current[ENDPOINT_MAX]; /* connected endpoint, "" when none */
    int fd;                     /* -1 when disconnected */
    uint64_t next_id;
    uint32_t dial_timeout_ms;
    uint32_t command_timeout_ms;
    uint32_t max_redirects;
    uint64_t max_applied_index;
    uint8_t *sbuf; /* request frame */
    size_t sbuf_cap;
    uint8_t *rbuf; /* response body */
    size_t rbuf_cap;
    char errmsg[512];
    /* TLS (NULL tls_opts: plain TCP).  The context is built on the first
     * connect; tls is the connection's state while fd is open. */
    struct ms_tls_options *tls_opts; /* owned copy, strings too */
    struct ms__tls_ctx *tls_ctx;
    struct ms__tls_conn *tls;
    char tls_err[256]; /* why the last TLS read or write failed */
    /* Credentials to authenticate every new connection with (auth.c). */
    char *auth_user, *auth_password;
};

int ms__client_set_credentials(struct ms_client *c, const char *user,
                               const char *password)
{
    char *u = user != NULL ? strdup(user) : NULL;
    char *p = strdup(password != NULL ? password : "");
    if ((user != NULL && u == NULL) || p == NULL) {
        free(u);
        free(p);
        return MS_ENOMEM;
    }
    if (c->auth_password != NULL) {
        ms__wipe(c->auth_password, strlen(c->auth_password));
    }
    free(c->auth_user);
    free(c->auth_password);
    c->auth_user = u;
    c->auth_password = p;
    return 0;
}

void ms__client_set_errmsg(struct ms_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
    va_end(ap);
}

const char *ms_client_endpoint(const struct ms_client *c)
{
    return c->current;
}

const char *ms_client_errmsg(const struct ms_client *c)
{
    return c->errmsg;
}

void ms__client_note_applied(struct ms_client *c, uint64_t applied_index)
{
    if (applied_index > c->max_applied_index) {
        c->max_applied_index = applied_index;
    }
}

uint64_t ms__client_min_applied(const struct ms_client *c)
{
    return c->max_applied_index;
}

static void disconnect(struct ms_client *c)
{
    if (c->fd >= 0) {
        ms__tls_close(c->tls);
        c->tls = NULL;
        close(c->fd);
        c->fd = -1;
    }
    c->current[0] = '\0';
}

/* Drops the connection and makes the next connect start after the endpoint
 * that just failed. */
static void fail_over(struct ms_client *c)
{
    for (size_t i = 0; i < c->n_endpoints; i++) {
        if (strcmp(c->endpoints[i], c->current) == 0) {
            c->next = (i + 1) % c->n_endpoints;
            break;
        }
    }
    disconnect(c);
}

/* Connects to one endpoint within the dial timeout and the deadline. */
static int connect_endpoint(struct ms_client *c, const char *ep,
                            uint64_t deadline)
{
    char host[256];
    uint16_t port;
    if (strlen(ep) >= ENDPOINT_MAX ||
        ms_endpoint_parse(ep, host, sizeof(host), &port) != 0) {
        ms__client_set_errmsg(c, "invalid endpoint \"%s\"", ep);
        return MS_EINVAL;
    }
    uint64_t now = ms__now_ns();
    if (now >= deadline) {
        return MS_ETIMEDOUT;
    }
    uint64_t left_ms = (deadline - now) / 1000000u + 1;
    uint32_t timeout = c->dial_timeout_ms;
    if (left_ms < timeout) {
        timeout = (uint32_t)left_ms;
    }
    if (c->tls_opts != NULL && c->tls_ctx == NULL) {
        char err[400];
        int rc = ms__tls_ctx_create(c->tls_opts, err, sizeof(err), &c->tls_ctx);
        if (rc != 0) {
            ms__client_set_errmsg(c, "%s", err);
            return rc;
        }
    }
    int fd = ms__net_dial(host, port, timeout);
    if (fd < 0) {
        ms__client_set_errmsg(c, "dial %s: %s", ep, ms_strerror(fd));
        return fd;
    }
    struct ms__tls_conn *tls = NULL;
    if (c->tls_ctx != NULL) {
        char err[300] = "";
        uint64_t dl = ms__now_ns() + (uint64_t)timeout * 1000000u;
        int rc = ms__tls_connect(c->tls_ctx, fd, host, dl, &tls, err,
                                 sizeof(err));
        if (rc != 0) {
            close(fd);
            ms__client_set_errmsg(c, "dial %s: TLS handshake failed: %s", ep,
                                  err[0] != '\0' ? err : ms_strerror(rc));
            return rc == MS_ETLS ? rc : MS_ETLS;
        }
    }
    disconnect(c);
    c->fd = fd;
    c->tls = tls;
    snprintf(c->current, sizeof(c->current), "%s", ep);
    if (c->auth_user != NULL) {
        int rc = ms__auth_handshake(c, c->auth_user, c->auth_password,
                                    deadline);
        if (rc != 0) {
            disconnect(c);
            return rc;
        }
    }
    return 0;
}

/* Tries every endpoint once, starting at c->next. */
static int connect_any(struct ms_client *c, uint64_t deadline)
{
    int rc = MS_ENOENDPOINT;
    for (size_t i = 0; i < c->n_endpoints; i++) {
        size_t idx = (c->next + i) % c->n_endpoints;
        rc = connect_endpoint(c, c->endpoints[idx], deadline);
        if (rc == 0) {
            c->next = idx;
            return 0;
        }
        if (c->tls_opts != NULL && c->tls_ctx == NULL) {
            return rc; /* the TLS files are unusable: errmsg says why */
        }
        if (rc == MS_EUNAUTHENTICATED || rc == MS_EEXHAUSTED) {
            return rc; /* wrong credentials: another node says the same */
        }
        if (ms__now_ns() >= deadline) {
            return MS_ETIMEDOUT;
        }
    }
    char last[sizeof(c->errmsg)];
    snprintf(last, sizeof(last), "%s", c->errmsg);
    ms__client_set_errmsg(c, "no endpoint could be reached (last error: %s)",
                          last);
    return MS_ENOENDPOINT;
}

static void free_tls_opts(struct ms_tls_options *o)
{
    if (o != NULL) {
        free((char *)o->ca_file);
        free((char *)o->cert_file);
        free((char *)o->key_file);
        free(o);
    }
}

/* Keeps a copy of the caller's TLS options (their strings too). */
static int copy_tls(struct ms_client *c, const struct ms_tls_options *in)
{
    struct ms_tls_options *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        return MS_ENOMEM;
    }
    c->tls_opts = o;
    o->insecure_skip_verify = in->insecure_skip_verify;
    const char *src[3] = {in->ca_file, in->cert_file, in->key_file};
    char *dst[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        if (src[i] != NULL && (dst[i] = strdup(src[i])) == NULL) {
            o->ca_file = dst[0];
            o->cert_file = dst[1];
            o->key_file = dst[2];
            return MS_ENOMEM;
        }
    }
    o->ca_file = dst[0];
    o->cert_file = dst[1];
    o->key_file = dst[2];
    return 0;
}

/* ---- for streams (client/watch.c) ------------------------------------ */

int ms__client_connect(struct ms_client *c, uint64_t deadline)
{
    return c->fd >= 0 ? 0 : connect_any(c, deadline);
}

int ms__client_fd(const struct ms_client *c)
{
    return c->fd;
}

void ms__client_fail_over(struct ms_client *c)
{
    fail_over(c);
}

void ms__client_disconnect(struct ms_client *c)
{
    disconnect(c);
}

uint64_t ms__client_next_id(struct ms_client *c)
{
    return c->next_id++;
}

int ms_client_create(const char *const *endpoints, size_t n,
                     const struct ms_client_options *opts,
                     struct ms_client **out)
{
    *out = NULL;
    if (endpoints == NULL || n == 0) {
        return MS_EINVAL;
    }
    struct ms_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MS_ENOMEM;
    }
    c->fd = -1;
    c->next_id = 1;
    c->dial_timeout_ms = MS_DEFAULT_DIAL_TIMEOUT_MS;
    c->command_timeout_ms = MS_DEFAULT_COMMAND_TIMEOUT_MS;
    c->max_redirects = 3;
    if (opts != NULL) {
        if (opts->dial_timeout_ms != 0) {
            c->dial_timeout_ms = opts->dial_timeout_ms;
        }
        if (opts->command_timeout_ms != 0) {
            c->command_timeout_ms = opts->command_timeout_ms;
        }
        if (opts->max_redirects != 0) {
            c->max_redirects = opts->max_redirects;
        }
        if (opts->tls != NULL && copy_tls(c, opts->tls) != 0) {
            ms_client_close(c);
            return MS_ENOMEM;
        }
        if (opts->user != NULL &&
            ms__client_set_credentials(c, opts->user, opts->password) != 0) {
            ms_client_close(c);
            return MS_ENOMEM;
        }
    }
    c->endpoints = calloc(n, sizeof(*c->endpoints));
    if (c->endpoints == NULL) {
        free(c);
        return MS_ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char host[256];
        uint16_t port;
        if (endpoints[i] == NULL || strlen(endpoints[i]) >= ENDPOINT_MAX ||
            ms_endpoint_parse(endpoints[i], host, sizeof(host), &port) != 0) {
            rc = MS_EINVAL;
        } else if ((c->endpoints[i] = strdup(endpoints[i])) == NULL) {
            rc = MS_ENOMEM;
        } else {
            c->n_endpoints++;
        }
    }
    if (rc != 0) {
        ms_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int ms_client_open(const char *const *endpoints, size_t n,
                   const struct ms_client_options *opts, struct ms_client **out)
{
    struct ms_client *c = NULL;
    int rc = ms_client_create(endpoints, n, opts, &c);
    if (rc != 0) {
        *out = NULL;
        return rc;
    }
    /* The dial timeout bounds each attempt; the whole open may try every
     * endpoint once. */
    uint64_t deadline =
        ms__now_ns() + (uint64_t)c->dial_timeout_ms * 1000000u * n;
    rc = connect_any(c, deadline);
    if (rc != 0) {
        ms_client_close(c);
        *out = NULL;
        return MS_ENOENDPOINT;
    }
    *out = c;
    return 0;
}

void ms_client_close(struct ms_client *c)
{
    if (c == NULL) {
        return;
    }
    disconnect(c);
    for (size_t i = 0; i < c->n_endpoints; i++) {
        free(c->endpoints[i]);
    }
    ms__tls_ctx_destroy(c->tls_ctx);
    free_tls_opts(c->tls_opts);
    free(c->endpoints);
    if (c->auth_password != NULL) {
        ms__wipe(c->auth_password, strlen(c->auth_password));
    }
    free(c->auth_user);
    free(c->auth_password);
    free(c->sbuf);
    free(c->rbuf);
    free(c);
}

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
    if (*cap >= need) {
        return 0;
    }
    uint8_t *p = realloc(*buf, need);
    if (p == NULL) {
        return MS_ENOMEM;
    }
    *buf = p;
    *cap = need;
    return 0;
}

/* The connection's I/O, through TLS when it has it. */
static int conn_read(struct ms_client *c, void *buf, size_t len,
                     uint64_t deadline)
{
    if (c->tls != NULL) {
        return ms__tls_read_full(c->tls, buf, len, deadline, c->tls_err,
                                 sizeof(c->tls_err));
    }
    return ms__net_read_full(c->fd, buf, len, deadline);
}

static int conn_write(struct ms_client *c, const void *buf, size_t len,
                      uint64_t deadline, size_t *sent)
{
    if (c->tls != NULL) {
        return ms__tls_write_all(c->tls, buf, len, deadline, sent, c->tls_err,
                                 sizeof(c->tls_err));
    }
    return ms__net_write_all(c->fd, buf, len, deadline, sent);
}

/* Reads frames until the response to `id` arrives; its header goes to *h
 * and its body to c->rbuf. */
static int read_reply(struct ms_client *c, uint64_t id, uint16_t method,
                      uint64_t deadline, struct ms__frame_header *h)
{
    for (;;) {
        uint8_t raw[MS__FRAME_HEADER_BYTES];
        int rc = conn_read(c, raw, sizeof(raw), deadline);
        if (rc != 0) {
            return rc;
        }
        rc = ms__frame_header_decode(raw, MS__MAX_BODY_BYTES, h);
        if (rc != 0) {
            return rc;
        }
        if (reserve(&c->rbuf, &c->rbuf_cap, h->length ? h->length : 1)) {
            return MS_ENOMEM;
        }
        rc = conn_read(c, c->rbuf, h->length, deadline);
        if (rc != 0) {
            return rc;
        }
        if ((h->flags & MS__FLAG_RESPONSE) == 0 || h->request_id != id) {
            continue; /* a late answer to an abandoned request: skip it */
        }
        return h->method == method ? 0 : MS_EPROTO;
    }
}

/* Handles a NOT_LEADER answer.  Returns 1 when the request should be
 * resent (after reconnecting), 0 when the answer goes to the caller. */
static int follow_redirect(struct ms_client *c, const Metastore__ErrorDetail *d,
                           unsigned *redirects, unsigned *failovers,
                           uint64_t deadline)
{
    if (d->code != METASTORE__STATUS_CODE__NOT_LEADER ||
        *redirects >= c->max_redirects) {
        return 0;
    }
    (*redirects)++;
    if (d->leader_addr != NULL && d->leader_addr[0] != '\0' &&
        strcmp(d->leader_addr, c->current) != 0) {
        disconnect(c);
        if (connect_endpoint(c, d->leader_addr, deadline) != 0) {
            (*failovers)++; /* connect_any() takes over on the next turn */
        }
        return 1;
    }
    if (c->n_endpoints > 1 && *failovers < c->n_endpoints) {
        (*failovers)++;
        fail_over(c); /* no address: ask the next endpoint */
        return 1;
    }
    return 0;
}

/* Unpacks the body in c->rbuf into call->resp or call->err. */
static int unpack_reply(struct ms_client *c, struct ms__call *call,
                        const struct ms__frame_header *h)
{
    if (h->flags & MS__FLAG_ERROR) {
        call->err = metastore__error_detail__unpack(NULL, h->length, c->rbuf);
        if (call->err == NULL) {
            ms__client_set_errmsg(c, "%s: undecodable error detail",
                                  c->current);
            return MS_EPROTO;
        }
        return 0;
    }
    call->resp =
        protobuf_c_message_unpack(call->resp_desc, NULL, h->length, c->rbuf);
    if (call->resp == NULL) {
        ms__client_set_errmsg(c, "%s: undecodable %s", c->current,
                              call->resp_desc->short_name);
        return MS_EPROTO;
    }
    return 0;
}

/* Writes the frame in c->sbuf with a fresh request id, then waits for the
 * answer.  *sent tells how many bytes left. */
static int exchange(struct ms_client *c, struct ms__call *call, size_t total,
                    uint64_t deadline, size_t *sent,
                    struct ms__frame_header *reply)
{
    struct ms__frame_header h = {
        .length = (uint32_t)(total - MS__FRAME_HEADER_BYTES),
        .method = call->method,
        .flags = 0,
        .request_id = c->next_id++,
    };
    ms__frame_header_encode(&h, c->sbuf);
    uint64_t start = ms__now_ns();
    int rc = conn_write(c, c->sbuf, total, deadline, sent);
    if (rc != 0) {
        return rc;
    }
    rc = read_reply(c, h.request_id, call->method, deadline, reply);
    call->took_ns = ms__now_ns() - start;
    return rc;
}

int ms__client_call(struct ms_client *c, struct ms__call *call)
{
    call->resp = NULL;
    call->err = NULL;
    c->errmsg[0] = '\0';
    uint64_t deadline =
        ms__now_ns() + (uint64_t)c->command_timeout_ms * 1000000u;
    size_t body = protobuf_c_message_get_packed_size(call->req);
    if (body > MS__MAX_BODY_BYTES) {
        ms__client_set_errmsg(c, "request of %zu bytes is too large", body);
        return MS_ETOOBIG;
    }
    size_t total = MS__FRAME_HEADER_BYTES + body;
    if (reserve(&c->sbuf, &c->sbuf_cap, total) != 0) {
        return MS_ENOMEM;
    }
    protobuf_c_message_pack(call->req, c->sbuf + MS__FRAME_HEADER_BYTES);
    unsigned redirects = 0, failovers = 0;
    for (;;) {
        if (c->fd < 0) {
            int rc = connect_any(c, deadline);
            if (rc != 0) {
                if (rc == MS_ETIMEDOUT) {
                    ms__client_set_errmsg(c, "context deadline exceeded "
                                             "while connecting");
                }
                return rc;
            }
        }
        size_t sent = 0;
        struct ms__frame_header reply;
        int rc = exchange(c, call, total, deadline, &sent, &reply);
        if (rc == 0) {
            rc = unpack_reply(c, call, &reply);
            if (rc != 0) {
                disconnect(c);
                return rc;
            }
            if (call->err == NULL || !follow_redirect(c, call->err, &redirects,
                                                      &failovers, deadline)) {
                return 0;
            }
            metastore__error_detail__free_unpacked(call->err, NULL);
            call->err = NULL;
            continue;
        }
        char ep[ENDPOINT_MAX];
        snprintf(ep, sizeof(ep), "%s", c->current);
        if (rc == MS_ETIMEDOUT) {
            disconnect(c);
            ms__client_set_errmsg(c, "%s: context deadline exceeded", ep);
            return rc;
        }
        fail_over(c);
        bool may_resend = call->idempotent || sent == 0;
        if (rc == MS_EPROTO || rc == MS_ETOOBIG || rc == MS_ENOMEM || rc == MS_ETLS ||
            !may_resend || ++failovers > c->n_endpoints) {
            if (rc == MS_ETLS) {
                ms__client_set_errmsg(c, "%s: %s: %s", ep, ms_strerror(rc),
                                      c->tls_err);
            } else {
                ms__client_set_errmsg(c, "%s: %s", ep, ms_strerror(rc));
            }
            return rc;
        }
    }
}

/* ---- stream I/O (client/watch.c) -------------------------------------- */

int ms__client_read_full(struct ms_client *c, void *buf, size_t len,
                         uint64_t deadline)
{
    return conn_read(c, buf, len, deadline);
}

int ms__client_write_all(struct ms_client *c, const void *buf, size_t len,
                         uint64_t deadline, size_t *sent)
{
    return conn_write(c, buf, len, deadline, sent);
}

bool ms__client_buffered(const struct ms_client *c)
{
    return c->tls != NULL && ms__tls_buffered(c->tls);
}
