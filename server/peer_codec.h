/*
 * peer_codec.h - struct raft_message <-> the peer protocol's protobuf
 * messages (proto/raft.proto: Message, Batch).
 *
 * Encoding never allocates per message on the happy path beyond the
 * output buffer: a message is packed as one `msgs` record of a Batch body
 * (field tag, length, packed Message), so a Batch body is simply the
 * records of its messages one after the other.  The transport appends
 * records to a per-peer buffer as Raft produces messages and puts one
 * frame header in front of them when it writes.
 *
 * Decoding trusts nothing: every enum is range-checked, the flags must be
 * known bits, ids must be non-zero, entries and snapshot data may only
 * appear on the message types that carry them, entry and message counts
 * are bounded, a snapshot's configuration holds at most RAFT_MAX_MEMBERS
 * distinct non-zero ids.  The Raft core checks the rest (terms, indexes,
 * contiguity).  Decoded messages own malloc'd entries, entry data and
 * snapshot chunk data, released by raft_message_free_parts().
 *
 * Errors: functions return 0 or a negative PEER_E* code (peer_strerror()).
 */
#ifndef METASTORE_SERVER_PEER_CODEC_H
#define METASTORE_SERVER_PEER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/* Numbered from -1101 so they never look like a -errno or a FRAME_E*. */
#define PEER_ERRORS(X)                                                         \
    X(PEER_ENOMEM, -1101, "out of memory")                                     \
    X(PEER_EINVAL, -1102, "invalid argument")                                  \
    X(PEER_EMALFORMED, -1103, "malformed peer message")                        \
    X(PEER_ETOOBIG, -1104, "peer message over a size or count limit")          \
    X(PEER_ENOTFOUND, -1105, "no such peer")                                   \
    X(PEER_EUNAVAILABLE, -1106, "peer not connected")                          \
    X(PEER_ECLOSED, -1107, "transport closing")

enum peer_error {
#define PEER__ERR_ENUM(name, value, text) name = value,
    PEER_ERRORS(PEER__ERR_ENUM)
#undef PEER__ERR_ENUM
};

/* Text of a PEER_E* code, or of a libuv (-errno) code; never NULL. */
const char *peer_strerror(int err);

/* Decoding bounds (the frame size bounds the bytes; these bound counts,
 * which protobuf-c turns into allocations). */
#define PEER_CODEC_MAX_MSGS    (1u << 20) /* messages in one Batch */
#define PEER_CODEC_MAX_ENTRIES (1u << 20) /* entries in one message */

/* A growable byte buffer (caller-allocated; zero-initialise or
 * peer_buf_init()).  Used for encoded records and outgoing frames. */
struct peer_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void peer_buf_init(struct peer_buf *b);
/* Frees the storage and zeroes *b. */
void peer_buf_free(struct peer_buf *b);
/* Makes room for `n` more bytes at data + len.  0 or PEER_ENOMEM. */
int peer_buf_reserve(struct peer_buf *b, size_t n);

/*
 * Bytes peer_codec_append_record() would add for m (the record: tag,
 * length varint and packed Message).  0 (never a valid size) when m cannot
 * be encoded (PEER_ENOMEM building the scratch structure).
 */
size_t peer_codec_record_size(const struct raft_message *m);

/*
 * Appends m to b as one `msgs` record of a Batch body.  m is borrowed (its
 * entries and snapshot data are copied into b).  On failure b->len is
 * unchanged.  PEER_ENOMEM.
 */
int peer_codec_append_record(struct peer_buf *b, const struct raft_message *m);

/*
 * Appends a whole Batch body holding msgs[0..n) to b (the records in order).
 * PEER_ENOMEM; on failure b->len is unchanged.
 */
int peer_codec_encode_batch(struct peer_buf *b, const struct raft_message *msgs,
                            size_t n);

/*
 * Decodes a Batch body.  On success *msgs is a malloc'd array of *n
 * messages (NULL when n is 0), each with malloc'd parts; release everything
 * with peer_codec_free_msgs().  PEER_EMALFORMED (not a Batch, or a value out
 * of range), PEER_ETOOBIG (count bounds), PEER_ENOMEM.  Nothing is returned
 * on failure.
 */
int peer_codec_decode_batch(const uint8_t *body, size_t len,
                            struct raft_message **msgs, size_t *n);

/* Frees each message's parts and the array (NULL is fine). */
void peer_codec_free_msgs(struct raft_message *msgs, size_t n);

#endif /* METASTORE_SERVER_PEER_CODEC_H */
