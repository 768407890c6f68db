/* SPDX-License-Identifier: Apache-2.0 */
/* What the fuzz targets share: the input as a C string, and a temporary
 * folder made once per process and removed at exit. */
#ifndef SECRETREF_FUZZ_H
#define SECRETREF_FUZZ_H

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (cut at its first NUL); free(). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static char fuzz_dir[PATH_MAX];

static int fuzz_rm(const char *path, const struct stat *sb, int flag,
                   struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void fuzz_dir_remove(void) {
    if (fuzz_dir[0])
        nftw(fuzz_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new folder under $SECRETREF_TEST_TMP (else $TMPDIR, else /tmp), made
 * on the first call and removed at exit; aborts when it cannot be made. */
static inline const char *fuzz_tmpdir(void) {
    const char *base = getenv("SECRETREF_TEST_TMP");

    if (fuzz_dir[0])
        return fuzz_dir;
    if (!base || !*base)
        base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    if (mkdir(base, 0700) != 0 && errno != EEXIST)
        abort();
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        perror(fuzz_dir);
        abort();
    }
    if (atexit(fuzz_dir_remove) != 0) {
        fuzz_dir_remove(); /* nothing would at exit */
        abort();
    }
    return fuzz_dir;
}

#endif
