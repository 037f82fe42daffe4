/*
 * snapfile.c - snapshot files: written in chunks, committed atomically,
 * read back by offset (see snapfile.h for the contract).
 *
 * File layout (integers little-endian):
 *
 *   data[size] | meta[meta_len] | meta_len u32 | meta_crc u32 | "MSSNAP01"
 *   meta = version u32 (1) | index u64 | term u64 | size u64 |
 *          data_crc u32 | n u32 | n * (id u64, learner u8) |
 *          app_len u32 | app[app_len]
 *
 * The trailer sits at the end so that the data can be streamed in before
 * its size and CRC are known.
 *
 * Happy path: writer_open creates "<index>-<term>.snap.tmp"; each write
 * appends and extends the running CRC; commit appends the trailer, fsyncs,
 * renames to "<index>-<term>.snap" and fsyncs the directory.  A reader
 * picks the newest final name, validates the trailer, checks the data CRC
 * in one pass, then serves pread()s.
 *
 * Failure modes: I/O errors come back as -errno (a failed commit removes
 * its temporary file); a damaged or truncated file is WAL_ECORRUPT; a crash
 * before the rename leaves only a .tmp file, which readers never look at
 * and snapfile_remove_temp() deletes.
 */
#include "storage/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/crc32c.h"

#define SNAP_MAGIC       "MSSNAP01"
#define SNAP_VERSION     1u
#define TRAILER_BYTES    16u
#define META_FIXED_BYTES (4u + 8u + 8u + 8u + 4u + 4u + 4u)
#define MEMBER_BYTES     9u
#define META_MAX_BYTES                                                         \
    (META_FIXED_BYTES + RAFT_MAX_MEMBERS * MEMBER_BYTES + SNAPFILE_APP_MAX)
#define NAME_LEN     48
#define VERIFY_CHUNK (64u * 1024u)

struct snapfile_writer {
    char *dir;
    char *tmp_path;
    char *path;
    int fd;
    raft_index index;
    raft_term term;
    uint64_t size;
    uint32_t crc;
};

struct snapfile_reader {
    int fd;
    struct snapfile_meta meta;
};

/* ---- encoding helpers ---------------------------------------------- */

static void put32(uint8_t **p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t **p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

/* A bounded reader over the meta block: every get checks the length. */
struct cursor {
    const uint8_t *p;
    size_t left;
    bool bad;
};

static uint64_t get_n(struct cursor *c, int bytes)
{
    if (c->bad || c->left < (size_t)bytes) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)c->p[i] << (8 * i);
    c->p += bytes;
    c->left -= (size_t)bytes;
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static char *path_of(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void snap_name(char out[NAME_LEN], raft_index index, raft_term term,
                      const char *suffix)
{
    snprintf(out, NAME_LEN, "%016" PRIx64 "-%016" PRIx64 "%s", index, term,
             suffix);
}

/* ---- writer ---------------------------------------------------------- */

int snapfile_writer_open(const char *dir, raft_index index, raft_term term,
                         struct snapfile_writer **out)
{
    *out = NULL;
    if (dir == NULL || index == 0)
        return WAL_EINVAL;
    int rv = wal__mkdir_p(dir);
    if (rv != 0)
        return rv;
    struct snapfile_writer *sw = calloc(1, sizeof *sw);
    if (sw == NULL)
        return WAL_ENOMEM;
    char name[NAME_LEN], tmp[NAME_LEN];
    snap_name(name, index, term, ".snap");
    snap_name(tmp, index, term, ".snap.tmp");
    sw->fd = -1;
    sw->index = index;
    sw->term = term;
    sw->dir = strdup(dir);
    sw->path = path_of(dir, name);
    sw->tmp_path = path_of(dir, tmp);
    if (sw->dir == NULL || sw->path == NULL || sw->tmp_path == NULL) {
        rv = WAL_ENOMEM;
    } else {
        sw->fd =
            open(sw->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (sw->fd < 0)
            rv = -errno;
    }
    if (rv != 0) {
        free(sw->dir);
        free(sw->path);
        free(sw->tmp_path);
        free(sw);
        return rv;
    }
    *out = sw;
    return 0;
}

int snapfile_writer_write(struct snapfile_writer *sw, const void *buf,
                          size_t len)
{
    if (len == 0)
        return 0;
    int rv = wal__pwrite_all(sw->fd, buf, len, sw->size);
    if (rv != 0)
        return rv;
    sw->crc = crc32c_extend(sw->crc, buf, len);
    sw->size += len;
    return 0;
}

uint64_t snapfile_writer_size(const struct snapfile_writer *sw)
{
    return sw->size;
}

static void writer_free(struct snapfile_writer *sw)
{
    if (sw->fd >= 0)
        close(sw->fd);
    free(sw->dir);
    free(sw->path);
    free(sw->tmp_path);
    free(sw);
}

void snapfile_writer_abort(struct snapfile_writer *sw)
{
    if (sw == NULL)
        return;
    unlink(sw->tmp_path);
    writer_free(sw);
}

/* Encodes meta + trailer into out; returns the byte count. */
static size_t encode_trailer(const struct snapfile_meta *m, uint8_t *out)
{
    uint8_t *p = out;
    put32(&p, SNAP_VERSION);
    put64(&p, m->raft.index);
    put64(&p, m->raft.term);
    put64(&p, m->raft.size);
    put32(&p, m->data_crc32c);
    put32(&p, m->raft.conf.n);
    for (uint32_t i = 0; i < m->raft.conf.n; i++) {
        put64(&p, m->raft.conf.members[i].id);
        *p++ = m->raft.conf.members[i].learner ? 1 : 0;
    }
    put32(&p, m->app_len);
    memcpy(p, m->app, m->app_len);
    p += m->app_len;
    uint32_t meta_len = (uint32_t)(p - out);
    uint32_t meta_crc = crc32c(out, meta_len);
    put32(&p, meta_len);
    put32(&p, meta_crc);
    memcpy(p, SNAP_MAGIC, 8);
    p += 8;
    return (size_t)(p - out);
}

int snapfile_writer_commit(struct snapfile_writer *sw,
                           const struct raft_conf *conf, const void *app,
                           size_t app_len, struct snapfile_meta *meta_out)
{
    int rv = 0;
    struct snapfile_meta m;
    memset(&m, 0, sizeof m);
    if (conf == NULL || conf->n > RAFT_MAX_MEMBERS ||
        app_len > SNAPFILE_APP_MAX || (app_len > 0 && app == NULL)) {
        rv = WAL_EINVAL;
        goto fail;
    }
    m.raft.index = sw->index;
    m.raft.term = sw->term;
    m.raft.conf = *conf;
    m.raft.size = sw->size;
    m.data_crc32c = sw->crc;
    m.app_len = (uint32_t)app_len;
    if (app_len > 0)
        memcpy(m.app, app, app_len);

    uint8_t trailer[META_MAX_BYTES + TRAILER_BYTES];
    size_t len = encode_trailer(&m, trailer);
    rv = wal__pwrite_all(sw->fd, trailer, len, sw->size);
    if (rv == 0 && fsync(sw->fd) != 0)
        rv = -errno;
    if (rv == 0 && close(sw->fd) != 0)
        rv = -errno;
    sw->fd = -1;
    if (rv == 0 && rename(sw->tmp_path, sw->path) != 0)
        rv = -errno;
    if (rv != 0)
        goto fail;
    rv = wal__fsync_dir(sw->dir);
    writer_free(sw);
    if (rv == 0 && meta_out != NULL)
        *meta_out = m;
    return rv;

fail:
    snapfile_writer_abort(sw);
    return rv;
}

/* ---- listing --------------------------------------------------------- */

struct snap_id {
    raft_index index;
    raft_term term;
};

/* Newest first. */
static int cmp_newest_first(const void *a, const void *b)
{
    const struct snap_id *x = a, *y = b;
    if (x->index != y->index)
        return x->index > y->index ? -1 : 1;
    if (x->term != y->term)
        return x->term > y->term ? -1 : 1;
    return 0;
}

/* Lists files named <index>-<term><suffix>, newest first.  A missing
 * directory is an empty list. */
static int list_snaps(const char *dir, const char *suffix, struct snap_id **out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -errno;
    size_t cap = 0;
    int rv = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct snap_id id;
        if (!wal__parse_name(de->d_name, suffix, &id.index, &id.term))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            struct snap_id *a = realloc(*out, cap * sizeof *a);
            if (a == NULL) {
                rv = WAL_ENOMEM;
                break;
            }
            *out = a;
        }
        (*out)[(*n)++] = id;
    }
    closedir(d);
    if (rv != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rv;
    }
    if (*n > 1)
        qsort(*out, *n, sizeof **out, cmp_newest_first);
    return 0;
}

/* Deletes list[from..n) (named with `suffix`) and fsyncs the directory. */
static int remove_listed(const char *dir, const char *suffix,
                         const struct snap_id *list, size_t from, size_t n,
                         size_t *n_deleted)
{
    int rv = 0;
    size_t done = 0;
    for (size_t i = from; i < n && rv == 0; i++) {
        char name[NAME_LEN];
        snap_name(name, list[i].index, list[i].term, suffix);
        char *p = path_of(dir, name);
        if (p == NULL)
            rv = WAL_ENOMEM;
        else if (unlink(p) == 0)
            done++;
        else if (errno != ENOENT)
            rv = -errno;
        free(p);
    }
    if (done > 0) {
        int rv2 = wal__fsync_dir(dir);
        if (rv == 0)
            rv = rv2;
    }
    if (n_deleted != NULL)
        *n_deleted = done;
    return rv;
}

int snapfile_remove_older(const char *dir, size_t keep, size_t *n_deleted)
{
    if (n_deleted != NULL)
        *n_deleted = 0;
    if (keep == 0)
        return WAL_EINVAL;
    struct snap_id *list;
    size_t n;
    int rv = list_snaps(dir, ".snap", &list, &n);
    if (rv == 0 && n > keep)
        rv = remove_listed(dir, ".snap", list, keep, n, n_deleted);
    free(list);
    return rv;
}

int snapfile_remove_temp(const char *dir, size_t *n_deleted)
{
    if (n_deleted != NULL)
        *n_deleted = 0;
    struct snap_id *list;
    size_t n;
    int rv = list_snaps(dir, ".snap.tmp", &list, &n);
    if (rv == 0 && n > 0)
        rv = remove_listed(dir, ".snap.tmp", list, 0, n, n_deleted);
    free(list);
    return rv;
}

/* ---- reader ---------------------------------------------------------- */

static int parse_meta(const uint8_t *buf, size_t len, struct snapfile_meta *m)
{
    struct cursor c = {.p = buf, .left = len};
    memset(m, 0, sizeof *m);
    if (get_n(&c, 4) != SNAP_VERSION)
        return WAL_ECORRUPT;
    m->raft.index = get_n(&c, 8);
    m->raft.term = get_n(&c, 8);
    m->raft.size = get_n(&c, 8);
    m->data_crc32c = (uint32_t)get_n(&c, 4);
    uint64_t n = get_n(&c, 4);
    if (c.bad || n > RAFT_MAX_MEMBERS)
        return WAL_ECORRUPT;
    m->raft.conf.n = (uint32_t)n;
    for (uint32_t i = 0; i < m->raft.conf.n; i++) {
        m->raft.conf.members[i].id = get_n(&c, 8);
        uint64_t learner = get_n(&c, 1);
        if (learner > 1)
            return WAL_ECORRUPT;
        m->raft.conf.members[i].learner = learner == 1;
    }
    uint64_t app_len = get_n(&c, 4);
    if (c.bad || app_len > SNAPFILE_APP_MAX || app_len != c.left)
        return WAL_ECORRUPT;
    m->app_len = (uint32_t)app_len;
    memcpy(m->app, c.p, (size_t)app_len);
    return 0;
}

/* Reads and checks the trailer of an open snapshot file of `file_size`. */
static int read_trailer(int fd, uint64_t file_size, struct snapfile_meta *m)
{
    uint8_t tr[TRAILER_BYTES];
    if (file_size < TRAILER_BYTES + META_FIXED_BYTES)
        return WAL_ECORRUPT;
    int rv = wal__pread_all(fd, tr, sizeof tr, file_size - TRAILER_BYTES);
    if (rv != 0)
        return rv;
    uint32_t meta_len = le32(tr);
    if (memcmp(tr + 8, SNAP_MAGIC, 8) != 0 || meta_len > META_MAX_BYTES ||
        meta_len > file_size - TRAILER_BYTES)
        return WAL_ECORRUPT;
    uint8_t meta[META_MAX_BYTES];
    uint64_t meta_off = file_size - TRAILER_BYTES - meta_len;
    rv = wal__pread_all(fd, meta, meta_len, meta_off);
    if (rv != 0)
        return rv;
    if (crc32c(meta, meta_len) != le32(tr + 4))
        return WAL_ECORRUPT;
    rv = parse_meta(meta, meta_len, m);
    if (rv == 0 && m->raft.size != meta_off)
        rv = WAL_ECORRUPT;
    return rv;
}

static int verify_data(int fd, const struct snapfile_meta *m)
{
    uint8_t *buf = malloc(VERIFY_CHUNK);
    if (buf == NULL)
        return WAL_ENOMEM;
    uint32_t crc = 0;
    int rv = 0;
    for (uint64_t off = 0; off < m->raft.size && rv == 0;) {
        uint64_t left = m->raft.size - off;
        size_t n = left < VERIFY_CHUNK ? (size_t)left : VERIFY_CHUNK;
        rv = wal__pread_all(fd, buf, n, off);
        crc = crc32c_extend(crc, buf, n);
        off += n;
    }
    free(buf);
    if (rv == 0 && crc != m->data_crc32c)
        rv = WAL_ECORRUPT;
    return rv;
}

static int open_one(const char *dir, const struct snap_id *id,
                    struct snapfile_reader **out, char *msg, size_t msg_cap)
{
    char name[NAME_LEN];
    snap_name(name, id->index, id->term, ".snap");
    char *path = path_of(dir, name);
    if (path == NULL)
        return WAL_ENOMEM;
    struct snapfile_reader *sr = calloc(1, sizeof *sr);
    int rv = sr == NULL ? WAL_ENOMEM : 0;
    struct stat st;
    if (rv == 0) {
        sr->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (sr->fd < 0 || fstat(sr->fd, &st) != 0)
            rv = -errno;
    }
    if (rv == 0)
        rv = read_trailer(sr->fd, (uint64_t)st.st_size, &sr->meta);
    if (rv == 0 &&
        (sr->meta.raft.index != id->index || sr->meta.raft.term != id->term))
        rv = WAL_ECORRUPT;
    if (rv == 0)
        rv = verify_data(sr->fd, &sr->meta);
    if (rv != 0 && msg != NULL && msg_cap > 0)
        snprintf(msg, msg_cap, "snapshot %s/%s: %s", dir, name,
                 rv == WAL_ECORRUPT ? "corrupt" : wal_strerror(rv));
    free(path);
    if (rv != 0) {
        if (sr != NULL && sr->fd >= 0)
            close(sr->fd);
        free(sr);
        return rv;
    }
    *out = sr;
    return 0;
}

int snapfile_open_newest(const char *dir, struct snapfile_reader **out,
                         struct snapfile_meta *meta, char *msg, size_t msg_cap)
{
    *out = NULL;
    if (msg != NULL && msg_cap > 0)
        msg[0] = '\0';
    struct snap_id *list;
    size_t n;
    int rv = list_snaps(dir, ".snap", &list, &n);
    if (rv != 0)
        return rv;
    if (n == 0)
        rv = WAL_ENOSNAPSHOT;
    else
        rv = open_one(dir, &list[0], out, msg, msg_cap);
    free(list);
    if (rv == 0 && meta != NULL)
        *meta = (*out)->meta;
    return rv;
}

const struct snapfile_meta *
snapfile_reader_meta(const struct snapfile_reader *sr)
{
    return &sr->meta;
}

int snapfile_read(struct snapfile_reader *sr, uint64_t offset, void *buf,
                  size_t cap, size_t *n)
{
    *n = 0;
    if (offset > sr->meta.raft.size)
        return WAL_EINVAL;
    uint64_t left = sr->meta.raft.size - offset;
    size_t want = left < cap ? (size_t)left : cap;
    int rv = wal__pread_all(sr->fd, buf, want, offset);
    if (rv == 0)
        *n = want;
    return rv;
}

void snapfile_close(struct snapfile_reader *sr)
{
    if (sr == NULL)
        return;
    close(sr->fd);
    free(sr);
}
