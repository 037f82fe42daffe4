/*
 * fuzz_range.c - libFuzzer target for the read fast path's hand-written
 * RangeRequest decoder (server/range_decode.c) against protobuf-c.
 *
 * The input is a RangeRequest body as a client would send it.  Whenever
 * range_request_decode() accepts it, protobuf-c must accept it too and
 * give exactly the same field values (the bytes fields equal in length and
 * content); anything else aborts.  When the decoder declines (-1), the
 * server falls back to protobuf-c, so that case only has to be free of
 * memory errors (ASan).
 *
 * Failure modes it looks for: reads past the end of the body, a value the
 * decoder converts differently (varint width, bool, enum, sign), a body the
 * decoder accepts that protobuf-c would refuse (the server would then serve
 * a request it used to answer INVALID_ARGUMENT).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "server/range_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_bytes(ProtobufCBinaryData a, ProtobufCBinaryData b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

#define MUST(cond)                                                             \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_range: %s\n", #cond);                        \
            abort();                                                           \
        }                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Metastore__RangeRequest ours;
    int rv = range_request_decode(data, size, &ours);
    Metastore__RangeRequest *pc =
        metastore__range_request__unpack(NULL, size, data);
    if (rv == 0) {
        MUST(pc != NULL);
        MUST(same_bytes(ours.key, pc->key));
        MUST(same_bytes(ours.range_end, pc->range_end));
        MUST(ours.limit == pc->limit);
        MUST(ours.revision == pc->revision);
        MUST(ours.sort_order == pc->sort_order);
        MUST(ours.sort_target == pc->sort_target);
        MUST(ours.consistency == pc->consistency);
        MUST(ours.keys_only == pc->keys_only);
        MUST(ours.count_only == pc->count_only);
        MUST(ours.min_mod_revision == pc->min_mod_revision);
        MUST(ours.max_mod_revision == pc->max_mod_revision);
        MUST(ours.min_create_revision == pc->min_create_revision);
        MUST(ours.max_create_revision == pc->max_create_revision);
        MUST(ours.min_applied_index == pc->min_applied_index);
        MUST(pc->base.n_unknown_fields == 0);
        /* the bytes fields point into the input */
        MUST(ours.key.len == 0 ||
             (ours.key.data >= data && ours.key.data + ours.key.len <= data + size));
    } else {
        MUST(rv == -1);
    }
    if (pc != NULL) {
        metastore__range_request__free_unpacked(pc, NULL);
    }
    return 0;
}
