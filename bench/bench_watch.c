/*
 * bench_watch.c - what watchers cost writes, against one running node.
 *
 * A standalone benchmark, not a test (scripts/bench-watch.sh runs it
 * against a node with server.watch_live_events off and one with it on,
 * side by side).  One run:
 *   1. opens one connection and creates --watchers watchers on one stream
 *      (--kind key: watcher i watches the key w/<i mod keys>; --kind
 *      prefix: every watcher watches the prefix w/, so each put reaches
 *      all of them); a reader thread drains the stream all along and
 *      counts events, so the stream is never held back;
 *   2. writes every key once, then compacts (each run starts from the same
 *      history size);
 *   3. latency: one client puts random keys one after the other for
 *      --seconds; mean, p50 and p99 of the put round trip;
 *   4. throughput: --threads clients put as fast as they can for
 *      --seconds; puts per second;
 *   5. waits until the watchers have every event the puts made (at most
 *      30 s) and reports how long that took after the last put.
 * Prints one line of key=value pairs.
 *
 * Failure modes: a bad flag prints the usage and exits 2; a failed call or
 * a watcher that was refused or canceled prints why and exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client/internal.h"
#include "client/metastore.h"
#include "proto/metastore.pb-c.h"

#define KEY_CAP     32
#define VALUE_BYTES 64
#define MAX_SAMPLES (1u << 20)

static const char *endpoint = "127.0.0.1:2379";
static int watchers = 0;
static bool prefix = false;
static int keys = 500;
static double seconds = 3.0;
static int threads = 4;

static atomic_ullong events_seen;
static atomic_ullong events_expected; /* by the puts since watchers exist */
static atomic_bool counting;
static atomic_bool reader_failed;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-watch: %s: %s\n", what, ms_strerror(rc));
    exit(1);
}

static struct ms_client *client(void)
{
    const char *eps[] = {endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 2000,
                                  .command_timeout_ms = 60000};
    struct ms_client *c = NULL;
    int rc = ms_client_open(eps, 1, &o, &c);
    if (rc != 0) {
        die("connect", rc);
    }
    return c;
}

static void key_of(char *buf, int i)
{
    snprintf(buf, KEY_CAP, "w/%05d", i);
}

/* Watchers that see a put of key i (key: the watchers that share it;
 * prefix: all). */
static unsigned long long watchers_of(int i)
{
    if (prefix) {
        return (unsigned long long)watchers;
    }
    return (unsigned long long)(watchers / keys + (i < watchers % keys));
}

static void put_key(struct ms_client *c, int i, unsigned seq)
{
    char k[KEY_CAP], v[VALUE_BYTES + 1];
    key_of(k, i);
    snprintf(v, sizeof v, "%0*u", VALUE_BYTES, seq);
    struct ms_result *r = NULL;
    int rc = ms_put(c, k, strlen(k), v, VALUE_BYTES, 0, false, &r);
    ms_result_free(r);
    if (rc != 0) {
        die("put", rc);
    }
    if (atomic_load(&counting)) {
        atomic_fetch_add(&events_expected, watchers_of(i));
    }
}

/* ---- the watchers' connection -------------------------------------------- */

static int watch_fd = -1;

static int dial(void)
{
    char host[64];
    const char *colon = strrchr(endpoint, ':');
    if (colon == NULL || (size_t)(colon - endpoint) >= sizeof host) {
        fprintf(stderr, "bench-watch: bad endpoint %s\n", endpoint);
        exit(2);
    }
    memcpy(host, endpoint, (size_t)(colon - endpoint));
    host[colon - endpoint] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("bench-watch: watch connection");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            perror("bench-watch: write");
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void create_watchers(int fd)
{
    static uint8_t buf[1 << 20];
    size_t len = 0;
    uint8_t end[KEY_CAP] = "w0"; /* prefix end of "w/" */
    for (int i = 0; i < watchers; i++) {
        char k[KEY_CAP];
        if (prefix) {
            snprintf(k, sizeof k, "w/");
        } else {
            key_of(k, i % keys);
        }
        Metastore__WatchCreateRequest cr =
            METASTORE__WATCH_CREATE_REQUEST__INIT;
        Metastore__WatchRequest rq = METASTORE__WATCH_REQUEST__INIT;
        cr.key.data = (uint8_t *)k;
        cr.key.len = strlen(k);
        if (prefix) {
            cr.range_end.data = end;
            cr.range_end.len = 2;
        }
        rq.request_union_case =
            METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
        rq.create_request = &cr;
        size_t n = protobuf_c_message_get_packed_size(&rq.base);
        if (len + n + MS__FRAME_HEADER_BYTES > sizeof buf) {
            send_all(fd, buf, len);
            len = 0;
        }
        struct ms__frame_header h = {(uint32_t)n, MS__METHOD_WATCH, 0, 1};
        ms__frame_header_encode(&h, buf + len);
        protobuf_c_message_pack(&rq.base, buf + len + MS__FRAME_HEADER_BYTES);
        len += n + MS__FRAME_HEADER_BYTES;
    }
    send_all(fd, buf, len);
}

static int read_full(int fd, void *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, (char *)p + done, n - done);
        if (r <= 0) {
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static atomic_int created;

/* Drains the stream: counts CREATED responses and events; stops at EOF. */
static void *reader_main(void *arg)
{
    (void)arg;
    size_t cap = 1 << 16;
    uint8_t *body = malloc(cap);
    for (;;) {
        uint8_t raw[MS__FRAME_HEADER_BYTES];
        struct ms__frame_header h;
        if (read_full(watch_fd, raw, sizeof raw) != 0 ||
            ms__frame_header_decode(raw, 64u << 20, &h) != 0) {
            break;
        }
        if (h.length > cap) {
            cap = h.length;
            free(body);
            body = malloc(cap);
        }
        if (body == NULL || read_full(watch_fd, body, h.length) != 0) {
            break;
        }
        if (h.flags & MS__FLAG_ERROR) {
            fprintf(stderr, "bench-watch: a watch was refused (is "
                            "server.max_watchers large enough?)\n");
            atomic_store(&reader_failed, true);
            break;
        }
        Metastore__WatchResponse *m =
            metastore__watch_response__unpack(NULL, h.length, body);
        if (m == NULL) {
            break;
        }
        if (m->created) {
            atomic_fetch_add(&created, 1);
        }
        if (m->canceled) {
            fprintf(stderr, "bench-watch: watch canceled: %s\n",
                    m->cancel_reason);
            atomic_store(&reader_failed, true);
        }
        atomic_fetch_add(&events_seen, m->n_events);
        metastore__watch_response__free_unpacked(m, NULL);
    }
    free(body);
    return NULL;
}

/* ---- load ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static atomic_ullong puts_done;
static atomic_bool stop;

static void *writer_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    struct ms_client *c = client();
    unsigned long long n = 0;
    while (!atomic_load(&stop)) {
        put_key(c, (int)(rand_r(&seed) % (unsigned)keys), seed);
        n++;
    }
    atomic_fetch_add(&puts_done, n);
    ms_client_close(c);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench-watch [--endpoint HOST:PORT] [--watchers N] "
            "[--kind key|prefix] [--keys N] [--seconds S] [--threads N]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            usage();
        }
        const char *v = argv[++i];
        if (strcmp(a, "--endpoint") == 0) {
            endpoint = v;
        } else if (strcmp(a, "--watchers") == 0) {
            watchers = atoi(v);
        } else if (strcmp(a, "--kind") == 0) {
            if (strcmp(v, "key") != 0 && strcmp(v, "prefix") != 0) {
                usage();
            }
            prefix = strcmp(v, "prefix") == 0;
        } else if (strcmp(a, "--keys") == 0) {
            keys = atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = atof(v);
        } else if (strcmp(a, "--threads") == 0) {
            threads = atoi(v);
        } else {
            usage();
        }
    }
    if (watchers < 0 || keys < 1 || keys > 99999 || seconds <= 0 ||
        threads < 1 || threads > 256) {
        usage();
    }
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    struct ms_client *c = client();
    for (int i = 0; i < keys; i++) {
        put_key(c, i, 0);
    }
    struct ms_result *r = NULL;
    int rc = ms_put(c, "w-", 2, "x", 1, 0, false, &r);
    if (rc != 0) {
        die("put", rc);
    }
    int64_t rev = r->header.revision;
    ms_result_free(r);
    r = NULL;
    rc = ms_compact(c, rev, false, &r);
    ms_result_free(r);
    if (rc != 0 && rc != MS_ECOMPACTED) {
        die("compact", rc);
    }

    pthread_t reader;
    if (watchers > 0) {
        watch_fd = dial();
        create_watchers(watch_fd);
        pthread_create(&reader, NULL, reader_main, NULL);
        uint64_t deadline = now_ns() + 30000000000ull;
        while (atomic_load(&created) < watchers && now_ns() < deadline &&
               !atomic_load(&reader_failed)) {
            usleep(1000);
        }
        if (atomic_load(&created) < watchers) {
            fprintf(stderr, "bench-watch: only %d of %d watchers created\n",
                    atomic_load(&created), watchers);
            return 1;
        }
    }

    atomic_store(&counting, true);
    /* Latency: one client, one put at a time. */
    static uint64_t lat[MAX_SAMPLES];
    size_t n = 0;
    unsigned seed = 1;
    uint64_t t0 = now_ns(), until = t0 + (uint64_t)(seconds * 1e9);
    while (now_ns() < until && n < MAX_SAMPLES) {
        uint64_t s = now_ns();
        put_key(c, (int)(rand_r(&seed) % (unsigned)keys), (unsigned)n);
        lat[n++] = now_ns() - s;
    }
    double lat_s = (double)(now_ns() - t0) / 1e9;
    qsort(lat, n, sizeof lat[0], cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (double)lat[i];
    }

    /* Throughput: several clients at once. */
    pthread_t *tw = calloc((size_t)threads, sizeof *tw);
    if (tw == NULL) {
        return 1;
    }
    uint64_t t1 = now_ns();
    for (int i = 0; i < threads; i++) {
        pthread_create(&tw[i], NULL, writer_main, (void *)(uintptr_t)(i + 7));
    }
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, true);
    for (int i = 0; i < threads; i++) {
        pthread_join(tw[i], NULL);
    }
    double put_s = (double)(now_ns() - t1) / 1e9;
    free(tw);
    uint64_t last_put = now_ns();

    /* Every event delivered? */
    double want = (double)atomic_load(&events_expected);
    double drain_ms = 0;
    if (watchers > 0) {
        uint64_t deadline = last_put + 30000000000ull;
        while ((double)atomic_load(&events_seen) < want &&
               now_ns() < deadline && !atomic_load(&reader_failed)) {
            usleep(200);
        }
        drain_ms = (double)(now_ns() - last_put) / 1e6;
    }
    printf("watchers=%d kind=%s seq_puts=%zu seq_puts_per_s=%.0f "
           "put_mean_ms=%.3f put_p50_ms=%.3f put_p99_ms=%.3f "
           "threads=%d conc_puts_per_s=%.0f events=%llu events_wanted=%.0f "
           "drain_ms=%.0f\n",
           watchers, prefix ? "prefix" : "key", n, (double)n / lat_s,
           sum / (double)n / 1e6, (double)lat[n / 2] / 1e6,
           (double)lat[n * 99 / 100] / 1e6, threads,
           (double)atomic_load(&puts_done) / put_s,
           (unsigned long long)atomic_load(&events_seen), want, drain_ms);
    int bad =
        atomic_load(&reader_failed) || (double)atomic_load(&events_seen) < want;
    if (watchers > 0) {
        shutdown(watch_fd, SHUT_RDWR);
        pthread_join(reader, NULL);
        close(watch_fd);
    }
    ms_client_close(c);
    if (bad) {
        fprintf(stderr, "bench-watch: watchers got %llu of %.0f events\n",
                (unsigned long long)atomic_load(&events_seen), want);
    }
    return bad ? 1 : 0;
}
