/*
 * test_http_lease.c - the HTTP API's TTL lease and watch shapes
 * (server/http_kv.h): etcd's gateway field names ("TTL", "ID",
 * "grantedTTL"), the keep-alive and watch answers wrapped in "result",
 * and every way a lease or watch body is refused before it reaches the
 * dispatcher (negative TTL, empty or inverted watch range, cancel requests
 * that make no sense on a one-watcher HTTP stream).
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

static int enc(const char *path, const char *body, uint8_t **out, size_t *len)
{
    const struct hkv_route *r = hkv_route_find(path);
    ck_assert_msg(r != NULL, "no route %s", path);
    msg[0] = '\0';
    *out = NULL;
    *len = 0;
    return hkv_encode_request(r, (const uint8_t *)body, strlen(body), NULL, out,
                              len, msg, sizeof msg);
}

static void refused(const char *path, const char *body, const char *needle)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(enc(path, body, &out, &len), SRV_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(msg, needle) != NULL,
                  "%s: message \"%s\" lacks \"%s\"", body, msg, needle);
}

/* Renders the packed message m as the reply of path; returns the JSON. */
static char *render(const char *path, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    protobuf_c_message_pack(m, buf);
    struct json_out o;
    json_out_init(&o);
    ck_assert_int_eq(hkv_render_reply(hkv_route_find(path), false, buf, n, &o),
                     200);
    free(buf);
    ck_assert(!json_out_failed(&o));
    return o.buf; /* the caller frees it */
}

START_TEST(lease_routes_and_aliases_are_served)
{
    ck_assert_int_eq(hkv_route_find("/v3/lease/grant")->method,
                     SRV_METHOD_LEASE_GRANT);
    ck_assert_int_eq(hkv_route_find("/v3/lease/revoke")->method,
                     SRV_METHOD_LEASE_REVOKE);
    ck_assert_int_eq(hkv_route_find("/v3/kv/lease/revoke")->method,
                     SRV_METHOD_LEASE_REVOKE);
    ck_assert_int_eq(hkv_route_find("/v3/lease/keepalive")->method,
                     SRV_METHOD_LEASE_KEEPALIVE);
    ck_assert_int_eq(hkv_route_find("/v3/lease/timetolive")->method,
                     SRV_METHOD_LEASE_TIME_TO_LIVE);
    ck_assert_int_eq(hkv_route_find("/v3/kv/lease/timetolive")->method,
                     SRV_METHOD_LEASE_TIME_TO_LIVE);
    ck_assert_int_eq(hkv_route_find("/v3/lease/leases")->method,
                     SRV_METHOD_LEASE_LEASES);
    ck_assert_int_eq(hkv_route_find("/v3/watch")->method, SRV_METHOD_WATCH);
}
END_TEST

START_TEST(lease_requests_take_etcd_field_names)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(
        enc("/v3/lease/grant", "{\"TTL\": \"60\", \"ID\": 7}", &out, &len), 0);
    Metastore__LeaseGrantRequest *g =
        metastore__lease_grant_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(g->ttl, 60);
    ck_assert_int_eq(g->id, 7);
    metastore__lease_grant_request__free_unpacked(g, NULL);
    free(out);

    ck_assert_int_eq(enc("/v3/lease/grant", "{\"ttl\": 5}", &out, &len), 0);
    g = metastore__lease_grant_request__unpack(NULL, len, out);
    ck_assert_int_eq(g->ttl, 5);
    ck_assert_int_eq(g->id, 0);
    metastore__lease_grant_request__free_unpacked(g, NULL);
    free(out);

    ck_assert_int_eq(enc("/v3/kv/lease/revoke", "{\"ID\": \"9\"}", &out, &len),
                     0);
    Metastore__LeaseRevokeRequest *rv =
        metastore__lease_revoke_request__unpack(NULL, len, out);
    ck_assert_int_eq(rv->id, 9);
    metastore__lease_revoke_request__free_unpacked(rv, NULL);
    free(out);

    ck_assert_int_eq(enc("/v3/lease/keepalive", "{\"id\": 3}", &out, &len), 0);
    Metastore__LeaseKeepAliveRequest *k =
        metastore__lease_keep_alive_request__unpack(NULL, len, out);
    ck_assert_int_eq(k->id, 3);
    metastore__lease_keep_alive_request__free_unpacked(k, NULL);
    free(out);

    ck_assert_int_eq(enc("/v3/lease/timetolive",
                         "{\"ID\": 4, \"keys\": true}", &out, &len),
                     0);
    Metastore__LeaseTimeToLiveRequest *t =
        metastore__lease_time_to_live_request__unpack(NULL, len, out);
    ck_assert_int_eq(t->id, 4);
    ck_assert(t->keys);
    metastore__lease_time_to_live_request__free_unpacked(t, NULL);
    free(out);

    ck_assert_int_eq(enc("/v3/lease/leases", "", &out, &len), 0);
    free(out);
}
END_TEST

START_TEST(bad_lease_bodies_are_refused_naming_the_field)
{
    refused("/v3/lease/grant", "{\"TTL\": -1}", "must not be negative");
    refused("/v3/lease/grant", "{\"TTL\": \"ten\"}", "not a 64-bit integer");
    refused("/v3/lease/grant", "{\"TTL\": 5, \"lease\": 1}",
            "unknown field \"lease\" in LeaseGrantRequest");
    refused("/v3/lease/revoke", "{\"ID\": true}", "expected an integer");
    refused("/v3/lease/keepalive", "{\"TTL\": 5}",
            "unknown field \"TTL\" in LeaseKeepAliveRequest");
    refused("/v3/lease/timetolive", "{\"ID\": 1, \"keys\": 1}",
            "expected true or false");
    refused("/v3/lease/leases", "{\"ID\": 1}",
            "unknown field \"ID\" in LeaseLeasesRequest");
    refused("/v3/lease/leases", "[]", "must be a JSON object");
}
END_TEST

START_TEST(watch_create_request_is_read)
{
    uint8_t *out;
    size_t len;
    ck_assert_int_eq(
        enc("/v3/watch",
            "{\"create_request\": {\"key\": \"YQ==\", \"range_end\": \"AA==\","
            " \"start_revision\": \"5\", \"prevKv\": true, \"filters\": "
            "[\"NOPUT\", 1], \"progress_notify\": true, \"watch_id\": 2}}",
            &out, &len),
        0);
    Metastore__WatchRequest *w =
        metastore__watch_request__unpack(NULL, len, out);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->request_union_case,
                     METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST);
    const Metastore__WatchCreateRequest *c = w->create_request;
    ck_assert_mem_eq(c->key.data, "a", 1);
    ck_assert_uint_eq(c->range_end.len, 1);
    ck_assert_int_eq(c->range_end.data[0], 0);
    ck_assert_int_eq(c->start_revision, 5);
    ck_assert(c->prev_kv);
    ck_assert(c->progress_notify);
    ck_assert_int_eq(c->watch_id, 2);
    ck_assert_uint_eq(c->n_filters, 2);
    ck_assert_int_eq(c->filters[0],
                     METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT);
    ck_assert_int_eq(c->filters[1],
                     METASTORE__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE);
    metastore__watch_request__free_unpacked(w, NULL);
    free(out);
    /* A prefix: range_end after key. */
    ck_assert_int_eq(enc("/v3/watch",
                         "{\"create_request\": {\"key\": \"YS8=\", "
                         "\"range_end\": \"YTA=\"}}",
                         &out, &len),
                     0);
    free(out);
}
END_TEST

START_TEST(bad_watch_bodies_are_refused_before_a_stream_opens)
{
    refused("/v3/watch", "{}", "needs a \"create_request\"");
    refused("/v3/watch", "", "needs a \"create_request\"");
    refused("/v3/watch", "{\"cancel_request\": {\"watch_id\": 1}}",
            "one create_request per POST /v3/watch");
    refused("/v3/watch", "{\"create_request\": {}}", "the watched key is empty");
    refused("/v3/watch",
            "{\"create_request\": {\"key\": \"Yg==\", \"range_end\": "
            "\"YQ==\"}}",
            "the range is empty");
    refused("/v3/watch",
            "{\"create_request\": {\"key\": \"YQ==\", \"range_end\": "
            "\"YQ==\"}}",
            "the range is empty");
    refused("/v3/watch",
            "{\"create_request\": {\"key\": \"YQ==\", \"start_revision\": "
            "-1}}",
            "start_revision\": must not be negative");
    refused("/v3/watch",
            "{\"create_request\": {\"key\": \"YQ==\", \"filters\": "
            "[\"NOPE\"]}}",
            "unknown value");
    refused("/v3/watch", "{\"create_request\": {\"key\": \"not base64!\"}}",
            "field \"create_request.key\": not valid base64");
}
END_TEST

START_TEST(lease_replies_render_as_etcd_gateway_prints_them)
{
    Metastore__ResponseHeader h = METASTORE__RESPONSE_HEADER__INIT;
    h.cluster_id = 1;
    h.member_id = 2;
    h.revision = 3;

    Metastore__LeaseGrantResponse g = METASTORE__LEASE_GRANT_RESPONSE__INIT;
    g.header = &h;
    g.id = 7;
    g.ttl = 60;
    char *s = render("/v3/lease/grant", &g.base);
    ck_assert_str_eq(s, "{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\","
                        "\"revision\":\"3\"},\"ID\":\"7\",\"TTL\":\"60\"}\n");
    free(s);

    Metastore__LeaseKeepAliveResponse k =
        METASTORE__LEASE_KEEP_ALIVE_RESPONSE__INIT;
    k.id = 7;
    k.ttl = 60;
    s = render("/v3/lease/keepalive", &k.base);
    ck_assert_str_eq(s, "{\"result\":{\"ID\":\"7\",\"TTL\":\"60\"}}\n");
    free(s);

    Metastore__LeaseTimeToLiveResponse t =
        METASTORE__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
    ProtobufCBinaryData keys[2] = {{3, (uint8_t *)"foo"},
                                   {3, (uint8_t *)"bar"}};
    t.id = 7;
    t.ttl = 59;
    t.granted_ttl = 60;
    t.n_keys = 2;
    t.keys = keys;
    s = render("/v3/kv/lease/timetolive", &t.base);
    ck_assert_str_eq(s, "{\"ID\":\"7\",\"TTL\":\"59\",\"grantedTTL\":\"60\","
                        "\"keys\":[\"Zm9v\",\"YmFy\"]}\n");
    free(s);
    t.ttl = -1; /* no such lease, as etcd says it */
    t.granted_ttl = 0;
    t.n_keys = 0;
    s = render("/v3/lease/timetolive", &t.base);
    ck_assert_str_eq(s, "{\"ID\":\"7\",\"TTL\":\"-1\"}\n");
    free(s);

    Metastore__LeaseStatus a = METASTORE__LEASE_STATUS__INIT,
                           b = METASTORE__LEASE_STATUS__INIT;
    a.id = 5;
    b.id = 9;
    Metastore__LeaseStatus *v[2] = {&a, &b};
    Metastore__LeaseLeasesResponse l = METASTORE__LEASE_LEASES_RESPONSE__INIT;
    l.n_leases = 2;
    l.leases = v;
    s = render("/v3/lease/leases", &l.base);
    ck_assert_str_eq(s, "{\"leases\":[{\"ID\":\"5\"},{\"ID\":\"9\"}]}\n");
    free(s);

    Metastore__LeaseRevokeResponse r = METASTORE__LEASE_REVOKE_RESPONSE__INIT;
    s = render("/v3/kv/lease/revoke", &r.base);
    ck_assert_str_eq(s, "{}\n");
    free(s);
}
END_TEST

START_TEST(watch_responses_render_as_result_lines)
{
    Metastore__KeyValue kv = METASTORE__KEY_VALUE__INIT, prev =
                                                             METASTORE__KEY_VALUE__INIT;
    kv.key.data = (uint8_t *)"foo";
    kv.key.len = 3;
    kv.mod_revision = 4;
    prev.key = kv.key;
    prev.value.data = (uint8_t *)"bar";
    prev.value.len = 3;
    prev.version = 1;
    Metastore__Event put = METASTORE__EVENT__INIT, del = METASTORE__EVENT__INIT;
    put.kv = &prev;
    del.type = METASTORE__EVENT__EVENT_TYPE__DELETE;
    del.kv = &kv;
    del.prev_kv = &prev;
    Metastore__Event *ev[2] = {&put, &del};
    Metastore__WatchResponse w = METASTORE__WATCH_RESPONSE__INIT;
    w.watch_id = 1;
    w.n_events = 2;
    w.events = ev;
    char *s = render("/v3/watch", &w.base);
    ck_assert_str_eq(
        s, "{\"result\":{\"watch_id\":\"1\",\"events\":[{\"kv\":{\"key\":"
           "\"Zm9v\",\"version\":\"1\",\"value\":\"YmFy\"}},{\"type\":"
           "\"DELETE\",\"kv\":{\"key\":\"Zm9v\",\"mod_revision\":\"4\"},"
           "\"prev_kv\":{\"key\":\"Zm9v\",\"version\":\"1\",\"value\":"
           "\"YmFy\"}}]}}\n");
    free(s);
    Metastore__WatchResponse c = METASTORE__WATCH_RESPONSE__INIT;
    c.watch_id = 1;
    c.canceled = true;
    c.compact_revision = 3;
    c.cancel_reason = "compacted";
    s = render("/v3/watch", &c.base);
    ck_assert_str_eq(s, "{\"result\":{\"watch_id\":\"1\",\"canceled\":true,"
                        "\"compact_revision\":\"3\",\"cancel_reason\":"
                        "\"compacted\"}}\n");
    free(s);
}
END_TEST

static Suite *http_lease_suite(void)
{
    Suite *s = suite_create("http_lease");
    TCase *tc = tcase_create("http_lease");
    tcase_add_test(tc, lease_routes_and_aliases_are_served);
    tcase_add_test(tc, lease_requests_take_etcd_field_names);
    tcase_add_test(tc, bad_lease_bodies_are_refused_naming_the_field);
    tcase_add_test(tc, watch_create_request_is_read);
    tcase_add_test(tc, bad_watch_bodies_are_refused_before_a_stream_opens);
    tcase_add_test(tc, lease_replies_render_as_etcd_gateway_prints_them);
    tcase_add_test(tc, watch_responses_render_as_result_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_lease_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
