/*
 * test_lock_cli.c - `metastore-cli lock` against one real metastored:
 * competing cli processes get mutual exclusion (each critical section
 * claims a marker directory with mkdir, which fails if another holder is
 * inside), a holder killed with -9 loses the lock once its lease runs out,
 * the command's exit status comes back, and the lock leaves no key or lease
 * behind; a waiter wakes at once when the holder releases (it watches the
 * key before its own; the 60 s TTL shows the release, not an expiry, woke
 * it); a holder whose lease is revoked reports the loss on stderr, stops
 * its command and exits 1.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
    e2e_tmpdir_create(tmp, sizeof tmp, "lock");
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    e2e_tmpdir_remove(tmp);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

/* Starts `metastore-cli --endpoints=... lock <args>` in its own process
 * group; returns the pid. */
static pid_t spawn_lock(const char *const *args)
{
    const char *argv[16];
    int n = 0;
    char ep[96];
    snprintf(ep, sizeof ep, "--endpoints=%s", srv.endpoint);
    argv[n++] = e2e_bin("metastore-cli");
    argv[n++] = ep;
    argv[n++] = "lock";
    for (int i = 0; args[i] != NULL && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Waits for pid up to timeout_ms; returns its exit status, or -1 (then it
 * is killed). */
static int wait_exit(pid_t pid, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    int status;
    while (e2e_now_ms() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        }
        usleep(20000); /* polling a child's exit */
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

START_TEST(competing_lock_processes_get_mutual_exclusion)
{
    enum { N = 5 };
    char script[1024];
    /* mkdir is atomic: it fails if another holder is in its critical
     * section.  The sleep widens the section so an overlap would show. */
    snprintf(script, sizeof script,
             "mkdir %s/held || exit 3; echo \"$ETCD_LOCK_KEY\" >> %s/order; "
             "sleep 0.3; rmdir %s/held",
             tmp, tmp, tmp);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = spawn_lock(
            (const char *const[]){"mylock", "sh", "-c", script, NULL});
    }
    for (int i = 0; i < N; i++) {
        int st = wait_exit(pids[i], 30000);
        ck_assert_msg(st == 0,
                      "lock holder %d exited %d (3: two holders at once)", i,
                      st);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/order", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char lines[N][128];
    int n = 0;
    while (n < N && fgets(lines[n], sizeof lines[n], f) != NULL) {
        ck_assert_msg(strncmp(lines[n], "mylock/", 7) == 0, "line %s",
                      lines[n]);
        for (int j = 0; j < n; j++) {
            ck_assert_str_ne(lines[j], lines[n]); /* one lease each */
        }
        n++;
    }
    fclose(f);
    ck_assert_int_eq(n, N);
    ck_assert_int_eq(CLI("get", "mylock/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(CLI("lease", "list"), 0);
    ck_assert_str_eq(out, "found 0 leases\n");
}
END_TEST

START_TEST(killed_holder_loses_lock_when_its_lease_expires)
{
    pid_t a = spawn_lock(
        (const char *const[]){"--ttl=2", "l2", "sleep", "60", NULL});
    uint64_t deadline = e2e_now_ms() + 10000;
    bool held = false;
    while (!held && e2e_now_ms() < deadline) {
        ck_assert_int_eq(CLI("get", "l2/", "--prefix", "--keys-only"), 0);
        held = out[0] != '\0';
        if (!held) {
            usleep(50000); /* the holder is still starting */
        }
    }
    ck_assert_msg(held, "the first process never took the lock");
    kill(-a, SIGKILL); /* the cli and its sleep, no release */
    int status;
    waitpid(a, &status, 0);
    uint64_t t0 = e2e_now_ms();
    pid_t b = spawn_lock((const char *const[]){"l2", "true", NULL});
    ck_assert_int_eq(wait_exit(b, 20000), 0);
    ck_assert_msg(e2e_now_ms() - t0 >= 500,
                  "the lock was taken before the dead holder's lease ran out");
}
END_TEST

START_TEST(command_status_comes_back_and_nothing_is_left)
{
    pid_t p = spawn_lock(
        (const char *const[]){"l3", "--", "sh", "-c", "exit 7", NULL});
    ck_assert_int_eq(wait_exit(p, 10000), 7);
    ck_assert_int_eq(CLI("get", "l3/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(CLI("lease", "list"), 0);
    ck_assert_str_eq(out, "found 0 leases\n");
    ck_assert_int_eq(CLI("lock"), 2);
    ck_assert_int_eq(CLI("lock", "--ttl=0", "x"), 2);
}
END_TEST

START_TEST(lock_without_command_prints_key_and_releases_on_signal)
{
    char path[300];
    snprintf(path, sizeof path, "%s/out", tmp);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        if (freopen(path, "w", stdout) == NULL) {
            _exit(126);
        }
        char ep[96];
        snprintf(ep, sizeof ep, "--endpoints=%s", srv.endpoint);
        execl(e2e_bin("metastore-cli"), "metastore-cli", ep, "lock", "l4",
              (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = e2e_now_ms() + 10000;
    char line[128] = "";
    while (line[0] == '\0' && e2e_now_ms() < deadline) {
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fgets(line, sizeof line, f) == NULL) {
                line[0] = '\0';
            }
            fclose(f);
        }
        if (line[0] == '\0') {
            usleep(50000); /* until it prints the key it holds */
        }
    }
    ck_assert_msg(strncmp(line, "l4/", 3) == 0, "printed: %s", line);
    ck_assert_int_eq(CLI("get", "l4/", "--prefix", "--keys-only"), 0);
    ck_assert_int_eq(strncmp(out, line, strlen(line)), 0);
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_exit(pid, 10000), 0);
    ck_assert_int_eq(CLI("get", "l4/", "--prefix"), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Number of keys under prefix. */
static int count_keys(const char *prefix)
{
    ck_assert_int_eq(CLI("get", prefix, "--prefix", "--count-only",
                         "-w", "json"), 0);
    const char *c = strstr(out, "\"count\":");
    return c != NULL ? atoi(c + 8) : 0;
}

START_TEST(waiter_wakes_at_once_when_the_holder_releases)
{
    struct cliproc a, b;
    cliproc_start(&a, tmp, "a", srv.endpoint,
                  (const char *const[]){"lock", "l5", NULL});
    ck_assert(cliproc_wait_out(&a, "l5/", 10000));
    cliproc_start(&b, tmp, "b", srv.endpoint,
                  (const char *const[]){"lock", "l5", "sh", "-c",
                                        "echo \"in $METASTORE_LOCK_KEY "
                                        "$ETCD_LOCK_REV\"; exec sleep 30",
                                        NULL});
    uint64_t deadline = e2e_now_ms() + 10000;
    while (count_keys("l5/") != 2 && e2e_now_ms() < deadline) {
        usleep(20000); /* the waiter is still starting */
    }
    ck_assert_int_eq(count_keys("l5/"), 2);
    char buf[256];
    ck_assert_uint_eq(cliproc_out(&b, buf, sizeof buf), 0); /* waits */
    uint64_t t0 = e2e_now_ms();
    cliproc_signal(&a, SIGINT);
    ck_assert_int_eq(cliproc_wait_exit(&a, 5000), 0);
    ck_assert_msg(cliproc_wait_out(&b, "in l5/", 3000),
                  "the waiter did not take the lock within 3 s of the "
                  "release");
    ck_assert_uint_lt(e2e_now_ms() - t0, 3000);
    /* Interrupting the holder passes the signal on to its command. */
    cliproc_signal(&b, SIGTERM);
    ck_assert_int_eq(cliproc_wait_exit(&b, 5000), 128 + SIGTERM);
    ck_assert_int_eq(count_keys("l5/"), 0);
}
END_TEST

START_TEST(holder_whose_lease_is_revoked_reports_the_loss)
{
    struct cliproc a;
    cliproc_start(&a, tmp, "a", srv.endpoint,
                  (const char *const[]){"lock", "l6", "sh", "-c",
                                        "echo held; exec sleep 30", NULL});
    ck_assert(cliproc_wait_out(&a, "held", 10000));
    ck_assert_int_eq(CLI("lease", "list"), 0);
    char *nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    nl = strrchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    char lease[64];
    snprintf(lease, sizeof lease, "%s", nl + 1);
    ck_assert_int_eq(CLI("lease", "revoke", lease), 0);
    ck_assert_int_eq(cliproc_wait_exit(&a, 5000), 1);
    ck_assert_msg(cliproc_err_contains(&a, "was lost"),
                  "no loss reported on stderr");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lock_cli");
    TCase *tc = tcase_create("lock_cli");
    tcase_set_timeout(tc, 90);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, competing_lock_processes_get_mutual_exclusion);
    tcase_add_test(tc, killed_holder_loses_lock_when_its_lease_expires);
    tcase_add_test(tc, command_status_comes_back_and_nothing_is_left);
    tcase_add_test(tc, lock_without_command_prints_key_and_releases_on_signal);
    tcase_add_test(tc, waiter_wakes_at_once_when_the_holder_releases);
    tcase_add_test(tc, holder_whose_lease_is_revoked_reports_the_loss);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
