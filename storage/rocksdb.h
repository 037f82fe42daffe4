/*
 * The RocksDB storage engine (private to storage/ and the server's node
 * glue; the lead may move engine_rocksdb_open() into engine.h).
 *
 * engine_rocksdb_open() returns a struct engine with exactly the MVCC
 * semantics of the memory engine (storage/engine.h); the same conformance
 * suite runs on both.  Everything lives in one RocksDB database in
 * engine_options.path, in column families (layout in docs/storage.md):
 *
 *   kv         MVCC records: escaped user key, terminator, inverted
 *              big-endian revision -> version, create, lease, value
 *   meta       revision, compact revision, applied index and counters,
 *              written in the SAME WriteBatch as the data they describe
 *   raftlog    Raft entries by big-endian index (engine_rocksdb_log_*)
 *   raftstate  the Raft hard state and small blobs (engine_rocksdb_state_*)
 *
 * Durability: state-machine writes go out with sync=false (the Raft log
 * replays them after a machine crash; a process crash loses nothing that
 * was written).  Raft log and hard state writes take a `sync` flag; with
 * sync=true the shared WAL is fsync'd, which also makes every earlier
 * state-machine write durable.
 *
 * Threading: like every engine, one thread owns the engine.  The raft log
 * and raft state functions touch only the raft column families and their
 * own cached bounds, so the owner may hand them to ONE worker thread at a
 * time (a sync in flight, as with the WAL) while the loop thread keeps
 * using the kv functions: RocksDB itself is thread-safe.
 *
 * The data directory holds a marker file "ENGINE" containing "rocksdb".
 * Opening a directory whose marker names another engine fails with
 * ENGINE_EINVAL (and a message in err_buf); a directory without a marker
 * gets one.
 */
#ifndef METASTORE_STORAGE_ROCKSDB_H
#define METASTORE_STORAGE_ROCKSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "storage/engine.h"

enum engine_rocksdb_compression {
    ENGINE_ROCKSDB_COMPRESSION_DEFAULT = 0, /* lz4 if linked in, else none */
    ENGINE_ROCKSDB_COMPRESSION_NONE = 1,
    ENGINE_ROCKSDB_COMPRESSION_SNAPPY = 2,
    ENGINE_ROCKSDB_COMPRESSION_LZ4 = 3,
    ENGINE_ROCKSDB_COMPRESSION_ZSTD = 4,
};

/* Tuning beyond engine_options; zero-initialise for the defaults. */
struct engine_rocksdb_options {
    uint64_t block_cache_bytes;  /* 0 = 64 MiB (shared by all CFs) */
    uint64_t write_buffer_bytes; /* 0 = 16 MiB memtable per CF */
    enum engine_rocksdb_compression compression;
    int max_background_jobs; /* 0 = 2 flush + compaction threads */
    /* Record revisions engine_compact() examines itself before returning;
     * the rest is left to engine_rocksdb_compact_step().  0 = 10000. */
    uint32_t compact_budget;
    /* Optional: a human-readable reason when open fails. */
    char *err_buf;
    size_t err_buf_len;
};

/*
 * Opens (creating if needed) the RocksDB engine in opts->path (required).
 * ropts may be NULL for the defaults.  An explicit compression the library
 * lacks fails with ENGINE_EINVAL.  Errors: ENGINE_EINVAL (no path, a
 * marker of another engine, bad options), ENGINE_EIO (RocksDB refused to
 * open, e.g. the directory is locked by another process, or metadata is
 * corrupt), ENGINE_ENOMEM, -errno for the directory or marker file.
 * *out must be released with engine_close(), which closes the database.
 */
int engine_rocksdb_open_ex(const struct engine_options *opts,
                           const struct engine_rocksdb_options *ropts,
                           struct engine **out);
/* The same with default tuning. */
int engine_rocksdb_open(const struct engine_options *opts, struct engine **out);

/* "none", "snappy", "lz4", "zstd" (or "" / "default").  ENGINE_EINVAL for
 * anything else.  For configuration loaders. */
int engine_rocksdb_parse_compression(const char *name,
                                     enum engine_rocksdb_compression *out);

/* True when e was opened by engine_rocksdb_open*(); every function below
 * returns ENGINE_EINVAL (or 0 / false) for another engine. */
bool engine_rocksdb_is(const struct engine *e);

/* ---- background compaction ---------------------------------------------- */

/*
 * engine_compact() records the compact revision at once (reads below it
 * fail from then on, exactly as in the memory engine) and deletes
 * superseded revisions for up to compact_budget records.  What is left is
 * deleted by this function, at most about `budget` records per call, each
 * step one atomic WriteBatch that also moves a cursor in meta (so a
 * restart resumes).  The server calls it from an idle handle while
 * engine_rocksdb_compact_pending() is true.  Returns 1 when work remains,
 * 0 when none does, ENGINE_EIO.  Observable results never depend on how
 * far it got; only stats.revisions/approx_bytes shrink as it goes.
 */
int engine_rocksdb_compact_step(struct engine *e, uint32_t budget);
bool engine_rocksdb_compact_pending(const struct engine *e);

/* Bytes of every file in the data directory (SST files, WAL, manifest):
 * the size on disk, for metrics.  0 on error. */
uint64_t engine_rocksdb_disk_bytes(struct engine *e);

/* ---- Raft log and hard state (column families raftlog, raftstate) ------- */

/*
 * Appends entries[0..n) (consecutive indexes).  Like Raft, an append at
 * index i replaces every stored entry >= i.  The first append to an empty
 * log may start anywhere; later ones must start at <= last + 1 and >=
 * first (ENGINE_EINVAL otherwise, nothing written).  sync=true returns only
 * once the entries are on disk.  entry data is copied.  ENGINE_EIO.
 */
int engine_rocksdb_log_append(struct engine *e,
                              const struct raft_entry *entries, size_t n,
                              bool sync);
/* Stored index bounds; both 0 when the log is empty. */
void engine_rocksdb_log_bounds(const struct engine *e, raft_index *first,
                               raft_index *last);
/* Entry `index`; its data is copied into the arena.  ENGINE_ENOTFOUND
 * outside the bounds, ENGINE_EIO (a malformed record included),
 * ENGINE_ENOMEM. */
int engine_rocksdb_log_get(struct engine *e, raft_index index,
                           struct engine_arena *a, struct raft_entry *out);
/* Deletes every entry <= index (after a snapshot), or the whole log when
 * index >= last.  ENGINE_EIO. */
int engine_rocksdb_log_truncate_prefix(struct engine *e, raft_index index,
                                       bool sync);
/* Deletes every entry >= index.  ENGINE_EIO. */
int engine_rocksdb_log_truncate_suffix(struct engine *e, raft_index index,
                                       bool sync);

/* Stores / loads the hard state.  load: ENGINE_ENOTFOUND before the first
 * save, ENGINE_EIO on a malformed record. */
int engine_rocksdb_hard_state_save(struct engine *e,
                                   const struct raft_hard_state *hs, bool sync);
int engine_rocksdb_hard_state_load(struct engine *e,
                                   struct raft_hard_state *hs);

/* Small named blobs in raftstate (snapshot metadata, membership): name is
 * a NUL-terminated string not starting with "hardstate"; get copies the
 * value into the arena.  ENGINE_ENOTFOUND, ENGINE_EIO, ENGINE_ENOMEM. */
int engine_rocksdb_state_put(struct engine *e, const char *name,
                             const void *value, size_t len, bool sync);
int engine_rocksdb_state_get(struct engine *e, const char *name,
                             struct engine_arena *a, const void **value,
                             size_t *len);

/* ---- an application blob kept atomically with the applied index -------- */

/*
 * Stages one blob (the server keeps its TTL lease table there) to be written
 * in meta, in the same WriteBatch as the NEXT write that records an applied
 * index (put, delete_range, txn, compact, mark_applied), so a restart finds
 * the blob exactly as of engine_applied_index().  A later stage before that
 * write replaces the earlier one.  value is copied.  ENGINE_EINVAL for
 * another engine, ENGINE_ENOMEM.
 */
int engine_rocksdb_aux_stage(struct engine *e, const void *value, size_t len);
/* The last blob written; copied into the arena.  ENGINE_ENOTFOUND when none
 * was ever written, ENGINE_EIO, ENGINE_ENOMEM. */
int engine_rocksdb_aux_get(struct engine *e, struct engine_arena *a,
                           const void **value, size_t *len);
/* The same pair for a second blob (the server's auth table, server/auth_glue.c),
 * written in the same batch when both are staged. */
int engine_rocksdb_aux_auth_stage(struct engine *e, const void *value,
                                  size_t len);
int engine_rocksdb_aux_auth_get(struct engine *e, struct engine_arena *a,
                                const void **value, size_t *len);

#endif /* METASTORE_STORAGE_ROCKSDB_H */
