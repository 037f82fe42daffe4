/*
 * e2e.c - process, port and CLI helpers for the end-to-end tests.
 */
#include "test/e2e/helpers/e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/metastore.h"

uint64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *e2e_bin(const char *name)
{
    static char path[4][1024];
    static int next;
    char self[900];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        return name;
    }
    self[n] = '\0';
    /* <build>/test/e2e/<prog> -> <build> */
    char *dir = dirname(dirname(dirname(self)));
    char *out = path[next++ % 4];
    snprintf(out, sizeof path[0], "%s/%s", dir, name);
    return out;
}

/* Ports are drawn at random below Linux's ephemeral range (32768-60999):
 * a port the kernel hands out for bind(0) is an ephemeral one, and any
 * outgoing connection on the machine (a client of another test, a bench)
 * may take it again before the server binds it. */
#define FREE_PORT_LOW  10000u
#define FREE_PORT_SPAN 22000u

uint16_t e2e_free_port(void)
{
    static uint64_t state;
    if (state == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
                (uint64_t)ts.tv_sec ^ 0x9e3779b97f4a7c15ull;
    }
    for (int attempt = 0; attempt < 1000; attempt++) {
        state ^= state << 13; /* xorshift64 */
        state ^= state >> 7;
        state ^= state << 17;
        uint16_t port = (uint16_t)(FREE_PORT_LOW + state % FREE_PORT_SPAN);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) {
            break;
        }
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons(port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) {
            return port;
        }
    }
    return 0;
}

void e2e_server_init(struct e2e_server *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/metastore-e2e-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(s->log_path, sizeof s->log_path, "%s.log", s->dir);
    s->client_port = e2e_free_port();
    do {
        s->peer_port = e2e_free_port();
    } while (s->peer_port == s->client_port);
    do {
        s->admin_port = e2e_free_port();
    } while (s->admin_port == s->client_port || s->admin_port == s->peer_port);
    snprintf(s->endpoint, sizeof s->endpoint, "127.0.0.1:%u", s->client_port);
}

static void print_log(const struct e2e_server *s)
{
    FILE *f = fopen(s->log_path, "r");
    char line[1024];
    fprintf(stderr, "---- %s ----\n", s->log_path);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
    }
    if (f != NULL) {
        fclose(f);
    }
}

/* TLS options of the clients the helpers open (NULL: plain TCP). */
const struct ms_tls_options *e2e_client_tls;

static bool server_answers(const struct e2e_server *s)
{
    const char *eps[] = {s->endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 200,
                                  .command_timeout_ms = 500,
                                  .tls = e2e_client_tls};
    struct ms_client *c;
    if (ms_client_open(eps, 1, &o, &c) != 0) {
        return false;
    }
    struct ms_result *r = NULL;
    int rv = ms_ping(c, &r);
    ms_result_free(r);
    ms_client_close(c);
    return rv == 0;
}

int e2e_server_start(struct e2e_server *s, const char *const *extra,
                     int timeout_ms)
{
    char data_dir[300], client[64], peer[64], admin[64];
    snprintf(data_dir, sizeof data_dir, "%s/data", s->dir);
    snprintf(client, sizeof client, "127.0.0.1:%u", s->client_port);
    snprintf(peer, sizeof peer, "127.0.0.1:%u", s->peer_port);
    snprintf(admin, sizeof admin, "127.0.0.1:%u", s->admin_port);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = e2e_bin("metastored");
    argv[argc++] = "--data-dir";
    argv[argc++] = data_dir;
    argv[argc++] = "--listen-client";
    argv[argc++] = client;
    argv[argc++] = "--listen-peer";
    argv[argc++] = peer;
    argv[argc++] = "--listen-admin";
    argv[argc++] = admin;
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < 62; i++) {
        argv[argc++] = extra[i];
    }
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (e2e_now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            fprintf(stderr, "metastored exited during start-up (status %d)\n",
                    st);
            print_log(s);
            return -1;
        }
        if (server_answers(s)) {
            return 0;
        }
        usleep(20000); /* poll interval while waiting for the condition */
    }
    fprintf(stderr, "metastored did not answer within %d ms\n", timeout_ms);
    print_log(s);
    return -1;
}

int e2e_server_stop(struct e2e_server *s, int sig, int timeout_ms)
{
    if (s->pid == 0) {
        return -1;
    }
    kill(s->pid, sig);
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    int st = 0;
    while (e2e_now_ms() < deadline) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return st;
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    print_log(s);
    return -1;
}

void e2e_server_cleanup(struct e2e_server *s)
{
    if (s->pid != 0) {
        e2e_server_stop(s, SIGKILL, 5000);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", s->dir, s->log_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", s->dir);
    }
}

bool e2e_server_log_contains(const struct e2e_server *s, const char *needle)
{
    FILE *f = fopen(s->log_path, "r");
    char line[4096];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
        found = strstr(line, needle) != NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}

/* Reads everything from fd into buf (cut at cap-1). */
static void slurp(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char tmp[4096];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r <= 0) {
            break;
        }
        size_t take = (size_t)r;
        if (buf != NULL && n + 1 < cap) {
            if (take > cap - 1 - n) {
                take = cap - 1 - n;
            }
            memcpy(buf + n, tmp, take);
            n += take;
        }
    }
    if (buf != NULL && cap > 0) {
        buf[n] = '\0';
    }
}

int e2e_cli(const char *endpoint, const char *input, char *out, size_t cap,
            char *err, size_t err_cap, const char *const *args)
{
    char ep[128];
    snprintf(ep, sizeof ep, "--endpoints=%s", endpoint);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = e2e_bin("metastore-cli");
    argv[argc++] = ep;
    for (int i = 0; args[i] != NULL && argc < 62; i++) {
        argv[argc++] = args[i];
    }
    argv[argc] = NULL;
    char in_path[] = "/tmp/metastore-e2e-in-XXXXXX";
    char err_path[] = "/tmp/metastore-e2e-err-XXXXXX";
    int in_fd = mkstemp(in_path);
    int err_fd = mkstemp(err_path);
    if (in_fd < 0 || err_fd < 0) {
        return -1;
    }
    if (input != NULL && write(in_fd, input, strlen(input)) < 0) {
        return -1;
    }
    lseek(in_fd, 0, SEEK_SET);
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in_fd, 0);
        dup2(pipefd[1], 1);
        dup2(err_fd, 2);
        close(pipefd[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    slurp(pipefd[0], out, cap);
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    lseek(err_fd, 0, SEEK_SET);
    slurp(err_fd, err, err_cap);
    close(in_fd);
    close(err_fd);
    unlink(in_path);
    unlink(err_path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int e2e_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}
