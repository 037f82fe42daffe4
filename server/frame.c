/*
 * frame.c - the frame header codec and the incremental frame decoder (see
 * frame.h for the wire layout).
 *
 * Happy path: a read() returns one or more whole frames; the decoder checks
 * each header and hands out bodies that point into the caller's buffer,
 * copying nothing.  A frame split across reads is gathered: the header into
 * a 16-byte array, the body into a buffer that grows with the bytes that
 * have arrived (never ahead of them, so a lying length field costs nothing
 * until the bytes are really sent).
 * Failure modes: a header with another version or unknown flag bits
 * (garbage, or a client speaking something else), a length over the limit
 * (answerable: the header is handed back), running out of memory.  Errors
 * are sticky because a byte stream cannot be resynchronised after them.
 */
#include "server/frame.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Method table                                                        */
/* ------------------------------------------------------------------ */

struct method_info {
    const char *name;
    enum srv_method_kind kind;
    const char *req;
    const char *resp;
};

static const struct method_info *method_lookup(unsigned method)
{
    switch (method) {
#define SRV__METHOD_INFO(name, num, kind, rq, rs)                              \
    case num: {                                                                \
        static const struct method_info info = {#name, SRV_METHOD_KIND_##kind, \
                                                rq, rs};                       \
        return &info;                                                          \
    }
        SRV_METHODS(SRV__METHOD_INFO)
#undef SRV__METHOD_INFO
    default:
        return NULL;
    }
}

const char *srv_method_name(unsigned method)
{
    const struct method_info *m = method_lookup(method);
    return m ? m->name : "UNKNOWN";
}

enum srv_method_kind srv_method_kind(unsigned method)
{
    const struct method_info *m = method_lookup(method);
    return m ? m->kind : SRV_METHOD_KIND_NONE;
}

const char *srv_method_request_type(unsigned method)
{
    const struct method_info *m = method_lookup(method);
    return m ? m->req : NULL;
}

const char *srv_method_response_type(unsigned method)
{
    const struct method_info *m = method_lookup(method);
    return m ? m->resp : NULL;
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

const char *frame_strerror(int err)
{
    switch (err) {
#define FRAME__ERR_TEXT(name, value, text)                                     \
    case value:                                                                \
        return text;
        FRAME_ERRORS(FRAME__ERR_TEXT)
#undef FRAME__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *frame_err_name(int err)
{
    switch (err) {
#define FRAME__ERR_NAME(name, value, text)                                     \
    case value:                                                                \
        return #name;
        FRAME_ERRORS(FRAME__ERR_NAME)
#undef FRAME__ERR_NAME
    default:
        return "FRAME_E?";
    }
}

/* ------------------------------------------------------------------ */
/* Header                                                              */
/* ------------------------------------------------------------------ */

/* Big-endian stores and loads with constant shifts, which gcc turns into
 * one bswap and one access each; the loops they replace cost about 170
 * instructions per request (one decode, one encode), 7% of a Ping. */
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

int frame_header_encode(const struct frame_header *h, uint8_t *out)
{
    if (h->flags & ~FRAME_FLAGS_KNOWN)
        return FRAME_EFLAGS;
    put_be32(out, h->length);
    put_be16(out + 4, h->method);
    out[6] = h->flags;
    out[7] = FRAME_VERSION;
    put_be64(out + 8, h->request_id);
    return 0;
}

int frame_header_decode(const uint8_t *in, uint32_t max_body_bytes,
                        struct frame_header *out)
{
    out->length = get_be32(in);
    out->method = get_be16(in + 4);
    out->flags = in[6];
    out->request_id = get_be64(in + 8);
    if (in[7] != FRAME_VERSION)
        return FRAME_EVERSION;
    if (out->flags & ~FRAME_FLAGS_KNOWN)
        return FRAME_EFLAGS;
    if (out->length > max_body_bytes)
        return FRAME_ETOOBIG;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Decoder                                                             */
/* ------------------------------------------------------------------ */

void frame_decoder_init(struct frame_decoder *d, uint32_t max_body_bytes)
{
    memset(d, 0, sizeof(*d));
    d->max_body_bytes = max_body_bytes;
}

void frame_decoder_close(struct frame_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
    d->buf_cap = 0;
}

/* Makes room for `want` body bytes, growing geometrically but never past
 * the announced length. */
static int reserve(struct frame_decoder *d, size_t want)
{
    if (want <= d->buf_cap)
        return 0;
    size_t cap = d->buf_cap ? d->buf_cap * 2 : 4096;
    if (cap < want)
        cap = want;
    if (cap > d->hdr.length)
        cap = d->hdr.length;
    uint8_t *p = realloc(d->buf, cap);
    if (p == NULL)
        return FRAME_ENOMEM;
    d->buf = p;
    d->buf_cap = cap;
    return 0;
}

/* Called between frames: give back a buffer grown for a large frame. */
static void between_frames(struct frame_decoder *d)
{
    d->hdr_have = 0;
    d->body_have = 0;
    if (d->buf_cap > FRAME_DECODER_KEEP_BYTES)
        frame_decoder_close(d);
}

static int fail(struct frame_decoder *d, int err)
{
    d->error = err;
    return err;
}

/* Hands out the frame whose header is in d->hdr and body at `body`. */
static int emit(struct frame_decoder *d, const uint8_t *body, struct frame *out)
{
    static const uint8_t empty[1];
    out->hdr = d->hdr;
    out->body = d->hdr.length ? body : empty;
    d->frames++;
    d->hdr_have = FRAME_HEADER_BYTES + 1; /* "frame handed out" marker */
    return 1;
}

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len,
                       size_t *consumed, struct frame *out)
{
    size_t pos = 0;
    int rc;

    *consumed = 0;
    if (d->error)
        return d->error;
    if (d->hdr_have > FRAME_HEADER_BYTES)
        between_frames(d); /* the previous body is no longer borrowed */

    if (d->hdr_have < FRAME_HEADER_BYTES) {
        size_t need = FRAME_HEADER_BYTES - d->hdr_have;
        const uint8_t *hdr;
        if (d->hdr_have == 0 && len >= FRAME_HEADER_BYTES) {
            hdr = data; /* whole header in this chunk: read it in place */
            pos = FRAME_HEADER_BYTES;
        } else {
            size_t n = len < need ? len : need;
            if (n > 0)
                memcpy(d->hdr_buf + d->hdr_have, data, n);
            d->hdr_have += n;
            pos = n;
            if (d->hdr_have < FRAME_HEADER_BYTES) {
                *consumed = pos;
                return 0;
            }
            hdr = d->hdr_buf;
        }
        d->hdr_have = FRAME_HEADER_BYTES;
        rc = frame_header_decode(hdr, d->max_body_bytes, &d->hdr);
        if (rc < 0) {
            *consumed = pos;
            out->hdr = d->hdr;
            out->body = NULL;
            return fail(d, rc);
        }
    }

    size_t avail = len - pos;
    size_t missing = d->hdr.length - d->body_have;
    if (d->body_have == 0 && avail >= missing) {
        /* The whole body is in this chunk: no copy. */
        *consumed = pos + missing;
        return emit(d, missing ? data + pos : NULL, out);
    }
    size_t n = avail < missing ? avail : missing;
    *consumed = pos;
    if (n == 0)
        return 0; /* header only, so far: nothing to gather yet */
    rc = reserve(d, d->body_have + n);
    if (rc < 0)
        return fail(d, rc);
    memcpy(d->buf + d->body_have, data + pos, n);
    d->body_have += n;
    *consumed = pos + n;
    if (d->body_have < d->hdr.length)
        return 0;
    return emit(d, d->buf, out);
}

int frame_decoder_finish(const struct frame_decoder *d)
{
    if (d->error)
        return d->error;
    if (d->hdr_have == 0 || d->hdr_have > FRAME_HEADER_BYTES)
        return 0;
    return FRAME_ETRUNCATED;
}

/* ------------------------------------------------------------------ */
/* Protobuf messages                                                   */
/* ------------------------------------------------------------------ */

size_t frame_message_size(const ProtobufCMessage *msg)
{
    return FRAME_HEADER_BYTES +
           (msg ? protobuf_c_message_get_packed_size(msg) : 0);
}

int frame_encode_message(uint16_t method, uint8_t flags, uint64_t request_id,
                         const ProtobufCMessage *msg, uint32_t max_body_bytes,
                         uint8_t *out, size_t *written)
{
    size_t body = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    *written = 0;
    if (body > max_body_bytes || body > UINT32_MAX)
        return FRAME_ETOOBIG;
    struct frame_header h = {
        .length = (uint32_t)body,
        .method = method,
        .flags = flags,
        .request_id = request_id,
    };
    int rc = frame_header_encode(&h, out);
    if (rc < 0)
        return rc;
    if (msg && protobuf_c_message_pack(msg, out + FRAME_HEADER_BYTES) != body)
        return FRAME_EINVAL;
    *written = FRAME_HEADER_BYTES + body;
    return 0;
}
