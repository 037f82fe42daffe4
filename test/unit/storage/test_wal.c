/*
 * test_wal.c - the write-ahead log: round trips across reopen, suffix
 * truncation, segment rollover, torn tails, corruption, segment release,
 * and the two-buffer sync driven from a second thread.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/wal.h"

/* ---- fixtures ------------------------------------------------------- */

static char tmpdir[256];
static char waldir[300];

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_wal.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(waldir, sizeof waldir, "%s/wal", tmpdir);
}

static void teardown(void)
{
    rm_tree(tmpdir);
}

/* Sorted segment file names in waldir. */
static size_t list_segments(char names[][64], size_t cap)
{
    DIR *d = opendir(waldir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".wal") == 0) {
            ck_assert_uint_lt(n, cap);
            snprintf(names[n++], 64, "%.63s", de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
    return n;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void seg_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", waldir, name);
}

static struct wal *open_ok(uint64_t seg_bytes, struct wal_recovery *rec)
{
    struct wal_options o = {.segment_bytes = seg_bytes};
    struct wal *w = NULL;
    int rv = wal_open(waldir, &o, &w, rec);
    ck_assert_msg(rv == 0, "wal_open: %s (%s)", wal_strerror(rv), rec->msg);
    return w;
}

/* Entry i of term t carries "e<i>t<t>" padded to a length that varies. */
static void make_entry(struct raft_entry *e, uint8_t *buf, raft_index i,
                       raft_term t)
{
    size_t len = (size_t)(i * 7 % 50);
    int n = snprintf((char *)buf, 64, "e%" PRIu64 "t%" PRIu64, i, t);
    if ((size_t)n > len)
        len = (size_t)n;
    for (size_t k = (size_t)n; k < len; k++)
        buf[k] = (uint8_t)(i + k);
    *e = (struct raft_entry){.term = t,
                             .index = i,
                             .type = (uint32_t)(i % 2),
                             .len = (uint32_t)len,
                             .data = buf};
}

static void append_range(struct wal *w, raft_index lo, raft_index hi,
                         raft_term t)
{
    for (raft_index i = lo; i <= hi; i++) {
        uint8_t buf[64];
        struct raft_entry e;
        make_entry(&e, buf, i, t);
        ck_assert_int_eq(wal_append_entries(w, &e, 1), 0);
    }
}

/* rec holds exactly entries lo..hi, with entry i of term term_of(i). */
static void check_entries(const struct wal_recovery *rec, raft_index lo,
                          raft_index hi, raft_term (*term_of)(raft_index))
{
    ck_assert_uint_eq(rec->n_entries, hi >= lo ? hi - lo + 1 : 0);
    for (raft_index i = lo; i <= hi; i++) {
        const struct raft_entry *got = &rec->entries[i - lo];
        uint8_t buf[64];
        struct raft_entry want;
        make_entry(&want, buf, i, term_of(i));
        ck_assert_uint_eq(got->index, i);
        ck_assert_uint_eq(got->term, want.term);
        ck_assert_uint_eq(got->type, want.type);
        ck_assert_uint_eq(got->len, want.len);
        ck_assert_mem_eq(got->data, want.data, want.len);
    }
}

static raft_term term_one(raft_index i)
{
    (void)i;
    return 1;
}

/* ---- tests ---------------------------------------------------------- */

START_TEST(wal_opens_empty_dir_creating_it)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    ck_assert(!rec.has_hard_state);
    ck_assert_uint_eq(rec.snap_index, 0);
    ck_assert_uint_eq(rec.n_entries, 0);
    ck_assert(!rec.tail_cut);
    ck_assert_uint_eq(wal_segment_count(w), 1);
    ck_assert_int_eq(wal_sync(w), 0); /* nothing to do */
    wal_close(w);
    char names[4][64];
    ck_assert_uint_eq(list_segments(names, 4), 1);
    ck_assert_str_eq(names[0], "0000000000000001-0000000000000001.wal");
    /* Reopening the empty log finds it empty. */
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.n_entries, 0);
    ck_assert(!rec.has_hard_state);
    wal_close(w);
    wal_recovery_free(&rec);
}
END_TEST

START_TEST(wal_roundtrips_entries_and_hard_state_across_reopen)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 100, 1);
    struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 40};
    ck_assert_int_eq(wal_set_hard_state(w, &hs), 0);
    hs.commit = 90;
    ck_assert_int_eq(wal_set_hard_state(w, &hs), 0);
    ck_assert(wal_has_pending(w));
    ck_assert_int_eq(wal_sync(w), 0);
    ck_assert(!wal_has_pending(w));
    /* An empty entry (no-op) survives too. */
    struct raft_entry noop = {.term = 1, .index = 101};
    ck_assert_int_eq(wal_append_entries(w, &noop, 1), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    /* Buffered but never synced: lost, like a crash would lose it. */
    append_range(w, 102, 105, 1);
    wal_close(w);

    w = open_ok(0, &rec);
    ck_assert(rec.has_hard_state);
    ck_assert_uint_eq(rec.hs.term, 3);
    ck_assert_uint_eq(rec.hs.vote, 2);
    ck_assert_uint_eq(rec.hs.commit, 90);
    ck_assert_uint_eq(rec.n_entries, 101);
    ck_assert_uint_eq(rec.entries[100].index, 101);
    ck_assert_uint_eq(rec.entries[100].len, 0);
    ck_assert_ptr_null(rec.entries[100].data);
    rec.n_entries = 100;
    check_entries(&rec, 1, 100, term_one);
    rec.n_entries = 101;
    wal_recovery_free(&rec);

    /* Appending after reopen continues the same log. */
    append_range(w, 102, 110, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.n_entries, 110);
    ck_assert_uint_eq(rec.entries[109].index, 110);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

static raft_term term_suffix(raft_index i)
{
    return i >= 30 ? 2 : 1;
}

START_TEST(wal_later_append_at_lower_index_truncates_suffix)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 50, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    /* A new leader overwrites from 30 on with a shorter log. */
    append_range(w, 30, 40, 2);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    check_entries(&rec, 1, 40, term_suffix);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_rejects_bad_appends)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    uint8_t b1[64], b2[64];
    struct raft_entry e[2];
    make_entry(&e[0], b1, 5, 1);
    make_entry(&e[1], b2, 7, 1); /* not contiguous */
    ck_assert_int_eq(wal_append_entries(w, e, 2), WAL_EINVAL);
    e[0].index = 0;
    ck_assert_int_eq(wal_append_entries(w, e, 1), WAL_EINVAL);
    ck_assert_int_eq(wal_mark_snapshot(w, 0, 1), WAL_EINVAL);
    ck_assert(!wal_has_pending(w)); /* nothing half-buffered */
    /* A gap after the log's end would make the WAL unrecoverable. */
    make_entry(&e[0], b1, 2, 1);
    ck_assert_int_eq(wal_append_entries(w, e, 1), WAL_EINVAL);
    append_range(w, 1, 3, 1);
    make_entry(&e[0], b1, 5, 1);
    ck_assert_int_eq(wal_append_entries(w, e, 1), WAL_EINVAL);
    /* After a snapshot past the end, the log continues after it. */
    ck_assert_int_eq(wal_mark_snapshot(w, 10, 2), 0);
    make_entry(&e[0], b1, 11, 2);
    ck_assert_int_eq(wal_append_entries(w, e, 1), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    /* The check survives a reopen. */
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.snap_index, 10);
    ck_assert_uint_eq(rec.n_entries, 1);
    wal_recovery_free(&rec);
    make_entry(&e[0], b1, 13, 2);
    ck_assert_int_eq(wal_append_entries(w, e, 1), WAL_EINVAL);
    make_entry(&e[0], b1, 12, 2);
    ck_assert_int_eq(wal_append_entries(w, e, 1), 0);
    wal_close(w);
}
END_TEST

START_TEST(wal_rolls_over_segments_and_recovers_across_them)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(4096, &rec);
    struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    for (raft_index i = 1; i <= 2000; i += 50) {
        append_range(w, i, i + 49, 1);
        hs.commit = i;
        ck_assert_int_eq(wal_set_hard_state(w, &hs), 0);
        ck_assert_int_eq(wal_sync(w), 0);
    }
    size_t nseg = wal_segment_count(w);
    wal_close(w);
    ck_assert_uint_gt(nseg, 20);

    char names[512][64];
    size_t n = list_segments(names, 512);
    ck_assert_uint_eq(n, nseg);
    uint64_t prev_first = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq, first;
        ck_assert_int_eq(
            sscanf(names[i], "%16" SCNx64 "-%16" SCNx64, &seq, &first), 2);
        ck_assert_uint_eq(seq, i + 1);
        ck_assert_uint_ge(first, prev_first);
        prev_first = first;
        char p[600];
        seg_path(p, sizeof p, names[i]);
        /* Rollover happens at a record boundary past the limit: a segment
         * exceeds it by at most one record. */
        ck_assert_uint_le(file_size(p), 4096 + 100);
    }

    w = open_ok(4096, &rec);
    check_entries(&rec, 1, 2000, term_one);
    ck_assert_uint_eq(rec.hs.commit, 1951);
    ck_assert_uint_eq(rec.n_segments, nseg);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_record_larger_than_a_segment_gets_a_segment_of_its_own)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(1024, &rec);
    append_range(w, 1, 3, 1);
    static uint8_t big[10000];
    memset(big, 0xab, sizeof big);
    struct raft_entry e = {
        .term = 1, .index = 4, .len = sizeof big, .data = big};
    ck_assert_int_eq(wal_append_entries(w, &e, 1), 0);
    append_range(w, 5, 6, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(1024, &rec);
    ck_assert_uint_eq(rec.n_entries, 6);
    ck_assert_uint_eq(rec.entries[3].len, sizeof big);
    ck_assert_mem_eq(rec.entries[3].data, big, sizeof big);
    ck_assert_uint_eq(rec.entries[5].index, 6);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

/*
 * Writes entries 1..40 in 4 syncs into one segment, then for many cut
 * lengths from the end of the header to the full size: copy, truncate,
 * recover.  The result must be exactly the complete records before the cut.
 */
START_TEST(wal_torn_tail_recovers_to_last_complete_record)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    struct raft_hard_state hs = {.term = 7, .vote = 1, .commit = 0};
    for (raft_index i = 1; i <= 40; i += 10) {
        append_range(w, i, i + 9, 1);
        hs.commit = i + 9;
        ck_assert_int_eq(wal_set_hard_state(w, &hs), 0);
        ck_assert_int_eq(wal_sync(w), 0);
    }
    wal_close(w);
    char names[4][64];
    ck_assert_uint_eq(list_segments(names, 4), 1);
    char path[600];
    seg_path(path, sizeof path, names[0]);
    uint64_t full = file_size(path);
    uint8_t *img = malloc(full);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(img, 1, full, f), full);
    fclose(f);

    /* Record boundaries: 32-byte header, then 12-byte headers + bodies. */
    uint64_t ends[64] = {0};
    size_t n_ends = 0;
    for (uint64_t off = 32; off < full;) {
        uint32_t len = (uint32_t)img[off] | (uint32_t)img[off + 1] << 8 |
                       (uint32_t)img[off + 2] << 16 |
                       (uint32_t)img[off + 3] << 24;
        off += 12 + len;
        ends[n_ends++] = off;
    }
    ck_assert_uint_eq(n_ends, 44); /* 40 entries + 4 hard states */

    /* Every offset through the first and the last two records (each cut
     * costs an fsync), every 13th in between. */
    for (uint64_t cut = 32; cut <= full;
         cut += cut < ends[0] || cut >= ends[n_ends - 3] ? 1 : 13) {
        /* The complete records before the cut. */
        size_t complete = 0;
        while (complete < n_ends && ends[complete] <= cut)
            complete++;
        f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(img, 1, cut, f), cut);
        fclose(f);
        w = open_ok(0, &rec);
        /* Every 11th record is a hard state. */
        size_t want_entries = complete - complete / 11;
        ck_assert_uint_eq(rec.n_entries, want_entries);
        ck_assert_uint_eq(rec.has_hard_state, complete >= 11);
        if (complete >= 11)
            ck_assert_uint_eq(rec.hs.commit, (complete / 11) * 10);
        bool on_boundary =
            cut == 32 || (complete > 0 && ends[complete - 1] == cut);
        ck_assert_uint_eq(rec.tail_cut, !on_boundary);
        if (!on_boundary)
            ck_assert_ptr_nonnull(strstr(rec.msg, "torn tail"));
        wal_recovery_free(&rec);
        wal_close(w);
        /* The cut is durable: the file now ends at the last good record. */
        ck_assert_uint_eq(file_size(path),
                          complete > 0 ? ends[complete - 1] : 32);
    }
    free(img);
}
END_TEST

START_TEST(wal_append_after_cut_tail_is_recovered)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 10, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char names[4][64], path[600];
    list_segments(names, 4);
    seg_path(path, sizeof path, names[0]);
    ck_assert_int_eq(truncate(path, (off_t)file_size(path) - 5), 0);
    w = open_ok(0, &rec);
    ck_assert(rec.tail_cut);
    ck_assert_uint_eq(rec.n_entries, 9);
    wal_recovery_free(&rec);
    append_range(w, 10, 12, 2);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    ck_assert(!rec.tail_cut);
    ck_assert_uint_eq(rec.n_entries, 12);
    ck_assert_uint_eq(rec.entries[11].term, 2);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

static int log_calls;
static void count_log(void *data, const char *msg)
{
    (void)data;
    ck_assert_ptr_nonnull(strstr(msg, "torn tail"));
    log_calls++;
}

START_TEST(wal_bad_crc_in_last_record_is_cut)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 10, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char names[4][64], path[600];
    list_segments(names, 4);
    seg_path(path, sizeof path, names[0]);
    uint64_t size = file_size(path);
    flip_byte(path, size - 2); /* inside entry 10's data */

    struct wal_options o = {.log = count_log};
    log_calls = 0;
    ck_assert_int_eq(wal_open(waldir, &o, &w, &rec), 0);
    ck_assert_int_eq(log_calls, 1);
    ck_assert(rec.tail_cut);
    check_entries(&rec, 1, 9, term_one);
    ck_assert_uint_lt(file_size(path), size);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_bad_crc_in_middle_is_corrupt)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 10, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char names[4][64], path[600];
    list_segments(names, 4);
    seg_path(path, sizeof path, names[0]);
    uint64_t size = file_size(path);
    /* Entry 1's record starts at 32; damage its body. */
    flip_byte(path, 32 + 12 + 3);
    ck_assert_int_eq(wal_open(waldir, NULL, &w, &rec), WAL_ECORRUPT);
    ck_assert_ptr_null(w);
    ck_assert_ptr_nonnull(strstr(rec.msg, names[0]));
    ck_assert_ptr_nonnull(strstr(rec.msg, "offset 32"));
    /* Nothing was cut: the evidence stays for a person to look at. */
    ck_assert_uint_eq(file_size(path), size);
    /* Damage to a record's length field is corruption too. */
    flip_byte(path, 32 + 12 + 3);
    flip_byte(path, 32 + 1);
    ck_assert_int_eq(wal_open(waldir, NULL, &w, &rec), WAL_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rec.msg, "offset 32"));
}
END_TEST

START_TEST(wal_bad_record_in_earlier_segment_is_corrupt)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(1024, &rec);
    append_range(w, 1, 200, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char names[64][64], path[600];
    size_t n = list_segments(names, 64);
    ck_assert_uint_gt(n, 3);
    /* Damage the last record of the second segment: in the last segment
     * that would be a torn tail, here it is corruption. */
    seg_path(path, sizeof path, names[1]);
    flip_byte(path, file_size(path) - 1);
    ck_assert_int_eq(wal_open(waldir, NULL, &w, &rec), WAL_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rec.msg, names[1]));
    ck_assert_ptr_nonnull(strstr(rec.msg, "not the last"));
}
END_TEST

START_TEST(wal_missing_segment_or_bad_header_is_corrupt)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(1024, &rec);
    append_range(w, 1, 200, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char names[64][64], path[600];
    size_t n = list_segments(names, 64);
    ck_assert_uint_gt(n, 3);
    seg_path(path, sizeof path, names[n - 1]);
    flip_byte(path, 9); /* header's seq */
    ck_assert_int_eq(wal_open(waldir, NULL, &w, &rec), WAL_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rec.msg, "header"));
    flip_byte(path, 9);
    seg_path(path, sizeof path, names[1]);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(wal_open(waldir, NULL, &w, &rec), WAL_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(rec.msg, "missing"));
}
END_TEST

START_TEST(wal_temp_segment_from_crash_is_removed)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 5, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/0000000000000002-0000000000000006.wal.tmp",
             waldir);
    FILE *f = fopen(tmp, "wb");
    fputs("half a segment", f);
    fclose(f);
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.n_entries, 5);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

static raft_term term_snap(raft_index i)
{
    return i > 300 ? 2 : 1;
}

START_TEST(wal_release_before_deletes_old_segments_and_keeps_state)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(2048, &rec);
    struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = 0};
    ck_assert_int_eq(wal_set_hard_state(w, &hs), 0); /* only once, early */
    append_range(w, 1, 300, 1);
    ck_assert_int_eq(wal_sync(w), 0);
    size_t before = wal_segment_count(w);
    ck_assert_uint_gt(before, 5);

    /* Nothing may go before a snapshot marker is durable. */
    ck_assert_int_eq(wal_release_before(w, 100, NULL), WAL_EINVAL);
    ck_assert_int_eq(wal_mark_snapshot(w, 250, 1), 0);
    ck_assert_int_eq(wal_release_before(w, 250, NULL), WAL_EINVAL);
    ck_assert_int_eq(wal_sync(w), 0);
    size_t deleted = 0;
    ck_assert_int_eq(wal_release_before(w, 250, &deleted), 0);
    ck_assert_uint_gt(deleted, 2);
    ck_assert_uint_eq(wal_segment_count(w), before - deleted);
    append_range(w, 301, 320, 2);
    ck_assert_int_eq(wal_sync(w), 0);
    size_t kept = wal_segment_count(w);
    wal_close(w);

    char names[64][64];
    ck_assert_uint_eq(list_segments(names, 64), kept);
    ck_assert_ptr_null(strstr(names[0], "0000000000000001-"));
    w = open_ok(2048, &rec);
    /* The hard state written once at the start survives the deletion of
     * the segment that held it, and so does the marker. */
    ck_assert(rec.has_hard_state);
    ck_assert_uint_eq(rec.hs.term, 1);
    ck_assert_uint_eq(rec.hs.vote, 1);
    ck_assert_uint_eq(rec.snap_index, 250);
    ck_assert_uint_eq(rec.snap_term, 1);
    check_entries(&rec, 251, 320, term_snap);
    wal_recovery_free(&rec);

    /* A second snapshot and release: everything up to it goes, the current
     * segment stays, and recovery still has the state. */
    ck_assert_int_eq(wal_mark_snapshot(w, 320, 2), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    ck_assert_int_eq(wal_release_before(w, 320, &deleted), 0);
    ck_assert_uint_ge(wal_segment_count(w), 1);
    wal_close(w);
    w = open_ok(2048, &rec);
    ck_assert(rec.has_hard_state);
    ck_assert_uint_eq(rec.snap_index, 320);
    ck_assert_uint_eq(rec.n_entries, 0);
    wal_recovery_free(&rec);
    append_range(w, 321, 322, 2);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(2048, &rec);
    check_entries(&rec, 321, 322, term_snap);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_snapshot_marker_drops_covered_or_conflicting_entries)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 20, 1);
    /* Local snapshot at 10 (term matches): entries 11.. stay. */
    ck_assert_int_eq(wal_mark_snapshot(w, 10, 1), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.snap_index, 10);
    check_entries(&rec, 11, 20, term_one);
    wal_recovery_free(&rec);

    /* A leader's snapshot at 15 of another term: the log conflicts and is
     * dropped; entries from 16 come from the new leader. */
    ck_assert_int_eq(wal_mark_snapshot(w, 15, 3), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.snap_index, 15);
    ck_assert_uint_eq(rec.snap_term, 3);
    ck_assert_uint_eq(rec.n_entries, 0);
    wal_recovery_free(&rec);

    /* A snapshot past the end of the log drops the whole log. */
    append_range(w, 16, 18, 3);
    ck_assert_int_eq(wal_mark_snapshot(w, 30, 4), 0);
    append_range(w, 31, 32, 4);
    ck_assert_int_eq(wal_sync(w), 0);
    wal_close(w);
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.snap_index, 30);
    ck_assert_uint_eq(rec.n_entries, 2);
    ck_assert_uint_eq(rec.entries[0].index, 31);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

/* ---- two-buffer sync from a second thread ---------------------------- */

struct syncer {
    struct wal *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 idle, 1 work queued, 2 done, 3 quit */
    int result;
};

static void *syncer_main(void *arg)
{
    struct syncer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->state == 0 || s->state == 2)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->state == 3)
            break;
        pthread_mutex_unlock(&s->mu);
        int rv = wal_sync_prepared(s->w); /* no lock held: real overlap */
        pthread_mutex_lock(&s->mu);
        s->result = rv;
        s->state = 2;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

START_TEST(wal_syncs_on_second_thread_while_first_keeps_appending)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(8192, &rec);
    struct syncer s = {.w = w};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, syncer_main, &s), 0);

    raft_index next = 1;
    int syncs = 0, overlapped = 0;
    struct raft_hard_state hs = {.term = 5, .vote = 1};
    while (next <= 3000) {
        /* Loop thread: buffer a few entries, whatever the worker does. */
        append_range(w, next, next + 2, 5);
        next += 3;
        hs.commit = next - 1;
        ck_assert_int_eq(wal_set_hard_state(w, &hs), 0);

        pthread_mutex_lock(&s.mu);
        /* Back-pressure, as a server would apply: with a big batch waiting,
         * wait for the sync in flight instead of buffering more. */
        while (s.state == 1 && wal_buffered_bytes(w) > 16 * 1024)
            pthread_cond_wait(&s.cv, &s.mu);
        int st = s.state;
        pthread_mutex_unlock(&s.mu);
        if (st == 1) {
            overlapped++; /* appended while a sync was running */
            ck_assert_int_eq(wal_prepare_sync(w), WAL_EBUSY);
            continue;
        }
        if (st == 2) {
            ck_assert_int_eq(wal_sync_done(w), 0);
            ck_assert_int_eq(s.result, 0);
            syncs++;
        }
        int p = wal_prepare_sync(w);
        ck_assert_int_eq(p, 1);
        pthread_mutex_lock(&s.mu);
        s.state = 1;
        pthread_cond_broadcast(&s.cv);
        pthread_mutex_unlock(&s.mu);
    }
    /* Drain: wait for the one in flight, then sync the rest. */
    pthread_mutex_lock(&s.mu);
    while (s.state == 1)
        pthread_cond_wait(&s.cv, &s.mu);
    int had_flight = s.state == 2;
    s.state = 3;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    pthread_join(th, NULL);
    if (had_flight)
        ck_assert_int_eq(wal_sync_done(w), 0);
    ck_assert_int_eq(wal_sync(w), 0);
    ck_assert_uint_gt(wal_segment_count(w), 3);
    wal_close(w);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    ck_assert_int_gt(syncs, 5);
    (void)overlapped; /* depends on scheduling; not asserted */

    w = open_ok(8192, &rec);
    ck_assert_uint_eq(rec.n_entries, next - 1);
    for (size_t i = 0; i < rec.n_entries; i++) {
        ck_assert_uint_eq(rec.entries[i].index, i + 1);
        ck_assert_uint_eq(rec.entries[i].term, 5);
    }
    ck_assert_uint_eq(rec.hs.commit, next - 1);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_prepare_sync_is_busy_while_a_sync_is_in_flight)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    ck_assert_int_eq(wal_prepare_sync(w), 0); /* nothing buffered */
    append_range(w, 1, 3, 1);
    ck_assert_int_eq(wal_prepare_sync(w), 1);
    ck_assert(!wal_has_pending(w)); /* taken: the active buffer is fresh */
    append_range(w, 4, 5, 1);       /* goes to the other buffer */
    ck_assert_int_eq(wal_prepare_sync(w), WAL_EBUSY);
    ck_assert_int_eq(wal_release_before(w, 0, NULL), WAL_EBUSY);
    ck_assert_int_eq(wal_sync_prepared(w), 0);
    ck_assert_int_eq(wal_sync_done(w), 0);
    ck_assert(wal_has_pending(w));
    wal_close(w); /* 4 and 5 were never synced */
    w = open_ok(0, &rec);
    ck_assert_uint_eq(rec.n_entries, 3);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

/*
 * Damage at seeded random places never crashes recovery and never yields
 * wrong data: the result is WAL_ECORRUPT, or a correct prefix of the log.
 */
START_TEST(wal_random_damage_gives_corrupt_or_a_correct_prefix)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    for (raft_index i = 1; i <= 60; i += 20) {
        append_range(w, i, i + 19, 1);
        ck_assert_int_eq(wal_sync(w), 0);
    }
    wal_close(w);
    char names[4][64], path[600];
    ck_assert_uint_eq(list_segments(names, 4), 1);
    seg_path(path, sizeof path, names[0]);
    uint64_t full = file_size(path);
    uint8_t *img = malloc(full);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(img, 1, full, f), full);
    fclose(f);
    uint8_t *copy = malloc(full);
    uint64_t x = 0x9e3779b97f4a7c15u;
    int corrupt = 0, prefix = 0;
    for (int round = 0; round < 120; round++) {
        memcpy(copy, img, full);
        int flips = 1 + round % 3;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            copy[x % full] ^= (uint8_t)(1 + (x >> 32) % 255);
        }
        f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(copy, 1, full, f), full);
        fclose(f);
        int rv = wal_open(waldir, NULL, &w, &rec);
        ck_assert_msg(rv == 0 || rv == WAL_ECORRUPT, "round %d: %s", round,
                      wal_strerror(rv));
        if (rv == 0) {
            prefix++;
            check_entries(&rec, 1, rec.n_entries, term_one);
            wal_recovery_free(&rec);
            wal_close(w);
        } else {
            corrupt++;
        }
    }
    ck_assert_int_gt(corrupt, 0);
    ck_assert_int_gt(prefix, 0);
    free(copy);
    free(img);
}
END_TEST

START_TEST(wal_directory_is_locked_while_open)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    struct wal *w2 = NULL;
    ck_assert_int_eq(wal_open(waldir, NULL, &w2, &rec), WAL_ELOCKED);
    ck_assert_ptr_null(w2);
    wal_close(w);
    w = open_ok(0, &rec);
    wal_close(w);
}
END_TEST

/*
 * A write that fails (here: the file size limit, as a full disk would)
 * poisons the WAL: the sync reports it, nothing more is accepted, and a
 * reopen recovers what fully reached the disk.
 */
START_TEST(wal_failed_write_poisons_until_reopen)
{
    struct wal_recovery rec;
    struct wal *w = open_ok(0, &rec);
    append_range(w, 1, 10, 1);
    ck_assert_int_eq(wal_sync(w), 0);

    append_range(w, 11, 400, 1);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    /* No ck_assert while the limit holds: Check writes its own file. */
    int set = setrlimit(RLIMIT_FSIZE, &lim);
    int rv = wal_sync(w);
    int restored = setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(set, 0);
    ck_assert_int_eq(restored, 0);
    ck_assert_int_eq(rv, -EFBIG);
    ck_assert_int_eq(
        wal_append_entries(w, &(struct raft_entry){.term = 1, .index = 401}, 1),
        WAL_EFAILED);
    struct raft_hard_state hs = {.term = 1};
    ck_assert_int_eq(wal_set_hard_state(w, &hs), WAL_EFAILED);
    ck_assert_int_eq(wal_prepare_sync(w), WAL_EFAILED);
    ck_assert_int_eq(wal_release_before(w, 0, NULL), WAL_EFAILED);
    wal_close(w);

    w = open_ok(0, &rec);
    /* The first 10 were synced; of the failed batch, whatever complete
     * records fit under the limit may be there, in order. */
    ck_assert_uint_ge(rec.n_entries, 10);
    ck_assert_uint_lt(rec.n_entries, 400);
    for (size_t i = 0; i < rec.n_entries; i++)
        ck_assert_uint_eq(rec.entries[i].index, i + 1);
    wal_recovery_free(&rec);
    wal_close(w);
}
END_TEST

START_TEST(wal_strerror_names_codes_and_errno)
{
    ck_assert_str_eq(wal_strerror(WAL_ECORRUPT),
                     "write-ahead log or snapshot file is corrupt");
    ck_assert_str_eq(wal_strerror(-2), strerror(2));
    ck_assert_str_eq(wal_strerror(-999999), "unknown error");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wal_opens_empty_dir_creating_it);
    tcase_add_test(tc, wal_roundtrips_entries_and_hard_state_across_reopen);
    tcase_add_test(tc, wal_later_append_at_lower_index_truncates_suffix);
    tcase_add_test(tc, wal_rejects_bad_appends);
    tcase_add_test(tc, wal_rolls_over_segments_and_recovers_across_them);
    tcase_add_test(tc,
                   wal_record_larger_than_a_segment_gets_a_segment_of_its_own);
    tcase_add_test(tc, wal_torn_tail_recovers_to_last_complete_record);
    tcase_add_test(tc, wal_append_after_cut_tail_is_recovered);
    tcase_add_test(tc, wal_bad_crc_in_last_record_is_cut);
    tcase_add_test(tc, wal_bad_crc_in_middle_is_corrupt);
    tcase_add_test(tc, wal_bad_record_in_earlier_segment_is_corrupt);
    tcase_add_test(tc, wal_missing_segment_or_bad_header_is_corrupt);
    tcase_add_test(tc, wal_temp_segment_from_crash_is_removed);
    tcase_add_test(tc, wal_release_before_deletes_old_segments_and_keeps_state);
    tcase_add_test(tc,
                   wal_snapshot_marker_drops_covered_or_conflicting_entries);
    tcase_add_test(tc, wal_syncs_on_second_thread_while_first_keeps_appending);
    tcase_add_test(tc, wal_prepare_sync_is_busy_while_a_sync_is_in_flight);
    tcase_add_test(tc, wal_random_damage_gives_corrupt_or_a_correct_prefix);
    tcase_add_test(tc, wal_directory_is_locked_while_open);
    tcase_add_test(tc, wal_failed_write_poisons_until_reopen);
    tcase_add_test(tc, wal_strerror_names_codes_and_errno);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
