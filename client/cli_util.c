/*
 * cli_util.c - the error line every metastore-cli command prints on
 * failure (cli_util.h, "errors"), shared by cli.c and the command files
 * so that they all say it the same way.
 */
#include "client/cli_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int mscli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}
