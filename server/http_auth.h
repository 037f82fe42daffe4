/*
 * http_auth.h - the JSON mapping of the auth endpoints of the HTTP/JSON
 * API (POST /v3/auth/...), in etcd v3's gateway shapes.  Private to
 * server/; called by http_kv.c for the routes whose method is an auth
 * method (SRV_METHOD_AUTHENTICATE .. SRV_METHOD_ROLE_REVOKE_PERMISSION).
 *
 * Requests: the body is read into the route's protobuf request by walking
 * the message's protobuf-c descriptor, so every auth request has the same
 * rules as the rest of the API (http_kv.h): snake_case or lowerCamelCase
 * names (etcd's "permType", "hashedPassword" and "range_end" all work),
 * bytes fields (keys, range ends) in base64, enums by name or number,
 * unknown fields and wrong types refused with INVALID_ARGUMENT naming the
 * field.  Strings holding a NUL byte are refused (names and passwords are
 * C strings inside the server).
 *
 * Replies: as etcd's gateway prints them: {"header":{...}} for every
 * change; "token" for authenticate; "enabled" and "authRevision" for
 * status; "roles" / "users" arrays of names; "perm" as a list of
 * {"permType","key","range_end"} with base64 keys.  Default values are
 * left out (a READ permission has no "permType", as in etcd's output).
 *
 * Pure, like http_kv.c: no server, no sockets.
 */
#ifndef METASTORE_SERVER_HTTP_AUTH_H
#define METASTORE_SERVER_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "proto/metastore.pb-c.h"
#include "server/json.h"

/* True for the auth methods this file maps. */
bool hauth_is_method(uint16_t method);

/*
 * Reads root (the parsed body) as the request of auth method `method`
 * into a message allocated in doc's arena (*msg).  0, or an SRV_STATUS_*
 * code (INVALID_ARGUMENT for bad input, RESOURCE_EXHAUSTED when out of
 * memory) with a message in err[0..cap).  `msg_name` names the message in
 * errors ("AuthUserAddRequest").
 */
int hauth_read_request(struct json_doc *doc, uint16_t method,
                       const char *msg_name, const struct json_value *root,
                       ProtobufCMessage **msg, char *err, size_t cap);

/* Renders the packed response body[0..len) of auth method `method` into o
 * (followed by a newline).  200, or 500 with an error body when it does
 * not decode. */
int hauth_render_reply(uint16_t method, const uint8_t *body, size_t len,
                       struct json_out *o);

/* Shared with http_kv.c (defined there). */
bool hkv__named(const struct json_value *v, const char *snake);
void hkv__put_header(struct json_out *o, const Metastore__ResponseHeader *h);

#endif /* METASTORE_SERVER_HTTP_AUTH_H */
