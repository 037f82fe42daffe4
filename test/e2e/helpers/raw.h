/*
 * raw.h - client frames by hand, for tests that need what the client
 * library hides: many requests pipelined on one connection without waiting,
 * several frames in one write(), a connection closed with requests in
 * flight, and the exact status and leader hint of an error reply.
 *
 * Frame: 16-byte header (length, method, flags, version, request id; see
 * server/frame.h) + protobuf body.
 */
#ifndef METASTORE_TEST_RAW_H
#define METASTORE_TEST_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_METHOD_PING 1
#define RAW_METHOD_STATUS 2
#define RAW_METHOD_RANGE 10
#define RAW_METHOD_PUT 11

/* Appends a Range frame for key to buf (cap bytes); returns its size, or 0
 * when it does not fit. */
size_t raw_frame_range(uint8_t *buf, size_t cap, uint64_t id, const char *key,
                       bool serializable);
/* Appends a Put frame (key = value); size or 0. */
size_t raw_frame_put(uint8_t *buf, size_t cap, uint64_t id, const char *key,
                     const char *value);
/* Appends an empty Ping frame; size or 0. */
size_t raw_frame_ping(uint8_t *buf, size_t cap, uint64_t id);

/* Writes all of buf with one write() where the kernel allows.  0 or -1. */
int raw_send(int fd, const uint8_t *buf, size_t len);

struct raw_reply {
    uint16_t method;
    uint64_t id;
    int status;         /* 0: OK, else the ErrorDetail code */
    uint64_t leader_id; /* NOT_LEADER: the hint (0: none) */
    char leader_addr[64];
    char message[256];
};

/* Reads one reply frame (the socket's receive timeout applies).  0, or -1
 * when the connection closed or timed out first. */
int raw_read_reply(int fd, struct raw_reply *r);

#endif /* METASTORE_TEST_RAW_H */
