/*
 * cli_lock.c - `metastore-cli lock NAME [COMMAND ARGS...]`: a distributed
 * mutex with etcdctl's algorithm (etcd's concurrency.Mutex), on the
 * session and campaign of client/cli_session.c:
 *
 *   1. grant a lease (--ttl, 60 s) and keep it alive in the background;
 *   2. put NAME/<lease id in hex> with that lease: the key's create
 *      revision is this waiter's place in the queue;
 *   3. while a key under NAME/ has a lower create revision, watch the one
 *      just before ours until it is deleted (its holder released the lock,
 *      gave up, or its lease ran out), then look again;
 *   4. holding the lock: run COMMAND (environment ETCD_LOCK_KEY,
 *      ETCD_LOCK_REV, METASTORE_LOCK_KEY, METASTORE_LOCK_REV) and exit with
 *      its status, or, without a command, print the key and hold until
 *      SIGINT/SIGTERM;
 *   5. release: revoke the lease, which deletes the key and wakes the next
 *      waiter.
 *
 * Failure modes: if the lease is lost (the keep-alive could not reach the
 * leader for a whole TTL, the lease was revoked, the key was deleted) the
 * lock is no longer held: that is reported on stderr at once, a running
 * command gets SIGTERM (it no longer has the mutual exclusion it was
 * started for) and the exit status is 1.  SIGINT/SIGTERM while waiting
 * gives up the place in the queue (exit 1 as etcdctl's interrupted lock
 * does); while a command runs it is passed on to the command.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/cli_session.h"
#include "client/cli_util.h"
#include "client/metastore.h"

/* Starts argv with the lock's environment; the pid, or -1 (reported). */
static pid_t start_command(char *const *argv, const char *key, int64_t rev)
{
    char revs[32];
    snprintf(revs, sizeof revs, "%" PRId64, rev);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "Error: cannot start %s: %s\n", argv[0],
                strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        setenv("ETCD_LOCK_KEY", key, 1);
        setenv("ETCD_LOCK_REV", revs, 1);
        setenv("METASTORE_LOCK_KEY", key, 1);
        setenv("METASTORE_LOCK_REV", revs, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "Error: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    return pid;
}

/* The exit status a shell would give for a wait status. */
static int exit_status(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/*
 * Runs the command while holding the lock: waits for its exit, passing
 * SIGINT/SIGTERM on, and ends it with SIGTERM if the lock is lost.
 * Returns the command's exit status, or 1 when the lock was lost.
 */
static int run_locked(struct mscli_session *s, char *const *argv,
                      const char *key, int64_t rev)
{
    pid_t pid = start_command(argv, key, rev);
    if (pid < 0) {
        return EXIT_FAILURE;
    }
    bool lost = false, passed_on = false;
    int status = 0;
    for (;;) {
        /* Cleared before looking, so an exit after the look is seen. */
        mscli_child_exited = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            break;
        }
        if (mscli_interrupted && !passed_on) {
            kill(pid, SIGTERM);
            passed_on = true;
        }
        if (lost || passed_on) {
            mscli_session_wait(s, 1000); /* only the exit matters now */
            continue;
        }
        if (mscli_hold(s, key, rev, true) == MSCLI_LOST) {
            fprintf(stderr, "Error: the lock %s was lost while %s was "
                            "running (its lease is gone); stopping it\n",
                    key, argv[0]);
            lost = true;
            kill(pid, SIGTERM);
        }
    }
    return lost ? EXIT_FAILURE : exit_status(status);
}

int mscli_lock_main(const struct mscli_lock_args *a)
{
    if (a->name == NULL || a->name[0] == '\0' || a->ttl_s <= 0) {
        return -1;
    }
    struct mscli_conn conn = {.endpoints = a->endpoints,
                              .dial_ns = a->dial_ns,
                              .command_ns = a->command_ns,
                              .tls = a->tls,
                              .user = a->user,
                              .password = a->password};
    struct mscli_session s;
    if (mscli_session_open(&s, &conn, a->ttl_s) != 0) {
        return EXIT_FAILURE;
    }
    char prefix[1024], key[1100], err[512] = "";
    snprintf(prefix, sizeof prefix, "%s/", a->name);
    int64_t rev = 0;
    int rc = mscli_campaign(&s, prefix, "", key, sizeof key, &rev, err,
                            sizeof err);
    int status;
    if (rc == 0 && a->argc > 0) {
        status = run_locked(&s, a->argv, key, rev);
    } else if (rc == 0) {
        printf("%s\n", key);
        fflush(stdout);
        rc = mscli_hold(&s, key, rev, false);
        status = EXIT_SUCCESS;
        if (rc == MSCLI_LOST) {
            fprintf(stderr, "Error: the lock %s was lost (its lease is "
                            "gone)\n", key);
            status = EXIT_FAILURE;
        }
    } else if (rc == MSCLI_INTERRUPTED) {
        status = EXIT_FAILURE; /* gave up waiting */
    } else if (rc == MSCLI_LOST) {
        fprintf(stderr, "Error: the lock's lease was lost while waiting "
                        "for the lock\n");
        status = EXIT_FAILURE;
    } else {
        fprintf(stderr, "Error: %s\n", err[0] != '\0' ? err : ms_strerror(rc));
        status = EXIT_FAILURE;
    }
    mscli_session_close(&s, true); /* releases the lock (deletes the key) */
    return status;
}
