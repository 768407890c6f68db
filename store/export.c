/* SPDX-License-Identifier: Apache-2.0 */
/* Export of a project configuration: environment types, references
 * with their metadata and public parts, and connectors. Nothing here reads
 * a sealed value, so nothing secret can reach the output. */
#include "internal.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/* The public key of a reference as PEM text (malloc'd). */
static char *public_pem(const sr_ref_info *info)
{
    const unsigned char *p = info->public_key_der;
    EVP_PKEY *pkey;
    BIO *bio = NULL;
    char *data, *out = NULL;
    long len;

    if (!(pkey = d2i_PUBKEY_ex(NULL, &p, (long)info->public_key_len,
                               sr_libctx(), NULL)))
        return NULL;
    if ((bio = BIO_new(BIO_s_mem())) && PEM_write_bio_PUBKEY(bio, pkey) == 1 &&
        (len = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)len + 1))) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return out;
}

static json_t *ref_json(const sr_ref_info *info)
{
    json_t *ref = json_object(), *part;
    char *pem;

    if (!ref)
        return NULL;
    json_object_set_new(ref, "name", json_string(info->name));
    json_object_set_new(ref, "description", json_string(info->description));
    json_object_set_new(ref, "environment_type",
                        info->environment ? json_string(info->environment)
                                          : json_null());
    json_object_set_new(ref, "expires",
                        *info->expires ? json_string(info->expires)
                                       : json_null());
    json_object_set_new(ref, "kind", json_string(sr_kind_name(info->kind)));
    if (info->kind == SR_KIND_KEY_VAULT && info->vault_secret) {
        part = json_object();
        json_object_set_new(part, "client", json_string(info->vault_client));
        json_object_set_new(part, "secret", json_string(info->vault_secret));
        json_object_set_new(part, "version",
                            info->vault_version
                                ? json_string(info->vault_version)
                                : json_null());
        json_object_set_new(ref, "key_vault", part);
    }
    if (info->kind == SR_KIND_CERTIFICATE && info->public_key_der) {
        if (!(pem = public_pem(info))) {
            json_decref(ref);
            return NULL;
        }
        part = json_object();
        json_object_set_new(part, "public_key", json_string(pem));
        json_object_set_new(part, "chain",
                            info->cert_chain_pem
                                ? json_string(info->cert_chain_pem)
                                : json_null());
        json_object_set_new(ref, "certificate", part);
        free(pem);
    }
    return ref;
}

static json_t *text_or_null(const char *text)
{
    return text ? json_string(text) : json_null();
}

/* Every field but the creation time, which belongs to the store. */
static json_t *connector_json(const sr_connector *c)
{
    json_t *obj = json_object();

    if (!obj)
        return NULL;
    json_object_set_new(obj, "name", json_string(c->name));
    json_object_set_new(obj, "kind", json_string(c->kind));
    json_object_set_new(obj, "host", json_string(c->host));
    json_object_set_new(obj, "port", json_integer(c->port));
    json_object_set_new(obj, "user", json_string(c->user));
    json_object_set_new(obj, "key_uri", text_or_null(c->key_uri));
    json_object_set_new(obj, "password_ref", text_or_null(c->password_ref));
    json_object_set_new(obj, "host_key", text_or_null(c->host_key));
    json_object_set_new(obj, "folder", text_or_null(c->folder));
    return obj;
}

sr_rc sr_export(sr_store *st, char **json)
{
    json_t *root = NULL, *envs, *refs, *ref, *conns;
    sr_ref_info *infos = NULL;
    sr_connector *connectors = NULL;
    char **names = NULL;
    size_t n_refs = 0, n_envs = 0, n_conns = 0, i;
    char now[21];
    sr_rc rc;

    *json = NULL;
    if ((rc = sr_env_list(st, &names, &n_envs)) != SR_OK ||
        (rc = sr_ref_list(st, NULL, &infos, &n_refs)) != SR_OK ||
        (rc = sr_connector_list(st, &connectors, &n_conns)) != SR_OK)
        goto out;
    rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
    sr_now_iso(now);
    if (!(root = json_object()) || !(envs = json_array()) ||
        !(refs = json_array()) || !(conns = json_array()))
        goto out;
    json_object_set_new(root, "format", json_string("secretref-export"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "exported", json_string(now));
    json_object_set_new(root, "environment_types", envs);
    json_object_set_new(root, "references", refs);
    json_object_set_new(root, "connectors", conns);
    for (i = 0; i < n_envs; i++)
        json_array_append_new(envs, json_string(names[i]));
    for (i = 0; i < n_refs; i++) {
        if (!(ref = ref_json(&infos[i])))
            goto out;
        json_array_append_new(refs, ref);
    }
    for (i = 0; i < n_conns; i++) {
        if (!(ref = connector_json(&connectors[i])))
            goto out;
        json_array_append_new(conns, ref);
    }
    if (!(*json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        goto out;
    rc = sr_audit(st, NULL, 0, "export", "");
    if (rc != SR_OK) {
        free(*json);
        *json = NULL;
    }
out:
    json_decref(root);
    sr_ref_list_free(infos, n_refs);
    sr_connector_list_free(connectors, n_conns);
    sr_string_list_free(names, n_envs);
    return rc;
}
