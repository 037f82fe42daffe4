/*
 * internal.h - private to client/: the socket layer, the frame header codec
 * and the helpers shared by the client library's files.  Nothing here is
 * part of the public API (client/metastore.h).
 */
#ifndef METASTORE_CLIENT_INTERNAL_H
#define METASTORE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC). */
uint64_t ms__now_ns(void);

/*
 * Resolves host and connects a TCP socket to the first address that accepts
 * within timeout_ms.  The socket is non-blocking, close-on-exec, TCP_NODELAY.
 * Name resolution (getaddrinfo) blocks and is not bounded by the timeout;
 * numeric addresses, the usual case for a cluster, never wait on it.
 * Returns the fd (>= 0), MS_ETIMEDOUT, MS_EINVAL (unknown host) or -errno
 * (-ECONNREFUSED...).
 */
int ms__net_dial(const char *host, uint16_t port, uint32_t timeout_ms);

/*
 * Writes all len bytes before deadline_ns (a ms__now_ns() time).  *sent is
 * set to the number of bytes written, also on failure, so the caller knows
 * whether any of a request left.  Returns 0, MS_ETIMEDOUT or -errno.
 */
int ms__net_write_all(int fd, const void *buf, size_t len, uint64_t deadline_ns,
                      size_t *sent);

/*
 * Reads exactly len bytes before deadline_ns.  Returns 0, MS_ETIMEDOUT,
 * MS_ECLOSED (orderly shutdown by the peer) or -errno.
 */
int ms__net_read_full(int fd, void *buf, size_t len, uint64_t deadline_ns);

/* Reads at least one byte (at most cap) before deadline_ns.  Returns the
 * count (> 0), MS_ETIMEDOUT, MS_ECLOSED or -errno. */
int ms__net_read_some(int fd, void *buf, size_t cap, uint64_t deadline_ns);

/* ---- TLS (tls.c) ------------------------------------------------------ */
/*
 * TLS over a connected socket from ms__net_dial(), through memory BIOs
 * (bytes still move with send/recv and poll deadlines).  Errors: MS_EINVAL
 * (files: unreadable, not PEM, key not matching), MS_ETLS (handshake,
 * verification, a bad record), MS_ECLOSED, MS_ETIMEDOUT, -errno,
 * MS_ENOMEM; err gets a sentence for MS_EINVAL and MS_ETLS.
 */
struct ms_tls_options;
struct ms__tls_ctx;
struct ms__tls_conn;
int ms__tls_ctx_create(const struct ms_tls_options *o, char *err,
                       size_t errlen, struct ms__tls_ctx **out);
void ms__tls_ctx_destroy(struct ms__tls_ctx *t);
/* Handshakes on fd and checks the server certificate names `host`. */
int ms__tls_connect(struct ms__tls_ctx *t, int fd, const char *host,
                    uint64_t deadline, struct ms__tls_conn **out, char *err,
                    size_t errlen);
int ms__tls_write_all(struct ms__tls_conn *c, const void *buf, size_t len,
                      uint64_t deadline, size_t *sent, char *err,
                      size_t errlen);
int ms__tls_read_full(struct ms__tls_conn *c, void *buf, size_t len,
                      uint64_t deadline, char *err, size_t errlen);
/* True when bytes already read from the socket wait inside OpenSSL (poll()
 * on the fd would not see them). */
bool ms__tls_buffered(const struct ms__tls_conn *c);
/* Sends close_notify if the socket takes it at once, frees c (not the fd). */
void ms__tls_close(struct ms__tls_conn *c);

/* ---- frames (docs/protocol.md) -------------------------------------- */
/*
 * The client's own copy of the 16-byte frame header codec, byte-compatible
 * with server/frame.h (the library must not link server code):
 *     0 length u32 | 4 method u16 | 6 flags u8 | 7 version u8 (1) |
 *     8 request_id u64, all big-endian.
 */
#define MS__FRAME_HEADER_BYTES 16
#define MS__FRAME_VERSION      1
#define MS__FLAG_RESPONSE      0x01u
#define MS__FLAG_ERROR         0x02u
#define MS__FLAG_STREAM        0x04u
#define MS__FLAG_STREAM_END    0x08u
#define MS__FLAGS_KNOWN        0x0fu
/* The largest response body the client accepts. */
#define MS__MAX_BODY_BYTES (64u * 1024u * 1024u)

enum ms__method {
    MS__METHOD_PING = 1,
    MS__METHOD_STATUS = 2,
    MS__METHOD_RANGE = 10,
    MS__METHOD_PUT = 11,
    MS__METHOD_DELETE_RANGE = 12,
    MS__METHOD_TXN = 13,
    MS__METHOD_COMPACT = 14,
    MS__METHOD_WATCH = 20,
    MS__METHOD_LEASE_GRANT = 30,
    MS__METHOD_LEASE_REVOKE = 31,
    MS__METHOD_LEASE_KEEPALIVE = 32,
    MS__METHOD_LEASE_TIME_TO_LIVE = 33,
    MS__METHOD_LEASE_LEASES = 34,
    MS__METHOD_MEMBER_LIST = 40,
    MS__METHOD_MEMBER_ADD = 41,
    MS__METHOD_MEMBER_REMOVE = 42,
    MS__METHOD_MEMBER_PROMOTE = 43,
    MS__METHOD_MOVE_LEADER = 50,
    MS__METHOD_FAULT = 60,
    MS__METHOD_AUTHENTICATE = 70,
    MS__METHOD_AUTH_ENABLE = 71,
    MS__METHOD_AUTH_DISABLE = 72,
    MS__METHOD_AUTH_STATUS = 73,
    MS__METHOD_USER_ADD = 74,
    MS__METHOD_USER_GET = 75,
    MS__METHOD_USER_LIST = 76,
    MS__METHOD_USER_DELETE = 77,
    MS__METHOD_USER_CHANGE_PASSWORD = 78,
    MS__METHOD_USER_GRANT_ROLE = 79,
    MS__METHOD_USER_REVOKE_ROLE = 80,
    MS__METHOD_ROLE_ADD = 81,
    MS__METHOD_ROLE_GET = 82,
    MS__METHOD_ROLE_LIST = 83,
    MS__METHOD_ROLE_DELETE = 84,
    MS__METHOD_ROLE_GRANT_PERMISSION = 85,
    MS__METHOD_ROLE_REVOKE_PERMISSION = 86,
};

struct ms__frame_header {
    uint32_t length;
    uint16_t method;
    uint8_t flags;
    uint64_t request_id;
};

/* Writes the 16 header bytes (version MS__FRAME_VERSION). */
void ms__frame_header_encode(const struct ms__frame_header *h, uint8_t *out);

/* Reads 16 header bytes.  MS_EPROTO for a wrong version or unknown flag
 * bits, MS_ETOOBIG when length > max_body (out is filled in anyway). */
int ms__frame_header_decode(const uint8_t *in, uint32_t max_body,
                            struct ms__frame_header *out);

/* ---- calls ------------------------------------------------------------ */

#include <stdbool.h>

#include "client/metastore.h"
#include "proto/metastore.pb-c.h"

/* One request/response exchange, filled in by ms__client_call(). */
struct ms__call {
    uint16_t method;             /* enum ms__method */
    const ProtobufCMessage *req; /* the request body (borrowed) */
    const ProtobufCMessageDescriptor *resp_desc;
    bool idempotent; /* may be resent after the connection failed */
    /* out: exactly one of resp/err is set when the call returns 0 */
    ProtobufCMessage *resp;      /* OK: the unpacked response (owned) */
    Metastore__ErrorDetail *err; /* ERROR flag: the detail (owned) */
    uint64_t took_ns;
};

/*
 * Sends call->req and waits for its answer, following NOT_LEADER redirects
 * and failing over between endpoints as metastore.h describes.  Returns 0
 * with call->resp or call->err set, or a negative code (with the client's
 * errmsg set) when no answer came.
 */
int ms__client_call(struct ms_client *c, struct ms__call *call);

/* Remembers the highest applied index seen in a response header (sent as
 * RangeRequest.min_applied_index for monotonic reads across servers). */
void ms__client_note_applied(struct ms_client *c, uint64_t applied_index);
uint64_t ms__client_min_applied(const struct ms_client *c);
/* Sets the client's errmsg (printf-style). */
void ms__client_set_errmsg(struct ms_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Builds the result of a call.  Takes ownership of call->resp / call->err
 * (and clears them).  Returns 0 with *out for an OK answer, the mapped
 * MS_E* code with *out for an error answer, MS_EPROTO (*out NULL) when the
 * response lacks what the type needs, MS_ENOMEM.
 */
int ms__result_build(enum ms_result_type type, struct ms__call *call,
                     struct ms_result **out);

/*
 * The common tail of every public call: runs `req` through
 * ms__client_call(), builds the result of `type`, remembers the applied
 * index and sets the errmsg on failure.  Returns as the public calls do.
 */
int ms__run(struct ms_client *c, uint16_t method, const ProtobufCMessage *req,
            const ProtobufCMessageDescriptor *desc, bool idempotent,
            enum ms_result_type type, struct ms_result **out);

/* Runs `req` through ms__client_call() and hands back the raw response:
 * 0 with *resp (owned by the caller, free with
 * protobuf_c_message_free_unpacked), or an MS_E* code with the errmsg set
 * (the server's message when it said no).  For calls that copy fields out
 * of the response themselves (client/call.c). */
int ms__call_message(struct ms_client *c, uint16_t method,
                     const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, bool idempotent,
                     ProtobufCMessage **resp);

/* ---- streams (client/watch.c) ---------------------------------------- */

/* Connects (any endpoint, from the one after the last failure) unless
 * connected.  0, MS_ETIMEDOUT, MS_ENOENDPOINT. */
int ms__client_connect(struct ms_client *c, uint64_t deadline);
/* The connected socket, -1 when disconnected. */
int ms__client_fd(const struct ms_client *c);
/* Drops the connection; the next connect starts at the next endpoint. */
void ms__client_fail_over(struct ms_client *c);
/* Drops the connection; the next connect starts at the same endpoint. */
void ms__client_disconnect(struct ms_client *c);
/* A request id not used before on this client. */
uint64_t ms__client_next_id(struct ms_client *c);
/* The connection's I/O for streams, through TLS when the connection has it
 * (same results as ms__net_read_full / ms__net_write_all). */
int ms__client_read_full(struct ms_client *c, void *buf, size_t len,
                         uint64_t deadline);
int ms__client_write_all(struct ms_client *c, const void *buf, size_t len,
                         uint64_t deadline, size_t *sent);
/* True when response bytes are already buffered in the client (TLS), so
 * the caller must read before polling the socket. */
bool ms__client_buffered(const struct ms_client *c);

/* ---- authentication (auth.c) ---------------------------------------- */
/* Keeps copies of the credentials every new connection authenticates
 * with (user NULL: none).  0 or MS_ENOMEM. */
int ms__client_set_credentials(struct ms_client *c, const char *user,
                               const char *password);
/* Sends Authenticate on the connection just made and waits for its answer.
 * 0, or the server's refusal (MS_EUNAUTHENTICATED, MS_EEXHAUSTED) with
 * errmsg set, or an I/O error. */
int ms__auth_handshake(struct ms_client *c, const char *user,
                       const char *password, uint64_t deadline);
/* Overwrites a secret in memory (not optimised away). */
void ms__wipe(void *p, size_t n);

#endif /* METASTORE_CLIENT_INTERNAL_H */
