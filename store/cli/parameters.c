/* SPDX-License-Identifier: Apache-2.0 */
/* secretref parameters: the store's parameters. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
    "environment", "expiry-policy", "expiry-warning-days", "token-label",
    "key-source",  "active-key-id", "store-id",            "schema-version",
};

static const char help[] =
    "usage: secretref parameters list\n"
    "       secretref parameters get NAME\n"
    "       secretref parameters set NAME VALUE\n\n"
    "environment          the default active environment type (\"\" for "
    "none)\n"
    "expiry-policy        warn (default): one line on standard error when "
    "an\n"
    "                     expired secret is used; deny: refuse to use it\n"
    "expiry-warning-days  how soon list and check call a reference "
    "expiring (30)\n"
    "token-label          the PKCS#11 token's label (secretref)\n"
    "key-source, active-key-id, store-id, schema-version: read-only\n";

int cli_parameters(struct cli *cli, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";
    sr_store *st = NULL;
    char *value = NULL;
    size_t i;
    int status;
    sr_rc rc = SR_OK;

    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        (void)fputs(help, stdout);
        return 0;
    }
    if (!((strcmp(action, "list") == 0 && argc == 2) ||
          (strcmp(action, "get") == 0 && argc == 3) ||
          (strcmp(action, "set") == 0 && argc == 4)))
        return cli_usage("parameters",
                         "give list, get NAME or set NAME VALUE");
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if (strcmp(action, "list") == 0) {
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            rc = sr_param_get(st, names[i], &value);
            printf("%-20s %s\n", names[i], rc == SR_OK ? value : "-");
            free(value);
            value = NULL;
        }
        rc = SR_OK;
    } else if (strcmp(action, "get") == 0) {
        if ((rc = sr_param_get(st, argv[2], &value)) == SR_OK)
            printf("%s\n", value);
    } else {
        rc = sr_param_set(st, argv[2], argv[3]);
    }
    if (rc != SR_OK)
        status = cli_fail_store(st, rc);
    free(value);
    sr_store_free(st);
    return status;
}
