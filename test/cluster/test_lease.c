/*
 * test_lease.c - the read paths and the leader lease on real clusters of
 * metastored processes (docs/reads.md): only the leader holds a lease; it
 * renews under load and serves reads on the fast path; with the lease off
 * every linearizable read takes a ReadIndex round; read_mode log goes
 * through the log; a one-node cluster uses the fast path; follower reads
 * see the latest acknowledged write; a leader frozen past the election
 * timeout serves nothing stale when it wakes (checked with lin_check); and
 * a leadership transfer ends the old leader's lease and starts the new
 * one's.  Every wait has a deadline; the assertions are on the servers'
 * read counters (Status read_stats) and on the values read.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"

static struct cluster cl;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

/* Starts n nodes with the fast timing plus the flags in `more`
 * (NULL-terminated, may be NULL) and returns the leader's index. */
static int start_cluster(int n, const char *const *more)
{
    const char *fast[] = {CLUSTER_FAST_FLAGS};
    const char *extra[CLUSTER_MAX_EXTRA + 1];
    size_t k = 0;
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
        extra[k++] = fast[i];
    }
    for (size_t i = 0; more != NULL && more[i] != NULL; i++) {
        ck_assert(k < CLUSTER_MAX_EXTRA);
        extra[k++] = more[i];
    }
    extra[k] = NULL;
    cluster_init(&cl, n, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 5000);
    ck_assert_msg(leader >= 0, "%d nodes agreed on no leader", n);
    return leader;
}

/* The read statistics and role of node i.  0 or a negative ms_* code. */
static int node_stats(int i, struct ms_read_stats *rs, char *role,
                      size_t role_cap)
{
    memset(rs, 0, sizeof *rs);
    struct ms_client *c = cluster_client(&cl, i, 1000);
    if (c == NULL) {
        return MS_ENOENDPOINT;
    }
    struct ms_result *r = NULL;
    int rv = ms_status(c, &r);
    if (rv == 0) {
        *rs = r->status_info.read_stats;
        if (role != NULL) {
            snprintf(role, role_cap, "%s", r->status_info.role);
        }
    }
    ms_result_free(r);
    ms_client_close(c);
    return rv;
}

static void must_stats(int i, struct ms_read_stats *rs, char *role,
                       size_t role_cap)
{
    int rv = node_stats(i, rs, role, role_cap);
    if (rv != 0) {
        cluster_report_dead(&cl);
    }
    ck_assert_msg(rv == 0, "status of node %d: %s", i + 1, ms_strerror(rv));
}

/* Polls node i until its Status says lease_valid.  True in time. */
static bool wait_lease_valid(int i, int timeout_ms)
{
    uint64_t end = cluster_now_ns() + (uint64_t)timeout_ms * 1000000u;
    do {
        struct ms_read_stats rs;
        if (node_stats(i, &rs, NULL, 0) == 0 && rs.lease_valid) {
            return true;
        }
        usleep(5000);
    } while (cluster_now_ns() < end);
    return false;
}

/* n linearizable reads of key through c, each must return want. */
static void read_n(struct ms_client *c, int node, const char *key,
                   const char *want, int n)
{
    for (int k = 0; k < n; k++) {
        char *got = NULL;
        int rv = cluster_get(c, key, &got);
        ck_assert_msg(rv == 0, "read %d via node %d: %s (%s)", k, node + 1,
                      ms_strerror(rv), ms_client_errmsg(c));
        ck_assert_msg(got != NULL && strcmp(got, want) == 0,
                      "node %d read %s = %s, want %s", node + 1, key,
                      got != NULL ? got : "(absent)", want);
        free(got);
    }
}

static struct ms_client *must_client(int i)
{
    struct ms_client *c = cluster_client(&cl, i, 3000);
    ck_assert_msg(c != NULL, "no connection to node %d", i + 1);
    return c;
}

static void must_put(struct ms_client *c, const char *key, const char *val)
{
    int rv = cluster_put(c, key, val);
    ck_assert_msg(rv == 0, "put %s: %s (%s)", key, ms_strerror(rv),
                  ms_client_errmsg(c));
}

/*
 * Reads on the leader in batches (at least `batches` of them, and for at
 * least min_ms).  A batch bracketed by two Status answers that both say
 * lease_valid, with no expiry or revocation counted between them, ran
 * entirely under valid leases: every read in it must be on the fast path
 * and none on the slow path.  Every read, in any batch, must be on one of
 * the two.  Returns how many batches qualified; *ran receives how many ran
 * and *renewed the growth of lease_renewals over the whole run.
 */
static int fast_batches(int leader, int batches, int per_batch, int min_ms,
                        int *ran, uint64_t *renewed)
{
    struct ms_client *c = must_client(leader);
    must_put(c, "lease/k", "v1");
    struct ms_read_stats first, before, after;
    must_stats(leader, &first, NULL, 0);
    int qualified = 0, b = 0;
    uint64_t until = cluster_now_ns() + (uint64_t)min_ms * 1000000u;
    for (; b < batches || cluster_now_ns() < until; b++) {
        must_stats(leader, &before, NULL, 0);
        read_n(c, leader, "lease/k", "v1", per_batch);
        must_stats(leader, &after, NULL, 0);
        uint64_t fast = after.lease_reads - before.lease_reads;
        uint64_t slow = after.read_index_reads - before.read_index_reads;
        /* Every read on the leader took one of the two paths. */
        ck_assert_msg(fast + slow == (uint64_t)per_batch,
                      "batch %d: %llu fast + %llu slow reads, want %d", b,
                      (unsigned long long)fast, (unsigned long long)slow,
                      per_batch);
        if (before.lease_valid && after.lease_valid &&
            after.lease_expirations == before.lease_expirations &&
            after.lease_revocations == before.lease_revocations) {
            qualified++;
            ck_assert_msg(slow == 0 && fast == (uint64_t)per_batch,
                          "batch %d under a valid lease: %llu fast, %llu "
                          "slow reads",
                          b, (unsigned long long)fast,
                          (unsigned long long)slow);
        }
    }
    *renewed = after.lease_renewals - first.lease_renewals;
    *ran = b;
    ms_client_close(c);
    return qualified;
}

/* ------------------------------------------------------------------ */

START_TEST(only_the_leader_holds_a_lease_followers_hold_none)
{
    int leader = start_cluster(3, NULL);
    ck_assert_msg(wait_lease_valid(leader, 3000),
                  "leader node %d never got a lease", leader + 1);
    for (int i = 0; i < cl.n; i++) {
        struct ms_read_stats rs;
        char role[24];
        must_stats(i, &rs, role, sizeof role);
        if (i == leader) {
            ck_assert_str_eq(role, "leader");
            continue;
        }
        ck_assert_msg(!rs.lease_valid && rs.lease_remaining_us == 0,
                      "follower node %d (%s) holds a lease (%llu us left)",
                      i + 1, role, (unsigned long long)rs.lease_remaining_us);
        ck_assert_msg(rs.lease_renewals == 0,
                      "follower node %d renewed a lease %llu times", i + 1,
                      (unsigned long long)rs.lease_renewals);
    }
    /* The leader's lease is bounded by the configured duration:
     * min(300/2, 3*50) - 50 = 100 ms. */
    struct ms_read_stats rs;
    must_stats(leader, &rs, NULL, 0);
    ck_assert_uint_le(rs.lease_remaining_us, 100000);
}
END_TEST

START_TEST(lease_renews_under_load_and_reads_take_the_fast_path)
{
    int leader = start_cluster(3, NULL);
    ck_assert(wait_lease_valid(leader, 3000));
    uint64_t renewed = 0;
    int ran = 0;
    /* At least 20 batches of 50 reads over at least 500 ms: five times
     * the 100 ms lease, so it can only stay valid by being renewed. */
    int qualified = fast_batches(leader, 20, 50, 500, &ran, &renewed);
    ck_assert_msg(qualified * 2 >= ran,
                  "only %d of %d batches ran under a valid lease", qualified,
                  ran);
    ck_assert_msg(renewed >= 5, "%llu lease renewals in 500 ms of reads",
                  (unsigned long long)renewed);
    struct ms_read_stats rs;
    must_stats(leader, &rs, NULL, 0);
    ck_assert_uint_ge(rs.lease_reads, (uint64_t)qualified * 50);
}
END_TEST

START_TEST(lease_disabled_every_leader_read_takes_readindex)
{
    const char *more[] = {"--set", "lease_read.enable=false", "--set",
                          "lease_read.read_mode=readindex", NULL};
    int leader = start_cluster(3, more);
    struct ms_client *c = must_client(leader);
    must_put(c, "ri/k", "v");
    struct ms_read_stats before, after;
    must_stats(leader, &before, NULL, 0);
    ck_assert(!before.lease_valid);
    read_n(c, leader, "ri/k", "v", 60);
    must_stats(leader, &after, NULL, 0);
    ck_assert_uint_eq(after.lease_reads, 0);
    ck_assert_uint_eq(after.read_index_reads - before.read_index_reads, 60);
    ck_assert(!after.lease_valid);
    ck_assert_uint_eq(after.lease_renewals, 0);
    ms_client_close(c);
}
END_TEST

START_TEST(read_mode_log_reads_go_through_the_log)
{
    const char *more[] = {"--set", "lease_read.read_mode=log", NULL};
    int leader = start_cluster(3, more);
    struct ms_client *c = must_client(leader);
    must_put(c, "log/k", "v");
    struct ms_read_stats before, after;
    must_stats(leader, &before, NULL, 0);
    struct cluster_status st0, st1;
    ck_assert_int_eq(cluster_status(&cl, leader, &st0), 0);
    read_n(c, leader, "log/k", "v", 40);
    must_stats(leader, &after, NULL, 0);
    ck_assert_int_eq(cluster_status(&cl, leader, &st1), 0);
    ck_assert_uint_eq(after.log_reads - before.log_reads, 40);
    ck_assert_uint_eq(after.lease_reads - before.lease_reads, 0);
    ck_assert_uint_eq(after.read_index_reads - before.read_index_reads, 0);
    /* Each read was an entry of the log. */
    ck_assert_msg(st1.last_index >= st0.last_index + 40,
                  "log grew by %llu entries over 40 log reads",
                  (unsigned long long)(st1.last_index - st0.last_index));
    ms_client_close(c);
}
END_TEST

START_TEST(one_node_cluster_serves_reads_on_the_fast_path)
{
    int leader = start_cluster(1, NULL);
    ck_assert_int_eq(leader, 0);
    ck_assert_msg(wait_lease_valid(0, 3000),
                  "a one-node leader never got a lease");
    uint64_t renewed = 0;
    int ran = 0;
    int qualified = fast_batches(0, 10, 50, 300, &ran, &renewed);
    ck_assert_msg(qualified * 2 >= ran,
                  "only %d of %d batches ran under a valid lease", qualified,
                  ran);
    ck_assert_msg(renewed >= 3, "%llu lease renewals in 300 ms of reads",
                  (unsigned long long)renewed);
    struct ms_read_stats rs;
    must_stats(0, &rs, NULL, 0);
    ck_assert(rs.lease_valid);
    ck_assert_uint_ge(rs.lease_reads, (uint64_t)qualified * 50);
}
END_TEST

START_TEST(follower_reads_return_the_latest_acknowledged_write)
{
    int leader = start_cluster(3, NULL);
    ck_assert(wait_lease_valid(leader, 3000));
    int fol[2], nf = 0;
    for (int i = 0; i < cl.n; i++) {
        if (i != leader) {
            fol[nf++] = i;
        }
    }
    struct ms_client *wc = must_client(leader);
    struct ms_client *rc[2] = {must_client(fol[0]), must_client(fol[1])};
    struct ms_read_stats lb, la, fb[2], fa[2];
    must_stats(leader, &lb, NULL, 0);
    must_stats(fol[0], &fb[0], NULL, 0);
    must_stats(fol[1], &fb[1], NULL, 0);
    const int iters = 150;
    for (int it = 0; it < iters; it++) {
        char val[32];
        snprintf(val, sizeof val, "v%d", it);
        must_put(wc, "fr/k", val);
        /* Acknowledged: both followers must return it at once. */
        for (int f = 0; f < 2; f++) {
            read_n(rc[f], fol[f], "fr/k", val, 1);
        }
    }
    must_stats(leader, &la, NULL, 0);
    must_stats(fol[0], &fa[0], NULL, 0);
    must_stats(fol[1], &fa[1], NULL, 0);
    for (int f = 0; f < 2; f++) {
        ck_assert_uint_eq(fa[f].follower_reads - fb[f].follower_reads,
                          (uint64_t)iters);
        ck_assert_uint_eq(fa[f].lease_reads, 0);
        ck_assert_uint_eq(fa[f].read_index_reads, 0);
    }
    /* The leader held its lease, so it answered follower ReadIndex
     * requests from it instead of running heartbeat rounds. */
    uint64_t answered = la.lease_answered_follower - lb.lease_answered_follower;
    ck_assert_msg(answered > 0,
                  "the leader answered no follower read from its lease");
    if (la.lease_valid && la.lease_expirations == lb.lease_expirations &&
        la.lease_revocations == lb.lease_revocations) {
        ck_assert_uint_eq(answered, 2 * (uint64_t)iters);
    }
    ms_client_close(wc);
    ms_client_close(rc[0]);
    ms_client_close(rc[1]);
}
END_TEST

/* ---- a frozen leader --------------------------------------------------- */

#define FROZEN_KEYS 2

struct frozen_run {
    struct cluster_history hist;
    int stop;                             /* __atomic */
    uint64_t ok_reads[CLUSTER_MAX_NODES]; /* __atomic, per reader node */
    uint64_t ok_writes;                   /* __atomic */
    uint64_t last_write_call; /* __atomic: call time of the newest ack */
    int writer_nodes[CLUSTER_MAX_NODES];
    int n_writer_nodes;
};

struct frozen_reader {
    struct frozen_run *run;
    int node;
};

static void *frozen_reader_main(void *arg)
{
    struct frozen_reader *a = arg;
    struct frozen_run *run = a->run;
    struct ms_client *c = cluster_client(&cl, a->node, 500);
    for (uint64_t n = 0; !__atomic_load_n(&run->stop, __ATOMIC_SEQ_CST); n++) {
        if (c == NULL) {
            usleep(10000);
            c = cluster_client(&cl, a->node, 500);
            continue;
        }
        uint64_t k = n % FROZEN_KEYS;
        char key[32];
        snprintf(key, sizeof key, "frz/%llu", (unsigned long long)k);
        struct lin_op op = {
            .client = (uint32_t)(10 + a->node), .kind = LIN_READ, .key = k};
        op.call = cluster_now_ns();
        char *got = NULL;
        int rv = cluster_get(c, key, &got);
        op.ret = cluster_now_ns();
        if (rv == 0) {
            op.value = got != NULL ? strtoull(got, NULL, 10) : 0;
            cluster_history_add(&run->hist, &op);
            __atomic_add_fetch(&run->ok_reads[a->node], 1, __ATOMIC_SEQ_CST);
        } else if (rv == MS_ETIMEDOUT || rv == MS_ECLOSED || rv == MS_EPROTO) {
            ms_client_close(c);
            c = NULL;
        }
        free(got);
    }
    ms_client_close(c);
    return NULL;
}

static void *frozen_writer_main(void *arg)
{
    struct frozen_run *run = arg;
    const char *eps[CLUSTER_MAX_NODES];
    for (int k = 0; k < run->n_writer_nodes; k++) {
        eps[k] = cl.nodes[run->writer_nodes[k]].endpoint;
    }
    struct ms_client_options o = {.dial_timeout_ms = 300,
                                  .command_timeout_ms = 1000};
    struct ms_client *c = NULL;
    if (ms_client_create(eps, (size_t)run->n_writer_nodes, &o, &c) != 0) {
        return NULL;
    }
    for (uint64_t seq = 1; !__atomic_load_n(&run->stop, __ATOMIC_SEQ_CST);
         seq++) {
        uint64_t k = seq % FROZEN_KEYS;
        char key[32], val[32];
        snprintf(key, sizeof key, "frz/%llu", (unsigned long long)k);
        struct lin_op op = {.client = 1, .kind = LIN_WRITE, .key = k};
        op.value = (1ull << 32) | seq;
        snprintf(val, sizeof val, "%llu", (unsigned long long)op.value);
        op.call = cluster_now_ns();
        int rv = cluster_put(c, key, val);
        op.ret = rv == 0 ? cluster_now_ns() : LIN_PENDING;
        cluster_history_add(&run->hist, &op);
        if (rv == 0) {
            __atomic_add_fetch(&run->ok_writes, 1, __ATOMIC_SEQ_CST);
            __atomic_store_n(&run->last_write_call, op.call, __ATOMIC_SEQ_CST);
        } else {
            usleep(10000); /* no leader yet: do not spin */
        }
    }
    ms_client_close(c);
    return NULL;
}

/* Waits until an acknowledged write was called after t_ns.  True in time. */
static bool wait_write_after(struct frozen_run *run, uint64_t t_ns,
                             int timeout_ms)
{
    uint64_t end = cluster_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (cluster_now_ns() < end) {
        if (__atomic_load_n(&run->last_write_call, __ATOMIC_SEQ_CST) > t_ns) {
            return true;
        }
        usleep(5000);
    }
    return false;
}

/* Waits until node i has served `more` more reads.  True in time. */
static bool wait_reads(struct frozen_run *run, int i, uint64_t more,
                       int timeout_ms)
{
    uint64_t want = __atomic_load_n(&run->ok_reads[i], __ATOMIC_SEQ_CST) + more;
    uint64_t end = cluster_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (cluster_now_ns() < end) {
        if (__atomic_load_n(&run->ok_reads[i], __ATOMIC_SEQ_CST) >= want) {
            return true;
        }
        usleep(5000);
    }
    return false;
}

START_TEST(frozen_leader_serves_no_stale_read_after_sigcont)
{
    int old = start_cluster(3, NULL);
    ck_assert(wait_lease_valid(old, 3000));
    struct frozen_run run;
    memset(&run, 0, sizeof run);
    cluster_history_init(&run.hist);
    for (int i = 0; i < cl.n; i++) {
        if (i != old) {
            run.writer_nodes[run.n_writer_nodes++] = i;
        }
    }
    pthread_t writer, readers[CLUSTER_MAX_NODES];
    struct frozen_reader ra[CLUSTER_MAX_NODES];
    ck_assert_int_eq(pthread_create(&writer, NULL, frozen_writer_main, &run),
                     0);
    for (int i = 0; i < cl.n; i++) {
        ra[i] = (struct frozen_reader){&run, i};
        ck_assert_int_eq(
            pthread_create(&readers[i], NULL, frozen_reader_main, &ra[i]), 0);
    }
    /* Everyone is reading and the writer is writing. */
    for (int i = 0; i < cl.n; i++) {
        ck_assert_msg(wait_reads(&run, i, 20, 3000),
                      "node %d served no reads before the pause", i + 1);
    }
    ck_assert(wait_write_after(&run, cluster_now_ns(), 3000));

    /* Freeze the leader for well over the election timeout (300 ms).
     * Its reader times out every 500 ms and sends a new read that queues
     * in the frozen process's socket, so at SIGCONT it holds a read called
     * after writes the new leader acknowledged. */
    cluster_node_pause(&cl, old);
    uint64_t paused_at = cluster_now_ns();
    bool include[CLUSTER_MAX_NODES] = {false};
    for (int i = 0; i < cl.n; i++) {
        include[i] = i != old;
    }
    int fresh = cluster_wait_leader(&cl, include, 5000);
    ck_assert_msg(fresh >= 0 && fresh != old,
                  "the other two elected no leader while node %d was frozen",
                  old + 1);
    /* The new leader commits writes the frozen one has never seen. */
    bool wrote = wait_write_after(&run, cluster_now_ns(), 3000);
    uint64_t frozen_ms = (cluster_now_ns() - paused_at) / 1000000u;
    if (wrote) {
        /* Let the old node's reader send a read after that write. */
        usleep(600000);
    }
    if (frozen_ms < 1500) {
        usleep((useconds_t)(1500 - frozen_ms) * 1000u);
    }
    uint64_t resumed_at = cluster_now_ns();
    cluster_node_resume(&cl, old);
    ck_assert_msg(wrote, "no write was acknowledged under the new leader");

    /* The old leader rejoins as a follower and serves reads again. */
    ck_assert_msg(wait_reads(&run, old, 20, 5000),
                  "node %d served no reads after SIGCONT", old + 1);
    ck_assert(wait_write_after(&run, cluster_now_ns(), 3000));
    __atomic_store_n(&run.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(writer, NULL);
    for (int i = 0; i < cl.n; i++) {
        pthread_join(readers[i], NULL);
    }
    /* Reads the old node answered that were sent while it was frozen
     * (informative: they may also fail, which is safe). */
    size_t queued = 0;
    for (size_t k = 0; k < run.hist.n; k++) {
        const struct lin_op *op = &run.hist.ops[k];
        queued += op->kind == LIN_READ && op->client == 10u + (uint32_t)old &&
                  op->call >= paused_at && op->call < resumed_at;
    }
    fprintf(stderr,
            "frozen leader: %llu acked writes; reads per node %llu/%llu/%llu; "
            "%zu sent to the frozen node answered after SIGCONT\n",
            (unsigned long long)run.ok_writes,
            (unsigned long long)run.ok_reads[0],
            (unsigned long long)run.ok_reads[1],
            (unsigned long long)run.ok_reads[2], queued);
    bool ok = cluster_history_check(&run.hist, "frozen leader");
    cluster_history_free(&run.hist);
    ck_assert_msg(ok, "a read returned a value older than an acknowledged "
                      "write (see the checker's account above)");
}
END_TEST

START_TEST(move_leader_ends_old_lease_and_new_leader_gets_one)
{
    int old = start_cluster(3, NULL);
    ck_assert(wait_lease_valid(old, 3000));
    int target = (old + 1) % cl.n;
    struct ms_read_stats before;
    must_stats(old, &before, NULL, 0);
    char msg[256] = "";
    int rv =
        cluster_move_leader(&cl, old, cl.nodes[target].id, msg, sizeof msg);
    ck_assert_msg(rv == 0, "move leader: %d (%s)", rv, msg);
    /* Right after the transfer: the old leader holds no lease. */
    struct ms_read_stats after;
    char role[24];
    must_stats(old, &after, role, sizeof role);
    ck_assert_msg(!after.lease_valid && after.lease_remaining_us == 0,
                  "old leader node %d (%s) still holds a lease (%llu us)",
                  old + 1, role, (unsigned long long)after.lease_remaining_us);
    ck_assert_str_ne(role, "leader");
    /* It was valid when the transfer started: ended by the event. */
    ck_assert_uint_gt(after.lease_revocations + after.lease_expirations,
                      before.lease_revocations + before.lease_expirations);
    ck_assert_msg(wait_lease_valid(target, 3000),
                  "new leader node %d never got a lease", target + 1);
    must_stats(target, &after, role, sizeof role);
    ck_assert_str_eq(role, "leader");
    /* And it serves on the fast path. */
    struct ms_client *c = must_client(target);
    must_put(c, "mv/k", "v");
    uint64_t renewed = 0;
    int ran = 0;
    ms_client_close(c);
    ck_assert_int_ge(fast_batches(target, 4, 20, 0, &ran, &renewed), 1);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_lease");
    TCase *tc = tcase_create("lease");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, only_the_leader_holds_a_lease_followers_hold_none);
    tcase_add_test(tc, lease_renews_under_load_and_reads_take_the_fast_path);
    tcase_add_test(tc, lease_disabled_every_leader_read_takes_readindex);
    tcase_add_test(tc, read_mode_log_reads_go_through_the_log);
    tcase_add_test(tc, one_node_cluster_serves_reads_on_the_fast_path);
    tcase_add_test(tc, follower_reads_return_the_latest_acknowledged_write);
    tcase_add_test(tc, frozen_leader_serves_no_stale_read_after_sigcont);
    tcase_add_test(tc, move_leader_ends_old_lease_and_new_leader_gets_one);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
