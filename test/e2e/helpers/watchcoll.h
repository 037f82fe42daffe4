/*
 * watchcoll.h - an event collector for watch tests: a thread runs
 * ms_watch() with its own client and records every event it is given
 * (revision, type, key, value), the created and canceled responses, and
 * stops after a given number of events.  Tests read the record under the
 * lock (watchcoll_count) or after joining the thread.
 */
#ifndef METASTORE_TEST_WATCHCOLL_H
#define METASTORE_TEST_WATCHCOLL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client/metastore.h"

#define WATCHCOLL_MAX_EV 4096

struct watchcoll {
    pthread_mutex_t mu;
    size_t n;
    int64_t rev[WATCHCOLL_MAX_EV];
    int type[WATCHCOLL_MAX_EV];
    char key[WATCHCOLL_MAX_EV][48];
    char value[WATCHCOLL_MAX_EV][48];
    size_t stop_after; /* stop when n reaches it (0: never) */
    int created, canceled;
    int64_t compact_rev;
    /* for the watcher thread, set before watchcoll_start() */
    const char *endpoints[4];
    size_t n_endpoints;
    struct ms_client_options copts; /* the watcher's client */
    struct ms_watch_options o;
    int timeout_ms;
    int rc; /* ms_client_create's or ms_watch's result, once joined */
    pthread_t thread;
};

/* Zeroes k and initializes its lock. */
void watchcoll_init(struct watchcoll *k);
/* The ms_watch() callback that records into k (arg). */
int watchcoll_cb(void *arg, const struct ms_watch_response *r);
/* Events recorded so far. */
size_t watchcoll_count(struct watchcoll *k);
/* Starts the watcher thread on k->endpoints with k->copts, watching the
 * keys under prefix from revision start; it stops after stop_after events
 * (0: never) or timeout_ms. */
void watchcoll_start(struct watchcoll *k, const char *prefix, int64_t start,
                     size_t stop_after, int timeout_ms);
/* Waits (deadline) until the collector has n events; fails the test
 * otherwise. */
void watchcoll_wait(struct watchcoll *k, size_t n, int timeout_ms);

#endif /* METASTORE_TEST_WATCHCOLL_H */
