/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing: each secret version gets its own random data key, which seals
 * the secret with AES-256-GCM and is itself wrapped by the encryption key.
 * Both layers authenticate the row the value belongs to, so a ciphertext
 * copied into another row, another version or another store fails to open.
 *
 * Layout of a sealed value (format 1):
 *   1 format | 4 key id | 12 wrap nonce | 32 wrapped key | 16 wrap tag
 *   | 12 data nonce | n ciphertext | 16 data tag
 */
#include "internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define DK_LEN 32
#define OFF_KEY_ID 1
#define OFF_WRAP_NONCE 5
#define OFF_WRAPPED (OFF_WRAP_NONCE + NONCE_LEN)
#define OFF_WRAP_TAG (OFF_WRAPPED + DK_LEN)
#define OFF_DATA_NONCE (OFF_WRAP_TAG + TAG_LEN)
#define OFF_DATA (OFF_DATA_NONCE + NONCE_LEN)
#define OVERHEAD (OFF_DATA + TAG_LEN)
#define AAD_MAX 512

static EVP_CIPHER *gcm;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
    gcm = EVP_CIPHER_fetch(sr_libctx(), "AES-256-GCM", NULL);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The additional data: a label for the layer, then every field of the
 * binding, each length-prefixed so no two bindings encode alike. */
static size_t aad_build(unsigned char *aad, const char *label,
                        const struct sr_seal_binding *b, int key_id)
{
    const char *fields[2] = {b->store_id, b->ref_uuid};
    size_t used = 0, n, i;

    n = strlen(label);
    memcpy(aad, label, n);
    used += n;
    for (i = 0; i < 2; i++) {
        n = fields[i] ? strlen(fields[i]) : 0;
        if (n > 128)
            n = 128;
        put_u32(aad + used, (uint32_t)n);
        used += 4;
        memcpy(aad + used, fields[i] ? fields[i] : "", n);
        used += n;
    }
    put_u32(aad + used, (uint32_t)b->kind);
    put_u32(aad + used + 4, (uint32_t)b->version);
    put_u32(aad + used + 8, (uint32_t)((uint64_t)b->env_id >> 32));
    put_u32(aad + used + 12, (uint32_t)b->env_id);
    put_u32(aad + used + 16, (uint32_t)key_id);
    used += 20;
    if (b->has_public) {
        memcpy(aad + used, b->public_digest, sizeof(b->public_digest));
        used += sizeof(b->public_digest);
    }
    return used;
}

void sr_binding_public(struct sr_seal_binding *b,
                       const unsigned char *public_key, size_t public_len,
                       const char *chain_pem)
{
    EVP_MD_CTX *md;
    unsigned char len[8];
    size_t chain_len = chain_pem ? strlen(chain_pem) : 0;
    int i;

    b->has_public = 0;
    if (!public_key || !public_len)
        return;
    /* A digest that cannot be made marks the binding unusable: sealing
     * without it would make a key that never opens, and opening without
     * it would report tampering. */
    b->has_public = -1;
    if (!(md = EVP_MD_CTX_new()))
        return;
    /* Length-prefixed, so no key and chain pair reads as another. */
    for (i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)public_len >> (56 - 8 * i));
    if (EVP_DigestInit_ex2(md, EVP_sha256(), NULL) == 1 &&
        EVP_DigestUpdate(md, len, 8) == 1 &&
        EVP_DigestUpdate(md, public_key, public_len) == 1) {
        for (i = 0; i < 8; i++)
            len[i] = (unsigned char)((uint64_t)chain_len >> (56 - 8 * i));
        if (EVP_DigestUpdate(md, len, 8) == 1 &&
            (!chain_len || EVP_DigestUpdate(md, chain_pem, chain_len) == 1) &&
            EVP_DigestFinal_ex(md, b->public_digest, NULL) == 1)
            b->has_public = 1;
    }
    EVP_MD_CTX_free(md);
}

/* One AES-256-GCM operation; returns 1 on success (and, when opening, only
 * if the tag verifies). */
static int gcm_run(int enc, const unsigned char *key,
                   const unsigned char *nonce, const unsigned char *aad,
                   size_t aadlen, const unsigned char *in, size_t len,
                   unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx;
    int ok = 0, outl;

    pthread_once(&gcm_once, gcm_fetch);
    if (!gcm || len > INT32_MAX || !(ctx = EVP_CIPHER_CTX_new()))
        return 0;
    if (EVP_CipherInit_ex2(ctx, gcm, key, nonce, enc, NULL) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aadlen) != 1 ||
        (len && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1))
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
                                    tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + len, &outl) != 1)
        goto out;
    if (enc &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

sr_rc sr_seal(const unsigned char kek[SR_KEK_LEN], int key_id,
              const struct sr_seal_binding *b, const unsigned char *plaintext,
              size_t len, unsigned char **sealed, size_t *sealed_len,
              struct sr_error *e)
{
    sr_rc rc = SR_ERR_CRYPTO;
    unsigned char dk[DK_LEN], aad[AAD_MAX], *buf = NULL;
    size_t aadlen;

    *sealed = NULL;
    if (b->has_public < 0)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    if (len > (size_t)INT32_MAX - OVERHEAD)
        return sr_error_set(e, SR_ERR_USAGE, "secret too large");
    if (!(buf = malloc(OVERHEAD + len)))
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    buf[0] = FORMAT;
    put_u32(buf + OFF_KEY_ID, (uint32_t)key_id);
    if (RAND_priv_bytes_ex(sr_libctx(), dk, DK_LEN, 256) != 1 ||
        RAND_bytes_ex(sr_libctx(), buf + OFF_WRAP_NONCE, NONCE_LEN, 0) != 1 ||
        RAND_bytes_ex(sr_libctx(), buf + OFF_DATA_NONCE, NONCE_LEN, 0) != 1) {
        sr_error_set(e, rc, "no random bytes");
        goto out;
    }
    aadlen = aad_build(aad, "secretref-wrap-1", b, key_id);
    if (!gcm_run(1, kek, buf + OFF_WRAP_NONCE, aad, aadlen, dk, DK_LEN,
                 buf + OFF_WRAPPED, buf + OFF_WRAP_TAG))
        goto fail;
    aadlen = aad_build(aad, "secretref-data-1", b, 0);
    if (!gcm_run(1, dk, buf + OFF_DATA_NONCE, aad, aadlen, plaintext, len,
                 buf + OFF_DATA, buf + OFF_DATA + len))
        goto fail;
    rc = SR_OK;
    goto out;
fail:
    sr_error_set(e, rc, "sealing failed");
    sr_error_add_openssl(e);
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    if (rc != SR_OK) {
        free(buf);
    } else {
        *sealed = buf;
        *sealed_len = OVERHEAD + len;
    }
    return rc;
}

int sr_sealed_key_id(const unsigned char *sealed, size_t sealed_len)
{
    if (!sealed || sealed_len < OVERHEAD || sealed[0] != FORMAT)
        return -1;
    return (int)get_u32(sealed + OFF_KEY_ID);
}

/* Unwraps the data key of sealed, checking the binding and key id. */
static sr_rc unwrap(const unsigned char kek[SR_KEK_LEN],
                    const struct sr_seal_binding *b,
                    const unsigned char *sealed, size_t sealed_len,
                    unsigned char dk[DK_LEN], struct sr_error *e)
{
    unsigned char aad[AAD_MAX], tag[TAG_LEN];
    int key_id = sr_sealed_key_id(sealed, sealed_len);
    size_t aadlen;

    if (key_id < 0)
        return sr_error_set(e, SR_ERR_TAMPER,
                            "sealed value is truncated or of unknown format");
    aadlen = aad_build(aad, "secretref-wrap-1", b, key_id);
    memcpy(tag, sealed + OFF_WRAP_TAG, TAG_LEN);
    if (!gcm_run(0, kek, sealed + OFF_WRAP_NONCE, aad, aadlen,
                 sealed + OFF_WRAPPED, DK_LEN, dk, tag)) {
        OPENSSL_cleanse(dk, DK_LEN);
        return sr_error_set(e, SR_ERR_TAMPER,
                            "sealed data key failed authentication (changed, "
                            "or moved from another row)");
    }
    return SR_OK;
}

sr_rc sr_unseal(const unsigned char kek[SR_KEK_LEN],
                const struct sr_seal_binding *b, const unsigned char *sealed,
                size_t sealed_len, sr_secret **out, struct sr_error *e)
{
    sr_rc rc;
    unsigned char dk[DK_LEN], aad[AAD_MAX], tag[TAG_LEN];
    sr_secret *plain = NULL;
    size_t aadlen, len;

    *out = NULL;
    if (b->has_public < 0)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    if ((rc = unwrap(kek, b, sealed, sealed_len, dk, e)) != SR_OK)
        return rc;
    len = sealed_len - OVERHEAD;
    if (sr_secret_new(len, &plain) != SR_OK) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    aadlen = aad_build(aad, "secretref-data-1", b, 0);
    memcpy(tag, sealed + OFF_DATA + len, TAG_LEN);
    if (!gcm_run(0, dk, sealed + OFF_DATA_NONCE, aad, aadlen,
                 sealed + OFF_DATA, len, plain->data, tag)) {
        rc = sr_error_set(e, SR_ERR_TAMPER,
                          "sealed secret failed authentication (changed, or "
                          "moved from another row)");
        goto out;
    }
    rc = SR_OK;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    if (rc != SR_OK)
        sr_secret_free(plain);
    else
        *out = plain;
    return rc;
}

sr_rc sr_reseal_wrap(const unsigned char old_kek[SR_KEK_LEN],
                     const unsigned char new_kek[SR_KEK_LEN], int new_key_id,
                     const struct sr_seal_binding *b,
                     const unsigned char *sealed, size_t sealed_len,
                     unsigned char **out, size_t *out_len, struct sr_error *e)
{
    sr_rc rc;
    unsigned char dk[DK_LEN], aad[AAD_MAX], *buf = NULL;
    size_t aadlen;

    *out = NULL;
    if (b->has_public < 0)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    if ((rc = unwrap(old_kek, b, sealed, sealed_len, dk, e)) != SR_OK)
        return rc;
    rc = SR_ERR_NOMEM;
    if (!(buf = malloc(sealed_len))) {
        sr_error_set(e, rc, "out of memory");
        goto out;
    }
    memcpy(buf, sealed, sealed_len);
    put_u32(buf + OFF_KEY_ID, (uint32_t)new_key_id);
    rc = SR_ERR_CRYPTO;
    if (RAND_bytes_ex(sr_libctx(), buf + OFF_WRAP_NONCE, NONCE_LEN, 0) != 1) {
        sr_error_set(e, rc, "no random bytes");
        goto out;
    }
    aadlen = aad_build(aad, "secretref-wrap-1", b, new_key_id);
    if (!gcm_run(1, new_kek, buf + OFF_WRAP_NONCE, aad, aadlen, dk, DK_LEN,
                 buf + OFF_WRAPPED, buf + OFF_WRAP_TAG)) {
        sr_error_set(e, rc, "re-wrapping failed");
        goto out;
    }
    rc = SR_OK;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    if (rc != SR_OK) {
        free(buf);
    } else {
        *out = buf;
        *out_len = sealed_len;
    }
    return rc;
}

/* The check value is an ordinary sealed value of a constant, bound to a
 * reserved row that no reference can have. */
static const char check_plain[] = "secretref check value";

static void check_binding(struct sr_seal_binding *b, const char *store_id)
{
    memset(b, 0, sizeof(*b));
    b->store_id = store_id;
    b->ref_uuid = "(key check)";
    b->kind = 0;
    b->version = 0;
    b->env_id = 0;
}

sr_rc sr_check_value_make(const unsigned char kek[SR_KEK_LEN], int key_id,
                          const char *store_id, unsigned char **out,
                          size_t *out_len, struct sr_error *e)
{
    struct sr_seal_binding b;

    check_binding(&b, store_id);
    return sr_seal(kek, key_id, &b, (const unsigned char *)check_plain,
                   sizeof(check_plain), out, out_len, e);
}

sr_rc sr_check_value_verify(const unsigned char kek[SR_KEK_LEN], int key_id,
                            const char *store_id, const unsigned char *value,
                            size_t len, struct sr_error *e)
{
    struct sr_seal_binding b;
    sr_secret *plain = NULL;
    sr_rc rc;

    check_binding(&b, store_id);
    if (sr_sealed_key_id(value, len) != key_id)
        return sr_error_set(e, SR_ERR_TAMPER,
                            "the key ring's check value is damaged");
    rc = sr_unseal(kek, &b, value, len, &plain, NULL);
    if (rc == SR_OK && (plain->len != sizeof(check_plain) ||
                        memcmp(plain->data, check_plain, plain->len) != 0))
        rc = SR_ERR_TAMPER;
    sr_secret_free(plain);
    if (rc != SR_OK)
        return sr_error_set(e, SR_ERR_WRONG_KEY,
                            "wrong encryption key: it does not open this "
                            "store");
    return SR_OK;
}
