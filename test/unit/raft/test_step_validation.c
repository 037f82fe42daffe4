/*
 * test_step_validation.c - raft_step() trusts nothing from the network:
 * malformed messages (unknown type, from = RAFT_NONE, entries that are not
 * contiguous or do not follow the previous index) return RAFT_EINVAL and
 * change nothing - not the term, role, leader, commit or log, and they
 * produce no ready batch - even when they carry a higher term.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/net.h"

struct snap {
    raft_term term;
    enum raft_role role;
    raft_id leader;
    raft_index commit;
    raft_index last;
};

static struct snap take(struct raft *r)
{
    struct snap s = {raft_term_of(r), raft_role_of(r), raft_leader(r),
                     raft_commit_index(r), raft_last_index(r)};
    return s;
}

static void expect_unchanged(struct raft *r, struct snap before)
{
    struct snap now = take(r);
    ck_assert_uint_eq(now.term, before.term);
    ck_assert_int_eq(now.role, before.role);
    ck_assert_uint_eq(now.leader, before.leader);
    ck_assert_uint_eq(now.commit, before.commit);
    ck_assert_uint_eq(now.last, before.last);
    ck_assert(!raft_has_ready(r));
}

static struct net *start3(void)
{
    struct net_opts o;
    net_default_opts(&o, 3);
    struct net *net = net_start(&o, 1);
    net_stabilize(net);
    return net;
}

/* A well-formed APPEND from leader 1 to node 2 with `n` entries after
 * node 2's last entry; entries and their data are static. */
static struct raft_entry ents[3];
static struct raft_message append_to_2(struct net *net, size_t n)
{
    struct raft *r2 = net_raft(net, 2);
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = RAFT_MSG_APPEND;
    m.from = 1;
    m.to = 2;
    m.term = raft_term_of(r2);
    m.index = net_store_last(net, 2);
    m.log_term = net_store_term(net, 2, m.index);
    m.commit = raft_commit_index(r2);
    memset(ents, 0, sizeof(ents));
    for (size_t k = 0; k < n; k++) {
        ents[k].term = m.term;
        ents[k].index = m.index + 1 + k;
        ents[k].type = RAFT_ENTRY_NORMAL;
    }
    m.n_entries = n;
    m.entries = ents;
    return m;
}

START_TEST(unknown_message_type_is_rejected)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 2);
    struct snap before = take(r);
    uint32_t types[] = {0, RAFT_MSG_READ_INDEX_RESP + 1, 99, UINT32_MAX};
    for (size_t k = 0; k < 4; k++) {
        struct raft_message m;
        memset(&m, 0, sizeof(m));
        m.type = types[k];
        m.from = 1;
        m.to = 2;
        m.term = before.term + 10; /* must not bump the term either */
        ck_assert_int_eq(raft_step(r, &m, net->now_ns), RAFT_EINVAL);
        expect_unchanged(r, before);
    }
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(message_from_none_is_rejected)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 2);
    struct snap before = take(r);
    struct raft_message m = append_to_2(net, 1);
    m.from = RAFT_NONE;
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), RAFT_EINVAL);
    expect_unchanged(r, before);
    struct raft_message v;
    memset(&v, 0, sizeof(v));
    v.type = RAFT_MSG_VOTE;
    v.from = RAFT_NONE;
    v.to = 2;
    v.term = before.term + 3;
    v.index = 1000;
    v.log_term = before.term + 3;
    ck_assert_int_eq(raft_step(r, &v, net->now_ns), RAFT_EINVAL);
    expect_unchanged(r, before);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(non_contiguous_entries_are_rejected)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 2);
    struct snap before = take(r);
    struct raft_message m = append_to_2(net, 3);
    ents[2].index += 1; /* a gap between the 2nd and 3rd entry */
    m.commit = before.last + 3;
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), RAFT_EINVAL);
    expect_unchanged(r, before);
    m = append_to_2(net, 2);
    ents[1].index = ents[0].index; /* a repeated index */
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), RAFT_EINVAL);
    expect_unchanged(r, before);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(entries_not_following_prev_index_are_rejected)
{
    struct net *net = start3();
    struct raft *r = net_raft(net, 2);
    struct snap before = take(r);
    struct raft_message m = append_to_2(net, 2);
    ents[0].index += 1;
    ents[1].index += 1;
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), RAFT_EINVAL);
    expect_unchanged(r, before);
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(well_formed_append_is_accepted)
{
    /* The control for the tests above: the same message, intact, is taken. */
    struct net *net = start3();
    struct raft *r = net_raft(net, 2);
    struct snap before = take(r);
    struct raft_message m = append_to_2(net, 3);
    ck_assert_int_eq(raft_step(r, &m, net->now_ns), 0);
    ck_assert_uint_eq(raft_last_index(r), before.last + 3);
    ck_assert(raft_has_ready(r));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

START_TEST(malformed_messages_do_not_disturb_the_cluster)
{
    struct net *net = start3();
    struct raft *r1 = net_raft(net, 1);
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = 250;
    m.from = 3;
    m.to = 1;
    m.term = raft_term_of(r1) + 1;
    ck_assert_int_eq(raft_step(r1, &m, net->now_ns), RAFT_EINVAL);
    ck_assert_int_eq(raft_role_of(r1), RAFT_LEADER);
    ck_assert_int_eq(net_propose(net, 1, "still-leading", NULL), 0);
    net_stabilize(net);
    net_tick_all(net, net->opts.heartbeat_tick);
    ck_assert(net_applied_has(net, 3, "still-leading"));
    net_assert_ok(net);
    net_destroy(net);
}
END_TEST

static Suite *step_validation_suite(void)
{
    Suite *s = suite_create("raft_step_validation");
    TCase *tc = tcase_create("step_validation");
    tcase_add_test(tc, unknown_message_type_is_rejected);
    tcase_add_test(tc, message_from_none_is_rejected);
    tcase_add_test(tc, non_contiguous_entries_are_rejected);
    tcase_add_test(tc, entries_not_following_prev_index_are_rejected);
    tcase_add_test(tc, well_formed_append_is_accepted);
    tcase_add_test(tc, malformed_messages_do_not_disturb_the_cluster);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(step_validation_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
