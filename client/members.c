/*
 * members.c - the membership and operator calls of the client library:
 * ms_member_list, ms_member_add, ms_member_remove, ms_member_promote,
 * ms_move_leader and the test-only ms_fault.
 *
 * Happy path: check the arguments locally, build the request on the stack,
 * run it through ms__run() (which follows NOT_LEADER redirects to the
 * leader) and hand back the result that result.c decodes.
 * Failure modes: bad arguments are refused before anything is sent
 * (MS_EINVAL); a change the server refuses comes back with its status and
 * message.  Only MemberList and Fault are idempotent: a membership change or
 * a leadership transfer whose connection broke after the request left may
 * already have happened, so it is not resent on another endpoint.
 */
#include "client/internal.h"

#include <string.h>

/* "http://host:port" -> "host:port"; NULL for an address that is not a
 * plain "host:port" with an explicit port. */
static const char *plain_addr(const char *addr)
{
    char host[256];
    uint16_t port;
    if (addr == NULL) {
        return NULL;
    }
    const char *a = strncmp(addr, "http://", 7) == 0 ? addr + 7 : addr;
    size_t n = strlen(a);
    /* A bare host (or a bare IPv6 address) would silently get the client
     * port 2379: the port must be explicit. */
    const char *colon = strrchr(a, ':');
    if (n == 0 || a[n - 1] == '/' || colon == NULL || a[n - 1] == ']' ||
        (a[0] != '[' && strchr(a, ':') != colon) ||
        ms_endpoint_parse(a, host, sizeof(host), &port) != 0) {
        return NULL;
    }
    return a;
}

int ms_member_list(struct ms_client *c, struct ms_result **out)
{
    *out = NULL;
    Metastore__MemberListRequest req = METASTORE__MEMBER_LIST_REQUEST__INIT;
    return ms__run(c, MS__METHOD_MEMBER_LIST, &req.base,
                   &metastore__member_list_response__descriptor, true,
                   MS_RESULT_MEMBER_LIST, out);
}

int ms_member_add(struct ms_client *c, const char *name, const char *peer_addr,
                  const char *client_addr, bool is_learner,
                  struct ms_result **out)
{
    *out = NULL;
    const char *peer = plain_addr(peer_addr);
    const char *client = "";
    if (client_addr != NULL && client_addr[0] != '\0') {
        client = plain_addr(client_addr);
    }
    if (name == NULL || name[0] == '\0') {
        ms__client_set_errmsg(c, "member add: a member name is required");
        return MS_EINVAL;
    }
    if (peer == NULL || client == NULL) {
        ms__client_set_errmsg(c,
                              "member add: %s address \"%s\" is not "
                              "host:port",
                              peer == NULL ? "peer" : "client",
                              peer == NULL ? (peer_addr ? peer_addr : "")
                                           : client_addr);
        return MS_EINVAL;
    }
    Metastore__Member m = METASTORE__MEMBER__INIT;
    m.name = (char *)(uintptr_t)name;
    m.peer_addr = (char *)(uintptr_t)peer;
    m.client_addr = (char *)(uintptr_t)client;
    m.is_learner = is_learner;
    Metastore__MemberAddRequest req = METASTORE__MEMBER_ADD_REQUEST__INIT;
    req.member = &m;
    req.is_learner = is_learner;
    return ms__run(c, MS__METHOD_MEMBER_ADD, &req.base,
                   &metastore__member_add_response__descriptor, false,
                   MS_RESULT_MEMBER_ADD, out);
}

int ms_member_remove(struct ms_client *c, uint64_t id, struct ms_result **out)
{
    *out = NULL;
    if (id == 0) {
        ms__client_set_errmsg(c, "member remove: member id 0 is not valid");
        return MS_EINVAL;
    }
    Metastore__MemberRemoveRequest req = METASTORE__MEMBER_REMOVE_REQUEST__INIT;
    req.id = id;
    return ms__run(c, MS__METHOD_MEMBER_REMOVE, &req.base,
                   &metastore__member_remove_response__descriptor, false,
                   MS_RESULT_MEMBER_REMOVE, out);
}

int ms_member_promote(struct ms_client *c, uint64_t id, struct ms_result **out)
{
    *out = NULL;
    if (id == 0) {
        ms__client_set_errmsg(c, "member promote: member id 0 is not valid");
        return MS_EINVAL;
    }
    Metastore__MemberPromoteRequest req =
        METASTORE__MEMBER_PROMOTE_REQUEST__INIT;
    req.id = id;
    return ms__run(c, MS__METHOD_MEMBER_PROMOTE, &req.base,
                   &metastore__member_promote_response__descriptor, false,
                   MS_RESULT_MEMBER_PROMOTE, out);
}

int ms_move_leader(struct ms_client *c, uint64_t target_id,
                   struct ms_result **out)
{
    *out = NULL;
    if (target_id == 0) {
        ms__client_set_errmsg(c, "move-leader: member id 0 is not valid");
        return MS_EINVAL;
    }
    Metastore__MoveLeaderRequest req = METASTORE__MOVE_LEADER_REQUEST__INIT;
    req.target_id = target_id;
    return ms__run(c, MS__METHOD_MOVE_LEADER, &req.base,
                   &metastore__move_leader_response__descriptor, false,
                   MS_RESULT_MOVE_LEADER, out);
}

int ms_fault(struct ms_client *c, enum ms_fault_action action, uint64_t peer_id,
             struct ms_result **out)
{
    *out = NULL;
    if (action < MS_FAULT_DROP_PEER || action > MS_FAULT_RESUME_APPLY ||
        ((action == MS_FAULT_DROP_PEER || action == MS_FAULT_HEAL_PEER) &&
         peer_id == 0)) {
        ms__client_set_errmsg(c, "fault: unknown action or missing peer id");
        return MS_EINVAL;
    }
    Metastore__FaultRequest req = METASTORE__FAULT_REQUEST__INIT;
    /* Our enum uses the protocol's numbers (checked by a unit test). */
    req.action = (Metastore__FaultRequest__Action)action;
    req.peer_id = peer_id;
    return ms__run(c, MS__METHOD_FAULT, &req.base,
                   &metastore__fault_response__descriptor, true,
                   MS_RESULT_FAULT, out);
}
