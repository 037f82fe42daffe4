/*
 * test_durability.c - acknowledged writes survive kill -9, clean shutdown
 * on SIGTERM, recovery from snapshots, a torn WAL tail is cut, and a
 * corrupt WAL stops the server instead of serving wrong data.
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

#define WRITERS 4
#define MAX_WRITES 100000

static struct e2e_server srv;

static struct ms_client *connect_client(void)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 3000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 1, &o, &c), 0);
    return c;
}

static void put_ok(struct ms_client *c, const char *k, const char *v)
{
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r), 0);
    ms_result_free(r);
}

/* Returns the value of k (malloc'd) or NULL when absent. */
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
                                  .command_timeout_ms = 2000};
    struct ms_client *c = NULL;
    if (ms_client_open(eps, 1, &o, &c) != 0) {
        return NULL;
    }
    for (int i = 0; i < MAX_WRITES; i++) {
        char k[64], v[64];
        snprintf(k, sizeof k, "w%d/%06d", w->id, i);
        snprintf(v, sizeof v, "value-%d-%d", w->id, i);
        struct ms_result *r = NULL;
        int rv = ms_put(c, k, strlen(k), v, strlen(v), 0, false, &r);
        ms_result_free(r);
        if (rv != 0) {
            break; /* the server is gone: outcome of write i unknown */
        }
        w->acked = i + 1;
        atomic_fetch_add(w->acked_total, 1);
    }
    ms_client_close(c);
    return NULL;
}

START_TEST(kill_9_during_writes_loses_no_acknowledged_write)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    atomic_int total = 0;
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){.id = i, .acked_total = &total};
        pthread_create(&w[i].thread, NULL, writer_main, &w[i]);
    }
    uint64_t deadline = e2e_now_ms() + 20000;
    while (atomic_load(&total) < 2000 && e2e_now_ms() < deadline) {
        usleep(1000);
    }
    ck_assert_int_ge(atomic_load(&total), 2000);
    /* Writes are in flight right now. */
    int st = e2e_server_stop(&srv, SIGKILL, 5000);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].thread, NULL);
    }

    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = connect_client();
    for (int i = 0; i < WRITERS; i++) {
        for (int j = 0; j < w[i].acked; j++) {
            char k[64], v[64];
            snprintf(k, sizeof k, "w%d/%06d", i, j);
            snprintf(v, sizeof v, "value-%d-%d", i, j);
            char *got = get_value(c, k);
            ck_assert_msg(got != NULL && strcmp(got, v) == 0,
                          "acknowledged write %s lost after kill -9", k);
            free(got);
        }
    }
    ms_client_close(c);
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}
END_TEST

START_TEST(sigterm_shuts_down_cleanly_and_keeps_data)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = connect_client();
    put_ok(c, "kept", "yes");
    ms_client_close(c);
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert(e2e_server_log_contains(&srv, "received SIGTERM"));
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    c = connect_client();
    char *v = get_value(c, "kept");
    ck_assert_str_eq(v, "yes");
    free(v);
    ms_client_close(c);
    e2e_server_stop(&srv, SIGINT, 10000);
    e2e_server_cleanup(&srv);
}
END_TEST

static int count_segments(void)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/data/wal", srv.dir);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += len > 4 && strcmp(e->d_name + len - 4, ".wal") == 0;
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

START_TEST(restart_recovers_from_snapshot_and_wal)
{
    const char *extra[] = {"--set", "raft.snapshot_entries=100", "--set",
                           "raft.snapshot_keep_entries=10", "--set",
                           "storage.wal_segment_bytes=1MiB", "--set",
                           "raft.max_msg_bytes=512KiB", "--set",
                           "server.max_frame_bytes=256KiB", "--set",
                           "server.max_value_bytes=64KiB", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    struct ms_client *c = connect_client();
    static char v[4100];
    for (int i = 0; i < 600; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        memset(v, 'a' + i % 26, 4000);
        snprintf(v + 4000, 32, "%d", i);
        put_ok(c, k, v);
    }
    ms_client_close(c);
    ck_assert(e2e_server_log_contains(&srv, "snapshot at index"));
    /* 2.4 MB of writes in 1 MiB segments: the snapshots released the old
     * segments. */
    ck_assert_int_le(count_segments(), 2);
    e2e_server_stop(&srv, SIGKILL, 5000);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
    ck_assert(e2e_server_log_contains(&srv, "restored snapshot"));
    c = connect_client();
    for (int i = 0; i < 600; i++) {
        char k[32];
        snprintf(k, sizeof k, "s%04d", i);
        memset(v, 'a' + i % 26, 4000);
        snprintf(v + 4000, 32, "%d", i);
        char *got = get_value(c, k);
        ck_assert_msg(got != NULL && strcmp(got, v) == 0, "%s lost", k);
        free(got);
    }
    ms_client_close(c);
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}
END_TEST

/* Path of the newest WAL segment of the server (by name). */
static void newest_segment(char *out, size_t cap)
{
    char dir[400];
    snprintf(dir, sizeof dir, "%s/data/wal", srv.dir);
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".wal") == 0 &&
            strcmp(e->d_name, best) > 0) {
            snprintf(best, sizeof best, "%s", e->d_name);
        }
    }
    closedir(d);
    ck_assert_str_ne(best, "");
    snprintf(out, cap, "%s/%s", dir, best);
}

START_TEST(torn_wal_tail_is_cut_and_data_kept)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = connect_client();
    put_ok(c, "before", "tear");
    ms_client_close(c);
    e2e_server_stop(&srv, SIGKILL, 5000);

    /* A half-written record at the end: a length prefix and a few bytes. */
    char seg[700];
    newest_segment(seg, sizeof seg);
    int fd = open(seg, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    const unsigned char junk[] = {0x00, 0x00, 0x01, 0x00, 0xde, 0xad, 0xbe};
    ck_assert_int_eq(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);

    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    ck_assert(e2e_server_log_contains(&srv, "torn"));
    c = connect_client();
    char *v = get_value(c, "before");
    ck_assert_str_eq(v, "tear");
    free(v);
    put_ok(c, "after", "ok");
    ms_client_close(c);
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}
END_TEST

START_TEST(corrupt_wal_middle_stops_the_server)
{
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, NULL, 10000), 0);
    struct ms_client *c = connect_client();
    for (int i = 0; i < 50; i++) {
        put_ok(c, "k", "a fairly long value so that records are not tiny");
    }
    ms_client_close(c);
    e2e_server_stop(&srv, SIGKILL, 5000);

    char seg[700];
    newest_segment(seg, sizeof seg);
    struct stat st;
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_gt(st.st_size, 1000);
    int fd = open(seg, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char b;
    off_t off = st.st_size / 2;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);

    ck_assert_int_ne(e2e_server_start(&srv, NULL, 5000), 0);
    ck_assert(e2e_server_log_contains(&srv, "corrupt"));
    e2e_server_cleanup(&srv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("one node");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kill_9_during_writes_loses_no_acknowledged_write);
    tcase_add_test(tc, sigterm_shuts_down_cleanly_and_keeps_data);
    tcase_add_test(tc, restart_recovers_from_snapshot_and_wal);
    tcase_add_test(tc, torn_wal_tail_is_cut_and_data_kept);
    tcase_add_test(tc, corrupt_wal_middle_stops_the_server);
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
