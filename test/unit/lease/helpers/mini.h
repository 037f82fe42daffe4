/*
 * mini.h - a tiny cluster of real Raft cores for the lease/ unit tests.
 *
 * Up to MINI_MAX_NODES nodes on raft_memstores.  Messages are delivered
 * synchronously: processing node A's ready batch steps each message into
 * its target at once (raft_step borrows it), unless the link is cut.  A
 * response therefore arrives when the test processes the node that answers,
 * which lets a test put time between a round being SENT and its acks
 * ARRIVING.  Persistence is immediate.  Time is `m->now_ns`, moved only by
 * the test.  Nothing here reads a clock.
 */
#ifndef METASTORE_TEST_LEASE_MINI_H
#define METASTORE_TEST_LEASE_MINI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define MINI_MAX_NODES      5
#define MINI_TICK_NS        10000000ull /* 10 ms per tick */
#define MINI_ELECTION_TICK  10u         /* 100 ms */
#define MINI_HEARTBEAT_TICK 2u          /* 20 ms */
#define MINI_MAX_READS      64

struct mini {
    size_t n;
    uint64_t now_ns;
    struct raft_conf boot;
    struct raft *r[MINI_MAX_NODES + 1]; /* index = id */
    struct raft_memstore *ms[MINI_MAX_NODES + 1];
    bool cut[MINI_MAX_NODES + 1][MINI_MAX_NODES + 1]; /* [from][to] */
    raft_index applied[MINI_MAX_NODES + 1];
    struct raft_read_state reads[MINI_MAX_NODES + 1][MINI_MAX_READS];
    size_t n_reads[MINI_MAX_NODES + 1];
    int errors; /* fixture-detected problems (raft_ready failures, ...) */
};

/* Creates n voters (ids 1..n), bootstrapped, at now_ns = 1 s.  Aborts on
 * failure. */
struct mini *mini_create(size_t n);
void mini_destroy(struct mini *m);

/* Drains node id's ready batches (delivering its messages). */
void mini_process(struct mini *m, raft_id id);
/* Processes every node until nothing is left to do. */
void mini_settle(struct mini *m);
/* raft_campaign(id) then settle; returns true when id is leader. */
bool mini_elect(struct mini *m, raft_id id);
/* now += MINI_TICK_NS; raft_tick every node; settle.  `k` times. */
void mini_tick(struct mini *m, unsigned k);

#endif /* METASTORE_TEST_LEASE_MINI_H */
