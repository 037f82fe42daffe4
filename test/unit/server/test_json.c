/*
 * test_json.c - the HTTP API's strict JSON parser, JSON writer and base64
 * (server/json.h): every JSON production accepted, every deviation from
 * RFC 8259 refused with its code and offset, integers read exactly at the
 * 64-bit edges, limits on depth and value count, writer commas and
 * escaping, base64 round trips in both alphabets.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/json.h"

static int parse(const char *text, struct json_doc *doc)
{
    size_t at = 0;
    return json_parse(text, strlen(text), NULL, doc, &at);
}

static int parse_err(const char *text)
{
    struct json_doc doc;
    int rv = parse(text, &doc);
    ck_assert_ptr_null(doc.root);
    json_doc_free(&doc);
    return rv;
}

START_TEST(parses_every_kind_of_value)
{
    struct json_doc doc;
    const char *t = " {\"a\": [1, -2.5e3, \"x\", true, false, null, {}, []],"
                    " \"b\" : {\"c\":\"d\"}}\r\n";
    ck_assert_int_eq(parse(t, &doc), 0);
    const struct json_value *a = json_get(doc.root, "a");
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->type, JSON_ARRAY);
    ck_assert_uint_eq(a->n, 8);
    const struct json_value *v = a->child;
    ck_assert_int_eq(v->type, JSON_NUMBER);
    ck_assert_str_eq(v->str, "1");
    v = v->next;
    ck_assert_str_eq(v->str, "-2.5e3");
    v = v->next;
    ck_assert_int_eq(v->type, JSON_STRING);
    ck_assert_str_eq(v->str, "x");
    ck_assert_int_eq(v->next->type, JSON_TRUE);
    ck_assert_int_eq(v->next->next->type, JSON_FALSE);
    ck_assert_int_eq(v->next->next->next->type, JSON_NULL);
    ck_assert_int_eq(v->next->next->next->next->type, JSON_OBJECT);
    ck_assert_uint_eq(v->next->next->next->next->n, 0);
    const struct json_value *c = json_get(json_get(doc.root, "b"), "c");
    ck_assert_str_eq(c->str, "d");
    ck_assert_ptr_null(json_get(doc.root, "zz"));
    ck_assert_ptr_null(json_get(a, "a")); /* not an object */
    json_doc_free(&doc);
}
END_TEST

START_TEST(string_escapes_and_unicode_are_decoded)
{
    struct json_doc doc;
    ck_assert_int_eq(
        parse("\"q\\\"b\\\\s\\/n\\nt\\tu\\u00e9\\ud83d\\ude00\\u0000z\"", &doc),
        0);
    const char want[] = "q\"b\\s/n\nt\tu\xc3\xa9\xf0\x9f\x98\x80\0z";
    ck_assert_uint_eq(doc.root->len, sizeof want - 1);
    ck_assert_mem_eq(doc.root->str, want, sizeof want - 1);
    json_doc_free(&doc);
    ck_assert_int_eq(parse("\"caf\xc3\xa9 \xe2\x82\xac\"", &doc), 0);
    ck_assert_str_eq(doc.root->str, "caf\xc3\xa9 \xe2\x82\xac");
    json_doc_free(&doc);
}
END_TEST

START_TEST(malformed_strings_are_refused)
{
    ck_assert_int_eq(parse_err("\"abc"), JSON_ESTRING);
    ck_assert_int_eq(parse_err("\"a\nb\""), JSON_ESTRING);    /* control */
    ck_assert_int_eq(parse_err("\"\\x\""), JSON_ESTRING);     /* escape */
    ck_assert_int_eq(parse_err("\"\\u12\""), JSON_ESTRING);   /* short */
    ck_assert_int_eq(parse_err("\"\\ud800\""), JSON_ESTRING); /* lone hi */
    ck_assert_int_eq(parse_err("\"\\udc00\\ud800\""), JSON_ESTRING);
    ck_assert_int_eq(parse_err("\"\\ud800\\u0041\""), JSON_ESTRING);
    ck_assert_int_eq(parse_err("\"\xc0\xaf\""), JSON_ESTRING); /* overlong */
    ck_assert_int_eq(parse_err("\"\xed\xa0\x80\""), JSON_ESTRING); /* surr. */
    ck_assert_int_eq(parse_err("\"\xf4\x90\x80\x80\""), JSON_ESTRING);
    ck_assert_int_eq(parse_err("\"\xe2\x82\""), JSON_ESTRING); /* cut */
    ck_assert_int_eq(parse_err("\"\xff\""), JSON_ESTRING);
    ck_assert_int_eq(parse_err("'a'"), JSON_ESYNTAX);
}
END_TEST

START_TEST(numbers_follow_the_rfc_grammar)
{
    struct json_doc doc;
    const char *good[] = {"0", "-0", "12", "1.5", "1e9", "1E+2", "-3.25e-7"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_int_eq(parse(good[i], &doc), 0);
        ck_assert_str_eq(doc.root->str, good[i]);
        json_doc_free(&doc);
    }
    const char *bad[] = {"01", "1.",  ".5",   "+1", "-",
                         "1e", "1e+", "0x10", "-a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = parse_err(bad[i]);
        ck_assert_msg(rv == JSON_ENUMBER || rv == JSON_ESYNTAX ||
                          rv == JSON_ETRAILING,
                      "%s: %d", bad[i], rv);
    }
    ck_assert_int_eq(parse_err("NaN"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("Infinity"), JSON_ESYNTAX);
}
END_TEST

START_TEST(structure_errors_are_refused_with_offsets)
{
    struct json_doc doc;
    size_t at = 0;
    const char *t = "{\"a\":1,}";
    ck_assert_int_eq(json_parse(t, strlen(t), NULL, &doc, &at), JSON_ESYNTAX);
    ck_assert_uint_eq(at, 7);
    json_doc_free(&doc);
    ck_assert_int_eq(parse_err("[1,]"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("[1 2]"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("{\"a\" 1}"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("{a:1}"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("{\"a\":1} x"), JSON_ETRAILING);
    ck_assert_int_eq(parse_err("{} {}"), JSON_ETRAILING);
    ck_assert_int_eq(parse_err("  "), JSON_EEMPTY);
    ck_assert_int_eq(parse_err(""), JSON_EEMPTY);
    ck_assert_int_eq(parse_err("\xef\xbb\xbf{}"), JSON_ESYNTAX); /* BOM */
    ck_assert_int_eq(parse_err("/* c */ {}"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("tru"), JSON_ESYNTAX);
    ck_assert_int_eq(parse_err("nulll"), JSON_ETRAILING);
    ck_assert_int_eq(parse_err("{\"a\":1,\"a\":2}"), JSON_EDUPKEY);
    /* Same name after decoding escapes is the same name. */
    ck_assert_int_eq(parse_err("{\"a\":1,\"\\u0061\":2}"), JSON_EDUPKEY);
    /* Text that is not NUL-terminated is read only up to len. */
    ck_assert_int_eq(json_parse("[1]]", 3, NULL, &doc, NULL), 0);
    json_doc_free(&doc);
}
END_TEST

START_TEST(depth_and_value_limits_hold)
{
    struct json_limits lim = {.max_depth = 3, .max_values = 5};
    struct json_doc doc;
    ck_assert_int_eq(json_parse("[[[1]]]", 7, &lim, &doc, NULL), 0);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse("[[[[1]]]]", 9, &lim, &doc, NULL), JSON_EDEPTH);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse("[1,2,3,4]", 9, &lim, &doc, NULL), 0);
    json_doc_free(&doc);
    ck_assert_int_eq(json_parse("[1,2,3,4,5]", 11, &lim, &doc, NULL),
                     JSON_ETOOMANY);
    json_doc_free(&doc);
    /* The default depth stops a deep nest long before the stack would. */
    size_t n = 100000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    ck_assert_int_eq(json_parse(deep, n, NULL, &doc, NULL), JSON_EDEPTH);
    json_doc_free(&doc);
    free(deep);
}
END_TEST

START_TEST(int64_reads_numbers_and_strings_exactly)
{
    struct json_doc doc;
    ck_assert_int_eq(parse("[9223372036854775807, \"-9223372036854775808\", "
                           "\"9223372036854775808\", 1.0, \"01\", \"\", "
                           "18446744073709551615, \"-1\", 1e3, \" 1\"]",
                           &doc),
                     0);
    const struct json_value *v = doc.root->child;
    int64_t i;
    uint64_t u;
    ck_assert_int_eq(json_int64(v, &i), 0);
    ck_assert(i == INT64_MAX);
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), 0);
    ck_assert(i == INT64_MIN);
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1); /* out of range */
    ck_assert_int_eq(json_uint64(v, &u), 0);
    ck_assert(u == 9223372036854775808ull);
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1); /* a fraction */
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1); /* leading zero */
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1); /* empty */
    v = v->next;
    ck_assert_int_eq(json_uint64(v, &u), 0);
    ck_assert(u == UINT64_MAX);
    ck_assert_int_eq(json_int64(v, &i), -1);
    v = v->next;
    ck_assert_int_eq(json_uint64(v, &u), -1); /* negative */
    ck_assert_int_eq(json_int64(v, &i), 0);
    ck_assert(i == -1);
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1); /* exponent */
    v = v->next;
    ck_assert_int_eq(json_int64(v, &i), -1);        /* space */
    ck_assert_int_eq(json_int64(doc.root, &i), -1); /* an array */
    json_doc_free(&doc);
}
END_TEST

START_TEST(writer_places_commas_and_escapes)
{
    struct json_out o;
    json_out_init(&o);
    json_out_begin_object(&o);
    json_out_key(&o, "a");
    json_out_int64_str(&o, -5);
    json_out_key(&o, "b");
    json_out_begin_array(&o);
    json_out_bool(&o, true);
    json_out_int(&o, 7);
    json_out_begin_object(&o);
    json_out_end_object(&o);
    json_out_str(&o, "q\"\\\n\x01\xc3\xa9", 7);
    json_out_end_array(&o);
    json_out_key(&o, "c");
    json_out_b64(&o, (const uint8_t *)"foo", 3);
    json_out_key(&o, "d");
    json_out_uint64_str(&o, UINT64_MAX);
    json_out_end_object(&o);
    ck_assert(!json_out_failed(&o));
    ck_assert_str_eq(o.buf, "{\"a\":\"-5\",\"b\":[true,7,{},\"q\\\"\\\\\\n"
                            "\\u0001\xc3\xa9\"],\"c\":\"Zm9v\","
                            "\"d\":\"18446744073709551615\"}");
    /* What the writer writes, the parser reads back. */
    struct json_doc doc;
    ck_assert_int_eq(json_parse(o.buf, o.len, NULL, &doc, NULL), 0);
    ck_assert_str_eq(json_get(doc.root, "c")->str, "Zm9v");
    json_doc_free(&doc);
    json_out_free(&o);
}
END_TEST

START_TEST(base64_round_trips_in_both_alphabets)
{
    uint8_t data[256], dec[400];
    char enc[400];
    for (int i = 0; i < 256; i++) {
        data[i] = (uint8_t)(255 - i);
    }
    for (size_t n = 0; n <= 256; n += (n < 8 ? 1 : 37)) {
        size_t k = base64_encoded_len(n);
        base64_encode(data, n, enc);
        ck_assert_uint_eq(k % 4, 0);
        size_t m = 0;
        ck_assert_int_eq(base64_decode(enc, k, dec, &m), 0);
        ck_assert_uint_eq(m, n);
        ck_assert(n == 0 || memcmp(dec, data, n) == 0);
        /* Without padding, and with the URL-safe alphabet. */
        size_t unpadded = k;
        while (unpadded > 0 && enc[unpadded - 1] == '=') {
            unpadded--;
        }
        for (size_t i = 0; i < unpadded; i++) {
            enc[i] = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : enc[i];
        }
        ck_assert_int_eq(base64_decode(enc, unpadded, dec, &m), 0);
        ck_assert_uint_eq(m, n);
        ck_assert(n == 0 || memcmp(dec, data, n) == 0);
    }
    size_t m;
    ck_assert_int_eq(base64_decode("Zm9v", 4, dec, &m), 0);
    ck_assert_mem_eq(dec, "foo", 3);
    ck_assert_int_eq(base64_decode("Zm9=", 4, dec, &m), 0);
    ck_assert_uint_eq(m, 2);
    ck_assert_int_eq(base64_decode("Zm9v!", 5, dec, &m), -1);
    ck_assert_int_eq(base64_decode("Zm 9v", 5, dec, &m), -1);
    ck_assert_int_eq(base64_decode("Z", 1, dec, &m), -1);
    ck_assert_int_eq(base64_decode("Zm9=v", 5, dec, &m), -1);
    ck_assert_int_eq(base64_decode("Zg=", 3, dec, &m), -1); /* half pad */
    ck_assert_int_eq(base64_decode("Zg==", 4, dec, &m), 0);
    ck_assert_uint_eq(m, 1);
    ck_assert_int_eq(base64_decode("Zg===", 5, dec, &m), -1);
}
END_TEST

START_TEST(error_codes_have_text)
{
    ck_assert_str_eq(json_strerror(JSON_EDUPKEY),
                     "the same member name twice in one object");
    ck_assert_str_eq(json_strerror(-999), "unknown error");
    ck_assert_str_eq(json_type_name(JSON_OBJECT), "an object");
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, parses_every_kind_of_value);
    tcase_add_test(tc, string_escapes_and_unicode_are_decoded);
    tcase_add_test(tc, malformed_strings_are_refused);
    tcase_add_test(tc, numbers_follow_the_rfc_grammar);
    tcase_add_test(tc, structure_errors_are_refused_with_offsets);
    tcase_add_test(tc, depth_and_value_limits_hold);
    tcase_add_test(tc, int64_reads_numbers_and_strings_exactly);
    tcase_add_test(tc, writer_places_commas_and_escapes);
    tcase_add_test(tc, base64_round_trips_in_both_alphabets);
    tcase_add_test(tc, error_codes_have_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
