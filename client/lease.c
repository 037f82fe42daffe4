/*
 * lease.c - TTL lease calls of the client library and the background
 * keep-alive (client/metastore.h, "TTL leases").
 *
 * Each call is one request with one response over the client's
 * multiplexed connection (KeepAlive too: the protocol needs no stream for
 * it).  The background keep-alive runs one pthread with its own client,
 * renews every TTL/3 and declares the lease lost when the server says it
 * is gone or when no renewal succeeded for a whole TTL.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/internal.h"
#include "client/metastore.h"

static void note_header(struct ms_client *c, const Metastore__ResponseHeader *h)
{
    if (h != NULL) {
        ms__client_note_applied(c, h->applied_index);
    }
}

int ms_lease_grant(struct ms_client *c, int64_t ttl_s, int64_t id,
                   int64_t *id_out, int64_t *ttl_out)
{
    if (c == NULL || id < 0 || ttl_s < 0) {
        return MS_EINVAL;
    }
    Metastore__LeaseGrantRequest req = METASTORE__LEASE_GRANT_REQUEST__INIT;
    req.ttl = ttl_s;
    req.id = id;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_LEASE_GRANT, &req.base,
                              &metastore__lease_grant_response__descriptor,
                              false, &m);
    if (rc != 0) {
        return rc;
    }
    Metastore__LeaseGrantResponse *r = (Metastore__LeaseGrantResponse *)m;
    note_header(c, r->header);
    if (id_out != NULL) {
        *id_out = r->id;
    }
    if (ttl_out != NULL) {
        *ttl_out = r->ttl;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

int ms_lease_revoke(struct ms_client *c, int64_t id)
{
    if (c == NULL) {
        return MS_EINVAL;
    }
    Metastore__LeaseRevokeRequest req = METASTORE__LEASE_REVOKE_REQUEST__INIT;
    req.id = id;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_LEASE_REVOKE, &req.base,
                              &metastore__lease_revoke_response__descriptor,
                              false, &m);
    if (rc == 0) {
        note_header(c, ((Metastore__LeaseRevokeResponse *)m)->header);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

int ms_lease_keepalive_once(struct ms_client *c, int64_t id, int64_t *ttl_out)
{
    if (c == NULL) {
        return MS_EINVAL;
    }
    Metastore__LeaseKeepAliveRequest req =
        METASTORE__LEASE_KEEP_ALIVE_REQUEST__INIT;
    req.id = id;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_LEASE_KEEPALIVE, &req.base,
                              &metastore__lease_keep_alive_response__descriptor,
                              true, &m);
    if (rc != 0) {
        return rc;
    }
    int64_t ttl = ((Metastore__LeaseKeepAliveResponse *)m)->ttl;
    protobuf_c_message_free_unpacked(m, NULL);
    if (ttl_out != NULL) {
        *ttl_out = ttl;
    }
    if (ttl <= 0) {
        ms__client_set_errmsg(c, "requested lease not found");
        return MS_ENOTFOUND;
    }
    return 0;
}

void ms_lease_info_free(struct ms_lease_info *info)
{
    if (info == NULL) {
        return;
    }
    for (size_t i = 0; i < info->n_keys; i++) {
        free(info->keys[i].key);
    }
    free(info->keys);
    free(info);
}

/* Copies the response into a caller-owned ms_lease_info. */
static int info_from(const Metastore__LeaseTimeToLiveResponse *r,
                     struct ms_lease_info **out)
{
    struct ms_lease_info *info = calloc(1, sizeof *info);
    if (info == NULL) {
        return MS_ENOMEM;
    }
    info->id = r->id;
    info->ttl_s = r->ttl;
    info->granted_ttl_s = r->granted_ttl;
    if (r->n_keys > 0) {
        info->keys = calloc(r->n_keys, sizeof *info->keys);
        if (info->keys == NULL) {
            free(info);
            return MS_ENOMEM;
        }
    }
    for (size_t i = 0; i < r->n_keys; i++) {
        info->keys[i].key = malloc(r->keys[i].len + 1);
        if (info->keys[i].key == NULL) {
            ms_lease_info_free(info);
            return MS_ENOMEM;
        }
        memcpy(info->keys[i].key, r->keys[i].data, r->keys[i].len);
        info->keys[i].key[r->keys[i].len] = 0;
        info->keys[i].len = r->keys[i].len;
        info->n_keys = i + 1;
    }
    *out = info;
    return 0;
}

int ms_lease_time_to_live(struct ms_client *c, int64_t id, bool want_keys,
                          struct ms_lease_info **out)
{
    *out = NULL;
    if (c == NULL) {
        return MS_EINVAL;
    }
    Metastore__LeaseTimeToLiveRequest req =
        METASTORE__LEASE_TIME_TO_LIVE_REQUEST__INIT;
    req.id = id;
    req.keys = want_keys;
    ProtobufCMessage *m;
    int rc = ms__call_message(
        c, MS__METHOD_LEASE_TIME_TO_LIVE, &req.base,
        &metastore__lease_time_to_live_response__descriptor, true, &m);
    if (rc != 0) {
        return rc;
    }
    Metastore__LeaseTimeToLiveResponse *r =
        (Metastore__LeaseTimeToLiveResponse *)m;
    note_header(c, r->header);
    if (r->ttl < 0) {
        rc = MS_ENOTFOUND;
        ms__client_set_errmsg(c, "requested lease not found");
    } else {
        rc = info_from(r, out);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int ms_lease_leases(struct ms_client *c, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (c == NULL) {
        return MS_EINVAL;
    }
    Metastore__LeaseLeasesRequest req = METASTORE__LEASE_LEASES_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = ms__call_message(c, MS__METHOD_LEASE_LEASES, &req.base,
                              &metastore__lease_leases_response__descriptor,
                              true, &m);
    if (rc != 0) {
        return rc;
    }
    Metastore__LeaseLeasesResponse *r = (Metastore__LeaseLeasesResponse *)m;
    note_header(c, r->header);
    if (r->n_leases > 0) {
        *ids = malloc(r->n_leases * sizeof **ids);
        if (*ids == NULL) {
            rc = MS_ENOMEM;
        }
        for (size_t i = 0; rc == 0 && i < r->n_leases; i++) {
            (*ids)[i] = r->leases[i]->id;
        }
        *n = rc == 0 ? r->n_leases : 0;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* ---- background keep-alive ------------------------------------------------ */

struct ms_keepalive {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool stop;
    bool lost;
    uint64_t renewals;
    int64_t id;
    ms_keepalive_cb cb;
    void *arg;
    struct ms_client *client;
    char **eps; /* copies, for reconnecting in another order */
    size_t n_eps;
    size_t first; /* endpoint the current client starts with */
    char *user, *password; /* credentials (NULL user: none) */
    /* TLS for the keep-alive's connections (copies; tls_on false: TCP) */
    bool tls_on;
    struct ms_tls_options tls;
    char *tls_paths[3];
};

/* The keep-alive's own client: a short command timeout, so that a stuck
 * server (SIGSTOP, a partition) costs well under a TTL. */
static int keepalive_connect(struct ms_keepalive *k)
{
    const char *order[64];
    size_t n = k->n_eps < 64 ? k->n_eps : 64;
    for (size_t i = 0; i < n; i++) {
        order[i] = k->eps[(k->first + i) % k->n_eps];
    }
    struct ms_client_options o = {.dial_timeout_ms = 1000,
                                  .command_timeout_ms = 1000,
                                  .user = k->user,
                                  .password = k->password};
    if (k->tls_on) {
        o.tls = &k->tls;
    }
    return ms_client_create(order, n, &o, &k->client);
}

/* After a failed renewal: start over with the next endpoint first.  A
 * paused server still accepts TCP connections (the kernel completes them),
 * so retrying the same endpoint first could time out again and again. */
static void keepalive_rotate(struct ms_keepalive *k)
{
    struct ms_client *old = k->client;
    k->first = (k->first + 1) % k->n_eps;
    if (keepalive_connect(k) == 0) {
        ms_client_close(old);
    } else {
        k->client = old; /* keep the one we have */
    }
}

static void free_eps(struct ms_keepalive *k)
{
    if (k->password != NULL) {
        ms__wipe(k->password, strlen(k->password));
    }
    free(k->user);
    free(k->password);
    k->user = k->password = NULL;
    for (size_t i = 0; i < 3; i++) {
        free(k->tls_paths[i]);
    }
    for (size_t i = 0; k->eps != NULL && i < k->n_eps; i++) {
        free(k->eps[i]);
    }
    free(k->eps);
}

/* Retry interval after a failed renewal. */
#define RETRY_NS (500ull * 1000 * 1000)

/* Waits until `until_ns` (monotonic) or a stop; true when stopped. */
static bool wait_until(struct ms_keepalive *k, uint64_t until_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(until_ns / 1000000000ull),
                          .tv_nsec = (long)(until_ns % 1000000000ull)};
    pthread_mutex_lock(&k->mu);
    while (!k->stop && ms__now_ns() < until_ns) {
        if (pthread_cond_timedwait(&k->cv, &k->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    bool stop = k->stop;
    pthread_mutex_unlock(&k->mu);
    return stop;
}

static void *keepalive_main(void *arg)
{
    struct ms_keepalive *k = arg;
    uint64_t ttl_ns = 0, last_ok = ms__now_ns();
    int last_err = 0;
    for (;;) {
        int64_t ttl = 0;
        int rc = ms_lease_keepalive_once(k->client, k->id, &ttl);
        uint64_t now = ms__now_ns();
        uint64_t next;
        if (rc == 0) {
            ttl_ns = (uint64_t)ttl * 1000000000ull;
            last_ok = now;
            pthread_mutex_lock(&k->mu);
            k->renewals++;
            pthread_mutex_unlock(&k->mu);
            if (k->cb != NULL) {
                k->cb(k->arg, k->id, ttl, 0);
            }
            next = now + ttl_ns / 3;
        } else {
            last_err = rc;
            /* Gone for sure, or a whole TTL without a renewal (before the
             * first answer the TTL is unknown: give it 5 s). */
            uint64_t limit = ttl_ns > 0 ? ttl_ns : 5000000000ull;
            if (rc == MS_ENOTFOUND || now - last_ok >= limit) {
                break;
            }
            keepalive_rotate(k);
            next = now + RETRY_NS;
        }
        if (wait_until(k, next)) {
            return NULL;
        }
    }
    pthread_mutex_lock(&k->mu);
    k->lost = true;
    pthread_mutex_unlock(&k->mu);
    if (k->cb != NULL) {
        k->cb(k->arg, k->id, 0, last_err);
    }
    return NULL;
}

int ms_keepalive_start(const char *const *endpoints, size_t n,
                       int64_t lease_id, ms_keepalive_cb cb, void *arg,
                       struct ms_keepalive **out)
{
    return ms_keepalive_start_with(endpoints, n, NULL, NULL, NULL, lease_id,
                                   cb, arg, out);
}

int ms_keepalive_start_auth(const char *const *endpoints, size_t n,
                            const char *user, const char *password,
                            int64_t lease_id, ms_keepalive_cb cb, void *arg,
                            struct ms_keepalive **out)
{
    return ms_keepalive_start_with(endpoints, n, user, password, NULL,
                                   lease_id, cb, arg, out);
}

int ms_keepalive_start_tls(const char *const *endpoints, size_t n,
                           const struct ms_tls_options *tls, int64_t lease_id,
                           ms_keepalive_cb cb, void *arg,
                           struct ms_keepalive **out)
{
    return ms_keepalive_start_with(endpoints, n, NULL, NULL, tls, lease_id,
                                   cb, arg, out);
}

/* Copies one optional path of the TLS options; false when out of memory. */
static bool copy_path(const char *src, char **slot, const char **dst)
{
    *dst = NULL;
    if (src == NULL) {
        return true;
    }
    *slot = strdup(src);
    *dst = *slot;
    return *slot != NULL;
}

int ms_keepalive_start_with(const char *const *endpoints, size_t n,
                            const char *user, const char *password,
                            const struct ms_tls_options *tls, int64_t lease_id,
                            ms_keepalive_cb cb, void *arg,
                            struct ms_keepalive **out)
{
    *out = NULL;
    if (endpoints == NULL || n == 0 || lease_id <= 0) {
        return MS_EINVAL;
    }
    struct ms_keepalive *k = calloc(1, sizeof *k);
    if (k == NULL) {
        return MS_ENOMEM;
    }
    k->id = lease_id;
    k->cb = cb;
    k->arg = arg;
    k->eps = calloc(n, sizeof *k->eps);
    k->n_eps = n;
    int rc = k->eps != NULL ? 0 : MS_ENOMEM;
    if (rc == 0 && user != NULL) {
        k->user = strdup(user);
        k->password = strdup(password != NULL ? password : "");
        rc = k->user != NULL && k->password != NULL ? 0 : MS_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        k->eps[i] = endpoints[i] != NULL ? strdup(endpoints[i]) : NULL;
        rc = k->eps[i] != NULL ? 0 : MS_EINVAL;
    }
    if (rc == 0 && tls != NULL) {
        k->tls_on = true;
        k->tls.insecure_skip_verify = tls->insecure_skip_verify;
        bool ok = copy_path(tls->ca_file, &k->tls_paths[0], &k->tls.ca_file) &&
                  copy_path(tls->cert_file, &k->tls_paths[1],
                            &k->tls.cert_file) &&
                  copy_path(tls->key_file, &k->tls_paths[2], &k->tls.key_file);
        rc = ok ? 0 : MS_ENOMEM;
    }
    if (rc == 0) {
        rc = keepalive_connect(k);
    }
    if (rc != 0) {
        free_eps(k);
        free(k);
        return rc;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&k->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&k->mu, NULL);
    rc = pthread_create(&k->thread, NULL, keepalive_main, k);
    if (rc != 0) {
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        ms_client_close(k->client);
        free_eps(k);
        free(k);
        return -rc;
    }
    *out = k;
    return 0;
}

bool ms_keepalive_lost(struct ms_keepalive *k)
{
    pthread_mutex_lock(&k->mu);
    bool lost = k->lost;
    pthread_mutex_unlock(&k->mu);
    return lost;
}

uint64_t ms_keepalive_renewals(struct ms_keepalive *k)
{
    pthread_mutex_lock(&k->mu);
    uint64_t n = k->renewals;
    pthread_mutex_unlock(&k->mu);
    return n;
}

void ms_keepalive_stop(struct ms_keepalive *k)
{
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    ms_client_close(k->client);
    free_eps(k);
    free(k);
}
