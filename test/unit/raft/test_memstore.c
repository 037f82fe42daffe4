/*
 * test_memstore.c - the in-memory raft_storage (raft_memstore_*): appending
 * and cutting a conflicting suffix, term lookups at the edges of the log,
 * size-limited reads, snapshots, compaction and the error codes the core
 * relies on (RAFT_ECOMPACTED below the log, RAFT_EUNAVAILABLE above it).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

static struct raft_memstore *ms;
static struct raft_storage st;

static void setup(void)
{
    ms = raft_memstore_create();
    ck_assert_ptr_nonnull(ms);
    st = raft_memstore_storage(ms);
}

static void teardown(void)
{
    raft_memstore_destroy(ms);
}

/* Appends entries lo..hi (inclusive) of term `t`, each with 10 bytes of
 * data "eNNNN-tTT.". */
static int append_range(raft_index lo, raft_index hi, raft_term t)
{
    size_t n = (size_t)(hi - lo + 1);
    struct raft_entry *e = calloc(n, sizeof(*e));
    char (*buf)[11] = calloc(n, sizeof(*buf));
    for (size_t i = 0; i < n; i++) {
        snprintf(buf[i], sizeof(buf[i]), "e%04u-t%02u.", (unsigned)(lo + i),
                 (unsigned)(t % 100));
        e[i].term = t;
        e[i].index = lo + i;
        e[i].type = RAFT_ENTRY_NORMAL;
        e[i].len = 10;
        e[i].data = (uint8_t *)buf[i];
    }
    int rv = raft_memstore_append(ms, e, n);
    free(buf);
    free(e);
    return rv;
}

static raft_term term_at(raft_index i)
{
    raft_term t = 999;
    ck_assert_int_eq(st.term(st.data, i, &t), 0);
    return t;
}

START_TEST(empty_store_has_no_entries_and_zero_state)
{
    struct raft_hard_state hs = {7, 7, 7};
    struct raft_snapshot_meta snap;
    memset(&snap, 0xff, sizeof(snap));
    ck_assert_int_eq(st.initial_state(st.data, &hs, &snap), 0);
    ck_assert_uint_eq(hs.term, 0);
    ck_assert_uint_eq(hs.vote, 0);
    ck_assert_uint_eq(hs.commit, 0);
    ck_assert_uint_eq(snap.index, 0);
    ck_assert_uint_eq(st.first_index(st.data), 1);
    ck_assert_uint_eq(st.last_index(st.data), 0);
    ck_assert_uint_eq(term_at(0), 0);
    raft_term t;
    ck_assert_int_eq(st.term(st.data, 1, &t), RAFT_EUNAVAILABLE);
    ck_assert_int_eq(st.snapshot_meta(st.data, &snap), 0);
    ck_assert_uint_eq(snap.index, 0);
}
END_TEST

START_TEST(hard_state_round_trips)
{
    struct raft_hard_state in = {5, 3, 2}, out;
    struct raft_snapshot_meta snap;
    ck_assert_int_eq(raft_memstore_set_hard_state(ms, &in), 0);
    ck_assert_int_eq(st.initial_state(st.data, &out, &snap), 0);
    ck_assert_uint_eq(out.term, 5);
    ck_assert_uint_eq(out.vote, 3);
    ck_assert_uint_eq(out.commit, 2);
}
END_TEST

START_TEST(append_copies_entries_and_terms_are_readable)
{
    char data[4] = "abc";
    struct raft_entry e = {1, 1, RAFT_ENTRY_NORMAL, 3, (uint8_t *)data};
    ck_assert_int_eq(raft_memstore_append(ms, &e, 1), 0);
    data[0] = 'X'; /* the store must hold its own copy */
    ck_assert_int_eq(append_range(2, 5, 2), 0);
    ck_assert_uint_eq(st.first_index(st.data), 1);
    ck_assert_uint_eq(st.last_index(st.data), 5);
    ck_assert_uint_eq(term_at(1), 1);
    ck_assert_uint_eq(term_at(5), 2);

    struct raft_entry out[5];
    size_t n = 0;
    ck_assert_int_eq(st.entries(st.data, 1, 6, UINT64_MAX, out, &n), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(out[0].len, 3);
    ck_assert_mem_eq(out[0].data, "abc", 3);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(out[i].index, i + 1);
    }
    ck_assert_mem_eq(out[3].data, "e0004-t02.", 10);
}
END_TEST

START_TEST(append_cuts_conflicting_suffix)
{
    ck_assert_int_eq(append_range(1, 6, 1), 0);
    ck_assert_int_eq(append_range(4, 4, 3), 0);
    ck_assert_uint_eq(st.last_index(st.data), 4);
    ck_assert_uint_eq(term_at(3), 1);
    ck_assert_uint_eq(term_at(4), 3);
    raft_term t;
    ck_assert_int_eq(st.term(st.data, 5, &t), RAFT_EUNAVAILABLE);
    struct raft_entry out[1];
    size_t n = 0;
    ck_assert_int_eq(st.entries(st.data, 4, 5, UINT64_MAX, out, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_mem_eq(out[0].data, "e0004-t03.", 10);
}
END_TEST

START_TEST(append_with_gap_is_rejected)
{
    ck_assert_int_eq(append_range(1, 3, 1), 0);
    ck_assert_int_eq(append_range(5, 6, 1), RAFT_EINVAL);
    ck_assert_uint_eq(st.last_index(st.data), 3);
}
END_TEST

START_TEST(append_first_entry_must_be_index_one)
{
    ck_assert_int_eq(append_range(2, 3, 1), RAFT_EINVAL);
    ck_assert_uint_eq(st.last_index(st.data), 0);
}
END_TEST

START_TEST(entries_respect_max_bytes_but_return_at_least_one)
{
    ck_assert_int_eq(append_range(1, 5, 1), 0);
    struct raft_entry out[5];
    size_t n = 0;
    ck_assert_int_eq(st.entries(st.data, 1, 6, 25, out, &n), 0);
    ck_assert_uint_eq(n, 2); /* 20 bytes fit, a third would make 30 */
    ck_assert_int_eq(st.entries(st.data, 1, 6, 20, out, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(st.entries(st.data, 2, 6, 5, out, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(out[0].index, 2);
    ck_assert_int_eq(st.entries(st.data, 3, 6, 0, out, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st.entries(st.data, 1, 4, UINT64_MAX, out, &n), 0);
    ck_assert_uint_eq(n, 3);
}
END_TEST

START_TEST(entries_out_of_range_report_compacted_or_unavailable)
{
    ck_assert_int_eq(append_range(1, 5, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 3;
    meta.term = 1;
    meta.size = 4;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "snap"), 0);
    struct raft_entry out[8];
    size_t n = 0;
    ck_assert_int_eq(st.entries(st.data, 2, 5, UINT64_MAX, out, &n),
                     RAFT_ECOMPACTED);
    ck_assert_int_eq(st.entries(st.data, 4, 8, UINT64_MAX, out, &n),
                     RAFT_EUNAVAILABLE);
    ck_assert_int_eq(st.entries(st.data, 4, 6, UINT64_MAX, out, &n), 0);
    ck_assert_uint_eq(n, 2);
    raft_term t;
    ck_assert_int_eq(st.term(st.data, 2, &t), RAFT_ECOMPACTED);
    ck_assert_int_eq(st.term(st.data, 6, &t), RAFT_EUNAVAILABLE);
}
END_TEST

START_TEST(snapshot_matching_log_keeps_the_tail)
{
    ck_assert_int_eq(append_range(1, 3, 1), 0);
    ck_assert_int_eq(append_range(4, 6, 2), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 4;
    meta.term = 2;
    meta.conf.n = 1;
    meta.conf.members[0].id = 1;
    meta.size = 5;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "hello"), 0);
    ck_assert_uint_eq(st.first_index(st.data), 5);
    ck_assert_uint_eq(st.last_index(st.data), 6);
    ck_assert_uint_eq(term_at(4), 2); /* first_index - 1: the snapshot */
    ck_assert_uint_eq(term_at(6), 2);

    struct raft_snapshot_meta got;
    ck_assert_int_eq(st.snapshot_meta(st.data, &got), 0);
    ck_assert_uint_eq(got.index, 4);
    ck_assert_uint_eq(got.term, 2);
    ck_assert_uint_eq(got.size, 5);
    ck_assert_uint_eq(got.conf.n, 1);
    ck_assert_uint_eq(got.conf.members[0].id, 1);
    ck_assert_mem_eq(raft_memstore_snapshot_data(ms), "hello", 5);

    struct raft_hard_state hs;
    ck_assert_int_eq(st.initial_state(st.data, &hs, &got), 0);
    ck_assert_uint_eq(got.index, 4);
}
END_TEST

START_TEST(snapshot_not_matching_log_drops_whole_log)
{
    ck_assert_int_eq(append_range(1, 6, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 4;
    meta.term = 3; /* entry 4 has term 1 here */
    meta.size = 1;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "x"), 0);
    ck_assert_uint_eq(st.first_index(st.data), 5);
    ck_assert_uint_eq(st.last_index(st.data), 4);
    ck_assert_uint_eq(term_at(4), 3);
}
END_TEST

START_TEST(snapshot_beyond_log_end_drops_whole_log)
{
    ck_assert_int_eq(append_range(1, 2, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 10;
    meta.term = 4;
    meta.size = 0;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, ""), 0);
    ck_assert_uint_eq(st.first_index(st.data), 11);
    ck_assert_uint_eq(st.last_index(st.data), 10);
    ck_assert_uint_eq(term_at(10), 4);
    /* The log continues right after the snapshot, not before or beyond. */
    ck_assert_int_eq(append_range(10, 10, 5), RAFT_EINVAL);
    ck_assert_int_eq(append_range(12, 12, 5), RAFT_EINVAL);
    ck_assert_int_eq(append_range(11, 12, 5), 0);
    ck_assert_uint_eq(st.last_index(st.data), 12);
}
END_TEST

START_TEST(snapshot_read_returns_chunks_and_last_flag)
{
    const char *data = "0123456789abcdef";
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 3;
    meta.term = 1;
    meta.size = 16;
    ck_assert_int_eq(append_range(1, 3, 1), 0);
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, data), 0);

    char buf[64];
    size_t n = 0;
    bool last = true;
    ck_assert_int_eq(st.snapshot_read(st.data, 3, 0, buf, 6, &n, &last), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert(!last);
    ck_assert_mem_eq(buf, "012345", 6);
    ck_assert_int_eq(st.snapshot_read(st.data, 3, 12, buf, 6, &n, &last), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert(last);
    ck_assert_mem_eq(buf, "cdef", 4);
    ck_assert_int_eq(st.snapshot_read(st.data, 3, 0, buf, 32, &n, &last), 0);
    ck_assert_uint_eq(n, 16);
    ck_assert(last);
    ck_assert_int_eq(st.snapshot_read(st.data, 2, 0, buf, 6, &n, &last),
                     RAFT_ESNAPSHOT);
}
END_TEST

START_TEST(snapshot_read_of_replaced_snapshot_fails)
{
    ck_assert_int_eq(append_range(1, 5, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 2;
    meta.term = 1;
    meta.size = 2;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "aa"), 0);
    meta.index = 4;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "bb"), 0);
    char buf[4];
    size_t n;
    bool last;
    ck_assert_int_eq(st.snapshot_read(st.data, 2, 0, buf, 4, &n, &last),
                     RAFT_ESNAPSHOT);
    ck_assert_int_eq(st.snapshot_read(st.data, 4, 0, buf, 4, &n, &last), 0);
    ck_assert_mem_eq(buf, "bb", 2);
}
END_TEST

START_TEST(no_snapshot_read_fails)
{
    char buf[4];
    size_t n;
    bool last;
    ck_assert_int_eq(st.snapshot_read(st.data, 1, 0, buf, 4, &n, &last),
                     RAFT_ESNAPSHOT);
}
END_TEST

START_TEST(compact_beyond_snapshot_is_refused)
{
    ck_assert_int_eq(append_range(1, 6, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 3;
    meta.term = 1;
    meta.size = 1;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "s"), 0);
    ck_assert_int_lt(raft_memstore_compact(ms, 5), 0);
    ck_assert_uint_eq(st.first_index(st.data), 4);
    ck_assert_uint_eq(st.last_index(st.data), 6);
    /* Compacting up to the snapshot index is a no-op that succeeds. */
    ck_assert_int_eq(raft_memstore_compact(ms, 3), 0);
    ck_assert_uint_eq(st.first_index(st.data), 4);
    ck_assert_uint_eq(term_at(3), 1);
}
END_TEST

START_TEST(append_at_or_below_snapshot_is_rejected)
{
    ck_assert_int_eq(append_range(1, 4, 1), 0);
    struct raft_snapshot_meta meta;
    memset(&meta, 0, sizeof(meta));
    meta.index = 3;
    meta.term = 1;
    meta.size = 1;
    ck_assert_int_eq(raft_memstore_set_snapshot(ms, &meta, "s"), 0);
    ck_assert_int_eq(append_range(3, 5, 2), RAFT_EINVAL);
    ck_assert_uint_eq(st.last_index(st.data), 4);
    ck_assert_int_eq(append_range(4, 5, 2), 0);
    ck_assert_uint_eq(term_at(4), 2);
}
END_TEST

static Suite *memstore_suite(void)
{
    Suite *s = suite_create("raft_memstore");
    TCase *tc = tcase_create("memstore");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, empty_store_has_no_entries_and_zero_state);
    tcase_add_test(tc, hard_state_round_trips);
    tcase_add_test(tc, append_copies_entries_and_terms_are_readable);
    tcase_add_test(tc, append_cuts_conflicting_suffix);
    tcase_add_test(tc, append_with_gap_is_rejected);
    tcase_add_test(tc, append_first_entry_must_be_index_one);
    tcase_add_test(tc, entries_respect_max_bytes_but_return_at_least_one);
    tcase_add_test(tc, entries_out_of_range_report_compacted_or_unavailable);
    tcase_add_test(tc, snapshot_matching_log_keeps_the_tail);
    tcase_add_test(tc, snapshot_not_matching_log_drops_whole_log);
    tcase_add_test(tc, snapshot_beyond_log_end_drops_whole_log);
    tcase_add_test(tc, snapshot_read_returns_chunks_and_last_flag);
    tcase_add_test(tc, snapshot_read_of_replaced_snapshot_fails);
    tcase_add_test(tc, no_snapshot_read_fails);
    tcase_add_test(tc, compact_beyond_snapshot_is_refused);
    tcase_add_test(tc, append_at_or_below_snapshot_is_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(memstore_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
