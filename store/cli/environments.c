/* SPDX-License-Identifier: Apache-2.0 */
/* secretref environments: list, add, remove and rename environment
 * types. */
#include "cli.h"

#include <string.h>

static const char help[] =
    "usage: secretref environments list\n"
    "       secretref environments add NAME\n"
    "       secretref environments remove NAME\n"
    "       secretref environments rename NAME NEW_NAME\n\n"
    "Environment types (Development, Test, Acceptance, Production by "
    "default).\nA type in use by a reference cannot be removed.\n";

int cli_environments(struct cli *cli, int argc, char **argv)
{
    char **names = NULL;
    size_t count = 0, i;
    sr_store *st = NULL;
    const char *action = argc > 1 ? argv[1] : "";
    int status, want = 0;
    sr_rc rc = SR_OK;

    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        (void)fputs(help, stdout);
        return 0;
    }
    if (strcmp(action, "list") == 0)
        want = 2;
    else if (strcmp(action, "add") == 0 || strcmp(action, "remove") == 0)
        want = 3;
    else if (strcmp(action, "rename") == 0)
        want = 4;
    if (!want || argc != want)
        return cli_usage("environments", "give list, add NAME, remove NAME "
                                         "or rename NAME NEW_NAME");
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if (want == 2) {
        rc = sr_env_list(st, &names, &count);
        for (i = 0; rc == SR_OK && i < count; i++)
            printf("%s%s\n", names[i],
                   sr_store_environment(st) &&
                           strcmp(sr_store_environment(st), names[i]) == 0
                       ? " (active)"
                       : "");
    } else if (strcmp(action, "add") == 0) {
        rc = sr_env_add(st, argv[2]);
    } else if (strcmp(action, "remove") == 0) {
        rc = sr_env_remove(st, argv[2]);
    } else {
        rc = sr_env_rename(st, argv[2], argv[3]);
    }
    if (rc != SR_OK)
        status = cli_fail_store(st, rc);
    sr_string_list_free(names, count);
    sr_store_free(st);
    return status;
}
