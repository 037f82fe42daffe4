/*
 * test_flood.c - a client that floods pipelined 64 KiB Puts and reads no
 * response cannot make the server's memory grow without bound: the server
 * stops reading the connection once server.max_pending_per_conn requests
 * are in progress, TCP backpressure then stops the client, and the
 * server's RSS (VmRSS in /proc/<pid>/status) stays below a bound.  When the
 * client finally reads, every request it sent is answered.
 *
 * Why a cluster without a leader: on a single-node leader a Put completes
 * in microseconds and its value is then legitimately stored, so memory
 * would grow with the data and not with buffering.  Here node 1 of a
 * three-member cluster runs alone, so every Put parks waiting for a leader
 * and stays "in progress"; the bound then measures exactly what the server
 * buffers for one greedy client.  After the flood the two other members
 * start, a leader is elected, the parked Puts complete (forwarded or
 * proposed), the server resumes reading, and the client reads every reply
 * (OK, or UNAVAILABLE / DEADLINE_EXCEEDED / NOT_LEADER for a Put caught
 * by a leader change under this load; server.request_timeout is 10 s so
 * that such a Put is answered well within the test).
 *
 * FLOOD_SECONDS (default 3) sets how long the client floods.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"

#define METHOD_PUT    11
#define VALUE_BYTES   (64 * 1024)
#define RSS_BOUND_KB  (200 * 1024) /* 200 MB */
#define SENT_BOUND_MB 512          /* far below what loopback moves in 3 s */

static struct e2e_server nodes[3];

/* VmRSS of pid in KiB, 0 if unreadable. */
static unsigned long rss_kb(pid_t pid)
{
    char path[64], line[256];
    unsigned long kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1) {
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

static void start_node(int i, const char *cluster)
{
    char id[8], name[16];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(name, sizeof name, "node%d", i + 1);
    const char *extra[] = {"--node-id",
                           id,
                           "--name",
                           name,
                           "--initial-cluster",
                           cluster,
                           "--set",
                           "server.request_timeout=10s",
                           NULL};
    ck_assert_int_eq(e2e_server_start(&nodes[i], extra, 20000), 0);
}

/* One Put frame (header + body) for request `id` into buf; returns its
 * length.  buf holds 16 + VALUE_BYTES + 64 bytes. */
static size_t build_put(uint8_t *buf, uint64_t id, const uint8_t *value)
{
    char key[32];
    snprintf(key, sizeof key, "flood/%08llu", (unsigned long long)id);
    Metastore__PutRequest p = METASTORE__PUT_REQUEST__INIT;
    p.key.data = (uint8_t *)key;
    p.key.len = strlen(key);
    p.value.data = (uint8_t *)value;
    p.value.len = VALUE_BYTES;
    size_t n = metastore__put_request__pack(&p, buf + 16);
    for (int i = 0; i < 4; i++) {
        buf[i] = (uint8_t)(n >> (24 - 8 * i));
    }
    buf[4] = 0;
    buf[5] = METHOD_PUT;
    buf[6] = 0;
    buf[7] = 1;
    for (int i = 0; i < 8; i++) {
        buf[8 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
    return 16 + n;
}

static bool read_full(int fd, void *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = read(fd, (uint8_t *)buf + n, len - n);
        if (r <= 0) {
            return false;
        }
        n += (size_t)r;
    }
    return true;
}

START_TEST(unread_flood_of_64k_puts_is_held_back_by_tcp_and_all_answered)
{
    for (int i = 0; i < 3; i++) {
        e2e_server_init(&nodes[i]);
    }
    char cluster[512];
    snprintf(cluster, sizeof cluster,
             "1=127.0.0.1:%u@127.0.0.1:%u,2=127.0.0.1:%u@127.0.0.1:%u,"
             "3=127.0.0.1:%u@127.0.0.1:%u",
             nodes[0].peer_port, nodes[0].client_port, nodes[1].peer_port,
             nodes[1].client_port, nodes[2].peer_port, nodes[2].client_port);
    /* An ASan build of the server keeps up to 256 MB of freed memory in
     * its quarantine, which would count as RSS; keep that small so the
     * bound measures buffering (ignored by a build without ASan). */
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[512];
    snprintf(asan_opts, sizeof asan_opts, "%s%squarantine_size_mb=8",
             asan != NULL ? asan : "", asan != NULL && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan_opts, 1);
    start_node(0, cluster);

    const char *env = getenv("FLOOD_SECONDS");
    uint64_t flood_ms = (env != NULL ? strtoull(env, NULL, 10) : 3) * 1000u;
    int fd = e2e_connect(nodes[0].client_port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);

    uint8_t *value = malloc(VALUE_BYTES);
    uint8_t *frame = malloc(16 + VALUE_BYTES + 64);
    memset(value, 'v', VALUE_BYTES);
    uint64_t sent = 0; /* whole frames written */
    uint64_t bytes = 0;
    size_t len = build_put(frame, 1, value), off = 0;
    unsigned long max_rss = rss_kb(nodes[0].pid);
    unsigned long start_rss = max_rss;
    uint64_t deadline = e2e_now_ms() + flood_ms;
    while (e2e_now_ms() < deadline) {
        ssize_t w = write(fd, frame + off, len - off);
        if (w > 0) {
            off += (size_t)w;
            bytes += (uint64_t)w;
            if (off == len) {
                sent++;
                len = build_put(frame, sent + 1, value);
                off = 0;
            }
        } else {
            ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "write: %s",
                          strerror(errno));
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 50); /* wake when writable, or re-sample RSS */
        }
        unsigned long kb = rss_kb(nodes[0].pid);
        if (kb > max_rss) {
            max_rss = kb;
        }
    }
    fprintf(stderr,
            "flood: %llu puts (%llu MB) sent in %llu ms; server RSS %lu -> "
            "max %lu KiB\n",
            (unsigned long long)sent, (unsigned long long)(bytes >> 20),
            (unsigned long long)flood_ms, start_rss, max_rss);
    ck_assert_uint_gt(sent, 0);
    ck_assert_msg(max_rss < RSS_BOUND_KB, "server RSS reached %lu KiB",
                  max_rss);
    ck_assert_msg(bytes < (uint64_t)SENT_BOUND_MB << 20,
                  "the client was never held back (%llu bytes sent)",
                  (unsigned long long)bytes);

    /* A leader appears; the parked Puts complete and reading resumes. */
    start_node(1, cluster);
    start_node(2, cluster);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK), 0);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (off > 0) { /* finish the frame cut by the deadline */
        while (off < len) {
            ssize_t w = write(fd, frame + off, len - off);
            ck_assert_int_gt(w, 0);
            off += (size_t)w;
        }
        sent++;
    }

    uint8_t *seen = calloc(sent + 1, 1);
    uint64_t ok = 0, failed = 0;
    for (uint64_t i = 0; i < sent; i++) {
        uint8_t h[16];
        ck_assert_msg(read_full(fd, h, sizeof h), "reply %llu of %llu missing",
                      (unsigned long long)i, (unsigned long long)sent);
        uint32_t blen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                        (uint32_t)h[2] << 8 | h[3];
        uint64_t id = 0;
        for (int k = 0; k < 8; k++) {
            id = id << 8 | h[8 + k];
        }
        uint8_t *body = malloc(blen + 1);
        ck_assert(read_full(fd, body, blen));
        ck_assert(id >= 1 && id <= sent && !seen[id]);
        seen[id] = 1;
        if (h[6] & 0x02) {
            /* Under this load the first leader may lose its leadership;
             * its uncommitted Puts are then answered UNAVAILABLE or, once
             * their deadline passes, DEADLINE_EXCEEDED; a follower that
             * cannot forward answers NOT_LEADER.  Each is an answer a
             * client retries; nothing else is acceptable. */
            Metastore__ErrorDetail *e =
                metastore__error_detail__unpack(NULL, blen, body);
            ck_assert_ptr_nonnull(e);
            ck_assert_msg(e->code == METASTORE__STATUS_CODE__UNAVAILABLE ||
                              e->code == METASTORE__STATUS_CODE__NOT_LEADER ||
                              e->code ==
                                  METASTORE__STATUS_CODE__DEADLINE_EXCEEDED,
                          "put %llu failed: %d %s", (unsigned long long)id,
                          e->code, e->message);
            if (failed == 0) {
                fprintf(stderr, "flood: first error (put %llu): %s\n",
                        (unsigned long long)id, e->message);
            }
            metastore__error_detail__free_unpacked(e, NULL);
            failed++;
        } else {
            ok++;
        }
        free(body);
    }
    fprintf(stderr,
            "flood: %llu answered OK, %llu answered with a retryable "
            "error\n",
            (unsigned long long)ok, (unsigned long long)failed);
    ck_assert_uint_eq(ok + failed, sent);
    free(seen);
    free(frame);
    free(value);
    close(fd);
}
END_TEST

static void teardown(void)
{
    for (int i = 0; i < 3; i++) {
        if (nodes[i].pid != 0) {
            e2e_server_stop(&nodes[i], SIGTERM, 10000);
        }
        e2e_server_cleanup(&nodes[i]);
    }
}

static Suite *suite(void)
{
    Suite *s = suite_create("flood");
    TCase *tc = tcase_create("backpressure");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(
        tc, unread_flood_of_64k_puts_is_held_back_by_tcp_and_all_answered);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
