/*
 * test_auth.c - users, roles and permissions against one real metastored:
 * every `metastore-cli user/role/auth` command and its etcdctl-style
 * output; a user with READ on /app/ cannot read /other/ nor write /app/
 * (Range, Put, Txn compares and branches, Watch creation); revoking a role
 * takes effect at once on an open connection; no credentials, a wrong
 * password and an unknown user get UNAUTHENTICATED, are counted in
 * /metrics and rate-limited; the auth table survives a restart (memory
 * engine with a snapshot, and RocksDB) and no password reaches the disk.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/authfix.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"
#include "test/e2e/helpers/raw.h"
#include "test/e2e/helpers/scrape.h"

static struct e2e_server srv;
static char out[8192], err[4096];

#define CLI(...)                                                               \
    e2e_cli(srv.endpoint, NULL, out, sizeof out, err, sizeof err,              \
            (const char *const[]){__VA_ARGS__, NULL})
#define CLI_IN(input, ...)                                                     \
    e2e_cli(srv.endpoint, input, out, sizeof out, err, sizeof err,             \
            (const char *const[]){__VA_ARGS__, NULL})

#define AUTH_FLAGS                                                             \
    "--set", "auth.password_iterations=1000", "--set",                         \
        "auth.max_failures=3", "--set", "auth.lockout=1500ms"

static const char *const mem_flags[] = {AUTH_FLAGS, "--set",
                                        "raft.snapshot_entries=20", NULL};
static const char *const rocks_flags[] = {AUTH_FLAGS, "--engine", "rocksdb",
                                          NULL};

static void start(const char *const *flags)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, flags, 10000), 0);
}

static void setup(void)
{
    start(mem_flags);
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

static struct ms_client *client_as(const char *user, const char *pw)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 3000,
                                  .user = user,
                                  .password = pw};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    return c;
}

#define OK(call) ck_assert_msg((call) == 0, "%s: %s", #call, ms_client_errmsg(c))

/* e2e_auth_make_users() on a fresh client: root (root role), role app =
 * READ on prefix /app/, user alice with app;
 * /app/x and /other/y exist; auth enabled. */
static void make_users(void)
{
    struct ms_client *c = client_as(NULL, NULL);
    e2e_auth_make_users(c);
    ms_client_close(c);
}

/* The value of a /metrics sample line ("name{labels} value"), or -1. */
static double metric(const char *sample)
{
    return e2e_metric(srv.admin_port, sample);
}

START_TEST(cli_manages_users_roles_and_auth_like_etcdctl)
{
    ck_assert_int_eq(CLI("user", "add", "root:rootpw"), 0);
    ck_assert_str_eq(out, "User root created\n");
    ck_assert_int_eq(CLI("user", "grant-role", "root", "root"), 0);
    ck_assert_str_eq(out, "Role root is granted to user root\n");
    ck_assert_int_eq(CLI("role", "add", "app"), 0);
    ck_assert_str_eq(out, "Role app created\n");
    ck_assert_int_eq(
        CLI("role", "grant-permission", "--prefix", "app", "read", "/app/"), 0);
    ck_assert_str_eq(out, "Role app updated\n");
    ck_assert_int_eq(CLI("role", "grant-permission", "app", "readwrite",
                         "/app/w"),
                     0);
    ck_assert_int_eq(CLI("role", "grant-permission", "--from-key", "app",
                         "write", "/z"),
                     0);
    ck_assert_int_eq(CLI("role", "get", "app"), 0);
    ck_assert_str_eq(out, "Role app\nKV Read:\n\t[/app/, /app0) (prefix "
                          "/app/)\n\t/app/w\nKV Write:\n\t/app/w\n\t[/z, "
                          "<open ended>\n");
    /* The password from stdin (not a terminal). */
    ck_assert_int_eq(CLI_IN("alicepw\n", "user", "add", "alice"), 0);
    ck_assert_str_eq(out, "User alice created\n");
    ck_assert_int_eq(CLI("user", "add", "svc", "--no-password"), 0);
    ck_assert_int_eq(CLI("user", "grant-role", "alice", "app"), 0);
    ck_assert_int_eq(CLI("user", "get", "alice"), 0);
    ck_assert_str_eq(out, "User: alice\nRoles: app\n");
    ck_assert_int_eq(CLI("user", "list"), 0);
    ck_assert_str_eq(out, "alice\nroot\nsvc\n");
    ck_assert_int_eq(CLI("role", "list"), 0);
    ck_assert_str_eq(out, "app\n");
    ck_assert_int_eq(CLI("-w", "json", "user", "list"), 0);
    ck_assert_str_eq(out, "{\"users\":[\"alice\",\"root\",\"svc\"]}\n");
    ck_assert_int_eq(CLI("auth", "status"), 0);
    ck_assert_ptr_nonnull(strstr(out, "Authentication Status: false\n"));

    ck_assert_int_eq(CLI("auth", "enable"), 0);
    ck_assert_str_eq(out, "Authentication Enabled\n");
    /* Now everything needs credentials; only root manages. */
    ck_assert_int_eq(CLI("user", "list"), 1);
    ck_assert_ptr_nonnull(strstr(err, "authenticate first"));
    ck_assert_int_eq(CLI("--user", "alice:alicepw", "user", "list"), 1);
    ck_assert_ptr_nonnull(strstr(err, "root role"));
    ck_assert_int_eq(CLI("--user", "alice", "--password", "alicepw", "get",
                         "/app/w"),
                     0);
    ck_assert_int_eq(CLI_IN("alicepw\n", "--user", "alice", "get", "/app/w"),
                     0);
    ck_assert_int_eq(CLI("--user", "root:rootpw", "auth", "status"), 0);
    ck_assert_ptr_nonnull(strstr(out, "Authentication Status: true\n"));
    /* etcd's root rules. */
    ck_assert_int_eq(CLI("--user", "root:rootpw", "user", "delete", "root"),
                     1);
    ck_assert_ptr_nonnull(strstr(err, "invalid auth management"));
    ck_assert_int_eq(
        CLI("--user", "root:rootpw", "user", "revoke-role", "root", "root"), 1);

    ck_assert_int_eq(CLI_IN("newpw\n", "--user", "root:rootpw", "user",
                            "passwd", "alice"),
                     0);
    ck_assert_str_eq(out, "Password updated\n");
    ck_assert_int_eq(CLI("--user", "alice:alicepw", "get", "/app/w"), 1);
    ck_assert_int_eq(CLI("--user", "alice:newpw", "get", "/app/w"), 0);
    ck_assert_int_eq(CLI("--user", "root:rootpw", "role", "revoke-permission",
                         "app", "/app/w"),
                     0);
    ck_assert_str_eq(out, "Permission of key /app/w is revoked from role app\n");
    ck_assert_int_eq(CLI("--user", "root:rootpw", "role", "revoke-permission",
                         "--prefix", "app", "/app/"),
                     0);
    ck_assert_str_eq(
        out, "Permission of range [/app/, /app0) is revoked from role app\n");
    ck_assert_int_eq(CLI("--user", "root:rootpw", "role", "revoke-permission",
                         "app", "/nope"),
                     1);
    ck_assert_int_eq(
        CLI("--user", "root:rootpw", "user", "revoke-role", "alice", "app"), 0);
    ck_assert_str_eq(out, "Role app is revoked from user alice\n");
    ck_assert_int_eq(CLI("--user", "root:rootpw", "role", "delete", "app"), 0);
    ck_assert_str_eq(out, "Role app deleted\n");
    ck_assert_int_eq(CLI("--user", "root:rootpw", "user", "delete", "alice"),
                     0);
    ck_assert_str_eq(out, "User alice deleted\n");
    ck_assert_int_eq(CLI("--user", "root:rootpw", "auth", "disable"), 0);
    ck_assert_str_eq(out, "Authentication Disabled\n");
    ck_assert_int_eq(CLI("user", "list"), 0);
    ck_assert_str_eq(out, "root\nsvc\n");
    /* Usage errors exit 2. */
    ck_assert_int_eq(CLI("user", "frobnicate", "x"), 2);
    ck_assert_int_eq(CLI("role", "grant-permission", "app", "sideways", "k"),
                     1);
}
END_TEST

static int stop_at_once(void *arg, const struct ms_watch_response *r)
{
    (void)arg;
    (void)r;
    return 1;
}

START_TEST(reader_of_app_cannot_read_other_nor_write_app)
{
    make_users();
    struct ms_client *c = client_as("alice", "alicepw");
    struct ms_result *r = NULL;
    OK(ms_get(c, "/app/x", 6, NULL, &r));
    ck_assert_uint_eq(r->range.n_kvs, 1);
    ms_result_free(r);
    struct ms_range_options pre = {.prefix = true};
    OK(ms_get(c, "/app/", 5, &pre, &r));
    ms_result_free(r);

    ck_assert_int_eq(ms_get(c, "/other/y", 8, NULL, &r), MS_EDENIED);
    ck_assert_int_eq(r->status, MS_STATUS_PERMISSION_DENIED);
    ms_result_free(r);
    ck_assert_int_eq(ms_get(c, "/", 1, &pre, &r), MS_EDENIED);
    ms_result_free(r);
    ck_assert_int_eq(ms_put(c, "/app/x", 6, "9", 1, 0, false, &r), MS_EDENIED);
    ms_result_free(r);
    struct ms_range_options none = {0};
    ck_assert_int_eq(ms_delete(c, "/app/x", 6, &none, false, &r), MS_EDENIED);
    ms_result_free(r);
    ck_assert_int_eq(ms_compact(c, 1, false, &r), MS_EDENIED);
    ms_result_free(r);

    /* Txn: a compare on /other/ or a put in either branch is refused. */
    struct ms_compare cmp = {.target = MS_CMP_VERSION,
                             .op = MS_CMP_GREATER,
                             .key = "/other/y",
                             .key_len = 8};
    struct ms_op get = {.type = MS_OP_RANGE, .key = "/app/x", .key_len = 6};
    struct ms_op put = {
        .type = MS_OP_PUT, .key = "/app/x", .key_len = 6, .value = "v",
        .value_len = 1};
    ck_assert_int_eq(ms_txn(c, &cmp, 1, &get, 1, NULL, 0, &r), MS_EDENIED);
    ms_result_free(r);
    cmp.key = "/app/x";
    cmp.key_len = 6;
    ck_assert_int_eq(ms_txn(c, &cmp, 1, &get, 1, &put, 1, &r), MS_EDENIED);
    ms_result_free(r);
    OK(ms_txn(c, &cmp, 1, &get, 1, &get, 1, &r));
    ck_assert(r->txn.succeeded);
    ms_result_free(r);

    /* Watch creation needs READ on the range. */
    struct ms_watch_options wo = {.key = "/other/", .key_len = 7,
                                  .prefix = true};
    ck_assert_int_eq(ms_watch(c, &wo, 3000, stop_at_once, NULL), MS_EDENIED);
    ms_client_close(c);

    /* The value was never written. */
    c = client_as("root", "rootpw");
    OK(ms_get(c, "/app/x", 6, NULL, &r));
    ck_assert_int_eq(memcmp(r->range.kvs[0].value, "1", 1), 0);
    ms_result_free(r);
    ms_client_close(c);
    ck_assert_double_ge(metric("metastore_auth_denied_total{status="
                               "\"PERMISSION_DENIED\"}"),
                        8);
}
END_TEST

START_TEST(revoking_a_role_takes_effect_on_an_open_connection)
{
    make_users();
    struct ms_client *alice = client_as("alice", "alicepw");
    struct ms_client *c = client_as("root", "rootpw");
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(alice, "/app/x", 6, NULL, &r), 0);
    ms_result_free(r);
    OK(ms_user_revoke_role(c, "alice", "app"));
    /* Same connection, next request: refused. */
    ck_assert_int_eq(ms_get(alice, "/app/x", 6, NULL, &r), MS_EDENIED);
    ms_result_free(r);
    OK(ms_user_grant_role(c, "alice", "app"));
    ck_assert_int_eq(ms_get(alice, "/app/x", 6, NULL, &r), 0);
    ms_result_free(r);
    /* A deleted user is no longer authenticated on its connection. */
    OK(ms_user_delete(c, "alice"));
    ck_assert_int_eq(ms_get(alice, "/app/x", 6, NULL, &r),
                     MS_EUNAUTHENTICATED);
    ms_result_free(r);
    ms_client_close(alice);
    ms_client_close(c);
}
END_TEST

START_TEST(bad_credentials_get_unauthenticated_counted_and_rate_limited)
{
    make_users();
    struct ms_result *r = NULL;
    /* No credentials at all. */
    struct ms_client *c = client_as(NULL, NULL);
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EUNAUTHENTICATED);
    ck_assert_int_eq(r->status, MS_STATUS_UNAUTHENTICATED);
    ms_result_free(r);
    /* Ping and Status stay open (health checks). */
    OK(ms_ping(c, &r));
    ms_result_free(r);
    ms_client_close(c);

    c = client_as("alice", "wrong");
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EUNAUTHENTICATED);
    ck_assert_ptr_nonnull(strstr(ms_client_errmsg(c), "invalid user ID or "
                                                      "password"));
    ms_client_close(c);
    c = client_as("nobody", "x");
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EUNAUTHENTICATED);
    ms_client_close(c);
    ck_assert_double_eq(
        metric("metastore_auth_attempts_total{result=\"bad_password\"}"), 1);
    ck_assert_double_eq(
        metric("metastore_auth_attempts_total{result=\"unknown_user\"}"), 1);
    ck_assert_double_ge(
        metric("metastore_auth_denied_total{status=\"UNAUTHENTICATED\"}"), 1);
    ck_assert_double_ge(metric("metastore_requests_total{method="
                               "\"AUTHENTICATE\",status=\"UNAUTHENTICATED\"}"),
                        2);

    /* The third failure in a row locks the address out: even the right
     * password is refused until the lockout passes. */
    c = client_as("alice", "wrong-again");
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EUNAUTHENTICATED);
    ms_client_close(c);
    c = client_as("alice", "alicepw");
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EEXHAUSTED);
    ck_assert_ptr_nonnull(strstr(ms_client_errmsg(c), "too many failed"));
    ck_assert_double_eq(
        metric("metastore_auth_attempts_total{result=\"rate_limited\"}"), 1);
    ck_assert(e2e_server_log_contains(&srv, "refusing that address"));
    ck_assert(!e2e_server_log_contains(&srv, "wrong-again"));
    uint64_t deadline = e2e_now_ms() + 5000;
    int rc;
    while ((rc = ms_get(c, "/app/x", 6, NULL, &r)) == MS_EEXHAUSTED &&
           e2e_now_ms() < deadline) {
        usleep(100 * 1000);
    }
    ck_assert_int_eq(rc, 0);
    ms_result_free(r);
    ms_client_close(c);
}
END_TEST

/* True when any file under dir contains needle. */
static bool dir_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0) {
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            found = dir_contains(path, needle);
            continue;
        }
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }
        static char buf[1 << 20];
        size_t n;
        size_t nl = strlen(needle);
        while (!found && (n = fread(buf, 1, sizeof buf, f)) > 0) {
            found = memmem(buf, n, needle, nl) != NULL;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void survives_restart(const char *const *flags)
{
    make_users();
    struct ms_client *c = client_as("root", "rootpw");
    struct ms_result *r = NULL;
    /* Enough entries for a snapshot (raft.snapshot_entries=20). */
    for (int i = 0; i < 30; i++) {
        OK(ms_put(c, "/app/n", 6, "v", 1, 0, false, &r));
        ms_result_free(r);
    }
    OK(ms_role_add(c, "late"));
    ms_client_close(c);
    ck_assert_int_eq(e2e_server_stop(&srv, SIGTERM, 5000), 0);
    ck_assert(!dir_contains(srv.dir, "alicepw"));
    ck_assert(!dir_contains(srv.dir, "rootpw"));
    ck_assert_int_eq(e2e_server_start(&srv, flags, 10000), 0);

    c = client_as(NULL, NULL);
    bool on = false;
    OK(ms_auth_status(c, &on, NULL));
    ck_assert(on);
    ck_assert_int_eq(ms_get(c, "/app/x", 6, NULL, &r), MS_EUNAUTHENTICATED);
    ms_result_free(r);
    ms_client_close(c);
    c = client_as("alice", "alicepw");
    OK(ms_get(c, "/app/x", 6, NULL, &r));
    ms_result_free(r);
    ck_assert_int_eq(ms_get(c, "/other/y", 8, NULL, &r), MS_EDENIED);
    ms_result_free(r);
    ms_client_close(c);
    c = client_as("root", "rootpw");
    char **roles;
    size_t n;
    OK(ms_role_list(c, &roles, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(roles[0], "app");
    ck_assert_str_eq(roles[1], "late");
    ms_strings_free(roles, n);
    ms_client_close(c);
}

START_TEST(auth_table_survives_restart_memory_engine)
{
    survives_restart(mem_flags);
}
END_TEST

START_TEST(auth_table_survives_restart_rocksdb_engine)
{
    e2e_server_stop(&srv, SIGTERM, 5000);
    e2e_server_cleanup(&srv);
    start(rocks_flags);
    survives_restart(rocks_flags);
}
END_TEST

START_TEST(lease_and_lock_commands_authenticate_with_user)
{
    make_users();
    /* Without credentials: refused. */
    ck_assert_int_eq(CLI("lease", "grant", "60"), 1);
    ck_assert_ptr_nonnull(strstr(err, "authenticate first"));
    ck_assert_int_eq(CLI("--user", "root:rootpw", "lease", "grant", "60"), 0);
    ck_assert_msg(strncmp(out, "lease ", 6) == 0, "output: %s", out);
    char id[17];
    memcpy(id, out + 6, 16);
    id[16] = '\0';
    ck_assert_int_eq(CLI("--user", "root:rootpw", "lease", "keep-alive",
                         "--once", id),
                     0);
    /* lock: a lease, a put, a keep-alive thread, all as root. */
    ck_assert_int_eq(CLI("--user", "root:rootpw", "lock", "mylock", "true"),
                     0);
    /* alice may not write under mylock/: the lock's put is refused. */
    ck_assert_int_eq(CLI("--user", "alice:alicepw", "lock", "mylock", "true"),
                     1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("e2e_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cli_manages_users_roles_and_auth_like_etcdctl);
    tcase_add_test(tc, reader_of_app_cannot_read_other_nor_write_app);
    tcase_add_test(tc, revoking_a_role_takes_effect_on_an_open_connection);
    tcase_add_test(tc,
                   bad_credentials_get_unauthenticated_counted_and_rate_limited);
    tcase_add_test(tc, lease_and_lock_commands_authenticate_with_user);
    tcase_add_test(tc, auth_table_survives_restart_memory_engine);
    tcase_add_test(tc, auth_table_survives_restart_rocksdb_engine);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
