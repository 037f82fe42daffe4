/*
 * autocompact_glue.c - the leader's automatic compaction (see
 * autocompact_glue.h and docs/storage.md).
 *
 * Happy path: on each tick the leader, once its term's first entry has
 * applied, asks autocompact_decide() with the engine's current and compact
 * revisions; a non-zero answer is proposed as a COMPACT entry exactly as a
 * client's Compact would be, and logged once.  Applying it compacts every
 * replica at that revision and cancels watchers that still need older
 * revisions, as a client Compact does.
 *
 * Failure modes: a refused proposal (leadership transfer, out of memory)
 * is logged at warn level and tried again on the next tick.  The entry may still be refused at apply (a client compacted
 * further meanwhile): the engine answers ENGINE_ECOMPACTED on every replica
 * alike, which changes nothing.  Losing leadership resets the sampling, so
 * the next leader starts from scratch instead of compacting at once.
 */
#include "server/autocompact_glue.h"

#include <stdlib.h>

#include "proto/metastore.pb-c.h"
#include "server/autocompact.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/server.h"

struct srv_autocompact {
    struct autocompact ac;
    raft_term leader_term; /* 0: not leading */
    uint64_t proposed;     /* COMPACT entries proposed, for /metrics */
};

static struct srv_autocompact *state(struct srv *s)
{
    if (s->autocompact == NULL) {
        struct srv_autocompact *g = calloc(1, sizeof *g);
        if (g == NULL) {
            return NULL; /* the next tick tries again */
        }
        autocompact_init(&g->ac, (enum autocompact_mode)s->cfg.compaction.mode,
                         srv_config_compaction_retention(&s->cfg));
        s->autocompact = g;
    }
    return s->autocompact;
}

/* True when this node leads with its term's first entry applied; resets
 * the decision whenever that starts or stops being true. */
static bool sync_role(struct srv *s, struct srv_autocompact *g)
{
    bool leader = raft_role_of(s->raft) == RAFT_LEADER;
    raft_term term = leader ? raft_term_of(s->raft) : 0;
    if (leader && s->applied_term != term) {
        term = 0; /* not ready: revisions may be behind the log */
    }
    if (term != g->leader_term) {
        autocompact_reset(&g->ac);
        g->leader_term = term;
    }
    return term != 0;
}

static void propose(struct srv *s, struct srv_autocompact *g, int64_t rev,
                    enum autocompact_reason reason)
{
    Metastore__CompactionRequest r = METASTORE__COMPACTION_REQUEST__INIT;
    r.revision = rev;
    uint8_t buf[32];
    size_t len = metastore__compaction_request__pack(&r, buf);
    int rv = srv_kv_propose_internal(s, SRV_METHOD_COMPACT, buf, len);
    if (rv != 0) {
        ms_warn("auto-compaction to revision %lld not proposed: %s",
                (long long)rev, raft_strerror(rv));
        autocompact_propose_failed(&g->ac, rev, reason);
        return;
    }
    g->proposed++;
    ms_info("auto-compaction: compacting to revision %lld (%s)",
            (long long)rev, autocompact_reason_name(reason));
}

void srv_autocompact_tick(struct srv *s, uint64_t now_ns)
{
    if (s->cfg.compaction.mode == SRV_COMPACTION_OFF || s->failed ||
        s->raft == NULL || s->eng == NULL) {
        return;
    }
    struct srv_autocompact *g = state(s);
    if (g == NULL || !sync_role(s, g)) {
        return;
    }
    struct engine_stats st;
    engine_stats(s->eng, &st);
    enum autocompact_reason reason;
    int64_t rev = autocompact_decide(&g->ac, now_ns, st.revision,
                                     st.compact_revision, &reason);
    if (rev > 0) {
        propose(s, g, rev, reason);
    }
}

void srv_autocompact_collect_metrics(struct metrics *m, struct srv *s)
{
    struct metrics_family *f;
    double v = s->autocompact != NULL ? (double)s->autocompact->proposed : 0;
    if (metrics_declare(m, METRICS_COUNTER, "metastore_auto_compactions_total",
                        "Automatic compactions this node proposed as leader "
                        "(compaction.mode).",
                        0, NULL, 0, NULL, &f) == 0) {
        (void)metrics_set(f, NULL, v);
    }
}

void srv_autocompact_close(struct srv *s)
{
    free(s->autocompact);
    s->autocompact = NULL;
}
