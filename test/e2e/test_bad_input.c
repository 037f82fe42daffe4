/*
 * test_bad_input.c - bad input against the real server: every case gets
 * the right status (or a closed connection when nothing can be answered),
 * a log line, and the server keeps serving every other connection.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"

static struct e2e_server srv;

static void setup(void)
{
    const char *extra[] = {"--set", "server.max_connections=8", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void teardown(void)
{
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}

static void put_header(uint8_t *h, uint32_t len, uint16_t method,
                       uint8_t flags, uint8_t version, uint64_t id)
{
    h[0] = (uint8_t)(len >> 24);
    h[1] = (uint8_t)(len >> 16);
    h[2] = (uint8_t)(len >> 8);
    h[3] = (uint8_t)len;
    h[4] = (uint8_t)(method >> 8);
    h[5] = (uint8_t)method;
    h[6] = flags;
    h[7] = version;
    for (int i = 0; i < 8; i++) {
        h[8 + i] = (uint8_t)(id >> (56 - 8 * i));
    }
}

static void send_all(int fd, const void *buf, size_t len)
{
    ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
}

static void send_frame(int fd, uint16_t method, uint64_t id, const void *body,
                       size_t len)
{
    uint8_t h[16];
    put_header(h, (uint32_t)len, method, 0, 1, id);
    send_all(fd, h, sizeof h);
    if (len > 0) {
        send_all(fd, body, len);
    }
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

struct reply {
    uint16_t method;
    uint8_t flags;
    uint64_t id;
    int status; /* 0 for an OK reply */
    char message[256];
};

/* Reads one reply frame; false if the connection closed first. */
static bool read_reply(int fd, struct reply *r)
{
    uint8_t h[16];
    if (!read_full(fd, h, sizeof h)) {
        return false;
    }
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                   (uint32_t)h[2] << 8 | h[3];
    r->method = (uint16_t)(h[4] << 8 | h[5]);
    r->flags = h[6];
    r->id = 0;
    for (int i = 0; i < 8; i++) {
        r->id = r->id << 8 | h[8 + i];
    }
    uint8_t *body = malloc(len + 1);
    ck_assert(read_full(fd, body, len));
    r->status = 0;
    r->message[0] = '\0';
    if (r->flags & 0x02) {
        Metastore__ErrorDetail *e =
            metastore__error_detail__unpack(NULL, len, body);
        ck_assert_ptr_nonnull(e);
        r->status = e->code;
        snprintf(r->message, sizeof r->message, "%s", e->message);
        metastore__error_detail__free_unpacked(e, NULL);
    }
    free(body);
    return true;
}

/* True when the peer closed the connection (read returns 0 or reset). */
static bool closed_by_server(int fd)
{
    uint8_t b[64];
    ssize_t r = read(fd, b, sizeof b);
    return r <= 0;
}

/* The server still answers a put and a get on a fresh connection. */
static void assert_still_serving(void)
{
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    Metastore__PingRequest p = METASTORE__PING_REQUEST__INIT;
    uint8_t buf[64];
    size_t n = metastore__ping_request__pack(&p, buf);
    send_frame(fd, 1, 77, buf, n);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.id, 77);
    close(fd);
}

static size_t pack_put(const char *key, size_t key_len, size_t value_len,
                       uint8_t **out)
{
    Metastore__PutRequest p = METASTORE__PUT_REQUEST__INIT;
    p.key.data = (uint8_t *)key;
    p.key.len = key_len;
    uint8_t *v = calloc(1, value_len + 1);
    p.value.data = v;
    p.value.len = value_len;
    *out = malloc(metastore__put_request__get_packed_size(&p));
    size_t n = metastore__put_request__pack(&p, *out);
    free(v);
    return n;
}

START_TEST(oversized_frame_gets_resource_exhausted_then_close)
{
    int fd = e2e_connect(srv.client_port);
    uint8_t h[16];
    put_header(h, 64u << 20, 11, 0, 1, 42); /* 64 MiB body announced */
    send_all(fd, h, sizeof h);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 42);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__RESOURCE_EXHAUSTED);
    ck_assert(closed_by_server(fd));
    close(fd);
    assert_still_serving();
    ck_assert(e2e_server_log_contains(&srv, "exceeds server.max_frame_bytes"));
}
END_TEST

START_TEST(garbage_header_closes_the_connection)
{
    int fd = e2e_connect(srv.client_port);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, junk, sizeof junk - 1);
    ck_assert(closed_by_server(fd));
    close(fd);
    assert_still_serving();
    ck_assert(e2e_server_log_contains(&srv, "not a MetaStore frame"));
}
END_TEST

START_TEST(truncated_header_then_eof_is_harmless)
{
    int fd = e2e_connect(srv.client_port);
    uint8_t h[16];
    put_header(h, 10, 10, 0, 1, 5);
    send_all(fd, h, 7);
    close(fd);
    fd = e2e_connect(srv.client_port);
    send_all(fd, h, sizeof h);
    send_all(fd, "abc", 3); /* body cut short */
    close(fd);
    assert_still_serving();
}
END_TEST

START_TEST(invalid_protobuf_body_gets_invalid_argument)
{
    int fd = e2e_connect(srv.client_port);
    const uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f};
    send_frame(fd, 10, 9, bad, sizeof bad);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 9);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    /* The connection stays usable. */
    send_frame(fd, 1, 10, NULL, 0);
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 10);
    ck_assert_int_eq(r.status, 0);
    close(fd);
}
END_TEST

START_TEST(unknown_method_gets_unimplemented)
{
    int fd = e2e_connect(srv.client_port);
    send_frame(fd, 999, 3, NULL, 0);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 3);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__UNIMPLEMENTED);
    close(fd);
}
END_TEST

START_TEST(bad_keys_get_invalid_argument)
{
    int fd = e2e_connect(srv.client_port);
    uint8_t *body;
    struct reply r;

    size_t n = pack_put("", 0, 3, &body); /* empty key */
    send_frame(fd, 11, 1, body, n);
    free(body);
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(r.message, "empty"));

    char *big = malloc(70000);
    memset(big, 'k', 70000);
    n = pack_put(big, 70000, 3, &body); /* key over max_key_bytes */
    free(big);
    send_frame(fd, 11, 2, body, n);
    free(body);
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(r.message, "limit"));

    n = pack_put("k", 1, 2u << 20, &body); /* value over max_value_bytes */
    send_frame(fd, 11, 3, body, n);
    free(body);
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);

    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    q.key.data = (uint8_t *)"b";
    q.key.len = 1;
    q.range_end.data = (uint8_t *)"a";
    q.range_end.len = 1;
    uint8_t buf[64];
    n = metastore__range_request__pack(&q, buf);
    send_frame(fd, 10, 4, buf, n);
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(r.message, "range_end"));
    close(fd);
    assert_still_serving();
}
END_TEST

START_TEST(connections_over_the_limit_are_closed)
{
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = e2e_connect(srv.client_port);
        ck_assert_int_ge(fds[i], 0);
        send_frame(fds[i], 1, (uint64_t)i, NULL, 0);
        struct reply r;
        ck_assert(read_reply(fds[i], &r)); /* each is really accepted */
    }
    int extra = e2e_connect(srv.client_port);
    ck_assert_int_ge(extra, 0);
    ck_assert(closed_by_server(extra));
    close(extra);
    ck_assert(e2e_server_log_contains(&srv, "max_connections"));
    close(fds[0]);
    /* A slot is free again (the close may take a moment to be seen). */
    bool served = false;
    uint64_t deadline = e2e_now_ms() + 5000;
    while (!served && e2e_now_ms() < deadline) {
        int fd = e2e_connect(srv.client_port);
        send_frame(fd, 1, 99, NULL, 0);
        struct reply r;
        served = read_reply(fd, &r) && r.id == 99;
        close(fd);
    }
    ck_assert(served);
    for (int i = 1; i < 8; i++) {
        close(fds[i]);
    }
}
END_TEST

START_TEST(pipelined_requests_are_all_answered_by_id)
{
    int fd = e2e_connect(srv.client_port);
    for (uint64_t id = 1; id <= 200; id++) {
        char key[16];
        snprintf(key, sizeof key, "p%03llu", (unsigned long long)id);
        uint8_t *body;
        size_t n = pack_put(key, strlen(key), 10, &body);
        send_frame(fd, 11, id, body, n);
        free(body);
    }
    bool seen[201] = {false};
    for (int i = 0; i < 200; i++) {
        struct reply r;
        ck_assert(read_reply(fd, &r));
        ck_assert_int_eq(r.status, 0);
        ck_assert(r.id >= 1 && r.id <= 200 && !seen[r.id]);
        seen[r.id] = true;
    }
    close(fd);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("bad_input");
    TCase *tc = tcase_create("one node");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, oversized_frame_gets_resource_exhausted_then_close);
    tcase_add_test(tc, garbage_header_closes_the_connection);
    tcase_add_test(tc, truncated_header_then_eof_is_harmless);
    tcase_add_test(tc, invalid_protobuf_body_gets_invalid_argument);
    tcase_add_test(tc, unknown_method_gets_unimplemented);
    tcase_add_test(tc, bad_keys_get_invalid_argument);
    tcase_add_test(tc, connections_over_the_limit_are_closed);
    tcase_add_test(tc, pipelined_requests_are_all_answered_by_id);
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
