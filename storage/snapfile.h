/*
 * snapfile.h - snapshot files of the memory mode (private to storage/ and
 * the server's node glue).
 *
 * A snapshot file holds the engine's serialized state after applying Raft
 * entries 1..index, written in chunks (by the local snapshotter, or as the
 * chunks of an InstallSnapshot arrive from the leader) and read back by
 * offset and length (to send it to a follower in chunks, or to restore it).
 * Files live in one directory, named
 *
 *     <index:16 hex>-<term:16 hex>.snap
 *
 * and are created as "<name>.tmp", fsync'd, renamed into place and the
 * directory fsync'd: a file with the final name is always complete.  The
 * data comes first; a trailer holds the metadata (index, term, the cluster
 * configuration, data size, CRC-32C of the data, up to SNAPFILE_APP_MAX
 * bytes for the engine) with its own CRC.  Opening a snapshot checks both
 * CRCs, so a damaged file is reported as WAL_ECORRUPT, never served.
 *
 * Order with the WAL: commit the snapshot file, then wal_mark_snapshot() and
 * sync, then wal_release_before() and snapfile_remove_older().
 *
 * Errors: 0, a negative WAL_E* code (wal.h; WAL_ENOSNAPSHOT when there is
 * none) or -errno.  Writers and readers are single-threaded objects, but
 * different ones may be used from different threads at once (a reader
 * sending the newest snapshot while a writer makes the next one).
 */
#ifndef METASTORE_STORAGE_SNAPFILE_H
#define METASTORE_STORAGE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "storage/wal.h"

/* Room for the engine's own metadata (format version, revision, ...). */
#define SNAPFILE_APP_MAX 256u

struct snapfile_meta {
    struct raft_snapshot_meta raft; /* index, term, conf, size */
    uint32_t data_crc32c;
    uint32_t app_len;
    uint8_t app[SNAPFILE_APP_MAX];
};

struct snapfile_writer;
struct snapfile_reader;

/*
 * Starts snapshot (index, term) in `dir` (created if needed): opens
 * "<name>.tmp", truncating one left by an earlier attempt.  One writer per
 * (index, term) at a time.  index >= 1.  On success *out owns the writer:
 * end it with snapfile_writer_commit() or snapfile_writer_abort().
 */
int snapfile_writer_open(const char *dir, raft_index index, raft_term term,
                         struct snapfile_writer **out);

/* Appends buf[0..len) to the data. */
int snapfile_writer_write(struct snapfile_writer *sw, const void *buf,
                          size_t len);

/* Bytes of data written so far (the offset the next chunk must have). */
uint64_t snapfile_writer_size(const struct snapfile_writer *sw);

/*
 * Writes the trailer (conf, app[0..app_len) with app_len <=
 * SNAPFILE_APP_MAX; app may be NULL when app_len is 0), fsyncs, renames the
 * file into place and fsyncs the directory.  Always ends the writer (on
 * failure the temporary file is removed).  *meta_out (may be NULL) gets the
 * metadata as stored.
 */
int snapfile_writer_commit(struct snapfile_writer *sw,
                           const struct raft_conf *conf, const void *app,
                           size_t app_len, struct snapfile_meta *meta_out);

/* Ends the writer and removes its temporary file. */
void snapfile_writer_abort(struct snapfile_writer *sw);

/*
 * Opens the newest complete snapshot in `dir` (largest index, then term),
 * checking the trailer's CRC and, by reading it all once, the data's CRC.
 * *meta gets its metadata; *out owns the reader (snapfile_close()).
 * WAL_ENOSNAPSHOT when the directory has none (or does not exist),
 * WAL_ECORRUPT (with the file name in *msg when msg is non-NULL, cap
 * msg_cap) when the newest is damaged: an older one is NOT used instead,
 * since the WAL may already have released the entries it would need.
 * Temporary files are ignored (see snapfile_remove_temp()).
 */
int snapfile_open_newest(const char *dir, struct snapfile_reader **out,
                         struct snapfile_meta *meta, char *msg, size_t msg_cap);

/* The metadata of an open snapshot. */
const struct snapfile_meta *
snapfile_reader_meta(const struct snapfile_reader *sr);

/*
 * Copies up to `cap` data bytes from `offset` into buf; *n gets the count
 * (0 at the end).  WAL_EINVAL when offset is beyond the data size.
 */
int snapfile_read(struct snapfile_reader *sr, uint64_t offset, void *buf,
                  size_t cap, size_t *n);

void snapfile_close(struct snapfile_reader *sr);

/*
 * Deletes all but the `keep` newest complete snapshot files (keep >= 1,
 * WAL_EINVAL otherwise), then fsyncs the directory.  Files still open
 * stay readable until closed (POSIX unlink semantics).  *n_deleted may be
 * NULL.
 */
int snapfile_remove_older(const char *dir, size_t keep, size_t *n_deleted);

/*
 * Deletes temporary files left by a crash before a commit.  Call at
 * startup, before any writer is opened (it would delete a live writer's
 * file).
 */
int snapfile_remove_temp(const char *dir, size_t *n_deleted);

#endif /* METASTORE_STORAGE_SNAPFILE_H */
