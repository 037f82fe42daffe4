/*
 * raft.h - the Raft core of MetaStore-C.
 *
 * A pure, deterministic state machine in the style of etcd's raft library:
 * no sockets, no clock reads, no threads, no global state, no rand().
 * Everything that happens to a node comes in through one of the input
 * functions (raft_step, raft_tick, raft_propose, raft_read_index, ...), each
 * of which takes `now_ns`, a monotonic time supplied by the caller.  The core
 * never looks at that time except to stamp heartbeat rounds, so that the lease
 * module can measure a leader lease from when a round was SENT (see
 * raft_quorum_ack_time()).  Timeouts are counted in ticks.
 *
 * Everything the core wants done comes out in a ready batch (struct
 * raft_ready).  The driver's loop is:
 *
 *     while (raft_has_ready(r)) {
 *         struct raft_ready rd;
 *         raft_ready(r, &rd);
 *         send rd.msgs                    (safe at once)
 *         persist rd.snapshot, rd.hs, rd.entries   (asynchronously is fine)
 *         apply rd.committed, hand out rd.reads
 *         raft_advance(r, &rd);
 *         ...when the persist of this batch is durable:
 *             append rd.entries to the storage the core reads from,
 *             send rd.msgs_after_persist,
 *             raft_persisted(r, rd.persist_index, rd.persist_term, now);
 *         raft_ready_free(&rd);
 *     }
 *
 * Several batches may be persisting at once as long as they become durable
 * in the order they were produced (group commit).  A leader sends entries
 * to followers while its own write is in flight and counts itself towards a
 * quorum only once raft_persisted() has told it its own copy is durable.
 * Messages in rd.msgs_after_persist (votes, append and snapshot responses,
 * a candidate's vote requests) must never leave before the state of their
 * batch is durable: that is what keeps a crashed node from voting twice or
 * acknowledging an entry it lost.
 *
 * Paper references are to Ongaro's thesis "Consensus: Bridging Theory and
 * Practice" (2014) unless they say otherwise.
 *
 * Errors: every function returning int returns 0 on success and a negative
 * RAFT_E* code on failure (raft_strerror() names it).
 */
#ifndef METASTORE_RAFT_H
#define METASTORE_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_id;    /* node id; RAFT_NONE (0) means "nobody" */
typedef uint64_t raft_term;  /* election term */
typedef uint64_t raft_index; /* log index; the first entry has index 1 */

#define RAFT_NONE ((raft_id)0)

/* The largest cluster the core manages, voters and learners together. */
#define RAFT_MAX_MEMBERS 16

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

#define RAFT_ERRORS(X)                                                         \
    X(RAFT_ENOMEM, -1, "out of memory")                                        \
    X(RAFT_EINVAL, -2, "invalid argument")                                     \
    X(RAFT_ENOTLEADER, -3, "this node is not the leader")                      \
    X(RAFT_ETRANSFER, -4, "leadership transfer in progress")                   \
    X(RAFT_ECONFPENDING, -5, "a configuration change is already in progress")  \
    X(RAFT_EBADCONF, -6, "invalid configuration change")                       \
    X(RAFT_ECOMPACTED, -7, "log index compacted")                              \
    X(RAFT_EUNAVAILABLE, -8, "log index not available yet")                    \
    X(RAFT_ESNAPSHOT, -9, "snapshot not available")                            \
    X(RAFT_ECORRUPT, -10, "persisted state is inconsistent")                   \
    X(RAFT_ESTORAGE, -11, "log storage failed")                                \
    X(RAFT_EREMOVED, -12, "this node is not a member of the cluster")          \
    X(RAFT_ETOOBIG, -13, "entry larger than the maximum message size")        \
    X(RAFT_ENOTREADY, -14, "leader has not committed an entry of its term")

enum raft_error {
#define RAFT__ERR_ENUM(name, value, text) name = value,
    RAFT_ERRORS(RAFT__ERR_ENUM)
#undef RAFT__ERR_ENUM
};

/* Human-readable text for a RAFT_E* code (or "unknown error"). Never NULL. */
const char *raft_strerror(int err);
/* The symbolic name ("RAFT_ENOTLEADER") of a code, or "RAFT_E?". */
const char *raft_err_name(int err);

/* ------------------------------------------------------------------ */
/* Log entries, configuration, snapshots                               */
/* ------------------------------------------------------------------ */

enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 0,      /* application data (len may be 0: a no-op) */
    RAFT_ENTRY_CONF_CHANGE = 1, /* data is an encoded raft_conf_change */
};

struct raft_entry {
    raft_term term;
    raft_index index;
    uint32_t type; /* enum raft_entry_type */
    uint32_t len;  /* bytes in data */
    uint8_t *data; /* ownership: stated by whoever hands the entry over */
};

struct raft_member {
    raft_id id;
    bool learner; /* a learner receives the log but neither votes nor counts */
};

/* A cluster configuration: the voters and learners, in no special order. */
struct raft_conf {
    uint32_t n;
    struct raft_member members[RAFT_MAX_MEMBERS];
};

enum raft_conf_change_type {
    RAFT_CC_ADD_VOTER = 0,   /* add a voter, or promote a learner */
    RAFT_CC_ADD_LEARNER = 1, /* add a non-voting learner */
    RAFT_CC_REMOVE = 2,      /* remove a voter or learner */
};

/*
 * One membership change (thesis 4.1, one server at a time).  `ctx` is opaque
 * to the core: the server puts the member's name and addresses there.
 */
struct raft_conf_change {
    uint32_t type; /* enum raft_conf_change_type */
    raft_id id;
    uint32_t ctx_len;
    const uint8_t *ctx;
};

/* Encodes `cc` into a new buffer (*buf, *len), owned by the caller (free()). */
int raft_conf_change_encode(const struct raft_conf_change *cc, uint8_t **buf,
                            size_t *len);
/* Decodes; out->ctx points into `buf`.  RAFT_EINVAL if malformed. */
int raft_conf_change_decode(const uint8_t *buf, size_t len,
                            struct raft_conf_change *out);
/*
 * Applies `cc` to `c` in place.  RAFT_EBADCONF if it makes no sense (adding a
 * voter that is a voter, removing an absent node, a full configuration).
 */
int raft_conf_apply(struct raft_conf *c, const struct raft_conf_change *cc);
/* Returns the member with that id, or NULL. */
const struct raft_member *raft_conf_find(const struct raft_conf *c, raft_id id);
/* Number of voters in `c`. */
uint32_t raft_conf_voters(const struct raft_conf *c);

/* Describes a snapshot: the state after applying entries 1..index. */
struct raft_snapshot_meta {
    raft_index index; /* 0: no snapshot */
    raft_term term;   /* term of entry `index` */
    struct raft_conf conf;
    uint64_t size; /* bytes of snapshot data */
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

enum raft_msg_type {
    RAFT_MSG_APPEND = 1,         /* AppendEntries (log_term/index: previous) */
    RAFT_MSG_APPEND_RESP,        /* index: new match, or the rejected index */
    RAFT_MSG_VOTE,               /* RequestVote (log_term/index: last entry) */
    RAFT_MSG_VOTE_RESP,          /* reject: vote refused */
    RAFT_MSG_PRE_VOTE,           /* PreVote (thesis 9.6), term = term + 1 */
    RAFT_MSG_PRE_VOTE_RESP,      /* reject: pre-vote refused */
    RAFT_MSG_HEARTBEAT,          /* commit, seq */
    RAFT_MSG_HEARTBEAT_RESP,     /* seq echoed */
    RAFT_MSG_SNAPSHOT,           /* one chunk of InstallSnapshot */
    RAFT_MSG_SNAPSHOT_RESP,      /* chunk ack: snap_offset = next wanted */
    RAFT_MSG_TIMEOUT_NOW,        /* leadership transfer: campaign now (3.10) */
    RAFT_MSG_READ_INDEX,         /* follower asks the leader for a read index */
    RAFT_MSG_READ_INDEX_RESP,    /* index: the read index; reject: refused */
};

/* Flags on a message. */
#define RAFT_MSG_FLAG_TRANSFER 0x1u /* VOTE/PRE_VOTE caused by TIMEOUT_NOW */

struct raft_message {
    uint32_t type; /* enum raft_msg_type */
    uint32_t flags;
    raft_id from;
    raft_id to;
    raft_term term;

    raft_term log_term; /* APPEND: term of `index`; VOTE: last log term */
    raft_index index;   /* see enum raft_msg_type */
    raft_index commit;  /* APPEND/HEARTBEAT: leader's commit (bounded) */

    bool reject;
    raft_index reject_hint; /* APPEND_RESP reject: follower's best guess of */
    raft_term hint_term;    /* the match point (fast back-off, 5.3)   */

    /* Heartbeat round stamp.  Set by the leader on every APPEND, HEARTBEAT
     * and SNAPSHOT; echoed by the follower in the response.  */
    uint64_t seq;
    /* READ_INDEX / READ_INDEX_RESP: the caller's read context. */
    uint64_t ctx;

    size_t n_entries;
    struct raft_entry *entries;

    /* SNAPSHOT (and SNAPSHOT_RESP for snap.index, snap_offset) */
    struct raft_snapshot_meta snap;
    uint64_t snap_offset; /* offset of this chunk; in RESP: next wanted */
    size_t snap_len;      /* bytes in snap_data */
    uint8_t *snap_data;
    bool snap_last; /* this chunk completes the snapshot */
};

/*
 * Frees what a message owns (entries and their data, snapshot chunk data)
 * and zeroes the pointers.  Messages in a ready batch and messages built by
 * a decoder with malloc'd parts can both be freed with it.
 */
void raft_message_free_parts(struct raft_message *m);

/* ------------------------------------------------------------------ */
/* Log storage interface                                               */
/* ------------------------------------------------------------------ */

struct raft_hard_state {
    raft_term term;
    raft_id vote;
    raft_index commit;
};

/*
 * The durable log the core reads from.  The core only reads through it; the
 * driver writes to it (after persisting) with whatever calls its
 * implementation has.  Entries not yet known to be durable are held by the
 * core itself, so a storage only ever sees durable state.
 *
 * Every function returns 0 or a negative RAFT_E* code.
 */
struct raft_storage {
    void *data;
    /* The hard state and newest snapshot's metadata saved before a restart. */
    int (*initial_state)(void *data, struct raft_hard_state *hs,
                         struct raft_snapshot_meta *snap);
    /* Index of the first entry held (snapshot index + 1 after compaction). */
    raft_index (*first_index)(void *data);
    /* Index of the last entry held (the snapshot index when none). */
    raft_index (*last_index)(void *data);
    /* Term of entry i, for first_index - 1 <= i <= last_index.
     * RAFT_ECOMPACTED below that range, RAFT_EUNAVAILABLE above it. */
    int (*term)(void *data, raft_index i, raft_term *out);
    /*
     * Fills out[0..*n) with entries lo..hi-1, as many as fit in max_bytes
     * of data (but always at least one, however large).  `out` has room for
     * hi - lo entries.  The data pointers are borrowed: valid until the next
     * call that changes the storage.
     */
    int (*entries)(void *data, raft_index lo, raft_index hi, uint64_t max_bytes,
                   struct raft_entry *out, size_t *n);
    /* Metadata of the newest snapshot (index 0 when there is none). */
    int (*snapshot_meta)(void *data, struct raft_snapshot_meta *out);
    /*
     * Copies up to `cap` bytes of snapshot `snap_index` starting at `offset`
     * into buf; *n gets the count and *last whether it reaches the end.
     * RAFT_ESNAPSHOT when that snapshot is no longer the newest.
     */
    int (*snapshot_read)(void *data, raft_index snap_index, uint64_t offset,
                         void *buf, size_t cap, size_t *n, bool *last);
};

/*
 * An in-memory raft_storage: the log of the tests and the simulator, and of
 * the server's memory mode (where the WAL makes it durable).
 */
struct raft_memstore;

struct raft_memstore *raft_memstore_create(void);
void raft_memstore_destroy(struct raft_memstore *ms);
/* The storage interface backed by `ms` (which must outlive its use). */
struct raft_storage raft_memstore_storage(struct raft_memstore *ms);
int raft_memstore_set_hard_state(struct raft_memstore *ms,
                                 const struct raft_hard_state *hs);
/*
 * Appends copies of e[0..n): entries from e[0].index on are replaced
 * (a conflicting suffix is cut).  RAFT_EINVAL if e[0].index would leave a
 * gap or lies at or below the snapshot index.
 */
int raft_memstore_append(struct raft_memstore *ms, const struct raft_entry *e,
                         size_t n);
/*
 * Stores a snapshot (copy of data[0..meta->size)).  Entries up to
 * meta->index are dropped; if the log does not hold entry meta->index with
 * meta->term, the whole log is dropped (a snapshot received from a leader).
 */
int raft_memstore_set_snapshot(struct raft_memstore *ms,
                               const struct raft_snapshot_meta *meta,
                               const void *data);
/* Drops entries up to `upto` (<= the snapshot index). */
int raft_memstore_compact(struct raft_memstore *ms, raft_index upto);
/* Snapshot data and hard state, for the simulator's "reload after crash". */
const void *raft_memstore_snapshot_data(const struct raft_memstore *ms);

/* ------------------------------------------------------------------ */
/* The node                                                            */
/* ------------------------------------------------------------------ */

enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRE_CANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
};

const char *raft_role_name(enum raft_role role);

typedef void (*raft_trace_cb)(void *data, raft_id id, raft_term term,
                              const char *msg);

struct raft_config {
    raft_id id;                     /* this node; not RAFT_NONE */
    struct raft_storage storage;    /* where the durable log is read from */
    unsigned election_tick;         /* minimum election timeout, in ticks;
                                       the randomized timeout lies in
                                       [election_tick, 2 * election_tick) */
    unsigned heartbeat_tick;        /* < election_tick */
    bool pre_vote;                  /* thesis 9.6 */
    bool check_quorum;              /* leader steps down without a quorum */
    unsigned max_inflight;          /* appends in flight per follower (>= 1) */
    uint64_t max_msg_bytes;         /* entry bytes per append, snapshot chunk
                                       size */
    uint64_t seed;                  /* seeds the election timeout PRNG */
    /*
     * Testing only: turns off leader stickiness (a follower that heard from
     * a leader within election_tick still grants votes).  The simulator uses
     * it to show that leases are unsafe without stickiness.
     */
    bool disable_leader_stickiness;
    /*
     * First start of a cluster: when the storage is empty and `bootstrap` is
     * non-NULL, the core writes one conf change entry per member at indexes
     * 1..n, term 1, committed.  Every initial member must be given the same
     * list in the same order.  A node joining an existing cluster passes
     * NULL and starts empty; it learns the configuration from the leader.
     */
    const struct raft_conf *bootstrap;
    raft_trace_cb trace; /* optional: one line per notable event */
    void *trace_data;
};

/* Role and leadership as seen by this node. */
struct raft_soft_state {
    enum raft_role role;
    raft_id leader; /* RAFT_NONE when unknown */
    raft_term term;
};

struct raft_read_state {
    uint64_t ctx;     /* the context given to raft_read_index() */
    raft_index index; /* serve the read once applied index >= index */
};

/*
 * A chunk of a snapshot received from the leader, to be stored by the driver
 * (offset 0 starts a new snapshot; chunks arrive in order).
 */
struct raft_snapshot_chunk {
    struct raft_snapshot_meta meta;
    uint64_t offset;
    size_t len;
    uint8_t *data;
    bool last;
};

/*
 * Everything the core wants done since the last raft_advance().  Every array
 * and every entry's data is owned by the batch and freed by
 * raft_ready_free(); the batch may outlive raft_advance() (so that the
 * driver can hold msgs_after_persist until its write is durable).
 */
struct raft_ready {
    /* Role, leader or term changed; `soft` holds the new values. */
    bool soft_changed;
    struct raft_soft_state soft;

    /* Persist, in this order: snapshot chunk (and on its last chunk, install
     * the snapshot: restore the state machine, reset the log to it), hard
     * state, entries (entries[0].index onward replace whatever was there). */
    bool has_chunk;
    struct raft_snapshot_chunk chunk;
    bool has_snapshot; /* install `snapshot` (all chunks were delivered) */
    struct raft_snapshot_meta snapshot;
    bool has_hard_state;
    struct raft_hard_state hs;
    size_t n_entries;
    struct raft_entry *entries;
    /* What to pass to raft_persisted() once all of the above is durable
     * (0/0 when the batch has nothing to persist but the hard state). */
    raft_index persist_index;
    raft_term persist_term;

    /* Send now. */
    size_t n_msgs;
    struct raft_message *msgs;
    /* Send only after everything this batch persists is durable. */
    size_t n_msgs_after_persist;
    struct raft_message *msgs_after_persist;

    /* Apply in order.  Conf change entries are also applied by the core
     * itself; the driver sees them here to update addresses. */
    size_t n_committed;
    struct raft_entry *committed;

    /* Confirmed ReadIndex requests. */
    size_t n_reads;
    struct raft_read_state *reads;

    /* The configuration changed (a conf change entry committed, or a
     * snapshot was installed); `conf` is the new one. */
    bool conf_changed;
    struct raft_conf conf;
};

struct raft;

/*
 * Creates a node from cfg and whatever cfg->storage holds (restart: hard
 * state, snapshot, log; the configuration is rebuilt from the snapshot's and
 * the committed conf change entries).  On success *out owns a new node, to
 * be freed with raft_destroy().  RAFT_EINVAL for a bad config,
 * RAFT_ECORRUPT when the storage contradicts itself (commit beyond the log).
 */
int raft_create(const struct raft_config *cfg, struct raft **out);
void raft_destroy(struct raft *r);

/*
 * One logical clock tick.  Followers and candidates count towards their
 * election timeout; leaders count towards heartbeats (a new heartbeat round
 * every heartbeat_tick ticks, stamped with now_ns), CheckQuorum (every
 * election_tick ticks) and the leadership transfer timeout.
 */
void raft_tick(struct raft *r, uint64_t now_ns);

/*
 * Feeds a message received from a peer.  Messages from an older term are
 * answered or dropped as the paper says; nothing from the network is trusted:
 * a malformed message (unknown type, entries not contiguous) returns
 * RAFT_EINVAL and changes nothing.  The message is borrowed.
 */
int raft_step(struct raft *r, const struct raft_message *m, uint64_t now_ns);

/*
 * Appends a normal entry with a copy of data[0..len) (len may be 0).
 * On success *index and *term (if non-NULL) identify the entry: it is
 * committed once it comes out in ready.committed with that index and term.
 * RAFT_ENOTLEADER (raft_leader() tells who is), RAFT_ETRANSFER during a
 * leadership transfer, RAFT_ETOOBIG when len > max_msg_bytes.
 */
int raft_propose(struct raft *r, const void *data, size_t len, uint64_t now_ns,
                 raft_index *index, raft_term *term);

/*
 * Proposes a membership change (one at a time).  RAFT_ECONFPENDING while an
 * earlier change is not yet committed or while the leader has not committed
 * an entry of its own term (the fix for single-server changes, thesis 4.1
 * and the raft-dev erratum); RAFT_EBADCONF when it does not apply to the
 * current configuration; RAFT_ENOTLEADER, RAFT_ETRANSFER.  The change takes
 * effect when it commits.  A leader that removes itself steps down once the
 * change commits.
 */
int raft_propose_conf_change(struct raft *r, const struct raft_conf_change *cc,
                             uint64_t now_ns, raft_index *index,
                             raft_term *term);

/*
 * ReadIndex (thesis 6.4).  On the leader: the read index is the commit index
 * at the time of the call, confirmed by a heartbeat round acknowledged by a
 * quorum; all requests made before the next raft_ready() share one round.
 * A leader that has not yet committed an entry of its term holds the request
 * until it has (reads never see a stale commit index).  With a single voter
 * the answer is immediate.  On a follower: the request goes to the leader
 * and the answer comes back as a read state here.  The answer is a
 * raft_read_state {ctx, index} in a later ready batch.  Requests pending when
 * the node steps down are dropped (the driver sees soft_changed and fails its
 * own waiting reads).  RAFT_ENOTLEADER when there is no known leader.
 */
int raft_read_index(struct raft *r, uint64_t ctx, uint64_t now_ns);

/*
 * Starts leadership transfer to `to` (thesis 3.10): the leader stops taking
 * proposals, brings `to` up to date, then sends it TIMEOUT_NOW.  The quorum
 * ack time is withdrawn at once (raft_quorum_ack_time() returns false) so no
 * lease is used across the transfer.  Aborted after election_tick ticks; an
 * aborted transfer gives the quorum ack time back only if TIMEOUT_NOW was
 * never sent: once it was, a late TIMEOUT_NOW could still start an election
 * that ignores leader stickiness, so the leader stays "suspect" (no lease)
 * for the rest of its term.
 * RAFT_ENOTLEADER, RAFT_EINVAL (to is self or not a voter).
 */
int raft_transfer_leadership(struct raft *r, raft_id to, uint64_t now_ns);

/*
 * Leader only: starts a heartbeat round now, stamped with now_ns, instead of
 * waiting for the next heartbeat tick (used to renew a lease that is running
 * low while reads keep coming).  RAFT_ENOTLEADER otherwise.
 */
int raft_heartbeat(struct raft *r, uint64_t now_ns);

/* Starts an election at once (used by tests and a one-node first start). */
int raft_campaign(struct raft *r, uint64_t now_ns);

/* True when raft_ready() would return a non-empty batch. */
bool raft_has_ready(const struct raft *r);
/*
 * Collects the next batch into *rd (owned by the caller, see struct
 * raft_ready).  Work deferred for batching is finished here: one append
 * broadcast for all proposals since the last batch, one heartbeat round for
 * all ReadIndex requests since the last batch, stamped with the latest now_ns
 * the core was given.  Returns 0 or RAFT_ENOMEM / RAFT_ESTORAGE.
 */
int raft_ready(struct raft *r, struct raft_ready *rd);
/*
 * Tells the core that `rd` (the batch last returned) was taken: entries are
 * being persisted in order, messages sent or queued, committed entries
 * applied or queued, reads handed out.  Must come before the next
 * raft_ready().  Does not free rd.
 */
void raft_advance(struct raft *r, const struct raft_ready *rd);
/* Frees what a batch owns and zeroes it. */
void raft_ready_free(struct raft_ready *rd);
/*
 * The batch whose persist_index/persist_term these are (and every earlier
 * batch) is durable and its entries are in the storage.  A leader now counts
 * itself for those entries; a follower's installed snapshot is now final.
 * Stale calls (an entry since replaced) are ignored.
 */
void raft_persisted(struct raft *r, raft_index index, raft_term term,
                    uint64_t now_ns);

/* ------------------------------------------------------------------ */
/* Queries (no side effects)                                           */
/* ------------------------------------------------------------------ */

raft_id raft_id_of(const struct raft *r);
enum raft_role raft_role_of(const struct raft *r);
raft_id raft_leader(const struct raft *r);
raft_term raft_term_of(const struct raft *r);
raft_index raft_commit_index(const struct raft *r);
raft_index raft_last_index(const struct raft *r);
/* Index of the last committed entry handed out in a ready batch. */
raft_index raft_applied_index(const struct raft *r);
const struct raft_conf *raft_conf_of(const struct raft *r);
/* True on a leader that has committed an entry of its own term (5.4.2). */
bool raft_committed_in_term(const struct raft *r);
/* The target of a leadership transfer in progress, or RAFT_NONE. */
raft_id raft_transferee(const struct raft *r);
/*
 * Leader lease input.  On a leader that has committed an entry of its term
 * and is not transferring leadership: sets *sent_ns to the now_ns at which
 * the newest heartbeat round acknowledged by a quorum of voters (the leader
 * counting itself) was started, and returns true.  Otherwise returns false.
 * Acknowledgement means a follower answered a message of that round in this
 * term; it says the follower heard from this leader no earlier than *sent_ns
 * and (by leader stickiness) will not vote for anyone else for election_tick
 * ticks after that.  Also false for the rest of the term once TIMEOUT_NOW
 * was sent (see raft_transfer_leadership()).
 */
bool raft_quorum_ack_time(const struct raft *r, uint64_t *sent_ns);

/* Per-follower replication state, for status output and tests. */
enum raft_progress_state {
    RAFT_PROGRESS_PROBE = 0,
    RAFT_PROGRESS_REPLICATE,
    RAFT_PROGRESS_SNAPSHOT,
};

struct raft_progress_info {
    raft_id id;
    bool learner;
    raft_index match;
    raft_index next;
    uint32_t state; /* enum raft_progress_state */
    bool recent_active;
};

/* Fills out[0..*n) with the leader's view of every member (self included).
 * RAFT_ENOTLEADER on a non-leader. */
int raft_progress(const struct raft *r, struct raft_progress_info *out,
                  size_t cap, size_t *n);

#endif /* METASTORE_RAFT_H */
