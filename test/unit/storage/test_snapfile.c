/*
 * test_snapfile.c - snapshot files: chunked write, atomic commit, read by
 * offset, newest selection, corruption detection, crash leftovers, cleanup.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/snapfile.h"

static char dir[256];

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/test_snapfile.XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static size_t count_files(const char *suffix)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0, sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static uint8_t pattern(uint64_t i)
{
    return (uint8_t)(i * 2654435761u >> 13);
}

static struct raft_conf three_nodes(void)
{
    struct raft_conf c = {.n = 3};
    c.members[0] = (struct raft_member){.id = 1};
    c.members[1] = (struct raft_member){.id = 2};
    c.members[2] = (struct raft_member){.id = 7, .learner = true};
    return c;
}

/* Writes snapshot (index, term) with `size` pattern bytes in odd chunks. */
static void write_snapshot(raft_index index, raft_term term, uint64_t size)
{
    struct snapfile_writer *sw;
    ck_assert_int_eq(snapfile_writer_open(dir, index, term, &sw), 0);
    uint8_t chunk[1000];
    uint64_t off = 0;
    while (off < size) {
        size_t n = (size_t)(off % 997) + 1;
        if (n > size - off)
            n = (size_t)(size - off);
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(off + i);
        ck_assert_int_eq(snapfile_writer_write(sw, chunk, n), 0);
        off += n;
        ck_assert_uint_eq(snapfile_writer_size(sw), off);
    }
    struct raft_conf c = three_nodes();
    ck_assert_int_eq(snapfile_writer_commit(sw, &c, "rev=42", 6, NULL), 0);
}

static void path_of_snap(char *out, size_t cap, raft_index index,
                         raft_term term)
{
    snprintf(out, cap, "%s/%016llx-%016llx.snap", dir,
             (unsigned long long)index, (unsigned long long)term);
}

START_TEST(snapfile_roundtrips_data_and_meta_in_chunks)
{
    write_snapshot(100, 3, 300000);
    ck_assert_uint_eq(count_files(".tmp"), 0);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    ck_assert_uint_eq(m.raft.index, 100);
    ck_assert_uint_eq(m.raft.term, 3);
    ck_assert_uint_eq(m.raft.size, 300000);
    ck_assert_uint_eq(m.raft.conf.n, 3);
    ck_assert_uint_eq(m.raft.conf.members[2].id, 7);
    ck_assert(m.raft.conf.members[2].learner);
    ck_assert(!m.raft.conf.members[0].learner);
    ck_assert_uint_eq(m.app_len, 6);
    ck_assert_mem_eq(m.app, "rev=42", 6);
    ck_assert_uint_eq(snapfile_reader_meta(sr)->data_crc32c, m.data_crc32c);

    /* Read it back in chunks of several sizes, as a sender would. */
    static uint8_t buf[70000], want[70000];
    size_t caps[] = {1, 4096, 65536, 70000};
    for (size_t k = 0; k < 4; k++) {
        uint64_t off = k == 0 ? 299990 : 0; /* 1-byte reads: just the end */
        for (;;) {
            size_t n;
            ck_assert_int_eq(snapfile_read(sr, off, buf, caps[k], &n), 0);
            if (n == 0)
                break;
            for (size_t i = 0; i < n; i++)
                want[i] = pattern(off + i);
            ck_assert(memcmp(buf, want, n) == 0);
            off += n;
        }
        ck_assert_uint_eq(off, 300000);
    }
    size_t n = 1;
    ck_assert_int_eq(snapfile_read(sr, 300000, buf, 10, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(snapfile_read(sr, 300001, buf, 10, &n), WAL_EINVAL);
    snapfile_close(sr);
}
END_TEST

START_TEST(snapfile_empty_snapshot_roundtrips)
{
    write_snapshot(1, 1, 0);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    ck_assert_uint_eq(m.raft.size, 0);
    uint8_t b[4];
    size_t n = 9;
    ck_assert_int_eq(snapfile_read(sr, 0, b, sizeof b, &n), 0);
    ck_assert_uint_eq(n, 0);
    snapfile_close(sr);
}
END_TEST

START_TEST(snapfile_dir_without_snapshot_reports_none)
{
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0),
                     WAL_ENOSNAPSHOT);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    ck_assert_int_eq(snapfile_open_newest(missing, &sr, &m, NULL, 0),
                     WAL_ENOSNAPSHOT);
    ck_assert_ptr_null(sr);
}
END_TEST

START_TEST(snapfile_open_newest_picks_highest_index_then_term)
{
    write_snapshot(50, 2, 100);
    write_snapshot(200, 4, 100);
    write_snapshot(200, 5, 100);
    write_snapshot(150, 9, 100);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    ck_assert_uint_eq(m.raft.index, 200);
    ck_assert_uint_eq(m.raft.term, 5);
    snapfile_close(sr);
}
END_TEST

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t b;
    ck_assert_int_eq(pread(fd, &b, 1, off), 1);
    b ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

START_TEST(snapfile_corrupt_data_is_detected)
{
    write_snapshot(10, 1, 5000);
    char p[400];
    path_of_snap(p, sizeof p, 10, 1);
    flip_byte(p, 4321);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    char msg[512];
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, msg, sizeof msg),
                     WAL_ECORRUPT);
    ck_assert_ptr_null(sr);
    ck_assert_ptr_nonnull(strstr(msg, "000000000000000a-0000000000000001"));
    ck_assert_ptr_nonnull(strstr(msg, "corrupt"));
}
END_TEST

START_TEST(snapfile_newest_corrupt_is_not_replaced_by_an_older_one)
{
    write_snapshot(10, 1, 100);
    write_snapshot(20, 1, 100);
    char p[400];
    path_of_snap(p, sizeof p, 20, 1);
    flip_byte(p, 5);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), WAL_ECORRUPT);
}
END_TEST

START_TEST(snapfile_damaged_or_truncated_trailer_is_detected)
{
    write_snapshot(10, 1, 1000);
    char p[400];
    path_of_snap(p, sizeof p, 10, 1);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    /* Every byte of the metadata and trailer is covered. */
    for (off_t off = 1000; off < st.st_size; off++) {
        flip_byte(p, off);
        ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0),
                         WAL_ECORRUPT);
        flip_byte(p, off);
    }
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    snapfile_close(sr);
    /* A file cut short anywhere is caught too. */
    for (off_t len = 0; len < st.st_size; len += 37) {
        ck_assert_int_eq(truncate(p, len), 0);
        ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0),
                         WAL_ECORRUPT);
    }
}
END_TEST

START_TEST(snapfile_name_not_matching_meta_is_corrupt)
{
    write_snapshot(10, 1, 100);
    char from[400], to[400];
    path_of_snap(from, sizeof from, 10, 1);
    path_of_snap(to, sizeof to, 11, 1);
    ck_assert_int_eq(rename(from, to), 0);
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), WAL_ECORRUPT);
}
END_TEST

START_TEST(snapfile_temp_file_from_crash_is_ignored_and_cleaned)
{
    write_snapshot(10, 1, 100);
    /* A crash while writing snapshot 20: its .tmp has data, no trailer. */
    struct snapfile_writer *sw;
    ck_assert_int_eq(snapfile_writer_open(dir, 20, 2, &sw), 0);
    ck_assert_int_eq(snapfile_writer_write(sw, "partial", 7), 0);
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s/%016x-%016x.snap.tmp", dir, 20, 2);
    ck_assert_int_eq(access(tmp, F_OK), 0);
    /* "Crash": keep the file but drop the writer (copy it aside, abort,
     * put it back). */
    char keep[400];
    snprintf(keep, sizeof keep, "%s/keep", dir);
    ck_assert_int_eq(link(tmp, keep), 0);
    snapfile_writer_abort(sw);
    ck_assert_int_ne(access(tmp, F_OK), 0);
    ck_assert_int_eq(rename(keep, tmp), 0);

    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    ck_assert_uint_eq(m.raft.index, 10);
    snapfile_close(sr);
    size_t n = 0;
    ck_assert_int_eq(snapfile_remove_temp(dir, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(count_files(".tmp"), 0);
    ck_assert_uint_eq(count_files(".snap"), 1);
}
END_TEST

START_TEST(snapfile_remove_older_keeps_the_newest)
{
    for (raft_index i = 1; i <= 5; i++)
        write_snapshot(i * 10, 1, 10);
    size_t n = 0;
    ck_assert_int_eq(snapfile_remove_older(dir, 0, &n), WAL_EINVAL);
    /* A reader of an old one keeps reading after the unlink. */
    struct snapfile_reader *sr;
    struct snapfile_meta m;
    ck_assert_int_eq(snapfile_open_newest(dir, &sr, &m, NULL, 0), 0);
    ck_assert_int_eq(snapfile_remove_older(dir, 2, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(count_files(".snap"), 2);
    char p[400];
    path_of_snap(p, sizeof p, 50, 1);
    ck_assert_int_eq(access(p, F_OK), 0);
    path_of_snap(p, sizeof p, 40, 1);
    ck_assert_int_eq(access(p, F_OK), 0);
    ck_assert_int_eq(snapfile_remove_older(dir, 1, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_ne(access(p, F_OK), 0);
    ck_assert_int_eq(snapfile_remove_older(dir, 1, &n), 0);
    ck_assert_uint_eq(n, 0);
    snapfile_close(sr);
}
END_TEST

START_TEST(snapfile_abort_and_bad_commit_leave_nothing)
{
    struct snapfile_writer *sw;
    ck_assert_int_eq(snapfile_writer_open(dir, 5, 1, &sw), 0);
    ck_assert_int_eq(snapfile_writer_write(sw, "abc", 3), 0);
    snapfile_writer_abort(sw);
    ck_assert_int_eq(snapfile_writer_open(dir, 6, 1, &sw), 0);
    struct raft_conf c = {.n = RAFT_MAX_MEMBERS + 1};
    ck_assert_int_eq(snapfile_writer_commit(sw, &c, NULL, 0, NULL), WAL_EINVAL);
    ck_assert_uint_eq(count_files(".tmp"), 0);
    ck_assert_uint_eq(count_files(".snap"), 0);
    ck_assert_int_eq(snapfile_writer_open(dir, 0, 1, &sw), WAL_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("snapfile");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* fsync-bound on slow disks, not timing */
    tcase_add_test(tc, snapfile_roundtrips_data_and_meta_in_chunks);
    tcase_add_test(tc, snapfile_empty_snapshot_roundtrips);
    tcase_add_test(tc, snapfile_dir_without_snapshot_reports_none);
    tcase_add_test(tc, snapfile_open_newest_picks_highest_index_then_term);
    tcase_add_test(tc, snapfile_corrupt_data_is_detected);
    tcase_add_test(tc, snapfile_newest_corrupt_is_not_replaced_by_an_older_one);
    tcase_add_test(tc, snapfile_damaged_or_truncated_trailer_is_detected);
    tcase_add_test(tc, snapfile_name_not_matching_meta_is_corrupt);
    tcase_add_test(tc, snapfile_temp_file_from_crash_is_ignored_and_cleaned);
    tcase_add_test(tc, snapfile_remove_older_keeps_the_newest);
    tcase_add_test(tc, snapfile_abort_and_bad_commit_leave_nothing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
