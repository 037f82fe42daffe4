/*
 * main.c - metastored: flags, configuration, start-up and shutdown.
 *
 * Start-up: defaults, then the config file (--config), then command-line
 * overrides, then validation (a bad config is refused with one message
 * naming file, line and key); recover storage from the data dir; start the
 * Raft node; listen for clients; run the loop.
 *
 * Shutdown on SIGTERM or SIGINT: stop accepting and stop reading requests,
 * let requests in progress finish (up to request_timeout), sync the WAL,
 * close everything and exit 0.  A storage failure exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/admin.h"
#include "server/http_api.h"
#include "server/log.h"
#include "server/server.h"
#include "server/status.h"
#include "server/tls.h"

static void usage(FILE *f)
{
    fprintf(f,
"Usage: metastored [--config FILE] [flags]\n"
"\n"
"MetaStore-C server: a replicated key-value store with an etcd-v3-style API.\n"
"\n"
"Configuration comes from built-in defaults (one node, memory engine, data in\n"
"./data, clients on 127.0.0.1:2379), then the YAML file given with --config\n"
"(configs/config.yaml documents every key), then the flags below.\n"
"\n"
"  --config FILE            read this YAML configuration file\n"
"  --node-id N              this node's id (node.id)\n"
"  --name NAME              this node's name (node.name)\n"
"  --data-dir DIR           where the WAL and snapshots live (node.data_dir)\n"
"  --listen-client ADDR     host:port for clients (server.client_listen)\n"
"  --listen-peer ADDR       host:port for other nodes (server.peer_listen)\n"
"  --listen-admin ADDR      host:port for metrics (server.admin_listen)\n"
"  --http-listen ADDR       host:port for the HTTP/JSON API (server.http_listen;\n"
"                           off unless set; docs/http-api.md)\n"
"  --log-level LEVEL        debug, info, warn or error\n"
"  --log-format FORMAT      text or json\n"
"  --engine ENGINE          memory or rocksdb (storage.engine)\n"
"  --initial-cluster LIST   ID[:NAME]=PEER_ADDR@CLIENT_ADDR,... bootstrap members\n"
"  --join                   join an existing cluster instead of bootstrapping\n"
"  --cert-file FILE         client port TLS certificate (tls.cert_file)\n"
"  --key-file FILE          its private key (tls.key_file)\n"
"  --trusted-ca-file FILE   CA for client certificates (tls.trusted_ca_file)\n"
"  --client-cert-auth       require client certificates (tls.client_cert_auth)\n"
"  --peer-cert-file FILE    peer port TLS certificate (tls.peer_cert_file)\n"
"  --peer-key-file FILE     its private key (tls.peer_key_file)\n"
"  --peer-trusted-ca-file FILE  CA of the members (tls.peer_trusted_ca_file)\n"
"  --peer-client-cert-auth  require member certificates (tls.peer_client_cert_auth)\n"
"  --http-cert-file FILE    HTTP API TLS certificate (tls.http_cert_file; empty:\n"
"                           the client port's TLS)\n"
"  --http-key-file FILE     its private key (tls.http_key_file)\n"
"  --http-trusted-ca-file FILE  CA for HTTP client certificates\n"
"                           (tls.http_trusted_ca_file)\n"
"  --http-client-cert-auth  require HTTP client certificates\n"
"                           (tls.http_client_cert_auth)\n"
"  --auto-compaction-mode MODE  off, periodic or revision (compaction.mode;\n"
"                           default periodic; docs/storage.md)\n"
"  --auto-compaction-retention R  a duration (periodic, e.g. 1h) or a\n"
"                           revision count (revision) (compaction.retention)\n"
"  --set KEY=VALUE          set any config key, e.g. --set raft.election_timeout=2s\n"
"  --print-config           print the effective configuration and exit\n"
"  --version                print the version and exit\n"
"  -h, --help               this text\n"
"\n"
"Bootstrapping: on first start (empty data dir) a node creates the cluster\n"
"from cluster.initial_members; after that it always restarts from its data\n"
"dir and ignores initial_members.  A new member of a running cluster is\n"
"first added with `metastore-cli member add`, then started with --join and\n"
"--initial-cluster listing the existing members; it catches up from the\n"
"leader (by snapshot when the log was compacted).\n"
"\n"
"Signals: SIGTERM or SIGINT shut down cleanly (requests in progress finish,\n"
"the WAL is synced, exit status 0).\n");
}

/* Flags that take no value. */
static bool is_switch(const char *flag)
{
    return strcmp(flag, "--join") == 0 ||
           strcmp(flag, "--client-cert-auth") == 0 ||
           strcmp(flag, "--peer-client-cert-auth") == 0 ||
           strcmp(flag, "--http-client-cert-auth") == 0;
}

static int parse_args(int argc, char **argv, struct srv_config *cfg,
                      bool *print_config)
{
    char err[512];
    const char *config_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        }
    }
    if (config_path != NULL &&
        srv_config_load_file(cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "metastored: %s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("metastored %s\n", METASTORE_VERSION);
            exit(0);
        }
        if (strcmp(a, "--print-config") == 0) {
            *print_config = true;
            continue;
        }
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "metastored: unexpected argument '%s' (see --help)\n",
                    a);
            return 2;
        }
        char flag[128];
        const char *value = NULL;
        const char *eq = strchr(a, '=');
        if (eq != NULL && strncmp(a, "--set", 5) != 0) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            value = eq + 1;
        } else if (strncmp(a, "--set=", 6) == 0) {
            snprintf(flag, sizeof flag, "--set");
            value = a + 6;
        } else {
            snprintf(flag, sizeof flag, "%s", a);
            if (!is_switch(flag)) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "metastored: %s needs a value (see --help)\n",
                            flag);
                    return 2;
                }
                value = argv[++i];
            }
        }
        if (srv_config_apply_flag(cfg, flag, value, err, sizeof err) != 0) {
            fprintf(stderr, "metastored: %s\n", err);
            return 2;
        }
    }
    return 0;
}

/* ---- shutdown ---------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static struct admin_glue g_glue;
static struct admin_server *g_admin;
static struct http_api *g_http;

static void finish_shutdown(struct srv *s)
{
    if (g_admin != NULL) {
        admin_stop(g_admin, NULL, NULL);
        g_admin = NULL;
    }
    if (g_http != NULL) {
        http_api_stop(g_http);
        g_http = NULL;
    }
    srv_node_fail_all(s, SRV_STATUS_UNAVAILABLE, "server shutting down");
    srv_node_flush(s);
    srv_conn_close_all(s);
    srv_node_close_peers(s);
    uv_stop(s->loop);
}

static void on_shutdown_poll(uv_timer_t *t)
{
    struct srv *s = t->data;
    bool idle = s->parked == 0 && srv_node_quiesced(s);
    if (idle || srv_now_ns() >= s->shutdown_deadline_ns) {
        if (!idle) {
            ms_warn("shutdown: %zu request(s) still waiting; answering them "
                    "UNAVAILABLE",
                    s->parked);
        }
        uv_timer_stop(t);
        finish_shutdown(s);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct srv *s = h->data;
    if (s->shutting_down) {
        ms_warn("second signal: stopping now");
        finish_shutdown(s);
        return;
    }
    ms_info("received %s: shutting down (finishing requests in progress)",
            signum == SIGTERM ? "SIGTERM" : "SIGINT");
    s->shutting_down = true;
    srv_conn_close_listener(s);
    srv_conn_stop_reading_all(s);
    s->shutdown_deadline_ns =
        srv_now_ns() + s->cfg.server.request_timeout_ms * 1000000u;
    uv_timer_init(s->loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_timer_start(&s->shutdown_timer, on_shutdown_poll, 0, 10);
}

/* ---- main ------------------------------------------------------------- */

static int run(struct srv *s)
{
    int rv = srv_recover(s);
    if (rv == 0) {
        rv = srv_node_start(s);
    }
    if (rv == 0) {
        rv = srv_watch_start(s);
    }
    if (rv == 0) {
        rv = srv_conn_listen(s);
    }
    if (rv == 0) {
        admin_glue_init(&g_glue, s, 0);
        struct admin_provider prov = admin_glue_provider(&g_glue);
        rv = admin_start(s->loop, s->cfg.server.admin_listen, &prov, NULL,
                         &g_admin);
        if (rv == 0) {
            ms_info("admin endpoint (/metrics, /health, /readyz, /status) on "
                    "%s",
                    s->cfg.server.admin_listen);
        }
    }
    if (rv == 0 && s->cfg.server.http_listen[0] != '\0') {
        rv = http_api_start(s, &g_http);
    }
    if (rv != 0) {
        /* A WAL sync may already run on the thread pool: let it end. */
        while (s->sync_inflight) {
            uv_run(s->loop, UV_RUN_ONCE);
        }
        srv_node_close_peers(s);
        uv_walk(s->loop, close_walk, NULL);
        uv_run(s->loop, UV_RUN_DEFAULT);
        return 1;
    }
    uv_signal_init(s->loop, &s->sig_term);
    uv_signal_init(s->loop, &s->sig_int);
    s->sig_term.data = s;
    s->sig_int.data = s;
    uv_signal_start(&s->sig_term, on_signal, SIGTERM);
    uv_signal_start(&s->sig_int, on_signal, SIGINT);

    uv_run(s->loop, UV_RUN_DEFAULT);

    /* Let a WAL sync in flight finish, then sync what is still buffered. */
    srv_node_stop(s);
    while (s->sync_inflight) {
        uv_run(s->loop, UV_RUN_ONCE);
    }
    if (!s->failed && s->log != NULL && srv_logstore_sync(s->log) != 0) {
        ms_error("final log sync failed");
        s->exit_code = 1;
    }
    uv_walk(s->loop, close_walk, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    return s->exit_code;
}

/* Says once at start-up which ports speak TLS, and warns about a peer
 * port that accepts any member (no client certificate required). */
static void log_tls(const struct srv *s)
{
    const struct srv_config *c = &s->cfg;
    if (s->client_tls != NULL) {
        ms_info("client port: TLS, %s", c->tls.client_cert_auth
                                            ? "client certificates required"
                                            : "no client certificates");
    }
    if (s->peer_tls != NULL) {
        ms_info("peer port: TLS, %s", c->tls.peer_client_cert_auth
                                          ? "mutual (members verified)"
                                          : "server side only");
        if (!c->tls.peer_client_cert_auth) {
            ms_warn("tls.peer_client_cert_auth is false: anyone who can "
                    "reach the peer port may pretend to be a member; set it "
                    "to true (docs/security.md)");
        }
    }
}

int main(int argc, char **argv)
{
    static struct srv s;
    bool print_config = false;
    /* A peer that closed its socket must not kill the server: writes to it
     * fail with EPIPE (handled per connection) instead of raising SIGPIPE.
     * The TLS close_notify written just before closing hits this often. */
    signal(SIGPIPE, SIG_IGN);
    srv_config_defaults(&s.cfg);
    int rv = parse_args(argc, argv, &s.cfg, &print_config);
    if (rv != 0) {
        return rv;
    }
    char err[512];
    if (srv_config_validate(&s.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "metastored: %s\n", err);
        return 1;
    }
    if (print_config) {
        static char buf[65536];
        srv_config_format(&s.cfg, buf, sizeof buf);
        fputs(buf, stdout);
        return 0;
    }
    ms_log_configure(s.cfg.log.level, s.cfg.log.format);
    ms_log_set_node(s.cfg.node.id);
    const char *warn = srv_config_fsync_warning(&s.cfg);
    if (warn != NULL) {
        ms_warn("%s", warn);
    }
    if (srv_tls_load_config(&s.cfg, &s.client_tls, &s.peer_tls, err,
                            sizeof err) != 0) {
        ms_error("%s", err);
        fprintf(stderr, "metastored: %s\n", err);
        return 1;
    }
    log_tls(&s);
    s.cluster_id = srv_config_cluster_id(&s.cfg);
    s.loop = uv_default_loop();
    ms_info("metastored %s starting: node %llu (%s), engine %s, data dir "
            "%s",
            METASTORE_VERSION, (unsigned long long)s.cfg.node.id,
            s.cfg.node.name,
            s.cfg.storage.engine == SRV_ENGINE_ROCKSDB ? "rocksdb" : "memory",
            s.cfg.node.data_dir);
    rv = run(&s);
    srv_watch_close(&s);
    srv_storage_close(&s);
    srv_reads_close(&s);
    srv_tls_ctx_destroy(s.client_tls);
    srv_tls_ctx_destroy(s.peer_tls);
    uv_loop_close(s.loop);
    ms_info("stopped (exit %d)", rv);
    return rv;
}
