/*
 * test_watch_stream.c - the framing of WATCH streams: the STREAM and
 * STREAM_END flags survive the server's encoder and both decoders (server
 * and client library), the method table names the Watch messages, and the
 * client library's copies of the numbers match the server's.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "proto/metastore.pb-c.h"
#include "server/frame.h"

START_TEST(client_and_server_agree_on_stream_numbers)
{
    ck_assert_uint_eq(MS__FLAG_STREAM, FRAME_FLAG_STREAM);
    ck_assert_uint_eq(MS__FLAG_STREAM_END, FRAME_FLAG_STREAM_END);
    ck_assert_uint_eq(MS__FLAGS_KNOWN, FRAME_FLAGS_KNOWN);
    ck_assert_uint_eq(MS__METHOD_WATCH, SRV_METHOD_WATCH);
    ck_assert_str_eq(srv_method_request_type(SRV_METHOD_WATCH),
                     "metastore.WatchRequest");
    ck_assert_str_eq(srv_method_response_type(SRV_METHOD_WATCH),
                     "metastore.WatchResponse");
    ck_assert_int_eq(srv_method_kind(SRV_METHOD_WATCH), SRV_METHOD_KIND_CLIENT);
}
END_TEST

START_TEST(stream_response_round_trips_through_both_decoders)
{
    Metastore__KeyValue kv = METASTORE__KEY_VALUE__INIT;
    kv.key.data = (uint8_t *)"k";
    kv.key.len = 1;
    kv.value.data = (uint8_t *)"v";
    kv.value.len = 1;
    kv.mod_revision = 42;
    Metastore__Event ev = METASTORE__EVENT__INIT;
    ev.type = METASTORE__EVENT__EVENT_TYPE__DELETE;
    ev.kv = &kv;
    Metastore__Event *evs[1] = {&ev};
    Metastore__WatchResponse m = METASTORE__WATCH_RESPONSE__INIT;
    m.watch_id = 3;
    m.canceled = true;
    m.n_events = 1;
    m.events = evs;
    uint8_t flags = FRAME_FLAG_RESPONSE | FRAME_FLAG_STREAM |
                    FRAME_FLAG_STREAM_END;
    size_t cap = frame_message_size(&m.base), n = 0;
    uint8_t *buf = malloc(cap);
    ck_assert_int_eq(frame_encode_message(SRV_METHOD_WATCH, flags, 77, &m.base,
                                          1u << 20, buf, &n),
                     0);
    ck_assert_uint_eq(n, cap);

    struct frame_decoder d;
    frame_decoder_init(&d, 1u << 20);
    struct frame f;
    size_t used = 0;
    ck_assert_int_eq(frame_decoder_feed(&d, buf, n, &used, &f), 1);
    ck_assert_uint_eq(f.hdr.flags, flags);
    ck_assert_uint_eq(f.hdr.request_id, 77);
    Metastore__WatchResponse *got =
        metastore__watch_response__unpack(NULL, f.hdr.length, f.body);
    ck_assert_ptr_nonnull(got);
    ck_assert(got->canceled);
    ck_assert_uint_eq(got->n_events, 1);
    ck_assert_int_eq(got->events[0]->type,
                     METASTORE__EVENT__EVENT_TYPE__DELETE);
    ck_assert_int_eq(got->events[0]->kv->mod_revision, 42);
    metastore__watch_response__free_unpacked(got, NULL);
    frame_decoder_close(&d);

    struct ms__frame_header h;
    ck_assert_int_eq(ms__frame_header_decode(buf, 1u << 20, &h), 0);
    ck_assert_uint_eq(h.flags, flags);
    ck_assert_uint_eq(h.method, MS__METHOD_WATCH);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("watch_stream");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, client_and_server_agree_on_stream_numbers);
    tcase_add_test(tc, stream_response_round_trips_through_both_decoders);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
