/* SPDX-License-Identifier: Apache-2.0 */
/* Attribute templates: the values of an object's attributes, filling a
 * C_GetAttributeValue template, and matching a C_FindObjects one. Every
 * value is computed from public parts; private ones are refused as
 * sensitive. */
#include "pk11.h"

#include <openssl/core_names.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* One attribute's value: points into obj or into buf. */
struct value {
    const void *data;
    CK_ULONG len;
    unsigned char *owned; /* freed by the caller */
    CK_BBOOL b;
    CK_ULONG ul;
};

enum { FOUND, MISSING, SENSITIVE };

static int set_bool(struct value *v, int b)
{
    v->b = b ? CK_TRUE : CK_FALSE;
    v->data = &v->b;
    v->len = sizeof(v->b);
    return FOUND;
}

static int set_ulong(struct value *v, CK_ULONG ul)
{
    v->ul = ul;
    v->data = &v->ul;
    v->len = sizeof(v->ul);
    return FOUND;
}

static int set_owned(struct value *v, unsigned char *data, size_t len)
{
    if (!data)
        return MISSING;
    v->owned = data;
    v->data = data;
    v->len = len;
    return FOUND;
}

/* A BIGNUM parameter of the public key, big-endian. */
static int bn_param(struct value *v, const EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int len;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        return MISSING;
    len = BN_num_bytes(bn);
    buf = malloc(len ? (size_t)len : 1);
    if (buf)
        BN_bn2bin(bn, buf);
    BN_free(bn);
    return set_owned(v, buf, (size_t)len);
}

/* DER of the curve: a named-curve OID, as PKCS#11 wants. */
static int ec_params(struct value *v, const struct pk11_object *obj)
{
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                         0x3d, 0x03, 0x01, 0x07};
    static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x22};
    static const unsigned char p521[] = {0x06, 0x05, 0x2b, 0x81,
                                         0x04, 0x00, 0x23};
    static const unsigned char ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    char group[32];

    if (obj->key_type == CKK_EC_EDWARDS) {
        v->data = ed25519;
        v->len = sizeof(ed25519);
        return FOUND;
    }
    if (EVP_PKEY_get_utf8_string_param(obj->pub, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), NULL) != 1)
        return MISSING;
    if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0) {
        v->data = p256;
        v->len = sizeof(p256);
    } else if (strcmp(group, "secp384r1") == 0 ||
               strcmp(group, "P-384") == 0) {
        v->data = p384;
        v->len = sizeof(p384);
    } else if (strcmp(group, "secp521r1") == 0 ||
               strcmp(group, "P-521") == 0) {
        v->data = p521;
        v->len = sizeof(p521);
    } else {
        return MISSING;
    }
    return FOUND;
}

/* The public point as a DER OCTET STRING (04 LEN POINT). */
static int ec_point(struct value *v, const struct pk11_object *obj)
{
    unsigned char point[256], *buf;
    size_t len = 0, hdr;
    const char *name = obj->key_type == CKK_EC_EDWARDS
                           ? OSSL_PKEY_PARAM_PUB_KEY
                           : OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY;

    if (EVP_PKEY_get_octet_string_param(obj->pub, name, point, sizeof(point),
                                        &len) != 1 ||
        len > 255)
        return MISSING;
    hdr = len < 128 ? 2 : 3;
    if (!(buf = malloc(hdr + len)))
        return MISSING;
    buf[0] = 0x04;
    if (len < 128) {
        buf[1] = (unsigned char)len;
    } else {
        buf[1] = 0x81;
        buf[2] = (unsigned char)len;
    }
    memcpy(buf + hdr, point, len);
    return set_owned(v, buf, hdr + len);
}

/* Parts of the certificate: its DER, subject, issuer, serial. */
static int cert_part(struct value *v, const struct pk11_object *obj,
                     CK_ATTRIBUTE_TYPE type)
{
    const unsigned char *p = obj->cert_der;
    unsigned char *der = NULL;
    X509 *cert;
    int len = -1;

    if (!obj->cert_der)
        return MISSING;
    if (type == CKA_VALUE) {
        v->data = obj->cert_der;
        v->len = obj->cert_len;
        return FOUND;
    }
    if (!(cert = d2i_X509(NULL, &p, (long)obj->cert_len)))
        return MISSING;
    if (type == CKA_SUBJECT)
        len = i2d_X509_NAME(X509_get_subject_name(cert), &der);
    else if (type == CKA_ISSUER)
        len = i2d_X509_NAME(X509_get_issuer_name(cert), &der);
    else if (type == CKA_SERIAL_NUMBER)
        len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &der);
    X509_free(cert);
    if (len <= 0)
        return MISSING;
    /* OPENSSL_malloc'd: copy into a malloc'd buffer we free uniformly. */
    {
        unsigned char *copy = malloc((size_t)len);
        if (copy)
            memcpy(copy, der, (size_t)len);
        OPENSSL_free(der);
        return set_owned(v, copy, (size_t)len);
    }
}

static int key_attr(struct value *v, const struct pk11_object *obj,
                    CK_ATTRIBUTE_TYPE type)
{
    int private = obj->class == CKO_PRIVATE_KEY;
    int rsa = obj->key_type == CKK_RSA;
    unsigned char *der = NULL;
    int len;

    switch (type) {
    case CKA_KEY_TYPE:
        return set_ulong(v, obj->key_type);
    case CKA_LOCAL:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY_RECOVER:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_TRUSTED:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
        return set_bool(v, 0);
    case CKA_KEY_GEN_MECHANISM:
        return set_ulong(v, CK_UNAVAILABLE_INFORMATION);
    case CKA_START_DATE:
    case CKA_END_DATE:
        v->data = "";
        v->len = 0;
        return FOUND;
    case CKA_DERIVE:
        return set_bool(v, private && obj->key_type == CKK_EC);
    case CKA_SIGN:
        return set_bool(v, private);
    case CKA_VERIFY:
        return set_bool(v, !private);
    case CKA_DECRYPT:
        return set_bool(v, private && rsa);
    case CKA_ENCRYPT:
        return set_bool(v, !private && rsa);
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
        return private ? set_bool(v, 1) : MISSING;
    case CKA_EXTRACTABLE:
        return private ? set_bool(v, 0) : MISSING;
    case CKA_SUBJECT:
        if (cert_part(v, obj, CKA_SUBJECT) == FOUND)
            return FOUND;
        v->data = "";
        v->len = 0;
        return FOUND;
    case CKA_PUBLIC_KEY_INFO:
        if ((len = i2d_PUBKEY(obj->pub, &der)) <= 0)
            return MISSING;
        {
            unsigned char *copy = malloc((size_t)len);
            if (copy)
                memcpy(copy, der, (size_t)len);
            OPENSSL_free(der);
            return set_owned(v, copy, (size_t)len);
        }
    case CKA_MODULUS:
        return rsa ? bn_param(v, obj->pub, OSSL_PKEY_PARAM_RSA_N) : MISSING;
    case CKA_PUBLIC_EXPONENT:
        return rsa ? bn_param(v, obj->pub, OSSL_PKEY_PARAM_RSA_E) : MISSING;
    case CKA_MODULUS_BITS:
        return rsa && !private
                   ? set_ulong(v, (CK_ULONG)EVP_PKEY_get_bits(obj->pub))
                   : MISSING;
    case CKA_PRIVATE_EXPONENT:
    case CKA_PRIME_1:
    case CKA_PRIME_2:
    case CKA_EXPONENT_1:
    case CKA_EXPONENT_2:
    case CKA_COEFFICIENT:
        return private && rsa ? SENSITIVE : MISSING;
    case CKA_EC_PARAMS:
        return rsa ? MISSING : ec_params(v, obj);
    case CKA_EC_POINT:
        return rsa ? MISSING : ec_point(v, obj);
    case CKA_VALUE:
        return private ? SENSITIVE : MISSING;
    default:
        return MISSING;
    }
}

/* The value of one attribute of obj. */
static int attr_value(const struct pk11_object *obj, CK_ATTRIBUTE_TYPE type,
                      struct value *v)
{
    memset(v, 0, sizeof(*v));
    switch (type) {
    case CKA_CLASS:
        return set_ulong(v, obj->class);
    case CKA_TOKEN:
        return set_bool(v, obj->owner == 0);
    case CKA_PRIVATE:
        return set_bool(v, obj->class == CKO_PRIVATE_KEY);
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
        return set_bool(v, 0);
    case CKA_DESTROYABLE:
        return set_bool(v, 1);
    case CKA_LABEL:
        v->data = obj->label ? obj->label : "";
        v->len = obj->label ? strlen(obj->label) : 0;
        return FOUND;
    default:
        break;
    }
    if (obj->class == CKO_SECRET_KEY) {
        switch (type) {
        case CKA_KEY_TYPE:
            return set_ulong(v, CKK_GENERIC_SECRET);
        case CKA_VALUE_LEN:
            return set_ulong(v, obj->secret_len);
        case CKA_VALUE:
            v->data = obj->secret;
            v->len = obj->secret_len;
            return FOUND;
        case CKA_SENSITIVE:
        case CKA_ALWAYS_SENSITIVE:
            return set_bool(v, 0);
        case CKA_EXTRACTABLE:
        case CKA_DERIVE:
        case CKA_LOCAL:
            return set_bool(v, 1);
        case CKA_ID:
            v->data = "";
            v->len = 0;
            return FOUND;
        default:
            return MISSING;
        }
    }
    if (type == CKA_ID) {
        v->data = obj->id;
        v->len = PK11_ID_LEN;
        return FOUND;
    }
    if (obj->class == CKO_CERTIFICATE) {
        switch (type) {
        case CKA_CERTIFICATE_TYPE:
            return set_ulong(v, CKC_X_509);
        case CKA_TRUSTED:
            return set_bool(v, 0);
        case CKA_CERTIFICATE_CATEGORY:
            return set_ulong(v, 1); /* the token user's own */
        case CKA_JAVA_MIDP_SECURITY_DOMAIN:
            return set_ulong(v, 0);
        case CKA_VALUE:
        case CKA_SUBJECT:
        case CKA_ISSUER:
        case CKA_SERIAL_NUMBER:
            return cert_part(v, obj, type);
        default:
            return MISSING;
        }
    }
    return key_attr(v, obj, type);
}

CK_RV pk11_attr_get(const struct pk11_object *obj, CK_ATTRIBUTE_PTR templ,
                    CK_ULONG count)
{
    CK_RV rv = CKR_OK;
    struct value v;
    CK_ULONG i;
    int state;

    for (i = 0; i < count; i++) {
        state = attr_value(obj, templ[i].type, &v);
        /* Every attribute is handled; a failure is reported, and the
         * others are still filled (pkcs11-provider probes). */
        if (state == SENSITIVE) {
            templ[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_SENSITIVE;
        } else if (state == MISSING) {
            templ[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (rv == CKR_OK)
                rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (!templ[i].pValue) {
            templ[i].ulValueLen = v.len;
        } else if (templ[i].ulValueLen < v.len) {
            templ[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (rv == CKR_OK)
                rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (v.len)
                memcpy(templ[i].pValue, v.data, v.len);
            templ[i].ulValueLen = v.len;
        }
        free(v.owned);
    }
    return rv;
}

int pk11_attr_match(const struct pk11_object *obj, CK_ATTRIBUTE_PTR templ,
                    CK_ULONG count)
{
    struct value v;
    CK_ULONG i;
    int match;

    for (i = 0; i < count; i++) {
        if (attr_value(obj, templ[i].type, &v) != FOUND) {
            free(v.owned);
            return 0;
        }
        match = v.len == templ[i].ulValueLen &&
                (!v.len || (templ[i].pValue &&
                            memcmp(v.data, templ[i].pValue, v.len) == 0));
        free(v.owned);
        if (!match)
            return 0;
    }
    return 1;
}

const CK_ATTRIBUTE *pk11_attr_lookup(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                                     CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG i;

    for (i = 0; templ && i < count; i++)
        if (templ[i].type == type)
            return &templ[i];
    return NULL;
}

int pk11_attr_bool(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                   CK_ATTRIBUTE_TYPE type, int dflt)
{
    const CK_ATTRIBUTE *a = pk11_attr_lookup(templ, count, type);

    if (!a || !a->pValue || a->ulValueLen != sizeof(CK_BBOOL))
        return dflt;
    return *(const CK_BBOOL *)a->pValue != CK_FALSE;
}

CK_RV pk11_attr_ulong(CK_ATTRIBUTE_PTR templ, CK_ULONG count,
                      CK_ATTRIBUTE_TYPE type, CK_ULONG *value)
{
    const CK_ATTRIBUTE *a = pk11_attr_lookup(templ, count, type);

    if (!a)
        return CKR_TEMPLATE_INCOMPLETE;
    if (!a->pValue || a->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy(value, a->pValue, sizeof(CK_ULONG));
    return CKR_OK;
}
