/*
 * auth.c - the users / roles / permissions table of auth.h.
 *
 * Users and roles are kept in arrays sorted by name, a role's permissions
 * sorted by (key, range_end), a user's roles sorted by name: listing and
 * auth_save() are then deterministic without sorting on the way out, and
 * tables are small (a few hundred entries) so linear insertion is fine.
 *
 * auth_check() merges the intervals of every permission the user holds of
 * the wanted type and asks whether they cover the requested range: two
 * permissions [a, b) and [b, c) together allow [a, c), as in etcd.
 *
 * Failure modes: every apply validates its input and returns an AUTH_E*
 * code without changing the table; auth_load() rejects any image it cannot
 * fully parse and keeps the old table.
 */
#include "server/auth.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

const char *auth_strerror(int err)
{
    switch (err) {
#define AUTH__ERR_TEXT(name, value, text)                                      \
    case name:                                                                 \
        return text;
        AUTH_ERRORS(AUTH__ERR_TEXT)
#undef AUTH__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *auth_err_name(int err)
{
    switch (err) {
#define AUTH__ERR_NAME(name, value, text)                                      \
    case name:                                                                 \
        return #name;
        AUTH_ERRORS(AUTH__ERR_NAME)
#undef AUTH__ERR_NAME
    default:
        return "AUTH_E?";
    }
}

struct perm {
    uint8_t type;
    uint8_t *key;
    size_t key_len;
    uint8_t *end;
    size_t end_len;
};

struct role {
    char *name;
    struct perm *perms;
    size_t n_perms;
};

struct user {
    char *name;
    uint8_t cred[AUTH_CRED_BYTES];
    bool has_cred;
    uint64_t gen;
    char **roles;
    size_t n_roles;
};

struct auth {
    bool enabled;
    uint64_t revision;
    struct user *users;
    size_t n_users;
    struct role *roles;
    size_t n_roles;
};

/* ---- credentials ------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static int pbkdf2(const char *pw, size_t len, const uint8_t *salt,
                  uint32_t iterations, uint8_t *out)
{
    return PKCS5_PBKDF2_HMAC(pw, (int)len, salt, AUTH_SALT_BYTES,
                             (int)iterations, EVP_sha256(), AUTH_HASH_BYTES,
                             out) == 1
               ? 0
               : AUTH_ENOMEM;
}

int auth_hash_password(const char *password, size_t len, uint32_t iterations,
                       uint8_t out[AUTH_CRED_BYTES])
{
    if (iterations < AUTH_MIN_ITERATIONS || iterations > AUTH_MAX_ITERATIONS ||
        len > 1024 * 1024) {
        return AUTH_EINVAL;
    }
    put_u32(out, iterations);
    if (RAND_bytes(out + 4, AUTH_SALT_BYTES) != 1) {
        return AUTH_ENOMEM;
    }
    return pbkdf2(password, len, out + 4, iterations, out + 4 + AUTH_SALT_BYTES);
}

bool auth_cred_valid(const uint8_t *cred, size_t cred_len)
{
    if (cred == NULL || cred_len != AUTH_CRED_BYTES) {
        return false;
    }
    uint32_t it = get_u32(cred);
    return it >= AUTH_MIN_ITERATIONS && it <= AUTH_MAX_ITERATIONS;
}

bool auth_verify_password(const uint8_t *cred, size_t cred_len,
                          const char *password, size_t len)
{
    if (!auth_cred_valid(cred, cred_len) || len > 1024 * 1024) {
        return false;
    }
    uint8_t got[AUTH_HASH_BYTES];
    if (pbkdf2(password, len, cred + 4, get_u32(cred), got) != 0) {
        return false;
    }
    bool ok = CRYPTO_memcmp(got, cred + 4 + AUTH_SALT_BYTES, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

/* ---- helpers ---------------------------------------------------------------- */

static bool name_ok(const char *name, bool user)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > AUTH_MAX_NAME_BYTES) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch <= 0x20 || ch >= 0x7f || (user && ch == ':')) {
            return false;
        }
    }
    return true;
}

bool auth_user_name_valid(const char *name)
{
    return name_ok(name, true);
}

bool auth_role_name_valid(const char *name)
{
    return name_ok(name, false);
}

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *d = malloc(n > 0 ? n : 1);
    if (d != NULL && n > 0) {
        memcpy(d, p, n);
    }
    return d;
}

/* Index of `name` in a sorted array of structs (`stride` bytes each)
 * whose first member is the name, or where it would go (*found false). */
static size_t find_pos(const void *arr, size_t n, size_t stride,
                       const char *name, bool *found)
{
    size_t lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *at = *(char *const *)((const uint8_t *)arr + mid * stride);
        int c = strcmp(at, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static struct user *find_user(const struct auth *a, const char *name,
                              size_t *pos)
{
    bool found;
    size_t i = 0;
    if (name != NULL) {
        i = find_pos(a->users, a->n_users, sizeof *a->users, name, &found);
    } else {
        found = false;
    }
    if (pos != NULL) {
        *pos = i;
    }
    return found ? &a->users[i] : NULL;
}

static struct role *find_role(const struct auth *a, const char *name,
                              size_t *pos)
{
    bool found;
    size_t i = 0;
    if (name != NULL) {
        i = find_pos(a->roles, a->n_roles, sizeof *a->roles, name, &found);
    } else {
        found = false;
    }
    if (pos != NULL) {
        *pos = i;
    }
    return found ? &a->roles[i] : NULL;
}

/* Index of role name in a user's sorted role list (or where it goes). */
static size_t user_role_pos(const struct user *u, const char *role, bool *found)
{
    size_t i = 0;
    *found = false;
    for (; i < u->n_roles; i++) {
        int c = strcmp(u->roles[i], role);
        if (c == 0) {
            *found = true;
            break;
        }
        if (c > 0) {
            break;
        }
    }
    return i;
}

static void free_user(struct user *u)
{
    free(u->name);
    for (size_t i = 0; i < u->n_roles; i++) {
        free(u->roles[i]);
    }
    free(u->roles);
    OPENSSL_cleanse(u->cred, sizeof u->cred);
}

static void free_role(struct role *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_perms; i++) {
        free(r->perms[i].key);
        free(r->perms[i].end);
    }
    free(r->perms);
}

/* Grows an array by one slot at `pos`. */
static int insert_slot(void **arr, size_t *n, size_t size, size_t pos)
{
    uint8_t *p = realloc(*arr, (*n + 1) * size);
    if (p == NULL) {
        return AUTH_ENOMEM;
    }
    memmove(p + (pos + 1) * size, p + pos * size, (*n - pos) * size);
    memset(p + pos * size, 0, size);
    *arr = p;
    (*n)++;
    return 0;
}

static void remove_slot(void *arr, size_t *n, size_t size, size_t pos)
{
    uint8_t *p = arr;
    memmove(p + pos * size, p + (pos + 1) * size, (*n - pos - 1) * size);
    (*n)--;
}

static int changed(struct auth *a)
{
    a->revision++;
    return 0;
}

/* ---- table ------------------------------------------------------------------- */

int auth_create(struct auth **out)
{
    struct auth *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return AUTH_ENOMEM;
    }
    a->revision = 1;
    *out = a;
    return 0;
}

static void clear(struct auth *a)
{
    for (size_t i = 0; i < a->n_users; i++) {
        free_user(&a->users[i]);
    }
    for (size_t i = 0; i < a->n_roles; i++) {
        free_role(&a->roles[i]);
    }
    free(a->users);
    free(a->roles);
    a->users = NULL;
    a->roles = NULL;
    a->n_users = a->n_roles = 0;
}

void auth_destroy(struct auth *a)
{
    if (a != NULL) {
        clear(a);
        free(a);
    }
}

bool auth_enabled(const struct auth *a)
{
    return a->enabled;
}

uint64_t auth_revision(const struct auth *a)
{
    return a->revision;
}

/* ---- apply: users ---------------------------------------------------------------- */

static bool cred_arg_ok(const uint8_t *cred, size_t cred_len)
{
    return (cred == NULL && cred_len == 0) || auth_cred_valid(cred, cred_len);
}

static void set_cred(struct user *u, const uint8_t *cred, size_t cred_len,
                     uint64_t gen)
{
    u->has_cred = cred_len > 0;
    memset(u->cred, 0, sizeof u->cred);
    if (cred_len > 0) {
        memcpy(u->cred, cred, cred_len);
    }
    u->gen = gen;
}

int auth_apply_user_add(struct auth *a, const char *name, const uint8_t *cred,
                        size_t cred_len, uint64_t gen)
{
    size_t pos;
    if (!auth_user_name_valid(name) || !cred_arg_ok(cred, cred_len)) {
        return AUTH_EINVAL;
    }
    if (find_user(a, name, &pos) != NULL) {
        return AUTH_EUSER_EXISTS;
    }
    if (a->n_users >= AUTH_MAX_USERS) {
        return AUTH_ETOOMANY;
    }
    char *copy = strdup(name);
    if (copy == NULL ||
        insert_slot((void **)&a->users, &a->n_users, sizeof *a->users, pos)) {
        free(copy);
        return AUTH_ENOMEM;
    }
    a->users[pos].name = copy;
    set_cred(&a->users[pos], cred, cred_len, gen);
    return changed(a);
}

int auth_apply_user_delete(struct auth *a, const char *name)
{
    size_t pos;
    struct user *u = find_user(a, name, &pos);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (a->enabled && strcmp(name, AUTH_ROOT) == 0) {
        return AUTH_EBADMGMT;
    }
    free_user(u);
    remove_slot(a->users, &a->n_users, sizeof *a->users, pos);
    return changed(a);
}

int auth_apply_user_password(struct auth *a, const char *name,
                             const uint8_t *cred, size_t cred_len,
                             uint64_t gen)
{
    struct user *u = find_user(a, name, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (!cred_arg_ok(cred, cred_len)) {
        return AUTH_EINVAL;
    }
    set_cred(u, cred, cred_len, gen);
    return changed(a);
}

int auth_apply_user_grant(struct auth *a, const char *user, const char *role)
{
    struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (!auth_role_name_valid(role)) {
        return AUTH_EINVAL;
    }
    /* root is implicit; any other role must exist. */
    if (strcmp(role, AUTH_ROOT) != 0 && find_role(a, role, NULL) == NULL) {
        return AUTH_EROLE_NOT_FOUND;
    }
    bool found;
    size_t pos = user_role_pos(u, role, &found);
    if (found) {
        return AUTH_EROLE_GRANTED;
    }
    if (u->n_roles >= AUTH_MAX_ROLES_PER_USER) {
        return AUTH_ETOOMANY;
    }
    char *copy = strdup(role);
    if (copy == NULL ||
        insert_slot((void **)&u->roles, &u->n_roles, sizeof *u->roles, pos)) {
        free(copy);
        return AUTH_ENOMEM;
    }
    u->roles[pos] = copy;
    return changed(a);
}

int auth_apply_user_revoke(struct auth *a, const char *user, const char *role)
{
    struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (role == NULL) {
        return AUTH_EINVAL;
    }
    bool found;
    size_t pos = user_role_pos(u, role, &found);
    if (!found) {
        return AUTH_EROLE_NOT_GRANTED;
    }
    if (a->enabled && strcmp(user, AUTH_ROOT) == 0 &&
        strcmp(role, AUTH_ROOT) == 0) {
        return AUTH_EBADMGMT;
    }
    free(u->roles[pos]);
    remove_slot(u->roles, &u->n_roles, sizeof *u->roles, pos);
    return changed(a);
}

/* ---- apply: roles ------------------------------------------------------------------ */

int auth_apply_role_add(struct auth *a, const char *name)
{
    size_t pos;
    if (!auth_role_name_valid(name)) {
        return AUTH_EINVAL;
    }
    if (find_role(a, name, &pos) != NULL) {
        return AUTH_EROLE_EXISTS;
    }
    if (a->n_roles >= AUTH_MAX_ROLES) {
        return AUTH_ETOOMANY;
    }
    char *copy = strdup(name);
    if (copy == NULL ||
        insert_slot((void **)&a->roles, &a->n_roles, sizeof *a->roles, pos)) {
        free(copy);
        return AUTH_ENOMEM;
    }
    a->roles[pos].name = copy;
    return changed(a);
}

int auth_apply_role_delete(struct auth *a, const char *name)
{
    size_t pos;
    struct role *r = find_role(a, name, &pos);
    if (r == NULL) {
        return AUTH_EROLE_NOT_FOUND;
    }
    if (a->enabled && strcmp(name, AUTH_ROOT) == 0) {
        return AUTH_EBADMGMT;
    }
    free_role(r);
    remove_slot(a->roles, &a->n_roles, sizeof *a->roles, pos);
    for (size_t i = 0; i < a->n_users; i++) {
        bool found;
        struct user *u = &a->users[i];
        size_t k = user_role_pos(u, name, &found);
        if (found) {
            free(u->roles[k]);
            remove_slot(u->roles, &u->n_roles, sizeof *u->roles, k);
        }
    }
    return changed(a);
}

static bool range_ok(const uint8_t *key, size_t key_len, const uint8_t *end,
                     size_t end_len)
{
    if (key_len == 0 || key_len > AUTH_MAX_KEY_BYTES ||
        end_len > AUTH_MAX_KEY_BYTES || (key == NULL) ||
        (end_len > 0 && end == NULL)) {
        return false;
    }
    bool from_key = end_len == 1 && end[0] == 0;
    return end_len == 0 || from_key ||
           key_cmp(end, end_len, key, key_len) > 0;
}

/* Position of (key, end) in a role's sorted permissions. */
static size_t perm_pos(const struct role *r, const uint8_t *key,
                       size_t key_len, const uint8_t *end, size_t end_len,
                       bool *found)
{
    *found = false;
    size_t i = 0;
    for (; i < r->n_perms; i++) {
        const struct perm *p = &r->perms[i];
        int c = key_cmp(p->key, p->key_len, key, key_len);
        if (c == 0) {
            c = key_cmp(p->end, p->end_len, end, end_len);
        }
        if (c == 0) {
            *found = true;
            break;
        }
        if (c > 0) {
            break;
        }
    }
    return i;
}

int auth_apply_role_grant(struct auth *a, const char *role,
                          enum auth_perm_type type, const uint8_t *key,
                          size_t key_len, const uint8_t *end, size_t end_len)
{
    struct role *r = find_role(a, role, NULL);
    if (r == NULL) {
        return AUTH_EROLE_NOT_FOUND;
    }
    if ((unsigned)type > AUTH_PERM_READWRITE ||
        !range_ok(key, key_len, end, end_len)) {
        return AUTH_EINVAL;
    }
    bool found;
    size_t pos = perm_pos(r, key, key_len, end, end_len, &found);
    if (found) {
        r->perms[pos].type = (uint8_t)type;
        return changed(a);
    }
    if (r->n_perms >= AUTH_MAX_PERMS) {
        return AUTH_ETOOMANY;
    }
    uint8_t *k = dup_bytes(key, key_len);
    uint8_t *e = dup_bytes(end, end_len);
    if (k == NULL || e == NULL ||
        insert_slot((void **)&r->perms, &r->n_perms, sizeof *r->perms, pos)) {
        free(k);
        free(e);
        return AUTH_ENOMEM;
    }
    r->perms[pos] = (struct perm){(uint8_t)type, k, key_len, e, end_len};
    return changed(a);
}

int auth_apply_role_revoke(struct auth *a, const char *role,
                           const uint8_t *key, size_t key_len,
                           const uint8_t *end, size_t end_len)
{
    struct role *r = find_role(a, role, NULL);
    if (r == NULL) {
        return AUTH_EROLE_NOT_FOUND;
    }
    bool found;
    size_t pos = perm_pos(r, key, key_len, end, end_len, &found);
    if (!found) {
        return AUTH_EPERM_NOT_GRANTED;
    }
    free(r->perms[pos].key);
    free(r->perms[pos].end);
    remove_slot(r->perms, &r->n_perms, sizeof *r->perms, pos);
    return changed(a);
}

int auth_apply_enable(struct auth *a)
{
    const struct user *root = find_user(a, AUTH_ROOT, NULL);
    if (root == NULL) {
        return AUTH_ENO_ROOT_USER;
    }
    if (!auth_is_root(a, AUTH_ROOT)) {
        return AUTH_ENO_ROOT_ROLE;
    }
    if (a->enabled) {
        return 0; /* etcd: enabling twice is not an error */
    }
    a->enabled = true;
    return changed(a);
}

int auth_apply_disable(struct auth *a)
{
    if (!a->enabled) {
        return 0;
    }
    a->enabled = false;
    return changed(a);
}

/* ---- queries ----------------------------------------------------------------------- */

bool auth_is_root(const struct auth *a, const char *user)
{
    const struct user *u = find_user(a, user, NULL);
    bool found = false;
    if (u != NULL) {
        (void)user_role_pos(u, AUTH_ROOT, &found);
    }
    return found;
}

/* An interval [lo, hi); hi_inf: no upper bound. */
struct ival {
    const uint8_t *lo;
    size_t lo_len;
    const uint8_t *hi;
    size_t hi_len;
    bool hi_inf;
};

/* The single key k as an interval ends at k + "\0": hi = k, with one extra
 * zero byte, compared by hand. */
static int hi_cmp(const struct ival *x, const uint8_t *k, size_t klen)
{
    /* compares x->hi (+ "\0" when x->hi_len marks a point) against k */
    return key_cmp(x->hi, x->hi_len, k, klen);
}

static int ival_sort(const void *pa, const void *pb)
{
    const struct ival *a = pa, *b = pb;
    return key_cmp(a->lo, a->lo_len, b->lo, b->lo_len);
}

/* Builds [lo, hi) for a permission or request: a single key k becomes
 * [k, k\0), kept as lo=k and hi=a scratch copy with the zero appended. */
static int make_ival(struct ival *v, const uint8_t *key, size_t key_len,
                     const uint8_t *end, size_t end_len, uint8_t **scratch)
{
    *scratch = NULL;
    v->lo = key;
    v->lo_len = key_len;
    v->hi_inf = end_len == 1 && end[0] == 0;
    if (end_len == 0) {
        uint8_t *p = malloc(key_len + 1);
        if (p == NULL) {
            return AUTH_ENOMEM;
        }
        memcpy(p, key, key_len);
        p[key_len] = 0;
        *scratch = p;
        v->hi = p;
        v->hi_len = key_len + 1;
    } else {
        v->hi = end;
        v->hi_len = end_len;
    }
    return 0;
}

static bool type_grants(uint8_t have, enum auth_perm_type want)
{
    return have == AUTH_PERM_READWRITE || have == (uint8_t)want;
}

/* Do the user's permissions of type `want` cover [key, end)? */
static int covered(const struct auth *a, const struct user *u,
                   enum auth_perm_type want, const uint8_t *key,
                   size_t key_len, const uint8_t *end, size_t end_len)
{
    size_t n = 0;
    for (size_t i = 0; i < u->n_roles; i++) {
        const struct role *r = find_role(a, u->roles[i], NULL);
        n += r != NULL ? r->n_perms : 0;
    }
    if (n == 0) {
        return AUTH_EDENIED;
    }
    struct ival *v = calloc(n, sizeof *v);
    uint8_t **scr = calloc(n + 1, sizeof *scr);
    int rv = v != NULL && scr != NULL ? 0 : AUTH_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; rv == 0 && i < u->n_roles; i++) {
        const struct role *r = find_role(a, u->roles[i], NULL);
        for (size_t j = 0; r != NULL && rv == 0 && j < r->n_perms; j++) {
            const struct perm *p = &r->perms[j];
            if (type_grants(p->type, want)) {
                rv = make_ival(&v[k], p->key, p->key_len, p->end, p->end_len,
                               &scr[k]);
                k++;
            }
        }
    }
    struct ival req;
    if (rv == 0) {
        rv = make_ival(&req, key, key_len, end, end_len, &scr[n]);
    }
    if (rv == 0) {
        qsort(v, k, sizeof *v, ival_sort);
        /* Sweep: cur is the lowest key not yet known to be covered. */
        const uint8_t *cur = req.lo;
        size_t cur_len = req.lo_len;
        bool ok = false;
        for (size_t i = 0; i < k && !ok; i++) {
            if (key_cmp(v[i].lo, v[i].lo_len, cur, cur_len) > 0) {
                break; /* a gap before this interval */
            }
            if (v[i].hi_inf) {
                ok = true;
            } else if (hi_cmp(&v[i], cur, cur_len) > 0) {
                cur = v[i].hi;
                cur_len = v[i].hi_len;
                ok = !req.hi_inf &&
                     key_cmp(cur, cur_len, req.hi, req.hi_len) >= 0;
            }
        }
        rv = ok ? 0 : AUTH_EDENIED;
    }
    for (size_t i = 0; scr != NULL && i <= n; i++) {
        free(scr[i]);
    }
    free(scr);
    free(v);
    return rv;
}

int auth_check(const struct auth *a, const char *user, enum auth_perm_type type,
               const uint8_t *key, size_t key_len, const uint8_t *end,
               size_t end_len)
{
    const struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (auth_is_root(a, user)) {
        return 0;
    }
    if (key_len == 0 || (end_len > 0 && end == NULL)) {
        return AUTH_EDENIED;
    }
    if (type == AUTH_PERM_READWRITE) {
        int rv = covered(a, u, AUTH_PERM_READ, key, key_len, end, end_len);
        return rv != 0 ? rv
                       : covered(a, u, AUTH_PERM_WRITE, key, key_len, end,
                                 end_len);
    }
    return covered(a, u, type, key, key_len, end, end_len);
}

int auth_authenticate(const struct auth *a, const char *user,
                      const char *password, size_t len, uint64_t *gen,
                      bool *unknown_user)
{
    const struct user *u = find_user(a, user, NULL);
    *unknown_user = u == NULL;
    if (u == NULL || !u->has_cred ||
        !auth_verify_password(u->cred, sizeof u->cred, password, len)) {
        return AUTH_EBADPASS;
    }
    *gen = u->gen;
    return 0;
}

int auth_user_gen(const struct auth *a, const char *user, uint64_t *gen)
{
    const struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    *gen = u->gen;
    return 0;
}

size_t auth_user_count(const struct auth *a)
{
    return a->n_users;
}

const char *auth_user_name(const struct auth *a, size_t i)
{
    return i < a->n_users ? a->users[i].name : NULL;
}

size_t auth_role_count(const struct auth *a)
{
    return a->n_roles;
}

const char *auth_role_name(const struct auth *a, size_t i)
{
    return i < a->n_roles ? a->roles[i].name : NULL;
}

int auth_user_roles(const struct auth *a, const char *user, size_t *n)
{
    const struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    *n = u->n_roles;
    return 0;
}

const char *auth_user_role(const struct auth *a, const char *user, size_t i)
{
    const struct user *u = find_user(a, user, NULL);
    return u != NULL && i < u->n_roles ? u->roles[i] : NULL;
}

int auth_role_perms(const struct auth *a, const char *role, size_t *n)
{
    const struct role *r = find_role(a, role, NULL);
    if (r == NULL) {
        return AUTH_EROLE_NOT_FOUND;
    }
    *n = r->n_perms;
    return 0;
}

int auth_role_perm(const struct auth *a, const char *role, size_t i,
                   struct auth_perm *out)
{
    const struct role *r = find_role(a, role, NULL);
    if (r == NULL || i >= r->n_perms) {
        return AUTH_EROLE_NOT_FOUND;
    }
    const struct perm *p = &r->perms[i];
    *out = (struct auth_perm){(enum auth_perm_type)p->type, p->key, p->key_len,
                              p->end, p->end_len};
    return 0;
}

/* ---- save / load ------------------------------------------------------------------ */

#define AUTH_MAGIC "MSAUTH01"

struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};

static void w_bytes(struct wbuf *b, const void *p, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2 + n + 64;
        uint8_t *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
}

static void w_u32(struct wbuf *b, uint32_t v)
{
    uint8_t x[4];
    put_u32(x, v);
    w_bytes(b, x, 4);
}

static void w_u64(struct wbuf *b, uint64_t v)
{
    w_u32(b, (uint32_t)v);
    w_u32(b, (uint32_t)(v >> 32));
}

static void w_blob(struct wbuf *b, const void *p, size_t n)
{
    w_u32(b, (uint32_t)n);
    w_bytes(b, p, n);
}

int auth_save(const struct auth *a, uint8_t **out, size_t *len)
{
    struct wbuf b = {0};
    w_bytes(&b, AUTH_MAGIC, 8);
    uint8_t en = a->enabled ? 1 : 0;
    w_bytes(&b, &en, 1);
    w_u64(&b, a->revision);
    w_u32(&b, (uint32_t)a->n_users);
    for (size_t i = 0; i < a->n_users; i++) {
        const struct user *u = &a->users[i];
        w_blob(&b, u->name, strlen(u->name));
        w_blob(&b, u->cred, u->has_cred ? sizeof u->cred : 0);
        w_u64(&b, u->gen);
        w_u32(&b, (uint32_t)u->n_roles);
        for (size_t k = 0; k < u->n_roles; k++) {
            w_blob(&b, u->roles[k], strlen(u->roles[k]));
        }
    }
    w_u32(&b, (uint32_t)a->n_roles);
    for (size_t i = 0; i < a->n_roles; i++) {
        const struct role *r = &a->roles[i];
        w_blob(&b, r->name, strlen(r->name));
        w_u32(&b, (uint32_t)r->n_perms);
        for (size_t k = 0; k < r->n_perms; k++) {
            const struct perm *p = &r->perms[k];
            w_bytes(&b, &p->type, 1);
            w_blob(&b, p->key, p->key_len);
            w_blob(&b, p->end, p->end_len);
        }
    }
    if (b.oom) {
        free(b.p);
        return AUTH_ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

struct rbuf {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

static const uint8_t *r_take(struct rbuf *b, size_t n)
{
    if (b->bad || n > b->len - b->off) {
        b->bad = true;
        return NULL;
    }
    const uint8_t *p = b->p + b->off;
    b->off += n;
    return p;
}

static uint32_t r_u32(struct rbuf *b)
{
    const uint8_t *p = r_take(b, 4);
    return p != NULL ? get_u32(p) : 0;
}

static uint64_t r_u64(struct rbuf *b)
{
    uint64_t lo = r_u32(b);
    return lo | (uint64_t)r_u32(b) << 32;
}

static const uint8_t *r_blob(struct rbuf *b, size_t *n, size_t max)
{
    *n = r_u32(b);
    if (*n > max) {
        b->bad = true;
        return NULL;
    }
    return r_take(b, *n);
}

/* A name as a NUL-terminated copy, validated. */
static char *r_name(struct rbuf *b, bool user)
{
    size_t n;
    const uint8_t *p = r_blob(b, &n, AUTH_MAX_NAME_BYTES);
    if (p == NULL) {
        return NULL;
    }
    char *s = malloc(n + 1);
    if (s == NULL) {
        b->bad = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = 0;
    if (!name_ok(s, user)) {
        free(s);
        b->bad = true;
        return NULL;
    }
    return s;
}

/* Decodes into fresh (the applies check every invariant again, so a
 * crafted image cannot create a table the applies could not). */
static int decode(struct auth *fresh, struct rbuf *b)
{
    const uint8_t *magic = r_take(b, 8);
    if (magic == NULL || memcmp(magic, AUTH_MAGIC, 8) != 0) {
        return AUTH_ECORRUPT;
    }
    const uint8_t *en = r_take(b, 1);
    uint64_t revision = r_u64(b);
    uint32_t n_users = r_u32(b);
    if (b->bad || n_users > AUTH_MAX_USERS || *en > 1) {
        return AUTH_ECORRUPT;
    }
    /* Roles come after users in the image; grants need them, so users'
     * role lists are kept aside until the roles are in. */
    int rv = 0;
    size_t roles_at = 0;
    for (int pass = 0; pass < 2 && rv == 0; pass++) {
        b->off = 8 + 1 + 8 + 4;
        for (uint32_t i = 0; i < n_users && rv == 0 && !b->bad; i++) {
            char *name = r_name(b, true);
            size_t cl;
            const uint8_t *cred = r_blob(b, &cl, AUTH_CRED_BYTES);
            uint64_t gen = r_u64(b);
            uint32_t nr = r_u32(b);
            if (name == NULL || b->bad || nr > AUTH_MAX_ROLES_PER_USER) {
                free(name);
                return AUTH_ECORRUPT;
            }
            if (pass == 0) {
                rv = auth_apply_user_add(fresh, name, cl > 0 ? cred : NULL, cl,
                                         gen);
            }
            for (uint32_t k = 0; k < nr && rv == 0; k++) {
                char *role = r_name(b, false);
                if (role == NULL) {
                    rv = AUTH_ECORRUPT;
                } else if (pass == 1) {
                    rv = auth_apply_user_grant(fresh, name, role);
                }
                free(role);
            }
            free(name);
        }
        if (pass == 0 && rv == 0) {
            uint32_t n_roles = r_u32(b);
            if (b->bad || n_roles > AUTH_MAX_ROLES) {
                return AUTH_ECORRUPT;
            }
            for (uint32_t i = 0; i < n_roles && rv == 0; i++) {
                char *name = r_name(b, false);
                uint32_t np = r_u32(b);
                if (name == NULL || b->bad || np > AUTH_MAX_PERMS) {
                    free(name);
                    return AUTH_ECORRUPT;
                }
                rv = auth_apply_role_add(fresh, name);
                for (uint32_t k = 0; k < np && rv == 0; k++) {
                    const uint8_t *t = r_take(b, 1);
                    size_t kl, el;
                    const uint8_t *key = r_blob(b, &kl, AUTH_MAX_KEY_BYTES);
                    const uint8_t *end = r_blob(b, &el, AUTH_MAX_KEY_BYTES);
                    rv = b->bad ? AUTH_ECORRUPT
                                : auth_apply_role_grant(
                                      fresh, name, (enum auth_perm_type)*t,
                                      key, kl, end, el);
                }
                free(name);
            }
            roles_at = b->off;
        }
    }
    if (rv == 0 && (b->bad || roles_at != b->len)) {
        rv = AUTH_ECORRUPT; /* trailing bytes */
    }
    if (rv != 0) {
        return rv == AUTH_ENOMEM ? rv : AUTH_ECORRUPT;
    }
    if (*en == 1 && !auth_is_root(fresh, AUTH_ROOT)) {
        return AUTH_ECORRUPT;
    }
    fresh->enabled = *en == 1;
    fresh->revision = revision;
    return 0;
}

int auth_load(struct auth *a, const uint8_t *in, size_t len)
{
    struct auth *fresh;
    if (in == NULL || auth_create(&fresh) != 0) {
        return in == NULL ? AUTH_ECORRUPT : AUTH_ENOMEM;
    }
    struct rbuf b = {in, len, 0, false};
    int rv = decode(fresh, &b);
    if (rv != 0) {
        auth_destroy(fresh);
        return rv;
    }
    clear(a);
    *a = *fresh;
    free(fresh);
    return 0;
}

int auth_user_cred(const struct auth *a, const char *user,
                   uint8_t cred[AUTH_CRED_BYTES], uint64_t *gen)
{
    const struct user *u = find_user(a, user, NULL);
    if (u == NULL) {
        return AUTH_EUSER_NOT_FOUND;
    }
    if (!u->has_cred) {
        return AUTH_EBADPASS;
    }
    memcpy(cred, u->cred, AUTH_CRED_BYTES);
    *gen = u->gen;
    return 0;
}
