/*
 * config.h - metastored's configuration: defaults, the YAML file, command
 * line overrides, and the cross-field rules that keep a cluster safe.
 *
 * Order of use (server/main.c):
 *
 *     struct srv_config cfg;
 *     srv_config_defaults(&cfg);
 *     srv_config_load_file(&cfg, path, err, sizeof err);     if --config
 *     srv_config_apply_flag(&cfg, "--node-id", "2", err, sizeof err); ...
 *     srv_config_validate(&cfg, err, sizeof err);
 *     if (srv_config_fsync_warning(&cfg)) print it loudly
 *
 * The file (configs/config.yaml documents every key; docs/configuration.md
 * too) has sections node, cluster, server, raft, storage, lease_read, log.
 * Durations are strings with units ("100ms", "1s", "2m", "1m30s"; units ns,
 * us, ms, s, m, h; whole milliseconds only) and are stored in milliseconds;
 * sizes take B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB = powers of 1000), a
 * plain integer being bytes.  Keys that are absent keep their value (the
 * default); unknown keys, duplicate keys, wrong types and bad values are
 * errors.  Every error message names where the value came from, the key and
 * what is wrong, e.g.
 *
 *   configs/config.yaml:12: raft.election_timeout: "10x" is not a duration
 *   (use e.g. 1s or 500ms)
 *
 * and srv_config_validate() names the file and line of the offending key
 * too, because the config remembers where each value came from.
 *
 * Ownership: struct srv_config holds no heap memory (fixed-size strings), so
 * it may be copied by assignment and needs no free.  Errors: 0 on success,
 * -EINVAL for a bad configuration, -errno when the file cannot be read,
 * -ENOMEM; the text is in `err` (always NUL-terminated when errlen > 0).
 */
#ifndef METASTORE_SERVER_CONFIG_H
#define METASTORE_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "server/log.h"

#define SRV_CONFIG_MAX_MEMBERS RAFT_MAX_MEMBERS
#define SRV_CONFIG_NAME_MAX    64   /* node and cluster names, incl. NUL */
#define SRV_CONFIG_ADDR_MAX    256  /* "host:port", incl. NUL */
#define SRV_CONFIG_PATH_MAX    1024 /* data_dir, incl. NUL */
#define SRV_CONFIG_MAX_KEYS    96   /* room for the per-key origin table */

enum srv_follower_writes {
    SRV_FOLLOWER_WRITES_FORWARD = 0, /* follower forwards writes to leader */
    SRV_FOLLOWER_WRITES_REDIRECT,    /* follower answers NOT_LEADER */
};

enum srv_engine {
    SRV_ENGINE_MEMORY = 0, /* in memory + WAL + snapshots */
    SRV_ENGINE_ROCKSDB,
};

enum srv_compression {
    SRV_COMPRESSION_NONE = 0,
    SRV_COMPRESSION_SNAPPY,
    SRV_COMPRESSION_LZ4,
    SRV_COMPRESSION_ZSTD,
};

enum srv_compaction_mode { /* same values as enum autocompact_mode */
    SRV_COMPACTION_OFF = 0,
    SRV_COMPACTION_PERIODIC, /* keep the revisions of the last retention */
    SRV_COMPACTION_REVISION, /* keep the last retention revisions */
};

enum srv_read_mode {
    SRV_READ_MODE_LEASE = 0, /* lease fast path, ReadIndex without lease */
    SRV_READ_MODE_READINDEX, /* always a ReadIndex round */
    SRV_READ_MODE_LOG,       /* baseline: every read goes through the log */
};

struct srv_member {
    uint64_t id;
    char name[SRV_CONFIG_NAME_MAX];
    char peer_addr[SRV_CONFIG_ADDR_MAX];   /* host:port peers dial */
    char client_addr[SRV_CONFIG_ADDR_MAX]; /* host:port clients are sent to */
    uint32_t line; /* where it was defined (0: default or command line) */
};

struct srv_config {
    struct {
        uint64_t id; /* != 0 */
        char name[SRV_CONFIG_NAME_MAX];
        char data_dir[SRV_CONFIG_PATH_MAX];
    } node;

    struct {
        char name[SRV_CONFIG_NAME_MAX];
        uint64_t cluster_id; /* 0: derived from name, see
                                srv_config_cluster_id() */
        bool join;           /* joining an existing cluster: start empty */
        /* Bootstrap membership; identical, same order, on every initial
         * member.  When neither the file nor a flag sets it, it is this
         * node alone (id, name, peer_listen, client_listen). */
        uint32_t n_members;
        struct srv_member members[SRV_CONFIG_MAX_MEMBERS];
    } cluster;

    struct {
        char client_listen[SRV_CONFIG_ADDR_MAX];
        char peer_listen[SRV_CONFIG_ADDR_MAX];
        char admin_listen[SRV_CONFIG_ADDR_MAX];
        uint64_t max_frame_bytes;      /* largest frame body accepted */
        uint64_t max_connections;      /* client connections at once */
        uint64_t max_pending_per_conn; /* requests in progress per conn */
        uint64_t max_pending_reads;    /* linearizable reads parked at once */
        uint64_t max_key_bytes;
        uint64_t max_value_bytes;
        uint64_t max_txn_ops; /* per list of a txn: compares, success ops,
                                 failure ops (as etcd's --max-txn-ops) */
        uint64_t request_timeout_ms;
        enum srv_follower_writes follower_writes;
        bool enable_fault_hook; /* test-only FAULT method */
        /* Watch (server/watch_glue.c, docs/api.md "Watch"). */
        uint64_t max_watchers;        /* per node; more: RESOURCE_EXHAUSTED */
        uint64_t watch_backlog_bytes; /* unsent watch output per connection
                                         before responses are held back */
        uint64_t watch_batch_events;  /* events per catch-up read */
        uint64_t watch_slow_timeout_ms; /* held back this long: canceled;
                                           0 = never */
        uint64_t watch_progress_interval_ms; /* idle watchers with
                                                progress_notify */
        bool watch_live_events; /* feed the hub from applied writes; false:
                                   every watcher reads history */
        /* The HTTP/JSON API (server/http_api.h): "" = off. */
        char http_listen[SRV_CONFIG_ADDR_MAX];
        uint64_t http_max_body_bytes;  /* request body accepted */
        uint64_t http_max_connections; /* HTTP connections at once */
    } server;

    struct {
        uint64_t tick_interval_ms;
        uint64_t election_timeout_ms;   /* minimum; multiple of the tick */
        uint64_t heartbeat_interval_ms; /* multiple of the tick */
        bool pre_vote;
        bool check_quorum;
        uint64_t max_inflight;
        uint64_t max_msg_bytes;
        uint64_t snapshot_entries;      /* applied entries between snapshots */
        uint64_t snapshot_keep_entries; /* entries kept behind a snapshot */
    } raft;

    struct {
        enum srv_engine engine;
        bool fsync;
        uint64_t wal_segment_bytes;
        struct {
            uint64_t block_cache_bytes;
            uint64_t write_buffer_bytes;
            enum srv_compression compression;
            uint64_t max_background_jobs;
        } rocksdb;
    } storage;

    struct {
        bool enable;
        uint64_t clock_drift_ms;
        uint64_t lease_duration_ms; /* 0: the default rule, see
                                       srv_config_lease_duration_ms() */
        enum srv_read_mode read_mode;
    } lease_read;

    struct {
        enum ms_log_level level;
        enum ms_log_format format;
    } log;

    /* TLS (docs/security.md).  Empty cert_file: that port is plain TCP.
     * Client port: cert_file, key_file, trusted_ca_file (the CAs client
     * certificates must come from), client_cert_auth (require one).  Peer
     * port: the peer_ keys; a member presents peer_cert_file both when it
     * accepts and when it dials, and checks the other side against
     * peer_trusted_ca_file in both directions. */
    struct {
        char cert_file[SRV_CONFIG_PATH_MAX];
        char key_file[SRV_CONFIG_PATH_MAX];
        char trusted_ca_file[SRV_CONFIG_PATH_MAX];
        bool client_cert_auth;
        char peer_cert_file[SRV_CONFIG_PATH_MAX];
        char peer_key_file[SRV_CONFIG_PATH_MAX];
        char peer_trusted_ca_file[SRV_CONFIG_PATH_MAX];
        bool peer_client_cert_auth;
        /* The HTTP/JSON API port (server.http_listen): its own files;
         * when http_cert_file is empty it uses the client port's TLS
         * (plain HTTP only when the client port is plain too). */
        char http_cert_file[SRV_CONFIG_PATH_MAX];
        char http_key_file[SRV_CONFIG_PATH_MAX];
        char http_trusted_ca_file[SRV_CONFIG_PATH_MAX];
        bool http_client_cert_auth;
    } tls;
    /* TTL leases (docs/api.md); the limits decide whether an applied
     * Grant succeeds, so every node must use the same values. */
    struct {
        uint64_t min_ttl_ms;   /* shorter Grant TTLs are raised to this */
        uint64_t max_ttl_ms;   /* longer ones are refused */
        uint64_t max_leases;   /* Grants past this many leases fail */
        uint64_t checkpoint_interval_ms; /* remaining TTLs replicated */
    } ttl;
    /* Users, roles and permissions (docs/security.md).  Local to each node:
     * they only shape how this node hashes and checks passwords. */
    struct {
        uint64_t password_iterations; /* PBKDF2 rounds for new passwords */
        uint64_t max_failures;  /* failed Authenticates before a lockout */
        uint64_t lockout_ms;    /* first lockout; doubles on each failure */
        uint64_t token_ttl_ms;  /* life of a token not used */
    } auth;
    /* Automatic compaction (docs/storage.md), decided by the leader.
     * retention is kept as written: a duration ("1h") for periodic, a
     * revision count ("10000") for revision; see
     * srv_config_compaction_retention(). */
    struct {
        enum srv_compaction_mode mode;
        char retention[32];
    } compaction;

    /* Where each value came from, for error messages (private to
     * config.c: file name of the last load, and per key the line, 0 for a
     * default, SRV_CONFIG_LINE_FLAG for the command line). */
    struct {
        char file[256];
        uint32_t key_line[SRV_CONFIG_MAX_KEYS];
    } origin;
};

#define SRV_CONFIG_LINE_FLAG UINT32_MAX

/* Fills *cfg with the documented defaults: a single node (id 1, "node1",
 * data_dir "./data", memory engine) whose cluster is itself. */
void srv_config_defaults(struct srv_config *cfg);

/*
 * Reads a YAML file and applies every key in it on top of *cfg.  All or
 * nothing: on error *cfg is unchanged.  -errno if the file cannot be read,
 * -EINVAL for a bad file (message in err).
 */
int srv_config_load_file(struct srv_config *cfg, const char *path, char *err,
                         size_t errlen);

/* The same for YAML text; `name` is used in messages in place of a file
 * name (e.g. "<test>"). */
int srv_config_load_string(struct srv_config *cfg, const char *yaml,
                           const char *name, char *err, size_t errlen);

/*
 * Applies one command-line override (leading dashes optional):
 *   --node-id N, --name NAME, --data-dir DIR, --listen-client ADDR,
 *   --listen-peer ADDR, --listen-admin ADDR, --log-level L, --log-format F,
 *   --engine E, --cluster-name NAME, --join [true|false] (NULL value: true),
 *   --initial-cluster ID[:NAME]=PEER_ADDR@CLIENT_ADDR,... (NAME defaults to
 *     "node<ID>"), and --set KEY=VALUE for any file key (e.g.
 *     --set raft.election_timeout=2s).
 * --config is the caller's.  -EINVAL for an unknown flag or a bad value.
 */
int srv_config_apply_flag(struct srv_config *cfg, const char *flag,
                          const char *value, char *err, size_t errlen);

/*
 * Cross-field rules (all checked, first failure reported):
 *  - node.id != 0, node.name and node.data_dir not empty;
 *  - tick_interval divides heartbeat_interval and election_timeout,
 *    heartbeat_interval < election_timeout;
 *  - initial_members: 1..SRV_CONFIG_MAX_MEMBERS entries, ids non-zero and
 *    unique, names and addresses unique, addresses host:port; this node is
 *    a member (same name) unless cluster.join;
 *  - listen addresses are host:port and distinct;
 *  - leases: lease_duration + clock_drift < election_timeout - tick_interval
 *    (a follower counts its election timeout in ticks, so it may start an
 *    election up to one tick early; a lease longer than this could outlive
 *    the leader's leadership), and the default rule must leave a positive
 *    lease; read_mode lease needs lease_read.enable;
 *  - TLS: cert and key files given together; client_cert_auth needs
 *    cert, key and trusted CA; peer TLS needs peer_trusted_ca_file (a
 *    dialing member always verifies the member it reaches).  Whether the
 *    files can be read and the key matches is checked at start-up
 *    (server/tls.h), not here;
 *  - sizes and counts within sane ranges; max_key + max_value fit in a
 *    frame; raft.max_msg_bytes >= server.max_frame_bytes (a proposal must
 *    fit in a Raft message).
 */
int srv_config_validate(const struct srv_config *cfg, char *err, size_t errlen);

/* A loud warning for the log when fsync is off (acknowledged writes can be
 * lost on power failure), NULL when it is on. */
const char *srv_config_fsync_warning(const struct srv_config *cfg);

/* The lease length the server uses: lease_read.lease_duration if set, else
 * min(election_timeout / 2, 3 * heartbeat_interval) - clock_drift (0 if that
 * is not positive; validate() refuses such a config). */
uint64_t srv_config_lease_duration_ms(const struct srv_config *cfg);

/* compaction.retention as a number: milliseconds in periodic mode, a
 * revision count in revision mode, 0 when off.  The config must be valid. */
uint64_t srv_config_compaction_retention(const struct srv_config *cfg);

/* cluster.cluster_id, or when 0 a non-zero 64-bit FNV-1a hash of
 * cluster.name, so nodes configured with the same name agree. */
uint64_t srv_config_cluster_id(const struct srv_config *cfg);

/* Election timeout and heartbeat interval in ticks (for struct
 * raft_config); meaningful after validate() succeeded. */
unsigned srv_config_election_ticks(const struct srv_config *cfg);
unsigned srv_config_heartbeat_ticks(const struct srv_config *cfg);

/* The member with that id in initial_members, or NULL. */
const struct srv_member *srv_config_member(const struct srv_config *cfg,
                                           uint64_t id);

/*
 * Splits "host:port" or "[v6addr]:port" into host (brackets removed) and
 * port.  -EINVAL if malformed (no port, port not 0..65535, empty host, host
 * longer than hostlen - 1).
 */
int srv_addr_split(const char *addr, char *host, size_t hostlen,
                   uint16_t *port);

/*
 * Writes the whole configuration as YAML that srv_config_load_string()
 * reads back to the same values (for `metastored --print-config`).
 * Returns the length it needed (like snprintf); truncates to buflen.
 */
size_t srv_config_format(const struct srv_config *cfg, char *buf,
                         size_t buflen);

#endif /* METASTORE_SERVER_CONFIG_H */
