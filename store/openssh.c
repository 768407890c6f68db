/* SPDX-License-Identifier: Apache-2.0 */
/* Unencrypted OpenSSH private keys ("openssh-key-v1", OpenSSH's
 * PROTOCOL.key) into EVP_PKEYs of sr_libctx(). The input is untrusted and
 * a fuzz target: every length is checked against what is left before it is
 * used, and every buffer that held key bytes is cleansed. */
#include "internal.h"

#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <string.h>

#define ARMOUR_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define ARMOUR_END "-----END OPENSSH PRIVATE KEY-----"
#define MAGIC "openssh-key-v1" /* followed by its NUL on the wire */
#define INPUT_MAX ((size_t)1024 * 1024)
/* OpenSSH's own limit (SSHBUF_MAX_BIGNUM): 16384 bits, plus a sign byte. */
#define MPINT_MAX (16384 / 8 + 1)

#define ENCRYPTED_MSG                                                       \
    "encrypted OpenSSH key: remove its passphrase with "                    \
    "`ssh-keygen -p -N '' -f FILE` on a copy, or convert it with "          \
    "`ssh-keygen -p -m PKCS8 -f FILE` and give --password-file"

/* What is left of the input; reads never go past left. */
struct rbuf {
    const unsigned char *p;
    size_t left;
};

static int get_u32(struct rbuf *r, uint32_t *v)
{
    if (r->left < 4)
        return 0;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
         (uint32_t)r->p[2] << 8 | (uint32_t)r->p[3];
    r->p += 4;
    r->left -= 4;
    return 1;
}

static int get_string(struct rbuf *r, const unsigned char **s, size_t *len)
{
    uint32_t n;

    if (!get_u32(r, &n) || n > r->left)
        return 0;
    *s = r->p;
    *len = n;
    r->p += n;
    r->left -= n;
    return 1;
}

/* A non-negative mpint of at most max bytes, leading zeros included. */
static int get_mpint(struct rbuf *r, size_t max, const unsigned char **s,
                     size_t *len)
{
    if (!get_string(r, s, len) || *len > max)
        return 0;
    return *len == 0 || !(**s & 0x80);
}

static int string_is(const unsigned char *s, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

static const unsigned char *find(const unsigned char *hay, size_t len,
                                 const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; len >= n && i <= len - n; i++)
        if (hay[i] == (unsigned char)needle[0] && !memcmp(hay + i, needle, n))
            return hay + i;
    return NULL;
}

static int is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* The binary between the armour lines: whitespace dropped, padding only at
 * the end. *bin is freed by the caller with OPENSSL_clear_free(*bin, *cap). */
static sr_rc dearmour(const unsigned char *data, size_t len,
                      unsigned char **bin, size_t *binlen, size_t *cap,
                      struct sr_error *e)
{
    const unsigned char *begin, *end, *q;
    unsigned char *text = NULL, *out = NULL;
    size_t n = 0, pad = 0;
    int got;
    sr_rc rc = SR_ERR_FORMAT;

    if (!(begin = find(data, len, ARMOUR_BEGIN)))
        return sr_error_set(e, rc, "not an OpenSSH private key");
    begin += strlen(ARMOUR_BEGIN);
    if (!(end = find(begin, len - (size_t)(begin - data), ARMOUR_END)))
        return sr_error_set(e, rc, "truncated OpenSSH key: no END line");
    if (!(text = OPENSSL_malloc((size_t)(end - begin) + 1)))
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    for (q = begin; q < end; q++) {
        if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            continue;
        if (*q == '=' ? pad == 2 : (!is_b64(*q) || pad)) {
            sr_error_set(e, rc, "malformed OpenSSH key: not base64");
            goto out;
        }
        pad += *q == '=';
        text[n++] = *q;
    }
    if (n == 0 || n % 4 != 0 || n > INT_MAX) {
        sr_error_set(e, rc, "truncated OpenSSH key: incomplete base64");
        goto out;
    }
    text[n] = '\0';
    if (!(out = OPENSSL_malloc(n / 4 * 3))) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* EVP_DecodeBlock decodes the padding as zero bytes: drop them. */
    got = EVP_DecodeBlock(out, text, (int)n);
    if (got < 0 || (size_t)got != n / 4 * 3) {
        sr_error_set(e, rc, "malformed OpenSSH key: not base64");
        goto out;
    }
    *cap = n / 4 * 3;
    *binlen = *cap - pad;
    *bin = out;
    out = NULL;
    rc = SR_OK;
out:
    OPENSSL_clear_free(text, (size_t)(end - begin) + 1);
    OPENSSL_clear_free(out, n / 4 * 3);
    return rc;
}

/* The key from params, built in sr_libctx(). */
static sr_rc fromdata(const char *type, OSSL_PARAM *params, EVP_PKEY **out,
                      struct sr_error *e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(sr_libctx(), type, NULL);
    sr_rc rc = SR_OK;

    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) <= 0) {
        rc = sr_error_set(e, SR_ERR_FORMAT,
                          "malformed OpenSSH key: invalid %s key", type);
        sr_error_add_openssl(e);
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* n, e, d, iqmp, p, q; OpenSSL also wants d mod (p-1) and d mod (q-1). */
static sr_rc read_rsa(struct rbuf *r, EVP_PKEY **out, struct sr_error *e)
{
    const unsigned char *s[6];
    size_t l[6];
    BIGNUM *n = NULL, *ex = NULL, *d = NULL, *iqmp = NULL, *p = NULL;
    BIGNUM *q = NULL, *dmp1 = NULL, *dmq1 = NULL, *p1, *q1, *t;
    BN_CTX *bctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    sr_rc rc = SR_ERR_FORMAT;
    int i;

    for (i = 0; i < 6; i++)
        if (!get_mpint(r, MPINT_MAX, &s[i], &l[i]))
            return sr_error_set(e, rc, "truncated or malformed OpenSSH key");
    /* Private values in secure BIGNUMs: OSSL_PARAM_BLD then keeps them in
     * its cleansed secure block. */
    if (!(bctx = BN_CTX_secure_new()) ||
        !(n = BN_bin2bn(s[0], (int)l[0], NULL)) ||
        !(ex = BN_bin2bn(s[1], (int)l[1], NULL)) || !(d = BN_secure_new()) ||
        !(iqmp = BN_secure_new()) || !(p = BN_secure_new()) ||
        !(q = BN_secure_new()) || !(dmp1 = BN_secure_new()) ||
        !(dmq1 = BN_secure_new()) || !BN_bin2bn(s[2], (int)l[2], d) ||
        !BN_bin2bn(s[3], (int)l[3], iqmp) || !BN_bin2bn(s[4], (int)l[4], p) ||
        !BN_bin2bn(s[5], (int)l[5], q)) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    BN_set_flags(d, BN_FLG_CONSTTIME);
    BN_set_flags(p, BN_FLG_CONSTTIME);
    BN_set_flags(q, BN_FLG_CONSTTIME);
    BN_set_flags(iqmp, BN_FLG_CONSTTIME);
    BN_set_flags(dmp1, BN_FLG_CONSTTIME);
    BN_set_flags(dmq1, BN_FLG_CONSTTIME);
    BN_CTX_start(bctx);
    p1 = BN_CTX_get(bctx);
    q1 = BN_CTX_get(bctx);
    if (!(t = BN_CTX_get(bctx))) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto end;
    }
    /* Refuse parts that do not belong together: n = pq, e*d = 1 mod p-1
     * and q-1, iqmp*q = 1 mod p. */
    if (BN_is_zero(n) || !BN_is_odd(ex) || BN_is_one(ex) ||
        BN_cmp(p, BN_value_one()) <= 0 || BN_cmp(q, BN_value_one()) <= 0 ||
        !BN_mul(t, p, q, bctx) || BN_cmp(t, n) != 0 ||
        !BN_sub(p1, p, BN_value_one()) || !BN_sub(q1, q, BN_value_one()) ||
        !BN_mod(dmp1, d, p1, bctx) || !BN_mod(dmq1, d, q1, bctx) ||
        !BN_mod_mul(t, ex, dmp1, p1, bctx) || !BN_is_one(t) ||
        !BN_mod_mul(t, ex, dmq1, q1, bctx) || !BN_is_one(t) ||
        !BN_mod_mul(t, iqmp, q, p, bctx) || !BN_is_one(t)) {
        sr_error_set(e, rc, "malformed OpenSSH key: inconsistent RSA key");
        goto end;
    }
    if (!(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, ex) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto end;
    }
    rc = fromdata("RSA", params, out, e);
end:
    BN_CTX_end(bctx);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bctx);
    BN_free(n);
    BN_free(ex);
    BN_clear_free(d);
    BN_clear_free(iqmp);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(dmp1);
    BN_clear_free(dmq1);
    return rc;
}

static const struct {
    const char *keytype, *ssh_curve, *group;
    size_t field_len;
} curves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", "P-256", 32},
    {"ecdsa-sha2-nistp384", "nistp384", "P-384", 48},
    {"ecdsa-sha2-nistp521", "nistp521", "P-521", 66},
};

/* string curve, string Q, mpint scalar. */
static sr_rc read_ec(struct rbuf *r, size_t curve, EVP_PKEY **out,
                     struct sr_error *e)
{
    const unsigned char *name, *point, *scalar;
    size_t namelen, pointlen, scalarlen, flen = curves[curve].field_len;
    BIGNUM *priv = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    sr_rc rc = SR_ERR_FORMAT;

    if (!get_string(r, &name, &namelen) ||
        !get_string(r, &point, &pointlen) ||
        !get_mpint(r, flen + 1, &scalar, &scalarlen))
        return sr_error_set(e, rc, "truncated or malformed OpenSSH key");
    if (!string_is(name, namelen, curves[curve].ssh_curve) ||
        pointlen != 1 + 2 * flen || point[0] != 0x04)
        return sr_error_set(e, rc, "malformed OpenSSH key: bad %s point",
                            curves[curve].ssh_curve);
    if (!(priv = BN_secure_new()) ||
        !BN_bin2bn(scalar, (int)scalarlen, priv) ||
        !(bld = OSSL_PARAM_BLD_new()) ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         curves[curve].group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                          pointlen) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (BN_is_zero(priv)) {
        sr_error_set(e, rc, "malformed OpenSSH key: zero EC scalar");
        goto out;
    }
    if ((rc = fromdata("EC", params, &pkey, e)) != SR_OK)
        goto out;
    /* fromdata takes Q as given: check that it is the scalar's point. */
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(sr_libctx(), pkey, NULL)) ||
        EVP_PKEY_pairwise_check(ctx) != 1) {
        rc = sr_error_set(e, SR_ERR_FORMAT, "malformed OpenSSH key: the "
                          "public and private EC keys do not match");
        goto out;
    }
    rc = SR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(priv);
    if (rc == SR_OK)
        *out = pkey;
    else
        EVP_PKEY_free(pkey);
    return rc;
}

/* string pub(32), string seed(32) || pub(32). Only the seed goes to
 * OpenSSL, which derives the public key, so a wrong pub cannot pass. */
static sr_rc read_ed25519(struct rbuf *r, EVP_PKEY **out, struct sr_error *e)
{
    const unsigned char *pub, *priv;
    size_t publen, privlen, derivedlen = 0;
    unsigned char seed[32], derived[32];
    OSSL_PARAM params[2];
    EVP_PKEY *pkey = NULL;
    sr_rc rc = SR_ERR_FORMAT;

    if (!get_string(r, &pub, &publen) || !get_string(r, &priv, &privlen))
        return sr_error_set(e, rc, "truncated or malformed OpenSSH key");
    if (publen != 32 || privlen != 64 || CRYPTO_memcmp(priv + 32, pub, 32))
        return sr_error_set(e, rc, "malformed OpenSSH key: bad Ed25519 key");
    memcpy(seed, priv, sizeof(seed));
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY,
                                                  seed, sizeof(seed));
    params[1] = OSSL_PARAM_construct_end();
    if ((rc = fromdata("ED25519", params, &pkey, e)) != SR_OK)
        goto out;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY,
                                         derived, sizeof(derived),
                                         &derivedlen) ||
        derivedlen != 32 || CRYPTO_memcmp(derived, pub, 32)) {
        rc = sr_error_set(e, SR_ERR_FORMAT, "malformed OpenSSH key: the "
                          "public and private Ed25519 keys do not match");
        goto out;
    }
    rc = SR_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    if (rc == SR_OK)
        *out = pkey;
    else
        EVP_PKEY_free(pkey);
    return rc;
}

/* The key type for a message: printable and short, or not shown at all. */
static const char *printable(const unsigned char *s, size_t len, char *buf,
                             size_t size)
{
    size_t i;

    if (len == 0 || len >= size)
        return "unknown";
    for (i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return "unknown";
    memcpy(buf, s, len);
    buf[len] = '\0';
    return buf;
}

/* The private section: check ints, one key, comment, padding 1, 2, 3... */
static sr_rc read_private(struct rbuf *r, EVP_PKEY **out, struct sr_error *e)
{
    const unsigned char *type, *comment;
    size_t typelen, commentlen, i;
    uint32_t check1, check2;
    char name[64];
    sr_rc rc = SR_ERR_FORMAT;

    if (!get_u32(r, &check1) || !get_u32(r, &check2) ||
        !get_string(r, &type, &typelen))
        return sr_error_set(e, rc, "truncated OpenSSH key");
    if (check1 != check2)
        return sr_error_set(e, rc, "malformed OpenSSH key: check bytes differ");
    if (string_is(type, typelen, "ssh-rsa")) {
        rc = read_rsa(r, out, e);
    } else if (string_is(type, typelen, "ssh-ed25519")) {
        rc = read_ed25519(r, out, e);
    } else {
        for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
            if (string_is(type, typelen, curves[i].keytype))
                break;
        if (i == sizeof(curves) / sizeof(curves[0]))
            return sr_error_set(
                e, SR_ERR_UNSUPPORTED,
                "OpenSSH %s keys are not supported: use RSA, ECDSA "
                "(nistp256, nistp384, nistp521) or Ed25519",
                string_is(type, typelen, "ssh-dss")
                    ? "DSA (ssh-dss)"
                    : printable(type, typelen, name, sizeof(name)));
        rc = read_ec(r, i, out, e);
    }
    if (rc != SR_OK)
        return rc;
    rc = SR_OK;
    if (!get_string(r, &comment, &commentlen)) {
        rc = sr_error_set(e, SR_ERR_FORMAT, "truncated OpenSSH key");
    } else {
        for (i = 1; r->left; i++, r->p++, r->left--)
            if (*r->p != (unsigned char)i) {
                rc = sr_error_set(e, SR_ERR_FORMAT,
                                  "malformed OpenSSH key: bad padding");
                break;
            }
    }
    if (rc != SR_OK) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    return rc;
}

sr_rc sr_openssh_private_read(const unsigned char *data, size_t len,
                              EVP_PKEY **out, struct sr_error *e)
{
    unsigned char *bin = NULL, *blob = NULL;
    const unsigned char *cipher, *kdf, *opts, *pub, *priv;
    size_t binlen = 0, cap = 0, cipherlen, kdflen, optslen, publen, privlen;
    size_t bloblen = 0;
    struct rbuf r, pr;
    uint32_t nkeys;
    EVP_PKEY *pkey = NULL;
    sr_rc rc = SR_ERR_FORMAT;

    if (!out || (!data && len))
        return sr_error_set(e, SR_ERR_USAGE, "OpenSSH key: no input");
    if (len > INPUT_MAX)
        return sr_error_set(e, rc, "key file too large");
    if ((rc = dearmour(data, len, &bin, &binlen, &cap, e)) != SR_OK)
        goto out;
    rc = SR_ERR_FORMAT;
    r.p = bin;
    r.left = binlen;
    if (r.left < sizeof(MAGIC) || memcmp(r.p, MAGIC, sizeof(MAGIC)) != 0) {
        sr_error_set(e, rc, "not an OpenSSH private key: bad magic");
        goto out;
    }
    r.p += sizeof(MAGIC);
    r.left -= sizeof(MAGIC);
    if (!get_string(&r, &cipher, &cipherlen) ||
        !get_string(&r, &kdf, &kdflen) || !get_string(&r, &opts, &optslen)) {
        sr_error_set(e, rc, "truncated OpenSSH key");
        goto out;
    }
    if (!string_is(cipher, cipherlen, "none")) {
        sr_error_set(e, rc, ENCRYPTED_MSG);
        goto out;
    }
    if (!string_is(kdf, kdflen, "none") || optslen != 0) {
        sr_error_set(e, rc, "malformed OpenSSH key: a KDF without a cipher");
        goto out;
    }
    if (!get_u32(&r, &nkeys) || !get_string(&r, &pub, &publen) ||
        !get_string(&r, &priv, &privlen)) {
        sr_error_set(e, rc, "truncated OpenSSH key");
        goto out;
    }
    if (nkeys != 1 || r.left != 0) {
        rc = sr_error_set(e, nkeys > 1 ? SR_ERR_UNSUPPORTED : SR_ERR_FORMAT,
                          nkeys > 1 ? "OpenSSH files with several keys are "
                                      "not supported"
                                    : "malformed OpenSSH key: bad key count "
                                      "or trailing data");
        goto out;
    }
    pr.p = priv;
    pr.left = privlen;
    if ((rc = read_private(&pr, &pkey, e)) != SR_OK)
        goto out;
    /* The public section must be this very key: compare the SSH blobs. */
    if ((rc = sr_ssh_pubkey_blob(pkey, &blob, &bloblen, NULL, e)) != SR_OK)
        goto out;
    if (bloblen != publen || memcmp(blob, pub, publen) != 0) {
        rc = sr_error_set(e, SR_ERR_FORMAT, "malformed OpenSSH key: the "
                          "public key does not match the private key");
        goto out;
    }
    rc = SR_OK;
out:
    ERR_clear_error();
    OPENSSL_free(blob);
    OPENSSL_clear_free(bin, cap);
    if (rc == SR_OK)
        *out = pkey;
    else
        EVP_PKEY_free(pkey);
    return rc;
}
