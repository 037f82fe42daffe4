/*
 * election.c - roles, timers and elections (thesis 3.4, 9.6, 6.2, 3.10).
 *
 * Followers and candidates count ticks towards a randomized election
 * timeout in [election_tick, 2 * election_tick); when it fires, a voter
 * campaigns: first a PreVote round at term + 1 that changes no state (when
 * cfg.pre_vote), then a real election.  A leader counts heartbeat ticks
 * (starting a new heartbeat round each time), checks every election_tick
 * ticks that a quorum was recently active (CheckQuorum) and aborts a
 * leadership transfer that has not finished by then.
 *
 * Failure modes: none reported; a node that is not a voter (learner,
 * removed, or holding an uninstalled snapshot) simply never campaigns.
 */
#include <string.h>

#include "raft/raft_internal.h"

static void reset(struct raft *r, raft_term term)
{
    if (r->term != term) {
        r->term = term;
        r->vote = RAFT_NONE;
    }
    r->lead = RAFT_NONE;
    r->restart_quiet = false;
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    raft__reset_randomized_timeout(r);
    r->transferee = RAFT_NONE;
    r->n_votes = 0;
    r->broadcast_pending = false;
    r->commit_bcast_pending = false;
    raft__drop_reads(r);
}

void raft__become_follower(struct raft *r, raft_term term, raft_id lead)
{
    enum raft_role was = r->role;
    raft_term old = r->term;
    reset(r, term);
    r->role = RAFT_FOLLOWER;
    r->lead = lead;
    if (was != RAFT_FOLLOWER || old != term)
        raft__trace(r, "became follower (was %s at term %llu), leader %llu",
                    raft_role_name(was), (unsigned long long)old,
                    (unsigned long long)lead);
}

static void become_pre_candidate(struct raft *r)
{
    /* Neither term nor vote changes (thesis 9.6). */
    r->role = RAFT_PRE_CANDIDATE;
    r->lead = RAFT_NONE;
    r->n_votes = 0;
    r->transferee = RAFT_NONE;
    raft__reset_randomized_timeout(r); /* split pre-votes retry apart */
    raft__drop_reads(r);
    raft__trace(r, "became pre-candidate");
}

static void become_candidate(struct raft *r)
{
    reset(r, r->term + 1);
    r->vote = r->id;
    r->role = RAFT_CANDIDATE;
    raft__trace(r, "became candidate");
}

void raft__become_leader(struct raft *r)
{
    reset(r, r->term);
    r->role = RAFT_LEADER;
    r->lead = r->id;
    /* Fresh progress for everyone (thesis 3.5): probe from our last. */
    for (uint32_t i = 0; i < r->n_prs; i++)
        raft__progress_close(&r->prs[i]);
    r->n_prs = 0;
    raft__rebuild_progress(r);
    /* Any conf change in the uncommitted tail blocks the next one. */
    r->pending_conf_index = raft__log_last_index(&r->log);
    r->lead_start_seq = r->seq + 1;
    r->lease_suspect = false;
    raft__new_round(r);
    /* Thesis 6.4 / 5.4.2: an empty entry of our term, committed before any
     * read is answered. */
    struct raft_entry e = {.term = r->term,
                           .index = raft__log_last_index(&r->log) + 1,
                           .type = RAFT_ENTRY_NORMAL};
    if (raft__log_append(&r->log, &e, 1) != 0)
        r->oom = true;
    r->broadcast_pending = true;
    raft__trace(r, "became leader at term %llu", (unsigned long long)r->term);
    /* A lone voter commits as soon as its own write is durable. */
}

static uint32_t quorum(const struct raft *r)
{
    return raft_conf_voters(&r->conf) / 2 + 1;
}

/* Records a vote; returns 1 won, -1 lost, 0 pending. */
static int tally(struct raft *r, raft_id from, bool granted)
{
    bool seen = false;
    for (uint32_t i = 0; i < r->n_votes; i++)
        if (r->votes_from[i] == from)
            seen = true;
    if (!seen && r->n_votes < RAFT_MAX_MEMBERS) {
        r->votes_from[r->n_votes] = from;
        r->votes_granted[r->n_votes] = granted;
        r->n_votes++;
    }
    uint32_t yes = 0, no = 0;
    for (uint32_t i = 0; i < r->n_votes; i++) {
        if (!raft__is_voter(r, r->votes_from[i]))
            continue;
        if (r->votes_granted[i])
            yes++;
        else
            no++;
    }
    uint32_t q = quorum(r);
    if (yes >= q)
        return 1;
    if (no > raft_conf_voters(&r->conf) - q)
        return -1;
    return 0;
}

static void send_vote_requests(struct raft *r, bool pre_vote, bool transfer)
{
    raft_index last = raft__log_last_index(&r->log);
    raft_term last_term = raft__log_last_term(&r->log);
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        if (mb->learner || mb->id == r->id)
            continue;
        /* A vote request depends on our durable term and self-vote; a
         * pre-vote request depends on nothing. */
        struct raft_message *m = raft__msg_new(
            r, !pre_vote, pre_vote ? RAFT_MSG_PRE_VOTE : RAFT_MSG_VOTE, mb->id);
        m->term = pre_vote ? r->term + 1 : r->term;
        m->index = last;
        m->log_term = last_term;
        if (transfer)
            m->flags |= RAFT_MSG_FLAG_TRANSFER;
    }
}

void raft__campaign(struct raft *r, bool pre_vote, bool transfer)
{
    if (!raft__promotable(r))
        return;
    if (pre_vote) {
        become_pre_candidate(r);
    } else {
        become_candidate(r);
    }
    if (tally(r, r->id, true) == 1) {
        /* A single voter wins at once. */
        if (pre_vote)
            raft__campaign(r, false, transfer);
        else
            raft__become_leader(r);
        return;
    }
    send_vote_requests(r, pre_vote, transfer);
}

void raft__handle_vote_resp(struct raft *r, const struct raft_message *m)
{
    int res = tally(r, m->from, !m->reject);
    raft__trace(r, "%s from %llu: %s",
                r->role == RAFT_PRE_CANDIDATE ? "pre-vote" : "vote",
                (unsigned long long)m->from,
                m->reject ? "rejected" : "granted");
    if (res == 1) {
        if (r->role == RAFT_PRE_CANDIDATE)
            raft__campaign(r, false, false);
        else
            raft__become_leader(r);
    } else if (res == -1) {
        raft__become_follower(r, r->term, RAFT_NONE);
    }
}

void raft__handle_vote(struct raft *r, const struct raft_message *m)
{
    bool pre = m->type == RAFT_MSG_PRE_VOTE;
    bool can_vote = r->vote == m->from ||
                    (r->vote == RAFT_NONE && r->lead == RAFT_NONE) ||
                    (pre && m->term > r->term);
    /* A node that knows no configuration has received nothing since it
     * started empty: it may be a former member whose storage was wiped and
     * whose earlier vote in this term is lost.  It must not vote until a
     * leader has brought it up to date. */
    if (r->conf.n == 0)
        can_vote = false;
    uint32_t type = pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP;
    struct raft_message *resp;
    if (can_vote && raft__log_up_to_date(&r->log, m->index, m->log_term)) {
        /* The response carries the candidate's term so that it counts. */
        resp = raft__msg_new(r, true, type, m->from);
        resp->term = m->term;
        if (!pre) {
            r->election_elapsed = 0;
            r->vote = m->from;
        }
        raft__trace(r, "granted %s to %llu at term %llu",
                    pre ? "pre-vote" : "vote", (unsigned long long)m->from,
                    (unsigned long long)m->term);
    } else {
        resp = raft__msg_new(r, true, type, m->from);
        resp->reject = true;
    }
}

void raft__handle_timeout_now(struct raft *r, const struct raft_message *m)
{
    if (!raft__promotable(r)) {
        raft__trace(r, "ignored timeout-now from %llu: not a voter",
                    (unsigned long long)m->from);
        return;
    }
    raft__trace(r, "timeout-now from %llu: campaigning",
                (unsigned long long)m->from);
    raft__campaign(r, false, true);
}

void raft__tick_election(struct raft *r)
{
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_tick)
        r->restart_quiet = false;
    if (r->election_elapsed >= r->randomized_timeout) {
        r->election_elapsed = 0;
        if (raft__promotable(r))
            raft__campaign(r, r->cfg.pre_vote, false);
        else
            raft__reset_randomized_timeout(r);
    }
}

/* CheckQuorum (thesis 6.2): were a quorum of voters heard from lately? */
static bool quorum_active(struct raft *r)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->n_prs; i++) {
        struct raft__progress *p = &r->prs[i];
        if (p->learner)
            continue;
        if (p->id == r->id || p->recent_active)
            active++;
    }
    for (uint32_t i = 0; i < r->n_prs; i++)
        if (r->prs[i].id != r->id)
            r->prs[i].recent_active = false;
    return active >= quorum(r);
}

void raft__abort_transfer(struct raft *r)
{
    if (r->transferee == RAFT_NONE)
        return;
    raft__trace(r, "leadership transfer to %llu aborted",
                (unsigned long long)r->transferee);
    r->transferee = RAFT_NONE;
}

void raft__tick_leader(struct raft *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->cfg.election_tick) {
        r->election_elapsed = 0;
        if (r->cfg.check_quorum && !quorum_active(r)) {
            raft__trace(r, "no quorum active: stepping down");
            raft__become_follower(r, r->term, RAFT_NONE);
            return;
        }
        raft__abort_transfer(r);
    }
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_tick) {
        r->heartbeat_elapsed = 0;
        raft__new_round(r);
        raft__bcast_heartbeat(r);
        raft__process_reads(r);
    }
}

void raft__send_timeout_now(struct raft *r, raft_id to)
{
    raft__msg_new(r, false, RAFT_MSG_TIMEOUT_NOW, to);
    r->lease_suspect = true; /* until the end of this term */
    raft__trace(r, "sent timeout-now to %llu", (unsigned long long)to);
}
