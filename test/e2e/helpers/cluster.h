/*
 * cluster.h - helpers for tests that run a real multi-node cluster of
 * metastored processes on 127.0.0.1.
 *
 * A test describes a cluster of N voters (ids 1..N), each with its own free
 * client/peer/admin ports and temporary data directory, starts it, then
 * kills (-9), pauses (SIGSTOP), resumes (SIGCONT) and restarts nodes, cuts
 * links through the server's test-only fault hook, and waits for conditions
 * (one leader, an applied index reached) with deadlines.  Nodes are started
 * with PR_SET_PDEATHSIG so that they die with the test process even when a
 * failed assertion ends it without teardown; all data directories live under
 * one per-program directory that cluster_suite_end() removes.
 *
 * Threads: the lifecycle functions (start, kill, pause, restart, destroy)
 * must be called from the thread that runs the test (PDEATHSIG follows the
 * thread that forked).  Client threads open their own ms_client with
 * cluster_client().  A struct cluster_history may be shared by threads.
 */
#ifndef METASTORE_TEST_CLUSTER_H
#define METASTORE_TEST_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client/metastore.h"
#include "test/sim/linearize.h"

#define CLUSTER_MAX_NODES 8
#define CLUSTER_MAX_EXTRA 32

/* The fast timing every cluster test uses unless it asks otherwise:
 * 10 ms ticks, 50 ms heartbeats, 300 ms minimum election timeout, requests
 * failed after 1 s (also the longest a SIGTERM waits for requests in
 * progress), the fault hook on, no fsync (kill -9 keeps the page cache;
 * only power loss would need it). */
#define CLUSTER_FAST_FLAGS                                                     \
    "--set", "raft.election_timeout=300ms", "--set",                           \
        "raft.heartbeat_interval=50ms", "--set", "raft.tick_interval=10ms",    \
        "--set", "server.request_timeout=1s", "--set",                         \
        "server.enable_fault_hook=true", "--set", "storage.fsync=false"

struct cluster_node {
    uint64_t id;   /* 1..n for the initial members; for one added
                      later, what the server chose at member add */
    char name[32]; /* "node<index+1>" */
    pid_t pid;     /* 0 when not running */
    bool paused;   /* SIGSTOPped */
    bool member;   /* part of the cluster's configuration (for --join) */
    char dir[256]; /* node directory: data/ and node.log inside */
    char log_path[300];
    uint16_t client_port, peer_port, admin_port;
    char endpoint[64]; /* "127.0.0.1:<client_port>" */
    char peer_addr[64];
};

struct cluster {
    int n; /* nodes described (started or not) */
    struct cluster_node nodes[CLUSTER_MAX_NODES];
    int n_extra;
    char extra[CLUSTER_MAX_EXTRA][128]; /* flags given to every node */
};

/* Call once in main() before srunner_run_all(): creates the directory all
 * clusters of this program keep their nodes in.  cluster_suite_end()
 * removes it (and anything a crashed test left there). */
void cluster_suite_begin(void);
void cluster_suite_end(void);

/*
 * Describes n voters (1 <= n <= CLUSTER_MAX_NODES) with ids 1..n, fresh
 * ports and data directories; extra (NULL-terminated, may be NULL) are
 * flags passed to every node, e.g. {CLUSTER_FAST_FLAGS, NULL}.  Starts
 * nothing.
 */
void cluster_init(struct cluster *c, int n, const char *const *extra);

/* Starts every described node that is not running and waits until each
 * answers a Ping.  0, or -1 (a node's log is printed to stderr). */
int cluster_start(struct cluster *c, int timeout_ms);

/*
 * Starts node i (0-based) with its ports and data directory, the common
 * flags, --initial-cluster listing the nodes marked `member`, --join when
 * `join`, and the extra flags `more` (NULL-terminated, may be NULL).  Waits
 * up to timeout_ms for a Ping answer.  0 or -1.
 */
int cluster_node_start(struct cluster *c, int i, bool join,
                       const char *const *more, int timeout_ms);

/* Describes one more node (not a member yet, not started; its id is
 * index + 1 until cluster_member_add() sets the one the server chose);
 * returns its index. */
int cluster_node_add(struct cluster *c);

/* kill -9 node i and reap it.  0, or -1 if it was not running. */
int cluster_node_kill(struct cluster *c, int i);
/* SIGSTOP / SIGCONT node i. */
void cluster_node_pause(struct cluster *c, int i);
void cluster_node_resume(struct cluster *c, int i);
/* True while node i's process is running (not reaped). */
bool cluster_node_alive(struct cluster *c, int i);

/* Stops every node (SIGTERM so that sanitizer builds check for leaks,
 * SIGKILL after 3 s; paused ones are resumed first), scans their logs for
 * AddressSanitizer / LeakSanitizer / UBSan reports (printed), and removes
 * their directories (kept when CLUSTER_KEEP is set).  Returns the number
 * of nodes whose log holds such a report.  Safe to call twice. */
int cluster_destroy(struct cluster *c);

/* Reaps nodes that died though the test did not stop them and prints the
 * end of their logs (a sanitizer report, an assertion) to stderr.  Returns
 * how many died.  Call it before failing on an unexpected error, since a
 * failed assertion ends the test without teardown. */
int cluster_report_dead(struct cluster *c);

/* True when node i's log contains needle. */
bool cluster_log_contains(const struct cluster *c, int i, const char *needle);
/* Prints node i's log to stderr (to explain a failure). */
void cluster_print_log(const struct cluster *c, int i);

/* Index of the node with that member id, or -1. */
int cluster_index_of(const struct cluster *c, uint64_t id);

/* ------------------------------------------------------------------ */
/* Clients and status                                                  */
/* ------------------------------------------------------------------ */

/* A client of node i only (i >= 0), or of every described node's endpoint
 * (i < 0), with the given command timeout.  NULL when no endpoint answered
 * (for i < 0 the client is created lazily and never NULL). */
struct ms_client *cluster_client(const struct cluster *c, int i,
                                 uint32_t timeout_ms);

struct cluster_status {
    char role[24];
    uint64_t leader; /* member id, 0 = unknown */
    uint64_t term;
    uint64_t commit;
    uint64_t applied;
    uint64_t last_index;
    bool is_learner;
};

/* Status of node i (a short timeout).  0, or a negative ms_* code. */
int cluster_status(const struct cluster *c, int i, struct cluster_status *st);

/*
 * Waits until exactly one running, unpaused node (among those with
 * include[i] true, or all when include is NULL) says it is leader and
 * every such node names it as leader in the same term.  Returns its index,
 * or -1 at the deadline.
 */
int cluster_wait_leader(const struct cluster *c, const bool *include,
                        int timeout_ms);

/* Waits until node i's applied index is >= index.  0 or -1. */
int cluster_wait_applied(const struct cluster *c, int i, uint64_t index,
                         int timeout_ms);

/* Put / linearizable get of a string key through client cl.  get returns
 * 0 and a malloc'd value (NULL when absent), or a negative ms_* code. */
int cluster_put(struct ms_client *cl, const char *key, const char *value);
int cluster_get(struct ms_client *cl, const char *key, char **value);

/* ------------------------------------------------------------------ */
/* Admin requests (membership, leadership, fault hook)                 */
/* ------------------------------------------------------------------ */

/* Fault hook on node i (through ms_fault()): action is an
 * enum ms_fault_action.  Returns the server's status code (0 = OK) or -1
 * when no answer came. */
int cluster_fault(const struct cluster *c, int i, int action, uint64_t peer);

/* Cuts every link between node i and the other nodes listed in `others`
 * (n_others indexes), on both sides.  0 or -1. */
int cluster_partition(const struct cluster *c, int i, const int *others,
                      int n_others);
/* Cuts node i off from every other running node (both sides). */
int cluster_isolate(const struct cluster *c, int i);
/* HEAL_ALL on every running node.  0 or -1. */
int cluster_heal_all(const struct cluster *c);

/*
 * Membership and leadership through the client library, sent to node i
 * (the client follows a NOT_LEADER answer to the leader).  Each returns the
 * server's status code (0 = OK) or -1 when no answer came; msg (may be
 * NULL) receives the server's text.  cluster_member_add() adds described
 * node new_node (its name, peer and client address) and stores the id the
 * server chose in it; start it afterwards with cluster_node_start(join).
 */
int cluster_member_add(struct cluster *c, int i, int new_node, bool learner,
                       char *msg, size_t cap);
int cluster_member_promote(const struct cluster *c, int i, uint64_t id,
                           char *msg, size_t cap);
int cluster_member_remove(const struct cluster *c, int i, uint64_t id,
                          char *msg, size_t cap);
int cluster_move_leader(const struct cluster *c, int i, uint64_t target,
                        char *msg, size_t cap);

/* ------------------------------------------------------------------ */
/* Histories for the linearizability checker                           */
/* ------------------------------------------------------------------ */

struct cluster_history {
    pthread_mutex_t mu;
    struct lin_op *ops;
    size_t n, cap;
};

void cluster_history_init(struct cluster_history *h);
void cluster_history_free(struct cluster_history *h);
/* Monotonic nanoseconds: the clock call/ret times are taken from. */
uint64_t cluster_now_ns(void);
/* Appends one operation (thread-safe). */
void cluster_history_add(struct cluster_history *h, const struct lin_op *op);
/* Runs lin_check() over the history; prints the verdict and the counts. */
bool cluster_history_check(struct cluster_history *h, const char *name);

/* ------------------------------------------------------------------ */
/* A recorded workload                                                 */
/* ------------------------------------------------------------------ */

#define CLUSTER_MAX_CLIENTS 8

/*
 * Client threads that read and write a few keys ("lin/<k>") with unique
 * values through every endpoint of a cluster and record each operation in
 * `hist`: a successful write or read with its call and return times, a
 * failed write as pending (its outcome is unknown), a failed read not at
 * all.  After a failure a client reconnects, starting at the next endpoint.
 * Acknowledged writes are also kept per client so a test can check they
 * survived.
 */
struct cluster_workload {
    const struct cluster *c;
    int n_clients;
    int n_keys;
    uint32_t timeout_ms; /* per operation */
    struct cluster_history hist;
    pthread_t threads[CLUSTER_MAX_CLIENTS];
    int ids[CLUSTER_MAX_CLIENTS];
    volatile int stop; /* read and written with __atomic builtins */
    uint64_t ok_writes, ok_reads, failed; /* __atomic counters */
    uint64_t last_write_ok_ns;   /* return time of the newest acked write */
    uint64_t last_write_call_ns; /* call time of the newest acked write */
    uint64_t longest_gap_ns;     /* longest time between two acked writes */
    uint64_t longest_stall_ns;   /* longest time one client went from a failed
                                    call to its next success */
};

/* Starts n_clients threads over n_keys keys.  The cluster must outlive the
 * workload and keep its node list (endpoints) unchanged meanwhile. */
void cluster_workload_start(struct cluster_workload *w, const struct cluster *c,
                            int n_clients, int n_keys, uint32_t timeout_ms);
/* Stops and joins the threads; the history stays for checking. */
void cluster_workload_stop(struct cluster_workload *w);
/* Waits until `more` more writes have been acknowledged.  0 or -1. */
int cluster_workload_wait_writes(struct cluster_workload *w, uint64_t more,
                                 int timeout_ms);
/* Waits until a write called after time t_ns (cluster_now_ns()) was
 * acknowledged.  Returns its return time (about), or 0 at the deadline. */
uint64_t cluster_workload_wait_write_after(struct cluster_workload *w,
                                           uint64_t t_ns, int timeout_ms);
/* After cluster_workload_stop(): reads every key once more through cl
 * (linearizable) and adds those reads to the history, so that
 * cluster_history_check() also proves no acknowledged write was lost.
 * Returns the number of reads that failed. */
int cluster_workload_final_reads(struct cluster_workload *w,
                                 struct ms_client *cl);
void cluster_workload_free(struct cluster_workload *w);

#endif /* METASTORE_TEST_CLUSTER_H */
