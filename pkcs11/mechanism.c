/* SPDX-License-Identifier: Apache-2.0 */
/* Mechanisms: what the token offers, and sign, decrypt and derive through
 * the store's key core. A signing session holds only its own lock while
 * the key works, never the module's. */
#include "pk11.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

enum {
    RSA_ONLY = 1,
    EC_ONLY = 2,
    ED_ONLY = 4,
};

struct mechanism {
    CK_MECHANISM_TYPE type;
    int keys;
    const char *digest; /* hash-and-sign: the hash; NULL: pre-hashed/raw */
    CK_ULONG min_bits, max_bits;
    CK_FLAGS flags;
};

#define RSA_BITS 2048, 16384
#define EC_BITS 256, 521
#define ECF (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const struct mechanism mechanisms[] = {
    {CKM_RSA_PKCS_KEY_PAIR_GEN, RSA_ONLY, NULL, RSA_BITS,
     CKF_GENERATE_KEY_PAIR},
    {CKM_RSA_PKCS, RSA_ONLY, NULL, RSA_BITS, CKF_SIGN | CKF_DECRYPT},
    {CKM_SHA1_RSA_PKCS, RSA_ONLY, "SHA1", RSA_BITS, CKF_SIGN},
    {CKM_SHA224_RSA_PKCS, RSA_ONLY, "SHA224", RSA_BITS, CKF_SIGN},
    {CKM_SHA256_RSA_PKCS, RSA_ONLY, "SHA256", RSA_BITS, CKF_SIGN},
    {CKM_SHA384_RSA_PKCS, RSA_ONLY, "SHA384", RSA_BITS, CKF_SIGN},
    {CKM_SHA512_RSA_PKCS, RSA_ONLY, "SHA512", RSA_BITS, CKF_SIGN},
    {CKM_RSA_PKCS_PSS, RSA_ONLY, NULL, RSA_BITS, CKF_SIGN},
    {CKM_SHA1_RSA_PKCS_PSS, RSA_ONLY, "SHA1", RSA_BITS, CKF_SIGN},
    {CKM_SHA224_RSA_PKCS_PSS, RSA_ONLY, "SHA224", RSA_BITS, CKF_SIGN},
    {CKM_SHA256_RSA_PKCS_PSS, RSA_ONLY, "SHA256", RSA_BITS, CKF_SIGN},
    {CKM_SHA384_RSA_PKCS_PSS, RSA_ONLY, "SHA384", RSA_BITS, CKF_SIGN},
    {CKM_SHA512_RSA_PKCS_PSS, RSA_ONLY, "SHA512", RSA_BITS, CKF_SIGN},
    {CKM_RSA_PKCS_OAEP, RSA_ONLY, NULL, RSA_BITS, CKF_DECRYPT},
    {CKM_EC_KEY_PAIR_GEN, EC_ONLY, NULL, EC_BITS,
     CKF_GENERATE_KEY_PAIR | ECF},
    {CKM_ECDSA, EC_ONLY, NULL, EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDSA_SHA1, EC_ONLY, "SHA1", EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDSA_SHA224, EC_ONLY, "SHA224", EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDSA_SHA256, EC_ONLY, "SHA256", EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDSA_SHA384, EC_ONLY, "SHA384", EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDSA_SHA512, EC_ONLY, "SHA512", EC_BITS, CKF_SIGN | ECF},
    {CKM_ECDH1_DERIVE, EC_ONLY, NULL, EC_BITS, CKF_DERIVE | ECF},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, ED_ONLY, NULL, 255, 255,
     CKF_GENERATE_KEY_PAIR},
    {CKM_EDDSA, ED_ONLY, NULL, 255, 255, CKF_SIGN},
};

#define MECHANISM_COUNT (sizeof(mechanisms) / sizeof(mechanisms[0]))

static const struct mechanism *mechanism_find(CK_MECHANISM_TYPE type)
{
    size_t i;

    for (i = 0; i < MECHANISM_COUNT; i++)
        if (mechanisms[i].type == type)
            return &mechanisms[i];
    return NULL;
}

CK_RV pk11_mechanism_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    size_t i;

    if (list && *count < MECHANISM_COUNT) {
        *count = MECHANISM_COUNT;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (i = 0; list && i < MECHANISM_COUNT; i++)
        list[i] = mechanisms[i].type;
    *count = MECHANISM_COUNT;
    return CKR_OK;
}

CK_RV pk11_mechanism_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    const struct mechanism *m = mechanism_find(type);

    if (!m)
        return CKR_MECHANISM_INVALID;
    info->ulMinKeySize = m->min_bits;
    info->ulMaxKeySize = m->max_bits;
    /* CKF_HW: the key never leaves the token; pkcs11-tool --test then runs
     * its signature tests. */
    info->flags = m->flags | CKF_HW;
    return CKR_OK;
}

static int key_fits(const struct mechanism *m, CK_KEY_TYPE key_type)
{
    return (key_type == CKK_RSA && (m->keys & RSA_ONLY)) ||
           (key_type == CKK_EC && (m->keys & EC_ONLY)) ||
           (key_type == CKK_EC_EDWARDS && (m->keys & ED_ONLY));
}

static const char *hash_name(CK_MECHANISM_TYPE hash)
{
    switch (hash) {
    case CKM_SHA_1:
        return "SHA1";
    case CKM_SHA224:
        return "SHA224";
    case CKM_SHA256:
        return "SHA256";
    case CKM_SHA384:
        return "SHA384";
    case CKM_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}

static const char *mgf_name(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1:
        return "SHA1";
    case CKG_MGF1_SHA224:
        return "SHA224";
    case CKG_MGF1_SHA256:
        return "SHA256";
    case CKG_MGF1_SHA384:
        return "SHA384";
    case CKG_MGF1_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}

static void copy_name(char *dst, size_t size, const char *name)
{
    size_t len = strlen(name);

    memcpy(dst, name, len < size ? len + 1 : size);
    dst[size - 1] = '\0';
}

/* Prepares the session's operation on the private key object. */
static CK_RV operation_start(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                             CK_OBJECT_HANDLE hkey, enum pk11_op kind,
                             struct pk11_session **out,
                             const struct mechanism **m_out)
{
    struct pk11_session *session;
    struct pk11_object *obj;
    const struct mechanism *m;
    CK_RV rv;

    *out = NULL;
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_check_ready()) != CKR_OK)
        return rv;
    pthread_mutex_lock(&pk11.lock);
    if (handle == 0 || handle > PK11_MAX_SESSIONS ||
        !(session = pk11.sessions[handle])) {
        pthread_mutex_unlock(&pk11.lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    pthread_mutex_lock(&session->lock);
    if (session->op.kind != PK11_OP_NONE) {
        rv = CKR_OPERATION_ACTIVE;
        goto fail;
    }
    obj = pk11_object_find_locked(hkey);
    if (!obj || (obj->owner && obj->owner != handle) ||
        (obj->class == CKO_PRIVATE_KEY && !pk11_private_visible())) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto fail;
    }
    if (!(m = mechanism_find(mech->mechanism)) ||
        !(m->flags & (kind == PK11_OP_SIGN ? CKF_SIGN : CKF_DECRYPT))) {
        rv = CKR_MECHANISM_INVALID;
        goto fail;
    }
    if (obj->class != CKO_PRIVATE_KEY) {
        rv = CKR_KEY_FUNCTION_NOT_PERMITTED;
        goto fail;
    }
    if (!key_fits(m, obj->key_type)) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto fail;
    }
    if ((rv = pk11_object_open_key_locked(obj, &session->op.key)) != CKR_OK)
        goto fail;
    session->op.key_type = obj->key_type;
    session->op.mechanism = mech->mechanism;
    pthread_mutex_unlock(&pk11.lock);
    *out = session;
    *m_out = m;
    return CKR_OK;
fail:
    pthread_mutex_unlock(&session->lock);
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}

CK_RV pk11_C_SignInit(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                      CK_OBJECT_HANDLE key)
{
    struct pk11_session *session;
    const struct mechanism *m;
    struct pk11_operation *op;
    const CK_RSA_PKCS_PSS_PARAMS *pss;
    const char *name;
    EVP_MD *md = NULL;
    CK_RV rv;
    int bits;

    if ((rv = operation_start(handle, mech, key, PK11_OP_SIGN, &session,
                              &m)) != CKR_OK)
        return rv;
    op = &session->op;
    bits = sr_key_bits(op->key);
    memset(&op->sign, 0, sizeof(op->sign));
    switch (op->key_type) {
    case CKK_RSA:
        op->sig_len = (size_t)(bits + 7) / 8;
        op->sign.padding = SR_PAD_PKCS1;
        break;
    case CKK_EC:
        op->field_len = (size_t)(bits + 7) / 8;
        op->sig_len = 2 * op->field_len;
        break;
    default:
        op->sig_len = 64;
        break;
    }
    if (m->digest)
        copy_name(op->digest, sizeof(op->digest), m->digest);
    /* PSS: the hash, MGF1 and salt come as parameters. Named one by one:
     * CKM_SHA224_RSA_PKCS (0x46) sorts among the PSS mechanisms. */
    if (mech->mechanism == CKM_RSA_PKCS_PSS ||
        mech->mechanism == CKM_SHA1_RSA_PKCS_PSS ||
        mech->mechanism == CKM_SHA224_RSA_PKCS_PSS ||
        mech->mechanism == CKM_SHA256_RSA_PKCS_PSS ||
        mech->mechanism == CKM_SHA384_RSA_PKCS_PSS ||
        mech->mechanism == CKM_SHA512_RSA_PKCS_PSS) {
        pss = mech->pParameter;
        if (!pss || mech->ulParameterLen != sizeof(*pss) ||
            !(name = hash_name(pss->hashAlg)) || !mgf_name(pss->mgf) ||
            (m->digest && strcmp(name, m->digest) != 0)) {
            rv = CKR_MECHANISM_PARAM_INVALID;
            goto fail;
        }
        copy_name(op->digest, sizeof(op->digest), name);
        copy_name(op->mgf1, sizeof(op->mgf1), mgf_name(pss->mgf));
        op->sign.padding = SR_PAD_PSS;
        op->sign.salt_len = (int)pss->sLen;
    } else if (mech->ulParameterLen && mech->mechanism != CKM_EDDSA) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        goto fail;
    }
    op->sign.digest = op->digest[0] ? op->digest : NULL;
    op->sign.mgf1_digest = op->mgf1[0] ? op->mgf1 : NULL;
    if (m->digest) {
        if (!(md = EVP_MD_fetch(sr_libctx(), m->digest, NULL)) ||
            !(op->md = EVP_MD_CTX_new()) ||
            EVP_DigestInit_ex2(op->md, md, NULL) != 1) {
            rv = CKR_HOST_MEMORY;
            goto fail;
        }
    }
    op->kind = PK11_OP_SIGN;
    EVP_MD_free(md);
    pk11_session_unlock(session);
    return CKR_OK;
fail:
    EVP_MD_free(md);
    pk11_operation_end(op);
    pk11_session_unlock(session);
    return rv;
}

/* One INTEGER of an ECDSA-Sig-Value at *p, right-aligned into the field
 * bytes at out. */
static int der_int_to_field(const unsigned char **p, const unsigned char *end,
                            unsigned char *out, size_t field)
{
    const unsigned char *q = *p;
    size_t len;

    if (end - q < 2 || q[0] != 0x02 || (len = q[1]) == 0 || len > 0x7f ||
        (size_t)(end - q - 2) < len)
        return 0;
    q += 2;
    /* A leading zero byte keeps the INTEGER positive; it is no digit. */
    for (; len > 0 && *q == 0; len--)
        q++;
    if (len > field)
        return 0;
    memset(out, 0, field - len);
    memcpy(out + field - len, q, len);
    *p = q + len;
    return 1;
}

/* ECDSA-Sig-Value DER (SEQUENCE { r, s }) to PKCS#11's r || s, each field
 * bytes. Parsed in place: d2i_ECDSA_SIG and two BIGNUMs per signature were
 * a tenth of a P-256 signature's cost. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t len,
                            unsigned char *out, size_t field)
{
    const unsigned char *p = der, *end = der + len;
    size_t seq;

    if (len < 2 || p[0] != 0x30)
        return 0;
    if (p[1] < 0x80) {
        seq = p[1];
        p += 2;
    } else if (p[1] == 0x81 && len > 2) {
        seq = p[2];
        p += 3;
    } else {
        return 0;
    }
    return (size_t)(end - p) == seq && der_int_to_field(&p, end, out, field) &&
           der_int_to_field(&p, end, out + field, field) && p == end;
}

/* Signs tbs (a digest, a DigestInfo, or an EdDSA message) into out,
 * converting ECDSA's DER to PKCS#11's r || s. */
static CK_RV sign_now(struct pk11_operation *op, const unsigned char *tbs,
                      size_t tbslen, unsigned char *out)
{
    unsigned char der[256];
    size_t der_len = sizeof(der), len = op->sig_len;
    sr_rc rc;

    if (op->key_type != CKK_EC) {
        rc = sr_key_sign(op->key, &op->sign, tbs, tbslen, out, &len);
        if (rc != SR_OK) {
            pk11_log("%s", sr_key_errmsg(op->key));
            return rc == SR_ERR_CRYPTO ? CKR_DATA_LEN_RANGE : pk11_rv(rc);
        }
        return CKR_OK;
    }
    if ((rc = sr_key_sign(op->key, &op->sign, tbs, tbslen, der,
                          &der_len)) != SR_OK) {
        pk11_log("%s", sr_key_errmsg(op->key));
        return pk11_rv(rc);
    }
    if (!ecdsa_der_to_raw(der, der_len, out, op->field_len))
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

/* The length check of C_Sign and C_SignFinal: a NULL buffer asks for the
 * length, a short one keeps the operation for another call. */
static CK_RV output_check(size_t need, const CK_BYTE *out,
                          CK_ULONG_PTR out_len)
{
    if (!out_len)
        return CKR_ARGUMENTS_BAD;
    if (!out) {
        *out_len = need;
        return CKR_OK;
    }
    if (*out_len < need) {
        *out_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    return CKR_OK;
}

static CK_RV buffer_append(struct pk11_operation *op, const unsigned char *data,
                           size_t len)
{
    unsigned char *grown;

    if (!len)
        return CKR_OK;
    if (op->buffer_len + len > (size_t)16 * 1024 * 1024)
        return CKR_DATA_LEN_RANGE;
    if (!(grown = OPENSSL_secure_zalloc(op->buffer_len + len)))
        return CKR_HOST_MEMORY;
    if (op->buffer) {
        memcpy(grown, op->buffer, op->buffer_len);
        OPENSSL_clear_free(op->buffer, op->buffer_len);
    }
    memcpy(grown + op->buffer_len, data, len);
    op->buffer = grown;
    op->buffer_len += len;
    return CKR_OK;
}

CK_RV pk11_C_Sign(CK_SESSION_HANDLE handle, CK_BYTE_PTR data, CK_ULONG len,
                  CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    CK_RV rv;

    if (!data && len)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_SIGN) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        goto unlock;
    }
    if (op->multipart) {
        rv = CKR_OPERATION_ACTIVE;
        goto unlock;
    }
    if ((rv = output_check(op->sig_len, sig, sig_len)) != CKR_OK || !sig)
        goto keep;
    if (op->md) {
        if (EVP_DigestUpdate(op->md, data, len) != 1 ||
            EVP_DigestFinal_ex(op->md, digest, &dlen) != 1) {
            rv = CKR_FUNCTION_FAILED;
            goto end;
        }
        rv = sign_now(op, digest, dlen, sig);
    } else {
        rv = sign_now(op, data, len, sig);
    }
    if (rv == CKR_OK)
        *sig_len = op->sig_len;
end:
    pk11_operation_end(op);
keep:
    if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
        pk11_operation_end(op);
unlock:
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_SignUpdate(CK_SESSION_HANDLE handle, CK_BYTE_PTR data,
                        CK_ULONG len)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    CK_RV rv;

    if (!data && len)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_SIGN) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (op->md) {
        op->multipart = 1;
        if (EVP_DigestUpdate(op->md, data, len) != 1)
            rv = CKR_FUNCTION_FAILED;
    } else if (op->mechanism == CKM_EDDSA) {
        op->multipart = 1;
        rv = buffer_append(op, data, len);
    } else {
        /* Raw RSA, pre-hashed PSS and ECDSA are single-part only. */
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    }
    if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
        pk11_operation_end(op);
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_SignFinal(CK_SESSION_HANDLE handle, CK_BYTE_PTR sig,
                       CK_ULONG_PTR sig_len)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    CK_RV rv;

    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_SIGN) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        goto unlock;
    }
    if ((rv = output_check(op->sig_len, sig, sig_len)) != CKR_OK || !sig) {
        if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
            pk11_operation_end(op);
        goto unlock;
    }
    if (op->md) {
        if (EVP_DigestFinal_ex(op->md, digest, &dlen) != 1)
            rv = CKR_FUNCTION_FAILED;
        else
            rv = sign_now(op, digest, dlen, sig);
    } else if (op->mechanism == CKM_EDDSA) {
        rv = sign_now(op, op->buffer, op->buffer_len, sig);
    } else {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    }
    if (rv == CKR_OK)
        *sig_len = op->sig_len;
    pk11_operation_end(op);
unlock:
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_DecryptInit(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                         CK_OBJECT_HANDLE key)
{
    struct pk11_session *session;
    const struct mechanism *m;
    struct pk11_operation *op;
    const CK_RSA_PKCS_OAEP_PARAMS *oaep;
    CK_RV rv;

    if ((rv = operation_start(handle, mech, key, PK11_OP_DECRYPT, &session,
                              &m)) != CKR_OK)
        return rv;
    op = &session->op;
    memset(&op->decrypt, 0, sizeof(op->decrypt));
    op->sig_len = (size_t)(sr_key_bits(op->key) + 7) / 8;
    if (mech->mechanism == CKM_RSA_PKCS_OAEP) {
        oaep = mech->pParameter;
        if (!oaep || mech->ulParameterLen != sizeof(*oaep) ||
            !hash_name(oaep->hashAlg) || !mgf_name(oaep->mgf) ||
            (oaep->source && oaep->source != CKZ_DATA_SPECIFIED) ||
            (oaep->ulSourceDataLen && !oaep->pSourceData)) {
            rv = CKR_MECHANISM_PARAM_INVALID;
            goto fail;
        }
        copy_name(op->digest, sizeof(op->digest), hash_name(oaep->hashAlg));
        copy_name(op->mgf1, sizeof(op->mgf1), mgf_name(oaep->mgf));
        op->decrypt.padding = SR_PAD_OAEP;
        op->decrypt.oaep_digest = op->digest;
        op->decrypt.mgf1_digest = op->mgf1;
        if (oaep->ulSourceDataLen) {
            if (!(op->label = malloc(oaep->ulSourceDataLen))) {
                rv = CKR_HOST_MEMORY;
                goto fail;
            }
            memcpy(op->label, oaep->pSourceData, oaep->ulSourceDataLen);
            op->decrypt.label = op->label;
            op->decrypt.label_len = oaep->ulSourceDataLen;
        }
    } else {
        op->decrypt.padding = SR_PAD_PKCS1;
    }
    op->kind = PK11_OP_DECRYPT;
    pk11_session_unlock(session);
    return CKR_OK;
fail:
    pk11_operation_end(op);
    pk11_session_unlock(session);
    return rv;
}

CK_RV pk11_C_Decrypt(CK_SESSION_HANDLE handle, CK_BYTE_PTR in, CK_ULONG len,
                     CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct pk11_session *session;
    struct pk11_operation *op;
    unsigned char *plain = NULL;
    size_t plain_len;
    CK_RV rv;
    sr_rc rc;

    if ((!in && len) || !out_len)
        return CKR_ARGUMENTS_BAD;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    op = &session->op;
    if (op->kind != PK11_OP_DECRYPT) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        goto unlock;
    }
    if (!out) {
        *out_len = op->sig_len;
        goto unlock;
    }
    if (len != op->sig_len) {
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
        goto end;
    }
    plain_len = op->sig_len;
    if (!(plain = OPENSSL_secure_malloc(plain_len))) {
        rv = CKR_HOST_MEMORY;
        goto end;
    }
    if ((rc = sr_key_decrypt(op->key, &op->decrypt, in, len, plain,
                             &plain_len)) != SR_OK) {
        pk11_log("%s", sr_key_errmsg(op->key));
        rv = rc == SR_ERR_CRYPTO ? CKR_ENCRYPTED_DATA_INVALID : pk11_rv(rc);
        goto end;
    }
    if (*out_len < plain_len) {
        /* The operation stays for a call with a larger buffer. */
        *out_len = plain_len;
        rv = CKR_BUFFER_TOO_SMALL;
        OPENSSL_secure_clear_free(plain, op->sig_len);
        goto unlock;
    }
    memcpy(out, plain, plain_len);
    *out_len = plain_len;
end:
    if (plain)
        OPENSSL_secure_clear_free(plain, op->sig_len);
    pk11_operation_end(op);
unlock:
    pk11_session_unlock(session);
    return rv;
}

/* The peer's public key for ECDH: its point (raw, or in a DER OCTET
 * STRING) on the curve of our key, as SubjectPublicKeyInfo DER. */
static unsigned char *peer_spki(const struct pk11_object *obj,
                                const unsigned char *point, size_t len,
                                size_t *spki_len)
{
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *peer = NULL;
    unsigned char *der = NULL, *copy = NULL;
    char group[32];
    int n;

    if (len > 2 && point[0] == 0x04 && point[1] == len - 2) {
        point += 2;
        len -= 2;
    } else if (len > 3 && point[0] == 0x04 && point[1] == 0x81 &&
               point[2] == len - 3) {
        point += 3;
        len -= 3;
    }
    if (EVP_PKEY_get_utf8_string_param(obj->pub, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), NULL) != 1)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  (void *)point, len);
    params[2] = OSSL_PARAM_construct_end();
    if ((ctx = EVP_PKEY_CTX_new_from_name(sr_libctx(), "EC", NULL)) &&
        EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &peer, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
        (n = i2d_PUBKEY(peer, &der)) > 0 && (copy = malloc((size_t)n))) {
        memcpy(copy, der, (size_t)n);
        *spki_len = (size_t)n;
    }
    OPENSSL_free(der);
    EVP_PKEY_free(peer);
    EVP_PKEY_CTX_free(ctx);
    return copy;
}

CK_RV pk11_C_DeriveKey(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                       CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR templ,
                       CK_ULONG count, CK_OBJECT_HANDLE_PTR derived)
{
    const CK_ECDH1_DERIVE_PARAMS *params;
    struct pk11_session *session;
    struct pk11_object *obj;
    unsigned char *spki = NULL, *secret = NULL;
    size_t spki_len = 0, secret_len = 0;
    CK_ULONG want = 0;
    sr_key *key = NULL;
    sr_rc rc;
    CK_RV rv;

    if (!mech || !derived || (count && !templ))
        return CKR_ARGUMENTS_BAD;
    if (mech->mechanism != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    params = mech->pParameter;
    if (!params || mech->ulParameterLen != sizeof(*params) ||
        params->kdf != CKD_NULL || params->ulSharedDataLen ||
        !params->pPublicData || !params->ulPublicDataLen)
        return CKR_MECHANISM_PARAM_INVALID;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    pk11_session_unlock(session);
    pthread_mutex_lock(&pk11.lock);
    obj = pk11_object_find_locked(base);
    if (!obj || obj->class != CKO_PRIVATE_KEY || !pk11_private_visible()) {
        rv = CKR_KEY_HANDLE_INVALID;
        goto out;
    }
    if (obj->key_type != CKK_EC) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
        goto out;
    }
    if (!(spki = peer_spki(obj, params->pPublicData, params->ulPublicDataLen,
                           &spki_len))) {
        rv = CKR_MECHANISM_PARAM_INVALID;
        goto out;
    }
    if ((rv = pk11_object_open_key_locked(obj, &key)) != CKR_OK)
        goto out;
    secret_len = (size_t)(sr_key_bits(key) + 7) / 8;
    if (!(secret = OPENSSL_zalloc(secret_len))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if ((rc = sr_key_derive(key, spki, spki_len, secret, &secret_len)) !=
        SR_OK) {
        pk11_log("%s", sr_key_errmsg(key));
        rv = pk11_rv(rc);
        goto out;
    }
    if (pk11_attr_ulong(templ, count, CKA_VALUE_LEN, &want) == CKR_OK &&
        want && want < secret_len)
        secret_len = want;
    if (!(*derived = pk11_object_add_secret_locked(handle, secret, secret_len,
                                                   templ, count))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    secret = NULL;
out:
    pthread_mutex_unlock(&pk11.lock);
    if (secret)
        OPENSSL_clear_free(secret, (size_t)(sr_key_bits(key) + 7) / 8);
    free(spki);
    sr_key_free(key);
    return rv;
}

CK_RV pk11_C_WrapKey(CK_SESSION_HANDLE handle, CK_MECHANISM_PTR mech,
                     CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                     CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct pk11_session *session;
    struct pk11_object *obj;
    CK_RV rv;

    (void)mech, (void)wrapping, (void)out, (void)out_len;
    if ((rv = pk11_session_lock(handle, &session)) != CKR_OK)
        return rv;
    pk11_session_unlock(session);
    pthread_mutex_lock(&pk11.lock);
    obj = pk11_object_find_locked(key);
    /* A private key is never extractable, wrapped or not. */
    if (!obj)
        rv = CKR_KEY_HANDLE_INVALID;
    else if (obj->class == CKO_PRIVATE_KEY)
        rv = CKR_KEY_UNEXTRACTABLE;
    else
        rv = CKR_KEY_NOT_WRAPPABLE;
    pthread_mutex_unlock(&pk11.lock);
    return rv;
}
