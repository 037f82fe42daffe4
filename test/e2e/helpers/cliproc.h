/*
 * cliproc.h - metastore-cli as a long-running child process (lock, elect,
 * watch): started in its own process group with stdout and stderr going
 * to files, so a test can wait (with a deadline) for what it prints, send
 * it signals, kill it with -9, and collect its exit status.  The child
 * gets PR_SET_PDEATHSIG, so it dies with a test that fails half-way.
 */
#ifndef METASTORE_TEST_CLIPROC_H
#define METASTORE_TEST_CLIPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cliproc {
    pid_t pid; /* 0 once reaped */
    int status; /* exit status once reaped (128 + signal if killed) */
    char out_path[320];
    char err_path[320];
};

/* Starts `metastore-cli --endpoints=<endpoints> <args...>` (args
 * NULL-terminated) with stdout/stderr in dir/<tag>.out and .err. */
void cliproc_start(struct cliproc *p, const char *dir, const char *tag,
                   const char *endpoints, const char *const *args);

/* What it printed so far on stdout (NUL-terminated, cut at cap-1). */
size_t cliproc_out(const struct cliproc *p, char *buf, size_t cap);
/* True when stdout / stderr contains needle. */
bool cliproc_out_contains(const struct cliproc *p, const char *needle);
bool cliproc_err_contains(const struct cliproc *p, const char *needle);
/* Waits up to timeout_ms until stdout contains needle. */
bool cliproc_wait_out(const struct cliproc *p, const char *needle,
                      int timeout_ms);

/* Sends sig to the cli process itself. */
void cliproc_signal(struct cliproc *p, int sig);
/* Waits up to timeout_ms for the exit; returns the exit status (128 +
 * signal when a signal ended it), or -1 at the deadline. */
int cliproc_wait_exit(struct cliproc *p, int timeout_ms);
/* SIGKILL to the whole process group (the cli and its command), reaped. */
void cliproc_kill(struct cliproc *p);
/* True while it runs (not reaped). */
bool cliproc_running(struct cliproc *p);

#endif /* METASTORE_TEST_CLIPROC_H */
