/*
 * test_auth_ratelimit.c - the failed-authentication limit holds when the
 * guesses come in parallel.  The password check runs on the thread pool,
 * so a client that pipelines many AUTHENTICATE frames on one connection
 * has them all in flight before the first failure is counted; the limit
 * must count the checks in flight too, or auth.max_failures bounds nothing.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/metastore.h"
#include "proto/metastore.pb-c.h"
#include "test/e2e/helpers/authfix.h"
#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/fixture.h"
#include "test/e2e/helpers/raw.h"

#define METHOD_AUTHENTICATE 70 /* client/internal.h MS__METHOD_AUTHENTICATE */
#define STATUS_RESOURCE_EXHAUSTED 8
#define STATUS_UNAUTHENTICATED 16
#define GUESSES 12

static struct e2e_server srv;

static void setup(void)
{
    /* Costly checks, so that all the guesses are in flight together. */
    static const char *const flags[] = {
        "--set", "auth.password_iterations=200000", "--set",
        "auth.max_failures=3", "--set", "auth.lockout=1h", NULL};
    e2e_server_init(&srv);
    ck_assert_int_eq(e2e_server_start(&srv, flags, 10000), 0);
}

static void teardown(void)
{
    bool report = e2e_server_finish(&srv);
    ck_assert_msg(!report, "the server logged a sanitizer report");
}

static size_t auth_frame(uint8_t *buf, size_t cap, uint64_t id,
                         const char *user, const char *pw)
{
    Metastore__AuthenticateRequest q = METASTORE__AUTHENTICATE_REQUEST__INIT;
    q.name = (char *)user;
    q.password = (char *)pw;
    size_t n = metastore__authenticate_request__get_packed_size(&q);
    if (16 + n > cap) {
        return 0;
    }
    memset(buf, 0, 16);
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    buf[4] = (uint8_t)(METHOD_AUTHENTICATE >> 8);
    buf[5] = (uint8_t)METHOD_AUTHENTICATE;
    buf[7] = 1; /* version */
    for (int i = 0; i < 8; i++) {
        buf[8 + i] = (uint8_t)(id >> (8 * (7 - i)));
    }
    metastore__authenticate_request__pack(&q, buf + 16);
    return 16 + n;
}

START_TEST(pipelined_wrong_passwords_count_against_the_failure_limit)
{
    const char *eps[] = {srv.endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 30000};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_create(eps, 1, &o, &c), 0);
    e2e_auth_make_users(c); /* alice exists, auth enabled */
    ms_client_close(c);

    uint8_t buf[GUESSES * 64];
    size_t len = 0;
    for (uint64_t i = 0; i < GUESSES; i++) {
        char pw[16];
        snprintf(pw, sizeof pw, "guess%u", (unsigned)i);
        size_t n = auth_frame(buf + len, sizeof buf - len, i + 1, "alice", pw);
        ck_assert_uint_gt(n, 0);
        len += n;
    }
    int fd = e2e_connect(srv.client_port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(raw_send(fd, buf, len), 0); /* all in one write */

    int checked = 0, refused = 0;
    for (int i = 0; i < GUESSES; i++) {
        struct raw_reply r;
        /* 5 s receive timeout per reply; the checks take far less. */
        ck_assert_int_eq(raw_read_reply(fd, &r), 0);
        if (r.status == STATUS_UNAUTHENTICATED) {
            checked++;
        } else {
            ck_assert_int_eq(r.status, STATUS_RESOURCE_EXHAUSTED);
            refused++;
        }
    }
    close(fd);
    /* At most auth.max_failures passwords were tried; the rest refused. */
    ck_assert_int_le(checked, 3);
    ck_assert_int_ge(checked, 1);
    ck_assert_int_eq(checked + refused, GUESSES);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth_ratelimit");
    TCase *tc = tcase_create("parallel");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pipelined_wrong_passwords_count_against_the_failure_limit);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? 0 : 1;
}
