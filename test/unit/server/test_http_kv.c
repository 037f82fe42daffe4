/*
 * test_http_kv.c - the HTTP API's translation between etcd's JSON gateway
 * shapes and MetaStore's protobuf messages (server/http_kv.h): every
 * request message read from JSON (snake_case and lowerCamelCase names,
 * integers as numbers or strings, enums by name or number), every way a
 * body is refused and the message naming the field, every reply rendered
 * as etcd's gateway prints it, and the status -> HTTP code table.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/frame.h"
#include "server/http_kv.h"
#include "server/status.h"

static char msg[256];

/* Encodes body for path; returns the status, *out the packed request. */
static int enc(const char *path, const char *body, uint8_t **out, size_t *len)
{
    const struct hkv_route *r = hkv_route_find(path);
    ck_assert_ptr_nonnull(r);
    msg[0] = '\0';
    return hkv_encode_request(r, (const uint8_t *)body, strlen(body), NULL, out,
                              len, msg, sizeof msg);
}

/* Expects body to be refused with INVALID_ARGUMENT and a message holding
 * `needle`. */
static void refused(const char *path, const char *body, const char *needle)
{
    uint8_t *out = NULL;
    size_t len = 0;
    ck_assert_int_eq(enc(path, body, &out, &len), SRV_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(msg, needle) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", body, msg, needle);
}

START_TEST(routes_are_found_by_exact_path)
{
    ck_assert_int_eq(hkv_route_find("/v3/kv/range")->method, SRV_METHOD_RANGE);
    ck_assert_int_eq(hkv_route_find("/v3/kv/put")->method, SRV_METHOD_PUT);
    ck_assert_int_eq(hkv_route_find("/v3/kv/deleterange")->method,
                     SRV_METHOD_DELETE_RANGE);
    ck_assert_int_eq(hkv_route_find("/v3/kv/txn")->method, SRV_METHOD_TXN);
    ck_assert_int_eq(hkv_route_find("/v3/kv/compaction")->method,
                     SRV_METHOD_COMPACT);
    ck_assert_int_eq(hkv_route_find("/v3/maintenance/status")->method,
                     SRV_METHOD_STATUS);
    ck_assert_ptr_null(hkv_route_find("/v3/kv/range/"));
    ck_assert_ptr_null(hkv_route_find("/v3/kv"));
    size_t n = 0;
    ck_assert_ptr_nonnull(hkv_routes(&n));
    ck_assert_uint_eq(n, 15 + 17); /* KV, leases, watch; 17 /v3/auth/ */
}
END_TEST

START_TEST(put_is_read_from_base64_and_flags)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(
        enc("/v3/kv/put",
            "{\"key\":\"Zm9v\",\"value\":\"YmFy\",\"prev_kv\":true,"
            "\"ignoreLease\":false,\"lease\":null}",
            &out, &len),
        0);
    Metastore__PutRequest *p = metastore__put_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->key.len, 3);
    ck_assert_mem_eq(p->key.data, "foo", 3);
    ck_assert_mem_eq(p->value.data, "bar", 3);
    ck_assert(p->prev_kv);
    ck_assert(!p->ignore_lease);
    ck_assert_int_eq(p->lease, 0);
    metastore__put_request__free_unpacked(p, NULL);
    free(out);
}
END_TEST

START_TEST(range_takes_names_in_both_cases_and_ints_as_strings)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(
        enc("/v3/kv/range",
            "{\"key\":\"YQ==\",\"rangeEnd\":\"Yg\",\"limit\":\"10\","
            "\"revision\":7,\"sort_order\":\"DESCEND\",\"sortTarget\":3,"
            "\"serializable\":true,\"keys_only\":true,\"count_only\":false,"
            "\"min_mod_revision\":\"-1\",\"max_create_revision\":"
            "\"9223372036854775807\",\"min_applied_index\":\"5\"}",
            &out, &len),
        0);
    Metastore__RangeRequest *r =
        metastore__range_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(r);
    ck_assert_mem_eq(r->key.data, "a", 1);
    ck_assert_uint_eq(r->range_end.len, 1);
    ck_assert_mem_eq(r->range_end.data, "b", 1);
    ck_assert_int_eq(r->limit, 10);
    ck_assert_int_eq(r->revision, 7);
    ck_assert_int_eq(r->sort_order,
                     METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND);
    ck_assert_int_eq(r->sort_target,
                     METASTORE__RANGE_REQUEST__SORT_TARGET__MOD);
    ck_assert_int_eq(r->consistency, METASTORE__CONSISTENCY__SERIALIZABLE);
    ck_assert(r->keys_only);
    ck_assert_int_eq(r->min_mod_revision, -1);
    ck_assert(r->max_create_revision == INT64_MAX);
    ck_assert_uint_eq(r->min_applied_index, 5);
    metastore__range_request__free_unpacked(r, NULL);
    free(out);
}
END_TEST

START_TEST(txn_reads_compares_and_ops)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(
        enc("/v3/kv/txn",
            "{\"compare\":[{\"key\":\"Zm9v\",\"result\":\"EQUAL\",\"target\":"
            "\"VALUE\",\"value\":\"YmFy\"},{\"key\":\"YQ==\",\"target\":"
            "\"MOD\","
            "\"result\":\"LESS\",\"mod_revision\":\"4\"}],"
            "\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"eA=="
            "\"}},"
            "{\"requestDeleteRange\":{\"key\":\"YQ==\"}}],"
            "\"failure\":[{\"request_range\":{\"key\":\"Zm9v\"}}]}",
            &out, &len),
        0);
    Metastore__TxnRequest *t = metastore__txn_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->n_compare, 2);
    ck_assert_int_eq(t->compare[0]->target_union_case,
                     METASTORE__COMPARE__TARGET_UNION_VALUE);
    ck_assert_mem_eq(t->compare[0]->value.data, "bar", 3);
    ck_assert_int_eq(t->compare[1]->target,
                     METASTORE__COMPARE__COMPARE_TARGET__MOD);
    ck_assert_int_eq(t->compare[1]->result,
                     METASTORE__COMPARE__COMPARE_RESULT__LESS);
    ck_assert_int_eq(t->compare[1]->mod_revision, 4);
    ck_assert_uint_eq(t->n_success, 2);
    ck_assert_int_eq(t->success[0]->request_case,
                     METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT);
    ck_assert_int_eq(t->success[1]->request_case,
                     METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE);
    ck_assert_uint_eq(t->n_failure, 1);
    ck_assert_int_eq(t->failure[0]->request_case,
                     METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE);
    metastore__txn_request__free_unpacked(t, NULL);
    free(out);
}
END_TEST

START_TEST(empty_body_is_an_empty_request)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(enc("/v3/maintenance/status", "", &out, &len), 0);
    ck_assert_uint_eq(len, 0);
    free(out);
    ck_assert_int_eq(enc("/v3/kv/compaction",
                         "{\"revision\":\"3\","
                         "\"physical\":true}",
                         &out, &len),
                     0);
    Metastore__CompactionRequest *c =
        metastore__compaction_request__unpack(NULL, len, out);
    ck_assert_int_eq(c->revision, 3);
    ck_assert(c->physical);
    metastore__compaction_request__free_unpacked(c, NULL);
    free(out);
}
END_TEST

START_TEST(bad_bodies_are_refused_naming_the_field)
{
    refused("/v3/kv/range", "{\"key\":", "not valid JSON");
    refused("/v3/kv/range", "[1]", "must be a JSON object");
    refused("/v3/kv/range", "{\"key\":\"Zm9v!\"}",
            "field \"key\": not valid "
            "base64");
    refused("/v3/kv/range", "{\"key\":5}",
            "field \"key\": expected a base64 "
            "string, got a number");
    refused("/v3/kv/range", "{\"limit\":true}",
            "field \"limit\": expected an "
            "integer");
    refused("/v3/kv/range", "{\"limit\":1.5}", "not a 64-bit integer");
    refused("/v3/kv/range", "{\"limit\":\"9223372036854775808\"}",
            "not a 64-bit integer");
    refused("/v3/kv/range", "{\"min_applied_index\":-1}",
            "not an unsigned 64-bit integer");
    refused("/v3/kv/range", "{\"keys_only\":\"yes\"}",
            "expected true or false");
    refused("/v3/kv/range", "{\"sort_order\":\"UP\"}",
            "unknown value (one of NONE, ASCEND, DESCEND)");
    refused("/v3/kv/range", "{\"sort_order\":9}", "unknown value");
    refused("/v3/kv/range", "{\"kye\":\"Zm9v\"}",
            "unknown field \"kye\" in "
            "RangeRequest");
    refused("/v3/kv/range", "{\"Key\":\"Zm9v\"}", "unknown field \"Key\"");
    refused("/v3/kv/put", "{\"key\":\"Zm9v\",\"key\":\"Zm9v\"}",
            "the same member name twice");
    refused("/v3/kv/txn", "{\"compare\":{}}",
            "field \"compare\": expected an "
            "array");
    refused(
        "/v3/kv/txn",
        "{\"compare\":[{\"key\":\"Zm9v\"},{\"value\":\"YQ\",\"version\":1}]}",
        "compare[1].compare has more than one of");
    refused("/v3/kv/txn",
            "{\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"valu\":1}}]}",
            "unknown field \"success[0].valu\" in PutRequest");
    refused("/v3/kv/txn",
            "{\"failure\":[{\"request_put\":{},\"request_range\":{}}]}",
            "failure[0].a request op holds more than one request");
    refused("/v3/kv/txn", "{\"success\":[5]}", "success[0].");
    refused("/v3/maintenance/status", "{\"x\":1}",
            "unknown field \"x\" in "
            "StatusRequest");
}
END_TEST

/* Packs m, renders it for path, compares the JSON. */
static void renders(const char *path, const ProtobufCMessage *m, bool is_error,
                    int want_status, const char *want)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(m, buf);
    struct json_out o;
    json_out_init(&o);
    int st = hkv_render_reply(hkv_route_find(path), is_error, buf, n, &o);
    ck_assert(!json_out_failed(&o));
    ck_assert_int_eq(st, want_status);
    ck_assert_str_eq(o.buf, want);
    json_out_free(&o);
    free(buf);
}

START_TEST(range_reply_renders_as_etcd_gateway_prints_it)
{
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    h.cluster_id = 14841639068965178418ull;
    h.member_id = 10276657743932975437ull;
    h.revision = 2;
    h.raft_term = 3;
    Metastore__KeyValue kv = METASTORE__KEY_VALUE__INIT;
    kv.key.data = (uint8_t *)"foo";
    kv.key.len = 3;
    kv.value.data = (uint8_t *)"bar";
    kv.value.len = 3;
    kv.create_revision = 2;
    kv.mod_revision = 2;
    kv.version = 1;
    Metastore__KeyValue *kvs[] = {&kv};
    Metastore__RangeResponse r = METASTORE__RANGE_RESPONSE__INIT;
    r.header = &h;
    r.kvs = kvs;
    r.n_kvs = 1;
    r.count = 1;
    renders("/v3/kv/range", &r.base, false, 200,
            "{\"header\":{\"cluster_id\":\"14841639068965178418\","
            "\"member_id\":\"10276657743932975437\",\"revision\":\"2\","
            "\"raft_term\":\"3\"},\"kvs\":[{\"key\":\"Zm9v\","
            "\"create_revision\":\"2\",\"mod_revision\":\"2\","
            "\"version\":\"1\",\"value\":\"YmFy\"}],\"count\":\"1\"}\n");
    /* No keys: kvs, more and count are left out, as etcd does. */
    Metastore__RangeResponse e = METASTORE__RANGE_RESPONSE__INIT;
    h.applied_index = 9;
    e.header = &h;
    renders("/v3/kv/range", &e.base, false, 200,
            "{\"header\":{\"cluster_id\":\"14841639068965178418\","
            "\"member_id\":\"10276657743932975437\",\"revision\":\"2\","
            "\"raft_term\":\"3\",\"applied_index\":\"9\"}}\n");
}
END_TEST

START_TEST(txn_and_delete_replies_nest_their_responses)
{
    Metastore__PutResponse pr = METASTORE__PUT_RESPONSE__INIT;
    Metastore__DeleteRangeResponse dr = METASTORE__DELETE_RANGE_RESPONSE__INIT;
    dr.deleted = 2;
    Metastore__ResponseOp op1 = METASTORE__RESPONSE_OP__INIT;
    op1.response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
    op1.response_put = &pr;
    Metastore__ResponseOp op2 = METASTORE__RESPONSE_OP__INIT;
    op2.response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
    op2.response_delete_range = &dr;
    Metastore__ResponseOp *ops[] = {&op1, &op2};
    Metastore__TxnResponse t = METASTORE__TXN_RESPONSE__INIT;
    t.succeeded = 1;
    t.responses = ops;
    t.n_responses = 2;
    renders("/v3/kv/txn", &t.base, false, 200,
            "{\"succeeded\":true,\"responses\":[{\"response_put\":{}},"
            "{\"response_delete_range\":{\"deleted\":\"2\"}}]}\n");
    renders("/v3/kv/deleterange", &dr.base, false, 200,
            "{\"deleted\":\"2\"}\n");
}
END_TEST

START_TEST(error_replies_become_gateway_error_bodies)
{
    Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
    e.code = METASTORE__STATUS_CODE__NOT_LEADER;
    e.message = "not the leader";
    e.leader_id = 2;
    e.leader_addr = "127.0.0.1:2379";
    renders("/v3/kv/put", &e.base, true, 503,
            "{\"error\":\"not the leader\",\"code\":14,\"message\":\"not the "
            "leader\",\"status\":\"NOT_LEADER\",\"leader_id\":\"2\","
            "\"leader_addr\":\"127.0.0.1:2379\"}\n");
    Metastore__ErrorDetail c = METASTORE__ERROR_DETAIL__INIT;
    c.code = METASTORE__STATUS_CODE__COMPACTED;
    c.message = "compacted";
    c.compact_revision = 5;
    renders("/v3/kv/range", &c.base, true, 400,
            "{\"error\":\"compacted\",\"code\":11,\"message\":\"compacted\","
            "\"status\":\"COMPACTED\",\"compact_revision\":\"5\"}\n");
    Metastore__ErrorDetail i = METASTORE__ERROR_DETAIL__INIT;
    i.code = METASTORE__STATUS_CODE__INVALID_ARGUMENT;
    i.message = "key is \"empty\"";
    renders("/v3/kv/range", &i.base, true, 400,
            "{\"error\":\"key is \\\"empty\\\"\",\"code\":3,\"message\":\"key "
            "is \\\"empty\\\"\",\"status\":\"INVALID_ARGUMENT\"}\n");

    /* No reply at all, and a reply that does not decode. */
    struct json_out o;
    json_out_init(&o);
    ck_assert_int_eq(
        hkv_render_reply(hkv_route_find("/v3/kv/put"), true, NULL, 0, &o), 503);
    ck_assert_ptr_nonnull(strstr(o.buf, "\"code\":14"));
    json_out_free(&o);
    json_out_init(&o);
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    ck_assert_int_eq(hkv_render_reply(hkv_route_find("/v3/kv/range"), false,
                                      junk, sizeof junk, &o),
                     500);
    ck_assert_ptr_nonnull(strstr(o.buf, "\"status\":\"INTERNAL\""));
    json_out_free(&o);
}
END_TEST

START_TEST(statuses_map_to_grpc_gateway_http_codes)
{
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_OK), 200);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_INVALID_ARGUMENT), 400);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_FAILED_PRECONDITION), 400);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_COMPACTED), 400);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_UNAUTHENTICATED), 401);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_PERMISSION_DENIED), 403);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_NOT_FOUND), 404);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_RESOURCE_EXHAUSTED), 429);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_INTERNAL), 500);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_UNIMPLEMENTED), 501);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_UNAVAILABLE), 503);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_NOT_LEADER), 503);
    ck_assert_int_eq(hkv_http_status(SRV_STATUS_DEADLINE_EXCEEDED), 504);
    ck_assert_int_eq(hkv_http_status(77), 500);
    ck_assert_int_eq(hkv_grpc_code(SRV_STATUS_NOT_FOUND), 5);
    ck_assert_int_eq(hkv_grpc_code(77), 2);
    struct json_out o;
    json_out_init(&o);
    ck_assert_int_eq(
        hkv_render_error(&o, SRV_STATUS_RESOURCE_EXHAUSTED, 413, "too big"),
        413);
    ck_assert_str_eq(o.buf, "{\"error\":\"too big\",\"code\":8,\"message\":"
                            "\"too big\",\"status\":\"RESOURCE_EXHAUSTED\"}\n");
    json_out_free(&o);
}
END_TEST

static Suite *http_kv_suite(void)
{
    Suite *s = suite_create("http_kv");
    TCase *tc = tcase_create("http_kv");
    tcase_add_test(tc, routes_are_found_by_exact_path);
    tcase_add_test(tc, put_is_read_from_base64_and_flags);
    tcase_add_test(tc, range_takes_names_in_both_cases_and_ints_as_strings);
    tcase_add_test(tc, txn_reads_compares_and_ops);
    tcase_add_test(tc, empty_body_is_an_empty_request);
    tcase_add_test(tc, bad_bodies_are_refused_naming_the_field);
    tcase_add_test(tc, range_reply_renders_as_etcd_gateway_prints_it);
    tcase_add_test(tc, txn_and_delete_replies_nest_their_responses);
    tcase_add_test(tc, error_replies_become_gateway_error_bodies);
    tcase_add_test(tc, statuses_map_to_grpc_gateway_http_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_kv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
