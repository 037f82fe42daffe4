/*
 * raft_internal.h - state and helpers shared by the files of the Raft core.
 *
 * Private to raft/.  Names shared across files carry the raft__ prefix.
 * The core is split by concern, as canonical/raft is:
 *   log.c          durable log (through raft_storage) + in-core unstable tail
 *   progress.c     per-member replication progress and in-flight windows
 *   election.c     roles, ticks, (pre-)votes, CheckQuorum, transfer
 *   replication.c  AppendEntries/heartbeats both ways, commit, membership
 *   snapshot.c     InstallSnapshot both ways (chunked, stop-and-wait)
 *   readindex.c    heartbeat rounds, quorum ack time, ReadIndex
 *   membership.c   conf changes taking effect as they commit
 *   ready.c        ready batches, advance, persisted
 *   raft.c         creation, restart, step dispatch, proposals, queries
 *   message.c      freeing messages and batches
 */
#ifndef METASTORE_RAFT_INTERNAL_H
#define METASTORE_RAFT_INTERNAL_H

#include "raft/raft.h"

/* Heartbeat rounds whose start time is remembered (a ring). */
#define RAFT__ROUNDS 256u

/* ---- log (log.c) ---------------------------------------------------- */

/*
 * The log as the core sees it: storage (durable) up to u_offset - 1, then
 * the unstable entries u_ents[0..u_n) with indexes u_offset.., owned here.
 * A received snapshot not yet durable is u_snap (u_has_snap); it then
 * replaces everything at or below u_snap.index.
 */
struct raft__log {
    struct raft_storage st;
    raft_index u_offset;
    struct raft_entry *u_ents;
    size_t u_n;
    size_t u_cap;
    raft_index u_handed; /* unstable entries up to here went out in a ready */
    bool u_has_snap;
    bool u_snap_handed;
    struct raft_snapshot_meta u_snap;
    raft_index commit;
    raft_index applied; /* last committed index handed out */
    /* No conf change entry lies above this index (conservative: entries
     * loaded from storage count as possible conf changes), so committing
     * beyond it needs no log scan. */
    raft_index conf_hint;
};

int raft__log_init(struct raft__log *l, const struct raft_storage *st);
void raft__log_close(struct raft__log *l);
raft_index raft__log_first_index(const struct raft__log *l);
raft_index raft__log_last_index(const struct raft__log *l);
raft_term raft__log_last_term(const struct raft__log *l);
/* 0, RAFT_ECOMPACTED or RAFT_EUNAVAILABLE (or a storage error). */
int raft__log_term(const struct raft__log *l, raft_index i, raft_term *t);
/* Term of i, or 0 when unknown. */
raft_term raft__log_term_or_zero(const struct raft__log *l, raft_index i);
bool raft__log_match_term(const struct raft__log *l, raft_index i, raft_term t);
/* Thesis 3.6.1: is (lasti, term) at least as up to date as our log? */
bool raft__log_up_to_date(const struct raft__log *l, raft_index lasti,
                          raft_term term);
/* Index of the last durable entry of the current log. */
raft_index raft__log_durable_index(const struct raft__log *l);
/* Appends copies of e[0..n) at e[0].index, cutting a conflicting suffix.
 * Precondition: first_index - 1 <= e[0].index - 1 <= last_index. */
int raft__log_append(struct raft__log *l, const struct raft_entry *e, size_t n);
/* Visits entries lo..hi-1 (borrowed); cb returns false to stop. */
typedef bool (*raft__visit_cb)(void *arg, const struct raft_entry *e);
int raft__log_visit(const struct raft__log *l, raft_index lo, raft_index hi,
                    raft__visit_cb cb, void *arg);
/* Deep copies of entries lo..hi-1, at most max_bytes of data (at least
 * one entry when lo < hi).  *out is malloc'd (NULL when *n == 0). */
int raft__log_slice(const struct raft__log *l, raft_index lo, raft_index hi,
                    uint64_t max_bytes, struct raft_entry **out, size_t *n);
/* Follower side of AppendEntries (5.3).  Returns true and sets *lastnewi
 * when the entries were accepted; false when (prev_index, prev_term) does
 * not match.  RAFT_E* codes via *err. */
bool raft__log_maybe_append(struct raft__log *l, raft_index prev_index,
                            raft_term prev_term, raft_index commit,
                            const struct raft_entry *e, size_t n,
                            raft_index *lastnewi, int *err);
/* Largest index <= index whose term is <= term (etcd findConflictByTerm). */
raft_index raft__log_conflict_by_term(const struct raft__log *l,
                                      raft_index index, raft_term term,
                                      raft_term *found_term);
bool raft__log_commit_to(struct raft__log *l, raft_index commit);
void raft__log_restore(struct raft__log *l,
                       const struct raft_snapshot_meta *snap);
void raft__log_stable_to(struct raft__log *l, raft_index i, raft_term t);

/* ---- progress (progress.c) --------------------------------------- */

struct raft__inflights {
    raft_index *buf;
    uint32_t start;
    uint32_t count;
    uint32_t size;
};

struct raft__progress {
    raft_id id;
    bool learner;
    raft_index match;
    raft_index next;
    uint32_t state; /* enum raft_progress_state */
    bool recent_active;
    bool probe_sent; /* PROBE: one append in flight, wait for an answer */
    struct raft__inflights inflights;
    uint64_t acked_seq; /* newest heartbeat round acked in this term */
    /* SNAPSHOT state: the snapshot being sent, stop-and-wait. */
    struct raft_snapshot_meta snap;
    uint64_t snap_offset; /* offset of the chunk in flight / next to send */
    size_t snap_sent_len; /* bytes of the chunk in flight */
    bool snap_inflight;
};

int raft__progress_init(struct raft__progress *p, raft_id id, bool learner,
                        raft_index next, uint32_t max_inflight);
void raft__progress_close(struct raft__progress *p);
bool raft__progress_paused(const struct raft__progress *p);
void raft__progress_become_probe(struct raft__progress *p);
void raft__progress_become_replicate(struct raft__progress *p);
void raft__progress_become_snapshot(struct raft__progress *p,
                                    const struct raft_snapshot_meta *snap);
bool raft__progress_maybe_update(struct raft__progress *p, raft_index n);
bool raft__progress_maybe_decr_to(struct raft__progress *p, raft_index rejected,
                                  raft_index match_hint);
void raft__progress_sent_entries(struct raft__progress *p, raft_index last,
                                 size_t n_entries);
void raft__inflights_free_le(struct raft__inflights *in, raft_index to);
void raft__inflights_free_first(struct raft__inflights *in);

/* ---- the node ------------------------------------------------------ */

struct raft__msgvec {
    struct raft_message *v;
    size_t n;
    size_t cap;
};

struct raft__read {
    uint64_t ctx;
    raft_index index;
    uint64_t seq; /* round that confirms it; 0: not yet assigned */
    raft_id from; /* self or the follower that asked */
    bool held;    /* waiting for the leader's first commit in its term */
};

struct raft__chunk {
    bool valid;
    struct raft_snapshot_chunk c; /* data owned */
};

struct raft {
    struct raft_config cfg; /* cfg.bootstrap is not kept */
    raft_id id;
    raft_term term;
    raft_id vote;
    raft_id lead;
    enum raft_role role;
    struct raft__log log;
    struct raft_conf conf;
    raft_index conf_index; /* conf changes applied up to here */
    raft_index pending_conf_index;

    struct raft__progress prs[RAFT_MAX_MEMBERS];
    uint32_t n_prs;
    raft_id votes_from[RAFT_MAX_MEMBERS];
    bool votes_granted[RAFT_MAX_MEMBERS];
    uint32_t n_votes;

    unsigned election_elapsed;
    unsigned heartbeat_elapsed;
    unsigned randomized_timeout;
    bool restart_quiet; /* restarted: sticky for the first election_tick */
    raft_id transferee;
    uint64_t rng;
    uint64_t now_ns;

    /* Heartbeat rounds (leader). */
    uint64_t seq;
    uint64_t lead_start_seq;
    /* TIMEOUT_NOW went out in this term: it may still be on its way, and
     * the election it starts ignores stickiness, so no round of this term
     * can back a lease any more (TiKV's "suspect" lease), even after the
     * transfer has been aborted. */
    bool lease_suspect;
    uint64_t round_ns[RAFT__ROUNDS];

    /* ReadIndex. */
    struct raft__read *reads;
    size_t n_reads;
    size_t cap_reads;
    bool read_round_pending;
    struct raft_read_state *read_states;
    size_t n_read_states;
    size_t cap_read_states;

    /* Snapshot being received (follower). */
    raft_index recv_snap_index;
    raft_term recv_snap_term;
    uint64_t recv_snap_next;
    struct raft__chunk chunk;

    /* Output waiting for the next ready batch. */
    struct raft__msgvec msgs;
    struct raft__msgvec msgs_after;
    bool broadcast_pending;
    bool commit_bcast_pending; /* followers must hear the new commit */
    bool conf_changed;
    struct raft_soft_state prev_soft;
    struct raft_hard_state prev_hs;
    bool oom; /* an allocation failed; reported by raft_ready */
    /* Where a message goes when the queue cannot grow: built, dropped. */
    struct raft_message scratch;
};

/* raft.c, membership.c */
void raft__trace(struct raft *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct raft_message *raft__msg_new(struct raft *r, bool after_persist,
                                   uint32_t type, raft_id to);
struct raft__progress *raft__progress_of(struct raft *r, raft_id id);
bool raft__is_voter(const struct raft *r, raft_id id);
bool raft__promotable(const struct raft *r);
void raft__entries_free(struct raft_entry *e, size_t n);
/* Scans newly committed entries for conf changes and applies them. */
void raft__apply_conf_to_commit(struct raft *r);
void raft__rebuild_progress(struct raft *r);

/* election.c */
void raft__become_follower(struct raft *r, raft_term term, raft_id lead);
void raft__become_leader(struct raft *r);
void raft__campaign(struct raft *r, bool pre_vote, bool transfer);
void raft__tick_election(struct raft *r);
void raft__tick_leader(struct raft *r);
void raft__handle_vote(struct raft *r, const struct raft_message *m);
void raft__handle_vote_resp(struct raft *r, const struct raft_message *m);
void raft__handle_timeout_now(struct raft *r, const struct raft_message *m);
void raft__abort_transfer(struct raft *r);
void raft__reset_randomized_timeout(struct raft *r);

/* replication.c */
bool raft__maybe_send_append(struct raft *r, struct raft__progress *p,
                             bool send_if_empty);
void raft__bcast_append(struct raft *r, bool send_if_empty);
void raft__bcast_heartbeat(struct raft *r);
bool raft__maybe_commit(struct raft *r);
void raft__handle_append(struct raft *r, const struct raft_message *m);
void raft__handle_append_resp(struct raft *r, const struct raft_message *m);
void raft__handle_heartbeat(struct raft *r, const struct raft_message *m);
void raft__handle_heartbeat_resp(struct raft *r, const struct raft_message *m);
void raft__send_timeout_now(struct raft *r, raft_id to);
void raft__commit_advanced(struct raft *r);

/* snapshot.c */
void raft__send_snapshot(struct raft *r, struct raft__progress *p);
void raft__send_snapshot_chunk(struct raft *r, struct raft__progress *p);
void raft__handle_snapshot(struct raft *r, const struct raft_message *m);
void raft__handle_snapshot_resp(struct raft *r, const struct raft_message *m);

/* readindex.c */
void raft__new_round(struct raft *r);
uint64_t raft__quorum_acked_seq(const struct raft *r);
void raft__ack_seq(struct raft *r, struct raft__progress *p, uint64_t seq);
int raft__read_request(struct raft *r, uint64_t ctx, raft_id from);
void raft__release_held_reads(struct raft *r);
void raft__process_reads(struct raft *r);
void raft__start_read_round(struct raft *r);
void raft__drop_reads(struct raft *r);
void raft__handle_read_index(struct raft *r, const struct raft_message *m);
void raft__handle_read_index_resp(struct raft *r, const struct raft_message *m);
int raft__push_read_state(struct raft *r, uint64_t ctx, raft_index index);

#endif /* METASTORE_RAFT_INTERNAL_H */
