/*
 * peer_codec.c - converting Raft messages to and from the peer protocol.
 *
 * Happy path, sending: the message is described to protobuf-c through a
 * scratch Metastore__Raft__Message whose byte fields point at the message's
 * own entries and snapshot data (no copy), then packed straight into the
 * caller's buffer behind a `msgs` field tag and length, so that the
 * records of several messages form a Batch body.
 *
 * Happy path, receiving: protobuf-c unpacks the Batch, every message is
 * checked and copied into a struct raft_message whose parts are malloc'd
 * (the form raft_message_free_parts() releases), and the unpacked tree is
 * freed.
 *
 * Failure modes: bytes that are not a Batch, values out of range, counts
 * over the bounds -> PEER_EMALFORMED / PEER_ETOOBIG and nothing returned;
 * allocation failure -> PEER_ENOMEM.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/raft.pb-c.h"
#include "server/peer_codec.h"

#define BATCH_MSGS_TAG   0x0au /* field 1, wire type 2 (length-delimited) */
#define VARINT_MAX_BYTES 10u

const char *peer_strerror(int err)
{
    switch (err) {
#define PEER__ERR_TEXT(name, value, text)                                      \
    case name:                                                                 \
        return text;
        PEER_ERRORS(PEER__ERR_TEXT)
#undef PEER__ERR_TEXT
    default:
        break;
    }
    if (err < 0 && err > -1000)
        return strerror(-err); /* a system or libuv (-errno) code */
    return "unknown error";
}

/* ---- buffer -------------------------------------------------------------- */

void peer_buf_init(struct peer_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void peer_buf_free(struct peer_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int peer_buf_reserve(struct peer_buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return PEER_ENOMEM;
    size_t cap = b->cap > 0 ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        return PEER_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* A protobuf view of one raft_message; byte fields borrow the message's. */
struct scratch {
    Metastore__Raft__Message msg;
    Metastore__Raft__SnapshotMeta snap;
    Metastore__Raft__ConfMember members[RAFT_MAX_MEMBERS];
    Metastore__Raft__ConfMember *member_ptrs[RAFT_MAX_MEMBERS];
    Metastore__Raft__Entry *entries;     /* malloc'd when there are any */
    Metastore__Raft__Entry **entry_ptrs; /* malloc'd with entries */
};

static void scratch_free(struct scratch *s)
{
    free(s->entries);
    free(s->entry_ptrs);
    s->entries = NULL;
    s->entry_ptrs = NULL;
}

static bool snap_meta_empty(const struct raft_snapshot_meta *m)
{
    return m->index == 0 && m->term == 0 && m->conf.n == 0 && m->size == 0;
}

static void scratch_snap(struct scratch *s, const struct raft_snapshot_meta *m)
{
    metastore__raft__snapshot_meta__init(&s->snap);
    s->snap.index = m->index;
    s->snap.term = m->term;
    s->snap.size = m->size;
    uint32_t n = m->conf.n <= RAFT_MAX_MEMBERS ? m->conf.n : RAFT_MAX_MEMBERS;
    for (uint32_t i = 0; i < n; i++) {
        metastore__raft__conf_member__init(&s->members[i]);
        s->members[i].id = m->conf.members[i].id;
        s->members[i].learner = m->conf.members[i].learner;
        s->member_ptrs[i] = &s->members[i];
    }
    s->snap.n_members = n;
    s->snap.members = n > 0 ? s->member_ptrs : NULL;
    s->msg.snap = &s->snap;
}

static int scratch_build(struct scratch *s, const struct raft_message *m)
{
    memset(s, 0, sizeof(*s));
    metastore__raft__message__init(&s->msg);
    Metastore__Raft__Message *pb = &s->msg;
    pb->type = (Metastore__Raft__MessageType)m->type;
    pb->flags = m->flags;
    pb->from = m->from;
    pb->to = m->to;
    pb->term = m->term;
    pb->log_term = m->log_term;
    pb->index = m->index;
    pb->commit = m->commit;
    pb->reject = m->reject;
    pb->reject_hint = m->reject_hint;
    pb->hint_term = m->hint_term;
    pb->seq = m->seq;
    pb->ctx = m->ctx;
    pb->snap_offset = m->snap_offset;
    pb->snap_last = m->snap_last;
    pb->snap_data.len = m->snap_data != NULL ? m->snap_len : 0;
    pb->snap_data.data = m->snap_data;
    if (!snap_meta_empty(&m->snap))
        scratch_snap(s, &m->snap);
    if (m->n_entries == 0 || m->entries == NULL)
        return 0;
    s->entries = calloc(m->n_entries, sizeof(*s->entries));
    s->entry_ptrs = calloc(m->n_entries, sizeof(*s->entry_ptrs));
    if (s->entries == NULL || s->entry_ptrs == NULL) {
        scratch_free(s);
        return PEER_ENOMEM;
    }
    for (size_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        Metastore__Raft__Entry *pe = &s->entries[i];
        metastore__raft__entry__init(pe);
        pe->term = e->term;
        pe->index = e->index;
        pe->type = (Metastore__Raft__EntryType)e->type;
        pe->data.len = e->data != NULL ? e->len : 0;
        pe->data.data = e->data;
        s->entry_ptrs[i] = pe;
    }
    pb->n_entries = m->n_entries;
    pb->entries = s->entry_ptrs;
    return 0;
}

static size_t varint_put(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t peer_codec_record_size(const struct raft_message *m)
{
    struct scratch s;
    if (scratch_build(&s, m) != 0)
        return 0;
    size_t body = protobuf_c_message_get_packed_size(&s.msg.base);
    scratch_free(&s);
    return 1 + varint_len(body) + body;
}

int peer_codec_append_record(struct peer_buf *b, const struct raft_message *m)
{
    struct scratch s;
    int rc = scratch_build(&s, m);
    if (rc != 0)
        return rc;
    size_t body = protobuf_c_message_get_packed_size(&s.msg.base);
    rc = peer_buf_reserve(b, 1 + VARINT_MAX_BYTES + body);
    if (rc == 0) {
        uint8_t *p = b->data + b->len;
        size_t n = 0;
        p[n++] = BATCH_MSGS_TAG;
        n += varint_put(p + n, body);
        n += protobuf_c_message_pack(&s.msg.base, p + n);
        b->len += n;
    }
    scratch_free(&s);
    return rc;
}

int peer_codec_encode_batch(struct peer_buf *b, const struct raft_message *msgs,
                            size_t n)
{
    size_t start = b->len;
    for (size_t i = 0; i < n; i++) {
        int rc = peer_codec_append_record(b, &msgs[i]);
        if (rc != 0) {
            b->len = start;
            return rc;
        }
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------ */

static uint8_t *copy_bytes(const ProtobufCBinaryData *d, int *rc)
{
    if (d->len == 0)
        return NULL;
    uint8_t *p = malloc(d->len);
    if (p == NULL)
        *rc = PEER_ENOMEM;
    else
        memcpy(p, d->data, d->len);
    return p;
}

static int entries_from_pb(const Metastore__Raft__Message *pb,
                           struct raft_message *m)
{
    if (pb->n_entries > PEER_CODEC_MAX_ENTRIES)
        return PEER_ETOOBIG;
    m->entries = calloc(pb->n_entries, sizeof(*m->entries));
    if (m->entries == NULL)
        return PEER_ENOMEM;
    m->n_entries = pb->n_entries;
    for (size_t i = 0; i < pb->n_entries; i++) {
        const Metastore__Raft__Entry *pe = pb->entries[i];
        struct raft_entry *e = &m->entries[i];
        uint32_t type = (uint32_t)pe->type;
        if (type != RAFT_ENTRY_NORMAL && type != RAFT_ENTRY_CONF_CHANGE)
            return PEER_EMALFORMED;
        if (pe->data.len > UINT32_MAX)
            return PEER_ETOOBIG;
        e->term = pe->term;
        e->index = pe->index;
        e->type = type;
        e->len = (uint32_t)pe->data.len;
        int rc = 0;
        e->data = copy_bytes(&pe->data, &rc);
        if (rc != 0) {
            e->len = 0;
            return rc;
        }
    }
    return 0;
}

static int snap_from_pb(const Metastore__Raft__SnapshotMeta *ps,
                        struct raft_snapshot_meta *out)
{
    if (ps->n_members > RAFT_MAX_MEMBERS)
        return PEER_EMALFORMED;
    out->index = ps->index;
    out->term = ps->term;
    out->size = ps->size;
    out->conf.n = (uint32_t)ps->n_members;
    for (size_t i = 0; i < ps->n_members; i++) {
        raft_id id = ps->members[i]->id;
        if (id == RAFT_NONE)
            return PEER_EMALFORMED;
        for (size_t j = 0; j < i; j++)
            if (out->conf.members[j].id == id)
                return PEER_EMALFORMED; /* a member listed twice */
        out->conf.members[i].id = id;
        out->conf.members[i].learner = ps->members[i]->learner != 0;
    }
    return 0;
}

/* Fills *m from *pb after checking it; on failure m's parts are freed. */
static int msg_from_pb(const Metastore__Raft__Message *pb,
                       struct raft_message *m)
{
    memset(m, 0, sizeof(*m));
    uint32_t type = (uint32_t)pb->type;
    if (type < RAFT_MSG_APPEND || type > RAFT_MSG_READ_INDEX_RESP)
        return PEER_EMALFORMED;
    if ((pb->flags & ~RAFT_MSG_FLAG_TRANSFER) != 0)
        return PEER_EMALFORMED;
    if (pb->from == RAFT_NONE || pb->to == RAFT_NONE)
        return PEER_EMALFORMED;
    /* Only appends carry entries; only snapshot chunks carry data. */
    if (pb->n_entries > 0 && type != RAFT_MSG_APPEND)
        return PEER_EMALFORMED;
    if (pb->snap_data.len > 0 && type != RAFT_MSG_SNAPSHOT)
        return PEER_EMALFORMED;
    m->type = type;
    m->flags = pb->flags;
    m->from = pb->from;
    m->to = pb->to;
    m->term = pb->term;
    m->log_term = pb->log_term;
    m->index = pb->index;
    m->commit = pb->commit;
    m->reject = pb->reject != 0;
    m->reject_hint = pb->reject_hint;
    m->hint_term = pb->hint_term;
    m->seq = pb->seq;
    m->ctx = pb->ctx;
    m->snap_offset = pb->snap_offset;
    m->snap_last = pb->snap_last != 0;
    int rc = 0;
    if (pb->snap != NULL)
        rc = snap_from_pb(pb->snap, &m->snap);
    if (rc == 0 && pb->n_entries > 0)
        rc = entries_from_pb(pb, m);
    if (rc == 0 && pb->snap_data.len > 0) {
        m->snap_data = copy_bytes(&pb->snap_data, &rc);
        m->snap_len = m->snap_data != NULL ? pb->snap_data.len : 0;
    }
    if (rc != 0)
        raft_message_free_parts(m);
    return rc;
}

void peer_codec_free_msgs(struct raft_message *msgs, size_t n)
{
    if (msgs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        raft_message_free_parts(&msgs[i]);
    free(msgs);
}

int peer_codec_decode_batch(const uint8_t *body, size_t len,
                            struct raft_message **msgs, size_t *n)
{
    *msgs = NULL;
    *n = 0;
    Metastore__Raft__Batch *b = metastore__raft__batch__unpack(NULL, len, body);
    if (b == NULL)
        return PEER_EMALFORMED;
    int rc = 0;
    struct raft_message *out = NULL;
    size_t done = 0;
    if (b->n_msgs > PEER_CODEC_MAX_MSGS) {
        rc = PEER_ETOOBIG;
    } else if (b->n_msgs > 0) {
        out = calloc(b->n_msgs, sizeof(*out));
        if (out == NULL)
            rc = PEER_ENOMEM;
    }
    for (; rc == 0 && done < b->n_msgs; done++)
        rc = msg_from_pb(b->msgs[done], &out[done]);
    if (rc == 0) {
        *msgs = out;
        *n = b->n_msgs;
    } else {
        /* msg_from_pb freed the failing message's own parts. */
        peer_codec_free_msgs(out, done > 0 ? done - 1 : 0);
    }
    metastore__raft__batch__free_unpacked(b, NULL);
    return rc;
}
