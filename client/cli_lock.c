/*
 * cli_lock.c - `metastore-cli lock NAME [COMMAND ARGS...]`: a distributed
 * mutex with etcdctl's algorithm (etcd's concurrency.Mutex):
 *
 *   1. grant a lease (--ttl, 60 s) and keep it alive in the background;
 *   2. put NAME/<lease id in hex> with that lease: the key's create
 *      revision is this waiter's place in the queue;
 *   3. wait until no key under NAME/ has a lower create revision (every
 *      earlier waiter released the lock, or its lease ran out);
 *   4. holding the lock: run COMMAND (environment ETCD_LOCK_KEY,
 *      ETCD_LOCK_REV and METASTORE_LOCK_KEY set) and exit with its status,
 *      or, without a command, print the key and hold until interrupted;
 *   5. release: revoke the lease, which deletes the key.
 *
 * Step 3 polls (every 100 ms) for now; it will wait on a Watch of the
 * preceding key once the Watch API is served.  If the keep-alive loses the
 * lease while waiting or holding, the lock is lost: the command is still
 * waited for, and the exit status is 1 with an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/cli_util.h"
#include "client/metastore.h"

#define POLL_NS (100ull * 1000 * 1000)

static volatile sig_atomic_t lock_interrupted;

static void on_lock_signal(int sig)
{
    (void)sig;
    lock_interrupted = 1;
}

static int kfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int kfail(const char *fmt, ...)
{
    va_list ap;
    fputs("Error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}

static void nap_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull),
                          (long)(ns % 1000000000ull)};
    nanosleep(&ts, NULL);
}

/*
 * Waits until the oldest key under prefix is ours (create revision
 * my_rev).  0 when acquired, 1 when interrupted or the lease was lost, or
 * an MS_E* code.
 */
static int wait_turn(struct ms_client *c, const char *prefix,
                     const char *key, struct ms_keepalive *ka)
{
    struct ms_range_options o = {.prefix = true,
                                 .limit = 1,
                                 .keys_only = true,
                                 .sort_target = MS_SORT_CREATE,
                                 .sort_order = MS_SORT_ASCEND};
    for (;;) {
        if (lock_interrupted || ms_keepalive_lost(ka)) {
            return 1;
        }
        struct ms_result *r = NULL;
        int rc = ms_get(c, prefix, strlen(prefix), &o, &r);
        if (rc != 0) {
            ms_result_free(r);
            if (rc == MS_EUNAVAILABLE || rc == MS_ETIMEDOUT ||
                rc == MS_ENOTLEADER) {
                nap_ns(POLL_NS); /* an election: ask again */
                continue;
            }
            return rc;
        }
        bool mine = r->range.n_kvs == 1 &&
                    r->range.kvs[0].key_len == strlen(key) &&
                    memcmp(r->range.kvs[0].key, key, strlen(key)) == 0;
        bool empty = r->range.n_kvs == 0;
        ms_result_free(r);
        if (mine) {
            return 0;
        }
        if (empty) {
            return 1; /* our own key is gone: the lease ran out */
        }
        nap_ns(POLL_NS); /* an earlier waiter holds it (a Watch later) */
    }
}

/* Runs argv with the lock's environment; returns its exit status. */
static int run_command(char *const *argv, const char *key, int64_t rev)
{
    char revs[32];
    snprintf(revs, sizeof revs, "%" PRId64, rev);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return kfail("cannot start %s: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        setenv("ETCD_LOCK_KEY", key, 1);
        setenv("ETCD_LOCK_REV", revs, 1);
        setenv("METASTORE_LOCK_KEY", key, 1);
        execvp(argv[0], argv);
        fprintf(stderr, "Error: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            return kfail("waitpid: %s", strerror(errno));
        }
        if (lock_interrupted) {
            kill(pid, SIGTERM); /* pass the interrupt on, then wait */
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Holds the lock until a signal (or the lease is lost). */
static int hold(struct ms_keepalive *ka)
{
    while (!lock_interrupted && !ms_keepalive_lost(ka)) {
        nap_ns(POLL_NS);
    }
    return 0;
}

int mscli_lock_main(const struct mscli_lock_args *a)
{
    if (a->name == NULL || a->name[0] == '\0' || a->ttl_s <= 0) {
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_lock_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char **eps = NULL;
    size_t n = 0;
    char err[256] = "";
    if (mscli_endpoints_parse(a->endpoints, &eps, &n, err, sizeof err)) {
        return kfail("%s", err);
    }
    struct ms_client_options o = {
        .dial_timeout_ms = (uint32_t)((a->dial_ns + 999999) / 1000000),
        .command_timeout_ms = (uint32_t)((a->command_ns + 999999) / 1000000),
        .user = a->user,
        .password = a->password,
    };
    struct ms_client *c = NULL;
    struct ms_keepalive *ka = NULL;
    int64_t id = 0, rev = 0;
    char key[1024];
    int rc = ms_client_create((const char *const *)eps, n, &o, &c);
    if (rc == 0) {
        rc = ms_lease_grant(c, a->ttl_s, 0, &id, NULL);
    }
    if (rc == 0) {
        rc = ms_keepalive_start_auth((const char *const *)eps, n, a->user,
                                     a->password, id, NULL, NULL, &ka);
    }
    mscli_endpoints_free(eps);
    if (rc != 0) {
        int st = kfail("%s", c != NULL && ms_client_errmsg(c)[0] != '\0'
                                 ? ms_client_errmsg(c)
                                 : ms_strerror(rc));
        ms_client_close(c);
        return st;
    }
    snprintf(key, sizeof key, "%s/%" PRIx64, a->name, (uint64_t)id);
    struct ms_result *r = NULL;
    rc = ms_put(c, key, strlen(key), "", 0, id, false, &r);
    if (rc == 0) {
        rev = r->header.revision; /* the key's create revision */
    }
    ms_result_free(r);
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s/", a->name);
    if (rc == 0) {
        rc = wait_turn(c, prefix, key, ka);
    }
    int status;
    if (rc == 0) {
        if (a->argc > 0) {
            status = run_command(a->argv, key, rev);
        } else {
            printf("%s\n", key);
            fflush(stdout);
            status = hold(ka);
        }
        if (ms_keepalive_lost(ka)) {
            status = kfail("the lock's lease was lost while it was held");
        }
    } else if (rc == 1) {
        status = lock_interrupted ? EXIT_FAILURE
                                  : kfail("the lock's lease was lost while "
                                          "waiting for the lock");
    } else {
        status = kfail("%s", ms_client_errmsg(c)[0] != '\0'
                                 ? ms_client_errmsg(c)
                                 : ms_strerror(rc));
    }
    ms_keepalive_stop(ka);
    (void)ms_lease_revoke(c, id); /* releases the lock (deletes the key) */
    ms_client_close(c);
    return status;
}
