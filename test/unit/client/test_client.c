/*
 * test_client.c - the client library against a fake server on loopback:
 * request encoding, response decoding, request-id matching, NOT_LEADER
 * redirects, timeouts, failover between endpoints, error statuses, and the
 * membership and operator calls (member list/add/remove/promote,
 * move-leader, fault).
 */
#include "client/internal.h"
#include "client/metastore.h"
#include "proto/metastore.pb-c.h"
#include "test/unit/client/helpers/fake_server.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fake_server srv, srv2;

static struct ms_client *open_one(const char *ep, uint32_t timeout_ms)
{
    const char *eps[] = {ep};
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = timeout_ms};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 1, &o, &c), 0);
    return c;
}

/* The i-th request the server recorded, unpacked with desc. */
static ProtobufCMessage *recorded(struct fake_server *s, size_t i,
                                  const ProtobufCMessageDescriptor *desc)
{
    ck_assert_uint_gt(fake_server_requests(s), i);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, s->reqs[i].len, s->reqs[i].body);
    ck_assert_ptr_nonnull(m);
    return m;
}

static bool bytes_eq(ProtobufCBinaryData b, const char *s, size_t n)
{
    return b.len == n && (n == 0 || memcmp(b.data, s, n) == 0);
}

START_TEST(frame_header_is_big_endian_sixteen_bytes)
{
    struct ms__frame_header h = {.length = 0x01020304,
                                 .method = 0x0a0b,
                                 .flags = MS__FLAG_RESPONSE,
                                 .request_id = 0x1112131415161718ull};
    uint8_t b[16];
    ms__frame_header_encode(&h, b);
    static const uint8_t want[16] = {1,    2,    3,    4,    0x0a, 0x0b,
                                     1,    1,    0x11, 0x12, 0x13, 0x14,
                                     0x15, 0x16, 0x17, 0x18};
    ck_assert_mem_eq(b, want, 16);
    struct ms__frame_header d;
    ck_assert_int_eq(ms__frame_header_decode(b, 1u << 30, &d), 0);
    ck_assert_uint_eq(d.length, h.length);
    ck_assert_uint_eq(d.method, h.method);
    ck_assert_uint_eq(d.request_id, h.request_id);
}
END_TEST

START_TEST(frame_header_rejects_bad_version_flags_and_size)
{
    struct ms__frame_header h = {.length = 100, .method = 10};
    uint8_t b[16];
    struct ms__frame_header d;
    ms__frame_header_encode(&h, b);
    ck_assert_int_eq(ms__frame_header_decode(b, 99, &d), MS_ETOOBIG);
    b[7] = 2;
    ck_assert_int_eq(ms__frame_header_decode(b, 1000, &d), MS_EPROTO);
    b[7] = 1;
    b[6] = 0x10;
    ck_assert_int_eq(ms__frame_header_decode(b, 1000, &d), MS_EPROTO);
}
END_TEST

START_TEST(public_enums_use_the_protocol_numbers)
{
    /* ops.c casts these enums straight into the protobuf messages. */
    ck_assert_int_eq(MS_SORT_DESCEND,
                     METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND);
    ck_assert_int_eq(MS_SORT_VALUE,
                     METASTORE__RANGE_REQUEST__SORT_TARGET__VALUE);
    ck_assert_int_eq(MS_SORT_MOD, METASTORE__RANGE_REQUEST__SORT_TARGET__MOD);
    ck_assert_int_eq(MS_CONSISTENCY_SERIALIZABLE,
                     METASTORE__CONSISTENCY__SERIALIZABLE);
    ck_assert_int_eq(MS_CMP_LEASE, METASTORE__COMPARE__COMPARE_TARGET__LEASE);
    ck_assert_int_eq(MS_CMP_VALUE, METASTORE__COMPARE__COMPARE_TARGET__VALUE);
    ck_assert_int_eq(MS_CMP_NOT_EQUAL,
                     METASTORE__COMPARE__COMPARE_RESULT__NOT_EQUAL);
    ck_assert_int_eq(MS_CMP_LESS, METASTORE__COMPARE__COMPARE_RESULT__LESS);
    ck_assert_int_eq(MS_STATUS_NOT_LEADER, METASTORE__STATUS_CODE__NOT_LEADER);
    ck_assert_int_eq(MS_STATUS_COMPACTED, METASTORE__STATUS_CODE__COMPACTED);
    ck_assert_int_eq(MS_STATUS_UNAVAILABLE,
                     METASTORE__STATUS_CODE__UNAVAILABLE);
    ck_assert_int_eq(MS_STATUS_FAILED_PRECONDITION,
                     METASTORE__STATUS_CODE__FAILED_PRECONDITION);
}
END_TEST

START_TEST(put_encodes_request_and_decodes_prev_kv)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "k1", 2, "v1", 2, 0x55, true, &r), 0);
    ck_assert_int_eq(r->status, MS_STATUS_OK);
    ck_assert_uint_eq(r->header.cluster_id, 7);
    ck_assert_uint_eq(r->header.member_id, 0x11);
    ck_assert_int_eq(r->header.revision, 42);
    ck_assert_uint_eq(r->header.raft_term, 3);
    ck_assert(r->put.has_prev_kv);
    ck_assert_mem_eq(r->put.prev_kv.value, "old", 3);
    ck_assert_int_eq(r->put.prev_kv.version, 2);
    ms_result_free(r);

    ck_assert_uint_eq(srv.reqs[0].method, MS__METHOD_PUT);
    ck_assert_uint_eq(srv.reqs[0].flags, 0);
    Metastore__PutRequest *p = (Metastore__PutRequest *)recorded(
        &srv, 0, &metastore__put_request__descriptor);
    ck_assert(bytes_eq(p->key, "k1", 2));
    ck_assert(bytes_eq(p->value, "v1", 2));
    ck_assert_int_eq(p->lease, 0x55);
    ck_assert(p->prev_kv);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(get_prefix_sends_range_end_and_all_options)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_range_options o = {.prefix = true,
                                 .limit = 10,
                                 .revision = 9,
                                 .keys_only = true,
                                 .sort_order = MS_SORT_DESCEND,
                                 .sort_target = MS_SORT_MOD,
                                 .consistency = MS_CONSISTENCY_SERIALIZABLE};
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "foo", 3, &o, &r), 0);
    ck_assert_uint_eq(r->range.n_kvs, 1);
    ck_assert_uint_eq(r->range.kvs[0].key_len, 3);
    ck_assert_mem_eq(r->range.kvs[0].key, "foo", 3);
    ck_assert_uint_eq(r->range.kvs[0].value_len, strlen("value-of-foo"));
    ck_assert_mem_eq(r->range.kvs[0].value, "value-of-foo", 12);
    ck_assert_int_eq(r->range.kvs[0].mod_revision, 3);
    ck_assert_int_eq(r->range.count, 1);
    ms_result_free(r);

    Metastore__RangeRequest *q = (Metastore__RangeRequest *)recorded(
        &srv, 0, &metastore__range_request__descriptor);
    ck_assert(bytes_eq(q->key, "foo", 3));
    ck_assert(bytes_eq(q->range_end, "fop", 3));
    ck_assert_int_eq(q->limit, 10);
    ck_assert_int_eq(q->revision, 9);
    ck_assert(q->keys_only);
    ck_assert_int_eq(q->sort_order,
                     METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND);
    ck_assert_int_eq(q->sort_target,
                     METASTORE__RANGE_REQUEST__SORT_TARGET__MOD);
    ck_assert_int_eq(q->consistency, METASTORE__CONSISTENCY__SERIALIZABLE);
    protobuf_c_message_free_unpacked(&q->base, NULL);

    /* The applied index of the first answer is sent on the next read. */
    struct ms_range_options from = {.from_key = true};
    ck_assert_int_eq(ms_get(c, "a", 1, &from, &r), 0);
    ms_result_free(r);
    q = (Metastore__RangeRequest *)recorded(
        &srv, 1, &metastore__range_request__descriptor);
    ck_assert(bytes_eq(q->range_end, "\0", 1));
    ck_assert_uint_eq(q->min_applied_index, 100);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(delete_and_compact_and_status_decode)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    struct ms_range_options o = {.range_end = "b", .range_end_len = 1};
    ck_assert_int_eq(ms_delete(c, "a", 1, &o, true, &r), 0);
    ck_assert_int_eq(r->del.deleted, 2);
    ck_assert_uint_eq(r->del.n_prev_kvs, 1);
    ck_assert_mem_eq(r->del.prev_kvs[0].value, "gone", 4);
    ms_result_free(r);
    Metastore__DeleteRangeRequest *d =
        (Metastore__DeleteRangeRequest *)recorded(
            &srv, 0, &metastore__delete_range_request__descriptor);
    ck_assert(bytes_eq(d->key, "a", 1));
    ck_assert(bytes_eq(d->range_end, "b", 1));
    ck_assert(d->prev_kv);
    protobuf_c_message_free_unpacked(&d->base, NULL);

    ck_assert_int_eq(ms_compact(c, 12, true, &r), 0);
    ck_assert_int_eq(r->compact.revision, 12);
    ms_result_free(r);
    Metastore__CompactionRequest *k = (Metastore__CompactionRequest *)recorded(
        &srv, 1, &metastore__compaction_request__descriptor);
    ck_assert_int_eq(k->revision, 12);
    ck_assert(k->physical);
    protobuf_c_message_free_unpacked(&k->base, NULL);

    ck_assert_int_eq(ms_status(c, &r), 0);
    ck_assert_str_eq(r->status_info.version, "0.1.0-fake");
    ck_assert_str_eq(r->status_info.role, "leader");
    ck_assert_uint_eq(r->status_info.leader, 0x11);
    ck_assert_int_eq(r->status_info.db_size, 20480);
    ck_assert_uint_eq(r->status_info.raft_applied_index, 9);
    ck_assert_uint_eq(r->status_info.n_errors, 1);
    ck_assert_str_eq(r->status_info.errors[0], "alarm: NOSPACE");
    ck_assert_uint_eq(r->status_info.read_stats.lease_reads, 5);
    ms_result_free(r);

    ck_assert_int_eq(ms_ping(c, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_PING);
    ms_result_free(r);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(txn_encodes_compares_and_ops_and_decodes_responses)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_compare cmps[2] = {
        {.target = MS_CMP_VALUE,
         .op = MS_CMP_EQUAL,
         .key = "k",
         .key_len = 1,
         .value = "v",
         .value_len = 1},
        {.target = MS_CMP_MOD,
         .op = MS_CMP_GREATER,
         .key = "m",
         .key_len = 1,
         .number = 5},
    };
    struct ms_op succ[3] = {
        {.type = MS_OP_PUT,
         .key = "a",
         .key_len = 1,
         .value = "1",
         .value_len = 1},
        {.type = MS_OP_RANGE, .key = "b", .key_len = 1},
        {.type = MS_OP_DELETE,
         .key = "c",
         .key_len = 1,
         .range = {.prefix = true}},
    };
    struct ms_op fail[1] = {{.type = MS_OP_RANGE, .key = "z", .key_len = 1}};
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_txn(c, cmps, 2, succ, 3, fail, 1, &r), 0);
    ck_assert(r->txn.succeeded);
    ck_assert_uint_eq(r->txn.n_responses, 3);
    ck_assert_int_eq(r->txn.responses[0].type, MS_OP_PUT);
    ck_assert_int_eq(r->txn.responses[1].type, MS_OP_RANGE);
    ck_assert_mem_eq(r->txn.responses[1].range.kvs[0].value, "value-of-b", 10);
    ck_assert_int_eq(r->txn.responses[2].type, MS_OP_DELETE);
    ck_assert_int_eq(r->txn.responses[2].del.deleted, 2);
    ck_assert_int_eq(r->txn.responses[2].header.revision, 42);
    ms_result_free(r);

    Metastore__TxnRequest *t = (Metastore__TxnRequest *)recorded(
        &srv, 0, &metastore__txn_request__descriptor);
    ck_assert_uint_eq(t->n_compare, 2);
    ck_assert_int_eq(t->compare[0]->target,
                     METASTORE__COMPARE__COMPARE_TARGET__VALUE);
    ck_assert_int_eq(t->compare[0]->target_union_case,
                     METASTORE__COMPARE__TARGET_UNION_VALUE);
    ck_assert(bytes_eq(t->compare[0]->value, "v", 1));
    ck_assert_int_eq(t->compare[1]->result,
                     METASTORE__COMPARE__COMPARE_RESULT__GREATER);
    ck_assert_int_eq(t->compare[1]->target_union_case,
                     METASTORE__COMPARE__TARGET_UNION_MOD_REVISION);
    ck_assert_int_eq(t->compare[1]->mod_revision, 5);
    ck_assert_uint_eq(t->n_success, 3);
    ck_assert_uint_eq(t->n_failure, 1);
    ck_assert_int_eq(t->success[2]->request_case,
                     METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE);
    ck_assert(bytes_eq(t->success[2]->request_delete_range->range_end, "d", 1));
    ck_assert(bytes_eq(t->failure[0]->request_range->key, "z", 1));
    protobuf_c_message_free_unpacked(&t->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(request_ids_are_unique_and_stale_replies_are_skipped)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_STALE_FIRST), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "x", 1, NULL, &r), 0);
    ck_assert_mem_eq(r->range.kvs[0].key, "x", 1);
    ms_result_free(r);
    ck_assert_int_eq(ms_get(c, "y", 1, NULL, &r), 0);
    ck_assert_mem_eq(r->range.kvs[0].key, "y", 1);
    ms_result_free(r);
    ck_assert_uint_eq(fake_server_requests(&srv), 2);
    ck_assert_uint_ne(srv.reqs[0].request_id, srv.reqs[1].request_id);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(not_leader_redirects_to_the_named_leader)
{
    ck_assert_int_eq(fake_server_start(&srv2, FAKE_OK), 0);
    ck_assert_int_eq(fake_server_start(&srv, FAKE_NOT_LEADER), 0);
    fake_server_set_leader(&srv, srv2.addr);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "k", 1, "v", 1, 0, false, &r), 0);
    ms_result_free(r);
    ck_assert_str_eq(ms_client_endpoint(c), srv2.addr);
    ck_assert_uint_eq(fake_server_requests(&srv), 1);
    ck_assert_uint_eq(fake_server_requests(&srv2), 1);
    ck_assert_uint_eq(srv2.reqs[0].method, MS__METHOD_PUT);
    ms_client_close(c);
    fake_server_stop(&srv);
    fake_server_stop(&srv2);
}
END_TEST

START_TEST(not_leader_naming_itself_is_returned_with_the_leader)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_NOT_LEADER), 0);
    fake_server_set_leader(&srv, srv.addr);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "k", 1, "v", 1, 0, false, &r), MS_ENOTLEADER);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, MS_STATUS_NOT_LEADER);
    ck_assert_uint_eq(r->leader_id, 0x22);
    ck_assert_str_eq(r->leader_addr, srv.addr);
    ck_assert_str_eq(r->message, "not leader");
    ms_result_free(r);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(server_error_status_maps_to_error_code_and_message)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_ERROR), 0);
    fake_server_set_error(&srv, MS_STATUS_COMPACTED);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    struct ms_range_options o = {.revision = 3};
    ck_assert_int_eq(ms_get(c, "k", 1, &o, &r), MS_ECOMPACTED);
    ck_assert_int_eq(r->status, MS_STATUS_COMPACTED);
    ck_assert_int_eq(r->compact_revision, 17);
    ck_assert_str_eq(r->message, "fake error");
    ck_assert_str_eq(ms_client_errmsg(c), "fake error");
    ms_result_free(r);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(silent_server_gives_deadline_exceeded)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_SILENT), 0);
    struct ms_client *c = open_one(srv.addr, 200);
    struct ms_result *r = (struct ms_result *)1;
    ck_assert_int_eq(ms_get(c, "k", 1, NULL, &r), MS_ETIMEDOUT);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(ms_client_errmsg(c), "deadline exceeded"));
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(refused_first_endpoint_falls_over_to_the_second)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    char dead[32];
    snprintf(dead, sizeof(dead), "127.0.0.1:%u", (unsigned)fake_unused_port());
    const char *eps[] = {dead, srv.addr};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 2, NULL, &c), 0);
    ck_assert_str_eq(ms_client_endpoint(c), srv.addr);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "k", 1, NULL, &r), 0);
    ms_result_free(r);
    ms_client_close(c);

    const char *only_dead[] = {dead};
    ck_assert_int_eq(ms_client_open(only_dead, 1, NULL, &c), MS_ENOENDPOINT);
    ck_assert_ptr_null(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(read_is_retried_on_next_endpoint_after_connection_drop)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_CLOSE), 0);
    ck_assert_int_eq(fake_server_start(&srv2, FAKE_OK), 0);
    const char *eps[] = {srv.addr, srv2.addr};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 2, NULL, &c), 0);
    ck_assert_str_eq(ms_client_endpoint(c), srv.addr);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "k", 1, NULL, &r), 0);
    ms_result_free(r);
    ck_assert_str_eq(ms_client_endpoint(c), srv2.addr);
    ck_assert_uint_eq(fake_server_requests(&srv), 1);
    ck_assert_uint_eq(fake_server_requests(&srv2), 1);
    ms_client_close(c);
    fake_server_stop(&srv);
    fake_server_stop(&srv2);
}
END_TEST

START_TEST(write_is_not_resent_after_it_was_sent)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_CLOSE), 0);
    ck_assert_int_eq(fake_server_start(&srv2, FAKE_OK), 0);
    const char *eps[] = {srv.addr, srv2.addr};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 2, NULL, &c), 0);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "k", 1, "v", 1, 0, false, &r), MS_ECLOSED);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(fake_server_requests(&srv), 1);
    ck_assert_uint_eq(fake_server_requests(&srv2), 0);
    /* The next call starts on the other endpoint. */
    ck_assert_int_eq(ms_put(c, "k", 1, "v", 1, 0, false, &r), 0);
    ms_result_free(r);
    ck_assert_uint_eq(fake_server_requests(&srv2), 1);
    ms_client_close(c);
    fake_server_stop(&srv);
    fake_server_stop(&srv2);
}
END_TEST

START_TEST(undecodable_response_is_a_protocol_error)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_GARBAGE), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_get(c, "k", 1, NULL, &r), MS_EPROTO);
    ck_assert_ptr_null(r);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(invalid_arguments_are_rejected_locally)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_put(c, "", 0, "v", 1, 0, false, &r), MS_EINVAL);
    struct ms_range_options both = {.prefix = true, .from_key = true};
    ck_assert_int_eq(ms_get(c, "k", 1, &both, &r), MS_EINVAL);
    ck_assert_int_eq(ms_compact(c, 0, false, &r), MS_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(fake_server_requests(&srv), 0);
    ms_client_close(c);
    const char *bad[] = {"host:notaport"};
    struct ms_client *none = NULL;
    ck_assert_int_eq(ms_client_open(bad, 1, NULL, &none), MS_EINVAL);
    ck_assert_ptr_null(none);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(member_list_decodes_every_member_field)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_list(c, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_MEMBER_LIST);
    ck_assert_uint_eq(r->header.cluster_id, 7);
    ck_assert_uint_eq(r->members.n_members, 2);
    const struct ms_member *m = r->members.members;
    ck_assert_uint_eq(m[0].id, 1);
    ck_assert_str_eq(m[0].name, "node1");
    ck_assert_str_eq(m[0].peer_addr, "10.0.0.1:2380");
    ck_assert_str_eq(m[0].client_addr, "10.0.0.1:2379");
    ck_assert(!m[0].is_learner);
    ck_assert_uint_eq(m[1].id, 0x8e9e05c52164694dull);
    ck_assert_str_eq(m[1].client_addr, "");
    ck_assert(m[1].is_learner);
    ck_assert_uint_eq(r->members.added.id, 0);
    ck_assert_str_eq(r->members.added.name, "");
    ms_result_free(r);
    ck_assert_uint_eq(srv.reqs[0].method, MS__METHOD_MEMBER_LIST);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(member_add_encodes_member_and_returns_new_id_and_list)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_add(c, "node3", "http://10.0.0.3:2380",
                                   "10.0.0.3:2379", true, &r),
                     0);
    ck_assert_int_eq(r->type, MS_RESULT_MEMBER_ADD);
    ck_assert_uint_eq(r->members.added.id, 0x42);
    ck_assert_str_eq(r->members.added.name, "node3");
    ck_assert_str_eq(r->members.added.peer_addr, "10.0.0.3:2380");
    ck_assert(r->members.added.is_learner);
    ck_assert_uint_eq(r->members.n_members, 3);
    ck_assert_uint_eq(r->members.members[2].id, 0x42);
    ms_result_free(r);

    ck_assert_uint_eq(srv.reqs[0].method, MS__METHOD_MEMBER_ADD);
    Metastore__MemberAddRequest *q = (Metastore__MemberAddRequest *)recorded(
        &srv, 0, &metastore__member_add_request__descriptor);
    ck_assert_ptr_nonnull(q->member);
    ck_assert_uint_eq(q->member->id, 0); /* the server chooses */
    ck_assert_str_eq(q->member->name, "node3");
    ck_assert_str_eq(q->member->peer_addr, "10.0.0.3:2380"); /* no http:// */
    ck_assert_str_eq(q->member->client_addr, "10.0.0.3:2379");
    ck_assert(q->is_learner);
    protobuf_c_message_free_unpacked(&q->base, NULL);

    /* Without a client address the field is sent empty. */
    ck_assert_int_eq(ms_member_add(c, "n4", "10.0.0.4:2380", NULL, false, &r),
                     0);
    ck_assert(!r->members.added.is_learner);
    ms_result_free(r);
    q = (Metastore__MemberAddRequest *)recorded(
        &srv, 1, &metastore__member_add_request__descriptor);
    ck_assert_str_eq(q->member->client_addr, "");
    ck_assert(!q->is_learner);
    protobuf_c_message_free_unpacked(&q->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(member_add_follows_not_leader_to_the_leader)
{
    ck_assert_int_eq(fake_server_start(&srv2, FAKE_OK), 0);
    ck_assert_int_eq(fake_server_start(&srv, FAKE_NOT_LEADER), 0);
    fake_server_set_leader(&srv, srv2.addr);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_add(c, "node3", "10.0.0.3:2380", "", false, &r),
                     0);
    ck_assert_uint_eq(r->members.added.id, 0x42);
    ms_result_free(r);
    ck_assert_str_eq(ms_client_endpoint(c), srv2.addr);
    ck_assert_uint_eq(fake_server_requests(&srv), 1);
    ck_assert_uint_eq(fake_server_requests(&srv2), 1);
    ck_assert_uint_eq(srv.reqs[0].method, MS__METHOD_MEMBER_ADD);
    ck_assert_uint_eq(srv2.reqs[0].method, MS__METHOD_MEMBER_ADD);
    /* The leader got the same request body. */
    ck_assert_uint_eq(srv.reqs[0].len, srv2.reqs[0].len);
    ck_assert_mem_eq(srv.reqs[0].body, srv2.reqs[0].body, srv.reqs[0].len);
    ms_client_close(c);
    fake_server_stop(&srv);
    fake_server_stop(&srv2);
}
END_TEST

START_TEST(member_remove_promote_and_move_leader_send_the_id)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_remove(c, 0x8e9e05c52164694dull, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_MEMBER_REMOVE);
    ck_assert_uint_eq(r->members.n_members, 2);
    ms_result_free(r);
    ck_assert_int_eq(ms_member_promote(c, 5, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_MEMBER_PROMOTE);
    ck_assert_str_eq(r->members.members[1].name, "node2");
    ms_result_free(r);
    ck_assert_int_eq(ms_move_leader(c, 9, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_MOVE_LEADER);
    ck_assert_uint_eq(r->header.member_id, 0x11);
    ms_result_free(r);

    ck_assert_uint_eq(srv.reqs[0].method, MS__METHOD_MEMBER_REMOVE);
    Metastore__MemberRemoveRequest *rm =
        (Metastore__MemberRemoveRequest *)recorded(
            &srv, 0, &metastore__member_remove_request__descriptor);
    ck_assert_uint_eq(rm->id, 0x8e9e05c52164694dull);
    protobuf_c_message_free_unpacked(&rm->base, NULL);
    ck_assert_uint_eq(srv.reqs[1].method, MS__METHOD_MEMBER_PROMOTE);
    Metastore__MemberPromoteRequest *pr =
        (Metastore__MemberPromoteRequest *)recorded(
            &srv, 1, &metastore__member_promote_request__descriptor);
    ck_assert_uint_eq(pr->id, 5);
    protobuf_c_message_free_unpacked(&pr->base, NULL);
    ck_assert_uint_eq(srv.reqs[2].method, MS__METHOD_MOVE_LEADER);
    Metastore__MoveLeaderRequest *ml = (Metastore__MoveLeaderRequest *)recorded(
        &srv, 2, &metastore__move_leader_request__descriptor);
    ck_assert_uint_eq(ml->target_id, 9);
    protobuf_c_message_free_unpacked(&ml->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(fault_sends_action_and_peer)
{
    ck_assert_int_eq(MS_FAULT_DROP_PEER,
                     METASTORE__FAULT_REQUEST__ACTION__DROP_PEER);
    ck_assert_int_eq(MS_FAULT_HEAL_ALL,
                     METASTORE__FAULT_REQUEST__ACTION__HEAL_ALL);
    ck_assert_int_eq(MS_FAULT_RESUME_APPLY,
                     METASTORE__FAULT_REQUEST__ACTION__RESUME_APPLY);
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_fault(c, MS_FAULT_DROP_PEER, 3, &r), 0);
    ck_assert_int_eq(r->type, MS_RESULT_FAULT);
    ms_result_free(r);
    ck_assert_int_eq(ms_fault(c, MS_FAULT_HEAL_ALL, 0, &r), 0);
    ms_result_free(r);
    Metastore__FaultRequest *f = (Metastore__FaultRequest *)recorded(
        &srv, 0, &metastore__fault_request__descriptor);
    ck_assert_int_eq(f->action, METASTORE__FAULT_REQUEST__ACTION__DROP_PEER);
    ck_assert_uint_eq(f->peer_id, 3);
    protobuf_c_message_free_unpacked(&f->base, NULL);
    f = (Metastore__FaultRequest *)recorded(
        &srv, 1, &metastore__fault_request__descriptor);
    ck_assert_int_eq(f->action, METASTORE__FAULT_REQUEST__ACTION__HEAL_ALL);
    protobuf_c_message_free_unpacked(&f->base, NULL);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(fault_refused_by_server_is_permission_denied)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_ERROR), 0);
    fake_server_set_error(&srv, MS_STATUS_PERMISSION_DENIED);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_fault(c, MS_FAULT_DROP_PEER, 3, &r), MS_EDENIED);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->status, MS_STATUS_PERMISSION_DENIED);
    ck_assert_str_eq(r->message, "fake error");
    ms_result_free(r);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

START_TEST(membership_change_is_not_resent_after_it_was_sent)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_CLOSE), 0);
    ck_assert_int_eq(fake_server_start(&srv2, FAKE_OK), 0);
    const char *eps[] = {srv.addr, srv2.addr};
    struct ms_client *c = NULL;
    ck_assert_int_eq(ms_client_open(eps, 2, NULL, &c), 0);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_remove(c, 2, &r), MS_ECLOSED);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(fake_server_requests(&srv2), 0);
    ms_client_close(c);
    /* A member list is safe to resend. */
    ck_assert_int_eq(ms_client_open(eps, 2, NULL, &c), 0);
    ck_assert_int_eq(ms_member_list(c, &r), 0);
    ms_result_free(r);
    ck_assert_uint_eq(fake_server_requests(&srv2), 1);
    ms_client_close(c);
    fake_server_stop(&srv);
    fake_server_stop(&srv2);
}
END_TEST

START_TEST(membership_arguments_are_checked_locally)
{
    ck_assert_int_eq(fake_server_start(&srv, FAKE_OK), 0);
    struct ms_client *c = open_one(srv.addr, 2000);
    struct ms_result *r = NULL;
    ck_assert_int_eq(ms_member_add(c, "", "10.0.0.3:2380", NULL, false, &r),
                     MS_EINVAL);
    ck_assert_int_eq(ms_member_add(c, "n", "10.0.0.3", NULL, false, &r),
                     MS_EINVAL); /* no port */
    ck_assert_int_eq(ms_member_add(c, "n", NULL, NULL, false, &r), MS_EINVAL);
    ck_assert_int_eq(
        ms_member_add(c, "n", "https://10.0.0.3:2380", NULL, false, &r),
        MS_EINVAL);
    ck_assert_int_eq(
        ms_member_add(c, "n", "10.0.0.3:2380", "bad:port:x", false, &r),
        MS_EINVAL);
    ck_assert_ptr_nonnull(strstr(ms_client_errmsg(c), "client address"));
    ck_assert_int_eq(ms_member_remove(c, 0, &r), MS_EINVAL);
    ck_assert_int_eq(ms_member_promote(c, 0, &r), MS_EINVAL);
    ck_assert_int_eq(ms_move_leader(c, 0, &r), MS_EINVAL);
    ck_assert_int_eq(ms_fault(c, MS_FAULT_DROP_PEER, 0, &r), MS_EINVAL);
    ck_assert_int_eq(ms_fault(c, (enum ms_fault_action)9, 1, &r), MS_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_uint_eq(fake_server_requests(&srv), 0);
    ms_client_close(c);
    fake_server_stop(&srv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("client");
    TCase *t = tcase_create("client");
    tcase_set_timeout(t, 20);
    tcase_add_test(t, frame_header_is_big_endian_sixteen_bytes);
    tcase_add_test(t, frame_header_rejects_bad_version_flags_and_size);
    tcase_add_test(t, public_enums_use_the_protocol_numbers);
    tcase_add_test(t, put_encodes_request_and_decodes_prev_kv);
    tcase_add_test(t, get_prefix_sends_range_end_and_all_options);
    tcase_add_test(t, delete_and_compact_and_status_decode);
    tcase_add_test(t, txn_encodes_compares_and_ops_and_decodes_responses);
    tcase_add_test(t, request_ids_are_unique_and_stale_replies_are_skipped);
    tcase_add_test(t, not_leader_redirects_to_the_named_leader);
    tcase_add_test(t, not_leader_naming_itself_is_returned_with_the_leader);
    tcase_add_test(t, server_error_status_maps_to_error_code_and_message);
    tcase_add_test(t, silent_server_gives_deadline_exceeded);
    tcase_add_test(t, refused_first_endpoint_falls_over_to_the_second);
    tcase_add_test(t, read_is_retried_on_next_endpoint_after_connection_drop);
    tcase_add_test(t, write_is_not_resent_after_it_was_sent);
    tcase_add_test(t, undecodable_response_is_a_protocol_error);
    tcase_add_test(t, invalid_arguments_are_rejected_locally);
    tcase_add_test(t, member_list_decodes_every_member_field);
    tcase_add_test(t, member_add_encodes_member_and_returns_new_id_and_list);
    tcase_add_test(t, member_add_follows_not_leader_to_the_leader);
    tcase_add_test(t, member_remove_promote_and_move_leader_send_the_id);
    tcase_add_test(t, fault_sends_action_and_peer);
    tcase_add_test(t, fault_refused_by_server_is_permission_denied);
    tcase_add_test(t, membership_change_is_not_resent_after_it_was_sent);
    tcase_add_test(t, membership_arguments_are_checked_locally);
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
