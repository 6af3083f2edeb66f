#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool test_wait_until(bool (*cond)(void *arg), void *arg, uint32_t deadline_ms)
{
    uint64_t end_ns = test_now_ns() + (uint64_t)deadline_ms * 1000000u;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 1000000};
    for (;;) {
        if (cond(arg))
            return true;
        if (test_now_ns() >= end_ns)
            return false;
        nanosleep(&pause, NULL);
    }
}

static unsigned test_proc_serial;

int test_proc_start(struct test_proc *p, char *const argv[])
{
    const struct test_proc_io io = {0};
    return test_proc_start_io(p, argv, &io);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int test_proc_start_io(struct test_proc *p, char *const argv[], const struct test_proc_io *io)
{
    unsigned serial = test_proc_serial++;
    snprintf(p->dir, sizeof(p->dir), "%s", test_temp_dir("proc"));
    snprintf(p->log_path, sizeof(p->log_path), "%s/output-%u.log", p->dir, serial);
    p->err_path[0] = '\0';
    if (io->stderr_apart)
        snprintf(p->err_path, sizeof(p->err_path), "%s/stderr-%u.log", p->dir, serial);
    char in_path[300];
    snprintf(in_path, sizeof(in_path), "%s/stdin-%u", p->dir, serial);
    if (io->stdin_text != NULL && write_file(in_path, io->stdin_text) != 0)
        return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addchdir_np(&actions, p->dir);
    if (io->stdin_text != NULL)
        posix_spawn_file_actions_addopen(&actions, 0, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, p->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (io->stderr_apart)
        posix_spawn_file_actions_addopen(&actions, 2, p->err_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    else
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    extern char **environ;
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0)
        return -1;
    p->pid = pid;
    return 0;
}

static uint32_t read_file(const char *path, char *buf, uint32_t len)
{
    buf[0] = '\0';
    FILE *f = path[0] != '\0' ? fopen(path, "r") : NULL;
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (uint32_t)n;
}

uint32_t test_proc_output(const struct test_proc *p, char *buf, uint32_t len)
{
    return read_file(p->log_path, buf, len);
}

uint32_t test_proc_stderr(const struct test_proc *p, char *buf, uint32_t len)
{
    return read_file(p->err_path, buf, len);
}

struct output_wait {
    struct test_proc *p;
    const char *text;
};

static bool output_has(void *arg)
{
    struct output_wait *w = arg;
    static char buf[1 << 16];
    test_proc_output(w->p, buf, sizeof(buf));
    return strstr(buf, w->text) != NULL;
}

bool test_proc_wait_output(struct test_proc *p, const char *text, uint32_t deadline_ms)
{
    struct output_wait w = {.p = p, .text = text};
    return test_wait_until(output_has, &w, deadline_ms);
}

struct exit_wait {
    struct test_proc *p;
    int status;
};

static bool proc_exited(void *arg)
{
    struct exit_wait *w = arg;
    int status;
    if (waitpid(w->p->pid, &status, WNOHANG) != w->p->pid)
        return false;
    w->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

int test_proc_wait_exit(struct test_proc *p, uint32_t deadline_ms)
{
    struct exit_wait w = {.p = p, .status = -1};
    if (test_wait_until(proc_exited, &w, deadline_ms)) {
        p->pid = 0; /* reaped: the number may belong to another process now */
        return w.status;
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    return -1;
}

int test_proc_kill_leftover(void **state)
{
    struct test_proc *p = *state;
    if (p != NULL && p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    return 0;
}

const char *test_ringd_bin(void)
{
    const char *bin = getenv("RINGD_BIN");
    return bin != NULL ? bin : "build/release/ringd";
}

static uint16_t probe_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        abort();
    close(fd);
    return ntohs(addr.sin_port);
}

/* Two probes can return the same port, as can a probe and a port a server still binds. */
#define RECENT_PORTS_MAX 64
static uint16_t recent_ports[RECENT_PORTS_MAX];
static uint32_t recent_ports_next;

static bool port_recent(uint16_t port)
{
    for (uint32_t i = 0; i < RECENT_PORTS_MAX; i++)
        if (recent_ports[i] == port)
            return true;
    return false;
}

uint16_t test_free_port(void)
{
    uint16_t port = probe_free_port();
    for (int tries = 0; port_recent(port) && tries < 1000; tries++)
        port = probe_free_port();
    if (port_recent(port))
        abort();
    recent_ports[recent_ports_next++ % RECENT_PORTS_MAX] = port;
    return port;
}

const char *test_temp_dir(const char *tag)
{
    static char path[256];
    const char *base = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/ringd-test-%s-%d-XXXXXX", base ? base : "/tmp", tag,
             (int)getpid());
    if (mkdtemp(path) == NULL)
        abort();
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_remove_dir(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_proc_signal_exit(struct test_proc *p, int sig, uint32_t deadline_ms)
{
    int status = p->pid > 0 && kill(p->pid, sig) == 0 ? test_proc_wait_exit(p, deadline_ms) : -1;
    test_proc_cleanup(p);
    return status;
}

uint64_t test_env_number(const char *name, uint64_t fallback)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return fallback;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "%s=%s is not a number\n", name, v);
        exit(2);
    }
    return n;
}

uint64_t test_rng_next(struct test_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t test_rng_below(struct test_rng *r, uint32_t n)
{
    if (n == 0)
        abort();
    return (uint32_t)(test_rng_next(r) % n);
}

void test_proc_cleanup(struct test_proc *p)
{
    if (test_env_number("RINGD_TEST_KEEP", 0) != 0) {
        fprintf(stderr, "kept %s (RINGD_TEST_KEEP)\n", p->dir);
        return;
    }
    test_remove_dir(p->dir);
}

/* ---- Servers under test ---------------------------------------------------------------------- */

#define SERVER_READY_MS 20000
#define SERVER_ARGS_MAX 48

static bool file_exists(void *arg)
{
    struct stat st;
    return stat(arg, &st) == 0;
}

/* Appends the NULL-terminated extra flags to argv[0..n); returns the new count or -1. */
static int append_args(char **argv, int n, char *const *args)
{
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        if (n >= SERVER_ARGS_MAX - 1)
            return -1;
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    return n;
}

static int etcd_spawn(struct test_server *s, const struct test_server_options *options)
{
    if (access(TEST_ETCD_BIN, X_OK) != 0) {
        fprintf(stderr, "%s is missing: install etcd-server (.ci/install-deps)\n", TEST_ETCD_BIN);
        return -1;
    }
    uint16_t peer_port = options->peer_port != 0 ? options->peer_port : test_free_port();
    char client_urls[128], advertise[64], peer_url[64], cluster[96];
    snprintf(advertise, sizeof(advertise), "http://127.0.0.1:%u", s->client_port);
    snprintf(client_urls, sizeof(client_urls), "%s", advertise);
    if (options->unix_socket)
        snprintf(client_urls, sizeof(client_urls), "%s,unix://localhost:%u", advertise,
                 s->client_port);
    snprintf(peer_url, sizeof(peer_url), "http://127.0.0.1:%u", peer_port);
    snprintf(cluster, sizeof(cluster), "default=%s", peer_url);
    char *data_dir = options->data_dir != NULL ? (char *)options->data_dir : "data";
    char *name = options->name != NULL ? (char *)options->name : "default";
    char *initial = options->initial_cluster != NULL ? (char *)options->initial_cluster : cluster;
    char *argv[SERVER_ARGS_MAX] = {TEST_ETCD_BIN, "--data-dir",
                                   data_dir,      "--listen-client-urls",
                                   client_urls,   "--advertise-client-urls",
                                   advertise,     "--listen-peer-urls",
                                   peer_url,      "--initial-advertise-peer-urls",
                                   peer_url,      "--initial-cluster",
                                   initial,       "--name",
                                   name};
    if (append_args(argv, 15, options->args) < 0 || test_proc_start(&s->proc, argv) != 0)
        return -1;
    if (options->unix_socket) {
        /* etcd names a unix listener's socket file after the URL's host:port, in its own
         * working directory; an absolute path needs the third slash. */
        snprintf(s->unix_path, sizeof(s->unix_path), "%s/localhost:%u", s->proc.dir,
                 s->client_port);
        snprintf(s->unix_endpoint, sizeof(s->unix_endpoint), "unix://%s", s->unix_path);
    }
    return 0;
}

static int ringd_spawn(struct test_server *s, const struct test_server_options *options)
{
    if (options->unix_socket)
        return -1;
    char urls[64], peer_url[64], cluster[96];
    snprintf(urls, sizeof(urls), "http://127.0.0.1:%u", s->client_port);
    snprintf(peer_url, sizeof(peer_url), "http://127.0.0.1:%u", options->peer_port);
    snprintf(cluster, sizeof(cluster), "default=%s", peer_url);
    char *argv[SERVER_ARGS_MAX] = {(char *)test_ringd_bin(), "--listen-client-urls", urls,
                                   "--advertise-client-urls", urls};
    int n = 5;
    if (options->data_dir != NULL) {
        argv[n++] = "--data-dir";
        argv[n++] = (char *)options->data_dir;
    }
    char listen_peer[64]; /* a single member listens for peers too: a free port, not 2380 */
    test_peer_url(listen_peer, sizeof(listen_peer));
    if (options->peer_port == 0) {
        char *peer[] = {"--listen-peer-urls", listen_peer, NULL};
        n = append_args(argv, n, peer);
    } else {
        char *peer[] = {"--listen-peer-urls",
                        peer_url,
                        "--initial-advertise-peer-urls",
                        peer_url,
                        "--initial-cluster",
                        options->initial_cluster != NULL ? (char *)options->initial_cluster
                                                         : cluster,
                        "--name",
                        options->name != NULL ? (char *)options->name : "default",
                        NULL};
        n = append_args(argv, n, peer);
    }
    if (n < 0 || append_args(argv, n, options->args) < 0)
        return -1;
    return test_proc_start(&s->proc, argv);
}

int test_server_spawn(struct test_server *s, enum test_server_kind kind,
                      const struct test_server_options *options)
{
    static const struct test_server_options none = {0};
    options = options != NULL ? options : &none;
    uint16_t port = options->client_port != 0 ? options->client_port : test_free_port();
    *s = (struct test_server){.kind = kind, .client_port = port};
    snprintf(s->endpoint, sizeof(s->endpoint), "127.0.0.1:%u", s->client_port);
    int rc = kind == TEST_SERVER_ETCD ? etcd_spawn(s, options) : ringd_spawn(s, options);
    if (rc != 0)
        fprintf(stderr, "could not start %s\n", test_server_name(s));
    return rc;
}

int test_server_wait_ready(struct test_server *s)
{
    if (!test_proc_wait_output(&s->proc, "ready to serve client requests", SERVER_READY_MS)) {
        fprintf(stderr, "%s did not become ready; see %s\n", test_server_name(s), s->proc.log_path);
        return -1;
    }
    if (s->unix_path[0] != '\0' && !test_wait_until(file_exists, s->unix_path, SERVER_READY_MS))
        return -1;
    return 0;
}

int test_server_start(struct test_server *s, enum test_server_kind kind,
                      const struct test_server_options *options)
{
    if (test_server_spawn(s, kind, options) != 0)
        return -1;
    return test_server_wait_ready(s);
}

int test_server_stop(struct test_server *s)
{
    int status = 0;
    if (s->proc.pid > 0 && kill(s->proc.pid, SIGTERM) == 0)
        status = test_proc_wait_exit(&s->proc, SERVER_READY_MS);
    s->proc.pid = 0;
    if (s->proc.dir[0] != '\0')
        test_proc_cleanup(&s->proc);
    s->proc.dir[0] = '\0';
    return status;
}

int test_server_kill(struct test_server *s)
{
    int status = 0;
    if (s->proc.pid > 0 && kill(s->proc.pid, SIGKILL) == 0)
        status = test_proc_wait_exit(&s->proc, SERVER_READY_MS);
    s->proc.pid = 0;
    return status;
}

void test_server_print_log_tail(const struct test_server *s, uint32_t lines)
{
    static char buf[1 << 16];
    size_t n = 0;
    FILE *f = fopen(s->proc.log_path, "r");
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size > (long)sizeof(buf) - 1 ? size - (long)sizeof(buf) + 1 : 0, SEEK_SET);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    size_t start = n;
    for (uint32_t seen = 0; start > 0 && seen <= lines;)
        seen += buf[--start] == '\n';
    fprintf(stderr, "---- last lines of %s's output (%s) ----\n%s\n----\n", test_server_name(s),
            s->proc.log_path, buf + start + (start > 0));
}

const char *test_server_name(const struct test_server *s)
{
    return s->kind == TEST_SERVER_ETCD ? "etcd" : "ringd";
}

int test_candidate_spawn(struct test_server *s)
{
    const char *name = getenv("RINGD_KV_DIFF_CANDIDATE");
    enum test_server_kind kind = TEST_SERVER_RINGD;
    if (name != NULL && strcmp(name, "etcd") == 0)
        kind = TEST_SERVER_ETCD;
    else if (name != NULL && name[0] != '\0' && strcmp(name, "ringd") != 0) {
        fprintf(stderr, "RINGD_KV_DIFF_CANDIDATE must be ringd or etcd, not %s\n", name);
        return -1;
    }
    static char words[512];
    static char *args[SERVER_ARGS_MAX];
    const char *extra = getenv("RINGD_KV_DIFF_CANDIDATE_ARGS");
    snprintf(words, sizeof(words), "%s", extra != NULL ? extra : "");
    int n = 0;
    for (char *save, *w = strtok_r(words, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        if (n < SERVER_ARGS_MAX - 1)
            args[n++] = w;
    args[n] = NULL;
    const struct test_server_options options = {.args = args};
    return test_server_spawn(s, kind, &options);
}

int test_unary_sync(struct grpc_client_conn *conn, const char *path,
                    const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                    uint32_t timeout_ms, struct grpc_client_reply *reply)
{
    const struct grpc_client_request req = {
        .path = path, .message = message, .response = response, .timeout_ms = timeout_ms};
    int rc = grpc_client_unary_sync(conn, &req, timeout_ms + 1000, reply);
    if (rc != 0) {
        reply->status = GRPC_STATUS_INTERNAL;
        snprintf(reply->message, sizeof(reply->message), "grpc_client_unary_sync: %d", rc);
        reply->response = NULL;
    }
    return reply->status == GRPC_STATUS_OK ? 0 : -1;
}

char *test_peer_url(char *out, size_t out_bytes)
{
    snprintf(out, out_bytes, "http://127.0.0.1:%u", test_free_port());
    return out;
}
