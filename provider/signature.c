/* SPDX-License-Identifier: Apache-2.0 */
/* Signatures: RSA (PKCS#1 v1.5 and PSS), ECDSA and Ed25519, made by the
 * store's key core. A "shadow" context of the default provider over the
 * public key carries the same parameters: it checks them, answers the
 * AlgorithmIdentifier exactly as the default provider would (X.509, CMS
 * and TLS need it), and verifies. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

struct sig_ctx {
    struct prov_ctx *ctx;
    enum prov_alg alg;
    struct prov_key *key;
    EVP_PKEY_CTX *shadow; /* default provider, public key, verify */
    EVP_PKEY_CTX *local;  /* default provider, local private key, sign */
    EVP_MD_CTX *md_ctx;   /* the digest of a digest-sign or verify */
    EVP_MD_CTX *ed_ctx;   /* Ed25519 one-shot verify */
    int signing;
    /* The parameters, as the key core takes them. */
    int pad;              /* RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
    int saltlen;
    char md[NAME_MAX_LEN], mgf1[NAME_MAX_LEN];
};

static void *sig_newctx(void *provctx, const char *propq, enum prov_alg alg)
{
    struct sig_ctx *s = calloc(1, sizeof(*s));

    (void)propq;
    if (!s)
        return NULL;
    s->ctx = provctx;
    s->alg = alg;
    s->pad = RSA_PKCS1_PADDING;
    s->saltlen = RSA_PSS_SALTLEN_AUTO;
    return s;
}

static void *rsa_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, propq, PROV_RSA);
}
static void *ecdsa_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, propq, PROV_EC);
}
static void *ed25519_newctx(void *provctx, const char *propq)
{
    return sig_newctx(provctx, propq, PROV_ED25519);
}

static void sig_reset(struct sig_ctx *s)
{
    prov_key_free(s->key);
    EVP_PKEY_CTX_free(s->shadow);
    EVP_PKEY_CTX_free(s->local);
    EVP_MD_CTX_free(s->md_ctx);
    EVP_MD_CTX_free(s->ed_ctx);
    s->key = NULL;
    s->shadow = s->local = NULL;
    s->md_ctx = s->ed_ctx = NULL;
}

static void sig_freectx(void *vctx)
{
    struct sig_ctx *s = vctx;

    if (!s)
        return;
    sig_reset(s);
    free(s);
}

static void *sig_dupctx(void *vctx)
{
    const struct sig_ctx *s = vctx;
    struct sig_ctx *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    *d = *s;
    d->key = prov_key_ref(s->key);
    d->shadow = d->local = NULL;
    d->md_ctx = d->ed_ctx = NULL;
    if ((s->shadow && !(d->shadow = EVP_PKEY_CTX_dup(s->shadow))) ||
        (s->local && !(d->local = EVP_PKEY_CTX_dup(s->local))) ||
        (s->md_ctx && (!(d->md_ctx = EVP_MD_CTX_new()) ||
                       !EVP_MD_CTX_copy_ex(d->md_ctx, s->md_ctx))) ||
        (s->ed_ctx && (!(d->ed_ctx = EVP_MD_CTX_new()) ||
                       !EVP_MD_CTX_copy_ex(d->ed_ctx, s->ed_ctx)))) {
        sig_freectx(d);
        return NULL;
    }
    return d;
}

/* Records the parameters the key core needs, then hands all of them to
 * the shadow (and the local context), which checks them. */
static int sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct sig_ctx *s = vctx;
    const OSSL_PARAM *p;
    const char *text;

    if (!params)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST))) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &text) ||
            strlen(text) >= NAME_MAX_LEN)
            return 0;
        memcpy(s->md, text, strlen(text) + 1);
    }
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_SIGNATURE_PARAM_MGF1_DIGEST))) {
        if (!OSSL_PARAM_get_utf8_string_ptr(p, &text) ||
            strlen(text) >= NAME_MAX_LEN)
            return 0;
        memcpy(s->mgf1, text, strlen(text) + 1);
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE))) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &text))
                return 0;
            if (strcmp(text, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
                s->pad = RSA_PKCS1_PADDING;
            else if (strcmp(text, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
                s->pad = RSA_PKCS1_PSS_PADDING;
            else
                return 0;
        } else if (!OSSL_PARAM_get_int(p, &s->pad) ||
                   (s->pad != RSA_PKCS1_PADDING &&
                    s->pad != RSA_PKCS1_PSS_PADDING)) {
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params,
                                     OSSL_SIGNATURE_PARAM_PSS_SALTLEN))) {
        if (p->data_type == OSSL_PARAM_UTF8_STRING) {
            if (!OSSL_PARAM_get_utf8_string_ptr(p, &text))
                return 0;
            if (strcmp(text, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
                s->saltlen = RSA_PSS_SALTLEN_DIGEST;
            else if (strcmp(text, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0)
                s->saltlen = RSA_PSS_SALTLEN_MAX;
            else if (strcmp(text, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0)
                s->saltlen = RSA_PSS_SALTLEN_AUTO;
            else
                s->saltlen = (int)strtol(text, NULL, 10);
        } else if (!OSSL_PARAM_get_int(p, &s->saltlen)) {
            return 0;
        }
    }
    if (s->shadow && EVP_PKEY_CTX_set_params(s->shadow, params) != 1)
        return 0;
    if (s->local && EVP_PKEY_CTX_set_params(s->local, params) != 1)
        return 0;
    return 1;
}

static int sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct sig_ctx *s = vctx;

    if (!s->shadow)
        return 0;
    return EVP_PKEY_CTX_get_params(s->shadow, params) == 1;
}

/* The default provider's tables describe exactly what we take. */
static const OSSL_PARAM *shadow_table(enum prov_alg alg, int settable)
{
    static const OSSL_PARAM *cache[2][PROV_ED25519 + 1];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static const char *const names[] = {
        [PROV_RSA] = "RSA", [PROV_EC] = "ECDSA", [PROV_ED25519] = "ED25519"};
    EVP_SIGNATURE *sig;

    pthread_mutex_lock(&lock);
    if (!cache[settable][alg] &&
        (sig = EVP_SIGNATURE_fetch(sr_libctx(), names[alg],
                                   "provider=default"))) {
        cache[settable][alg] = settable
                                   ? EVP_SIGNATURE_settable_ctx_params(sig)
                                   : EVP_SIGNATURE_gettable_ctx_params(sig);
        EVP_SIGNATURE_free(sig);
    }
    pthread_mutex_unlock(&lock);
    return cache[settable][alg];
}

#define TABLES(prefix, alg)                                                  \
    static const OSSL_PARAM *prefix##_settable(void *c, void *p)             \
    {                                                                        \
        (void)c, (void)p;                                                    \
        return shadow_table(alg, 1);                                         \
    }                                                                        \
    static const OSSL_PARAM *prefix##_gettable(void *c, void *p)             \
    {                                                                        \
        (void)c, (void)p;                                                    \
        return shadow_table(alg, 0);                                         \
    }
TABLES(rsa, PROV_RSA)
TABLES(ecdsa, PROV_EC)
static const OSSL_PARAM *ed25519_settable(void *c, void *p)
{
    (void)c, (void)p;
    return shadow_table(PROV_ED25519, 1);
}

/* A shadow made ahead: a verify context over the key's public half in
 * the default provider, with a digest set ("" for none). */
struct prov_shadow {
    char md[NAME_MAX_LEN];
    EVP_PKEY_CTX *ctx;
};

static void shadow_free(struct prov_shadow *sh)
{
    if (sh) {
        EVP_PKEY_CTX_free(sh->ctx);
        free(sh);
    }
}

void prov_shadows_free(struct prov_key *key)
{
    size_t i;

    for (i = 0; i < PROV_SHADOWS; i++)
        shadow_free(atomic_load(&key->shadows[i]));
}

static struct prov_shadow *shadow_make(struct prov_key *key, const char *md)
{
    struct prov_shadow *sh = calloc(1, sizeof(*sh));
    OSSL_PARAM params[2];

    if (!sh)
        return NULL;
    memcpy(sh->md, md, strlen(md) + 1);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST,
                                                 (char *)md, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!(sh->ctx = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), key->pub,
                                               "provider=default")) ||
        EVP_PKEY_verify_init(sh->ctx) != 1 ||
        (*md && EVP_PKEY_CTX_set_params(sh->ctx, params) != 1)) {
        shadow_free(sh);
        return NULL;
    }
    return sh;
}

/* The shadow for a new operation: a copy of the one made for this key and
 * digest, made on first use. In OpenSSL 3.0 copying costs a fraction of
 * EVP_PKEY_CTX_new_from_pkey, EVP_PKEY_verify_init and setting a digest.
 * A published shadow is never changed; once PROV_SHADOWS digests are
 * kept, others get a shadow of their own each time. */
static EVP_PKEY_CTX *shadow_new(struct prov_key *key, const char *md)
{
    struct prov_shadow *sh, *made = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t i;

    for (i = 0; i < PROV_SHADOWS; i++) {
        if (!(sh = atomic_load(&key->shadows[i]))) {
            if (!made && !(made = shadow_make(key, md)))
                return NULL;
            /* Another thread may publish one here first. */
            if (atomic_compare_exchange_strong(&key->shadows[i], &sh, made)) {
                sh = made;
                made = NULL;
            }
        }
        if (strcmp(sh->md, md) == 0)
            break;
    }
    if (i < PROV_SHADOWS) {
        ctx = EVP_PKEY_CTX_dup(sh->ctx);
    } else if (made || (made = shadow_make(key, md))) {
        ctx = made->ctx;
        made->ctx = NULL;
    }
    shadow_free(made);
    return ctx;
}

/* A digest, fetched once per name in the key core's context; the caller
 * frees its reference. */
static EVP_MD *md_fetch(const char *name)
{
    static struct {
        char name[NAME_MAX_LEN];
        EVP_MD *md;
    } cache[8];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    EVP_MD *md = NULL;
    size_t i, n = sizeof(cache) / sizeof(cache[0]);

    if (strlen(name) >= NAME_MAX_LEN)
        return NULL;
    pthread_mutex_lock(&lock);
    for (i = 0; i < n && cache[i].md; i++)
        if (strcmp(cache[i].name, name) == 0)
            break;
    /* cppcheck-suppress arrayIndexOutOfBounds ; i < n is tested first */
    if (i < n && cache[i].md) {
        md = EVP_MD_up_ref(cache[i].md) ? cache[i].md : NULL;
    } else if ((md = EVP_MD_fetch(sr_libctx(), name, "provider=default")) &&
               i < n && EVP_MD_up_ref(md)) {
        memcpy(cache[i].name, name, strlen(name) + 1);
        cache[i].md = md;
    }
    pthread_mutex_unlock(&lock);
    return md;
}

/* Sets the key and makes the shadow (and, for a local private key, the
 * local signing context). */
static int sig_init(struct sig_ctx *s, void *keydata, const char *mdname,
                    const OSSL_PARAM params[], int signing, int digest)
{
    struct prov_key *key = keydata;
    OSSL_PARAM md_param[2];

    sig_reset(s);
    if (!key || !key->pub)
        return 0;
    if (signing && !prov_key_is_private(key)) {
        prov_raise(s->ctx, SR_ERR_USAGE, "signing needs a private key");
        return 0;
    }
    s->key = prov_key_ref(key);
    s->signing = signing;
    s->md[0] = s->mgf1[0] = '\0';
    s->pad = RSA_PKCS1_PADDING;
    s->saltlen = RSA_PSS_SALTLEN_AUTO;
    if (s->alg == PROV_ED25519) {
        if (mdname && *mdname)
            return 0;
        if (!signing && (!(s->ed_ctx = EVP_MD_CTX_new()) ||
                         EVP_DigestVerifyInit_ex(s->ed_ctx, NULL, NULL,
                                                 sr_libctx(), NULL, key->pub,
                                                 NULL) != 1))
            return 0;
        return 1;
    }
    if (digest) {
        if (!mdname || !*mdname)
            mdname = "SHA256";
        if (strlen(mdname) >= NAME_MAX_LEN)
            return 0;
        memcpy(s->md, mdname, strlen(mdname) + 1);
    }
    /* The shadow comes with the digest set. */
    if (!(s->shadow = shadow_new(key, s->md)))
        return 0;
    if (signing && key->local && !key->sk &&
        (!(s->local = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), key->local,
                                                 "provider=default")) ||
         EVP_PKEY_sign_init(s->local) != 1))
        return 0;
    if (digest) {
        md_param[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_SIGNATURE_PARAM_DIGEST, (char *)mdname, 0);
        md_param[1] = OSSL_PARAM_construct_end();
        if ((s->local && EVP_PKEY_CTX_set_params(s->local, md_param) != 1) ||
            !(s->md_ctx = EVP_MD_CTX_new()))
            return 0;
    }
    if (!sig_set_ctx_params(s, params))
        return 0;
    if (digest) {
        EVP_MD *md = md_fetch(s->md);
        int ok = md && EVP_DigestInit_ex2(s->md_ctx, md, NULL) == 1;
        EVP_MD_free(md);
        return ok;
    }
    return 1;
}

static int sign_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return sig_init(vctx, key, NULL, params, 1, 0);
}
static int verify_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    return sig_init(vctx, key, NULL, params, 0, 0);
}
static int digest_sign_init(void *vctx, const char *mdname, void *key,
                            const OSSL_PARAM params[])
{
    return sig_init(vctx, key, mdname, params, 1, 1);
}
static int digest_verify_init(void *vctx, const char *mdname, void *key,
                              const OSSL_PARAM params[])
{
    return sig_init(vctx, key, mdname, params, 0, 1);
}

/* Signs tbs (a digest, or an Ed25519 message) with the key core, or with
 * a local private key. */
static int sign_with_key(struct sig_ctx *s, unsigned char *sig,
                         size_t *siglen, size_t sigsize,
                         const unsigned char *tbs, size_t tbslen)
{
    sr_sign_params params;
    size_t len = sigsize;
    sr_rc rc;

    if (!s->key || !s->signing)
        return 0;
    if (!s->key->sk) {
        if (s->alg == PROV_ED25519) {
            EVP_MD_CTX *md = EVP_MD_CTX_new();
            int ok = md &&
                     EVP_DigestSignInit_ex(md, NULL, NULL, sr_libctx(), NULL,
                                           s->key->local, NULL) == 1 &&
                     EVP_DigestSign(md, sig, siglen, tbs, tbslen) == 1;
            EVP_MD_CTX_free(md);
            return ok;
        }
        *siglen = sigsize;
        return EVP_PKEY_sign(s->local, sig, siglen, tbs, tbslen) == 1;
    }
    memset(&params, 0, sizeof(params));
    if (!sig)
        return sr_key_sign(s->key->sk, &params, NULL, 0, NULL, siglen) ==
               SR_OK;
    params.digest = s->md[0] ? s->md : NULL;
    if (s->alg == PROV_RSA) {
        params.padding = s->pad == RSA_PKCS1_PSS_PADDING ? SR_PAD_PSS
                                                          : SR_PAD_PKCS1;
        params.mgf1_digest = s->mgf1[0] ? s->mgf1 : NULL;
        /* Signing has no "auto": it means the maximum, as OpenSSL does. */
        params.salt_len = s->saltlen == RSA_PSS_SALTLEN_AUTO
                              ? RSA_PSS_SALTLEN_MAX
                              : s->saltlen;
    }
    rc = sr_key_sign(s->key->sk, &params, tbs, tbslen, sig, &len);
    if (rc != SR_OK) {
        prov_raise(s->ctx, rc, "%s: %s", sr_key_name(s->key->sk),
                   sr_key_errmsg(s->key->sk));
        return 0;
    }
    *siglen = len;
    return 1;
}

static int sig_sign(void *vctx, unsigned char *sig, size_t *siglen,
                    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *s = vctx;

    if (!sig && s->key) {
        *siglen = (size_t)EVP_PKEY_get_size(s->key->pub);
        return 1;
    }
    return sign_with_key(s, sig, siglen, sigsize, tbs, tbslen);
}

static int sig_verify(void *vctx, const unsigned char *sig, size_t siglen,
                      const unsigned char *tbs, size_t tbslen)
{
    struct sig_ctx *s = vctx;

    return s->shadow && EVP_PKEY_verify(s->shadow, sig, siglen, tbs,
                                        tbslen) == 1;
}

static int digest_update(void *vctx, const unsigned char *data, size_t len)
{
    struct sig_ctx *s = vctx;

    return s->md_ctx && EVP_DigestUpdate(s->md_ctx, data, len) == 1;
}

static int digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen,
                             size_t sigsize)
{
    struct sig_ctx *s = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!s->md_ctx || !s->key)
        return 0;
    /* Asked for the size first: the context is duplicated for the real
     * call (EVP_DigestSignFinal), so this one is not finalised. */
    if (!sig) {
        *siglen = (size_t)EVP_PKEY_get_size(s->key->pub);
        return 1;
    }
    if (EVP_DigestFinal_ex(s->md_ctx, digest, &dlen) != 1)
        return 0;
    return sign_with_key(s, sig, siglen, sigsize, digest, dlen);
}

static int digest_verify_final(void *vctx, const unsigned char *sig,
                               size_t siglen)
{
    struct sig_ctx *s = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!s->md_ctx || EVP_DigestFinal_ex(s->md_ctx, digest, &dlen) != 1)
        return 0;
    return sig_verify(s, sig, siglen, digest, dlen);
}

/* Ed25519 signs and verifies the whole message in one call. */
static int ed25519_digest_sign(void *vctx, unsigned char *sig, size_t *siglen,
                               size_t sigsize, const unsigned char *tbs,
                               size_t tbslen)
{
    struct sig_ctx *s = vctx;

    if (!sig) {
        *siglen = 64;
        return 1;
    }
    if (sigsize < 64)
        return 0;
    return sign_with_key(s, sig, siglen, sigsize, tbs, tbslen);
}

static int ed25519_digest_verify(void *vctx, const unsigned char *sig,
                                 size_t siglen, const unsigned char *tbs,
                                 size_t tbslen)
{
    struct sig_ctx *s = vctx;

    return s->ed_ctx &&
           EVP_DigestVerify(s->ed_ctx, sig, siglen, tbs, tbslen) == 1;
}

/* Ed25519 has no shadow; its AlgorithmIdentifier is fixed. */
static int ed25519_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    /* SEQUENCE { OID 1.3.101.112 } */
    static const unsigned char aid[] = {0x30, 0x05, 0x06, 0x03,
                                        0x2b, 0x65, 0x70};
    OSSL_PARAM *p;

    (void)vctx;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p && !OSSL_PARAM_set_octet_string(p, aid, sizeof(aid)))
        return 0;
    return 1;
}

static int ed25519_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    (void)vctx, (void)params;
    return 1;
}

static const OSSL_PARAM *ed25519_gettable_fixed(void *c, void *p)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_END,
    };

    (void)c, (void)p;
    return params;
}

#define COMMON_ENTRIES                                                       \
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx},              \
        {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx}

/* RSA and ECDSA take the same functions; only the context's algorithm and
 * the parameter tables differ. */
#define HASH_AND_SIGN_TABLE(table, prefix)                                   \
    const OSSL_DISPATCH table[] = {                                          \
        {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))prefix##_newctx},       \
        COMMON_ENTRIES,                                                      \
        {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sign_init},          \
        {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign},                \
        {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))verify_init},      \
        {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))sig_verify},            \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,                               \
         (void (*)(void))digest_sign_init},                                  \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,                             \
         (void (*)(void))digest_update},                                     \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,                              \
         (void (*)(void))digest_sign_final},                                 \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,                             \
         (void (*)(void))digest_verify_init},                                \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE,                           \
         (void (*)(void))digest_update},                                     \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL,                            \
         (void (*)(void))digest_verify_final},                               \
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,                                 \
         (void (*)(void))sig_get_ctx_params},                                \
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,                            \
         (void (*)(void))prefix##_gettable},                                 \
        {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,                                 \
         (void (*)(void))sig_set_ctx_params},                                \
        {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,                            \
         (void (*)(void))prefix##_settable},                                 \
        {0, NULL},                                                           \
    }

HASH_AND_SIGN_TABLE(prov_rsa_signature, rsa);
HASH_AND_SIGN_TABLE(prov_ecdsa_signature, ecdsa);

const OSSL_DISPATCH prov_ed25519_signature[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ed25519_newctx},
    COMMON_ENTRIES,
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))digest_sign_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))ed25519_digest_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT,
     (void (*)(void))digest_verify_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY,
     (void (*)(void))ed25519_digest_verify},
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS,
     (void (*)(void))ed25519_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
     (void (*)(void))ed25519_gettable_fixed},
    {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
     (void (*)(void))ed25519_set_ctx_params},
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
     (void (*)(void))ed25519_settable},
    {0, NULL},
};
