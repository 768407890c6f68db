/* SPDX-License-Identifier: Apache-2.0 */
/* secretref init: create a store and its encryption key. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_init(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"passphrase", no_argument, NULL, 'p'},
        {"environment", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_key_source source = SR_KEY_SOURCE_FILE;
    sr_secret *pass = NULL;
    sr_store *st = NULL;
    char err[512];
    int opt, status = 0;
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        switch (opt) {
        case 'p':
            source = SR_KEY_SOURCE_PASSPHRASE;
            break;
        case 'e':
            cli->cfg.environment = optarg;
            break;
        case 'h':
            printf("usage: secretref init [--passphrase] "
                   "[--environment TYPE]\n\n"
                   "Creates the store (mode 0600, folder 0700) and its "
                   "encryption key: a new key\nfile (mode 0600), or with "
                   "--passphrase a key derived from a passphrase that\nis "
                   "read from --passphrase-file or asked for twice. "
                   "--environment sets the\nstore's default active "
                   "environment type.\n");
            return 0;
        default:
            return cli_unknown_option("init");
        }
    }
    if (optind < argc)
        return cli_usage("init", "unexpected argument %s", argv[optind]);
    if (source == SR_KEY_SOURCE_PASSPHRASE && !cli->cfg.passphrase_file &&
        !getenv("SECRETREF_PASSPHRASE_FILE")) {
        if (!cli_interactive())
            return cli_fail(SR_ERR_USAGE,
                            "init --passphrase: give --passphrase-file, or "
                            "run on a terminal");
        if (cli_prompt_secret("New store passphrase: ", 1, &pass) != 0)
            return EXIT_USAGE;
        cli->cfg.passphrase = (const char *)pass->data;
    }
    rc = sr_store_init(&cli->cfg, source, &st, err, sizeof(err));
    if (rc != SR_OK) {
        status = cli_fail(rc, "%s", err);
        goto out;
    }
    fprintf(stderr, "secretref: created a store sealed with %s\n",
            source == SR_KEY_SOURCE_FILE ? "a new key file" : "a passphrase");
out:
    cli->cfg.passphrase = NULL;
    sr_secret_free(pass);
    sr_store_free(st);
    return status;
}
