/* SPDX-License-Identifier: Apache-2.0 */
/* The PKCS#11 module in-process, against PKCS#11 2.40 (the store and the
 * module as test_pkcs11.h sets them up): C_Initialize's argument rules,
 * library, slot, token and mechanism information, the session state
 * machine, object search, and attribute templates with their CKR codes.
 * Signing, decryption, ECDH, key generation, fork() and threads are in
 * test_pkcs11_sign.c; the passphrase store's login in
 * test_pkcs11_login.c. */
#include "test_pkcs11.h"

#include <pthread.h>

#define THREADS 8 /* sessions the token must allow at least */

/* ---- C_Initialize and C_Finalize --------------------------------------- */

static CK_RV mx_create(CK_VOID_PTR_PTR m)
{
    pthread_mutex_t *mx = malloc(sizeof(pthread_mutex_t));

    if (!mx)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(mx, NULL);
    *m = mx;
    return CKR_OK;
}

static CK_RV mx_destroy(CK_VOID_PTR m)
{
    pthread_mutex_destroy(m);
    free(m);
    return CKR_OK;
}

static CK_RV mx_lock(CK_VOID_PTR m)
{
    return pthread_mutex_lock(m) ? CKR_GENERAL_ERROR : CKR_OK;
}

static CK_RV mx_unlock(CK_VOID_PTR m)
{
    return pthread_mutex_unlock(m) ? CKR_GENERAL_ERROR : CKR_OK;
}

struct init_case {
    const char *what;
    int null_args;
    CK_FLAGS flags;
    unsigned callbacks;   /* bits: create, destroy, lock, unlock */
    const char *reserved; /* NULL: init_reserved */
    CK_RV want;
};

static const struct init_case init_cases[] = {
    {"NULL (the store from SECRETREF_STORE)", 1, 0, 0, NULL, CKR_OK},
    {"CKF_OS_LOCKING_OK", 0, CKF_OS_LOCKING_OK, 0, NULL, CKR_OK},
    {"four callbacks and CKF_OS_LOCKING_OK", 0, CKF_OS_LOCKING_OK, 0xf, NULL,
     CKR_OK},
    {"no flags, no callbacks", 0, 0, 0, NULL, CKR_OK},
    {"CKF_LIBRARY_CANT_CREATE_OS_THREADS", 0,
     CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK, 0, NULL, CKR_OK},
    {"two of four callbacks", 0, CKF_OS_LOCKING_OK, 0x3, NULL,
     CKR_ARGUMENTS_BAD},
    {"one callback, no flag", 0, 0, 0x8, NULL, CKR_ARGUMENTS_BAD},
    {"callbacks without CKF_OS_LOCKING_OK", 0, 0, 0xf, NULL, CKR_CANT_LOCK},
    {"an unknown setting in pReserved", 0, CKF_OS_LOCKING_OK, 0, "colour=blue",
     CKR_ARGUMENTS_BAD},
    {"a setting without '='", 0, CKF_OS_LOCKING_OK, 0, "store",
     CKR_ARGUMENTS_BAD},
};
#define INIT_CASES (sizeof(init_cases) / sizeof(init_cases[0]))

static void test_initialize(void)
{
    CK_C_INITIALIZE_ARGS a;
    CK_INFO info;
    size_t i;

    check_not_initialized(1);
    for (i = 0; i < INIT_CASES; i++) {
        const struct init_case *c = &init_cases[i];
        CK_RV rv;
        memset(&a, 0, sizeof(a));
        a.flags = c->flags;
        a.pReserved = (void *)(c->reserved ? c->reserved : init_reserved);
        if (c->callbacks & 1)
            a.CreateMutex = mx_create;
        if (c->callbacks & 2)
            a.DestroyMutex = mx_destroy;
        if (c->callbacks & 4)
            a.LockMutex = mx_lock;
        if (c->callbacks & 8)
            a.UnlockMutex = mx_unlock;
        if (c->null_args) {
            setenv("SECRETREF_STORE", store_path, 1);
            setenv("SECRETREF_KEY_FILE", key_path, 1);
        }
        rv = F->C_Initialize(c->null_args ? NULL : &a);
        unsetenv("SECRETREF_STORE");
        unsetenv("SECRETREF_KEY_FILE");
        if (rv != c->want)
            fprintf(stderr, "C_Initialize(%s): %#lx, want %#lx\n", c->what, rv,
                    c->want);
        CHECK(rv == c->want);
        if (rv == CKR_OK) {
            CHECK_RC(F->C_GetInfo(&info), CKR_OK);
            CHECK_RC(F->C_Finalize(NULL), CKR_OK);
        }
        /* A refused C_Initialize leaves the module uninitialized. */
        CHECK_RC(F->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    /* A store that cannot be opened fails, and a retry still works. */
    a = init_args(CKF_OS_LOCKING_OK);
    a.pReserved = (void *)"store=/nonexistent/store.db key_file=/nonexistent";
    CHECK(F->C_Initialize(&a) != CKR_OK);
    CHECK_RC(F->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);

    CHECK_RC(initialize(), CKR_OK);
    CHECK_RC(initialize(), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_RC(F->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CHECK_RC(F->C_Finalize((void *)init_reserved), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_GetInfo(&info), CKR_OK);
    CHECK_RC(F->C_Finalize(NULL), CKR_OK);
    CHECK_RC(F->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* Finalize with a session open closes it. */
    CHECK_RC(initialize(), CKR_OK);
    open_session(0);
    CHECK_RC(F->C_Finalize(NULL), CKR_OK);
    check_not_initialized(1);
}

/* ---- library, slot, token ---------------------------------------------- */

/* A PKCS#11 text field: printable, padded with spaces, no NUL. */
static int padded(const CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t len = strlen(text), i;

    if (len > size || memcmp(field, text, len) != 0)
        return 0;
    for (i = len; i < size; i++)
        if (field[i] != ' ')
            return 0;
    return 1;
}

static int printable(const CK_UTF8CHAR *field, size_t size)
{
    size_t i;

    for (i = 0; i < size; i++)
        if (field[i] < 0x20 || field[i] > 0x7e)
            return 0;
    return 1;
}

static void test_info(void)
{
    CK_INFO info;
    CK_SLOT_INFO sinfo;
    CK_TOKEN_INFO tinfo;
    CK_SLOT_ID slots[4];
    CK_ULONG n;
    CK_SESSION_HANDLE ro, rw;

    CHECK_RC(F->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_GetInfo(&info), CKR_OK);
    CHECK(info.cryptokiVersion.major == 2 && info.cryptokiVersion.minor == 40);
    CHECK(
        padded(info.manufacturerID, sizeof(info.manufacturerID), "secretref"));
    CHECK(printable(info.libraryDescription, sizeof(info.libraryDescription)));
    CHECK(info.flags == 0);

    CHECK_RC(F->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
    n = 0;
    CHECK_RC(F->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CHECK(n == 1);
    n = 0;
    CHECK_RC(F->C_GetSlotList(CK_TRUE, slots, &n), CKR_BUFFER_TOO_SMALL);
    CHECK(n == 1);
    n = 4;
    CHECK_RC(F->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    CHECK(n == 1);
    slot = slots[0];

    CHECK_RC(F->C_GetSlotInfo(slot, &sinfo), CKR_OK);
    CHECK(sinfo.flags & CKF_TOKEN_PRESENT);
    CHECK(!(sinfo.flags & CKF_REMOVABLE_DEVICE));
    CHECK(printable(sinfo.slotDescription, sizeof(sinfo.slotDescription)));
    CHECK(printable(sinfo.manufacturerID, sizeof(sinfo.manufacturerID)));

    CHECK_RC(F->C_GetTokenInfo(slot, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_GetTokenInfo(slot, &tinfo), CKR_OK);
    CHECK(padded(tinfo.label, sizeof(tinfo.label), "secretref"));
    CHECK(tinfo.flags & CKF_TOKEN_INITIALIZED);
    CHECK(tinfo.flags & CKF_USER_PIN_INITIALIZED);
    /* A key-file store: keys are used without a PIN. */
    CHECK(!(tinfo.flags & CKF_LOGIN_REQUIRED));
    CHECK(!(tinfo.flags & CKF_WRITE_PROTECTED));
    CHECK(printable(tinfo.manufacturerID, sizeof(tinfo.manufacturerID)));
    CHECK(printable(tinfo.model, sizeof(tinfo.model)));
    CHECK(printable(tinfo.serialNumber, sizeof(tinfo.serialNumber)));
    CHECK(tinfo.serialNumber[0] != ' ');
    CHECK(tinfo.ulMaxSessionCount >= THREADS);
    CHECK(tinfo.ulSessionCount == 0 && tinfo.ulRwSessionCount == 0);
    CHECK(tinfo.ulMinPinLen <= tinfo.ulMaxPinLen);

    /* Session counts: all sessions, and the read-write ones. */
    ro = open_session(0);
    rw = open_session(CKF_RW_SESSION);
    CHECK_RC(F->C_GetTokenInfo(slot, &tinfo), CKR_OK);
    CHECK(tinfo.ulSessionCount == 2);
    CHECK(tinfo.ulRwSessionCount == 1);
    CHECK_RC(F->C_CloseSession(ro), CKR_OK);
    CHECK_RC(F->C_CloseSession(rw), CKR_OK);

    /* Every function that names a slot checks it. */
    CHECK_RC(F->C_GetSlotInfo(slot + 1, &sinfo), CKR_SLOT_ID_INVALID);
    CHECK_RC(F->C_GetSlotInfo(0, &sinfo), CKR_SLOT_ID_INVALID);
    CHECK_RC(F->C_GetTokenInfo(slot + 1, &tinfo), CKR_SLOT_ID_INVALID);
    CHECK_RC(F->C_GetMechanismList(slot + 1, NULL, &n), CKR_SLOT_ID_INVALID);
    {
        CK_MECHANISM_INFO minfo;
        CK_SESSION_HANDLE h;
        CHECK_RC(F->C_GetMechanismInfo(slot + 1, CKM_ECDSA, &minfo),
                 CKR_SLOT_ID_INVALID);
        CHECK_RC(F->C_OpenSession(slot + 1, CKF_SERIAL_SESSION, NULL, NULL, &h),
                 CKR_SLOT_ID_INVALID);
    }
    CHECK_RC(F->C_CloseAllSessions(slot + 1), CKR_SLOT_ID_INVALID);
}

/* ---- mechanisms -------------------------------------------------------- */

struct mech_case {
    CK_MECHANISM_TYPE type;
    CK_FLAGS must, must_not;
    CK_ULONG key_bits; /* within [min, max] */
};

#define NOT_KEYS (CKF_SIGN | CKF_DECRYPT | CKF_DERIVE)
static const struct mech_case mech_cases[] = {
    {CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, NOT_KEYS, 2048},
    {CKM_RSA_PKCS, CKF_SIGN | CKF_DECRYPT, CKF_DERIVE, 2048},
    {CKM_SHA1_RSA_PKCS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA256_RSA_PKCS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA384_RSA_PKCS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA512_RSA_PKCS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_RSA_PKCS_PSS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA256_RSA_PKCS_PSS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA384_RSA_PKCS_PSS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_SHA512_RSA_PKCS_PSS, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 2048},
    {CKM_RSA_PKCS_OAEP, CKF_DECRYPT, CKF_SIGN | CKF_DERIVE, 2048},
    {CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, NOT_KEYS, 256},
    {CKM_ECDSA, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 256},
    {CKM_ECDSA_SHA256, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 384},
    {CKM_ECDSA_SHA384, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 384},
    {CKM_ECDSA_SHA512, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 521},
    {CKM_ECDH1_DERIVE, CKF_DERIVE, CKF_SIGN | CKF_DECRYPT, 256},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, NOT_KEYS, 0},
    {CKM_EDDSA, CKF_SIGN, CKF_DECRYPT | CKF_DERIVE, 0},
};
#define MECH_CASES (sizeof(mech_cases) / sizeof(mech_cases[0]))

static void test_mechanisms(void)
{
    static const CK_MECHANISM_TYPE unknown[] = {CKM_DSA, CKM_MD5_RSA_PKCS,
                                                CKM_AES_CBC, CKM_RSA_X_509,
                                                CKM_VENDOR_DEFINED | 0x1234};
    CK_MECHANISM_TYPE list[128];
    CK_MECHANISM_INFO info;
    CK_ULONG n = 0, i, j;
    int found;

    CHECK_RC(F->C_GetMechanismList(slot, NULL, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_GetMechanismList(slot, NULL, &n), CKR_OK);
    CHECK(n >= MECH_CASES && n <= 128);
    i = 1;
    CHECK_RC(F->C_GetMechanismList(slot, list, &i), CKR_BUFFER_TOO_SMALL);
    CHECK(i == n);
    i = 128;
    CHECK_RC(F->C_GetMechanismList(slot, list, &i), CKR_OK);
    CHECK(i == n);
    for (i = 0; i < MECH_CASES; i++) {
        const struct mech_case *c = &mech_cases[i];
        for (found = 0, j = 0; j < n; j++)
            found |= list[j] == c->type;
        if (!found)
            fprintf(stderr, "mechanism %#lx not listed\n", c->type);
        CHECK(found);
        CHECK_RC(F->C_GetMechanismInfo(slot, c->type, NULL), CKR_ARGUMENTS_BAD);
        memset(&info, 0, sizeof(info));
        CHECK_RC(F->C_GetMechanismInfo(slot, c->type, &info), CKR_OK);
        if ((info.flags & c->must) != c->must || (info.flags & c->must_not))
            fprintf(stderr, "mechanism %#lx: flags %#lx\n", c->type,
                    info.flags);
        CHECK((info.flags & c->must) == c->must);
        CHECK(!(info.flags & c->must_not));
        CHECK(info.ulMinKeySize <= info.ulMaxKeySize);
        if (c->key_bits)
            CHECK(info.ulMinKeySize <= c->key_bits &&
                  c->key_bits <= info.ulMaxKeySize);
    }
    /* Every listed mechanism has its information. */
    for (j = 0; j < n; j++)
        CHECK_RC(F->C_GetMechanismInfo(slot, list[j], &info), CKR_OK);
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        CHECK_RC(F->C_GetMechanismInfo(slot, unknown[i], &info),
                 CKR_MECHANISM_INVALID);
}

/* ---- sessions ---------------------------------------------------------- */

static CK_STATE session_state(CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;

    memset(&info, 0xff, sizeof(info));
    if (F->C_GetSessionInfo(s, &info) != CKR_OK)
        return (CK_STATE)-1;
    return info.state;
}

/* Every function that takes a session rejects h. */
static void check_session_invalid(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO info;
    CK_MECHANISM m = {CKM_ECDSA_SHA256, NULL, 0};
    CK_MECHANISM gen = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE t = {CKA_CLASS, &class_priv, sizeof(class_priv)};
    CK_OBJECT_HANDLE o, o2;
    CK_ULONG n;
    unsigned char buf[512];
    CK_ULONG buf_len = sizeof(buf);
    unsigned char point[65] = {0x04};
    CK_ECDH1_DERIVE_PARAMS ecdh = {CKD_NULL, 0, NULL, sizeof(point), point};
    CK_MECHANISM derive = {CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh)};

    CHECK_RC(F->C_GetSessionInfo(h, &info), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "", 0),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_Logout(h), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_FindObjectsInit(h, &t, 1), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_FindObjects(h, &o, 1, &n), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_FindObjectsFinal(h), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_GetAttributeValue(h, priv_h[K_P256], &t, 1),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_SetAttributeValue(h, priv_h[K_P256], &t, 1),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_GetObjectSize(h, priv_h[K_P256], &n),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_CopyObject(h, priv_h[K_P256], &t, 1, &o),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_DestroyObject(h, priv_h[K_P256]), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_CreateObject(h, &t, 1, &o), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_GenerateKeyPair(h, &gen, NULL, 0, NULL, 0, &o, &o2),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_SignInit(h, &m, priv_h[K_P256]), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_Sign(h, buf, 32, buf, &buf_len), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_SignUpdate(h, buf, 32), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_SignFinal(h, buf, &buf_len), CKR_SESSION_HANDLE_INVALID);
    m.mechanism = CKM_RSA_PKCS;
    CHECK_RC(F->C_DecryptInit(h, &m, priv_h[K_RSA]),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_Decrypt(h, buf, 256, buf, &buf_len),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_DeriveKey(h, &derive, priv_h[K_P256], NULL, 0, &o),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_WrapKey(h, &m, pub_h[K_RSA], priv_h[K_RSA], buf, &buf_len),
             CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_GenerateRandom(h, buf, 16), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
}

static void test_sessions(void)
{
    CK_SESSION_HANDLE ro, rw, h, s[3];
    CK_SESSION_INFO info;
    unsigned char rnd[32], zero[32];
    size_t i;

    CHECK_RC(F->C_OpenSession(slot, 0, NULL, NULL, &h),
             CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    CHECK_RC(F->C_OpenSession(slot, CKF_RW_SESSION, NULL, NULL, &h),
             CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    CHECK_RC(F->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
             CKR_ARGUMENTS_BAD);

    ro = open_session(0);
    rw = open_session(CKF_RW_SESSION);
    CHECK(ro != CK_INVALID_HANDLE && rw != CK_INVALID_HANDLE && ro != rw);
    CHECK_RC(F->C_GetSessionInfo(rw, NULL), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_GetSessionInfo(ro, &info), CKR_OK);
    CHECK(info.slotID == slot);
    CHECK(info.flags == CKF_SERIAL_SESSION);
    CHECK(info.state == CKS_RO_PUBLIC_SESSION);
    CHECK_RC(F->C_GetSessionInfo(rw, &info), CKR_OK);
    CHECK(info.flags == (CKF_SERIAL_SESSION | CKF_RW_SESSION));
    CHECK(info.state == CKS_RW_PUBLIC_SESSION);

    /* Login applies to every session of the token; a key-file store takes
     * any PIN (it has none). */
    CHECK_RC(F->C_Login(ro, 99, (CK_UTF8CHAR_PTR) "", 0),
             CKR_USER_TYPE_INVALID);
    CHECK_RC(F->C_Login(ro, CKU_USER, NULL, 4), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
    CHECK_RC(F->C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR) "", 0), CKR_OK);
    CHECK(session_state(ro) == CKS_RO_USER_FUNCTIONS);
    CHECK(session_state(rw) == CKS_RW_USER_FUNCTIONS);
    CHECK_RC(F->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR) "", 0),
             CKR_USER_ALREADY_LOGGED_IN);
    /* No security officer while the user is logged in. */
    CHECK(F->C_Login(rw, CKU_SO, (CK_UTF8CHAR_PTR) "", 0) != CKR_OK);
    CHECK_RC(F->C_Logout(rw), CKR_OK);
    CHECK(session_state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK(session_state(rw) == CKS_RW_PUBLIC_SESSION);
    CHECK_RC(F->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);

    /* C_GenerateRandom works in any session. */
    memset(rnd, 0, sizeof(rnd));
    memset(zero, 0, sizeof(zero));
    CHECK_RC(F->C_GenerateRandom(ro, rnd, sizeof(rnd)), CKR_OK);
    CHECK(memcmp(rnd, zero, sizeof(rnd)) != 0);
    CHECK_RC(F->C_GenerateRandom(ro, NULL, 4), CKR_ARGUMENTS_BAD);

    /* Closing the last session logs the user out. */
    CHECK_RC(F->C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR) "", 0), CKR_OK);
    CHECK_RC(F->C_CloseSession(ro), CKR_OK);
    CHECK(session_state(rw) == CKS_RW_USER_FUNCTIONS);
    CHECK_RC(F->C_CloseSession(rw), CKR_OK);
    ro = open_session(0);
    CHECK(session_state(ro) == CKS_RO_PUBLIC_SESSION);
    CHECK_RC(F->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);

    /* Invalid handles: never issued, 0, and closed ones. */
    check_session_invalid(CK_INVALID_HANDLE);
    check_session_invalid(0x7fffff);
    check_session_invalid(rw);

    /* C_CloseAllSessions closes every session of the slot. */
    for (i = 0; i < 3; i++)
        s[i] = open_session(i ? CKF_RW_SESSION : 0);
    CHECK_RC(F->C_CloseAllSessions(slot), CKR_OK);
    for (i = 0; i < 3; i++)
        CHECK_RC(F->C_GetSessionInfo(s[i], &info), CKR_SESSION_HANDLE_INVALID);
    CHECK_RC(F->C_GetSessionInfo(ro, &info), CKR_SESSION_HANDLE_INVALID);
    check_session_invalid(ro);
}

/* ---- object search ----------------------------------------------------- */

static void test_find(void)
{
    CK_SESSION_HANDLE s = open_session(0);
    CK_OBJECT_HANDLE h[32];
    CK_ULONG n, i;
    CK_KEY_TYPE k_rsa = CKK_RSA, k_ec = CKK_EC, k_ed = CKK_EC_EDWARDS;
    unsigned char id[ID_MAX];
    CK_ULONG id_len;
    CK_BYTE *p;
    const char *label = keys[K_P256].name, *none = "no-such-object";
    CK_ATTRIBUTE t_empty[1];
    CK_ATTRIBUTE t_priv[] = {{CKA_CLASS, &class_priv, sizeof(class_priv)}};
    CK_ATTRIBUTE t_pub[] = {{CKA_CLASS, &class_pub, sizeof(class_pub)}};
    CK_ATTRIBUTE t_cert[] = {{CKA_CLASS, &class_cert, sizeof(class_cert)}};
    CK_ATTRIBUTE t_secret[] = {
        {CKA_CLASS, &class_secret, sizeof(class_secret)}};
    CK_ATTRIBUTE t_label[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_ATTRIBUTE t_label_priv[] = {
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_CLASS, &class_priv, sizeof(class_priv)}};
    CK_ATTRIBUTE t_none[] = {{CKA_LABEL, (void *)none, strlen(none)}};
    CK_ATTRIBUTE t_ec_priv[] = {{CKA_CLASS, &class_priv, sizeof(class_priv)},
                                {CKA_KEY_TYPE, &k_ec, sizeof(k_ec)}};
    CK_ATTRIBUTE t_ed[] = {{CKA_KEY_TYPE, &k_ed, sizeof(k_ed)}};
    CK_ATTRIBUTE t_rsa_pub[] = {{CKA_KEY_TYPE, &k_rsa, sizeof(k_rsa)},
                                {CKA_CLASS, &class_pub, sizeof(class_pub)}};
    CK_ATTRIBUTE t_id[] = {{CKA_ID, id, 0}};
    /* OpenSSH's search for the key of a public key. */
    CK_ATTRIBUTE t_ssh[] = {{CKA_CLASS, &class_priv, sizeof(class_priv)},
                            {CKA_ID, id, 0},
                            {CKA_SIGN, &yes, sizeof(yes)}};
    CK_ATTRIBUTE t_token[] = {{CKA_TOKEN, &yes, sizeof(yes)}};
    CK_ATTRIBUTE t_public[] = {{CKA_PRIVATE, &no, sizeof(no)}};
    CK_ATTRIBUTE t_unknown[] = {{CKA_VENDOR_DEFINED | 0x77, &yes, sizeof(yes)}};
    struct {
        const char *what;
        CK_ATTRIBUTE *t;
        CK_ULONG n, want;
    } cases[] = {
        {"empty template", t_empty, 0, 2UL * KEY_COUNT},
        {"private keys", t_priv, 1, KEY_COUNT},
        {"public keys", t_pub, 1, KEY_COUNT},
        {"certificates (none yet)", t_cert, 1, 0},
        {"secret keys (none)", t_secret, 1, 0},
        {"label", t_label, 1, 2},
        {"label and class", t_label_priv, 2, 1},
        {"unknown label", t_none, 1, 0},
        {"EC private keys", t_ec_priv, 2, 3},
        {"Ed25519 keys", t_ed, 1, 2},
        {"RSA public key", t_rsa_pub, 2, 1},
        {"CKA_ID", t_id, 1, 2},
        {"OpenSSH's template", t_ssh, 3, 1},
        {"CKA_TOKEN true", t_token, 1, 2UL * KEY_COUNT},
        {"CKA_PRIVATE false", t_public, 1, KEY_COUNT},
        {"an attribute no object has", t_unknown, 1, 0},
    };

    CHECK_RC(F->C_FindObjects(s, h, 1, &n), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);
    CHECK_RC(F->C_FindObjectsInit(s, NULL, 1), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_FindObjectsInit(s, t_priv, 1), CKR_OK);
    CHECK_RC(F->C_FindObjectsInit(s, t_priv, 1), CKR_OPERATION_ACTIVE);
    CHECK_RC(F->C_FindObjects(s, NULL, 1, &n), CKR_ARGUMENTS_BAD);
    CHECK_RC(F->C_FindObjects(s, h, 32, &n), CKR_OK);
    CHECK(n == KEY_COUNT);
    CHECK_RC(F->C_FindObjects(s, h, 32, &n), CKR_OK);
    CHECK(n == 0);
    CHECK_RC(F->C_FindObjectsFinal(s), CKR_OK);
    CHECK_RC(F->C_FindObjectsFinal(s), CKR_OPERATION_NOT_INITIALIZED);

    /* Private keys are visible without login in a key-file store. */
    find_keys(s);
    p = attr_get(s, priv_h[K_P256], CKA_ID, &id_len);
    CHECK(p && id_len > 0 && id_len <= ID_MAX);
    if (p && id_len <= ID_MAX)
        memcpy(id, p, id_len);
    free(p);
    /* cppcheck-suppress unreadVariable ; read through cases[].t below */
    t_id[0].ulValueLen = id_len;
    t_ssh[1].ulValueLen = id_len;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = find(s, cases[i].t, cases[i].n, h, 32);
        if (n != cases[i].want)
            fprintf(stderr, "find %s: %lu objects, want %lu\n", cases[i].what,
                    n, cases[i].want);
        CHECK(n == cases[i].want);
    }
    CHECK(find(s, t_ssh, 3, h, 1) == 1 && h[0] == priv_h[K_P256]);
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- attributes -------------------------------------------------------- */

/* The EC point as the store's public key has it (uncompressed). */
static size_t spki_point(const struct key_case *k, unsigned char *out,
                         size_t size)
{
    size_t len = 0;
    const char *name = k->type == CKK_EC_EDWARDS
                           ? OSSL_PKEY_PARAM_PUB_KEY
                           : OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY;

    if (!k->spki ||
        EVP_PKEY_get_octet_string_param(k->spki, name, out, size, &len) != 1)
        return 0;
    return len;
}

static void check_key_attrs(CK_SESSION_HANDLE s, int i)
{
    const struct key_case *k = &keys[i];
    CK_OBJECT_HANDLE priv = priv_h[i], pub = pub_h[i];
    unsigned char *pid, *qid, point[160], want[170];
    CK_ULONG pid_len, qid_len, plen, wlen;

    CHECK(attr_ulong(s, priv, CKA_CLASS) == CKO_PRIVATE_KEY);
    CHECK(attr_ulong(s, pub, CKA_CLASS) == CKO_PUBLIC_KEY);
    CHECK(attr_ulong(s, priv, CKA_KEY_TYPE) == k->type);
    CHECK(attr_ulong(s, pub, CKA_KEY_TYPE) == k->type);
    CHECK(attr_bool(s, priv, CKA_TOKEN) == 1);
    CHECK(attr_bool(s, pub, CKA_TOKEN) == 1);
    CHECK(attr_bool(s, priv, CKA_PRIVATE) == 1);
    CHECK(attr_bool(s, pub, CKA_PRIVATE) == 0);
    CHECK(attr_equals(s, priv, CKA_LABEL, k->name, strlen(k->name)));
    CHECK(attr_equals(s, pub, CKA_LABEL, k->name, strlen(k->name)));
    pid = attr_get(s, priv, CKA_ID, &pid_len);
    qid = attr_get(s, pub, CKA_ID, &qid_len);
    CHECK(pid && pid_len > 0 && qid && qid_len == pid_len &&
          memcmp(pid, qid, pid_len) == 0);
    free(pid);
    free(qid);

    /* The private key's flags. */
    CHECK(attr_bool(s, priv, CKA_SIGN) == 1);
    CHECK(attr_bool(s, priv, CKA_SENSITIVE) == 1);
    CHECK(attr_bool(s, priv, CKA_EXTRACTABLE) == 0);
    CHECK(attr_bool(s, priv, CKA_ALWAYS_SENSITIVE) == 1);
    CHECK(attr_bool(s, priv, CKA_NEVER_EXTRACTABLE) == 1);
    CHECK(attr_bool(s, priv, CKA_ALWAYS_AUTHENTICATE) == 0);
    CHECK(attr_bool(s, priv, CKA_MODIFIABLE) == 0);
    CHECK(attr_bool(s, priv, CKA_DECRYPT) == (k->type == CKK_RSA));
    CHECK(attr_bool(s, priv, CKA_DERIVE) == (k->type == CKK_EC));
    CHECK(attr_bool(s, pub, CKA_VERIFY) == 1);
    CHECK(attr_bool(s, pub, CKA_SIGN) != 1);

    if (k->type == CKK_RSA) {
        unsigned char *n1, *n2, *e;
        CK_ULONG n1_len, n2_len, e_len;
        static const unsigned char f4[] = {0x01, 0x00, 0x01};
        n1 = attr_get(s, pub, CKA_MODULUS, &n1_len);
        n2 = attr_get(s, priv, CKA_MODULUS, &n2_len);
        CHECK(n1 && n1_len == 256 && (n1[0] & 0x80));
        CHECK(n2 && n2_len == n1_len && memcmp(n1, n2, n1_len) == 0);
        e = attr_get(s, priv, CKA_PUBLIC_EXPONENT, &e_len);
        CHECK(e && e_len == sizeof(f4) && memcmp(e, f4, e_len) == 0);
        free(n1);
        free(n2);
        free(e);
        CHECK(attr_equals(s, pub, CKA_PUBLIC_EXPONENT, f4, sizeof(f4)));
        CHECK(attr_ulong(s, pub, CKA_MODULUS_BITS) == 2048);
        CHECK(attr_bool(s, pub, CKA_ENCRYPT) == 1);
        return;
    }
    /* CKA_EC_PARAMS: the named curve's OID; CKA_EC_POINT: a DER OCTET
     * STRING around the point, 04 41 04 X Y for P-256. */
    CHECK(attr_equals(s, pub, CKA_EC_PARAMS, k->oid, k->oid_len));
    CHECK(attr_equals(s, priv, CKA_EC_PARAMS, k->oid, k->oid_len));
    plen = spki_point(k, point, sizeof(point));
    CHECK(plen > 0);
    want[0] = 0x04;
    if (plen < 0x80) {
        want[1] = (unsigned char)plen;
        wlen = 2;
    } else {
        want[1] = 0x81;
        want[2] = (unsigned char)plen;
        wlen = 3;
    }
    memcpy(want + wlen, point, plen);
    wlen += plen;
    switch (i) {
    case K_P256:
        CHECK(plen == 65 && want[1] == 0x41 && want[2] == 0x04);
        break;
    case K_P384:
        CHECK(plen == 97 && want[1] == 0x61 && want[2] == 0x04);
        break;
    case K_P521:
        CHECK(plen == 133 && want[1] == 0x81 && want[2] == 0x85 &&
              want[3] == 0x04);
        break;
    case K_ED:
        CHECK(plen == 32 && want[1] == 0x20);
        break;
    }
    CHECK(attr_equals(s, pub, CKA_EC_POINT, want, wlen));
    CHECK(attr_equals(s, priv, CKA_EC_POINT, want, wlen));
}

static void test_attributes(void)
{
    CK_SESSION_HANDLE s = open_session(CKF_RW_SESSION);
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE kt;
    char label[64], small[3];
    unsigned char buf[512];
    CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
    CK_ULONG n, len;
    CK_MECHANISM wrap = {CKM_RSA_PKCS, NULL, 0};
    size_t i;

    for (i = 0; i < KEY_COUNT; i++)
        check_key_attrs(s, (int)i);

    /* A sensitive attribute: CKR_ATTRIBUTE_SENSITIVE, its length
     * unavailable, and the rest of the template still filled. */
    {
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_PRIVATE_EXPONENT, buf, sizeof(buf)},
                            {CKA_LABEL, label, sizeof(label)},
                            {CKA_PRIME_1, buf, sizeof(buf)},
                            {CKA_KEY_TYPE, &kt, sizeof(kt)}};
        cls = kt = 0xdead;
        memset(label, 0, sizeof(label));
        CHECK_RC(F->C_GetAttributeValue(s, priv_h[K_RSA], t, 5),
                 CKR_ATTRIBUTE_SENSITIVE);
        CHECK(t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(t[3].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(cls == CKO_PRIVATE_KEY && t[0].ulValueLen == sizeof(cls));
        CHECK(t[2].ulValueLen == strlen(keys[K_RSA].name) &&
              memcmp(label, keys[K_RSA].name, t[2].ulValueLen) == 0);
        CHECK(kt == CKK_RSA);
    }
    for (i = K_P256; i < KEY_COUNT; i++) {
        CK_ATTRIBUTE t[] = {{CKA_VALUE, buf, sizeof(buf)},
                            {CKA_CLASS, &cls, sizeof(cls)}};
        cls = 0xdead;
        CHECK_RC(F->C_GetAttributeValue(s, priv_h[i], t, 2),
                 CKR_ATTRIBUTE_SENSITIVE);
        CHECK(t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(cls == CKO_PRIVATE_KEY);
        /* A length query of a sensitive attribute is refused too. */
        t[0].pValue = NULL;
        CHECK_RC(F->C_GetAttributeValue(s, priv_h[i], t, 1),
                 CKR_ATTRIBUTE_SENSITIVE);
        CHECK(t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
    }
    /* An attribute the object does not have: the same rule. */
    {
        CK_ATTRIBUTE t[] = {{CKA_LABEL, label, sizeof(label)},
                            {CKA_VENDOR_DEFINED | 0x4242, buf, sizeof(buf)},
                            {CKA_MODULUS, buf, sizeof(buf)},
                            {CKA_CLASS, &cls, sizeof(cls)}};
        cls = 0xdead;
        CHECK_RC(F->C_GetAttributeValue(s, pub_h[K_P256], t, 4),
                 CKR_ATTRIBUTE_TYPE_INVALID);
        CHECK(t[0].ulValueLen == strlen(keys[K_P256].name));
        CHECK(t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(cls == CKO_PUBLIC_KEY && t[3].ulValueLen == sizeof(cls));
    }
    /* Too small a buffer, and the length query with pValue NULL. */
    {
        CK_ATTRIBUTE t[] = {{CKA_LABEL, small, sizeof(small)},
                            {CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_MODULUS, NULL, 0}};
        cls = 0xdead;
        CHECK_RC(F->C_GetAttributeValue(s, pub_h[K_RSA], t, 3),
                 CKR_BUFFER_TOO_SMALL);
        CHECK(t[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
        CHECK(cls == CKO_PUBLIC_KEY);
        CHECK(t[2].ulValueLen == 256);
        t[0].pValue = NULL;
        CHECK_RC(F->C_GetAttributeValue(s, pub_h[K_RSA], t, 3), CKR_OK);
        CHECK(t[0].ulValueLen == strlen(keys[K_RSA].name));
        CHECK(t[2].ulValueLen == 256);
        /* A CK_ULONG attribute with a short buffer. */
        t[1].ulValueLen = 1;
        CHECK_RC(F->C_GetAttributeValue(s, pub_h[K_RSA], &t[1], 1),
                 CKR_BUFFER_TOO_SMALL);
        CHECK(t[1].ulValueLen == CK_UNAVAILABLE_INFORMATION);
    }
    CHECK_RC(F->C_GetAttributeValue(s, pub_h[K_RSA], NULL, 1),
             CKR_ARGUMENTS_BAD);
    {
        CK_ATTRIBUTE t = {CKA_CLASS, &cls, sizeof(cls)};
        CHECK_RC(F->C_GetAttributeValue(s, 0xdead, &t, 1),
                 CKR_OBJECT_HANDLE_INVALID);
        CHECK_RC(F->C_GetAttributeValue(s, CK_INVALID_HANDLE, &t, 1),
                 CKR_OBJECT_HANDLE_INVALID);
    }
    CHECK_RC(F->C_GetObjectSize(s, 0xdead, &n), CKR_OBJECT_HANDLE_INVALID);

    /* Nothing makes a private key extractable or copies it. */
    {
        CK_ATTRIBUTE t[] = {{CKA_EXTRACTABLE, &yes, sizeof(yes)}};
        CK_ATTRIBUTE t2[] = {{CKA_SENSITIVE, &no, sizeof(no)}};
        CK_ATTRIBUTE t3[] = {{CKA_LABEL, (void *)"renamed", 7}};
        for (i = 0; i < KEY_COUNT; i++) {
            CHECK_RC(F->C_SetAttributeValue(s, priv_h[i], t, 1),
                     CKR_ACTION_PROHIBITED);
            CHECK_RC(F->C_SetAttributeValue(s, priv_h[i], t2, 1),
                     CKR_ACTION_PROHIBITED);
            CHECK(attr_bool(s, priv_h[i], CKA_EXTRACTABLE) == 0);
            CHECK(attr_bool(s, priv_h[i], CKA_SENSITIVE) == 1);
            CHECK_RC(F->C_CopyObject(s, priv_h[i], t, 1, &copy),
                     CKR_ACTION_PROHIBITED);
            CHECK_RC(F->C_CopyObject(s, priv_h[i], NULL, 0, &copy),
                     CKR_ACTION_PROHIBITED);
            CHECK(copy == CK_INVALID_HANDLE);
            CHECK(attr_bool(s, priv_h[i], CKA_COPYABLE) == 0);
        }
        CHECK_RC(F->C_SetAttributeValue(s, pub_h[K_P256], t3, 1),
                 CKR_ACTION_PROHIBITED);
        CHECK_RC(F->C_SetAttributeValue(s, 0xdead, t3, 1),
                 CKR_OBJECT_HANDLE_INVALID);
    }
    len = sizeof(buf);
    CHECK_RC(F->C_WrapKey(s, &wrap, pub_h[K_RSA], priv_h[K_RSA], buf, &len),
             CKR_KEY_UNEXTRACTABLE);
    len = sizeof(buf);
    CHECK_RC(F->C_WrapKey(s, &wrap, pub_h[K_RSA], priv_h[K_P256], NULL, &len),
             CKR_KEY_UNEXTRACTABLE);
    CHECK_RC(F->C_CloseSession(s), CKR_OK);
}

/* ---- main -------------------------------------------------------------- */

int main(void)
{
    CK_SESSION_HANDLE s;

    if (p11t_begin("test_pkcs11")) {
        test_initialize();
        CHECK_RC(initialize(), CKR_OK);
        test_info();
        test_mechanisms();
        s = open_session(0);
        find_keys(s);
        CHECK_RC(F->C_CloseSession(s), CKR_OK);
        test_sessions();
        test_find();
        test_attributes();
        CHECK_RC(F->C_Finalize(NULL), CKR_OK);
    }
    return p11t_end("test_pkcs11");
}
