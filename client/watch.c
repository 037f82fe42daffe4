/*
 * watch.c - ms_watch(): a blocking watch that survives failures
 * (client/metastore.h; the stream rules are in docs/protocol.md).
 *
 * Happy path: send one WATCH frame with a create request on a fresh
 * request id, then read frames with that id (flag STREAM) and hand each
 * WatchResponse to the callback.
 *
 * Resuming: `next` is the first revision not yet delivered.  It starts at
 * start_revision (or, for "from now", at the CREATED header's revision + 1,
 * which is where the server started the watcher), moves past the last
 * event of each response (a response holds whole revisions), and past a
 * progress response's revision (the server sends progress only once the
 * watcher has caught up).  After any connection failure, a server error
 * that is not the request's fault, or a slow-watcher cancel, the watch is
 * created again from `next` on the next endpoint that answers: nothing is
 * missed and nothing repeated.  A node that is behind simply holds the
 * watcher until it reaches `next`.
 *
 * Keepalive: a node that stops (SIGSTOP, a hung host) or a path that breaks
 * without closing the connection is noticed by silence: after keepalive_ms
 * without a frame a progress request is sent, and when nothing answers it
 * within as long again the watch resumes elsewhere.  A follower cut off
 * from its leader still answers (it serves its own applied state): that
 * case is not detected.
 *
 * Failure modes: compaction -> MS_ECOMPACTED; refusal by the server
 * (limits, bad key) -> its code; the time limit -> MS_ETIMEDOUT.  The
 * connection is always dropped on return: the stream may still have
 * responses in flight, and the server frees the watcher when it sees the
 * close.
 */
#include "client/internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS__WATCH_KEEPALIVE_MS 10000u
#define RETRY_MIN_MS 50u
#define RETRY_MAX_MS 1000u

struct wctx {
    struct ms_client *c;
    const struct ms_watch_options *o;
    ms_watch_cb cb;
    void *arg;
    uint64_t deadline;
    bool once;          /* timeout_ms 0: stop at the first progress */
    int64_t next;       /* first revision not delivered; 0 = unknown yet */
    bool created_seen;  /* the callback got `created` */
    uint64_t keepalive_ns;
    uint8_t *end_buf;   /* prefix range end */
    size_t end_len;
    uint8_t *buf;
    size_t cap;
};

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static void from_pb_kv(const Metastore__KeyValue *kv, struct ms_kv *out)
{
    memset(out, 0, sizeof *out);
    if (kv == NULL) {
        return;
    }
    out->key = kv->key.data;
    out->key_len = kv->key.len;
    out->value = kv->value.data != NULL ? kv->value.data : (const uint8_t *)"";
    out->value_len = kv->value.len;
    out->create_revision = kv->create_revision;
    out->mod_revision = kv->mod_revision;
    out->version = kv->version;
    out->lease = kv->lease;
}

/* Sends the create request for the current position. */
static int send_create(struct wctx *w, uint64_t id)
{
    const struct ms_watch_options *o = w->o;
    Metastore__WatchCreateRequest cr = METASTORE__WATCH_CREATE_REQUEST__INIT;
    Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
    Metastore__WatchCreateRequest__FilterType filters[2];
    cr.key.data = (uint8_t *)o->key;
    cr.key.len = o->key_len;
    if (o->prefix) {
        cr.range_end.data = w->end_buf;
        cr.range_end.len = w->end_len;
    } else if (o->from_key) {
        cr.range_end.data = (uint8_t *)"";
        cr.range_end.len = 1; /* "\0": every key from key on */
    } else {
        cr.range_end.data = (uint8_t *)o->range_end;
        cr.range_end.len = o->range_end_len;
    }
    cr.start_revision = w->next;
    cr.prev_kv = o->prev_kv;
    cr.progress_notify = o->progress_notify;
    if (o->no_put) {
        filters[cr.n_filters++] =
            METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT;
    }
    if (o->no_delete) {
        filters[cr.n_filters++] =
            METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE;
    }
    cr.filters = filters;
    rq.request_union_case = METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    rq.create_request = &cr;
    size_t n = protobuf_c_message_get_packed_size(&rq.base);
    uint8_t *out = malloc(MS__FRAME_HEADER_BYTES + n);
    if (out == NULL) {
        return MS_ENOMEM;
    }
    struct ms__frame_header h = {(uint32_t)n, MS__METHOD_WATCH, 0, id};
    ms__frame_header_encode(&h, out);
    protobuf_c_message_pack(&rq.base, out + MS__FRAME_HEADER_BYTES);
    size_t sent = 0;
    int rc = ms__client_write_all(w->c, out,
                               MS__FRAME_HEADER_BYTES + n, w->deadline, &sent);
    free(out);
    return rc;
}

/* Asks for a progress response on stream id: answered once the watcher
 * has caught up.  Used to find the end of "what has already happened"
 * (timeout_ms 0) and as a keepalive probe. */
static int send_progress(struct wctx *w, uint64_t id)
{
    Metastore__WatchProgressRequest pr = METASTORE__WATCH_PROGRESS_REQUEST__INIT;
    Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
    rq.request_union_case =
        METASTORE__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST;
    rq.progress_request = &pr;
    uint8_t out[MS__FRAME_HEADER_BYTES + 8];
    size_t n = protobuf_c_message_get_packed_size(&rq.base);
    struct ms__frame_header h = {(uint32_t)n, MS__METHOD_WATCH, 0, id};
    ms__frame_header_encode(&h, out);
    protobuf_c_message_pack(&rq.base, out + MS__FRAME_HEADER_BYTES);
    size_t sent = 0;
    return ms__client_write_all(w->c, out,
                             MS__FRAME_HEADER_BYTES + n, w->deadline, &sent);
}

/* Waits until fd is readable or deadline_ns: 0 or MS_ETIMEDOUT. */
static int wait_readable(int fd, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = ms__now_ns();
        if (now >= deadline_ns) {
            return MS_ETIMEDOUT;
        }
        uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0 || (n < 0 && errno != EINTR)) {
            return 0; /* readable, or an error the read will report */
        }
    }
}

/* Outcomes of one connection's watch. */
enum {
    W_RETRY = 1, /* reconnect and resume */
    W_IDLE = 3,  /* nothing arrived before the idle deadline */
};

/* Reads the next frame of stream `id` into w->buf; W_IDLE when no frame
 * starts before idle_ns (a frame that has started is read whole, within
 * the call's deadline). */
static int read_frame(struct wctx *w, uint64_t id, uint64_t idle_ns,
                      struct ms__frame_header *h)
{
    for (;;) {
        uint8_t raw[MS__FRAME_HEADER_BYTES];
        int rc = 0;
        if (!ms__client_buffered(w->c)) {
            rc = wait_readable(ms__client_fd(w->c),
                               idle_ns < w->deadline ? idle_ns : w->deadline);
        }
        if (rc != 0) {
            return ms__now_ns() < w->deadline ? W_IDLE : rc;
        }
        rc = ms__client_read_full(w->c, raw, sizeof raw, w->deadline);
        if (rc != 0) {
            return rc;
        }
        rc = ms__frame_header_decode(raw, MS__MAX_BODY_BYTES, h);
        if (rc != 0) {
            return rc;
        }
        size_t need = h->length > 0 ? h->length : 1;
        if (need > w->cap) {
            uint8_t *p = realloc(w->buf, need);
            if (p == NULL) {
                return MS_ENOMEM;
            }
            w->buf = p;
            w->cap = need;
        }
        rc = ms__client_read_full(w->c, w->buf, h->length, w->deadline);
        if (rc != 0) {
            return rc;
        }
        if ((h->flags & MS__FLAG_RESPONSE) && h->request_id == id &&
            h->method == MS__METHOD_WATCH) {
            return 0;
        }
        /* A late answer to something else: skip it. */
    }
}

/* Delivers one WatchResponse.  0 to read on, W_RETRY, or a final code
 * (<= 0; 1 is never final: a stopping callback gives MS__STOP). */
#define MS__STOP 2
static int deliver(struct wctx *w, const Metastore__WatchResponse *m)
{
    struct ms_watch_response r;
    memset(&r, 0, sizeof r);
    if (m->header != NULL) {
        r.header.cluster_id = m->header->cluster_id;
        r.header.member_id = m->header->member_id;
        r.header.revision = m->header->revision;
        r.header.raft_term = m->header->raft_term;
        r.header.applied_index = m->header->applied_index;
    }
    r.watch_id = m->watch_id;
    r.created = m->created;
    r.canceled = m->canceled;
    r.compact_revision = m->compact_revision;
    r.cancel_reason = m->cancel_reason != NULL ? m->cancel_reason : "";
    r.progress = !m->created && !m->canceled && m->n_events == 0;
    struct ms_event *ev = NULL;
    if (m->n_events > 0) {
        ev = calloc(m->n_events, sizeof *ev);
        if (ev == NULL) {
            return MS_ENOMEM;
        }
        for (size_t i = 0; i < m->n_events; i++) {
            const Metastore__Event *e = m->events[i];
            ev[i].type = e->type == METASTORE__EVENT__EVENT_TYPE__DELETE
                             ? MS_EVENT_DELETE
                             : MS_EVENT_PUT;
            from_pb_kv(e->kv, &ev[i].kv);
            ev[i].has_prev_kv = e->prev_kv != NULL;
            from_pb_kv(e->prev_kv, &ev[i].prev_kv);
        }
        r.events = ev;
        r.n_events = m->n_events;
    }
    /* Where a resumed watch must start. */
    if (m->created) {
        if (w->next == 0) {
            w->next = r.header.revision + 1;
        }
    } else if (m->n_events > 0) {
        int64_t last = ev[m->n_events - 1].kv.mod_revision;
        if (last + 1 > w->next) {
            w->next = last + 1;
        }
    } else if (r.progress && r.header.revision + 1 > w->next) {
        w->next = r.header.revision + 1;
    }
    /* Hidden: a second `created` (a resumed watch), a slow-watcher cancel
     * (resumed), progress nobody asked for (keepalive probes). */
    bool show = !(m->created && w->created_seen) &&
                !(m->canceled && m->compact_revision == 0) &&
                !(r.progress && !w->o->progress_notify && !w->once);
    if (m->created) {
        w->created_seen = true;
    }
    int rc = 0;
    if (show && w->cb(w->arg, &r) != 0) {
        rc = MS__STOP;
    }
    free(ev);
    if (rc != 0) {
        return rc;
    }
    if (m->canceled) {
        if (m->compact_revision != 0) {
            ms__client_set_errmsg(w->c,
                                  "watch canceled: revision %lld is compacted "
                                  "(compact revision %lld)",
                                  (long long)w->next,
                                  (long long)m->compact_revision);
            return MS_ECOMPACTED;
        }
        return W_RETRY; /* slow-watcher cancel: resume where we are */
    }
    if (w->once && r.progress) {
        return MS__STOP;
    }
    return 0;
}

/* One connection's worth of watching: 0 never; W_RETRY, MS__STOP or an
 * error. */
static int watch_once(struct wctx *w)
{
    uint64_t id = ms__client_next_id(w->c);
    int rc = send_create(w, id);
    if (rc == 0 && w->once) {
        rc = send_progress(w, id);
    }
    if (rc == MS_ETIMEDOUT || rc == MS_ENOMEM) {
        return rc;
    }
    if (rc != 0) {
        return W_RETRY;
    }
    /* Keepalive: after keepalive_ns of silence, probe with a progress
     * request; silence for as long again means the node or the path to it
     * hangs (a stopped process, a partition): go elsewhere. */
    bool probing = false;
    uint64_t idle = ms__now_ns() + w->keepalive_ns;
    for (;;) {
        struct ms__frame_header h;
        rc = read_frame(w, id, idle, &h);
        if (rc == W_IDLE) {
            if (probing) {
                ms__client_set_errmsg(w->c, "%s: no answer to a watch "
                                            "keepalive probe",
                                      ms_client_endpoint(w->c));
                return W_RETRY;
            }
            if (send_progress(w, id) != 0) {
                return W_RETRY;
            }
            probing = true;
            idle = ms__now_ns() + w->keepalive_ns;
            continue;
        }
        if (rc == MS_ETIMEDOUT || rc == MS_ENOMEM) {
            return rc;
        }
        if (rc != 0) {
            return W_RETRY; /* closed, reset, garbage: another endpoint */
        }
        probing = false;
        idle = ms__now_ns() + w->keepalive_ns;
        if (h.flags & MS__FLAG_ERROR) {
            Metastore__ErrorDetail *d =
                metastore__error_detail__unpack(NULL, h.length, w->buf);
            if (d == NULL) {
                return W_RETRY;
            }
            int status = d->code;
            ms__client_set_errmsg(w->c, "%s: watch refused: %s",
                                  ms_client_endpoint(w->c),
                                  d->message != NULL ? d->message : "");
            metastore__error_detail__free_unpacked(d, NULL);
            if (status == MS_STATUS_UNAVAILABLE ||
                status == MS_STATUS_INTERNAL ||
                status == MS_STATUS_NOT_LEADER) {
                return W_RETRY;
            }
            return ms_status_to_error(status);
        }
        Metastore__WatchResponse *m =
            metastore__watch_response__unpack(NULL, h.length, w->buf);
        if (m == NULL) {
            return W_RETRY;
        }
        rc = deliver(w, m);
        metastore__watch_response__free_unpacked(m, NULL);
        if (rc != 0) {
            return rc;
        }
        if (h.flags & MS__FLAG_STREAM_END) {
            return W_RETRY; /* ended without a cancel we understood */
        }
    }
}

int ms_watch(struct ms_client *c, const struct ms_watch_options *o,
             int timeout_ms, ms_watch_cb cb, void *arg)
{
    if (c == NULL || o == NULL || cb == NULL || o->key == NULL ||
        o->key_len == 0 || o->start_revision < 0 || timeout_ms < -1 ||
        (o->range_end_len > 0 && o->range_end == NULL)) {
        return MS_EINVAL;
    }
    struct wctx w = {
        .c = c,
        .o = o,
        .cb = cb,
        .arg = arg,
        .once = timeout_ms == 0,
        .next = o->start_revision,
        .keepalive_ns = (uint64_t)(o->keepalive_ms != 0 ? o->keepalive_ms
                                                        : MS__WATCH_KEEPALIVE_MS) *
                        1000000u,
    };
    /* timeout_ms 0 ("what has happened so far") is bounded like a call. */
    uint64_t limit_ms =
        timeout_ms == 0 ? MS_DEFAULT_COMMAND_TIMEOUT_MS : (uint64_t)timeout_ms;
    w.deadline = timeout_ms != -1 ? ms__now_ns() + limit_ms * 1000000u
                                  : UINT64_MAX;
    if (o->prefix) {
        int rc = ms_prefix_range_end(o->key, o->key_len, &w.end_buf,
                                     &w.end_len);
        if (rc != 0) {
            return rc;
        }
    }
    unsigned backoff = RETRY_MIN_MS;
    int rc;
    for (;;) {
        rc = ms__client_connect(c, w.deadline);
        if (rc == 0) {
            rc = watch_once(&w);
            if (rc == W_RETRY) {
                backoff = RETRY_MIN_MS;
            }
        } else if (rc != MS_ETIMEDOUT) {
            rc = W_RETRY; /* no endpoint answers yet: wait and try again */
        }
        if (rc != W_RETRY) {
            break;
        }
        ms__client_fail_over(c);
        if (ms__now_ns() >= w.deadline) {
            rc = MS_ETIMEDOUT;
            break;
        }
        sleep_ms(backoff);
        backoff = backoff * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff * 2;
    }
    ms__client_disconnect(c); /* the stream may still have data in flight */
    free(w.end_buf);
    free(w.buf);
    if (rc == MS__STOP) {
        rc = 0;
    }
    if (rc == MS_ETIMEDOUT) {
        ms__client_set_errmsg(c, "watch: time limit reached");
    }
    return rc;
}
