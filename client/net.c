/*
 * net.c - the client's socket layer: blocking-style TCP I/O with deadlines.
 *
 * Sockets are non-blocking; every wait is a poll() bounded by the caller's
 * deadline, so no call can hang longer than the dial or command timeout.
 * Happy path: dial -> write_all(request) -> read_full(header) ->
 * read_full(body).  Failure modes: the deadline passes (MS_ETIMEDOUT), the
 * peer refuses or resets (-errno), the peer closes (MS_ECLOSED), the host
 * does not resolve (MS_EINVAL).  SIGPIPE is never raised (MSG_NOSIGNAL).
 */
#include "client/internal.h"
#include "client/metastore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

uint64_t ms__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds left until deadline_ns, rounded up; 0 when it has passed. */
static int ms_left(uint64_t deadline_ns)
{
    uint64_t now = ms__now_ns();
    if (now >= deadline_ns) {
        return 0;
    }
    uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
    return left > 86400000u ? 86400000 : (int)left;
}

/* Waits until fd is ready for `events`.  0, MS_ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        int timeout = ms_left(deadline_ns);
        if (timeout == 0) {
            return MS_ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, timeout);
        if (n > 0) {
            return 0; /* readable, writable, or an error the I/O call sees */
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline_ns)
{
    int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) {
        return -errno;
    }
    int rc = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            goto fail;
        }
        rc = wait_fd(fd, POLLOUT, deadline_ns);
        if (rc != 0) {
            goto fail;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            rc = -errno;
            goto fail;
        }
        if (err != 0) {
            rc = -err;
            goto fail;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
fail:
    close(fd);
    return rc;
}

int ms__net_dial(const char *host, uint16_t port, uint32_t timeout_ms)
{
    uint64_t deadline = ms__now_ns() + (uint64_t)timeout_ms * 1000000u;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        return gai == EAI_SYSTEM && errno != 0 ? -errno : MS_EINVAL;
    }
    int rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        rc = connect_one(ai, deadline);
        if (rc >= 0 || rc == MS_ETIMEDOUT) {
            break;
        }
    }
    freeaddrinfo(res);
    return rc;
}

int ms__net_write_all(int fd, const void *buf, size_t len, uint64_t deadline_ns,
                      size_t *sent)
{
    const char *p = buf;
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            rc = -errno;
            break;
        }
        rc = wait_fd(fd, POLLOUT, deadline_ns);
        if (rc != 0) {
            break;
        }
    }
    if (sent != NULL) {
        *sent = done;
    }
    return rc;
}

int ms__net_read_full(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
    char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = recv(fd, p + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0) {
            return MS_ECLOSED;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        int rc = wait_fd(fd, POLLIN, deadline_ns);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int ms__net_read_some(int fd, void *buf, size_t cap, uint64_t deadline_ns)
{
    if (cap > INT_MAX) {
        cap = INT_MAX;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n > 0) {
            return (int)n;
        }
        if (n == 0) {
            return MS_ECLOSED;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return -errno;
        }
        int rc = wait_fd(fd, POLLIN, deadline_ns);
        if (rc != 0) {
            return rc;
        }
    }
}
