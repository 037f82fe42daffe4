/*
 * range_pack.h - the lease-read fast path's cheap halves: a RangeResponse
 * encoder that writes protobuf bytes straight from engine results, and a
 * protobuf-c allocator that decodes a RangeRequest into caller-provided
 * scratch memory instead of malloc.
 *
 * The encoder's output is byte-identical to protobuf_c_message_pack() of the
 * Metastore__RangeResponse that server/kv.c would otherwise build (proto3:
 * zero scalars and empty bytes are left out, the header is always present,
 * fields in number order); test/unit/server/test_range_pack.c checks that
 * against protobuf-c for many random results.
 */
#ifndef METASTORE_SERVER_RANGE_PACK_H
#define METASTORE_SERVER_RANGE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "storage/engine.h"

/* What a RangeResponse carries; kvs are borrowed.  A kv is left out when a
 * nonzero filter bound excludes it (the RangeRequest's min/max mod/create
 * revision filters, applied after the limit as etcd does). */
struct range_pack {
    uint64_t cluster_id;
    uint64_t member_id;
    int64_t revision;
    uint64_t raft_term;
    uint64_t applied_index;
    const struct engine_kv *kvs;
    size_t n_kvs;
    int64_t min_mod_revision;
    int64_t max_mod_revision;
    int64_t min_create_revision;
    int64_t max_create_revision;
    bool more;
    int64_t count;
    /* Size of the encoded ResponseHeader: 0 (computed when needed) until
     * range_pack_prepare() caches it, so sizing and writing do not both
     * compute it.  Stale if a header field changes afterwards. */
    size_t header_bytes;
    /* Size of the encoded kvs[0] (0: not cached), cached the same way: a
     * point read has one key-value, and sizing it twice (once for the
     * frame length, once for its length prefix) was the largest repeated
     * cost left in writing the answer. */
    size_t kv0_bytes;
};

/* True when kv passes r's revision filters (it is encoded). */
bool range_pack_keeps(const struct range_pack *r, const struct engine_kv *kv);

/* Caches the header size and the first key-value's size in r (call after
 * filling the header fields and kvs). */
void range_pack_prepare(struct range_pack *r);

/* Bytes range_pack_write() writes for r. */
size_t range_pack_size(const struct range_pack *r);

/* Writes the packed RangeResponse to out, which holds range_pack_size(r)
 * bytes; returns the count written (equal to that size). */
size_t range_pack_write(const struct range_pack *r, uint8_t *out);

/*
 * A protobuf-c allocator over a fixed caller buffer: allocations are carved
 * from buf (16-byte aligned) and fall back to malloc when it is full.
 * Usage: range_scratch_init(), protobuf_c_message_unpack(..., &sc.alloc,
 * ...), use the message, range_scratch_release(&sc, msg) (frees the heap
 * part, if any, and empties the buffer).  Not thread-safe; one message at
 * a time.
 */
#define RANGE_SCRATCH_BYTES 1024u

struct range_scratch {
    ProtobufCAllocator alloc;
    size_t used;
    size_t heap_allocs; /* live blocks that came from malloc */
    _Alignas(16) uint8_t buf[RANGE_SCRATCH_BYTES];
};

void range_scratch_init(struct range_scratch *sc);
/* Frees msg (may be NULL) as unpacked with sc->alloc; sc is empty after. */
void range_scratch_release(struct range_scratch *sc, ProtobufCMessage *msg);

/*
 * In server/conn.c: queues the OK reply of a Range encoded from r, exactly
 * as srv_conn_reply() would queue the equivalent RangeResponse (statistics,
 * forwarded requests, closing connections included).
 */
struct srv;
struct srv_conn;
void srv_conn_reply_range(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, const struct range_pack *r);

#endif /* METASTORE_SERVER_RANGE_PACK_H */
