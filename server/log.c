/*
 * log.c - text and JSON log lines for metastored (see log.h).
 *
 * Happy path: format the message into a stack buffer, prefix it with a UTC
 * timestamp, the level and the node context, write it with one fputs so
 * lines from one process never interleave.  Failure modes: a message longer
 * than the buffer is cut and marked with "..."; a write error to stderr is
 * ignored (there is nowhere left to report it).
 */
#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct {
    enum ms_log_level level;
    enum ms_log_format format;
    uint64_t node_id;
    uint64_t term;
    char role[16];
} g_log = {MS_LOG_INFO, MS_LOG_TEXT, 0, 0, "-"};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ms_log_configure(enum ms_log_level level, enum ms_log_format format)
{
    g_log.level = level;
    g_log.format = format;
}

void ms_log_set_node(uint64_t node_id)
{
    g_log.node_id = node_id;
}

void ms_log_set_raft(uint64_t term, const char *role)
{
    g_log.term = term;
    snprintf(g_log.role, sizeof g_log.role, "%s", role ? role : "-");
}

int ms_log_level_parse(const char *s)
{
    for (int i = 0; i <= MS_LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        return MS_LOG_WARN;
    }
    return -1;
}

const char *ms_log_level_name(enum ms_log_level level)
{
    return (unsigned)level <= MS_LOG_ERROR ? level_names[level] : "?";
}

int ms_log_enabled(enum ms_log_level level)
{
    return level >= g_log.level;
}

/* Appends `s` to out as the body of a JSON string, escaping as needed. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s != '\0' && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

void ms_log(enum ms_log_level level, const char *fmt, ...)
{
    if (!ms_log_enabled(level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (len >= (int)sizeof msg) {
        memcpy(msg + sizeof msg - 4, "...", 4);
    }

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof when - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof when - wn, ".%03uZ",
             (unsigned)(ts.tv_nsec / 1000000) % 1000u);

    char line[4200];
    if (g_log.format == MS_LOG_JSON) {
        char esc[3000];
        json_escape(esc, sizeof esc, msg);
        snprintf(line, sizeof line,
                 "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":%llu,\"term\":%llu,"
                 "\"role\":\"%s\",\"msg\":\"%s\"}\n",
                 when, level_names[level], (unsigned long long)g_log.node_id,
                 (unsigned long long)g_log.term, g_log.role, esc);
    } else {
        snprintf(line, sizeof line, "%s %-5s [node %llu term %llu %s] %s\n",
                 when, level_names[level], (unsigned long long)g_log.node_id,
                 (unsigned long long)g_log.term, g_log.role, msg);
    }
    fputs(line, stderr);
}
