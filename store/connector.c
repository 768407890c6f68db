/* SPDX-License-Identifier: Apache-2.0 */
/* Connectors: named uses of references (an SFTP connection). A connector
 * holds names and locations only, never a secret: its key is a URI, its
 * password a reference. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 255
#define USER_MAX 255
#define PATH_MAX_LEN 4096

/* 1 when text has a control character (or DEL). */
static int has_control(const char *text)
{
    const unsigned char *p;

    for (p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* The value of a base64 digit, or -1. */
static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* "SHA256:" and the 43 unpadded base64 digits of 32 bytes, as ssh-keygen
 * -l prints them: the last digit carries 4 bits, so its low 2 are 0. */
int sr_host_key_valid(const char *fp)
{
    static const char prefix[] = "SHA256:";
    size_t i;
    int v = 0;

    if (strncmp(fp, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    fp += sizeof(prefix) - 1;
    for (i = 0; fp[i]; i++)
        if ((v = base64_value(fp[i])) < 0)
            return 0;
    return i == 43 && (v & 3) == 0;
}

/* The length of a URI scheme at the start of text ("pkcs11" of
 * "pkcs11:..."), or 0 when text does not start with one. */
static size_t scheme_length(const char *text)
{
    size_t i;

    if (!((text[0] >= 'a' && text[0] <= 'z') ||
          (text[0] >= 'A' && text[0] <= 'Z')))
        return 0;
    for (i = 1; text[i]; i++) {
        char c = text[i];
        if (c == ':')
            return i;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

/* The key URI: secretref:NAME, pkcs11:... without a PIN, or a file. */
static sr_rc key_uri_check(sr_store *st, const char *connector,
                           const char *uri, char **reference)
{
    size_t scheme = scheme_length(uri);
    char *name = NULL;
    sr_rc rc;

    *reference = NULL;
    if (!*uri)
        return sr_err(st, SR_ERR_USAGE, "%s: the key URI is empty",
                      connector);
    if (strlen(uri) > PATH_MAX_LEN || has_control(uri))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the key URI is longer than %d bytes or has a "
                      "control character",
                      connector, PATH_MAX_LEN);
    if (scheme == 9 && strncasecmp(uri, "secretref", 9) == 0) {
        if ((rc = sr_uri_name(uri, &name)) == SR_ERR_NOMEM)
            return sr_err(st, rc, "out of memory");
        if (rc != SR_OK)
            return sr_err(st, SR_ERR_USAGE,
                          "%s: %.200s is not a valid secretref:NAME URI",
                          connector, uri);
        if ((rc = sr_name_check("key reference", name, &st->err)) !=
            SR_OK) {
            free(name);
            return rc;
        }
        *reference = name;
        return SR_OK;
    }
    if (scheme == 6 && strncasecmp(uri, "pkcs11", 6) == 0) {
        /* RFC 7512's pin-value would put the token's PIN in the store. */
        if (strcasestr(uri, "pin-value"))
            return sr_err(st, SR_ERR_USAGE,
                          "%s: the pkcs11 URI has a pin-value, and a "
                          "connector holds no secret",
                          connector);
        if (!uri[7])
            return sr_err(st, SR_ERR_USAGE, "%s: the pkcs11 URI is empty",
                          connector);
        return SR_OK;
    }
    if (scheme && !(scheme == 4 && strncasecmp(uri, "file", 4) == 0))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: key URI scheme %.*s: is not one of secretref:, "
                      "pkcs11: or a file",
                      connector, (int)(scheme > 32 ? 32 : scheme), uri);
    return SR_OK;
}

sr_rc sr_connector_check(sr_store *st, const sr_connector *c,
                         char **reference, int *port)
{
    const char *name = c->name;
    char *ref = NULL;
    sr_rc rc;

    *reference = NULL;
    if ((rc = sr_name_check("connector", name, &st->err)) != SR_OK)
        return rc;
    if (c->kind && strcmp(c->kind, "sftp") != 0)
        return sr_err(st, SR_ERR_USAGE,
                      "%s: unknown connector kind \"%.32s\" (sftp is the "
                      "only one)",
                      name, c->kind);
    if (!c->host || !*c->host)
        return sr_err(st, SR_ERR_USAGE, "%s: the host is missing", name);
    if (strlen(c->host) > HOST_MAX || has_control(c->host) ||
        strchr(c->host, ' '))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the host has a space or control character, or "
                      "is longer than %d bytes",
                      name, HOST_MAX);
    if (c->port < 0 || c->port > 65535)
        return sr_err(st, SR_ERR_USAGE, "%s: port %d is not in 1..65535",
                      name, c->port);
    if (!c->user || !*c->user)
        return sr_err(st, SR_ERR_USAGE, "%s: the user is missing", name);
    if (strlen(c->user) > USER_MAX || has_control(c->user))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the user has a control character or is longer "
                      "than %d bytes",
                      name, USER_MAX);
    if (!c->key_uri && !c->password_ref)
        return sr_err(st, SR_ERR_USAGE,
                      "%s: give a key URI, a password reference or both",
                      name);
    if (c->password_ref &&
        (rc = sr_name_check("password reference", c->password_ref,
                            &st->err)) != SR_OK)
        return rc;
    if (c->host_key && !sr_host_key_valid(c->host_key))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the host key is not a SHA256: fingerprint as "
                      "ssh-keygen -l prints it",
                      name);
    if (c->folder && (!*c->folder || strlen(c->folder) > PATH_MAX_LEN ||
                      has_control(c->folder)))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the folder is empty, longer than %d bytes or has "
                      "a control character",
                      name, PATH_MAX_LEN);
    if (c->key_uri && (rc = key_uri_check(st, name, c->key_uri, &ref)) !=
                          SR_OK)
        return rc;
    *reference = ref;
    *port = c->port ? c->port : 22;
    return SR_OK;
}

/* The reference ref must resolve here and be of one of kinds (a mask of
 * 1u << sr_kind). */
static sr_rc ref_check(sr_store *st, const char *connector, const char *role,
                       const char *ref, unsigned kinds, const char *wanted)
{
    struct sr_ref_row row;
    char msg[SR_ERRMSG_MAX];
    sr_rc rc = sr_ref_resolve(st, ref, 0, &row);

    if (rc == SR_ERR_NOTFOUND)
        return sr_err(st, rc, "%s: the %s reference %s does not exist",
                      connector, role, ref);
    if (rc != SR_OK) {
        memcpy(msg, st->err.msg, sizeof(msg));
        return sr_err(st, rc, "%s: %s", connector, msg);
    }
    if (!(kinds & (1u << row.info.kind)))
        rc = sr_err(st, SR_ERR_WRONG_KIND,
                    "%s: the %s reference %s is a %s reference, not %s "
                    "reference",
                    connector, role, ref, sr_kind_name(row.info.kind),
                    wanted);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_connector_add(sr_store *st, const sr_connector *c)
{
    static char sftp[] = "sftp";
    sr_connector row;
    char *reference = NULL;
    int port = 0;
    sr_rc rc;

    if ((rc = sr_connector_check(st, c, &reference, &port)) != SR_OK)
        return rc;
    row = *c;
    row.kind = c->kind ? c->kind : sftp;
    row.port = port;
    row.created = NULL;
    if ((rc = sr_db_begin(st)) != SR_OK)
        goto out;
    if ((rc = sr_db_connector_insert(st, &row, reference)) != SR_OK ||
        (reference &&
         (rc = ref_check(st, c->name, "key", reference,
                         1u << SR_KIND_CERTIFICATE, "a certificate")) !=
             SR_OK) ||
        (c->password_ref &&
         (rc = ref_check(st, c->name, "password", c->password_ref,
                         1u << SR_KIND_MANUAL | 1u << SR_KIND_KEY_VAULT,
                         "a manual or key-vault")) != SR_OK) ||
        (rc = sr_audit(st, NULL, 0, "add-connector", c->name)) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
out:
    free(reference);
    return rc;
}

sr_rc sr_connector_get(sr_store *st, const char *name, sr_connector *out)
{
    sr_connector c;
    sr_rc rc;

    if ((rc = sr_name_check("connector", name, &st->err)) != SR_OK ||
        (rc = sr_db_connector_get(st, name, &c)) != SR_OK)
        return rc;
    *out = c;
    return SR_OK;
}

sr_rc sr_connector_list(sr_store *st, sr_connector **out, size_t *count)
{
    return sr_db_connector_list(st, out, count);
}

sr_rc sr_connector_delete(sr_store *st, const char *name)
{
    sr_rc rc;

    if ((rc = sr_name_check("connector", name, &st->err)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_db_connector_delete(st, name)) != SR_OK ||
        (rc = sr_audit(st, NULL, 0, "delete-connector", name)) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
    return rc;
}

void sr_connector_clear(sr_connector *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->kind);
    free(c->host);
    free(c->user);
    free(c->key_uri);
    free(c->password_ref);
    free(c->host_key);
    free(c->folder);
    free(c->created);
    memset(c, 0, sizeof(*c));
}

void sr_connector_list_free(sr_connector *list, size_t count)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < count; i++)
        sr_connector_clear(&list[i]);
    free(list);
}
