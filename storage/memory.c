/*
 * The memory engine: etcd v3 MVCC semantics over an in-memory B+tree.
 *
 * Layout: the B+tree (storage/btree.c) maps each key to a struct mem_key,
 * which holds the key bytes and that key's revision history, oldest first,
 * like etcd's keyIndex flattened into one array: a put appends (mod, create,
 * version, lease, value), a delete appends a tombstone (version 0); a
 * generation is the run of puts up to a tombstone.  The first revision of
 * a key lives inside its record, so a key written once costs two mallocs
 * (record, value).
 *
 * Happy path: a point read at the current revision is one tree descent,
 * a look at the newest revision, and two copies into the caller's arena.
 * A write appends one revision per key.
 *
 * Failure modes: a single put or delete reserves all memory before it
 * changes anything, so ENGINE_ENOMEM leaves it unapplied and the engine
 * usable.  A txn whose later op runs out of memory after an earlier op
 * changed data would be half applied; the engine then sets `broken` and
 * answers ENGINE_EBROKEN until a snapshot is restored into it.
 * Compaction walks every key (O(keys)), frees superseded revisions and
 * drops keys left with none; it never allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/btree.h"
#include "storage/engine_impl.h"

struct mem_rev {
    int64_t mod;
    int64_t create;
    int64_t version; /* 0 = tombstone */
    int64_t lease;
    uint8_t *value; /* malloc'd, NULL when value_len is 0 */
    uint32_t value_len;
};

struct mem_key {
    struct engine__bt_item item; /* item.key points at bytes[] */
    struct mem_rev *revs;        /* &one while cap == 1 */
    uint32_t n, cap;
    struct mem_rev one;
    uint8_t bytes[];
};

struct mem_engine {
    struct engine base;
    struct engine__btree index;
    int64_t compact_rev;
    uint64_t live_keys;
    uint64_t revisions;
    uint64_t bytes;
    bool broken; /* a write failed half way */
    bool dirty;  /* the current write has changed something */
};

static struct mem_engine *mem(struct engine *e)
{
    return (struct mem_engine *)e;
}

static struct mem_key *key_of(struct engine__bt_item *it)
{
    return (struct mem_key *)it; /* item is the first member */
}

/* ---- per-key records ---------------------------------------------------- */

static struct mem_key *key_new(const void *key, size_t len)
{
    struct mem_key *k = engine__malloc(sizeof(*k) + len);
    if (k == NULL)
        return NULL;
    memcpy(k->bytes, key, len);
    k->item.key = k->bytes;
    k->item.key_len = len;
    k->revs = &k->one;
    k->n = 0;
    k->cap = 1;
    return k;
}

static void key_free(struct mem_key *k)
{
    for (uint32_t i = 0; i < k->n; i++)
        free(k->revs[i].value);
    if (k->revs != &k->one)
        free(k->revs);
    free(k);
}

static void key_free_item(struct engine__bt_item *it)
{
    key_free(key_of(it));
}

/* Makes room for `extra` more revisions without changing any. */
static int key_reserve(struct mem_key *k, uint32_t extra)
{
    if (k->n + extra <= k->cap)
        return 0;
    uint32_t cap = k->cap < 4 ? 4 : k->cap;
    while (cap < k->n + extra)
        cap *= 2;
    struct mem_rev *r;
    if (k->revs == &k->one) {
        r = engine__malloc(cap * sizeof(*r));
        if (r != NULL && k->n > 0)
            r[0] = k->one;
    } else {
        r = engine__realloc(k->revs, cap * sizeof(*r));
    }
    if (r == NULL)
        return ENGINE_ENOMEM;
    k->revs = r;
    k->cap = cap;
    return 0;
}

/* Gives memory back after compaction shrank the history. */
static void key_shrink(struct mem_key *k)
{
    if (k->revs == &k->one || k->n > k->cap / 4)
        return;
    if (k->n <= 1) {
        if (k->n == 1)
            k->one = k->revs[0];
        free(k->revs);
        k->revs = &k->one;
        k->cap = 1;
        return;
    }
    struct mem_rev *r = engine__realloc(k->revs, k->n * sizeof(*r));
    if (r != NULL) { /* keeping the bigger array is harmless */
        k->revs = r;
        k->cap = k->n;
    }
}

/* The newest revision at or below `rev` if it is live, else NULL. */
static const struct mem_rev *key_at(const struct mem_key *k, int64_t rev)
{
    const struct mem_rev *r = NULL;
    if (k->n == 0)
        return NULL;
    if (k->revs[k->n - 1].mod <= rev) {
        r = &k->revs[k->n - 1];
    } else {
        uint32_t lo = 0, hi = k->n; /* first with mod > rev */
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (k->revs[mid].mod <= rev)
                lo = mid + 1;
            else
                hi = mid;
        }
        r = lo > 0 ? &k->revs[lo - 1] : NULL;
    }
    return r != NULL && r->version > 0 ? r : NULL;
}

static const struct mem_rev *key_live(const struct mem_key *k)
{
    return k->n > 0 && k->revs[k->n - 1].version > 0 ? &k->revs[k->n - 1]
                                                     : NULL;
}

static size_t rev_bytes(const struct mem_rev *r)
{
    return sizeof(*r) + r->value_len;
}

/* ---- collecting hits ---------------------------------------------------- */

struct hit {
    const struct mem_key *k;
    const struct mem_rev *r;
};

/* A growable array that needs no malloc for small results. */
struct hitvec {
    struct hit *v;
    size_t n, cap;
    struct hit small[8];
};

static void hits_init(struct hitvec *h)
{
    h->v = h->small;
    h->n = 0;
    h->cap = sizeof(h->small) / sizeof(h->small[0]);
}

static void hits_free(struct hitvec *h)
{
    if (h->v != h->small)
        free(h->v);
}

static int hits_push(struct hitvec *h, const struct mem_key *k,
                     const struct mem_rev *r)
{
    if (h->n == h->cap) {
        size_t cap = h->cap * 2;
        struct hit *v;
        if (h->v == h->small) {
            v = engine__malloc(cap * sizeof(*v));
            if (v != NULL)
                memcpy(v, h->small, sizeof(h->small));
        } else {
            v = engine__realloc(h->v, cap * sizeof(*v));
        }
        if (v == NULL)
            return ENGINE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n].k = k;
    h->v[h->n].r = r;
    h->n++;
    return 0;
}

static int copy_kv(struct engine_arena *a, const struct mem_key *k,
                   const struct mem_rev *r, bool keys_only,
                   struct engine_kv *out)
{
    size_t vlen = keys_only ? 0 : r->value_len;
    uint8_t *p = engine_arena_alloc(a, k->item.key_len + vlen);
    if (p == NULL)
        return ENGINE_ENOMEM;
    memcpy(p, k->item.key, k->item.key_len);
    if (vlen > 0)
        memcpy(p + k->item.key_len, r->value, vlen);
    out->key = p;
    out->key_len = k->item.key_len;
    out->value = p + k->item.key_len; /* never NULL, even when empty */
    out->value_len = vlen;
    out->create_revision = r->create;
    out->mod_revision = r->mod;
    out->version = r->version;
    out->lease = r->lease;
    return 0;
}

static int copy_hits(struct engine_arena *a, const struct hitvec *h,
                     bool keys_only, struct engine_kv **kvs, size_t *len)
{
    *kvs = NULL;
    *len = 0;
    if (h->n == 0)
        return 0;
    struct engine_kv *v = engine_arena_alloc(a, h->n * sizeof(*v));
    if (v == NULL)
        return ENGINE_ENOMEM;
    for (size_t i = 0; i < h->n; i++) {
        int rc = copy_kv(a, h->v[i].k, h->v[i].r, keys_only, &v[i]);
        if (rc != 0)
            return rc;
    }
    *kvs = v;
    *len = h->n;
    return 0;
}

/* ---- scanning ----------------------------------------------------------- */

/* One pass over the live keys of (key, range_end) at `rev`, in key order
 * (descending when `desc`).  fn returns 0 to go on, 1 to stop, <0 error. */
typedef int (*visit_fn)(void *ctx, const struct mem_key *k,
                        const struct mem_rev *r);

static int scan(struct mem_engine *m, const void *key, size_t key_len,
                const void *end, size_t end_len, int64_t rev, bool desc,
                visit_fn fn, void *ctx)
{
    bool single, to_end;
    engine__range_kind(end_len, end, &single, &to_end);
    if (single) {
        struct engine__bt_item *it = engine__btree_get(&m->index, key, key_len);
        const struct mem_rev *r = it ? key_at(key_of(it), rev) : NULL;
        int rc = r != NULL ? fn(ctx, key_of(it), r) : 0;
        return rc < 0 ? rc : 0;
    }
    if (!to_end && engine_key_cmp(end, end_len, key, key_len) <= 0)
        return 0;
    struct engine__bt_cursor c;
    if (!desc)
        engine__btree_seek_ge(&m->index, key, key_len, &c);
    else if (to_end)
        engine__btree_last(&m->index, &c);
    else
        engine__btree_seek_lt(&m->index, end, end_len, &c);
    for (;;) {
        struct engine__bt_item *it = engine__btree_item(&c);
        if (it == NULL)
            return 0;
        if (desc ? engine_key_cmp(it->key, it->key_len, key, key_len) < 0
                 : !to_end &&
                       engine_key_cmp(it->key, it->key_len, end, end_len) >= 0)
            return 0;
        const struct mem_rev *r = key_at(key_of(it), rev);
        if (r != NULL) {
            int rc = fn(ctx, key_of(it), r);
            if (rc != 0)
                return rc < 0 ? rc : 0;
        }
        if (desc)
            engine__btree_prev(&c);
        else
            engine__btree_next(&c);
    }
}

/* ---- range -------------------------------------------------------------- */

struct range_ctx {
    struct hitvec hits;
    int64_t count;
    int64_t keep; /* hits to keep while counting; -1 = all */
};

static int range_visit(void *ctx, const struct mem_key *k,
                       const struct mem_rev *r)
{
    struct range_ctx *rc = ctx;
    rc->count++;
    if (rc->keep < 0 || (int64_t)rc->hits.n < rc->keep)
        return hits_push(&rc->hits, k, r);
    return 0;
}

static int64_t hit_field(const struct hit *h, enum engine_sort_target t)
{
    switch (t) {
    case ENGINE_SORT_VERSION:
        return h->r->version;
    case ENGINE_SORT_CREATE:
        return h->r->create;
    case ENGINE_SORT_MOD:
        return h->r->mod;
    default:
        return 0;
    }
}

/* qsort has no context argument; each target gets a comparator.  Ties are
 * broken by key so the order is the same on every replica. */
static int hit_key_cmp(const struct hit *a, const struct hit *b)
{
    return engine_key_cmp(a->k->item.key, a->k->item.key_len, b->k->item.key,
                          b->k->item.key_len);
}

static int hit_int_cmp(const struct hit *a, const struct hit *b,
                       enum engine_sort_target t)
{
    int64_t x = hit_field(a, t), y = hit_field(b, t);
    if (x != y)
        return x < y ? -1 : 1;
    return hit_key_cmp(a, b);
}

static int cmp_version(const void *a, const void *b)
{
    return hit_int_cmp(a, b, ENGINE_SORT_VERSION);
}

static int cmp_create(const void *a, const void *b)
{
    return hit_int_cmp(a, b, ENGINE_SORT_CREATE);
}

static int cmp_mod(const void *a, const void *b)
{
    return hit_int_cmp(a, b, ENGINE_SORT_MOD);
}

static int cmp_value(const void *pa, const void *pb)
{
    const struct hit *a = pa, *b = pb;
    int c = engine_key_cmp(a->r->value, a->r->value_len, b->r->value,
                           b->r->value_len);
    return c != 0 ? c : hit_key_cmp(a, b);
}

static void sort_hits(struct hitvec *h, enum engine_sort_target t, bool desc)
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
            struct hit tmp = h->v[i];
            h->v[i] = h->v[j - 1];
            h->v[j - 1] = tmp;
        }
    }
}

/* Range at an already checked revision. */
static int range_at(struct mem_engine *m, const struct engine_range_req *req,
                    int64_t rev, struct engine_arena *a,
                    struct engine_range_result *out)
{
    bool by_key = req->sort_target == ENGINE_SORT_KEY;
    bool desc = req->sort_order == ENGINE_SORT_DESCEND;
    struct range_ctx ctx;
    hits_init(&ctx.hits);
    ctx.count = 0;
    if (req->count_only)
        ctx.keep = 0;
    else if (by_key && req->limit > 0)
        ctx.keep = req->limit;
    else
        ctx.keep = -1;
    int rc = scan(m, req->key, req->key_len, req->range_end, req->range_end_len,
                  rev, by_key && desc, range_visit, &ctx);
    if (rc == 0 && !by_key) {
        sort_hits(&ctx.hits, req->sort_target, desc);
        if (req->limit > 0 && ctx.hits.n > (size_t)req->limit)
            ctx.hits.n = (size_t)req->limit;
    }
    if (rc == 0)
        rc = copy_hits(a, &ctx.hits, req->keys_only, &out->kvs, &out->kvs_len);
    hits_free(&ctx.hits);
    if (rc != 0)
        return rc;
    out->count = ctx.count;
    out->more = !req->count_only && (int64_t)out->kvs_len < ctx.count;
    return 0;
}

/* etcd's rules for a read revision; 0 means current. */
static int check_read_rev(const struct mem_engine *m, int64_t rev)
{
    if (rev > m->base.revision)
        return ENGINE_EFUTURE_REV;
    if (rev > 0 && rev < m->compact_rev)
        return ENGINE_ECOMPACTED;
    return 0;
}

static int mem_range(struct engine *e, const struct engine_range_req *req,
                     struct engine_arena *a, struct engine_range_result *out)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    int rc = check_read_rev(m, req->revision);
    if (rc != 0)
        return rc;
    int64_t rev = req->revision > 0 ? req->revision : e->revision;
    rc = range_at(m, req, rev, a, out);
    out->revision = e->revision;
    return rc;
}

/* ---- put ---------------------------------------------------------------- */

/* Writes one key at revision `wrev`; all-or-nothing on ENGINE_ENOMEM. */
static int put_at(struct mem_engine *m, int64_t wrev,
                  const struct engine_put_req *req, struct engine_arena *a,
                  struct engine_put_result *out)
{
    struct engine__bt_item *it =
        engine__btree_get(&m->index, req->key, req->key_len);
    struct mem_key *k = it != NULL ? key_of(it) : NULL;
    const struct mem_rev *cur = k != NULL ? key_live(k) : NULL;
    if ((req->ignore_value || req->ignore_lease) && cur == NULL)
        return ENGINE_ENOTFOUND;
    out->revision = wrev;
    out->has_prev_kv = false;
    if (req->prev_kv && cur != NULL) {
        if (copy_kv(a, k, cur, false, &out->prev_kv) != 0)
            return ENGINE_ENOMEM;
        out->has_prev_kv = true;
    }
    const void *src = req->ignore_value ? cur->value : req->value;
    size_t vlen = req->ignore_value ? cur->value_len : req->value_len;
    uint8_t *value = NULL;
    if (vlen > 0 && (value = engine__malloc(vlen)) == NULL)
        return ENGINE_ENOMEM;
    if (vlen > 0)
        memcpy(value, src, vlen);
    /* key_reserve() may move the history: keep what we need of `cur`. */
    int64_t create = cur != NULL ? cur->create : wrev;
    int64_t version = cur != NULL ? cur->version + 1 : 1;
    int64_t lease = req->ignore_lease ? cur->lease : req->lease;
    bool was_live = cur != NULL;
    cur = NULL;
    bool fresh = k == NULL;
    if (fresh) {
        k = key_new(req->key, req->key_len);
        if (k == NULL || engine__btree_insert(&m->index, &k->item) != 0) {
            free(k);
            free(value);
            return ENGINE_ENOMEM;
        }
    }
    if (key_reserve(k, 1) != 0) {
        if (fresh) {
            engine__btree_remove(&m->index, req->key, req->key_len);
            key_free(k);
        }
        free(value);
        return ENGINE_ENOMEM;
    }
    struct mem_rev *r = &k->revs[k->n++];
    r->mod = wrev;
    r->create = create;
    r->version = version;
    r->lease = lease;
    r->value = value;
    r->value_len = (uint32_t)vlen;
    m->dirty = true;
    m->revisions++;
    m->bytes += rev_bytes(r) + (fresh ? sizeof(*k) + req->key_len : 0);
    if (!was_live)
        m->live_keys++;
    return 0;
}

/* Validation that must see the state: ignore_* needs a live key. */
static int put_precheck(struct mem_engine *m, const struct engine_put_req *req)
{
    if (!req->ignore_value && !req->ignore_lease)
        return 0;
    struct engine__bt_item *it =
        engine__btree_get(&m->index, req->key, req->key_len);
    return it != NULL && key_live(key_of(it)) ? 0 : ENGINE_ENOTFOUND;
}

/* ---- delete ------------------------------------------------------------- */

static int delete_visit(void *ctx, const struct mem_key *k,
                        const struct mem_rev *r)
{
    return hits_push(ctx, k, r);
}

/* Tombstones every live key of the range at revision `wrev`; everything
 * that can fail happens before the first tombstone. */
static int delete_at(struct mem_engine *m, int64_t wrev,
                     const struct engine_delete_req *req,
                     struct engine_arena *a, struct engine_delete_result *out)
{
    struct hitvec h;
    hits_init(&h);
    int rc = scan(m, req->key, req->key_len, req->range_end, req->range_end_len,
                  wrev, false, delete_visit, &h);
    out->revision = wrev;
    out->prev_kvs = NULL;
    out->prev_kvs_len = 0;
    if (rc == 0 && req->prev_kv)
        rc = copy_hits(a, &h, false, &out->prev_kvs, &out->prev_kvs_len);
    for (size_t i = 0; rc == 0 && i < h.n; i++)
        rc = key_reserve((struct mem_key *)h.v[i].k, 1);
    if (rc == 0) {
        for (size_t i = 0; i < h.n; i++) {
            struct mem_key *k = (struct mem_key *)h.v[i].k;
            struct mem_rev *t = &k->revs[k->n++];
            memset(t, 0, sizeof(*t));
            t->mod = wrev;
            m->revisions++;
            m->bytes += sizeof(*t);
        }
        m->live_keys -= h.n;
        out->deleted = (int64_t)h.n;
        if (h.n > 0)
            m->dirty = true;
    }
    hits_free(&h);
    return rc;
}

/* ---- writes: bookkeeping shared by put, delete, txn --------------------- */

/* Ends a write: on success commits the revision (when something changed)
 * and the applied index; on failure decides between "nothing happened"
 * and "half applied" (broken). */
static int end_write(struct mem_engine *m, uint64_t applied_index, int rc)
{
    bool changed = m->dirty;
    m->dirty = false;
    if (rc == ENGINE_ENOMEM && changed) {
        m->broken = true;
        return ENGINE_EBROKEN;
    }
    if (rc == ENGINE_ENOMEM)
        return rc; /* not applied; the caller may retry the entry */
    if (changed)
        m->base.revision++;
    m->base.applied_index = applied_index;
    return rc;
}

static int mem_put(struct engine *e, uint64_t applied_index,
                   const struct engine_put_req *req, struct engine_arena *a,
                   struct engine_put_result *out)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    int rc = put_at(m, e->revision + 1, req, a, out);
    return end_write(m, applied_index, rc);
}

static int mem_delete_range(struct engine *e, uint64_t applied_index,
                            const struct engine_delete_req *req,
                            struct engine_arena *a,
                            struct engine_delete_result *out)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    int rc = delete_at(m, e->revision + 1, req, a, out);
    rc = end_write(m, applied_index, rc);
    out->revision = e->revision;
    return rc;
}

/* ---- txn ---------------------------------------------------------------- */

struct cmp_ctx {
    const struct engine_compare *c;
    bool seen;
    bool ok;
};

static bool cmp_holds(const struct engine_compare *c, const struct mem_rev *r)
{
    struct engine__cmp_subject x = {.exists = r != NULL};
    if (r != NULL) {
        x.value = r->value;
        x.value_len = r->value_len;
        x.version = r->version;
        x.create = r->create;
        x.mod = r->mod;
        x.lease = r->lease;
    }
    return engine__cmp_holds(c, &x);
}

static int cmp_visit(void *ctx, const struct mem_key *k,
                     const struct mem_rev *r)
{
    struct cmp_ctx *cc = ctx;
    (void)k;
    cc->seen = true;
    if (!cmp_holds(cc->c, r)) {
        cc->ok = false;
        return 1;
    }
    return 0;
}

/* etcd: every key of the range must satisfy the compare; an empty range
 * is judged as one missing key. */
static bool compare_ok(struct mem_engine *m, const struct engine_compare *c)
{
    struct cmp_ctx cc = {c, false, true};
    scan(m, c->key, c->key_len, c->range_end, c->range_end_len,
         m->base.revision, false, cmp_visit, &cc);
    return cc.seen ? cc.ok : cmp_holds(c, NULL);
}

/* Everything that would make the chosen branch fail for a reason other
 * than memory, checked before anything changes. */
static int txn_precheck(struct mem_engine *m, const struct engine_op *ops,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        if (ops[i].type == ENGINE_OP_RANGE)
            rc = check_read_rev(m, ops[i].u.range.revision);
        else if (ops[i].type == ENGINE_OP_PUT)
            rc = put_precheck(m, &ops[i].u.put);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int txn_run(struct mem_engine *m, const struct engine_op *ops, size_t n,
                   struct engine_arena *a, struct engine_op_result *res)
{
    int64_t wrev = m->base.revision + 1;
    for (size_t i = 0; i < n; i++) {
        const struct engine_op *op = &ops[i];
        int rc;
        res[i].type = op->type;
        switch (op->type) {
        case ENGINE_OP_RANGE: {
            /* Revision 0 reads the txn's own writes, which sit at wrev. */
            int64_t rev =
                op->u.range.revision > 0 ? op->u.range.revision : wrev;
            rc = range_at(m, &op->u.range, rev, a, &res[i].u.range);
            break;
        }
        case ENGINE_OP_PUT:
            rc = put_at(m, wrev, &op->u.put, a, &res[i].u.put);
            break;
        default:
            rc = delete_at(m, wrev, &op->u.del, a, &res[i].u.del);
            break;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int mem_txn(struct engine *e, uint64_t applied_index,
                   const struct engine_txn_req *req, struct engine_arena *a,
                   struct engine_txn_result *out)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    bool ok = true;
    for (size_t i = 0; ok && i < req->compares_len; i++)
        ok = compare_ok(m, &req->compares[i]);
    const struct engine_op *ops = ok ? req->success : req->failure;
    size_t n = ok ? req->success_len : req->failure_len;
    out->succeeded = ok;
    out->results = NULL;
    out->results_len = 0;
    int rc = txn_precheck(m, ops, n);
    if (rc == 0 && n > 0) {
        out->results = engine_arena_alloc(a, n * sizeof(out->results[0]));
        rc = out->results != NULL ? 0 : ENGINE_ENOMEM;
    }
    if (rc == 0)
        rc = txn_run(m, ops, n, a, out->results);
    rc = end_write(m, applied_index, rc);
    out->revision = e->revision;
    if (rc == 0) {
        out->results_len = n;
        for (size_t i = 0; i < n; i++) { /* one header revision, like etcd */
            if (ops[i].type == ENGINE_OP_RANGE)
                out->results[i].u.range.revision = e->revision;
            else if (ops[i].type == ENGINE_OP_DELETE)
                out->results[i].u.del.revision = e->revision;
            else
                out->results[i].u.put.revision = e->revision;
        }
    }
    return rc;
}

/* ---- compaction --------------------------------------------------------- */

/* Drops the revisions of k that no read at >= rev can see; returns true
 * when none is left. */
static bool compact_key(struct mem_engine *m, struct mem_key *k, int64_t rev)
{
    if (k->n == 0 || k->revs[0].mod > rev ||
        (k->n == 1 && k->revs[0].version > 0))
        return k->n == 0;
    uint32_t last = 0; /* newest revision <= rev */
    while (last + 1 < k->n && k->revs[last + 1].mod <= rev)
        last++;
    uint32_t drop = k->revs[last].version == 0 ? last + 1 : last;
    for (uint32_t i = 0; i < drop; i++) {
        m->bytes -= rev_bytes(&k->revs[i]);
        free(k->revs[i].value);
    }
    memmove(k->revs, k->revs + drop, (k->n - drop) * sizeof(k->revs[0]));
    k->n -= drop;
    m->revisions -= drop;
    key_shrink(k);
    return k->n == 0;
}

static int mem_compact(struct engine *e, uint64_t applied_index,
                       int64_t revision)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    e->applied_index = applied_index; /* every outcome below is final */
    if (revision <= m->compact_rev)
        return ENGINE_ECOMPACTED;
    if (revision > e->revision)
        return ENGINE_EFUTURE_REV;
    struct engine__bt_cursor c;
    engine__btree_first(&m->index, &c);
    struct engine__bt_item *it;
    while ((it = engine__btree_item(&c)) != NULL) {
        struct mem_key *k = key_of(it);
        if (!compact_key(m, k, revision)) {
            engine__btree_next(&c);
            continue;
        }
        /* Removal invalidates the cursor: find the successor again. */
        engine__btree_remove(&m->index, k->item.key, k->item.key_len);
        engine__btree_seek_ge(&m->index, k->item.key, k->item.key_len, &c);
        m->bytes -= sizeof(*k) + k->item.key_len;
        key_free(k);
    }
    m->compact_rev = revision;
    return 0;
}

static int mem_mark_applied(struct engine *e, uint64_t applied_index)
{
    if (mem(e)->broken)
        return ENGINE_EBROKEN;
    e->applied_index = applied_index;
    return 0;
}

static void mem_stats(struct engine *e, struct engine_stats *out)
{
    struct mem_engine *m = mem(e);
    out->keys = m->live_keys;
    out->revisions = m->revisions;
    out->approx_bytes = m->bytes;
    out->revision = e->revision;
    out->compact_revision = m->compact_rev;
    out->applied_index = e->applied_index;
}

/* ---- snapshots ---------------------------------------------------------- */

static int mem_snapshot_save(struct engine *e, engine_write_cb write, void *ctx)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    struct engine__snap_writer w;
    int rc = engine__snapw_init(&w, write, ctx);
    if (rc != 0)
        return rc;
    struct engine__snap_header h = {e->revision, m->compact_rev,
                                    e->applied_index, m->index.size};
    engine__snapw_header(&w, &h);
    struct engine__bt_cursor c;
    struct engine__bt_item *it;
    for (engine__btree_first(&m->index, &c);
         (it = engine__btree_item(&c)) != NULL && w.err == 0;
         engine__btree_next(&c)) {
        const struct mem_key *k = key_of(it);
        engine__snapw_key(&w, it->key, it->key_len, k->n);
        for (uint32_t i = 0; i < k->n; i++) {
            const struct mem_rev *r = &k->revs[i];
            struct engine__snap_rev sr = {r->mod, r->create, r->version,
                                          r->lease, r->value_len};
            engine__snapw_rev(&w, &sr, r->value);
        }
    }
    return engine__snapw_finish(&w);
}

/* The state a restore builds before it replaces the engine's. */
struct mem_state {
    struct engine__btree index;
    uint64_t live_keys, revisions, bytes;
};

static int restore_key(struct engine__snap_reader *r, struct mem_state *s,
                       const uint8_t *key, size_t key_len, uint32_t n)
{
    struct mem_key *k = key_new(key, key_len);
    if (k == NULL)
        return ENGINE_ENOMEM;
    int rc = key_reserve(k, n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        struct engine__snap_rev sr;
        rc = engine__snapr_next_rev(r, &sr);
        if (rc != 0)
            break;
        struct mem_rev *v = &k->revs[i];
        v->mod = sr.mod_revision;
        v->create = sr.create_revision;
        v->version = sr.version;
        v->lease = sr.lease;
        v->value_len = sr.value_len;
        v->value = NULL;
        k->n = i + 1;
        if (sr.value_len > 0 &&
            (v->value = engine__malloc(sr.value_len)) == NULL)
            rc = ENGINE_ENOMEM;
        if (rc == 0)
            rc = engine__snapr_value(r, v->value, sr.value_len);
        s->bytes += rev_bytes(v);
    }
    if (rc == 0)
        rc = engine__btree_insert(&s->index, &k->item);
    if (rc != 0) {
        key_free(k);
        return rc;
    }
    s->revisions += n;
    s->bytes += sizeof(*k) + key_len;
    if (key_live(k) != NULL)
        s->live_keys++;
    return 0;
}

static int mem_snapshot_restore(struct engine *e, engine_read_cb read,
                                void *ctx)
{
    struct mem_engine *m = mem(e);
    struct engine__snap_reader r;
    struct engine__snap_header h;
    struct mem_state s = {{0}, 0, 0, 0};
    int rc = engine__snapr_init(&r, read, ctx);
    if (rc != 0)
        return rc;
    rc = engine__btree_init(&s.index);
    if (rc != 0) {
        engine__snapr_free(&r);
        return rc;
    }
    rc = engine__snapr_header(&r, &h);
    while (rc == 0) {
        const uint8_t *key;
        size_t key_len;
        uint32_t n;
        rc = engine__snapr_next_key(&r, &key, &key_len, &n);
        if (rc == 1)
            rc = restore_key(&r, &s, key, key_len, n);
        else
            break;
    }
    engine__snapr_free(&r);
    if (rc != 0) {
        engine__btree_destroy(&s.index, key_free_item);
        return rc;
    }
    engine__btree_destroy(&m->index, key_free_item);
    m->index = s.index;
    m->live_keys = s.live_keys;
    m->revisions = s.revisions;
    m->bytes = s.bytes;
    m->compact_rev = h.compact_revision;
    m->broken = false;
    m->dirty = false;
    e->revision = h.revision;
    e->applied_index = h.applied_index;
    return 0;
}

/* ---- open / close ------------------------------------------------------- */

/* ---- history ------------------------------------------------------------ */

/* Pushes the events of key k at revisions >= start; prev is the revision
 * before each one (compaction keeps it whenever the event is above the
 * compact revision and the key was live just before). */
static int key_history(const struct mem_key *k, int64_t start, bool prev_kv,
                       struct engine_arena *a, struct engine__evvec *v)
{
    uint32_t i = k->n;
    while (i > 0 && k->revs[i - 1].mod >= start)
        i--;
    for (; i < k->n; i++) {
        const struct mem_rev *r = &k->revs[i];
        struct engine_event ev;
        memset(&ev, 0, sizeof(ev));
        int rc = copy_kv(a, k, r, r->version == 0, &ev.kv);
        if (rc != 0)
            return rc;
        ev.type = r->version > 0 ? ENGINE_EVENT_PUT : ENGINE_EVENT_DELETE;
        if (prev_kv && i > 0 && k->revs[i - 1].version > 0) {
            if ((rc = copy_kv(a, k, &k->revs[i - 1], false, &ev.prev_kv)) != 0)
                return rc;
            ev.has_prev_kv = true;
        }
        if ((rc = engine__evvec_push(v, &ev)) != 0)
            return rc;
    }
    return 0;
}

static int mem_history(struct engine *e, const struct engine_history_req *req,
                       struct engine_arena *a,
                       struct engine_history_result *out)
{
    struct mem_engine *m = mem(e);
    if (m->broken)
        return ENGINE_EBROKEN;
    int rc =
        engine__history_check(req->start_revision, e->revision, m->compact_rev);
    if (rc != 0)
        return rc;
    struct engine__evvec v = {NULL, 0, 0};
    bool single, to_end;
    engine__range_kind(req->range_end_len, req->range_end, &single, &to_end);
    if (single) {
        struct engine__bt_item *it =
            engine__btree_get(&m->index, req->key, req->key_len);
        if (it != NULL)
            rc = key_history(key_of(it), req->start_revision, req->prev_kv, a,
                             &v);
    } else {
        struct engine__bt_cursor c;
        engine__btree_seek_ge(&m->index, req->key, req->key_len, &c);
        for (struct engine__bt_item *it;
             rc == 0 && (it = engine__btree_item(&c)) != NULL;
             engine__btree_next(&c)) {
            if (!to_end && engine_key_cmp(it->key, it->key_len, req->range_end,
                                          req->range_end_len) >= 0)
                break;
            rc = key_history(key_of(it), req->start_revision, req->prev_kv, a,
                             &v);
        }
    }
    if (rc != 0) {
        engine__evvec_free(&v);
        return rc;
    }
    return engine__history_finish(&v, req->limit, e->revision, a, out);
}

static void mem_close(struct engine *e)
{
    struct mem_engine *m = mem(e);
    engine__btree_destroy(&m->index, key_free_item);
    free(m);
}

static const struct engine_ops mem_ops = {
    .name = "memory",
    .range = mem_range,
    .put = mem_put,
    .delete_range = mem_delete_range,
    .txn = mem_txn,
    .compact = mem_compact,
    .mark_applied = mem_mark_applied,
    .stats = mem_stats,
    .snapshot_save = mem_snapshot_save,
    .snapshot_restore = mem_snapshot_restore,
    .close = mem_close,
    .history = mem_history,
};

int engine_memory_open(const struct engine_options *opts, struct engine **out)
{
    struct mem_engine *m = engine__calloc(1, sizeof(*m));
    if (m == NULL)
        return ENGINE_ENOMEM;
    if (engine__btree_init(&m->index) != 0) {
        free(m);
        return ENGINE_ENOMEM;
    }
    m->base.ops = &mem_ops;
    m->base.revision = 1;
    m->base.applied_index = 0;
    m->base.max_txn_ops = opts != NULL && opts->max_txn_ops > 0
                              ? opts->max_txn_ops
                              : ENGINE_DEFAULT_MAX_TXN_OPS;
    *out = &m->base;
    return 0;
}
