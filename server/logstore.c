/*
 * logstore.c - the Raft log store of a node: the WAL (memory engine) or the
 * RocksDB engine's raft column families (see logstore.h).
 *
 * The RocksDB side mirrors the WAL's two-buffer scheme: the loop thread
 * appends operations (entries, hard state, snapshot marker) to the active
 * buffer; a sync takes the buffer, replays it into RocksDB on a worker
 * thread with sync=false, and ends with one synced write, which fsyncs
 * RocksDB's WAL and so every write before it.  Failure modes: a failed
 * write marks the store failed (every later call returns the error), as
 * the WAL does: after a failed fsync nothing is known about the disk.
 */
#include "server/logstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/rocksdb.h"

enum rop_type { ROP_ENTRIES, ROP_HARD_STATE, ROP_MARK };

struct rop {
    enum rop_type type;
    struct raft_entry *e; /* ROP_ENTRIES: owned copies */
    size_t n;
    struct raft_hard_state hs;
    raft_index index;
    raft_term term;
};

struct rbuf {
    struct rop *v;
    size_t n, cap;
};

struct srv_logstore {
    struct wal *wal;     /* memory engine */
    struct engine *eng;  /* rocksdb engine */
    struct rbuf bufs[2]; /* rocksdb: active and pending */
    struct rbuf *active, *pending;
    bool in_flight;
    bool no_sync; /* storage.fsync: false */
    int failed;
    int result;
};

#define SNAPSHOT_BLOB "snapshot"

const char *srv_logstore_strerror(int err)
{
    if (err <= -2001 && err > -3000) {
        return engine_strerror(err);
    }
    return wal_strerror(err);
}

/* ---- WAL ------------------------------------------------------------------ */

int srv_logstore_open_wal(const char *dir, const struct wal_options *opts,
                          struct srv_logstore **out, struct wal_recovery *rec)
{
    struct srv_logstore *ls = calloc(1, sizeof *ls);
    if (ls == NULL) {
        memset(rec, 0, sizeof *rec);
        return WAL_ENOMEM;
    }
    int rv = wal_open(dir, opts, &ls->wal, rec);
    if (rv != 0) {
        free(ls);
        return rv;
    }
    *out = ls;
    return 0;
}

/* ---- RocksDB -------------------------------------------------------------- */

static void rbuf_clear(struct rbuf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        for (size_t k = 0; k < b->v[i].n; k++) {
            free(b->v[i].e[k].data);
        }
        free(b->v[i].e);
    }
    b->n = 0;
}

static struct rop *rbuf_push(struct rbuf *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap > 0 ? b->cap * 2 : 16;
        struct rop *v = realloc(b->v, cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        b->v = v;
        b->cap = cap;
    }
    struct rop *op = &b->v[b->n++];
    memset(op, 0, sizeof *op);
    return op;
}

static int put_marker(struct engine *e, raft_index index, raft_term term,
                      bool sync)
{
    uint8_t v[16];
    for (int i = 0; i < 8; i++) {
        v[i] = (uint8_t)(index >> (56 - 8 * i));
        v[8 + i] = (uint8_t)(term >> (56 - 8 * i));
    }
    return engine_rocksdb_state_put(e, SNAPSHOT_BLOB, v, sizeof v, sync);
}

static int get_marker(struct engine *e, raft_index *index, raft_term *term)
{
    struct engine_arena a;
    engine_arena_init(&a);
    const void *val;
    size_t len;
    *index = 0;
    *term = 0;
    int rv = engine_rocksdb_state_get(e, SNAPSHOT_BLOB, &a, &val, &len);
    if (rv == 0 && len == 16) {
        const uint8_t *p = val;
        for (int i = 0; i < 8; i++) {
            *index = *index << 8 | p[i];
            *term = *term << 8 | p[8 + i];
        }
    } else if (rv == 0) {
        rv = WAL_ECORRUPT;
    } else if (rv == ENGINE_ENOTFOUND) {
        rv = 0;
    }
    engine_arena_free(&a);
    return rv;
}

/* Records a snapshot marker: like the WAL, a log that does not hold entry
 * `index` with `term` is dropped whole (a snapshot from the leader). */
static int apply_mark(struct engine *e, raft_index index, raft_term term)
{
    raft_index first, last;
    engine_rocksdb_log_bounds(e, &first, &last);
    if (last != 0) {
        struct engine_arena a;
        engine_arena_init(&a);
        struct raft_entry ent;
        int rv = engine_rocksdb_log_get(e, index, &a, &ent);
        bool match = rv == 0 && ent.term == term;
        engine_arena_free(&a);
        if (rv != 0 && rv != ENGINE_ENOTFOUND) {
            return rv;
        }
        if (!match) {
            rv = engine_rocksdb_log_truncate_prefix(e, last, false);
            if (rv != 0) {
                return rv;
            }
        }
    }
    return put_marker(e, index, term, false);
}

static int rocks_replay(struct srv_logstore *ls, struct rbuf *b)
{
    int rv = 0;
    for (size_t i = 0; i < b->n && rv == 0; i++) {
        struct rop *op = &b->v[i];
        switch (op->type) {
        case ROP_ENTRIES:
            rv = engine_rocksdb_log_append(ls->eng, op->e, op->n, false);
            break;
        case ROP_HARD_STATE:
            rv = engine_rocksdb_hard_state_save(ls->eng, &op->hs, false);
            break;
        case ROP_MARK:
            rv = apply_mark(ls->eng, op->index, op->term);
            break;
        }
    }
    if (rv == 0 && b->n > 0) {
        /* One synced write: fsyncs RocksDB's WAL, and everything before. */
        rv = engine_rocksdb_state_put(ls->eng, "synced", "", 0, !ls->no_sync);
    }
    return rv;
}

static int rocks_recover(struct engine *e, struct wal_recovery *rec)
{
    int rv = engine_rocksdb_hard_state_load(e, &rec->hs);
    if (rv == 0) {
        rec->has_hard_state = true;
    } else if (rv != ENGINE_ENOTFOUND) {
        snprintf(rec->msg, sizeof rec->msg, "hard state unreadable");
        return rv;
    }
    rv = get_marker(e, &rec->snap_index, &rec->snap_term);
    if (rv != 0) {
        snprintf(rec->msg, sizeof rec->msg, "snapshot marker unreadable");
        return rv;
    }
    raft_index first, last;
    engine_rocksdb_log_bounds(e, &first, &last);
    raft_index lo = first > rec->snap_index + 1 ? first : rec->snap_index + 1;
    if (last == 0 || lo > last) {
        return 0;
    }
    rec->entries = calloc((size_t)(last - lo + 1), sizeof *rec->entries);
    if (rec->entries == NULL) {
        return WAL_ENOMEM;
    }
    struct engine_arena a;
    engine_arena_init(&a);
    for (raft_index i = lo; i <= last && rv == 0; i++) {
        struct raft_entry ent;
        rv = engine_rocksdb_log_get(e, i, &a, &ent);
        if (rv == 0) {
            struct raft_entry *dst = &rec->entries[rec->n_entries];
            *dst = ent;
            dst->data = NULL;
            if (ent.len > 0 && (dst->data = malloc(ent.len)) == NULL) {
                rv = WAL_ENOMEM;
                break;
            }
            if (ent.len > 0) {
                memcpy(dst->data, ent.data, ent.len);
            }
            rec->n_entries++;
        } else {
            snprintf(rec->msg, sizeof rec->msg,
                     "raft log entry %llu unreadable",
                     (unsigned long long)i);
        }
        engine_arena_reset(&a);
    }
    engine_arena_free(&a);
    return rv;
}

int srv_logstore_open_rocksdb(struct engine *e, bool no_sync,
                              struct srv_logstore **out,
                              struct wal_recovery *rec)
{
    memset(rec, 0, sizeof *rec);
    struct srv_logstore *ls = calloc(1, sizeof *ls);
    if (ls == NULL) {
        return WAL_ENOMEM;
    }
    ls->eng = e;
    ls->no_sync = no_sync;
    ls->active = &ls->bufs[0];
    ls->pending = &ls->bufs[1];
    int rv = rocks_recover(e, rec);
    if (rv != 0) {
        wal_recovery_free(rec);
        free(ls);
        return rv;
    }
    *out = ls;
    return 0;
}

/* ---- the interface ---------------------------------------------------------- */

void srv_logstore_close(struct srv_logstore *ls)
{
    if (ls == NULL) {
        return;
    }
    if (ls->wal != NULL) {
        wal_close(ls->wal);
    }
    for (int i = 0; i < 2; i++) {
        rbuf_clear(&ls->bufs[i]);
        free(ls->bufs[i].v);
    }
    free(ls);
}

int srv_logstore_append(struct srv_logstore *ls, const struct raft_entry *e,
                        size_t n)
{
    if (ls->wal != NULL) {
        return wal_append_entries(ls->wal, e, n);
    }
    if (ls->failed) {
        return ls->failed;
    }
    struct rop *op = rbuf_push(ls->active);
    if (op == NULL || (op->e = calloc(n, sizeof *op->e)) == NULL) {
        if (op != NULL) {
            ls->active->n--;
        }
        return WAL_ENOMEM;
    }
    op->type = ROP_ENTRIES;
    for (size_t i = 0; i < n; i++) {
        op->e[i] = e[i];
        op->e[i].data = NULL;
        if (e[i].len > 0) {
            if ((op->e[i].data = malloc(e[i].len)) == NULL) {
                op->n = i;
                return WAL_ENOMEM; /* the caller stops the node */
            }
            memcpy(op->e[i].data, e[i].data, e[i].len);
        }
        op->n = i + 1;
    }
    return 0;
}

int srv_logstore_set_hard_state(struct srv_logstore *ls,
                                const struct raft_hard_state *hs)
{
    if (ls->wal != NULL) {
        return wal_set_hard_state(ls->wal, hs);
    }
    struct rop *op = ls->failed ? NULL : rbuf_push(ls->active);
    if (op == NULL) {
        return ls->failed ? ls->failed : WAL_ENOMEM;
    }
    op->type = ROP_HARD_STATE;
    op->hs = *hs;
    return 0;
}

int srv_logstore_mark_snapshot(struct srv_logstore *ls, raft_index index,
                               raft_term term)
{
    if (ls->wal != NULL) {
        return wal_mark_snapshot(ls->wal, index, term);
    }
    struct rop *op = ls->failed ? NULL : rbuf_push(ls->active);
    if (op == NULL) {
        return ls->failed ? ls->failed : WAL_ENOMEM;
    }
    op->type = ROP_MARK;
    op->index = index;
    op->term = term;
    return 0;
}

bool srv_logstore_has_pending(const struct srv_logstore *ls)
{
    return ls->wal != NULL ? wal_has_pending(ls->wal) : ls->active->n > 0;
}

int srv_logstore_prepare_sync(struct srv_logstore *ls)
{
    if (ls->wal != NULL) {
        return wal_prepare_sync(ls->wal);
    }
    if (ls->failed) {
        return ls->failed;
    }
    if (ls->in_flight) {
        return WAL_EBUSY;
    }
    if (ls->active->n == 0) {
        return 0;
    }
    struct rbuf *t = ls->pending;
    ls->pending = ls->active;
    ls->active = t;
    ls->in_flight = true;
    return 1;
}

int srv_logstore_sync_prepared(struct srv_logstore *ls)
{
    if (ls->wal != NULL) {
        return wal_sync_prepared(ls->wal);
    }
    ls->result = rocks_replay(ls, ls->pending);
    return ls->result;
}

int srv_logstore_sync_done(struct srv_logstore *ls)
{
    if (ls->wal != NULL) {
        return wal_sync_done(ls->wal);
    }
    ls->in_flight = false;
    rbuf_clear(ls->pending);
    if (ls->result != 0) {
        ls->failed = ls->result;
    }
    return ls->result;
}

int srv_logstore_sync(struct srv_logstore *ls)
{
    int rv = srv_logstore_prepare_sync(ls);
    if (rv <= 0) {
        return rv;
    }
    (void)srv_logstore_sync_prepared(ls);
    return srv_logstore_sync_done(ls);
}

int srv_logstore_release_before(struct srv_logstore *ls, raft_index index,
                                size_t *n_released)
{
    if (ls->wal != NULL) {
        return wal_release_before(ls->wal, index, n_released);
    }
    raft_index first, last;
    engine_rocksdb_log_bounds(ls->eng, &first, &last);
    if (n_released != NULL) {
        *n_released = first != 0 && index >= first
                          ? (size_t)((index < last ? index : last) - first + 1)
                          : 0;
    }
    if (first == 0 || index < first || index >= last) {
        return 0; /* keep the newest entry: the log's anchor */
    }
    return engine_rocksdb_log_truncate_prefix(ls->eng, index, false);
}
