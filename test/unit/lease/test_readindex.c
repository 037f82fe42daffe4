/*
 * test_readindex.c - pending linearizable reads (lease/readindex.h): the
 * reference report's ReadIndexManager cases (ImmediateRead, WaitForApply,
 * MultiplePendingReads, ...) under behaviour names, plus batching with one
 * shared ctx, late answers for old ctxs, the queue bound, deadlines and
 * step-down: every read is answered exactly once.  One case runs the slow
 * path against a real 3-node Raft (helpers/mini.h).
 *
 * Report name -> test: Creation -> new_manager_is_empty; ImmediateRead ->
 * fast_path_read_answers_once_applied_reaches_commit; WaitForApply ->
 * read_waits_until_applied_reaches_its_index; MultiplePendingReads ->
 * reads_together_share_one_round_and_ctx; PartialNotify ->
 * apply_progress_wakes_only_reads_it_covers; Timeout ->
 * read_past_deadline_gets_deadline_exceeded; RecordFastPath, RecordForwarded,
 * Stats -> served_reads_are_counted_by_path; MixedWorkload ->
 * mixed_workload_answers_every_read_once; GenerateRequestID ->
 * request_ids_grow_and_are_never_reused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/mini.h"
#include "lease/readindex.h"

#define MS 1000000ull

/* Records every callback. */
struct answers {
    size_t n;
    uint64_t id[64];
    int status[64];
    raft_index index[64];
    void *user[64];
};

static void on_answer(void *data, uint64_t id, void *user, int status,
                      raft_index index)
{
    struct answers *a = data;
    ck_assert_uint_lt(a->n, 64);
    a->id[a->n] = id;
    a->status[a->n] = status;
    a->index[a->n] = index;
    a->user[a->n] = user;
    a->n++;
}

/* Index in `a` of the answer for id, or -1. */
static int answer_of(const struct answers *a, uint64_t id)
{
    int found = -1;
    for (size_t i = 0; i < a->n; i++) {
        if (a->id[i] == id) {
            ck_assert_int_eq(found, -1); /* answered once */
            found = (int)i;
        }
    }
    return found;
}

static struct readindex_manager *make(size_t max)
{
    struct readindex_manager *rim = malloc(sizeof(*rim));
    ck_assert_ptr_nonnull(rim);
    ck_assert_int_eq(readindex_init(rim, max, 0), 0);
    return rim;
}

static void drop(struct readindex_manager *rim)
{
    readindex_close(rim);
    free(rim);
}

START_TEST(new_manager_is_empty)
{
    struct readindex_manager *rim = make(8);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, 0);
    ck_assert_uint_eq(s.added, 0);
    uint64_t ctx = 99;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 0);
    ck_assert_uint_eq(ctx, 99); /* untouched: no round needed */
    ck_assert_uint_eq(lease_hist_quantile(readindex_latency(rim, 0), 0.5), 0);
    ck_assert_ptr_null(readindex_latency(rim, READINDEX_PATH_COUNT));
    struct readindex_manager bad;
    ck_assert_int_eq(readindex_init(&bad, 0, 0), LEASE_EINVAL);
    drop(rim);
}
END_TEST

START_TEST(fast_path_read_answers_once_applied_reaches_commit)
{
    struct readindex_manager *rim = make(8);
    struct answers a = {0};
    int tag;
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_FAST, 100, 0, &tag),
                     0);
    ck_assert_int_eq(readindex_fast_path(rim, id, 7), 0);
    /* no round is needed for a lease read */
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 0);
    ck_assert_uint_eq(readindex_on_applied(rim, 7, 150, on_answer, &a), 1);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_uint_eq(a.id[0], id);
    ck_assert_int_eq(a.status[0], 0);
    ck_assert_uint_eq(a.index[0], 7);
    ck_assert_ptr_eq(a.user[0], &tag);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.fast_path, 1);
    ck_assert_uint_eq(s.pending, 0);
    ck_assert_uint_eq(s.waits_for_apply, 1); /* applied was 0 at the time */
    ck_assert_uint_eq(
        lease_hist_quantile(readindex_latency(rim, READINDEX_PATH_FAST), 0.5),
        50);
    drop(rim);
}
END_TEST

START_TEST(read_waits_until_applied_reaches_its_index)
{
    struct readindex_manager *rim = make(8);
    struct answers a = {0};
    ck_assert_uint_eq(readindex_on_applied(rim, 3, 0, on_answer, &a), 0);
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    uint64_t ctx = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 1);
    ck_assert_uint_ne(ctx, 0);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 5), 1);
    ck_assert_uint_eq(readindex_on_applied(rim, 4, 0, on_answer, &a), 0);
    ck_assert_uint_eq(a.n, 0);
    struct readindex_info info;
    ck_assert_int_eq(readindex_lookup(rim, id, &info), 0);
    ck_assert(info.has_index);
    ck_assert_uint_eq(info.index, 5);
    ck_assert_uint_eq(readindex_on_applied(rim, 5, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.n, 1);
    ck_assert_int_eq(a.status[0], 0);
    ck_assert_uint_eq(a.index[0], 5);
    ck_assert_int_eq(readindex_lookup(rim, id, &info), LEASE_ENOTFOUND);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.slow_path, 1);
    ck_assert_uint_eq(s.waits_for_apply, 1);
    drop(rim);
}
END_TEST

START_TEST(reads_together_share_one_round_and_ctx)
{
    struct readindex_manager *rim = make(16);
    uint64_t ids[5];
    for (int i = 0; i < 5; i++) {
        ids[i] = readindex_next_id(rim);
        ck_assert_int_eq(
            readindex_add(rim, ids[i], READINDEX_PATH_SLOW, 0, 0, NULL), 0);
    }
    uint64_t ctx = 0, got[8];
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, got, 8), 5);
    for (int i = 0; i < 5; i++) {
        struct readindex_info info;
        ck_assert_int_eq(readindex_lookup(rim, ids[i], &info), 0);
        ck_assert_uint_eq(info.ctx, ctx);
        int seen = 0;
        for (int k = 0; k < 5; k++)
            seen += got[k] == ids[i];
        ck_assert_int_eq(seen, 1);
    }
    /* already in a round: the next batch is empty */
    uint64_t ctx2 = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx2, NULL, 0), 0);
    /* a later read gets a new, larger ctx */
    uint64_t late = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, late, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx2, NULL, 0), 1);
    ck_assert_uint_gt(ctx2, ctx);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 9), 5);
    struct answers a = {0};
    ck_assert_uint_eq(readindex_on_applied(rim, 9, 0, on_answer, &a), 5);
    ck_assert_int_eq(answer_of(&a, late), -1); /* its round is not back */
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.rounds, 2);
    ck_assert_uint_eq(s.round_reads, 6);
    ck_assert_uint_eq(s.max_round_reads, 5);
    ck_assert_uint_eq(s.pending, 1);
    drop(rim);
}
END_TEST

START_TEST(apply_progress_wakes_only_reads_it_covers)
{
    struct readindex_manager *rim = make(16);
    struct answers a = {0};
    uint64_t ids[4];
    raft_index at[4] = {10, 12, 11, 20};
    for (int i = 0; i < 4; i++) {
        ids[i] = readindex_next_id(rim);
        ck_assert_int_eq(
            readindex_add(rim, ids[i], READINDEX_PATH_FAST, 0, 0, NULL), 0);
        ck_assert_int_eq(readindex_fast_path(rim, ids[i], at[i]), 0);
    }
    ck_assert_uint_eq(readindex_on_applied(rim, 11, 0, on_answer, &a), 2);
    ck_assert_int_ge(answer_of(&a, ids[0]), 0);
    ck_assert_int_ge(answer_of(&a, ids[2]), 0);
    ck_assert_int_eq(answer_of(&a, ids[1]), -1);
    ck_assert_uint_eq(readindex_on_applied(rim, 19, 0, on_answer, &a), 1);
    ck_assert_int_ge(answer_of(&a, ids[1]), 0);
    ck_assert_uint_eq(readindex_on_applied(rim, 25, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.n, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_ge(answer_of(&a, ids[i]), 0);
    drop(rim);
}
END_TEST

START_TEST(read_past_deadline_gets_deadline_exceeded)
{
    struct readindex_manager *rim = make(8);
    struct answers a = {0};
    uint64_t slow = readindex_next_id(rim), later = readindex_next_id(rim),
             none = readindex_next_id(rim);
    ck_assert_int_eq(
        readindex_add(rim, slow, READINDEX_PATH_SLOW, 0, 100 * MS, NULL), 0);
    ck_assert_int_eq(
        readindex_add(rim, later, READINDEX_PATH_SLOW, 0, 300 * MS, NULL), 0);
    ck_assert_int_eq(readindex_add(rim, none, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    ck_assert_uint_eq(readindex_expire(rim, 100 * MS - 1, on_answer, &a), 0);
    ck_assert_uint_eq(readindex_expire(rim, 100 * MS, on_answer, &a), 1);
    ck_assert_uint_eq(a.id[0], slow);
    ck_assert_int_eq(a.status[0], LEASE_ETIMEDOUT);
    ck_assert_uint_eq(readindex_expire(rim, 10000 * MS, on_answer, &a), 1);
    ck_assert_uint_eq(a.id[1], later);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.timeouts, 2);
    ck_assert_uint_eq(s.pending, 1); /* no deadline: still waiting */
    ck_assert_uint_eq(s.completed, 0);
    drop(rim);
}
END_TEST

START_TEST(served_reads_are_counted_by_path)
{
    struct readindex_manager *rim = make(8);
    readindex_record(rim, READINDEX_PATH_FAST, 1000);
    readindex_record(rim, READINDEX_PATH_FAST, 3000);
    readindex_record(rim, READINDEX_PATH_SERIALIZABLE, 10);
    readindex_record(rim, READINDEX_PATH_COUNT, 10); /* ignored */
    struct answers a = {0};
    uint64_t f = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, f, READINDEX_PATH_FOLLOWER, 0, 0, NULL),
                     0);
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 1);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 4), 1);
    ck_assert_uint_eq(readindex_on_applied(rim, 4, 2 * MS, on_answer, &a), 1);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.fast_path, 2);
    ck_assert_uint_eq(s.forwarded, 1);
    ck_assert_uint_eq(s.serializable, 1);
    ck_assert_uint_eq(s.slow_path, 0);
    ck_assert_uint_eq(s.completed, 4);
    const struct lease_hist *h = readindex_latency(rim, READINDEX_PATH_FAST);
    ck_assert_uint_eq(h->count, 2);
    ck_assert_uint_eq(lease_hist_quantile(h, 1.0), 3000);
    h = readindex_latency(rim, READINDEX_PATH_FOLLOWER);
    ck_assert_uint_eq(h->count, 1);
    uint64_t p50 = lease_hist_quantile(h, 0.5);
    ck_assert(p50 >= 2 * MS - 2 * MS / 64 && p50 <= 2 * MS);
    ck_assert_str_eq(readindex_path_name(READINDEX_PATH_FOLLOWER), "follower");
    ck_assert_str_eq(readindex_path_name(READINDEX_PATH_COUNT), "?");
    drop(rim);
}
END_TEST

START_TEST(mixed_workload_answers_every_read_once)
{
    struct readindex_manager *rim = make(64);
    struct answers a = {0};
    uint64_t ids[40];
    raft_index commit = 100, applied = 95;
    readindex_on_applied(rim, applied, 0, on_answer, &a);
    for (int i = 0; i < 40; i++) {
        ids[i] = readindex_next_id(rim);
        enum readindex_path p = i % 3 == 0   ? READINDEX_PATH_FAST
                                : i % 3 == 1 ? READINDEX_PATH_SLOW
                                             : READINDEX_PATH_FOLLOWER;
        ck_assert_int_eq(
            readindex_add(rim, ids[i], p, (uint64_t)i, i == 39 ? 10 : 0, NULL),
            0);
        if (p == READINDEX_PATH_FAST)
            ck_assert_int_eq(readindex_fast_path(rim, ids[i], commit), 0);
        if (i % 10 == 9) { /* a ready batch every ten reads */
            uint64_t ctx;
            size_t n = readindex_take_batch(rim, &ctx, NULL, 0);
            ck_assert_uint_gt(n, 0);
            ck_assert_uint_eq(readindex_on_read_state(rim, ctx, commit), n);
            commit += 2;
        }
        if (i == 20)
            ck_assert_int_eq(readindex_cancel(rim, ids[i]), 0);
    }
    ck_assert_uint_eq(readindex_expire(rim, 10, on_answer, &a), 1);
    ck_assert_uint_eq(readindex_on_applied(rim, commit, 50, on_answer, &a), 38);
    for (int i = 0; i < 40; i++) {
        int k = answer_of(&a, ids[i]);
        if (i == 20)
            ck_assert_int_eq(k, -1);
        else
            ck_assert_int_ge(k, 0);
    }
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, 0);
    ck_assert_uint_eq(s.added, 40);
    ck_assert_uint_eq(s.cancelled, 1);
    ck_assert_uint_eq(s.timeouts, 1);
    ck_assert_uint_eq(s.completed, 38);
    ck_assert_uint_eq(s.fast_path + s.slow_path + s.forwarded, 38);
    ck_assert_uint_eq(s.rounds, 4);
    drop(rim);
}
END_TEST

START_TEST(request_ids_grow_and_are_never_reused)
{
    struct readindex_manager *rim = make(4);
    uint64_t prev = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t id = readindex_next_id(rim);
        ck_assert_uint_gt(id, prev);
        prev = id;
        ck_assert_int_eq(
            readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL), 0);
        ck_assert_int_eq(readindex_cancel(rim, id), 0); /* slot reused */
    }
    ck_assert_uint_eq(prev, 1000);
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL),
                     LEASE_EEXIST);
    ck_assert_int_eq(readindex_add(rim, 0, READINDEX_PATH_SLOW, 0, 0, NULL),
                     LEASE_EINVAL);
    ck_assert_int_eq(
        readindex_add(rim, id + 1, READINDEX_PATH_COUNT, 0, 0, NULL),
        LEASE_EINVAL);
    drop(rim);
}
END_TEST

START_TEST(late_read_state_for_old_ctx_is_ignored)
{
    struct readindex_manager *rim = make(8);
    struct answers a = {0};
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(
        readindex_add(rim, id, READINDEX_PATH_FOLLOWER, 0, 0, NULL), 0);
    uint64_t old = 0, fresh = 0;
    ck_assert_uint_eq(readindex_take_batch(rim, &old, NULL, 0), 1);
    /* The leader changed: the read is retried under a fresh ctx. */
    ck_assert_uint_eq(readindex_retry_all(rim), 1);
    ck_assert_uint_eq(readindex_take_batch(rim, &fresh, NULL, 0), 1);
    ck_assert_uint_ne(fresh, old);
    /* The old leader's late answer carries a stale index: ignored. */
    ck_assert_uint_eq(readindex_on_read_state(rim, old, 3), 0);
    ck_assert_uint_eq(readindex_on_applied(rim, 3, 0, on_answer, &a), 0);
    /* An unknown ctx and ctx 0 change nothing either. */
    ck_assert_uint_eq(readindex_on_read_state(rim, fresh + 100, 3), 0);
    ck_assert_uint_eq(readindex_on_read_state(rim, 0, 3), 0);
    ck_assert_uint_eq(readindex_on_read_state(rim, fresh, 8), 1);
    ck_assert_uint_eq(readindex_on_applied(rim, 7, 0, on_answer, &a), 0);
    ck_assert_uint_eq(readindex_on_applied(rim, 8, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.index[0], 8);
    /* and a duplicate answer for a finished round is ignored too */
    ck_assert_uint_eq(readindex_on_read_state(rim, fresh, 8), 0);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.stale_read_states, 4);
    drop(rim);
}
END_TEST

START_TEST(ctx_numbers_start_above_ctx_base)
{
    struct readindex_manager rim;
    ck_assert_int_eq(readindex_init(&rim, 2, 5000), 0);
    ck_assert_int_eq(readindex_add(&rim, 1, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    uint64_t ctx = 0;
    ck_assert_uint_eq(readindex_take_batch(&rim, &ctx, NULL, 0), 1);
    ck_assert_uint_gt(ctx, 5000);
    readindex_close(&rim);
}
END_TEST

START_TEST(queue_bound_gives_exhausted_code)
{
    struct readindex_manager *rim = make(3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(readindex_add(rim, readindex_next_id(rim),
                                       READINDEX_PATH_SLOW, 0, 0, NULL),
                         0);
    uint64_t id = readindex_next_id(rim);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL),
                     LEASE_EEXHAUSTED);
    ck_assert_int_eq(readindex_lookup(rim, id, &(struct readindex_info){0}),
                     LEASE_ENOTFOUND);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.rejected, 1);
    ck_assert_uint_eq(s.pending, 3);
    /* room again once one leaves */
    ck_assert_int_eq(readindex_cancel(rim, 1), 0);
    ck_assert_int_eq(readindex_cancel(rim, 1), LEASE_ENOTFOUND);
    ck_assert_int_eq(readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    drop(rim);
}
END_TEST

START_TEST(fail_all_answers_every_pending_read)
{
    struct readindex_manager *rim = make(16);
    struct answers a = {0};
    uint64_t ids[6];
    for (int i = 0; i < 6; i++) {
        ids[i] = readindex_next_id(rim);
        ck_assert_int_eq(
            readindex_add(rim, ids[i],
                          i < 2 ? READINDEX_PATH_FAST : READINDEX_PATH_SLOW, 0,
                          0, NULL),
            0);
    }
    ck_assert_int_eq(readindex_fast_path(rim, ids[0], 50), 0); /* indexed */
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 4);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 50), 4);
    ck_assert_int_eq(readindex_add(rim, readindex_next_id(rim),
                                   READINDEX_PATH_SLOW, 0, 0, NULL),
                     0); /* not yet in a round */
    ck_assert_uint_eq(readindex_fail_all(rim, LEASE_ENOTLEADER, on_answer, &a),
                      7);
    ck_assert_uint_eq(a.n, 7);
    for (size_t i = 0; i < a.n; i++)
        ck_assert_int_eq(a.status[i], LEASE_ENOTLEADER);
    for (int i = 0; i < 6; i++)
        ck_assert_int_ge(answer_of(&a, ids[i]), 0);
    /* nothing left to answer later */
    ck_assert_uint_eq(readindex_on_applied(rim, 100, 0, on_answer, &a), 0);
    ck_assert_uint_eq(readindex_fail_all(rim, 0, on_answer, &a), 0);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.failed, 7);
    ck_assert_uint_eq(s.pending, 0);
    /* a "success" status is never passed through as success */
    ck_assert_int_eq(readindex_add(rim, 500, READINDEX_PATH_SLOW, 0, 0, NULL),
                     0);
    ck_assert_uint_eq(readindex_fail_all(rim, 0, on_answer, &a), 1);
    ck_assert_int_eq(a.status[7], LEASE_EUNAVAILABLE);
    drop(rim);
}
END_TEST

START_TEST(fast_path_takes_read_out_of_its_round)
{
    struct readindex_manager *rim = make(4);
    struct answers a = {0};
    ck_assert_int_eq(readindex_add(rim, 1, READINDEX_PATH_SLOW, 0, 0, NULL), 0);
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 1);
    ck_assert_int_eq(readindex_fast_path(rim, 1, 30), 0);
    ck_assert_uint_eq(readindex_on_read_state(rim, ctx, 99), 0);
    ck_assert_uint_eq(readindex_on_applied(rim, 30, 0, on_answer, &a), 1);
    ck_assert_uint_eq(a.index[0], 30);
    ck_assert_int_eq(readindex_fast_path(rim, 1, 30), LEASE_ENOTFOUND);
    drop(rim);
}
END_TEST

/* A callback that adds a new read while being answered. */
struct reenter {
    struct readindex_manager *rim;
    int added;
};

static void add_on_answer(void *data, uint64_t id, void *user, int status,
                          raft_index index)
{
    struct reenter *re = data;
    if (re->added++ == 0) {
        ck_assert_int_eq(readindex_add(re->rim, readindex_next_id(re->rim),
                                       READINDEX_PATH_SLOW, 0, 0, NULL),
                         0);
    }
}

START_TEST(callback_may_add_reads)
{
    struct readindex_manager *rim = make(1);
    struct reenter re = {rim, 0};
    ck_assert_int_eq(readindex_add(rim, readindex_next_id(rim),
                                   READINDEX_PATH_FAST, 0, 0, NULL),
                     0);
    ck_assert_int_eq(readindex_fast_path(rim, 1, 1), 0);
    /* the only slot is free again by the time the callback runs */
    ck_assert_uint_eq(readindex_on_applied(rim, 1, 0, add_on_answer, &re), 1);
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, 1);
    drop(rim);
}
END_TEST

START_TEST(slow_path_round_trip_with_real_raft)
{
    struct mini *m = mini_create(3);
    ck_assert(mini_elect(m, 1));
    mini_tick(m, MINI_HEARTBEAT_TICK);
    struct readindex_manager *rim = make(8);
    struct answers a = {0};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(readindex_add(rim, readindex_next_id(rim),
                                       READINDEX_PATH_SLOW, m->now_ns, 0, NULL),
                         0);
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), 3);
    ck_assert_int_eq(raft_read_index(m->r[1], ctx, m->now_ns), 0);
    mini_settle(m);
    ck_assert_uint_eq(m->n_reads[1], 1); /* one round for three reads */
    ck_assert_uint_eq(m->reads[1][0].ctx, ctx);
    ck_assert_uint_eq(
        readindex_on_read_state(rim, m->reads[1][0].ctx, m->reads[1][0].index),
        3);
    ck_assert_uint_eq(
        readindex_on_applied(rim, m->applied[1], m->now_ns, on_answer, &a), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(a.status[i], 0);
        ck_assert_uint_eq(a.index[i], raft_commit_index(m->r[1]));
    }
    ck_assert_int_eq(m->errors, 0);
    drop(rim);
    mini_destroy(m);
}
END_TEST

/* Deterministic xorshift, so the sequence replays exactly (no rand()). */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

START_TEST(table_agrees_with_model_under_random_churn)
{
    enum { MAX = 37, IDS = 400 };
    struct readindex_manager *rim = make(MAX);
    static bool pending[IDS + 1];
    memset(pending, 0, sizeof(pending));
    size_t n_pending = 0;
    uint64_t x = 88172645463325252ull;
    for (int step = 0; step < 20000; step++) {
        uint64_t id = next_rand(&x) % IDS + 1;
        int rc;
        if (next_rand(&x) % 2) {
            rc = readindex_add(rim, id, READINDEX_PATH_SLOW, 0, 0, NULL);
            if (pending[id])
                ck_assert_int_eq(rc, LEASE_EEXIST);
            else if (n_pending == MAX)
                ck_assert_int_eq(rc, LEASE_EEXHAUSTED);
            else {
                ck_assert_int_eq(rc, 0);
                pending[id] = true;
                n_pending++;
            }
        } else {
            rc = readindex_cancel(rim, id);
            ck_assert_int_eq(rc, pending[id] ? 0 : LEASE_ENOTFOUND);
            if (pending[id]) {
                pending[id] = false;
                n_pending--;
            }
        }
        if (step % 997 == 0) {
            for (uint64_t k = 1; k <= IDS; k++) {
                struct readindex_info info;
                ck_assert_int_eq(readindex_lookup(rim, k, &info),
                                 pending[k] ? 0 : LEASE_ENOTFOUND);
            }
        }
    }
    struct readindex_stats s;
    readindex_stats(rim, &s);
    ck_assert_uint_eq(s.pending, n_pending);
    /* every read still pending gets exactly one round */
    uint64_t ctx;
    ck_assert_uint_eq(readindex_take_batch(rim, &ctx, NULL, 0), n_pending);
    drop(rim);
}
END_TEST

static Suite *readindex_suite(void)
{
    Suite *s = suite_create("readindex");
    TCase *tc = tcase_create("manager");
    tcase_add_test(tc, new_manager_is_empty);
    tcase_add_test(tc, fast_path_read_answers_once_applied_reaches_commit);
    tcase_add_test(tc, read_waits_until_applied_reaches_its_index);
    tcase_add_test(tc, reads_together_share_one_round_and_ctx);
    tcase_add_test(tc, apply_progress_wakes_only_reads_it_covers);
    tcase_add_test(tc, read_past_deadline_gets_deadline_exceeded);
    tcase_add_test(tc, served_reads_are_counted_by_path);
    tcase_add_test(tc, mixed_workload_answers_every_read_once);
    tcase_add_test(tc, request_ids_grow_and_are_never_reused);
    tcase_add_test(tc, late_read_state_for_old_ctx_is_ignored);
    tcase_add_test(tc, ctx_numbers_start_above_ctx_base);
    tcase_add_test(tc, queue_bound_gives_exhausted_code);
    tcase_add_test(tc, fail_all_answers_every_pending_read);
    tcase_add_test(tc, fast_path_takes_read_out_of_its_round);
    tcase_add_test(tc, callback_may_add_reads);
    tcase_add_test(tc, slow_path_round_trip_with_real_raft);
    tcase_add_test(tc, table_agrees_with_model_under_random_churn);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(readindex_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
