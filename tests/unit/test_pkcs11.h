/* SPDX-License-Identifier: Apache-2.0 */
/* What the in-process PKCS#11 tests share (test_pkcs11.c and
 * test_pkcs11_sign.c): a key-file store in a temp folder with RSA-2048,
 * EC P-256/384/521 and Ed25519 references, the module loaded with dlopen
 * and told where the store is through pReserved, as p11-kit's
 * x-init-reserved does, and helpers that find objects, read attributes
 * and rebuild public keys from them. */
#ifndef SECRETREF_TEST_PKCS11_H
#define SECRETREF_TEST_PKCS11_H

#include "check.h"
#include "secretref.h"
#include "testdir.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SECRETREF_MODULE_DIR
#error "SECRETREF_MODULE_DIR: the folder of secretref-pkcs11.so"
#endif

#define SIG_MAX 512
#define ID_MAX 64

static CK_FUNCTION_LIST_PTR F;
static CK_SLOT_ID slot;
static char tmpdir[PATH_MAX], store_path[PATH_MAX + 32],
    key_path[PATH_MAX + 32], init_reserved[2 * PATH_MAX + 128];

/* The references of the store; the last column is filled at setup. */
struct key_case {
    const char *name, *generate;
    CK_KEY_TYPE type;
    CK_ULONG sig_len;         /* ECDSA: r || s, each the field size */
    const unsigned char *oid; /* CKA_EC_PARAMS */
    size_t oid_len;
    EVP_PKEY *spki; /* the public key as the store has it */
};

static const unsigned char oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x22};
static const unsigned char oid_p521[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x23};
static const unsigned char oid_ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

enum { K_RSA, K_P256, K_P384, K_P521, K_ED, KEY_COUNT };
static struct key_case keys[KEY_COUNT] = {
    {"p11-rsa", "rsa-2048", CKK_RSA, 256, NULL, 0, NULL},
    {"p11-p256", "ec-p256", CKK_EC, 64, oid_p256, sizeof(oid_p256), NULL},
    {"p11-p384", "ec-p384", CKK_EC, 96, oid_p384, sizeof(oid_p384), NULL},
    {"p11-p521", "ec-p521", CKK_EC, 132, oid_p521, sizeof(oid_p521), NULL},
    {"p11-ed", "ed25519", CKK_EC_EDWARDS, 64, oid_ed25519, sizeof(oid_ed25519),
     NULL},
};

/* Each private key, public key and OpenSSL public key read back through
 * attributes (find_keys). */
static CK_OBJECT_HANDLE priv_h[KEY_COUNT], pub_h[KEY_COUNT];
static EVP_PKEY *token_pub[KEY_COUNT];

/* Values for templates; not every test uses each. */
#define P11T_MAYBE_UNUSED __attribute__((unused))
static CK_BBOOL yes P11T_MAYBE_UNUSED = CK_TRUE;
static CK_BBOOL no P11T_MAYBE_UNUSED = CK_FALSE;
static CK_OBJECT_CLASS class_priv P11T_MAYBE_UNUSED = CKO_PRIVATE_KEY;
static CK_OBJECT_CLASS class_pub P11T_MAYBE_UNUSED = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS class_cert P11T_MAYBE_UNUSED = CKO_CERTIFICATE;
static CK_OBJECT_CLASS class_secret P11T_MAYBE_UNUSED = CKO_SECRET_KEY;

/* ---- module and attribute helpers -------------------------------------- */

static CK_C_INITIALIZE_ARGS init_args(CK_FLAGS flags)
{
    CK_C_INITIALIZE_ARGS a;

    memset(&a, 0, sizeof(a));
    a.flags = flags;
    a.pReserved = init_reserved;
    return a;
}

static CK_RV initialize(void)
{
    CK_C_INITIALIZE_ARGS a = init_args(CKF_OS_LOCKING_OK);

    return F->C_Initialize(&a);
}

static CK_SESSION_HANDLE open_session(CK_FLAGS flags)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_ULONG n = 1;

    if (slot == 0 && F->C_GetSlotList(CK_TRUE, &slot, &n) != CKR_OK)
        slot = 0;
    CHECK_RC(F->C_OpenSession(slot, CKF_SERIAL_SESSION | flags, NULL, NULL, &s),
             CKR_OK);
    return s;
}

/* The handles the template matches, at most max; their number. */
static CK_ULONG find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n,
                     CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_OBJECT_HANDLE h;
    CK_ULONG got = 0, total = 0;

    if (F->C_FindObjectsInit(s, t, n) != CKR_OK)
        return (CK_ULONG)-1;
    /* One at a time: the search must go on where it stopped. */
    while (F->C_FindObjects(s, &h, 1, &got) == CKR_OK && got == 1) {
        if (out && total < max)
            out[total] = h;
        total++;
    }
    CHECK_RC(F->C_FindObjectsFinal(s), CKR_OK);
    return total;
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                                 const char *label)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    return find(s, t, 2, &h, 1) == 1 ? h : CK_INVALID_HANDLE;
}

/* An attribute's value in a malloc'd buffer, or NULL. */
static inline unsigned char *attr_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                      CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    unsigned char *buf;

    *len = 0;
    if (F->C_GetAttributeValue(s, h, &a, 1) != CKR_OK ||
        a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return NULL;
    if (!(buf = malloc(a.ulValueLen + 1)))
        return NULL;
    a.pValue = buf;
    if (F->C_GetAttributeValue(s, h, &a, 1) != CKR_OK) {
        free(buf);
        return NULL;
    }
    *len = a.ulValueLen;
    return buf;
}

static CK_ULONG attr_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                           CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = (CK_ULONG)-1;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};

    return F->C_GetAttributeValue(s, h, &a, 1) == CKR_OK ? v : (CK_ULONG)-1;
}

/* 1 true, 0 false, -1 absent. */
static inline int attr_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 0xff;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};

    if (F->C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen != 1)
        return -1;
    return v == CK_TRUE ? 1 : v == CK_FALSE ? 0 : -1;
}

static inline int attr_equals(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                              CK_ATTRIBUTE_TYPE type, const void *want,
                              size_t len)
{
    CK_ULONG got_len;
    unsigned char *got = attr_get(s, h, type, &got_len);
    int eq = got && got_len == len && memcmp(got, want, len) == 0;

    free(got);
    return eq;
}

/* ---- public keys from attributes --------------------------------------- */

static inline EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* The public key as a PKCS#11 client builds it: CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS and CKA_EC_POINT. */
static inline EVP_PKEY *pkey_from_token(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                        const struct key_case *k)
{
    unsigned char *a = NULL, *b = NULL;
    CK_ULONG alen, blen;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    const char *group = NULL;

    if (k->type == CKK_RSA) {
        if (!(a = attr_get(s, h, CKA_MODULUS, &alen)) ||
            !(b = attr_get(s, h, CKA_PUBLIC_EXPONENT, &blen)) ||
            !(n = BN_bin2bn(a, (int)alen, NULL)) ||
            !(e = BN_bin2bn(b, (int)blen, NULL)) ||
            !(bld = OSSL_PARAM_BLD_new()) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
            !(params = OSSL_PARAM_BLD_to_param(bld)))
            goto out;
        pkey = pkey_from_params("RSA", params);
        goto out;
    }
    /* CKA_EC_POINT: a DER OCTET STRING around the point. */
    if (!(a = attr_get(s, h, CKA_EC_POINT, &alen)) || alen < 3 || a[0] != 0x04)
        goto out;
    {
        size_t hdr = a[1] < 0x80 ? 2 : 3, plen = alen - hdr;
        if ((hdr == 2 ? a[1] : a[2]) != plen)
            goto out;
        if (k->type == CKK_EC_EDWARDS) {
            pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL,
                                                  a + hdr, plen);
            goto out;
        }
        if (!(b = attr_get(s, h, CKA_EC_PARAMS, &blen)))
            goto out;
        if (blen == sizeof(oid_p256) && !memcmp(b, oid_p256, blen))
            group = "P-256";
        else if (blen == sizeof(oid_p384) && !memcmp(b, oid_p384, blen))
            group = "P-384";
        else if (blen == sizeof(oid_p521) && !memcmp(b, oid_p521, blen))
            group = "P-521";
        else
            goto out;
        if (!(bld = OSSL_PARAM_BLD_new()) ||
            !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                             group, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                              a + hdr, plen) ||
            !(params = OSSL_PARAM_BLD_to_param(bld)))
            goto out;
        pkey = pkey_from_params("EC", params);
    }
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(a);
    free(b);
    return pkey;
}

/* ---- setup ------------------------------------------------------------- */

static inline int make_store(void)
{
    sr_config cfg;
    sr_ref_spec spec;
    sr_ref_info info;
    sr_store *st = NULL;
    const unsigned char *p;
    char err[512];
    size_t i;
    int ok = 1;

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "test_pkcs11";
    CHECK_RC(sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)),
             SR_OK);
    if (!st) {
        fprintf(stderr, "sr_store_init: %s\n", err);
        return 0;
    }
    for (i = 0; i < KEY_COUNT; i++) {
        memset(&spec, 0, sizeof(spec));
        spec.name = keys[i].name;
        spec.kind = SR_KIND_CERTIFICATE;
        spec.generate = keys[i].generate;
        CHECK_RC(sr_ref_create(st, &spec), SR_OK);
        memset(&info, 0, sizeof(info));
        if (sr_ref_lookup(st, keys[i].name, &info) != SR_OK ||
            !(p = info.public_key_der) ||
            !(keys[i].spki = d2i_PUBKEY(NULL, &p, (long)info.public_key_len))) {
            fprintf(stderr, "%s: %s\n", keys[i].name, sr_store_errmsg(st));
            ok = 0;
        }
        sr_ref_info_clear(&info);
    }
    sr_store_free(st);
    return ok;
}

/* Our own store handle, for what the module did to the store. */
static inline sr_store *store_open(void)
{
    sr_config cfg;
    sr_store *st = NULL;
    char err[512];

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "test_pkcs11";
    if (sr_store_open(&cfg, &st, err, sizeof(err)) != SR_OK)
        fprintf(stderr, "sr_store_open: %s\n", err);
    return st;
}

static inline int load_module(void)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    void *dl = dlopen(SECRETREF_MODULE_DIR "/secretref-pkcs11.so",
                      RTLD_NOW | RTLD_LOCAL);

    if (!dl) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 0;
    }
    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    CHECK(get_list != NULL);
    if (!get_list)
        return 0;
    CHECK_RC(get_list(NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(get_list(&F), CKR_OK);
    CHECK(F && F->version.major == 2 && F->version.minor == 40);
    /* Only the C_Get* entry points leave the module. */
    CHECK(dlsym(dl, "C_Initialize") == NULL);
    CHECK(dlsym(dl, "sr_store_open") == NULL);
    return F != NULL;
}

/* ---- state checks ------------------------------------------------------ */

/* Every function that needs the module answers NOT_INITIALIZED. */
static inline void check_not_initialized(CK_SESSION_HANDLE s)
{
    CK_INFO info;
    CK_SLOT_INFO sinfo;
    CK_TOKEN_INFO tinfo;
    CK_SESSION_INFO session_info;
    CK_MECHANISM_INFO minfo;
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_ULONG n = 0;
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE oh;
    unsigned char buf[64];
    CK_ULONG buf_len = sizeof(buf);

    CHECK_RC(F->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetSlotList(CK_FALSE, NULL, &n),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetSlotInfo(1, &sinfo), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetTokenInfo(1, &tinfo), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetMechanismList(1, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetMechanismInfo(1, CKM_ECDSA, &minfo),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_CloseSession(s), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_CloseAllSessions(1), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GetSessionInfo(s, &session_info),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "", 0),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_FindObjectsInit(s, NULL, 0), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_FindObjects(s, &oh, 1, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_SignInit(s, &m, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_Sign(s, buf, 32, buf, &buf_len),
             CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_GenerateRandom(s, buf, 8), CKR_CRYPTOKI_NOT_INITIALIZED);
    CHECK_RC(F->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static inline void find_keys(CK_SESSION_HANDLE s)
{
    size_t i;

    for (i = 0; i < KEY_COUNT; i++) {
        priv_h[i] = find_one(s, CKO_PRIVATE_KEY, keys[i].name);
        pub_h[i] = find_one(s, CKO_PUBLIC_KEY, keys[i].name);
        CHECK(priv_h[i] != CK_INVALID_HANDLE);
        CHECK(pub_h[i] != CK_INVALID_HANDLE && pub_h[i] != priv_h[i]);
        EVP_PKEY_free(token_pub[i]);
        token_pub[i] = pkey_from_token(s, pub_h[i], &keys[i]);
        CHECK(token_pub[i] != NULL);
        if (token_pub[i] && keys[i].spki)
            CHECK(EVP_PKEY_eq(token_pub[i], keys[i].spki) == 1);
    }
}

/* ---- main -------------------------------------------------------------- */

/* Makes the temp folder under $SECRETREF_TEST_TMP and the store in it,
 * with nothing from the user's configuration: the module learns where the
 * store is through pReserved alone. Then loads the module. */
static inline int p11t_begin(const char *name)
{
    if (!test_dir_make(tmpdir, sizeof(tmpdir), name))
        return 0;
    snprintf(store_path, sizeof(store_path), "%s/store/store.db", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/keys/master.key", tmpdir);
    snprintf(init_reserved, sizeof(init_reserved), "store=%s key_file=%s",
             store_path, key_path);
    return make_store() && load_module();
}

/* Frees what the helpers hold, removes the temp folder when every check
 * passed, and gives the exit status. */
static inline int p11t_end(const char *name)
{
    size_t i;

    for (i = 0; i < KEY_COUNT; i++) {
        EVP_PKEY_free(keys[i].spki);
        EVP_PKEY_free(token_pub[i]);
    }
    test_dir_done(tmpdir, check_failures);
    return check_done(name);
}

#endif
