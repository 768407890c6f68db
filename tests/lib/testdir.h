/* SPDX-License-Identifier: Apache-2.0 */
/* The private folder of a unit test or benchmark, and an environment with
 * nothing from the user's configuration: a test must never read or write
 * the store of whoever runs it. */
#ifndef SECRETREF_TEST_TESTDIR_H
#define SECRETREF_TEST_TESTDIR_H

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Unsets the variables that name a store, its key, an environment type or
 * a passphrase, and points XDG_CONFIG_HOME and XDG_DATA_HOME at dir, so
 * that no configuration file of the user is found either. */
static inline void test_env_isolate(const char *dir)
{
    unsetenv("SECRETREF_STORE");
    unsetenv("SECRETREF_KEY_FILE");
    unsetenv("SECRETREF_ENVIRONMENT");
    unsetenv("SECRETREF_PASSPHRASE_FILE");
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("XDG_DATA_HOME", dir, 1);
}

/* Makes dir = $SECRETREF_TEST_TMP/NAME.XXXXXX (/tmp when it is not set),
 * 0700, and isolates the environment in it. Returns 1, or 0 with a message
 * on stderr. */
static inline int test_dir_make(char *dir, size_t size, const char *name)
{
    const char *base = getenv("SECRETREF_TEST_TMP");
    int n;

    if (!base || !*base)
        base = "/tmp";
    (void)mkdir(base, 0700);
    n = snprintf(dir, size, "%s/%s.XXXXXX", base, name);
    if (n < 0 || (size_t)n >= size || !mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp %s/%s.XXXXXX: %s\n", base, name,
                n >= 0 && (size_t)n < size ? strerror(errno)
                                           : "name too long");
        dir[0] = '\0';
        return 0;
    }
    test_env_isolate(dir);
    return 1;
}

/* Removes dir when the test passed; keeps it, and says so, when it did
 * not, for the failure to be looked at. */
static inline void test_dir_done(const char *dir, int failed)
{
    char cmd[PATH_MAX + 16];

    if (!dir[0])
        return;
    if (failed) {
        fprintf(stderr, "kept %s for inspection\n", dir);
        return;
    }
    /* mkdtemp's names have no quote; the base is ours. */
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

#endif
