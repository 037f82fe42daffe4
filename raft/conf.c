/*
 * conf.c - cluster configurations and membership change records.
 *
 * A conf change travels inside a RAFT_ENTRY_CONF_CHANGE entry, encoded as
 * a fixed little-endian header followed by the opaque context:
 *
 *     u8 version (1) | u8 type | u16 reserved (0) | u64 id | u32 ctx_len | ctx
 *
 * Decoding validates everything (the bytes come from disk or the network)
 * and returns RAFT_EINVAL on any mismatch.  raft_conf_apply() is the only
 * place that changes a configuration; it refuses changes that make no sense
 * with RAFT_EBADCONF and then leaves the configuration untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

#define CC_VERSION      1u
#define CC_HEADER_BYTES 16u

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int raft_conf_change_encode(const struct raft_conf_change *cc, uint8_t **buf,
                            size_t *len)
{
    if (cc == NULL || buf == NULL || len == NULL)
        return RAFT_EINVAL;
    if (cc->type > RAFT_CC_REMOVE || (cc->ctx_len > 0 && cc->ctx == NULL))
        return RAFT_EINVAL;
    size_t n = CC_HEADER_BYTES + (size_t)cc->ctx_len;
    uint8_t *p = malloc(n);
    if (p == NULL)
        return RAFT_ENOMEM;
    p[0] = (uint8_t)CC_VERSION;
    p[1] = (uint8_t)cc->type;
    p[2] = 0;
    p[3] = 0;
    put_u64(p + 4, cc->id);
    put_u32(p + 12, cc->ctx_len);
    if (cc->ctx_len > 0)
        memcpy(p + CC_HEADER_BYTES, cc->ctx, cc->ctx_len);
    *buf = p;
    *len = n;
    return 0;
}

int raft_conf_change_decode(const uint8_t *buf, size_t len,
                            struct raft_conf_change *out)
{
    if (buf == NULL || out == NULL || len < CC_HEADER_BYTES)
        return RAFT_EINVAL;
    if (buf[0] != CC_VERSION || buf[1] > RAFT_CC_REMOVE || buf[2] != 0 ||
        buf[3] != 0)
        return RAFT_EINVAL;
    uint32_t ctx_len = get_u32(buf + 12);
    if ((size_t)ctx_len != len - CC_HEADER_BYTES)
        return RAFT_EINVAL;
    out->type = buf[1];
    out->id = get_u64(buf + 4);
    out->ctx_len = ctx_len;
    out->ctx = ctx_len > 0 ? buf + CC_HEADER_BYTES : NULL;
    return 0;
}

const struct raft_member *raft_conf_find(const struct raft_conf *c, raft_id id)
{
    if (c == NULL)
        return NULL;
    for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
        if (c->members[i].id == id)
            return &c->members[i];
    return NULL;
}

uint32_t raft_conf_voters(const struct raft_conf *c)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
        if (!c->members[i].learner)
            v++;
    return v;
}

int raft_conf_apply(struct raft_conf *c, const struct raft_conf_change *cc)
{
    if (c == NULL || cc == NULL || cc->id == RAFT_NONE ||
        c->n > RAFT_MAX_MEMBERS)
        return RAFT_EBADCONF;
    struct raft_member *m = (struct raft_member *)raft_conf_find(c, cc->id);
    switch (cc->type) {
    case RAFT_CC_ADD_VOTER:
        if (m != NULL) {
            if (!m->learner)
                return RAFT_EBADCONF;
            m->learner = false; /* promotion */
            return 0;
        }
        if (c->n >= RAFT_MAX_MEMBERS)
            return RAFT_EBADCONF;
        c->members[c->n].id = cc->id;
        c->members[c->n].learner = false;
        c->n++;
        return 0;
    case RAFT_CC_ADD_LEARNER:
        /* Demoting a voter is not supported: remove it, then add it back. */
        if (m != NULL || c->n >= RAFT_MAX_MEMBERS)
            return RAFT_EBADCONF;
        c->members[c->n].id = cc->id;
        c->members[c->n].learner = true;
        c->n++;
        return 0;
    case RAFT_CC_REMOVE:
        if (m == NULL)
            return RAFT_EBADCONF;
        /* A configuration without voters could never commit again. */
        if (!m->learner && raft_conf_voters(c) == 1)
            return RAFT_EBADCONF;
        *m = c->members[c->n - 1];
        c->n--;
        memset(&c->members[c->n], 0, sizeof(c->members[c->n]));
        return 0;
    default:
        return RAFT_EBADCONF;
    }
}
