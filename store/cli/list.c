/* SPDX-License-Identifier: Apache-2.0 */
/* secretref list: references, marking the expired and the soon-expiring. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const states[] = {"", "expiring", "expired"};

int cli_list(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"environment", required_argument, NULL, 'e'},
        {"expiring-within", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *environment = NULL;
    long within = -1, warn_days = 30;
    sr_ref_info *infos = NULL;
    size_t count = 0, i;
    sr_store *st = NULL;
    json_t *array = NULL, *obj;
    char *value = NULL, *text;
    int opt, json = 0, status, state;
    time_t now = time(NULL);
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        switch (opt) {
        case 'e':
            environment = optarg;
            break;
        case 'w':
            if (cli_parse_int(optarg, 0, 36500, &within) != 0)
                return cli_usage("list", "--expiring-within takes days");
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            printf("usage: secretref list [--environment TYPE] "
                   "[--expiring-within DAYS] [--json]\n\n"
                   "Lists every reference (or those of one environment "
                   "type), marking expired\nones and those expiring within "
                   "the parameter expiry-warning-days (30).\n"
                   "--expiring-within lists only those expired or expiring "
                   "within DAYS.\n");
            return 0;
        default:
            return cli_unknown_option("list");
        }
    }
    if (optind != argc)
        return cli_usage("list", "unexpected argument %s", argv[optind]);
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if (sr_param_get(st, "expiry-warning-days", &value) == SR_OK)
        cli_parse_int(value, 0, 3650, &warn_days);
    if ((rc = sr_ref_list(st, environment, &infos, &count)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    if (json && !(array = json_array())) {
        status = cli_fail(SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!json && count)
        printf("%-24s %-12s %-11s %-10s %-8s %s\n", "NAME", "ENVIRONMENT",
               "KIND", "EXPIRES", "STATE", "SECRET");
    for (i = 0; i < count; i++) {
        const sr_ref_info *in = &infos[i];
        state = sr_ref_expiry_state(in, now,
                                    (int)(within >= 0 ? within : warn_days));
        if (within >= 0 && state == 0)
            continue;
        if (json) {
            obj = json_object();
            json_object_set_new(obj, "name", json_string(in->name));
            json_object_set_new(obj, "description",
                                json_string(in->description));
            json_object_set_new(obj, "environment_type",
                                in->environment ? json_string(in->environment)
                                                : json_null());
            json_object_set_new(obj, "kind",
                                json_string(sr_kind_name(in->kind)));
            json_object_set_new(obj, "expires",
                                *in->expires ? json_string(in->expires)
                                             : json_null());
            json_object_set_new(obj, "expiry_state",
                                state ? json_string(states[state])
                                      : json_null());
            json_object_set_new(obj, "version", json_integer(in->version));
            json_array_append_new(array, obj);
            continue;
        }
        printf("%-24s %-12s %-11s %-10s %-8s %s\n", in->name,
               in->environment ? in->environment : "-",
               sr_kind_name(in->kind), *in->expires ? in->expires : "-",
               state ? states[state] : "-",
               in->version ? "set" : "not set");
    }
    if (json && (text = json_dumps(array, JSON_INDENT(2) |
                                              JSON_PRESERVE_ORDER))) {
        puts(text);
        free(text);
    }
out:
    json_decref(array);
    free(value);
    sr_ref_list_free(infos, count);
    sr_store_free(st);
    return status;
}
