/* SPDX-License-Identifier: Apache-2.0 */
/* Import of a project configuration: everything is validated before the
 * first write, and then written in one transaction. Fields that could
 * carry a secret are refused by name; imported secrets are "not set".
 * Connectors come last: the references they name must be in the file or
 * in the store. */
#include "internal.h"

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMPORT_MAX ((size_t)64 * 1024 * 1024)

/* One reference of the file, validated. */
struct import_ref {
    const char *name, *description, *environment, *expires;
    sr_kind kind;
    const char *vault_client, *vault_secret, *vault_version;
    unsigned char *public_der;
    size_t public_len;
    const char *chain;
};

/* One connector of the file, validated: its strings point into the
 * JSON document. */
struct import_connector {
    sr_connector c;
    char *reference; /* of a secretref: key URI, malloc'd */
};

struct import_plan {
    const char **envs;
    size_t n_envs;
    struct import_ref *refs;
    size_t n_refs;
    struct import_connector *conns;
    size_t n_conns;
};

static void plan_clear(struct import_plan *plan)
{
    size_t i;

    for (i = 0; i < plan->n_refs; i++)
        free(plan->refs[i].public_der);
    free(plan->refs);
    for (i = 0; i < plan->n_conns; i++)
        free(plan->conns[i].reference);
    free(plan->conns);
    free(plan->envs);
    memset(plan, 0, sizeof(*plan));
}

/* Only these keys may appear; anything else, in particular anything that
 * could hold a secret, is refused. */
static sr_rc keys_allowed(sr_store *st, json_t *obj, const char *where,
                          const char *const *allowed)
{
    const char *key;
    json_t *value;
    size_t i;

    json_object_foreach(obj, key, value) {
        for (i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                break;
        if (!allowed[i])
            return sr_err(st, SR_ERR_FORMAT,
                          "%s: field \"%.64s\" is not allowed (an export "
                          "carries no secrets, and unknown fields are "
                          "refused)",
                          where, key);
    }
    (void)value;
    return SR_OK;
}

/* A string field: required or optional (NULL or JSON null). */
static sr_rc get_string(sr_store *st, json_t *obj, const char *key,
                        int required, const char *where, const char **out)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return sr_err(st, SR_ERR_FORMAT, "%s: \"%s\" is missing", where,
                          key);
        return SR_OK;
    }
    if (!json_is_string(v))
        return sr_err(st, SR_ERR_FORMAT, "%s: \"%s\" must be a string",
                      where, key);
    *out = json_string_value(v);
    return SR_OK;
}

/* The certificate part: a public key and an optional chain, both PEM,
 * with nothing private in them. */
static sr_rc read_certificate(sr_store *st, json_t *cert, const char *where,
                              struct import_ref *r)
{
    static const char *const allowed[] = {"public_key", "chain", NULL};
    const char *pem = NULL;
    EVP_PKEY *pkey = NULL;
    X509 *x509 = NULL;
    BIO *bio = NULL;
    unsigned char *der = NULL;
    int len, first = 1;
    sr_rc rc;

    if (!json_is_object(cert))
        return sr_err(st, SR_ERR_FORMAT, "%s: \"certificate\" must be an "
                      "object", where);
    if ((rc = keys_allowed(st, cert, where, allowed)) != SR_OK ||
        (rc = get_string(st, cert, "public_key", 1, where, &pem)) != SR_OK ||
        (rc = get_string(st, cert, "chain", 0, where, &r->chain)) != SR_OK)
        return rc;
    if (strstr(pem, "PRIVATE") || (r->chain && strstr(r->chain, "PRIVATE")))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: holds private key material; refusing it", where);
    rc = sr_err(st, SR_ERR_FORMAT, "%s: public_key is not a PEM public key",
                where);
    if (!(bio = BIO_new_mem_buf(pem, -1)) ||
        !(pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, NULL, NULL, sr_libctx(),
                                        NULL)) ||
        (len = i2d_PUBKEY(pkey, &der)) <= 0)
        goto out;
    r->public_der = der;
    r->public_len = (size_t)len;
    der = NULL;
    BIO_free(bio);
    bio = NULL;
    if (r->chain) {
        rc = sr_err(st, SR_ERR_FORMAT, "%s: chain is not PEM certificates",
                    where);
        if (!(bio = BIO_new_mem_buf(r->chain, -1)))
            goto out;
        while ((x509 = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
            if (first && EVP_PKEY_eq(X509_get0_pubkey(x509), pkey) != 1) {
                rc = sr_err(st, SR_ERR_FORMAT,
                            "%s: the certificate does not match the public "
                            "key",
                            where);
                goto out;
            }
            first = 0;
            X509_free(x509);
            x509 = NULL;
        }
        if (first)
            goto out;
    }
    rc = sr_err_clear(st);
out:
    ERR_clear_error();
    X509_free(x509);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);
    return rc;
}

static int env_known(sr_store *st, const struct import_plan *plan,
                     const char *name)
{
    int64_t id;
    size_t i;

    for (i = 0; i < plan->n_envs; i++)
        if (strcasecmp(plan->envs[i], name) == 0)
            return 1;
    if (sr_db_env_find(st, name, &id, NULL) == SR_OK)
        return 1;
    sr_err_clear(st);
    return 0;
}

static sr_rc read_reference(sr_store *st, const struct import_plan *plan,
                            json_t *obj, size_t index, struct import_ref *r)
{
    static const char *const allowed[] = {
        "name", "description", "environment_type", "expires", "kind",
        "key_vault", "certificate", NULL};
    static const char *const vault_allowed[] = {"client", "secret", "version",
                                                NULL};
    const char *kind = NULL;
    json_t *vault, *cert;
    char where[64];
    sr_rc rc;

    snprintf(where, sizeof(where), "references[%zu]", index);
    if (!json_is_object(obj))
        return sr_err(st, SR_ERR_FORMAT, "%s: must be an object", where);
    if ((rc = keys_allowed(st, obj, where, allowed)) != SR_OK ||
        (rc = get_string(st, obj, "name", 1, where, &r->name)) != SR_OK ||
        (rc = get_string(st, obj, "description", 0, where,
                         &r->description)) != SR_OK ||
        (rc = get_string(st, obj, "environment_type", 0, where,
                         &r->environment)) != SR_OK ||
        (rc = get_string(st, obj, "expires", 0, where, &r->expires)) !=
            SR_OK ||
        (rc = get_string(st, obj, "kind", 1, where, &kind)) != SR_OK)
        return rc;
    if (sr_name_check("reference", r->name, &st->err) != SR_OK)
        return sr_err(st, SR_ERR_FORMAT, "%s: %s", where, st->err.msg);
    if (sr_kind_parse(kind, &r->kind) != SR_OK)
        return sr_err(st, SR_ERR_FORMAT, "%s: unknown kind \"%.32s\"", where,
                      kind);
    if (r->description && (strlen(r->description) > 1000 ||
                           strpbrk(r->description, "\r\n")))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: the description must be one line of at most "
                      "1000 bytes",
                      where);
    if (r->expires && !sr_date_valid(r->expires))
        return sr_err(st, SR_ERR_FORMAT, "%s: expires is not a date", where);
    if (r->environment && !env_known(st, plan, r->environment))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: environment type %.64s is not defined", where,
                      r->environment);
    vault = json_object_get(obj, "key_vault");
    cert = json_object_get(obj, "certificate");
    /* A Key Vault certificate arrives with its public part, since import
     * does not call Key Vault. */
    if ((vault && r->kind != SR_KIND_KEY_VAULT &&
         !(r->kind == SR_KIND_CERTIFICATE && cert)) ||
        (cert && r->kind != SR_KIND_CERTIFICATE))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: parts do not match the kind %s", where, kind);
    if (vault) {
        if (!json_is_object(vault))
            return sr_err(st, SR_ERR_FORMAT, "%s: key_vault must be an "
                          "object", where);
        if ((rc = keys_allowed(st, vault, where, vault_allowed)) != SR_OK ||
            (rc = get_string(st, vault, "client", 1, where,
                             &r->vault_client)) != SR_OK ||
            (rc = get_string(st, vault, "secret", 1, where,
                             &r->vault_secret)) != SR_OK ||
            (rc = get_string(st, vault, "version", 0, where,
                             &r->vault_version)) != SR_OK)
            return rc;
        if (sr_name_check("Key Vault client", r->vault_client, &st->err) ||
            sr_name_check("Key Vault secret", r->vault_secret, &st->err) ||
            (r->vault_version &&
             sr_name_check("Key Vault version", r->vault_version, &st->err)))
            return sr_err(st, SR_ERR_FORMAT, "%s: %s", where, st->err.msg);
    }
    if (cert && (rc = read_certificate(st, cert, where, r)) != SR_OK)
        return rc;
    return SR_OK;
}

/* A reference a connector names: in the file or in the store (any
 * environment type, as the connector works in each), of one of kinds. */
static sr_rc connector_ref_known(sr_store *st, const struct import_plan *plan,
                                 const char *where, const char *role,
                                 const char *name, unsigned kinds,
                                 const char *wanted)
{
    unsigned found = 0;
    size_t i;
    sr_rc rc;

    if ((rc = sr_db_ref_kinds(st, name, &found)) != SR_OK)
        return rc;
    for (i = 0; i < plan->n_refs; i++)
        if (strcmp(plan->refs[i].name, name) == 0)
            found |= 1u << plan->refs[i].kind;
    if (!found)
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: the %s reference %.200s is neither in the file "
                      "nor in this store",
                      where, role, name);
    if (!(found & kinds))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: the %s reference %.200s is not %s reference",
                      where, role, name, wanted);
    return SR_OK;
}

static sr_rc read_connector(sr_store *st, const struct import_plan *plan,
                            json_t *obj, size_t index,
                            struct import_connector *ic)
{
    static const char *const allowed[] = {
        "name",     "kind",         "host",     "port",   "user",
        "key_uri",  "password_ref", "host_key", "folder", NULL};
    static char sftp[] = "sftp";
    const char *name = NULL, *kind = NULL, *host = NULL, *user = NULL,
               *key_uri = NULL, *password_ref = NULL, *host_key = NULL,
               *folder = NULL;
    char where[64], msg[SR_ERRMSG_MAX];
    json_int_t port = 0;
    json_t *v;
    int checked_port = 0;
    sr_rc rc;

    snprintf(where, sizeof(where), "connectors[%zu]", index);
    if (!json_is_object(obj))
        return sr_err(st, SR_ERR_FORMAT, "%s: must be an object", where);
    if ((rc = keys_allowed(st, obj, where, allowed)) != SR_OK ||
        (rc = get_string(st, obj, "name", 1, where, &name)) != SR_OK ||
        (rc = get_string(st, obj, "kind", 0, where, &kind)) != SR_OK ||
        (rc = get_string(st, obj, "host", 1, where, &host)) != SR_OK ||
        (rc = get_string(st, obj, "user", 1, where, &user)) != SR_OK ||
        (rc = get_string(st, obj, "key_uri", 0, where, &key_uri)) != SR_OK ||
        (rc = get_string(st, obj, "password_ref", 0, where,
                         &password_ref)) != SR_OK ||
        (rc = get_string(st, obj, "host_key", 0, where, &host_key)) !=
            SR_OK ||
        (rc = get_string(st, obj, "folder", 0, where, &folder)) != SR_OK)
        return rc;
    v = json_object_get(obj, "port");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || (port = json_integer_value(v)) < 0 ||
            port > 65535)
            return sr_err(st, SR_ERR_FORMAT,
                          "%s: \"port\" must be a number in 1..65535",
                          where);
    }
    ic->c.name = (char *)name;
    ic->c.kind = kind ? (char *)kind : sftp;
    ic->c.host = (char *)host;
    ic->c.port = (int)port;
    ic->c.user = (char *)user;
    ic->c.key_uri = (char *)key_uri;
    ic->c.password_ref = (char *)password_ref;
    ic->c.host_key = (char *)host_key;
    ic->c.folder = (char *)folder;
    if (sr_connector_check(st, &ic->c, &ic->reference, &checked_port) !=
        SR_OK) {
        memcpy(msg, st->err.msg, sizeof(msg));
        return sr_err(st, st->err.rc == SR_ERR_NOMEM ? SR_ERR_NOMEM
                                                      : SR_ERR_FORMAT,
                      "%s: %s", where, msg);
    }
    ic->c.port = checked_port;
    if (ic->reference &&
        (rc = connector_ref_known(st, plan, where, "key", ic->reference,
                                  1u << SR_KIND_CERTIFICATE,
                                  "a certificate")) != SR_OK)
        return rc;
    if (password_ref &&
        (rc = connector_ref_known(st, plan, where, "password", password_ref,
                                  1u << SR_KIND_MANUAL |
                                      1u << SR_KIND_KEY_VAULT,
                                  "a manual or key-vault")) != SR_OK)
        return rc;
    return SR_OK;
}

static sr_rc plan_read(sr_store *st, json_t *root, struct import_plan *plan)
{
    static const char *const allowed[] = {"format", "version", "exported",
                                          "environment_types", "references",
                                          "connectors", NULL};
    json_t *envs, *refs, *conns, *v;
    const char *format = NULL;
    size_t i, j, n_conns;
    sr_rc rc;

    if (!json_is_object(root))
        return sr_err(st, SR_ERR_FORMAT, "the file is not a JSON object");
    if ((rc = keys_allowed(st, root, "the file", allowed)) != SR_OK ||
        (rc = get_string(st, root, "format", 1, "the file", &format)) !=
            SR_OK)
        return rc;
    if (strcmp(format, "secretref-export") != 0)
        return sr_err(st, SR_ERR_FORMAT, "not a secretref export");
    /* Every field is checked, this one too: a date, nothing else. */
    v = json_object_get(root, "exported");
    if (v && (!json_is_string(v) || strlen(json_string_value(v)) > 32))
        return sr_err(st, SR_ERR_FORMAT,
                      "the file: \"exported\" must be a date string");
    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return sr_err(st, SR_ERR_FORMAT,
                      "export format version is not 1 (made by a newer "
                      "secretref?)");
    envs = json_object_get(root, "environment_types");
    refs = json_object_get(root, "references");
    conns = json_object_get(root, "connectors");
    if ((envs && !json_is_array(envs)) || !json_is_array(refs) ||
        (conns && !json_is_array(conns)))
        return sr_err(st, SR_ERR_FORMAT,
                      "environment_types, references and connectors must "
                      "be arrays");
    plan->n_envs = envs ? json_array_size(envs) : 0;
    plan->n_refs = json_array_size(refs);
    if ((plan->n_envs && !(plan->envs = calloc(plan->n_envs,
                                               sizeof(*plan->envs)))) ||
        (plan->n_refs && !(plan->refs = calloc(plan->n_refs,
                                               sizeof(*plan->refs))))) {
        plan->n_refs = 0;
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    for (i = 0; i < plan->n_envs; i++) {
        v = json_array_get(envs, i);
        if (!json_is_string(v) ||
            sr_name_check("environment type", json_string_value(v),
                          &st->err) != SR_OK)
            return sr_err(st, SR_ERR_FORMAT,
                          "environment_types[%zu]: not a valid name", i);
        plan->envs[i] = json_string_value(v);
    }
    for (i = 0; i < plan->n_refs; i++) {
        if ((rc = read_reference(st, plan, json_array_get(refs, i), i,
                                 &plan->refs[i])) != SR_OK)
            return rc;
        for (j = 0; j < i; j++) {
            const struct import_ref *a = &plan->refs[j], *b = &plan->refs[i];
            if (strcmp(a->name, b->name) == 0 &&
                ((!a->environment && !b->environment) ||
                 (a->environment && b->environment &&
                  strcasecmp(a->environment, b->environment) == 0)))
                return sr_err(st, SR_ERR_FORMAT,
                              "references[%zu]: %s appears twice for the "
                              "same environment type",
                              i, b->name);
        }
    }
    n_conns = conns ? json_array_size(conns) : 0;
    if (n_conns && !(plan->conns = calloc(n_conns, sizeof(*plan->conns))))
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    for (i = 0; i < n_conns; i++) {
        plan->n_conns = i + 1;
        if ((rc = read_connector(st, plan, json_array_get(conns, i), i,
                                 &plan->conns[i])) != SR_OK)
            return rc;
        for (j = 0; j < i; j++)
            if (strcmp(plan->conns[j].c.name, plan->conns[i].c.name) == 0)
                return sr_err(st, SR_ERR_FORMAT,
                              "connectors[%zu]: %s appears twice", i,
                              plan->conns[i].c.name);
    }
    return SR_OK;
}

/* Writes one connector: an existing one of the same name takes the
 * file's fields. */
static sr_rc write_connector(sr_store *st, const struct import_connector *ic,
                             int *created)
{
    sr_rc rc = sr_db_connector_update(st, &ic->c, ic->reference);

    *created = 0;
    if (rc != SR_ERR_NOTFOUND)
        return rc;
    *created = 1;
    return sr_db_connector_insert(st, &ic->c, ic->reference);
}

/* Writes one reference: new ones arrive "not set"; existing ones of the
 * same kind get the new metadata and keep their secret. */
static sr_rc write_reference(sr_store *st, const struct import_ref *r,
                             int *created)
{
    struct sr_ref_row row;
    struct sr_version_row v;
    sr_ref_spec spec;
    int64_t env_id = 0;
    char now[21];
    sr_rc rc;

    memset(&v, 0, sizeof(v));
    if (r->environment &&
        (rc = sr_db_env_find(st, r->environment, &env_id, NULL)) != SR_OK)
        return rc;
    *created = 0;
    rc = sr_db_ref_get(st, r->name, env_id, &row);
    if (rc == SR_OK) {
        if (row.info.kind != r->kind) {
            rc = sr_err(st, SR_ERR_FORMAT,
                        "%s: is a %s reference here and %s in the file",
                        r->name, sr_kind_name(row.info.kind),
                        sr_kind_name(r->kind));
        } else {
            free(row.info.description);
            free(row.info.expires);
            free(row.info.updated);
            sr_now_iso(now);
            row.info.description = strdup(r->description ? r->description
                                                         : "");
            row.info.expires = strdup(r->expires ? r->expires : "");
            row.info.updated = strdup(now);
            if (!row.info.description || !row.info.expires ||
                !row.info.updated)
                rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            else
                rc = sr_db_ref_update_meta(st, &row);
        }
        sr_ref_row_clear(&row);
        return rc;
    }
    if (rc != SR_ERR_NOTFOUND)
        return rc;
    memset(&spec, 0, sizeof(spec));
    spec.name = r->name;
    spec.description = r->description;
    spec.environment = r->environment;
    spec.expires = r->expires;
    spec.kind = r->kind;
    /* A Key Vault locator holds no secret: it arrives ready to resolve. A
     * certificate's is written with its public part below: given to
     * sr_ref_create, it would be fetched from Key Vault now. */
    if (r->kind == SR_KIND_KEY_VAULT) {
        spec.vault_client = r->vault_client;
        spec.vault_secret = r->vault_secret;
        spec.vault_version = r->vault_version;
    }
    if ((rc = sr_ref_create(st, &spec)) != SR_OK)
        return rc;
    *created = 1;
    if (!r->public_der)
        return SR_OK;
    /* The public part of a certificate reference is kept as version 0, so
     * show and pubkey work before the key is set; a Key Vault certificate
     * is complete, as version 1, like one made by new. */
    if ((rc = sr_db_ref_get(st, r->name, env_id, &row)) != SR_OK)
        return rc;
    sr_now_iso(now);
    v.version = r->vault_secret ? 1 : 0;
    v.vault_client = (char *)r->vault_client;
    v.vault_secret = (char *)r->vault_secret;
    v.vault_version = (char *)r->vault_version;
    v.public_key = r->public_der;
    v.public_key_len = r->public_len;
    v.cert_chain_pem = (char *)r->chain;
    v.created = now;
    v.created_by = st->user;
    v.note = (char *)(r->vault_secret ? "imported (Key Vault certificate)"
                                      : "imported (public part only)");
    rc = sr_db_version_add(st, row.info.id, &v);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_import(sr_store *st, const char *json, size_t len, char **summary)
{
    struct import_plan plan;
    json_error_t jerr;
    json_t *root = NULL;
    size_t i, created = 0, updated = 0, envs_added = 0;
    size_t conns_created = 0, conns_updated = 0;
    int64_t id;
    int was_created = 0;
    char buf[224];
    sr_rc rc;

    memset(&plan, 0, sizeof(plan));
    if (summary)
        *summary = NULL;
    if (len > IMPORT_MAX)
        return sr_err(st, SR_ERR_FORMAT, "the file is larger than 64 MiB");
    if (!(root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr))) {
        return sr_err(st, SR_ERR_FORMAT, "not valid JSON at line %d: %.80s",
                      jerr.line, jerr.text);
    }
    if ((rc = plan_read(st, root, &plan)) != SR_OK)
        goto out;
    if ((rc = sr_db_begin(st)) != SR_OK)
        goto out;
    for (i = 0; i < plan.n_envs && rc == SR_OK; i++) {
        /* Only "not found" means add it: another failure (out of memory)
         * may have rolled the transaction back. */
        if ((rc = sr_db_env_find(st, plan.envs[i], &id, NULL)) !=
            SR_ERR_NOTFOUND)
            continue;
        if ((rc = sr_db_env_add(st, plan.envs[i])) == SR_OK)
            envs_added++;
    }
    for (i = 0; i < plan.n_refs && rc == SR_OK; i++) {
        if ((rc = write_reference(st, &plan.refs[i], &was_created)) != SR_OK)
            break;
        if (was_created)
            created++;
        else
            updated++;
    }
    for (i = 0; i < plan.n_conns && rc == SR_OK; i++) {
        if ((rc = write_connector(st, &plan.conns[i], &was_created)) != SR_OK)
            break;
        if (was_created)
            conns_created++;
        else
            conns_updated++;
    }
    snprintf(buf, sizeof(buf),
             "%zu references created, %zu updated, %zu environment types "
             "added, %zu connectors created, %zu updated",
             created, updated, envs_added, conns_created, conns_updated);
    if (rc == SR_OK)
        rc = sr_audit(st, NULL, 0, "import", buf);
    /* The summary before the commit: after it, a failure would report an
     * import that happened as one that did not. */
    if (rc == SR_OK && summary && !(*summary = strdup(buf)))
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
    if (rc == SR_OK)
        rc = sr_db_commit(st);
    if (rc != SR_OK) {
        sr_db_rollback(st);
        if (summary) {
            free(*summary);
            *summary = NULL;
        }
    }
out:
    plan_clear(&plan);
    json_decref(root);
    return rc;
}
