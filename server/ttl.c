/*
 * ttl.c - the TTL lease table (see ttl.h): leases, key attachments, leader
 * expiry bookkeeping, snapshot encoding.
 *
 * Happy path: committed Grant / Put-with-lease / Delete / Revoke /
 * Checkpoint entries call ttl_apply_*() on every node in log order; the
 * leader also calls ttl_become_leader(), ttl_keepalive() for client
 * keepalives, and periodically ttl_expired() and ttl_checkpoints(), whose
 * answers it proposes back through Raft.
 *
 * Layout: leases sit in an array of pointers sorted by id (binary search;
 * the count is bounded by max_leases, so inserting with memmove is cheap
 * enough and every listing comes out in id order for free).  Attached keys
 * sit in a chained hash table keyed by the key bytes; each lease also keeps
 * an unordered array of its keys, and each key remembers its slot there, so
 * attach, detach and move are O(1).  Anything handed out (revoke, time to
 * live, snapshot) is sorted first, so replicas produce identical output no
 * matter how their hash tables are laid out.
 *
 * Failure modes: bad arguments and unknown or duplicate ids come back as
 * TTL_E* codes identical on every replica; out of memory leaves the table
 * as it was before the call; ttl_load() validates the whole image before it
 * replaces anything.
 */
#include "server/ttl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "storage/crc32c.h"
#include "storage/engine.h"

#define NS_PER_S  1000000000LL
#define NS_PER_MS 1000000LL

struct kent {
    uint8_t *key;
    size_t len;
    uint64_t hash;
    struct lease *lease;
    size_t slot; /* index in lease->keys */
    struct kent *next;
};

struct lease {
    int64_t id;
    int64_t ttl_s;
    int64_t remaining_ms; /* checkpointed; 0: none */
    int64_t expiry_ns;    /* leader only */
    int64_t retry_ns;     /* leader only: not expired again before this */
    bool retry_set;
    struct kent **keys;
    size_t n_keys;
    size_t cap_keys;
};

struct ttl {
    struct ttl_config cfg;
    struct lease **leases; /* sorted by id */
    size_t n;
    size_t cap;
    struct kent **buckets;
    size_t n_buckets; /* power of two, or 0 */
    size_t n_keys;
    bool leader;
};

const char *ttl_strerror(int err)
{
    switch (err) {
#define TTL__ERR_TEXT(name, value, text)                                       \
    case name:                                                                 \
        return text;
        TTL_ERRORS(TTL__ERR_TEXT)
#undef TTL__ERR_TEXT
    default:
        return "unknown TTL lease error";
    }
}

const char *ttl_err_name(int err)
{
    switch (err) {
#define TTL__ERR_NAME(name, value, text)                                       \
    case name:                                                                 \
        return #name;
        TTL_ERRORS(TTL__ERR_NAME)
#undef TTL__ERR_NAME
    default:
        return "TTL_E?";
    }
}

void ttl_config_default(struct ttl_config *cfg)
{
    cfg->min_ttl_s = TTL_DEFAULT_MIN_TTL_S;
    cfg->max_ttl_s = TTL_DEFAULT_MAX_TTL_S;
    cfg->max_leases = TTL_DEFAULT_MAX_LEASES;
    cfg->revoke_retry_ns = TTL_DEFAULT_REVOKE_RETRY_NS;
}

/* ---- arithmetic that saturates instead of overflowing ------------------- */

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t sat_mul(int64_t a, int64_t b) /* a, b >= 0 */
{
    if (a != 0 && b > INT64_MAX / a)
        return INT64_MAX;
    return a * b;
}

/* ---- leases ------------------------------------------------------------- */

/* Index of the first lease with id >= id. */
static size_t lease_lower_bound(const struct ttl *t, int64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->leases[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct lease *lease_find(const struct ttl *t, int64_t id)
{
    size_t i = lease_lower_bound(t, id);
    return i < t->n && t->leases[i]->id == id ? t->leases[i] : NULL;
}

/* Inserts a fresh lease; the caller checked that id is free. */
static int lease_insert(struct ttl *t, int64_t id, int64_t ttl_s,
                        struct lease **out)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct lease **v = realloc(t->leases, cap * sizeof(*v));
        if (v == NULL)
            return TTL_ENOMEM;
        t->leases = v;
        t->cap = cap;
    }
    struct lease *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return TTL_ENOMEM;
    l->id = id;
    l->ttl_s = ttl_s;
    size_t i = lease_lower_bound(t, id);
    memmove(&t->leases[i + 1], &t->leases[i], (t->n - i) * sizeof(*t->leases));
    t->leases[i] = l;
    t->n++;
    *out = l;
    return 0;
}

/* ---- keys --------------------------------------------------------------- */

static uint64_t key_hash(const void *key, size_t len)
{
    const uint8_t *p = key;
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static struct kent *key_find(const struct ttl *t, const void *key, size_t len,
                             uint64_t h)
{
    if (t->n_buckets == 0)
        return NULL;
    struct kent *e = t->buckets[h & (t->n_buckets - 1)];
    for (; e != NULL; e = e->next)
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

/* Makes room for one more key in the table (growing at load factor 1). */
static int key_reserve(struct ttl *t)
{
    if (t->n_keys < t->n_buckets)
        return 0;
    size_t nb = t->n_buckets ? t->n_buckets * 2 : 64;
    struct kent **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return TTL_ENOMEM;
    for (size_t i = 0; i < t->n_buckets; i++) {
        struct kent *e = t->buckets[i];
        while (e != NULL) {
            struct kent *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->n_buckets = nb;
    return 0;
}

static int lease_reserve_key(struct lease *l)
{
    if (l->n_keys < l->cap_keys)
        return 0;
    size_t cap = l->cap_keys ? l->cap_keys * 2 : 4;
    struct kent **v = realloc(l->keys, cap * sizeof(*v));
    if (v == NULL)
        return TTL_ENOMEM;
    l->keys = v;
    l->cap_keys = cap;
    return 0;
}

static void lease_add_key(struct lease *l, struct kent *e)
{
    e->lease = l;
    e->slot = l->n_keys;
    l->keys[l->n_keys++] = e;
}

/* Swap-removes e from its lease's key array. */
static void lease_remove_key(struct kent *e)
{
    struct lease *l = e->lease;
    struct kent *last = l->keys[--l->n_keys];
    l->keys[e->slot] = last;
    last->slot = e->slot;
    e->lease = NULL;
}

static void key_unlink(struct ttl *t, struct kent *e)
{
    struct kent **pp = &t->buckets[e->hash & (t->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->n_keys--;
}

/* Bytewise order, shorter first when one is a prefix of the other. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

static int kent_ptr_cmp(const void *pa, const void *pb)
{
    const struct kent *a = *(struct kent *const *)pa;
    const struct kent *b = *(struct kent *const *)pb;
    return key_cmp(a->key, a->len, b->key, b->len);
}

static int ttl_key_cmp(const void *pa, const void *pb)
{
    const struct ttl_key *a = pa;
    const struct ttl_key *b = pb;
    return key_cmp(a->key, a->len, b->key, b->len);
}

void ttl_keys_free(struct ttl_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].key);
    free(k->v);
    k->v = NULL;
    k->n = 0;
}

/* ---- life cycle --------------------------------------------------------- */

static bool config_valid(const struct ttl_config *cfg)
{
    return cfg->min_ttl_s >= 1 && cfg->max_ttl_s >= cfg->min_ttl_s &&
           cfg->max_ttl_s <= TTL_DEFAULT_MAX_TTL_S && cfg->max_leases > 0 &&
           cfg->max_leases <= UINT32_MAX && cfg->revoke_retry_ns > 0;
}

int ttl_create(const struct ttl_config *cfg, struct ttl **out)
{
    if (cfg == NULL || out == NULL || !config_valid(cfg))
        return TTL_EINVAL;
    struct ttl *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return TTL_ENOMEM;
    t->cfg = *cfg;
    *out = t;
    return 0;
}

static void lease_free(struct lease *l)
{
    for (size_t i = 0; i < l->n_keys; i++) {
        free(l->keys[i]->key);
        free(l->keys[i]);
    }
    free(l->keys);
    free(l);
}

void ttl_destroy(struct ttl *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        lease_free(t->leases[i]);
    free(t->leases);
    free(t->buckets);
    free(t);
}

size_t ttl_count(const struct ttl *t)
{
    return t->n;
}

bool ttl_is_leader(const struct ttl *t)
{
    return t->leader;
}

/* ---- replicated state --------------------------------------------------- */

/* Smallest free id >= start, or 0 if none is left below INT64_MAX. */
static int64_t free_id_from(const struct ttl *t, int64_t start)
{
    size_t i = lease_lower_bound(t, start);
    int64_t id = start;
    while (i < t->n && t->leases[i]->id == id) {
        if (id == INT64_MAX)
            return 0;
        id++;
        i++;
    }
    return id;
}

/* The TTL the leader counts and reports: the granted one raised to this
 * node's min_ttl_s.  The minimum is per-node configuration (it follows the
 * election timeout), so it is applied here and never stored: replicas
 * configured differently keep the same table. */
static int64_t eff_ttl_s(const struct ttl *t, const struct lease *l)
{
    return l->ttl_s < t->cfg.min_ttl_s ? t->cfg.min_ttl_s : l->ttl_s;
}

static int64_t full_ns(const struct ttl *t, const struct lease *l)
{
    return sat_mul(eff_ttl_s(t, l), NS_PER_S);
}

int ttl_apply_grant(struct ttl *t, uint64_t index, int64_t id, int64_t ttl_s,
                    int64_t now_ns, int64_t *granted_id, int64_t *granted_ttl_s)
{
    if (index == 0 || index > (uint64_t)INT64_MAX || id < 0 || ttl_s < 0)
        return TTL_EINVAL;
    if (ttl_s > t->cfg.max_ttl_s)
        return TTL_ETTLTOOBIG;
    if (ttl_s < 1)
        ttl_s = 1; /* a constant, so every replica stores the same */
    if (id != 0 && lease_find(t, id) != NULL)
        return TTL_EEXIST;
    if (t->n >= t->cfg.max_leases)
        return TTL_ETOOMANY;
    if (id == 0) {
        id = free_id_from(t, (int64_t)index);
        if (id == 0)
            return TTL_ETOOMANY;
    }
    struct lease *l;
    int rv = lease_insert(t, id, ttl_s, &l);
    if (rv != 0)
        return rv;
    if (t->leader)
        l->expiry_ns = sat_add(now_ns, full_ns(t, l));
    if (granted_id != NULL)
        *granted_id = id;
    if (granted_ttl_s != NULL)
        *granted_ttl_s = eff_ttl_s(t, l);
    return 0;
}

int ttl_apply_revoke(struct ttl *t, int64_t id, struct ttl_keys *keys)
{
    if (keys != NULL) {
        keys->v = NULL;
        keys->n = 0;
    }
    size_t i = lease_lower_bound(t, id);
    if (i == t->n || t->leases[i]->id != id)
        return TTL_ENOTFOUND;
    struct lease *l = t->leases[i];
    if (keys != NULL && l->n_keys > 0) {
        keys->v = malloc(l->n_keys * sizeof(*keys->v));
        if (keys->v == NULL)
            return TTL_ENOMEM;
    }
    /* From here on nothing can fail. */
    for (size_t k = 0; k < l->n_keys; k++) {
        struct kent *e = l->keys[k];
        key_unlink(t, e);
        if (keys != NULL) {
            keys->v[k].key = e->key;
            keys->v[k].len = e->len;
        } else {
            free(e->key);
        }
        free(e);
    }
    if (keys != NULL) {
        keys->n = l->n_keys;
        if (keys->n > 1)
            qsort(keys->v, keys->n, sizeof(*keys->v), ttl_key_cmp);
    }
    l->n_keys = 0;
    memmove(&t->leases[i], &t->leases[i + 1],
            (t->n - i - 1) * sizeof(*t->leases));
    t->n--;
    lease_free(l);
    return 0;
}

static bool key_valid(const void *key, size_t len)
{
    return key != NULL && len > 0 && len <= ENGINE_MAX_KEY_BYTES;
}

int ttl_apply_detach(struct ttl *t, const void *key, size_t len)
{
    if (!key_valid(key, len))
        return TTL_EINVAL;
    struct kent *e = key_find(t, key, len, key_hash(key, len));
    if (e == NULL)
        return 0;
    lease_remove_key(e);
    key_unlink(t, e);
    free(e->key);
    free(e);
    return 0;
}

int ttl_apply_attach(struct ttl *t, const void *key, size_t len,
                     int64_t lease_id)
{
    if (!key_valid(key, len) || lease_id < 0)
        return TTL_EINVAL;
    if (lease_id == 0)
        return ttl_apply_detach(t, key, len);
    struct lease *l = lease_find(t, lease_id);
    if (l == NULL)
        return TTL_ENOTFOUND;
    uint64_t h = key_hash(key, len);
    struct kent *e = key_find(t, key, len, h);
    if (e != NULL && e->lease == l)
        return 0;
    if (lease_reserve_key(l) != 0)
        return TTL_ENOMEM;
    if (e != NULL) { /* move between leases */
        lease_remove_key(e);
        lease_add_key(l, e);
        return 0;
    }
    if (key_reserve(t) != 0)
        return TTL_ENOMEM;
    e = calloc(1, sizeof(*e));
    uint8_t *copy = malloc(len);
    if (e == NULL || copy == NULL) {
        free(e);
        free(copy);
        return TTL_ENOMEM;
    }
    memcpy(copy, key, len);
    e->key = copy;
    e->len = len;
    e->hash = h;
    size_t b = h & (t->n_buckets - 1);
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->n_keys++;
    lease_add_key(l, e);
    return 0;
}

int ttl_apply_checkpoint(struct ttl *t, int64_t id, int64_t remaining_ms)
{
    if (remaining_ms < 0)
        return TTL_EINVAL;
    struct lease *l = lease_find(t, id);
    if (l == NULL)
        return TTL_ENOTFOUND;
    l->remaining_ms = remaining_ms;
    return 0;
}

int64_t ttl_lease_of(const struct ttl *t, const void *key, size_t len)
{
    if (!key_valid(key, len))
        return 0;
    struct kent *e = key_find(t, key, len, key_hash(key, len));
    return e != NULL ? e->lease->id : 0;
}

bool ttl_exists(const struct ttl *t, int64_t id)
{
    return lease_find(t, id) != NULL;
}

/* ---- leader timekeeping ------------------------------------------------- */

/* What a new leader or a non-leader counts from: the checkpoint if any. */
static int64_t remaining_ns(const struct ttl *t, const struct lease *l)
{
    if (l->remaining_ms > 0)
        return sat_mul(l->remaining_ms, NS_PER_MS);
    return full_ns(t, l);
}

int ttl_become_leader(struct ttl *t, int64_t now_ns, int64_t extend_ns)
{
    if (extend_ns < 0)
        return TTL_EINVAL;
    for (size_t i = 0; i < t->n; i++) {
        struct lease *l = t->leases[i];
        l->expiry_ns = sat_add(sat_add(now_ns, remaining_ns(t, l)), extend_ns);
        l->retry_set = false;
    }
    t->leader = true;
    return 0;
}

void ttl_become_follower(struct ttl *t)
{
    for (size_t i = 0; i < t->n; i++) {
        t->leases[i]->expiry_ns = 0;
        t->leases[i]->retry_set = false;
    }
    t->leader = false;
}

int ttl_keepalive(struct ttl *t, int64_t id, int64_t now_ns, int64_t *ttl_s,
                  bool *propose_reset)
{
    if (!t->leader)
        return TTL_ENOTLEADER;
    struct lease *l = lease_find(t, id);
    if (l == NULL)
        return TTL_ENOTFOUND;
    l->expiry_ns = sat_add(now_ns, full_ns(t, l));
    l->retry_set = false;
    if (ttl_s != NULL)
        *ttl_s = eff_ttl_s(t, l);
    if (propose_reset != NULL)
        *propose_reset = l->remaining_ms > 0;
    return 0;
}

/* Orders expired leases: earlier expiry first, then smaller id. */
static bool expires_before(const struct lease *a, const struct lease *b)
{
    if (a->expiry_ns != b->expiry_ns)
        return a->expiry_ns < b->expiry_ns;
    return a->id < b->id;
}

static bool is_due(const struct lease *l, int64_t now_ns)
{
    return l->expiry_ns <= now_ns && !(l->retry_set && now_ns < l->retry_ns);
}

/*
 * Keeps the `cap` earliest due leases in ids[] by insertion (no allocation;
 * the table is bounded and expiry scans are periodic).
 */
size_t ttl_expired(struct ttl *t, int64_t now_ns, int64_t *ids, size_t cap)
{
    if (!t->leader || cap == 0)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct lease *l = t->leases[i];
        if (!is_due(l, now_ns))
            continue;
        size_t pos = n;
        while (pos > 0 && expires_before(l, lease_find(t, ids[pos - 1])))
            pos--;
        if (pos >= cap)
            continue;
        size_t move = (n < cap ? n : cap - 1) - pos;
        memmove(&ids[pos + 1], &ids[pos], move * sizeof(*ids));
        ids[pos] = l->id;
        if (n < cap)
            n++;
    }
    for (size_t i = 0; i < n; i++) {
        struct lease *l = lease_find(t, ids[i]);
        l->retry_set = true;
        l->retry_ns = sat_add(now_ns, t->cfg.revoke_retry_ns);
    }
    return n;
}

/* Copies a lease's keys, sorted, into a caller-owned ttl_keys. */
static int copy_keys(const struct lease *l, struct ttl_keys *keys)
{
    keys->v = NULL;
    keys->n = 0;
    if (l->n_keys == 0)
        return 0;
    keys->v = calloc(l->n_keys, sizeof(*keys->v));
    if (keys->v == NULL)
        return TTL_ENOMEM;
    for (size_t i = 0; i < l->n_keys; i++) {
        const struct kent *e = l->keys[i];
        keys->v[i].key = malloc(e->len);
        if (keys->v[i].key == NULL) {
            keys->n = i;
            ttl_keys_free(keys);
            return TTL_ENOMEM;
        }
        memcpy(keys->v[i].key, e->key, e->len);
        keys->v[i].len = e->len;
    }
    keys->n = l->n_keys;
    qsort(keys->v, keys->n, sizeof(*keys->v), ttl_key_cmp);
    return 0;
}

int ttl_time_to_live(const struct ttl *t, int64_t id, int64_t now_ns,
                     struct ttl_info *info, struct ttl_keys *keys)
{
    if (keys != NULL) {
        keys->v = NULL;
        keys->n = 0;
    }
    const struct lease *l = lease_find(t, id);
    if (l == NULL)
        return TTL_ENOTFOUND;
    if (keys != NULL) {
        int rv = copy_keys(l, keys);
        if (rv != 0)
            return rv;
    }
    if (info != NULL) {
        info->id = l->id;
        info->granted_ttl_s = eff_ttl_s(t, l);
        info->exact = t->leader;
        if (t->leader) {
            int64_t left = l->expiry_ns > now_ns ? l->expiry_ns - now_ns : 0;
            info->remaining_ttl_s = left / NS_PER_S;
        } else {
            info->remaining_ttl_s = remaining_ns(t, l) / NS_PER_S;
        }
    }
    return 0;
}

size_t ttl_list(const struct ttl *t, int64_t *ids, size_t cap)
{
    for (size_t i = 0; i < t->n && i < cap; i++)
        ids[i] = t->leases[i]->id;
    return t->n;
}

size_t ttl_checkpoints(const struct ttl *t, int64_t now_ns, int64_t after_id,
                       struct ttl_checkpoint *out, size_t cap)
{
    if (!t->leader)
        return 0;
    size_t n = 0;
    size_t i = after_id == INT64_MAX ? t->n : lease_lower_bound(t, after_id + 1);
    for (; i < t->n && n < cap; i++) {
        const struct lease *l = t->leases[i];
        if (l->expiry_ns <= now_ns)
            continue;
        int64_t left = l->expiry_ns - now_ns;
        out[n].id = l->id;
        out[n].remaining_ms = left / NS_PER_MS + (left % NS_PER_MS != 0);
        n++;
    }
    return n;
}

/* ---- snapshots ---------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_i64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(u >> (8 * i));
    return p;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int64_t get_i64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = u << 8 | p[i];
    return (int64_t)u;
}

static int save(const struct ttl *t, bool with_keys, uint8_t **out,
                size_t *len)
{
    size_t size = 1 + 4 + 4, max_keys = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct lease *l = t->leases[i];
        size += 8 + 8 + 8 + 4;
        for (size_t k = 0; with_keys && k < l->n_keys; k++)
            size += 4 + l->keys[k]->len;
        if (with_keys && l->n_keys > max_keys)
            max_keys = l->n_keys;
    }
    uint8_t *buf = malloc(size);
    struct kent **sorted = malloc((max_keys ? max_keys : 1) * sizeof(*sorted));
    if (buf == NULL || sorted == NULL) {
        free(buf);
        free(sorted);
        return TTL_ENOMEM;
    }
    uint8_t *p = buf;
    *p++ = TTL_SNAPSHOT_VERSION;
    p = put_u32(p, (uint32_t)t->n);
    for (size_t i = 0; i < t->n; i++) {
        const struct lease *l = t->leases[i];
        p = put_i64(p, l->id);
        p = put_i64(p, l->ttl_s);
        p = put_i64(p, l->remaining_ms);
        size_t n_keys = with_keys ? l->n_keys : 0;
        p = put_u32(p, (uint32_t)n_keys);
        if (n_keys > 0)
            memcpy(sorted, l->keys, n_keys * sizeof(*sorted));
        if (n_keys > 1)
            qsort(sorted, n_keys, sizeof(*sorted), kent_ptr_cmp);
        for (size_t k = 0; k < n_keys; k++) {
            p = put_u32(p, (uint32_t)sorted[k]->len);
            memcpy(p, sorted[k]->key, sorted[k]->len);
            p += sorted[k]->len;
        }
    }
    p = put_u32(p, crc32c(buf, (size_t)(p - buf)));
    free(sorted);
    *out = buf;
    *len = size;
    return 0;
}

int ttl_save(const struct ttl *t, uint8_t **out, size_t *len)
{
    return save(t, true, out, len);
}

int ttl_save_leases(const struct ttl *t, uint8_t **out, size_t *len)
{
    return save(t, false, out, len);
}

/* Parses the lease records of an image (version and CRC already checked)
 * into the empty table t. */
static int load_leases(struct ttl *t, const uint8_t *p, const uint8_t *end)
{
    if (end - p < 4)
        return TTL_ECORRUPT;
    uint32_t n = get_u32(p);
    p += 4;
    if (n > t->cfg.max_leases)
        return TTL_ETOOMANY;
    int64_t prev_id = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 28)
            return TTL_ECORRUPT;
        int64_t id = get_i64(p), ttl_s = get_i64(p + 8);
        int64_t rem_ms = get_i64(p + 16);
        uint32_t n_keys = get_u32(p + 24);
        p += 28;
        if (id <= prev_id || ttl_s < 1 || ttl_s > TTL_DEFAULT_MAX_TTL_S ||
            rem_ms < 0)
            return TTL_ECORRUPT;
        prev_id = id;
        struct lease *l;
        int rv = lease_insert(t, id, ttl_s, &l);
        if (rv != 0)
            return rv;
        l->remaining_ms = rem_ms;
        for (uint32_t k = 0; k < n_keys; k++) {
            if (end - p < 4)
                return TTL_ECORRUPT;
            uint32_t klen = get_u32(p);
            p += 4;
            if ((size_t)(end - p) < klen || !key_valid(p, klen))
                return TTL_ECORRUPT;
            if (ttl_lease_of(t, p, klen) != 0)
                return TTL_ECORRUPT; /* attached twice */
            rv = ttl_apply_attach(t, p, klen, id);
            if (rv != 0)
                return rv;
            p += klen;
        }
    }
    return p == end ? 0 : TTL_ECORRUPT;
}

int ttl_load(struct ttl *t, const uint8_t *in, size_t len)
{
    if (in == NULL || len < 1 + 4)
        return TTL_ECORRUPT;
    if (in[0] != TTL_SNAPSHOT_VERSION)
        return TTL_EVERSION;
    size_t body = len - 4;
    if (crc32c(in, body) != get_u32(in + body))
        return TTL_ECORRUPT;
    struct ttl *fresh;
    int rv = ttl_create(&t->cfg, &fresh);
    if (rv != 0)
        return rv;
    rv = load_leases(fresh, in + 1, in + body);
    if (rv != 0) {
        ttl_destroy(fresh);
        return rv;
    }
    /* Swap contents so the caller's handle stays valid. */
    struct ttl old = *t;
    *t = *fresh;
    *fresh = old;
    ttl_destroy(fresh);
    return 0;
}
