/*
 * frame.c - the client's encoder and decoder of the 16-byte frame header
 * (docs/protocol.md).  Kept apart from server/frame.c on purpose: the
 * client library links no server code.  A header read from the network is
 * checked (version, flag bits, body length) before any field is used.
 */
#include "client/internal.h"
#include "client/metastore.h"

/* Big-endian stores and loads written out byte by byte with constant
 * shifts: portable, and gcc turns each into one bswap and one access (a
 * loop over the bytes cost ~80 instructions per header, on every request
 * metastore-bench sends and every answer it reads). */
static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void ms__frame_header_encode(const struct ms__frame_header *h, uint8_t *out)
{
    put_be32(out, h->length);
    put_be16(out + 4, h->method);
    out[6] = h->flags;
    out[7] = MS__FRAME_VERSION;
    put_be64(out + 8, h->request_id);
}

int ms__frame_header_decode(const uint8_t *in, uint32_t max_body,
                            struct ms__frame_header *out)
{
    out->length = get_be32(in);
    out->method = get_be16(in + 4);
    out->flags = in[6];
    out->request_id = get_be64(in + 8);
    if (in[7] != MS__FRAME_VERSION || (out->flags & ~MS__FLAGS_KNOWN) != 0) {
        return MS_EPROTO;
    }
    if (out->length > max_body) {
        return MS_ETOOBIG;
    }
    return 0;
}
