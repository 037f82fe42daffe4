/*
 * wal.h - the segmented write-ahead log of the memory mode (private to
 * storage/ and the server's node glue).
 *
 * The WAL makes the Raft log and hard state of a node durable.  It holds
 * three kinds of record: a log entry, a hard state (term, vote, commit) and
 * a snapshot marker (index and term of the newest snapshot file, which
 * covers every entry up to that index).  Records are appended to numbered
 * segment files in one directory:
 *
 *     <seq:16 hex>-<first index:16 hex>.wal
 *
 * `seq` counts segments from 1 without gaps; `first index` is the index the
 * segment's first entry was expected to have when it was created (a hint
 * for people; recovery trusts the records).  A segment is closed once it
 * passes wal_options.segment_bytes, and every new segment starts with the
 * newest hard state and snapshot marker, so deleting old segments never
 * loses them.
 *
 * Restart:
 *     wal_open(dir, &opts, &w, &rec)   -> rec: hard state, snapshot marker,
 *                                         entries after the marker
 *     snapfile_open_newest(...)         -> snapshot matching rec.snap_index
 *     build a raft_memstore: set_snapshot, append(rec.entries), hard state
 *     wal_recovery_free(&rec)
 *
 * Writing (one loop thread, one worker thread at a time; no locks inside):
 *
 *     loop thread                       worker (libuv thread pool)
 *     -----------                       --------------------------
 *     wal_append_entries / wal_set_hard_state / wal_mark_snapshot
 *       (buffer records in the ACTIVE buffer, any time)
 *     wal_prepare_sync(w)  -- the active buffer becomes the PENDING one,
 *                             a fresh active buffer takes new records
 *     uv_queue_work(...)   ---------->  wal_sync_prepared(w):
 *     (keeps buffering into                 write PENDING to the segments,
 *      the active buffer)                   rolling over as needed, then
 *                                           fdatasync
 *     after-work callback  <----------
 *     wal_sync_done(w)      -- result of the sync; PENDING is emptied
 *
 * Between wal_prepare_sync() and wal_sync_done() the worker owns the
 * pending buffer, the segment files and the on-disk state; the loop thread
 * owns the active buffer.  The two never touch the same fields, so no lock
 * is needed; the hand-off itself (uv_queue_work and its after-work
 * callback, or a mutex/condition variable, or pthread_create/join) must give
 * the happens-before ordering, as all of those do.  Only one sync may be in
 * flight (WAL_EBUSY otherwise); group commit is the caller's: records
 * buffered while a sync runs go out with the next one.
 *
 * Records buffered but not yet synced are lost by a crash and discarded by
 * wal_close().  A record counts as durable once the wal_sync_done() of the
 * sync that took it (the first wal_prepare_sync() after it was buffered)
 * has returned 0.
 *
 * Failure: a failed write or fdatasync leaves the files in an unknown state
 * (after a failed fsync the kernel may have dropped the dirty pages), so the
 * WAL refuses all further writes with WAL_EFAILED; the process must reopen
 * it (which recovers what reached the disk) or stop.
 *
 * Errors: functions return 0, a negative WAL_E* code, or -errno for a
 * system call that failed.  wal_strerror() names both.
 */
#ifndef METASTORE_STORAGE_WAL_H
#define METASTORE_STORAGE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define WAL_ERRORS(X)                                                          \
    X(WAL_ENOMEM, -3001, "out of memory")                                      \
    X(WAL_EINVAL, -3002, "invalid argument")                                   \
    X(WAL_ECORRUPT, -3003, "write-ahead log or snapshot file is corrupt")      \
    X(WAL_EBUSY, -3004, "a sync is in flight")                                 \
    X(WAL_EFAILED, -3005, "an earlier write or sync failed; reopen the WAL")   \
    X(WAL_ETOOBIG, -3006, "record too large")                                  \
    X(WAL_ENOSNAPSHOT, -3007, "no snapshot file")                              \
    X(WAL_ELOCKED, -3008, "the WAL directory is in use by another process")

enum wal_error {
#define WAL__ERR_ENUM(name, value, text) name = value,
    WAL_ERRORS(WAL__ERR_ENUM)
#undef WAL__ERR_ENUM
};

/*
 * Text for a WAL_E* code or a -errno value (strerror), "unknown error"
 * otherwise.  Never NULL.  Thread-safe.
 */
const char *wal_strerror(int err);

/* Default segment size: a segment is closed once it passes this. */
#define WAL_DEFAULT_SEGMENT_BYTES (64u * 1024u * 1024u)

/* Receives one human-readable line about something recovery did. */
typedef void (*wal_log_cb)(void *data, const char *msg);

struct wal_options {
    uint64_t segment_bytes; /* 0: WAL_DEFAULT_SEGMENT_BYTES; minimum 512 */
    wal_log_cb log;         /* optional: told about a cut torn tail */
    /* Skip the fdatasync of each sync (storage.fsync: false).  Records then
     * survive a process crash (they reached the page cache) but not a power
     * failure.  Segment creation and rollover still sync. */
    bool no_sync;
    void *log_data;
};

/*
 * What wal_open() found.  Owned by the caller once wal_open() returns 0;
 * free with wal_recovery_free().
 */
struct wal_recovery {
    bool has_hard_state;
    struct raft_hard_state hs; /* the newest one recorded */
    raft_index snap_index;     /* newest snapshot marker; 0: none */
    raft_term snap_term;
    /* Entries snap_index+1 .. in order, contiguous; each data is malloc'd
     * (NULL when len is 0) and owned by this struct. */
    struct raft_entry *entries;
    size_t n_entries;
    /* A torn or corrupt tail was cut from the last segment. */
    bool tail_cut;
    uint64_t tail_cut_bytes;
    uint64_t n_segments; /* segment files found (after recovery) */
    /* On WAL_ECORRUPT (and after a tail cut): which file and offset. */
    char msg[320];
};

void wal_recovery_free(struct wal_recovery *rec);

struct wal;

/*
 * Opens (creating `dir` and its first segment if needed) the WAL in `dir`
 * and recovers it into *rec (rec->msg is set even on failure).  Segments are
 * read in order; every record is checked (length, CRC-32C, type, body).
 * Temporary files left by a crash are removed.  The directory is locked
 * (flock on "<dir>/LOCK") until wal_close(): WAL_ELOCKED if another open
 * WAL holds it.  The last segment is fdatasync'd before its contents are
 * trusted (a crashed process may have left them only in the page cache).
 *
 * A bad record in the LAST segment with no valid record after it is a torn
 * write: the segment is truncated at the last good record, rec->tail_cut is
 * set and opts->log is told.  Anything else is corruption and returns
 * WAL_ECORRUPT with the file name and offset in rec->msg: a bad record
 * followed by a valid one, a bad record in an earlier segment, a missing
 * segment, a bad segment header, an entry that leaves a gap.
 *
 * On success *out owns a new WAL (wal_close()); new records go after the
 * recovered ones.  opts may be NULL (defaults).
 */
int wal_open(const char *dir, const struct wal_options *opts, struct wal **out,
             struct wal_recovery *rec);

/*
 * Closes the files and frees `w`.  Records not yet synced are discarded.
 * Precondition: no sync in flight.
 */
void wal_close(struct wal *w);

/*
 * Buffer records (loop thread; allowed while a sync is in flight).  Nothing
 * is written until the next sync.  Entries: e[0..n) must have contiguous
 * indexes >= 1, and e[0].index may not leave a gap after the last entry
 * appended (or the last snapshot marker, if higher); like
 * raft_memstore_append(), entry e[0].index and everything after it
 * replaces what the log held from there.  The data is copied.
 * WAL_EINVAL, WAL_ETOOBIG (an entry above 4 GiB - 64), WAL_ENOMEM (nothing
 * buffered then), WAL_EFAILED.
 */
int wal_append_entries(struct wal *w, const struct raft_entry *e, size_t n);
int wal_set_hard_state(struct wal *w, const struct raft_hard_state *hs);
/*
 * Records that a snapshot file with this index and term is durable (write
 * the snapshot file first).  On recovery, entries up to `index` are dropped;
 * if the log then holds entry `index` with another term (a snapshot from the
 * leader replacing a conflicting log), the whole log is dropped, as
 * raft_memstore_set_snapshot() does.  index >= 1.
 */
int wal_mark_snapshot(struct wal *w, raft_index index, raft_term term);

/* True when records are buffered and not yet taken by a sync. */
bool wal_has_pending(const struct wal *w);
/* Bytes buffered in the active buffer (for batching decisions). */
size_t wal_buffered_bytes(const struct wal *w);

/*
 * Loop thread: takes every buffered record into the sync about to start.
 * Returns 1 when there is something to write, 0 when there is nothing (no
 * sync started; do not call wal_sync_prepared()), WAL_EBUSY when a sync is
 * already in flight, WAL_EFAILED.
 */
int wal_prepare_sync(struct wal *w);

/*
 * Any one thread (the worker): writes the records taken by
 * wal_prepare_sync() and fdatasyncs them, creating new segments (fsync of
 * the directory included) as the size limit is passed.  Returns 0 or the
 * error; the same value is returned again by wal_sync_done().
 */
int wal_sync_prepared(struct wal *w);

/*
 * Loop thread, after wal_sync_prepared() has returned (and the hand-off has
 * made its effects visible): ends the sync.  Returns its result; on 0 every
 * record taken by the matching wal_prepare_sync() is durable.
 */
int wal_sync_done(struct wal *w);

/*
 * wal_prepare_sync() + wal_sync_prepared() + wal_sync_done() on the calling
 * thread (tests, startup, shutdown).  0 when there was nothing to sync.
 */
int wal_sync(struct wal *w);

/*
 * Deletes the oldest segments whose every entry has index <= `index`
 * (never the segment being written), oldest first, then fsyncs the
 * directory.  `index` must not exceed the newest DURABLE snapshot marker
 * (WAL_EINVAL otherwise): entries are only released once a snapshot covers
 * them.  Must not overlap a sync (WAL_EBUSY): run it on the loop thread
 * between syncs, or on the worker right after wal_sync_prepared().
 * *n_deleted (may be NULL) gets the number of files removed.
 */
int wal_release_before(struct wal *w, raft_index index, size_t *n_deleted);

/* Number of segment files the WAL consists of now.  Not during a sync. */
size_t wal_segment_count(const struct wal *w);

/* ---- shared with snapfile.c (module-internal) ---------------------- */

/* mkdir -p: creates `dir` and missing parents (mode 0755).  0 or -errno. */
int wal__mkdir_p(const char *dir);
/* fsync of a directory, making creates, renames and unlinks in it durable. */
int wal__fsync_dir(const char *dir);
/* pwrite of all `len` bytes at `off` (retrying short writes and EINTR). */
int wal__pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Parses "<16 hex>-<16 hex><suffix>" exactly (lowercase hex). */
bool wal__parse_name(const char *name, const char *suffix, uint64_t *a,
                     uint64_t *b);
/* pread of exactly `len` bytes at `off`; WAL_ECORRUPT on a short file. */
int wal__pread_all(int fd, void *buf, size_t len, uint64_t off);

#endif /* METASTORE_STORAGE_WAL_H */
