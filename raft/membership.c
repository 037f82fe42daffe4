/*
 * membership.c - configuration changes taking effect (thesis 4.1).
 *
 * A conf change entry takes effect when it commits: whenever the commit
 * index moves, the newly committed entries are scanned for conf changes
 * (followers and leaders alike, and at restart on top of the snapshot's
 * configuration).  On a leader the progress table follows the new
 * configuration; a leader that is no longer a voter tells the others the
 * new commit index and steps down.  Failure modes: an entry that does not
 * decode or apply is traced and skipped (every member skips it alike); a
 * failed log read is retried on the next commit advance.
 */
#include <string.h>

#include "raft/raft_internal.h"

/* Makes prs[] match conf: keeps existing progress, adds new members,
 * drops removed ones. */
void raft__rebuild_progress(struct raft *r)
{
    struct raft__progress old[RAFT_MAX_MEMBERS];
    uint32_t n_old = r->n_prs;
    memcpy(old, r->prs, sizeof(old));
    bool used[RAFT_MAX_MEMBERS] = {false};
    r->n_prs = 0;
    raft_index last = raft__log_last_index(&r->log);
    for (uint32_t i = 0; i < r->conf.n; i++) {
        const struct raft_member *mb = &r->conf.members[i];
        struct raft__progress *p = &r->prs[r->n_prs];
        bool found = false;
        for (uint32_t k = 0; k < n_old; k++) {
            if (!used[k] && old[k].id == mb->id) {
                *p = old[k];
                used[k] = true;
                found = true;
                break;
            }
        }
        if (!found) {
            if (raft__progress_init(p, mb->id, mb->learner, last + 1,
                                    r->cfg.max_inflight) != 0) {
                r->oom = true;
                continue;
            }
            p->recent_active = true;
            if (mb->id == r->id) {
                p->match = raft__log_durable_index(&r->log);
                p->state = RAFT_PROGRESS_REPLICATE;
            }
        }
        p->learner = mb->learner;
        r->n_prs++;
    }
    for (uint32_t k = 0; k < n_old; k++)
        if (!used[k])
            raft__progress_close(&old[k]);
}

struct conf_scan {
    struct raft *r;
    bool changed;
};

static bool conf_scan_cb(void *arg, const struct raft_entry *e)
{
    struct conf_scan *s = arg;
    if (e->type != RAFT_ENTRY_CONF_CHANGE)
        return true;
    struct raft_conf_change cc;
    int rc = raft_conf_change_decode(e->data, e->len, &cc);
    if (rc == 0)
        rc = raft_conf_apply(&s->r->conf, &cc);
    if (rc != 0) {
        raft__trace(s->r, "conf change at %llu ignored: %s",
                    (unsigned long long)e->index, raft_err_name(rc));
        return true;
    }
    raft__trace(s->r, "conf change at %llu applied: %s %llu",
                (unsigned long long)e->index,
                cc.type == RAFT_CC_ADD_VOTER     ? "add voter"
                : cc.type == RAFT_CC_ADD_LEARNER ? "add learner"
                                                 : "remove",
                (unsigned long long)cc.id);
    s->changed = true;
    return true;
}

void raft__apply_conf_to_commit(struct raft *r)
{
    raft_index commit = r->log.commit;
    if (r->conf_index >= commit)
        return;
    if (r->conf_index >= r->log.conf_hint) {
        r->conf_index = commit; /* nothing to scan: the hot path */
        return;
    }
    struct conf_scan s = {.r = r};
    int rc = raft__log_visit(&r->log, r->conf_index + 1, commit + 1,
                             conf_scan_cb, &s);
    if (rc != 0) {
        raft__trace(r, "conf scan %llu..%llu failed: %s",
                    (unsigned long long)(r->conf_index + 1),
                    (unsigned long long)commit, raft_err_name(rc));
        if (rc == RAFT_ENOMEM)
            r->oom = true;
        return; /* retried on the next commit advance */
    }
    r->conf_index = commit;
    if (!s.changed)
        return;
    r->conf_changed = true;
    if (r->role != RAFT_LEADER)
        return;
    raft__rebuild_progress(r);
    if (r->transferee != RAFT_NONE && !raft__is_voter(r, r->transferee))
        raft__abort_transfer(r);
    if (!raft__is_voter(r, r->id)) {
        /* Tell the others the change committed, then leave (thesis 4.2.2). */
        raft__bcast_append(r, true);
        raft__trace(r, "removed from the configuration: stepping down");
        raft__become_follower(r, r->term, RAFT_NONE);
        return;
    }
    raft__maybe_commit(r); /* the quorum may be smaller now */
    raft__process_reads(r);
}

/* Called whenever log.commit moved forward. */
void raft__commit_advanced(struct raft *r)
{
    raft__apply_conf_to_commit(r);
    if (r->role == RAFT_LEADER && raft_committed_in_term(r))
        raft__release_held_reads(r);
}
