/*
 * readindex.h - bookkeeping of pending linearizable reads
 * (ReadIndexManager).
 *
 * A read is parked here until it may run: it needs a read index (from the
 * lease fast path, from a ReadIndex round on the leader, or from the leader
 * when this node is a follower) and then the applied index to reach it
 * (thesis 6.4).  Pure and deterministic: times are caller inputs in
 * nanoseconds; nothing is allocated after readindex_init().
 *
 * Life of a read:
 *
 *     id = readindex_next_id(rim);                 never reused
 *     readindex_add(rim, id, path, now, deadline, user)
 *       lease valid:  readindex_fast_path(rim, id, commit_index)
 *       otherwise:    once per loop turn / ready batch
 *                       n = readindex_take_batch(rim, now, &ctx);
 *                       if (n) raft_read_index(r, ctx, now);   ONE ctx
 *                     for every rd.reads[i]:
 *                       readindex_on_read_state(rim, ctx, index, now)
 *     after applying: readindex_on_applied(rim, applied, now, cb, data)
 *                       -> cb(..., status 0) for every read whose
 *                          index <= applied
 *     every tick:     readindex_expire(rim, now, cb, data)
 *                       -> LEASE_ETIMEDOUT past the deadline
 *     step-down:      readindex_fail_all(rim, LEASE_ENOTLEADER, ...)
 *     leader change seen by a follower: readindex_retry_all(rim) so the
 *                     reads waiting on a round get a fresh ctx (the answer
 *                     to the old ctx, if it ever comes, is ignored)
 *     connection closed: readindex_cancel(rim, id)     no callback, or
 *                     readindex_cancel_if(rim, match, arg, cb, data) for
 *                     all of one client's reads at once
 *     round refused:  readindex_unbatch(rim, ctx): no leader known yet,
 *                     the reads wait for a later take_batch
 *
 * Every read added is answered exactly once (callback) or cancelled by the
 * caller: none is dropped silently.  Before serving a read answered OK the
 * server still checks that it is leader in the term it was when the read
 * index was obtained (a process paused across a leader change, etcd issue
 * 20418); readindex_fail_all() on every step-down makes that check cheap.
 *
 * Callbacks may call any readindex_* function (the read being answered has
 * already left the manager); a read added or given an index during a
 * callback may or may not be answered by the same call.
 *
 * Errors: 0 or a negative LEASE_E* code (lease.h).
 */
#ifndef METASTORE_LEASE_READINDEX_H
#define METASTORE_LEASE_READINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lease/histogram.h"
#include "lease/lease.h"

/* How a read gets (or got) its index; statistics are kept per path. */
enum readindex_path {
    READINDEX_PATH_FAST = 0,     /* leader lease: index = commit index */
    READINDEX_PATH_SLOW,         /* leader ReadIndex round */
    READINDEX_PATH_FOLLOWER,     /* follower asked the leader (forwarded) */
    READINDEX_PATH_SERIALIZABLE, /* local state, no guarantee */
    READINDEX_PATH_LOG,          /* baseline: read proposed through the log */
    READINDEX_PATH_COUNT,
};

/* "fast", "slow", "follower", "serializable", "log", or "?". */
const char *readindex_path_name(enum readindex_path path);

/*
 * Called once per answered read.  status 0: the read may be served at
 * `index` (applied >= index now).  Otherwise a LEASE_E* code: ETIMEDOUT,
 * or whatever readindex_fail_all() was given; `index` is then 0 or the
 * index the read had.  `user` is what readindex_add() was given.
 */
typedef void (*readindex_cb)(void *cb_data, uint64_t id, void *user, int status,
                             raft_index index);

struct readindex_stats {
    uint64_t pending; /* reads waiting now */
    uint64_t added;
    uint64_t completed; /* answered with status 0 */
    uint64_t fast_path; /* reads that got their index from the lease */
    uint64_t slow_path; /* reads that went through a leader round */
    uint64_t forwarded; /* follower reads that asked the leader */
    uint64_t serializable;
    uint64_t log_reads;
    uint64_t rounds;      /* batches handed out by take_batch */
    uint64_t round_reads; /* reads in those batches (per round: / rounds) */
    uint64_t max_round_reads;
    uint64_t waits_for_apply; /* index known but above applied at the time */
    uint64_t timeouts;
    uint64_t cancelled;
    uint64_t failed;            /* answered by fail_all */
    uint64_t rejected;          /* add refused: queue full */
    uint64_t stale_read_states; /* answers for a ctx nobody waits for */
};

/* Where a pending read stands, for tests and status output. */
struct readindex_info {
    enum readindex_path path;
    uint64_t ctx; /* 0: not yet in a round */
    bool has_index;
    raft_index index;
    uint64_t deadline_ns;
    void *user;
};

struct readindex__read; /* private */

/* Caller-allocated; fields private.  readindex_close() frees the tables. */
struct readindex_manager {
    size_t max_pending;
    size_t n_pending;
    struct readindex__read *reads; /* max_pending slots */
    uint32_t *free_list;           /* free slot numbers (a stack) */
    size_t n_free;
    size_t slots_hw; /* slots [0, slots_hw) have ever been used: scans
                        stop there (free slots are reused LIFO, so this
                        tracks peak concurrency, not max_pending) */
    uint32_t *table; /* open addressing id -> slot + 1 (0: empty) */
    size_t table_mask;
    uint64_t last_id;   /* readindex_next_id() */
    uint64_t last_ctx;  /* take_batch ctx counter */
    size_t n_unbatched; /* SLOW/FOLLOWER reads waiting for a round */
    size_t n_indexed;   /* reads with an index, waiting for apply */
    raft_index applied; /* highest applied index seen */
    struct readindex_stats stats;
    struct lease_hist latency[READINDEX_PATH_COUNT]; /* ns, add to answer */
};

/*
 * Prepares `rim` for at most max_pending reads at once (1..2^30).
 * Allocates its tables now, never later.  ctx_base (may be 0) is the
 * value above which ctx numbers start: give a node that restarts a base
 * larger than any ctx it used before (e.g. the wall-clock time in ns at
 * start: a monotonic clock restarts at boot), so an answer
 * to a ctx from a previous life is never mistaken for a new one.
 * LEASE_EINVAL, LEASE_ENOMEM.
 */
int readindex_init(struct readindex_manager *rim, size_t max_pending,
                   uint64_t ctx_base);
/* Frees the tables.  Pending reads are forgotten without callbacks: call
 * readindex_fail_all() first if anyone waits for them. */
void readindex_close(struct readindex_manager *rim);

/* A new request id: 1, 2, 3, ... never reused by this manager. */
uint64_t readindex_next_id(struct readindex_manager *rim);

/*
 * Parks read `id`, taking the path it will use: FAST reads wait for
 * readindex_fast_path(); SLOW and FOLLOWER reads for a round
 * (take_batch / on_read_state); SERIALIZABLE and LOG reads for
 * readindex_set_index().  deadline_ns 0 means none.  `user` is borrowed
 * and handed back to the callback.  LEASE_EEXHAUSTED when max_pending reads
 * are waiting (answer RESOURCE_EXHAUSTED), LEASE_EEXIST when id is pending,
 * LEASE_EINVAL for id 0 or a bad path.
 */
int readindex_add(struct readindex_manager *rim, uint64_t id,
                  enum readindex_path path, uint64_t now_ns,
                  uint64_t deadline_ns, void *user);

/*
 * The lease is valid: read `id` takes index = commit_index without a round
 * (it leaves any round it was in).  LEASE_ENOTFOUND when not pending.
 */
int readindex_fast_path(struct readindex_manager *rim, uint64_t id,
                        raft_index commit_index);
/* Gives read `id` its index directly (serializable reads with a client's
 * minimum index, log reads with their entry's index).  LEASE_ENOTFOUND. */
int readindex_set_index(struct readindex_manager *rim, uint64_t id,
                        raft_index index);

/*
 * Takes every SLOW/FOLLOWER read not yet in a round into one new batch
 * with a fresh ctx (*ctx), to be passed ONCE to raft_read_index().
 * Returns the number of reads in the batch; 0 (and *ctx untouched) when
 * none needs a round.  If ids is non-NULL it receives up to cap of the
 * batch's ids.
 */
size_t readindex_take_batch(struct readindex_manager *rim, uint64_t *ctx,
                            uint64_t *ids, size_t cap);

/*
 * The answer to ctx arrived (struct raft_read_state): every read of that
 * batch gets `index`.  Returns how many reads took it; 0 when nobody
 * waits for ctx (an old or unknown ctx: ignored, counted as stale).
 */
size_t readindex_on_read_state(struct readindex_manager *rim, uint64_t ctx,
                               raft_index index);

/*
 * The applied index is now `applied`: every read whose index <= applied
 * is answered with status 0 and its latency (now_ns - added) recorded
 * under its path.  Returns the number answered.
 */
size_t readindex_on_applied(struct readindex_manager *rim, raft_index applied,
                            uint64_t now_ns, readindex_cb cb, void *cb_data);

/* Answers LEASE_ETIMEDOUT to every read whose deadline is <= now_ns.
 * Returns the number answered. */
size_t readindex_expire(struct readindex_manager *rim, uint64_t now_ns,
                        readindex_cb cb, void *cb_data);

/* Forgets read `id` without a callback (its client is gone).
 * LEASE_ENOTFOUND when not pending. */
int readindex_cancel(struct readindex_manager *rim, uint64_t id);

/* Answers `status` (< 0, e.g. LEASE_ENOTLEADER on step-down or
 * LEASE_EUNAVAILABLE for "retry") to every pending read.  Returns the
 * number answered.  A status >= 0 is turned into LEASE_EUNAVAILABLE: a
 * failure is never reported as success. */
size_t readindex_fail_all(struct readindex_manager *rim, int status,
                          readindex_cb cb, void *cb_data);

/* Every read waiting on a round that has not answered goes back to "needs
 * a round"; the next take_batch gives it a fresh ctx.  Returns how many. */
size_t readindex_retry_all(struct readindex_manager *rim);

/*
 * The round `ctx` could not be started (raft_read_index() refused it, e.g.
 * no leader is known yet): its reads go back to "needs a round" and the
 * next take_batch gives them a fresh ctx.  The ctx itself is retired, so a
 * late answer to it changes nothing.  Returns how many reads went back
 * (0 for a ctx nobody waits on).
 */
size_t readindex_unbatch(struct readindex_manager *rim, uint64_t ctx);

/* Bit of a path in a path mask. */
#define READINDEX_PATH_BIT(p) (1u << (unsigned)(p))
#define READINDEX_PATHS_ALL ((1u << READINDEX_PATH_COUNT) - 1u)

/*
 * Like readindex_fail_all(), for the reads on the paths in path_mask only
 * (READINDEX_PATH_BIT(...) | ...): on step-down the reads whose index came
 * from this node's leadership (FAST, SLOW) must not be served, while a
 * serializable read waiting for apply still may be.  Returns the number
 * answered.
 */
size_t readindex_fail_paths(struct readindex_manager *rim, unsigned path_mask,
                            int status, readindex_cb cb, void *cb_data);

/*
 * Cancels every pending read for which match(match_arg, user) is true
 * (e.g. the reads of a connection that closed).  Each leaves the manager
 * at once, is counted as cancelled, and is handed to cb with status
 * LEASE_ECANCELED so that its owner can release `user`: this is not an
 * answer for the client, who is gone.  cb may be NULL.  Returns the number
 * cancelled.
 */
size_t readindex_cancel_if(struct readindex_manager *rim,
                           bool (*match)(void *match_arg, void *user),
                           void *match_arg, readindex_cb cb, void *cb_data);

/* Where read `id` stands.  LEASE_ENOTFOUND when not pending. */
int readindex_lookup(const struct readindex_manager *rim, uint64_t id,
                     struct readindex_info *out);

/* Records a read that never waited here (e.g. a fast-path read served at
 * once because applied >= commit): counts it under `path` and records its
 * latency. */
void readindex_record(struct readindex_manager *rim, enum readindex_path path,
                      uint64_t latency_ns);

/* Statistics (pending evaluated now). */
void readindex_stats(const struct readindex_manager *rim,
                     struct readindex_stats *out);
/* The latency histogram of a path (NULL for a bad path). */
const struct lease_hist *readindex_latency(const struct readindex_manager *rim,
                                           enum readindex_path path);

#endif /* METASTORE_LEASE_READINDEX_H */
