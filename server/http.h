/*
 * http.h - a minimal, strict HTTP/1.1 request parser for the admin
 * endpoint (server/admin.c).
 *
 * What it accepts (RFC 9112 subset): a request line "METHOD SP target SP
 * HTTP/1.x" CRLF, header fields "name: value" CRLF, an empty line, then
 * exactly Content-Length bytes of body (no body when the header is absent).
 * Lines must end in CRLF.  Empty lines before the request line are skipped
 * (RFC 9112 section 2.2).  Everything else is refused with a code that maps
 * to an HTTP status (http_error_status()):
 *   - Transfer-Encoding (chunked or any other): HTTP_EUNSUPPORTED (501);
 *   - obsolete line folding, a space before the colon, control characters,
 *     a bad method token or target: HTTP_EBADREQUEST / HTTP_EBADHEADER (400);
 *   - an HTTP/1.1 request without exactly one Host header (400);
 *   - a malformed, or repeated and differing, Content-Length (400);
 *   - a version other than HTTP/1.0 or HTTP/1.1: HTTP_EVERSION (505);
 *   - a request line longer than max_line: HTTP_EURITOOLONG (414);
 *   - a header line longer than max_line, more than max_headers fields, or
 *     a head larger than max_head_bytes: HTTP_EHEADERSTOOBIG (431);
 *   - a body larger than max_body: HTTP_EBODYTOOBIG (413).
 * Limits are checked as bytes arrive, so a peer can never make the parser
 * hold more than max_head_bytes + max_body bytes.
 *
 * Feeding: bytes may arrive in arbitrary pieces (one byte at a time works).
 * http_parser_feed() consumes up to the end of one request and says how
 * many bytes it used; the rest belong to the next (pipelined) request and
 * are fed again after http_parser_reset().  After an error the parser stays
 * failed until reset.
 *
 * Pure: no I/O, no clock.  Errors are negative HTTP_E* codes.
 */
#ifndef METASTORE_SERVER_HTTP_H
#define METASTORE_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_ERRORS(X)                                                         \
    X(HTTP_ENOMEM, -1, 500, "out of memory")                                   \
    X(HTTP_EBADREQUEST, -2, 400, "malformed request line")                     \
    X(HTTP_EBADHEADER, -3, 400, "malformed header field")                      \
    X(HTTP_EBADLENGTH, -4, 400, "invalid Content-Length")                      \
    X(HTTP_ENOHOST, -5, 400, "HTTP/1.1 request needs exactly one Host header") \
    X(HTTP_EVERSION, -6, 505, "HTTP version not supported")                    \
    X(HTTP_EURITOOLONG, -7, 414, "request line too long")                      \
    X(HTTP_EHEADERSTOOBIG, -8, 431, "request header fields too large")         \
    X(HTTP_EBODYTOOBIG, -9, 413, "request body too large")                     \
    X(HTTP_EUNSUPPORTED, -10, 501, "Transfer-Encoding is not supported")       \
    X(HTTP_EFAILED, -11, 400, "parser failed earlier; reset it")

enum http_error {
#define HTTP__ERR_ENUM(name, value, status, text) name = value,
    HTTP_ERRORS(HTTP__ERR_ENUM)
#undef HTTP__ERR_ENUM
};

/* The HTTP status to answer an HTTP_E* code with (400 for unknown codes). */
int http_error_status(int err);
/* One line for people; never NULL. */
const char *http_strerror(int err);
/* "OK", "Not Found"... for the status codes the admin server uses; "Error"
 * for others. */
const char *http_reason(int status);

/* Returned by http_parser_feed() when a whole request is ready. */
#define HTTP_DONE 1

struct http_limits {
    size_t max_line;       /* request line or one header line, CRLF excluded */
    size_t max_headers;    /* header fields */
    size_t max_head_bytes; /* request line + headers, CRLFs included */
    size_t max_body;       /* Content-Length accepted */
};

/* Defaults: 8 KiB lines, 64 headers, 16 KiB head, 64 KiB body. */
void http_limits_default(struct http_limits *l);

struct http_header {
    const char *name;  /* as sent (compare case-insensitively) */
    const char *value; /* leading and trailing whitespace removed */
};

#define HTTP_MAX_HEADERS_HARD 256 /* the most max_headers may be */

struct http_request {
    const char *method; /* "GET": case-sensitive token */
    const char *target; /* as sent: path and query */
    const char *path;   /* target before '?' */
    const char *query;  /* after '?', "" when none */
    int version_minor;  /* 0 or 1 (HTTP/1.x) */
    bool keep_alive;    /* from the version and the Connection header */
    size_t n_headers;
    struct http_header *headers;
    size_t body_len;
    const uint8_t *body; /* NULL when body_len is 0 */
};

enum http_parser_state {
    HTTP__HEAD = 0,
    HTTP__BODY,
    HTTP__DONE,
    HTTP__FAILED,
};

/* Caller-allocated; fields private. */
struct http_parser {
    struct http_limits lim;
    enum http_parser_state state;
    int error;  /* the error that failed the parser */
    char *head; /* max_head_bytes + 1: the raw head, then parsed */
    size_t head_len;
    size_t line_start; /* offset of the line being received */
    size_t lines;      /* complete lines so far (request line included) */
    bool past_method;  /* the request line's first space was seen */
    uint8_t *body;     /* malloc'd for the body being received */
    size_t body_have;
    struct http_header *hdrs; /* max_headers entries */
    char *path_buf;           /* path, split off the target */
    struct http_request req;
};

/* Sets up p with `lim` (NULL: defaults; zero fields get defaults too).
 * HTTP_ENOMEM.  Release with http_parser_close(). */
int http_parser_init(struct http_parser *p, const struct http_limits *lim);
void http_parser_close(struct http_parser *p);
/* Forgets the current request (keeps the buffers) for the next one. */
void http_parser_reset(struct http_parser *p);

/*
 * Feeds data[0..len).  *used gets the bytes consumed (all of them unless a
 * request completed or an error happened).  Returns 0 (more bytes needed),
 * HTTP_DONE (http_parser_request() is valid until the next reset), or a
 * negative HTTP_E* code (the parser is failed; answer
 * http_error_status(rv) and close the connection).  Feeding a parser that
 * is done consumes nothing and returns HTTP_DONE again.
 */
int http_parser_feed(struct http_parser *p, const void *data, size_t len,
                     size_t *used);

/* The parsed request; only after http_parser_feed() returned HTTP_DONE. */
const struct http_request *http_parser_request(const struct http_parser *p);

/* The request head as soon as it is complete, while its body may still be
 * arriving (body NULL until HTTP_DONE), or NULL: lets a server answer
 * "Expect: 100-continue" before the body is sent. */
const struct http_request *http_parser_head(const struct http_parser *p);

/* The value of the first header named `name` (case-insensitive), or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);

#endif /* METASTORE_SERVER_HTTP_H */
