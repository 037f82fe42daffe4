/*
 * log.h - the server's logger.
 *
 * One line per event, to stderr: text for people ("2026-11-25T12:00:00.123Z
 * INFO  [node 1 term 3 leader] elected leader") or JSON lines for log
 * collectors ({"ts":"...","level":"info","node":1,"term":3,"role":"leader",
 * "msg":"elected leader"}).  Each line carries the node id, term and role,
 * taken from a context the node driver keeps up to date.  An error is logged
 * once, where it is handled.
 *
 * The logger is process-wide state: one daemon, one log.  It is configured
 * once at start-up, before the loop runs, and used only from the loop thread
 * (worker threads hand their results back to the loop, which logs).
 */
#ifndef METASTORE_SERVER_LOG_H
#define METASTORE_SERVER_LOG_H

#include <stdint.h>

enum ms_log_level {
    MS_LOG_DEBUG = 0,
    MS_LOG_INFO,
    MS_LOG_WARN,
    MS_LOG_ERROR,
};

enum ms_log_format {
    MS_LOG_TEXT = 0,
    MS_LOG_JSON,
};

/* Sets the threshold and format.  Lines below `level` are dropped. */
void ms_log_configure(enum ms_log_level level, enum ms_log_format format);
/* Updates the node context printed on every line (0 = unknown). */
void ms_log_set_node(uint64_t node_id);
void ms_log_set_raft(uint64_t term, const char *role);
/* Parses "debug"/"info"/"warn"/"error"; -1 if unknown. */
int ms_log_level_parse(const char *s);
const char *ms_log_level_name(enum ms_log_level level);
/* True when a line at `level` would be written (to skip costly formatting). */
int ms_log_enabled(enum ms_log_level level);

/* Writes one line (printf-style, no trailing newline needed). */
void ms_log(enum ms_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define ms_debug(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_error(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)

#endif /* METASTORE_SERVER_LOG_H */
