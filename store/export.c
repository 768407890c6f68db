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

/* json_object_set_new and json_array_append_new fail when out of memory
 * (or given a NULL value from a failed json_string): a field silently
 * missing from an export would be lost by the import, so every one is
 * checked. Both take the value's reference, also on failure. */
static int set(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) == 0;
}

static int append(json_t *array, json_t *value)
{
    return json_array_append_new(array, value) == 0;
}

/* json_dumps as a callback that remembers a failure: jansson 2.14 ignores
 * a failed write of an object's key and goes on, so json_dumps can return
 * a document with a key missing when memory runs out. */
struct dump_buf {
    char *data;
    size_t len, size;
    int failed;
};

static int dump_add(const char *text, size_t len, void *arg)
{
    struct dump_buf *b = arg;
    size_t size;
    char *grown;

    if (b->failed)
        return -1;
    if (b->len + len + 1 > b->size) {
        size = (b->len + len + 1) * 2;
        if (!(grown = realloc(b->data, size))) {
            b->failed = 1;
            return -1;
        }
        b->data = grown;
        b->size = size;
    }
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static char *dump(const json_t *root)
{
    struct dump_buf b = {NULL, 0, 0, 0};

    if (json_dump_callback(root, dump_add, &b,
                           JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        b.failed || !b.data) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

static json_t *text_or_null(const char *text)
{
    return text ? json_string(text) : json_null();
}

static json_t *ref_json(const sr_ref_info *info)
{
    json_t *ref = json_object(), *part;
    char *pem;
    int ok;

    if (!ref)
        return NULL;
    ok = set(ref, "name", json_string(info->name)) &&
         set(ref, "description", json_string(info->description)) &&
         set(ref, "environment_type", text_or_null(info->environment)) &&
         set(ref, "expires",
             *info->expires ? json_string(info->expires) : json_null()) &&
         set(ref, "kind", json_string(sr_kind_name(info->kind)));
    /* A Key Vault certificate has its locator too: its key stays there. */
    if (ok && info->vault_secret) {
        ok = set(ref, "key_vault", part = json_object()) &&
             set(part, "client", json_string(info->vault_client)) &&
             set(part, "secret", json_string(info->vault_secret)) &&
             set(part, "version", text_or_null(info->vault_version));
    }
    if (ok && info->kind == SR_KIND_CERTIFICATE && info->public_key_der) {
        ok = (pem = public_pem(info)) &&
             set(ref, "certificate", part = json_object()) &&
             set(part, "public_key", json_string(pem)) &&
             set(part, "chain", text_or_null(info->cert_chain_pem));
        free(pem);
    }
    if (!ok) {
        json_decref(ref);
        return NULL;
    }
    return ref;
}

/* Every field but the creation time, which belongs to the store. */
static json_t *connector_json(const sr_connector *c)
{
    json_t *obj = json_object();

    if (obj && set(obj, "name", json_string(c->name)) &&
        set(obj, "kind", json_string(c->kind)) &&
        set(obj, "host", json_string(c->host)) &&
        set(obj, "port", json_integer(c->port)) &&
        set(obj, "user", json_string(c->user)) &&
        set(obj, "key_uri", text_or_null(c->key_uri)) &&
        set(obj, "password_ref", text_or_null(c->password_ref)) &&
        set(obj, "host_key", text_or_null(c->host_key)) &&
        set(obj, "folder", text_or_null(c->folder)))
        return obj;
    json_decref(obj);
    return NULL;
}

sr_rc sr_export(sr_store *st, char **json)
{
    json_t *root = NULL, *envs, *refs, *conns;
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
    /* Each array belongs to root as soon as it is made. */
    if (!(root = json_object()) ||
        !set(root, "format", json_string("secretref-export")) ||
        !set(root, "version", json_integer(1)) ||
        !set(root, "exported", json_string(now)) ||
        !set(root, "environment_types", envs = json_array()) ||
        !set(root, "references", refs = json_array()) ||
        !set(root, "connectors", conns = json_array()))
        goto out;
    for (i = 0; i < n_envs; i++)
        if (!append(envs, json_string(names[i])))
            goto out;
    for (i = 0; i < n_refs; i++)
        if (!append(refs, ref_json(&infos[i])))
            goto out;
    for (i = 0; i < n_conns; i++)
        if (!append(conns, connector_json(&connectors[i])))
            goto out;
    if (!(*json = dump(root)))
        goto out;
    rc = sr_audit(st, NULL, 0, "export", "");
    /* Read-only media keep no record and need none: an export holds only
     * what any reader of the file sees (docs/store.md). */
    if (rc != SR_OK && sr_db_readonly(st))
        rc = sr_err_clear(st);
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
