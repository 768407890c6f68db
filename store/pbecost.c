/* SPDX-License-Identifier: Apache-2.0 */
/* The work a key file's password-based encryption asks for: PBKDF2's
 * iterations, scrypt's N, r and p, the iterations of PKCS#5 v1 and PKCS#12
 * PBE. The counts come from the file, so a small file could hold a command
 * for hours; they are read from the parameters and refused above a bound
 * before any of the work is done. Algorithms not recognised here pass: the
 * decoder then fails on them in its own words. */
#include "internal.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* scrypt's cost is N * r * p (in 128-byte block mixes): OpenSSL's default
 * is 2^17; 2^23 is a few seconds. */
#define SCRYPT_WORK_MAX ((uint64_t)1 << 23)
/* PKCS#12 lets bags nest; PKCS12_parse follows them without a bound. */
#define SAFES_DEPTH_MAX 8

/* An iteration count: ASN1_INTEGER_get gives -1 for one beyond a long. */
static sr_rc check_iterations(const ASN1_INTEGER *iter, const char *what,
                              struct sr_error *e)
{
    long count = iter ? ASN1_INTEGER_get(iter) : 1;

    if (count < 0 || count > SR_KDF_ITER_MAX)
        return sr_error_set(e, SR_ERR_FORMAT, "the key file asks for more "
                            "than %ld %s: refused", SR_KDF_ITER_MAX, what);
    return SR_OK;
}

static sr_rc check_scrypt(const ASN1_TYPE *param, struct sr_error *e)
{
    SCRYPT_PARAMS *sp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SCRYPT_PARAMS),
                                                  param);
    uint64_t n = 0, r = 0, p = 0;
    sr_rc rc = SR_OK;

    if (!sp)
        return SR_OK;
    /* Each factor alone is at most the bound, so the product cannot wrap. */
    if (!ASN1_INTEGER_get_uint64(&n, sp->costParameter) ||
        !ASN1_INTEGER_get_uint64(&r, sp->blockSize) ||
        !ASN1_INTEGER_get_uint64(&p, sp->parallelizationParameter) ||
        n > SCRYPT_WORK_MAX || r > SCRYPT_WORK_MAX || p > SCRYPT_WORK_MAX ||
        n * r > SCRYPT_WORK_MAX || n * r * p > SCRYPT_WORK_MAX)
        rc = sr_error_set(e, SR_ERR_FORMAT, "the key file asks for more "
                          "than %llu of scrypt's work (N*r*p): refused",
                          (unsigned long long)SCRYPT_WORK_MAX);
    SCRYPT_PARAMS_free(sp);
    return rc;
}

static sr_rc check_pbes2(const ASN1_TYPE *param, struct sr_error *e)
{
    PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM),
                                                param);
    PBKDF2PARAM *kdf = NULL;
    sr_rc rc = SR_OK;

    if (!pbe2 || !pbe2->keyfunc)
        goto out;
    switch (OBJ_obj2nid(pbe2->keyfunc->algorithm)) {
    case NID_id_pbkdf2:
        kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
                                        pbe2->keyfunc->parameter);
        if (kdf)
            rc = check_iterations(kdf->iter, "PBKDF2 iterations", e);
        break;
    case NID_id_scrypt:
        rc = check_scrypt(pbe2->keyfunc->parameter, e);
        break;
    default:
        break;
    }
out:
    PBKDF2PARAM_free(kdf);
    PBE2PARAM_free(pbe2);
    return rc;
}

sr_rc sr_pbe_check_cost(const X509_ALGOR *alg, struct sr_error *e)
{
    PBEPARAM *pbe;
    sr_rc rc;

    if (!alg || !alg->algorithm)
        return SR_OK;
    if (OBJ_obj2nid(alg->algorithm) == NID_pbes2)
        return check_pbes2(alg->parameter, e);
    /* PKCS#5 v1 and PKCS#12's own PBE share one parameter shape. */
    if (!(pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM),
                                          alg->parameter)))
        return SR_OK;
    rc = check_iterations(pbe->iter, "PBE iterations", e);
    PBEPARAM_free(pbe);
    return rc;
}

sr_rc sr_pkcs8_check_cost(const unsigned char *der, size_t len,
                          struct sr_error *e)
{
    const unsigned char *p = der;
    const X509_ALGOR *alg = NULL;
    X509_SIG *sig;
    sr_rc rc;

    if (len > LONG_MAX || !(sig = d2i_X509_SIG(NULL, &p, (long)len)))
        return SR_OK;
    X509_SIG_get0(sig, &alg, NULL);
    rc = sr_pbe_check_cost(alg, e);
    X509_SIG_free(sig);
    return rc;
}

/* NOLINTNEXTLINE(misc-no-recursion): SAFES_DEPTH_MAX levels at most */
static sr_rc check_bags(const STACK_OF(PKCS12_SAFEBAG) *bags, int depth,
                        struct sr_error *e)
{
    const PKCS12_SAFEBAG *bag;
    const X509_ALGOR *alg;
    sr_rc rc = SR_OK;
    int i;

    for (i = 0; rc == SR_OK && i < sk_PKCS12_SAFEBAG_num(bags); i++) {
        bag = sk_PKCS12_SAFEBAG_value(bags, i);
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_pkcs8ShroudedKeyBag:
            alg = NULL;
            X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
            rc = sr_pbe_check_cost(alg, e);
            break;
        case NID_safeContentsBag:
            if (depth >= SAFES_DEPTH_MAX)
                rc = sr_error_set(e, SR_ERR_FORMAT, "the PKCS#12 file nests "
                                  "its bags more than %d deep: refused",
                                  SAFES_DEPTH_MAX);
            else
                rc = check_bags(PKCS12_SAFEBAG_get0_safes(bag), depth + 1, e);
            break;
        default:
            break;
        }
    }
    return rc;
}

sr_rc sr_pkcs12_check_cost(const PKCS12 *p12, const char *pass,
                           struct sr_error *e)
{
    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    STACK_OF(PKCS12_SAFEBAG) *bags;
    PKCS7 *p7;
    sr_rc rc = SR_OK;
    int i;

    /* What cannot be read here, PKCS12_parse reports. */
    if (!safes)
        return SR_OK;
    for (i = 0; rc == SR_OK && i < sk_PKCS7_num(safes); i++) {
        p7 = sk_PKCS7_value(safes, i);
        bags = NULL;
        switch (OBJ_obj2nid(p7->type)) {
        case NID_pkcs7_data:
            bags = PKCS12_unpack_p7data(p7);
            break;
        case NID_pkcs7_encrypted:
            if (p7->d.encrypted && p7->d.encrypted->enc_data)
                rc = sr_pbe_check_cost(p7->d.encrypted->enc_data->algorithm,
                                       e);
            /* Decrypted to read the counts of the shrouded keys inside;
             * the buffer is cleansed, and so is a key bag in clear when it
             * is freed (PKCS8_PRIV_KEY_INFO clears itself). */
            if (rc == SR_OK)
                bags = PKCS12_unpack_p7encdata(p7, pass, -1);
            break;
        default:
            break;
        }
        if (bags)
            rc = check_bags(bags, 0, e);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    ERR_clear_error();
    return rc;
}
