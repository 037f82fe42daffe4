/*
 * test_ttl.c - TTL lease table (server/ttl.h): grant, keepalive and expiry
 * driven by time input, revoke and key attachment, leader changes,
 * checkpoints across save/load, replica agreement, bad input, and a random
 * model test against a plain-array model.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/ttl.h"

#define S(x)  ((int64_t)(x) * 1000000000LL)
#define MS(x) ((int64_t)(x) * 1000000LL)

static struct ttl *make_table(size_t max_leases)
{
    struct ttl_config cfg;
    ttl_config_default(&cfg);
    cfg.max_leases = max_leases;
    struct ttl *t = NULL;
    ck_assert_int_eq(ttl_create(&cfg, &t), 0);
    return t;
}

static int64_t grant(struct ttl *t, uint64_t index, int64_t id, int64_t ttl_s,
                     int64_t now)
{
    int64_t got = -1;
    ck_assert_int_eq(ttl_apply_grant(t, index, id, ttl_s, now, &got, NULL), 0);
    return got;
}

static void attach(struct ttl *t, const char *key, int64_t id)
{
    ck_assert_int_eq(ttl_apply_attach(t, key, strlen(key), id), 0);
}

static bool key_is(const struct ttl_key *k, const char *s)
{
    return k->len == strlen(s) && memcmp(k->key, s, k->len) == 0;
}

START_TEST(grant_without_id_takes_id_from_log_index)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(grant(t, 7, 8, 10, 0), 8);
    ck_assert_int_eq(grant(t, 7, 0, 10, 0), 7);
    /* 7 and 8 are taken: the next free id at or after the index. */
    ck_assert_int_eq(grant(t, 7, 0, 10, 0), 9);
    ck_assert_int_eq(grant(t, 20, 0, 10, 0), 20);
    ck_assert_uint_eq(ttl_count(t), 4);
    int64_t ids[8];
    ck_assert_uint_eq(ttl_list(t, ids, 8), 4);
    ck_assert_int_eq(ids[0], 7);
    ck_assert_int_eq(ids[1], 8);
    ck_assert_int_eq(ids[2], 9);
    ck_assert_int_eq(ids[3], 20);
    ttl_destroy(t);
}
END_TEST

START_TEST(grant_raises_ttl_below_minimum)
{
    struct ttl *t = make_table(100);
    int64_t id, ttl_s;
    ck_assert_int_eq(ttl_apply_grant(t, 1, 5, 1, 0, &id, &ttl_s), 0);
    ck_assert_int_eq(ttl_s, TTL_DEFAULT_MIN_TTL_S);
    struct ttl_info info;
    ck_assert_int_eq(ttl_time_to_live(t, 5, 0, &info, NULL), 0);
    ck_assert_int_eq(info.granted_ttl_s, TTL_DEFAULT_MIN_TTL_S);
    ttl_destroy(t);
}
END_TEST

START_TEST(bad_input_is_rejected_without_change)
{
    struct ttl *t = make_table(2);
    ck_assert_int_eq(ttl_apply_grant(t, 0, 1, 10, 0, NULL, NULL), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_grant(t, 1, -1, 10, 0, NULL, NULL), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_grant(t, 1, 1, -5, 0, NULL, NULL), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_grant(t, 1, 1, TTL_DEFAULT_MAX_TTL_S + 1, 0,
                                     NULL, NULL),
                     TTL_ETTLTOOBIG);
    ck_assert_int_eq(grant(t, 1, 1, 10, 0), 1);
    ck_assert_int_eq(ttl_apply_grant(t, 2, 1, 10, 0, NULL, NULL), TTL_EEXIST);
    ck_assert_int_eq(grant(t, 2, 0, 10, 0), 2);
    ck_assert_int_eq(ttl_apply_grant(t, 3, 0, 10, 0, NULL, NULL),
                     TTL_ETOOMANY);
    ck_assert_uint_eq(ttl_count(t), 2);

    ck_assert_int_eq(ttl_apply_attach(t, "", 0, 1), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_attach(t, "a", 1, -1), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_attach(t, "a", 1, 99), TTL_ENOTFOUND);
    ck_assert_int_eq(ttl_lease_of(t, "a", 1), 0);
    ck_assert_int_eq(ttl_apply_detach(t, NULL, 0), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 1, -1), TTL_EINVAL);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 99, 10), TTL_ENOTFOUND);
    struct ttl_keys keys;
    ck_assert_int_eq(ttl_apply_revoke(t, 99, &keys), TTL_ENOTFOUND);
    ck_assert_uint_eq(keys.n, 0);
    ck_assert_int_eq(ttl_become_leader(t, 0, -1), TTL_EINVAL);
    ck_assert_int_eq(ttl_keepalive(t, 1, 0, NULL, NULL), TTL_ENOTLEADER);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    ck_assert_int_eq(ttl_keepalive(t, 99, 0, NULL, NULL), TTL_ENOTFOUND);
    ck_assert_int_eq(ttl_time_to_live(t, 99, 0, NULL, NULL), TTL_ENOTFOUND);

    struct ttl_config cfg;
    ttl_config_default(&cfg);
    cfg.min_ttl_s = 0;
    struct ttl *bad = NULL;
    ck_assert_int_eq(ttl_create(&cfg, &bad), TTL_EINVAL);
    ck_assert_ptr_null(bad);
    ck_assert_str_eq(ttl_err_name(TTL_ENOTFOUND), "TTL_ENOTFOUND");
    ck_assert_str_eq(ttl_strerror(TTL_ENOTFOUND), "requested lease not found");
    ck_assert_str_eq(ttl_err_name(1), "TTL_E?");
    ttl_destroy(t);
}
END_TEST

START_TEST(lease_expires_exactly_when_its_ttl_has_passed)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(ttl_become_leader(t, S(100), 0), 0);
    grant(t, 1, 5, 10, S(100));
    int64_t ids[4];
    ck_assert_uint_eq(ttl_expired(t, S(110) - 1, ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(t, S(110), ids, 4), 1);
    ck_assert_int_eq(ids[0], 5);
    /* Expiry only names it: the lease stays until a revoke is applied. */
    ck_assert(ttl_exists(t, 5));
    ttl_destroy(t);
}
END_TEST

START_TEST(keepalive_pushes_expiry_a_full_ttl_from_now)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    grant(t, 1, 5, 10, 0);
    int64_t ttl_s = 0, ids[4];
    bool reset = true;
    ck_assert_int_eq(ttl_keepalive(t, 5, S(8), &ttl_s, &reset), 0);
    ck_assert_int_eq(ttl_s, 10);
    ck_assert(!reset);
    ck_assert_uint_eq(ttl_expired(t, S(17), ids, 4), 0);
    struct ttl_info info;
    ck_assert_int_eq(ttl_time_to_live(t, 5, S(12) + 1, &info, NULL), 0);
    ck_assert(info.exact);
    ck_assert_int_eq(info.remaining_ttl_s, 5); /* 5.999... rounds down */
    ck_assert_uint_eq(ttl_expired(t, S(18), ids, 4), 1);
    ck_assert_int_eq(ttl_time_to_live(t, 5, S(30), &info, NULL), 0);
    ck_assert_int_eq(info.remaining_ttl_s, 0);
    ttl_destroy(t);
}
END_TEST

START_TEST(follower_never_reports_expiry)
{
    struct ttl *t = make_table(100);
    grant(t, 1, 5, 10, 0);
    int64_t ids[4];
    ck_assert_uint_eq(ttl_expired(t, S(1000000), ids, 4), 0);
    struct ttl_checkpoint cp[4];
    ck_assert_uint_eq(ttl_checkpoints(t, S(5), 0, cp, 4), 0);
    struct ttl_info info;
    ck_assert_int_eq(ttl_time_to_live(t, 5, S(1000), &info, NULL), 0);
    ck_assert(!info.exact);
    ck_assert_int_eq(info.remaining_ttl_s, 10);
    /* Losing leadership stops expiry too. */
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    ttl_become_follower(t);
    ck_assert(!ttl_is_leader(t));
    ck_assert_uint_eq(ttl_expired(t, S(1000), ids, 4), 0);
    ttl_destroy(t);
}
END_TEST

START_TEST(expired_lease_is_named_again_only_after_retry_interval)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    grant(t, 1, 5, 10, 0);
    int64_t ids[4];
    ck_assert_uint_eq(ttl_expired(t, S(10), ids, 4), 1);
    ck_assert_uint_eq(ttl_expired(t, S(11), ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(t, S(10) + TTL_DEFAULT_REVOKE_RETRY_NS - 1,
                                  ids, 4),
                      0);
    ck_assert_uint_eq(
        ttl_expired(t, S(10) + TTL_DEFAULT_REVOKE_RETRY_NS, ids, 4), 1);
    ck_assert_int_eq(ttl_apply_revoke(t, 5, NULL), 0);
    ck_assert_uint_eq(ttl_expired(t, S(100), ids, 4), 0);
    ttl_destroy(t);
}
END_TEST

START_TEST(expired_lists_earliest_first_up_to_cap)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    grant(t, 1, 1, 30, 0);
    grant(t, 2, 2, 10, 0);
    grant(t, 3, 3, 20, 0);
    grant(t, 4, 4, 10, 0);
    grant(t, 5, 5, 99, 0);
    int64_t ids[3];
    ck_assert_uint_eq(ttl_expired(t, S(50), ids, 3), 3);
    ck_assert_int_eq(ids[0], 2);
    ck_assert_int_eq(ids[1], 4);
    ck_assert_int_eq(ids[2], 3);
    /* The rest comes next time; the named ones wait for their retry. */
    ck_assert_uint_eq(ttl_expired(t, S(50), ids, 3), 1);
    ck_assert_int_eq(ids[0], 1);
    ttl_destroy(t);
}
END_TEST

START_TEST(revoke_returns_exactly_the_attached_keys)
{
    struct ttl *t = make_table(100);
    grant(t, 1, 1, 10, 0);
    grant(t, 2, 2, 10, 0);
    attach(t, "zeta", 1);
    attach(t, "alpha", 1);
    attach(t, "alp", 1);
    attach(t, "other", 2);
    attach(t, "gone", 1);
    ck_assert_int_eq(ttl_apply_detach(t, "gone", 4), 0);
    attach(t, "nolease", 2);
    attach(t, "nolease", 0); /* a Put without a lease detaches */
    struct ttl_keys keys;
    ck_assert_int_eq(ttl_apply_revoke(t, 1, &keys), 0);
    ck_assert_uint_eq(keys.n, 3);
    ck_assert(key_is(&keys.v[0], "alp"));
    ck_assert(key_is(&keys.v[1], "alpha"));
    ck_assert(key_is(&keys.v[2], "zeta"));
    ttl_keys_free(&keys);
    ck_assert(!ttl_exists(t, 1));
    ck_assert_int_eq(ttl_lease_of(t, "alpha", 5), 0);
    ck_assert_int_eq(ttl_lease_of(t, "other", 5), 2);
    ck_assert_int_eq(ttl_lease_of(t, "nolease", 7), 0);
    ck_assert_int_eq(ttl_apply_revoke(t, 2, &keys), 0);
    ck_assert_uint_eq(keys.n, 1);
    ck_assert(key_is(&keys.v[0], "other"));
    ttl_keys_free(&keys);
    ck_assert_uint_eq(ttl_count(t), 0);
    ttl_destroy(t);
}
END_TEST

START_TEST(attach_moves_key_between_leases)
{
    struct ttl *t = make_table(100);
    grant(t, 1, 1, 10, 0);
    grant(t, 2, 2, 10, 0);
    attach(t, "k", 1);
    attach(t, "j", 1);
    attach(t, "k", 2);
    ck_assert_int_eq(ttl_lease_of(t, "k", 1), 2);
    struct ttl_keys keys;
    ck_assert_int_eq(ttl_time_to_live(t, 1, 0, NULL, &keys), 0);
    ck_assert_uint_eq(keys.n, 1);
    ck_assert(key_is(&keys.v[0], "j"));
    ttl_keys_free(&keys);
    ck_assert_int_eq(ttl_time_to_live(t, 2, 0, NULL, &keys), 0);
    ck_assert_uint_eq(keys.n, 1);
    ck_assert(key_is(&keys.v[0], "k"));
    ttl_keys_free(&keys);
    ttl_destroy(t);
}
END_TEST

START_TEST(new_leader_extends_rather_than_expiring)
{
    /* A follower has held a 10 s lease for ages: as new leader it must not
     * expire it on its first tick but give it remaining TTL + extend. */
    struct ttl *t = make_table(100);
    grant(t, 1, 5, 10, 0);
    ck_assert_int_eq(ttl_become_leader(t, S(500), S(1)), 0);
    int64_t ids[4];
    ck_assert_uint_eq(ttl_expired(t, S(500), ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(t, S(511) - 1, ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(t, S(511), ids, 4), 1);
    ttl_destroy(t);
}
END_TEST

START_TEST(checkpoint_restores_remaining_ttl_after_restart)
{
    struct ttl *t = make_table(100);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    grant(t, 1, 5, 100, 0);
    grant(t, 2, 6, 100, S(90));
    attach(t, "a", 5);
    struct ttl_checkpoint cp[4];
    ck_assert_uint_eq(ttl_checkpoints(t, S(70) + 1, 0, cp, 4), 2);
    ck_assert_int_eq(cp[0].id, 5);
    ck_assert_int_eq(cp[0].remaining_ms, 30000); /* rounded up */
    ck_assert_int_eq(cp[1].id, 6);
    ck_assert_int_eq(cp[1].remaining_ms, 120000);
    /* Paging on from the last id written. */
    ck_assert_uint_eq(ttl_checkpoints(t, S(70), 5, cp, 4), 1);
    ck_assert_int_eq(cp[0].id, 6);
    ck_assert_uint_eq(ttl_checkpoints(t, S(70), 0, cp, 1), 1);
    ck_assert_int_eq(cp[0].id, 5);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 5, 30000), 0);

    uint8_t *img;
    size_t len;
    ck_assert_int_eq(ttl_save(t, &img, &len), 0);
    ttl_destroy(t);

    /* Restart: a fresh table loads the image and later leads. */
    struct ttl *r = make_table(100);
    ck_assert_int_eq(ttl_load(r, img, len), 0);
    free(img);
    ck_assert_int_eq(ttl_lease_of(r, "a", 1), 5);
    struct ttl_info info;
    ck_assert_int_eq(ttl_time_to_live(r, 5, 0, &info, NULL), 0);
    ck_assert_int_eq(info.remaining_ttl_s, 30);
    ck_assert_int_eq(ttl_become_leader(r, S(1000), S(2)), 0);
    int64_t ids[4];
    ck_assert_uint_eq(ttl_expired(r, S(1032) - 1, ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(r, S(1032), ids, 4), 1);
    ck_assert_int_eq(ids[0], 5);
    ck_assert_int_eq(ttl_apply_revoke(r, 5, NULL), 0);
    /* Lease 6 had no checkpoint applied: it counts its full TTL. */
    ck_assert_uint_eq(ttl_expired(r, S(1102) - 1, ids, 4), 0);
    ck_assert_uint_eq(ttl_expired(r, S(1102), ids, 4), 1);
    ck_assert_int_eq(ids[0], 6);
    ttl_destroy(r);
}
END_TEST

START_TEST(keepalive_after_checkpoint_asks_for_reset)
{
    struct ttl *t = make_table(100);
    grant(t, 1, 5, 100, 0);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 5, 1000), 0);
    ck_assert_int_eq(ttl_become_leader(t, 0, 0), 0);
    bool reset = false;
    ck_assert_int_eq(ttl_keepalive(t, 5, S(1), NULL, &reset), 0);
    ck_assert(reset);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 5, 0), 0);
    ck_assert_int_eq(ttl_keepalive(t, 5, S(2), NULL, &reset), 0);
    ck_assert(!reset);
    ttl_destroy(t);
}
END_TEST

/* Feeds one replica a fixed sequence of entries. */
static void feed(struct ttl *t, int64_t now)
{
    grant(t, 1, 0, 10, now);
    grant(t, 2, 0, 20, now);
    grant(t, 3, 50, 30, now);
    for (int i = 0; i < 50; i++) {
        char k[16];
        snprintf(k, sizeof(k), "key%03d", (i * 37) % 50);
        attach(t, k, i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 50);
    }
    ck_assert_int_eq(ttl_apply_detach(t, "key010", 6), 0);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 2, 4500), 0);
    ck_assert_int_eq(ttl_apply_revoke(t, 50, NULL), 0);
}

START_TEST(replicas_fed_same_entries_agree)
{
    /* One replica leads from the start, one applies as follower at another
     * local time, one loads a snapshot of the first. */
    struct ttl *a = make_table(100), *b = make_table(100), *c = make_table(100);
    ck_assert_int_eq(ttl_become_leader(a, 0, 0), 0);
    feed(a, 0);
    feed(b, S(12345));
    uint8_t *ia, *ib, *ic;
    size_t la, lb, lc;
    ck_assert_int_eq(ttl_save(a, &ia, &la), 0);
    ck_assert_int_eq(ttl_save(b, &ib, &lb), 0);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(ia, ib, la), 0);
    ck_assert_int_eq(ttl_load(c, ia, la), 0);
    ck_assert_int_eq(ttl_save(c, &ic, &lc), 0);
    ck_assert_uint_eq(la, lc);
    ck_assert_int_eq(memcmp(ia, ic, la), 0);

    /* Whichever becomes leader next decides the same expiry from the same
     * replicated state. */
    ttl_become_follower(a);
    struct ttl *reps[3] = {a, b, c};
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(ttl_become_leader(reps[r], S(100), S(1)), 0);
        int64_t ids[4];
        ck_assert_uint_eq(ttl_expired(reps[r], S(105) + MS(500), ids, 4), 1);
        ck_assert_int_eq(ids[0], 2);
        ck_assert_int_eq(ttl_apply_revoke(reps[r], 2, NULL), 0);
        ck_assert_uint_eq(ttl_expired(reps[r], S(111) - 1, ids, 4), 0);
        ck_assert_uint_eq(ttl_expired(reps[r], S(111), ids, 4), 1);
        ck_assert_int_eq(ids[0], 1);
        struct ttl_keys keys;
        ck_assert_int_eq(ttl_apply_revoke(reps[r], 1, &keys), 0);
        ck_assert_uint_eq(keys.n, 16); /* 17 attached, key010 deleted */
        ck_assert(key_is(&keys.v[0], "key000"));
        ttl_keys_free(&keys);
    }
    free(ia);
    free(ib);
    free(ic);
    ttl_destroy(a);
    ttl_destroy(b);
    ttl_destroy(c);
}
END_TEST

START_TEST(load_rejects_damaged_images_and_keeps_table)
{
    struct ttl *t = make_table(100);
    grant(t, 1, 1, 10, 0);
    attach(t, "x", 1);
    uint8_t *img;
    size_t len;
    ck_assert_int_eq(ttl_save(t, &img, &len), 0);

    struct ttl *r = make_table(100);
    grant(r, 1, 9, 10, 0);
    for (size_t i = 1; i < len; i++) {
        img[i] ^= 0x40;
        ck_assert_int_eq(ttl_load(r, img, len), TTL_ECORRUPT);
        img[i] ^= 0x40;
    }
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_int_lt(ttl_load(r, img, cut), 0);
    img[0] = 2;
    ck_assert_int_eq(ttl_load(r, img, len), TTL_EVERSION);
    ck_assert(ttl_exists(r, 9));
    ck_assert(!ttl_exists(r, 1));

    /* A table allowing fewer leases refuses a bigger image. */
    img[0] = TTL_SNAPSHOT_VERSION;
    grant(t, 2, 2, 10, 0);
    free(img);
    ck_assert_int_eq(ttl_save(t, &img, &len), 0);
    struct ttl *small = make_table(1);
    ck_assert_int_eq(ttl_load(small, img, len), TTL_ETOOMANY);
    ck_assert_int_eq(ttl_load(r, img, len), 0);
    ck_assert(!ttl_exists(r, 9));
    ck_assert_int_eq(ttl_lease_of(r, "x", 1), 1);
    free(img);
    ttl_destroy(small);
    ttl_destroy(r);
    ttl_destroy(t);
}
END_TEST

/* ---- random model test -------------------------------------------------- */

#define M_IDS  24
#define M_KEYS 32
#define M_CAP  12

struct model {
    bool live[M_IDS + 64]; /* by id; ids stay below M_IDS + 64 */
    int64_t ttl_s[M_IDS + 64];
    int64_t rem_ms[M_IDS + 64];
    int64_t expiry[M_IDS + 64];
    int64_t retry[M_IDS + 64]; /* -1: none */
    int64_t key_lease[M_KEYS];
    bool leader;
    size_t n;
};

static uint64_t rng_state;
static uint64_t rnd(uint64_t n)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (rng_state >> 33) % n;
}

static void key_name(char *buf, int k) /* buf: 16 bytes */
{
    snprintf(buf, 16, "k%02d", k);
}

static void model_step(struct ttl *t, struct model *m, uint64_t *index,
                       int64_t *now)
{
    char k[16];
    int op = (int)rnd(10);
    *now += (int64_t)rnd(3) * S(1) + (int64_t)rnd(1000) * MS(1);
    if (op == 0) { /* grant */
        int64_t id = rnd(2) ? 0 : (int64_t)rnd(M_IDS) + 1;
        int64_t ttl_s = (int64_t)rnd(12);
        uint64_t idx = ++*index % M_IDS + 1;
        int64_t got, got_ttl;
        int rv = ttl_apply_grant(t, idx, id, ttl_s, *now, &got, &got_ttl);
        int64_t want = id;
        if (id != 0 && m->live[id]) {
            ck_assert_int_eq(rv, TTL_EEXIST);
            return;
        }
        if (m->n >= M_CAP) {
            ck_assert_int_eq(rv, TTL_ETOOMANY);
            return;
        }
        if (id == 0)
            for (want = (int64_t)idx; m->live[want]; want++)
                ;
        ck_assert_int_eq(rv, 0);
        ck_assert_int_eq(got, want);
        m->live[want] = true;
        m->ttl_s[want] = ttl_s < 2 ? 2 : ttl_s;
        ck_assert_int_eq(got_ttl, m->ttl_s[want]);
        m->rem_ms[want] = 0;
        m->expiry[want] = *now + S(m->ttl_s[want]);
        m->retry[want] = -1;
        m->n++;
    } else if (op == 1) { /* revoke */
        int64_t id = (int64_t)rnd(M_IDS + 8) + 1;
        struct ttl_keys keys;
        int rv = ttl_apply_revoke(t, id, &keys);
        if (!m->live[id]) {
            ck_assert_int_eq(rv, TTL_ENOTFOUND);
            return;
        }
        ck_assert_int_eq(rv, 0);
        size_t j = 0;
        for (int kk = 0; kk < M_KEYS; kk++) {
            if (m->key_lease[kk] != id)
                continue;
            key_name(k, kk);
            ck_assert_uint_lt(j, keys.n);
            ck_assert(key_is(&keys.v[j], k));
            j++;
            m->key_lease[kk] = 0;
        }
        ck_assert_uint_eq(j, keys.n);
        ttl_keys_free(&keys);
        m->live[id] = false;
        m->n--;
    } else if (op <= 4) { /* put with or without a lease */
        int kk = (int)rnd(M_KEYS);
        int64_t id = rnd(4) == 0 ? 0 : (int64_t)rnd(M_IDS + 8) + 1;
        key_name(k, kk);
        int rv = ttl_apply_attach(t, k, strlen(k), id);
        if (id != 0 && !m->live[id]) {
            ck_assert_int_eq(rv, TTL_ENOTFOUND);
        } else {
            ck_assert_int_eq(rv, 0);
            m->key_lease[kk] = id;
        }
    } else if (op == 5) { /* delete */
        int kk = (int)rnd(M_KEYS);
        key_name(k, kk);
        ck_assert_int_eq(ttl_apply_detach(t, k, strlen(k)), 0);
        m->key_lease[kk] = 0;
    } else if (op == 6) { /* checkpoint */
        int64_t id = (int64_t)rnd(M_IDS + 8) + 1;
        int64_t rem = (int64_t)rnd(20000);
        int rv = ttl_apply_checkpoint(t, id, rem);
        ck_assert_int_eq(rv, m->live[id] ? 0 : TTL_ENOTFOUND);
        if (m->live[id])
            m->rem_ms[id] = rem;
    } else if (op == 7) { /* leadership change */
        if (m->leader) {
            ttl_become_follower(t);
            m->leader = false;
        } else {
            int64_t extend = (int64_t)rnd(3) * S(1);
            ck_assert_int_eq(ttl_become_leader(t, *now, extend), 0);
            m->leader = true;
            for (int id = 1; id < M_IDS + 64; id++) {
                int64_t rem = m->rem_ms[id] > 0 ? MS(m->rem_ms[id])
                                                : S(m->ttl_s[id]);
                m->expiry[id] = *now + rem + extend;
                m->retry[id] = -1;
            }
        }
    } else if (op == 8) { /* keepalive */
        int64_t id = (int64_t)rnd(M_IDS + 8) + 1;
        bool reset;
        int rv = ttl_keepalive(t, id, *now, NULL, &reset);
        if (!m->leader) {
            ck_assert_int_eq(rv, TTL_ENOTLEADER);
        } else if (!m->live[id]) {
            ck_assert_int_eq(rv, TTL_ENOTFOUND);
        } else {
            ck_assert_int_eq(rv, 0);
            ck_assert(reset == (m->rem_ms[id] > 0));
            m->expiry[id] = *now + S(m->ttl_s[id]);
            m->retry[id] = -1;
        }
    } else { /* expiry scan */
        int64_t got[4], want[4];
        size_t nw = 0;
        size_t ng = ttl_expired(t, *now, got, 4);
        if (m->leader) {
            /* Selection by (expiry, id) over due leases, first 4. */
            bool taken[M_IDS + 64] = {false};
            for (; nw < 4; nw++) {
                int64_t best = 0;
                for (int id = 1; id < M_IDS + 64; id++) {
                    if (!m->live[id] || taken[id] || m->expiry[id] > *now ||
                        (m->retry[id] >= 0 && *now < m->retry[id]))
                        continue;
                    if (best == 0 || m->expiry[id] < m->expiry[best])
                        best = id;
                }
                if (best == 0)
                    break;
                taken[best] = true;
                want[nw] = best;
            }
        }
        ck_assert_uint_eq(ng, nw);
        for (size_t i = 0; i < nw; i++) {
            ck_assert_int_eq(got[i], want[i]);
            m->retry[want[i]] = *now + TTL_DEFAULT_REVOKE_RETRY_NS;
        }
    }
}

/* One assertion per check: Check records every assertion's location, which
 * dominates the run time when done thousands of times per step. */
static void model_check(struct ttl *t, const struct model *m)
{
    char k[16];
    int bad_id = 0, bad_key = -1;
    for (int id = 1; id < M_IDS + 64 && bad_id == 0; id++)
        if (ttl_exists(t, id) != m->live[id])
            bad_id = id;
    for (int kk = 0; kk < M_KEYS && bad_key < 0; kk++) {
        key_name(k, kk);
        if (ttl_lease_of(t, k, strlen(k)) != m->key_lease[kk])
            bad_key = kk;
    }
    ck_assert_msg(ttl_count(t) == m->n && bad_id == 0 && bad_key < 0,
                  "table differs from model: count %zu/%zu, id %d, key %d",
                  ttl_count(t), m->n, bad_id, bad_key);
}

START_TEST(save_leases_keeps_leases_and_drops_attachments)
{
    struct ttl *t = make_table(10);
    grant(t, 5, 7, 30, 0);
    grant(t, 6, 9, 60, 0);
    attach(t, "a", 7);
    attach(t, "b", 9);
    ck_assert_int_eq(ttl_apply_checkpoint(t, 9, 1234), 0);
    uint8_t *img = NULL, *full = NULL;
    size_t len = 0, full_len = 0;
    ck_assert_int_eq(ttl_save_leases(t, &img, &len), 0);
    ck_assert_int_eq(ttl_save(t, &full, &full_len), 0);
    ck_assert_uint_lt(len, full_len);
    struct ttl *u = make_table(10);
    ck_assert_int_eq(ttl_load(u, img, len), 0);
    ck_assert_uint_eq(ttl_count(u), 2);
    ck_assert(ttl_exists(u, 7) && ttl_exists(u, 9));
    ck_assert_int_eq(ttl_lease_of(u, "a", 1), 0);
    ck_assert_int_eq(ttl_lease_of(u, "b", 1), 0);
    struct ttl_info info;
    ck_assert_int_eq(ttl_time_to_live(u, 9, 0, &info, NULL), 0);
    ck_assert_int_eq(info.granted_ttl_s, 60);
    ck_assert_int_eq(info.remaining_ttl_s, 1); /* the checkpoint: 1234 ms */
    /* Re-attached, it saves exactly what the original saves. */
    attach(u, "a", 7);
    attach(u, "b", 9);
    uint8_t *again = NULL;
    size_t again_len = 0;
    ck_assert_int_eq(ttl_save(u, &again, &again_len), 0);
    ck_assert_uint_eq(again_len, full_len);
    ck_assert_mem_eq(again, full, full_len);
    free(img);
    free(full);
    free(again);
    ttl_destroy(u);
    ttl_destroy(t);
}
END_TEST

/* The minimum TTL is a per-node setting (ttl.min_ttl, raised to the
 * election timeout): replicas configured differently must still store the
 * same table for the same entries, and the minimum only shapes the
 * leader's own timekeeping and what it reports. */
START_TEST(replicas_with_different_min_ttl_store_the_same_table)
{
    struct ttl_config ca, cb;
    ttl_config_default(&ca);
    ttl_config_default(&cb);
    ca.min_ttl_s = 2;
    cb.min_ttl_s = 5;
    struct ttl *a = NULL, *b = NULL;
    ck_assert_int_eq(ttl_create(&ca, &a), 0);
    ck_assert_int_eq(ttl_create(&cb, &b), 0);
    int64_t ga = 0, gb = 0;
    ck_assert_int_eq(ttl_apply_grant(a, 10, 0, 3, 0, NULL, &ga), 0);
    ck_assert_int_eq(ttl_apply_grant(b, 10, 0, 3, 0, NULL, &gb), 0);
    uint8_t *ia = NULL, *ib = NULL;
    size_t la = 0, lb = 0;
    ck_assert_int_eq(ttl_save(a, &ia, &la), 0);
    ck_assert_int_eq(ttl_save(b, &ib, &lb), 0);
    ck_assert_uint_eq(la, lb);
    ck_assert_int_eq(memcmp(ia, ib, la), 0);
    free(ia);
    free(ib);
    /* Each reports and counts with its own minimum. */
    ck_assert_int_eq(ga, 3);
    ck_assert_int_eq(gb, 5);
    ck_assert_int_eq(ttl_become_leader(b, 0, 0), 0);
    int64_t kb = 0;
    ck_assert_int_eq(ttl_keepalive(b, 10, S(1), &kb, NULL), 0);
    ck_assert_int_eq(kb, 5);
    int64_t ids[1];
    ck_assert_uint_eq(ttl_expired(b, S(1) + S(5) - 1, ids, 1), 0);
    ck_assert_uint_eq(ttl_expired(b, S(1) + S(5), ids, 1), 1);
    ttl_destroy(a);
    ttl_destroy(b);
}
END_TEST

START_TEST(random_operations_match_model)
{
    for (uint64_t seed = 1; seed <= 200; seed++) {
        rng_state = seed;
        struct ttl_config cfg;
        ttl_config_default(&cfg);
        cfg.max_leases = M_CAP;
        struct ttl *t;
        ck_assert_int_eq(ttl_create(&cfg, &t), 0);
        struct model m;
        memset(&m, 0, sizeof(m));
        uint64_t index = 0;
        int64_t now = S(1);
        for (int step = 0; step < 400; step++) {
            model_step(t, &m, &index, &now);
            model_check(t, &m);
            if (rnd(50) == 0) { /* snapshot round trip keeps the state */
                uint8_t *img, *img2;
                size_t len, len2;
                ck_assert_int_eq(ttl_save(t, &img, &len), 0);
                struct ttl *u;
                ck_assert_int_eq(ttl_create(&cfg, &u), 0);
                ck_assert_int_eq(ttl_load(u, img, len), 0);
                ck_assert_int_eq(ttl_save(u, &img2, &len2), 0);
                ck_assert_uint_eq(len, len2);
                ck_assert_int_eq(memcmp(img, img2, len), 0);
                model_check(u, &m);
                free(img);
                free(img2);
                ttl_destroy(u);
            }
        }
        ttl_destroy(t);
    }
}
END_TEST

static Suite *ttl_suite(void)
{
    Suite *s = suite_create("ttl");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, grant_without_id_takes_id_from_log_index);
    tcase_add_test(tc, grant_raises_ttl_below_minimum);
    tcase_add_test(tc, bad_input_is_rejected_without_change);
    tcase_add_test(tc, lease_expires_exactly_when_its_ttl_has_passed);
    tcase_add_test(tc, keepalive_pushes_expiry_a_full_ttl_from_now);
    tcase_add_test(tc, follower_never_reports_expiry);
    tcase_add_test(tc, expired_lease_is_named_again_only_after_retry_interval);
    tcase_add_test(tc, expired_lists_earliest_first_up_to_cap);
    tcase_add_test(tc, revoke_returns_exactly_the_attached_keys);
    tcase_add_test(tc, attach_moves_key_between_leases);
    tcase_add_test(tc, new_leader_extends_rather_than_expiring);
    tcase_add_test(tc, checkpoint_restores_remaining_ttl_after_restart);
    tcase_add_test(tc, keepalive_after_checkpoint_asks_for_reset);
    tcase_add_test(tc, replicas_fed_same_entries_agree);
    tcase_add_test(tc, load_rejects_damaged_images_and_keeps_table);
    tcase_add_test(tc, save_leases_keeps_leases_and_drops_attachments);
    tcase_add_test(tc, replicas_with_different_min_ttl_store_the_same_table);
    tcase_add_test(tc, random_operations_match_model);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ttl_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
