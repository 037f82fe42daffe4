/*
 * test_cli_parse.c - metastore-cli's parsers: durations, endpoint lists,
 * quoted words, etcdctl's txn syntax (valid and invalid lines), member ids
 * in hex or decimal and the --initial-cluster line of `member add`.
 */
#include "client/cli_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool mem_is(const void *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

START_TEST(duration_accepts_go_syntax)
{
    uint64_t ns = 0;
    ck_assert_int_eq(mscli_duration_parse("2s", &ns), 0);
    ck_assert_uint_eq(ns, 2000000000ull);
    ck_assert_int_eq(mscli_duration_parse("500ms", &ns), 0);
    ck_assert_uint_eq(ns, 500000000ull);
    ck_assert_int_eq(mscli_duration_parse("1m30s", &ns), 0);
    ck_assert_uint_eq(ns, 90000000000ull);
    ck_assert_int_eq(mscli_duration_parse("1.5s", &ns), 0);
    ck_assert_uint_eq(ns, 1500000000ull);
    ck_assert_int_eq(mscli_duration_parse("250us", &ns), 0);
    ck_assert_uint_eq(ns, 250000ull);
    ck_assert_int_eq(mscli_duration_parse("250\xc2\xb5s", &ns), 0);
    ck_assert_uint_eq(ns, 250000ull);
    ck_assert_int_eq(mscli_duration_parse("1h", &ns), 0);
    ck_assert_uint_eq(ns, 3600000000000ull);
    ck_assert_int_eq(mscli_duration_parse("0", &ns), 0);
    ck_assert_uint_eq(ns, 0);
    ck_assert_int_eq(mscli_duration_parse(".5ms", &ns), 0);
    ck_assert_uint_eq(ns, 500000ull);
}
END_TEST

START_TEST(duration_rejects_missing_or_unknown_units)
{
    uint64_t ns = 0;
    ck_assert_int_eq(mscli_duration_parse("", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("5", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("5x", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("-1s", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("s", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("1s2", &ns), MS_EINVAL);
    ck_assert_int_eq(mscli_duration_parse("99999999999999999999h", &ns),
                     MS_EINVAL);
}
END_TEST

START_TEST(endpoint_list_splits_and_validates)
{
    char **eps = NULL;
    size_t n = 0;
    char err[128] = "";
    ck_assert_int_eq(mscli_endpoints_parse("127.0.0.1:2379, 10.0.0.2:2380,"
                                           "[::1]:2379",
                                           &eps, &n, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(eps[0], "127.0.0.1:2379");
    ck_assert_str_eq(eps[1], "10.0.0.2:2380");
    ck_assert_str_eq(eps[2], "[::1]:2379");
    ck_assert_ptr_null(eps[3]);
    mscli_endpoints_free(eps);

    ck_assert_int_eq(
        mscli_endpoints_parse("a:1,,b:2", &eps, &n, err, sizeof(err)),
        MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "empty endpoint"));
    ck_assert_ptr_null(eps);
    ck_assert_int_eq(
        mscli_endpoints_parse("a:99999", &eps, &n, err, sizeof(err)),
        MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "a:99999"));
    ck_assert_int_eq(
        mscli_endpoints_parse("https://a:1", &eps, &n, err, sizeof(err)),
        MS_EINVAL);
}
END_TEST

START_TEST(endpoint_parse_handles_forms)
{
    char host[64];
    uint16_t port = 0;
    ck_assert_int_eq(ms_endpoint_parse("node1:2380", host, sizeof(host), &port),
                     0);
    ck_assert_str_eq(host, "node1");
    ck_assert_uint_eq(port, 2380);
    ck_assert_int_eq(
        ms_endpoint_parse("http://127.0.0.1:2379/", host, sizeof(host), &port),
        0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 2379);
    ck_assert_int_eq(
        ms_endpoint_parse("[fe80::1]:12", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "fe80::1");
    ck_assert_uint_eq(port, 12);
    ck_assert_int_eq(ms_endpoint_parse("localhost", host, sizeof(host), &port),
                     0);
    ck_assert_uint_eq(port, MS_DEFAULT_PORT);
    ck_assert_int_eq(ms_endpoint_parse(":2379", host, sizeof(host), &port),
                     MS_EINVAL);
    ck_assert_int_eq(ms_endpoint_parse("h:0", host, sizeof(host), &port),
                     MS_EINVAL);
    ck_assert_int_eq(ms_endpoint_parse("h:12a", host, sizeof(host), &port),
                     MS_EINVAL);
    ck_assert_int_eq(ms_endpoint_parse("[::1", host, sizeof(host), &port),
                     MS_EINVAL);
    ck_assert_int_eq(
        ms_endpoint_parse("averyveryverylonghostname:1", host, 8, &port),
        MS_EINVAL);
}
END_TEST

START_TEST(words_split_on_blanks_and_unquote)
{
    char **w = NULL;
    int n = mscli_split_words("put  \"a b\" \"x\\\"y\\n\" plain", &w);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(w[0], "put");
    ck_assert_str_eq(w[1], "a b");
    ck_assert_str_eq(w[2], "x\"y\n");
    ck_assert_str_eq(w[3], "plain");
    for (int i = 0; i < n; i++) {
        free(w[i]);
    }
    free(w);
    ck_assert_int_eq(mscli_split_words("put \"open", &w), MS_EINVAL);
    ck_assert_int_eq(mscli_split_words("put \"bad\\q\"", &w), MS_EINVAL);
}
END_TEST

START_TEST(compare_lines_of_every_target_parse)
{
    struct mscli_txn t;
    char err[256] = "";
    mscli_txn_init(&t);
    ck_assert_int_eq(
        mscli_txn_parse_compare(&t, "value(\"k\") = \"v 1\"", err, sizeof(err)),
        0);
    ck_assert_int_eq(
        mscli_txn_parse_compare(&t, "mod(\"k\") > \"5\"", err, sizeof(err)), 0);
    ck_assert_int_eq(
        mscli_txn_parse_compare(&t, "version(\"k\") = \"0\"", err, sizeof(err)),
        0);
    ck_assert_int_eq(
        mscli_txn_parse_compare(&t, "create(\"k\") < \"3\"", err, sizeof(err)),
        0);
    ck_assert_int_eq(mscli_txn_parse_compare(&t, "  ver(\"a\\x00b\") != \"2\"",
                                             err, sizeof(err)),
                     0);
    ck_assert_int_eq(mscli_txn_parse_compare(&t, "m(\"a\", \"z\") > \"1\"", err,
                                             sizeof(err)),
                     0);
    ck_assert_int_eq(
        mscli_txn_parse_compare(&t, "lease(\"k\") = \"7\"", err, sizeof(err)),
        0);
    ck_assert_uint_eq(t.n_compares, 7);
    ck_assert_int_eq(t.compares[0].target, MS_CMP_VALUE);
    ck_assert_int_eq(t.compares[0].op, MS_CMP_EQUAL);
    ck_assert(mem_is(t.compares[0].key, t.compares[0].key_len, "k"));
    ck_assert(mem_is(t.compares[0].value, t.compares[0].value_len, "v 1"));
    ck_assert_int_eq(t.compares[1].target, MS_CMP_MOD);
    ck_assert_int_eq(t.compares[1].op, MS_CMP_GREATER);
    ck_assert_int_eq(t.compares[1].number, 5);
    ck_assert_int_eq(t.compares[2].target, MS_CMP_VERSION);
    ck_assert_int_eq(t.compares[2].number, 0);
    ck_assert_int_eq(t.compares[3].target, MS_CMP_CREATE);
    ck_assert_int_eq(t.compares[3].op, MS_CMP_LESS);
    ck_assert_int_eq(t.compares[4].op, MS_CMP_NOT_EQUAL);
    ck_assert_uint_eq(t.compares[4].key_len, 3);
    ck_assert_mem_eq(t.compares[4].key, "a\0b", 3);
    ck_assert(
        mem_is(t.compares[5].range_end, t.compares[5].range_end_len, "z"));
    ck_assert_int_eq(t.compares[6].target, MS_CMP_LEASE);
    ck_assert_int_eq(t.compares[6].number, 7);
    mscli_txn_free(&t);
}
END_TEST

/* Parses line as a compare; checks it fails with `want` in the message. */
static void bad_compare(const char *line, const char *want)
{
    struct mscli_txn t;
    char err[256] = "";
    mscli_txn_init(&t);
    ck_assert_int_eq(mscli_txn_parse_compare(&t, line, err, sizeof(err)),
                     MS_EINVAL);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\": got \"%s\", want \"%s\"",
                  line, err, want);
    ck_assert_uint_eq(t.n_compares, 0);
    mscli_txn_free(&t);
}

START_TEST(malformed_compare_lines_are_rejected_with_reasons)
{
    bad_compare("value k = v", "malformed comparison");
    bad_compare("size(\"k\") = \"1\"", "unknown target \"size\"");
    bad_compare("value(k) = \"v\"", "key must be a quoted string");
    bad_compare("value(\"k\" = \"v\"", "missing ')'");
    bad_compare("value(\"k\") == \"v\"", "unknown operator \"==\"");
    bad_compare("value(\"k\") >= \"v\"", "unknown operator \">=\"");
    bad_compare("value(\"k\") = v", "operand must be a quoted string");
    bad_compare("mod(\"k\") > \"five\"", "\"five\" is not an integer");
    bad_compare("value(\"k\") = \"v\" extra", "unexpected text");
    bad_compare("value(\"k) = \"v\"", "missing ')'");
}
END_TEST

START_TEST(request_lines_parse_put_get_del_with_flags)
{
    struct mscli_txn t;
    char err[256] = "";
    mscli_txn_init(&t);
    ck_assert_int_eq(
        mscli_txn_parse_op(&t, true, "put k \"hello world\"", err, sizeof(err)),
        0);
    ck_assert_int_eq(mscli_txn_parse_op(&t, true,
                                        "get a z --limit=3 --rev 4 "
                                        "--keys-only --consistency=s",
                                        err, sizeof(err)),
                     0);
    ck_assert_int_eq(mscli_txn_parse_op(&t, false, "del p --prefix --prev-kv",
                                        err, sizeof(err)),
                     0);
    ck_assert_int_eq(
        mscli_txn_parse_op(&t, false, "put k v --prev-kv", err, sizeof(err)),
        0);
    ck_assert_uint_eq(t.n_success, 2);
    ck_assert_uint_eq(t.n_failure, 2);
    ck_assert_int_eq(t.success[0].type, MS_OP_PUT);
    ck_assert(mem_is(t.success[0].key, t.success[0].key_len, "k"));
    ck_assert(
        mem_is(t.success[0].value, t.success[0].value_len, "hello world"));
    ck_assert_int_eq(t.success[1].type, MS_OP_RANGE);
    ck_assert(mem_is(t.success[1].range.range_end,
                     t.success[1].range.range_end_len, "z"));
    ck_assert_int_eq(t.success[1].range.limit, 3);
    ck_assert_int_eq(t.success[1].range.revision, 4);
    ck_assert(t.success[1].range.keys_only);
    ck_assert_int_eq(t.success[1].range.consistency,
                     MS_CONSISTENCY_SERIALIZABLE);
    ck_assert_int_eq(t.failure[0].type, MS_OP_DELETE);
    ck_assert(t.failure[0].range.prefix);
    ck_assert(t.failure[0].prev_kv);
    ck_assert(t.failure[1].prev_kv);
    mscli_txn_free(&t);
}
END_TEST

static void bad_op(const char *line, const char *want)
{
    struct mscli_txn t;
    char err[256] = "";
    mscli_txn_init(&t);
    ck_assert_int_eq(mscli_txn_parse_op(&t, true, line, err, sizeof(err)),
                     MS_EINVAL);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\": got \"%s\", want \"%s\"",
                  line, err, want);
    ck_assert_uint_eq(t.n_success, 0);
    mscli_txn_free(&t);
}

START_TEST(malformed_request_lines_are_rejected_with_reasons)
{
    bad_op("watch k", "unknown command \"watch\"");
    bad_op("put k", "put needs a key and a value");
    bad_op("get", "missing key");
    bad_op("get a b c", "too many arguments");
    bad_op("get k --prev-kv", "unknown flag \"--prev-kv\"");
    bad_op("put k v --prefix", "unknown flag \"--prefix\"");
    bad_op("get k --limit=x", "bad --limit");
    bad_op("get k --prefix --from-key", "conflict");
    bad_op("put \"k v", "unterminated quote");
}
END_TEST

/* Reads text as a whole transaction. */
static int read_txn(const char *text, struct mscli_txn *t, char *err,
                    size_t err_size, FILE *prompt)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(in);
    mscli_txn_init(t);
    int rc = mscli_txn_read(t, in, prompt, err, err_size);
    fclose(in);
    return rc;
}

START_TEST(txn_reads_three_sections_separated_by_blank_lines)
{
    struct mscli_txn t;
    char err[256] = "";
    ck_assert_int_eq(read_txn("mod(\"key1\") > \"0\"\n"
                              "value(\"key2\") = \"x\"\n"
                              "\n"
                              "put key1 \"overwrote-key1\"\n"
                              "\n"
                              "put key1 \"created-key1\"\n"
                              "put key2 \"some extra key\"\n"
                              "\n",
                              &t, err, sizeof(err), NULL),
                     0);
    ck_assert_uint_eq(t.n_compares, 2);
    ck_assert_uint_eq(t.n_success, 1);
    ck_assert_uint_eq(t.n_failure, 2);
    ck_assert(
        mem_is(t.failure[1].value, t.failure[1].value_len, "some extra key"));
    mscli_txn_free(&t);

    /* EOF ends the sections too; no compares is allowed. */
    ck_assert_int_eq(read_txn("\nget a\n", &t, err, sizeof(err), NULL), 0);
    ck_assert_uint_eq(t.n_compares, 0);
    ck_assert_uint_eq(t.n_success, 1);
    ck_assert_uint_eq(t.n_failure, 0);
    mscli_txn_free(&t);
}
END_TEST

START_TEST(txn_errors_name_the_line)
{
    struct mscli_txn t;
    char err[256] = "";
    ck_assert_int_eq(
        read_txn("value(\"a\") = \"1\"\n\nput a\n", &t, err, sizeof(err), NULL),
        MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 3:"));
    ck_assert_ptr_nonnull(strstr(err, "put needs a key and a value"));
    mscli_txn_free(&t);
}
END_TEST

START_TEST(interactive_txn_prints_section_prompts)
{
    struct mscli_txn t;
    char err[256] = "";
    char *out = NULL;
    size_t len = 0;
    FILE *prompt = open_memstream(&out, &len);
    ck_assert_int_eq(read_txn("\n\n\n", &t, err, sizeof(err), prompt), 0);
    fclose(prompt);
    ck_assert_str_eq(out, "compares:\n\nsuccess requests (get, put, del):\n"
                          "\nfailure requests (get, put, del):\n");
    free(out);
    mscli_txn_free(&t);
}
END_TEST

START_TEST(prefix_range_end_increments_last_byte)
{
    uint8_t *end = NULL;
    size_t n = 0;
    ck_assert_int_eq(ms_prefix_range_end("abc", 3, &end, &n), 0);
    ck_assert(mem_is(end, n, "abd"));
    free(end);
    ck_assert_int_eq(ms_prefix_range_end("a\xff\xff", 3, &end, &n), 0);
    ck_assert(mem_is(end, n, "b"));
    free(end);
    ck_assert_int_eq(ms_prefix_range_end("\xff", 1, &end, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(end[0], 0);
    free(end);
}
END_TEST

START_TEST(errors_have_names_and_texts)
{
    ck_assert_str_eq(ms_err_name(MS_ETIMEDOUT), "MS_ETIMEDOUT");
    ck_assert_str_eq(ms_strerror(MS_ETIMEDOUT), "deadline exceeded");
    ck_assert_str_eq(ms_err_name(-111), "ECONNREFUSED");
    ck_assert_str_ne(ms_strerror(-111), "unknown error");
    ck_assert_str_eq(ms_strerror(-99999), "unknown error");
    ck_assert_int_eq(ms_status_to_error(MS_STATUS_OK), 0);
    ck_assert_int_eq(ms_status_to_error(MS_STATUS_NOT_LEADER), MS_ENOTLEADER);
    ck_assert_int_eq(ms_status_to_error(MS_STATUS_COMPACTED), MS_ECOMPACTED);
    ck_assert_int_eq(ms_status_to_error(MS_STATUS_UNAVAILABLE),
                     MS_EUNAVAILABLE);
    ck_assert_int_eq(ms_status_to_error(77), MS_ESERVER);
    ck_assert_int_eq(ms_status_to_error(MS_STATUS_PERMISSION_DENIED),
                     MS_EDENIED);
    ck_assert_str_eq(ms_err_name(MS_EDENIED), "MS_EDENIED");
    ck_assert_str_eq(ms_status_name(MS_STATUS_NOT_LEADER), "NOT_LEADER");
}
END_TEST

START_TEST(member_ids_parse_as_hex_or_decimal)
{
    uint64_t c[2];
    size_t n = 0;
    ck_assert_int_eq(mscli_id_parse("8e9e05c52164694d", c, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c[0], 0x8e9e05c52164694dull);
    ck_assert_int_eq(mscli_id_parse("0x10", c, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c[0], 16);
    ck_assert_int_eq(mscli_id_parse("0XAB", c, &n), 0);
    ck_assert_uint_eq(c[0], 0xab);
    /* Digits only: decimal first, hex second. */
    ck_assert_int_eq(mscli_id_parse("12", c, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(c[0], 12);
    ck_assert_uint_eq(c[1], 0x12);
    /* One digit reads the same both ways. */
    ck_assert_int_eq(mscli_id_parse("3", c, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c[0], 3);
    /* A 63-bit decimal id (what metastored's random ids print as with
     * --node-id) is too long for hex: one candidate. */
    ck_assert_int_eq(mscli_id_parse("8578722608925012471", c, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(c[0], 8578722608925012471ull);
    ck_assert_int_eq(mscli_id_parse("18446744073709551615", c, &n), 0);
    ck_assert_uint_eq(c[0], UINT64_MAX);
}
END_TEST

START_TEST(malformed_member_ids_are_rejected)
{
    uint64_t c[2];
    size_t n = 9;
    ck_assert_int_eq(mscli_id_parse("", c, &n), MS_EINVAL);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(mscli_id_parse("0x", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("0", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("0x0", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("12g", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("-1", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse(" 1", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("1ffffffffffffffff", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse("99999999999999999999", c, &n), MS_EINVAL);
    ck_assert_int_eq(mscli_id_parse(NULL, c, &n), MS_EINVAL);
}
END_TEST

START_TEST(ambiguous_member_id_is_settled_by_the_member_list)
{
    struct ms_member m[2] = {
        {.id = 0x12, .name = "a", .peer_addr = "", .client_addr = ""},
        {.id = 3, .name = "b", .peer_addr = "", .client_addr = ""},
    };
    uint64_t c[2];
    size_t n = 0;
    uint64_t id = 0;
    ck_assert_int_eq(mscli_id_parse("12", c, &n), 0);
    /* Only the hex reading is a member: it wins. */
    ck_assert_int_eq(mscli_id_pick(c, n, m, 2, &id), 0);
    ck_assert_uint_eq(id, 0x12);
    /* Neither is: the decimal reading (the server says NOT_FOUND). */
    ck_assert_int_eq(mscli_id_pick(c, n, m + 1, 1, &id), 0);
    ck_assert_uint_eq(id, 12);
    /* Both are: refused. */
    m[1].id = 12;
    ck_assert_int_eq(mscli_id_pick(c, n, m, 2, &id), MS_EINVAL);
    ck_assert_int_eq(mscli_id_pick(c, 0, m, 2, &id), MS_EINVAL);
}
END_TEST

START_TEST(initial_cluster_lists_every_member_with_decimal_ids)
{
    struct ms_member m[2] = {
        {.id = 1,
         .name = "n1",
         .peer_addr = "h1:2380",
         .client_addr = "h1:2379"},
        {.id = 0x8e9e05c52164694dull,
         .name = "n2",
         .peer_addr = "h2:2380",
         .client_addr = "h2:2379"},
    };
    char *s = NULL;
    ck_assert_int_eq(mscli_initial_cluster(m, 2, &s), 0);
    ck_assert_str_eq(s, "1:n1=h1:2380@h1:2379,10276657743932975437:n2="
                        "h2:2380@h2:2379");
    free(s);
    ck_assert_int_eq(mscli_initial_cluster(m, 0, &s), 0);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli_parse");
    TCase *t = tcase_create("cli_parse");
    tcase_add_test(t, duration_accepts_go_syntax);
    tcase_add_test(t, duration_rejects_missing_or_unknown_units);
    tcase_add_test(t, endpoint_list_splits_and_validates);
    tcase_add_test(t, endpoint_parse_handles_forms);
    tcase_add_test(t, words_split_on_blanks_and_unquote);
    tcase_add_test(t, compare_lines_of_every_target_parse);
    tcase_add_test(t, malformed_compare_lines_are_rejected_with_reasons);
    tcase_add_test(t, request_lines_parse_put_get_del_with_flags);
    tcase_add_test(t, malformed_request_lines_are_rejected_with_reasons);
    tcase_add_test(t, txn_reads_three_sections_separated_by_blank_lines);
    tcase_add_test(t, txn_errors_name_the_line);
    tcase_add_test(t, interactive_txn_prints_section_prompts);
    tcase_add_test(t, prefix_range_end_increments_last_byte);
    tcase_add_test(t, errors_have_names_and_texts);
    tcase_add_test(t, member_ids_parse_as_hex_or_decimal);
    tcase_add_test(t, malformed_member_ids_are_rejected);
    tcase_add_test(t, ambiguous_member_id_is_settled_by_the_member_list);
    tcase_add_test(t, initial_cluster_lists_every_member_with_decimal_ids);
    suite_add_tcase(s, t);
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
