/* SPDX-License-Identifier: Apache-2.0 */
/* secretref rekey: re-seal everything under a new encryption key. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

int cli_rekey(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"passphrase", no_argument, NULL, 'p'},
        {"new-passphrase-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_key_source source = SR_KEY_SOURCE_FILE;
    sr_config new_key;
    sr_secret *pass = NULL;
    sr_store *st = NULL;
    int opt, status, chosen = 0;
    sr_rc rc;

    memset(&new_key, 0, sizeof(new_key));
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        switch (opt) {
        case 'k':
            new_key.key_file = optarg;
            chosen++;
            break;
        case 'p':
            source = SR_KEY_SOURCE_PASSPHRASE;
            chosen++;
            break;
        case 'f':
            new_key.passphrase_file = optarg;
            break;
        case 'h':
            printf("usage: secretref rekey (--key-file NEW | --passphrase "
                   "[--new-passphrase-file F])\n\n"
                   "Re-wraps every data key under a new encryption key in "
                   "one transaction: a\ncrash leaves the old key or the new "
                   "one in force, never a mix. --key-file\nNEW uses that key "
                   "file, creating it (mode 0600) if it does not exist; the\n"
                   "old key file is left in place for you to destroy. "
                   "--passphrase asks for a\nnew passphrase twice, or reads "
                   "it from --new-passphrase-file.\n");
            return 0;
        default:
            return cli_unknown_option("rekey");
        }
    }
    if (chosen != 1 || optind != argc)
        return cli_usage("rekey", "give --key-file NEW or --passphrase");
    if (new_key.passphrase_file && source != SR_KEY_SOURCE_PASSPHRASE)
        return cli_usage("rekey", "--new-passphrase-file goes with "
                                  "--passphrase");
    if (source == SR_KEY_SOURCE_PASSPHRASE && !new_key.passphrase_file) {
        if (!cli_interactive())
            return cli_fail(SR_ERR_USAGE,
                            "rekey --passphrase: give --new-passphrase-file, "
                            "or run on a terminal");
        if (cli_prompt_secret("New store passphrase: ", 1, &pass) != 0)
            return EXIT_USAGE;
        new_key.passphrase = (const char *)pass->data;
    }
    if ((status = cli_open(cli, 1, &st)) != 0)
        goto out;
    if ((rc = sr_rekey(st, &new_key, source)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: rekey: every secret is now sealed with "
                        "the new key\n");
out:
    sr_secret_free(pass);
    sr_store_free(st);
    return status;
}
