/*
 * scrape.c - one GET /metrics over a plain connection, read until the
 * server closes it (Connection: close), then the sample looked up by its
 * line prefix.
 */
#include "test/e2e/helpers/scrape.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"
#include "test/e2e/helpers/raw.h"

double e2e_metric(uint16_t admin_port, const char *sample)
{
    int fd = e2e_connect(admin_port);
    ck_assert_int_ge(fd, 0);
    const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: "
                      "close\r\n\r\n";
    ck_assert_int_eq(raw_send(fd, (const uint8_t *)req, strlen(req)), 0);
    static char body[1 << 20];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof body - 1 &&
           (r = read(fd, body + n, sizeof body - 1 - n)) > 0) {
        n += (size_t)r;
    }
    body[n] = '\0';
    close(fd);
    char pat[256];
    snprintf(pat, sizeof pat, "\n%s ", sample);
    const char *p = strstr(body, pat);
    return p != NULL ? strtod(p + strlen(pat), NULL) : -1;
}
