/*
 * test_peer_codec.c - struct raft_message <-> Batch encoding
 * (server/peer_codec.h): every message type round-trips field for field,
 * entries and snapshot chunks keep their bytes, the output is a plain
 * protobuf Batch, and every kind of bad input is refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto/raft.pb-c.h"
#include "server/peer_codec.h"

/* A message of `type` with every scalar field set to a distinct value. */
static struct raft_message full_msg(uint32_t type, uint64_t k)
{
    struct raft_message m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.flags = (type == RAFT_MSG_VOTE) ? RAFT_MSG_FLAG_TRANSFER : 0;
    m.from = 1 + k;
    m.to = 2 + k;
    m.term = 3 + k;
    m.log_term = 4 + k;
    m.index = 5 + k;
    m.commit = 6 + k;
    m.reject = (k % 2) == 1;
    m.reject_hint = 7 + k;
    m.hint_term = 8 + k;
    m.seq = 9 + k;
    m.ctx = 0xfedcba9876543210ull + k;
    m.snap_offset = 10 + k;
    m.snap_last = (k % 3) == 0;
    return m;
}

static void assert_scalars_eq(const struct raft_message *a,
                              const struct raft_message *b)
{
    ck_assert_uint_eq(a->type, b->type);
    ck_assert_uint_eq(a->flags, b->flags);
    ck_assert_uint_eq(a->from, b->from);
    ck_assert_uint_eq(a->to, b->to);
    ck_assert_uint_eq(a->term, b->term);
    ck_assert_uint_eq(a->log_term, b->log_term);
    ck_assert_uint_eq(a->index, b->index);
    ck_assert_uint_eq(a->commit, b->commit);
    ck_assert_int_eq(a->reject, b->reject);
    ck_assert_uint_eq(a->reject_hint, b->reject_hint);
    ck_assert_uint_eq(a->hint_term, b->hint_term);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_uint_eq(a->ctx, b->ctx);
    ck_assert_uint_eq(a->snap_offset, b->snap_offset);
    ck_assert_int_eq(a->snap_last, b->snap_last);
    ck_assert_uint_eq(a->snap.index, b->snap.index);
    ck_assert_uint_eq(a->snap.term, b->snap.term);
    ck_assert_uint_eq(a->snap.size, b->snap.size);
    ck_assert_uint_eq(a->snap.conf.n, b->snap.conf.n);
    for (uint32_t i = 0; i < a->snap.conf.n; i++) {
        ck_assert_uint_eq(a->snap.conf.members[i].id,
                          b->snap.conf.members[i].id);
        ck_assert_int_eq(a->snap.conf.members[i].learner,
                         b->snap.conf.members[i].learner);
    }
}

/* Encodes msgs, decodes them back; returns the decoded array. */
static struct raft_message *roundtrip(const struct raft_message *msgs, size_t n)
{
    struct peer_buf b;
    peer_buf_init(&b);
    ck_assert_int_eq(peer_codec_encode_batch(&b, msgs, n), 0);
    struct raft_message *out = NULL;
    size_t got = 0;
    ck_assert_int_eq(peer_codec_decode_batch(b.data, b.len, &out, &got), 0);
    ck_assert_uint_eq(got, n);
    peer_buf_free(&b);
    return out;
}

/* Packs a Batch holding one Message built by the caller. */
static int decode_pb(Metastore__Raft__Message *pm)
{
    Metastore__Raft__Batch batch = METASTORE__RAFT__BATCH__INIT;
    Metastore__Raft__Message *list[1] = {pm};
    batch.n_msgs = 1;
    batch.msgs = list;
    size_t len = metastore__raft__batch__get_packed_size(&batch);
    uint8_t *buf = malloc(len + 1);
    ck_assert_ptr_nonnull(buf);
    metastore__raft__batch__pack(&batch, buf);
    struct raft_message *out = NULL;
    size_t n = 99;
    int rc = peer_codec_decode_batch(buf, len, &out, &n);
    if (rc == 0) {
        ck_assert_uint_eq(n, 1);
        peer_codec_free_msgs(out, n);
    } else {
        ck_assert_ptr_null(out);
        ck_assert_uint_eq(n, 0);
    }
    free(buf);
    return rc;
}

static Metastore__Raft__Message valid_pb(void)
{
    Metastore__Raft__Message m = METASTORE__RAFT__MESSAGE__INIT;
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_HEARTBEAT;
    m.from = 1;
    m.to = 2;
    m.term = 5;
    return m;
}

START_TEST(every_message_type_roundtrips_field_for_field)
{
    struct raft_message in[RAFT_MSG_READ_INDEX_RESP];
    for (uint32_t t = RAFT_MSG_APPEND; t <= RAFT_MSG_READ_INDEX_RESP; t++)
        in[t - 1] = full_msg(t, t * 100);
    struct raft_message *out = roundtrip(in, RAFT_MSG_READ_INDEX_RESP);
    for (size_t i = 0; i < RAFT_MSG_READ_INDEX_RESP; i++) {
        assert_scalars_eq(&in[i], &out[i]);
        ck_assert_uint_eq(out[i].n_entries, 0);
        ck_assert_ptr_null(out[i].entries);
        ck_assert_ptr_null(out[i].snap_data);
    }
    peer_codec_free_msgs(out, RAFT_MSG_READ_INDEX_RESP);
}
END_TEST

START_TEST(append_entries_keep_terms_types_and_bytes)
{
    static uint8_t big[70000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7);
    uint8_t cc[] = {1, 2, 3};
    struct raft_entry e[3] = {
        {.term = 4,
         .index = 10,
         .type = RAFT_ENTRY_NORMAL,
         .len = 0,
         .data = NULL},
        {.term = 4,
         .index = 11,
         .type = RAFT_ENTRY_CONF_CHANGE,
         .len = sizeof(cc),
         .data = cc},
        {.term = 5,
         .index = 12,
         .type = RAFT_ENTRY_NORMAL,
         .len = sizeof(big),
         .data = big},
    };
    struct raft_message m = full_msg(RAFT_MSG_APPEND, 1);
    m.entries = e;
    m.n_entries = 3;
    struct raft_message *out = roundtrip(&m, 1);
    assert_scalars_eq(&m, &out[0]);
    ck_assert_uint_eq(out[0].n_entries, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(out[0].entries[i].term, e[i].term);
        ck_assert_uint_eq(out[0].entries[i].index, e[i].index);
        ck_assert_uint_eq(out[0].entries[i].type, e[i].type);
        ck_assert_uint_eq(out[0].entries[i].len, e[i].len);
        if (e[i].len > 0)
            ck_assert_mem_eq(out[0].entries[i].data, e[i].data, e[i].len);
    }
    /* Decoded parts are the decoder's own copies. */
    ck_assert_ptr_ne(out[0].entries[2].data, big);
    peer_codec_free_msgs(out, 1);
}
END_TEST

START_TEST(snapshot_chunk_keeps_meta_members_and_data)
{
    uint8_t chunk[5000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (uint8_t)(i ^ 0x5a);
    struct raft_message m = full_msg(RAFT_MSG_SNAPSHOT, 3);
    m.snap.index = 1000;
    m.snap.term = 7;
    m.snap.size = 123456;
    m.snap.conf.n = RAFT_MAX_MEMBERS;
    for (uint32_t i = 0; i < RAFT_MAX_MEMBERS; i++) {
        m.snap.conf.members[i].id = 100 + i;
        m.snap.conf.members[i].learner = (i % 4) == 3;
    }
    m.snap_offset = 65536;
    m.snap_data = chunk;
    m.snap_len = sizeof(chunk);
    m.snap_last = true;
    struct raft_message resp = full_msg(RAFT_MSG_SNAPSHOT_RESP, 4);
    resp.snap.index = 1000; /* a response names the snapshot it acks */
    struct raft_message in[2] = {m, resp};
    struct raft_message *out = roundtrip(in, 2);
    assert_scalars_eq(&m, &out[0]);
    ck_assert_uint_eq(out[0].snap_len, sizeof(chunk));
    ck_assert_mem_eq(out[0].snap_data, chunk, sizeof(chunk));
    assert_scalars_eq(&resp, &out[1]);
    ck_assert_uint_eq(out[1].snap.index, 1000);
    peer_codec_free_msgs(out, 2);
}
END_TEST

START_TEST(records_concatenate_into_a_protobuf_batch)
{
    struct peer_buf b;
    peer_buf_init(&b);
    size_t expect = 0;
    for (uint32_t i = 0; i < 50; i++) {
        struct raft_message m = full_msg(RAFT_MSG_HEARTBEAT, i);
        size_t before = b.len;
        expect += peer_codec_record_size(&m);
        ck_assert_int_eq(peer_codec_append_record(&b, &m), 0);
        ck_assert_uint_eq(b.len - before, peer_codec_record_size(&m));
    }
    ck_assert_uint_eq(b.len, expect);
    /* Any protobuf implementation reads it as a Batch of 50. */
    Metastore__Raft__Batch *pb =
        metastore__raft__batch__unpack(NULL, b.len, b.data);
    ck_assert_ptr_nonnull(pb);
    ck_assert_uint_eq(pb->n_msgs, 50);
    for (size_t i = 0; i < 50; i++)
        ck_assert_uint_eq(pb->msgs[i]->seq, 9 + i);
    metastore__raft__batch__free_unpacked(pb, NULL);
    peer_buf_free(&b);
}
END_TEST

START_TEST(empty_batch_decodes_to_no_messages)
{
    struct raft_message *out = (struct raft_message *)1;
    size_t n = 7;
    ck_assert_int_eq(peer_codec_decode_batch((const uint8_t *)"", 0, &out, &n),
                     0);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(garbage_and_truncated_bodies_are_malformed)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    struct raft_message *out = NULL;
    size_t n = 0;
    ck_assert_int_eq(peer_codec_decode_batch(junk, sizeof(junk), &out, &n),
                     PEER_EMALFORMED);
    ck_assert_ptr_null(out);

    uint8_t data[300];
    memset(data, 9, sizeof(data));
    struct raft_message m[2] = {full_msg(RAFT_MSG_APPEND, 1),
                                full_msg(RAFT_MSG_VOTE, 2)};
    struct raft_entry e = {
        .term = 1, .index = 6, .len = sizeof(data), .data = data};
    m[1].type = RAFT_MSG_APPEND;
    m[1].entries = &e;
    m[1].n_entries = 1;
    struct peer_buf b;
    peer_buf_init(&b);
    ck_assert_int_eq(peer_codec_encode_batch(&b, m, 2), 0);
    size_t first = peer_codec_record_size(&m[0]);
    /* Every cut inside the second record breaks it. */
    for (size_t cut = first + 1; cut < b.len; cut++) {
        int rc = peer_codec_decode_batch(b.data, cut, &out, &n);
        ck_assert_msg(rc == PEER_EMALFORMED, "cut at %zu: %d", cut, rc);
        ck_assert_ptr_null(out);
    }
    peer_buf_free(&b);
}
END_TEST

START_TEST(message_type_out_of_range_is_malformed)
{
    Metastore__Raft__Message m = valid_pb();
    ck_assert_int_eq(decode_pb(&m), 0);
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_UNSPECIFIED;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    m.type = (Metastore__Raft__MessageType)14;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    m.type = (Metastore__Raft__MessageType)-1;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
}
END_TEST

START_TEST(unknown_flags_and_missing_ids_are_malformed)
{
    Metastore__Raft__Message m = valid_pb();
    m.flags = 0x2;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    m = valid_pb();
    m.from = 0;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    m = valid_pb();
    m.to = 0;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
}
END_TEST

START_TEST(bad_entries_are_malformed)
{
    Metastore__Raft__Entry e = METASTORE__RAFT__ENTRY__INIT;
    Metastore__Raft__Entry *list[1] = {&e};
    Metastore__Raft__Message m = valid_pb();
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_APPEND;
    m.n_entries = 1;
    m.entries = list;
    e.index = 1;
    e.term = 1;
    ck_assert_int_eq(decode_pb(&m), 0);
    e.type = (Metastore__Raft__EntryType)2;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    /* Entries only ride on appends. */
    e.type = METASTORE__RAFT__ENTRY_TYPE__ENTRY_NORMAL;
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_HEARTBEAT;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
}
END_TEST

START_TEST(snapshot_data_only_on_snapshot_messages)
{
    uint8_t d[4] = {1, 2, 3, 4};
    Metastore__Raft__Message m = valid_pb();
    m.snap_data.data = d;
    m.snap_data.len = sizeof(d);
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_SNAPSHOT;
    ck_assert_int_eq(decode_pb(&m), 0);
}
END_TEST

START_TEST(snapshot_members_bounded_distinct_and_nonzero)
{
    Metastore__Raft__ConfMember mem[RAFT_MAX_MEMBERS + 1];
    Metastore__Raft__ConfMember *list[RAFT_MAX_MEMBERS + 1];
    for (size_t i = 0; i <= RAFT_MAX_MEMBERS; i++) {
        metastore__raft__conf_member__init(&mem[i]);
        mem[i].id = 1 + i;
        list[i] = &mem[i];
    }
    Metastore__Raft__SnapshotMeta sm = METASTORE__RAFT__SNAPSHOT_META__INIT;
    sm.index = 10;
    sm.term = 2;
    sm.members = list;
    Metastore__Raft__Message m = valid_pb();
    m.type = METASTORE__RAFT__MESSAGE_TYPE__MSG_SNAPSHOT;
    m.snap = &sm;
    sm.n_members = RAFT_MAX_MEMBERS;
    ck_assert_int_eq(decode_pb(&m), 0);
    sm.n_members = RAFT_MAX_MEMBERS + 1;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    sm.n_members = 3;
    mem[2].id = 1; /* listed twice */
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
    mem[2].id = 0;
    ck_assert_int_eq(decode_pb(&m), PEER_EMALFORMED);
}
END_TEST

START_TEST(a_bad_message_after_good_ones_fails_the_whole_batch)
{
    uint8_t data[64] = {0};
    struct raft_entry e = {
        .term = 1, .index = 1, .len = sizeof(data), .data = data};
    struct raft_message good = full_msg(RAFT_MSG_APPEND, 0);
    good.entries = &e;
    good.n_entries = 1;
    struct peer_buf b;
    peer_buf_init(&b);
    ck_assert_int_eq(peer_codec_append_record(&b, &good), 0);
    ck_assert_int_eq(peer_codec_append_record(&b, &good), 0);
    struct raft_message bad = full_msg(RAFT_MSG_HEARTBEAT, 0);
    bad.from = 0;
    ck_assert_int_eq(peer_codec_append_record(&b, &bad), 0);
    struct raft_message *out = NULL;
    size_t n = 0;
    /* Nothing leaks (ASan) and nothing is returned. */
    ck_assert_int_eq(peer_codec_decode_batch(b.data, b.len, &out, &n),
                     PEER_EMALFORMED);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(n, 0);
    peer_buf_free(&b);
}
END_TEST

START_TEST(error_codes_have_text)
{
    ck_assert_str_eq(peer_strerror(PEER_EMALFORMED), "malformed peer message");
    ck_assert_str_eq(peer_strerror(PEER_ETOOBIG),
                     "peer message over a size or count limit");
    ck_assert_str_eq(peer_strerror(-5000), "unknown error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peer_codec");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, every_message_type_roundtrips_field_for_field);
    tcase_add_test(tc, append_entries_keep_terms_types_and_bytes);
    tcase_add_test(tc, snapshot_chunk_keeps_meta_members_and_data);
    tcase_add_test(tc, records_concatenate_into_a_protobuf_batch);
    tcase_add_test(tc, empty_batch_decodes_to_no_messages);
    tcase_add_test(tc, garbage_and_truncated_bodies_are_malformed);
    tcase_add_test(tc, message_type_out_of_range_is_malformed);
    tcase_add_test(tc, unknown_flags_and_missing_ids_are_malformed);
    tcase_add_test(tc, bad_entries_are_malformed);
    tcase_add_test(tc, snapshot_data_only_on_snapshot_messages);
    tcase_add_test(tc, snapshot_members_bounded_distinct_and_nonzero);
    tcase_add_test(tc, a_bad_message_after_good_ones_fails_the_whole_batch);
    tcase_add_test(tc, error_codes_have_text);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
