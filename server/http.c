/*
 * http.c - the strict HTTP/1.1 request parser of the admin endpoint (see
 * server/http.h for what it accepts).
 *
 * Happy path: bytes of the head are copied into a fixed buffer one at a
 * time while line length, line count and head size are checked; the empty
 * line ends the head, which is then split in place (CRLF -> NUL) into the
 * request line and header fields and validated in one pass.  A body of
 * Content-Length bytes is then copied into a buffer of exactly that size.
 *
 * Failure modes: every violation fails the parser with an HTTP_E* code at
 * the byte where it is detected; the caller answers the matching status
 * and closes the connection, because after a framing error the next
 * request's start cannot be trusted.
 */
#include "server/http.h"

#include <stdlib.h>
#include <string.h>

/* ---- errors -----------------------------------------------------------------
 */

int http_error_status(int err)
{
    switch (err) {
#define HTTP__ERR_STATUS(name, value, status, text)                            \
    case name:                                                                 \
        return status;
        HTTP_ERRORS(HTTP__ERR_STATUS)
#undef HTTP__ERR_STATUS
    default:
        return 400;
    }
}

const char *http_strerror(int err)
{
    switch (err) {
#define HTTP__ERR_TEXT(name, value, status, text)                              \
    case name:                                                                 \
        return text;
        HTTP_ERRORS(HTTP__ERR_TEXT)
#undef HTTP__ERR_TEXT
    default:
        return "unknown error";
    }
}

const char *http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

/* ---- set-up -----------------------------------------------------------------
 */

void http_limits_default(struct http_limits *l)
{
    l->max_line = 8192;
    l->max_headers = 64;
    l->max_head_bytes = 16384;
    l->max_body = 65536;
}

int http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
    struct http_limits def;
    http_limits_default(&def);
    memset(p, 0, sizeof *p);
    p->lim = lim != NULL ? *lim : def;
    if (p->lim.max_line == 0) {
        p->lim.max_line = def.max_line;
    }
    if (p->lim.max_headers == 0) {
        p->lim.max_headers = def.max_headers;
    }
    if (p->lim.max_headers > HTTP_MAX_HEADERS_HARD) {
        p->lim.max_headers = HTTP_MAX_HEADERS_HARD;
    }
    if (p->lim.max_head_bytes == 0) {
        p->lim.max_head_bytes = def.max_head_bytes;
    }
    /* max_body 0 is a valid limit (no body accepted) only when asked for
     * explicitly through lim; a NULL lim gets the default. */
    p->head = malloc(p->lim.max_head_bytes + 1);
    p->path_buf = malloc(p->lim.max_line + 1);
    p->hdrs = calloc(p->lim.max_headers, sizeof *p->hdrs);
    if (p->head == NULL || p->path_buf == NULL || p->hdrs == NULL) {
        http_parser_close(p);
        return HTTP_ENOMEM;
    }
    return 0;
}

void http_parser_close(struct http_parser *p)
{
    free(p->head);
    free(p->path_buf);
    free(p->hdrs);
    free(p->body);
    p->head = NULL;
    p->path_buf = NULL;
    p->hdrs = NULL;
    p->body = NULL;
}

void http_parser_reset(struct http_parser *p)
{
    free(p->body);
    p->body = NULL;
    p->body_have = 0;
    p->state = HTTP__HEAD;
    p->error = 0;
    p->head_len = 0;
    p->line_start = 0;
    p->lines = 0;
    p->past_method = false;
    memset(&p->req, 0, sizeof p->req);
}

static int fail(struct http_parser *p, int err)
{
    p->state = HTTP__FAILED;
    p->error = err;
    return err;
}

/* ---- character classes (RFC 9110 section 5.6.2) ---------------------------
 */

static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
        (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value characters: VCHAR, SP, HTAB, obs-text. */
static bool is_field_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static bool ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') {
            x = (char)(x - 'A' + 'a');
        }
        if (y >= 'A' && y <= 'Z') {
            y = (char)(y - 'A' + 'a');
        }
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

/* ---- head parsing -----------------------------------------------------------
 */

/* "GET /path HTTP/1.1" (NUL-terminated, in the head buffer). */
static int parse_request_line(struct http_parser *p, char *line)
{
    char *sp1 = strchr(line, ' ');
    if (sp1 == NULL || sp1 == line) {
        return HTTP_EBADREQUEST;
    }
    *sp1 = '\0';
    for (const char *m = line; *m != '\0'; m++) {
        if (!is_tchar((unsigned char)*m)) {
            return HTTP_EBADREQUEST;
        }
    }
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (sp2 == NULL || sp2 == target) {
        return HTTP_EBADREQUEST;
    }
    *sp2 = '\0';
    /* Origin form only: the admin endpoint is no proxy. */
    if (target[0] != '/') {
        return HTTP_EBADREQUEST;
    }
    for (const char *t = target; *t != '\0'; t++) {
        unsigned char c = (unsigned char)*t;
        if (c <= 0x20 || c >= 0x7f) {
            return HTTP_EBADREQUEST;
        }
    }
    const char *version = sp2 + 1;
    if (strncmp(version, "HTTP/", 5) != 0) {
        return HTTP_EBADREQUEST;
    }
    if (strcmp(version, "HTTP/1.1") == 0) {
        p->req.version_minor = 1;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        p->req.version_minor = 0;
    } else {
        const char *v = version + 5;
        bool shaped = v[0] >= '0' && v[0] <= '9' && v[1] == '.' &&
                      v[2] >= '0' && v[2] <= '9' && v[3] == '\0';
        return shaped ? HTTP_EVERSION : HTTP_EBADREQUEST;
    }
    p->req.method = line;
    p->req.target = target;
    size_t tlen = strlen(target);
    memcpy(p->path_buf, target, tlen + 1);
    char *q = strchr(p->path_buf, '?');
    if (q != NULL) {
        *q = '\0';
        p->req.query = q + 1;
    } else {
        p->req.query = "";
    }
    p->req.path = p->path_buf;
    return 0;
}

/* "Name: value" -> hdrs[n]. */
static int parse_header_line(char *line, struct http_header *h)
{
    char *colon = strchr(line, ':');
    if (colon == NULL || colon == line) {
        return HTTP_EBADHEADER;
    }
    for (const char *c = line; c < colon; c++) {
        if (!is_tchar((unsigned char)*c)) {
            return HTTP_EBADHEADER; /* includes whitespace before ':' */
        }
    }
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    char *end = v + strlen(v);
    for (const char *c = v; c < end; c++) {
        if (!is_field_char((unsigned char)*c)) {
            return HTTP_EBADHEADER;
        }
    }
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *end = '\0';
    h->name = line;
    h->value = v;
    return 0;
}

static int parse_content_length(const char *v, size_t max, size_t *out)
{
    if (*v == '\0') {
        return HTTP_EBADLENGTH;
    }
    uint64_t n = 0;
    for (; *v != '\0'; v++) {
        if (*v < '0' || *v > '9') {
            return HTTP_EBADLENGTH;
        }
        n = n * 10u + (uint64_t)(*v - '0');
        if (n > max) {
            return HTTP_EBODYTOOBIG; /* also stops any overflow */
        }
    }
    *out = (size_t)n;
    return 0;
}

/* Connection: a comma-separated token list. */
static void apply_connection(struct http_request *r, const char *v)
{
    char tok[32];
    while (*v != '\0') {
        while (*v == ' ' || *v == '\t' || *v == ',') {
            v++;
        }
        size_t n = 0;
        while (*v != '\0' && *v != ',' && *v != ' ' && *v != '\t') {
            if (n + 1 < sizeof tok) {
                tok[n++] = *v;
            }
            v++;
        }
        tok[n] = '\0';
        if (ieq(tok, "close")) {
            r->keep_alive = false;
        } else if (ieq(tok, "keep-alive") && r->version_minor == 0) {
            r->keep_alive = true;
        }
    }
}

/* Checks the fields that frame the message: Content-Length,
 * Transfer-Encoding, Host, Connection. */
static int check_semantics(struct http_parser *p, size_t *body_len)
{
    struct http_request *r = &p->req;
    bool have_len = false;
    size_t hosts = 0;
    r->keep_alive = r->version_minor == 1;
    *body_len = 0;
    for (size_t i = 0; i < r->n_headers; i++) {
        const struct http_header *h = &r->headers[i];
        if (ieq(h->name, "Transfer-Encoding")) {
            return HTTP_EUNSUPPORTED;
        } else if (ieq(h->name, "Content-Length")) {
            size_t n = 0;
            int rv = parse_content_length(h->value, p->lim.max_body, &n);
            if (rv != 0) {
                return rv;
            }
            if (have_len && n != *body_len) {
                return HTTP_EBADLENGTH;
            }
            have_len = true;
            *body_len = n;
        } else if (ieq(h->name, "Host")) {
            hosts++;
        }
    }
    if (r->version_minor == 1 && hosts != 1) {
        return HTTP_ENOHOST;
    }
    /* Applied after the loop so that "Connection: close" wins wherever it
     * stands. */
    for (size_t i = 0; i < r->n_headers; i++) {
        if (ieq(r->headers[i].name, "Connection")) {
            apply_connection(r, r->headers[i].value);
        }
    }
    return 0;
}

/* The head is complete in p->head[0..head_len): split and validate it. */
static int parse_head(struct http_parser *p)
{
    char *s = p->head;
    char *end = p->head + p->head_len;
    *end = '\0';
    size_t n = 0;
    bool first = true;
    while (s < end) {
        char *lf = memchr(s, '\n', (size_t)(end - s));
        /* Every line ended in CRLF when it was received. */
        lf[-1] = '\0';
        *lf = '\0';
        if (*s == '\0') {
            break; /* the empty line */
        }
        if (memchr(s, '\r', (size_t)(lf - 1 - s)) != NULL) {
            return first ? HTTP_EBADREQUEST : HTTP_EBADHEADER; /* bare CR */
        }
        int rv;
        if (first) {
            rv = parse_request_line(p, s);
            first = false;
        } else if (*s == ' ' || *s == '\t') {
            rv = HTTP_EBADHEADER; /* obsolete line folding */
        } else {
            rv = parse_header_line(s, &p->hdrs[n++]);
        }
        if (rv != 0) {
            return rv;
        }
        s = lf + 1;
    }
    p->req.headers = p->hdrs;
    p->req.n_headers = n;
    size_t body_len = 0;
    int rv = check_semantics(p, &body_len);
    if (rv != 0) {
        return rv;
    }
    p->req.body_len = body_len;
    if (body_len == 0) {
        p->state = HTTP__DONE;
        return 0;
    }
    p->body = malloc(body_len);
    if (p->body == NULL) {
        return HTTP_ENOMEM;
    }
    p->state = HTTP__BODY;
    return 0;
}

/* A whole line (LF just stored) of the head: check it, or end the head. */
static int end_of_line(struct http_parser *p)
{
    size_t len = p->head_len - p->line_start; /* with the LF */
    bool crlf = len >= 2 && p->head[p->head_len - 2] == '\r';
    if (!crlf) {
        return p->lines == 0 ? HTTP_EBADREQUEST : HTTP_EBADHEADER;
    }
    if (len == 2) {
        if (p->lines == 0) {
            /* An empty line before the request line: ignored. */
            p->head_len = p->line_start;
            return 0;
        }
        return parse_head(p);
    }
    p->lines++;
    if (p->lines > p->lim.max_headers + 1) {
        return HTTP_EHEADERSTOOBIG;
    }
    p->line_start = p->head_len;
    return 0;
}

static int feed_head(struct http_parser *p, const uint8_t *d, size_t len,
                     size_t *used)
{
    size_t i = 0;
    while (i < len && p->state == HTTP__HEAD) {
        uint8_t c = d[i++];
        if (p->head_len >= p->lim.max_head_bytes) {
            *used = i;
            return p->lines == 0 ? HTTP_EURITOOLONG : HTTP_EHEADERSTOOBIG;
        }
        if (p->lines == 0 && !p->past_method) {
            /* Check the method as it arrives, so that a client speaking
             * something else (TLS, the binary protocol) is told at once. */
            bool empty = p->head_len == p->line_start;
            if (c == ' ' && !empty) {
                p->past_method = true;
            } else if (!is_tchar(c) && !((c == '\r' || c == '\n') && empty) &&
                       !(c == '\n' && p->head_len == p->line_start + 1 &&
                         p->head[p->line_start] == '\r')) {
                *used = i;
                return HTTP_EBADREQUEST;
            }
        }
        p->head[p->head_len++] = (char)c;
        if (c == '\n') {
            int rv = end_of_line(p);
            if (rv != 0) {
                *used = i;
                return rv;
            }
        } else if (c == '\0') {
            *used = i;
            return p->lines == 0 ? HTTP_EBADREQUEST : HTTP_EBADHEADER;
        } else if (p->head_len - p->line_start > p->lim.max_line + 1) {
            /* + 1: the CR that may end it */
            *used = i;
            return p->lines == 0 ? HTTP_EURITOOLONG : HTTP_EHEADERSTOOBIG;
        }
    }
    *used = i;
    return 0;
}

int http_parser_feed(struct http_parser *p, const void *data, size_t len,
                     size_t *used)
{
    const uint8_t *d = data;
    size_t off = 0;
    *used = 0;
    if (p->state == HTTP__FAILED) {
        return HTTP_EFAILED;
    }
    if (p->state == HTTP__HEAD) {
        int rv = feed_head(p, d, len, &off);
        *used = off;
        if (rv != 0) {
            return fail(p, rv);
        }
    }
    if (p->state == HTTP__BODY) {
        size_t want = p->req.body_len - p->body_have;
        size_t n = len - off < want ? len - off : want;
        if (n > 0) {
            memcpy(p->body + p->body_have, d + off, n);
        }
        p->body_have += n;
        off += n;
        *used = off;
        if (p->body_have == p->req.body_len) {
            p->req.body = p->body;
            p->state = HTTP__DONE;
        }
    }
    return p->state == HTTP__DONE ? HTTP_DONE : 0;
}

const struct http_request *http_parser_request(const struct http_parser *p)
{
    return p->state == HTTP__DONE ? &p->req : NULL;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (ieq(r->headers[i].name, name)) {
            return r->headers[i].value;
        }
    }
    return NULL;
}

const struct http_request *http_parser_head(const struct http_parser *p)
{
    return p->state == HTTP__BODY || p->state == HTTP__DONE ? &p->req : NULL;
}
