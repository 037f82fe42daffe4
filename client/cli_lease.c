/*
 * cli_lease.c - `metastore-cli lease grant|revoke|keep-alive|timetolive|list`
 * (docs/cli.md).  Output follows etcdctl v3: lease ids in hex, e.g.
 * "lease 694d77aa9e38260f granted with TTL(5s)"; -w json prints the same
 * facts as one JSON object per answer.
 *
 * keep-alive renews every TTL/3 until interrupted (SIGINT/SIGTERM: exit 0)
 * or until the lease is gone ("lease ... expired or revoked.", exit 1);
 * --once renews once.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/cli_util.h"
#include "client/metastore.h"

static int call_error(struct ms_client *c, int rc)
{
    const char *m = ms_client_errmsg(c);
    return mscli_fail("%s", m != NULL && m[0] != '\0' ? m : ms_strerror(rc));
}

/* A lease id as etcdctl prints it: hex. */
int mscli_lease_id_parse(const char *s, int64_t *id)
{
    char *end = NULL;
    errno = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
    }
    unsigned long long v = strtoull(s, &end, 16);
    if (errno != 0 || *s == '\0' || *end != '\0' || v == 0 ||
        v > (unsigned long long)INT64_MAX) {
        return -1;
    }
    *id = (int64_t)v;
    return 0;
}

static int grant(struct ms_client *c, const struct mscli_lease_args *a)
{
    char *end = NULL;
    errno = 0;
    long long ttl = strtoll(a->args[2], &end, 10);
    if (errno != 0 || *end != '\0' || a->args[2][0] == '\0' || ttl <= 0) {
        return mscli_fail("bad TTL (%s)", a->args[2]);
    }
    int64_t id = 0, got = 0;
    int rc = ms_lease_grant(c, ttl, 0, &id, &got);
    if (rc != 0) {
        return call_error(c, rc);
    }
    if (a->format == MSCLI_JSON) {
        printf("{\"ID\":%" PRId64 ",\"TTL\":%" PRId64 "}\n", id, got);
    } else {
        printf("lease %016" PRIx64 " granted with TTL(%" PRId64 "s)\n",
               (uint64_t)id, got);
    }
    return 0;
}

static int revoke(struct ms_client *c, const struct mscli_lease_args *a,
                  int64_t id)
{
    int rc = ms_lease_revoke(c, id);
    if (rc != 0) {
        return call_error(c, rc);
    }
    if (a->format == MSCLI_JSON) {
        printf("{\"ID\":%" PRId64 ",\"revoked\":true}\n", id);
    } else {
        printf("lease %016" PRIx64 " revoked\n", (uint64_t)id);
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void print_keepalive(const struct mscli_lease_args *a, int64_t id,
                            int64_t ttl)
{
    if (a->format == MSCLI_JSON) {
        printf("{\"ID\":%" PRId64 ",\"TTL\":%" PRId64 "}\n", id, ttl);
    } else {
        printf("lease %016" PRIx64 " keepalived with TTL(%" PRId64 ")\n",
               (uint64_t)id, ttl);
    }
    fflush(stdout);
}

/* Sleeps up to ns in short steps so that a signal ends it soon. */
static void nap(uint64_t ns)
{
    while (ns > 0 && !interrupted) {
        uint64_t step = ns < 100000000ull ? ns : 100000000ull;
        struct timespec ts = {0, (long)step};
        nanosleep(&ts, NULL);
        ns -= step;
    }
}

/* Endpoints of this invocation, for the background keep-alive. */
static char **lease_eps;
static size_t lease_n_eps;
static volatile int keepalive_err; /* set by the keep-alive thread */

static void on_renewal(void *arg, int64_t id, int64_t ttl, int err)
{
    if (err == 0) {
        print_keepalive(arg, id, ttl);
    } else {
        __atomic_store_n(&keepalive_err, err, __ATOMIC_SEQ_CST);
    }
}

/* keep-alive: --once is one call; otherwise the library's background
 * keep-alive (every TTL/3, failing over between endpoints) prints each
 * renewal until a signal or the loss of the lease. */
static int keep_alive(struct ms_client *c, const struct mscli_lease_args *a,
                      int64_t id)
{
    if (a->once) {
        int64_t ttl = 0;
        int rc = ms_lease_keepalive_once(c, id, &ttl);
        if (rc == MS_ENOTFOUND) {
            printf("lease %016" PRIx64 " expired or revoked.\n",
                   (uint64_t)id);
            return EXIT_FAILURE;
        }
        if (rc != 0) {
            return call_error(c, rc);
        }
        print_keepalive(a, id, ttl);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct ms_keepalive *ka = NULL;
    int rc = ms_keepalive_start_auth((const char *const *)lease_eps,
                                     lease_n_eps, a->user, a->password, id,
                                     on_renewal, (void *)a, &ka);
    if (rc != 0) {
        return mscli_fail("%s", ms_strerror(rc));
    }
    while (!interrupted && !ms_keepalive_lost(ka)) {
        nap(100000000ull);
    }
    bool lost = ms_keepalive_lost(ka);
    ms_keepalive_stop(ka);
    if (!lost) {
        return 0; /* interrupted */
    }
    int err = __atomic_load_n(&keepalive_err, __ATOMIC_SEQ_CST);
    if (err == MS_ENOTFOUND) {
        printf("lease %016" PRIx64 " expired or revoked.\n", (uint64_t)id);
        return EXIT_FAILURE;
    }
    return mscli_fail("keep-alive failed for a whole TTL: %s",
                      ms_strerror(err));
}

static void print_key_json(const struct ms_lease_key *k)
{
    char *b64 = NULL;
    if (mscli_base64(k->key, k->len, &b64) == 0) {
        printf("\"%s\"", b64);
        free(b64);
    } else {
        fputs("\"\"", stdout);
    }
}

static int time_to_live(struct ms_client *c, const struct mscli_lease_args *a,
                        int64_t id)
{
    struct ms_lease_info *info = NULL;
    int rc = ms_lease_time_to_live(c, id, a->keys, &info);
    if (rc == MS_ENOTFOUND) {
        if (a->format == MSCLI_JSON) {
            printf("{\"id\":%" PRId64 ",\"ttl\":-1,\"granted-ttl\":0}\n", id);
        } else {
            printf("lease %016" PRIx64 " already expired\n", (uint64_t)id);
        }
        return 0;
    }
    if (rc != 0) {
        return call_error(c, rc);
    }
    if (a->format == MSCLI_JSON) {
        printf("{\"id\":%" PRId64 ",\"ttl\":%" PRId64
               ",\"granted-ttl\":%" PRId64,
               info->id, info->ttl_s, info->granted_ttl_s);
        if (a->keys) {
            fputs(",\"keys\":[", stdout);
            for (size_t i = 0; i < info->n_keys; i++) {
                if (i > 0) {
                    fputc(',', stdout);
                }
                print_key_json(&info->keys[i]);
            }
            fputc(']', stdout);
        }
        fputs("}\n", stdout);
    } else {
        printf("lease %016" PRIx64 " granted with TTL(%" PRId64
               "s), remaining(%" PRId64 "s)",
               (uint64_t)info->id, info->granted_ttl_s, info->ttl_s);
        if (a->keys) {
            fputs(", attached keys([", stdout);
            for (size_t i = 0; i < info->n_keys; i++) {
                printf("%s%.*s", i > 0 ? " " : "", (int)info->keys[i].len,
                       (const char *)info->keys[i].key);
            }
            fputs("])", stdout);
        }
        fputc('\n', stdout);
    }
    ms_lease_info_free(info);
    return 0;
}

static int list(struct ms_client *c, const struct mscli_lease_args *a)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = ms_lease_leases(c, &ids, &n);
    if (rc != 0) {
        return call_error(c, rc);
    }
    if (a->format == MSCLI_JSON) {
        fputs("{\"leases\":[", stdout);
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"ID\":%" PRId64 "}", i > 0 ? "," : "", ids[i]);
        }
        fputs("]}\n", stdout);
    } else {
        printf("found %zu leases\n", n);
        for (size_t i = 0; i < n; i++) {
            printf("%016" PRIx64 "\n", (uint64_t)ids[i]);
        }
    }
    free(ids);
    return 0;
}

/* Runs the subcommand on an open client; returns the exit status or -1
 * for a usage error. */
static int run(struct ms_client *c, const struct mscli_lease_args *a)
{
    const char *sub = a->args[1];
    if (strcmp(sub, "list") == 0) {
        return a->nargs == 2 ? list(c, a) : -1;
    }
    if (a->nargs != 3) {
        return -1;
    }
    if (strcmp(sub, "grant") == 0) {
        return grant(c, a);
    }
    int64_t id;
    if (mscli_lease_id_parse(a->args[2], &id) != 0) {
        return mscli_fail("bad lease ID arg (%s), expecting ID in Hex",
                          a->args[2]);
    }
    if (strcmp(sub, "revoke") == 0) {
        return revoke(c, a, id);
    }
    if (strcmp(sub, "keep-alive") == 0) {
        return keep_alive(c, a, id);
    }
    if (strcmp(sub, "timetolive") == 0) {
        return time_to_live(c, a, id);
    }
    return -1;
}

int mscli_lease_main(const struct mscli_lease_args *a)
{
    static const char *const subs[] = {"grant", "revoke", "keep-alive",
                                       "timetolive", "list"};
    bool known = false;
    for (size_t i = 0; a->nargs >= 2 && i < sizeof subs / sizeof subs[0];
         i++) {
        known = known || strcmp(a->args[1], subs[i]) == 0;
    }
    if (!known) {
        return -1;
    }
    char **eps = NULL;
    size_t n = 0;
    char err[256] = "";
    if (mscli_endpoints_parse(a->endpoints, &eps, &n, err, sizeof err)) {
        return mscli_fail("%s", err);
    }
    struct ms_client_options o = {
        .dial_timeout_ms = (uint32_t)((a->dial_ns + 999999) / 1000000),
        .command_timeout_ms = (uint32_t)((a->command_ns + 999999) / 1000000),
        .user = a->user,
        .password = a->password,
    };
    struct ms_client *c = NULL;
    int rc = ms_client_create((const char *const *)eps, n, &o, &c);
    if (rc != 0) {
        mscli_endpoints_free(eps);
        return mscli_fail("%s", ms_strerror(rc));
    }
    lease_eps = eps;
    lease_n_eps = n;
    rc = run(c, a);
    ms_client_close(c);
    mscli_endpoints_free(eps);
    return rc;
}
