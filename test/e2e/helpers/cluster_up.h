/*
 * cluster_up.h - the start-up most cluster tests open with: n nodes with a
 * base set of flags plus the test's own, started, and a leader awaited.
 */
#ifndef METASTORE_TEST_CLUSTER_UP_H
#define METASTORE_TEST_CLUSTER_UP_H

#include "test/e2e/helpers/cluster.h"

/* cluster_init(c, n, base followed by more) (both NULL-terminated, more may
 * be NULL; at most CLUSTER_MAX_EXTRA - 1 strings in all, the rest are
 * dropped), starts the nodes (10 s) and waits for a leader (5 s).  Returns
 * the leader's index; fails the test when a step does not succeed. */
int cluster_up(struct cluster *c, int n, const char *const *base,
               const char *const *more);

#endif /* METASTORE_TEST_CLUSTER_UP_H */
