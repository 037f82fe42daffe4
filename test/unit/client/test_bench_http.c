/*
 * test_bench_http.c - the wire side of `metastore-bench --http`
 * (client/bench_http.c): requests in etcd's JSON gateway shape with base64
 * keys and values, and the response parser's framing, error codes and
 * refusals.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/bench_util.h"

START_TEST(requests_are_etcd_gateway_posts_with_base64)
{
    char out[512];
    size_t n = bench_http_request(out, sizeof out, BENCH_HTTP_RANGE, "h:1",
                                  "foo", 3, NULL, 0, false);
    ck_assert_uint_lt(n, sizeof out);
    out[n] = '\0';
    ck_assert_str_eq(out, "POST /v3/kv/range HTTP/1.1\r\nHost: h:1\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: 14\r\n\r\n{\"key\":\"Zm9v\"}");
    n = bench_http_request(out, sizeof out, BENCH_HTTP_RANGE, "h", "ab", 2,
                           NULL, 0, true);
    out[n] = '\0';
    ck_assert_ptr_nonnull(
        strstr(out, "{\"key\":\"YWI=\",\"serializable\":true}"));
    const uint8_t v[] = {0xff, 0x00, 0x10, 0x20};
    n = bench_http_request(out, sizeof out, BENCH_HTTP_PUT, "h", "a", 1, v,
                           sizeof v, false);
    out[n] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "POST /v3/kv/put "));
    ck_assert_ptr_nonnull(
        strstr(out, "{\"key\":\"YQ==\",\"value\":\"/wAQIA==\"}"));
    n = bench_http_request(out, sizeof out, BENCH_HTTP_STATUS, "h", NULL, 0,
                           NULL, 0, false);
    out[n] = '\0';
    ck_assert_ptr_nonnull(strstr(out, "POST /v3/maintenance/status "));
    /* Too small a buffer: the size needed, nothing claimed written. */
    char tiny[8];
    ck_assert_uint_gt(bench_http_request(tiny, sizeof tiny, BENCH_HTTP_RANGE,
                                         "h", "foo", 3, NULL, 0, false),
                      sizeof tiny);
}
END_TEST

START_TEST(responses_are_framed_by_content_length)
{
    const char *two = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
                      "HTTP/1.1 400 Bad Request\r\nContent-Length: 31\r\n\r\n"
                      "{\"error\":\"x\",\"code\":3,\"msg\":\"\"}";
    size_t used = 0;
    int code = -1;
    size_t n = strlen(two);
    ck_assert_int_eq(bench_http_response((const uint8_t *)two, n, &used, &code),
                     1);
    ck_assert_int_eq(code, 0);
    ck_assert_uint_eq(used, 40);
    size_t rest = n - used;
    ck_assert_int_eq(
        bench_http_response((const uint8_t *)two + used, rest, &used, &code),
        1);
    ck_assert_int_eq(code, 3);
    /* Cut anywhere: incomplete, never a false answer. */
    for (size_t k = 0; k < 40; k++) {
        ck_assert_int_eq(
            bench_http_response((const uint8_t *)two, k, &used, &code), 0);
    }
    /* An error body without a code: the HTTP status. */
    const char *nf =
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";
    ck_assert_int_eq(
        bench_http_response((const uint8_t *)nf, strlen(nf), &used, &code), 1);
    ck_assert_int_eq(code, 404);
    /* 100 Continue is skipped. */
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    ck_assert_int_eq(
        bench_http_response((const uint8_t *)cont, strlen(cont), &used, &code),
        1);
    ck_assert_int_eq(code, -100);
    ck_assert_uint_eq(used, strlen(cont));
    /* Not HTTP, or no Content-Length: refused. */
    const char *junk = "\x00\x00\x00\x10garbage";
    ck_assert_int_eq(
        bench_http_response((const uint8_t *)junk, 11, &used, &code), -1);
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                          "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    ck_assert_int_eq(bench_http_response((const uint8_t *)chunked,
                                         strlen(chunked), &used, &code),
                     -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_http");
    TCase *tc = tcase_create("bench_http");
    tcase_add_test(tc, requests_are_etcd_gateway_posts_with_base64);
    tcase_add_test(tc, responses_are_framed_by_content_length);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
