/*
 * bench_http.c - the wire side of `metastore-bench --http`: requests in
 * etcd v3's JSON gateway shape over HTTP/1.1 keep-alive, and a minimal
 * parser of the responses, so one tool measures both MetaStore's HTTP API
 * and etcd's gateway (POST /v3/kv/range on etcd's client port).
 *
 * Only what the benchmark needs: Content-Length bodies (both servers send
 * them for these requests), status line, and the "code" of an error body.
 * A response without Content-Length, or bytes that are not HTTP, are a
 * protocol error for the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/bench_util.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding of in[0..n) into out (4 * ceil(n/3)). */
static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= in[i + 2];
        }
        out[k++] = b64[v >> 18];
        out[k++] = b64[(v >> 12) & 63];
        out[k++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? b64[v & 63] : '=';
    }
    return k;
}

size_t bench_http_request(char *out, size_t cap, enum bench_http_kind k,
                          const char *host, const char *key, size_t key_len,
                          const uint8_t *value, size_t value_len,
                          bool serializable)
{
    size_t kb = (key_len + 2) / 3 * 4, vb = (value_len + 2) / 3 * 4;
    char *body = malloc(kb + vb + 96);
    if (body == NULL) {
        return (size_t)-1;
    }
    size_t n = 0;
    const char *path = "/v3/maintenance/status";
    if (k == BENCH_HTTP_RANGE || k == BENCH_HTTP_PUT) {
        path = k == BENCH_HTTP_RANGE ? "/v3/kv/range" : "/v3/kv/put";
        memcpy(body, "{\"key\":\"", 8);
        n = 8;
        n += b64_encode((const uint8_t *)key, key_len, body + n);
        body[n++] = '"';
        if (k == BENCH_HTTP_PUT) {
            memcpy(body + n, ",\"value\":\"", 10);
            n += 10;
            n += b64_encode(value, value_len, body + n);
            body[n++] = '"';
        } else if (serializable) {
            memcpy(body + n, ",\"serializable\":true", 20);
            n += 20;
        }
        body[n++] = '}';
    } else {
        memcpy(body, "{}", 2);
        n = 2;
    }
    int h = snprintf(out, cap,
                     "POST %s HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, host, n);
    size_t need = h > 0 ? (size_t)h + n : (size_t)-1;
    if (h > 0 && need <= cap) {
        memcpy(out + h, body, n);
    }
    free(body);
    return need;
}

/* The first occurrence of needle in p[0..n), or NULL. */
static const uint8_t *find(const uint8_t *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(p + i, needle, k) == 0) {
            return p + i;
        }
    }
    return NULL;
}

/* Case-insensitive "Content-Length:" in the head; its value or -1. */
static long content_length(const char *head)
{
    static const char name[] = "\r\ncontent-length:";
    for (const char *s = head; *s != '\0'; s++) {
        size_t i = 0;
        while (name[i] != '\0' && s[i] != '\0' &&
               (s[i] | 0x20) == (name[i] | 0x20)) {
            i++;
        }
        if (name[i] == '\0') {
            char *end;
            long v = strtol(s + i, &end, 10);
            return end != s + i && v >= 0 ? v : -1;
        }
    }
    return -1;
}

int bench_http_response(const uint8_t *p, size_t n, size_t *used, int *code)
{
    if (n >= 5 && memcmp(p, "HTTP/", 5) != 0) {
        return -1;
    }
    const uint8_t *eoh = find(p, n, "\r\n\r\n");
    if (eoh == NULL) {
        return n > 65536 ? -1 : 0;
    }
    size_t head_len = (size_t)(eoh - p) + 4;
    char *head = malloc(head_len + 1);
    if (head == NULL) {
        return -1;
    }
    memcpy(head, p, head_len);
    head[head_len] = '\0';
    int status = 0;
    long len = content_length(head);
    int ok = sscanf(head, "HTTP/1.%*d %d", &status);
    free(head);
    if (ok == 1 && status == 100) { /* an interim answer: skip it */
        *used = head_len;
        *code = -100;
        return 1;
    }
    if (ok != 1 || len < 0) {
        return -1;
    }
    if (n - head_len < (size_t)len) {
        return 0;
    }
    *used = head_len + (size_t)len;
    if (status >= 200 && status < 300) {
        *code = 0;
        return 1;
    }
    *code = status;
    const uint8_t *end = p + head_len + len;
    const uint8_t *c = find(p + head_len, (size_t)len, "\"code\":");
    if (c != NULL) {
        int v = 0;
        for (c += 7; c < end && *c >= '0' && *c <= '9' && v < 100000; c++) {
            v = v * 10 + (*c - '0');
        }
        if (v > 0) {
            *code = v;
        }
    }
    return 1;
}
