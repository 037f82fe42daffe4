/*
 * frame.h - the framing of MetaStore-C's client and peer protocols.
 *
 * Every message on a connection (client port or peer port) is one frame: a
 * fixed 16-byte header followed by `length` bytes of body, a protobuf message
 * from proto/metastore.proto or proto/raft.proto.  All header integers are
 * big-endian (network byte order):
 *
 *     offset  size  field
 *     0       4     length      body bytes that follow the header
 *     4       2     method      SRV_METHOD_* (what the body is)
 *     6       1     flags       FRAME_FLAG_* bits; unknown bits are an error
 *     7       1     version     FRAME_VERSION (1); anything else is an error
 *     8       8     request_id  chosen by the requester, echoed in the reply
 *
 * Requests are pipelined: a client may send many before reading replies, and
 * replies may come back in any order, matched by request_id.  A reply has the
 * method of its request and the RESPONSE flag; with the ERROR flag too its
 * body is an ErrorDetail instead of the method's response message.
 * docs/protocol.md is the reference for people writing clients.
 *
 * Errors: functions return 0 (or 1 where stated) on success and a negative
 * FRAME_E* code on failure; frame_strerror() names it.  Nothing read from
 * the network is trusted: every header field is checked before use.
 */
#ifndef METASTORE_SERVER_FRAME_H
#define METASTORE_SERVER_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define FRAME_HEADER_BYTES 16
#define FRAME_VERSION      1

/* Flag bits (header byte 6). */
#define FRAME_FLAG_RESPONSE 0x01u /* a reply to the request with this id */
#define FRAME_FLAG_ERROR    0x02u /* reply body is an ErrorDetail */
/* Streams (WATCH): every reply frame of a stream has STREAM; the frame after
 * which the stream is over (and its request id free again) also has
 * STREAM_END.  docs/protocol.md "Streams" has the rules. */
#define FRAME_FLAG_STREAM     0x04u /* one of several replies to one request */
#define FRAME_FLAG_STREAM_END 0x08u /* the last reply of a stream */
#define FRAME_FLAGS_KNOWN     0x0fu

/*
 * The method table: X(NAME, number, kind, request message, response message)
 * with kind one of CLIENT (client port), ADMIN (client port, test-only or
 * operator methods) or PEER (peer port), and the message names as in the
 * .proto files (NULL: the number is reserved, no message defined yet).  The
 * same table is in docs/protocol.md; numbers never change once released.
 * Number 0 is never a valid method.
 */
#define SRV_METHODS(X)                                                         \
    X(PING, 1, CLIENT, "metastore.PingRequest", "metastore.PingResponse")      \
    X(STATUS, 2, CLIENT, "metastore.StatusRequest",                            \
      "metastore.StatusResponse")                                              \
    X(RANGE, 10, CLIENT, "metastore.RangeRequest", "metastore.RangeResponse")  \
    X(PUT, 11, CLIENT, "metastore.PutRequest", "metastore.PutResponse")        \
    X(DELETE_RANGE, 12, CLIENT, "metastore.DeleteRangeRequest",                \
      "metastore.DeleteRangeResponse")                                         \
    X(TXN, 13, CLIENT, "metastore.TxnRequest", "metastore.TxnResponse")        \
    X(COMPACT, 14, CLIENT, "metastore.CompactionRequest",                      \
      "metastore.CompactionResponse")                                          \
    X(WATCH, 20, CLIENT, "metastore.WatchRequest",                             \
      "metastore.WatchResponse")                                               \
    X(LEASE_GRANT, 30, CLIENT, NULL, NULL)                                     \
    X(LEASE_REVOKE, 31, CLIENT, NULL, NULL)                                    \
    X(LEASE_KEEPALIVE, 32, CLIENT, NULL, NULL)                                 \
    X(LEASE_TIME_TO_LIVE, 33, CLIENT, NULL, NULL)                              \
    X(LEASE_LEASES, 34, CLIENT, NULL, NULL)                                    \
    X(MEMBER_LIST, 40, ADMIN, "metastore.MemberListRequest",                   \
      "metastore.MemberListResponse")                                          \
    X(MEMBER_ADD, 41, ADMIN, "metastore.MemberAddRequest",                     \
      "metastore.MemberAddResponse")                                           \
    X(MEMBER_REMOVE, 42, ADMIN, "metastore.MemberRemoveRequest",               \
      "metastore.MemberRemoveResponse")                                        \
    X(MEMBER_PROMOTE, 43, ADMIN, "metastore.MemberPromoteRequest",             \
      "metastore.MemberPromoteResponse")                                       \
    X(MOVE_LEADER, 50, ADMIN, "metastore.MoveLeaderRequest",                   \
      "metastore.MoveLeaderResponse")                                          \
    X(FAULT, 60, ADMIN, "metastore.FaultRequest", "metastore.FaultResponse")   \
    X(AUTHENTICATE, 70, CLIENT, "metastore.AuthenticateRequest",                \
      "metastore.AuthenticateResponse")                                        \
    X(AUTH_ENABLE, 71, CLIENT, "metastore.AuthEnableRequest",                  \
      "metastore.AuthEnableResponse")                                          \
    X(AUTH_DISABLE, 72, CLIENT, "metastore.AuthDisableRequest",                \
      "metastore.AuthDisableResponse")                                         \
    X(AUTH_STATUS, 73, CLIENT, "metastore.AuthStatusRequest",                  \
      "metastore.AuthStatusResponse")                                          \
    X(USER_ADD, 74, CLIENT, "metastore.AuthUserAddRequest",                    \
      "metastore.AuthUserAddResponse")                                         \
    X(USER_GET, 75, CLIENT, "metastore.AuthUserGetRequest",                    \
      "metastore.AuthUserGetResponse")                                         \
    X(USER_LIST, 76, CLIENT, "metastore.AuthUserListRequest",                  \
      "metastore.AuthUserListResponse")                                        \
    X(USER_DELETE, 77, CLIENT, "metastore.AuthUserDeleteRequest",              \
      "metastore.AuthUserDeleteResponse")                                      \
    X(USER_CHANGE_PASSWORD, 78, CLIENT,                                        \
      "metastore.AuthUserChangePasswordRequest",                               \
      "metastore.AuthUserChangePasswordResponse")                              \
    X(USER_GRANT_ROLE, 79, CLIENT, "metastore.AuthUserGrantRoleRequest",       \
      "metastore.AuthUserGrantRoleResponse")                                   \
    X(USER_REVOKE_ROLE, 80, CLIENT, "metastore.AuthUserRevokeRoleRequest",     \
      "metastore.AuthUserRevokeRoleResponse")                                  \
    X(ROLE_ADD, 81, CLIENT, "metastore.AuthRoleAddRequest",                    \
      "metastore.AuthRoleAddResponse")                                         \
    X(ROLE_GET, 82, CLIENT, "metastore.AuthRoleGetRequest",                    \
      "metastore.AuthRoleGetResponse")                                         \
    X(ROLE_LIST, 83, CLIENT, "metastore.AuthRoleListRequest",                  \
      "metastore.AuthRoleListResponse")                                        \
    X(ROLE_DELETE, 84, CLIENT, "metastore.AuthRoleDeleteRequest",              \
      "metastore.AuthRoleDeleteResponse")                                      \
    X(ROLE_GRANT_PERMISSION, 85, CLIENT,                                       \
      "metastore.AuthRoleGrantPermissionRequest",                              \
      "metastore.AuthRoleGrantPermissionResponse")                             \
    X(ROLE_REVOKE_PERMISSION, 86, CLIENT,                                      \
      "metastore.AuthRoleRevokePermissionRequest",                             \
      "metastore.AuthRoleRevokePermissionResponse")                            \
    X(PEER_HELLO, 100, PEER, "metastore.raft.Hello",                           \
      "metastore.raft.HelloResponse")                                          \
    X(PEER_RAFT, 101, PEER, "metastore.raft.Batch", NULL)                      \
    X(PEER_FORWARD, 102, PEER, "metastore.raft.Forward",                       \
      "metastore.raft.ForwardResponse")

enum srv_method {
#define SRV__METHOD_ENUM(name, num, kind, req, resp) SRV_METHOD_##name = num,
    SRV_METHODS(SRV__METHOD_ENUM)
#undef SRV__METHOD_ENUM
};

enum srv_method_kind {
    SRV_METHOD_KIND_NONE = 0, /* not in the table */
    SRV_METHOD_KIND_CLIENT,
    SRV_METHOD_KIND_ADMIN,
    SRV_METHOD_KIND_PEER,
};

/* "RANGE" for SRV_METHOD_RANGE; "UNKNOWN" when not in the table. */
const char *srv_method_name(unsigned method);
/* The kind of a method, SRV_METHOD_KIND_NONE when not in the table. */
enum srv_method_kind srv_method_kind(unsigned method);
/* Full protobuf names of the request and response messages, or NULL
 * (reserved number, or no response: PEER_RAFT). */
const char *srv_method_request_type(unsigned method);
const char *srv_method_response_type(unsigned method);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Numbered from -1001 so they never look like a -errno. */
#define FRAME_ERRORS(X)                                                        \
    X(FRAME_EVERSION, -1001, "unsupported frame version")                      \
    X(FRAME_EFLAGS, -1002, "unknown frame flag bits")                          \
    X(FRAME_ETOOBIG, -1003, "frame body longer than the limit")                \
    X(FRAME_ETRUNCATED, -1004, "connection ended inside a frame")              \
    X(FRAME_ENOMEM, -1005, "out of memory")                                    \
    X(FRAME_EINVAL, -1006, "invalid argument")

enum frame_error {
#define FRAME__ERR_ENUM(name, value, text) name = value,
    FRAME_ERRORS(FRAME__ERR_ENUM)
#undef FRAME__ERR_ENUM
};

/* Text of a FRAME_E* code, "unknown error" otherwise.  Never NULL. */
const char *frame_strerror(int err);
/* "FRAME_ETOOBIG" etc., or "FRAME_E?". */
const char *frame_err_name(int err);

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

struct frame_header {
    uint32_t length; /* body bytes */
    uint16_t method; /* enum srv_method; not checked by the codec */
    uint8_t flags;   /* FRAME_FLAG_* */
    uint64_t request_id;
};

/*
 * Writes the 16 header bytes of `h` (version FRAME_VERSION) to out.
 * FRAME_EFLAGS (and nothing written) if h->flags has unknown bits.
 */
int frame_header_encode(const struct frame_header *h, uint8_t *out);

/*
 * Reads 16 header bytes.  Checks, in this order: version (FRAME_EVERSION),
 * flags (FRAME_EFLAGS), length <= max_body_bytes (FRAME_ETOOBIG).  *out is
 * filled in every case so that a caller can still answer an oversized
 * request by its request_id (the other two errors mean the bytes are not a
 * MetaStore frame at all: close without answering).
 */
int frame_header_decode(const uint8_t *in, uint32_t max_body_bytes,
                        struct frame_header *out);

/* ------------------------------------------------------------------ */
/* Incremental decoder                                                 */
/* ------------------------------------------------------------------ */

/* A complete frame.  `body` (hdr.length bytes, never NULL) is borrowed: see
 * frame_decoder_feed() for how long it stays valid. */
struct frame {
    struct frame_header hdr;
    const uint8_t *body;
};

/*
 * Turns a byte stream, fed in whatever chunks read() returns, into frames.
 * A frame that lies wholly inside one chunk is returned in place (its body
 * points into the chunk: no copy); only a frame split across chunks is
 * gathered in the decoder's buffer, which grows as bytes arrive (a header
 * announcing a large body does not by itself allocate it) and is given back
 * after a frame larger than FRAME_DECODER_KEEP_BYTES.
 * Caller-allocated: frame_decoder_init() / frame_decoder_close().
 */
#define FRAME_DECODER_KEEP_BYTES (64u * 1024u)

struct frame_decoder {
    uint32_t max_body_bytes;
    int error;       /* sticky: once set, every feed returns it */
    size_t hdr_have; /* header bytes gathered (0..16) */
    uint8_t hdr_buf[FRAME_HEADER_BYTES];
    struct frame_header hdr; /* valid once hdr_have == 16 */
    uint8_t *buf;            /* body gathered across chunks */
    size_t buf_cap;
    size_t body_have;
    uint64_t frames; /* frames returned so far (statistics) */
};

void frame_decoder_init(struct frame_decoder *d, uint32_t max_body_bytes);
/* Frees the buffer.  Bodies returned earlier become invalid. */
void frame_decoder_close(struct frame_decoder *d);

/*
 * Consumes bytes from data[0..len) until a frame is complete or the input
 * runs out; *consumed says how many (always set).  Returns:
 *   1  a frame is in *out; call again with data + *consumed for the rest.
 *      out->body stays valid until the next call on this decoder and, when
 *      it points into `data`, as long as the caller keeps that buffer.
 *   0  every byte was consumed and no frame is complete yet.
 *  <0  FRAME_EVERSION / FRAME_EFLAGS (garbage: close the connection),
 *      FRAME_ETOOBIG (out->hdr holds the header: answer RESOURCE_EXHAUSTED
 *      with its request_id, then close), FRAME_ENOMEM.  The error is
 *      sticky: the stream cannot be resynchronised.
 */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len,
                       size_t *consumed, struct frame *out);

/*
 * For end of stream: 0 when the decoder stands between frames,
 * FRAME_ETRUNCATED when part of a frame was received, the sticky error if
 * there was one.
 */
int frame_decoder_finish(const struct frame_decoder *d);

/* ------------------------------------------------------------------ */
/* Encoding a protobuf message as a frame                              */
/* ------------------------------------------------------------------ */

/* Bytes frame_encode_message() writes for msg (NULL msg: empty body). */
size_t frame_message_size(const ProtobufCMessage *msg);

/*
 * Writes header + packed msg (NULL msg: empty body) into out, which must
 * hold frame_message_size(msg) bytes; *written gets that count.
 * FRAME_ETOOBIG when the body would exceed max_body_bytes (nothing useful is
 * written), FRAME_EFLAGS for unknown flag bits.
 */
int frame_encode_message(uint16_t method, uint8_t flags, uint64_t request_id,
                         const ProtobufCMessage *msg, uint32_t max_body_bytes,
                         uint8_t *out, size_t *written);

#endif /* METASTORE_SERVER_FRAME_H */
