/* SPDX-License-Identifier: Apache-2.0 */
/* secretref rollback: a new version equal to an old one. */
#include "cli.h"

int cli_rollback(struct cli *cli, int argc, char **argv)
{
    const char *operands[2];
    sr_store *st = NULL;
    long version;
    int status;
    sr_rc rc;

    status = cli_operands("rollback", argc, argv,
                          "usage: secretref rollback NAME VERSION\n\n"
                          "Makes a new version equal to VERSION; the history "
                          "keeps every version.\n",
                          2, operands);
    if (status)
        return status < 0 ? 0 : status;
    if (cli_parse_int(operands[1], 1, 1000000000, &version) != 0)
        return cli_usage("rollback", "%s: not a version number",
                         operands[1]);
    if ((status = cli_open(cli, 1, &st)) != 0)
        return status;
    if ((rc = sr_ref_rollback(st, operands[0], (int)version)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: %s: rolled back to version %ld\n",
                operands[0], version);
    sr_store_free(st);
    return status;
}
