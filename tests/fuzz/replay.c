/* SPDX-License-Identifier: Apache-2.0 */
/* A main() for the fuzz targets without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file named on the command line and
 * on every file in the folders named there, so that the committed corpus
 * runs in ctest under any compiler. A folder without a file fails: a
 * missing corpus must not pass. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX ((size_t)16 * 1024 * 1024)

/* Reads path whole and runs the target on it: 0, or -1 when unreadable. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t len = 0, cap = 0, n;
    int rc = -1;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            unsigned char *bigger;
            if (cap >= INPUT_MAX ||
                !(bigger = realloc(data, cap ? 2 * cap : 4096))) {
                fprintf(stderr, "replay: %s: too large\n", path);
                goto out;
            }
            data = bigger;
            cap = cap ? 2 * cap : 4096;
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        goto out;
    }
    /* An exact-size copy, so ASan sees reads past the input's end. */
    {
        unsigned char *exact = malloc(len ? len : 1);
        if (!exact)
            goto out;
        memcpy(exact, data, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
    }
    rc = 0;
out:
    free(data);
    (void)fclose(f); /* read only: nothing to lose */
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir, in name order: their number, or -1. */
static long replay_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *ent;
    struct stat sb;
    char **names = NULL, **bigger, *path;
    size_t count = 0, cap = 0, i, plen;
    long done = -1;

    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        plen = strlen(dir) + strlen(ent->d_name) + 2;
        if (!(path = malloc(plen)))
            goto out;
        snprintf(path, plen, "%s/%s", dir, ent->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            free(path);
            continue;
        }
        if (count == cap) {
            if (!(bigger = realloc(names, (cap + 64) * sizeof(*names)))) {
                free(path);
                goto out;
            }
            names = bigger;
            cap += 64;
        }
        names[count++] = path;
    }
    if (count > 0) /* names is NULL when the folder had no file */
        qsort(names, count, sizeof(*names), by_name);
    for (i = 0; i < count; i++)
        if (replay_file(names[i]) != 0)
            goto out;
    done = (long)count;
out:
    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return done;
}

int main(int argc, char **argv) {
    struct stat sb;
    long total = 0, n;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(sb.st_mode)) {
            if ((n = replay_dir(argv[i])) < 0)
                return 1;
            if (n == 0) {
                fprintf(stderr, "replay: %s: no input files\n", argv[i]);
                return 1;
            }
            total += n;
        } else if (replay_file(argv[i]) != 0) {
            return 1;
        } else {
            total++;
        }
    }
    printf("%s: replayed %ld inputs\n", argv[0], total);
    return 0;
}
