/*
 * linearize.c - the linearizability checker declared in linearize.h.
 *
 * Happy path, per key (keys are independent, so each is checked alone, in
 * ascending key order):
 *   1. Drop what cannot matter.  A read with an unknown outcome constrains
 *      nothing.  A pending write (ret == LIN_PENDING) that no completed read
 *      could have observed is invisible: if it took effect at all, the next
 *      operation after it in any linearization is a write or nothing, so
 *      leaving it out changes no read.  More precisely, a pending write of v
 *      that is ordered after every read of v is invisible, so it is enough
 *      to let it take effect before the last read of v returns or never.  A
 *      kept pending write therefore gets a synthetic return just after the
 *      latest return of a read of v, and may be dropped when the search
 *      reaches that return (the "or never").  This bounds how long pending
 *      writes stay candidates, which is what keeps histories full of
 *      timed-out writes cheap to check.
 *   2. Sort the call and return events.  At equal times returns come first:
 *      an operation that returned at t precedes one called at t (the
 *      conservative reading).  An operation with ret == call is instantaneous;
 *      its return sorts after the calls at that time so that it never comes
 *      before its own call.  ret < call is treated as ret == call.
 *   3. Quick necessary conditions on each read, which name the exact
 *      culprit when they fail: the value was never written; every write of
 *      the value began after the read returned; or some write returned
 *      before the read began (or some read returned before it began, and
 *      every write of the value that read saw began after), and every
 *      write of the value (the initial absent value counts as a write of 0
 *      at the beginning of time) had returned before that write began.
 *   4. Wing & Gong's search with Lowe's memoization (as in Porcupine): the
 *      events form a doubly linked list; walking from its head, try each
 *      call whose operation the register allows, remove ("lift") the
 *      operation and start again from the head; reaching a return means
 *      that operation had to go first, so backtrack (or, for a pending
 *      write, drop it).  Configurations (set of done operations, register
 *      value) already explored are kept in a hash set and not explored
 *      twice.  The set of done operations is identified by two 64-bit
 *      Zobrist hashes kept up to date by XOR: a false "already seen" needs
 *      a 128-bit collision, which we accept.  A read of the current value
 *      that may go next is taken without trying alternatives (see
 *      find_free_read()), so only the order of writes is searched.
 *
 * Failure modes: a key with no linearization sets linearizable = false and
 * describes the culprit (step 3) or the longest prefix the search could
 * order and the operation that could not come next (step 4).  A search
 * that runs out of budget sets exhausted.  Allocation failure returns -1.
 * The memo table stops growing at CACHE_MAX_SLOTS; past that the search
 * goes on without remembering new configurations (slower, still correct).
 */
#include "test/sim/linearize.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_BUDGET  10000000ULL
#define CACHE_MIN_SLOTS 1024u
#define CACHE_MAX_SLOTS (1u << 22) /* 96 MiB of memo at most */
#define NO_OP           UINT32_MAX

/* Event ranks at equal times: returns, then calls, then the returns of
 * instantaneous operations (ret == call). */
enum { RANK_RET = 0, RANK_CALL = 1, RANK_RET_INSTANT = 2 };

struct event {
    uint64_t t;
    uint8_t rank;
    uint8_t synthetic; /* a kept pending write's return, just after a read's */
    uint8_t is_ret;
    uint32_t op; /* local index */
};

/* One operation of the key under check. */
struct kop {
    const struct lin_op *op;
    bool pending;             /* a write with unknown outcome */
    bool kept;                /* takes part in the search */
    uint32_t call_ev, ret_ev; /* positions in the sorted events */
    uint64_t z1, z2;          /* Zobrist keys of this operation */
};

/* Per distinct written value: what the read checks need. */
struct wval {
    uint64_t value;
    uint32_t first_call_op; /* write of the value with the earliest call */
    uint32_t last_ret_op;   /* kept write with the latest return, or NO_OP */
};

struct centry {
    uint64_t h1, h2, state;
};

struct cache {
    struct centry *slots;
    size_t cap, used;
};

struct frame {
    uint32_t op;
    uint32_t prev_writer;
    uint64_t prev_state;
    bool forced; /* no other choice to try at the configuration below */
};

struct key_check {
    const struct lin_op *ops; /* the caller's array */
    uint64_t key;
    uint32_t n; /* operations of this key (pending reads excluded) */
    struct kop *k;
    struct event *ev;
    uint32_t n_ev;
    uint32_t *next, *prev; /* list over events; sentinel at n_ev */
    struct wval *wv;
    uint32_t n_wv;
    struct frame *stack;
    struct cache cache;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void appendf(struct lin_result *res, const char *fmt, ...)
{
    size_t off = strlen(res->msg);
    va_list ap;

    if (off + 1 >= sizeof(res->msg)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(res->msg + off, sizeof(res->msg) - off, fmt, ap);
    va_end(ap);
}

/* "client 3 read -> 5 at [10, 20]", "client 1 write 7 at [0, pending]". */
static void append_op(struct lin_result *res, const struct lin_op *op)
{
    appendf(res, "client %" PRIu32 " ", op->client);
    if (op->kind == LIN_READ) {
        appendf(res, "read -> %" PRIu64 "%s", op->value,
                op->value == 0 ? " (absent)" : "");
    } else if (op->value == 0) {
        appendf(res, "delete");
    } else {
        appendf(res, "write %" PRIu64, op->value);
    }
    appendf(res, " at [%" PRIu64 ", ", op->call);
    if (op->ret == LIN_PENDING) {
        appendf(res, "pending]");
    } else {
        appendf(res, "%" PRIu64 "]", op->ret);
    }
}

static uint64_t ret_time(const struct lin_op *op)
{
    return op->ret < op->call ? op->call : op->ret;
}

static uint8_t ret_rank(const struct lin_op *op)
{
    return ret_time(op) == op->call ? RANK_RET_INSTANT : RANK_RET;
}

static int event_cmp(const void *pa, const void *pb)
{
    const struct event *a = pa, *b = pb;

    if (a->t != b->t) {
        return a->t < b->t ? -1 : 1;
    }
    if (a->rank != b->rank) {
        return a->rank < b->rank ? -1 : 1;
    }
    if (a->synthetic != b->synthetic) {
        return a->synthetic < b->synthetic ? -1 : 1;
    }
    if (a->op != b->op) {
        return a->op < b->op ? -1 : 1;
    }
    return (int)a->is_ret - (int)b->is_ret;
}

/* ---- the memo table ----------------------------------------------------- */

static size_t cache_slot(const struct cache *c, uint64_t h1, uint64_t h2,
                         uint64_t state)
{
    return (size_t)(mix64(h1 ^ mix64(h2 ^ mix64(state)))) & (c->cap - 1);
}

static void cache_put(struct cache *c, const struct centry *e)
{
    size_t i = cache_slot(c, e->h1, e->h2, e->state);

    while (c->slots[i].h1 != 0 || c->slots[i].h2 != 0 ||
           c->slots[i].state != 0) {
        i = (i + 1) & (c->cap - 1);
    }
    c->slots[i] = *e;
    c->used++;
}

static int cache_grow(struct cache *c)
{
    struct cache bigger;
    size_t i;

    bigger.cap = c->cap ? c->cap * 2 : CACHE_MIN_SLOTS;
    bigger.used = 0;
    bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
    if (bigger.slots == NULL) {
        return -1;
    }
    for (i = 0; i < c->cap; i++) {
        const struct centry *e = &c->slots[i];
        if (e->h1 != 0 || e->h2 != 0 || e->state != 0) {
            cache_put(&bigger, e);
        }
    }
    free(c->slots);
    *c = bigger;
    return 0;
}

/* Records a configuration; *added tells whether it was new.  An all-zero
 * entry marks an empty slot: a configuration hashing to it is never
 * remembered, which costs time, not correctness. */
static int cache_add(struct cache *c, uint64_t h1, uint64_t h2, uint64_t state,
                     bool *added)
{
    struct centry e = {h1, h2, state};
    size_t i;

    if (c->cap == 0 || (c->used + 1) * 2 > c->cap) {
        if (c->cap < CACHE_MAX_SLOTS && cache_grow(c) != 0) {
            return -1;
        }
    }
    i = cache_slot(c, h1, h2, state);
    while (c->slots[i].h1 != 0 || c->slots[i].h2 != 0 ||
           c->slots[i].state != 0) {
        if (c->slots[i].h1 == h1 && c->slots[i].h2 == h2 &&
            c->slots[i].state == state) {
            *added = false;
            return 0;
        }
        i = (i + 1) & (c->cap - 1);
    }
    *added = true;
    if ((c->used + 1) * 4 <= c->cap * 3) { /* full table: stop remembering */
        c->slots[i] = e;
        c->used++;
    }
    return 0;
}

/* ---- preparing one key -------------------------------------------------- */

static int wval_cmp(const void *pa, const void *pb)
{
    const struct wval *a = pa, *b = pb;

    if (a->value != b->value) {
        return a->value < b->value ? -1 : 1;
    }
    return 0;
}

static struct wval *find_wval(const struct key_check *kc, uint64_t value)
{
    struct wval probe = {.value = value};

    if (kc->n_wv == 0) {
        return NULL;
    }
    return bsearch(&probe, kc->wv, kc->n_wv, sizeof(*kc->wv), wval_cmp);
}

/* Fills kc->wv: one entry per distinct written value. */
static int collect_written_values(struct key_check *kc)
{
    uint32_t i, n = 0;

    kc->wv = malloc((size_t)kc->n * sizeof(*kc->wv) + 1);
    if (kc->wv == NULL) {
        return -1;
    }
    for (i = 0; i < kc->n; i++) {
        if (kc->k[i].op->kind != LIN_READ) {
            kc->wv[n].value = kc->k[i].op->value;
            kc->wv[n].first_call_op = NO_OP;
            kc->wv[n].last_ret_op = NO_OP;
            n++;
        }
    }
    qsort(kc->wv, n, sizeof(*kc->wv), wval_cmp);
    kc->n_wv = 0;
    for (i = 0; i < n; i++) {
        if (kc->n_wv == 0 || kc->wv[kc->n_wv - 1].value != kc->wv[i].value) {
            kc->wv[kc->n_wv++] = kc->wv[i];
        }
    }
    return 0;
}

/*
 * Decides which pending writes are kept and where their synthetic return
 * goes: just after the latest return event of a read of the same value.
 * Returns the number of events written to kc->ev.
 */
static uint32_t build_events(struct key_check *kc)
{
    uint32_t i, n_ev = 0;
    struct event *last_read; /* per written value, indexed like kc->wv */

    /* Borrow the tail of kc->ev as scratch: one slot per written value. */
    last_read = kc->ev + 2 * (size_t)kc->n;
    for (i = 0; i < kc->n_wv; i++) {
        last_read[i].rank = UINT8_MAX; /* none yet */
    }
    for (i = 0; i < kc->n; i++) {
        const struct lin_op *op = kc->k[i].op;
        struct wval *w;
        struct event r = {ret_time(op), ret_rank(op), 0, 1, i};
        if (op->kind != LIN_READ || (w = find_wval(kc, op->value)) == NULL) {
            continue;
        }
        struct event *lr = &last_read[w - kc->wv];
        if (lr->rank == UINT8_MAX || event_cmp(&r, lr) > 0) {
            *lr = r;
        }
    }
    for (i = 0; i < kc->n; i++) {
        struct kop *k = &kc->k[i];
        struct event call = {k->op->call, RANK_CALL, 0, 0, i};
        kc->ev[n_ev++] = call;
        k->kept = true;
        if (!k->pending) {
            struct event r = {ret_time(k->op), ret_rank(k->op), 0, 1, i};
            kc->ev[n_ev++] = r;
            continue;
        }
        struct event *lr = &last_read[find_wval(kc, k->op->value) - kc->wv];
        if (lr->rank == UINT8_MAX || event_cmp(lr, &call) < 0) {
            k->kept = false; /* invisible: no read could have seen it */
            continue;
        }
        struct event r = {lr->t, lr->rank, 1, 1, i};
        kc->ev[n_ev++] = r;
    }
    return n_ev;
}

/* Sorts the events, numbers them, links the kept ones into the list and
 * records, per written value, its write with the earliest call and its kept
 * write with the latest return. */
static void order_events(struct key_check *kc)
{
    uint32_t i, tail = kc->n_ev;

    qsort(kc->ev, kc->n_ev, sizeof(*kc->ev), event_cmp);
    for (i = 0; i < kc->n_ev; i++) {
        struct kop *k = &kc->k[kc->ev[i].op];
        if (kc->ev[i].is_ret) {
            k->ret_ev = i;
        } else {
            k->call_ev = i;
        }
        if (!k->kept) {
            continue;
        }
        kc->prev[i] = tail;
        kc->next[tail] = i;
        tail = i;
    }
    kc->next[tail] = kc->n_ev;
    kc->prev[kc->n_ev] = tail;
    for (i = 0; i < kc->n; i++) {
        struct kop *k = &kc->k[i];
        k->z1 = mix64(2 * (uint64_t)i + 1);
        k->z2 = mix64(~(2 * (uint64_t)i));
        if (k->op->kind == LIN_READ) {
            continue;
        }
        struct wval *w = find_wval(kc, k->op->value);
        if (w->first_call_op == NO_OP ||
            kc->k[w->first_call_op].call_ev > k->call_ev) {
            w->first_call_op = i;
        }
        if (k->kept && (w->last_ret_op == NO_OP ||
                        kc->k[w->last_ret_op].ret_ev < k->ret_ev)) {
            w->last_ret_op = i;
        }
    }
}

/* ---- step 3: quick necessary conditions --------------------------------- */

static void set_failed(struct lin_result *res, uint64_t key, bool exhausted)
{
    res->linearizable = false;
    res->exhausted = exhausted;
    res->bad_key = key;
    res->msg[0] = '\0';
}

static void report_read(struct key_check *kc, struct lin_result *res,
                        const struct lin_op *read)
{
    set_failed(res, kc->key, false);
    appendf(res, "key %" PRIu64 ": ", kc->key);
    append_op(res, read);
}

/*
 * The earliest point at which the source of op's value can have begun: a
 * completed write is its own source; a read's source is some write of the
 * value it saw, or the initial state when it saw 0 (NO_OP then: no bound).
 */
static uint32_t source_floor(const struct key_check *kc, uint32_t op)
{
    const struct kop *k = &kc->k[op];

    if (k->op->kind != LIN_READ) {
        return k->pending ? NO_OP : k->call_ev;
    }
    const struct wval *w = find_wval(kc, k->op->value);
    if (k->op->value == 0 || w == NULL) {
        return NO_OP;
    }
    return kc->k[w->first_call_op].call_ev;
}

static void explain_overwritten(struct key_check *kc, struct lin_result *res,
                                const struct lin_op *read, uint32_t before,
                                uint32_t last)
{
    const struct lin_op *b = kc->k[before].op;

    report_read(kc, res, read);
    appendf(res, ", but ");
    append_op(res, b);
    appendf(res, " had returned before the read began");
    if (last == NO_OP) {
        /* Only reachable for 0: a value never written is caught earlier. */
        appendf(res, " and no delete could have followed it");
        return;
    }
    if (b->kind == LIN_READ) {
        appendf(res, ", and every write of %" PRIu64 " (the first: ", b->value);
        append_op(res, kc->k[find_wval(kc, b->value)->first_call_op].op);
        appendf(res, ") began after");
    } else {
        appendf(res, ", and it began after");
    }
    if (read->value == 0) {
        appendf(res, " the last delete, ");
    } else {
        appendf(res, " the last write of %" PRIu64 ", ", read->value);
    }
    append_op(res, kc->k[last].op);
    appendf(res, ", had returned");
}

/*
 * Walks the events in order, keeping among the operations already returned
 * the one whose value's source began latest (see source_floor()); at each
 * read's call, checks the three conditions of the file comment, the third
 * one extended from writes to reads: if a returned read saw u and every
 * write of u began after every write of v had returned, a later read
 * cannot see v.  Returns true if one failed (res filled).
 */
static bool precheck_reads(struct key_check *kc, struct lin_result *res)
{
    uint32_t i, latest = NO_OP, latest_floor = 0;

    for (i = 0; i < kc->n_ev; i++) {
        const struct event *e = &kc->ev[i];
        const struct kop *k = &kc->k[e->op];
        const struct lin_op *op = k->op;
        if (e->is_ret) {
            uint32_t f = source_floor(kc, e->op);
            if (f != NO_OP && (latest == NO_OP || f > latest_floor)) {
                latest = e->op;
                latest_floor = f;
            }
            continue;
        }
        if (op->kind != LIN_READ) {
            continue;
        }
        const struct wval *w = find_wval(kc, op->value);
        if (w == NULL && op->value != 0) {
            report_read(kc, res, op);
            appendf(res, ", a value never written to this key");
            return true;
        }
        if (w != NULL && op->value != 0 &&
            kc->k[w->first_call_op].call_ev > k->ret_ev) {
            report_read(kc, res, op);
            appendf(res, ", but the first write of that value, ");
            append_op(res, kc->k[w->first_call_op].op);
            appendf(res, ", began only after the read returned");
            return true;
        }
        uint32_t last = w != NULL ? w->last_ret_op : NO_OP;
        if (latest == NO_OP ||
            (last != NO_OP && kc->k[last].ret_ev > latest_floor)) {
            continue;
        }
        explain_overwritten(kc, res, op, latest, last);
        return true;
    }
    return false;
}

/* ---- step 4: the search ------------------------------------------------- */

static void lift(struct key_check *kc, uint32_t op)
{
    uint32_t es[2] = {kc->k[op].call_ev, kc->k[op].ret_ev};
    int j;

    for (j = 0; j < 2; j++) {
        kc->next[kc->prev[es[j]]] = kc->next[es[j]];
        kc->prev[kc->next[es[j]]] = kc->prev[es[j]];
    }
}

static void unlift(struct key_check *kc, uint32_t op)
{
    uint32_t es[2] = {kc->k[op].ret_ev, kc->k[op].call_ev};
    int j;

    for (j = 0; j < 2; j++) {
        kc->next[kc->prev[es[j]]] = es[j];
        kc->prev[kc->next[es[j]]] = es[j];
    }
}

struct search {
    uint64_t state, h1, h2, steps;
    uint32_t writer, depth;
    /* the deepest point where the search got stuck */
    uint32_t best_depth, best_writer, best_barrier;
    uint64_t best_state;
};

enum take_how {
    TAKE_CHOICE, /* one choice among others at this configuration */
    TAKE_FORCED, /* a read of the value: no other choice needs trying */
    TAKE_DROP,   /* a pending write that never took effect */
};

/* Tries to take operation `op` next.  Returns 1 if taken, 0 if the
 * configuration it leads to was seen before, -1 on allocation failure. */
static int take(struct key_check *kc, struct search *s, uint32_t op,
                enum take_how how)
{
    const struct lin_op *o = kc->k[op].op;
    uint64_t h1 = s->h1 ^ kc->k[op].z1, h2 = s->h2 ^ kc->k[op].z2;
    uint64_t next_state = s->state;
    bool added;

    if (how != TAKE_DROP && o->kind != LIN_READ) {
        next_state = o->value;
    }
    if (cache_add(&kc->cache, h1, h2, next_state, &added) != 0) {
        return -1;
    }
    if (!added) {
        return 0;
    }
    kc->stack[s->depth++] =
        (struct frame){op, s->writer, s->state, how != TAKE_CHOICE};
    if (how != TAKE_DROP && o->kind != LIN_READ) {
        s->writer = op;
    }
    s->state = next_state;
    s->h1 = h1;
    s->h2 = h2;
    lift(kc, op);
    return 1;
}

/* Undoes taken operations down to the last choice; returns the event after
 * it, to try the next choice, or NO_OP when there is none left. */
static uint32_t backtrack(struct key_check *kc, struct search *s)
{
    while (s->depth > 0) {
        const struct frame *f = &kc->stack[--s->depth];
        unlift(kc, f->op);
        s->state = f->prev_state;
        s->writer = f->prev_writer;
        s->h1 ^= kc->k[f->op].z1;
        s->h2 ^= kc->k[f->op].z2;
        if (!f->forced) {
            return kc->next[kc->k[f->op].call_ev];
        }
    }
    return NO_OP;
}

/*
 * Finds, among the operations that may go next (calls before the first
 * return), a read of the current value.  Taking it at once is safe: in any
 * valid order of the rest it can be moved to the front (nothing left
 * precedes it, it sees the same value there, and taking it out changes
 * nothing for the others), so trying the others first would only repeat
 * work.  A write of the current value is not neutral in this sense: taking
 * it out of its place in an order changes what follows it.
 */
static uint32_t find_free_read(struct key_check *kc, struct search *s)
{
    uint32_t e;

    for (e = kc->next[kc->n_ev]; !kc->ev[e].is_ret; e = kc->next[e]) {
        s->steps++;
        const struct lin_op *o = kc->k[kc->ev[e].op].op;
        if (o->kind == LIN_READ && o->value == s->state) {
            return kc->ev[e].op;
        }
    }
    return NO_OP;
}

static void note_stuck(struct search *s, uint32_t op)
{
    if (s->best_barrier == NO_OP || s->depth > s->best_depth) {
        s->best_depth = s->depth;
        s->best_state = s->state;
        s->best_writer = s->writer;
        s->best_barrier = op;
    }
}

/* Returns 0 linearizable, 1 not, 2 budget ran out, -1 ENOMEM. */
static int search(struct key_check *kc, uint64_t budget, struct search *s)
{
    const uint32_t head = kc->n_ev;
    uint32_t e = kc->next[head], op;
    bool fresh = true; /* first visit of this configuration */
    int rc;

    memset(s, 0, sizeof(*s));
    s->writer = NO_OP;
    s->best_barrier = NO_OP;
    while (kc->next[head] != head) {
        if (++s->steps > budget) {
            return 2;
        }
        rc = 0;
        if (fresh && (op = find_free_read(kc, s)) != NO_OP) {
            rc = take(kc, s, op, TAKE_FORCED);
        } else if (!kc->ev[e].is_ret) {
            op = kc->ev[e].op;
            e = kc->next[e];
            if (kc->k[op].op->kind == LIN_READ) {
                fresh = false;
                continue; /* a read of another value */
            }
            rc = take(kc, s, op, TAKE_CHOICE);
            if (rc == 0) {
                fresh = false;
                continue;
            }
        } else {
            op = kc->ev[e].op;
            if (kc->k[op].pending) {
                rc = take(kc, s, op, TAKE_DROP);
            }
            if (rc == 0) {
                note_stuck(s, op); /* `op` must come next and cannot */
            }
        }
        if (rc < 0) {
            return -1;
        }
        if (rc > 0) {
            e = kc->next[head];
            fresh = true;
            continue;
        }
        /* This configuration is done with: back to the last choice. */
        e = backtrack(kc, s);
        fresh = false;
        if (e == NO_OP) {
            return 1;
        }
    }
    return 0;
}

static void report_stuck(struct key_check *kc, const struct search *s,
                         struct lin_result *res)
{
    uint32_t i, kept = 0;
    const struct lin_op *b = kc->k[s->best_barrier].op;

    for (i = 0; i < kc->n; i++) {
        kept += kc->k[i].kept;
    }
    set_failed(res, kc->key, false);
    appendf(res,
            "key %" PRIu64 ": no linearization of its %" PRIu32
            " ops; the longest valid prefix settles %" PRIu32
            " of them, leaving value %" PRIu64 " (",
            kc->key, kept, s->best_depth, s->best_state);
    if (s->best_writer == NO_OP) {
        appendf(res, "the initial value");
    } else {
        append_op(res, kc->k[s->best_writer].op);
    }
    appendf(res, "); then ");
    append_op(res, b);
    appendf(res, " returns first of the rest and cannot come next");
    if (b->kind == LIN_READ && b->value != s->best_state) {
        appendf(res,
                " (nothing concurrent with it makes the value %" PRIu64 ")",
                b->value);
    }
}

/* ---- one key ------------------------------------------------------------ */

static void key_check_free(struct key_check *kc)
{
    free(kc->k);
    free(kc->ev);
    free(kc->next);
    free(kc->prev);
    free(kc->wv);
    free(kc->stack);
    free(kc->cache.slots);
}

/* Returns 0 linearizable, 1 not, 2 budget ran out (res filled), -1 ENOMEM. */
static int check_key(const struct lin_op *ops, const uint32_t *idx,
                     uint32_t cnt, uint64_t budget, struct lin_result *res)
{
    struct key_check kc;
    struct search s;
    uint32_t i;
    int rc = -1;

    memset(&kc, 0, sizeof(kc));
    kc.ops = ops;
    kc.key = ops[idx[0]].key;
    kc.k = calloc((size_t)cnt + 1, sizeof(*kc.k));
    kc.ev = calloc(3 * (size_t)cnt + 1, sizeof(*kc.ev));
    kc.next = calloc(2 * (size_t)cnt + 1, sizeof(*kc.next));
    kc.prev = calloc(2 * (size_t)cnt + 1, sizeof(*kc.prev));
    kc.stack = calloc((size_t)cnt + 1, sizeof(*kc.stack));
    if (!kc.k || !kc.ev || !kc.next || !kc.prev || !kc.stack) {
        goto out;
    }
    for (i = 0; i < cnt; i++) {
        const struct lin_op *op = &ops[idx[i]];
        if (op->kind == LIN_READ && op->ret == LIN_PENDING) {
            continue; /* an unknown read constrains nothing */
        }
        kc.k[kc.n].op = op;
        kc.k[kc.n].pending = op->ret == LIN_PENDING;
        kc.n++;
    }
    if (collect_written_values(&kc) != 0) {
        goto out;
    }
    kc.n_ev = build_events(&kc);
    order_events(&kc);
    rc = 1;
    if (precheck_reads(&kc, res)) {
        goto out;
    }
    rc = search(&kc, budget, &s);
    if (rc == 1) {
        report_stuck(&kc, &s, res);
    } else if (rc == 2) {
        set_failed(res, kc.key, true);
        snprintf(res->msg, sizeof(res->msg),
                 "key %" PRIu64 ": no verdict, the search budget of %" PRIu64
                 " steps ran out (%" PRIu32 " ops, best prefix %" PRIu32 ")",
                 kc.key, budget, kc.n, s.best_depth);
    }
out:
    key_check_free(&kc);
    return rc;
}

/* ---- the entry point ---------------------------------------------------- */

struct by_key {
    uint64_t key;
    uint32_t idx;
};

static int by_key_cmp(const void *pa, const void *pb)
{
    const struct by_key *a = pa, *b = pb;

    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int lin_check(const struct lin_op *ops, size_t n, uint64_t budget,
              struct lin_result *res)
{
    struct by_key *order = NULL;
    uint32_t *idx = NULL;
    struct lin_result exhausted;
    size_t i, start;
    int rc = 0;

    assert(res != NULL);
    memset(res, 0, sizeof(*res));
    memset(&exhausted, 0, sizeof(exhausted));
    res->linearizable = true;
    if (n == 0) {
        return 0;
    }
    if (n > UINT32_MAX / 4) {
        rc = -1; /* beyond what the 32-bit indices address */
        goto out;
    }
    budget = budget ? budget : DEFAULT_BUDGET;
    order = malloc(n * sizeof(*order));
    idx = malloc(n * sizeof(*idx));
    if (order == NULL || idx == NULL) {
        rc = -1;
        goto out;
    }
    for (i = 0; i < n; i++) {
        order[i].key = ops[i].key;
        order[i].idx = (uint32_t)i;
    }
    qsort(order, n, sizeof(*order), by_key_cmp);
    for (start = 0; start < n;) {
        size_t end = start;
        while (end < n && order[end].key == order[start].key) {
            idx[end - start] = order[end].idx;
            end++;
        }
        rc = check_key(ops, idx, (uint32_t)(end - start), budget, res);
        if (rc < 0 || rc == 1) {
            goto out;
        }
        if (rc == 2 && !exhausted.exhausted) {
            exhausted = *res;
        }
        start = end;
    }
    rc = 0;
    if (exhausted.exhausted) {
        *res = exhausted;
    } else {
        res->linearizable = true;
        res->exhausted = false;
    }
out:
    if (rc == 1) {
        rc = 0;
    }
    if (rc < 0) {
        set_failed(res, 0, false);
        snprintf(res->msg, sizeof(res->msg), "out of memory");
    }
    free(order);
    free(idx);
    return rc;
}
