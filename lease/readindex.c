/*
 * readindex.c - pending linearizable reads (ReadIndexManager): which read
 * waits for what, and answering each exactly once.
 *
 * Happy path: readindex_add() parks a read in a free slot (the slots, the
 * free list and an id -> slot hash table are allocated once, in
 * readindex_init()); the read gets an index from the lease
 * (readindex_fast_path) or from a ReadIndex round (take_batch hands all
 * reads that need one a single fresh ctx; on_read_state gives the answer to
 * every read of that batch); readindex_on_applied() answers every read
 * whose index the state machine has reached, and frees its slot.
 *
 * Failure modes: a full table refuses new reads (LEASE_EEXHAUSTED, the
 * client gets RESOURCE_EXHAUSTED); deadlines answer LEASE_ETIMEDOUT; a
 * step-down answers everything (or the reads of some paths) with the
 * caller's status; a client that left takes its reads out at once
 * (readindex_cancel_if); a round that could not start goes back for a
 * fresh ctx (readindex_unbatch); an answer for a ctx nobody waits for (an
 * old round, a retried batch) changes nothing.
 * Ids and ctxs only grow, so neither is ever mistaken for an older one.
 */
#include <stdlib.h>
#include <string.h>

#include "lease/readindex.h"

struct readindex__read {
    uint64_t id;
    uint64_t ctx; /* round it waits on; 0: none yet */
    raft_index index;
    uint64_t added_ns;
    uint64_t deadline_ns; /* 0: none */
    void *user;
    uint8_t path;
    bool used;
    bool has_index;
};

#define MAX_PENDING ((size_t)1 << 30)

const char *readindex_path_name(enum readindex_path path)
{
    static const char *const names[READINDEX_PATH_COUNT] = {
        "fast", "slow", "follower", "serializable", "log",
    };
    if ((unsigned)path >= READINDEX_PATH_COUNT)
        return "?";
    return names[path];
}

static bool needs_round(enum readindex_path p)
{
    return p == READINDEX_PATH_SLOW || p == READINDEX_PATH_FOLLOWER;
}

/* ---- the id -> slot table (open addressing, linear probing) ---------- */

static size_t home_of(const struct readindex_manager *rim, uint64_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 33) & rim->table_mask;
}

/* Position of id in the table, or SIZE_MAX. */
static size_t table_find(const struct readindex_manager *rim, uint64_t id)
{
    for (size_t i = home_of(rim, id);; i = (i + 1) & rim->table_mask) {
        uint32_t s = rim->table[i];
        if (s == 0)
            return SIZE_MAX;
        if (rim->reads[s - 1].id == id)
            return i;
    }
}

static void table_insert(struct readindex_manager *rim, uint64_t id,
                         uint32_t slot)
{
    size_t i = home_of(rim, id);
    while (rim->table[i] != 0)
        i = (i + 1) & rim->table_mask;
    rim->table[i] = slot + 1;
}

/* Removes position pos, shifting later entries of the probe run back so
 * that no tombstones are needed. */
static void table_remove(struct readindex_manager *rim, size_t pos)
{
    size_t mask = rim->table_mask, i = pos, j = pos;
    for (;;) {
        j = (j + 1) & mask;
        uint32_t s = rim->table[j];
        if (s == 0)
            break;
        size_t h = home_of(rim, rim->reads[s - 1].id);
        if (((j - h) & mask) >= ((j - i) & mask)) {
            rim->table[i] = s;
            i = j;
        }
    }
    rim->table[i] = 0;
}

static struct readindex__read *find(const struct readindex_manager *rim,
                                    uint64_t id)
{
    if (id == 0 || rim->table == NULL)
        return NULL;
    size_t pos = table_find(rim, id);
    return pos == SIZE_MAX ? NULL : &rim->reads[rim->table[pos] - 1];
}

/* ---- life cycle --------------------------------------------------------- */

int readindex_init(struct readindex_manager *rim, size_t max_pending,
                   uint64_t ctx_base)
{
    if (rim == NULL || max_pending == 0 || max_pending > MAX_PENDING)
        return LEASE_EINVAL;
    memset(rim, 0, sizeof(*rim));
    size_t tsize = 4;
    while (tsize < 2 * max_pending)
        tsize *= 2;
    rim->reads = calloc(max_pending, sizeof(*rim->reads));
    rim->free_list = calloc(max_pending, sizeof(*rim->free_list));
    rim->table = calloc(tsize, sizeof(*rim->table));
    if (rim->reads == NULL || rim->free_list == NULL || rim->table == NULL) {
        readindex_close(rim);
        return LEASE_ENOMEM;
    }
    rim->max_pending = max_pending;
    rim->table_mask = tsize - 1;
    /* A stack popped from the end: slot 0 is handed out first, so scans
     * stay short while few reads are pending. */
    for (size_t i = 0; i < max_pending; i++)
        rim->free_list[i] = (uint32_t)(max_pending - 1 - i);
    rim->n_free = max_pending;
    rim->last_ctx = ctx_base;
    for (unsigned p = 0; p < READINDEX_PATH_COUNT; p++)
        lease_hist_init(&rim->latency[p]);
    return 0;
}

void readindex_close(struct readindex_manager *rim)
{
    free(rim->reads);
    free(rim->free_list);
    free(rim->table);
    rim->reads = NULL;
    rim->free_list = NULL;
    rim->table = NULL;
    rim->n_pending = 0;
    rim->n_free = 0;
    rim->slots_hw = 0;
    rim->max_pending = 0;
}

uint64_t readindex_next_id(struct readindex_manager *rim)
{
    return ++rim->last_id;
}

/* ---- per-read state changes --------------------------------------------- */

static bool unbatched(const struct readindex__read *rd)
{
    return needs_round(rd->path) && rd->ctx == 0 && !rd->has_index;
}

static void give_index(struct readindex_manager *rim,
                       struct readindex__read *rd, raft_index index)
{
    if (unbatched(rd))
        rim->n_unbatched--;
    if (!rd->has_index)
        rim->n_indexed++;
    rd->has_index = true;
    rd->index = index;
    rd->ctx = 0;
    if (index > rim->applied)
        rim->stats.waits_for_apply++;
}

static void count_done(struct readindex_manager *rim, enum readindex_path p)
{
    rim->stats.completed++;
    switch (p) {
    case READINDEX_PATH_FAST:
        rim->stats.fast_path++;
        break;
    case READINDEX_PATH_SLOW:
        rim->stats.slow_path++;
        break;
    case READINDEX_PATH_FOLLOWER:
        rim->stats.forwarded++;
        break;
    case READINDEX_PATH_SERIALIZABLE:
        rim->stats.serializable++;
        break;
    default:
        rim->stats.log_reads++;
        break;
    }
}

/* Takes slot `rd` out of the manager (the caller has copied what it
 * needs). */
static void release(struct readindex_manager *rim, struct readindex__read *rd)
{
    if (unbatched(rd))
        rim->n_unbatched--;
    if (rd->has_index)
        rim->n_indexed--;
    size_t pos = table_find(rim, rd->id);
    if (pos != SIZE_MAX)
        table_remove(rim, pos);
    rd->used = false;
    rim->free_list[rim->n_free++] = (uint32_t)(rd - rim->reads);
    rim->n_pending--;
}

/* Answers read `rd` with `status` and frees it before the callback runs,
 * so the callback may call back into the manager. */
static void answer(struct readindex_manager *rim, struct readindex__read *rd,
                   int status, uint64_t now_ns, readindex_cb cb, void *cb_data)
{
    uint64_t id = rd->id;
    void *user = rd->user;
    raft_index index = rd->has_index ? rd->index : 0;
    enum readindex_path path = (enum readindex_path)rd->path;
    if (status == 0) {
        count_done(rim, path);
        lease_hist_record(&rim->latency[path],
                          now_ns > rd->added_ns ? now_ns - rd->added_ns : 0);
    }
    release(rim, rd);
    if (cb != NULL)
        cb(cb_data, id, user, status, index);
}

/* ---- the API --------------------------------------------------------------
 */

int readindex_add(struct readindex_manager *rim, uint64_t id,
                  enum readindex_path path, uint64_t now_ns,
                  uint64_t deadline_ns, void *user)
{
    if (id == 0 || (unsigned)path >= READINDEX_PATH_COUNT || rim->table == NULL)
        return LEASE_EINVAL;
    if (find(rim, id) != NULL)
        return LEASE_EEXIST;
    if (rim->n_free == 0) {
        rim->stats.rejected++;
        return LEASE_EEXHAUSTED;
    }
    uint32_t slot = rim->free_list[--rim->n_free];
    if (slot >= rim->slots_hw)
        rim->slots_hw = (size_t)slot + 1;
    struct readindex__read *rd = &rim->reads[slot];
    memset(rd, 0, sizeof(*rd));
    rd->id = id;
    rd->path = (uint8_t)path;
    rd->added_ns = now_ns;
    rd->deadline_ns = deadline_ns;
    rd->user = user;
    rd->used = true;
    table_insert(rim, id, slot);
    rim->n_pending++;
    rim->stats.added++;
    if (unbatched(rd))
        rim->n_unbatched++;
    return 0;
}

int readindex_fast_path(struct readindex_manager *rim, uint64_t id,
                        raft_index commit_index)
{
    struct readindex__read *rd = find(rim, id);
    if (rd == NULL)
        return LEASE_ENOTFOUND;
    if (unbatched(rd))
        rim->n_unbatched--;
    rd->path = READINDEX_PATH_FAST; /* no longer waits for a round */
    rd->ctx = 0;
    if (rd->has_index)
        rim->n_indexed--;
    rd->has_index = false;
    give_index(rim, rd, commit_index);
    return 0;
}

int readindex_set_index(struct readindex_manager *rim, uint64_t id,
                        raft_index index)
{
    struct readindex__read *rd = find(rim, id);
    if (rd == NULL)
        return LEASE_ENOTFOUND;
    if (rd->has_index) {
        rd->index = index;
        return 0;
    }
    give_index(rim, rd, index);
    return 0;
}

size_t readindex_take_batch(struct readindex_manager *rim, uint64_t *ctx,
                            uint64_t *ids, size_t cap)
{
    if (rim->n_unbatched == 0)
        return 0;
    uint64_t c = ++rim->last_ctx;
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw && rim->n_unbatched > 0; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (!rd->used || !unbatched(rd))
            continue;
        rd->ctx = c;
        rim->n_unbatched--;
        if (ids != NULL && n < cap)
            ids[n] = rd->id;
        n++;
    }
    *ctx = c;
    rim->stats.rounds++;
    rim->stats.round_reads += n;
    if (n > rim->stats.max_round_reads)
        rim->stats.max_round_reads = n;
    return n;
}

size_t readindex_on_read_state(struct readindex_manager *rim, uint64_t ctx,
                               raft_index index)
{
    size_t n = 0;
    if (ctx != 0) {
        for (size_t i = 0; i < rim->slots_hw; i++) {
            struct readindex__read *rd = &rim->reads[i];
            if (rd->used && !rd->has_index && rd->ctx == ctx) {
                give_index(rim, rd, index);
                n++;
            }
        }
    }
    if (n == 0)
        rim->stats.stale_read_states++;
    return n;
}

size_t readindex_on_applied(struct readindex_manager *rim, raft_index applied,
                            uint64_t now_ns, readindex_cb cb, void *cb_data)
{
    if (applied > rim->applied)
        rim->applied = applied;
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw && rim->n_indexed > 0; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && rd->has_index && rd->index <= applied) {
            answer(rim, rd, 0, now_ns, cb, cb_data);
            n++;
        }
    }
    return n;
}

size_t readindex_expire(struct readindex_manager *rim, uint64_t now_ns,
                        readindex_cb cb, void *cb_data)
{
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw && rim->n_pending > 0; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && rd->deadline_ns != 0 && rd->deadline_ns <= now_ns) {
            rim->stats.timeouts++;
            answer(rim, rd, LEASE_ETIMEDOUT, now_ns, cb, cb_data);
            n++;
        }
    }
    return n;
}

int readindex_cancel(struct readindex_manager *rim, uint64_t id)
{
    struct readindex__read *rd = find(rim, id);
    if (rd == NULL)
        return LEASE_ENOTFOUND;
    rim->stats.cancelled++;
    release(rim, rd);
    return 0;
}

size_t readindex_fail_all(struct readindex_manager *rim, int status,
                          readindex_cb cb, void *cb_data)
{
    return readindex_fail_paths(rim, READINDEX_PATHS_ALL, status, cb, cb_data);
}

size_t readindex_fail_paths(struct readindex_manager *rim, unsigned path_mask,
                            int status, readindex_cb cb, void *cb_data)
{
    if (status >= 0)
        status = LEASE_EUNAVAILABLE; /* never report success by mistake */
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw && rim->n_pending > 0; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && (path_mask & READINDEX_PATH_BIT(rd->path)) != 0) {
            rim->stats.failed++;
            answer(rim, rd, status, 0, cb, cb_data);
            n++;
        }
    }
    return n;
}

size_t readindex_retry_all(struct readindex_manager *rim)
{
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && needs_round(rd->path) && !rd->has_index &&
            rd->ctx != 0) {
            rd->ctx = 0;
            rim->n_unbatched++;
            n++;
        }
    }
    return n;
}

size_t readindex_unbatch(struct readindex_manager *rim, uint64_t ctx)
{
    size_t n = 0;
    for (size_t i = 0; ctx != 0 && i < rim->slots_hw; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && !rd->has_index && rd->ctx == ctx) {
            rd->ctx = 0;
            rim->n_unbatched++;
            n++;
        }
    }
    return n;
}

size_t readindex_cancel_if(struct readindex_manager *rim,
                           bool (*match)(void *match_arg, void *user),
                           void *match_arg, readindex_cb cb, void *cb_data)
{
    size_t n = 0;
    for (size_t i = 0; i < rim->slots_hw && rim->n_pending > 0; i++) {
        struct readindex__read *rd = &rim->reads[i];
        if (rd->used && match(match_arg, rd->user)) {
            rim->stats.cancelled++;
            answer(rim, rd, LEASE_ECANCELED, 0, cb, cb_data);
            n++;
        }
    }
    return n;
}

int readindex_lookup(const struct readindex_manager *rim, uint64_t id,
                     struct readindex_info *out)
{
    const struct readindex__read *rd = find(rim, id);
    if (rd == NULL)
        return LEASE_ENOTFOUND;
    out->path = (enum readindex_path)rd->path;
    out->ctx = rd->ctx;
    out->has_index = rd->has_index;
    out->index = rd->index;
    out->deadline_ns = rd->deadline_ns;
    out->user = rd->user;
    return 0;
}

void readindex_record(struct readindex_manager *rim, enum readindex_path path,
                      uint64_t latency_ns)
{
    if ((unsigned)path >= READINDEX_PATH_COUNT)
        return;
    count_done(rim, path);
    lease_hist_record(&rim->latency[path], latency_ns);
}

void readindex_stats(const struct readindex_manager *rim,
                     struct readindex_stats *out)
{
    *out = rim->stats;
    out->pending = rim->n_pending;
}

const struct lease_hist *readindex_latency(const struct readindex_manager *rim,
                                           enum readindex_path path)
{
    if ((unsigned)path >= READINDEX_PATH_COUNT)
        return NULL;
    return &rim->latency[path];
}
