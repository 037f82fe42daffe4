/*
 * bench_wire.h - the request bodies metastore-bench sends and the optional
 * check of the answers it gets (client/bench_wire.c).
 *
 * Why this exists: the load generator shares the machine's cores with the
 * servers it measures, so every instruction it spends per request is taken
 * from them.  Packing a two-field RangeRequest with protobuf-c (a
 * descriptor walk to size it, another to pack it) and naming the key with
 * snprintf cost the bench about 2,300 instructions per read, four times its
 * cost per Ping, which made "lease reads / Ping" measure the bench as much
 * as the server.  Here the bodies are written directly, in the field order
 * and encoding protobuf-c uses (proto3: fields in number order, default
 * values left out), so the bytes on the wire are the same;
 * test/unit/client/test_bench_wire.c checks that against protobuf-c.
 *
 * Answers are normally matched by their frame header alone; --verify adds
 * bench_wire_verify(), a full protobuf-c decode of every OK answer.
 * Private to metastore-bench even though the Makefile puts it in the
 * client library.
 */
#ifndef METASTORE_CLIENT_BENCH_WIRE_H
#define METASTORE_CLIENT_BENCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes a RangeRequest body for a key of at most 127 bytes can take. */
#define BENCH_WIRE_RANGE_MAX (2u + 127u + 2u)

/*
 * Writes a RangeRequest body {key, consistency} into out (which holds
 * BENCH_WIRE_RANGE_MAX bytes) and returns its length.  key_len < 128
 * (bench keys are 16 bytes).  serializable sets consistency SERIALIZABLE;
 * LINEARIZABLE is the default value and is left out, as protobuf-c does.
 */
size_t bench_wire_range_request(uint8_t *out, const char *key, size_t key_len,
                                bool serializable);

/* Bytes bench_wire_put_request() writes for these lengths. */
size_t bench_wire_put_request_size(size_t key_len, size_t value_len);

/* Writes a PutRequest body {key, value} into out (which holds
 * bench_wire_put_request_size() bytes); returns its length. */
size_t bench_wire_put_request(uint8_t *out, const char *key, size_t key_len,
                              const uint8_t *value, size_t value_len);

/* What a request asked for, to check its answer against. */
enum bench_wire_kind {
    BENCH_WIRE_PING = 0,
    BENCH_WIRE_RANGE,
    BENCH_WIRE_PUT,
};

/*
 * --verify: decodes the body of an OK answer with protobuf-c and checks
 * that it is the answer to the request: a PingResponse, PutResponse or
 * RangeResponse that decodes and carries a ResponseHeader; for a Range of
 * one key, at most one key-value, whose key is the key asked for, and a
 * count equal to the number of key-values.  Returns true when it is.
 */
bool bench_wire_verify(enum bench_wire_kind k, const uint8_t *body, size_t len,
                       const char *key, size_t key_len);

#endif /* METASTORE_CLIENT_BENCH_WIRE_H */
