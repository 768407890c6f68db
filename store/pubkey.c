/* SPDX-License-Identifier: Apache-2.0 */
/* Describing public keys for people: type, size, fingerprint. */
#include "internal.h"

#include <openssl/core_names.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sr_rc sr_pubkey_describe(const unsigned char *der, size_t len,
                         sr_pubkey_desc *desc)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey;
    char group[32] = "", *fp = NULL;
    sr_rc rc = SR_OK;

    memset(desc, 0, sizeof(*desc));
    if (!(pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, sr_libctx(), NULL)))
        return SR_ERR_FORMAT;
    desc->bits = EVP_PKEY_get_bits(pkey);
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        snprintf(desc->type, sizeof(desc->type), "RSA");
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        snprintf(desc->type, sizeof(desc->type), "EC");
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), NULL);
        snprintf(desc->curve, sizeof(desc->curve), "%s",
                 strcmp(group, "prime256v1") == 0   ? "P-256"
                 : strcmp(group, "secp384r1") == 0 ? "P-384"
                 : strcmp(group, "secp521r1") == 0 ? "P-521"
                                                    : group);
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        snprintf(desc->type, sizeof(desc->type), "Ed25519");
    } else {
        rc = SR_ERR_UNSUPPORTED;
    }
    if (rc == SR_OK && sr_ssh_fingerprint(pkey, &fp, NULL) == SR_OK)
        snprintf(desc->fingerprint, sizeof(desc->fingerprint), "%s", fp);
    free(fp);
    EVP_PKEY_free(pkey);
    return rc;
}

sr_rc sr_pubkey_ssh_blob(const EVP_PKEY *pkey, unsigned char **blob,
                         size_t *len, const char **algorithm)
{
    unsigned char *ossl_blob = NULL;
    size_t n = 0;
    sr_rc rc;

    *blob = NULL;
    if ((rc = sr_ssh_pubkey_blob(pkey, &ossl_blob, &n, algorithm, NULL)) !=
        SR_OK)
        return rc;
    if ((*blob = malloc(n)))
        memcpy(*blob, ossl_blob, n);
    OPENSSL_free(ossl_blob);
    if (!*blob)
        return SR_ERR_NOMEM;
    *len = n;
    return SR_OK;
}

char *sr_ssh_blob_fingerprint(const unsigned char *blob, size_t len)
{
    unsigned char digest[32];
    unsigned char b64[48];
    char *out;
    int n;

    if (!EVP_Q_digest(sr_libctx(), "SHA256", NULL, blob, len, digest, NULL))
        return NULL;
    n = EVP_EncodeBlock(b64, digest, sizeof(digest));
    /* Unpadded, as OpenSSH prints it. */
    while (n > 0 && b64[n - 1] == '=')
        n--;
    if (!(out = malloc((size_t)n + 8)))
        return NULL;
    memcpy(out, "SHA256:", 7);
    memcpy(out + 7, b64, (size_t)n);
    out[n + 7] = '\0';
    return out;
}
