/*
 * test_watch_tls.c - Watch through TLS on a TLS-only server: the watch
 * stream goes through the client library's TLS layer, where several TLS
 * records can arrive in one read and a frame can span records.
 *   - live: a writer thread bursts puts (values of a few KiB, several per
 *     TLS record and records per response) and then one Txn whose single
 *     response spans several records; the watcher sees every event once,
 *     in revision order, with the right values;
 *   - replay: the history written before the watch (about 1 MiB) is
 *     replayed from its first revision in one go, in order;
 *   - `metastore-cli lock` with --cacert holds a 1 s lease for 3 s: its
 *     keep-alive and its watch go through TLS too.
 * The certificates are made by scripts/gen-test-certs.sh at test time;
 * without the openssl command the tests are skipped, loudly.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/e2e.h"

#define N_PUTS   300
#define N_TXN    24
#define VAL_SIZE 3000

static struct e2e_server srv;
static bool have_certs;
static struct ms_tls_options tls;

static void setup(void)
{
    if (!have_certs) {
        return;
    }
    tls.ca_file = e2e_tls_path("ca.pem");
    e2e_client_tls = &tls;
    const char *extra[] = {"--cert-file", e2e_tls_path("server.pem"),
                           "--key-file", e2e_tls_path("server-key.pem"),
                           "--set", "ttl.min_ttl=1s", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void teardown(void)
{
    if (!have_certs) {
        return;
    }
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    ck_assert_msg(st == 0, "server exit status %d (sanitizer report?)", st);
    e2e_server_cleanup(&srv);
}

static struct ms_client *tls_client(void)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.command_timeout_ms = 10000, .tls = &tls};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

/* The value of event i: its index spelled out, then filler. */
static void make_value(char *buf, int i)
{
    memset(buf, 'a' + i % 26, VAL_SIZE);
    snprintf(buf, 16, "%08d", i);
    buf[8] = '|';
}

static void key_of(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "w/%05d", i);
}

struct seen {
    int n;          /* events checked so far */
    int want;       /* stop after this many */
    int64_t last_rev;
    int64_t txn_rev; /* the revision all txn events share (live test) */
    int txn_responses; /* responses holding txn events */
    volatile int start_writer; /* __atomic */
    char msg[256];  /* the first mismatch */
};

static int on_events(void *arg, const struct ms_watch_response *r)
{
    struct seen *s = arg;
    if (r->created) {
        __atomic_store_n(&s->start_writer, 1, __ATOMIC_RELEASE);
    }
    char want_key[32], want_val[VAL_SIZE];
    bool txn_seen = false;
    for (size_t i = 0; i < r->n_events && s->msg[0] == '\0'; i++) {
        const struct ms_event *e = &r->events[i];
        key_of(want_key, sizeof want_key, s->n);
        make_value(want_val, s->n);
        if (e->type != MS_EVENT_PUT || e->kv.key_len != strlen(want_key) ||
            memcmp(e->kv.key, want_key, e->kv.key_len) != 0) {
            snprintf(s->msg, sizeof s->msg, "event %d: got key %.*s", s->n,
                     (int)e->kv.key_len, (const char *)e->kv.key);
        } else if (e->kv.value_len != VAL_SIZE ||
                   memcmp(e->kv.value, want_val, VAL_SIZE) != 0) {
            snprintf(s->msg, sizeof s->msg, "event %d: wrong value", s->n);
        } else if (s->n >= N_PUTS) { /* txn events: one revision */
            if (s->txn_rev == 0) {
                s->txn_rev = e->kv.mod_revision;
            }
            if (e->kv.mod_revision != s->txn_rev ||
                s->txn_rev != s->last_rev + 1) {
                snprintf(s->msg, sizeof s->msg, "txn event %d at revision "
                         "%lld", s->n, (long long)e->kv.mod_revision);
            }
            txn_seen = true;
        } else if (s->last_rev != 0 && e->kv.mod_revision != s->last_rev + 1) {
            snprintf(s->msg, sizeof s->msg, "event %d at revision %lld after "
                     "%lld", s->n, (long long)e->kv.mod_revision,
                     (long long)s->last_rev);
        }
        if (s->n < N_PUTS) {
            s->last_rev = e->kv.mod_revision;
        }
        s->n++;
    }
    s->txn_responses += txn_seen ? 1 : 0;
    return s->msg[0] != '\0' || s->n >= s->want;
}

static void *writer(void *arg)
{
    struct seen *s = arg;
    while (!__atomic_load_n(&s->start_writer, __ATOMIC_ACQUIRE)) {
        usleep(1000); /* until the watch is created */
    }
    struct ms_client *c = tls_client();
    char key[32], val[VAL_SIZE];
    for (int i = 0; i < N_PUTS; i++) {
        key_of(key, sizeof key, i);
        make_value(val, i);
        struct ms_result *r = NULL;
        int rc = ms_put(c, key, strlen(key), val, VAL_SIZE, 0, false, &r);
        ms_result_free(r);
        if (rc != 0) {
            fprintf(stderr, "put %d: %s\n", i, ms_client_errmsg(c));
            break;
        }
    }
    /* One txn: one response of ~72 KiB, several TLS records. */
    static char vals[N_TXN][VAL_SIZE];
    static char keys[N_TXN][32];
    struct ms_op ops[N_TXN];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < N_TXN; i++) {
        key_of(keys[i], sizeof keys[i], N_PUTS + i);
        make_value(vals[i], N_PUTS + i);
        ops[i].type = MS_OP_PUT;
        ops[i].key = keys[i];
        ops[i].key_len = strlen(keys[i]);
        ops[i].value = vals[i];
        ops[i].value_len = VAL_SIZE;
    }
    struct ms_result *r = NULL;
    int rc = ms_txn(c, NULL, 0, ops, N_TXN, NULL, 0, &r);
    if (rc != 0) {
        fprintf(stderr, "txn: %s\n", ms_client_errmsg(c));
    }
    ms_result_free(r);
    ms_client_close(c);
    return NULL;
}

START_TEST(live_burst_arrives_in_order_through_tls)
{
    if (!have_certs) {
        return;
    }
    struct seen s = {.want = N_PUTS + N_TXN};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, writer, &s), 0);
    struct ms_client *c = tls_client();
    struct ms_watch_options o = {.key = "w/", .key_len = 2, .prefix = true};
    int rc = ms_watch(c, &o, 30000, on_events, &s);
    __atomic_store_n(&s.start_writer, 1, __ATOMIC_RELEASE); /* never hang */
    pthread_join(t, NULL);
    ck_assert_msg(s.msg[0] == '\0', "%s", s.msg);
    ck_assert_msg(rc == 0, "watch: %s (%d events)", ms_client_errmsg(c), s.n);
    ck_assert_int_eq(s.n, N_PUTS + N_TXN);
    ck_assert_msg(s.txn_responses == 1, "the txn's events came in %d "
                  "responses, not one", s.txn_responses);
    ms_client_close(c);
}
END_TEST

START_TEST(history_replays_in_order_through_tls)
{
    if (!have_certs) {
        return;
    }
    struct ms_client *c = tls_client();
    char key[32], val[VAL_SIZE];
    int64_t first = 0;
    for (int i = 0; i < N_PUTS; i++) {
        key_of(key, sizeof key, i);
        make_value(val, i);
        struct ms_result *r = NULL;
        ck_assert_int_eq(ms_put(c, key, strlen(key), val, VAL_SIZE, 0, false,
                                &r),
                         0);
        if (i == 0) {
            first = r->header.revision;
        }
        ms_result_free(r);
    }
    struct seen s = {.want = N_PUTS};
    struct ms_watch_options o = {.key = "w/",
                                 .key_len = 2,
                                 .prefix = true,
                                 .start_revision = first};
    int rc = ms_watch(c, &o, 0, on_events, &s);
    ck_assert_msg(s.msg[0] == '\0', "%s", s.msg);
    ck_assert_msg(rc == 0, "watch: %s", ms_client_errmsg(c));
    ck_assert_int_eq(s.n, N_PUTS);
    ms_client_close(c);
}
END_TEST

START_TEST(lock_keeps_its_lease_alive_through_tls)
{
    if (!have_certs) {
        return;
    }
    char out[256], err[1024];
    const char *ca = e2e_tls_path("ca.pem");
    int rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err,
                     (const char *const[]){"--cacert", ca, "lock", "--ttl=1",
                                           "tl", "sh", "-c",
                                           "sleep 3; echo done", NULL});
    ck_assert_msg(rc == 0, "lock exited %d: %s", rc, err);
    ck_assert_str_eq(out, "done\n");
    rc = e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err,
                 (const char *const[]){"--cacert", ca, "get", "tl/", "--prefix",
                                       NULL});
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, ""); /* released */
}
END_TEST

int main(void)
{
    have_certs = e2e_tls_certs(NULL) != NULL;
    if (!have_certs) {
        fprintf(stderr, "!!! test_watch_tls: SKIPPED, no openssl command\n");
    }
    Suite *s = suite_create("watch_tls");
    TCase *tc = tcase_create("watch_tls");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, live_burst_arrives_in_order_through_tls);
    tcase_add_test(tc, history_replays_in_order_through_tls);
    tcase_add_test(tc, lock_keeps_its_lease_alive_through_tls);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    e2e_tls_certs_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
