/* SPDX-License-Identifier: Apache-2.0 */
/* The key core: the only place where private key bytes are decrypted and
 * used. A certificate reference opens into an EVP_PKEY in the private
 * library context; callers get an opaque, reference-counted handle that
 * signs, decrypts and derives but never gives the key out. */
#include "internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A signing context kept for reuse, with the parameters it was set up
 * for: in OpenSSL 3.0 making one (EVP_PKEY_CTX_new_from_pkey, sign_init,
 * set_params) costs a tenth of an ECDSA P-256 signature. A context is
 * used by one thread at a time; the pool holds at most SIGN_POOL_MAX. */
#define SIGN_POOL_MAX 16
#define SIGN_NAME_MAX 32

struct sign_slot {
    struct sign_slot *next;
    EVP_PKEY_CTX *ctx;   /* RSA, EC: EVP_PKEY_sign */
    EVP_MD_CTX *md_ctx;  /* Ed25519: EVP_DigestSign */
    int configured; /* set up with the key and the fields below */
    sr_padding padding;
    int salt_len;
    char digest[SIGN_NAME_MAX], mgf1[SIGN_NAME_MAX]; /* "" for none */
};

struct sr_key {
    atomic_int refs;
    EVP_PKEY *pkey;
    /* Taken with a test-and-set, never waited for: a busy pool (or one a
     * forked child inherited mid-use) only means a new context. */
    atomic_flag pool_busy;
    struct sign_slot *pool;
    int pool_len;
    sr_key_type type;
    int bits;
    const char *curve;
    char *name;
    int version;
    unsigned char *public_der;
    size_t public_len;
    char *chain_pem;
};

/* Key handles are shared between threads, so their failures are kept per
 * thread rather than on the handle. */
static _Thread_local struct sr_error key_error;

#define key_fail(rc, ...) sr_error_set(&key_error, (rc), __VA_ARGS__)

static sr_rc key_fail_openssl(sr_rc rc, const char *what)
{
    key_fail(rc, "%s failed", what);
    sr_error_add_openssl(&key_error);
    return rc;
}

const char *sr_key_errmsg(const sr_key *key)
{
    (void)key;
    return key_error.msg[0] ? key_error.msg : sr_strerror(key_error.rc);
}

static sr_rc key_describe(sr_key *k)
{
    char group[32];

    if (EVP_PKEY_is_a(k->pkey, "RSA")) {
        k->type = SR_KEY_RSA;
    } else if (EVP_PKEY_is_a(k->pkey, "EC")) {
        k->type = SR_KEY_EC;
        if (EVP_PKEY_get_utf8_string_param(k->pkey,
                                           OSSL_PKEY_PARAM_GROUP_NAME, group,
                                           sizeof(group), NULL) != 1)
            return SR_ERR_UNSUPPORTED;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            k->curve = "P-256";
        else if (strcmp(group, "secp384r1") == 0 ||
                 strcmp(group, "P-384") == 0)
            k->curve = "P-384";
        else if (strcmp(group, "secp521r1") == 0 ||
                 strcmp(group, "P-521") == 0)
            k->curve = "P-521";
        else
            return SR_ERR_UNSUPPORTED;
    } else if (EVP_PKEY_is_a(k->pkey, "ED25519")) {
        k->type = SR_KEY_ED25519;
    } else {
        return SR_ERR_UNSUPPORTED;
    }
    /* OpenSSL 3.0 caches these when the key loads and keeps 0 when that
     * ran out of memory: such a key cannot be used. */
    k->bits = EVP_PKEY_get_bits(k->pkey);
    if (k->bits <= 0 || EVP_PKEY_get_size(k->pkey) <= 0)
        return SR_ERR_NOMEM;
    return SR_OK;
}

sr_rc sr_key_open(sr_store *st, const char *name, sr_key **out)
{
    struct sr_ref_row row;
    sr_secret *plain = NULL;
    const unsigned char *p;
    sr_key *k = NULL;
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_ref_resolve(st, name, 1, &row)) != SR_OK)
        return rc;
    if (row.info.kind != SR_KIND_CERTIFICATE) {
        rc = sr_err(st, SR_ERR_WRONG_KIND,
                    "%s: is a %s reference, not a certificate", name,
                    sr_kind_name(row.info.kind));
        goto out;
    }
    if ((rc = sr_ref_unseal_current(st, &row, &plain)) != SR_OK)
        goto out;
    rc = SR_ERR_NOMEM;
    if (!(k = calloc(1, sizeof(*k)))) {
        sr_err(st, rc, "out of memory");
        goto out;
    }
    atomic_init(&k->refs, 1);
    atomic_flag_clear(&k->pool_busy);
    p = plain->data;
    if (!(k->pkey = d2i_AutoPrivateKey_ex(NULL, &p, (long)plain->len,
                                          sr_libctx(), NULL))) {
        rc = sr_err(st, SR_ERR_TAMPER, "%s: the sealed key does not decode",
                    name);
        sr_error_add_openssl(&st->err);
        goto out;
    }
    if ((rc = key_describe(k)) == SR_ERR_NOMEM) {
        rc = sr_err(st, rc, "%s: out of memory loading the key", name);
        goto out;
    } else if (rc != SR_OK) {
        rc = sr_err(st, SR_ERR_UNSUPPORTED, "%s: unsupported key type", name);
        goto out;
    }
    k->version = row.info.version;
    /* The handle takes the row's strings it keeps. */
    k->name = row.info.name;
    row.info.name = NULL;
    k->public_der = row.info.public_key_der;
    k->public_len = row.info.public_key_len;
    row.info.public_key_der = NULL;
    k->chain_pem = row.info.cert_chain_pem;
    row.info.cert_chain_pem = NULL;
    if (!k->public_der) {
        rc = sr_err(st, SR_ERR_DB, "%s: the public key is missing", name);
        goto out;
    }
    rc = sr_audit(st, k->name, k->version, "open", "");
out:
    sr_secret_free(plain);
    sr_ref_row_clear(&row);
    if (rc != SR_OK)
        sr_key_free(k);
    else
        *out = k;
    return rc;
}

sr_key *sr_key_ref(sr_key *key)
{
    if (key)
        atomic_fetch_add(&key->refs, 1);
    return key;
}

static void slot_free(struct sign_slot *slot)
{
    if (slot) {
        EVP_PKEY_CTX_free(slot->ctx);
        EVP_MD_CTX_free(slot->md_ctx);
        free(slot);
    }
}

void sr_key_free(sr_key *key)
{
    struct sign_slot *slot;

    if (!key || atomic_fetch_sub(&key->refs, 1) != 1)
        return;
    while ((slot = key->pool)) {
        key->pool = slot->next;
        slot_free(slot);
    }
    /* EVP_PKEY_free cleanses the key's bignums and buffers. */
    EVP_PKEY_free(key->pkey);
    free(key->name);
    free(key->public_der);
    free(key->chain_pem);
    free(key);
}

sr_key_type sr_key_get_type(const sr_key *key)
{
    return key->type;
}

int sr_key_bits(const sr_key *key)
{
    return key->bits;
}

const char *sr_key_curve(const sr_key *key)
{
    return key->curve;
}

const char *sr_key_name(const sr_key *key)
{
    return key->name;
}

int sr_key_version(const sr_key *key)
{
    return key->version;
}

const unsigned char *sr_key_public_der(const sr_key *key, size_t *len)
{
    *len = key->public_len;
    return key->public_der;
}

const char *sr_key_cert_chain_pem(const sr_key *key)
{
    return key->chain_pem;
}

/* Sets RSA padding and digests on a sign or decrypt context. */
static int rsa_params_set(EVP_PKEY_CTX *ctx, sr_padding padding,
                          const char *digest, const char *mgf1, int salt_len,
                          const unsigned char *label, size_t label_len,
                          int decrypt)
{
    OSSL_PARAM params[6], *p = params;
    const char *pad;

    switch (padding) {
    case SR_PAD_PKCS1:
        pad = OSSL_PKEY_RSA_PAD_MODE_PKCSV15;
        break;
    case SR_PAD_PSS:
        pad = OSSL_PKEY_RSA_PAD_MODE_PSS;
        break;
    case SR_PAD_OAEP:
        pad = OSSL_PKEY_RSA_PAD_MODE_OAEP;
        break;
    default:
        return 0;
    }
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE,
                                            (char *)pad, 0);
    if (decrypt) {
        if (padding == SR_PAD_OAEP) {
            *p++ = OSSL_PARAM_construct_utf8_string(
                OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
                (char *)(digest ? digest : "SHA1"), 0);
            *p++ = OSSL_PARAM_construct_utf8_string(
                OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST,
                (char *)(mgf1 ? mgf1 : digest ? digest : "SHA1"), 0);
            if (label && label_len)
                *p++ = OSSL_PARAM_construct_octet_string(
                    OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, (void *)label,
                    label_len);
        }
    } else {
        if (digest)
            *p++ = OSSL_PARAM_construct_utf8_string(
                OSSL_SIGNATURE_PARAM_DIGEST, (char *)digest, 0);
        if (padding == SR_PAD_PSS) {
            *p++ = OSSL_PARAM_construct_utf8_string(
                OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
                (char *)(mgf1 ? mgf1 : digest ? digest : "SHA256"), 0);
            *p++ = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                            &salt_len);
        }
    }
    *p = OSSL_PARAM_construct_end();
    return EVP_PKEY_CTX_set_params(ctx, params) == 1;
}

/* A signing context from the pool, or a new, empty one. */
static struct sign_slot *slot_take(sr_key *key)
{
    struct sign_slot *slot = NULL;

    if (!atomic_flag_test_and_set_explicit(&key->pool_busy,
                                           memory_order_acquire)) {
        if ((slot = key->pool)) {
            key->pool = slot->next;
            key->pool_len--;
        }
        atomic_flag_clear_explicit(&key->pool_busy, memory_order_release);
    }
    return slot ? slot : calloc(1, sizeof(*slot));
}

/* Back to the pool, or freed when the pool is full or busy. */
static void slot_give(sr_key *key, struct sign_slot *slot)
{
    if (!atomic_flag_test_and_set_explicit(&key->pool_busy,
                                           memory_order_acquire)) {
        if (key->pool_len < SIGN_POOL_MAX) {
            slot->next = key->pool;
            key->pool = slot;
            key->pool_len++;
            slot = NULL;
        }
        atomic_flag_clear_explicit(&key->pool_busy, memory_order_release);
    }
    slot_free(slot);
}

static int slot_matches(const struct sign_slot *slot,
                        const sr_sign_params *params)
{
    return slot->configured && slot->padding == params->padding &&
           slot->salt_len == params->salt_len &&
           strcmp(slot->digest, params->digest ? params->digest : "") == 0 &&
           strcmp(slot->mgf1,
                  params->mgf1_digest ? params->mgf1_digest : "") == 0;
}

/* Sets the context up for params, from scratch unless it already is. */
static sr_rc slot_setup(sr_key *key, struct sign_slot *slot,
                        const sr_sign_params *params)
{
    const char *digest = params->digest ? params->digest : "";
    const char *mgf1 = params->mgf1_digest ? params->mgf1_digest : "";

    if (slot_matches(slot, params))
        return SR_OK;
    slot->configured = 0;
    if (!slot->ctx && !(slot->ctx = EVP_PKEY_CTX_new_from_pkey(
                            sr_libctx(), key->pkey, NULL)))
        return key_fail(SR_ERR_NOMEM, "out of memory");
    if (EVP_PKEY_sign_init(slot->ctx) != 1)
        return key_fail_openssl(SR_ERR_CRYPTO, "starting a signature");
    if (key->type == SR_KEY_RSA) {
        /* PSS salt: -1 digest length, -2 maximum, as RSA_PSS_SALTLEN_* */
        if (!rsa_params_set(slot->ctx, params->padding, params->digest,
                            params->mgf1_digest, params->salt_len, NULL, 0,
                            0))
            return key_fail_openssl(SR_ERR_USAGE, "setting RSA parameters");
    } else if (params->digest) {
        OSSL_PARAM p[2];
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST,
                                                (char *)params->digest, 0);
        p[1] = OSSL_PARAM_construct_end();
        if (EVP_PKEY_CTX_set_params(slot->ctx, p) != 1)
            return key_fail_openssl(SR_ERR_USAGE, "setting the digest");
    }
    /* Names too long to record just mean setting up again next time. */
    if (strlen(digest) < SIGN_NAME_MAX && strlen(mgf1) < SIGN_NAME_MAX) {
        slot->padding = params->padding;
        slot->salt_len = params->salt_len;
        memcpy(slot->digest, digest, strlen(digest) + 1);
        memcpy(slot->mgf1, mgf1, strlen(mgf1) + 1);
        slot->configured = 1;
    }
    return SR_OK;
}

static sr_rc sign_ed25519(sr_key *key, const unsigned char *tbs,
                          size_t tbslen, unsigned char *sig, size_t *siglen)
{
    struct sign_slot *slot = slot_take(key);
    int ok;

    if (!slot || (!slot->md_ctx && !(slot->md_ctx = EVP_MD_CTX_new()))) {
        slot_free(slot);
        return key_fail(SR_ERR_NOMEM, "out of memory");
    }
    /* A context set up before is set up again with the same key, which
     * costs a twentieth of the first time. */
    if (slot->configured)
        ok = EVP_DigestSignInit_ex(slot->md_ctx, NULL, NULL, NULL, NULL,
                                   NULL, NULL) == 1;
    else
        ok = EVP_DigestSignInit_ex(slot->md_ctx, NULL, NULL, sr_libctx(),
                                   NULL, key->pkey, NULL) == 1;
    if (!ok || EVP_DigestSign(slot->md_ctx, sig, siglen, tbs, tbslen) != 1) {
        slot_free(slot);
        return key_fail_openssl(SR_ERR_CRYPTO, "Ed25519 signing");
    }
    slot->configured = 1;
    slot_give(key, slot);
    return SR_OK;
}

sr_rc sr_key_sign(sr_key *key, const sr_sign_params *params,
                  const unsigned char *tbs, size_t tbslen, unsigned char *sig,
                  size_t *siglen)
{
    struct sign_slot *slot;
    size_t room;
    sr_rc rc;

    if (!sig) {
        *siglen = (size_t)EVP_PKEY_get_size(key->pkey);
        return SR_OK;
    }
    room = *siglen;
    if (key->type == SR_KEY_ED25519)
        return sign_ed25519(key, tbs, tbslen, sig, siglen);
    if (key->type == SR_KEY_EC && params->padding != SR_PAD_NONE)
        return key_fail(SR_ERR_USAGE, "EC keys take no padding");
    if (key->type == SR_KEY_RSA && params->padding != SR_PAD_PKCS1 &&
        params->padding != SR_PAD_PSS)
        return key_fail(SR_ERR_USAGE, "RSA signing needs PKCS#1 or PSS");
    if (params->padding == SR_PAD_PSS && !params->digest)
        return key_fail(SR_ERR_USAGE, "PSS needs a digest");
    if (!(slot = slot_take(key)))
        return key_fail(SR_ERR_NOMEM, "out of memory");
    if ((rc = slot_setup(key, slot, params)) == SR_OK &&
        EVP_PKEY_sign(slot->ctx, sig, siglen, tbs, tbslen) != 1)
        rc = key_fail_openssl(SR_ERR_CRYPTO, "signing");
    /* OpenSSL 3.0's ECDSA reports success with the length of a failed DER
     * encoding (-1) when that runs out of memory. */
    if (rc == SR_OK && (*siglen == 0 || *siglen > room))
        rc = key_fail(SR_ERR_NOMEM, "signing: out of memory");
    /* A context that failed is not used again. */
    if (rc == SR_OK)
        slot_give(key, slot);
    else
        slot_free(slot);
    return rc;
}

sr_rc sr_key_decrypt(sr_key *key, const sr_decrypt_params *params,
                     const unsigned char *in, size_t inlen, unsigned char *out,
                     size_t *outlen)
{
    EVP_PKEY_CTX *ctx = NULL;
    sr_rc rc = SR_OK;

    if (key->type != SR_KEY_RSA)
        return key_fail(SR_ERR_UNSUPPORTED, "only RSA keys decrypt");
    if (!out) {
        *outlen = (size_t)EVP_PKEY_get_size(key->pkey);
        return SR_OK;
    }
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), key->pkey, NULL)))
        return key_fail(SR_ERR_NOMEM, "out of memory");
    if (EVP_PKEY_decrypt_init(ctx) != 1 ||
        !rsa_params_set(ctx, params->padding, params->oaep_digest,
                        params->mgf1_digest, 0, params->label,
                        params->label_len, 1)) {
        rc = key_fail_openssl(SR_ERR_USAGE, "setting decryption parameters");
        goto out;
    }
    if (EVP_PKEY_decrypt(ctx, out, outlen, in, inlen) != 1)
        rc = key_fail_openssl(SR_ERR_CRYPTO, "decryption");
out:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

sr_rc sr_key_derive(sr_key *key, const unsigned char *peer_der,
                    size_t peer_len, unsigned char *out, size_t *outlen)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *peer = NULL;
    const unsigned char *p = peer_der;
    sr_rc rc = SR_OK;

    if (key->type != SR_KEY_EC)
        return key_fail(SR_ERR_UNSUPPORTED, "only EC keys derive");
    if (!(peer = d2i_PUBKEY_ex(NULL, &p, (long)peer_len, sr_libctx(), NULL)))
        return key_fail_openssl(SR_ERR_FORMAT, "reading the peer key");
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), key->pkey, NULL))) {
        rc = key_fail(SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, out, outlen) != 1)
        rc = key_fail_openssl(SR_ERR_CRYPTO, "ECDH");
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    return rc;
}
