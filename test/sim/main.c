/*
 * main.c - metastore-sim, the command line of the deterministic cluster
 * simulator (see sim.h and docs/simulator.md).
 *
 * Runs seeds first-seed .. first-seed + seeds - 1 one after the other,
 * prints each violation with the command line that replays it, and ends
 * with exactly one line "seeds=N violations=V".  Exit status: 0 when V is 0,
 * 1 when it is not, 2 on bad usage.
 */
#include "test/sim/sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --seeds N [--first-seed S] [--nodes 1|3|5|7]\n"
            "          [--faults none|net|crash|all] "
            "[--reads lease|readindex|mixed]\n"
            "          [--drift-beyond-bound] [--no-leader-stickiness]\n"
            "          [--unsafe-reads] [--verbose] "
            "[--driver-bug ack-before-persist]\n"
            "\n"
            "Runs the real Raft core in a simulated cluster, one seed at a "
            "time,\n"
            "checks Raft's safety properties after every event and the "
            "clients'\n"
            "history for linearizability at the end of each seed.\n"
            "\n"
            "  --seeds N        number of seeds to run (required, >= 1)\n"
            "  --first-seed S   first seed (default 1)\n"
            "  --nodes K        cluster size: 1, 3, 5 or 7 (default 3)\n"
            "  --faults F       none: delays and reordering only;\n"
            "                   net: + loss, duplication, partitions;\n"
            "                   crash: + crashes and restarts;\n"
            "                   all: net + crash + membership changes and\n"
            "                   leadership transfers (default all)\n"
            "  --reads R        lease: leaders serve reads from their lease "
            "(else\n"
            "                   ReadIndex) and answer followers' READ_INDEX "
            "from it;\n"
            "                   readindex: a ReadIndex round for every read;\n"
            "                   mixed: per seed and node lease or readindex, "
            "plus\n"
            "                   reads sent to followers (default mixed)\n"
            "  --drift-beyond-bound\n"
            "                   clocks run 30-50%% fast or slow while the "
            "lease assumes\n"
            "                   a 1%% bound (unsafe on purpose: lease reads "
            "must be\n"
            "                   caught as stale)\n"
            "  --no-leader-stickiness\n"
            "                   followers vote although they heard from a "
            "leader\n"
            "                   recently (unsafe for leases on purpose: must "
            "be caught)\n"
            "  --unsafe-reads   leaders answer reads from local state without\n"
            "                   ReadIndex (wrong on purpose: must be caught)\n"
            "  --verbose        print every event (use with --seeds 1)\n"
            "  --driver-bug ack-before-persist\n"
            "                   testing the checks: the simulated driver "
            "sends votes\n"
            "                   and acks before its fsync completes (must "
            "be caught)\n"
            "  --help           this text\n"
            "\n"
            "Ends with one line \"seeds=N violations=V\"; exit status 0 iff "
            "V is 0,\n"
            "1 otherwise, 2 on bad usage.  A violation prints the command "
            "line that\n"
            "replays it step by step.\n",
            prog);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct sim_options o;
    sim_options_init(&o);
    o.out = stdout;
    o.prog = argv[0];
    uint64_t seeds = 0, first = 1, nodes = 3;
    bool have_seeds = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(a, "--seeds") == 0) {
            if (parse_u64(v, &seeds) != 0 || seeds == 0)
                goto bad;
            have_seeds = true;
            i++;
        } else if (strcmp(a, "--first-seed") == 0) {
            if (parse_u64(v, &first) != 0)
                goto bad;
            i++;
        } else if (strcmp(a, "--nodes") == 0) {
            if (parse_u64(v, &nodes) != 0 ||
                (nodes != 1 && nodes != 3 && nodes != 5 && nodes != 7))
                goto bad;
            i++;
        } else if (strcmp(a, "--faults") == 0) {
            if (!v || sim_faults_parse(v, &o.faults) != 0)
                goto bad;
            i++;
        } else if (strcmp(a, "--reads") == 0) {
            if (!v || sim_reads_parse(v, &o.reads) != 0)
                goto bad;
            i++;
        } else if (strcmp(a, "--drift-beyond-bound") == 0) {
            o.drift_beyond_bound = true;
        } else if (strcmp(a, "--no-leader-stickiness") == 0) {
            o.no_leader_stickiness = true;
        } else if (strcmp(a, "--unsafe-reads") == 0) {
            o.read_policy = SIM_READ_UNSAFE;
        } else if (strcmp(a, "--driver-bug") == 0) {
            if (!v || strcmp(v, "ack-before-persist") != 0)
                goto bad;
            o.driver_bug = SIM_BUG_ACK_BEFORE_PERSIST;
            i++;
        } else if (strcmp(a, "--verbose") == 0) {
            o.verbose = true;
        } else {
            goto bad;
        }
    }
    if (!have_seeds)
        goto bad;
    o.nodes = (unsigned)nodes;

    uint64_t violations = 0;
    for (uint64_t k = 0; k < seeds; k++) {
        struct sim_result res;
        int rc = sim_run_seed(&o, first + k, &res);
        if (rc == -EINVAL)
            goto bad;
        if (res.violation)
            violations++;
        if (res.lin_exhausted) {
            printf("note: seed %" PRIu64 ": linearizability search budget "
                   "exhausted (no verdict)\n",
                   first + k);
        }
        if (o.verbose)
            printf("seed %" PRIu64 ": events=%" PRIu64 " msgs=%" PRIu64
                   " dropped=%" PRIu64 " elections=%" PRIu64 " crashes=%" PRIu64
                   " snapshots=%" PRIu64 " conf_changes=%" PRIu64
                   " transfers=%" PRIu64 " writes_ok=%" PRIu64
                   " writes_unknown=%" PRIu64 " reads_ok=%" PRIu64
                   " reads_failed=%" PRIu64 " reads_fast=%" PRIu64
                   " reads_follower=%" PRIu64 " lease_answered=%" PRIu64
                   " lease_renewals=%" PRIu64 " lease_recheck_failed=%" PRIu64
                   " applied=%" PRIu64 "\n",
                   first + k, res.events, res.messages_sent,
                   res.messages_dropped, res.leader_elections, res.crashes,
                   res.snapshots_installed, res.conf_changes, res.transfers,
                   res.writes_ok, res.writes_unknown, res.reads_ok,
                   res.reads_failed, res.reads_fast, res.reads_follower,
                   res.lease_answered, res.lease_renewals,
                   res.lease_recheck_failed, res.max_applied);
        fflush(stdout);
    }
    printf("seeds=%" PRIu64 " violations=%" PRIu64 "\n", seeds, violations);
    return violations == 0 ? 0 : 1;
bad:
    usage(stderr, argv[0]);
    return 2;
}
