/*
 * test_cli_watch.c - `metastore-cli watch` output: etcdctl's simple lines
 * (type, previous key/value with --prev-kv, key, value; an empty value line
 * for a DELETE) and its JSON (Go's encoding of clientv3.WatchResponse).
 */
#include "client/cli_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *print(enum mscli_format f, const struct ms_watch_response *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    mscli_print_watch(out, f, r);
    fclose(out);
    return buf;
}

static const struct ms_event events[2] = {
    {.type = MS_EVENT_PUT,
     .kv = {.key = (const uint8_t *)"foo", .key_len = 3,
            .value = (const uint8_t *)"new", .value_len = 3,
            .create_revision = 2, .mod_revision = 5, .version = 2},
     .has_prev_kv = true,
     .prev_kv = {.key = (const uint8_t *)"foo", .key_len = 3,
                 .value = (const uint8_t *)"old", .value_len = 3,
                 .create_revision = 2, .mod_revision = 2, .version = 1}},
    {.type = MS_EVENT_DELETE,
     .kv = {.key = (const uint8_t *)"bar", .key_len = 3,
            .value = (const uint8_t *)"", .mod_revision = 6}},
};

static const struct ms_watch_response resp = {
    .header = {.cluster_id = 7, .member_id = 1, .revision = 6, .raft_term = 2},
    .watch_id = 1,
    .cancel_reason = "",
    .events = events,
    .n_events = 2,
};

START_TEST(simple_prints_etcdctl_lines)
{
    char *s = print(MSCLI_SIMPLE, &resp);
    ck_assert_str_eq(s, "PUT\nfoo\nold\nfoo\nnew\nDELETE\nbar\n\n");
    free(s);
}
END_TEST

START_TEST(json_prints_go_watch_response)
{
    char *s = print(MSCLI_JSON, &resp);
    ck_assert_str_eq(
        s, "{\"Header\":{\"cluster_id\":7,\"member_id\":1,\"revision\":6,"
           "\"raft_term\":2},\"Events\":[{\"kv\":{\"key\":\"Zm9v\","
           "\"create_revision\":2,\"mod_revision\":5,\"version\":2,"
           "\"value\":\"bmV3\"},\"prev_kv\":{\"key\":\"Zm9v\","
           "\"create_revision\":2,\"mod_revision\":2,\"version\":1,"
           "\"value\":\"b2xk\"}},{\"type\":1,\"kv\":{\"key\":\"YmFy\","
           "\"mod_revision\":6}}],\"CompactRevision\":0,\"Canceled\":false,"
           "\"Created\":false}\n");
    free(s);
}
END_TEST

START_TEST(responses_without_events_print_nothing)
{
    struct ms_watch_response r = {.created = true, .cancel_reason = ""};
    for (int f = MSCLI_SIMPLE; f <= MSCLI_TABLE; f++) {
        char *s = print((enum mscli_format)f, &r);
        ck_assert_str_eq(s, "");
        free(s);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_watch");
    TCase *tc = tcase_create("print");
    tcase_add_test(tc, simple_prints_etcdctl_lines);
    tcase_add_test(tc, json_prints_go_watch_response);
    tcase_add_test(tc, responses_without_events_print_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
