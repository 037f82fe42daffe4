/*
 * raw.c - hand-made client frames for end-to-end tests (raw.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/raw.h"

#define HDR 16

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
}

static size_t frame(uint8_t *buf, size_t cap, uint16_t method, uint64_t id,
                    const ProtobufCMessage *m)
{
    size_t n = m != NULL ? protobuf_c_message_get_packed_size(m) : 0;
    if (HDR + n > cap) {
        return 0;
    }
    put_be(buf, n, 4);
    put_be(buf + 4, method, 2);
    buf[6] = 0; /* flags: a request */
    buf[7] = 1; /* version */
    put_be(buf + 8, id, 8);
    if (m != NULL) {
        protobuf_c_message_pack(m, buf + HDR);
    }
    return HDR + n;
}

size_t raw_frame_range(uint8_t *buf, size_t cap, uint64_t id, const char *key,
                       bool serializable)
{
    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    q.key.data = (uint8_t *)key;
    q.key.len = strlen(key);
    if (serializable) {
        q.consistency = METASTORE__CONSISTENCY__SERIALIZABLE;
    }
    return frame(buf, cap, RAW_METHOD_RANGE, id, &q.base);
}

size_t raw_frame_put(uint8_t *buf, size_t cap, uint64_t id, const char *key,
                     const char *value)
{
    Metastore__PutRequest p = METASTORE__PUT_REQUEST__INIT;
    p.key.data = (uint8_t *)key;
    p.key.len = strlen(key);
    p.value.data = (uint8_t *)value;
    p.value.len = strlen(value);
    return frame(buf, cap, RAW_METHOD_PUT, id, &p.base);
}

size_t raw_frame_ping(uint8_t *buf, size_t cap, uint64_t id)
{
    return frame(buf, cap, RAW_METHOD_PING, id, NULL);
}

int raw_send(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w <= 0) {
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, buf + n, len - n);
        if (r <= 0) {
            return -1;
        }
        n += (size_t)r;
    }
    return 0;
}

int raw_read_reply(int fd, struct raw_reply *r)
{
    uint8_t h[HDR];
    memset(r, 0, sizeof *r);
    if (read_full(fd, h, sizeof h) != 0) {
        return -1;
    }
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                   (uint32_t)h[2] << 8 | h[3];
    r->method = (uint16_t)(h[4] << 8 | h[5]);
    for (int i = 0; i < 8; i++) {
        r->id = r->id << 8 | h[8 + i];
    }
    uint8_t *body = malloc(len + 1);
    if (body == NULL || read_full(fd, body, len) != 0) {
        free(body);
        return -1;
    }
    if (h[6] & 0x02) { /* an ErrorDetail */
        Metastore__ErrorDetail *e =
            metastore__error_detail__unpack(NULL, len, body);
        if (e == NULL) {
            free(body);
            return -1;
        }
        r->status = e->code;
        r->leader_id = e->leader_id;
        snprintf(r->leader_addr, sizeof r->leader_addr, "%s",
                 e->leader_addr != NULL ? e->leader_addr : "");
        snprintf(r->message, sizeof r->message, "%s",
                 e->message != NULL ? e->message : "");
        metastore__error_detail__free_unpacked(e, NULL);
    }
    free(body);
    return 0;
}
