/*
 * test_rocksdb.c - one real node with --engine rocksdb: acknowledged writes
 * from several threads survive kill -9; a restart after local snapshots
 * (small raft.snapshot_entries) recovers every key; the data survives
 * SIGTERM; Status reports engine "rocksdb" and a database size > 0; and a
 * data dir written by one engine is refused by the other, with a clear
 * message in the log and a non-zero exit, without harming the data.
 *
 * Layout checked on disk: <data_dir>/ENGINE says "rocksdb", <data_dir>/db
 * is the RocksDB database (Raft log included), there is no <data_dir>/wal,
 * and snapshots go to <data_dir>/snap.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/e2e/helpers/e2e.h"

#define WRITERS    4
#define MAX_WRITES 100000
#define SNAP_KEYS  600

static struct e2e_server srv;

static const char *const rocks_flags[] = {"--engine", "rocksdb", NULL};

static struct ms_client *connect_client(void)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 5000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 1, &o, &c), 0);
    return c;
}

static void put_ok(struct ms_client *c, const char *k, const char *v)
{
    struct ms_result *r = NULL;
    int rv = ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r);
    ck_assert_msg(rv == 0, "put %s: %s", k, ms_strerror(rv));
    ms_result_free(r);
}

/* The value of k (malloc'd), or NULL when absent. */
static char *get_value(struct ms_client *c, const char *k)
{
    struct ms_result *r = NULL;
    int rv = ms_get(c, k, strlen(k), NULL, &r);
    ck_assert_msg(rv == 0, "get %s: %s", k, ms_strerror(rv));
    char *v = NULL;
    if (r->range.n_kvs == 1) {
        v = strndup((const char *)r->range.kvs[0].value,
                    r->range.kvs[0].value_len);
    }
    ms_result_free(r);
    return v;
}

static bool path_exists(const char *rel)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/data/%s", srv.dir, rel);
    return stat(p, &st) == 0;
}

static int count_files_with_suffix(const char *rel, const char *suffix)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data/%s", srv.dir, rel);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > sl && strcmp(e->d_name + len - sl, suffix) == 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* The first line of <data_dir>/ENGINE (without newline), or "". */
static void read_engine_marker(char *out, size_t cap)
{
    char p[600];
    snprintf(p, sizeof p, "%s/data/ENGINE", srv.dir);
    out[0] = '\0';
    FILE *f = fopen(p, "r");
    if (f != NULL) {
        if (fgets(out, (int)cap, f) == NULL) {
            out[0] = '\0';
        }
        fclose(f);
    }
    out[strcspn(out, "\r\n")] = '\0';
}

/*
 * Runs metastored on srv's data dir and ports with `engine` and expects it
 * to exit by itself (it must refuse the data dir).  Returns its wait
 * status, or -1 when it was still running after timeout_ms (then killed).
 */
static int run_expecting_exit(const char *engine, int timeout_ms)
{
    char data_dir[300], client[64], peer[64], admin[64];
    snprintf(data_dir, sizeof data_dir, "%s/data", srv.dir);
    snprintf(client, sizeof client, "127.0.0.1:%u", srv.client_port);
    snprintf(peer, sizeof peer, "127.0.0.1:%u", srv.peer_port);
    snprintf(admin, sizeof admin, "127.0.0.1:%u", srv.admin_port);
    const char *argv[] = {e2e_bin("metastored"),
                          "--data-dir",
                          data_dir,
                          "--listen-client",
                          client,
                          "--listen-peer",
                          peer,
                          "--listen-admin",
                          admin,
                          "--engine",
                          engine,
                          NULL};
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(srv.log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    int st = 0;
    while (e2e_now_ms() < deadline) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            return st;
        }
        usleep(10000); /* poll interval while waiting for the exit */
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* No sanitizer report in the server's log (sanitizer builds check for
 * leaks at exit, so call this after a SIGTERM stop or a refused start). */
static void assert_log_clean(void)
{
    static const char *const reports[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};
    for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
        ck_assert_msg(!e2e_server_log_contains(&srv, reports[i]),
                      "the server's log %s holds a sanitizer report (%s)",
                      srv.log_path, reports[i]);
    }
}

/* SIGTERM, a clean exit 0, a clean log; then the directory is removed. */
static void stop_and_cleanup(void)
{
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "metastored did not exit 0 on SIGTERM (status %d)", st);
    assert_log_clean();
    e2e_server_cleanup(&srv);
}

struct writer {
    pthread_t thread;
    int id;
    atomic_int *acked_total;
    int acked; /* writes 0..acked-1 were acknowledged */
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 500,
                                  .command_timeout_ms = 3000};
    struct ms_client *c = NULL;
    if (ms_client_open(eps, 1, &o, &c) != 0) {
        return NULL;
    }
    for (int i = 0; i < MAX_WRITES; i++) {
        char k[64], v[64];
        snprintf(k, sizeof k, "w%d/%06d", w->id, i);
        snprintf(v, sizeof v, "rocks-%d-%d", w->id, i);
        struct ms_result *r = NULL;
        int rv = ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r);
        ms_result_free(r);
        if (rv != 0) {
            break; /* the server is gone: the outcome of write i is unknown */
        }
        w->acked = i + 1;
        atomic_fetch_add(w->acked_total, 1);
    }
    ms_client_close(c);
    return NULL;
}

START_TEST(kill_9_during_concurrent_writes_loses_no_acknowledged_write)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    atomic_int total = 0;
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.id = i, .acked_total = &total};
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    uint64_t deadline = e2e_now_ms() + 20000;
    while (atomic_load(&total) < 2000 && e2e_now_ms() < deadline) {
        usleep(1000); /* poll interval of the progress counter */
    }
    ck_assert_int_ge(atomic_load(&total), 2000);
    /* The writers are still writing: requests are in flight right now. */
    int st = e2e_server_stop(&srv, SIGKILL, 5000);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
    }

    /* The RocksDB layout, and no trace of the memory engine's WAL. */
    char marker[32];
    read_engine_marker(marker, sizeof marker);
    ck_assert_str_eq(marker, "rocksdb");
    ck_assert(path_exists("db/CURRENT"));
    ck_assert(!path_exists("wal"));

    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    struct ms_client *c = connect_client();
    int checked = 0;
    for (int i = 0; i < WRITERS; i++) {
        for (int j = 0; j < w[i].acked; j++) {
            char k[64], v[64];
            snprintf(k, sizeof k, "w%d/%06d", i, j);
            snprintf(v, sizeof v, "rocks-%d-%d", i, j);
            char *got = get_value(c, k);
            ck_assert_msg(got != NULL && strcmp(got, v) == 0,
                          "acknowledged write %s lost after kill -9 (read %s)",
                          k, got != NULL ? got : "nothing");
            free(got);
            checked++;
        }
    }
    ck_assert_int_ge(checked, 2000);
    ms_client_close(c);
    stop_and_cleanup();
}
END_TEST

static void snap_value(char *v, size_t cap, int i)
{
    memset(v, 'a' + i % 26, 1000);
    snprintf(v + 1000, cap - 1000, "/%d", i);
}

START_TEST(restart_after_snapshots_recovers_every_key)
{
    const char *extra[] = {"--engine", "rocksdb",
                           "--set",    "raft.snapshot_entries=100",
                           "--set",    "raft.snapshot_keep_entries=10",
                           NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    struct ms_client *c = connect_client();
    static char v[1100];
    for (int i = 0; i < SNAP_KEYS; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        snap_value(v, sizeof v, i);
        put_ok(c, k, v);
    }
    /* Overwrite and delete some, so the snapshot is not just a prefix. */
    for (int i = 0; i < SNAP_KEYS; i += 10) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        struct ms_result *r = NULL;
        ck_assert_int_eq(ms_delete(c, k, strlen(k), NULL, false, &r), 0);
        ms_result_free(r);
    }
    put_ok(c, "s0005", "rewritten");
    ms_client_close(c);
    ck_assert_msg(e2e_server_log_contains(&srv, "snapshot at index"),
                  "no snapshot was taken");
    ck_assert_int_ge(count_files_with_suffix("snap", ".snap"), 1);

    e2e_server_stop(&srv, SIGKILL, 5000);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    c = connect_client();
    for (int i = 0; i < SNAP_KEYS; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        char *got = get_value(c, k);
        if (i % 10 == 0) {
            ck_assert_msg(got == NULL, "deleted key %s came back", k);
        } else if (i == 5) {
            ck_assert_msg(got != NULL && strcmp(got, "rewritten") == 0,
                          "s0005 lost its newest value");
        } else {
            snap_value(v, sizeof v, i);
            ck_assert_msg(got != NULL && strcmp(got, v) == 0, "%s lost", k);
        }
        free(got);
    }
    /* Writes go on after the restart. */
    put_ok(c, "after", "restart");
    char *got = get_value(c, "after");
    ck_assert_str_eq(got, "restart");
    free(got);
    ms_client_close(c);
    stop_and_cleanup();
}
END_TEST

START_TEST(sigterm_keeps_data_and_status_reports_rocksdb)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    struct ms_client *c = connect_client();
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "kept/%02d", i);
        put_ok(c, k, "some value that takes up room on disk");
    }
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_status(c, &r), 0);
    ck_assert_ptr_nonnull(r->status_info.engine);
    ck_assert_str_eq(r->status_info.engine, "rocksdb");
    ck_assert_msg(r->status_info.db_size > 0, "db_size %lld",
                  (long long)r->status_info.db_size);
    ck_assert_uint_ge(r->status_info.raft_applied_index, 50);
    ms_result_free(r);
    ms_client_close(c);

    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert(e2e_server_log_contains(&srv, "received SIGTERM"));

    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    c = connect_client();
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "kept/%02d", i);
        char *v = get_value(c, k);
        ck_assert_msg(v != NULL, "%s lost over SIGTERM", k);
        ck_assert_str_eq(v, "some value that takes up room on disk");
        free(v);
    }
    r = NULL;
    ck_assert_int_eq(ms_status(c, &r), 0);
    ck_assert_str_eq(r->status_info.engine, "rocksdb");
    ck_assert_int_gt(r->status_info.db_size, 0);
    ms_result_free(r);
    ms_client_close(c);
    stop_and_cleanup();
}
END_TEST

START_TEST(memory_engine_refuses_a_rocksdb_data_dir)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    struct ms_client *c = connect_client();
    put_ok(c, "owner", "rocksdb");
    ms_client_close(c);
    ck_assert_int_eq(WEXITSTATUS(e2e_server_stop(&srv, SIGTERM, 10000)), 0);

    int st = run_expecting_exit("memory", 10000);
    ck_assert_msg(st != -1, "metastored --engine memory kept running on a "
                            "rocksdb data dir");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0,
                  "refusal must be a non-zero exit (status %d)", st);
    ck_assert_msg(
        e2e_server_log_contains(&srv, "holds data of the rocksdb engine, but "
                                      "storage.engine is memory"),
        "no clear refusal message in the log");
    assert_log_clean();
    /* Nothing was written by the refused start. */
    ck_assert(!path_exists("wal"));
    char marker[32];
    read_engine_marker(marker, sizeof marker);
    ck_assert_str_eq(marker, "rocksdb");

    /* The right engine still finds the data. */
    ck_assert_int_eq(e2e_server_start(&srv, rocks_flags, 10000), 0);
    c = connect_client();
    char *v = get_value(c, "owner");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "rocksdb");
    free(v);
    ms_client_close(c);
    stop_and_cleanup();
}
END_TEST

START_TEST(rocksdb_engine_refuses_a_memory_data_dir)
{
    const char *const mem_flags[] = {"--engine", "memory", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, mem_flags, 10000), 0);
    struct ms_client *c = connect_client();
    put_ok(c, "owner", "memory");
    ms_client_close(c);
    ck_assert_int_eq(WEXITSTATUS(e2e_server_stop(&srv, SIGTERM, 10000)), 0);

    int st = run_expecting_exit("rocksdb", 10000);
    ck_assert_msg(st != -1, "metastored --engine rocksdb kept running on a "
                            "memory data dir");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0,
                  "refusal must be a non-zero exit (status %d)", st);
    ck_assert_msg(
        e2e_server_log_contains(&srv, "holds data of the memory engine, but "
                                      "storage.engine is rocksdb"),
        "no clear refusal message in the log");
    assert_log_clean();
    ck_assert(!path_exists("db"));

    ck_assert_int_eq(e2e_server_start(&srv, mem_flags, 10000), 0);
    c = connect_client();
    char *v = get_value(c, "owner");
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "memory");
    free(v);
    ms_client_close(c);
    stop_and_cleanup();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("rocksdb");
    TCase *tc = tcase_create("one node");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc,
                   kill_9_during_concurrent_writes_loses_no_acknowledged_write);
    tcase_add_test(tc, restart_after_snapshots_recovers_every_key);
    tcase_add_test(tc, sigterm_keeps_data_and_status_reports_rocksdb);
    tcase_add_test(tc, memory_engine_refuses_a_rocksdb_data_dir);
    tcase_add_test(tc, rocksdb_engine_refuses_a_memory_data_dir);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
