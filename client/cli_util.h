/*
 * cli_util.h - the pieces of metastore-cli that are worth unit-testing on
 * their own: duration and endpoint-list parsing, the etcdctl txn syntax
 * parser, the output printers (-w simple|json|table), and (cli_members.c)
 * member-id parsing and the member command printers.
 *
 * They live in client/ next to the library (so the Makefile's client tests
 * link them) but are not part of the public API (client/metastore.h); only
 * client/cli.c and the tests use them.  Prefix: mscli_.
 */
#ifndef METASTORE_CLIENT_CLI_UTIL_H
#define METASTORE_CLIENT_CLI_UTIL_H

#include "client/metastore.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* ---- flags ---------------------------------------------------------- */

/*
 * Parses a Go-style duration ("2s", "500ms", "1m30s", "1.5s", "250us",
 * "100ns", "1h"; "0" alone is allowed without a unit) into nanoseconds.
 * Returns 0 or MS_EINVAL (empty, negative, no unit, unknown unit, overflow).
 */
int mscli_duration_parse(const char *s, uint64_t *out_ns);

/*
 * Splits a comma-separated endpoint list ("a:1,b:2"; blanks around commas
 * are ignored) into a NULL-terminated array of malloc'ed strings; each
 * element is checked with ms_endpoint_parse().  On error writes a sentence
 * into err and returns MS_EINVAL or MS_ENOMEM.  Free with
 * mscli_endpoints_free().
 */
int mscli_endpoints_parse(const char *list, char ***out, size_t *n, char *err,
                          size_t err_size);
void mscli_endpoints_free(char **eps);

/* ---- txn syntax ----------------------------------------------------- */

/*
 * A transaction read in etcdctl's syntax.  The compares and ops point into
 * strings the struct owns; free everything with mscli_txn_free().
 */
struct mscli_txn {
    struct ms_compare *compares;
    size_t n_compares;
    struct ms_op *success;
    size_t n_success;
    struct ms_op *failure;
    size_t n_failure;
    /* owned allocations (keys, values, range ends) */
    void **allocs;
    size_t n_allocs;
    size_t cap_allocs;
};

void mscli_txn_init(struct mscli_txn *t);
void mscli_txn_free(struct mscli_txn *t);

/*
 * Parses one compare line:  target("key") op "operand"
 *   target: value|val, version|ver, create|c, mod|m, lease
 *   op: = != < >
 *   operand: a quoted string; a decimal integer for every target but value.
 * Quoted strings take Go escapes (\" \\ \n \t \r \xHH).  Appends the compare
 * to t->compares.  Returns 0, or MS_EINVAL with a sentence in err.
 */
int mscli_txn_parse_compare(struct mscli_txn *t, const char *line, char *err,
                            size_t err_size);

/*
 * Parses one request line and appends it to the success (success == true)
 * or failure list:
 *   put KEY VALUE [--prev-kv] [--lease=ID]
 *   get KEY [RANGE_END] [--prefix] [--from-key] [--limit=N] [--rev=N]
 *       [--keys-only] [--count-only] [--consistency=l|s]
 *   del KEY [RANGE_END] [--prefix] [--from-key] [--prev-kv]
 * Arguments are separated by blanks; "quoted strings" take Go escapes.
 * Flags also accept "--flag value".  Returns 0, or MS_EINVAL with err set.
 */
int mscli_txn_parse_op(struct mscli_txn *t, bool success, const char *line,
                       char *err, size_t err_size);

/*
 * Reads a whole transaction from `in` as `etcdctl txn` does: compare lines
 * up to a blank line (or EOF), then success requests up to a blank line,
 * then failure requests up to a blank line or EOF.  When prompt is not NULL
 * (interactive mode) the section titles are written to it first.  Returns
 * 0, or MS_EINVAL with "line N: ..." in err.
 */
int mscli_txn_read(struct mscli_txn *t, FILE *in, FILE *prompt, char *err,
                   size_t err_size);

/*
 * Splits a command line into words: blanks separate, "double quotes" group
 * and take Go escapes.  Returns the count (>= 0) and malloc'ed words in
 * *argv (free each and the array), or MS_EINVAL (unterminated quote, bad
 * escape) / MS_ENOMEM.
 */
int mscli_split_words(const char *line, char ***argv);

/* ---- output --------------------------------------------------------- */

enum mscli_format {
    MSCLI_SIMPLE = 0,
    MSCLI_JSON,
    MSCLI_TABLE,
};

/* "simple" | "json" | "table" -> the format; -1 if unknown. */
int mscli_format_parse(const char *s);

/* Options of `get` that change what is printed. */
struct mscli_get_print {
    bool print_value_only;
    bool count_only;
};

/* Shared by the printers: a JSON string with escapes; etcd's ResponseHeader
 * object ("header":{...}, zero fields omitted); a tablewriter-style table
 * (centred header, right-aligned cells; cells is nrow x ncol strings,
 * row-major; at most 16 columns). */
void mscli_json_string(FILE *out, const char *s);
void mscli_json_header(FILE *out, const struct ms_header *h);
void mscli_table(FILE *out, const char *const *head, size_t ncol,
                 char *const *cells, size_t nrow);

/* Printers.  The JSON shape follows etcd's (docs/cli.md): a header object
 * {cluster_id, member_id, revision, raft_term}, kvs with base64 key and
 * value.  `table` prints the same as `simple` for get/put/del/txn/compaction
 * (as etcdctl does) and a table for endpoint status/health. */
void mscli_print_get(FILE *out, enum mscli_format f, const struct ms_result *r,
                     const struct mscli_get_print *opts);
void mscli_print_put(FILE *out, enum mscli_format f, const struct ms_result *r);
void mscli_print_del(FILE *out, enum mscli_format f, const struct ms_result *r);
void mscli_print_txn(FILE *out, enum mscli_format f, const struct ms_result *r);
void mscli_print_compact(FILE *out, enum mscli_format f,
                         const struct ms_result *r);

/* `watch`: one response's events as etcdctl prints them (simple: "PUT" or
 * "DELETE", then the previous key and value lines with --prev-kv, then the
 * key and value lines; json: Go's encoding of clientv3.WatchResponse, one
 * object per line).  Responses without events print nothing.  Flushes. */
void mscli_print_watch(FILE *out, enum mscli_format f,
                       const struct ms_watch_response *r);

/* One row of `endpoint status`.  Plain `endpoint status` reports endpoints
 * that failed on stderr and gives them no row; `--cluster` also gives each
 * member that did not answer a row with status NULL, its member id and the
 * failure in `error` (shown in the ERRORS column). */
struct mscli_status_row {
    const char *endpoint;
    const struct ms_result *status; /* type MS_RESULT_STATUS, or NULL */
    uint64_t member_id;             /* status NULL: the member's id, 0 = ? */
    const char *error;              /* status NULL: why it failed */
};
void mscli_print_status(FILE *out, enum mscli_format f,
                        const struct mscli_status_row *rows, size_t n);

/* One row of `endpoint health`. */
struct mscli_health_row {
    const char *endpoint;
    bool healthy;
    uint64_t took_ns;
    const char *error; /* "" when healthy */
};
/* Simple format writes healthy lines to out and unhealthy ones to err, as
 * etcdctl does; json and table write everything to out. */
void mscli_print_health(FILE *out, FILE *err, enum mscli_format f,
                        const struct mscli_health_row *rows, size_t n);

/* ---- members (cli_members.c) ------------------------------------------ */

/*
 * Reads a member id typed on the command line.  etcdctl prints ids in hex
 * without a prefix, people type small ids in decimal, so:
 *   "0x1f" / "0X1F"        -> hex only;
 *   digits with a-f in it  -> hex only ("8e9e05c52164694d");
 *   digits only ("12")     -> two candidates: decimal 12 first, hex 0x12
 *                             second (when it fits in 64 bits).
 * Writes the candidates to cand[0..*n) and returns 0, or MS_EINVAL for an
 * empty string, other characters, 0, or a value beyond 64 bits.
 * mscli_id_pick() chooses between two candidates with the member list.
 */
int mscli_id_parse(const char *s, uint64_t cand[2], size_t *n);

/*
 * Chooses the member id among the candidates of mscli_id_parse(): the one
 * that is a member; the first one when none is (the server then answers
 * NOT_FOUND).  MS_EINVAL when both are members (the caller asks for a 0x
 * prefix or a decimal id that is unambiguous).
 */
int mscli_id_pick(const uint64_t *cand, size_t n,
                  const struct ms_member *members, size_t n_members,
                  uint64_t *id);

/* `member list`: simple "id, started, name, peer addrs, client addrs, is
 * learner" lines (ids in hex; "unstarted" for a member without a name), a
 * table with etcdctl's columns, or etcd's JSON shape. */
void mscli_print_member_list(FILE *out, enum mscli_format f,
                             const struct ms_result *r);

/*
 * The --initial-cluster value a member that joins the cluster starts with:
 * "ID:NAME=PEER@CLIENT,..." for every member, decimal ids (metastored's
 * syntax).  0 and a malloc'ed *out, or MS_ENOMEM.
 */
int mscli_initial_cluster(const struct ms_member *members, size_t n,
                          char **out);

/* `member add`: "Member <id> added to cluster <cluster id>" then the
 * metastored command line that starts the new member; JSON: etcd's
 * MemberAddResponse shape. */
void mscli_print_member_add(FILE *out, enum mscli_format f,
                            const struct ms_result *r);

/* `member remove` / `member promote`: "Member <id> removed from cluster
 * <cluster id>" or "Member <id> promoted in cluster <cluster id>" (verb is
 * "removed from" or "promoted in"); JSON: the header and the members. */
void mscli_print_member_change(FILE *out, enum mscli_format f,
                               const struct ms_result *r, const char *verb,
                               uint64_t id);

/* `move-leader`: "Leadership transferred from <from> to <to>" (hex); JSON:
 * the header. */
void mscli_print_move_leader(FILE *out, enum mscli_format f,
                             const struct ms_result *r, uint64_t from,
                             uint64_t to);

/* etcd's humanize.Bytes: SI units, "20 kB", "1.5 MB", "9 B". */
void mscli_human_bytes(uint64_t n, char *buf, size_t size);
/* Go's time.Duration String() for a positive duration: "1.234567ms", "2s",
 * "850µs". */
void mscli_human_duration(uint64_t ns, char *buf, size_t size);
/* Standard base64 (with padding) of [p, p+n) into out; returns 0 or
 * MS_ENOMEM.  *out must be freed. */
int mscli_base64(const void *p, size_t n, char **out);

/* ---- TTL leases (cli_lease.c) ------------------------------------------- */

struct mscli_lease_args {
    const char *endpoints;
    uint64_t dial_ns, command_ns;
    enum mscli_format format;
    bool once; /* keep-alive --once */
    bool keys; /* timetolive --keys */
    const char *user, *password; /* --user (NULL: none), its password */
    const char *const *args; /* "lease", subcommand, its arguments */
    int nargs;
};
/* `lease grant|revoke|keep-alive|timetolive|list`: the exit status, or -1
 * for a usage error (the caller prints the usage). */
int mscli_lease_main(const struct mscli_lease_args *a);
/* A lease id in hex ("694d77aa9e38260f", optional 0x); -1 if malformed. */
int mscli_lease_id_parse(const char *s, int64_t *id);

/* ---- lock (cli_lock.c) ------------------------------------------------- */

struct mscli_lock_args {
    const char *endpoints;
    uint64_t dial_ns, command_ns;
    const char *name;
    int64_t ttl_s;    /* the session lease's TTL */
    const char *user, *password; /* --user (NULL: none), its password */
    char *const *argv; /* the command to run holding the lock (NULL-ended) */
    int argc;          /* 0: print the key and hold until interrupted */
    const struct ms_tls_options *tls; /* NULL: plain TCP */
};
/* `lock NAME [COMMAND...]`: the exit status (the command's when one ran),
 * or -1 for a usage error. */
int mscli_lock_main(const struct mscli_lock_args *a);

/* ---- users, roles, auth (cli_auth.c) ------------------------------------ */

struct mscli_auth_args {
    enum mscli_format format;
    bool prefix, from_key; /* role grant-/revoke-permission */
    bool no_password;      /* user add */
    const char *const *args; /* "user" | "role" | "auth", subcommand, ... */
    int nargs;
};
/* Returned for wrong arguments (the caller prints the usage). */
#define MSCLI_AUTH_USAGE 2
/* Runs a user, role or auth command on c: 0, 1 (printed an error) or
 * MSCLI_AUTH_USAGE. */
int mscli_auth_main(struct ms_client *c, const struct mscli_auth_args *a);
/* Reads a password: from the terminal without echo after printing prompt,
 * or one line of stdin when it is not a terminal.  0 or -1 (end of input). */
int mscli_read_password(const char *prompt, char *buf, size_t cap);

/* ---- errors (cli_util.c) ---------------------------------------------- */

/* Prints "Error: <message>" and a newline on stderr; returns EXIT_FAILURE
 * so that a command can end with `return mscli_fail(...)`. */
int mscli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* METASTORE_CLIENT_CLI_UTIL_H */
