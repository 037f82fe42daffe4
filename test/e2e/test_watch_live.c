/*
 * test_watch_live.c - watch events fed from applied writes
 * (server.watch_live_events), end to end on one real node.
 *
 * The server builds each revision's events from the results of the write
 * that made it and hands them to watchers that are caught up; lagging,
 * new and held-back watchers read history.  These tests check that the
 * two paths deliver the same thing: every test runs a watcher that is
 * caught up before the writes (live events) and compares what it got,
 * field by field, with a watcher created afterwards from an old revision
 * (history).  Covered: TTL lease revoke and expiry (a DELETE for each
 * attached key, all at one revision), txn events, prev_kv on live events
 * (and that the prev kvs the server now asks the engine for do not leak
 * into responses that did not ask), and caught-up, lagging and held-back
 * watchers under concurrent writers (every write exactly once, in order).
 * /metrics shows which path served: metastore_watch_live_revisions_total
 * and metastore_watch_history_reads_total.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "client/internal.h"
#include "client/metastore.h"
#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/raw.h"
#include "test/e2e/helpers/scrape.h"

static struct e2e_server srv;

static void start(const char *const *extra)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void stop(void)
{
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}

static struct ms_client *client(void)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 5000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

/* Puts k = v (lease, prev_kv as given); returns the write's revision and
 * checks whether the response carries a prev kv exactly when asked. */
static int64_t put(struct ms_client *c, const char *k, const char *v,
                   int64_t lease, bool prev_kv)
{
    struct ms_result *r = NULL;
    int rc = ms_put(c, k, strlen(k), v, strlen(v), lease, prev_kv, &r);
    ck_assert_msg(rc == 0, "put %s: %s", k, ms_strerror(rc));
    if (!prev_kv) {
        ck_assert_msg(!r->put.has_prev_kv, "put %s: prev_kv not asked", k);
    }
    int64_t rev = r->header.revision;
    ms_result_free(r);
    return rev;
}

static int64_t revision(struct ms_client *c)
{
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "zz", 2, NULL, &r), 0);
    int64_t rev = r->header.revision;
    ms_result_free(r);
    return rev;
}

/* The value of a /metrics sample, or -1. */
static double metric(const char *name)
{
    return e2e_metric(srv.admin_port, name);
}

/* ---- a watcher thread that records every event in full --------------- */

#define MAX_EV 2048

struct ev {
    int type;
    char key[24];
    char value[128];
    int64_t create, mod, version, lease;
    bool has_prev;
    char prev_value[128];
    int64_t prev_mod, prev_version;
};

struct watcher {
    pthread_mutex_t mu;
    struct ev ev[MAX_EV];
    size_t n, want;
    int created, canceled;
    unsigned sleep_us; /* per response: a slow reader */
    struct ms_watch_options o;
    char key[24];
    int rc;
    pthread_t thread;
};

static int on_resp(void *arg, const struct ms_watch_response *r)
{
    struct watcher *w = arg;
    pthread_mutex_lock(&w->mu);
    w->created += r->created;
    w->canceled += r->canceled;
    for (size_t i = 0; i < r->n_events && w->n < MAX_EV; i++) {
        const struct ms_event *e = &r->events[i];
        struct ev *x = &w->ev[w->n++];
        memset(x, 0, sizeof *x);
        x->type = e->type;
        snprintf(x->key, sizeof x->key, "%.*s", (int)e->kv.key_len,
                 (const char *)e->kv.key);
        snprintf(x->value, sizeof x->value, "%.*s", (int)e->kv.value_len,
                 (const char *)e->kv.value);
        x->create = e->kv.create_revision;
        x->mod = e->kv.mod_revision;
        x->version = e->kv.version;
        x->lease = e->kv.lease;
        x->has_prev = e->has_prev_kv;
        if (e->has_prev_kv) {
            snprintf(x->prev_value, sizeof x->prev_value, "%.*s",
                     (int)e->prev_kv.value_len, (const char *)e->prev_kv.value);
            x->prev_mod = e->prev_kv.mod_revision;
            x->prev_version = e->prev_kv.version;
        }
    }
    bool done = w->want > 0 && w->n >= w->want;
    pthread_mutex_unlock(&w->mu);
    if (w->sleep_us > 0) {
        usleep(w->sleep_us);
    }
    return done ? 1 : 0;
}

static void *watch_main(void *arg)
{
    struct watcher *w = arg;
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 500,
                                  .command_timeout_ms = 3000};
    struct ms_client *c = NULL;
    w->rc = ms_client_create(eps, 1, &o, &c);
    if (w->rc == 0) {
        w->rc = ms_watch(c, &w->o, 60000, on_resp, w);
        ms_client_close(c);
    }
    return NULL;
}

/* Starts a prefix watcher from `start` (0 = now) that stops after `want`
 * events, and waits until the server has created it. */
static struct watcher *watch(const char *prefix, int64_t start, bool prev_kv,
                             size_t want)
{
    struct watcher *w = calloc(1, sizeof *w);
    ck_assert_ptr_nonnull(w);
    pthread_mutex_init(&w->mu, NULL);
    snprintf(w->key, sizeof w->key, "%s", prefix);
    w->o.key = w->key;
    w->o.key_len = strlen(w->key);
    w->o.prefix = true;
    w->o.start_revision = start;
    w->o.prev_kv = prev_kv;
    w->want = want;
    ck_assert_int_eq(pthread_create(&w->thread, NULL, watch_main, w), 0);
    uint64_t deadline = e2e_now_ms() + 5000;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int created = w->created;
        pthread_mutex_unlock(&w->mu);
        if (created > 0 || e2e_now_ms() > deadline) {
            break;
        }
        usleep(1000);
    }
    ck_assert_msg(w->created == 1, "watch %s was not created", prefix);
    return w;
}

/* Waits for the watcher's thread (it stops after `want` events). */
static void finish(struct watcher *w)
{
    pthread_join(w->thread, NULL);
    ck_assert_msg(w->rc == 0, "watch %s: %s", w->key, ms_strerror(w->rc));
    ck_assert_int_eq(w->canceled, 0);
    ck_assert_uint_eq(w->n, w->want);
}

static void watcher_free(struct watcher *w)
{
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void assert_same_event(const struct ev *a, const struct ev *b, size_t i)
{
    ck_assert_msg(
        a->type == b->type && strcmp(a->key, b->key) == 0 &&
            strcmp(a->value, b->value) == 0 && a->create == b->create &&
            a->mod == b->mod && a->version == b->version &&
            a->lease == b->lease && a->has_prev == b->has_prev &&
            strcmp(a->prev_value, b->prev_value) == 0 &&
            a->prev_mod == b->prev_mod && a->prev_version == b->prev_version,
        "event %zu differs: %d %s=%s c%lld m%lld v%lld l%lld "
        "prev %d %s m%lld v%lld / %d %s=%s c%lld m%lld v%lld "
        "l%lld prev %d %s m%lld v%lld",
        i, a->type, a->key, a->value, (long long)a->create, (long long)a->mod,
        (long long)a->version, (long long)a->lease, a->has_prev, a->prev_value,
        (long long)a->prev_mod, (long long)a->prev_version, b->type, b->key,
        b->value, (long long)b->create, (long long)b->mod,
        (long long)b->version, (long long)b->lease, b->has_prev, b->prev_value,
        (long long)b->prev_mod, (long long)b->prev_version);
}

/* What the live watcher got equals what history gives from its first
 * revision on: a watcher created now, from that revision, reads it all
 * from history. */
static void assert_history_agrees(const struct watcher *live, bool prev_kv)
{
    ck_assert_uint_gt(live->n, 0);
    struct watcher *h = watch(live->key, live->ev[0].mod, prev_kv, live->n);
    finish(h);
    for (size_t i = 0; i < live->n; i++) {
        assert_same_event(&live->ev[i], &h->ev[i], i);
    }
    watcher_free(h);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(lease_revoke_and_expiry_delete_every_attached_key_at_one_revision)
{
    const char *extra[] = {"--set", "ttl.min_ttl=1s", NULL};
    start(extra);
    struct ms_client *c = client();
    int64_t long_lease = 0, short_lease = 0;
    ck_assert_int_eq(ms_lease_grant(c, 60, 0, &long_lease, NULL), 0);
    put(c, "l/b", "b1", long_lease, false);
    put(c, "l/a", "a1", long_lease, false);
    put(c, "l/c", "c1", long_lease, false);
    put(c, "l/x", "x1", 0, false); /* no lease: stays */
    double live0 = metric("metastore_watch_live_revisions_total");
    double hist0 = metric("metastore_watch_history_reads_total");
    /* revoke: 3 deletes; 2 puts; expiry: 2 deletes. */
    struct watcher *w = watch("l/", 0, true, 7);

    ck_assert_int_eq(ms_lease_revoke(c, long_lease), 0);
    ck_assert_int_eq(ms_lease_grant(c, 1, 0, &short_lease, NULL), 0);
    put(c, "l/e", "e1", short_lease, false);
    put(c, "l/d", "d1", short_lease, false);
    finish(w); /* the short lease expires: no keep-alive */

    const char *keys[] = {"l/a", "l/b", "l/c", "l/e", "l/d", "l/d", "l/e"};
    const char *prev[] = {"a1", "b1", "c1", "", "", "d1", "e1"};
    for (int i = 0; i < 7; i++) {
        bool del = i < 3 || i >= 5;
        ck_assert_int_eq(w->ev[i].type, del ? MS_EVENT_DELETE : MS_EVENT_PUT);
        ck_assert_str_eq(w->ev[i].key, keys[i]);
        ck_assert_int_eq(w->ev[i].has_prev, del);
        ck_assert_str_eq(w->ev[i].prev_value, prev[i]);
    }
    /* One revision per revoke and per expiry, for all its keys. */
    ck_assert_int_eq(w->ev[1].mod, w->ev[0].mod);
    ck_assert_int_eq(w->ev[2].mod, w->ev[0].mod);
    ck_assert_int_eq(w->ev[6].mod, w->ev[5].mod);
    ck_assert_int_gt(w->ev[5].mod, w->ev[4].mod);
    ck_assert_int_eq(w->ev[3].lease, short_lease);
    /* Served live: the 4 revisions (revoke, 2 puts, expiry) came from the
     * apply path, and the caught-up watcher never read history. */
    ck_assert_double_ge(metric("metastore_watch_live_revisions_total"),
                        live0 + 4);
    ck_assert_double_eq(metric("metastore_watch_history_reads_total"), hist0);
    assert_history_agrees(w, true);
    watcher_free(w);
    ms_client_close(c);
    stop();
}
END_TEST

START_TEST(txn_events_come_at_one_revision_in_key_order_as_history_has_them)
{
    start(NULL);
    struct ms_client *c = client();
    put(c, "t/b", "1", 0, false);
    put(c, "t/c", "1", 0, false);
    double live0 = metric("metastore_watch_live_revisions_total");
    /* txn 1: 3 events; txn 2 (failure branch): 1; txn 3 writes nothing. */
    struct watcher *w = watch("t/", 0, true, 4);
    struct watcher *plain = watch("t/", 0, false, 4);

    struct ms_compare cmp = {.target = MS_CMP_VALUE,
                             .op = MS_CMP_EQUAL,
                             .key = "t/b",
                             .key_len = 3,
                             .value = "1",
                             .value_len = 1};
    struct ms_op ops[3] = {
        {.type = MS_OP_PUT,
         .key = "t/c",
         .key_len = 3,
         .value = "2",
         .value_len = 1},
        {.type = MS_OP_PUT,
         .key = "t/a",
         .key_len = 3,
         .value = "new",
         .value_len = 3},
        {.type = MS_OP_DELETE, .key = "t/b", .key_len = 3},
    };
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_txn(c, &cmp, 1, ops, 3, NULL, 0, &r), 0);
    ck_assert(r->txn.succeeded);
    int64_t rev = r->header.revision;
    /* The server asked the engine for prev kvs; the client did not. */
    ck_assert_uint_eq(r->txn.n_responses, 3);
    ck_assert(!r->txn.responses[0].put.has_prev_kv);
    ck_assert_uint_eq(r->txn.responses[2].del.n_prev_kvs, 0);
    ms_result_free(r);

    /* t/b is gone: the failure branch runs. */
    struct ms_op fail_op = {.type = MS_OP_PUT,
                            .key = "t/f",
                            .key_len = 3,
                            .value = "f",
                            .value_len = 1};
    ck_assert_int_eq(ms_txn(c, &cmp, 1, ops, 3, &fail_op, 1, &r), 0);
    ck_assert(!r->txn.succeeded);
    int64_t rev2 = r->header.revision;
    ms_result_free(r);
    ck_assert_int_eq(rev2, rev + 1);
    /* Writes nothing (a delete of a missing key): no revision, no event. */
    struct ms_op nothing = {.type = MS_OP_DELETE, .key = "t/zz", .key_len = 4};
    ck_assert_int_eq(ms_txn(c, NULL, 0, &nothing, 1, NULL, 0, &r), 0);
    ck_assert_int_eq(r->header.revision, rev2);
    ms_result_free(r);
    put(c, "u/other", "x", 0, false);
    finish(w);
    finish(plain);

    const char *keys[] = {"t/a", "t/b", "t/c", "t/f"};
    int types[] = {MS_EVENT_PUT, MS_EVENT_DELETE, MS_EVENT_PUT, MS_EVENT_PUT};
    int64_t revs[] = {rev, rev, rev, rev2};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(w->ev[i].key, keys[i]);
        ck_assert_int_eq(w->ev[i].type, types[i]);
        ck_assert_int_eq(w->ev[i].mod, revs[i]);
        ck_assert(!plain->ev[i].has_prev);
    }
    ck_assert_int_eq(w->ev[0].create, rev); /* new key */
    ck_assert_int_eq(w->ev[0].version, 1);
    ck_assert_int_eq(w->ev[2].version, 2); /* t/c existed */
    ck_assert_int_lt(w->ev[2].create, rev);
    ck_assert_str_eq(w->ev[2].prev_value, "1");
    ck_assert_str_eq(w->ev[1].prev_value, "1");
    ck_assert_double_ge(metric("metastore_watch_live_revisions_total"),
                        live0 + 2);
    assert_history_agrees(w, true);
    assert_history_agrees(plain, false);
    watcher_free(w);
    watcher_free(plain);
    ms_client_close(c);
    stop();
}
END_TEST

START_TEST(live_events_carry_prev_kv_and_responses_only_what_was_asked)
{
    start(NULL);
    struct ms_client *c = client();
    put(c, "p/k", "0", 0, false);
    double hist0 = metric("metastore_watch_history_reads_total");
    struct watcher *with = watch("p/", 0, true, 4);
    struct watcher *without = watch("p/", 0, false, 4);

    put(c, "p/k", "1", 0, false);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "p/k", 3, "2", 1, 0, true, &r), 0);
    ck_assert(r->put.has_prev_kv); /* asked: given */
    ck_assert_int_eq(r->put.prev_kv.value_len, 1);
    ck_assert_int_eq(r->put.prev_kv.value[0], '1');
    ms_result_free(r);
    put(c, "p/new", "n", 0, false);
    ck_assert_int_eq(ms_delete(c, "p/k", 3, NULL, false, &r), 0);
    ck_assert_int_eq(r->del.deleted, 1);
    ck_assert_uint_eq(r->del.n_prev_kvs, 0); /* not asked: not given */
    ms_result_free(r);
    finish(with);
    finish(without);

    const char *prev[] = {"0", "1", "", "2"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(with->ev[i].has_prev, prev[i][0] != '\0');
        ck_assert_str_eq(with->ev[i].prev_value, prev[i]);
        ck_assert(!without->ev[i].has_prev);
    }
    ck_assert_int_eq(with->ev[1].prev_version, 2);
    ck_assert_int_eq(with->ev[1].version, 3);
    ck_assert_int_eq(with->ev[3].type, MS_EVENT_DELETE);
    ck_assert_int_eq(with->ev[3].prev_mod, with->ev[1].mod);
    /* Both caught up all along: not one history read. */
    ck_assert_double_eq(metric("metastore_watch_history_reads_total"), hist0);
    assert_history_agrees(with, true);
    assert_history_agrees(without, false);
    watcher_free(with);
    watcher_free(without);
    ms_client_close(c);
    stop();
}
END_TEST

/* Concurrent writers: each op is a put, a txn of two puts, or a delete of
 * the writer's previous key; every event it makes is recorded with the
 * revision the write got. */
#define WRITERS 4
#define OPS     120

struct want {
    int64_t rev;
    int type;
    char key[24];
    char value[128];
};

struct writer {
    pthread_t thread;
    int id;
    struct want ev[2 * OPS];
    size_t n;
};

static void value_of(char *buf, size_t cap, int w, int i)
{
    /* ~100 bytes, so a slow reader fills its connection's backlog. */
    snprintf(buf, cap, "v%d.%d.%090d", w, i, i);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ms_client *c = client();
    for (int i = 0; i < OPS; i++) {
        char k[24], k2[24], v[128];
        snprintf(k, sizeof k, "m/%d/%05d", w->id, i);
        snprintf(k2, sizeof k2, "m/%d/%05d", w->id, i + 50000);
        value_of(v, sizeof v, w->id, i);
        struct ms_result *r = NULL;
        if (i % 5 == 3) {
            struct ms_op ops[2] = {
                {.type = MS_OP_PUT,
                 .key = k2,
                 .key_len = strlen(k2),
                 .value = v,
                 .value_len = strlen(v)},
                {.type = MS_OP_PUT,
                 .key = k,
                 .key_len = strlen(k),
                 .value = v,
                 .value_len = strlen(v)},
            };
            ck_assert_int_eq(ms_txn(c, NULL, 0, ops, 2, NULL, 0, &r), 0);
            /* key order within the revision: k < k2 */
            struct want a = {r->header.revision, MS_EVENT_PUT, "", ""};
            snprintf(a.key, sizeof a.key, "%s", k);
            snprintf(a.value, sizeof a.value, "%s", v);
            w->ev[w->n++] = a;
            snprintf(a.key, sizeof a.key, "%s", k2);
            w->ev[w->n++] = a;
        } else if (i % 5 == 4) {
            char prevk[24];
            snprintf(prevk, sizeof prevk, "m/%d/%05d", w->id, i - 1);
            ck_assert_int_eq(
                ms_delete(c, prevk, strlen(prevk), NULL, false, &r), 0);
            ck_assert_int_eq(r->del.deleted, 1);
            struct want d = {r->header.revision, MS_EVENT_DELETE, "", ""};
            snprintf(d.key, sizeof d.key, "%s", prevk);
            w->ev[w->n++] = d;
        } else {
            ck_assert_int_eq(
                ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r), 0);
            struct want p = {r->header.revision, MS_EVENT_PUT, "", ""};
            snprintf(p.key, sizeof p.key, "%s", k);
            snprintf(p.value, sizeof p.value, "%s", v);
            w->ev[w->n++] = p;
        }
        ms_result_free(r);
    }
    ms_client_close(c);
    return NULL;
}

static int want_cmp(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    if (x->rev != y->rev) {
        return x->rev < y->rev ? -1 : 1;
    }
    return strcmp(x->key, y->key);
}

/* The watcher got exactly `all` events matching its prefix, in order. */
static void assert_got_exactly(const struct watcher *w, const struct want *all,
                               size_t n_all)
{
    size_t j = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (strncmp(all[i].key, w->key, strlen(w->key)) != 0) {
            continue;
        }
        ck_assert_msg(j < w->n, "watch %s: only %zu events", w->key, w->n);
        const struct ev *e = &w->ev[j];
        ck_assert_msg(e->mod == all[i].rev && e->type == all[i].type &&
                          strcmp(e->key, all[i].key) == 0 &&
                          strcmp(e->value, all[i].value) == 0,
                      "watch %s event %zu: got %d %s@%lld, want %d %s@%lld",
                      w->key, j, e->type, e->key, (long long)e->mod,
                      all[i].type, all[i].key, (long long)all[i].rev);
        j++;
    }
    ck_assert_uint_eq(j, w->n);
}

START_TEST(caught_up_lagging_and_held_back_watchers_get_every_write_once)
{
    /* The smallest backlog bound: the slow reader is held back often. */
    const char *extra[] = {"--set", "server.watch_backlog_bytes=4KiB", NULL};
    start(extra);
    struct ms_client *c = client();
    int64_t base = revision(c);
    size_t total = 0, per_writer = 0;
    for (int i = 0; i < OPS; i++) {
        per_writer += i % 5 == 3 ? 2 : 1;
    }
    total = WRITERS * per_writer;
    double hist0 = metric("metastore_watch_history_reads_total");
    struct watcher *live = watch("m/", 0, false, total);
    struct watcher *live1 = watch("m/1/", 0, true, per_writer);
    struct watcher *slow = watch("m/", 0, false, total);
    slow->sleep_us = 3000;
    static struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        ck_assert_int_eq(pthread_create(&w[i].thread, NULL, writer_main, &w[i]),
                         0);
    }
    /* Lagging: created while the writers run, from before their first
     * write; it reads history, then takes live events. */
    while (revision(c) < base + 40) {
        usleep(1000);
    }
    struct watcher *lag = watch("m/", base + 1, false, total);
    struct watcher *lag2 = watch("m/2/", base + 1, false, per_writer);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
    }
    struct watcher *ws[] = {live, live1, slow, lag, lag2};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        finish(ws[i]);
    }
    static struct want all[WRITERS * 2 * OPS];
    size_t n_all = 0;
    for (int i = 0; i < WRITERS; i++) {
        memcpy(all + n_all, w[i].ev, w[i].n * sizeof all[0]);
        n_all += w[i].n;
    }
    ck_assert_uint_eq(n_all, total);
    qsort(all, n_all, sizeof all[0], want_cmp);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        assert_got_exactly(ws[i], all, n_all);
    }
    /* Both paths served: revisions fed live, and history reads by the
     * lagging watchers (and the slow one, each time it was held back). */
    ck_assert_double_gt(metric("metastore_watch_live_revisions_total"), 0);
    ck_assert_double_gt(metric("metastore_watch_history_reads_total"), hist0);
    ck_assert_double_eq(metric("metastore_watch_slow_canceled_total"), 0);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        watcher_free(ws[i]);
    }
    ms_client_close(c);
    stop();
}
END_TEST

START_TEST(live_events_off_serves_everything_from_history)
{
    const char *extra[] = {"--set", "server.watch_live_events=false", NULL};
    start(extra);
    struct ms_client *c = client();
    struct watcher *w = watch("o/", 0, true, 3);
    put(c, "o/a", "1", 0, false);
    put(c, "o/a", "2", 0, false);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_delete(c, "o/a", 3, NULL, false, &r), 0);
    ms_result_free(r);
    finish(w);
    ck_assert_str_eq(w->ev[1].prev_value, "1");
    ck_assert_int_eq(w->ev[2].type, MS_EVENT_DELETE);
    ck_assert_double_eq(metric("metastore_watch_live_revisions_total"), 0);
    ck_assert_double_gt(metric("metastore_watch_history_reads_total"), 0);
    assert_history_agrees(w, true);
    watcher_free(w);
    ms_client_close(c);
    stop();
}
END_TEST

/* ---- a client that does not read ----------------------------------------- */

static int read_full(int fd, void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)p + done, n - done);
        if (r <= 0) {
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* Opens a watch stream on a connection with a tiny receive buffer and
 * does not read it. */
static int unread_watch(const char *prefix, const char *end)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(srv.client_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    Metastore__WatchCreateRequest cr = METASTORE__WATCH_CREATE_REQUEST__INIT;
    Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
    cr.key.data = (uint8_t *)prefix;
    cr.key.len = strlen(prefix);
    cr.range_end.data = (uint8_t *)end;
    cr.range_end.len = strlen(end);
    rq.request_union_case =
        METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    rq.create_request = &cr;
    uint8_t buf[256];
    size_t n = protobuf_c_message_get_packed_size(&rq.base);
    ck_assert_uint_le(n + MS__FRAME_HEADER_BYTES, sizeof buf);
    struct ms__frame_header h = {(uint32_t)n, MS__METHOD_WATCH, 0, 7};
    ms__frame_header_encode(&h, buf);
    protobuf_c_message_pack(&rq.base, buf + MS__FRAME_HEADER_BYTES);
    ck_assert_int_eq(write(fd, buf, n + MS__FRAME_HEADER_BYTES),
                     (ssize_t)(n + MS__FRAME_HEADER_BYTES));
    return fd;
}

/* Reads the next WatchResponse of the unread stream. */
static Metastore__WatchResponse *unread_next(int fd)
{
    uint8_t raw[MS__FRAME_HEADER_BYTES];
    struct ms__frame_header h;
    ck_assert_int_eq(read_full(fd, raw, sizeof raw), 0);
    ck_assert_int_eq(ms__frame_header_decode(raw, 64u << 20, &h), 0);
    ck_assert_uint_eq(h.request_id, 7);
    ck_assert_uint_eq(h.flags & MS__FLAG_ERROR, 0);
    uint8_t *body = malloc(h.length + 1);
    ck_assert_ptr_nonnull(body);
    ck_assert_int_eq(read_full(fd, body, h.length), 0);
    Metastore__WatchResponse *m =
        metastore__watch_response__unpack(NULL, h.length, body);
    free(body);
    ck_assert_ptr_nonnull(m);
    return m;
}

#define BIG_PUTS  400
#define BIG_VALUE 16384

START_TEST(held_back_watcher_resyncs_from_history_without_loss_or_cancel)
{
    const char *extra[] = {"--set", "server.watch_backlog_bytes=64KiB", NULL};
    start(extra);
    struct ms_client *c = client();
    int fd = unread_watch("big/", "big0");
    Metastore__WatchResponse *m = unread_next(fd); /* CREATED */
    ck_assert(m->created);
    metastore__watch_response__free_unpacked(m, NULL);
    /* A caught-up watcher on another connection keeps up meanwhile. */
    struct watcher *fast = watch("big/", 0, false, BIG_PUTS);
    char *value = malloc(BIG_VALUE + 1);
    ck_assert_ptr_nonnull(value);
    memset(value, 'v', BIG_VALUE);
    value[BIG_VALUE] = '\0';
    int64_t first = 0;
    for (int i = 0; i < BIG_PUTS; i++) {
        char key[32];
        snprintf(key, sizeof key, "big/%04d", i);
        int64_t rev = put(c, key, value, 0, false);
        first = i == 0 ? rev : first;
    }
    free(value);
    finish(fast);
    /* 6.5 MB went by: the unread stream's watcher was held back (its
     * queue freed), not canceled. */
    ck_assert_double_gt(metric("metastore_watch_holds_total"), 0);
    ck_assert_double_eq(metric("metastore_watch_slow_canceled_total"), 0);
    /* It reads now: every put once, in order (history, then live). */
    int64_t next = first;
    while (next < first + BIG_PUTS) {
        m = unread_next(fd);
        ck_assert(!m->canceled);
        for (size_t i = 0; i < m->n_events; i++) {
            const Metastore__Event *e = m->events[i];
            char key[32];
            snprintf(key, sizeof key, "big/%04d", (int)(next - first));
            ck_assert_int_eq(e->kv->mod_revision, next);
            ck_assert_uint_eq(e->kv->key.len, strlen(key));
            ck_assert(memcmp(e->kv->key.data, key, strlen(key)) == 0);
            ck_assert_uint_eq(e->kv->value.len, BIG_VALUE);
            next++;
        }
        metastore__watch_response__free_unpacked(m, NULL);
    }
    ck_assert_int_eq(next, first + BIG_PUTS);
    /* And live again afterwards. */
    int64_t rev = put(c, "big/last", "z", 0, false);
    m = unread_next(fd);
    ck_assert_uint_eq(m->n_events, 1);
    ck_assert_int_eq(m->events[0]->kv->mod_revision, rev);
    metastore__watch_response__free_unpacked(m, NULL);
    close(fd);
    watcher_free(fast);
    ms_client_close(c);
    stop();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch_live");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 120);
    tcase_add_test(
        tc, lease_revoke_and_expiry_delete_every_attached_key_at_one_revision);
    tcase_add_test(
        tc, txn_events_come_at_one_revision_in_key_order_as_history_has_them);
    tcase_add_test(tc,
                   live_events_carry_prev_kv_and_responses_only_what_was_asked);
    tcase_add_test(
        tc, caught_up_lagging_and_held_back_watchers_get_every_write_once);
    tcase_add_test(tc, live_events_off_serves_everything_from_history);
    tcase_add_test(
        tc, held_back_watcher_resyncs_from_history_without_loss_or_cancel);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
