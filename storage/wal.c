/*
 * wal.c - the segmented write-ahead log of the memory mode (see wal.h for
 * the contract and the threading rules).
 *
 * On-disk format (all integers little-endian):
 *
 *   segment = header record*
 *   header  = "MSWAL001" | seq u64 | first_index u64 | crc u32 | 0 u32
 *             (32 bytes; crc = CRC-32C of the first 24 bytes)
 *   record  = len u32 | type u32 | crc u32 | body[len]
 *             crc = CRC-32C of (seq u64, file offset u64, len, type, body)
 *   bodies  = ENTRY: term u64 | index u64 | entry type u32 | data
 *             HARD_STATE: term u64 | vote u64 | commit u64
 *             SNAPSHOT: index u64 | term u64
 *
 * Mixing the segment number and the record's offset into its CRC means a
 * record is only valid where it was written: bytes that happen to contain
 * a copy of a record (an entry whose data is a WAL file, stale blocks) are
 * not mistaken for one when recovery looks past a bad record.
 *
 * Happy path: the loop thread encodes records into the active buffer with
 * a zero CRC; wal_sync_prepared() (on the worker) fills each CRC once the
 * record's segment and offset are known, writes runs of records with one
 * pwrite, rolls over to a new segment when the size limit is passed, and
 * fdatasyncs.  A new segment is built as "<name>.tmp" (header plus the
 * newest hard state and snapshot marker), fdatasync'd, renamed into place
 * and the directory fsync'd, so a segment file either exists complete or
 * not at all.  A segment is only closed after its fdatasync, so only the
 * last segment can have a torn tail.
 *
 * Failure modes: a bad record in the last segment with nothing valid after
 * it is a torn write and is cut; any other damage is WAL_ECORRUPT with the
 * file and offset; a failed write or fsync poisons the WAL (WAL_EFAILED).
 */
#include "storage/wal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"

#define SEG_MAGIC         "MSWAL001"
#define SEG_HDR_BYTES     32u
#define REC_HDR_BYTES     12u
#define ENTRY_FIXED_BYTES 20u
#define HS_BODY_BYTES     24u
#define SNAP_BODY_BYTES   16u
#define MIN_SEGMENT_BYTES 512u
#define SEG_NAME_LEN      40 /* 16 hex + "-" + 16 hex + ".wal" + NUL = 38 */
#define BUF_KEEP_BYTES    (4u * 1024u * 1024u)

enum rec_type {
    REC_ENTRY = 1,
    REC_HARD_STATE = 2,
    REC_SNAPSHOT = 3,
};

struct wal_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

struct segment {
    uint64_t seq;
    uint64_t first_index; /* as named */
    raft_index max_index; /* largest entry index in it; 0: none */
};

struct wal {
    char *dir;
    int lock_fd; /* flock'd "<dir>/LOCK" */
    uint64_t segment_bytes;
    bool no_sync; /* wal_options.no_sync */

    /* Loop thread. */
    struct wal_buf bufs[2];
    struct wal_buf *active;
    struct wal_buf *pending; /* taken by the sync in flight */
    bool in_flight;
    bool failed;
    raft_index next_index; /* largest index the next append may start at */

    /* Worker during a sync; anyone (one thread) otherwise. */
    int fd; /* the last segment, open for writing */
    uint64_t seg_size;
    uint64_t seg_init_size; /* header + re-recorded state */
    struct segment *segs;   /* oldest first; the last one is written */
    size_t n_segs;
    size_t cap_segs;
    bool disk_has_hs;
    struct raft_hard_state disk_hs;
    raft_index disk_snap_index;
    raft_term disk_snap_term;
    raft_index disk_last_index;
    int sync_result;
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

const char *wal_strerror(int err)
{
    switch (err) {
#define WAL__ERR_TEXT(name, value, text)                                       \
    case value:                                                                \
        return text;
        WAL_ERRORS(WAL__ERR_TEXT)
#undef WAL__ERR_TEXT
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

int wal__mkdir_p(const char *dir)
{
    size_t len = strlen(dir);
    if (len == 0)
        return WAL_EINVAL;
    char *path = malloc(len + 1);
    if (path == NULL)
        return WAL_ENOMEM;
    memcpy(path, dir, len + 1);
    int rv = 0;
    for (size_t i = 1; i <= len && rv == 0; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) == 0) {
            /* Make the new directory's entry durable in its parent. */
            char *slash = strrchr(path, '/');
            if (slash == NULL) {
                rv = wal__fsync_dir(".");
            } else if (slash == path) {
                rv = wal__fsync_dir("/");
            } else {
                *slash = '\0';
                rv = wal__fsync_dir(path);
                *slash = '/';
            }
        } else if (errno != EEXIST) {
            rv = -errno;
        }
        path[i] = saved;
    }
    free(path);
    return rv;
}

int wal__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rv = fsync(fd) != 0 ? -errno : 0;
    close(fd);
    return rv;
}

int wal__pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int wal__pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return WAL_ECORRUPT;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static void seg_name(char out[SEG_NAME_LEN], uint64_t seq, uint64_t first)
{
    snprintf(out, SEG_NAME_LEN, "%016" PRIx64 "-%016" PRIx64 ".wal", seq,
             first);
}

bool wal__parse_name(const char *name, const char *suffix, uint64_t *a,
                     uint64_t *b)
{
    size_t slen = strlen(suffix);
    if (strlen(name) != 33 + slen || name[16] != '-' ||
        strcmp(name + 33, suffix) != 0)
        return false;
    uint64_t v[2] = {0, 0};
    for (int part = 0; part < 2; part++) {
        const char *p = name + 17 * part;
        for (int i = 0; i < 16; i++) {
            char c = p[i];
            int d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else
                return false;
            v[part] = v[part] << 4 | (uint64_t)d;
        }
    }
    *a = v[0];
    *b = v[1];
    return true;
}

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* CRC of a record written at `off` of segment `seq`. */
static uint32_t record_crc(uint64_t seq, uint64_t off, const uint8_t *rec,
                           uint32_t body_len)
{
    uint8_t pos[16];
    put_le64(pos, seq);
    put_le64(pos + 8, off);
    uint32_t c = crc32c(pos, sizeof pos);
    c = crc32c_extend(c, rec, 8);
    return crc32c_extend(c, rec + REC_HDR_BYTES, body_len);
}

/* ------------------------------------------------------------------ */
/* Buffering (loop thread)                                             */
/* ------------------------------------------------------------------ */

static int buf_reserve(struct wal_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return WAL_ETOOBIG;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return WAL_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Appends a record header (CRC left 0 for the writer) and returns where
 * the body goes.  Space must have been reserved. */
static uint8_t *buf_put_header(struct wal_buf *b, uint32_t type,
                               uint32_t body_len)
{
    uint8_t *h = b->p + b->len;
    put_le32(h, body_len);
    put_le32(h + 4, type);
    put_le32(h + 8, 0);
    b->len += REC_HDR_BYTES + body_len;
    return h + REC_HDR_BYTES;
}

static int check_writable(const struct wal *w)
{
    return w->failed ? WAL_EFAILED : 0;
}

int wal_append_entries(struct wal *w, const struct raft_entry *e, size_t n)
{
    int rv = check_writable(w);
    if (rv != 0)
        return rv;
    size_t total = 0;
    if (n > 0 && e[0].index > w->next_index)
        return WAL_EINVAL; /* a gap: recovery would refuse the log */
    for (size_t i = 0; i < n; i++) {
        if (e[i].index == 0 || (i > 0 && e[i].index != e[i - 1].index + 1))
            return WAL_EINVAL;
        if (e[i].len > 0 && e[i].data == NULL)
            return WAL_EINVAL;
        if (e[i].len > UINT32_MAX - ENTRY_FIXED_BYTES - 64)
            return WAL_ETOOBIG;
        size_t one = REC_HDR_BYTES + ENTRY_FIXED_BYTES + (size_t)e[i].len;
        if (one > SIZE_MAX - total)
            return WAL_ETOOBIG;
        total += one;
    }
    rv = buf_reserve(w->active, total);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < n; i++) {
        uint8_t *b =
            buf_put_header(w->active, REC_ENTRY, ENTRY_FIXED_BYTES + e[i].len);
        put_le64(b, e[i].term);
        put_le64(b + 8, e[i].index);
        put_le32(b + 16, e[i].type);
        if (e[i].len > 0)
            memcpy(b + ENTRY_FIXED_BYTES, e[i].data, e[i].len);
    }
    if (n > 0)
        w->next_index = e[n - 1].index + 1;
    return 0;
}

static void encode_hard_state(uint8_t *b, const struct raft_hard_state *hs)
{
    put_le64(b, hs->term);
    put_le64(b + 8, hs->vote);
    put_le64(b + 16, hs->commit);
}

static void encode_snapshot(uint8_t *b, raft_index index, raft_term term)
{
    put_le64(b, index);
    put_le64(b + 8, term);
}

int wal_set_hard_state(struct wal *w, const struct raft_hard_state *hs)
{
    int rv = check_writable(w);
    if (rv == 0)
        rv = buf_reserve(w->active, REC_HDR_BYTES + HS_BODY_BYTES);
    if (rv != 0)
        return rv;
    encode_hard_state(buf_put_header(w->active, REC_HARD_STATE, HS_BODY_BYTES),
                      hs);
    return 0;
}

int wal_mark_snapshot(struct wal *w, raft_index index, raft_term term)
{
    if (index == 0)
        return WAL_EINVAL;
    int rv = check_writable(w);
    if (rv == 0)
        rv = buf_reserve(w->active, REC_HDR_BYTES + SNAP_BODY_BYTES);
    if (rv != 0)
        return rv;
    encode_snapshot(buf_put_header(w->active, REC_SNAPSHOT, SNAP_BODY_BYTES),
                    index, term);
    if (index + 1 > w->next_index)
        w->next_index = index + 1;
    return 0;
}

bool wal_has_pending(const struct wal *w)
{
    return w->active->len > 0;
}

size_t wal_buffered_bytes(const struct wal *w)
{
    return w->active->len;
}

/* ------------------------------------------------------------------ */
/* Writing (worker)                                                    */
/* ------------------------------------------------------------------ */

static int push_segment(struct wal *w, uint64_t seq, uint64_t first,
                        raft_index max_index)
{
    if (w->n_segs == w->cap_segs) {
        size_t cap = w->cap_segs ? w->cap_segs * 2 : 16;
        struct segment *s = realloc(w->segs, cap * sizeof *s);
        if (s == NULL)
            return WAL_ENOMEM;
        w->segs = s;
        w->cap_segs = cap;
    }
    w->segs[w->n_segs++] = (struct segment){
        .seq = seq, .first_index = first, .max_index = max_index};
    return 0;
}

/* Keeps the worker's picture of what is on disk up to date as records are
 * written: it is what a new segment starts with. */
static void note_record(struct wal *w, const uint8_t *rec)
{
    const uint8_t *b = rec + REC_HDR_BYTES;
    switch (get_le32(rec + 4)) {
    case REC_ENTRY: {
        raft_index idx = get_le64(b + 8);
        w->disk_last_index = idx;
        struct segment *s = &w->segs[w->n_segs - 1];
        if (idx > s->max_index)
            s->max_index = idx;
        break;
    }
    case REC_HARD_STATE:
        w->disk_has_hs = true;
        w->disk_hs.term = get_le64(b);
        w->disk_hs.vote = get_le64(b + 8);
        w->disk_hs.commit = get_le64(b + 16);
        break;
    case REC_SNAPSHOT:
        w->disk_snap_index = get_le64(b);
        w->disk_snap_term = get_le64(b + 8);
        if (w->disk_snap_index > w->disk_last_index)
            w->disk_last_index = w->disk_snap_index;
        break;
    default:
        assert(0 && "unknown record type in our own buffer");
    }
}

/* Creates segment `seq` complete (header + newest hard state and snapshot
 * marker), durable and in place; it becomes the one written.  The previous
 * segment must already be synced and closed. */
static int create_segment(struct wal *w, uint64_t seq)
{
    uint64_t first = w->disk_last_index + 1;
    char name[SEG_NAME_LEN], tmp_name[SEG_NAME_LEN + 4];
    seg_name(name, seq, first);
    snprintf(tmp_name, sizeof tmp_name, "%s.tmp", name);

    uint8_t head[SEG_HDR_BYTES + 2 * REC_HDR_BYTES + HS_BODY_BYTES +
                 SNAP_BODY_BYTES];
    memset(head, 0, sizeof head);
    memcpy(head, SEG_MAGIC, 8);
    put_le64(head + 8, seq);
    put_le64(head + 16, first);
    put_le32(head + 24, crc32c(head, 24));
    size_t len = SEG_HDR_BYTES;
    if (w->disk_has_hs) {
        uint8_t *r = head + len;
        put_le32(r, HS_BODY_BYTES);
        put_le32(r + 4, REC_HARD_STATE);
        encode_hard_state(r + REC_HDR_BYTES, &w->disk_hs);
        put_le32(r + 8, record_crc(seq, len, r, HS_BODY_BYTES));
        len += REC_HDR_BYTES + HS_BODY_BYTES;
    }
    if (w->disk_snap_index > 0) {
        uint8_t *r = head + len;
        put_le32(r, SNAP_BODY_BYTES);
        put_le32(r + 4, REC_SNAPSHOT);
        encode_snapshot(r + REC_HDR_BYTES, w->disk_snap_index,
                        w->disk_snap_term);
        put_le32(r + 8, record_crc(seq, len, r, SNAP_BODY_BYTES));
        len += REC_HDR_BYTES + SNAP_BODY_BYTES;
    }

    char *tmp = join_path(w->dir, tmp_name);
    char *path = join_path(w->dir, name);
    int rv = WAL_ENOMEM, fd = -1;
    if (tmp == NULL || path == NULL || push_segment(w, seq, first, 0) != 0)
        goto out;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rv = -errno;
        goto err_pushed;
    }
    rv = wal__pwrite_all(fd, head, len, 0);
    if (rv == 0 && fdatasync(fd) != 0)
        rv = -errno;
    if (rv == 0 && rename(tmp, path) != 0)
        rv = -errno;
    if (rv == 0)
        rv = wal__fsync_dir(w->dir);
    if (rv != 0)
        goto err_open;
    w->fd = fd;
    w->seg_size = len;
    w->seg_init_size = len;
    goto out;

err_open:
    close(fd);
    unlink(tmp);
err_pushed:
    w->n_segs--;
out:
    free(tmp);
    free(path);
    return rv;
}

static int roll_segment(struct wal *w)
{
    if (fdatasync(w->fd) != 0)
        return -errno;
    close(w->fd);
    w->fd = -1;
    return create_segment(w, w->segs[w->n_segs - 1].seq + 1);
}

static int write_pending(struct wal *w, struct wal_buf *b)
{
    size_t pos = 0;
    while (pos < b->len) {
        size_t start = pos;
        uint64_t off = w->seg_size;
        uint64_t seq = w->segs[w->n_segs - 1].seq;
        while (pos < b->len) {
            uint8_t *rec = b->p + pos;
            uint32_t body = get_le32(rec);
            uint64_t rlen = REC_HDR_BYTES + (uint64_t)body;
            if (off > w->seg_init_size && off + rlen > w->segment_bytes)
                break;
            put_le32(rec + 8, record_crc(seq, off, rec, body));
            note_record(w, rec);
            pos += (size_t)rlen;
            off += rlen;
        }
        int rv = wal__pwrite_all(w->fd, b->p + start, pos - start, w->seg_size);
        if (rv != 0)
            return rv;
        w->seg_size = off;
        if (pos < b->len) {
            rv = roll_segment(w);
            if (rv != 0)
                return rv;
        }
    }
    if (w->no_sync)
        return 0;
    return fdatasync(w->fd) != 0 ? -errno : 0;
}

int wal_prepare_sync(struct wal *w)
{
    if (w->failed)
        return WAL_EFAILED;
    if (w->in_flight)
        return WAL_EBUSY;
    if (w->active->len == 0)
        return 0;
    w->pending = w->active;
    w->active = w->pending == &w->bufs[0] ? &w->bufs[1] : &w->bufs[0];
    w->in_flight = true;
    return 1;
}

int wal_sync_prepared(struct wal *w)
{
    assert(w->pending != NULL);
    w->sync_result = write_pending(w, w->pending);
    return w->sync_result;
}

int wal_sync_done(struct wal *w)
{
    assert(w->in_flight);
    int rv = w->sync_result;
    struct wal_buf *b = w->pending;
    b->len = 0;
    if (b->cap > BUF_KEEP_BYTES) { /* do not hold on to a rare big batch */
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
    w->pending = NULL;
    w->in_flight = false;
    if (rv != 0)
        w->failed = true;
    return rv;
}

int wal_sync(struct wal *w)
{
    int rv = wal_prepare_sync(w);
    if (rv <= 0)
        return rv;
    wal_sync_prepared(w);
    return wal_sync_done(w);
}

int wal_release_before(struct wal *w, raft_index index, size_t *n_deleted)
{
    if (n_deleted != NULL)
        *n_deleted = 0;
    if (w->failed)
        return WAL_EFAILED;
    if (w->in_flight)
        return WAL_EBUSY;
    if (index > w->disk_snap_index)
        return WAL_EINVAL;
    size_t k = 0;
    while (k + 1 < w->n_segs && w->segs[k].max_index <= index)
        k++;
    if (k == 0)
        return 0;
    int rv = 0;
    size_t done = 0;
    /* Oldest first: a crash half-way leaves a contiguous run of segments. */
    for (; done < k; done++) {
        char name[SEG_NAME_LEN];
        seg_name(name, w->segs[done].seq, w->segs[done].first_index);
        char *path = join_path(w->dir, name);
        if (path == NULL) {
            rv = WAL_ENOMEM;
            break;
        }
        if (unlink(path) != 0 && errno != ENOENT)
            rv = -errno;
        free(path);
        if (rv != 0)
            break;
    }
    memmove(w->segs, w->segs + done, (w->n_segs - done) * sizeof *w->segs);
    w->n_segs -= done;
    if (n_deleted != NULL)
        *n_deleted = done;
    int rv2 = done > 0 ? wal__fsync_dir(w->dir) : 0;
    return rv != 0 ? rv : rv2;
}

size_t wal_segment_count(const struct wal *w)
{
    return w->n_segs;
}

void wal_close(struct wal *w)
{
    if (w == NULL)
        return;
    assert(!w->in_flight);
    if (w->fd >= 0)
        close(w->fd);
    if (w->lock_fd >= 0)
        close(w->lock_fd); /* releases the flock */
    free(w->bufs[0].p);
    free(w->bufs[1].p);
    free(w->segs);
    free(w->dir);
    free(w);
}

/* ------------------------------------------------------------------ */
/* Recovery                                                            */
/* ------------------------------------------------------------------ */

void wal_recovery_free(struct wal_recovery *rec)
{
    for (size_t i = 0; i < rec->n_entries; i++)
        free(rec->entries[i].data);
    free(rec->entries);
    rec->entries = NULL;
    rec->n_entries = 0;
}

/* Replay state: what the records seen so far say. */
struct replay {
    struct wal_recovery *rec;
    size_t cap;
    const char *seg; /* file being read, for messages */
    uint64_t off;
};

static int corrupt(struct wal_recovery *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->msg, sizeof rec->msg, fmt, ap);
    va_end(ap);
    return WAL_ECORRUPT;
}

static void drop_entries_from(struct wal_recovery *rec, size_t i)
{
    for (size_t k = i; k < rec->n_entries; k++)
        free(rec->entries[k].data);
    rec->n_entries = i;
}

/* Drops entries[0..k) and shifts the rest down. */
static void drop_entries_before(struct wal_recovery *rec, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(rec->entries[i].data);
    memmove(rec->entries, rec->entries + k,
            (rec->n_entries - k) * sizeof *rec->entries);
    rec->n_entries -= k;
}

static int replay_entry(struct replay *rp, const uint8_t *b, uint32_t len)
{
    struct wal_recovery *rec = rp->rec;
    raft_term term = get_le64(b);
    raft_index idx = get_le64(b + 8);
    if (rec->snap_index > 0 && idx <= rec->snap_index)
        return 0; /* covered by the snapshot */
    /* An empty log may restart anywhere above the snapshot: a segment
     * re-records the marker it was created with, which can be older than
     * the segments released since; the marker that covers the gap comes
     * later, and recover() checks that it did. */
    if (rec->n_entries > 0) {
        raft_index first = rec->entries[0].index;
        raft_index last = rec->entries[rec->n_entries - 1].index;
        if (idx > last + 1)
            return corrupt(rec,
                           "%s offset %" PRIu64 ": entry %" PRIu64
                           " leaves a gap after entry %" PRIu64,
                           rp->seg, rp->off, idx, last);
        /* A later record for an index already held cuts the suffix. */
        drop_entries_from(rec, idx < first ? 0 : (size_t)(idx - first));
    }
    if (rec->n_entries == rp->cap) {
        size_t cap = rp->cap ? rp->cap * 2 : 1024;
        struct raft_entry *e = realloc(rec->entries, cap * sizeof *e);
        if (e == NULL)
            return WAL_ENOMEM;
        rec->entries = e;
        rp->cap = cap;
    }
    uint32_t dlen = len - ENTRY_FIXED_BYTES;
    uint8_t *data = NULL;
    if (dlen > 0) {
        data = malloc(dlen);
        if (data == NULL)
            return WAL_ENOMEM;
        memcpy(data, b + ENTRY_FIXED_BYTES, dlen);
    }
    rec->entries[rec->n_entries++] = (struct raft_entry){
        .term = term,
        .index = idx,
        .type = get_le32(b + 16),
        .len = dlen,
        .data = data,
    };
    return 0;
}

static void replay_snapshot(struct replay *rp, raft_index idx, raft_term term)
{
    struct wal_recovery *rec = rp->rec;
    if (idx <= rec->snap_index)
        return; /* re-recorded at a segment start, or older */
    if (rec->n_entries > 0) {
        raft_index first = rec->entries[0].index;
        raft_index last = rec->entries[rec->n_entries - 1].index;
        if (idx >= first && idx <= last &&
            rec->entries[idx - first].term != term)
            drop_entries_from(rec, 0); /* conflicting log: reset */
        else if (idx >= first)
            drop_entries_before(rec, idx > last ? rec->n_entries
                                                : (size_t)(idx - first + 1));
    }
    rec->snap_index = idx;
    rec->snap_term = term;
}

enum parse_result { REC_VALID, REC_BAD, REC_INVALID };

/* Looks at the record at `off` of a segment image. */
static enum parse_result parse_record(const uint8_t *img, uint64_t size,
                                      uint64_t seq, uint64_t off,
                                      uint32_t *type, uint32_t *body_len)
{
    if (size - off < REC_HDR_BYTES)
        return REC_BAD;
    const uint8_t *r = img + off;
    uint32_t len = get_le32(r);
    if (len > size - off - REC_HDR_BYTES)
        return REC_BAD;
    if (record_crc(seq, off, r, len) != get_le32(r + 8))
        return REC_BAD;
    *type = get_le32(r + 4);
    *body_len = len;
    /* A matching CRC means these bytes were written as a record here: a
     * body that makes no sense is not a torn write. */
    switch (*type) {
    case REC_ENTRY:
        if (len < ENTRY_FIXED_BYTES || get_le64(r + REC_HDR_BYTES + 8) == 0)
            return REC_INVALID;
        return REC_VALID;
    case REC_HARD_STATE:
        return len == HS_BODY_BYTES ? REC_VALID : REC_INVALID;
    case REC_SNAPSHOT:
        return len == SNAP_BODY_BYTES && get_le64(r + REC_HDR_BYTES) > 0
                   ? REC_VALID
                   : REC_INVALID;
    default:
        return REC_INVALID;
    }
}

/*
 * Offset of the first record with a valid CRC at or after `from`, or 0.
 * Hostile bytes could make this quadratic (a plausible header at every
 * offset); past a CRC budget it gives up and answers `from`, which makes the
 * caller report corruption rather than guess.
 */
static uint64_t find_valid_record(const uint8_t *img, uint64_t size,
                                  uint64_t seq, uint64_t from)
{
    uint64_t budget = 4 * size + (64u << 20);
    for (uint64_t p = from; p + REC_HDR_BYTES <= size; p++) {
        uint32_t type = get_le32(img + p + 4);
        uint32_t len = get_le32(img + p);
        bool plausible = (type == REC_ENTRY && len >= ENTRY_FIXED_BYTES) ||
                         (type == REC_HARD_STATE && len == HS_BODY_BYTES) ||
                         (type == REC_SNAPSHOT && len == SNAP_BODY_BYTES);
        if (!plausible || len > size - p - REC_HDR_BYTES)
            continue; /* cheap filters before the CRC */
        if (len > budget)
            return from;
        budget -= len;
        uint32_t t, l;
        if (parse_record(img, size, seq, p, &t, &l) != REC_BAD)
            return p;
    }
    return 0;
}

static int apply_record(struct replay *rp, const uint8_t *r, uint32_t type,
                        uint32_t len, struct segment *seg)
{
    const uint8_t *b = r + REC_HDR_BYTES;
    switch (type) {
    case REC_ENTRY: {
        raft_index idx = get_le64(b + 8);
        if (idx > seg->max_index)
            seg->max_index = idx;
        return replay_entry(rp, b, len);
    }
    case REC_HARD_STATE:
        rp->rec->has_hard_state = true;
        rp->rec->hs.term = get_le64(b);
        rp->rec->hs.vote = get_le64(b + 8);
        rp->rec->hs.commit = get_le64(b + 16);
        return 0;
    case REC_SNAPSHOT:
        replay_snapshot(rp, get_le64(b), get_le64(b + 8));
        return 0;
    default:
        return WAL_ECORRUPT; /* parse_record() let it through: a bug */
    }
}

static int read_file(const char *path, uint8_t **img, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rv = 0;
    if (fstat(fd, &st) != 0) {
        rv = -errno;
    } else if ((uint64_t)st.st_size > SIZE_MAX - 1) {
        rv = WAL_ETOOBIG;
    } else {
        *size = (uint64_t)st.st_size;
        *img = malloc((size_t)*size + 1);
        if (*img == NULL)
            rv = WAL_ENOMEM;
        else
            rv = wal__pread_all(fd, *img, (size_t)*size, 0);
        if (rv != 0) {
            free(*img);
            *img = NULL;
        }
    }
    close(fd);
    return rv;
}

static int check_header(struct wal_recovery *rec, const char *name,
                        const uint8_t *img, uint64_t size,
                        const struct segment *seg)
{
    if (size < SEG_HDR_BYTES || memcmp(img, SEG_MAGIC, 8) != 0 ||
        get_le32(img + 24) != crc32c(img, 24))
        return corrupt(rec, "%s: bad segment header", name);
    if (get_le64(img + 8) != seg->seq || get_le64(img + 16) != seg->first_index)
        return corrupt(rec, "%s: header does not match the file name", name);
    return 0;
}

/* Cuts the torn tail of the last segment at `off`. */
static int cut_tail(struct wal *w, struct wal_recovery *rec, const char *name,
                    const char *path, uint64_t off, uint64_t size,
                    const struct wal_options *opts)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rv = 0;
    if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0)
        rv = -errno;
    close(fd);
    if (rv != 0)
        return rv;
    rec->tail_cut = true;
    rec->tail_cut_bytes = size - off;
    snprintf(rec->msg, sizeof rec->msg,
             "wal: %s/%s: cut a torn tail of %" PRIu64
             " bytes at offset %" PRIu64,
             w->dir, name, size - off, off);
    if (opts != NULL && opts->log != NULL)
        opts->log(opts->log_data, rec->msg);
    return 0;
}

/* Reads segment `i` of w->segs and replays its records. */
static int replay_segment(struct wal *w, struct replay *rp, size_t i,
                          const struct wal_options *opts)
{
    struct segment *seg = &w->segs[i];
    bool last = i + 1 == w->n_segs;
    char name[SEG_NAME_LEN];
    seg_name(name, seg->seq, seg->first_index);
    char *path = join_path(w->dir, name);
    if (path == NULL)
        return WAL_ENOMEM;
    uint8_t *img = NULL;
    uint64_t size = 0, off = SEG_HDR_BYTES;
    int rv = read_file(path, &img, &size);
    if (rv == 0)
        rv = check_header(rp->rec, name, img, size, seg);
    rp->seg = name;
    while (rv == 0 && off < size) {
        uint32_t type = 0, len = 0;
        enum parse_result pr =
            parse_record(img, size, seg->seq, off, &type, &len);
        rp->off = off;
        if (pr == REC_VALID) {
            rv = apply_record(rp, img + off, type, len, seg);
            off += REC_HDR_BYTES + len;
            continue;
        }
        uint64_t next = pr == REC_BAD
                            ? find_valid_record(img, size, seg->seq, off + 1)
                            : off;
        if (!last || next != 0) {
            rv = corrupt(rp->rec, "%s/%s: bad record at offset %" PRIu64 "%s",
                         w->dir, name, off,
                         pr == REC_INVALID ? " (checksum ok, content invalid)"
                         : last            ? " followed by valid data"
                                : " in a segment that is not the last");
            break;
        }
        rv = cut_tail(w, rp->rec, name, path, off, size, opts);
        size = off;
    }
    if (rv == 0 && last) {
        w->seg_size = size;
        w->seg_init_size = SEG_HDR_BYTES;
        w->fd = open(path, O_WRONLY | O_CLOEXEC);
        /* What we just read may only be in the page cache (the previous
         * process died before its fdatasync): make it durable before
         * anything is decided from it, e.g. a vote. */
        if (w->fd < 0 || fdatasync(w->fd) != 0)
            rv = -errno;
    }
    free(img);
    free(path);
    return rv;
}

static int cmp_segment(const void *a, const void *b)
{
    const struct segment *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Lists the segments (sorted) and removes temporary files. */
static int scan_dir(struct wal *w, struct wal_recovery *rec)
{
    DIR *d = opendir(w->dir);
    if (d == NULL)
        return -errno;
    int rv = 0;
    bool removed = false;
    struct dirent *de;
    while (rv == 0 && (de = readdir(d)) != NULL) {
        uint64_t seq, first;
        if (wal__parse_name(de->d_name, ".wal.tmp", &seq, &first)) {
            char *p = join_path(w->dir, de->d_name);
            if (p == NULL)
                rv = WAL_ENOMEM;
            else if (unlink(p) != 0 && errno != ENOENT)
                rv = -errno;
            free(p);
            removed = true;
        } else if (wal__parse_name(de->d_name, ".wal", &seq, &first)) {
            rv = push_segment(w, seq, first, 0);
        }
    }
    closedir(d);
    if (rv == 0 && removed)
        rv = wal__fsync_dir(w->dir);
    if (rv != 0)
        return rv;
    if (w->n_segs > 1)
        qsort(w->segs, w->n_segs, sizeof *w->segs, cmp_segment);
    for (size_t i = 1; i < w->n_segs; i++)
        if (w->segs[i].seq != w->segs[i - 1].seq + 1)
            return corrupt(rec,
                           "%s: segment %" PRIu64 " missing (found %" PRIu64
                           " then %" PRIu64 ")",
                           w->dir, w->segs[i - 1].seq + 1, w->segs[i - 1].seq,
                           w->segs[i].seq);
    if (w->n_segs > 0 && w->segs[0].seq == 0)
        return corrupt(rec, "%s: segment number 0", w->dir);
    return 0;
}

static int lock_dir(struct wal *w)
{
    char *path = join_path(w->dir, "LOCK");
    if (path == NULL)
        return WAL_ENOMEM;
    w->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(path);
    if (w->lock_fd < 0)
        return -errno;
    if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return errno == EWOULDBLOCK ? WAL_ELOCKED : -errno;
    return 0;
}

static int recover(struct wal *w, struct wal_recovery *rec,
                   const struct wal_options *opts)
{
    int rv = lock_dir(w);
    if (rv == 0)
        rv = scan_dir(w, rec);
    if (rv != 0)
        return rv;
    struct replay rp = {.rec = rec};
    for (size_t i = 0; i < w->n_segs && rv == 0; i++)
        rv = replay_segment(w, &rp, i, opts);
    if (rv != 0)
        return rv;
    if (rec->n_entries > 0 && rec->entries[0].index != rec->snap_index + 1)
        return corrupt(rec,
                       "%s: the log starts at entry %" PRIu64
                       " but the snapshot marker is at %" PRIu64
                       " (entries missing)",
                       w->dir, rec->entries[0].index, rec->snap_index);
    w->disk_has_hs = rec->has_hard_state;
    w->disk_hs = rec->hs;
    w->disk_snap_index = rec->snap_index;
    w->disk_snap_term = rec->snap_term;
    w->disk_last_index = rec->n_entries > 0
                             ? rec->entries[rec->n_entries - 1].index
                             : rec->snap_index;
    w->next_index = w->disk_last_index + 1;
    if (w->n_segs == 0)
        rv = create_segment(w, 1);
    rec->n_segments = w->n_segs;
    return rv;
}

int wal_open(const char *dir, const struct wal_options *opts, struct wal **out,
             struct wal_recovery *rec)
{
    memset(rec, 0, sizeof *rec);
    *out = NULL;
    uint64_t seg_bytes = opts != NULL && opts->segment_bytes != 0
                             ? opts->segment_bytes
                             : WAL_DEFAULT_SEGMENT_BYTES;
    if (dir == NULL || seg_bytes < MIN_SEGMENT_BYTES)
        return WAL_EINVAL;
    struct wal *w = calloc(1, sizeof *w);
    if (w == NULL)
        return WAL_ENOMEM;
    w->fd = -1;
    w->lock_fd = -1;
    w->segment_bytes = seg_bytes;
    w->no_sync = opts != NULL && opts->no_sync;
    w->active = &w->bufs[0];
    w->dir = strdup(dir);
    int rv = w->dir == NULL ? WAL_ENOMEM : wal__mkdir_p(dir);
    if (rv == 0)
        rv = recover(w, rec, opts);
    if (rv != 0) {
        if (rec->msg[0] == '\0')
            snprintf(rec->msg, sizeof rec->msg, "wal: opening %s: %s", dir,
                     wal_strerror(rv));
        wal_recovery_free(rec);
        wal_close(w);
        return rv;
    }
    *out = w;
    return 0;
}
