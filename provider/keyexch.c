/* SPDX-License-Identifier: Apache-2.0 */
/* ECDH: a store key derives through the key core; a local (ephemeral)
 * key derives with the default provider. Plain ECDH only: no KDF. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct kex_ctx {
    struct prov_ctx *ctx;
    struct prov_key *key, *peer;
};

static void *kex_newctx(void *provctx)
{
    struct kex_ctx *k = calloc(1, sizeof(*k));

    if (k)
        k->ctx = provctx;
    return k;
}

static void kex_freectx(void *vctx)
{
    struct kex_ctx *k = vctx;

    if (!k)
        return;
    prov_key_free(k->key);
    prov_key_free(k->peer);
    free(k);
}

static void *kex_dupctx(void *vctx)
{
    const struct kex_ctx *k = vctx;
    struct kex_ctx *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    *d = *k;
    prov_key_ref(d->key);
    prov_key_ref(d->peer);
    return d;
}

static int kex_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    const OSSL_PARAM *p;
    const char *kdf;

    (void)vctx;
    if (!params)
        return 1;
    /* A KDF is not offered: refuse it rather than ignore it. */
    p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE);
    if (p && (!OSSL_PARAM_get_utf8_string_ptr(p, &kdf) || *kdf))
        return 0;
    return 1;
}

static const OSSL_PARAM *kex_settable(void *c, void *p)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
        OSSL_PARAM_END,
    };

    (void)c, (void)p;
    return params;
}

static int kex_init(void *vctx, void *keydata, const OSSL_PARAM params[])
{
    struct kex_ctx *k = vctx;
    struct prov_key *key = keydata;

    if (!key || !prov_key_is_private(key))
        return 0;
    prov_key_free(k->key);
    k->key = prov_key_ref(key);
    return kex_set_ctx_params(k, params);
}

static int kex_set_peer(void *vctx, void *peerdata)
{
    struct kex_ctx *k = vctx;
    struct prov_key *peer = peerdata;

    if (!peer || !peer->pub)
        return 0;
    prov_key_free(k->peer);
    k->peer = prov_key_ref(peer);
    return 1;
}

static int kex_derive(void *vctx, unsigned char *secret, size_t *secretlen,
                      size_t outlen)
{
    struct kex_ctx *k = vctx;
    unsigned char *der = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    size_t len = outlen;
    int der_len, ok;
    sr_rc rc;

    if (!k->key || !k->peer)
        return 0;
    if (!secret) {
        *secretlen = (size_t)(EVP_PKEY_get_bits(k->key->pub) + 7) / 8;
        return 1;
    }
    if (!k->key->sk) {
        *secretlen = outlen;
        ok = (pctx = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), k->key->local,
                                                "provider=default")) &&
             EVP_PKEY_derive_init(pctx) == 1 &&
             EVP_PKEY_derive_set_peer(pctx, k->peer->pub) == 1 &&
             EVP_PKEY_derive(pctx, secret, secretlen) == 1;
        EVP_PKEY_CTX_free(pctx);
        return ok;
    }
    if ((der_len = i2d_PUBKEY(k->peer->pub, &der)) <= 0)
        return 0;
    rc = sr_key_derive(k->key->sk, der, (size_t)der_len, secret, &len);
    OPENSSL_free(der);
    if (rc != SR_OK) {
        prov_raise(k->ctx, rc, "%s: %s", sr_key_name(k->key->sk),
                   sr_key_errmsg(k->key->sk));
        return 0;
    }
    *secretlen = len;
    return 1;
}

const OSSL_DISPATCH prov_ecdh_keyexch[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))kex_newctx},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))kex_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))kex_dupctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))kex_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))kex_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))kex_derive},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))kex_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))kex_settable},
    {0, NULL},
};
