/*
 * The RocksDB engine: etcd v3 MVCC semantics stored in RocksDB, so the data
 * may be larger than memory.  Nothing but a few counters is kept in memory.
 *
 * Layout (docs/storage.md, "RocksDB engine"):
 *   kv    key   = escape(user key) 00 01 | be64(~mod_revision)
 *         value = version i64 | create i64 | lease i64 | value   (LE)
 *         escape() turns each 00 byte into 00 ff, so the bytewise order
 *         of stored keys is (user key ascending, revision DESCENDING): a
 *         seek to escape(k) 00 01 be64(~rev) lands on the newest revision
 *         of k at or below rev.  version 0 is a tombstone.
 *   meta  "state" (revision, compact revision, applied index, counters,
 *         how far physical compaction got), "compact_cursor", "kv_cf".
 *
 * Happy path: a write builds every change plus the new "state" record in
 * one WriteBatchWithIndex and commits it with one rocksdb_write (sync=false),
 * so data, revision and applied index change atomically.  Reads inside a
 * write (txn ranges, prev_kv, delete scans) go through an iterator over the
 * batch on top of the database, so a txn's range sees its earlier ops.
 *
 * Failure modes: nothing reaches the database before the final commit, so
 * ENGINE_ENOMEM or a RocksDB error while building a write discards the batch
 * and leaves the engine as it was (the entry is not applied and may be
 * retried); no "broken" state is needed.  A failed commit is ENGINE_EIO.
 * Records that fail validation on read are ENGINE_EIO.
 *
 * Compaction records the compact revision at once and deletes superseded
 * revisions in bounded steps (engine_rocksdb_compact_step); reads and
 * snapshots apply the compact revision logically, so results never depend
 * on how far the deletion got.  Snapshot restore writes into a fresh kv
 * column family and switches meta "kv_cf" to it only once the whole stream
 * has been validated and written, so a bad stream leaves the old state.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "storage/engine_impl.h"
#include "storage/rocksdb.h"

#define REC_HDR       24u /* version, create, lease */
#define STATE_FORMAT  1u
#define STATE_LEN     (4u + 7u * 8u)
#define RESTORE_BATCH (4u << 20) /* bytes per WriteBatch during restore */
#define MARKER_NAME   "ENGINE"
#define MARKER_TEXT   "rocksdb"
#define KV_CF_DEFAULT "kv"

static const char META_STATE[] = "state";
static const char META_CURSOR[] = "compact_cursor";
static const char META_KVCF[] = "kv_cf";
static const char META_AUX[] = "aux";
static const char META_AUX_AUTH[] = "aux_auth";
static const char RAFT_HARDSTATE[] = "hardstate";

/* A growable byte buffer. */
struct rbuf {
    uint8_t *p;
    size_t len, cap;
};

/* What meta "state" holds. */
struct rdb_state {
    int64_t revision;
    int64_t compact_rev;
    uint64_t applied_index;
    uint64_t live_keys;
    uint64_t revisions; /* stored records, tombstones included */
    uint64_t bytes;     /* stored key + record bytes in kv */
    int64_t phys_rev;   /* physical compaction is complete up to this */
};

/* Counter changes of a write in progress, applied on commit. */
struct rdb_delta {
    int64_t live, revisions, bytes;
    bool dirty; /* something changed: the revision moves */
};

struct rdb {
    struct engine base;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *bbto;
    rocksdb_column_family_handle_t *cf_default, *cf_meta, *cf_log, *cf_state,
        *cf_kv;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo_async, *wo_sync;
    rocksdb_writebatch_wi_t *wb; /* the write being built */
    char *path;
    char kv_name[32];
    uint64_t kv_gen;
    struct rdb_state st;
    struct rdb_delta d;
    struct rbuf cursor; /* compaction resumes at this encoded key */
    uint32_t compact_budget;
    bool open_failed_compression;
    raft_index log_first, log_last;
    /* scratch buffers: s/e = range start/end, c = current key during a
     * scan, p = point lookups and writes, v = records */
    struct rbuf sbuf, ebuf, cbuf, pbuf, vbuf;
    /* An application blob (the server's TTL lease table) staged to go out
     * in the next batch that writes meta "state", so it changes atomically
     * with the applied index (engine_rocksdb_aux_stage). */
    struct rbuf aux;
    bool aux_pending;
    /* A second blob (the server's auth table), staged the same way. */
    struct rbuf aux_auth;
    bool aux_auth_pending;
};

static const struct engine_ops rdb_ops;

static struct rdb *rdb(struct engine *e)
{
    return (struct rdb *)e;
}

/* ---- small encoders ----------------------------------------------------- */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int rbuf_reserve(struct rbuf *b, size_t n)
{
    if (n <= b->cap)
        return 0;
    size_t cap = b->cap > 0 ? b->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return ENGINE_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int rbuf_set(struct rbuf *b, const void *p, size_t n)
{
    int rc = rbuf_reserve(b, n + 8);
    if (rc != 0)
        return rc;
    if (n > 0)
        memcpy(b->p, p, n);
    b->len = n;
    return 0;
}

static void rbuf_free(struct rbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* b = escape(key) 00 01, with room for 8 more bytes (a revision). */
static int enc_key(struct rbuf *b, const void *key, size_t len)
{
    int rc = rbuf_reserve(b, 2 * len + 2 + 8);
    if (rc != 0)
        return rc;
    const uint8_t *k = key;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        b->p[n++] = k[i];
        if (k[i] == 0)
            b->p[n++] = 0xff;
    }
    b->p[n++] = 0;
    b->p[n++] = 1;
    b->len = n;
    return 0;
}

/* Writes be64(~rev) after the encoded key; returns the full key length.
 * rev 0 gives the position just after every revision of the key. */
static size_t with_rev(struct rbuf *b, int64_t rev)
{
    put_be64(b->p + b->len, ~(uint64_t)rev);
    return b->len + 8;
}

/* Decodes escape(key) (without the terminator) into dst; returns the user
 * key length or SIZE_MAX when the escaping is invalid. */
static size_t unescape(const uint8_t *src, size_t len, uint8_t *dst)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        dst[n++] = src[i];
        if (src[i] == 0) {
            if (i + 1 >= len || src[i + 1] != 0xff)
                return SIZE_MAX;
            i++;
        }
    }
    return n;
}

static void rec_encode(uint8_t *p, int64_t version, int64_t create,
                       int64_t lease)
{
    put_le64(p, (uint64_t)version);
    put_le64(p + 8, (uint64_t)create);
    put_le64(p + 16, (uint64_t)lease);
}

/* ---- state record ------------------------------------------------------- */

static void state_encode(const struct rdb_state *s, uint8_t *p)
{
    p[0] = STATE_FORMAT;
    p[1] = p[2] = p[3] = 0;
    put_le64(p + 4, (uint64_t)s->revision);
    put_le64(p + 12, (uint64_t)s->compact_rev);
    put_le64(p + 20, s->applied_index);
    put_le64(p + 28, s->live_keys);
    put_le64(p + 36, s->revisions);
    put_le64(p + 44, s->bytes);
    put_le64(p + 52, (uint64_t)s->phys_rev);
}

static int state_decode(const uint8_t *p, size_t len, struct rdb_state *s)
{
    if (len != STATE_LEN || p[0] != STATE_FORMAT)
        return ENGINE_EIO;
    s->revision = (int64_t)get_le64(p + 4);
    s->compact_rev = (int64_t)get_le64(p + 12);
    s->applied_index = get_le64(p + 20);
    s->live_keys = get_le64(p + 28);
    s->revisions = get_le64(p + 36);
    s->bytes = get_le64(p + 44);
    s->phys_rev = (int64_t)get_le64(p + 52);
    if (s->revision < 1 || s->compact_rev < 0 || s->compact_rev > s->revision ||
        s->phys_rev > s->compact_rev)
        return ENGINE_EIO;
    return 0;
}

/* ---- iterators and records ---------------------------------------------- */

/* One kv record under an iterator; pointers valid until it moves. */
struct rent {
    const uint8_t *k;
    size_t klen;
    size_t enc_len; /* k[0..enc_len) is escape(key) 00 01 */
    int64_t mod, version, create, lease;
    const uint8_t *value;
    size_t value_len;
    size_t rec_len;
};

static int rent_parse(rocksdb_iterator_t *it, struct rent *e)
{
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)rocksdb_iter_key(it, &kl);
    const uint8_t *v = (const uint8_t *)rocksdb_iter_value(it, &vl);
    if (kl < 11 || vl < REC_HDR)
        return ENGINE_EIO;
    e->k = k;
    e->klen = kl;
    e->enc_len = kl - 8;
    if (k[e->enc_len - 2] != 0 || k[e->enc_len - 1] != 1)
        return ENGINE_EIO;
    e->mod = (int64_t)~get_be64(k + e->enc_len);
    e->version = (int64_t)get_le64(v);
    e->create = (int64_t)get_le64(v + 8);
    e->lease = (int64_t)get_le64(v + 16);
    e->value = v + REC_HDR;
    e->value_len = vl - REC_HDR;
    e->rec_len = vl;
    if (e->mod < 1 || e->version < 0)
        return ENGINE_EIO;
    return 0;
}

/* Does the iterator sit on a record of the encoded key in b? */
static bool iter_on_key(rocksdb_iterator_t *it, const struct rbuf *b)
{
    if (!rocksdb_iter_valid(it))
        return false;
    size_t kl;
    const char *k = rocksdb_iter_key(it, &kl);
    return kl == b->len + 8 && memcmp(k, b->p, b->len) == 0;
}

static int iter_status(rocksdb_iterator_t *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it, &err);
    if (err == NULL)
        return 0;
    free(err);
    return ENGINE_EIO;
}

/* An iterator over the kv CF; during a write it also sees the batch. */
static rocksdb_iterator_t *kv_iter(struct rdb *r, bool with_batch)
{
    rocksdb_iterator_t *base =
        rocksdb_create_iterator_cf(r->db, r->ro, r->cf_kv);
    if (!with_batch || base == NULL)
        return base;
    /* Takes ownership of base. */
    return rocksdb_writebatch_wi_create_iterator_with_base_cf(r->wb, base,
                                                              r->cf_kv);
}

/* Moves from the first record of the key in r->cbuf to the next key: a few
 * steps, then one seek for keys with a long history. */
static void skip_key(rocksdb_iterator_t *it, struct rbuf *c)
{
    for (int i = 0; i < 4; i++) {
        rocksdb_iter_next(it);
        if (!iter_on_key(it, c))
            return;
    }
    rocksdb_iter_seek(it, (const char *)c->p, with_rev(c, 0));
}

/* ---- scanning ----------------------------------------------------------- */

/* fn gets each live key of a range as visible at some revision; returns 0
 * to go on, 1 to stop, negative on error. */
typedef int (*visit_fn)(void *ctx, const struct rent *e);

/* Visits the record of the key in c visible at rev, if live. */
static int visit_at(rocksdb_iterator_t *it, struct rbuf *c, int64_t rev,
                    visit_fn fn, void *ctx)
{
    rocksdb_iter_seek(it, (const char *)c->p, with_rev(c, rev));
    if (!iter_on_key(it, c))
        return 0;
    struct rent e;
    int rc = rent_parse(it, &e);
    if (rc != 0)
        return rc;
    if (e.version == 0)
        return 0;
    rc = fn(ctx, &e);
    return rc < 0 ? rc : (rc > 0 ? 1 : 0);
}

static int scan_asc(struct rdb *r, rocksdb_iterator_t *it, bool to_end,
                    int64_t rev, visit_fn fn, void *ctx)
{
    rocksdb_iter_seek(it, (const char *)r->sbuf.p, r->sbuf.len);
    while (rocksdb_iter_valid(it)) {
        struct rent e;
        int rc = rent_parse(it, &e);
        if (rc != 0)
            return rc;
        if (!to_end &&
            engine_key_cmp(e.k, e.enc_len, r->ebuf.p, r->ebuf.len) >= 0)
            break;
        if ((rc = rbuf_set(&r->cbuf, e.k, e.enc_len)) != 0)
            return rc;
        if (e.mod <= rev) {
            if (e.version > 0 && (rc = fn(ctx, &e)) != 0)
                return rc < 0 ? rc : 0;
            skip_key(it, &r->cbuf);
            continue;
        }
        rc = visit_at(it, &r->cbuf, rev, fn, ctx);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        if (iter_on_key(it, &r->cbuf))
            skip_key(it, &r->cbuf);
    }
    return iter_status(it);
}

static int scan_desc(struct rdb *r, rocksdb_iterator_t *it, bool to_end,
                     int64_t rev, visit_fn fn, void *ctx)
{
    if (to_end)
        rocksdb_iter_seek_to_last(it);
    else
        rocksdb_iter_seek_for_prev(it, (const char *)r->ebuf.p, r->ebuf.len);
    while (rocksdb_iter_valid(it)) {
        struct rent e;
        int rc = rent_parse(it, &e);
        if (rc != 0)
            return rc;
        if (engine_key_cmp(e.k, e.enc_len, r->sbuf.p, r->sbuf.len) < 0)
            break;
        if ((rc = rbuf_set(&r->cbuf, e.k, e.enc_len)) != 0)
            return rc;
        rc = visit_at(it, &r->cbuf, rev, fn, ctx);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        rocksdb_iter_seek_for_prev(it, (const char *)r->cbuf.p, r->cbuf.len);
    }
    return iter_status(it);
}

/* Every live key of (key, end) at rev, in key order (descending when
 * desc), as in memory.c's scan(). */
static int scan(struct rdb *r, rocksdb_iterator_t *it, const void *key,
                size_t key_len, const void *end, size_t end_len, int64_t rev,
                bool desc, visit_fn fn, void *ctx)
{
    bool single, to_end;
    engine__range_kind(end_len, end, &single, &to_end);
    int rc = enc_key(&r->sbuf, key, key_len);
    if (rc != 0)
        return rc;
    if (single) {
        if ((rc = rbuf_set(&r->cbuf, r->sbuf.p, r->sbuf.len)) != 0)
            return rc;
        rc = visit_at(it, &r->cbuf, rev, fn, ctx);
        if (rc < 0)
            return rc;
        return iter_status(it);
    }
    if (!to_end) {
        if (engine_key_cmp(end, end_len, key, key_len) <= 0)
            return 0;
        if ((rc = enc_key(&r->ebuf, end, end_len)) != 0)
            return rc;
    }
    return desc ? scan_desc(r, it, to_end, rev, fn, ctx)
                : scan_asc(r, it, to_end, rev, fn, ctx);
}

/* ---- collecting results ------------------------------------------------- */

struct hits {
    struct engine_kv *v;
    size_t n, cap;
};

static void hits_free(struct hits *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* Copies a record into the arena as a kv. */
static int copy_kv(struct engine_arena *a, const struct rent *e,
                   bool with_value, struct engine_kv *out)
{
    size_t vlen = with_value ? e->value_len : 0;
    uint8_t *p = engine_arena_alloc(a, e->enc_len + vlen);
    if (p == NULL)
        return ENGINE_ENOMEM;
    size_t klen = unescape(e->k, e->enc_len - 2, p + vlen);
    if (klen == SIZE_MAX || klen == 0)
        return ENGINE_EIO;
    if (vlen > 0)
        memcpy(p, e->value, vlen);
    out->key = p + vlen;
    out->key_len = klen;
    out->value = p; /* never NULL, even when empty */
    out->value_len = vlen;
    out->create_revision = e->create;
    out->mod_revision = e->mod;
    out->version = e->version;
    out->lease = e->lease;
    return 0;
}

static int hits_push(struct hits *h, struct engine_arena *a,
                     const struct rent *e, bool with_value)
{
    if (h->n == h->cap) {
        size_t cap = h->cap > 0 ? h->cap * 2 : 16;
        struct engine_kv *v = realloc(h->v, cap * sizeof(*v));
        if (v == NULL)
            return ENGINE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    int rc = copy_kv(a, e, with_value, &h->v[h->n]);
    if (rc == 0)
        h->n++;
    return rc;
}

static int hits_to_arena(struct engine_arena *a, const struct hits *h,
                         struct engine_kv **kvs, size_t *len)
{
    *kvs = NULL;
    *len = 0;
    if (h->n == 0)
        return 0;
    struct engine_kv *v = engine_arena_alloc(a, h->n * sizeof(*v));
    if (v == NULL)
        return ENGINE_ENOMEM;
    memcpy(v, h->v, h->n * sizeof(*v));
    *kvs = v;
    *len = h->n;
    return 0;
}

/* ---- range -------------------------------------------------------------- */

struct range_ctx {
    struct engine_arena *a;
    struct hits hits;
    int64_t count;
    int64_t keep; /* hits to keep while counting; -1 = all */
    bool with_value;
};

static int range_visit(void *ctx, const struct rent *e)
{
    struct range_ctx *rc = ctx;
    rc->count++;
    if (rc->keep < 0 || (int64_t)rc->hits.n < rc->keep)
        return hits_push(&rc->hits, rc->a, e, rc->with_value);
    return 0;
}

static int kv_key_cmp(const struct engine_kv *a, const struct engine_kv *b)
{
    return engine_key_cmp(a->key, a->key_len, b->key, b->key_len);
}

static int kv_int_cmp(int64_t x, int64_t y, const struct engine_kv *a,
                      const struct engine_kv *b)
{
    if (x != y)
        return x < y ? -1 : 1;
    return kv_key_cmp(a, b); /* ties by key: the same order everywhere */
}

static int cmp_version(const void *pa, const void *pb)
{
    const struct engine_kv *a = pa, *b = pb;
    return kv_int_cmp(a->version, b->version, a, b);
}

static int cmp_create(const void *pa, const void *pb)
{
    const struct engine_kv *a = pa, *b = pb;
    return kv_int_cmp(a->create_revision, b->create_revision, a, b);
}

static int cmp_mod(const void *pa, const void *pb)
{
    const struct engine_kv *a = pa, *b = pb;
    return kv_int_cmp(a->mod_revision, b->mod_revision, a, b);
}

static int cmp_value(const void *pa, const void *pb)
{
    const struct engine_kv *a = pa, *b = pb;
    int c = engine_key_cmp(a->value, a->value_len, b->value, b->value_len);
    return c != 0 ? c : kv_key_cmp(a, b);
}

static void sort_hits(struct hits *h, enum engine_sort_target t, bool desc)
{
    int (*cmp)(const void *, const void *) =
        t == ENGINE_SORT_VERSION  ? cmp_version
        : t == ENGINE_SORT_CREATE ? cmp_create
        : t == ENGINE_SORT_MOD    ? cmp_mod
                                  : cmp_value;
    if (h->n > 1)
        qsort(h->v, h->n, sizeof(h->v[0]), cmp);
    if (desc) {
        for (size_t i = 0, j = h->n; i + 1 < j; i++, j--) {
            struct engine_kv tmp = h->v[i];
            h->v[i] = h->v[j - 1];
            h->v[j - 1] = tmp;
        }
    }
}

/* Range at an already checked revision, through iterator `it`. */
static int range_at(struct rdb *r, rocksdb_iterator_t *it,
                    const struct engine_range_req *req, int64_t rev,
                    struct engine_arena *a, struct engine_range_result *out)
{
    bool by_key = req->sort_target == ENGINE_SORT_KEY;
    bool desc = req->sort_order == ENGINE_SORT_DESCEND;
    struct range_ctx ctx = {a, {NULL, 0, 0}, 0, -1, false};
    if (req->count_only)
        ctx.keep = 0;
    else if (by_key && req->limit > 0)
        ctx.keep = req->limit;
    /* Sorting by value needs the values even for keys_only. */
    ctx.with_value = !req->keys_only || req->sort_target == ENGINE_SORT_VALUE;
    int rc = scan(r, it, req->key, req->key_len, req->range_end,
                  req->range_end_len, rev, by_key && desc, range_visit, &ctx);
    if (rc == 0 && !by_key) {
        sort_hits(&ctx.hits, req->sort_target, desc);
        if (req->limit > 0 && ctx.hits.n > (size_t)req->limit)
            ctx.hits.n = (size_t)req->limit;
    }
    if (rc == 0 && req->keys_only)
        for (size_t i = 0; i < ctx.hits.n; i++)
            ctx.hits.v[i].value_len = 0;
    if (rc == 0)
        rc = hits_to_arena(a, &ctx.hits, &out->kvs, &out->kvs_len);
    hits_free(&ctx.hits);
    if (rc != 0)
        return rc;
    out->count = ctx.count;
    out->more = !req->count_only && (int64_t)out->kvs_len < ctx.count;
    return 0;
}

static int check_read_rev(const struct rdb *r, int64_t rev)
{
    if (rev > r->st.revision)
        return ENGINE_EFUTURE_REV;
    if (rev > 0 && rev < r->st.compact_rev)
        return ENGINE_ECOMPACTED;
    return 0;
}

static int rdb_range(struct engine *e, const struct engine_range_req *req,
                     struct engine_arena *a, struct engine_range_result *out)
{
    struct rdb *r = rdb(e);
    int rc = check_read_rev(r, req->revision);
    if (rc != 0)
        return rc;
    int64_t rev = req->revision > 0 ? req->revision : r->st.revision;
    rocksdb_iterator_t *it = kv_iter(r, false);
    if (it == NULL)
        return ENGINE_ENOMEM;
    rc = range_at(r, it, req, rev, a, out);
    rocksdb_iter_destroy(it);
    out->revision = r->st.revision;
    return rc;
}

/* ---- writes: the batch and its commit ----------------------------------- */

static void batch_put_state(struct rdb *r, const struct rdb_state *s)
{
    uint8_t b[STATE_LEN];
    state_encode(s, b);
    rocksdb_writebatch_wi_put_cf(r->wb, r->cf_meta, META_STATE,
                                 sizeof(META_STATE) - 1, (const char *)b,
                                 sizeof(b));
    if (r->aux_pending) {
        rocksdb_writebatch_wi_put_cf(r->wb, r->cf_meta, META_AUX,
                                     sizeof(META_AUX) - 1,
                                     (const char *)r->aux.p, r->aux.len);
        r->aux_pending = false;
    }
    if (r->aux_auth_pending) {
        rocksdb_writebatch_wi_put_cf(r->wb, r->cf_meta, META_AUX_AUTH,
                                     sizeof(META_AUX_AUTH) - 1,
                                     (const char *)r->aux_auth.p,
                                     r->aux_auth.len);
        r->aux_auth_pending = false;
    }
}

static int write_wb(struct rdb *r, bool sync)
{
    char *err = NULL;
    rocksdb_write_writebatch_wi(r->db, sync ? r->wo_sync : r->wo_async, r->wb,
                                &err);
    rocksdb_writebatch_wi_clear(r->wb);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    return 0;
}

/* Outcomes every replica reaches alike: the entry counts as applied. */
static bool deterministic(int rc)
{
    return rc == 0 || rc == ENGINE_EINVAL || rc == ENGINE_ENOTFOUND ||
           rc == ENGINE_EDUPKEY || rc == ENGINE_ETOOMANYOPS ||
           rc == ENGINE_ECOMPACTED || rc == ENGINE_EFUTURE_REV ||
           rc == ENGINE_ETOOBIG;
}

/* Ends a write: on success (or a deterministic rejection, whose data is
 * dropped) commits the batch with the new state; otherwise discards it. */
static int end_write(struct rdb *r, uint64_t applied_index, int rc)
{
    struct rdb_delta d = r->d;
    memset(&r->d, 0, sizeof(r->d));
    if (!deterministic(rc)) {
        rocksdb_writebatch_wi_clear(r->wb);
        return rc; /* not applied; the caller may retry the entry */
    }
    struct rdb_state s = r->st;
    if (rc != 0) {
        rocksdb_writebatch_wi_clear(r->wb);
    } else if (d.dirty) {
        s.revision++;
        s.live_keys = (uint64_t)((int64_t)s.live_keys + d.live);
        s.revisions = (uint64_t)((int64_t)s.revisions + d.revisions);
        s.bytes = (uint64_t)((int64_t)s.bytes + d.bytes);
    }
    s.applied_index = applied_index;
    batch_put_state(r, &s);
    int wrc = write_wb(r, false);
    if (wrc != 0)
        return wrc;
    r->st = s;
    r->base.revision = s.revision;
    r->base.applied_index = s.applied_index;
    return rc;
}

/* ---- put ---------------------------------------------------------------- */

/* Finds the live newest record of the key encoded in r->pbuf. */
static int lookup_live(rocksdb_iterator_t *it, struct rbuf *b, struct rent *cur,
                       bool *found)
{
    *found = false;
    rocksdb_iter_seek(it, (const char *)b->p, b->len);
    if (!iter_on_key(it, b))
        return iter_status(it);
    int rc = rent_parse(it, cur);
    if (rc == 0)
        *found = cur->version > 0;
    return rc;
}

static int put_at(struct rdb *r, int64_t wrev, const struct engine_put_req *req,
                  struct engine_arena *a, struct engine_put_result *out)
{
    rocksdb_iterator_t *it = kv_iter(r, true);
    if (it == NULL)
        return ENGINE_ENOMEM;
    struct rent cur;
    bool live = false;
    memset(&cur, 0, sizeof(cur));
    int rc = enc_key(&r->pbuf, req->key, req->key_len);
    if (rc == 0)
        rc = lookup_live(it, &r->pbuf, &cur, &live);
    if (rc == 0 && (req->ignore_value || req->ignore_lease) && !live)
        rc = ENGINE_ENOTFOUND;
    out->revision = wrev;
    out->has_prev_kv = false;
    if (rc == 0 && req->prev_kv && live) {
        rc = copy_kv(a, &cur, true, &out->prev_kv);
        out->has_prev_kv = rc == 0;
    }
    const void *src = req->ignore_value ? cur.value : req->value;
    size_t vlen = req->ignore_value ? cur.value_len : req->value_len;
    if (rc == 0)
        rc = rbuf_reserve(&r->vbuf, REC_HDR + vlen);
    if (rc == 0) {
        rec_encode(r->vbuf.p, live ? cur.version + 1 : 1,
                   live ? cur.create : wrev,
                   req->ignore_lease ? cur.lease : req->lease);
        if (vlen > 0)
            memcpy(r->vbuf.p + REC_HDR, src, vlen);
        size_t klen = with_rev(&r->pbuf, wrev);
        rocksdb_writebatch_wi_put_cf(r->wb, r->cf_kv, (const char *)r->pbuf.p,
                                     klen, (const char *)r->vbuf.p,
                                     REC_HDR + vlen);
        r->d.dirty = true;
        r->d.revisions++;
        r->d.bytes += (int64_t)(klen + REC_HDR + vlen);
        if (!live)
            r->d.live++;
    }
    rocksdb_iter_destroy(it);
    return rc;
}

static int put_precheck(struct rdb *r, const struct engine_put_req *req)
{
    if (!req->ignore_value && !req->ignore_lease)
        return 0;
    rocksdb_iterator_t *it = kv_iter(r, true);
    if (it == NULL)
        return ENGINE_ENOMEM;
    struct rent cur;
    bool live;
    int rc = enc_key(&r->pbuf, req->key, req->key_len);
    if (rc == 0)
        rc = lookup_live(it, &r->pbuf, &cur, &live);
    rocksdb_iter_destroy(it);
    return rc != 0 ? rc : (live ? 0 : ENGINE_ENOTFOUND);
}

static int rdb_put(struct engine *e, uint64_t applied_index,
                   const struct engine_put_req *req, struct engine_arena *a,
                   struct engine_put_result *out)
{
    struct rdb *r = rdb(e);
    int rc = put_at(r, r->st.revision + 1, req, a, out);
    return end_write(r, applied_index, rc);
}

/* ---- delete ------------------------------------------------------------- */

struct delete_ctx {
    struct engine_arena *a;
    struct hits hits;
    bool with_value;
};

static int delete_visit(void *ctx, const struct rent *e)
{
    struct delete_ctx *dc = ctx;
    return hits_push(&dc->hits, dc->a, e, dc->with_value);
}

/* Tombstones every live key of the range at wrev.  The keys are gathered
 * first: the batch is not changed under an iterator that reads it. */
static int delete_at(struct rdb *r, int64_t wrev,
                     const struct engine_delete_req *req,
                     struct engine_arena *a, struct engine_delete_result *out)
{
    struct engine_arena tmp;
    engine_arena_init(&tmp);
    struct delete_ctx dc = {
        req->prev_kv ? a : &tmp, {NULL, 0, 0}, req->prev_kv};
    out->revision = wrev;
    out->deleted = 0;
    out->prev_kvs = NULL;
    out->prev_kvs_len = 0;
    rocksdb_iterator_t *it = kv_iter(r, true);
    int rc = it != NULL ? 0 : ENGINE_ENOMEM;
    if (rc == 0)
        rc = scan(r, it, req->key, req->key_len, req->range_end,
                  req->range_end_len, wrev, false, delete_visit, &dc);
    if (it != NULL)
        rocksdb_iter_destroy(it);
    if (rc == 0 && req->prev_kv)
        rc = hits_to_arena(a, &dc.hits, &out->prev_kvs, &out->prev_kvs_len);
    uint8_t tomb[REC_HDR] = {0};
    for (size_t i = 0; rc == 0 && i < dc.hits.n; i++) {
        rc = enc_key(&r->pbuf, dc.hits.v[i].key, dc.hits.v[i].key_len);
        if (rc != 0)
            break;
        size_t klen = with_rev(&r->pbuf, wrev);
        rocksdb_writebatch_wi_put_cf(r->wb, r->cf_kv, (const char *)r->pbuf.p,
                                     klen, (const char *)tomb, sizeof(tomb));
        r->d.dirty = true;
        r->d.revisions++;
        r->d.bytes += (int64_t)(klen + sizeof(tomb));
        r->d.live--;
    }
    if (rc == 0)
        out->deleted = (int64_t)dc.hits.n;
    hits_free(&dc.hits);
    engine_arena_free(&tmp);
    return rc;
}

static int rdb_delete_range(struct engine *e, uint64_t applied_index,
                            const struct engine_delete_req *req,
                            struct engine_arena *a,
                            struct engine_delete_result *out)
{
    struct rdb *r = rdb(e);
    int rc = delete_at(r, r->st.revision + 1, req, a, out);
    rc = end_write(r, applied_index, rc);
    out->revision = r->st.revision;
    return rc;
}

/* ---- txn ---------------------------------------------------------------- */

struct cmp_ctx {
    const struct engine_compare *c;
    bool seen;
    bool ok;
};

/* e == NULL: a missing key (version, create, mod, lease 0). */
static bool cmp_holds(const struct engine_compare *c, const struct rent *e)
{
    struct engine__cmp_subject x = {.exists = e != NULL};
    if (e != NULL) {
        x.value = e->value;
        x.value_len = e->value_len;
        x.version = e->version;
        x.create = e->create;
        x.mod = e->mod;
        x.lease = e->lease;
    }
    return engine__cmp_holds(c, &x);
}

static int cmp_visit(void *ctx, const struct rent *e)
{
    struct cmp_ctx *cc = ctx;
    cc->seen = true;
    if (!cmp_holds(cc->c, e)) {
        cc->ok = false;
        return 1;
    }
    return 0;
}

static int compare_ok(struct rdb *r, const struct engine_compare *c, bool *ok)
{
    rocksdb_iterator_t *it = kv_iter(r, false);
    if (it == NULL)
        return ENGINE_ENOMEM;
    struct cmp_ctx cc = {c, false, true};
    int rc = scan(r, it, c->key, c->key_len, c->range_end, c->range_end_len,
                  r->st.revision, false, cmp_visit, &cc);
    rocksdb_iter_destroy(it);
    *ok = cc.seen ? cc.ok : cmp_holds(c, NULL);
    return rc;
}

static int txn_precheck(struct rdb *r, const struct engine_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        if (ops[i].type == ENGINE_OP_RANGE)
            rc = check_read_rev(r, ops[i].u.range.revision);
        else if (ops[i].type == ENGINE_OP_PUT)
            rc = put_precheck(r, &ops[i].u.put);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int txn_range(struct rdb *r, int64_t wrev,
                     const struct engine_range_req *req, struct engine_arena *a,
                     struct engine_range_result *out)
{
    rocksdb_iterator_t *it = kv_iter(r, true);
    if (it == NULL)
        return ENGINE_ENOMEM;
    /* Revision 0 reads the txn's own writes, which sit at wrev. */
    int64_t rev = req->revision > 0 ? req->revision : wrev;
    int rc = range_at(r, it, req, rev, a, out);
    rocksdb_iter_destroy(it);
    return rc;
}

static int txn_run(struct rdb *r, const struct engine_op *ops, size_t n,
                   struct engine_arena *a, struct engine_op_result *res)
{
    int64_t wrev = r->st.revision + 1;
    for (size_t i = 0; i < n; i++) {
        const struct engine_op *op = &ops[i];
        int rc;
        res[i].type = op->type;
        switch (op->type) {
        case ENGINE_OP_RANGE:
            rc = txn_range(r, wrev, &op->u.range, a, &res[i].u.range);
            break;
        case ENGINE_OP_PUT:
            rc = put_at(r, wrev, &op->u.put, a, &res[i].u.put);
            break;
        default:
            rc = delete_at(r, wrev, &op->u.del, a, &res[i].u.del);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int rdb_txn(struct engine *e, uint64_t applied_index,
                   const struct engine_txn_req *req, struct engine_arena *a,
                   struct engine_txn_result *out)
{
    struct rdb *r = rdb(e);
    bool ok = true;
    int rc = 0;
    for (size_t i = 0; rc == 0 && ok && i < req->compares_len; i++)
        rc = compare_ok(r, &req->compares[i], &ok);
    const struct engine_op *ops = ok ? req->success : req->failure;
    size_t n = ok ? req->success_len : req->failure_len;
    out->succeeded = ok;
    out->results = NULL;
    out->results_len = 0;
    if (rc == 0)
        rc = txn_precheck(r, ops, n);
    if (rc == 0 && n > 0) {
        out->results = engine_arena_alloc(a, n * sizeof(out->results[0]));
        rc = out->results != NULL ? 0 : ENGINE_ENOMEM;
    }
    if (rc == 0)
        rc = txn_run(r, ops, n, a, out->results);
    rc = end_write(r, applied_index, rc);
    out->revision = r->st.revision;
    if (rc == 0) {
        out->results_len = n;
        for (size_t i = 0; i < n; i++) { /* one header revision, like etcd */
            if (ops[i].type == ENGINE_OP_RANGE)
                out->results[i].u.range.revision = r->st.revision;
            else if (ops[i].type == ENGINE_OP_DELETE)
                out->results[i].u.del.revision = r->st.revision;
            else
                out->results[i].u.put.revision = r->st.revision;
        }
    }
    return rc;
}

/* ---- compaction --------------------------------------------------------- */

bool engine_rocksdb_compact_pending(const struct engine *e)
{
    if (!engine_rocksdb_is(e))
        return false;
    const struct rdb *r = (const struct rdb *)e;
    return r->st.phys_rev < r->st.compact_rev;
}

/* Deletes the records of the key under the iterator (its first record)
 * that no read at >= c can see: everything older than the newest record
 * <= c, and that one too when it is a tombstone.  Leaves the iterator on
 * the next key. */
static int compact_key(struct rdb *r, rocksdb_iterator_t *it,
                       rocksdb_writebatch_t *wb, int64_t c, uint64_t *recs,
                       uint64_t *bytes, uint32_t *seen)
{
    size_t kl;
    const char *k = rocksdb_iter_key(it, &kl);
    if (kl < 11)
        return ENGINE_EIO;
    int rc = rbuf_set(&r->cbuf, k, kl - 8);
    if (rc != 0)
        return rc;
    rocksdb_iter_seek(it, (const char *)r->cbuf.p, with_rev(&r->cbuf, c));
    bool first = true;
    while (iter_on_key(it, &r->cbuf)) {
        struct rent e;
        if ((rc = rent_parse(it, &e)) != 0)
            return rc;
        if (!first || e.version == 0) {
            rocksdb_writebatch_delete_cf(wb, r->cf_kv, (const char *)e.k,
                                         e.klen);
            (*recs)++;
            *bytes += e.klen + e.rec_len;
        }
        first = false;
        (*seen)++;
        rocksdb_iter_next(it);
    }
    (*seen)++;
    return iter_status(it);
}

int engine_rocksdb_compact_step(struct engine *e, uint32_t budget)
{
    if (!engine_rocksdb_is(e))
        return ENGINE_EINVAL;
    struct rdb *r = rdb(e);
    if (!engine_rocksdb_compact_pending(e))
        return 0;
    rocksdb_iterator_t *it = kv_iter(r, false);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    if (it == NULL || wb == NULL) {
        if (it != NULL)
            rocksdb_iter_destroy(it);
        if (wb != NULL)
            rocksdb_writebatch_destroy(wb);
        return ENGINE_ENOMEM;
    }
    if (r->cursor.len > 0)
        rocksdb_iter_seek(it, (const char *)r->cursor.p, r->cursor.len);
    else
        rocksdb_iter_seek_to_first(it);
    uint64_t recs = 0, bytes = 0;
    uint32_t seen = 0;
    int rc = 0;
    while (rc == 0 && rocksdb_iter_valid(it) && seen < budget)
        rc = compact_key(r, it, wb, r->st.compact_rev, &recs, &bytes, &seen);
    if (rc == 0)
        rc = iter_status(it);
    bool done = rc == 0 && !rocksdb_iter_valid(it);
    struct rbuf next = {NULL, 0, 0};
    if (rc == 0 && !done) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        rc = kl >= 11 ? rbuf_set(&next, k, kl - 8) : ENGINE_EIO;
    }
    rocksdb_iter_destroy(it);
    struct rdb_state s = r->st;
    s.revisions -= recs;
    s.bytes -= bytes;
    if (done)
        s.phys_rev = s.compact_rev;
    uint8_t b[STATE_LEN];
    state_encode(&s, b);
    if (rc == 0) {
        rocksdb_writebatch_put_cf(wb, r->cf_meta, META_STATE,
                                  sizeof(META_STATE) - 1, (const char *)b,
                                  sizeof(b));
        if (done)
            rocksdb_writebatch_delete_cf(wb, r->cf_meta, META_CURSOR,
                                         sizeof(META_CURSOR) - 1);
        else
            rocksdb_writebatch_put_cf(wb, r->cf_meta, META_CURSOR,
                                      sizeof(META_CURSOR) - 1,
                                      (const char *)next.p, next.len);
        char *err = NULL;
        rocksdb_write(r->db, r->wo_async, wb, &err);
        if (err != NULL) {
            free(err);
            rc = ENGINE_EIO;
        }
    }
    rocksdb_writebatch_destroy(wb);
    if (rc == 0) {
        r->st = s;
        rbuf_free(&r->cursor);
        r->cursor = next;
        return done ? 0 : 1;
    }
    rbuf_free(&next);
    return rc;
}

static int rdb_compact(struct engine *e, uint64_t applied_index,
                       int64_t revision)
{
    struct rdb *r = rdb(e);
    struct rdb_state s = r->st;
    s.applied_index = applied_index; /* every outcome below is final */
    int rc = 0;
    if (revision <= s.compact_rev)
        rc = ENGINE_ECOMPACTED;
    else if (revision > s.revision)
        rc = ENGINE_EFUTURE_REV;
    if (rc == 0) {
        /* Keys before the cursor were compacted to an older revision only:
         * start the physical pass again from the first key. */
        s.compact_rev = revision;
        rocksdb_writebatch_wi_delete_cf(r->wb, r->cf_meta, META_CURSOR,
                                        sizeof(META_CURSOR) - 1);
    }
    batch_put_state(r, &s);
    int wrc = write_wb(r, false);
    if (wrc != 0)
        return wrc;
    r->st = s;
    e->applied_index = applied_index;
    if (rc != 0)
        return rc;
    r->cursor.len = 0;
    /* Small stores are done at once; a large one continues in steps.  An
     * error here loses nothing: the next step retries. */
    (void)engine_rocksdb_compact_step(e, r->compact_budget);
    return 0;
}

static int rdb_mark_applied(struct engine *e, uint64_t applied_index)
{
    struct rdb *r = rdb(e);
    struct rdb_state s = r->st;
    s.applied_index = applied_index;
    batch_put_state(r, &s);
    int rc = write_wb(r, false);
    if (rc != 0)
        return rc;
    r->st = s;
    e->applied_index = applied_index;
    return 0;
}

static void rdb_stats(struct engine *e, struct engine_stats *out)
{
    struct rdb *r = rdb(e);
    out->keys = r->st.live_keys;
    out->revisions = r->st.revisions;
    out->approx_bytes = r->st.bytes;
    out->revision = r->st.revision;
    out->compact_revision = r->st.compact_rev;
    out->applied_index = r->st.applied_index;
}

/* ---- snapshot save ------------------------------------------------------ */

/* From the first record of a key: how many records a compaction at c keeps
 * (*n) and the oldest kept revision (*oldest).  Leaves the iterator on the
 * next key.  Kept: every record above c, plus the newest one <= c if it is
 * live. */
static int key_kept(struct rdb *r, rocksdb_iterator_t *it, int64_t c,
                    uint32_t *n, int64_t *oldest)
{
    size_t kl;
    const char *k = rocksdb_iter_key(it, &kl);
    if (kl < 11)
        return ENGINE_EIO;
    int rc = rbuf_set(&r->cbuf, k, kl - 8);
    if (rc != 0)
        return rc;
    *n = 0;
    *oldest = 0;
    while (iter_on_key(it, &r->cbuf)) {
        struct rent e;
        if ((rc = rent_parse(it, &e)) != 0)
            return rc;
        if (e.mod > c || e.version > 0) {
            (*n)++;
            *oldest = e.mod;
        }
        if (e.mod <= c)
            break;
        rocksdb_iter_next(it);
    }
    if (iter_on_key(it, &r->cbuf))
        rocksdb_iter_seek(it, (const char *)r->cbuf.p, with_rev(&r->cbuf, 0));
    return iter_status(it);
}

static int count_keys(struct rdb *r, rocksdb_iterator_t *it, uint64_t *keys)
{
    *keys = 0;
    rocksdb_iter_seek_to_first(it);
    while (rocksdb_iter_valid(it)) {
        uint32_t n;
        int64_t oldest;
        int rc = key_kept(r, it, r->st.compact_rev, &n, &oldest);
        if (rc != 0)
            return rc;
        *keys += n > 0;
    }
    return iter_status(it);
}

/* Writes the kept records of the key in r->cbuf, oldest first (the store
 * has them newest first, so this walks backwards). */
static int save_key(struct rdb *r, rocksdb_iterator_t *it,
                    struct engine__snap_writer *w, uint32_t n, int64_t oldest)
{
    int rc = rbuf_reserve(&r->pbuf, r->cbuf.len);
    if (rc != 0)
        return rc;
    size_t klen = unescape(r->cbuf.p, r->cbuf.len - 2, r->pbuf.p);
    if (klen == SIZE_MAX || klen == 0)
        return ENGINE_EIO;
    engine__snapw_key(w, r->pbuf.p, klen, n);
    rocksdb_iter_seek(it, (const char *)r->cbuf.p, with_rev(&r->cbuf, oldest));
    for (uint32_t i = 0; i < n && w->err == 0; i++) {
        struct rent e;
        if (!iter_on_key(it, &r->cbuf))
            return ENGINE_EIO;
        if ((rc = rent_parse(it, &e)) != 0)
            return rc;
        struct engine__snap_rev sr = {e.mod, e.create, e.version, e.lease,
                                      (uint32_t)e.value_len};
        if (e.value_len > ENGINE_MAX_VALUE_BYTES)
            return ENGINE_EIO;
        engine__snapw_rev(w, &sr, e.value);
        rocksdb_iter_prev(it);
    }
    /* On to the next key. */
    rocksdb_iter_seek(it, (const char *)r->cbuf.p, with_rev(&r->cbuf, 0));
    return iter_status(it);
}

static int save_keys(struct rdb *r, rocksdb_iterator_t *it,
                     struct engine__snap_writer *w)
{
    rocksdb_iter_seek_to_first(it);
    while (rocksdb_iter_valid(it) && w->err == 0) {
        uint32_t n;
        int64_t oldest;
        int rc = key_kept(r, it, r->st.compact_rev, &n, &oldest);
        if (rc == 0 && n > 0)
            rc = save_key(r, it, w, n, oldest);
        if (rc != 0)
            return rc;
    }
    return iter_status(it);
}

static int rdb_snapshot_save(struct engine *e, engine_write_cb write, void *ctx)
{
    struct rdb *r = rdb(e);
    const rocksdb_snapshot_t *snap = rocksdb_create_snapshot(r->db);
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(ro, snap);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(r->db, ro, r->cf_kv);
    struct engine__snap_header h = {r->st.revision, r->st.compact_rev,
                                    r->st.applied_index, 0};
    int rc = count_keys(r, it, &h.keys);
    struct engine__snap_writer w;
    if (rc == 0)
        rc = engine__snapw_init(&w, write, ctx);
    if (rc == 0) {
        engine__snapw_header(&w, &h);
        rc = save_keys(r, it, &w);
        int frc = engine__snapw_finish(&w);
        if (rc == 0)
            rc = frc;
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    rocksdb_release_snapshot(r->db, snap);
    return rc;
}

/* ---- snapshot restore --------------------------------------------------- */

struct restore {
    rocksdb_column_family_handle_t *cf; /* created at the first flush */
    char name[32];
    struct rbuf stage; /* records not yet written: u32 klen key u32 vlen val */
    struct rdb_state st;
};

/* Writes the staged records into the new column family, creating it first.
 * Staging means a stream that turns out corrupt early costs no column
 * family (and no manifest write) at all. */
static int restore_flush(struct rdb *r, struct restore *rs)
{
    char *err = NULL;
    if (rs->cf == NULL) {
        rs->cf = rocksdb_create_column_family(r->db, r->opts, rs->name, &err);
        if (err != NULL) {
            free(err);
            rs->cf = NULL;
            return ENGINE_EIO;
        }
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t off = 0; off < rs->stage.len;) {
        const uint8_t *p = rs->stage.p + off;
        uint32_t kl = get_le32(p);
        uint32_t vl = get_le32(p + 4 + kl);
        rocksdb_writebatch_put_cf(wb, rs->cf, (const char *)p + 4, kl,
                                  (const char *)p + 8 + kl, vl);
        off += 8 + (size_t)kl + vl;
    }
    rs->stage.len = 0;
    rocksdb_write(r->db, r->wo_async, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    return 0;
}

static int restore_stage(struct restore *rs, const uint8_t *k, size_t kl,
                         const uint8_t *v, size_t vl)
{
    int rc = rbuf_reserve(&rs->stage, rs->stage.len + 8 + kl + vl + 8);
    if (rc != 0)
        return rc;
    uint8_t *p = rs->stage.p + rs->stage.len;
    put_le32(p, (uint32_t)kl);
    memcpy(p + 4, k, kl);
    put_le32(p + 4 + kl, (uint32_t)vl);
    memcpy(p + 8 + kl, v, vl);
    rs->stage.len += 8 + kl + vl;
    return 0;
}

static int restore_key(struct rdb *r, struct engine__snap_reader *rd,
                       struct restore *rs, const uint8_t *key, size_t key_len,
                       uint32_t n)
{
    int rc = enc_key(&r->sbuf, key, key_len);
    bool live = false;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct engine__snap_rev sr;
        rc = engine__snapr_next_rev(rd, &sr);
        if (rc == 0)
            rc = rbuf_reserve(&r->vbuf, REC_HDR + sr.value_len);
        if (rc == 0)
            rc = engine__snapr_value(rd, r->vbuf.p + REC_HDR, sr.value_len);
        if (rc != 0)
            break;
        rec_encode(r->vbuf.p, sr.version, sr.create_revision, sr.lease);
        size_t klen = with_rev(&r->sbuf, sr.mod_revision);
        rc = restore_stage(rs, r->sbuf.p, klen, r->vbuf.p,
                           REC_HDR + sr.value_len);
        rs->st.revisions++;
        rs->st.bytes += klen + REC_HDR + sr.value_len;
        live = sr.version > 0;
        if (rc == 0 && rs->stage.len >= RESTORE_BATCH)
            rc = restore_flush(r, rs);
    }
    if (rc == 0 && live)
        rs->st.live_keys++;
    return rc;
}

static int restore_stream(struct rdb *r, struct restore *rs,
                          engine_read_cb read, void *ctx)
{
    struct engine__snap_reader rd;
    struct engine__snap_header h;
    int rc = engine__snapr_init(&rd, read, ctx);
    if (rc != 0)
        return rc;
    rc = engine__snapr_header(&rd, &h);
    while (rc == 0) {
        const uint8_t *key;
        size_t key_len;
        uint32_t n;
        rc = engine__snapr_next_key(&rd, &key, &key_len, &n);
        if (rc != 1)
            break;
        rc = restore_key(r, &rd, rs, key, key_len, n);
    }
    engine__snapr_free(&rd);
    if (rc == 0) /* the trailer checked out: write the rest */
        rc = restore_flush(r, rs);
    rs->st.revision = h.revision;
    rs->st.compact_rev = h.compact_revision;
    rs->st.phys_rev = h.compact_revision;
    rs->st.applied_index = h.applied_index;
    return rc;
}

/* Makes the restored column family the live one: one synced batch moves
 * meta to it, then the old one is dropped. */
static int restore_switch(struct rdb *r, struct restore *rs, const char *name)
{
    uint8_t b[STATE_LEN];
    state_encode(&rs->st, b);
    rocksdb_writebatch_wi_put_cf(r->wb, r->cf_meta, META_STATE,
                                 sizeof(META_STATE) - 1, (const char *)b,
                                 sizeof(b));
    rocksdb_writebatch_wi_put_cf(r->wb, r->cf_meta, META_KVCF,
                                 sizeof(META_KVCF) - 1, name, strlen(name));
    rocksdb_writebatch_wi_delete_cf(r->wb, r->cf_meta, META_CURSOR,
                                    sizeof(META_CURSOR) - 1);
    int rc = write_wb(r, true);
    if (rc != 0)
        return rc;
    char *err = NULL;
    rocksdb_drop_column_family(r->db, r->cf_kv, &err);
    free(err); /* a leftover is dropped at the next open */
    rocksdb_column_family_handle_destroy(r->cf_kv);
    r->cf_kv = rs->cf;
    r->kv_gen++;
    snprintf(r->kv_name, sizeof(r->kv_name), "%s", name);
    r->st = rs->st;
    r->base.revision = rs->st.revision;
    r->base.applied_index = rs->st.applied_index;
    r->cursor.len = 0;
    return 0;
}

static int rdb_snapshot_restore(struct engine *e, engine_read_cb read,
                                void *ctx)
{
    struct rdb *r = rdb(e);
    struct restore rs;
    memset(&rs, 0, sizeof(rs));
    snprintf(rs.name, sizeof(rs.name), "kv.%llu",
             (unsigned long long)(r->kv_gen + 1));
    int rc = restore_stream(r, &rs, read, ctx);
    if (rc == 0)
        rc = restore_switch(r, &rs, rs.name);
    if (rc != 0 && rs.cf != NULL) {
        char *err = NULL;
        rocksdb_drop_column_family(r->db, rs.cf, &err);
        free(err); /* a leftover is dropped at the next open */
        rocksdb_column_family_handle_destroy(rs.cf);
    }
    rbuf_free(&rs.stage);
    return rc;
}

/* ---- Raft log and state ------------------------------------------------- */

bool engine_rocksdb_is(const struct engine *e)
{
    return e != NULL && e->ops == &rdb_ops;
}

static int write_plain(struct rdb *r, rocksdb_writebatch_t *wb, bool sync)
{
    char *err = NULL;
    rocksdb_write(r->db, sync ? r->wo_sync : r->wo_async, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    return 0;
}

int engine_rocksdb_log_append(struct engine *e,
                              const struct raft_entry *entries, size_t n,
                              bool sync)
{
    if (!engine_rocksdb_is(e) || (n > 0 && entries == NULL))
        return ENGINE_EINVAL;
    if (n == 0)
        return 0;
    struct rdb *r = rdb(e);
    raft_index lo = entries[0].index, hi = lo + n - 1;
    if (lo == 0)
        return ENGINE_EINVAL;
    if (r->log_last > 0 && (lo > r->log_last + 1 || lo < r->log_first))
        return ENGINE_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (entries[i].index != lo + i ||
            (entries[i].len > 0 && entries[i].data == NULL))
            return ENGINE_EINVAL;
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    uint8_t k[8], k2[8], hdr[12];
    if (r->log_last > hi) { /* Raft: the append replaces the rest */
        put_be64(k, hi + 1);
        put_be64(k2, r->log_last + 1);
        rocksdb_writebatch_delete_range_cf(wb, r->cf_log, (const char *)k, 8,
                                           (const char *)k2, 8);
    }
    for (size_t i = 0; i < n; i++) {
        put_be64(k, entries[i].index);
        put_le64(hdr, entries[i].term);
        put_le32(hdr + 8, entries[i].type);
        const char *parts[2] = {(const char *)hdr,
                                (const char *)entries[i].data};
        size_t lens[2] = {sizeof(hdr), entries[i].len};
        const char *kp[1] = {(const char *)k};
        size_t kl[1] = {8};
        rocksdb_writebatch_putv_cf(wb, r->cf_log, 1, kp, kl,
                                   entries[i].len > 0 ? 2 : 1, parts, lens);
    }
    int rc = write_plain(r, wb, sync);
    if (rc == 0) {
        if (r->log_last == 0)
            r->log_first = lo;
        r->log_last = hi;
    }
    return rc;
}

void engine_rocksdb_log_bounds(const struct engine *e, raft_index *first,
                               raft_index *last)
{
    *first = *last = 0;
    if (engine_rocksdb_is(e)) {
        *first = ((const struct rdb *)e)->log_first;
        *last = ((const struct rdb *)e)->log_last;
    }
}

int engine_rocksdb_log_get(struct engine *e, raft_index index,
                           struct engine_arena *a, struct raft_entry *out)
{
    if (!engine_rocksdb_is(e))
        return ENGINE_EINVAL;
    struct rdb *r = rdb(e);
    if (index == 0 || index < r->log_first || index > r->log_last)
        return ENGINE_ENOTFOUND;
    uint8_t k[8];
    put_be64(k, index);
    char *err = NULL;
    size_t vl;
    char *v =
        rocksdb_get_cf(r->db, r->ro, r->cf_log, (const char *)k, 8, &vl, &err);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    if (v == NULL)
        return ENGINE_ENOTFOUND;
    int rc = vl >= 12 && vl - 12 <= UINT32_MAX ? 0 : ENGINE_EIO;
    if (rc == 0) {
        const uint8_t *p = (const uint8_t *)v;
        out->index = index;
        out->term = get_le64(p);
        out->type = get_le32(p + 8);
        out->len = (uint32_t)(vl - 12);
        out->data = engine_arena_alloc(a, out->len);
        if (out->data == NULL)
            rc = ENGINE_ENOMEM;
        else if (out->len > 0)
            memcpy(out->data, p + 12, out->len);
    }
    rocksdb_free(v);
    return rc;
}

static int log_delete(struct rdb *r, raft_index lo, raft_index hi, bool sync)
{
    uint8_t k[8], k2[8];
    put_be64(k, lo);
    put_be64(k2, hi);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_delete_range_cf(wb, r->cf_log, (const char *)k, 8,
                                       (const char *)k2, 8);
    return write_plain(r, wb, sync);
}

int engine_rocksdb_log_truncate_prefix(struct engine *e, raft_index index,
                                       bool sync)
{
    if (!engine_rocksdb_is(e))
        return ENGINE_EINVAL;
    struct rdb *r = rdb(e);
    if (r->log_last == 0 || index < r->log_first)
        return 0;
    int rc = log_delete(r, r->log_first, index + 1, sync);
    if (rc != 0)
        return rc;
    if (index >= r->log_last)
        r->log_first = r->log_last = 0;
    else
        r->log_first = index + 1;
    return 0;
}

int engine_rocksdb_log_truncate_suffix(struct engine *e, raft_index index,
                                       bool sync)
{
    if (!engine_rocksdb_is(e))
        return ENGINE_EINVAL;
    struct rdb *r = rdb(e);
    if (r->log_last == 0 || index > r->log_last)
        return 0;
    if (index < r->log_first)
        index = r->log_first;
    int rc = log_delete(r, index, r->log_last + 1, sync);
    if (rc != 0)
        return rc;
    if (index == r->log_first)
        r->log_first = r->log_last = 0;
    else
        r->log_last = index - 1;
    return 0;
}

static int state_put(struct rdb *r, const char *name, const void *v, size_t len,
                     bool sync)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_writebatch_put_cf(wb, r->cf_state, name, strlen(name), v, len);
    return write_plain(r, wb, sync);
}

/* *v is rocksdb-allocated (rocksdb_free), NULL when absent. */
static int state_get(struct rdb *r, const char *name, char **v, size_t *len)
{
    char *err = NULL;
    *v = rocksdb_get_cf(r->db, r->ro, r->cf_state, name, strlen(name), len,
                        &err);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    return *v != NULL ? 0 : ENGINE_ENOTFOUND;
}

int engine_rocksdb_hard_state_save(struct engine *e,
                                   const struct raft_hard_state *hs, bool sync)
{
    if (!engine_rocksdb_is(e) || hs == NULL)
        return ENGINE_EINVAL;
    uint8_t b[24];
    put_le64(b, hs->term);
    put_le64(b + 8, hs->vote);
    put_le64(b + 16, hs->commit);
    return state_put(rdb(e), RAFT_HARDSTATE, b, sizeof(b), sync);
}

int engine_rocksdb_hard_state_load(struct engine *e, struct raft_hard_state *hs)
{
    if (!engine_rocksdb_is(e) || hs == NULL)
        return ENGINE_EINVAL;
    char *v;
    size_t len;
    int rc = state_get(rdb(e), RAFT_HARDSTATE, &v, &len);
    if (rc != 0)
        return rc;
    if (len == 24) {
        const uint8_t *p = (const uint8_t *)v;
        hs->term = get_le64(p);
        hs->vote = get_le64(p + 8);
        hs->commit = get_le64(p + 16);
    } else {
        rc = ENGINE_EIO;
    }
    rocksdb_free(v);
    return rc;
}

static bool state_name_ok(const char *name)
{
    return name != NULL && name[0] != 0 &&
           strncmp(name, RAFT_HARDSTATE, sizeof(RAFT_HARDSTATE) - 1) != 0;
}

int engine_rocksdb_state_put(struct engine *e, const char *name,
                             const void *value, size_t len, bool sync)
{
    if (!engine_rocksdb_is(e) || !state_name_ok(name) ||
        (len > 0 && value == NULL))
        return ENGINE_EINVAL;
    return state_put(rdb(e), name, value, len, sync);
}

int engine_rocksdb_state_get(struct engine *e, const char *name,
                             struct engine_arena *a, const void **value,
                             size_t *len)
{
    if (!engine_rocksdb_is(e) || !state_name_ok(name))
        return ENGINE_EINVAL;
    char *v;
    int rc = state_get(rdb(e), name, &v, len);
    if (rc != 0)
        return rc;
    void *p = engine_arena_alloc(a, *len);
    if (p != NULL && *len > 0)
        memcpy(p, v, *len);
    rocksdb_free(v);
    *value = p;
    return p != NULL ? 0 : ENGINE_ENOMEM;
}

uint64_t engine_rocksdb_disk_bytes(struct engine *e)
{
    if (!engine_rocksdb_is(e))
        return 0;
    struct rdb *r = rdb(e);
    DIR *d = opendir(r->path);
    if (d == NULL)
        return 0;
    uint64_t total = 0;
    struct dirent *de;
    char p[4096];
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        int n = snprintf(p, sizeof(p), "%s/%s", r->path, de->d_name);
        if (n > 0 && (size_t)n < sizeof(p) && stat(p, &sb) == 0 &&
            S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
    }
    closedir(d);
    return total;
}

/* ---- open / close ------------------------------------------------------- */

/* ---- history ------------------------------------------------------------ */

/* A key's records come newest first, so each record is the prev_kv of the
 * event read just before it (`pend`, still waiting for its prev). */
struct hist_ctx {
    struct engine_arena *a;
    struct engine__evvec v;
    int64_t start;
    bool prev_kv;
    bool has_pend;
    struct engine_event pend;
};

static int hist_flush(struct hist_ctx *h)
{
    if (!h->has_pend)
        return 0;
    h->has_pend = false;
    return engine__evvec_push(&h->v, &h->pend);
}

/* One record of the key in r->cbuf (already known to be in the range). */
static int hist_record(struct hist_ctx *h, const struct rent *e)
{
    int rc;
    if (h->has_pend && h->prev_kv && e->version > 0) {
        if ((rc = copy_kv(h->a, e, true, &h->pend.prev_kv)) != 0)
            return rc;
        h->pend.has_prev_kv = true;
    }
    if ((rc = hist_flush(h)) != 0)
        return rc;
    if (e->mod < h->start)
        return 1; /* older records are of no use */
    memset(&h->pend, 0, sizeof(h->pend));
    if ((rc = copy_kv(h->a, e, e->version > 0, &h->pend.kv)) != 0)
        return rc;
    h->pend.type = e->version > 0 ? ENGINE_EVENT_PUT : ENGINE_EVENT_DELETE;
    h->has_pend = true;
    return 0;
}

/* Walks every record of the range: O(stored records in the range). */
static int hist_scan(struct rdb *r, rocksdb_iterator_t *it,
                     const struct engine_history_req *req, struct hist_ctx *h)
{
    bool single, to_end;
    engine__range_kind(req->range_end_len, req->range_end, &single, &to_end);
    int rc = enc_key(&r->sbuf, req->key, req->key_len);
    if (rc != 0)
        return rc;
    if (!single && !to_end) {
        if (engine_key_cmp(req->range_end, req->range_end_len, req->key,
                           req->key_len) <= 0)
            return 0;
        if ((rc = enc_key(&r->ebuf, req->range_end, req->range_end_len)) != 0)
            return rc;
    }
    r->cbuf.len = 0;
    rocksdb_iter_seek(it, (const char *)r->sbuf.p, r->sbuf.len);
    while (rocksdb_iter_valid(it)) {
        struct rent e;
        if ((rc = rent_parse(it, &e)) != 0)
            return rc;
        if (single ? !iter_on_key(it, &r->sbuf)
                   : !to_end && engine_key_cmp(e.k, e.enc_len, r->ebuf.p,
                                               r->ebuf.len) >= 0)
            break;
        if (!iter_on_key(it, &r->cbuf)) { /* a new key */
            if ((rc = hist_flush(h)) != 0)
                return rc;
            if ((rc = rbuf_set(&r->cbuf, e.k, e.enc_len)) != 0)
                return rc;
        }
        rc = hist_record(h, &e);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            skip_key(it, &r->cbuf);
            continue;
        }
        rocksdb_iter_next(it);
    }
    if ((rc = iter_status(it)) != 0)
        return rc;
    return hist_flush(h);
}

static int rdb_history(struct engine *e, const struct engine_history_req *req,
                       struct engine_arena *a,
                       struct engine_history_result *out)
{
    struct rdb *r = rdb(e);
    int rc = engine__history_check(req->start_revision, r->st.revision,
                                   r->st.compact_rev);
    if (rc != 0)
        return rc;
    rocksdb_iterator_t *it = kv_iter(r, false);
    if (it == NULL)
        return ENGINE_ENOMEM;
    struct hist_ctx h;
    memset(&h, 0, sizeof(h));
    h.a = a;
    h.start = req->start_revision;
    h.prev_kv = req->prev_kv;
    rc = hist_scan(r, it, req, &h);
    rocksdb_iter_destroy(it);
    if (rc != 0) {
        engine__evvec_free(&h.v);
        return rc;
    }
    return engine__history_finish(&h.v, req->limit, r->st.revision, a, out);
}

static void rdb_close(struct engine *e)
{
    struct rdb *r = rdb(e);
    rocksdb_column_family_handle_t *cfs[] = {r->cf_kv, r->cf_meta, r->cf_log,
                                             r->cf_state, r->cf_default};
    for (size_t i = 0; i < sizeof(cfs) / sizeof(cfs[0]); i++)
        if (cfs[i] != NULL)
            rocksdb_column_family_handle_destroy(cfs[i]);
    if (r->db != NULL)
        rocksdb_close(r->db);
    if (r->wb != NULL)
        rocksdb_writebatch_wi_destroy(r->wb);
    if (r->ro != NULL)
        rocksdb_readoptions_destroy(r->ro);
    if (r->wo_async != NULL)
        rocksdb_writeoptions_destroy(r->wo_async);
    if (r->wo_sync != NULL)
        rocksdb_writeoptions_destroy(r->wo_sync);
    if (r->opts != NULL)
        rocksdb_options_destroy(r->opts);
    if (r->bbto != NULL)
        rocksdb_block_based_options_destroy(r->bbto);
    if (r->cache != NULL)
        rocksdb_cache_destroy(r->cache);
    struct rbuf *bufs[] = {&r->cursor, &r->sbuf, &r->ebuf,
                           &r->cbuf,   &r->pbuf, &r->vbuf, &r->aux,
                           &r->aux_auth};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        rbuf_free(bufs[i]);
    free(r->path);
    free(r);
}

static const struct engine_ops rdb_ops = {
    .name = "rocksdb",
    .range = rdb_range,
    .put = rdb_put,
    .delete_range = rdb_delete_range,
    .txn = rdb_txn,
    .compact = rdb_compact,
    .mark_applied = rdb_mark_applied,
    .stats = rdb_stats,
    .snapshot_save = rdb_snapshot_save,
    .snapshot_restore = rdb_snapshot_restore,
    .close = rdb_close,
    .history = rdb_history,
};

int engine_rocksdb_parse_compression(const char *name,
                                     enum engine_rocksdb_compression *out)
{
    static const struct {
        const char *name;
        enum engine_rocksdb_compression c;
    } t[] = {{"", ENGINE_ROCKSDB_COMPRESSION_DEFAULT},
             {"default", ENGINE_ROCKSDB_COMPRESSION_DEFAULT},
             {"none", ENGINE_ROCKSDB_COMPRESSION_NONE},
             {"snappy", ENGINE_ROCKSDB_COMPRESSION_SNAPPY},
             {"lz4", ENGINE_ROCKSDB_COMPRESSION_LZ4},
             {"zstd", ENGINE_ROCKSDB_COMPRESSION_ZSTD}};
    for (size_t i = 0; name != NULL && i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(name, t[i].name) == 0) {
            *out = t[i].c;
            return 0;
        }
    }
    return ENGINE_EINVAL;
}

static void set_err(const struct engine_rocksdb_options *o, const char *fmt,
                    const char *a, const char *b)
{
    if (o != NULL && o->err_buf != NULL && o->err_buf_len > 0)
        snprintf(o->err_buf, o->err_buf_len, fmt, a, b != NULL ? b : "");
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Creates the directory if needed and checks or writes the marker. */
static int check_marker(const char *path,
                        const struct engine_rocksdb_options *o)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        int rc = -errno;
        set_err(o, "cannot create data directory %s: %s", path, strerror(-rc));
        return rc;
    }
    char p[4096], tmp[4096];
    if ((size_t)snprintf(p, sizeof(p), "%s/" MARKER_NAME, path) >= sizeof(p) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/" MARKER_NAME ".tmp", path) >=
            sizeof(tmp))
        return ENGINE_EINVAL;
    FILE *f = fopen(p, "r");
    if (f != NULL) {
        char buf[64] = {0};
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        while (n > 0 &&
               (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
            buf[--n] = 0;
        if (strcmp(buf, MARKER_TEXT) == 0)
            return 0;
        set_err(o,
                "data directory %s holds data of the \"%s\" engine, not "
                "rocksdb",
                path, buf);
        return ENGINE_EINVAL;
    }
    if (errno != ENOENT) {
        int rc = -errno;
        set_err(o, "cannot read marker %s: %s", p, strerror(-rc));
        return rc;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    static const char text[] = MARKER_TEXT "\n";
    int rc = 0;
    if (write(fd, text, sizeof(text) - 1) != (ssize_t)(sizeof(text) - 1) ||
        fsync(fd) != 0)
        rc = errno != 0 ? -errno : ENGINE_EIO;
    close(fd);
    if (rc == 0 && rename(tmp, p) != 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_dir(path);
    if (rc != 0)
        set_err(o, "cannot write marker in %s: %s", path, strerror(-rc));
    return rc;
}

static int compression_of(enum engine_rocksdb_compression c)
{
    switch (c) {
    case ENGINE_ROCKSDB_COMPRESSION_NONE:
        return rocksdb_no_compression;
    case ENGINE_ROCKSDB_COMPRESSION_SNAPPY:
        return rocksdb_snappy_compression;
    case ENGINE_ROCKSDB_COMPRESSION_ZSTD:
        return rocksdb_zstd_compression;
    default:
        return rocksdb_lz4_compression;
    }
}

static int make_options(struct rdb *r, const struct engine_rocksdb_options *o)
{
    uint64_t cache =
        o->block_cache_bytes > 0 ? o->block_cache_bytes : 64ull << 20;
    uint64_t wbuf =
        o->write_buffer_bytes > 0 ? o->write_buffer_bytes : 16ull << 20;
    int jobs = o->max_background_jobs > 0 ? o->max_background_jobs : 2;
    r->opts = rocksdb_options_create();
    r->cache = rocksdb_cache_create_lru(cache);
    r->bbto = rocksdb_block_based_options_create();
    r->ro = rocksdb_readoptions_create();
    r->wo_async = rocksdb_writeoptions_create();
    r->wo_sync = rocksdb_writeoptions_create();
    r->wb = rocksdb_writebatch_wi_create(0, 1);
    if (r->opts == NULL || r->cache == NULL || r->bbto == NULL ||
        r->ro == NULL || r->wo_async == NULL || r->wo_sync == NULL ||
        r->wb == NULL)
        return ENGINE_ENOMEM;
    rocksdb_block_based_options_set_block_cache(r->bbto, r->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(r->bbto, 1);
    rocksdb_options_set_block_based_table_factory(r->opts, r->bbto);
    rocksdb_options_set_create_if_missing(r->opts, 1);
    rocksdb_options_set_create_missing_column_families(r->opts, 1);
    rocksdb_options_set_write_buffer_size(r->opts, (size_t)wbuf);
    rocksdb_options_set_max_background_jobs(r->opts, jobs);
    rocksdb_options_set_compression(r->opts, compression_of(o->compression));
    rocksdb_options_set_info_log_level(r->opts, 2); /* warnings and up */
    rocksdb_options_set_keep_log_file_num(r->opts, 2);
    rocksdb_writeoptions_set_sync(r->wo_async, 0);
    rocksdb_writeoptions_set_sync(r->wo_sync, 1);
    return 0;
}

static bool is_kv_cf(const char *name)
{
    return strcmp(name, KV_CF_DEFAULT) == 0 || strncmp(name, "kv.", 3) == 0;
}

/* Opens the database with every column family it has plus the ones we
 * need.  *handles and *names (names[i] malloc'd) are returned to the caller. */
static int open_db(struct rdb *r, const struct engine_rocksdb_options *o,
                   char ***names_out,
                   rocksdb_column_family_handle_t ***handles_out, size_t *n_out)
{
    static const char *const need[] = {"default", "meta", "raftlog",
                                       "raftstate"};
    size_t have_n = 0;
    char *err = NULL;
    char **have = rocksdb_list_column_families(r->opts, r->path, &have_n, &err);
    free(err); /* a new database has none */
    err = NULL;
    size_t cap = have_n + 5, n = 0;
    char **names = calloc(cap, sizeof(*names));
    rocksdb_column_family_handle_t **h = calloc(cap, sizeof(*h));
    int rc = names != NULL && h != NULL ? 0 : ENGINE_ENOMEM;
    bool any_kv = false;
    for (size_t i = 0; rc == 0 && i < have_n; i++) {
        any_kv |= is_kv_cf(have[i]);
        if ((names[n++] = strdup(have[i])) == NULL)
            rc = ENGINE_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < 5; i++) {
        const char *want = i < 4 ? need[i] : (any_kv ? NULL : KV_CF_DEFAULT);
        bool found = want == NULL;
        for (size_t j = 0; !found && j < n; j++)
            found = strcmp(names[j], want) == 0;
        if (!found && (names[n++] = strdup(want)) == NULL)
            rc = ENGINE_ENOMEM;
    }
    if (have != NULL)
        rocksdb_list_column_families_destroy(have, have_n);
    *names_out = names;
    *handles_out = h;
    *n_out = n;
    if (rc != 0)
        return rc;
    const rocksdb_options_t **co = calloc(n, sizeof(*co));
    if (co == NULL)
        return ENGINE_ENOMEM;
    for (size_t i = 0; i < n; i++)
        co[i] = r->opts;
    r->db = rocksdb_open_column_families(
        r->opts, r->path, (int)n, (const char *const *)names, co, h, &err);
    free(co);
    if (err != NULL) {
        r->db = NULL;
        r->open_failed_compression = strstr(err, "ompression") != NULL;
        set_err(o, "cannot open RocksDB in %s: %s", r->path, err);
        free(err);
        return ENGINE_EIO;
    }
    return 0;
}

static int meta_get(struct rdb *r, const char *key, char **v, size_t *len)
{
    char *err = NULL;
    *v = rocksdb_get_cf(r->db, r->ro, r->cf_meta, key, strlen(key), len, &err);
    if (err != NULL) {
        free(err);
        return ENGINE_EIO;
    }
    return 0;
}

/* Takes the fixed column families, then picks the live kv one named in
 * meta and drops the others (left by a restore that did not finish). */
static int pick_kv(struct rdb *r, char **names,
                   rocksdb_column_family_handle_t **h, size_t n)
{
    static const char *const fixed[] = {"default", "meta", "raftlog",
                                        "raftstate"};
    rocksdb_column_family_handle_t **slot[] = {&r->cf_default, &r->cf_meta,
                                               &r->cf_log, &r->cf_state};
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < 4; j++) {
            if (strcmp(names[i], fixed[j]) == 0) {
                *slot[j] = h[i];
                h[i] = NULL;
            }
        }
    }
    if (r->cf_meta == NULL || r->cf_log == NULL || r->cf_state == NULL)
        return ENGINE_EIO;
    char *v;
    size_t len;
    int rc = meta_get(r, META_KVCF, &v, &len);
    if (rc != 0)
        return rc;
    if (v != NULL && len >= sizeof(r->kv_name))
        rc = ENGINE_EIO;
    else if (v != NULL)
        memcpy(r->kv_name, v, len);
    else
        snprintf(r->kv_name, sizeof(r->kv_name), "%s", KV_CF_DEFAULT);
    rocksdb_free(v);
    if (strncmp(r->kv_name, "kv.", 3) == 0)
        r->kv_gen = strtoull(r->kv_name + 3, NULL, 10);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (h[i] == NULL)
            continue;
        if (strcmp(names[i], r->kv_name) == 0) {
            r->cf_kv = h[i];
        } else {
            if (is_kv_cf(names[i])) {
                char *err = NULL;
                rocksdb_drop_column_family(r->db, h[i], &err);
                free(err);
            }
            rocksdb_column_family_handle_destroy(h[i]);
        }
        h[i] = NULL;
    }
    return rc == 0 && r->cf_kv == NULL ? ENGINE_EIO : rc;
}

static int load_state(struct rdb *r)
{
    char *v;
    size_t len;
    int rc = meta_get(r, META_STATE, &v, &len);
    if (rc != 0)
        return rc;
    if (v == NULL) { /* a new store */
        memset(&r->st, 0, sizeof(r->st));
        r->st.revision = 1;
        batch_put_state(r, &r->st);
        return write_wb(r, true);
    }
    rc = state_decode((const uint8_t *)v, len, &r->st);
    rocksdb_free(v);
    if (rc != 0)
        return rc;
    if ((rc = meta_get(r, META_CURSOR, &v, &len)) != 0)
        return rc;
    if (v != NULL)
        rc = rbuf_set(&r->cursor, v, len);
    rocksdb_free(v);
    return rc;
}

static int load_log_bounds(struct rdb *r)
{
    rocksdb_iterator_t *it =
        rocksdb_create_iterator_cf(r->db, r->ro, r->cf_log);
    if (it == NULL)
        return ENGINE_ENOMEM;
    size_t kl;
    rocksdb_iter_seek_to_first(it);
    if (rocksdb_iter_valid(it)) {
        const char *k = rocksdb_iter_key(it, &kl);
        r->log_first = kl == 8 ? get_be64((const uint8_t *)k) : 0;
        rocksdb_iter_seek_to_last(it);
        k = rocksdb_iter_key(it, &kl);
        r->log_last = kl == 8 ? get_be64((const uint8_t *)k) : 0;
    }
    int rc = iter_status(it);
    rocksdb_iter_destroy(it);
    if (rc == 0 && (r->log_first == 0) != (r->log_last == 0))
        rc = ENGINE_EIO;
    return rc;
}

static int open_all(struct rdb *r, const struct engine_rocksdb_options *o)
{
    char **names = NULL;
    rocksdb_column_family_handle_t **h = NULL;
    size_t n = 0;
    int rc = open_db(r, o, &names, &h, &n);
    if (rc == 0)
        rc = pick_kv(r, names, h, n);
    for (size_t i = 0; i < n; i++) {
        if (h != NULL && h[i] != NULL)
            rocksdb_column_family_handle_destroy(h[i]);
        if (names != NULL)
            free(names[i]);
    }
    free(names);
    free(h);
    if (rc == 0)
        rc = load_state(r);
    if (rc == 0)
        rc = load_log_bounds(r);
    if (rc != 0 && r->db != NULL)
        set_err(o, "cannot open RocksDB in %s: %s", r->path,
                rc == ENGINE_EIO ? "metadata is corrupt" : engine_strerror(rc));
    return rc;
}

int engine_rocksdb_open_ex(const struct engine_options *opts,
                           const struct engine_rocksdb_options *ropts,
                           struct engine **out)
{
    static const struct engine_rocksdb_options defaults;
    const struct engine_rocksdb_options *o = ropts != NULL ? ropts : &defaults;
    if (opts == NULL || opts->path == NULL || opts->path[0] == 0) {
        set_err(o, "%s%s", "the RocksDB engine needs a data directory", NULL);
        return ENGINE_EINVAL;
    }
    if ((unsigned)o->compression > ENGINE_ROCKSDB_COMPRESSION_ZSTD)
        return ENGINE_EINVAL;
    int rc = check_marker(opts->path, o);
    if (rc != 0)
        return rc;
    struct rdb *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->path = strdup(opts->path)) == NULL) {
        free(r);
        return ENGINE_ENOMEM;
    }
    r->base.ops = &rdb_ops;
    r->base.max_txn_ops =
        opts->max_txn_ops > 0 ? opts->max_txn_ops : ENGINE_DEFAULT_MAX_TXN_OPS;
    r->compact_budget = o->compact_budget > 0 ? o->compact_budget : 10000;
    rc = make_options(r, o);
    if (rc == 0)
        rc = open_all(r, o);
    if (rc != 0 && r->db == NULL && r->open_failed_compression &&
        o->compression == ENGINE_ROCKSDB_COMPRESSION_DEFAULT) {
        /* lz4 may not be linked in: the default falls back to none. */
        rocksdb_options_set_compression(r->opts, rocksdb_no_compression);
        rc = open_all(r, o);
    }
    if (rc != 0) {
        rdb_close(&r->base);
        return rc;
    }
    r->base.revision = r->st.revision;
    r->base.applied_index = r->st.applied_index;
    *out = &r->base;
    return 0;
}

int engine_rocksdb_open(const struct engine_options *opts, struct engine **out)
{
    return engine_rocksdb_open_ex(opts, NULL, out);
}

/* ---- the application blobs ----------------------------------------------- */

/* Two blobs (the TTL lease table and the auth table) are staged and read the
 * same way; only their buffer, pending flag and meta key differ. */
enum aux_blob { AUX_LEASES, AUX_AUTH };

static int aux_stage(struct engine *e, enum aux_blob which, const void *value,
                     size_t len)
{
    if (!engine_rocksdb_is(e) || (value == NULL && len > 0))
        return ENGINE_EINVAL;
    struct rdb *r = rdb(e);
    struct rbuf *b = which == AUX_AUTH ? &r->aux_auth : &r->aux;
    if (rbuf_reserve(b, len + 1) != 0)
        return ENGINE_ENOMEM;
    if (len > 0)
        memcpy(b->p, value, len);
    b->len = len;
    if (which == AUX_AUTH)
        r->aux_auth_pending = true;
    else
        r->aux_pending = true;
    return 0;
}

static int aux_get(struct engine *e, enum aux_blob which,
                   struct engine_arena *a, const void **value, size_t *len)
{
    if (!engine_rocksdb_is(e))
        return ENGINE_EINVAL;
    char *v = NULL;
    int rc = meta_get(rdb(e), which == AUX_AUTH ? META_AUX_AUTH : META_AUX, &v,
                      len);
    if (rc != 0)
        return rc;
    if (v == NULL)
        return ENGINE_ENOTFOUND;
    void *p = engine_arena_alloc(a, *len > 0 ? *len : 1);
    if (p != NULL && *len > 0)
        memcpy(p, v, *len);
    rocksdb_free(v);
    *value = p;
    return p != NULL ? 0 : ENGINE_ENOMEM;
}

int engine_rocksdb_aux_stage(struct engine *e, const void *value, size_t len)
{
    return aux_stage(e, AUX_LEASES, value, len);
}

int engine_rocksdb_aux_get(struct engine *e, struct engine_arena *a,
                           const void **value, size_t *len)
{
    return aux_get(e, AUX_LEASES, a, value, len);
}

int engine_rocksdb_aux_auth_stage(struct engine *e, const void *value,
                                  size_t len)
{
    return aux_stage(e, AUX_AUTH, value, len);
}

int engine_rocksdb_aux_auth_get(struct engine *e, struct engine_arena *a,
                                const void **value, size_t *len)
{
    return aux_get(e, AUX_AUTH, a, value, len);
}
