/*
 * test_peer.c - the peer transport (server/peer.h) on a real libuv loop:
 * two or three transports in this process on 127.0.0.1 ephemeral ports.
 *
 * No sleeps: every test runs the loop until a condition holds or a
 * deadline passes (and a missed deadline fails the test).  Each test ends
 * by closing every transport and checking that the loop has no handle
 * left (uv_loop_close() == 0); ASan checks the memory.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/raft.pb-c.h"
#include "server/frame.h"
#include "server/log.h"
#include "server/peer.h"
#include "server/status.h"

/* Generous: only a failing test waits this long (machines under load). */
#define DEADLINE_MS 20000
/* A cluster id of this process: should another test program grab a port
 * one of ours just released, its transports refuse ours and vice versa. */
#define CLUSTER ((uint64_t)getpid() * 1000u)
#define MAX_GOT 4096

struct node {
    raft_id id;
    struct peer_transport *t;
    int port;
    char addr[64];
    /* received Raft messages (scalars; entry 0's length) */
    struct raft_message got[MAX_GOT];
    size_t n_got;
    /* forwards received */
    struct peer_forward_token *token;
    uint16_t fwd_method;
    char fwd_body[64];
    uint64_t fwd_timeout_ms;
    raft_id fwd_from;
    int n_fwd;
    bool answer_now; /* reply from inside on_forward */
};

static uv_loop_t loop;
static struct node *all_nodes[4];
static size_t n_nodes;

static void on_message(void *data, const struct raft_message *m)
{
    struct node *n = data;
    ck_assert_uint_lt(n->n_got, MAX_GOT);
    struct raft_message *c = &n->got[n->n_got++];
    *c = *m;
    c->n_entries = m->n_entries;
    c->entries = NULL; /* borrowed parts are not kept */
    c->snap_data = NULL;
    c->reject_hint = m->n_entries > 0 ? m->entries[0].len : 0;
}

static void on_forward(void *data, raft_id from, uint16_t method,
                       const uint8_t *body, size_t len, uint64_t timeout_ms,
                       struct peer_forward_token *token)
{
    struct node *n = data;
    n->n_fwd++;
    n->fwd_from = from;
    n->fwd_method = method;
    n->fwd_timeout_ms = timeout_ms;
    snprintf(n->fwd_body, sizeof(n->fwd_body), "%.*s", (int)len,
             (const char *)body);
    if (n->answer_now) {
        peer_forward_reply(n->t, token, false, (const uint8_t *)"answer", 6);
        return;
    }
    n->token = token;
}

static struct peer_transport_options test_opts(void)
{
    struct peer_transport_options o;
    peer_transport_options_default(&o);
    o.backoff_min_ms = 10;
    o.backoff_max_ms = 40;
    o.hello_timeout_ms = 15000;
    o.seed = 42;
    return o;
}

/* Starts node `id` listening on `port` (0: ephemeral) in cluster `cluster`. */
static void node_start(struct node *n, raft_id id, uint64_t cluster, int port,
                       const struct peer_transport_options *o)
{
    memset(n, 0, sizeof(*n));
    n->id = id;
    struct peer_callbacks cb = {n, on_message, on_forward};
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    ck_assert_int_eq(
        peer_transport_create(&loop, id, cluster, listen, &cb, o, &n->t), 0);
    n->port = peer_transport_listen_port(n->t);
    ck_assert_int_gt(n->port, 0);
    snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%d", n->port);
    all_nodes[n_nodes++] = n;
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

static void deadline_cb(uv_timer_t *h)
{
    *(bool *)h->data = true;
}

/* Runs the loop (flushing every transport each turn, as the daemon does)
 * until cond(arg) holds; false if the deadline passed first. */
static bool run_until(bool (*cond)(void *), void *arg)
{
    bool expired = false;
    uv_timer_t timer;
    uv_timer_init(&loop, &timer);
    timer.data = &expired;
    uv_timer_start(&timer, deadline_cb, DEADLINE_MS, 0);
    bool ok;
    while (!(ok = cond(arg)) && !expired) {
        for (size_t i = 0; i < n_nodes; i++)
            if (all_nodes[i]->t != NULL)
                peer_transport_flush(all_nodes[i]->t);
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ok;
}

static bool is_true(void *arg)
{
    return *(bool *)arg;
}

static void node_stop(struct node *n)
{
    bool closed = false;
    peer_transport_close(n->t, on_closed, &closed);
    n->t = NULL;
    ck_assert(run_until(is_true, &closed));
}

static void setup(void)
{
    ms_log_configure(getenv("PEER_TEST_DEBUG") ? MS_LOG_DEBUG : MS_LOG_ERROR,
                     MS_LOG_TEXT);
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    n_nodes = 0;
}

static void teardown(void)
{
    for (size_t i = 0; i < n_nodes; i++)
        if (all_nodes[i]->t != NULL)
            node_stop(all_nodes[i]);
    uv_run(&loop, UV_RUN_NOWAIT);
    ck_assert_int_eq(uv_loop_close(&loop), 0); /* every handle closed */
}

/* ---- conditions ---------------------------------------------------------- */

struct want {
    struct node *n;
    raft_id peer;
    uint64_t count;
};

static struct peer_stats stats(struct node *n, raft_id peer)
{
    struct peer_stats st;
    ck_assert_int_eq(peer_transport_stats(n->t, peer, &st), 0);
    return st;
}

static bool connected(void *arg)
{
    struct want *w = arg;
    return stats(w->n, w->peer).connected;
}

static bool disconnected(void *arg)
{
    return !connected(arg);
}

static bool got_at_least(void *arg)
{
    struct want *w = arg;
    return w->n->n_got >= w->count;
}

static bool dropped_at_least(void *arg)
{
    struct want *w = arg;
    return stats(w->n, w->peer).msgs_dropped >= w->count;
}

static bool dials_at_least(void *arg)
{
    struct want *w = arg;
    return stats(w->n, w->peer).dials >= w->count;
}

static bool bytes_received_at_least(void *arg)
{
    struct want *w = arg;
    return stats(w->n, w->peer).bytes_received >= w->count;
}

static void connect_pair(struct node *a, struct node *b)
{
    ck_assert_int_eq(peer_transport_set_peer(a->t, b->id, b->addr), 0);
    ck_assert_int_eq(peer_transport_set_peer(b->t, a->id, a->addr), 0);
    struct want wa = {a, b->id, 0}, wb = {b, a->id, 0};
    ck_assert(run_until(connected, &wa));
    ck_assert(run_until(connected, &wb));
}

static struct raft_message heartbeat(raft_id from, raft_id to, uint64_t seq)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_HEARTBEAT;
    m.from = from;
    m.to = to;
    m.term = 3;
    m.seq = seq;
    return m;
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(two_transports_exchange_messages_both_ways_in_order)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    for (uint64_t i = 0; i < 10; i++) {
        struct raft_message m = heartbeat(1, 2, i);
        peer_transport_send(a.t, &m);
        m = heartbeat(2, 1, 100 + i);
        peer_transport_send(b.t, &m);
    }
    struct want wa = {&a, 2, 10}, wb = {&b, 1, 10};
    ck_assert(run_until(got_at_least, &wb));
    ck_assert(run_until(got_at_least, &wa));
    for (uint64_t i = 0; i < 10; i++) {
        ck_assert_uint_eq(b.got[i].seq, i);
        ck_assert_uint_eq(b.got[i].from, 1);
        ck_assert_uint_eq(b.got[i].to, 2);
        ck_assert_uint_eq(b.got[i].term, 3);
        ck_assert_uint_eq(a.got[i].seq, 100 + i);
    }
    struct peer_stats st = stats(&a, 2);
    ck_assert_uint_eq(st.msgs_sent, 10);
    ck_assert_uint_eq(st.msgs_dropped, 0);
    ck_assert_uint_eq(stats(&b, 1).msgs_received, 10);
}
END_TEST

START_TEST(messages_sent_before_hello_completes_wait_and_arrive)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, b.addr), 0);
    ck_assert(!stats(&a, 2).connected);
    for (uint64_t i = 0; i < 5; i++) {
        struct raft_message m = heartbeat(1, 2, i);
        peer_transport_send(a.t, &m);
    }
    peer_transport_flush(a.t); /* not up yet: nothing written */
    ck_assert_uint_eq(stats(&a, 2).msgs_sent, 0);
    struct want wb = {&b, 1, 5};
    ck_assert(run_until(got_at_least, &wb));
    for (uint64_t i = 0; i < 5; i++)
        ck_assert_uint_eq(b.got[i].seq, i);
    ck_assert_uint_eq(stats(&a, 2).msgs_dropped, 0);
}
END_TEST

START_TEST(hundred_sends_before_one_flush_go_in_one_frame_in_order)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    struct peer_stats before = stats(&a, 2);
    for (uint64_t i = 0; i < 100; i++) {
        struct raft_message m = heartbeat(1, 2, i);
        peer_transport_send(a.t, &m);
    }
    peer_transport_flush(a.t);
    struct peer_stats after = stats(&a, 2);
    ck_assert_uint_eq(after.frames_sent - before.frames_sent, 1);
    ck_assert_uint_eq(after.msgs_sent - before.msgs_sent, 100);
    struct want wb = {&b, 1, 100};
    ck_assert(run_until(got_at_least, &wb));
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_uint_eq(b.got[i].seq, i);
}
END_TEST

START_TEST(batches_split_at_the_frame_limit_and_keep_order)
{
    struct peer_transport_options o = test_opts();
    o.max_frame_bytes = 4096;
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    static uint8_t data[1500];
    memset(data, 0xab, sizeof(data));
    for (uint64_t i = 0; i < 20; i++) {
        struct raft_entry e = {
            .term = 3, .index = i + 1, .len = sizeof(data), .data = data};
        struct raft_message m = heartbeat(1, 2, i);
        m.type = RAFT_MSG_APPEND;
        m.entries = &e;
        m.n_entries = 1;
        peer_transport_send(a.t, &m);
    }
    /* Too large for any frame: dropped, not sent. */
    static uint8_t huge[8192];
    struct raft_entry big = {
        .term = 3, .index = 21, .len = sizeof(huge), .data = huge};
    struct raft_message m = heartbeat(1, 2, 99);
    m.type = RAFT_MSG_APPEND;
    m.entries = &big;
    m.n_entries = 1;
    peer_transport_send(a.t, &m);
    ck_assert_uint_eq(stats(&a, 2).msgs_dropped, 1);
    peer_transport_flush(a.t);
    ck_assert_uint_ge(stats(&a, 2).frames_sent, 10); /* 2 per 4 KiB frame */
    struct want wb = {&b, 1, 20};
    ck_assert(run_until(got_at_least, &wb));
    for (uint64_t i = 0; i < 20; i++) {
        ck_assert_uint_eq(b.got[i].seq, i);
        ck_assert_uint_eq(b.got[i].reject_hint, sizeof(data)); /* entry len */
    }
    ck_assert_uint_eq(b.n_got, 20);
}
END_TEST

START_TEST(reconnects_after_peer_restarts_and_drops_what_was_sent_meanwhile)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b, b2;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    int port = b.port;
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, b.addr), 0);
    struct want wa = {&a, 2, 0};
    ck_assert(run_until(connected, &wa));
    node_stop(&b);
    ck_assert(run_until(disconnected, &wa));
    uint64_t dropped = stats(&a, 2).msgs_dropped;
    for (uint64_t i = 0; i < 5; i++) {
        struct raft_message m = heartbeat(1, 2, 100 + i);
        peer_transport_send(a.t, &m);
    }
    /* Down (backing off) or dialing a closed port: either way they go. */
    struct want wd = {&a, 2, dropped + 5};
    ck_assert(run_until(dropped_at_least, &wd));
    struct want wdial = {&a, 2, stats(&a, 2).dials + 2};
    ck_assert(run_until(dials_at_least, &wdial)); /* it keeps retrying */
    node_start(&b2, 2, CLUSTER, port, &o);
    ck_assert(run_until(connected, &wa));
    ck_assert_uint_ge(stats(&a, 2).connects, 2);
    for (uint64_t i = 0; i < 5; i++) {
        struct raft_message m = heartbeat(1, 2, 200 + i);
        peer_transport_send(a.t, &m);
    }
    struct want wb = {&b2, 1, 5};
    ck_assert(run_until(got_at_least, &wb));
    ck_assert_uint_eq(b2.n_got, 5);
    for (uint64_t i = 0; i < 5; i++)
        ck_assert_uint_eq(b2.got[i].seq, 200 + i);
}
END_TEST

static bool refused_twice(void *arg)
{
    struct want *w = arg;
    return stats(w->n, w->peer).refused >= 2;
}

START_TEST(wrong_cluster_id_is_refused_on_both_sides)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER + 1, 0, &o);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, b.addr), 0);
    struct raft_message m = heartbeat(1, 2, 1);
    peer_transport_send(a.t, &m);
    struct want wa = {&a, 2, 0};
    ck_assert(run_until(refused_twice, &wa)); /* refused, backed off, again */
    struct peer_stats st = stats(&a, 2);
    ck_assert(!st.connected);
    ck_assert_uint_eq(st.connects, 0);
    ck_assert_uint_ge(st.msgs_dropped, 1);
    ck_assert_uint_ge(peer_transport_hellos_refused(b.t), 2);
    ck_assert_uint_eq(b.n_got, 0);
}
END_TEST

START_TEST(dialing_the_wrong_member_is_refused)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    /* A believes member 3 listens where 2 does. */
    ck_assert_int_eq(peer_transport_set_peer(a.t, 3, b.addr), 0);
    struct want wa = {&a, 3, 0};
    ck_assert(run_until(refused_twice, &wa));
    ck_assert(!stats(&a, 3).connected);
    ck_assert_uint_ge(peer_transport_hellos_refused(b.t), 2);
}
END_TEST

struct fwd_result {
    int calls;
    int status;
    bool is_error;
    char body[64];
};

static void fwd_done(void *arg, int status, const uint8_t *resp, size_t len,
                     bool is_error)
{
    struct fwd_result *r = arg;
    r->calls++;
    r->status = status;
    r->is_error = is_error;
    if (resp != NULL)
        snprintf(r->body, sizeof(r->body), "%.*s", (int)len,
                 (const char *)resp);
    else
        r->body[0] = '\0';
}

static bool fwd_called(void *arg)
{
    return ((struct fwd_result *)arg)->calls > 0;
}

static bool has_token(void *arg)
{
    return ((struct node *)arg)->token != NULL;
}

START_TEST(forward_request_and_response_roundtrip)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    /* Answered at once. */
    b.answer_now = true;
    struct fwd_result r1 = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_PUT,
                                  (const uint8_t *)"put-body", 8, 3000,
                                  fwd_done, &r1),
                     0);
    ck_assert_int_eq(r1.calls, 0); /* never from inside peer_forward */
    ck_assert(run_until(fwd_called, &r1));
    ck_assert_int_eq(r1.status, SRV_STATUS_OK);
    ck_assert(!r1.is_error);
    ck_assert_str_eq(r1.body, "answer");
    ck_assert_int_eq(b.fwd_method, SRV_METHOD_PUT);
    ck_assert_str_eq(b.fwd_body, "put-body");
    ck_assert_uint_eq(b.fwd_timeout_ms, 3000);
    ck_assert_uint_eq(b.fwd_from, 1);
    /* Answered later, with an error body. */
    b.answer_now = false;
    struct fwd_result r2 = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_TXN,
                                  (const uint8_t *)"txn", 3, 0, fwd_done, &r2),
                     0);
    ck_assert(run_until(has_token, &b));
    ck_assert_int_eq(r2.calls, 0);
    peer_forward_reply(b.t, b.token, true, (const uint8_t *)"err-detail", 10);
    b.token = NULL;
    ck_assert(run_until(fwd_called, &r2));
    ck_assert_int_eq(r2.status, SRV_STATUS_OK);
    ck_assert(r2.is_error);
    ck_assert_str_eq(r2.body, "err-detail");
    ck_assert_int_eq(r1.calls, 1);
    ck_assert_int_eq(r2.calls, 1);
}
END_TEST

START_TEST(forward_without_answer_times_out_unavailable)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    struct fwd_result r = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_PUT, (const uint8_t *)"x",
                                  1, 50, fwd_done, &r),
                     0);
    ck_assert(run_until(has_token, &b));
    ck_assert(run_until(fwd_called, &r));
    ck_assert_int_eq(r.status, SRV_STATUS_UNAVAILABLE);
    ck_assert_uint_eq(stats(&a, 2).forwards_failed, 1);
    /* The late answer is ignored; the link stays up. */
    peer_forward_reply(b.t, b.token, false, (const uint8_t *)"late", 4);
    b.token = NULL;
    struct raft_message m = heartbeat(2, 1, 7);
    ck_assert_int_eq(peer_transport_set_peer(b.t, 1, a.addr), 0);
    peer_transport_send(b.t, &m);
    struct want wa = {&a, 2, 1};
    ck_assert(run_until(got_at_least, &wa));
    ck_assert_int_eq(r.calls, 1);
    ck_assert(stats(&a, 2).connected);
}
END_TEST

START_TEST(forward_fails_when_the_link_drops)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, b.addr), 0);
    struct want wa = {&a, 2, 0};
    ck_assert(run_until(connected, &wa));
    struct fwd_result r = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_PUT, (const uint8_t *)"x",
                                  1, 0, fwd_done, &r),
                     0);
    ck_assert(run_until(has_token, &b));
    node_stop(&b); /* frees the unanswered token */
    ck_assert(run_until(fwd_called, &r));
    ck_assert_int_eq(r.status, SRV_STATUS_UNAVAILABLE);
    /* While A backs off, a new forward is refused at once. */
    ck_assert(run_until(disconnected, &wa));
    struct fwd_result r2 = {0};
    int rc = peer_forward(a.t, 2, SRV_METHOD_PUT, (const uint8_t *)"y", 1, 0,
                          fwd_done, &r2);
    if (rc == 0) { /* caught it mid-dial: it fails with the dial */
        ck_assert(run_until(fwd_called, &r2));
        ck_assert_int_eq(r2.status, SRV_STATUS_UNAVAILABLE);
    } else {
        ck_assert_int_eq(rc, PEER_EUNAVAILABLE);
        ck_assert_int_eq(r2.calls, 0);
    }
    ck_assert_int_eq(
        peer_forward(a.t, 9, SRV_METHOD_PUT, NULL, 0, 0, fwd_done, &r2),
        PEER_ENOTFOUND);
}
END_TEST

START_TEST(closing_the_transport_fails_waiting_forwards)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, b.addr), 0);
    struct fwd_result r = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_PUT, (const uint8_t *)"x",
                                  1, 0, fwd_done, &r),
                     0);
    bool closed = false;
    peer_transport_close(a.t, on_closed, &closed);
    a.t = NULL;
    ck_assert_int_eq(r.calls, 1);
    ck_assert_int_eq(r.status, SRV_STATUS_UNAVAILABLE);
    ck_assert(run_until(is_true, &closed));
}
END_TEST

START_TEST(fault_hook_drops_both_directions_and_heal_restores)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    connect_pair(&a, &b);
    ck_assert_int_eq(peer_transport_set_drop(a.t, 2, true), 0);
    ck_assert(stats(&a, 2).dropping);
    uint64_t bytes_in = stats(&a, 2).bytes_received;
    for (uint64_t i = 0; i < 5; i++) {
        struct raft_message m = heartbeat(1, 2, i);
        peer_transport_send(a.t, &m); /* dropped at A */
        m = heartbeat(2, 1, 50 + i);
        peer_transport_send(b.t, &m); /* reaches A, discarded there */
    }
    ck_assert_uint_eq(stats(&a, 2).msgs_dropped, 5);
    struct want wbytes = {&a, 2, bytes_in + 1};
    ck_assert(run_until(bytes_received_at_least, &wbytes));
    ck_assert_uint_eq(a.n_got, 0);
    ck_assert_uint_eq(b.n_got, 0);
    ck_assert_uint_eq(stats(&b, 1).msgs_sent, 5);
    /* Forwards to a dropped member time out. */
    struct fwd_result r = {0};
    ck_assert_int_eq(peer_forward(a.t, 2, SRV_METHOD_PUT, (const uint8_t *)"x",
                                  1, 30, fwd_done, &r),
                     0);
    ck_assert(run_until(fwd_called, &r));
    ck_assert_int_eq(r.status, SRV_STATUS_UNAVAILABLE);
    ck_assert_int_eq(b.n_fwd, 0);
    /* Heal. */
    ck_assert_int_eq(peer_transport_set_drop(a.t, 2, false), 0);
    for (uint64_t i = 0; i < 3; i++) {
        struct raft_message m = heartbeat(1, 2, 100 + i);
        peer_transport_send(a.t, &m);
        m = heartbeat(2, 1, 200 + i);
        peer_transport_send(b.t, &m);
    }
    struct want wa = {&a, 2, 3}, wb = {&b, 1, 3};
    ck_assert(run_until(got_at_least, &wa));
    ck_assert(run_until(got_at_least, &wb));
    ck_assert_uint_eq(a.got[0].seq, 200);
    ck_assert_uint_eq(b.got[0].seq, 100);
    ck_assert_uint_eq(b.got[2].seq, 102);
}
END_TEST

/* ---- a raw peer that answers Hello, then never reads --------------------- */

struct stuck_peer {
    uv_tcp_t listener;
    uv_tcp_t conn;
    bool accepted;
    bool answered;
    struct frame_decoder dec;
    uv_write_t wreq;
    uint8_t reply[64];
    char rbuf[4096];
};

static void stuck_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    struct stuck_peer *s = h->data;
    *buf = uv_buf_init(s->rbuf, sizeof(s->rbuf));
}

static void stuck_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct stuck_peer *s = st->data;
    if (nread <= 0)
        return;
    struct frame f;
    size_t used = 0;
    if (frame_decoder_feed(&s->dec, (const uint8_t *)buf->base, (size_t)nread,
                           &used, &f) != 1)
        return;
    ck_assert_uint_eq(f.hdr.method, SRV_METHOD_PEER_HELLO);
    Metastore__Raft__HelloResponse r = METASTORE__RAFT__HELLO_RESPONSE__INIT;
    r.cluster_id = CLUSTER;
    r.from = 2;
    size_t len = 0;
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_PEER_HELLO,
                                          FRAME_FLAG_RESPONSE, 0, &r.base,
                                          UINT32_MAX, s->reply, &len),
                     0);
    uv_buf_t out = uv_buf_init((char *)s->reply, (unsigned)len);
    ck_assert_int_eq(uv_write(&s->wreq, st, &out, 1, NULL), 0);
    uv_read_stop(st); /* and never read again */
    s->answered = true;
}

static void stuck_accept(uv_stream_t *server, int status)
{
    struct stuck_peer *s = server->data;
    ck_assert_int_eq(status, 0);
    ck_assert(!s->accepted);
    uv_tcp_init(&loop, &s->conn);
    s->conn.data = s;
    ck_assert_int_eq(uv_accept(server, (uv_stream_t *)&s->conn), 0);
    s->accepted = true;
    uv_read_start((uv_stream_t *)&s->conn, stuck_alloc, stuck_read);
}

static int stuck_listen(struct stuck_peer *s)
{
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    uv_tcp_init(&loop, &s->listener);
    s->listener.data = s;
    frame_decoder_init(&s->dec, 65536);
    ck_assert_int_eq(uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0), 0);
    ck_assert_int_eq(uv_listen((uv_stream_t *)&s->listener, 8, stuck_accept),
                     0);
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void stuck_close(struct stuck_peer *s)
{
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->accepted)
        uv_close((uv_handle_t *)&s->conn, NULL);
    frame_decoder_close(&s->dec);
    uv_run(&loop, UV_RUN_NOWAIT);
}

struct flood {
    struct node *a;
    uint64_t sent;
};

/* Each turn: 8 appends of 64 KiB to the stuck peer, then check drops. */
static bool flood_until_dropped(void *arg)
{
    struct flood *f = arg;
    static uint8_t data[64 * 1024];
    for (int i = 0; i < 8; i++) {
        struct raft_entry e = {
            .term = 1, .index = f->sent + 1, .len = sizeof(data), .data = data};
        struct raft_message m = heartbeat(1, 2, f->sent++);
        m.type = RAFT_MSG_APPEND;
        m.entries = &e;
        m.n_entries = 1;
        peer_transport_send(f->a->t, &m);
    }
    return stats(f->a, 2).msgs_dropped > 0;
}

static void idle_cb(uv_idle_t *h)
{
    (void)h;
}

START_TEST(queue_bound_drops_and_counts_when_a_peer_never_reads)
{
    struct peer_transport_options o = test_opts();
    o.max_queue_bytes = 1u << 20;
    static struct node a, c;
    static struct stuck_peer s;
    memset(&s, 0, sizeof(s));
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&c, 3, CLUSTER, 0, &o);
    int port = stuck_listen(&s);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, addr), 0);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 3, c.addr), 0);
    struct want w2 = {&a, 2, 0}, w3 = {&a, 3, 0};
    ck_assert(run_until(connected, &w2));
    ck_assert(run_until(connected, &w3));
    /* An idle handle keeps the loop from blocking while nothing happens
     * (the stuck peer's socket is full): the flood goes on every turn. */
    uv_idle_t idle;
    uv_idle_init(&loop, &idle);
    uv_idle_start(&idle, idle_cb);
    struct flood f = {&a, 0};
    bool dropped = run_until(flood_until_dropped, &f);
    ck_assert_msg(dropped, "no drop after %llu sends, %llu queued bytes",
                  (unsigned long long)f.sent,
                  (unsigned long long)stats(&a, 2).queued_bytes);
    uv_close((uv_handle_t *)&idle, NULL);
    struct peer_stats st = stats(&a, 2);
    ck_assert_uint_gt(st.msgs_dropped, 0);
    ck_assert_uint_le(st.queued_bytes, o.max_queue_bytes);
    ck_assert(st.connected);
    /* The stuck peer blocks neither the loop nor the other peer. */
    struct raft_message m = heartbeat(1, 3, 5);
    peer_transport_send(a.t, &m);
    struct want wc = {&c, 1, 1};
    ck_assert(run_until(got_at_least, &wc));
    ck_assert_uint_eq(c.got[0].seq, 5);
    ck_assert_uint_eq(stats(&a, 3).msgs_dropped, 0);
    /* Removing the stuck peer releases its queue and connection. */
    peer_transport_remove_peer(a.t, 2);
    ck_assert_int_eq(peer_transport_stats(a.t, 2, &st), PEER_ENOTFOUND);
    stuck_close(&s);
}
END_TEST

/* ---- a raw dialer speaking the protocol by hand -------------------------- */

struct raw {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    bool connected;
    bool eof;
    size_t got_bytes;
    struct peer_buf out;
};

static void raw_connected(uv_connect_t *req, int status)
{
    struct raw *r = req->data;
    ck_assert_int_eq(status, 0);
    r->connected = true;
}

static void raw_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    static char b[4096];
    *buf = uv_buf_init(b, sizeof(b));
}

static void raw_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct raw *r = st->data;
    if (nread < 0)
        r->eof = true;
    else
        r->got_bytes += (size_t)nread;
}

static bool raw_is_connected(void *arg)
{
    return ((struct raw *)arg)->connected;
}

static bool raw_got_eof(void *arg)
{
    return ((struct raw *)arg)->eof;
}

static void raw_dial(struct raw *r, int port)
{
    memset(r, 0, sizeof(*r));
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", port, &sa);
    uv_tcp_init(&loop, &r->tcp);
    r->tcp.data = r;
    r->creq.data = r;
    ck_assert_int_eq(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa,
                                    raw_connected),
                     0);
    ck_assert(run_until(raw_is_connected, r));
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_put(struct raw *r, uint16_t method, const ProtobufCMessage *m)
{
    ck_assert_int_eq(peer_buf_reserve(&r->out, frame_message_size(m)), 0);
    size_t n = 0;
    ck_assert_int_eq(frame_encode_message(method, 0, 1, m, UINT32_MAX,
                                          r->out.data + r->out.len, &n),
                     0);
    r->out.len += n;
}

static void raw_send(struct raw *r)
{
    uv_buf_t b = uv_buf_init((char *)r->out.data, (unsigned)r->out.len);
    ck_assert_int_eq(uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, NULL),
                     0);
}

static void raw_close(struct raw *r)
{
    uv_close((uv_handle_t *)&r->tcp, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    peer_buf_free(&r->out);
}

START_TEST(misaddressed_messages_dropped_and_garbage_closes_the_connection)
{
    struct peer_transport_options o = test_opts();
    static struct node b;
    node_start(&b, 2, CLUSTER, 0, &o);
    static struct raw r;
    raw_dial(&r, b.port);
    Metastore__Raft__Hello h = METASTORE__RAFT__HELLO__INIT;
    h.cluster_id = CLUSTER;
    h.from = 7;
    h.to = 2;
    raw_put(&r, SRV_METHOD_PEER_HELLO, &h.base);
    /* One batch: to the wrong member, from the wrong member, then right. */
    struct raft_message msgs[3] = {heartbeat(7, 99, 1), heartbeat(8, 2, 2),
                                   heartbeat(7, 2, 3)};
    struct peer_buf body;
    peer_buf_init(&body);
    ck_assert_int_eq(peer_codec_encode_batch(&body, msgs, 3), 0);
    struct frame_header fh = {(uint32_t)body.len, SRV_METHOD_PEER_RAFT, 0, 0};
    ck_assert_int_eq(peer_buf_reserve(&r.out, FRAME_HEADER_BYTES + body.len),
                     0);
    frame_header_encode(&fh, r.out.data + r.out.len);
    memcpy(r.out.data + r.out.len + FRAME_HEADER_BYTES, body.data, body.len);
    r.out.len += FRAME_HEADER_BYTES + body.len;
    peer_buf_free(&body);
    /* Then a Batch that does not decode. */
    struct frame_header bad = {3, SRV_METHOD_PEER_RAFT, 0, 0};
    ck_assert_int_eq(peer_buf_reserve(&r.out, FRAME_HEADER_BYTES + 3), 0);
    frame_header_encode(&bad, r.out.data + r.out.len);
    memcpy(r.out.data + r.out.len + FRAME_HEADER_BYTES, "\xff\xff\xff", 3);
    r.out.len += FRAME_HEADER_BYTES + 3;
    raw_send(&r);
    ck_assert(run_until(raw_got_eof, &r));
    ck_assert_uint_eq(b.n_got, 1);
    ck_assert_uint_eq(b.got[0].seq, 3);
    ck_assert_uint_eq(b.got[0].from, 7);
    raw_close(&r);
}
END_TEST

START_TEST(raft_frames_before_hello_close_the_connection)
{
    struct peer_transport_options o = test_opts();
    static struct node b;
    node_start(&b, 2, CLUSTER, 0, &o);
    static struct raw r;
    raw_dial(&r, b.port);
    Metastore__Raft__Batch batch = METASTORE__RAFT__BATCH__INIT;
    raw_put(&r, SRV_METHOD_PEER_RAFT, &batch.base);
    raw_send(&r);
    ck_assert(run_until(raw_got_eof, &r));
    ck_assert_uint_eq(b.n_got, 0);
    raw_close(&r);
}
END_TEST

static bool raw_got_bytes(void *arg)
{
    return ((struct raw *)arg)->got_bytes > 0;
}

START_TEST(connection_without_hello_is_closed_after_the_deadline)
{
    struct peer_transport_options o = test_opts();
    o.hello_timeout_ms = 100;
    static struct node b;
    node_start(&b, 2, CLUSTER, 0, &o);
    static struct raw r;
    raw_dial(&r, b.port);
    ck_assert(run_until(raw_got_eof, &r));
    ck_assert_uint_eq(r.got_bytes, 0);
    raw_close(&r);
}
END_TEST

START_TEST(a_member_that_redials_replaces_its_older_connection)
{
    struct peer_transport_options o = test_opts();
    static struct node b;
    node_start(&b, 2, CLUSTER, 0, &o);
    Metastore__Raft__Hello h = METASTORE__RAFT__HELLO__INIT;
    h.cluster_id = CLUSTER;
    h.from = 7;
    h.to = 2;
    static struct raw r1, r2;
    raw_dial(&r1, b.port);
    raw_put(&r1, SRV_METHOD_PEER_HELLO, &h.base);
    raw_send(&r1);
    ck_assert(run_until(raw_got_bytes, &r1)); /* HelloResponse */
    raw_dial(&r2, b.port);
    raw_put(&r2, SRV_METHOD_PEER_HELLO, &h.base);
    raw_send(&r2);
    ck_assert(run_until(raw_got_eof, &r1));
    ck_assert(run_until(raw_got_bytes, &r2));
    ck_assert(!r2.eof);
    raw_close(&r1);
    raw_close(&r2);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    struct peer_transport_options o = test_opts();
    static struct node a;
    struct peer_transport *t = NULL;
    struct peer_callbacks cb = {NULL, NULL, NULL};
    ck_assert_int_eq(
        peer_transport_create(&loop, 0, 1, "127.0.0.1:0", &cb, &o, &t),
        PEER_EINVAL);
    ck_assert_int_eq(
        peer_transport_create(&loop, 1, 1, "nonsense", &cb, &o, &t),
        PEER_EINVAL);
    node_start(&a, 1, CLUSTER, 0, &o);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 1, "127.0.0.1:1"),
                     PEER_EINVAL);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 0, "127.0.0.1:1"),
                     PEER_EINVAL);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, "no-port"), PEER_EINVAL);
    struct peer_stats st;
    ck_assert_int_eq(peer_transport_stats(a.t, 2, &st), PEER_ENOTFOUND);
    /* Unknown peers: sends vanish quietly, removal is a no-op. */
    struct raft_message m = heartbeat(1, 5, 1);
    peer_transport_send(a.t, &m);
    peer_transport_remove_peer(a.t, 5);
}
END_TEST

START_TEST(peer_given_by_host_name_is_resolved_and_reached)
{
    struct peer_transport_options o = test_opts();
    static struct node a, b;
    node_start(&a, 1, CLUSTER, 0, &o);
    node_start(&b, 2, CLUSTER, 0, &o);
    char addr[64];
    snprintf(addr, sizeof(addr), "localhost:%d", b.port);
    ck_assert_int_eq(peer_transport_set_peer(a.t, 2, addr), 0);
    struct raft_message m = heartbeat(1, 2, 42);
    peer_transport_send(a.t, &m);
    struct want wb = {&b, 1, 1};
    ck_assert(run_until(got_at_least, &wb));
    ck_assert_uint_eq(b.got[0].seq, 42);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peer");
    TCase *tc = tcase_create("transport");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_transports_exchange_messages_both_ways_in_order);
    tcase_add_test(tc, messages_sent_before_hello_completes_wait_and_arrive);
    tcase_add_test(tc, hundred_sends_before_one_flush_go_in_one_frame_in_order);
    tcase_add_test(tc, batches_split_at_the_frame_limit_and_keep_order);
    tcase_add_test(
        tc, reconnects_after_peer_restarts_and_drops_what_was_sent_meanwhile);
    tcase_add_test(tc, wrong_cluster_id_is_refused_on_both_sides);
    tcase_add_test(tc, dialing_the_wrong_member_is_refused);
    tcase_add_test(tc, forward_request_and_response_roundtrip);
    tcase_add_test(tc, forward_without_answer_times_out_unavailable);
    tcase_add_test(tc, forward_fails_when_the_link_drops);
    tcase_add_test(tc, closing_the_transport_fails_waiting_forwards);
    tcase_add_test(tc, fault_hook_drops_both_directions_and_heal_restores);
    tcase_add_test(tc, queue_bound_drops_and_counts_when_a_peer_never_reads);
    tcase_add_test(
        tc, misaddressed_messages_dropped_and_garbage_closes_the_connection);
    tcase_add_test(tc, raft_frames_before_hello_close_the_connection);
    tcase_add_test(tc, connection_without_hello_is_closed_after_the_deadline);
    tcase_add_test(tc, a_member_that_redials_replaces_its_older_connection);
    tcase_add_test(tc, bad_arguments_are_refused);
    tcase_add_test(tc, peer_given_by_host_name_is_resolved_and_reached);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
