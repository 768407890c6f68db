/* SPDX-License-Identifier: Apache-2.0 */
/* Sessions and login. A key-file store needs no PIN; a passphrase store's
 * PIN is its passphrase, and its key is dropped at logout or when the last
 * session closes. */
#include "pk11.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

CK_RV pk11_session_lock(CK_SESSION_HANDLE handle, struct pk11_session **out)
{
    struct pk11_session *session;
    CK_RV rv;

    *out = NULL;
    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    pthread_mutex_lock(&pk11.lock);
    if (handle == 0 || handle > PK11_MAX_SESSIONS ||
        !(session = pk11.sessions[handle])) {
        pthread_mutex_unlock(&pk11.lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    pthread_mutex_lock(&session->lock);
    pthread_mutex_unlock(&pk11.lock);
    *out = session;
    return CKR_OK;
}

void pk11_session_unlock(struct pk11_session *session)
{
    pthread_mutex_unlock(&session->lock);
}

int pk11_session_writable(const struct pk11_session *session)
{
    return (session->flags & CKF_RW_SESSION) != 0;
}

int pk11_private_visible(void)
{
    return !pk11.login_required || pk11.logged_in;
}

void pk11_operation_end(struct pk11_operation *op)
{
    sr_key_free(op->key);
    EVP_MD_CTX_free(op->md);
    if (op->buffer)
        OPENSSL_clear_free(op->buffer, op->buffer_len);
    free(op->label);
    free(op->found);
    memset(op, 0, sizeof(*op));
}

CK_RV pk11_C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                         CK_NOTIFY notify, CK_SESSION_HANDLE_PTR handle)
{
    struct pk11_session *session;
    CK_SESSION_HANDLE h;
    CK_RV rv;

    (void)app, (void)notify;
    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (!handle)
        return CKR_ARGUMENTS_BAD;
    if (!(session = calloc(1, sizeof(*session))))
        return CKR_HOST_MEMORY;
    pthread_mutex_init(&session->lock, NULL);
    session->flags = flags;
    pthread_mutex_lock(&pk11.lock);
    for (h = 1; h <= PK11_MAX_SESSIONS && pk11.sessions[h]; h++)
        ;
    if (h > PK11_MAX_SESSIONS) {
        pthread_mutex_unlock(&pk11.lock);
        pthread_mutex_destroy(&session->lock);
        free(session);
        return CKR_SESSION_COUNT;
    }
    session->handle = h;
    pk11.sessions[h] = session;
    pk11.session_count++;
    pthread_mutex_unlock(&pk11.lock);
    *handle = h;
    return CKR_OK;
}

/* Closes one session with the module lock held. */
static void session_close_locked(CK_SESSION_HANDLE h)
{
    struct pk11_session *session = pk11.sessions[h];

    /* Wait for an operation running on it (it holds the session lock). */
    pthread_mutex_lock(&session->lock);
    pk11.sessions[h] = NULL;
    pk11.session_count--;
    pk11_operation_end(&session->op);
    pthread_mutex_unlock(&session->lock);
    pthread_mutex_destroy(&session->lock);
    free(session);
    pk11_session_objects_drop_locked(h);
    /* Closing the last session logs the user out. */
    if (pk11.session_count == 0 && pk11.logged_in)
        pk11_logout_locked();
}

CK_RV pk11_C_CloseSession(CK_SESSION_HANDLE handle)
{
    CK_RV rv;

    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    pthread_mutex_lock(&pk11.lock);
    if (handle == 0 || handle > PK11_MAX_SESSIONS || !pk11.sessions[handle])
        rv = CKR_SESSION_HANDLE_INVALID;
    else
        session_close_locked(handle);
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

void pk11_sessions_free_locked(void)
{
    CK_SESSION_HANDLE h;

    for (h = 1; h <= PK11_MAX_SESSIONS; h++)
        if (pk11.sessions[h])
            session_close_locked(h);
}

CK_RV pk11_C_CloseAllSessions(CK_SLOT_ID slot)
{
    CK_RV rv;

    if ((rv = pk11_check_slot(slot)) != CKR_OK)
        return rv;
    pthread_mutex_lock(&pk11.lock);
    pk11_sessions_free_locked();
    pthread_mutex_unlock(&pk11.lock);
    return CKR_OK;
}

CK_RV pk11_C_GetSessionInfo(CK_SESSION_HANDLE handle, CK_SESSION_INFO_PTR info)
{
    struct pk11_session *session;
    int rw, user;
    CK_RV rv;

    if (!info)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    rw = pk11_session_writable(session);
    user = pk11.logged_in;
    info->slotID = PK11_SLOT_ID;
    info->flags = session->flags;
    info->ulDeviceError = 0;
    if (user)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    pk11_session_unlock(session);
    return CKR_OK;
}

CK_RV pk11_C_Login(CK_SESSION_HANDLE handle, CK_USER_TYPE user,
                   CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    struct pk11_session *session;
    CK_RV rv;

    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    pk11_session_unlock(session);
    /* The token has no security officer. */
    if (user != CKU_USER && user != CKU_CONTEXT_SPECIFIC)
        return CKR_USER_TYPE_INVALID;
    /* No key has CKA_ALWAYS_AUTHENTICATE, so a context-specific login has
     * no operation to authorise (PKCS#11 2.40, C_Login); it must not log
     * the user in. */
    if (user == CKU_CONTEXT_SPECIFIC)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!pin && pin_len)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&pk11.lock);
    if (pk11.logged_in && user == CKU_USER)
        rv = CKR_USER_ALREADY_LOGGED_IN;
    else
        rv = pk11_login_locked(pin ? (const char *)pin : "", pin_len);
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

CK_RV pk11_C_Logout(CK_SESSION_HANDLE handle)
{
    struct pk11_session *session;
    CK_RV rv;

    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    pk11_session_unlock(session);
    pthread_mutex_lock(&pk11.lock);
    rv = pk11.logged_in ? pk11_logout_locked() : CKR_USER_NOT_LOGGED_IN;
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}
