/*
 * server.h - the pieces of metastored and how they share state.
 *
 * One libuv loop thread owns everything below: the Raft core, the engine,
 * the WAL's active buffer, the client connections.  The only other threads
 * are libuv's workers, which run WAL syncs (wal_sync_prepared) and nothing
 * else; their results come back through uv_queue_work's after-work callback.
 *
 *   conn.c     client connections: frames in, command table, replies out
 *   kv.c       requests <-> engine: validation, proposals, apply, reads
 *   node.c     the Raft driver: ready batches, group-commit persistence,
 *              apply, parked requests waiting for an index or a read index
 *   recover.c  start-up: WAL + newest snapshot -> memstore + engine
 *   watch_glue.c  WATCH streams over the watcher hub (watch.h)
 *   main.c     flags, config, signals, start and shutdown
 *
 * Private to server/.
 */
#ifndef METASTORE_SERVER_SERVER_H
#define METASTORE_SERVER_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "lease/histogram.h"
#include "lease/lease.h"
#include "lease/readindex.h"
#include "raft/raft.h"
#include "server/config.h"
#include "server/frame.h"
#include "server/logstore.h"
#include "server/members.h"
#include "storage/engine.h"
#include "storage/snapfile.h"
#include "storage/wal.h"

#define METASTORE_VERSION "0.1.0"

struct srv;
struct srv_conn;

/* ---- parked requests (node.c) ----------------------------------------- */

/*
 * A client request waiting for something: a proposal waiting for its entry
 * to apply, or a read waiting for its read index and then for apply.  It
 * holds a reference on its connection so that a reply to a connection that
 * closed meanwhile is simply dropped.  The request's frame body is copied
 * (reads need it when they finally run).
 */
enum srv_wait_kind {
    SRV_WAIT_PROPOSAL = 0, /* until entry (index, term) applies */
    SRV_WAIT_READ,         /* a read parked in s->reads (reads.c) */
    SRV_WAIT_LEADER,       /* until a leader is known, then dispatch again */
    SRV_WAIT_TRANSFER,     /* until `index` (the target id) leads */
};

/* How a read was (or is being) served, for statistics. */
enum srv_read_path {
    SRV_PATH_FAST = 0,     /* leader lease */
    SRV_PATH_READINDEX,    /* ReadIndex round on the leader */
    SRV_PATH_FOLLOWER,     /* read index from the leader, local read */
    SRV_PATH_SERIALIZABLE, /* local state */
    SRV_PATH_LOG,          /* through the Raft log (read_mode: log) */
    SRV_PATH_COUNT,
};

const char *srv_read_path_name(enum srv_read_path p);

struct srv_wait {
    struct srv_wait *next; /* in the list it is parked on */
    enum srv_wait_kind kind;
    enum srv_read_path path; /* reads */
    raft_term read_term;     /* leader reads: the term the index is from */
    struct srv_conn *conn; /* referenced */
    uint16_t method;
    uint64_t request_id;
    raft_index index;
    raft_term term;
    uint64_t ctx; /* reads: id in s->reads; member changes: member id */
    uint64_t deadline_ns;
    uint64_t start_ns;
    size_t body_len;
    uint8_t *body; /* owned copy of the request body (reads only) */
};

/* ---- the server ------------------------------------------------------- */

/*
 * A fixed-bucket histogram the admin endpoint exports (admin_glue.c owns
 * the bucket bounds and the recording functions below).  counts[i] counts
 * values <= bound i and above bound i - 1; the slot after the last bound
 * is +Inf.
 */
#define SRV_HIST_MAX_BUCKETS 16
struct srv_hist {
    uint64_t counts[SRV_HIST_MAX_BUCKETS + 1];
    uint64_t sum; /* nanoseconds, or entries for a size histogram */
};

/* Per-method slots: client and admin method numbers are below this. */
#define SRV_STATS_METHODS 96
/* One slot per SRV_STATUS_CODES entry, plus one for unknown codes. */
#define SRV_STATS_STATUSES 14

struct srv_stats {
    uint64_t requests;
    uint64_t proposals;
    uint64_t fsyncs;
    uint64_t fsync_batches_entries;
    uint64_t snapshots;
    uint64_t refused;
    uint64_t forwarded;
    uint64_t snapshots_installed;
    uint64_t reads[SRV_PATH_COUNT];
    uint64_t apply_waits;
    uint64_t read_timeouts;
    uint64_t read_retries; /* leadership changed before a read was served */
    uint64_t lease_answered_follower;
    uint64_t early_renewals;
    struct lease_hist read_latency[SRV_PATH_COUNT]; /* nanoseconds */

    /* Exported on /metrics (admin_glue.c); docs/observability.md says
     * where each is updated. */
    uint64_t responses[SRV_STATS_METHODS][SRV_STATS_STATUSES];
    struct srv_hist request_ns[SRV_STATS_METHODS]; /* latency per method */
    uint64_t readindex_rounds; /* raft_read_index() calls made */
    uint64_t leader_changes;   /* times the known leader changed */
    struct srv_hist sync_ns;      /* WAL / log sync duration */
    struct srv_hist sync_entries; /* entries made durable per sync */
    struct srv_hist snapshot_ns;  /* snapshot duration */
    uint64_t bytes_received; /* client connections, bytes read */
    uint64_t bytes_sent;     /* client connections, bytes written */
    /* The HTTP/JSON API (http_api.c): responses by class (index status /
     * 100: 1xx..5xx) and open connections. */
    uint64_t http_responses[6];
    uint64_t http_connections;
};

/* Counts one answered client request (requests_total{method,status} and
 * the per-method latency histogram); unknown methods and statuses go to a
 * catch-all slot.  (admin_glue.c) */
void srv_stats_request_done(struct srv_stats *st, unsigned method,
                            int status, uint64_t duration_ns);
/* Records a duration in the latency buckets (100us .. 10s). */
void srv_hist_record_ns(struct srv_hist *h, uint64_t ns);
/* Records a count in the size buckets (1, 2, 4 .. 1024). */
void srv_hist_record_count(struct srv_hist *h, uint64_t n);

struct srv_persist; /* a ready batch waiting to become durable (node.c) */
struct srv_ttl;     /* TTL leases (ttl_glue.h) */
struct srv_autocompact; /* auto-compaction (autocompact_glue.h) */
struct srv_auth;    /* users and roles (auth_glue.h) */
struct peer_transport;
struct peer_forward_token;
struct srv_tls_ctx;

struct srv {
    uv_loop_t *loop;
    struct srv_config cfg;
    uint64_t cluster_id;
    char wal_dir[SRV_CONFIG_PATH_MAX + 8];
    char snap_dir[SRV_CONFIG_PATH_MAX + 8];

    /* Raft and storage. */
    struct raft *raft;
    struct raft_memstore *ms;
    struct raft_storage storage; /* memstore + snapshot data from files */
    struct srv_logstore *log; /* WAL or RocksDB raft column families */
    struct engine *eng;
    struct engine_arena arena; /* results of the request being served */
    struct raft_conf applied_conf; /* configuration as of the applied index */
    struct srv_members members;    /* names and addresses, as applied */
    struct lease_manager lease;    /* the leader lease (lease/lease.h) */
    struct peer_transport *peers;
    struct snapfile_writer *snap_in; /* snapshot being received */
    raft_term applied_term;
    raft_index last_snapshot_index;
    struct snapfile_reader *snap_reader; /* newest snapshot, for sending */

    /* Persistence pipeline (group commit). */
    struct srv_persist *persist_head, *persist_tail;
    uint64_t sync_gen_next;   /* generation of records now being buffered */
    uint64_t sync_gen_done;   /* every generation <= this is durable */
    bool sync_inflight;
    uint64_t buffered_entries; /* entries waiting for the next sync */
    uint64_t sync_entries;     /* entries in the sync in flight */
    uv_work_t sync_work;
    int sync_result;
    uint64_t sync_start_ns;
    bool failed; /* a WAL or engine failure: refuse everything */

    /* Parked requests. */
    struct srv_wait *proposals_head, *proposals_tail; /* by index */
    struct readindex_manager reads; /* parked reads (reads.c) */
    raft_term reads_term;           /* term the reads last saw */
    struct srv_wait *wait_leader;  /* waiting for a leader to be known */
    struct srv_wait *transfers;    /* move-leader requests */
    size_t parked;

    /* libuv handles. */
    uv_timer_t tick_timer;
    uv_prepare_t prepare; /* drives ready batches once per loop turn */
    uv_tcp_t client_listener;
    struct srv_tls_ctx *client_tls; /* NULL: the client port is plain TCP */
    struct srv_tls_ctx *peer_tls;   /* NULL: the peer port is plain TCP */
    uv_signal_t sig_term, sig_int;
    uv_timer_t shutdown_timer;

    /* Connections. */
    struct srv_conn *conns;  /* all open connections */
    struct srv_conn *dirty;  /* connections with replies to flush */
    uint64_t n_conns;
    bool shutting_down;
    uint64_t shutdown_deadline_ns;
    int exit_code;

    /* Start time of the request whose reply is being queued (for the
     * per-method latency histogram); set before every reply. */
    uint64_t reply_start_ns;

    raft_id last_leader;
    enum raft_role last_role;
    struct srv_stats stats;

    /* Watch streams and the watcher hub (watch_glue.c); NULL until
     * srv_watch_start(). */
    struct srv_watch *watch;
    struct srv_ttl *ttl; /* TTL leases: table, timers, counters */
    struct srv_autocompact *autocompact; /* leader auto-compaction state */
    struct srv_auth *auth; /* users, roles, permissions (auth_glue.h) */
};

/* Monotonic clock in nanoseconds (a fresh read, never uv_now()). */
uint64_t srv_now_ns(void);

/* ---- node.c ------------------------------------------------------------ */

/* Builds the Raft node on the recovered storage and starts ticking. */
int srv_node_start(struct srv *s);
/* Stops the timers; waits for nothing (see srv_node_quiesced). */
void srv_node_stop(struct srv *s);
/* True when no sync is in flight and nothing waits to be persisted. */
bool srv_node_quiesced(const struct srv *s);
/* Runs ready batches until the core has nothing more (called every loop
 * turn and after inputs). */
void srv_node_process(struct srv *s);
/* Parks w (ownership moves to the node). */
void srv_node_park(struct srv *s, struct srv_wait *w);
/* Releases a parked request that was answered (reply already queued). */
void srv_wait_free(struct srv_wait *w);
/* Fails every parked request with `status` (shutdown, step-down). */
void srv_node_fail_all(struct srv *s, int status, const char *msg);
/* The leader's client address as configured, or "" when unknown. */
const char *srv_node_leader_addr(const struct srv *s, raft_id leader);
/* Writes what connections and peers have queued (once per loop turn). */
void srv_node_flush(struct srv *s);
/* Starts a heartbeat round now: the lease runs low while reads arrive. */
void srv_node_renew_lease(struct srv *s, uint64_t now_ns);
/* Test-only fault hook: drop (or heal) all traffic with a peer. */
int srv_node_fault_drop(struct srv *s, raft_id peer, bool drop);
/* Closes the peer transport (shutdown). */
void srv_node_close_peers(struct srv *s);

/* ---- recover.c --------------------------------------------------------- */

/* Opens WAL, snapshot and engine from cfg.node.data_dir into s. */
int srv_recover(struct srv *s);
/* Stores one chunk of a snapshot sent by the leader (commits the file on
 * the last chunk). */
int srv_snapshot_receive(struct srv *s, const struct raft_snapshot_chunk *c);
/* Replaces the engine and member table with the received snapshot and
 * records its marker in the WAL (made durable with the batch). */
int srv_snapshot_install(struct srv *s, const struct raft_snapshot_meta *meta);
/* Saves a snapshot of the engine at its applied index and releases the
 * WAL segments it covers. */
int srv_snapshot_take(struct srv *s);
void srv_storage_close(struct srv *s);

/* ---- kv.c -------------------------------------------------------------- */

/* Result of running one request: a status and, when OK, a response
 * (borrowed: packed into the connection's buffer at once). */
struct srv_reply {
    int status;              /* SRV_STATUS_* */
    char msg[256];           /* for a non-OK status */
    ProtobufCMessage *resp;  /* when OK */
};

/*
 * Validates and starts a client request (frame body borrowed).  Writes are
 * proposed and parked; linearizable reads ask for a read index and are
 * parked; everything else is answered at once through srv_conn_reply().
 */
void srv_kv_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                     uint64_t request_id, const uint8_t *body, size_t len);
/* Applies one committed entry to the engine; answers w when non-NULL. */
int srv_kv_apply(struct srv *s, const struct raft_entry *e,
                 struct srv_wait *w);
/* Answers a membership change request whose conf change entry applied. */
void srv_kv_conf_applied(struct srv *s, struct srv_wait *w);
/* Dispatches a parked request again (a leader became known). */
void srv_kv_redispatch(struct srv *s, struct srv_wait *w);
/* Counts a read served on `path` and records its latency. */
void srv_read_done(struct srv *s, enum srv_read_path path, uint64_t start_ns);
/* Runs a parked read now that its index has applied, and answers it. */
void srv_kv_run_read(struct srv *s, struct srv_wait *w);
/* A request only the leader serves reached a follower: parks it until a
 * leader is known, forwards it (server.follower_writes: forward) or answers
 * NOT_LEADER.  True when parked or forwarded (finished later). */
bool srv_kv_not_leader(struct srv *s, struct srv_conn *c, uint16_t method,
                       uint64_t request_id, const uint8_t *body, size_t len);
/* Proposes an entry the leader makes on its own (no client waits for it):
 * [header | body] with `method`.  0 or a RAFT_E* code. */
int srv_kv_propose_internal(struct srv *s, uint16_t method,
                            const uint8_t *body, size_t len);
/* Proposes a client write [header | body] with `method` and parks c until
 * it applies (srv_kv_apply answers it); forwards or answers NOT_LEADER on a
 * follower.  True when parked or forwarded, false when answered at once. */
bool srv_kv_propose(struct srv *s, struct srv_conn *c, uint16_t method,
                    uint64_t request_id, const uint8_t *body, size_t len);

/* ---- reads.c ----------------------------------------------------------- */

/* Allocates the table of parked reads (server.max_pending_reads).  0 or a
 * LEASE_E* code (logged). */
int srv_reads_init(struct srv *s);
/* Frees it (every read must have been answered: srv_node_fail_all). */
void srv_reads_close(struct srv *s);
/*
 * Parks read w (w->path set, and w->index for FAST and SERIALIZABLE reads)
 * until it can be served: FAST and SERIALIZABLE reads wait for applied >=
 * w->index, READINDEX and FOLLOWER reads for a round first.  Called by
 * srv_node_park().  LEASE_EEXHAUSTED when server.max_pending_reads reads
 * are parked already: w is untouched and the caller answers
 * RESOURCE_EXHAUSTED.
 */
int srv_reads_park(struct srv *s, struct srv_wait *w);
/* Once per loop turn: one ReadIndex round for every read that needs one. */
void srv_reads_start_rounds(struct srv *s);
/* A ReadIndex answer from a ready batch. */
void srv_reads_on_read_state(struct srv *s, const struct raft_read_state *rs);
/* After applying: serves every read whose index has applied. */
void srv_reads_on_applied(struct srv *s);
/* Every tick: DEADLINE_EXCEEDED to reads past their deadline. */
void srv_reads_expire(struct srv *s, uint64_t now_ns);
/* The soft state changed (called before s->last_role / last_leader are
 * updated): step-down answers NOT_LEADER, a new leader gets the rounds. */
void srv_reads_soft_changed(struct srv *s, const struct raft_soft_state *soft);
/* Answers every parked read with status / msg (shutdown, failure). */
void srv_reads_fail_all(struct srv *s, int status, const char *msg);
/* Connection c closed: its parked reads, and its requests waiting for a
 * leader, are cancelled at once (nothing is sent; references released). */
void srv_node_conn_closed(struct srv *s, struct srv_conn *c);

/* ---- conn.c ------------------------------------------------------------ */

int srv_conn_listen(struct srv *s);
void srv_conn_close_listener(struct srv *s);
void srv_conn_ref(struct srv_conn *c);
void srv_conn_unref(struct srv_conn *c);
/* Queues a reply (OK with resp, or an ErrorDetail) on c; dropped when c
 * is closed.  Replies are written once per loop turn (srv_conn_flush_all). */
void srv_conn_reply(struct srv *s, struct srv_conn *c, uint16_t method,
                    uint64_t request_id, const struct srv_reply *r);
/* Queues a reply whose body is already encoded (a forward's answer). */
void srv_conn_reply_raw(struct srv *s, struct srv_conn *c, uint16_t method,
                        uint64_t request_id, bool is_error,
                        const uint8_t *body, size_t len);
/* A pseudo-connection for a request forwarded by a follower: its one reply
 * goes back through the peer transport.  Returned with one reference for
 * the request in progress; released after the reply. */
struct srv_conn *srv_conn_forwarded(struct srv *s,
                                    struct peer_forward_token *token);
/* True for the pseudo-connection of a forwarded request. */
bool srv_conn_is_forwarded(const struct srv_conn *c);
/*
 * A pseudo-connection for a request that came through another front door
 * (the HTTP/JSON API, server/http_api.c): its one reply -- the packed
 * response message, or an ErrorDetail when is_error -- is handed to cb
 * instead of being framed.  cb runs exactly once: with body NULL when the
 * request ended without a reply.  It may run inside srv_kv_dispatch().
 * Returned with one reference for the request in progress (released by
 * the dispatcher); NULL when out of memory.  `peer` names the client in
 * logs.
 */
typedef void (*srv_conn_reply_cb)(void *arg, bool is_error,
                                  const uint8_t *body, size_t len);
struct srv_conn *srv_conn_callback(struct srv *s, const char *peer,
                                   srv_conn_reply_cb cb, void *arg);
/*
 * A pseudo-connection for a stream through another front door (a watch on
 * the HTTP/JSON API): every frame the dispatcher or the watch glue queues
 * on it -- flags as in frame.h (FRAME_FLAG_ERROR, FRAME_FLAG_STREAM_END),
 * body the packed message -- is handed to ops->frame at once (body NULL
 * with FRAME_FLAG_ERROR: the server ran out of memory, the stream is
 * broken).  ops->backlog reports the bytes the owner has not written yet,
 * so that the slow-client rules of watch_glue.c apply; the owner calls
 * srv_watch_conn_drained() when that falls.  Returned with two references:
 * one for the request (released by the dispatcher), one for the owner,
 * released by srv_conn_stream_close(), which also drops the stream's
 * watchers and stops every further frame.  NULL when out of memory.
 */
struct srv_conn_stream_ops {
    void (*frame)(void *arg, uint8_t flags, const uint8_t *body, size_t len);
    size_t (*backlog)(void *arg);
};
struct srv_conn *srv_conn_stream(struct srv *s, const char *peer,
                                 const struct srv_conn_stream_ops *ops,
                                 void *arg);
void srv_conn_stream_close(struct srv_conn *c);
/* Shorthand for an error reply. */
void srv_conn_reply_error(struct srv *s, struct srv_conn *c, uint16_t method,
                          uint64_t request_id, int status, const char *msg);
/* One request of c started (srv_kv_dispatch will finish it). */
void srv_conn_request_start(struct srv_conn *c);
/* One request of c finished (for the per-connection pending limit). */
void srv_conn_request_done(struct srv_conn *c);
void srv_conn_flush_all(struct srv *s);
/* Stops reading requests from every connection (shutdown). */
void srv_conn_stop_reading_all(struct srv *s);
void srv_conn_close_all(struct srv *s);

/* Queues a reply frame with explicit flags (FRAME_FLAG_STREAM etc.) and a
 * protobuf body (an ErrorDetail when flags has FRAME_FLAG_ERROR); dropped
 * when c is closed.  Counts no request statistics. */
void srv_conn_reply_stream(struct srv_conn *c, uint16_t method,
                           uint64_t request_id, uint8_t flags,
                           const ProtobufCMessage *msg);
/* Reply bytes queued on c and not yet written (gathering + in flight). */
size_t srv_conn_backlog(const struct srv_conn *c);
/* Text naming the client ("127.0.0.1:5555"), for logs. */
const char *srv_conn_peer(const struct srv_conn *c);

/* ---- watch_glue.c ------------------------------------------------------ */

/* Numbers for /metrics. */
struct srv_watch_stats {
    uint64_t watchers;        /* live watchers (gauge) */
    uint64_t streams;         /* open watch streams (gauge) */
    uint64_t events_sent;     /* events sent in WatchResponses */
    uint64_t responses_sent;  /* WatchResponses sent */
    uint64_t slow_canceled;   /* watchers canceled as slow */
    uint64_t compact_canceled; /* watchers canceled: revision compacted */
    uint64_t refused;         /* creates refused (limit, bad request) */
    uint64_t live_revisions;  /* revisions fed to the hub by apply paths */
    uint64_t history_reads;   /* catch-up reads of the engine's history */
    uint64_t overflows;       /* live queues over their bound: resynced */
    uint64_t holds;           /* watchers held back: resync from history */
};

/* Creates the hub over s->eng and its progress timer.  After recovery. */
int srv_watch_start(struct srv *s);
/* Frees the hub and every stream (the timer is closed by the loop walk
 * of shutdown).  Before the engine is closed.  NULL-safe. */
void srv_watch_close(struct srv *s);
/* A frame with method WATCH from c: create, cancel or progress. */
void srv_watch_request(struct srv *s, struct srv_conn *c, uint64_t request_id,
                       const uint8_t *body, size_t len);
/* Call after every applied entry and snapshot install: cheap when the
 * engine revision did not move or the apply path reported its events
 * (srv_watch_*_applied()); otherwise every watcher catches up from the
 * engine's history on the next srv_watch_pump(). */
void srv_watch_applied(struct srv *s);
/* Sends what watchers have to say, as far as each connection's backlog
 * allows.  Once per loop turn, before replies are flushed. */
void srv_watch_pump(struct srv *s);
/* Connection hooks (conn.c): it drained below its backlog bound; it
 * closed (its watchers are dropped without responses). */
void srv_watch_conn_drained(struct srv *s, struct srv_conn *c);
void srv_watch_conn_closed(struct srv *s, struct srv_conn *c);
void srv_watch_get_stats(const struct srv *s, struct srv_watch_stats *out);
/*
 * Live events (server.watch_live_events): the apply paths hand the hub the
 * events of the revision they just wrote, so that caught-up watchers take
 * them from memory instead of reading history.  Only an optimisation: a
 * revision that is never reported (any other path) reaches watchers
 * through history.  srv_watch_wants_events() says whether to build them;
 * when true, the engine request must have asked for prev_kv (a put's
 * create revision and version, a delete's keys come from it): a request
 * without it is simply not reported.  Call right after the engine write,
 * while its request and result memory are valid; never fails.
 */
bool srv_watch_wants_events(const struct srv *s);
void srv_watch_put_applied(struct srv *s, const struct engine_put_req *q,
                           const struct engine_put_result *r);
void srv_watch_delete_applied(struct srv *s, const struct engine_delete_req *q,
                              const struct engine_delete_result *r);
/* ops: the branch that ran (res->succeeded ? success : failure). */
void srv_watch_txn_applied(struct srv *s, const struct engine_op *ops,
                           const struct engine_txn_result *r);

/* Fills a ResponseHeader for this node. */
struct Metastore__ResponseHeader;
void srv_fill_header(struct srv *s, struct Metastore__ResponseHeader *h);

#endif /* METASTORE_SERVER_SERVER_H */
