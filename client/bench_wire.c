/*
 * bench_wire.c - metastore-bench's request bodies, written directly, and
 * the --verify check of its answers (see bench_wire.h for why).
 *
 * Encoding: proto3 wire format as protobuf-c writes it: a tag byte
 * (field number << 3 | wire type) then, for bytes, a varint length and the
 * bytes; for an enum, its varint.  Fields at their default value (empty
 * bytes, enum 0) are not written.
 *
 * Failure modes: none in the encoders (the caller sizes the buffer);
 * bench_wire_verify() answers false for anything that is not the expected
 * message.
 */
#include "client/bench_wire.h"

#include <string.h>

#include "proto/metastore.pb-c.h"

#define TAG_KEY         0x0au /* field 1, length-delimited (both requests) */
#define TAG_VALUE       0x12u /* PutRequest field 2, length-delimited */
#define TAG_CONSISTENCY 0x38u /* RangeRequest field 7, varint */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80u) {
        *p++ = (uint8_t)(v | 0x80u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80u) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_bytes(uint8_t *p, uint8_t tag, const void *d, size_t len)
{
    if (len == 0) {
        return p;
    }
    *p++ = tag;
    p = put_varint(p, len);
    memcpy(p, d, len);
    return p + len;
}

size_t bench_wire_range_request(uint8_t *out, const char *key, size_t key_len,
                                bool serializable)
{
    uint8_t *p = put_bytes(out, TAG_KEY, key, key_len);
    if (serializable) {
        *p++ = TAG_CONSISTENCY;
        *p++ = (uint8_t)METASTORE__CONSISTENCY__SERIALIZABLE;
    }
    return (size_t)(p - out);
}

static size_t bytes_field_size(size_t len)
{
    return len != 0 ? 1 + varint_size(len) + len : 0;
}

size_t bench_wire_put_request_size(size_t key_len, size_t value_len)
{
    return bytes_field_size(key_len) + bytes_field_size(value_len);
}

size_t bench_wire_put_request(uint8_t *out, const char *key, size_t key_len,
                              const uint8_t *value, size_t value_len)
{
    uint8_t *p = put_bytes(out, TAG_KEY, key, key_len);
    p = put_bytes(p, TAG_VALUE, value, value_len);
    return (size_t)(p - out);
}

static bool range_ok(const Metastore__RangeResponse *m, const char *key,
                     size_t key_len)
{
    if (m->header == NULL || m->n_kvs > 1 || m->count != (int64_t)m->n_kvs) {
        return false;
    }
    if (m->n_kvs == 1) {
        const Metastore__KeyValue *kv = m->kvs[0];
        return kv != NULL && kv->key.len == key_len &&
               memcmp(kv->key.data, key, key_len) == 0;
    }
    return true;
}

bool bench_wire_verify(enum bench_wire_kind k, const uint8_t *body, size_t len,
                       const char *key, size_t key_len)
{
    bool ok = false;
    switch (k) {
    case BENCH_WIRE_PING: {
        Metastore__PingResponse *m =
            metastore__ping_response__unpack(NULL, len, body);
        ok = m != NULL && m->header != NULL;
        if (m != NULL) {
            metastore__ping_response__free_unpacked(m, NULL);
        }
        break;
    }
    case BENCH_WIRE_PUT: {
        Metastore__PutResponse *m =
            metastore__put_response__unpack(NULL, len, body);
        ok = m != NULL && m->header != NULL;
        if (m != NULL) {
            metastore__put_response__free_unpacked(m, NULL);
        }
        break;
    }
    case BENCH_WIRE_RANGE: {
        Metastore__RangeResponse *m =
            metastore__range_response__unpack(NULL, len, body);
        ok = m != NULL && range_ok(m, key, key_len);
        if (m != NULL) {
            metastore__range_response__free_unpacked(m, NULL);
        }
        break;
    }
    }
    return ok;
}
