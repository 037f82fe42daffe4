/*
 * logstore.h - where a node keeps its Raft log and hard state.
 *
 * Two implementations behind one small interface, chosen by
 * storage.engine:
 *
 *   memory   the segmented WAL of storage/wal.h (<data_dir>/wal/)
 *   rocksdb  the raftlog and raftstate column families of the RocksDB
 *            engine's own database (storage/rocksdb.h), so one fsync of
 *            RocksDB's WAL makes log entries durable together with every
 *            state-machine write before them
 *
 * Both buffer records on the loop thread and write them in one sync on a
 * worker thread (group commit), with the WAL's contract: prepare on the
 * loop thread, sync_prepared on one worker, sync_done back on the loop
 * thread; records buffered meanwhile go out with the next sync.  Recovery
 * fills a struct wal_recovery in both cases: the newest hard state, the
 * newest snapshot marker, the entries after it.
 *
 * Errors: 0 or a negative code; srv_logstore_strerror() names it.
 */
#ifndef METASTORE_SERVER_LOGSTORE_H
#define METASTORE_SERVER_LOGSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "raft/raft.h"
#include "storage/engine.h"
#include "storage/wal.h"

struct srv_logstore;

/* Opens the WAL in dir (see wal_open()). */
int srv_logstore_open_wal(const char *dir, const struct wal_options *opts,
                          struct srv_logstore **out,
                          struct wal_recovery *rec);
/* Uses the raft column families of an open RocksDB engine `e` (which must
 * outlive the log store).  no_sync (storage.fsync: false): syncs write to
 * RocksDB's WAL without fsync. */
int srv_logstore_open_rocksdb(struct engine *e, bool no_sync,
                              struct srv_logstore **out,
                              struct wal_recovery *rec);
void srv_logstore_close(struct srv_logstore *ls);

/* Loop thread, any time: buffer records (copied). */
int srv_logstore_append(struct srv_logstore *ls, const struct raft_entry *e,
                        size_t n);
int srv_logstore_set_hard_state(struct srv_logstore *ls,
                                const struct raft_hard_state *hs);
int srv_logstore_mark_snapshot(struct srv_logstore *ls, raft_index index,
                               raft_term term);
bool srv_logstore_has_pending(const struct srv_logstore *ls);

/* The three steps of a sync, and all three at once (see wal.h). */
int srv_logstore_prepare_sync(struct srv_logstore *ls);
int srv_logstore_sync_prepared(struct srv_logstore *ls);
int srv_logstore_sync_done(struct srv_logstore *ls);
int srv_logstore_sync(struct srv_logstore *ls);

/* Forgets entries <= index (covered by a durable snapshot marker); loop
 * thread, no sync in flight.  *n_released: segments or entries dropped. */
int srv_logstore_release_before(struct srv_logstore *ls, raft_index index,
                                size_t *n_released);

const char *srv_logstore_strerror(int err);

#endif /* METASTORE_SERVER_LOGSTORE_H */
