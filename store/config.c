/* SPDX-License-Identifier: Apache-2.0 */
/* Where the store and its key are: options, environment, module settings,
 * config files, defaults (design.md, "Configuration"). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys of a config file, in the order of sr_resolved_config's fields. */
enum { C_STORE, C_KEY_FILE, C_ENVIRONMENT, C_PASSPHRASE_FILE, C_COUNT };
static const char *const config_keys[C_COUNT] = {
    "store", "key_file", "environment", "passphrase_file"};
static const char *const env_names[C_COUNT] = {
    "SECRETREF_STORE", "SECRETREF_KEY_FILE", "SECRETREF_ENVIRONMENT",
    "SECRETREF_PASSPHRASE_FILE"};

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
                       end[-1] == '\n' || end[-1] == '\r'))
        *--end = '\0';
    return s;
}

/* Reads "key = value" lines of path into the empty slots of values.
 * A missing file is fine; a malformed line is an error. */
static sr_rc config_file_read(const char *path, char *values[C_COUNT],
                              char *err, size_t errlen)
{
    char line[4096], *eq, *key, *value;
    sr_rc rc = SR_OK;
    int lineno = 0, i;
    FILE *f;

    if (!(f = fopen(path, "re"))) {
        if (errno == ENOENT)
            return SR_OK;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SR_ERR_IO;
    }
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        key = trim(line);
        if (!*key || *key == '#')
            continue;
        if (!(eq = strchr(key, '='))) {
            snprintf(err, errlen, "%s:%d: expected KEY = VALUE", path,
                     lineno);
            rc = SR_ERR_FORMAT;
            break;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);
        for (i = 0; i < C_COUNT; i++)
            if (strcmp(key, config_keys[i]) == 0)
                break;
        if (i == C_COUNT) {
            snprintf(err, errlen, "%s:%d: unknown setting %s", path, lineno,
                     key);
            rc = SR_ERR_FORMAT;
            break;
        }
        if (!values[i] && *value && !(values[i] = strdup(value))) {
            rc = SR_ERR_NOMEM;
            break;
        }
    }
    (void)fclose(f);
    return rc;
}

/* $VAR/suffix, or $HOME/home_suffix/suffix when VAR is unset, into *path
 * (NULL when neither is set). Returns SR_OK or SR_ERR_NOMEM. */
static sr_rc xdg_path(const char *var, const char *home_suffix,
                      const char *suffix, char **path)
{
    const char *base = getenv(var), *home = getenv("HOME");
    size_t len;

    *path = NULL;
    if (base && *base) {
        len = strlen(base) + strlen(suffix) + 2;
        if (!(*path = malloc(len)))
            return SR_ERR_NOMEM;
        snprintf(*path, len, "%s/%s", base, suffix);
    } else if (home && *home) {
        len = strlen(home) + strlen(home_suffix) + strlen(suffix) + 3;
        if (!(*path = malloc(len)))
            return SR_ERR_NOMEM;
        snprintf(*path, len, "%s/%s/%s", home, home_suffix, suffix);
    }
    return SR_OK;
}

sr_rc sr_config_resolve(const sr_config *cfg, sr_resolved_config *resolved,
                        char *err, size_t errlen)
{
    const char *given[C_COUNT] = {cfg->store_path, cfg->key_file,
                                  cfg->environment, cfg->passphrase_file};
    const char *module[C_COUNT] = {cfg->module_store_path,
                                   cfg->module_key_file,
                                   cfg->module_environment, NULL};
    char *values[C_COUNT] = {NULL, NULL, NULL, NULL}, *user_config = NULL;
    sr_rc rc = SR_ERR_NOMEM;
    const char *env;
    int i;

    memset(resolved, 0, sizeof(*resolved));
    if (err && errlen)
        err[0] = '\0';
    for (i = 0; i < C_COUNT; i++) {
        env = getenv(env_names[i]);
        if (given[i] && *given[i])
            values[i] = strdup(given[i]);
        else if (env && *env)
            values[i] = strdup(env);
        else if (module[i] && *module[i])
            values[i] = strdup(module[i]);
        else
            continue;
        if (!values[i])
            goto out;
    }
    /* Out of memory is not "no config file": that could pick another
     * store. */
    if ((rc = xdg_path("XDG_CONFIG_HOME", ".config", "secretref/config",
                       &user_config)) != SR_OK ||
        (user_config &&
         (rc = config_file_read(user_config, values, err, errlen)) != SR_OK))
        goto out;
    if ((rc = config_file_read("/etc/secretref/config", values, err,
                               errlen)) != SR_OK)
        goto out;
    if (!values[C_STORE] &&
        ((rc = xdg_path("XDG_DATA_HOME", ".local/share", "secretref/store.db",
                        &values[C_STORE])) != SR_OK))
        goto out;
    if (!values[C_STORE]) {
        snprintf(err, errlen, "no store path: set HOME or SECRETREF_STORE");
        rc = SR_ERR_USAGE;
        goto out;
    }
    if (!values[C_KEY_FILE] &&
        ((rc = xdg_path("XDG_CONFIG_HOME", ".config", "secretref/master.key",
                        &values[C_KEY_FILE])) != SR_OK))
        goto out;
    if (!values[C_KEY_FILE]) {
        snprintf(err, errlen,
                 "no key file path: set HOME or SECRETREF_KEY_FILE");
        rc = SR_ERR_USAGE;
        goto out;
    }
    resolved->store_path = values[C_STORE];
    resolved->key_file = values[C_KEY_FILE];
    resolved->environment = values[C_ENVIRONMENT];
    resolved->passphrase_file = values[C_PASSPHRASE_FILE];
    rc = SR_OK;
out:
    free(user_config);
    if (rc != SR_OK) {
        if (rc == SR_ERR_NOMEM && err && errlen && !err[0])
            snprintf(err, errlen, "out of memory");
        for (i = 0; i < C_COUNT; i++)
            free(values[i]);
    }
    return rc;
}

void sr_config_clear(sr_resolved_config *resolved)
{
    if (!resolved)
        return;
    free(resolved->store_path);
    free(resolved->key_file);
    free(resolved->environment);
    free(resolved->passphrase_file);
    memset(resolved, 0, sizeof(*resolved));
}
