/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing (design.md, "Encryption at rest"): round trips, every single-byte
 * change and every change of the row binding fails with a tamper error, a
 * wrong encryption key, re-wrapping, truncation, fresh nonces and data
 * keys, scrypt, key-file modes, and _free(NULL) doing nothing. */
#ifndef _GNU_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#endif
#include "check.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The sealed layout of seal.c (format 1), to reach into its fields. */
#define OFF_KEY_ID 1
#define OFF_WRAP_NONCE 5
#define NONCE_LEN 12
#define OFF_WRAPPED (OFF_WRAP_NONCE + NONCE_LEN)
#define OFF_DATA_NONCE (OFF_WRAPPED + 32 + 16)
#define OFF_DATA (OFF_DATA_NONCE + NONCE_LEN)
#define OVERHEAD (OFF_DATA + 16)

static const char store_id[] = "00112233445566778899aabbccddeeff";
static const char store_id2[] = "00112233445566778899aabbccddeefe";
static const char uuid[] = "6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f7";
static const char uuid2[] = "6f1c2a3b-4d5e-4f60-8a71-92b3c4d5e6f8";

static unsigned char kek[SR_KEK_LEN], kek2[SR_KEK_LEN];
static char tmpdir[PATH_MAX];

static void binding(struct sr_seal_binding *b)
{
    memset(b, 0, sizeof(*b));
    b->store_id = store_id;
    b->ref_uuid = uuid;
    b->kind = SR_KIND_MANUAL;
    b->version = 3;
    b->env_id = 2;
}

/* Opens sealed with b and kek: the rc, and the plaintext compared. */
static sr_rc open_cmp(const unsigned char *k, const struct sr_seal_binding *b,
                      const unsigned char *sealed, size_t len,
                      const unsigned char *want, size_t want_len)
{
    struct sr_error e;
    sr_secret *out = (sr_secret *)&out; /* must be reset to NULL */
    sr_rc rc;

    memset(&e, 0, sizeof(e));
    rc = sr_unseal(k, b, sealed, len, &out, &e);
    if (rc != SR_OK) {
        CHECK(out == NULL);
        CHECK(e.rc == rc && e.msg[0] != '\0');
        return rc;
    }
    CHECK(out != NULL);
    if (!out)
        return SR_ERR_USAGE;
    if (out->len != want_len ||
        (want_len && memcmp(out->data, want, want_len) != 0))
        rc = SR_ERR_CRYPTO;
    sr_secret_free(out);
    return rc;
}

static void test_round_trip(void)
{
    static const size_t sizes[] = {0, 1, 37, (size_t)64 * 1024};
    struct sr_seal_binding b;
    unsigned char *plain, *sealed = NULL;
    size_t i, len = 0;

    binding(&b);
    plain = malloc((size_t)64 * 1024);
    CHECK(plain != NULL);
    if (!plain)
        return;
    RAND_bytes(plain, 64 * 1024);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        CHECK_RC(sr_seal(kek, 7, &b, plain, sizes[i], &sealed, &len, NULL),
                 SR_OK);
        CHECK(len == sizes[i] + OVERHEAD);
        CHECK(sr_sealed_key_id(sealed, len) == 7);
        /* The plaintext does not show through. */
        if (sizes[i] >= 16)
            CHECK(memmem(sealed, len, plain, 16) == NULL);
        CHECK_RC(open_cmp(kek, &b, sealed, len, plain, sizes[i]), SR_OK);
        free(sealed);
        sealed = NULL;
    }
    /* A NULL plaintext of length 0 seals too (an empty secret). */
    CHECK_RC(sr_seal(kek, 1, &b, NULL, 0, &sealed, &len, NULL), SR_OK);
    CHECK_RC(open_cmp(kek, &b, sealed, len, NULL, 0), SR_OK);
    free(sealed);
    free(plain);
}

/* Every byte of a sealed value, changed on its own, fails to open. */
static void test_every_byte(void)
{
    static const unsigned char masks[] = {0x01, 0x80, 0xff};
    static const unsigned char plain[] = "correct horse battery staple 7f3a9c";
    struct sr_seal_binding b;
    unsigned char *sealed = NULL, *copy;
    size_t len = 0, i, m;
    int bad = 0;

    binding(&b);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &sealed, &len, NULL),
             SR_OK);
    if (!sealed)
        return;
    copy = malloc(len);
    for (m = 0; m < sizeof(masks); m++) {
        for (i = 0; i < len; i++) {
            memcpy(copy, sealed, len);
            copy[i] ^= masks[m];
            if (open_cmp(kek, &b, copy, len, plain, sizeof(plain)) !=
                SR_ERR_TAMPER) {
                fprintf(stderr, "byte %zu ^ 0x%02x: not a tamper error\n", i,
                        masks[m]);
                bad++;
            }
        }
    }
    CHECK(bad == 0);
    /* And the untouched value still opens. */
    CHECK_RC(open_cmp(kek, &b, sealed, len, plain, sizeof(plain)), SR_OK);
    free(copy);
    free(sealed);
}

/* The value moved to another row: each field of the binding. */
static void test_binding(void)
{
    static const unsigned char plain[] = "bound to its row";
    struct sr_seal_binding b, other;
    unsigned char *sealed = NULL;
    size_t len = 0;
    int field;

    binding(&b);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &sealed, &len, NULL),
             SR_OK);
    if (!sealed)
        return;
    for (field = 0; field < 9; field++) {
        other = b;
        switch (field) {
        case 0:
            other.store_id = store_id2;
            break;
        case 1:
            other.ref_uuid = uuid2;
            break;
        case 2:
            other.kind = SR_KIND_CERTIFICATE;
            break;
        case 3:
            other.kind = SR_KIND_KEY_VAULT;
            break;
        case 4:
            other.version = 4;
            break;
        case 5:
            other.version = 2;
            break;
        case 6:
            other.env_id = 0;
            break;
        case 7:
            other.env_id = 3;
            break;
        case 8:
            /* High bits of the environment id count too. */
            other.env_id = b.env_id + ((int64_t)1 << 32);
            break;
        }
        if (open_cmp(kek, &other, sealed, len, plain, sizeof(plain)) !=
            SR_ERR_TAMPER) {
            fprintf(stderr, "binding field change %d opened\n", field);
            CHECK(0);
        }
    }
    /* No store id or uuid at all is a binding too, and not equal to one. */
    other = b;
    other.ref_uuid = NULL;
    CHECK_RC(open_cmp(kek, &other, sealed, len, plain, sizeof(plain)),
             SR_ERR_TAMPER);
    CHECK_RC(open_cmp(kek, &b, sealed, len, plain, sizeof(plain)), SR_OK);
    free(sealed);
}

static void test_wrong_key(void)
{
    static const unsigned char plain[] = "sealed under kek";
    struct sr_seal_binding b;
    struct sr_error e;
    unsigned char *sealed = NULL, *check = NULL;
    size_t len = 0, check_len = 0;

    binding(&b);
    memset(&e, 0, sizeof(e));
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &sealed, &len, NULL),
             SR_OK);
    CHECK_RC(open_cmp(kek2, &b, sealed, len, plain, sizeof(plain)),
             SR_ERR_TAMPER);
    CHECK_RC(sr_check_value_make(kek, 1, store_id, &check, &check_len, &e),
             SR_OK);
    CHECK_RC(sr_check_value_verify(kek, 1, store_id, check, check_len, &e),
             SR_OK);
    CHECK_RC(sr_check_value_verify(kek2, 1, store_id, check, check_len, &e),
             SR_ERR_WRONG_KEY);
    CHECK(e.rc == SR_ERR_WRONG_KEY && strstr(e.msg, "wrong encryption key"));
    /* Another store's check value, or another key id's, is not this one. */
    CHECK(sr_check_value_verify(kek, 1, store_id2, check, check_len, &e) !=
          SR_OK);
    CHECK(sr_check_value_verify(kek, 2, store_id, check, check_len, &e) !=
          SR_OK);
    /* A damaged check value never verifies, and says something. */
    if (check) {
        check[check_len / 2] ^= 0x20;
        memset(&e, 0, sizeof(e));
        CHECK(sr_check_value_verify(kek, 1, store_id, check, check_len, &e) !=
              SR_OK);
        CHECK(e.msg[0] != '\0');
        CHECK(sr_check_value_verify(kek, 1, store_id, check, 10, &e) != SR_OK);
        CHECK(sr_check_value_verify(kek, 1, store_id, NULL, 0, &e) != SR_OK);
    }
    free(check);
    free(sealed);
}

static void test_reseal(void)
{
    static const unsigned char plain[] = "re-wrapped, not re-encrypted";
    struct sr_seal_binding b, other;
    unsigned char *sealed = NULL, *rewrapped = NULL, *again = NULL;
    size_t len = 0, rlen = 0, alen = 0;

    binding(&b);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &sealed, &len, NULL),
             SR_OK);
    CHECK_RC(
        sr_reseal_wrap(kek, kek2, 2, &b, sealed, len, &rewrapped, &rlen, NULL),
        SR_OK);
    if (!sealed || !rewrapped)
        goto out;
    CHECK(rlen == len);
    CHECK(sr_sealed_key_id(rewrapped, rlen) == 2);
    CHECK_RC(open_cmp(kek2, &b, rewrapped, rlen, plain, sizeof(plain)), SR_OK);
    CHECK_RC(open_cmp(kek, &b, rewrapped, rlen, plain, sizeof(plain)),
             SR_ERR_TAMPER);
    /* The data layer is untouched; the wrap layer is new. */
    CHECK(memcmp(rewrapped + OFF_DATA_NONCE, sealed + OFF_DATA_NONCE,
                 len - OFF_DATA_NONCE) == 0);
    CHECK(memcmp(rewrapped + OFF_WRAP_NONCE, sealed + OFF_WRAP_NONCE,
                 NONCE_LEN) != 0);
    /* The recorded key id is authenticated: rewriting it back fails. */
    rewrapped[OFF_KEY_ID + 3] = 1;
    CHECK_RC(open_cmp(kek2, &b, rewrapped, rlen, plain, sizeof(plain)),
             SR_ERR_TAMPER);
    /* Re-wrapping needs the right old key and the right row. */
    CHECK_RC(sr_reseal_wrap(kek2, kek, 3, &b, sealed, len, &again, &alen, NULL),
             SR_ERR_TAMPER);
    CHECK(again == NULL);
    other = b;
    other.version = 9;
    CHECK_RC(
        sr_reseal_wrap(kek, kek2, 3, &other, sealed, len, &again, &alen, NULL),
        SR_ERR_TAMPER);
    CHECK(again == NULL);
out:
    free(again);
    free(rewrapped);
    free(sealed);
}

static void test_truncated(void)
{
    static const unsigned char plain[] = "cut short";
    struct sr_seal_binding b;
    unsigned char *sealed = NULL, *copy, *longer;
    size_t len = 0, cut;
    int bad = 0;

    binding(&b);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &sealed, &len, NULL),
             SR_OK);
    if (!sealed)
        return;
    /* Each prefix in its own exactly-sized buffer, so ASan sees overreads. */
    for (cut = 0; cut < len; cut++) {
        copy = malloc(cut ? cut : 1);
        memcpy(copy, sealed, cut);
        if (open_cmp(kek, &b, copy, cut, plain, sizeof(plain)) !=
            SR_ERR_TAMPER) {
            fprintf(stderr, "truncated to %zu: not a tamper error\n", cut);
            bad++;
        }
        if (cut < OVERHEAD && sr_sealed_key_id(copy, cut) != -1)
            bad++;
        free(copy);
    }
    CHECK(bad == 0);
    CHECK_RC(open_cmp(kek, &b, NULL, 0, plain, sizeof(plain)), SR_ERR_TAMPER);
    /* An extra byte at the end fails too. */
    longer = malloc(len + 1);
    memcpy(longer, sealed, len);
    longer[len] = 0;
    CHECK_RC(open_cmp(kek, &b, longer, len + 1, plain, sizeof(plain)),
             SR_ERR_TAMPER);
    free(longer);
    free(sealed);
}

static void test_key_id(void)
{
    struct sr_seal_binding b;
    unsigned char *sealed = NULL;
    size_t len = 0;

    binding(&b);
    CHECK_RC(sr_seal(kek, 0x01020304, &b, (const unsigned char *)"x", 1,
                     &sealed, &len, NULL),
             SR_OK);
    CHECK(sr_sealed_key_id(sealed, len) == 0x01020304);
    CHECK(sr_sealed_key_id(sealed, OVERHEAD - 1) == -1);
    CHECK(sr_sealed_key_id(NULL, 0) == -1);
    if (sealed) {
        sealed[0] = 2; /* an unknown format */
        CHECK(sr_sealed_key_id(sealed, len) == -1);
        CHECK_RC(open_cmp(kek, &b, sealed, len, (const unsigned char *)"x", 1),
                 SR_ERR_TAMPER);
    }
    free(sealed);
}

static void test_fresh(void)
{
    static const unsigned char plain[] = "same plaintext twice";
    struct sr_seal_binding b;
    unsigned char *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;

    binding(&b);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &s1, &l1, NULL), SR_OK);
    CHECK_RC(sr_seal(kek, 1, &b, plain, sizeof(plain), &s2, &l2, NULL), SR_OK);
    if (s1 && s2 && l1 == l2) {
        CHECK(memcmp(s1, s2, l1) != 0);
        CHECK(memcmp(s1 + OFF_WRAP_NONCE, s2 + OFF_WRAP_NONCE, NONCE_LEN) != 0);
        CHECK(memcmp(s1 + OFF_DATA_NONCE, s2 + OFF_DATA_NONCE, NONCE_LEN) != 0);
        /* Different data keys: the wrapped keys and ciphertexts differ. */
        CHECK(memcmp(s1 + OFF_WRAPPED, s2 + OFF_WRAPPED, 32) != 0);
        CHECK(memcmp(s1 + OFF_DATA, s2 + OFF_DATA, sizeof(plain)) != 0);
    } else {
        CHECK(0);
    }
    free(s1);
    free(s2);
}

static void test_scrypt(void)
{
    static const unsigned char salt[16] = "0123456789abcdef";
    static const unsigned char salt2[16] = "0123456789abcdeg";
    static const char pass[] = "correct horse";
    unsigned char k1[SR_KEK_LEN], k2[SR_KEK_LEN], k3[SR_KEK_LEN],
        k4[SR_KEK_LEN];
    const uint64_t n = (uint64_t)1 << 17;
    struct sr_error e;

    memset(&e, 0, sizeof(e));
    CHECK_RC(sr_kek_from_passphrase(pass, strlen(pass), salt, sizeof(salt), n,
                                    8, 1, k1, &e),
             SR_OK);
    CHECK_RC(sr_kek_from_passphrase(pass, strlen(pass), salt, sizeof(salt), n,
                                    8, 1, k2, &e),
             SR_OK);
    CHECK_RC(sr_kek_from_passphrase(pass, strlen(pass), salt2, sizeof(salt2), n,
                                    8, 1, k3, &e),
             SR_OK);
    CHECK(memcmp(k1, k2, SR_KEK_LEN) == 0);
    CHECK(memcmp(k1, k3, SR_KEK_LEN) != 0);
    /* Another passphrase with the first salt differs too. */
    CHECK_RC(sr_kek_from_passphrase("correct horsf", 13, salt, sizeof(salt), n,
                                    8, 1, k4, &e),
             SR_OK);
    CHECK(memcmp(k1, k4, SR_KEK_LEN) != 0);
    /* The known-answer vector of RFC 7914 (N=16, r=1, p=1, empty). */
    {
        static const unsigned char want[32] = {
            0x77, 0xd6, 0x57, 0x62, 0x38, 0x65, 0x7b, 0x20, 0x3b, 0x19, 0xca,
            0x42, 0xc1, 0x8a, 0x04, 0x97, 0xf1, 0x6b, 0x48, 0x44, 0xe3, 0x07,
            0x4a, 0xe8, 0xdf, 0xdf, 0xfa, 0x3f, 0xed, 0xe2, 0x14, 0x42};
        CHECK_RC(sr_kek_from_passphrase("", 0, (const unsigned char *)"", 0, 16,
                                        1, 1, k4, &e),
                 SR_OK);
        CHECK(memcmp(k4, want, 32) == 0);
    }
}

static int write_file(const char *path, const void *data, size_t len,
                      mode_t mode)
{
    int fd;

    unlink(path);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        return -1;
    if (write(fd, data, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    close(fd);
    return chmod(path, mode);
}

static void test_key_file(void)
{
    char path[PATH_MAX + 32], hex[2 * SR_KEK_LEN + 2];
    unsigned char got[SR_KEK_LEN], made[SR_KEK_LEN];
    struct sr_error e;
    struct stat sb;
    size_t i;

    memset(&e, 0, sizeof(e));
    for (i = 0; i < SR_KEK_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", kek[i]);
    hex[(size_t)2 * SR_KEK_LEN] = '\n';
    snprintf(path, sizeof(path), "%s/hex.key", tmpdir);

    CHECK(write_file(path, hex, sizeof(hex) - 1, 0644) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    CHECK(strstr(e.msg, "0644") != NULL && strstr(e.msg, "chmod") != NULL);
    CHECK(chmod(path, 0640) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    CHECK(chmod(path, 0604) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    CHECK(chmod(path, 0600) == 0);
    memset(got, 0, sizeof(got));
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);
    CHECK(memcmp(got, kek, SR_KEK_LEN) == 0);
    CHECK(chmod(path, 0400) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);

    /* Raw 32 bytes, 0600, are a key too; without the newline as well. */
    snprintf(path, sizeof(path), "%s/raw.key", tmpdir);
    CHECK(write_file(path, kek2, SR_KEK_LEN, 0600) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);
    CHECK(memcmp(got, kek2, SR_KEK_LEN) == 0);
    snprintf(path, sizeof(path), "%s/nonl.key", tmpdir);
    CHECK(write_file(path, hex, (size_t)2 * SR_KEK_LEN, 0600) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);
    CHECK(memcmp(got, kek, SR_KEK_LEN) == 0);

    /* Not a key: too short, not hex, empty, missing, a folder. */
    snprintf(path, sizeof(path), "%s/short.key", tmpdir);
    CHECK(write_file(path, hex, 40, 0600) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    hex[5] = 'g';
    snprintf(path, sizeof(path), "%s/nothex.key", tmpdir);
    CHECK(write_file(path, hex, sizeof(hex) - 1, 0600) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    snprintf(path, sizeof(path), "%s/empty.key", tmpdir);
    CHECK(write_file(path, "", 0, 0600) == 0);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_ERR_KEY_FILE);
    CHECK_RC(sr_kek_read_file(tmpdir, got, &e), SR_ERR_KEY_FILE);

    /* A created key file is 0600, reads back, and is never overwritten. */
    snprintf(path, sizeof(path), "%s/created.key", tmpdir);
    CHECK_RC(sr_kek_create_file(path, made, &e), SR_OK);
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0600);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);
    CHECK(memcmp(got, made, SR_KEK_LEN) == 0);
    CHECK(sr_kek_create_file(path, got, &e) != SR_OK);
    CHECK_RC(sr_kek_read_file(path, got, &e), SR_OK);
    CHECK(memcmp(got, made, SR_KEK_LEN) == 0);
}

static void test_free_null(void)
{
    sr_ref_info info;
    sr_resolved_config rc;

    /* style.md: "_free(NULL) does nothing, and a test says so". */
    sr_secret_free(NULL);
    sr_store_free(NULL);
    sr_key_free(NULL);
    CHECK(sr_key_ref(NULL) == NULL);
    sr_ref_info_clear(NULL);
    memset(&info, 0, sizeof(info));
    sr_ref_info_clear(&info);
    sr_ref_info_clear(&info); /* twice: the first left it zeroed */
    CHECK(info.name == NULL && info.uuid == NULL);
    sr_ref_list_free(NULL, 0);
    sr_version_list_free(NULL, 0);
    sr_audit_list_free(NULL, 0);
    sr_string_list_free(NULL, 0);
    memset(&rc, 0, sizeof(rc));
    sr_config_clear(&rc);
    sr_config_clear(NULL);
    CHECK(strcmp(sr_store_errmsg(NULL), "no store") == 0);
    CHECK(1);
}

int main(void)
{
    const char *base = getenv("SECRETREF_TEST_TMP");

    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_seal.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return 1;
    }
    RAND_bytes(kek, sizeof(kek));
    memcpy(kek2, kek, sizeof(kek2));
    kek2[SR_KEK_LEN - 1] ^= 1; /* a key one bit away */

    test_round_trip();
    test_every_byte();
    test_binding();
    test_wrong_key();
    test_reseal();
    test_truncated();
    test_key_id();
    test_fresh();
    test_scrypt();
    test_key_file();
    test_free_null();

    if (!check_failures) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_done("test_seal");
}
