/*
 * test_conf.c - membership change values and error strings: encoding and
 * decoding of raft_conf_change (round trip, truncated and garbage input
 * rejected with RAFT_EINVAL, never read past the buffer), raft_conf_apply's
 * rules (RAFT_EBADCONF for changes that make no sense, the configuration
 * left untouched then), raft_conf_find / raft_conf_voters, and the
 * RAFT_ERRORS table behind raft_strerror / raft_err_name.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

static struct raft_conf conf_of(size_t n_voters, size_t n_learners)
{
    struct raft_conf c;
    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < n_voters + n_learners; i++) {
        c.members[i].id = i + 1;
        c.members[i].learner = i >= n_voters;
    }
    c.n = (uint32_t)(n_voters + n_learners);
    return c;
}

static struct raft_conf_change cc_of(uint32_t type, raft_id id)
{
    struct raft_conf_change cc;
    memset(&cc, 0, sizeof(cc));
    cc.type = type;
    cc.id = id;
    return cc;
}

START_TEST(conf_change_round_trips_with_context)
{
    const char *ctx = "node-7 10.0.0.7:2380 10.0.0.7:2379";
    struct raft_conf_change in = cc_of(RAFT_CC_ADD_LEARNER, 7);
    in.ctx = (const uint8_t *)ctx;
    in.ctx_len = (uint32_t)strlen(ctx);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(raft_conf_change_encode(&in, &buf, &len), 0);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_gt(len, 0);

    struct raft_conf_change out;
    ck_assert_int_eq(raft_conf_change_decode(buf, len, &out), 0);
    ck_assert_uint_eq(out.type, RAFT_CC_ADD_LEARNER);
    ck_assert_uint_eq(out.id, 7);
    ck_assert_uint_eq(out.ctx_len, strlen(ctx));
    ck_assert_mem_eq(out.ctx, ctx, strlen(ctx));
    ck_assert(out.ctx >= buf && out.ctx + out.ctx_len <= buf + len);
    free(buf);
}
END_TEST

START_TEST(conf_change_round_trips_every_type_without_context)
{
    uint32_t types[] = {RAFT_CC_ADD_VOTER, RAFT_CC_ADD_LEARNER, RAFT_CC_REMOVE};
    for (size_t i = 0; i < 3; i++) {
        struct raft_conf_change in = cc_of(types[i], 0x0102030405060708ull);
        uint8_t *buf = NULL;
        size_t len = 0;
        ck_assert_int_eq(raft_conf_change_encode(&in, &buf, &len), 0);
        struct raft_conf_change out;
        memset(&out, 0xab, sizeof(out));
        ck_assert_int_eq(raft_conf_change_decode(buf, len, &out), 0);
        ck_assert_uint_eq(out.type, types[i]);
        ck_assert_uint_eq(out.id, 0x0102030405060708ull);
        ck_assert_uint_eq(out.ctx_len, 0);
        free(buf);
    }
}
END_TEST

START_TEST(conf_change_decode_rejects_every_truncation)
{
    struct raft_conf_change in = cc_of(RAFT_CC_ADD_VOTER, 3);
    in.ctx = (const uint8_t *)"addr";
    in.ctx_len = 4;
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(raft_conf_change_encode(&in, &buf, &len), 0);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes, so that ASan catches a
         * decoder reading past the end. */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        struct raft_conf_change out;
        ck_assert_msg(raft_conf_change_decode(part, cut, &out) == RAFT_EINVAL,
                      "prefix of %zu of %zu bytes accepted", cut, len);
        free(part);
    }
    free(buf);
}
END_TEST

START_TEST(conf_change_decode_rejects_garbage)
{
    struct raft_conf_change in = cc_of(RAFT_CC_REMOVE, 2);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(raft_conf_change_encode(&in, &buf, &len), 0);
    /* All ones: an impossible type and a context longer than the buffer. */
    uint8_t *junk = malloc(len);
    memset(junk, 0xff, len);
    struct raft_conf_change out;
    ck_assert_int_eq(raft_conf_change_decode(junk, len, &out), RAFT_EINVAL);
    ck_assert_int_eq(raft_conf_change_decode(NULL, 0, &out), RAFT_EINVAL);
    free(junk);
    free(buf);
}
END_TEST

START_TEST(conf_apply_adds_voter_and_learner)
{
    struct raft_conf c = conf_of(1, 0);
    struct raft_conf_change cc = cc_of(RAFT_CC_ADD_VOTER, 2);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    cc = cc_of(RAFT_CC_ADD_LEARNER, 3);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(raft_conf_voters(&c), 2);
    const struct raft_member *m = raft_conf_find(&c, 2);
    ck_assert_ptr_nonnull(m);
    ck_assert(!m->learner);
    m = raft_conf_find(&c, 3);
    ck_assert_ptr_nonnull(m);
    ck_assert(m->learner);
    ck_assert_ptr_null(raft_conf_find(&c, 4));
}
END_TEST

START_TEST(conf_apply_promotes_learner)
{
    struct raft_conf c = conf_of(2, 1);
    ck_assert_uint_eq(raft_conf_voters(&c), 2);
    struct raft_conf_change cc = cc_of(RAFT_CC_ADD_VOTER, 3);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_uint_eq(raft_conf_voters(&c), 3);
    ck_assert(!raft_conf_find(&c, 3)->learner);
}
END_TEST

START_TEST(conf_apply_removes_voter_and_learner)
{
    struct raft_conf c = conf_of(3, 1);
    struct raft_conf_change cc = cc_of(RAFT_CC_REMOVE, 2);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    cc = cc_of(RAFT_CC_REMOVE, 4);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_uint_eq(raft_conf_voters(&c), 2);
    ck_assert_ptr_null(raft_conf_find(&c, 2));
    ck_assert_ptr_null(raft_conf_find(&c, 4));
    ck_assert_ptr_nonnull(raft_conf_find(&c, 1));
    ck_assert_ptr_nonnull(raft_conf_find(&c, 3));
}
END_TEST

static void expect_bad(struct raft_conf c, struct raft_conf_change cc)
{
    struct raft_conf before = c;
    ck_assert_int_eq(raft_conf_apply(&c, &cc), RAFT_EBADCONF);
    ck_assert_uint_eq(c.n, before.n);
    ck_assert_uint_eq(raft_conf_voters(&c), raft_conf_voters(&before));
    for (uint32_t i = 0; i < before.n; i++) {
        const struct raft_member *m = raft_conf_find(&c, before.members[i].id);
        ck_assert_ptr_nonnull(m);
        ck_assert(m->learner == before.members[i].learner);
    }
}

START_TEST(conf_apply_refuses_duplicate_voter)
{
    expect_bad(conf_of(3, 0), cc_of(RAFT_CC_ADD_VOTER, 2));
}
END_TEST

START_TEST(conf_apply_refuses_duplicate_learner)
{
    expect_bad(conf_of(2, 1), cc_of(RAFT_CC_ADD_LEARNER, 3));
}
END_TEST

START_TEST(conf_apply_refuses_removing_absent_node)
{
    expect_bad(conf_of(3, 0), cc_of(RAFT_CC_REMOVE, 9));
}
END_TEST

START_TEST(conf_apply_refuses_node_id_none)
{
    expect_bad(conf_of(3, 0), cc_of(RAFT_CC_ADD_VOTER, RAFT_NONE));
    expect_bad(conf_of(3, 0), cc_of(RAFT_CC_ADD_LEARNER, RAFT_NONE));
}
END_TEST

START_TEST(conf_apply_refuses_full_configuration)
{
    struct raft_conf c = conf_of(RAFT_MAX_MEMBERS - 1, 0);
    struct raft_conf_change cc = cc_of(RAFT_CC_ADD_LEARNER, 100);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(c.n, RAFT_MAX_MEMBERS);
    expect_bad(c, cc_of(RAFT_CC_ADD_VOTER, 101));
    expect_bad(c, cc_of(RAFT_CC_ADD_LEARNER, 101));
    /* Promoting a member needs no new slot. */
    cc = cc_of(RAFT_CC_ADD_VOTER, 100);
    ck_assert_int_eq(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(raft_conf_voters(&c), RAFT_MAX_MEMBERS);
}
END_TEST

START_TEST(conf_apply_refuses_unknown_change_type)
{
    struct raft_conf c = conf_of(3, 0);
    struct raft_conf_change cc = cc_of(77, 4);
    ck_assert_int_lt(raft_conf_apply(&c, &cc), 0);
    ck_assert_uint_eq(c.n, 3);
}
END_TEST

START_TEST(error_table_names_every_code)
{
    int codes[] = {RAFT_ENOMEM,      RAFT_EINVAL,    RAFT_ENOTLEADER,
                   RAFT_ETRANSFER,   RAFT_ECONFPENDING, RAFT_EBADCONF,
                   RAFT_ECOMPACTED,  RAFT_EUNAVAILABLE, RAFT_ESNAPSHOT,
                   RAFT_ECORRUPT,    RAFT_ESTORAGE,  RAFT_EREMOVED,
                   RAFT_ETOOBIG,     RAFT_ENOTREADY};
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *text = raft_strerror(codes[i]);
        ck_assert_ptr_nonnull(text);
        ck_assert_str_ne(text, "unknown error");
        for (size_t j = 0; j < i; j++) {
            ck_assert_str_ne(text, raft_strerror(codes[j]));
        }
    }
    ck_assert_str_eq(raft_err_name(RAFT_ENOTLEADER), "RAFT_ENOTLEADER");
    ck_assert_str_eq(raft_err_name(RAFT_ENOTREADY), "RAFT_ENOTREADY");
    ck_assert_str_eq(raft_strerror(RAFT_ETOOBIG),
                     "entry larger than the maximum message size");
    ck_assert_str_eq(raft_strerror(-999), "unknown error");
    ck_assert_str_eq(raft_err_name(-999), "RAFT_E?");
    ck_assert_ptr_nonnull(raft_strerror(0));
}
END_TEST

START_TEST(role_names_are_distinct)
{
    enum raft_role roles[] = {RAFT_FOLLOWER, RAFT_PRE_CANDIDATE, RAFT_CANDIDATE,
                              RAFT_LEADER};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(raft_role_name(roles[i]));
        for (size_t j = 0; j < i; j++) {
            ck_assert_str_ne(raft_role_name(roles[i]),
                             raft_role_name(roles[j]));
        }
    }
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("raft_conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, conf_change_round_trips_with_context);
    tcase_add_test(tc, conf_change_round_trips_every_type_without_context);
    tcase_add_test(tc, conf_change_decode_rejects_every_truncation);
    tcase_add_test(tc, conf_change_decode_rejects_garbage);
    tcase_add_test(tc, conf_apply_adds_voter_and_learner);
    tcase_add_test(tc, conf_apply_promotes_learner);
    tcase_add_test(tc, conf_apply_removes_voter_and_learner);
    tcase_add_test(tc, conf_apply_refuses_duplicate_voter);
    tcase_add_test(tc, conf_apply_refuses_duplicate_learner);
    tcase_add_test(tc, conf_apply_refuses_removing_absent_node);
    tcase_add_test(tc, conf_apply_refuses_node_id_none);
    tcase_add_test(tc, conf_apply_refuses_full_configuration);
    tcase_add_test(tc, conf_apply_refuses_unknown_change_type);
    tcase_add_test(tc, error_table_names_every_code);
    tcase_add_test(tc, role_names_are_distinct);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
