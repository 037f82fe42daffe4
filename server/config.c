/*
 * config.c - metastored's configuration loader (see config.h).
 *
 * Every key lives in one table (CONFIG_KEYS): its dotted path, its type and
 * the field it sets.  The YAML loader, the --set flag, the error messages,
 * the per-key origin lines and srv_config_format() are all driven by that
 * table, so a new key is one line there plus its default.
 *
 * Happy path: libyaml's document API loads the file into a node tree; we
 * walk the mappings we know (sections), look each key up in the table and
 * parse its scalar into a copy of the config, recording the key's line; the
 * copy replaces the caller's config only when everything parsed.
 * Failure modes, each reported as "file:line: key: what is wrong": YAML
 * syntax errors, unknown keys (with a "did you mean" when one is close),
 * duplicate keys, a mapping or list where a scalar belongs (or the other way
 * round), values that do not parse, lists too long.  srv_config_validate()
 * then checks rules between keys and names the lines of the keys involved.
 */
#include "server/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* ------------------------------------------------------------------ */
/* The key table                                                       */
/* ------------------------------------------------------------------ */

enum key_type {
    T_U64,     /* plain non-negative integer */
    T_STR,     /* string, bounded by the field's size */
    T_BOOL,    /* true / false (also yes/no, on/off) */
    T_DUR,     /* duration with unit, stored in ms */
    T_SIZE,    /* size with optional unit, stored in bytes */
    T_ENUM,    /* one of a list of words, stored as an enum (int) */
    T_MEMBERS, /* cluster.initial_members: a list of mappings */
};

static const char *const follower_writes_names[] = {"forward", "redirect",
                                                    NULL};
static const char *const engine_names[] = {"memory", "rocksdb", NULL};
static const char *const compression_names[] = {"none", "snappy", "lz4", "zstd",
                                                NULL};
static const char *const read_mode_names[] = {"lease", "readindex", "log",
                                              NULL};
static const char *const log_level_names[] = {"debug", "info", "warn", "error",
                                              NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const compaction_mode_names[] = {"off", "periodic",
                                                   "revision", NULL};

/* Enum fields are written through an int; make sure that is their size. */
_Static_assert(sizeof(enum srv_follower_writes) == sizeof(int), "enum size");
_Static_assert(sizeof(enum srv_engine) == sizeof(int), "enum size");
_Static_assert(sizeof(enum srv_compression) == sizeof(int), "enum size");
_Static_assert(sizeof(enum srv_read_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ms_log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum ms_log_format) == sizeof(int), "enum size");
_Static_assert(sizeof(enum srv_compaction_mode) == sizeof(int), "enum size");

#define FIELD_SIZE(f) sizeof(((struct srv_config *)0)->f)

/* X(ID, "path", type, field, enum names) -- in file order. */
#define CONFIG_KEYS(X)                                                         \
    X(NODE_ID, "node.id", T_U64, node.id, NULL)                                \
    X(NODE_NAME, "node.name", T_STR, node.name, NULL)                          \
    X(NODE_DATA_DIR, "node.data_dir", T_STR, node.data_dir, NULL)              \
    X(CLUSTER_NAME, "cluster.name", T_STR, cluster.name, NULL)                 \
    X(CLUSTER_ID, "cluster.cluster_id", T_U64, cluster.cluster_id, NULL)       \
    X(CLUSTER_JOIN, "cluster.join", T_BOOL, cluster.join, NULL)                \
    X(CLUSTER_MEMBERS, "cluster.initial_members", T_MEMBERS,                   \
      cluster.n_members, NULL)                                                 \
    X(CLIENT_LISTEN, "server.client_listen", T_STR, server.client_listen,      \
      NULL)                                                                    \
    X(PEER_LISTEN, "server.peer_listen", T_STR, server.peer_listen, NULL)      \
    X(ADMIN_LISTEN, "server.admin_listen", T_STR, server.admin_listen, NULL)   \
    X(MAX_FRAME, "server.max_frame_bytes", T_SIZE, server.max_frame_bytes,     \
      NULL)                                                                    \
    X(MAX_CONNS, "server.max_connections", T_U64, server.max_connections,      \
      NULL)                                                                    \
    X(MAX_PENDING, "server.max_pending_per_conn", T_U64,                       \
      server.max_pending_per_conn, NULL)                                       \
    X(MAX_PENDING_READS, "server.max_pending_reads", T_U64,                    \
      server.max_pending_reads, NULL)                                          \
    X(MAX_KEY, "server.max_key_bytes", T_SIZE, server.max_key_bytes, NULL)     \
    X(MAX_VALUE, "server.max_value_bytes", T_SIZE, server.max_value_bytes,     \
      NULL)                                                                    \
    X(MAX_TXN_OPS, "server.max_txn_ops", T_U64, server.max_txn_ops, NULL)      \
    X(REQ_TIMEOUT, "server.request_timeout", T_DUR, server.request_timeout_ms, \
      NULL)                                                                    \
    X(FOLLOWER_WRITES, "server.follower_writes", T_ENUM,                       \
      server.follower_writes, follower_writes_names)                           \
    X(FAULT_HOOK, "server.enable_fault_hook", T_BOOL,                          \
      server.enable_fault_hook, NULL)                                          \
    X(MAX_WATCHERS, "server.max_watchers", T_U64, server.max_watchers, NULL)   \
    X(WATCH_BACKLOG, "server.watch_backlog_bytes", T_SIZE,                     \
      server.watch_backlog_bytes, NULL)                                        \
    X(WATCH_BATCH, "server.watch_batch_events", T_U64,                         \
      server.watch_batch_events, NULL)                                         \
    X(WATCH_SLOW, "server.watch_slow_timeout", T_DUR,                          \
      server.watch_slow_timeout_ms, NULL)                                      \
    X(WATCH_PROGRESS, "server.watch_progress_interval", T_DUR,                 \
      server.watch_progress_interval_ms, NULL)                                 \
    X(WATCH_LIVE, "server.watch_live_events", T_BOOL,                          \
      server.watch_live_events, NULL)                                          \
    X(HTTP_LISTEN, "server.http_listen", T_STR, server.http_listen, NULL)      \
    X(HTTP_MAX_BODY, "server.http_max_body_bytes", T_SIZE,                     \
      server.http_max_body_bytes, NULL)                                        \
    X(HTTP_MAX_CONNS, "server.http_max_connections", T_U64,                    \
      server.http_max_connections, NULL)                                       \
    X(TICK, "raft.tick_interval", T_DUR, raft.tick_interval_ms, NULL)          \
    X(ELECTION, "raft.election_timeout", T_DUR, raft.election_timeout_ms,      \
      NULL)                                                                    \
    X(HEARTBEAT, "raft.heartbeat_interval", T_DUR, raft.heartbeat_interval_ms, \
      NULL)                                                                    \
    X(PRE_VOTE, "raft.pre_vote", T_BOOL, raft.pre_vote, NULL)                  \
    X(CHECK_QUORUM, "raft.check_quorum", T_BOOL, raft.check_quorum, NULL)      \
    X(MAX_INFLIGHT, "raft.max_inflight", T_U64, raft.max_inflight, NULL)       \
    X(MAX_MSG, "raft.max_msg_bytes", T_SIZE, raft.max_msg_bytes, NULL)         \
    X(SNAP_ENTRIES, "raft.snapshot_entries", T_U64, raft.snapshot_entries,     \
      NULL)                                                                    \
    X(SNAP_KEEP, "raft.snapshot_keep_entries", T_U64,                          \
      raft.snapshot_keep_entries, NULL)                                        \
    X(ENGINE, "storage.engine", T_ENUM, storage.engine, engine_names)          \
    X(FSYNC, "storage.fsync", T_BOOL, storage.fsync, NULL)                     \
    X(WAL_SEGMENT, "storage.wal_segment_bytes", T_SIZE,                        \
      storage.wal_segment_bytes, NULL)                                         \
    X(RDB_CACHE, "storage.rocksdb.block_cache_bytes", T_SIZE,                  \
      storage.rocksdb.block_cache_bytes, NULL)                                 \
    X(RDB_WBUF, "storage.rocksdb.write_buffer_bytes", T_SIZE,                  \
      storage.rocksdb.write_buffer_bytes, NULL)                                \
    X(RDB_COMPRESSION, "storage.rocksdb.compression", T_ENUM,                  \
      storage.rocksdb.compression, compression_names)                          \
    X(RDB_JOBS, "storage.rocksdb.max_background_jobs", T_U64,                  \
      storage.rocksdb.max_background_jobs, NULL)                               \
    X(LEASE_ENABLE, "lease_read.enable", T_BOOL, lease_read.enable, NULL)      \
    X(CLOCK_DRIFT, "lease_read.clock_drift", T_DUR, lease_read.clock_drift_ms, \
      NULL)                                                                    \
    X(LEASE_DURATION, "lease_read.lease_duration", T_DUR,                      \
      lease_read.lease_duration_ms, NULL)                                      \
    X(READ_MODE, "lease_read.read_mode", T_ENUM, lease_read.read_mode,         \
      read_mode_names)                                                         \
    X(LOG_LEVEL, "log.level", T_ENUM, log.level, log_level_names)              \
    X(LOG_FORMAT, "log.format", T_ENUM, log.format, log_format_names)         \
    X(TLS_CERT, "tls.cert_file", T_STR, tls.cert_file, NULL)                  \
    X(TLS_KEY, "tls.key_file", T_STR, tls.key_file, NULL)                     \
    X(TLS_CA, "tls.trusted_ca_file", T_STR, tls.trusted_ca_file, NULL)        \
    X(TLS_CLIENT_AUTH, "tls.client_cert_auth", T_BOOL, tls.client_cert_auth,  \
      NULL)                                                                    \
    X(TLS_PEER_CERT, "tls.peer_cert_file", T_STR, tls.peer_cert_file, NULL)   \
    X(TLS_PEER_KEY, "tls.peer_key_file", T_STR, tls.peer_key_file, NULL)      \
    X(TLS_PEER_CA, "tls.peer_trusted_ca_file", T_STR, tls.peer_trusted_ca_file, \
      NULL)                                                                    \
    X(TLS_PEER_CLIENT_AUTH, "tls.peer_client_cert_auth", T_BOOL,              \
      tls.peer_client_cert_auth, NULL)                                          \
    X(TLS_HTTP_CERT, "tls.http_cert_file", T_STR, tls.http_cert_file, NULL)   \
    X(TLS_HTTP_KEY, "tls.http_key_file", T_STR, tls.http_key_file, NULL)      \
    X(TLS_HTTP_CA, "tls.http_trusted_ca_file", T_STR, tls.http_trusted_ca_file, \
      NULL)                                                                    \
    X(TLS_HTTP_CLIENT_AUTH, "tls.http_client_cert_auth", T_BOOL,              \
      tls.http_client_cert_auth, NULL)                                          \
    X(TTL_MIN, "ttl.min_ttl", T_DUR, ttl.min_ttl_ms, NULL)                     \
    X(TTL_MAX, "ttl.max_ttl", T_DUR, ttl.max_ttl_ms, NULL)                     \
    X(TTL_MAX_LEASES, "ttl.max_leases", T_U64, ttl.max_leases, NULL)           \
    X(TTL_CHECKPOINT, "ttl.checkpoint_interval", T_DUR,                        \
      ttl.checkpoint_interval_ms, NULL)                                          \
    X(AUTH_ITERATIONS, "auth.password_iterations", T_U64,                     \
      auth.password_iterations, NULL)                                          \
    X(AUTH_MAX_FAILURES, "auth.max_failures", T_U64, auth.max_failures, NULL)  \
    X(AUTH_LOCKOUT, "auth.lockout", T_DUR, auth.lockout_ms, NULL)              \
    X(AUTH_TOKEN_TTL, "auth.token_ttl", T_DUR, auth.token_ttl_ms, NULL)  \
    X(COMPACTION_MODE, "compaction.mode", T_ENUM, compaction.mode,              \
      compaction_mode_names)                                                    \
    X(COMPACTION_RETENTION, "compaction.retention", T_STR,                     \
      compaction.retention, NULL)

enum key_id {
#define KEY_ENUM(id, path, type, field, names) K_##id,
    CONFIG_KEYS(KEY_ENUM)
#undef KEY_ENUM
        N_KEYS
};
_Static_assert(N_KEYS <= SRV_CONFIG_MAX_KEYS, "raise SRV_CONFIG_MAX_KEYS");

struct key_desc {
    const char *path;
    enum key_type type;
    size_t off;
    size_t size;
    const char *const *names;
};

static const struct key_desc keys[N_KEYS] = {
#define KEY_DESC(id, p, t, field, n)                                           \
    [K_##id] = {p, t, offsetof(struct srv_config, field), FIELD_SIZE(field), n},
    CONFIG_KEYS(KEY_DESC)
#undef KEY_DESC
};

/* Mappings that hold keys rather than values. */
static const char *const sections[] = {
    "node",       "cluster", "server", "raft", "storage", "storage.rocksdb",
    "lease_read", "log",     "tls",     "ttl",  "auth", "compaction", NULL};

static const char *const member_keys[] = {"id", "name", "peer_addr",
                                          "client_addr", NULL};

static int key_lookup(const char *path)
{
    for (int i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].path, path) == 0)
            return i;
    return -1;
}

static bool is_section(const char *path)
{
    for (int i = 0; sections[i]; i++)
        if (strcmp(sections[i], path) == 0)
            return true;
    return false;
}

static void *field_ptr(struct srv_config *cfg, int k)
{
    return (char *)cfg + keys[k].off;
}

static const void *field_cptr(const struct srv_config *cfg, int k)
{
    return (const char *)cfg + keys[k].off;
}

static uint64_t get_u64(const struct srv_config *cfg, int k)
{
    uint64_t v;
    memcpy(&v, field_cptr(cfg, k), sizeof(v));
    return v;
}

static int get_enum(const struct srv_config *cfg, int k)
{
    int v;
    memcpy(&v, field_cptr(cfg, k), sizeof(v));
    return v;
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static int errorf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int errorf(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

/* A value quoted for a message, cut at 60 bytes, control bytes as '?'. */
static const char *quoted(const char *v, char *buf, size_t buflen)
{
    size_t n = 0, cap = buflen - 6;
    buf[n++] = '"';
    for (const char *p = v; *p && n < cap; p++)
        buf[n++] = (*p >= 0 && *p < 0x20) ? '?' : *p;
    if (strlen(v) > cap - 1) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

/* "1500ms", "2s", "3m", "1h", "0" */
static void fmt_duration(uint64_t ms, char *buf, size_t buflen)
{
    if (ms == 0)
        snprintf(buf, buflen, "0");
    else if (ms % 3600000 == 0)
        snprintf(buf, buflen, "%lluh", (unsigned long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, buflen, "%llum", (unsigned long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, buflen, "%llus", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, buflen, "%llums", (unsigned long long)ms);
}

/* "64MiB", "4KiB", "1000" */
static void fmt_size(uint64_t b, char *buf, size_t buflen)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int i = 0; i < 4; i++) {
        uint64_t u = 1ull << (10 * (4 - i));
        if (b != 0 && b % u == 0) {
            snprintf(buf, buflen, "%llu%s", (unsigned long long)(b / u),
                     units[i]);
            return;
        }
    }
    snprintf(buf, buflen, "%llu", (unsigned long long)b);
}

/* Where a key's value came from: "file:line", "command line", "default". */
static const char *origin_of(const struct srv_config *cfg, int k, char *buf,
                             size_t buflen)
{
    uint32_t line = cfg->origin.key_line[k];
    if (line == SRV_CONFIG_LINE_FLAG)
        snprintf(buf, buflen, "command line");
    else if (line == 0)
        snprintf(buf, buflen, "default");
    else
        snprintf(buf, buflen, "%s:%u", cfg->origin.file, line);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Scalar parsers: 0 or -EINVAL, never touching *out on error          */
/* ------------------------------------------------------------------ */

static int parse_u64_prefix(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *sp = s;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v;
    if (parse_u64_prefix(&s, &v) < 0 || *s != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

static bool mul_ok(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* "1h2m3s500ms", "100ms", "0"; whole milliseconds only. */
static int parse_duration_ms(const char *s, uint64_t *out, const char **why)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
        {"ns", 1},         {"us", 1000},          {"ms", 1000000},
        {"s", 1000000000}, {"m", 60000000000ull}, {"h", 3600000000000ull}};
    uint64_t total_ns = 0;
    *why = "is not a duration (use e.g. 1s or 500ms)";
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*s == '\0')
        return -EINVAL;
    while (*s) {
        uint64_t n, part;
        size_t best = 0, ui = 0;
        if (parse_u64_prefix(&s, &n) < 0)
            return -EINVAL;
        /* Longest unit that matches ("ms" before "m"). */
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(s, units[i].unit, l) == 0 && l > best) {
                best = l;
                ui = i;
            }
        }
        if (best == 0)
            return -EINVAL;
        s += best;
        if (!mul_ok(n, units[ui].ns, &part) || total_ns + part < total_ns) {
            *why = "is too long a duration";
            return -EINVAL;
        }
        total_ns += part;
    }
    if (total_ns % 1000000 != 0) {
        *why = "is not a whole number of milliseconds";
        return -EINVAL;
    }
    *out = total_ns / 1000000;
    return 0;
}

/* "4096", "64KiB", "16 MiB", "1GB". */
static int parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"B", 1},
                 {"KiB", 1ull << 10},
                 {"MiB", 1ull << 20},
                 {"GiB", 1ull << 30},
                 {"TiB", 1ull << 40},
                 {"KB", 1000},
                 {"kB", 1000},
                 {"MB", 1000000},
                 {"GB", 1000000000},
                 {"TB", 1000000000000ull}};
    uint64_t n;
    if (parse_u64_prefix(&s, &n) < 0)
        return -EINVAL;
    if (*s == ' ' && s[1] != '\0')
        s++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s, units[i].unit) == 0)
            return mul_ok(n, units[i].mult, out) ? 0 : -EINVAL;
    }
    return -EINVAL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_enum(const char *s, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -EINVAL;
}

/*
 * Parses `value` for key k into cfg.  `where` and `what` prefix the error
 * ("file:12", "raft.election_timeout").
 */
static int set_value(struct srv_config *cfg, int k, const char *value,
                     const char *where, const char *what, char *err,
                     size_t errlen)
{
    const struct key_desc *kd = &keys[k];
    char q[80];
    void *f = field_ptr(cfg, k);
    uint64_t u;
    bool b;
    int e;
    const char *why;

    switch (kd->type) {
    case T_U64:
        if (parse_u64(value, &u) < 0)
            return errorf(err, errlen,
                          "%s: %s: %s is not a non-negative whole number",
                          where, what, quoted(value, q, sizeof(q)));
        memcpy(f, &u, sizeof(u));
        return 0;
    case T_STR:
        if (strlen(value) >= kd->size)
            return errorf(err, errlen,
                          "%s: %s: %s is too long (at most %zu bytes)", where,
                          what, quoted(value, q, sizeof(q)), kd->size - 1);
        memcpy(f, value, strlen(value) + 1);
        return 0;
    case T_BOOL:
        if (parse_bool(value, &b) < 0)
            return errorf(err, errlen, "%s: %s: %s is not true or false", where,
                          what, quoted(value, q, sizeof(q)));
        memcpy(f, &b, sizeof(b));
        return 0;
    case T_DUR:
        if (parse_duration_ms(value, &u, &why) < 0)
            return errorf(err, errlen, "%s: %s: %s %s", where, what,
                          quoted(value, q, sizeof(q)), why);
        memcpy(f, &u, sizeof(u));
        return 0;
    case T_SIZE:
        if (parse_size(value, &u) < 0)
            return errorf(err, errlen,
                          "%s: %s: %s is not a size (use e.g. 4096, 64KiB "
                          "or 16MiB)",
                          where, what, quoted(value, q, sizeof(q)));
        memcpy(f, &u, sizeof(u));
        return 0;
    case T_ENUM:
        if (parse_enum(value, kd->names, &e) < 0) {
            char list[128] = "";
            for (int i = 0; kd->names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, kd->names[i], sizeof(list) - strlen(list) - 1);
            }
            return errorf(err, errlen, "%s: %s: %s is not one of: %s", where,
                          what, quoted(value, q, sizeof(q)), list);
        }
        memcpy(f, &e, sizeof(e));
        return 0;
    case T_MEMBERS:
        break;
    }
    return errorf(err, errlen, "%s: %s: cannot be set this way", where, what);
}

/* ------------------------------------------------------------------ */
/* Defaults and the implicit single-member cluster                     */
/* ------------------------------------------------------------------ */

/* Unless initial_members was given, the cluster is this node alone. */
static void derive_members(struct srv_config *cfg)
{
    if (cfg->origin.key_line[K_CLUSTER_MEMBERS] != 0)
        return;
    struct srv_member *m = &cfg->cluster.members[0];
    memset(m, 0, sizeof(*m));
    m->id = cfg->node.id;
    memcpy(m->name, cfg->node.name, sizeof(m->name));
    memcpy(m->peer_addr, cfg->server.peer_listen, sizeof(m->peer_addr));
    memcpy(m->client_addr, cfg->server.client_listen, sizeof(m->client_addr));
    cfg->cluster.n_members = 1;
}

void srv_config_defaults(struct srv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->node.id = 1;
    snprintf(cfg->node.name, sizeof(cfg->node.name), "node1");
    snprintf(cfg->node.data_dir, sizeof(cfg->node.data_dir), "./data");

    snprintf(cfg->cluster.name, sizeof(cfg->cluster.name), "metastore");
    cfg->cluster.cluster_id = 0;
    cfg->cluster.join = false;

    snprintf(cfg->server.client_listen, SRV_CONFIG_ADDR_MAX, "127.0.0.1:2379");
    snprintf(cfg->server.peer_listen, SRV_CONFIG_ADDR_MAX, "127.0.0.1:2380");
    snprintf(cfg->server.admin_listen, SRV_CONFIG_ADDR_MAX, "127.0.0.1:2381");
    cfg->server.max_frame_bytes = 4u << 20;
    cfg->server.max_connections = 1024;
    cfg->server.max_pending_per_conn = 1024;
    cfg->server.max_pending_reads = 10000;
    cfg->server.max_key_bytes = 4u << 10;
    cfg->server.max_value_bytes = 1u << 20;
    cfg->server.max_txn_ops = 128;
    cfg->server.request_timeout_ms = 5000;
    cfg->server.follower_writes = SRV_FOLLOWER_WRITES_FORWARD;
    cfg->server.enable_fault_hook = false;
    cfg->server.max_watchers = 10000;
    cfg->server.watch_backlog_bytes = 1u << 20;
    cfg->server.watch_batch_events = 256;
    cfg->server.watch_slow_timeout_ms = 30000;
    cfg->server.watch_live_events = true;
    cfg->server.watch_progress_interval_ms = 600000;
    cfg->server.http_listen[0] = '\0'; /* the HTTP/JSON API is off */
    cfg->server.http_max_body_bytes = 4u << 20;
    cfg->server.http_max_connections = 256;

    cfg->raft.tick_interval_ms = 10;
    cfg->raft.election_timeout_ms = 1000;
    cfg->raft.heartbeat_interval_ms = 100;
    cfg->raft.pre_vote = true;
    cfg->raft.check_quorum = true;
    cfg->raft.max_inflight = 256;
    cfg->raft.max_msg_bytes = 8u << 20;
    cfg->raft.snapshot_entries = 10000;
    cfg->raft.snapshot_keep_entries = 5000;

    cfg->storage.engine = SRV_ENGINE_MEMORY;
    cfg->storage.fsync = true;
    cfg->storage.wal_segment_bytes = 64u << 20;
    cfg->storage.rocksdb.block_cache_bytes = 128u << 20;
    cfg->storage.rocksdb.write_buffer_bytes = 64u << 20;
    cfg->storage.rocksdb.compression = SRV_COMPRESSION_SNAPPY;
    cfg->storage.rocksdb.max_background_jobs = 4;

    cfg->lease_read.enable = true;
    cfg->lease_read.clock_drift_ms = 50;
    cfg->lease_read.lease_duration_ms = 0;
    cfg->lease_read.read_mode = SRV_READ_MODE_LEASE;

    cfg->log.level = MS_LOG_INFO;
    cfg->log.format = MS_LOG_TEXT;

    cfg->ttl.min_ttl_ms = 2000;                       /* etcd's minimum */
    cfg->ttl.max_ttl_ms = 9000000000ull * 1000u;      /* etcd's MaxLeaseTTL */
    cfg->ttl.max_leases = 100000;
    cfg->ttl.checkpoint_interval_ms = 5u * 60u * 1000u; /* as etcd */
    cfg->auth.password_iterations = 100000; /* tens of ms per hash */
    cfg->auth.max_failures = 5;
    cfg->auth.lockout_ms = 1000;
    cfg->auth.token_ttl_ms = 5u * 60u * 1000u; /* etcd's simple token TTL */
    /* Periodic, one hour: a store that keeps every revision forever grows
     * without bound (docs/storage.md explains the choice). */
    cfg->compaction.mode = SRV_COMPACTION_PERIODIC;
    snprintf(cfg->compaction.retention, sizeof(cfg->compaction.retention),
             "1h");

    snprintf(cfg->origin.file, sizeof(cfg->origin.file), "default");
    derive_members(cfg);
}

/* ------------------------------------------------------------------ */
/* YAML loader                                                         */
/* ------------------------------------------------------------------ */

struct loader {
    struct srv_config *cfg;
    yaml_document_t *doc;
    const char *name;
    char *err;
    size_t errlen;
};

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        return "a scalar value";
    default:
        return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* `key:` with nothing after it, or ~ / null. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = scalar(n);
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0;
}

static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[80];
    size_t la = strlen(a), lb = strlen(b);
    if (la >= 79 || lb >= 79)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int unknown_key(struct loader *ld, const yaml_node_t *kn,
                       const char *path)
{
    const char *best = NULL;
    unsigned best_d = 3;
    for (int i = 0; i < N_KEYS; i++) {
        unsigned d = edit_distance(path, keys[i].path);
        if (d < best_d) {
            best_d = d;
            best = keys[i].path;
        }
    }
    for (int i = 0; sections[i]; i++) {
        unsigned d = edit_distance(path, sections[i]);
        if (d < best_d) {
            best_d = d;
            best = sections[i];
        }
    }
    if (best)
        return errorf(ld->err, ld->errlen,
                      "%s:%u: unknown key %s (did you mean %s?)", ld->name,
                      line_of(kn), path, best);
    return errorf(ld->err, ld->errlen, "%s:%u: unknown key %s", ld->name,
                  line_of(kn), path);
}

/* Checks that mapping `map` has scalar keys without duplicates; `path` is
 * the mapping's own path for messages. */
static int check_map_keys(struct loader *ld, yaml_node_t *map, const char *path)
{
    yaml_node_pair_t *first = map->data.mapping.pairs.start;
    yaml_node_pair_t *top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = first; p < top; p++) {
        yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        if (kn == NULL || kn->type != YAML_SCALAR_NODE)
            return errorf(ld->err, ld->errlen,
                          "%s:%u: %s: keys must be plain words, not %s",
                          ld->name, kn ? line_of(kn) : 0,
                          path[0] ? path : "top level",
                          kn ? node_kind(kn) : "nothing");
        for (yaml_node_pair_t *q = first; q < p; q++) {
            yaml_node_t *prev = yaml_document_get_node(ld->doc, q->key);
            if (strcmp(scalar(prev), scalar(kn)) == 0)
                return errorf(ld->err, ld->errlen,
                              "%s:%u: duplicate key %s%s%s (first given on "
                              "line %u)",
                              ld->name, line_of(kn), path, path[0] ? "." : "",
                              scalar(kn), line_of(prev));
        }
    }
    return 0;
}

static int load_member(struct loader *ld, yaml_node_t *item, uint32_t i)
{
    struct srv_member *m = &ld->cfg->cluster.members[i];
    char path[96], where[300], what[128];
    bool have_id = false, have_peer = false, have_client = false;
    snprintf(path, sizeof(path), "cluster.initial_members[%u]", i);
    if (item->type != YAML_MAPPING_NODE)
        return errorf(ld->err, ld->errlen,
                      "%s:%u: %s: expected a mapping with id, name, "
                      "peer_addr, client_addr, found %s",
                      ld->name, line_of(item), path, node_kind(item));
    int rc = check_map_keys(ld, item, path);
    if (rc < 0)
        return rc;
    memset(m, 0, sizeof(*m));
    m->line = line_of(item);
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start;
         p < item->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);
        const char *k = scalar(kn);
        int which = -1;
        for (int j = 0; member_keys[j]; j++)
            if (strcmp(member_keys[j], k) == 0)
                which = j;
        snprintf(where, sizeof(where), "%s:%u", ld->name, line_of(kn));
        snprintf(what, sizeof(what), "%s.%s", path, k);
        if (which < 0)
            return errorf(ld->err, ld->errlen,
                          "%s: unknown key %s (a member has id, name, "
                          "peer_addr, client_addr)",
                          where, what);
        if (vn->type != YAML_SCALAR_NODE || is_null(vn))
            return errorf(ld->err, ld->errlen,
                          "%s: %s: expected a scalar value, found %s", where,
                          what, is_null(vn) ? "nothing" : node_kind(vn));
        const char *v = scalar(vn);
        char *dst = NULL;
        size_t cap = 0;
        switch (which) {
        case 0:
            if (parse_u64(v, &m->id) < 0)
                return errorf(ld->err, ld->errlen,
                              "%s: %s: \"%.60s\" is not a non-negative whole "
                              "number",
                              where, what, v);
            have_id = true;
            continue;
        case 1:
            dst = m->name, cap = sizeof(m->name);
            break;
        case 2:
            dst = m->peer_addr, cap = sizeof(m->peer_addr);
            have_peer = true;
            break;
        default:
            dst = m->client_addr, cap = sizeof(m->client_addr);
            have_client = true;
            break;
        }
        if (strlen(v) >= cap)
            return errorf(ld->err, ld->errlen,
                          "%s: %s: too long (at most %zu bytes)", where, what,
                          cap - 1);
        memcpy(dst, v, strlen(v) + 1);
    }
    const char *missing = !have_id       ? "id"
                          : !have_peer   ? "peer_addr"
                          : !have_client ? "client_addr"
                                         : NULL;
    if (missing)
        return errorf(ld->err, ld->errlen, "%s:%u: %s: %s is missing", ld->name,
                      m->line, path, missing);
    if (m->name[0] == '\0')
        snprintf(m->name, sizeof(m->name), "node%llu",
                 (unsigned long long)m->id);
    return 0;
}

static int load_members(struct loader *ld, yaml_node_t *seq, unsigned line)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return errorf(ld->err, ld->errlen,
                      "%s:%u: cluster.initial_members: expected a list of "
                      "members, found %s",
                      ld->name, line,
                      is_null(seq) ? "nothing" : node_kind(seq));
    uint32_t n = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start;
         it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
        if (n == SRV_CONFIG_MAX_MEMBERS)
            return errorf(ld->err, ld->errlen,
                          "%s:%u: cluster.initial_members: more than %d "
                          "members",
                          ld->name, line_of(item), SRV_CONFIG_MAX_MEMBERS);
        int rc = load_member(ld, item, n);
        if (rc < 0)
            return rc;
        n++;
    }
    ld->cfg->cluster.n_members = n;
    ld->cfg->origin.key_line[K_CLUSTER_MEMBERS] = line;
    return 0;
}

static int load_mapping(struct loader *ld, yaml_node_t *map, const char *prefix)
{
    int rc = check_map_keys(ld, map, prefix);
    if (rc < 0)
        return rc;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);
        char path[160], where[300];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
                 scalar(kn));
        snprintf(where, sizeof(where), "%s:%u", ld->name, line_of(kn));

        if (strchr(scalar(kn), '.') != NULL)
            return errorf(ld->err, ld->errlen,
                          "%s: unknown key %s (keys do not contain '.'; nest "
                          "them under their section)",
                          where, path);
        if (is_section(path)) {
            if (is_null(vn))
                continue; /* an empty section: all defaults */
            if (vn->type != YAML_MAPPING_NODE)
                return errorf(ld->err, ld->errlen,
                              "%s: %s: expected a mapping of keys, found %s",
                              where, path, node_kind(vn));
            rc = load_mapping(ld, vn, path);
            if (rc < 0)
                return rc;
            continue;
        }
        int k = key_lookup(path);
        if (k < 0)
            return unknown_key(ld, kn, path);
        if (keys[k].type == T_MEMBERS) {
            rc = load_members(ld, vn, line_of(kn));
        } else if (vn->type != YAML_SCALAR_NODE) {
            rc = errorf(ld->err, ld->errlen,
                        "%s: %s: expected a scalar value, found %s", where,
                        path, node_kind(vn));
        } else if (is_null(vn)) {
            rc = errorf(ld->err, ld->errlen,
                        "%s: %s: has no value (remove the key to use the "
                        "default)",
                        where, path);
        } else {
            rc = set_value(ld->cfg, k, scalar(vn), where, path, ld->err,
                           ld->errlen);
            ld->cfg->origin.key_line[k] = line_of(kn);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int load_document(struct loader *ld, yaml_parser_t *parser)
{
    yaml_document_t doc, extra;
    if (!yaml_parser_load(parser, &doc))
        return errorf(ld->err, ld->errlen, "%s:%u: YAML syntax error: %s%s%s",
                      ld->name, (unsigned)parser->problem_mark.line + 1,
                      parser->problem ? parser->problem : "unknown",
                      parser->context ? " " : "",
                      parser->context ? parser->context : "");
    ld->doc = &doc; /* cppcheck-suppress autoVariables ; reset below */
    int rc = 0;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL && !is_null(root)) {
        if (root->type != YAML_MAPPING_NODE)
            rc = errorf(ld->err, ld->errlen,
                        "%s:%u: expected a mapping of sections (node, "
                        "cluster, server, ...), found %s",
                        ld->name, line_of(root), node_kind(root));
        else
            rc = load_mapping(ld, root, "");
    }
    yaml_document_delete(&doc);
    ld->doc = NULL; /* it pointed at this function's local document */
    if (rc < 0)
        return rc;
    /* Exactly one document. */
    if (!yaml_parser_load(parser, &extra))
        return errorf(ld->err, ld->errlen, "%s:%u: YAML syntax error: %s",
                      ld->name, (unsigned)parser->problem_mark.line + 1,
                      parser->problem ? parser->problem : "unknown");
    if (yaml_document_get_root_node(&extra) != NULL)
        rc = errorf(ld->err, ld->errlen,
                    "%s:%u: only one YAML document is allowed", ld->name,
                    (unsigned)extra.start_mark.line + 1);
    yaml_document_delete(&extra);
    return rc;
}

int srv_config_load_string(struct srv_config *cfg, const char *yaml,
                           const char *name, char *err, size_t errlen)
{
    yaml_parser_t parser;
    struct srv_config *tmp = malloc(sizeof(*tmp));
    if (tmp == NULL) {
        errorf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    *tmp = *cfg;
    snprintf(tmp->origin.file, sizeof(tmp->origin.file), "%s", name);
    if (!yaml_parser_initialize(&parser)) {
        free(tmp);
        errorf(err, errlen, "%s: out of memory", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
                                 strlen(yaml));
    struct loader ld = {tmp, NULL, name, err, errlen};
    int rc = load_document(&ld, &parser);
    yaml_parser_delete(&parser);
    if (rc == 0) {
        derive_members(tmp);
        *cfg = *tmp;
        if (errlen > 0)
            err[0] = '\0';
    }
    free(tmp);
    return rc;
}

#define CONFIG_FILE_MAX (1u << 20)

int srv_config_load_file(struct srv_config *cfg, const char *path, char *err,
                         size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int e = errno;
        errorf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -e;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        errorf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t n = fread(text, 1, CONFIG_FILE_MAX + 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    int rc;
    if (rerr != 0) {
        errorf(err, errlen, "%s: cannot read: %s", path, strerror(rerr));
        rc = -rerr;
    } else if (n > CONFIG_FILE_MAX) {
        rc = errorf(err, errlen, "%s: larger than %u bytes; not a config file",
                    path, CONFIG_FILE_MAX);
    } else if (memchr(text, '\0', n) != NULL) {
        rc = errorf(err, errlen, "%s: contains a NUL byte; not a config file",
                    path);
    } else {
        text[n] = '\0';
        rc = srv_config_load_string(cfg, text, path, err, errlen);
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Command-line flags                                                  */
/* ------------------------------------------------------------------ */

static const struct {
    const char *flag;
    const char *key;
} flag_keys[] = {
    {"node-id", "node.id"},
    {"name", "node.name"},
    {"data-dir", "node.data_dir"},
    {"listen-client", "server.client_listen"},
    {"listen-peer", "server.peer_listen"},
    {"listen-admin", "server.admin_listen"},
    {"http-listen", "server.http_listen"},
    {"log-level", "log.level"},
    {"log-format", "log.format"},
    {"engine", "storage.engine"},
    {"cluster-name", "cluster.name"},
    {"join", "cluster.join"},
    {"cert-file", "tls.cert_file"},
    {"key-file", "tls.key_file"},
    {"trusted-ca-file", "tls.trusted_ca_file"},
    {"client-cert-auth", "tls.client_cert_auth"},
    {"peer-cert-file", "tls.peer_cert_file"},
    {"peer-key-file", "tls.peer_key_file"},
    {"peer-trusted-ca-file", "tls.peer_trusted_ca_file"},
    {"peer-client-cert-auth", "tls.peer_client_cert_auth"},
    {"http-cert-file", "tls.http_cert_file"},
    {"http-key-file", "tls.http_key_file"},
    {"auto-compaction-mode", "compaction.mode"},
    {"auto-compaction-retention", "compaction.retention"},
    {"http-trusted-ca-file", "tls.http_trusted_ca_file"},
    {"http-client-cert-auth", "tls.http_client_cert_auth"},
};

/* One "ID[:NAME]=PEER@CLIENT" item of --initial-cluster (`item` is
 * modified). */
static int parse_cluster_item(char *item, struct srv_member *m, char *err,
                              size_t errlen)
{
    char q[80];
    char *eq = strchr(item, '=');
    char *at = eq ? strchr(eq + 1, '@') : NULL;
    if (eq == NULL || at == NULL)
        return errorf(err, errlen,
                      "command line: --initial-cluster: %s is not "
                      "ID[:NAME]=PEER_ADDR@CLIENT_ADDR",
                      quoted(item, q, sizeof(q)));
    *eq = '\0';
    *at = '\0';
    char *colon = strchr(item, ':');
    if (colon)
        *colon = '\0';
    memset(m, 0, sizeof(*m));
    if (parse_u64(item, &m->id) < 0)
        return errorf(err, errlen,
                      "command line: --initial-cluster: member id %s is not "
                      "a non-negative whole number",
                      quoted(item, q, sizeof(q)));
    const char *name = colon ? colon + 1 : "";
    if (strlen(name) >= sizeof(m->name) ||
        strlen(eq + 1) >= sizeof(m->peer_addr) ||
        strlen(at + 1) >= sizeof(m->client_addr))
        return errorf(err, errlen,
                      "command line: --initial-cluster: member %llu: name or "
                      "address too long",
                      (unsigned long long)m->id);
    if (name[0])
        memcpy(m->name, name, strlen(name) + 1);
    else
        snprintf(m->name, sizeof(m->name), "node%llu",
                 (unsigned long long)m->id);
    memcpy(m->peer_addr, eq + 1, strlen(eq + 1) + 1);
    memcpy(m->client_addr, at + 1, strlen(at + 1) + 1);
    return 0;
}

static int apply_initial_cluster(struct srv_config *cfg, const char *value,
                                 char *err, size_t errlen)
{
    struct srv_member members[SRV_CONFIG_MAX_MEMBERS];
    uint32_t n = 0;
    char *copy = strdup(value);
    if (copy == NULL)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        if (n == SRV_CONFIG_MAX_MEMBERS) {
            rc = errorf(err, errlen,
                        "command line: --initial-cluster: more than %d "
                        "members",
                        SRV_CONFIG_MAX_MEMBERS);
            break;
        }
        rc = parse_cluster_item(item, &members[n], err, errlen);
        if (rc < 0)
            break;
        n++;
    }
    free(copy);
    if (rc == 0 && n == 0)
        rc = errorf(err, errlen, "command line: --initial-cluster: empty");
    if (rc < 0)
        return rc;
    memcpy(cfg->cluster.members, members, n * sizeof(members[0]));
    cfg->cluster.n_members = n;
    cfg->origin.key_line[K_CLUSTER_MEMBERS] = SRV_CONFIG_LINE_FLAG;
    return 0;
}

static int apply_key(struct srv_config *cfg, int k, const char *value,
                     const char *what, char *err, size_t errlen)
{
    int rc = set_value(cfg, k, value, "command line", what, err, errlen);
    if (rc == 0)
        cfg->origin.key_line[k] = SRV_CONFIG_LINE_FLAG;
    return rc;
}

int srv_config_apply_flag(struct srv_config *cfg, const char *flag,
                          const char *value, char *err, size_t errlen)
{
    char what[200];
    int rc;
    while (*flag == '-')
        flag++;
    if (value == NULL && (strcmp(flag, "join") == 0 ||
                          strcmp(flag, "client-cert-auth") == 0 ||
                          strcmp(flag, "peer-client-cert-auth") == 0 ||
                          strcmp(flag, "http-client-cert-auth") == 0))
        value = "true";
    if (value == NULL)
        return errorf(err, errlen, "command line: --%s needs a value", flag);

    if (strcmp(flag, "initial-cluster") == 0) {
        rc = apply_initial_cluster(cfg, value, err, errlen);
    } else if (strcmp(flag, "set") == 0) {
        const char *eq = strchr(value, '=');
        char key[128];
        size_t kl = eq ? (size_t)(eq - value) : 0;
        if (eq == NULL || kl == 0 || kl >= sizeof(key))
            return errorf(err, errlen,
                          "command line: --set: expected KEY=VALUE, e.g. "
                          "raft.election_timeout=2s");
        memcpy(key, value, kl);
        key[kl] = '\0';
        int k = key_lookup(key);
        if (k < 0 || keys[k].type == T_MEMBERS)
            return errorf(err, errlen, "command line: --set: unknown key %s%s",
                          key, k >= 0 ? " (use --initial-cluster)" : "");
        rc = apply_key(cfg, k, eq + 1, key, err, errlen);
    } else {
        rc = -1;
        for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
            if (strcmp(flag, flag_keys[i].flag) == 0) {
                snprintf(what, sizeof(what), "--%s (%s)", flag,
                         flag_keys[i].key);
                rc = apply_key(cfg, key_lookup(flag_keys[i].key), value, what,
                               err, errlen);
                break;
            }
        }
        if (rc == -1)
            return errorf(err, errlen, "command line: unknown flag --%s", flag);
    }
    if (rc == 0) {
        derive_members(cfg);
        if (errlen > 0)
            err[0] = '\0';
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

/* "file:line: path: " for key k. */
#define AT(k) origin_of(cfg, (k), o, sizeof(o)), keys[(k)].path

static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* Bounds of numeric keys: {key, min, max}. */
static const struct {
    int key;
    uint64_t min, max;
} ranges[] = {
    {K_MAX_FRAME, 4096, 256ull << 20},
    {K_MAX_CONNS, 1, 1000000},
    {K_MAX_PENDING, 1, 100000},
    {K_MAX_PENDING_READS, 1, 1000000},
    {K_MAX_KEY, 1, 1u << 20},
    {K_MAX_VALUE, 0, 256ull << 20},
    {K_MAX_TXN_OPS, 1, 100000},
    {K_MAX_WATCHERS, 1, 1000000},
    {K_WATCH_BACKLOG, 4096, 1ull << 30},
    {K_WATCH_BATCH, 1, 100000},
    {K_WATCH_SLOW, 0, 3600000},
    {K_WATCH_PROGRESS, 10, 86400000},
    {K_HTTP_MAX_BODY, 1u << 10, 256ull << 20},
    {K_HTTP_MAX_CONNS, 1, 100000},
    {K_REQ_TIMEOUT, 1, 3600000},
    {K_TICK, 1, 1000},
    {K_ELECTION, 2, 600000},
    {K_HEARTBEAT, 1, 600000},
    {K_MAX_INFLIGHT, 1, 65536},
    {K_MAX_MSG, 64u << 10, 1ull << 30},
    {K_SNAP_ENTRIES, 1, 1000000000},
    {K_SNAP_KEEP, 0, 1000000000},
    {K_WAL_SEGMENT, 1u << 20, 4ull << 30},
    {K_RDB_CACHE, 0, 1ull << 40},
    {K_RDB_WBUF, 1u << 20, 4ull << 30},
    {K_RDB_JOBS, 1, 64},
    {K_CLOCK_DRIFT, 0, 600000},
    {K_LEASE_DURATION, 0, 600000},
};

static void fmt_value(const struct srv_config *cfg, int k, uint64_t v,
                      char *buf, size_t buflen)
{
    if (keys[k].type == T_DUR)
        fmt_duration(v, buf, buflen);
    else if (keys[k].type == T_SIZE)
        fmt_size(v, buf, buflen);
    else
        snprintf(buf, buflen, "%llu", (unsigned long long)v);
    (void)cfg;
}

static int check_ranges(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300], v[40], lo[40], hi[40];
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        int k = ranges[i].key;
        uint64_t x = get_u64(cfg, k);
        if (x >= ranges[i].min && x <= ranges[i].max)
            continue;
        fmt_value(cfg, k, x, v, sizeof(v));
        fmt_value(cfg, k, ranges[i].min, lo, sizeof(lo));
        fmt_value(cfg, k, ranges[i].max, hi, sizeof(hi));
        return errorf(err, errlen, "%s: %s: %s is out of range (%s to %s)",
                      AT(k), v, lo, hi);
    }
    return 0;
}

static int check_node(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    if (cfg->node.id == 0)
        return errorf(err, errlen, "%s: %s: must not be 0", AT(K_NODE_ID));
    if (!valid_name(cfg->node.name))
        return errorf(err, errlen,
                      "%s: %s: \"%s\" is not a name (letters, digits, '-', "
                      "'_', '.')",
                      AT(K_NODE_NAME), cfg->node.name);
    if (cfg->node.data_dir[0] == '\0')
        return errorf(err, errlen, "%s: %s: must not be empty",
                      AT(K_NODE_DATA_DIR));
    if (!valid_name(cfg->cluster.name))
        return errorf(err, errlen,
                      "%s: %s: \"%s\" is not a name (letters, digits, '-', "
                      "'_', '.')",
                      AT(K_CLUSTER_NAME), cfg->cluster.name);
    return 0;
}

static int check_timing(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300], a[32], b[32];
    uint64_t tick = cfg->raft.tick_interval_ms;
    uint64_t hb = cfg->raft.heartbeat_interval_ms;
    uint64_t el = cfg->raft.election_timeout_ms;
    fmt_duration(tick, b, sizeof(b));
    if (hb % tick != 0) {
        fmt_duration(hb, a, sizeof(a));
        return errorf(err, errlen,
                      "%s: %s: %s is not a multiple of raft.tick_interval "
                      "(%s)",
                      AT(K_HEARTBEAT), a, b);
    }
    if (el % tick != 0) {
        fmt_duration(el, a, sizeof(a));
        return errorf(err, errlen,
                      "%s: %s: %s is not a multiple of raft.tick_interval "
                      "(%s)",
                      AT(K_ELECTION), a, b);
    }
    if (hb >= el) {
        fmt_duration(hb, a, sizeof(a));
        fmt_duration(el, b, sizeof(b));
        return errorf(err, errlen,
                      "%s: %s: %s must be less than raft.election_timeout "
                      "(%s)",
                      AT(K_HEARTBEAT), a, b);
    }
    if (el / tick < 2 || el / tick > 100000) {
        fmt_duration(el, a, sizeof(a));
        return errorf(err, errlen,
                      "%s: %s: %s must be 2 to 100000 ticks of "
                      "raft.tick_interval (%s)",
                      AT(K_ELECTION), a, b);
    }
    return 0;
}

static int check_addr(const char *addr, bool allow_port0, const char *where,
                      const char *what, char *err, size_t errlen)
{
    char host[SRV_CONFIG_ADDR_MAX];
    uint16_t port;
    if (srv_addr_split(addr, host, sizeof(host), &port) < 0)
        return errorf(err, errlen,
                      "%s: %s: \"%s\" is not an address (use host:port, "
                      "e.g. 127.0.0.1:2379)",
                      where, what, addr);
    if (port == 0 && !allow_port0)
        return errorf(err, errlen, "%s: %s: \"%s\" needs a port other than 0",
                      where, what, addr);
    return 0;
}

static int check_listen(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    static const int lk[] = {K_CLIENT_LISTEN, K_PEER_LISTEN, K_ADMIN_LISTEN};
    for (int i = 0; i < 3; i++) {
        const char *a = field_cptr(cfg, lk[i]);
        int rc = check_addr(a, true, origin_of(cfg, lk[i], o, sizeof(o)),
                            keys[lk[i]].path, err, errlen);
        if (rc < 0)
            return rc;
        for (int j = 0; j < i; j++) {
            const char *b = field_cptr(cfg, lk[j]);
            char host[SRV_CONFIG_ADDR_MAX];
            uint16_t port;
            srv_addr_split(a, host, sizeof(host), &port);
            if (port != 0 && strcmp(a, b) == 0)
                return errorf(err, errlen, "%s: %s: \"%s\" is also %s",
                              AT(lk[i]), a, keys[lk[j]].path);
        }
    }
    return 0;
}

/* server.http_listen: empty (off), or an address no other listener has. */
static int check_http(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    const char *a = cfg->server.http_listen;
    if (a[0] == '\0')
        return 0;
    int rc = check_addr(a, true, origin_of(cfg, K_HTTP_LISTEN, o, sizeof(o)),
                        keys[K_HTTP_LISTEN].path, err, errlen);
    if (rc < 0)
        return rc;
    static const int lk[] = {K_CLIENT_LISTEN, K_PEER_LISTEN, K_ADMIN_LISTEN};
    for (int j = 0; j < 3; j++) {
        char host[SRV_CONFIG_ADDR_MAX];
        uint16_t port;
        srv_addr_split(a, host, sizeof(host), &port);
        if (port != 0 && strcmp(a, field_cptr(cfg, lk[j])) == 0)
            return errorf(err, errlen, "%s: %s: \"%s\" is also %s",
                          AT(K_HTTP_LISTEN), a, keys[lk[j]].path);
    }
    return 0;
}

static int check_one_member(const struct srv_config *cfg, uint32_t i, char *err,
                            size_t errlen)
{
    const struct srv_member *m = &cfg->cluster.members[i];
    char where[300], what[96];
    bool multi = cfg->cluster.n_members > 1;
    if (m->line)
        snprintf(where, sizeof(where), "%s:%u", cfg->origin.file, m->line);
    else
        origin_of(cfg, K_CLUSTER_MEMBERS, where, sizeof(where));
    snprintf(what, sizeof(what), "cluster.initial_members[%u]", i);
    if (m->id == 0)
        return errorf(err, errlen, "%s: %s.id: must not be 0", where, what);
    if (!valid_name(m->name))
        return errorf(err, errlen,
                      "%s: %s.name: \"%s\" is not a name (letters, digits, "
                      "'-', '_', '.')",
                      where, what, m->name);
    int rc = check_addr(m->peer_addr, !multi, where, "peer_addr", err, errlen);
    if (rc == 0)
        rc = check_addr(m->client_addr, !multi, where, "client_addr", err,
                        errlen);
    if (rc < 0)
        return rc;
    for (uint32_t j = 0; j < i; j++) {
        const struct srv_member *p = &cfg->cluster.members[j];
        const char *same =
            p->id == m->id                                ? "id"
            : strcmp(p->name, m->name) == 0               ? "name"
            : strcmp(p->peer_addr, m->peer_addr) == 0     ? "peer_addr"
            : strcmp(p->client_addr, m->client_addr) == 0 ? "client_addr"
                                                          : NULL;
        if (same)
            return errorf(err, errlen,
                          "%s: %s: same %s as cluster.initial_members[%u]",
                          where, what, same, j);
    }
    return 0;
}

static int check_members(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    if (cfg->cluster.n_members == 0)
        return errorf(err, errlen, "%s: %s: no members", AT(K_CLUSTER_MEMBERS));
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++) {
        int rc = check_one_member(cfg, i, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (cfg->cluster.join)
        return 0;
    const struct srv_member *me = srv_config_member(cfg, cfg->node.id);
    if (me == NULL)
        return errorf(err, errlen,
                      "%s: %s: this node (node.id %llu) is not a member; "
                      "add it, or set cluster.join: true to join a running "
                      "cluster",
                      AT(K_CLUSTER_MEMBERS), (unsigned long long)cfg->node.id);
    if (strcmp(me->name, cfg->node.name) != 0)
        return errorf(err, errlen,
                      "%s: %s: member %llu is named \"%s\" but node.name is "
                      "\"%s\"",
                      AT(K_CLUSTER_MEMBERS), (unsigned long long)me->id,
                      me->name, cfg->node.name);
    return 0;
}

static int check_sizes(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300], a[32], b[32];
    const uint64_t overhead = 4096; /* request fields around key and value */
    if (cfg->server.max_key_bytes + cfg->server.max_value_bytes + overhead >
        cfg->server.max_frame_bytes) {
        fmt_size(cfg->server.max_frame_bytes, a, sizeof(a));
        return errorf(err, errlen,
                      "%s: %s: max_key_bytes + max_value_bytes + 4KiB must "
                      "fit in server.max_frame_bytes (%s)",
                      AT(K_MAX_VALUE), a);
    }
    /* A proposal carries a client request plus the server's own fields. */
    if (cfg->raft.max_msg_bytes < cfg->server.max_frame_bytes + 65536) {
        fmt_size(cfg->raft.max_msg_bytes, a, sizeof(a));
        fmt_size(cfg->server.max_frame_bytes, b, sizeof(b));
        return errorf(err, errlen,
                      "%s: %s: %s must be at least server.max_frame_bytes "
                      "(%s) + 64KiB so that every request fits in a Raft "
                      "message",
                      AT(K_MAX_MSG), a, b);
    }
    if (cfg->storage.wal_segment_bytes < cfg->raft.max_msg_bytes) {
        fmt_size(cfg->storage.wal_segment_bytes, a, sizeof(a));
        fmt_size(cfg->raft.max_msg_bytes, b, sizeof(b));
        return errorf(err, errlen,
                      "%s: %s: %s must be at least raft.max_msg_bytes (%s)",
                      AT(K_WAL_SEGMENT), a, b);
    }
    return 0;
}

static int check_lease(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300], a[32], b[32], c[32], d[32];
    uint64_t el = cfg->raft.election_timeout_ms;
    uint64_t tick = cfg->raft.tick_interval_ms;
    uint64_t drift = cfg->lease_read.clock_drift_ms;
    uint64_t lease = srv_config_lease_duration_ms(cfg);
    if (cfg->lease_read.read_mode == SRV_READ_MODE_LEASE &&
        !cfg->lease_read.enable)
        return errorf(err, errlen,
                      "%s: %s: lease needs lease_read.enable: true (or use "
                      "readindex)",
                      AT(K_READ_MODE));
    if (!cfg->lease_read.enable)
        return 0;
    if (lease == 0)
        return errorf(err, errlen,
                      "%s: %s: the default lease min(election_timeout/2, "
                      "3*heartbeat_interval) - clock_drift is not positive; "
                      "lower the drift or raise the timeouts",
                      AT(K_CLOCK_DRIFT));
    if (lease + drift >= el - tick) {
        int k = cfg->lease_read.lease_duration_ms ? K_LEASE_DURATION
                                                  : K_CLOCK_DRIFT;
        fmt_duration(lease, a, sizeof(a));
        fmt_duration(drift, b, sizeof(b));
        fmt_duration(el, c, sizeof(c));
        fmt_duration(tick, d, sizeof(d));
        return errorf(err, errlen,
                      "%s: %s: unsafe lease: lease_duration (%s) + "
                      "clock_drift (%s) must be less than "
                      "raft.election_timeout (%s) - raft.tick_interval (%s), "
                      "or a new leader could be elected while the old "
                      "lease still serves reads",
                      AT(k), a, b, c, d);
    }
    return 0;
}

/* One port's TLS keys: cert and key together, client auth needs a CA, and
 * (peer port) a CA is always needed, since a dialing member verifies. */
static int check_tls_port(const struct srv_config *cfg, int kcert, int kkey,
                          int kca, int kauth, bool need_ca, char *err,
                          size_t errlen)
{
    char o[300];
    const char *cert = field_cptr(cfg, kcert);
    const char *key = field_cptr(cfg, kkey);
    const char *ca = field_cptr(cfg, kca);
    bool auth;
    memcpy(&auth, field_cptr(cfg, kauth), sizeof(auth));
    if (cert[0] != '\0' && key[0] == '\0')
        return errorf(err, errlen, "%s: %s: is set but %s is not", AT(kcert),
                      keys[kkey].path);
    if (key[0] != '\0' && cert[0] == '\0')
        return errorf(err, errlen, "%s: %s: is set but %s is not", AT(kkey),
                      keys[kcert].path);
    if (cert[0] == '\0' && (ca[0] != '\0' || auth))
        return errorf(err, errlen,
                      "%s: %s: TLS is off on this port (set %s and %s)",
                      AT(ca[0] != '\0' ? kca : kauth), keys[kcert].path,
                      keys[kkey].path);
    if (auth && ca[0] == '\0')
        return errorf(err, errlen,
                      "%s: %s: needs %s (the CA that signs the certificates "
                      "to accept)",
                      AT(kauth), keys[kca].path);
    if (need_ca && cert[0] != '\0' && ca[0] == '\0')
        return errorf(err, errlen,
                      "%s: %s: peer TLS needs %s (each member verifies the "
                      "members it dials)",
                      AT(kcert), keys[kca].path);
    return 0;
}

static int check_tls(const struct srv_config *cfg, char *err, size_t errlen)
{
    int rc = check_tls_port(cfg, K_TLS_CERT, K_TLS_KEY, K_TLS_CA,
                            K_TLS_CLIENT_AUTH, false, err, errlen);
    if (rc < 0)
        return rc;
    rc = check_tls_port(cfg, K_TLS_PEER_CERT, K_TLS_PEER_KEY, K_TLS_PEER_CA,
                        K_TLS_PEER_CLIENT_AUTH, true, err, errlen);
    if (rc < 0)
        return rc;
    /* The HTTP port: its own files, or (all empty) the client port's. */
    return check_tls_port(cfg, K_TLS_HTTP_CERT, K_TLS_HTTP_KEY, K_TLS_HTTP_CA,
                          K_TLS_HTTP_CLIENT_AUTH, false, err, errlen);
}

static int check_ttl(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    const struct srv_config *c = cfg;
    if (c->ttl.min_ttl_ms < 1000 || c->ttl.min_ttl_ms % 1000 != 0)
        return errorf(err, errlen,
                      "%s: %s: must be a whole number of seconds, at least 1s",
                      AT(K_TTL_MIN));
    if (c->ttl.max_ttl_ms < c->ttl.min_ttl_ms ||
        c->ttl.max_ttl_ms > 9000000000ull * 1000u ||
        c->ttl.max_ttl_ms % 1000 != 0)
        return errorf(err, errlen,
                      "%s: %s: must be whole seconds between ttl.min_ttl and "
                      "9000000000s",
                      AT(K_TTL_MAX));
    if (c->ttl.max_leases < 1 || c->ttl.max_leases > 100000000)
        return errorf(err, errlen, "%s: %s: must be between 1 and 100000000",
                      AT(K_TTL_MAX_LEASES));
    if (c->ttl.checkpoint_interval_ms != 0 &&
        c->ttl.checkpoint_interval_ms < 1000)
        return errorf(err, errlen,
                      "%s: %s: must be 0 (off) or at least 1s",
                      AT(K_TTL_CHECKPOINT));
    return 0;
}

static int check_auth(const struct srv_config *cfg, char *err, size_t errlen)
{
    char o[300];
    const struct srv_config *c = cfg;
    if (c->auth.password_iterations < 1000 ||
        c->auth.password_iterations > 10000000)
        return errorf(err, errlen, "%s: %s: must be between 1000 and 10000000",
                      AT(K_AUTH_ITERATIONS));
    if (c->auth.max_failures < 1 || c->auth.max_failures > 1000)
        return errorf(err, errlen, "%s: %s: must be between 1 and 1000",
                      AT(K_AUTH_MAX_FAILURES));
    if (c->auth.lockout_ms < 10 || c->auth.lockout_ms > 3600u * 1000u)
        return errorf(err, errlen, "%s: %s: must be between 10ms and 1h",
                      AT(K_AUTH_LOCKOUT));
    if (c->auth.token_ttl_ms < 1000 || c->auth.token_ttl_ms > 86400u * 1000u)
        return errorf(err, errlen, "%s: %s: must be between 1s and 24h",
                      AT(K_AUTH_TOKEN_TTL));
    return 0;
}

static int check_compaction(const struct srv_config *cfg, char *err,
                            size_t errlen);

int srv_config_validate(const struct srv_config *cfg, char *err, size_t errlen)
{
    int (*const checks[])(const struct srv_config *, char *, size_t) = {
        check_node,    check_ranges, check_timing, check_listen,
        check_members, check_sizes,  check_lease,  check_tls,
        check_ttl,     check_http,   check_auth,
        check_compaction,
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int rc = checks[i](cfg, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (errlen > 0)
        err[0] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ */
/* Derived values                                                      */
/* ------------------------------------------------------------------ */

const char *srv_config_fsync_warning(const struct srv_config *cfg)
{
    if (cfg->storage.fsync)
        return NULL;
    return "WARNING: storage.fsync is false: writes are acknowledged before "
           "they are on disk, and a power failure or kernel crash can lose "
           "acknowledged writes or break Raft's safety. Use only for tests "
           "and benchmarks.";
}

uint64_t srv_config_lease_duration_ms(const struct srv_config *cfg)
{
    if (cfg->lease_read.lease_duration_ms != 0)
        return cfg->lease_read.lease_duration_ms;
    uint64_t half = cfg->raft.election_timeout_ms / 2;
    uint64_t three_hb = cfg->raft.heartbeat_interval_ms * 3;
    uint64_t base = half < three_hb ? half : three_hb;
    if (base <= cfg->lease_read.clock_drift_ms)
        return 0;
    return base - cfg->lease_read.clock_drift_ms;
}

uint64_t srv_config_cluster_id(const struct srv_config *cfg)
{
    if (cfg->cluster.cluster_id != 0)
        return cfg->cluster.cluster_id;
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 */
    for (const char *p = cfg->cluster.name; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

unsigned srv_config_election_ticks(const struct srv_config *cfg)
{
    if (cfg->raft.tick_interval_ms == 0)
        return 0;
    return (unsigned)(cfg->raft.election_timeout_ms /
                      cfg->raft.tick_interval_ms);
}

unsigned srv_config_heartbeat_ticks(const struct srv_config *cfg)
{
    if (cfg->raft.tick_interval_ms == 0)
        return 0;
    return (unsigned)(cfg->raft.heartbeat_interval_ms /
                      cfg->raft.tick_interval_ms);
}

const struct srv_member *srv_config_member(const struct srv_config *cfg,
                                           uint64_t id)
{
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++)
        if (cfg->cluster.members[i].id == id)
            return &cfg->cluster.members[i];
    return NULL;
}

int srv_addr_split(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon, *h = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        h = addr + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return -EINVAL;
        hl = (size_t)(colon - addr);
        if (memchr(addr, ':', hl) != NULL)
            return -EINVAL; /* a bare IPv6 address needs brackets */
    }
    uint64_t p;
    if (hl == 0 || hl >= hostlen || parse_u64(colon + 1, &p) < 0 || p > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Writing the config back as YAML                                     */
/* ------------------------------------------------------------------ */

struct out {
    char *buf;
    size_t cap;
    size_t len;
};

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* A YAML double-quoted string. */
static void out_quoted(struct out *o, const char *s)
{
    outf(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            outf(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            outf(o, "\\x%02x", c);
        else
            outf(o, "%c", c);
    }
    outf(o, "\"");
}

static void out_members(struct out *o, const struct srv_config *cfg, int indent)
{
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++) {
        const struct srv_member *m = &cfg->cluster.members[i];
        outf(o, "%*s- id: %llu\n", indent, "", (unsigned long long)m->id);
        outf(o, "%*s  name: ", indent, "");
        out_quoted(o, m->name);
        outf(o, "\n%*s  peer_addr: ", indent, "");
        out_quoted(o, m->peer_addr);
        outf(o, "\n%*s  client_addr: ", indent, "");
        out_quoted(o, m->client_addr);
        outf(o, "\n");
    }
}

static void out_value(struct out *o, const struct srv_config *cfg, int k)
{
    char v[40];
    bool b;
    switch (keys[k].type) {
    case T_U64:
        outf(o, "%llu", (unsigned long long)get_u64(cfg, k));
        break;
    case T_STR:
        out_quoted(o, field_cptr(cfg, k));
        break;
    case T_BOOL:
        memcpy(&b, field_cptr(cfg, k), sizeof(b));
        outf(o, "%s", b ? "true" : "false");
        break;
    case T_DUR:
        fmt_duration(get_u64(cfg, k), v, sizeof(v));
        outf(o, "\"%s\"", v);
        break;
    case T_SIZE:
        fmt_size(get_u64(cfg, k), v, sizeof(v));
        outf(o, "\"%s\"", v);
        break;
    case T_ENUM:
        outf(o, "%s", keys[k].names[get_enum(cfg, k)]);
        break;
    case T_MEMBERS:
        break;
    }
}

size_t srv_config_format(const struct srv_config *cfg, char *buf, size_t buflen)
{
    struct out o = {buf, buflen, 0};
    const char *prev = "";
    size_t prev_sect =
        0; /* length of prev's section part ("storage.rocksdb") */
    for (int k = 0; k < N_KEYS; k++) {
        const char *path = keys[k].path;
        const char *leaf = strrchr(path, '.') + 1;
        size_t sect = (size_t)(leaf - 1 - path);
        size_t start = 0;
        int level = 0;
        /* Open each section of the path that the previous key left. */
        for (size_t i = 0; i <= sect; i++) {
            if (i < sect && path[i] != '.')
                continue;
            bool open = prev_sect >= i && strncmp(prev, path, i) == 0 &&
                        (prev_sect == i || prev[i] == '.');
            if (!open)
                outf(&o, "%s%*s%.*s:\n", level == 0 && k ? "\n" : "", 2 * level,
                     "", (int)(i - start), path + start);
            level++;
            start = i + 1;
        }
        outf(&o, "%*s%s:", 2 * level, "", leaf);
        if (keys[k].type == T_MEMBERS) {
            outf(&o, "\n");
            out_members(&o, cfg, 2 * level + 2);
        } else {
            outf(&o, " ");
            out_value(&o, cfg, k);
            outf(&o, "\n");
        }
        prev = path;
        prev_sect = sect;
    }
    if (buflen > 0 && o.len >= buflen)
        buf[buflen - 1] = '\0';
    return o.len;
}

/* ------------------------------------------------------------------ */
/* Automatic compaction                                                */
/* ------------------------------------------------------------------ */

/* compaction.retention for the configured mode: *out in milliseconds
 * (periodic) or revisions (revision).  -EINVAL with a reason otherwise. */
static int parse_retention(const struct srv_config *cfg, uint64_t *out,
                           const char **why)
{
    const char *v = cfg->compaction.retention;
    switch (cfg->compaction.mode) {
    case SRV_COMPACTION_PERIODIC:
        if (parse_duration_ms(v, out, why) < 0)
            return -EINVAL;
        if (*out < 1000 || *out > 366ull * 86400u * 1000u) {
            *why = "must be a duration between 1s and 366 days in periodic "
                   "mode (e.g. 1h)";
            return -EINVAL;
        }
        return 0;
    case SRV_COMPACTION_REVISION:
        if (parse_u64(v, out) < 0 || *out < 1 || *out > 1000000000000ull) {
            *why = "must be a revision count between 1 and 1000000000000 in "
                   "revision mode (e.g. 10000)";
            return -EINVAL;
        }
        return 0;
    default:
        *out = 0;
        return 0;
    }
}

static int check_compaction(const struct srv_config *cfg, char *err,
                            size_t errlen)
{
    char o[300], q[80];
    uint64_t v;
    const char *why = "";
    if (parse_retention(cfg, &v, &why) < 0)
        return errorf(err, errlen, "%s: %s: %s %s", AT(K_COMPACTION_RETENTION),
                      quoted(cfg->compaction.retention, q, sizeof(q)), why);
    return 0;
}

uint64_t srv_config_compaction_retention(const struct srv_config *cfg)
{
    uint64_t v = 0;
    const char *why;
    return parse_retention(cfg, &v, &why) == 0 ? v : 0;
}
