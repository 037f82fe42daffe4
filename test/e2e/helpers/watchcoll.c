/*
 * watchcoll.c - the watch event collector shared by the single-node and
 * cluster watch tests (watchcoll.h).
 */
#include "test/e2e/helpers/watchcoll.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"

void watchcoll_init(struct watchcoll *k)
{
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
}

int watchcoll_cb(void *arg, const struct ms_watch_response *r)
{
    struct watchcoll *k = arg;
    pthread_mutex_lock(&k->mu);
    k->created += r->created;
    if (r->canceled) {
        k->canceled++;
        k->compact_rev = r->compact_revision;
    }
    for (size_t i = 0; i < r->n_events && k->n < WATCHCOLL_MAX_EV; i++) {
        const struct ms_event *e = &r->events[i];
        k->rev[k->n] = e->kv.mod_revision;
        k->type[k->n] = e->type;
        snprintf(k->key[k->n], sizeof k->key[0], "%.*s", (int)e->kv.key_len,
                 (const char *)e->kv.key);
        snprintf(k->value[k->n], sizeof k->value[0], "%.*s",
                 (int)e->kv.value_len, (const char *)e->kv.value);
        k->n++;
    }
    bool stop = k->stop_after > 0 && k->n >= k->stop_after;
    pthread_mutex_unlock(&k->mu);
    return stop ? 1 : 0;
}

size_t watchcoll_count(struct watchcoll *k)
{
    pthread_mutex_lock(&k->mu);
    size_t n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

static void *watch_thread(void *arg)
{
    struct watchcoll *k = arg;
    struct ms_client *c = NULL;
    k->rc = ms_client_create(k->endpoints, k->n_endpoints, &k->copts, &c);
    if (k->rc == 0) {
        k->rc = ms_watch(c, &k->o, k->timeout_ms, watchcoll_cb, k);
        ms_client_close(c);
    }
    return NULL;
}

void watchcoll_start(struct watchcoll *k, const char *prefix, int64_t start,
                     size_t stop_after, int timeout_ms)
{
    k->o.key = prefix;
    k->o.key_len = strlen(prefix);
    k->o.prefix = true;
    k->o.start_revision = start;
    k->stop_after = stop_after;
    k->timeout_ms = timeout_ms;
    ck_assert_int_eq(pthread_create(&k->thread, NULL, watch_thread, k), 0);
}

void watchcoll_wait(struct watchcoll *k, size_t n, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (watchcoll_count(k) < n && e2e_now_ms() < deadline) {
        usleep(2000);
    }
    ck_assert_msg(watchcoll_count(k) >= n, "watcher has %zu of %zu events",
                  watchcoll_count(k), n);
}
