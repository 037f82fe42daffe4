/*
 * test_watch.c - Watch on a real 3-node cluster: watchers on every node
 * (followers included) see every change exactly once and in order, checked
 * against the revisions the concurrent writes were given; a watcher whose
 * node is killed with SIGKILL resumes on another node through ms_watch()
 * without missing or repeating an event, and the node, restarted, serves
 * the whole history again; a watcher on a follower that is cut off and
 * then catches up by installing a snapshot still gets every event.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/cluster_up.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/watchcoll.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static int start_cluster(const char *const *more)
{
    const char *const base[] = {CLUSTER_FAST_FLAGS, NULL};
    return cluster_up(&cl, 3, base, more);
}

/* A put through any node, retried while the cluster changes; returns the
 * write's revision. */
static int64_t put_rev(struct ms_client *c, const char *k, const char *v)
{
    uint64_t deadline = e2e_now_ms() + 10000;
    for (;;) {
        struct ms_result *r = NULL;
        int rc = ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r);
        if (rc == 0) {
            int64_t rev = r->header.revision;
            ms_result_free(r);
            return rev;
        }
        ms_result_free(r);
        /* Only a write that was never applied may be retried blindly: the
         * keys here are written once, so a duplicate would show up as a
         * second event and fail the test rather than hide a bug. */
        ck_assert_msg(e2e_now_ms() < deadline, "put %s: %s", k,
                      ms_strerror(rc));
        ck_assert_msg(rc == MS_ENOENDPOINT || rc == MS_EUNAVAILABLE ||
                          rc == MS_ENOTLEADER,
                      "put %s: %s", k, ms_strerror(rc));
        usleep(20000);
    }
}

/* ---- collector (test/e2e/helpers/watchcoll.c) ----------------------- */

/* Watches prefix on the given nodes (first one first) from `start`.  A
 * keepalive_ms set in k->o before the call is kept. */
static void coll_start(struct watchcoll *k, const int *nodes, size_t n,
                       const char *prefix, int64_t start, size_t stop_after)
{
    uint32_t keepalive = k->o.keepalive_ms;
    watchcoll_init(k);
    k->o.keepalive_ms = keepalive;
    for (size_t i = 0; i < n; i++) {
        k->endpoints[i] = cl.nodes[nodes[i]].endpoint;
    }
    k->n_endpoints = n;
    k->copts.dial_timeout_ms = 300;
    k->copts.command_timeout_ms = 2000;
    watchcoll_start(k, prefix, start, stop_after, 60000);
}

/* The collector holds exactly the writes keys[i] -> revs[i] (given in
 * revision order), in that order. */
static void coll_check(struct watchcoll *k, char (*keys)[32],
                       const int64_t *revs, size_t n)
{
    ck_assert_int_eq(k->rc, 0);
    ck_assert_uint_eq(k->n, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(k->rev[i], revs[i]);
        ck_assert_str_eq(k->key[i], keys[i]);
    }
}

/* ---- tests ---------------------------------------------------------- */

#define WRITERS 3
#define PER_WRITER 100
#define TOTAL (WRITERS * PER_WRITER)

struct writer {
    pthread_t thread;
    int id;
    int64_t rev[PER_WRITER];
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct ms_client *c = cluster_client(&cl, -1, 2000);
    for (int i = 0; i < PER_WRITER; i++) {
        char k[32];
        snprintf(k, sizeof k, "c/%d/%03d", w->id, i);
        w->rev[i] = put_rev(c, k, "v");
    }
    ms_client_close(c);
    return NULL;
}

START_TEST(watchers_on_every_node_see_every_change_in_order)
{
    start_cluster(NULL);
    struct ms_client *c = cluster_client(&cl, -1, 2000);
    int64_t base = put_rev(c, "base", "x");
    static struct watchcoll k[3];
    for (int i = 0; i < 3; i++) {
        coll_start(&k[i], &i, 1, "c/", base + 1, TOTAL);
    }
    static struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i].id = i;
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
    }
    /* The writes in revision order. */
    static char keys[TOTAL][32];
    static int64_t revs[TOTAL];
    for (int i = 0; i < WRITERS; i++) {
        for (int j = 0; j < PER_WRITER; j++) {
            int64_t r = w[i].rev[j];
            ck_assert_int_gt(r, base);
            ck_assert_int_le(r, base + TOTAL);
            snprintf(keys[r - base - 1], 32, "c/%d/%03d", i, j);
            revs[r - base - 1] = r;
        }
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(k[i].thread, NULL);
        coll_check(&k[i], keys, revs, TOTAL);
        ck_assert_int_eq(k[i].created, 1);
    }
    ms_client_close(c);
}
END_TEST

#define RESUME_EACH 100

START_TEST(watcher_resumes_on_another_node_after_sigkill)
{
    int leader = start_cluster(NULL);
    int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    int64_t base = put_rev(c, "base", "x");
    static struct watchcoll k;
    int order[3] = {f1, f2, leader};
    coll_start(&k, order, 3, "r/", base + 1, 2 * RESUME_EACH);
    static char keys[2 * RESUME_EACH][32];
    static int64_t revs[2 * RESUME_EACH];
    for (int i = 0; i < RESUME_EACH; i++) {
        snprintf(keys[i], 32, "r/%04d", i);
        revs[i] = put_rev(c, keys[i], "v");
    }
    watchcoll_wait(&k, RESUME_EACH / 2, 10000);
    ck_assert_int_eq(cluster_node_kill(&cl, f1), 0);
    for (int i = RESUME_EACH; i < 2 * RESUME_EACH; i++) {
        snprintf(keys[i], 32, "r/%04d", i);
        revs[i] = put_rev(c, keys[i], "v");
    }
    pthread_join(k.thread, NULL);
    coll_check(&k, keys, revs, 2 * RESUME_EACH);
    ck_assert_int_eq(k.created, 1);

    /* The killed node, restarted, replays the whole history. */
    ck_assert_int_eq(cluster_node_start(&cl, f1, false, NULL, 10000), 0);
    static struct watchcoll again;
    int only[1] = {f1};
    coll_start(&again, only, 1, "r/", base + 1, 2 * RESUME_EACH);
    pthread_join(again.thread, NULL);
    coll_check(&again, keys, revs, 2 * RESUME_EACH);
    ms_client_close(c);
}
END_TEST

START_TEST(watcher_leaves_a_stopped_node_after_its_keepalive)
{
    int leader = start_cluster(NULL);
    int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    int64_t base = put_rev(c, "base", "x");
    static struct watchcoll k;
    int order[3] = {f1, f2, leader};
    k.o.keepalive_ms = 300;
    coll_start(&k, order, 3, "p/", base + 1, 2 * RESUME_EACH);
    static char keys[2 * RESUME_EACH][32];
    static int64_t revs[2 * RESUME_EACH];
    for (int i = 0; i < RESUME_EACH; i++) {
        snprintf(keys[i], 32, "p/%04d", i);
        revs[i] = put_rev(c, keys[i], "v");
    }
    watchcoll_wait(&k, RESUME_EACH, 10000);
    /* The process stops but its sockets stay open: only silence tells. */
    cluster_node_pause(&cl, f1);
    uint64_t t0 = e2e_now_ms();
    for (int i = RESUME_EACH; i < 2 * RESUME_EACH; i++) {
        snprintf(keys[i], 32, "p/%04d", i);
        revs[i] = put_rev(c, keys[i], "v");
    }
    pthread_join(k.thread, NULL);
    ck_assert_uint_ge(e2e_now_ms() - t0, 500); /* two keepalive periods */
    coll_check(&k, keys, revs, 2 * RESUME_EACH);
    cluster_node_resume(&cl, f1);
    ms_client_close(c);
}
END_TEST

#define SNAP_WRITES 300

START_TEST(watcher_on_follower_survives_a_snapshot_install)
{
    const char *more[] = {"--set", "raft.snapshot_entries=100", "--set",
                          "raft.snapshot_keep_entries=10", NULL};
    int leader = start_cluster(more);
    int f = (leader + 1) % 3;
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    int64_t base = put_rev(c, "base", "x");
    static struct watchcoll k;
    int only[1] = {f};
    coll_start(&k, only, 1, "s/", base + 1, SNAP_WRITES);
    static char keys[SNAP_WRITES][32];
    static int64_t revs[SNAP_WRITES];
    snprintf(keys[0], 32, "s/%04d", 0);
    revs[0] = put_rev(c, keys[0], "v");
    watchcoll_wait(&k, 1, 10000); /* the watcher is live on f */
    ck_assert_int_eq(cluster_isolate(&cl, f), 0);
    for (int i = 1; i < SNAP_WRITES; i++) {
        snprintf(keys[i], 32, "s/%04d", i);
        revs[i] = put_rev(c, keys[i], "v");
    }
    ck_assert_int_eq(cluster_heal_all(&cl), 0);
    pthread_join(k.thread, NULL);
    ck_assert_msg(cluster_log_contains(&cl, f, "installed snapshot"),
                  "the follower caught up without a snapshot");
    coll_check(&k, keys, revs, SNAP_WRITES);
    ms_client_close(c);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_watch");
    TCase *tc = tcase_create("watch");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, watchers_on_every_node_see_every_change_in_order);
    tcase_add_test(tc, watcher_resumes_on_another_node_after_sigkill);
    tcase_add_test(tc, watcher_on_follower_survives_a_snapshot_install);
    tcase_add_test(tc, watcher_leaves_a_stopped_node_after_its_keepalive);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
