/*
 * gen_corpus.c - writes the seed corpora of the fuzz targets
 * (test/fuzz/corpus/<target>/) using the project's own encoders, so the
 * seeds are valid inputs that start the fuzzers deep inside each format.
 * Run through `scripts/fuzz.sh --gen-corpus`; the output is committed.
 *
 * Each file starts with the control bytes its target expects (see the
 * layout comment at the top of test/fuzz/fuzz_<target>.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/metastore.pb-c.h"
#include "proto/raft.pb-c.h"
#include "server/frame.h"
#include "server/peer_codec.h"
#include "storage/wal.h"

static const char *out_root;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s\n", what);
    exit(1);
}

static void write_seed(const char *target, const char *name, const void *pre,
                       size_t pre_len, const void *body, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out_root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        die(path);
    if ((pre_len && fwrite(pre, 1, pre_len, f) != pre_len) ||
        (len && fwrite(body, 1, len, f) != len))
        die("short write");
    fclose(f);
}

/* ---- frames ---------------------------------------------------------------
 */

struct stream {
    uint8_t buf[8192];
    size_t len;
};

static void add_frame(struct stream *s, uint16_t method, uint64_t id,
                      const ProtobufCMessage *msg)
{
    size_t written;
    if (frame_message_size(msg) > sizeof s->buf - s->len)
        die("stream full");
    if (frame_encode_message(method, 0, id, msg, 1u << 20, s->buf + s->len,
                             &written) != 0)
        die("frame_encode_message");
    s->len += written;
}

static void gen_frames(void)
{
    static const uint8_t pre[2] = {5, 0}; /* 1 MiB limit, chunk seed 0 */
    struct stream s = {.len = 0};

    Metastore__PingRequest ping = METASTORE__PING_REQUEST__INIT;
    add_frame(&s, SRV_METHOD_PING, 1, &ping.base);
    write_seed("frame", "ping", pre, 2, s.buf, s.len);

    Metastore__PutRequest put = METASTORE__PUT_REQUEST__INIT;
    put.key.data = (uint8_t *)"foo";
    put.key.len = 3;
    put.value.data = (uint8_t *)"bar";
    put.value.len = 3;
    put.prev_kv = 1;
    s.len = 0;
    add_frame(&s, SRV_METHOD_PUT, 2, &put.base);
    Metastore__RangeRequest range = METASTORE__RANGE_REQUEST__INIT;
    range.key.data = (uint8_t *)"a";
    range.key.len = 1;
    range.range_end.data = (uint8_t *)"z";
    range.range_end.len = 1;
    range.limit = 10;
    add_frame(&s, SRV_METHOD_RANGE, 3, &range.base);
    Metastore__DeleteRangeRequest del = METASTORE__DELETE_RANGE_REQUEST__INIT;
    del.key = put.key;
    add_frame(&s, SRV_METHOD_DELETE_RANGE, 4, &del.base);
    write_seed("frame", "put-range-delete", pre, 2, s.buf, s.len);

    Metastore__Compare cmp = METASTORE__COMPARE__INIT;
    cmp.key = put.key;
    cmp.target = METASTORE__COMPARE__COMPARE_TARGET__VERSION;
    cmp.target_union_case = METASTORE__COMPARE__TARGET_UNION_VERSION;
    cmp.version = 1;
    Metastore__Compare *cmps[] = {&cmp};
    Metastore__RequestOp op = METASTORE__REQUEST_OP__INIT;
    op.request_case = METASTORE__REQUEST_OP__REQUEST_REQUEST_PUT;
    op.request_put = &put;
    Metastore__RequestOp *ops[] = {&op};
    Metastore__TxnRequest txn = METASTORE__TXN_REQUEST__INIT;
    txn.n_compare = 1;
    txn.compare = cmps;
    txn.n_success = 1;
    txn.success = ops;
    s.len = 0;
    add_frame(&s, SRV_METHOD_TXN, 5, &txn.base);
    Metastore__CompactionRequest comp = METASTORE__COMPACTION_REQUEST__INIT;
    comp.revision = 3;
    add_frame(&s, SRV_METHOD_COMPACT, 6, &comp.base);
    Metastore__StatusRequest st = METASTORE__STATUS_REQUEST__INIT;
    add_frame(&s, SRV_METHOD_STATUS, 7, &st.base);
    write_seed("frame", "txn-compact-status", pre, 2, s.buf, s.len);

    /* The same stream with small chunks and a limit of 100 bytes. */
    static const uint8_t pre_small[2] = {3, 77};
    write_seed("frame", "txn-chunked-small-limit", pre_small, 2, s.buf, s.len);

    Metastore__Raft__Hello hello = METASTORE__RAFT__HELLO__INIT;
    hello.cluster_id = 42;
    hello.from = 2;
    hello.to = 1;
    hello.from_peer_addr = "127.0.0.1:2380";
    hello.version = "fuzz";
    s.len = 0;
    add_frame(&s, SRV_METHOD_PEER_HELLO, 8, &hello.base);
    Metastore__MemberAddRequest madd = METASTORE__MEMBER_ADD_REQUEST__INIT;
    add_frame(&s, SRV_METHOD_MEMBER_ADD, 9, &madd.base);
    write_seed("frame", "hello-memberadd", pre, 2, s.buf, s.len);
}

/* ---- peer batches
 * ------------------------------------------------------------ */

static void add_batch_seed(const char *name, uint8_t state,
                           const struct raft_message *msgs, size_t n)
{
    struct peer_buf b;
    peer_buf_init(&b);
    if (peer_codec_encode_batch(&b, msgs, n) != 0)
        die("peer_codec_encode_batch");
    write_seed("peer", name, &state, 1, b.data, b.len);
    peer_buf_free(&b);
}

static void gen_peer(void)
{
    struct raft_message m[3];
    struct raft_entry e[2];
    memset(m, 0, sizeof m);
    memset(e, 0, sizeof e);

    /* To a follower: heartbeat, then an append of two entries. */
    m[0].type = RAFT_MSG_HEARTBEAT;
    m[0].from = 2;
    m[0].to = 1;
    m[0].term = 2;
    m[0].commit = 3;
    m[0].seq = 1;
    e[0] = (struct raft_entry){
        .term = 2, .index = 4, .len = 3, .data = (uint8_t *)"abc"};
    e[1] = (struct raft_entry){.term = 2, .index = 5};
    m[1].type = RAFT_MSG_APPEND;
    m[1].from = 2;
    m[1].to = 1;
    m[1].term = 2;
    m[1].log_term = 1;
    m[1].index = 3;
    m[1].commit = 4;
    m[1].seq = 2;
    m[1].n_entries = 2;
    m[1].entries = e;
    add_batch_seed("follower-heartbeat-append", 0, m, 2);

    /* Vote and pre-vote requests. */
    memset(m, 0, sizeof m);
    m[0].type = RAFT_MSG_PRE_VOTE;
    m[0].from = 3;
    m[0].to = 1;
    m[0].term = 2;
    m[0].log_term = 1;
    m[0].index = 3;
    m[1] = m[0];
    m[1].type = RAFT_MSG_VOTE;
    add_batch_seed("follower-votes", 2, m, 2);

    /* To a leader of term 2: append and heartbeat responses, read index. */
    memset(m, 0, sizeof m);
    m[0].type = RAFT_MSG_APPEND_RESP;
    m[0].from = 2;
    m[0].to = 1;
    m[0].term = 2;
    m[0].index = 4;
    m[0].seq = 1;
    m[1].type = RAFT_MSG_HEARTBEAT_RESP;
    m[1].from = 3;
    m[1].to = 1;
    m[1].term = 2;
    m[1].seq = 1;
    m[2].type = RAFT_MSG_READ_INDEX;
    m[2].from = 3;
    m[2].to = 1;
    m[2].term = 2;
    m[2].ctx = 99;
    add_batch_seed("leader-responses", 1, m, 3);

    /* A one-chunk snapshot to a follower. */
    memset(m, 0, sizeof m);
    static uint8_t snap[16] = "snapshot-bytes!";
    m[0].type = RAFT_MSG_SNAPSHOT;
    m[0].from = 2;
    m[0].to = 1;
    m[0].term = 3;
    m[0].snap.index = 10;
    m[0].snap.term = 3;
    m[0].snap.conf.n = 3;
    for (uint32_t i = 0; i < 3; i++)
        m[0].snap.conf.members[i].id = i + 1;
    m[0].snap.size = sizeof snap;
    m[0].snap_len = sizeof snap;
    m[0].snap_data = snap;
    m[0].snap_last = true;
    add_batch_seed("follower-snapshot", 0, m, 1);
}

/* ---- WAL segments ----------------------------------------------------------
 */

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

/* Copies the segment files of dir (in name order) into one seed each, and
 * the first two into one two-segment seed. */
static void wal_seeds(const char *dir, const char *name)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    static uint8_t seg[2][1 << 16];
    size_t seg_len[2] = {0, 0};
    int segs = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(list[i]->d_name, ".wal") != NULL && segs < 2) {
            char path[512];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            FILE *f = fopen(path, "rb");
            if (f == NULL)
                die(path);
            seg_len[segs] = fread(seg[segs], 1, sizeof seg[segs], f);
            fclose(f);
            segs++;
        }
        free(list[i]);
    }
    free(list);
    if (segs == 0)
        die("no WAL segment written");
    static const uint8_t one[3] = {0, 0, 0};
    char seed[128];
    snprintf(seed, sizeof seed, "%s-segment1", name);
    write_seed("wal", seed, one, 3, seg[0], seg_len[0]);
    if (segs == 2) {
        static uint8_t both[2 << 16];
        memcpy(both, seg[0], seg_len[0]);
        memcpy(both + seg_len[0], seg[1], seg_len[1]);
        uint8_t pre[3] = {1, (uint8_t)(seg_len[0] >> 8), (uint8_t)seg_len[0]};
        snprintf(seed, sizeof seed, "%s-two-segments", name);
        write_seed("wal", seed, pre, 3, both, seg_len[0] + seg_len[1]);
    }
}

static void gen_wal(void)
{
    char dir[] = "/tmp/gen-corpus-wal-XXXXXX";
    if (mkdtemp(dir) == NULL)
        die("mkdtemp");
    char sub[300];
    snprintf(sub, sizeof sub, "%s/w", dir);
    struct wal_options o = {.segment_bytes = 512, .no_sync = true};
    struct wal *w;
    struct wal_recovery rec;
    memset(&rec, 0, sizeof rec);
    if (wal_open(sub, &o, &w, &rec) != 0)
        die("wal_open");
    wal_recovery_free(&rec);
    struct raft_hard_state hs = {.term = 2, .vote = 1, .commit = 3};
    uint8_t data[100];
    memset(data, 'd', sizeof data);
    for (raft_index i = 1; i <= 12; i++) {
        struct raft_entry e = {.term = i < 6 ? 1 : 2,
                               .index = i,
                               .len = (uint32_t)(i * 7 % 100),
                               .data = data};
        if (wal_append_entries(w, &e, 1) != 0)
            die("wal_append_entries");
        if (i == 4)
            wal_set_hard_state(w, &hs);
        if (i == 8)
            wal_mark_snapshot(w, 5, 1);
    }
    if (wal_sync(w) != 0)
        die("wal_sync");
    wal_close(w);
    wal_seeds(sub, "entries-hs-marker");
    rm_dir(sub);
    rmdir(dir);
}

/* ---- config and HTTP -------------------------------------------------------
 */

static void gen_text(void)
{
    static const char three[] =
        "node:\n  id: 2\n  name: n2\n  data_dir: /var/lib/metastore\n"
        "cluster:\n  name: prod\n  initial_members:\n"
        "    - {id: 1, name: n1, peer_addr: \"10.0.0.1:2380\", client_addr: "
        "\"10.0.0.1:2379\"}\n"
        "    - {id: 2, name: n2, peer_addr: \"10.0.0.2:2380\", client_addr: "
        "\"10.0.0.2:2379\"}\n"
        "    - {id: 3, name: n3, peer_addr: \"10.0.0.3:2380\", client_addr: "
        "\"10.0.0.3:2379\"}\n"
        "server:\n  max_frame_bytes: 2MiB\n  request_timeout: 1m30s\n"
        "raft:\n  tick_interval: 100ms\n  election_timeout: 1s\n"
        "  heartbeat_interval: 100ms\n"
        "storage:\n  engine: rocksdb\n  fsync: true\n"
        "lease_read:\n  enable: true\n  clock_drift: 50ms\n";
    write_seed("config", "three-nodes.yaml", NULL, 0, three, sizeof three - 1);
    static const char bad[] = "raft:\n  election_timeout: 10x\n";
    write_seed("config", "bad-duration.yaml", NULL, 0, bad, sizeof bad - 1);

    static const uint8_t pre[2] = {0, 0};
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                              "Accept: text/plain\r\n\r\n";
    write_seed("http", "get-metrics", pre, 2, get, sizeof get - 1);
    static const char pipelined[] =
        "GET /health?verbose=1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /admin/fault HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
        "Connection: close\r\n\r\n{\"drop\":[]}"
        "GET / HTTP/1.0\r\n\r\n";
    static const uint8_t pre_chunked[2] = {0, 9};
    write_seed("http", "pipelined", pre_chunked, 2, pipelined,
               sizeof pipelined - 1);
    static const uint8_t pre_small[2] = {1, 3};
    write_seed("http", "pipelined-small-limits", pre_small, 2, pipelined,
               sizeof pipelined - 1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUT_DIR\n");
        return 2;
    }
    out_root = argv[1];
    mkdir(out_root, 0755);
    gen_frames();
    gen_peer();
    gen_wal();
    gen_text();
    printf("seed corpus written to %s\n", out_root);
    return 0;
}
