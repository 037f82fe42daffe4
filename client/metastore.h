/*
 * metastore.h - the C client library of MetaStore-C (libmetastore).
 *
 * A synchronous, blocking client: each call sends one request frame to a
 * server, waits for the response with the same request id (poll() with the
 * command timeout) and hands back the decoded response as plain C structs.
 * No threads, no event loop; one struct ms_client must not be used by two
 * threads at once (open one client per thread).
 *
 * Endpoints are "host:port" strings ("127.0.0.1:2379", "[::1]:2379",
 * "node1:2379"; an "http://" prefix is accepted and ignored).  The client
 * talks to one endpoint at a time:
 *   - ms_client_open() connects to the first endpoint that answers;
 *   - a NOT_LEADER answer that names the leader's address makes the client
 *     reconnect there and send the request again (a bounded number of times);
 *   - when the connection fails, idempotent requests (Range, Status, Ping,
 *     MemberList, Fault) are retried on the next endpoint; writes (Put,
 *     DeleteRange, Txn, Compact, the membership changes, MoveLeader) are
 *     retried only when the failure happened before any byte of the request
 *     was sent, since otherwise the server may have applied it.
 *
 * Errors: every int function returns 0 on success and a negative code on
 * failure: one of the MS_E* codes below, or -errno for a system error that
 * has no better name.  ms_strerror() describes any of them.  When the server
 * answered with a non-OK status, the call returns the matching MS_E* code and
 * ALSO hands back a result whose `status` and `message` carry the server's
 * status code and text (the caller frees it as usual).  When no response was
 * received, *out is NULL and ms_client_errmsg() tells what happened.
 *
 * Byte strings (keys, values) are (pointer, length) pairs and may contain any
 * byte.  Results own their memory: everything reachable from a struct
 * ms_result is valid until ms_result_free().
 */
#ifndef METASTORE_CLIENT_H
#define METASTORE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_CLIENT_VERSION             "0.1.0"
#define MS_DEFAULT_PORT               2379
#define MS_DEFAULT_DIAL_TIMEOUT_MS    2000
#define MS_DEFAULT_COMMAND_TIMEOUT_MS 5000

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Domain error codes.  They live far below any errno value, so -errno codes
 * passed through from the system never collide with them. */
#define MS_ERRORS(X)                                                           \
    X(MS_EINVAL, -10001, "invalid argument")                                   \
    X(MS_ENOTFOUND, -10002, "not found")                                       \
    X(MS_EPRECONDITION, -10003, "failed precondition")                         \
    X(MS_ENOTLEADER, -10004, "not leader")                                     \
    X(MS_EUNAVAILABLE, -10005, "service unavailable")                          \
    X(MS_ETIMEDOUT, -10006, "deadline exceeded")                               \
    X(MS_EEXHAUSTED, -10007, "resource exhausted")                             \
    X(MS_EUNIMPLEMENTED, -10008, "not implemented by the server")              \
    X(MS_EINTERNAL, -10009, "internal server error")                           \
    X(MS_EPROTO, -10010, "protocol error: malformed frame or response")        \
    X(MS_ENOENDPOINT, -10011, "no endpoint could be reached")                  \
    X(MS_ESERVER, -10012, "server error")                                      \
    X(MS_ENOMEM, -10013, "out of memory")                                      \
    X(MS_ECOMPACTED, -10014, "required revision has been compacted")           \
    X(MS_ETOOBIG, -10015, "request or response larger than the frame limit")   \
    X(MS_ECLOSED, -10016, "connection closed by the server")                   \
    X(MS_EDENIED, -10017, "permission denied by the server")                      \
    X(MS_EUNAUTHENTICATED, -10018, "authentication required or failed")       \
    X(MS_ETLS, -10030, "TLS handshake or certificate verification failed")

enum ms_error {
#define MS__ERR_ENUM(name, value, text) name = value,
    MS_ERRORS(MS__ERR_ENUM)
#undef MS__ERR_ENUM
};

/* A description of `code` (an MS_E* code or a -errno).  Never NULL. */
const char *ms_strerror(int code);
/* The symbolic name ("MS_ETIMEDOUT", "ECONNREFUSED"...).  Never NULL. */
const char *ms_err_name(int code);

/* Status codes the server puts in every response: the enum StatusCode of
 * proto/metastore.proto (gRPC's numbers; NOT_LEADER and COMPACTED are
 * MetaStore's own).  See docs/protocol.md. */
enum ms_status_code {
    MS_STATUS_OK = 0,
    MS_STATUS_INVALID_ARGUMENT = 3,
    MS_STATUS_DEADLINE_EXCEEDED = 4,
    MS_STATUS_NOT_FOUND = 5,
    MS_STATUS_PERMISSION_DENIED = 7,
    MS_STATUS_RESOURCE_EXHAUSTED = 8,
    MS_STATUS_FAILED_PRECONDITION = 9,
    MS_STATUS_UNIMPLEMENTED = 12,
    MS_STATUS_INTERNAL = 13,
    MS_STATUS_UNAVAILABLE = 14,
    MS_STATUS_UNAUTHENTICATED = 16,
    MS_STATUS_NOT_LEADER = 100,
    MS_STATUS_COMPACTED = 101,
};

/* "NOT_LEADER" for MS_STATUS_NOT_LEADER, "UNKNOWN" otherwise.  Never NULL. */
const char *ms_status_name(int status);

/* Maps a server status code to the MS_E* code a call returns (0 for OK). */
int ms_status_to_error(int status);

/* ------------------------------------------------------------------ */
/* Endpoints                                                           */
/* ------------------------------------------------------------------ */

/* Splits "host:port" (also "[v6]:port", "host" -> MS_DEFAULT_PORT, an
 * optional "http://" prefix) into host (without brackets, NUL-terminated,
 * at most host_size-1 bytes) and port.  Returns 0 or MS_EINVAL. */
int ms_endpoint_parse(const char *endpoint, char *host, size_t host_size,
                      uint16_t *port);

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

struct ms_client;

/*
 * TLS for every connection of a client (etcdctl's --cacert, --cert, --key,
 * --insecure-skip-tls-verify).  Paths are copied by ms_client_create();
 * the files are loaded on the first connect, and a problem with them (not
 * readable, not PEM, key not matching) fails that connect with MS_EINVAL
 * and ms_client_errmsg() naming the file.  The server certificate must
 * chain to ca_file (or to the system CAs when ca_file is NULL) and name
 * the endpoint's host (a DNS or IP subjectAltName).  A certificate
 * problem fails the call with MS_ETLS (or MS_ENOENDPOINT when no endpoint
 * could be reached), the reason in ms_client_errmsg().
 */
struct ms_tls_options {
    const char *ca_file;   /* PEM CA bundle; NULL: the system's CAs */
    const char *cert_file; /* client certificate (PEM); NULL: none */
    const char *key_file;  /* its private key (PEM); with cert_file */
    bool insecure_skip_verify; /* accept any server certificate (tests) */
};

struct ms_client_options {
    uint32_t dial_timeout_ms;    /* per connection attempt; 0 = default */
    uint32_t command_timeout_ms; /* per call, all retries included; 0 = def. */
    uint32_t max_redirects;      /* NOT_LEADER redirects per call; 0 = 3 */
    /* NULL: plain TCP.  Borrowed for the ms_client_create/open call. */
    const struct ms_tls_options *tls;
    /* Authentication (docs/security.md): with user set, every connection
     * the client makes (first connect, reconnects, redirects) starts with
     * an Authenticate as this user, so the identity survives fail-over.
     * Copied by ms_client_create().  NULL user: no authentication. */
    const char *user;
    const char *password;
};

/*
 * Copies the endpoint list (the caller keeps its strings), then connects to
 * the first endpoint that accepts a TCP connection within the dial timeout.
 * opts may be NULL for defaults.  On success *out is a client to pass to
 * ms_client_close().  Errors: MS_EINVAL (no endpoints, a malformed one),
 * MS_ENOENDPOINT (none reachable), MS_ENOMEM.
 */
int ms_client_open(const char *const *endpoints, size_t n,
                   const struct ms_client_options *opts,
                   struct ms_client **out);
/*
 * Like ms_client_open() but does not connect: the first call connects (and
 * its failure, with ms_client_errmsg(), says why no endpoint answered).
 * Errors: MS_EINVAL, MS_ENOMEM.
 */
int ms_client_create(const char *const *endpoints, size_t n,
                     const struct ms_client_options *opts,
                     struct ms_client **out);
/* Closes the connection and frees the client.  NULL is a no-op. */
void ms_client_close(struct ms_client *c);

/* The endpoint the client is connected to now ("" when disconnected); valid
 * until the next call on c. */
const char *ms_client_endpoint(const struct ms_client *c);
/* A sentence about the last failure on c (local or the server's message);
 * "" after a success.  Valid until the next call on c. */
const char *ms_client_errmsg(const struct ms_client *c);

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

enum ms_sort_order { MS_SORT_NONE = 0, MS_SORT_ASCEND, MS_SORT_DESCEND };
enum ms_sort_target {
    MS_SORT_KEY = 0,
    MS_SORT_VERSION,
    MS_SORT_CREATE,
    MS_SORT_MOD,
    MS_SORT_VALUE,
};
enum ms_consistency {
    MS_CONSISTENCY_LINEARIZABLE = 0,
    MS_CONSISTENCY_SERIALIZABLE,
};

/*
 * Which keys a Range or DeleteRange covers, as in etcd:
 *   range_end_len == 0 and !prefix and !from_key: the single key;
 *   prefix: every key starting with key (range_end is ignored);
 *   from_key: every key >= key (range_end is ignored);
 *   otherwise [key, range_end).
 * Zero-initialise (`= {0}`) for "one key, latest revision, linearizable".
 */
struct ms_range_options {
    const void *range_end;
    size_t range_end_len;
    bool prefix;
    bool from_key;
    int64_t limit;    /* 0 = no limit */
    int64_t revision; /* 0 = latest */
    bool keys_only;
    bool count_only;
    enum ms_sort_order sort_order;
    enum ms_sort_target sort_target;
    enum ms_consistency consistency;
};

/* Computes etcd's range end for a prefix: the key with its last byte that is
 * not 0xff incremented and everything after it dropped; "\0" (from key) when
 * the key is empty or all 0xff.  *end must be freed with free(). */
int ms_prefix_range_end(const void *key, size_t key_len, uint8_t **end,
                        size_t *end_len);

enum ms_compare_target {
    MS_CMP_VERSION = 0,
    MS_CMP_CREATE,
    MS_CMP_MOD,
    MS_CMP_VALUE,
    MS_CMP_LEASE,
};
enum ms_compare_op {
    MS_CMP_EQUAL = 0,
    MS_CMP_GREATER,
    MS_CMP_LESS,
    MS_CMP_NOT_EQUAL,
};

/* One Txn condition: target(key) op operand. */
struct ms_compare {
    enum ms_compare_target target;
    enum ms_compare_op op;
    const void *key;
    size_t key_len;
    const void *range_end; /* optional, compares every key in the range */
    size_t range_end_len;
    int64_t number;    /* version, create/mod revision or lease id */
    const void *value; /* MS_CMP_VALUE */
    size_t value_len;
};

enum ms_op_type { MS_OP_RANGE = 0, MS_OP_PUT, MS_OP_DELETE };

/* One Txn request: get (range options), put (value, lease, prev_kv) or
 * delete (range options, prev_kv). */
struct ms_op {
    enum ms_op_type type;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    int64_t lease;
    bool prev_kv;
    struct ms_range_options range;
};

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */

/* The header every response carries (etcd's ResponseHeader plus the
 * server's applied index, for monotonic reads across servers). */
struct ms_header {
    uint64_t cluster_id;
    uint64_t member_id;
    int64_t revision;
    uint64_t raft_term;
    uint64_t applied_index;
};

struct ms_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
};

struct ms_range_result {
    struct ms_kv *kvs;
    size_t n_kvs;
    bool more;
    int64_t count;
};

struct ms_put_result {
    bool has_prev_kv;
    struct ms_kv prev_kv;
};

struct ms_delete_result {
    int64_t deleted;
    struct ms_kv *prev_kvs;
    size_t n_prev_kvs;
};

/* One response inside a Txn result, in the order of the requests. */
struct ms_op_result {
    enum ms_op_type type;
    struct ms_header header; /* etcd fills it with the txn's revision */
    struct ms_range_result range;
    struct ms_put_result put;
    struct ms_delete_result del;
};

struct ms_txn_result {
    bool succeeded;
    struct ms_op_result *responses;
    size_t n_responses;
};

struct ms_compact_result {
    int64_t revision; /* the revision compacted to (the request's) */
};

/* Latency of one read path on a server, in microseconds. */
struct ms_path_latency {
    char path[16]; /* "fast", "readindex", "follower", "serializable", "log" */
    uint64_t count;
    uint64_t p50_us, p90_us, p99_us, p999_us, max_us;
};

#define MS_MAX_READ_PATHS 8

/* Read-path counters of a server since it started, and its leader lease. */
struct ms_read_stats {
    uint64_t lease_reads;
    uint64_t read_index_reads;
    uint64_t follower_reads;
    uint64_t forwarded;
    uint64_t serializable_reads;
    uint64_t log_reads;
    uint64_t lease_renewals;
    uint64_t lease_expirations;
    bool lease_valid;
    uint64_t lease_remaining_us;
    uint64_t lease_revocations;
    uint64_t lease_last_renew_ago_us; /* 0: never renewed */
    uint64_t read_index_rounds;
    uint64_t apply_waits;
    uint64_t read_timeouts;
    uint64_t lease_answered_follower;
    uint64_t pending_reads;   /* parked now (server.max_pending_reads) */
    uint64_t rejected_reads;  /* answered RESOURCE_EXHAUSTED: too many parked */
    uint64_t cancelled_reads; /* dropped: their connection closed */
    uint64_t read_index_round_reads; /* reads carried by read_index_rounds */
    size_t n_latency;
    struct ms_path_latency latency[MS_MAX_READ_PATHS];
};

struct ms_status_result {
    const char *version; /* server version, never NULL */
    const char *engine;  /* "memory" or "rocksdb" */
    const char *role;    /* "follower", "candidate", "leader", ... */
    uint64_t member_id;
    uint64_t leader; /* leader's member id, 0 = none known */
    uint64_t raft_term;
    uint64_t raft_index; /* last log index */
    uint64_t commit_index;
    uint64_t raft_applied_index;
    int64_t revision;
    int64_t compact_revision;
    int64_t db_size;
    uint64_t key_count; /* live keys */
    bool is_learner;
    const char *const *errors; /* the server's alarms */
    size_t n_errors;
    struct ms_read_stats read_stats;
};

/* One member of the cluster, as the server's member table has it.  The
 * strings are never NULL ("" when unknown: a member added without a client
 * address has client_addr ""). */
struct ms_member {
    uint64_t id;
    const char *name;
    const char *peer_addr;   /* "host:port" other members reach it on */
    const char *client_addr; /* "host:port" clients reach it on, or "" */
    bool is_learner;         /* a non-voting member (see ms_member_promote) */
};

/* What the membership calls return.  `members` is the whole membership
 * after the change (MemberList: as the answering server knows it, in its
 * table order).  `added` is set by MemberAdd only: the new member, with the
 * id the server chose (id 0 if the server did not name it). */
struct ms_members_result {
    struct ms_member added;
    struct ms_member *members;
    size_t n_members;
};

enum ms_result_type {
    MS_RESULT_RANGE = 0,
    MS_RESULT_PUT,
    MS_RESULT_DELETE,
    MS_RESULT_TXN,
    MS_RESULT_COMPACT,
    MS_RESULT_STATUS,
    MS_RESULT_PING,
    MS_RESULT_MEMBER_LIST,
    MS_RESULT_MEMBER_ADD,
    MS_RESULT_MEMBER_REMOVE,
    MS_RESULT_MEMBER_PROMOTE,
    MS_RESULT_MOVE_LEADER,
    MS_RESULT_FAULT,
};

/* What one call returns.  `status` is MS_STATUS_OK on success; otherwise the
 * server's status code, with its text in `message` and, for NOT_LEADER, the
 * leader the server named.  Only the member of the union-like fields that
 * matches `type` is meaningful. */
struct ms_result {
    enum ms_result_type type;
    int status;               /* enum ms_status_code */
    const char *message;      /* never NULL ("" on success) */
    uint64_t leader_id;       /* NOT_LEADER: the leader's id, 0 = unknown */
    const char *leader_addr;  /* NOT_LEADER: "host:port" or "" */
    int64_t compact_revision; /* COMPACTED: oldest revision still there */
    struct ms_header header;
    struct ms_range_result range;
    struct ms_put_result put;
    struct ms_delete_result del;
    struct ms_txn_result txn;
    struct ms_compact_result compact;
    struct ms_status_result status_info;
    struct ms_members_result members; /* the MS_RESULT_MEMBER_* types */
    uint64_t took_ns; /* time from sending the request to the answer */
};

/* Frees a result and everything it owns.  NULL is a no-op. */
void ms_result_free(struct ms_result *r);

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */
/*
 * Every call: returns 0 and sets *out to a result on success; returns the
 * mapped MS_E* code and sets *out to a result carrying the server's status
 * when the server said no; returns a negative code with *out = NULL when no
 * answer came (MS_ETIMEDOUT, MS_ENOENDPOINT, MS_EPROTO, MS_ECLOSED...).
 */

/* Put key = value.  lease 0 = none; prev_kv asks for the previous pair. */
int ms_put(struct ms_client *c, const void *key, size_t key_len,
           const void *value, size_t value_len, int64_t lease, bool prev_kv,
           struct ms_result **out);

/* Range.  opts may be NULL (one key, linearizable). */
int ms_get(struct ms_client *c, const void *key, size_t key_len,
           const struct ms_range_options *opts, struct ms_result **out);

/* DeleteRange over the keys opts describes (only range_end, prefix and
 * from_key are used; NULL = the single key); prev_kv returns the deleted
 * pairs. */
int ms_delete(struct ms_client *c, const void *key, size_t key_len,
              const struct ms_range_options *opts, bool prev_kv,
              struct ms_result **out);

/* Txn: if every compare holds, run `success`, else `failure`.  Nested
 * transactions are not supported. */
int ms_txn(struct ms_client *c, const struct ms_compare *compares,
           size_t n_compares, const struct ms_op *success, size_t n_success,
           const struct ms_op *failure, size_t n_failure,
           struct ms_result **out);

/* Compacts the key-value history up to `revision`; physical asks the server
 * to wait until the compaction is on disk. */
int ms_compact(struct ms_client *c, int64_t revision, bool physical,
               struct ms_result **out);

/* Status of the member the client is connected to. */
int ms_status(struct ms_client *c, struct ms_result **out);

/* A round trip that touches neither Raft nor storage. */
int ms_ping(struct ms_client *c, struct ms_result **out);

/* ------------------------------------------------------------------ */
/* Cluster membership and operator calls                               */
/* ------------------------------------------------------------------ */
/*
 * Membership changes (add, remove, promote) and MoveLeader must reach the
 * leader: a follower answers NOT_LEADER with the leader's client address and
 * the client follows it (ms_client_options.max_redirects), so any member's
 * endpoint will do.  A change is answered once the configuration entry is
 * committed and applied on the leader.  One change at a time: while one is
 * in flight (or just after an election) the server answers
 * FAILED_PRECONDITION (MS_EPRECONDITION) "another membership change is still
 * in progress"; retry after a moment.  On success result->members.members is
 * the membership after the change.
 */

/* The members of the cluster, as the server the client is connected to knows
 * them (answered locally, no Raft round; idempotent). */
int ms_member_list(struct ms_client *c, struct ms_result **out);

/*
 * Adds a member: `name` (required), `peer_addr` "host:port" the other
 * members will reach it on (an "http://" prefix is accepted and dropped),
 * `client_addr` "host:port" for clients (NULL or "" = none; needed for
 * `endpoint status --cluster` and NOT_LEADER redirects to it), and
 * `is_learner` to add it as a non-voting learner (promote it once it has
 * caught up).  The server chooses the id: result->members.added.id.  The
 * new process is then started with --join (see docs/cli.md, member add).
 * Errors: MS_EINVAL (local check: empty name, malformed address),
 * MS_EPRECONDITION (a member with that peer address exists, a change in
 * progress), the usual ones.
 */
int ms_member_add(struct ms_client *c, const char *name, const char *peer_addr,
                  const char *client_addr, bool is_learner,
                  struct ms_result **out);

/* Removes member `id` (a voter or a learner; removing the leader makes it
 * step down once the change commits).  MS_ENOTFOUND for an unknown id. */
int ms_member_remove(struct ms_client *c, uint64_t id, struct ms_result **out);

/* Makes learner `id` a voter.  MS_EPRECONDITION when it is not a learner or
 * has not caught up with the leader's log yet (retry later); MS_ENOTFOUND
 * for an unknown id. */
int ms_member_promote(struct ms_client *c, uint64_t id, struct ms_result **out);

/* Transfers leadership to voter `target_id` (Raft's TimeoutNow) and waits
 * until the target leads or the transfer is abandoned (then MS_ETIMEDOUT or
 * the server's error).  A no-op when the target already leads.  The answer
 * comes from the former leader: result->header.member_id is its id. */
int ms_move_leader(struct ms_client *c, uint64_t target_id,
                   struct ms_result **out);

/* Fault hook actions; the numbers are FaultRequest.Action's. */
enum ms_fault_action {
    MS_FAULT_DROP_PEER = 1, /* drop all traffic to and from peer_id */
    MS_FAULT_HEAL_PEER = 2, /* undo MS_FAULT_DROP_PEER for peer_id */
    MS_FAULT_HEAL_ALL = 3,  /* undo every drop (peer_id ignored) */
    MS_FAULT_PAUSE_APPLY = 4,
    MS_FAULT_RESUME_APPLY = 5,
};

/*
 * TEST-ONLY fault injection on the ONE node the client is connected to (not
 * redirected): drop or heal that node's traffic with a peer.  The server
 * refuses it with PERMISSION_DENIED (MS_EDENIED) unless it runs with
 * server.enable_fault_hook: true, and answers UNIMPLEMENTED
 * (MS_EUNIMPLEMENTED) for an action it does not support (today PAUSE_APPLY
 * and RESUME_APPLY).  To cut a link both ways, drop it on both ends.
 * Open the client with that node's endpoint only.
 */
int ms_fault(struct ms_client *c, enum ms_fault_action action, uint64_t peer_id,
             struct ms_result **out);

/* ------------------------------------------------------------------ */
/* Watch (client/watch.c)                                              */
/* ------------------------------------------------------------------ */

enum ms_event_type { MS_EVENT_PUT = 0, MS_EVENT_DELETE = 1 };

/* One change.  PUT: kv is the key as written.  DELETE: kv has the key and
 * mod_revision = the revision of the delete (no value).  has_prev_kv: the
 * key just before the change (only with ms_watch_options.prev_kv, and only
 * when the key existed). */
struct ms_event {
    enum ms_event_type type;
    struct ms_kv kv;
    bool has_prev_kv;
    struct ms_kv prev_kv;
};

/* One WatchResponse, as handed to the callback.  Everything it points to
 * is valid only during the callback: copy what you keep. */
struct ms_watch_response {
    struct ms_header header; /* header.revision: the serving node's revision */
    int64_t watch_id;
    bool created;  /* the watch was (re)established; no events */
    bool canceled; /* the server ended the watch (see ms_watch's return) */
    bool progress; /* no events: everything up to header.revision was seen */
    int64_t compact_revision; /* canceled by compaction */
    const char *cancel_reason; /* never NULL */
    const struct ms_event *events; /* n_events, in revision order */
    size_t n_events;
};

/*
 * What to watch.  Key selection as ms_range_options: key alone (range_end
 * NULL, prefix false) = one key; prefix = every key starting with key;
 * from_key = every key >= key; else [key, range_end).  Zero-initialise.
 */
struct ms_watch_options {
    const void *key;
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    bool prefix;
    bool from_key;
    int64_t start_revision; /* 0 = changes after the watch starts */
    bool prev_kv;           /* fill ms_event.prev_kv */
    bool no_put;            /* do not deliver PUT events */
    bool no_delete;         /* do not deliver DELETE events */
    bool progress_notify;   /* periodic progress responses while idle */
    /* Silence on the stream before ms_watch probes the node (a progress
     * request); no answer within as long again and it resumes on another
     * endpoint.  Finds a stopped node or a broken path that did not close
     * the connection.  0 = 10000 ms. */
    uint32_t keepalive_ms;
};

/* Called for each response; return 0 to go on, nonzero to stop watching
 * (ms_watch() then returns 0). */
typedef int (*ms_watch_cb)(void *arg, const struct ms_watch_response *r);

/*
 * Watches a key or range and calls cb for each response, blocking the
 * calling thread, until cb returns nonzero, the time is up, or an error
 * the watch cannot recover from.
 *
 * Guarantees: every change to a watched key at a revision >= the start
 * revision is delivered exactly once, in revision order (all events of
 * one revision -- one txn -- in one response), including across failures:
 * when the connection breaks, the node restarts or the server cancels the
 * watch as slow, ms_watch reconnects (any endpoint, starting with the next
 * one; retrying until the time is up) and resumes from the revision after
 * the last one it delivered; also when a node stops answering for two
 * keepalive periods (keepalive_ms) without closing the connection.  The
 * callback sees `created` only once, for the first watch; it sees progress
 * responses only when progress_notify is set, or with timeout_ms 0.
 *
 * timeout_ms: -1 = no limit; > 0 = return MS_ETIMEDOUT when that much
 * time has passed (reconnects included); 0 = deliver what has already
 * happened (everything from start_revision up to the revision the server
 * is at when the watch starts) and return 0.
 *
 * Returns 0 (cb asked to stop, or timeout_ms 0 caught up), MS_ETIMEDOUT,
 * MS_ECOMPACTED (start_revision, or the revision to resume from, is
 * compacted: re-read the state and watch again from a newer revision; the
 * callback got the canceled response with compact_revision first),
 * MS_EINVAL (bad options), MS_EEXHAUSTED (the server refused the watch:
 * server.max_watchers), or another code when the server refused it.
 *
 * Example, "wait until key K is deleted, at most 10 s" (start from the
 * revision of a Range that saw K, plus one, so a delete just after that
 * read is not missed):
 *
 *     static int on_resp(void *arg, const struct ms_watch_response *r) {
 *         for (size_t i = 0; i < r->n_events; i++)
 *             if (r->events[i].type == MS_EVENT_DELETE) return 1;
 *         return 0;
 *     }
 *     struct ms_watch_options o = {.key = "K", .key_len = 1,
 *                                  .start_revision = rev + 1};
 *     int rc = ms_watch(c, &o, 10000, on_resp, NULL);
 *     // rc == 0: deleted; MS_ETIMEDOUT: still there after 10 s
 *
 * The watch uses the client's connection for its whole duration; other
 * calls on c must wait until ms_watch returns.
 */
int ms_watch(struct ms_client *c, const struct ms_watch_options *o,
             int timeout_ms, ms_watch_cb cb, void *arg);

/* ------------------------------------------------------------------ */
/* TTL leases (etcd v3's Lease service; docs/api.md "TTL leases")      */
/* ------------------------------------------------------------------ */
/*
 * A lease has an id and a TTL in seconds.  Keys put with the lease's id
 * (ms_put's `lease`) are deleted when the lease is revoked or expires; it
 * expires when no KeepAlive reached the leader for a whole TTL.  Every
 * lease call is answered by the leader: a follower forwards it or answers
 * NOT_LEADER, which the client follows.  Return codes as for the other
 * calls (0, or an MS_E* code with ms_client_errmsg() saying why).
 */

/* Grants a lease of `ttl_s` seconds (raised to the server's minimum).
 * id 0 lets the server pick the id.  *id_out and *ttl_out (may be NULL)
 * receive the lease id and the TTL granted.  MS_EPRECONDITION: the id is
 * taken; MS_EEXHAUSTED: too many leases; MS_EINVAL: TTL too large. */
int ms_lease_grant(struct ms_client *c, int64_t ttl_s, int64_t id,
                   int64_t *id_out, int64_t *ttl_out);

/* Revokes lease `id`, deleting every key attached to it (one revision).
 * MS_ENOTFOUND: no such lease. */
int ms_lease_revoke(struct ms_client *c, int64_t id);

/* One KeepAlive: the lease's TTL starts again from now.  *ttl_out (may be
 * NULL) receives the granted TTL.  MS_ENOTFOUND: the lease is gone
 * (expired or revoked). */
int ms_lease_keepalive_once(struct ms_client *c, int64_t id, int64_t *ttl_out);

/* TimeToLive: remaining seconds (rounded down), the granted TTL and, with
 * want_keys, the attached keys (sorted).  Free with ms_lease_info_free().
 * MS_ENOTFOUND when the lease does not exist (*out then NULL). */
struct ms_lease_key {
    uint8_t *key;
    size_t len;
};
struct ms_lease_info {
    int64_t id;
    int64_t ttl_s;         /* remaining */
    int64_t granted_ttl_s;
    struct ms_lease_key *keys;
    size_t n_keys;
};
int ms_lease_time_to_live(struct ms_client *c, int64_t id, bool want_keys,
                          struct ms_lease_info **out);
void ms_lease_info_free(struct ms_lease_info *info);

/* Every lease id, ascending, into a malloc'd array (*ids, free() it; NULL
 * when there are none). */
int ms_lease_leases(struct ms_client *c, int64_t **ids, size_t *n);

/*
 * Keep-alive handled for the caller: a background thread with its own
 * connection to `endpoints` renews lease `lease_id` every TTL/3.  If the
 * lease is gone (revoked or expired) or no renewal succeeded for a whole
 * TTL, the lease counts as lost: ms_keepalive_lost() turns true and `cb`
 * (may be NULL) is called once from the background thread with the reason
 * (MS_ENOTFOUND, or the last error).  cb is also called with err 0 after
 * each renewal.  Each renewal may take at most 1 s; after a failed one the
 * next endpoint is tried first (a paused server still accepts connections).
 * Stop with ms_keepalive_stop(), which joins the thread and frees *out; it
 * never revokes the lease.
 * Errors: MS_EINVAL, MS_ENOMEM, or -errno if the thread cannot start.
 */
typedef void (*ms_keepalive_cb)(void *arg, int64_t lease_id, int64_t ttl_s,
                                int err);
struct ms_keepalive;
int ms_keepalive_start(const char *const *endpoints, size_t n,
                       int64_t lease_id, ms_keepalive_cb cb, void *arg,
                       struct ms_keepalive **out);
/* The same through TLS (tls NULL: plain TCP, as ms_keepalive_start); the
 * options are copied. */
int ms_keepalive_start_tls(const char *const *endpoints, size_t n,
                           const struct ms_tls_options *tls, int64_t lease_id,
                           ms_keepalive_cb cb, void *arg,
                           struct ms_keepalive **out);
bool ms_keepalive_lost(struct ms_keepalive *k);
/* Renewals that succeeded so far. */
uint64_t ms_keepalive_renewals(struct ms_keepalive *k);
void ms_keepalive_stop(struct ms_keepalive *k);
/* The same, for servers with authentication: the keep-alive's connections
 * authenticate as `user` (copied; NULL: none). */
int ms_keepalive_start_auth(const char *const *endpoints, size_t n,
                            const char *user, const char *password,
                            int64_t lease_id, ms_keepalive_cb cb, void *arg,
                            struct ms_keepalive **out);
/* Both: TLS (NULL: plain TCP) and credentials (NULL user: none); all
 * copied. */
int ms_keepalive_start_with(const char *const *endpoints, size_t n,
                            const char *user, const char *password,
                            const struct ms_tls_options *tls, int64_t lease_id,
                            ms_keepalive_cb cb, void *arg,
                            struct ms_keepalive **out);

/* ------------------------------------------------------------------ */
/* Authentication and authorization (etcd v3's Auth service)          */
/* ------------------------------------------------------------------ */
/*
 * docs/security.md has the model.  Each call returns 0 or an MS_E* code
 * with the server's message in ms_client_errmsg(): MS_EUNAUTHENTICATED
 * (no or wrong credentials), MS_EDENIED (not root / no permission),
 * MS_ENOTFOUND (no such user, role or permission), MS_EPRECONDITION (exists
 * already, root rules), MS_EEXHAUSTED (too many failed authentications
 * from this address: wait).
 */

/* Authenticates the client's connection as `user` and keeps the
 * credentials so that every later connection (reconnect, fail-over,
 * redirect) authenticates too.  token (may be NULL) gets the token the
 * server issued (for front doors without connections), token_cap >= 33. */
int ms_authenticate(struct ms_client *c, const char *user,
                    const char *password, char *token, size_t token_cap);

int ms_auth_enable(struct ms_client *c);
int ms_auth_disable(struct ms_client *c);
int ms_auth_status(struct ms_client *c, bool *enabled, uint64_t *revision);

/* no_password: a user that cannot authenticate (roles only). */
int ms_user_add(struct ms_client *c, const char *name, const char *password,
                bool no_password);
int ms_user_delete(struct ms_client *c, const char *name);
int ms_user_change_password(struct ms_client *c, const char *name,
                            const char *password);
int ms_user_grant_role(struct ms_client *c, const char *user,
                       const char *role);
int ms_user_revoke_role(struct ms_client *c, const char *user,
                        const char *role);
/* Names into a malloc'd array of malloc'd strings (sorted); free with
 * ms_strings_free(). */
int ms_user_get(struct ms_client *c, const char *name, char ***roles,
                size_t *n);
int ms_user_list(struct ms_client *c, char ***users, size_t *n);
int ms_role_list(struct ms_client *c, char ***roles, size_t *n);
void ms_strings_free(char **v, size_t n);

int ms_role_add(struct ms_client *c, const char *name);
int ms_role_delete(struct ms_client *c, const char *name);

enum ms_perm_type { MS_PERM_READ = 0, MS_PERM_WRITE, MS_PERM_READWRITE };
/* [key, range_end): range_end_len 0 = the key only, "\0" (len 1) = every
 * key >= key; ms_prefix_range_end() makes a prefix's. */
struct ms_permission {
    enum ms_perm_type type;
    uint8_t *key;
    size_t key_len;
    uint8_t *range_end;
    size_t range_end_len;
};
int ms_role_get(struct ms_client *c, const char *name,
                struct ms_permission **perms, size_t *n);
void ms_permissions_free(struct ms_permission *p, size_t n);
int ms_role_grant_permission(struct ms_client *c, const char *role,
                             enum ms_perm_type type, const void *key,
                             size_t key_len, const void *range_end,
                             size_t range_end_len);
int ms_role_revoke_permission(struct ms_client *c, const char *role,
                              const void *key, size_t key_len,
                              const void *range_end, size_t range_end_len);

#endif /* METASTORE_CLIENT_H */
