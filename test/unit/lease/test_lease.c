/*
 * test_lease.c - the leader lease (lease/lease.h): the reference report's
 * LeaseManager cases (Creation, DefaultClockDrift, BecomeLeader, ...) under
 * behaviour names, plus the rules the report got wrong: the lease counts
 * from when a round was SENT, a single node holds a lease, no lease before
 * the term's first commit, none across a leadership transfer, and unsafe
 * configurations are refused.  Some cases drive real Raft cores
 * (helpers/mini.h) through lease_update_from_raft().
 *
 * Report name -> test: Creation -> new_manager_is_follower_without_lease;
 * DefaultClockDrift -> default_duration_follows_reference_rule_minus_drift;
 * BecomeLeader -> new_leader_holds_no_lease_until_commit_and_ack;
 * BecomeFollower -> stepping_down_ends_lease_at_once; RenewLease_Success ->
 * renewal_sets_lease_end_to_sent_plus_duration; RenewLease_InsufficientAcks
 * -> no_quorum_ack_means_no_renewal; RenewLease_NotLeader ->
 * renewal_refused_when_not_leader; LeaseExpiration ->
 * lease_expires_exactly_at_sent_plus_duration; MultipleRenewals ->
 * each_newer_round_moves_lease_end_forward; LeaseRemaining ->
 * remaining_counts_down_to_zero; Stats ->
 * stats_count_renewals_expirations_and_revocations; MinDuration ->
 * zero_duration_is_refused_and_never_valid.
 */
#include <check.h>
#include <string.h>

#include "helpers/mini.h"
#include "lease/lease.h"

#define MS       1000000ull
#define DURATION (45 * MS) /* min(100ms/2, 3*20ms) - 5ms drift */

static void init_lease(struct lease_manager *lm)
{
    struct lease_config c = {.duration_ns = DURATION, .clock_drift_ns = 5 * MS};
    ck_assert_int_eq(lease_init(lm, &c), 0);
}

/* A leader of term 3 holding a lease renewed from a round sent at t. */
static void leader_with_lease(struct lease_manager *lm, uint64_t t)
{
    init_lease(lm);
    lease_become_leader(lm, 3, t);
    lease_on_commit_in_term(lm, 3);
    ck_assert_int_eq(lease_renew(lm, t, t), 0);
}

START_TEST(new_manager_is_follower_without_lease)
{
    struct lease_manager lm;
    init_lease(&lm);
    struct lease_stats s;
    lease_stats(&lm, 1000, &s);
    ck_assert(!s.is_leader);
    ck_assert(!s.valid);
    ck_assert_uint_eq(s.renewals, 0);
    ck_assert_uint_eq(s.expirations, 0);
    ck_assert_uint_eq(lease_remaining(&lm, 1000), 0);
    ck_assert(!lease_valid(&lm, 1000));
    ck_assert_uint_eq(lm.cfg.renew_divisor, LEASE_DEFAULT_RENEW_DIVISOR);
    ck_assert_int_eq(lease_init(&lm, NULL), LEASE_EINVAL);
}
END_TEST

START_TEST(default_duration_follows_reference_rule_minus_drift)
{
    /* min(1000/2, 3*100) - 10 = 290 ms */
    ck_assert_uint_eq(lease_default_duration_ns(1000 * MS, 100 * MS, 10 * MS),
                      290 * MS);
    /* min(300/2, 3*100) - 10 = 140 ms: the election bound wins */
    ck_assert_uint_eq(lease_default_duration_ns(300 * MS, 100 * MS, 10 * MS),
                      140 * MS);
    /* drift eats the whole lease: 0, never negative */
    ck_assert_uint_eq(lease_default_duration_ns(100 * MS, 20 * MS, 50 * MS), 0);
    ck_assert_uint_eq(lease_default_duration_ns(100 * MS, 20 * MS, 60 * MS), 0);
    /* the default always passes the safety check */
    uint64_t d = lease_default_duration_ns(1000 * MS, 100 * MS, 10 * MS);
    ck_assert_int_eq(
        lease_config_check(d, 10 * MS, 1000 * MS, 100 * MS, NULL, 0), 0);
}
END_TEST

START_TEST(new_leader_holds_no_lease_until_commit_and_ack)
{
    struct lease_manager lm;
    init_lease(&lm);
    uint64_t t = 1000 * MS;
    lease_become_leader(&lm, 2, t);
    ck_assert(!lease_valid(&lm, t));
    ck_assert_int_eq(lease_renew(&lm, t, t), LEASE_ENOTREADY);
    ck_assert(!lease_valid(&lm, t));
    lease_on_commit_in_term(&lm, 1); /* an older term's commit: no */
    ck_assert_int_eq(lease_renew(&lm, t, t), LEASE_ENOTREADY);
    lease_on_commit_in_term(&lm, 2);
    ck_assert(!lease_valid(&lm, t)); /* committed, but no round acked yet */
    ck_assert_int_eq(lease_renew(&lm, t, t + MS), 0);
    ck_assert(lease_valid(&lm, t + MS));
    struct lease_stats s;
    lease_stats(&lm, t + MS, &s);
    ck_assert(s.is_leader);
    ck_assert_uint_eq(s.term, 2);
}
END_TEST

START_TEST(stepping_down_ends_lease_at_once)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    ck_assert(lease_valid(&lm, t + MS));
    lease_become_follower(&lm, 3, t + 2 * MS);
    ck_assert(!lease_valid(&lm, t + 2 * MS));
    ck_assert_uint_eq(lease_remaining(&lm, t + 2 * MS), 0);
    ck_assert_int_eq(lease_renew(&lm, t + 2 * MS, t + 2 * MS),
                     LEASE_ENOTLEADER);
    struct lease_stats s;
    lease_stats(&lm, t + 2 * MS, &s);
    ck_assert(!s.is_leader);
    ck_assert_uint_eq(s.revocations, 1);
    ck_assert_uint_eq(s.expirations, 0);
}
END_TEST

START_TEST(renewal_sets_lease_end_to_sent_plus_duration)
{
    struct lease_manager lm;
    init_lease(&lm);
    uint64_t t = 1000 * MS;
    lease_become_leader(&lm, 3, t);
    lease_on_commit_in_term(&lm, 3);
    ck_assert_int_eq(lease_renew(&lm, t + 10 * MS, t + 30 * MS), 0);
    struct lease_stats s;
    lease_stats(&lm, t + 30 * MS, &s);
    ck_assert_uint_eq(s.lease_end_ns, t + 10 * MS + DURATION);
    ck_assert_uint_eq(s.renewals, 1);
    ck_assert_uint_eq(s.last_renew_ns, t + 30 * MS);
    ck_assert(lease_valid(&lm, t + 10 * MS + DURATION - 1));
}
END_TEST

START_TEST(renewal_refused_when_not_leader)
{
    struct lease_manager lm;
    init_lease(&lm);
    ck_assert_int_eq(lease_renew(&lm, 5 * MS, 5 * MS), LEASE_ENOTLEADER);
    lease_become_follower(&lm, 4, 6 * MS);
    ck_assert_int_eq(lease_renew(&lm, 6 * MS, 6 * MS), LEASE_ENOTLEADER);
    ck_assert(!lease_valid(&lm, 6 * MS));
    struct lease_stats s;
    lease_stats(&lm, 6 * MS, &s);
    ck_assert_uint_eq(s.renewals, 0);
}
END_TEST

START_TEST(renewal_rejects_round_sent_in_future)
{
    struct lease_manager lm;
    init_lease(&lm);
    lease_become_leader(&lm, 1, 0);
    lease_on_commit_in_term(&lm, 1);
    ck_assert_int_eq(lease_renew(&lm, 10 * MS, 9 * MS), LEASE_EINVAL);
    ck_assert(!lease_valid(&lm, 9 * MS));
}
END_TEST

START_TEST(lease_expires_exactly_at_sent_plus_duration)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    ck_assert(lease_valid(&lm, t + DURATION - 1));
    ck_assert(!lease_valid(&lm, t + DURATION));
    ck_assert(!lease_valid(&lm, t + DURATION + MS));
    lease_tick(&lm, t + DURATION + 2 * MS);
    struct lease_stats s;
    lease_stats(&lm, t + DURATION, &s);
    ck_assert(!s.valid);
    ck_assert(s.is_leader); /* still leader, only the lease ran out */
    ck_assert_uint_eq(s.expirations, 1); /* one transition, counted once */
}
END_TEST

START_TEST(each_newer_round_moves_lease_end_forward)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    for (unsigned i = 1; i <= 5; i++) {
        uint64_t sent = t + i * 20 * MS;
        ck_assert_int_eq(lease_renew(&lm, sent, sent + MS), 0);
        ck_assert(lease_valid(&lm, sent + DURATION - 1));
    }
    /* an older round arriving late changes nothing */
    ck_assert_int_eq(lease_renew(&lm, t + 30 * MS, t + 101 * MS), LEASE_ESTALE);
    ck_assert_int_eq(lease_renew(&lm, t + 100 * MS, t + 101 * MS),
                     LEASE_ESTALE);
    struct lease_stats s;
    lease_stats(&lm, t + 101 * MS, &s);
    ck_assert_uint_eq(s.renewals, 6);
    ck_assert_uint_eq(s.stale_renewals, 2);
    ck_assert_uint_eq(s.lease_end_ns, t + 100 * MS + DURATION);
    ck_assert_uint_eq(s.expirations, 0);
}
END_TEST

START_TEST(remaining_counts_down_to_zero)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    ck_assert_uint_eq(lease_remaining(&lm, t), DURATION);
    ck_assert_uint_eq(lease_remaining(&lm, t + 15 * MS), DURATION - 15 * MS);
    ck_assert_uint_eq(lease_remaining(&lm, t + DURATION - 1), 1);
    ck_assert_uint_eq(lease_remaining(&lm, t + DURATION), 0);
    ck_assert_uint_eq(lease_remaining(&lm, t + 2 * DURATION), 0);
}
END_TEST

START_TEST(renew_early_when_less_than_a_quarter_left)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    uint64_t quarter = DURATION / 4;
    ck_assert(!lease_should_renew_early(&lm, t));
    ck_assert(!lease_should_renew_early(&lm, t + DURATION - quarter));
    ck_assert(lease_should_renew_early(&lm, t + DURATION - quarter + 1));
    ck_assert(!lease_should_renew_early(&lm, t + DURATION)); /* gone */
    struct lease_config c = {.duration_ns = DURATION, .renew_divisor = 2};
    ck_assert_int_eq(lease_init(&lm, &c), 0);
    lease_become_leader(&lm, 1, t);
    lease_on_commit_in_term(&lm, 1);
    ck_assert_int_eq(lease_renew(&lm, t, t), 0);
    ck_assert(lease_should_renew_early(&lm, t + DURATION / 2 + 1));
}
END_TEST

START_TEST(stats_count_renewals_expirations_and_revocations)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    ck_assert_int_eq(lease_renew(&lm, t + 10 * MS, t + 10 * MS), 0);
    lease_tick(&lm, t + 10 * MS + DURATION); /* runs out */
    ck_assert_int_eq(lease_renew(&lm, t + 60 * MS, t + 60 * MS), 0);
    lease_on_term_change(&lm, 3, t + 61 * MS); /* same term: nothing */
    ck_assert(lease_valid(&lm, t + 61 * MS));
    lease_on_term_change(&lm, 4, t + 62 * MS); /* ends it */
    struct lease_stats s;
    lease_stats(&lm, t + 62 * MS, &s);
    ck_assert(!s.valid);
    ck_assert(!s.is_leader);
    ck_assert_uint_eq(s.term, 4);
    ck_assert_uint_eq(s.renewals, 3);
    ck_assert_uint_eq(s.expirations, 1);
    ck_assert_uint_eq(s.revocations, 1);
    ck_assert_uint_eq(s.last_renew_ns, t + 60 * MS);
}
END_TEST

START_TEST(zero_duration_is_refused_and_never_valid)
{
    char err[200];
    ck_assert_int_eq(
        lease_config_check(0, 5 * MS, 100 * MS, 10 * MS, err, sizeof(err)),
        LEASE_EUNSAFE);
    ck_assert(strstr(err, "0") != NULL);
    struct lease_manager lm;
    struct lease_config c = {.duration_ns = 0};
    ck_assert_int_eq(lease_init(&lm, &c), 0);
    lease_become_leader(&lm, 1, 0);
    lease_on_commit_in_term(&lm, 1);
    ck_assert_int_eq(lease_renew(&lm, 1, 1), LEASE_EINVAL);
    ck_assert(!lease_valid(&lm, 1));
}
END_TEST

START_TEST(unsafe_config_is_refused)
{
    char err[200];
    /* 100ms election, 10ms tick: duration + drift must stay below 90ms */
    ck_assert_int_eq(lease_config_check(80 * MS, 10 * MS, 100 * MS, 10 * MS,
                                        err, sizeof(err)),
                     LEASE_EUNSAFE);
    ck_assert(strstr(err, "unsafe lease") != NULL);
    ck_assert_int_eq(lease_config_check(80 * MS, 10 * MS - 1, 100 * MS, 10 * MS,
                                        err, sizeof(err)),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(
        lease_config_check(95 * MS, 0, 100 * MS, 10 * MS, err, sizeof(err)),
        LEASE_EUNSAFE);
    /* no overflow with absurd values */
    ck_assert_int_eq(lease_config_check(UINT64_MAX - 5, 10, 100 * MS, 10 * MS,
                                        err, sizeof(err)),
                     LEASE_EUNSAFE);
    ck_assert_int_eq(
        lease_config_check(MS, UINT64_MAX, 100 * MS, 10 * MS, err, sizeof(err)),
        LEASE_EUNSAFE);
    /* a tick as long as the election timeout makes no sense */
    ck_assert_int_eq(
        lease_config_check(MS, 0, 10 * MS, 10 * MS, err, sizeof(err)),
        LEASE_EINVAL);
}
END_TEST

START_TEST(transfer_ends_lease_and_only_newer_rounds_restore_it)
{
    struct lease_manager lm;
    uint64_t t = 1000 * MS;
    leader_with_lease(&lm, t);
    lease_transfer_started(&lm, t + MS);
    ck_assert(!lease_valid(&lm, t + MS));
    ck_assert_int_eq(lease_renew(&lm, t + MS, t + 2 * MS), LEASE_ESUSPECT);
    lease_transfer_ended(&lm, t + 50 * MS); /* aborted; still leader */
    ck_assert(!lease_valid(&lm, t + 50 * MS));
    /* a round sent during the transfer proves nothing */
    ck_assert_int_eq(lease_renew(&lm, t + 40 * MS, t + 51 * MS), LEASE_ESTALE);
    ck_assert(!lease_valid(&lm, t + 51 * MS));
    ck_assert_int_eq(lease_renew(&lm, t + 52 * MS, t + 53 * MS), 0);
    ck_assert(lease_valid(&lm, t + 53 * MS));
    struct lease_stats s;
    lease_stats(&lm, t + 53 * MS, &s);
    ck_assert_uint_eq(s.revocations, 1);
}
END_TEST

START_TEST(error_names_and_texts)
{
    ck_assert_str_eq(lease_err_name(LEASE_ETIMEDOUT), "LEASE_ETIMEDOUT");
    ck_assert_str_eq(lease_err_name(0), "OK");
    ck_assert_str_eq(lease_err_name(-999), "LEASE_E?");
    ck_assert_str_eq(lease_strerror(LEASE_EEXHAUSTED),
                     "too many pending reads");
    ck_assert_str_eq(lease_strerror(12345), "unknown error");
}
END_TEST

/* ---- with real Raft cores --------------------------------------------- */

START_TEST(lease_renewal_measured_from_send_time)
{
    struct mini *m = mini_create(3);
    ck_assert(mini_elect(m, 1));
    struct lease_manager lm;
    init_lease(&lm);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns), 0);
    ck_assert(lease_valid(&lm, m->now_ns));

    /* A round sent at t0 whose acks arrive 30 ms later. */
    uint64_t t0 = m->now_ns + 5 * MS;
    m->now_ns = t0;
    ck_assert_int_eq(raft_heartbeat(m->r[1], t0), 0);
    mini_process(m, 1); /* heartbeats reach the followers at t0 */
    m->now_ns = t0 + 30 * MS;
    mini_process(m, 2); /* their acks arrive at t0 + 30 ms */
    mini_process(m, 3);
    mini_settle(m);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns), 0);
    struct lease_stats s;
    lease_stats(&lm, m->now_ns, &s);
    ck_assert_uint_eq(s.base_ns, t0);
    ck_assert_uint_eq(s.lease_end_ns, t0 + DURATION);
    ck_assert(lease_valid(&lm, t0 + DURATION - 1));
    ck_assert(!lease_valid(&lm, t0 + 30 * MS + DURATION - 1));
    ck_assert_int_eq(m->errors, 0);
    mini_destroy(m);
}
END_TEST

START_TEST(single_node_holds_lease_through_the_api)
{
    /* The API alone: a one-node round is acked the moment it is sent. */
    struct lease_manager lm;
    init_lease(&lm);
    uint64_t now = 7 * MS;
    lease_become_leader(&lm, 1, now);
    lease_on_commit_in_term(&lm, 1);
    ck_assert_int_eq(lease_renew(&lm, now, now), 0);
    ck_assert(lease_valid(&lm, now));

    /* And a real one-node Raft core, driven by lease_update_from_raft. */
    struct mini *m = mini_create(1);
    ck_assert(mini_elect(m, 1));
    init_lease(&lm);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns), 0);
    ck_assert(lease_valid(&lm, m->now_ns));
    mini_tick(m, 3);
    lease_update_from_raft(&lm, m->r[1], m->now_ns);
    ck_assert(lease_valid(&lm, m->now_ns));
    ck_assert_uint_ge(lease_remaining(&lm, m->now_ns), DURATION - 20 * MS);
    struct lease_stats s;
    lease_stats(&lm, m->now_ns, &s);
    ck_assert_uint_ge(s.renewals, 2);
    ck_assert_int_eq(m->errors, 0);
    mini_destroy(m);
}
END_TEST

START_TEST(no_lease_before_first_commit_in_term)
{
    struct mini *m = mini_create(3);
    raft_id f[2] = {2, 3};
    ck_assert_int_eq(raft_campaign(m->r[1], m->now_ns), 0);
    /* Run the election one node at a time until 1 leads, then cut its
     * outgoing links before its first entry of the term goes out. */
    for (int i = 0; i < 10 && raft_role_of(m->r[1]) != RAFT_LEADER; i++) {
        mini_process(m, 1);
        for (int k = 0; k < 2; k++)
            mini_process(m, f[k]);
    }
    ck_assert_int_eq(raft_role_of(m->r[1]), RAFT_LEADER);
    m->cut[1][2] = m->cut[1][3] = true;
    mini_settle(m);
    ck_assert(!raft_committed_in_term(m->r[1]));
    struct lease_manager lm;
    init_lease(&lm);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns),
                     LEASE_ENOTREADY);
    ck_assert(!lease_valid(&lm, m->now_ns));
    /* Heal: the entry commits, a round is acked, the lease starts. */
    m->cut[1][2] = m->cut[1][3] = false;
    mini_tick(m, MINI_HEARTBEAT_TICK);
    ck_assert(raft_committed_in_term(m->r[1]));
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns), 0);
    ck_assert(lease_valid(&lm, m->now_ns));
    mini_destroy(m);
}
END_TEST

START_TEST(no_quorum_ack_means_no_renewal)
{
    struct mini *m = mini_create(3);
    ck_assert(mini_elect(m, 1));
    struct lease_manager lm;
    init_lease(&lm);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns), 0);
    struct lease_stats s;
    lease_stats(&lm, m->now_ns, &s);
    uint64_t end = s.lease_end_ns;
    uint64_t renewals = s.renewals;
    /* Both followers unreachable: rounds go out, no acks come back. */
    m->cut[2][1] = m->cut[3][1] = true;
    for (int i = 0; i < 8; i++) {
        mini_tick(m, 1);
        lease_update_from_raft(&lm, m->r[1], m->now_ns);
    }
    lease_stats(&lm, m->now_ns, &s);
    ck_assert_uint_eq(s.renewals, renewals);
    ck_assert_uint_eq(s.lease_end_ns, end);
    ck_assert(m->now_ns >= end);
    ck_assert(!lease_valid(&lm, m->now_ns));
    ck_assert_uint_eq(s.expirations, 1);
    mini_destroy(m);
}
END_TEST

START_TEST(lease_dropped_before_leadership_transfer)
{
    struct mini *m = mini_create(3);
    ck_assert(mini_elect(m, 1));
    mini_tick(m, MINI_HEARTBEAT_TICK);
    struct lease_manager l1, l2;
    init_lease(&l1);
    init_lease(&l2);
    lease_update_from_raft(&l1, m->r[1], m->now_ns);
    lease_update_from_raft(&l2, m->r[2], m->now_ns);
    ck_assert(lease_valid(&l1, m->now_ns));
    ck_assert(!lease_valid(&l2, m->now_ns)); /* only the leader holds one */

    /* The server drops the lease BEFORE asking the core to transfer. */
    lease_transfer_started(&l1, m->now_ns);
    ck_assert(!lease_valid(&l1, m->now_ns));
    ck_assert_int_eq(raft_transfer_leadership(m->r[1], 2, m->now_ns), 0);
    ck_assert_int_eq(lease_update_from_raft(&l1, m->r[1], m->now_ns),
                     LEASE_ESUSPECT);
    ck_assert(!lease_valid(&l1, m->now_ns));
    mini_settle(m);
    mini_tick(m, MINI_HEARTBEAT_TICK);
    ck_assert_int_eq(raft_role_of(m->r[2]), RAFT_LEADER);
    ck_assert_int_eq(lease_update_from_raft(&l1, m->r[1], m->now_ns),
                     LEASE_ENOTLEADER);
    ck_assert(!lease_valid(&l1, m->now_ns));
    ck_assert_int_eq(lease_update_from_raft(&l2, m->r[2], m->now_ns), 0);
    ck_assert(lease_valid(&l2, m->now_ns));
    struct lease_stats s;
    lease_stats(&l2, m->now_ns, &s);
    ck_assert_uint_eq(s.term, raft_term_of(m->r[2]));
    ck_assert_int_eq(m->errors, 0);
    mini_destroy(m);
}
END_TEST

START_TEST(update_from_raft_notices_transfer_on_its_own)
{
    struct mini *m = mini_create(3);
    ck_assert(mini_elect(m, 1));
    struct lease_manager lm;
    init_lease(&lm);
    lease_update_from_raft(&lm, m->r[1], m->now_ns);
    ck_assert(lease_valid(&lm, m->now_ns));
    /* Follower 2 cannot hear the leader, so the transfer cannot finish. */
    m->cut[1][2] = true;
    ck_assert_int_eq(raft_transfer_leadership(m->r[1], 2, m->now_ns), 0);
    ck_assert_int_eq(lease_update_from_raft(&lm, m->r[1], m->now_ns),
                     LEASE_ESUSPECT);
    ck_assert(!lease_valid(&lm, m->now_ns));
    struct lease_stats s;
    lease_stats(&lm, m->now_ns, &s);
    ck_assert_uint_eq(s.revocations, 1);
    mini_destroy(m);
}
END_TEST

static Suite *lease_suite(void)
{
    Suite *s = suite_create("lease");
    TCase *tc = tcase_create("manager");
    tcase_add_test(tc, new_manager_is_follower_without_lease);
    tcase_add_test(tc, default_duration_follows_reference_rule_minus_drift);
    tcase_add_test(tc, new_leader_holds_no_lease_until_commit_and_ack);
    tcase_add_test(tc, stepping_down_ends_lease_at_once);
    tcase_add_test(tc, renewal_sets_lease_end_to_sent_plus_duration);
    tcase_add_test(tc, renewal_refused_when_not_leader);
    tcase_add_test(tc, renewal_rejects_round_sent_in_future);
    tcase_add_test(tc, lease_expires_exactly_at_sent_plus_duration);
    tcase_add_test(tc, each_newer_round_moves_lease_end_forward);
    tcase_add_test(tc, remaining_counts_down_to_zero);
    tcase_add_test(tc, renew_early_when_less_than_a_quarter_left);
    tcase_add_test(tc, stats_count_renewals_expirations_and_revocations);
    tcase_add_test(tc, zero_duration_is_refused_and_never_valid);
    tcase_add_test(tc, unsafe_config_is_refused);
    tcase_add_test(tc, transfer_ends_lease_and_only_newer_rounds_restore_it);
    tcase_add_test(tc, error_names_and_texts);
    suite_add_tcase(s, tc);

    TCase *rt = tcase_create("with_raft");
    tcase_add_test(rt, lease_renewal_measured_from_send_time);
    tcase_add_test(rt, single_node_holds_lease_through_the_api);
    tcase_add_test(rt, no_lease_before_first_commit_in_term);
    tcase_add_test(rt, no_quorum_ack_means_no_renewal);
    tcase_add_test(rt, lease_dropped_before_leadership_transfer);
    tcase_add_test(rt, update_from_raft_notices_transfer_on_its_own);
    suite_add_tcase(s, rt);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lease_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
