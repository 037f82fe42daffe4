/*
 * auth_glue.h - users, roles and permissions (server/auth.h) wired into
 * metastored: the auth methods of the client protocol, the permission
 * check every front door calls before a request reaches the engine or the
 * log, replicated entries, snapshots and restarts.  Private to server/.
 *
 * Identity: AUTHENTICATE on a connection marks that connection as the user
 * (struct srv_auth_id, kept in the connection) and also returns a token, a
 * random 128-bit value this node keeps in memory bound to the user and the
 * password generation, for front doors without a connection of their own
 * (the HTTP gateway: `Authorization: <token>`).  The identity is checked
 * against the CURRENT applied table on every request: a user deleted, a
 * password changed (generation moved) -> UNAUTHENTICATED; a role revoked
 * -> PERMISSION_DENIED at once.  Since the table is replicated, a
 * connection-bound identity works on every node (follower reads, watches);
 * tokens are local to the node that issued them, as etcd's simple tokens.
 *
 * Entries: every change (user/role add, delete, grant, revoke, password,
 * enable, disable) is proposed with its method number and request body as
 * other writes are; a password is replaced by a PBKDF2 credential
 * (hashed_password) on the receiving node before proposing, so the log,
 * snapshots and the RocksDB aux blob never see it.  Applied on every node
 * in log order (deterministic: auth.h).
 *
 * Forwarded requests (a follower forwards a write to the leader over the
 * peer port) were checked on the follower that received them and are not
 * checked again on the leader.
 */
#ifndef METASTORE_SERVER_AUTH_GLUE_H
#define METASTORE_SERVER_AUTH_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/auth.h"
#include "storage/snapfile.h"

struct srv;
struct srv_conn;
struct srv_wait;
struct metrics;

/* Who a connection (or a gateway request) is.  Zeroed: nobody. */
struct srv_auth_id {
    bool set;
    uint64_t gen; /* the user's password generation when authenticated */
    char user[AUTH_MAX_NAME_BYTES + 1];
};

/* The identity slot of a client connection (conn.c). */
struct srv_auth_id *srv_conn_auth_id(struct srv_conn *c);

/* Counted on this node, exported on /metrics. */
struct srv_auth_stats {
    uint64_t auth_ok;           /* successful Authenticate */
    uint64_t auth_bad_password; /* known user, wrong password */
    uint64_t auth_unknown_user; /* no such user (or no password) */
    uint64_t auth_rate_limited; /* refused: too many failures */
    uint64_t unauthenticated;   /* requests refused UNAUTHENTICATED */
    uint64_t permission_denied; /* requests refused PERMISSION_DENIED */
};

struct srv_auth; /* auth_glue.c */

/* Builds the empty table (s->auth).  0 or -ENOMEM. */
int srv_auth_open(struct srv *s);
void srv_auth_close(struct srv *s);
/* After srv_recover(): a RocksDB engine loads the table from its aux blob
 * (the memory engine has it from the snapshot and the WAL replay). */
int srv_auth_recover(struct srv *s);

/*
 * THE permission check, for every front door (binary protocol: called by
 * srv_kv_dispatch; HTTP gateway: call it with the identity of the request's
 * token, see srv_auth_id_from_token).  `body` is the request's protobuf
 * body for `method` (borrowed).  Returns SRV_STATUS_OK when the request may
 * run, else SRV_STATUS_UNAUTHENTICATED or SRV_STATUS_PERMISSION_DENIED (or
 * INVALID_ARGUMENT for an undecodable body) with msg filled in; refusals
 * are counted.  Always OK while auth is disabled.
 */
int srv_auth_check(struct srv *s, const struct srv_auth_id *id,
                   uint16_t method, const uint8_t *body, size_t len, char *msg,
                   size_t cap);
/* Fills *id from a token issued by AUTHENTICATE on this node.  false when
 * the token is unknown or expired (answer UNAUTHENTICATED). */
bool srv_auth_id_from_token(struct srv *s, const char *token,
                            struct srv_auth_id *id);

/*
 * The identity of a request that came through a front door without a
 * connection of its own (the HTTP gateway), from the token it carries
 * (NULL or "": none).  *id is zeroed, then filled from a valid token.
 * Returns SRV_STATUS_OK, or SRV_STATUS_UNAUTHENTICATED with msg filled in
 * (counted) when auth is enabled and the token is unknown or expired.
 * While auth is disabled a token is not looked at, as in etcd.  The
 * permission check itself stays in srv_kv_dispatch (srv_auth_check).
 */
int srv_auth_token_identity(struct srv *s, const char *token,
                            struct srv_auth_id *id, char *msg, size_t cap);

/* True for the auth methods (AUTHENTICATE .. ROLE_REVOKE_PERMISSION). */
bool srv_auth_is_method(uint16_t method);
/* Serves an auth method on connection c (after srv_auth_check): answers
 * reads and AUTHENTICATE at once, proposes changes.  The request is
 * finished (srv_conn_request_done) unless it was parked. */
void srv_auth_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                       uint64_t request_id, const uint8_t *body, size_t len);
/* AUTHENTICATE for a front door without a connection: verifies (with the
 * same rate limiting by client address) and returns a token in
 * token[33].  SRV_STATUS_* with msg. */
int srv_auth_authenticate(struct srv *s, const char *client_addr,
                          const char *name, const char *password,
                          struct srv_auth_id *id, char token[33], char *msg,
                          size_t cap);

/* True for the entry methods applied here. */
bool srv_auth_owns_entry(uint16_t method);
/* Applies an auth change entry and answers w.  Nonzero: this node failed. */
int srv_auth_apply(struct srv *s, uint64_t index, uint16_t method,
                   const uint8_t *body, size_t len, struct srv_wait *w);

/* Snapshot section (after the TTL lease table): magic, length, auth_save()
 * image.  Load: an older snapshot without the section means an empty
 * table; load=false only skips it. */
int srv_auth_snapshot_save(struct srv *s,
                           int (*write)(void *ctx, const void *, size_t),
                           void *ctx);
int srv_auth_snapshot_load(struct srv *s, struct snapfile_reader *r,
                           uint64_t *off, bool load);
/* RocksDB: stages the table and records it with the applied index. */
int srv_auth_persist(struct srv *s);

void srv_auth_get_stats(const struct srv *s, struct srv_auth_stats *out);
void srv_auth_collect_metrics(struct metrics *m, struct srv *s);

#endif /* METASTORE_SERVER_AUTH_GLUE_H */
