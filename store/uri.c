/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers of the names users write: vault://CLIENT/SECRET[/VERSION]. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sr_rc sr_uri_name(const char *uri, char **name)
{
    static const char scheme[] = "secretref:";
    const char *p;
    char *out, *q;
    int hi, lo;

    *name = NULL;
    if (strncasecmp(uri, scheme, sizeof(scheme) - 1) != 0)
        return SR_ERR_USAGE;
    p = uri + sizeof(scheme) - 1;
    /* "secretref://NAME" is accepted too, as users write it. */
    if (p[0] == '/' && p[1] == '/')
        p += 2;
    if (!*p)
        return SR_ERR_USAGE;
    if (!(out = malloc(strlen(p) + 1)))
        return SR_ERR_NOMEM;
    for (q = out; *p; p++) {
        if (*p != '%') {
            *q++ = *p;
            continue;
        }
        if ((hi = hex_digit(p[1])) < 0 || (lo = hex_digit(p[2])) < 0 ||
            (hi == 0 && lo == 0)) {
            free(out);
            return SR_ERR_USAGE;
        }
        *q++ = (char)(hi << 4 | lo);
        p += 2;
    }
    *q = '\0';
    *name = out;
    return SR_OK;
}

char *sr_uri_from_name(const char *name)
{
    static const char scheme[] = "secretref:", digits[] = "0123456789ABCDEF";
    size_t len = strlen(name), i;
    char *uri, *q;

    if (!(uri = malloc(sizeof(scheme) + 3 * len)))
        return NULL;
    memcpy(uri, scheme, sizeof(scheme) - 1);
    q = uri + sizeof(scheme) - 1;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            *q++ = (char)c;
        } else {
            *q++ = '%';
            *q++ = digits[c >> 4];
            *q++ = digits[c & 15];
        }
    }
    *q = '\0';
    return uri;
}
