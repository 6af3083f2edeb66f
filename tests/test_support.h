/* Helpers shared by the test programs: waiting on a condition with a deadline (never
 * sleep-and-hope), temporary directories, and starting a ringd process. */
#ifndef RINGD_TEST_SUPPORT_H
#define RINGD_TEST_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t test_now_ns(void);

/* Calls cond(arg) until it returns true or deadline_ms passes; true if it did. Polls with
 * short pauses, so it suits conditions set by other threads or processes. */
bool test_wait_until(bool (*cond)(void *arg), void *arg, uint32_t deadline_ms);

/* A child process whose stdout and stderr go to a file, for tests that run real binaries. */
struct test_proc {
    int pid;
    char dir[256];      /* its working directory, fresh and empty at start */
    char log_path[300]; /* its stdout and stderr */
};

/* Starts argv (argv[0] an absolute path) in a fresh empty working directory, with stdout and
 * stderr written to a file there. Returns 0 or -1. */
int test_proc_start(struct test_proc *p, char *const argv[]);

/* True once the child's output contains text, false after deadline_ms. */
bool test_proc_wait_output(struct test_proc *p, const char *text, uint32_t deadline_ms);

/* Waits up to deadline_ms for the child to exit; returns its exit status (128 + signal when
 * killed by one), or -1 on time-out (the child is then killed). */
int test_proc_wait_exit(struct test_proc *p, uint32_t deadline_ms);

/* Reads the child's output so far into buf (NUL-terminated, cut to len - 1). */
void test_proc_output(const struct test_proc *p, char *buf, uint32_t len);

/* Removes the child's working directory and everything in it (after it exited). */
void test_proc_cleanup(struct test_proc *p);

/* The ringd binary under test ($RINGD_BIN, set by ctest). */
const char *test_ringd_bin(void);

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to 0, read, closed). */
uint16_t test_free_port(void);

/* Creates a fresh empty directory for this test and returns its path (static storage). */
const char *test_temp_dir(const char *tag);

#endif
