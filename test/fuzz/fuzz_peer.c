/*
 * fuzz_peer.c - libFuzzer target for the peer message path: a Batch body
 * decoded by peer_codec_decode_batch() (server/peer_codec.c), then every
 * decoded message stepped into a throwaway Raft core (raft/), which is what
 * a member's peer connection does with whatever the network delivers.
 *
 * Input layout: byte 0 picks the core's starting state (bit 0: a leader of
 * term 2 that has committed its first entry, else a fresh follower; bit 1:
 * PreVote and CheckQuorum on), the rest is the Batch body.
 *
 * The core is node 1 of a bootstrapped three-voter cluster {1, 2, 3} on a
 * raft_memstore.  Like server/peer.c, a message is stepped only when it is
 * addressed to this node and comes from some other non-zero id (the peer
 * transport drops the rest); `to` is set to 1 so that the fuzzer reaches the
 * core without having to guess it.  After each step the ready batches are
 * carried out as a faithful driver would (persist, advance, raft_persisted)
 * and a tick is given now and then, so the core's later steps run on the
 * state the hostile messages left behind.
 *
 * Checks: no crash or sanitizer report in the decoder or the core; a
 * decoded message re-encodes to a record that decodes again; committed
 * entries come out in order without gaps; snapshot chunks handed to the
 * driver add up to the snapshot installed; the memstore accepts every
 * entry batch the core asks to persist.  A violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"
#include "server/peer_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SNAP_MAX (1u << 20) /* snapshot bytes the driver will gather */

struct fuzz_node {
    struct raft_memstore *ms;
    struct raft *r;
    raft_index applied;
    uint64_t now;
    uint8_t *snap;
    size_t snap_len;
};

static void fuzz_die(const char *what, long long a, long long b)
{
    fprintf(stderr, "fuzz_peer: %s (%lld, %lld)\n", what, a, b);
    abort();
}

static void fuzz_take_chunk(struct fuzz_node *n,
                            const struct raft_snapshot_chunk *c)
{
    if (c->offset == 0)
        n->snap_len = 0;
    if (c->offset != n->snap_len)
        fuzz_die("snapshot chunk out of order", (long long)c->offset,
                 (long long)n->snap_len);
    if (n->snap_len + c->len > FUZZ_SNAP_MAX)
        fuzz_die("snapshot larger than any fuzz input", (long long)c->len, 0);
    uint8_t *p = realloc(n->snap, n->snap_len + c->len + 1);
    if (p == NULL)
        fuzz_die("out of memory", 0, 0);
    n->snap = p;
    if (c->len > 0)
        memcpy(n->snap + n->snap_len, c->data, c->len);
    n->snap_len += c->len;
}

/* Carries out one ready batch: the order of raft.h's driver contract. */
static void fuzz_handle_ready(struct fuzz_node *n, struct raft_ready *rd)
{
    if (rd->has_chunk)
        fuzz_take_chunk(n, &rd->chunk);
    for (size_t i = 0; i < rd->n_committed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        if (e->index != n->applied + 1)
            fuzz_die("committed entry out of order", (long long)e->index,
                     (long long)n->applied);
        n->applied = e->index;
    }
    bool persisted = rd->has_hard_state || rd->n_entries > 0 ||
                     rd->has_snapshot || rd->has_chunk;
    raft_advance(n->r, rd);
    if (rd->has_snapshot) {
        if (rd->snapshot.size != n->snap_len)
            fuzz_die("installed snapshot size differs from its chunks",
                     (long long)rd->snapshot.size, (long long)n->snap_len);
        if (raft_memstore_set_snapshot(n->ms, &rd->snapshot, n->snap) != 0)
            fuzz_die("memstore refused the installed snapshot",
                     (long long)rd->snapshot.index, 0);
        if (rd->snapshot.index > n->applied)
            n->applied = rd->snapshot.index;
    }
    if (rd->has_hard_state)
        raft_memstore_set_hard_state(n->ms, &rd->hs);
    if (rd->n_entries > 0) {
        int rc = raft_memstore_append(n->ms, rd->entries, rd->n_entries);
        if (rc != 0)
            fuzz_die("memstore refused entries the core persisted",
                     (long long)rd->entries[0].index, rc);
    }
    if (persisted)
        raft_persisted(n->r, rd->persist_index, rd->persist_term, n->now);
    raft_ready_free(rd);
}

static void fuzz_drain(struct fuzz_node *n)
{
    for (int guard = 0; raft_has_ready(n->r); guard++) {
        if (guard > 1000)
            fuzz_die("ready batches never end", guard, 0);
        struct raft_ready rd;
        memset(&rd, 0, sizeof rd);
        if (raft_ready(n->r, &rd) != 0)
            fuzz_die("raft_ready failed", 0, 0);
        fuzz_handle_ready(n, &rd);
    }
}

static int fuzz_node_start(struct fuzz_node *n, bool leader, bool pre_vote)
{
    struct raft_conf boot;
    memset(n, 0, sizeof *n);
    memset(&boot, 0, sizeof boot);
    boot.n = 3;
    for (uint32_t i = 0; i < 3; i++)
        boot.members[i].id = i + 1;
    n->ms = raft_memstore_create();
    if (n->ms == NULL)
        return -1;
    struct raft_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.id = 1;
    cfg.storage = raft_memstore_storage(n->ms);
    cfg.election_tick = 10;
    cfg.heartbeat_tick = 2;
    cfg.pre_vote = pre_vote;
    cfg.check_quorum = pre_vote;
    cfg.max_inflight = 8;
    cfg.max_msg_bytes = 64 * 1024;
    cfg.seed = 7;
    cfg.bootstrap = &boot;
    if (raft_create(&cfg, &n->r) != 0) {
        raft_memstore_destroy(n->ms);
        return -1;
    }
    n->now = 1000000;
    fuzz_drain(n);
    if (!leader)
        return 0;
    /* Win an election with node 2's vote (after its pre-vote). */
    raft_campaign(n->r, n->now);
    fuzz_drain(n);
    for (int round = 0; round < 2; round++) {
        struct raft_message m;
        memset(&m, 0, sizeof m);
        m.from = 2;
        m.to = 1;
        m.term = raft_term_of(n->r) + (pre_vote && round == 0 ? 1 : 0);
        m.type = pre_vote && round == 0 ? RAFT_MSG_PRE_VOTE_RESP
                                        : RAFT_MSG_VOTE_RESP;
        raft_step(n->r, &m, n->now);
        fuzz_drain(n);
    }
    /* Node 2 acknowledges the leader's empty entry: it commits. */
    struct raft_message ack;
    memset(&ack, 0, sizeof ack);
    ack.type = RAFT_MSG_APPEND_RESP;
    ack.from = 2;
    ack.to = 1;
    ack.term = raft_term_of(n->r);
    ack.index = raft_last_index(n->r);
    raft_step(n->r, &ack, n->now);
    fuzz_drain(n);
    return 0;
}

static void fuzz_node_stop(struct fuzz_node *n)
{
    raft_destroy(n->r);
    raft_memstore_destroy(n->ms);
    free(n->snap);
}

/* Encoding what was decoded must give a record that decodes again. */
static void fuzz_roundtrip(const struct raft_message *m)
{
    struct peer_buf b;
    peer_buf_init(&b);
    if (peer_codec_append_record(&b, m) != 0)
        fuzz_die("a decoded message does not encode", (long long)m->type, 0);
    struct raft_message *again = NULL;
    size_t n = 0;
    int rc = peer_codec_decode_batch(b.data, b.len, &again, &n);
    if (rc != 0 || n != 1)
        fuzz_die("a re-encoded message does not decode", rc, (long long)n);
    if (again[0].type != m->type || again[0].term != m->term ||
        again[0].index != m->index || again[0].n_entries != m->n_entries ||
        again[0].snap_len != m->snap_len)
        fuzz_die("a re-encoded message decodes differently", (long long)m->type,
                 0);
    peer_codec_free_msgs(again, n);
    peer_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct raft_message *msgs = NULL;
    size_t n = 0;
    if (peer_codec_decode_batch(data + 1, size - 1, &msgs, &n) != 0)
        return 0; /* the transport closes the connection */
    struct fuzz_node node;
    if (fuzz_node_start(&node, data[0] & 1, (data[0] & 2) != 0) != 0)
        fuzz_die("cannot start the core", 0, 0);
    for (size_t i = 0; i < n; i++) {
        struct raft_message *m = &msgs[i];
        fuzz_roundtrip(m);
        if (m->from == RAFT_NONE || m->from == 1)
            continue; /* peer.c never passes these on */
        m->to = 1;
        raft_step(node.r, m, node.now);
        fuzz_drain(&node);
        if (i % 4 == 3) {
            node.now += 1000000;
            raft_tick(node.r, node.now);
            fuzz_drain(&node);
        }
    }
    fuzz_node_stop(&node);
    peer_codec_free_msgs(msgs, n);
    return 0;
}
