/* SPDX-License-Identifier: Apache-2.0 */
/* Azure Key Vault: clients (where a vault is, and how to get a token for
 * it) and the resolution of key-vault references:
 * GET {vault}/secrets/{name}[/{version}]?api-version=7.4. */
#include "internal.h"
#include "http.h"
#include "keyvault.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"
#define DEFAULT_DEADLINE 30.0

void sr_keyvault_client_clear(sr_keyvault_client *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->vault_url);
    free(c->tenant);
    free(c->client_id);
    free(c->credential);
    free(c->credential_ref);
    free(c->authority);
    free(c->ca_file);
    free(c->assertion);
    free(c->created);
    memset(c, 0, sizeof(*c));
}

void sr_keyvault_list_free(sr_keyvault_client *list, size_t count)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < count; i++)
        sr_keyvault_client_clear(&list[i]);
    free(list);
}

/* The host of an http(s) URL, into buf; NULL when it is not one. */
static const char *url_host(const char *url, char *buf, size_t size,
                            int allow_http)
{
    const char *p, *end;
    size_t n;

    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (allow_http && strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return NULL;
    end = p + strcspn(p, ":/?#");
    n = (size_t)(end - p);
    if (!n || n >= size || strchr(p, '@'))
        return NULL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int valid_url(const char *url, int allow_http)
{
    char host[256];
    const char *p;

    if (!url_host(url, host, sizeof(host), allow_http))
        return 0;
    for (p = url; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

sr_rc sr_keyvault_add(sr_store *st, const sr_keyvault_client *c)
{
    int managed, secret, cert;
    struct sr_ref_row row;
    sr_rc rc;

    if ((rc = sr_name_check("Key Vault client", c->name, &st->err)) != SR_OK)
        return rc;
    if (!c->vault_url || !valid_url(c->vault_url, 0))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the vault URL must be https://VAULT.vault.azure.net",
                      c->name);
    managed = c->credential && strcmp(c->credential, "managed-identity") == 0;
    secret = c->credential && strcmp(c->credential, "client-secret") == 0;
    cert = c->credential && strcmp(c->credential, "client-certificate") == 0;
    if (!managed && !secret && !cert)
        return sr_err(st, SR_ERR_USAGE,
                      "%s: give a client secret reference, a client "
                      "certificate reference or a managed identity",
                      c->name);
    if (!managed && (!c->client_id || !*c->client_id))
        return sr_err(st, SR_ERR_USAGE, "%s: give the client id", c->name);
    if (c->client_id && strspn(c->client_id,
                               "0123456789abcdefABCDEF-") !=
                            strlen(c->client_id))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the client id is an application (client) id, "
                      "a GUID",
                      c->name);
    if (c->tenant && (sr_name_check("tenant", c->tenant, &st->err) != SR_OK ||
                      strpbrk(c->tenant, "/?# ")))
        return sr_err(st, SR_ERR_USAGE, "%s: bad tenant", c->name);
    if (c->authority && !valid_url(c->authority, managed))
        return sr_err(st, SR_ERR_USAGE, "%s: the authority must be an "
                      "https URL", c->name);
    if (c->ca_file && access(c->ca_file, R_OK) != 0)
        return sr_err(st, SR_ERR_IO, "%s: cannot read %s", c->name,
                      c->ca_file);
    if (c->assertion && (!cert || (strcmp(c->assertion, "ps256") != 0 &&
                                   strcmp(c->assertion, "rs256") != 0)))
        return sr_err(st, SR_ERR_USAGE,
                      "%s: the assertion is ps256 or rs256, for a client "
                      "certificate",
                      c->name);
    if (managed != !c->credential_ref)
        return sr_err(st, SR_ERR_USAGE, "%s: %s", c->name,
                      managed ? "a managed identity takes no reference"
                              : "give the credential's reference");
    if (c->credential_ref) {
        if ((rc = sr_ref_resolve(st, c->credential_ref, 0, &row)) != SR_OK)
            return rc;
        if ((secret && row.info.kind != SR_KIND_MANUAL) ||
            (cert && row.info.kind != SR_KIND_CERTIFICATE))
            rc = sr_err(st, SR_ERR_WRONG_KIND,
                        "%s: reference %s is a %s reference, not a %s",
                        c->name, c->credential_ref,
                        sr_kind_name(row.info.kind),
                        secret ? "manual secret" : "certificate");
        else if (cert && !row.info.cert_chain_pem)
            rc = sr_err(st, SR_ERR_WRONG_KIND,
                        "%s: reference %s has a key but no certificate "
                        "(attach one with secretref set --certificate)",
                        c->name, c->credential_ref);
        sr_ref_row_clear(&row);
        if (rc != SR_OK)
            return rc;
    }
    if ((rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_db_keyvault_insert(st, c)) != SR_OK ||
        (rc = sr_audit(st, NULL, 0, "add-keyvault-client", c->name)) !=
            SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
    return rc;
}

sr_rc sr_keyvault_get(sr_store *st, const char *name, sr_keyvault_client *out)
{
    return sr_db_keyvault_get(st, name, out);
}

sr_rc sr_keyvault_list(sr_store *st, sr_keyvault_client **out, size_t *count)
{
    return sr_db_keyvault_list(st, out, count);
}

sr_rc sr_keyvault_delete(sr_store *st, const char *name)
{
    int users = 0;
    sr_rc rc;

    if ((rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_db_keyvault_users(st, name, &users)) == SR_OK && users)
        rc = sr_err(st, SR_ERR_IN_USE,
                    "%s: %d key-vault reference%s use%s this client", name,
                    users, users == 1 ? "" : "s", users == 1 ? "s" : "");
    if (rc == SR_OK && (rc = sr_db_keyvault_delete(st, name)) == SR_OK &&
        (rc = sr_audit(st, NULL, 0, "delete-keyvault-client", name)) == SR_OK)
        return sr_db_commit(st);
    sr_db_rollback(st);
    return rc;
}

/* "https://vault.azure.net" for https://NAME.vault.azure.net: the
 * resource a vault belongs to, in every cloud. */
static char *vault_resource(const char *vault_url)
{
    char host[256], *dot, *out;

    if (!url_host(vault_url, host, sizeof(host), 0) ||
        !(dot = strchr(host, '.')) || !dot[1])
        return NULL;
    if ((out = malloc(strlen(dot) + 8)))
        snprintf(out, strlen(dot) + 8, "https://%s", dot + 1);
    return out;
}

/* Are two resource URLs the same, but for case and a trailing slash? */
int sr_same_resource(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    while (la && a[la - 1] == '/')
        la--;
    while (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* The value of key="..." in a WWW-Authenticate challenge. */
char *sr_challenge_param(const char *header, const char *key)
{
    const char *p = header, *end;
    size_t klen = strlen(key);

    while ((p = strstr(p, key))) {
        if ((p == header || p[-1] == ' ' || p[-1] == ',') &&
            p[klen] == '=' && p[klen + 1] == '"') {
            p += klen + 2;
            if (!(end = strchr(p, '"')))
                return NULL;
            return strndup(p, (size_t)(end - p));
        }
        p += klen;
    }
    return NULL;
}

/* Azure's error code: innererror.code, else error.code, else HTTP. */
void sr_keyvault_error_code(const struct sr_http_response *r, char *code,
                            size_t size)
{
    json_t *root = r->body ? json_loads(r->body, 0, NULL) : NULL;
    json_t *err = root ? json_object_get(root, "error") : NULL;
    const char *inner = NULL, *outer = NULL;

    if (json_is_object(err)) {
        outer = json_string_value(json_object_get(err, "code"));
        inner = json_string_value(
            json_object_get(json_object_get(err, "innererror"), "code"));
    }
    if (outer && inner && strcmp(outer, inner) != 0)
        snprintf(code, size, "%.40s (%.40s)", outer, inner);
    else if (outer || inner)
        snprintf(code, size, "%.40s", outer ? outer : inner);
    else
        snprintf(code, size, "HTTP %ld", r->status);
    json_decref(root);
}

static double deadline_from_env(void)
{
    const char *env = getenv("SECRETREF_KEYVAULT_DEADLINE");
    double secs = env ? strtod(env, NULL) : 0;

    return sr_http_now() + (secs > 0 && secs < 3600 ? secs : DEFAULT_DEADLINE);
}

/* "YYYY-MM-DD HH:MM UTC" of t; seconds since 1970 when gmtime cannot
 * say (Key Vault's nbf and exp can be any integer). */
static void utc_text(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (!gmtime_r(&t, &tm) ||
        strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(buf, size, "%lld", (long long)t);
}

/* Parses a secret bundle: value, version, attributes. */
sr_rc sr_keyvault_bundle_read(sr_store *st, const char *where,
                              const struct sr_http_response *r,
                              sr_secret **value, struct sr_vault_meta *meta)
{
    json_t *root = json_loads(r->body, 0, NULL), *attrs, *v;
    const char *text, *id, *slash;
    time_t now = time(NULL);
    sr_rc rc = SR_ERR_REMOTE;

    memset(meta, 0, sizeof(*meta));
    if (!root || !json_is_string(json_object_get(root, "value"))) {
        sr_err(st, rc, "%s: Key Vault answered without a value", where);
        goto out;
    }
    id = json_string_value(json_object_get(root, "id"));
    if (id && (slash = strrchr(id, '/')))
        snprintf(meta->version, sizeof(meta->version), "%.60s", slash + 1);
    if ((text = json_string_value(json_object_get(root, "contentType"))))
        snprintf(meta->content_type, sizeof(meta->content_type), "%.60s",
                 text);
    attrs = json_object_get(root, "attributes");
    if ((v = json_object_get(attrs, "exp")) && json_is_integer(v))
        meta->exp = (time_t)json_integer_value(v);
    if ((v = json_object_get(attrs, "nbf")) && json_is_integer(v))
        meta->nbf = (time_t)json_integer_value(v);
    if ((v = json_object_get(attrs, "enabled")) && json_is_false(v)) {
        sr_err(st, rc, "%s: the secret is disabled in Key Vault", where);
        goto out;
    }
    if (meta->nbf && meta->nbf > now) {
        char when[32];
        utc_text(meta->nbf, when, sizeof(when));
        rc = sr_err(st, SR_ERR_EXPIRED, "%s: the secret is not valid "
                    "before %s (Key Vault nbf)", where, when);
        goto out;
    }
    if (meta->exp && meta->exp <= now) {
        char when[32];
        utc_text(meta->exp, when, sizeof(when));
        rc = sr_err(st, SR_ERR_EXPIRED, "%s: the secret expired on %s (Key "
                    "Vault exp)", where, when);
        goto out;
    }
    text = json_string_value(json_object_get(root, "value"));
    if ((rc = sr_secret_from(text, strlen(text), value)) != SR_OK)
        sr_err(st, rc, "out of memory");
out:
    if (root) {
        /* The value lives in the JSON tree: cleanse it before freeing. */
        text = json_string_value(json_object_get(root, "value"));
        if (text)
            OPENSSL_cleanse((char *)text, strlen(text));
        json_decref(root);
    }
    return rc;
}

sr_rc sr_keyvault_fetch(sr_store *st, const struct sr_ref_row *ref,
                        sr_secret **value, struct sr_vault_meta *meta)
{
    const sr_ref_info *in = &ref->info;
    sr_keyvault_client c;
    struct sr_http_request req;
    struct sr_http_response r;
    char *url = NULL, *enc_name = NULL, *enc_version = NULL,
         *resource = NULL, *tenant = NULL, *authority = NULL,
         *auth_header = NULL, *token = NULL, *claimed = NULL, *uri = NULL;
    char where[512], code[128];
    const char *headers[2] = {NULL, NULL};
    int managed, refreshed = 0;
    double deadline = deadline_from_env();
    size_t len;
    sr_rc rc;

    *value = NULL;
    memset(&req, 0, sizeof(req));
    memset(&r, 0, sizeof(r));
    snprintf(where, sizeof(where), "%s: Key Vault client %s, secret %s%s%s",
             in->name, in->vault_client ? in->vault_client : "?",
             in->vault_secret ? in->vault_secret : "?",
             in->vault_version ? "/" : "",
             in->vault_version ? in->vault_version : "");
    if (!in->vault_client || !in->vault_secret)
        return sr_err(st, SR_ERR_NOT_SET, "%s: no Key Vault locator", in->name);
    if ((rc = sr_keyvault_get(st, in->vault_client, &c)) != SR_OK)
        return sr_err(st, rc, "%s: %s", in->name, st->err.msg);
    managed = strcmp(c.credential, "managed-identity") == 0;
    if (!(resource = vault_resource(c.vault_url)) ||
        !(enc_name = sr_url_encode((const unsigned char *)in->vault_secret,
                                   strlen(in->vault_secret))) ||
        (in->vault_version &&
         !(enc_version = sr_url_encode((const unsigned char *)in->vault_version,
                                       strlen(in->vault_version)))))
        goto nomem;
    snprintf(where, sizeof(where), "%s: Key Vault client %s, vault %s, "
             "secret %s%s%s", in->name, c.name, c.vault_url, in->vault_secret,
             in->vault_version ? "/" : "",
             in->vault_version ? in->vault_version : "");
    len = strlen(c.vault_url) + strlen(enc_name) +
          (enc_version ? strlen(enc_version) : 0) + 48;
    if (!(url = malloc(len)))
        goto nomem;
    snprintf(url, len, "%s%ssecrets/%s%s%s?api-version=7.4", c.vault_url,
             c.vault_url[strlen(c.vault_url) - 1] == '/' ? "" : "/", enc_name,
             enc_version ? "/" : "", enc_version ? enc_version : "");
    req.what = "Key Vault";
    req.url = url;
    req.ca_file = c.ca_file;
    req.headers = headers;
    tenant = c.tenant ? strdup(c.tenant) : NULL;
    authority = strdup(c.authority ? c.authority
                       : managed ? DEFAULT_IMDS
                                 : DEFAULT_AUTHORITY);
    if (!authority || (c.tenant && !tenant))
        goto nomem;
    if (!tenant && !managed) {
        /* Tenant discovery: the vault's challenge names its tenant. Its
         * resource must be this vault's, else a token could go astray. */
        if ((rc = sr_http_send(&req, deadline, &r, &st->err)) != SR_OK)
            goto remote;
        if (r.status != 401 || !r.www_authenticate ||
            !(claimed = sr_challenge_param(r.www_authenticate, "resource")) ||
            !(uri = sr_challenge_param(r.www_authenticate,
                                       "authorization"))) {
            rc = sr_err(st, SR_ERR_REMOTE,
                        "%s: the vault sent no challenge to discover the "
                        "tenant from (HTTP %ld): give --tenant",
                        where, r.status);
            goto out;
        }
        if (!sr_same_resource(claimed, resource)) {
            rc = sr_err(st, SR_ERR_REMOTE,
                        "%s: the vault's challenge names resource %.100s, "
                        "not this vault's domain: no token sent",
                        where, claimed);
            goto out;
        }
        if (!(tenant = strdup(strrchr(uri, '/') ? strrchr(uri, '/') + 1
                                                 : "")) ||
            !*tenant || strpbrk(tenant, "?#&")) {
            rc = sr_err(st, SR_ERR_REMOTE,
                        "%s: the vault's challenge names no tenant", where);
            goto out;
        }
        /* Only the tenant comes from the challenge: the credential goes
         * to the configured authority (--authority for sovereign clouds),
         * never to a host a server named. */
        sr_http_response_clear(&r);
    }
    for (;;) {
        if ((rc = sr_entra_token(st, &c, authority, tenant, resource,
                                 deadline, refreshed, &token)) != SR_OK)
            goto remote; /* the message names the vault and the secret */
        len = strlen(token) + 32;
        free(auth_header);
        if (!(auth_header = OPENSSL_malloc(len)))
            goto nomem;
        snprintf(auth_header, len, "Authorization: Bearer %s", token);
        OPENSSL_clear_free(token, strlen(token));
        token = NULL;
        headers[0] = auth_header;
        sr_http_response_clear(&r);
        if ((rc = sr_http_send(&req, deadline, &r, &st->err)) != SR_OK)
            goto remote;
        /* One 401 with a token: refresh it once and try again. */
        if (r.status == 401 && !refreshed) {
            refreshed = 1;
            continue;
        }
        break;
    }
    if (r.status != 200) {
        sr_keyvault_error_code(&r, code, sizeof(code));
        rc = sr_err(st, SR_ERR_REMOTE, "%s: %s (HTTP %ld)", where, code,
                    r.status);
        goto out;
    }
    rc = sr_keyvault_bundle_read(st, where, &r, value, meta);
    goto out;
remote:
    sr_err(st, rc, "%s: %s", where, st->err.msg);
    goto out;
nomem:
    rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
out:
    sr_http_response_clear(&r);
    if (auth_header)
        OPENSSL_clear_free(auth_header, strlen(auth_header));
    if (token)
        OPENSSL_clear_free(token, strlen(token));
    OPENSSL_free(enc_name);
    OPENSSL_free(enc_version);
    free(url);
    free(resource);
    free(tenant);
    free(authority);
    free(claimed);
    free(uri);
    sr_keyvault_client_clear(&c);
    return rc;
}
