/* The ringd process: start-up milestones, client listeners (TCP and unix) that speak HTTP/2,
 * the real etcdctl against them, input it must survive, and clean shutdown on SIGTERM and
 * SIGINT; exit codes for bad flags, bad bootstrap flags and a port already taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "test_support.h"

#define DEADLINE_MS 20000

struct server {
    struct test_proc proc;
    uint16_t port;
    char urls[256];
    char unix_path[600];
};

static void server_start(struct server *s, const char *extra_flag)
{
    s->port = test_free_port();
    snprintf(s->urls, sizeof(s->urls), "http://127.0.0.1:%u,unix://localhost:%u", s->port, s->port);
    char advertise[64];
    snprintf(advertise, sizeof(advertise), "http://127.0.0.1:%u", s->port);
    char peer[64];
    char *argv[] = {(char *)test_ringd_bin(),
                    "--listen-client-urls",
                    s->urls,
                    "--advertise-client-urls",
                    advertise,
                    "--listen-peer-urls",
                    test_peer_url(peer, sizeof peer),
                    (char *)extra_flag,
                    NULL};
    assert_int_equal(test_proc_start(&s->proc, argv), 0);
    assert_true(test_proc_wait_output(&s->proc, "ready to serve client requests", DEADLINE_MS));
    /* etcd names a unix listener's socket file after the URL's host:port. */
    snprintf(s->unix_path, sizeof(s->unix_path), "%s/localhost:%u", s->proc.dir, s->port);
}

static int connect_tcp(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof(addr.sun_path));
    memcpy(addr.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

/* Sends bytes that are not HTTP/2 and expects the server to close the connection (after its
 * SETTINGS and maybe a GOAWAY, which are read and dropped). */
static void expect_closed(int fd, const void *bytes, size_t len)
{
    struct timeval tv = {.tv_sec = DEADLINE_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* May fail if the server closed first: that is fine. */
    (void)!send(fd, bytes, len, MSG_NOSIGNAL);
    char buf[256];
    ssize_t n;
    size_t total = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    assert_true(n == 0 || errno == ECONNRESET); /* closed, not timed out */
    assert_true(total < 4096);                  /* SETTINGS, GOAWAY: nothing else */
    close(fd);
}

/* Sends the client preface and an empty SETTINGS frame; the server's first frame must be its
 * SETTINGS (type 4 on stream 0). */
static void expect_settings(int fd)
{
    static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                     "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    assert_int_equal(send(fd, preface, sizeof(preface) - 1, MSG_NOSIGNAL), sizeof(preface) - 1);
    struct timeval tv = {.tv_sec = DEADLINE_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t head[9];
    assert_int_equal(recv(fd, head, sizeof(head), MSG_WAITALL), sizeof(head));
    assert_int_equal(head[3], 4);                               /* SETTINGS */
    assert_int_equal(head[5] | head[6] | head[7] | head[8], 0); /* stream 0 */
    close(fd);
}

/* Runs etcdctl against the server and returns its output (static storage). */
static const char *etcdctl(const char *endpoint, const char *format)
{
    char *argv[] = {"/usr/bin/etcdctl", "--endpoints", (char *)endpoint, "endpoint",
                    "status",           "-w",          (char *)format,   NULL};
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), 0);
    static char out[8192];
    test_proc_output(&p, out, sizeof(out));
    test_proc_cleanup(&p);
    return out;
}

static void server_stop(struct server *s, int sig)
{
    assert_int_equal(kill(s->proc.pid, sig), 0);
    assert_int_equal(test_proc_wait_exit(&s->proc, DEADLINE_MS), 0);
    assert_true(test_proc_wait_output(&s->proc, "received signal; shutting down", 0));
    assert_true(test_proc_wait_output(&s->proc, "stopped ringd server", 0));
    struct stat st;
    assert_int_not_equal(stat(s->unix_path, &st), 0); /* the socket file is removed */
    test_proc_cleanup(&s->proc);
}

static void test_serves_tcp_and_unix_then_stops_on_sigterm(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL);
    assert_true(test_proc_wait_output(&s.proc, "\"msg\":\"starting ringd server\"", 0));
    /* etcd's ids for the default member (checked against etcd 3.4.23). */
    assert_true(test_proc_wait_output(
        &s.proc,
        "\"msg\":\"starting local member\",\"local-member-id\":\"8e9e05c52164694d\","
        "\"cluster-id\":\"cdf818194e3a8c32\"",
        0));
    expect_settings(connect_tcp(s.port));
    expect_settings(connect_unix(s.unix_path));
    server_stop(&s, SIGTERM);
}

/* The real etcdctl from Debian: `endpoint status` over TCP and over the unix socket. */
static void test_etcdctl_endpoint_status(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, NULL);
    char endpoint[700];
    snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%u", s.port);
    const char *json = etcdctl(endpoint, "json");
    assert_non_null(strstr(json, "\"member_id\":10276657743932975437"));
    assert_non_null(strstr(json, "\"cluster_id\":14841639068965178418"));
    assert_non_null(strstr(json, "\"version\":\"3.5.0\""));
    assert_non_null(strstr(json, "\"leader\":10276657743932975437"));
    assert_non_null(strstr(json, "\"raftIndex\":4,\"raftTerm\":2"));
    const char *table = etcdctl(endpoint, "table");
    assert_non_null(strstr(table, "| 8e9e05c52164694d |   3.5.0 |"));
    snprintf(endpoint, sizeof(endpoint), "unix://%s", s.unix_path);
    json = etcdctl(endpoint, "json");
    assert_non_null(strstr(json, "\"member_id\":10276657743932975437"));
    server_stop(&s, SIGTERM);
}

static void test_survives_many_connections_and_garbage(void **state)
{
    (void)state;
    struct server s;
    server_start(&s, "--ringd-shards=2");
    uint8_t garbage[4096];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 300; i++) {
        for (size_t j = 0; j < sizeof(garbage); j++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            garbage[j] = (uint8_t)x;
        }
        garbage[0] = 'x'; /* not the first byte of the HTTP/2 preface */
        expect_closed(connect_tcp(s.port), garbage, 1 + (size_t)(i * 13) % (sizeof(garbage) - 1));
    }
    /* Many open at once, then all closed by the server. */
    int fds[200];
    for (int i = 0; i < 200; i++)
        fds[i] = connect_tcp(s.port);
    for (int i = 0; i < 200; i++)
        expect_closed(fds[i], "x", 1);
    server_stop(&s, SIGINT);
}

static void test_port_in_use_exits_1(void **state)
{
    (void)state;
    uint16_t port = test_free_port();
    int blocker = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(blocker, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(blocker, 1), 0);
    char urls[64], peer[64];
    snprintf(urls, sizeof(urls), "http://127.0.0.1:%u", port);
    char *argv[] = {(char *)test_ringd_bin(),
                    "--listen-client-urls",
                    urls,
                    "--advertise-client-urls",
                    urls,
                    "--listen-peer-urls",
                    test_peer_url(peer, sizeof peer),
                    NULL};
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), 1);
    assert_true(test_proc_wait_output(&p, "Address already in use", 0));
    close(blocker);
    test_proc_cleanup(&p);
}

static void run_expecting(char *const argv[], int status, const char *text)
{
    struct test_proc p;
    assert_int_equal(test_proc_start(&p, argv), 0);
    assert_int_equal(test_proc_wait_exit(&p, DEADLINE_MS), status);
    assert_true(test_proc_wait_output(&p, text, 0));
    test_proc_cleanup(&p);
}

static void test_flags_version_and_errors(void **state)
{
    (void)state;
    char *bin = (char *)test_ringd_bin();
    run_expecting((char *[]){bin, "--version", NULL}, 0, "etcd API Version: 3.5");
    run_expecting((char *[]){bin, "--foo", NULL}, 2, "flag provided but not defined: -foo");
    run_expecting((char *[]){bin, "--heartbeat-interval", "abc", NULL}, 2,
                  "invalid value \"abc\" for flag -heartbeat-interval: parse error");
    run_expecting((char *[]){bin, "--cert-file", "x.pem", NULL}, 2, "not supported yet");
    /* A bootstrap error: etcd's warning and fatal lines, exit 1. */
    run_expecting(
        (char *[]){bin, "--name", "nope", "--initial-cluster", "a=http://localhost:2380", NULL}, 1,
        "\"msg\":\"discovery failed\",\"error\":\"couldn't find local name "
        "\\\"nope\\\" in the initial cluster configuration\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_tcp_and_unix_then_stops_on_sigterm),
        cmocka_unit_test(test_etcdctl_endpoint_status),
        cmocka_unit_test(test_survives_many_connections_and_garbage),
        cmocka_unit_test(test_port_in_use_exits_1),
        cmocka_unit_test(test_flags_version_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
