/*
 * recover.c - metastored's storage at start-up, and local snapshots.
 *
 * Layout of the data directory (memory engine):
 *
 *     <data_dir>/wal/    WAL segments: Raft log entries, hard state,
 *                        snapshot markers (storage/wal.h)
 *     <data_dir>/snap/   snapshot files of the engine (storage/snapfile.h)
 *
 * Start-up: open the WAL (a torn tail is cut and logged; corruption in the
 * middle stops the node with the file and offset), open the newest snapshot
 * file and restore the engine from it, then load the WAL's hard state and
 * the entries after the snapshot into the memstore the Raft core reads.
 * The core then hands out again every committed entry after the snapshot,
 * and the engine applies exactly those (its applied index is the
 * snapshot's).
 *
 * Snapshots: every raft.snapshot_entries applied entries the engine is
 * written to a new snapshot file (fsync'd and renamed into place), the WAL
 * records a marker for it, and WAL segments and older snapshot files that
 * it covers are deleted.  The snapshot is written on the loop thread: the
 * memory engine has no point-in-time view another thread could read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/auth_glue.h"
#include "server/log.h"
#include "server/server.h"
#include "server/autocompact_glue.h"
#include "server/ttl_glue.h"
#include "storage/rocksdb.h"

/* ---- the core's storage: memstore + snapshot file ------------------------ */

static int st_snapshot_meta(void *data, struct raft_snapshot_meta *out)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    int rv = ms.snapshot_meta(ms.data, out);
    if (rv == 0 && s->snap_reader != NULL) {
        const struct snapfile_meta *m = snapfile_reader_meta(s->snap_reader);
        if (m->raft.index == out->index) {
            out->size = m->raft.size;
        }
    }
    return rv;
}

static int st_snapshot_read(void *data, raft_index snap_index, uint64_t offset,
                            void *buf, size_t cap, size_t *n, bool *last)
{
    struct srv *s = data;
    if (s->snap_reader == NULL ||
        snapfile_reader_meta(s->snap_reader)->raft.index != snap_index) {
        return RAFT_ESNAPSHOT;
    }
    uint64_t size = snapfile_reader_meta(s->snap_reader)->raft.size;
    if (snapfile_read(s->snap_reader, offset, buf, cap, n) != 0) {
        return RAFT_ESNAPSHOT;
    }
    *last = offset + *n >= size;
    return 0;
}

/* The memstore's functions take the memstore; ours take the server. */
static int st_initial_state(void *data, struct raft_hard_state *hs,
                            struct raft_snapshot_meta *snap)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    int rv = ms.initial_state(ms.data, hs, snap);
    if (rv == 0) {
        rv = st_snapshot_meta(data, snap);
    }
    return rv;
}

static raft_index st_first_index(void *data)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    return ms.first_index(ms.data);
}

static raft_index st_last_index(void *data)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    return ms.last_index(ms.data);
}

static int st_term(void *data, raft_index i, raft_term *out)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    return ms.term(ms.data, i, out);
}

static int st_entries(void *data, raft_index lo, raft_index hi,
                      uint64_t max_bytes, struct raft_entry *out, size_t *n)
{
    struct srv *s = data;
    struct raft_storage ms = raft_memstore_storage(s->ms);
    return ms.entries(ms.data, lo, hi, max_bytes, out, n);
}

/* ---- start-up ------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
    char tmp[SRV_CONFIG_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

static void wal_log(void *data, const char *msg)
{
    (void)data;
    ms_warn("wal: %s", msg);
}

static ssize_t snap_read_cb(void *ctx, void *buf, size_t cap)
{
    struct {
        struct snapfile_reader *r;
        uint64_t off;
    } *rc = ctx;
    size_t n = 0;
    int rv = snapfile_read(rc->r, rc->off, buf, cap, &n);
    if (rv != 0) {
        return rv;
    }
    rc->off += n;
    return (ssize_t)n;
}

/* Restores the member table and the engine from a snapshot file: the
 * stream is the member section followed by the engine's data. */
static int restore_from_reader(struct srv *s, struct snapfile_reader *r)
{
    struct {
        struct snapfile_reader *r;
        uint64_t off;
    } rc = {r, 0};
    raft_index index = snapfile_reader_meta(r)->raft.index;
    int rv = srv_members_load(&s->members, snap_read_cb, &rc);
    if (rv != 0) {
        ms_error("snapshot %llu: member table unreadable (%d)",
                 (unsigned long long)index, rv);
        return WAL_ECORRUPT;
    }
    /* TTL leases: a persistent engine past the snapshot keeps its own. */
    bool past = engine_applied_index(s->eng) >= index;
    rv = srv_ttl_snapshot_load(s, r, &rc.off, !past);
    if (rv != 0) {
        ms_error("snapshot %llu: TTL lease table unreadable (%d)",
                 (unsigned long long)index, rv);
        return rv;
    }
    rv = srv_auth_snapshot_load(s, r, &rc.off, !past);
    if (rv != 0) {
        ms_error("snapshot %llu: auth table unreadable (%d)",
                 (unsigned long long)index, rv);
        return rv;
    }
    if (past) {
        return 0; /* a persistent engine that is already past the snapshot */
    }
    rv = engine_snapshot_restore(s->eng, snap_read_cb, &rc);
    if (rv != 0) {
        ms_error("cannot restore the engine from snapshot %llu: %s",
                 (unsigned long long)index, engine_strerror(rv));
    }
    if (rv == 0) {
        rv = srv_ttl_persist(s);
    }
    if (rv == 0) {
        rv = srv_auth_persist(s);
    }
    return rv;
}

/* Restores the engine from the newest snapshot file, if there is one. */
static int load_snapshot(struct srv *s, raft_index wal_marker)
{
    struct snapfile_meta meta;
    char msg[256] = "";
    int rv = snapfile_open_newest(s->snap_dir, &s->snap_reader, &meta, msg,
                                  sizeof msg);
    if (rv == WAL_ENOSNAPSHOT) {
        s->snap_reader = NULL;
        if (wal_marker != 0) {
            ms_error("the WAL refers to snapshot %llu but %s holds none",
                     (unsigned long long)wal_marker, s->snap_dir);
            return WAL_ECORRUPT;
        }
        return 0;
    }
    if (rv != 0) {
        ms_error("cannot open the newest snapshot in %s: %s %s", s->snap_dir,
                 wal_strerror(rv), msg);
        return rv;
    }
    if (meta.raft.index < wal_marker) {
        ms_error("the WAL refers to snapshot %llu but the newest in %s is %llu",
                 (unsigned long long)wal_marker, s->snap_dir,
                 (unsigned long long)meta.raft.index);
        return WAL_ECORRUPT;
    }
    rv = restore_from_reader(s, s->snap_reader);
    if (rv != 0) {
        return rv;
    }
    struct raft_snapshot_meta rm = meta.raft;
    rm.size = 0; /* the data stays in the file; see st_snapshot_read */
    rv = raft_memstore_set_snapshot(s->ms, &rm, NULL);
    if (rv != 0) {
        return rv;
    }
    s->applied_conf = meta.raft.conf;
    s->applied_term = meta.raft.term;
    s->last_snapshot_index = meta.raft.index;
    ms_info("restored snapshot at index %llu (term %llu, %llu bytes)",
            (unsigned long long)meta.raft.index,
            (unsigned long long)meta.raft.term,
            (unsigned long long)meta.raft.size);
    return 0;
}

/*
 * The data dir names the engine that wrote it (file ENGINE), so that a node
 * restarted with the other engine refuses to start instead of serving an
 * empty store.
 */
static int check_engine_marker(struct srv *s, const char *engine)
{
    char path[SRV_CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/ENGINE", s->cfg.node.data_dir);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char have[32] = "";
        if (fgets(have, sizeof have, f) == NULL) {
            have[0] = '\0';
        }
        fclose(f);
        have[strcspn(have, "\r\n")] = '\0';
        if (strcmp(have, engine) != 0) {
            ms_error("data dir %s holds data of the %s engine, but "
                     "storage.engine is %s; use the engine that wrote it or an "
                     "empty data dir",
                     s->cfg.node.data_dir, have, engine);
            return -EINVAL;
        }
        return 0;
    }
    f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%s\n", engine) < 0 || fclose(f) != 0) {
        ms_error("cannot write %s: %s", path, strerror(errno));
        return -errno;
    }
    return 0;
}

/* Opens the engine and the log store the configuration names. */
static int open_storage(struct srv *s, struct wal_recovery *rec)
{
    const bool rocks = s->cfg.storage.engine == SRV_ENGINE_ROCKSDB;
    int rv = check_engine_marker(s, rocks ? "rocksdb" : "memory");
    if (rv != 0) {
        return rv;
    }
    memset(rec, 0, sizeof *rec);
    if (!rocks) {
        snprintf(s->wal_dir, sizeof s->wal_dir, "%s/wal", s->cfg.node.data_dir);
        struct wal_options wo = {
            .segment_bytes = s->cfg.storage.wal_segment_bytes,
            .log = wal_log,
            .log_data = s,
            .no_sync = !s->cfg.storage.fsync};
        rv = srv_logstore_open_wal(s->wal_dir, &wo, &s->log, rec);
        if (rv != 0) {
            ms_error("cannot open the WAL in %s: %s (%s); refusing to start "
                     "rather than serve wrong data",
                     s->wal_dir, wal_strerror(rv), rec->msg);
            return rv;
        }
        return engine_memory_open(
            &(struct engine_options){.max_txn_ops =
                                         (int)s->cfg.server.max_txn_ops},
            &s->eng);
    }
    char db_dir[SRV_CONFIG_PATH_MAX + 8], err[256] = "";
    snprintf(db_dir, sizeof db_dir, "%s/db", s->cfg.node.data_dir);
    static const enum engine_rocksdb_compression comp[] = {
        [SRV_COMPRESSION_NONE] = ENGINE_ROCKSDB_COMPRESSION_NONE,
        [SRV_COMPRESSION_SNAPPY] = ENGINE_ROCKSDB_COMPRESSION_SNAPPY,
        [SRV_COMPRESSION_LZ4] = ENGINE_ROCKSDB_COMPRESSION_LZ4,
        [SRV_COMPRESSION_ZSTD] = ENGINE_ROCKSDB_COMPRESSION_ZSTD,
    };
    struct engine_rocksdb_options ro = {
        .block_cache_bytes = s->cfg.storage.rocksdb.block_cache_bytes,
        .write_buffer_bytes = s->cfg.storage.rocksdb.write_buffer_bytes,
        .compression = comp[s->cfg.storage.rocksdb.compression],
        .max_background_jobs = (int)s->cfg.storage.rocksdb.max_background_jobs,
        .err_buf = err,
        .err_buf_len = sizeof err};
    rv = engine_rocksdb_open_ex(
        &(struct engine_options){.max_txn_ops = (int)s->cfg.server.max_txn_ops,
                                 .path = db_dir},
        &ro, &s->eng);
    if (rv != 0) {
        ms_error("cannot open the RocksDB engine in %s: %s %s", db_dir,
                 engine_strerror(rv), err);
        return rv;
    }
    rv = srv_logstore_open_rocksdb(s->eng, !s->cfg.storage.fsync, &s->log,
                                   rec);
    if (rv != 0) {
        ms_error("cannot read the Raft log from %s: %s (%s)", db_dir,
                 srv_logstore_strerror(rv), rec->msg);
    }
    return rv;
}

int srv_recover(struct srv *s)
{
    int rv = mkdir_p(s->cfg.node.data_dir);
    if (rv != 0) {
        ms_error("cannot create data dir %s: %s", s->cfg.node.data_dir,
                 strerror(-rv));
        return rv;
    }
    snprintf(s->snap_dir, sizeof s->snap_dir, "%s/snap", s->cfg.node.data_dir);
    (void)mkdir_p(s->snap_dir);
    (void)snapfile_remove_temp(s->snap_dir, NULL);

    struct wal_recovery rec = {0};
    rv = s->ttl == NULL ? srv_ttl_open(s) : 0;
    if (rv == 0 && s->auth == NULL) {
        rv = srv_auth_open(s);
    }
    if (rv != 0) {
        ms_error("cannot set up TTL leases: %d", rv);
        return rv;
    }
    rv = open_storage(s, &rec);
    if (rv == 0) {
        s->ms = raft_memstore_create();
        rv = s->ms != NULL ? 0 : RAFT_ENOMEM;
    }
    if (rv == 0) {
        rv = load_snapshot(s, rec.snap_index);
    }
    /* Entries the snapshot already covers are skipped.  A snapshot file
     * newer than the log's marker (a crash between the two) whose entry
     * conflicts with the log's replaces the whole log, as the marker
     * would have. */
    size_t skip = 0;
    while (skip < rec.n_entries &&
           rec.entries[skip].index <= s->last_snapshot_index) {
        if (rec.entries[skip].index == s->last_snapshot_index &&
            rec.entries[skip].term != s->applied_term) {
            skip = rec.n_entries;
            break;
        }
        skip++;
    }
    if (rv == 0 && rec.n_entries > skip) {
        rv = raft_memstore_append(s->ms, rec.entries + skip,
                                  rec.n_entries - skip);
    }
    if (rv == 0 && rec.has_hard_state) {
        rv = raft_memstore_set_hard_state(s->ms, &rec.hs);
    }
    if (rv == 0) {
        ms_info("recovered %zu log entries after snapshot %llu%s; engine "
                "applied index %llu",
                rec.n_entries - skip, (unsigned long long)s->last_snapshot_index,
                rec.tail_cut ? " (a torn WAL tail was cut)" : "",
                (unsigned long long)engine_applied_index(s->eng));
    }
    wal_recovery_free(&rec);
    if (rv != 0) {
        ms_error("cannot recover storage: error %d", rv);
        return rv;
    }
    /* A persistent engine may be ahead of the snapshot: the term of its
     * applied entry is in the log. */
    raft_index applied = engine_applied_index(s->eng);
    if (applied > s->last_snapshot_index) {
        struct raft_storage ms = raft_memstore_storage(s->ms);
        raft_term t = 0;
        if (ms.term(ms.data, applied, &t) != 0) {
            ms_error("the engine has applied entry %llu, which the log does "
                     "not hold",
                     (unsigned long long)applied);
            return WAL_ECORRUPT;
        }
        s->applied_term = t;
    }
    engine_arena_init(&s->arena);
    rv = srv_ttl_recover(s);
    if (rv != 0) {
        return rv;
    }
    rv = srv_auth_recover(s);
    if (rv != 0) {
        return rv;
    }
    s->storage = (struct raft_storage){
        .data = s,
        .initial_state = st_initial_state,
        .first_index = st_first_index,
        .last_index = st_last_index,
        .term = st_term,
        .entries = st_entries,
        .snapshot_meta = st_snapshot_meta,
        .snapshot_read = st_snapshot_read,
    };
    return 0;
}

/* ---- snapshots ------------------------------------------------------------ */

int srv_snapshot_receive(struct srv *s, const struct raft_snapshot_chunk *c)
{
    if (c->offset == 0) {
        if (s->snap_in != NULL) {
            snapfile_writer_abort(s->snap_in);
            s->snap_in = NULL;
        }
        int rv = snapfile_writer_open(s->snap_dir, c->meta.index, c->meta.term,
                                      &s->snap_in);
        if (rv != 0) {
            return rv;
        }
        ms_info("receiving snapshot %llu (term %llu, %llu bytes) from the "
                "leader",
                (unsigned long long)c->meta.index,
                (unsigned long long)c->meta.term,
                (unsigned long long)c->meta.size);
    }
    if (s->snap_in == NULL || snapfile_writer_size(s->snap_in) != c->offset) {
        return WAL_EINVAL; /* the core delivers chunks in order */
    }
    int rv = snapfile_writer_write(s->snap_in, c->data, c->len);
    if (rv == 0 && c->last) {
        rv = snapfile_writer_commit(s->snap_in, &c->meta.conf, NULL, 0, NULL);
        s->snap_in = NULL;
    }
    return rv;
}

int srv_snapshot_install(struct srv *s, const struct raft_snapshot_meta *meta)
{
    struct snapfile_reader *r;
    struct snapfile_meta m;
    char msg[256] = "";
    int rv = snapfile_open_newest(s->snap_dir, &r, &m, msg, sizeof msg);
    if (rv != 0) {
        ms_error("cannot open the received snapshot: %s %s", wal_strerror(rv),
                 msg);
        return rv;
    }
    if (m.raft.index != meta->index || m.raft.term != meta->term) {
        snapfile_close(r);
        ms_error("the newest snapshot file is %llu, not the received %llu",
                 (unsigned long long)m.raft.index,
                 (unsigned long long)meta->index);
        return WAL_ECORRUPT;
    }
    rv = restore_from_reader(s, r);
    if (rv != 0) {
        snapfile_close(r);
        return rv;
    }
    if (s->snap_reader != NULL) {
        snapfile_close(s->snap_reader);
    }
    s->snap_reader = r;
    s->applied_conf = meta->conf;
    s->applied_term = meta->term;
    s->last_snapshot_index = meta->index;
    s->stats.snapshots_installed++;
    (void)snapfile_remove_older(s->snap_dir, 2, NULL);
    ms_info("installed snapshot %llu (term %llu) from the leader",
            (unsigned long long)meta->index, (unsigned long long)meta->term);
    return srv_logstore_mark_snapshot(s->log, meta->index, meta->term);
}

static int snap_write_cb(void *ctx, const void *buf, size_t len)
{
    return snapfile_writer_write(ctx, buf, len);
}

int srv_snapshot_take(struct srv *s)
{
    raft_index index = engine_applied_index(s->eng);
    raft_term term = s->applied_term;
    if (index <= s->last_snapshot_index || term == 0) {
        return 0;
    }
    uint64_t start = srv_now_ns();
    struct snapfile_writer *sw;
    int rv = snapfile_writer_open(s->snap_dir, index, term, &sw);
    if (rv != 0) {
        return rv;
    }
    rv = srv_members_save(&s->members, snap_write_cb, sw);
    if (rv == 0) {
        rv = srv_ttl_snapshot_save(s, snap_write_cb, sw);
    }
    if (rv == 0) {
        rv = srv_auth_snapshot_save(s, snap_write_cb, sw);
    }
    if (rv == 0) {
        rv = engine_snapshot_save(s->eng, snap_write_cb, sw);
    }
    if (rv != 0) {
        snapfile_writer_abort(sw);
        return rv;
    }
    struct snapfile_meta meta;
    rv = snapfile_writer_commit(sw, &s->applied_conf, NULL, 0, &meta);
    if (rv != 0) {
        return rv;
    }
    /* Make the marker durable now, together with anything buffered; the
     * batches waiting on those records complete on the next pump. */
    rv = srv_logstore_mark_snapshot(s->log, index, term);
    if (rv == 0) {
        rv = srv_logstore_sync(s->log);
    }
    if (rv != 0) {
        return rv;
    }
    s->sync_gen_done = s->sync_gen_next;
    s->sync_gen_next++;

    struct raft_snapshot_meta rm = meta.raft;
    rm.size = 0;
    rv = raft_memstore_set_snapshot(s->ms, &rm, NULL);
    if (rv != 0) {
        return rv;
    }
    struct snapfile_reader *reader;
    struct snapfile_meta check;
    if (snapfile_open_newest(s->snap_dir, &reader, &check, NULL, 0) == 0) {
        if (s->snap_reader != NULL) {
            snapfile_close(s->snap_reader);
        }
        s->snap_reader = reader;
    }
    raft_index keep = s->cfg.raft.snapshot_keep_entries;
    size_t deleted = 0;
    if (index > keep) {
        (void)srv_logstore_release_before(s->log, index - keep, &deleted);
    }
    (void)snapfile_remove_older(s->snap_dir, 2, NULL);
    s->last_snapshot_index = index;
    s->stats.snapshots++;
    srv_hist_record_ns(&s->stats.snapshot_ns, srv_now_ns() - start);
    ms_info("snapshot at index %llu (term %llu, %llu bytes) in %llu ms; "
            "%zu log segment(s) or entries released",
            (unsigned long long)index, (unsigned long long)term,
            (unsigned long long)meta.raft.size,
            (unsigned long long)((srv_now_ns() - start) / 1000000u), deleted);
    return 0;
}

void srv_storage_close(struct srv *s)
{
    if (s->snap_in != NULL) {
        snapfile_writer_abort(s->snap_in);
        s->snap_in = NULL;
    }
    if (s->snap_reader != NULL) {
        snapfile_close(s->snap_reader);
        s->snap_reader = NULL;
    }
    if (s->raft != NULL) {
        raft_destroy(s->raft);
        s->raft = NULL;
    }
    srv_logstore_close(s->log); /* before the engine it may use */
    s->log = NULL;
    if (s->eng != NULL) {
        engine_close(s->eng);
        s->eng = NULL;
    }
    if (s->ms != NULL) {
        raft_memstore_destroy(s->ms);
        s->ms = NULL;
    }
    engine_arena_free(&s->arena);
    srv_ttl_close(s);
    srv_auth_close(s);
    srv_autocompact_close(s);
}
