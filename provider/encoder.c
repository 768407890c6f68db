/* SPDX-License-Identifier: Apache-2.0 */
/* The text encoder: "openssl pkey -text" says what the key is and which
 * reference holds it, and prints only its public half. No encoder of ours
 * writes private key material, so "openssl pkey -in secretref:NAME"
 * without -pubout fails. */
#include "provider.h"

#include <openssl/bio.h>
#include <stdio.h>
#include <string.h>

static void *encoder_newctx(void *provctx)
{
    return provctx;
}

static void encoder_freectx(void *ctx)
{
    (void)ctx;
}

static int encoder_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_ALL) != 0;
}

static int write_all(struct prov_ctx *ctx, OSSL_CORE_BIO *out,
                     const char *data, size_t len)
{
    size_t written = 0, n;

    while (written < len) {
        if (!ctx->core_bio_write_ex(out, data + written, len - written, &n) ||
            n == 0)
            return 0;
        written += n;
    }
    return 1;
}

static int text_encode(void *vctx, OSSL_CORE_BIO *out, const void *obj_raw,
                       const OSSL_PARAM obj_abstract[], int selection,
                       OSSL_PASSPHRASE_CALLBACK *cb, void *cbarg)
{
    struct prov_ctx *ctx = vctx;
    const struct prov_key *key = obj_raw;
    char line[512];
    BIO *mem = NULL;
    char *text;
    long len;
    int ok = 0;

    (void)obj_abstract, (void)cb, (void)cbarg, (void)selection;
    if (!key || !key->pub || !ctx->core_bio_write_ex)
        return 0;
    if (key->sk)
        snprintf(line, sizeof(line),
                 "%s key (%d bit%s%s) held by secretref: reference \"%s\", "
                 "version %d\nThe private key stays in the store; none of it "
                 "is printed.\n",
                 prov_alg_name(key->alg), sr_key_bits(key->sk),
                 sr_key_curve(key->sk) ? ", " : "",
                 sr_key_curve(key->sk) ? sr_key_curve(key->sk) : "",
                 sr_key_name(key->sk), sr_key_version(key->sk));
    else
        snprintf(line, sizeof(line), "%s key (%d bit), not from the store\n",
                 prov_alg_name(key->alg), EVP_PKEY_get_bits(key->pub));
    if (!write_all(ctx, out, line, strlen(line)))
        return 0;
    if (!(mem = BIO_new(BIO_s_mem())) ||
        EVP_PKEY_print_public(mem, key->pub, 0, NULL) != 1)
        goto out;
    len = BIO_get_mem_data(mem, &text);
    ok = write_all(ctx, out, text, (size_t)len);
out:
    BIO_free(mem);
    return ok;
}

const OSSL_DISPATCH prov_text_encoder[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))encoder_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))encoder_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION,
     (void (*)(void))encoder_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))text_encode},
    {0, NULL},
};
