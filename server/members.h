/*
 * members.h - who is in the cluster, and where they listen.
 *
 * The Raft core knows members by id only.  The server also needs each
 * member's name, peer address (for the transport) and client address (for
 * NOT_LEADER answers and `member list`).  That information travels with the
 * membership changes themselves: a conf change entry's context is an encoded
 * metastore.Member; the bootstrap entries the core writes have no context,
 * and their addresses come from cluster.initial_members, which is identical
 * on every initial member.
 *
 * Because a snapshot replaces the log that carried the conf changes, the
 * table is also saved at the front of every snapshot stream (local snapshot
 * files and InstallSnapshot alike), before the engine's data:
 *
 *     "MSMB" | u32 payload length | MemberList payload | u32 CRC-32C
 *
 * (big-endian; the payload is a metastore.MemberListResponse with only
 * `members` set).
 */
#ifndef METASTORE_SERVER_MEMBERS_H
#define METASTORE_SERVER_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raft/raft.h"
#include "server/config.h"

struct srv_member_info {
    uint64_t id;
    bool learner;
    char name[SRV_CONFIG_NAME_MAX];
    char peer_addr[SRV_CONFIG_ADDR_MAX];
    char client_addr[SRV_CONFIG_ADDR_MAX];
};

struct srv_members {
    uint32_t n;
    struct srv_member_info m[RAFT_MAX_MEMBERS];
};

/* The entry with that id, or NULL. */
struct srv_member_info *srv_members_find(struct srv_members *ms, uint64_t id);
const struct srv_member_info *srv_members_get(const struct srv_members *ms,
                                              uint64_t id);

/* Encodes m as a conf change context (a metastore.Member); *buf is
 * malloc'd.  0 or -ENOMEM. */
int srv_member_encode(const struct srv_member_info *m, uint8_t **buf,
                      size_t *len);
/* Decodes a conf change context; -EINVAL when malformed or when a string
 * does not fit. */
int srv_member_decode(const uint8_t *buf, size_t len,
                      struct srv_member_info *out);

/*
 * Applies a committed conf change to the table: an ADD fills in (or
 * updates) the member from cc->ctx, or from cfg's initial_members when the
 * context is empty (bootstrap entries); a promotion clears `learner`; a
 * REMOVE deletes the member.
 */
void srv_members_apply(struct srv_members *ms, const struct raft_conf_change *cc,
                       const struct srv_config *cfg);

typedef int (*srv_write_fn)(void *ctx, const void *buf, size_t len);
typedef ssize_t (*srv_read_fn)(void *ctx, void *buf, size_t cap);

/* Writes the snapshot section for ms. */
int srv_members_save(const struct srv_members *ms, srv_write_fn write,
                     void *ctx);
/* Reads exactly one snapshot section (no byte more) into *ms.  -EINVAL
 * when it is missing or damaged. */
int srv_members_load(struct srv_members *ms, srv_read_fn read, void *ctx);

#endif /* METASTORE_SERVER_MEMBERS_H */
