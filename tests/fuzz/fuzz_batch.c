/* SPDX-License-Identifier: Apache-2.0 */
/* Batch files in OpenSSH sftp's syntax (sftp/batch.c): every line, cut as
 * sftpc_batch_run cuts it, goes through sftpc_words_split. The words fit
 * in the line, there are at most 64 of them, and the list ends in NULL. */
#include "fuzz.h"
#include "sftpc.h"

#define LINE_MAX_LEN 8192

static void split(const char *line) {
    char **argv = NULL;
    int argc = -1, ignore = -1, i;
    size_t total = 0;

    if (sftpc_words_split(line, &argc, &argv, &ignore) != 0) {
        if (argv || argc != 0)
            abort();
        return;
    }
    if (!argv || argc < 0 || argc > 64 || argv[argc] ||
        (ignore != 0 && ignore != 1))
        abort();
    for (i = 0; i < argc; i++) {
        if (!argv[i])
            abort();
        total += strlen(argv[i]);
    }
    if (total > strlen(line))
        abort();
    sftpc_words_free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzz_string(data, size), *line, *end;
    size_t len;

    /* As fgets() gives them: at most LINE_MAX_LEN + 1 bytes, with '\n'. */
    for (line = in; *line; line = end) {
        end = strchr(line, '\n');
        end = end ? end + 1 : line + strlen(line);
        len = (size_t)(end - line);
        if (len > LINE_MAX_LEN + 1) {
            end = line + LINE_MAX_LEN + 1;
            len = LINE_MAX_LEN + 1;
        }
        {
            char save = line[len];
            line[len] = '\0';
            split(line);
            line[len] = save;
        }
    }
    /* And the whole input as one line. */
    split(in);
    free(in);
    return 0;
}
