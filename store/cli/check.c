/* SPDX-License-Identifier: Apache-2.0 */
/* secretref check: a non-zero exit when anything is expired or expiring,
 * for cron jobs and monitoring. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <time.h>

int cli_check(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"within", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_ref_info *infos = NULL;
    size_t count = 0, i, expired = 0, expiring = 0;
    sr_store *st = NULL;
    char *value = NULL;
    long within = -1;
    int opt, status, state;
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'w' && cli_parse_int(optarg, 0, 36500, &within) == 0)
            continue;
        if (opt == 'h') {
            printf("usage: secretref check [--within DAYS]\n\n"
                   "Names every reference that is expired or expires "
                   "within DAYS (default: the\nparameter expiry-warning-days, "
                   "30) and exits with status 10 if there is any.\n");
            return 0;
        }
        return cli_usage("check", "--within takes a number of days");
    }
    if (optind != argc)
        return cli_usage("check", "unexpected argument %s", argv[optind]);
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if (within < 0) {
        within = 30;
        if (sr_param_get(st, "expiry-warning-days", &value) == SR_OK)
            cli_parse_int(value, 0, 3650, &within);
    }
    if ((rc = sr_ref_list(st, NULL, &infos, &count)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    for (i = 0; i < count; i++) {
        state = sr_ref_expiry_state(&infos[i], time(NULL), (int)within);
        if (!state)
            continue;
        printf("%s%s%s: %s on %s\n", infos[i].name,
               infos[i].environment ? " @" : "",
               infos[i].environment ? infos[i].environment : "",
               state == 2 ? "expired" : "expires", infos[i].expires);
        if (state == 2)
            expired++;
        else
            expiring++;
    }
    if (expired || expiring) {
        fprintf(stderr,
                "secretref: check: %zu expired, %zu expiring within %ld "
                "days\n",
                expired, expiring, within);
        status = EXIT_EXPIRING;
    }
out:
    free(value);
    sr_ref_list_free(infos, count);
    sr_store_free(st);
    return status;
}
