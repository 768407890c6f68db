/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 module in-process, against PKCS#11 2.40 (the store and the
 * module as test_pkcs11.h sets them up): single- and multi-part signing
 * with every mechanism, verified by OpenSSL with the public key read
 * through attributes, and the CKR codes around it; RSA decryption of
 * OpenSSL-made ciphertexts; ECDH against OpenSSL's derivation; key
 * generation, certificates and deletion, checked in the store; fork();
 * and eight threads signing at once. */
#include "test_pkcs11.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define THREADS 8
#define SIGNS_PER_THREAD 200

static const unsigned char msg[] =
    "PKCS#11 2.40 conformance: a message signed through C_Sign, and in "
    "three parts through C_SignUpdate and C_SignFinal";
#define MSG_LEN (sizeof(msg) - 1)

/* ---- OpenSSL helpers --------------------------------------------------- */

static int digest(const char *md, const unsigned char *in, size_t len,
                  unsigned char *out, size_t *out_len)
{
    return EVP_Q_digest(NULL, md, NULL, in, len, out, out_len) == 1;
}

/* ECDSA's r || s as DER, for OpenSSL; malloc'd. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t len,
                                size_t *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL, *copy = NULL;
    int n;

    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NULL;
    }
    if ((n = i2d_ECDSA_SIG(es, &der)) > 0 && (copy = malloc((size_t)n))) {
        memcpy(copy, der, (size_t)n);
        *der_len = (size_t)n;
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return copy;
}

/* ---- sign vectors ------------------------------------------------------ */

enum sign_kind {
    S_PKCS1_DI,  /* CKM_RSA_PKCS over a DigestInfo */
    S_PKCS1,     /* CKM_SHAx_RSA_PKCS over the message */
    S_PSS_PRE,   /* CKM_RSA_PKCS_PSS over a digest */
    S_PSS,       /* CKM_SHAx_RSA_PKCS_PSS over the message */
    S_ECDSA_PRE, /* CKM_ECDSA over a digest */
    S_ECDSA,     /* CKM_ECDSA_SHAx over the message */
    S_EDDSA      /* CKM_EDDSA over the message */
};

struct sign_case {
    int key;
    CK_MECHANISM_TYPE mech;
    enum sign_kind kind;
    const char *md;
    CK_MECHANISM_TYPE pss_hash;
    CK_RSA_PKCS_MGF_TYPE pss_mgf;
    CK_ULONG salt;
};

static const struct sign_case sign_cases[] = {
    {K_RSA, CKM_RSA_PKCS, S_PKCS1_DI, "SHA256", 0, 0, 0},
    {K_RSA, CKM_SHA1_RSA_PKCS, S_PKCS1, "SHA1", 0, 0, 0},
    {K_RSA, CKM_SHA224_RSA_PKCS, S_PKCS1, "SHA224", 0, 0, 0},
    {K_RSA, CKM_SHA256_RSA_PKCS, S_PKCS1, "SHA256", 0, 0, 0},
    {K_RSA, CKM_SHA384_RSA_PKCS, S_PKCS1, "SHA384", 0, 0, 0},
    {K_RSA, CKM_SHA512_RSA_PKCS, S_PKCS1, "SHA512", 0, 0, 0},
    {K_RSA, CKM_RSA_PKCS_PSS, S_PSS_PRE, "SHA256", CKM_SHA256, CKG_MGF1_SHA256,
     32},
    {K_RSA, CKM_SHA1_RSA_PKCS_PSS, S_PSS, "SHA1", CKM_SHA_1, CKG_MGF1_SHA1, 20},
    {K_RSA, CKM_SHA224_RSA_PKCS_PSS, S_PSS, "SHA224", CKM_SHA224,
     CKG_MGF1_SHA224, 28},
    {K_RSA, CKM_SHA256_RSA_PKCS_PSS, S_PSS, "SHA256", CKM_SHA256,
     CKG_MGF1_SHA256, 32},
    {K_RSA, CKM_SHA384_RSA_PKCS_PSS, S_PSS, "SHA384", CKM_SHA384,
     CKG_MGF1_SHA256, 0},
    {K_RSA, CKM_SHA512_RSA_PKCS_PSS, S_PSS, "SHA512", CKM_SHA512,
     CKG_MGF1_SHA512, 64},
    {K_P256, CKM_ECDSA, S_ECDSA_PRE, "SHA256", 0, 0, 0},
    {K_P256, CKM_ECDSA_SHA256, S_ECDSA, "SHA256", 0, 0, 0},
    {K_P256, CKM_ECDSA_SHA1, S_ECDSA, "SHA1", 0, 0, 0},
    {K_P384, CKM_ECDSA, S_ECDSA_PRE, "SHA384", 0, 0, 0},
    {K_P384, CKM_ECDSA_SHA384, S_ECDSA, "SHA384", 0, 0, 0},
    {K_P521, CKM_ECDSA, S_ECDSA_PRE, "SHA512", 0, 0, 0},
    {K_P521, CKM_ECDSA_SHA512, S_ECDSA, "SHA512", 0, 0, 0},
    {K_P521, CKM_ECDSA_SHA256, S_ECDSA, "SHA256", 0, 0, 0},
    {K_ED, CKM_EDDSA, S_EDDSA, NULL, 0, 0, 0},
};
#define SIGN_CASES (sizeof(sign_cases) / sizeof(sign_cases[0]))

static void mechanism_for(const struct sign_case *c, CK_MECHANISM *m,
                          CK_RSA_PKCS_PSS_PARAMS *pss)
{
    m->mechanism = c->mech;
    m->pParameter = NULL;
    m->ulParameterLen = 0;
    if (c->kind == S_PSS || c->kind == S_PSS_PRE) {
        pss->hashAlg = c->pss_hash;
        pss->mgf = c->pss_mgf;
        pss->sLen = c->salt;
        m->pParameter = pss;
        m->ulParameterLen = sizeof(*pss);
    }
}

/* What the token is given for C_Sign: the message, its digest, or a
 * DigestInfo around its digest. */
static size_t sign_input(const struct sign_case *c, unsigned char *out)
{
    static const unsigned char sha256_prefix[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    size_t len = 0;

    switch (c->kind) {
    case S_PKCS1_DI:
        memcpy(out, sha256_prefix, sizeof(sha256_prefix));
        if (!digest("SHA256", msg, MSG_LEN, out + sizeof(sha256_prefix), &len))
            return 0;
        return sizeof(sha256_prefix) + len;
    case S_PSS_PRE:
    case S_ECDSA_PRE:
        return digest(c->md, msg, MSG_LEN, out, &len) ? len : 0;
    default:
        memcpy(out, msg, MSG_LEN);
        return MSG_LEN;
    }
}

/* 1 when sig is c's signature of msg under pkey, as OpenSSL sees it. */
static int verify(EVP_PKEY *pkey, const struct sign_case *c,
                  const unsigned char *sig, size_t sig_len)
{
    unsigned char hash[EVP_MAX_MD_SIZE], *der = NULL;
    size_t hash_len = 0, der_len = 0;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *vctx = NULL, *pctx = NULL;
    int ok = 0, salt = (int)c->salt, pre, pss, rsa;
    const char *mgf = c->pss_mgf == CKG_MGF1_SHA1     ? "SHA1"
                      : c->pss_mgf == CKG_MGF1_SHA224 ? "SHA224"
                      : c->pss_mgf == CKG_MGF1_SHA384 ? "SHA384"
                      : c->pss_mgf == CKG_MGF1_SHA512 ? "SHA512"
                                                      : "SHA256";

    pre =
        c->kind == S_PKCS1_DI || c->kind == S_PSS_PRE || c->kind == S_ECDSA_PRE;
    pss = c->kind == S_PSS || c->kind == S_PSS_PRE;
    rsa = pss || c->kind == S_PKCS1 || c->kind == S_PKCS1_DI;
    if (c->kind == S_ECDSA || c->kind == S_ECDSA_PRE) {
        if (sig_len != keys[c->key].sig_len ||
            !(der = ecdsa_der(sig, sig_len, &der_len)))
            return 0;
        sig = der;
        sig_len = der_len;
    }
    if (pre) {
        /* Given the digest, OpenSSL builds and checks the DigestInfo. */
        if (!digest(c->md, msg, MSG_LEN, hash, &hash_len) ||
            !(vctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) ||
            EVP_PKEY_verify_init(vctx) != 1)
            goto out;
        pctx = vctx;
        if (rsa && EVP_PKEY_CTX_set_signature_md(
                       pctx, EVP_get_digestbyname(c->md)) != 1)
            goto out;
    } else if (!(mctx = EVP_MD_CTX_new()) ||
               EVP_DigestVerifyInit_ex(mctx, &pctx, c->md, NULL, NULL, pkey,
                                       NULL) != 1) {
        goto out;
    }
    if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, pss ? RSA_PKCS1_PSS_PADDING
                                                      : RSA_PKCS1_PADDING) != 1)
        goto out;
    if (pss && (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mgf, NULL) != 1))
        goto out;
    if (pre)
        ok = EVP_PKEY_verify(vctx, sig, sig_len, hash, hash_len) == 1;
    else
        ok = EVP_DigestVerify(mctx, sig, sig_len, msg, MSG_LEN) == 1;
out:
    EVP_PKEY_CTX_free(vctx);
    EVP_MD_CTX_free(mctx);
    free(der);
    ERR_clear_error();
    return ok;
}

/* ---- signing ----------------------------------------------------------- */

static void sign_one_case(CK_SESSION_HANDLE s, const struct sign_case *c)
{
    const struct key_case *k = &keys[c->key];
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m;
    unsigned char in[sizeof(msg) + EVP_MAX_MD_SIZE], sig[SIG_MAX];
    CK_ULONG in_len = sign_input(c, in), len;
    int ok;

    mechanism_for(c, &m, &pss);
    CHECK(in_len > 0);
    /* Single part: length query and a short buffer keep the operation. */
    CHECK_RC(F->C_SignInit(s, &m, priv_h[c->key]), CKR_OK);
    len = 0;
    CHECK_RC(F->C_Sign(s, in, in_len, NULL, &len), CKR_OK);
    CHECK(len == k->sig_len);
    len = k->sig_len - 1;
    CHECK_RC(F->C_Sign(s, in, in_len, sig, &len), CKR_BUFFER_TOO_SMALL);
    CHECK(len == k->sig_len);
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, in, in_len, sig, &len), CKR_OK);
    CHECK(len == k->sig_len);
    ok = verify(token_pub[c->key], c, sig, len);
    if (!ok)
        fprintf(stderr, "%s mechanism %#lx: the signature does not verify\n",
                k->name, c->mech);
    CHECK(ok);
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, in, in_len, sig, &len),
             CKR_OPERATION_NOT_INITIALIZED);

    /* Multi-part, for the mechanisms that hash (and EdDSA). */
    if (c->kind != S_PKCS1 && c->kind != S_PSS && c->kind != S_ECDSA &&
        c->kind != S_EDDSA)
        return;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[c->key]), CKR_OK);
    CHECK_RC(F->C_SignUpdate(s, (CK_BYTE_PTR)msg, 7), CKR_OK);
    CHECK_RC(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + 7, 0), CKR_OK);
    CHECK_RC(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + 7, 30), CKR_OK);
    CHECK_RC(F->C_SignUpdate(s, (CK_BYTE_PTR)msg + 37, MSG_LEN - 37), CKR_OK);
    len = 0;
    CHECK_RC(F->C_SignFinal(s, NULL, &len), CKR_OK);
    CHECK(len == k->sig_len);
    len = 1;
    CHECK_RC(F->C_SignFinal(s, sig, &len), CKR_BUFFER_TOO_SMALL);
    CHECK(len == k->sig_len);
    len = sizeof(sig);
    CHECK_RC(F->C_SignFinal(s, sig, &len), CKR_OK);
    CHECK(len == k->sig_len);
    ok = verify(token_pub[c->key], c, sig, len);
    if (!ok)
        fprintf(stderr,
                "%s mechanism %#lx: the multi-part signature does "
                "not verify\n",
                k->name, c->mech);
    CHECK(ok);
    len = sizeof(sig);
    CHECK_RC(F->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
}

static void test_sign(void)
{
    CK_SESSION_HANDLE s = open_session(0);
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA384, CKG_MGF1_SHA384, 48};
    unsigned char sig[SIG_MAX], hash[32];
    CK_ULONG len;
    size_t i;
    struct {
        int key;
        CK_MECHANISM_TYPE mech;
        CK_RV want;
    } refused[] = {
        {K_RSA, CKM_ECDSA, CKR_KEY_TYPE_INCONSISTENT},
        {K_RSA, CKM_EDDSA, CKR_KEY_TYPE_INCONSISTENT},
        {K_P256, CKM_RSA_PKCS, CKR_KEY_TYPE_INCONSISTENT},
        {K_P256, CKM_SHA256_RSA_PKCS, CKR_KEY_TYPE_INCONSISTENT},
        {K_P256, CKM_EDDSA, CKR_KEY_TYPE_INCONSISTENT},
        {K_ED, CKM_ECDSA, CKR_KEY_TYPE_INCONSISTENT},
        {K_ED, CKM_SHA256_RSA_PKCS, CKR_KEY_TYPE_INCONSISTENT},
        {K_RSA, CKM_MD5_RSA_PKCS, CKR_MECHANISM_INVALID},
        {K_P256, CKM_DSA, CKR_MECHANISM_INVALID},
        {K_P256, CKM_VENDOR_DEFINED | 1, CKR_MECHANISM_INVALID},
        /* Known, but not for signing. */
        {K_RSA, CKM_RSA_PKCS_OAEP, CKR_MECHANISM_INVALID},
        {K_P256, CKM_ECDH1_DERIVE, CKR_MECHANISM_INVALID},
        {K_P256, CKM_EC_KEY_PAIR_GEN, CKR_MECHANISM_INVALID},
    };

    memset(hash, 0x5a, sizeof(hash));
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, hash, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_SignUpdate(s, hash, 32), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_SignFinal(s, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_SignInit(s, NULL, priv_h[K_P256]), CKR_ARGUMENTS_BAD);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        m.mechanism = refused[i].mech;
        CHECK_RC(F->C_SignInit(s, &m, priv_h[refused[i].key]), refused[i].want);
        /* A refused C_SignInit starts nothing. */
        len = sizeof(sig);
        CHECK_RC(F->C_Sign(s, hash, 32, sig, &len),
                 CKR_OPERATION_NOT_INITIALIZED);
    }
    /* Public keys do not sign; unknown handles are no keys. */
    m.mechanism = CKM_ECDSA;
    CHECK_RC(F->C_SignInit(s, &m, pub_h[K_P256]),
             CKR_KEY_FUNCTION_NOT_PERMITTED);
    m.mechanism = CKM_SHA256_RSA_PKCS;
    CHECK_RC(F->C_SignInit(s, &m, pub_h[K_RSA]),
             CKR_KEY_FUNCTION_NOT_PERMITTED);
    CHECK_RC(F->C_SignInit(s, &m, 0xdead), CKR_KEY_HANDLE_INVALID);
    CHECK_RC(F->C_SignInit(s, &m, CK_INVALID_HANDLE), CKR_KEY_HANDLE_INVALID);
    /* Mechanism parameters. */
    m.mechanism = CKM_SHA256_RSA_PKCS;
    m.pParameter = &pss;
    m.ulParameterLen = sizeof(pss);
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_RSA]), CKR_MECHANISM_PARAM_INVALID);
    m.mechanism = CKM_SHA256_RSA_PKCS_PSS; /* pss says SHA-384 */
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_RSA]), CKR_MECHANISM_PARAM_INVALID);
    m.mechanism = CKM_RSA_PKCS_PSS;
    m.ulParameterLen = sizeof(pss) - 1;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_RSA]), CKR_MECHANISM_PARAM_INVALID);
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_RSA]), CKR_MECHANISM_PARAM_INVALID);
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, hash, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    /* C_SignInit twice: the second is refused, the first goes on. */
    m.mechanism = CKM_ECDSA;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_P256]), CKR_OK);
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_P256]), CKR_OPERATION_ACTIVE);
    m.mechanism = CKM_SHA256_RSA_PKCS;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_RSA]), CKR_OPERATION_ACTIVE);
    CHECK_RC(F->C_FindObjectsInit(s, NULL, 0), CKR_OPERATION_ACTIVE);
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, hash, 32, sig, &len), CKR_OK);
    CHECK(len == 64);
    /* A failed C_Sign (a NULL length pointer) ends the operation. */
    m.mechanism = CKM_ECDSA;
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_P256]), CKR_OK);
    CHECK_RC(F->C_Sign(s, hash, 32, sig, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_Sign(s, hash, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);

    for (i = 0; i < SIGN_CASES; i++)
        sign_one_case(s, &sign_cases[i]);
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- decryption -------------------------------------------------------- */

static size_t rsa_encrypt(EVP_PKEY *pub, int oaep, const char *md,
                          const char *label, const unsigned char *in,
                          size_t in_len, unsigned char *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    size_t len = 512;
    char *l = label ? OPENSSL_strdup(label) : NULL;

    if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, oaep ? RSA_PKCS1_OAEP_PADDING
                                               : RSA_PKCS1_PADDING) != 1 ||
        (oaep && (EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) != 1 ||
                  EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) != 1)))
        len = 0;
    /* The context owns the label once it is set. */
    if (len && l) {
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, (int)strlen(l)) == 1)
            l = NULL;
        else
            len = 0;
    }
    if (len && EVP_PKEY_encrypt(ctx, out, &len, in, in_len) != 1)
        len = 0;
    OPENSSL_free(l);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

static void test_decrypt(void)
{
    static const unsigned char plain[] = "decrypted by the token";
    static char label[] = "a label";
    CK_SESSION_HANDLE s = open_session(0);
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256,
                                    CKZ_DATA_SPECIFIED, label,
                                    sizeof(label) - 1};
    CK_RSA_PKCS_OAEP_PARAMS oaep1 = {CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0};
    CK_MECHANISM m = {CKM_RSA_PKCS, NULL, 0};
    unsigned char ct[512], out[512];
    size_t ct_len;
    CK_ULONG len;

    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, 256, out, &len),
             CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_P256]),
             CKR_KEY_TYPE_INCONSISTENT);
    CHECK_RC(F->C_DecryptInit(s, &m, pub_h[K_RSA]),
             CKR_KEY_FUNCTION_NOT_PERMITTED);
    m.mechanism = CKM_SHA256_RSA_PKCS;
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_MECHANISM_INVALID);

    /* RSA PKCS#1 v1.5. */
    ct_len =
        rsa_encrypt(token_pub[K_RSA], 0, NULL, NULL, plain, sizeof(plain), ct);
    CHECK(ct_len == 256);
    m.mechanism = CKM_RSA_PKCS;
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OK);
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OPERATION_ACTIVE);
    len = 0;
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, NULL, &len), CKR_OK);
    CHECK(len >= sizeof(plain));
    len = 4;
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len), CKR_BUFFER_TOO_SMALL);
    CHECK(len >= sizeof(plain));
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len), CKR_OK);
    CHECK(len == sizeof(plain) && memcmp(out, plain, len) == 0);
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len),
             CKR_OPERATION_NOT_INITIALIZED);

    /* OAEP with SHA-256, MGF1-SHA-256 and a label. */
    ct_len = rsa_encrypt(token_pub[K_RSA], 1, "SHA256", label, plain,
                         sizeof(plain), ct);
    CHECK(ct_len == 256);
    m.mechanism = CKM_RSA_PKCS_OAEP;
    m.pParameter = &oaep;
    m.ulParameterLen = sizeof(oaep);
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OK);
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len), CKR_OK);
    CHECK(len == sizeof(plain) && memcmp(out, plain, len) == 0);
    /* The wrong label does not decrypt. */
    oaep.ulSourceDataLen = 1;
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OK);
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len),
             CKR_ENCRYPTED_DATA_INVALID);
    /* Ciphertext of the wrong length. */
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OK);
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len - 1, out, &len),
             CKR_ENCRYPTED_DATA_LEN_RANGE);

    /* OAEP with SHA-1 and no label, as SoftHSM takes it. */
    ct_len = rsa_encrypt(token_pub[K_RSA], 1, "SHA1", NULL, plain,
                         sizeof(plain), ct);
    m.pParameter = &oaep1;
    m.ulParameterLen = sizeof(oaep1);
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]), CKR_OK);
    len = sizeof(out);
    CHECK_RC(F->C_Decrypt(s, ct, ct_len, out, &len), CKR_OK);
    CHECK(len == sizeof(plain) && memcmp(out, plain, len) == 0);
    /* OAEP needs its parameters. */
    m.pParameter = NULL;
    m.ulParameterLen = 0;
    CHECK_RC(F->C_DecryptInit(s, &m, priv_h[K_RSA]),
             CKR_MECHANISM_PARAM_INVALID);
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- ECDH -------------------------------------------------------------- */

static void test_derive(void)
{
    CK_SESSION_HANDLE s = open_session(0), other = open_session(0);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &kt, sizeof(kt)},
                        {CKA_SENSITIVE, &no, sizeof(no)},
                        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
                        {CKA_TOKEN, &no, sizeof(no)}};
    unsigned char point[70], wrapped[72], want[66], *got;
    size_t plen = 0, want_len = sizeof(want);
    CK_ULONG got_len;
    CK_ECDH1_DERIVE_PARAMS ecdh;
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh)};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, h2 = CK_INVALID_HANDLE;
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY_CTX *ctx = NULL;

    CHECK(peer != NULL);
    if (!peer)
        return;
    CHECK(EVP_PKEY_get_octet_string_param(peer,
                                          OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                          point, sizeof(point), &plen) == 1 &&
          plen == 65);
    /* OpenSSL's side: the peer's private key with our public key. */
    CHECK((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL)) &&
          EVP_PKEY_derive_init(ctx) == 1 &&
          EVP_PKEY_derive_set_peer(ctx, token_pub[K_P256]) == 1 &&
          EVP_PKEY_derive(ctx, want, &want_len) == 1 && want_len == 32);
    EVP_PKEY_CTX_free(ctx);

    memset(&ecdh, 0, sizeof(ecdh));
    ecdh.kdf = CKD_NULL;
    ecdh.pPublicData = point;
    ecdh.ulPublicDataLen = plen;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_P256], t, 5, &h), CKR_OK);
    CHECK(attr_ulong(s, h, CKA_CLASS) == CKO_SECRET_KEY);
    got = attr_get(s, h, CKA_VALUE, &got_len);
    CHECK(got && got_len == want_len && memcmp(got, want, want_len) == 0);
    free(got);
    /* The point may also come as a DER OCTET STRING. */
    wrapped[0] = 0x04;
    wrapped[1] = (unsigned char)plen;
    memcpy(wrapped + 2, point, plen);
    ecdh.pPublicData = wrapped;
    ecdh.ulPublicDataLen = plen + 2;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_P256], t, 5, &h2), CKR_OK);
    CHECK(h2 != h);
    CHECK(attr_equals(s, h2, CKA_VALUE, want, want_len));
    /* Session objects belong to their session. */
    CHECK_RC(F->C_GetAttributeValue(other, h, t, 1), CKR_OBJECT_HANDLE_INVALID);
    CHECK_RC(F->C_DestroyObject(s, h2), CKR_OK);
    CHECK_RC(F->C_GetAttributeValue(s, h2, t, 1), CKR_OBJECT_HANDLE_INVALID);

    /* Refused: other key types, KDFs, missing data. */
    ecdh.pPublicData = point;
    ecdh.ulPublicDataLen = plen;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_RSA], t, 5, &h2),
             CKR_KEY_TYPE_INCONSISTENT);
    CHECK_RC(F->C_DeriveKey(s, &m, pub_h[K_P256], t, 5, &h2),
             CKR_KEY_HANDLE_INVALID);
    ecdh.kdf = CKD_SHA256_KDF;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_P256], t, 5, &h2),
             CKR_MECHANISM_PARAM_INVALID);
    ecdh.kdf = CKD_NULL;
    ecdh.ulPublicDataLen = 0;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_P256], t, 5, &h2),
             CKR_MECHANISM_PARAM_INVALID);
    m.mechanism = CKM_ECDSA;
    CHECK_RC(F->C_DeriveKey(s, &m, priv_h[K_P256], t, 5, &h2),
             CKR_MECHANISM_INVALID);

    /* Closing the session destroys its objects. */
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
    CHECK_RC(F->C_GetAttributeValue(other, h, t, 1), CKR_OBJECT_HANDLE_INVALID);
    CHECK_RC(F->C_CloseSession(other), CKR_OK);
    EVP_PKEY_free(peer);
}

/* ---- key generation, certificates, deletion ---------------------------- */

/* A certificate for pub, issued by a throwaway CA; DER, malloc'd. */
static unsigned char *make_cert(EVP_PKEY *pub, const char *cn, long serial,
                                size_t *len)
{
    EVP_PKEY *ca = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new(), *issuer = X509_NAME_new();
    unsigned char *der = NULL, *copy = NULL;
    int n;

    if (ca && x && name && issuer && X509_set_version(x, 2) == 1 &&
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0) == 1 &&
        X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"test CA", -1, -1,
                                   0) == 1 &&
        X509_set_subject_name(x, name) == 1 &&
        X509_set_issuer_name(x, issuer) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
        X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) &&
        X509_set_pubkey(x, pub) == 1 && X509_sign(x, ca, EVP_sha256()) > 0 &&
        (n = i2d_X509(x, &der)) > 0 && (copy = malloc((size_t)n))) {
        memcpy(copy, der, (size_t)n);
        *len = (size_t)n;
    }
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_NAME_free(issuer);
    X509_free(x);
    EVP_PKEY_free(ca);
    return copy;
}

/* The DER of a certificate part, for comparing attributes. */
static int cert_part_equals(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            const unsigned char *cert_der, size_t cert_len,
                            CK_ATTRIBUTE_TYPE type)
{
    const unsigned char *p = cert_der;
    X509 *x = d2i_X509(NULL, &p, (long)cert_len);
    unsigned char *der = NULL;
    int n = -1, eq;

    if (!x)
        return 0;
    if (type == CKA_SUBJECT)
        n = i2d_X509_NAME(X509_get_subject_name(x), &der);
    else if (type == CKA_ISSUER)
        n = i2d_X509_NAME(X509_get_issuer_name(x), &der);
    else if (type == CKA_SERIAL_NUMBER)
        n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der);
    eq = n > 0 && attr_equals(s, h, type, der, (size_t)n);
    OPENSSL_free(der);
    X509_free(x);
    return eq;
}

static int ref_exists(const char *name)
{
    sr_store *st = store_open();
    sr_ref_info *infos = NULL;
    size_t count = 0, i;
    int found = 0;

    if (!st)
        return -1;
    if (sr_ref_list(st, NULL, &infos, &count) == SR_OK)
        for (i = 0; i < count; i++)
            if (strcmp(infos[i].name, name) == 0 &&
                infos[i].kind == SR_KIND_CERTIFICATE)
                found = 1;
    sr_ref_list_free(infos, count);
    sr_store_free(st);
    return found;
}

static void test_generate(void)
{
    static const unsigned char f4[] = {0x01, 0x00, 0x01};
    static const unsigned char secp256k1[] = {0x06, 0x05, 0x2b, 0x81,
                                              0x04, 0x00, 0x0a};
    CK_SESSION_HANDLE ro = open_session(0), s = open_session(CKF_RW_SESSION);
    CK_ULONG bits = 2048, bits_small = 1024, len;
    CK_MECHANISM m_rsa = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM m_ec = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM m_ed = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM m_bad = {CKM_DSA_KEY_PAIR_GEN, NULL, 0};
    CK_MECHANISM sign = {CKM_ECDSA_SHA256, NULL, 0};
    CK_ATTRIBUTE rsa_pub[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
                              {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
                              {CKA_TOKEN, &yes, sizeof(yes)},
                              {CKA_VERIFY, &yes, sizeof(yes)},
                              {CKA_LABEL, (void *)"gen-rsa", 7}};
    CK_ATTRIBUTE rsa_priv[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                               {CKA_PRIVATE, &yes, sizeof(yes)},
                               {CKA_SENSITIVE, &yes, sizeof(yes)},
                               {CKA_SIGN, &yes, sizeof(yes)},
                               {CKA_LABEL, (void *)"gen-rsa", 7}};
    CK_ATTRIBUTE ec_pub[] = {
        {CKA_EC_PARAMS, (void *)oid_p256, sizeof(oid_p256)},
        {CKA_LABEL, (void *)"gen-ec", 6}};
    CK_ATTRIBUTE ec_priv[] = {{CKA_SIGN, &yes, sizeof(yes)},
                              {CKA_LABEL, (void *)"gen-ec", 6}};
    CK_ATTRIBUTE ed_pub[] = {
        {CKA_EC_PARAMS, (void *)oid_ed25519, sizeof(oid_ed25519)},
        {CKA_LABEL, (void *)"gen-ed", 6}};
    CK_ATTRIBUTE ed_priv[] = {{CKA_LABEL, (void *)"gen-ed", 6}};
    CK_ATTRIBUTE bad_pub[] = {
        {CKA_EC_PARAMS, (void *)secp256k1, sizeof(secp256k1)},
        {CKA_LABEL, (void *)"gen-bad", 7}};
    CK_ATTRIBUTE small_pub[] = {
        {CKA_MODULUS_BITS, &bits_small, sizeof(bits_small)},
        {CKA_LABEL, (void *)"gen-bad", 7}};
    CK_ATTRIBUTE extractable[] = {{CKA_EXTRACTABLE, &yes, sizeof(yes)},
                                  {CKA_LABEL, (void *)"gen-bad", 7}};
    CK_ATTRIBUTE session_key[] = {{CKA_TOKEN, &no, sizeof(no)},
                                  {CKA_LABEL, (void *)"gen-bad", 7}};
    CK_OBJECT_HANDLE pub = 0, priv = 0, cert = 0, h[4];
    unsigned char sig[SIG_MAX], hash[32], *der, *id;
    size_t der_len = 0;
    CK_ULONG id_len, n;
    struct key_case gen_ec = {"gen-ec",         NULL, CKK_EC, 64, oid_p256,
                              sizeof(oid_p256), NULL};
    EVP_PKEY *gen_pub;

    memset(hash, 0x11, sizeof(hash));
    /* Writing needs a read-write session. */
    CHECK_RC(
        F->C_GenerateKeyPair(ro, &m_ec, ec_pub, 2, ec_priv, 2, &pub, &priv),
        CKR_SESSION_READ_ONLY);
    CHECK_RC(F->C_DestroyObject(ro, priv_h[K_P384]), CKR_SESSION_READ_ONLY);
    CHECK_RC(F->C_GenerateKeyPair(s, &m_ec, ec_pub, 2, ec_priv, 2, NULL, &priv),
             CKR_ARGUMENTS_BAD);
    CHECK_RC(
        F->C_GenerateKeyPair(s, &m_bad, ec_pub, 2, ec_priv, 2, &pub, &priv),
        CKR_MECHANISM_INVALID);
    CHECK_RC(
        F->C_GenerateKeyPair(s, &m_ec, bad_pub, 2, ec_priv, 0, &pub, &priv),
        CKR_CURVE_NOT_SUPPORTED);
    CHECK_RC(F->C_GenerateKeyPair(s, &m_ec, ec_pub, 0, ec_priv, 0, &pub, &priv),
             CKR_TEMPLATE_INCOMPLETE);
    CHECK(F->C_GenerateKeyPair(s, &m_rsa, small_pub, 2, NULL, 0, &pub, &priv) !=
          CKR_OK);
    /* Keys here never leave the token and are token objects. */
    CHECK_RC(
        F->C_GenerateKeyPair(s, &m_ed, ed_pub, 0, extractable, 2, &pub, &priv),
        CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK_RC(
        F->C_GenerateKeyPair(s, &m_ed, ed_pub, 0, session_key, 2, &pub, &priv),
        CKR_ATTRIBUTE_VALUE_INVALID);
    CHECK(ref_exists("gen-bad") == 0);

    CHECK_RC(
        F->C_GenerateKeyPair(s, &m_rsa, rsa_pub, 5, rsa_priv, 5, &pub, &priv),
        CKR_OK);
    CHECK(attr_ulong(s, priv, CKA_CLASS) == CKO_PRIVATE_KEY);
    CHECK(attr_ulong(s, pub, CKA_CLASS) == CKO_PUBLIC_KEY);
    CHECK(attr_ulong(s, pub, CKA_KEY_TYPE) == CKK_RSA);
    CHECK(attr_ulong(s, pub, CKA_MODULUS_BITS) == 2048);
    CHECK(attr_equals(s, priv, CKA_LABEL, "gen-rsa", 7));
    CHECK(attr_bool(s, priv, CKA_EXTRACTABLE) == 0);
    CHECK(ref_exists("gen-rsa") == 1);
    /* The name is taken. */
    CHECK(F->C_GenerateKeyPair(s, &m_rsa, rsa_pub, 5, rsa_priv, 5, h, h + 1) !=
          CKR_OK);
    /* Deleting: the public key alone cannot go; the private key takes the
     * reference and its objects with it. */
    CHECK_RC(F->C_DestroyObject(s, pub), CKR_ACTION_PROHIBITED);
    CHECK_RC(F->C_DestroyObject(s, priv), CKR_OK);
    CHECK(ref_exists("gen-rsa") == 0);
    CHECK_RC(F->C_GetAttributeValue(s, priv, rsa_pub, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RC(F->C_GetAttributeValue(s, pub, rsa_pub, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RC(F->C_DestroyObject(s, priv), CKR_OBJECT_HANDLE_INVALID);
    CHECK(find_one(s, CKO_PUBLIC_KEY, "gen-rsa") == CK_INVALID_HANDLE);

    CHECK_RC(F->C_GenerateKeyPair(s, &m_ec, ec_pub, 2, ec_priv, 2, &pub, &priv),
             CKR_OK);
    CHECK(attr_ulong(s, pub, CKA_KEY_TYPE) == CKK_EC);
    CHECK(attr_equals(s, pub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256)));
    CHECK(ref_exists("gen-ec") == 1);
    gen_pub = pkey_from_token(s, pub, &gen_ec);
    CHECK(gen_pub != NULL);
    /* The new key signs, and its signature verifies. */
    CHECK_RC(F->C_SignInit(s, &sign, priv), CKR_OK);
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, (CK_BYTE_PTR)msg, MSG_LEN, sig, &len), CKR_OK);
    if (gen_pub) {
        static const struct sign_case c = {
            K_P256, CKM_ECDSA_SHA256, S_ECDSA, "SHA256", 0, 0, 0};
        CHECK(verify(gen_pub, &c, sig, len));
    }

    /* C_CreateObject of a certificate attaches it to its key by CKA_ID. */
    der = gen_pub ? make_cert(gen_pub, "gen-ec", 4242, &der_len) : NULL;
    id = attr_get(s, priv, CKA_ID, &id_len);
    CHECK(der && id);
    if (der && id) {
        CK_CERTIFICATE_TYPE ct = CKC_X_509;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &class_cert, sizeof(class_cert)},
                            {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
                            {CKA_TOKEN, &yes, sizeof(yes)},
                            {CKA_ID, id, id_len},
                            {CKA_VALUE, der, der_len}};
        CK_ATTRIBUTE t_find[] = {{CKA_CLASS, &class_cert, sizeof(class_cert)},
                                 {CKA_ID, id, id_len}};
        CK_ATTRIBUTE t_key[] = {{CKA_CLASS, &class_priv, sizeof(class_priv)},
                                {CKA_ID, id, id_len},
                                {CKA_VALUE, der, der_len}};
        unsigned char *other = NULL;
        size_t other_len = 0;

        CHECK_RC(F->C_CreateObject(ro, t, 5, &cert), CKR_SESSION_READ_ONLY);
        CHECK_RC(F->C_CreateObject(s, t_key, 3, &cert),
                 CKR_TEMPLATE_INCONSISTENT);
        CHECK_RC(F->C_CreateObject(s, t, 4, &cert), CKR_TEMPLATE_INCOMPLETE);
        /* A certificate of another key is refused. */
        other = make_cert(token_pub[K_P256], "other", 1, &other_len);
        t[4].pValue = other;
        t[4].ulValueLen = other_len;
        CHECK_RC(F->C_CreateObject(s, t, 5, &cert),
                 CKR_ATTRIBUTE_VALUE_INVALID);
        free(other);
        t[4].pValue = der;
        t[4].ulValueLen = der_len;
        CHECK_RC(F->C_CreateObject(s, t, 5, &cert), CKR_OK);
        CHECK(find(s, t_find, 2, h, 4) == 1 && h[0] == cert);
        CHECK(attr_ulong(s, cert, CKA_CLASS) == CKO_CERTIFICATE);
        CHECK(attr_ulong(s, cert, CKA_CERTIFICATE_TYPE) == CKC_X_509);
        CHECK(attr_equals(s, cert, CKA_VALUE, der, der_len));
        CHECK(attr_equals(s, cert, CKA_ID, id, id_len));
        CHECK(attr_equals(s, cert, CKA_LABEL, "gen-ec", 6));
        CHECK(attr_bool(s, cert, CKA_TOKEN) == 1);
        CHECK(attr_bool(s, cert, CKA_PRIVATE) == 0);
        CHECK(attr_bool(s, cert, CKA_TRUSTED) == 0);
        CHECK(attr_ulong(s, cert, CKA_CERTIFICATE_CATEGORY) != (CK_ULONG)-1);
        CHECK(cert_part_equals(s, cert, der, der_len, CKA_SUBJECT));
        CHECK(cert_part_equals(s, cert, der, der_len, CKA_ISSUER));
        CHECK(cert_part_equals(s, cert, der, der_len, CKA_SERIAL_NUMBER));
        /* Private key and public key keep their handles. */
        CHECK(attr_equals(s, priv, CKA_ID, id, id_len));
        CHECK(attr_equals(s, pub, CKA_ID, id, id_len));
        /* A certificate does not sign. */
        CHECK(F->C_SignInit(s, &sign, cert) != CKR_OK);
        len = sizeof(sig);
        CHECK_RC(F->C_Sign(s, hash, 32, sig, &len),
                 CKR_OPERATION_NOT_INITIALIZED);
        /* The key still signs after the new version. */
        CHECK_RC(F->C_SignInit(s, &sign, priv), CKR_OK);
        len = sizeof(sig);
        CHECK_RC(F->C_Sign(s, (CK_BYTE_PTR)msg, MSG_LEN, sig, &len), CKR_OK);
        CHECK_RC(F->C_DestroyObject(s, cert), CKR_ACTION_PROHIBITED);
    }
    free(der);
    free(id);
    EVP_PKEY_free(gen_pub);

    CHECK_RC(F->C_GenerateKeyPair(s, &m_ed, ed_pub, 2, ed_priv, 1, &pub, &priv),
             CKR_OK);
    CHECK(attr_ulong(s, priv, CKA_KEY_TYPE) == CKK_EC_EDWARDS);
    CHECK(attr_equals(s, pub, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519)));
    CHECK(ref_exists("gen-ed") == 1);
    /* Without a label the token names the key. */
    CHECK_RC(F->C_GenerateKeyPair(s, &m_ed, NULL, 0, NULL, 0, &pub, &priv),
             CKR_OK);
    {
        CK_ATTRIBUTE t_ed[] = {{CKA_CLASS, &class_priv, sizeof(class_priv)}};
        n = find(s, t_ed, 1, NULL, 0);
        CHECK(n == KEY_COUNT + 3);
    }
    CHECK_RC(F->C_DestroyObject(s, priv), CKR_OK);
    CHECK_RC(F->C_CloseSession(ro), CKR_OK);
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- fork -------------------------------------------------------------- */

static void test_fork(void)
{
    CK_SESSION_HANDLE s = open_session(0);
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    static const struct sign_case c = {
        K_P256, CKM_ECDSA_SHA256, S_ECDSA, "SHA256", 0, 0, 0};
    unsigned char sig[SIG_MAX];
    CK_ULONG len;
    int fds[2], status = 0, child_failures = -1;
    pid_t pid;

    /* The parent has an operation going when it forks. */
    CHECK_RC(F->C_SignInit(s, &m, priv_h[K_P256]), CKR_OK);
    if (pipe(fds) != 0) {
        CHECK(0);
        return;
    }
    (void)fflush(NULL);
    if ((pid = fork()) == 0) {
        CK_SESSION_HANDLE cs;
        CK_OBJECT_HANDLE key;
        close(fds[0]);
        check_failures = 0;
        /* The child inherits nothing it may use. */
        check_not_initialized(s);
        CHECK_RC(initialize(), CKR_OK);
        cs = open_session(0);
        key = find_one(cs, CKO_PRIVATE_KEY, keys[K_P256].name);
        CHECK(key != CK_INVALID_HANDLE);
        CHECK_RC(F->C_SignInit(cs, &m, key), CKR_OK);
        len = sizeof(sig);
        CHECK_RC(F->C_Sign(cs, (CK_BYTE_PTR)msg, MSG_LEN, sig, &len), CKR_OK);
        CHECK(verify(token_pub[K_P256], &c, sig, len));
        CHECK_RC(F->C_Finalize(NULL), CKR_OK);
        /* The result goes through the pipe: the exit status of a child
         * under valgrind reports the parent's state it abandoned. */
        if (write(fds[1], &check_failures, sizeof(check_failures)) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    CHECK(pid > 0);
    if (pid > 0) {
        CHECK(read(fds[0], &child_failures, sizeof(child_failures)) ==
              sizeof(child_failures));
        CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    }
    close(fds[0]);
    if (child_failures != 0)
        fprintf(stderr, "fork: %d checks failed in the child\n",
                child_failures);
    CHECK(child_failures == 0);
    /* The parent's module goes on as before. */
    len = sizeof(sig);
    CHECK_RC(F->C_Sign(s, (CK_BYTE_PTR)msg, MSG_LEN, sig, &len), CKR_OK);
    CHECK(verify(token_pub[K_P256], &c, sig, len));
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- threads ----------------------------------------------------------- */

struct thread_result {
    atomic_int signed_ok, verified, failed;
};

static struct thread_result thread_result;

static void *sign_thread(void *arg)
{
    static const struct sign_case cases[2] = {
        {K_P256, CKM_ECDSA_SHA256, S_ECDSA, "SHA256", 0, 0, 0},
        {K_RSA, CKM_SHA256_RSA_PKCS, S_PKCS1, "SHA256", 0, 0, 0}};
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    unsigned char sig[SIG_MAX];
    CK_ULONG len;
    int i, c;

    (void)arg;
    if (F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
        atomic_fetch_add(&thread_result.failed, 1);
        return NULL;
    }
    for (i = 0; i < SIGNS_PER_THREAD; i++) {
        for (c = 0; c < 2; c++) {
            CK_MECHANISM m = {cases[c].mech, NULL, 0};
            len = sizeof(sig);
            if (F->C_SignInit(s, &m, priv_h[cases[c].key]) != CKR_OK ||
                F->C_Sign(s, (CK_BYTE_PTR)msg, MSG_LEN, sig, &len) != CKR_OK) {
                atomic_fetch_add(&thread_result.failed, 1);
                continue;
            }
            atomic_fetch_add(&thread_result.signed_ok, 1);
            if (verify(token_pub[cases[c].key], &cases[c], sig, len))
                atomic_fetch_add(&thread_result.verified, 1);
        }
    }
    if (F->C_CloseSession(s) != CKR_OK)
        atomic_fetch_add(&thread_result.failed, 1);
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    int i, started = 0;

    atomic_init(&thread_result.signed_ok, 0);
    atomic_init(&thread_result.verified, 0);
    atomic_init(&thread_result.failed, 0);
    for (i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, sign_thread, NULL) == 0)
            started++;
        else
            break;
    CHECK(started == THREADS);
    for (i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&thread_result.failed) == 0);
    CHECK(atomic_load(&thread_result.signed_ok) ==
          THREADS * SIGNS_PER_THREAD * 2);
    CHECK(atomic_load(&thread_result.verified) ==
          THREADS * SIGNS_PER_THREAD * 2);
    if (atomic_load(&thread_result.verified) != THREADS * SIGNS_PER_THREAD * 2)
        fprintf(stderr, "threads: %d signed, %d verified, %d failed\n",
                atomic_load(&thread_result.signed_ok),
                atomic_load(&thread_result.verified),
                atomic_load(&thread_result.failed));
}

/* ---- main -------------------------------------------------------------- */

int main(void)
{
    CK_SESSION_HANDLE s;

    if (p11t_begin("test_pkcs11_sign")) {
        CHECK_RC(initialize(), CKR_OK);
        s = open_session(0);
        find_keys(s);
        CHECK_RC(F->C_CloseSession(s), CKR_OK);
        test_sign();
        test_decrypt();
        test_derive();
        test_generate();
        test_fork();
        test_threads();
        CHECK_RC(F->C_Finalize(NULL), CKR_OK);
    }
    return p11t_end("test_pkcs11_sign");
}
