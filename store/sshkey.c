/* SPDX-License-Identifier: Apache-2.0 */
/* SSH public keys of EVP_PKEYs: the wire blob (RFC 4253 6.6, RFC 5656 3.1,
 * RFC 8709 4), the authorized_keys line and the SHA256 fingerprint, byte for
 * byte as ssh-keygen prints them. Only public values pass through here. */
#include "internal.h"

#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* SSH names of the curves we hold, with every name OpenSSL may report. */
static const struct {
    const char *names[3];
    const char *algorithm;
    const char *ssh_curve;
    size_t field_len;
} curves[] = {
    {{"prime256v1", "P-256", "secp256r1"},
     "ecdsa-sha2-nistp256", "nistp256", 32},
    {{"secp384r1", "P-384", NULL}, "ecdsa-sha2-nistp384", "nistp384", 48},
    {{"secp521r1", "P-521", NULL}, "ecdsa-sha2-nistp521", "nistp521", 66},
};

/* A growing output buffer; the first failure sticks so callers check once. */
struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int failed;
};

static unsigned char *reserve(struct wbuf *b, size_t n)
{
    unsigned char *p;
    size_t cap;

    if (b->failed)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return NULL;
    }
    if (b->len + n > b->cap) {
        cap = (b->len + n) * 2;
        if (!(p = OPENSSL_realloc(b->p, cap))) {
            b->failed = 1;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    p = b->p + b->len;
    b->len += n;
    return p;
}

static void put_u32(struct wbuf *b, size_t v)
{
    unsigned char *p = reserve(b, 4);

    if (v > UINT32_MAX)
        b->failed = 1;
    if (!p || b->failed)
        return;
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_string(struct wbuf *b, const void *data, size_t len)
{
    unsigned char *p;

    put_u32(b, len);
    if ((p = reserve(b, len)) && len)
        memcpy(p, data, len);
}

/* RFC 4251 mpint: big-endian, minimal, with a zero byte in front when the
 * top bit is set so the value does not read as negative. */
static void put_mpint(struct wbuf *b, const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    int pad = n > 0 && BN_num_bits(bn) % 8 == 0;
    unsigned char *p;

    if (BN_is_negative(bn)) {
        b->failed = 1;
        return;
    }
    put_u32(b, (size_t)n + (size_t)pad);
    if (!(p = reserve(b, (size_t)n + (size_t)pad)))
        return;
    if (pad)
        *p++ = 0;
    if (BN_bn2binpad(bn, p, n) != n)
        b->failed = 1;
}

static sr_rc rsa_blob(const EVP_PKEY *pkey, struct wbuf *b, const char **alg)
{
    BIGNUM *n = NULL, *e = NULL;
    sr_rc rc = SR_ERR_CRYPTO;

    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
        goto out;
    *alg = "ssh-rsa";
    put_string(b, *alg, strlen(*alg));
    put_mpint(b, e);
    put_mpint(b, n);
    rc = SR_OK;
out:
    BN_free(n);
    BN_free(e);
    return rc;
}

/* string "ecdsa-sha2-nistpXXX", string "nistpXXX", string Q. Q must be
 * the uncompressed point SSH wants: OpenSSL 3.0 gives it so even for a key
 * read from a compressed one, and we check rather than trust that. */
static sr_rc ec_blob(const EVP_PKEY *pkey, struct wbuf *b, const char **alg)
{
    char group[64];
    unsigned char point[1 + 2 * 66];
    size_t i, j, len = 0;

    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                        group, sizeof(group), NULL))
        return SR_ERR_UNSUPPORTED;
    for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        for (j = 0; j < 3; j++)
            if (curves[i].names[j] && strcmp(group, curves[i].names[j]) == 0)
                goto found;
    return SR_ERR_UNSUPPORTED;
found:
    if (!EVP_PKEY_get_octet_string_param(pkey,
                                         OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                         point, sizeof(point), &len) ||
        len != 1 + 2 * curves[i].field_len || point[0] != 0x04)
        return SR_ERR_CRYPTO;
    *alg = curves[i].algorithm;
    put_string(b, *alg, strlen(*alg));
    put_string(b, curves[i].ssh_curve, strlen(curves[i].ssh_curve));
    put_string(b, point, len);
    return SR_OK;
}

static sr_rc ed25519_blob(const EVP_PKEY *pkey, struct wbuf *b,
                          const char **alg)
{
    unsigned char pub[32];
    size_t len = 0;

    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                         sizeof(pub), &len) ||
        len != sizeof(pub))
        return SR_ERR_CRYPTO;
    *alg = "ssh-ed25519";
    put_string(b, *alg, strlen(*alg));
    put_string(b, pub, sizeof(pub));
    return SR_OK;
}

sr_rc sr_ssh_pubkey_blob(const EVP_PKEY *pkey, unsigned char **blob,
                         size_t *bloblen, const char **algorithm,
                         struct sr_error *e)
{
    struct wbuf b = {NULL, 0, 0, 0};
    const char *alg = NULL;
    sr_rc rc;

    if (!pkey || !blob || !bloblen)
        return sr_error_set(e, SR_ERR_USAGE, "ssh public key: no key");
    if (EVP_PKEY_is_a(pkey, "RSA"))
        rc = rsa_blob(pkey, &b, &alg);
    else if (EVP_PKEY_is_a(pkey, "EC"))
        rc = ec_blob(pkey, &b, &alg);
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        rc = ed25519_blob(pkey, &b, &alg);
    else
        rc = SR_ERR_UNSUPPORTED;
    if (rc == SR_OK && b.failed)
        rc = SR_ERR_NOMEM;
    if (rc == SR_ERR_UNSUPPORTED)
        sr_error_set(e, rc, "%s keys have no SSH public key format we write",
                     EVP_PKEY_get0_type_name(pkey)
                         ? EVP_PKEY_get0_type_name(pkey)
                         : "these");
    else if (rc == SR_ERR_NOMEM)
        sr_error_set(e, rc, "ssh public key: out of memory");
    else if (rc != SR_OK)
        sr_error_set(e, rc, "ssh public key: cannot read the public key");
    ERR_clear_error();
    if (rc != SR_OK) {
        OPENSSL_free(b.p);
        return rc;
    }
    *blob = b.p;
    *bloblen = b.len;
    if (algorithm)
        *algorithm = alg;
    return SR_OK;
}

/* Standard padded base64 of data into a malloc'd string. */
static char *base64(const unsigned char *data, size_t len)
{
    char *out;

    if (len > (size_t)INT_MAX / 2)
        return NULL;
    if (!(out = malloc(4 * ((len + 2) / 3) + 1)))
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

sr_rc sr_ssh_pubkey_line(const EVP_PKEY *pkey, const char *comment,
                         char **line, struct sr_error *e)
{
    unsigned char *blob = NULL;
    const char *alg = NULL;
    char *b64 = NULL, *text = NULL;
    size_t bloblen = 0, size;
    sr_rc rc;

    if (!line)
        return sr_error_set(e, SR_ERR_USAGE, "ssh public key: no output");
    /* A line break in the comment would start a second authorized key. */
    if (comment && strpbrk(comment, "\r\n"))
        return sr_error_set(e, SR_ERR_USAGE,
                            "ssh public key: the comment has a line break");
    if ((rc = sr_ssh_pubkey_blob(pkey, &blob, &bloblen, &alg, e)) != SR_OK)
        return rc;
    rc = SR_ERR_NOMEM;
    if (!(b64 = base64(blob, bloblen)))
        goto out;
    if (comment && !*comment)
        comment = NULL;
    size = strlen(alg) + 1 + strlen(b64) + (comment ? 1 + strlen(comment) : 0)
           + 2;
    if (!(text = malloc(size)))
        goto out;
    snprintf(text, size, "%s %s%s%s\n", alg, b64, comment ? " " : "",
             comment ? comment : "");
    rc = SR_OK;
out:
    OPENSSL_free(blob);
    free(b64);
    if (rc != SR_OK)
        return sr_error_set(e, rc, "ssh public key: out of memory");
    *line = text;
    return rc;
}

sr_rc sr_ssh_fingerprint(const EVP_PKEY *pkey, char **fingerprint,
                         struct sr_error *e)
{
    unsigned char *blob = NULL, md[32];
    size_t bloblen = 0, mdlen = 0, n;
    char *b64 = NULL, *text = NULL;
    sr_rc rc;

    if (!fingerprint)
        return sr_error_set(e, SR_ERR_USAGE, "ssh fingerprint: no output");
    if ((rc = sr_ssh_pubkey_blob(pkey, &blob, &bloblen, NULL, e)) != SR_OK)
        return rc;
    if (!EVP_Q_digest(sr_libctx(), "SHA256", NULL, blob, bloblen, md,
                      &mdlen) ||
        mdlen != sizeof(md)) {
        rc = sr_error_set(e, SR_ERR_CRYPTO, "ssh fingerprint: SHA-256");
        sr_error_add_openssl(e);
        OPENSSL_free(blob);
        return rc;
    }
    rc = SR_ERR_NOMEM;
    if (!(b64 = base64(md, mdlen)))
        goto out;
    /* ssh-keygen prints the base64 without its padding. */
    n = strlen(b64);
    while (n && b64[n - 1] == '=')
        b64[--n] = '\0';
    if (!(text = malloc(sizeof("SHA256:") + n)))
        goto out;
    snprintf(text, sizeof("SHA256:") + n, "SHA256:%s", b64);
    rc = SR_OK;
out:
    OPENSSL_free(blob);
    free(b64);
    if (rc != SR_OK)
        return sr_error_set(e, rc, "ssh fingerprint: out of memory");
    *fingerprint = text;
    return rc;
}
