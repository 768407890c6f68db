/* SPDX-License-Identifier: Apache-2.0 */
/* The encryption key (KEK): from a key file that only its owner can read,
 * or from a passphrase stretched with scrypt. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* scrypt at N=2^17, r=8 needs 128 MiB; the old EVP_PBE_scrypt default cap
 * is 32 MiB, so the limit is given explicitly. */
#define SCRYPT_MAXMEM ((uint64_t)1 << 30)

sr_rc sr_kek_from_passphrase(const char *passphrase, size_t len,
                             const unsigned char *salt, size_t salt_len,
                             uint64_t n, uint32_t r, uint32_t p,
                             unsigned char kek[SR_KEK_LEN], struct sr_error *e)
{
    sr_rc rc = SR_ERR_CRYPTO;
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *kctx = NULL;
    uint64_t maxmem = SCRYPT_MAXMEM;
    OSSL_PARAM params[7];

    if (!(kdf = EVP_KDF_fetch(sr_libctx(), "SCRYPT", NULL)) ||
        !(kctx = EVP_KDF_CTX_new(kdf))) {
        sr_error_set(e, rc, "scrypt is not available");
        goto out;
    }
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                                  (void *)passphrase, len);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                  (void *)salt, salt_len);
    params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
    params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
    params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
    params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM,
                                            &maxmem);
    params[6] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(kctx, kek, SR_KEK_LEN, params) != 1) {
        sr_error_set(e, rc, "scrypt failed");
        sr_error_add_openssl(e);
        goto out;
    }
    rc = SR_OK;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rc;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sr_rc sr_kek_read_file(const char *path, unsigned char kek[SR_KEK_LEN],
                       struct sr_error *e)
{
    sr_rc rc = SR_ERR_KEY_FILE;
    unsigned char buf[2 * SR_KEK_LEN + 2];
    struct stat sb;
    ssize_t got;
    size_t i, len;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
        return sr_error_set(e, rc, "key file %s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        sr_error_set(e, rc, "key file %s: not a regular file", path);
        goto out;
    }
    if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        sr_error_set(e, rc,
                     "key file %s: mode %04o lets other users read it; "
                     "run chmod 600 on it",
                     path, (unsigned)(sb.st_mode & 07777));
        goto out;
    }
    if (sb.st_uid != geteuid()) {
        sr_error_set(e, rc, "key file %s: owned by another user", path);
        goto out;
    }
    got = read(fd, buf, sizeof(buf));
    if (got < 0) {
        sr_error_set(e, rc, "key file %s: %s", path, strerror(errno));
        goto out;
    }
    len = (size_t)got;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len == (size_t)2 * SR_KEK_LEN) {
        for (i = 0; i < SR_KEK_LEN; i++) {
            int hi = hex_value(buf[2 * i]), lo = hex_value(buf[2 * i + 1]);
            if (hi < 0 || lo < 0)
                break;
            kek[i] = (unsigned char)(hi << 4 | lo);
        }
        if (i == SR_KEK_LEN)
            rc = SR_OK;
    } else if ((size_t)got == SR_KEK_LEN) {
        memcpy(kek, buf, SR_KEK_LEN);
        rc = SR_OK;
    }
    if (rc != SR_OK) {
        OPENSSL_cleanse(kek, SR_KEK_LEN);
        sr_error_set(e, rc,
                     "key file %s: not a secretref key (64 hex digits)", path);
    }
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

sr_rc sr_kek_create_file(const char *path, unsigned char kek[SR_KEK_LEN],
                         struct sr_error *e)
{
    static const char digits[] = "0123456789abcdef";
    sr_rc rc = SR_ERR_KEY_FILE;
    char hex[2 * SR_KEK_LEN + 1];
    size_t i;
    int fd;

    if (RAND_priv_bytes_ex(sr_libctx(), kek, SR_KEK_LEN, 256) != 1)
        return sr_error_set(e, SR_ERR_CRYPTO, "no random bytes for a key");
    for (i = 0; i < SR_KEK_LEN; i++) {
        hex[2 * i] = digits[kek[i] >> 4];
        hex[2 * i + 1] = digits[kek[i] & 15];
    }
    hex[sizeof(hex) - 1] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = SR_ERR_EXISTS;
        sr_error_set(e, rc, "key file %s: %s", path,
                     errno == EEXIST ? "already exists; refusing to overwrite"
                                     : strerror(errno));
        goto out;
    }
    if (write(fd, hex, sizeof(hex)) != (ssize_t)sizeof(hex) || fsync(fd)) {
        sr_error_set(e, SR_ERR_IO, "key file %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    close(fd);
    rc = SR_OK;
out:
    OPENSSL_cleanse(hex, sizeof(hex));
    if (rc != SR_OK)
        OPENSSL_cleanse(kek, SR_KEK_LEN);
    return rc;
}
