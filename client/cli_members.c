/*
 * cli_members.c - metastore-cli's membership pieces that are worth testing on
 * their own: reading member ids typed in hex or decimal, and the printers of
 * `member list|add|remove|promote` and `move-leader` in etcdctl's words.
 *
 * etcdctl prints member ids in hex and parses them in hex only; people who
 * start metastored with --node-id 1,2,3 type them in decimal.  An id made of
 * decimal digits only is therefore ambiguous, and mscli_id_pick() settles it
 * with the member list: the reading that names a member wins.
 * The printers never fail halfway on bad input: a missing string prints as
 * empty, an allocation failure prints nothing for that part.
 */
#include "client/cli_util.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int mscli_id_parse(const char *s, uint64_t cand[2], size_t *n)
{
    *n = 0;
    if (s == NULL) {
        return MS_EINVAL;
    }
    bool hex_only = false;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        hex_only = true;
    }
    if (*s == '\0') {
        return MS_EINVAL;
    }
    uint64_t dec = 0, hex = 0;
    bool dec_ok = true, hex_ok = true;
    for (const char *p = s; *p != '\0'; p++) {
        int d = hex_digit(*p);
        if (d < 0) {
            return MS_EINVAL;
        }
        if (d >= 10) {
            hex_only = true;
        }
        if (hex > (UINT64_MAX >> 4)) {
            hex_ok = false;
        }
        hex = (hex << 4) | (uint64_t)d;
        if (d < 10 && dec_ok) {
            if (dec > (UINT64_MAX - (uint64_t)d) / 10) {
                dec_ok = false;
            }
            dec = dec * 10 + (uint64_t)d;
        }
    }
    if (!hex_only && dec_ok && dec != 0) {
        cand[(*n)++] = dec;
    }
    if (hex_ok && hex != 0 && (*n == 0 || hex != dec)) {
        cand[(*n)++] = hex;
    }
    return *n > 0 ? 0 : MS_EINVAL;
}

static bool is_member(uint64_t id, const struct ms_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].id == id) {
            return true;
        }
    }
    return false;
}

int mscli_id_pick(const uint64_t *cand, size_t n,
                  const struct ms_member *members, size_t n_members,
                  uint64_t *id)
{
    if (n == 0) {
        return MS_EINVAL;
    }
    size_t hits = 0;
    *id = cand[0];
    for (size_t i = 0; i < n; i++) {
        if (is_member(cand[i], members, n_members)) {
            if (hits++ == 0) {
                *id = cand[i];
            }
        }
    }
    return hits > 1 ? MS_EINVAL : 0;
}

/* ---- member list ---------------------------------------------------- */

#define MEMBER_COLS 6

/* The six etcdctl cells of one member (malloc'ed, NULL on no memory). */
static void member_cells(const struct ms_member *m, char **cell)
{
    char id[24];
    snprintf(id, sizeof(id), "%" PRIx64, m->id);
    cell[0] = strdup(id);
    cell[1] = strdup(m->name[0] != '\0' ? "started" : "unstarted");
    cell[2] = strdup(m->name);
    cell[3] = strdup(m->peer_addr);
    cell[4] = strdup(m->client_addr);
    cell[5] = strdup(m->is_learner ? "true" : "false");
}

/* An array of one URL, or nothing for an empty address (Go's omitempty). */
static void json_addrs(FILE *out, const char *name, const char *addr)
{
    if (addr[0] == '\0') {
        return;
    }
    fprintf(out, ",\"%s\":[", name);
    mscli_json_string(out, addr);
    fputc(']', out);
}

/* etcd's Member: {"ID":N,"name":..,"peerURLs":[..],"clientURLs":[..],
 * "isLearner":true}, zero fields left out. */
static void json_member(FILE *out, const struct ms_member *m)
{
    fprintf(out, "{\"ID\":%" PRIu64, m->id);
    if (m->name[0] != '\0') {
        fputs(",\"name\":", out);
        mscli_json_string(out, m->name);
    }
    json_addrs(out, "peerURLs", m->peer_addr);
    json_addrs(out, "clientURLs", m->client_addr);
    if (m->is_learner) {
        fputs(",\"isLearner\":true", out);
    }
    fputc('}', out);
}

static void json_members(FILE *out, const struct ms_members_result *mr)
{
    if (mr->n_members == 0) {
        return;
    }
    fputs(",\"members\":[", out);
    for (size_t i = 0; i < mr->n_members; i++) {
        if (i > 0) {
            fputc(',', out);
        }
        json_member(out, &mr->members[i]);
    }
    fputc(']', out);
}

void mscli_print_member_list(FILE *out, enum mscli_format f,
                             const struct ms_result *r)
{
    static const char *head[MEMBER_COLS] = {
        "ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"};
    const struct ms_members_result *mr = &r->members;
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        json_members(out, mr);
        fputs("}\n", out);
        return;
    }
    size_t n = mr->n_members;
    char **cells = calloc(n * MEMBER_COLS + 1, sizeof(*cells));
    if (cells == NULL) {
        return;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        member_cells(&mr->members[i], cells + i * MEMBER_COLS);
    }
    for (size_t i = 0; i < n * MEMBER_COLS; i++) {
        ok = ok && cells[i] != NULL;
    }
    if (ok && f == MSCLI_TABLE) {
        mscli_table(out, head, MEMBER_COLS, cells, n);
    } else if (ok) {
        for (size_t i = 0; i < n; i++) {
            for (size_t c = 0; c < MEMBER_COLS; c++) {
                fprintf(out, "%s%s", c ? ", " : "", cells[i * MEMBER_COLS + c]);
            }
            fputc('\n', out);
        }
    }
    for (size_t i = 0; i < n * MEMBER_COLS; i++) {
        free(cells[i]);
    }
    free(cells);
}

/* ---- member add ------------------------------------------------------ */

int mscli_initial_cluster(const struct ms_member *members, size_t n, char **out)
{
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) {
        cap += 24 + strlen(members[i].name) + strlen(members[i].peer_addr) +
               strlen(members[i].client_addr) + 4;
    }
    char *s = malloc(cap);
    if (s == NULL) {
        return MS_ENOMEM;
    }
    size_t len = 0;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct ms_member *m = &members[i];
        int w =
            snprintf(s + len, cap - len, "%s%" PRIu64 ":%s=%s@%s", i ? "," : "",
                     m->id, m->name, m->peer_addr, m->client_addr);
        if (w < 0 || (size_t)w >= cap - len) {
            free(s);
            return MS_ENOMEM; /* cannot happen: cap counts every byte */
        }
        len += (size_t)w;
    }
    *out = s;
    return 0;
}

/* Writes s, single-quoted for a POSIX shell when it has anything beyond
 * the characters that never need quoting ("[::1]:2380" would glob). */
static void shell_word(FILE *out, const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"
                               "TUVWXYZ0123456789-_.,:=@/+%";
    if (s[0] != '\0' && strspn(s, safe) == strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\'') {
            fputs("'\\''", out);
        } else {
            fputc(*p, out);
        }
    }
    fputc('\'', out);
}

/* The metastored command that starts the member just added. */
static void print_start_command(FILE *out, const struct ms_members_result *mr)
{
    const struct ms_member *m = &mr->added;
    char *cluster = NULL;
    if (mscli_initial_cluster(mr->members, mr->n_members, &cluster) != 0) {
        return;
    }
    fputs("\nStart the new member with an empty --data-dir and:\n", out);
    fprintf(out, "metastored --node-id %" PRIu64 " --name ", m->id);
    shell_word(out, m->name);
    fputs(" --listen-peer ", out);
    shell_word(out, m->peer_addr);
    if (m->client_addr[0] != '\0') {
        fputs(" --listen-client ", out);
        shell_word(out, m->client_addr);
    }
    fputs(" --join --initial-cluster ", out);
    shell_word(out, cluster);
    fputc('\n', out);
    if (m->client_addr[0] == '\0') {
        fputs("(the member was added without --client-urls: metastored "
              "needs a client address for every member of "
              "--initial-cluster; fill it in after the '@')\n",
              out);
    }
    free(cluster);
}

void mscli_print_member_add(FILE *out, enum mscli_format f,
                            const struct ms_result *r)
{
    const struct ms_members_result *mr = &r->members;
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        fputs(",\"member\":", out);
        json_member(out, &mr->added);
        json_members(out, mr);
        fputs("}\n", out);
        return;
    }
    fprintf(out, "Member %16" PRIx64 " added to cluster %16" PRIx64 "\n",
            mr->added.id, r->header.cluster_id);
    print_start_command(out, mr);
}

void mscli_print_member_change(FILE *out, enum mscli_format f,
                               const struct ms_result *r, const char *verb,
                               uint64_t id)
{
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        json_members(out, &r->members);
        fputs("}\n", out);
        return;
    }
    fprintf(out, "Member %16" PRIx64 " %s cluster %16" PRIx64 "\n", id, verb,
            r->header.cluster_id);
}

void mscli_print_move_leader(FILE *out, enum mscli_format f,
                             const struct ms_result *r, uint64_t from,
                             uint64_t to)
{
    if (f == MSCLI_JSON) {
        fputc('{', out);
        mscli_json_header(out, &r->header);
        fputs("}\n", out);
        return;
    }
    fprintf(out, "Leadership transferred from %" PRIx64 " to %" PRIx64 "\n",
            from, to);
}
