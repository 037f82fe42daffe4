/*
 * e2e.h - helpers for end-to-end tests that drive the real binaries.
 *
 * A test starts `metastored` as a child process on free loopback ports with
 * a temporary data directory, waits (with a deadline) until it answers,
 * talks to it through the client library, `metastore-cli` or raw sockets,
 * and stops it with a signal.  The binaries are found in the build
 * directory the test program itself was built into (build/test/e2e/x ->
 * build/), so `make test` and `make test-asan` each test their own build.
 */
#ifndef METASTORE_TEST_E2E_H
#define METASTORE_TEST_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct e2e_server {
    pid_t pid;              /* 0 when not running */
    char dir[256];          /* data directory */
    char log_path[300];     /* the server's stderr */
    uint16_t client_port;
    uint16_t peer_port;
    uint16_t admin_port;
    char endpoint[64];      /* "127.0.0.1:<client_port>" */
};

/* Path of a binary of this build ("metastored", "metastore-cli"). */
const char *e2e_bin(const char *name);

/* A port on 127.0.0.1 that was free a moment ago. */
uint16_t e2e_free_port(void);

/* Fills *s with fresh ports and a new temporary data directory. */
void e2e_server_init(struct e2e_server *s);

/*
 * Starts metastored for s (same ports and data dir every time, so it can be
 * restarted), with extra flags (NULL-terminated list, may be NULL), and
 * waits up to timeout_ms until it answers a Ping.  Returns 0, or -1 when it
 * exited or never answered (its log is printed to stderr then).
 */
int e2e_server_start(struct e2e_server *s, const char *const *extra,
                     int timeout_ms);

/* Sends `sig`; waits up to timeout_ms for the exit.  Returns the raw wait
 * status, or -1 on timeout (the process is then killed with SIGKILL). */
int e2e_server_stop(struct e2e_server *s, int sig, int timeout_ms);

/* Removes the data directory. */
void e2e_server_cleanup(struct e2e_server *s);

/* True when the server's log contains `needle`. */
bool e2e_server_log_contains(const struct e2e_server *s, const char *needle);

/*
 * Runs metastore-cli with --endpoints=<endpoint> and args (NULL-terminated),
 * feeding `input` (may be NULL) on stdin.  Captures stdout into out
 * (NUL-terminated, cut at cap-1) and stderr into err (may be NULL).
 * Returns the exit code, or -1 if it could not run.
 */
int e2e_cli(const char *endpoint, const char *input, char *out, size_t cap,
            char *err, size_t err_cap, const char *const *args);

/* Monotonic milliseconds. */
uint64_t e2e_now_ms(void);

/* A TCP connection to 127.0.0.1:port (blocking, 5 s send/receive
 * timeouts), or -1. */
int e2e_connect(uint16_t port);

/* TLS options every client the helpers open uses (the start-up Ping of
 * e2e_server_start and the cluster helpers included); NULL, the default,
 * is plain TCP.  A test of a TLS port sets it before starting servers. */
struct ms_tls_options;
extern const struct ms_tls_options *e2e_client_tls;

/*
 * Makes throwaway certificates with scripts/gen-test-certs.sh (found by
 * walking up from the test binary) into a new temporary directory, once
 * per process, and returns the directory, or NULL when the openssl
 * command is missing (the caller skips its TLS tests, loudly).
 * extra_sans as the script takes it (NULL: none).  e2e_tls_certs_cleanup()
 * removes the directory.
 */
const char *e2e_tls_certs(const char *extra_sans);
void e2e_tls_certs_cleanup(void);
/* "<certs dir>/<name>" in a static buffer (a few at a time). */
const char *e2e_tls_path(const char *name);

#endif /* METASTORE_TEST_E2E_H */
