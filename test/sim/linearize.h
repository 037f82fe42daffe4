/*
 * linearize.h - a linearizability checker for key-value histories.
 *
 * The algorithm is Wing & Gong's search with Lowe's improvements (the one
 * Knossos and Porcupine use): walk the history in call order, try to
 * linearize any operation whose call precedes the earliest pending return,
 * backtrack on failure, and cache (linearized-set, state) pairs already seen.
 * The history is split by key first (P-compositionality: a history is
 * linearizable iff every per-key sub-history is), so each search stays small.
 *
 * The model is a register per key holding a uint64 value; 0 means "absent".
 * Writes carry unique values in practice, which keeps the search narrow, but
 * the checker does not depend on it.
 *
 * Used by the simulator (test/sim) and by the real-process cluster tests,
 * which record their clients' histories the same way.
 */
#ifndef METASTORE_TEST_LINEARIZE_H
#define METASTORE_TEST_LINEARIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* `ret` of an operation whose outcome is unknown (timed out, connection
 * lost): it may have taken effect at any time after its call, or never. */
#define LIN_PENDING UINT64_MAX

enum lin_kind {
    LIN_READ = 0,  /* observed `value` */
    LIN_WRITE = 1, /* set the key to `value` (0 deletes it) */
};

struct lin_op {
    uint32_t client;
    uint32_t kind; /* enum lin_kind */
    uint64_t key;
    uint64_t value;
    uint64_t call; /* invocation time, any monotonic unit */
    uint64_t ret;  /* response time (> call), or LIN_PENDING */
};

struct lin_result {
    bool linearizable;
    bool exhausted;   /* the search budget ran out: no verdict */
    uint64_t bad_key; /* the first key found not linearizable */
    char msg[512];    /* a readable account of the failure */
};

/*
 * Checks ops[0..n) (any order; reads with unknown outcome should simply be
 * left out by the caller).  `budget` bounds the number of search steps per
 * key (0: a default of 10 million).  Returns 0 and fills *res; -1 (ENOMEM)
 * on allocation failure.  res->linearizable is false when some key has no
 * linearization, or when the budget ran out (then res->exhausted is set).
 */
int lin_check(const struct lin_op *ops, size_t n, uint64_t budget,
              struct lin_result *res);

#endif /* METASTORE_TEST_LINEARIZE_H */
