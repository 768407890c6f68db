/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers of the names users write: vault://CLIENT/SECRET[/VERSION]. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static char *dup_range(const char *start, size_t len)
{
    char *s = malloc(len + 1);

    if (s) {
        memcpy(s, start, len);
        s[len] = '\0';
    }
    return s;
}

sr_rc sr_vault_uri_parse(const char *uri, char **client, char **secret,
                         char **version, struct sr_error *e)
{
    static const char scheme[] = "vault://";
    const char *parts[3] = {NULL, NULL, NULL}, *p, *slash;
    size_t lens[3] = {0, 0, 0}, n = 0;
    char *out[3] = {NULL, NULL, NULL};
    int i;

    *client = *secret = *version = NULL;
    if (strncmp(uri, scheme, sizeof(scheme) - 1) != 0)
        return sr_error_set(e, SR_ERR_USAGE,
                            "%s: not a vault://CLIENT/SECRET[/VERSION] URI",
                            uri);
    p = uri + sizeof(scheme) - 1;
    while (n < 3) {
        slash = strchr(p, '/');
        parts[n] = p;
        lens[n] = slash ? (size_t)(slash - p) : strlen(p);
        n++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (n < 2 || (n == 3 && strchr(parts[2], '/')) || lens[0] == 0 ||
        lens[1] == 0 || (n == 3 && lens[2] == 0))
        return sr_error_set(e, SR_ERR_USAGE,
                            "%s: not a vault://CLIENT/SECRET[/VERSION] URI",
                            uri);
    for (i = 0; i < (int)n; i++) {
        if (!(out[i] = dup_range(parts[i], lens[i]))) {
            for (i = 0; i < 3; i++)
                free(out[i]);
            return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        }
    }
    *client = out[0];
    *secret = out[1];
    *version = out[2];
    return SR_OK;
}

sr_rc sr_vault_uri_split(const char *uri, char **client, char **secret,
                         char **version)
{
    return sr_vault_uri_parse(uri, client, secret, version, NULL);
}
