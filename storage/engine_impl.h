/*
 * Private to storage/: what engine implementations share.
 *
 *  - The engine-neutral snapshot stream: a writer that buffers and
 *    checksums, and a reader that validates every field while it reads, so
 *    an implementation only walks its keys.  The format is in
 *    docs/storage.md; all integers are little-endian:
 *
 *      header   "MSKVSNP1" u32 format(=1) u32 flags(=0)
 *               i64 revision i64 compact_revision u64 applied_index
 *               u64 key_count
 *      key      u32 key_len u32 rev_count key[key_len]        (key_count x)
 *      rev      i64 mod i64 create i64 version i64 lease
 *               u32 value_len value[value_len]                (rev_count x)
 *      trailer  "MSKVEND1" u64 fnv1a64(every byte before the trailer)
 *
 *    Keys come in strictly ascending order; each key's revisions in
 *    ascending mod revision; version 0 marks a tombstone (create, lease and
 *    value empty).
 *
 *  - Request validation that does not depend on the implementation (the
 *    public wrappers in engine.c run it before calling the ops).
 */
#ifndef METASTORE_STORAGE_ENGINE_IMPL_H
#define METASTORE_STORAGE_ENGINE_IMPL_H

#include "storage/engine.h"

struct engine__snap_header {
    int64_t revision;
    int64_t compact_revision;
    uint64_t applied_index;
    uint64_t keys;
};

struct engine__snap_rev {
    int64_t mod_revision;
    int64_t create_revision;
    int64_t version; /* 0 = tombstone */
    int64_t lease;
    uint32_t value_len;
};

/* Writer: errors are sticky, so callers emit everything and check once in
 * engine__snapw_finish(). */
struct engine__snap_writer {
    engine_write_cb write;
    void *ctx;
    uint8_t *buf; /* ENGINE_SNAPSHOT_CHUNK bytes */
    size_t len;
    uint64_t hash;
    int err;
};

int engine__snapw_init(struct engine__snap_writer *w, engine_write_cb write,
                       void *ctx);
void engine__snapw_header(struct engine__snap_writer *w,
                          const struct engine__snap_header *h);
void engine__snapw_key(struct engine__snap_writer *w, const uint8_t *key,
                       size_t key_len, uint32_t revs);
/* value may be NULL when r->value_len is 0. */
void engine__snapw_rev(struct engine__snap_writer *w,
                       const struct engine__snap_rev *r, const void *value);
/* Writes the trailer, flushes, frees the buffer; returns the first error. */
int engine__snapw_finish(struct engine__snap_writer *w);

struct engine__snap_reader {
    engine_read_cb read;
    void *ctx;
    uint8_t *buf;
    size_t pos, len;
    uint64_t hash;
    struct engine__snap_header h;
    uint64_t keys_left;
    uint32_t revs_left;
    uint32_t revs_seen;
    uint8_t *key;   /* current key, ENGINE_MAX_KEY_BYTES */
    uint8_t *spare; /* the next key is read here, then swapped */
    size_t key_len;
    struct engine__snap_rev prev; /* previous rev of the current key */
};

int engine__snapr_init(struct engine__snap_reader *r, engine_read_cb read,
                       void *ctx);
/* Reads and validates the header.  ENGINE_ECORRUPT, or the callback's
 * code. */
int engine__snapr_header(struct engine__snap_reader *r,
                         struct engine__snap_header *h);
/* 1 with the next key (valid until the next call) and its revision count;
 * 0 after the last key, once the trailer and checksum are verified;
 * negative on error.  Every revision of the previous key must be read
 * first. */
int engine__snapr_next_key(struct engine__snap_reader *r, const uint8_t **key,
                           size_t *key_len, uint32_t *revs);
/* The next revision of the current key, validated against the previous
 * one; its value must then be read with engine__snapr_value(). */
int engine__snapr_next_rev(struct engine__snap_reader *r,
                           struct engine__snap_rev *rev);
int engine__snapr_value(struct engine__snap_reader *r, void *dst, size_t len);
void engine__snapr_free(struct engine__snap_reader *r);

/* Every allocation of the engines goes through these, so tests can inject
 * failures (engine_set_alloc_fail_hook); memory is released with free(). */
/* The fields of one key revision a txn compare looks at; `exists` false
 * for a missing key (version, create, mod and lease then count as 0). */
struct engine__cmp_subject {
    bool exists;
    const void *value;
    size_t value_len;
    int64_t version, create, mod, lease;
};

/* True when compare c holds for subject (etcd's rules: a VALUE compare on
 * a missing key is false). */
bool engine__cmp_holds(const struct engine_compare *c,
                       const struct engine__cmp_subject *subject);

void *engine__malloc(size_t n);
void *engine__calloc(size_t n, size_t size);
void *engine__realloc(void *p, size_t n);

/* True when a (key, range_end) pair is acceptable as a range. */
bool engine__valid_range(const void *key, size_t key_len, const void *range_end,
                         size_t range_end_len);

/* Interprets (key, range_end) for an ordered scan: *single when it names
 * one key; otherwise *to_end when it runs to the last key, else it ends
 * before range_end.  Shared so every engine reads the etcd rules alike. */
void engine__range_kind(size_t range_end_len, const void *range_end,
                        bool *single, bool *to_end);

/* History: engines push events (their bytes already in the arena) in any
 * order; engine__history_finish() sorts them by (revision, key), applies
 * the limit at a revision boundary and fills *out.  The vector is freed by
 * engine__evvec_free() in every case. */
struct engine__evvec {
    struct engine_event *v;
    size_t n, cap;
};

int engine__evvec_push(struct engine__evvec *v, const struct engine_event *ev);
void engine__evvec_free(struct engine__evvec *v);
int engine__history_finish(struct engine__evvec *v, int64_t limit,
                           int64_t current, struct engine_arena *a,
                           struct engine_history_result *out);
/* The checks every engine makes before reading history. */
int engine__history_check(int64_t start, int64_t current, int64_t compact);

#endif /* METASTORE_STORAGE_ENGINE_IMPL_H */
