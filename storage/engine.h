/*
 * MetaStore-C storage engine interface.
 *
 * One interface, several implementations (memory today, RocksDB later), all
 * with etcd v3 MVCC semantics:
 *
 *  - A global revision starts at 1 for an empty store.  Every write
 *    transaction that changes something (a put, a delete that deletes at
 *    least one key, a txn whose chosen branch does either) increments it by
 *    exactly one; all writes of one transaction share that revision.  A
 *    delete that deletes nothing, and Compact, leave it alone.
 *  - Every key has create_revision (revision of the put that started its
 *    current generation), mod_revision (revision of its last put), version
 *    (1 on creation, +1 per put; a delete ends the generation) and a lease.
 *  - Range reads the state at any revision >= the compact revision; older
 *    ones fail with ENGINE_ECOMPACTED, newer than current with
 *    ENGINE_EFUTURE_REV.
 *
 * Writes come from applied Raft entries.  Each write call carries the Raft
 * index of the entry that holds it; the engine stores that index atomically
 * with the data (engine_applied_index() returns it), so a restart replays
 * exactly the entries that were not yet applied.  Reads never change it.
 *
 * Memory ownership: every call that returns key/value bytes copies them into
 * a caller-owned struct engine_arena.  Results stay valid until the caller
 * resets or frees that arena; they are independent of later writes.  A
 * caller on the hot path keeps one arena and calls engine_arena_reset()
 * after each request, so steady-state reads do not call malloc at all.
 *
 * Threading: an engine is not thread-safe; one thread (the loop thread) owns
 * it.  Snapshot writing runs on the owning thread too.
 *
 * Byte strings are (pointer, length) and may contain NUL bytes.  A NULL
 * pointer is fine when the length is 0.
 */
#ifndef METASTORE_STORAGE_ENGINE_H
#define METASTORE_STORAGE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- errors ------------------------------------------------------------- */

/* Domain errors; they sit far from -errno values so both can travel in one
 * int.  engine_strerror() gives the text, engine_err_name() the symbol. */
#define ENGINE_ERRORS(X)                                                       \
    X(ENGINE_EINVAL, -2001, "invalid argument")                                \
    X(ENGINE_ENOMEM, -2002, "out of memory")                                   \
    X(ENGINE_ECOMPACTED, -2003, "required revision has been compacted")        \
    X(ENGINE_EFUTURE_REV, -2004, "required revision is a future revision")     \
    X(ENGINE_EDUPKEY, -2005, "duplicate key given in txn request")             \
    X(ENGINE_ETOOMANYOPS, -2006, "too many operations in txn request")         \
    X(ENGINE_ENOTFOUND, -2007, "key not found")                                \
    X(ENGINE_ECORRUPT, -2008, "snapshot data is corrupt")                      \
    X(ENGINE_EBROKEN, -2009, "engine failed in the middle of a write")         \
    X(ENGINE_EINDEX, -2010, "applied index went backwards")                    \
    X(ENGINE_EIO, -2011, "engine I/O error")                                   \
    X(ENGINE_ENOTSUP, -2012, "not supported by this engine")                   \
    X(ENGINE_ETOOBIG, -2013, "key or value too large")

enum {
#define ENGINE__ERR_ENUM(name, value, text) name = value,
    ENGINE_ERRORS(ENGINE__ERR_ENUM)
#undef ENGINE__ERR_ENUM
};

/* Text for an ENGINE_E* code or a negative errno; never NULL. */
const char *engine_strerror(int err);
/* Symbolic name ("ENGINE_ECOMPACTED") of a code, or "ENGINE_E?". */
const char *engine_err_name(int err);

/* Limits every engine enforces (etcd's defaults are in the same range). */
#define ENGINE_MAX_KEY_BYTES       (64u * 1024u)
#define ENGINE_MAX_VALUE_BYTES     (64u * 1024u * 1024u)
#define ENGINE_DEFAULT_MAX_TXN_OPS 128

/* ---- result memory ------------------------------------------------------ */

/* A bump allocator for results.  Zero-initialise (or engine_arena_init),
 * pass to reads and writes, engine_arena_reset() to reuse the memory,
 * engine_arena_free() when done.  The first chunk is kept on reset, so a
 * reused arena stops allocating once it has grown to the working size. */
struct engine_arena {
    struct engine__chunk *head; /* newest chunk first */
    unsigned char *cur;         /* free space in head */
    unsigned char *end;
};

void engine_arena_init(struct engine_arena *a);
void engine_arena_reset(struct engine_arena *a);
void engine_arena_free(struct engine_arena *a);
/* Aligned to 16 bytes; never NULL unless out of memory (len 0 included). */
void *engine_arena_alloc(struct engine_arena *a, size_t len);

/* ---- data --------------------------------------------------------------- */

struct engine_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* never NULL; empty when keys_only */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
};

enum engine_sort_order {
    ENGINE_SORT_NONE = 0, /* ascending by key */
    ENGINE_SORT_ASCEND = 1,
    ENGINE_SORT_DESCEND = 2,
};

enum engine_sort_target {
    ENGINE_SORT_KEY = 0,
    ENGINE_SORT_VERSION = 1,
    ENGINE_SORT_CREATE = 2,
    ENGINE_SORT_MOD = 3,
    ENGINE_SORT_VALUE = 4,
};

/*
 * Which keys: etcd semantics for (key, range_end).
 *   range_end_len == 0          the single key `key`
 *   range_end == "\0" (len 1)   every key >= key
 *   otherwise                   keys in [key, range_end); empty if
 *                               range_end <= key
 * key must not be empty (ENGINE_EINVAL), except that key "\0" with
 * range_end "\0" (or any range) simply starts at the smallest key.
 */
struct engine_range_req {
    const void *key;
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    int64_t limit;    /* 0 = no limit; negative is EINVAL */
    int64_t revision; /* 0 = current */
    bool keys_only;   /* values left empty */
    bool count_only;  /* no kvs, only count */
    enum engine_sort_order sort_order;
    enum engine_sort_target sort_target;
};

struct engine_range_result {
    struct engine_kv *kvs; /* in the arena */
    size_t kvs_len;
    int64_t count;    /* keys in the range at that revision, ignoring limit */
    bool more;        /* kvs_len < count because of the limit */
    int64_t revision; /* header revision: current revision of the store */
};

struct engine_put_req {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    int64_t lease;     /* 0 = no lease */
    bool prev_kv;      /* return the previous kv, if any */
    bool ignore_value; /* keep the current value; ENGINE_ENOTFOUND if none */
    bool ignore_lease; /* keep the current lease; ENGINE_ENOTFOUND if none */
};

struct engine_put_result {
    int64_t revision; /* the revision of this put */
    bool has_prev_kv;
    struct engine_kv prev_kv; /* valid if has_prev_kv */
};

struct engine_delete_req {
    const void *key; /* (key, range_end) as in engine_range_req */
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    bool prev_kv;
};

struct engine_delete_result {
    int64_t revision; /* revision after the delete */
    int64_t deleted;
    struct engine_kv *prev_kvs; /* when prev_kv was asked, in key order */
    size_t prev_kvs_len;
};

enum engine_cmp_target {
    ENGINE_CMP_VERSION = 0,
    ENGINE_CMP_CREATE = 1,
    ENGINE_CMP_MOD = 2,
    ENGINE_CMP_VALUE = 3,
    ENGINE_CMP_LEASE = 4,
};

enum engine_cmp_result {
    ENGINE_CMP_EQUAL = 0,
    ENGINE_CMP_GREATER = 1,
    ENGINE_CMP_LESS = 2,
    ENGINE_CMP_NOT_EQUAL = 3,
};

/*
 * One txn guard, as in etcd: "<target of key> <result> <operand>".  With a
 * range_end it must hold for every key in the range.  A missing key has
 * version, create, mod and lease 0; a VALUE compare on a missing key is
 * false.  Compares read the current revision.
 */
struct engine_compare {
    const void *key;
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    enum engine_cmp_target target;
    enum engine_cmp_result result;
    int64_t operand;   /* VERSION, CREATE, MOD, LEASE */
    const void *value; /* VALUE */
    size_t value_len;
};

enum engine_op_type {
    ENGINE_OP_RANGE = 0,
    ENGINE_OP_PUT = 1,
    ENGINE_OP_DELETE = 2,
};

struct engine_op {
    enum engine_op_type type;
    union {
        struct engine_range_req range;
        struct engine_put_req put;
        struct engine_delete_req del;
    } u;
};

/*
 * Compares, then the success ops if all hold, else the failure ops.  Ops
 * run in order and a Range sees the writes of earlier ops in the same txn.
 * Like etcd, the chosen branch may not write one key twice (two puts of a
 * key, or a put inside a deleted range): ENGINE_EDUPKEY.  At most
 * engine_options.max_txn_ops compares and ops per branch.
 */
struct engine_txn_req {
    const struct engine_compare *compares;
    size_t compares_len;
    const struct engine_op *success;
    size_t success_len;
    const struct engine_op *failure;
    size_t failure_len;
};

struct engine_op_result {
    enum engine_op_type type;
    union {
        struct engine_range_result range;
        struct engine_put_result put;
        struct engine_delete_result del;
    } u;
};

struct engine_txn_result {
    int64_t revision; /* revision after the txn */
    bool succeeded;
    struct engine_op_result *results; /* one per op of the chosen branch */
    size_t results_len;
};

struct engine_stats {
    uint64_t keys;            /* live keys at the current revision */
    uint64_t revisions;       /* stored key revisions, tombstones included */
    uint64_t approx_bytes;    /* keys + values + bookkeeping */
    int64_t revision;         /* current revision */
    int64_t compact_revision; /* 0 when never compacted */
    uint64_t applied_index;
};

/* ---- history (the changes a watch delivers) ----------------------------- */

enum engine_event_type {
    ENGINE_EVENT_PUT = 0,
    ENGINE_EVENT_DELETE = 1,
};

/*
 * One change of one key, as an etcd v3 mvccpb.Event.  PUT: kv is the key
 * as written (value, create/mod revision, version, lease).  DELETE: kv has
 * the key, mod_revision = the revision of the delete, an empty value and
 * create_revision, version and lease 0.  prev_kv is the key just before
 * the change (has_prev_kv false when it did not exist or was not asked).
 */
struct engine_event {
    enum engine_event_type type;
    struct engine_kv kv;
    bool has_prev_kv;
    struct engine_kv prev_kv;
};

struct engine_history_req {
    const void *key; /* (key, range_end) as in engine_range_req */
    size_t key_len;
    const void *range_end;
    size_t range_end_len;
    int64_t start_revision; /* >= 1: first revision wanted */
    int64_t limit;          /* 0 = no limit; see engine_history() */
    bool prev_kv;
};

struct engine_history_result {
    struct engine_event *events; /* in the arena */
    size_t events_len;
    bool more;             /* stopped because of the limit */
    int64_t next_revision; /* where to continue; current revision + 1 when
                              !more */
    int64_t revision;      /* current revision of the store */
};

/* ---- snapshots ---------------------------------------------------------- */

/* Receives the next piece of a snapshot stream (at most
 * ENGINE_SNAPSHOT_CHUNK bytes).  Returns 0, or a negative code that aborts
 * the snapshot and is passed back to the caller. */
typedef int (*engine_write_cb)(void *ctx, const void *buf, size_t len);
/* Fills up to `cap` bytes of the stream; returns how many (0 = end of
 * stream), or a negative code that aborts the restore and is passed back. */
typedef ssize_t (*engine_read_cb)(void *ctx, void *buf, size_t cap);

#define ENGINE_SNAPSHOT_CHUNK (64u * 1024u)

/* ---- the engine --------------------------------------------------------- */

struct engine;

/* Every implementation fills one of these; the wrappers below check
 * arguments that do not depend on the implementation before calling. */
struct engine_ops {
    const char *name;
    int (*range)(struct engine *e, const struct engine_range_req *req,
                 struct engine_arena *a, struct engine_range_result *out);
    int (*put)(struct engine *e, uint64_t applied_index,
               const struct engine_put_req *req, struct engine_arena *a,
               struct engine_put_result *out);
    int (*delete_range)(struct engine *e, uint64_t applied_index,
                        const struct engine_delete_req *req,
                        struct engine_arena *a,
                        struct engine_delete_result *out);
    int (*txn)(struct engine *e, uint64_t applied_index,
               const struct engine_txn_req *req, struct engine_arena *a,
               struct engine_txn_result *out);
    int (*compact)(struct engine *e, uint64_t applied_index, int64_t revision);
    int (*mark_applied)(struct engine *e, uint64_t applied_index);
    void (*stats)(struct engine *e, struct engine_stats *out);
    int (*snapshot_save)(struct engine *e, engine_write_cb write, void *ctx);
    int (*snapshot_restore)(struct engine *e, engine_read_cb read, void *ctx);
    void (*close)(struct engine *e);
    /* Added last so older initialisers stay valid; see engine_history(). */
    int (*history)(struct engine *e, const struct engine_history_req *req,
                   struct engine_arena *a, struct engine_history_result *out);
};

struct engine {
    const struct engine_ops *ops;
    uint64_t applied_index; /* kept current by every implementation */
    int64_t revision;       /* current revision, kept current likewise */
    int max_txn_ops;
};

struct engine_options {
    int max_txn_ops;  /* 0 = ENGINE_DEFAULT_MAX_TXN_OPS */
    const char *path; /* directory, for engines that persist (RocksDB) */
};

/*
 * Opens an empty memory engine (revision 1, applied index 0).  opts may be
 * NULL.  *out must be released with engine_close().  ENGINE_ENOMEM.
 */
int engine_memory_open(const struct engine_options *opts, struct engine **out);

/* Releases everything; results already in arenas stay valid. */
void engine_close(struct engine *e);

/*
 * Reads.  ENGINE_EINVAL (empty key, negative limit or revision, bad sort
 * enum), ENGINE_ECOMPACTED, ENGINE_EFUTURE_REV, ENGINE_ENOMEM (arena).
 * On error *out is unspecified and nothing changed in the engine.
 */
int engine_range(struct engine *e, const struct engine_range_req *req,
                 struct engine_arena *a, struct engine_range_result *out);

/*
 * Writes.  applied_index is the Raft index of the entry carrying the
 * request; it must be >= engine_applied_index() (else ENGINE_EINDEX and
 * nothing changes).  Rejections that every replica makes the same way
 * (ENGINE_EINVAL, ENGINE_ENOTFOUND, ENGINE_EDUPKEY, ENGINE_ETOOMANYOPS,
 * ENGINE_ECOMPACTED, ENGINE_EFUTURE_REV, ENGINE_ETOOBIG) change no data
 * but still record applied_index: the entry has been applied, its outcome
 * is the error.  ENGINE_ENOMEM means the write was not applied at all
 * (data and applied index unchanged; the entry may be retried).  When
 * memory runs out after a txn has already changed data, the call returns
 * ENGINE_EBROKEN and so does every later call until a snapshot is
 * restored: the owner must rebuild the engine from a snapshot and the log.
 * A broken engine answers ENGINE_EBROKEN to every call but
 * engine_snapshot_restore(), engine_stats() and engine_close().
 */
int engine_put(struct engine *e, uint64_t applied_index,
               const struct engine_put_req *req, struct engine_arena *a,
               struct engine_put_result *out);
int engine_delete_range(struct engine *e, uint64_t applied_index,
                        const struct engine_delete_req *req,
                        struct engine_arena *a,
                        struct engine_delete_result *out);
int engine_txn(struct engine *e, uint64_t applied_index,
               const struct engine_txn_req *req, struct engine_arena *a,
               struct engine_txn_result *out);

/*
 * Forgets every version older than `revision` that is superseded at
 * `revision`; later reads below it fail with ENGINE_ECOMPACTED.  Memory is
 * freed at once.  ENGINE_ECOMPACTED if revision <= the compact revision,
 * ENGINE_EFUTURE_REV if it is above the current revision.  Does not change
 * the revision.  Runs in O(keys).
 */
int engine_compact(struct engine *e, uint64_t applied_index, int64_t revision);

/* Records an applied entry that carries no key-value write (an empty or
 * configuration entry).  ENGINE_EINDEX if it goes backwards. */
int engine_mark_applied(struct engine *e, uint64_t applied_index);

static inline uint64_t engine_applied_index(const struct engine *e)
{
    return e->applied_index;
}

static inline int64_t engine_revision(const struct engine *e)
{
    return e->revision;
}

static inline const char *engine_name(const struct engine *e)
{
    return e->ops->name;
}

void engine_stats(struct engine *e, struct engine_stats *out);

/*
 * Streams the whole state (every stored revision since the compact
 * revision, the revision counters and the applied index) to `write`, in
 * pieces of at most ENGINE_SNAPSHOT_CHUNK bytes, ending with a checksum.
 * The format is engine-neutral (docs/storage.md), so any engine restores
 * any other's snapshot.  Returns 0, or the callback's negative code.
 */
int engine_snapshot_save(struct engine *e, engine_write_cb write, void *ctx);

/*
 * Replaces the engine's whole state with a snapshot read from `read`.  The
 * stream is validated while it is read; on any error (ENGINE_ECORRUPT,
 * ENGINE_ENOMEM, the callback's code) the engine keeps its old state.
 * Reads after restore at any revision >= the snapshot's compact revision
 * answer as the source engine did.  Stops reading after the trailer.
 */
int engine_snapshot_restore(struct engine *e, engine_read_cb read, void *ctx);

/*
 * The changes to keys of (key, range_end) in revisions
 * [start_revision, current], in revision order; the events of one revision
 * (one txn) come in key order (the engines keep no sub-revision, so a
 * txn's op order is not recorded; etcd delivers op order).  With limit > 0
 * the result stops at a revision boundary after at least `limit` events
 * (a revision is never split, so it may hold more than `limit` events);
 * then `more` is true and next_revision is the revision to ask for next.
 *
 * ENGINE_EINVAL (bad range, start_revision < 1, negative limit),
 * ENGINE_ECOMPACTED when start_revision <= the compact revision (as etcd:
 * a watch from a compacted revision fails), ENGINE_EFUTURE_REV when
 * start_revision > current revision + 1, ENGINE_ENOMEM, ENGINE_EIO.
 * Cost: both engines walk every stored revision of every key in the range
 * (O(keys in range x history)) and sort the events; fine for catch-up of
 * a watcher, not for a hot path.  Results live in the arena.
 */
int engine_history(struct engine *e, const struct engine_history_req *req,
                   struct engine_arena *a, struct engine_history_result *out);

/* ---- testing ---------------------------------------------------------- */

/*
 * For tests only: before each allocation the storage engines make (index
 * nodes, records, values, arena chunks, snapshot buffers), `fail` is asked
 * whether to pretend the allocation failed.  NULL removes the hook.
 * Process-wide and not thread-safe: set it while no engine is in use on
 * another thread.
 */
typedef bool (*engine_alloc_fail_cb)(void *ctx, size_t len);
void engine_set_alloc_fail_hook(engine_alloc_fail_cb fail, void *ctx);

/* ---- key helpers (shared by engines and the server) --------------------- */

/* memcmp order, shorter first on a common prefix. */
int engine_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len);

/* True when (key) lies in the etcd-style range (start, end) described in
 * engine_range_req (end_len 0 = exactly start). */
bool engine_key_in_range(const void *key, size_t key_len, const void *start,
                         size_t start_len, const void *end, size_t end_len);

/* Writes the etcd "prefix" range end for `prefix` (the prefix with its last
 * byte that is not 0xff incremented, the rest cut) into buf (cap >=
 * prefix_len) and returns its length; for an all-0xff or empty prefix
 * returns 1 with buf = "\0" (every key from prefix on). */
size_t engine_prefix_end(const void *prefix, size_t prefix_len, uint8_t *buf);

#endif /* METASTORE_STORAGE_ENGINE_H */
