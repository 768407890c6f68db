/* SPDX-License-Identifier: Apache-2.0 */
/* secretref export: the configuration as JSON, with no secret. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_export(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    sr_store *st = NULL;
    char *json = NULL;
    int opt, status;
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "ho:", options)) != -1) {
        if (opt == 'o') {
            output = optarg;
        } else if (opt == 'h') {
            printf("usage: secretref export [--output FILE]\n\n"
                   "Writes environment types and references (metadata, Key "
                   "Vault locators,\npublic keys and certificates) as JSON. "
                   "It never holds a secret or a private\nkey.\n");
            return 0;
        } else {
            return cli_unknown_option("export");
        }
    }
    if (optind != argc)
        return cli_usage("export", "unexpected argument %s", argv[optind]);
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_export(st, &json)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    if (!output) {
        puts(json);
    } else {
        size_t len = strlen(json);
        json[len] = '\n';
        if (cli_write_file(output, json, len + 1, 0644) != 0)
            status = cli_fail(SR_ERR_IO, "%s: %s", output, strerror(errno));
        json[len] = '\0';
    }
out:
    free(json);
    sr_store_free(st);
    return status;
}
