/*
 * The watcher hub (server/watch.h): which events each watcher still has to
 * receive, and in what order.
 *
 * Happy path: a watcher created "now" is synced (next_rev = current + 1);
 * each watch_hub_notify() copies the matching events of that revision into
 * its queue and advances next_rev; watch_hub_pending() hands the queue out
 * as one EVENTS response.  A watcher created at an old revision is behind:
 * pending() reads engine_history() from next_rev in batches of
 * catchup_limit events (whole revisions) until next_rev passes the engine's
 * revision; live notifications for revisions it has not reached are ignored
 * by it, so history and live events never overlap.
 *
 * Failure modes: queue over its bound or out of memory while queueing ->
 * CANCELED(SLOW), the others go on; history answering ENGINE_ECOMPACTED ->
 * CANCELED(COMPACTED) with the compact revision; other history errors are
 * returned and the watcher stays as it was.
 */
#include "server/watch.h"

#include <stdlib.h>
#include <string.h>

#define DEF_QUEUE_EVENTS 1024u
#define DEF_QUEUE_BYTES  (4u << 20)
#define DEF_CATCHUP      256

/* One queued event; its bytes follow the node. */
struct qnode {
    struct qnode *next;
    size_t bytes;
    struct engine_event ev;
};

struct watcher {
    int64_t id;
    size_t idx; /* its position in watch_hub.w */
    void *owner;
    uint8_t *key, *end; /* one allocation: key then end */
    size_t key_len, end_len;
    bool progress_notify, no_put, no_delete, prev_kv;
    bool created_sent, progress_asked;
    bool held;  /* watch_hub_hold(): no live events until the next pending */
    bool ready; /* on the hub's ready list */
    int64_t next_rev; /* first revision not yet received or queued */
    struct qnode *q_head, *q_tail;
    size_t q_events, q_bytes;
    enum watch_cancel_cause cancel;
    int64_t compact_rev;
    int64_t created_rev;   /* engine revision when it was added */
    int64_t last_resp_rev; /* for progress: revision and time of the */
    uint64_t last_resp_ns; /* last response */
};

struct watch_hub {
    struct engine *e;
    struct watch_options o;
    bool resync_on_overflow;
    struct watch_hub_stats st;
    uint64_t now_ns;
    int64_t notified; /* last revision given to notify */
    int64_t next_id;
    struct watcher **w;
    size_t n, cap;
    size_t rr;      /* poll resumes here */
    int64_t *ready; /* ids of marked watchers (see watch_hub_take_ready) */
    size_t ready_n, ready_cap;
    bool all_ready; /* every watcher counts as marked (ready[] overflowed
                       or watch_hub_mark_all) */
    /* id -> watcher, open addressing (the server looks a watcher up by id
     * for every response: a linear search made that quadratic). */
    struct slot *tab;
    size_t tab_cap, tab_used; /* power of two; live + tombstones */
};

/* A slot of the id table: id 0 empty, TOMBSTONE deleted. */
struct slot {
    int64_t id;
    struct watcher *w;
};
#define TOMBSTONE (-1)

const char *watch_strerror(int err)
{
    switch (err) {
#define WATCH__ERR_TEXT(name, value, text)                                     \
    case name:                                                                 \
        return text;
        WATCH_ERRORS(WATCH__ERR_TEXT)
#undef WATCH__ERR_TEXT
    default:
        return engine_strerror(err);
    }
}

static const char *cause_text(enum watch_cancel_cause c)
{
    switch (c) {
    case WATCH_CANCEL_CLIENT:
        return "canceled by client";
    case WATCH_CANCEL_COMPACTED:
        return "required revision has been compacted";
    case WATCH_CANCEL_SLOW:
        return "slow watcher: event queue exceeded its bound";
    default:
        return "";
    }
}

/* ---- hub and watchers --------------------------------------------------- */

int watch_hub_create(struct engine *e, const struct watch_options *opts,
                     uint64_t now_ns, struct watch_hub **out)
{
    struct watch_hub *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return WATCH_ENOMEM;
    if (opts != NULL)
        h->o = *opts;
    if (h->o.max_queue_events == 0)
        h->o.max_queue_events = DEF_QUEUE_EVENTS;
    if (h->o.max_queue_bytes == 0)
        h->o.max_queue_bytes = DEF_QUEUE_BYTES;
    if (h->o.catchup_limit <= 0)
        h->o.catchup_limit = DEF_CATCHUP;
    h->e = e;
    h->now_ns = now_ns;
    h->notified = engine_revision(e);
    h->next_id = 1;
    *out = h;
    return 0;
}

void watch_hub_resync_on_overflow(struct watch_hub *h, bool on)
{
    h->resync_on_overflow = on;
}

static void queue_clear(struct watcher *w)
{
    struct qnode *q = w->q_head;
    while (q != NULL) {
        struct qnode *next = q->next;
        free(q);
        q = next;
    }
    w->q_head = w->q_tail = NULL;
    w->q_events = w->q_bytes = 0;
}

static void watcher_free(struct watcher *w)
{
    queue_clear(w);
    free(w->key);
    free(w);
}

void watch_hub_destroy(struct watch_hub *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        watcher_free(h->w[i]);
    free(h->w);
    free(h->tab);
    free(h->ready);
    free(h);
}

/* ---- id table ------------------------------------------------------------- */

static size_t slot_of(int64_t id, size_t cap)
{
    uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ull;
    return (size_t)(x ^ (x >> 31)) & (cap - 1);
}

static struct watcher *tab_find(const struct watch_hub *h, int64_t id)
{
    if (h->tab_cap == 0 || id <= 0)
        return NULL;
    for (size_t i = slot_of(id, h->tab_cap);; i = (i + 1) & (h->tab_cap - 1)) {
        if (h->tab[i].id == id)
            return h->tab[i].w;
        if (h->tab[i].id == 0)
            return NULL;
    }
}

static void tab_put(struct slot *tab, size_t cap, struct watcher *w)
{
    size_t i = slot_of(w->id, cap);
    while (tab[i].id > 0)
        i = (i + 1) & (cap - 1);
    tab[i].id = w->id;
    tab[i].w = w;
}

/* Makes room for one more id: keeps the table at most half full
 * (tombstones included), rebuilding it from the live watchers. */
static int tab_reserve(struct watch_hub *h)
{
    if ((h->tab_used + 1) * 2 <= h->tab_cap)
        return 0;
    size_t cap = 16;
    while (cap < (h->n + 1) * 4)
        cap *= 2;
    struct slot *tab = calloc(cap, sizeof(*tab));
    if (tab == NULL)
        return WATCH_ENOMEM;
    for (size_t i = 0; i < h->n; i++)
        tab_put(tab, cap, h->w[i]);
    free(h->tab);
    h->tab = tab;
    h->tab_cap = cap;
    h->tab_used = h->n;
    return 0;
}

/* ---- ready list -------------------------------------------------------- */

static void mark(struct watch_hub *h, struct watcher *w)
{
    if (w->ready || h->all_ready)
        return;
    if (h->ready_n == h->ready_cap) {
        size_t cap = h->ready_cap ? h->ready_cap * 2 : 64;
        int64_t *v = realloc(h->ready, cap * sizeof(*v));
        if (v == NULL) { /* no room for the hint: everyone is ready */
            h->all_ready = true;
            return;
        }
        h->ready = v;
        h->ready_cap = cap;
    }
    h->ready[h->ready_n++] = w->id;
    w->ready = true;
}

void watch_hub_mark_all(struct watch_hub *h)
{
    h->all_ready = true;
}

void watch_hub_revision_moved(struct watch_hub *h)
{
    if (engine_revision(h->e) > h->notified)
        h->all_ready = true;
}

long watch_hub_take_ready(struct watch_hub *h, int64_t **ids, size_t *cap)
{
    size_t n = h->all_ready ? h->n : h->ready_n;
    if (n > *cap) {
        int64_t *v = realloc(*ids, n * sizeof(*v));
        if (v == NULL)
            return WATCH_ENOMEM;
        *ids = v;
        *cap = n;
    }
    if (h->all_ready) {
        for (size_t i = 0; i < h->n; i++) {
            (*ids)[i] = h->w[i]->id;
            h->w[i]->ready = false;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            struct watcher *w = tab_find(h, h->ready[i]);
            (*ids)[i] = h->ready[i];
            if (w != NULL)
                w->ready = false;
        }
    }
    h->ready_n = 0;
    h->all_ready = false;
    return (long)n;
}

static void tab_delete(struct watch_hub *h, int64_t id)
{
    for (size_t i = slot_of(id, h->tab_cap);; i = (i + 1) & (h->tab_cap - 1)) {
        if (h->tab[i].id == id) {
            h->tab[i].id = TOMBSTONE;
            h->tab[i].w = NULL;
            return;
        }
        if (h->tab[i].id == 0)
            return;
    }
}

static size_t find(const struct watch_hub *h, int64_t id)
{
    struct watcher *w = tab_find(h, id);
    return w != NULL ? w->idx : SIZE_MAX;
}

/* Removes watcher i, keeping the others in order. */
static void remove_at(struct watch_hub *h, size_t i)
{
    tab_delete(h, h->w[i]->id);
    watcher_free(h->w[i]);
    memmove(&h->w[i], &h->w[i + 1], (h->n - i - 1) * sizeof(h->w[0]));
    h->n--;
    for (size_t j = i; j < h->n; j++)
        h->w[j]->idx = j;
    if (h->rr > i)
        h->rr--;
}

static int check_create(const struct watch_create_req *r)
{
    if (r->key_len == 0 || r->key_len > ENGINE_MAX_KEY_BYTES ||
        r->range_end_len > ENGINE_MAX_KEY_BYTES || r->start_revision < 0 ||
        r->watch_id < 0 || (r->key_len > 0 && r->key == NULL) ||
        (r->range_end_len > 0 && r->range_end == NULL))
        return WATCH_EINVAL;
    return 0;
}

static int64_t pick_id(struct watch_hub *h)
{
    while (find(h, h->next_id) != SIZE_MAX)
        h->next_id++;
    return h->next_id++;
}

int watch_hub_add(struct watch_hub *h, const struct watch_create_req *req,
                  int64_t *id)
{
    int rc = check_create(req);
    if (rc != 0)
        return rc;
    if (req->watch_id > 0 && find(h, req->watch_id) != SIZE_MAX)
        return WATCH_EEXIST;
    if (tab_reserve(h) != 0)
        return WATCH_ENOMEM;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        struct watcher **v = realloc(h->w, cap * sizeof(*v));
        if (v == NULL)
            return WATCH_ENOMEM;
        h->w = v;
        h->cap = cap;
    }
    struct watcher *w = calloc(1, sizeof(*w));
    uint8_t *buf = malloc(req->key_len + req->range_end_len);
    if (w == NULL || buf == NULL) {
        free(w);
        free(buf);
        return WATCH_ENOMEM;
    }
    memcpy(buf, req->key, req->key_len);
    if (req->range_end_len > 0)
        memcpy(buf + req->key_len, req->range_end, req->range_end_len);
    w->key = buf;
    w->key_len = req->key_len;
    w->end = buf + req->key_len;
    w->end_len = req->range_end_len;
    w->id = req->watch_id > 0 ? req->watch_id : pick_id(h);
    w->owner = req->owner;
    w->progress_notify = req->progress_notify;
    w->no_put = req->no_put;
    w->no_delete = req->no_delete;
    w->prev_kv = req->prev_kv;
    int64_t now_rev = engine_revision(h->e);
    w->next_rev = req->start_revision > 0 ? req->start_revision : now_rev + 1;
    w->created_rev = now_rev;
    w->last_resp_rev = now_rev;
    w->last_resp_ns = h->now_ns;
    w->idx = h->n;
    h->w[h->n++] = w;
    tab_put(h->tab, h->tab_cap, w);
    h->tab_used++;
    mark(h, w); /* CREATED */
    *id = w->id;
    return 0;
}

int watch_hub_cancel(struct watch_hub *h, int64_t id)
{
    size_t i = find(h, id);
    if (i == SIZE_MAX)
        return WATCH_ENOTFOUND;
    struct watcher *w = h->w[i];
    if (w->cancel == WATCH_CANCEL_NONE) {
        queue_clear(w);
        w->cancel = WATCH_CANCEL_CLIENT;
    }
    mark(h, w);
    return 0;
}

int watch_hub_request_progress(struct watch_hub *h, int64_t id)
{
    size_t i = find(h, id);
    if (i == SIZE_MAX)
        return WATCH_ENOTFOUND;
    h->w[i]->progress_asked = true;
    mark(h, h->w[i]);
    return 0;
}

void watch_hub_mark(struct watch_hub *h, int64_t id)
{
    struct watcher *w = tab_find(h, id);
    if (w != NULL)
        mark(h, w);
}

void *watch_hub_owner(const struct watch_hub *h, int64_t id)
{
    struct watcher *w = tab_find(h, id);
    return w != NULL ? w->owner : NULL;
}

void watch_hub_drop_owner(struct watch_hub *h, const void *owner)
{
    for (size_t i = h->n; i > 0; i--)
        if (h->w[i - 1]->owner == owner)
            remove_at(h, i - 1);
}

void watch_hub_get_stats(const struct watch_hub *h, struct watch_hub_stats *out)
{
    *out = h->st;
}

size_t watch_hub_count(const struct watch_hub *h)
{
    return h->n;
}

void watch_hub_tick(struct watch_hub *h, uint64_t now_ns)
{
    if (now_ns > h->now_ns)
        h->now_ns = now_ns;
}

/* ---- live events -------------------------------------------------------- */

static bool wants(const struct watcher *w, const struct engine_event *ev)
{
    if (ev->type == ENGINE_EVENT_PUT ? w->no_put : w->no_delete)
        return false;
    return engine_key_in_range(ev->kv.key, ev->kv.key_len, w->key, w->key_len,
                               w->end, w->end_len);
}

static size_t event_bytes(const struct engine_event *ev, bool prev)
{
    size_t n = ev->kv.key_len + ev->kv.value_len;
    if (prev && ev->has_prev_kv)
        n += ev->prev_kv.key_len + ev->prev_kv.value_len;
    return n;
}

/* Copies the bytes of src (prev_kv only when `prev`) to buf; dst points
 * into buf.  buf holds event_bytes(src, prev). */
static void event_copy(struct engine_event *dst, const struct engine_event *src,
                       bool prev, uint8_t *buf)
{
    *dst = *src;
    dst->has_prev_kv = prev && src->has_prev_kv;
    if (!dst->has_prev_kv)
        memset(&dst->prev_kv, 0, sizeof(dst->prev_kv));
    const struct engine_kv *kvs[2] = {&src->kv, &src->prev_kv};
    struct engine_kv *out[2] = {&dst->kv, &dst->prev_kv};
    for (int i = 0; i < (dst->has_prev_kv ? 2 : 1); i++) {
        if (kvs[i]->key_len > 0)
            memcpy(buf, kvs[i]->key, kvs[i]->key_len);
        out[i]->key = buf;
        buf += kvs[i]->key_len;
        if (kvs[i]->value_len > 0)
            memcpy(buf, kvs[i]->value, kvs[i]->value_len);
        out[i]->value = buf;
        buf += kvs[i]->value_len;
    }
}

static void cancel_slow(struct watcher *w)
{
    queue_clear(w);
    w->cancel = WATCH_CANCEL_SLOW;
}

/* Everything before the queue's first revision has been handed out (a
 * queue is always taken whole), so rewinding next_rev to it and reading
 * history from there repeats nothing and skips nothing. */
static void hold(struct watch_hub *h, struct watcher *w)
{
    if (!w->held)
        h->st.holds++;
    mark(h, w); /* it has history to read */
    if (w->q_head != NULL)
        w->next_rev = w->q_head->ev.kv.mod_revision;
    queue_clear(w);
    w->held = true;
}

int watch_hub_hold(struct watch_hub *h, int64_t id)
{
    size_t i = find(h, id);
    if (i == SIZE_MAX)
        return WATCH_ENOTFOUND;
    if (h->w[i]->cancel == WATCH_CANCEL_NONE)
        hold(h, h->w[i]);
    return 0;
}

/* A queue over its bound, or no memory to grow it. */
static void overflow(struct watch_hub *h, struct watcher *w)
{
    h->st.overflows++;
    if (h->resync_on_overflow)
        hold(h, w);
    else
        cancel_slow(w);
    mark(h, w);
}

static void enqueue(struct watch_hub *h, struct watcher *w,
                    const struct engine_event *ev)
{
    size_t bytes = event_bytes(ev, w->prev_kv);
    if (w->q_events + 1 > h->o.max_queue_events ||
        w->q_bytes + bytes + sizeof(*ev) > h->o.max_queue_bytes) {
        overflow(h, w);
        return;
    }
    struct qnode *q = malloc(sizeof(*q) + bytes);
    if (q == NULL) { /* cannot keep the promise: never skip */
        overflow(h, w);
        return;
    }
    event_copy(&q->ev, ev, w->prev_kv, (uint8_t *)(q + 1));
    q->bytes = bytes;
    q->next = NULL;
    if (w->q_tail != NULL)
        w->q_tail->next = q;
    else
        w->q_head = q;
    w->q_tail = q;
    if (w->q_events == 0)
        mark(h, w);
    w->q_events++;
    w->q_bytes += bytes + sizeof(*ev);
}

int watch_hub_notify(struct watch_hub *h, int64_t revision,
                     const struct engine_event *events, size_t n)
{
    if (revision <= h->notified)
        return WATCH_EINVAL;
    h->notified = revision;
    for (size_t i = 0; i < h->n; i++) {
        struct watcher *w = h->w[i];
        /* Behind, ahead or held: history (or a later notify) covers it. */
        if (w->cancel != WATCH_CANCEL_NONE || w->held ||
            w->next_rev != revision)
            continue;
        for (size_t j = 0; j < n && w->cancel == WATCH_CANCEL_NONE && !w->held;
             j++)
            if (events[j].kv.mod_revision == revision && wants(w, &events[j]))
                enqueue(h, w, &events[j]);
        if (w->cancel == WATCH_CANCEL_NONE && !w->held)
            w->next_rev = revision + 1;
    }
    return 0;
}

/* ---- responses ---------------------------------------------------------- */

static int queue_out(struct watcher *w, struct engine_arena *a,
                     struct watch_resp *out)
{
    struct engine_event *evs =
        engine_arena_alloc(a, w->q_events * sizeof(*evs));
    if (evs == NULL)
        return ENGINE_ENOMEM;
    size_t i = 0;
    for (struct qnode *q = w->q_head; q != NULL; q = q->next, i++) {
        uint8_t *buf = engine_arena_alloc(a, q->bytes);
        if (buf == NULL)
            return ENGINE_ENOMEM;
        event_copy(&evs[i], &q->ev, true, buf);
    }
    out->type = WATCH_RESP_EVENTS;
    out->events = evs;
    out->events_len = i;
    queue_clear(w);
    return 1;
}

/* Reads history until it finds events for w or w has caught up with the
 * engine.  1 with EVENTS, 0 when caught up with nothing to send, 2 when w
 * got canceled by compaction, or an engine error. */
static int catch_up(struct watch_hub *h, struct watcher *w,
                    struct engine_arena *a, struct watch_resp *out)
{
    while (w->next_rev <= engine_revision(h->e)) {
        struct engine_history_req req = {
            w->key,      w->key_len,         w->end,    w->end_len,
            w->next_rev, h->o.catchup_limit, w->prev_kv};
        struct engine_history_result res;
        h->st.history_reads++;
        int rc = engine_history(h->e, &req, a, &res);
        if (rc == ENGINE_ECOMPACTED) {
            struct engine_stats st;
            engine_stats(h->e, &st);
            w->cancel = WATCH_CANCEL_COMPACTED;
            w->compact_rev = st.compact_revision;
            return 2;
        }
        if (rc != 0)
            return rc;
        size_t kept = 0;
        for (size_t i = 0; i < res.events_len; i++)
            if (wants(w, &res.events[i]))
                res.events[kept++] = res.events[i];
        w->next_rev = res.next_revision;
        if (kept > 0) {
            out->type = WATCH_RESP_EVENTS;
            out->events = res.events;
            out->events_len = kept;
            return 1;
        }
    }
    return 0;
}

static bool progress_due(const struct watch_hub *h, const struct watcher *w,
                         int64_t rev)
{
    if (w->progress_asked)
        return true;
    if (!w->progress_notify)
        return false;
    if (h->o.progress_every_revs > 0 &&
        rev - w->last_resp_rev >= h->o.progress_every_revs)
        return true;
    return h->o.progress_every_ns > 0 &&
           h->now_ns - w->last_resp_ns >= h->o.progress_every_ns;
}

/* The next response of watcher i: 1, 0 or an error; removes it after its
 * CANCELED. */
static int pending_at(struct watch_hub *h, size_t i, struct engine_arena *a,
                      struct watch_resp *out)
{
    struct watcher *w = h->w[i];
    memset(out, 0, sizeof(*out));
    w->held = false; /* its client has room: catch up, then live again */
    out->watch_id = w->id;
    out->owner = w->owner;
    int rc = 0;
    if (!w->created_sent) {
        out->type = WATCH_RESP_CREATED;
        w->created_sent = true;
        rc = 1;
    } else if (w->cancel == WATCH_CANCEL_NONE && w->q_events > 0) {
        rc = queue_out(w, a, out);
    } else if (w->cancel == WATCH_CANCEL_NONE) {
        rc = catch_up(h, w, a, out);
        if (rc == 0 && progress_due(h, w, engine_revision(h->e))) {
            out->type = WATCH_RESP_PROGRESS;
            w->progress_asked = false;
            rc = 1;
        }
    }
    /* CREATED carries the revision the watcher was added at: a watcher
     * "from now" receives everything after it, even if more entries applied
     * before this response went out (a client resuming from it must not
     * skip them). */
    out->revision = out->type == WATCH_RESP_CREATED && rc == 1
                        ? w->created_rev
                        : engine_revision(h->e);
    if (rc < 0 || (rc == 0 && w->cancel == WATCH_CANCEL_NONE))
        return rc;
    if (w->cancel != WATCH_CANCEL_NONE && rc != 1) {
        out->type = WATCH_RESP_CANCELED;
        out->cause = w->cancel;
        out->cancel_reason = cause_text(w->cancel);
        out->compact_revision = w->compact_rev;
        remove_at(h, i);
        return 1;
    }
    w->last_resp_rev = out->revision;
    w->last_resp_ns = h->now_ns;
    return 1;
}

int watch_hub_pending(struct watch_hub *h, int64_t id, struct engine_arena *a,
                      struct watch_resp *out)
{
    size_t i = find(h, id);
    if (i == SIZE_MAX)
        return WATCH_ENOTFOUND;
    return pending_at(h, i, a, out);
}

int watch_hub_poll(struct watch_hub *h, struct engine_arena *a,
                   struct watch_resp *out)
{
    for (size_t k = 0; k < h->n; k++) {
        size_t i = (h->rr + k) % h->n;
        h->rr = i + 1;
        int rc = pending_at(h, i, a, out);
        if (rc != 0)
            return rc;
    }
    return 0;
}
