/* SPDX-License-Identifier: Apache-2.0 */
/* Key files: every format sr_keyfile_read takes, made at run time by the
 * real tools (openssl, ssh-keygen), checked against what the tools say the
 * key is; the refusals and their messages; truncated and damaged input.
 * A missing tool fails the test: it never skips. */
#include "check.h"
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSWORD "secretpw"
#define WRONG_PASSWORD "wrongpw-7f3a9c"
#define COMMENT "test@secretref"

static char sentinel;

/* ---- running the tools ---------------------------------------------- */

/* Runs a shell command in the fixture folder; its output goes to cmd.log. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048], full[2200];
    va_list ap;
    int status, n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    /* Never run a command cut short. */
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        fprintf(stderr, "command too long: %s\n", fmt);
        return -1;
    }
    snprintf(full, sizeof(full), "( %s ) >>cmd.log 2>&1", cmd);
    status = system(full);
    if (status != 0)
        fprintf(stderr, "command failed (%d): %s\n", status, cmd);
    return status;
}

/* Standard output of a command, or NULL when it fails. */
static char *capture(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static char *capture(const char *fmt, ...)
{
    char cmd[1024], full[1200], *out = NULL;
    size_t len = 0, cap = 0, n;
    va_list ap;
    FILE *f;
    int made;

    va_start(ap, fmt);
    made = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (made < 0 || (size_t)made >= sizeof(cmd))
        return NULL;
    snprintf(full, sizeof(full), "%s 2>>cmd.log", cmd);
    if (!(f = popen(full, "r")))
        return NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *p = realloc(out, cap = len + 8192);
            if (!p)
                break;
            out = p;
        }
        if ((n = fread(out + len, 1, 4096, f)) == 0)
            break;
        len += n;
    }
    if (pclose(f) != 0 || !out) {
        fprintf(stderr, "command failed: %s\n", cmd);
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

static unsigned char *slurp(const char *name, size_t *len)
{
    unsigned char *data = NULL;
    long size;
    FILE *f = fopen(name, "rb");

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)size + 1)) &&
        fread(data, 1, (size_t)size, f) == (size_t)size) {
        *len = (size_t)size;
    } else {
        free(data);
        data = NULL;
    }
    (void)fclose(f);
    return data;
}

/* The second field of `ssh-keygen -l -f name`: "SHA256:...". */
static char *keygen_fingerprint(const char *name)
{
    char *out = capture("ssh-keygen -l -f %s", name), *sp, *end;

    if (!out || !(sp = strchr(out, ' ')) || !(end = strchr(sp + 1, ' '))) {
        free(out);
        return NULL;
    }
    *end = '\0';
    memmove(out, sp + 1, strlen(sp + 1) + 1);
    return out;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t i, n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++)
        if (buf[i] == '/' || buf[i] == '\0') {
            buf[i] = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return -1;
            buf[i] = i < n ? '/' : '\0';
        }
    return 0;
}

/* ---- keys to compare with ------------------------------------------- */

static EVP_PKEY *load_ref(const char *name)
{
    BIO *bio = BIO_new_file(name, "r");
    EVP_PKEY *pkey = NULL;

    if (bio)
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, sr_libctx(),
                                          NULL);
    BIO_free(bio);
    ERR_clear_error();
    return pkey;
}

static X509 *load_cert(const char *name)
{
    BIO *bio = BIO_new_file(name, "r");
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return x;
}

/* Signs with signer in sr_libctx() and verifies with verifier. */
static int sign_verify(EVP_PKEY *signer, EVP_PKEY *verifier)
{
    static const unsigned char msg[] = "secretref key file test message";
    const char *md = EVP_PKEY_is_a(signer, "ED25519") ? NULL : "SHA256";
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int ok = 0;

    if (mctx &&
        EVP_DigestSignInit_ex(mctx, NULL, md, sr_libctx(), NULL, signer,
                              NULL) == 1 &&
        EVP_DigestSign(mctx, NULL, &siglen, msg, sizeof(msg)) == 1 &&
        (sig = malloc(siglen)) &&
        EVP_DigestSign(mctx, sig, &siglen, msg, sizeof(msg)) == 1 &&
        EVP_MD_CTX_reset(mctx) == 1 &&
        EVP_DigestVerifyInit_ex(mctx, NULL, md, sr_libctx(), NULL, verifier,
                                NULL) == 1 &&
        EVP_DigestVerify(mctx, sig, siglen, msg, sizeof(msg)) == 1)
        ok = 1;
    free(sig);
    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

static sr_secret *secret(const char *s)
{
    sr_secret *pw = NULL;

    if (s && sr_secret_from(s, strlen(s), &pw) != SR_OK)
        return NULL;
    return pw;
}

/* ---- what a read must give ------------------------------------------ */

struct want {
    const char *file;     /* the key file to read */
    const char *password; /* NULL: none */
    const char *ref;      /* PEM PKCS#8 of the same key, or NULL */
    const char *type;     /* "RSA", "EC", "ED25519" */
    int bits;
    int chain;            /* certificates expected (0: chain is NULL) */
    const char *leaf;     /* PEM of the first certificate */
    const char *second;   /* PEM of the second certificate */
    const char *sshpub;   /* file ssh-keygen -y/-l reads, or NULL */
    const char *comment;  /* comment ssh-keygen prints with it */
};

static void check_ssh(EVP_PKEY *pkey, const struct want *w)
{
    char *line = NULL, *want = NULL, *fp = NULL, *want_fp = NULL;
    struct sr_error e = {SR_OK, ""};

    CHECK_RC(sr_ssh_pubkey_line(pkey, w->comment, &line, &e), SR_OK);
    want = capture("ssh-keygen -y -f %s", w->sshpub);
    CHECK(want != NULL);
    if (line && want)
        CHECK_STR(line, want);
    CHECK_RC(sr_ssh_fingerprint(pkey, &fp, &e), SR_OK);
    if (run("ssh-keygen -y -f %s > %s.keygen.pub", w->sshpub,
            w->sshpub) == 0) {
        char name[256];
        snprintf(name, sizeof(name), "%s.keygen.pub", w->sshpub);
        want_fp = keygen_fingerprint(name);
    }
    CHECK(want_fp != NULL);
    if (fp && want_fp)
        CHECK_STR(fp, want_fp);
    free(line);
    free(want);
    free(fp);
    free(want_fp);
}

static void check_cert(X509 *got, const char *file)
{
    X509 *want = load_cert(file);

    CHECK(want != NULL);
    CHECK(got != NULL);
    if (got && want)
        CHECK(X509_cmp(got, want) == 0);
    X509_free(want);
}

static void expect_key(const struct want *w)
{
    struct sr_keymaterial km = {NULL, NULL};
    struct sr_error e = {SR_OK, ""};
    sr_secret *pw = secret(w->password);
    unsigned char *data;
    size_t len = 0;
    EVP_PKEY *ref = NULL;
    sr_rc rc;

    if (!(data = slurp(w->file, &len))) {
        fprintf(stderr, "cannot read fixture %s\n", w->file);
        CHECK(data != NULL);
        sr_secret_free(pw);
        return;
    }
    rc = sr_keyfile_read(data, len, pw, &km, &e);
    if (rc != SR_OK)
        fprintf(stderr, "%s: %s\n", w->file, e.msg);
    CHECK_RC(rc, SR_OK);
    if (rc != SR_OK)
        goto out;
    CHECK(EVP_PKEY_is_a(km.pkey, w->type));
    CHECK(EVP_PKEY_get_bits(km.pkey) == w->bits);
    CHECK_RC(sr_pkey_check_supported(km.pkey, &e), SR_OK);
    if (w->ref) {
        ref = load_ref(w->ref);
        CHECK(ref != NULL);
        if (ref) {
            CHECK(EVP_PKEY_eq(km.pkey, ref) == 1);
            CHECK(sign_verify(km.pkey, ref));
            CHECK(sign_verify(ref, km.pkey));
        }
    } else {
        CHECK(sign_verify(km.pkey, km.pkey));
    }
    CHECK((km.chain ? sk_X509_num(km.chain) : 0) == w->chain);
    if (w->chain == 0)
        CHECK(km.chain == NULL);
    if (w->chain >= 1)
        check_cert(sk_X509_value(km.chain, 0), w->leaf);
    if (w->chain >= 2)
        check_cert(sk_X509_value(km.chain, 1), w->second);
    if (w->sshpub)
        check_ssh(km.pkey, w);
out:
    ERR_clear_error();
    CHECK(ERR_peek_error() == 0);
    sr_keymaterial_clear(&km);
    CHECK(km.pkey == NULL && km.chain == NULL);
    EVP_PKEY_free(ref);
    sr_secret_free(pw);
    free(data);
}

/* A failed read: rc, a message holding must (when given) and never
 * forbidden, out untouched, nothing queued in OpenSSL. */
static void expect_fail_data(const char *what, const unsigned char *data,
                             size_t len, const char *password, sr_rc want,
                             const char *must)
{
    struct sr_keymaterial km;
    struct sr_error e = {SR_OK, ""};
    sr_secret *pw = secret(password);
    sr_rc rc;

    km.pkey = (EVP_PKEY *)(void *)&sentinel;
    km.chain = (STACK_OF(X509) *)(void *)&sentinel;
    rc = sr_keyfile_read(data, len, pw, &km, &e);
    if (rc != want)
        fprintf(stderr, "%s: rc %d (%s), want %d\n", what, rc, e.msg, want);
    CHECK_RC(rc, want);
    CHECK(km.pkey == (EVP_PKEY *)(void *)&sentinel);
    CHECK(km.chain == (STACK_OF(X509) *)(void *)&sentinel);
    CHECK(e.rc == want);
    CHECK(e.msg[0] != '\0' && !strchr(e.msg, '\n'));
    if (must && !strstr(e.msg, must)) {
        fprintf(stderr, "%s: message \"%s\" lacks \"%s\"\n", what, e.msg, must);
        CHECK(strstr(e.msg, must) != NULL);
    }
    if (password)
        CHECK(strstr(e.msg, password) == NULL);
    CHECK(ERR_peek_error() == 0);
    if (rc == SR_OK) {
        struct sr_keymaterial got = km;
        sr_keymaterial_clear(&got);
    }
    sr_secret_free(pw);
}

static void expect_fail(const char *file, const char *password, sr_rc want,
                        const char *must)
{
    size_t len = 0;
    unsigned char *data = slurp(file, &len);

    CHECK(data != NULL);
    if (data)
        expect_fail_data(file, data, len, password, want, must);
    free(data);
}

/* ---- truncated and damaged input --------------------------------------- */

static void truncations(const char *file, const char *password)
{
    size_t len = 0, cut, i;
    unsigned char *data = slurp(file, &len);
    char what[300];
    const unsigned char *end;

    CHECK(data != NULL);
    if (!data)
        return;
    /* Anything short of the END line's last dash is incomplete. */
    end = data + len;
    while (end > data && end[-1] != '-')
        end--;
    for (i = 0; i <= 16; i++) {
        cut = (size_t)(end - data) * i / 17;
        if (i == 16)
            cut = (size_t)(end - data) - 1;
        snprintf(what, sizeof(what), "%s cut at %zu", file, cut);
        expect_fail_data(what, data, cut, password, SR_ERR_FORMAT, NULL);
    }
    free(data);
}

/* The binary inside an OpenSSH key's armour, and the way back. */
static unsigned char *openssh_binary(const char *file, size_t *len)
{
    size_t textlen = 0, n = 0, i, pad = 0;
    unsigned char *text = slurp(file, &textlen), *b64 = NULL, *bin = NULL;
    const char *begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
    int got;

    if (!text || textlen < strlen(begin))
        goto out;
    if (!(b64 = malloc(textlen)) || !(bin = malloc(textlen)))
        goto out;
    for (i = strlen(begin); i < textlen && text[i] != '-'; i++)
        if (text[i] != '\n' && text[i] != '\r')
            b64[n++] = text[i];
    while (n > pad && b64[n - 1 - pad] == '=')
        pad++;
    got = EVP_DecodeBlock(bin, b64, (int)n);
    if (got < 0) {
        free(bin);
        bin = NULL;
        goto out;
    }
    *len = (size_t)got - pad;
out:
    free(text);
    free(b64);
    return bin;
}

static unsigned char *openssh_armour(const unsigned char *bin, size_t len,
                                     size_t *outlen)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
    static const char end[] = "\n-----END OPENSSH PRIVATE KEY-----\n";
    size_t b64len = 4 * ((len + 2) / 3);
    unsigned char *out = malloc(sizeof(begin) + b64len + sizeof(end));
    int n;

    if (!out)
        return NULL;
    memcpy(out, begin, sizeof(begin) - 1);
    n = EVP_EncodeBlock(out + sizeof(begin) - 1, bin, (int)len);
    memcpy(out + sizeof(begin) - 1 + n, end, sizeof(end) - 1);
    *outlen = sizeof(begin) - 1 + (size_t)n + sizeof(end) - 1;
    return out;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put32(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Reads a damaged OpenSSH key: it must fail, or give the original key. */
static int damaged_read(const unsigned char *bin, size_t len, EVP_PKEY *orig)
{
    struct sr_keymaterial km = {NULL, NULL};
    struct sr_error e = {SR_OK, ""};
    size_t textlen = 0;
    unsigned char *text = openssh_armour(bin, len, &textlen);
    sr_rc rc = SR_ERR_NOMEM;

    if (text)
        rc = sr_keyfile_read(text, textlen, NULL, &km, &e);
    if (rc == SR_OK)
        CHECK(EVP_PKEY_eq(km.pkey, orig) == 1);
    else
        CHECK(rc == SR_ERR_FORMAT || rc == SR_ERR_UNSUPPORTED);
    CHECK(ERR_peek_error() == 0);
    sr_keymaterial_clear(&km);
    free(text);
    return rc;
}

/* Cuts the private section at every offset (fixing its length so the
 * inner parser meets the cut) and flips bytes everywhere. */
static void openssh_damage(const char *file, size_t flip_stride)
{
    size_t len = 0, privlen, privoff, cut, padstart, i, textlen = 0;
    unsigned char *bin = openssh_binary(file, &len), *copy = NULL, *text;
    struct sr_keymaterial km = {NULL, NULL};
    struct sr_error e = {SR_OK, ""};
    sr_rc rc;

    CHECK(bin != NULL && len > 64);
    if (!bin || len <= 64 || !(copy = malloc(len)))
        goto out;
    text = openssh_armour(bin, len, &textlen);
    CHECK(text && sr_keyfile_read(text, textlen, NULL, &km, &e) == SR_OK);
    free(text);
    if (!km.pkey)
        goto out;
    /* Walk to the private section: magic, cipher, kdf, kdf options,
     * key count, public key, then the private section's length. */
    privoff = 15;
    for (i = 0; i < 5 && privoff + 4 <= len; i++)
        privoff += 4 + (i == 3 ? 0 : get32(bin + privoff));
    privoff += 4;
    CHECK(privoff <= len && get32(bin + privoff - 4) == len - privoff);
    if (privoff > len || get32(bin + privoff - 4) != len - privoff)
        goto out;
    privlen = len - privoff;
    padstart = privlen - bin[len - 1];
    for (cut = 0; cut < privlen; cut++) {
        memcpy(copy, bin, privoff + cut);
        put32(copy + privoff - 4, cut);
        rc = damaged_read(copy, privoff + cut, km.pkey);
        if (cut < padstart)
            CHECK(rc != SR_OK);
    }
    for (i = 0; i < len; i += flip_stride) {
        memcpy(copy, bin, len);
        copy[i] ^= 0xff;
        damaged_read(copy, len, km.pkey);
        copy[i] ^= 0xff ^ 0x01;
        damaged_read(copy, len, km.pkey);
    }
out:
    sr_keymaterial_clear(&km);
    free(copy);
    free(bin);
}

/* ---- the fixtures ----------------------------------------------------- */

static const char *const pem_keys[] = {"rsa2048", "rsa3072", "ec256",
                                       "ec384", "ec521", "ed25519"};
static const char *const types[] = {"RSA", "RSA", "EC", "EC", "EC", "ED25519"};
static const int bits[] = {2048, 3072, 256, 384, 521, 256};

static int make_fixtures(void)
{
    int bad = 0;
    size_t i;

    bad |= run("printf '%%s\\n' '" PASSWORD "' > pw.txt");
    bad |= run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
               "-out rsa2048.pem");
    bad |= run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 "
               "-out rsa3072.pem");
    bad |= run("openssl genpkey -algorithm EC -pkeyopt "
               "ec_paramgen_curve:P-256 -out ec256.pem");
    bad |= run("openssl genpkey -algorithm EC -pkeyopt "
               "ec_paramgen_curve:P-384 -out ec384.pem");
    bad |= run("openssl genpkey -algorithm EC -pkeyopt "
               "ec_paramgen_curve:P-521 -out ec521.pem");
    bad |= run("openssl genpkey -algorithm ED25519 -out ed25519.pem");
    for (i = 0; i < 6; i++) {
        const char *k = pem_keys[i];
        if (i < 5)
            bad |= run("openssl pkey -in %s.pem -traditional -out %s.trad.pem"
                       " && openssl pkey -in %s.pem -traditional -outform DER"
                       " -out %s.trad.der", k, k, k, k);
        bad |= run("openssl pkey -in %s.pem -outform DER -out %s.der", k, k);
        bad |= run("openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s.pem "
                   "-passout file:pw.txt -out %s.enc.pem", k, k);
        bad |= run("openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s.pem "
                   "-passout file:pw.txt -outform DER -out %s.enc.der", k, k);
    }
    bad |= run("openssl pkey -in rsa2048.pem -traditional -aes256 "
               "-passout file:pw.txt -out rsa2048.legacy.pem");
    bad |= run("openssl pkey -in ec384.pem -traditional -aes128 "
               "-passout file:pw.txt -out ec384.legacy.pem");
    bad |= run("openssl pkcs8 -topk8 -v1 PBE-MD5-DES -provider legacy "
               "-provider default -in rsa2048.pem -passout file:pw.txt "
               "-out rsa2048.des.p8.pem && openssl pkey -in rsa2048.pem "
               "-traditional -des -provider legacy -provider default "
               "-passout file:pw.txt -out rsa2048.des.pem");
    bad |= run("openssl ecparam -name prime256v1 -genkey -out ecparam.pem && "
               "openssl pkey -in ecparam.pem -out ecparam.p8.pem");
    /* Certificates, bundles and PKCS#12. */
    bad |= run("openssl req -x509 -new -key rsa2048.pem -subj /CN=leaf-rsa "
               "-days 30 -out rsa2048.crt");
    bad |= run("openssl req -x509 -new -key ec256.pem -subj /CN=ca "
               "-days 30 -out ca.crt");
    bad |= run("openssl req -x509 -new -key ed25519.pem -subj /CN=leaf-ed "
               "-days 30 -out ed25519.crt");
    bad |= run("openssl x509 -in rsa2048.crt -outform DER "
               "-out rsa2048.crt.der");
    bad |= run("cat rsa2048.pem rsa2048.crt ca.crt > bundle_key_first.pem");
    bad |= run("cat ca.crt rsa2048.crt rsa2048.trad.pem > bundle_key_last.pem");
    bad |= run("cat rsa2048.enc.pem rsa2048.crt > bundle_enc.pem");
    bad |= run("cat rsa3072.pem rsa2048.crt > mismatch.pem");
    bad |= run("cat rsa2048.pem ca.crt > mismatch_ca_only.pem");
    bad |= run("cat rsa2048.pem rsa2048.crt rsa2048.crt > twice.pem");
    bad |= run("cat rsa2048.crt ca.crt > certs_only.pem");
    bad |= run("cat rsa2048.pem ec256.pem > two_keys.pem");
    bad |= run("openssl pkey -in ec256.pem -pubout -out ec256.pub.pem && "
               "openssl pkey -in ec256.pem -pubout -outform DER "
               "-out ec256.pub.der && openssl ec -in ec256.pem -pubout "
               "-conv_form compressed -outform DER -out ec256.pubc.der");
    bad |= run("openssl pkcs12 -export -inkey rsa2048.pem -in rsa2048.crt "
               "-certfile ca.crt -passout file:pw.txt -out rsa2048.p12");
    bad |= run("openssl pkcs12 -export -inkey rsa2048.pem -in rsa2048.crt "
               "-certfile ca.crt -passout pass: -out rsa2048.empty.p12");
    bad |= run("openssl pkcs12 -export -inkey ed25519.pem -in ed25519.crt "
               "-passout pass: -out ed25519.p12");
    bad |= run("openssl pkcs12 -export -inkey ec384.pem -nocerts "
               "-passout file:pw.txt -out ec384.nocert.p12");
    bad |= run("openssl pkcs12 -export -in rsa2048.crt -nokeys "
               "-passout pass: -out certs_only.p12");
    bad |= run("openssl pkcs12 -export -legacy -inkey rsa2048.pem "
               "-in rsa2048.crt -passout file:pw.txt -out rsa2048.legacy.p12");
    bad |= run("openssl pkcs12 -in rsa2048.p12 -passin file:pw.txt -nodes "
               "-out from_p12.pem");
    bad |= run("openssl pkcs12 -export -nomac -inkey ec256.pem -in ca.crt "
               "-passout file:pw.txt -out ec256.nomac.p12");
    bad |= run("openssl pkcs12 -export -nomac -keypbe NONE -certpbe NONE "
               "-inkey ec256.pem -in ca.crt -passout pass: "
               "-out ec256.clear.p12");
    bad |= run("openssl x509 -in rsa2048.crt -addtrust serverAuth "
               "-out rsa2048.trusted.crt && cat rsa2048.pem "
               "rsa2048.trusted.crt > bundle_trusted.pem");
    /* OpenSSH keys, and PKCS#8 copies of them to compare with. */
    bad |= run("ssh-keygen -q -t rsa -b 3072 -N '' -C " COMMENT " -f ssh_rsa");
    bad |= run("for b in 256 384 521; do ssh-keygen -q -t ecdsa -b $b "
               "-N '' -C " COMMENT " -f ssh_ec$b || exit 1; done");
    bad |= run("ssh-keygen -q -t ed25519 -N '' -C " COMMENT " -f ssh_ed25519");
    bad |= run("ssh-keygen -q -t ed25519 -N " PASSWORD " -f ssh_encrypted");
    bad |= run("ssh-keygen -q -t rsa -b 1024 -N '' -f ssh_rsa1024");
    bad |= run("ssh-keygen -q -t dsa -N '' -f ssh_dsa");
    bad |= run("for k in ssh_rsa ssh_ec256 ssh_ec384 ssh_ec521; do "
               "cp $k $k.p8 && ssh-keygen -q -p -N '' -P '' -m PKCS8 -f $k.p8;"
               " done");
    /* Keys we refuse, and input that is no key. */
    bad |= run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
               "-out rsa1024.pem");
    bad |= run("openssl genpkey -genparam -algorithm DSA -pkeyopt "
               "dsa_paramgen_bits:1024 -out dsaparam.pem && openssl genpkey "
               "-paramfile dsaparam.pem -out dsa.pem");
    bad |= run("openssl genpkey -algorithm ED448 -out ed448.pem");
    bad |= run("openssl genpkey -algorithm X25519 -out x25519.pem");
    bad |= run("openssl genpkey -algorithm EC -pkeyopt "
               "ec_paramgen_curve:secp256k1 -out k256.pem");
    bad |= run("openssl rand -out random.bin 3000");
    bad |= run("printf 'hello, world\\n' > hello.txt");
    bad |= run("printf -- '-----BEGIN PRIVATE KEY-----\\nnot base64!\\n"
               "-----END PRIVATE KEY-----\\n' > bad_base64.pem");
    return bad;
}

/* ---- the cases ---------------------------------------------------------- */

static void test_good_files(void)
{
    char file[64], ref[64], ssh[64];
    size_t i;

    for (i = 0; i < 6; i++) {
        const char *k = pem_keys[i];
        /* ssh-keygen 9.2 cannot read Ed25519 PEM: checked via ssh_ed25519. */
        const char *sshpub = i < 5 ? ssh : NULL;
        struct want w = {file, NULL, ref, types[i], bits[i], 0, NULL, NULL,
                         sshpub, NULL};
        /* Ed25519 has no traditional form: its PKCS#8 twice instead. */
        static const char *const forms[2][4] = {
            {".pem", ".trad.pem", ".der", ".trad.der"},
            {".pem", ".pem", ".der", ".der"}};
        size_t f;

        snprintf(ref, sizeof(ref), "%s.pem", k);
        snprintf(ssh, sizeof(ssh), "%s.pem", k);
        for (f = 0; f < 4; f++) {
            snprintf(file, sizeof(file), "%s%s", k, forms[i == 5][f]);
            expect_key(&w);
        }
        w.sshpub = NULL;
        /* Encrypted PKCS#8, PEM and DER: the password is needed and must
         * be right; a password given for a clear key is ignored. */
        w.password = PASSWORD;
        snprintf(file, sizeof(file), "%s.enc.pem", k);
        expect_key(&w);
        expect_fail(file, NULL, SR_ERR_PASSWORD, "--password-file");
        expect_fail(file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
        snprintf(file, sizeof(file), "%s.enc.der", k);
        expect_key(&w);
        expect_fail(file, NULL, SR_ERR_PASSWORD, "--password-file");
        expect_fail(file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
        snprintf(file, sizeof(file), "%s.pem", k);
        expect_key(&w);
    }
}

static void test_legacy_pem(void)
{
    struct want w = {"rsa2048.legacy.pem", PASSWORD, "rsa2048.pem", "RSA",
                     2048, 0, NULL, NULL, NULL, NULL};

    expect_key(&w);
    expect_fail(w.file, NULL, SR_ERR_PASSWORD, "--password-file");
    expect_fail(w.file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
    w.file = "ec384.legacy.pem";
    w.ref = "ec384.pem";
    w.type = "EC";
    w.bits = 384;
    expect_key(&w);
    expect_fail(w.file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
    /* DES and PBES1 are the legacy provider's, which we do not load. */
    expect_fail("rsa2048.des.p8.pem", PASSWORD, SR_ERR_UNSUPPORTED, "legacy");
    expect_fail("rsa2048.des.pem", PASSWORD, SR_ERR_UNSUPPORTED, "legacy");
    w.file = "ecparam.pem"; /* EC PARAMETERS, then EC PRIVATE KEY */
    w.ref = "ecparam.p8.pem";
    w.password = NULL;
    w.bits = 256;
    expect_key(&w);
}

static void test_certificates(void)
{
    struct want w = {"bundle_key_first.pem", NULL, "rsa2048.pem", "RSA",
                     2048, 2, "rsa2048.crt", "ca.crt", NULL, NULL};

    expect_key(&w);
    w.file = "bundle_key_last.pem"; /* CA, leaf, key: the leaf goes first */
    expect_key(&w);
    w.file = "from_p12.pem"; /* "Bag Attributes" text around the blocks */
    expect_key(&w);
    w.file = "rsa2048.p12";
    w.password = PASSWORD;
    expect_key(&w);
    expect_fail(w.file, NULL, SR_ERR_PASSWORD, "--password-file");
    expect_fail(w.file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
    w.file = "rsa2048.empty.p12";
    w.password = NULL;
    expect_key(&w);
    w.password = ""; /* an empty password file means the same */
    expect_key(&w);
    expect_fail(w.file, WRONG_PASSWORD, SR_ERR_PASSWORD, "wrong password");
    w.file = "bundle_trusted.pem"; /* TRUSTED CERTIFICATE block */
    w.chain = 1;
    expect_key(&w);
    w.file = "bundle_enc.pem";
    w.password = PASSWORD;
    w.chain = 1;
    expect_key(&w);
    w.file = "ed25519.p12";
    w.password = NULL;
    w.ref = "ed25519.pem";
    w.type = "ED25519";
    w.bits = 256;
    w.leaf = "ed25519.crt";
    expect_key(&w);
    w.file = "ec256.clear.p12"; /* no MAC, nothing encrypted */
    w.password = NULL;
    w.ref = "ec256.pem";
    w.type = "EC";
    w.bits = 256;
    w.leaf = "ca.crt";
    expect_key(&w);
    /* Encrypted without a MAC: PKCS12_parse of OpenSSL 3.0 refuses any
     * password when there is no MAC. */
    expect_fail("ec256.nomac.p12", NULL, SR_ERR_PASSWORD, "--password-file");
    expect_fail("ec256.nomac.p12", PASSWORD, SR_ERR_UNSUPPORTED, "MAC");
    w.file = "ec384.nocert.p12";
    w.password = PASSWORD;
    w.ref = "ec384.pem";
    w.type = "EC";
    w.bits = 384;
    w.chain = 0;
    expect_key(&w);

    expect_fail("mismatch.pem", NULL, SR_ERR_FORMAT,
                "the certificate does not match the private key");
    expect_fail("mismatch_ca_only.pem", NULL, SR_ERR_FORMAT,
                "the certificate does not match the private key");
    expect_fail("twice.pem", NULL, SR_ERR_FORMAT, "more than one");
    expect_fail("certs_only.pem", NULL, SR_ERR_FORMAT,
                "no private key in the file");
    expect_fail("rsa2048.crt.der", NULL, SR_ERR_FORMAT,
                "no private key in the file");
    expect_fail("certs_only.p12", NULL, SR_ERR_FORMAT,
                "no private key in the file");
    expect_fail("ec256.pub.pem", NULL, SR_ERR_FORMAT,
                "no private key in the file");
    expect_fail("ec256.pub.der", NULL, SR_ERR_FORMAT,
                "no private key in the file");
    expect_fail("two_keys.pem", NULL, SR_ERR_FORMAT, "more than one");
    /* RC2 needs the legacy provider, which we do not load. */
    expect_fail("rsa2048.legacy.p12", PASSWORD, SR_ERR_UNSUPPORTED,
                "-legacy");
}

static void test_openssh(void)
{
    static const char *const keys[] = {"ssh_rsa", "ssh_ec256", "ssh_ec384",
                                       "ssh_ec521", "ssh_ed25519"};
    static const char *const ktypes[] = {"RSA", "EC", "EC", "EC", "ED25519"};
    static const int kbits[] = {3072, 256, 384, 521, 256};
    char ref[64];
    size_t i;

    for (i = 0; i < 5; i++) {
        struct want w = {keys[i], NULL, i < 4 ? ref : NULL, ktypes[i],
                         kbits[i], 0, NULL, NULL, keys[i], COMMENT};
        snprintf(ref, sizeof(ref), "%s.p8", keys[i]);
        expect_key(&w);
        w.password = WRONG_PASSWORD; /* not needed, so not used */
        expect_key(&w);
    }
    expect_fail("ssh_encrypted", NULL, SR_ERR_FORMAT, "ssh-keygen -p");
    expect_fail("ssh_encrypted", PASSWORD, SR_ERR_FORMAT,
                "--password-file");
    expect_fail("ssh_rsa1024", NULL, SR_ERR_UNSUPPORTED, "1024");
    expect_fail("ssh_dsa", NULL, SR_ERR_UNSUPPORTED, "DSA");
}

static void test_unsupported(void)
{
    expect_fail("rsa1024.pem", NULL, SR_ERR_UNSUPPORTED, "RSA");
    expect_fail("dsa.pem", NULL, SR_ERR_UNSUPPORTED, "DSA");
    expect_fail("ed448.pem", NULL, SR_ERR_UNSUPPORTED, "ED448");
    expect_fail("x25519.pem", NULL, SR_ERR_UNSUPPORTED, "X25519");
    expect_fail("k256.pem", NULL, SR_ERR_UNSUPPORTED, "secp256k1");
}

static void test_garbage(void)
{
    static const unsigned char nul[4] = {0, 0, 0, 0};
    unsigned char *big;

    expect_fail("random.bin", NULL, SR_ERR_FORMAT, NULL);
    expect_fail("hello.txt", NULL, SR_ERR_FORMAT, "not a private key file");
    expect_fail("bad_base64.pem", NULL, SR_ERR_FORMAT, NULL);
    expect_fail_data("empty", nul, 0, NULL, SR_ERR_FORMAT, NULL);
    expect_fail_data("NULL", NULL, 0, NULL, SR_ERR_FORMAT, NULL);
    expect_fail_data("zeros", nul, sizeof(nul), NULL, SR_ERR_FORMAT, NULL);
    if ((big = malloc(1024 * 1024 + 1))) {
        memset(big, 'A', 1024 * 1024 + 1);
        expect_fail_data("1 MiB + 1", big, 1024 * 1024 + 1, NULL,
                         SR_ERR_FORMAT, "key file too large");
        free(big);
    }
    truncations("rsa2048.pem", NULL);
    truncations("ec384.trad.pem", NULL);
    truncations("rsa2048.enc.pem", PASSWORD);
    truncations("bundle_key_first.pem", NULL);
    truncations("ssh_ed25519", NULL);
    truncations("ssh_rsa", NULL);
    /* DER and PKCS#12 cut short. */
    {
        static const char *const files[] = {"rsa2048.der", "ec256.trad.der",
                                            "ed25519.enc.der",
                                            "rsa2048.empty.p12"};
        size_t f, len = 0, cut;
        unsigned char *data;
        char what[128];

        for (f = 0; f < 4; f++) {
            CHECK((data = slurp(files[f], &len)) != NULL);
            for (cut = 1; data && cut < len; cut += len / 13 + 1) {
                snprintf(what, sizeof(what), "%s cut at %zu", files[f], cut);
                expect_fail_data(what, data, cut,
                                 f == 2 ? PASSWORD : NULL, SR_ERR_FORMAT,
                                 NULL);
            }
            free(data);
        }
    }
    openssh_damage("ssh_ed25519", 1);
    openssh_damage("ssh_ec256", 1);
    openssh_damage("ssh_ec521", 3);
    openssh_damage("ssh_rsa", 11);
}

/* ---- what a password-based encryption may cost ------------------------ */

/* An EncryptedPrivateKeyInfo as `openssl asn1parse -genconf` reads it: the
 * algorithm is section [alg], which each file adds; the encrypted bytes
 * are noise, since the count must be refused before any decryption. */
#define EPKI_CONF                                                           \
    "[epki]\nalg=SEQUENCE:alg\n"                                            \
    "data=FORMAT:HEX,OCTETSTRING:8f2a61c4d0e39b7715a8c2e4f60d1b3a"          \
    "8f2a61c4d0e39b7715a8c2e4f60d1b3a\n"
/* PBES2 with AES-256-CBC; the key function is [kdf]. */
#define PBES2_CONF                                                          \
    "[alg]\noid=OID:PBES2\nparams=SEQUENCE:pbes2\n"                         \
    "[pbes2]\nkdf=SEQUENCE:kdf\nenc=SEQUENCE:enc\n"                         \
    "[enc]\noid=OID:AES-256-CBC\n"                                          \
    "iv=FORMAT:HEX,OCTETSTRING:000102030405060708090a0b0c0d0e0f\n"
#define PBKDF2_CONF(iter)                                                   \
    "[kdf]\noid=OID:PBKDF2\nparams=SEQUENCE:pbkdf2\n"                       \
    "[pbkdf2]\nsalt=FORMAT:HEX,OCTETSTRING:0102030405060708\n"              \
    "iter=INTEGER:" iter "\nprf=SEQUENCE:prf\n"                             \
    "[prf]\noid=OID:hmacWithSHA256\nnull=NULL\n"
/* A PKCS#12 file without a MAC whose one part is [part]. */
#define PFX_CONF                                                            \
    "asn1=SEQUENCE:pfx\n[pfx]\nversion=INTEGER:3\nsafe=SEQUENCE:safe\n"     \
    "[safe]\ntype=OID:pkcs7-data\n"                                         \
    "content=EXPLICIT:0,OCTWRAP,SEQUENCE:parts\n"                           \
    "[parts]\npart=SEQUENCE:part\n"

static const struct {
    const char *name, *conf, *must;
} costly[] = {
    {"pbkdf2-2e31", "asn1=SEQUENCE:epki\n" EPKI_CONF PBES2_CONF
     PBKDF2_CONF("2147483647"), "PBKDF2 iterations"},
    {"pbkdf2-10000001", "asn1=SEQUENCE:epki\n" EPKI_CONF PBES2_CONF
     PBKDF2_CONF("10000001"), "PBKDF2 iterations"},
    /* Beyond a long: ASN1_INTEGER_get fails on it. */
    {"pbkdf2-2e72", "asn1=SEQUENCE:epki\n" EPKI_CONF PBES2_CONF
     PBKDF2_CONF("0xffffffffffffffffff"), "PBKDF2 iterations"},
    {"scrypt-2e29", "asn1=SEQUENCE:epki\n" EPKI_CONF PBES2_CONF
     "[kdf]\noid=OID:id-scrypt\nparams=SEQUENCE:scrypt\n"
     "[scrypt]\nsalt=FORMAT:HEX,OCTETSTRING:0102030405060708\n"
     "n=INTEGER:16384\nr=INTEGER:8\np=INTEGER:4096\n", "scrypt"},
    {"pbe-sha1-3des-2e31", "asn1=SEQUENCE:epki\n" EPKI_CONF
     "[alg]\noid=OID:PBE-SHA1-3DES\nparams=SEQUENCE:pbe\n"
     "[pbe]\nsalt=FORMAT:HEX,OCTETSTRING:0102030405060708\n"
     "iter=INTEGER:2147483647\n", "PBE iterations"},
    /* PKCS#12: a shrouded key bag in a plain part... */
    {"p12-shrouded-2e31", PFX_CONF
     "[part]\ntype=OID:pkcs7-data\n"
     "content=EXPLICIT:0,OCTWRAP,SEQUENCE:bags\n"
     "[bags]\nbag=SEQUENCE:bag\n"
     "[bag]\nid=OID:pkcs8ShroudedKeyBag\nvalue=EXPLICIT:0,SEQUENCE:epki\n"
     EPKI_CONF PBES2_CONF PBKDF2_CONF("2147483647"), "PBKDF2 iterations"},
    /* ...in a bag of bags... */
    {"p12-nested-2e31", PFX_CONF
     "[part]\ntype=OID:pkcs7-data\n"
     "content=EXPLICIT:0,OCTWRAP,SEQUENCE:outer\n"
     "[outer]\nbag=SEQUENCE:nest\n"
     "[nest]\nid=OID:safeContentsBag\nvalue=EXPLICIT:0,SEQUENCE:bags\n"
     "[bags]\nbag=SEQUENCE:bag\n"
     "[bag]\nid=OID:pkcs8ShroudedKeyBag\nvalue=EXPLICIT:0,SEQUENCE:epki\n"
     EPKI_CONF PBES2_CONF PBKDF2_CONF("2147483647"), "PBKDF2 iterations"},
    /* ...and an encrypted part. */
    {"p12-encrypted-2e31", PFX_CONF
     "[part]\ntype=OID:pkcs7-encryptedData\n"
     "content=EXPLICIT:0,SEQUENCE:encrypted\n"
     "[encrypted]\nversion=INTEGER:0\ninfo=SEQUENCE:info\n"
     "[info]\ntype=OID:pkcs7-data\nalg=SEQUENCE:alg\n"
     "data=IMPLICIT:0,FORMAT:HEX,OCTETSTRING:8f2a61c4d0e39b7715a8c2e4\n"
     PBES2_CONF PBKDF2_CONF("2147483647"), "PBKDF2 iterations"},
};

static int write_text(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    int ok = f && fputs(text, f) >= 0;

    if (f && fclose(f) != 0)
        ok = 0;
    return ok;
}

/* The iteration counts come from the file: beyond the bound, the reader
 * refuses at once, before deriving a key (each of these would otherwise
 * keep it busy for minutes to hours). The encrypted PKCS#8 files are read
 * as DER and as PEM, with a password as a user would give one. */
static void test_costly_kdf(void)
{
    /* What exporters make stays under the bound: scrypt at OpenSSL's
     * defaults (N*r*p = 2^17) and PBKDF2 at OWASP's 600,000 iterations. */
    static const char *const usual[] = {"ec256.scrypt.pem", "ec256.600k.pem"};
    struct want w = {NULL, PASSWORD, "ec256.pem", "EC", 256, 0, NULL, NULL,
                     NULL, NULL};
    char conf[64], der[64], pem[64];
    size_t i;

    CHECK(run("openssl pkcs8 -topk8 -scrypt -in ec256.pem "
              "-passout file:pw.txt -out ec256.scrypt.pem") == 0);
    CHECK(run("openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000 "
              "-in ec256.pem -passout file:pw.txt -out ec256.600k.pem") == 0);
    for (i = 0; i < sizeof(usual) / sizeof(usual[0]); i++) {
        w.file = usual[i];
        expect_key(&w);
    }

    for (i = 0; i < sizeof(costly) / sizeof(costly[0]); i++) {
        snprintf(conf, sizeof(conf), "%s.cnf", costly[i].name);
        snprintf(der, sizeof(der), "%s.der", costly[i].name);
        snprintf(pem, sizeof(pem), "%s.pem", costly[i].name);
        CHECK(write_text(conf, costly[i].conf));
        if (run("openssl asn1parse -genconf %s -noout -out %s", conf, der)) {
            CHECK(0);
            continue;
        }
        if (strncmp(costly[i].name, "p12-", 4) == 0) {
            /* No MAC, so read without a password, as `secretref` would. */
            expect_fail(der, NULL, SR_ERR_FORMAT, costly[i].must);
            continue;
        }
        expect_fail(der, PASSWORD, SR_ERR_FORMAT, costly[i].must);
        CHECK(run("{ echo '-----BEGIN ENCRYPTED PRIVATE KEY-----' && "
                  "openssl base64 -in %s && "
                  "echo '-----END ENCRYPTED PRIVATE KEY-----'; } >%s",
                  der, pem) == 0);
        expect_fail(pem, PASSWORD, SR_ERR_FORMAT, costly[i].must);
    }
}

/* Public keys alone, compressed points, and the edges of the API. */
static void test_public_and_api(void)
{
    struct sr_keymaterial zero = {NULL, NULL};
    struct sr_error e = {SR_OK, ""};
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    EVP_PKEY *pub, *ed448;
    char *line = NULL, *want, *fp = NULL;
    static const char *const pubs[] = {"ec256.pub.der", "ec256.pubc.der"};
    size_t i;

    sr_keymaterial_clear(&zero);
    sr_keymaterial_clear(NULL);
    CHECK(zero.pkey == NULL && zero.chain == NULL);
    CHECK_RC(sr_pkey_check_supported(NULL, &e), SR_ERR_USAGE);
    CHECK_RC(sr_keyfile_read((const unsigned char *)"x", 1, NULL, NULL, &e),
             SR_ERR_USAGE);
    want = capture("ssh-keygen -y -f ec256.pem");
    CHECK(want != NULL);
    for (i = 0; i < 2; i++) {
        CHECK((der = slurp(pubs[i], &len)) != NULL);
        p = der;
        pub = der ? d2i_PUBKEY_ex(NULL, &p, (long)len, sr_libctx(), NULL)
                  : NULL;
        CHECK(pub != NULL);
        CHECK_RC(sr_ssh_pubkey_line(pub, NULL, &line, &e), SR_OK);
        if (line && want)
            CHECK_STR(line, want);
        free(line);
        line = NULL;
        /* An empty comment is no comment: no trailing space. */
        CHECK_RC(sr_ssh_pubkey_line(pub, "", &line, &e), SR_OK);
        if (line && want)
            CHECK_STR(line, want);
        free(line);
        line = NULL;
        CHECK_RC(sr_ssh_pubkey_line(pub, "two\nlines", &line, &e),
                 SR_ERR_USAGE);
        CHECK(line == NULL);
        CHECK_RC(sr_ssh_fingerprint(pub, &fp, &e), SR_OK);
        CHECK(fp && strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 7 + 43);
        free(fp);
        fp = NULL;
        EVP_PKEY_free(pub);
        free(der);
    }
    free(want);
    ed448 = load_ref("ed448.pem");
    CHECK(ed448 != NULL);
    CHECK_RC(sr_ssh_pubkey_line(ed448, NULL, &line, &e), SR_ERR_UNSUPPORTED);
    CHECK_RC(sr_ssh_fingerprint(ed448, &fp, &e), SR_ERR_UNSUPPORTED);
    CHECK(line == NULL && fp == NULL);
    CHECK_RC(sr_pkey_check_supported(ed448, &e), SR_ERR_UNSUPPORTED);
    EVP_PKEY_free(ed448);
    CHECK(ERR_peek_error() == 0);
}

int main(void)
{
    const char *base = getenv("SECRETREF_TEST_TMP");
    char dir[PATH_MAX], cwd[PATH_MAX];

    if (!base || !*base)
        base = "/tmp";
    umask(077); /* ssh-keygen refuses private keys others can read */
    if (mkdir_p(base) != 0 ||
        snprintf(dir, sizeof(dir), "%s/test_keyfile.XXXXXX", base) >=
            (int)sizeof(dir) ||
        !mkdtemp(dir) || !getcwd(cwd, sizeof(cwd)) || chdir(dir) != 0) {
        fprintf(stderr, "cannot make a folder under %s: %s\n", base,
                strerror(errno));
        CHECK(0);
        return check_done("test_keyfile");
    }
    /* The tools are part of the test: without them it fails. */
    if (run("command -v openssl && command -v ssh-keygen") != 0) {
        fprintf(stderr, "openssl and ssh-keygen are required\n");
        CHECK(0);
        return check_done("test_keyfile");
    }
    CHECK(sr_libctx() != NULL);
    CHECK(make_fixtures() == 0);
    test_good_files();
    test_legacy_pem();
    test_certificates();
    test_openssh();
    test_unsupported();
    test_garbage();
    test_costly_kdf();
    test_public_and_api();
    if (chdir(cwd) != 0)
        CHECK(0);
    if (check_failures == 0) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
        CHECK(system(cmd) == 0);
    } else {
        fprintf(stderr, "fixtures kept in %s\n", dir);
    }
    return check_done("test_keyfile");
}
