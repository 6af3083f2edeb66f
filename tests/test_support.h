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

#endif
