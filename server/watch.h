/*
 * The watcher hub: etcd v3 Watch semantics as a pure state machine (no
 * libuv, no sockets, no clock).  The server wires it up:
 *
 *  - a WatchCreateRequest -> watch_hub_add(); a WatchCancelRequest ->
 *    watch_hub_cancel(); a WatchProgressRequest -> watch_hub_request_progress()
 *    for each watcher of the stream;
 *  - after applying each write that changed the revision, the events of that
 *    revision -> watch_hub_notify() (every event with prev_kv filled when the
 *    key existed before, so prev_kv watchers get it);
 *  - on a timer -> watch_hub_tick(now) (time-based progress);
 *  - whenever a stream can send -> watch_hub_pending(id) or
 *    watch_hub_poll(), which return one response at a time: CREATED first,
 *    then EVENTS (catch-up from engine_history() while the watcher is behind
 *    the engine, then the live queue), PROGRESS, and finally CANCELED after
 *    which the watcher is gone.
 *
 * Contract: every watcher receives each matching event with revision >= its
 * start revision exactly once, in revision order, unless it is canceled.
 * A watcher's `next_rev` is the first revision it has not received or
 * queued; it takes live events only for revision == next_rev, and reads
 * history for everything it missed (a watcher created at an old revision,
 * notifications the server skipped or has not delivered yet), so neither
 * gaps nor duplicates can arise.
 *
 * Failure modes: a live queue over its bound (events or bytes) cancels the
 * watcher with WATCH_CANCEL_SLOW (others are untouched), or, with
 * watch_hub_resync_on_overflow(), drops the queue and lets the watcher
 * catch up from history instead (watch_hub_hold()); a start revision
 * that is (or becomes, during catch-up) compacted cancels it with
 * WATCH_CANCEL_COMPACTED and the compact revision.
 *
 * Cost: notify is O(watchers x events) (etcd uses an interval tree); ids
 * are found through a hash table; removing a watcher is O(watchers); the
 * ready list lets the server skip watchers with nothing to say.
 */
#ifndef METASTORE_SERVER_WATCH_H
#define METASTORE_SERVER_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/engine.h"

#define WATCH_ERRORS(X)                                                        \
    X(WATCH_EINVAL, -7001, "invalid watch request")                            \
    X(WATCH_ENOMEM, -7002, "out of memory")                                    \
    X(WATCH_ENOTFOUND, -7003, "no such watch id")                              \
    X(WATCH_EEXIST, -7004, "watch id already in use")

enum {
#define WATCH__ERR_ENUM(name, value, text) name = value,
    WATCH_ERRORS(WATCH__ERR_ENUM)
#undef WATCH__ERR_ENUM
};

/* Text for a WATCH_E* code (engine codes pass to engine_strerror()). */
const char *watch_strerror(int err);

struct watch_options {
    size_t max_queue_events;     /* live queue bound; 0 = 1024 */
    size_t max_queue_bytes;      /* 0 = 4 MiB */
    int64_t catchup_limit;       /* events per history read; 0 = 256 */
    int64_t progress_every_revs; /* idle revisions before a progress; 0 off */
    uint64_t progress_every_ns;  /* idle time before a progress; 0 off */
};

struct watch_create_req {
    const void *key; /* (key, range_end) as in engine_range_req; copied */
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    int64_t start_revision; /* 0 = from the next revision ("now") */
    int64_t watch_id;       /* 0 = the hub picks one */
    bool progress_notify;   /* periodic progress when idle */
    bool no_put;            /* filters, as etcd's FilterType */
    bool no_delete;
    bool prev_kv;
    void *owner; /* the stream; handed back in every response */
};

enum watch_resp_type {
    WATCH_RESP_CREATED = 0,
    WATCH_RESP_EVENTS = 1,
    WATCH_RESP_PROGRESS = 2,
    WATCH_RESP_CANCELED = 3,
};

enum watch_cancel_cause {
    WATCH_CANCEL_NONE = 0,
    WATCH_CANCEL_CLIENT = 1,    /* watch_hub_cancel() */
    WATCH_CANCEL_COMPACTED = 2, /* start revision compacted */
    WATCH_CANCEL_SLOW = 3,      /* live queue exceeded its bound */
};

struct watch_resp {
    enum watch_resp_type type;
    int64_t watch_id;
    void *owner;
    int64_t revision; /* header revision: the engine's current revision;
                         for CREATED, the revision when the watcher was
                         added (a "from now" watcher gets what follows) */
    const struct engine_event *events; /* EVENTS; in the caller's arena */
    size_t events_len;
    enum watch_cancel_cause cause; /* CANCELED */
    const char *cancel_reason;     /* CANCELED; static text */
    int64_t compact_revision;      /* CANCELED by compaction */
};

struct watch_hub;

/* A hub reading history from e (which must outlive it).  opts may be NULL.
 * now_ns starts the progress clock.  WATCH_ENOMEM. */
int watch_hub_create(struct engine *e, const struct watch_options *opts,
                     uint64_t now_ns, struct watch_hub **out);
/* Frees every watcher and queue; sends nothing. */
void watch_hub_destroy(struct watch_hub *h);

/* What a full live queue (or no memory to grow it) does to its watcher:
 * false (the default) cancels it as SLOW; true drops the queue and holds
 * the watcher (watch_hub_hold()), so it catches up from history once its
 * client reads again.  (A setter, not a watch_options field, so that
 * positional initialisers of watch_options stay complete.) */
void watch_hub_resync_on_overflow(struct watch_hub *h, bool on);

/* Adds a watcher; *id gets its id.  Its first response is CREATED.  A
 * compacted start revision is reported by a CANCELED response after it
 * (as etcd does).  WATCH_EINVAL (empty or oversized key, negative start or
 * id), WATCH_EEXIST, WATCH_ENOMEM. */
int watch_hub_add(struct watch_hub *h, const struct watch_create_req *req,
                  int64_t *id);

/* Cancels: drops the queue; the next response is CANCELED (cause CLIENT).
 * WATCH_ENOTFOUND. */
int watch_hub_cancel(struct watch_hub *h, int64_t id);

/* Asks for one PROGRESS response as soon as the watcher has caught up.
 * WATCH_ENOTFOUND. */
int watch_hub_request_progress(struct watch_hub *h, int64_t id);

/* Frees every watcher of `owner` at once, without responses (the stream is
 * gone). */
void watch_hub_drop_owner(struct watch_hub *h, const void *owner);

/*
 * The events of one applied revision (all events of that revision, in any
 * order the server likes; they are copied).  Revisions must be notified in
 * increasing order; a revision the server never notifies is read from
 * history instead.  WATCH_EINVAL if revision does not increase.  Queue
 * overflows cancel watchers; this never fails for lack of memory: a watcher
 * whose event cannot be queued is canceled as SLOW.
 */
int watch_hub_notify(struct watch_hub *h, int64_t revision,
                     const struct engine_event *events, size_t n);

/*
 * The watcher's client is not keeping up: frees its live queue and stops
 * queueing for it, so that it costs no memory however many revisions
 * follow.  It has lost nothing: next_rev goes back to the first revision
 * of the dropped queue, and the next watch_hub_pending() (the client has
 * room again) lifts the hold and reads what it missed from history before
 * it takes live events again.  A canceled watcher is left alone.
 * WATCH_ENOTFOUND.
 */
int watch_hub_hold(struct watch_hub *h, int64_t id);

/*
 * Ready list: which watchers may have a response, so that a server with
 * many idle watchers need not ask each of them after every write.  A
 * watcher is marked when it is added, canceled, asked for progress, held,
 * or queues a live event; watch_hub_revision_moved() marks every watcher
 * when the engine's revision passed the last notified one (a revision
 * nobody reported: watchers may be behind), watch_hub_mark_all() marks
 * every watcher (time-based progress).  Marks are hints, never needed for
 * correctness: a watcher asked without reason answers 0.
 *
 * watch_hub_take_ready() moves the marked ids to *ids (grown with realloc
 * as needed; the caller frees it) and unmarks them; ids of watchers gone
 * meanwhile may be among them (pending() answers WATCH_ENOTFOUND).
 * Returns how many, or WATCH_ENOMEM (then every watcher stays marked).
 */
void watch_hub_mark(struct watch_hub *h, int64_t id);
void watch_hub_mark_all(struct watch_hub *h);
void watch_hub_revision_moved(struct watch_hub *h);
long watch_hub_take_ready(struct watch_hub *h, int64_t **ids, size_t *cap);
/* The owner of watcher id, or NULL when there is no such watcher. */
void *watch_hub_owner(const struct watch_hub *h, int64_t id);

/* Advances the progress clock. */
void watch_hub_tick(struct watch_hub *h, uint64_t now_ns);

/*
 * The next response for watcher id: 1 with *out filled (event bytes in
 * arena a, valid until the caller resets it), 0 when it has nothing to say
 * now, WATCH_ENOTFOUND, or an engine error from reading history (the
 * watcher is unchanged and the call may be retried).  After a CANCELED
 * response the id is gone.
 */
int watch_hub_pending(struct watch_hub *h, int64_t id, struct engine_arena *a,
                      struct watch_resp *out);

/* Like watch_hub_pending() for whichever watcher has something, taking
 * watchers in turn; 0 when none has. */
int watch_hub_poll(struct watch_hub *h, struct engine_arena *a,
                   struct watch_resp *out);

/* Counters since the hub was created, for /metrics. */
struct watch_hub_stats {
    uint64_t history_reads; /* engine_history() calls (catch-up) */
    uint64_t overflows;     /* live queues over their bound (or no memory) */
    uint64_t holds;         /* watchers put on hold (watch_hub_hold(), or
                               an overflow with resync) */
};
void watch_hub_get_stats(const struct watch_hub *h,
                         struct watch_hub_stats *out);

/* Live watchers (canceled ones count until their CANCELED is taken). */
size_t watch_hub_count(const struct watch_hub *h);

#endif /* METASTORE_SERVER_WATCH_H */
