/*
 * autocompact.h - the leader's automatic compaction decision, as etcd's
 * --auto-compaction-mode / --auto-compaction-retention, kept pure: no
 * clock, no I/O.  The caller passes the monotonic time and the engine's
 * current and compact revisions; the module answers which revision (if
 * any) to compact to now.  server/autocompact_glue.c proposes the answer
 * as an ordinary COMPACT entry through Raft, so every replica compacts at
 * the same revision.
 *
 * Modes:
 *  - periodic: every sample interval (retention / 10, at least 100ms, at
 *    most 1h) remember (now, current revision); compact to the newest
 *    sample at least `retention` old, i.e. keep the revisions of the last
 *    retention.
 *  - revision: keep the last N revisions: compact to current - N once at
 *    least N revisions beyond the compact revision can go (so history stays
 *    under 2N revisions), or every check interval (5 minutes) whatever
 *    there is.
 *
 * A new leader calls autocompact_reset(): sampling starts afresh, so a
 * failover never triggers a compaction of everything at once.
 */
#ifndef METASTORE_SERVER_AUTOCOMPACT_H
#define METASTORE_SERVER_AUTOCOMPACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum autocompact_mode {
    AUTOCOMPACT_OFF = 0,
    AUTOCOMPACT_PERIODIC,
    AUTOCOMPACT_REVISION,
};

#define AUTOCOMPACT_SAMPLES 16 /* > retention / interval + 1 */
#define AUTOCOMPACT_REVISION_CHECK_NS (5ull * 60u * 1000000000ull)

enum autocompact_reason {
    AUTOCOMPACT_REASON_NONE = 0,
    AUTOCOMPACT_REASON_PERIOD,    /* periodic: retention elapsed */
    AUTOCOMPACT_REASON_THRESHOLD, /* revision: N compactable revisions */
    AUTOCOMPACT_REASON_INTERVAL,  /* revision: the check interval passed */
};

struct autocompact_sample {
    uint64_t at_ns;
    int64_t revision;
};

struct autocompact {
    enum autocompact_mode mode;
    uint64_t retention;   /* periodic: nanoseconds; revision: a count */
    uint64_t interval_ns; /* periodic: sampling; revision: check interval */
    bool started;
    uint64_t last_ns;     /* last sample (periodic) or check (revision) */
    int64_t proposed;     /* highest revision proposed this leadership */
    int64_t retry;        /* an answer the caller failed to propose */
    enum autocompact_reason retry_reason;
    struct autocompact_sample samples[AUTOCOMPACT_SAMPLES]; /* oldest first */
    size_t n_samples;
};

/* Sets up *a.  retention: milliseconds for periodic, a revision count for
 * revision (validated by the config: > 0 unless mode is off). */
void autocompact_init(struct autocompact *a, enum autocompact_mode mode,
                      uint64_t retention);

/* Forgets every sample and proposal: call when this node becomes leader
 * (or stops being one).  The next autocompact_decide() starts afresh. */
void autocompact_reset(struct autocompact *a);

/*
 * Returns the revision to compact to at now_ns, or 0 for none, and sets
 * *reason.  current: the engine's current (applied) revision; compacted:
 * its compact revision.  The answer is always <= current and > both
 * compacted and anything proposed since the last reset; on a non-zero
 * answer the caller proposes it (the module records it as proposed).
 */
int64_t autocompact_decide(struct autocompact *a, uint64_t now_ns,
                           int64_t current, int64_t compacted,
                           enum autocompact_reason *reason);

/* The caller could not propose the answer `revision` (a leadership
 * transfer, out of memory): it is answered again on the next call, unless a
 * compaction reached it meanwhile or a reset came first. */
void autocompact_propose_failed(struct autocompact *a, int64_t revision,
                                enum autocompact_reason reason);

const char *autocompact_reason_name(enum autocompact_reason r);

#endif
