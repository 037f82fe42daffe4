/*
 * autocompact.c - when the leader compacts on its own (see autocompact.h).
 *
 * Happy path (periodic, retention R): the first call after a reset takes a
 * sample (now, current revision); one is taken every R/10 after that; once
 * a sample is R old its revision is the answer, and it and older samples
 * are dropped.  Revision mode (keep N): the answer is current - N once N
 * revisions can go, or at the check interval whatever can go.
 *
 * Failure modes: none of its own.  Time going backwards (it should not:
 * the caller passes a monotonic clock) only delays sampling.  An answer the
 * caller fails to propose is given again on the next call
 * (autocompact_propose_failed), unless a reset forgets it.
 */
#include "server/autocompact.h"

#include <string.h>

#define NS_PER_MS 1000000ull
#define MIN_SAMPLE_NS (100ull * NS_PER_MS)

void autocompact_init(struct autocompact *a, enum autocompact_mode mode,
                      uint64_t retention)
{
    memset(a, 0, sizeof *a);
    a->mode = mode;
    if (mode == AUTOCOMPACT_PERIODIC) {
        a->retention = retention * NS_PER_MS;
        /* Ten samples per retention, as etcd does for retentions under an
         * hour: the compacted revision is at most R/10 older than R. */
        a->interval_ns = a->retention / 10;
        if (a->interval_ns < MIN_SAMPLE_NS) {
            a->interval_ns = MIN_SAMPLE_NS;
        }
    } else {
        a->retention = retention;
        a->interval_ns = AUTOCOMPACT_REVISION_CHECK_NS;
    }
}

void autocompact_reset(struct autocompact *a)
{
    a->started = false;
    a->last_ns = 0;
    a->proposed = 0;
    a->retry = 0;
    a->n_samples = 0;
}

void autocompact_propose_failed(struct autocompact *a, int64_t revision,
                                enum autocompact_reason reason)
{
    a->retry = revision;
    a->retry_reason = reason;
    a->proposed = 0; /* recomputed from the engine's compact revision */
}

static void drop_samples(struct autocompact *a, size_t n)
{
    memmove(a->samples, a->samples + n,
            (a->n_samples - n) * sizeof a->samples[0]);
    a->n_samples -= n;
}

static void take_sample(struct autocompact *a, uint64_t now_ns, int64_t rev)
{
    if (a->n_samples == AUTOCOMPACT_SAMPLES) {
        drop_samples(a, 1); /* cannot happen with ten per retention */
    }
    a->samples[a->n_samples].at_ns = now_ns;
    a->samples[a->n_samples].revision = rev;
    a->n_samples++;
    a->last_ns = now_ns;
}

static int64_t decide_periodic(struct autocompact *a, uint64_t now_ns,
                               int64_t current, int64_t floor,
                               enum autocompact_reason *reason)
{
    if (!a->started || now_ns - a->last_ns >= a->interval_ns) {
        a->started = true;
        take_sample(a, now_ns, current);
    }
    /* The newest sample that is at least one retention old. */
    size_t due = 0;
    while (due < a->n_samples &&
           now_ns - a->samples[due].at_ns >= a->retention) {
        due++;
    }
    if (due == 0) {
        return 0;
    }
    int64_t target = a->samples[due - 1].revision;
    drop_samples(a, due);
    if (target <= floor) {
        return 0; /* nothing written since, or compacted already */
    }
    *reason = AUTOCOMPACT_REASON_PERIOD;
    return target;
}

static int64_t decide_revision(struct autocompact *a, uint64_t now_ns,
                               int64_t current, int64_t floor,
                               enum autocompact_reason *reason)
{
    if (!a->started) {
        a->started = true;
        a->last_ns = now_ns;
    }
    int64_t keep = (int64_t)a->retention;
    if (current <= keep || current - keep <= floor) {
        return 0;
    }
    int64_t target = current - keep;
    if (target - floor >= keep) {
        *reason = AUTOCOMPACT_REASON_THRESHOLD;
    } else if (now_ns - a->last_ns >= a->interval_ns) {
        *reason = AUTOCOMPACT_REASON_INTERVAL;
    } else {
        return 0;
    }
    a->last_ns = now_ns;
    return target;
}

int64_t autocompact_decide(struct autocompact *a, uint64_t now_ns,
                           int64_t current, int64_t compacted,
                           enum autocompact_reason *reason)
{
    *reason = AUTOCOMPACT_REASON_NONE;
    if (a->retry > compacted && a->retry <= current) {
        int64_t again = a->retry;
        *reason = a->retry_reason;
        a->retry = 0;
        a->proposed = again;
        return again;
    }
    a->retry = 0;
    int64_t floor = compacted > a->proposed ? compacted : a->proposed;
    int64_t target = 0;
    switch (a->mode) {
    case AUTOCOMPACT_PERIODIC:
        target = decide_periodic(a, now_ns, current, floor, reason);
        break;
    case AUTOCOMPACT_REVISION:
        target = decide_revision(a, now_ns, current, floor, reason);
        break;
    default:
        return 0;
    }
    if (target > current) {
        target = current; /* never beyond what is applied */
    }
    if (target > 0) {
        a->proposed = target;
    }
    return target;
}

const char *autocompact_reason_name(enum autocompact_reason r)
{
    switch (r) {
    case AUTOCOMPACT_REASON_PERIOD:
        return "periodic: older than the retention";
    case AUTOCOMPACT_REASON_THRESHOLD:
        return "revision: retention exceeded by a full retention";
    case AUTOCOMPACT_REASON_INTERVAL:
        return "revision: check interval";
    default:
        return "none";
    }
}
