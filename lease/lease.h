/*
 * lease.h - the leader lease of MetaStore-C (LeaseManager).
 *
 * A leader that holds a valid lease may answer a linearizable read from its
 * own state at the commit index, without a ReadIndex round (thesis 6.4.1).
 * The lease is bookkeeping only: pure and deterministic, no clock reads, no
 * I/O, no allocation.  Every time is an input, a monotonic time in
 * nanoseconds from the caller (the server passes a FRESH uv_hrtime() read to
 * lease_valid(), never the loop's cached uv_now()).
 *
 * The rules (docs/reads.md says why each is safe):
 *  - The lease is measured from when a heartbeat round was SENT, never from
 *    when its acks arrived:  lease_end = sent_ns + duration_ns, where sent_ns
 *    is raft_quorum_ack_time(), the start of the newest round a quorum of
 *    voters (the leader counting itself) acknowledged.  A follower that
 *    acknowledged that round will not vote for another candidate for an
 *    election timeout after it received it, which is after sent_ns.
 *  - duration_ns + clock_drift_ns < election_timeout - tick (the drift bound
 *    covers clocks that run at different rates on leader and followers; the
 *    tick covers a follower that counts its timeout one tick early).
 *    lease_config_check() enforces it.
 *  - No lease before the leader has committed an entry of its own term
 *    (its commit index may be stale until then, etcd issue 7331).
 *  - The lease ends at once on stepping down, on a term change and when a
 *    leadership transfer starts (TiKV's "suspect" lease); after an aborted
 *    transfer only a round SENT after the abort was seen renews it.
 *  - A single-node cluster needs no special case: its quorum is itself, so
 *    raft_quorum_ack_time() is the newest round and the lease is valid.
 *
 * Usage, after every ready batch and on every tick:
 *
 *     lease_update_from_raft(&lm, r, now);
 *     ...
 *     if (lease_valid(&lm, fresh_now)) fast path else ReadIndex round;
 *     if (lease_should_renew_early(&lm, fresh_now)) raft_heartbeat(r, now);
 *
 * Errors: functions returning int return 0 or a negative LEASE_E* code from
 * the table below (lease_strerror() names it).  The same table holds the
 * statuses readindex.h hands to its callbacks.
 */
#ifndef METASTORE_LEASE_H
#define METASTORE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

/* ------------------------------------------------------------------ */
/* Errors and read statuses                                            */
/* ------------------------------------------------------------------ */

#define LEASE_ERRORS(X)                                                        \
    X(LEASE_EINVAL, -1, "invalid argument")                                    \
    X(LEASE_EUNSAFE, -2, "unsafe lease configuration")                         \
    X(LEASE_ENOMEM, -3, "out of memory")                                       \
    X(LEASE_ENOTLEADER, -4, "not the leader (or leadership was lost)")         \
    X(LEASE_ENOTREADY, -5, "leader has not committed an entry of its term")    \
    X(LEASE_ESUSPECT, -6, "leadership transfer in progress")                   \
    X(LEASE_ESTALE, -7, "round not newer than the current lease base")         \
    X(LEASE_EEXHAUSTED, -8, "too many pending reads")                          \
    X(LEASE_ENOTFOUND, -9, "no such pending read")                             \
    X(LEASE_EEXIST, -10, "read id already pending")                            \
    X(LEASE_ETIMEDOUT, -11, "read deadline exceeded")                          \
    X(LEASE_EUNAVAILABLE, -12, "read cannot be served now; retry")             \
    X(LEASE_ECANCELED, -13, "read cancelled")

enum lease_error {
#define LEASE__ERR_ENUM(name, value, text) name = value,
    LEASE_ERRORS(LEASE__ERR_ENUM)
#undef LEASE__ERR_ENUM
};

/* Text for a LEASE_E* code ("unknown error" otherwise, "ok" for 0). */
const char *lease_strerror(int err);
/* Symbolic name ("LEASE_ETIMEDOUT"), "OK" for 0, or "LEASE_E?". */
const char *lease_err_name(int err);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

/* Renew early when less than duration / LEASE_DEFAULT_RENEW_DIVISOR is
 * left (a quarter, as the architecture note says). */
#define LEASE_DEFAULT_RENEW_DIVISOR 4u

struct lease_config {
    uint64_t duration_ns;    /* 0: leases are off (never valid) */
    uint64_t clock_drift_ns; /* bound on clock-rate difference over a lease;
                                informational here, checked by
                                lease_config_check() */
    uint32_t renew_divisor;  /* renew early below duration / divisor;
                                0 means LEASE_DEFAULT_RENEW_DIVISOR */
};

/*
 * The default lease length of the reference report:
 * min(election_timeout / 2, 3 * heartbeat_interval) - clock_drift, or 0
 * when that is not positive.
 */
uint64_t lease_default_duration_ns(uint64_t election_timeout_ns,
                                   uint64_t heartbeat_interval_ns,
                                   uint64_t clock_drift_ns);

/*
 * Checks that a lease of duration_ns with clock drift bound clock_drift_ns
 * is safe with a minimum election timeout of election_timeout_ns counted in
 * ticks of tick_ns: duration + drift < election_timeout - tick.  Called only
 * when leases are enabled, so a duration of 0 is refused too.  Returns 0,
 * LEASE_EUNSAFE (duration 0 or too long) or LEASE_EINVAL (tick >=
 * election timeout); `err` (if errlen > 0) gets a sentence saying why,
 * always NUL-terminated ("" on success).
 */
int lease_config_check(uint64_t duration_ns, uint64_t clock_drift_ns,
                       uint64_t election_timeout_ns, uint64_t tick_ns,
                       char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* The manager                                                         */
/* ------------------------------------------------------------------ */

struct lease_stats {
    bool is_leader;
    bool valid;              /* at the `now` given to lease_stats() */
    raft_term term;          /* term last seen */
    uint64_t renewals;       /* lease_renew() calls that extended the lease */
    uint64_t stale_renewals; /* rounds ignored: not newer than the base */
    uint64_t expirations;    /* valid -> invalid by running out of time */
    uint64_t revocations;    /* valid -> invalid by step-down, term change or
                                transfer */
    uint64_t last_renew_ns;  /* `now` of the last renewal (0: never) */
    uint64_t base_ns;        /* sent time the current lease counts from */
    uint64_t lease_end_ns;   /* 0: no lease */
};

/*
 * Caller-allocated; its fields are private (read them through the
 * functions below).  Needs no close: it owns nothing.
 */
struct lease_manager {
    struct lease_config cfg;
    bool is_leader;
    bool committed_in_term; /* the leader committed an entry of `term` */
    bool suspect;           /* a leadership transfer is in progress */
    bool was_valid;         /* validity at the last observation */
    raft_term term;
    uint64_t base_ns;      /* sent time of the round the lease counts from;
                              rounds sent at or before it are ignored */
    uint64_t lease_end_ns; /* valid while now < lease_end_ns; 0: none */
    struct lease_stats stats;
};

/* Initialises `lm` as a follower in term 0 without a lease.  LEASE_EINVAL
 * when cfg is NULL. */
int lease_init(struct lease_manager *lm, const struct lease_config *cfg);

/* Events.  Each takes the caller's monotonic time now_ns. */

/* This node became leader of `term`: no lease until an entry of the term
 * commits and a round is acknowledged (lease_on_commit_in_term(),
 * lease_renew()). */
void lease_become_leader(struct lease_manager *lm, raft_term term,
                         uint64_t now_ns);
/* This node is no longer leader (or never was) in `term`: the lease ends at
 * once. */
void lease_become_follower(struct lease_manager *lm, raft_term term,
                           uint64_t now_ns);
/* The node's term moved to `term` (a higher term seen): the lease ends at
 * once and the node is treated as a follower.  No-op when term is the
 * current one. */
void lease_on_term_change(struct lease_manager *lm, raft_term term,
                          uint64_t now_ns);
/* A leadership transfer is about to start (call BEFORE
 * raft_transfer_leadership()) or TimeoutNow was seen: the lease ends at once
 * and stays suspect until lease_transfer_ended(). */
void lease_transfer_started(struct lease_manager *lm, uint64_t now_ns);
/* The transfer was aborted and this node is still leader: only rounds sent
 * after now_ns renew the lease again. */
void lease_transfer_ended(struct lease_manager *lm, uint64_t now_ns);
/* The leader committed an entry of `term` (raft_committed_in_term()).
 * Ignored when `term` is not the manager's current term. */
void lease_on_commit_in_term(struct lease_manager *lm, raft_term term);

/*
 * Renews the lease from a round acknowledged by a quorum that was SENT at
 * sent_ns (raft_quorum_ack_time()): lease_end = sent_ns + duration.
 * Returns 0 when the lease was extended; LEASE_ENOTLEADER on a non-leader,
 * LEASE_ENOTREADY before the term's first commit, LEASE_ESUSPECT during a
 * transfer, LEASE_ESTALE when sent_ns is not newer than the round the lease
 * already counts from (nothing changes), LEASE_EINVAL when sent_ns > now_ns
 * or leases are off.
 */
int lease_renew(struct lease_manager *lm, uint64_t sent_ns, uint64_t now_ns);

/*
 * True when the lease is valid at now_ns: leader, committed in term, not
 * suspect, now_ns < lease_end.  now_ns must be a FRESH monotonic clock read.
 * Counts an expiration when it sees a valid lease run out.
 */
bool lease_valid(struct lease_manager *lm, uint64_t now_ns);
/* Same as lease_valid() for bookkeeping: call it on every tick so that
 * expirations are counted even when no read asks. */
void lease_tick(struct lease_manager *lm, uint64_t now_ns);
/* Nanoseconds of lease left at now_ns, 0 when not valid.  No side effect. */
uint64_t lease_remaining(const struct lease_manager *lm, uint64_t now_ns);
/* True when the lease is valid but has less than duration / renew_divisor
 * left: the server should start a heartbeat round now (raft_heartbeat()). */
bool lease_should_renew_early(const struct lease_manager *lm, uint64_t now_ns);
/* Copies the statistics, with `valid` evaluated at now_ns (no side
 * effect). */
void lease_stats(const struct lease_manager *lm, uint64_t now_ns,
                 struct lease_stats *out);

/*
 * Reads role, term, committed-in-term, transferee and quorum ack time from
 * the core and applies the events above, in that order.  Call it after
 * every ready batch and every tick (the server and the simulator do).
 * Returns 0 when the lease was renewed or nothing needed to change, or the
 * LEASE_E* code explaining why the leader holds no lease (ENOTREADY,
 * ESUSPECT, ENOTLEADER); never fails in a way that needs handling.
 */
int lease_update_from_raft(struct lease_manager *lm, const struct raft *r,
                           uint64_t now_ns);

#endif /* METASTORE_LEASE_H */
