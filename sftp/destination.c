/* SPDX-License-Identifier: Apache-2.0 */
/* Destinations: sftp://USER@HOST[:PORT][/PATH], --azure
 * ACCOUNT[.CONTAINER].LOCALUSER, or the name of a connector in the store. */
#include "sftpc.h"

#include <stdlib.h>
#include <string.h>

void sftpc_target_clear(struct sftpc_target *t)
{
    free(t->host);
    free(t->user);
    free(t->path);
    free(t->key_uri);
    free(t->password_ref);
    free(t->host_key);
    memset(t, 0, sizeof(*t));
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int valid_host(const char *host)
{
    const char *p;

    if (!*host)
        return 0;
    for (p = host; *p; p++)
        if (*p <= ' ' || *p == '/' || *p == '@' || *p == 0x7f)
            return 0;
    return 1;
}

static sftpc_rc parse_url(const char *url, struct sftpc_target *t)
{
    const char *p = url + strlen("sftp://"), *at, *slash, *colon, *end;
    char *port_end;
    long port = 22;

    slash = strchr(p, '/');
    end = slash ? slash : p + strlen(p);
    if (!(at = memchr(p, '@', (size_t)(end - p))) || at == p)
        return sftpc_fail(SFTPC_ERR_USAGE,
                          "%s: give the user: sftp://USER@HOST[:PORT][/PATH]",
                          url);
    colon = memchr(at, ':', (size_t)(end - at));
    if (colon) {
        port = strtol(colon + 1, &port_end, 10);
        if (port_end != end || port < 1 || port > 65535)
            return sftpc_fail(SFTPC_ERR_USAGE, "%s: bad port", url);
    }
    t->user = dup_n(p, (size_t)(at - p));
    t->host = dup_n(at + 1, (size_t)((colon ? colon : end) - (at + 1)));
    t->port = (int)port;
    if (slash && slash[1])
        t->path = strdup(slash);
    if (!t->user || !t->host || (slash && slash[1] && !t->path))
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    if (!valid_host(t->host))
        return sftpc_fail(SFTPC_ERR_USAGE, "%s: bad host name", url);
    return SFTPC_OK;
}

/* ACCOUNT.LOCALUSER or ACCOUNT.CONTAINER.LOCALUSER: the user is the whole
 * string, the host ACCOUNT.blob.core.windows.net. */
static sftpc_rc parse_azure(const char *spec, struct sftpc_target *t)
{
    const char *dot = strchr(spec, '.');
    size_t account;

    if (!dot || dot == spec || !dot[1] || dot[strlen(dot) - 1] == '.')
        return sftpc_fail(SFTPC_ERR_USAGE,
                          "--azure %s: give ACCOUNT.LOCALUSER or "
                          "ACCOUNT.CONTAINER.LOCALUSER",
                          spec);
    account = (size_t)(dot - spec);
    if (!(t->user = strdup(spec)) ||
        !(t->host = malloc(account + sizeof(".blob.core.windows.net"))))
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    memcpy(t->host, spec, account);
    memcpy(t->host + account, ".blob.core.windows.net",
           sizeof(".blob.core.windows.net"));
    t->port = 22;
    return SFTPC_OK;
}

static sftpc_rc from_connector(const char *name, struct sftpc_target *t,
                               sr_config *store_cfg)
{
    sr_connector conn;
    sr_store *st = NULL;
    char err[512];
    sr_rc rc;

    memset(&conn, 0, sizeof(conn));
    if (sr_store_open_metadata(store_cfg, &st, err, sizeof(err)) != SR_OK)
        return sftpc_fail(SFTPC_ERR_KEY, "%s", err);
    rc = sr_connector_get(st, name, &conn);
    if (rc != SR_OK) {
        sftpc_fail(rc == SR_ERR_NOTFOUND ? SFTPC_ERR_USAGE : SFTPC_ERR_KEY,
                   "%s", sr_store_errmsg(st));
        sr_store_free(st);
        return rc == SR_ERR_NOTFOUND ? SFTPC_ERR_USAGE : SFTPC_ERR_KEY;
    }
    sr_store_free(st);
    t->host = conn.host;
    t->user = conn.user;
    t->port = conn.port ? conn.port : 22;
    t->path = conn.folder;
    t->key_uri = conn.key_uri;
    t->password_ref = conn.password_ref;
    t->host_key = conn.host_key;
    conn.host = conn.user = conn.folder = conn.key_uri = NULL;
    conn.password_ref = conn.host_key = NULL;
    sr_connector_clear(&conn);
    return SFTPC_OK;
}

sftpc_rc sftpc_target_parse(const char *destination, int azure,
                            struct sftpc_target *t, sr_config *store_cfg)
{
    sftpc_rc rc;

    memset(t, 0, sizeof(*t));
    if (azure)
        rc = parse_azure(destination, t);
    else if (strncmp(destination, "sftp://", 7) == 0)
        rc = parse_url(destination, t);
    else
        rc = from_connector(destination, t, store_cfg);
    if (rc != SFTPC_OK)
        sftpc_target_clear(t);
    return rc;
}
