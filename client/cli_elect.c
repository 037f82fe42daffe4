/*
 * cli_elect.c - `metastore-cli elect NAME PROPOSAL` and `elect -l NAME`:
 * leader election with etcdctl's algorithm (etcd's concurrency.Election).
 *
 * Campaign: a session lease kept alive in the background, the key
 * NAME/<lease id in hex> = PROPOSAL under it, and the campaign of
 * client/cli_session.c: the key with the lowest create revision under
 * NAME/ is the leader, every other candidate watches the key created just
 * before its own.  Elected: print "KEY\nPROPOSAL" and hold leadership
 * (a watch on our own key) until SIGINT/SIGTERM, then resign by revoking
 * the lease, which deletes the key and so elects the next candidate at
 * once.  A candidate killed without resigning loses its place when its
 * lease expires (after the TTL).  A lost lease (no renewal reached the
 * leader for a whole TTL, a revoke, a delete) ends leadership: reported on
 * stderr, exit 1.
 *
 * Listen (-l): read every key under NAME/ (the candidates), then watch the
 * prefix from the next revision and keep the candidate set up to date from
 * the events; whenever the candidate with the lowest create revision (the
 * leader), or its value, changes, print "KEY\nVALUE".  A compacted history
 * (the watch fell too far behind) is handled by reading the set again.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cli_session.h"
#include "client/cli_util.h"
#include "client/metastore.h"

/* ---- campaign ------------------------------------------------------ */

static int campaign(const struct mscli_elect_args *a)
{
    struct mscli_session s;
    if (mscli_session_open(&s, &a->conn, a->ttl_s) != 0) {
        return EXIT_FAILURE;
    }
    char prefix[1024], key[1100], err[512] = "";
    snprintf(prefix, sizeof prefix, "%s/", a->name);
    int64_t rev = 0;
    int rc = mscli_campaign(&s, prefix, a->proposal, key, sizeof key, &rev,
                            err, sizeof err);
    int status = EXIT_FAILURE;
    if (rc == 0) {
        printf("%s\n%s\n", key, a->proposal);
        fflush(stdout);
        rc = mscli_hold(&s, key, rev, false);
        status = EXIT_SUCCESS; /* interrupted: resign */
    }
    if (rc == MSCLI_LOST) {
        fprintf(stderr, "Error: %s (its lease is gone)\n",
                status == EXIT_SUCCESS ? "leadership was lost"
                                       : "the campaign's lease was lost");
        status = EXIT_FAILURE;
    } else if (rc != 0 && rc != MSCLI_INTERRUPTED) {
        fprintf(stderr, "Error: %s\n", err[0] != '\0' ? err : ms_strerror(rc));
        status = EXIT_FAILURE;
    }
    mscli_session_close(&s, true); /* resign, or leave the queue */
    return status;
}

/* ---- listen -------------------------------------------------------- */

struct candidate {
    uint8_t *key, *value;
    size_t key_len, value_len;
    int64_t create_rev;
};

struct observer {
    struct candidate *c;
    size_t n, cap;
    /* the leader printed last: key, value and create revision */
    uint8_t *key, *value;
    size_t key_len, value_len;
    int64_t create_rev;
    bool failed; /* out of memory */
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n > 0 ? n : 1);
    if (d != NULL && n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

static void candidate_free(struct candidate *c)
{
    free(c->key);
    free(c->value);
}

static void observer_clear(struct observer *o)
{
    for (size_t i = 0; i < o->n; i++) {
        candidate_free(&o->c[i]);
    }
    o->n = 0;
}

static void observer_free(struct observer *o)
{
    observer_clear(o);
    free(o->c);
    free(o->key);
    free(o->value);
}

static ssize_t find(const struct observer *o, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->c[i].key_len == len && memcmp(o->c[i].key, key, len) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

/* A PUT: a new candidate, or a new value for one (a proclamation). */
static void observe_put(struct observer *o, const struct ms_kv *kv)
{
    ssize_t i = find(o, kv->key, kv->key_len);
    uint8_t *v = dup_bytes(kv->value, kv->value_len);
    if (v == NULL) {
        o->failed = true;
        return;
    }
    if (i >= 0) {
        free(o->c[i].value);
        o->c[i].value = v;
        o->c[i].value_len = kv->value_len;
        return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap > 0 ? o->cap * 2 : 8;
        struct candidate *p = realloc(o->c, cap * sizeof *p);
        if (p == NULL) {
            free(v);
            o->failed = true;
            return;
        }
        o->c = p;
        o->cap = cap;
    }
    struct candidate *c = &o->c[o->n];
    c->key = dup_bytes(kv->key, kv->key_len);
    if (c->key == NULL) {
        free(v);
        o->failed = true;
        return;
    }
    c->key_len = kv->key_len;
    c->value = v;
    c->value_len = kv->value_len;
    c->create_rev = kv->create_revision;
    o->n++;
}

static void observe_delete(struct observer *o, const struct ms_kv *kv)
{
    ssize_t i = find(o, kv->key, kv->key_len);
    if (i >= 0) {
        candidate_free(&o->c[i]);
        o->c[i] = o->c[--o->n];
    }
}

/* Prints the leader when it (or its value) changed since the last print. */
static void observe_report(struct observer *o)
{
    const struct candidate *l = NULL;
    for (size_t i = 0; i < o->n; i++) {
        if (l == NULL || o->c[i].create_rev < l->create_rev) {
            l = &o->c[i];
        }
    }
    if (l == NULL ||
        (o->key != NULL && l->create_rev == o->create_rev &&
         l->key_len == o->key_len && memcmp(l->key, o->key, l->key_len) == 0 &&
         l->value_len == o->value_len &&
         memcmp(l->value, o->value, l->value_len) == 0)) {
        return; /* no leader, or the same one */
    }
    free(o->key);
    free(o->value);
    o->key = dup_bytes(l->key, l->key_len);
    o->value = dup_bytes(l->value, l->value_len);
    if (o->key == NULL || o->value == NULL) {
        o->failed = true;
        return;
    }
    o->key_len = l->key_len;
    o->value_len = l->value_len;
    o->create_rev = l->create_rev;
    fwrite(l->key, 1, l->key_len, stdout);
    fputc('\n', stdout);
    fwrite(l->value, 1, l->value_len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static int on_observe(void *arg, const struct ms_watch_response *r)
{
    struct observer *o = arg;
    for (size_t i = 0; i < r->n_events; i++) {
        if (r->events[i].type == MS_EVENT_PUT) {
            observe_put(o, &r->events[i].kv);
        } else {
            observe_delete(o, &r->events[i].kv);
        }
    }
    if (r->n_events > 0) {
        observe_report(o);
    }
    return o->failed;
}

/* Reads the candidates; *rev = the revision they were read at. */
static int observe_load(struct ms_client *c, const char *prefix,
                        struct observer *o, int64_t *rev)
{
    struct ms_range_options ro = {.prefix = true};
    struct ms_result *r = NULL;
    int rc = ms_get(c, prefix, strlen(prefix), &ro, &r);
    if (rc == 0) {
        observer_clear(o);
        for (size_t i = 0; i < r->range.n_kvs; i++) {
            observe_put(o, &r->range.kvs[i]);
        }
        *rev = r->header.revision;
        observe_report(o);
    }
    ms_result_free(r);
    return rc;
}

static void on_listen_signal(int sig)
{
    (void)sig;
    _exit(0); /* every leader was flushed as it was printed */
}

static int listen_leaders(const struct mscli_elect_args *a)
{
    struct ms_client *c = NULL;
    if (mscli_conn_client(&a->conn, &c) != 0) {
        return EXIT_FAILURE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_listen_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s/", a->name);
    struct observer o = {0};
    int rc;
    for (;;) {
        int64_t rev = 0;
        rc = observe_load(c, prefix, &o, &rev);
        if (rc != 0 && mscli_transient(rc)) {
            usleep(200 * 1000); /* no leader or no node yet: again */
            continue;
        }
        if (rc != 0 || o.failed) {
            break;
        }
        struct ms_watch_options wo = {.key = prefix,
                                      .key_len = strlen(prefix),
                                      .prefix = true,
                                      .start_revision = rev + 1};
        rc = ms_watch(c, &wo, -1, on_observe, &o);
        if (rc != MS_ECOMPACTED || o.failed) {
            break; /* fell behind a compaction: read the set again */
        }
    }
    int status = EXIT_SUCCESS;
    if (o.failed) {
        status = EXIT_FAILURE;
        fprintf(stderr, "Error: %s\n", ms_strerror(MS_ENOMEM));
    } else if (rc != 0) {
        const char *m = ms_client_errmsg(c);
        fprintf(stderr, "Error: %s\n", m[0] != '\0' ? m : ms_strerror(rc));
        status = EXIT_FAILURE;
    }
    observer_free(&o);
    ms_client_close(c);
    return status;
}

int mscli_elect_main(const struct mscli_elect_args *a)
{
    if (a->name == NULL || a->name[0] == '\0' || a->ttl_s <= 0 ||
        (a->listen && a->proposal != NULL) ||
        (!a->listen && a->proposal == NULL)) {
        return -1;
    }
    return a->listen ? listen_leaders(a) : campaign(a);
}
