/*
 * test_watch.c - Watch end to end on one real node: events in order and
 * exactly once under concurrent writers (checked against the revisions the
 * writes were given), watching from an old revision, the compacted-revision
 * error, the stream framing (STREAM / STREAM_END, several watchers on one
 * stream, cancel), server.max_watchers, a client that does not read its
 * stream is canceled as slow without harming another watcher or the
 * server's memory, resuming through ms_watch() after the node is killed
 * with SIGKILL and restarted, the "wait until deleted" pattern with a
 * timeout, and `metastore-cli watch` printing what etcdctl prints.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "client/internal.h"
#include "client/metastore.h"
#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/watchcoll.h"

static struct e2e_server srv;

static struct ms_client *client_for(const char *endpoint)
{
    const char *eps[] = {endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 5000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

/* Puts k = v; returns the revision of the write. */
static int64_t put_rev(struct ms_client *c, const char *k, const char *v)
{
    struct ms_result *r = NULL;
    int rc = ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r);
    ck_assert_msg(rc == 0, "put %s: %s", k, ms_strerror(rc));
    int64_t rev = r->header.revision;
    ms_result_free(r);
    return rev;
}

static int64_t del_rev(struct ms_client *c, const char *k)
{
    struct ms_result *r = NULL;
    int rc = ms_delete(c, k, strlen(k), NULL, false, &r);
    ck_assert_msg(rc == 0, "del %s: %s", k, ms_strerror(rc));
    int64_t rev = r->header.revision;
    ms_result_free(r);
    return rev;
}

/* ---- an event collector (test/e2e/helpers/watchcoll.c) --------------- */

/* Watches prefix on this test's server unless k already names endpoints. */
static void coll_start(struct watchcoll *k, const char *prefix, int64_t start,
                       size_t stop_after, int timeout_ms)
{
    if (k->n_endpoints == 0) {
        k->endpoints[0] = srv.endpoint;
        k->n_endpoints = 1;
    }
    k->copts.dial_timeout_ms = 500;
    k->copts.command_timeout_ms = 3000;
    watchcoll_start(k, prefix, start, stop_after, timeout_ms);
}

/* ---- raw protocol helpers -------------------------------------------- */

static void raw_send(int fd, uint64_t rid, const Metastore__WatchRequest *rq)
{
    size_t n = protobuf_c_message_get_packed_size(&rq->base);
    uint8_t buf[512];
    ck_assert_uint_le(n + MS__FRAME_HEADER_BYTES, sizeof buf);
    struct ms__frame_header h = {(uint32_t)n, MS__METHOD_WATCH, 0, rid};
    ms__frame_header_encode(&h, buf);
    protobuf_c_message_pack(&rq->base, buf + MS__FRAME_HEADER_BYTES);
    ck_assert_int_eq(write(fd, buf, n + MS__FRAME_HEADER_BYTES),
                     (ssize_t)(n + MS__FRAME_HEADER_BYTES));
}

static void raw_create(int fd, uint64_t rid, const char *prefix_key,
                       const char *end)
{
    Metastore__WatchCreateRequest cr = METASTORE__WATCH_CREATE_REQUEST__INIT;
    Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
    cr.key.data = (uint8_t *)prefix_key;
    cr.key.len = strlen(prefix_key);
    if (end != NULL) {
        cr.range_end.data = (uint8_t *)end;
        cr.range_end.len = strlen(end);
    }
    rq.request_union_case = METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    rq.create_request = &cr;
    raw_send(fd, rid, &rq);
}

static void raw_cancel(int fd, uint64_t rid, int64_t id)
{
    Metastore__WatchCancelRequest cr = METASTORE__WATCH_CANCEL_REQUEST__INIT;
    Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
    cr.watch_id = id;
    rq.request_union_case = METASTORE__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST;
    rq.cancel_request = &cr;
    raw_send(fd, rid, &rq);
}

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

/* Reads one frame (e2e_connect sockets have a 5 s receive timeout).  The
 * body is malloc'ed into *body. */
static void raw_read(int fd, struct ms__frame_header *h, uint8_t **body)
{
    uint8_t raw[MS__FRAME_HEADER_BYTES];
    ck_assert_int_eq(read_full(fd, raw, sizeof raw), 0);
    ck_assert_int_eq(ms__frame_header_decode(raw, 64u << 20, h), 0);
    *body = malloc(h->length + 1);
    ck_assert_ptr_nonnull(*body);
    ck_assert_int_eq(read_full(fd, *body, h->length), 0);
}

/* Reads one WatchResponse frame of stream rid; checks its flags. */
static Metastore__WatchResponse *raw_resp(int fd, uint64_t rid, bool end)
{
    struct ms__frame_header h;
    uint8_t *body;
    raw_read(fd, &h, &body);
    ck_assert_uint_eq(h.request_id, rid);
    ck_assert_uint_eq(h.method, MS__METHOD_WATCH);
    ck_assert_uint_eq(h.flags & MS__FLAG_ERROR, 0);
    ck_assert_uint_ne(h.flags & MS__FLAG_STREAM, 0);
    ck_assert_msg(((h.flags & MS__FLAG_STREAM_END) != 0) == end,
                  "STREAM_END %s expected", end ? "" : "not");
    Metastore__WatchResponse *m =
        metastore__watch_response__unpack(NULL, h.length, body);
    free(body);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* ---- tests ------------------------------------------------------------- */

#define WRITERS 4
#define PER_WRITER 150

struct writer {
    pthread_t thread;
    int id;
    int64_t rev[PER_WRITER];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ms_client *c = client_for(srv.endpoint);
    for (int i = 0; i < PER_WRITER; i++) {
        char k[48], v[48];
        snprintf(k, sizeof k, "cw/%d/%04d", w->id, i);
        snprintf(v, sizeof v, "v%d.%d", w->id, i);
        w->rev[i] = put_rev(c, k, v);
    }
    ms_client_close(c);
    return NULL;
}

START_TEST(events_in_order_exactly_once_under_concurrent_writers)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t base = put_rev(c, "other", "x");
    static struct watchcoll k, k2;
    watchcoll_init(&k);
    watchcoll_init(&k2);
    coll_start(&k, "cw/", base + 1, WRITERS * PER_WRITER, 30000);
    /* A second watcher on one writer's keys only, with prev_kv. */
    k2.o.prev_kv = true;
    coll_start(&k2, "cw/1/", base + 1, PER_WRITER, 30000);
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i].id = i;
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    /* Other keys change meanwhile: the watchers must not see them. */
    for (int i = 0; i < 50; i++) {
        put_rev(c, "other", "y");
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
    }
    pthread_join(k.thread, NULL);
    pthread_join(k2.thread, NULL);
    ck_assert_int_eq(k.rc, 0);
    ck_assert_int_eq(k2.rc, 0);
    ck_assert_uint_eq(k.n, WRITERS * PER_WRITER);
    ck_assert_int_eq(k.created, 1);
    /* Exactly the writes, in revision order: the event at each position
     * is the write that got that revision. */
    for (size_t i = 0; i < k.n; i++) {
        if (i > 0) {
            ck_assert_int_gt(k.rev[i], k.rev[i - 1]);
        }
        int wi, wj;
        ck_assert_int_eq(sscanf(k.key[i], "cw/%d/%d", &wi, &wj), 2);
        ck_assert_int_eq(w[wi].rev[wj], k.rev[i]);
        char v[48];
        snprintf(v, sizeof v, "v%d.%d", wi, wj);
        ck_assert_str_eq(k.value[i], v);
    }
    ck_assert_uint_eq(k2.n, PER_WRITER);
    for (size_t i = 0; i < k2.n; i++) {
        char key[48];
        snprintf(key, sizeof key, "cw/1/%04zu", i);
        ck_assert_str_eq(k2.key[i], key);
        ck_assert_int_eq(k2.rev[i], w[1].rev[i]);
    }
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

START_TEST(old_revision_replays_and_compacted_revision_fails)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t r1 = put_rev(c, "h/a", "1");
    int64_t r2 = put_rev(c, "h/b", "2");
    int64_t r3 = del_rev(c, "h/a");
    int64_t r4 = put_rev(c, "h/a", "3");

    /* From the first revision; timeout 0 returns once caught up. */
    static struct watchcoll k;
    watchcoll_init(&k);
    struct ms_watch_options o = {.key = "h/", .key_len = 2, .prefix = true,
                                 .start_revision = r1, .prev_kv = true};
    ck_assert_int_eq(ms_watch(c, &o, 0, watchcoll_cb, &k), 0);
    ck_assert_uint_eq(k.n, 4);
    int64_t want_rev[] = {r1, r2, r3, r4};
    int want_type[] = {MS_EVENT_PUT, MS_EVENT_PUT, MS_EVENT_DELETE,
                       MS_EVENT_PUT};
    const char *want_key[] = {"h/a", "h/b", "h/a", "h/a"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(k.rev[i], want_rev[i]);
        ck_assert_int_eq(k.type[i], want_type[i]);
        ck_assert_str_eq(k.key[i], want_key[i]);
    }

    /* The library may be used again after a watch. */
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_compact(c, r2, false, &r), 0);
    ms_result_free(r);
    watchcoll_init(&k);
    o.start_revision = r1;
    ck_assert_int_eq(ms_watch(c, &o, 3000, watchcoll_cb, &k), MS_ECOMPACTED);
    ck_assert_int_eq(k.canceled, 1);
    ck_assert_int_eq(k.compact_rev, r2);
    ck_assert_uint_eq(k.n, 0);

    watchcoll_init(&k);
    o.start_revision = r2 + 1;
    ck_assert_int_eq(ms_watch(c, &o, 0, watchcoll_cb, &k), 0);
    ck_assert_uint_eq(k.n, 2);
    ck_assert_int_eq(k.rev[0], r3);
    ck_assert_int_eq(k.rev[1], r4);

    /* Bad options never reach the server. */
    struct ms_watch_options bad = {.key = "", .key_len = 0};
    ck_assert_int_eq(ms_watch(c, &bad, 0, watchcoll_cb, &k), MS_EINVAL);
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

START_TEST(stream_framing_and_max_watchers)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "server.max_watchers=3", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);

    /* Two watchers on one stream (request id 7), a third on another. */
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    raw_create(fd, 7, "s/a", NULL);
    Metastore__WatchResponse *m = raw_resp(fd, 7, false);
    ck_assert(m->created);
    int64_t id_a = m->watch_id;
    metastore__watch_response__free_unpacked(m, NULL);
    raw_create(fd, 7, "s/b", NULL);
    m = raw_resp(fd, 7, false);
    ck_assert(m->created);
    int64_t id_b = m->watch_id;
    ck_assert_int_ne(id_a, id_b);
    metastore__watch_response__free_unpacked(m, NULL);
    int fd2 = e2e_connect(srv.client_port);
    raw_create(fd2, 1, "s/", "s0");
    m = raw_resp(fd2, 1, false);
    ck_assert(m->created);
    metastore__watch_response__free_unpacked(m, NULL);

    /* The limit: a fourth watcher is refused, the stream never opens. */
    int fd3 = e2e_connect(srv.client_port);
    raw_create(fd3, 9, "s/c", NULL);
    struct ms__frame_header h;
    uint8_t *body;
    raw_read(fd3, &h, &body);
    ck_assert_uint_eq(h.request_id, 9);
    ck_assert_uint_eq(h.flags, MS__FLAG_RESPONSE | MS__FLAG_ERROR |
                                   MS__FLAG_STREAM | MS__FLAG_STREAM_END);
    Metastore__ErrorDetail *d =
        metastore__error_detail__unpack(NULL, h.length, body);
    free(body);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(d->code, MS_STATUS_RESOURCE_EXHAUSTED);
    ck_assert_ptr_nonnull(strstr(d->message, "server.max_watchers"));
    metastore__error_detail__free_unpacked(d, NULL);
    static struct watchcoll k;
    watchcoll_init(&k);
    struct ms_watch_options o = {.key = "s/z", .key_len = 3};
    ck_assert_int_eq(ms_watch(c, &o, 0, watchcoll_cb, &k), MS_EEXHAUSTED);

    /* Events go to the right watcher of the shared stream. */
    int64_t rb = put_rev(c, "s/b", "B");
    m = raw_resp(fd, 7, false);
    ck_assert_int_eq(m->watch_id, id_b);
    ck_assert_uint_eq(m->n_events, 1);
    ck_assert_int_eq(m->events[0]->kv->mod_revision, rb);
    ck_assert_int_eq(m->header->revision, rb);
    metastore__watch_response__free_unpacked(m, NULL);
    m = raw_resp(fd2, 1, false);
    ck_assert_uint_eq(m->n_events, 1);
    metastore__watch_response__free_unpacked(m, NULL);

    /* Cancel: the first keeps the stream open, the last ends it. */
    raw_cancel(fd, 7, id_a);
    m = raw_resp(fd, 7, false);
    ck_assert(m->canceled);
    ck_assert_int_eq(m->watch_id, id_a);
    metastore__watch_response__free_unpacked(m, NULL);
    raw_cancel(fd, 7, id_a); /* gone: NOT_FOUND, stream still open */
    raw_read(fd, &h, &body);
    free(body);
    ck_assert_uint_eq(h.flags, MS__FLAG_RESPONSE | MS__FLAG_ERROR |
                                   MS__FLAG_STREAM);
    raw_cancel(fd, 7, id_b);
    m = raw_resp(fd, 7, true);
    ck_assert(m->canceled);
    ck_assert_int_eq(m->watch_id, id_b);
    metastore__watch_response__free_unpacked(m, NULL);

    /* Two slots are free again; a closed connection frees its watchers. */
    close(fd2);
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    do {
        watchcoll_init(&k);
        rc = ms_watch(c, &o, 0, watchcoll_cb, &k);
    } while (rc != 0 && e2e_now_ms() < deadline);
    ck_assert_int_eq(rc, 0);
    close(fd);
    close(fd3);
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = atol(line + 6);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kib;
}

#define SLOW_PUTS 400
#define SLOW_VALUE 16384

START_TEST(slow_watcher_is_canceled_without_harming_others)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "server.watch_backlog_bytes=64KiB",
                           "--set", "server.watch_slow_timeout=1s", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t base = put_rev(c, "x", "x");

    /* The slow client: a tiny receive buffer, and it never reads. */
    int slow = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(srv.client_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(slow, (struct sockaddr *)&sa, sizeof sa), 0);
    raw_create(slow, 3, "big/", "big0");

    static struct watchcoll k;
    watchcoll_init(&k);
    coll_start(&k, "big/", base + 1, SLOW_PUTS, 60000);
    long rss0 = rss_kib(srv.pid);
    char *value = malloc(SLOW_VALUE + 1);
    memset(value, 'v', SLOW_VALUE);
    value[SLOW_VALUE] = '\0';
    for (int i = 0; i < SLOW_PUTS; i++) {
        char key[32];
        snprintf(key, sizeof key, "big/%04d", i);
        put_rev(c, key, value);
    }
    free(value);
    pthread_join(k.thread, NULL);
    ck_assert_int_eq(k.rc, 0);
    ck_assert_uint_eq(k.n, SLOW_PUTS);
    for (size_t i = 1; i < k.n; i++) {
        ck_assert_int_eq(k.rev[i], k.rev[i - 1] + 1);
    }
    /* The slow one is canceled within the timeout (+ timer slack). */
    uint64_t deadline = e2e_now_ms() + 10000;
    while (!e2e_server_log_contains(&srv, "as slow") &&
           e2e_now_ms() < deadline) {
        usleep(10000);
    }
    ck_assert(e2e_server_log_contains(&srv, "as slow"));
    /* 6.5 MB of values went by; the slow stream held at most its backlog
     * bound plus socket buffers. */
    long rss1 = rss_kib(srv.pid);
#ifndef __SANITIZE_ADDRESS__
    /* (AddressSanitizer's quarantine keeps freed memory: no bound there.) */
    ck_assert_msg(rss1 - rss0 < 48 * 1024, "server grew from %ld to %ld KiB",
                  rss0, rss1);
#else
    (void)rss0;
    (void)rss1;
#endif
    /* When it finally reads, it finds a CANCELED response with a reason. */
    struct timeval tv = {5, 0};
    setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool found = false;
    for (int i = 0; i < 100000 && !found; i++) {
        struct ms__frame_header h;
        uint8_t *body;
        raw_read(slow, &h, &body);
        Metastore__WatchResponse *m =
            metastore__watch_response__unpack(NULL, h.length, body);
        free(body);
        ck_assert_ptr_nonnull(m);
        if (m->canceled) {
            ck_assert_ptr_nonnull(strstr(m->cancel_reason, "slow watcher"));
            ck_assert_uint_ne(h.flags & MS__FLAG_STREAM_END, 0);
            found = true;
        }
        metastore__watch_response__free_unpacked(m, NULL);
    }
    ck_assert(found);
    close(slow);
    /* The server still answers. */
    put_rev(c, "after", "ok");
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

#define RESUME_EACH 100

START_TEST(resume_after_sigkill_and_restart_misses_and_repeats_nothing)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t base = put_rev(c, "x", "x");
    static struct watchcoll k;
    watchcoll_init(&k);
    coll_start(&k, "r/", base + 1, 2 * RESUME_EACH, 60000);
    int64_t revs[2 * RESUME_EACH];
    for (int i = 0; i < RESUME_EACH; i++) {
        char key[32];
        snprintf(key, sizeof key, "r/%04d", i);
        revs[i] = put_rev(c, key, "v");
    }
    watchcoll_wait(&k, RESUME_EACH / 2, 10000);
    int st = e2e_server_stop(&srv, SIGKILL, 5000);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    ms_client_close(c); /* its connection died with the server */
    c = client_for(srv.endpoint);
    for (int i = RESUME_EACH; i < 2 * RESUME_EACH; i++) {
        char key[32];
        snprintf(key, sizeof key, "r/%04d", i);
        revs[i] = put_rev(c, key, "v");
    }
    pthread_join(k.thread, NULL);
    ck_assert_int_eq(k.rc, 0);
    ck_assert_uint_eq(k.n, 2 * RESUME_EACH);
    for (int i = 0; i < 2 * RESUME_EACH; i++) {
        char key[32];
        snprintf(key, sizeof key, "r/%04d", i);
        ck_assert_str_eq(k.key[i], key);
        ck_assert_int_eq(k.rev[i], revs[i]);
    }
    ck_assert_int_eq(k.created, 1); /* shown once, although it reconnected */
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

/* The pattern lock/elect will use: wait until a key is deleted. */
static int until_deleted(void *arg, const struct ms_watch_response *r)
{
    (void)arg;
    for (size_t i = 0; i < r->n_events; i++) {
        if (r->events[i].type == MS_EVENT_DELETE) {
            return 1;
        }
    }
    return 0;
}

static void *delete_later(void *arg)
{
    usleep(200000);
    struct ms_client *c = client_for(srv.endpoint);
    del_rev(c, (const char *)arg);
    ms_client_close(c);
    return NULL;
}

START_TEST(wait_until_deleted_with_a_timeout)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t rev = put_rev(c, "lock/a", "me");
    struct ms_watch_options o = {.key = "lock/a", .key_len = 6,
                                 .start_revision = rev + 1};
    uint64_t t0 = e2e_now_ms();
    ck_assert_int_eq(ms_watch(c, &o, 300, until_deleted, NULL), MS_ETIMEDOUT);
    ck_assert_uint_ge(e2e_now_ms() - t0, 290);
    pthread_t t;
    pthread_create(&t, NULL, delete_later, (void *)"lock/a");
    ck_assert_int_eq(ms_watch(c, &o, 10000, until_deleted, NULL), 0);
    pthread_join(t, NULL);
    /* A delete that happened before the watch started is still seen. */
    ck_assert_int_eq(ms_watch(c, &o, 2000, until_deleted, NULL), 0);
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

/* Starts metastore-cli with stdout into path; returns its pid. */
static pid_t cli_spawn(const char *path, const char *const *args)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        const char *argv[16];
        int n = 0;
        char ep[96];
        snprintf(ep, sizeof ep, "--endpoints=%s", srv.endpoint);
        argv[n++] = e2e_bin("metastore-cli");
        argv[n++] = ep;
        for (int i = 0; args[i] != NULL && n < 15; i++) {
            argv[n++] = args[i];
        }
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static bool file_equals(const char *path, const char *want)
{
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strcmp(buf, want) == 0;
}

/* Occurrences of needle in the file (at most 4 KiB read). */
static size_t file_count(const char *path, const char *needle)
{
    char buf[4096] = "";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    size_t count = 0;
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p++) {
        count++;
    }
    return count;
}

START_TEST(cli_watch_prints_what_etcdctl_prints)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t rev = put_rev(c, "foo", "bar");
    char from[32];
    snprintf(from, sizeof from, "--rev=%lld", (long long)rev + 1);
    char p1[320], p2[320];
    snprintf(p1, sizeof p1, "%s/watch1.out", srv.dir);
    snprintf(p2, sizeof p2, "%s/watch2.out", srv.dir);
    const char *a1[] = {"watch", "foo", "--prev-kv", from, NULL};
    const char *a2[] = {"watch", "f", "--prefix", from, "-w", "json", NULL};
    pid_t w1 = cli_spawn(p1, a1);
    pid_t w2 = cli_spawn(p2, a2);
    put_rev(c, "foo", "baz");
    put_rev(c, "fox", "1");
    del_rev(c, "foo");
    const char *want = "PUT\nfoo\nbar\nfoo\nbaz\n"
                       "DELETE\nfoo\nbaz\nfoo\n\n";
    uint64_t deadline = e2e_now_ms() + 10000;
    /* One json line per response; a response may hold several revisions
     * (a watcher catching up), so count events, not lines. */
    while ((!file_equals(p1, want) || file_count(p2, "mod_revision") < 3) &&
           e2e_now_ms() < deadline) {
        usleep(10000);
    }
    ck_assert_msg(file_equals(p1, want), "cli watch output differs");
    ck_assert_uint_eq(file_count(p2, "mod_revision"), 3);
    kill(w1, SIGINT);
    kill(w2, SIGINT);
    int st;
    ck_assert_int_eq(waitpid(w1, &st, 0), w1);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ck_assert_int_eq(waitpid(w2, &st, 0), w2);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The json lines: Go's encoding of clientv3.WatchResponse. */
    FILE *f = fopen(p2, "r");
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_ptr_nonnull(strstr(line, "{\"Header\":{\"cluster_id\":"));
    ck_assert_ptr_nonnull(strstr(line, "\"Events\":[{\"kv\":{\"key\":\"Zm9v\""));
    ck_assert_uint_eq(file_count(p2, "\"value\":\"YmF6\"}}"), 1);
    ck_assert_uint_eq(file_count(p2, "{\"type\":1,\"kv\":{\"key\":\"Zm9v\""), 1);
    ck_assert_uint_ge(file_count(p2, "],\"CompactRevision\":0,"
                                     "\"Canceled\":false,\"Created\":false}\n"),
                      1);

    /* Usage errors exit 2; a compacted --rev exits 1 with the reason. */
    char out[512], err[512];
    const char *bad[] = {"watch", NULL};
    ck_assert_int_eq(e2e_cli(srv.endpoint, NULL, out, sizeof out, err,
                             sizeof err, bad),
                     2);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_compact(c, rev + 1, false, &r), 0);
    ms_result_free(r);
    const char *old[] = {"watch", "foo", "--rev=1", NULL};
    ck_assert_int_eq(e2e_cli(srv.endpoint, NULL, out, sizeof out, err,
                             sizeof err, old),
                     1);
    ck_assert_ptr_nonnull(strstr(err, "compacted"));
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

struct progress_seen {
    int progress;
    int64_t last_rev;
};

static int count_progress(void *arg, const struct ms_watch_response *r)
{
    struct progress_seen *p = arg;
    if (r->progress) {
        p->progress++;
        p->last_rev = r->header.revision;
    }
    return p->progress >= 2;
}

START_TEST(idle_watchers_get_progress_notifications)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "server.watch_progress_interval=200ms",
                           NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    struct ms_client *c = client_for(srv.endpoint);
    int64_t rev = put_rev(c, "other", "x");
    struct progress_seen p = {0, 0};
    struct ms_watch_options o = {.key = "idle", .key_len = 4,
                                 .progress_notify = true};
    uint64_t t0 = e2e_now_ms();
    ck_assert_int_eq(ms_watch(c, &o, 5000, count_progress, &p), 0);
    ck_assert_int_eq(p.progress, 2);
    ck_assert_int_eq(p.last_rev, rev);
    /* two idle periods (the hub clock moves in 100 ms timer steps) */
    ck_assert_uint_ge(e2e_now_ms() - t0, 250);
    /* Without progress_notify an idle watcher hears nothing. */
    p = (struct progress_seen){0, 0};
    o.progress_notify = false;
    ck_assert_int_eq(ms_watch(c, &o, 700, count_progress, &p), MS_ETIMEDOUT);
    ck_assert_int_eq(p.progress, 0);
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 10000), 0);
    e2e_server_cleanup(&srv);
}
END_TEST

START_TEST(watch_settings_are_validated)
{
    const char *bad[][2] = {
        {"--set", "server.max_watchers=0"},
        {"--set", "server.watch_backlog_bytes=100"},
        {"--set", "server.watch_batch_events=0"},
        {"--set", "server.watch_progress_interval=1ms"},
        {"--set", "server.watch_slow_timeout=2h"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char out[256], err[512];
        const char *args[] = {bad[i][0], bad[i][1], "--print-config", NULL};
        /* metastored, not the cli: run it through a shell-free fork. */
        int pipefd[2];
        ck_assert_int_eq(pipe(pipefd), 0);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pipefd[1], 2);
            dup2(pipefd[1], 1);
            execl(e2e_bin("metastored"), "metastored", args[0], args[1],
                  args[2], (char *)NULL);
            _exit(127);
        }
        close(pipefd[1]);
        ssize_t n = read(pipefd[0], err, sizeof err - 1);
        err[n > 0 ? n : 0] = '\0';
        close(pipefd[0]);
        int st;
        waitpid(pid, &st, 0);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 1,
                      "%s accepted", bad[i][1]);
        snprintf(out, sizeof out, "%.*s", (int)(strchr(bad[i][1], '=') -
                                               bad[i][1]), bad[i][1]);
        ck_assert_msg(strstr(err, out) != NULL, "error does not name %s: %s",
                      out, err);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("one node");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, events_in_order_exactly_once_under_concurrent_writers);
    tcase_add_test(tc, old_revision_replays_and_compacted_revision_fails);
    tcase_add_test(tc, stream_framing_and_max_watchers);
    tcase_add_test(tc, slow_watcher_is_canceled_without_harming_others);
    tcase_add_test(tc, resume_after_sigkill_and_restart_misses_and_repeats_nothing);
    tcase_add_test(tc, wait_until_deleted_with_a_timeout);
    tcase_add_test(tc, cli_watch_prints_what_etcdctl_prints);
    tcase_add_test(tc, watch_settings_are_validated);
    tcase_add_test(tc, idle_watchers_get_progress_notifications);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
