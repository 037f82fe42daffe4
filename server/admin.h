/*
 * admin.h - the admin HTTP endpoint of metastored (server.admin_listen,
 * default 127.0.0.1:2381): metrics, health, readiness and status for
 * operators and orchestrators.  Reference: docs/observability.md.
 *
 *   GET /metrics  Prometheus text format 0.0.4 (server/metrics.h)
 *   GET /health   200 {"health":"ok"} or 503 {"health":"failing","reason":...}
 *   GET /readyz   200 {"ready":true} or 503 {"ready":false,"reason":...}
 *   GET /status   200 JSON document describing the node
 *   HEAD on the same paths: the same status and headers, no body.
 *   Other paths: 404 JSON; other methods: 405 with Allow; malformed
 *   requests: 400 (or 413/414/431/501/505, server/http.h) then close.
 *
 * The server knows nothing about struct srv: everything it reports comes
 * from a provider (struct admin_provider), so it can be tested with a fake
 * one.  admin_glue.c implements the provider for the daemon.
 *
 * Never blocks the loop: requests are parsed as bytes arrive, answered at
 * once from the provider (which only reads in-memory state) and written
 * asynchronously.  Connections beyond max_connections get a 503 and are
 * closed; a connection idle for idle_timeout_ms is closed.  HTTP/1.1
 * keep-alive and pipelining are supported.
 *
 * Threading: the loop thread that owns `loop`.  Errors: 0 or a negative
 * libuv code (UV_EINVAL for a bad address, UV_ENOMEM...).
 */
#ifndef METASTORE_SERVER_ADMIN_H
#define METASTORE_SERVER_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "server/metrics.h"

/* ---- the provider ----------------------------------------------------------
 */

struct admin_provider {
    void *data;
    /* Fills m (declare and set families) just before /metrics renders it.
     * The registry persists between scrapes.  May be NULL. */
    void (*collect_metrics)(void *data, struct metrics *m);
    /* 0 when healthy; otherwise nonzero with a reason written into
     * reason[0..cap) (NUL-terminated). */
    int (*health)(void *data, char *reason, size_t cap);
    /* 0 when ready to serve traffic; otherwise nonzero with a reason. */
    int (*ready)(void *data, char *reason, size_t cap);
    /* Writes a JSON object into buf[0..cap) (NUL-terminated when cap > 0)
     * and returns its length; a return >= cap means "truncated: call again
     * with at least that + 1 bytes" (snprintf's contract). */
    size_t (*status_json)(void *data, char *buf, size_t cap);
};

struct admin_options {
    uint32_t max_connections; /* default 64 */
    uint64_t idle_timeout_ms; /* default 30000; a connection with no
                                 complete request for this long is closed */
    size_t max_body;          /* request body accepted (default 64 KiB) */
};

void admin_options_default(struct admin_options *o);

struct admin_server;

/*
 * Listens on listen_addr ("host:port", IPv4 or "[v6]:port"; port 0 picks
 * an ephemeral port, see admin_port()).  provider is copied (its data must
 * outlive the server); opts may be NULL.  On success *out is to be closed
 * with admin_stop().  UV_EINVAL for an address that does not parse, or the
 * libuv error of bind/listen.
 */
int admin_start(uv_loop_t *loop, const char *listen_addr,
                const struct admin_provider *provider,
                const struct admin_options *opts, struct admin_server **out);

/*
 * Closes the listener and every connection (responses not yet written are
 * dropped).  `done(arg)` (may be NULL) runs from the loop once every handle
 * is closed; the server is freed just before it.  No provider callback runs
 * after this returns.
 */
void admin_stop(struct admin_server *a, void (*done)(void *), void *arg);

/* The port the listener is bound to. */
int admin_port(const struct admin_server *a);
/* Open connections right now (for tests and the status page). */
uint32_t admin_connections(const struct admin_server *a);

/* ---- a small JSON writer, for providers -------------------------------------
 */

/* Appends into buf[0..cap), always NUL-terminated when cap > 0; `len`
 * counts what would have been written, so len >= cap means truncated. */
struct admin_json {
    char *buf;
    size_t cap;
    size_t len;
};

void admin_json_init(struct admin_json *j, char *buf, size_t cap);
void admin_json_raw(struct admin_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A JSON string: quoted, with ", \ and control characters escaped. */
void admin_json_str(struct admin_json *j, const char *s);

/* ---- the provider for metastored (admin_glue.c) -----------------------------
 */

struct srv;

struct admin_glue {
    struct srv *s;
    uint64_t max_apply_lag; /* /health: commit - applied allowed */
    bool target_known;      /* /readyz: commit index seen when a leader */
    uint64_t target_commit; /* first became known */
    bool caught_up;         /* applied reached it once: stays ready */
};

/* Binds g to s (read-only use).  max_apply_lag: entries /health tolerates
 * between the commit and the applied index (0: the default, 1000). */
void admin_glue_init(struct admin_glue *g, struct srv *s,
                     uint64_t max_apply_lag);
/* The provider to hand to admin_start() (data = g). */
struct admin_provider admin_glue_provider(struct admin_glue *g);

#endif /* METASTORE_SERVER_ADMIN_H */
