/*
 * test_read_queue.c - the parked reads of a real metastored (issue 5, item
 * 2; server/reads.c): the bound server.max_pending_reads answers one more
 * read RESOURCE_EXHAUSTED at once while the server keeps serving; a client
 * that closes its connection takes its parked reads with it at once (the
 * pending count in Status and /metrics falls to 0 long before any
 * deadline, and the slots are free again); a read past its deadline gets
 * DEADLINE_EXCEEDED; reads that arrive together share one ReadIndex round.
 *
 * Reads are made to wait without timing tricks: the node's initial
 * cluster has three members of which only it runs, so it never learns a
 * leader and a linearizable read waits (for a leader, then a round) until
 * its deadline, set far away (30 s) where a test needs it to stay parked.
 * The batching case runs a one-node cluster with the lease off, so every
 * linearizable read needs a ReadIndex round.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/metastore.h"
#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/raw.h"
#include "test/e2e/helpers/scrape.h"

#define MAX_READS 8

static struct e2e_server srv;

static void start_leaderless(const char *timeout)
{
    static char cluster[256], timeout_flag[64];
    e2e_server_init(&srv);
    snprintf(cluster, sizeof cluster,
             "1=127.0.0.1:%u@127.0.0.1:%u,2=127.0.0.1:%u@127.0.0.1:%u,"
             "3=127.0.0.1:%u@127.0.0.1:%u",
             srv.peer_port, srv.client_port, e2e_free_port(), e2e_free_port(),
             e2e_free_port(), e2e_free_port());
    snprintf(timeout_flag, sizeof timeout_flag, "server.request_timeout=%s",
             timeout);
    const char *extra[] = {"--node-id",
                           "1",
                           "--initial-cluster",
                           cluster,
                           "--set",
                           timeout_flag,
                           "--set",
                           "server.max_pending_reads=8",
                           NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void setup_parked(void)
{
    start_leaderless("30s");
}

static void setup_short_deadline(void)
{
    start_leaderless("300ms");
}

static void setup_single_readindex(void)
{
    e2e_server_init(&srv);
    static const char *extra[] = {"--set", "lease_read.enable=false", "--set",
                                  "lease_read.read_mode=readindex", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

/* Stops the server with SIGTERM, so that a sanitizer build checks for leaks
 * on exit, and fails on any sanitizer report in its log. */
static void teardown(void)
{
    e2e_server_stop(&srv, SIGTERM, 10000);
    bool report = e2e_server_log_contains(&srv, "AddressSanitizer") ||
                  e2e_server_log_contains(&srv, "LeakSanitizer") ||
                  e2e_server_log_contains(&srv, "runtime error:");
    if (report) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "tail -n 60 %s >&2", srv.log_path);
        (void)system(cmd);
    }
    e2e_server_cleanup(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

/* The node's read statistics through the client library. */
static struct ms_read_stats read_stats(void)
{
    const char *ep[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 2000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(ep, 1, &o, &c), 0);
    struct ms_result *r = NULL;
    int rv = ms_status(c, &r);
    ck_assert_msg(rv == 0, "status: %s", ms_strerror(rv));
    struct ms_read_stats rs = r->status_info.read_stats;
    ms_result_free(r);
    ms_client_close(c);
    return rs;
}

/* Polls Status until pending_reads == want; returns how long it took (ms),
 * or fails at the deadline. */
static uint64_t wait_pending(uint64_t want, int timeout_ms)
{
    uint64_t start = e2e_now_ms();
    for (;;) {
        struct ms_read_stats rs = read_stats();
        if (rs.pending_reads == want) {
            return e2e_now_ms() - start;
        }
        ck_assert_msg(e2e_now_ms() - start < (uint64_t)timeout_ms,
                      "pending_reads is %llu after %d ms, want %llu",
                      (unsigned long long)rs.pending_reads, timeout_ms,
                      (unsigned long long)want);
        usleep(5000);
    }
}

/* Sends n linearizable reads of "k" with ids first.. in one write. */
static void send_reads(int fd, uint64_t first, int n)
{
    uint8_t buf[64 * 64];
    size_t len = 0;
    ck_assert_int_le(n, 64);
    for (int i = 0; i < n; i++) {
        size_t k = raw_frame_range(buf + len, sizeof buf - len,
                                   first + (uint64_t)i, "k", false);
        ck_assert_uint_gt(k, 0);
        len += k;
    }
    ck_assert_int_eq(raw_send(fd, buf, len), 0);
}

/* The value of a /metrics sample ("name value" line), or -1. */
static double metric(const char *name)
{
    return e2e_metric(srv.admin_port, name);
}

START_TEST(reads_past_max_pending_reads_get_resource_exhausted_at_once)
{
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    send_reads(fd, 1, MAX_READS);
    wait_pending(MAX_READS, 5000);

    /* One more: refused at once, long before its 30 s deadline. */
    uint64_t t0 = e2e_now_ms();
    send_reads(fd, 100, 1);
    struct raw_reply r;
    ck_assert_int_eq(raw_read_reply(fd, &r), 0);
    ck_assert_uint_eq(r.id, 100);
    ck_assert_msg(r.status == METASTORE__STATUS_CODE__RESOURCE_EXHAUSTED,
                  "status %d: %s", r.status, r.message);
    ck_assert_ptr_nonnull(strstr(r.message, "max_pending_reads"));
    ck_assert_uint_lt(e2e_now_ms() - t0, 2000);

    /* The server keeps serving: Ping and a serializable read on another
     * connection are answered while the 8 reads stay parked. */
    int fd2 = e2e_connect(srv.client_port);
    uint8_t buf[256];
    size_t len = raw_frame_ping(buf, sizeof buf, 7);
    len += raw_frame_range(buf + len, sizeof buf - len, 8, "k", true);
    ck_assert_int_eq(raw_send(fd2, buf, len), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(raw_read_reply(fd2, &r), 0);
        ck_assert_msg(r.status == 0, "request %llu: status %d: %s",
                      (unsigned long long)r.id, r.status, r.message);
    }
    /* ... and another linearizable read is refused too, on any connection */
    send_reads(fd2, 9, 1);
    ck_assert_int_eq(raw_read_reply(fd2, &r), 0);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__RESOURCE_EXHAUSTED);

    struct ms_read_stats rs = read_stats();
    ck_assert_uint_eq(rs.pending_reads, MAX_READS);
    ck_assert_uint_eq(rs.rejected_reads, 2);
    ck_assert_int_eq((int)metric("metastore_reads_pending"), MAX_READS);
    ck_assert_int_eq((int)metric("metastore_reads_rejected_total"), 2);
    close(fd2);
    close(fd);
}
END_TEST

START_TEST(closing_a_connection_cancels_its_parked_reads_at_once)
{
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    send_reads(fd, 1, MAX_READS);
    /* A write waiting for a leader goes with them (never proposed). */
    uint8_t buf[128];
    size_t len = raw_frame_put(buf, sizeof buf, 50, "k", "v");
    ck_assert_int_eq(raw_send(fd, buf, len), 0);
    wait_pending(MAX_READS, 5000);

    close(fd);
    /* Gone at once: far below the 30 s request timeout. */
    uint64_t took = wait_pending(0, 3000);
    struct ms_read_stats rs = read_stats();
    ck_assert_uint_eq(rs.cancelled_reads, MAX_READS);
    ck_assert_uint_eq(rs.read_timeouts, 0);
    ck_assert_int_eq((int)metric("metastore_reads_cancelled_total"),
                     MAX_READS);
    ck_assert_int_eq((int)metric("metastore_reads_pending"), 0);

    /* Their slots are free again: another client parks as many reads,
     * none refused. */
    fd = e2e_connect(srv.client_port);
    send_reads(fd, 1, MAX_READS);
    wait_pending(MAX_READS, 5000);
    rs = read_stats();
    ck_assert_uint_eq(rs.rejected_reads, 0);
    close(fd);
    wait_pending(0, 3000);
    fprintf(stderr, "cancelled %d parked reads in %llu ms\n", MAX_READS,
            (unsigned long long)took);
}
END_TEST

START_TEST(read_past_its_deadline_gets_deadline_exceeded)
{
    int fd = e2e_connect(srv.client_port);
    uint64_t t0 = e2e_now_ms();
    send_reads(fd, 1, 3);
    for (int i = 0; i < 3; i++) {
        struct raw_reply r;
        ck_assert_int_eq(raw_read_reply(fd, &r), 0);
        ck_assert_msg(r.status == METASTORE__STATUS_CODE__DEADLINE_EXCEEDED,
                      "read %llu: status %d: %s", (unsigned long long)r.id,
                      r.status, r.message);
    }
    ck_assert_uint_ge(e2e_now_ms() - t0, 290);
    struct ms_read_stats rs = read_stats();
    ck_assert_uint_eq(rs.read_timeouts, 3);
    ck_assert_uint_eq(rs.pending_reads, 0);
    close(fd);
}
END_TEST

START_TEST(reads_that_arrive_together_share_one_readindex_round)
{
    /* a value to read, through the client library */
    const char *ep[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 3000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(ep, 1, &o, &c), 0);
    struct ms_result *res = NULL;
    ck_assert_int_eq(ms_put(c, "k", 1, "v", 1, 0, false, &res), 0);
    ms_result_free(res);
    ms_client_close(c);

    struct ms_read_stats before = read_stats();
    enum { N = 48 };
    int fd = e2e_connect(srv.client_port);
    send_reads(fd, 1, N); /* one write: one read callback on the server */
    for (int i = 0; i < N; i++) {
        struct raw_reply r;
        ck_assert_int_eq(raw_read_reply(fd, &r), 0);
        ck_assert_msg(r.status == 0, "read %llu: status %d: %s",
                      (unsigned long long)r.id, r.status, r.message);
    }
    close(fd);
    struct ms_read_stats after = read_stats();
    uint64_t rounds = after.read_index_rounds - before.read_index_rounds;
    uint64_t carried =
        after.read_index_round_reads - before.read_index_round_reads;
    ck_assert_uint_eq(after.read_index_reads - before.read_index_reads, N);
    ck_assert_uint_eq(carried, N);
    /* Normally exactly 1; a few if TCP split the write. */
    ck_assert_msg(rounds >= 1 && rounds <= 4, "%llu rounds for %d reads",
                  (unsigned long long)rounds, N);
    fprintf(stderr, "%d reads sent together took %llu ReadIndex round(s)\n",
            N, (unsigned long long)rounds);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("read_queue");
    TCase *parked = tcase_create("parked");
    tcase_add_checked_fixture(parked, setup_parked, teardown);
    tcase_set_timeout(parked, 60);
    tcase_add_test(parked,
                   reads_past_max_pending_reads_get_resource_exhausted_at_once);
    tcase_add_test(parked, closing_a_connection_cancels_its_parked_reads_at_once);
    suite_add_tcase(s, parked);

    TCase *deadline = tcase_create("deadline");
    tcase_add_checked_fixture(deadline, setup_short_deadline, teardown);
    tcase_set_timeout(deadline, 30);
    tcase_add_test(deadline, read_past_its_deadline_gets_deadline_exceeded);
    suite_add_tcase(s, deadline);

    TCase *batch = tcase_create("batch");
    tcase_add_checked_fixture(batch, setup_single_readindex, teardown);
    tcase_set_timeout(batch, 30);
    tcase_add_test(batch, reads_that_arrive_together_share_one_readindex_round);
    suite_add_tcase(s, batch);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
