/*
 * http_kv.h - the translation between etcd v3's JSON gateway shapes and
 * MetaStore's protobuf messages, for the HTTP/JSON API (server/http_api.c).
 *
 * A request body (JSON) becomes the packed protobuf request of the route's
 * method, which the one command dispatcher (srv_kv_dispatch) serves like a
 * request from the binary protocol; its reply (a packed response, or an
 * ErrorDetail) becomes a JSON body and an HTTP status.  Nothing here knows
 * about sockets or the server: it is pure and unit-tested on its own.
 *
 * JSON mapping (protobuf's, as etcd's gateway prints it): field names in
 * snake_case on output (the maintenance status fields etcd spells in
 * camelCase, as etcd does); on input snake_case or lowerCamelCase; bytes
 * fields in base64; 64-bit integers written as JSON strings and read from
 * strings or numbers; enums written as names and read as names or
 * numbers; fields holding their default value (0, false, empty) left out;
 * null reads as the default.  Unknown fields, wrong types, bad base64 and
 * out-of-range integers are refused with INVALID_ARGUMENT and a message
 * that names the field.
 *
 * Errors become etcd's gateway error body
 *     {"error": msg, "code": grpc_code, "message": msg, "status": "NAME"}
 * ("status" is MetaStore's name for the code; NOT_LEADER adds leader_id and
 * leader_addr, COMPACTED adds compact_revision) with the HTTP status
 * grpc-gateway uses for the code (hkv_http_status()).
 */
#ifndef METASTORE_SERVER_HTTP_KV_H
#define METASTORE_SERVER_HTTP_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/json.h"

/* One served path.  New endpoints (lease, auth, watch) add rows to the
 * table in http_kv.c. */
struct hkv_route {
    const char *path;    /* "/v3/kv/range" */
    uint16_t method;     /* SRV_METHOD_* it is dispatched as */
    const char *request; /* protobuf message name, for error messages */
};

/* The route for `path`, or NULL. */
const struct hkv_route *hkv_route_find(const char *path);
/* Every route, for the 404 message and the docs; *n gets the count. */
const struct hkv_route *hkv_routes(size_t *n);

/*
 * Turns the JSON body json[0..len) (empty: "{}") for route r into the
 * packed protobuf request: *out is malloc'd (the caller frees it; may be
 * NULL when *out_len is 0).  0 on success; otherwise an SRV_STATUS_* code
 * (INVALID_ARGUMENT for bad input, RESOURCE_EXHAUSTED when out of memory)
 * with a message in msg[0..cap).  lim bounds the JSON document (NULL:
 * defaults).
 */
int hkv_encode_request(const struct hkv_route *r, const uint8_t *json,
                       size_t len, const struct json_limits *lim, uint8_t **out,
                       size_t *out_len, char *msg, size_t cap);

/*
 * Renders the dispatcher's reply for route r: body[0..len) is the packed
 * response message, or an ErrorDetail when is_error.  Writes the JSON
 * into o (followed by a newline) and returns the HTTP status.  A reply
 * that does not decode becomes a 500 error body.
 */
int hkv_render_reply(const struct hkv_route *r, bool is_error,
                     const uint8_t *body, size_t len, struct json_out *o);

/*
 * Writes an error body for a problem found before dispatch (bad JSON,
 * unknown path...): srv_status is an SRV_STATUS_* code.  Returns the HTTP
 * status hkv_http_status(srv_status), or http_status when it is not 0
 * (413, 411, 405... have no gRPC twin of their own).
 */
int hkv_render_error(struct json_out *o, int srv_status, int http_status,
                     const char *msg);

/* HTTP status for a MetaStore status (grpc-gateway's table: NOT_FOUND 404,
 * INVALID_ARGUMENT 400, FAILED_PRECONDITION 400, RESOURCE_EXHAUSTED 429,
 * DEADLINE_EXCEEDED 504, UNIMPLEMENTED 501, UNAVAILABLE 503, ...;
 * NOT_LEADER 503, COMPACTED 400). */
int hkv_http_status(int srv_status);
/* gRPC code for a MetaStore status (NOT_LEADER -> UNAVAILABLE 14,
 * COMPACTED -> OUT_OF_RANGE 11, others are already gRPC's numbers). */
int hkv_grpc_code(int srv_status);

#endif /* METASTORE_SERVER_HTTP_KV_H */
