/*
 * status.c - names and meanings of the status codes (see status.h).
 *
 * Each lookup is a switch generated from SRV_STATUS_CODES, so a code added to
 * the table is named everywhere at once.  Unknown numbers (from a newer peer
 * or garbage) get "UNKNOWN" rather than a crash.
 */
#include "server/status.h"

const char *srv_status_name(int code)
{
    switch (code) {
#define SRV__STATUS_NAME(name, num, text)                                      \
    case num:                                                                  \
        return #name;
        SRV_STATUS_CODES(SRV__STATUS_NAME)
#undef SRV__STATUS_NAME
    default:
        return "UNKNOWN";
    }
}

const char *srv_status_text(int code)
{
    switch (code) {
#define SRV__STATUS_TEXT(name, num, text)                                      \
    case num:                                                                  \
        return text;
        SRV_STATUS_CODES(SRV__STATUS_TEXT)
#undef SRV__STATUS_TEXT
    default:
        return "unknown status code";
    }
}

int srv_status_known(int code)
{
    switch (code) {
#define SRV__STATUS_KNOWN(name, num, text) case num:
        SRV_STATUS_CODES(SRV__STATUS_KNOWN)
#undef SRV__STATUS_KNOWN
        return 1;
    default:
        return 0;
    }
}
