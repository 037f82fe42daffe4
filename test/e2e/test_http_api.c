/*
 * test_http_api.c - the HTTP/JSON API against a real metastored
 * (server/http_api.h, docs/http-api.md).
 *
 * The documentation is executable: every `$ command` in a ```console block
 * of docs/http-api.md is run (through sh, with the documented address
 * replaced by the test server's) against a fresh node, in order, and its
 * output must be what the page shows -- apart from the Raft positions
 * (raft_term, applied_index, raftIndex, raftTerm, raftAppliedIndex,
 * commit_index)
 * and the parts the page writes as "…".
 *
 * Then every failure mode of the HTTP layer, on raw sockets and with curl:
 * an oversize body (413), a chunked body (411), malformed HTTP (400 then
 * close), bytes of the binary protocol, too many connections (503); each
 * time the server must go on answering other requests.  And the connection
 * behaviour: keep-alive, pipelined requests answered in order,
 * "Connection: close", HTTP/1.0, "Expect: 100-continue".  Each test ends by
 * stopping the server with SIGTERM and requiring exit status 0 (under
 * AddressSanitizer a leak makes that fail).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"

#define DOC_PATH  "docs/http-api.md"
#define DOC_ADDR  "127.0.0.1:2382"
#define MAX_CONNS 4
#define MAX_BODY  65536

static struct e2e_server srv;
static uint16_t http_port;
static char http_addr[64];

static void init_ports(void)
{
    e2e_server_init(&srv);
    do {
        http_port = e2e_free_port();
    } while (http_port == srv.client_port || http_port == srv.peer_port ||
             http_port == srv.admin_port);
    snprintf(http_addr, sizeof http_addr, "127.0.0.1:%u", http_port);
}

static void launch(const char *const *more)
{
    char port_flag[64], conns[64], body[64];
    snprintf(port_flag, sizeof port_flag, "%s", http_addr);
    snprintf(conns, sizeof conns, "server.http_max_connections=%d", MAX_CONNS);
    snprintf(body, sizeof body, "server.http_max_body_bytes=%d", MAX_BODY);
    const char *extra[32] = {"--http-listen", port_flag, "--set",
                             conns,           "--set",   body};
    for (int i = 0; more != NULL && more[i] != NULL && i < 24; i++) {
        extra[6 + i] = more[i];
    }
    ck_assert_int_eq(e2e_server_start(&srv, extra, 10000), 0);
}

static void start(void)
{
    init_ports();
    launch(NULL);
}

/* Stops the server; it must exit 0 (clean shutdown, no leak reports). */
static void stop_clean(void)
{
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    bool ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!ok) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "tail -n 40 %s >&2", srv.log_path);
        if (system(cmd) != 0) {
            fprintf(stderr, "(no log)\n");
        }
    }
    e2e_server_cleanup(&srv);
    ck_assert_msg(ok, "metastored did not exit cleanly (status %d)", st);
}

/* ---- running commands
 * --------------------------------------------------------- */

/* Runs cmd through sh; its stdout, malloc'd and NUL-terminated. */
static char *run_sh(const char *cmd)
{
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    out[len] = '\0';
    pclose(f);
    return out;
}

/* s with every `from` replaced by `to` (malloc'd). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = strstr(s, from); p != NULL; p = strstr(p + fl, from)) {
        n++;
    }
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1);
    char *o = out;
    const char *p;
    while ((p = strstr(s, from)) != NULL) {
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, tl);
        o += tl;
        s = p + fl;
    }
    strcpy(o, s);
    return out;
}

/* Replaces the value of every "field":"digits" with "#" (in place). */
static void blank_field(char *s, const char *field)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", field);
    size_t pl = strlen(pat);
    for (char *p = strstr(s, pat); p != NULL; p = strstr(p + 1, pat)) {
        char *v = p + pl, *e = v;
        while (*e >= '0' && *e <= '9') {
            e++;
        }
        if (*e == '"' && e > v) {
            *v = '#';
            memmove(v + 1, e, strlen(e) + 1);
        }
    }
}

static void normalize(char *s)
{
    static const char *const fields[] = {"raft_term",        "applied_index",
                                         "raftIndex",        "raftTerm",
                                         "raftAppliedIndex", "commit_index"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        blank_field(s, fields[i]);
    }
}

/* Does `got` match `want`, where "…" in want matches any run of bytes up
 * to the byte that follows it? */
static bool matches(const char *want, const char *got)
{
    static const char ell[] = "\xe2\x80\xa6";
    while (*want != '\0') {
        if (strncmp(want, ell, 3) == 0) {
            want += 3;
            while (*got != '\0' && *got != *want) {
                got++;
            }
            continue;
        }
        if (*want != *got) {
            return false;
        }
        want++;
        got++;
    }
    return *got == '\0';
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)",
                  path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* Shell variables set by earlier examples (`TOKEN=$(curl ...)`), as
 * "NAME='value'; " assignments run before every later command: each
 * command runs in its own sh, as a reader's terminal would not. */
static char prelude[2048];

/* Is cmd "NAME=..." (a variable assignment)?  Its NAME into name. */
static bool assignment(const char *cmd, char *name, size_t cap)
{
    size_t n = 0;
    while ((cmd[n] >= 'A' && cmd[n] <= 'Z') || cmd[n] == '_' ||
           (n > 0 && cmd[n] >= '0' && cmd[n] <= '9')) {
        n++;
    }
    if (n == 0 || cmd[n] != '=' || n >= cap) {
        return false;
    }
    memcpy(name, cmd, n);
    name[n] = '\0';
    return true;
}

/* Runs an assignment: it prints nothing (the page shows no output); the
 * value it sets must be a non-empty word, kept for later commands. */
static void run_assignment(const char *real, const char *name,
                           const char *want)
{
    ck_assert_msg(want[0] == '\0', "an assignment prints nothing: %s", real);
    char *full = malloc(strlen(prelude) + strlen(real) + 64);
    sprintf(full, "%s%s; printf '%%s' \"$%s\"", prelude, real, name);
    char *got = run_sh(full);
    ck_assert_msg(got[0] != '\0', "docs/http-api.md: $ %s set nothing", real);
    for (const char *q = got; *q != '\0'; q++) {
        ck_assert_msg(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"
                             "XYZ0123456789._-",
                             *q) != NULL,
                      "docs/http-api.md: $ %s set \"%s\"", real, got);
    }
    size_t used = strlen(prelude);
    int w = snprintf(prelude + used, sizeof prelude - used, "%s='%s'; ",
                     name, got);
    ck_assert(w > 0 && (size_t)w < sizeof prelude - used);
    free(got);
    free(full);
}

/* Runs one documented command and checks its output. */
static void run_example(const char *cmd, const char *want)
{
    char *real = replace_all(cmd, DOC_ADDR, http_addr);
    char name[32];
    if (assignment(real, name, sizeof name)) {
        run_assignment(real, name, want);
        free(real);
        return;
    }
    char *full = malloc(strlen(prelude) + strlen(real) + 1);
    sprintf(full, "%s%s", prelude, real);
    char *got = run_sh(full);
    free(full);
    char *w = strdup(want);
    normalize(got);
    normalize(w);
    ck_assert_msg(matches(w, got),
                  "docs/http-api.md example\n  $ %s\nprinted\n%s\ninstead "
                  "of\n%s",
                  cmd, got, want);
    free(w);
    free(got);
    free(real);
}

START_TEST(documented_examples_print_what_the_docs_show)
{
    start();
    prelude[0] = '\0';
    char *doc = read_file(DOC_PATH);
    int examples = 0;
    char *p = doc;
    while ((p = strstr(p, "```console\n")) != NULL) {
        p += strlen("```console\n");
        char *end = strstr(p, "```");
        ck_assert_ptr_nonnull(end);
        *end = '\0';
        /* Lines "$ cmd", then the expected output up to the next "$ ". */
        char *line = p;
        while (line < end && strncmp(line, "$ ", 2) == 0) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            char *cmd = line + 2;
            char *out = nl + 1, *next = out;
            while (next < end && strncmp(next, "$ ", 2) != 0) {
                next = strchr(next, '\n') + 1;
            }
            char saved = *next;
            *next = '\0';
            run_example(cmd, out);
            *next = saved;
            examples++;
            line = next;
        }
        p = end + 3;
    }
    free(doc);
    ck_assert_int_ge(examples, 20);
    stop_clean();
}
END_TEST

/* ---- raw HTTP
 * ------------------------------------------------------------------- */

struct hconn {
    int fd;
    char buf[1 << 17];
    size_t len;
};

struct hresp {
    int status;
    char head[2048];
    char body[8192];
    size_t body_len;
};

static void hc_open(struct hconn *c)
{
    c->fd = e2e_connect(http_port);
    ck_assert_int_ge(c->fd, 0);
    c->len = 0;
}

static void hc_send(struct hconn *c, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, data, n);
        ck_assert_int_gt(w, 0);
        data += w;
        n -= (size_t)w;
    }
}

static void hc_sends(struct hconn *c, const char *s)
{
    hc_send(c, s, strlen(s));
}

/* Offset just past the first blank line in c->buf, or 0. */
static size_t head_end(const struct hconn *c)
{
    for (size_t i = 0; i + 4 <= c->len; i++) {
        if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
            return i + 4;
        }
    }
    return 0;
}

static bool hc_fill(struct hconn *c)
{
    if (c->len >= sizeof c->buf) {
        return false;
    }
    ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
    if (r <= 0) {
        return false;
    }
    c->len += (size_t)r;
    return true;
}

static void hc_take(struct hconn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads one response (head and Content-Length body); false on EOF. */
static bool hc_read(struct hconn *c, struct hresp *r)
{
    size_t head_len;
    while ((head_len = head_end(c)) == 0) {
        if (!hc_fill(c)) {
            return false;
        }
    }
    ck_assert_uint_lt(head_len, sizeof r->head);
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    hc_take(c, head_len);
    ck_assert_int_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    const char *cl = strstr(r->head, "Content-Length: ");
    size_t n = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
    ck_assert_uint_lt(n, sizeof r->body);
    while (c->len < n) {
        ck_assert(hc_fill(c));
    }
    memcpy(r->body, c->buf, n);
    r->body[n] = '\0';
    r->body_len = n;
    hc_take(c, n);
    return true;
}

/* True when the server closed the connection (EOF) with nothing more. */
static bool hc_closed(struct hconn *c)
{
    return c->len == 0 && !hc_fill(c);
}

static void post(struct hconn *c, const char *path, const char *body,
                 const char *extra)
{
    char req[1024];
    snprintf(req, sizeof req,
             "POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n%s\r\n%s",
             path, strlen(body), extra != NULL ? extra : "", body);
    hc_sends(c, req);
}

/* A fresh connection asks for key foo: the server still serves. */
static void still_serving(void)
{
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    hc_open(c);
    post(c, "/v3/kv/range", "{\"key\":\"Zm9v\"}", NULL);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"header\""));
    close(c->fd);
    free(c);
}

START_TEST(keep_alive_and_pipelined_requests_are_answered_in_order)
{
    start();
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    hc_open(c);
    /* Two requests in one write: a write (parked until applied) and a read
     * (answered at once when served) must come back in request order. */
    const char *put_body = "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}";
    const char *get_body = "{\"key\":\"Zm9v\"}";
    char two[512];
    snprintf(two, sizeof two,
             "POST /v3/kv/put HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n"
             "\r\n%sPOST /v3/kv/range HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(put_body), put_body, strlen(get_body), get_body);
    hc_sends(c, two);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(strstr(r.body, "kvs"));
    ck_assert_ptr_nonnull(strstr(r.head, "Connection: keep-alive"));
    ck_assert_ptr_nonnull(strstr(r.head, "Content-Type: application/json"));
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"value\":\"YmFy\""));
    /* Errors do not close a keep-alive connection. */
    post(c, "/v3/kv/range", "{\"key\":1}", NULL);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 400);
    post(c, "/nowhere", "{}", NULL);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 404);
    hc_sends(c, "GET /v3/kv/range HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 405);
    ck_assert_ptr_nonnull(strstr(r.head, "Allow: POST\r\n"));
    /* "Connection: close": answered, then closed. */
    post(c, "/v3/kv/range", "{\"key\":\"Zm9v\"}", "Connection: close\r\n");
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
    ck_assert(hc_closed(c));
    close(c->fd);
    /* HTTP/1.0 closes after the answer too. */
    hc_open(c);
    hc_sends(c, "POST /v3/maintenance/status HTTP/1.0\r\n\r\n");
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "\"role\":\"leader\""));
    ck_assert(hc_closed(c));
    close(c->fd);
    free(c);
    stop_clean();
}
END_TEST

START_TEST(expect_100_continue_is_answered_before_the_body)
{
    start();
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    hc_open(c);
    hc_sends(c, "POST /v3/kv/put HTTP/1.1\r\nHost: t\r\nContent-Length: 29\r\n"
                "Expect: 100-continue\r\n\r\n");
    while (head_end(c) == 0) {
        ck_assert(hc_fill(c));
    }
    ck_assert_int_eq(strncmp(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0);
    hc_take(c, 25);
    hc_sends(c, "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}");
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 200);
    close(c->fd);
    free(c);
    stop_clean();
}
END_TEST

START_TEST(oversize_body_gets_413_and_the_server_keeps_serving)
{
    start();
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    /* Announced too large: refused from the header, before the body. */
    hc_open(c);
    char req[256];
    snprintf(
        req, sizeof req,
        "POST /v3/kv/put HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
        MAX_BODY + 1);
    hc_sends(c, req);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 413);
    ck_assert_ptr_nonnull(strstr(r.body, "server.http_max_body_bytes"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"code\":8"));
    ck_assert(hc_closed(c));
    close(c->fd);
    still_serving();
    /* With curl sending the whole body: it still reads the 413. */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "head -c %d /dev/zero | tr '\\0' a | curl -s -o /dev/null -w "
             "'%%{http_code}' -X POST --data-binary @- http://%s/v3/kv/put",
             4 * MAX_BODY, http_addr);
    char *out = run_sh(cmd);
    ck_assert_str_eq(out, "413");
    free(out);
    /* A body just at the limit is read (and refused as JSON, not size). */
    char *big = malloc(MAX_BODY + 1);
    memset(big, ' ', MAX_BODY);
    big[0] = '[';
    big[MAX_BODY - 1] = ']';
    big[MAX_BODY] = '\0';
    hc_open(c);
    snprintf(
        req, sizeof req,
        "POST /v3/kv/put HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
        MAX_BODY);
    hc_sends(c, req);
    hc_send(c, big, MAX_BODY);
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 400);
    ck_assert_ptr_nonnull(strstr(r.body, "must be a JSON object"));
    close(c->fd);
    free(big);
    free(c);
    still_serving();
    stop_clean();
}
END_TEST

START_TEST(chunked_and_malformed_requests_are_refused_then_closed)
{
    start();
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    hc_open(c);
    hc_sends(c, "POST /v3/kv/range HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\nf\r\n{\"key\":\"Zm9v\"}\r\n"
                "0\r\n\r\n");
    ck_assert(hc_read(c, &r));
    ck_assert_int_eq(r.status, 411);
    ck_assert_ptr_nonnull(strstr(r.body, "Content-Length"));
    ck_assert(hc_closed(c));
    close(c->fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -X POST -H "
             "'Transfer-Encoding: chunked' -d '{}' http://%s/v3/kv/range",
             http_addr);
    char *out = run_sh(cmd);
    ck_assert_str_eq(out, "411");
    free(out);

    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "POST /v3/kv/range HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", /* Host */
        "POST /v3/kv/range HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n",
        "POST /v3/kv/range HTTP/1.1\nHost: t\n\n",
        "POST /v3/kv/range HTTP/2.0\r\nHost: t\r\n\r\n",
        /* A frame of the binary protocol sent to the HTTP port. */
        "\x00\x00\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01",
    };
    const int want[] = {400, 400, 400, 400, 505, 400};
    const size_t lens[] = {0, 0, 0, 0, 0, 16};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hc_open(c);
        hc_send(c, bad[i], lens[i] != 0 ? lens[i] : strlen(bad[i]));
        ck_assert_msg(hc_read(c, &r), "case %zu: no answer", i);
        ck_assert_msg(r.status == want[i], "case %zu: %d", i, r.status);
        ck_assert_ptr_nonnull(strstr(r.body, "\"error\""));
        ck_assert_ptr_nonnull(strstr(r.head, "Connection: close"));
        ck_assert(hc_closed(c));
        close(c->fd);
    }
    free(c);
    still_serving();
    ck_assert(e2e_server_log_contains(&srv, "HTTP/JSON API listening on"));
    /* Every refusal above is counted on /metrics (2 x 411, 5 x 400, 1 x
     * 505: seven 4xx, one 5xx), the good request as a 2xx. */
    char mcmd[256];
    snprintf(mcmd, sizeof mcmd,
             "curl -s http://127.0.0.1:%u/metrics | grep "
             "'^metastore_http_responses_total'",
             srv.admin_port);
    out = run_sh(mcmd);
    ck_assert_msg(strstr(out, "{class=\"4xx\"} 7") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "{class=\"5xx\"} 1") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "{class=\"2xx\"} 1") != NULL, "%s", out);
    free(out);
    stop_clean();
}
END_TEST

START_TEST(connections_over_the_limit_get_503)
{
    start();
    struct hconn *cs = calloc(MAX_CONNS + 1, sizeof *cs);
    struct hresp r;
    /* Fill the limit with connections the server has surely accepted. */
    for (int i = 0; i < MAX_CONNS; i++) {
        hc_open(&cs[i]);
        post(&cs[i], "/v3/maintenance/status", "", NULL);
        ck_assert(hc_read(&cs[i], &r));
        ck_assert_int_eq(r.status, 200);
    }
    hc_open(&cs[MAX_CONNS]);
    ck_assert(hc_read(&cs[MAX_CONNS], &r));
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(r.body, "too many HTTP connections"));
    ck_assert(hc_closed(&cs[MAX_CONNS]));
    close(cs[MAX_CONNS].fd);
    /* The open ones still work; after one closes, a new one is served
     * (the server notices the close asynchronously: retry to a deadline). */
    post(&cs[0], "/v3/kv/range", "{\"key\":\"Zm9v\"}", NULL);
    ck_assert(hc_read(&cs[0], &r));
    ck_assert_int_eq(r.status, 200);
    close(cs[1].fd);
    uint64_t deadline = e2e_now_ms() + 5000;
    int status = 0;
    while (status != 200 && e2e_now_ms() < deadline) {
        struct hconn *c = &cs[MAX_CONNS];
        hc_open(c);
        post(c, "/v3/kv/range", "{\"key\":\"Zm9v\"}", NULL);
        status = hc_read(c, &r) ? r.status : -1;
        close(c->fd);
        if (status != 200) {
            usleep(20000);
        }
    }
    ck_assert_int_eq(status, 200);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (i != 1) {
            close(cs[i].fd);
        }
    }
    free(cs);
    stop_clean();
}
END_TEST

START_TEST(requests_waiting_for_a_leader_time_out_and_shutdown_is_clean)
{
    /* Three members of which only this one runs: never a leader, so a
     * linearizable read parks until server.request_timeout. */
    char cluster[256];
    init_ports();
    snprintf(cluster, sizeof cluster,
             "1=127.0.0.1:%u@127.0.0.1:%u,2=127.0.0.1:%u@127.0.0.1:%u,"
             "3=127.0.0.1:%u@127.0.0.1:%u",
             srv.peer_port, srv.client_port, e2e_free_port(), e2e_free_port(),
             e2e_free_port(), e2e_free_port());
    const char *more[] = {"--node-id", "1",     "--initial-cluster",
                          cluster,     "--set", "server.request_timeout=500ms",
                          NULL};
    launch(more);
    struct hconn *c = malloc(sizeof *c);
    struct hresp r;
    hc_open(c);
    uint64_t t0 = e2e_now_ms();
    post(c, "/v3/kv/range", "{\"key\":\"Zm9v\"}", NULL);
    ck_assert(hc_read(c, &r));
    ck_assert_msg(r.status == 503 || r.status == 504, "%d %s", r.status,
                  r.body);
    ck_assert_uint_ge(e2e_now_ms() - t0, 400);
    ck_assert_msg(strstr(r.body, "\"code\":14") != NULL ||
                      strstr(r.body, "\"code\":4") != NULL,
                  "%s", r.body);
    /* A write parks too; the server is stopped while it waits: it must
     * answer or close, and exit cleanly. */
    post(c, "/v3/kv/put", "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}", NULL);
    usleep(50000);
    int st = e2e_server_stop(&srv, SIGTERM, 10000);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "exit status %d", st);
    if (hc_read(c, &r)) {
        ck_assert_msg(r.status == 503 || r.status == 504, "%d", r.status);
    }
    close(c->fd);
    free(c);
    e2e_server_cleanup(&srv);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_api");
    TCase *tc = tcase_create("http_api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, documented_examples_print_what_the_docs_show);
    tcase_add_test(tc, keep_alive_and_pipelined_requests_are_answered_in_order);
    tcase_add_test(tc, expect_100_continue_is_answered_before_the_body);
    tcase_add_test(tc, oversize_body_gets_413_and_the_server_keeps_serving);
    tcase_add_test(tc, chunked_and_malformed_requests_are_refused_then_closed);
    tcase_add_test(tc, connections_over_the_limit_get_503);
    tcase_add_test(
        tc, requests_waiting_for_a_leader_time_out_and_shutdown_is_clean);
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
