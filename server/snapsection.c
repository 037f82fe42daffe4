/*
 * Snapshot sections (see snapsection.h): the header and image framing that
 * the TTL lease table and the auth table share.  Failure modes: the write
 * callback fails (passed up), the file ends inside a section or names an
 * impossible length (WAL_ECORRUPT), no memory for the image (-ENOMEM).
 */
#include "server/snapsection.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/wal.h"

#define HEADER_BYTES 16

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

int srv_snapsection_save(int (*write)(void *ctx, const void *, size_t),
                         void *ctx, const char magic[8], const uint8_t *img,
                         size_t len)
{
    uint8_t hdr[HEADER_BYTES];
    memcpy(hdr, magic, 8);
    put_le64(hdr + 8, len);
    int rv = write(ctx, hdr, sizeof hdr);
    if (rv == 0) {
        rv = write(ctx, img, len);
    }
    return rv;
}

/* snapfile_read() may return less than asked: loops until len bytes. */
static int read_exact(struct snapfile_reader *r, uint64_t off, void *buf,
                      size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        int rv =
            snapfile_read(r, off + got, (uint8_t *)buf + got, len - got, &n);
        if (rv != 0 || n == 0) {
            return WAL_ECORRUPT;
        }
        got += n;
    }
    return 0;
}

int srv_snapsection_load(struct snapfile_reader *r, uint64_t *off,
                         const char magic[8], uint64_t max_len, bool load,
                         const struct srv_snapsection_ops *ops, void *ctx)
{
    uint8_t hdr[HEADER_BYTES];
    if (read_exact(r, *off, hdr, 8) != 0 || memcmp(hdr, magic, 8) != 0) {
        if (load) {
            ops->load_absent(ctx);
        }
        return 0;
    }
    if (read_exact(r, *off + 8, hdr + 8, 8) != 0) {
        return WAL_ECORRUPT;
    }
    uint64_t len = get_le64(hdr + 8);
    if (len > max_len) {
        return WAL_ECORRUPT;
    }
    if (load) {
        uint8_t *img = malloc(len > 0 ? len : 1);
        if (img == NULL) {
            return -ENOMEM;
        }
        int rv = read_exact(r, *off + HEADER_BYTES, img, len);
        if (rv == 0 && ops->load(ctx, img, len) != 0) {
            rv = WAL_ECORRUPT;
        }
        free(img);
        if (rv != 0) {
            return rv;
        }
    }
    *off += HEADER_BYTES + len;
    return 0;
}
