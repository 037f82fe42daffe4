/*
 * cli_auth.c - metastore-cli's `user`, `role` and `auth` commands, with
 * etcdctl v3's syntax and output:
 *
 *   user add NAME[:PASSWORD] [--no-password] | delete NAME | get NAME |
 *        list | passwd NAME | grant-role NAME ROLE | revoke-role NAME ROLE
 *   role add NAME | delete NAME | get NAME | list |
 *        grant-permission [--prefix|--from-key] ROLE read|write|readwrite
 *                         KEY [RANGE_END] |
 *        revoke-permission [--prefix|--from-key] ROLE KEY [RANGE_END]
 *   auth enable | disable | status
 *
 * A password not given on the command line is asked for on the terminal
 * (without echo) or, when stdin is not a terminal, read as one line from
 * stdin (for scripts).  Errors print "Error: <server message>" and exit 1;
 * wrong arguments exit 2 (the caller prints the usage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "client/cli_util.h"

int mscli_read_password(const char *prompt, char *buf, size_t cap)
{
    bool tty = isatty(STDIN_FILENO) == 1;
    struct termios old, quiet;
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *got = fgets(buf, (int)cap, stdin);
    if (tty) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (got == NULL) {
        buf[0] = 0;
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int fail(struct ms_client *c, int rc)
{
    const char *m = ms_client_errmsg(c);
    fprintf(stderr, "Error: %s\n", m[0] != '\0' ? m : ms_strerror(rc));
    return EXIT_FAILURE;
}

static void print_names(FILE *out, enum mscli_format f, const char *field,
                        char **v, size_t n)
{
    if (f == MSCLI_JSON) {
        fprintf(out, "{\"%s\":[", field);
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                fputc(',', out);
            }
            mscli_json_string(out, v[i]);
        }
        fputs("]}\n", out);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s\n", v[i]);
    }
}

/* ---- user ------------------------------------------------------------------------- */

static int user_add(struct ms_client *c, const struct mscli_auth_args *a)
{
    char name[256], pw[1024] = "";
    const char *arg = a->args[2];
    const char *colon = strchr(arg, ':');
    if (colon != NULL) {
        snprintf(name, sizeof name, "%.*s", (int)(colon - arg), arg);
        snprintf(pw, sizeof pw, "%s", colon + 1);
    } else {
        snprintf(name, sizeof name, "%s", arg);
        if (!a->no_password) {
            char prompt[300];
            snprintf(prompt, sizeof prompt, "Password of %s: ", name);
            if (mscli_read_password(prompt, pw, sizeof pw) != 0) {
                fprintf(stderr, "Error: no password given\n");
                return EXIT_FAILURE;
            }
        }
    }
    int rc = ms_user_add(c, name, pw, a->no_password);
    memset(pw, 0, sizeof pw);
    if (rc != 0) {
        return fail(c, rc);
    }
    printf("User %s created\n", name);
    return 0;
}

static int user_get(struct ms_client *c, const struct mscli_auth_args *a)
{
    char **roles;
    size_t n;
    int rc = ms_user_get(c, a->args[2], &roles, &n);
    if (rc != 0) {
        return fail(c, rc);
    }
    if (a->format == MSCLI_JSON) {
        print_names(stdout, a->format, "roles", roles, n);
    } else {
        printf("User: %s\nRoles:", a->args[2]);
        for (size_t i = 0; i < n; i++) {
            printf(" %s", roles[i]);
        }
        printf("\n");
    }
    ms_strings_free(roles, n);
    return 0;
}

static int user_passwd(struct ms_client *c, const struct mscli_auth_args *a)
{
    char pw[1024], prompt[300];
    snprintf(prompt, sizeof prompt, "Password of %s: ", a->args[2]);
    if (mscli_read_password(prompt, pw, sizeof pw) != 0 || pw[0] == 0) {
        fprintf(stderr, "Error: no password given\n");
        return EXIT_FAILURE;
    }
    int rc = ms_user_change_password(c, a->args[2], pw);
    memset(pw, 0, sizeof pw);
    if (rc != 0) {
        return fail(c, rc);
    }
    printf("Password updated\n");
    return 0;
}

static int cmd_user(struct ms_client *c, const struct mscli_auth_args *a)
{
    const char *sub = a->args[1];
    int n = a->nargs;
    int rc;
    if (strcmp(sub, "add") == 0 && n == 3) {
        return user_add(c, a);
    }
    if (strcmp(sub, "delete") == 0 && n == 3) {
        if ((rc = ms_user_delete(c, a->args[2])) != 0) {
            return fail(c, rc);
        }
        printf("User %s deleted\n", a->args[2]);
        return 0;
    }
    if (strcmp(sub, "get") == 0 && n == 3) {
        return user_get(c, a);
    }
    if (strcmp(sub, "list") == 0 && n == 2) {
        char **v;
        size_t k;
        if ((rc = ms_user_list(c, &v, &k)) != 0) {
            return fail(c, rc);
        }
        print_names(stdout, a->format, "users", v, k);
        ms_strings_free(v, k);
        return 0;
    }
    if (strcmp(sub, "passwd") == 0 && n == 3) {
        return user_passwd(c, a);
    }
    if (strcmp(sub, "grant-role") == 0 && n == 4) {
        if ((rc = ms_user_grant_role(c, a->args[2], a->args[3])) != 0) {
            return fail(c, rc);
        }
        printf("Role %s is granted to user %s\n", a->args[3], a->args[2]);
        return 0;
    }
    if (strcmp(sub, "revoke-role") == 0 && n == 4) {
        if ((rc = ms_user_revoke_role(c, a->args[2], a->args[3])) != 0) {
            return fail(c, rc);
        }
        printf("Role %s is revoked from user %s\n", a->args[3], a->args[2]);
        return 0;
    }
    return MSCLI_AUTH_USAGE;
}

/* ---- role ------------------------------------------------------------------------- */

/* Key and range end from the arguments and --prefix / --from-key.  *end is
 * malloc'd for a prefix (free it), else points into args. */
static int perm_range(const struct mscli_auth_args *a, int at,
                      const char **end, size_t *end_len, uint8_t **owned)
{
    const char *key = a->args[at];
    *owned = NULL;
    *end = NULL;
    *end_len = 0;
    bool has_end = a->nargs == at + 2;
    if ((a->prefix || a->from_key) && has_end) {
        return -1; /* etcdctl: range_end with --prefix makes no sense */
    }
    if (a->prefix) {
        if (ms_prefix_range_end(key, strlen(key), owned, end_len) != 0) {
            return -1;
        }
        *end = (const char *)*owned;
    } else if (a->from_key) {
        *end = "";
        *end_len = 1; /* "\0": every key >= key */
    } else if (has_end) {
        *end = a->args[at + 1];
        *end_len = strlen(*end);
    }
    return 0;
}

static void print_range(const struct ms_permission *p)
{
    if (p->range_end_len == 0) {
        printf("\t%.*s\n", (int)p->key_len, (const char *)p->key);
    } else if (p->range_end_len == 1 && p->range_end[0] == 0) {
        printf("\t[%.*s, <open ended>\n", (int)p->key_len,
               (const char *)p->key);
    } else {
        uint8_t *pe = NULL;
        size_t pe_len = 0;
        bool prefix =
            ms_prefix_range_end(p->key, p->key_len, &pe, &pe_len) == 0 &&
            pe_len == p->range_end_len &&
            memcmp(pe, p->range_end, pe_len) == 0;
        free(pe);
        printf("\t[%.*s, %.*s)%s%.*s%s\n", (int)p->key_len,
               (const char *)p->key, (int)p->range_end_len,
               (const char *)p->range_end, prefix ? " (prefix " : "",
               prefix ? (int)p->key_len : 0, prefix ? (const char *)p->key : "",
               prefix ? ")" : "");
    }
}

static int role_get(struct ms_client *c, const struct mscli_auth_args *a)
{
    struct ms_permission *p;
    size_t n;
    int rc = ms_role_get(c, a->args[2], &p, &n);
    if (rc != 0) {
        return fail(c, rc);
    }
    printf("Role %s\n", a->args[2]);
    printf("KV Read:\n");
    for (size_t i = 0; i < n; i++) {
        if (p[i].type == MS_PERM_READ || p[i].type == MS_PERM_READWRITE) {
            print_range(&p[i]);
        }
    }
    printf("KV Write:\n");
    for (size_t i = 0; i < n; i++) {
        if (p[i].type == MS_PERM_WRITE || p[i].type == MS_PERM_READWRITE) {
            print_range(&p[i]);
        }
    }
    ms_permissions_free(p, n);
    return 0;
}

static int role_perm(struct ms_client *c, const struct mscli_auth_args *a,
                     bool grant)
{
    int key_at = grant ? 4 : 3;
    enum ms_perm_type t = MS_PERM_READ;
    if (grant) {
        const char *ty = a->args[3];
        if (strcasecmp(ty, "read") == 0) {
            t = MS_PERM_READ;
        } else if (strcasecmp(ty, "write") == 0) {
            t = MS_PERM_WRITE;
        } else if (strcasecmp(ty, "readwrite") == 0) {
            t = MS_PERM_READWRITE;
        } else {
            fprintf(stderr, "Error: invalid permission type %s (read, write "
                            "or readwrite)\n",
                    ty);
            return EXIT_FAILURE;
        }
    }
    const char *end;
    size_t end_len;
    uint8_t *owned;
    if (perm_range(a, key_at, &end, &end_len, &owned) != 0) {
        return MSCLI_AUTH_USAGE;
    }
    const char *key = a->args[key_at];
    int rc = grant ? ms_role_grant_permission(c, a->args[2], t, key,
                                              strlen(key), end, end_len)
                   : ms_role_revoke_permission(c, a->args[2], key, strlen(key),
                                               end, end_len);
    if (rc != 0) {
        free(owned);
        return fail(c, rc);
    }
    if (grant) {
        printf("Role %s updated\n", a->args[2]);
    } else if (end_len == 0) {
        printf("Permission of key %s is revoked from role %s\n", key,
               a->args[2]);
    } else if (end_len == 1 && end[0] == 0) {
        printf("Permission of range [%s, <open ended> is revoked from role "
               "%s\n",
               key, a->args[2]);
    } else {
        printf("Permission of range [%s, %.*s) is revoked from role %s\n", key,
               (int)end_len, end, a->args[2]);
    }
    free(owned);
    return 0;
}

static int cmd_role(struct ms_client *c, const struct mscli_auth_args *a)
{
    const char *sub = a->args[1];
    int n = a->nargs;
    int rc;
    if (strcmp(sub, "add") == 0 && n == 3) {
        if ((rc = ms_role_add(c, a->args[2])) != 0) {
            return fail(c, rc);
        }
        printf("Role %s created\n", a->args[2]);
        return 0;
    }
    if (strcmp(sub, "delete") == 0 && n == 3) {
        if ((rc = ms_role_delete(c, a->args[2])) != 0) {
            return fail(c, rc);
        }
        printf("Role %s deleted\n", a->args[2]);
        return 0;
    }
    if (strcmp(sub, "get") == 0 && n == 3) {
        return role_get(c, a);
    }
    if (strcmp(sub, "list") == 0 && n == 2) {
        char **v;
        size_t k;
        if ((rc = ms_role_list(c, &v, &k)) != 0) {
            return fail(c, rc);
        }
        print_names(stdout, a->format, "roles", v, k);
        ms_strings_free(v, k);
        return 0;
    }
    if (strcmp(sub, "grant-permission") == 0 && (n == 5 || n == 6)) {
        return role_perm(c, a, true);
    }
    if (strcmp(sub, "revoke-permission") == 0 && (n == 4 || n == 5)) {
        return role_perm(c, a, false);
    }
    return MSCLI_AUTH_USAGE;
}

/* ---- auth ------------------------------------------------------------------------- */

static int cmd_auth(struct ms_client *c, const struct mscli_auth_args *a)
{
    const char *sub = a->args[1];
    int rc;
    if (a->nargs != 2) {
        return MSCLI_AUTH_USAGE;
    }
    if (strcmp(sub, "enable") == 0) {
        if ((rc = ms_auth_enable(c)) != 0) {
            return fail(c, rc);
        }
        printf("Authentication Enabled\n");
        return 0;
    }
    if (strcmp(sub, "disable") == 0) {
        if ((rc = ms_auth_disable(c)) != 0) {
            return fail(c, rc);
        }
        printf("Authentication Disabled\n");
        return 0;
    }
    if (strcmp(sub, "status") == 0) {
        bool on = false;
        uint64_t rev = 0;
        if ((rc = ms_auth_status(c, &on, &rev)) != 0) {
            return fail(c, rc);
        }
        if (a->format == MSCLI_JSON) {
            printf("{\"enabled\":%s,\"authRevision\":%llu}\n",
                   on ? "true" : "false", (unsigned long long)rev);
        } else {
            printf("Authentication Status: %s\nAuthRevision: %llu\n",
                   on ? "true" : "false", (unsigned long long)rev);
        }
        return 0;
    }
    return MSCLI_AUTH_USAGE;
}

int mscli_auth_main(struct ms_client *c, const struct mscli_auth_args *a)
{
    if (a->nargs < 2) {
        return MSCLI_AUTH_USAGE;
    }
    if (strcmp(a->args[0], "user") == 0) {
        return cmd_user(c, a);
    }
    if (strcmp(a->args[0], "role") == 0) {
        return cmd_role(c, a);
    }
    return cmd_auth(c, a);
}
