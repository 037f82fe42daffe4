/*
 * sim.h - the deterministic cluster simulator of MetaStore-C.
 *
 * Runs the real Raft core (raft/) for 1..7 nodes inside one process, on a
 * virtual clock, with a simulated network (delay, loss, duplication,
 * reordering, partitions), simulated disks (asynchronous fsync that a crash
 * can lose) and a small key-value state machine per node.  A handful of
 * clients write and read keys while faults are injected; after every event
 * the simulator checks Raft's safety properties, and at the end of a seed it
 * checks the clients' history for linearizability (test/sim/linearize.h).
 *
 * Everything that happens is a function of the seed: the simulator has its
 * own PRNG, never reads a clock and orders its events by (virtual time,
 * sequence number).  A failing seed therefore replays exactly, and with
 * `verbose` it prints every event.  docs/simulator.md describes the model.
 */
#ifndef METASTORE_SIM_H
#define METASTORE_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The largest cluster the simulator runs. */
#define SIM_MAX_NODES 7

enum sim_faults {
    SIM_FAULTS_NONE = 0, /* random delays and reordering only */
    SIM_FAULTS_NET,      /* + loss, duplication, partitions, one-way cuts */
    SIM_FAULTS_CRASH,    /* + crashes that lose unsynced writes, restarts */
    SIM_FAULTS_ALL,      /* net + crash + membership changes + transfers */
};

/*
 * How a node answers a linearizable read.  Followers always ask the leader
 * (raft_read_index); the policy of the LEADER decides whether that question
 * costs a heartbeat round or is answered from its lease.
 */
enum sim_read_policy {
    SIM_READ_INDEX = 0,  /* ReadIndex (thesis 6.4) on leader and followers */
    SIM_READ_UNSAFE = 1, /* the leader answers from local state at once:
                            NOT linearizable, the checker must catch it */
    SIM_READ_LEASE = 2,  /* leader lease (lease/lease.h) like the server:
                            with a valid lease the read index is the commit
                            index (no round), else ReadIndex; a follower's
                            READ_INDEX is answered from the lease too */
};

/* Which read policies the nodes of a seed get (--reads). */
enum sim_reads {
    SIM_READS_MIXED = 0,     /* per seed and node: lease or readindex, and
                                clients send some reads to followers */
    SIM_READS_LEASE = 1,     /* every node: SIM_READ_LEASE */
    SIM_READS_READINDEX = 2, /* every node: SIM_READ_INDEX */
};

/*
 * A deliberate bug in the simulated driver, to show that the safety checks
 * catch what a broken driver does (testing the simulator itself).
 */
enum sim_driver_bug {
    SIM_BUG_NONE = 0,
    SIM_BUG_ACK_BEFORE_PERSIST, /* sends msgs_after_persist (votes, acks)
                                   before the batch is durable */
};

struct sim_options {
    unsigned nodes; /* 1, 3, 5 or 7 */
    enum sim_faults faults;
    enum sim_read_policy read_policy; /* SIM_READ_UNSAFE overrides `reads`
                                         on every node; any other value
                                         leaves `reads` in charge */
    enum sim_reads reads;
    /* Teeth for the lease: both make leases unsafe on purpose, so lease
     * reads under partitions must be caught as stale. */
    bool drift_beyond_bound;   /* clock rates differ by 30-50% (the lease
                                  attack: 65%) while the lease is
                                  configured for a 1% bound */
    bool no_leader_stickiness; /* raft_config.disable_leader_stickiness */
    bool verbose;              /* print every event */
    FILE *out;                 /* verbose trace and violation reports;
                                  NULL: nothing is printed */
    const char *prog;          /* program name in the replay command line
                                  (NULL: "metastore-sim") */
    uint64_t lin_budget;       /* lin_check() budget per key, 0: its default */
    uint32_t driver_bug;       /* enum sim_driver_bug; SIM_BUG_NONE normally */
};

/* What one seed did, and the first violation found (if any). */
struct sim_result {
    bool violation;
    uint64_t step;      /* number of the event after which it was found */
    uint64_t time_ns;   /* virtual time of that event */
    char what[1024];    /* description of the violation */
    bool lin_exhausted; /* the linearizability search ran out of budget
                           (no verdict; not counted as a violation) */

    uint64_t events;
    uint64_t messages_sent;
    uint64_t messages_dropped;
    uint64_t crashes;
    uint64_t leader_elections;
    uint64_t snapshots_installed;
    uint64_t conf_changes;
    uint64_t transfers;
    uint64_t writes_ok;
    uint64_t writes_unknown;
    uint64_t reads_ok;
    uint64_t reads_failed;
    uint64_t reads_fast;     /* leader reads served from the lease */
    uint64_t reads_follower; /* reads started on a follower */
    uint64_t lease_answered; /* follower READ_INDEX answered from a lease */
    uint64_t lease_renewals; /* early renewals (raft_heartbeat) */
    uint64_t lease_recheck_failed; /* lease reads dropped at the leadership
                                      re-check before serving */
    uint64_t max_applied;
};

/* Defaults: 3 nodes, all faults, mixed reads (lease, follower and
 * ReadIndex), quiet. */
void sim_options_init(struct sim_options *o);

/* "none", "net", "crash", "all".  sim_faults_parse returns 0 or -1. */
const char *sim_faults_name(enum sim_faults f);
int sim_faults_parse(const char *s, enum sim_faults *out);
/* "mixed", "lease", "readindex".  sim_reads_parse returns 0 or -1. */
const char *sim_reads_name(enum sim_reads r);
int sim_reads_parse(const char *s, enum sim_reads *out);

/*
 * Runs one seed.  Returns 0 when the seed ran to its end or to its first
 * violation (res->violation tells which; res is always filled), -EINVAL for
 * bad options, -ENOMEM when memory ran out.  When o->out is set, a violation
 * is reported there with the seed, the step and the replay command line.
 */
int sim_run_seed(const struct sim_options *o, uint64_t seed,
                 struct sim_result *res);

/*
 * Writes the command line that replays `seed` verbosely into buf (always
 * NUL-terminated).  Returns the length it needed, like snprintf.
 */
int sim_replay_command(const struct sim_options *o, uint64_t seed, char *buf,
                       size_t cap);

#endif /* METASTORE_SIM_H */
