/*
 * test_lease_cli.c - `metastore-cli lease ...` and `put --lease` against
 * one real metastored: etcdctl-style output, revoke deleting the attached
 * keys, keep-alive --once, timetolive of an unknown lease, a Put naming an
 * unknown lease refused as a whole, JSON output, usage errors, and expiry
 * without keep-alive.
 */
#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"

static struct e2e_server srv;
static char out[8192], err[4096];

#define CLI(...)                                                               \
    e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err,              \
            (const char *const[]){__VA_ARGS__, NULL})

static void setup(void)
{
    e2e_server_init(&srv);
    const char *extra[] = {"--set", "ttl.min_ttl=1s", NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

/* "lease 000000000000002a granted with TTL(60s)" -> the id text. */
static void grant(const char *ttl, char id[17])
{
    ck_assert_int_eq(CLI("lease", "grant", ttl), 0);
    ck_assert_msg(strncmp(out, "lease ", 6) == 0, "output: %s", out);
    memcpy(id, out + 6, 16);
    id[16] = '\0';
    char want[96];
    snprintf(want, sizeof want, "lease %s granted with TTL(%ss)\n", id, ttl);
    ck_assert_str_eq(out, want);
}

START_TEST(grant_put_timetolive_revoke)
{
    char id[17], lease_flag[32], want[256];
    grant("60", id);
    snprintf(lease_flag, sizeof lease_flag, "--lease=%s", id);
    ck_assert_int_eq(CLI("put", lease_flag, "svc/a", "1"), 0);
    ck_assert_int_eq(CLI("put", lease_flag, "svc/b", "2"), 0);
    ck_assert_int_eq(CLI("put", "other", "3"), 0);

    ck_assert_int_eq(CLI("lease", "timetolive", id, "--keys"), 0);
    snprintf(want, sizeof want, "lease %s granted with TTL(60s), remaining(",
             id);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "output: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "s), attached keys([svc/a svc/b])\n"));

    ck_assert_int_eq(CLI("lease", "list"), 0);
    snprintf(want, sizeof want, "found 1 leases\n%s\n", id);
    ck_assert_str_eq(out, want);

    ck_assert_int_eq(CLI("lease", "keep-alive", "--once", id), 0);
    snprintf(want, sizeof want, "lease %s keepalived with TTL(60)\n", id);
    ck_assert_str_eq(out, want);

    ck_assert_int_eq(CLI("lease", "revoke", id), 0);
    snprintf(want, sizeof want, "lease %s revoked\n", id);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(CLI("get", "svc/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(CLI("get", "other"), 0);
    ck_assert_str_eq(out, "other\n3\n");

    ck_assert_int_eq(CLI("lease", "timetolive", id), 0);
    snprintf(want, sizeof want, "lease %s already expired\n", id);
    ck_assert_str_eq(out, want);
    ck_assert_int_ne(CLI("lease", "revoke", id), 0);
    ck_assert_ptr_nonnull(strstr(err, "requested lease not found"));
    ck_assert_int_ne(CLI("lease", "keep-alive", id), 0);
    snprintf(want, sizeof want, "lease %s expired or revoked.\n", id);
    ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(put_with_unknown_lease_fails_as_a_whole)
{
    ck_assert_int_ne(CLI("put", "--lease=abcdef", "k", "v"), 0);
    ck_assert_ptr_nonnull(strstr(err, "requested lease not found"));
    ck_assert_int_eq(CLI("get", "k"), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(put_without_lease_detaches_and_delete_detaches)
{
    char id[17], lease_flag[32];
    grant("60", id);
    snprintf(lease_flag, sizeof lease_flag, "--lease=%s", id);
    ck_assert_int_eq(CLI("put", lease_flag, "a", "1"), 0);
    ck_assert_int_eq(CLI("put", lease_flag, "b", "1"), 0);
    ck_assert_int_eq(CLI("put", "a", "2"), 0); /* no lease: detached */
    ck_assert_int_eq(CLI("del", "b"), 0);
    ck_assert_int_eq(CLI("lease", "timetolive", id, "--keys"), 0);
    ck_assert_ptr_nonnull(strstr(out, "attached keys([])"));
    ck_assert_int_eq(CLI("put", "b", "3"), 0);
    ck_assert_int_eq(CLI("lease", "revoke", id), 0);
    ck_assert_int_eq(CLI("get", "a"), 0);
    ck_assert_str_eq(out, "a\n2\n"); /* survived: no longer attached */
    ck_assert_int_eq(CLI("get", "b"), 0);
    ck_assert_str_eq(out, "b\n3\n");
}
END_TEST

START_TEST(json_output)
{
    ck_assert_int_eq(CLI("-w", "json", "lease", "grant", "30"), 0);
    ck_assert_msg(strncmp(out, "{\"ID\":", 6) == 0, "output: %s", out);
    ck_assert_ptr_nonnull(strstr(out, ",\"TTL\":30}"));
    long long id = strtoll(out + 6, NULL, 10);
    char hex[32];
    snprintf(hex, sizeof hex, "%llx", id);
    ck_assert_int_eq(CLI("-w", "json", "lease", "timetolive", hex, "--keys"),
                     0);
    char want[128];
    snprintf(want, sizeof want, "{\"id\":%lld,\"ttl\":", id);
    ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "output: %s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"granted-ttl\":30,\"keys\":[]}"));
    ck_assert_int_eq(CLI("-w", "json", "lease", "list"), 0);
    snprintf(want, sizeof want, "{\"leases\":[{\"ID\":%lld}]}\n", id);
    ck_assert_str_eq(out, want);
}
END_TEST

START_TEST(usage_errors)
{
    ck_assert_int_eq(CLI("lease"), 2);
    ck_assert_int_eq(CLI("lease", "frob"), 2);
    ck_assert_int_eq(CLI("lease", "revoke"), 2);
    ck_assert_int_ne(CLI("lease", "revoke", "xyz"), 0);
    ck_assert_ptr_nonnull(strstr(err, "expecting ID in Hex"));
    ck_assert_int_ne(CLI("lease", "grant", "-5"), 0);
    ck_assert_int_eq(CLI("lease", "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "keep-alive"));
}
END_TEST

START_TEST(keys_vanish_after_ttl_without_keepalive)
{
    char id[17], lease_flag[32];
    grant("1", id);
    snprintf(lease_flag, sizeof lease_flag, "--lease=%s", id);
    ck_assert_int_eq(CLI("put", lease_flag, "eph", "x"), 0);
    uint64_t start = e2e_now_ms(), deadline = start + 10000;
    bool gone = false;
    while (!gone && e2e_now_ms() < deadline) {
        ck_assert_int_eq(CLI("get", "eph"), 0);
        gone = out[0] == '\0';
        if (!gone) {
            usleep(100000); /* the leader's expiry is due within the TTL */
        }
    }
    ck_assert_msg(gone, "key outlived its 1 s lease by 10 s");
    ck_assert_uint_ge(e2e_now_ms() - start, 800);
    ck_assert_int_eq(CLI("lease", "list"), 0);
    ck_assert_str_eq(out, "found 0 leases\n");
}
END_TEST

/* Lines in a file (0 if it does not exist). */
static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    while (f != NULL && (ch = fgetc(f)) != EOF) {
        n += ch == '\n';
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

START_TEST(keep_alive_renews_until_interrupted)
{
    char id[17];
    grant("3", id);
    char path[400];
    snprintf(path, sizeof path, "%s/keepalive.out", srv.dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (freopen(path, "w", stdout) == NULL) {
            _exit(126);
        }
        char ep[96];
        snprintf(ep, sizeof ep, "--endpoints=%s", srv.endpoint);
        execl(e2e_bin("metastore-cli"), "metastore-cli", ep, "lease",
              "keep-alive", id, (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = e2e_now_ms() + 10000;
    while (count_lines(path) < 3 && e2e_now_ms() < deadline) {
        usleep(50000); /* a renewal every TTL/3 = 1 s */
    }
    ck_assert_int_ge(count_lines(path), 3);
    kill(pid, SIGINT);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    FILE *f = fopen(path, "r");
    char line[128], want[128];
    snprintf(want, sizeof want, "lease %s keepalived with TTL(3)\n", id);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, want);
    ck_assert_int_eq(CLI("lease", "list"), 0); /* still there */
    ck_assert_ptr_nonnull(strstr(out, id));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lease_cli");
    TCase *tc = tcase_create("lease_cli");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, grant_put_timetolive_revoke);
    tcase_add_test(tc, put_with_unknown_lease_fails_as_a_whole);
    tcase_add_test(tc, put_without_lease_detaches_and_delete_detaches);
    tcase_add_test(tc, json_output);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, keys_vanish_after_ttl_without_keepalive);
    tcase_add_test(tc, keep_alive_renews_until_interrupted);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
