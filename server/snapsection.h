/*
 * One optional section of a snapshot file, written after the member table
 * by a module that keeps replicated state outside the engine (the TTL lease
 * table, the auth table): an 8-byte magic naming the section, the image's
 * length as a little-endian u64, then the image.  A snapshot written before
 * the module existed has no such section; reading it then is not an error.
 */
#ifndef METASTORE_SERVER_SNAPSECTION_H
#define METASTORE_SERVER_SNAPSECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/snapfile.h"

/* Writes the header then img through write.  Returns write's first
 * nonzero result, else 0.  img stays the caller's. */
int srv_snapsection_save(int (*write)(void *ctx, const void *, size_t),
                         void *ctx, const char magic[8], const uint8_t *img,
                         size_t len);

/* What srv_snapsection_load() does with a section's image. */
struct srv_snapsection_ops {
    /* Takes the image (borrowed for the call); nonzero when it is
     * unreadable (the callback logs why). */
    int (*load)(void *ctx, const uint8_t *img, size_t len);
    /* Called instead when the snapshot has no such section: resets the
     * module's state to the empty table. */
    void (*load_absent)(void *ctx);
};

/* Reads the section that starts at *off.  With load=false the section is
 * only skipped and ops is not called.  On success *off moves past the
 * section (it stays where it was when the section is absent).  Returns 0,
 * WAL_ECORRUPT (a truncated section, a length over max_len, an image
 * ops->load refused) or -ENOMEM; *off is unchanged on error. */
int srv_snapsection_load(struct snapfile_reader *r, uint64_t *off,
                         const char magic[8], uint64_t max_len, bool load,
                         const struct srv_snapsection_ops *ops, void *ctx);

#endif /* METASTORE_SERVER_SNAPSECTION_H */
