/*
 * util.c - the client library's small pure helpers: error names and texts,
 * server status to error mapping, endpoint parsing and prefix range ends.
 * Nothing here does I/O; everything is covered by unit tests.
 */
#include "client/metastore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *ms_strerror(int code)
{
    switch (code) {
#define MS__ERR_TEXT(name, value, text)                                        \
    case name:                                                                 \
        return text;
        MS_ERRORS(MS__ERR_TEXT)
#undef MS__ERR_TEXT
    case 0:
        return "success";
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        return strerror(-code);
    }
    return "unknown error";
}

const char *ms_err_name(int code)
{
    switch (code) {
#define MS__ERR_NAME(name, value, text)                                        \
    case name:                                                                 \
        return #name;
        MS_ERRORS(MS__ERR_NAME)
#undef MS__ERR_NAME
    case 0:
        return "OK";
    case -ECONNREFUSED:
        return "ECONNREFUSED";
    case -ECONNRESET:
        return "ECONNRESET";
    case -EPIPE:
        return "EPIPE";
    case -EHOSTUNREACH:
        return "EHOSTUNREACH";
    case -ENETUNREACH:
        return "ENETUNREACH";
    case -ENOMEM:
        return "ENOMEM";
    case -EINVAL:
        return "EINVAL";
    default:
        return "UNKNOWN";
    }
}

int ms_status_to_error(int status)
{
    switch (status) {
    case MS_STATUS_OK:
        return 0;
    case MS_STATUS_INVALID_ARGUMENT:
        return MS_EINVAL;
    case MS_STATUS_NOT_FOUND:
        return MS_ENOTFOUND;
    case MS_STATUS_FAILED_PRECONDITION:
        return MS_EPRECONDITION;
    case MS_STATUS_NOT_LEADER:
        return MS_ENOTLEADER;
    case MS_STATUS_UNAVAILABLE:
        return MS_EUNAVAILABLE;
    case MS_STATUS_DEADLINE_EXCEEDED:
        return MS_ETIMEDOUT;
    case MS_STATUS_RESOURCE_EXHAUSTED:
        return MS_EEXHAUSTED;
    case MS_STATUS_UNIMPLEMENTED:
        return MS_EUNIMPLEMENTED;
    case MS_STATUS_INTERNAL:
        return MS_EINTERNAL;
    case MS_STATUS_COMPACTED:
        return MS_ECOMPACTED;
    case MS_STATUS_PERMISSION_DENIED:
        return MS_EDENIED;
    case MS_STATUS_UNAUTHENTICATED:
        return MS_EUNAUTHENTICATED;
    default:
        return MS_ESERVER;
    }
}

const char *ms_status_name(int status)
{
    switch (status) {
    case MS_STATUS_OK:
        return "OK";
    case MS_STATUS_INVALID_ARGUMENT:
        return "INVALID_ARGUMENT";
    case MS_STATUS_DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
    case MS_STATUS_NOT_FOUND:
        return "NOT_FOUND";
    case MS_STATUS_PERMISSION_DENIED:
        return "PERMISSION_DENIED";
    case MS_STATUS_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    case MS_STATUS_FAILED_PRECONDITION:
        return "FAILED_PRECONDITION";
    case MS_STATUS_UNIMPLEMENTED:
        return "UNIMPLEMENTED";
    case MS_STATUS_INTERNAL:
        return "INTERNAL";
    case MS_STATUS_UNAVAILABLE:
        return "UNAVAILABLE";
    case MS_STATUS_UNAUTHENTICATED:
        return "UNAUTHENTICATED";
    case MS_STATUS_NOT_LEADER:
        return "NOT_LEADER";
    case MS_STATUS_COMPACTED:
        return "COMPACTED";
    default:
        return "UNKNOWN";
    }
}

/* Copies [s, s+n) into host as a C string; MS_EINVAL if it does not fit or
 * is empty. */
static int copy_host(const char *s, size_t n, char *host, size_t host_size)
{
    if (n == 0 || n >= host_size) {
        return MS_EINVAL;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
    if (*s == '\0' || strlen(s) > 5) {
        return MS_EINVAL;
    }
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return MS_EINVAL;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 65535) {
        return MS_EINVAL;
    }
    *port = (uint16_t)v;
    return 0;
}

int ms_endpoint_parse(const char *endpoint, char *host, size_t host_size,
                      uint16_t *port)
{
    if (endpoint == NULL || host == NULL || port == NULL) {
        return MS_EINVAL;
    }
    const char *s = endpoint;
    if (strncmp(s, "http://", 7) == 0) {
        s += 7;
    } else if (strstr(s, "://") != NULL) {
        return MS_EINVAL; /* https:// and friends: TLS is not supported */
    }
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '/') {
        len--; /* "http://host:port/" as etcd users often write it */
    }
    char buf[300];
    if (len == 0 || len >= sizeof(buf)) {
        return MS_EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || copy_host(buf + 1, (size_t)(close - buf - 1), host,
                                       host_size) != 0) {
            return MS_EINVAL;
        }
        if (close[1] == '\0') {
            *port = MS_DEFAULT_PORT;
            return 0;
        }
        return close[1] == ':' ? parse_port(close + 2, port) : MS_EINVAL;
    }
    char *colon = strchr(buf, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        /* Several colons and no brackets: a bare IPv6 address. */
        *port = MS_DEFAULT_PORT;
        return copy_host(buf, len, host, host_size);
    }
    if (colon == NULL) {
        *port = MS_DEFAULT_PORT;
        return copy_host(buf, len, host, host_size);
    }
    if (copy_host(buf, (size_t)(colon - buf), host, host_size) != 0) {
        return MS_EINVAL;
    }
    return parse_port(colon + 1, port);
}

int ms_prefix_range_end(const void *key, size_t key_len, uint8_t **end,
                        size_t *end_len)
{
    const uint8_t *k = key;
    size_t n = key_len;
    while (n > 0 && k[n - 1] == 0xff) {
        n--;
    }
    if (n == 0) {
        /* No byte can be incremented: every key from here on ("\0"). */
        *end = calloc(1, 1);
        if (*end == NULL) {
            return MS_ENOMEM;
        }
        *end_len = 1;
        return 0;
    }
    *end = malloc(n);
    if (*end == NULL) {
        return MS_ENOMEM;
    }
    memcpy(*end, k, n);
    (*end)[n - 1]++;
    *end_len = n;
    return 0;
}
