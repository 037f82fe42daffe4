/*
 * range_decode.c - hand-written RangeRequest decoding (range_decode.h).
 *
 * Happy path: read a one-byte tag, read its value (a varint, or a length
 * and that many bytes), store it in the field, repeat to the end.
 *
 * Failure modes: every read is bounded by the body's end; a varint of more
 * than 10 bytes, a length of more than 5 bytes or above INT_MAX (as
 * protobuf-c limits it), or a length past the end -> -1.  Anything this
 * decoder does not know (a field number above 14, a multi-byte tag, a wire
 * type other than the field's) -> -1 as well: protobuf-c then decides, so
 * the server accepts and rejects exactly what it did before.
 *
 * Value conversions follow protobuf-c 1.4 exactly: int64 and uint64 take
 * the low 64 bits of the varint; enums the low 32 bits as int32; a bool is
 * true when any of its varint's 7-bit groups is nonzero.
 */
#include "server/range_decode.h"

#include <limits.h>
#include <stdbool.h>

/* Field numbers of RangeRequest (proto/metastore.proto). */
enum {
    F_KEY = 1,
    F_RANGE_END = 2,
    F_LIMIT = 3,
    F_REVISION = 4,
    F_SORT_ORDER = 5,
    F_SORT_TARGET = 6,
    F_CONSISTENCY = 7,
    F_KEYS_ONLY = 8,
    F_COUNT_ONLY = 9,
    F_MIN_MOD = 10,
    F_MAX_MOD = 11,
    F_MIN_CREATE = 12,
    F_MAX_CREATE = 13,
    F_MIN_APPLIED = 14,
};

#define WIRE_VARINT 0u
#define WIRE_LEN 2u

/* Reads a varint at *p (< end).  Sets *v (low 64 bits) and *any (true when
 * some 7-bit group is nonzero).  false when unterminated within 10 bytes or
 * the buffer. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v,
                        bool *any)
{
    uint64_t x = 0;
    bool nz = false;
    const uint8_t *q = *p;
    for (unsigned i = 0; i < 10 && q < end; i++, q++) {
        uint8_t b = *q;
        x |= (uint64_t)(b & 0x7fu) << (7u * i);
        nz = nz || (b & 0x7fu) != 0;
        if ((b & 0x80u) == 0) {
            *p = q + 1;
            *v = x;
            *any = nz;
            return true;
        }
    }
    return false;
}

/* A length prefix as protobuf-c reads it: at most 5 bytes, at most
 * INT_MAX, and the data must fit before end. */
static bool read_bytes(const uint8_t **p, const uint8_t *end,
                       ProtobufCBinaryData *out)
{
    const uint8_t *q = *p;
    uint64_t n = 0;
    unsigned i = 0;
    for (;; i++) {
        if (i == 5 || q + i >= end) {
            return false;
        }
        n |= (uint64_t)(q[i] & 0x7fu) << (7u * i);
        if ((q[i] & 0x80u) == 0) {
            break;
        }
    }
    q += i + 1;
    if (n > (uint64_t)INT_MAX || n > (uint64_t)(end - q)) {
        return false;
    }
    out->len = (size_t)n;
    out->data = n > 0 ? (uint8_t *)q : NULL;
    *p = q + n;
    return true;
}

int range_request_decode(const uint8_t *buf, size_t len,
                         Metastore__RangeRequest *out)
{
    metastore__range_request__init(out);
    const uint8_t *p = buf;
    const uint8_t *end = buf + len;
    while (p < end) {
        uint8_t tag = *p++;
        if (tag & 0x80u) {
            return -1; /* multi-byte tag: not one of ours */
        }
        unsigned field = tag >> 3, wire = tag & 7u;
        if (field == F_KEY || field == F_RANGE_END) {
            if (wire != WIRE_LEN ||
                !read_bytes(&p, end,
                            field == F_KEY ? &out->key : &out->range_end)) {
                return -1;
            }
            continue;
        }
        uint64_t v;
        bool any;
        if (field < F_LIMIT || field > F_MIN_APPLIED || wire != WIRE_VARINT ||
            !read_varint(&p, end, &v, &any)) {
            return -1;
        }
        switch (field) {
        case F_LIMIT:
            out->limit = (int64_t)v;
            break;
        case F_REVISION:
            out->revision = (int64_t)v;
            break;
        case F_SORT_ORDER:
            out->sort_order =
                (Metastore__RangeRequest__SortOrder)(int32_t)(uint32_t)v;
            break;
        case F_SORT_TARGET:
            out->sort_target =
                (Metastore__RangeRequest__SortTarget)(int32_t)(uint32_t)v;
            break;
        case F_CONSISTENCY:
            out->consistency = (Metastore__Consistency)(int32_t)(uint32_t)v;
            break;
        case F_KEYS_ONLY:
            out->keys_only = any;
            break;
        case F_COUNT_ONLY:
            out->count_only = any;
            break;
        case F_MIN_MOD:
            out->min_mod_revision = (int64_t)v;
            break;
        case F_MAX_MOD:
            out->max_mod_revision = (int64_t)v;
            break;
        case F_MIN_CREATE:
            out->min_create_revision = (int64_t)v;
            break;
        case F_MAX_CREATE:
            out->max_create_revision = (int64_t)v;
            break;
        default: /* F_MIN_APPLIED */
            out->min_applied_index = v;
            break;
        }
    }
    return 0;
}
