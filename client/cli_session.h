/*
 * cli_session.h - what `metastore-cli lock` and `elect` share (etcd's
 * concurrency package, in C): a session (a TTL lease kept alive in the
 * background), a campaign (a key NAME/<lease id> under that lease, then
 * waiting on Watch until no key under NAME/ was created before it), and a
 * wake-up pipe that turns SIGINT/SIGTERM, the loss of the lease and the
 * exit of a child process into one thing to wait on.
 *
 * Private to metastore-cli (client/cli_lock.c, client/cli_elect.c); not
 * part of the library's API.  Prefix: mscli_.
 */
#ifndef METASTORE_CLIENT_CLI_SESSION_H
#define METASTORE_CLIENT_CLI_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/metastore.h"

/* How to reach the cluster (the global flags). */
struct mscli_conn {
    const char *endpoints; /* comma-separated */
    uint64_t dial_ns, command_ns;
    const struct ms_tls_options *tls; /* NULL: plain TCP */
    const char *user, *password;      /* --user (NULL: none) */
};

struct mscli_session {
    struct ms_client *c;
    struct ms_keepalive *ka;
    int64_t lease_id;
    int wake[2]; /* self-pipe: [0] to poll, [1] written on every event */
};

/* Set by the SIGINT/SIGTERM and SIGCHLD handlers mscli_session_open()
 * installs. */
extern volatile sig_atomic_t mscli_interrupted;
extern volatile sig_atomic_t mscli_child_exited;

/*
 * Connects, grants a lease of ttl_s seconds, starts its background
 * keep-alive and installs handlers for SIGINT, SIGTERM (set
 * mscli_interrupted) and SIGCHLD, each of which writes to the wake-up pipe
 * (so does the loss of the lease).  Returns 0, or prints "Error: ..." and
 * returns EXIT_FAILURE (everything it had set up is undone).
 */
int mscli_session_open(struct mscli_session *s, const struct mscli_conn *conn,
                       int64_t ttl_s);

/* Stops the keep-alive and, when revoke is true, revokes the lease (which
 * deletes the session's keys: releases a lock, resigns an election);
 * closes the client and the pipe.  Safe on a session that failed to open. */
void mscli_session_close(struct mscli_session *s, bool revoke);

/* True once the keep-alive gave the lease up (expired, revoked, or no
 * renewal reached the leader for a whole TTL). */
bool mscli_session_lost(struct mscli_session *s);

/* Waits until something was written to the wake-up pipe or timeout_ms
 * passed (-1: no limit), then drains the pipe. */
void mscli_session_wait(struct mscli_session *s, int timeout_ms);

/* Outcomes of mscli_campaign() besides 0 (won) and MS_E* codes. */
#define MSCLI_INTERRUPTED 1 /* SIGINT or SIGTERM */
#define MSCLI_LOST        2 /* the lease (so the key) is gone */
#define MSCLI_CHILD       3 /* a child process exited (mscli_hold) */

/*
 * etcd's campaign (concurrency.Mutex.Lock and Election.Campaign): puts
 * prefix + <lease id in hex> = value under the session's lease unless it
 * exists (a Txn, so a retry after a broken connection is harmless), then,
 * until no key under prefix has a lower create revision than ours, finds
 * the one created just before ours and waits on a Watch from the Range's
 * revision + 1 until it is deleted.  Transient failures (an election, a
 * node down) are retried while the lease lives.
 *
 * key (key_cap bytes) receives the key, *rev its create revision.  Returns
 * 0 when the key is the oldest under prefix (the lock is held, the
 * election won), MSCLI_INTERRUPTED, MSCLI_LOST, or an MS_E* code with a
 * sentence in err.
 */
int mscli_campaign(struct mscli_session *s, const char *prefix,
                   const char *value, char *key, size_t key_cap, int64_t *rev,
                   char *err, size_t err_cap);

/*
 * Holds what mscli_campaign() won: watches key (create revision rev) until
 * it is deleted or the lease is lost (MSCLI_LOST: a revoke, an expiry, a
 * `del` by someone else all end the hold at once), SIGINT/SIGTERM
 * (MSCLI_INTERRUPTED) or, with watch_child, SIGCHLD (MSCLI_CHILD).  While
 * the cluster cannot be reached it keeps trying; the keep-alive decides
 * when the lease is lost.  Reacts within about 250 ms (the watch's
 * progress probe).
 */
int mscli_hold(struct mscli_session *s, const char *key, int64_t rev,
               bool watch_child);

/* Splits conn->endpoints and opens a client (not connected yet).  0, or
 * prints the error and returns EXIT_FAILURE. */
int mscli_conn_client(const struct mscli_conn *conn, struct ms_client **c);

/* True for failures worth retrying: no leader yet, a node down. */
bool mscli_transient(int rc);

/* ---- elect (cli_elect.c) ---------------------------------------------- */

struct mscli_elect_args {
    struct mscli_conn conn;
    const char *name;
    const char *proposal; /* NULL with listen */
    bool listen;          /* -l: print each new leader */
    int64_t ttl_s;        /* the campaign's lease TTL */
};
/* `elect NAME PROPOSAL` / `elect -l NAME`: the exit status, or -1 for a
 * usage error (the caller prints the usage). */
int mscli_elect_main(const struct mscli_elect_args *a);

#endif /* METASTORE_CLIENT_CLI_SESSION_H */
