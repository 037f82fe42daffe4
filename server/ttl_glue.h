/*
 * ttl_glue.h - TTL leases (etcd v3's Lease service) wired into metastored:
 * the lease table of server/ttl.h fed from committed entries, the leader's
 * expiry timer, the client methods LEASE_GRANT .. LEASE_LEASES, snapshots
 * and restarts.  Private to server/.
 *
 * Entries: Grant and Revoke are proposed with the client's request body and
 * method, as writes are.  The leader proposes two internal kinds of its own
 * (method numbers no client can send, see SRV_TTL_ENTRY_*): an expiry (a
 * revoke decided by the leader's clock) and a checkpoint of remaining TTLs.
 * Every node applies them in log order, so every node holds the same table
 * and deletes the same keys at the same revision.
 *
 * Persistence: the memory engine replays the WAL after a snapshot, and
 * snapshots carry the table (srv_ttl_snapshot_*).  The RocksDB engine does
 * not replay what it has applied, so the table is staged into the engine's
 * aux blob (engine_rocksdb_aux_stage) with every grant, revoke and
 * checkpoint, atomically with the applied index; key attachments are
 * rebuilt from the keys' lease fields at start-up.
 */
#ifndef METASTORE_SERVER_TTL_GLUE_H
#define METASTORE_SERVER_TTL_GLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/ttl.h"
#include "storage/engine.h"
#include "storage/snapfile.h"

struct srv;
struct srv_conn;
struct srv_wait;
struct metrics;

/* Internal entry methods (never accepted from a client: not in the command
 * table).  Bodies: EXPIRE a LeaseRevokeRequest; CHECKPOINT the encoding of
 * srv_ttl_checkpoint_encode(). */
#define SRV_TTL_ENTRY_EXPIRE     0xff31
#define SRV_TTL_ENTRY_CHECKPOINT 0xff32

/* Leases' lifetime counters on this node (exported on /metrics). */
struct srv_ttl_stats {
    uint64_t grants;   /* applied grants that succeeded */
    uint64_t revokes;  /* applied client revokes that found their lease */
    uint64_t expiries; /* applied expiry revokes that found their lease */
    uint64_t checkpoints; /* checkpoint entries this node proposed */
};

struct srv_ttl {
    struct ttl *t;
    struct srv_ttl_stats stats;
    uint64_t leader_term; /* term ttl_become_leader() was called in; 0 */
    uint64_t last_checkpoint_ns;
    uint64_t checkpoint_interval_ns;
    int64_t election_ns;
};

/* Builds the lease table from the configuration (s->ttl).  -ENOMEM,
 * TTL_EINVAL. */
int srv_ttl_open(struct srv *s);
void srv_ttl_close(struct srv *s);

/* After srv_recover(): a RocksDB engine that was not restored from a
 * snapshot loads the table from its aux blob and re-attaches keys from the
 * engine's lease fields.  0, or an error that must stop the node. */
int srv_ttl_recover(struct srv *s);

/* ---- requests (kv.c's command table hands these over) --------------------- */

/* True for LEASE_KEEPALIVE, LEASE_TIME_TO_LIVE, LEASE_LEASES: served by the
 * leader from its table (forwarded or refused elsewhere). */
bool srv_ttl_is_leader_read(uint16_t method);
/* Serves one of them; the request is finished (srv_conn_request_done) unless
 * it was forwarded or parked. */
void srv_ttl_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                      uint64_t request_id, const uint8_t *body, size_t len);
/* Validates a LEASE_GRANT / LEASE_REVOKE body before it is proposed.
 * false with *status and msg filled in when it is refused. */
bool srv_ttl_validate(struct srv *s, uint16_t method, const uint8_t *body,
                      size_t len, int *status, char *msg, size_t cap);

/* ---- apply (kv.c) ----------------------------------------------------------- */

/* True for the entry methods this module applies on its own. */
bool srv_ttl_owns_entry(uint16_t method);
/* Applies a grant, revoke, expiry or checkpoint entry and answers w.
 * Nonzero: this node failed (stop). */
int srv_ttl_apply(struct srv *s, uint64_t index, uint16_t method,
                  const uint8_t *body, size_t len, struct srv_wait *w);
/* A Put is about to apply with this lease: false when the lease does not
 * exist (the Put then fails as a whole, "requested lease not found"). */
bool srv_ttl_lease_ok(struct srv *s, int64_t lease);
/* The keys attached to lease `id` in this node's replicated table, for the
 * permission check of TimeToLive with keys.  0 (free *keys with
 * ttl_keys_free()), TTL_ENOTFOUND or TTL_ENOMEM. */
int srv_ttl_lease_keys(struct srv *s, int64_t id, struct ttl_keys *keys);
/* True when any lease exists: deletes must then report the keys they
 * delete (prev_kv) so those can be detached. */
bool srv_ttl_active(struct srv *s);
/* Attachment bookkeeping after an applied Put / Delete / Txn op.  Nonzero:
 * out of memory, this node failed. */
int srv_ttl_after_put(struct srv *s, const struct engine_put_req *q);
int srv_ttl_after_delete(struct srv *s, const struct engine_delete_result *r);

/* ---- timers, roles, snapshots -------------------------------------------------- */

/* Every tick: follows leadership (ttl_become_leader once the new term's
 * first entry applied, ttl_become_follower on losing it), proposes expiry
 * revokes and periodic checkpoints on the leader. */
void srv_ttl_tick(struct srv *s, uint64_t now_ns);

/* Writes the table section of a snapshot (after the member table). */
int srv_ttl_snapshot_save(struct srv *s,
                          int (*write)(void *ctx, const void *, size_t),
                          void *ctx);
/* Reads the table section at *off if the snapshot has one (older ones do
 * not: the table is then emptied) and advances *off past it.  load=false
 * only skips it.  0, or WAL_ECORRUPT-like negative codes. */
int srv_ttl_snapshot_load(struct srv *s, struct snapfile_reader *r,
                          uint64_t *off, bool load);

/* RocksDB: writes the table to the aux blob now (after a snapshot restored
 * the engine).  0, or an engine error. */
int srv_ttl_persist(struct srv *s);

/* Leases gauge and counters for /metrics. */
void srv_ttl_collect_metrics(struct metrics *m, struct srv *s);

/* Checkpoint entry body: u32 count, then per lease i64 id, i64 remaining_ms
 * (little-endian).  Exposed for the unit tests. */
size_t srv_ttl_checkpoint_encode(const struct ttl_checkpoint *cp, size_t n,
                                 uint8_t *out);
/* Decodes into cp[0..cap); returns the count or -1 if malformed. */
long srv_ttl_checkpoint_decode(const uint8_t *in, size_t len,
                               struct ttl_checkpoint *cp, size_t cap);

#endif /* METASTORE_SERVER_TTL_GLUE_H */
