/*
 * test_auth.c - the auth table (server/auth.h): password credentials,
 * permission matching on keys, ranges and prefixes, the root rules,
 * deterministic apply across replicas, save/load and corrupt images.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"

#define K(s) (const uint8_t *)(s), strlen(s)
#define ITER 1000

static struct auth *make(void)
{
    struct auth *a = NULL;
    ck_assert_int_eq(auth_create(&a), 0);
    return a;
}

static void add_user(struct auth *a, const char *name, const char *pw,
                     uint64_t gen)
{
    uint8_t cred[AUTH_CRED_BYTES];
    ck_assert_int_eq(auth_hash_password(pw, strlen(pw), ITER, cred), 0);
    ck_assert_int_eq(auth_apply_user_add(a, name, cred, sizeof cred, gen), 0);
}

/* A user "alice" with role "app": READ on prefix /app/, WRITE on /app/w. */
static struct auth *app_table(void)
{
    struct auth *a = make();
    add_user(a, "alice", "pw", 3);
    ck_assert_int_eq(auth_apply_role_add(a, "app"), 0);
    ck_assert_int_eq(auth_apply_role_grant(a, "app", AUTH_PERM_READ,
                                           K("/app/"), K("/app0")),
                     0);
    ck_assert_int_eq(
        auth_apply_role_grant(a, "app", AUTH_PERM_WRITE, K("/app/w"), NULL, 0),
        0);
    ck_assert_int_eq(auth_apply_user_grant(a, "alice", "app"), 0);
    return a;
}

START_TEST(password_is_hashed_salted_and_verified)
{
    uint8_t c1[AUTH_CRED_BYTES], c2[AUTH_CRED_BYTES];
    ck_assert_int_eq(auth_hash_password("secret", 6, ITER, c1), 0);
    ck_assert_int_eq(auth_hash_password("secret", 6, ITER, c2), 0);
    ck_assert(memcmp(c1, c2, sizeof c1) != 0); /* fresh salt each time */
    ck_assert(memmem(c1, sizeof c1, "secret", 6) == NULL);
    ck_assert(auth_verify_password(c1, sizeof c1, "secret", 6));
    ck_assert(auth_verify_password(c2, sizeof c2, "secret", 6));
    ck_assert(!auth_verify_password(c1, sizeof c1, "secreT", 6));
    ck_assert(!auth_verify_password(c1, sizeof c1 - 1, "secret", 6));
    ck_assert_int_eq(auth_hash_password("x", 1, 10, c1), AUTH_EINVAL);
}
END_TEST

START_TEST(authenticate_reports_one_code_for_name_and_password)
{
    struct auth *a = app_table();
    uint64_t gen = 0;
    bool unknown = true;
    ck_assert_int_eq(auth_authenticate(a, "alice", "pw", 2, &gen, &unknown), 0);
    ck_assert_uint_eq(gen, 3);
    ck_assert(!unknown);
    ck_assert_int_eq(auth_authenticate(a, "alice", "no", 2, &gen, &unknown),
                     AUTH_EBADPASS);
    ck_assert(!unknown);
    ck_assert_int_eq(auth_authenticate(a, "bob", "pw", 2, &gen, &unknown),
                     AUTH_EBADPASS);
    ck_assert(unknown);
    /* A password change moves the generation. */
    uint8_t cred[AUTH_CRED_BYTES];
    ck_assert_int_eq(auth_hash_password("new", 3, ITER, cred), 0);
    ck_assert_int_eq(
        auth_apply_user_password(a, "alice", cred, sizeof cred, 9), 0);
    ck_assert_int_eq(auth_authenticate(a, "alice", "pw", 2, &gen, &unknown),
                     AUTH_EBADPASS);
    ck_assert_int_eq(auth_authenticate(a, "alice", "new", 3, &gen, &unknown),
                     0);
    ck_assert_uint_eq(gen, 9);
    /* The credential copy a thread-pool check uses. */
    uint8_t copy[AUTH_CRED_BYTES];
    ck_assert_int_eq(auth_user_cred(a, "alice", copy, &gen), 0);
    ck_assert_uint_eq(gen, 9);
    ck_assert(auth_verify_password(copy, sizeof copy, "new", 3));
    ck_assert_int_eq(auth_user_cred(a, "bob", copy, &gen), AUTH_EUSER_NOT_FOUND);
    ck_assert_int_eq(auth_apply_user_add(a, "svc", NULL, 0, 11), 0);
    ck_assert_int_eq(auth_user_cred(a, "svc", copy, &gen), AUTH_EBADPASS);
    ck_assert_int_eq(auth_authenticate(a, "svc", "", 0, &gen, &unknown),
                     AUTH_EBADPASS);
    auth_destroy(a);
}
END_TEST

START_TEST(permissions_match_keys_ranges_and_prefixes)
{
    struct auth *a = app_table();
    /* Read inside the prefix: single key, sub-range, the whole prefix. */
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/app/x"), NULL, 0), 0);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/app/a"), K("/app/b")), 0);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/app/"), K("/app0")), 0);
    /* Outside, or reaching past the prefix, or to the end of the keyspace. */
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/other/x"), NULL, 0), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/app/"), K("/app1")), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/app/"), (const uint8_t *)"", 1), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READ, K("/ap"), K("/app/z")), AUTH_EDENIED);
    /* Write: only the single key /app/w. */
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_WRITE, K("/app/w"), NULL, 0), 0);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_WRITE, K("/app/x"), NULL, 0), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_WRITE, K("/app/w"), K("/app/x")), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READWRITE, K("/app/w"), NULL, 0), 0);
    ck_assert_int_eq(auth_check(a, "alice", AUTH_PERM_READWRITE, K("/app/x"), NULL, 0), AUTH_EDENIED);
    ck_assert_int_eq(auth_check(a, "nobody", AUTH_PERM_READ, K("/app/x"), NULL, 0), AUTH_EUSER_NOT_FOUND);
    auth_destroy(a);
}
END_TEST

START_TEST(adjacent_permissions_of_two_roles_cover_together)
{
    struct auth *a = make();
    add_user(a, "u", "pw", 1);
    ck_assert_int_eq(auth_apply_role_add(a, "r1"), 0);
    ck_assert_int_eq(auth_apply_role_add(a, "r2"), 0);
    ck_assert_int_eq(auth_apply_role_grant(a, "r1", AUTH_PERM_READWRITE, K("a"), K("c")), 0);
    ck_assert_int_eq(auth_apply_role_grant(a, "r2", AUTH_PERM_READ, K("c"), (const uint8_t *)"", 1), 0);
    ck_assert_int_eq(auth_apply_user_grant(a, "u", "r1"), 0);
    ck_assert_int_eq(auth_check(a, "u", AUTH_PERM_READ, K("b"), K("d")), AUTH_EDENIED);
    ck_assert_int_eq(auth_apply_user_grant(a, "u", "r2"), 0);
    ck_assert_int_eq(auth_check(a, "u", AUTH_PERM_READ, K("b"), K("d")), 0);
    ck_assert_int_eq(auth_check(a, "u", AUTH_PERM_READ, K("a"), (const uint8_t *)"", 1), 0);
    ck_assert_int_eq(auth_check(a, "u", AUTH_PERM_WRITE, K("b"), K("d")), AUTH_EDENIED);
    /* Revoking the role takes effect on the next check. */
    ck_assert_int_eq(auth_apply_user_revoke(a, "u", "r2"), 0);
    ck_assert_int_eq(auth_check(a, "u", AUTH_PERM_READ, K("b"), K("d")), AUTH_EDENIED);
    /* Deleting a role revokes it from its users. */
    ck_assert_int_eq(auth_apply_role_delete(a, "r1"), 0);
    size_t n = 9;
    ck_assert_int_eq(auth_user_roles(a, "u", &n), 0);
    ck_assert_uint_eq(n, 0);
    auth_destroy(a);
}
END_TEST

START_TEST(root_rules_follow_etcd)
{
    struct auth *a = make();
    ck_assert_int_eq(auth_apply_enable(a), AUTH_ENO_ROOT_USER);
    add_user(a, "root", "rootpw", 1);
    ck_assert_int_eq(auth_apply_enable(a), AUTH_ENO_ROOT_ROLE);
    ck_assert_int_eq(auth_apply_user_grant(a, "root", "root"), 0); /* implicit role */
    ck_assert_int_eq(auth_apply_enable(a), 0);
    ck_assert(auth_enabled(a));
    ck_assert_int_eq(auth_apply_user_delete(a, "root"), AUTH_EBADMGMT);
    ck_assert_int_eq(auth_apply_user_revoke(a, "root", "root"), AUTH_EBADMGMT);
    ck_assert_int_eq(auth_check(a, "root", AUTH_PERM_WRITE, K("\x01"), (const uint8_t *)"", 1), 0);
    ck_assert(auth_is_root(a, "root"));
    ck_assert_int_eq(auth_apply_disable(a), 0);
    ck_assert_int_eq(auth_apply_user_revoke(a, "root", "root"), 0);
    ck_assert_int_eq(auth_apply_user_delete(a, "root"), 0);
    auth_destroy(a);
}
END_TEST

START_TEST(bad_input_is_refused_without_change)
{
    struct auth *a = app_table();
    uint64_t rev = auth_revision(a);
    ck_assert_int_eq(auth_apply_user_add(a, "", NULL, 0, 1), AUTH_EINVAL);
    ck_assert_int_eq(auth_apply_user_add(a, "a:b", NULL, 0, 1), AUTH_EINVAL);
    ck_assert_int_eq(auth_apply_user_add(a, "alice", NULL, 0, 1), AUTH_EUSER_EXISTS);
    uint8_t junk[AUTH_CRED_BYTES] = {0};
    ck_assert_int_eq(auth_apply_user_add(a, "x", junk, sizeof junk, 1), AUTH_EINVAL);
    ck_assert_int_eq(auth_apply_role_add(a, "app"), AUTH_EROLE_EXISTS);
    ck_assert_int_eq(auth_apply_user_grant(a, "alice", "nope"), AUTH_EROLE_NOT_FOUND);
    ck_assert_int_eq(auth_apply_user_grant(a, "alice", "app"), AUTH_EROLE_GRANTED);
    ck_assert_int_eq(auth_apply_user_revoke(a, "alice", "zzz"), AUTH_EROLE_NOT_GRANTED);
    ck_assert_int_eq(auth_apply_role_grant(a, "app", AUTH_PERM_READ, K("b"), K("a")), AUTH_EINVAL);
    ck_assert_int_eq(auth_apply_role_grant(a, "app", 7, K("a"), NULL, 0), AUTH_EINVAL);
    ck_assert_int_eq(auth_apply_role_revoke(a, "app", K("/zz"), NULL, 0), AUTH_EPERM_NOT_GRANTED);
    ck_assert_int_eq(auth_apply_user_delete(a, "bob"), AUTH_EUSER_NOT_FOUND);
    ck_assert_uint_eq(auth_revision(a), rev);
    auth_destroy(a);
}
END_TEST

START_TEST(replicas_applying_the_same_entries_save_the_same_bytes)
{
    struct auth *a = app_table(), *b = make();
    uint8_t *img, *img2;
    size_t len, len2;
    ck_assert_int_eq(auth_save(a, &img, &len), 0);
    ck_assert_int_eq(auth_load(b, img, len), 0);
    ck_assert_int_eq(auth_save(b, &img2, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(img, img2, len) == 0);
    ck_assert_uint_eq(auth_revision(a), auth_revision(b));
    /* The loaded table answers as the original. */
    ck_assert_int_eq(auth_check(b, "alice", AUTH_PERM_READ, K("/app/x"), NULL, 0), 0);
    ck_assert_int_eq(auth_check(b, "alice", AUTH_PERM_WRITE, K("/app/x"), NULL, 0), AUTH_EDENIED);
    uint64_t gen;
    bool unknown;
    ck_assert_int_eq(auth_authenticate(b, "alice", "pw", 2, &gen, &unknown), 0);
    ck_assert_uint_eq(gen, 3);
    /* Every truncation and a flipped magic are refused; the table stays. */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_ne(auth_load(b, img, cut), 0);
    }
    img[0] ^= 1;
    ck_assert_int_eq(auth_load(b, img, len), AUTH_ECORRUPT);
    ck_assert_int_eq(auth_check(b, "alice", AUTH_PERM_READ, K("/app/x"), NULL, 0), 0);
    free(img);
    free(img2);
    auth_destroy(a);
    auth_destroy(b);
}
END_TEST

START_TEST(enabled_flag_survives_save_load)
{
    struct auth *a = make(), *b = make();
    add_user(a, "root", "r", 1);
    ck_assert_int_eq(auth_apply_user_grant(a, "root", "root"), 0);
    ck_assert_int_eq(auth_apply_enable(a), 0);
    uint8_t *img;
    size_t len;
    ck_assert_int_eq(auth_save(a, &img, &len), 0);
    ck_assert_int_eq(auth_load(b, img, len), 0);
    ck_assert(auth_enabled(b));
    ck_assert_int_eq(auth_apply_user_delete(b, "root"), AUTH_EBADMGMT);
    free(img);
    auth_destroy(a);
    auth_destroy(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, password_is_hashed_salted_and_verified);
    tcase_add_test(tc, authenticate_reports_one_code_for_name_and_password);
    tcase_add_test(tc, permissions_match_keys_ranges_and_prefixes);
    tcase_add_test(tc, adjacent_permissions_of_two_roles_cover_together);
    tcase_add_test(tc, root_rules_follow_etcd);
    tcase_add_test(tc, bad_input_is_refused_without_change);
    tcase_add_test(tc, replicas_applying_the_same_entries_save_the_same_bytes);
    tcase_add_test(tc, enabled_flag_survives_save_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
