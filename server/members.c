/*
 * members.c - the member table: conf change contexts and the snapshot
 * section (see members.h).
 *
 * Failure modes: a context or section that does not decode is refused with
 * -EINVAL; the caller logs it.  A conf change that names an unknown member
 * without context (only possible for bootstrap entries) keeps the id with
 * empty addresses, so the node is still listed.
 */
#include "server/members.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/metastore.pb-c.h"
#include "storage/crc32c.h"

#define SECTION_MAGIC 0x4d534d42u /* "MSMB" */
#define SECTION_MAX_BYTES (1u << 20)

struct srv_member_info *srv_members_find(struct srv_members *ms, uint64_t id)
{
    for (uint32_t i = 0; i < ms->n; i++) {
        if (ms->m[i].id == id) {
            return &ms->m[i];
        }
    }
    return NULL;
}

const struct srv_member_info *srv_members_get(const struct srv_members *ms,
                                              uint64_t id)
{
    return srv_members_find((struct srv_members *)ms, id);
}

static void to_pb(const struct srv_member_info *m, Metastore__Member *p)
{
    metastore__member__init(p);
    p->id = m->id;
    p->name = (char *)m->name;
    p->peer_addr = (char *)m->peer_addr;
    p->client_addr = (char *)m->client_addr;
    p->is_learner = m->learner;
}

static int from_pb(const Metastore__Member *p, struct srv_member_info *m)
{
    memset(m, 0, sizeof *m);
    if (strlen(p->name) >= sizeof m->name ||
        strlen(p->peer_addr) >= sizeof m->peer_addr ||
        strlen(p->client_addr) >= sizeof m->client_addr) {
        return -EINVAL;
    }
    m->id = p->id;
    m->learner = p->is_learner;
    snprintf(m->name, sizeof m->name, "%s", p->name);
    snprintf(m->peer_addr, sizeof m->peer_addr, "%s", p->peer_addr);
    snprintf(m->client_addr, sizeof m->client_addr, "%s", p->client_addr);
    return 0;
}

int srv_member_encode(const struct srv_member_info *m, uint8_t **buf,
                      size_t *len)
{
    Metastore__Member p;
    to_pb(m, &p);
    *len = metastore__member__get_packed_size(&p);
    *buf = malloc(*len > 0 ? *len : 1);
    if (*buf == NULL) {
        return -ENOMEM;
    }
    metastore__member__pack(&p, *buf);
    return 0;
}

int srv_member_decode(const uint8_t *buf, size_t len,
                      struct srv_member_info *out)
{
    Metastore__Member *p = metastore__member__unpack(NULL, len, buf);
    if (p == NULL) {
        return -EINVAL;
    }
    int rv = from_pb(p, out);
    metastore__member__free_unpacked(p, NULL);
    return rv;
}

void srv_members_apply(struct srv_members *ms, const struct raft_conf_change *cc,
                       const struct srv_config *cfg)
{
    struct srv_member_info *m = srv_members_find(ms, cc->id);
    if (cc->type == RAFT_CC_REMOVE) {
        if (m != NULL) {
            *m = ms->m[ms->n - 1];
            ms->n--;
        }
        return;
    }
    struct srv_member_info info;
    bool have_info = false;
    if (cc->ctx_len > 0) {
        have_info = srv_member_decode(cc->ctx, cc->ctx_len, &info) == 0;
    } else {
        const struct srv_member *c = srv_config_member(cfg, cc->id);
        if (c != NULL) {
            memset(&info, 0, sizeof info);
            info.id = c->id;
            snprintf(info.name, sizeof info.name, "%s", c->name);
            snprintf(info.peer_addr, sizeof info.peer_addr, "%s", c->peer_addr);
            snprintf(info.client_addr, sizeof info.client_addr, "%s",
                     c->client_addr);
            have_info = true;
        }
    }
    if (m == NULL) {
        if (ms->n >= RAFT_MAX_MEMBERS) {
            return;
        }
        m = &ms->m[ms->n++];
        memset(m, 0, sizeof *m);
        m->id = cc->id;
    }
    if (have_info) {
        /* A promotion carries no addresses: keep the ones we have. */
        if (info.peer_addr[0] != '\0' || m->peer_addr[0] == '\0') {
            snprintf(m->name, sizeof m->name, "%s", info.name);
            snprintf(m->peer_addr, sizeof m->peer_addr, "%s", info.peer_addr);
            snprintf(m->client_addr, sizeof m->client_addr, "%s",
                     info.client_addr);
        }
    }
    m->id = cc->id;
    m->learner = cc->type == RAFT_CC_ADD_LEARNER;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

int srv_members_save(const struct srv_members *ms, srv_write_fn write,
                     void *ctx)
{
    Metastore__MemberListResponse list = METASTORE__MEMBER_LIST_RESPONSE__INIT;
    Metastore__Member pbs[RAFT_MAX_MEMBERS];
    Metastore__Member *ptrs[RAFT_MAX_MEMBERS];
    for (uint32_t i = 0; i < ms->n; i++) {
        to_pb(&ms->m[i], &pbs[i]);
        ptrs[i] = &pbs[i];
    }
    list.n_members = ms->n;
    list.members = ptrs;
    size_t len = metastore__member_list_response__get_packed_size(&list);
    uint8_t *buf = malloc(len + 12);
    if (buf == NULL) {
        return -ENOMEM;
    }
    put_u32(buf, SECTION_MAGIC);
    put_u32(buf + 4, (uint32_t)len);
    metastore__member_list_response__pack(&list, buf + 8);
    put_u32(buf + 8 + len, crc32c(buf + 8, len));
    int rv = write(ctx, buf, len + 12);
    free(buf);
    return rv;
}

/* Reads exactly len bytes through read(); -EINVAL on a short stream. */
static int read_exact(srv_read_fn read, void *ctx, uint8_t *buf, size_t len)
{
    size_t have = 0;
    while (have < len) {
        ssize_t n = read(ctx, buf + have, len - have);
        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            return -EINVAL;
        }
        have += (size_t)n;
    }
    return 0;
}

int srv_members_load(struct srv_members *ms, srv_read_fn read, void *ctx)
{
    uint8_t hdr[8];
    int rv = read_exact(read, ctx, hdr, sizeof hdr);
    if (rv != 0) {
        return rv;
    }
    uint32_t len = get_u32(hdr + 4);
    if (get_u32(hdr) != SECTION_MAGIC || len > SECTION_MAX_BYTES) {
        return -EINVAL;
    }
    uint8_t *buf = malloc((size_t)len + 4);
    if (buf == NULL) {
        return -ENOMEM;
    }
    rv = read_exact(read, ctx, buf, (size_t)len + 4);
    if (rv == 0 && crc32c(buf, len) != get_u32(buf + len)) {
        rv = -EINVAL;
    }
    Metastore__MemberListResponse *list = NULL;
    if (rv == 0) {
        list = metastore__member_list_response__unpack(NULL, len, buf);
        rv = list != NULL && list->n_members <= RAFT_MAX_MEMBERS ? 0 : -EINVAL;
    }
    if (rv == 0) {
        struct srv_members tmp;
        memset(&tmp, 0, sizeof tmp);
        for (size_t i = 0; i < list->n_members && rv == 0; i++) {
            rv = from_pb(list->members[i], &tmp.m[i]);
            tmp.n++;
        }
        if (rv == 0) {
            *ms = tmp;
        }
    }
    if (list != NULL) {
        metastore__member_list_response__free_unpacked(list, NULL);
    }
    free(buf);
    return rv;
}
