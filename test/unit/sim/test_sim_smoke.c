/*
 * test_sim_smoke.c - runs a handful of seeds through the simulator's library
 * API (test/sim/sim.h): correct configurations show no violation and make
 * progress, and the checks have teeth: unsafe reads, a driver that acks
 * before its fsync, and leader leases made unsafe (clocks beyond the drift
 * bound, no leader stickiness) are caught.
 */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "test/sim/sim.h"

static struct sim_options opts(unsigned nodes, enum sim_faults faults)
{
    struct sim_options o;
    sim_options_init(&o);
    o.nodes = nodes;
    o.faults = faults;
    o.out = NULL; /* quiet */
    return o;
}

/* Runs seeds [first, first + n) and asserts none has a violation. */
static void expect_clean(const struct sim_options *o, uint64_t first,
                         uint64_t n, uint64_t *writes, uint64_t *reads,
                         uint64_t *faults)
{
    *writes = *reads = *faults = 0;
    for (uint64_t seed = first; seed < first + n; seed++) {
        struct sim_result r;
        ck_assert_int_eq(sim_run_seed(o, seed, &r), 0);
        ck_assert_msg(!r.violation, "seed %llu: %s", (unsigned long long)seed,
                      r.what);
        *writes += r.writes_ok;
        *reads += r.reads_ok;
        *faults +=
            r.crashes + r.messages_dropped + r.conf_changes + r.transfers;
    }
}

START_TEST(three_nodes_without_faults_serve_clients_linearizably)
{
    struct sim_options o = opts(3, SIM_FAULTS_NONE);
    uint64_t w, r, f;
    expect_clean(&o, 1, 8, &w, &r, &f);
    ck_assert_uint_gt(w, 100);
    ck_assert_uint_gt(r, 100);
    ck_assert_uint_eq(f, 0);
}
END_TEST

START_TEST(three_nodes_with_all_faults_stay_safe)
{
    struct sim_options o = opts(3, SIM_FAULTS_ALL);
    uint64_t w, r, f;
    expect_clean(&o, 1, 12, &w, &r, &f);
    ck_assert_uint_gt(w, 100);
    ck_assert_uint_gt(r, 100);
    ck_assert_uint_gt(f, 0);
}
END_TEST

START_TEST(one_node_cluster_with_crashes_stays_safe)
{
    struct sim_options o = opts(1, SIM_FAULTS_ALL);
    uint64_t w, r, f;
    expect_clean(&o, 1, 8, &w, &r, &f);
    ck_assert_uint_gt(w, 50);
    ck_assert_uint_gt(r, 50);
}
END_TEST

START_TEST(five_nodes_with_all_faults_stay_safe)
{
    struct sim_options o = opts(5, SIM_FAULTS_ALL);
    uint64_t w, r, f;
    expect_clean(&o, 100, 4, &w, &r, &f);
    ck_assert_uint_gt(w, 50);
}
END_TEST

/* Returns the first seed in [1, limit] with a violation, or 0. */
static uint64_t first_violation(const struct sim_options *o, uint64_t limit,
                                struct sim_result *r)
{
    for (uint64_t seed = 1; seed <= limit; seed++) {
        ck_assert_int_eq(sim_run_seed(o, seed, r), 0);
        if (r->violation)
            return seed;
    }
    return 0;
}

START_TEST(unsafe_reads_are_caught_as_not_linearizable)
{
    struct sim_options o = opts(3, SIM_FAULTS_ALL);
    o.read_policy = SIM_READ_UNSAFE;
    struct sim_result r;
    uint64_t seed = first_violation(&o, 300, &r);
    ck_assert_msg(seed != 0, "no violation in 300 seeds with unsafe reads");
    ck_assert_msg(strstr(r.what, "linearizab") != NULL, "%s", r.what);
}
END_TEST

START_TEST(acking_before_fsync_is_caught_by_safety_checks)
{
    struct sim_options o = opts(3, SIM_FAULTS_CRASH);
    o.driver_bug = SIM_BUG_ACK_BEFORE_PERSIST;
    struct sim_result r;
    uint64_t seed = first_violation(&o, 400, &r);
    ck_assert_msg(seed != 0, "acks before fsync went unnoticed");
    ck_assert_uint_gt(r.step, 0);
}
END_TEST

START_TEST(lease_reads_with_all_faults_stay_safe_and_skip_rounds)
{
    struct sim_options o = opts(3, SIM_FAULTS_ALL);
    o.reads = SIM_READS_LEASE;
    uint64_t fast = 0, answered = 0, follower = 0, reads = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        struct sim_result r;
        ck_assert_int_eq(sim_run_seed(&o, seed, &r), 0);
        ck_assert_msg(!r.violation, "seed %llu: %s", (unsigned long long)seed,
                      r.what);
        fast += r.reads_fast;
        answered += r.lease_answered;
        follower += r.reads_follower;
        reads += r.reads_ok;
    }
    ck_assert_uint_gt(reads, 1000);
    ck_assert_uint_gt(fast, 100);     /* leader reads served from the lease */
    ck_assert_uint_gt(follower, 100); /* reads started on followers */
    ck_assert_uint_gt(answered, 10);  /* their READ_INDEX answered by lease */
}
END_TEST

START_TEST(readindex_reads_never_use_a_lease)
{
    struct sim_options o = opts(3, SIM_FAULTS_NET);
    o.reads = SIM_READS_READINDEX;
    uint64_t w, r, f;
    expect_clean(&o, 1, 4, &w, &r, &f);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct sim_result res;
        ck_assert_int_eq(sim_run_seed(&o, seed, &res), 0);
        ck_assert_uint_eq(res.reads_fast, 0);
        ck_assert_uint_eq(res.lease_answered, 0);
        ck_assert_uint_eq(res.lease_renewals, 0);
    }
}
END_TEST

START_TEST(clocks_beyond_the_drift_bound_are_caught_as_stale_reads)
{
    struct sim_options o = opts(3, SIM_FAULTS_ALL);
    o.reads = SIM_READS_LEASE;
    o.drift_beyond_bound = true;
    struct sim_result r;
    uint64_t seed = first_violation(&o, 300, &r);
    ck_assert_msg(seed != 0, "no stale read in 300 seeds with clocks beyond "
                             "the drift bound");
    ck_assert_msg(strstr(r.what, "stale read") != NULL ||
                      strstr(r.what, "linearizab") != NULL,
                  "%s", r.what);
}
END_TEST

START_TEST(leases_without_leader_stickiness_are_caught_as_stale_reads)
{
    struct sim_options o = opts(3, SIM_FAULTS_ALL);
    o.reads = SIM_READS_LEASE;
    o.no_leader_stickiness = true;
    struct sim_result r;
    uint64_t seed = first_violation(&o, 300, &r);
    ck_assert_msg(seed != 0, "no stale read in 300 seeds without leader "
                             "stickiness");
    ck_assert_msg(strstr(r.what, "stale read") != NULL ||
                      strstr(r.what, "linearizab") != NULL,
                  "%s", r.what);
}
END_TEST

START_TEST(same_seed_replays_identically)
{
    struct sim_options o = opts(5, SIM_FAULTS_ALL);
    struct sim_result a, b;
    ck_assert_int_eq(sim_run_seed(&o, 4242, &a), 0);
    ck_assert_int_eq(sim_run_seed(&o, 4242, &b), 0);
    ck_assert_uint_eq(a.events, b.events);
    ck_assert_uint_eq(a.messages_sent, b.messages_sent);
    ck_assert_uint_eq(a.messages_dropped, b.messages_dropped);
    ck_assert_uint_eq(a.writes_ok, b.writes_ok);
    ck_assert_uint_eq(a.reads_ok, b.reads_ok);
    ck_assert_uint_eq(a.max_applied, b.max_applied);
    struct sim_result c;
    ck_assert_int_eq(sim_run_seed(&o, 4243, &c), 0);
    ck_assert(c.events != a.events || c.messages_sent != a.messages_sent);
}
END_TEST

START_TEST(bad_options_are_rejected)
{
    struct sim_options o = opts(2, SIM_FAULTS_ALL);
    struct sim_result r;
    ck_assert_int_eq(sim_run_seed(&o, 1, &r), -EINVAL);
    o = opts(9, SIM_FAULTS_NONE);
    ck_assert_int_eq(sim_run_seed(&o, 1, &r), -EINVAL);
    enum sim_faults f;
    ck_assert_int_eq(sim_faults_parse("crash", &f), 0);
    ck_assert_int_eq(f, SIM_FAULTS_CRASH);
    ck_assert_int_eq(sim_faults_parse("some", &f), -1);
    enum sim_reads rd;
    ck_assert_int_eq(sim_reads_parse("lease", &rd), 0);
    ck_assert_int_eq(rd, SIM_READS_LEASE);
    ck_assert_int_eq(sim_reads_parse("readindex", &rd), 0);
    ck_assert_int_eq(rd, SIM_READS_READINDEX);
    ck_assert_int_eq(sim_reads_parse("fast", &rd), -1);
    o = opts(3, SIM_FAULTS_NONE);
    o.reads = (enum sim_reads)7;
    ck_assert_int_eq(sim_run_seed(&o, 1, &r), -EINVAL);
}
END_TEST

START_TEST(replay_command_names_seed_and_options)
{
    struct sim_options o = opts(5, SIM_FAULTS_NET);
    o.read_policy = SIM_READ_UNSAFE;
    o.prog = "build/metastore-sim";
    char buf[256];
    sim_replay_command(&o, 77, buf, sizeof buf);
    ck_assert_str_eq(buf, "build/metastore-sim --first-seed 77 --seeds 1 "
                          "--nodes 5 --faults net --reads mixed "
                          "--unsafe-reads --verbose");
    o = opts(3, SIM_FAULTS_ALL);
    o.reads = SIM_READS_LEASE;
    o.drift_beyond_bound = true;
    o.no_leader_stickiness = true;
    sim_replay_command(&o, 5, buf, sizeof buf);
    ck_assert_str_eq(buf, "metastore-sim --first-seed 5 --seeds 1 --nodes 3 "
                          "--faults all --reads lease --drift-beyond-bound "
                          "--no-leader-stickiness --verbose");
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("smoke");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, three_nodes_without_faults_serve_clients_linearizably);
    tcase_add_test(tc, three_nodes_with_all_faults_stay_safe);
    tcase_add_test(tc, one_node_cluster_with_crashes_stays_safe);
    tcase_add_test(tc, five_nodes_with_all_faults_stay_safe);
    tcase_add_test(tc, unsafe_reads_are_caught_as_not_linearizable);
    tcase_add_test(tc, acking_before_fsync_is_caught_by_safety_checks);
    tcase_add_test(tc, lease_reads_with_all_faults_stay_safe_and_skip_rounds);
    tcase_add_test(tc, readindex_reads_never_use_a_lease);
    tcase_add_test(tc, clocks_beyond_the_drift_bound_are_caught_as_stale_reads);
    tcase_add_test(tc,
                   leases_without_leader_stickiness_are_caught_as_stale_reads);
    tcase_add_test(tc, same_seed_replays_identically);
    tcase_add_test(tc, bad_options_are_rejected);
    tcase_add_test(tc, replay_command_names_seed_and_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
