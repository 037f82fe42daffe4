/*
 * watch_glue.c - WATCH streams on client connections, over the watcher hub
 * (server/watch.h).
 *
 * Happy path: the first WATCH frame with a new request id on a connection
 * opens a stream (struct wstream) and adds a watcher to the node's one hub;
 * later WATCH frames with the same id add watchers, cancel them or ask for
 * progress (docs/protocol.md "Streams").  Right after each engine write
 * the apply paths hand the revision's events to the hub ("live events"
 * below: srv_watch_put_applied() and friends), and caught-up watchers
 * queue them; after every applied entry the node calls
 * srv_watch_applied(), which notes whether the engine revision moved
 * past what was reported.  Once per loop turn srv_watch_pump() takes the
 * watchers the hub marked ready and pulls their responses, packing them
 * on the connection with FRAME_FLAG_STREAM (and FRAME_FLAG_STREAM_END on
 * the response after which the stream has no watcher left).
 *
 * Live events are only a shortcut: the hub reads every event a watcher
 * has not received from engine_history() whenever it is behind, so a
 * revision no path reported (a snapshot installed on a follower, a write
 * path that does not report, server.watch_live_events off) still reaches
 * every watcher, at the price of a history read per watcher.
 *
 * Backpressure: a stream gets responses only while its connection holds
 * less than server.watch_backlog_bytes unsent.  Over it, its watchers are
 * held (watch_hub_hold(): queue freed, no live events) and catch up from
 * history when the connection drains, so a client that stops reading
 * costs no memory beyond that bound.  A live queue over the hub's bound
 * (a burst within one loop turn) resyncs the same way instead of
 * canceling the watcher.  A connection held back for longer than
 * server.watch_slow_timeout has its watchers canceled ("slow watcher"):
 * each gets a CANCELED response, queued behind what it has not read.
 *
 * Failure modes: a history read error leaves the watcher as it was and is
 * retried on the next pump (logged once per pump); a compacted start
 * revision or catch-up position cancels the watcher with compact_revision
 * set; a closed connection drops its watchers without responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/log.h"
#include "server/server.h"
#include "server/status.h"
#include "server/watch.h"

/* How often the timer advances the hub's clock and looks for slow
 * connections. */
#define WATCH_TIMER_MS 100u

struct wstream {
    struct wstream *next, *prev;
    struct srv_conn *c; /* referenced */
    uint64_t request_id;
    int64_t *ids; /* watchers of this stream, in creation order */
    size_t n, cap;
    uint64_t blocked_since_ns; /* 0 when the connection keeps up */
    bool held; /* every watcher is on hold (see hold_stream()) */
    bool dead; /* its connection closed while the glue was busy with it */
};

struct srv_watch {
    struct srv *s;
    struct watch_hub *hub;
    struct engine_arena arena;
    uv_timer_t timer;
    bool timer_started;
    struct wstream *streams;
    int64_t seen_rev; /* engine revision at the last srv_watch_applied() */
    bool dirty;       /* a pump may have something to send */
    int busy;         /* inside a function that holds stream pointers */
    struct srv_watch_stats st;
    /* Live events of the revision being reported (see "live events"). */
    struct engine_event *ev;
    size_t ev_n, ev_cap;
    uint64_t st_live_revisions; /* revisions handed to the hub */
    int64_t *ready; /* ids taken from the hub's ready list by a pump */
    size_t ready_cap;
    uint64_t last_mark_all_ns; /* see on_timer() */
};

/* ---- streams -------------------------------------------------------------- */

static struct wstream *stream_find(struct srv_watch *w,
                                   const struct srv_conn *c, uint64_t rid)
{
    for (struct wstream *st = w->streams; st != NULL; st = st->next) {
        if (st->c == c && st->request_id == rid) {
            return st;
        }
    }
    return NULL;
}

static struct wstream *stream_open(struct srv_watch *w, struct srv_conn *c,
                                   uint64_t rid)
{
    struct wstream *st = calloc(1, sizeof *st);
    if (st == NULL) {
        return NULL;
    }
    st->c = c;
    st->request_id = rid;
    srv_conn_ref(c);
    st->next = w->streams;
    if (w->streams != NULL) {
        w->streams->prev = st;
    }
    w->streams = st;
    w->st.streams++;
    return st;
}

/* Unlinks and frees st; its watchers must already be gone from the hub. */
static void stream_free(struct srv_watch *w, struct wstream *st)
{
    if (st->prev != NULL) {
        st->prev->next = st->next;
    } else {
        w->streams = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    w->st.streams--;
    srv_conn_unref(st->c);
    free(st->ids);
    free(st);
}

static int stream_add_id(struct wstream *st, int64_t id)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 4;
        int64_t *v = realloc(st->ids, cap * sizeof *v);
        if (v == NULL) {
            return -1;
        }
        st->ids = v;
        st->cap = cap;
    }
    st->ids[st->n++] = id;
    return 0;
}

static size_t stream_index(const struct wstream *st, int64_t id)
{
    for (size_t i = 0; i < st->n; i++) {
        if (st->ids[i] == id) {
            return i;
        }
    }
    return SIZE_MAX;
}

static void stream_remove_at(struct wstream *st, size_t i)
{
    memmove(&st->ids[i], &st->ids[i + 1], (st->n - i - 1) * sizeof st->ids[0]);
    st->n--;
}

/* Frees the streams whose connection closed while they were in use (a
 * reply can close its connection: out of memory). */
static void sweep(struct srv_watch *w)
{
    struct wstream *next;
    for (struct wstream *st = w->streams; st != NULL; st = next) {
        next = st->next;
        if (st->dead) {
            watch_hub_drop_owner(w->hub, st);
            stream_free(w, st);
        }
    }
    w->st.watchers = watch_hub_count(w->hub);
}

/* ---- replies ---------------------------------------------------------------- */

/* Flags of a reply on (c, rid): STREAM always; STREAM_END when no watcher
 * will be left on the stream after it. */
static uint8_t stream_flags(bool is_error, bool ends)
{
    uint8_t f = FRAME_FLAG_RESPONSE | FRAME_FLAG_STREAM;
    if (is_error) {
        f |= FRAME_FLAG_ERROR;
    }
    if (ends) {
        f |= FRAME_FLAG_STREAM_END;
    }
    return f;
}

static void reply_error(struct srv *s, struct srv_conn *c, uint64_t rid,
                        const struct wstream *st, int status, const char *msg)
{
    Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
    Metastore__ResponseHeader h;
    e.code = (Metastore__StatusCode)status;
    e.message = (char *)msg;
    srv_fill_header(s, &h);
    e.header = &h;
    ms_info("watch request %llu from %s: %s: %s", (unsigned long long)rid,
            srv_conn_peer(c), srv_status_name(status), msg);
    s->stats.refused++;
    s->watch->st.refused++;
    srv_stats_request_done(&s->stats, SRV_METHOD_WATCH, status,
                           srv_now_ns() - s->reply_start_ns);
    srv_conn_reply_stream(c, SRV_METHOD_WATCH, rid,
                          stream_flags(true, st == NULL || st->n == 0),
                          &e.base);
}

static void to_pb_kv(const struct engine_kv *kv, Metastore__KeyValue *out)
{
    metastore__key_value__init(out);
    out->key.data = (uint8_t *)kv->key;
    out->key.len = kv->key_len;
    out->value.data = (uint8_t *)kv->value;
    out->value.len = kv->value_len;
    out->create_revision = kv->create_revision;
    out->mod_revision = kv->mod_revision;
    out->version = kv->version;
    out->lease = kv->lease;
}

/* Packs one hub response on st's connection.  0, or -1 when out of memory
 * (the connection is closed then: a promise of no gaps cannot be kept). */
static int send_resp(struct srv_watch *w, struct wstream *st,
                     const struct watch_resp *r, bool ends)
{
    struct srv *s = w->s;
    Metastore__WatchResponse m = METASTORE__WATCH_RESPONSE__INIT;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    h.revision = r->revision;
    m.header = &h;
    m.watch_id = r->watch_id;
    switch (r->type) {
    case WATCH_RESP_CREATED:
        m.created = true;
        break;
    case WATCH_RESP_CANCELED:
        m.canceled = true;
        m.cancel_reason = (char *)r->cancel_reason;
        m.compact_revision = r->compact_revision;
        break;
    case WATCH_RESP_EVENTS: {
        size_t n = r->events_len;
        Metastore__Event **pv = engine_arena_alloc(&w->arena, n * sizeof *pv);
        Metastore__Event *ev = engine_arena_alloc(&w->arena, n * sizeof *ev);
        Metastore__KeyValue *kv =
            engine_arena_alloc(&w->arena, 2 * n * sizeof *kv);
        if (pv == NULL || ev == NULL || kv == NULL) {
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            const struct engine_event *e = &r->events[i];
            metastore__event__init(&ev[i]);
            ev[i].type = e->type == ENGINE_EVENT_PUT
                             ? METASTORE__EVENT__EVENT_TYPE__PUT
                             : METASTORE__EVENT__EVENT_TYPE__DELETE;
            to_pb_kv(&e->kv, &kv[2 * i]);
            ev[i].kv = &kv[2 * i];
            if (e->has_prev_kv) {
                to_pb_kv(&e->prev_kv, &kv[2 * i + 1]);
                ev[i].prev_kv = &kv[2 * i + 1];
            }
            pv[i] = &ev[i];
        }
        m.n_events = n;
        m.events = pv;
        w->st.events_sent += n;
        break;
    }
    case WATCH_RESP_PROGRESS:
        break;
    }
    w->st.responses_sent++;
    srv_conn_reply_stream(st->c, SRV_METHOD_WATCH, st->request_id,
                          stream_flags(false, ends), &m.base);
    return 0;
}

/* ---- requests --------------------------------------------------------------- */

static void handle_create(struct srv *s, struct srv_conn *c, uint64_t rid,
                          struct wstream *st,
                          const Metastore__WatchCreateRequest *r)
{
    struct srv_watch *w = s->watch;
    char msg[160];
    if (r->key.len == 0) {
        reply_error(s, c, rid, st, SRV_STATUS_INVALID_ARGUMENT,
                    "watch key is empty");
        return;
    }
    if (r->key.len > s->cfg.server.max_key_bytes ||
        r->range_end.len > s->cfg.server.max_key_bytes) {
        snprintf(msg, sizeof msg,
                 "watch key or range_end longer than server.max_key_bytes "
                 "(%llu)",
                 (unsigned long long)s->cfg.server.max_key_bytes);
        reply_error(s, c, rid, st, SRV_STATUS_INVALID_ARGUMENT, msg);
        return;
    }
    if (r->start_revision < 0 || r->watch_id < 0) {
        reply_error(s, c, rid, st, SRV_STATUS_INVALID_ARGUMENT,
                    "negative start_revision or watch_id");
        return;
    }
    if (watch_hub_count(w->hub) >= s->cfg.server.max_watchers) {
        snprintf(msg, sizeof msg,
                 "too many watchers on this node: server.max_watchers (%llu) "
                 "reached",
                 (unsigned long long)s->cfg.server.max_watchers);
        reply_error(s, c, rid, st, SRV_STATUS_RESOURCE_EXHAUSTED, msg);
        return;
    }
    struct watch_create_req q = {
        .key = r->key.data,
        .key_len = r->key.len,
        .range_end = r->range_end.data,
        .range_end_len = r->range_end.len,
        .start_revision = r->start_revision,
        .watch_id = r->watch_id,
        .progress_notify = r->progress_notify,
        .prev_kv = r->prev_kv,
    };
    for (size_t i = 0; i < r->n_filters; i++) {
        if (r->filters[i] == METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT) {
            q.no_put = true;
        } else if (r->filters[i] ==
                   METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE) {
            q.no_delete = true;
        }
    }
    bool opened = false;
    if (st == NULL) {
        st = stream_open(w, c, rid);
        if (st == NULL) {
            reply_error(s, c, rid, NULL, SRV_STATUS_INTERNAL, "out of memory");
            return;
        }
        opened = true;
    }
    q.owner = st;
    int64_t id = 0;
    /* Room for the id first, so that a watcher the hub accepted is always
     * recorded on its stream. */
    int rc = stream_add_id(st, 0) == 0 ? 0 : WATCH_ENOMEM;
    if (rc == 0) {
        st->n--;
        rc = watch_hub_add(w->hub, &q, &id);
    }
    if (rc != 0) {
        int status = rc == WATCH_EEXIST || rc == WATCH_EINVAL
                         ? SRV_STATUS_INVALID_ARGUMENT
                         : SRV_STATUS_INTERNAL;
        snprintf(msg, sizeof msg, "cannot create the watch: %s",
                 rc == WATCH_EEXIST ? "watch_id already in use"
                                    : watch_strerror(rc));
        reply_error(s, c, rid, st, status, msg);
        if (opened) {
            stream_free(w, st);
        }
        return;
    }
    st->ids[st->n++] = id;
    st->held = false; /* the new watcher is not: hold_stream() again */
    w->st.watchers = watch_hub_count(w->hub);
    srv_stats_request_done(&s->stats, SRV_METHOD_WATCH, SRV_STATUS_OK,
                           srv_now_ns() - s->reply_start_ns);
    w->dirty = true;
}

static void dispatch_request(struct srv *s, struct srv_conn *c,
                             uint64_t request_id, struct wstream *st,
                             const Metastore__WatchRequest *r);

void srv_watch_request(struct srv *s, struct srv_conn *c, uint64_t request_id,
                       const uint8_t *body, size_t len)
{
    struct srv_watch *w = s->watch;
    if (w == NULL || srv_conn_is_forwarded(c)) {
        srv_conn_reply_error(s, c, SRV_METHOD_WATCH, request_id,
                             SRV_STATUS_UNAVAILABLE,
                             "watch is not available on this connection");
        return;
    }
    w->busy++;
    struct wstream *st = stream_find(w, c, request_id);
    Metastore__WatchRequest *r =
        metastore__watch_request__unpack(NULL, len, body);
    if (r == NULL) {
        reply_error(s, c, request_id, st, SRV_STATUS_INVALID_ARGUMENT,
                    "undecodable WatchRequest");
    } else if (s->failed || s->shutting_down) {
        reply_error(s, c, request_id, st, SRV_STATUS_UNAVAILABLE,
                    s->failed ? "server failed" : "shutting down");
    } else {
        dispatch_request(s, c, request_id, st, r);
    }
    if (r != NULL) {
        metastore__watch_request__free_unpacked(r, NULL);
    }
    w->busy--;
    sweep(w);
}

static void dispatch_request(struct srv *s, struct srv_conn *c,
                             uint64_t request_id, struct wstream *st,
                             const Metastore__WatchRequest *r)
{
    struct srv_watch *w = s->watch;
    switch (r->request_union_case) {
    case METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST:
        handle_create(s, c, request_id, st, r->create_request);
        break;
    case METASTORE__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST: {
        int64_t id = r->cancel_request->watch_id;
        if (st == NULL || stream_index(st, id) == SIZE_MAX ||
            watch_hub_cancel(w->hub, id) != 0) {
            reply_error(s, c, request_id, st, SRV_STATUS_NOT_FOUND,
                        "no such watch id on this stream");
        } else {
            srv_stats_request_done(&s->stats, SRV_METHOD_WATCH, SRV_STATUS_OK,
                                   srv_now_ns() - s->reply_start_ns);
            w->dirty = true;
        }
        break;
    }
    case METASTORE__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST:
        if (st == NULL || st->n == 0) {
            reply_error(s, c, request_id, st, SRV_STATUS_NOT_FOUND,
                        "progress request on a stream with no watcher");
        } else {
            for (size_t i = 0; i < st->n; i++) {
                (void)watch_hub_request_progress(w->hub, st->ids[i]);
            }
            srv_stats_request_done(&s->stats, SRV_METHOD_WATCH, SRV_STATUS_OK,
                                   srv_now_ns() - s->reply_start_ns);
            w->dirty = true;
        }
        break;
    default:
        reply_error(s, c, request_id, st, SRV_STATUS_INVALID_ARGUMENT,
                    "WatchRequest with no create, cancel or progress request");
        break;
    }
}

/* ---- live events ------------------------------------------------------------ */

/*
 * The apply paths report each write here; the events of one revision are
 * collected in w->ev and handed to the hub in one watch_hub_notify().
 * Events point into the write's request and result memory (the hub copies
 * what it queues).  Anything that makes the set of events doubtful (no
 * prev_kv asked, out of memory, a write that did not move the revision)
 * reports nothing: the revision then reaches watchers through history,
 * which is always right, only slower.
 */

bool srv_watch_wants_events(const struct srv *s)
{
    const struct srv_watch *w = s->watch;
    return w != NULL && s->cfg.server.watch_live_events &&
           watch_hub_count(w->hub) > 0;
}

static struct engine_event *ev_add(struct srv_watch *w)
{
    if (w->ev_n == w->ev_cap) {
        size_t cap = w->ev_cap ? w->ev_cap * 2 : 16;
        struct engine_event *v = realloc(w->ev, cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        w->ev = v;
        w->ev_cap = cap;
    }
    struct engine_event *e = &w->ev[w->ev_n++];
    memset(e, 0, sizeof *e);
    return e;
}

static const uint8_t empty_value[1];

/* The PUT event of q: the key as written is derived from the previous kv
 * exactly as the engines derive it (engine_put: create revision kept,
 * version + 1, ignore_value / ignore_lease take the old value / lease). */
static bool add_put(struct srv_watch *w, const struct engine_put_req *q,
                    const struct engine_put_result *r, int64_t rev)
{
    const struct engine_kv *p = r->has_prev_kv ? &r->prev_kv : NULL;
    if (!q->prev_kv || ((q->ignore_value || q->ignore_lease) && p == NULL)) {
        return false;
    }
    struct engine_event *e = ev_add(w);
    if (e == NULL) {
        return false;
    }
    e->type = ENGINE_EVENT_PUT;
    e->kv.key = q->key;
    e->kv.key_len = q->key_len;
    if (q->ignore_value) {
        e->kv.value = p->value;
        e->kv.value_len = p->value_len;
    } else {
        e->kv.value = q->value != NULL ? q->value : empty_value;
        e->kv.value_len = q->value_len;
    }
    e->kv.create_revision = p != NULL ? p->create_revision : rev;
    e->kv.mod_revision = rev;
    e->kv.version = p != NULL ? p->version + 1 : 1;
    e->kv.lease = q->ignore_lease ? p->lease : q->lease;
    if (p != NULL) {
        e->has_prev_kv = true;
        e->prev_kv = *p;
    }
    return true;
}

/* One DELETE event per deleted key (they are the prev_kvs). */
static bool add_deletes(struct srv_watch *w, const struct engine_delete_req *q,
                        const struct engine_delete_result *r, int64_t rev)
{
    if (!q->prev_kv || r->deleted < 0 ||
        (size_t)r->deleted != r->prev_kvs_len) {
        return false;
    }
    for (size_t i = 0; i < r->prev_kvs_len; i++) {
        struct engine_event *e = ev_add(w);
        if (e == NULL) {
            return false;
        }
        e->type = ENGINE_EVENT_DELETE;
        e->kv.key = r->prev_kvs[i].key;
        e->kv.key_len = r->prev_kvs[i].key_len;
        e->kv.value = empty_value;
        e->kv.mod_revision = rev;
        e->has_prev_kv = true;
        e->prev_kv = r->prev_kvs[i];
    }
    return true;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct engine_event *x = a, *y = b;
    return engine_key_cmp(x->kv.key, x->kv.key_len, y->kv.key, y->kv.key_len);
}

/* Hands the collected events of revision rev to the hub when `ok`. */
static void ev_flush(struct srv_watch *w, int64_t rev, bool ok)
{
    if (ok && w->ev_n > 0) {
        /* History gives the events of a revision in key order; live
         * events come in the same order, so what a watcher sees does not
         * depend on whether it was caught up. */
        qsort(w->ev, w->ev_n, sizeof w->ev[0], ev_cmp);
        if (watch_hub_notify(w->hub, rev, w->ev, w->ev_n) == 0) {
            w->st_live_revisions++;
        }
    }
    w->ev_n = 0;
}

void srv_watch_put_applied(struct srv *s, const struct engine_put_req *q,
                           const struct engine_put_result *r)
{
    if (!srv_watch_wants_events(s)) {
        return;
    }
    struct srv_watch *w = s->watch;
    w->ev_n = 0;
    ev_flush(w, r->revision, add_put(w, q, r, r->revision));
}

void srv_watch_delete_applied(struct srv *s, const struct engine_delete_req *q,
                              const struct engine_delete_result *r)
{
    if (!srv_watch_wants_events(s) || r->deleted <= 0) {
        return; /* deleting nothing makes no revision */
    }
    struct srv_watch *w = s->watch;
    w->ev_n = 0;
    ev_flush(w, r->revision, add_deletes(w, q, r, r->revision));
}

void srv_watch_txn_applied(struct srv *s, const struct engine_op *ops,
                           const struct engine_txn_result *r)
{
    if (!srv_watch_wants_events(s)) {
        return;
    }
    struct srv_watch *w = s->watch;
    w->ev_n = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < r->results_len; i++) {
        const struct engine_op_result *o = &r->results[i];
        if (o->type == ENGINE_OP_PUT) {
            ok = ops[i].type == ENGINE_OP_PUT &&
                 add_put(w, &ops[i].u.put, &o->u.put, r->revision);
        } else if (o->type == ENGINE_OP_DELETE) {
            ok = ops[i].type == ENGINE_OP_DELETE &&
                 add_deletes(w, &ops[i].u.del, &o->u.del, r->revision);
        }
    }
    /* A txn that wrote nothing made no revision: r->revision is an older
     * one, whose events (if any) were reported by its own write. */
    ev_flush(w, r->revision, ok && w->ev_n > 0);
}

/* ---- pumping ---------------------------------------------------------------- */

/* Holds every watcher of st (its connection is over its backlog bound):
 * they stop taking live events and drop what they queued, so a client
 * that does not read costs no memory however long it stays behind; they
 * read what they missed from history once it drains
 * (srv_watch_conn_drained() marks them).  A hold lasts until the
 * watcher's next watch_hub_pending(), so st->held says whether all are
 * still held. */
static void hold_stream(struct srv_watch *w, struct wstream *st)
{
    if (!st->held) {
        for (size_t j = 0; j < st->n; j++) {
            (void)watch_hub_hold(w->hub, st->ids[j]);
        }
        st->held = true;
    }
    if (st->blocked_since_ns == 0) {
        st->blocked_since_ns = srv_now_ns();
    }
}

/* Sends what watcher id of st has, while the connection has room. */
static void pump_watcher(struct srv_watch *w, struct wstream *st, int64_t id,
                         uint64_t limit, bool *logged)
{
    while (!st->dead) {
        if (srv_conn_backlog(st->c) >= limit) {
            hold_stream(w, st);
            return;
        }
        st->held = false;
        st->blocked_since_ns = 0;
        struct watch_resp r;
        int rc = watch_hub_pending(w->hub, id, &w->arena, &r);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            if (!*logged) {
                ms_warn("watch %lld: reading history failed: %s; will retry",
                        (long long)id, watch_strerror(rc));
                *logged = true;
            }
            engine_arena_reset(&w->arena);
            watch_hub_mark(w->hub, id);
            return;
        }
        bool last = r.type == WATCH_RESP_CANCELED && st->n == 1;
        if (r.type == WATCH_RESP_CANCELED) {
            if (r.cause == WATCH_CANCEL_COMPACTED) {
                w->st.compact_canceled++;
            } else if (r.cause == WATCH_CANCEL_SLOW) {
                w->st.slow_canceled++;
            }
        }
        if (send_resp(w, st, &r, last) != 0) {
            engine_arena_reset(&w->arena);
            ms_error("watch: out of memory building a response; dropping the "
                     "stream's watchers");
            st->dead = true;
            return;
        }
        engine_arena_reset(&w->arena);
        if (r.type == WATCH_RESP_CANCELED) {
            size_t i = stream_index(st, id);
            if (i != SIZE_MAX) {
                stream_remove_at(st, i);
            }
            if (st->n == 0 && !st->dead) {
                stream_free(w, st);
            }
            return;
        }
    }
}

/* Only the watchers the hub marked (something queued, created, canceled,
 * behind, held, progress) are asked: with live events, a write costs the
 * watchers it concerns, not every watcher of the node. */
void srv_watch_pump(struct srv *s)
{
    struct srv_watch *w = s->watch;
    if (w == NULL || !w->dirty) {
        return;
    }
    w->dirty = false;
    w->busy++;
    bool logged = false;
    uint64_t limit = s->cfg.server.watch_backlog_bytes;
    long n = watch_hub_take_ready(w->hub, &w->ready, &w->ready_cap);
    if (n < 0) {
        logged = true; /* out of memory: every watcher stays marked */
    }
    for (long i = 0; i < n; i++) {
        struct wstream *st = watch_hub_owner(w->hub, w->ready[i]);
        if (st != NULL && !st->dead) {
            pump_watcher(w, st, w->ready[i], limit, &logged);
        }
    }
    if (logged) {
        w->dirty = true; /* retry on the next turn (the timer wakes us) */
    }
    w->busy--;
    sweep(w);
}

void srv_watch_applied(struct srv *s)
{
    struct srv_watch *w = s->watch;
    if (w == NULL) {
        return;
    }
    int64_t rev = engine_revision(s->eng);
    if (rev != w->seen_rev) {
        w->seen_rev = rev;
        if (watch_hub_count(w->hub) > 0) {
            /* A revision no apply path reported: every watcher may be
             * behind and must look at history. */
            watch_hub_revision_moved(w->hub);
            w->dirty = true;
        }
    }
}

void srv_watch_conn_drained(struct srv *s, struct srv_conn *c)
{
    struct srv_watch *w = s->watch;
    if (w == NULL || srv_conn_backlog(c) >= s->cfg.server.watch_backlog_bytes) {
        return;
    }
    for (struct wstream *st = w->streams; st != NULL; st = st->next) {
        if (st->c == c && st->blocked_since_ns != 0) {
            for (size_t i = 0; i < st->n; i++) {
                watch_hub_mark(w->hub, st->ids[i]);
            }
            w->dirty = true;
        }
    }
}

void srv_watch_conn_closed(struct srv *s, struct srv_conn *c)
{
    struct srv_watch *w = s->watch;
    if (w == NULL) {
        return;
    }
    struct wstream *next;
    for (struct wstream *st = w->streams; st != NULL; st = next) {
        next = st->next;
        if (st->c == c) {
            st->dead = true;
        }
    }
    if (w->busy == 0) {
        sweep(w);
    }
}

/* Cancels every watcher of a stream whose connection has not drained for
 * server.watch_slow_timeout: the client is not reading.  Each gets a
 * CANCELED response (queued behind what it has not read: a client that
 * reads again learns why), and the stream ends. */
static void cancel_slow_stream(struct srv_watch *w, struct wstream *st)
{
    struct srv *s = w->s;
    ms_warn("client %s has not read its watch stream %llu for %llu ms; "
            "canceling its %zu watcher(s) as slow",
            srv_conn_peer(st->c), (unsigned long long)st->request_id,
            (unsigned long long)s->cfg.server.watch_slow_timeout_ms, st->n);
    for (size_t i = 0; i < st->n; i++) {
        struct watch_resp r = {
            .type = WATCH_RESP_CANCELED,
            .watch_id = st->ids[i],
            .revision = engine_revision(s->eng),
            .cause = WATCH_CANCEL_SLOW,
            .cancel_reason = "slow watcher: the client did not read its "
                             "stream within server.watch_slow_timeout",
        };
        (void)send_resp(w, st, &r, i + 1 == st->n);
        w->st.slow_canceled++;
    }
    engine_arena_reset(&w->arena);
    st->dead = true; /* the caller's sweep() drops its watchers */
}

static void on_timer(uv_timer_t *t)
{
    struct srv_watch *w = t->data;
    struct srv *s = w->s;
    uint64_t now = srv_now_ns();
    watch_hub_tick(w->hub, now);
    /* Time-based progress may be due: every watcher is asked, at a tenth
     * of the progress interval (at most every second, which also bounds
     * how long a watcher could wait if a mark were ever missed). */
    uint64_t every = s->cfg.server.watch_progress_interval_ms * 100000u;
    if (every > 1000000000u) {
        every = 1000000000u;
    }
    if (watch_hub_count(w->hub) > 0 && now - w->last_mark_all_ns >= every) {
        watch_hub_mark_all(w->hub);
        w->last_mark_all_ns = now;
        w->dirty = true;
    }
    uint64_t slow_ns = s->cfg.server.watch_slow_timeout_ms * 1000000u;
    w->busy++;
    for (struct wstream *st = w->streams; slow_ns > 0 && st != NULL;
         st = st->next) {
        if (!st->dead && st->blocked_since_ns != 0 &&
            now - st->blocked_since_ns >= slow_ns &&
            srv_conn_backlog(st->c) >= s->cfg.server.watch_backlog_bytes) {
            cancel_slow_stream(w, st);
        }
    }
    w->busy--;
    sweep(w);
    srv_watch_pump(s);
    srv_conn_flush_all(s);
}

/* ---- life cycle --------------------------------------------------------------- */

int srv_watch_start(struct srv *s)
{
    struct srv_watch *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return WATCH_ENOMEM;
    }
    w->s = s;
    engine_arena_init(&w->arena);
    struct watch_options o = {
        .catchup_limit = (int64_t)s->cfg.server.watch_batch_events,
        .progress_every_ns = s->cfg.server.watch_progress_interval_ms * 1000000u,
    };
    int rc = watch_hub_create(s->eng, &o, srv_now_ns(), &w->hub);
    if (rc != 0) {
        free(w);
        ms_error("cannot create the watcher hub: %s", watch_strerror(rc));
        return rc;
    }
    /* A live queue over its bound (a burst of writes within one loop turn)
     * falls back to history instead of canceling the watcher. */
    watch_hub_resync_on_overflow(w->hub, true);
    w->seen_rev = engine_revision(s->eng);
    uv_timer_init(s->loop, &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, on_timer, WATCH_TIMER_MS, WATCH_TIMER_MS);
    w->timer_started = true;
    s->watch = w;
    return 0;
}

void srv_watch_close(struct srv *s)
{
    struct srv_watch *w = s->watch;
    if (w == NULL) {
        return;
    }
    while (w->streams != NULL) {
        stream_free(w, w->streams);
    }
    watch_hub_destroy(w->hub);
    engine_arena_free(&w->arena);
    free(w->ev);
    free(w->ready);
    s->watch = NULL;
    free(w);
}

void srv_watch_get_stats(const struct srv *s, struct srv_watch_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s->watch != NULL) {
        *out = s->watch->st;
        out->watchers = watch_hub_count(s->watch->hub);
        out->live_revisions = s->watch->st_live_revisions;
        struct watch_hub_stats hs;
        watch_hub_get_stats(s->watch->hub, &hs);
        out->history_reads = hs.history_reads;
        out->overflows = hs.overflows;
        out->holds = hs.holds;
    }
}
