/* SPDX-License-Identifier: Apache-2.0 */
/* The token's objects: three per certificate reference usable in the
 * active environment type (private key, public key, certificate), made
 * from the store, plus session secrets derived with ECDH. */
#include "pk11.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void object_free(struct pk11_object *obj)
{
    if (!obj)
        return;
    free(obj->label);
    free(obj->uuid);
    EVP_PKEY_free(obj->pub);
    free(obj->cert_der);
    if (obj->secret)
        OPENSSL_clear_free(obj->secret, obj->secret_len);
    sr_key_free(obj->key);
    free(obj);
}

void pk11_objects_free_locked(void)
{
    size_t i;

    for (i = 0; i < pk11.object_count; i++)
        object_free(pk11.objects[i]);
    free(pk11.objects);
    pk11.objects = NULL;
    pk11.object_count = 0;
}

void pk11_objects_forget_keys_locked(void)
{
    size_t i;

    for (i = 0; i < pk11.object_count; i++) {
        sr_key_free(pk11.objects[i]->key);
        pk11.objects[i]->key = NULL;
    }
}

static int object_add_locked(struct pk11_object *obj)
{
    struct pk11_object **grown;

    grown = realloc(pk11.objects,
                    (pk11.object_count + 1) * sizeof(struct pk11_object *));
    if (!grown)
        return 0;
    pk11.objects = grown;
    obj->handle = pk11.next_handle++;
    pk11.objects[pk11.object_count++] = obj;
    return 1;
}

struct pk11_object *pk11_object_find_locked(CK_OBJECT_HANDLE handle)
{
    size_t i;

    for (i = 0; i < pk11.object_count; i++)
        if (pk11.objects[i]->handle == handle)
            return pk11.objects[i];
    return NULL;
}

static struct pk11_object *find_by_uuid(const char *uuid,
                                        CK_OBJECT_CLASS class)
{
    size_t i;

    for (i = 0; i < pk11.object_count; i++)
        if (pk11.objects[i]->uuid && pk11.objects[i]->class == class &&
            strcmp(pk11.objects[i]->uuid, uuid) == 0)
            return pk11.objects[i];
    return NULL;
}

/* Fills obj's public parts from the reference's current version. */
static int object_fill(struct pk11_object *obj, const sr_ref_info *info)
{
    const unsigned char *p = info->public_key_der;
    unsigned char digest[32];
    X509 *cert = NULL;
    BIO *bio;
    int len;

    EVP_PKEY_free(obj->pub);
    free(obj->cert_der);
    obj->cert_der = NULL;
    obj->cert_len = 0;
    sr_key_free(obj->key);
    obj->key = NULL;
    if (!(obj->pub = d2i_PUBKEY_ex(NULL, &p, (long)info->public_key_len,
                                   sr_libctx(), NULL)))
        return 0;
    if (EVP_PKEY_is_a(obj->pub, "RSA"))
        obj->key_type = CKK_RSA;
    else if (EVP_PKEY_is_a(obj->pub, "EC"))
        obj->key_type = CKK_EC;
    else if (EVP_PKEY_is_a(obj->pub, "ED25519"))
        obj->key_type = CKK_EC_EDWARDS;
    else
        return 0;
    /* CKA_ID: from the reference's immutable id, so it survives rotation
     * and pairs the three objects. */
    if (!EVP_Q_digest(sr_libctx(), "SHA256", NULL, info->uuid,
                      strlen(info->uuid), digest, NULL))
        return 0;
    memcpy(obj->id, digest, PK11_ID_LEN);
    obj->version = info->version;
    if (info->cert_chain_pem &&
        (bio = BIO_new_mem_buf(info->cert_chain_pem, -1))) {
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (cert && (len = i2d_X509(cert, &obj->cert_der)) > 0)
            obj->cert_len = (size_t)len;
        X509_free(cert);
    }
    return 1;
}

static int usable_here(const sr_ref_info *infos, size_t count, size_t i,
                       const char *active)
{
    const sr_ref_info *in = &infos[i];
    size_t j;

    if (in->kind != SR_KIND_CERTIFICATE || !in->public_key_der ||
        in->version < 1)
        return 0;
    if (in->environment)
        return active && strcasecmp(in->environment, active) == 0;
    /* A row without a type yields to the active type's row. */
    for (j = 0; active && j < count; j++)
        if (j != i && infos[j].environment &&
            strcmp(infos[j].name, in->name) == 0 &&
            strcasecmp(infos[j].environment, active) == 0)
            return 0;
    return 1;
}

static CK_RV refresh_one(const sr_ref_info *info, CK_OBJECT_CLASS class)
{
    struct pk11_object *obj = find_by_uuid(info->uuid, class);

    if (obj) {
        obj->seen = 1;
        if (obj->version == info->version)
            return CKR_OK;
        if (!object_fill(obj, info))
            return CKR_HOST_MEMORY;
        if (class == CKO_CERTIFICATE && !obj->cert_der)
            obj->seen = 0;
        return CKR_OK;
    }
    if (!(obj = calloc(1, sizeof(*obj))))
        return CKR_HOST_MEMORY;
    obj->class = class;
    if (!(obj->label = strdup(info->name)) ||
        !(obj->uuid = strdup(info->uuid)) || !object_fill(obj, info)) {
        object_free(obj);
        return CKR_HOST_MEMORY;
    }
    if (class == CKO_CERTIFICATE && !obj->cert_der) {
        object_free(obj);
        return CKR_OK;
    }
    obj->seen = 1;
    if (!object_add_locked(obj)) {
        object_free(obj);
        return CKR_HOST_MEMORY;
    }
    return CKR_OK;
}

CK_RV pk11_objects_refresh_locked(void)
{
    static const CK_OBJECT_CLASS classes[] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                                              CKO_CERTIFICATE};
    sr_ref_info *infos = NULL;
    size_t count = 0, i, c, kept = 0;
    CK_RV rv = CKR_OK;
    sr_rc rc;

    if (!pk11.store)
        return CKR_DEVICE_ERROR;
    if ((rc = sr_ref_list(pk11.store, NULL, &infos, &count)) != SR_OK) {
        pk11_log("%s", sr_store_errmsg(pk11.store));
        return pk11_rv(rc);
    }
    for (i = 0; i < pk11.object_count; i++)
        pk11.objects[i]->seen = pk11.objects[i]->owner != 0;
    for (i = 0; i < count && rv == CKR_OK; i++) {
        if (!usable_here(infos, count, i, sr_store_environment(pk11.store)))
            continue;
        for (c = 0; c < 3 && rv == CKR_OK; c++)
            rv = refresh_one(&infos[i], classes[c]);
    }
    /* Objects whose reference went away go too; handles of the rest stay. */
    for (i = 0; i < pk11.object_count; i++) {
        if (pk11.objects[i]->seen || rv != CKR_OK)
            pk11.objects[kept++] = pk11.objects[i];
        else
            object_free(pk11.objects[i]);
    }
    pk11.object_count = kept;
    sr_ref_list_free(infos, count);
    return rv;
}

void pk11_session_objects_drop_locked(CK_SESSION_HANDLE session)
{
    size_t i, kept = 0;

    for (i = 0; i < pk11.object_count; i++) {
        struct pk11_object *obj = pk11.objects[i];
        if (obj->owner && (session == 0 || obj->owner == session))
            object_free(obj);
        else
            pk11.objects[kept++] = obj;
    }
    pk11.object_count = kept;
}

CK_OBJECT_HANDLE pk11_object_add_secret_locked(CK_SESSION_HANDLE session,
                                               unsigned char *secret,
                                               size_t len,
                                               CK_ATTRIBUTE_PTR templ,
                                               CK_ULONG count)
{
    const CK_ATTRIBUTE *label = pk11_attr_lookup(templ, count, CKA_LABEL);
    struct pk11_object *obj = calloc(1, sizeof(*obj));

    if (!obj)
        return 0;
    obj->class = CKO_SECRET_KEY;
    obj->key_type = CKK_GENERIC_SECRET;
    obj->owner = session;
    obj->secret = secret;
    obj->secret_len = len;
    if (label && label->pValue &&
        !(obj->label = strndup(label->pValue, label->ulValueLen))) {
        obj->secret = NULL;
        object_free(obj);
        return 0;
    }
    if (!object_add_locked(obj)) {
        obj->secret = NULL;
        object_free(obj);
        return 0;
    }
    return obj->handle;
}

CK_RV pk11_object_open_key_locked(struct pk11_object *obj, sr_key **out)
{
    sr_store *st;
    sr_rc rc;
    CK_RV rv;

    *out = NULL;
    if (!obj->key) {
        if ((rv = pk11_store_locked(1, &st)) != CKR_OK)
            return rv;
        if ((rc = sr_key_open(st, obj->label, &obj->key)) != SR_OK) {
            pk11_log("%s", sr_store_errmsg(st));
            return pk11_rv(rc);
        }
    }
    *out = sr_key_ref(obj->key);
    return CKR_OK;
}

/* May this session see obj? */
static int visible_to(CK_SESSION_HANDLE session, const struct pk11_object *obj)
{
    return !(obj->owner && obj->owner != session) &&
           !(obj->class == CKO_PRIVATE_KEY && !pk11_private_visible());
}

/* The object of that handle if this session may see it. */
static struct pk11_object *visible_locked(CK_SESSION_HANDLE session,
                                          CK_OBJECT_HANDLE object)
{
    struct pk11_object *obj = pk11_object_find_locked(object);

    return obj && visible_to(session, obj) ? obj : NULL;
}

/* Locks the module and the session, in that order. */
static CK_RV lock_both(CK_SESSION_HANDLE handle,
                       struct pk11_session **session)
{
    CK_RV rv;

    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    pthread_mutex_lock(&pk11.lock);
    if (handle == 0 || handle > PK11_MAX_SESSIONS ||
        !(*session = pk11.sessions[handle])) {
        pthread_mutex_unlock(&pk11.lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    pthread_mutex_lock(&(*session)->lock);
    return CKR_OK;
}

static void unlock_both(struct pk11_session *session)
{
    pthread_mutex_unlock(&session->lock);
    pthread_mutex_unlock(&pk11.lock);
}

CK_RV pk11_C_FindObjectsInit(CK_SESSION_HANDLE handle, CK_ATTRIBUTE_PTR templ,
                             CK_ULONG count)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    CK_RV rv;
    size_t i;

    if (count && !templ)
        return CKR_ARGUMENTS_BAD;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_NONE) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    if ((rv = pk11_objects_refresh_locked()) != CKR_OK)
        goto out;
    if (pk11.object_count &&
        !(op->found = calloc(pk11.object_count, sizeof(*op->found)))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (i = 0; i < pk11.object_count; i++) {
        const struct pk11_object *obj = pk11.objects[i];
        if (visible_to(handle, obj) && pk11_attr_match(obj, templ, count))
            op->found[op->found_count++] = obj->handle;
    }
    op->kind = PK11_OP_FIND;
out:
    unlock_both(session);
    return rv;
}

CK_RV pk11_C_FindObjects(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE_PTR list,
                         CK_ULONG max, CK_ULONG_PTR count)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    CK_RV rv;

    if (!list || !count)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_FIND) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        *count = 0;
        while (*count < max && op->found_next < op->found_count)
            list[(*count)++] = op->found[op->found_next++];
    }
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_FindObjectsFinal(CK_SESSION_HANDLE handle)
{
    struct pk11_session *session;
    CK_RV rv;

    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    if (session->op.kind != PK11_OP_FIND)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else
        pk11_operation_end(&session->op);
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_GetAttributeValue(CK_SESSION_HANDLE handle,
                               CK_OBJECT_HANDLE object,
                               CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
    struct pk11_session *session;
    struct pk11_object *obj;
    CK_RV rv;

    if (!templ && count)
        return CKR_ARGUMENTS_BAD;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    if (!(obj = visible_locked(handle, object)))
        rv = CKR_OBJECT_HANDLE_INVALID;
    else
        rv = pk11_attr_get(obj, templ, count);
    unlock_both(session);
    return rv;
}

CK_RV pk11_C_SetAttributeValue(CK_SESSION_HANDLE handle,
                               CK_OBJECT_HANDLE object,
                               CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
    struct pk11_session *session;
    CK_RV rv;

    (void)templ, (void)count;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    /* Every object is CKA_MODIFIABLE false: nothing may make a private key
     * extractable, and names and ids come from the store. */
    rv = visible_locked(handle, object) ? CKR_ACTION_PROHIBITED
                                        : CKR_OBJECT_HANDLE_INVALID;
    unlock_both(session);
    return rv;
}

CK_RV pk11_C_GetObjectSize(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object,
                           CK_ULONG_PTR size)
{
    struct pk11_session *session;
    CK_RV rv;

    if (!size)
        return CKR_ARGUMENTS_BAD;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    if (!visible_locked(handle, object))
        rv = CKR_OBJECT_HANDLE_INVALID;
    else
        *size = CK_UNAVAILABLE_INFORMATION;
    unlock_both(session);
    return rv;
}

CK_RV pk11_C_CopyObject(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object,
                        CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                        CK_OBJECT_HANDLE_PTR copy)
{
    struct pk11_session *session;
    CK_RV rv;

    (void)templ, (void)count, (void)copy;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    rv = visible_locked(handle, object) ? CKR_ACTION_PROHIBITED
                                        : CKR_OBJECT_HANDLE_INVALID;
    unlock_both(session);
    return rv;
}

/* Writing to the store needs a read-write session and, for a passphrase
 * store, the user logged in. */
static CK_RV may_write(const struct pk11_session *session)
{
    if (!pk11_session_writable(session))
        return CKR_SESSION_READ_ONLY;
    if (pk11.login_required && !pk11.logged_in)
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

CK_RV pk11_C_DestroyObject(CK_SESSION_HANDLE handle, CK_OBJECT_HANDLE object)
{
    struct pk11_session *session;
    struct pk11_object *obj;
    sr_store *st;
    sr_rc rc;
    CK_RV rv;

    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    if (!(obj = visible_locked(handle, object))) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    if (obj->owner) {
        size_t i, kept = 0;
        for (i = 0; i < pk11.object_count; i++)
            if (pk11.objects[i] != obj)
                pk11.objects[kept++] = pk11.objects[i];
        pk11.object_count = kept;
        /* Freed once unlisted: a freed pointer is not compared with. */
        object_free(obj);
        goto out;
    }
    if ((rv = may_write(session)) != CKR_OK)
        goto out;
    /* The three objects are one reference: deleting it is deleting the
     * private key. A certificate or public key alone cannot go. */
    if (obj->class != CKO_PRIVATE_KEY) {
        pk11_log("%s: destroy the private key object to delete the "
                 "reference",
                 obj->label);
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    if ((rv = pk11_store_locked(0, &st)) != CKR_OK)
        goto out;
    if ((rc = sr_ref_delete(st, obj->label)) != SR_OK) {
        pk11_log("%s", sr_store_errmsg(st));
        rv = pk11_rv(rc);
        goto out;
    }
    rv = pk11_objects_refresh_locked();
out:
    unlock_both(session);
    return rv;
}

/* The private key object whose CKA_ID (else CKA_LABEL) the template names. */
static struct pk11_object *key_for_template(CK_ATTRIBUTE_PTR templ,
                                            CK_ULONG count)
{
    const CK_ATTRIBUTE *id = pk11_attr_lookup(templ, count, CKA_ID);
    const CK_ATTRIBUTE *label = pk11_attr_lookup(templ, count, CKA_LABEL);
    size_t i;

    for (i = 0; i < pk11.object_count; i++) {
        const struct pk11_object *obj = pk11.objects[i];
        if (obj->class != CKO_PRIVATE_KEY)
            continue;
        if (id && id->pValue && id->ulValueLen == PK11_ID_LEN &&
            memcmp(id->pValue, obj->id, PK11_ID_LEN) == 0)
            return pk11.objects[i];
    }
    for (i = 0; label && label->pValue && i < pk11.object_count; i++) {
        const struct pk11_object *obj = pk11.objects[i];
        if (obj->class == CKO_PRIVATE_KEY &&
            strlen(obj->label) == label->ulValueLen &&
            memcmp(obj->label, label->pValue, label->ulValueLen) == 0)
            return pk11.objects[i];
    }
    return NULL;
}

CK_RV pk11_C_CreateObject(CK_SESSION_HANDLE handle, CK_ATTRIBUTE_PTR templ,
                          CK_ULONG count, CK_OBJECT_HANDLE_PTR object)
{
    const CK_ATTRIBUTE *value;
    struct pk11_session *session;
    struct pk11_object *key, *cert;
    CK_ULONG class = 0, cert_type = CKC_X_509;
    char *uuid = NULL;
    sr_store *st;
    sr_rc rc;
    CK_RV rv;

    if (!templ || !object)
        return CKR_ARGUMENTS_BAD;
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    if ((rv = may_write(session)) != CKR_OK ||
        (rv = pk11_attr_ulong(templ, count, CKA_CLASS, &class)) != CKR_OK)
        goto out;
    /* Only a certificate for a key the token holds; keys are imported with
     * "secretref new --certificate" or made with C_GenerateKeyPair. */
    if (class != CKO_CERTIFICATE) {
        pk11_log("C_CreateObject: only certificates can be added");
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    }
    if (pk11_attr_lookup(templ, count, CKA_CERTIFICATE_TYPE) &&
        (pk11_attr_ulong(templ, count, CKA_CERTIFICATE_TYPE, &cert_type) !=
             CKR_OK ||
         cert_type != CKC_X_509)) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (!(value = pk11_attr_lookup(templ, count, CKA_VALUE)) ||
        !value->pValue || !value->ulValueLen) {
        rv = CKR_TEMPLATE_INCOMPLETE;
        goto out;
    }
    if ((rv = pk11_objects_refresh_locked()) != CKR_OK)
        goto out;
    if (!(key = key_for_template(templ, count))) {
        pk11_log("C_CreateObject: no key with that CKA_ID or CKA_LABEL");
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    }
    if ((rv = pk11_store_locked(1, &st)) != CKR_OK)
        goto out;
    if ((rc = sr_ref_attach_certificate(st, key->label, value->pValue,
                                        value->ulValueLen)) != SR_OK) {
        pk11_log("%s", sr_store_errmsg(st));
        rv = rc == SR_ERR_FORMAT ? CKR_ATTRIBUTE_VALUE_INVALID : pk11_rv(rc);
        goto out;
    }
    if (!(uuid = strdup(key->uuid))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rv = pk11_objects_refresh_locked()) != CKR_OK)
        goto out;
    if (!(cert = find_by_uuid(uuid, CKO_CERTIFICATE))) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    *object = cert->handle;
out:
    free(uuid);
    unlock_both(session);
    return rv;
}

/* The --generate name of a key-pair mechanism and its template. */
static CK_RV keygen_kind(CK_MECHANISM_TYPE mech, CK_ATTRIBUTE_PTR pub,
                         CK_ULONG pub_count, const char **kind)
{
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                         0x3d, 0x03, 0x01, 0x07};
    static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x22};
    static const unsigned char p521[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x23};
    const CK_ATTRIBUTE *a;
    CK_ULONG bits = 0;

    switch (mech) {
    case CKM_RSA_PKCS_KEY_PAIR_GEN:
        if (pk11_attr_ulong(pub, pub_count, CKA_MODULUS_BITS, &bits) !=
            CKR_OK)
            return CKR_TEMPLATE_INCOMPLETE;
        *kind = bits == 2048   ? "rsa-2048"
                : bits == 3072 ? "rsa-3072"
                : bits == 4096 ? "rsa-4096"
                               : NULL;
        return *kind ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
    case CKM_EC_KEY_PAIR_GEN:
        if (!(a = pk11_attr_lookup(pub, pub_count, CKA_EC_PARAMS)) ||
            !a->pValue)
            return CKR_TEMPLATE_INCOMPLETE;
#define IS(oid) (a->ulValueLen == sizeof(oid) && !memcmp(a->pValue, oid, sizeof(oid)))
        *kind = IS(p256) ? "ec-p256" : IS(p384) ? "ec-p384"
                : IS(p521) ? "ec-p521" : NULL;
#undef IS
        return *kind ? CKR_OK : CKR_CURVE_NOT_SUPPORTED;
    case CKM_EC_EDWARDS_KEY_PAIR_GEN:
        *kind = "ed25519";
        return CKR_OK;
    default:
        return CKR_MECHANISM_INVALID;
    }
}

CK_RV pk11_C_GenerateKeyPair(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                             CK_ATTRIBUTE_PTR pub, CK_ULONG pub_count,
                             CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count,
                             CK_OBJECT_HANDLE_PTR pub_handle,
                             CK_OBJECT_HANDLE_PTR priv_handle)
{
    struct pk11_session *session;
    struct pk11_object *obj;
    const CK_ATTRIBUTE *label;
    const char *kind = NULL;
    sr_ref_info info;
    sr_ref_spec spec;
    char name[201], random_name[32];
    unsigned char rnd[4];
    sr_store *st;
    sr_rc rc;
    CK_RV rv;

    if (!mech || !pub_handle || !priv_handle || (pub_count && !pub) ||
        (priv_count && !priv))
        return CKR_ARGUMENTS_BAD;
    memset(&info, 0, sizeof(info));
    if ((rv = lock_both(handle, &session)) != CKR_OK)
        return rv;
    if ((rv = may_write(session)) != CKR_OK ||
        (rv = keygen_kind(mech->mechanism, pub, pub_count, &kind)) != CKR_OK)
        goto out;
    /* Keys here are always token keys and never leave: refuse a template
     * that asks otherwise. */
    if (!pk11_attr_bool(priv, priv_count, CKA_TOKEN, 1) ||
        pk11_attr_bool(priv, priv_count, CKA_EXTRACTABLE, 0) ||
        !pk11_attr_bool(priv, priv_count, CKA_SENSITIVE, 1)) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    label = pk11_attr_lookup(priv, priv_count, CKA_LABEL);
    if (!label || !label->pValue)
        label = pk11_attr_lookup(pub, pub_count, CKA_LABEL);
    if (label && label->pValue && label->ulValueLen &&
        label->ulValueLen < sizeof(name)) {
        memcpy(name, label->pValue, label->ulValueLen);
        name[label->ulValueLen] = '\0';
    } else {
        if (RAND_bytes_ex(sr_libctx(), rnd, sizeof(rnd), 0) != 1) {
            rv = CKR_FUNCTION_FAILED;
            goto out;
        }
        snprintf(random_name, sizeof(random_name), "pkcs11-%02x%02x%02x%02x",
                 rnd[0], rnd[1], rnd[2], rnd[3]);
        memcpy(name, random_name, strlen(random_name) + 1);
    }
    if ((rv = pk11_store_locked(1, &st)) != CKR_OK)
        goto out;
    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.description = "made through PKCS#11";
    spec.kind = SR_KIND_CERTIFICATE;
    spec.generate = kind;
    if ((rc = sr_ref_create(st, &spec)) != SR_OK ||
        (rc = sr_ref_lookup(st, name, &info)) != SR_OK) {
        pk11_log("%s", sr_store_errmsg(st));
        rv = rc == SR_ERR_EXISTS ? CKR_TEMPLATE_INCONSISTENT : pk11_rv(rc);
        goto out;
    }
    if ((rv = pk11_objects_refresh_locked()) != CKR_OK)
        goto out;
    if (!(obj = find_by_uuid(info.uuid, CKO_PRIVATE_KEY))) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    *priv_handle = obj->handle;
    if (!(obj = find_by_uuid(info.uuid, CKO_PUBLIC_KEY))) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    *pub_handle = obj->handle;
out:
    sr_ref_info_clear(&info);
    unlock_both(session);
    return rv;
}
