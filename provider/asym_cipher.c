/* SPDX-License-Identifier: Apache-2.0 */
/* RSA decryption (PKCS#1 v1.5 and OAEP) by the key core; encryption with
 * the public key by the default provider. TLS 1.2's RSA key transport
 * padding is not offered: servers with a secretref RSA key use (EC)DHE
 * suites, as TLS 1.3 always does. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

struct cipher_ctx {
    struct prov_ctx *ctx;
    struct prov_key *key;
    EVP_PKEY_CTX *shadow; /* default provider: public key (encrypt) or
                             local private key (decrypt) */
    int decrypting;
    int pad;
    char oaep_md[64], mgf1[64];
    unsigned char *label;
    size_t label_len;
};

static void *cipher_newctx(void *provctx)
{
    struct cipher_ctx *c = calloc(1, sizeof(*c));

    if (c) {
        c->ctx = provctx;
        c->pad = RSA_PKCS1_PADDING;
    }
    return c;
}

static void cipher_reset(struct cipher_ctx *c)
{
    prov_key_free(c->key);
    EVP_PKEY_CTX_free(c->shadow);
    free(c->label);
    c->key = NULL;
    c->shadow = NULL;
    c->label = NULL;
    c->label_len = 0;
}

static void cipher_freectx(void *vctx)
{
    struct cipher_ctx *c = vctx;

    if (!c)
        return;
    cipher_reset(c);
    free(c);
}

static void *cipher_dupctx(void *vctx)
{
    const struct cipher_ctx *c = vctx;
    struct cipher_ctx *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    *d = *c;
    d->key = prov_key_ref(c->key);
    d->shadow = NULL;
    d->label = NULL;
    if ((c->shadow && !(d->shadow = EVP_PKEY_CTX_dup(c->shadow))) ||
        (c->label && !(d->label = malloc(c->label_len)))) {
        cipher_freectx(d);
        return NULL;
    }
    if (c->label)
        memcpy(d->label, c->label, c->label_len);
    return d;
}

static int copy_name(char *dst, size_t size, const OSSL_PARAM *p)
{
    const char *text;

    if (!OSSL_PARAM_get_utf8_string_ptr(p, &text) || strlen(text) >= size)
        return 0;
    memcpy(dst, text, strlen(text) + 1);
    return 1;
}

static int cipher_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct cipher_ctx *c = vctx;
    const OSSL_PARAM *p;
    const char *text;
    void *label = NULL;
    size_t len = 0;

    if (!params)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_ASYM_CIPHER_PARAM_PAD_MODE))) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &text))
                return 0;
            if (strcmp(text, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
                c->pad = RSA_PKCS1_PADDING;
            else if (strcmp(text, OSSL_PKEY_RSA_PAD_MODE_OAEP) == 0)
                c->pad = RSA_PKCS1_OAEP_PADDING;
            else
                return 0;
        } else if (!OSSL_PARAM_get_int(p, &c->pad)) {
            return 0;
        }
        if (c->pad != RSA_PKCS1_PADDING && c->pad != RSA_PKCS1_OAEP_PADDING) {
            prov_raise(c->ctx, SR_ERR_UNSUPPORTED,
                       "RSA padding mode %d is not offered (PKCS#1 v1.5 and "
                       "OAEP are)",
                       c->pad);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) &&
        !copy_name(c->oaep_md, sizeof(c->oaep_md), p))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) &&
        !copy_name(c->mgf1, sizeof(c->mgf1), p))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL))) {
        if (!OSSL_PARAM_get_octet_string(p, &label, 0, &len))
            return 0;
        free(c->label);
        c->label = label;
        c->label_len = len;
    }
    if (c->shadow && EVP_PKEY_CTX_set_params(c->shadow, params) != 1)
        return 0;
    return 1;
}

static int cipher_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct cipher_ctx *c = vctx;

    return c->shadow && EVP_PKEY_CTX_get_params(c->shadow, params) == 1;
}

static const OSSL_PARAM *cipher_table(int settable)
{
    static const OSSL_PARAM *cache[2];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    EVP_ASYM_CIPHER *cipher;

    pthread_mutex_lock(&lock);
    if (!cache[settable] &&
        (cipher = EVP_ASYM_CIPHER_fetch(sr_libctx(), "RSA",
                                        "provider=default"))) {
        cache[settable] = settable
                              ? EVP_ASYM_CIPHER_settable_ctx_params(cipher)
                              : EVP_ASYM_CIPHER_gettable_ctx_params(cipher);
        EVP_ASYM_CIPHER_free(cipher);
    }
    pthread_mutex_unlock(&lock);
    return cache[settable];
}

static const OSSL_PARAM *cipher_settable(void *c, void *p)
{
    (void)c, (void)p;
    return cipher_table(1);
}
static const OSSL_PARAM *cipher_gettable(void *c, void *p)
{
    (void)c, (void)p;
    return cipher_table(0);
}

static int cipher_init(struct cipher_ctx *c, void *keydata,
                       const OSSL_PARAM params[], int decrypting)
{
    struct prov_key *key = keydata;
    EVP_PKEY *pkey;

    cipher_reset(c);
    c->pad = RSA_PKCS1_PADDING;
    c->oaep_md[0] = c->mgf1[0] = '\0';
    if (!key || !key->pub || (decrypting && !prov_key_is_private(key)))
        return 0;
    c->key = prov_key_ref(key);
    c->decrypting = decrypting;
    /* The shadow takes every parameter (and so checks it); it does the
     * work itself only for a public or local key. */
    pkey = decrypting && !key->sk ? key->local : key->pub;
    if (!(c->shadow = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), pkey,
                                                 "provider=default")) ||
        (decrypting && !key->sk ? EVP_PKEY_decrypt_init(c->shadow)
                                : EVP_PKEY_encrypt_init(c->shadow)) != 1)
        return 0;
    return cipher_set_ctx_params(c, params);
}

static int encrypt_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return cipher_init(vctx, key, params, 0);
}
static int decrypt_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return cipher_init(vctx, key, params, 1);
}

static int cipher_encrypt(void *vctx, unsigned char *out, size_t *outlen,
                          size_t outsize, const unsigned char *in,
                          size_t inlen)
{
    struct cipher_ctx *c = vctx;

    *outlen = outsize;
    return c->shadow && !c->decrypting &&
           EVP_PKEY_encrypt(c->shadow, out, outlen, in, inlen) == 1;
}

static int cipher_decrypt(void *vctx, unsigned char *out, size_t *outlen,
                          size_t outsize, const unsigned char *in,
                          size_t inlen)
{
    struct cipher_ctx *c = vctx;
    sr_decrypt_params params;
    size_t len = outsize;
    sr_rc rc;

    if (!c->key || !c->decrypting)
        return 0;
    if (!c->key->sk) {
        *outlen = outsize;
        return EVP_PKEY_decrypt(c->shadow, out, outlen, in, inlen) == 1;
    }
    if (!out) {
        *outlen = (size_t)EVP_PKEY_get_size(c->key->pub);
        return 1;
    }
    memset(&params, 0, sizeof(params));
    params.padding = c->pad == RSA_PKCS1_OAEP_PADDING ? SR_PAD_OAEP
                                                       : SR_PAD_PKCS1;
    params.oaep_digest = c->oaep_md[0] ? c->oaep_md : NULL;
    params.mgf1_digest = c->mgf1[0] ? c->mgf1 : NULL;
    params.label = c->label;
    params.label_len = c->label_len;
    rc = sr_key_decrypt(c->key->sk, &params, in, inlen, out, &len);
    if (rc != SR_OK) {
        prov_raise(c->ctx, rc, "%s: %s", sr_key_name(c->key->sk),
                   sr_key_errmsg(c->key->sk));
        return 0;
    }
    *outlen = len;
    return 1;
}

const OSSL_DISPATCH prov_rsa_asym_cipher[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))cipher_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))cipher_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))cipher_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))encrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))cipher_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))decrypt_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))cipher_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS,
     (void (*)(void))cipher_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS,
     (void (*)(void))cipher_gettable},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS,
     (void (*)(void))cipher_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS,
     (void (*)(void))cipher_settable},
    {0, NULL},
};
