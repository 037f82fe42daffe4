/*
 * test_tls_cluster.c - real 3-node clusters with mutual TLS on the peer
 * port (and TLS on the client port): the members elect a leader and
 * replicate; a member whose certificate a foreign CA signed cannot take
 * part: the others refuse its connections and it refuses theirs (the
 * dialing side verifies the server's certificate too), each logged, while
 * the two good members carry on as a quorum.
 *
 * Certificates come from scripts/gen-test-certs.sh at test time; without
 * the openssl command the tests are skipped, loudly.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

static struct cluster cl;
static bool have_certs;
static struct ms_tls_options client_tls;

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

/* Flags for a member presenting `cert` (peer.pem or foreign-peer.pem),
 * with TLS on the client port as well. */
struct member_flags {
    const char *f[16];
    char paths[5][320]; /* e2e_tls_path() reuses its buffers */
};

static const char *keep(struct member_flags *m, int i, const char *name)
{
    snprintf(m->paths[i], sizeof m->paths[i], "%s", e2e_tls_path(name));
    return m->paths[i];
}

static void member_flags(struct member_flags *m, const char *cert,
                         const char *key)
{
    const char **f = m->f;
    int n = 0;
    f[n++] = "--peer-cert-file";
    f[n++] = keep(m, 0, cert);
    f[n++] = "--peer-key-file";
    f[n++] = keep(m, 1, key);
    f[n++] = "--peer-trusted-ca-file";
    f[n++] = keep(m, 2, "ca.pem");
    f[n++] = "--peer-client-cert-auth";
    f[n++] = "--cert-file";
    f[n++] = keep(m, 3, "server.pem");
    f[n++] = "--key-file";
    f[n++] = keep(m, 4, "server-key.pem");
    f[n] = NULL;
}

static void use_tls_clients(void)
{
    client_tls.ca_file = e2e_tls_path("ca.pem");
    e2e_client_tls = &client_tls;
}

/* Waits until node i's log has needle. */
static bool log_gets(int i, const char *needle, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (e2e_now_ms() < deadline) {
        if (cluster_log_contains(&cl, i, needle)) {
            return true;
        }
        usleep(20000); /* poll interval while waiting for the condition */
    }
    return false;
}

START_TEST(three_members_with_peer_mtls_elect_and_replicate)
{
    if (!have_certs) {
        return;
    }
    use_tls_clients();
    static struct member_flags m;
    member_flags(&m, "peer.pem", "peer-key.pem");
    const char **f = m.f;
    const char *extra[] = {CLUSTER_FAST_FLAGS, f[0], f[1], f[2],  f[3],
                           f[4],               f[5], f[6], f[7],  f[8],
                           f[9],               f[10], f[11], NULL};
    cluster_init(&cl, 3, extra);
    ck_assert_int_eq(cluster_start(&cl, 10000), 0);
    int leader = cluster_wait_leader(&cl, NULL, 8000);
    ck_assert_msg(leader >= 0, "no leader over peer mTLS");
    /* A write through every member, read back on every member. */
    for (int w = 0; w < cl.n; w++) {
        struct ms_client *c = cluster_client(&cl, w, 3000);
        ck_assert_ptr_nonnull(c);
        char key[16], val[32];
        snprintf(key, sizeof key, "k%d", w);
        snprintf(val, sizeof val, "via-node%d", w + 1);
        int rv = cluster_put(c, key, val);
        ck_assert_msg(rv == 0, "put via node %d: %s", w + 1,
                      ms_client_errmsg(c));
        ms_client_close(c);
        for (int r = 0; r < cl.n; r++) {
            struct ms_client *rc = cluster_client(&cl, r, 3000);
            ck_assert_ptr_nonnull(rc);
            char *got = NULL;
            rv = cluster_get(rc, key, &got);
            ck_assert_msg(rv == 0, "get via node %d: %s", r + 1,
                          ms_client_errmsg(rc));
            ck_assert_msg(got != NULL && strcmp(got, val) == 0,
                          "node %d read %s = %s", r + 1, key,
                          got != NULL ? got : "(absent)");
            free(got);
            ms_client_close(rc);
        }
    }
    for (int i = 0; i < cl.n; i++) {
        ck_assert(cluster_log_contains(&cl, i, "peer port: TLS, mutual"));
        ck_assert(!cluster_log_contains(&cl, i, "TLS handshake failed"));
    }
}
END_TEST

START_TEST(member_with_a_foreign_certificate_cannot_take_part)
{
    if (!have_certs) {
        return;
    }
    use_tls_clients();
    const char *extra[] = {CLUSTER_FAST_FLAGS, NULL};
    cluster_init(&cl, 3, extra);
    static struct member_flags good, foreign;
    member_flags(&good, "peer.pem", "peer-key.pem");
    member_flags(&foreign, "foreign-peer.pem", "foreign-peer-key.pem");
    ck_assert_int_eq(cluster_node_start(&cl, 0, false, good.f, 10000), 0);
    ck_assert_int_eq(cluster_node_start(&cl, 1, false, good.f, 10000), 0);
    ck_assert_int_eq(cluster_node_start(&cl, 2, false, foreign.f, 10000), 0);
    bool good_two[3] = {true, true, false};
    int leader = cluster_wait_leader(&cl, good_two, 8000);
    ck_assert_msg(leader >= 0, "the two good members elected no leader");
    ck_assert_int_ne(leader, 2);
    struct ms_client *c = cluster_client(&cl, leader, 3000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "k", "v"), 0);
    ms_client_close(c);
    struct cluster_status st;
    ck_assert_int_eq(cluster_status(&cl, leader, &st), 0);
    uint64_t committed = st.applied;
    /* Both sides refuse, and say why. */
    int other = leader == 0 ? 1 : 0;
    ck_assert_msg(log_gets(other, "refused peer connection from", 5000) ||
                      log_gets(leader, "refused peer connection from", 100),
                  "no refusal of the foreign member logged");
    ck_assert(cluster_log_contains(&cl, leader,
                                   "unable to get local issuer certificate") ||
              cluster_log_contains(&cl, other,
                                   "unable to get local issuer certificate"));
    /* The dialing side verifies too: member 3's certificate is refused. */
    ck_assert_msg(log_gets(leader, "cannot connect to peer 3", 5000) &&
                      log_gets(leader, "certificate verify failed", 5000),
                  "the leader did not report member 3's certificate");
    ck_assert(log_gets(2, "TLS handshake failed", 5000));
    /* Member 3 hears nothing: it never learns a leader or the write, while
     * the others keep serving.  Checked over a few election timeouts. */
    uint64_t until = e2e_now_ms() + 1500;
    while (e2e_now_ms() < until) {
        ck_assert_int_eq(cluster_status(&cl, 2, &st), 0);
        ck_assert_msg(st.leader == 0 || st.leader == 3,
                      "member 3 follows leader %llu",
                      (unsigned long long)st.leader);
        ck_assert_msg(st.applied < committed, "member 3 applied %llu",
                      (unsigned long long)st.applied);
        usleep(100000); /* sampling interval of the negative check */
    }
    c = cluster_client(&cl, other, 3000);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cluster_put(c, "k2", "v2"), 0);
    ms_client_close(c);
}
END_TEST

int main(void)
{
    have_certs = e2e_tls_certs(NULL) != NULL;
    cluster_suite_begin();
    Suite *s = suite_create("cluster_tls");
    TCase *tc = tcase_create("peer_mtls");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, three_members_with_peer_mtls_elect_and_replicate);
    tcase_add_test(tc, member_with_a_foreign_certificate_cannot_take_part);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    e2e_tls_certs_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
