/*
 * fuzz_frame.c - libFuzzer target for the client/peer frame decoder
 * (server/frame.c) and the protobuf-c unpack of each method's request.
 *
 * Input layout: byte 0 picks the decoder's max_body_bytes (small limits
 * reach FRAME_ETOOBIG), byte 1 seeds the chunking, the rest is the byte
 * stream a socket would deliver.
 *
 * The stream is decoded twice: once fed whole, once cut into pseudo-random
 * chunks (1..64 bytes, as read() might return them).  Both runs must yield
 * the same frames (headers and bodies) and end in the same state; anything
 * else is a decoder bug and aborts.  Each frame's body is then unpacked as
 * the request message the method table names for its method, the same
 * decode path the server takes, and a message that unpacks must pack again
 * to exactly its reported packed size.
 *
 * Failure modes it looks for: out-of-bounds reads or writes in the decoder
 * (ASan), a body handed out that is not the bytes that followed its header,
 * a sticky error that is not sticky, crashes inside protobuf-c on hostile
 * bodies, and method table entries whose message type does not exist.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "proto/raft.pb-c.h"
#include "server/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FRAMES 256

struct fuzz_frame_rec {
    struct frame_header hdr;
    uint8_t *body; /* copy: the decoder's bodies are borrowed */
};

struct fuzz_frame_run {
    struct fuzz_frame_rec frames[FUZZ_MAX_FRAMES];
    size_t n;
    int result; /* last negative feed result, else frame_decoder_finish() */
};

static const ProtobufCMessageDescriptor *const fuzz_descriptors[] = {
    &metastore__ping_request__descriptor,
    &metastore__status_request__descriptor,
    &metastore__range_request__descriptor,
    &metastore__put_request__descriptor,
    &metastore__delete_range_request__descriptor,
    &metastore__txn_request__descriptor,
    &metastore__compaction_request__descriptor,
    &metastore__member_list_request__descriptor,
    &metastore__member_add_request__descriptor,
    &metastore__member_remove_request__descriptor,
    &metastore__member_promote_request__descriptor,
    &metastore__move_leader_request__descriptor,
    &metastore__fault_request__descriptor,
    &metastore__watch_request__descriptor,
    &metastore__authenticate_request__descriptor,
    &metastore__auth_enable_request__descriptor,
    &metastore__auth_disable_request__descriptor,
    &metastore__auth_status_request__descriptor,
    &metastore__auth_user_add_request__descriptor,
    &metastore__auth_user_get_request__descriptor,
    &metastore__auth_user_list_request__descriptor,
    &metastore__auth_user_delete_request__descriptor,
    &metastore__auth_user_change_password_request__descriptor,
    &metastore__auth_user_grant_role_request__descriptor,
    &metastore__auth_user_revoke_role_request__descriptor,
    &metastore__auth_role_add_request__descriptor,
    &metastore__auth_role_get_request__descriptor,
    &metastore__auth_role_list_request__descriptor,
    &metastore__auth_role_delete_request__descriptor,
    &metastore__auth_role_grant_permission_request__descriptor,
    &metastore__auth_role_revoke_permission_request__descriptor,
    &metastore__raft__hello__descriptor,
    &metastore__raft__batch__descriptor,
    &metastore__raft__forward__descriptor,
};

static void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz_frame: %s\n", what);
    abort();
}

static const ProtobufCMessageDescriptor *fuzz_find_descriptor(const char *name)
{
    for (size_t i = 0; i < sizeof fuzz_descriptors / sizeof *fuzz_descriptors;
         i++) {
        if (strcmp(fuzz_descriptors[i]->name, name) == 0)
            return fuzz_descriptors[i];
    }
    return NULL;
}

/* Next chunk length in 1..64 from a small xorshift state. */
static size_t fuzz_next_chunk(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return 1 + (x % 64u);
}

/* Feeds stream[0..len) in chunks (chunk_seed 0: one chunk). */
static void fuzz_decode(const uint8_t *stream, size_t len, uint32_t max_body,
                        uint32_t chunk_seed, struct fuzz_frame_run *run)
{
    struct frame_decoder d;
    size_t pos = 0;
    uint32_t state = chunk_seed;

    memset(run, 0, sizeof *run);
    frame_decoder_init(&d, max_body);
    while (pos < len && run->result == 0) {
        size_t chunk = chunk_seed ? fuzz_next_chunk(&state) : len - pos;
        if (chunk > len - pos)
            chunk = len - pos;
        const uint8_t *p = stream + pos;
        size_t left = chunk;
        for (;;) {
            struct frame f;
            size_t used = 99999;
            int rc = frame_decoder_feed(&d, p, left, &used, &f);
            if (used > left)
                fuzz_die("feed consumed more than it was given");
            p += used;
            left -= used;
            if (rc < 0) {
                run->result = rc;
                /* Sticky: feeding again must return the same error. */
                size_t again = 1;
                struct frame g;
                if (frame_decoder_feed(&d, p, left, &again, &g) != rc ||
                    again != 0)
                    fuzz_die("decoder error is not sticky");
                if (frame_decoder_finish(&d) != rc)
                    fuzz_die("finish forgot the sticky error");
                break;
            }
            if (rc == 0) {
                if (left != 0)
                    fuzz_die("feed returned 0 with input left");
                break;
            }
            if (rc != 1)
                fuzz_die("feed returned an undocumented value");
            if (f.body == NULL)
                fuzz_die("frame with a NULL body");
            if (f.hdr.length > max_body)
                fuzz_die("frame over max_body_bytes handed out");
            if (run->n < FUZZ_MAX_FRAMES) {
                struct fuzz_frame_rec *rec = &run->frames[run->n++];
                rec->hdr = f.hdr;
                rec->body = malloc(f.hdr.length ? f.hdr.length : 1);
                if (rec->body == NULL)
                    fuzz_die("out of memory");
                memcpy(rec->body, f.body, f.hdr.length);
            }
        }
        pos += chunk;
    }
    if (run->result == 0)
        run->result = frame_decoder_finish(&d);
    frame_decoder_close(&d);
}

static void fuzz_free_run(struct fuzz_frame_run *run)
{
    for (size_t i = 0; i < run->n; i++)
        free(run->frames[i].body);
    run->n = 0;
}

/* Unpacks the body as its method's request, as the server would. */
static void fuzz_unpack_request(const struct fuzz_frame_rec *rec)
{
    const char *type = srv_method_request_type(rec->hdr.method);
    if (type == NULL)
        return; /* unknown or reserved: the server answers UNIMPLEMENTED */
    const ProtobufCMessageDescriptor *desc = fuzz_find_descriptor(type);
    if (desc == NULL)
        fuzz_die("method table names a message type that does not exist");
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(desc, NULL, rec->hdr.length, rec->body);
    if (msg == NULL)
        return; /* INVALID_ARGUMENT */
    size_t need = protobuf_c_message_get_packed_size(msg);
    uint8_t *out = malloc(need ? need : 1);
    if (out == NULL)
        fuzz_die("out of memory");
    if (protobuf_c_message_pack(msg, out) != need)
        fuzz_die("re-packed size differs from get_packed_size");
    /* No "re-packed bytes unpack again" check: protobuf-c accepts an
     * over-long tag varint for field 0 (80 00) as an unknown field and
     * re-emits it as 00, which it then refuses.  The server never re-packs
     * a request it received (entries and forwards carry the raw body), so
     * that library quirk cannot reach it. */
    free(out);
    protobuf_c_message_free_unpacked(msg, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_frame_run whole, chunked;
    static const uint32_t limits[] = {0, 1, 16, 100, 4096, 1u << 20};

    if (size < 2)
        return 0;
    uint32_t max_body = limits[data[0] % (sizeof limits / sizeof *limits)];
    uint32_t seed = (uint32_t)data[1] * 2654435761u + 1u;
    const uint8_t *stream = data + 2;
    size_t len = size - 2;

    fuzz_decode(stream, len, max_body, 0, &whole);
    fuzz_decode(stream, len, max_body, seed, &chunked);
    if (whole.n != chunked.n || whole.result != chunked.result)
        fuzz_die("chunked and whole decoding disagree");
    for (size_t i = 0; i < whole.n; i++) {
        const struct fuzz_frame_rec *a = &whole.frames[i];
        const struct fuzz_frame_rec *b = &chunked.frames[i];
        if (a->hdr.length != b->hdr.length || a->hdr.method != b->hdr.method ||
            a->hdr.flags != b->hdr.flags ||
            a->hdr.request_id != b->hdr.request_id ||
            memcmp(a->body, b->body, a->hdr.length) != 0)
            fuzz_die("chunked and whole decoding gave different frames");
        fuzz_unpack_request(a);
    }
    fuzz_free_run(&whole);
    fuzz_free_run(&chunked);
    return 0;
}
