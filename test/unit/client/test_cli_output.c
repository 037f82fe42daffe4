/*
 * test_cli_output.c - metastore-cli's printers: etcdctl's simple lines, its
 * JSON shape (header, base64 kvs, zero fields omitted) and tables, for the
 * key-value commands, endpoint status/health and the member commands.
 */
#include "client/cli_util.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *buf;
static size_t buf_len;

static FILE *out_open(void)
{
    free(buf);
    buf = NULL;
    FILE *f = open_memstream(&buf, &buf_len);
    ck_assert_ptr_nonnull(f);
    return f;
}

static const char *out_close(FILE *f)
{
    fclose(f);
    return buf;
}

static struct ms_kv kvs[2] = {
    {.key = (const uint8_t *)"foo",
     .key_len = 3,
     .value = (const uint8_t *)"bar",
     .value_len = 3,
     .create_revision = 2,
     .mod_revision = 2,
     .version = 1},
    {.key = (const uint8_t *)"foo2",
     .key_len = 4,
     .value = (const uint8_t *)"",
     .value_len = 0,
     .create_revision = 3,
     .mod_revision = 4,
     .version = 2,
     .lease = 9},
};

static struct ms_result range_result(void)
{
    struct ms_result r = {.type = MS_RESULT_RANGE, .message = ""};
    r.header = (struct ms_header){.cluster_id = 14841639068965178418ull,
                                  .member_id = 10276657743932975437ull,
                                  .revision = 4,
                                  .raft_term = 2};
    r.range.kvs = kvs;
    r.range.n_kvs = 2;
    r.range.count = 2;
    return r;
}

START_TEST(get_simple_prints_key_and_value_lines)
{
    struct ms_result r = range_result();
    FILE *f = out_open();
    mscli_print_get(f, MSCLI_SIMPLE, &r, NULL);
    ck_assert_str_eq(out_close(f), "foo\nbar\nfoo2\n\n");
    struct mscli_get_print vo = {.print_value_only = true};
    f = out_open();
    mscli_print_get(f, MSCLI_SIMPLE, &r, &vo);
    ck_assert_str_eq(out_close(f), "bar\n\n");
    struct mscli_get_print co = {.count_only = true};
    f = out_open();
    mscli_print_get(f, MSCLI_TABLE, &r, &co);
    ck_assert_str_eq(out_close(f), "2\n");
}
END_TEST

START_TEST(get_json_mirrors_etcd_shape)
{
    struct ms_result r = range_result();
    FILE *f = out_open();
    mscli_print_get(f, MSCLI_JSON, &r, NULL);
    ck_assert_str_eq(
        out_close(f),
        "{\"header\":{\"cluster_id\":14841639068965178418,"
        "\"member_id\":10276657743932975437,\"revision\":4,\"raft_term\":2},"
        "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":2,\"mod_revision\":2,"
        "\"version\":1,\"value\":\"YmFy\"},{\"key\":\"Zm9vMg==\","
        "\"create_revision\":3,\"mod_revision\":4,\"version\":2,"
        "\"lease\":9}],\"count\":2}\n");

    struct ms_result empty = {.type = MS_RESULT_RANGE, .message = ""};
    empty.header.revision = 1;
    f = out_open();
    mscli_print_get(f, MSCLI_JSON, &empty, NULL);
    ck_assert_str_eq(out_close(f), "{\"header\":{\"revision\":1}}\n");
}
END_TEST

START_TEST(put_prints_ok_and_prev_kv)
{
    struct ms_result r = {.type = MS_RESULT_PUT, .message = ""};
    FILE *f = out_open();
    mscli_print_put(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "OK\n");
    r.put.has_prev_kv = true;
    r.put.prev_kv = kvs[0];
    f = out_open();
    mscli_print_put(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "OK\nfoo\nbar\n");
    r.header.revision = 5;
    f = out_open();
    mscli_print_put(f, MSCLI_JSON, &r);
    ck_assert_str_eq(out_close(f),
                     "{\"header\":{\"revision\":5},\"prev_kv\":{\"key\":"
                     "\"Zm9v\",\"create_revision\":2,\"mod_revision\":2,"
                     "\"version\":1,\"value\":\"YmFy\"}}\n");
}
END_TEST

START_TEST(del_prints_count_then_prev_kvs)
{
    struct ms_result r = {.type = MS_RESULT_DELETE, .message = ""};
    r.del.deleted = 1;
    r.del.prev_kvs = kvs;
    r.del.n_prev_kvs = 1;
    FILE *f = out_open();
    mscli_print_del(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "1\nfoo\nbar\n");
    r.del.n_prev_kvs = 0;
    r.header.revision = 6;
    f = out_open();
    mscli_print_del(f, MSCLI_JSON, &r);
    ck_assert_str_eq(out_close(f),
                     "{\"header\":{\"revision\":6},\"deleted\":1}\n");
}
END_TEST

START_TEST(txn_prints_outcome_then_each_response)
{
    struct ms_op_result ops[3] = {
        {.type = MS_OP_PUT},
        {.type = MS_OP_RANGE, .range = {.kvs = kvs, .n_kvs = 1, .count = 1}},
        {.type = MS_OP_DELETE, .del = {.deleted = 3}},
    };
    ops[0].header.revision = 7;
    struct ms_result r = {.type = MS_RESULT_TXN, .message = ""};
    r.header.revision = 7;
    r.txn.succeeded = true;
    r.txn.responses = ops;
    r.txn.n_responses = 3;
    FILE *f = out_open();
    mscli_print_txn(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "SUCCESS\n\nOK\n\nfoo\nbar\n\n3\n");
    r.txn.n_responses = 1;
    f = out_open();
    mscli_print_txn(f, MSCLI_JSON, &r);
    ck_assert_str_eq(out_close(f),
                     "{\"header\":{\"revision\":7},\"succeeded\":true,"
                     "\"responses\":[{\"Response\":{\"response_put\":"
                     "{\"header\":{\"revision\":7}}}}]}\n");
    r.txn.succeeded = false;
    r.txn.n_responses = 0;
    f = out_open();
    mscli_print_txn(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "FAILURE\n");
}
END_TEST

START_TEST(compaction_prints_the_revision)
{
    struct ms_result r = {.type = MS_RESULT_COMPACT, .message = ""};
    r.compact.revision = 12;
    FILE *f = out_open();
    mscli_print_compact(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f), "compacted revision 12\n");
}
END_TEST

static struct ms_result status_result(void)
{
    static const char *errs[] = {"alarm: NOSPACE"};
    struct ms_result r = {.type = MS_RESULT_STATUS, .message = ""};
    r.header = (struct ms_header){.cluster_id = 1,
                                  .member_id = 0x8e9e05c52164694dull,
                                  .revision = 4,
                                  .raft_term = 2};
    r.status_info.version = "0.1.0";
    r.status_info.member_id = 0x8e9e05c52164694dull;
    r.status_info.leader = 0x8e9e05c52164694dull;
    r.status_info.raft_term = 2;
    r.status_info.raft_index = 4;
    r.status_info.raft_applied_index = 4;
    r.status_info.db_size = 20480;
    r.status_info.errors = errs;
    r.status_info.n_errors = 0;
    (void)errs;
    return r;
}

START_TEST(endpoint_status_simple_and_table_use_etcd_columns_and_revision)
{
    struct ms_result r = status_result();
    struct mscli_status_row row = {.endpoint = "127.0.0.1:2379", .status = &r};
    FILE *f = out_open();
    mscli_print_status(f, MSCLI_SIMPLE, &row, 1);
    ck_assert_str_eq(out_close(f), "127.0.0.1:2379, 8e9e05c52164694d, 0.1.0, "
                                   "20 kB, true, false, 2, 4, 4, 4, \n");
    r.status_info.read_stats.lease_valid = true;
    r.status_info.read_stats.lease_remaining_us = 180000;
    r.status_info.read_stats.lease_reads = 1234;
    r.status_info.read_stats.n_latency = 1;
    r.status_info.read_stats.latency[0] =
        (struct ms_path_latency){"fast", 1234, 20, 30, 45, 50, 60};
    f = out_open();
    mscli_print_status(f, MSCLI_TABLE, &row, 1);
    const char *table = out_close(f);
    /* Then MetaStore's own table: the lease and the read paths. */
    const char *second = strstr(table, "|    ENDPOINT    | LEASE |");
    ck_assert_ptr_nonnull(second);
    ck_assert_ptr_nonnull(strstr(second, "| 127.0.0.1:2379 | valid |     180 ms |"));
    ck_assert_ptr_nonnull(strstr(second, "|       1234 |"));
    ck_assert_ptr_nonnull(strstr(second, "|    45 us |"));
    /* The first table is etcdctl's, unchanged. */
    char *first = strndup(table, (size_t)(second - table));
    second = strrchr(first, '+');
    ck_assert_ptr_nonnull(second);
    first[second - first] = '\0'; /* cut the second table's top border */
    second = strrchr(first, '\n');
    first[second - first + 1] = '\0';
    ck_assert_str_eq(
        first,
        "+----------------+------------------+---------+---------+-----------+"
        "------------+-----------+------------+--------------------+----------+"
        "--------+\n"
        "|    ENDPOINT    |        ID        | VERSION | DB SIZE | IS LEADER |"
        " IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | REVISION |"
        " ERRORS |\n"
        "+----------------+------------------+---------+---------+-----------+"
        "------------+-----------+------------+--------------------+----------+"
        "--------+\n"
        "| 127.0.0.1:2379 | 8e9e05c52164694d |   0.1.0 |   20 kB |      true |"
        "      false |         2 |          4 |                  4 |        4 |"
        "        |\n"
        "+----------------+------------------+---------+---------+-----------+"
        "------------+-----------+------------+--------------------+----------+"
        "--------+\n");
    free(first);
}
END_TEST

START_TEST(endpoint_status_cluster_keeps_a_row_for_a_silent_member)
{
    struct ms_result r = status_result();
    r.status_info.revision = 9; /* the status' own revision wins */
    struct mscli_status_row rows[2] = {
        {.endpoint = "127.0.0.1:2379", .status = &r},
        {.endpoint = "127.0.0.1:22379",
         .member_id = 0x2a,
         .error = "context deadline exceeded"},
    };
    FILE *f = out_open();
    mscli_print_status(f, MSCLI_SIMPLE, rows, 2);
    ck_assert_str_eq(out_close(f),
                     "127.0.0.1:2379, 8e9e05c52164694d, 0.1.0, 20 kB, true, "
                     "false, 2, 4, 4, 9, \n"
                     "127.0.0.1:22379, 2a, , , , , , , , , context deadline "
                     "exceeded\n");
    f = out_open();
    mscli_print_status(f, MSCLI_JSON, rows + 1, 1);
    ck_assert_str_eq(out_close(f), "[{\"Endpoint\":\"127.0.0.1:22379\","
                                   "\"ID\":42,\"Error\":\"context deadline "
                                   "exceeded\"}]\n");
}
END_TEST

START_TEST(endpoint_status_json_mirrors_etcd_shape)
{
    struct ms_result r = status_result();
    r.status_info.n_errors = 1;
    /* MetaStore's read statistics follow etcd's fields. */
    struct ms_read_stats *rs = &r.status_info.read_stats;
    rs->lease_valid = true;
    rs->lease_remaining_us = 1500;
    rs->lease_renewals = 7;
    rs->lease_reads = 10;
    rs->n_latency = 1;
    rs->latency[0] = (struct ms_path_latency){"fast", 10, 20, 30, 40, 50, 60};
    struct mscli_status_row row = {.endpoint = "127.0.0.1:2379", .status = &r};
    FILE *f = out_open();
    mscli_print_status(f, MSCLI_JSON, &row, 1);
    ck_assert_str_eq(out_close(f),
                     "[{\"Endpoint\":\"127.0.0.1:2379\",\"Status\":{\"header\":"
                     "{\"cluster_id\":1,\"member_id\":10276657743932975437,"
                     "\"revision\":4,\"raft_term\":2},\"version\":\"0.1.0\","
                     "\"dbSize\":20480,\"leader\":10276657743932975437,"
                     "\"raftIndex\":4,\"raftTerm\":2,\"raftAppliedIndex\":4,"
                     "\"readStats\":{\"leaseValid\":true,"
                     "\"leaseRemainingUs\":1500,\"leaseRenewals\":7,"
                     "\"leaseExpirations\":0,\"leaseRevocations\":0,"
                     "\"leaseLastRenewAgoUs\":0,\"leaseReads\":10,"
                     "\"readIndexReads\":0,\"followerReads\":0,"
                     "\"forwarded\":0,\"serializableReads\":0,"
                     "\"logReads\":0,\"readIndexRounds\":0,"
                     "\"applyWaits\":0,\"readTimeouts\":0,"
                     "\"leaseAnsweredFollower\":0,\"pendingReads\":0,"
                     "\"rejectedReads\":0,\"cancelledReads\":0,"
                     "\"readIndexRoundReads\":0,\"latency\":[{\"path\":"
                     "\"fast\",\"count\":10,\"p50Us\":20,\"p90Us\":30,"
                     "\"p99Us\":40,\"p999Us\":50,\"maxUs\":60}]},"
                     "\"errors\":[\"alarm: NOSPACE\"]}}]\n");
}
END_TEST

START_TEST(endpoint_health_lines_go_to_out_or_err)
{
    struct mscli_health_row rows[2] = {
        {.endpoint = "127.0.0.1:2379",
         .healthy = true,
         .took_ns = 1234567,
         .error = ""},
        {.endpoint = "127.0.0.1:22379",
         .healthy = false,
         .error = "context deadline exceeded"},
    };
    char *err_buf = NULL;
    size_t err_len = 0;
    FILE *e = open_memstream(&err_buf, &err_len);
    FILE *f = out_open();
    mscli_print_health(f, e, MSCLI_SIMPLE, rows, 2);
    fclose(e);
    ck_assert_str_eq(out_close(f), "127.0.0.1:2379 is healthy: successfully "
                                   "committed proposal: took = 1.234567ms\n");
    ck_assert_str_eq(err_buf, "127.0.0.1:22379 is unhealthy: failed to commit "
                              "proposal: context deadline exceeded\n");
    free(err_buf);
    f = out_open();
    mscli_print_health(f, stderr, MSCLI_JSON, rows, 2);
    ck_assert_str_eq(out_close(f),
                     "[{\"endpoint\":\"127.0.0.1:2379\",\"health\":true,"
                     "\"took\":\"1.234567ms\"},{\"endpoint\":"
                     "\"127.0.0.1:22379\",\"health\":false,\"took\":\"0s\","
                     "\"error\":\"context deadline exceeded\"}]\n");
}
END_TEST

START_TEST(human_sizes_and_durations_follow_go)
{
    char b[32];
    mscli_human_bytes(0, b, sizeof(b));
    ck_assert_str_eq(b, "0 B");
    mscli_human_bytes(9, b, sizeof(b));
    ck_assert_str_eq(b, "9 B");
    mscli_human_bytes(999, b, sizeof(b));
    ck_assert_str_eq(b, "999 B");
    mscli_human_bytes(1500, b, sizeof(b));
    ck_assert_str_eq(b, "1.5 kB");
    mscli_human_bytes(25000000, b, sizeof(b));
    ck_assert_str_eq(b, "25 MB");
    mscli_human_duration(850000, b, sizeof(b));
    ck_assert_str_eq(b, "850\xc2\xb5s");
    mscli_human_duration(2000000000ull, b, sizeof(b));
    ck_assert_str_eq(b, "2s");
    mscli_human_duration(90500000000ull, b, sizeof(b));
    ck_assert_str_eq(b, "1m30.5s");
    mscli_human_duration(3600000000000ull, b, sizeof(b));
    ck_assert_str_eq(b, "1h0m0s");
    mscli_human_duration(12, b, sizeof(b));
    ck_assert_str_eq(b, "12ns");
}
END_TEST

START_TEST(base64_pads_like_rfc4648)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                 "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *s = NULL;
        ck_assert_int_eq(mscli_base64(in[i], strlen(in[i]), &s), 0);
        ck_assert_str_eq(s, want[i]);
        free(s);
    }
}
END_TEST

START_TEST(format_names_parse)
{
    ck_assert_int_eq(mscli_format_parse("simple"), MSCLI_SIMPLE);
    ck_assert_int_eq(mscli_format_parse("json"), MSCLI_JSON);
    ck_assert_int_eq(mscli_format_parse("table"), MSCLI_TABLE);
    ck_assert_int_eq(mscli_format_parse("yaml"), -1);
}
END_TEST

static struct ms_member members[3] = {
    {.id = 1,
     .name = "node1",
     .peer_addr = "10.0.0.1:2380",
     .client_addr = "10.0.0.1:2379"},
    {.id = 0x8e9e05c52164694dull,
     .name = "node2",
     .peer_addr = "10.0.0.2:2380",
     .client_addr = "10.0.0.2:2379",
     .is_learner = true},
    {.id = 3, .name = "", .peer_addr = "10.0.0.3:2380", .client_addr = ""},
};

static struct ms_result member_result(enum ms_result_type type, size_t n)
{
    struct ms_result r = {.type = type, .message = ""};
    r.header = (struct ms_header){.cluster_id = 0x8c4281cc65c7b112ull,
                                  .member_id = 1,
                                  .revision = 5,
                                  .raft_term = 2};
    r.members.members = members;
    r.members.n_members = n;
    r.members.added =
        (struct ms_member){.name = "", .peer_addr = "", .client_addr = ""};
    return r;
}

START_TEST(member_list_simple_prints_etcdctl_lines)
{
    struct ms_result r = member_result(MS_RESULT_MEMBER_LIST, 3);
    FILE *f = out_open();
    mscli_print_member_list(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(out_close(f),
                     "1, started, node1, 10.0.0.1:2380, 10.0.0.1:2379, false\n"
                     "8e9e05c52164694d, started, node2, 10.0.0.2:2380, "
                     "10.0.0.2:2379, true\n"
                     "3, unstarted, , 10.0.0.3:2380, , false\n");
}
END_TEST

START_TEST(member_list_table_has_etcdctl_columns)
{
    struct ms_result r = member_result(MS_RESULT_MEMBER_LIST, 2);
    FILE *f = out_open();
    mscli_print_member_list(f, MSCLI_TABLE, &r);
    ck_assert_str_eq(out_close(f),
                     "+------------------+---------+-------+---------------+"
                     "---------------+------------+\n"
                     "|        ID        | STATUS  | NAME  |  PEER ADDRS   |"
                     " CLIENT ADDRS  | IS LEARNER |\n"
                     "+------------------+---------+-------+---------------+"
                     "---------------+------------+\n"
                     "|                1 | started | node1 | 10.0.0.1:2380 |"
                     " 10.0.0.1:2379 |      false |\n"
                     "| 8e9e05c52164694d | started | node2 | 10.0.0.2:2380 |"
                     " 10.0.0.2:2379 |       true |\n"
                     "+------------------+---------+-------+---------------+"
                     "---------------+------------+\n");
}
END_TEST

START_TEST(member_list_json_mirrors_etcd_shape)
{
    struct ms_result r = member_result(MS_RESULT_MEMBER_LIST, 3);
    FILE *f = out_open();
    mscli_print_member_list(f, MSCLI_JSON, &r);
    ck_assert_str_eq(
        out_close(f),
        "{\"header\":{\"cluster_id\":10106783228653711634,\"member_id\":1,"
        "\"revision\":5,\"raft_term\":2},\"members\":["
        "{\"ID\":1,\"name\":\"node1\",\"peerURLs\":[\"10.0.0.1:2380\"],"
        "\"clientURLs\":[\"10.0.0.1:2379\"]},"
        "{\"ID\":10276657743932975437,\"name\":\"node2\",\"peerURLs\":"
        "[\"10.0.0.2:2380\"],\"clientURLs\":[\"10.0.0.2:2379\"],"
        "\"isLearner\":true},"
        "{\"ID\":3,\"peerURLs\":[\"10.0.0.3:2380\"]}]}\n");
}
END_TEST

START_TEST(member_add_prints_id_cluster_and_how_to_start_it)
{
    struct ms_result r = member_result(MS_RESULT_MEMBER_ADD, 2);
    r.members.added = members[1];
    FILE *f = out_open();
    mscli_print_member_add(f, MSCLI_SIMPLE, &r);
    ck_assert_str_eq(
        out_close(f),
        "Member 8e9e05c52164694d added to cluster 8c4281cc65c7b112\n"
        "\n"
        "Start the new member with an empty --data-dir and:\n"
        "metastored --node-id 10276657743932975437 --name node2 "
        "--listen-peer 10.0.0.2:2380 --listen-client 10.0.0.2:2379 --join "
        "--initial-cluster 1:node1=10.0.0.1:2380@10.0.0.1:2379,"
        "10276657743932975437:node2=10.0.0.2:2380@10.0.0.2:2379\n");
    f = out_open();
    mscli_print_member_add(f, MSCLI_JSON, &r);
    ck_assert_str_eq(
        out_close(f),
        "{\"header\":{\"cluster_id\":10106783228653711634,\"member_id\":1,"
        "\"revision\":5,\"raft_term\":2},\"member\":{\"ID\":"
        "10276657743932975437,\"name\":\"node2\",\"peerURLs\":"
        "[\"10.0.0.2:2380\"],\"clientURLs\":[\"10.0.0.2:2379\"],"
        "\"isLearner\":true},\"members\":[{\"ID\":1,\"name\":\"node1\","
        "\"peerURLs\":[\"10.0.0.1:2380\"],\"clientURLs\":[\"10.0.0.1:2379\"]},"
        "{\"ID\":10276657743932975437,\"name\":\"node2\",\"peerURLs\":"
        "[\"10.0.0.2:2380\"],\"clientURLs\":[\"10.0.0.2:2379\"],"
        "\"isLearner\":true}]}\n");
}
END_TEST

START_TEST(member_add_without_client_address_says_what_is_missing)
{
    static struct ms_member v6[2] = {
        {.id = 1,
         .name = "a",
         .peer_addr = "[::1]:2380",
         .client_addr = "[::1]:2379"},
        {.id = 7, .name = "b", .peer_addr = "[::1]:3380", .client_addr = ""},
    };
    struct ms_result r = member_result(MS_RESULT_MEMBER_ADD, 2);
    r.members.members = v6;
    r.members.added = v6[1];
    r.header.cluster_id = 0xab;
    FILE *f = out_open();
    mscli_print_member_add(f, MSCLI_SIMPLE, &r);
    const char *s = out_close(f);
    /* etcdctl's %16x pads ids with blanks. */
    ck_assert_ptr_nonnull(strstr(s, "Member                7 added to "
                                    "cluster               ab\n"));
    /* Brackets would glob in a shell: the words are quoted. */
    ck_assert_ptr_nonnull(
        strstr(s, "metastored --node-id 7 --name b --listen-peer "
                  "'[::1]:3380' --join --initial-cluster "
                  "'1:a=[::1]:2380@[::1]:2379,7:b=[::1]:3380@'\n"));
    ck_assert_ptr_nonnull(strstr(s, "added without --client-urls"));
}
END_TEST

START_TEST(member_remove_promote_and_move_leader_print_etcdctl_lines)
{
    struct ms_result r = member_result(MS_RESULT_MEMBER_REMOVE, 1);
    FILE *f = out_open();
    mscli_print_member_change(f, MSCLI_SIMPLE, &r, "removed from",
                              0x8e9e05c52164694dull);
    ck_assert_str_eq(out_close(f), "Member 8e9e05c52164694d removed from "
                                   "cluster 8c4281cc65c7b112\n");
    f = out_open();
    mscli_print_member_change(f, MSCLI_TABLE, &r, "promoted in", 0x3);
    ck_assert_str_eq(out_close(f), "Member                3 promoted in "
                                   "cluster 8c4281cc65c7b112\n");
    f = out_open();
    mscli_print_member_change(f, MSCLI_JSON, &r, "removed from", 3);
    ck_assert_str_eq(out_close(f),
                     "{\"header\":{\"cluster_id\":10106783228653711634,"
                     "\"member_id\":1,\"revision\":5,\"raft_term\":2},"
                     "\"members\":[{\"ID\":1,\"name\":\"node1\",\"peerURLs\":"
                     "[\"10.0.0.1:2380\"],\"clientURLs\":[\"10.0.0.1:2379\"]}"
                     "]}\n");
    f = out_open();
    mscli_print_move_leader(f, MSCLI_SIMPLE, &r, 1, 0x8e9e05c52164694dull);
    ck_assert_str_eq(out_close(f), "Leadership transferred from 1 to "
                                   "8e9e05c52164694d\n");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cli_output");
    TCase *t = tcase_create("cli_output");
    tcase_add_test(t, get_simple_prints_key_and_value_lines);
    tcase_add_test(t, get_json_mirrors_etcd_shape);
    tcase_add_test(t, put_prints_ok_and_prev_kv);
    tcase_add_test(t, del_prints_count_then_prev_kvs);
    tcase_add_test(t, txn_prints_outcome_then_each_response);
    tcase_add_test(t, compaction_prints_the_revision);
    tcase_add_test(
        t, endpoint_status_simple_and_table_use_etcd_columns_and_revision);
    tcase_add_test(t, endpoint_status_cluster_keeps_a_row_for_a_silent_member);
    tcase_add_test(t, member_list_simple_prints_etcdctl_lines);
    tcase_add_test(t, member_list_table_has_etcdctl_columns);
    tcase_add_test(t, member_list_json_mirrors_etcd_shape);
    tcase_add_test(t, member_add_prints_id_cluster_and_how_to_start_it);
    tcase_add_test(t, member_add_without_client_address_says_what_is_missing);
    tcase_add_test(t,
                   member_remove_promote_and_move_leader_print_etcdctl_lines);
    tcase_add_test(t, endpoint_status_json_mirrors_etcd_shape);
    tcase_add_test(t, endpoint_health_lines_go_to_out_or_err);
    tcase_add_test(t, human_sizes_and_durations_follow_go);
    tcase_add_test(t, base64_pads_like_rfc4648);
    tcase_add_test(t, format_names_parse);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    free(buf);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
