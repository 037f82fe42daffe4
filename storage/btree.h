/*
 * Private to storage/: an in-memory B+tree that maps byte-string keys to
 * caller-owned items, ordered by engine_key_cmp().  The memory engine uses
 * it as its key index (docs/storage.md says why a B+tree).
 *
 * Items embed a struct engine__bt_item whose key bytes must stay valid and
 * unchanged while the item is in the tree; the tree never frees items.
 * Leaves are chained both ways for range scans in either direction.
 * Cursors are invalidated by any insert or remove.
 */
#ifndef METASTORE_STORAGE_BTREE_H
#define METASTORE_STORAGE_BTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine__bt_item {
    const uint8_t *key;
    size_t key_len;
};

struct engine__bt_node;
struct engine__bt_leaf;

struct engine__btree {
    struct engine__bt_node *root;
    size_t size;   /* items */
    size_t height; /* 1 = the root is a leaf */
};

struct engine__bt_cursor {
    struct engine__bt_leaf *leaf; /* NULL when past either end */
    unsigned pos;
};

/* An empty tree; ENGINE_ENOMEM. */
int engine__btree_init(struct engine__btree *t);
/* Frees the nodes; calls free_item (if not NULL) on every item first. */
void engine__btree_destroy(struct engine__btree *t,
                           void (*free_item)(struct engine__bt_item *));

/* The item with this key, or NULL. */
struct engine__bt_item *engine__btree_get(const struct engine__btree *t,
                                          const void *key, size_t len);

/* Adds an item whose key is not in the tree (the caller checked).  On
 * ENGINE_ENOMEM the tree holds the same items as before. */
int engine__btree_insert(struct engine__btree *t, struct engine__bt_item *it);

/* Removes and returns the item with this key, or returns NULL.  Never
 * allocates, so it cannot fail. */
struct engine__bt_item *engine__btree_remove(struct engine__btree *t,
                                             const void *key, size_t len);

/* Positions on the first item >= key (past the end if none). */
void engine__btree_seek_ge(const struct engine__btree *t, const void *key,
                           size_t len, struct engine__bt_cursor *c);
/* Positions on the last item < key (before the start if none). */
void engine__btree_seek_lt(const struct engine__btree *t, const void *key,
                           size_t len, struct engine__bt_cursor *c);
void engine__btree_first(const struct engine__btree *t,
                         struct engine__bt_cursor *c);
void engine__btree_last(const struct engine__btree *t,
                        struct engine__bt_cursor *c);
/* The item under the cursor, NULL when off either end. */
struct engine__bt_item *engine__btree_item(const struct engine__bt_cursor *c);
void engine__btree_next(struct engine__bt_cursor *c);
void engine__btree_prev(struct engine__bt_cursor *c);

/* Checks every structural invariant (order, separators, sibling links,
 * counts); for tests.  Returns true when the tree is sound. */
bool engine__btree_check(const struct engine__btree *t);

#endif /* METASTORE_STORAGE_BTREE_H */
