/* SPDX-License-Identifier: Apache-2.0 */
/* Environment types: a named list, editable, in use by references. */
#include "internal.h"

#include <stdlib.h>

sr_rc sr_env_list(sr_store *st, char ***names, size_t *count)
{
    return sr_db_env_list(st, names, count);
}

/* Runs one change to the environment types with its audit entry. */
static sr_rc env_change_commit(sr_store *st, sr_rc rc, const char *name,
                               const char *action)
{
    if (rc == SR_OK)
        rc = sr_audit(st, NULL, 0, action, name);
    if (rc == SR_OK)
        return sr_db_commit(st);
    sr_db_rollback(st);
    return rc;
}

sr_rc sr_env_add(sr_store *st, const char *name)
{
    sr_rc rc;

    if ((rc = sr_name_check("environment type", name, &st->err)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        return rc;
    rc = sr_db_env_add(st, name);
    if (rc == SR_ERR_EXISTS)
        sr_err(st, rc, "%s: the environment type already exists", name);
    return env_change_commit(st, rc, name, "add-environment");
}

/* The id of the store's default active type (the parameter environment)
 * into *id, 0 when there is none. A failure to read it is an error, not
 * "none": the caller would go on with SQLite's transaction rolled back. */
static sr_rc default_env_id(sr_store *st, int64_t *id)
{
    char *value = NULL;
    sr_rc rc;

    *id = 0;
    rc = sr_db_param_get(st, "environment", &value);
    if (rc == SR_OK && *value &&
        (rc = sr_db_env_find(st, value, id, NULL)) != SR_OK)
        *id = 0;
    free(value);
    if (rc == SR_ERR_NOTFOUND)
        rc = sr_err_clear(st);
    return rc;
}

sr_rc sr_env_remove(sr_store *st, const char *name)
{
    int64_t id = 0, default_id = 0;
    int in_use = 0;
    sr_rc rc;

    if ((rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_db_env_find(st, name, &id, NULL)) == SR_OK &&
        (rc = sr_db_env_in_use(st, id, &in_use)) == SR_OK && in_use)
        rc = sr_err(st, SR_ERR_IN_USE,
                    "%s: %d reference%s use%s this environment type", name,
                    in_use, in_use == 1 ? "" : "s", in_use == 1 ? "s" : "");
    if (rc == SR_OK && (rc = default_env_id(st, &default_id)) == SR_OK &&
        (id == st->env_id || id == default_id))
        rc = sr_err(st, SR_ERR_IN_USE,
                    "%s: it is the active environment type", name);
    if (rc == SR_OK)
        rc = sr_db_env_delete(st, id);
    return env_change_commit(st, rc, name, "remove-environment");
}

sr_rc sr_env_rename(sr_store *st, const char *name, const char *new_name)
{
    int64_t id = 0, default_id = 0;
    sr_rc rc;

    if ((rc = sr_name_check("environment type", new_name, &st->err)) !=
            SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_db_env_find(st, name, &id, NULL)) == SR_OK &&
        (rc = default_env_id(st, &default_id)) == SR_OK)
        rc = sr_db_env_rename(st, id, new_name);
    /* The store's default active type follows the rename. */
    if (rc == SR_OK && id == default_id)
        rc = sr_db_param_set(st, "environment", new_name);
    if (rc == SR_ERR_EXISTS)
        sr_err(st, rc, "%s: the environment type already exists", new_name);
    return env_change_commit(st, rc, name, "rename-environment");
}
