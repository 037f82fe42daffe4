/*
 * net.h - a test network of Raft cores for the raft/ unit tests.
 *
 * In the spirit of etcd's raft_test.go `network`: N nodes, each a struct
 * raft on its own raft_memstore, wired together by a FIFO message queue the
 * test drives by hand.  Nothing here reads a clock or sleeps: time is
 * `net->now_ns`, advanced only by net_tick_all() or by the test itself.
 *
 * The fixture plays the driver of raft.h faithfully:
 *   raft_ready -> queue rd.msgs -> reassemble snapshot chunks -> record
 *   committed entries, read states, soft state and conf changes ->
 *   raft_advance -> (durable at once, unless the node's persistence is held)
 *   install snapshot, set hard state, append entries to the memstore,
 *   queue rd.msgs_after_persist, raft_persisted().
 *
 * Every message sent is recorded in net->log (pointers stripped) with
 * whether it came out of msgs_after_persist and whether it was dropped, so
 * tests can count messages by type and peer.
 *
 * Faults: cut links (one way or both), isolate a node, drop a message type,
 * a custom drop filter, crash (keeps only what was made durable) and
 * restart, and holding a node's persistence (its batches stay "in flight"
 * until net_release_persist()).
 *
 * Anything the fixture finds wrong with the core's output (a committed
 * entry out of order, a snapshot whose chunks do not add up, a ready loop
 * that never ends) is recorded in net->err; tests check net_ok().
 */
#ifndef METASTORE_TEST_RAFT_NET_H
#define METASTORE_TEST_RAFT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define NET_MAX_NODES 8

/* Nanoseconds added to net->now_ns by each net_tick_all() step. */
#define NET_TICK_NS 1000000ull

struct net_opts {
    size_t n_voters;   /* ids 1..n_voters bootstrap as voters */
    size_t n_learners; /* ids n_voters+1.. bootstrap as learners */
    unsigned election_tick;
    unsigned heartbeat_tick;
    bool pre_vote;
    bool check_quorum;
    unsigned max_inflight;
    uint64_t max_msg_bytes;
    uint64_t seed; /* node i gets seed * 1000 + i */
    bool disable_leader_stickiness;
};

/* Fills `o` with the defaults: et 10, hb 2, pre_vote and check_quorum on,
 * max_inflight 64, max_msg_bytes 1 MiB, seed 1. */
void net_default_opts(struct net_opts *o, size_t n_voters);

/* One recorded message (entries and snapshot data pointers cleared). */
struct net_rec {
    struct raft_message m;
    uint64_t entry_bytes; /* sum of entry data lengths */
    bool after_persist;   /* came out of msgs_after_persist */
    bool dropped;         /* never delivered (cut, filter, down node) */
};

/* A ready batch whose persistence is being held. */
struct net_pending {
    struct raft_ready rd;
};

struct net_node {
    raft_id id;
    bool present; /* a slot in use */
    bool up;      /* running (not crashed) */
    struct raft *r;
    struct raft_memstore *ms;
    struct raft_config cfg;

    /* Entries handed out in ready.committed, copied (data owned). */
    struct raft_entry *applied;
    size_t n_applied, cap_applied;
    raft_index applied_index; /* last applied, or snapshot index */

    /* Read states handed out, in order. */
    struct raft_read_state *reads;
    size_t n_reads, cap_reads;

    /* Latest soft state seen in a batch, and how many times it changed. */
    struct raft_soft_state soft;
    unsigned n_soft_changes;
    unsigned n_became_leader;
    unsigned n_became_candidate; /* CANDIDATE or PRE_CANDIDATE */

    /* Latest configuration reported by conf_changed. */
    bool have_conf;
    struct raft_conf conf;

    /* Snapshot reassembly from chunks; last installed snapshot. */
    uint8_t *snap_buf;
    size_t snap_len, snap_cap;
    unsigned n_chunks;
    unsigned n_snapshots_installed;
    struct raft_snapshot_meta installed;

    /* Held persistence. */
    bool hold;
    struct net_pending *pending;
    size_t n_pending, cap_pending;

    unsigned step_errors; /* raft_step() failures on delivered messages */
};

/* Returns true to drop message `m`. */
typedef bool (*net_filter_cb)(void *data, const struct raft_message *m);

struct net {
    struct net_opts opts;
    struct raft_conf boot; /* the bootstrap configuration */
    struct net_node nodes[NET_MAX_NODES + 1]; /* index = id */
    uint64_t now_ns;

    /* FIFO of messages waiting for delivery (deep copies). */
    struct raft_message *q;
    size_t q_head, q_len, q_cap;

    bool cut[NET_MAX_NODES + 1][NET_MAX_NODES + 1]; /* [from][to] */
    bool drop_type[RAFT_MSG_READ_INDEX_RESP + 1];
    net_filter_cb filter;
    void *filter_data;

    struct net_rec *log;
    size_t n_log, cap_log;

    char err[256]; /* first fixture-detected problem, "" when none */
};

/* Creates and bootstraps the nodes of `o`.  Aborts the test on failure. */
struct net *net_create(const struct net_opts *o);
void net_destroy(struct net *net);

/* net_create(), then elects `leader` (raft_campaign + stabilize) and runs
 * heartbeat_tick ticks so that every follower knows the commit index.
 * Fails the running Check test if `leader` does not win. */
struct net *net_start(const struct net_opts *o, raft_id leader);

/* For Check tests: fails the test with the fixture's first error. */
#define net_assert_ok(net) ck_assert_msg(net_ok(net), "fixture: %s", (net)->err)

/* Adds node `id` with empty storage and no bootstrap (joins a cluster). */
void net_add_node(struct net *net, raft_id id);

struct net_node *net_node(struct net *net, raft_id id);
struct raft *net_raft(struct net *net, raft_id id);

/* True when the fixture has found nothing wrong; net->err says what. */
bool net_ok(const struct net *net);

/* Drains every ready batch of node `id` / of every running node. */
void net_process_node(struct net *net, raft_id id);
void net_process(struct net *net);
/* Delivers every message queued so far (not ones produced meanwhile);
 * returns how many were delivered. */
size_t net_deliver(struct net *net);
/* One round: process every node, then deliver the queue. */
void net_round(struct net *net);
/* Rounds until no message is queued and no node has a ready batch.
 * Returns the number of rounds (records an error beyond 1000). */
unsigned net_stabilize(struct net *net);

/* `n` times: now += NET_TICK_NS, tick every running node, stabilize. */
void net_tick_all(struct net *net, unsigned n);
/* `n` ticks of node `id` alone (processing its ready after each). */
void net_tick_node(struct net *net, raft_id id, unsigned n);

/* raft_campaign(id) and stabilize; returns raft_leader(id). */
raft_id net_elect(struct net *net, raft_id id);
/* The running node that is leader in the highest term, or RAFT_NONE. */
raft_id net_leader(struct net *net);

/* Faults. */
void net_cut(struct net *net, raft_id a, raft_id b); /* both ways */
void net_cut_oneway(struct net *net, raft_id from, raft_id to);
void net_isolate(struct net *net, raft_id id);
void net_heal(struct net *net); /* restores every link and type */
void net_drop_type(struct net *net, uint32_t type, bool drop);
void net_set_filter(struct net *net, net_filter_cb cb, void *data);
/* Crash: the core is destroyed, held batches are lost, storage stays. */
void net_crash(struct net *net, raft_id id);
/* Rebuilds node `id` from its memstore; returns raft_create()'s code. */
int net_restart(struct net *net, raft_id id);
/* Hold persistence of `id`'s batches (msgs_after_persist and
 * raft_persisted wait) until released. */
void net_hold_persist(struct net *net, raft_id id, bool hold);
/* Makes held batches durable, in order, and keeps holding if set. */
void net_release_persist(struct net *net, raft_id id);
/* Makes only the oldest held batch durable; false when none is held. */
bool net_release_one(struct net *net, raft_id id);

/* Proposes the NUL-terminated string `s` on `id`; returns raft_propose's
 * code.  *index may be NULL. */
int net_propose(struct net *net, raft_id id, const char *s, raft_index *index);
/* True when node `id` has applied a normal entry with data `s`. */
bool net_applied_has(const struct net *net, raft_id id, const char *s);
/* The applied entry of node `id` with that index, or NULL. */
const struct raft_entry *net_applied_at(const struct net *net, raft_id id,
                                        raft_index index);
/* Checks that every two nodes applied the same entries at the same index
 * (State Machine Safety); records an error otherwise and returns false. */
bool net_check_applied(struct net *net);

/* Counts recorded messages; 0 is a wildcard for type, from and to. */
size_t net_count(const struct net *net, uint32_t type, raft_id from,
                 raft_id to);
void net_log_clear(struct net *net);

/* The driver's snapshot: stores `data` as node `id`'s snapshot at `index`
 * (<= its applied index; conf = the node's current configuration), which
 * compacts its log up to `index`.  Returns raft_memstore_set_snapshot's
 * code. */
int net_compact(struct net *net, raft_id id, raft_index index,
                const void *data, size_t len);

/* Term of entry `i` in node `id`'s storage (0 when unavailable). */
raft_term net_store_term(struct net *net, raft_id id, raft_index i);
raft_index net_store_last(struct net *net, raft_id id);

#endif /* METASTORE_TEST_RAFT_NET_H */
