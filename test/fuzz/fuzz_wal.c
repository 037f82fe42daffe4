/*
 * fuzz_wal.c - libFuzzer target for WAL recovery (storage/wal.c): the input
 * is written as segment files into a scratch directory and wal_open() must
 * recover them without crashing, returning either an error or a consistent
 * log.
 *
 * Input layout: byte 0 bit 0 set: the rest is split into two segments at
 * the offset in bytes 1-2 (so the "bad record in an earlier segment" and
 * rollover paths are reached); else the rest is one segment.
 *
 * Checks when wal_open() succeeds:
 *   - entries are contiguous from snap_index + 1, data is non-NULL exactly
 *     when len > 0, and the hard state's commit is what was recorded;
 *   - recovery is stable: closing and opening again succeeds, cuts nothing
 *     more, and gives the same hard state, marker and entries (a torn tail
 *     cut by the first open is gone from the disk).
 * An error must be a WAL_E* code or -errno with rec.msg set.
 * The scratch directory lives in /dev/shm when it exists (fsync is cheap
 * there) and is removed at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/wal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void fuzz_die(const char *what, long long a, long long b)
{
    fprintf(stderr, "fuzz_wal: %s (%lld, %lld)\n", what, a, b);
    abort();
}

static void fuzz_clear_dir(void)
{
    DIR *d = opendir(fuzz_dir);
    struct dirent *e;
    char path[384];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void fuzz_cleanup(void)
{
    fuzz_clear_dir();
    rmdir(fuzz_dir);
}

static void fuzz_setup(void)
{
    if (fuzz_dir[0] != '\0')
        return;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/fuzz-wal-XXXXXX", base);
    if (mkdtemp(fuzz_dir) == NULL)
        fuzz_die("mkdtemp failed", errno, 0);
    atexit(fuzz_cleanup);
}

/* Writes a segment named by its sequence number and by the first index its
 * own header claims (little-endian at offset 16, as storage/wal.c writes
 * it), so that a mutated segment gets past the name check and into the
 * records; a segment too short for a header is named with first index 1. */
static void fuzz_write_segment(uint64_t seq, const uint8_t *p, size_t len)
{
    char path[384];
    uint64_t first = 1;
    if (len >= 24) {
        first = 0;
        for (int i = 7; i >= 0; i--)
            first = first << 8 | p[16 + i];
    }
    snprintf(path, sizeof path, "%s/%016llx-%016llx.wal", fuzz_dir,
             (unsigned long long)seq, (unsigned long long)first);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        fuzz_die("cannot create a segment", errno, 0);
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            fuzz_die("cannot write a segment", errno, 0);
        p += w;
        len -= (size_t)w;
    }
    close(fd);
}

static void fuzz_check_consistent(const struct wal_recovery *rec)
{
    for (size_t i = 0; i < rec->n_entries; i++) {
        const struct raft_entry *e = &rec->entries[i];
        if (e->index != rec->snap_index + 1 + i)
            fuzz_die("recovered entries are not contiguous",
                     (long long)e->index, (long long)(rec->snap_index + 1 + i));
        if ((e->len > 0) != (e->data != NULL))
            fuzz_die("entry data pointer does not match its length",
                     (long long)e->index, (long long)e->len);
        if (e->len > 0) {
            /* Touch the data: ASan reports a short allocation. */
            volatile uint8_t sink = e->data[0] ^ e->data[e->len - 1];
            (void)sink;
        }
    }
}

static void fuzz_check_same(const struct wal_recovery *a,
                            const struct wal_recovery *b)
{
    if (a->has_hard_state != b->has_hard_state ||
        (a->has_hard_state &&
         (a->hs.term != b->hs.term || a->hs.vote != b->hs.vote ||
          a->hs.commit != b->hs.commit)))
        fuzz_die("reopening recovered another hard state", 0, 0);
    if (a->snap_index != b->snap_index || a->snap_term != b->snap_term)
        fuzz_die("reopening recovered another snapshot marker",
                 (long long)a->snap_index, (long long)b->snap_index);
    if (a->n_entries != b->n_entries)
        fuzz_die("reopening recovered another number of entries",
                 (long long)a->n_entries, (long long)b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->index != y->index || x->term != y->term || x->type != y->type ||
            x->len != y->len ||
            (x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
            fuzz_die("reopening recovered another entry", (long long)x->index,
                     (long long)i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    fuzz_setup();
    fuzz_clear_dir();
    const uint8_t *body = data + 3;
    size_t len = size - 3;
    if (data[0] & 1) {
        size_t cut = ((size_t)data[1] << 8 | data[2]) % (len + 1);
        fuzz_write_segment(1, body, cut);
        fuzz_write_segment(2, body + cut, len - cut);
    } else {
        fuzz_write_segment(1, body, len);
    }

    struct wal_options opts;
    memset(&opts, 0, sizeof opts);
    opts.segment_bytes = 512;
    struct wal *w = NULL;
    struct wal_recovery rec;
    memset(&rec, 0, sizeof rec);
    int rc = wal_open(fuzz_dir, &opts, &w, &rec);
    if (rc != 0) {
        if (rc > 0 || w != NULL)
            fuzz_die("wal_open failed but returned a WAL or a positive code",
                     rc, 0);
        if (rec.msg[0] == '\0' && rc == WAL_ECORRUPT)
            fuzz_die("corruption reported without a message", rc, 0);
        wal_recovery_free(&rec);
        return 0;
    }
    fuzz_check_consistent(&rec);
    wal_close(w);

    struct wal_recovery again;
    memset(&again, 0, sizeof again);
    rc = wal_open(fuzz_dir, &opts, &w, &again);
    if (rc != 0)
        fuzz_die("a WAL that opened once does not open again", rc, 0);
    if (again.tail_cut)
        fuzz_die("the second open cut a tail again",
                 (long long)again.tail_cut_bytes, 0);
    fuzz_check_same(&rec, &again);
    wal_close(w);
    wal_recovery_free(&again);
    wal_recovery_free(&rec);
    return 0;
}
