/*
 * fake_server.h - a tiny MetaStore server for the client library's tests: a
 * pthread with a loopback listener that speaks the frame protocol with
 * protobuf-c, records every request it receives and answers according to a
 * mode chosen by the test.
 */
#ifndef METASTORE_TEST_FAKE_SERVER_H
#define METASTORE_TEST_FAKE_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fake_mode {
    FAKE_OK = 0,      /* canned successful answers (see fake_server.c) */
    FAKE_NOT_LEADER,  /* ErrorDetail NOT_LEADER naming `leader_addr` */
    FAKE_ERROR,       /* ErrorDetail with `error_code` and "fake error" */
    FAKE_SILENT,      /* read requests, never answer */
    FAKE_STALE_FIRST, /* send a reply with a wrong id before the right one */
    FAKE_CLOSE,       /* close the connection after reading a request */
    FAKE_GARBAGE,     /* answer with a body that is not protobuf */
};

#define FAKE_MAX_REQUESTS 16

struct fake_request {
    uint16_t method;
    uint8_t flags;
    uint64_t request_id;
    uint8_t *body; /* malloc'ed copy */
    size_t len;
};

struct fake_server {
    enum fake_mode mode;
    char leader_addr[64];
    int error_code;
    uint16_t port;
    char addr[32]; /* "127.0.0.1:port" */
    int listen_fd;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t lock;
    struct fake_request reqs[FAKE_MAX_REQUESTS];
    size_t n_reqs;
    size_t n_conns;
};

/* Binds 127.0.0.1:0 and starts the thread.  0 or -1. */
int fake_server_start(struct fake_server *s, enum fake_mode mode);
/* Stops the thread, closes everything, frees recorded requests. */
void fake_server_stop(struct fake_server *s);
/* Set what FAKE_NOT_LEADER / FAKE_ERROR answer (under the lock). */
void fake_server_set_leader(struct fake_server *s, const char *addr);
void fake_server_set_error(struct fake_server *s, int code);
/* Number of requests received so far (locked read). */
size_t fake_server_requests(struct fake_server *s);
/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
uint16_t fake_unused_port(void);

#endif /* METASTORE_TEST_FAKE_SERVER_H */
