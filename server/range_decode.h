/*
 * range_decode.h - a RangeRequest decoder for the read fast path that does
 * not go through protobuf-c's generic, descriptor-driven unpack.
 *
 * A Get is one or two bytes fields and a few varints; protobuf-c looks each
 * field up in the descriptor, allocates the message and copies the key.
 * This decoder fills a caller's Metastore__RangeRequest in one pass, with
 * the bytes fields pointing into the request body (no allocation, no copy).
 *
 * Contract: when range_request_decode() returns 0, *out holds exactly the
 * field values protobuf-c's metastore__range_request__unpack() would give
 * for the same bytes (proto3: a missing field is zero or empty; the last
 * occurrence of a repeated scalar or bytes field wins).  It returns -1 for
 * anything it does not handle itself: malformed bytes, but also unknown
 * fields, wire-type mismatches and multi-byte tags.  The caller then falls
 * back to protobuf-c, which decides (and keeps unknown fields, as before).
 * test/unit/server/test_range_decode.c and test/fuzz/fuzz_range.c check the
 * contract against protobuf-c.
 */
#ifndef METASTORE_SERVER_RANGE_DECODE_H
#define METASTORE_SERVER_RANGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/metastore.pb-c.h"

/* Decodes buf (len bytes) into *out, which it initializes first.  out's
 * key and range_end point into buf (borrowed: valid while buf is), or are
 * NULL when empty.  0, or -1: use protobuf-c instead. */
int range_request_decode(const uint8_t *buf, size_t len,
                         Metastore__RangeRequest *out);

#endif /* METASTORE_SERVER_RANGE_DECODE_H */
