/*
 * fake_server.c - the fake MetaStore server of the client tests.
 *
 * One thread, one connection at a time (a new connection replaces the old
 * one), blocking reads of whole frames: the client always writes whole
 * frames, so this never waits on a half-sent request.  Answers in FAKE_OK
 * mode are canned and derived from the request, so tests can check both
 * directions of the encoding:
 *   Put   -> header (cluster 7, member 0x11, revision 42, term 3, applied
 *            100); prev_kv {key, "old", create 5, mod 6, version 2} if asked
 *   Range -> one kv {key, "value-of-<key>", create 2, mod 3, version 1},
 *            count 1 (count_only: no kvs, count 5)
 *   DeleteRange -> deleted 2, prev_kvs {key, "gone"} if asked
 *   Txn   -> succeeded = first compare is a VALUE compare; one response per
 *            op of the chosen branch, as above
 *   Compaction, Ping -> the header; Status -> fixed numbers (see below)
 *   MemberList, MemberRemove, MemberPromote -> the two canned members
 *            {1, "node1", "10.0.0.1:2380", "10.0.0.1:2379", voter} and
 *            {0x8e9e05c52164694d, "node2", "10.0.0.2:2380", "", learner}
 *   MemberAdd -> the requested member with id 0x42, then the canned members
 *            plus it
 *   MoveLeader, Fault -> the header
 */
#include "test/unit/client/helpers/fake_server.h"

#include "client/internal.h"
#include "proto/metastore.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, uint16_t method, uint8_t flags, uint64_t id,
                      const ProtobufCMessage *msg)
{
    size_t len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *buf = malloc(MS__FRAME_HEADER_BYTES + len + 1);
    if (buf == NULL) {
        return -1;
    }
    struct ms__frame_header h = {.length = (uint32_t)len,
                                 .method = method,
                                 .flags = flags,
                                 .request_id = id};
    ms__frame_header_encode(&h, buf);
    if (msg != NULL) {
        protobuf_c_message_pack(msg, buf + MS__FRAME_HEADER_BYTES);
    }
    int rc = write_full(fd, buf, MS__FRAME_HEADER_BYTES + len);
    free(buf);
    return rc;
}

static Metastore__ResponseHeader canned_header = {
    PROTOBUF_C_MESSAGE_INIT(&metastore__response_header__descriptor),
    7,
    0x11,
    42,
    3,
    100};

static ProtobufCBinaryData bytes(const void *p, size_t n)
{
    ProtobufCBinaryData b = {n, (uint8_t *)(uintptr_t)p};
    return b;
}

/* Answers one range request into resp (kv storage supplied by caller). */
static void answer_range(const Metastore__RangeRequest *req,
                         Metastore__RangeResponse *resp,
                         Metastore__KeyValue *kv, Metastore__KeyValue **kvp,
                         char *value, size_t value_size)
{
    metastore__range_response__init(resp);
    resp->header = &canned_header;
    if (req->count_only) {
        resp->count = 5;
        return;
    }
    metastore__key_value__init(kv);
    kv->key = req->key;
    snprintf(value, value_size, "value-of-%.*s", (int)req->key.len,
             req->key.data != NULL ? (const char *)req->key.data : "");
    kv->value = bytes(value, strlen(value));
    kv->create_revision = 2;
    kv->mod_revision = 3;
    kv->version = 1;
    *kvp = kv;
    resp->kvs = kvp;
    resp->n_kvs = 1;
    resp->count = 1;
}

/* Storage for one op's answer inside a txn (or a plain call). */
struct answer {
    Metastore__RangeResponse range;
    Metastore__PutResponse put;
    Metastore__DeleteRangeResponse del;
    Metastore__KeyValue kv;
    Metastore__KeyValue *kvp;
    char value[128];
    Metastore__ResponseOp op;
};

static void answer_put(const Metastore__PutRequest *req, struct answer *a)
{
    metastore__put_response__init(&a->put);
    a->put.header = &canned_header;
    if (req->prev_kv) {
        metastore__key_value__init(&a->kv);
        a->kv.key = req->key;
        a->kv.value = bytes("old", 3);
        a->kv.create_revision = 5;
        a->kv.mod_revision = 6;
        a->kv.version = 2;
        a->put.prev_kv = &a->kv;
    }
}

static void answer_delete(const Metastore__DeleteRangeRequest *req,
                          struct answer *a)
{
    metastore__delete_range_response__init(&a->del);
    a->del.header = &canned_header;
    a->del.deleted = 2;
    if (req->prev_kv) {
        metastore__key_value__init(&a->kv);
        a->kv.key = req->key;
        a->kv.value = bytes("gone", 4);
        a->kvp = &a->kv;
        a->del.prev_kvs = &a->kvp;
        a->del.n_prev_kvs = 1;
    }
}

static void answer_op(const Metastore__RequestOp *req, struct answer *a)
{
    metastore__response_op__init(&a->op);
    switch (req->request_case) {
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_RANGE:
        answer_range(req->request_range, &a->range, &a->kv, &a->kvp, a->value,
                     sizeof(a->value));
        a->op.response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
        a->op.response_range = &a->range;
        break;
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT:
        answer_put(req->request_put, a);
        a->op.response_case = METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
        a->op.response_put = &a->put;
        break;
    case METASTORE__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
        answer_delete(req->request_delete_range, a);
        a->op.response_case =
            METASTORE__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
        a->op.response_delete_range = &a->del;
        break;
    default:
        break;
    }
}

static int answer_txn(int fd, uint64_t id, const Metastore__TxnRequest *req)
{
    bool ok =
        req->n_compare > 0 &&
        req->compare[0]->target == METASTORE__COMPARE__COMPARE_TARGET__VALUE;
    size_t n = ok ? req->n_success : req->n_failure;
    Metastore__RequestOp **ops = ok ? req->success : req->failure;
    struct answer *a = calloc(n + 1, sizeof(*a));
    Metastore__ResponseOp **ptrs = calloc(n + 1, sizeof(*ptrs));
    Metastore__TxnResponse resp = METASTORE__TXN_RESPONSE__INIT;
    resp.header = &canned_header;
    resp.succeeded = ok;
    for (size_t i = 0; a != NULL && ptrs != NULL && i < n; i++) {
        answer_op(ops[i], &a[i]);
        ptrs[i] = &a[i].op;
    }
    resp.responses = ptrs;
    resp.n_responses = n;
    int rc = send_frame(fd, MS__METHOD_TXN, MS__FLAG_RESPONSE, id, &resp.base);
    free(a);
    free(ptrs);
    return rc;
}

static int answer_status(int fd, uint64_t id)
{
    static char *errors[] = {"alarm: NOSPACE"};
    Metastore__ReadStats stats = METASTORE__READ_STATS__INIT;
    stats.lease_reads = 5;
    Metastore__StatusResponse resp = METASTORE__STATUS_RESPONSE__INIT;
    resp.header = &canned_header;
    resp.version = "0.1.0-fake";
    resp.member_id = 0x11;
    resp.leader_id = 0x11;
    resp.raft_term = 3;
    resp.raft_index = 10;
    resp.commit_index = 10;
    resp.applied_index = 9;
    resp.db_size = 20480;
    resp.engine = "memory";
    resp.role = "leader";
    resp.errors = errors;
    resp.n_errors = 1;
    resp.read_stats = &stats;
    return send_frame(fd, MS__METHOD_STATUS, MS__FLAG_RESPONSE, id, &resp.base);
}

static Metastore__Member canned_members[2] = {
    {PROTOBUF_C_MESSAGE_INIT(&metastore__member__descriptor), 1, "node1",
     "10.0.0.1:2380", "10.0.0.1:2379", false},
    {PROTOBUF_C_MESSAGE_INIT(&metastore__member__descriptor),
     0x8e9e05c52164694dull, "node2", "10.0.0.2:2380", "", true},
};

/* The membership methods: every response has header + repeated members. */
static int answer_members(int fd, const struct fake_request *r)
{
    Metastore__Member *all[3] = {&canned_members[0], &canned_members[1], NULL};
    Metastore__MemberAddRequest *add = NULL;
    Metastore__Member added = METASTORE__MEMBER__INIT;
    int rc = -1;
    switch (r->method) {
    case MS__METHOD_MEMBER_LIST: {
        Metastore__MemberListResponse resp =
            METASTORE__MEMBER_LIST_RESPONSE__INIT;
        resp.header = &canned_header;
        resp.members = all;
        resp.n_members = 2;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        &resp.base);
        break;
    }
    case MS__METHOD_MEMBER_ADD: {
        add = metastore__member_add_request__unpack(NULL, r->len, r->body);
        if (add == NULL || add->member == NULL) {
            break;
        }
        added = *add->member;
        added.id = 0x42;
        added.is_learner = add->is_learner;
        all[2] = &added;
        Metastore__MemberAddResponse resp =
            METASTORE__MEMBER_ADD_RESPONSE__INIT;
        resp.header = &canned_header;
        resp.member = &added;
        resp.members = all;
        resp.n_members = 3;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        &resp.base);
        break;
    }
    case MS__METHOD_MEMBER_REMOVE:
    case MS__METHOD_MEMBER_PROMOTE: {
        /* Both responses have the same fields; send the one asked for. */
        Metastore__MemberRemoveResponse rm =
            METASTORE__MEMBER_REMOVE_RESPONSE__INIT;
        Metastore__MemberPromoteResponse pr =
            METASTORE__MEMBER_PROMOTE_RESPONSE__INIT;
        rm.header = pr.header = &canned_header;
        rm.members = pr.members = all;
        rm.n_members = pr.n_members = 2;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        r->method == MS__METHOD_MEMBER_REMOVE ? &rm.base
                                                              : &pr.base);
        break;
    }
    default:
        break;
    }
    if (add != NULL) {
        metastore__member_add_request__free_unpacked(add, NULL);
    }
    return rc;
}

/* FAKE_OK: unpack the request and send the canned answer. */
static int answer_ok(int fd, const struct fake_request *r)
{
    struct answer a;
    memset(&a, 0, sizeof(a));
    ProtobufCMessage *m = NULL;
    int rc = -1;
    switch (r->method) {
    case MS__METHOD_PUT: {
        Metastore__PutRequest *req =
            metastore__put_request__unpack(NULL, r->len, r->body);
        if (req != NULL) {
            answer_put(req, &a);
            rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                            &a.put.base);
            m = &req->base;
        }
        break;
    }
    case MS__METHOD_RANGE: {
        Metastore__RangeRequest *req =
            metastore__range_request__unpack(NULL, r->len, r->body);
        if (req != NULL) {
            answer_range(req, &a.range, &a.kv, &a.kvp, a.value,
                         sizeof(a.value));
            rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                            &a.range.base);
            m = &req->base;
        }
        break;
    }
    case MS__METHOD_DELETE_RANGE: {
        Metastore__DeleteRangeRequest *req =
            metastore__delete_range_request__unpack(NULL, r->len, r->body);
        if (req != NULL) {
            answer_delete(req, &a);
            rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                            &a.del.base);
            m = &req->base;
        }
        break;
    }
    case MS__METHOD_TXN: {
        Metastore__TxnRequest *req =
            metastore__txn_request__unpack(NULL, r->len, r->body);
        if (req != NULL) {
            rc = answer_txn(fd, r->request_id, req);
            m = &req->base;
        }
        break;
    }
    case MS__METHOD_COMPACT: {
        Metastore__CompactionResponse resp =
            METASTORE__COMPACTION_RESPONSE__INIT;
        resp.header = &canned_header;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        &resp.base);
        break;
    }
    case MS__METHOD_STATUS:
        rc = answer_status(fd, r->request_id);
        break;
    case MS__METHOD_PING: {
        Metastore__PingResponse resp = METASTORE__PING_RESPONSE__INIT;
        resp.header = &canned_header;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        &resp.base);
        break;
    }
    case MS__METHOD_MEMBER_LIST:
    case MS__METHOD_MEMBER_ADD:
    case MS__METHOD_MEMBER_REMOVE:
    case MS__METHOD_MEMBER_PROMOTE:
        rc = answer_members(fd, r);
        break;
    case MS__METHOD_MOVE_LEADER:
    case MS__METHOD_FAULT: {
        /* MoveLeaderResponse and FaultResponse: just the header. */
        Metastore__MoveLeaderResponse ml =
            METASTORE__MOVE_LEADER_RESPONSE__INIT;
        Metastore__FaultResponse fr = METASTORE__FAULT_RESPONSE__INIT;
        ml.header = fr.header = &canned_header;
        rc = send_frame(fd, r->method, MS__FLAG_RESPONSE, r->request_id,
                        r->method == MS__METHOD_MOVE_LEADER ? &ml.base
                                                            : &fr.base);
        break;
    }
    default:
        break;
    }
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return rc;
}

static int answer_error(struct fake_server *s, int fd,
                        const struct fake_request *r, int code)
{
    char leader[sizeof(s->leader_addr)];
    pthread_mutex_lock(&s->lock);
    memcpy(leader, s->leader_addr, sizeof(leader));
    if (code < 0) {
        code = s->error_code;
    }
    pthread_mutex_unlock(&s->lock);
    Metastore__ErrorDetail d = METASTORE__ERROR_DETAIL__INIT;
    d.code = (Metastore__StatusCode)code;
    d.message = code == METASTORE__STATUS_CODE__NOT_LEADER ? "not leader"
                                                           : "fake error";
    if (code == METASTORE__STATUS_CODE__NOT_LEADER) {
        d.leader_id = 0x22;
        d.leader_addr = leader;
    }
    if (code == METASTORE__STATUS_CODE__COMPACTED) {
        d.compact_revision = 17;
    }
    d.header = &canned_header;
    return send_frame(fd, r->method, MS__FLAG_RESPONSE | MS__FLAG_ERROR,
                      r->request_id, &d.base);
}

/* Handles one request frame.  Returns -1 to drop the connection. */
static int serve_one(struct fake_server *s, int fd)
{
    uint8_t raw[MS__FRAME_HEADER_BYTES];
    struct ms__frame_header h;
    if (read_full(fd, raw, sizeof(raw)) != 0 ||
        ms__frame_header_decode(raw, 1u << 20, &h) != 0) {
        return -1;
    }
    struct fake_request r = {.method = h.method,
                             .flags = h.flags,
                             .request_id = h.request_id,
                             .len = h.length};
    r.body = malloc(h.length + 1);
    if (r.body == NULL || read_full(fd, r.body, h.length) != 0) {
        free(r.body);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    if (s->n_reqs < FAKE_MAX_REQUESTS) {
        s->reqs[s->n_reqs++] = r;
    } else {
        free(r.body);
        r.body = NULL;
    }
    pthread_mutex_unlock(&s->lock);
    switch (s->mode) {
    case FAKE_OK:
        return answer_ok(fd, &r);
    case FAKE_NOT_LEADER:
        return answer_error(s, fd, &r, METASTORE__STATUS_CODE__NOT_LEADER);
    case FAKE_ERROR:
        return answer_error(s, fd, &r, -1);
    case FAKE_SILENT:
        return 0;
    case FAKE_STALE_FIRST: {
        /* A reply to some other request, even of another method. */
        Metastore__PingResponse ping = METASTORE__PING_RESPONSE__INIT;
        if (send_frame(fd, MS__METHOD_PING, MS__FLAG_RESPONSE,
                       r.request_id + 1000, &ping.base) != 0) {
            return -1;
        }
        return answer_ok(fd, &r);
    }
    case FAKE_CLOSE:
        return -1;
    case FAKE_GARBAGE: {
        static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x07};
        uint8_t buf[MS__FRAME_HEADER_BYTES + sizeof(junk)];
        struct ms__frame_header g = {sizeof(junk), r.method, MS__FLAG_RESPONSE,
                                     r.request_id};
        ms__frame_header_encode(&g, buf);
        memcpy(buf + MS__FRAME_HEADER_BYTES, junk, sizeof(junk));
        return write_full(fd, buf, sizeof(buf));
    }
    }
    return -1;
}

static void *run(void *arg)
{
    struct fake_server *s = arg;
    int conn = -1;
    for (;;) {
        struct pollfd p[3] = {{.fd = s->wake[0], .events = POLLIN},
                              {.fd = s->listen_fd, .events = POLLIN},
                              {.fd = conn, .events = POLLIN}};
        if (poll(p, conn >= 0 ? 3 : 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (p[0].revents) {
            break;
        }
        if (p[1].revents & POLLIN) {
            int fd = accept(s->listen_fd, NULL, NULL);
            if (fd >= 0) {
                if (conn >= 0) {
                    close(conn);
                }
                conn = fd;
                pthread_mutex_lock(&s->lock);
                s->n_conns++;
                pthread_mutex_unlock(&s->lock);
            }
            continue;
        }
        if (conn >= 0 && p[2].revents != 0 && serve_one(s, conn) != 0) {
            close(conn);
            conn = -1;
        }
    }
    if (conn >= 0) {
        close(conn);
    }
    return NULL;
}

int fake_server_start(struct fake_server *s, enum fake_mode mode)
{
    memset(s, 0, sizeof(*s));
    s->mode = mode;
    s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->listen_fd < 0 || pipe(s->wake) != 0) {
        return -1;
    }
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->listen_fd, 8) != 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    s->port = ntohs(a.sin_port);
    snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%u", (unsigned)s->port);
    pthread_mutex_init(&s->lock, NULL);
    return pthread_create(&s->thread, NULL, run, s) == 0 ? 0 : -1;
}

void fake_server_stop(struct fake_server *s)
{
    (void)write(s->wake[1], "x", 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->n_reqs; i++) {
        free(s->reqs[i].body);
    }
    pthread_mutex_destroy(&s->lock);
}

void fake_server_set_leader(struct fake_server *s, const char *addr)
{
    pthread_mutex_lock(&s->lock);
    snprintf(s->leader_addr, sizeof(s->leader_addr), "%s", addr);
    pthread_mutex_unlock(&s->lock);
}

void fake_server_set_error(struct fake_server *s, int code)
{
    pthread_mutex_lock(&s->lock);
    s->error_code = code;
    pthread_mutex_unlock(&s->lock);
}

size_t fake_server_requests(struct fake_server *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n_reqs;
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint16_t fake_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}
