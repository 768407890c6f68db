/* SPDX-License-Identifier: Apache-2.0 */
/* The store's parameters ("Connectivity studio parameters"). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct param_def {
    const char *name;
    int writable;
};

static const struct param_def params[] = {
    {"environment", 1},         {"expiry-policy", 1},
    {"expiry-warning-days", 1}, {"token-label", 1},
    {"store-id", 0},            {"key-source", 0},
    {"active-key-id", 0},
};

static const struct param_def *param_find(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (strcmp(params[i].name, name) == 0)
            return &params[i];
    return NULL;
}

sr_rc sr_param_get(sr_store *st, const char *name, char **value)
{
    *value = NULL;
    if (!param_find(name) && strcmp(name, "schema-version") != 0)
        return sr_err(st, SR_ERR_USAGE, "%s: no such parameter", name);
    if (strcmp(name, "schema-version") == 0) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", SR_SCHEMA_VERSION);
        *value = strdup(buf);
        return *value ? SR_OK : sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    return sr_db_param_get(st, name, value);
}

static int valid_days(const char *value)
{
    char *end;
    long days = strtol(value, &end, 10);

    return *value && !*end && days >= 0 && days <= 3650;
}

sr_rc sr_param_set(sr_store *st, const char *name, const char *value)
{
    const struct param_def *def = param_find(name);
    char *canonical = NULL;
    int64_t id;
    sr_rc rc;

    if (!def)
        return sr_err(st, SR_ERR_USAGE, "%s: no such parameter", name);
    if (!def->writable)
        return sr_err(st, SR_ERR_USAGE, "%s: read-only parameter", name);
    if (strcmp(name, "expiry-policy") == 0 && strcmp(value, "warn") != 0 &&
        strcmp(value, "deny") != 0)
        return sr_err(st, SR_ERR_USAGE,
                      "expiry-policy: must be warn or deny, not %s", value);
    if (strcmp(name, "expiry-warning-days") == 0 && !valid_days(value))
        return sr_err(st, SR_ERR_USAGE,
                      "expiry-warning-days: a number of days from 0 to 3650");
    if (strcmp(name, "token-label") == 0 &&
        (!*value || strlen(value) > 32))
        return sr_err(st, SR_ERR_USAGE,
                      "token-label: 1 to 32 bytes (a PKCS#11 label)");
    if (strcmp(name, "environment") == 0 && *value) {
        if ((rc = sr_db_env_find(st, value, &id, &canonical)) != SR_OK)
            return rc;
        value = canonical;
    }
    if ((rc = sr_db_begin(st)) == SR_OK &&
        (rc = sr_db_param_set(st, name, value)) == SR_OK &&
        (rc = sr_audit(st, NULL, 0, "set-parameter", name)) == SR_OK)
        rc = sr_db_commit(st);
    if (rc != SR_OK)
        sr_db_rollback(st);
    free(canonical);
    return rc;
}
