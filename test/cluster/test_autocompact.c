/*
 * test_autocompact.c - automatic compaction (compaction.mode) on a real
 * 3-node cluster: in revision and periodic mode the leader's COMPACT entry
 * compacts every node at the same revision (a read at an older revision
 * fails with "compacted" on all three, the current data is intact, a
 * watcher from a compacted revision is canceled as compacted); in off mode
 * nothing is compacted, checked after a TTL lease has expired (the leader's
 * expiry runs on the same tick as its compaction decision, so by then the
 * decision has been taken many times).  Bad settings are refused at start.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static int start3_on(const char *engine, const char *mode,
                     const char *retention)
{
    const char *extra[CLUSTER_MAX_EXTRA] = {
        CLUSTER_FAST_FLAGS, "--engine", engine, "--auto-compaction-mode", mode,
        "--auto-compaction-retention", retention, "--set", "ttl.min_ttl=1s",
        NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader elected");
    return leader;
}

static int start3(const char *mode, const char *retention)
{
    return start3_on("memory", mode, retention);
}

/* Node i's compact and current revisions (-1 when it does not answer). */
static int64_t node_revisions(int i, int64_t *current)
{
    struct ms_client *c = cluster_client(&cl, i, 2000);
    int64_t compact = -1;
    struct ms_result *r = NULL;
    if (c != NULL && ms_status(c, &r) == 0) {
        compact = r->status_info.compact_revision;
        *current = r->status_info.revision;
    }
    ms_result_free(r);
    if (c != NULL) {
        ms_client_close(c);
    }
    return compact;
}

/* Waits until every node reports the same compact revision, at least
 * `min` and with the same current revision; returns it, or -1. */
static int64_t wait_same_compaction(int64_t min, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (e2e_now_ms() < deadline) {
        int64_t cur0 = 0, cur = 0;
        int64_t c0 = node_revisions(0, &cur0);
        bool same = c0 >= min && c0 > 0;
        for (int i = 1; i < 3 && same; i++) {
            same = node_revisions(i, &cur) == c0 && cur == cur0;
        }
        if (same) {
            return c0;
        }
        usleep(20000);
    }
    return -1;
}

/* A serializable (local) read of key at rev on node i: the ms_* code. */
static int get_at(int i, const char *key, int64_t rev, char *val, size_t n)
{
    struct ms_client *c = cluster_client(&cl, i, 2000);
    ck_assert_ptr_nonnull(c);
    struct ms_range_options o = {.revision = rev,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    int rc = ms_get(c, key, strlen(key), &o, &r);
    if (rc == 0 && val != NULL) {
        const struct ms_kv *kv = r->range.n_kvs > 0 ? &r->range.kvs[0] : NULL;
        snprintf(val, n, "%.*s", kv != NULL ? (int)kv->value_len : 0,
                 kv != NULL ? (const char *)kv->value : "");
    }
    ms_result_free(r);
    ms_client_close(c);
    return rc;
}

struct cancel_seen {
    bool canceled;
    int64_t compact_revision;
};

static int on_watch(void *arg, const struct ms_watch_response *r)
{
    struct cancel_seen *s = arg;
    if (r->canceled) {
        s->canceled = true;
        s->compact_revision = r->compact_revision;
    }
    return 0;
}

/* Every node refuses old revisions and serves the current data. */
static void check_compacted_everywhere(int64_t compacted, const char *key,
                                       const char *latest)
{
    char val[64];
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(get_at(i, key, compacted - 1, NULL, 0),
                         MS_ECOMPACTED);
        ck_assert_int_eq(get_at(i, key, compacted, NULL, 0), 0);
        ck_assert_int_eq(get_at(i, key, 0, val, sizeof val), 0);
        ck_assert_str_eq(val, latest);
    }
    /* A watcher from a compacted revision gets the compacted cancel. */
    struct ms_client *c = cluster_client(&cl, 1, 2000);
    ck_assert_ptr_nonnull(c);
    struct ms_watch_options o = {.key = key,
                                 .key_len = strlen(key),
                                 .start_revision = 1};
    struct cancel_seen seen = {0};
    ck_assert_int_eq(ms_watch(c, &o, 5000, on_watch, &seen), MS_ECOMPACTED);
    ck_assert(seen.canceled);
    ck_assert_int_ge(seen.compact_revision, compacted);
    ms_client_close(c);
}

/* n puts of key through the leader; returns the revision of the last. */
static int64_t put_n(int leader, const char *key, int n, char *last,
                     size_t last_len)
{
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    ck_assert_ptr_nonnull(c);
    int64_t rev = 0;
    for (int i = 0; i < n; i++) {
        snprintf(last, last_len, "v%d", i);
        struct ms_result *r = NULL;
        int rc = ms_put(c, key, strlen(key), last, strlen(last), 0, false, &r);
        ck_assert_msg(rc == 0, "put %s: %s", key, ms_strerror(rc));
        rev = r->header.revision;
        ms_result_free(r);
    }
    ms_client_close(c);
    return rev;
}

static void revision_mode_on(const char *engine)
{
    int leader = start3_on(engine, "revision", "10");
    char last[16];
    int64_t cur = put_n(leader, "k", 40, last, sizeof last);
    /* Keeping 10, compacting once 10 more can go: at most 2N are held. */
    int64_t at = wait_same_compaction(cur - 20, 10000);
    ck_assert_msg(at > 0, "no common compaction at >= %lld",
                  (long long)(cur - 20));
    ck_assert_int_le(at, cur - 10);
    check_compacted_everywhere(at, "k", last);
    ck_assert(cluster_log_contains(&cl, leader, "auto-compaction: compacting"));
}

START_TEST(revision_mode_compacts_every_node_at_the_same_revision)
{
    revision_mode_on("memory");
}
END_TEST

START_TEST(revision_mode_compacts_every_node_rocksdb)
{
    revision_mode_on("rocksdb");
}
END_TEST

START_TEST(periodic_mode_compacts_what_is_older_than_the_retention)
{
    int leader = start3("periodic", "1s");
    char last[16];
    int64_t cur = put_n(leader, "p", 5, last, sizeof last);
    /* No writes after these: a second on, the revision sampled after them
     * is one retention old and becomes the compact revision. */
    int64_t at = wait_same_compaction(cur, 10000);
    ck_assert_msg(at == cur, "compacted at %lld, wanted %lld", (long long)at,
                  (long long)cur);
    check_compacted_everywhere(at, "p", last);
}
END_TEST

START_TEST(off_never_compacts)
{
    int leader = start3("off", "");
    char last[16];
    put_n(leader, "o", 40, last, sizeof last);
    /* A 1s lease with a key: its expiry is decided on the leader's tick,
     * after the compaction decision of the same tick. */
    struct ms_client *c = cluster_client(&cl, leader, 2000);
    ck_assert_ptr_nonnull(c);
    int64_t id = 0;
    ck_assert_int_eq(ms_lease_grant(c, 1, 0, &id, NULL), 0);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "lk", 2, "x", 1, id, false, &r), 0);
    ms_result_free(r);
    uint64_t deadline = e2e_now_ms() + 10000;
    char *v = NULL;
    for (;;) {
        ck_assert_int_eq(cluster_get(c, "lk", &v), 0);
        if (v == NULL || e2e_now_ms() >= deadline) {
            break;
        }
        free(v);
        v = NULL;
        usleep(20000);
    }
    ck_assert_msg(v == NULL, "lease did not expire");
    free(v);
    ms_client_close(c);
    for (int i = 0; i < 3; i++) {
        int64_t cur = 0;
        ck_assert_int_eq(node_revisions(i, &cur), 0);
        ck_assert_int_eq(get_at(i, "o", 2, NULL, 0), 0);
    }
    ck_assert(!cluster_log_contains(&cl, leader, "auto-compaction"));
}
END_TEST

/* metastored refuses to start, naming the key and what is wrong. */
static void refused(const char *mode, const char *retention, const char *why)
{
    struct e2e_server srv;
    e2e_server_init(&srv);
    const char *extra[] = {"--auto-compaction-mode", mode,
                           "--auto-compaction-retention", retention, NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 5000), -1);
    ck_assert_msg(e2e_server_log_contains(&srv, why), "no \"%s\" in the log",
                  why);
    e2e_server_cleanup(&srv);
}

START_TEST(bad_settings_are_refused_at_start)
{
    refused("revision", "1h", "compaction.retention");
    refused("periodic", "100", "compaction.retention");
    refused("sometimes", "1h", "compaction.mode");
}
END_TEST

static Suite *autocompact_suite(void)
{
    Suite *s = suite_create("cluster_autocompact");
    TCase *tc = tcase_create("autocompact");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, revision_mode_compacts_every_node_at_the_same_revision);
    tcase_add_test(tc, revision_mode_compacts_every_node_rocksdb);
    tcase_add_test(tc, periodic_mode_compacts_what_is_older_than_the_retention);
    tcase_add_test(tc, off_never_compacts);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("config");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, bad_settings_are_refused_at_start);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    cluster_suite_begin();
    SRunner *sr = srunner_create(autocompact_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
