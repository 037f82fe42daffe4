/*
 * cluster.c - running real metastored clusters on loopback for the cluster
 * tests: processes, ports and data directories, status polling with
 * deadlines, admin requests (membership, move-leader, fault hook) sent as
 * raw frames, and a thread-safe history recorder for lin_check().
 *
 * Happy path: cluster_init() picks ports and directories, cluster_start()
 * forks one metastored per node and waits for each to answer a Ping, the
 * test works, cluster_destroy() kills and removes everything.
 * Failure modes: a node that exits during start-up or never answers makes
 * the start fail with its log printed; a failed assertion that ends the test
 * process early still takes the nodes with it (PR_SET_PDEATHSIG) and
 * cluster_suite_end() removes the directories.
 */
#include "test/e2e/helpers/cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/e2e/helpers/e2e.h"

static char suite_dir[128];

void cluster_suite_begin(void)
{
    snprintf(suite_dir, sizeof suite_dir, "/tmp/metastore-cluster-%ld",
             (long)getpid());
    if (mkdir(suite_dir, 0700) != 0 && errno != EEXIST) {
        perror("mkdir");
        abort();
    }
}

static void remove_tree(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", path);
    }
}

void cluster_suite_end(void)
{
    if (suite_dir[0] != '\0' && getenv("CLUSTER_KEEP") == NULL) {
        remove_tree(suite_dir);
    }
}

uint64_t cluster_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when port p is already used by a node of c. */
static bool port_taken(const struct cluster *c, uint16_t p)
{
    for (int i = 0; i < c->n; i++) {
        const struct cluster_node *nd = &c->nodes[i];
        if (nd->client_port == p || nd->peer_port == p || nd->admin_port == p) {
            return true;
        }
    }
    return false;
}

/* True when nothing listens on or is bound to 127.0.0.1:port now. */
static bool port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* The lowest port the kernel hands out to outgoing connections. */
static unsigned ephemeral_low(void)
{
    unsigned low = 32768, high = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%u %u", &low, &high) != 2) {
            low = 32768;
        }
        fclose(f);
    }
    return low;
}

/*
 * A free port for a node.  Taken below the ephemeral range when there is
 * room: a port from that range can be handed to one of the many outgoing
 * client connections while its node is down between a kill and a restart,
 * and the restart would then fail to bind.
 */
static uint16_t fresh_port(const struct cluster *c)
{
    static unsigned seed;
    if (seed == 0) {
        seed = (unsigned)getpid() ^ (unsigned)cluster_now_ns();
    }
    unsigned low = ephemeral_low();
    for (int tries = 0; low > 12000 && tries < 1000; tries++) {
        uint16_t p =
            (uint16_t)(10000 + (unsigned)rand_r(&seed) % (low - 10000));
        if (!port_taken(c, p) && port_free(p)) {
            return p;
        }
    }
    uint16_t p;
    do {
        p = e2e_free_port();
    } while (p == 0 || port_taken(c, p));
    return p;
}

int cluster_node_add(struct cluster *c)
{
    if (suite_dir[0] == '\0') {
        cluster_suite_begin();
    }
    if (c->n >= CLUSTER_MAX_NODES) {
        abort(); /* a test asked for more nodes than it may */
    }
    int i = c->n;
    struct cluster_node *nd = &c->nodes[i];
    memset(nd, 0, sizeof *nd);
    nd->id = (uint64_t)i + 1;
    snprintf(nd->name, sizeof nd->name, "node%d", i + 1);
    snprintf(nd->dir, sizeof nd->dir, "%s/node%d-XXXXXX", suite_dir, i + 1);
    if (mkdtemp(nd->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    char dir[sizeof nd->dir];
    memcpy(dir, nd->dir, sizeof dir);
    snprintf(nd->log_path, sizeof nd->log_path, "%s/node.log", dir);
    nd->client_port = fresh_port(c);
    c->n++; /* so that port_taken() sees this node's ports too */
    nd->peer_port = fresh_port(c);
    nd->admin_port = fresh_port(c);
    snprintf(nd->endpoint, sizeof nd->endpoint, "127.0.0.1:%u",
             nd->client_port);
    snprintf(nd->peer_addr, sizeof nd->peer_addr, "127.0.0.1:%u",
             nd->peer_port);
    return i;
}

void cluster_init(struct cluster *c, int n, const char *const *extra)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (c->n_extra >= CLUSTER_MAX_EXTRA) {
            abort();
        }
        snprintf(c->extra[c->n_extra++], sizeof c->extra[0], "%s", extra[i]);
    }
    for (int i = 0; i < n; i++) {
        int k = cluster_node_add(c);
        c->nodes[k].member = true;
    }
}

void cluster_print_log(const struct cluster *c, int i)
{
    FILE *f = fopen(c->nodes[i].log_path, "r");
    char line[1024];
    fprintf(stderr, "---- node %llu (%s) ----\n",
            (unsigned long long)c->nodes[i].id, c->nodes[i].log_path);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        fputs(line, stderr);
    }
    if (f != NULL) {
        fclose(f);
    }
}

static bool node_answers(const struct cluster_node *nd)
{
    const char *eps[] = {nd->endpoint};
    struct ms_client_options o = {.dial_timeout_ms = 200,
                                  .command_timeout_ms = 500,
                                  .tls = e2e_client_tls};
    struct ms_client *cl;
    if (ms_client_open(eps, 1, &o, &cl) != 0) {
        return false;
    }
    struct ms_result *r = NULL;
    int rv = ms_ping(cl, &r);
    ms_result_free(r);
    ms_client_close(cl);
    return rv == 0;
}

/* The --initial-cluster value: every member, ID=PEER@CLIENT. */
static void initial_cluster(const struct cluster *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n; i++) {
        const struct cluster_node *nd = &c->nodes[i];
        if (!nd->member || len >= cap) {
            continue;
        }
        len += (size_t)snprintf(buf + len, cap - len, "%s%llu:%s=%s@%s",
                                len > 0 ? "," : "", (unsigned long long)nd->id,
                                nd->name, nd->peer_addr, nd->endpoint);
    }
}

static pid_t spawn(const char *log_path, const char *const *argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    /* Die with the test process, however it ends. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(126);
    }
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 2);
        dup2(fd, 1);
        close(fd);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

int cluster_node_start(struct cluster *c, int i, bool join,
                       const char *const *more, int timeout_ms)
{
    struct cluster_node *nd = &c->nodes[i];
    char id[32], data[320], client[64], admin[64], init[2048];
    snprintf(id, sizeof id, "%llu", (unsigned long long)nd->id);
    snprintf(data, sizeof data, "%s/data", nd->dir);
    snprintf(client, sizeof client, "127.0.0.1:%u", nd->client_port);
    snprintf(admin, sizeof admin, "127.0.0.1:%u", nd->admin_port);
    initial_cluster(c, init, sizeof init);
    const char *argv[96];
    int argc = 0;
    argv[argc++] = e2e_bin("metastored");
    const char *fixed[] = {"--node-id",
                           id,
                           "--name",
                           nd->name,
                           "--data-dir",
                           data,
                           "--listen-client",
                           client,
                           "--listen-peer",
                           nd->peer_addr,
                           "--listen-admin",
                           admin,
                           "--initial-cluster",
                           init};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
        argv[argc++] = fixed[k];
    }
    if (join) {
        argv[argc++] = "--join";
    }
    for (int k = 0; k < c->n_extra; k++) {
        argv[argc++] = c->extra[k];
    }
    for (int k = 0; more != NULL && more[k] != NULL && argc < 94; k++) {
        argv[argc++] = more[k];
    }
    argv[argc] = NULL;

    pid_t pid = spawn(nd->log_path, argv);
    if (pid < 0) {
        return -1;
    }
    nd->pid = pid;
    nd->paused = false;
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (e2e_now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            nd->pid = 0;
            fprintf(stderr, "node %llu exited during start-up (status %d)\n",
                    (unsigned long long)nd->id, st);
            cluster_print_log(c, i);
            return -1;
        }
        if (node_answers(nd)) {
            return 0;
        }
        usleep(10000); /* poll interval while waiting for the condition */
    }
    fprintf(stderr, "node %llu did not answer within %d ms\n",
            (unsigned long long)nd->id, timeout_ms);
    cluster_print_log(c, i);
    return -1;
}

int cluster_start(struct cluster *c, int timeout_ms)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].pid == 0 && c->nodes[i].member &&
            cluster_node_start(c, i, false, NULL, timeout_ms) != 0) {
            return -1;
        }
    }
    return 0;
}

int cluster_node_kill(struct cluster *c, int i)
{
    struct cluster_node *nd = &c->nodes[i];
    if (nd->pid == 0) {
        return -1;
    }
    kill(nd->pid, SIGKILL);
    int st;
    waitpid(nd->pid, &st, 0);
    nd->pid = 0;
    nd->paused = false;
    return 0;
}

void cluster_node_pause(struct cluster *c, int i)
{
    if (c->nodes[i].pid != 0) {
        kill(c->nodes[i].pid, SIGSTOP);
        c->nodes[i].paused = true;
    }
}

void cluster_node_resume(struct cluster *c, int i)
{
    if (c->nodes[i].pid != 0) {
        kill(c->nodes[i].pid, SIGCONT);
        c->nodes[i].paused = false;
    }
}

bool cluster_node_alive(struct cluster *c, int i)
{
    struct cluster_node *nd = &c->nodes[i];
    int st;
    if (nd->pid != 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
        nd->pid = 0;
    }
    return nd->pid != 0;
}

/* SIGTERM (clean shutdown, so a sanitizer build runs its leak check), then
 * SIGKILL after timeout_ms. */
static void node_stop(struct cluster_node *nd, int timeout_ms)
{
    if (nd->pid == 0) {
        return;
    }
    if (nd->paused) {
        kill(nd->pid, SIGCONT);
        nd->paused = false;
    }
    kill(nd->pid, SIGTERM);
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    int st;
    while (waitpid(nd->pid, &st, WNOHANG) == 0) {
        if (e2e_now_ms() >= deadline) {
            fprintf(stderr, "node %llu ignored SIGTERM for %d ms: SIGKILL\n",
                    (unsigned long long)nd->id, timeout_ms);
            kill(nd->pid, SIGKILL);
            waitpid(nd->pid, &st, 0);
            break;
        }
        usleep(5000); /* poll interval while waiting for the exit */
    }
    nd->pid = 0;
}

/* Prints the sanitizer reports in node i's log; true when there was one. */
static bool sanitizer_report(const struct cluster *c, int i)
{
    static const char *const marks[] = {"AddressSanitizer", "LeakSanitizer",
                                        "runtime error:"};
    FILE *f = fopen(c->nodes[i].log_path, "r");
    char line[4096];
    bool found = false;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
            if (strstr(line, marks[k]) != NULL) {
                fprintf(stderr, "node %llu: %s",
                        (unsigned long long)c->nodes[i].id, line);
                found = true;
            }
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return found;
}

int cluster_destroy(struct cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        node_stop(&c->nodes[i], 3000);
    }
    int reports = 0;
    /* CLUSTER_KEEP=1 keeps the logs and data to look at after a failure. */
    const char *keep = getenv("CLUSTER_KEEP");
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].dir[0] == '\0') {
            continue;
        }
        reports += sanitizer_report(c, i);
        if (keep != NULL) {
            fprintf(stderr, "kept %s\n", c->nodes[i].dir);
        } else {
            remove_tree(c->nodes[i].dir);
        }
        c->nodes[i].dir[0] = '\0';
    }
    c->n = 0;
    return reports;
}

/* Prints the last `lines` lines of node i's log. */
static void print_log_tail(const struct cluster *c, int i, int lines)
{
    char cmd[512];
    fprintf(stderr, "---- node %llu: end of %s ----\n",
            (unsigned long long)c->nodes[i].id, c->nodes[i].log_path);
    snprintf(cmd, sizeof cmd, "tail -n %d '%s' >&2", lines,
             c->nodes[i].log_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "(could not read the log)\n");
    }
}

int cluster_report_dead(struct cluster *c)
{
    int dead = 0;
    for (int i = 0; i < c->n; i++) {
        struct cluster_node *nd = &c->nodes[i];
        int st;
        if (nd->pid != 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
            nd->pid = 0;
            dead++;
            fprintf(stderr, "node %llu DIED (%s %d)\n",
                    (unsigned long long)nd->id,
                    WIFSIGNALED(st) ? "signal" : "exit status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
            print_log_tail(c, i, 60);
        }
    }
    return dead;
}

bool cluster_log_contains(const struct cluster *c, int i, const char *needle)
{
    FILE *f = fopen(c->nodes[i].log_path, "r");
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

int cluster_index_of(const struct cluster *c, uint64_t id)
{
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].id == id) {
            return i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Clients and status                                                  */
/* ------------------------------------------------------------------ */

struct ms_client *cluster_client(const struct cluster *c, int i,
                                 uint32_t timeout_ms)
{
    const char *eps[CLUSTER_MAX_NODES];
    size_t n = 0;
    if (i >= 0) {
        eps[n++] = c->nodes[i].endpoint;
    } else {
        for (int k = 0; k < c->n; k++) {
            eps[n++] = c->nodes[k].endpoint;
        }
    }
    struct ms_client_options o = {.dial_timeout_ms = 300,
                                  .command_timeout_ms = timeout_ms,
                                  .tls = e2e_client_tls};
    struct ms_client *cl = NULL;
    if (i >= 0) {
        if (ms_client_open(eps, n, &o, &cl) != 0) {
            return NULL;
        }
    } else if (ms_client_create(eps, n, &o, &cl) != 0) {
        return NULL;
    }
    return cl;
}

int cluster_status(const struct cluster *c, int i, struct cluster_status *st)
{
    memset(st, 0, sizeof *st);
    struct ms_client *cl = cluster_client(c, i, 300);
    if (cl == NULL) {
        return MS_ENOENDPOINT;
    }
    struct ms_result *r = NULL;
    int rv = ms_status(cl, &r);
    if (rv == 0) {
        const struct ms_status_result *s = &r->status_info;
        snprintf(st->role, sizeof st->role, "%s", s->role);
        st->leader = s->leader;
        st->term = s->raft_term;
        st->commit = s->commit_index;
        st->applied = s->raft_applied_index;
        st->last_index = s->raft_index;
        st->is_learner = s->is_learner;
    }
    ms_result_free(r);
    ms_client_close(cl);
    return rv;
}

/* One round of cluster_wait_leader(): the agreed leader's index or -1. */
static int agreed_leader(const struct cluster *c, const bool *include)
{
    int leader = -1, leaders = 0, asked = 0;
    uint64_t leader_id = 0, term = 0;
    bool agree = true;
    for (int i = 0; i < c->n; i++) {
        const struct cluster_node *nd = &c->nodes[i];
        if (nd->pid == 0 || nd->paused || (include != NULL && !include[i])) {
            continue;
        }
        struct cluster_status st;
        if (cluster_status(c, i, &st) != 0) {
            return -1;
        }
        if (asked++ == 0) {
            leader_id = st.leader;
            term = st.term;
        }
        agree = agree && st.leader == leader_id && st.term == term;
        if (strcmp(st.role, "leader") == 0) {
            leaders++;
            leader = i;
        }
    }
    if (leaders != 1 || !agree || c->nodes[leader].id != leader_id) {
        return -1;
    }
    return leader;
}

int cluster_wait_leader(const struct cluster *c, const bool *include,
                        int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    do {
        int l = agreed_leader(c, include);
        if (l >= 0) {
            return l;
        }
        usleep(20000); /* poll interval while waiting for the condition */
    } while (e2e_now_ms() < deadline);
    return -1;
}

int cluster_wait_applied(const struct cluster *c, int i, uint64_t index,
                         int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    do {
        struct cluster_status st;
        if (cluster_status(c, i, &st) == 0 && st.applied >= index) {
            return 0;
        }
        usleep(20000); /* poll interval while waiting for the condition */
    } while (e2e_now_ms() < deadline);
    return -1;
}

int cluster_put(struct ms_client *cl, const char *key, const char *value)
{
    struct ms_result *r = NULL;
    int rv = ms_put(cl, key, strlen(key), value, strlen(value), 0, false, &r);
    ms_result_free(r);
    return rv;
}

int cluster_get(struct ms_client *cl, const char *key, char **value)
{
    struct ms_result *r = NULL;
    *value = NULL;
    int rv = ms_get(cl, key, strlen(key), NULL, &r);
    if (rv == 0 && r->range.n_kvs == 1) {
        *value = strndup((const char *)r->range.kvs[0].value,
                         r->range.kvs[0].value_len);
    }
    ms_result_free(r);
    return rv;
}

/* ------------------------------------------------------------------ */
/* Admin requests                                                      */
/* ------------------------------------------------------------------ */

/* The server's status for a library call's outcome (0 OK, -1 when no
 * answer came), with its text copied to msg. */
static int status_of(int rv, struct ms_result *r, char *msg, size_t cap)
{
    int st = rv == 0 ? 0 : (r != NULL ? r->status : -1);
    if (msg != NULL && cap > 0) {
        snprintf(msg, cap, "%s",
                 r != NULL && r->message[0] != '\0' ? r->message
                                                    : ms_strerror(rv));
    }
    ms_result_free(r);
    return st;
}

static struct ms_client *admin_client(const struct cluster *c, int i,
                                      uint32_t timeout_ms)
{
    struct ms_client *cl = cluster_client(c, i, timeout_ms);
    if (cl == NULL) {
        fprintf(stderr, "node %llu does not answer\n",
                (unsigned long long)c->nodes[i].id);
    }
    return cl;
}

int cluster_fault(const struct cluster *c, int i, int action, uint64_t peer)
{
    struct ms_client *cl = admin_client(c, i, 1000);
    if (cl == NULL) {
        return -1;
    }
    struct ms_result *r = NULL;
    int rv = ms_fault(cl, (enum ms_fault_action)action, peer, &r);
    ms_client_close(cl);
    return status_of(rv, r, NULL, 0);
}

int cluster_partition(const struct cluster *c, int i, const int *others,
                      int n_others)
{
    for (int k = 0; k < n_others; k++) {
        int j = others[k];
        if (cluster_fault(c, i, MS_FAULT_DROP_PEER, c->nodes[j].id) != 0 ||
            cluster_fault(c, j, MS_FAULT_DROP_PEER, c->nodes[i].id) != 0) {
            return -1;
        }
    }
    return 0;
}

int cluster_isolate(const struct cluster *c, int i)
{
    int others[CLUSTER_MAX_NODES], n = 0;
    for (int j = 0; j < c->n; j++) {
        if (j != i && c->nodes[j].pid != 0 && !c->nodes[j].paused) {
            others[n++] = j;
        }
    }
    return cluster_partition(c, i, others, n);
}

int cluster_heal_all(const struct cluster *c)
{
    int rv = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].pid != 0 && !c->nodes[i].paused &&
            cluster_fault(c, i, MS_FAULT_HEAL_ALL, 0) != 0) {
            rv = -1;
        }
    }
    return rv;
}

int cluster_member_add(struct cluster *c, int i, int new_node, bool learner,
                       char *msg, size_t cap)
{
    struct cluster_node *nd = &c->nodes[new_node];
    struct ms_client *cl = admin_client(c, i, 3000);
    if (cl == NULL) {
        return -1;
    }
    struct ms_result *r = NULL;
    int rv =
        ms_member_add(cl, nd->name, nd->peer_addr, nd->endpoint, learner, &r);
    ms_client_close(cl);
    if (rv == 0) {
        nd->id = r->members.added.id; /* the server chose it */
    }
    return status_of(rv, r, msg, cap);
}

int cluster_member_promote(const struct cluster *c, int i, uint64_t id,
                           char *msg, size_t cap)
{
    struct ms_client *cl = admin_client(c, i, 3000);
    if (cl == NULL) {
        return -1;
    }
    struct ms_result *r = NULL;
    int rv = ms_member_promote(cl, id, &r);
    ms_client_close(cl);
    return status_of(rv, r, msg, cap);
}

int cluster_member_remove(const struct cluster *c, int i, uint64_t id,
                          char *msg, size_t cap)
{
    struct ms_client *cl = admin_client(c, i, 3000);
    if (cl == NULL) {
        return -1;
    }
    struct ms_result *r = NULL;
    int rv = ms_member_remove(cl, id, &r);
    ms_client_close(cl);
    return status_of(rv, r, msg, cap);
}

int cluster_move_leader(const struct cluster *c, int i, uint64_t target,
                        char *msg, size_t cap)
{
    struct ms_client *cl = admin_client(c, i, 3000);
    if (cl == NULL) {
        return -1;
    }
    struct ms_result *r = NULL;
    int rv = ms_move_leader(cl, target, &r);
    ms_client_close(cl);
    return status_of(rv, r, msg, cap);
}

/* ------------------------------------------------------------------ */
/* Histories                                                           */
/* ------------------------------------------------------------------ */

void cluster_history_init(struct cluster_history *h)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
}

void cluster_history_free(struct cluster_history *h)
{
    free(h->ops);
    h->ops = NULL;
    h->n = h->cap = 0;
    pthread_mutex_destroy(&h->mu);
}

void cluster_history_add(struct cluster_history *h, const struct lin_op *op)
{
    pthread_mutex_lock(&h->mu);
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 1024 : h->cap * 2;
        struct lin_op *ops = realloc(h->ops, cap * sizeof *ops);
        if (ops == NULL) {
            pthread_mutex_unlock(&h->mu);
            abort(); /* a test cannot go on without its history */
        }
        h->ops = ops;
        h->cap = cap;
    }
    h->ops[h->n++] = *op;
    pthread_mutex_unlock(&h->mu);
}

bool cluster_history_check(struct cluster_history *h, const char *name)
{
    size_t reads = 0, writes = 0, pending = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->ops[i].kind == LIN_READ) {
            reads++;
        } else {
            writes++;
        }
        if (h->ops[i].ret == LIN_PENDING) {
            pending++;
        }
    }
    struct lin_result res;
    memset(&res, 0, sizeof res);
    if (lin_check(h->ops, h->n, 0, &res) != 0) {
        fprintf(stderr, "%s: lin_check out of memory\n", name);
        return false;
    }
    fprintf(stderr,
            "%s: history of %zu reads, %zu writes (%zu pending): %s%s%s\n",
            name, reads, writes, pending,
            res.linearizable
                ? "linearizable"
                : (res.exhausted ? "no verdict (budget)" : "NOT linearizable"),
            res.linearizable ? "" : ": ", res.linearizable ? "" : res.msg);
    return res.linearizable;
}

/* ------------------------------------------------------------------ */
/* Recorded workload                                                   */
/* ------------------------------------------------------------------ */

struct worker_arg {
    struct cluster_workload *w;
    int id;
};

/* A client of every endpoint, listed from `first` on (wrapping). */
static struct ms_client *rotated_client(const struct cluster *c, int first,
                                        uint32_t timeout_ms)
{
    const char *eps[CLUSTER_MAX_NODES];
    for (int k = 0; k < c->n; k++) {
        eps[k] = c->nodes[(first + k) % c->n].endpoint;
    }
    struct ms_client_options o = {.dial_timeout_ms = 300,
                                  .command_timeout_ms = timeout_ms,
                                  .tls = e2e_client_tls};
    struct ms_client *cl = NULL;
    if (ms_client_create(eps, (size_t)c->n, &o, &cl) != 0) {
        return NULL;
    }
    return cl;
}

static void note_write_ok(struct cluster_workload *w, uint64_t call,
                          uint64_t ret)
{
    uint64_t pc = __atomic_load_n(&w->last_write_call_ns, __ATOMIC_SEQ_CST);
    while (pc < call && !__atomic_compare_exchange_n(
                            &w->last_write_call_ns, &pc, call, false,
                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    uint64_t prev = __atomic_load_n(&w->last_write_ok_ns, __ATOMIC_SEQ_CST);
    while (prev < ret &&
           !__atomic_compare_exchange_n(&w->last_write_ok_ns, &prev, ret, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    if (prev != 0 && prev < ret) {
        uint64_t gap = ret - prev;
        uint64_t g = __atomic_load_n(&w->longest_gap_ns, __ATOMIC_SEQ_CST);
        while (g < gap && !__atomic_compare_exchange_n(
                              &w->longest_gap_ns, &g, gap, false,
                              __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
    }
    __atomic_add_fetch(&w->ok_writes, 1, __ATOMIC_SEQ_CST);
}

/* One operation by client `id`; false when it failed. */
static bool workload_op(struct cluster_workload *w, struct ms_client *cl,
                        int id, uint64_t seq, unsigned *rnd)
{
    char key[32], val[32];
    uint64_t k = (uint64_t)(rand_r(rnd) % (unsigned)w->n_keys);
    bool write = rand_r(rnd) % 2 == 0;
    snprintf(key, sizeof key, "lin/%llu", (unsigned long long)k);
    struct lin_op op = {.client = (uint32_t)id, .key = k};
    op.call = cluster_now_ns();
    if (write) {
        op.kind = LIN_WRITE;
        op.value = ((uint64_t)id + 1) << 32 | seq;
        snprintf(val, sizeof val, "%llu", (unsigned long long)op.value);
        int rv = cluster_put(cl, key, val);
        op.ret = rv == 0 ? cluster_now_ns() : LIN_PENDING;
        cluster_history_add(&w->hist, &op);
        if (rv == 0) {
            note_write_ok(w, op.call, op.ret);
        }
        return rv == 0;
    }
    op.kind = LIN_READ;
    char *got = NULL;
    int rv = cluster_get(cl, key, &got);
    op.ret = cluster_now_ns();
    if (rv == 0) {
        op.value = got != NULL ? strtoull(got, NULL, 10) : 0;
        cluster_history_add(&w->hist, &op);
        __atomic_add_fetch(&w->ok_reads, 1, __ATOMIC_SEQ_CST);
    }
    free(got);
    return rv == 0;
}

static void *workload_main(void *arg)
{
    struct worker_arg *a = arg;
    struct cluster_workload *w = a->w;
    int id = a->id;
    free(a);
    unsigned rnd = (unsigned)(id * 7919 + 1);
    int first = id % w->c->n;
    struct ms_client *cl = rotated_client(w->c, first, w->timeout_ms);
    uint64_t fail_since = 0; /* call time of the first failure in a row */
    for (uint64_t seq = 1;
         !__atomic_load_n(&w->stop, __ATOMIC_SEQ_CST) && cl != NULL; seq++) {
        uint64_t call = cluster_now_ns();
        bool ok = workload_op(w, cl, id, seq, &rnd);
        if (ok && fail_since != 0) {
            uint64_t stall = cluster_now_ns() - fail_since;
            uint64_t m =
                __atomic_load_n(&w->longest_stall_ns, __ATOMIC_SEQ_CST);
            while (m < stall && !__atomic_compare_exchange_n(
                                    &w->longest_stall_ns, &m, stall, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            }
            fail_since = 0;
        }
        if (!ok) {
            if (fail_since == 0) {
                fail_since = call;
            }
            __atomic_add_fetch(&w->failed, 1, __ATOMIC_SEQ_CST);
            ms_client_close(cl);
            first = (first + 1) % w->c->n;
            cl = rotated_client(w->c, first, w->timeout_ms);
            usleep(10000); /* do not spin on a cluster without a leader */
        }
    }
    ms_client_close(cl);
    return NULL;
}

void cluster_workload_start(struct cluster_workload *w, const struct cluster *c,
                            int n_clients, int n_keys, uint32_t timeout_ms)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->n_clients =
        n_clients < CLUSTER_MAX_CLIENTS ? n_clients : CLUSTER_MAX_CLIENTS;
    w->n_keys = n_keys > 0 ? n_keys : 1;
    w->timeout_ms = timeout_ms;
    cluster_history_init(&w->hist);
    for (int i = 0; i < w->n_clients; i++) {
        struct worker_arg *a = malloc(sizeof *a);
        if (a == NULL) {
            abort();
        }
        a->w = w;
        a->id = i;
        pthread_create(&w->threads[i], NULL, workload_main, a);
    }
}

void cluster_workload_stop(struct cluster_workload *w)
{
    __atomic_store_n(&w->stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < w->n_clients; i++) {
        pthread_join(w->threads[i], NULL);
    }
    w->n_clients = 0;
}

int cluster_workload_wait_writes(struct cluster_workload *w, uint64_t more,
                                 int timeout_ms)
{
    uint64_t target = __atomic_load_n(&w->ok_writes, __ATOMIC_SEQ_CST) + more;
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    while (__atomic_load_n(&w->ok_writes, __ATOMIC_SEQ_CST) < target) {
        if (e2e_now_ms() >= deadline) {
            return -1;
        }
        usleep(5000); /* poll interval while waiting for the condition */
    }
    return 0;
}

uint64_t cluster_workload_wait_write_after(struct cluster_workload *w,
                                           uint64_t t_ns, int timeout_ms)
{
    uint64_t deadline = e2e_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t call =
            __atomic_load_n(&w->last_write_call_ns, __ATOMIC_SEQ_CST);
        if (call > t_ns) {
            return __atomic_load_n(&w->last_write_ok_ns, __ATOMIC_SEQ_CST);
        }
        if (e2e_now_ms() >= deadline) {
            return 0;
        }
        usleep(2000); /* poll interval while waiting for the condition */
    }
}

int cluster_workload_final_reads(struct cluster_workload *w,
                                 struct ms_client *cl)
{
    int failed = 0;
    for (int k = 0; k < w->n_keys; k++) {
        char key[32];
        snprintf(key, sizeof key, "lin/%d", k);
        struct lin_op op = {.client = CLUSTER_MAX_CLIENTS,
                            .kind = LIN_READ,
                            .key = (uint64_t)k};
        char *got = NULL;
        op.call = cluster_now_ns();
        int rv = cluster_get(cl, key, &got);
        op.ret = cluster_now_ns();
        if (rv == 0) {
            op.value = got != NULL ? strtoull(got, NULL, 10) : 0;
            cluster_history_add(&w->hist, &op);
        } else {
            fprintf(stderr, "final read of %s: %s (%s)\n", key, ms_strerror(rv),
                    ms_client_errmsg(cl));
            failed++;
        }
        free(got);
    }
    return failed;
}

void cluster_workload_free(struct cluster_workload *w)
{
    if (w->n_clients > 0) {
        cluster_workload_stop(w);
    }
    cluster_history_free(&w->hist);
}
