/*
 * Tests of the watcher hub (server/watch.h) over a memory engine: live
 * delivery, catch-up from history, the exactly-once in-order contract under
 * random interleavings (checked against the engine's full history as the
 * model), slow-watcher and compaction cancellation, progress, filters.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/watch.h"

static struct engine *E;
static struct engine_arena A;
static struct watch_hub *H;
static uint64_t IDX;

#define ck_ok(expr)                                                            \
    do {                                                                       \
        int rc_ = (expr);                                                      \
        ck_assert_msg(rc_ == 0, "%s -> %d (%s)", #expr, rc_,                   \
                      watch_strerror(rc_));                                    \
    } while (0)

static void hub_open(const struct watch_options *o)
{
    ck_ok(engine_memory_open(NULL, &E));
    engine_arena_init(&A);
    IDX = 0;
    ck_ok(watch_hub_create(E, o, 0, &H));
}

static void teardown(void)
{
    watch_hub_destroy(H);
    engine_arena_free(&A);
    engine_close(E);
    H = NULL;
    E = NULL;
}

static void setup(void)
{
    hub_open(NULL);
}

/* ---- writes and notifications ------------------------------------------ */

static int64_t w_put(const char *k, const char *v)
{
    struct engine_put_req r = {k, strlen(k), v,     strlen(v),
                               0, false,     false, false};
    struct engine_put_result res;
    ck_ok(engine_put(E, ++IDX, &r, &A, &res));
    return res.revision;
}

static int64_t w_del(const char *k, const char *end)
{
    struct engine_delete_req r = {k, strlen(k), end, end ? strlen(end) : 0,
                                  false};
    struct engine_delete_result res;
    ck_ok(engine_delete_range(E, ++IDX, &r, &A, &res));
    return res.revision;
}

/* The server's job: the events of revision rev, with prev_kv. */
static void notify(int64_t rev)
{
    struct engine_arena a;
    engine_arena_init(&a);
    struct engine_history_req r = {"\0", 1, "\0", 1, rev, 1, true};
    struct engine_history_result res;
    ck_ok(engine_history(E, &r, &a, &res));
    ck_ok(watch_hub_notify(H, rev, res.events, res.events_len));
    engine_arena_free(&a);
}

static int64_t put_n(const char *k, const char *v)
{
    int64_t rev = w_put(k, v);
    notify(rev);
    return rev;
}

/* ---- watchers and what they received ----------------------------------- */

static int64_t watch(const char *k, const char *end, int64_t start,
                     bool prev_kv)
{
    struct watch_create_req r;
    memset(&r, 0, sizeof(r));
    r.key = k;
    r.key_len = strlen(k);
    r.range_end = end;
    r.range_end_len = end != NULL ? (end[0] ? strlen(end) : 1) : 0;
    r.start_revision = start;
    r.prev_kv = prev_kv;
    int64_t id;
    ck_ok(watch_hub_add(H, &r, &id));
    return id;
}

static void append_events(char *buf, size_t cap, const struct watch_resp *r)
{
    for (size_t i = 0; i < r->events_len; i++) {
        const struct engine_event *ev = &r->events[i];
        size_t n = strlen(buf);
        n += (size_t)snprintf(
            buf + n, cap - n, "%s%c %.*s=%.*s@%lld", n ? " " : "",
            ev->type == ENGINE_EVENT_PUT ? 'P' : 'D', (int)ev->kv.key_len,
            (const char *)ev->kv.key, (int)ev->kv.value_len,
            (const char *)ev->kv.value, (long long)ev->kv.mod_revision);
        if (ev->has_prev_kv)
            snprintf(buf + n, cap - n, "<%.*s", (int)ev->prev_kv.value_len,
                     (const char *)ev->prev_kv.value);
        ck_assert(strlen(buf) < cap - 1);
    }
}

static char got[8192];

/* Takes every response of id; returns the events as a string (got) and
 * the type of the last non-EVENTS response in *last (-1 if none). */
static const char *drain(int64_t id, int *last)
{
    got[0] = '\0';
    *last = -1;
    struct watch_resp r;
    int rc;
    while ((rc = watch_hub_pending(H, id, &A, &r)) == 1) {
        ck_assert_int_eq(r.watch_id, id);
        if (r.type == WATCH_RESP_EVENTS) {
            ck_assert_uint_gt(r.events_len, 0);
            append_events(got, sizeof(got), &r);
        } else {
            *last = (int)r.type;
        }
        if (r.type == WATCH_RESP_CANCELED)
            break;
    }
    ck_assert_int_ge(rc, 0);
    return got;
}

static const char *events_of(int64_t id)
{
    int last;
    return drain(id, &last);
}

/* ---- behaviour ---------------------------------------------------------- */

START_TEST(created_response_comes_first_then_live_events_in_order)
{
    int64_t id = watch("a", NULL, 0, false);
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CREATED);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 0);
    put_n("a", "1");
    put_n("b", "1");
    notify(w_del("a", NULL));
    ck_assert_str_eq(events_of(id), "P a=1@2 D a=@4");
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 0);
    put_n("a", "2");
    ck_assert_str_eq(events_of(id), "P a=2@5");
}
END_TEST

/* A watcher "from now" whose CREATED goes out after more writes applied:
 * CREATED names the revision it was added at, and the writes that applied
 * before CREATED was sent still come as events (a client resuming from
 * CREATED's revision + 1 skips nothing). */
START_TEST(created_names_the_revision_the_watcher_was_added_at)
{
    int64_t added = put_n("x", "0");
    int64_t id = watch("a", NULL, 0, false);
    put_n("a", "1");
    put_n("a", "2");
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CREATED);
    ck_assert_int_eq(r.revision, added);
    ck_assert_str_eq(events_of(id), "P a=1@3 P a=2@4");
}
END_TEST

/* Many watchers: ids stay unique and findable while others come and go
 * (the id table with its tombstones and rebuilds). */
START_TEST(thousands_of_watchers_are_found_by_id)
{
    enum { N = 3000 };
    static int64_t ids[N];
    static bool gone[N];
    struct watch_resp r;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            if (round == 0 || gone[i]) {
                ids[i] = watch("k", NULL, 0, false);
                gone[i] = false;
                ck_assert_int_eq(watch_hub_pending(H, ids[i], &A, &r), 1);
                ck_assert_int_eq(r.type, WATCH_RESP_CREATED);
            }
        }
        for (int i = round; i < N; i += 3) {
            ck_ok(watch_hub_cancel(H, ids[i]));
            ck_assert_int_eq(watch_hub_pending(H, ids[i], &A, &r), 1);
            ck_assert_int_eq(r.type, WATCH_RESP_CANCELED);
            gone[i] = true;
        }
        size_t live = 0;
        for (int i = 0; i < N; i++) {
            int rc = watch_hub_pending(H, ids[i], &A, &r);
            ck_assert_int_eq(rc, gone[i] ? WATCH_ENOTFOUND : 0);
            live += !gone[i];
            for (int j = 0; j < i && i < 50; j++)
                ck_assert_int_ne(ids[i], ids[j]);
        }
        ck_assert_uint_eq(watch_hub_count(H), live);
    }
    /* A chosen id that is taken is refused; a free one is accepted. */
    struct watch_create_req q;
    memset(&q, 0, sizeof(q));
    q.key = "k";
    q.key_len = 1;
    q.watch_id = ids[1];
    int64_t id;
    ck_assert_int_eq(watch_hub_add(H, &q, &id), WATCH_EEXIST);
    q.watch_id = 1000000;
    ck_ok(watch_hub_add(H, &q, &id));
    ck_assert_int_eq(id, 1000000);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    engine_arena_reset(&A);
}
END_TEST

START_TEST(watcher_at_old_revision_catches_up_while_writes_continue)
{
    watch_hub_destroy(H);
    struct watch_options o = {0, 0, 2, 0, 0};
    ck_ok(watch_hub_create(E, &o, 0, &H));
    for (int i = 0; i < 6; i++)
        put_n(i % 2 ? "b" : "a", i % 3 ? "x" : "y");
    int64_t id = watch("a", "c", 3, true);
    ck_assert_str_eq(events_of(id), "P b=x@3 P a=x@4<y P b=y@5<x P a=x@6<x "
                                    "P b=x@7<y");
    /* Interleave: each write lands while the watcher is mid catch-up. */
    int64_t id2 = watch("a", NULL, 2, false);
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, id2, &A, &r), 1); /* CREATED */
    ck_assert_int_eq(watch_hub_pending(H, id2, &A, &r), 1);
    ck_assert_int_eq(r.events_len, 2); /* a@2 a@4: the catch-up limit */
    put_n("a", "late");
    ck_assert_str_eq(events_of(id2), "P a=x@6 P a=late@8");
    put_n("a", "live");
    ck_assert_str_eq(events_of(id2), "P a=live@9");
    ck_assert_str_eq(events_of(id), "P a=late@8<x P a=live@9<late");
}
END_TEST

START_TEST(filters_drop_puts_or_deletes)
{
    struct watch_create_req r;
    memset(&r, 0, sizeof(r));
    r.key = "k";
    r.key_len = 1;
    r.no_put = true;
    int64_t no_put, no_del;
    ck_ok(watch_hub_add(H, &r, &no_put));
    r.no_put = false;
    r.no_delete = true;
    ck_ok(watch_hub_add(H, &r, &no_del));
    put_n("k", "1");
    notify(w_del("k", NULL));
    ck_assert_str_eq(events_of(no_put), "D k=@3");
    ck_assert_str_eq(events_of(no_del), "P k=1@2");
}
END_TEST

START_TEST(slow_watcher_canceled_without_affecting_others)
{
    watch_hub_destroy(H);
    struct watch_options o = {3, 0, 0, 0, 0};
    ck_ok(watch_hub_create(E, &o, 0, &H));
    int64_t slow = watch("k", NULL, 0, false);
    int64_t fast = watch("k", NULL, 0, false);
    char want[256] = "", fast_got[256] = "";
    for (int i = 0; i < 5; i++) {
        int64_t rev = put_n("k", "v");
        char one[32];
        snprintf(one, sizeof(one), "%sP k=v@%lld", i ? " " : "",
                 (long long)rev);
        strcat(want, one);
        if (i % 2 == 1 || i == 4) { /* fast drains every other write */
            if (fast_got[0] != '\0')
                strcat(fast_got, " ");
            strcat(fast_got, events_of(fast));
        }
    }
    ck_assert_str_eq(fast_got, want);
    int last;
    drain(slow, &last); /* CREATED, then CANCELED: the 4th event overflowed */
    ck_assert_int_eq(last, WATCH_RESP_CANCELED);
    ck_assert_str_eq(got, "");
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, slow, &A, &r), WATCH_ENOTFOUND);
    ck_assert_int_eq(watch_hub_count(H), 1);
    put_n("k", "after");
    ck_assert_str_eq(events_of(fast), "P k=after@7");
    ck_ok(watch_hub_cancel(H, fast));
    ck_assert_int_eq(watch_hub_pending(H, fast, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CANCELED);
    ck_assert_int_eq(r.cause, WATCH_CANCEL_CLIENT);
    ck_assert_int_eq(watch_hub_count(H), 0);
}
END_TEST

START_TEST(slow_cancel_reports_reason_and_spares_others)
{
    watch_hub_destroy(H);
    struct watch_options o = {2, 0, 0, 0, 0};
    ck_ok(watch_hub_create(E, &o, 0, &H));
    int64_t slow = watch("k", NULL, 0, false);
    int64_t fast = watch("k", NULL, 0, false);
    char all[256] = "";
    for (int i = 0; i < 4; i++) {
        put_n("k", "v");
        strcat(all, events_of(fast));
        strcat(all, " ");
    }
    ck_assert_str_eq(all, "P k=v@2 P k=v@3 P k=v@4 P k=v@5 ");
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, slow, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CREATED);
    ck_assert_int_eq(watch_hub_pending(H, slow, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CANCELED);
    ck_assert_int_eq(r.cause, WATCH_CANCEL_SLOW);
    ck_assert_ptr_nonnull(strstr(r.cancel_reason, "slow"));
}
END_TEST

START_TEST(compacted_start_revision_cancels_with_compact_revision)
{
    for (int i = 0; i < 5; i++)
        put_n("k", "v");
    ck_ok(engine_compact(E, ++IDX, 4));
    int64_t id = watch("k", NULL, 3, false);
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CREATED);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_CANCELED);
    ck_assert_int_eq(r.cause, WATCH_CANCEL_COMPACTED);
    ck_assert_int_eq(r.compact_revision, 4);
    /* Just above the compact revision is fine. */
    int64_t ok = watch("k", NULL, 5, false);
    ck_assert_str_eq(events_of(ok), "P k=v@5 P k=v@6");
}
END_TEST

START_TEST(progress_after_idle_revisions_time_or_request)
{
    watch_hub_destroy(H);
    struct watch_options o = {0, 0, 0, 3, 1000};
    ck_ok(watch_hub_create(E, &o, 0, &H));
    struct watch_create_req c;
    memset(&c, 0, sizeof(c));
    c.key = "x";
    c.key_len = 1;
    c.progress_notify = true;
    int64_t id;
    ck_ok(watch_hub_add(H, &c, &id));
    int64_t quiet = watch("x", NULL, 0, false); /* no progress_notify */
    int last;
    drain(id, &last);
    drain(quiet, &last);
    put_n("y", "1");
    put_n("y", "2");
    struct watch_resp r;
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 0);
    put_n("y", "3");
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_PROGRESS);
    ck_assert_int_eq(r.revision, 4);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 0);
    watch_hub_tick(H, 999);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 0);
    watch_hub_tick(H, 1000);
    ck_assert_int_eq(watch_hub_pending(H, id, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_PROGRESS);
    ck_assert_int_eq(watch_hub_pending(H, quiet, &A, &r), 0);
    ck_ok(watch_hub_request_progress(H, quiet));
    ck_assert_int_eq(watch_hub_pending(H, quiet, &A, &r), 1);
    ck_assert_int_eq(r.type, WATCH_RESP_PROGRESS);
    ck_assert_int_eq(r.revision, 4);
    ck_assert_int_eq(watch_hub_pending(H, quiet, &A, &r), 0);
}
END_TEST

START_TEST(bad_requests_rejected)
{
    struct watch_create_req c;
    memset(&c, 0, sizeof(c));
    int64_t id;
    ck_assert_int_eq(watch_hub_add(H, &c, &id), WATCH_EINVAL);
    c.key = "k";
    c.key_len = 1;
    c.start_revision = -1;
    ck_assert_int_eq(watch_hub_add(H, &c, &id), WATCH_EINVAL);
    c.start_revision = 0;
    c.watch_id = 7;
    ck_ok(watch_hub_add(H, &c, &id));
    ck_assert_int_eq(id, 7);
    ck_assert_int_eq(watch_hub_add(H, &c, &id), WATCH_EEXIST);
    ck_assert_int_eq(watch_hub_cancel(H, 99), WATCH_ENOTFOUND);
    ck_assert_int_eq(watch_hub_notify(H, 1, NULL, 0), WATCH_EINVAL);
    int owner;
    c.watch_id = 0;
    c.owner = &owner;
    ck_ok(watch_hub_add(H, &c, &id));
    ck_ok(watch_hub_add(H, &c, &id));
    ck_assert_int_eq(watch_hub_count(H), 3);
    watch_hub_drop_owner(H, &owner);
    ck_assert_int_eq(watch_hub_count(H), 1);
}
END_TEST

/* ---- random interleavings against the model ---------------------------- */

static uint64_t seed;

static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

#define NW 6

struct rw {
    int64_t id;
    char key[4], end[4];
    int64_t start;
    bool prev, no_put, no_del;
    char log[16384];
    bool alive;
};

/* The model: everything the engine's full history says w must get. */
static void model_of(const struct rw *w, char *buf, size_t cap)
{
    struct watch_resp fake;
    memset(&fake, 0, sizeof(fake));
    struct engine_history_req r = {w->key,   strlen(w->key),
                                   w->end,   w->end[0] ? strlen(w->end) : 0,
                                   w->start, 0,
                                   w->prev};
    if (strcmp(w->end, "~") == 0) {
        r.range_end = "\0";
        r.range_end_len = 1;
    }
    struct engine_history_result res;
    ck_ok(engine_history(E, &r, &A, &res));
    size_t kept = 0;
    for (size_t i = 0; i < res.events_len; i++) {
        bool put = res.events[i].type == ENGINE_EVENT_PUT;
        if (!(put ? w->no_put : w->no_del))
            res.events[kept++] = res.events[i];
    }
    fake.events = res.events;
    fake.events_len = kept;
    buf[0] = '\0';
    append_events(buf, cap, &fake);
}

static void take(struct rw *w)
{
    struct watch_resp r;
    int rc = watch_hub_pending(H, w->id, &A, &r);
    ck_assert_int_ge(rc, 0);
    if (rc == 1) {
        ck_assert_int_ne(r.type, WATCH_RESP_CANCELED);
        if (r.type == WATCH_RESP_EVENTS) {
            size_t n = strlen(w->log);
            if (n > 0)
                strcat(w->log, " ");
            append_events(w->log + strlen(w->log),
                          sizeof(w->log) - strlen(w->log), &r);
        }
    }
}

static void random_write(int64_t *pending, size_t *np)
{
    char k[3] = {'k', (char)('0' + rnd() % 8), 0};
    char v[8];
    snprintf(v, sizeof(v), "v%u", (unsigned)(rnd() % 100));
    int64_t rev;
    if (rnd() % 4 == 0) {
        int64_t before = engine_revision(E);
        char e[3] = {'k', (char)(k[1] + 1 + rnd() % 3), 0};
        rev = w_del(k, e);
        if (rev == before)
            return; /* deleted nothing: no revision, no events */
    } else {
        rev = w_put(k, v);
    }
    pending[(*np)++] = rev;
}

/* run_random() with tiny queues that resync on overflow, and random
 * watch_hub_hold() calls (a client held back by its connection). */
static bool HOLDS;

static void run_random(uint64_t s)
{
    seed = s;
    watch_hub_destroy(H);
    struct watch_options o = {0, 0, (int64_t)(1 + s % 4), 0, 0};
    if (HOLDS)
        o.max_queue_events = 1 + s % 3;
    ck_ok(watch_hub_create(E, &o, 0, &H));
    watch_hub_resync_on_overflow(H, HOLDS);
    static struct rw ws[NW];
    static const char *ranges[][2] = {
        {"k3", ""}, {"k2", "k5"}, {"k4", "~"}, {"k0", "~"}, {"k1", "k2"}};
    int64_t pending[512];
    size_t np = 0;
    int nws = 0;
    for (int step = 0; step < 300; step++) {
        unsigned what = (unsigned)(rnd() % 10);
        if (what < 4 && np < 500) {
            random_write(pending, &np);
        } else if (what < 6 && np > 0) {
            /* Deliver the oldest notifications; sometimes drop one (a
             * revision the server never reports). */
            size_t k = 1 + rnd() % np;
            for (size_t i = 0; i < k; i++)
                if (rnd() % 8 != 0)
                    notify(pending[i]);
            memmove(pending, pending + k, (np - k) * sizeof(pending[0]));
            np -= k;
        } else if (what == 6 && nws < NW) {
            struct rw *w = &ws[nws++];
            memset(w, 0, sizeof(*w));
            int ri = (int)(rnd() % 5);
            snprintf(w->key, sizeof(w->key), "%s", ranges[ri][0]);
            snprintf(w->end, sizeof(w->end), "%s", ranges[ri][1]);
            int64_t cur = engine_revision(E);
            w->start =
                rnd() % 2 ? 1 + (int64_t)(rnd() % (uint64_t)cur) : cur + 1;
            w->prev = rnd() % 2;
            w->no_put = rnd() % 5 == 0;
            w->no_del = !w->no_put && rnd() % 5 == 0;
            struct watch_create_req c;
            memset(&c, 0, sizeof(c));
            c.key = w->key;
            c.key_len = strlen(w->key);
            c.range_end = strcmp(w->end, "~") == 0 ? "\0" : w->end;
            c.range_end_len = strcmp(w->end, "~") == 0 ? 1 : strlen(w->end);
            c.start_revision = w->start;
            c.prev_kv = w->prev;
            c.no_put = w->no_put;
            c.no_delete = w->no_del;
            ck_ok(watch_hub_add(H, &c, &w->id));
            w->alive = true;
        } else if (HOLDS && nws > 0 && rnd() % 3 == 0) {
            ck_ok(watch_hub_hold(H, ws[rnd() % (uint64_t)nws].id));
        } else if (nws > 0) {
            take(&ws[rnd() % (uint64_t)nws]);
        }
    }
    for (size_t i = 0; i < np; i++)
        notify(pending[i]);
    static char want[16384];
    for (int i = 0; i < nws; i++) {
        for (int guard = 0; guard < 10000; guard++) {
            struct watch_resp r;
            int rc = watch_hub_pending(H, ws[i].id, &A, &r);
            if (rc == 0)
                break;
            ck_assert_int_eq(rc, 1);
            ck_assert_int_ne(r.type, WATCH_RESP_CANCELED);
            if (r.type == WATCH_RESP_EVENTS) {
                if (ws[i].log[0])
                    strcat(ws[i].log, " ");
                append_events(ws[i].log + strlen(ws[i].log),
                              sizeof(ws[i].log) - strlen(ws[i].log), &r);
            }
        }
        model_of(&ws[i], want, sizeof(want));
        ck_assert_msg(
            strcmp(ws[i].log, want) == 0,
            "seed %llu watcher %d [%s,%s) from %lld:\n got %s\nwant %s",
            (unsigned long long)s, i, ws[i].key, ws[i].end,
            (long long)ws[i].start, ws[i].log, want);
        engine_arena_reset(&A);
    }
}

START_TEST(random_interleavings_deliver_exactly_once_in_order)
{
    for (uint64_t s = 1; s <= 40; s++) {
        teardown();
        hub_open(NULL);
        run_random(s * 0x9e3779b97f4a7c15ull);
    }
}
END_TEST

START_TEST(held_and_overflowing_watchers_resync_from_history_exactly_once)
{
    HOLDS = true;
    for (uint64_t s = 1; s <= 40; s++) {
        teardown();
        hub_open(NULL);
        run_random(s * 0x9e3779b97f4a7c15ull + 7);
    }
    HOLDS = false;
}
END_TEST

START_TEST(overflow_with_resync_frees_the_queue_and_loses_nothing)
{
    watch_hub_destroy(H);
    struct watch_options o = {2, 0, 0, 0, 0};
    ck_ok(watch_hub_create(E, &o, 0, &H));
    watch_hub_resync_on_overflow(H, true);
    int64_t lag = watch("k", NULL, 0, true);
    int64_t live = watch("k", NULL, 0, false);
    int last;
    drain(lag, &last);
    ck_assert_int_eq(last, WATCH_RESP_CREATED);
    char want[256] = "";
    for (int i = 0; i < 6; i++) {
        char v[8], one[48];
        snprintf(v, sizeof(v), "v%d", i);
        int64_t rev = put_n("k", v);
        snprintf(one, sizeof(one), "%sP k=%s@%lld", i ? " " : "", v,
                 (long long)rev);
        strcat(want, one);
        if (i > 0) {
            char p[16];
            snprintf(p, sizeof(p), "<v%d", i - 1);
            strcat(want, p);
        }
        events_of(live);
    }
    /* The third event overflowed: the queue was dropped, not the watcher;
     * it now reads everything from history, prev_kv included. */
    ck_assert_str_eq(drain(lag, &last), want);
    ck_assert_int_eq(last, -1);
    /* Caught up: live events again. */
    ck_assert_int_eq(put_n("k", "z"), 8);
    ck_assert_str_eq(events_of(lag), "P k=z@8<v5");
    /* An explicit hold drops what was queued; nothing is lost. */
    put_n("k", "y");
    ck_ok(watch_hub_hold(H, lag));
    put_n("k", "x");
    ck_assert_str_eq(events_of(lag), "P k=y@9<z P k=x@10<y");
    ck_assert_int_eq(watch_hub_hold(H, 12345), WATCH_ENOTFOUND);
    ck_assert_int_eq(watch_hub_count(H), 2);
}
END_TEST

/* The ready ids, sorted, as a string. */
static const char *ready_ids(void)
{
    static char buf[256];
    static int64_t *ids;
    static size_t cap;
    long n = watch_hub_take_ready(H, &ids, &cap);
    ck_assert_int_ge(n, 0);
    for (long i = 1; i < n; i++) /* insertion sort: a handful of ids */
        for (long j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    buf[0] = '\0';
    for (long i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%lld",
                 i ? "," : "", (long long)ids[i]);
    if (n == 0) {
        free(ids);
        ids = NULL;
        cap = 0;
    }
    return buf;
}

START_TEST(ready_list_names_only_watchers_with_something_to_say)
{
    int64_t a = watch("a", NULL, 0, false);
    int64_t b = watch("b", NULL, 0, false);
    int64_t c = watch("c", NULL, 0, false);
    ck_assert(a == 1 && b == 2 && c == 3);
    ck_assert_str_eq(ready_ids(), "1,2,3"); /* CREATED */
    ck_assert_str_eq(ready_ids(), "");
    drain(a, &(int){0});
    drain(b, &(int){0});
    drain(c, &(int){0});
    put_n("b", "1"); /* live: only b's watcher */
    watch_hub_revision_moved(H);
    ck_assert_str_eq(ready_ids(), "2");
    ck_assert_str_eq(events_of(b), "P b=1@2");
    w_put("a", "1"); /* nobody reported it: all may be behind */
    watch_hub_revision_moved(H);
    ck_assert_str_eq(ready_ids(), "1,2,3");
    ck_assert_str_eq(events_of(a), "P a=1@3");
    ck_assert_str_eq(events_of(b), "");
    ck_ok(watch_hub_hold(H, c));
    ck_ok(watch_hub_cancel(H, a));
    ck_assert_str_eq(ready_ids(), "1,3");
    ck_ok(watch_hub_request_progress(H, b));
    watch_hub_mark(H, c);
    watch_hub_mark(H, 99); /* unknown: ignored */
    ck_assert_str_eq(ready_ids(), "2,3");
    watch_hub_mark_all(H);
    ck_assert_str_eq(ready_ids(), "1,2,3");
    ck_assert_ptr_eq(watch_hub_owner(H, 99), NULL);
    ck_assert_str_eq(ready_ids(), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("hub");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, created_response_comes_first_then_live_events_in_order);
    tcase_add_test(tc, created_names_the_revision_the_watcher_was_added_at);
    tcase_add_test(tc, thousands_of_watchers_are_found_by_id);
    tcase_add_test(tc,
                   watcher_at_old_revision_catches_up_while_writes_continue);
    tcase_add_test(tc, filters_drop_puts_or_deletes);
    tcase_add_test(tc, slow_watcher_canceled_without_affecting_others);
    tcase_add_test(tc, slow_cancel_reports_reason_and_spares_others);
    tcase_add_test(tc, compacted_start_revision_cancels_with_compact_revision);
    tcase_add_test(tc, progress_after_idle_revisions_time_or_request);
    tcase_add_test(tc, bad_requests_rejected);
    tcase_add_test(tc, random_interleavings_deliver_exactly_once_in_order);
    tcase_add_test(tc, overflow_with_resync_frees_the_queue_and_loses_nothing);
    tcase_add_test(tc, ready_list_names_only_watchers_with_something_to_say);
    tcase_add_test(
        tc, held_and_overflowing_watchers_resync_from_history_exactly_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
