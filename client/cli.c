/*
 * cli.c - metastore-cli, an etcdctl-like command line client.
 *
 *   metastore-cli [global flags] COMMAND [args] [flags]
 *
 * Global flags (anywhere on the line): --endpoints, --dial-timeout,
 * --command-timeout, --cacert, --cert, --key, --insecure-skip-tls-verify,
 * -w/--write-out, -h/--help.  Commands: put, get, del,
 * txn, compaction, endpoint status|health [--cluster], member
 * list|add|remove|promote, move-leader, version, help, and the hidden
 * test-only fault drop-peer|heal-peer|heal-all.
 * docs/cli.md is the reference.  Exit status: 0 on success, 1 when the
 * operation failed (server error, timeout, unreachable endpoint, unhealthy
 * endpoint), 2 for a usage error (unknown flag, wrong arguments), after
 * printing the usage of the command.
 */
#include "client/cli_session.h"
#include "client/cli_util.h"
#include "client/metastore.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXIT_USAGE 2

/* Everything the command line can say. */
struct cli {
    const char *endpoints;
    uint64_t dial_ns;
    uint64_t command_ns;
    enum mscli_format format;
    bool help;
    /* TLS (etcdctl's names); tls_on when any was given */
    const char *cacert, *cert, *key;
    bool insecure_skip_verify, tls_on;
    /* authentication: --user name[:password], --password */
    const char *user, *password;
    bool no_password; /* user add --no-password */
    /* command flags */
    bool prev_kv, prefix, from_key, keys_only, count_only, print_value_only;
    bool interactive, physical;
    bool learner, cluster;
    bool once, keys; /* lease keep-alive --once, lease timetolive --keys */
    int64_t lock_ttl;  /* lock and elect --ttl */
    bool listen;       /* elect -l */
    char **rest;       /* lock: the command after NAME */
    int nrest;
    const char *peer_urls, *client_urls;
    int64_t limit, rev;
    int64_t lease;
    enum ms_consistency consistency;
    enum ms_sort_target sort_target;
    enum ms_sort_order sort_order;
    bool sort_given, order_given;
    /* positional arguments (the command first) */
    const char *args[8];
    int nargs;
};

/* Command bits, to say which flags a command takes. */
enum {
    C_PUT = 1 << 0,
    C_GET = 1 << 1,
    C_DEL = 1 << 2,
    C_TXN = 1 << 3,
    C_COMPACT = 1 << 4,
    C_ENDPOINT = 1 << 5,
    C_VERSION = 1 << 6,
    C_MEMBER = 1 << 7,
    C_MOVE_LEADER = 1 << 8,
    C_FAULT = 1 << 9,
    C_WATCH = 1 << 10,
    C_LEASE = 1 << 11,
    C_LOCK = 1 << 12,
    C_USER = 1 << 13,
    C_ROLE = 1 << 14,
    C_AUTH = 1 << 15,
    C_ELECT = 1 << 16,
};

struct command {
    const char *name;
    unsigned bit;
    int (*run)(struct cli *);
    const char *usage;
    const char *help;
};

static const struct command *find_command(const char *name);

static void usage_global(FILE *out)
{
    fputs("NAME:\n"
          "\tmetastore-cli - a command line client for MetaStore-C\n\n"
          "USAGE:\n"
          "\tmetastore-cli [global flags] COMMAND [args] [flags]\n\n"
          "COMMANDS:\n"
          "\tput\t\t\tPuts the given key into the store\n"
          "\tget\t\t\tGets the key or a range of keys\n"
          "\tdel\t\t\tRemoves the specified key or range of keys\n"
          "\ttxn\t\t\tTxn processes all the requests in one transaction\n"
          "\tcompaction\t\tCompacts the event history in metastored\n"
          "\twatch\t\t\tWatches events stream on keys or prefixes\n"
          "\tendpoint status\t\tPrints out the status of the endpoints\n"
          "\tendpoint health\t\tChecks the healthiness of the endpoints\n"
          "\tmember list\t\tLists all members in the cluster\n"
          "\tmember add\t\tAdds a member into the cluster\n"
          "\tmember remove\t\tRemoves a member from the cluster\n"
          "\tmember promote\t\tPromotes a non-voting member in the "
          "cluster\n"
          "\tmove-leader\t\tTransfers leadership to another member\n"
          "\tlease grant|revoke|keep-alive|timetolive|list\n"
          "\t\t\t\tTTL lease related commands\n"
          "\tlock NAME [COMMAND...]\tAcquires a named lock\n"
          "\tuser add|delete|get|list|passwd|grant-role|revoke-role\n"
          "\t\t\t\tUser related commands\n"
          "\trole add|delete|get|list|grant-permission|revoke-permission\n"
          "\t\t\t\tRole related commands\n"
          "\tauth enable|disable|status\tAuthentication on or off\n"
          "\telect NAME [PROPOSAL]\tObserves and participates in leader "
          "election\n"
          "\tversion\t\t\tPrints the version of metastore-cli\n"
          "\thelp [COMMAND]\t\tHelp about any command\n\n"
          "GLOBAL FLAGS:\n"
          "\t--endpoints=\"127.0.0.1:2379\"\tgRPC-style endpoints, "
          "comma-separated\n"
          "\t--dial-timeout=2s\t\tdial timeout for a client connection\n"
          "\t--command-timeout=5s\t\ttimeout for short running command\n"
          "\t--cacert=\"\"\t\t\tverify the server with this CA bundle "
          "(turns TLS on)\n"
          "\t--cert=\"\"\t\t\tclient certificate for servers that "
          "require one\n"
          "\t--key=\"\"\t\t\tthe client certificate's key\n"
          "\t--insecure-skip-tls-verify\tTLS without checking the server's "
          "certificate\n"
          "\t--user=\"\"\t\t\tusername[:password] for authentication "
          "(asks when\n\t\t\t\tthe password is missing)\n"
          "\t--password=\"\"\t\t\tpassword for --user without :password\n"          "\t-w, --write-out=\"simple\"\tset the output format (simple, json, "
          "table)\n"
          "\t-h, --help\t\t\thelp for metastore-cli or a command\n",
          out);
}

static void usage_command(FILE *out, const struct command *cmd)
{
    fprintf(out, "NAME:\n\t%s - %s\n\nUSAGE:\n\tmetastore-cli %s\n", cmd->name,
            cmd->help, cmd->usage);
    fputs("\nGlobal flags: see `metastore-cli --help`.\n", out);
}

static int usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct command *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    if (cmd != NULL) {
        usage_command(stderr, cmd);
    } else {
        usage_global(stderr);
    }
    return EXIT_USAGE;
}

/* ---- flag parsing ---------------------------------------------------- */

static int parse_int(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *v == '\0' || *end != '\0') {
        return -1;
    }
    *out = (int64_t)x;
    return 0;
}

static int parse_sort_target(const char *v, enum ms_sort_target *t)
{
    static const struct {
        const char *name;
        enum ms_sort_target target;
    } names[] = {{"KEY", MS_SORT_KEY},
                 {"CREATE", MS_SORT_CREATE},
                 {"MODIFY", MS_SORT_MOD},
                 {"VALUE", MS_SORT_VALUE},
                 {"VERSION", MS_SORT_VERSION}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i].name) == 0) {
            *t = names[i].target;
            return 0;
        }
    }
    return -1;
}

/* A flag's value: "--name=value" or the next argument. */
static const char *take_value(const char *arg, const char *eq, int argc,
                              char **argv, int *i)
{
    if (eq != NULL) {
        return eq + 1;
    }
    if (*i + 1 < argc) {
        return argv[++*i];
    }
    (void)arg;
    return NULL;
}

enum flag_id {
    F_ENDPOINTS,
    F_DIAL,
    F_CMDTO,
    F_WRITE,
    F_HELP,
    F_PREV_KV,
    F_PREFIX,
    F_FROM_KEY,
    F_KEYS_ONLY,
    F_COUNT_ONLY,
    F_VALUE_ONLY,
    F_LIMIT,
    F_REV,
    F_CONSISTENCY,
    F_SORT_BY,
    F_ORDER,
    F_INTERACTIVE,
    F_PHYSICAL,
    F_LEASE,
    F_PEER_URLS,
    F_CLIENT_URLS,
    F_LEARNER,
    F_CLUSTER,
    F_CACERT,
    F_CERT,
    F_KEY,
    F_INSECURE_SKIP_VERIFY,
    F_ONCE,
    F_KEYS,
    F_LOCK_TTL,
    F_USER,
    F_PASSWORD,
    F_NO_PASSWORD,
    F_LISTEN,
};

struct flag {
    const char *name; /* long name without dashes */
    char short_name;  /* 0: none */
    bool has_value;
    unsigned commands; /* 0: global */
    enum flag_id id;
};

static const struct flag flags[] = {
    {"endpoints", 0, true, 0, F_ENDPOINTS},
    {"dial-timeout", 0, true, 0, F_DIAL},
    {"command-timeout", 0, true, 0, F_CMDTO},
    {"write-out", 'w', true, 0, F_WRITE},
    {"help", 'h', false, 0, F_HELP},
    {"prev-kv", 0, false, C_PUT | C_DEL | C_WATCH, F_PREV_KV},
    {"prefix", 0, false, C_GET | C_DEL | C_WATCH | C_ROLE, F_PREFIX},
    {"from-key", 0, false, C_GET | C_DEL | C_ROLE, F_FROM_KEY},
    {"keys-only", 0, false, C_GET, F_KEYS_ONLY},
    {"count-only", 0, false, C_GET, F_COUNT_ONLY},
    {"print-value-only", 0, false, C_GET, F_VALUE_ONLY},
    {"limit", 0, true, C_GET, F_LIMIT},
    {"rev", 0, true, C_GET | C_WATCH, F_REV},
    {"consistency", 0, true, C_GET, F_CONSISTENCY},
    {"sort-by", 0, true, C_GET, F_SORT_BY},
    {"order", 0, true, C_GET, F_ORDER},
    {"interactive", 'i', false, C_TXN, F_INTERACTIVE},
    {"physical", 0, false, C_COMPACT, F_PHYSICAL},
    {"lease", 0, true, C_PUT, F_LEASE},
    {"peer-urls", 0, true, C_MEMBER, F_PEER_URLS},
    {"client-urls", 0, true, C_MEMBER, F_CLIENT_URLS},
    {"learner", 0, false, C_MEMBER, F_LEARNER},
    {"cluster", 0, false, C_ENDPOINT, F_CLUSTER},
    {"cacert", 0, true, 0, F_CACERT},
    {"cert", 0, true, 0, F_CERT},
    {"key", 0, true, 0, F_KEY},
    {"insecure-skip-tls-verify", 0, false, 0, F_INSECURE_SKIP_VERIFY},
    {"once", 0, false, C_LEASE, F_ONCE},
    {"keys", 0, false, C_LEASE, F_KEYS},
    {"ttl", 0, true, C_LOCK | C_ELECT, F_LOCK_TTL},
    {"user", 0, true, 0, F_USER},
    {"password", 0, true, 0, F_PASSWORD},
    {"no-password", 0, false, C_USER, F_NO_PASSWORD},
    {"listen", 'l', false, C_ELECT, F_LISTEN},
};

static int set_flag(struct cli *cli, const struct flag *f, const char *v)
{
    switch (f->id) {
    case F_ENDPOINTS:
        cli->endpoints = v;
        return 0;
    case F_DIAL:
        return mscli_duration_parse(v, &cli->dial_ns) ? -1 : 0;
    case F_CMDTO:
        return mscli_duration_parse(v, &cli->command_ns) ? -1 : 0;
    case F_WRITE: {
        int fmt = mscli_format_parse(v);
        cli->format = (enum mscli_format)fmt;
        return fmt < 0 ? -1 : 0;
    }
    case F_HELP:
        cli->help = true;
        return 0;
    case F_PREV_KV:
        cli->prev_kv = true;
        return 0;
    case F_PREFIX:
        cli->prefix = true;
        return 0;
    case F_FROM_KEY:
        cli->from_key = true;
        return 0;
    case F_KEYS_ONLY:
        cli->keys_only = true;
        return 0;
    case F_COUNT_ONLY:
        cli->count_only = true;
        return 0;
    case F_VALUE_ONLY:
        cli->print_value_only = true;
        return 0;
    case F_LIMIT:
        return parse_int(v, &cli->limit) || cli->limit < 0 ? -1 : 0;
    case F_REV:
        return parse_int(v, &cli->rev) || cli->rev < 0 ? -1 : 0;
    case F_CONSISTENCY:
        if (strcmp(v, "l") == 0) {
            cli->consistency = MS_CONSISTENCY_LINEARIZABLE;
        } else if (strcmp(v, "s") == 0) {
            cli->consistency = MS_CONSISTENCY_SERIALIZABLE;
        } else {
            return -1;
        }
        return 0;
    case F_SORT_BY:
        cli->sort_given = true;
        return parse_sort_target(v, &cli->sort_target);
    case F_ORDER:
        cli->order_given = true;
        if (strcasecmp(v, "ASCEND") == 0) {
            cli->sort_order = MS_SORT_ASCEND;
        } else if (strcasecmp(v, "DESCEND") == 0) {
            cli->sort_order = MS_SORT_DESCEND;
        } else {
            return -1;
        }
        return 0;
    case F_INTERACTIVE:
        cli->interactive = true;
        return 0;
    case F_PHYSICAL:
        cli->physical = true;
        return 0;
    case F_LEASE: {
        char *end = NULL;
        errno = 0;
        unsigned long long id = strtoull(v, &end, 16);
        cli->lease = (int64_t)id;
        return errno != 0 || *v == '\0' || *end != '\0' ? -1 : 0;
    }
    case F_PEER_URLS:
        cli->peer_urls = v;
        return 0;
    case F_CLIENT_URLS:
        cli->client_urls = v;
        return 0;
    case F_LEARNER:
        cli->learner = true;
        return 0;
    case F_CLUSTER:
        cli->cluster = true;
        return 0;
    case F_CACERT:
        cli->cacert = v;
        cli->tls_on = true;
        return 0;
    case F_CERT:
        cli->cert = v;
        cli->tls_on = true;
        return 0;
    case F_KEY:
        cli->key = v;
        cli->tls_on = true;
        return 0;
    case F_INSECURE_SKIP_VERIFY:
        cli->insecure_skip_verify = true;
        cli->tls_on = true;
        return 0;
    case F_ONCE:
        cli->once = true;
        return 0;
    case F_KEYS:
        cli->keys = true;
        return 0;
    case F_LOCK_TTL:
        return parse_int(v, &cli->lock_ttl) || cli->lock_ttl <= 0 ? -1 : 0;
    case F_USER:
        cli->user = v;
        return v[0] == '\0' ? -1 : 0;
    case F_PASSWORD:
        cli->password = v;
        return 0;
    case F_NO_PASSWORD:
        cli->no_password = true;
        return 0;
    case F_LISTEN:
        cli->listen = true;
        return 0;
    }
    return -1;
}

static const struct flag *lookup_flag(const char *arg, const char **eq)
{
    *eq = NULL;
    if (arg[1] != '-') { /* -w json, -w=json, -h, -i */
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            if (flags[i].short_name != 0 && arg[1] == flags[i].short_name &&
                (arg[2] == '\0' || arg[2] == '=')) {
                *eq = arg[2] == '=' ? arg + 2 : NULL;
                return &flags[i];
            }
        }
        return NULL;
    }
    const char *name = arg + 2;
    const char *e = strchr(name, '=');
    size_t len = e != NULL ? (size_t)(e - name) : strlen(name);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strlen(flags[i].name) == len &&
            strncmp(flags[i].name, name, len) == 0) {
            *eq = e;
            return &flags[i];
        }
    }
    return NULL;
}

/* Parses argv into cli; the command is cli->args[0].  Returns 0 or the
 * exit status of a usage error. */
static int parse_args(struct cli *cli, int argc, char **argv)
{
    unsigned mask = 0;
    const struct command *cmd = NULL;
    bool only_args = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (cli->nargs == (int)(sizeof(cli->args) / sizeof(cli->args[0]))) {
                return usage_error(cmd, "too many arguments");
            }
            cli->args[cli->nargs++] = a;
            if (cli->nargs == 1 && (cmd = find_command(a)) != NULL) {
                mask = cmd->bit;
            }
            if (cmd != NULL && cmd->bit == C_LOCK && cli->nargs == 2) {
                /* lock NAME COMMAND...: the rest is the command's. */
                cli->rest = argv + i + 1;
                cli->nrest = argc - i - 1;
                if (cli->nrest > 0 && strcmp(cli->rest[0], "--") == 0) {
                    cli->rest++;
                    cli->nrest--;
                }
                break;
            }
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = true;
            continue;
        }
        const char *eq = NULL;
        const struct flag *f = lookup_flag(a, &eq);
        if (f == NULL || (f->commands != 0 && (f->commands & mask) == 0)) {
            return usage_error(cmd, "unknown flag: %s", a);
        }
        const char *v = NULL;
        if (f->has_value) {
            v = take_value(a, eq, argc, argv, &i);
            if (v == NULL) {
                return usage_error(cmd, "flag needs an argument: %s", a);
            }
        } else if (eq != NULL) {
            if (strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0) {
                return usage_error(cmd, "invalid value for %s", a);
            }
            if (strcmp(eq + 1, "false") == 0) {
                continue;
            }
        }
        if (set_flag(cli, f, v) != 0) {
            return usage_error(cmd, "invalid argument \"%s\" for --%s", v,
                               f->name);
        }
    }
    return 0;
}

/* ---- connecting ------------------------------------------------------ */

/* --user name[:password] (etcdctl): the password from the flag, from
 * --password, or asked for.  0, or -1 when none could be read. */
static int credentials(const struct cli *cli, char *name, size_t name_cap,
                       char *pw, size_t pw_cap)
{
    const char *colon = strchr(cli->user, ':');
    snprintf(name, name_cap, "%.*s",
             colon != NULL ? (int)(colon - cli->user) : (int)strlen(cli->user),
             cli->user);
    pw[0] = '\0';
    if (colon != NULL) {
        snprintf(pw, pw_cap, "%s", colon + 1);
    } else if (cli->password != NULL) {
        snprintf(pw, pw_cap, "%s", cli->password);
    } else if (mscli_read_password("Password: ", pw, pw_cap) != 0) {
        return -1;
    }
    return 0;
}

static int open_client(struct cli *cli, char **eps, size_t n,
                       struct ms_client **c)
{
    struct ms_client_options o = {
        .dial_timeout_ms = (uint32_t)((cli->dial_ns + 999999) / 1000000),
        .command_timeout_ms = (uint32_t)((cli->command_ns + 999999) / 1000000),
    };
    struct ms_tls_options tls = {.ca_file = cli->cacert,
                                 .cert_file = cli->cert,
                                 .key_file = cli->key,
                                 .insecure_skip_verify =
                                     cli->insecure_skip_verify};
    if (cli->tls_on) {
        o.tls = &tls; /* any TLS flag turns TLS on */
    }
    char name[256], pw[1024] = "";
    if (cli->user != NULL) {
        if (credentials(cli, name, sizeof(name), pw, sizeof(pw)) != 0) {
            return MS_EINVAL;
        }
        o.user = name;
        o.password = pw;
    }
    int rc = ms_client_create((const char *const *)eps, n, &o, c);
    memset(pw, 0, sizeof(pw));
    if (rc != 0) {
        return rc;
    }
    return 0;
}

/* Connects to the --endpoints list; prints the error on failure. */
static int connect_all(struct cli *cli, struct ms_client **c)
{
    char **eps = NULL;
    size_t n = 0;
    char err[256] = "";
    if (mscli_endpoints_parse(cli->endpoints, &eps, &n, err, sizeof(err))) {
        return mscli_fail("%s", err);
    }
    int rc = open_client(cli, eps, n, c);
    mscli_endpoints_free(eps);
    if (rc != 0) {
        return mscli_fail("%s", ms_strerror(rc));
    }
    return 0;
}

/* Reports a failed call: the server's message or the client's. */
static int call_failed(struct ms_client *c, int rc, struct ms_result *r)
{
    if (r != NULL && r->message[0] != '\0') {
        rc = mscli_fail("%s", r->message);
    } else {
        const char *m = ms_client_errmsg(c);
        rc = mscli_fail("%s", m[0] != '\0' ? m : ms_strerror(rc));
    }
    ms_result_free(r);
    ms_client_close(c);
    return rc;
}

/* ---- commands -------------------------------------------------------- */

static int cmd_put(struct cli *cli)
{
    const struct command *cmd = find_command("put");
    char *stdin_value = NULL;
    size_t vlen = 0;
    if (cli->nargs < 2 || cli->nargs > 3) {
        return usage_error(cmd, "put command needs 1 argument and input from "
                                "stdin or 2 arguments");
    }
    const char *value = cli->args[2];
    if (cli->nargs == 2) { /* etcdctl reads the value from stdin */
        size_t cap = 0;
        ssize_t n = getdelim(&stdin_value, &cap, '\0', stdin);
        if (n < 0) {
            free(stdin_value);
            return usage_error(cmd, "put command needs 1 argument and input "
                                    "from stdin or 2 arguments");
        }
        value = stdin_value;
        vlen = (size_t)n;
    } else {
        vlen = strlen(value);
    }
    struct ms_client *c = NULL;
    int rc = connect_all(cli, &c);
    if (rc != 0) {
        free(stdin_value);
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_put(c, cli->args[1], strlen(cli->args[1]), value, vlen, cli->lease,
                cli->prev_kv, &r);
    free(stdin_value);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    mscli_print_put(stdout, cli->format, r);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int range_options(struct cli *cli, const struct command *cmd,
                         struct ms_range_options *o)
{
    memset(o, 0, sizeof(*o));
    if (cli->nargs < 2 || cli->nargs > 3) {
        return usage_error(cmd,
                           "%s command needs one argument as key and an "
                           "optional argument as range_end",
                           cmd->name);
    }
    if ((cli->prefix || cli->from_key) && cli->nargs == 3) {
        return usage_error(cmd, "too many arguments, only accept one argument "
                                "when `--prefix` or `--from-key` is set");
    }
    if (cli->prefix && cli->from_key) {
        return usage_error(cmd, "`--prefix` and `--from-key` cannot be set "
                                "at the same time, choose one");
    }
    if (cli->nargs == 3) {
        o->range_end = cli->args[2];
        o->range_end_len = strlen(cli->args[2]);
    }
    o->prefix = cli->prefix;
    o->from_key = cli->from_key;
    o->limit = cli->limit;
    o->revision = cli->rev;
    o->keys_only = cli->keys_only;
    o->count_only = cli->count_only;
    o->consistency = cli->consistency;
    if (cli->sort_given || cli->order_given) {
        o->sort_target = cli->sort_target;
        o->sort_order = cli->order_given ? cli->sort_order : MS_SORT_ASCEND;
    }
    return 0;
}

static int cmd_get(struct cli *cli)
{
    struct ms_range_options o;
    int rc = range_options(cli, find_command("get"), &o);
    if (rc != 0) {
        return rc;
    }
    if (cli->keys_only && cli->print_value_only) {
        return usage_error(find_command("get"),
                           "`--keys-only` and `--print-value-only` cannot "
                           "be set at the same time, choose one");
    }
    struct ms_client *c = NULL;
    if ((rc = connect_all(cli, &c)) != 0) {
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_get(c, cli->args[1], strlen(cli->args[1]), &o, &r);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    struct mscli_get_print p = {
        .print_value_only = cli->print_value_only,
        .count_only = cli->count_only,
    };
    mscli_print_get(stdout, cli->format, r, &p);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int cmd_del(struct cli *cli)
{
    struct ms_range_options o;
    int rc = range_options(cli, find_command("del"), &o);
    if (rc != 0) {
        return rc;
    }
    struct ms_client *c = NULL;
    if ((rc = connect_all(cli, &c)) != 0) {
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_delete(c, cli->args[1], strlen(cli->args[1]), &o, cli->prev_kv, &r);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    mscli_print_del(stdout, cli->format, r);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int cmd_txn(struct cli *cli)
{
    if (cli->nargs != 1) {
        return usage_error(find_command("txn"),
                           "txn command does not accept argument");
    }
    struct mscli_txn t;
    mscli_txn_init(&t);
    char err[512] = "";
    int rc = mscli_txn_read(&t, stdin, cli->interactive ? stdout : NULL, err,
                            sizeof(err));
    if (rc != 0) {
        mscli_txn_free(&t);
        return rc == MS_ENOMEM ? mscli_fail("out of memory")
                               : mscli_fail("%s", err);
    }
    struct ms_client *c = NULL;
    if ((rc = connect_all(cli, &c)) != 0) {
        mscli_txn_free(&t);
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_txn(c, t.compares, t.n_compares, t.success, t.n_success, t.failure,
                t.n_failure, &r);
    mscli_txn_free(&t);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    mscli_print_txn(stdout, cli->format, r);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int cmd_compaction(struct cli *cli)
{
    const struct command *cmd = find_command("compaction");
    int64_t rev = 0;
    if (cli->nargs != 2) {
        return usage_error(cmd, "compaction command needs 1 argument");
    }
    if (parse_int(cli->args[1], &rev) != 0 || rev <= 0) {
        return usage_error(cmd, "invalid revision \"%s\"", cli->args[1]);
    }
    struct ms_client *c = NULL;
    int rc = connect_all(cli, &c);
    if (rc != 0) {
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_compact(c, rev, cli->physical, &r);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    mscli_print_compact(stdout, cli->format, r);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

/* The endpoints `endpoint status|health` visit: --endpoints, or with
 * --cluster every member's client address from the member list of the
 * first endpoint that answers.  ids[i] is the member id (0 without
 * --cluster); an empty endpoint is a member without a client address. */
struct targets {
    char **eps;        /* --endpoints (owned) */
    const char **addr; /* what is visited */
    uint64_t *ids;
    size_t n;
    struct ms_result *members; /* --cluster: the list addr points into */
};

static void targets_free(struct targets *t)
{
    mscli_endpoints_free(t->eps);
    free(t->addr);
    free(t->ids);
    ms_result_free(t->members);
}

static int targets_get(struct cli *cli, struct targets *t)
{
    char err[256] = "";
    memset(t, 0, sizeof(*t));
    if (mscli_endpoints_parse(cli->endpoints, &t->eps, &t->n, err,
                              sizeof(err))) {
        return mscli_fail("%s", err);
    }
    struct ms_client *c = NULL;
    if (cli->cluster) {
        int rc = open_client(cli, t->eps, t->n, &c);
        if (rc != 0) {
            return mscli_fail("%s", ms_strerror(rc));
        }
        rc = ms_member_list(c, &t->members);
        if (rc != 0) {
            rc = call_failed(c, rc, t->members);
            t->members = NULL;
            return rc;
        }
        ms_client_close(c);
        t->n = t->members->members.n_members;
    }
    t->addr = calloc(t->n + 1, sizeof(*t->addr));
    t->ids = calloc(t->n + 1, sizeof(*t->ids));
    if (t->addr == NULL || t->ids == NULL) {
        return mscli_fail("out of memory");
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->members != NULL) {
            t->addr[i] = t->members->members.members[i].client_addr;
            t->ids[i] = t->members->members.members[i].id;
        } else {
            t->addr[i] = t->eps[i];
        }
    }
    return 0;
}

/* Opens a client on one target and runs the status or health call. */
static int target_call(struct cli *cli, const char *addr, bool status,
                       struct ms_client **c, struct ms_result **r)
{
    *c = NULL;
    *r = NULL;
    if (addr[0] == '\0') {
        return MS_EINVAL;
    }
    char *ep = (char *)(uintptr_t)addr;
    int rc = open_client(cli, &ep, 1, c);
    if (rc == 0) {
        rc = status ? ms_status(*c, r) : ms_get(*c, "health", 6, NULL, r);
    }
    return rc;
}

/* Why a target failed, into buf. */
static void target_error(const char *addr, int rc, struct ms_client *c,
                         const struct ms_result *r, char *buf, size_t size)
{
    const char *why = ms_strerror(rc);
    if (addr[0] == '\0') {
        why = "the member has no client address";
    } else if (rc == MS_ETIMEDOUT) {
        why = "context deadline exceeded";
    } else if (r != NULL && r->message[0] != '\0') {
        why = r->message;
    } else if (c != NULL && ms_client_errmsg(c)[0] != '\0') {
        why = ms_client_errmsg(c);
    }
    snprintf(buf, size, "%s", why);
}

/* endpoint status: one connection per endpoint, as etcdctl does.  With
 * --cluster a member that does not answer keeps its row, with the error. */
static int endpoint_status(struct cli *cli, const struct targets *t)
{
    struct mscli_status_row *rows = calloc(t->n + 1, sizeof(*rows));
    struct ms_result **res = calloc(t->n + 1, sizeof(*res));
    char(*errs)[256] = calloc(t->n + 1, sizeof(*errs));
    size_t nrows = 0;
    int exit_code = 0;
    for (size_t i = 0; rows && res && errs && i < t->n; i++) {
        struct ms_client *c = NULL;
        struct ms_result *r = NULL;
        int rc = target_call(cli, t->addr[i], true, &c, &r);
        rows[nrows] = (struct mscli_status_row){.endpoint = t->addr[i],
                                                .member_id = t->ids[i]};
        if (rc != 0) {
            target_error(t->addr[i], rc, c, r, errs[i], sizeof(errs[i]));
            fprintf(stderr, "Failed to get the status of endpoint %s (%s)\n",
                    t->addr[i][0] != '\0' ? t->addr[i] : "(none)", errs[i]);
            ms_result_free(r);
            rows[nrows].error = errs[i];
            nrows += t->members != NULL;
            exit_code = EXIT_FAILURE;
        } else {
            res[nrows] = r;
            rows[nrows++].status = r;
        }
        ms_client_close(c);
    }
    if (rows == NULL || res == NULL || errs == NULL) {
        exit_code = mscli_fail("out of memory");
    } else if (nrows > 0) {
        mscli_print_status(stdout, cli->format, rows, nrows);
    }
    for (size_t i = 0; res != NULL && i < nrows; i++) {
        ms_result_free(res[i]);
    }
    free(res);
    free(rows);
    free(errs);
    return exit_code;
}

/* endpoint health: a linearizable get of "health" must be answered, as in
 * etcdctl (which counts a quorum read as "committed proposal"). */
static int endpoint_health(struct cli *cli, const struct targets *t)
{
    struct mscli_health_row *rows = calloc(t->n + 1, sizeof(*rows));
    char(*errs)[256] = calloc(t->n + 1, sizeof(*errs));
    if (rows == NULL || errs == NULL) {
        free(rows);
        free(errs);
        return mscli_fail("out of memory");
    }
    bool all_ok = true;
    for (size_t i = 0; i < t->n; i++) {
        struct ms_client *c = NULL;
        struct ms_result *r = NULL;
        int rc = target_call(cli, t->addr[i], false, &c, &r);
        rows[i].endpoint = t->addr[i][0] != '\0' ? t->addr[i] : "(none)";
        rows[i].healthy = rc == 0;
        rows[i].took_ns = r != NULL ? r->took_ns : 0;
        if (rc != 0) {
            target_error(t->addr[i], rc, c, r, errs[i], sizeof(errs[i]));
            all_ok = false;
        }
        rows[i].error = errs[i];
        ms_result_free(r);
        ms_client_close(c);
    }
    mscli_print_health(stdout, stderr, cli->format, rows, t->n);
    free(rows);
    free(errs);
    if (!all_ok) {
        return mscli_fail("unhealthy cluster");
    }
    return 0;
}

static int cmd_endpoint(struct cli *cli)
{
    const struct command *cmd = find_command("endpoint");
    if (cli->nargs != 2 || (strcmp(cli->args[1], "status") != 0 &&
                            strcmp(cli->args[1], "health") != 0)) {
        return usage_error(cmd, "endpoint needs a subcommand: status or "
                                "health");
    }
    struct targets t;
    int rc = targets_get(cli, &t);
    if (rc == 0) {
        rc = strcmp(cli->args[1], "status") == 0 ? endpoint_status(cli, &t)
                                                 : endpoint_health(cli, &t);
    }
    targets_free(&t);
    return rc;
}

/* ---- membership -------------------------------------------------------- */

/*
 * Settles an id typed as digits only, which reads two ways (cand[0]
 * decimal, cand[1] hex; see mscli_id_parse), with the member list fetched
 * through c.  Returns 0, or the exit status after printing why.
 */
static int pick_member_id(struct ms_client *c, const char *arg,
                          const uint64_t cand[2], size_t n, uint64_t *id)
{
    *id = cand[0];
    if (n == 1) {
        return 0;
    }
    struct ms_result *r = NULL;
    int rc = ms_member_list(c, &r);
    if (rc != 0) {
        ms_result_free(r);
        return mscli_fail("%s", ms_client_errmsg(c)[0] ? ms_client_errmsg(c)
                                                       : ms_strerror(rc));
    }
    rc = mscli_id_pick(cand, n, r->members.members, r->members.n_members, id);
    ms_result_free(r);
    if (rc != 0) {
        return mscli_fail("member ID %s is ambiguous: members %" PRIu64
                          " (decimal) and %" PRIx64 " (hex) both exist; write "
                          "0x%s for hex",
                          arg, cand[0], cand[1], arg);
    }
    return 0;
}

/* Reads the id in args[idx] (hex or decimal), connects and runs one
 * id-taking call.  On success *c and *r are the caller's to free. */
static int run_id_call(struct cli *cli, const struct command *cmd, int idx,
                       int (*call)(struct ms_client *, uint64_t,
                                   struct ms_result **),
                       uint64_t *id, struct ms_result **r, struct ms_client **c)
{
    const char *arg = cli->args[idx];
    uint64_t cand[2];
    size_t n = 0;
    if (mscli_id_parse(arg, cand, &n) != 0) {
        return usage_error(cmd,
                           "bad member ID arg (%s), expecting ID in hex "
                           "or decimal",
                           arg);
    }
    int rc = connect_all(cli, c);
    if (rc == 0 && (rc = pick_member_id(*c, arg, cand, n, id)) != 0) {
        ms_client_close(*c);
    }
    if (rc != 0) {
        return rc;
    }
    rc = call(*c, *id, r);
    if (rc != 0) {
        return call_failed(*c, rc, *r);
    }
    return 0;
}

/* A name metastored accepts in --initial-cluster. */
static bool member_name_ok(const char *s)
{
    return s[0] != '\0' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.") == strlen(s) &&
           strlen(s) < 64;
}

static int member_add(struct cli *cli, const struct command *cmd)
{
    if (cli->nargs != 3) {
        return usage_error(cmd, "member name not provided");
    }
    if (!member_name_ok(cli->args[2])) {
        return usage_error(cmd,
                           "member name \"%s\": use letters, digits, "
                           "'-', '_' and '.'",
                           cli->args[2]);
    }
    if (cli->peer_urls == NULL || cli->peer_urls[0] == '\0') {
        return usage_error(cmd, "member peer urls not provided");
    }
    if (strchr(cli->peer_urls, ',') != NULL ||
        (cli->client_urls != NULL && strchr(cli->client_urls, ',') != NULL)) {
        return usage_error(cmd, "a metastored member has one peer and one "
                                "client address: give one URL each");
    }
    struct ms_client *c = NULL;
    int rc = connect_all(cli, &c);
    if (rc != 0) {
        return rc;
    }
    struct ms_result *r = NULL;
    rc = ms_member_add(c, cli->args[2], cli->peer_urls, cli->client_urls,
                       cli->learner, &r);
    if (rc != 0) {
        return call_failed(c, rc, r);
    }
    if (r->members.added.id == 0) {
        rc = mscli_fail(
            "the server did not say which id the new member has; see "
            "`member list`");
    } else {
        mscli_print_member_add(stdout, cli->format, r);
    }
    ms_result_free(r);
    ms_client_close(c);
    return rc;
}

static int cmd_member(struct cli *cli)
{
    const struct command *cmd = find_command("member");
    const char *sub = cli->nargs > 1 ? cli->args[1] : "";
    bool is_list = strcmp(sub, "list") == 0;
    bool is_remove = strcmp(sub, "remove") == 0;
    bool is_promote = strcmp(sub, "promote") == 0;
    if (strcmp(sub, "add") == 0) {
        return member_add(cli, cmd);
    }
    if (cli->peer_urls || cli->client_urls || cli->learner) {
        return usage_error(cmd, "--peer-urls, --client-urls and --learner "
                                "belong to member add");
    }
    if (is_list) {
        if (cli->nargs != 2) {
            return usage_error(cmd, "member list takes no arguments");
        }
        struct ms_client *c = NULL;
        int rc = connect_all(cli, &c);
        if (rc != 0) {
            return rc;
        }
        struct ms_result *r = NULL;
        if ((rc = ms_member_list(c, &r)) != 0) {
            return call_failed(c, rc, r);
        }
        mscli_print_member_list(stdout, cli->format, r);
        ms_result_free(r);
        ms_client_close(c);
        return 0;
    }
    if (!is_remove && !is_promote) {
        return usage_error(cmd, "member needs a subcommand: list, add, "
                                "remove or promote");
    }
    if (cli->nargs != 3) {
        return usage_error(cmd, "member ID is not provided");
    }
    struct ms_client *c = NULL;
    struct ms_result *r = NULL;
    uint64_t id = 0;
    int rc = run_id_call(cli, cmd, 2,
                         is_remove ? ms_member_remove : ms_member_promote, &id,
                         &r, &c);
    if (rc != 0) {
        return rc;
    }
    mscli_print_member_change(stdout, cli->format, r,
                              is_remove ? "removed from" : "promoted in", id);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int cmd_move_leader(struct cli *cli)
{
    const struct command *cmd = find_command("move-leader");
    if (cli->nargs != 2) {
        return usage_error(cmd, "move-leader command needs 1 argument");
    }
    struct ms_client *c = NULL;
    struct ms_result *r = NULL;
    uint64_t id = 0;
    int rc = run_id_call(cli, cmd, 1, ms_move_leader, &id, &r, &c);
    if (rc != 0) {
        return rc;
    }
    /* The former leader answers: its id is in the header. */
    mscli_print_move_leader(stdout, cli->format, r, r->header.member_id, id);
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int fault_drop(struct ms_client *c, uint64_t id, struct ms_result **r)
{
    return ms_fault(c, MS_FAULT_DROP_PEER, id, r);
}

static int fault_heal(struct ms_client *c, uint64_t id, struct ms_result **r)
{
    return ms_fault(c, MS_FAULT_HEAL_PEER, id, r);
}

/* fault drop-peer ID | heal-peer ID | heal-all: the test-only hook, on the
 * node the client connects to (the first endpoint that answers). */
static int cmd_fault(struct cli *cli)
{
    const struct command *cmd = find_command("fault");
    const char *sub = cli->nargs > 1 ? cli->args[1] : "";
    bool drop = strcmp(sub, "drop-peer") == 0;
    bool heal = strcmp(sub, "heal-peer") == 0;
    struct ms_client *c = NULL;
    struct ms_result *r = NULL;
    uint64_t id = 0;
    int rc;
    if (strcmp(sub, "heal-all") == 0 && cli->nargs == 2) {
        if ((rc = connect_all(cli, &c)) != 0) {
            return rc;
        }
        if ((rc = ms_fault(c, MS_FAULT_HEAL_ALL, 0, &r)) != 0) {
            return call_failed(c, rc, r);
        }
    } else if ((drop || heal) && cli->nargs == 3) {
        rc = run_id_call(cli, cmd, 2, drop ? fault_drop : fault_heal, &id, &r,
                         &c);
        if (rc != 0) {
            return rc;
        }
    } else {
        return usage_error(cmd, "fault needs drop-peer ID, heal-peer ID or "
                                "heal-all");
    }
    if (cli->format == MSCLI_JSON) {
        fputs("{", stdout);
        mscli_json_header(stdout, &r->header);
        fputs("}\n", stdout);
    } else {
        puts("OK");
    }
    ms_result_free(r);
    ms_client_close(c);
    return 0;
}

static int cmd_version(struct cli *cli)
{
    (void)cli;
    printf("metastore-cli version: %s\nAPI version: 1\n", MS_CLIENT_VERSION);
    return 0;
}

static int cmd_help(struct cli *cli)
{
    const struct command *cmd =
        cli->nargs > 1 ? find_command(cli->args[1]) : NULL;
    if (cli->nargs > 1 && cmd == NULL) {
        return usage_error(NULL, "unknown command \"%s\"", cli->args[1]);
    }
    if (cmd != NULL) {
        usage_command(stdout, cmd);
    } else {
        usage_global(stdout);
    }
    return 0;
}

/* ---- watch ----------------------------------------------------------- */

static void on_sigint(int sig)
{
    (void)sig;
    _exit(0); /* every response was flushed as it was printed */
}

static int print_watch_resp(void *arg, const struct ms_watch_response *r)
{
    const struct cli *cli = arg;
    mscli_print_watch(stdout, cli->format, r);
    return 0;
}

static int cmd_watch(struct cli *cli)
{
    const struct command *cmd = find_command("watch");
    if (cli->nargs < 2 || cli->nargs > 3) {
        return usage_error(cmd, "watch command needs one argument as key and "
                                "an optional argument as range_end");
    }
    if (cli->prefix && cli->nargs == 3) {
        return usage_error(cmd, "too many arguments, only accept one argument "
                                "when `--prefix` is set");
    }
    if (cli->args[1][0] == '\0') {
        return usage_error(cmd, "the key must not be empty");
    }
    struct ms_watch_options o = {
        .key = cli->args[1],
        .key_len = strlen(cli->args[1]),
        .prefix = cli->prefix,
        .start_revision = cli->rev,
        .prev_kv = cli->prev_kv,
    };
    if (cli->nargs == 3) {
        o.range_end = cli->args[2];
        o.range_end_len = strlen(cli->args[2]);
    }
    struct ms_client *c = NULL;
    int rc = connect_all(cli, &c);
    if (rc != 0) {
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = ms_watch(c, &o, -1, print_watch_resp, cli);
    if (rc == MS_ECOMPACTED) {
        rc = mscli_fail("watch was canceled (%s)", ms_client_errmsg(c));
    } else if (rc != 0) {
        const char *m = ms_client_errmsg(c);
        rc = mscli_fail("%s", m[0] != '\0' ? m : ms_strerror(rc));
    }
    ms_client_close(c);
    return rc;
}

static int cmd_lease(struct cli *cli)
{
    char name[256], pw[1024] = "";
    if (cli->user != NULL &&
        credentials(cli, name, sizeof(name), pw, sizeof(pw)) != 0) {
        return mscli_fail("no password given");
    }
    struct mscli_lease_args a = {
        .endpoints = cli->endpoints,
        .user = cli->user != NULL ? name : NULL,
        .password = pw,
        .dial_ns = cli->dial_ns,
        .command_ns = cli->command_ns,
        .format = cli->format,
        .once = cli->once,
        .keys = cli->keys,
        .args = cli->args,
        .nargs = cli->nargs,
    };
    int rc = mscli_lease_main(&a);
    memset(pw, 0, sizeof(pw));
    if (rc < 0) {
        return usage_error(find_command("lease"),
                           cli->nargs < 2 ? "lease needs a subcommand"
                                          : "wrong arguments for lease %s",
                           cli->nargs < 2 ? "" : cli->args[1]);
    }
    return rc;
}

static int cmd_auth_family(struct cli *cli)
{
    const struct command *cmd = find_command(cli->args[0]);
    if (cli->nargs < 2) {
        return usage_error(cmd, "%s needs a subcommand", cli->args[0]);
    }
    struct ms_client *c = NULL;
    int rc = connect_all(cli, &c);
    if (rc != 0) {
        return rc;
    }
    struct mscli_auth_args a = {
        .format = cli->format,
        .prefix = cli->prefix,
        .from_key = cli->from_key,
        .no_password = cli->no_password,
        .args = cli->args,
        .nargs = cli->nargs,
    };
    rc = mscli_auth_main(c, &a);
    ms_client_close(c);
    if (rc == MSCLI_AUTH_USAGE) {
        return usage_error(cmd, "wrong arguments for %s %s", cli->args[0],
                           cli->args[1]);
    }
    return rc;
}

static int cmd_lock(struct cli *cli)
{
    char name[256], pw[1024] = "";
    if (cli->user != NULL &&
        credentials(cli, name, sizeof(name), pw, sizeof(pw)) != 0) {
        return mscli_fail("no password given");
    }
    struct mscli_lock_args a = {
        .endpoints = cli->endpoints,
        .user = cli->user != NULL ? name : NULL,
        .password = pw,
        .dial_ns = cli->dial_ns,
        .command_ns = cli->command_ns,
        .name = cli->nargs >= 2 ? cli->args[1] : NULL,
        .ttl_s = cli->lock_ttl > 0 ? cli->lock_ttl : 60,
        .argv = cli->rest,
        .argc = cli->nrest,
    };
    struct ms_tls_options tls = {.ca_file = cli->cacert,
                                 .cert_file = cli->cert,
                                 .key_file = cli->key,
                                 .insecure_skip_verify =
                                     cli->insecure_skip_verify};
    a.tls = cli->tls_on ? &tls : NULL;
    int rc = mscli_lock_main(&a);
    memset(pw, 0, sizeof(pw));
    if (rc < 0) {
        return usage_error(find_command("lock"), "lock needs a name");
    }
    return rc;
}

static int cmd_elect(struct cli *cli)
{
    char name[256] = "", pw[1024] = "";
    if (cli->user != NULL &&
        credentials(cli, name, sizeof(name), pw, sizeof(pw)) != 0) {
        return mscli_fail("no password given");
    }
    struct ms_tls_options tls = {.ca_file = cli->cacert,
                                 .cert_file = cli->cert,
                                 .key_file = cli->key,
                                 .insecure_skip_verify =
                                     cli->insecure_skip_verify};
    struct mscli_elect_args a = {
        .conn = {.endpoints = cli->endpoints,
                 .dial_ns = cli->dial_ns,
                 .command_ns = cli->command_ns,
                 .tls = cli->tls_on ? &tls : NULL,
                 .user = cli->user != NULL ? name : NULL,
                 .password = pw},
        .name = cli->nargs >= 2 ? cli->args[1] : NULL,
        .proposal = cli->nargs >= 3 ? cli->args[2] : NULL,
        .listen = cli->listen,
        .ttl_s = cli->lock_ttl > 0 ? cli->lock_ttl : 60,
    };
    int rc = cli->nargs <= 3 ? mscli_elect_main(&a) : -1;
    memset(pw, 0, sizeof(pw));
    if (rc < 0) {
        return usage_error(find_command("elect"),
                           cli->listen ? "elect -l needs a name (and no "
                                         "proposal)"
                                       : "elect needs a name and a proposal "
                                         "(or -l to listen)");
    }
    return rc;
}

static const struct command commands[] = {
    {"put", C_PUT, cmd_put,
     "put [options] <key> <value>  (<value> can also be given from stdin)\n"
     "\n\t--prev-kv\treturn the previous key-value pair before modification\n"
     "\t--lease=ID\tlease ID (in hexadecimal) to attach to the key",
     "Puts the given key into the store"},
    {"get", C_GET, cmd_get,
     "get [options] <key> [range_end]\n"
     "\n\t--prefix\t\tget keys with matching prefix\n"
     "\t--from-key\t\tget keys that are greater than or equal to the key\n"
     "\t--limit=N\t\tmaximum number of results\n"
     "\t--rev=N\t\t\trevision to read at (0 = latest)\n"
     "\t--keys-only\t\tget only the keys\n"
     "\t--count-only\t\tget only the count\n"
     "\t--print-value-only\tonly write values when using the simple format\n"
     "\t--consistency=l|s\tlinearizable (l, default) or serializable (s)\n"
     "\t--sort-by=TARGET\tCREATE, KEY, MODIFY, VALUE or VERSION\n"
     "\t--order=ORDER\t\tASCEND or DESCEND (ASCEND if only --sort-by)",
     "Gets the key or a range of keys"},
    {"del", C_DEL, cmd_del,
     "del [options] <key> [range_end]\n"
     "\n\t--prefix\tdelete keys with matching prefix\n"
     "\t--from-key\tdelete keys that are greater than or equal to the key\n"
     "\t--prev-kv\treturn deleted key-value pairs",
     "Removes the specified key or range of keys [key, range_end)"},
    {"txn", C_TXN, cmd_txn,
     "txn [options]  (reads the transaction from stdin)\n"
     "\n\t-i, --interactive\tinput transaction in interactive mode\n"
     "\nSyntax (etcdctl's): compare lines such as\n"
     "\tvalue(\"k\") = \"v\"   version(\"k\") = \"0\"   mod(\"k\") > \"5\"  "
     " create(\"k\") < \"3\"\n"
     "then a blank line, success requests (put k v / get k / del k), a "
     "blank\nline, failure requests.",
     "Txn processes all the requests in one transaction"},
    {"compaction", C_COMPACT, cmd_compaction,
     "compaction [options] <revision>\n"
     "\n\t--physical\twait for the compaction to physically remove entries",
     "Compacts the event history in metastored"},
    {"endpoint", C_ENDPOINT, cmd_endpoint,
     "endpoint status|health [--cluster]\n"
     "\n\tstatus\t\tprints the status of each endpoint in --endpoints\n"
     "\thealth\t\tchecks the health of each endpoint (exit 1 if one is "
     "unhealthy)\n"
     "\t--cluster\tvisit every member of the cluster (from the member "
     "list)\n\t\t\tinstead of --endpoints",
     "Endpoint related commands"},
    {"member", C_MEMBER, cmd_member,
     "member list | add NAME --peer-urls=ADDR [--client-urls=ADDR] "
     "[--learner] | remove ID | promote ID\n"
     "\n\tlist\t\tlists the members (id, status, name, peer addrs, client "
     "addrs, is learner)\n"
     "\tadd\t\tadds a member and prints how to start it with metastored\n"
     "\tremove\t\tremoves a member\n"
     "\tpromote\t\tmakes a learner a voting member\n"
     "\t--peer-urls=ADDR\tthe new member's peer address host:port\n"
     "\t--client-urls=ADDR\tthe new member's client address host:port\n"
     "\t--learner\t\tadd the member as a non-voting learner\n"
     "\nIDs are hex (as printed) or decimal; write 0x... to force hex.",
     "Membership related commands"},
    {"move-leader", C_MOVE_LEADER, cmd_move_leader,
     "move-leader ID  (hex or decimal member id)",
     "Transfers leadership to another member"},
    {"fault", C_FAULT, cmd_fault,
     "fault drop-peer ID | heal-peer ID | heal-all\n"
     "\nTest-only: drops or heals traffic between the node at --endpoints "
     "(give one)\nand a peer.  The server refuses it unless "
     "server.enable_fault_hook is true.",
     "Test-only fault injection on one node"},
    {"watch", C_WATCH, cmd_watch,
     "watch [options] <key> [range_end]\n"
     "\n\t--prefix\twatch on a prefix if prefix is set\n"
     "\t--rev=N\t\tRevision to start watching (0 = from now)\n"
     "\t--prev-kv\tget the previous key-value pair before the event "
     "happens\n"
     "\nPrints each event as etcdctl does (PUT or DELETE, then the key and "
     "value\nlines; with --prev-kv the previous key and value first) until "
     "interrupted\n(SIGINT exits 0).  -w json prints one JSON object per "
     "response.  When the\nconnection breaks the watch resumes on any "
     "endpoint without missing or\nrepeating an event.",
     "Watches events stream on keys or prefixes"},
    {"lease", C_LEASE, cmd_lease,
     "lease grant TTL | revoke ID | keep-alive [--once] ID | timetolive ID "
     "[--keys] | list\n"
     "\n\tgrant TTL\tcreates a lease of TTL seconds; prints its ID (hex)\n"
     "\trevoke ID\trevokes the lease and deletes every key attached to it\n"
     "\tkeep-alive ID\trenews the lease every TTL/3 until interrupted\n"
     "\t--once\t\trenew once and exit\n"
     "\ttimetolive ID\tprints the granted and the remaining TTL\n"
     "\t--keys\t\talso print the keys attached to the lease\n"
     "\tlist\t\tlists every lease\n"
     "\nAttach keys with `put --lease=ID KEY VALUE`; they are deleted when the "
     "lease\nis revoked or expires (no keep-alive reached the leader for a "
     "whole TTL).",
     "Lease (TTL) related commands"},
    {"lock", C_LOCK, cmd_lock,
     "lock [--ttl=SECONDS] NAME [COMMAND [ARGS...]]\n"
     "\n\t--ttl=SECONDS\tTTL of the lease that holds the lock (default 60)\n"
     "\nWaits for the lock NAME (etcdctl's algorithm: a lease, the key "
     "NAME/<lease id>,\nand the lowest create revision wins; a waiter "
     "watches the key ahead of it).\nWith COMMAND, runs it holding the lock "
     "(environment ETCD_LOCK_KEY, ETCD_LOCK_REV,\nMETASTORE_LOCK_KEY, "
     "METASTORE_LOCK_REV) and exits with its status; without,\nprints the "
     "key and holds the lock until interrupted.  If the lock is lost (its\n"
     "lease expired or was revoked) says so, stops COMMAND and exits 1.  "
     "Flags go\nbefore NAME; everything after NAME is the command.",
     "Acquires a named lock"},
    {"user", C_USER, cmd_auth_family,
     "user add NAME[:PASSWORD] [--no-password] | delete NAME | get NAME | "
     "list |\n\tpasswd NAME | grant-role NAME ROLE | revoke-role NAME ROLE\n"
     "\nA password not on the command line is asked for (or read as one line "
     "of stdin).",
     "User related commands"},
    {"role", C_ROLE, cmd_auth_family,
     "role add NAME | delete NAME | get NAME | list |\n"
     "\tgrant-permission [--prefix|--from-key] ROLE read|write|readwrite KEY "
     "[RANGE_END] |\n"
     "\trevoke-permission [--prefix|--from-key] ROLE KEY [RANGE_END]\n"
     "\n\t--prefix\tthe permission covers every key starting with KEY\n"
     "\t--from-key\tthe permission covers every key >= KEY",
     "Role related commands"},
    {"auth", C_AUTH, cmd_auth_family, "auth enable | disable | status",
     "Enable or disable authentication"},
    {"elect", C_ELECT, cmd_elect,
     "elect [--ttl=SECONDS] NAME PROPOSAL | elect -l NAME\n"
     "\n\t--ttl=SECONDS\tTTL of the campaign's lease (default 60)\n"
     "\t-l, --listen\tprint each new leader (key, then proposal) as "
     "leadership\n\t\t\tchanges, until interrupted\n"
     "\nCampaigns for leadership of NAME with PROPOSAL (etcdctl's algorithm: "
     "a lease,\nthe key NAME/<lease id> = PROPOSAL, and the lowest create "
     "revision leads).\nWhen elected prints the key and the proposal and "
     "holds leadership until\ninterrupted (SIGINT/SIGTERM), then resigns: "
     "the next candidate leads at once.\nA leader that dies without "
     "resigning is replaced once its lease expires\n(--ttl).  Exit 1 if the "
     "lease is lost (leadership with it).",
     "Observes and participates in leader election"},
    {"version", C_VERSION, cmd_version, "version",
     "Prints the version of metastore-cli"},
    {"help", 0, cmd_help, "help [command]", "Help about any command"},
};

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    if (strcmp(name, "delete") == 0) {
        return find_command("del");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct cli cli = {
        .endpoints = "127.0.0.1:2379",
        .dial_ns = 2000000000ull,
        .command_ns = 5000000000ull,
        .format = MSCLI_SIMPLE,
    };
    int rc = parse_args(&cli, argc, argv);
    if (rc != 0) {
        return rc;
    }
    if (cli.nargs == 0) {
        usage_global(cli.help ? stdout : stderr);
        return cli.help ? 0 : EXIT_USAGE;
    }
    const struct command *cmd = find_command(cli.args[0]);
    if (cmd == NULL) {
        return usage_error(NULL, "unknown command \"%s\" for \"metastore-cli\"",
                           cli.args[0]);
    }
    if (cli.help) {
        usage_command(stdout, cmd);
        return 0;
    }
    if (cli.dial_ns == 0 || cli.command_ns == 0) {
        return usage_error(cmd, "timeouts must be positive");
    }
    return cmd->run(&cli);
}
