/*
 * http_api.h - the HTTP/JSON API of metastored (server.http_listen, off by
 * default): etcd v3's JSON gateway endpoints over HTTP/1.1, for scripts
 * and curl.  Reference: docs/http-api.md.
 *
 *   POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn,
 *        /v3/kv/compaction, /v3/maintenance/status,
 *        /v3/lease/grant, revoke, keepalive, timetolive, leases (and the
 *        /v3/kv/lease/ aliases), /v3/watch (streamed),
 *        /v3/auth/authenticate, enable, disable, status, user/..., role/...
 *
 * One dispatcher: each request body is translated to the protobuf request
 * (server/http_kv.h) and handed to srv_kv_dispatch() through a
 * pseudo-connection (srv_conn_callback()), exactly as a request of the
 * binary protocol; validation, routing, lease reads, follower reads and
 * write forwarding are the same code.  The reply comes back to this
 * module, which renders it as JSON.
 *
 * Watch: POST /v3/watch opens one watcher on a stream pseudo-connection
 * (srv_conn_stream()), so the watch glue and its hub serve it exactly as a
 * binary-protocol stream, slow-client rules included (the backlog it sees
 * is this connection's unsent bytes).  The answer is 200 with chunked
 * transfer encoding, one {"result": WatchResponse} line per chunk, until
 * the watcher is canceled (then the response ends and the connection
 * closes) or the client closes (then the watcher is dropped at once).
 * A refusal before the first response is an ordinary JSON error answer.
 *
 * TLS: with tls.http_cert_file, or else the client port's context when that
 * port has TLS, every connection runs through server/tls.h (memory BIOs):
 * ciphertext in, plaintext to the HTTP parser; output encrypted on flush.
 * A failed handshake (plain HTTP, garbage, an untrusted or missing client
 * certificate) is logged once and closes that connection only; a handshake
 * must finish within server.request_timeout.
 *
 * Identity: check_identity() in http_api.c is the one place a request's
 * identity is established, for every route, watch included, before the
 * body reaches the dispatcher: the token of POST /v3/auth/authenticate,
 * sent in the Authorization header, becomes the identity of the request's
 * pseudo-connection (srv_auth_token_identity), and srv_kv_dispatch runs
 * the same permission check as for the binary protocol.  An unknown or
 * expired token while auth is enabled: 401.  The /v3/auth/ endpoints are
 * mapped by server/http_auth.h.
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
