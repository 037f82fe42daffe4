/*
 * test_http.c - the admin endpoint's HTTP/1.1 request parser
 * (server/http.h): what it accepts, how it frames bodies and pipelined
 * requests when bytes arrive in arbitrary pieces, and every way it refuses
 * a request, with the status each refusal maps to.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

static struct http_parser p;

static void setup(void)
{
    ck_assert_int_eq(http_parser_init(&p, NULL), 0);
}

static void teardown(void)
{
    http_parser_close(&p);
}

/* Feeds all of s at once; returns the result, *used the bytes taken. */
static int feed_all(const char *s, size_t *used)
{
    size_t u = 0;
    int rv = http_parser_feed(&p, s, strlen(s), &u);
    if (used != NULL) {
        *used = u;
    }
    return rv;
}

/* Feeds s one byte at a time, stopping at the first nonzero result. */
static int feed_bytes(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        size_t u = 0;
        int rv = http_parser_feed(&p, s + i, 1, &u);
        if (rv != 0) {
            ck_assert_uint_eq(u, 1);
            return rv;
        }
        ck_assert_uint_eq(u, 1);
    }
    return 0;
}

static int parse_one(const char *s)
{
    http_parser_reset(&p);
    return feed_all(s, NULL);
}

START_TEST(parses_get_with_query_and_headers)
{
    size_t used = 0;
    const char *req = "GET /metrics?name=x&y=1 HTTP/1.1\r\n"
                      "Host: localhost:2381\r\n"
                      "User-Agent:   curl/8.0  \r\n"
                      "Accept: */*\r\n\r\n";
    ck_assert_int_eq(feed_all(req, &used), HTTP_DONE);
    ck_assert_uint_eq(used, strlen(req));
    const struct http_request *r = http_parser_request(&p);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->method, "GET");
    ck_assert_str_eq(r->target, "/metrics?name=x&y=1");
    ck_assert_str_eq(r->path, "/metrics");
    ck_assert_str_eq(r->query, "name=x&y=1");
    ck_assert_int_eq(r->version_minor, 1);
    ck_assert(r->keep_alive);
    ck_assert_uint_eq(r->n_headers, 3);
    ck_assert_str_eq(http_request_header(r, "user-agent"), "curl/8.0");
    ck_assert_str_eq(http_request_header(r, "HOST"), "localhost:2381");
    ck_assert_ptr_null(http_request_header(r, "Cookie"));
    ck_assert_uint_eq(r->body_len, 0);
    ck_assert_ptr_null(r->body);
}
END_TEST

START_TEST(request_fed_one_byte_at_a_time_gives_the_same_result)
{
    const char *req = "POST /x HTTP/1.1\r\nHost: h\r\n"
                      "Content-Length: 11\r\n\r\nhello world";
    ck_assert_ptr_null(http_parser_request(&p));
    ck_assert_int_eq(feed_bytes(req), HTTP_DONE);
    const struct http_request *r = http_parser_request(&p);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->method, "POST");
    ck_assert_str_eq(r->path, "/x");
    ck_assert_str_eq(r->query, "");
    ck_assert_uint_eq(r->body_len, 11);
    ck_assert_mem_eq(r->body, "hello world", 11);
}
END_TEST

START_TEST(pipelined_requests_are_consumed_one_at_a_time)
{
    const char *two = "GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"
                      "abcGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c";
    size_t len = strlen(two), off = 0, used = 0;
    ck_assert_int_eq(http_parser_feed(&p, two, len, &used), HTTP_DONE);
    ck_assert_str_eq(http_parser_request(&p)->path, "/a");
    ck_assert_mem_eq(http_parser_request(&p)->body, "abc", 3);
    /* Feeding a finished parser takes nothing. */
    size_t again = 99;
    ck_assert_int_eq(http_parser_feed(&p, two + used, len - used, &again),
                     HTTP_DONE);
    ck_assert_uint_eq(again, 0);
    off += used;
    http_parser_reset(&p);
    ck_assert_int_eq(http_parser_feed(&p, two + off, len - off, &used),
                     HTTP_DONE);
    ck_assert_str_eq(http_parser_request(&p)->path, "/b");
    off += used;
    http_parser_reset(&p);
    ck_assert_int_eq(http_parser_feed(&p, two + off, len - off, &used), 0);
    ck_assert_uint_eq(off + used, len); /* the partial third is held */
    ck_assert_int_eq(feed_all(" HTTP/1.1\r\nHost: h\r\n\r\n", NULL), HTTP_DONE);
    ck_assert_str_eq(http_parser_request(&p)->path, "/c");
}
END_TEST

START_TEST(keep_alive_follows_version_and_connection_header)
{
    ck_assert_int_eq(parse_one("GET / HTTP/1.0\r\n\r\n"), HTTP_DONE);
    ck_assert(!http_parser_request(&p)->keep_alive);
    ck_assert_int_eq(
        parse_one("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"),
        HTTP_DONE);
    ck_assert(http_parser_request(&p)->keep_alive);
    ck_assert_int_eq(
        parse_one("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
        HTTP_DONE);
    ck_assert(!http_parser_request(&p)->keep_alive);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost: h\r\nConnection: "
                               "TE, Close\r\n\r\n"),
                     HTTP_DONE);
    ck_assert(!http_parser_request(&p)->keep_alive);
}
END_TEST

START_TEST(empty_lines_before_the_request_line_are_skipped)
{
    ck_assert_int_eq(feed_bytes("\r\n\r\nGET /health HTTP/1.1\r\nHost: h\r\n"
                                "\r\n"),
                     HTTP_DONE);
    ck_assert_str_eq(http_parser_request(&p)->path, "/health");
}
END_TEST

START_TEST(transfer_encoding_is_refused_as_not_implemented)
{
    int rv = parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n");
    ck_assert_int_eq(rv, HTTP_EUNSUPPORTED);
    ck_assert_int_eq(http_error_status(rv), 501);
}
END_TEST

START_TEST(lines_must_end_in_crlf)
{
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\n\n"), HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost: h\n\r\n"),
                     HTTP_EBADHEADER);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n"),
                     HTTP_EBADHEADER);
    ck_assert_int_eq(http_error_status(HTTP_EBADHEADER), 400);
}
END_TEST

START_TEST(malformed_header_fields_are_refused)
{
    /* obsolete line folding */
    ck_assert_int_eq(
        parse_one("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
        HTTP_EBADHEADER);
    /* whitespace between name and colon */
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
                     HTTP_EBADHEADER);
    /* no colon, empty name, control character in the value */
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost h\r\n\r\n"),
                     HTTP_EBADHEADER);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\n: h\r\n\r\n"),
                     HTTP_EBADHEADER);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost: a\x01z\r\n\r\n"),
                     HTTP_EBADHEADER);
    /* a NUL byte anywhere */
    http_parser_reset(&p);
    size_t used;
    ck_assert_int_eq(http_parser_feed(&p, "GET /\0 HTTP/1.1\r\n", 17, &used),
                     HTTP_EBADREQUEST);
}
END_TEST

START_TEST(malformed_request_lines_are_refused)
{
    ck_assert_int_eq(parse_one("GET\r\n\r\n"), HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n"),
                     HTTP_EBADREQUEST);
    ck_assert_int_eq(parse_one("GET / FTP/1.1\r\nHost: h\r\n\r\n"),
                     HTTP_EBADREQUEST);
    /* A TLS ClientHello is refused at its first byte. */
    http_parser_reset(&p);
    size_t used = 0;
    ck_assert_int_eq(http_parser_feed(&p, "\x16\x03\x01\x02\x00", 5, &used),
                     HTTP_EBADREQUEST);
    ck_assert_uint_eq(used, 1);
}
END_TEST

START_TEST(unknown_http_versions_get_505)
{
    int rv = parse_one("GET / HTTP/2.0\r\nHost: h\r\n\r\n");
    ck_assert_int_eq(rv, HTTP_EVERSION);
    ck_assert_int_eq(http_error_status(rv), 505);
    ck_assert_int_eq(parse_one("GET / HTTP/1.2\r\nHost: h\r\n\r\n"),
                     HTTP_EVERSION);
}
END_TEST

START_TEST(http11_needs_exactly_one_host)
{
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\n\r\n"), HTTP_ENOHOST);
    ck_assert_int_eq(parse_one("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                     HTTP_ENOHOST);
    ck_assert_int_eq(parse_one("GET / HTTP/1.0\r\n\r\n"), HTTP_DONE);
}
END_TEST

START_TEST(content_length_must_be_digits_and_agree)
{
    ck_assert_int_eq(parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: -1\r\n\r\n"),
                     HTTP_EBADLENGTH);
    ck_assert_int_eq(parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 1x\r\n\r\n"),
                     HTTP_EBADLENGTH);
    ck_assert_int_eq(parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: \r\n\r\n"),
                     HTTP_EBADLENGTH);
    ck_assert_int_eq(
        parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                  "Content-Length: 2\r\nContent-Length: 3\r\n\r\n"),
        HTTP_EBADLENGTH);
    ck_assert_int_eq(parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 2\r\nContent-Length: 2\r\n\r\n"
                               "ok"),
                     HTTP_DONE);
    ck_assert_uint_eq(http_parser_request(&p)->body_len, 2);
}
END_TEST

START_TEST(body_over_the_limit_is_refused_before_it_arrives)
{
    int rv = parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                       "Content-Length: 65537\r\n\r\n");
    ck_assert_int_eq(rv, HTTP_EBODYTOOBIG);
    ck_assert_int_eq(http_error_status(rv), 413);
    ck_assert_int_eq(parse_one("POST / HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 99999999999999999999999\r\n"
                               "\r\n"),
                     HTTP_EBODYTOOBIG);
}
END_TEST

START_TEST(long_request_line_is_refused_before_its_end)
{
    size_t n = 9000;
    char *line = malloc(n + 1);
    memcpy(line, "GET /", 5);
    memset(line + 5, 'a', n - 5);
    line[n] = '\0';
    int rv = feed_all(line, NULL); /* no CRLF ever came */
    ck_assert_int_eq(rv, HTTP_EURITOOLONG);
    ck_assert_int_eq(http_error_status(rv), 414);
    free(line);
}
END_TEST

START_TEST(header_limits_give_431)
{
    struct http_limits lim = {
        .max_line = 64, .max_headers = 3, .max_head_bytes = 256, .max_body = 0};
    http_parser_close(&p);
    ck_assert_int_eq(http_parser_init(&p, &lim), 0);
    /* a header line over max_line */
    char req[512];
    snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: h\r\nX: %070d\r\n\r\n",
             0);
    int rv = parse_one(req);
    ck_assert_int_eq(rv, HTTP_EHEADERSTOOBIG);
    ck_assert_int_eq(http_error_status(rv), 431);
    /* more than max_headers fields */
    ck_assert_int_eq(parse_one("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
                               "D: 4\r\n\r\n"),
                     HTTP_EHEADERSTOOBIG);
    ck_assert_int_eq(parse_one("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
                               "\r\n"),
                     HTTP_DONE);
    /* a head over max_head_bytes made of legal lines */
    snprintf(req, sizeof req,
             "GET / HTTP/1.0\r\nA: %050d\r\nB: %050d\r\nC: %050d\r\n"
             "D: %050d\r\nE: %050d\r\n\r\n",
             1, 2, 3, 4, 5);
    lim.max_headers = 10;
    http_parser_close(&p);
    ck_assert_int_eq(http_parser_init(&p, &lim), 0);
    ck_assert_int_eq(parse_one(req), HTTP_EHEADERSTOOBIG);
    /* max_body 0: a body is refused */
    ck_assert_int_eq(parse_one("POST / HTTP/1.0\r\nContent-Length: 1\r\n\r\n"),
                     HTTP_EBODYTOOBIG);
}
END_TEST

START_TEST(failed_parser_stays_failed_until_reset)
{
    ck_assert_int_eq(feed_all("BAD\r\n", NULL), HTTP_EBADREQUEST);
    size_t used = 7;
    ck_assert_int_eq(http_parser_feed(&p, "GET / HTTP/1.0\r\n\r\n", 18, &used),
                     HTTP_EFAILED);
    ck_assert_uint_eq(used, 0);
    ck_assert_ptr_null(http_parser_request(&p));
    http_parser_reset(&p);
    ck_assert_int_eq(feed_all("GET / HTTP/1.0\r\n\r\n", NULL), HTTP_DONE);
}
END_TEST

START_TEST(error_codes_have_text_and_status)
{
    ck_assert_str_eq(http_strerror(HTTP_EUNSUPPORTED),
                     "Transfer-Encoding is not supported");
    ck_assert_str_eq(http_strerror(-999), "unknown error");
    ck_assert_int_eq(http_error_status(-999), 400);
    ck_assert_str_eq(http_reason(404), "Not Found");
    ck_assert_str_eq(http_reason(599), "Error");
}
END_TEST

START_TEST(head_is_available_before_the_body_arrives)
{
    const char *h = "POST /v3/kv/put HTTP/1.1\r\nHost: x\r\n"
                    "Expect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    ck_assert_ptr_null(http_parser_head(&p));
    ck_assert_int_eq(feed_all(h, NULL), 0);
    const struct http_request *r = http_parser_head(&p);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(http_request_header(r, "expect"), "100-continue");
    ck_assert_uint_eq(r->body_len, 4);
    ck_assert_ptr_null(r->body);
    ck_assert_ptr_null(http_parser_request(&p));
    ck_assert_int_eq(feed_all("abcd", NULL), HTTP_DONE);
    ck_assert_ptr_nonnull(http_parser_head(&p)->body);
    http_parser_reset(&p);
    ck_assert_ptr_null(http_parser_head(&p));
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("parser");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, parses_get_with_query_and_headers);
    tcase_add_test(tc, request_fed_one_byte_at_a_time_gives_the_same_result);
    tcase_add_test(tc, pipelined_requests_are_consumed_one_at_a_time);
    tcase_add_test(tc, keep_alive_follows_version_and_connection_header);
    tcase_add_test(tc, empty_lines_before_the_request_line_are_skipped);
    tcase_add_test(tc, transfer_encoding_is_refused_as_not_implemented);
    tcase_add_test(tc, lines_must_end_in_crlf);
    tcase_add_test(tc, malformed_header_fields_are_refused);
    tcase_add_test(tc, malformed_request_lines_are_refused);
    tcase_add_test(tc, unknown_http_versions_get_505);
    tcase_add_test(tc, http11_needs_exactly_one_host);
    tcase_add_test(tc, content_length_must_be_digits_and_agree);
    tcase_add_test(tc, body_over_the_limit_is_refused_before_it_arrives);
    tcase_add_test(tc, long_request_line_is_refused_before_its_end);
    tcase_add_test(tc, header_limits_give_431);
    tcase_add_test(tc, failed_parser_stays_failed_until_reset);
    tcase_add_test(tc, error_codes_have_text_and_status);
    tcase_add_test(tc, head_is_available_before_the_body_arrives);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
