/*
 * http_api.h - the HTTP/JSON API of metastored (server.http_listen, off by
 * default): etcd v3's JSON gateway endpoints over HTTP/1.1, for scripts
 * and curl.  Reference: docs/http-api.md.
 *
 *   POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn,
 *        /v3/kv/compaction, /v3/maintenance/status
 *
 * One dispatcher: each request body is translated to the protobuf request
 * (server/http_kv.h) and handed to srv_kv_dispatch() through a
 * pseudo-connection (srv_conn_callback()), exactly as a request of the
 * binary protocol; validation, routing, lease reads, follower reads and
 * write forwarding are the same code.  The reply comes back to this
 * module, which renders it as JSON.
 *
 * Connections: HTTP/1.1 keep-alive (and pipelining: one request is served
 * at a time per connection, so responses stay in order); bodies framed by
 * Content-Length only.  Failure modes, each answered with a JSON error body
 * ({"error","code","message","status"}) and the server keeps serving:
 *   - malformed HTTP: 400 (414/431/505 as server/http.h says), then close;
 *   - Transfer-Encoding (chunked): 411, then close;
 *   - body over server.http_max_body_bytes: 413, then close;
 *   - unknown path: 404; a method other than POST: 405 with Allow: POST;
 *   - malformed JSON, wrong types, bad base64, unknown fields: 400;
 *   - statuses from the dispatcher: grpc-gateway's HTTP codes
 *     (http_kv.h);
 *   - over server.http_max_connections: 503, then close.
 * After an error that closes the connection, the rest of what the client
 * sends is read and dropped for a moment (a lingering close), so that the
 * client sees the answer instead of a connection reset.  A connection with
 * no request in progress for IDLE_MS is closed.
 *
 * Threading: the loop thread of struct srv.
 */
#ifndef METASTORE_SERVER_HTTP_API_H
#define METASTORE_SERVER_HTTP_API_H

struct srv;
struct http_api;

/* Listens on s->cfg.server.http_listen (must not be empty).  0, or a
 * negative libuv code (bad address, bind/listen failure: logged). */
int http_api_start(struct srv *s, struct http_api **out);

/* Closes the listener and every connection (replies still to come are
 * dropped); the object is freed once every handle and every request in
 * progress is done. */
void http_api_stop(struct http_api *h);

/* The port the listener is bound to. */
int http_api_port(const struct http_api *h);

#endif /* METASTORE_SERVER_HTTP_API_H */
