/* SPDX-License-Identifier: Apache-2.0 */
/* Decoders for a "SECRETREF KEY" PEM file, which holds only a reference,
 * so programs that read a key file (curl --key, nginx) use a certificate
 * reference as well. First PEM to its body (structure "secretref"), then
 * the body, a secretref: URI, to the key by reference. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX ((size_t)16 * 1024)

static const char pem_begin[] = "-----BEGIN " PROV_PEM_NAME "-----";
static const char pem_end[] = "-----END " PROV_PEM_NAME "-----";

static void *decoder_newctx(void *provctx)
{
    return provctx;
}

static void decoder_freectx(void *ctx)
{
    (void)ctx;
}

/* Reads at most max bytes of in; *len is how many. */
static int read_input(struct prov_ctx *ctx, OSSL_CORE_BIO *in, char *buf,
                      size_t max, size_t *len)
{
    size_t n;

    *len = 0;
    if (!ctx->core_bio_read_ex)
        return 0;
    while (*len < max && ctx->core_bio_read_ex(in, buf + *len, max - *len,
                                               &n) &&
           n > 0)
        *len += n;
    return 1;
}

/* Stage 1: a PEM file to the body of its SECRETREF KEY block. Any other
 * PEM is not ours: return 1 with nothing, and other decoders try. */
static int pem_decode(void *vctx, OSSL_CORE_BIO *in, int selection,
                      OSSL_CALLBACK *data_cb, void *data_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct prov_ctx *ctx = vctx;
    char *buf = NULL, *begin, *end, *p, *q;
    unsigned char body[1024];
    OSSL_PARAM params[4];
    int n, ok = 1;
    size_t len;

    (void)selection, (void)pw_cb, (void)pw_cbarg;
    if (!(buf = calloc(1, PEM_MAX + 1)))
        return 0;
    if (!read_input(ctx, in, buf, PEM_MAX, &len))
        goto out;
    if (!(begin = strstr(buf, pem_begin)) ||
        !(end = strstr(begin, pem_end)))
        goto out;
    /* The base64 body, without line breaks. */
    for (p = q = begin + sizeof(pem_begin) - 1; p < end; p++)
        if (*p != '\n' && *p != '\r' && *p != ' ')
            *q++ = *p;
    if ((size_t)(q - (begin + sizeof(pem_begin) - 1)) * 3 / 4 >=
        sizeof(body))
        goto out;
    n = EVP_DecodeBlock(body, (unsigned char *)begin + sizeof(pem_begin) - 1,
                        (int)(q - (begin + sizeof(pem_begin) - 1)));
    if (n <= 0)
        goto out;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    while (n > 0 && body[n - 1] == '\0')
        n--;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA,
                                                  body, (size_t)n);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_OBJECT_PARAM_DATA_STRUCTURE, (char *)"secretref", 0);
    params[2] = OSSL_PARAM_construct_end();
    ok = data_cb(params, data_cbarg);
out:
    free(buf);
    return ok;
}

/* Stage 2: the body, a secretref: URI, to the key by reference. One such
 * decoder exists per key type; each answers only for keys of its type. */
static int reference_decode(void *vctx, OSSL_CORE_BIO *in, int selection,
                            OSSL_CALLBACK *data_cb, void *data_cbarg,
                            OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg,
                            enum prov_alg alg)
{
    struct prov_ctx *ctx = vctx;
    struct prov_key *key = NULL;
    char uri[1025], *name = NULL;
    OSSL_PARAM params[4];
    int type = OSSL_OBJECT_PKEY, ok = 1;
    sr_key *sk = NULL;
    size_t len;

    (void)selection, (void)pw_cb, (void)pw_cbarg;
    if (!read_input(ctx, in, uri, sizeof(uri) - 1, &len))
        return 0;
    uri[len] = '\0';
    if (strlen(uri) != len || sr_uri_name(uri, &name) != SR_OK)
        return 1;
    if (prov_key_open_ref(ctx, name, &sk) != SR_OK) {
        ok = 0;
        goto out;
    }
    if (!(key = prov_key_from_store(ctx, sk)) || key->alg != alg)
        goto out;
    params[0] = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &type);
    params[1] = OSSL_PARAM_construct_utf8_string(
        OSSL_OBJECT_PARAM_DATA_TYPE, (char *)prov_alg_name(alg), 0);
    params[2] = OSSL_PARAM_construct_octet_string(
        OSSL_OBJECT_PARAM_REFERENCE, &key, sizeof(struct prov_key *));
    params[3] = OSSL_PARAM_construct_end();
    ok = data_cb(params, data_cbarg);
out:
    prov_key_free(key);
    sr_key_free(sk);
    free(name);
    return ok;
}

#define REFERENCE_DECODER(fn, alg)                                           \
    static int fn(void *c, OSSL_CORE_BIO *in, int s, OSSL_CALLBACK *cb,      \
                  void *cbarg, OSSL_PASSPHRASE_CALLBACK *pw, void *pwarg)    \
    {                                                                        \
        return reference_decode(c, in, s, cb, cbarg, pw, pwarg, alg);        \
    }
REFERENCE_DECODER(rsa_decode, PROV_RSA)
REFERENCE_DECODER(ec_decode, PROV_EC)
REFERENCE_DECODER(ed25519_decode, PROV_ED25519)

const OSSL_DISPATCH prov_pem_decoder[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))pem_decode},
    {0, NULL},
};

/* One table per key type: the decoder's algorithm says which it makes. */
const OSSL_DISPATCH prov_rsa_reference_decoder[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))rsa_decode},
    {0, NULL},
};
const OSSL_DISPATCH prov_ec_reference_decoder[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))ec_decode},
    {0, NULL},
};
const OSSL_DISPATCH prov_ed25519_reference_decoder[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))ed25519_decode},
    {0, NULL},
};
