/*
 * test_frame.c - the frame header codec, the incremental frame decoder, the
 * method table and the status codes (server/frame.h, server/status.h), and
 * their agreement with the .proto files.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "proto/raft.pb-c.h"
#include "raft/raft.h"
#include "server/frame.h"
#include "server/status.h"

#define MAX_BODY 65536u

/* Appends one frame (header + body of `len` bytes of pattern) to buf. */
static size_t put_frame(uint8_t *buf, uint16_t method, uint8_t flags,
                        uint64_t id, uint32_t len)
{
    struct frame_header h = {len, method, flags, id};
    ck_assert_int_eq(frame_header_encode(&h, buf), 0);
    for (uint32_t i = 0; i < len; i++)
        buf[FRAME_HEADER_BYTES + i] = (uint8_t)(id * 31 + i);
    return FRAME_HEADER_BYTES + len;
}

/* Plain comparisons in the loop: every Check assertion writes a mark to a
 * pipe, too slow for millions of bytes. */
static void check_body(const struct frame *f)
{
    uint32_t bad = UINT32_MAX;
    for (uint32_t i = 0; i < f->hdr.length && bad == UINT32_MAX; i++)
        if (f->body[i] != (uint8_t)(f->hdr.request_id * 31 + i))
            bad = i;
    ck_assert_msg(bad == UINT32_MAX, "frame %llu: body byte %u differs",
                  (unsigned long long)f->hdr.request_id, bad);
}

/* Feeds `len` bytes to d, checking every returned frame against the
 * expectation (ids 1, 2, 3, ... in order), and returns how many came out. */
static int feed_all(struct frame_decoder *d, const uint8_t *p, size_t len,
                    uint64_t *next_id)
{
    int n = 0;
    while (len > 0) {
        struct frame f;
        size_t used;
        int rc = frame_decoder_feed(d, p, len, &used, &f);
        if (rc < 0 || used > len || (rc == 0 && used != len))
            ck_abort_msg("feed: rc %d, used %zu of %zu", rc, used, len);
        p += used;
        len -= used;
        if (rc == 1) {
            if (f.hdr.request_id != *next_id)
                ck_abort_msg("frame %llu, expected %llu",
                             (unsigned long long)f.hdr.request_id,
                             (unsigned long long)*next_id);
            check_body(&f);
            (*next_id)++;
            n++;
        }
    }
    return n;
}

START_TEST(header_roundtrip_is_big_endian_16_bytes)
{
    struct frame_header h = {0x01020304u, 0x0a0b, FRAME_FLAG_RESPONSE,
                             0x1112131415161718ull};
    uint8_t b[FRAME_HEADER_BYTES];
    ck_assert_int_eq(frame_header_encode(&h, b), 0);
    const uint8_t want[FRAME_HEADER_BYTES] = {
        0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x01, FRAME_VERSION,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
    ck_assert_mem_eq(b, want, sizeof(want));
    struct frame_header out;
    ck_assert_int_eq(frame_header_decode(b, UINT32_MAX, &out), 0);
    ck_assert_uint_eq(out.length, h.length);
    ck_assert_uint_eq(out.method, h.method);
    ck_assert_uint_eq(out.flags, h.flags);
    ck_assert_uint_eq(out.request_id, h.request_id);
}
END_TEST

START_TEST(header_decode_rejects_bad_version_flags_and_length)
{
    uint8_t b[FRAME_HEADER_BYTES];
    struct frame_header h = {100, SRV_METHOD_PUT, 0, 77}, out;
    ck_assert_int_eq(frame_header_encode(&h, b), 0);

    b[7] = FRAME_VERSION + 1;
    ck_assert_int_eq(frame_header_decode(b, MAX_BODY, &out), FRAME_EVERSION);
    b[7] = FRAME_VERSION;
    b[6] = 0x80;
    ck_assert_int_eq(frame_header_decode(b, MAX_BODY, &out), FRAME_EFLAGS);
    b[6] = 0;
    ck_assert_int_eq(frame_header_decode(b, 99, &out), FRAME_ETOOBIG);
    ck_assert_uint_eq(out.request_id, 77); /* still answerable */
    ck_assert_int_eq(frame_header_decode(b, 100, &out), 0);
}
END_TEST

START_TEST(header_encode_refuses_unknown_flags)
{
    uint8_t b[FRAME_HEADER_BYTES];
    struct frame_header h = {0, SRV_METHOD_PING, 0x40, 1};
    ck_assert_int_eq(frame_header_encode(&h, b), FRAME_EFLAGS);
}
END_TEST

START_TEST(decoder_handles_a_split_at_every_byte_boundary)
{
    static uint8_t stream[3 * FRAME_HEADER_BYTES + 5000 + 7];
    size_t n = 0;
    n += put_frame(stream + n, SRV_METHOD_RANGE, 0, 1, 7);
    n += put_frame(stream + n, SRV_METHOD_PING, 0, 2, 0);
    n += put_frame(stream + n, SRV_METHOD_PUT, 0, 3, 5000);
    ck_assert_uint_eq(n, sizeof(stream));
    for (size_t split = 0; split <= n; split++) {
        struct frame_decoder d;
        uint64_t next = 1;
        frame_decoder_init(&d, MAX_BODY);
        int got = feed_all(&d, stream, split, &next);
        got += feed_all(&d, stream + split, n - split, &next);
        ck_assert_int_eq(got, 3);
        ck_assert_int_eq(frame_decoder_finish(&d), 0);
        frame_decoder_close(&d);
    }
}
END_TEST

START_TEST(decoder_handles_one_byte_at_a_time)
{
    static uint8_t stream[2 * FRAME_HEADER_BYTES + 300];
    size_t n = put_frame(stream, SRV_METHOD_TXN, 0, 1, 100);
    n += put_frame(stream + n, SRV_METHOD_TXN, 0, 2, 200);
    struct frame_decoder d;
    uint64_t next = 1;
    int got = 0;
    frame_decoder_init(&d, MAX_BODY);
    for (size_t i = 0; i < n; i++) {
        got += feed_all(&d, stream + i, 1, &next);
        if (i + 1 < n)
            ck_assert_int_eq(
                frame_decoder_finish(&d),
                i + 1 == FRAME_HEADER_BYTES + 100 ? 0 : FRAME_ETRUNCATED);
    }
    ck_assert_int_eq(got, 2);
    frame_decoder_close(&d);
}
END_TEST

START_TEST(decoder_returns_many_frames_from_one_chunk_without_copying)
{
    enum { N = 1000 };
    size_t cap = N * (FRAME_HEADER_BYTES + 40);
    uint8_t *stream = malloc(cap);
    size_t n = 0;
    for (uint64_t id = 1; id <= N; id++)
        n +=
            put_frame(stream + n, SRV_METHOD_RANGE, 0, id, (uint32_t)(id % 41));
    struct frame_decoder d;
    frame_decoder_init(&d, MAX_BODY);
    const uint8_t *p = stream;
    size_t left = n;
    uint64_t next = 1;
    while (left > 0) {
        struct frame f;
        size_t used;
        ck_assert_int_eq(frame_decoder_feed(&d, p, left, &used, &f), 1);
        ck_assert_uint_eq(f.hdr.request_id, next++);
        check_body(&f);
        if (f.hdr.length > 0) {
            /* The body points into the chunk itself. */
            ck_assert(f.body >= stream && f.body < stream + n);
        }
        p += used;
        left -= used;
    }
    ck_assert_uint_eq(next, N + 1);
    ck_assert_ptr_null(d.buf); /* nothing was gathered */
    frame_decoder_close(&d);
    free(stream);
}
END_TEST

START_TEST(decoder_rejects_oversize_frame_with_its_request_id)
{
    uint8_t b[FRAME_HEADER_BYTES];
    struct frame_header h = {MAX_BODY + 1, SRV_METHOD_PUT, 0, 4242};
    ck_assert_int_eq(frame_header_encode(&h, b), 0);
    struct frame_decoder d;
    struct frame f;
    size_t used;
    frame_decoder_init(&d, MAX_BODY);
    /* Header split in two: the error comes when the header is complete. */
    ck_assert_int_eq(frame_decoder_feed(&d, b, 5, &used, &f), 0);
    ck_assert_int_eq(frame_decoder_feed(&d, b + 5, 11, &used, &f),
                     FRAME_ETOOBIG);
    ck_assert_uint_eq(f.hdr.request_id, 4242);
    ck_assert_uint_eq(f.hdr.method, SRV_METHOD_PUT);
    ck_assert_ptr_null(d.buf); /* nothing allocated for the body */
    /* Sticky: the stream cannot be trusted any more. */
    uint8_t ok[FRAME_HEADER_BYTES];
    put_frame(ok, SRV_METHOD_PING, 0, 1, 0);
    ck_assert_int_eq(frame_decoder_feed(&d, ok, sizeof(ok), &used, &f),
                     FRAME_ETOOBIG);
    ck_assert_int_eq(frame_decoder_finish(&d), FRAME_ETOOBIG);
    frame_decoder_close(&d);
}
END_TEST

START_TEST(decoder_rejects_bad_version_and_garbage)
{
    struct frame_decoder d;
    struct frame f;
    size_t used;
    uint8_t b[FRAME_HEADER_BYTES + 4];
    put_frame(b, SRV_METHOD_PING, 0, 1, 4);
    b[7] = 9;
    frame_decoder_init(&d, MAX_BODY);
    ck_assert_int_eq(frame_decoder_feed(&d, b, sizeof(b), &used, &f),
                     FRAME_EVERSION);
    frame_decoder_close(&d);

    /* An HTTP request on the client port. */
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    frame_decoder_init(&d, MAX_BODY);
    ck_assert_int_lt(
        frame_decoder_feed(&d, (const uint8_t *)http, strlen(http), &used, &f),
        0);
    frame_decoder_close(&d);
}
END_TEST

START_TEST(decoder_reports_truncated_stream_at_end)
{
    uint8_t b[FRAME_HEADER_BYTES + 10];
    put_frame(b, SRV_METHOD_PING, 0, 1, 10);
    struct frame_decoder d;
    uint64_t next = 1;
    frame_decoder_init(&d, MAX_BODY);
    ck_assert_int_eq(frame_decoder_finish(&d), 0);
    ck_assert_int_eq(feed_all(&d, b, 3, &next), 0);
    ck_assert_int_eq(frame_decoder_finish(&d), FRAME_ETRUNCATED);
    ck_assert_int_eq(feed_all(&d, b + 3, FRAME_HEADER_BYTES + 2, &next), 0);
    ck_assert_int_eq(frame_decoder_finish(&d), FRAME_ETRUNCATED);
    ck_assert_int_eq(feed_all(&d, b + FRAME_HEADER_BYTES + 5, 5, &next), 1);
    ck_assert_int_eq(frame_decoder_finish(&d), 0);
    frame_decoder_close(&d);
}
END_TEST

START_TEST(decoder_buffer_grows_with_arrived_bytes_not_announced_length)
{
    uint32_t big = 1u << 20;
    uint8_t *stream = malloc(FRAME_HEADER_BYTES + big + FRAME_HEADER_BYTES);
    size_t n = put_frame(stream, SRV_METHOD_PUT, 0, 1, big);
    n += put_frame(stream + n, SRV_METHOD_PING, 0, 2, 0);
    struct frame_decoder d;
    uint64_t next = 1;
    frame_decoder_init(&d, 2u << 20);
    /* The header and 10 body bytes: far less than 1 MiB is allocated. */
    ck_assert_int_eq(feed_all(&d, stream, FRAME_HEADER_BYTES + 10, &next), 0);
    ck_assert_uint_le(d.buf_cap, 4096);
    size_t pos = FRAME_HEADER_BYTES + 10;
    while (pos < n) {
        size_t chunk = n - pos < 1000 ? n - pos : 1000;
        feed_all(&d, stream + pos, chunk, &next);
        ck_assert_uint_le(d.buf_cap, big);
        pos += chunk;
    }
    ck_assert_uint_eq(next, 3);
    /* The buffer of the large frame was given back before the next one. */
    ck_assert_uint_le(d.buf_cap, FRAME_DECODER_KEEP_BYTES);
    frame_decoder_close(&d);
    free(stream);
}
END_TEST

START_TEST(range_request_survives_protobuf_and_frame)
{
    Metastore__RangeRequest req = METASTORE__RANGE_REQUEST__INIT;
    req.key.data = (uint8_t *)"/config/a";
    req.key.len = 9;
    req.range_end.data = (uint8_t *)"/config/b";
    req.range_end.len = 9;
    req.limit = 50;
    req.revision = 12345;
    req.consistency = METASTORE__CONSISTENCY__SERIALIZABLE;
    req.keys_only = 1;
    req.sort_order = METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND;
    req.min_applied_index = 987654321;

    size_t sz = frame_message_size(&req.base);
    uint8_t *buf = malloc(sz);
    size_t written;
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_RANGE, 0, 99, &req.base,
                                          MAX_BODY, buf, &written),
                     0);
    ck_assert_uint_eq(written, sz);

    struct frame_decoder d;
    struct frame f;
    size_t used;
    frame_decoder_init(&d, MAX_BODY);
    ck_assert_int_eq(frame_decoder_feed(&d, buf, written, &used, &f), 1);
    ck_assert_uint_eq(used, written);
    ck_assert_uint_eq(f.hdr.method, SRV_METHOD_RANGE);
    ck_assert_uint_eq(f.hdr.request_id, 99);
    Metastore__RangeRequest *got =
        metastore__range_request__unpack(NULL, f.hdr.length, f.body);
    ck_assert_ptr_nonnull(got);
    ck_assert_mem_eq(got->key.data, "/config/a", 9);
    ck_assert_mem_eq(got->range_end.data, "/config/b", 9);
    ck_assert_int_eq(got->limit, 50);
    ck_assert_int_eq(got->revision, 12345);
    ck_assert_int_eq(got->consistency, METASTORE__CONSISTENCY__SERIALIZABLE);
    ck_assert(got->keys_only);
    ck_assert(!got->count_only);
    ck_assert_int_eq(got->sort_order,
                     METASTORE__RANGE_REQUEST__SORT_ORDER__DESCEND);
    ck_assert_uint_eq(got->min_applied_index, 987654321);
    metastore__range_request__free_unpacked(got, NULL);
    frame_decoder_close(&d);
    free(buf);
}
END_TEST

START_TEST(error_reply_carries_error_detail)
{
    Metastore__ErrorDetail e = METASTORE__ERROR_DETAIL__INIT;
    e.code = METASTORE__STATUS_CODE__NOT_LEADER;
    e.message = "not the leader";
    e.leader_id = 3;
    e.leader_addr = "10.0.0.3:2379";
    uint8_t buf[256];
    size_t written;
    ck_assert_uint_le(frame_message_size(&e.base), sizeof(buf));
    ck_assert_int_eq(frame_encode_message(
                         SRV_METHOD_PUT, FRAME_FLAG_RESPONSE | FRAME_FLAG_ERROR,
                         7, &e.base, MAX_BODY, buf, &written),
                     0);
    struct frame_header h;
    ck_assert_int_eq(frame_header_decode(buf, MAX_BODY, &h), 0);
    ck_assert_uint_eq(h.flags, FRAME_FLAG_RESPONSE | FRAME_FLAG_ERROR);
    Metastore__ErrorDetail *got = metastore__error_detail__unpack(
        NULL, h.length, buf + FRAME_HEADER_BYTES);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(got->code, SRV_STATUS_NOT_LEADER);
    ck_assert_str_eq(got->leader_addr, "10.0.0.3:2379");
    ck_assert_uint_eq(got->leader_id, 3);
    metastore__error_detail__free_unpacked(got, NULL);
}
END_TEST

START_TEST(encode_message_refuses_body_over_limit)
{
    Metastore__PutRequest req = METASTORE__PUT_REQUEST__INIT;
    static uint8_t value[2000];
    req.value.data = value;
    req.value.len = sizeof(value);
    uint8_t *buf = malloc(frame_message_size(&req.base));
    size_t written = 1;
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_PUT, 0, 1, &req.base, 1000,
                                          buf, &written),
                     FRAME_ETOOBIG);
    ck_assert_uint_eq(written, 0);
    /* An empty body is a valid frame. */
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_STATUS, 0, 2, NULL, 1000,
                                          buf, &written),
                     0);
    ck_assert_uint_eq(written, FRAME_HEADER_BYTES);
    free(buf);
}
END_TEST

START_TEST(ping_example_in_protocol_md_is_exact)
{
    Metastore__PingRequest req = METASTORE__PING_REQUEST__INIT;
    req.payload.data = (uint8_t *)"hi";
    req.payload.len = 2;
    uint8_t buf[32];
    size_t written;
    ck_assert_uint_eq(frame_message_size(&req.base), 20);
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_PING, 0, 7, &req.base,
                                          MAX_BODY, buf, &written),
                     0);
    const uint8_t want[20] = {0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 0x00,
                              0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x07, 0x0a, 0x02, 0x68, 0x69};
    ck_assert_uint_eq(written, sizeof(want));
    ck_assert_mem_eq(buf, want, sizeof(want));
}
END_TEST

static const ProtobufCMessageDescriptor *const all_messages[] = {
    &metastore__ping_request__descriptor,
    &metastore__ping_response__descriptor,
    &metastore__status_request__descriptor,
    &metastore__status_response__descriptor,
    &metastore__range_request__descriptor,
    &metastore__range_response__descriptor,
    &metastore__put_request__descriptor,
    &metastore__put_response__descriptor,
    &metastore__delete_range_request__descriptor,
    &metastore__delete_range_response__descriptor,
    &metastore__txn_request__descriptor,
    &metastore__txn_response__descriptor,
    &metastore__compaction_request__descriptor,
    &metastore__compaction_response__descriptor,
    &metastore__member_list_request__descriptor,
    &metastore__member_list_response__descriptor,
    &metastore__member_add_request__descriptor,
    &metastore__member_add_response__descriptor,
    &metastore__member_remove_request__descriptor,
    &metastore__member_remove_response__descriptor,
    &metastore__member_promote_request__descriptor,
    &metastore__member_promote_response__descriptor,
    &metastore__move_leader_request__descriptor,
    &metastore__move_leader_response__descriptor,
    &metastore__fault_request__descriptor,
    &metastore__fault_response__descriptor,
    &metastore__watch_request__descriptor,
    &metastore__watch_response__descriptor,
    &metastore__authenticate_request__descriptor,
    &metastore__authenticate_response__descriptor,
    &metastore__auth_enable_request__descriptor,
    &metastore__auth_enable_response__descriptor,
    &metastore__auth_disable_request__descriptor,
    &metastore__auth_disable_response__descriptor,
    &metastore__auth_status_request__descriptor,
    &metastore__auth_status_response__descriptor,
    &metastore__auth_user_add_request__descriptor,
    &metastore__auth_user_add_response__descriptor,
    &metastore__auth_user_get_request__descriptor,
    &metastore__auth_user_get_response__descriptor,
    &metastore__auth_user_list_request__descriptor,
    &metastore__auth_user_list_response__descriptor,
    &metastore__auth_user_delete_request__descriptor,
    &metastore__auth_user_delete_response__descriptor,
    &metastore__auth_user_change_password_request__descriptor,
    &metastore__auth_user_change_password_response__descriptor,
    &metastore__auth_user_grant_role_request__descriptor,
    &metastore__auth_user_grant_role_response__descriptor,
    &metastore__auth_user_revoke_role_request__descriptor,
    &metastore__auth_user_revoke_role_response__descriptor,
    &metastore__auth_role_add_request__descriptor,
    &metastore__auth_role_add_response__descriptor,
    &metastore__auth_role_get_request__descriptor,
    &metastore__auth_role_get_response__descriptor,
    &metastore__auth_role_list_request__descriptor,
    &metastore__auth_role_list_response__descriptor,
    &metastore__auth_role_delete_request__descriptor,
    &metastore__auth_role_delete_response__descriptor,
    &metastore__auth_role_grant_permission_request__descriptor,
    &metastore__auth_role_grant_permission_response__descriptor,
    &metastore__auth_role_revoke_permission_request__descriptor,
    &metastore__auth_role_revoke_permission_response__descriptor,
    &metastore__raft__hello__descriptor,
    &metastore__raft__hello_response__descriptor,
    &metastore__raft__batch__descriptor,
    &metastore__raft__forward__descriptor,
    &metastore__raft__forward_response__descriptor,
};

static bool message_exists(const char *name)
{
    for (size_t i = 0; i < sizeof(all_messages) / sizeof(all_messages[0]); i++)
        if (strcmp(all_messages[i]->name, name) == 0)
            return true;
    return false;
}

START_TEST(method_table_names_messages_that_exist)
{
    int n = 0;
#define CHECK_METHOD(name, num, kind, rq, rs)                                  \
    ck_assert_str_eq(srv_method_name(num), #name);                             \
    ck_assert_int_eq(srv_method_kind(num), SRV_METHOD_KIND_##kind);            \
    if (rq)                                                                    \
        ck_assert_msg(message_exists(rq), "%s: no message %s", #name,          \
                      (const char *)rq);                                       \
    if (rs)                                                                    \
        ck_assert_msg(message_exists(rs), "%s: no message %s", #name,          \
                      (const char *)rs);                                       \
    n++;
    SRV_METHODS(CHECK_METHOD)
#undef CHECK_METHOD
    ck_assert_int_gt(n, 10);
    ck_assert_str_eq(srv_method_name(0), "UNKNOWN");
    ck_assert_int_eq(srv_method_kind(0), SRV_METHOD_KIND_NONE);
    ck_assert_int_eq(srv_method_kind(9999), SRV_METHOD_KIND_NONE);
    ck_assert_str_eq(srv_method_response_type(SRV_METHOD_WATCH),
                     "metastore.WatchResponse");
    ck_assert_str_eq(srv_method_request_type(SRV_METHOD_RANGE),
                     "metastore.RangeRequest");
}
END_TEST

START_TEST(status_codes_match_the_proto_enum)
{
    const ProtobufCEnumDescriptor *ed = &metastore__status_code__descriptor;
    int n = 0;
    for (unsigned i = 0; i < ed->n_values; i++) {
        int v = ed->values[i].value;
        ck_assert_msg(srv_status_known(v), "proto code %d not in C table", v);
        ck_assert_str_eq(srv_status_name(v), ed->values[i].name);
    }
#define CHECK_STATUS(code, num, text)                                          \
    {                                                                          \
        const ProtobufCEnumValue *ev =                                         \
            protobuf_c_enum_descriptor_get_value(ed, num);                     \
        ck_assert_msg(ev != NULL, "%s missing from metastore.proto", #code);   \
        ck_assert_str_eq(ev->name, #code);                                     \
        n++;                                                                   \
    }
    SRV_STATUS_CODES(CHECK_STATUS)
#undef CHECK_STATUS
    ck_assert_uint_eq((unsigned)n, ed->n_values);
    ck_assert_int_eq(SRV_STATUS_NOT_FOUND, 5); /* gRPC's number */
    ck_assert_str_eq(srv_status_name(SRV_STATUS_NOT_LEADER), "NOT_LEADER");
    ck_assert_str_eq(srv_status_name(12345), "UNKNOWN");
    ck_assert(!srv_status_known(1));
}
END_TEST

START_TEST(raft_proto_numbers_mirror_raft_h)
{
    ck_assert_int_eq(METASTORE__RAFT__MESSAGE_TYPE__MSG_APPEND,
                     RAFT_MSG_APPEND);
    ck_assert_int_eq(METASTORE__RAFT__MESSAGE_TYPE__MSG_PRE_VOTE,
                     RAFT_MSG_PRE_VOTE);
    ck_assert_int_eq(METASTORE__RAFT__MESSAGE_TYPE__MSG_HEARTBEAT_RESP,
                     RAFT_MSG_HEARTBEAT_RESP);
    ck_assert_int_eq(METASTORE__RAFT__MESSAGE_TYPE__MSG_TIMEOUT_NOW,
                     RAFT_MSG_TIMEOUT_NOW);
    ck_assert_int_eq(METASTORE__RAFT__MESSAGE_TYPE__MSG_READ_INDEX_RESP,
                     RAFT_MSG_READ_INDEX_RESP);
    ck_assert_int_eq(METASTORE__RAFT__ENTRY_TYPE__ENTRY_CONF_CHANGE,
                     RAFT_ENTRY_CONF_CHANGE);
    /* A Batch with an append carrying one entry survives a round trip. */
    Metastore__Raft__Entry e = METASTORE__RAFT__ENTRY__INIT;
    e.term = 4;
    e.index = 10;
    e.data.data = (uint8_t *)"x";
    e.data.len = 1;
    Metastore__Raft__Entry *ents[] = {&e};
    Metastore__Raft__Message m = METASTORE__RAFT__MESSAGE__INIT;
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_APPEND;
    m.from = 1;
    m.to = 2;
    m.term = 4;
    m.seq = 77;
    m.n_entries = 1;
    m.entries = ents;
    Metastore__Raft__Message *msgs[] = {&m};
    Metastore__Raft__Batch b = METASTORE__RAFT__BATCH__INIT;
    b.n_msgs = 1;
    b.msgs = msgs;
    uint8_t buf[256];
    size_t len = metastore__raft__batch__pack(&b, buf);
    Metastore__Raft__Batch *got =
        metastore__raft__batch__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(got->n_msgs, 1);
    ck_assert_uint_eq(got->msgs[0]->seq, 77);
    ck_assert_uint_eq(got->msgs[0]->entries[0]->index, 10);
    metastore__raft__batch__free_unpacked(got, NULL);
}
END_TEST

START_TEST(error_names_and_texts)
{
    ck_assert_str_eq(frame_err_name(FRAME_ETOOBIG), "FRAME_ETOOBIG");
    ck_assert_str_eq(frame_strerror(FRAME_EVERSION),
                     "unsupported frame version");
    ck_assert_str_eq(frame_err_name(-1), "FRAME_E?");
    ck_assert_str_eq(srv_status_text(SRV_STATUS_OK), "success");
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, header_roundtrip_is_big_endian_16_bytes);
    tcase_add_test(tc, header_decode_rejects_bad_version_flags_and_length);
    tcase_add_test(tc, header_encode_refuses_unknown_flags);
    tcase_add_test(tc, decoder_handles_a_split_at_every_byte_boundary);
    tcase_add_test(tc, decoder_handles_one_byte_at_a_time);
    tcase_add_test(tc,
                   decoder_returns_many_frames_from_one_chunk_without_copying);
    tcase_add_test(tc, decoder_rejects_oversize_frame_with_its_request_id);
    tcase_add_test(tc, decoder_rejects_bad_version_and_garbage);
    tcase_add_test(tc, decoder_reports_truncated_stream_at_end);
    tcase_add_test(
        tc, decoder_buffer_grows_with_arrived_bytes_not_announced_length);
    tcase_add_test(tc, range_request_survives_protobuf_and_frame);
    tcase_add_test(tc, error_reply_carries_error_detail);
    tcase_add_test(tc, ping_example_in_protocol_md_is_exact);
    tcase_add_test(tc, encode_message_refuses_body_over_limit);
    tcase_add_test(tc, method_table_names_messages_that_exist);
    tcase_add_test(tc, status_codes_match_the_proto_enum);
    tcase_add_test(tc, raft_proto_numbers_mirror_raft_h);
    tcase_add_test(tc, error_names_and_texts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(frame_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
