/*
 * auth_glue.c - the auth table of server/auth.h inside metastored: the
 * permission check, the auth methods, tokens, failure rate limiting,
 * apply, snapshots and the RocksDB aux blob.  auth_glue.h has the model.
 *
 * Happy path of a change (e.g. USER_ADD): srv_kv_dispatch checks the
 * caller (root once auth is enabled) with srv_auth_check, hands the
 * request here; the password is hashed into hashed_password and cleared,
 * the request re-packed and proposed; when the entry applies on each node
 * srv_auth_apply runs the matching auth_apply_*() and answers the client.
 *
 * Happy path of a request: srv_auth_check decodes the body, works out
 * which keys it reads and writes (a txn: its compares and both branches),
 * and asks auth_check() for each against the table as applied now.
 *
 * Failure modes: a wrong password or unknown user -> UNAUTHENTICATED and a
 * failure counted against the client's address; after auth.max_failures
 * failures in a row that address is refused (RESOURCE_EXHAUSTED) for
 * auth.lockout, doubling with every further failure (up to 64x), and each
 * lockout is logged with the address and user name (never the password).
 * Refused changes (user exists, root rules) are outcomes of the entry, the
 * same on every node.
 */
#include "server/auth_glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "proto/metastore.pb-c.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/snapsection.h"
#include "server/status.h"
#include "server/ttl_glue.h"
#include "storage/rocksdb.h"
#include "storage/wal.h"

static const char SNAP_MAGIC[8] = {'M', 'S', 'A', 'U', 'T', 'H', '0', '1'};

#define MAX_TOKENS 4096
#define MAX_FAIL_ADDRS 256
#define MAX_LOCKOUT_SHIFT 6 /* lockout grows to 64x auth.lockout */

struct token {
    char token[33];
    struct srv_auth_id id;
    uint64_t expires_ns;
};

struct fail_addr {
    char addr[64];
    uint32_t failures;
    uint32_t in_flight; /* password checks started, not yet answered */
    uint64_t until_ns;
    uint64_t last_ns;
};

struct srv_auth {
    struct auth *a;
    struct srv_auth_stats stats;
    struct token *tokens;
    size_t n_tokens;
    struct fail_addr fails[MAX_FAIL_ADDRS];
};

int srv_auth_open(struct srv *s)
{
    struct srv_auth *g = calloc(1, sizeof *g);
    if (g == NULL || auth_create(&g->a) != 0) {
        free(g);
        return -ENOMEM;
    }
    g->tokens = calloc(MAX_TOKENS, sizeof *g->tokens);
    if (g->tokens == NULL) {
        auth_destroy(g->a);
        free(g);
        return -ENOMEM;
    }
    s->auth = g;
    return 0;
}

void srv_auth_close(struct srv *s)
{
    if (s->auth != NULL) {
        OPENSSL_cleanse(s->auth->tokens, MAX_TOKENS * sizeof(struct token));
        free(s->auth->tokens);
        auth_destroy(s->auth->a);
        free(s->auth);
        s->auth = NULL;
    }
}

/* ---- persistence -------------------------------------------------------------- */

static int stage_table(struct srv *s)
{
    if (!engine_rocksdb_is(s->eng)) {
        return 0; /* the WAL and snapshots carry it */
    }
    uint8_t *img;
    size_t len;
    if (auth_save(s->auth->a, &img, &len) != 0) {
        return ENGINE_ENOMEM;
    }
    int rv = engine_rocksdb_aux_auth_stage(s->eng, img, len);
    free(img);
    return rv;
}

int srv_auth_recover(struct srv *s)
{
    struct auth *a = s->auth->a;
    if (engine_rocksdb_is(s->eng)) {
        const void *img;
        size_t len;
        int rv = engine_rocksdb_aux_auth_get(s->eng, &s->arena, &img, &len);
        if (rv == 0) {
            rv = auth_load(a, img, len);
            if (rv != 0) {
                ms_error("the auth table in the RocksDB engine is unreadable: "
                         "%s",
                         auth_strerror(rv));
            }
        } else if (rv == ENGINE_ENOTFOUND) {
            rv = 0; /* never written: no auth change was ever applied */
        } else {
            ms_error("cannot read the auth table: %s", engine_strerror(rv));
        }
        engine_arena_reset(&s->arena);
        if (rv != 0) {
            return rv;
        }
    }
    if (auth_user_count(a) > 0 || auth_enabled(a)) {
        ms_info("auth: %zu user(s), %zu role(s), authentication %s",
                auth_user_count(a), auth_role_count(a),
                auth_enabled(a) ? "enabled" : "disabled");
    }
    return 0;
}

int srv_auth_persist(struct srv *s)
{
    if (!engine_rocksdb_is(s->eng)) {
        return 0;
    }
    int rv = stage_table(s);
    return rv == 0 ? engine_mark_applied(s->eng, engine_applied_index(s->eng))
                   : rv;
}

/* ---- identities and tokens ------------------------------------------------------- */

/* Is id a user that exists now, with the password it authenticated with? */
static bool id_current(const struct srv_auth *g, const struct srv_auth_id *id)
{
    uint64_t gen;
    return id != NULL && id->set &&
           auth_user_gen(g->a, id->user, &gen) == 0 && gen == id->gen;
}

static void new_token(struct srv_auth *g, const struct srv_auth_id *id,
                      uint64_t ttl_ns, char out[33])
{
    uint8_t raw[16];
    out[0] = 0;
    if (RAND_bytes(raw, sizeof raw) != 1) {
        return; /* no token; the connection identity still works */
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
    uint64_t now = srv_now_ns();
    /* Reuse an expired slot, else the one closest to expiry. */
    size_t slot = 0;
    for (size_t i = 0; i < MAX_TOKENS; i++) {
        if (g->tokens[i].expires_ns <= now) {
            slot = i;
            break;
        }
        if (g->tokens[i].expires_ns < g->tokens[slot].expires_ns) {
            slot = i;
        }
    }
    struct token *t = &g->tokens[slot];
    memcpy(t->token, out, 33);
    t->id = *id;
    t->expires_ns = now + ttl_ns;
}

bool srv_auth_id_from_token(struct srv *s, const char *token,
                            struct srv_auth_id *id)
{
    uint64_t now = srv_now_ns();
    if (token == NULL || strlen(token) != 32) {
        return false;
    }
    for (size_t i = 0; i < MAX_TOKENS; i++) {
        struct token *t = &s->auth->tokens[i];
        if (t->expires_ns > now && CRYPTO_memcmp(t->token, token, 32) == 0) {
            /* Used tokens live on (etcd's simple tokens are renewed too). */
            t->expires_ns = now + s->cfg.auth.token_ttl_ms * 1000000u;
            *id = t->id;
            return true;
        }
    }
    return false;
}

int srv_auth_token_identity(struct srv *s, const char *token,
                            struct srv_auth_id *id, char *msg, size_t cap)
{
    memset(id, 0, sizeof *id);
    struct srv_auth *g = s->auth;
    if (g == NULL || !auth_enabled(g->a) || token == NULL || token[0] == 0) {
        return SRV_STATUS_OK;
    }
    if (!srv_auth_id_from_token(s, token, id)) {
        memset(id, 0, sizeof *id);
        g->stats.unauthenticated++;
        snprintf(msg, cap, "invalid auth token: it is unknown to this node "
                           "or expired; authenticate again");
        return SRV_STATUS_UNAUTHENTICATED;
    }
    return SRV_STATUS_OK;
}

/* ---- rate limiting ------------------------------------------------------------------ */

/* "1.2.3.4:5678" -> "1.2.3.4" (failures count per host, not per port).
 * The HTTP gateway names its clients "http 1.2.3.4:5678": the address is
 * the last word, so both front doors count against the same host. */
static void host_of(const char *peer, char *out, size_t cap)
{
    const char *sp = peer != NULL ? strrchr(peer, ' ') : NULL;
    snprintf(out, cap, "%s", sp != NULL ? sp + 1 : peer != NULL ? peer : "?");
    char *colon = strrchr(out, ':');
    if (colon != NULL && colon != out) {
        *colon = 0;
    }
}

static struct fail_addr *fail_slot(struct srv_auth *g, const char *host,
                                   bool create)
{
    struct fail_addr *oldest = &g->fails[0];
    for (size_t i = 0; i < MAX_FAIL_ADDRS; i++) {
        struct fail_addr *f = &g->fails[i];
        if (f->addr[0] != 0 && strcmp(f->addr, host) == 0) {
            return f;
        }
        if (f->last_ns < oldest->last_ns) {
            oldest = f;
        }
    }
    if (!create) {
        return NULL;
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->addr, sizeof oldest->addr, "%s", host);
    return oldest;
}

/* 0, or the milliseconds this host must still wait. */
static uint64_t locked_out_ms(struct srv_auth *g, const char *host)
{
    struct fail_addr *f = fail_slot(g, host, false);
    uint64_t now = srv_now_ns();
    if (f == NULL || f->until_ns <= now) {
        return 0;
    }
    return (f->until_ns - now) / 1000000u + 1;
}

static void record_failure(struct srv *s, const char *host, const char *user)
{
    struct srv_auth *g = s->auth;
    struct fail_addr *f = fail_slot(g, host, true);
    uint64_t now = srv_now_ns();
    f->failures++;
    f->last_ns = now;
    uint64_t max = s->cfg.auth.max_failures;
    if (f->failures >= max) {
        uint64_t shift = f->failures - max;
        if (shift > MAX_LOCKOUT_SHIFT) {
            shift = MAX_LOCKOUT_SHIFT;
        }
        uint64_t ms = s->cfg.auth.lockout_ms << shift;
        f->until_ns = now + ms * 1000000u;
        ms_warn("auth: %u failed authentications in a row from %s (last as "
                "user \"%s\"); refusing that address for %llu ms",
                f->failures, host, user, (unsigned long long)ms);
    }
}

static void record_success(struct srv_auth *g, const char *host)
{
    struct fail_addr *f = fail_slot(g, host, false);
    if (f != NULL) {
        memset(f, 0, sizeof *f);
    }
}

/* Is this host in a lockout?  Counts and fills msg when it is. */
static bool refused_now(struct srv *s, const char *host, char *msg, size_t cap)
{
    uint64_t wait_ms = locked_out_ms(s->auth, host);
    if (wait_ms == 0) {
        return false;
    }
    s->auth->stats.auth_rate_limited++;
    snprintf(msg, cap,
             "too many failed authentications from %s; retry in %llu ms", host,
             (unsigned long long)wait_ms);
    return true;
}

/*
 * A password check on the thread pool records its failure only when it
 * ends, so checks started together (pipelined on one connection, or on
 * many) would all run before the first failure counts, and max_failures
 * would bound nothing.  A check in flight therefore counts as a failure to
 * come: a host may have max_failures - failures checks running (one at a
 * time once it has reached the limit).  True, with msg filled, when this
 * one must wait; false when it may start (and is now counted).
 */
static bool refused_in_flight(struct srv *s, const char *host, char *msg,
                              size_t cap)
{
    struct fail_addr *f = fail_slot(s->auth, host, true);
    uint64_t max = s->cfg.auth.max_failures;
    uint64_t allowed = f->failures < max ? max - f->failures : 1;
    if (f->in_flight < allowed) {
        f->in_flight++;
        f->last_ns = srv_now_ns();
        return false;
    }
    s->auth->stats.auth_rate_limited++;
    snprintf(msg, cap,
             "too many authentications in progress from %s; retry when they "
             "are answered",
             host);
    return true;
}

static void in_flight_done(struct srv_auth *g, const char *host)
{
    struct fail_addr *f = fail_slot(g, host, false);
    if (f != NULL && f->in_flight > 0) {
        f->in_flight--;
    }
}

static int auth_failed(struct srv *s, const char *host, const char *name,
                       bool unknown, char *msg, size_t cap)
{
    if (unknown) {
        s->auth->stats.auth_unknown_user++;
    } else {
        s->auth->stats.auth_bad_password++;
    }
    ms_info("auth: failed authentication from %s as user \"%.64s\" (%s)", host,
            name, unknown ? "unknown user" : "wrong password");
    record_failure(s, host, name);
    snprintf(msg, cap, "%s", auth_strerror(AUTH_EBADPASS));
    return SRV_STATUS_UNAUTHENTICATED;
}

static int auth_succeeded(struct srv *s, const char *host, const char *name,
                          uint64_t gen, struct srv_auth_id *id, char token[33])
{
    record_success(s->auth, host);
    s->auth->stats.auth_ok++;
    memset(id, 0, sizeof *id);
    id->set = true;
    id->gen = gen;
    snprintf(id->user, sizeof id->user, "%s", name);
    new_token(s->auth, id, s->cfg.auth.token_ttl_ms * 1000000u, token);
    return SRV_STATUS_OK;
}

int srv_auth_authenticate(struct srv *s, const char *client_addr,
                          const char *name, const char *password,
                          struct srv_auth_id *id, char token[33], char *msg,
                          size_t cap)
{
    char host[64];
    host_of(client_addr, host, sizeof host);
    token[0] = 0;
    if (refused_now(s, host, msg, cap)) {
        return SRV_STATUS_RESOURCE_EXHAUSTED;
    }
    uint64_t gen = 0;
    bool unknown = true;
    const char *pw = password != NULL ? password : "";
    const char *nm = name != NULL ? name : "";
    int rv = auth_user_name_valid(nm)
                 ? auth_authenticate(s->auth->a, nm, pw, strlen(pw), &gen,
                                     &unknown)
                 : AUTH_EBADPASS;
    if (rv != 0) {
        return auth_failed(s, host, nm, unknown, msg, cap);
    }
    return auth_succeeded(s, host, nm, gen, id, token);
}

/* ---- the permission check ------------------------------------------------------------ */

static int deny(struct srv_auth *g, int status, char *msg, size_t cap,
                const char *fmt, const char *arg)
{
    if (status == SRV_STATUS_UNAUTHENTICATED) {
        g->stats.unauthenticated++;
    } else if (status == SRV_STATUS_PERMISSION_DENIED) {
        g->stats.permission_denied++;
    }
    snprintf(msg, cap, fmt, arg);
    return status;
}

/* One key range: allowed, or PERMISSION_DENIED. */
static int need(struct srv *s, const struct srv_auth_id *id,
                enum auth_perm_type type, const ProtobufCBinaryData *key,
                const ProtobufCBinaryData *end, char *msg, size_t cap)
{
    int rv = auth_check(s->auth->a, id->user, type, key->data, key->len,
                        end->data, end->len);
    if (rv == 0) {
        return SRV_STATUS_OK;
    }
    return deny(s->auth, SRV_STATUS_PERMISSION_DENIED, msg, cap,
                type == AUTH_PERM_READ
                    ? "permission denied: user \"%s\" may not read this key "
                      "range"
                    : "permission denied: user \"%s\" may not write this key "
                      "range",
                id->user);
}

static int check_op(struct srv *s, const struct srv_auth_id *id,
                    const Metastore__RequestOp *op, char *msg, size_t cap)
{
    static const ProtobufCBinaryData none = {0, NULL};
    int st = SRV_STATUS_OK;
    switch (op->request_case) {
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE:
        st = need(s, id, AUTH_PERM_READ, &op->request_range->key,
                  &op->request_range->range_end, msg, cap);
        break;
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT:
        st = need(s, id, AUTH_PERM_WRITE, &op->request_put->key, &none, msg,
                  cap);
        if (st == SRV_STATUS_OK && op->request_put->prev_kv) {
            st = need(s, id, AUTH_PERM_READ, &op->request_put->key, &none, msg,
                      cap);
        }
        break;
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE: {
        const Metastore__DeleteRangeRequest *d = op->request_delete_range;
        st = need(s, id, AUTH_PERM_WRITE, &d->key, &d->range_end, msg, cap);
        if (st == SRV_STATUS_OK && d->prev_kv) {
            st = need(s, id, AUTH_PERM_READ, &d->key, &d->range_end, msg, cap);
        }
        break;
    }
    default:
        break; /* rejected by validation later */
    }
    return st;
}

static int check_txn(struct srv *s, const struct srv_auth_id *id,
                     const Metastore__TxnRequest *t, char *msg, size_t cap)
{
    int st = SRV_STATUS_OK;
    for (size_t i = 0; st == SRV_STATUS_OK && i < t->n_compare; i++) {
        st = need(s, id, AUTH_PERM_READ, &t->compare[i]->key,
                  &t->compare[i]->range_end, msg, cap);
    }
    for (size_t i = 0; st == SRV_STATUS_OK && i < t->n_success; i++) {
        st = check_op(s, id, t->success[i], msg, cap);
    }
    for (size_t i = 0; st == SRV_STATUS_OK && i < t->n_failure; i++) {
        st = check_op(s, id, t->failure[i], msg, cap);
    }
    return st;
}

/* Decodes body as `method`'s request and checks the keys it touches. */
static int check_keys(struct srv *s, const struct srv_auth_id *id,
                      uint16_t method, const uint8_t *body, size_t len,
                      char *msg, size_t cap)
{
    int st = SRV_STATUS_INVALID_ARGUMENT;
    snprintf(msg, cap, "body is not a valid %s request",
             srv_method_name(method));
    Metastore__RequestOp op = METASTORE__REQUEST_OP__INIT;
    switch (method) {
    case SRV_METHOD_RANGE: {
        Metastore__RangeRequest *r =
            metastore__range_request__unpack(NULL, len, body);
        if (r != NULL) {
            op.request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE;
            op.request_range = r;
            st = check_op(s, id, &op, msg, cap);
            metastore__range_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_PUT: {
        Metastore__PutRequest *r =
            metastore__put_request__unpack(NULL, len, body);
        if (r != NULL) {
            op.request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT;
            op.request_put = r;
            st = check_op(s, id, &op, msg, cap);
            metastore__put_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_DELETE_RANGE: {
        Metastore__DeleteRangeRequest *r =
            metastore__delete_range_request__unpack(NULL, len, body);
        if (r != NULL) {
            op.request_case =
                METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
            op.request_delete_range = r;
            st = check_op(s, id, &op, msg, cap);
            metastore__delete_range_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_TXN: {
        Metastore__TxnRequest *r =
            metastore__txn_request__unpack(NULL, len, body);
        if (r != NULL) {
            st = check_txn(s, id, r, msg, cap);
            metastore__txn_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_WATCH: {
        Metastore__WatchRequest *r =
            metastore__watch_request__unpack(NULL, len, body);
        if (r != NULL) {
            st = SRV_STATUS_OK; /* cancel and progress: own watchers only */
            if (r->request_union_case ==
                    METASTORE__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST &&
                r->create_request != NULL) {
                st = need(s, id, AUTH_PERM_READ, &r->create_request->key,
                          &r->create_request->range_end, msg, cap);
            }
            metastore__watch_request__free_unpacked(r, NULL);
        }
        break;
    }
    default:
        break;
    }
    return st;
}

/*
 * TimeToLive with keys names every key attached to the lease: those names
 * are data, so the caller needs READ on each of them (etcd's fix for
 * CVE-2023-32082), not only the "any user" of the lease methods.  The keys
 * come from this node's replicated table; an unknown lease passes (the
 * answer says so and names nothing).
 */
static int check_lease_keys(struct srv *s, const struct srv_auth_id *id,
                            const uint8_t *body, size_t len, char *msg,
                            size_t cap)
{
    Metastore__LeaseTimeToLiveRequest *r =
        metastore__lease_time_to_live_request__unpack(NULL, len, body);
    if (r == NULL) {
        snprintf(msg, cap, "body is not a valid LeaseTimeToLive request");
        return SRV_STATUS_INVALID_ARGUMENT;
    }
    bool want_keys = r->keys;
    int64_t lease = r->id;
    metastore__lease_time_to_live_request__free_unpacked(r, NULL);
    if (!want_keys) {
        return SRV_STATUS_OK;
    }
    struct ttl_keys keys;
    int rv = srv_ttl_lease_keys(s, lease, &keys);
    if (rv == TTL_ENOTFOUND) {
        return SRV_STATUS_OK;
    }
    if (rv != 0) {
        snprintf(msg, cap, "out of memory");
        return SRV_STATUS_RESOURCE_EXHAUSTED;
    }
    static const ProtobufCBinaryData none = {0, NULL};
    int st = SRV_STATUS_OK;
    for (size_t i = 0; st == SRV_STATUS_OK && i < keys.n; i++) {
        ProtobufCBinaryData k = {keys.v[i].len, keys.v[i].key};
        st = need(s, id, AUTH_PERM_READ, &k, &none, msg, cap);
    }
    ttl_keys_free(&keys);
    return st;
}

/* What a method needs once auth is enabled. */
enum need {
    NEED_NOTHING, /* PING, STATUS, AUTHENTICATE, AUTH_STATUS */
    NEED_USER,    /* any authenticated user */
    NEED_KEYS,    /* permissions on the keys it touches */
    NEED_ROOT,    /* the root role */
};

static enum need method_needs(uint16_t method)
{
    switch (method) {
    case SRV_METHOD_PING:
    case SRV_METHOD_STATUS:
    case SRV_METHOD_AUTHENTICATE:
    case SRV_METHOD_AUTH_STATUS:
        return NEED_NOTHING;
    case SRV_METHOD_RANGE:
    case SRV_METHOD_PUT:
    case SRV_METHOD_DELETE_RANGE:
    case SRV_METHOD_TXN:
    case SRV_METHOD_WATCH:
        return NEED_KEYS;
    /* TTL leases: any authenticated user (docs/security.md says why);
     * keys attached by a Put still need WRITE on the key. */
    case SRV_METHOD_LEASE_GRANT:
    case SRV_METHOD_LEASE_REVOKE:
    case SRV_METHOD_LEASE_KEEPALIVE:
    case SRV_METHOD_LEASE_TIME_TO_LIVE:
    case SRV_METHOD_LEASE_LEASES:
    case SRV_METHOD_MEMBER_LIST:
        return NEED_USER;
    default: /* COMPACT, members, MOVE_LEADER, FAULT, auth admin */
        return NEED_ROOT;
    }
}

int srv_auth_check(struct srv *s, const struct srv_auth_id *id,
                   uint16_t method, const uint8_t *body, size_t len, char *msg,
                   size_t cap)
{
    struct srv_auth *g = s->auth;
    if (g == NULL || !auth_enabled(g->a)) {
        return SRV_STATUS_OK;
    }
    enum need n = method_needs(method);
    if (n == NEED_NOTHING) {
        return SRV_STATUS_OK;
    }
    if (id == NULL || !id->set) {
        return deny(g, SRV_STATUS_UNAUTHENTICATED, msg, cap,
                    "%s: authentication is enabled; authenticate first "
                    "(--user)",
                    srv_method_name(method));
    }
    if (!id_current(g, id)) {
        return deny(g, SRV_STATUS_UNAUTHENTICATED, msg, cap,
                    "user \"%s\" was deleted or changed password; "
                    "authenticate again",
                    id->user);
    }
    if (auth_is_root(g->a, id->user)) {
        return SRV_STATUS_OK;
    }
    if (n == NEED_USER) {
        return method == SRV_METHOD_LEASE_TIME_TO_LIVE
                   ? check_lease_keys(s, id, body, len, msg, cap)
                   : SRV_STATUS_OK;
    }
    if (n == NEED_ROOT) {
        return deny(g, SRV_STATUS_PERMISSION_DENIED, msg, cap,
                    "permission denied: only a user with the root role may "
                    "call %s",
                    srv_method_name(method));
    }
    return check_keys(s, id, method, body, len, msg, cap);
}

/* ---- the auth methods ------------------------------------------------------------------ */

bool srv_auth_is_method(uint16_t method)
{
    return method >= SRV_METHOD_AUTHENTICATE &&
           method <= SRV_METHOD_ROLE_REVOKE_PERMISSION;
}

bool srv_auth_owns_entry(uint16_t method)
{
    switch (method) {
    case SRV_METHOD_AUTH_ENABLE:
    case SRV_METHOD_AUTH_DISABLE:
    case SRV_METHOD_USER_ADD:
    case SRV_METHOD_USER_DELETE:
    case SRV_METHOD_USER_CHANGE_PASSWORD:
    case SRV_METHOD_USER_GRANT_ROLE:
    case SRV_METHOD_USER_REVOKE_ROLE:
    case SRV_METHOD_ROLE_ADD:
    case SRV_METHOD_ROLE_DELETE:
    case SRV_METHOD_ROLE_GRANT_PERMISSION:
    case SRV_METHOD_ROLE_REVOKE_PERMISSION:
        return true;
    default:
        return false;
    }
}

static Metastore__ResponseHeader *header(struct srv *s)
{
    Metastore__ResponseHeader *h = engine_arena_alloc(&s->arena, sizeof *h);
    if (h != NULL) {
        srv_fill_header(s, h);
    }
    return h;
}

static void reply_ok(struct srv *s, struct srv_conn *c, uint16_t method,
                     uint64_t request_id, ProtobufCMessage *resp)
{
    struct srv_reply r = {.status = SRV_STATUS_OK, .resp = resp};
    srv_conn_reply(s, c, method, request_id, &r);
}

static int status_of(int rv)
{
    switch (rv) {
    case 0:
        return SRV_STATUS_OK;
    case AUTH_EUSER_NOT_FOUND:
    case AUTH_EROLE_NOT_FOUND:
    case AUTH_EROLE_NOT_GRANTED:
    case AUTH_EPERM_NOT_GRANTED:
        return SRV_STATUS_NOT_FOUND;
    case AUTH_EINVAL:
        return SRV_STATUS_INVALID_ARGUMENT;
    case AUTH_ENOMEM:
        return SRV_STATUS_INTERNAL;
    default: /* exists, root rules, too many */
        return SRV_STATUS_FAILED_PRECONDITION;
    }
}

/*
 * AUTHENTICATE on a connection: the PBKDF2 check (auth.password_iterations
 * rounds, tens of milliseconds) runs on libuv's thread pool so that the
 * loop keeps serving everyone else.  The job carries copies of the
 * credential and its generation; when it is done the loop checks that the
 * user still has that generation (not deleted or re-passworded meanwhile).
 * An unknown user is checked against a dummy credential of the same cost,
 * so the answer takes as long as for a known one.
 */
struct auth_job {
    uv_work_t work;
    struct srv *s;
    struct srv_conn *c; /* referenced */
    uint16_t method;
    uint64_t request_id;
    uint64_t start_ns;
    char host[64];
    char user[AUTH_MAX_NAME_BYTES + 1];
    char *password; /* owned, wiped */
    uint8_t cred[AUTH_CRED_BYTES];
    uint64_t gen;
    bool unknown; /* no such user (or no password): fails whatever */
    bool ok;      /* the password matched (thread pool result) */
};

static void auth_work(uv_work_t *w)
{
    struct auth_job *j = w->data;
    j->ok = auth_verify_password(j->cred, sizeof j->cred, j->password,
                                 strlen(j->password)) &&
            !j->unknown;
}

static void auth_job_free(struct auth_job *j)
{
    OPENSSL_cleanse(j->password, strlen(j->password));
    free(j->password);
    OPENSSL_cleanse(j->cred, sizeof j->cred);
    srv_conn_request_done(j->c);
    srv_conn_unref(j->c);
    free(j);
}

static void auth_work_done(uv_work_t *w, int status)
{
    struct auth_job *j = w->data;
    struct srv *s = j->s;
    s->reply_start_ns = j->start_ns;
    char msg[200];
    if (s->auth != NULL) {
        in_flight_done(s->auth, j->host);
    }
    if (status != 0 || s->auth == NULL) {
        srv_conn_reply_error(s, j->c, j->method, j->request_id,
                             SRV_STATUS_UNAVAILABLE, "shutting down");
        auth_job_free(j);
        return;
    }
    uint64_t gen_now = 0;
    bool same = auth_user_gen(s->auth->a, j->user, &gen_now) == 0 &&
                gen_now == j->gen;
    if (!j->ok || !same) {
        int st = auth_failed(s, j->host, j->user, j->unknown || !same, msg,
                             sizeof msg);
        srv_conn_reply_error(s, j->c, j->method, j->request_id, st, msg);
        auth_job_free(j);
        return;
    }
    struct srv_auth_id id;
    char token[33];
    (void)auth_succeeded(s, j->host, j->user, j->gen, &id, token);
    *srv_conn_auth_id(j->c) = id;
    Metastore__AuthenticateResponse p = METASTORE__AUTHENTICATE_RESPONSE__INIT;
    Metastore__ResponseHeader h;
    srv_fill_header(s, &h);
    p.header = &h;
    p.token = token;
    reply_ok(s, j->c, j->method, j->request_id, &p.base);
    OPENSSL_cleanse(token, sizeof token);
    auth_job_free(j);
}

/* Starts the check; true when the job owns the request now. */
static bool start_authenticate(struct srv *s, struct srv_conn *c,
                               uint16_t method, uint64_t request_id,
                               const Metastore__AuthenticateRequest *r)
{
    char msg[200];
    struct auth_job *j = calloc(1, sizeof *j);
    const char *pw = r->password != NULL ? r->password : "";
    if (j == NULL || (j->password = strdup(pw)) == NULL) {
        free(j);
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    host_of(srv_conn_peer(c), j->host, sizeof j->host);
    if (refused_now(s, j->host, msg, sizeof msg) ||
        refused_in_flight(s, j->host, msg, sizeof msg)) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_RESOURCE_EXHAUSTED, msg);
        OPENSSL_cleanse(j->password, strlen(j->password));
        free(j->password);
        free(j);
        return false;
    }
    const char *name = r->name != NULL ? r->name : "";
    snprintf(j->user, sizeof j->user, "%s", name);
    j->unknown = !auth_user_name_valid(name) ||
                 auth_user_cred(s->auth->a, name, j->cred, &j->gen) != 0;
    if (j->unknown) {
        /* Same cost as a real check: a dummy credential. */
        memset(j->cred, 0, sizeof j->cred);
        uint32_t it = (uint32_t)s->cfg.auth.password_iterations;
        for (int i = 0; i < 4; i++) {
            j->cred[i] = (uint8_t)(it >> (8 * i));
        }
    }
    j->s = s;
    j->c = c;
    j->method = method;
    j->request_id = request_id;
    j->start_ns = s->reply_start_ns;
    j->work.data = j;
    srv_conn_ref(c);
    if (uv_queue_work(s->loop, &j->work, auth_work, auth_work_done) != 0) {
        /* No thread pool: check here (rare; costs the loop the hash). */
        auth_work(&j->work);
        auth_work_done(&j->work, 0);
    }
    return true;
}

/* Returns true when the request continues on the thread pool. */
static bool serve_authenticate(struct srv *s, struct srv_conn *c,
                               uint16_t method, uint64_t request_id,
                               const uint8_t *body, size_t len)
{
    Metastore__AuthenticateRequest *r =
        metastore__authenticate_request__unpack(NULL, len, body);
    if (r == NULL) {
        srv_conn_reply_error(s, c, method, request_id,
                             SRV_STATUS_INVALID_ARGUMENT,
                             "body is not a valid AuthenticateRequest");
        return false;
    }
    bool started = start_authenticate(s, c, method, request_id, r);
    if (r->password != NULL) {
        OPENSSL_cleanse(r->password, strlen(r->password));
    }
    metastore__authenticate_request__free_unpacked(r, NULL);
    return started;
}

static void serve_status(struct srv *s, struct srv_conn *c, uint16_t method,
                         uint64_t request_id)
{
    Metastore__AuthStatusResponse p = METASTORE__AUTH_STATUS_RESPONSE__INIT;
    p.header = header(s);
    p.enabled = auth_enabled(s->auth->a);
    p.auth_revision = auth_revision(s->auth->a);
    reply_ok(s, c, method, request_id, &p.base);
}

static void serve_user_get(struct srv *s, struct srv_conn *c, uint16_t method,
                           uint64_t request_id, const uint8_t *body, size_t len)
{
    Metastore__AuthUserGetRequest *r =
        metastore__auth_user_get_request__unpack(NULL, len, body);
    size_t n = 0;
    int rv = r != NULL ? auth_user_roles(s->auth->a, r->name, &n) : AUTH_EINVAL;
    if (rv != 0) {
        srv_conn_reply_error(s, c, method, request_id, status_of(rv),
                             auth_strerror(rv));
    } else {
        Metastore__AuthUserGetResponse p =
            METASTORE__AUTH_USER_GET_RESPONSE__INIT;
        char **v = engine_arena_alloc(&s->arena, (n + 1) * sizeof *v);
        for (size_t i = 0; v != NULL && i < n; i++) {
            v[i] = (char *)auth_user_role(s->auth->a, r->name, i);
        }
        p.header = header(s);
        p.roles = v;
        p.n_roles = v != NULL ? n : 0;
        reply_ok(s, c, method, request_id, &p.base);
    }
    if (r != NULL) {
        metastore__auth_user_get_request__free_unpacked(r, NULL);
    }
}

static void serve_list(struct srv *s, struct srv_conn *c, uint16_t method,
                       uint64_t request_id)
{
    bool users = method == SRV_METHOD_USER_LIST;
    const struct auth *a = s->auth->a;
    size_t n = users ? auth_user_count(a) : auth_role_count(a);
    char **v = engine_arena_alloc(&s->arena, (n + 1) * sizeof *v);
    for (size_t i = 0; v != NULL && i < n; i++) {
        v[i] = (char *)(users ? auth_user_name(a, i) : auth_role_name(a, i));
    }
    n = v != NULL ? n : 0;
    if (users) {
        Metastore__AuthUserListResponse p =
            METASTORE__AUTH_USER_LIST_RESPONSE__INIT;
        p.header = header(s);
        p.users = v;
        p.n_users = n;
        reply_ok(s, c, method, request_id, &p.base);
    } else {
        Metastore__AuthRoleListResponse p =
            METASTORE__AUTH_ROLE_LIST_RESPONSE__INIT;
        p.header = header(s);
        p.roles = v;
        p.n_roles = n;
        reply_ok(s, c, method, request_id, &p.base);
    }
}

static void serve_role_get(struct srv *s, struct srv_conn *c, uint16_t method,
                           uint64_t request_id, const uint8_t *body, size_t len)
{
    Metastore__AuthRoleGetRequest *r =
        metastore__auth_role_get_request__unpack(NULL, len, body);
    size_t n = 0;
    int rv = r != NULL ? auth_role_perms(s->auth->a, r->role, &n) : AUTH_EINVAL;
    if (rv != 0) {
        srv_conn_reply_error(s, c, method, request_id, status_of(rv),
                             auth_strerror(rv));
    } else {
        Metastore__AuthRoleGetResponse p =
            METASTORE__AUTH_ROLE_GET_RESPONSE__INIT;
        Metastore__Permission **v =
            engine_arena_alloc(&s->arena, (n + 1) * sizeof *v);
        size_t k = 0;
        for (size_t i = 0; v != NULL && i < n; i++) {
            struct auth_perm ap;
            Metastore__Permission *pp =
                engine_arena_alloc(&s->arena, sizeof *pp);
            if (pp == NULL || auth_role_perm(s->auth->a, r->role, i, &ap)) {
                break;
            }
            metastore__permission__init(pp);
            pp->perm_type = (Metastore__Permission__Type)ap.type;
            pp->key.data = (uint8_t *)ap.key;
            pp->key.len = ap.key_len;
            pp->range_end.data = (uint8_t *)ap.end;
            pp->range_end.len = ap.end_len;
            v[k++] = pp;
        }
        p.header = header(s);
        p.perm = v;
        p.n_perm = k;
        reply_ok(s, c, method, request_id, &p.base);
    }
    if (r != NULL) {
        metastore__auth_role_get_request__free_unpacked(r, NULL);
    }
}

/* USER_ADD / USER_CHANGE_PASSWORD: the password becomes hashed_password
 * here, before anything is proposed.  Returns a malloc'd body to propose,
 * or NULL with status/msg.  A forwarded request arrives hashed already. */
static uint8_t *hash_into_body(struct srv *s, struct srv_conn *c,
                               uint16_t method, const uint8_t *body,
                               size_t len, size_t *out_len, int *status,
                               char *msg, size_t cap)
{
    bool add = method == SRV_METHOD_USER_ADD;
    Metastore__AuthUserAddRequest *ua = NULL;
    Metastore__AuthUserChangePasswordRequest *cp = NULL;
    char **password;
    ProtobufCBinaryData *hashed;
    const char *name;
    bool no_password = false;
    if (add) {
        ua = metastore__auth_user_add_request__unpack(NULL, len, body);
        if (ua == NULL) {
            goto bad;
        }
        password = &ua->password;
        hashed = &ua->hashed_password;
        name = ua->name;
        no_password = ua->options != NULL && ua->options->no_password;
    } else {
        cp = metastore__auth_user_change_password_request__unpack(NULL, len,
                                                                  body);
        if (cp == NULL) {
            goto bad;
        }
        password = &cp->password;
        hashed = &cp->hashed_password;
        name = cp->name;
    }
    *status = SRV_STATUS_INVALID_ARGUMENT;
    uint8_t *out = NULL;
    uint8_t cred[AUTH_CRED_BYTES];
    char *pw = *password;
    if (!auth_user_name_valid(name)) {
        snprintf(msg, cap, "user name must be 1..%d printable characters "
                           "without spaces or ':'",
                 AUTH_MAX_NAME_BYTES);
    } else if (hashed->len > 0 && !auth_cred_valid(hashed->data, hashed->len)) {
        snprintf(msg, cap, "hashed_password is malformed");
    } else if (hashed->len == 0 && !no_password && pw[0] == 0) {
        snprintf(msg, cap, "password is empty (use no_password for a user "
                           "that cannot authenticate)");
    } else if (hashed->len == 0 && !no_password &&
               auth_hash_password(pw, strlen(pw),
                                  (uint32_t)s->cfg.auth.password_iterations,
                                  cred) != 0) {
        *status = SRV_STATUS_INTERNAL;
        snprintf(msg, cap, "cannot hash the password");
    } else {
        if (hashed->len == 0 && !no_password) {
            hashed->data = cred;
            hashed->len = sizeof cred;
        }
        OPENSSL_cleanse(pw, strlen(pw));
        *password = (char *)protobuf_c_empty_string;
        ProtobufCMessage *m = add ? &ua->base : &cp->base;
        *out_len = protobuf_c_message_get_packed_size(m);
        out = malloc(*out_len > 0 ? *out_len : 1);
        if (out != NULL) {
            protobuf_c_message_pack(m, out);
        }
        if (hashed->data == cred) {
            hashed->data = NULL; /* not the unpacker's: do not free */
            hashed->len = 0;
        }
        *password = pw;
        *status = out != NULL ? SRV_STATUS_OK : SRV_STATUS_INTERNAL;
        snprintf(msg, cap, "out of memory");
    }
    OPENSSL_cleanse(cred, sizeof cred);
    if (pw[0] != 0) {
        OPENSSL_cleanse(pw, strlen(pw));
    }
    if (ua != NULL) {
        metastore__auth_user_add_request__free_unpacked(ua, NULL);
    }
    if (cp != NULL) {
        metastore__auth_user_change_password_request__free_unpacked(cp, NULL);
    }
    return out;
bad:
    *status = SRV_STATUS_INVALID_ARGUMENT;
    snprintf(msg, cap, "body is not a valid %s request",
             srv_method_name(method));
    return NULL;
}

void srv_auth_dispatch(struct srv *s, struct srv_conn *c, uint16_t method,
                       uint64_t request_id, const uint8_t *body, size_t len)
{
    bool parked = false;
    switch (method) {
    case SRV_METHOD_AUTHENTICATE:
        parked = serve_authenticate(s, c, method, request_id, body, len);
        break;
    case SRV_METHOD_AUTH_STATUS:
        serve_status(s, c, method, request_id);
        break;
    case SRV_METHOD_USER_GET:
        serve_user_get(s, c, method, request_id, body, len);
        break;
    case SRV_METHOD_USER_LIST:
    case SRV_METHOD_ROLE_LIST:
        serve_list(s, c, method, request_id);
        break;
    case SRV_METHOD_ROLE_GET:
        serve_role_get(s, c, method, request_id, body, len);
        break;
    case SRV_METHOD_USER_ADD:
    case SRV_METHOD_USER_CHANGE_PASSWORD: {
        size_t n = 0;
        int st;
        char msg[200];
        uint8_t *b = hash_into_body(s, c, method, body, len, &n, &st, msg,
                                    sizeof msg);
        if (b == NULL) {
            srv_conn_reply_error(s, c, method, request_id, st, msg);
            break;
        }
        parked = srv_kv_propose(s, c, method, request_id, b, n);
        free(b);
        break;
    }
    default:
        /* The other changes go through the log as sent; apply validates. */
        parked = srv_kv_propose(s, c, method, request_id, body, len);
    }
    engine_arena_reset(&s->arena);
    if (!parked) {
        srv_conn_request_done(c);
    }
}

/* ---- apply --------------------------------------------------------------------------- */

#define UNPACK(type, fn) type *r = fn(NULL, len, body)

static int apply_one(struct auth *a, uint64_t index, uint16_t method,
                     const uint8_t *body, size_t len)
{
    int rv = AUTH_EINVAL;
    switch (method) {
    case SRV_METHOD_AUTH_ENABLE:
        return auth_apply_enable(a);
    case SRV_METHOD_AUTH_DISABLE:
        return auth_apply_disable(a);
    case SRV_METHOD_USER_ADD: {
        UNPACK(Metastore__AuthUserAddRequest,
               metastore__auth_user_add_request__unpack);
        if (r != NULL) {
            rv = auth_apply_user_add(a, r->name, r->hashed_password.data,
                                     r->hashed_password.len, index);
            metastore__auth_user_add_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_USER_CHANGE_PASSWORD: {
        UNPACK(Metastore__AuthUserChangePasswordRequest,
               metastore__auth_user_change_password_request__unpack);
        if (r != NULL) {
            rv = auth_apply_user_password(a, r->name, r->hashed_password.data,
                                          r->hashed_password.len, index);
            metastore__auth_user_change_password_request__free_unpacked(r,
                                                                        NULL);
        }
        break;
    }
    case SRV_METHOD_USER_DELETE: {
        UNPACK(Metastore__AuthUserDeleteRequest,
               metastore__auth_user_delete_request__unpack);
        if (r != NULL) {
            rv = auth_apply_user_delete(a, r->name);
            metastore__auth_user_delete_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_USER_GRANT_ROLE: {
        UNPACK(Metastore__AuthUserGrantRoleRequest,
               metastore__auth_user_grant_role_request__unpack);
        if (r != NULL) {
            rv = auth_apply_user_grant(a, r->user, r->role);
            metastore__auth_user_grant_role_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_USER_REVOKE_ROLE: {
        UNPACK(Metastore__AuthUserRevokeRoleRequest,
               metastore__auth_user_revoke_role_request__unpack);
        if (r != NULL) {
            rv = auth_apply_user_revoke(a, r->name, r->role);
            metastore__auth_user_revoke_role_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_ROLE_ADD: {
        UNPACK(Metastore__AuthRoleAddRequest,
               metastore__auth_role_add_request__unpack);
        if (r != NULL) {
            rv = auth_apply_role_add(a, r->name);
            metastore__auth_role_add_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_ROLE_DELETE: {
        UNPACK(Metastore__AuthRoleDeleteRequest,
               metastore__auth_role_delete_request__unpack);
        if (r != NULL) {
            rv = auth_apply_role_delete(a, r->role);
            metastore__auth_role_delete_request__free_unpacked(r, NULL);
        }
        break;
    }
    case SRV_METHOD_ROLE_GRANT_PERMISSION: {
        UNPACK(Metastore__AuthRoleGrantPermissionRequest,
               metastore__auth_role_grant_permission_request__unpack);
        if (r != NULL && r->perm != NULL) {
            rv = auth_apply_role_grant(
                a, r->name, (enum auth_perm_type)r->perm->perm_type,
                r->perm->key.data, r->perm->key.len, r->perm->range_end.data,
                r->perm->range_end.len);
        }
        if (r != NULL) {
            metastore__auth_role_grant_permission_request__free_unpacked(r,
                                                                         NULL);
        }
        break;
    }
    case SRV_METHOD_ROLE_REVOKE_PERMISSION: {
        UNPACK(Metastore__AuthRoleRevokePermissionRequest,
               metastore__auth_role_revoke_permission_request__unpack);
        if (r != NULL) {
            rv = auth_apply_role_revoke(a, r->role, r->key.data, r->key.len,
                                        r->range_end.data, r->range_end.len);
            metastore__auth_role_revoke_permission_request__free_unpacked(
                r, NULL);
        }
        break;
    }
    default:
        break;
    }
    return rv;
}

/* Every change answers with a message holding only a header; the response
 * type differs per method but they all encode the same bytes. */
int srv_auth_apply(struct srv *s, uint64_t index, uint16_t method,
                   const uint8_t *body, size_t len, struct srv_wait *w)
{
    bool was_enabled = auth_enabled(s->auth->a);
    int rv = apply_one(s->auth->a, index, method, body, len);
    if (rv == AUTH_ENOMEM) {
        return ENGINE_ENOMEM; /* this node failed; replicas did not */
    }
    int erv = rv == 0 ? stage_table(s) : 0;
    if (erv == 0) {
        erv = engine_mark_applied(s->eng, index);
    }
    if (erv != 0) {
        return erv;
    }
    if (rv == 0 && was_enabled != auth_enabled(s->auth->a)) {
        ms_info("auth: authentication %s at entry %llu",
                auth_enabled(s->auth->a) ? "enabled" : "disabled",
                (unsigned long long)index);
    }
    if (w != NULL) {
        s->reply_start_ns = w->start_ns;
        if (rv != 0) {
            srv_conn_reply_error(s, w->conn, w->method, w->request_id,
                                 status_of(rv), auth_strerror(rv));
        } else {
            Metastore__AuthEnableResponse p =
                METASTORE__AUTH_ENABLE_RESPONSE__INIT;
            Metastore__ResponseHeader h;
            srv_fill_header(s, &h);
            p.header = &h;
            reply_ok(s, w->conn, w->method, w->request_id, &p.base);
        }
    }
    return 0;
}

/* ---- snapshots ----------------------------------------------------------------------- */

int srv_auth_snapshot_save(struct srv *s,
                           int (*write)(void *ctx, const void *, size_t),
                           void *ctx)
{
    uint8_t *img;
    size_t len;
    if (auth_save(s->auth->a, &img, &len) != 0) {
        return -ENOMEM;
    }
    int rv = srv_snapsection_save(write, ctx, SNAP_MAGIC, img, len);
    free(img);
    return rv;
}

static int snap_load_table(void *ctx, const uint8_t *img, size_t len)
{
    struct srv *s = ctx;
    if (auth_load(s->auth->a, img, len) != 0) {
        ms_error("the snapshot's auth table is unreadable");
        return WAL_ECORRUPT;
    }
    return 0;
}

/* A snapshot written before auth existed: an empty table. */
static void snap_load_absent(void *ctx)
{
    struct srv *s = ctx;
    struct auth *fresh;
    if (auth_create(&fresh) == 0) {
        uint8_t *img;
        size_t len;
        if (auth_save(fresh, &img, &len) == 0) {
            (void)auth_load(s->auth->a, img, len);
            free(img);
        }
        auth_destroy(fresh);
    }
}

int srv_auth_snapshot_load(struct srv *s, struct snapfile_reader *r,
                           uint64_t *off, bool load)
{
    static const struct srv_snapsection_ops ops = {snap_load_table,
                                                   snap_load_absent};
    return srv_snapsection_load(r, off, SNAP_MAGIC, 1ull << 32, load, &ops, s);
}

/* ---- metrics ----------------------------------------------------------------------- */

void srv_auth_get_stats(const struct srv *s, struct srv_auth_stats *out)
{
    memset(out, 0, sizeof *out);
    if (s->auth != NULL) {
        *out = s->auth->stats;
    }
}

void srv_auth_collect_metrics(struct metrics *m, struct srv *s)
{
    const struct srv_auth *g = s->auth;
    if (g == NULL) {
        return;
    }
    static const char *const rl[1] = {"result"};
    struct metrics_family *f;
    if (metrics_declare(m, METRICS_COUNTER, "metastore_auth_attempts_total",
                        "Authenticate requests on this node, by result.", 1,
                        rl, 0, NULL, &f) == 0) {
        const char *v[4][1] = {
            {"ok"}, {"bad_password"}, {"unknown_user"}, {"rate_limited"}};
        (void)metrics_set(f, v[0], (double)g->stats.auth_ok);
        (void)metrics_set(f, v[1], (double)g->stats.auth_bad_password);
        (void)metrics_set(f, v[2], (double)g->stats.auth_unknown_user);
        (void)metrics_set(f, v[3], (double)g->stats.auth_rate_limited);
    }
    static const char *const sl[1] = {"status"};
    if (metrics_declare(m, METRICS_COUNTER, "metastore_auth_denied_total",
                        "Requests refused by the permission check, by status.",
                        1, sl, 0, NULL, &f) == 0) {
        const char *v[2][1] = {{"UNAUTHENTICATED"}, {"PERMISSION_DENIED"}};
        (void)metrics_set(f, v[0], (double)g->stats.unauthenticated);
        (void)metrics_set(f, v[1], (double)g->stats.permission_denied);
    }
    struct metrics_family *e;
    if (metrics_declare(m, METRICS_GAUGE, "metastore_auth_enabled",
                        "1 when authentication is enabled (replicated state).",
                        0, NULL, 0, NULL, &e) == 0) {
        (void)metrics_set(e, NULL, auth_enabled(g->a) ? 1.0 : 0.0);
    }
}
