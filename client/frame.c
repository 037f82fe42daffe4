/*
 * frame.c - the client's encoder and decoder of the 16-byte frame header
 * (docs/protocol.md).  Kept apart from server/frame.c on purpose: the
 * client library links no server code.  A header read from the network is
 * checked (version, flag bits, body length) before any field is used.
 */
#include "client/internal.h"
#include "client/metastore.h"

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

void ms__frame_header_encode(const struct ms__frame_header *h, uint8_t *out)
{
    put_be(out, h->length, 4);
    put_be(out + 4, h->method, 2);
    out[6] = h->flags;
    out[7] = MS__FRAME_VERSION;
    put_be(out + 8, h->request_id, 8);
}

int ms__frame_header_decode(const uint8_t *in, uint32_t max_body,
                            struct ms__frame_header *out)
{
    out->length = (uint32_t)get_be(in, 4);
    out->method = (uint16_t)get_be(in + 4, 2);
    out->flags = in[6];
    out->request_id = get_be(in + 8, 8);
    if (in[7] != MS__FRAME_VERSION || (out->flags & ~MS__FLAGS_KNOWN) != 0) {
        return MS_EPROTO;
    }
    if (out->length > max_body) {
        return MS_ETOOBIG;
    }
    return 0;
}
