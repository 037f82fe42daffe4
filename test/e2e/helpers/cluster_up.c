/*
 * cluster_up.c - start a test cluster and wait for its leader
 * (cluster_up.h).
 */
#include "test/e2e/helpers/cluster_up.h"

#include <check.h>

int cluster_up(struct cluster *c, int n, const char *const *base,
               const char *const *more)
{
    const char *extra[CLUSTER_MAX_EXTRA];
    int k = 0;
    for (int i = 0;
         base != NULL && base[i] != NULL && k < CLUSTER_MAX_EXTRA - 1; i++) {
        extra[k++] = base[i];
    }
    for (int i = 0;
         more != NULL && more[i] != NULL && k < CLUSTER_MAX_EXTRA - 1; i++) {
        extra[k++] = more[i];
    }
    extra[k] = NULL;
    cluster_init(c, n, extra);
    ck_assert_int_eq(cluster_start(c, 10000), 0);
    int leader = cluster_wait_leader(c, NULL, 5000);
    ck_assert_msg(leader >= 0, "no leader elected");
    return leader;
}
