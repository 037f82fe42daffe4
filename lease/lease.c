/*
 * lease.c - the leader lease (LeaseManager): when may this node answer a
 * linearizable read from its own state without a ReadIndex round.
 *
 * Happy path: lease_become_leader(term) -> lease_on_commit_in_term(term) ->
 * lease_renew(sent_ns of the newest round a quorum acknowledged) sets
 * lease_end = sent_ns + duration -> lease_valid(fresh now) is true until
 * lease_end, and every later acknowledged round pushes lease_end forward.
 *
 * Failure modes, each of which ends or withholds the lease: stepping down,
 * a new term, a leadership transfer (suspect until a round sent after it
 * ended is acknowledged), no commit in the current term yet, no round
 * acknowledged by a quorum, and simply time running out.  Bad inputs
 * (a round "sent" in the future, renewing with leases off) are refused
 * with LEASE_EINVAL; nothing here asserts on caller input.
 */
#include <stdio.h>
#include <string.h>

#include "lease/lease.h"

const char *lease_strerror(int err)
{
    if (err == 0)
        return "ok";
    switch (err) {
#define LEASE__ERR_TEXT(name, value, text)                                     \
    case name:                                                                 \
        return text;
        LEASE_ERRORS(LEASE__ERR_TEXT)
#undef LEASE__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *lease_err_name(int err)
{
    if (err == 0)
        return "OK";
    switch (err) {
#define LEASE__ERR_NAME(name, value, text)                                     \
    case name:                                                                 \
        return #name;
        LEASE_ERRORS(LEASE__ERR_NAME)
#undef LEASE__ERR_NAME
    default:
        return "LEASE_E?";
    }
}

uint64_t lease_default_duration_ns(uint64_t election_timeout_ns,
                                   uint64_t heartbeat_interval_ns,
                                   uint64_t clock_drift_ns)
{
    uint64_t half = election_timeout_ns / 2;
    uint64_t three = heartbeat_interval_ns > UINT64_MAX / 3
                         ? UINT64_MAX
                         : heartbeat_interval_ns * 3;
    uint64_t base = half < three ? half : three;
    return base > clock_drift_ns ? base - clock_drift_ns : 0;
}

int lease_config_check(uint64_t duration_ns, uint64_t clock_drift_ns,
                       uint64_t election_timeout_ns, uint64_t tick_ns,
                       char *err, size_t errlen)
{
    unsigned long long d = duration_ns, c = clock_drift_ns;
    unsigned long long e = election_timeout_ns, t = tick_ns;
    if (errlen > 0)
        err[0] = '\0';
    if (duration_ns == 0) {
        if (errlen > 0)
            snprintf(err, errlen,
                     "lease duration is 0: with clock drift %lluns and "
                     "election timeout %lluns no lease is possible",
                     c, e);
        return LEASE_EUNSAFE;
    }
    if (tick_ns >= election_timeout_ns) {
        if (errlen > 0)
            snprintf(err, errlen,
                     "tick (%lluns) must be shorter than the election "
                     "timeout (%lluns)",
                     t, e);
        return LEASE_EINVAL;
    }
    uint64_t limit = election_timeout_ns - tick_ns;
    /* duration + drift >= limit, written so that it cannot overflow. */
    if (duration_ns >= limit || clock_drift_ns >= limit - duration_ns) {
        if (errlen > 0)
            snprintf(err, errlen,
                     "unsafe lease: duration (%lluns) + clock drift "
                     "(%lluns) must be less than election timeout (%lluns) "
                     "- tick (%lluns)",
                     d, c, e, t);
        return LEASE_EUNSAFE;
    }
    return 0;
}

int lease_init(struct lease_manager *lm, const struct lease_config *cfg)
{
    if (lm == NULL || cfg == NULL)
        return LEASE_EINVAL;
    memset(lm, 0, sizeof(*lm));
    lm->cfg = *cfg;
    if (lm->cfg.renew_divisor == 0)
        lm->cfg.renew_divisor = LEASE_DEFAULT_RENEW_DIVISOR;
    return 0;
}

/* Validity without side effects. */
static bool holds(const struct lease_manager *lm, uint64_t now_ns)
{
    return lm->is_leader && lm->committed_in_term && !lm->suspect &&
           lm->lease_end_ns != 0 && now_ns < lm->lease_end_ns;
}

/* Records a valid -> invalid transition caused by time running out. */
static bool observe(struct lease_manager *lm, uint64_t now_ns)
{
    bool v = holds(lm, now_ns);
    if (lm->was_valid && !v)
        lm->stats.expirations++;
    lm->was_valid = v;
    return v;
}

/* Ends the lease because of an event (not time); counts a revocation if it
 * was still valid. */
static void revoke(struct lease_manager *lm, uint64_t now_ns)
{
    if (holds(lm, now_ns))
        lm->stats.revocations++;
    else if (lm->was_valid)
        lm->stats.expirations++; /* it had run out before the event */
    lm->was_valid = false;
    lm->lease_end_ns = 0;
}

void lease_become_leader(struct lease_manager *lm, raft_term term,
                         uint64_t now_ns)
{
    revoke(lm, now_ns);
    lm->is_leader = true;
    lm->term = term;
    lm->committed_in_term = false;
    lm->suspect = false;
    lm->base_ns = 0;
}

void lease_become_follower(struct lease_manager *lm, raft_term term,
                           uint64_t now_ns)
{
    revoke(lm, now_ns);
    lm->is_leader = false;
    lm->term = term;
    lm->committed_in_term = false;
    lm->suspect = false;
    lm->base_ns = 0;
}

void lease_on_term_change(struct lease_manager *lm, raft_term term,
                          uint64_t now_ns)
{
    if (term == lm->term)
        return;
    lease_become_follower(lm, term, now_ns);
}

void lease_transfer_started(struct lease_manager *lm, uint64_t now_ns)
{
    revoke(lm, now_ns);
    lm->suspect = true;
}

void lease_transfer_ended(struct lease_manager *lm, uint64_t now_ns)
{
    if (!lm->suspect)
        return;
    lm->suspect = false;
    /* Rounds acknowledged so far may predate the transfer; a TimeoutNow
     * sent meanwhile lets the target win votes despite leader stickiness,
     * so only a round started from now on proves leadership again. */
    if (now_ns > lm->base_ns)
        lm->base_ns = now_ns;
}

void lease_on_commit_in_term(struct lease_manager *lm, raft_term term)
{
    if (lm->is_leader && term == lm->term)
        lm->committed_in_term = true;
}

int lease_renew(struct lease_manager *lm, uint64_t sent_ns, uint64_t now_ns)
{
    if (lm->cfg.duration_ns == 0 || sent_ns > now_ns)
        return LEASE_EINVAL;
    if (!lm->is_leader)
        return LEASE_ENOTLEADER;
    if (!lm->committed_in_term)
        return LEASE_ENOTREADY;
    if (lm->suspect)
        return LEASE_ESUSPECT;
    observe(lm, now_ns); /* count an expiry that happened before this */
    /* base_ns 0 with no lease: a new leadership, any round will do. */
    if ((lm->lease_end_ns != 0 || lm->base_ns != 0) && sent_ns <= lm->base_ns) {
        lm->stats.stale_renewals++;
        return LEASE_ESTALE;
    }
    lm->base_ns = sent_ns;
    lm->lease_end_ns = sent_ns > UINT64_MAX - lm->cfg.duration_ns
                           ? UINT64_MAX
                           : sent_ns + lm->cfg.duration_ns;
    lm->stats.renewals++;
    lm->stats.last_renew_ns = now_ns;
    observe(lm, now_ns);
    return 0;
}

bool lease_valid(struct lease_manager *lm, uint64_t now_ns)
{
    return observe(lm, now_ns);
}

void lease_tick(struct lease_manager *lm, uint64_t now_ns)
{
    observe(lm, now_ns);
}

uint64_t lease_remaining(const struct lease_manager *lm, uint64_t now_ns)
{
    return holds(lm, now_ns) ? lm->lease_end_ns - now_ns : 0;
}

bool lease_should_renew_early(const struct lease_manager *lm, uint64_t now_ns)
{
    if (!holds(lm, now_ns))
        return false;
    return lm->lease_end_ns - now_ns <
           lm->cfg.duration_ns / lm->cfg.renew_divisor;
}

void lease_stats(const struct lease_manager *lm, uint64_t now_ns,
                 struct lease_stats *out)
{
    *out = lm->stats;
    out->is_leader = lm->is_leader;
    out->valid = holds(lm, now_ns);
    out->term = lm->term;
    out->base_ns = lm->base_ns;
    out->lease_end_ns = lm->lease_end_ns;
}

int lease_update_from_raft(struct lease_manager *lm, const struct raft *r,
                           uint64_t now_ns)
{
    raft_term term = raft_term_of(r);
    if (raft_role_of(r) != RAFT_LEADER) {
        if (lm->is_leader || term != lm->term)
            lease_become_follower(lm, term, now_ns);
        observe(lm, now_ns);
        return LEASE_ENOTLEADER;
    }
    if (!lm->is_leader || term != lm->term)
        lease_become_leader(lm, term, now_ns);
    if (raft_transferee(r) != RAFT_NONE) {
        if (!lm->suspect)
            lease_transfer_started(lm, now_ns);
        return LEASE_ESUSPECT;
    }
    if (lm->suspect)
        lease_transfer_ended(lm, now_ns);
    if (raft_committed_in_term(r))
        lease_on_commit_in_term(lm, term);
    uint64_t sent_ns = 0;
    int rc = 0;
    if (!lm->committed_in_term)
        rc = LEASE_ENOTREADY;
    else if (raft_quorum_ack_time(r, &sent_ns))
        /* The core's stamp came from the caller's own clock; if the caller
         * now hands us an older reading, the round is still genuine. */
        rc = lease_renew(lm, sent_ns, sent_ns > now_ns ? sent_ns : now_ns);
    observe(lm, now_ns);
    return rc == LEASE_ESTALE ? 0 : rc;
}
