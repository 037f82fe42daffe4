/*
 * test_partition.c - links cut with the fault hook: a minority keeps no
 * leader and refuses linearizable reads and writes while the majority
 * serves (the clients' history is checked for linearizability) and catches
 * up after healing; an isolated old leader completes neither a write nor a
 * linearizable read (CheckQuorum + ReadIndex) while the rest elects a new
 * leader.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

#define REQUEST_TIMEOUT_MS 1000

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static int start_cluster(int n)
{
    /* CLUSTER_FAST_FLAGS sets server.request_timeout=1s. */
    const char *extra[] = {CLUSTER_FAST_FLAGS, NULL};
    cluster_init(&cl, n, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader elected");
    return leader;
}

static bool refused(int rv)
{
    return rv == MS_EUNAVAILABLE || rv == MS_ETIMEDOUT;
}

/* A linearizable write and read sent to node i both fail with UNAVAILABLE
 * or DEADLINE_EXCEEDED, each within the server's request timeout. */
static void node_refuses_reads_and_writes(int i, const char *key)
{
    struct ms_client *c = cluster_client(&cl, i, 3 * REQUEST_TIMEOUT_MS);
    ck_assert_ptr_nonnull(c);
    uint64_t t0 = e2e_now_ms();
    int rv = cluster_put(c, key, "must-not-be-acknowledged");
    uint64_t took = e2e_now_ms() - t0;
    ck_assert_msg(refused(rv), "write on cut-off node %d: %s", i + 1,
                  ms_strerror(rv));
    ck_assert_msg(took <= REQUEST_TIMEOUT_MS + 500,
                  "write refusal took %llu ms", (unsigned long long)took);
    ms_client_close(c);

    c = cluster_client(&cl, i, 3 * REQUEST_TIMEOUT_MS);
    ck_assert_ptr_nonnull(c);
    char *got = NULL;
    t0 = e2e_now_ms();
    rv = cluster_get(c, key, &got);
    took = e2e_now_ms() - t0;
    ck_assert_msg(refused(rv), "linearizable read on cut-off node %d: %s%s%s",
                  i + 1, ms_strerror(rv), got != NULL ? ", read " : "",
                  got != NULL ? got : "");
    ck_assert_msg(took <= REQUEST_TIMEOUT_MS + 500, "read refusal took %llu ms",
                  (unsigned long long)took);
    free(got);
    ms_client_close(c);
}

START_TEST(minority_has_no_leader_refuses_requests_and_catches_up_after_heal)
{
    int leader = start_cluster(5);
    struct cluster_workload w;
    cluster_workload_start(&w, &cl, 4, 4, 1000);
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 100, 10000), 0);

    /* Two followers form the minority. */
    int minority[2], majority[3], nm = 0, nM = 0;
    for (int i = 0; i < cl.n; i++) {
        if (i != leader && nm < 2) {
            minority[nm++] = i;
        } else {
            majority[nM++] = i;
        }
    }
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cluster_partition(&cl, minority[k], majority, 3), 0);
    }
    bool in_majority[CLUSTER_MAX_NODES] = {false};
    for (int k = 0; k < 3; k++) {
        in_majority[majority[k]] = true;
    }
    ck_assert_int_eq(cluster_wait_leader(&cl, in_majority, 5000), leader);

    /* For several election timeouts, no minority node becomes leader. */
    uint64_t until = e2e_now_ms() + 1200;
    while (e2e_now_ms() < until) {
        for (int k = 0; k < 2; k++) {
            struct cluster_status st;
            if (cluster_status(&cl, minority[k], &st) == 0) {
                ck_assert_msg(strcmp(st.role, "leader") != 0,
                              "minority node %d became leader (term %llu)",
                              minority[k] + 1, (unsigned long long)st.term);
            }
        }
        usleep(50000); /* sampling interval of the invariant */
    }
    for (int k = 0; k < 2; k++) {
        node_refuses_reads_and_writes(minority[k], "part/x");
    }
    /* The majority kept serving all along. */
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 100, 10000), 0);

    ck_assert_int_eq(cluster_heal_all(&cl), 0);
    ck_assert_int_eq(cluster_workload_wait_writes(&w, 50, 10000), 0);
    struct cluster_status st;
    ck_assert_int_eq(cluster_status(&cl, leader, &st), 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_msg(
            cluster_wait_applied(&cl, minority[k], st.applied, 10000) == 0,
            "minority node %d did not catch up to %llu", minority[k] + 1,
            (unsigned long long)st.applied);
    }
    cluster_workload_stop(&w);
    struct ms_client *c = cluster_client(&cl, minority[0], 3000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_workload_final_reads(&w, c), 0);
    ms_client_close(c);
    ck_assert(cluster_history_check(&w.hist, "minority partition"));
    cluster_workload_free(&w);
}
END_TEST

START_TEST(isolated_old_leader_completes_no_write_and_no_linearizable_read)
{
    int old = start_cluster(3);
    struct ms_client *c = cluster_client(&cl, old, 2000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "iso/x", "old"), 0);
    ms_client_close(c);

    ck_assert_int_eq(cluster_isolate(&cl, old), 0);
    /* Right away, before anyone else is elected: a write cannot commit
     * without a quorum.  (A read now may still be served from the lease,
     * which is correct: no other leader can exist before it expires.) */
    c = cluster_client(&cl, old, 3 * REQUEST_TIMEOUT_MS);
    ck_assert_ptr_nonnull(c);
    int rv = cluster_put(c, "iso/y", "lost");
    ck_assert_msg(refused(rv), "write on the isolated leader: %s",
                  ms_strerror(rv));
    ms_client_close(c);
    bool others[CLUSTER_MAX_NODES] = {false};
    for (int i = 0; i < cl.n; i++) {
        others[i] = i != old;
    }
    int leader = cluster_wait_leader(&cl, others, 5000);
    ck_assert_msg(leader >= 0 && leader != old,
                  "the rest elected no new leader");
    c = cluster_client(&cl, leader, 2000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "iso/x", "new"), 0);
    ms_client_close(c);

    /* The old leader may still believe it leads; it must not serve. */
    node_refuses_reads_and_writes(old, "iso/x");

    /* CheckQuorum: it stepped down by itself. */
    uint64_t deadline = e2e_now_ms() + 3000;
    struct cluster_status st;
    do {
        ck_assert_int_eq(cluster_status(&cl, old, &st), 0);
    } while (strcmp(st.role, "leader") == 0 && e2e_now_ms() < deadline &&
             usleep(20000) == 0);
    ck_assert_msg(strcmp(st.role, "leader") != 0,
                  "isolated leader still leader after 3 s");

    ck_assert_int_eq(cluster_heal_all(&cl), 0);
    ck_assert(cluster_wait_leader(&cl, NULL, 5000) >= 0);
    c = cluster_client(&cl, old, 3000);
    ck_assert_ptr_nonnull(c);
    char *got = NULL;
    ck_assert_int_eq(cluster_get(c, "iso/x", &got), 0);
    ck_assert_msg(got != NULL && strcmp(got, "new") == 0, "read %s",
                  got != NULL ? got : "(absent)");
    free(got);
    ms_client_close(c);
}
END_TEST

/* Records one operation of client 0 on key 0 (value: a decimal string). */
static void record(struct cluster_history *h, uint32_t kind, uint64_t value,
                   uint64_t call, uint64_t ret)
{
    struct lin_op op = {.client = 0,
                        .kind = kind,
                        .key = 0,
                        .value = value,
                        .call = call,
                        .ret = ret};
    cluster_history_add(h, &op);
}

/* The recorder and checker have teeth on real processes: a serializable
 * read (allowed to be stale) on a cut-off follower, recorded as if it were
 * linearizable, is reported as a violation. */
START_TEST(checker_flags_stale_serializable_read_of_cut_off_follower)
{
    int leader = start_cluster(3);
    int f = (leader + 1) % cl.n;
    struct cluster_history h;
    cluster_history_init(&h);
    struct ms_client *lc = cluster_client(&cl, leader, 2000);
    ck_assert_ptr_nonnull(lc);
    uint64_t t = cluster_now_ns();
    ck_assert_int_eq(cluster_put(lc, "lin/0", "1"), 0);
    record(&h, LIN_WRITE, 1, t, cluster_now_ns());
    struct cluster_status ls;
    ck_assert_int_eq(cluster_status(&cl, leader, &ls), 0);
    ck_assert_int_eq(cluster_wait_applied(&cl, f, ls.applied, 5000), 0);

    ck_assert_int_eq(cluster_isolate(&cl, f), 0);
    t = cluster_now_ns();
    ck_assert_int_eq(cluster_put(lc, "lin/0", "2"), 0);
    record(&h, LIN_WRITE, 2, t, cluster_now_ns());
    ms_client_close(lc);

    struct ms_client *fc = cluster_client(&cl, f, 2000);
    ck_assert_ptr_nonnull(fc);
    struct ms_range_options o = {.consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    t = cluster_now_ns();
    ck_assert_int_eq(ms_get(fc, "lin/0", 5, &o, &r), 0);
    uint64_t ret = cluster_now_ns();
    ck_assert_uint_eq(r->range.n_kvs, 1);
    ck_assert(r->range.kvs[0].value_len == 1 &&
              r->range.kvs[0].value[0] == '1');
    record(&h, LIN_READ, 1, t, ret);
    ms_result_free(r);
    ms_client_close(fc);
    ck_assert_msg(!cluster_history_check(&h, "stale read (must be flagged)"),
                  "the checker accepted a stale read");
    cluster_history_free(&h);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_partition");
    TCase *tc = tcase_create("partition");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(
        tc, minority_has_no_leader_refuses_requests_and_catches_up_after_heal);
    tcase_add_test(
        tc, isolated_old_leader_completes_no_write_and_no_linearizable_read);
    tcase_add_test(tc,
                   checker_flags_stale_serializable_read_of_cut_off_follower);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
