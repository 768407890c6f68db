/* SPDX-License-Identifier: Apache-2.0 */
/* The secretref PKCS#11 module: shared by its files only. */
#ifndef SECRETREF_PK11_H
#define SECRETREF_PK11_H

#include "secretref.h"

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define PK11_SLOT_ID 1
#define PK11_MAX_SESSIONS 1024
#define PK11_ID_LEN 16

/* One object of the token. Store objects come in threes per certificate
 * reference (private key, public key, certificate) sharing CKA_ID and
 * CKA_LABEL; session objects are secrets derived with ECDH. */
struct pk11_object {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS class;
    CK_KEY_TYPE key_type;
    char *label;
    unsigned char id[PK11_ID_LEN];
    char *uuid;               /* the reference's immutable id */
    int version;              /* the reference version it shows */
    EVP_PKEY *pub;            /* keys: the public key */
    unsigned char *cert_der;  /* certificates */
    size_t cert_len;
    CK_SESSION_HANDLE owner;  /* session objects: their session, else 0 */
    unsigned char *secret;    /* session secret key value */
    size_t secret_len;
    sr_key *key;              /* private keys: opened on first use */
    int seen;                 /* refresh bookkeeping */
};

enum pk11_op { PK11_OP_NONE = 0, PK11_OP_FIND, PK11_OP_SIGN, PK11_OP_DECRYPT };

/* An operation in progress on a session. */
struct pk11_operation {
    enum pk11_op kind;
    CK_MECHANISM_TYPE mechanism;
    sr_key *key;               /* the key core's handle, referenced */
    CK_KEY_TYPE key_type;
    size_t sig_len;            /* the signature's length */
    size_t field_len;          /* ECDSA: bytes per r and s */
    EVP_MD_CTX *md;            /* hash-and-sign mechanisms */
    int multipart;             /* C_SignUpdate was called */
    unsigned char *buffer;     /* EdDSA / raw data gathered by SignUpdate */
    size_t buffer_len;
    sr_sign_params sign;
    sr_decrypt_params decrypt;
    char digest[16], mgf1[16];
    unsigned char *label;
    /* C_FindObjects: the handles that matched, and where we are. */
    CK_OBJECT_HANDLE *found;
    size_t found_count, found_next;
};

struct pk11_session {
    pthread_mutex_t lock;
    CK_SESSION_HANDLE handle;
    CK_FLAGS flags;
    struct pk11_operation op;
};

/* The module's state. Lock order: module.lock, then a session's lock.
 * Signing holds only its session's lock. */
struct pk11_module {
    pthread_mutex_t lock;
    int initialized;
    pid_t pid;
    char *store_path, *key_file, *environment;
    char label[33];
    int login_required;        /* a passphrase store: the PIN is the
                                  passphrase */
    int logged_in;
    sr_store *store;           /* with its key once usable, else metadata */
    int store_keyed;
    struct pk11_object **objects;
    size_t object_count;
    CK_OBJECT_HANDLE next_handle;
    struct pk11_session *sessions[PK11_MAX_SESSIONS + 1];
    size_t session_count;
};

extern struct pk11_module pk11;

/* sr_rc to CK_RV, in one switch with a default. */
CK_RV pk11_rv(sr_rc rc);

/* ---- module.c --------------------------------------------------------- */
CK_RV pk11_check_ready(void);
/* pk11_check_ready, then CKR_SLOT_ID_INVALID for any slot but ours. */
CK_RV pk11_check_slot(CK_SLOT_ID slot);
/* The store, opened on first use (with its key when it can be), with the
 * module lock held. */
CK_RV pk11_store_locked(int need_key, sr_store **out);
CK_RV pk11_login_locked(const char *pin, size_t len);
CK_RV pk11_logout_locked(void);
void pk11_sessions_free_locked(void);
/* A space-padded PKCS#11 string field. */
void pk11_pad(CK_UTF8CHAR *field, size_t size, const char *text);
/* Logs the store's last error to standard error when SECRETREF_DEBUG is
 * set; PKCS#11 has no room for messages. */
void pk11_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Drops the cached keys (logout of a passphrase store). */
void pk11_objects_forget_keys_locked(void);

/* ---- session.c --------------------------------------------------------- */
/* Finds the session and locks it; release with pk11_session_unlock. */
CK_RV pk11_session_lock(CK_SESSION_HANDLE handle, struct pk11_session **out);
void pk11_session_unlock(struct pk11_session *session);
void pk11_operation_end(struct pk11_operation *op);
int pk11_session_writable(const struct pk11_session *session);
/* Whether objects with CKA_PRIVATE may be seen and used now. */
int pk11_private_visible(void);

/* ---- object.c --------------------------------------------------------- */
/* Re-reads the store's references into the object table, keeping the
 * handles of objects that remain. Module lock held. */
CK_RV pk11_objects_refresh_locked(void);
struct pk11_object *pk11_object_find_locked(CK_OBJECT_HANDLE handle);
void pk11_objects_free_locked(void);
/* Removes the session objects of session (0: all). */
void pk11_session_objects_drop_locked(CK_SESSION_HANDLE session);
/* Adds a session secret (ECDH result); returns its handle or 0. */
CK_OBJECT_HANDLE pk11_object_add_secret_locked(CK_SESSION_HANDLE session,
                                               unsigned char *secret,
                                               size_t len,
                                               CK_ATTRIBUTE_PTR templ,
                                               CK_ULONG count);
/* The private key behind a private key object, opened once and cached
 * (a new reference for the caller). */
CK_RV pk11_object_open_key_locked(struct pk11_object *obj, sr_key **out);

/* ---- attr.c: attribute templates ---------------------------------------- */
/* Fills the template from obj's attributes, per C_GetAttributeValue. */
CK_RV pk11_attr_get(const struct pk11_object *obj, CK_ATTRIBUTE_PTR templ,
                    CK_ULONG count);
/* Does obj match every attribute of the template (C_FindObjects)? */
int pk11_attr_match(const struct pk11_object *obj, CK_ATTRIBUTE_PTR templ,
                    CK_ULONG count);
/* The value of type in templ, or NULL. */
const CK_ATTRIBUTE *pk11_attr_lookup(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                                     CK_ATTRIBUTE_TYPE type);
/* A CK_BBOOL or CK_ULONG attribute of the template, with a default. */
int pk11_attr_bool(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                   CK_ATTRIBUTE_TYPE type, int dflt);
CK_RV pk11_attr_ulong(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                      CK_ATTRIBUTE_TYPE type, CK_ULONG *value);

/* ---- mechanism.c --------------------------------------------------------- */
CK_RV pk11_mechanism_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV pk11_mechanism_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);

/* The C_* entry points each file implements. */
#define PK11_FN(name, args) CK_RV name args
PK11_FN(pk11_C_GetSlotList, (CK_BBOOL, CK_SLOT_ID_PTR, CK_ULONG_PTR));
PK11_FN(pk11_C_GetSlotInfo, (CK_SLOT_ID, CK_SLOT_INFO_PTR));
PK11_FN(pk11_C_GetTokenInfo, (CK_SLOT_ID, CK_TOKEN_INFO_PTR));
PK11_FN(pk11_C_GetMechanismList,
        (CK_SLOT_ID, CK_MECHANISM_TYPE_PTR, CK_ULONG_PTR));
PK11_FN(pk11_C_GetMechanismInfo,
        (CK_SLOT_ID, CK_MECHANISM_TYPE, CK_MECHANISM_INFO_PTR));
PK11_FN(pk11_C_OpenSession, (CK_SLOT_ID, CK_FLAGS, CK_VOID_PTR, CK_NOTIFY,
                             CK_SESSION_HANDLE_PTR));
PK11_FN(pk11_C_CloseSession, (CK_SESSION_HANDLE));
PK11_FN(pk11_C_CloseAllSessions, (CK_SLOT_ID));
PK11_FN(pk11_C_GetSessionInfo, (CK_SESSION_HANDLE, CK_SESSION_INFO_PTR));
PK11_FN(pk11_C_Login, (CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR,
                       CK_ULONG));
PK11_FN(pk11_C_Logout, (CK_SESSION_HANDLE));
PK11_FN(pk11_C_FindObjectsInit, (CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR,
                                 CK_ULONG));
PK11_FN(pk11_C_FindObjects, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE_PTR,
                             CK_ULONG, CK_ULONG_PTR));
PK11_FN(pk11_C_FindObjectsFinal, (CK_SESSION_HANDLE));
PK11_FN(pk11_C_GetAttributeValue, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
                                   CK_ATTRIBUTE_PTR, CK_ULONG));
PK11_FN(pk11_C_SetAttributeValue, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
                                   CK_ATTRIBUTE_PTR, CK_ULONG));
PK11_FN(pk11_C_GetObjectSize, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
                               CK_ULONG_PTR));
PK11_FN(pk11_C_CreateObject, (CK_SESSION_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG,
                              CK_OBJECT_HANDLE_PTR));
PK11_FN(pk11_C_CopyObject, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
                            CK_ATTRIBUTE_PTR, CK_ULONG,
                            CK_OBJECT_HANDLE_PTR));
PK11_FN(pk11_C_DestroyObject, (CK_SESSION_HANDLE, CK_OBJECT_HANDLE));
PK11_FN(pk11_C_GenerateKeyPair, (CK_SESSION_HANDLE, CK_MECHANISM_PTR,
                                 CK_ATTRIBUTE_PTR, CK_ULONG, CK_ATTRIBUTE_PTR,
                                 CK_ULONG, CK_OBJECT_HANDLE_PTR,
                                 CK_OBJECT_HANDLE_PTR));
PK11_FN(pk11_C_SignInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR,
                          CK_OBJECT_HANDLE));
PK11_FN(pk11_C_Sign, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                      CK_ULONG_PTR));
PK11_FN(pk11_C_SignUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG));
PK11_FN(pk11_C_SignFinal, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR));
PK11_FN(pk11_C_DecryptInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR,
                             CK_OBJECT_HANDLE));
PK11_FN(pk11_C_Decrypt, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG,
                         CK_BYTE_PTR, CK_ULONG_PTR));
PK11_FN(pk11_C_DeriveKey, (CK_SESSION_HANDLE, CK_MECHANISM_PTR,
                           CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR, CK_ULONG,
                           CK_OBJECT_HANDLE_PTR));
PK11_FN(pk11_C_WrapKey, (CK_SESSION_HANDLE, CK_MECHANISM_PTR,
                         CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, CK_BYTE_PTR,
                         CK_ULONG_PTR));
PK11_FN(pk11_C_GenerateRandom, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG));

#endif
