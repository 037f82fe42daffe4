/*
 * test_linearize.c - unit tests of the linearizability checker
 * (test/sim/linearize.h): hand-made histories with a known verdict, a
 * brute-force cross-check on small random histories, and large random
 * histories that must be checked within a small step budget.
 */
#include "test/sim/linearize.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define P LIN_PENDING

static struct lin_op wr(uint32_t client, uint64_t key, uint64_t value,
                        uint64_t call, uint64_t ret)
{
    struct lin_op op = {client, LIN_WRITE, key, value, call, ret};
    return op;
}

static struct lin_op rd(uint32_t client, uint64_t key, uint64_t value,
                        uint64_t call, uint64_t ret)
{
    struct lin_op op = {client, LIN_READ, key, value, call, ret};
    return op;
}

static struct lin_result check_n(const struct lin_op *ops, size_t n,
                                 uint64_t budget)
{
    struct lin_result res;

    memset(&res, 0xa5, sizeof(res));
    ck_assert_int_eq(lin_check(ops, n, budget, &res), 0);
    return res;
}

#define CHECK(ops) check_n((ops), sizeof(ops) / sizeof((ops)[0]), 0)

static void assert_ok(struct lin_result res)
{
    ck_assert_msg(res.linearizable, "unexpected violation: %s", res.msg);
    ck_assert(!res.exhausted);
}

static void assert_violation(struct lin_result res, uint64_t key)
{
    ck_assert_msg(!res.linearizable, "violation not found");
    ck_assert_msg(!res.exhausted, "no verdict: %s", res.msg);
    ck_assert_uint_eq(res.bad_key, key);
    ck_assert_msg(strlen(res.msg) > 0, "empty message");
}

/* ---- hand-made histories ------------------------------------------------ */

START_TEST(empty_history_is_linearizable)
{
    struct lin_result res = check_n(NULL, 0, 0);
    assert_ok(res);
}
END_TEST

START_TEST(sequential_write_then_read_is_linearizable)
{
    struct lin_op ops[] = {
        wr(1, 7, 11, 0, 10),
        rd(2, 7, 11, 20, 30),
        wr(2, 7, 12, 40, 50),
        rd(1, 7, 12, 60, 70),
    };
    assert_ok(CHECK(ops));
}
END_TEST

START_TEST(stale_read_after_acknowledged_write_is_rejected)
{
    struct lin_op ops[] = {
        wr(1, 2, 5, 0, 10),
        wr(1, 2, 7, 20, 30),
        rd(3, 2, 5, 40, 50),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 2);
    ck_assert_msg(strstr(res.msg, "key 2") != NULL, "%s", res.msg);
    ck_assert_msg(strstr(res.msg, "client 3 read -> 5 at [40, 50]") != NULL,
                  "%s", res.msg);
    ck_assert_msg(strstr(res.msg, "write 7") != NULL, "%s", res.msg);
}
END_TEST

START_TEST(read_of_absent_after_acknowledged_write_is_rejected)
{
    struct lin_op ops[] = {
        wr(1, 4, 9, 0, 10),
        rd(2, 4, 0, 11, 12),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 4);
    ck_assert_msg(strstr(res.msg, "read -> 0") != NULL, "%s", res.msg);
}
END_TEST

START_TEST(concurrent_write_and_read_may_see_either_value)
{
    struct lin_op old_seen[] = {
        wr(1, 1, 1, 0, 10),
        wr(1, 1, 2, 20, 40),
        rd(2, 1, 1, 25, 30),
    };
    struct lin_op new_seen[] = {
        wr(1, 1, 1, 0, 10),
        wr(1, 1, 2, 20, 40),
        rd(2, 1, 2, 25, 30),
    };
    assert_ok(CHECK(old_seen));
    assert_ok(CHECK(new_seen));
}
END_TEST

START_TEST(read_of_value_never_written_is_rejected)
{
    struct lin_op ops[] = {
        wr(1, 3, 1, 0, 10),
        rd(2, 3, 99, 5, 15),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 3);
    ck_assert_msg(strstr(res.msg, "never written") != NULL, "%s", res.msg);
}
END_TEST

START_TEST(read_of_value_written_only_later_is_rejected)
{
    struct lin_op ops[] = {
        rd(2, 3, 8, 0, 10),
        wr(1, 3, 8, 20, 30),
    };
    assert_violation(CHECK(ops), 3);
}
END_TEST

START_TEST(pending_write_may_or_may_not_take_effect)
{
    struct lin_op seen[] = {
        wr(1, 1, 5, 10, P),
        rd(2, 1, 5, 20, 30),
    };
    struct lin_op unseen[] = {
        wr(1, 1, 5, 10, P),
        rd(2, 1, 0, 20, 30),
    };
    struct lin_op seen_late[] = {
        wr(1, 1, 5, 10, P),
        rd(2, 1, 0, 20, 30),
        rd(2, 1, 5, 1000, 1010),
    };
    assert_ok(CHECK(seen));
    assert_ok(CHECK(unseen));
    assert_ok(CHECK(seen_late));
}
END_TEST

START_TEST(pending_write_seen_then_unseen_is_rejected)
{
    struct lin_op ops[] = {
        wr(1, 1, 5, 10, P),
        rd(2, 1, 5, 20, 30),
        rd(3, 1, 0, 40, 50),
    };
    assert_violation(CHECK(ops), 1);
}
END_TEST

START_TEST(pending_write_cannot_be_seen_before_its_call)
{
    struct lin_op ops[] = {
        rd(2, 1, 5, 0, 5),
        wr(1, 1, 5, 10, P),
    };
    assert_violation(CHECK(ops), 1);
}
END_TEST

START_TEST(pending_read_is_ignored)
{
    struct lin_op ops[] = {
        wr(1, 1, 5, 0, 10),
        rd(2, 1, 77, 20, P),
    };
    assert_ok(CHECK(ops));
}
END_TEST

START_TEST(violation_on_one_key_is_reported_with_that_key)
{
    struct lin_op ops[] = {
        wr(1, 1, 1, 0, 10),  wr(2, 2, 2, 0, 10),  rd(3, 1, 1, 20, 30),
        wr(1, 2, 3, 20, 30), rd(3, 2, 2, 40, 50), rd(1, 1, 1, 40, 50),
    };
    struct lin_op fine[] = {
        wr(1, 1, 1, 0, 10),
        wr(2, 2, 2, 0, 10),
        rd(3, 1, 1, 20, 30),
        rd(3, 2, 2, 40, 50),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 2);
    ck_assert_msg(strstr(res.msg, "key 2:") == res.msg, "%s", res.msg);
    assert_ok(CHECK(fine));
}
END_TEST

START_TEST(reads_seeing_values_in_opposite_orders_are_rejected)
{
    /* r1 sees the new value 2, then r2, which starts after r1 returned,
     * sees the old value 1 again: no single order explains both. */
    struct lin_op ops[] = {
        wr(1, 9, 1, 0, 10),
        wr(2, 9, 2, 20, 100),
        rd(3, 9, 2, 30, 40),
        rd(4, 9, 1, 50, 60),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 9);
    ck_assert_msg(strstr(res.msg, "client 4 read -> 1") != NULL, "%s", res.msg);
}
END_TEST

START_TEST(value_cannot_come_back_after_concurrent_overwrite)
{
    struct lin_op ops[] = {
        wr(1, 6, 1, 0, 100), wr(2, 6, 2, 0, 100), rd(3, 6, 1, 10, 20),
        rd(4, 6, 2, 30, 40), rd(5, 6, 1, 50, 60),
    };
    struct lin_op twice[] = {
        wr(1, 6, 1, 0, 100), wr(2, 6, 2, 0, 100), wr(6, 6, 1, 0, 100),
        rd(3, 6, 1, 10, 20), rd(4, 6, 2, 30, 40), rd(5, 6, 1, 50, 60),
    };
    struct lin_result res = CHECK(ops);
    assert_violation(res, 6);
    ck_assert_msg(strstr(res.msg, "no linearization") != NULL, "%s", res.msg);
    /* With a second write of 1 the same reads are fine. */
    assert_ok(CHECK(twice));
}
END_TEST

START_TEST(delete_makes_the_key_absent)
{
    struct lin_op ok_ops[] = {
        rd(1, 5, 0, 0, 5),   wr(1, 5, 3, 10, 20), rd(2, 5, 3, 30, 40),
        wr(2, 5, 0, 50, 60), rd(3, 5, 0, 70, 80), wr(3, 5, 4, 90, 95),
        rd(1, 5, 4, 96, 99),
    };
    struct lin_op stale[] = {
        wr(1, 5, 3, 10, 20),
        wr(2, 5, 0, 50, 60),
        rd(3, 5, 3, 70, 80),
    };
    struct lin_op concurrent_delete[] = {
        wr(1, 5, 3, 10, 20),
        wr(2, 5, 0, 50, 60),
        rd(3, 5, 3, 55, 58),
        rd(3, 5, 0, 59, 70),
    };
    assert_ok(CHECK(ok_ops));
    assert_violation(CHECK(stale), 5);
    assert_ok(CHECK(concurrent_delete));
}
END_TEST

START_TEST(return_and_call_at_equal_times_are_not_concurrent)
{
    struct lin_op stale[] = {
        wr(1, 1, 1, 0, 10),
        rd(2, 1, 0, 10, 20),
    };
    struct lin_op instant_read[] = {
        wr(1, 1, 1, 0, 10),
        rd(2, 1, 1, 10, 10),
    };
    struct lin_op instant_stale[] = {
        wr(1, 1, 1, 0, 10),
        rd(2, 1, 0, 10, 10),
    };
    assert_violation(CHECK(stale), 1);
    assert_ok(CHECK(instant_read));
    assert_violation(CHECK(instant_stale), 1);
}
END_TEST

START_TEST(tiny_budget_gives_no_verdict)
{
    struct lin_op ops[] = {
        wr(1, 1, 1, 0, 10), wr(2, 1, 2, 0, 10),  rd(3, 1, 2, 0, 10),
        rd(4, 1, 1, 0, 10), wr(1, 1, 3, 20, 30), rd(2, 1, 3, 40, 50),
    };
    struct lin_result res = check_n(ops, sizeof(ops) / sizeof(ops[0]), 2);
    ck_assert(!res.linearizable);
    ck_assert(res.exhausted);
    ck_assert_uint_eq(res.bad_key, 1);
    assert_ok(CHECK(ops));
}
END_TEST

/* ---- random histories --------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

/* a must be ordered before b: the checker's conservative reading of time. */
static int precedes(const struct lin_op *a, const struct lin_op *b)
{
    return a->ret != P &&
           (a->ret < b->call || (a->ret == b->call && a->call < a->ret));
}

/* Does some order of the not yet placed operations work from `state`? */
static int brute_from(const struct lin_op *ops, size_t n, unsigned placed,
                      uint64_t state)
{
    size_t i, j;
    int all_done = 1;

    for (i = 0; i < n; i++) {
        if (!(placed & (1u << i)) && ops[i].ret != P) {
            all_done = 0;
        }
    }
    if (all_done) {
        return 1; /* pending writes left over simply never happened */
    }
    for (i = 0; i < n; i++) {
        int blocked = 0;
        if (placed & (1u << i)) {
            continue;
        }
        for (j = 0; j < n && !blocked; j++) {
            blocked = !(placed & (1u << j)) && precedes(&ops[j], &ops[i]);
        }
        if (blocked) {
            continue;
        }
        if (ops[i].kind == LIN_READ) {
            if (ops[i].value == state &&
                brute_from(ops, n, placed | (1u << i), state)) {
                return 1;
            }
        } else if (brute_from(ops, n, placed | (1u << i), ops[i].value)) {
            return 1;
        }
    }
    return 0;
}

START_TEST(agrees_with_brute_force_on_small_histories)
{
    uint64_t seed = 12345;
    int round, found[2] = {0, 0};

    for (round = 0; round < 20000; round++) {
        struct lin_op ops[7];
        size_t i, n = 1 + rng_below(&seed, 7);
        for (i = 0; i < n; i++) {
            uint64_t call = rng_below(&seed, 12);
            uint64_t len = rng_below(&seed, 6);
            uint64_t value = rng_below(&seed, 4);
            if (rng_below(&seed, 2)) {
                ops[i] = rd((uint32_t)i, 1, value, call, call + len);
            } else {
                ops[i] = wr((uint32_t)i, 1, value, call,
                            rng_below(&seed, 5) == 0 ? P : call + len);
            }
        }
        int want = brute_from(ops, n, 0, 0);
        struct lin_result res = check_n(ops, n, 0);
        ck_assert_msg(!res.exhausted, "round %d: %s", round, res.msg);
        ck_assert_msg(res.linearizable == (want != 0),
                      "round %d: checker says %d, brute force %d (%s)", round,
                      res.linearizable, want, res.msg);
        found[want]++;
    }
    /* Both verdicts must have been exercised plenty. */
    ck_assert_int_gt(found[0], 2000);
    ck_assert_int_gt(found[1], 2000);
}
END_TEST

/*
 * A linearizable history made by running a real register: clients issue
 * operations one after another, each takes effect at a random point strictly
 * inside its interval, and reads return what the register held there.  A
 * pending write took effect at a random later point or never; its client
 * gave up on it after a timeout.  Values written are unique.
 */
static size_t gen_history(struct lin_op *ops, size_t n, uint64_t keys,
                          uint32_t clients, unsigned pending_pct, uint64_t seed)
{
    uint64_t *free_at = calloc(clients, sizeof(*free_at));
    uint64_t *point = calloc(n, sizeof(*point));
    size_t *order = calloc(n, sizeof(*order));
    uint64_t *reg = calloc(keys, sizeof(*reg));
    size_t i, j;

    ck_assert(free_at && point && order && reg);
    for (i = 0; i < n; i++) {
        uint32_t c = (uint32_t)rng_below(&seed, clients);
        uint64_t key = rng_below(&seed, keys);
        uint64_t call = free_at[c] + rng_below(&seed, 10);
        uint64_t ret = call + 2 + rng_below(&seed, 30);
        point[i] = call + 1 + rng_below(&seed, ret - call - 1);
        if (rng_below(&seed, 2)) {
            ops[i] = rd(c, key, 0, call, ret);
        } else {
            ops[i] = wr(c, key, i + 1, call, ret);
            if (rng_below(&seed, 100) < pending_pct) {
                ops[i].ret = P;
                ret = call + 40; /* the client's timeout */
                point[i] = rng_below(&seed, 2)
                               ? UINT64_MAX
                               : call + 1 + rng_below(&seed, 80);
            }
        }
        free_at[c] = ret;
        order[i] = i;
    }
    /* Insertion sort by effect point; ties keep generation order. */
    for (i = 1; i < n; i++) {
        size_t x = order[i];
        for (j = i; j > 0 && point[order[j - 1]] > point[x]; j--) {
            order[j] = order[j - 1];
        }
        order[j] = x;
    }
    for (i = 0; i < n; i++) {
        struct lin_op *op = &ops[order[i]];
        if (point[order[i]] == UINT64_MAX) {
            continue;
        }
        if (op->kind == LIN_READ) {
            op->value = reg[op->key];
        } else {
            reg[op->key] = op->value;
        }
    }
    free(free_at);
    free(point);
    free(order);
    free(reg);
    return n;
}

/* Makes one read stale: it returns a value that two acknowledged writes
 * before it had already replaced.  Returns the key touched. */
static uint64_t corrupt_stale(struct lin_op *ops, size_t n)
{
    size_t r, a, b;

    for (r = n; r-- > 0;) {
        if (ops[r].kind != LIN_READ) {
            continue;
        }
        for (b = 0; b < n; b++) {
            if (ops[b].kind != LIN_WRITE || ops[b].key != ops[r].key ||
                ops[b].ret == P || ops[b].ret >= ops[r].call) {
                continue;
            }
            for (a = 0; a < n; a++) {
                if (ops[a].kind == LIN_WRITE && ops[a].key == ops[r].key &&
                    ops[a].ret != P && ops[a].ret < ops[b].call &&
                    ops[a].value != ops[r].value) {
                    ops[r].value = ops[a].value;
                    return ops[r].key;
                }
            }
        }
    }
    ck_abort_msg("no read to corrupt");
    return 0;
}

/* Appends, after everything else on `key`, reads that see two concurrent
 * writes as 1, 2, 1: each write takes effect once, so the value cannot come
 * back.  The quick read checks cannot tell; only the search can.
 * Returns the new count. */
static size_t append_ping_pong(struct lin_op *ops, size_t n, uint64_t key)
{
    uint64_t t = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t end = ops[i].ret == P ? ops[i].call + 200 : ops[i].ret;
        t = end > t ? end : t;
    }
    ops[n++] = wr(100, key, 1000001, t + 10, t + 100);
    ops[n++] = wr(101, key, 1000002, t + 10, t + 100);
    ops[n++] = rd(102, key, 1000001, t + 20, t + 30);
    ops[n++] = rd(103, key, 1000002, t + 40, t + 50);
    ops[n++] = rd(104, key, 1000001, t + 60, t + 70);
    return n;
}

START_TEST(large_random_history_passes_and_corruption_is_found)
{
    enum { N = 2000 };
    static struct lin_op ops[N + 5], copy[N + 5];
    struct lin_result res;
    uint64_t key;
    size_t n;

    /* 50 000 steps per key is about 25 steps per operation: fast. */
    n = gen_history(ops, N, 5, 8, 10, 42);
    memcpy(copy, ops, sizeof(ops));
    res = check_n(ops, n, 50000);
    assert_ok(res);

    key = corrupt_stale(copy, n);
    res = check_n(copy, n, 50000);
    assert_violation(res, key);

    memcpy(copy, ops, sizeof(ops));
    n = append_ping_pong(copy, N, 3);
    res = check_n(copy, n, 200000);
    assert_violation(res, 3);
    ck_assert_msg(strstr(res.msg, "client 104 read -> 1000001") != NULL, "%s",
                  res.msg);
}
END_TEST

START_TEST(many_random_histories_pass)
{
    static struct lin_op ops[400];
    uint64_t seed;

    for (seed = 1; seed <= 300; seed++) {
        size_t n = gen_history(ops, 400, 1 + seed % 7, 2 + seed % 9,
                               (unsigned)(seed % 40), seed);
        struct lin_result res = check_n(ops, n, 100000);
        ck_assert_msg(res.linearizable, "seed %llu: %s",
                      (unsigned long long)seed, res.msg);
    }
}
END_TEST

START_TEST(many_pending_writes_on_one_key_stay_fast)
{
    enum { N = 500 };
    static struct lin_op ops[N + 5], copy[N + 5];
    struct lin_result res;
    size_t i, n, pending = 0;

    n = gen_history(ops, N, 1, 8, 20, 7);
    for (i = 0; i < n; i++) {
        pending += ops[i].ret == P;
    }
    ck_assert_uint_ge(pending, 40);
    res = check_n(ops, n, 20000);
    assert_ok(res);

    memcpy(copy, ops, sizeof(ops));
    corrupt_stale(copy, n);
    assert_violation(check_n(copy, n, 20000), 0);

    memcpy(copy, ops, sizeof(ops));
    n = append_ping_pong(copy, N, 0);
    assert_violation(check_n(copy, n, 200000), 0);
}
END_TEST

START_TEST(all_writes_pending_and_observed_stays_fast)
{
    /* Every write times out, yet reads see them: the hardest shape for a
     * search where pending writes could take effect at any later time. */
    enum { N = 500 };
    static struct lin_op ops[N];
    size_t n = gen_history(ops, N, 1, 8, 100, 99);
    assert_ok(check_n(ops, n, 20000));
}
END_TEST

static Suite *linearize_suite(void)
{
    Suite *s = suite_create("linearize");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, empty_history_is_linearizable);
    tcase_add_test(tc, sequential_write_then_read_is_linearizable);
    tcase_add_test(tc, stale_read_after_acknowledged_write_is_rejected);
    tcase_add_test(tc, read_of_absent_after_acknowledged_write_is_rejected);
    tcase_add_test(tc, concurrent_write_and_read_may_see_either_value);
    tcase_add_test(tc, read_of_value_never_written_is_rejected);
    tcase_add_test(tc, read_of_value_written_only_later_is_rejected);
    tcase_add_test(tc, pending_write_may_or_may_not_take_effect);
    tcase_add_test(tc, pending_write_seen_then_unseen_is_rejected);
    tcase_add_test(tc, pending_write_cannot_be_seen_before_its_call);
    tcase_add_test(tc, pending_read_is_ignored);
    tcase_add_test(tc, violation_on_one_key_is_reported_with_that_key);
    tcase_add_test(tc, reads_seeing_values_in_opposite_orders_are_rejected);
    tcase_add_test(tc, value_cannot_come_back_after_concurrent_overwrite);
    tcase_add_test(tc, delete_makes_the_key_absent);
    tcase_add_test(tc, return_and_call_at_equal_times_are_not_concurrent);
    tcase_add_test(tc, tiny_budget_gives_no_verdict);
    tcase_add_test(tc, agrees_with_brute_force_on_small_histories);
    tcase_add_test(tc, large_random_history_passes_and_corruption_is_found);
    tcase_add_test(tc, many_random_histories_pass);
    tcase_add_test(tc, many_pending_writes_on_one_key_stay_fast);
    tcase_add_test(tc, all_writes_pending_and_observed_stays_fast);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(linearize_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
