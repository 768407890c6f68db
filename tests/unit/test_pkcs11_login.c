/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 module on a passphrase store, in-process (dlopen, the store
 * through pReserved): the user PIN is the passphrase. The token says
 * CKF_LOGIN_REQUIRED; public keys are readable before login, private keys
 * are neither visible nor usable; a wrong PIN is CKR_PIN_INCORRECT; the
 * login covers every session and ends with C_Logout or the last session
 * closed, after which nothing of the key is left usable. The key-file
 * store's side is in test_pkcs11.c. */
#include "check.h"
#include "secretref.h"
#include "testdir.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SECRETREF_MODULE_DIR
#error "SECRETREF_MODULE_DIR: the folder of secretref-pkcs11.so"
#endif

#define KEY_NAME "login-p256"
#define PASSPHRASE "correct horse battery staple"

static CK_FUNCTION_LIST_PTR F;
static CK_SLOT_ID slot;
static char tmpdir[PATH_MAX], store_path[PATH_MAX + 32],
    init_reserved[PATH_MAX + 64];
static EVP_PKEY *spki; /* the key's public half, as the store has it */

static const unsigned char msg[] = "signed after C_Login";

static int make_store(void)
{
    sr_config cfg;
    sr_ref_spec spec;
    sr_ref_info info;
    sr_store *st = NULL;
    const unsigned char *p;
    char err[512];

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.passphrase = PASSPHRASE;
    cfg.program = "test_pkcs11_login";
    CHECK_RC(
        sr_store_init(&cfg, SR_KEY_SOURCE_PASSPHRASE, &st, err, sizeof(err)),
        SR_OK);
    if (!st) {
        fprintf(stderr, "sr_store_init: %s\n", err);
        return 0;
    }
    memset(&spec, 0, sizeof(spec));
    spec.name = KEY_NAME;
    spec.kind = SR_KIND_CERTIFICATE;
    spec.generate = "ec-p256";
    CHECK_RC(sr_ref_create(st, &spec), SR_OK);
    memset(&info, 0, sizeof(info));
    if (sr_ref_lookup(st, KEY_NAME, &info) == SR_OK &&
        (p = info.public_key_der))
        spki = d2i_PUBKEY(NULL, &p, (long)info.public_key_len);
    sr_ref_info_clear(&info);
    sr_store_free(st);
    CHECK(spki != NULL);
    return spki != NULL;
}

static int load_module(void)
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
    return get_list && get_list(&F) == CKR_OK;
}

static CK_SESSION_HANDLE open_session(CK_FLAGS flags)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    CHECK_RC(F->C_OpenSession(slot, CKF_SERIAL_SESSION | flags, NULL, NULL, &s),
             CKR_OK);
    return s;
}

static CK_STATE state(CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;

    if (F->C_GetSessionInfo(s, &info) != CKR_OK)
        return (CK_STATE)-1;
    return info.state;
}

/* How many objects of class the session sees; the first in *h. */
static CK_ULONG count_class(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                            CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
    CK_OBJECT_HANDLE found[8];
    CK_ULONG n = 0;

    if (F->C_FindObjectsInit(s, &t, 1) != CKR_OK)
        return (CK_ULONG)-1;
    CHECK_RC(F->C_FindObjects(s, found, 8, &n), CKR_OK);
    CHECK_RC(F->C_FindObjectsFinal(s), CKR_OK);
    if (h)
        *h = n ? found[0] : CK_INVALID_HANDLE;
    return n;
}

static CK_RV login(CK_SESSION_HANDLE s, const char *pin)
{
    return F->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

/* C_SignInit + C_Sign with ECDSA-SHA256, verified against the store's
 * public key; the C_SignInit result. */
static CK_RV sign_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    unsigned char sig[64], *der = NULL;
    CK_ULONG len = sizeof(sig);
    ECDSA_SIG *es;
    EVP_MD_CTX *mctx;
    BIGNUM *r, *bs;
    int n, ok = 0;
    CK_RV rv;

    if ((rv = F->C_SignInit(s, &m, key)) != CKR_OK)
        return rv;
    CHECK_RC(F->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg), sig, &len), CKR_OK);
    CHECK(len == 64);
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, 32, NULL);
    bs = BN_bin2bn(sig + 32, 32, NULL);
    if (es && r && bs && ECDSA_SIG_set0(es, r, bs) == 1) {
        r = bs = NULL;
        if ((n = i2d_ECDSA_SIG(es, &der)) > 0 && (mctx = EVP_MD_CTX_new())) {
            ok = EVP_DigestVerifyInit_ex(mctx, NULL, "SHA256", NULL, NULL, spki,
                                         NULL) == 1 &&
                 EVP_DigestVerify(mctx, der, (size_t)n, msg, sizeof(msg)) == 1;
            EVP_MD_CTX_free(mctx);
        }
    }
    BN_free(r);
    BN_free(bs);
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    CHECK(ok);
    return rv;
}

static void test_login(void)
{
    CK_C_INITIALIZE_ARGS a;
    CK_TOKEN_INFO tinfo;
    CK_ULONG n = 1;
    CK_SESSION_HANDLE ro, rw, s3;
    CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE, pub = CK_INVALID_HANDLE, h, h2;
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_MECHANISM gen = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL b = 0;
    CK_ATTRIBUTE t_sens = {CKA_SENSITIVE, &b, sizeof(b)};
    unsigned char point[80];
    CK_ATTRIBUTE t_point = {CKA_EC_POINT, point, sizeof(point)};

    memset(&a, 0, sizeof(a));
    a.flags = CKF_OS_LOCKING_OK;
    a.pReserved = init_reserved;
    CHECK_RC(F->C_Initialize(&a), CKR_OK);
    CHECK_RC(F->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);

    CHECK_RC(F->C_GetTokenInfo(slot, &tinfo), CKR_OK);
    CHECK(tinfo.flags & CKF_LOGIN_REQUIRED);
    CHECK(tinfo.flags & CKF_USER_PIN_INITIALIZED);
    CHECK(tinfo.flags & CKF_TOKEN_INITIALIZED);
    CHECK(tinfo.ulMinPinLen >= 1 && tinfo.ulMinPinLen <= tinfo.ulMaxPinLen);
    CHECK(tinfo.ulMaxPinLen >= strlen(PASSPHRASE));

    ro = open_session(0);
    rw = open_session(CKF_RW_SESSION);
    CHECK(state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK(state(rw) == CKS_RW_PUBLIC_SESSION);

    /* Before login: the public key is there and readable, the private key
     * is not, and nothing is written. */
    CHECK(count_class(ro, CKO_PUBLIC_KEY, &pub) == 1);
    CHECK_RC(F->C_GetAttributeValue(ro, pub, &t_point, 1), CKR_OK);
    CHECK(t_point.ulValueLen == 67 && point[0] == 0x04 && point[1] == 0x41);
    CHECK(count_class(ro, CKO_PRIVATE_KEY, NULL) == 0);
    CHECK_RC(F->C_GenerateKeyPair(rw, &gen, NULL, 0, NULL, 0, &h, &h2),
             CKR_USER_NOT_LOGGED_IN);
    CHECK_RC(F->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    /* A context-specific login has nothing to authorise here: no key has
     * CKA_ALWAYS_AUTHENTICATE. It logs nobody in. */
    CHECK_RC(F->C_Login(ro, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)PASSPHRASE,
                        strlen(PASSPHRASE)),
             CKR_OPERATION_NOT_INITIALIZED);
    CHECK(state(ro) == CKS_RO_PUBLIC_SESSION);

    /* A wrong PIN. */
    CHECK_RC(login(ro, "wrong horse"), CKR_PIN_INCORRECT);
    CHECK(state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK(count_class(ro, CKO_PRIVATE_KEY, NULL) == 0);

    /* The passphrase: every session is the user's. */
    CHECK_RC(login(ro, PASSPHRASE), CKR_OK);
    CHECK(state(ro) == CKS_RO_USER_FUNCTIONS);
    CHECK(state(rw) == CKS_RW_USER_FUNCTIONS);
    CHECK_RC(login(rw, PASSPHRASE), CKR_USER_ALREADY_LOGGED_IN);
    s3 = open_session(0);
    CHECK(state(s3) == CKS_RO_USER_FUNCTIONS);
    CHECK_RC(F->C_CloseSession(s3), CKR_OK);
    CHECK(count_class(rw, CKO_PRIVATE_KEY, &priv) == 1);
    CHECK_RC(F->C_GetAttributeValue(ro, priv, &t_sens, 1), CKR_OK);
    CHECK(b == CK_TRUE);
    CHECK_RC(sign_verify(ro, priv), CKR_OK);
    CHECK_RC(sign_verify(rw, priv), CKR_OK);

    /* Logout: the private key goes out of sight and out of use. */
    CHECK_RC(F->C_Logout(rw), CKR_OK);
    CHECK(state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK(state(rw) == CKS_RW_PUBLIC_SESSION);
    CHECK(count_class(ro, CKO_PRIVATE_KEY, NULL) == 0);
    CHECK(count_class(ro, CKO_PUBLIC_KEY, NULL) == 1);
    CHECK_RC(F->C_GetAttributeValue(ro, priv, &t_sens, 1),
             CKR_OBJECT_HANDLE_INVALID);
    CHECK_RC(F->C_SignInit(ro, &m, priv), CKR_KEY_HANDLE_INVALID);
    CHECK_RC(F->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    CHECK_RC(F->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);

    /* Log in again, then close every session: that logs out too, and a
     * new session starts public. */
    CHECK_RC(login(rw, PASSPHRASE), CKR_OK);
    CHECK(count_class(ro, CKO_PRIVATE_KEY, &priv) == 1);
    CHECK_RC(F->C_CloseAllSessions(slot), CKR_OK);
    ro = open_session(0);
    CHECK(state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK(count_class(ro, CKO_PRIVATE_KEY, NULL) == 0);
    CHECK_RC(F->C_SignInit(ro, &m, priv), CKR_KEY_HANDLE_INVALID);
    CHECK_RC(F->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    CHECK_RC(F->C_GetTokenInfo(slot, &tinfo), CKR_OK);
    CHECK(tinfo.flags & CKF_LOGIN_REQUIRED);

    CHECK_RC(F->C_Finalize(NULL), CKR_OK);
}

int main(void)
{
    if (!test_dir_make(tmpdir, sizeof(tmpdir), "test_pkcs11_login"))
        return 1;
    snprintf(store_path, sizeof(store_path), "%s/store/store.db", tmpdir);
    snprintf(init_reserved, sizeof(init_reserved), "store=%s", store_path);

    if (make_store() && load_module())
        test_login();
    EVP_PKEY_free(spki);

    test_dir_done(tmpdir, check_failures);
    return check_done("test_pkcs11_login");
}
