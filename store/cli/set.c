/* SPDX-License-Identifier: Apache-2.0 */
/* secretref set: change a reference's fields or rotate its secret. */
#include "form.h"

int cli_set(struct cli *cli, int argc, char **argv)
{
    struct ref_form form;
    const char *name = NULL;
    sr_store *st = NULL;
    sr_rc rc;
    int status;

    if ((status = form_parse("set", argc, argv, &form, &name)) != 0)
        goto out;
    if (!name) {
        status = cli_usage("set", "give the reference's NAME");
        goto out;
    }
    if ((status = form_load(&form, 0)) != 0 ||
        (status = cli_open(cli, 1, &st)) != 0)
        goto out;
    form.spec.name = name;
    if ((rc = sr_ref_update(st, name, &form.spec)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    fprintf(stderr, "secretref: %s: updated\n", name);
out:
    sr_store_free(st);
    form_clear(&form);
    return status < 0 ? 0 : status;
}
