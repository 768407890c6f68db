/* SPDX-License-Identifier: Apache-2.0 */
/* secretref delete: remove a reference and its versions. */
#include "cli.h"

int cli_delete(struct cli *cli, int argc, char **argv)
{
    const char *name;
    sr_store *st = NULL;
    int status;
    sr_rc rc;

    status = cli_operands("delete", argc, argv,
                          "usage: secretref delete NAME\n\n"
                          "Deletes the reference NAME resolves to, with all "
                          "its versions. Refused\nwhile a connector or Key "
                          "Vault client uses it.\n",
                          1, &name);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_ref_delete(st, name)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: %s: deleted\n", name);
    sr_store_free(st);
    return status;
}
