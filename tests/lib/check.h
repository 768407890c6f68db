/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal assertion kit for the unit tests: every failed check prints
 * where and what, and the test exits non-zero at the end. */
#ifndef SECRETREF_TEST_CHECK_H
#define SECRETREF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                         \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                       \
            check_failures++;                                               \
        }                                                                   \
    } while (0)

#define CHECK_RC(expr, want)                                                \
    do {                                                                    \
        int check_rc_got = (int)(expr);                                     \
        check_count++;                                                      \
        if (check_rc_got != (int)(want)) {                                  \
            fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n",        \
                    __FILE__, __LINE__, #expr, check_rc_got, (int)(want),   \
                    #want);                                                 \
            check_failures++;                                               \
        }                                                                   \
    } while (0)

#define CHECK_STR(got, want)                                                \
    do {                                                                    \
        const char *check_got = (got), *check_want = (want);                \
        check_count++;                                                      \
        if (!check_got || strcmp(check_got, check_want) != 0) {             \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, \
                    __LINE__, #got, check_got ? check_got : "(null)",       \
                    check_want);                                            \
            check_failures++;                                               \
        }                                                                   \
    } while (0)

/* Prints the plain closing line and returns the exit status. */
static inline int check_done(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
