/*
 * ttl.h - TTL leases (etcd v3's Lease service) as a pure, deterministic
 * state machine.  Called "TTL leases" to keep them apart from the leader
 * lease of the read path (lease/).
 *
 * Two halves:
 *
 *  - Replicated state, changed only by ttl_apply_*() from committed Raft
 *    entries, in log order, on every node: which leases exist (id, granted
 *    TTL, last checkpointed remaining TTL) and which keys are attached to
 *    which lease.  Fed the same entries, every replica holds the same table,
 *    returns the same errors and the same keys to delete, and ttl_save()
 *    encodes it to the same bytes.
 *
 *  - Leader-side timekeeping, NOT replicated: each lease's expiry instant on
 *    the current leader.  It exists only between ttl_become_leader() and
 *    ttl_become_follower().  A new leader sets every expiry to
 *    now + remaining TTL + extend (etcd's "promote"), so a leader change
 *    extends leases rather than expiring them on the first tick.  Expiry is
 *    decided by the leader: ttl_expired() names leases whose time is up and
 *    the leader proposes a revoke for each through Raft; this module never
 *    deletes anything on its own, so every node deletes the same keys at the
 *    same revision when the revoke entry is applied.
 *
 * Time is an input (monotonic nanoseconds from the caller); the module reads
 * no clock, draws no random numbers and includes no libuv.
 *
 * Limits (struct ttl_config): max_ttl_s and max_leases are part of the
 * replicated behaviour: every node of a cluster must run with the same
 * values, or replicas could disagree on whether a Grant succeeded.
 * min_ttl_s is not: the table stores the TTL as granted (at least 1 s) and
 * the minimum is applied only where the leader counts and reports time, so
 * nodes with different minimums (it follows the election timeout) agree.
 *
 * Not thread-safe; one thread owns a table.
 */
#ifndef METASTORE_SERVER_TTL_H
#define METASTORE_SERVER_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TTL_ERRORS(X)                                                          \
    X(TTL_EINVAL, -6001, "invalid argument")                                   \
    X(TTL_ENOMEM, -6002, "out of memory")                                      \
    X(TTL_ENOTFOUND, -6003, "requested lease not found")                       \
    X(TTL_EEXIST, -6004, "lease already exists")                               \
    X(TTL_ETOOMANY, -6005, "too many leases")                                  \
    X(TTL_ENOTLEADER, -6006, "not the leader; lease timekeeping is off")       \
    X(TTL_ECORRUPT, -6007, "lease snapshot data is corrupt")                   \
    X(TTL_EVERSION, -6008, "unknown lease snapshot version")                   \
    X(TTL_ETTLTOOBIG, -6009, "lease TTL is too large")

enum {
#define TTL__ERR_ENUM(name, value, text) name = value,
    TTL_ERRORS(TTL__ERR_ENUM)
#undef TTL__ERR_ENUM
};

/* Text for a TTL_E* code; never NULL. */
const char *ttl_strerror(int err);
/* Symbolic name ("TTL_ENOTFOUND") of a code, or "TTL_E?". */
const char *ttl_err_name(int err);

#define TTL_DEFAULT_MIN_TTL_S       2
#define TTL_DEFAULT_MAX_TTL_S       9000000000LL /* etcd's MaxLeaseTTL */
#define TTL_DEFAULT_MAX_LEASES      100000
#define TTL_DEFAULT_REVOKE_RETRY_NS (3LL * 1000 * 1000 * 1000)
/* First byte of ttl_save() output. */
#define TTL_SNAPSHOT_VERSION 1

struct ttl_config {
    int64_t min_ttl_s;    /* a smaller Grant TTL is raised to this (as etcd);
                             >= 1; use max(2 s, election timeout) */
    int64_t max_ttl_s;    /* a larger Grant TTL fails with TTL_ETTLTOOBIG */
    size_t max_leases;    /* a Grant past this fails with TTL_ETOOMANY */
    int64_t revoke_retry_ns; /* ttl_expired() names a lease again after this
                                long if its revoke has not been applied */
};

/* The defaults above. */
void ttl_config_default(struct ttl_config *cfg);

struct ttl; /* opaque */

/* Allocates an empty table; *out owned by the caller (ttl_destroy).
 * TTL_EINVAL if cfg is out of range (min_ttl_s < 1, max < min,
 * max_leases == 0, revoke_retry_ns <= 0), TTL_ENOMEM. */
int ttl_create(const struct ttl_config *cfg, struct ttl **out);
void ttl_destroy(struct ttl *t);

/* Number of leases. */
size_t ttl_count(const struct ttl *t);
/* True between ttl_become_leader() and ttl_become_follower(). */
bool ttl_is_leader(const struct ttl *t);

/* A key: borrowed bytes, or owned when returned in a struct ttl_keys. */
struct ttl_key {
    uint8_t *key;
    size_t len;
};
/* Keys returned to the caller, sorted bytewise (shorter first on a tie of
 * the common prefix).  Owned by the caller: ttl_keys_free(). */
struct ttl_keys {
    struct ttl_key *v;
    size_t n;
};
void ttl_keys_free(struct ttl_keys *k);

/* ---- replicated state: call from apply, in log order, on every node ---- */

/*
 * Grant from the entry at Raft index `index`.  id 0 asks for an id: the
 * smallest free id >= index (so all replicas agree).  ttl_s is stored as
 * given (0 as 1); the leader counts and reports it raised to
 * cfg.min_ttl_s.  On a leader the new lease expires at
 * now_ns + that ttl; elsewhere now_ns is ignored.  *granted_id and *granted_ttl_s
 * (each may be NULL) receive the outcome.
 * Errors: TTL_EINVAL (id < 0, ttl_s < 0, index == 0), TTL_ETTLTOOBIG,
 * TTL_EEXIST (id in use), TTL_ETOOMANY, TTL_ENOMEM (this node only: treat
 * as fatal, the replica would diverge).
 */
int ttl_apply_grant(struct ttl *t, uint64_t index, int64_t id, int64_t ttl_s,
                    int64_t now_ns, int64_t *granted_id, int64_t *granted_ttl_s);

/*
 * Removes lease `id` and every key attachment to it.  The attached keys are
 * moved into *keys (sorted; caller frees with ttl_keys_free()); the caller
 * deletes exactly those keys from the engine at the revoke's revision.
 * keys may be NULL to drop them.  TTL_ENOTFOUND if no such lease (keys then
 * empty), TTL_ENOMEM (the table is unchanged).
 */
int ttl_apply_revoke(struct ttl *t, int64_t id, struct ttl_keys *keys);

/*
 * A Put of `key` with lease `lease_id` was applied: the key is attached to
 * that lease, detached from any other.  lease_id 0 only detaches (a Put
 * without a lease).  Check ttl_exists() before applying the Put, so a Put
 * with an unknown lease fails as a whole (etcd: "requested lease not
 * found").  Errors: TTL_EINVAL (empty key, lease_id < 0), TTL_ENOTFOUND
 * (lease_id unknown; nothing changed), TTL_ENOMEM.
 */
int ttl_apply_attach(struct ttl *t, const void *key, size_t len,
                     int64_t lease_id);

/* A Delete of `key` was applied: detach it from its lease if it had one.
 * 0 either way; TTL_EINVAL for an empty key. */
int ttl_apply_detach(struct ttl *t, const void *key, size_t len);

/*
 * Records a checkpointed remaining TTL (milliseconds; 0 clears it, meaning
 * "the full granted TTL").  A new leader or a restarted node counts from it
 * instead of the full TTL.  Does not touch a leader's own expiry.
 * TTL_EINVAL (remaining_ms < 0), TTL_ENOTFOUND (the lease was revoked in
 * between; harmless, every replica sees the same).
 */
int ttl_apply_checkpoint(struct ttl *t, int64_t id, int64_t remaining_ms);

/* Lease currently holding `key` (0: none). */
int64_t ttl_lease_of(const struct ttl *t, const void *key, size_t len);
bool ttl_exists(const struct ttl *t, int64_t id);

/* ---- leader-side timekeeping: local, never replicated ------------------- */

/*
 * This node became leader at now_ns (call once its no-op entry of the new
 * term is applied, so the table is up to date).  Every lease expires at
 * now_ns + remaining + extend_ns, remaining being the checkpointed remaining
 * TTL if set, else the granted TTL.  Pass extend_ns = election timeout.
 * TTL_EINVAL if extend_ns < 0.
 */
int ttl_become_leader(struct ttl *t, int64_t now_ns, int64_t extend_ns);
/* Leadership lost: forget every expiry.  Keepalive and expiry stop. */
void ttl_become_follower(struct ttl *t);

/*
 * KeepAlive: the lease expires at now_ns + granted TTL again.
 * *ttl_s receives the granted TTL (what etcd's response carries).  If the
 * lease has a checkpointed remaining TTL, *propose_reset (may be NULL) is set
 * true: propose ttl_apply_checkpoint(id, 0) so a later leader does not count
 * from the stale, shorter value (etcd does the same).
 * TTL_ENOTLEADER, TTL_ENOTFOUND.
 */
int ttl_keepalive(struct ttl *t, int64_t id, int64_t now_ns, int64_t *ttl_s,
                  bool *propose_reset);

/*
 * Fills ids[0..cap) with leases whose expiry <= now_ns, earliest expiry
 * first (ties by id), and returns how many (0 on a follower).  Each named
 * lease is not named again until revoke_retry_ns later, unless it is kept
 * alive; the leader proposes a revoke for each and waits for it to apply.
 */
size_t ttl_expired(struct ttl *t, int64_t now_ns, int64_t *ids, size_t cap);

struct ttl_info {
    int64_t id;
    int64_t granted_ttl_s;
    int64_t remaining_ttl_s; /* see ttl_time_to_live() */
    bool exact;              /* true on the leader */
};

/*
 * TimeToLive.  On the leader remaining_ttl_s is the time left to expiry in
 * whole seconds, rounded down, never below 0.  Elsewhere it is the last
 * checkpointed remaining TTL (rounded down) or the granted TTL, and exact
 * is false (etcd forwards this call to the leader; so should the server).
 * With keys non-NULL the attached keys are copied into it (caller frees).
 * TTL_ENOTFOUND, TTL_ENOMEM.
 */
int ttl_time_to_live(const struct ttl *t, int64_t id, int64_t now_ns,
                     struct ttl_info *info, struct ttl_keys *keys);

/* Leases: ids in ascending order into ids[0..cap); returns ttl_count(). */
size_t ttl_list(const struct ttl *t, int64_t *ids, size_t cap);

struct ttl_checkpoint {
    int64_t id;
    int64_t remaining_ms; /* >= 1 */
};

/*
 * Remaining TTLs the leader should replicate every checkpoint interval
 * (e.g. 5 minutes, as etcd) through Raft as ttl_apply_checkpoint()
 * entries, so restarts and new leaders keep them.  Leases with id > after_id
 * in ascending id order, at most cap; returns how many were written (call
 * again with the last id written to page on).  Leases already expired are
 * left out (their revoke is due); 0 on a follower.
 */
size_t ttl_checkpoints(const struct ttl *t, int64_t now_ns, int64_t after_id,
                       struct ttl_checkpoint *out, size_t cap);

/* ---- snapshots ---------------------------------------------------------- */

/*
 * Encodes the replicated state (leases in id order with granted and
 * checkpointed TTL; each lease's keys sorted), deterministically: equal
 * tables give equal bytes.  Layout, little-endian: version byte, u32 lease
 * count, per lease i64 id, i64 ttl_s, i64 remaining_ms, u32 key count, per
 * key u32 length and bytes; then a CRC-32C of everything before it.
 * *out is malloc'd, owned by the caller (free()).  TTL_ENOMEM.
 */
int ttl_save(const struct ttl *t, uint8_t **out, size_t *len);

/*
 * The same image without key attachments (every lease with 0 keys): for a
 * store that rebuilds attachments from the keys' own lease fields (the
 * RocksDB engine at restart), at a cost independent of the key count.
 */
int ttl_save_leases(const struct ttl *t, uint8_t **out, size_t *len);

/*
 * Replaces the replicated state with a ttl_save() image (e.g. from a Raft
 * snapshot or at restart).  Everything is validated first (version, CRC,
 * lengths, ids > 0, TTL range, lease count <= max_leases, no key attached
 * twice); on any error the table is unchanged.  Leader timekeeping is reset:
 * call ttl_become_leader() again if this node leads.
 * TTL_EVERSION, TTL_ECORRUPT, TTL_ETOOMANY, TTL_ENOMEM.
 */
int ttl_load(struct ttl *t, const uint8_t *in, size_t len);

#endif /* METASTORE_SERVER_TTL_H */
