/* SPDX-License-Identifier: Apache-2.0 */
/* The store loader for "secretref:NAME": a certificate reference's key,
 * by reference, and its certificate when it has one. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    struct prov_ctx *ctx;
    char *name;
    int expect; /* OSSL_STORE_INFO_*, 0 for anything */
    int step;   /* 0: the key, 1: the certificate, 2: done */
};

static void *loader_open(void *provctx, const char *uri)
{
    struct loader *l;
    char *name = NULL;
    sr_rc rc;

    if ((rc = sr_uri_name(uri, &name)) != SR_OK) {
        prov_raise(provctx, rc, "%s: not a secretref:NAME URI", uri);
        return NULL;
    }
    if (!(l = calloc(1, sizeof(*l)))) {
        free(name);
        return NULL;
    }
    l->ctx = provctx;
    l->name = name;
    return l;
}

static const OSSL_PARAM *loader_settable(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_END,
    };

    (void)provctx;
    return params;
}

static int loader_set_params(void *loaderctx, const OSSL_PARAM params[])
{
    struct loader *l = loaderctx;
    const OSSL_PARAM *p;

    /* Others (the input type openssl passes for -keyform) do not apply. */
    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);
    if (p && !OSSL_PARAM_get_int(p, &l->expect))
        return 0;
    return 1;
}

static int pass_key(struct loader *l, OSSL_CALLBACK *cb, void *cbarg)
{
    struct prov_key *key = NULL;
    sr_key *sk = NULL;
    OSSL_PARAM params[4];
    int type = OSSL_OBJECT_PKEY, ok = 0;

    if (prov_key_open_ref(l->ctx, l->name, &sk) != SR_OK)
        return 0;
    if (!(key = prov_key_from_store(l->ctx, sk))) {
        prov_raise(l->ctx, SR_ERR_UNSUPPORTED, "%s: unsupported key",
                   l->name);
        goto out;
    }
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_OBJECT_PARAM_DATA_TYPE, (char *)prov_alg_name(key->alg), 0);
    /* The reference is the key object's address; our keymgmt's load
     * takes a reference to it. */
    params[2] = OSSL_PARAM_construct_octet_string(
        OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(struct prov_key *));
    params[3] = OSSL_PARAM_construct_end();
    ok = cb(params, cbarg);
out:
    prov_key_free(key);
    sr_key_free(sk);
    return ok;
}

/* The leaf certificate, from the reference's metadata: no key needed. */
static int pass_certificate(struct loader *l, OSSL_CALLBACK *cb, void *cbarg,
                            int *found)
{
    sr_ref_info info;
    unsigned char *der = NULL;
    X509 *cert = NULL;
    BIO *bio = NULL;
    OSSL_PARAM params[3];
    int type = OSSL_OBJECT_CERT, len, ok = 0;

    *found = 0;
    if (prov_ref_lookup(l->ctx, l->name, &info) != SR_OK)
        return 0;
    if (!info.cert_chain_pem) {
        ok = 1;
        goto out;
    }
    if (!(bio = BIO_new_mem_buf(info.cert_chain_pem, -1)) ||
        !(cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) ||
        (len = i2d_X509(cert, &der)) <= 0) {
        prov_raise(l->ctx, SR_ERR_DB, "%s: the stored certificate is damaged",
                   l->name);
        goto out;
    }
    *found = 1;
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der,
                                                  (size_t)len);
    params[2] = OSSL_PARAM_construct_end();
    ok = cb(params, cbarg);
out:
    OPENSSL_free(der);
    X509_free(cert);
    BIO_free(bio);
    sr_ref_info_clear(&info);
    return ok;
}

static int loader_load(void *loaderctx, OSSL_CALLBACK *object_cb,
                       void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb,
                       void *pw_cbarg)
{
    struct loader *l = loaderctx;
    int found = 0;

    (void)pw_cb, (void)pw_cbarg;
    while (l->step < 2) {
        int step = l->step++;
        if (step == 0 &&
            (l->expect == 0 || l->expect == OSSL_STORE_INFO_PKEY ||
             l->expect == OSSL_STORE_INFO_PUBKEY))
            return pass_key(l, object_cb, object_cbarg);
        if (step == 1 &&
            (l->expect == 0 || l->expect == OSSL_STORE_INFO_CERT)) {
            if (!pass_certificate(l, object_cb, object_cbarg, &found))
                return 0;
            if (found)
                return 1;
        }
    }
    return 0;
}

static int loader_eof(void *loaderctx)
{
    const struct loader *l = loaderctx;

    return l->step >= 2;
}

static int loader_close(void *loaderctx)
{
    struct loader *l = loaderctx;

    if (l) {
        free(l->name);
        free(l);
    }
    return 1;
}

/* A store key's private half is never exported to another provider:
 * OpenSSL then loads it through our own keymgmt instead. */
static int loader_export_object(void *loaderctx, const void *reference,
                                size_t reference_sz, OSSL_CALLBACK *cb,
                                void *cbarg)
{
    (void)loaderctx, (void)reference, (void)reference_sz, (void)cb,
        (void)cbarg;
    return 0;
}

const OSSL_DISPATCH prov_store_loader[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))loader_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))loader_settable},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))loader_set_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))loader_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))loader_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))loader_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))loader_export_object},
    {0, NULL},
};
