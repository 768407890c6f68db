/* SPDX-License-Identifier: Apache-2.0 */
/* The module: C_GetFunctionList, mod_C_Initialize, mod_C_Finalize, mod_C_GetInfo, the
 * module's state and its store, and the mapping of our errors to CK_RV. */
#include "pk11.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pk11_module pk11 = {.lock = PTHREAD_MUTEX_INITIALIZER};

CK_RV pk11_rv(sr_rc rc)
{
    switch (rc) {
    case SR_OK:
        return CKR_OK;
    case SR_ERR_NOMEM:
        return CKR_HOST_MEMORY;
    case SR_ERR_USAGE:
        return CKR_ARGUMENTS_BAD;
    case SR_ERR_NOTFOUND:
    case SR_ERR_NOT_SET:
    case SR_ERR_WRONG_KIND:
        return CKR_KEY_HANDLE_INVALID;
    case SR_ERR_EXISTS:
    case SR_ERR_FORMAT:
        return CKR_TEMPLATE_INCONSISTENT;
    case SR_ERR_ENVIRONMENT:
    case SR_ERR_EXPIRED:
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    case SR_ERR_IN_USE:
        return CKR_ACTION_PROHIBITED;
    case SR_ERR_WRONG_KEY:
        return CKR_PIN_INCORRECT;
    case SR_ERR_UNSUPPORTED:
        return CKR_FUNCTION_NOT_SUPPORTED;
    case SR_ERR_CRYPTO:
        return CKR_FUNCTION_FAILED;
    case SR_ERR_TAMPER:
    case SR_ERR_KEY_FILE:
    case SR_ERR_DB:
    case SR_ERR_IO:
        return CKR_DEVICE_ERROR;
    default:
        return CKR_GENERAL_ERROR;
    }
}

void pk11_log(const char *fmt, ...)
{
    va_list ap;

    if (!getenv("SECRETREF_DEBUG"))
        return;
    (void)fputs("secretref-pkcs11: ", stderr);
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above */
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
}

/* The state a fork() left to the child: kept (reachable, so a leak checker
 * does not count it), never freed, since freeing closes SQLite handles that
 * the child must not touch. "used": never read, but its stores must stay. */
static struct {
    sr_store *store;
    struct pk11_object **objects;
    struct pk11_session *sessions[PK11_MAX_SESSIONS + 1];
} abandoned __attribute__((used));

/* After fork() the child starts from nothing and must call mod_C_Initialize,
 * as PKCS#11 says; the parent's store handle is abandoned, not closed. */
static void forget_after_fork_locked(void)
{
    size_t i;

    if (!pk11.initialized || pk11.pid == getpid())
        return;
    abandoned.store = pk11.store;
    abandoned.objects = pk11.objects;
    for (i = 0; i <= PK11_MAX_SESSIONS; i++) {
        abandoned.sessions[i] = pk11.sessions[i];
        pk11.sessions[i] = NULL;
    }
    pk11.session_count = 0;
    pk11.objects = NULL;
    pk11.object_count = 0;
    pk11.store = NULL;
    pk11.initialized = 0;
}

CK_RV pk11_check_ready(void)
{
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&pk11.lock);
    forget_after_fork_locked();
    if (!pk11.initialized)
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

CK_RV pk11_check_slot(CK_SLOT_ID slot)
{
    CK_RV rv = pk11_check_ready();

    if (rv == CKR_OK && slot != PK11_SLOT_ID)
        rv = CKR_SLOT_ID_INVALID;
    return rv;
}

static void fill_config(sr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->program = "pkcs11";
    cfg->module_store_path = pk11.store_path;
    cfg->module_key_file = pk11.key_file;
    cfg->module_environment = pk11.environment;
}

CK_RV pk11_store_locked(int need_key, sr_store **out)
{
    sr_store *keyed = NULL;
    sr_config cfg;
    char err[512];
    sr_rc rc;

    *out = NULL;
    if (!pk11.store)
        return CKR_DEVICE_ERROR;
    if (need_key && !pk11.store_keyed) {
        /* A passphrase store is unlocked only by C_Login. */
        if (pk11.login_required)
            return CKR_USER_NOT_LOGGED_IN;
        fill_config(&cfg);
        if ((rc = sr_store_open(&cfg, &keyed, err, sizeof(err))) != SR_OK) {
            pk11_log("%s", err);
            return pk11_rv(rc);
        }
        sr_store_free(pk11.store);
        pk11.store = keyed;
        pk11.store_keyed = 1;
    }
    *out = pk11.store;
    return CKR_OK;
}

/* Login with the passphrase as PIN: opens the store with it. */
CK_RV pk11_login_locked(const char *pin, size_t len)
{
    sr_store *keyed = NULL;
    sr_config cfg;
    char err[512], *copy;
    sr_rc rc;

    if (!pk11.login_required) {
        pk11.logged_in = 1;
        return CKR_OK;
    }
    if (!(copy = malloc(len + 1)))
        return CKR_HOST_MEMORY;
    memcpy(copy, pin, len);
    copy[len] = '\0';
    fill_config(&cfg);
    cfg.passphrase = copy;
    rc = sr_store_open(&cfg, &keyed, err, sizeof(err));
    OPENSSL_cleanse(copy, len);
    free(copy);
    if (rc != SR_OK) {
        pk11_log("%s", err);
        return rc == SR_ERR_WRONG_KEY ? CKR_PIN_INCORRECT : pk11_rv(rc);
    }
    sr_store_free(pk11.store);
    pk11.store = keyed;
    pk11.store_keyed = 1;
    pk11.logged_in = 1;
    return CKR_OK;
}

/* Logout of a passphrase store drops the key: back to metadata only. */
CK_RV pk11_logout_locked(void)
{
    sr_store *meta = NULL;
    sr_config cfg;
    char err[512];
    sr_rc rc;

    pk11.logged_in = 0;
    if (!pk11.login_required || !pk11.store_keyed)
        return CKR_OK;
    /* Nothing of the key outlives the login. */
    pk11_objects_forget_keys_locked();
    fill_config(&cfg);
    if ((rc = sr_store_open_metadata(&cfg, &meta, err, sizeof(err))) !=
        SR_OK) {
        pk11_log("%s", err);
        return pk11_rv(rc);
    }
    sr_store_free(pk11.store);
    pk11.store = meta;
    pk11.store_keyed = 0;
    return CKR_OK;
}

/* x-init-reserved (p11-kit) or pReserved: "store=PATH key_file=PATH
 * environment=TYPE", separated by spaces, tabs, semicolons or newlines. */
static CK_RV parse_reserved(const char *reserved)
{
    static const char separators[] = " \t;\n";
    const char *p = reserved, *eq;
    size_t len, key_len;
    char **slot;

    if (!reserved)
        return CKR_OK;
    for (;;) {
        p += strspn(p, separators);
        if (!*p)
            return CKR_OK;
        len = strcspn(p, separators);
        if (!(eq = memchr(p, '=', len)))
            return CKR_ARGUMENTS_BAD;
        key_len = (size_t)(eq - p);
        if (key_len == 5 && strncmp(p, "store", 5) == 0)
            slot = &pk11.store_path;
        else if (key_len == 8 && strncmp(p, "key_file", 8) == 0)
            slot = &pk11.key_file;
        else if (key_len == 11 && strncmp(p, "environment", 11) == 0)
            slot = &pk11.environment;
        else {
            pk11_log("x-init-reserved: unknown setting %.*s", (int)key_len,
                     p);
            return CKR_ARGUMENTS_BAD;
        }
        free(*slot);
        if (!(*slot = strndup(eq + 1, len - key_len - 1)))
            return CKR_HOST_MEMORY;
        p += len;
    }
}

static void settings_clear(void)
{
    free(pk11.store_path);
    free(pk11.key_file);
    free(pk11.environment);
    pk11.store_path = pk11.key_file = pk11.environment = NULL;
}

static CK_RV mod_C_Initialize(CK_VOID_PTR init_args)
{
    CK_C_INITIALIZE_ARGS *args = init_args;
    char err[512], *value = NULL;
    sr_config cfg;
    int callbacks;
    CK_RV rv;

    if (args) {
        callbacks = (args->CreateMutex != NULL) + (args->DestroyMutex != NULL) +
                    (args->LockMutex != NULL) + (args->UnlockMutex != NULL);
        if (callbacks != 0 && callbacks != 4)
            return CKR_ARGUMENTS_BAD;
        /* We lock with pthreads; callbacks alone we cannot honour. */
        if (callbacks == 4 && !(args->flags & CKF_OS_LOCKING_OK))
            return CKR_CANT_LOCK;
    }
    pthread_mutex_lock(&pk11.lock);
    forget_after_fork_locked();
    if (pk11.initialized) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }
    settings_clear();
    if (args && (rv = parse_reserved(args->pReserved)) != CKR_OK)
        goto out;
    fill_config(&cfg);
    if (sr_store_open_metadata(&cfg, &pk11.store, err, sizeof(err)) != SR_OK) {
        fprintf(stderr, "secretref-pkcs11: %s\n", err);
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    pk11.store_keyed = 0;
    pk11.logged_in = 0;
    pk11.login_required = 0;
    if (sr_param_get(pk11.store, "key-source", &value) == SR_OK &&
        strcmp(value, "passphrase") == 0)
        pk11.login_required = 1;
    free(value);
    value = NULL;
    snprintf(pk11.label, sizeof(pk11.label), "secretref");
    if (sr_param_get(pk11.store, "token-label", &value) == SR_OK)
        snprintf(pk11.label, sizeof(pk11.label), "%s", value);
    free(value);
    pk11.objects = NULL;
    pk11.object_count = 0;
    pk11.next_handle = 1;
    pk11.session_count = 0;
    memset(pk11.sessions, 0, sizeof(pk11.sessions));
    pk11.pid = getpid();
    pk11.initialized = 1;
    rv = CKR_OK;
out:
    if (rv != CKR_OK && !pk11.initialized)
        settings_clear();
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

/* cppcheck-suppress constParameter ; the type is PKCS#11's C_Finalize */
static CK_RV mod_C_Finalize(CK_VOID_PTR reserved)
{
    CK_RV rv = CKR_OK;

    if (reserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&pk11.lock);
    forget_after_fork_locked();
    if (!pk11.initialized) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    pk11_sessions_free_locked();
    pk11_objects_free_locked();
    /* The host program still uses libcrypto: no OPENSSL_cleanup here. */
    sr_store_free(pk11.store);
    pk11.store = NULL;
    pk11.store_keyed = 0;
    pk11.logged_in = 0;
    settings_clear();
    pk11.initialized = 0;
out:
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

/* A space-padded PKCS#11 string field. */
void pk11_pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t len = strlen(text);

    memset(field, ' ', size);
    memcpy(field, text, len < size ? len : size);
}

static CK_RV mod_C_GetInfo(CK_INFO_PTR info)
{
    CK_RV rv;

    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pk11_pad(info->manufacturerID, sizeof(info->manufacturerID), "secretref");
    pk11_pad(info->libraryDescription, sizeof(info->libraryDescription),
             "secretref PKCS#11 module");
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
    return CKR_OK;
}

static CK_RV mod_C_GenerateRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR data,
                              CK_ULONG len)
{
    return pk11_C_GenerateRandom(session, data, len);
}

/* The functions we do not offer. */
#define NOT_SUPPORTED(name, args)                                            \
    static CK_RV name args                                                   \
    {                                                                        \
        return CKR_FUNCTION_NOT_SUPPORTED;                                   \
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
NOT_SUPPORTED(mod_C_InitToken, (CK_SLOT_ID a, CK_UTF8CHAR_PTR b, CK_ULONG c,
                            CK_UTF8CHAR_PTR d))
NOT_SUPPORTED(mod_C_InitPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c))
NOT_SUPPORTED(mod_C_SetPIN, (CK_SESSION_HANDLE a, CK_UTF8CHAR_PTR b, CK_ULONG c,
                         CK_UTF8CHAR_PTR d, CK_ULONG e))
NOT_SUPPORTED(mod_C_GetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                    CK_ULONG_PTR c))
NOT_SUPPORTED(mod_C_SetOperationState, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                    CK_ULONG c, CK_OBJECT_HANDLE d,
                                    CK_OBJECT_HANDLE e))
NOT_SUPPORTED(mod_C_EncryptInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                              CK_OBJECT_HANDLE c))
NOT_SUPPORTED(mod_C_Encrypt, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
                          CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_EncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_EncryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                               CK_ULONG_PTR c))
NOT_SUPPORTED(mod_C_DecryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_DecryptFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                               CK_ULONG_PTR c))
NOT_SUPPORTED(mod_C_DigestInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b))
NOT_SUPPORTED(mod_C_Digest, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
                         CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_DigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                               CK_ULONG c))
NOT_SUPPORTED(mod_C_DigestKey, (CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b))
NOT_SUPPORTED(mod_C_DigestFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                              CK_ULONG_PTR c))
NOT_SUPPORTED(mod_C_SignRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                                  CK_OBJECT_HANDLE c))
NOT_SUPPORTED(mod_C_SignRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
                              CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_VerifyInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                             CK_OBJECT_HANDLE c))
NOT_SUPPORTED(mod_C_Verify, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
                         CK_BYTE_PTR d, CK_ULONG e))
NOT_SUPPORTED(mod_C_VerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                               CK_ULONG c))
NOT_SUPPORTED(mod_C_VerifyFinal, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
NOT_SUPPORTED(mod_C_VerifyRecoverInit, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                                    CK_OBJECT_HANDLE c))
NOT_SUPPORTED(mod_C_VerifyRecover, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                CK_ULONG c, CK_BYTE_PTR d, CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_DigestEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                      CK_ULONG c, CK_BYTE_PTR d,
                                      CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_DecryptDigestUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                      CK_ULONG c, CK_BYTE_PTR d,
                                      CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_SignEncryptUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                    CK_ULONG c, CK_BYTE_PTR d,
                                    CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_DecryptVerifyUpdate, (CK_SESSION_HANDLE a, CK_BYTE_PTR b,
                                      CK_ULONG c, CK_BYTE_PTR d,
                                      CK_ULONG_PTR e))
NOT_SUPPORTED(mod_C_GenerateKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                              CK_ATTRIBUTE_PTR c, CK_ULONG d,
                              CK_OBJECT_HANDLE_PTR e))
NOT_SUPPORTED(mod_C_UnwrapKey, (CK_SESSION_HANDLE a, CK_MECHANISM_PTR b,
                            CK_OBJECT_HANDLE c, CK_BYTE_PTR d, CK_ULONG e,
                            CK_ATTRIBUTE_PTR f, CK_ULONG g,
                            CK_OBJECT_HANDLE_PTR h))
NOT_SUPPORTED(mod_C_SeedRandom, (CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c))
NOT_SUPPORTED(mod_C_WaitForSlotEvent, (CK_FLAGS a, CK_SLOT_ID_PTR b,
                                   CK_VOID_PTR c))
#pragma GCC diagnostic pop

static CK_RV mod_C_GetFunctionStatus(CK_SESSION_HANDLE session)
{
    (void)session;
    return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_RV mod_C_CancelFunction(CK_SESSION_HANDLE session)
{
    (void)session;
    return CKR_FUNCTION_NOT_PARALLEL;
}

static CK_FUNCTION_LIST function_list = {
    {2, 40},
    mod_C_Initialize,
    mod_C_Finalize,
    mod_C_GetInfo,
    C_GetFunctionList,
    pk11_C_GetSlotList,
    pk11_C_GetSlotInfo,
    pk11_C_GetTokenInfo,
    pk11_C_GetMechanismList,
    pk11_C_GetMechanismInfo,
    mod_C_InitToken,
    mod_C_InitPIN,
    mod_C_SetPIN,
    pk11_C_OpenSession,
    pk11_C_CloseSession,
    pk11_C_CloseAllSessions,
    pk11_C_GetSessionInfo,
    mod_C_GetOperationState,
    mod_C_SetOperationState,
    pk11_C_Login,
    pk11_C_Logout,
    pk11_C_CreateObject,
    pk11_C_CopyObject,
    pk11_C_DestroyObject,
    pk11_C_GetObjectSize,
    pk11_C_GetAttributeValue,
    pk11_C_SetAttributeValue,
    pk11_C_FindObjectsInit,
    pk11_C_FindObjects,
    pk11_C_FindObjectsFinal,
    mod_C_EncryptInit,
    mod_C_Encrypt,
    mod_C_EncryptUpdate,
    mod_C_EncryptFinal,
    pk11_C_DecryptInit,
    pk11_C_Decrypt,
    mod_C_DecryptUpdate,
    mod_C_DecryptFinal,
    mod_C_DigestInit,
    mod_C_Digest,
    mod_C_DigestUpdate,
    mod_C_DigestKey,
    mod_C_DigestFinal,
    pk11_C_SignInit,
    pk11_C_Sign,
    pk11_C_SignUpdate,
    pk11_C_SignFinal,
    mod_C_SignRecoverInit,
    mod_C_SignRecover,
    mod_C_VerifyInit,
    mod_C_Verify,
    mod_C_VerifyUpdate,
    mod_C_VerifyFinal,
    mod_C_VerifyRecoverInit,
    mod_C_VerifyRecover,
    mod_C_DigestEncryptUpdate,
    mod_C_DecryptDigestUpdate,
    mod_C_SignEncryptUpdate,
    mod_C_DecryptVerifyUpdate,
    mod_C_GenerateKey,
    pk11_C_GenerateKeyPair,
    pk11_C_WrapKey,
    mod_C_UnwrapKey,
    pk11_C_DeriveKey,
    mod_C_SeedRandom,
    mod_C_GenerateRandom,
    mod_C_GetFunctionStatus,
    mod_C_CancelFunction,
    mod_C_WaitForSlotEvent,
};

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}

CK_RV pk11_C_GenerateRandom(CK_SESSION_HANDLE handle, CK_BYTE_PTR data,
                            CK_ULONG len)
{
    struct pk11_session *session;
    CK_RV rv;

    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    pk11_session_unlock(session);
    if (!data && len)
        return CKR_ARGUMENTS_BAD;
    if (len && RAND_bytes_ex(sr_libctx(), data, len, 0) != 1)
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}
