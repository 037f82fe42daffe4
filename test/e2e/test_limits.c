/*
 * test_limits.c - the server's input limits against a real metastored:
 * max_frame_bytes, max_key_bytes, max_value_bytes, max_txn_ops,
 * max_connections, max_pending_per_conn (backpressure) and request_timeout,
 * each at and just past its boundary, set small with --set flags; and the
 * safe default of every one of them in `metastored --print-config`.
 *
 * The backpressure and deadline cases run on a node whose initial cluster
 * has three members of which only it runs, so it never has a leader: a
 * linearizable read parks until request_timeout and is then answered
 * UNAVAILABLE or DEADLINE_EXCEEDED.  That makes "the server stopped reading"
 * observable without timing: a Ping (answered at once when read) sent
 * behind more parked reads than max_pending_per_conn allows is answered only
 * after the first max_pending_per_conn reads have timed out.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/e2e.h"

#define METHOD_PING  1
#define METHOD_RANGE 10
#define METHOD_PUT   11
#define METHOD_TXN   13

/* The limits the single-node fixture runs with. */
#define LIM_FRAME   16384
#define LIM_KEY     64
#define LIM_VALUE   1024
#define LIM_TXN_OPS 4
#define LIM_CONNS   4

static struct e2e_server srv;

/* ---- raw frames ------------------------------------------------------------
 */

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    }
}

static void send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        ck_assert_int_gt(w, 0);
        p += w;
        len -= (size_t)w;
    }
}

static void send_frame(int fd, uint16_t method, uint64_t id, const void *body,
                       size_t len)
{
    uint8_t h[16];
    put_be(h, len, 4);
    put_be(h + 4, method, 2);
    h[6] = 0;
    h[7] = 1;
    put_be(h + 8, id, 8);
    send_all(fd, h, sizeof h);
    if (len > 0) {
        send_all(fd, body, len);
    }
}

static void send_msg(int fd, uint16_t method, uint64_t id,
                     const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(m, buf);
    send_frame(fd, method, id, buf, n);
    free(buf);
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
    uint64_t id;
    int status; /* 0: OK */
    char message[256];
};

/* One reply frame; false when the connection closed first. */
static bool read_reply(int fd, struct reply *r)
{
    uint8_t h[16];
    if (!read_full(fd, h, sizeof h)) {
        return false;
    }
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                   (uint32_t)h[2] << 8 | h[3];
    r->id = 0;
    for (int i = 0; i < 8; i++) {
        r->id = r->id << 8 | h[8 + i];
    }
    uint8_t *body = malloc(len + 1);
    ck_assert(read_full(fd, body, len));
    r->status = 0;
    r->message[0] = '\0';
    if (h[6] & 0x02) {
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

static bool closed_by_server(int fd)
{
    uint8_t b[64];
    return read(fd, b, sizeof b) <= 0;
}

/* Sends a Put of key_len bytes of 'k' and value_len bytes of 'v' and
 * returns the status of its reply. */
static int put_status(int fd, uint64_t id, size_t key_len, size_t value_len,
                      char *msg, size_t msg_cap)
{
    uint8_t *key = malloc(key_len + 1), *val = malloc(value_len + 1);
    memset(key, 'k', key_len);
    memset(val, 'v', value_len);
    Metastore__PutRequest p = METASTORE__PUT_REQUEST__INIT;
    p.key.data = key;
    p.key.len = key_len;
    p.value.data = val;
    p.value.len = value_len;
    send_msg(fd, METHOD_PUT, id, &p.base);
    free(key);
    free(val);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, id);
    if (msg != NULL) {
        snprintf(msg, msg_cap, "%s", r.message);
    }
    return r.status;
}

/* ---- single node with small limits -----------------------------------------
 */

static void setup_small(void)
{
    static const char *extra[] = {"--set", "server.max_frame_bytes=16KiB",
                                  "--set", "server.max_key_bytes=64",
                                  "--set", "server.max_value_bytes=1KiB",
                                  "--set", "server.max_txn_ops=4",
                                  "--set", "server.max_connections=4",
                                  NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void teardown(void)
{
    e2e_server_stop(&srv, SIGTERM, 10000);
    e2e_server_cleanup(&srv);
}

START_TEST(frame_at_max_frame_bytes_is_read_one_byte_over_is_refused)
{
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    /* Exactly the limit: read and parsed (as a bad PutRequest body). */
    uint8_t *body = malloc(LIM_FRAME + 1);
    memset(body, 0xff, LIM_FRAME + 1);
    send_frame(fd, METHOD_PUT, 1, body, LIM_FRAME);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 1);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    /* One byte more: RESOURCE_EXHAUSTED by its id, then the close. */
    send_frame(fd, METHOD_PUT, 2, body, LIM_FRAME + 1);
    free(body);
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 2);
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__RESOURCE_EXHAUSTED);
    ck_assert(closed_by_server(fd));
    close(fd);
    ck_assert(e2e_server_log_contains(&srv, "exceeds server.max_frame_bytes"));
}
END_TEST

START_TEST(key_at_max_key_bytes_is_stored_one_byte_over_is_refused)
{
    int fd = e2e_connect(srv.client_port);
    char msg[256];
    ck_assert_int_eq(put_status(fd, 1, LIM_KEY, 3, NULL, 0), 0);
    ck_assert_int_eq(put_status(fd, 2, LIM_KEY + 1, 3, msg, sizeof msg),
                     METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "limit is 64"));
    /* A range_end over the limit is refused too. */
    uint8_t end[LIM_KEY + 1];
    memset(end, 'z', sizeof end);
    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    q.key.data = (uint8_t *)"a";
    q.key.len = 1;
    q.range_end.data = end;
    q.range_end.len = sizeof end;
    send_msg(fd, METHOD_RANGE, 3, &q.base);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_int_eq(r.status, METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(r.message, "range_end"));
    close(fd);
}
END_TEST

START_TEST(value_at_max_value_bytes_is_stored_one_byte_over_is_refused)
{
    int fd = e2e_connect(srv.client_port);
    char msg[256];
    ck_assert_int_eq(put_status(fd, 1, 3, LIM_VALUE, NULL, 0), 0);
    ck_assert_int_eq(put_status(fd, 2, 3, LIM_VALUE + 1, msg, sizeof msg),
                     METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(msg, "value is 1025 bytes"));
    close(fd);
}
END_TEST

/* A txn with n_cmp compares and n_ops puts in its success branch. */
static int txn_status(int fd, uint64_t id, size_t n_cmp, size_t n_ops)
{
    Metastore__Compare cmp[LIM_TXN_OPS + 1];
    Metastore__Compare *cmps[LIM_TXN_OPS + 1];
    Metastore__PutRequest put[LIM_TXN_OPS + 1];
    Metastore__RequestOp op[LIM_TXN_OPS + 1];
    Metastore__RequestOp *ops[LIM_TXN_OPS + 1];
    char keys[LIM_TXN_OPS + 1][8];
    for (size_t i = 0; i <= LIM_TXN_OPS; i++) {
        snprintf(keys[i], sizeof keys[i], "t%zu", i);
        metastore__compare__init(&cmp[i]);
        cmp[i].key.data = (uint8_t *)keys[i];
        cmp[i].key.len = strlen(keys[i]);
        cmp[i].target = METASTORE__COMPARE__COMPARE_TARGET__VERSION;
        cmp[i].target_union_case = METASTORE__COMPARE__TARGET_UNION_VERSION;
        cmp[i].version = 0;
        cmps[i] = &cmp[i];
        metastore__put_request__init(&put[i]);
        put[i].key = cmp[i].key;
        put[i].value.data = (uint8_t *)"x";
        put[i].value.len = 1;
        metastore__request_op__init(&op[i]);
        op[i].request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT;
        op[i].request_put = &put[i];
        ops[i] = &op[i];
    }
    Metastore__TxnRequest t = METASTORE__TXN_REQUEST__INIT;
    t.n_compare = n_cmp;
    t.compare = cmps;
    t.n_success = n_ops;
    t.success = ops;
    send_msg(fd, METHOD_TXN, id, &t.base);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, id);
    if (r.status != 0) {
        ck_assert_ptr_nonnull(strstr(r.message, "limit 4"));
    }
    return r.status;
}

START_TEST(txn_at_max_txn_ops_runs_one_more_op_or_compare_is_refused)
{
    int fd = e2e_connect(srv.client_port);
    /* At the limit whether it counts compares and ops apart or together. */
    ck_assert_int_eq(txn_status(fd, 1, LIM_TXN_OPS / 2, LIM_TXN_OPS / 2), 0);
    ck_assert_int_eq(txn_status(fd, 2, 0, LIM_TXN_OPS + 1),
                     METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    ck_assert_int_eq(txn_status(fd, 3, LIM_TXN_OPS + 1, 1),
                     METASTORE__STATUS_CODE__INVALID_ARGUMENT);
    close(fd);
}
END_TEST

START_TEST(connection_past_max_connections_is_closed_others_keep_working)
{
    int fds[LIM_CONNS];
    struct reply r;
    for (int i = 0; i < LIM_CONNS; i++) {
        fds[i] = e2e_connect(srv.client_port);
        ck_assert_int_ge(fds[i], 0);
        send_frame(fds[i], METHOD_PING, (uint64_t)i + 1, NULL, 0);
        ck_assert(read_reply(fds[i], &r)); /* really accepted */
    }
    int extra = e2e_connect(srv.client_port);
    ck_assert_int_ge(extra, 0);
    ck_assert(closed_by_server(extra));
    close(extra);
    for (int i = 0; i < LIM_CONNS; i++) {
        send_frame(fds[i], METHOD_PING, 100 + (uint64_t)i, NULL, 0);
        ck_assert(read_reply(fds[i], &r));
        ck_assert_uint_eq(r.id, 100 + (uint64_t)i);
        close(fds[i]);
    }
    ck_assert(e2e_server_log_contains(&srv, "server.max_connections (4)"));
}
END_TEST

/* ---- a node that never has a leader
 * ------------------------------------------ */

#define LIM_PENDING 4

static void setup_leaderless(void)
{
    static char cluster[256];
    e2e_server_init(&srv);
    snprintf(cluster, sizeof cluster,
             "1=127.0.0.1:%u@127.0.0.1:%u,2=127.0.0.1:%u@127.0.0.1:%u,"
             "3=127.0.0.1:%u@127.0.0.1:%u",
             srv.peer_port, srv.client_port, e2e_free_port(), e2e_free_port(),
             e2e_free_port(), e2e_free_port());
    static const char *extra[] = {"--node-id",
                                  "1",
                                  "--initial-cluster",
                                  cluster,
                                  "--set",
                                  "server.request_timeout=700ms",
                                  "--set",
                                  "server.max_pending_per_conn=4",
                                  "--set",
                                  "server.max_frame_bytes=256KiB",
                                  "--set",
                                  "server.max_value_bytes=128KiB",
                                  NULL};
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

/* A linearizable RangeRequest padded with an unknown field to `pad` bytes
 * (protobuf keeps unknown fields, so the body stays valid). */
static void send_padded_range(int fd, uint64_t id, size_t pad)
{
    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    q.key.data = (uint8_t *)"k";
    q.key.len = 1;
    size_t n = metastore__range_request__get_packed_size(&q);
    uint8_t *buf = malloc(n + 16 + pad);
    metastore__range_request__pack(&q, buf);
    /* field 1000, wire type 2 (bytes): tag varint, length varint, data */
    uint32_t tag = 1000u << 3 | 2u;
    buf[n++] = (uint8_t)(tag | 0x80);
    buf[n++] = (uint8_t)(tag >> 7);
    size_t len = pad;
    while (len >= 0x80) {
        buf[n++] = (uint8_t)(len | 0x80);
        len >>= 7;
    }
    buf[n++] = (uint8_t)len;
    memset(buf + n, 'p', pad);
    send_frame(fd, METHOD_RANGE, id, buf, n + pad);
    free(buf);
}

static bool is_timeout_status(int status)
{
    return status == METASTORE__STATUS_CODE__UNAVAILABLE ||
           status == METASTORE__STATUS_CODE__DEADLINE_EXCEEDED;
}

START_TEST(read_without_leader_fails_after_request_timeout)
{
    int fd = e2e_connect(srv.client_port);
    Metastore__RangeRequest q = METASTORE__RANGE_REQUEST__INIT;
    q.key.data = (uint8_t *)"k";
    q.key.len = 1;
    uint64_t start = e2e_now_ms();
    send_msg(fd, METHOD_RANGE, 1, &q.base);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    uint64_t took = e2e_now_ms() - start;
    ck_assert_uint_eq(r.id, 1);
    ck_assert_msg(is_timeout_status(r.status), "status %d: %s", r.status,
                  r.message);
    /* Not before the deadline (a lower bound only: no upper bound is
     * asserted beyond the socket's 5 s receive timeout). */
    ck_assert_uint_ge(took, 690);
    /* A serializable read does not wait for a leader. */
    q.consistency = METASTORE__CONSISTENCY__SERIALIZABLE;
    send_msg(fd, METHOD_RANGE, 2, &q.base);
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 2);
    ck_assert_int_eq(r.status, 0);
    close(fd);
}
END_TEST

START_TEST(pipelining_past_max_pending_stops_reading_until_requests_finish)
{
    int fd = e2e_connect(srv.client_port);
    /* Eight parked reads of ~100 KiB each (so that no single read() of the
     * server's 64 KiB buffer completes two of them), then a Ping. */
    const uint64_t n_reads = 2 * LIM_PENDING;
    for (uint64_t id = 1; id <= n_reads; id++) {
        send_padded_range(fd, id, 100 * 1024);
    }
    send_frame(fd, METHOD_PING, 99, NULL, 0);
    /* The server holds at most LIM_PENDING of them at once and reads
     * nothing more meanwhile, so the Ping (answered as soon as it is read)
     * can only be read after at least n_reads - LIM_PENDING of the reads
     * have timed out.  Were the limit not enforced, it would come first. */
    bool seen[2 * LIM_PENDING + 1] = {false};
    int before_ping = 0;
    bool ping_seen = false;
    for (uint64_t i = 0; i < n_reads + 1; i++) {
        struct reply r;
        ck_assert(read_reply(fd, &r));
        if (r.id == 99) {
            ck_assert_int_eq(r.status, 0);
            ping_seen = true;
            continue;
        }
        ck_assert(r.id >= 1 && r.id <= n_reads && !seen[r.id]);
        seen[r.id] = true;
        ck_assert_msg(is_timeout_status(r.status), "status %d", r.status);
        if (!ping_seen) {
            before_ping++;
        }
    }
    ck_assert(ping_seen);
    ck_assert_int_ge(before_ping, (int)(n_reads - LIM_PENDING));
    close(fd);
}
END_TEST

START_TEST(without_pipelining_past_the_limit_ping_is_answered_first)
{
    /* The control case for the test above: within the limit, the Ping
     * overtakes the parked reads. */
    int fd = e2e_connect(srv.client_port);
    for (uint64_t id = 1; id < LIM_PENDING; id++) {
        send_padded_range(fd, id, 100 * 1024);
    }
    send_frame(fd, METHOD_PING, 99, NULL, 0);
    struct reply r;
    ck_assert(read_reply(fd, &r));
    ck_assert_uint_eq(r.id, 99);
    for (uint64_t i = 1; i < LIM_PENDING; i++) {
        ck_assert(read_reply(fd, &r));
        ck_assert(is_timeout_status(r.status));
    }
    close(fd);
}
END_TEST

/* ---- defaults
 * ------------------------------------------------------------------ */

START_TEST(every_limit_has_a_safe_default_in_print_config)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' --print-config", e2e_bin("metastored"));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    static const char *const want[] = {
        "max_frame_bytes: \"4MiB\"",  "max_connections: 1024",
        "max_pending_per_conn: 1024", "max_pending_reads: 10000",
        "max_key_bytes: \"4KiB\"",
        "max_value_bytes: \"1MiB\"",  "max_txn_ops: 128",
        "request_timeout: \"5s\"",    "client_listen: \"127.0.0.1:",
        "peer_listen: \"127.0.0.1:",  "admin_listen: \"127.0.0.1:",
        "enable_fault_hook: false",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        ck_assert_msg(strstr(out, want[i]) != NULL, "missing %s in:\n%s",
                      want[i], out);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("small limits");
    tcase_add_checked_fixture(tc, setup_small, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   frame_at_max_frame_bytes_is_read_one_byte_over_is_refused);
    tcase_add_test(tc, key_at_max_key_bytes_is_stored_one_byte_over_is_refused);
    tcase_add_test(tc,
                   value_at_max_value_bytes_is_stored_one_byte_over_is_refused);
    tcase_add_test(tc,
                   txn_at_max_txn_ops_runs_one_more_op_or_compare_is_refused);
    tcase_add_test(
        tc, connection_past_max_connections_is_closed_others_keep_working);
    suite_add_tcase(s, tc);

    TCase *tl = tcase_create("no leader");
    tcase_add_checked_fixture(tl, setup_leaderless, teardown);
    tcase_set_timeout(tl, 60);
    tcase_add_test(tl, read_without_leader_fails_after_request_timeout);
    tcase_add_test(
        tl, pipelining_past_max_pending_stops_reading_until_requests_finish);
    tcase_add_test(tl,
                   without_pipelining_past_the_limit_ping_is_answered_first);
    suite_add_tcase(s, tl);

    TCase *td = tcase_create("defaults");
    tcase_add_test(td, every_limit_has_a_safe_default_in_print_config);
    suite_add_tcase(s, td);
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
