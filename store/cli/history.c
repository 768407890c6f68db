/* SPDX-License-Identifier: Apache-2.0 */
/* secretref history: the versions of a reference. */
#include "cli.h"

int cli_history(struct cli *cli, int argc, char **argv)
{
    sr_version_info *versions = NULL;
    size_t count = 0, i;
    const char *name;
    sr_store *st = NULL;
    int status;
    sr_rc rc;

    status = cli_operands("history", argc, argv,
                          "usage: secretref history NAME\n\n"
                          "Lists every version of the reference: number, "
                          "time, user, note.\n",
                          1, &name);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_ref_history(st, name, &versions, &count)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    printf("%-8s %-21s %-16s %s\n", "VERSION", "CREATED", "BY", "NOTE");
    for (i = 0; i < count; i++)
        printf("%-8d %-21s %-16s %s\n", versions[i].version,
               versions[i].created, versions[i].created_by,
               versions[i].note);
out:
    sr_version_list_free(versions, count);
    sr_store_free(st);
    return status;
}
