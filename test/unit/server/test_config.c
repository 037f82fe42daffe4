/*
 * test_config.c - the configuration loader (server/config.h): defaults, the
 * shipped configs/config.yaml, every kind of error and the file:line: key
 * it must name, cross-field validation, command-line flags, derived values.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/config.h"

static struct srv_config cfg;
static char err[512];

static void setup(void)
{
    srv_config_defaults(&cfg);
    err[0] = '\0';
}

/* Loads yaml as "t.yaml" into cfg (on top of defaults). */
static int load(const char *yaml)
{
    return srv_config_load_string(&cfg, yaml, "t.yaml", err, sizeof(err));
}

/* Loads yaml, which must load, then validates. */
static int load_and_validate(const char *yaml)
{
    ck_assert_msg(load(yaml) == 0, "load failed: %s", err);
    return srv_config_validate(&cfg, err, sizeof(err));
}

#define ck_assert_err_has(sub)                                                 \
    ck_assert_msg(strstr(err, (sub)) != NULL, "message \"%s\" lacks \"%s\"",   \
                  err, (sub))

/* ------------------------------------------------------------------ */

START_TEST(defaults_are_a_valid_single_node_memory_cluster)
{
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.node.id, 1);
    ck_assert_str_eq(cfg.node.name, "node1");
    ck_assert_str_eq(cfg.node.data_dir, "./data");
    ck_assert_int_eq(cfg.storage.engine, SRV_ENGINE_MEMORY);
    ck_assert(cfg.storage.fsync);
    ck_assert_str_eq(cfg.server.client_listen, "127.0.0.1:2379");
    ck_assert_str_eq(cfg.server.peer_listen, "127.0.0.1:2380");
    ck_assert_str_eq(cfg.server.admin_listen, "127.0.0.1:2381");
    ck_assert_uint_eq(cfg.cluster.n_members, 1);
    ck_assert_uint_eq(cfg.cluster.members[0].id, 1);
    ck_assert_str_eq(cfg.cluster.members[0].name, "node1");
    ck_assert_str_eq(cfg.cluster.members[0].peer_addr, "127.0.0.1:2380");
    ck_assert_str_eq(cfg.cluster.members[0].client_addr, "127.0.0.1:2379");
    ck_assert(!cfg.cluster.join);
    ck_assert_int_eq(cfg.lease_read.read_mode, SRV_READ_MODE_LEASE);
    ck_assert_int_eq(cfg.log.level, MS_LOG_INFO);
    ck_assert_ptr_null(srv_config_fsync_warning(&cfg));
}
END_TEST

START_TEST(shipped_config_yaml_loads_validates_and_equals_defaults)
{
    static char a[16384], b[16384];
    struct srv_config defaults;
    srv_config_defaults(&defaults);
    int rc =
        srv_config_load_file(&cfg, "configs/config.yaml", err, sizeof(err));
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    /* The documented file states exactly the defaults. */
    srv_config_format(&defaults, a, sizeof(a));
    srv_config_format(&cfg, b, sizeof(b));
    ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(format_output_loads_back_to_the_same_values)
{
    static char a[16384], b[16384];
    ck_assert_int_eq(load("node: {id: 7, name: \"n-7\", data_dir: \"/var/x\"}\n"
                          "cluster:\n"
                          "  initial_members:\n"
                          "    - {id: 7, name: n-7, peer_addr: \"h7:1\", "
                          "client_addr: \"h7:2\"}\n"
                          "    - {id: 8, peer_addr: \"h8:1\", client_addr: "
                          "\"[::1]:2\"}\n"
                          "raft: {election_timeout: 1m30s, tick_interval: "
                          "500ms}\n"
                          "storage: {engine: rocksdb, rocksdb: "
                          "{compression: zstd, block_cache_bytes: 12345}}\n"
                          "log: {format: json, level: debug}\n"),
                     0);
    size_t n = srv_config_format(&cfg, a, sizeof(a));
    ck_assert_uint_lt(n, sizeof(a));
    struct srv_config again;
    srv_config_defaults(&again);
    ck_assert_msg(srv_config_load_string(&again, a, "fmt", err, sizeof(err)) ==
                      0,
                  "%s\n%s", err, a);
    srv_config_format(&again, b, sizeof(b));
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(again.raft.election_timeout_ms, 90000);
    ck_assert_uint_eq(again.storage.rocksdb.block_cache_bytes, 12345);
    ck_assert_str_eq(again.cluster.members[1].name, "node8");
    ck_assert_str_eq(again.cluster.members[1].client_addr, "[::1]:2");
    /* Truncation reports the length needed and stays NUL-terminated. */
    char tiny[10];
    ck_assert_uint_eq(srv_config_format(&cfg, tiny, sizeof(tiny)), n);
    ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
}
END_TEST

START_TEST(absent_keys_keep_defaults_and_empty_file_is_all_defaults)
{
    ck_assert_int_eq(load(""), 0);
    ck_assert_int_eq(load("# only a comment\n"), 0);
    ck_assert_int_eq(load("raft:\n  pre_vote: false\n"), 0);
    ck_assert(!cfg.raft.pre_vote);
    ck_assert(cfg.raft.check_quorum);
    ck_assert_uint_eq(cfg.raft.election_timeout_ms, 1000);
    ck_assert_int_eq(load("log:\n"), 0); /* an empty section */
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(durations_sizes_and_booleans_parse_with_units)
{
    ck_assert_int_eq(load("raft:\n"
                          "  tick_interval: 50ms\n"
                          "  election_timeout: \"1m30s\"\n"
                          "  heartbeat_interval: 2s\n"
                          "  max_msg_bytes: 16 MiB\n"
                          "server:\n"
                          "  max_frame_bytes: 8MiB\n"
                          "  max_value_bytes: 1000000\n"
                          "  max_key_bytes: 1KB\n"
                          "  request_timeout: 1h\n"
                          "storage:\n"
                          "  fsync: off\n"
                          "  wal_segment_bytes: 1GiB\n"),
                     0);
    ck_assert_uint_eq(cfg.raft.tick_interval_ms, 50);
    ck_assert_uint_eq(cfg.raft.election_timeout_ms, 90000);
    ck_assert_uint_eq(cfg.raft.heartbeat_interval_ms, 2000);
    ck_assert_uint_eq(cfg.raft.max_msg_bytes, 16u << 20);
    ck_assert_uint_eq(cfg.server.max_frame_bytes, 8u << 20);
    ck_assert_uint_eq(cfg.server.max_value_bytes, 1000000);
    ck_assert_uint_eq(cfg.server.max_key_bytes, 1000);
    ck_assert_uint_eq(cfg.server.request_timeout_ms, 3600000);
    ck_assert(!cfg.storage.fsync);
    ck_assert_uint_eq(cfg.storage.wal_segment_bytes, 1u << 30);
    ck_assert_msg(srv_config_validate(&cfg, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(srv_config_fsync_warning(&cfg));
    ck_assert_ptr_nonnull(strstr(srv_config_fsync_warning(&cfg), "fsync"));
}
END_TEST

/* ---- load errors: each names t.yaml:<line>: <key> ------------------ */

START_TEST(unknown_key_is_named_with_line_and_suggestion)
{
    ck_assert_int_eq(load("node:\n  id: 1\nraft:\n  electon_timeout: 1s\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:4: unknown key raft.electon_timeout");
    ck_assert_err_has("did you mean raft.election_timeout?");
    ck_assert_int_eq(load("bogus_section:\n  a: 1\n"), -EINVAL);
    ck_assert_err_has("t.yaml:1: unknown key bogus_section");
    /* Dotted keys are not a second spelling of nested ones. */
    ck_assert_int_eq(load("raft.pre_vote: false\n"), -EINVAL);
    ck_assert_err_has("t.yaml:1: unknown key raft.pre_vote");
}
END_TEST

START_TEST(bad_duration_is_named_with_line_and_key)
{
    ck_assert_int_eq(load("raft:\n  pre_vote: true\n  election_timeout: 10x\n"),
                     -EINVAL);
    ck_assert_str_eq(err, "t.yaml:3: raft.election_timeout: \"10x\" is not a "
                          "duration (use e.g. 1s or 500ms)");
    ck_assert_int_eq(load("raft:\n  election_timeout: 1000\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.election_timeout: \"1000\" is not a "
                      "duration");
    ck_assert_int_eq(load("lease_read:\n  clock_drift: 1500us\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: lease_read.clock_drift: \"1500us\" is not a "
                      "whole number of milliseconds");
    ck_assert_int_eq(load("raft:\n  tick_interval: -5ms\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.tick_interval:");
    ck_assert_int_eq(load("raft:\n  tick_interval: 99999999999h\n"), -EINVAL);
    ck_assert_err_has("too long");
}
END_TEST

START_TEST(bad_size_is_named_with_line_and_key)
{
    ck_assert_int_eq(load("\n\nserver:\n  max_frame_bytes: 64XB\n"), -EINVAL);
    ck_assert_err_has("t.yaml:4: server.max_frame_bytes: \"64XB\" is not a "
                      "size");
    ck_assert_int_eq(
        load("storage:\n  rocksdb:\n    write_buffer_bytes: 1.5GiB\n"),
        -EINVAL);
    ck_assert_err_has("t.yaml:3: storage.rocksdb.write_buffer_bytes:");
    ck_assert_int_eq(load("server:\n  max_key_bytes: 99999999999999TiB\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.max_key_bytes:");
}
END_TEST

START_TEST(wrong_types_are_named_with_line_and_key)
{
    ck_assert_int_eq(load("raft:\n  election_timeout:\n    a: 1\n"), -EINVAL);
    ck_assert_str_eq(err, "t.yaml:2: raft.election_timeout: expected a scalar "
                          "value, found a mapping");
    ck_assert_int_eq(load("node:\n  name: [a, b]\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: node.name: expected a scalar value, found a "
                      "list");
    ck_assert_int_eq(load("raft: 5\n"), -EINVAL);
    ck_assert_err_has("t.yaml:1: raft: expected a mapping of keys, found a "
                      "scalar value");
    ck_assert_int_eq(load("- a\n- b\n"), -EINVAL);
    ck_assert_err_has("t.yaml:1: expected a mapping of sections");
    ck_assert_int_eq(load("node:\n  id: one\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: node.id: \"one\" is not a non-negative");
    ck_assert_int_eq(load("node:\n  id: -3\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: node.id:");
    ck_assert_int_eq(load("node:\n  id: 99999999999999999999999\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: node.id:");
    ck_assert_int_eq(load("raft:\n  pre_vote: maybe\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.pre_vote: \"maybe\" is not true or "
                      "false");
    ck_assert_int_eq(load("raft:\n  pre_vote:\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.pre_vote: has no value");
    ck_assert_int_eq(load("cluster:\n  initial_members: 3\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: cluster.initial_members: expected a list");
}
END_TEST

START_TEST(duplicate_keys_are_errors)
{
    ck_assert_int_eq(load("raft:\n  pre_vote: true\n  pre_vote: false\n"),
                     -EINVAL);
    ck_assert_str_eq(err, "t.yaml:3: duplicate key raft.pre_vote (first given "
                          "on line 2)");
    ck_assert_int_eq(load("raft:\n  pre_vote: true\nlog: {}\nraft:\n"
                          "  check_quorum: true\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:4: duplicate key raft (first given on line 1)");
    ck_assert_int_eq(load("cluster:\n  initial_members:\n"
                          "    - id: 1\n      id: 2\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:4: duplicate key cluster.initial_members[0].id");
}
END_TEST

START_TEST(bad_enum_value_lists_the_choices)
{
    ck_assert_int_eq(load("storage:\n  engine: leveldb\n"), -EINVAL);
    ck_assert_str_eq(err, "t.yaml:2: storage.engine: \"leveldb\" is not one "
                          "of: memory, rocksdb");
    ck_assert_int_eq(load("log:\n  level: verbose\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: log.level: \"verbose\" is not one of: debug, "
                      "info, warn, error");
    ck_assert_int_eq(load("server:\n  follower_writes: proxy\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: server.follower_writes:");
}
END_TEST

START_TEST(yaml_syntax_error_names_the_line)
{
    ck_assert_int_eq(load("raft:\n  pre_vote: true\n   bad: [\n"), -EINVAL);
    ck_assert_err_has("t.yaml:");
    ck_assert_err_has("YAML syntax error");
    ck_assert_int_eq(load("log: {}\n---\nlog: {}\n"), -EINVAL);
    ck_assert_err_has("only one YAML document");
}
END_TEST

START_TEST(failed_load_leaves_config_unchanged)
{
    ck_assert_int_eq(load("node:\n  id: 5\n  name: five\nraft:\n"
                          "  election_timeout: nope\n"),
                     -EINVAL);
    ck_assert_uint_eq(cfg.node.id, 1);
    ck_assert_str_eq(cfg.node.name, "node1");
}
END_TEST

START_TEST(member_errors_are_named_with_line)
{
    ck_assert_int_eq(load("cluster:\n  initial_members:\n"
                          "    - id: 1\n      peer_adr: \"a:1\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:4: unknown key "
                      "cluster.initial_members[0].peer_adr");
    ck_assert_int_eq(load("cluster:\n  initial_members:\n"
                          "    - id: 1\n      peer_addr: \"a:1\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:3: cluster.initial_members[0]: client_addr is "
                      "missing");
    ck_assert_int_eq(
        load("cluster:\n  initial_members:\n    - just-a-string\n"), -EINVAL);
    ck_assert_err_has("t.yaml:3: cluster.initial_members[0]: expected a "
                      "mapping");
    static char many[8192];
    size_t n =
        (size_t)snprintf(many, sizeof(many), "cluster:\n  initial_members:\n");
    for (int i = 1; i <= SRV_CONFIG_MAX_MEMBERS + 1; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n,
                              "    - {id: %d, peer_addr: \"h%d:1\", "
                              "client_addr: \"h%d:2\"}\n",
                              i, i, i);
    ck_assert_int_eq(load(many), -EINVAL);
    ck_assert_err_has("t.yaml:19: cluster.initial_members: more than 16");
}
END_TEST

START_TEST(missing_file_is_reported_with_its_path)
{
    ck_assert_int_eq(srv_config_load_file(&cfg, "/nonexistent/metastore.yaml",
                                          err, sizeof(err)),
                     -ENOENT);
    ck_assert_err_has("/nonexistent/metastore.yaml");
}
END_TEST

/* ---- validation errors: they name the line of the offending key ---- */

static const char three_members[] =
    "cluster:\n"
    "  initial_members:\n"
    "    - {id: 1, name: a, peer_addr: \"10.0.0.1:2380\", client_addr: "
    "\"10.0.0.1:2379\"}\n"
    "    - {id: 2, name: b, peer_addr: \"10.0.0.2:2380\", client_addr: "
    "\"10.0.0.2:2379\"}\n"
    "    - {id: 4, name: c, peer_addr: \"10.0.0.4:2380\", client_addr: "
    "\"10.0.0.4:2379\"}\n";

START_TEST(node_missing_from_initial_members_is_refused_unless_joining)
{
    static char yaml[2048];
    snprintf(yaml, sizeof(yaml), "node:\n  id: 3\n  name: c\n%s",
             three_members);
    ck_assert_int_eq(load_and_validate(yaml), -EINVAL);
    ck_assert_err_has("t.yaml:5: cluster.initial_members: this node (node.id "
                      "3) is not a member");
    snprintf(yaml, sizeof(yaml), "node:\n  id: 3\n  name: c\n%s  join: true\n",
             three_members);
    setup();
    ck_assert_int_eq(load_and_validate(yaml), 0);
    /* Present but under another name. */
    snprintf(yaml, sizeof(yaml), "node:\n  id: 4\n  name: d\n%s",
             three_members);
    setup();
    ck_assert_int_eq(load_and_validate(yaml), -EINVAL);
    ck_assert_err_has("member 4 is named \"c\" but node.name is \"d\"");
    snprintf(yaml, sizeof(yaml), "node:\n  id: 4\n  name: c\n%s",
             three_members);
    setup();
    ck_assert_int_eq(load_and_validate(yaml), 0);
    ck_assert_ptr_nonnull(srv_config_member(&cfg, 2));
    ck_assert_ptr_null(srv_config_member(&cfg, 3));
}
END_TEST

START_TEST(duplicate_member_ids_and_addresses_are_refused)
{
    ck_assert_int_eq(
        load_and_validate("cluster:\n  initial_members:\n"
                          "    - {id: 1, peer_addr: \"h:1\", client_addr: "
                          "\"h:2\"}\n"
                          "    - {id: 1, name: x, peer_addr: \"g:1\", "
                          "client_addr: \"g:2\"}\n"),
        -EINVAL);
    ck_assert_err_has("t.yaml:4: cluster.initial_members[1]: same id as "
                      "cluster.initial_members[0]");
    setup();
    ck_assert_int_eq(
        load_and_validate("cluster:\n  initial_members:\n"
                          "    - {id: 1, peer_addr: \"h:1\", client_addr: "
                          "\"h:2\"}\n"
                          "    - {id: 2, peer_addr: \"h:1\", client_addr: "
                          "\"g:2\"}\n"),
        -EINVAL);
    ck_assert_err_has("same peer_addr");
    setup();
    ck_assert_int_eq(
        load_and_validate("cluster:\n  initial_members:\n"
                          "    - {id: 1, peer_addr: \"h:1\", client_addr: "
                          "\"h:2\"}\n"
                          "    - {id: 2, peer_addr: \"nope\", client_addr: "
                          "\"g:2\"}\n"),
        -EINVAL);
    ck_assert_err_has("t.yaml:4: peer_addr: \"nope\" is not an address");
    setup();
    ck_assert_int_eq(
        load_and_validate("cluster:\n  initial_members:\n"
                          "    - {id: 1, peer_addr: \"h:1\", client_addr: "
                          "\"h:2\"}\n"
                          "    - {id: 2, peer_addr: \"g:0\", client_addr: "
                          "\"g:2\"}\n"),
        -EINVAL);
    ck_assert_err_has("needs a port other than 0");
}
END_TEST

START_TEST(heartbeat_not_below_election_timeout_is_refused)
{
    ck_assert_int_eq(load_and_validate("raft:\n"
                                       "  election_timeout: 500ms\n"
                                       "  heartbeat_interval: 500ms\n"),
                     -EINVAL);
    ck_assert_str_eq(err, "t.yaml:3: raft.heartbeat_interval: 500ms must be "
                          "less than raft.election_timeout (500ms)");
}
END_TEST

START_TEST(tick_must_divide_the_timeouts)
{
    ck_assert_int_eq(load_and_validate("raft:\n"
                                       "  tick_interval: 30ms\n"
                                       "  heartbeat_interval: 90ms\n"
                                       "  election_timeout: 1s\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:4: raft.election_timeout: 1s is not a multiple "
                      "of raft.tick_interval (30ms)");
    setup();
    ck_assert_int_eq(load_and_validate("raft:\n  election_timeout: 990ms\n"),
                     0);
    ck_assert_uint_eq(srv_config_election_ticks(&cfg), 99);
    ck_assert_uint_eq(srv_config_heartbeat_ticks(&cfg), 10);
}
END_TEST

START_TEST(unsafe_lease_settings_are_refused)
{
    /* 950ms + 50ms drift is not below 1s - 10ms tick. */
    ck_assert_int_eq(load_and_validate("lease_read:\n"
                                       "  lease_duration: 950ms\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: lease_read.lease_duration: unsafe lease");
    /* 900ms + 90ms drift: not below 990ms (one tick of slack). */
    setup();
    ck_assert_int_eq(load_and_validate("lease_read:\n"
                                       "  lease_duration: 900ms\n"
                                       "  clock_drift: 90ms\n"),
                     -EINVAL);
    setup();
    ck_assert_int_eq(load_and_validate("lease_read:\n"
                                       "  lease_duration: 900ms\n"
                                       "  clock_drift: 89ms\n"),
                     0);
    ck_assert_uint_eq(srv_config_lease_duration_ms(&cfg), 900);
    /* A drift that eats the whole default lease. */
    setup();
    ck_assert_int_eq(load_and_validate("lease_read:\n  clock_drift: 300ms\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: lease_read.clock_drift: the default lease");
    /* Leases off: no lease rules, but read_mode lease needs them. */
    setup();
    ck_assert_int_eq(load_and_validate("lease_read:\n  enable: false\n"
                                       "  clock_drift: 300ms\n"),
                     -EINVAL);
    ck_assert_err_has("lease_read.read_mode: lease needs lease_read.enable");
    setup();
    ck_assert_int_eq(load_and_validate("lease_read:\n  enable: false\n"
                                       "  clock_drift: 300ms\n"
                                       "  read_mode: readindex\n"),
                     0);
}
END_TEST

START_TEST(default_lease_follows_the_reference_rule)
{
    /* min(1000/2, 3*100) - 50 */
    ck_assert_uint_eq(srv_config_lease_duration_ms(&cfg), 250);
    ck_assert_int_eq(load("raft:\n  election_timeout: 400ms\n"), 0);
    /* min(400/2, 300) - 50 */
    ck_assert_uint_eq(srv_config_lease_duration_ms(&cfg), 150);
}
END_TEST

START_TEST(out_of_range_sizes_and_limits_are_refused)
{
    ck_assert_int_eq(load_and_validate("server:\n  max_frame_bytes: 1KiB\n"),
                     -EINVAL);
    ck_assert_str_eq(err, "t.yaml:2: server.max_frame_bytes: 1KiB is out of "
                          "range (4KiB to 256MiB)");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  max_value_bytes: 4MiB\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.max_value_bytes: max_key_bytes + "
                      "max_value_bytes + 4KiB must fit");
    setup();
    ck_assert_int_eq(load_and_validate("raft:\n  max_msg_bytes: 4MiB\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.max_msg_bytes: 4MiB must be at least "
                      "server.max_frame_bytes (4MiB) + 64KiB");
    setup();
    ck_assert_int_eq(load_and_validate("raft:\n  max_inflight: 0\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: raft.max_inflight: 0 is out of range");
    setup();
    ck_assert_int_eq(load_and_validate("node:\n  id: 0\n"), -EINVAL);
    ck_assert_err_has("t.yaml:2: node.id: must not be 0");
    setup();
    ck_assert_int_eq(load_and_validate("node:\n  name: \"has space\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: node.name:");
}
END_TEST

START_TEST(max_pending_reads_defaults_to_10000_and_is_bounded)
{
    ck_assert_uint_eq(cfg.server.max_pending_reads, 10000);
    ck_assert_int_eq(load_and_validate("server:\n  max_pending_reads: 0\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.max_pending_reads: 0 is out of range");
    setup();
    ck_assert_int_eq(
        load_and_validate("server:\n  max_pending_reads: 1000001\n"), -EINVAL);
    ck_assert_err_has("server.max_pending_reads: 1000001 is out of range");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  max_pending_reads: 1\n"),
                     0);
    ck_assert_uint_eq(cfg.server.max_pending_reads, 1);
}
END_TEST

START_TEST(listen_addresses_must_parse_and_differ)
{
    ck_assert_int_eq(load_and_validate("server:\n  client_listen: "
                                       "\"localhost\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.client_listen: \"localhost\" is not "
                      "an address");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n"
                                       "  peer_listen: \"127.0.0.1:2379\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.peer_listen: \"127.0.0.1:2379\" is "
                      "also server.client_listen");
    /* Port 0 (any free port) is fine for listening, even twice. */
    setup();
    ck_assert_int_eq(load_and_validate("server:\n"
                                       "  client_listen: \"127.0.0.1:0\"\n"
                                       "  peer_listen: \"127.0.0.1:0\"\n"
                                       "  admin_listen: \"127.0.0.1:0\"\n"),
                     0);
}
END_TEST

START_TEST(http_api_is_off_by_default_and_its_options_are_checked)
{
    ck_assert_str_eq(cfg.server.http_listen, "");
    ck_assert_uint_eq(cfg.server.http_max_body_bytes, cfg.server.max_frame_bytes);
    ck_assert_uint_eq(cfg.server.http_max_connections, 256);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--http-listen",
                                           "127.0.0.1:2382", err, sizeof(err)),
                     0);
    ck_assert_str_eq(cfg.server.http_listen, "127.0.0.1:2382");
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  http_listen: \"nope\"\n"),
                     -EINVAL);
    ck_assert_err_has("t.yaml:2: server.http_listen: \"nope\" is not an "
                      "address");
    setup();
    ck_assert_int_eq(
        load_and_validate("server:\n  http_listen: \"127.0.0.1:2381\"\n"),
        -EINVAL);
    ck_assert_err_has("\"127.0.0.1:2381\" is also server.admin_listen");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  http_max_body_bytes: 10\n"),
                     -EINVAL);
    ck_assert_err_has("server.http_max_body_bytes");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  http_max_connections: 0\n"),
                     -EINVAL);
    ck_assert_err_has("server.http_max_connections");
    setup();
    ck_assert_int_eq(load_and_validate("server:\n  http_listen: \"\"\n"
                                       "  http_max_body_bytes: 1MiB\n"
                                       "  http_max_connections: 8\n"),
                     0);
    ck_assert_uint_eq(cfg.server.http_max_body_bytes, 1u << 20);
}
END_TEST

START_TEST(validation_of_defaults_changed_by_flags_says_command_line)
{
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--set",
                                           "raft.heartbeat_interval=1s", err,
                                           sizeof(err)),
                     0);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), -EINVAL);
    ck_assert_str_eq(err, "command line: raft.heartbeat_interval: 1s must be "
                          "less than raft.election_timeout (1s)");
}
END_TEST

/* ---- command-line flags -------------------------------------------- */

START_TEST(flags_override_file_values)
{
    ck_assert_int_eq(load("node:\n  id: 1\nlog:\n  level: warn\n"), 0);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--log-level", "debug", err, sizeof(err)),
        0);
    ck_assert_int_eq(cfg.log.level, MS_LOG_DEBUG);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--log-format", "json", err, sizeof(err)),
        0);
    ck_assert_int_eq(cfg.log.format, MS_LOG_JSON);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--engine", "rocksdb", err, sizeof(err)),
        0);
    ck_assert_int_eq(cfg.storage.engine, SRV_ENGINE_ROCKSDB);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--data-dir", "/tmp/d", err, sizeof(err)),
        0);
    ck_assert_str_eq(cfg.node.data_dir, "/tmp/d");
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "set",
                                           "raft.election_timeout=2s", err,
                                           sizeof(err)),
                     0);
    ck_assert_uint_eq(cfg.raft.election_timeout_ms, 2000);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
}
END_TEST

START_TEST(flags_build_a_three_node_cluster)
{
    const char *flags[][2] = {
        {"--node-id", "2"},
        {"--name", "b"},
        {"--listen-client", "10.0.0.2:2379"},
        {"--listen-peer", "10.0.0.2:2380"},
        {"--listen-admin", "10.0.0.2:2381"},
        {"--initial-cluster", "1:a=10.0.0.1:2380@10.0.0.1:2379,"
                              "2:b=10.0.0.2:2380@10.0.0.2:2379,"
                              "3=10.0.0.3:2380@10.0.0.3:2379"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        ck_assert_msg(srv_config_apply_flag(&cfg, flags[i][0], flags[i][1], err,
                                            sizeof(err)) == 0,
                      "%s", err);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.cluster.n_members, 3);
    ck_assert_str_eq(cfg.cluster.members[0].name, "a");
    ck_assert_str_eq(cfg.cluster.members[0].peer_addr, "10.0.0.1:2380");
    ck_assert_str_eq(cfg.cluster.members[0].client_addr, "10.0.0.1:2379");
    ck_assert_str_eq(cfg.cluster.members[2].name, "node3");
    ck_assert_uint_eq(cfg.node.id, 2);
}
END_TEST

START_TEST(single_node_members_follow_node_flags_until_given)
{
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--node-id", "9", err, sizeof(err)), 0);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--name", "solo", err, sizeof(err)), 0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--listen-client",
                                           "0.0.0.0:3379", err, sizeof(err)),
                     0);
    ck_assert_uint_eq(cfg.cluster.n_members, 1);
    ck_assert_uint_eq(cfg.cluster.members[0].id, 9);
    ck_assert_str_eq(cfg.cluster.members[0].name, "solo");
    ck_assert_str_eq(cfg.cluster.members[0].client_addr, "0.0.0.0:3379");
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    /* Once a list is given, node flags no longer rewrite it. */
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--initial-cluster",
                                           "9:solo=h:1@h:2", err, sizeof(err)),
                     0);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--node-id", "10", err, sizeof(err)), 0);
    ck_assert_uint_eq(cfg.cluster.members[0].id, 9);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), -EINVAL);
    ck_assert_err_has("command line: cluster.initial_members: this node "
                      "(node.id 10) is not a member");
}
END_TEST

START_TEST(bad_flags_name_the_flag_and_value)
{
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--node-id", "abc", err, sizeof(err)),
        -EINVAL);
    ck_assert_str_eq(err, "command line: --node-id (node.id): \"abc\" is not "
                          "a non-negative whole number");
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--colour", "red", err, sizeof(err)),
        -EINVAL);
    ck_assert_err_has("unknown flag --colour");
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--set", "raft.nope=1", err, sizeof(err)),
        -EINVAL);
    ck_assert_err_has("--set: unknown key raft.nope");
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--set", "noequals", err, sizeof(err)),
        -EINVAL);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--initial-cluster",
                                           "1=missing-client", err,
                                           sizeof(err)),
                     -EINVAL);
    ck_assert_err_has("--initial-cluster:");
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--engine", NULL, err, sizeof(err)),
        -EINVAL);
    ck_assert_err_has("--engine needs a value");
    /* Nothing above changed the config. */
    ck_assert_uint_eq(cfg.node.id, 1);
    ck_assert_uint_eq(cfg.cluster.n_members, 1);
}
END_TEST

START_TEST(join_flag_without_value_means_true)
{
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--join", NULL, err, sizeof(err)), 0);
    ck_assert(cfg.cluster.join);
    ck_assert_int_eq(
        srv_config_apply_flag(&cfg, "--join", "false", err, sizeof(err)), 0);
    ck_assert(!cfg.cluster.join);
}
END_TEST

/* ---- helpers ------------------------------------------------------- */

START_TEST(cluster_id_is_derived_from_name_unless_set)
{
    uint64_t a = srv_config_cluster_id(&cfg);
    ck_assert_uint_ne(a, 0);
    struct srv_config other;
    srv_config_defaults(&other);
    ck_assert_uint_eq(srv_config_cluster_id(&other), a);
    ck_assert_int_eq(load("cluster:\n  name: prod-eu\n"), 0);
    ck_assert_uint_ne(srv_config_cluster_id(&cfg), a);
    ck_assert_int_eq(load("cluster:\n  cluster_id: 42\n"), 0);
    ck_assert_uint_eq(srv_config_cluster_id(&cfg), 42);
}
END_TEST

START_TEST(addr_split_handles_hosts_ipv6_and_bad_ports)
{
    char host[64];
    uint16_t port;
    ck_assert_int_eq(
        srv_addr_split("127.0.0.1:2379", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 2379);
    ck_assert_int_eq(srv_addr_split("[::1]:80", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_uint_eq(port, 80);
    ck_assert_int_eq(
        srv_addr_split("db.example:65535", host, sizeof(host), &port), 0);
    ck_assert_int_eq(srv_addr_split("h:65536", host, sizeof(host), &port),
                     -EINVAL);
    ck_assert_int_eq(srv_addr_split("h:", host, sizeof(host), &port), -EINVAL);
    ck_assert_int_eq(srv_addr_split(":80", host, sizeof(host), &port), -EINVAL);
    ck_assert_int_eq(srv_addr_split("::1:80", host, sizeof(host), &port),
                     -EINVAL);
    ck_assert_int_eq(srv_addr_split("[::1]80", host, sizeof(host), &port),
                     -EINVAL);
    ck_assert_int_eq(srv_addr_split("h:8x", host, sizeof(host), &port),
                     -EINVAL);
    ck_assert_int_eq(srv_addr_split("averylonghostname:1", host, 5, &port),
                     -EINVAL);
}
END_TEST

START_TEST(compaction_defaults_to_periodic_one_hour)
{
    ck_assert_int_eq(cfg.compaction.mode, SRV_COMPACTION_PERIODIC);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_config_compaction_retention(&cfg), 3600000);
}
END_TEST

START_TEST(compaction_retention_is_read_for_its_mode)
{
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: revision, retention: 1000}\n"),
        0);
    ck_assert_uint_eq(srv_config_compaction_retention(&cfg), 1000);
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: periodic, retention: 90s}\n"), 0);
    ck_assert_uint_eq(srv_config_compaction_retention(&cfg), 90000);
    ck_assert_int_eq(load_and_validate("compaction: {mode: \"off\"}\n"), 0);
    ck_assert_uint_eq(srv_config_compaction_retention(&cfg), 0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--auto-compaction-mode",
                                           "revision", err, sizeof(err)),
                     0);
    ck_assert_int_eq(srv_config_apply_flag(&cfg, "--auto-compaction-retention",
                                           "5", err, sizeof(err)),
                     0);
    ck_assert_int_eq(srv_config_validate(&cfg, err, sizeof(err)), 0);
    ck_assert_uint_eq(srv_config_compaction_retention(&cfg), 5);
}
END_TEST

START_TEST(compaction_bad_settings_are_refused_with_the_key)
{
    ck_assert_int_eq(load("compaction: {mode: sometimes}\n"), -EINVAL);
    ck_assert_err_has("compaction.mode");
    setup();
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: periodic, retention: 1000}\n"),
        -EINVAL);
    ck_assert_err_has("t.yaml:1: compaction.retention");
    setup();
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: periodic, retention: 10ms}\n"),
        -EINVAL);
    ck_assert_err_has("between 1s and 366 days");
    setup();
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: revision, retention: 1h}\n"),
        -EINVAL);
    ck_assert_err_has("revision count");
    setup();
    ck_assert_int_eq(
        load_and_validate("compaction: {mode: revision, retention: 0}\n"),
        -EINVAL);
    ck_assert_err_has("compaction.retention");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, defaults_are_a_valid_single_node_memory_cluster);
    tcase_add_test(tc, shipped_config_yaml_loads_validates_and_equals_defaults);
    tcase_add_test(tc, format_output_loads_back_to_the_same_values);
    tcase_add_test(tc,
                   absent_keys_keep_defaults_and_empty_file_is_all_defaults);
    tcase_add_test(tc, durations_sizes_and_booleans_parse_with_units);
    tcase_add_test(tc, unknown_key_is_named_with_line_and_suggestion);
    tcase_add_test(tc, bad_duration_is_named_with_line_and_key);
    tcase_add_test(tc, bad_size_is_named_with_line_and_key);
    tcase_add_test(tc, wrong_types_are_named_with_line_and_key);
    tcase_add_test(tc, duplicate_keys_are_errors);
    tcase_add_test(tc, bad_enum_value_lists_the_choices);
    tcase_add_test(tc, yaml_syntax_error_names_the_line);
    tcase_add_test(tc, failed_load_leaves_config_unchanged);
    tcase_add_test(tc, member_errors_are_named_with_line);
    tcase_add_test(tc, missing_file_is_reported_with_its_path);
    tcase_add_test(tc,
                   node_missing_from_initial_members_is_refused_unless_joining);
    tcase_add_test(tc, duplicate_member_ids_and_addresses_are_refused);
    tcase_add_test(tc, heartbeat_not_below_election_timeout_is_refused);
    tcase_add_test(tc, tick_must_divide_the_timeouts);
    tcase_add_test(tc, unsafe_lease_settings_are_refused);
    tcase_add_test(tc, default_lease_follows_the_reference_rule);
    tcase_add_test(tc, out_of_range_sizes_and_limits_are_refused);
    tcase_add_test(tc, max_pending_reads_defaults_to_10000_and_is_bounded);
    tcase_add_test(tc, listen_addresses_must_parse_and_differ);
    tcase_add_test(tc, http_api_is_off_by_default_and_its_options_are_checked);
    tcase_add_test(tc,
                   validation_of_defaults_changed_by_flags_says_command_line);
    tcase_add_test(tc, flags_override_file_values);
    tcase_add_test(tc, flags_build_a_three_node_cluster);
    tcase_add_test(tc, single_node_members_follow_node_flags_until_given);
    tcase_add_test(tc, bad_flags_name_the_flag_and_value);
    tcase_add_test(tc, join_flag_without_value_means_true);
    tcase_add_test(tc, cluster_id_is_derived_from_name_unless_set);
    tcase_add_test(tc, addr_split_handles_hosts_ipv6_and_bad_ports);
    tcase_add_test(tc, compaction_defaults_to_periodic_one_hour);
    tcase_add_test(tc, compaction_retention_is_read_for_its_mode);
    tcase_add_test(tc, compaction_bad_settings_are_refused_with_the_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
