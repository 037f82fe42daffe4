/*
 * test_http_cluster.c - the HTTP/JSON API on a real 3-node cluster: a
 * write sent with curl to one follower's HTTP port (forwarded to the
 * leader by the shared dispatcher) is read, linearizably, through the
 * other follower's HTTP port and served by that follower; txn and delete
 * through other nodes likewise; every node's status names the leader;
 * TTL leases granted, kept alive and revoked through followers; a watch
 * streamed by a follower.
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

/* curl -X POST <node i>/path -d body: the body printed and the status. */
static char *post(int i, const char *path, const char *body, int *status)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s -w '\\n%%{http_code}' -X POST "
             "http://127.0.0.1:%u%s -d '%s'",
             http_ports[i], path, body);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    char *out = calloc(1, 65536);
    size_t n = fread(out, 1, 65535, f);
    pclose(f);
    out[n] = '\0';
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *status = atoi(nl + 1);
    *nl = '\0';
    return out;
}

static void expect_has(const char *out, const char *needle)
{
    ck_assert_msg(strstr(out, needle) != NULL, "\"%s\" lacks \"%s\"", out,
                  needle);
}

START_TEST(writes_through_one_node_are_read_through_another)
{
    const char *extra[] = {CLUSTER_FAST_FLAGS, NULL};
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
    int st;
    char want[128];

    /* Put through follower f1: forwarded, the leader's answer relayed. */
    char *out = post(f1, "/v3/kv/put",
                     "{\"key\":\"aHR0cC9r\",\"value\":\"djE=\"}", &st);
    ck_assert_msg(st == 200, "put via follower: %d %s", st, out);
    snprintf(want, sizeof want, "\"member_id\":\"%llu\"",
             (unsigned long long)cl.nodes[leader].id);
    expect_has(out, want);
    free(out);

    /* A linearizable read through follower f2, served by f2. */
    out = post(f2, "/v3/kv/range", "{\"key\":\"aHR0cC9r\"}", &st);
    ck_assert_msg(st == 200, "range via follower: %d %s", st, out);
    expect_has(out, "\"value\":\"djE=\"");
    snprintf(want, sizeof want, "\"member_id\":\"%llu\"",
             (unsigned long long)cl.nodes[f2].id);
    expect_has(out, want);
    free(out);

    /* A txn through f2, read back through the leader and f1. */
    out = post(f2, "/v3/kv/txn",
               "{\"compare\":[{\"key\":\"aHR0cC9r\",\"target\":\"VALUE\","
               "\"result\":\"EQUAL\",\"value\":\"djE=\"}],\"success\":"
               "[{\"request_put\":{\"key\":\"aHR0cC9r\",\"value\":\"djI=\"}}]}",
               &st);
    ck_assert_msg(st == 200, "txn via follower: %d %s", st, out);
    expect_has(out, "\"succeeded\":true");
    free(out);
    for (int i = 0; i < 3; i++) {
        out = post(i, "/v3/kv/range", "{\"key\":\"aHR0cC9r\"}", &st);
        ck_assert_int_eq(st, 200);
        expect_has(out, "\"value\":\"djI=\"");
        expect_has(out, "\"version\":\"2\"");
        free(out);
    }

    /* Delete through the leader; gone when read through f1. */
    out = post(leader, "/v3/kv/deleterange", "{\"key\":\"aHR0cC9r\"}", &st);
    ck_assert_int_eq(st, 200);
    expect_has(out, "\"deleted\":\"1\"");
    free(out);
    out = post(f1, "/v3/kv/range", "{\"key\":\"aHR0cC9r\"}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_ptr_null(strstr(out, "\"kvs\""));
    free(out);

    /* Every node's status names the same leader. */
    snprintf(want, sizeof want, "\"leader\":\"%llu\"",
             (unsigned long long)cl.nodes[leader].id);
    for (int i = 0; i < 3; i++) {
        out = post(i, "/v3/maintenance/status", "{}", &st);
        ck_assert_int_eq(st, 200);
        expect_has(out, want);
        expect_has(out, i == leader ? "\"role\":\"leader\""
                                    : "\"role\":\"follower\"");
        free(out);
    }

    /* TTL leases through followers: grant and revoke are forwarded like
     * writes, keep-alive and time-to-live to the leader that holds the
     * lease clocks. */
    out = post(f1, "/v3/lease/grant", "{\"TTL\":60,\"ID\":4242}", &st);
    ck_assert_msg(st == 200, "grant via follower: %d %s", st, out);
    expect_has(out, "\"ID\":\"4242\",\"TTL\":\"60\"");
    free(out);
    out = post(f2, "/v3/kv/put",
               "{\"key\":\"bGVhc2Vk\",\"value\":\"dg==\",\"lease\":\"4242\"}",
               &st);
    ck_assert_msg(st == 200, "put with lease via follower: %d %s", st, out);
    free(out);
    out = post(f2, "/v3/lease/keepalive", "{\"ID\":4242}", &st);
    ck_assert_msg(st == 200, "keepalive via follower: %d %s", st, out);
    expect_has(out, "{\"result\":{");
    expect_has(out, "\"ID\":\"4242\",\"TTL\":\"60\"");
    free(out);
    out = post(f1, "/v3/lease/timetolive", "{\"ID\":4242,\"keys\":true}",
               &st);
    ck_assert_int_eq(st, 200);
    expect_has(out, "\"grantedTTL\":\"60\",\"keys\":[\"bGVhc2Vk\"]");
    free(out);
    out = post(f2, "/v3/kv/lease/revoke", "{\"ID\":4242}", &st);
    ck_assert_msg(st == 200, "revoke via follower: %d %s", st, out);
    free(out);
    for (int i = 0; i < 3; i++) {
        out = post(i, "/v3/kv/range", "{\"key\":\"bGVhc2Vk\"}", &st);
        ck_assert_int_eq(st, 200);
        ck_assert_msg(strstr(out, "\"kvs\"") == NULL, "node %d: %s", i, out);
        free(out);
    }
    out = post(f1, "/v3/lease/revoke", "{\"ID\":4242}", &st);
    ck_assert_int_eq(st, 404);
    free(out);

    /* A watch streamed by a follower: from a compacted revision it gets
     * its created line, then the canceled one, and the response ends. */
    out = post(leader, "/v3/maintenance/status", "{}", &st);
    char *rev = strstr(out, "\"revision\":\"");
    ck_assert_ptr_nonnull(rev);
    char body[128];
    snprintf(body, sizeof body, "{\"revision\":\"%ld\",\"physical\":true}",
             strtol(rev + 12, NULL, 10));
    free(out);
    out = post(leader, "/v3/kv/compaction", body, &st);
    ck_assert_int_eq(st, 200);
    free(out);
    out = post(f2, "/v3/watch",
               "{\"create_request\":{\"key\":\"aHR0cC9r\","
               "\"start_revision\":\"1\"}}",
               &st);
    ck_assert_msg(st == 200, "watch via follower: %d %s", st, out);
    expect_has(out, "\"created\":true}}\n{\"result\":");
    expect_has(out, "\"canceled\":true,\"compact_revision\":");
    snprintf(want, sizeof want, "\"member_id\":\"%llu\"",
             (unsigned long long)cl.nodes[f2].id);
    expect_has(out, want);
    free(out);
}
END_TEST

int main(void)
{
    cluster_suite_begin();
    Suite *s = suite_create("cluster_http");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, writes_through_one_node_are_read_through_another);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cluster_suite_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
