/*
 * workload.c - a client workload that records its history and checks it
 * for linearizability; the fault tests drive it against real clusters
 * (test/docker/run.sh) while they kill, pause and disconnect nodes.
 *
 *   workload --endpoints H:P,H:P,... [--seconds N] [--clients N] [--keys N]
 *            [--prefix P] [--timeout-ms N]
 *
 * Each client thread writes unique values and reads (linearizable) random
 * keys through the client library, which fails over between endpoints.
 * Keys live under PREFIX<pid>-<time>/ so every run starts from absent keys.
 * A write that times out or loses its connection may or may not have taken
 * effect: it is recorded as pending.  A failed read is left out.  At the
 * end every key is read once more (with retries) so that a lost
 * acknowledged write shows up as a stale final read.  Exit status: 0 when
 * the history is linearizable and every final read succeeded, 1 when not,
 * 2 on bad usage.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/metastore.h"
#include "test/sim/linearize.h"

#define MAX_ENDPOINTS 16
#define MAX_OPS 200000

static const char *g_endpoints[MAX_ENDPOINTS];
static size_t g_n_endpoints;
static int g_seconds = 10, g_clients = 4, g_keys = 4, g_timeout_ms = 3000;
static const char *g_prefix = "wl/";
static struct lin_op g_ops[MAX_OPS];
static atomic_size_t g_n_ops;
static atomic_uint_fast64_t g_next_value = 1;
static atomic_int g_ok_writes, g_ok_reads, g_failed;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void record(uint32_t client, uint32_t kind, uint64_t key, uint64_t value,
                   uint64_t call, uint64_t ret)
{
    size_t i = atomic_fetch_add(&g_n_ops, 1);
    if (i < MAX_OPS) {
        g_ops[i] = (struct lin_op){client, kind, key, value, call, ret};
    }
}

static struct ms_client *open_client(uint32_t id)
{
    /* Start each client on a different endpoint. */
    const char *eps[MAX_ENDPOINTS];
    for (size_t i = 0; i < g_n_endpoints; i++) {
        eps[i] = g_endpoints[(i + id) % g_n_endpoints];
    }
    struct ms_client_options o = {.dial_timeout_ms = 500,
                                  .command_timeout_ms = (uint32_t)g_timeout_ms};
    struct ms_client *c = NULL;
    return ms_client_create(eps, g_n_endpoints, &o, &c) == 0 ? c : NULL;
}

/* Reads key k; returns 0 and *value (0 when absent), or an error. */
static int read_key(struct ms_client *c, uint64_t k, uint64_t *value)
{
    char key[64];
    snprintf(key, sizeof key, "%s%llu", g_prefix, (unsigned long long)k);
    struct ms_result *r = NULL;
    int rv = ms_get(c, key, strlen(key), NULL, &r);
    if (rv == 0) {
        *value = 0;
        if (r->range.n_kvs == 1) {
            char buf[32];
            size_t n = r->range.kvs[0].value_len < 31 ? r->range.kvs[0].value_len
                                                      : 31;
            memcpy(buf, r->range.kvs[0].value, n);
            buf[n] = '\0';
            *value = strtoull(buf, NULL, 10);
        }
    }
    ms_result_free(r);
    return rv;
}

static void *client_main(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    struct ms_client *c = open_client(id);
    uint64_t rng = 0x9e3779b97f4a7c15ull * (id + 1);
    uint64_t end = now_us() + (uint64_t)g_seconds * 1000000u;
    while (c != NULL && now_us() < end) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint64_t k = rng % (uint64_t)g_keys;
        uint64_t call = now_us();
        if ((rng >> 20) % 2 == 0) {
            uint64_t v = atomic_fetch_add(&g_next_value, 1);
            char key[64], val[32];
            snprintf(key, sizeof key, "%s%llu", g_prefix, (unsigned long long)k);
            snprintf(val, sizeof val, "%llu", (unsigned long long)v);
            struct ms_result *r = NULL;
            int rv = ms_put(c, key, strlen(key), val, strlen(val), 0, false, &r);
            ms_result_free(r);
            if (rv == 0) {
                record(id, LIN_WRITE, k, v, call, now_us());
                atomic_fetch_add(&g_ok_writes, 1);
            } else {
                record(id, LIN_WRITE, k, v, call, LIN_PENDING);
                atomic_fetch_add(&g_failed, 1);
            }
        } else {
            uint64_t v;
            if (read_key(c, k, &v) == 0) {
                record(id, LIN_READ, k, v, call, now_us());
                atomic_fetch_add(&g_ok_reads, 1);
            } else {
                atomic_fetch_add(&g_failed, 1);
            }
        }
    }
    ms_client_close(c);
    return NULL;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            return -1;
        }
        if (strcmp(a, "--endpoints") == 0) {
            char *list = strdup(v);
            for (char *t = strtok(list, ","); t != NULL && g_n_endpoints < MAX_ENDPOINTS;
                 t = strtok(NULL, ",")) {
                g_endpoints[g_n_endpoints++] = t;
            }
        } else if (strcmp(a, "--seconds") == 0) {
            g_seconds = atoi(v);
        } else if (strcmp(a, "--clients") == 0) {
            g_clients = atoi(v);
        } else if (strcmp(a, "--keys") == 0) {
            g_keys = atoi(v);
        } else if (strcmp(a, "--prefix") == 0) {
            g_prefix = v;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            g_timeout_ms = atoi(v);
        } else {
            return -1;
        }
        i++;
    }
    return g_n_endpoints > 0 && g_clients > 0 && g_clients <= 64 &&
                   g_keys > 0 && g_seconds > 0
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0) {
        fprintf(stderr, "usage: workload --endpoints H:P,... [--seconds N] "
                        "[--clients N] [--keys N] [--prefix P] "
                        "[--timeout-ms N]\n");
        return 2;
    }
    /* A fresh key space per run: the checker assumes keys start absent. */
    static char prefix[256];
    snprintf(prefix, sizeof prefix, "%s%ld-%llu/", g_prefix, (long)getpid(),
             (unsigned long long)now_us());
    g_prefix = prefix;
    pthread_t t[64];
    for (int i = 0; i < g_clients; i++) {
        pthread_create(&t[i], NULL, client_main, (void *)(uintptr_t)i);
    }
    for (int i = 0; i < g_clients; i++) {
        pthread_join(t[i], NULL);
    }
    /* Final reads: every key, retried until the cluster answers. */
    struct ms_client *c = open_client(0);
    int final_failed = 0;
    for (int k = 0; k < g_keys; k++) {
        uint64_t deadline = now_us() + 30000000u, v = 0;
        int rv = -1;
        while (rv != 0 && now_us() < deadline) {
            uint64_t call = now_us();
            rv = read_key(c, (uint64_t)k, &v);
            if (rv == 0) {
                record((uint32_t)g_clients, LIN_READ, (uint64_t)k, v, call,
                       now_us());
            } else {
                usleep(100000);
            }
        }
        final_failed += rv != 0;
    }
    ms_client_close(c);
    size_t n = atomic_load(&g_n_ops);
    if (n > MAX_OPS) {
        n = MAX_OPS;
    }
    struct lin_result res;
    lin_check(g_ops, n, 0, &res);
    printf("ops=%zu ok_writes=%d ok_reads=%d failed=%d final_reads_failed=%d "
           "linearizable=%s\n",
           n, atomic_load(&g_ok_writes), atomic_load(&g_ok_reads),
           atomic_load(&g_failed), final_failed,
           res.linearizable ? "yes" : "no");
    if (!res.linearizable) {
        printf("%s\n", res.msg);
    }
    return res.linearizable && final_failed == 0 && atomic_load(&g_ok_writes) > 0
               ? 0
               : 1;
}
