/*
 * test_readindex_server.c - what the server needs from the ReadIndexManager
 * (lease/readindex.h) beyond the reference report's cases: a round that
 * could not start goes back for a fresh ctx (readindex_unbatch); on
 * step-down only the reads whose index came from the lost leadership are
 * failed (readindex_fail_paths); a client that closes its connection takes
 * all its reads out at once and frees their slots (readindex_cancel_if),
 * also from inside an answer callback.  Every read still ends exactly once:
 * answered, or handed back as cancelled.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lease/readindex.h"

struct answers {
    size_t n;
    uint64_t id[64];
    int status[64];
    void *user[64];
};

static void on_answer(void *data, uint64_t id, void *user, int status,
                      raft_index index)
{
    (void)index;
    struct answers *a = data;
    ck_assert_uint_lt(a->n, 64);
    a->id[a->n] = id;
    a->status[a->n] = status;
    a->user[a->n] = user;
    a->n++;
}

static int count_status(const struct answers *a, int status)
{
    int n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += a->status[i] == status;
    return n;
}

static struct readindex_manager *make(size_t max)
{
    struct readindex_manager *rim = malloc(sizeof(*rim));
    ck_assert_ptr_nonnull(rim);
    ck_assert_int_eq(readindex_init(rim, max, 1000), 0);
    return rim;
}

static void drop(struct readindex_manager *rim)
{
    readindex_close(rim);
    free(rim);
}

static uint64_t add(struct readindex_manager *rim, enum readindex_path p,
                    void *user)
{
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, id, p, 0, 0, user), 0);
    return id;
}

START_TEST(refused_round_goes_back_and_gets_a_fresh_ctx)
{
    struct readindex_manager *rim = make(8);
    for (int i = 0; i < 3; i++)
        add(rim, READINDEX_PATH_FOLLOWER, NULL);
    uint64_t ctx1 = 0, ctx2 = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx1, NULL, 0), 3);
    /* no leader known: the round never started */
    ck_assert_uint_eq(readindex_unbatch(rim, ctx1), 3);
    ck_assert_uint_eq(readindex_unbatch(rim, ctx1), 0);
    ck_assert_uint_eq(readindex_unbatch(rim, 0), 0);
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx2, NULL, 0), 3);
    ck_assert_uint_gt(ctx2, ctx1);
    /* an answer to the retired ctx reaches nobody */
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx1, 4), 0);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx2, 4), 3);
    struct answers a = {0};
    ck_assert_uint_eq(readindex_on_applied(rim, 4, 0, on_answer, &a), 3);
    ck_assert_int_eq(count_status(&a, 0), 3);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.rounds, 2);
    ck_assert_uint_eq(s.stale_read_states, 1);
    ck_assert_uint_eq(s.pending, 0);
    drop(rim);
}
END_TEST

START_TEST(unbatch_leaves_other_rounds_and_indexed_reads_alone)
{
    struct readindex_manager *rim = make(8);
    uint64_t a1 = add(rim, READINDEX_PATH_SLOW, NULL);
    uint64_t ctx_a = 0, ctx_b = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx_a, NULL, 0), 1);
    uint64_t b1 = add(rim, READINDEX_PATH_SLOW, NULL);
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx_b, NULL, 0), 1);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx_a, 9), 1);
    /* a1 already has its index: unbatching its old ctx does nothing */
    ck_assert_uint_eq(readindex_unbatch(rim, ctx_a), 0);
    struct readindex_info info;
    ck_assert_int_eq(readindex_lookup(rim, a1, &info), 0);
    ck_assert(info.has_index);
    ck_assert_int_eq(readindex_lookup(rim, b1, &info), 0);
    ck_assert_uint_eq(info.ctx, ctx_b);
    drop(rim);
}
END_TEST

START_TEST(step_down_fails_only_leader_paths)
{
    struct readindex_manager *rim = make(8);
    int tag;
    uint64_t fast = add(rim, READINDEX_PATH_FAST, &tag);
    ck_assert_int_eq(readindex_fast_path(rim, fast, 20), 0);
    uint64_t slow = add(rim, READINDEX_PATH_SLOW, &tag);
    uint64_t follower = add(rim, READINDEX_PATH_FOLLOWER, NULL);
    uint64_t ser = add(rim, READINDEX_PATH_SERIALIZABLE, NULL);
    ck_assert_int_eq(readindex_set_index(rim, ser, 20), 0);
    struct answers a = {0};
    ck_assert_uint_eq(
        readindex_fail_paths(rim,
                             READINDEX_PATH_BIT(READINDEX_PATH_FAST) |
                                 READINDEX_PATH_BIT(READINDEX_PATH_SLOW),
                             LEASE_ENOTLEADER, on_answer, &a),
        2);
    ck_assert_uint_eq(a.n, 2);
    ck_assert_int_eq(count_status(&a, LEASE_ENOTLEADER), 2);
    ck_assert(a.id[0] == fast || a.id[1] == fast);
    ck_assert(a.id[0] == slow || a.id[1] == slow);
    ck_assert_ptr_eq(a.user[0], &tag);
    struct readindex_info info;
    ck_assert_int_eq(readindex_lookup(rim, follower, &info), 0);
    ck_assert_int_eq(readindex_lookup(rim, ser, &info), 0);
    /* the survivors are still served normally */
    ck_assert_uint_eq(readindex_on_applied(rim, 20, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.id[2], ser);
    ck_assert_int_eq(a.status[2], 0);
    /* a status >= 0 is never passed on as success; mask 0 fails nothing */
    ck_assert_uint_eq(readindex_fail_paths(rim, 0, LEASE_ENOTLEADER,
                                           on_answer, &a),
                      0);
    ck_assert_uint_eq(
        readindex_fail_paths(rim, READINDEX_PATHS_ALL, 0, on_answer, &a), 1);
    ck_assert_int_eq(a.status[3], LEASE_EUNAVAILABLE);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.failed, 3);
    ck_assert_uint_eq(s.pending, 0);
    drop(rim);
}
END_TEST

static bool same_user(void *arg, void *user)
{
    return arg == user;
}

START_TEST(closed_client_takes_all_its_reads_out_and_frees_their_slots)
{
    struct readindex_manager *rim = make(4);
    int conn_a, conn_b;
    uint64_t a1 = add(rim, READINDEX_PATH_SLOW, &conn_a);
    uint64_t b1 = add(rim, READINDEX_PATH_SLOW, &conn_b);
    uint64_t ctx = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 2);
    uint64_t a2 = add(rim, READINDEX_PATH_FAST, &conn_a);
    ck_assert_int_eq(readindex_fast_path(rim, a2, 30), 0);
    uint64_t a3 = add(rim, READINDEX_PATH_FOLLOWER, &conn_a); /* unbatched */
    ck_assert_int_eq(readindex_add(rim, readindex_next_id(rim),
                                   READINDEX_PATH_SLOW, 0, 0, &conn_b),
                     LEASE_EEXHAUSTED);
    struct answers a = {0};
    ck_assert_uint_eq(
        readindex_cancel_if(rim, same_user, &conn_a, on_answer, &a), 3);
    ck_assert_uint_eq(a.n, 3);
    ck_assert_int_eq(count_status(&a, LEASE_ECANCELED), 3);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_ptr_eq(a.user[i], &conn_a);
        ck_assert(a.id[i] == a1 || a.id[i] == a2 || a.id[i] == a3);
    }
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.cancelled, 3);
    ck_assert_uint_eq(s.pending, 1);
    /* their slots are free again; nothing of theirs needs a round */
    for (int i = 0; i < 3; i++)
        add(rim, READINDEX_PATH_SERIALIZABLE, &conn_b);
    uint64_t ctx2 = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx2, NULL, 0), 0);
    /* the round a1 was in answers b1 only; apply answers no cancelled read */
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 30), 1);
    a.n = 0;
    ck_assert_uint_eq(readindex_on_applied(rim, 30, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.id[0], b1);
    /* no match, no callback; a NULL callback is allowed */
    ck_assert_uint_eq(readindex_cancel_if(rim, same_user, &conn_a, NULL, NULL),
                      0);
    ck_assert_uint_eq(readindex_cancel_if(rim, same_user, &conn_b, NULL, NULL),
                      3);
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, 0);
    ck_assert_uint_eq(s.cancelled, 6);
    drop(rim);
}
END_TEST

/* An answer whose reply fails closes the connection, which cancels that
 * client's other reads while the manager is still answering. */
struct reentrant {
    struct readindex_manager *rim;
    int conn;
    size_t answered, cancelled;
};

static void cancel_from_callback(void *data, uint64_t id, void *user,
                                 int status, raft_index index)
{
    (void)id;
    (void)index;
    struct reentrant *r = data;
    if (status == LEASE_ECANCELED) {
        r->cancelled++;
        return;
    }
    ck_assert_int_eq(status, 0);
    r->answered++;
    if (user == &r->conn)
        readindex_cancel_if(r->rim, same_user, &r->conn, cancel_from_callback,
                            r);
}

START_TEST(cancel_from_inside_an_answer_callback_is_safe)
{
    struct readindex_manager *rim = make(16);
    struct reentrant r = {.rim = rim};
    int other;
    for (int i = 0; i < 10; i++) {
        uint64_t id =
            add(rim, READINDEX_PATH_FAST, i % 2 == 0 ? (void *)&r.conn : &other);
        ck_assert_int_eq(readindex_fast_path(rim, id, 5), 0);
    }
    /* the first read of r.conn answered cancels its 4 others; the 5 reads
     * of `other` are all answered */
    size_t n = readindex_on_applied(rim, 5, 0, cancel_from_callback, &r);
    ck_assert_uint_eq(r.cancelled, 4);
    ck_assert_uint_eq(r.answered, 6);
    ck_assert_uint_eq(n, 6);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, 0);
    ck_assert_uint_eq(s.completed, 6);
    ck_assert_uint_eq(s.cancelled, 4);
    drop(rim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("readindex_server");
    TCase *tc = tcase_create("server needs");
    tcase_add_test(tc, refused_round_goes_back_and_gets_a_fresh_ctx);
    tcase_add_test(tc, unbatch_leaves_other_rounds_and_indexed_reads_alone);
    tcase_add_test(tc, step_down_fails_only_leader_paths);
    tcase_add_test(tc,
                   closed_client_takes_all_its_reads_out_and_frees_their_slots);
    tcase_add_test(tc, cancel_from_inside_an_answer_callback_is_safe);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
