/*
 * sim_internal.h - what the simulator's files share (private to test/sim).
 *
 *   sim.c      PRNG, event queue, virtual clock, network, the run loop
 *   faults.c   the nemesis: partitions, crashes, membership, transfers
 *   node.c     the simulated driver: one Raft core + memstore + KV machine
 *   workload.c clients and their history
 *   check.c    Raft safety checks and the end-of-seed checks
 *
 * Nodes are numbered by index 0..n-1; their Raft ids are index + 1.
 */
#ifndef METASTORE_SIM_INTERNAL_H
#define METASTORE_SIM_INTERNAL_H

#include "lease/lease.h"
#include "raft/raft.h"
#include "test/sim/linearize.h"
#include "test/sim/sim.h"

#define SIM_KEYS        5
#define SIM_MAX_CLIENTS 8
#define SIM_RING        32 /* past state machine states kept for snapshots */

/* ---- PRNG (xoshiro256**, seeded through splitmix64) ------------------ */

struct sim_rng {
    uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *g, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *g);
/* Uniform in [lo, hi] (inclusive); lo when hi <= lo. */
uint64_t sim_rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi);
/* True with probability ppm / 1e6. */
bool sim_rng_chance(struct sim_rng *g, uint32_t ppm);

uint64_t sim_hash(const void *data, size_t len);

/* ---- events -------------------------------------------------------- */

enum sim_event_type {
    SIM_EV_TICK = 0,     /* node: one Raft tick */
    SIM_EV_DELIVER,      /* msg arrives at node */
    SIM_EV_PERSIST,      /* node: the oldest pending fsync completes */
    SIM_EV_RESTART,      /* node: restart after a crash */
    SIM_EV_STOP_REMOVED, /* node: it applied its own removal */
    SIM_EV_CLIENT,       /* client `arg`: start the next operation */
    SIM_EV_TIMEOUT,      /* client `node`: operation `arg` timed out */
    SIM_EV_FAULT,        /* the nemesis acts */
    SIM_EV_END_WORKLOAD, /* stop faults and clients, heal, restart */
    SIM_EV_CHECK,        /* periodic log matching check */
    SIM_EV_ATTACK,       /* the lease attack's next phase (faults.c) */
};

struct sim_event {
    uint64_t at_ns;
    uint64_t seq;
    uint32_t type;
    uint32_t node;
    uint32_t inc; /* node incarnation the event belongs to */
    uint64_t arg;
    struct raft_message *msg; /* SIM_EV_DELIVER: owned by the event */
};

/* ---- per-seed parameters -------------------------------------------- */

struct sim_params {
    uint64_t tick_ns;
    unsigned election_tick;
    unsigned heartbeat_tick;
    unsigned max_inflight;
    uint64_t max_msg_bytes;
    unsigned snapshot_every; /* applied entries between own snapshots */
    unsigned snapshot_keep;  /* entries kept behind a snapshot */
    unsigned snapshot_pad;   /* filler bytes in a snapshot (chunking) */
    uint64_t delay_min_ns, delay_max_ns;
    uint32_t loss_ppm, dup_ppm;
    uint32_t slow_ppm; /* a message is held up to slow_max_ns */
    uint64_t slow_max_ns;
    uint64_t fsync_min_ns, fsync_max_ns;
    uint32_t drift_ppm;         /* clock rate bound: 1 +- drift_ppm / 1e6 (the
                                   configured bound; --drift-beyond-bound breaks it) */
    uint64_t clock_drift_ns;    /* the lease's clock_drift: how far two clocks
                                   within the bound part over an election
                                   timeout */
    struct lease_config lease;  /* of the lease-policy nodes */
    uint32_t follower_read_ppm; /* reads sent to a follower on purpose */
    uint64_t work_ns;           /* clients and faults run until then */
    uint64_t end_ns;            /* the seed ends then */
    uint64_t op_timeout_ns;
    uint64_t think_min_ns, think_max_ns;
    uint64_t fault_min_ns, fault_max_ns;
    unsigned n_clients;
    unsigned max_ops;
    uint32_t write_ppm;       /* share of writes among operations */
    uint32_t random_node_ppm; /* a client ignores its known leader */
};

/* ---- nodes ----------------------------------------------------------- */

/* A state machine state after applying `index`. */
struct sim_sm_state {
    raft_index index;
    raft_term term;
    uint64_t kv[SIM_KEYS];
    struct raft_conf conf;
};

/* A ready batch whose fsync is in flight. */
struct sim_persist {
    struct raft_ready rd;
    uint8_t *snap_data; /* rd.has_snapshot: the reassembled snapshot */
    uint64_t done_at_ns;
};

enum sim_node_state {
    SIM_NODE_UP = 0,
    SIM_NODE_DOWN,    /* crashed, restarts later */
    SIM_NODE_REMOVED, /* removed from the cluster, stopped */
};

struct sim_node {
    unsigned idx;
    raft_id id;
    uint32_t state;           /* enum sim_node_state */
    uint32_t inc;             /* incarnation: bumped by every crash/stop */
    struct raft *r;           /* NULL unless up */
    struct raft_memstore *ms; /* durable storage: survives crashes */
    bool wiped;               /* storage was wiped to rejoin: never bootstrap */
    bool was_member;
    bool stopping;
    uint32_t rate_ppm; /* local clock rate, parts per million */
    int64_t offset_ns; /* local = virtual * rate + offset (kept continuous
                          when the nemesis changes the rate) */
    uint32_t policy;   /* enum sim_read_policy */
    struct lease_manager lease; /* volatile: re-initialised at every start */

    /* the KV state machine (volatile; durable form: memstore snapshot) */
    struct sim_sm_state sm;
    struct sim_sm_state ring[SIM_RING];
    unsigned ring_n, ring_pos;

    /* pending fsyncs, oldest first */
    struct sim_persist **pend;
    size_t n_pend, cap_pend;

    /* incoming snapshot reassembly */
    uint8_t *asm_buf;
    size_t asm_len, asm_cap;
    raft_index asm_index;

    raft_index last_commit;
    struct raft_soft_state soft;
};

/* ---- clients --------------------------------------------------------- */

enum sim_client_state {
    SIM_CL_IDLE = 0,
    SIM_CL_WRITE,           /* waiting for (index, term) to apply */
    SIM_CL_READ_WAIT_STATE, /* waiting for the read state of ctx */
    SIM_CL_READ_WAIT_APPLY, /* waiting for applied >= index */
};

struct sim_client {
    uint32_t id;
    int known_leader; /* node index, -1: unknown */
    uint32_t state;
    unsigned node;
    uint32_t node_inc;
    size_t hist_i;
    uint64_t key, value;
    raft_index index;
    raft_term term;
    uint64_t ctx;
    uint64_t op_seq;
    raft_term read_term; /* lease read: serve only if still leader in this
                            term (0: no re-check) */
};

struct sim_hist_op {
    struct lin_op op;
    bool dropped; /* failed read or rejected write: not in the history */
};

/* ---- the simulation -------------------------------------------------- */

struct sim_applied {
    raft_term term; /* 0: nothing applied at this index yet */
    uint32_t type;
    uint64_t data_hash;
    uint64_t state_hash;
};

struct sim {
    const struct sim_options *opt;
    struct sim_result *res;
    uint64_t seed;
    uint64_t now_ns;
    uint64_t seq;
    uint64_t step;
    bool violated;
    bool oom;

    struct sim_event *ev;
    size_t n_ev, cap_ev;

    struct sim_rng rng_net, rng_fault, rng_work, rng_disk, rng_param;
    struct sim_params p;

    unsigned n_nodes;
    struct sim_node nodes[SIM_MAX_NODES];
    bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* [from][to] */
    struct raft_conf initial_conf;
    bool faults_on;

    unsigned n_clients;
    struct sim_client clients[SIM_MAX_CLIENTS];
    bool workload_on;
    unsigned ops_started;
    uint64_t next_ctx;
    uint64_t next_value;
    struct sim_hist_op *hist;
    size_t n_hist, cap_hist;

    struct sim_applied *applied; /* indexed by raft index */
    size_t cap_applied;
    raft_index max_applied;
    raft_id *term_leader; /* indexed by term */
    size_t cap_terms;

    /* the lease attack (faults.c) */
    bool writes_paused; /* clients only read while it runs */
    int attack_leader;  /* node index, -1: no attack running */
    int attack_target;  /* -1: isolate the leader when its lease is fresh */
    bool attack_cut;    /* A <-> C is cut (else: waiting for C to catch up) */
    uint64_t attack_campaign_ns; /* when C was first seen campaigning, 0 */
    uint32_t attack_leader_inc;
    uint64_t attack_deadline_ns;
};

/* sim.c */
void sim_log(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_schedule(struct sim *s, uint64_t at_ns, uint32_t type, uint32_t node,
                  uint32_t inc, uint64_t arg, struct raft_message *msg);
/* Sends `m` (borrowed) from node `from` through the simulated network. */
void sim_net_send(struct sim *s, unsigned from, const struct raft_message *m,
                  bool after_persist);
const char *sim_msg_name(uint32_t type);
void *sim_xcalloc(struct sim *s, size_t n, size_t size);
void *sim_xrealloc(struct sim *s, void *p, size_t n, size_t size);

/* faults.c */
void sim_faults_step(struct sim *s);
void sim_attack_step(struct sim *s);
void sim_faults_end(struct sim *s);
/* Index of the up node that is leader in the highest term, or -1. */
int sim_find_leader(struct sim *s);

/* node.c */
void sim_node_init(struct sim *s, unsigned idx);
int sim_node_start(struct sim *s, struct sim_node *n);
void sim_node_crash(struct sim *s, struct sim_node *n, uint32_t new_state);
void sim_node_wipe(struct sim *s, struct sim_node *n);
void sim_node_destroy(struct sim *s, struct sim_node *n);
void sim_node_tick(struct sim *s, struct sim_node *n);
void sim_node_deliver(struct sim *s, struct sim_node *n,
                      const struct raft_message *m);
void sim_node_persist_done(struct sim *s, struct sim_node *n);
/* Handles every ready batch the core has. */
void sim_node_drive(struct sim *s, struct sim_node *n);
uint64_t sim_node_now(const struct sim *s, const struct sim_node *n);
/* Changes n's clock rate from now on; its local time stays continuous. */
void sim_node_set_rate(struct sim *s, struct sim_node *n, uint32_t rate_ppm);
uint64_t sim_tick_interval(const struct sim *s, const struct sim_node *n);
uint64_t sim_kv_hash(const uint64_t *kv);

/*
 * The read policy hook: how node n starts a linearizable read (n->policy).
 * Returns SIM_READ_SERVE_NOW (answer from the KV map at once),
 * SIM_READ_WAIT_STATE (a read state with `ctx` will come in a ready batch),
 * SIM_READ_WAIT_APPLY (serve once applied >= *index), or a negative RAFT_E*
 * code when the read cannot start.  The lease policy on a leader with a
 * valid lease returns SIM_READ_WAIT_APPLY with the commit index and sets
 * *read_term: the read may only be served while n is still leader in that
 * term (else *read_term is 0).
 */
enum sim_read_start {
    SIM_READ_SERVE_NOW = 0,
    SIM_READ_WAIT_STATE = 1,
    SIM_READ_WAIT_APPLY = 2,
};
int sim_node_read_start(struct sim *s, struct sim_node *n, uint64_t ctx,
                        raft_index *index, raft_term *read_term);
/* After a lease read was served: renew early when the lease runs low. */
void sim_node_lease_served(struct sim *s, struct sim_node *n);

enum sim_entry_lookup {
    SIM_ENTRY_DATA = 0, /* term and data hash known */
    SIM_ENTRY_TERM,     /* only the term is known (snapshot boundary) */
    SIM_ENTRY_UNKNOWN,  /* compacted, or hidden behind a pending snapshot */
    SIM_ENTRY_ABSENT,   /* beyond the node's log */
};
/* Looks entry i up in the node's log as the core sees it (durable
 * memstore plus batches still being persisted). */
int sim_node_entry(struct sim *s, struct sim_node *n, raft_index i,
                   raft_term *term, uint64_t *hash);
/* First and last index the lookups above may find. */
void sim_node_log_range(struct sim *s, struct sim_node *n, raft_index *lo,
                        raft_index *hi);

/* workload.c */
void sim_workload_start(struct sim *s);
void sim_client_wake(struct sim *s, unsigned c);
void sim_client_timeout(struct sim *s, unsigned c, uint64_t op_seq);
void sim_workload_on_apply(struct sim *s, struct sim_node *n,
                           const struct raft_entry *e);
void sim_workload_on_snapshot(struct sim *s, struct sim_node *n);
void sim_workload_on_read_state(struct sim *s, struct sim_node *n,
                                const struct raft_read_state *rs);
void sim_workload_on_progress(struct sim *s, struct sim_node *n);
void sim_workload_on_soft(struct sim *s, struct sim_node *n,
                          const struct raft_soft_state *old_soft,
                          const struct raft_soft_state *new_soft);
void sim_workload_on_down(struct sim *s, struct sim_node *n);
/* End of seed: close open operations and run the linearizability check. */
void sim_workload_finish(struct sim *s);
/* Encodes a client write into 32 bytes; decode returns 0 or -1. */
#define SIM_OP_BYTES 32
void sim_op_encode(uint8_t *buf, uint32_t client, uint64_t key, uint64_t value);
int sim_op_decode(const uint8_t *buf, size_t len, uint64_t *key,
                  uint64_t *value);

/* check.c */
void sim_violation(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sim_check_apply(struct sim *s, struct sim_node *n,
                     const struct raft_entry *e, uint64_t state_hash);
void sim_check_snapshot(struct sim *s, struct sim_node *n, raft_index index,
                        raft_term term, uint64_t state_hash);
void sim_check_leader(struct sim *s, struct sim_node *n, raft_term term);
void sim_check_step(struct sim *s);
void sim_check_logs(struct sim *s);
void sim_check_free(struct sim *s);

#endif /* METASTORE_SIM_INTERNAL_H */
