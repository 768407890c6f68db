/* SPDX-License-Identifier: Apache-2.0 */
/* The key, loaded through OSSL_STORE by any URI (secretref:NAME, pkcs11:,
 * a PEM file), and libssh2's sign callback. The private key stays with
 * its provider: this file only asks it to sign. */
#include "sftpc.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The secretref provider: from OPENSSL_MODULES, else beside our binary
 * in a build tree (bin/ and lib/), else OpenSSL's modules directory. */
int sftpc_providers_load(void)
{
    char exe[PATH_MAX], dir[PATH_MAX + 32];
    ssize_t n;
    char *slash;

    if (!OSSL_PROVIDER_available(NULL, "default") &&
        !OSSL_PROVIDER_load(NULL, "default"))
        return 0;
    if (OSSL_PROVIDER_available(NULL, "secretref"))
        return 1;
    if (!getenv("OPENSSL_MODULES") &&
        (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/'))) {
            *slash = '\0';
            if (snprintf(dir, sizeof(dir), "%s/../lib/secretref.so", exe) <
                    (int)sizeof(dir) &&
                access(dir, R_OK) == 0) {
                snprintf(dir, sizeof(dir), "%s/../lib", exe);
                OSSL_PROVIDER_set_default_search_path(NULL, dir);
            }
        }
    }
    if (!OSSL_PROVIDER_load(NULL, "secretref")) {
        ERR_clear_error();
        return 0;
    }
    return 1;
}

/* The first error OpenSSL queued: the provider's message. */
static const char *openssl_reason(char *buf, size_t size)
{
    unsigned long code;
    const char *data = NULL;
    int flags = 0;

    code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    /* OpenSSL 3.0 first queues "unregistered scheme" (scheme=file) from
     * its legacy loaders even when a provider's loader then runs: the
     * reason is in what follows. */
    while (code && ERR_GET_LIB(code) == ERR_LIB_OSSL_STORE &&
           ERR_GET_REASON(code) == OSSL_STORE_R_UNREGISTERED_SCHEME &&
           ERR_peek_error())
        code = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    if (!code)
        snprintf(buf, size, "no key found");
    else if (ERR_GET_LIB(code) == ERR_LIB_SYS)
        snprintf(buf, size, "%s", strerror(ERR_GET_REASON(code)));
    else if (data && (flags & ERR_TXT_STRING) && *data)
        snprintf(buf, size, "%s", data);
    else
        ERR_error_string_n(code, buf, size);
    ERR_clear_error();
    return buf;
}

sftpc_rc sftpc_key_load(const char *uri, struct sftpc_key *key)
{
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info;
    char why[512];
    sr_rc rc;

    memset(key, 0, sizeof(*key));
    if (!(store = OSSL_STORE_open(uri, NULL, NULL, NULL, NULL))) {
        if (strncmp(uri, "pkcs11:", 7) == 0 &&
            !OSSL_PROVIDER_available(NULL, "pkcs11")) {
            ERR_clear_error();
            return sftpc_fail(SFTPC_ERR_KEY,
                              "%s: no OpenSSL provider takes pkcs11: URIs: "
                              "load pkcs11-provider in openssl.cnf "
                              "(OPENSSL_CONF)",
                              uri);
        }
        return sftpc_fail(SFTPC_ERR_KEY, "%s: %s", uri,
                          openssl_reason(why, sizeof(why)));
    }
    OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
    while (!key->pkey && !OSSL_STORE_eof(store)) {
        if (!(info = OSSL_STORE_load(store)))
            break;
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key->pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(store);
    if (!key->pkey)
        return sftpc_fail(SFTPC_ERR_KEY, "%s: %s", uri,
                          openssl_reason(why, sizeof(why)));
    ERR_clear_error();
    if ((rc = sr_pubkey_ssh_blob(key->pkey, &key->blob, &key->blob_len,
                                 &key->algorithm)) != SR_OK) {
        sftpc_key_clear(key);
        return sftpc_fail(SFTPC_ERR_KEY, "%s: %s for SSH", uri,
                          sr_strerror(rc));
    }
    return SFTPC_OK;
}

void sftpc_key_clear(struct sftpc_key *key)
{
    EVP_PKEY_free(key->pkey);
    free(key->blob);
    memset(key, 0, sizeof(*key));
}

/* Reads an SSH string at *p (bounded by end); 0 when it does not fit. */
static int ssh_string(const unsigned char **p, const unsigned char *end,
                      const unsigned char **s, size_t *len)
{
    uint32_t n;

    if (end - *p < 4)
        return 0;
    n = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
        (uint32_t)(*p)[2] << 8 | (*p)[3];
    if ((size_t)(end - *p - 4) < n)
        return 0;
    *s = *p + 4;
    *len = n;
    *p += 4 + n;
    return 1;
}

/* The algorithm name in the RFC 4252 section 7 data: libssh2 1.11 upgrades
 * RSA to rsa-sha2-* and says so only there. */
static int data_algorithm(const unsigned char *data, size_t len, char *alg,
                          size_t size)
{
    const unsigned char *p = data, *end = data + len, *s;
    size_t n;
    int i;

    /* session id, then byte 50, user, service, "publickey", TRUE. */
    if (!ssh_string(&p, end, &s, &n) || end - p < 1 || *p++ != 50)
        return 0;
    for (i = 0; i < 3; i++)
        if (!ssh_string(&p, end, &s, &n))
            return 0;
    if (end - p < 1)
        return 0;
    p++;
    if (!ssh_string(&p, end, &s, &n) || n >= size)
        return 0;
    memcpy(alg, s, n);
    alg[n] = '\0';
    return 1;
}

static const char *digest_of(const char *alg)
{
    if (strcmp(alg, "ssh-rsa") == 0)
        return "SHA1";
    if (strcmp(alg, "rsa-sha2-256") == 0 ||
        strcmp(alg, "ecdsa-sha2-nistp256") == 0)
        return "SHA256";
    if (strcmp(alg, "rsa-sha2-512") == 0 ||
        strcmp(alg, "ecdsa-sha2-nistp521") == 0)
        return "SHA512";
    if (strcmp(alg, "ecdsa-sha2-nistp384") == 0)
        return "SHA384";
    return NULL;
}

/* An SSH mpint of a BIGNUM at out (4-byte length, leading zero when the
 * high bit is set); returns the bytes written. */
static size_t put_mpint(unsigned char *out, const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    size_t pad;

    BN_bn2bin(bn, out + 5);
    pad = n > 0 && (out[5] & 0x80) ? 1 : 0;
    if (!pad)
        memmove(out + 4, out + 5, (size_t)n);
    else
        out[4] = 0;
    n += (int)pad;
    out[0] = (unsigned char)((unsigned)n >> 24);
    out[1] = (unsigned char)((unsigned)n >> 16);
    out[2] = (unsigned char)((unsigned)n >> 8);
    out[3] = (unsigned char)n;
    return 4 + (size_t)n;
}

int sftpc_sign(LIBSSH2_SESSION *session, unsigned char **sig,
               size_t *sig_len, const unsigned char *data, size_t data_len,
               void **abstract)
{
    const struct sftpc_key *key = *abstract;
    unsigned char *raw = NULL, *out = NULL;
    const unsigned char *p;
    const BIGNUM *r, *s;
    ECDSA_SIG *ecdsa = NULL;
    EVP_MD_CTX *md = NULL;
    const char *digest;
    size_t raw_len = 0, n;
    char alg[64];
    int ok = -1;

    (void)session;
    if (!data_algorithm(data, data_len, alg, sizeof(alg)))
        return -1;
    digest = digest_of(alg);
    if (!(md = EVP_MD_CTX_new()) ||
        EVP_DigestSignInit_ex(md, NULL, digest, NULL, NULL, key->pkey,
                              NULL) != 1 ||
        EVP_DigestSign(md, NULL, &raw_len, data, data_len) != 1 ||
        !(raw = malloc(raw_len)) ||
        EVP_DigestSign(md, raw, &raw_len, data, data_len) != 1)
        goto out;
    if (strncmp(alg, "ecdsa-", 6) != 0) {
        /* RSA: the PKCS#1 signature; Ed25519: the 64 bytes. */
        out = raw;
        raw = NULL;
        n = raw_len;
    } else {
        /* ECDSA: mpint r || mpint s (RFC 5656), from OpenSSL's DER. */
        p = raw;
        if (!(ecdsa = d2i_ECDSA_SIG(NULL, &p, (long)raw_len)))
            goto out;
        ECDSA_SIG_get0(ecdsa, &r, &s);
        if (!(out = malloc((size_t)2 * (5 + 66))))
            goto out;
        n = put_mpint(out, r);
        n += put_mpint(out + n, s);
    }
    /* libssh2 frees it with the session's allocator: the default, free. */
    *sig = out;
    *sig_len = n;
    out = NULL;
    ok = 0;
out:
    if (ok != 0)
        ERR_clear_error();
    ECDSA_SIG_free(ecdsa);
    free(raw);
    free(out);
    EVP_MD_CTX_free(md);
    return ok;
}
