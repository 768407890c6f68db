/* SPDX-License-Identifier: Apache-2.0 */
/* secretref audit: the audit log, for one reference or all. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>

int cli_audit(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_audit_entry *entries = NULL;
    size_t count = 0, i;
    const char *name = NULL;
    sr_store *st = NULL;
    json_t *array = NULL, *obj;
    char *text;
    int opt, json = 0, status;
    sr_rc rc;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'j') {
            json = 1;
        } else if (opt == 'h') {
            printf("usage: secretref audit [NAME] [--json]\n\n"
                   "Shows the append-only audit log: time, user, program, "
                   "environment type,\nreference, version, action. It never "
                   "holds a value.\n");
            return 0;
        } else {
            return cli_unknown_option("audit");
        }
    }
    if (argc - optind > 1)
        return cli_usage("audit", "give at most one reference NAME");
    if (optind < argc)
        name = argv[optind];
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_audit_list(st, name, &entries, &count)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    if (json)
        array = json_array();
    for (i = 0; i < count; i++) {
        const sr_audit_entry *a = &entries[i];
        if (!json) {
            printf("%s %-10s %-12s %-12s %-20s v%-3d %-10s %s\n", a->time,
                   a->user, a->program, a->environment ? a->environment : "-",
                   a->reference ? a->reference : "-", a->version, a->action,
                   a->detail);
            continue;
        }
        obj = json_object();
        json_object_set_new(obj, "time", json_string(a->time));
        json_object_set_new(obj, "user", json_string(a->user));
        json_object_set_new(obj, "program", json_string(a->program));
        json_object_set_new(obj, "environment_type",
                            a->environment ? json_string(a->environment)
                                           : json_null());
        json_object_set_new(obj, "reference", a->reference
                                                  ? json_string(a->reference)
                                                  : json_null());
        json_object_set_new(obj, "version", json_integer(a->version));
        json_object_set_new(obj, "action", json_string(a->action));
        json_object_set_new(obj, "detail", json_string(a->detail));
        json_array_append_new(array, obj);
    }
    if (json && (text = json_dumps(array, JSON_INDENT(2) |
                                              JSON_PRESERVE_ORDER))) {
        puts(text);
        free(text);
    }
out:
    json_decref(array);
    sr_audit_list_free(entries, count);
    sr_store_free(st);
    return status;
}
