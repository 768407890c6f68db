/* SPDX-License-Identifier: Apache-2.0 */
/* Batch files in OpenSSH sftp's syntax: one command a line; words split
 * at blanks, with '...' literal, "..." and \ escaping; '#' starts a
 * comment line; a leading '-' lets the batch go on after that command
 * fails, and a leading '@' does not echo it. */
#include "sftpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_LEN 8192
#define WORDS_MAX 64

int sftpc_words_split(const char *line, int *argc, char ***argv,
                      int *ignore_errors)
{
    size_t len = strlen(line);
    char **words, *out, *o;
    const char *p = line;
    int n = 0, in_word;
    char quote;

    *argc = 0;
    *argv = NULL;
    *ignore_errors = 0;
    /* One block: the pointer array, then the words' characters. */
    if (!(words = malloc((WORDS_MAX + 1) * sizeof(*words) + len + 1)))
        return -1;
    out = o = (char *)(words + WORDS_MAX + 1);
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p == '-' || *p == '@') {
        if (*p == '-')
            *ignore_errors = 1;
        p++;
    }
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (n == WORDS_MAX)
            goto bad;
        words[n++] = o;
        in_word = 1;
        quote = 0;
        while (*p && in_word) {
            if (quote) {
                if (*p == quote)
                    quote = 0;
                else if (quote == '"' && *p == '\\' && p[1])
                    *o++ = *++p;
                else
                    *o++ = *p;
                p++;
            } else if (*p == '\'' || *p == '"') {
                quote = *p++;
            } else if (*p == '\\' && p[1]) {
                p++;
                *o++ = *p++;
            } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                in_word = 0;
            } else {
                *o++ = *p++;
            }
        }
        if (quote)
            goto bad;
        *o++ = '\0';
    }
    (void)out;
    words[n] = NULL;
    *argc = n;
    *argv = words;
    return 0;
bad:
    free(words);
    return -1;
}

void sftpc_words_free(char **argv)
{
    free(argv);
}

sftpc_rc sftpc_batch_run(struct sftpc_conn *c, const struct sftpc_pool *pool,
                         const char *file)
{
    char line[LINE_MAX_LEN + 2], **argv = NULL;
    int argc, ignore, lineno = 0, echo;
    sftpc_rc rc = SFTPC_OK, one;
    const char *p;
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");

    if (!f)
        return sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", file, strerror(errno));
    while (rc == SFTPC_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = sftpc_fail(SFTPC_ERR_USAGE, "%s:%d: line too long", file,
                            lineno);
            break;
        }
        for (p = line; *p == ' ' || *p == '\t'; p++)
            ;
        if (!*p || *p == '\n' || *p == '#')
            continue;
        echo = !strchr("-@", *p) || (p[0] == '-' && p[1] != '@');
        echo = echo && !c->opts->quiet && *p != '@';
        if (sftpc_words_split(line, &argc, &argv, &ignore) != 0) {
            rc = sftpc_fail(SFTPC_ERR_USAGE, "%s:%d: unterminated quote or "
                            "too many words", file, lineno);
            break;
        }
        if (argc > 0 && (strcmp(argv[0], "bye") == 0 ||
                         strcmp(argv[0], "quit") == 0 ||
                         strcmp(argv[0], "exit") == 0)) {
            sftpc_words_free(argv);
            break;
        }
        if (argc > 0) {
            if (echo) {
                printf("sftp> %s", p);
                if (!strchr(p, '\n'))
                    putchar('\n');
                (void)fflush(stdout);
            }
            one = sftpc_command(c, pool, argc, argv);
            if (one != SFTPC_OK && !ignore)
                rc = one;
        }
        sftpc_words_free(argv);
        argv = NULL;
    }
    if (f != stdin)
        (void)fclose(f);
    return rc;
}
