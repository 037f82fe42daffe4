/*
 * errors.c - names and texts for the Raft core's error codes and roles.
 *
 * Everything comes from the RAFT_ERRORS X-macro table in raft.h, so a new
 * code needs no change here.  Unknown codes get a fixed fallback string;
 * nothing here can fail.
 */
#include "raft/raft.h"

const char *raft_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define RAFT__ERR_TEXT(name, value, text)                                      \
    case value:                                                                \
        return text;
        RAFT_ERRORS(RAFT__ERR_TEXT)
#undef RAFT__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *raft_err_name(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define RAFT__ERR_NAME(name, value, text)                                      \
    case value:                                                                \
        return #name;
        RAFT_ERRORS(RAFT__ERR_NAME)
#undef RAFT__ERR_NAME
    default:
        return "RAFT_E?";
    }
}

const char *raft_role_name(enum raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    }
    return "unknown";
}
