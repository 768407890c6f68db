/* SPDX-License-Identifier: Apache-2.0 */
/* The provider in-process: keys loaded through OSSL_STORE from
 * "secretref:NAME" in a library context of the test's own, then used as
 * an application would. For an EC P-256, an RSA-2048 and an Ed25519 key:
 * eight threads sign with one EVP_PKEY at once (RSA alternating PKCS#1
 * v1.5 and PSS); a forked child signs with the same EVP_PKEY and loads a
 * key anew (the provider opens its store in the child: SQLite handles
 * must not cross fork()); EVP_PKEY_dup and EVP_PKEY_eq work; size queries
 * answer; and no path gives out a private component.
 *
 * Every signature is verified by the default provider alone, in another
 * library context, with the public key exported as SubjectPublicKeyInfo. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "check.h"
#include "secretref.h"
#include "testdir.h"
#include "threads.h"

#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECRETREF_MODULE_DIR
#error "SECRETREF_MODULE_DIR: the folder of secretref.so"
#endif

#define THREADS 8
#define SIGNS_PER_THREAD 100
#define SIG_MAX 512

struct key_case {
    const char *generate;
    const char *name;
    const char *type;   /* EVP_PKEY_is_a */
    const char *md;     /* NULL for Ed25519 */
    int bits, size, security_bits;
};

/* size: the largest signature (ECDSA P-256 DER is at most 72 bytes). */
static const struct key_case cases[] = {
    {"ec-p256", "prov-ec-p256", "EC", "SHA256", 256, 72, 128},
    {"rsa-2048", "prov-rsa-2048", "RSA", "SHA256", 2048, 256, 112},
    {"ed25519", "prov-ed25519", "ED25519", NULL, 256, 64, 128},
};
#define CASES (sizeof(cases) / sizeof(cases[0]))

static char tmpdir[PATH_MAX], store_path[PATH_MAX + 32],
    key_path[PATH_MAX + 32];

/* libctx: secretref and default, as an application loads them. pubctx:
 * the default provider alone, for verifying. */
static OSSL_LIB_CTX *libctx, *pubctx;
static OSSL_PROVIDER *ours, *deflt, *pub_deflt;

static void unload_providers(void);

static const unsigned char message[] = "signed through the secretref provider";

/* ---- helpers ------------------------------------------------------------- */

/* The first private key "secretref:NAME" yields, or NULL. */
static EVP_PKEY *load_key(const char *name)
{
    char uri[128];
    OSSL_STORE_CTX *sc;
    OSSL_STORE_INFO *info;
    EVP_PKEY *pkey = NULL;

    snprintf(uri, sizeof(uri), "secretref:%s", name);
    if (!(sc = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL,
                                  NULL)))
        return NULL;
    while (!pkey && !OSSL_STORE_eof(sc) && (info = OSSL_STORE_load(sc))) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            pkey = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(sc);
    return pkey;
}

/* The public half, through DER, as a key of the default provider alone. */
static EVP_PKEY *public_copy(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    EVP_PKEY *pub = NULL;
    int len = i2d_PUBKEY(key, &der);

    if (len <= 0)
        return NULL;
    p = der;
    pub = d2i_PUBKEY_ex(NULL, &p, len, pubctx, NULL);
    if (pub && p != der + len) {
        EVP_PKEY_free(pub);
        pub = NULL;
    }
    OPENSSL_free(der);
    return pub;
}

/* RSA-PSS with a salt of the digest's length, on a sign or verify
 * context. */
static int set_pss(EVP_PKEY_CTX *pctx)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) ==
               1;
}

/* One EVP_DigestSign with key (md NULL for Ed25519), RSA with PKCS#1
 * v1.5 or PSS; 1 on success. */
static int sign_with(EVP_MD_CTX *mctx, EVP_PKEY *key, const char *md,
                     int pss, const unsigned char *msg, size_t len,
                     unsigned char *sig, size_t *siglen)
{
    EVP_PKEY_CTX *pctx = NULL;

    *siglen = SIG_MAX;
    if (EVP_MD_CTX_reset(mctx) != 1 ||
        EVP_DigestSignInit_ex(mctx, &pctx, md, libctx, NULL, key, NULL) !=
            1 ||
        (pss && !set_pss(pctx)))
        return 0;
    return EVP_DigestSign(mctx, sig, siglen, msg, len) == 1;
}

static int sign_once(EVP_PKEY *key, const char *md, const unsigned char *msg,
                     size_t len, unsigned char *sig, size_t *siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok = mctx && sign_with(mctx, key, md, 0, msg, len, sig, siglen);

    EVP_MD_CTX_free(mctx);
    return ok;
}

/* Verifies in the default provider's context; 1 when sig is good. */
static int verify_with(EVP_MD_CTX *mctx, EVP_PKEY *pub, const char *md,
                       int pss, const unsigned char *msg, size_t len,
                       const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *pctx = NULL;

    if (EVP_MD_CTX_reset(mctx) != 1 ||
        EVP_DigestVerifyInit_ex(mctx, &pctx, md, pubctx, NULL, pub, NULL) !=
            1 ||
        (pss && !set_pss(pctx)))
        return 0;
    return EVP_DigestVerify(mctx, sig, siglen, msg, len) == 1;
}

static int verify_once(EVP_PKEY *pub, const char *md,
                       const unsigned char *msg, size_t len,
                       const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    int ok = mctx && verify_with(mctx, pub, md, 0, msg, len, sig, siglen);

    EVP_MD_CTX_free(mctx);
    ERR_clear_error();
    return ok;
}

static int is_ours(const EVP_PKEY *key)
{
    const OSSL_PROVIDER *prov = EVP_PKEY_get0_provider(key);

    return prov && strcmp(OSSL_PROVIDER_get0_name(prov), "secretref") == 0;
}

/* ---- eight threads, one EVP_PKEY ----------------------------------------- */

struct worker {
    EVP_PKEY *key, *pub;
    const char *md;
    int rsa; /* alternate PKCS#1 v1.5 and PSS */
    int index;
    pthread_barrier_t *start;
    int signed_ok, verified;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    EVP_MD_CTX *sctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    unsigned char msg[64], sig[SIG_MAX];
    size_t siglen;
    int i, len, pss;

    pthread_barrier_wait(w->start);
    for (i = 0; sctx && vctx && i < SIGNS_PER_THREAD; i++) {
        len = snprintf((char *)msg, sizeof(msg), "thread %d, message %d",
                       w->index, i);
        pss = w->rsa && (i + w->index) % 2;
        if (!sign_with(sctx, w->key, w->md, pss, msg, (size_t)len, sig,
                       &siglen))
            continue;
        w->signed_ok++;
        if (verify_with(vctx, w->pub, w->md, pss, msg, (size_t)len, sig,
                        siglen))
            w->verified++;
    }
    EVP_MD_CTX_free(sctx);
    EVP_MD_CTX_free(vctx);
    ERR_clear_error();
    return NULL;
}

static void test_threads(EVP_PKEY *key, EVP_PKEY *pub, const char *md,
                         int rsa)
{
    struct worker workers[THREADS];
    pthread_barrier_t start;
    int i;

    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof(workers[i]));
        workers[i].key = key;
        workers[i].pub = pub;
        workers[i].md = md;
        workers[i].rsa = rsa;
        workers[i].index = i;
        workers[i].start = &start;
    }
    test_threads_run(THREADS, worker_run, workers, sizeof(workers[0]));
    for (i = 0; i < THREADS; i++) {
        CHECK(workers[i].signed_ok == SIGNS_PER_THREAD);
        CHECK(workers[i].verified == SIGNS_PER_THREAD);
    }
    pthread_barrier_destroy(&start);
}

/* ---- fork ---------------------------------------------------------------- */

static int write_sig(int fd, const unsigned char *sig, size_t len)
{
    uint32_t len32 = (uint32_t)len;

    return write(fd, &len32, sizeof(len32)) == sizeof(len32) &&
           write(fd, sig, len) == (ssize_t)len;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

/* The length-prefixed signature the child wrote, or 0. */
static size_t read_sig(int fd, unsigned char *sig)
{
    uint32_t len32 = 0;

    if (!read_full(fd, (unsigned char *)&len32, sizeof(len32)) ||
        len32 == 0 || len32 > SIG_MAX || !read_full(fd, sig, len32))
        return 0;
    return len32;
}

/* In the child: signs with the parent's EVP_PKEY, then with a key loaded
 * after the fork, which makes the provider open its store again. */
static int child_run(const struct key_case *c, EVP_PKEY *key, int fd)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    EVP_PKEY *fresh;
    int ok;

    if (!sign_once(key, c->md, message, sizeof(message), sig, &siglen) ||
        !write_sig(fd, sig, siglen))
        return 0;
    if (!(fresh = load_key(c->name)))
        return 0;
    ok = is_ours(fresh) &&
         sign_once(fresh, c->md, message, sizeof(message), sig, &siglen) &&
         write_sig(fd, sig, siglen);
    EVP_PKEY_free(fresh);
    return ok;
}

static void test_fork(const struct key_case *c, EVP_PKEY *key, EVP_PKEY *pub)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    int fds[2], status = -1, i;
    EVP_PKEY *again;
    pid_t pid;

    CHECK(pipe(fds) == 0);
    (void)fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid < 0)
        return;
    if (pid == 0) {
        close(fds[0]);
        i = child_run(c, key, fds[1]);
        close(fds[1]);
        /* Freed like a program that ends: the provider closes the store
         * the child opened, and a memory checker finds nothing held. */
        EVP_PKEY_free(key);
        EVP_PKEY_free(pub);
        unload_providers();
        _exit(i ? 0 : 1);
    }
    close(fds[1]);
    /* The parent's EVP_PKEY and the child's freshly loaded one. */
    for (i = 0; i < 2; i++) {
        siglen = read_sig(fds[0], sig);
        CHECK(siglen > 0);
        CHECK(siglen > 0 &&
              verify_once(pub, c->md, message, sizeof(message), sig, siglen));
    }
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The child left the parent's store alone: it still loads keys. */
    again = load_key(c->name);
    CHECK(again != NULL && is_ours(again));
    CHECK(again && sign_once(again, c->md, message, sizeof(message), sig,
                             &siglen) &&
          verify_once(pub, c->md, message, sizeof(message), sig, siglen));
    EVP_PKEY_free(again);
}

/* ---- no private component comes out -------------------------------------- */

static int has_private_param(const OSSL_PARAM *params)
{
    return OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) ||
           OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_FACTOR1) ||
           OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY);
}

static void test_no_private(const struct key_case *c, EVP_PKEY *key)
{
    unsigned char buf[256], *der = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *bn = NULL;
    BIO *bio;
    size_t len = 0;
    char *pem = NULL;
    long pem_len;

    /* The private component as a parameter. */
    if (strcmp(c->type, "RSA") == 0) {
        CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &bn) != 1);
        CHECK(bn == NULL);
        CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1, &bn) !=
              1);
        CHECK(bn == NULL);
        /* ...while the public ones answer. */
        CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &bn) == 1 &&
              BN_num_bits(bn) == c->bits);
    } else if (strcmp(c->type, "EC") == 0) {
        CHECK(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1);
        CHECK(bn == NULL);
    } else {
        CHECK(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PRIV_KEY,
                                              buf, sizeof(buf), &len) != 1);
    }
    BN_free(bn);
    ERR_clear_error();

    /* Export: the key pair is refused, the public key has no private
     * component. */
    CHECK(EVP_PKEY_todata(key, EVP_PKEY_KEYPAIR, &params) != 1);
    CHECK(params == NULL || !has_private_param(params));
    OSSL_PARAM_free(params);
    params = NULL;
    CHECK(EVP_PKEY_todata(key, EVP_PKEY_PUBLIC_KEY, &params) == 1);
    CHECK(params != NULL && !has_private_param(params));
    OSSL_PARAM_free(params);
    ERR_clear_error();

    /* Encoders: DER and PEM private keys are not written. */
    CHECK(i2d_PrivateKey(key, &der) <= 0);
    OPENSSL_free(der);
    bio = BIO_new(BIO_s_mem());
    CHECK(bio != NULL);
    if (bio) {
        CHECK(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) !=
              1);
        pem_len = BIO_get_mem_data(bio, &pem);
        CHECK(pem_len == 0 ||
              !memmem(pem, (size_t)pem_len, "PRIVATE KEY", 11));
        BIO_free(bio);
    }
    ERR_clear_error();
}

/* ---- one key type -------------------------------------------------------- */

static void test_case(const struct key_case *c)
{
    unsigned char sig[SIG_MAX] = {0}; /* read below even if signing failed */
    size_t siglen = 0;
    EVP_PKEY *key, *pub = NULL, *dup = NULL;

    key = load_key(c->name);
    CHECK(key != NULL);
    if (!key) {
        fprintf(stderr, "%s: does not load\n", c->name);
        ERR_print_errors_fp(stderr);
        return;
    }
    CHECK(is_ours(key));
    CHECK(EVP_PKEY_is_a(key, c->type));
    CHECK((pub = public_copy(key)) != NULL);
    if (!pub)
        goto out;
    CHECK(!is_ours(pub));

    /* Sizes, from our key management, as the default provider answers. */
    CHECK(EVP_PKEY_get_bits(key) == c->bits);
    CHECK(EVP_PKEY_get_size(key) == c->size);
    CHECK(EVP_PKEY_get_security_bits(key) == c->security_bits);
    CHECK(EVP_PKEY_get_bits(key) == EVP_PKEY_get_bits(pub));
    CHECK(EVP_PKEY_get_size(key) == EVP_PKEY_get_size(pub));
    CHECK(EVP_PKEY_get_security_bits(key) ==
          EVP_PKEY_get_security_bits(pub));
    CHECK(EVP_PKEY_eq(key, pub) == 1);

    /* One signature, and a damaged one that does not verify. */
    CHECK(sign_once(key, c->md, message, sizeof(message), sig, &siglen));
    CHECK(siglen > 0 && siglen <= (size_t)c->size);
    CHECK(verify_once(pub, c->md, message, sizeof(message), sig, siglen));
    sig[siglen / 2] ^= 0x01;
    CHECK(!verify_once(pub, c->md, message, sizeof(message), sig, siglen));

    test_threads(key, pub, c->md, strcmp(c->type, "RSA") == 0);
    test_fork(c, key, pub);

    /* EVP_PKEY_dup keeps the reference: the copy signs, and is equal. */
    dup = EVP_PKEY_dup(key);
    CHECK(dup != NULL);
    if (dup) {
        CHECK(is_ours(dup));
        CHECK(EVP_PKEY_eq(dup, pub) == 1);
        CHECK(EVP_PKEY_eq(dup, key) == 1);
        CHECK(sign_once(dup, c->md, message, sizeof(message), sig, &siglen) &&
              verify_once(pub, c->md, message, sizeof(message), sig,
                          siglen));
        test_no_private(c, dup);
    }

    test_no_private(c, key);
    /* The key still signs after all the refusals. */
    CHECK(sign_once(key, c->md, message, sizeof(message), sig, &siglen) &&
          verify_once(pub, c->md, message, sizeof(message), sig, siglen));
out:
    ERR_print_errors_fp(stderr);
    EVP_PKEY_free(dup);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(key);
}

/* ---- setup --------------------------------------------------------------- */

static int make_store(void)
{
    sr_config cfg;
    sr_ref_spec spec;
    sr_store *st = NULL;
    char err[512] = "";
    size_t i;
    int ok = 1;

    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "test_provider_threads";
    CHECK_RC(sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)),
             SR_OK);
    if (!st) {
        fprintf(stderr, "init: %s\n", err);
        return 0;
    }
    for (i = 0; i < CASES; i++) {
        memset(&spec, 0, sizeof(spec));
        spec.name = cases[i].name;
        spec.kind = SR_KIND_CERTIFICATE;
        spec.generate = cases[i].generate;
        if (sr_ref_create(st, &spec) != SR_OK) {
            fprintf(stderr, "create %s: %s\n", spec.name,
                    sr_store_errmsg(st));
            ok = 0;
        }
    }
    CHECK(ok);
    sr_store_free(st);
    return ok;
}

static int load_providers(void)
{
    if (!(libctx = OSSL_LIB_CTX_new()) || !(pubctx = OSSL_LIB_CTX_new()))
        return 0;
    if (OSSL_PROVIDER_set_default_search_path(libctx,
                                              SECRETREF_MODULE_DIR) != 1)
        return 0;
    ours = OSSL_PROVIDER_load(libctx, "secretref");
    deflt = OSSL_PROVIDER_load(libctx, "default");
    pub_deflt = OSSL_PROVIDER_load(pubctx, "default");
    return ours && deflt && pub_deflt;
}

static void unload_providers(void)
{
    OSSL_PROVIDER_unload(ours);
    OSSL_PROVIDER_unload(deflt);
    OSSL_PROVIDER_unload(pub_deflt);
    OSSL_LIB_CTX_free(libctx);
    OSSL_LIB_CTX_free(pubctx);
    ours = deflt = pub_deflt = NULL;
    libctx = pubctx = NULL;
}

int main(void)
{
    size_t i;

    if (!test_dir_make(tmpdir, sizeof(tmpdir), "test_provider_threads"))
        return 1;
    /* The provider finds the store through these two variables alone. */
    snprintf(store_path, sizeof(store_path), "%s/store/store.db", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/keys/master.key", tmpdir);
    setenv("SECRETREF_STORE", store_path, 1);
    setenv("SECRETREF_KEY_FILE", key_path, 1);

    if (make_store()) {
        CHECK(load_providers());
        if (ours && deflt && pub_deflt) {
            for (i = 0; i < CASES; i++)
                test_case(&cases[i]);
            /* A missing reference is an error, not a crash. */
            CHECK(load_key("prov-no-such-key") == NULL);
            ERR_clear_error();
        } else {
            ERR_print_errors_fp(stderr);
        }
    }
    unload_providers();

    test_dir_done(tmpdir, check_failures);
    return check_done("test_provider_threads");
}
