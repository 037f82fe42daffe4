/*
 * fuzz_http.c - libFuzzer target for the admin endpoint's HTTP/1.1 request
 * parser (server/http.c).
 *
 * Input layout: byte 0 picks the limits (defaults, or small ones so that
 * 414/431/413 are reached), byte 1 seeds the chunking, the rest is what a
 * client sends on one connection (possibly several pipelined requests).
 *
 * The stream is parsed twice, once fed whole and once in pseudo-random
 * chunks of 1..32 bytes; after each request the parser is reset and fed
 * the rest, as the admin server does.  Both runs must see the same requests
 * (method, target, path, query, version, headers, body) and the same final
 * error.  Every parsed request must respect the limits and point only at
 * NUL-terminated strings.  A difference or a violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_REQS 16
#define FUZZ_DIGEST   8192

struct fuzz_http_run {
    /* A flat text summary of every request, compared between runs. */
    char digest[FUZZ_DIGEST];
    size_t len;
    int n_reqs;
    int error;
};

static void fuzz_die(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

static void fuzz_add(struct fuzz_http_run *run, const char *s, size_t n)
{
    if (n > FUZZ_DIGEST - run->len)
        n = FUZZ_DIGEST - run->len;
    memcpy(run->digest + run->len, s, n);
    run->len += n;
}

static void fuzz_add_str(struct fuzz_http_run *run, const char *s)
{
    if (s == NULL)
        fuzz_die("a request field is NULL");
    fuzz_add(run, s, strlen(s));
    fuzz_add(run, "\n", 1);
}

static void fuzz_record(struct fuzz_http_run *run, const struct http_request *r,
                        const struct http_limits *lim)
{
    if (r == NULL)
        fuzz_die("HTTP_DONE without a request");
    if (r->body_len > lim->max_body || (r->body_len > 0) != (r->body != NULL))
        fuzz_die("body over the limit or body pointer inconsistent");
    if (r->n_headers > lim->max_headers)
        fuzz_die("more headers than max_headers");
    if (r->version_minor != 0 && r->version_minor != 1)
        fuzz_die("version other than 1.0 or 1.1 accepted");
    fuzz_add_str(run, r->method);
    fuzz_add_str(run, r->target);
    fuzz_add_str(run, r->path);
    fuzz_add_str(run, r->query);
    if (strlen(r->target) > lim->max_line)
        fuzz_die("target longer than max_line");
    for (size_t i = 0; i < r->n_headers; i++) {
        fuzz_add_str(run, r->headers[i].name);
        fuzz_add_str(run, r->headers[i].value);
    }
    char tail[64];
    int n = snprintf(tail, sizeof tail, "v%d ka%d len%zu\n", r->version_minor,
                     (int)r->keep_alive, r->body_len);
    fuzz_add(run, tail, (size_t)n);
    if (r->body_len > 0)
        fuzz_add(run, (const char *)r->body, r->body_len);
    (void)http_request_header(r, "host");
}

static void fuzz_parse(const uint8_t *in, size_t len,
                       const struct http_limits *lim, uint32_t seed,
                       struct fuzz_http_run *run)
{
    struct http_parser p;
    memset(run, 0, sizeof *run);
    if (http_parser_init(&p, lim) != 0)
        fuzz_die("http_parser_init failed");
    size_t pos = 0;
    uint32_t x = seed;
    while (pos < len && run->error == 0 && run->n_reqs < FUZZ_MAX_REQS) {
        size_t chunk = len - pos;
        if (seed != 0) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            chunk = 1 + x % 32u;
            if (chunk > len - pos)
                chunk = len - pos;
        }
        size_t used = 0;
        int rc = http_parser_feed(&p, in + pos, chunk, &used);
        if (used > chunk)
            fuzz_die("feed consumed more than it was given");
        pos += used;
        if (rc < 0) {
            run->error = rc;
            if (http_error_status(rc) < 400 || http_error_status(rc) > 599)
                fuzz_die("error maps to a non-error status");
            (void)http_strerror(rc);
            break;
        }
        if (rc == HTTP_DONE) {
            fuzz_record(run, http_parser_request(&p), lim);
            run->n_reqs++;
            http_parser_reset(&p);
        } else if (rc != 0) {
            fuzz_die("feed returned an undocumented value");
        } else if (used != chunk) {
            fuzz_die("feed needs more bytes but left some unconsumed");
        }
    }
    http_parser_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_http_run whole, chunked;
    if (size < 2)
        return 0;
    struct http_limits lim;
    http_limits_default(&lim);
    if (data[0] & 1) {
        lim.max_line = 40;
        lim.max_headers = 4;
        lim.max_head_bytes = 160;
        lim.max_body = 24;
    }
    uint32_t seed = (uint32_t)data[1] * 2246822519u + 1u;
    fuzz_parse(data + 2, size - 2, &lim, 0, &whole);
    fuzz_parse(data + 2, size - 2, &lim, seed, &chunked);
    if (whole.n_reqs != chunked.n_reqs || whole.error != chunked.error ||
        whole.len != chunked.len ||
        memcmp(whole.digest, chunked.digest, whole.len) != 0)
        fuzz_die("chunked and whole parsing disagree");
    return 0;
}
