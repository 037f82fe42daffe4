/*
 * status.h - the status codes every MetaStore-C response carries.
 *
 * One table (SRV_STATUS_CODES) names each code, its number on the wire and a
 * one-line meaning.  Numbers are gRPC's where gRPC has the code, so clients
 * can map them to the error types they already know; NOT_LEADER and
 * COMPACTED have no gRPC twin and take numbers from 100 up.  The same numbers
 * are the enum StatusCode in proto/metastore.proto (a unit test checks that
 * the two agree) and the table in docs/protocol.md.
 *
 * A response with status OK carries the method's response message; any other
 * status is sent as a response frame with the ERROR flag whose body is an
 * ErrorDetail (code, message, leader id and address for NOT_LEADER).
 */
#ifndef METASTORE_SERVER_STATUS_H
#define METASTORE_SERVER_STATUS_H

/* X(name, number, meaning) */
#define SRV_STATUS_CODES(X)                                                    \
    X(OK, 0, "success")                                                        \
    X(INVALID_ARGUMENT, 3, "the request is malformed or breaks a limit")       \
    X(DEADLINE_EXCEEDED, 4, "the request timed out; it may still take effect") \
    X(NOT_FOUND, 5, "no such key, member or lease")                            \
    X(PERMISSION_DENIED, 7, "the user lacks the permission for this request")  \
    X(RESOURCE_EXHAUSTED, 8, "too many requests or connections; retry later")  \
    X(FAILED_PRECONDITION, 9, "the system is not in a state that allows it")   \
    X(UNIMPLEMENTED, 12, "unknown or not yet supported method")                \
    X(INTERNAL, 13, "a bug or an I/O failure on the server")                   \
    X(UNAVAILABLE, 14, "no leader or no quorum right now; retry")              \
    X(UNAUTHENTICATED, 16, "credentials missing or wrong")                     \
    X(NOT_LEADER, 100, "this node is not the leader; see leader_id/addr")      \
    X(COMPACTED, 101, "the requested revision has been compacted")

enum srv_status {
#define SRV__STATUS_ENUM(name, num, text) SRV_STATUS_##name = num,
    SRV_STATUS_CODES(SRV__STATUS_ENUM)
#undef SRV__STATUS_ENUM
};

/* "NOT_LEADER" for SRV_STATUS_NOT_LEADER; "UNKNOWN" for a number not in the
 * table.  Never NULL. */
const char *srv_status_name(int code);
/* The one-line meaning from the table, or "unknown status code". */
const char *srv_status_text(int code);
/* True when `code` is in the table (a status received from the network
 * must be checked before it is trusted). */
int srv_status_known(int code);

#endif /* METASTORE_SERVER_STATUS_H */
