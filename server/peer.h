/*
 * peer.h - the peer transport of metastored: Raft messages and forwarded
 * client requests between cluster members, over TCP on the peer port.
 *
 * Model: this node dials one outgoing connection to every peer it knows
 * and accepts connections from peers on listen_addr.  Raft messages to X
 * always travel on our outgoing connection to X; X's messages to us come
 * on the connection X dialed.  PEER_FORWARD requests go out on our
 * outgoing connection and their responses come back on it; forwards
 * received on an accepted connection are answered on that connection.
 * So each pair of members has two TCP connections, one per direction.
 *
 * A dialed connection starts with Hello {cluster_id, from, to, addr,
 * version}; the acceptor answers HelloResponse.  A wrong cluster id or a
 * wrong `to` is refused (FAILED_PRECONDITION / NOT_FOUND), logged once on
 * both sides, and the dialer backs off.  Dials are retried with a capped,
 * jittered exponential backoff.  Protocol reference: docs/protocol.md,
 * section "Peer transport".
 *
 * Nothing here blocks: sends are encoded at once into a per-peer queue
 * whose bytes (queued plus not yet taken by the kernel) are bounded, and
 * anything beyond the bound, or sent while the peer is down, is dropped and
 * counted; Raft retransmits.  One write per peer per peer_transport_flush().
 *
 * Threading: everything runs on the loop thread that owns `loop`.
 * Errors: functions returning int return 0 or a negative PEER_E* code
 * (server/peer_codec.h, peer_strerror()) or a libuv code.
 */
#ifndef METASTORE_SERVER_PEER_H
#define METASTORE_SERVER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raft/raft.h"
#include "server/peer_codec.h"

struct peer_transport;
struct srv_tls_ctx;
/* A forwarded request waiting for its answer (see on_forward). */
struct peer_forward_token;

struct peer_callbacks {
    void *data;
    /*
     * A Raft message arrived from a peer, addressed to this node (m->to ==
     * self, m->from == the id the sending connection said hello with).
     * Borrowed: valid during the call only (copy what you keep; the parts
     * are freed after the call returns).
     */
    void (*on_message)(void *data, const struct raft_message *m);
    /*
     * A forwarded client request arrived from member `from` (method and
     * body as the client sent them, body borrowed for the call; timeout_ms:
     * what the client had left, 0 = server default).  Answer it exactly
     * once, now or later, with peer_forward_reply(token, ...).  May be NULL:
     * forwards are then answered UNIMPLEMENTED.
     */
    void (*on_forward)(void *data, raft_id from, uint16_t method,
                       const uint8_t *body, size_t len, uint64_t timeout_ms,
                       struct peer_forward_token *token);
};

struct peer_transport_options {
    /* Bytes queued for one peer (not yet written + written but not taken by
     * the kernel) beyond which sends are dropped.  Default 64 MiB. */
    uint64_t max_queue_bytes;
    /* Largest frame body sent or accepted.  Must hold the largest Raft
     * message: raft.max_msg_bytes plus room for the fields (the daemon passes
     * max_msg_bytes + 1 MiB).  Default 9 MiB. */
    uint32_t max_frame_bytes;
    /* Redial backoff: the first retry after backoff_min_ms, doubling per
     * consecutive failure up to backoff_max_ms, each delay jittered down to
     * half.  Defaults 50 and 2000. */
    uint64_t backoff_min_ms;
    uint64_t backoff_max_ms;
    /* A dial that is not through connect + Hello within this fails, and an
     * accepted connection that has not sent its Hello by then is closed.
     * Default 5000. */
    uint64_t hello_timeout_ms;
    /* Seeds the jitter PRNG; 0: seeded from uv_hrtime(). */
    uint64_t seed;
    /* Sent in Hello, for the peer's logs.  Default "metastore". */
    const char *version;
    /* TLS for every connection, both directions (borrowed; must outlive the
     * transport).  NULL: plain TCP.  A dialed member must present a
     * certificate naming the host of its address. */
    struct srv_tls_ctx *tls;
};

/* Fills *o with the defaults above.  A zero field given to
 * peer_transport_create() also means "the default". */
void peer_transport_options_default(struct peer_transport_options *o);

/*
 * Creates a transport for node `self` of cluster `cluster_id` and starts
 * listening on listen_addr ("host:port" with an IP address; port 0 picks
 * an ephemeral port, see peer_transport_listen_port()).  cb is copied; opts
 * may be NULL.  On success *out owns a transport to be closed with
 * peer_transport_close().  PEER_EINVAL (self is RAFT_NONE, bad address),
 * PEER_ENOMEM, or the libuv error of bind/listen (logged).
 */
int peer_transport_create(uv_loop_t *loop, raft_id self, uint64_t cluster_id,
                          const char *listen_addr,
                          const struct peer_callbacks *cb,
                          const struct peer_transport_options *opts,
                          struct peer_transport **out);

/*
 * Closes every connection, timer and the listener.  Forwards still waiting
 * are failed with SRV_STATUS_UNAVAILABLE before this returns; forward
 * tokens not yet answered are freed (do not use them afterwards).  No
 * callback of cb runs after this returns.  `done(arg)` (may be NULL) runs
 * from the loop once every handle is closed; t is freed just before it.
 */
void peer_transport_close(struct peer_transport *t, void (*done)(void *),
                          void *arg);

/* The port the listener is bound to (useful after listening on port 0). */
int peer_transport_listen_port(const struct peer_transport *t);

/*
 * Adds peer `id` at `addr` ("host:port"; the host may be a name, resolved
 * asynchronously) and starts dialing it, or updates its address (a changed
 * address drops the current connection and redials at once).  Messages sent
 * before the connection is up wait in the queue.  PEER_EINVAL for id 0,
 * id == self, or an address that does not parse; PEER_ENOMEM; PEER_ECLOSED.
 */
int peer_transport_set_peer(struct peer_transport *t, raft_id id,
                            const char *addr);

/*
 * Forgets peer `id`: its connection closes, its queue is dropped and its
 * waiting forwards fail with UNAVAILABLE before this returns.  Unknown id:
 * nothing happens.
 */
void peer_transport_remove_peer(struct peer_transport *t, raft_id id);

/*
 * Queues m (borrowed: it is encoded at once) for peer m->to.  Never blocks.
 * Dropped and counted (logged once per burst of drops) when the peer is
 * unknown or down (backing off after a failed dial), when its queue would
 * pass max_queue_bytes, when the message alone exceeds max_frame_bytes, or
 * when the fault hook drops it.  Written by the next peer_transport_flush().
 */
void peer_transport_send(struct peer_transport *t,
                         const struct raft_message *m);

/*
 * Writes what every peer has queued, one uv_write per connection: the
 * queued Raft messages as Batch frames (several when they exceed
 * max_frame_bytes), forwarded requests, and answers to forwards.  Call
 * once per loop turn after handing out a ready batch.
 */
void peer_transport_flush(struct peer_transport *t);

/*
 * Status and body of a forward's answer, as the client should get it:
 * status SRV_STATUS_OK with the leader's reply (is_error false: the
 * method's response message; is_error true: an ErrorDetail to relay), or
 * SRV_STATUS_UNAVAILABLE (resp NULL) when the link failed, the peer was
 * removed, the transport closed, or no answer came within timeout_ms.
 * resp is borrowed for the call.
 */
typedef void (*peer_forward_cb)(void *arg, int status, const uint8_t *resp,
                                size_t resp_len, bool is_error);

/*
 * Forwards a client request to member `to` (usually the leader).  cb runs
 * exactly once, from the loop, never from inside this call.  The request is
 * written by the next peer_transport_flush().  timeout_ms 0: the answer is
 * awaited as long as the link lives (the leader applies its own default);
 * otherwise it is also sent to the leader as the client's remaining time.
 * Returns PEER_ENOTFOUND (unknown peer), PEER_EUNAVAILABLE (peer down:
 * backing off), PEER_ETOOBIG (over max_frame_bytes), PEER_ENOMEM,
 * PEER_ECLOSED; cb is not called when it returns an error.
 */
int peer_forward(struct peer_transport *t, raft_id to, uint16_t method,
                 const uint8_t *body, size_t len, uint64_t timeout_ms,
                 peer_forward_cb cb, void *arg);

/*
 * Answers a forwarded request: body (borrowed) is the reply to relay, a
 * response message (is_error false) or an ErrorDetail (is_error true).
 * Frees the token.  If its connection has closed meanwhile the answer is
 * dropped.  Written by the next peer_transport_flush().
 */
void peer_forward_reply(struct peer_transport *t,
                        struct peer_forward_token *token, bool is_error,
                        const uint8_t *body, size_t len);

/*
 * Test-only fault hook: while `drop` is set, everything to and from `id`
 * is discarded: sends and forwards to it are dropped (forwards then time
 * out), Raft messages and forwards received from it are discarded after
 * decoding.  Connections stay up, so clearing the flag heals at once.
 * Works for ids that are not (yet) peers.  PEER_ENOMEM when the drop set
 * is full (RAFT_MAX_MEMBERS ids).
 */
int peer_transport_set_drop(struct peer_transport *t, raft_id id, bool drop);

struct peer_stats {
    raft_id id;
    bool connected;          /* outgoing connection up (Hello answered OK) */
    bool dropping;           /* fault hook set for this id */
    uint64_t msgs_sent;      /* Raft messages written to the connection */
    uint64_t msgs_dropped;   /* Raft messages dropped (down, full, hook) */
    uint64_t msgs_received;  /* Raft messages received and delivered */
    uint64_t frames_sent;    /* Batch frames written */
    uint64_t bytes_sent;     /* all bytes written on the outgoing link */
    uint64_t bytes_received; /* Batch bytes received from this peer */
    uint64_t queued_bytes;   /* now: queued + not yet taken by the kernel */
    uint64_t dials;          /* connection attempts */
    uint64_t connects;       /* attempts that completed Hello */
    uint64_t refused;        /* attempts whose Hello the peer refused */
    uint64_t forwards_sent;
    uint64_t forwards_failed; /* failed with UNAVAILABLE (link, timeout) */
};

/* Statistics of peer `id`.  PEER_ENOTFOUND when not a peer. */
int peer_transport_stats(const struct peer_transport *t, raft_id id,
                         struct peer_stats *out);

/* Hellos this node has refused (other cluster, wrong member id). */
uint64_t peer_transport_hellos_refused(const struct peer_transport *t);

/* Fills out[0..cap) with every peer's statistics (in no special order) and
 * returns the number of peers (which may exceed cap). */
size_t peer_transport_stats_all(const struct peer_transport *t,
                                struct peer_stats *out, size_t cap);

#endif /* METASTORE_SERVER_PEER_H */
