/*
 * memstore.c - an in-memory raft_storage.
 *
 * Holds the hard state, the newest snapshot (metadata and data) and the log
 * entries after it, each entry's data in its own allocation.  It is the
 * durable log of the unit tests and the simulator, and the in-memory image
 * of the server's memory mode (where the WAL provides the durability).
 *
 * Layout: ents[0] has index `offset + 1`; `offset` is the index of the
 * newest entry dropped by a snapshot or compaction and `offset_term` its
 * term (0/0 for a fresh log).  Failure modes: RAFT_ENOMEM on allocation
 * failure (the store is unchanged), RAFT_EINVAL for appends that would
 * leave a gap or rewrite compacted entries.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

struct raft_memstore {
    struct raft_hard_state hs;
    struct raft_snapshot_meta snap;
    uint8_t *snap_data;
    raft_index offset;
    raft_term offset_term;
    struct raft_entry *ents;
    size_t n;
    size_t cap;
};

struct raft_memstore *raft_memstore_create(void)
{
    return calloc(1, sizeof(struct raft_memstore));
}

static void drop_entries(struct raft_memstore *ms, size_t from)
{
    for (size_t i = from; i < ms->n; i++)
        free(ms->ents[i].data);
    ms->n = from;
}

void raft_memstore_destroy(struct raft_memstore *ms)
{
    if (ms == NULL)
        return;
    drop_entries(ms, 0);
    free(ms->ents);
    free(ms->snap_data);
    free(ms);
}

static raft_index ms_last(const struct raft_memstore *ms)
{
    return ms->offset + ms->n;
}

static int st_initial_state(void *data, struct raft_hard_state *hs,
                            struct raft_snapshot_meta *snap)
{
    struct raft_memstore *ms = data;
    if (hs != NULL)
        *hs = ms->hs;
    if (snap != NULL)
        *snap = ms->snap;
    return 0;
}

static raft_index st_first_index(void *data)
{
    struct raft_memstore *ms = data;
    return ms->offset + 1;
}

static raft_index st_last_index(void *data)
{
    return ms_last(data);
}

static int st_term(void *data, raft_index i, raft_term *out)
{
    struct raft_memstore *ms = data;
    if (i < ms->offset)
        return RAFT_ECOMPACTED;
    if (i > ms_last(ms))
        return RAFT_EUNAVAILABLE;
    *out =
        i == ms->offset ? ms->offset_term : ms->ents[i - ms->offset - 1].term;
    return 0;
}

static int st_entries(void *data, raft_index lo, raft_index hi,
                      uint64_t max_bytes, struct raft_entry *out, size_t *n)
{
    struct raft_memstore *ms = data;
    *n = 0;
    if (lo <= ms->offset)
        return RAFT_ECOMPACTED;
    if (hi > ms_last(ms) + 1 || lo > hi)
        return RAFT_EUNAVAILABLE;
    uint64_t bytes = 0;
    for (raft_index i = lo; i < hi; i++) {
        const struct raft_entry *e = &ms->ents[i - ms->offset - 1];
        if (*n > 0 && bytes + e->len > max_bytes)
            break;
        bytes += e->len;
        out[(*n)++] = *e;
    }
    return 0;
}

static int st_snapshot_meta(void *data, struct raft_snapshot_meta *out)
{
    struct raft_memstore *ms = data;
    *out = ms->snap;
    return 0;
}

static int st_snapshot_read(void *data, raft_index snap_index, uint64_t offset,
                            void *buf, size_t cap, size_t *n, bool *last)
{
    struct raft_memstore *ms = data;
    if (ms->snap.index == 0 || snap_index != ms->snap.index)
        return RAFT_ESNAPSHOT;
    if (offset > ms->snap.size)
        return RAFT_EINVAL;
    uint64_t left = ms->snap.size - offset;
    size_t k = left < cap ? (size_t)left : cap;
    if (k > 0)
        memcpy(buf, ms->snap_data + offset, k);
    *n = k;
    *last = offset + k == ms->snap.size;
    return 0;
}

struct raft_storage raft_memstore_storage(struct raft_memstore *ms)
{
    struct raft_storage st = {
        .data = ms,
        .initial_state = st_initial_state,
        .first_index = st_first_index,
        .last_index = st_last_index,
        .term = st_term,
        .entries = st_entries,
        .snapshot_meta = st_snapshot_meta,
        .snapshot_read = st_snapshot_read,
    };
    return st;
}

int raft_memstore_set_hard_state(struct raft_memstore *ms,
                                 const struct raft_hard_state *hs)
{
    if (ms == NULL || hs == NULL)
        return RAFT_EINVAL;
    ms->hs = *hs;
    return 0;
}

int raft_memstore_append(struct raft_memstore *ms, const struct raft_entry *e,
                         size_t n)
{
    if (ms == NULL || (n > 0 && e == NULL))
        return RAFT_EINVAL;
    if (n == 0)
        return 0;
    raft_index first = e[0].index;
    if (first <= ms->offset || first > ms_last(ms) + 1)
        return RAFT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (e[i].index != first + i || (e[i].len > 0 && e[i].data == NULL))
            return RAFT_EINVAL;
    size_t keep = (size_t)(first - ms->offset - 1);
    if (keep + n > ms->cap) {
        size_t cap = ms->cap ? ms->cap : 64;
        while (cap < keep + n)
            cap *= 2;
        struct raft_entry *v = realloc(ms->ents, cap * sizeof(*v));
        if (v == NULL)
            return RAFT_ENOMEM;
        ms->ents = v;
        ms->cap = cap;
    }
    /* Copy first so that a failed allocation leaves the store unchanged. */
    uint8_t **copies = calloc(n, sizeof(*copies));
    if (copies == NULL)
        return RAFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (e[i].len == 0)
            continue;
        copies[i] = malloc(e[i].len);
        if (copies[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(copies[j]);
            free(copies);
            return RAFT_ENOMEM;
        }
        memcpy(copies[i], e[i].data, e[i].len);
    }
    drop_entries(ms, keep);
    for (size_t i = 0; i < n; i++) {
        ms->ents[keep + i] = e[i];
        ms->ents[keep + i].data = copies[i];
    }
    ms->n = keep + n;
    free(copies);
    return 0;
}

int raft_memstore_set_snapshot(struct raft_memstore *ms,
                               const struct raft_snapshot_meta *meta,
                               const void *data)
{
    if (ms == NULL || meta == NULL || meta->index == 0 ||
        (meta->size > 0 && data == NULL) || meta->conf.n > RAFT_MAX_MEMBERS)
        return RAFT_EINVAL;
    if (meta->index < ms->snap.index)
        return RAFT_EINVAL;
    uint8_t *copy = NULL;
    if (meta->size > 0) {
        copy = malloc((size_t)meta->size);
        if (copy == NULL)
            return RAFT_ENOMEM;
        memcpy(copy, data, (size_t)meta->size);
    }
    free(ms->snap_data);
    ms->snap_data = copy;
    ms->snap = *meta;

    raft_term t = 0;
    bool have = st_term(ms, meta->index, &t) == 0 && t == meta->term &&
                meta->index >= ms->offset;
    if (have) {
        size_t drop = (size_t)(meta->index - ms->offset);
        for (size_t i = 0; i < drop; i++)
            free(ms->ents[i].data);
        memmove(ms->ents, ms->ents + drop, (ms->n - drop) * sizeof(*ms->ents));
        ms->n -= drop;
    } else {
        drop_entries(ms, 0);
    }
    ms->offset = meta->index;
    ms->offset_term = meta->term;
    return 0;
}

int raft_memstore_compact(struct raft_memstore *ms, raft_index upto)
{
    if (ms == NULL || upto > ms->snap.index)
        return RAFT_EINVAL;
    if (upto <= ms->offset)
        return 0;
    if (upto > ms_last(ms))
        return RAFT_EINVAL;
    raft_term t = ms->ents[upto - ms->offset - 1].term;
    size_t drop = (size_t)(upto - ms->offset);
    for (size_t i = 0; i < drop; i++)
        free(ms->ents[i].data);
    memmove(ms->ents, ms->ents + drop, (ms->n - drop) * sizeof(*ms->ents));
    ms->n -= drop;
    ms->offset = upto;
    ms->offset_term = t;
    return 0;
}

const void *raft_memstore_snapshot_data(const struct raft_memstore *ms)
{
    return ms != NULL ? ms->snap_data : NULL;
}
