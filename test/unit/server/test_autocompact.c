/*
 * test_autocompact.c - the leader's automatic compaction decision
 * (server/autocompact.h): which revision to compact to, and when, with
 * time and revisions as plain inputs.
 */
#include <check.h>
#include <stdlib.h>

#include "server/autocompact.h"

#define MS 1000000ull
#define S  (1000u * MS)

/* Periodic, 10s: samples every 1s; at t the answer is the revision that
 * was current at t - 10s (to within one sample). */
START_TEST(periodic_compacts_to_revision_current_one_retention_ago)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_PERIODIC, 10000);
    uint64_t t0 = 5 * S;
    /* One revision per 100ms; nothing is due before 10s have passed. */
    for (uint64_t ms = 0; ms < 10000; ms += 100) {
        int64_t rev = 1 + (int64_t)(ms / 100);
        ck_assert_int_eq(autocompact_decide(&a, t0 + ms * MS, rev, 0, &why),
                         0);
    }
    /* At t0 + 10s the sample taken at t0 (revision 1) is a retention old. */
    ck_assert_int_eq(autocompact_decide(&a, t0 + 10 * S, 101, 0, &why), 1);
    ck_assert_int_eq(why, AUTOCOMPACT_REASON_PERIOD);
    /* One second later: the sample from t0 + 1s, revision 11. */
    ck_assert_int_eq(autocompact_decide(&a, t0 + 10500 * MS, 106, 1, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, t0 + 11 * S, 111, 1, &why), 11);
}
END_TEST

START_TEST(periodic_without_new_writes_never_compacts_again)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_PERIODIC, 1000);
    ck_assert_int_eq(autocompact_decide(&a, 0, 50, 0, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, 1 * S, 50, 0, &why), 50);
    /* Compacted at 50, no writes since: nothing more, however long. */
    for (uint64_t t = 1100 * MS; t < 20 * S; t += 100 * MS) {
        ck_assert_int_eq(autocompact_decide(&a, t, 50, 50, &why), 0);
        ck_assert_int_eq(why, AUTOCOMPACT_REASON_NONE);
    }
}
END_TEST

START_TEST(new_leader_waits_a_full_retention_after_reset)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_PERIODIC, 10000);
    ck_assert_int_eq(autocompact_decide(&a, 0, 10, 0, &why), 0);
    /* Leadership lost and regained at 60s: the old sample is forgotten,
     * so no compaction storm right after the failover. */
    autocompact_reset(&a);
    ck_assert_int_eq(autocompact_decide(&a, 60 * S, 500, 0, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, 69 * S, 900, 0, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, 70 * S, 950, 0, &why), 500);
}
END_TEST

START_TEST(revision_mode_keeps_last_n_and_compacts_at_threshold)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_REVISION, 100);
    /* Up to 2N revisions held, nothing before the check interval. */
    ck_assert_int_eq(autocompact_decide(&a, 0, 100, 0, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, S, 199, 0, &why), 0);
    /* current - N = 100 revisions can go: compact now. */
    ck_assert_int_eq(autocompact_decide(&a, 2 * S, 200, 0, &why), 100);
    ck_assert_int_eq(why, AUTOCOMPACT_REASON_THRESHOLD);
    /* Proposed but not yet applied: not proposed twice. */
    ck_assert_int_eq(autocompact_decide(&a, 3 * S, 201, 0, &why), 0);
    /* The check interval compacts whatever is there. */
    uint64_t later = 2 * S + AUTOCOMPACT_REVISION_CHECK_NS;
    ck_assert_int_eq(autocompact_decide(&a, later - 1, 250, 100, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, later, 250, 100, &why), 150);
    ck_assert_int_eq(why, AUTOCOMPACT_REASON_INTERVAL);
}
END_TEST

START_TEST(revision_mode_never_passes_current_or_goes_backwards)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_REVISION, 5);
    int64_t compacted = 0;
    uint64_t t = 0;
    for (int64_t cur = 1; cur < 2000; cur += 3) {
        t += 7 * S;
        int64_t rev = autocompact_decide(&a, t, cur, compacted, &why);
        if (rev != 0) {
            ck_assert_int_le(rev, cur - 5);
            ck_assert_int_gt(rev, compacted);
            compacted = rev;
        }
    }
    ck_assert_int_ge(compacted, 1990);
}
END_TEST

START_TEST(client_compaction_beyond_target_suppresses_auto)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_PERIODIC, 1000);
    ck_assert_int_eq(autocompact_decide(&a, 0, 10, 0, &why), 0);
    /* A client compacted to 40 meanwhile: the sample (10) is behind. */
    ck_assert_int_eq(autocompact_decide(&a, S, 60, 40, &why), 0);
}
END_TEST

START_TEST(failed_proposal_is_answered_again)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_PERIODIC, 1000);
    ck_assert_int_eq(autocompact_decide(&a, 0, 30, 0, &why), 0);
    ck_assert_int_eq(autocompact_decide(&a, S, 30, 0, &why), 30);
    autocompact_propose_failed(&a, 30, why);
    /* No writes since, yet the lost answer is not lost. */
    ck_assert_int_eq(autocompact_decide(&a, S + 10 * MS, 30, 0, &why), 30);
    ck_assert_int_eq(why, AUTOCOMPACT_REASON_PERIOD);
    ck_assert_int_eq(autocompact_decide(&a, S + 20 * MS, 30, 0, &why), 0);
    /* A reset forgets it: the new leader decides afresh. */
    autocompact_propose_failed(&a, 30, why);
    autocompact_reset(&a);
    ck_assert_int_eq(autocompact_decide(&a, S + 30 * MS, 30, 0, &why), 0);
}
END_TEST

START_TEST(off_never_compacts)
{
    struct autocompact a;
    enum autocompact_reason why;
    autocompact_init(&a, AUTOCOMPACT_OFF, 0);
    for (uint64_t t = 0; t < 3600 * S; t += 60 * S) {
        ck_assert_int_eq(
            autocompact_decide(&a, t, (int64_t)(t / S) + 1, 0, &why), 0);
    }
}
END_TEST

static Suite *autocompact_suite(void)
{
    Suite *s = suite_create("autocompact");
    TCase *tc = tcase_create("decide");
    tcase_add_test(tc, periodic_compacts_to_revision_current_one_retention_ago);
    tcase_add_test(tc, periodic_without_new_writes_never_compacts_again);
    tcase_add_test(tc, new_leader_waits_a_full_retention_after_reset);
    tcase_add_test(tc, revision_mode_keeps_last_n_and_compacts_at_threshold);
    tcase_add_test(tc, revision_mode_never_passes_current_or_goes_backwards);
    tcase_add_test(tc, client_compaction_beyond_target_suppresses_auto);
    tcase_add_test(tc, failed_proposal_is_answered_again);
    tcase_add_test(tc, off_never_compacts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(autocompact_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
