/* SPDX-License-Identifier: Apache-2.0 */
/* secretref pubkey: the public key of a certificate reference. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_pubkey(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_pubkey_format format = SR_PUBKEY_PEM;
    sr_store *st = NULL;
    char *text = NULL;
    int opt, status;
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'f' && strcmp(optarg, "pem") == 0) {
            format = SR_PUBKEY_PEM;
        } else if (opt == 'f' && strcmp(optarg, "openssh") == 0) {
            format = SR_PUBKEY_OPENSSH;
        } else if (opt == 'h') {
            printf("usage: secretref pubkey NAME [--format pem|openssh]\n\n"
                   "Prints the public key: PEM, or the OpenSSH line that "
                   "Azure's local-user\nsetup (and authorized_keys) take.\n");
            return 0;
        } else {
            return cli_usage("pubkey", "--format is pem or openssh");
        }
    }
    if (argc - optind != 1)
        return cli_usage("pubkey", "give one reference NAME");
    /* With the key, so the public key is checked against its seal. */
    if ((status = cli_open(cli, 1, &st)) != 0)
        return status;
    if ((rc = sr_ref_pubkey(st, argv[optind], format, &text)) != SR_OK)
        status = cli_fail_store(st, rc);
    else if (fputs(text, stdout) == EOF || fflush(stdout) != 0)
        status = cli_fail(SR_ERR_IO, "standard output: %s", strerror(errno));
    free(text);
    sr_store_free(st);
    return status;
}
