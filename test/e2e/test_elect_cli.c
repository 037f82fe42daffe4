/*
 * test_elect_cli.c - `metastore-cli elect` against one real metastored:
 * among several campaigning cli processes exactly one is leader (the one
 * whose key has the lowest create revision); a leader interrupted with
 * SIGINT resigns and the next candidate leads at once (well inside the
 * lease TTL); a leader killed with -9 is replaced only once its lease has
 * expired; `elect -l` prints each leader change; a leader whose lease is
 * revoked says so and exits 1; usage errors exit 2.  `elect -l` also prints
 * a proclamation (the leader's key put with a new value).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cliproc.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"

static struct e2e_server srv;
static char out[8192], err[4096];
static char tmp[256];

#define CLI(...)                                                               \
    e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err,              \
            (const char *const[]){__VA_ARGS__, NULL})

static void setup(void)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "ttl.min_ttl=1s", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    e2e_tmpdir_create(tmp, sizeof tmp, "elect");
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    e2e_tmpdir_remove(tmp);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

static void campaign(struct cliproc *p, const char *tag, const char *ttl,
                     const char *name, const char *proposal)
{
    cliproc_start(p, tmp, tag, srv.endpoint,
                  (const char *const[]){"elect", ttl, name, proposal, NULL});
}

/* Number of keys under prefix (keys-only lines). */
static int count_keys(const char *prefix)
{
    ck_assert_int_eq(CLI("get", prefix, "--prefix", "--keys-only"), 0);
    int n = 0;
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++) {
        n += p[1] == '\n' ? 1 : 0; /* a key line is followed by a blank */
    }
    return n;
}

static void wait_keys(const char *prefix, int n)
{
    uint64_t deadline = e2e_now_ms() + 10000;
    while (count_keys(prefix) != n && e2e_now_ms() < deadline) {
        usleep(20000); /* campaigners are still starting */
    }
    ck_assert_int_eq(count_keys(prefix), n);
}

/* The oldest key under prefix (the rightful leader), into key. */
static void oldest_key(const char *prefix, char *key, size_t cap)
{
    ck_assert_int_eq(CLI("get", prefix, "--prefix", "--keys-only",
                         "--sort-by=CREATE", "--order=ASCEND", "--limit=1"),
                     0);
    char *nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    ck_assert_uint_lt(strlen(out), cap);
    memcpy(key, out, strlen(out) + 1);
}

/* Waits until exactly one of p[0..n) (skipping NULL pid) printed
 * anything; returns its index, or -1 at the deadline or when two did. */
static int wait_one_leader(struct cliproc *p, int n, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int leader = -1, count = 0;
        for (int i = 0; i < n; i++) {
            char buf[256];
            if (p[i].pid > 0 && cliproc_out(&p[i], buf, sizeof buf) > 0) {
                leader = i;
                count++;
            }
        }
        if (count == 1) {
            return leader;
        }
        if (count > 1 || e2e_now_ms() >= deadline) {
            return -1;
        }
        usleep(10000); /* until a campaigner prints */
    }
}

/* Checks that p printed "<the oldest key>\n<proposal>\n". */
static void assert_leader_output(struct cliproc *p, const char *prefix,
                                 const char *proposal)
{
    char key[256], want[512], got[512];
    oldest_key(prefix, key, sizeof key);
    snprintf(want, sizeof want, "%s\n%s\n", key, proposal);
    cliproc_out(p, got, sizeof got);
    ck_assert_str_eq(got, want);
}

START_TEST(one_leader_and_sigint_hands_over_at_once)
{
    enum { N = 4 };
    struct cliproc p[N];
    const char *props[N] = {"p0", "p1", "p2", "p3"};
    for (int i = 0; i < N; i++) {
        campaign(&p[i], props[i], "--ttl=30", "job", props[i]);
    }
    wait_keys("job/", N);
    int leader = wait_one_leader(p, N, 5000);
    ck_assert_msg(leader >= 0, "not exactly one leader");
    assert_leader_output(&p[leader], "job/", props[leader]);
    /* Resigning hands over at once, far inside the 30 s TTL, each time to
     * the next oldest candidate, and only to it. */
    for (int round = 1; round < N; round++) {
        uint64_t t0 = e2e_now_ms();
        cliproc_signal(&p[leader], SIGINT);
        ck_assert_int_eq(cliproc_wait_exit(&p[leader], 5000), 0);
        int next = wait_one_leader(p, N, 5000);
        ck_assert_msg(next >= 0 && next != leader,
                      "round %d: no single new leader", round);
        ck_assert_msg(e2e_now_ms() - t0 < 5000, "handover took too long");
        assert_leader_output(&p[next], "job/", props[next]);
        leader = next;
    }
    cliproc_signal(&p[leader], SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&p[leader], 5000), 0);
    ck_assert_int_eq(CLI("get", "job/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(CLI("lease", "list"), 0);
    ck_assert_str_eq(out, "found 0 leases\n");
}
END_TEST

START_TEST(killed_leader_is_replaced_after_its_lease_expires)
{
    struct cliproc a, b;
    campaign(&a, "a", "--ttl=2", "k9", "first");
    ck_assert(cliproc_wait_out(&a, "first\n", 10000));
    campaign(&b, "b", "--ttl=2", "k9", "second");
    wait_keys("k9/", 2);
    cliproc_kill(&a); /* no resignation */
    uint64_t t0 = e2e_now_ms();
    ck_assert_msg(cliproc_wait_out(&b, "second\n", 15000),
                  "the second candidate never led");
    uint64_t took = e2e_now_ms() - t0;
    /* The dead leader's last renewal was at most TTL/3 before the kill,
     * so its lease had at least 2/3 of 2 s left. */
    ck_assert_msg(took >= 1000, "led after %llu ms: before the dead "
                                "leader's lease expired",
                  (unsigned long long)took);
    assert_leader_output(&b, "k9/", "second");
    cliproc_signal(&b, SIGTERM);
    ck_assert_int_eq(cliproc_wait_exit(&b, 5000), 0);
}
END_TEST

START_TEST(listen_prints_each_leader_change)
{
    struct cliproc l, a, b;
    cliproc_start(&l, tmp, "listen", srv.endpoint,
                  (const char *const[]){"elect", "-l", "svc", NULL});
    campaign(&a, "a", "--ttl=30", "svc", "alpha");
    ck_assert(cliproc_wait_out(&a, "alpha\n", 10000));
    ck_assert(cliproc_wait_out(&l, "alpha\n", 5000));
    /* A proclamation: the leader's key gets a new value (same lease). */
    char ka[256], kb[256], lease[64];
    oldest_key("svc/", ka, sizeof ka);
    snprintf(lease, sizeof lease, "--lease=%s", strchr(ka, '/') + 1);
    ck_assert_int_eq(CLI("put", lease, ka, "alpha2"), 0);
    ck_assert(cliproc_wait_out(&l, "alpha2\n", 5000));
    campaign(&b, "b", "--ttl=30", "svc", "beta");
    wait_keys("svc/", 2);
    cliproc_signal(&a, SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&a, 5000), 0);
    ck_assert(cliproc_wait_out(&b, "beta\n", 5000));
    ck_assert(cliproc_wait_out(&l, "beta\n", 5000));
    oldest_key("svc/", kb, sizeof kb);
    /* A listener started now prints the current leader at once. */
    struct cliproc l2;
    cliproc_start(&l2, tmp, "listen2", srv.endpoint,
                  (const char *const[]){"elect", "-l", "svc", NULL});
    ck_assert(cliproc_wait_out(&l2, "beta\n", 5000));
    cliproc_signal(&b, SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&b, 5000), 0);
    char want[1024], got[1024];
    snprintf(want, sizeof want, "%s\nalpha\n%s\nalpha2\n%s\nbeta\n", ka,
             ka, kb);
    cliproc_out(&l, got, sizeof got);
    ck_assert_str_eq(got, want);
    cliproc_signal(&l, SIGINT);
    cliproc_signal(&l2, SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&l, 5000), 0);
    ck_assert_int_eq(cliproc_wait_exit(&l2, 5000), 0);
}
END_TEST

START_TEST(leader_whose_lease_is_revoked_reports_the_loss)
{
    struct cliproc a;
    campaign(&a, "a", "--ttl=30", "rv", "x");
    ck_assert(cliproc_wait_out(&a, "x\n", 10000));
    ck_assert_int_eq(CLI("lease", "list"), 0);
    char *id = strrchr(out, '\n');
    ck_assert_ptr_nonnull(id);
    *id = '\0';
    id = strrchr(out, '\n');
    ck_assert_ptr_nonnull(id);
    char lease[64];
    snprintf(lease, sizeof lease, "%s", id + 1);
    ck_assert_int_eq(CLI("lease", "revoke", lease), 0);
    ck_assert_int_eq(cliproc_wait_exit(&a, 5000), 1);
    ck_assert_msg(cliproc_err_contains(&a, "leadership was lost"),
                  "no loss reported on stderr");
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    ck_assert_int_eq(CLI("elect"), 2);
    ck_assert_int_eq(CLI("elect", "name-only"), 2);
    ck_assert_int_eq(CLI("elect", "-l", "n", "proposal"), 2);
    ck_assert_int_eq(CLI("elect", "--ttl=0", "n", "p"), 2);
    ck_assert_int_eq(CLI("elect", "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "elect [--ttl=SECONDS] NAME PROPOSAL"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elect_cli");
    TCase *tc = tcase_create("elect_cli");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, one_leader_and_sigint_hands_over_at_once);
    tcase_add_test(tc, killed_leader_is_replaced_after_its_lease_expires);
    tcase_add_test(tc, listen_prints_each_leader_change);
    tcase_add_test(tc, leader_whose_lease_is_revoked_reports_the_loss);
    tcase_add_test(tc, usage_errors_exit_2);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
