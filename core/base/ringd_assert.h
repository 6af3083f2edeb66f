/* Assertions that stay on in every build: they document what must hold and stop the process
 * the moment it does not. Bad input from the network or disk is never asserted on. */
#ifndef RINGD_ASSERT_H
#define RINGD_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define RINGD_ASSERT_FAIL(expr)                                                            \
    (fprintf(stderr, "ringd: assertion failed: %s (%s:%d %s)\n", expr, __FILE__, __LINE__, \
             __func__),                                                                    \
     abort())

/* Checked in every build, release included. */
#define ASSERT(expr) ((expr) ? (void)0 : RINGD_ASSERT_FAIL(#expr))

/* For checks too expensive for release builds (a walk over a whole structure). */
#ifdef RINGD_DEBUG_ASSERTS
#define DASSERT(expr) ASSERT(expr)
#else
#define DASSERT(expr) ((void)sizeof(expr))
#endif

#define UNREACHABLE() RINGD_ASSERT_FAIL("unreachable")

#endif
