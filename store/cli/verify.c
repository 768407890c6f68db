/* SPDX-License-Identifier: Apache-2.0 */
/* secretref verify: can this reference be used here, now? */
#include "cli.h"

#include <stdlib.h>

int cli_verify(struct cli *cli, int argc, char **argv)
{
    const char *name;
    char *details = NULL;
    sr_store *st = NULL;
    int status;
    sr_rc rc;

    status = cli_operands("verify", argc, argv,
                          "usage: secretref verify NAME\n\n"
                          "Resolves NAME for the active environment type, "
                          "applies the expiry policy\nand opens its secret "
                          "(or key) without printing anything of it.\n",
                          1, &name);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 1, &st)) != 0)
        return status;
    if ((rc = sr_ref_verify_details(st, name, &details)) != SR_OK)
        status = cli_fail_store(st, rc);
    else if (details)
        printf("%s: ok (%s)\n", name, details);
    else
        printf("%s: ok\n", name);
    free(details);
    sr_store_free(st);
    return status;
}
