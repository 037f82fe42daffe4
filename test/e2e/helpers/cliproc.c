/*
 * cliproc.c - long-running metastore-cli children for tests (cliproc.h).
 */
#include "test/e2e/helpers/cliproc.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"

void cliproc_start(struct cliproc *p, const char *dir, const char *tag,
                   const char *endpoints, const char *const *args)
{
    memset(p, 0, sizeof *p);
    snprintf(p->out_path, sizeof p->out_path, "%s/%s.out", dir, tag);
    snprintf(p->err_path, sizeof p->err_path, "%s/%s.err", dir, tag);
    const char *argv[32];
    int n = 0;
    char ep[600];
    snprintf(ep, sizeof ep, "--endpoints=%s", endpoints);
    argv[n++] = e2e_bin("metastore-cli");
    argv[n++] = ep;
    for (int i = 0; args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int o = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0) {
            _exit(126);
        }
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (pid > 0) {
        setpgid(pid, pid);
    }
    p->pid = pid > 0 ? pid : 0;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

size_t cliproc_out(const struct cliproc *p, char *buf, size_t cap)
{
    return read_file(p->out_path, buf, cap);
}

static bool file_contains(const char *path, const char *needle)
{
    static char buf[65536];
    read_file(path, buf, sizeof buf);
    return strstr(buf, needle) != NULL;
}

bool cliproc_out_contains(const struct cliproc *p, const char *needle)
{
    return file_contains(p->out_path, needle);
}

bool cliproc_err_contains(const struct cliproc *p, const char *needle)
{
    return file_contains(p->err_path, needle);
}

bool cliproc_wait_out(const struct cliproc *p, const char *needle,
                      int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (!cliproc_out_contains(p, needle)) {
        if (e2e_now_ms() >= deadline) {
            return false;
        }
        usleep(10000); /* re-read the output file until the deadline */
    }
    return true;
}

void cliproc_signal(struct cliproc *p, int sig)
{
    if (p->pid > 0) {
        kill(p->pid, sig);
    }
}

static bool reap(struct cliproc *p, int flags)
{
    int st = 0;
    if (p->pid <= 0 || waitpid(p->pid, &st, flags) != p->pid) {
        return false;
    }
    p->status = WIFEXITED(st) ? WEXITSTATUS(st)
                              : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    p->pid = 0;
    return true;
}

int cliproc_wait_exit(struct cliproc *p, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (p->pid > 0 && !reap(p, WNOHANG)) {
        if (e2e_now_ms() >= deadline) {
            return -1;
        }
        usleep(10000); /* polling a child's exit until the deadline */
    }
    return p->status;
}

void cliproc_kill(struct cliproc *p)
{
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        reap(p, 0);
    }
}

bool cliproc_running(struct cliproc *p)
{
    return p->pid > 0 && !reap(p, WNOHANG);
}
