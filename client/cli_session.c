/*
 * cli_session.c - sessions and campaigns for `metastore-cli lock` and
 * `elect` (client/cli_session.h), following etcd's concurrency package.
 *
 * Happy path: grant a lease, keep it alive from a background thread, put
 * NAME/<lease hex> under it with a Txn (create revision 0 -> put, else
 * get), list NAME/ by create revision, and while a key older than ours
 * exists, watch the one just before ours until it is deleted.  Each waiter
 * watches only its predecessor, so a release wakes exactly one waiter (no
 * herd), and a waiter whose predecessor gave up (interrupted, its lease
 * expired) looks again and waits for the next older key.
 *
 * Nothing here polls the server: between events the process sleeps in
 * poll() on a Watch stream, or on the wake-up pipe.  The watch is asked
 * for progress after 250 ms of silence (its keepalive probe) so that a
 * signal or the loss of the lease is noticed within that time, and each
 * watch is bounded (WATCH_SLICE_MS) so that a cluster that does not answer
 * at all cannot keep a waiter from noticing either.
 *
 * Failure modes: an election or a dead node (retried, the lease decides
 * how long); the lease lost (MSCLI_LOST: our key is gone or going, we no
 * longer hold or queue for anything); SIGINT/SIGTERM (MSCLI_INTERRUPTED);
 * anything else (a refused request) is returned with its message.
 */
#include "client/cli_session.h"
#include "client/cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCH_SLICE_MS     2000 /* one watch's limit; then look again */
#define WATCH_PROBE_MS     250  /* silence before the watch asks progress */
#define RETRY_MS           200  /* after a transient failure */

volatile sig_atomic_t mscli_interrupted;
volatile sig_atomic_t mscli_child_exited;
static int wake_fd = -1; /* the write end, for the signal handler */

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGCHLD) {
        mscli_child_exited = 1;
    } else {
        mscli_interrupted = 1;
    }
    if (wake_fd >= 0) {
        ssize_t n = write(wake_fd, "x", 1); /* full pipe: already awake */
        (void)n;
    }
    errno = saved;
}

/* Called from the keep-alive thread: only the loss matters here. */
static void on_keepalive(void *arg, int64_t id, int64_t ttl_s, int err)
{
    struct mscli_session *s = arg;
    (void)id;
    (void)ttl_s;
    if (err != 0) {
        ssize_t n = write(s->wake[1], "x", 1);
        (void)n;
    }
}

static const char *why(struct ms_client *c, int rc)
{
    const char *m = c != NULL ? ms_client_errmsg(c) : "";
    return m[0] != '\0' ? m : ms_strerror(rc);
}

bool mscli_transient(int rc)
{
    return rc == MS_EUNAVAILABLE || rc == MS_ETIMEDOUT ||
           rc == MS_ENOTLEADER || rc == MS_ENOENDPOINT || rc == MS_ECLOSED ||
           rc == MS_EPROTO || (rc < 0 && rc > -10000); /* -errno: I/O */
}

int mscli_conn_client(const struct mscli_conn *conn, struct ms_client **c)
{
    char **eps = NULL;
    size_t n = 0;
    char err[256] = "";
    if (mscli_endpoints_parse(conn->endpoints, &eps, &n, err, sizeof err)) {
        return mscli_fail("%s", err);
    }
    struct ms_client_options o = {
        .dial_timeout_ms = (uint32_t)((conn->dial_ns + 999999) / 1000000),
        .command_timeout_ms = (uint32_t)((conn->command_ns + 999999) / 1000000),
        .tls = conn->tls,
        .user = conn->user,
        .password = conn->password,
    };
    int rc = ms_client_create((const char *const *)eps, n, &o, c);
    mscli_endpoints_free(eps);
    return rc == 0 ? 0 : mscli_fail("%s", ms_strerror(rc));
}

static int open_pipe(int fds[2])
{
    if (pipe(fds) != 0) {
        return -errno;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC); /* not for the command */
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
}

int mscli_session_open(struct mscli_session *s, const struct mscli_conn *conn,
                       int64_t ttl_s)
{
    memset(s, 0, sizeof *s);
    s->wake[0] = s->wake[1] = -1;
    int rc = open_pipe(s->wake);
    if (rc != 0) {
        return mscli_fail("cannot create a pipe: %s", strerror(-rc));
    }
    wake_fd = s->wake[1];
    install_signals();
    if (mscli_conn_client(conn, &s->c) != 0) {
        mscli_session_close(s, false);
        return EXIT_FAILURE;
    }
    rc = ms_lease_grant(s->c, ttl_s, 0, &s->lease_id, NULL);
    if (rc == 0) {
        char **eps = NULL;
        size_t n = 0;
        char err[256] = "";
        rc = mscli_endpoints_parse(conn->endpoints, &eps, &n, err, sizeof err);
        if (rc == 0) {
            rc = ms_keepalive_start_with((const char *const *)eps, n,
                                         conn->user, conn->password, conn->tls,
                                         s->lease_id, on_keepalive, s, &s->ka);
            mscli_endpoints_free(eps);
        }
        if (rc != 0) {
            mscli_fail("cannot keep the lease alive: %s", ms_strerror(rc));
            mscli_session_close(s, true);
            return EXIT_FAILURE;
        }
        return 0;
    }
    mscli_fail("cannot grant a lease: %s", why(s->c, rc));
    mscli_session_close(s, false);
    return EXIT_FAILURE;
}

void mscli_session_close(struct mscli_session *s, bool revoke)
{
    ms_keepalive_stop(s->ka);
    s->ka = NULL;
    if (revoke && s->c != NULL && s->lease_id != 0) {
        /* Best effort: if it fails, the lease still expires after its
         * TTL, since nobody renews it any more. */
        int rc = ms_lease_revoke(s->c, s->lease_id);
        if (rc != 0 && rc != MS_ENOTFOUND) {
            fprintf(stderr,
                    "Warning: could not revoke lease %" PRIx64
                    " (%s); it expires after its TTL\n",
                    (uint64_t)s->lease_id, why(s->c, rc));
        }
    }
    ms_client_close(s->c);
    s->c = NULL;
    if (wake_fd == s->wake[1]) {
        wake_fd = -1;
    }
    for (int i = 0; i < 2; i++) {
        if (s->wake[i] >= 0) {
            close(s->wake[i]);
            s->wake[i] = -1;
        }
    }
}

bool mscli_session_lost(struct mscli_session *s)
{
    return s->ka != NULL && ms_keepalive_lost(s->ka);
}

void mscli_session_wait(struct mscli_session *s, int timeout_ms)
{
    struct pollfd p = {.fd = s->wake[0], .events = POLLIN};
    /* Every event also writes to the pipe, so one that came just before
     * this call is not slept through. */
    (void)poll(&p, 1, timeout_ms); /* EINTR: a signal, look again */
    char buf[64];
    while (read(s->wake[0], buf, sizeof buf) > 0) {
    }
}

/* 0 to go on, or why to stop campaigning. */
static int stop_reason(struct mscli_session *s)
{
    if (mscli_interrupted) {
        return MSCLI_INTERRUPTED;
    }
    return mscli_session_lost(s) ? MSCLI_LOST : 0;
}

/* Puts key = value under the lease unless it exists; *rev = its create
 * revision. */
static int put_if_absent(struct mscli_session *s, const char *key,
                         const char *value, int64_t *rev, char *err,
                         size_t err_cap)
{
    size_t klen = strlen(key);
    struct ms_compare cmp = {.target = MS_CMP_CREATE,
                             .op = MS_CMP_EQUAL,
                             .key = key,
                             .key_len = klen,
                             .number = 0};
    struct ms_op put = {.type = MS_OP_PUT,
                        .key = key,
                        .key_len = klen,
                        .value = value,
                        .value_len = strlen(value),
                        .lease = s->lease_id};
    struct ms_op get = {.type = MS_OP_RANGE, .key = key, .key_len = klen};
    for (;;) {
        int stop = stop_reason(s);
        if (stop != 0) {
            return stop;
        }
        struct ms_result *r = NULL;
        int rc = ms_txn(s->c, &cmp, 1, &put, 1, &get, 1, &r);
        if (rc == 0) {
            bool ok = r->txn.succeeded ||
                      (r->txn.n_responses == 1 &&
                       r->txn.responses[0].range.n_kvs == 1);
            *rev = r->txn.succeeded
                       ? r->header.revision
                       : ok ? r->txn.responses[0].range.kvs[0].create_revision
                            : 0;
            ms_result_free(r);
            if (ok) {
                return 0;
            }
            continue; /* created and gone again: the lease is going */
        }
        ms_result_free(r);
        if (!mscli_transient(rc)) {
            snprintf(err, err_cap, "%s", why(s->c, rc));
            return rc;
        }
        mscli_session_wait(s, RETRY_MS);
    }
}

struct wait_delete {
    struct mscli_session *s;
    bool deleted;
};

static int on_watch(void *arg, const struct ms_watch_response *r)
{
    struct wait_delete *w = arg;
    for (size_t i = 0; i < r->n_events; i++) {
        if (r->events[i].type == MS_EVENT_DELETE) {
            w->deleted = true;
        }
    }
    return w->deleted || stop_reason(w->s) != 0;
}

/* Waits until key is deleted at a revision >= from_rev, for at most one
 * watch slice.  0 (deleted, or time to look again), MSCLI_INTERRUPTED,
 * MSCLI_LOST, or an MS_E* code. */
static int wait_delete(struct mscli_session *s, const uint8_t *key,
                       size_t key_len, int64_t from_rev, char *err,
                       size_t err_cap)
{
    struct wait_delete w = {.s = s};
    struct ms_watch_options o = {.key = key,
                                 .key_len = key_len,
                                 .start_revision = from_rev,
                                 .no_put = true,
                                 .progress_notify = true,
                                 .keepalive_ms = WATCH_PROBE_MS};
    int rc = ms_watch(s->c, &o, WATCH_SLICE_MS, on_watch, &w);
    if (w.deleted) {
        return 0;
    }
    int stop = stop_reason(s);
    if (stop != 0) {
        return stop;
    }
    if (rc == 0 || rc == MS_ETIMEDOUT || rc == MS_ECOMPACTED) {
        return 0;
    }
    if (mscli_transient(rc)) {
        mscli_session_wait(s, RETRY_MS);
        return 0;
    }
    snprintf(err, err_cap, "%s", why(s->c, rc));
    return rc;
}

/*
 * One look at the queue: 0 and *pred_len 0 when our key is the oldest;
 * else the predecessor's key in *pred (malloc'ed) and the Range's revision
 * in *at.  MSCLI_LOST when our key is gone.
 */
static int find_predecessor(struct mscli_session *s, const char *prefix,
                            const char *key, int64_t rev, uint8_t **pred,
                            size_t *pred_len, int64_t *at)
{
    struct ms_range_options o = {.prefix = true,
                                 .keys_only = true,
                                 .sort_target = MS_SORT_CREATE,
                                 .sort_order = MS_SORT_ASCEND};
    struct ms_result *r = NULL;
    int rc = ms_get(s->c, prefix, strlen(prefix), &o, &r);
    if (rc != 0) {
        ms_result_free(r);
        return rc;
    }
    size_t klen = strlen(key);
    bool mine = false;
    const struct ms_kv *before = NULL;
    for (size_t i = 0; i < r->range.n_kvs; i++) {
        const struct ms_kv *kv = &r->range.kvs[i];
        if (kv->create_revision < rev) {
            before = kv; /* sorted: the last one is the closest */
        } else if (kv->key_len == klen && memcmp(kv->key, key, klen) == 0) {
            mine = true;
        }
    }
    *pred_len = 0;
    *at = r->header.revision;
    if (mine && before != NULL) {
        *pred = malloc(before->key_len);
        if (*pred == NULL) {
            ms_result_free(r);
            return MS_ENOMEM;
        }
        memcpy(*pred, before->key, before->key_len);
        *pred_len = before->key_len;
    }
    ms_result_free(r);
    return mine ? 0 : MSCLI_LOST;
}

int mscli_campaign(struct mscli_session *s, const char *prefix,
                   const char *value, char *key, size_t key_cap, int64_t *rev,
                   char *err, size_t err_cap)
{
    int n = snprintf(key, key_cap, "%s%" PRIx64, prefix, (uint64_t)s->lease_id);
    if (n < 0 || (size_t)n >= key_cap) {
        snprintf(err, err_cap, "the name is too long");
        return MS_EINVAL;
    }
    int rc = put_if_absent(s, key, value, rev, err, err_cap);
    while (rc == 0) {
        int stop = stop_reason(s);
        if (stop != 0) {
            return stop;
        }
        uint8_t *pred = NULL;
        size_t pred_len = 0;
        int64_t at = 0;
        rc = find_predecessor(s, prefix, key, *rev, &pred, &pred_len, &at);
        if (rc == 0 && pred_len == 0) {
            return 0; /* nobody before us */
        }
        if (rc == 0) {
            rc = wait_delete(s, pred, pred_len, at + 1, err, err_cap);
            free(pred);
        } else if (mscli_transient(rc)) {
            mscli_session_wait(s, RETRY_MS);
            rc = 0;
        } else if (rc != MSCLI_LOST) {
            snprintf(err, err_cap, "%s", why(s->c, rc));
        }
    }
    return rc;
}

struct hold {
    struct mscli_session *s;
    bool watch_child;
    bool deleted;
    int64_t next; /* first revision not seen yet */
};

static int hold_stop(struct hold *h)
{
    if (h->deleted) {
        return MSCLI_LOST;
    }
    int stop = stop_reason(h->s);
    if (stop == 0 && h->watch_child && mscli_child_exited) {
        stop = MSCLI_CHILD;
    }
    return stop;
}

static int on_hold_watch(void *arg, const struct ms_watch_response *r)
{
    struct hold *h = arg;
    for (size_t i = 0; i < r->n_events; i++) {
        if (r->events[i].type == MS_EVENT_DELETE) {
            h->deleted = true;
        }
    }
    if (r->progress && r->header.revision + 1 > h->next) {
        h->next = r->header.revision + 1;
    }
    return hold_stop(h) != 0;
}

/* After a compaction: is the key still there?  0 (yes, *next moved on),
 * MSCLI_LOST, or a failure to retry. */
static int hold_recheck(struct mscli_session *s, const char *key,
                        int64_t *next)
{
    struct ms_result *r = NULL;
    int rc = ms_get(s->c, key, strlen(key), NULL, &r);
    if (rc == 0) {
        rc = r->range.n_kvs == 1 ? 0 : MSCLI_LOST;
        *next = r->header.revision + 1;
    }
    ms_result_free(r);
    return rc;
}

int mscli_hold(struct mscli_session *s, const char *key, int64_t rev,
               bool watch_child)
{
    struct hold h = {.s = s, .watch_child = watch_child, .next = rev + 1};
    struct ms_watch_options o = {.key = key,
                                 .key_len = strlen(key),
                                 .no_put = true,
                                 .progress_notify = true,
                                 .keepalive_ms = WATCH_PROBE_MS};
    for (;;) {
        int stop = hold_stop(&h);
        if (stop != 0) {
            return stop;
        }
        o.start_revision = h.next;
        int rc = ms_watch(s->c, &o, WATCH_SLICE_MS, on_hold_watch, &h);
        if (rc == MS_ECOMPACTED) {
            rc = hold_recheck(s, key, &h.next);
            if (rc == MSCLI_LOST) {
                return rc;
            }
        }
        if (rc != 0 && rc != MS_ETIMEDOUT && hold_stop(&h) == 0) {
            /* The cluster is unreachable or refuses the watch: the
             * keep-alive decides whether the lease survives it. */
            mscli_session_wait(s, RETRY_MS);
        }
    }
}
