/*
 * The memory engine's key index: a B+tree over byte-string keys.
 *
 * Happy path: a lookup descends height-1 inner nodes (about 3 for a million
 * keys with fan-out 64) doing a binary search over an array of 8-byte key
 * prefixes, which stays in a few cache lines; only a prefix tie costs a
 * memcmp through the key pointer.  Leaves are chained for range scans.
 *
 * Inserts split full nodes on the way down, so every split is complete
 * before the next allocation: an allocation failure leaves a valid tree with
 * the same items.  Inner separators are private copies of keys, so removing
 * an item never leaves a dangling separator (a stale one still separates
 * correctly).  Removal never allocates: an empty leaf is cut out together
 * with any single-child inner nodes above it, a leaf under a quarter full is
 * merged into a sibling when the two fit, and a root with one child is
 * collapsed.  Inner nodes are not merged on removal; they only lose
 * children, which keeps every search correct and every leaf at the same
 * depth, and removals only come from compaction.
 */
#include "storage/btree.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "storage/engine_impl.h"

#define LEAF_CAP  64
#define INNER_CAP 63 /* separators; an inner node has n + 1 children */
/* Far above any real height: a full-split B+tree of fan-out >= 32 holding
 * 2^64 items is 13 levels deep. */
#define MAX_HEIGHT 32

/* Common prefixes up to this long are copied into the node, so checking a
 * probe against one reads no memory outside the node. */
#define INLINE_PREFIX 44

struct engine__bt_node {
    uint16_t n; /* items (leaf) or separators (inner) */
    bool leaf;
    uint32_t lcp; /* every key of the node starts with the same lcp bytes */
    uint8_t prefix[INLINE_PREFIX]; /* those bytes, when lcp fits */
};

/* pfx[i]: the 8 bytes of key i that follow the node's common prefix,
 * big-endian, zero padded; comparing them orders keys without touching
 * the key bytes unless two of them tie. */
struct engine__bt_leaf {
    struct engine__bt_node h;
    struct engine__bt_leaf *prev, *next;
    uint64_t pfx[LEAF_CAP];
    struct engine__bt_item *items[LEAF_CAP];
};

/* child[i] holds keys k with sep[i-1] <= k < sep[i]. */
struct bt_inner {
    struct engine__bt_node h;
    uint64_t pfx[INNER_CAP];
    uint8_t *key[INNER_CAP];
    size_t len[INNER_CAP];
    struct engine__bt_node *child[INNER_CAP + 1];
};

struct probe {
    const uint8_t *key;
    size_t len;
};

/* Up to 8 bytes of key from offset `off`, big-endian, zero padded. */
static uint64_t load_pfx(const uint8_t *key, size_t len, size_t off)
{
    uint64_t p = 0;
    size_t n = len > off ? len - off : 0;
    if (n > 8)
        n = 8;
    for (size_t i = 0; i < n; i++)
        p |= (uint64_t)key[off + i] << (56 - 8 * i);
    return p;
}

static size_t common_len(const uint8_t *a, size_t al, const uint8_t *b,
                         size_t bl)
{
    size_t n = al < bl ? al : bl, i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

static struct probe make_probe(const void *key, size_t len)
{
    struct probe p = {key, len};
    return p;
}

/* Where the probe stands against a non-empty node whose keys all start
 * with the lcp bytes of `common`: -1 before every key, 1 after every key,
 * 0 when it shares the prefix too (then *ppfx is its next 8 bytes). */
static int probe_prefix(const struct probe *p, const uint8_t *common,
                        size_t lcp, uint64_t *ppfx)
{
    size_t m = p->len < lcp ? p->len : lcp;
    int c = m > 0 ? memcmp(p->key, common, m) : 0;
    if (c != 0)
        return c < 0 ? -1 : 1;
    if (p->len < lcp)
        return -1; /* a proper prefix of every key */
    *ppfx = load_pfx(p->key, p->len, lcp);
    return 0;
}

/* Order of the probe against a key of the same node (both share its lcp
 * bytes) whose 8-byte word ties with the probe's: a side that ends within
 * the word is a prefix of the other, else the bytes after it decide.  Only
 * here are the key bytes read, which is why callers compare words first:
 * touching the key is a cache miss. */
static int tie_cmp(const struct probe *p, size_t lcp, const uint8_t *key,
                   size_t len)
{
    size_t pl = p->len - lcp, kl = len - lcp;
    if (pl <= 8 || kl <= 8)
        return pl < kl ? -1 : (pl > kl ? 1 : 0);
    return engine_key_cmp(p->key + lcp + 8, pl - 8, key + lcp + 8, kl - 8);
}

static struct bt_inner *as_inner(struct engine__bt_node *n)
{
    assert(!n->leaf);
    return (struct bt_inner *)n;
}

static struct engine__bt_leaf *as_leaf(struct engine__bt_node *n)
{
    assert(n->leaf);
    return (struct engine__bt_leaf *)n;
}

static void set_common(struct engine__bt_node *n, const uint8_t *first_key,
                       size_t lcp)
{
    n->lcp = (uint32_t)lcp;
    memcpy(n->prefix, first_key, lcp < INLINE_PREFIX ? lcp : INLINE_PREFIX);
}

/* First position whose item is >= the probe; *eq when it is equal. */
static unsigned leaf_lower(const struct engine__bt_leaf *l,
                           const struct probe *p, bool *eq)
{
    uint64_t pp = 0;
    size_t lcp = l->h.lcp;
    *eq = false;
    if (l->h.n == 0)
        return 0;
    const uint8_t *common =
        lcp <= INLINE_PREFIX ? l->h.prefix : l->items[0]->key;
    int where = probe_prefix(p, common, lcp, &pp);
    if (where != 0)
        return where < 0 ? 0 : l->h.n;
    unsigned lo = 0, hi = l->h.n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        uint64_t w = l->pfx[mid];
        bool after = w != pp ? pp > w
                             : tie_cmp(p, lcp, l->items[mid]->key,
                                       l->items[mid]->key_len) > 0;
        if (after)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < l->h.n && l->pfx[lo] == pp)
        *eq = tie_cmp(p, lcp, l->items[lo]->key, l->items[lo]->key_len) == 0;
    return lo;
}

/* The child that covers the probe: the number of separators <= probe. */
static unsigned inner_child(const struct bt_inner *in, const struct probe *p)
{
    uint64_t pp = 0;
    size_t lcp = in->h.lcp;
    if (in->h.n == 0)
        return 0;
    const uint8_t *common = lcp <= INLINE_PREFIX ? in->h.prefix : in->key[0];
    int where = probe_prefix(p, common, lcp, &pp);
    if (where != 0)
        return where < 0 ? 0 : in->h.n;
    unsigned lo = 0, hi = in->h.n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        uint64_t w = in->pfx[mid];
        bool at_or_after =
            w != pp ? pp > w : tie_cmp(p, lcp, in->key[mid], in->len[mid]) >= 0;
        if (at_or_after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Recomputes a node's common prefix (that of its first and last keys,
 * hence of every key between) and the words that follow it. */
static void leaf_reprefix(struct engine__bt_leaf *l)
{
    unsigned n = l->h.n;
    if (n == 0) {
        l->h.lcp = 0;
        return;
    }
    const struct engine__bt_item *a = l->items[0], *b = l->items[n - 1];
    size_t lcp = common_len(a->key, a->key_len, b->key, b->key_len);
    set_common(&l->h, a->key, lcp);
    for (unsigned i = 0; i < n; i++)
        l->pfx[i] = load_pfx(l->items[i]->key, l->items[i]->key_len, lcp);
}

static void inner_reprefix(struct bt_inner *in)
{
    unsigned n = in->h.n;
    if (n == 0) {
        in->h.lcp = 0;
        return;
    }
    size_t lcp =
        common_len(in->key[0], in->len[0], in->key[n - 1], in->len[n - 1]);
    set_common(&in->h, in->key[0], lcp);
    for (unsigned i = 0; i < n; i++)
        in->pfx[i] = load_pfx(in->key[i], in->len[i], lcp);
}

static struct engine__bt_leaf *leaf_new(void)
{
    struct engine__bt_leaf *l = engine__calloc(1, sizeof(*l));
    if (l != NULL)
        l->h.leaf = true;
    return l;
}

int engine__btree_init(struct engine__btree *t)
{
    struct engine__bt_leaf *l = leaf_new();
    if (l == NULL)
        return ENGINE_ENOMEM;
    t->root = &l->h;
    t->size = 0;
    t->height = 1;
    return 0;
}

static void node_free(struct engine__bt_node *n,
                      void (*free_item)(struct engine__bt_item *))
{
    if (n->leaf) {
        struct engine__bt_leaf *l = as_leaf(n);
        if (free_item != NULL)
            for (unsigned i = 0; i < l->h.n; i++)
                free_item(l->items[i]);
        free(l);
        return;
    }
    struct bt_inner *in = as_inner(n);
    for (unsigned i = 0; i <= in->h.n; i++)
        node_free(in->child[i], free_item);
    for (unsigned i = 0; i < in->h.n; i++)
        free(in->key[i]);
    free(in);
}

void engine__btree_destroy(struct engine__btree *t,
                           void (*free_item)(struct engine__bt_item *))
{
    if (t->root != NULL)
        node_free(t->root, free_item);
    t->root = NULL;
    t->size = 0;
    t->height = 0;
}

static struct engine__bt_leaf *find_leaf(const struct engine__btree *t,
                                         const struct probe *p)
{
    struct engine__bt_node *n = t->root;
    while (!n->leaf) {
        struct bt_inner *in = as_inner(n);
        n = in->child[inner_child(in, p)];
    }
    return as_leaf(n);
}

struct engine__bt_item *engine__btree_get(const struct engine__btree *t,
                                          const void *key, size_t len)
{
    struct probe p = make_probe(key, len);
    struct engine__bt_leaf *l = find_leaf(t, &p);
    bool eq;
    unsigned pos = leaf_lower(l, &p, &eq);
    return eq ? l->items[pos] : NULL;
}

static bool node_full(const struct engine__bt_node *n)
{
    return n->n == (n->leaf ? LEAF_CAP : INNER_CAP);
}

/* Puts separator (key, len) at position i of a non-full inner node, with
 * `right` as child i + 1.  A new first or last separator may shorten the
 * common prefix; one in the middle shares it. */
static void inner_insert_at(struct bt_inner *in, unsigned i, uint8_t *key,
                            size_t len, struct engine__bt_node *right)
{
    unsigned n = in->h.n;
    assert(n < INNER_CAP);
    memmove(&in->pfx[i + 1], &in->pfx[i], (n - i) * sizeof(in->pfx[0]));
    memmove(&in->key[i + 1], &in->key[i], (n - i) * sizeof(in->key[0]));
    memmove(&in->len[i + 1], &in->len[i], (n - i) * sizeof(in->len[0]));
    memmove(&in->child[i + 2], &in->child[i + 1],
            (n - i) * sizeof(in->child[0]));
    in->key[i] = key;
    in->len[i] = len;
    in->child[i + 1] = right;
    in->h.n = (uint16_t)(n + 1);
    if (i == 0 || i == n)
        inner_reprefix(in);
    else
        in->pfx[i] = load_pfx(key, len, in->h.lcp);
}

static int split_leaf(struct bt_inner *parent, unsigned i)
{
    struct engine__bt_leaf *l = as_leaf(parent->child[i]);
    unsigned mid = LEAF_CAP / 2, moved = l->h.n - mid;
    struct engine__bt_leaf *r = leaf_new();
    const struct engine__bt_item *first = l->items[mid];
    uint8_t *sep = engine__malloc(first->key_len);
    if (r == NULL || sep == NULL) {
        free(r);
        free(sep);
        return ENGINE_ENOMEM;
    }
    memcpy(sep, first->key, first->key_len);
    memcpy(r->items, &l->items[mid], moved * sizeof(l->items[0]));
    r->h.n = (uint16_t)moved;
    l->h.n = (uint16_t)mid;
    leaf_reprefix(l); /* each half may share a longer prefix */
    leaf_reprefix(r);
    r->next = l->next;
    r->prev = l;
    if (l->next != NULL)
        l->next->prev = r;
    l->next = r;
    inner_insert_at(parent, i, sep, first->key_len, &r->h);
    return 0;
}

static int split_inner(struct bt_inner *parent, unsigned i)
{
    struct bt_inner *c = as_inner(parent->child[i]);
    struct bt_inner *r = engine__calloc(1, sizeof(*r));
    if (r == NULL)
        return ENGINE_ENOMEM;
    unsigned mid = c->h.n / 2, moved = c->h.n - mid - 1;
    memcpy(r->key, &c->key[mid + 1], moved * sizeof(c->key[0]));
    memcpy(r->len, &c->len[mid + 1], moved * sizeof(c->len[0]));
    memcpy(r->child, &c->child[mid + 1], (moved + 1) * sizeof(c->child[0]));
    r->h.n = (uint16_t)moved;
    c->h.n = (uint16_t)mid;
    inner_reprefix(c);
    inner_reprefix(r);
    /* The middle separator moves up; its key buffer changes owner. */
    inner_insert_at(parent, i, c->key[mid], c->len[mid], &r->h);
    return 0;
}

static int split_child(struct bt_inner *parent, unsigned i)
{
    if (parent->child[i]->leaf)
        return split_leaf(parent, i);
    return split_inner(parent, i);
}

static int grow_root(struct engine__btree *t)
{
    struct bt_inner *root = engine__calloc(1, sizeof(*root));
    if (root == NULL)
        return ENGINE_ENOMEM;
    root->child[0] = t->root;
    int rc = split_child(root, 0);
    if (rc != 0) {
        free(root);
        return rc;
    }
    t->root = &root->h;
    t->height++;
    return 0;
}

int engine__btree_insert(struct engine__btree *t, struct engine__bt_item *it)
{
    struct probe p = make_probe(it->key, it->key_len);
    if (node_full(t->root)) {
        int rc = grow_root(t);
        if (rc != 0)
            return rc;
    }
    struct engine__bt_node *n = t->root;
    while (!n->leaf) {
        struct bt_inner *in = as_inner(n);
        unsigned i = inner_child(in, &p);
        if (node_full(in->child[i])) {
            int rc = split_child(in, i);
            if (rc != 0)
                return rc;
            if (engine_key_cmp(p.key, p.len, in->key[i], in->len[i]) >= 0)
                i++;
        }
        n = in->child[i];
    }
    struct engine__bt_leaf *l = as_leaf(n);
    bool eq;
    unsigned pos = leaf_lower(l, &p, &eq), cnt = l->h.n;
    assert(!eq);
    memmove(&l->pfx[pos + 1], &l->pfx[pos], (cnt - pos) * sizeof(l->pfx[0]));
    memmove(&l->items[pos + 1], &l->items[pos],
            (cnt - pos) * sizeof(l->items[0]));
    l->items[pos] = it;
    l->h.n = (uint16_t)(cnt + 1);
    if (pos == 0 || pos == cnt) /* a new end may shorten the prefix */
        leaf_reprefix(l);
    else
        l->pfx[pos] = load_pfx(it->key, it->key_len, l->h.lcp);
    t->size++;
    return 0;
}

/* Drops child j of an inner node with at least two children, together with
 * the separator on its left (or, for child 0, on its right). */
static void inner_remove_child(struct bt_inner *in, unsigned j)
{
    unsigned n = in->h.n, s = j > 0 ? j - 1 : 0;
    assert(n >= 1);
    free(in->key[s]);
    memmove(&in->pfx[s], &in->pfx[s + 1], (n - s - 1) * sizeof(in->pfx[0]));
    memmove(&in->key[s], &in->key[s + 1], (n - s - 1) * sizeof(in->key[0]));
    memmove(&in->len[s], &in->len[s + 1], (n - s - 1) * sizeof(in->len[0]));
    memmove(&in->child[j], &in->child[j + 1], (n - j) * sizeof(in->child[0]));
    in->h.n = (uint16_t)(n - 1);
}

static void leaf_unlink(struct engine__bt_leaf *l)
{
    if (l->prev != NULL)
        l->prev->next = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    free(l);
}

/* Moves every item of `from` to the end of `to` (its left neighbour). */
static void leaf_append(struct engine__bt_leaf *to,
                        const struct engine__bt_leaf *from)
{
    memcpy(&to->items[to->h.n], from->items,
           from->h.n * sizeof(from->items[0]));
    to->h.n = (uint16_t)(to->h.n + from->h.n);
    leaf_reprefix(to);
}

/* Frees a chain of single-child inner nodes ending in an empty leaf. */
static void chain_free(struct engine__bt_node *n)
{
    while (!n->leaf) {
        struct bt_inner *in = as_inner(n);
        assert(in->h.n == 0);
        n = in->child[0];
        free(in);
    }
    struct engine__bt_leaf *l = as_leaf(n);
    assert(l->h.n == 0);
    leaf_unlink(l);
}

/* After a removal from leaf `l`; path[0..depth) are its ancestors, root
 * first, and idx[i] the child taken at path[i]. */
static void leaf_rebalance(struct bt_inner **path, const unsigned *idx,
                           size_t depth, struct engine__bt_leaf *l)
{
    if (depth == 0)
        return; /* the root leaf may be empty */
    struct bt_inner *parent = path[depth - 1];
    unsigned j = idx[depth - 1];
    if (l->h.n == 0) {
        /* Cut the empty leaf, with the single-child inner nodes above it,
         * from the deepest ancestor that has other children.  With none,
         * the root collapse in the caller brings the tree down to it. */
        size_t d = depth;
        while (d > 0 && path[d - 1]->h.n == 0)
            d--;
        if (d > 0) {
            struct bt_inner *keep = path[d - 1];
            struct engine__bt_node *top = keep->child[idx[d - 1]];
            inner_remove_child(keep, idx[d - 1]);
            chain_free(top);
        }
        return;
    }
    if (l->h.n >= LEAF_CAP / 4 || parent->h.n == 0)
        return;
    if (j < parent->h.n) {
        struct engine__bt_leaf *r = as_leaf(parent->child[j + 1]);
        if (l->h.n + r->h.n <= LEAF_CAP * 3 / 4) {
            leaf_append(l, r);
            inner_remove_child(parent, j + 1);
            leaf_unlink(r);
            return;
        }
    }
    if (j > 0) {
        struct engine__bt_leaf *left = as_leaf(parent->child[j - 1]);
        if (left->h.n + l->h.n <= LEAF_CAP * 3 / 4) {
            leaf_append(left, l);
            inner_remove_child(parent, j);
            leaf_unlink(l);
        }
    }
}

struct engine__bt_item *engine__btree_remove(struct engine__btree *t,
                                             const void *key, size_t len)
{
    struct probe p = make_probe(key, len);
    struct bt_inner *path[MAX_HEIGHT];
    unsigned idx[MAX_HEIGHT];
    size_t depth = 0;
    struct engine__bt_node *n = t->root;
    while (!n->leaf) {
        assert(depth < MAX_HEIGHT);
        path[depth] = as_inner(n);
        idx[depth] = inner_child(path[depth], &p);
        n = path[depth]->child[idx[depth]];
        depth++;
    }
    struct engine__bt_leaf *l = as_leaf(n);
    bool eq;
    unsigned pos = leaf_lower(l, &p, &eq), cnt = l->h.n;
    if (!eq)
        return NULL;
    struct engine__bt_item *it = l->items[pos];
    memmove(&l->pfx[pos], &l->pfx[pos + 1],
            (cnt - pos - 1) * sizeof(l->pfx[0]));
    memmove(&l->items[pos], &l->items[pos + 1],
            (cnt - pos - 1) * sizeof(l->items[0]));
    l->h.n = (uint16_t)(cnt - 1);
    t->size--;
    leaf_rebalance(path, idx, depth, l);
    while (!t->root->leaf && t->root->n == 0) {
        struct bt_inner *old = as_inner(t->root);
        t->root = old->child[0];
        free(old);
        t->height--;
    }
    return it;
}

/* ---- cursors ------------------------------------------------------------ */

/* Moves forward to the first item at or after (leaf, pos), skipping the
 * empty leaves that removal may leave behind. */
static void settle_forward(struct engine__bt_cursor *c)
{
    while (c->leaf != NULL && c->pos >= c->leaf->h.n) {
        c->leaf = c->leaf->next;
        c->pos = 0;
    }
}

/* Moves to the last item of the nearest earlier non-empty leaf when
 * `before` (the cursor stands before the start of its leaf) or when the
 * current leaf is empty; leaf becomes NULL when there is none. */
static void settle_backward(struct engine__bt_cursor *c, bool before)
{
    while (c->leaf != NULL && (before || c->leaf->h.n == 0)) {
        c->leaf = c->leaf->prev;
        before = false;
        if (c->leaf != NULL && c->leaf->h.n > 0) {
            c->pos = c->leaf->h.n - 1u;
            return;
        }
    }
}

void engine__btree_seek_ge(const struct engine__btree *t, const void *key,
                           size_t len, struct engine__bt_cursor *c)
{
    struct probe p = make_probe(key, len);
    c->leaf = find_leaf(t, &p);
    bool eq;
    c->pos = leaf_lower(c->leaf, &p, &eq);
    settle_forward(c);
}

void engine__btree_seek_lt(const struct engine__btree *t, const void *key,
                           size_t len, struct engine__bt_cursor *c)
{
    struct probe p = make_probe(key, len);
    c->leaf = find_leaf(t, &p);
    bool eq;
    unsigned pos = leaf_lower(c->leaf, &p, &eq);
    if (pos > 0) {
        c->pos = pos - 1;
        return;
    }
    settle_backward(c, true);
}

void engine__btree_first(const struct engine__btree *t,
                         struct engine__bt_cursor *c)
{
    struct engine__bt_node *n = t->root;
    while (!n->leaf)
        n = as_inner(n)->child[0];
    c->leaf = as_leaf(n);
    c->pos = 0;
    settle_forward(c);
}

void engine__btree_last(const struct engine__btree *t,
                        struct engine__bt_cursor *c)
{
    struct engine__bt_node *n = t->root;
    while (!n->leaf) {
        struct bt_inner *in = as_inner(n);
        n = in->child[in->h.n];
    }
    c->leaf = as_leaf(n);
    if (c->leaf->h.n > 0)
        c->pos = c->leaf->h.n - 1u;
    else
        settle_backward(c, true);
}

struct engine__bt_item *engine__btree_item(const struct engine__bt_cursor *c)
{
    if (c->leaf == NULL)
        return NULL;
    return c->leaf->items[c->pos];
}

void engine__btree_next(struct engine__bt_cursor *c)
{
    if (c->leaf == NULL)
        return;
    c->pos++;
    settle_forward(c);
}

void engine__btree_prev(struct engine__bt_cursor *c)
{
    if (c->leaf == NULL)
        return;
    if (c->pos > 0) {
        c->pos--;
        return;
    }
    settle_backward(c, true);
}

/* ---- invariant check (tests) -------------------------------------------- */

struct check_state {
    const struct engine__bt_leaf *prev_leaf;
    const struct engine__bt_item *prev_item;
    size_t items;
    size_t leaf_depth;
    bool ok;
};

static bool within(const struct engine__bt_item *it, const uint8_t *lo,
                   size_t lo_len, bool has_lo, const uint8_t *hi, size_t hi_len,
                   bool has_hi)
{
    if (has_lo && engine_key_cmp(it->key, it->key_len, lo, lo_len) < 0)
        return false;
    if (has_hi && engine_key_cmp(it->key, it->key_len, hi, hi_len) >= 0)
        return false;
    return true;
}

/* Key k belongs to a node whose keys share lcp bytes with `common`, and
 * its stored word is the right one. */
static bool prefix_ok(const uint8_t *common, size_t lcp, const uint8_t *k,
                      size_t len, uint64_t word)
{
    return len >= lcp && (lcp == 0 || memcmp(common, k, lcp) == 0) &&
           word == load_pfx(k, len, lcp);
}

static void check_node(const struct engine__bt_node *n, size_t depth,
                       const uint8_t *lo, size_t lo_len, bool has_lo,
                       const uint8_t *hi, size_t hi_len, bool has_hi,
                       struct check_state *s)
{
    if (!s->ok)
        return;
    if (n->n > 0) {
        const uint8_t *first =
            n->leaf ? ((const struct engine__bt_leaf *)n)->items[0]->key
                    : ((const struct bt_inner *)n)->key[0];
        size_t k = n->lcp < INLINE_PREFIX ? n->lcp : INLINE_PREFIX;
        if (k > 0 && memcmp(n->prefix, first, k) != 0)
            s->ok = false;
    }
    if (n->leaf) {
        const struct engine__bt_leaf *l = (const void *)n;
        if (s->leaf_depth == 0)
            s->leaf_depth = depth;
        if (depth != s->leaf_depth || l->prev != s->prev_leaf ||
            (s->prev_leaf != NULL && s->prev_leaf->next != l))
            s->ok = false;
        for (unsigned i = 0; i < l->h.n && s->ok; i++) {
            const struct engine__bt_item *it = l->items[i];
            if (!prefix_ok(l->items[0]->key, l->h.lcp, it->key, it->key_len,
                           l->pfx[i]) ||
                !within(it, lo, lo_len, has_lo, hi, hi_len, has_hi) ||
                (s->prev_item != NULL &&
                 engine_key_cmp(s->prev_item->key, s->prev_item->key_len,
                                it->key, it->key_len) >= 0))
                s->ok = false;
            s->prev_item = it;
        }
        s->items += l->h.n;
        s->prev_leaf = l;
        return;
    }
    const struct bt_inner *in = (const void *)n;
    for (unsigned i = 0; i < in->h.n; i++) {
        if (!prefix_ok(in->key[0], in->h.lcp, in->key[i], in->len[i],
                       in->pfx[i]) ||
            (i > 0 && engine_key_cmp(in->key[i - 1], in->len[i - 1], in->key[i],
                                     in->len[i]) >= 0))
            s->ok = false;
    }
    for (unsigned i = 0; i <= in->h.n; i++) {
        bool clo = i > 0 ? true : has_lo, chi = i < in->h.n ? true : has_hi;
        const uint8_t *l = i > 0 ? in->key[i - 1] : lo;
        size_t ll = i > 0 ? in->len[i - 1] : lo_len;
        const uint8_t *h = i < in->h.n ? in->key[i] : hi;
        size_t hl = i < in->h.n ? in->len[i] : hi_len;
        check_node(in->child[i], depth + 1, l, ll, clo, h, hl, chi, s);
    }
}

bool engine__btree_check(const struct engine__btree *t)
{
    struct check_state s = {NULL, NULL, 0, 0, true};
    check_node(t->root, 1, NULL, 0, false, NULL, 0, false, &s);
    return s.ok && s.items == t->size && s.leaf_depth == t->height &&
           (s.prev_leaf == NULL || s.prev_leaf->next == NULL);
}
