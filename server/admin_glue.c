/*
 * admin_glue.c - the admin endpoint's provider for metastored: metrics,
 * health, readiness and the status document, read from struct srv.
 *
 * Read-only: nothing here changes the server's state except the glue's own
 * readiness latch.  Every function tolerates a server that is still
 * starting (no Raft node, no engine, no peer transport yet).  Metric
 * values are loaded from counters the server keeps anyway (struct
 * srv_stats, the lease manager, the engine and peer statistics) at scrape
 * time, so counting costs nothing on the request path beyond an increment.
 *
 * Also here: the recording side of struct srv_hist and
 * srv_stats_request_done(), declared in server/server.h, because the
 * bucket bounds they fill belong with the metrics that export them.
 */
#include <stdio.h>
#include <string.h>

#include "server/admin.h"
#include "server/auth_glue.h"
#include "server/peer.h"
#include "server/server.h"
#include "server/status.h"
#include "server/autocompact_glue.h"
#include "server/ttl_glue.h"

#define DEFAULT_MAX_APPLY_LAG 1000u

/* ---- histograms of struct srv_stats ----------------------------------------
 */

/* Latency bounds, nanoseconds (exported in seconds). */
static const uint64_t lat_bounds_ns[] = {
    100000u,     250000u,     500000u,     1000000u,    2500000u,   5000000u,
    10000000u,   25000000u,   50000000u,   100000000u,  250000000u, 500000000u,
    1000000000u, 2500000000u, 5000000000u, 10000000000u};
#define N_LAT (sizeof lat_bounds_ns / sizeof lat_bounds_ns[0])

static const uint64_t count_bounds[] = {1,  2,   4,   8,   16,  32,
                                        64, 128, 256, 512, 1024};
#define N_COUNT (sizeof count_bounds / sizeof count_bounds[0])

_Static_assert(N_LAT <= SRV_HIST_MAX_BUCKETS, "latency buckets fit");
_Static_assert(N_COUNT <= SRV_HIST_MAX_BUCKETS, "count buckets fit");

static void hist_record(struct srv_hist *h, const uint64_t *bounds, size_t n,
                        uint64_t v)
{
    size_t b = 0;
    while (b < n && v > bounds[b]) {
        b++;
    }
    h->counts[b]++;
    h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
}

void srv_hist_record_ns(struct srv_hist *h, uint64_t ns)
{
    hist_record(h, lat_bounds_ns, N_LAT, ns);
}

void srv_hist_record_count(struct srv_hist *h, uint64_t n)
{
    hist_record(h, count_bounds, N_COUNT, n);
}

static const int status_codes[] = {
#define GLUE__STATUS_NUM(name, num, text) num,
    SRV_STATUS_CODES(GLUE__STATUS_NUM)
#undef GLUE__STATUS_NUM
};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0])
_Static_assert(N_STATUS < SRV_STATS_STATUSES, "a slot per status + other");

static size_t status_slot(int status)
{
    for (size_t i = 0; i < N_STATUS; i++) {
        if (status_codes[i] == status) {
            return i;
        }
    }
    return N_STATUS; /* unknown */
}

void srv_stats_request_done(struct srv_stats *st, unsigned method, int status,
                            uint64_t duration_ns)
{
    /* Slot 0 (method number 0 is never valid) collects unknown methods. */
    unsigned m = method < SRV_STATS_METHODS ? method : 0;
    st->responses[m][status_slot(status)]++;
    srv_hist_record_ns(&st->request_ns[m], duration_ns);
}

/* ---- metrics ----------------------------------------------------------------
 */

static void put(struct metrics *m, enum metrics_type t, const char *name,
                const char *help, double v)
{
    struct metrics_family *f;
    if (metrics_declare(m, t, name, help, 0, NULL, 0, NULL, &f) == 0) {
        (void)metrics_set(f, NULL, v);
    }
}

static void put_hist(struct metrics *m, const char *name, const char *help,
                     const char *label, const char *value,
                     const struct srv_hist *h, bool latency)
{
    double bounds[SRV_HIST_MAX_BUCKETS];
    size_t n = latency ? N_LAT : N_COUNT;
    double scale = latency ? 1e-9 : 1.0;
    for (size_t i = 0; i < n; i++) {
        bounds[i] =
            (double)(latency ? lat_bounds_ns[i] : count_bounds[i]) * scale;
    }
    const char *labels[1] = {label};
    const char *values[1] = {value};
    struct metrics_family *f;
    if (metrics_declare(m, METRICS_HISTOGRAM, name, help, label ? 1 : 0,
                        label ? labels : NULL, n, bounds, &f) == 0) {
        (void)metrics_histogram_load(f, label ? values : NULL, h->counts,
                                     (double)h->sum * scale);
    }
}

static const char *const read_path_label[SRV_PATH_COUNT] = {
    [SRV_PATH_FAST] = "fast",         [SRV_PATH_READINDEX] = "readindex",
    [SRV_PATH_FOLLOWER] = "follower", [SRV_PATH_SERIALIZABLE] = "serializable",
    [SRV_PATH_LOG] = "log",
};

/* A read path's label ("other" for a path added after this table). */
static const char *path_label(size_t p)
{
    return read_path_label[p] != NULL ? read_path_label[p] : "other";
}

/* The lease module's log-linear histogram folded into the fixed latency
 * buckets: each of its buckets goes where its upper end falls, so a value
 * may be counted one bucket high by at most 1/64 of its size. */
static void lease_hist_to_srv(const struct lease_hist *lh, struct srv_hist *h)
{
    memset(h, 0, sizeof *h);
    for (unsigned b = 0; b < LEASE_HIST_BUCKETS; b++) {
        if (lh->buckets[b] == 0) {
            continue;
        }
        uint64_t lo, hi;
        lease_hist_bucket_range(b, &lo, &hi);
        size_t i = 0;
        while (i < N_LAT && hi > lat_bounds_ns[i]) {
            i++;
        }
        h->counts[i] += lh->buckets[b];
    }
    h->sum = lh->sum;
}

static void collect_requests(struct metrics *m, const struct srv_stats *st)
{
    static const char *const req_labels[2] = {"method", "status"};
    static const char *const m_label[1] = {"method"};
    struct metrics_family *f;
    if (metrics_declare(m, METRICS_COUNTER, "metastore_requests_total",
                        "Client requests answered, by method and status.", 2,
                        req_labels, 0, NULL, &f) != 0) {
        return;
    }
    for (unsigned meth = 0; meth < SRV_STATS_METHODS; meth++) {
        for (size_t k = 0; k < SRV_STATS_STATUSES; k++) {
            if (st->responses[meth][k] == 0) {
                continue;
            }
            const char *lv[2] = {meth == 0 ? "UNKNOWN" : srv_method_name(meth),
                                 k < N_STATUS ? srv_status_name(status_codes[k])
                                              : "UNKNOWN"};
            (void)metrics_set(f, lv, (double)st->responses[meth][k]);
        }
    }
    struct metrics_family *d;
    double bounds[N_LAT];
    for (size_t i = 0; i < N_LAT; i++) {
        bounds[i] = (double)lat_bounds_ns[i] * 1e-9;
    }
    if (metrics_declare(m, METRICS_HISTOGRAM,
                        "metastore_request_duration_seconds",
                        "Time from a request's arrival to its answer.", 1,
                        m_label, N_LAT, bounds, &d) != 0) {
        return;
    }
    for (unsigned meth = 0; meth < SRV_STATS_METHODS; meth++) {
        const struct srv_hist *h = &st->request_ns[meth];
        uint64_t total = 0;
        for (size_t i = 0; i <= N_LAT; i++) {
            total += h->counts[i];
        }
        if (total > 0) {
            put_hist(m, "metastore_request_duration_seconds", NULL, "method",
                     meth == 0 ? "UNKNOWN" : srv_method_name(meth), h, true);
        }
    }
}

static void collect_reads(struct metrics *m, const struct srv_stats *st)
{
    static const char *const p_label[1] = {"path"};
    struct metrics_family *f;
    if (metrics_declare(m, METRICS_COUNTER, "metastore_read_path_total",
                        "Reads by the path that served them (forwarded: "
                        "requests a follower forwarded to the leader).",
                        1, p_label, 0, NULL, &f) == 0) {
        for (size_t p = 0; p < SRV_PATH_COUNT; p++) {
            const char *lv[1] = {path_label(p)};
            (void)metrics_set(f, lv, (double)st->reads[p]);
        }
        const char *fw[1] = {"forwarded"};
        (void)metrics_set(f, fw, (double)st->forwarded);
    }
    for (size_t p = 0; p < SRV_PATH_COUNT; p++) {
        struct srv_hist h;
        lease_hist_to_srv(&st->read_latency[p], &h);
        put_hist(m, "metastore_read_duration_seconds",
                 "Read latency by path, from arrival to answer.", "path",
                 path_label(p), &h, true);
    }
}

static void collect_raft(struct metrics *m, struct srv *s, uint64_t now)
{
    struct raft *r = s->raft;
    bool leader = r != NULL && raft_role_of(r) == RAFT_LEADER;
    put(m, METRICS_GAUGE, "metastore_raft_term", "Current Raft term.",
        r != NULL ? (double)raft_term_of(r) : 0);
    put(m, METRICS_GAUGE, "metastore_raft_commit_index",
        "Highest log index known to be committed.",
        r != NULL ? (double)raft_commit_index(r) : 0);
    put(m, METRICS_GAUGE, "metastore_raft_applied_index",
        "Highest log index applied to the engine.",
        s->eng != NULL ? (double)engine_applied_index(s->eng) : 0);
    put(m, METRICS_COUNTER, "metastore_raft_leader_changes_total",
        "Times this node saw the leader change.",
        (double)s->stats.leader_changes);
    put(m, METRICS_GAUGE, "metastore_raft_is_leader",
        "1 when this node is the leader.", leader ? 1 : 0);
    uint64_t pending = 0;
    for (const struct srv_wait *w = s->proposals_head; w != NULL; w = w->next) {
        pending++;
    }
    put(m, METRICS_GAUGE, "metastore_proposals_pending",
        "Proposals waiting for their entry to apply.", (double)pending);

    struct lease_stats ls;
    lease_stats(&s->lease, now, &ls);
    put(m, METRICS_GAUGE, "metastore_lease_valid",
        "1 while this leader holds a valid read lease.", ls.valid ? 1 : 0);
    put(m, METRICS_GAUGE, "metastore_lease_remaining_seconds",
        "Time left on the read lease (0 without one).",
        (double)lease_remaining(&s->lease, now) * 1e-9);
    put(m, METRICS_COUNTER, "metastore_lease_renewals_total",
        "Lease renewals from quorum-acknowledged heartbeat rounds.",
        (double)ls.renewals);
    put(m, METRICS_COUNTER, "metastore_lease_expirations_total",
        "Leases that ran out of time while held.", (double)ls.expirations);
    put(m, METRICS_COUNTER, "metastore_readindex_rounds_total",
        "ReadIndex rounds started (one raft_read_index() call per batch).",
        (double)s->stats.readindex_rounds);
    struct readindex_stats ri;
    readindex_stats(&s->reads, &ri);
    put(m, METRICS_COUNTER, "metastore_readindex_round_reads_total",
        "Reads carried by those ReadIndex rounds.", (double)ri.round_reads);
    put(m, METRICS_GAUGE, "metastore_reads_pending",
        "Reads parked now, waiting for a read index or for apply.",
        (double)ri.pending);
    put(m, METRICS_COUNTER, "metastore_reads_rejected_total",
        "Reads answered RESOURCE_EXHAUSTED: server.max_pending_reads were "
        "parked.",
        (double)ri.rejected);
    put(m, METRICS_COUNTER, "metastore_reads_cancelled_total",
        "Parked reads dropped because their connection closed.",
        (double)ri.cancelled);
}

static void collect_storage(struct metrics *m, struct srv *s)
{
    const struct srv_stats *st = &s->stats;
    put_hist(m, "metastore_log_sync_duration_seconds",
             "Duration of one WAL / log sync (group commit batch).", NULL, NULL,
             &st->sync_ns, true);
    put_hist(m, "metastore_log_sync_batch_entries",
             "Entries made durable by one sync.", NULL, NULL, &st->sync_entries,
             false);
    put(m, METRICS_COUNTER, "metastore_snapshots_total",
        "Snapshots taken by this node.", (double)st->snapshots);
    put_hist(m, "metastore_snapshot_duration_seconds",
             "Duration of taking one snapshot.", NULL, NULL, &st->snapshot_ns,
             true);
    struct engine_stats es = {0};
    if (s->eng != NULL) {
        engine_stats(s->eng, &es);
    }
    put(m, METRICS_GAUGE, "metastore_engine_bytes",
        "Approximate bytes held by the engine (keys, values, bookkeeping).",
        (double)es.approx_bytes);
    put(m, METRICS_GAUGE, "metastore_engine_keys",
        "Live keys at the current revision.", (double)es.keys);
    put(m, METRICS_GAUGE, "metastore_engine_revision", "Current MVCC revision.",
        (double)es.revision);
}

static void collect_net(struct metrics *m, struct srv *s)
{
    put(m, METRICS_GAUGE, "metastore_client_connections",
        "Open client connections.", (double)s->n_conns);
    put(m, METRICS_COUNTER, "metastore_bytes_received_total",
        "Bytes read from client connections.", (double)s->stats.bytes_received);
    put(m, METRICS_COUNTER, "metastore_bytes_sent_total",
        "Bytes written to client connections.", (double)s->stats.bytes_sent);
    struct srv_watch_stats ws;
    srv_watch_get_stats(s, &ws);
    put(m, METRICS_GAUGE, "metastore_watchers", "Live watchers on this node.",
        (double)ws.watchers);
    put(m, METRICS_GAUGE, "metastore_watch_streams",
        "Open watch streams on this node.", (double)ws.streams);
    put(m, METRICS_COUNTER, "metastore_watch_events_sent_total",
        "Events sent to watchers.", (double)ws.events_sent);
    put(m, METRICS_COUNTER, "metastore_watch_responses_sent_total",
        "WatchResponses sent (created, events, progress, canceled).",
        (double)ws.responses_sent);
    put(m, METRICS_COUNTER, "metastore_watch_slow_canceled_total",
        "Watchers canceled because their client did not read its stream.",
        (double)ws.slow_canceled);
    put(m, METRICS_COUNTER, "metastore_watch_compacted_canceled_total",
        "Watchers canceled because their next revision was compacted.",
        (double)ws.compact_canceled);
    put(m, METRICS_COUNTER, "metastore_watch_refused_total",
        "Watch requests refused (server.max_watchers, bad requests).",
        (double)ws.refused);
    put(m, METRICS_COUNTER, "metastore_watch_live_revisions_total",
        "Revisions whose events applied writes handed to watchers directly.",
        (double)ws.live_revisions);
    put(m, METRICS_COUNTER, "metastore_watch_history_reads_total",
        "Reads of the engine's history by watchers catching up.",
        (double)ws.history_reads);
    put(m, METRICS_COUNTER, "metastore_watch_overflows_total",
        "Watcher event queues that overflowed (the watcher resyncs from "
        "history).",
        (double)ws.overflows);
    put(m, METRICS_COUNTER, "metastore_watch_holds_total",
        "Watchers held back (client not reading, or queue overflow); each "
        "catches up from history later.",
        (double)ws.holds);
    put(m, METRICS_GAUGE, "metastore_http_connections",
        "Open connections to the HTTP/JSON API.",
        (double)s->stats.http_connections);
    static const char *const class_label[1] = {"class"};
    struct metrics_family *hf;
    if (metrics_declare(m, METRICS_COUNTER, "metastore_http_responses_total",
                        "HTTP/JSON API responses by status class.", 1,
                        class_label, 0, NULL, &hf) == 0) {
        static const char *const classes[6] = {"", "1xx", "2xx",
                                               "3xx", "4xx", "5xx"};
        for (int i = 1; i < 6; i++) {
            const char *lv[1] = {classes[i]};
            (void)metrics_set(hf, lv, (double)s->stats.http_responses[i]);
        }
    }
    static const char *const peer_label[1] = {"peer"};
    struct metrics_family *f;
    if (metrics_declare(m, METRICS_GAUGE, "metastore_peer_connected",
                        "1 while the outgoing connection to the peer is up.", 1,
                        peer_label, 0, NULL, &f) != 0) {
        return;
    }
    metrics_family_clear(f); /* removed peers disappear */
    if (s->peers == NULL) {
        return;
    }
    struct peer_stats ps[RAFT_MAX_MEMBERS];
    size_t n = peer_transport_stats_all(s->peers, ps, RAFT_MAX_MEMBERS);
    for (size_t i = 0; i < n && i < RAFT_MAX_MEMBERS; i++) {
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)ps[i].id);
        const char *lv[1] = {id};
        (void)metrics_set(f, lv, ps[i].connected ? 1 : 0);
    }
}

static void glue_collect(void *data, struct metrics *m)
{
    struct admin_glue *g = data;
    struct srv *s = g->s;
    uint64_t now = srv_now_ns();
    collect_requests(m, &s->stats);
    collect_reads(m, &s->stats);
    collect_raft(m, s, now);
    collect_storage(m, s);
    collect_net(m, s);
    srv_ttl_collect_metrics(m, s);
    srv_autocompact_collect_metrics(m, s);
    srv_auth_collect_metrics(m, s);
}

/* ---- health and readiness -------------------------------------------------
 */

static int glue_health(void *data, char *reason, size_t cap)
{
    struct admin_glue *g = data;
    struct srv *s = g->s;
    if (s->failed) {
        snprintf(reason, cap, "storage failure: the node refuses requests");
        return 1;
    }
    if (s->raft == NULL || s->eng == NULL) {
        snprintf(reason, cap, "starting: storage not recovered yet");
        return 1;
    }
    if (raft_leader(s->raft) == RAFT_NONE) {
        snprintf(reason, cap, "no leader known (term %llu)",
                 (unsigned long long)raft_term_of(s->raft));
        return 1;
    }
    uint64_t commit = raft_commit_index(s->raft);
    uint64_t applied = engine_applied_index(s->eng);
    if (commit > applied && commit - applied > g->max_apply_lag) {
        snprintf(
            reason, cap,
            "applied index %llu is %llu entries behind commit index "
            "%llu (allowed: %llu)",
            (unsigned long long)applied, (unsigned long long)(commit - applied),
            (unsigned long long)commit, (unsigned long long)g->max_apply_lag);
        return 1;
    }
    return 0;
}

static int glue_ready(void *data, char *reason, size_t cap)
{
    struct admin_glue *g = data;
    struct srv *s = g->s;
    if (s->failed || s->shutting_down) {
        snprintf(reason, cap, s->failed ? "storage failure" : "shutting down");
        return 1;
    }
    if (s->raft == NULL || s->eng == NULL) {
        snprintf(reason, cap, "storage not recovered yet");
        return 1;
    }
    if (g->caught_up) {
        return 0;
    }
    if (!g->target_known) {
        if (raft_leader(s->raft) == RAFT_NONE) {
            snprintf(reason, cap, "not joined: no leader known yet");
            return 1;
        }
        g->target_known = true;
        g->target_commit = raft_commit_index(s->raft);
    }
    uint64_t applied = engine_applied_index(s->eng);
    if (applied < g->target_commit) {
        snprintf(reason, cap, "catching up: applied %llu of %llu",
                 (unsigned long long)applied,
                 (unsigned long long)g->target_commit);
        return 1;
    }
    g->caught_up = true;
    return 0;
}

/* ---- status
 * ------------------------------------------------------------------- */

static void status_members(struct admin_json *j, const struct srv *s)
{
    admin_json_raw(j, ",\"members\":[");
    for (uint32_t i = 0; i < s->members.n; i++) {
        const struct srv_member_info *mi = &s->members.m[i];
        admin_json_raw(j, "%s{\"id\":%llu,\"name\":", i > 0 ? "," : "",
                       (unsigned long long)mi->id);
        admin_json_str(j, mi->name);
        admin_json_raw(j, ",\"learner\":%s,\"peer_addr\":",
                       mi->learner ? "true" : "false");
        admin_json_str(j, mi->peer_addr);
        admin_json_raw(j, ",\"client_addr\":");
        admin_json_str(j, mi->client_addr);
        admin_json_raw(j, "}");
    }
    admin_json_raw(j, "]");
}

static void status_peers(struct admin_json *j, const struct srv *s)
{
    admin_json_raw(j, ",\"peers\":[");
    struct peer_stats ps[RAFT_MAX_MEMBERS];
    size_t n = s->peers != NULL
                   ? peer_transport_stats_all(s->peers, ps, RAFT_MAX_MEMBERS)
                   : 0;
    for (size_t i = 0; i < n && i < RAFT_MAX_MEMBERS; i++) {
        admin_json_raw(
            j,
            "%s{\"id\":%llu,\"connected\":%s,\"msgs_sent\":%llu,"
            "\"msgs_dropped\":%llu,\"msgs_received\":%llu,"
            "\"queued_bytes\":%llu,\"dials\":%llu,\"connects\":%llu}",
            i > 0 ? "," : "", (unsigned long long)ps[i].id,
            ps[i].connected ? "true" : "false",
            (unsigned long long)ps[i].msgs_sent,
            (unsigned long long)ps[i].msgs_dropped,
            (unsigned long long)ps[i].msgs_received,
            (unsigned long long)ps[i].queued_bytes,
            (unsigned long long)ps[i].dials,
            (unsigned long long)ps[i].connects);
    }
    admin_json_raw(j, "]");
}

static void status_reads(struct admin_json *j, struct srv *s, uint64_t now)
{
    const struct srv_stats *st = &s->stats;
    admin_json_raw(j, ",\"reads\":{");
    for (size_t p = 0; p < SRV_PATH_COUNT; p++) {
        admin_json_raw(j, "%s\"%s\":%llu", p > 0 ? "," : "", path_label(p),
                       (unsigned long long)st->reads[p]);
    }
    admin_json_raw(j, ",\"forwarded\":%llu,\"readindex_rounds\":%llu}",
                   (unsigned long long)st->forwarded,
                   (unsigned long long)st->readindex_rounds);
    struct lease_stats ls;
    lease_stats(&s->lease, now, &ls);
    admin_json_raw(j,
                   ",\"lease\":{\"valid\":%s,\"remaining_ms\":%.3f,"
                   "\"renewals\":%llu,\"expirations\":%llu}",
                   ls.valid ? "true" : "false",
                   (double)lease_remaining(&s->lease, now) / 1e6,
                   (unsigned long long)ls.renewals,
                   (unsigned long long)ls.expirations);
}

static size_t glue_status(void *data, char *buf, size_t cap)
{
    struct admin_glue *g = data;
    struct srv *s = g->s;
    struct admin_json j;
    admin_json_init(&j, buf, cap);
    struct raft *r = s->raft;
    admin_json_raw(&j, "{\"member_id\":%llu,\"name\":",
                   (unsigned long long)s->cfg.node.id);
    admin_json_str(&j, s->cfg.node.name);
    admin_json_raw(&j, ",\"cluster\":");
    admin_json_str(&j, s->cfg.cluster.name);
    admin_json_raw(&j, ",\"version\":\"%s\",\"role\":\"%s\"", METASTORE_VERSION,
                   r != NULL ? raft_role_name(raft_role_of(r)) : "starting");
    admin_json_raw(&j,
                   ",\"term\":%llu,\"leader\":%llu,"
                   "\"commit_index\":%llu,\"applied_index\":%llu",
                   (unsigned long long)(r != NULL ? raft_term_of(r) : 0),
                   (unsigned long long)(r != NULL ? raft_leader(r) : 0),
                   (unsigned long long)(r != NULL ? raft_commit_index(r) : 0),
                   (unsigned long long)(s->eng != NULL
                                            ? engine_applied_index(s->eng)
                                            : 0));
    struct engine_stats es = {0};
    if (s->eng != NULL) {
        engine_stats(s->eng, &es);
    }
    admin_json_raw(&j,
                   ",\"revision\":%lld,\"compact_revision\":%lld,"
                   "\"engine\":",
                   (long long)es.revision, (long long)es.compact_revision);
    admin_json_str(&j, s->eng != NULL ? s->eng->ops->name : "none");
    admin_json_raw(&j,
                   ",\"db_size_bytes\":%llu,\"keys\":%llu,"
                   "\"client_connections\":%llu,\"failed\":%s",
                   (unsigned long long)es.approx_bytes,
                   (unsigned long long)es.keys, (unsigned long long)s->n_conns,
                   s->failed ? "true" : "false");
    status_members(&j, s);
    status_peers(&j, s);
    status_reads(&j, s, srv_now_ns());
    admin_json_raw(&j, "}");
    return j.len;
}

/* ---- binding
 * ------------------------------------------------------------------ */

void admin_glue_init(struct admin_glue *g, struct srv *s,
                     uint64_t max_apply_lag)
{
    memset(g, 0, sizeof *g);
    g->s = s;
    g->max_apply_lag =
        max_apply_lag != 0 ? max_apply_lag : DEFAULT_MAX_APPLY_LAG;
}

struct admin_provider admin_glue_provider(struct admin_glue *g)
{
    return (struct admin_provider){
        .data = g,
        .collect_metrics = glue_collect,
        .health = glue_health,
        .ready = glue_ready,
        .status_json = glue_status,
    };
}
