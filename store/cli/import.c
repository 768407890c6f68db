/* SPDX-License-Identifier: Apache-2.0 */
/* secretref import: an export into this store, all or nothing. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_MAX (64L * 1024 * 1024)

/* Reads a whole file ("-": standard input). */
static int slurp(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    size_t cap = 65536, used = 0, n;
    char *buf = NULL, *grown;

    *out = NULL;
    if (!f)
        return -1;
    for (;;) {
        if (!(grown = realloc(buf, cap + 1)))
            goto fail;
        buf = grown;
        n = fread(buf + used, 1, cap - used, f);
        used += n;
        if (used < cap)
            break;
        if (cap >= (size_t)IMPORT_MAX) {
            errno = EFBIG;
            goto fail;
        }
        cap *= 2;
    }
    if (ferror(f))
        goto fail;
    if (f != stdin)
        (void)fclose(f);
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
fail:
    if (f != stdin)
        (void)fclose(f);
    free(buf);
    return -1;
}

int cli_import(struct cli *cli, int argc, char **argv)
{
    const char *path;
    sr_store *st = NULL;
    char *json = NULL, *summary = NULL;
    size_t len = 0;
    int status;
    sr_rc rc;

    status = cli_operands("import", argc, argv,
                          "usage: secretref import FILE\n\n"
                          "Reads an export (FILE, or - for standard input). "
                          "Everything is checked\nbefore anything is written, "
                          "then it is written in one transaction. New\n"
                          "references arrive with their secret \"not set\"; "
                          "existing ones of the same\nkind get the new "
                          "metadata and keep their secret. A field that could "
                          "carry\na secret is refused.\n",
                          1, &path);
    if (status)
        return status < 0 ? 0 : status;
    if (slurp(path, &json, &len) != 0)
        return cli_fail(SR_ERR_IO, "%s: %s", path,
                        errno == EFBIG ? "larger than 64 MiB"
                                       : strerror(errno));
    if ((status = cli_open(cli, 0, &st)) != 0)
        goto out;
    if ((rc = sr_import(st, json, len, &summary)) != SR_OK)
        status = cli_fail(rc, "import %s: %s", path, sr_store_errmsg(st));
    else
        fprintf(stderr, "secretref: import: %s\n", summary);
out:
    free(summary);
    free(json);
    sr_store_free(st);
    return status;
}
