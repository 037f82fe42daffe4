/*
 * auth.h - users, roles and key permissions (etcd v3's auth model) as a
 * pure, deterministic table.
 *
 * Replicated state, changed only by auth_apply_*() from committed Raft
 * entries, in log order, on every node: the users (name, password
 * credential, roles, the log index their password was last set at), the
 * roles (name, permissions on keys and key ranges) and the enabled flag.
 * Fed the same entries, every replica holds the same table, returns the
 * same errors and auth_save() encodes it to the same bytes.  Each
 * successful change moves the table's revision by one.
 *
 * Passwords never enter the table: a credential is a salted PBKDF2-HMAC-
 * SHA256 hash (auth_hash_password), made on the node that received the
 * request; the log, the snapshots and the RocksDB engine carry only it.
 *
 * Permissions: [key, range_end) with etcd's conventions: an empty range_end
 * is the single key, range_end "\0" is every key >= key.  A request is
 * allowed when the union of the user's permissions of the right type covers
 * its whole range.  The role "root" grants everything; it exists implicitly
 * (it may also be added as a role, with no effect on what it grants).
 *
 * etcd's rules, enforced at apply time (so every replica agrees):
 *  - auth_apply_enable needs a user "root" holding the role "root";
 *  - while enabled, the user root cannot be deleted and the role root can
 *    neither be revoked from it nor deleted (AUTH_EBADMGMT).
 * Who may change the table ("only root once enabled") is checked by the
 * caller before proposing, not here.
 *
 * Not thread-safe; one thread owns a table.  No clock, no libuv; the only
 * randomness is the salt drawn by auth_hash_password (not an apply path).
 */
#ifndef METASTORE_SERVER_AUTH_H
#define METASTORE_SERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_ERRORS(X)                                                         \
    X(AUTH_EINVAL, -7001, "invalid argument")                                  \
    X(AUTH_ENOMEM, -7002, "out of memory")                                     \
    X(AUTH_EUSER_EXISTS, -7003, "user name already exists")                    \
    X(AUTH_EUSER_NOT_FOUND, -7004, "user name not found")                      \
    X(AUTH_EROLE_EXISTS, -7005, "role name already exists")                    \
    X(AUTH_EROLE_NOT_FOUND, -7006, "role name not found")                      \
    X(AUTH_EROLE_GRANTED, -7007, "user is already granted this role")          \
    X(AUTH_EROLE_NOT_GRANTED, -7008, "role is not granted to the user")        \
    X(AUTH_EPERM_NOT_GRANTED, -7009, "permission is not granted to the role")  \
    X(AUTH_ENO_ROOT_USER, -7010, "root user does not exist")                   \
    X(AUTH_ENO_ROOT_ROLE, -7011, "root user does not have root role")          \
    X(AUTH_EBADMGMT, -7012, "invalid auth management")                         \
    X(AUTH_EDENIED, -7013, "permission denied")                                \
    X(AUTH_EBADPASS, -7014, "authentication failed, invalid user ID or "       \
                            "password")                                        \
    X(AUTH_ECORRUPT, -7015, "auth table data is corrupt")                      \
    X(AUTH_ETOOMANY, -7016, "too many users, roles or permissions")

enum {
#define AUTH__ERR_ENUM(name, value, text) name = value,
    AUTH_ERRORS(AUTH__ERR_ENUM)
#undef AUTH__ERR_ENUM
};

/* Text for an AUTH_E* code; never NULL. */
const char *auth_strerror(int err);
/* "AUTH_EDENIED" etc., or "AUTH_E?". */
const char *auth_err_name(int err);

/* Permission types, numbered as etcd's authpb.Permission.Type. */
enum auth_perm_type {
    AUTH_PERM_READ = 0,
    AUTH_PERM_WRITE = 1,
    AUTH_PERM_READWRITE = 2,
};

#define AUTH_ROOT "root"
#define AUTH_MAX_NAME_BYTES 128
#define AUTH_MAX_KEY_BYTES 65536
#define AUTH_MAX_USERS 10000
#define AUTH_MAX_ROLES 10000
#define AUTH_MAX_PERMS 10000 /* per role */
#define AUTH_MAX_ROLES_PER_USER 1000

/* Credential: u32 iterations (LE), 16 bytes salt, 32 bytes hash. */
#define AUTH_SALT_BYTES 16
#define AUTH_HASH_BYTES 32
#define AUTH_CRED_BYTES (4 + AUTH_SALT_BYTES + AUTH_HASH_BYTES)
#define AUTH_MIN_ITERATIONS 1000
#define AUTH_MAX_ITERATIONS 10000000

struct auth;

/* ---- credentials (OpenSSL) ------------------------------------------------ */

/* Makes a credential for `password` with a fresh random salt.  0,
 * AUTH_EINVAL (iterations out of range), AUTH_ENOMEM (RNG failure). */
int auth_hash_password(const char *password, size_t len, uint32_t iterations,
                       uint8_t out[AUTH_CRED_BYTES]);
/* True when `password` matches the credential (constant-time compare). */
bool auth_verify_password(const uint8_t *cred, size_t cred_len,
                          const char *password, size_t len);
/* True when cred is a well-formed credential (length, iteration bounds). */
bool auth_cred_valid(const uint8_t *cred, size_t cred_len);

/* ---- the table ---------------------------------------------------------------- */

int auth_create(struct auth **out);
void auth_destroy(struct auth *a);

bool auth_enabled(const struct auth *a);
uint64_t auth_revision(const struct auth *a);

/* User and role names: 1..AUTH_MAX_NAME_BYTES bytes, printable ASCII
 * without spaces; user names also without ':' (it separates name and
 * password on the command line). */
bool auth_user_name_valid(const char *name);
bool auth_role_name_valid(const char *name);

/* ---- apply (deterministic; every replica, log order) ----------------------- */

/* `gen` is the log index of the entry: it marks the password's generation
 * (a connection authenticated under an older generation must authenticate
 * again).  cred: AUTH_CRED_BYTES, or NULL/0 for a user without password
 * (cannot authenticate; etcd's --no-password). */
int auth_apply_user_add(struct auth *a, const char *name, const uint8_t *cred,
                        size_t cred_len, uint64_t gen);
int auth_apply_user_delete(struct auth *a, const char *name);
int auth_apply_user_password(struct auth *a, const char *name,
                             const uint8_t *cred, size_t cred_len,
                             uint64_t gen);
int auth_apply_user_grant(struct auth *a, const char *user, const char *role);
int auth_apply_user_revoke(struct auth *a, const char *user, const char *role);
int auth_apply_role_add(struct auth *a, const char *name);
/* Also revokes the role from every user holding it. */
int auth_apply_role_delete(struct auth *a, const char *name);
/* A permission on the same [key, range_end) is replaced (its type
 * changes), as etcd does. */
int auth_apply_role_grant(struct auth *a, const char *role,
                          enum auth_perm_type type, const uint8_t *key,
                          size_t key_len, const uint8_t *end, size_t end_len);
int auth_apply_role_revoke(struct auth *a, const char *role,
                           const uint8_t *key, size_t key_len,
                           const uint8_t *end, size_t end_len);
int auth_apply_enable(struct auth *a);
int auth_apply_disable(struct auth *a);

/* ---- queries --------------------------------------------------------------------- */

/*
 * May `user` do `type` (READ or WRITE) on [key, end)?  0 when allowed,
 * AUTH_EUSER_NOT_FOUND, AUTH_EDENIED.  READWRITE asks for both.  Checks
 * the current table (callers check on every request, so a revoke takes
 * effect at once).
 */
int auth_check(const struct auth *a, const char *user, enum auth_perm_type type,
               const uint8_t *key, size_t key_len, const uint8_t *end,
               size_t end_len);
/* True when the user exists and holds the role root. */
bool auth_is_root(const struct auth *a, const char *user);

/* Verifies a password.  0 and *gen (the password generation), or
 * AUTH_EBADPASS (unknown user, no password, or wrong password: one code,
 * so a caller cannot probe for names; *unknown_user says which, for
 * counting). */
int auth_authenticate(const struct auth *a, const char *user,
                      const char *password, size_t len, uint64_t *gen,
                      bool *unknown_user);
/* Copies a user's credential (for verifying it off the loop thread):
 * 0 with cred[AUTH_CRED_BYTES] and *gen, AUTH_EUSER_NOT_FOUND, or
 * AUTH_EBADPASS for a user without password. */
int auth_user_cred(const struct auth *a, const char *user,
                   uint8_t cred[AUTH_CRED_BYTES], uint64_t *gen);
/* The password generation of a user; AUTH_EUSER_NOT_FOUND. */
int auth_user_gen(const struct auth *a, const char *user, uint64_t *gen);

/* Listing: names are borrowed until the next apply. */
size_t auth_user_count(const struct auth *a);
const char *auth_user_name(const struct auth *a, size_t i); /* sorted */
size_t auth_role_count(const struct auth *a);
const char *auth_role_name(const struct auth *a, size_t i); /* sorted */
/* Roles of a user (sorted): count, and the i-th name; NULL when no user. */
int auth_user_roles(const struct auth *a, const char *user, size_t *n);
const char *auth_user_role(const struct auth *a, const char *user, size_t i);

struct auth_perm {
    enum auth_perm_type type;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *end;
    size_t end_len;
};
/* Permissions of a role (sorted by key): AUTH_EROLE_NOT_FOUND, else 0 and
 * *n; auth_role_perm fills the i-th (borrowed until the next apply). */
int auth_role_perms(const struct auth *a, const char *role, size_t *n);
int auth_role_perm(const struct auth *a, const char *role, size_t i,
                   struct auth_perm *out);

/* ---- save / load ------------------------------------------------------------------- */

/* Encodes the whole table (same table, same bytes).  *out is malloc'd. */
int auth_save(const struct auth *a, uint8_t **out, size_t *len);
/* Replaces the table with a decoded image; on error the table is left as
 * it was.  AUTH_ECORRUPT, AUTH_ENOMEM. */
int auth_load(struct auth *a, const uint8_t *in, size_t len);

#endif /* METASTORE_SERVER_AUTH_H */
