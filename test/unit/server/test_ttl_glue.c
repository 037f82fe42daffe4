/*
 * test_ttl_glue.c - the pure parts of the TTL lease glue: the checkpoint
 * entry body (every node decodes what the leader encoded, and malformed
 * bodies are rejected rather than trusted) and the ttl.* configuration keys
 * (defaults, validation, --set overrides).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"
#include "server/ttl_glue.h"

START_TEST(checkpoint_body_round_trips)
{
    struct ttl_checkpoint in[3] = {
        {.id = 1, .remaining_ms = 1},
        {.id = 0x694d77aa9e38260f, .remaining_ms = 300000},
        {.id = INT64_MAX, .remaining_ms = 0},
    };
    uint8_t buf[4 + 16 * 3];
    size_t len = srv_ttl_checkpoint_encode(in, 3, buf);
    ck_assert_uint_eq(len, sizeof buf);
    struct ttl_checkpoint out[3];
    ck_assert_int_eq(srv_ttl_checkpoint_decode(buf, len, out, 3), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(out[i].id, in[i].id);
        ck_assert_int_eq(out[i].remaining_ms, in[i].remaining_ms);
    }
    /* An empty checkpoint is valid too. */
    len = srv_ttl_checkpoint_encode(in, 0, buf);
    ck_assert_uint_eq(len, 4);
    ck_assert_int_eq(srv_ttl_checkpoint_decode(buf, len, out, 3), 0);
}
END_TEST

START_TEST(checkpoint_body_malformed_is_rejected)
{
    struct ttl_checkpoint in[2] = {{.id = 5, .remaining_ms = 10},
                                   {.id = 6, .remaining_ms = 20}};
    uint8_t buf[4 + 32];
    size_t len = srv_ttl_checkpoint_encode(in, 2, buf);
    struct ttl_checkpoint out[2];
    ck_assert_int_eq(srv_ttl_checkpoint_decode(buf, 3, out, 2), -1);
    ck_assert_int_eq(srv_ttl_checkpoint_decode(buf, len - 1, out, 2), -1);
    ck_assert_int_eq(srv_ttl_checkpoint_decode(buf, len, out, 1), -1);
    uint8_t bad[sizeof buf];
    memcpy(bad, buf, sizeof buf);
    bad[0] = 0xff; /* a count the body cannot hold */
    ck_assert_int_eq(srv_ttl_checkpoint_decode(bad, len, out, 2), -1);
    memcpy(bad, buf, sizeof buf);
    memset(bad + 4, 0, 8); /* lease id 0 */
    ck_assert_int_eq(srv_ttl_checkpoint_decode(bad, len, out, 2), -1);
    memcpy(bad, buf, sizeof buf);
    bad[4 + 15] = 0x80; /* negative remaining */
    ck_assert_int_eq(srv_ttl_checkpoint_decode(bad, len, out, 2), -1);
}
END_TEST

static struct srv_config cfg;
static char err[512];

static int set(const char *kv)
{
    return srv_config_apply_flag(&cfg, "--set", kv, err, sizeof err);
}

START_TEST(ttl_config_defaults_are_valid)
{
    srv_config_defaults(&cfg);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_uint_eq(cfg.ttl.min_ttl_ms, 2000);
    ck_assert_uint_eq(cfg.ttl.max_ttl_ms, 9000000000ull * 1000);
    ck_assert_uint_eq(cfg.ttl.max_leases, 100000);
    ck_assert_uint_eq(cfg.ttl.checkpoint_interval_ms, 300000);
}
END_TEST

START_TEST(ttl_config_set_and_validated)
{
    srv_config_defaults(&cfg);
    ck_assert_int_eq(set("ttl.min_ttl=5s"), 0);
    ck_assert_int_eq(set("ttl.max_ttl=1h"), 0);
    ck_assert_int_eq(set("ttl.max_leases=10"), 0);
    ck_assert_int_eq(set("ttl.checkpoint_interval=0s"), 0);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_uint_eq(cfg.ttl.max_ttl_ms, 3600000);

    ck_assert_int_eq(set("ttl.min_ttl=500ms"), 0);
    ck_assert_int_lt(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "ttl.min_ttl"));
    ck_assert_int_eq(set("ttl.min_ttl=2h"), 0); /* above max_ttl */
    ck_assert_int_lt(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "ttl.max_ttl"));
    ck_assert_int_eq(set("ttl.min_ttl=2s"), 0);
    ck_assert_int_eq(set("ttl.max_leases=0"), 0);
    ck_assert_int_lt(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "ttl.max_leases"));
    ck_assert_int_eq(set("ttl.max_leases=1"), 0);
    ck_assert_int_eq(set("ttl.checkpoint_interval=200ms"), 0);
    ck_assert_int_lt(srv_config_validate(&cfg, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "ttl.checkpoint_interval"));
    ck_assert_int_ne(set("ttl.max_leases=lots"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ttl_glue");
    TCase *tc = tcase_create("ttl_glue");
    tcase_add_test(tc, checkpoint_body_round_trips);
    tcase_add_test(tc, checkpoint_body_malformed_is_rejected);
    tcase_add_test(tc, ttl_config_defaults_are_valid);
    tcase_add_test(tc, ttl_config_set_and_validated);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
