/*
 * test_http_auth_cluster.c - authentication on the HTTP/JSON API of a real
 * 3-node cluster: users, roles and "auth enable" sent with curl to a
 * follower (forwarded to the leader, replicated to every node); a token
 * issued by a follower works on that follower (reads served there, writes
 * forwarded, permissions checked there) and only there; a role revoked
 * through the leader reaches the follower's check (waited for with a
 * deadline: the follower applies the revoke when it replicates).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/e2e/helpers/cluster.h"
#include "test/e2e/helpers/e2e.h"

static struct cluster cl;
static uint16_t http_ports[3];

static void teardown(void)
{
    int reports = cluster_destroy(&cl);
    ck_assert_msg(reports == 0, "%d node(s) logged sanitizer errors", reports);
}

static bool port_taken(uint16_t p)
{
    for (int i = 0; i < cl.n; i++) {
        const struct cluster_node *nd = &cl.nodes[i];
        if (p == nd->client_port || p == nd->peer_port || p == nd->admin_port) {
            return true;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (p == http_ports[i]) {
            return true;
        }
    }
    return false;
}

/* POST to node i's HTTP port with an optional token: the HTTP status; the
 * body in out[4096]. */
static int post(int i, const char *path, const char *token, const char *body,
                char *out)
{
    char cmd[1024], auth[128] = "";
    if (token != NULL) {
        snprintf(auth, sizeof auth, "-H 'Authorization: %s'", token);
    }
    snprintf(cmd, sizeof cmd,
             "curl -s -w '\\n%%{http_code}' %s -X POST "
             "http://127.0.0.1:%u%s -d '%s'",
             auth, http_ports[i], path, body);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(out, 1, 4095, f);
    pclose(f);
    out[n] = '\0';
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    return atoi(nl + 1);
}

static void ok(int i, const char *path, const char *token, const char *body)
{
    char out[4096];
    int st = post(i, path, token, body, out);
    ck_assert_msg(st == 200, "node %d %s %s: %d %s", i, path, body, st, out);
}

static void login(int i, const char *name, const char *pw, char tok[33])
{
    char body[128], out[4096];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name,
             pw);
    int st = post(i, "/v3/auth/authenticate", NULL, body, out);
    ck_assert_msg(st == 200, "authenticate on node %d: %d %s", i, st, out);
    const char *t = strstr(out, "\"token\":\"");
    ck_assert_ptr_nonnull(t);
    memcpy(tok, t + 9, 32);
    tok[32] = '\0';
}

START_TEST(a_followers_tokens_and_checks_follow_the_replicated_table)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS, "--set",
                           "auth.password_iterations=1000", NULL};
    cluster_init(&cl, 3, extra);
    for (int i = 0; i < 3; i++) {
        uint16_t p;
        do {
            p = e2e_free_port();
        } while (port_taken(p));
        http_ports[i] = p;
    }
    for (int i = 0; i < 3; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%u", http_ports[i]);
        const char *more[] = {"--http-listen", addr, NULL};
        ck_assert_int_eq(cluster_node_start(&cl, i, false, more, 10000), 0);
    }
    int leader = cluster_wait_leader(&cl, NULL, 10000);
    ck_assert_int_ge(leader, 0);
    int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;

    /* Every change through follower f1 (forwarded to the leader). */
    ok(f1, "/v3/auth/user/add", NULL, "{\"name\":\"root\",\"password\":\"r\"}");
    ok(f1, "/v3/auth/user/grant", NULL,
       "{\"user\":\"root\",\"role\":\"root\"}");
    ok(f1, "/v3/auth/role/add", NULL, "{\"name\":\"reader\"}");
    ok(f1, "/v3/auth/role/grant", NULL,
       "{\"name\":\"reader\",\"perm\":{\"key\":\"L2FwcC8=\","
       "\"range_end\":\"L2FwcDA=\"}}");
    ok(f1, "/v3/auth/user/add", NULL,
       "{\"name\":\"alice\",\"password\":\"a\"}");
    ok(f1, "/v3/auth/user/grant", NULL,
       "{\"user\":\"alice\",\"role\":\"reader\"}");
    ok(f1, "/v3/auth/enable", NULL, "{}");

    /* root writes through f1 with f1's token (forwarded). */
    char root1[33], alice2[33], out[4096];
    login(f1, "root", "r", root1);
    ok(f1, "/v3/kv/put", root1, "{\"key\":\"L2FwcC94\",\"value\":\"djE=\"}");

    /* alice's token from f2: a linearizable read served by f2, a write
     * refused by f2's own check. */
    login(f2, "alice", "a", alice2);
    int st = post(f2, "/v3/kv/range", alice2, "{\"key\":\"L2FwcC94\"}", out);
    ck_assert_msg(st == 200 && strstr(out, "\"value\":\"djE=\"") != NULL,
                  "read on f2: %d %s", st, out);
    st = post(f2, "/v3/kv/put", alice2,
              "{\"key\":\"L2FwcC94\",\"value\":\"eA==\"}", out);
    ck_assert_msg(st == 403, "write on f2: %d %s", st, out);

    /* Tokens are local to the node that issued them. */
    st = post(leader, "/v3/kv/range", alice2, "{\"key\":\"L2FwcC94\"}", out);
    ck_assert_msg(st == 401 && strstr(out, "invalid auth token") != NULL,
                  "f2's token on the leader: %d %s", st, out);

    /* The role revoked through the leader: f2 refuses alice once it has
     * applied the revoke (within a deadline). */
    char rootl[33];
    login(leader, "root", "r", rootl);
    ok(leader, "/v3/auth/user/revoke", rootl,
       "{\"name\":\"alice\",\"role\":\"reader\"}");
    uint64_t end = e2e_now_ms() + 5000;
    do {
        st = post(f2, "/v3/kv/range", alice2, "{\"key\":\"L2FwcC94\"}", out);
    } while (st == 200 && e2e_now_ms() < end);
    ck_assert_msg(st == 403, "after the revoke, on f2: %d %s", st, out);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_http_auth");
    TCase *tc = tcase_create("http_auth");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc,
                   a_followers_tokens_and_checks_follow_the_replicated_table);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
