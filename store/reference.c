/* SPDX-License-Identifier: Apache-2.0 */
/* References: resolution by environment type, expiry policy, and the
 * versions of their secrets. */
#include "internal.h"
#include "keyvault.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIPTION_MAX 1000
#define SECRET_MAX ((size_t)64 * 1024)

static const char *const kind_names[] = {
    [SR_KIND_MANUAL] = "manual",
    [SR_KIND_KEY_VAULT] = "key-vault",
    [SR_KIND_CERTIFICATE] = "certificate",
};

const char *sr_kind_name(sr_kind kind)
{
    if (kind < SR_KIND_MANUAL || kind > SR_KIND_CERTIFICATE)
        return "unknown";
    return kind_names[kind];
}

sr_rc sr_kind_parse(const char *name, sr_kind *kind)
{
    int k;

    for (k = SR_KIND_MANUAL; k <= SR_KIND_CERTIFICATE; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (sr_kind)k;
            return SR_OK;
        }
    return SR_ERR_USAGE;
}

void sr_binding_of(const sr_store *st, const struct sr_ref_row *ref,
                   int version, struct sr_seal_binding *b)
{
    b->store_id = st->store_id;
    b->ref_uuid = ref->info.uuid;
    b->kind = ref->info.kind;
    b->version = version;
    b->env_id = ref->env_id;
    b->has_public = 0;
}

/* Days since 1970-01-01 of a valid "YYYY-MM-DD" (civil calendar). */
static long days_of(const char *date)
{
    long y = strtol(date, NULL, 10), m = strtol(date + 5, NULL, 10),
         d = strtol(date + 8, NULL, 10), era, yoe, doy, doe;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int sr_ref_expiry_state(const sr_ref_info *info, time_t now, int days)
{
    long expires, today = (long)(now / 86400);

    if (!info->expires || !sr_date_valid(info->expires))
        return 0;
    expires = days_of(info->expires);
    /* A secret is good through its expiry date. */
    if (today > expires)
        return 2;
    if (today + days >= expires)
        return 1;
    return 0;
}

/* Applies the expiry policy to a reference about to be used. */
static sr_rc expiry_apply(sr_store *st, const struct sr_ref_row *row)
{
    char *policy = NULL;
    sr_rc rc = SR_OK;

    if (sr_ref_expiry_state(&row->info, time(NULL), 0) != 2)
        return SR_OK;
    if (sr_db_param_get(st, "expiry-policy", &policy) != SR_OK)
        sr_err_clear(st);
    if (policy && strcmp(policy, "deny") == 0)
        rc = sr_err(st, SR_ERR_EXPIRED,
                    "%s: expired on %s, and the expiry policy is deny",
                    row->info.name, row->info.expires);
    else
        fprintf(stderr, "secretref: %s: warning: expired on %s\n",
                row->info.name, row->info.expires);
    free(policy);
    return rc;
}

sr_rc sr_ref_resolve(sr_store *st, const char *name, int use,
                     struct sr_ref_row *row)
{
    char **envs = NULL, list[256] = "";
    size_t count = 0, i, used = 0;
    sr_rc rc;

    memset(row, 0, sizeof(*row));
    if ((rc = sr_name_check("reference", name, &st->err)) != SR_OK)
        return rc;
    rc = st->env_id ? sr_db_ref_get(st, name, st->env_id, row)
                    : SR_ERR_NOTFOUND;
    if (rc == SR_ERR_NOTFOUND)
        rc = sr_db_ref_get(st, name, 0, row);
    if (rc != SR_ERR_NOTFOUND)
        goto found;
    if ((rc = sr_db_ref_envs(st, name, &envs, &count)) != SR_OK)
        return rc;
    for (i = 0; i < count && used + 3 < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s",
                         i ? ", " : "", envs[i]);
        if (n > 0)
            used += (size_t)n;
    }
    sr_string_list_free(envs, count);
    if (count)
        return sr_err(st, SR_ERR_ENVIRONMENT,
                      "%s: bound to environment type %s, not %s", name, list,
                      st->environment ? st->environment
                                      : "none (choose one with --environment)");
    return sr_err(st, SR_ERR_NOTFOUND, "%s: no such reference", name);
found:
    if (rc == SR_OK && use && (rc = expiry_apply(st, row)) != SR_OK)
        sr_ref_row_clear(row);
    return rc;
}

sr_rc sr_ref_lookup(sr_store *st, const char *name, sr_ref_info *info)
{
    struct sr_ref_row row;
    sr_rc rc = sr_ref_resolve(st, name, 0, &row);

    if (rc == SR_OK)
        *info = row.info;
    return rc;
}

sr_rc sr_ref_list(sr_store *st, const char *environment, sr_ref_info **infos,
                  size_t *count)
{
    struct sr_ref_row *rows = NULL;
    sr_ref_info *list = NULL;
    int64_t env_id = -1;
    size_t n = 0, i;
    sr_rc rc;

    *infos = NULL;
    *count = 0;
    if (environment && (rc = sr_db_env_find(st, environment, &env_id,
                                            NULL)) != SR_OK)
        return rc;
    if ((rc = sr_db_ref_list(st, env_id, &rows, &n)) != SR_OK)
        return rc;
    if (n && !(list = calloc(n, sizeof(*list)))) {
        for (i = 0; i < n; i++)
            sr_ref_row_clear(&rows[i]);
        free(rows);
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    for (i = 0; i < n; i++)
        list[i] = rows[i].info;
    free(rows);
    *infos = n ? list : NULL;
    *count = n;
    return SR_OK;
}

void sr_ref_list_free(sr_ref_info *infos, size_t count)
{
    size_t i;

    if (!infos)
        return;
    for (i = 0; i < count; i++)
        sr_ref_info_clear(&infos[i]);
    free(infos);
}

static sr_rc vault_material(sr_store *st, const char *name,
                            const char *client, const char *secret,
                            const char *version, struct sr_keymaterial *km);

/* The private key of a Key Vault certificate version, fetched now, as
 * PKCS#8 DER in memory; it must still be the key the reference recorded. */
static sr_rc vault_key_pkcs8(sr_store *st, const struct sr_ref_row *row,
                             const struct sr_version_row *v, sr_secret **out)
{
    struct sr_keymaterial km;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    const unsigned char *p = v->public_key;
    EVP_PKEY *recorded = NULL;
    unsigned char *der = NULL;
    int der_len = 0;
    sr_rc rc;

    memset(&km, 0, sizeof(km));
    if ((rc = vault_material(st, row->info.name, v->vault_client,
                             v->vault_secret, v->vault_version, &km)) !=
        SR_OK)
        return rc;
    if (!p || !(recorded = d2i_PUBKEY_ex(NULL, &p, (long)v->public_key_len,
                                         sr_libctx(), NULL)) ||
        EVP_PKEY_eq(recorded, km.pkey) != 1) {
        rc = sr_err(st, SR_ERR_TAMPER,
                    "%s: the certificate in Key Vault now has another key "
                    "than the reference recorded: take it with secretref "
                    "set %s --certificate vault://%s/%s",
                    row->info.name, row->info.name, v->vault_client,
                    v->vault_secret);
        goto out;
    }
    if (!(p8 = EVP_PKEY2PKCS8(km.pkey)) ||
        (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
        rc = sr_err(st, SR_ERR_CRYPTO, "%s: encoding the key failed",
                    row->info.name);
        goto out;
    }
    rc = sr_secret_from(der, (size_t)der_len, out);
    if (rc != SR_OK)
        sr_err(st, rc, "out of memory");
out:
    ERR_clear_error();
    if (der)
        OPENSSL_clear_free(der, (size_t)der_len);
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(recorded);
    sr_keymaterial_clear(&km);
    return rc;
}

sr_rc sr_ref_unseal_current(sr_store *st, const struct sr_ref_row *row,
                            sr_secret **out)
{
    struct sr_version_row v;
    struct sr_seal_binding b;
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_store_need_key(st)) != SR_OK)
        return rc;
    if (!row->info.version)
        return sr_err(st, SR_ERR_NOT_SET,
                      "%s: the secret is not set (imported without it: set "
                      "it with secretref set)",
                      row->info.name);
    if ((rc = sr_db_version_get(st, row->info.id, row->info.version, &v)) !=
        SR_OK)
        return rc;
    if (!v.sealed && row->info.kind == SR_KIND_CERTIFICATE &&
        v.vault_secret) {
        rc = vault_key_pkcs8(st, row, &v, out);
        sr_version_row_clear(&v);
        return rc;
    }
    if (!v.sealed) {
        sr_version_row_clear(&v);
        return sr_err(st, SR_ERR_WRONG_KIND, "%s: holds no sealed secret",
                      row->info.name);
    }
    sr_binding_of(st, row, v.version, &b);
    sr_binding_public(&b, v.public_key, v.public_key_len, v.cert_chain_pem);
    rc = sr_unseal(st->kek->data, &b, v.sealed, v.sealed_len, out, &st->err);
    if (rc != SR_OK)
        sr_err(st, rc, "%s: version %d: %s", row->info.name, v.version,
               st->err.msg);
    sr_version_row_clear(&v);
    return rc;
}

/* ---- building a new version -------------------------------------------- */

static char *now_string(void)
{
    char now[21];

    sr_now_iso(now);
    return strdup(now);
}

static sr_rc seal_into(sr_store *st, const struct sr_ref_row *ref,
                       struct sr_version_row *v, const unsigned char *plain,
                       size_t len)
{
    struct sr_seal_binding b;

    sr_binding_of(st, ref, v->version, &b);
    sr_binding_public(&b, v->public_key, v->public_key_len,
                      v->cert_chain_pem);
    v->key_id = st->key_id;
    return sr_seal(st->kek->data, st->key_id, &b, plain, len, &v->sealed,
                   &v->sealed_len, &st->err);
}

/* The certificate chain as PEM text, leaf first. */
static sr_rc chain_pem(sr_store *st, STACK_OF(X509) *chain, char **out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int i;

    *out = NULL;
    if (!bio)
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    for (i = 0; i < sk_X509_num(chain); i++)
        if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1) {
            BIO_free(bio);
            return sr_err(st, SR_ERR_NOMEM, "out of memory");
        }
    len = BIO_get_mem_data(bio, &data);
    if ((*out = malloc((size_t)len + 1))) {
        memcpy(*out, data, (size_t)len);
        (*out)[len] = '\0';
    }
    BIO_free(bio);
    return *out ? SR_OK : sr_err(st, SR_ERR_NOMEM, "out of memory");
}

static sr_rc generate_key(sr_store *st, const char *spec, EVP_PKEY **out)
{
    static const struct {
        const char *name, *type, *curve;
        size_t bits;
    } kinds[] = {
        {"rsa-2048", "RSA", NULL, 2048}, {"rsa-3072", "RSA", NULL, 3072},
        {"rsa-4096", "RSA", NULL, 4096}, {"ec-p256", "EC", "P-256", 0},
        {"ec-p384", "EC", "P-384", 0},   {"ec-p521", "EC", "P-521", 0},
        {"ed25519", "ED25519", NULL, 0},
    };
    size_t i;

    *out = NULL;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(spec, kinds[i].name) != 0)
            continue;
        if (kinds[i].bits)
            *out = EVP_PKEY_Q_keygen(sr_libctx(), NULL, kinds[i].type,
                                     kinds[i].bits);
        else if (kinds[i].curve)
            *out = EVP_PKEY_Q_keygen(sr_libctx(), NULL, kinds[i].type,
                                     kinds[i].curve);
        else
            *out = EVP_PKEY_Q_keygen(sr_libctx(), NULL, kinds[i].type);
        if (!*out) {
            sr_err(st, SR_ERR_CRYPTO, "generating a %s key failed", spec);
            sr_error_add_openssl(&st->err);
            return SR_ERR_CRYPTO;
        }
        return SR_OK;
    }
    return sr_err(st, SR_ERR_USAGE,
                  "%s: not a key type (rsa-2048, rsa-3072, rsa-4096, ec-p256, "
                  "ec-p384, ec-p521, ed25519)",
                  spec);
}

/* A Key Vault certificate's material: a PKCS#12 (base64, as Key Vault
 * keeps application/x-pkcs12) or PEM key and certificate, fetched now and
 * held in memory only. */
static sr_rc vault_material(sr_store *st, const char *name,
                            const char *client, const char *secret,
                            const char *version, struct sr_keymaterial *km)
{
    struct sr_vault_meta meta;
    struct sr_ref_row row;
    sr_secret *value = NULL, *der = NULL;
    const unsigned char *data;
    size_t len;
    int n;
    sr_rc rc;

    memset(&row, 0, sizeof(row));
    row.info.name = (char *)name;
    row.info.vault_client = (char *)client;
    row.info.vault_secret = (char *)secret;
    row.info.vault_version = (char *)version;
    if ((rc = sr_keyvault_fetch(st, &row, &value, &meta)) != SR_OK)
        return rc;
    data = value->data;
    len = value->len;
    if (!memmem(value->data, value->len, "-----BEGIN ", 11)) {
        /* Base64 of a PKCS#12: decoded into a cleansed buffer. */
        if ((rc = sr_secret_new(value->len, &der)) != SR_OK) {
            sr_err(st, rc, "out of memory");
            goto out;
        }
        n = EVP_DecodeBlock(der->data, value->data, (int)value->len);
        if (n <= 0) {
            rc = sr_err(st, SR_ERR_FORMAT, "%s: the Key Vault secret %s is "
                        "neither PEM nor base64 PKCS#12", name, secret);
            goto out;
        }
        /* EVP_DecodeBlock counts padding as zero bytes. */
        if (value->len >= 2 && value->data[value->len - 1] == '=')
            n -= value->data[value->len - 2] == '=' ? 2 : 1;
        data = der->data;
        len = (size_t)n;
    }
    rc = sr_keyfile_read(data, len, NULL, km, &st->err);
    if (rc != SR_OK)
        sr_err(st, rc, "%s: Key Vault secret %s: %s", name, secret,
               st->err.msg);
out:
    sr_secret_free(der);
    sr_secret_free(value);
    return rc;
}

/* The key and chain a certificate version carries, from a file, from Key
 * Vault or made here; *expires gets the leaf's notAfter as YYYY-MM-DD
 * ("" without one). */
static sr_rc certificate_material(sr_store *st, const sr_ref_spec *spec,
                                  struct sr_keymaterial *km,
                                  char expires[48])
{
    const ASN1_TIME *not_after;
    struct tm tm;
    sr_rc rc;

    memset(km, 0, sizeof(*km));
    expires[0] = '\0';
    if (spec->generate)
        return generate_key(st, spec->generate, &km->pkey);
    if (spec->vault_secret)
        rc = vault_material(st, spec->name, spec->vault_client,
                            spec->vault_secret, spec->vault_version, km);
    else if (!spec->key_file_data)
        return sr_err(st, SR_ERR_USAGE, "a certificate reference needs a "
                      "key file, a vault:// certificate or --generate");
    else
        rc = sr_keyfile_read(spec->key_file_data, spec->key_file_len,
                             spec->key_file_password, km, &st->err);
    if (rc != SR_OK)
        return rc;
    if (km->chain && sk_X509_num(km->chain) > 0 &&
        (not_after = X509_get0_notAfter(sk_X509_value(km->chain, 0))) &&
        ASN1_TIME_to_tm(not_after, &tm) == 1)
        snprintf(expires, 48, "%04d-%02d-%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday);
    return SR_OK;
}

/* Fills v's public key and chain from km and seals the private key. */
static sr_rc certificate_version(sr_store *st, const struct sr_ref_row *ref,
                                 struct sr_keymaterial *km,
                                 struct sr_version_row *v)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *der = NULL, *pub = NULL;
    int der_len = 0, pub_len;
    sr_rc rc = SR_ERR_CRYPTO;

    if ((pub_len = i2d_PUBKEY(km->pkey, &pub)) <= 0 ||
        !(p8 = EVP_PKEY2PKCS8(km->pkey)) ||
        (der_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
        sr_err(st, rc, "encoding the key failed");
        sr_error_add_openssl(&st->err);
        goto out;
    }
    if (!(v->public_key = malloc((size_t)pub_len))) {
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(v->public_key, pub, (size_t)pub_len);
    v->public_key_len = (size_t)pub_len;
    if (km->chain && sk_X509_num(km->chain) > 0 &&
        (rc = chain_pem(st, km->chain, &v->cert_chain_pem)) != SR_OK)
        goto out;
    rc = seal_into(st, ref, v, der, (size_t)der_len);
out:
    OPENSSL_free(pub);
    if (der)
        OPENSSL_clear_free(der, (size_t)der_len);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

/* A Key Vault certificate version: its locator and public parts; the key
 * stays in Key Vault and is fetched at each use. */
static sr_rc vault_certificate_version(sr_store *st, const sr_ref_spec *spec,
                                       struct sr_keymaterial *km,
                                       struct sr_version_row *v)
{
    unsigned char *pub = NULL;
    int pub_len;
    sr_rc rc = SR_ERR_NOMEM;

    if ((pub_len = i2d_PUBKEY(km->pkey, &pub)) <= 0 ||
        !(v->public_key = malloc((size_t)pub_len)) ||
        !(v->vault_client = strdup(spec->vault_client)) ||
        !(v->vault_secret = strdup(spec->vault_secret)) ||
        (spec->vault_version &&
         !(v->vault_version = strdup(spec->vault_version)))) {
        sr_err(st, rc, "out of memory");
        goto out;
    }
    memcpy(v->public_key, pub, (size_t)pub_len);
    v->public_key_len = (size_t)pub_len;
    rc = km->chain && sk_X509_num(km->chain) > 0
             ? chain_pem(st, km->chain, &v->cert_chain_pem)
             : SR_OK;
out:
    OPENSSL_free(pub);
    return rc;
}

/* Makes the next version of ref from spec; km holds certificate material
 * already read. Returns SR_OK with v empty when spec carries no secret. */
static sr_rc version_from_spec(sr_store *st, const struct sr_ref_row *ref,
                               const sr_ref_spec *spec,
                               struct sr_keymaterial *km,
                               struct sr_version_row *v)
{
    sr_rc rc;

    memset(v, 0, sizeof(*v));
    v->version = ref->info.version + 1;
    if (!(v->created = now_string()) || !(v->created_by = strdup(st->user)))
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    switch (ref->info.kind) {
    case SR_KIND_MANUAL:
        if (!spec->secret)
            return SR_OK;
        if ((rc = sr_store_need_key(st)) != SR_OK)
            return rc;
        return seal_into(st, ref, v, spec->secret->data, spec->secret->len);
    case SR_KIND_KEY_VAULT:
        if (!spec->vault_client && !spec->vault_secret)
            return SR_OK;
        if (!(v->vault_client = strdup(spec->vault_client)) ||
            !(v->vault_secret = strdup(spec->vault_secret)) ||
            (spec->vault_version &&
             !(v->vault_version = strdup(spec->vault_version))))
            return sr_err(st, SR_ERR_NOMEM, "out of memory");
        return SR_OK;
    case SR_KIND_CERTIFICATE:
        if (!km->pkey)
            return SR_OK;
        if (spec->vault_secret)
            return vault_certificate_version(st, spec, km, v);
        if ((rc = sr_store_need_key(st)) != SR_OK)
            return rc;
        return certificate_version(st, ref, km, v);
    }
    return sr_err(st, SR_ERR_USAGE, "unknown kind");
}

static int version_has_content(const struct sr_version_row *v)
{
    return v->sealed || v->vault_secret || v->public_key;
}

/* Checks the fields of spec that do not depend on the kind's material. */
static sr_rc spec_check(sr_store *st, const sr_ref_spec *spec)
{
    sr_rc rc;

    if (spec->description && strlen(spec->description) > DESCRIPTION_MAX)
        return sr_err(st, SR_ERR_USAGE,
                      "the description is longer than %d bytes",
                      DESCRIPTION_MAX);
    if (spec->description && strpbrk(spec->description, "\r\n"))
        return sr_err(st, SR_ERR_USAGE,
                      "the description must be one line");
    if (spec->expires && *spec->expires && !sr_date_valid(spec->expires))
        return sr_err(st, SR_ERR_FORMAT,
                      "%s: not a date (YYYY-MM-DD)", spec->expires);
    if (spec->secret && (spec->secret->len == 0 ||
                         spec->secret->len > SECRET_MAX))
        return sr_err(st, SR_ERR_USAGE,
                      "the secret must be 1 to %zu bytes", SECRET_MAX);
    if (spec->vault_client &&
        (rc = sr_name_check("Key Vault client", spec->vault_client,
                            &st->err)) != SR_OK)
        return rc;
    if (spec->vault_secret &&
        (rc = sr_name_check("Key Vault secret", spec->vault_secret,
                            &st->err)) != SR_OK)
        return rc;
    if (spec->vault_version &&
        (rc = sr_name_check("Key Vault secret version", spec->vault_version,
                            &st->err)) != SR_OK)
        return rc;
    if (!!spec->vault_client != !!spec->vault_secret)
        return sr_err(st, SR_ERR_USAGE,
                      "a Key Vault reference needs a client and a secret "
                      "name");
    return SR_OK;
}

/* The kind-specific inputs must match the reference's kind. */
static sr_rc spec_kind_check(sr_store *st, sr_kind kind,
                             const sr_ref_spec *spec)
{
    int manual = spec->secret != NULL;
    int vault = spec->vault_client || spec->vault_secret;
    int cert = spec->key_file_data || spec->generate;

    if ((manual && kind != SR_KIND_MANUAL) ||
        (vault && kind != SR_KIND_KEY_VAULT && kind != SR_KIND_CERTIFICATE) ||
        (vault && cert) || (cert && kind != SR_KIND_CERTIFICATE))
        return sr_err(st, SR_ERR_WRONG_KIND,
                      "%s: is a %s reference; its kind cannot change (delete "
                      "it and create it anew)",
                      spec->name ? spec->name : "reference",
                      sr_kind_name(kind));
    return SR_OK;
}

static sr_rc uuid_new(sr_store *st, char **out)
{
    unsigned char b[16];
    char *hex;

    *out = NULL;
    if (RAND_bytes_ex(sr_libctx(), b, sizeof(b), 0) != 1)
        return sr_err(st, SR_ERR_CRYPTO, "no random bytes");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    if (!(hex = sr_hex(b, sizeof(b))) || !(*out = malloc(37))) {
        free(hex);
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    snprintf(*out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    free(hex);
    return SR_OK;
}

sr_rc sr_ref_create(sr_store *st, const sr_ref_spec *spec)
{
    struct sr_keymaterial km;
    struct sr_version_row v;
    struct sr_ref_row row;
    char cert_expires[48] = "";
    sr_rc rc;

    memset(&km, 0, sizeof(km));
    memset(&v, 0, sizeof(v));
    memset(&row, 0, sizeof(row));
    if ((rc = sr_name_check("reference", spec->name, &st->err)) != SR_OK ||
        (rc = spec_check(st, spec)) != SR_OK ||
        (rc = spec_kind_check(st, spec->kind, spec)) != SR_OK)
        return rc;
    row.info.kind = spec->kind;
    if (spec->environment && *spec->environment &&
        (rc = sr_db_env_find(st, spec->environment, &row.env_id,
                             &row.info.environment)) != SR_OK)
        goto out;
    if (spec->kind == SR_KIND_CERTIFICATE &&
        (spec->key_file_data || spec->generate || spec->vault_secret) &&
        (rc = certificate_material(st, spec, &km, cert_expires)) != SR_OK)
        goto out;
    rc = SR_ERR_NOMEM;
    if (!(row.info.name = strdup(spec->name)) ||
        !(row.info.description =
              strdup(spec->description ? spec->description : "")) ||
        !(row.info.expires = strdup(spec->expires && *spec->expires
                                        ? spec->expires
                                        : cert_expires)) ||
        !(row.info.created = now_string()) ||
        !(row.info.updated = strdup(row.info.created))) {
        sr_err(st, rc, "out of memory");
        goto out;
    }
    if ((rc = uuid_new(st, &row.info.uuid)) != SR_OK ||
        (rc = version_from_spec(st, &row, spec, &km, &v)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        goto out;
    if ((rc = sr_db_ref_insert(st, &row)) != SR_OK ||
        (version_has_content(&v) &&
         (rc = sr_db_version_add(st, row.info.id, &v)) != SR_OK) ||
        (rc = sr_audit(st, spec->name, v.version * version_has_content(&v),
                       "create", sr_kind_name(spec->kind))) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
out:
    sr_keymaterial_clear(&km);
    sr_version_row_clear(&v);
    sr_ref_row_clear(&row);
    return rc;
}

/* Re-seals every version of ref under a new binding (its environment type
 * is part of the additional data). */
static sr_rc rebind_versions(sr_store *st, const struct sr_ref_row *old_ref,
                             const struct sr_ref_row *new_ref)
{
    struct sr_version_row v;
    struct sr_seal_binding b;
    sr_secret *plain = NULL;
    sr_rc rc = SR_OK;
    int version;

    for (version = 1; version <= old_ref->info.version && rc == SR_OK;
         version++) {
        if ((rc = sr_db_version_get(st, old_ref->info.id, version, &v)) !=
            SR_OK) {
            if (rc == SR_ERR_NOTFOUND)
                rc = sr_err_clear(st);
            continue;
        }
        if (v.sealed) {
            sr_binding_of(st, old_ref, version, &b);
            sr_binding_public(&b, v.public_key, v.public_key_len,
                              v.cert_chain_pem);
            if ((rc = sr_store_need_key(st)) == SR_OK &&
                (rc = sr_unseal(st->kek->data, &b, v.sealed, v.sealed_len,
                                &plain, &st->err)) == SR_OK) {
                free(v.sealed);
                v.sealed = NULL;
                rc = seal_into(st, new_ref, &v, plain->data, plain->len);
                if (rc == SR_OK)
                    rc = sr_db_version_reseal(st, old_ref->info.id, &v);
            }
            sr_secret_free(plain);
            plain = NULL;
        }
        sr_version_row_clear(&v);
    }
    return rc;
}

/* The DER of the leaf when data holds certificates and no key (a renewed
 * certificate for the key already held), else NULL. */
static unsigned char *certificate_only(const unsigned char *data, size_t len,
                                       size_t *der_len)
{
    const unsigned char *p = data;
    unsigned char *der = NULL;
    X509 *cert = NULL;
    BIO *bio;
    int n;

    if (len > 1 << 20)
        return NULL;
    if (memmem(data, len, "-----BEGIN ", 11)) {
        if (memmem(data, len, "PRIVATE KEY", 11) ||
            !(bio = BIO_new_mem_buf(data, (int)len)))
            return NULL;
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
    } else if ((cert = d2i_X509(NULL, &p, (long)len)) && p != data + len) {
        X509_free(cert);
        cert = NULL;
    }
    ERR_clear_error();
    if (!cert)
        return NULL;
    n = i2d_X509(cert, &der);
    X509_free(cert);
    if (n <= 0)
        return NULL;
    *der_len = (size_t)n;
    return der;
}

/* NOLINTNEXTLINE(misc-no-recursion): one level; the inner call has no key */
sr_rc sr_ref_update(sr_store *st, const char *name, const sr_ref_spec *spec)
{
    unsigned char *cert_der;
    size_t cert_len = 0;
    sr_ref_spec rest;
    struct sr_keymaterial km;
    struct sr_version_row v;
    struct sr_ref_row row, old;
    char cert_expires[48] = "", *s;
    const char *changed = "metadata";
    sr_rc rc;

    if (spec->key_file_data &&
        (cert_der = certificate_only(spec->key_file_data, spec->key_file_len,
                                     &cert_len))) {
        rc = sr_ref_attach_certificate(st, name, cert_der, cert_len);
        OPENSSL_free(cert_der);
        if (rc != SR_OK)
            return rc;
        rest = *spec;
        rest.key_file_data = NULL;
        rest.key_file_len = 0;
        return sr_ref_update(st, name, &rest);
    }
    memset(&km, 0, sizeof(km));
    memset(&v, 0, sizeof(v));
    memset(&old, 0, sizeof(old));
    if ((rc = spec_check(st, spec)) != SR_OK ||
        (rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK)
        return rc;
    if ((rc = spec_kind_check(st, row.info.kind, spec)) != SR_OK)
        goto out;
    /* Keep the old binding to re-seal if the environment type changes. */
    old.info.id = row.info.id;
    old.info.kind = row.info.kind;
    old.info.version = row.info.version;
    old.env_id = row.env_id;
    if (!(old.info.uuid = strdup(row.info.uuid))) {
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (spec->clear_environment) {
        row.env_id = 0;
    } else if (spec->environment) {
        free(row.info.environment);
        row.info.environment = NULL;
        if ((rc = sr_db_env_find(st, spec->environment, &row.env_id,
                                 &row.info.environment)) != SR_OK)
            goto out;
    }
    if (row.info.kind == SR_KIND_CERTIFICATE &&
        (spec->key_file_data || spec->generate || spec->vault_secret) &&
        (rc = certificate_material(st, spec, &km, cert_expires)) != SR_OK)
        goto out;
    if (spec->description) {
        if (!(s = strdup(spec->description)))
            goto nomem;
        free(row.info.description);
        row.info.description = s;
    }
    if (spec->expires || cert_expires[0]) {
        if (!(s = strdup(spec->expires ? spec->expires : cert_expires)))
            goto nomem;
        free(row.info.expires);
        row.info.expires = s;
    }
    free(row.info.updated);
    if (!(row.info.updated = now_string()))
        goto nomem;
    if ((rc = version_from_spec(st, &row, spec, &km, &v)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        goto out;
    if (version_has_content(&v))
        changed = "new version";
    if ((rc = sr_db_ref_update_meta(st, &row)) != SR_OK ||
        (old.env_id != row.env_id &&
         (rc = rebind_versions(st, &old, &row)) != SR_OK) ||
        (version_has_content(&v) &&
         (rc = sr_db_version_add(st, row.info.id, &v)) != SR_OK) ||
        (rc = sr_audit(st, row.info.name,
                       version_has_content(&v) ? v.version : row.info.version,
                       "update", changed)) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
    goto out;
nomem:
    rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
out:
    sr_keymaterial_clear(&km);
    sr_version_row_clear(&v);
    sr_ref_row_clear(&row);
    sr_ref_row_clear(&old);
    return rc;
}

sr_rc sr_ref_attach_certificate(sr_store *st, const char *name,
                                const unsigned char *der, size_t len)
{
    struct sr_keymaterial km;
    struct sr_version_row v;
    struct sr_ref_row row;
    const unsigned char *p;
    sr_secret *plain = NULL;
    X509 *cert = NULL;
    char expires[48] = "";
    const ASN1_TIME *not_after;
    struct tm tm;
    sr_rc rc;

    memset(&km, 0, sizeof(km));
    memset(&v, 0, sizeof(v));
    if ((rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK)
        return rc;
    if (row.info.kind != SR_KIND_CERTIFICATE) {
        rc = sr_err(st, SR_ERR_WRONG_KIND, "%s: is a %s reference, not a "
                    "certificate", name, sr_kind_name(row.info.kind));
        goto out;
    }
    p = der;
    if (!(cert = d2i_X509(NULL, &p, (long)len)) || p != der + len) {
        rc = sr_err(st, SR_ERR_FORMAT, "%s: not a DER certificate", name);
        ERR_clear_error();
        goto out;
    }
    if ((rc = sr_ref_unseal_current(st, &row, &plain)) != SR_OK)
        goto out;
    p = plain->data;
    if (!(km.pkey = d2i_AutoPrivateKey_ex(NULL, &p, (long)plain->len,
                                          sr_libctx(), NULL))) {
        rc = sr_err(st, SR_ERR_TAMPER, "%s: the sealed key does not decode",
                    name);
        goto out;
    }
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), km.pkey) != 1) {
        rc = sr_err(st, SR_ERR_FORMAT,
                    "%s: the certificate does not match the key", name);
        ERR_clear_error();
        goto out;
    }
    if (!(km.chain = sk_X509_new_null()) || !sk_X509_push(km.chain, cert)) {
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    cert = NULL;
    if (!*row.info.expires &&
        (not_after = X509_get0_notAfter(sk_X509_value(km.chain, 0))) &&
        ASN1_TIME_to_tm(not_after, &tm) == 1) {
        snprintf(expires, sizeof(expires), "%04d-%02d-%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        free(row.info.expires);
        if (!(row.info.expires = strdup(expires))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    v.version = row.info.version + 1;
    if (!(v.created = now_string()) || !(v.created_by = strdup(st->user)) ||
        !(v.note = strdup("certificate attached"))) {
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = certificate_version(st, &row, &km, &v)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        goto out;
    free(row.info.updated);
    row.info.updated = strdup(v.created);
    if (!row.info.updated ||
        (rc = sr_db_ref_update_meta(st, &row)) != SR_OK ||
        (rc = sr_db_version_add(st, row.info.id, &v)) != SR_OK ||
        (rc = sr_audit(st, row.info.name, v.version, "update",
                       "certificate attached")) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK) {
        if (rc == SR_OK)
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        sr_db_rollback(st);
    }
out:
    X509_free(cert);
    sr_secret_free(plain);
    sr_keymaterial_clear(&km);
    sr_version_row_clear(&v);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_ref_users(sr_store *st, const char *name, char **users)
{
    sr_rc rc = sr_db_ref_users(st, name, users);

    if (rc == SR_OK && !*users && !(*users = calloc(1, 1)))
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
    return rc;
}

sr_rc sr_ref_delete(sr_store *st, const char *name)
{
    struct sr_ref_row row;
    char *users = NULL;
    sr_rc rc;

    /* The check and the delete in one transaction: a connector added in
     * between cannot end up naming a deleted reference. */
    if ((rc = sr_db_begin(st)) != SR_OK)
        return rc;
    if ((rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK) {
        sr_db_rollback(st);
        return rc;
    }
    if ((rc = sr_db_ref_users(st, row.info.name, &users)) != SR_OK) {
        sr_db_rollback(st);
        goto out;
    }
    if (users && *users) {
        sr_db_rollback(st);
        rc = sr_err(st, SR_ERR_IN_USE, "%s: in use by %s", name, users);
        goto out;
    }
    if ((rc = sr_db_ref_delete(st, row.info.id)) != SR_OK ||
        (rc = sr_audit(st, row.info.name, row.info.version, "delete",
                       row.info.environment ? row.info.environment : "")) !=
            SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
out:
    free(users);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_ref_open_secret(sr_store *st, const char *name, sr_secret **out)
{
    struct sr_ref_row row;
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_ref_resolve(st, name, 1, &row)) != SR_OK)
        return rc;
    if (row.info.kind == SR_KIND_KEY_VAULT) {
        struct sr_vault_meta meta;
        if ((rc = sr_keyvault_fetch(st, &row, out, &meta)) == SR_OK &&
            (rc = sr_audit(st, row.info.name, row.info.version, "use",
                           meta.version)) != SR_OK) {
            sr_secret_free(*out);
            *out = NULL;
        }
    } else if (row.info.kind != SR_KIND_MANUAL)
        rc = sr_err(st, SR_ERR_WRONG_KIND,
                    "%s: is a %s reference, not a manual secret", name,
                    sr_kind_name(row.info.kind));
    else if ((rc = sr_ref_unseal_current(st, &row, out)) == SR_OK &&
             (rc = sr_audit(st, row.info.name, row.info.version, "use",
                            "")) != SR_OK) {
        sr_secret_free(*out);
        *out = NULL;
    }
    sr_ref_row_clear(&row);
    return rc;
}

/* One line of what Key Vault said, and a warning when its expiry date and
 * the reference's disagree. */
static char *vault_details(const sr_ref_info *info,
                           const struct sr_vault_meta *meta)
{
    char exp[16] = "", line[256];
    struct tm tm;

    /* exp comes from Key Vault: a year out of range prints no date. */
    if (meta->exp && (!gmtime_r(&meta->exp, &tm) ||
                      !strftime(exp, sizeof(exp), "%Y-%m-%d", &tm)))
        exp[0] = '\0';
    snprintf(line, sizeof(line), "Key Vault version %s, %s%s%s",
             meta->version[0] ? meta->version : "(unknown)",
             meta->exp ? "expires " : "no expiry date",
             meta->exp ? exp : "",
             (meta->exp || *info->expires) && strcmp(exp, info->expires) != 0
                 ? "; warning: the reference's own expiry date differs"
                 : "");
    if ((meta->exp || *info->expires) && strcmp(exp, info->expires) != 0) {
        size_t used = strlen(line);
        snprintf(line + used, sizeof(line) - used, " (%s)",
                 *info->expires ? info->expires : "none");
    }
    return strdup(line);
}

sr_rc sr_ref_verify_details(sr_store *st, const char *name, char **details)
{
    struct sr_vault_meta meta;
    struct sr_ref_row row;
    sr_secret *plain = NULL;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p;
    sr_rc rc;

    if (details)
        *details = NULL;
    if ((rc = sr_ref_resolve(st, name, 1, &row)) != SR_OK)
        return rc;
    if (row.info.kind == SR_KIND_KEY_VAULT) {
        if ((rc = sr_keyvault_fetch(st, &row, &plain, &meta)) != SR_OK)
            goto out;
        if (details && !(*details = vault_details(&row.info, &meta))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
    } else {
        if ((rc = sr_ref_unseal_current(st, &row, &plain)) != SR_OK)
            goto out;
        if (row.info.kind == SR_KIND_CERTIFICATE) {
            p = plain->data;
            if (!(pkey = d2i_AutoPrivateKey_ex(NULL, &p, (long)plain->len,
                                               sr_libctx(), NULL))) {
                rc = sr_err(st, SR_ERR_TAMPER,
                            "%s: the sealed key does not decode", name);
                sr_error_add_openssl(&st->err);
                goto out;
            }
        }
    }
    rc = sr_audit(st, row.info.name, row.info.version, "verify", "");
out:
    if (rc != SR_OK && details) {
        free(*details);
        *details = NULL;
    }
    EVP_PKEY_free(pkey);
    sr_secret_free(plain);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_ref_verify(sr_store *st, const char *name)
{
    return sr_ref_verify_details(st, name, NULL);
}

sr_rc sr_ref_history(sr_store *st, const char *name, sr_version_info **out,
                     size_t *count)
{
    struct sr_ref_row row;
    sr_rc rc;

    if ((rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK)
        return rc;
    rc = sr_db_version_list(st, row.info.id, out, count);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_ref_rollback(sr_store *st, const char *name, int version)
{
    struct sr_version_row old, v;
    struct sr_seal_binding b;
    struct sr_ref_row row;
    sr_secret *plain = NULL;
    char note[64];
    sr_rc rc;

    memset(&old, 0, sizeof(old));
    memset(&v, 0, sizeof(v));
    if ((rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK)
        return rc;
    if (version < 1 || version > row.info.version) {
        rc = sr_err(st, SR_ERR_NOTFOUND,
                    "%s: version %d does not exist (versions 1 to %d)", name,
                    version, row.info.version);
        goto out;
    }
    if ((rc = sr_db_version_get(st, row.info.id, version, &old)) != SR_OK)
        goto out;
    v.version = row.info.version + 1;
    snprintf(note, sizeof(note), "rollback to version %d", version);
    rc = SR_ERR_NOMEM;
    if (!(v.created = now_string()) || !(v.created_by = strdup(st->user)) ||
        !(v.note = strdup(note)) ||
        (old.vault_client && !(v.vault_client = strdup(old.vault_client))) ||
        (old.vault_secret && !(v.vault_secret = strdup(old.vault_secret))) ||
        (old.vault_version &&
         !(v.vault_version = strdup(old.vault_version))) ||
        (old.cert_chain_pem &&
         !(v.cert_chain_pem = strdup(old.cert_chain_pem)))) {
        sr_err(st, rc, "out of memory");
        goto out;
    }
    if (old.public_key) {
        if (!(v.public_key = malloc(old.public_key_len))) {
            sr_err(st, rc, "out of memory");
            goto out;
        }
        memcpy(v.public_key, old.public_key, old.public_key_len);
        v.public_key_len = old.public_key_len;
    }
    if (old.sealed) {
        sr_binding_of(st, &row, version, &b);
        sr_binding_public(&b, old.public_key, old.public_key_len,
                          old.cert_chain_pem);
        if ((rc = sr_store_need_key(st)) != SR_OK ||
            (rc = sr_unseal(st->kek->data, &b, old.sealed, old.sealed_len,
                            &plain, &st->err)) != SR_OK ||
            (rc = seal_into(st, &row, &v, plain->data, plain->len)) != SR_OK)
            goto out;
    }
    if ((rc = sr_db_begin(st)) != SR_OK)
        goto out;
    if ((rc = sr_db_version_add(st, row.info.id, &v)) != SR_OK ||
        (rc = sr_audit(st, row.info.name, v.version, "rollback", note)) !=
            SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        sr_db_rollback(st);
out:
    sr_secret_free(plain);
    sr_version_row_clear(&old);
    sr_version_row_clear(&v);
    sr_ref_row_clear(&row);
    return rc;
}

sr_rc sr_ref_pubkey(sr_store *st, const char *name, sr_pubkey_format format,
                    char **out)
{
    struct sr_ref_row row;
    const unsigned char *p;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    char *data;
    long len;
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_ref_resolve(st, name, 0, &row)) != SR_OK)
        return rc;
    if (row.info.kind != SR_KIND_CERTIFICATE) {
        rc = sr_err(st, SR_ERR_WRONG_KIND,
                    "%s: is a %s reference and has no public key", name,
                    sr_kind_name(row.info.kind));
        goto out;
    }
    if (!row.info.public_key_der) {
        rc = sr_err(st, SR_ERR_NOT_SET, "%s: the key is not set", name);
        goto out;
    }
    /* With the store's key, the public key is checked against the sealed
     * version it is bound to: a swapped one is a tamper error, not a key
     * someone registers with Azure. */
    if (st->kek && row.info.version >= 1) {
        sr_secret *plain = NULL;
        rc = sr_ref_unseal_current(st, &row, &plain);
        sr_secret_free(plain);
        if (rc != SR_OK)
            goto out;
    }
    p = row.info.public_key_der;
    if (!(pkey = d2i_PUBKEY_ex(NULL, &p, (long)row.info.public_key_len,
                               sr_libctx(), NULL))) {
        rc = sr_err(st, SR_ERR_DB, "%s: the stored public key is damaged",
                    name);
        goto out;
    }
    if (format == SR_PUBKEY_OPENSSH) {
        rc = sr_ssh_pubkey_line(pkey, row.info.name, out, &st->err);
        goto out;
    }
    rc = SR_ERR_NOMEM;
    if (!(bio = BIO_new(BIO_s_mem())) || PEM_write_bio_PUBKEY(bio, pkey) != 1)
        goto out;
    len = BIO_get_mem_data(bio, &data);
    if (!(*out = malloc((size_t)len + 1)))
        goto out;
    memcpy(*out, data, (size_t)len);
    (*out)[len] = '\0';
    rc = SR_OK;
out:
    if (rc == SR_ERR_NOMEM)
        sr_err(st, rc, "out of memory");
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    sr_ref_row_clear(&row);
    return rc;
}
