/*
 * range_pack.c - hand-written protobuf encoding of RangeResponse and a
 * scratch allocator for decoding RangeRequest (see range_pack.h).
 *
 * Why: on the lease-read fast path the server did no Raft work, yet most of
 * its instructions went to protobuf-c building nested messages, sizing them
 * twice and mallocing each decoded request.  Here a response is sized with
 * a few additions per key and written in one pass, and a request is decoded
 * into a stack buffer.  Wire format reference: proto3 varints, tags
 * (field << 3 | wire type), length-delimited submessages.
 */
#include "server/range_pack.h"

#include <stdlib.h>
#include <string.h>

/* Wire tags: (field number << 3) | wire type (0 varint, 2 length). */
#define TAG_RESP_HEADER 0x0au
#define TAG_RESP_KVS    0x12u
#define TAG_RESP_MORE   0x18u
#define TAG_RESP_COUNT  0x20u
#define TAG_HDR_CLUSTER 0x08u
#define TAG_HDR_MEMBER  0x10u
#define TAG_HDR_REV     0x18u
#define TAG_HDR_TERM    0x20u
#define TAG_HDR_APPLIED 0x28u
#define TAG_KV_KEY      0x0au
#define TAG_KV_CREATE   0x10u
#define TAG_KV_MOD      0x18u
#define TAG_KV_VERSION  0x20u
#define TAG_KV_VALUE    0x2au
#define TAG_KV_LEASE    0x30u

/* Bytes of v as a varint: one per started 7 bits (1 for 0), without a
 * loop: the fast path sizes a dozen varints per answer. */
static size_t varint_size(uint64_t v)
{
    return (size_t)(70 - __builtin_clzll(v | 1u)) / 7u;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* A proto3 varint field: left out when zero (int64 as its two's complement,
 * so a negative value takes ten bytes, as protobuf-c writes it). */
static size_t field_u64_size(uint64_t v)
{
    return v != 0 ? 1 + varint_size(v) : 0;
}

static uint8_t *put_field_u64(uint8_t *p, uint8_t tag, uint64_t v)
{
    if (v != 0) {
        *p++ = tag;
        p = put_varint(p, v);
    }
    return p;
}

/* A proto3 bytes field: left out when empty. */
static size_t field_bytes_size(size_t len)
{
    return len != 0 ? 1 + varint_size(len) + len : 0;
}

static uint8_t *put_field_bytes(uint8_t *p, uint8_t tag, const uint8_t *d,
                                size_t len)
{
    if (len != 0) {
        *p++ = tag;
        p = put_varint(p, len);
        memcpy(p, d, len);
        p += len;
    }
    return p;
}

bool range_pack_keeps(const struct range_pack *r, const struct engine_kv *kv)
{
    return !((r->min_mod_revision > 0 &&
              kv->mod_revision < r->min_mod_revision) ||
             (r->max_mod_revision > 0 &&
              kv->mod_revision > r->max_mod_revision) ||
             (r->min_create_revision > 0 &&
              kv->create_revision < r->min_create_revision) ||
             (r->max_create_revision > 0 &&
              kv->create_revision > r->max_create_revision));
}

static size_t header_size(const struct range_pack *r)
{
    return field_u64_size(r->cluster_id) + field_u64_size(r->member_id) +
           field_u64_size((uint64_t)r->revision) +
           field_u64_size(r->raft_term) + field_u64_size(r->applied_index);
}

/* The header's size: cached by range_pack_prepare(), else computed. */
static size_t header_bytes(const struct range_pack *r)
{
    return r->header_bytes != 0 ? r->header_bytes : header_size(r);
}

static size_t kv_size(const struct engine_kv *kv)
{
    return field_bytes_size(kv->key_len) +
           field_u64_size((uint64_t)kv->create_revision) +
           field_u64_size((uint64_t)kv->mod_revision) +
           field_u64_size((uint64_t)kv->version) +
           field_bytes_size(kv->value_len) +
           field_u64_size((uint64_t)kv->lease);
}

void range_pack_prepare(struct range_pack *r)
{
    r->header_bytes = header_size(r);
    r->kv0_bytes = r->n_kvs > 0 ? kv_size(&r->kvs[0]) : 0;
}

/* The size of kvs[i]: cached for i == 0 by range_pack_prepare(). */
static size_t kv_bytes(const struct range_pack *r, size_t i)
{
    return i == 0 && r->kv0_bytes != 0 ? r->kv0_bytes : kv_size(&r->kvs[i]);
}

size_t range_pack_size(const struct range_pack *r)
{
    size_t h = header_bytes(r);
    size_t n = 1 + varint_size(h) + h;
    for (size_t i = 0; i < r->n_kvs; i++) {
        const struct engine_kv *kv = &r->kvs[i];
        if (range_pack_keeps(r, kv)) {
            size_t k = kv_bytes(r, i);
            n += 1 + varint_size(k) + k;
        }
    }
    n += r->more ? 2 : 0;
    n += field_u64_size((uint64_t)r->count);
    return n;
}

size_t range_pack_write(const struct range_pack *r, uint8_t *out)
{
    uint8_t *p = out;
    *p++ = TAG_RESP_HEADER;
    p = put_varint(p, header_bytes(r));
    p = put_field_u64(p, TAG_HDR_CLUSTER, r->cluster_id);
    p = put_field_u64(p, TAG_HDR_MEMBER, r->member_id);
    p = put_field_u64(p, TAG_HDR_REV, (uint64_t)r->revision);
    p = put_field_u64(p, TAG_HDR_TERM, r->raft_term);
    p = put_field_u64(p, TAG_HDR_APPLIED, r->applied_index);
    for (size_t i = 0; i < r->n_kvs; i++) {
        const struct engine_kv *kv = &r->kvs[i];
        if (!range_pack_keeps(r, kv)) {
            continue;
        }
        *p++ = TAG_RESP_KVS;
        p = put_varint(p, kv_bytes(r, i));
        p = put_field_bytes(p, TAG_KV_KEY, kv->key, kv->key_len);
        p = put_field_u64(p, TAG_KV_CREATE, (uint64_t)kv->create_revision);
        p = put_field_u64(p, TAG_KV_MOD, (uint64_t)kv->mod_revision);
        p = put_field_u64(p, TAG_KV_VERSION, (uint64_t)kv->version);
        p = put_field_bytes(p, TAG_KV_VALUE, kv->value, kv->value_len);
        p = put_field_u64(p, TAG_KV_LEASE, (uint64_t)kv->lease);
    }
    if (r->more) {
        *p++ = TAG_RESP_MORE;
        *p++ = 1;
    }
    p = put_field_u64(p, TAG_RESP_COUNT, (uint64_t)r->count);
    return (size_t)(p - out);
}

/* ---- scratch allocator ---------------------------------------------------- */

static void *scratch_alloc(void *data, size_t size)
{
    struct range_scratch *sc = data;
    size_t want = (size + 15u) & ~(size_t)15u;
    if (want >= size && want <= sizeof sc->buf - sc->used) {
        void *p = sc->buf + sc->used;
        sc->used += want;
        return p;
    }
    void *p = malloc(size);
    if (p != NULL) {
        sc->heap_allocs++;
    }
    return p;
}

static void scratch_free(void *data, void *ptr)
{
    struct range_scratch *sc = data;
    uintptr_t b = (uintptr_t)ptr;
    uintptr_t lo = (uintptr_t)sc->buf;
    if (ptr == NULL || (b >= lo && b < lo + sizeof sc->buf)) {
        return; /* carved from the buffer: emptied by release */
    }
    sc->heap_allocs--;
    free(ptr);
}

void range_scratch_init(struct range_scratch *sc)
{
    sc->alloc.alloc = scratch_alloc;
    sc->alloc.free = scratch_free;
    sc->alloc.allocator_data = sc;
    sc->used = 0;
    sc->heap_allocs = 0;
}

void range_scratch_release(struct range_scratch *sc, ProtobufCMessage *msg)
{
    if (msg != NULL && sc->heap_allocs > 0) {
        protobuf_c_message_free_unpacked(msg, &sc->alloc);
    }
    sc->used = 0;
    sc->heap_allocs = 0;
}
