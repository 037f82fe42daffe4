/*
 * What every storage engine shares: error strings, the result arena, key
 * and range helpers, the public wrappers that validate requests before an
 * implementation sees them, and the engine-neutral snapshot stream codec.
 *
 * Validation here is the first line against bad client input: empty keys,
 * oversized keys or values, bad enums, negative limits, txns with too many
 * ops or with a key written twice are rejected with ENGINE_EINVAL,
 * ENGINE_ETOOBIG, ENGINE_ETOOMANYOPS or ENGINE_EDUPKEY before any engine
 * code runs.  For writes the applied index is still recorded, because the
 * rejection is the deterministic outcome of applying that entry.
 *
 * The snapshot reader trusts nothing: every length is bounded before it is
 * used, and revisions must tell a consistent story (docs/storage.md).
 */
#include "storage/engine_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------- */

const char *engine_strerror(int err)
{
    switch (err) {
#define ENGINE__ERR_TEXT(name, value, text)                                    \
    case name:                                                                 \
        return text;
        ENGINE_ERRORS(ENGINE__ERR_TEXT)
#undef ENGINE__ERR_TEXT
    case 0:
        return "success";
    default:
        if (err < 0 && err > -4096)
            return strerror(-err);
        return "unknown engine error";
    }
}

const char *engine_err_name(int err)
{
    switch (err) {
#define ENGINE__ERR_NAME(name, value, text)                                    \
    case name:                                                                 \
        return #name;
        ENGINE_ERRORS(ENGINE__ERR_NAME)
#undef ENGINE__ERR_NAME
    default:
        return "ENGINE_E?";
    }
}

/* ---- allocation --------------------------------------------------------- */

static engine_alloc_fail_cb alloc_fail;
static void *alloc_fail_ctx;

void engine_set_alloc_fail_hook(engine_alloc_fail_cb fail, void *ctx)
{
    alloc_fail = fail;
    alloc_fail_ctx = ctx;
}

static bool refuse(size_t n)
{
    return alloc_fail != NULL && alloc_fail(alloc_fail_ctx, n);
}

void *engine__malloc(size_t n)
{
    return refuse(n) ? NULL : malloc(n);
}

void *engine__calloc(size_t n, size_t size)
{
    return refuse(n * size) ? NULL : calloc(n, size);
}

void *engine__realloc(void *p, size_t n)
{
    return refuse(n) ? NULL : realloc(p, n);
}

/* ---- arena -------------------------------------------------------------- */

#define ARENA_ALIGN     16u
#define ARENA_MIN_CHUNK 4096u

struct engine__chunk {
    struct engine__chunk *next;
    size_t size; /* usable bytes after the header */
};

#define CHUNK_HDR                                                              \
    ((sizeof(struct engine__chunk) + ARENA_ALIGN - 1) &                        \
     ~(size_t)(ARENA_ALIGN - 1))

static unsigned char empty_bytes[ARENA_ALIGN];

void engine_arena_init(struct engine_arena *a)
{
    a->head = NULL;
    a->cur = NULL;
    a->end = NULL;
}

static void chunks_free(struct engine__chunk *c)
{
    while (c != NULL) {
        struct engine__chunk *next = c->next;
        free(c);
        c = next;
    }
}

static void use_chunk(struct engine_arena *a, struct engine__chunk *c)
{
    a->head = c;
    a->cur = (unsigned char *)c + CHUNK_HDR;
    a->end = a->cur + c->size;
}

/* Keeps one chunk.  When the last use needed several, they are replaced by
 * one of their total size, so a steady workload settles on one chunk and no
 * malloc per request. */
void engine_arena_reset(struct engine_arena *a)
{
    struct engine__chunk *c = a->head;
    if (c == NULL)
        return;
    if (c->next == NULL) {
        use_chunk(a, c);
        return;
    }
    size_t total = 0;
    for (struct engine__chunk *i = c; i != NULL; i = i->next)
        total += i->size;
    chunks_free(c);
    engine_arena_init(a);
    struct engine__chunk *big = engine__malloc(CHUNK_HDR + total);
    if (big == NULL)
        return; /* the next alloc tries again */
    big->next = NULL;
    big->size = total;
    use_chunk(a, big);
}

void engine_arena_free(struct engine_arena *a)
{
    chunks_free(a->head);
    engine_arena_init(a);
}

void *engine_arena_alloc(struct engine_arena *a, size_t len)
{
    if (len == 0)
        return empty_bytes;
    if (len > SIZE_MAX / 2)
        return NULL;
    size_t need = (len + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->cur == NULL || (size_t)(a->end - a->cur) < need) {
        size_t size = a->head != NULL ? a->head->size * 2 : ARENA_MIN_CHUNK;
        if (size < need)
            size = need;
        struct engine__chunk *c = engine__malloc(CHUNK_HDR + size);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->size = size;
        use_chunk(a, c);
    }
    void *p = a->cur;
    a->cur += need;
    return p;
}

/* ---- keys and ranges ---------------------------------------------------- */

int engine_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
}

void engine__range_kind(size_t range_end_len, const void *range_end,
                        bool *single, bool *to_end)
{
    *single = range_end_len == 0;
    *to_end = range_end_len == 1 && ((const uint8_t *)range_end)[0] == 0;
}

bool engine_key_in_range(const void *key, size_t key_len, const void *start,
                         size_t start_len, const void *end, size_t end_len)
{
    bool single, to_end;
    engine__range_kind(end_len, end, &single, &to_end);
    int c = engine_key_cmp(key, key_len, start, start_len);
    if (single)
        return c == 0;
    if (c < 0)
        return false;
    return to_end || engine_key_cmp(key, key_len, end, end_len) < 0;
}

size_t engine_prefix_end(const void *prefix, size_t prefix_len, uint8_t *buf)
{
    const uint8_t *p = prefix;
    for (size_t i = prefix_len; i > 0; i--) {
        if (p[i - 1] != 0xff) {
            memcpy(buf, p, i);
            buf[i - 1]++;
            return i;
        }
    }
    buf[0] = 0;
    return 1;
}

bool engine__valid_range(const void *key, size_t key_len, const void *range_end,
                         size_t range_end_len)
{
    if (key_len == 0 || key == NULL || key_len > ENGINE_MAX_KEY_BYTES)
        return false;
    if (range_end_len > 0 && range_end == NULL)
        return false;
    return range_end_len <= ENGINE_MAX_KEY_BYTES;
}

/* ---- request validation ------------------------------------------------- */

static int check_range_req(const struct engine_range_req *r)
{
    if (!engine__valid_range(r->key, r->key_len, r->range_end,
                             r->range_end_len))
        return r->key_len > ENGINE_MAX_KEY_BYTES ? ENGINE_ETOOBIG
                                                 : ENGINE_EINVAL;
    if (r->limit < 0 || r->revision < 0)
        return ENGINE_EINVAL;
    if ((unsigned)r->sort_order > ENGINE_SORT_DESCEND ||
        (unsigned)r->sort_target > ENGINE_SORT_VALUE)
        return ENGINE_EINVAL;
    return 0;
}

static int check_put_req(const struct engine_put_req *r)
{
    if (r->key_len == 0 || r->key == NULL)
        return ENGINE_EINVAL;
    if (r->key_len > ENGINE_MAX_KEY_BYTES ||
        r->value_len > ENGINE_MAX_VALUE_BYTES)
        return ENGINE_ETOOBIG;
    if (r->value_len > 0 && r->value == NULL)
        return ENGINE_EINVAL;
    if (r->ignore_value && r->value_len > 0)
        return ENGINE_EINVAL; /* etcd: value must be empty then */
    if (r->ignore_lease && r->lease != 0)
        return ENGINE_EINVAL;
    return 0;
}

static int check_delete_req(const struct engine_delete_req *r)
{
    if (!engine__valid_range(r->key, r->key_len, r->range_end,
                             r->range_end_len))
        return r->key_len > ENGINE_MAX_KEY_BYTES ? ENGINE_ETOOBIG
                                                 : ENGINE_EINVAL;
    return 0;
}

static int check_compare(const struct engine_compare *c)
{
    if (!engine__valid_range(c->key, c->key_len, c->range_end,
                             c->range_end_len))
        return ENGINE_EINVAL;
    if ((unsigned)c->target > ENGINE_CMP_LEASE ||
        (unsigned)c->result > ENGINE_CMP_NOT_EQUAL)
        return ENGINE_EINVAL;
    if (c->target == ENGINE_CMP_VALUE && c->value_len > 0 && c->value == NULL)
        return ENGINE_EINVAL;
    return 0;
}

static int check_op(const struct engine_op *op)
{
    switch (op->type) {
    case ENGINE_OP_RANGE:
        return check_range_req(&op->u.range);
    case ENGINE_OP_PUT:
        return check_put_req(&op->u.put);
    case ENGINE_OP_DELETE:
        return check_delete_req(&op->u.del);
    default:
        return ENGINE_EINVAL;
    }
}

/* etcd's rule: within one branch no key is put twice, and no put lands in
 * a range the same branch deletes.  At most max_txn_ops ops, so the
 * quadratic scan stays small. */
static int check_branch(const struct engine_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_op(&ops[i]);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].type != ENGINE_OP_PUT)
            continue;
        const struct engine_put_req *p = &ops[i].u.put;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            if (ops[j].type == ENGINE_OP_PUT && j > i &&
                engine_key_cmp(p->key, p->key_len, ops[j].u.put.key,
                               ops[j].u.put.key_len) == 0)
                return ENGINE_EDUPKEY;
            if (ops[j].type == ENGINE_OP_DELETE &&
                engine_key_in_range(
                    p->key, p->key_len, ops[j].u.del.key, ops[j].u.del.key_len,
                    ops[j].u.del.range_end, ops[j].u.del.range_end_len))
                return ENGINE_EDUPKEY;
        }
    }
    return 0;
}

static int check_txn_req(const struct engine *e, const struct engine_txn_req *r)
{
    size_t max = (size_t)e->max_txn_ops;
    if (r->compares_len > max || r->success_len > max || r->failure_len > max)
        return ENGINE_ETOOMANYOPS;
    if ((r->compares_len > 0 && r->compares == NULL) ||
        (r->success_len > 0 && r->success == NULL) ||
        (r->failure_len > 0 && r->failure == NULL))
        return ENGINE_EINVAL;
    for (size_t i = 0; i < r->compares_len; i++) {
        int rc = check_compare(&r->compares[i]);
        if (rc != 0)
            return rc;
    }
    int rc = check_branch(r->success, r->success_len);
    if (rc != 0)
        return rc;
    return check_branch(r->failure, r->failure_len);
}

/* ---- public wrappers ---------------------------------------------------- */

/* A write rejected by validation still counts as applied. */
static int reject_write(struct engine *e, uint64_t applied_index, int err)
{
    int rc = e->ops->mark_applied(e, applied_index);
    return rc != 0 ? rc : err;
}

int engine_range(struct engine *e, const struct engine_range_req *req,
                 struct engine_arena *a, struct engine_range_result *out)
{
    int rc = check_range_req(req);
    if (rc != 0)
        return rc;
    return e->ops->range(e, req, a, out);
}

int engine_put(struct engine *e, uint64_t applied_index,
               const struct engine_put_req *req, struct engine_arena *a,
               struct engine_put_result *out)
{
    if (applied_index < e->applied_index)
        return ENGINE_EINDEX;
    int rc = check_put_req(req);
    if (rc != 0)
        return reject_write(e, applied_index, rc);
    return e->ops->put(e, applied_index, req, a, out);
}

int engine_delete_range(struct engine *e, uint64_t applied_index,
                        const struct engine_delete_req *req,
                        struct engine_arena *a,
                        struct engine_delete_result *out)
{
    if (applied_index < e->applied_index)
        return ENGINE_EINDEX;
    int rc = check_delete_req(req);
    if (rc != 0)
        return reject_write(e, applied_index, rc);
    return e->ops->delete_range(e, applied_index, req, a, out);
}

int engine_txn(struct engine *e, uint64_t applied_index,
               const struct engine_txn_req *req, struct engine_arena *a,
               struct engine_txn_result *out)
{
    if (applied_index < e->applied_index)
        return ENGINE_EINDEX;
    int rc = check_txn_req(e, req);
    if (rc != 0)
        return reject_write(e, applied_index, rc);
    return e->ops->txn(e, applied_index, req, a, out);
}

int engine_compact(struct engine *e, uint64_t applied_index, int64_t revision)
{
    if (applied_index < e->applied_index)
        return ENGINE_EINDEX;
    return e->ops->compact(e, applied_index, revision);
}

int engine_mark_applied(struct engine *e, uint64_t applied_index)
{
    if (applied_index < e->applied_index)
        return ENGINE_EINDEX;
    return e->ops->mark_applied(e, applied_index);
}

void engine_stats(struct engine *e, struct engine_stats *out)
{
    e->ops->stats(e, out);
}

int engine_snapshot_save(struct engine *e, engine_write_cb write, void *ctx)
{
    return e->ops->snapshot_save(e, write, ctx);
}

int engine_snapshot_restore(struct engine *e, engine_read_cb read, void *ctx)
{
    return e->ops->snapshot_restore(e, read, ctx);
}

int engine_history(struct engine *e, const struct engine_history_req *req,
                   struct engine_arena *a, struct engine_history_result *out)
{
    if (!engine__valid_range(req->key, req->key_len, req->range_end,
                             req->range_end_len) ||
        req->start_revision < 1 || req->limit < 0)
        return ENGINE_EINVAL;
    if (e->ops->history == NULL)
        return ENGINE_ENOTSUP;
    return e->ops->history(e, req, a, out);
}

/* ---- history helpers ---------------------------------------------------- */

int engine__history_check(int64_t start, int64_t current, int64_t compact)
{
    if (compact > 0 && start <= compact)
        return ENGINE_ECOMPACTED;
    if (start > current + 1)
        return ENGINE_EFUTURE_REV;
    return 0;
}

int engine__evvec_push(struct engine__evvec *v, const struct engine_event *ev)
{
    if (v->n == v->cap) {
        size_t cap = v->cap > 0 ? v->cap * 2 : 16;
        struct engine_event *p = engine__realloc(v->v, cap * sizeof(*p));
        if (p == NULL)
            return ENGINE_ENOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = *ev;
    return 0;
}

void engine__evvec_free(struct engine__evvec *v)
{
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

static int event_cmp(const void *pa, const void *pb)
{
    const struct engine_event *a = pa, *b = pb;
    if (a->kv.mod_revision != b->kv.mod_revision)
        return a->kv.mod_revision < b->kv.mod_revision ? -1 : 1;
    return engine_key_cmp(a->kv.key, a->kv.key_len, b->kv.key, b->kv.key_len);
}

int engine__history_finish(struct engine__evvec *v, int64_t limit,
                           int64_t current, struct engine_arena *a,
                           struct engine_history_result *out)
{
    if (v->n > 1)
        qsort(v->v, v->n, sizeof(v->v[0]), event_cmp);
    size_t cut = v->n;
    if (limit > 0 && v->n > (size_t)limit) {
        cut = (size_t)limit;
        /* Never split a revision: a watcher resumes at a revision. */
        while (cut < v->n &&
               v->v[cut].kv.mod_revision == v->v[cut - 1].kv.mod_revision)
            cut++;
    }
    out->events = NULL;
    out->events_len = 0;
    out->more = cut < v->n;
    out->next_revision = out->more ? v->v[cut].kv.mod_revision : current + 1;
    out->revision = current;
    if (cut > 0) {
        out->events = engine_arena_alloc(a, cut * sizeof(v->v[0]));
        if (out->events == NULL) {
            engine__evvec_free(v);
            return ENGINE_ENOMEM;
        }
        memcpy(out->events, v->v, cut * sizeof(v->v[0]));
        out->events_len = cut;
    }
    engine__evvec_free(v);
    return 0;
}

void engine_close(struct engine *e)
{
    if (e != NULL)
        e->ops->close(e);
}

/* ---- snapshot stream ---------------------------------------------------- */

static const char snap_magic[8] = {'M', 'S', 'K', 'V', 'S', 'N', 'P', '1'};
static const char snap_end[8] = {'M', 'S', 'K', 'V', 'E', 'N', 'D', '1'};
#define SNAP_FORMAT 1u
#define FNV_OFFSET  0xcbf29ce484222325ull
#define FNV_PRIME   0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int engine__snapw_init(struct engine__snap_writer *w, engine_write_cb write,
                       void *ctx)
{
    w->write = write;
    w->ctx = ctx;
    w->len = 0;
    w->hash = FNV_OFFSET;
    w->err = 0;
    w->buf = engine__malloc(ENGINE_SNAPSHOT_CHUNK);
    return w->buf != NULL ? 0 : ENGINE_ENOMEM;
}

static void snapw_flush(struct engine__snap_writer *w)
{
    if (w->err == 0 && w->len > 0) {
        int rc = w->write(w->ctx, w->buf, w->len);
        if (rc != 0)
            w->err = rc < 0 ? rc : ENGINE_EIO;
    }
    w->len = 0;
}

static void snapw_raw(struct engine__snap_writer *w, const void *data, size_t n,
                      bool hashed)
{
    const uint8_t *p = data;
    if (hashed)
        w->hash = fnv1a(w->hash, p, n);
    while (n > 0 && w->err == 0) {
        size_t room = ENGINE_SNAPSHOT_CHUNK - w->len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
        if (w->len == ENGINE_SNAPSHOT_CHUNK)
            snapw_flush(w);
    }
}

void engine__snapw_header(struct engine__snap_writer *w,
                          const struct engine__snap_header *h)
{
    uint8_t b[48];
    memcpy(b, snap_magic, 8);
    put_u32(b + 8, SNAP_FORMAT);
    put_u32(b + 12, 0);
    put_u64(b + 16, (uint64_t)h->revision);
    put_u64(b + 24, (uint64_t)h->compact_revision);
    put_u64(b + 32, h->applied_index);
    put_u64(b + 40, h->keys);
    snapw_raw(w, b, sizeof(b), true);
}

void engine__snapw_key(struct engine__snap_writer *w, const uint8_t *key,
                       size_t key_len, uint32_t revs)
{
    uint8_t b[8];
    put_u32(b, (uint32_t)key_len);
    put_u32(b + 4, revs);
    snapw_raw(w, b, sizeof(b), true);
    snapw_raw(w, key, key_len, true);
}

void engine__snapw_rev(struct engine__snap_writer *w,
                       const struct engine__snap_rev *r, const void *value)
{
    uint8_t b[36];
    put_u64(b, (uint64_t)r->mod_revision);
    put_u64(b + 8, (uint64_t)r->create_revision);
    put_u64(b + 16, (uint64_t)r->version);
    put_u64(b + 24, (uint64_t)r->lease);
    put_u32(b + 32, r->value_len);
    snapw_raw(w, b, sizeof(b), true);
    if (r->value_len > 0)
        snapw_raw(w, value, r->value_len, true);
}

int engine__snapw_finish(struct engine__snap_writer *w)
{
    uint8_t b[16];
    memcpy(b, snap_end, 8);
    put_u64(b + 8, w->hash);
    snapw_raw(w, b, sizeof(b), false);
    snapw_flush(w);
    free(w->buf);
    w->buf = NULL;
    return w->err;
}

int engine__snapr_init(struct engine__snap_reader *r, engine_read_cb read,
                       void *ctx)
{
    memset(r, 0, sizeof(*r));
    r->read = read;
    r->ctx = ctx;
    r->hash = FNV_OFFSET;
    r->buf = engine__malloc(ENGINE_SNAPSHOT_CHUNK);
    r->key = engine__malloc(ENGINE_MAX_KEY_BYTES);
    r->spare = engine__malloc(ENGINE_MAX_KEY_BYTES);
    if (r->buf == NULL || r->key == NULL || r->spare == NULL) {
        engine__snapr_free(r);
        return ENGINE_ENOMEM;
    }
    return 0;
}

void engine__snapr_free(struct engine__snap_reader *r)
{
    free(r->buf);
    free(r->key);
    free(r->spare);
    r->buf = NULL;
    r->key = NULL;
    r->spare = NULL;
}

/* Copies exactly n bytes of the stream into dst; a short stream is
 * ENGINE_ECORRUPT. */
static int snapr_raw(struct engine__snap_reader *r, void *dst, size_t n,
                     bool hashed)
{
    uint8_t *d = dst;
    while (n > 0) {
        if (r->pos == r->len) {
            ssize_t got = r->read(r->ctx, r->buf, ENGINE_SNAPSHOT_CHUNK);
            if (got < 0)
                return (int)got;
            if (got == 0 || (size_t)got > ENGINE_SNAPSHOT_CHUNK)
                return ENGINE_ECORRUPT;
            r->pos = 0;
            r->len = (size_t)got;
        }
        size_t k = r->len - r->pos;
        if (k > n)
            k = n;
        memcpy(d, r->buf + r->pos, k);
        if (hashed)
            r->hash = fnv1a(r->hash, d, k);
        r->pos += k;
        d += k;
        n -= k;
    }
    return 0;
}

int engine__snapr_header(struct engine__snap_reader *r,
                         struct engine__snap_header *h)
{
    uint8_t b[48];
    int rc = snapr_raw(r, b, sizeof(b), true);
    if (rc != 0)
        return rc;
    if (memcmp(b, snap_magic, 8) != 0 || get_u32(b + 8) != SNAP_FORMAT ||
        get_u32(b + 12) != 0)
        return ENGINE_ECORRUPT;
    h->revision = (int64_t)get_u64(b + 16);
    h->compact_revision = (int64_t)get_u64(b + 24);
    h->applied_index = get_u64(b + 32);
    h->keys = get_u64(b + 40);
    if (h->revision < 1 || h->compact_revision < 0 ||
        h->compact_revision > h->revision)
        return ENGINE_ECORRUPT;
    r->h = *h;
    r->keys_left = h->keys;
    return 0;
}

static int snapr_trailer(struct engine__snap_reader *r)
{
    uint8_t b[16];
    uint64_t want = r->hash;
    int rc = snapr_raw(r, b, sizeof(b), false);
    if (rc != 0)
        return rc;
    if (memcmp(b, snap_end, 8) != 0 || get_u64(b + 8) != want)
        return ENGINE_ECORRUPT;
    return 0;
}

int engine__snapr_next_key(struct engine__snap_reader *r, const uint8_t **key,
                           size_t *key_len, uint32_t *revs)
{
    if (r->revs_left != 0)
        return ENGINE_EINVAL; /* caller skipped revisions */
    if (r->keys_left == 0) {
        int rc = snapr_trailer(r);
        return rc != 0 ? rc : 0;
    }
    uint8_t b[8];
    int rc = snapr_raw(r, b, sizeof(b), true);
    if (rc != 0)
        return rc;
    uint32_t len = get_u32(b), n = get_u32(b + 4);
    if (len == 0 || len > ENGINE_MAX_KEY_BYTES || n == 0 ||
        (int64_t)n > r->h.revision)
        return ENGINE_ECORRUPT;
    /* Read into the spare buffer so the previous key stays for the
     * ascending-order check, then swap. */
    rc = snapr_raw(r, r->spare, len, true);
    if (rc != 0)
        return rc;
    if (r->key_len > 0 &&
        engine_key_cmp(r->key, r->key_len, r->spare, len) >= 0)
        return ENGINE_ECORRUPT;
    uint8_t *tmp = r->key;
    r->key = r->spare;
    r->spare = tmp;
    r->key_len = len;
    r->keys_left--;
    r->revs_left = n;
    r->revs_seen = 0;
    *key = r->key;
    *key_len = len;
    *revs = n;
    return 1;
}

/* The story one key's revisions must tell (see the header comment). */
static bool rev_consistent(const struct engine__snap_reader *r,
                           const struct engine__snap_rev *v)
{
    const struct engine__snap_rev *p = &r->prev;
    bool first = r->revs_seen == 0;
    if (v->mod_revision < 1 || v->mod_revision > r->h.revision ||
        v->version < 0 || v->value_len > ENGINE_MAX_VALUE_BYTES)
        return false;
    if (!first && (v->mod_revision <= p->mod_revision ||
                   v->mod_revision <= r->h.compact_revision))
        return false;
    if (v->version == 0) /* tombstone: ends a live generation */
        return !first && p->version > 0 && v->create_revision == 0 &&
               v->lease == 0 && v->value_len == 0;
    if (v->create_revision < 1 || v->create_revision > v->mod_revision)
        return false;
    if (!first && p->version > 0)
        return v->version == p->version + 1 &&
               v->create_revision == p->create_revision;
    if (!first || v->version == 1)
        return v->version == 1 && v->create_revision == v->mod_revision;
    return v->create_revision < v->mod_revision;
}

int engine__snapr_next_rev(struct engine__snap_reader *r,
                           struct engine__snap_rev *rev)
{
    if (r->revs_left == 0)
        return ENGINE_EINVAL;
    uint8_t b[36];
    int rc = snapr_raw(r, b, sizeof(b), true);
    if (rc != 0)
        return rc;
    rev->mod_revision = (int64_t)get_u64(b);
    rev->create_revision = (int64_t)get_u64(b + 8);
    rev->version = (int64_t)get_u64(b + 16);
    rev->lease = (int64_t)get_u64(b + 24);
    rev->value_len = get_u32(b + 32);
    if (!rev_consistent(r, rev))
        return ENGINE_ECORRUPT;
    r->prev = *rev;
    r->revs_seen++;
    r->revs_left--;
    return 0;
}

int engine__snapr_value(struct engine__snap_reader *r, void *dst, size_t len)
{
    return snapr_raw(r, dst, len, true);
}

bool engine__cmp_holds(const struct engine_compare *c,
                       const struct engine__cmp_subject *x)
{
    int d;
    if (c->target == ENGINE_CMP_VALUE) {
        if (!x->exists)
            return false; /* etcd: a missing value never compares */
        d = engine_key_cmp(x->value, x->value_len, c->value, c->value_len);
    } else {
        int64_t v = 0;
        if (x->exists)
            v = c->target == ENGINE_CMP_VERSION  ? x->version
                : c->target == ENGINE_CMP_CREATE ? x->create
                : c->target == ENGINE_CMP_MOD    ? x->mod
                                                 : x->lease;
        d = v < c->operand ? -1 : (v > c->operand ? 1 : 0);
    }
    switch (c->result) {
    case ENGINE_CMP_EQUAL:
        return d == 0;
    case ENGINE_CMP_NOT_EQUAL:
        return d != 0;
    case ENGINE_CMP_GREATER:
        return d > 0;
    default:
        return d < 0;
    }
}
