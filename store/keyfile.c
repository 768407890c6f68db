/* SPDX-License-Identifier: Apache-2.0 */
/* Key files into a private key of sr_libctx() and its certificates: PEM
 * (any mix of key and certificate blocks), DER, PKCS#12 and OpenSSH. Every
 * buffer that held private key bytes is cleansed, and the OpenSSL error
 * queue is left empty on every path. */
#include "internal.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <string.h>

#define INPUT_MAX ((size_t)1024 * 1024)
#define OPENSSH_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"

#define MSG_NOT_KEY "not a private key file (PEM, DER, PKCS#12 or OpenSSH)"
#define MSG_NO_KEY "no private key in the file"
#define MSG_NEED_PW                                                         \
    "the key file is encrypted: give its password with --password-file"
#define MSG_WRONG_PW "wrong password for the key file"

static const unsigned char *find(const unsigned char *hay, size_t len,
                                 const char *needle)
{
    size_t n = strlen(needle), i;

    for (i = 0; len >= n && i <= len - n; i++)
        if (hay[i] == (unsigned char)needle[0] && !memcmp(hay + i, needle, n))
            return hay + i;
    return NULL;
}

/* Set as the decoder's passphrase source when we have none, so that an
 * encrypted key can never make OpenSSL prompt on a terminal. */
static int no_passphrase(char *pass, size_t size, size_t *len,
                         const OSSL_PARAM params[], void *arg)
{
    (void)pass, (void)size, (void)len, (void)params, (void)arg;
    return 0;
}

/* Legacy PEM encryption ("Proc-Type: 4,ENCRYPTED") asks for the password
 * through this callback. */
static int pem_password(char *buf, int size, int rwflag, void *arg)
{
    const sr_secret *pw = arg;

    (void)rwflag;
    if (!pw || pw->len > (size_t)size || pw->len > INT_MAX)
        return -1;
    memcpy(buf, pw->data, pw->len);
    return (int)pw->len;
}

/* Whether OpenSSL failed to fetch an algorithm (RC2, DES, PBKDF1: the
 * legacy provider's, which we do not load); empties the queue. */
static int queue_has_unsupported(void)
{
    unsigned long code;
    int found = 0;

    while ((code = ERR_get_error()) != 0)
        if (ERR_GET_LIB(code) == ERR_LIB_EVP &&
            (ERR_GET_REASON(code) == ERR_R_UNSUPPORTED ||
             ERR_GET_REASON(code) == EVP_R_UNSUPPORTED_ALGORITHM ||
             ERR_GET_REASON(code) == EVP_R_UNSUPPORTED_CIPHER))
            found = 1;
    return found;
}

/* An encrypted key that would not open: a legacy cipher, or the password. */
static sr_rc encrypted_fail(struct sr_error *e)
{
    if (queue_has_unsupported())
        return sr_error_set(e, SR_ERR_UNSUPPORTED, "the key file is "
                            "encrypted with a legacy algorithm: re-encrypt "
                            "it with `openssl pkcs8 -topk8 -v2 aes-256-cbc "
                            "-provider legacy -provider default`");
    return sr_error_set(e, SR_ERR_PASSWORD, MSG_WRONG_PW);
}

/* Any private key DER (PKCS#1, PKCS#8, encrypted PKCS#8, SEC1) into a key
 * of sr_libctx(); NULL when it is none of these or cannot be decrypted. */
static EVP_PKEY *decode_der(const unsigned char *der, size_t len,
                            const sr_secret *pw)
{
    OSSL_DECODER_CTX *dctx;
    EVP_PKEY *pkey = NULL;
    const unsigned char *p = der;
    size_t left = len;
    int ok;

    /* Callers read the queue to tell why a decode failed. */
    ERR_clear_error();
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL,
                                         OSSL_KEYMGMT_SELECT_KEYPAIR,
                                         sr_libctx(), NULL);
    if (!dctx)
        return NULL;
    ok = pw ? OSSL_DECODER_CTX_set_passphrase(dctx, pw->data, pw->len)
            : OSSL_DECODER_CTX_set_passphrase_cb(dctx, no_passphrase, NULL);
    ok = ok && OSSL_DECODER_from_data(dctx, &p, &left);
    OSSL_DECODER_CTX_free(dctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* An EncryptedPrivateKeyInfo, whole: then a failed decode means a wrong
 * password, since OSSL_DECODER itself does not say. */
static int is_encrypted_pkcs8(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509_SIG *sig;
    int whole;

    if (len > LONG_MAX || !(sig = d2i_X509_SIG(NULL, &p, (long)len)))
        return 0;
    whole = p == der + len;
    X509_SIG_free(sig);
    return whole;
}

static sr_rc push_cert(STACK_OF(X509) **certs, X509 *x, struct sr_error *e)
{
    if ((!*certs && !(*certs = sk_X509_new_null())) ||
        !sk_X509_push(*certs, x)) {
        X509_free(x);
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    }
    return SR_OK;
}

/* A certificate from DER into sr_libctx(), like the key. */
static sr_rc add_cert(STACK_OF(X509) **certs, const unsigned char *der,
                      long len, int trusted, struct sr_error *e)
{
    const unsigned char *p = der;
    X509 *x = X509_new_ex(sr_libctx(), NULL);

    if (!x)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    /* d2i_X509 frees x and sets it to NULL when it fails, but
     * d2i_X509_AUX keeps it when only the trust part is bad. */
    if (!(trusted ? d2i_X509_AUX(&x, &p, len) : d2i_X509(&x, &p, len))) {
        X509_free(x);
        return sr_error_set(e, SR_ERR_FORMAT,
                            "a certificate in the key file is malformed");
    }
    return push_cert(certs, x, e);
}

static sr_rc pem_key(const char *name, char *header, unsigned char *der,
                     long len, const sr_secret *pw, EVP_PKEY **out,
                     struct sr_error *e)
{
    EVP_CIPHER_INFO cipher;
    int encrypted = strcmp(name, "ENCRYPTED PRIVATE KEY") == 0;
    sr_rc rc;

    if (!PEM_get_EVP_CIPHER_INFO(header, &cipher))
        return sr_error_set(e, SR_ERR_UNSUPPORTED, "the key file's PEM "
                            "encryption header is not supported");
    if (cipher.cipher || encrypted) {
        if (!pw)
            return sr_error_set(e, SR_ERR_PASSWORD, MSG_NEED_PW);
        encrypted = 1;
    }
    if (encrypted && !cipher.cipher &&
        (rc = sr_pkcs8_check_cost(der, (size_t)len, e)) != SR_OK)
        return rc;
    /* Decrypts in place; the caller cleanses the whole buffer. */
    ERR_clear_error();
    if (cipher.cipher &&
        !PEM_do_header(&cipher, der, &len, pem_password, (void *)pw))
        return encrypted_fail(e);
    if (!(*out = decode_der(der, (size_t)len, pw)))
        return encrypted ? encrypted_fail(e)
                         : sr_error_set(e, SR_ERR_FORMAT, "the private key "
                                        "\"%s\" in the file is malformed",
                                        name);
    return SR_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every block in file order: one private key, any number of certificates,
 * anything else (EC PARAMETERS, PUBLIC KEY) skipped. */
static sr_rc read_pem(const unsigned char *data, size_t len,
                      const sr_secret *pw, EVP_PKEY **pkey,
                      STACK_OF(X509) **certs, struct sr_error *e)
{
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    unsigned long err;
    int blocks = 0;
    sr_rc rc = SR_OK;

    if (!bio)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    while (rc == SR_OK) {
        /* Earlier decoders leave errors: only this read's must count. */
        ERR_clear_error();
        if (!PEM_read_bio_ex(bio, &name, &header, &der, &derlen,
                             PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE)) {
            err = ERR_peek_last_error();
            /* No further BEGIN line is the normal end of the file. */
            if (blocks && ERR_GET_LIB(err) == ERR_LIB_PEM &&
                ERR_GET_REASON(err) == PEM_R_NO_START_LINE)
                break;
            rc = sr_error_set(e, SR_ERR_FORMAT, "the key file's PEM is "
                              "truncated or corrupt");
            break;
        }
        blocks++;
        if (ends_with(name, "PRIVATE KEY")) {
            if (*pkey)
                rc = sr_error_set(e, SR_ERR_FORMAT,
                                  "more than one private key in the file");
            else
                rc = pem_key(name, header, der, derlen, pw, pkey, e);
        } else if (!strcmp(name, "CERTIFICATE") ||
                   !strcmp(name, "X509 CERTIFICATE") ||
                   !strcmp(name, "TRUSTED CERTIFICATE")) {
            rc = add_cert(certs, der, derlen, name[0] == 'T', e);
        }
        OPENSSL_secure_free(name);
        OPENSSL_secure_free(header);
        OPENSSL_secure_clear_free(der, (size_t)derlen);
        name = header = NULL;
        der = NULL;
    }
    BIO_free(bio);
    if (rc == SR_OK && !*pkey)
        rc = sr_error_set(e, SR_ERR_FORMAT, MSG_NO_KEY);
    return rc;
}

/* A copy of x in sr_libctx(): PKCS12_parse makes its objects in the
 * default context. */
static sr_rc copy_cert(STACK_OF(X509) **certs, X509 *x, struct sr_error *e)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    sr_rc rc;

    if (len <= 0)
        return sr_error_set(e, SR_ERR_FORMAT,
                            "a certificate in the key file is malformed");
    rc = add_cert(certs, der, len, 0, e);
    OPENSSL_free(der);
    return rc;
}

/* The key of a PKCS#12 file moved into sr_libctx() through PKCS#8 DER in
 * a buffer we cleanse: PKCS12_parse makes it in the default context. */
static sr_rc pkcs12_key(EVP_PKEY *key, EVP_PKEY **out, struct sr_error *e)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
    unsigned char *der = NULL;
    int len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : 0;

    PKCS8_PRIV_KEY_INFO_free(p8);
    if (len <= 0 || !der)
        return sr_error_set(e, SR_ERR_UNSUPPORTED, "the %s key of the "
                            "PKCS#12 file cannot be exported",
                            EVP_PKEY_get0_type_name(key)
                                ? EVP_PKEY_get0_type_name(key) : "unknown");
    *out = decode_der(der, (size_t)len, NULL);
    OPENSSL_clear_free(der, (size_t)len);
    if (!*out)
        return sr_error_set(e, SR_ERR_FORMAT,
                            "the PKCS#12 file's private key is malformed");
    return SR_OK;
}

static sr_rc read_pkcs12(PKCS12 *p12, const sr_secret *pw, EVP_PKEY **pkey,
                         STACK_OF(X509) **certs, struct sr_error *e)
{
    char *pass = NULL;
    const char *use = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    const ASN1_INTEGER *iter = NULL;
    long iterations;
    int have_pw = pw && pw->len, i;
    sr_rc rc = SR_ERR_PASSWORD;

    if (have_pw) {
        /* PKCS12_parse wants a C string: a NUL inside cannot be right. */
        if (pw->len > INT_MAX - 1 || memchr(pw->data, 0, pw->len))
            return sr_error_set(e, rc, MSG_WRONG_PW);
        if (!(pass = OPENSSL_malloc(pw->len + 1)))
            return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        memcpy(pass, pw->data, pw->len);
        pass[pw->len] = '\0';
    }
    /* The MAC tells a wrong password apart from a damaged file. Without a
     * password, try none and the empty one, as `-passout pass:` makes. */
    if (PKCS12_mac_present(p12)) {
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        iterations = iter ? ASN1_INTEGER_get(iter) : 1;
        if (iterations < 1 || iterations > SR_KDF_ITER_MAX) {
            rc = sr_error_set(e, SR_ERR_FORMAT, "the PKCS#12 file asks for "
                              "%ld MAC iterations (at most %ld): refused",
                              iterations, SR_KDF_ITER_MAX);
            goto out;
        }
        if (have_pw && !PKCS12_verify_mac(p12, pass, (int)pw->len)) {
            sr_error_set(e, rc, MSG_WRONG_PW);
            goto out;
        }
        if (have_pw)
            use = pass;
        else if (PKCS12_verify_mac(p12, NULL, 0))
            use = NULL;
        else if (PKCS12_verify_mac(p12, "", 0))
            use = "";
        else {
            sr_error_set(e, rc, MSG_NEED_PW);
            goto out;
        }
    } else if (have_pw) {
        /* OpenSSL 3.0's PKCS12_parse checks a MAC whenever it is given a
         * password, so it cannot open these. */
        rc = sr_error_set(e, SR_ERR_UNSUPPORTED, "a PKCS#12 file without a "
                          "MAC cannot be read with a password: re-export it "
                          "with one (`openssl pkcs12 -in FILE -nodes | "
                          "openssl pkcs12 -export -out NEW.pfx`)");
        goto out;
    }
    if ((rc = sr_pkcs12_check_cost(p12, use, e)) != SR_OK)
        goto out;
    rc = SR_ERR_PASSWORD;
    ERR_clear_error();
    if (!PKCS12_parse(p12, use, &key, &cert, &ca)) {
        /* Old exports encrypt with RC2, which only the legacy provider
         * has; without a MAC (and so without a password) a failure most
         * likely means encrypted bags. */
        if (queue_has_unsupported())
            rc = sr_error_set(e, SR_ERR_UNSUPPORTED, "the PKCS#12 file uses "
                              "a legacy cipher (RC2?): convert it with "
                              "`openssl pkcs12 -legacy -in FILE -nodes | "
                              "openssl pkcs12 -export -out NEW.pfx`");
        else if (!PKCS12_mac_present(p12))
            sr_error_set(e, rc, MSG_NEED_PW);
        else
            rc = sr_error_set(e, SR_ERR_FORMAT,
                              "the PKCS#12 file is malformed");
        goto out;
    }
    if (!key) {
        rc = sr_error_set(e, SR_ERR_FORMAT, MSG_NO_KEY);
        goto out;
    }
    if ((rc = pkcs12_key(key, pkey, e)) != SR_OK)
        goto out;
    if (cert && (rc = copy_cert(certs, cert, e)) != SR_OK)
        goto out;
    for (i = 0; i < sk_X509_num(ca); i++)
        if ((rc = copy_cert(certs, sk_X509_value(ca, i), e)) != SR_OK)
            goto out;
    rc = SR_OK;
out:
    if (pass)
        OPENSSL_clear_free(pass, pw->len + 1);
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(ca, X509_free);
    return rc;
}

/* The length a DER SEQUENCE header announces is more than there is. */
static int der_truncated(const unsigned char *der, size_t len)
{
    size_t n, i, body = 0;

    if (len < 2 || der[0] != 0x30)
        return 0;
    if (der[1] < 0x80)
        return 2 + (size_t)der[1] > len;
    n = der[1] & 0x7f;
    if (n == 0 || n > 4 || len < 2 + n)
        return len < 2 + n;
    for (i = 0; i < n; i++)
        body = body << 8 | der[2 + i];
    return body > len - 2 - n;
}

/* Binary input: a private key DER first, then PKCS#12, then a certificate
 * or public key alone (which says what is missing). */
static sr_rc read_der(const unsigned char *data, size_t len,
                      const sr_secret *pw, EVP_PKEY **pkey,
                      STACK_OF(X509) **certs, struct sr_error *e)
{
    const unsigned char *p = data;
    int epki = is_encrypted_pkcs8(data, len);
    PKCS12 *p12;
    X509 *x;
    EVP_PKEY *pub;
    sr_rc rc;

    if (epki && !pw)
        return sr_error_set(e, SR_ERR_PASSWORD, MSG_NEED_PW);
    if (epki && (rc = sr_pkcs8_check_cost(data, len, e)) != SR_OK)
        return rc;
    if ((*pkey = decode_der(data, len, pw)))
        return SR_OK;
    if (epki)
        return encrypted_fail(e);
    if ((p12 = d2i_PKCS12(NULL, &p, (long)len))) {
        rc = read_pkcs12(p12, pw, pkey, certs, e);
        PKCS12_free(p12);
        return rc;
    }
    p = data;
    if ((x = d2i_X509(NULL, &p, (long)len))) {
        X509_free(x);
        return sr_error_set(e, SR_ERR_FORMAT, MSG_NO_KEY);
    }
    p = data;
    if ((pub = d2i_PUBKEY_ex(NULL, &p, (long)len, sr_libctx(), NULL))) {
        EVP_PKEY_free(pub);
        return sr_error_set(e, SR_ERR_FORMAT, MSG_NO_KEY);
    }
    if (der_truncated(data, len))
        return sr_error_set(e, SR_ERR_FORMAT, "the key file is truncated");
    return sr_error_set(e, SR_ERR_FORMAT, MSG_NOT_KEY);
}

/* A decoder given a public key alone may still succeed: make sure the
 * private half is there (for the types sr_pkey_check_supported passed). */
static int has_private(const EVP_PKEY *pkey)
{
    BIGNUM *bn = NULL;
    size_t len = 0;
    int ok;

    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY,
                                               NULL, 0, &len) &&
               len == 32;
    ok = EVP_PKEY_get_bn_param(pkey,
                               EVP_PKEY_is_a(pkey, "RSA")
                                   ? OSSL_PKEY_PARAM_RSA_D
                                   : OSSL_PKEY_PARAM_PRIV_KEY,
                               &bn);
    BN_clear_free(bn);
    return ok;
}

/* Exactly one certificate is the key's: it moves to the front, the others
 * keep their order. */
static sr_rc order_chain(EVP_PKEY *pkey, STACK_OF(X509) *certs,
                         struct sr_error *e)
{
    int i, match = -1;
    EVP_PKEY *pub;
    X509 *leaf;

    for (i = 0; i < sk_X509_num(certs); i++) {
        pub = X509_get0_pubkey(sk_X509_value(certs, i));
        if (!pub || EVP_PKEY_eq(pub, pkey) != 1)
            continue;
        if (match >= 0)
            return sr_error_set(e, SR_ERR_FORMAT, "more than one "
                                "certificate matches the private key");
        match = i;
    }
    if (match < 0)
        return sr_error_set(e, SR_ERR_FORMAT,
                            "the certificate does not match the private key");
    if (match > 0) {
        leaf = sk_X509_delete(certs, match);
        if (!sk_X509_unshift(certs, leaf)) {
            X509_free(leaf);
            return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        }
    }
    return SR_OK;
}

sr_rc sr_keyfile_read(const unsigned char *data, size_t len,
                      const sr_secret *password, struct sr_keymaterial *out,
                      struct sr_error *e)
{
    EVP_PKEY *pkey = NULL;
    STACK_OF(X509) *certs = NULL;
    sr_rc rc;

    if (!out)
        return sr_error_set(e, SR_ERR_USAGE, "key file: no output");
    if (!data || len == 0)
        return sr_error_set(e, SR_ERR_FORMAT, MSG_NOT_KEY);
    if (len > INPUT_MAX)
        return sr_error_set(e, SR_ERR_FORMAT, "key file too large");
    if (find(data, len, OPENSSH_BEGIN))
        rc = sr_openssh_private_read(data, len, &pkey, e);
    else if (find(data, len, "-----BEGIN "))
        rc = read_pem(data, len, password, &pkey, &certs, e);
    else
        rc = read_der(data, len, password, &pkey, &certs, e);
    if (rc != SR_OK)
        goto out;
    if ((rc = sr_pkey_check_supported(pkey, e)) != SR_OK)
        goto out;
    if (!has_private(pkey)) {
        rc = sr_error_set(e, SR_ERR_FORMAT, MSG_NO_KEY);
        goto out;
    }
    if (certs && (rc = order_chain(pkey, certs, e)) != SR_OK)
        goto out;
    rc = SR_OK;
out:
    ERR_clear_error();
    if (rc != SR_OK) {
        EVP_PKEY_free(pkey);
        sk_X509_pop_free(certs, X509_free);
        return rc;
    }
    out->pkey = pkey;
    out->chain = certs;
    return SR_OK;
}

void sr_keymaterial_clear(struct sr_keymaterial *km)
{
    if (!km)
        return;
    EVP_PKEY_free(km->pkey);
    sk_X509_pop_free(km->chain, X509_free);
    km->pkey = NULL;
    km->chain = NULL;
}

/* Every name OpenSSL may give P-256, P-384 and P-521. */
static const char *const curves[] = {
    "prime256v1", "P-256", "secp256r1", "secp384r1", "P-384", "secp521r1",
    "P-521",
};

sr_rc sr_pkey_check_supported(const EVP_PKEY *pkey, struct sr_error *e)
{
    const char *type;
    char group[64];
    size_t i;
    int bits;
    sr_rc rc = SR_ERR_UNSUPPORTED;

    if (!pkey)
        return sr_error_set(e, SR_ERR_USAGE, "no key");
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        bits = EVP_PKEY_get_bits(pkey);
        if (bits < 2048)
            sr_error_set(e, rc, "RSA keys of %d bits are not supported: use "
                         "2048 bits or more", bits);
        else if (bits > 16384)
            sr_error_set(e, rc, "RSA keys of %d bits are not supported: use "
                         "at most 16384 bits", bits);
        else
            rc = SR_OK;
    } else if (EVP_PKEY_is_a(pkey, "EC")) {
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof(group), NULL)) {
            sr_error_set(e, rc, "EC keys with explicit curve parameters are "
                         "not supported: use P-256, P-384 or P-521");
        } else {
            for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
                if (strcmp(group, curves[i]) == 0)
                    rc = SR_OK;
            if (rc != SR_OK)
                sr_error_set(e, rc, "EC keys on the curve %s are not "
                             "supported: use P-256, P-384 or P-521", group);
        }
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        rc = SR_OK;
    } else {
        type = EVP_PKEY_get0_type_name(pkey);
        sr_error_set(e, rc, "%s keys are not supported: use RSA (2048 bits "
                     "or more), EC (P-256, P-384, P-521) or Ed25519",
                     type ? type : "these");
    }
    ERR_clear_error();
    return rc;
}
