#include "test_support.h"

#include <time.h>

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
