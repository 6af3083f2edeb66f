/* Helpers shared by the test programs: waiting on a condition with a deadline (never
 * sleep-and-hope), temporary directories, child processes, and starting the servers under test
 * (Debian's etcd as the reference, ringd) on free ports. */
#ifndef RINGD_TEST_SUPPORT_H
#define RINGD_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "grpc_client.h"

/* Monotonic time in nanoseconds. */
uint64_t test_now_ns(void);

/* Calls cond(arg) until it returns true or deadline_ms passes; true if it did. Polls with
 * short pauses, so it suits conditions set by other threads or processes. */
bool test_wait_until(bool (*cond)(void *arg), void *arg, uint32_t deadline_ms);

/* A child process whose stdout and stderr go to a file, for tests that run real binaries. */
struct test_proc {
    int pid;
    char dir[256];      /* its working directory, fresh and empty at start */
    char log_path[300]; /* its stdout, and its stderr unless that went apart */
    char err_path[300]; /* its stderr when started with stderr_apart; "" otherwise */
};

/* Starts argv (argv[0] an absolute path) in a fresh empty working directory, with stdout and
 * stderr written to a file there. Returns 0 or -1. */
int test_proc_start(struct test_proc *p, char *const argv[]);

/* How test_proc_start_io wires the child's standard streams. */
struct test_proc_io {
    const char *stdin_text; /* written to a file the child reads as stdin; NULL: inherited */
    bool stderr_apart;      /* stderr to its own file (err_path) instead of with stdout */
};

/* test_proc_start with the streams as io says. Returns 0 or -1. */
int test_proc_start_io(struct test_proc *p, char *const argv[], const struct test_proc_io *io);

/* True once the child's output contains text, false after deadline_ms. */
bool test_proc_wait_output(struct test_proc *p, const char *text, uint32_t deadline_ms);

/* Waits up to deadline_ms for the child to exit; returns its exit status (128 + signal when
 * killed by one), or -1 on time-out (the child is then killed). */
int test_proc_wait_exit(struct test_proc *p, uint32_t deadline_ms);

/* A cmocka teardown whose *state is a struct test_proc: a test that failed half-way leaves no
 * server running (a process already waited for is left alone). */
int test_proc_kill_leftover(void **state);

/* Sends sig, waits up to deadline_ms for the exit and removes the process's directory. Returns
 * the exit status as test_proc_wait_exit does. */
int test_proc_signal_exit(struct test_proc *p, int sig, uint32_t deadline_ms);

/* Reads the child's output so far into buf (NUL-terminated, cut to len - 1). Returns the
 * number of bytes read. */
uint32_t test_proc_output(const struct test_proc *p, char *buf, uint32_t len);

/* The same for its stderr when that went apart ("" otherwise). */
uint32_t test_proc_stderr(const struct test_proc *p, char *buf, uint32_t len);

/* Removes the child's working directory and everything in it (after it exited); with
 * RINGD_TEST_KEEP=1 it stays for a look at the server's output (its path goes to stderr). */
void test_proc_cleanup(struct test_proc *p);

/* Removes a directory and everything in it. */
void test_remove_dir(const char *path);

/* A seeded generator for the randomized tests: splitmix64, where every seed, 0 included, gives a
 * good sequence, so a seed printed on failure repeats the run. */
struct test_rng {
    uint64_t state;
};

uint64_t test_rng_next(struct test_rng *r);

/* The decimal number in environment variable name, or fallback when it is unset or empty; any
 * other text ends the program (status 2) with a message naming the variable. */
uint64_t test_env_number(const char *name, uint64_t fallback);

/* Uniform enough in [0, n) for tests; n > 0. */
uint32_t test_rng_below(struct test_rng *r, uint32_t n);

/* One unary call that must answer OK: sends grpc-timeout timeout_ms and waits a second more.
 * Returns 0 with reply filled (free it with grpc_client_reply_free), or -1 with the status and
 * the reason in reply (a local failure: INTERNAL and the client's error). */
int test_unary_sync(struct grpc_client_conn *conn, const char *path,
                    const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                    uint32_t timeout_ms, struct grpc_client_reply *reply);

/* The ringd binary under test ($RINGD_BIN, set by ctest). */
const char *test_ringd_bin(void);

/* "http://127.0.0.1:P" for a free port P, in out (at least 32 bytes): a ringd started by a
 * test listens for peers there instead of etcd's default localhost:2380, which tests running
 * side by side would share. Returns out. */
char *test_peer_url(char *out, size_t out_bytes);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, read, closed), never one this
 * process was handed recently, so servers started side by side get distinct ports. */
uint16_t test_free_port(void);

/* Creates a fresh empty directory for this test and returns its path (static storage). */
const char *test_temp_dir(const char *tag);

/* A single-member server under test on free ports, in a fresh working directory. */
enum test_server_kind {
    TEST_SERVER_ETCD,  /* Debian's etcd 3.4.23, TEST_ETCD_BIN: the reference */
    TEST_SERVER_RINGD, /* test_ringd_bin() */
};

#define TEST_ETCD_BIN    "/usr/bin/etcd"
#define TEST_ETCDCTL_BIN "/usr/bin/etcdctl"

struct test_server_options {
    bool unix_socket;  /* etcd only: also listen on unix://localhost:P (see unix_path) */
    char *const *args; /* extra flags, NULL-terminated; NULL: none */
    /* The data directory, an absolute path that outlives the server (restarts on the same data);
     * NULL: in the fresh working directory, removed with it. */
    const char *data_dir;
    /* Fixed ports, so a restarted server has the same URLs and member id; 0: a free port. With a
     * peer port, ringd gets the peer flags etcd gets (--listen-peer-urls, --initial-*). */
    uint16_t client_port;
    uint16_t peer_port;
    /* A member of a cluster (with peer_port): its --name and the --initial-cluster naming every
     * member ("n1=http://127.0.0.1:P1,..."); NULL: "default", alone. */
    const char *name;
    const char *initial_cluster;
};

struct test_server {
    enum test_server_kind kind;
    struct test_proc proc;
    uint16_t client_port;
    char endpoint[64];       /* "127.0.0.1:P" */
    char unix_path[300];     /* the unix socket file when asked for one; "" otherwise */
    char unix_endpoint[320]; /* "unix://" unix_path */
};

/* Starts the server (options may be NULL) and returns at once; test_server_wait_ready then
 * waits for it, so several servers can start side by side. Returns 0 or -1 with the reason on
 * stderr (a missing etcd says how to install it). */
int test_server_spawn(struct test_server *s, enum test_server_kind kind,
                      const struct test_server_options *options);

/* Waits (20 s at most) until the spawned server serves clients. Returns 0 or -1 (reason on
 * stderr). */
int test_server_wait_ready(struct test_server *s);

/* test_server_spawn and test_server_wait_ready. */
int test_server_start(struct test_server *s, enum test_server_kind kind,
                      const struct test_server_options *options);

/* Stops the server with SIGTERM, waits for it and removes its directory. Returns its exit
 * status (see test_proc_wait_exit); 0 when it was not running. */
int test_server_stop(struct test_server *s);

/* Kills the server with SIGKILL and waits (20 s at most) for it; its working directory stays
 * for test_server_print_log_tail until test_server_stop removes it. Returns its exit status
 * (137 once killed; see test_proc_wait_exit); 0 when it was not running. */
int test_server_kill(struct test_server *s);

/* Prints the last lines of the server's output to stderr, for a failure report. */
void test_server_print_log_tail(const struct test_server *s, uint32_t lines);

/* The differential tests' candidate, from the environment: $RINGD_KV_DIFF_CANDIDATE is "ringd"
 * (the default) or "etcd"; $RINGD_KV_DIFF_CANDIDATE_ARGS adds flags (split at spaces), e.g.
 * "--max-txn-ops 64" to see a difference caught. Spawns it as test_server_spawn does. */
int test_candidate_spawn(struct test_server *s);

/* "etcd" or "ringd". */
const char *test_server_name(const struct test_server *s);

#endif
