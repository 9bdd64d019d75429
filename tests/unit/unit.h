/* A tiny unit-test harness: each CHECK prints "ok - ..." or "not ok - ...";
 * tests/run.sh counts the lines.  A test binary exits non-zero on failure. */
#ifndef NUDGE_UNIT_H
#define NUDGE_UNIT_H
#include <stdio.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond, name)                                                                \
    do {                                                                                 \
        if (cond)                                                                        \
            printf("ok - %s\n", name);                                                   \
        else {                                                                           \
            printf("not ok - %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond);        \
            unit_failures++;                                                             \
        }                                                                                \
    } while (0)

#define CHECK_STR(got, want, name)                                                       \
    do {                                                                                 \
        const char *g_ = (got), *w_ = (want);                                            \
        if (g_ && w_ && strcmp(g_, w_) == 0)                                             \
            printf("ok - %s\n", name);                                                   \
        else {                                                                           \
            printf("not ok - %s (%s:%d: got \"%s\", want \"%s\")\n", name, __FILE__,     \
                   __LINE__, g_ ? g_ : "(null)", w_ ? w_ : "(null)");                    \
            unit_failures++;                                                             \
        }                                                                                \
    } while (0)

#define UNIT_DONE() return unit_failures ? 1 : 0

#endif
