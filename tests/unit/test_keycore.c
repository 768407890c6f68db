/* SPDX-License-Identifier: Apache-2.0 */
/* The key core through the public API, on a real store in a temporary
 * folder: keys generated in the store for every type, opened, and used to
 * sign, decrypt and derive. Every result is checked by OpenSSL's default
 * provider using only the public key the core hands out (SubjectPublicKey-
 * Info DER): signatures verify, ciphertexts made with the public key
 * decrypt, ECDH agrees with the peer's side. Also: many threads on one key,
 * a forked child, reference counts, and the refusals (wrong kind, missing,
 * another environment type, no encryption key, not set).
 *
 * There is no API that returns private key bytes (secretref.h), so there is
 * nothing to test for that. */
#include "check.h"
#include "secretref.h"
#include "testdir.h"
#include "threads.h"

#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[PATH_MAX], store_path[PATH_MAX + 32],
    key_path[PATH_MAX + 32];

struct key_case {
    const char *generate;
    const char *name;
    sr_key_type type;
    int bits;
    const char *curve;
    const char *digest; /* for RSA and ECDSA */
};

static const struct key_case cases[] = {
    {"rsa-2048", "k-rsa-2048", SR_KEY_RSA, 2048, NULL, "SHA256"},
    {"rsa-3072", "k-rsa-3072", SR_KEY_RSA, 3072, NULL, "SHA384"},
    {"ec-p256", "k-ec-p256", SR_KEY_EC, 256, "P-256", "SHA256"},
    {"ec-p384", "k-ec-p384", SR_KEY_EC, 384, "P-384", "SHA384"},
    {"ec-p521", "k-ec-p521", SR_KEY_EC, 521, "P-521", "SHA512"},
    {"ed25519", "k-ed25519", SR_KEY_ED25519, 256, NULL, NULL},
};
#define CASES (sizeof(cases) / sizeof(cases[0]))

static const unsigned char message[] =
    "the quick brown fox signs over the lazy dog";

/* ---- helpers on the verifying side (default provider only) ------------ */

/* The public key as the core hands it out, read by the default provider. */
static EVP_PKEY *public_of(const sr_key *key)
{
    size_t len = 0;
    const unsigned char *der = sr_key_public_der(key, &len), *p = der;
    EVP_PKEY *pub = NULL;

    if (der && len)
        pub = d2i_PUBKEY(NULL, &p, (long)len);
    if (!pub || p != der + len) {
        fprintf(stderr, "the public key DER does not decode\n");
        EVP_PKEY_free(pub);
        return NULL;
    }
    return pub;
}

static int digest_of(const char *md, const unsigned char *data, size_t len,
                     unsigned char *out, unsigned int *outlen)
{
    return EVP_Digest(data, len, out, outlen, EVP_get_digestbyname(md), NULL) ==
           1;
}

/* Verifies sig over message: a whole-message verification with md (NULL
 * for Ed25519), and for RSA a padding and a PSS salt length. */
static int verify_message(EVP_PKEY *pub, const char *md, int padding,
                          int saltlen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    if (!ctx)
        return 0;
    if (EVP_DigestVerifyInit(ctx, &pctx, md ? EVP_get_digestbyname(md) : NULL,
                             NULL, pub) != 1)
        goto out;
    if (padding && EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1)
        goto out;
    if (padding == RSA_PKCS1_PSS_PADDING &&
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) != 1)
        goto out;
    ok = EVP_DigestVerify(ctx, sig, siglen, message, sizeof(message)) == 1;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* The DigestInfo prefix of SHA-256 (RFC 8017, 9.2 note 1). */
static const unsigned char sha256_prefix[] = {
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

/* ---- the store ---------------------------------------------------------- */

static void config(sr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->store_path = store_path;
    cfg->key_file = key_path;
    cfg->program = "test_keycore";
}

static sr_store *open_store(void)
{
    sr_config cfg;
    sr_store *st = NULL;
    char err[512] = "";

    config(&cfg);
    CHECK_RC(sr_store_open(&cfg, &st, err, sizeof(err)), SR_OK);
    if (!st)
        fprintf(stderr, "open: %s\n", err);
    return st;
}

static sr_rc create_generated(sr_store *st, const char *name,
                              const char *generate, const char *environment)
{
    sr_ref_spec spec;
    sr_rc rc;

    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.kind = SR_KIND_CERTIFICATE;
    spec.generate = generate;
    spec.environment = environment;
    rc = sr_ref_create(st, &spec);
    if (rc != SR_OK)
        fprintf(stderr, "create %s: %s\n", name, sr_store_errmsg(st));
    return rc;
}

/* ---- per key type -------------------------------------------------------- */

static void test_rsa_sign(sr_key *key, EVP_PKEY *pub, const char *md)
{
    unsigned char dgst[EVP_MAX_MD_SIZE], sig[1024], sig2[1024], raw[512];
    unsigned int dlen = 0;
    size_t siglen, siglen2, max = 0;
    sr_sign_params params;

    CHECK(digest_of(md, message, sizeof(message), dgst, &dlen));
    CHECK_RC(sr_key_sign(key, &(sr_sign_params){SR_PAD_PKCS1, md, NULL, 0},
                         dgst, dlen, NULL, &max),
             SR_OK);
    CHECK(max == (size_t)sr_key_bits(key) / 8);

    /* PKCS#1 v1.5 over a digest. */
    memset(&params, 0, sizeof(params));
    params.padding = SR_PAD_PKCS1;
    params.digest = md;
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_OK);
    CHECK(siglen == max);
    CHECK(verify_message(pub, md, RSA_PKCS1_PADDING, 0, sig, siglen));
    /* ...and a changed message does not verify. */
    sig[siglen / 2] ^= 1;
    CHECK(!verify_message(pub, md, RSA_PKCS1_PADDING, 0, sig, siglen));
    sig[siglen / 2] ^= 1;

    /* RSA-PSS, salt the digest's length. */
    params.padding = SR_PAD_PSS;
    params.salt_len = -1;
    siglen2 = sizeof(sig2);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig2, &siglen2), SR_OK);
    CHECK(verify_message(pub, md, RSA_PKCS1_PSS_PADDING, (int)dlen, sig2,
                         siglen2));
    /* PSS with the maximum salt, verified with any salt length. */
    params.salt_len = -2;
    siglen2 = sizeof(sig2);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig2, &siglen2), SR_OK);
    CHECK(verify_message(pub, md, RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_AUTO,
                         sig2, siglen2));
    CHECK(!verify_message(pub, md, RSA_PKCS1_PSS_PADDING, (int)dlen, sig2,
                          siglen2));

    /* Raw PKCS#1: a DigestInfo made by the caller, no digest given. The
     * signature is deterministic, so it equals the one above. */
    if (strcmp(md, "SHA256") == 0) {
        unsigned char d256[32];
        unsigned int l256 = 0;
        CHECK(digest_of("SHA256", message, sizeof(message), d256, &l256));
        memcpy(raw, sha256_prefix, sizeof(sha256_prefix));
        memcpy(raw + sizeof(sha256_prefix), d256, 32);
        memset(&params, 0, sizeof(params));
        params.padding = SR_PAD_PKCS1;
        siglen2 = sizeof(sig2);
        CHECK_RC(sr_key_sign(key, &params, raw, sizeof(sha256_prefix) + 32,
                             sig2, &siglen2),
                 SR_OK);
        CHECK(siglen2 == siglen && memcmp(sig, sig2, siglen) == 0);
        CHECK(
            verify_message(pub, "SHA256", RSA_PKCS1_PADDING, 0, sig2, siglen2));
    }

    /* Refusals: OAEP or no padding for signing; PSS without a digest; a
     * buffer that is too small is refused, not overrun. */
    params.digest = md;
    params.padding = SR_PAD_OAEP;
    siglen2 = sizeof(sig2);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig2, &siglen2),
             SR_ERR_USAGE);
    CHECK(sr_key_errmsg(key)[0] != '\0');
    params.padding = SR_PAD_NONE;
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig2, &siglen2),
             SR_ERR_USAGE);
    params.padding = SR_PAD_PSS;
    params.digest = NULL;
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig2, &siglen2),
             SR_ERR_USAGE);
    params.padding = SR_PAD_PKCS1;
    params.digest = md;
    {
        unsigned char *small = malloc(16);
        size_t smallen = 16;
        CHECK(sr_key_sign(key, &params, dgst, dlen, small, &smallen) != SR_OK);
        free(small);
    }
    /* A digest of the wrong length for md is refused. */
    siglen2 = sizeof(sig2);
    CHECK(sr_key_sign(key, &params, dgst, dlen - 1, sig2, &siglen2) != SR_OK);
}

static void test_rsa_decrypt(sr_key *key, EVP_PKEY *pub)
{
    static const unsigned char secret[] = "a session key, 32 bytes long!!!";
    static const unsigned char label[] = "secretref label";
    unsigned char ct[1024] = {0}, pt[1024];
    size_t ctlen, ptlen, max = 0;
    sr_decrypt_params params;
    EVP_PKEY_CTX *ctx;
    int pad;

    CHECK_RC(sr_key_decrypt(
                 key, &(sr_decrypt_params){SR_PAD_PKCS1, NULL, NULL, NULL, 0},
                 ct, 0, NULL, &max),
             SR_OK);
    CHECK(max == (size_t)sr_key_bits(key) / 8);
    for (pad = 0; pad < 3; pad++) {
        /* 0: PKCS#1 v1.5; 1: OAEP SHA-256 with a label; 2: OAEP SHA-1. */
        ctlen = sizeof(ct);
        ctx = EVP_PKEY_CTX_new(pub, NULL);
        CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1);
        CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, pad ? RSA_PKCS1_OAEP_PADDING
                                                    : RSA_PKCS1_PADDING) == 1);
        if (pad == 1) {
            unsigned char *l = OPENSSL_memdup(label, sizeof(label));
            CHECK(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1);
            CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1);
            CHECK(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l,
                                                   (int)sizeof(label)) == 1);
        }
        CHECK(EVP_PKEY_encrypt(ctx, ct, &ctlen, secret, sizeof(secret)) == 1);
        EVP_PKEY_CTX_free(ctx);

        memset(&params, 0, sizeof(params));
        params.padding = pad ? SR_PAD_OAEP : SR_PAD_PKCS1;
        if (pad == 1) {
            params.oaep_digest = "SHA256";
            params.label = label;
            params.label_len = sizeof(label);
        }
        ptlen = sizeof(pt);
        memset(pt, 0, sizeof(pt));
        CHECK_RC(sr_key_decrypt(key, &params, ct, ctlen, pt, &ptlen), SR_OK);
        CHECK(ptlen == sizeof(secret) && memcmp(pt, secret, ptlen) == 0);
        if (pad == 1) {
            /* The wrong label, or the wrong digest, does not decrypt. */
            params.label_len--;
            ptlen = sizeof(pt);
            CHECK(sr_key_decrypt(key, &params, ct, ctlen, pt, &ptlen) != SR_OK);
            params.label_len++;
            params.oaep_digest = "SHA1";
            ptlen = sizeof(pt);
            CHECK(sr_key_decrypt(key, &params, ct, ctlen, pt, &ptlen) != SR_OK);
        }
        /* A damaged ciphertext fails (OAEP) or, for PKCS#1 v1.5 with
         * implicit rejection, gives something else. */
        ct[ctlen - 1] ^= 1;
        ptlen = sizeof(pt);
        if (sr_key_decrypt(key, &params, ct, ctlen, pt, &ptlen) == SR_OK)
            CHECK(pad == 0 &&
                  (ptlen != sizeof(secret) || memcmp(pt, secret, ptlen) != 0));
    }
}

static void test_ecdsa(sr_key *key, EVP_PKEY *pub, const char *md)
{
    unsigned char dgst[EVP_MAX_MD_SIZE], sig[256];
    unsigned int dlen = 0;
    size_t siglen, max = 0;
    sr_sign_params params;
    EVP_PKEY_CTX *ctx;

    CHECK(digest_of(md, message, sizeof(message), dgst, &dlen));
    memset(&params, 0, sizeof(params));
    params.padding = SR_PAD_NONE;
    params.digest = md;
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, NULL, &max), SR_OK);
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_OK);
    CHECK(siglen <= max);
    CHECK(verify_message(pub, md, 0, 0, sig, siglen));
    /* The same with the digest verified directly. */
    ctx = EVP_PKEY_CTX_new(pub, NULL);
    CHECK(ctx && EVP_PKEY_verify_init(ctx) == 1 &&
          EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1);
    dgst[0] ^= 1;
    CHECK(EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) != 1);
    dgst[0] ^= 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    /* Without a digest name: the input is taken as the digest. */
    params.digest = NULL;
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_OK);
    CHECK(verify_message(pub, md, 0, 0, sig, siglen));
    /* EC keys take no RSA padding, and do not decrypt. */
    params.padding = SR_PAD_PKCS1;
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_ERR_USAGE);
    CHECK_RC(sr_key_decrypt(
                 key, &(sr_decrypt_params){SR_PAD_PKCS1, NULL, NULL, NULL, 0},
                 sig, siglen, dgst, &siglen),
             SR_ERR_UNSUPPORTED);
}

static void test_ecdh(sr_key *key, EVP_PKEY *pub, const char *curve)
{
    unsigned char ours[256], theirs[256], *peer_der = NULL;
    size_t ourlen = sizeof(ours), theirlen = sizeof(theirs), need = 0;
    EVP_PKEY *peer, *other;
    EVP_PKEY_CTX *ctx;
    int peer_len;

    peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    CHECK(peer != NULL);
    if (!peer)
        return;
    peer_len = i2d_PUBKEY(peer, &peer_der);
    CHECK(peer_len > 0);
    CHECK_RC(sr_key_derive(key, peer_der, (size_t)peer_len, NULL, &need),
             SR_OK);
    CHECK_RC(sr_key_derive(key, peer_der, (size_t)peer_len, ours, &ourlen),
             SR_OK);
    CHECK(ourlen == need);
    /* The peer's side, with our public key only. */
    ctx = EVP_PKEY_CTX_new(peer, NULL);
    CHECK(ctx && EVP_PKEY_derive_init(ctx) == 1 &&
          EVP_PKEY_derive_set_peer(ctx, pub) == 1 &&
          EVP_PKEY_derive(ctx, theirs, &theirlen) == 1);
    EVP_PKEY_CTX_free(ctx);
    CHECK(ourlen == theirlen && memcmp(ours, theirs, ourlen) == 0);
    /* A peer on another curve, or not a key at all, is refused. */
    other = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
                              strcmp(curve, "P-256") ? "P-256" : "P-384");
    if (other) {
        unsigned char *other_der = NULL;
        int other_len = i2d_PUBKEY(other, &other_der);
        ourlen = sizeof(ours);
        CHECK(sr_key_derive(key, other_der, (size_t)other_len, ours, &ourlen) !=
              SR_OK);
        OPENSSL_free(other_der);
        EVP_PKEY_free(other);
    }
    ourlen = sizeof(ours);
    CHECK_RC(
        sr_key_derive(key, (const unsigned char *)"junk", 4, ours, &ourlen),
        SR_ERR_FORMAT);
    OPENSSL_free(peer_der);
    EVP_PKEY_free(peer);
    ERR_clear_error();
}

static void test_ed25519(sr_key *key, EVP_PKEY *pub)
{
    unsigned char sig[128], sig2[128];
    size_t siglen = sizeof(sig), siglen2 = sizeof(sig2), max = 0;
    sr_sign_params params;

    memset(&params, 0, sizeof(params));
    CHECK_RC(sr_key_sign(key, &params, message, sizeof(message), NULL, &max),
             SR_OK);
    CHECK(max == 64);
    CHECK_RC(sr_key_sign(key, &params, message, sizeof(message), sig, &siglen),
             SR_OK);
    CHECK(siglen == 64);
    CHECK(verify_message(pub, NULL, 0, 0, sig, siglen));
    /* EdDSA is deterministic. */
    CHECK_RC(
        sr_key_sign(key, &params, message, sizeof(message), sig2, &siglen2),
        SR_OK);
    CHECK(siglen2 == siglen && memcmp(sig, sig2, siglen) == 0);
    sig[0] ^= 1;
    CHECK(!verify_message(pub, NULL, 0, 0, sig, siglen));
    /* A buffer too small is refused, not overrun. */
    {
        unsigned char *small = malloc(32);
        size_t smallen = 32;
        CHECK(sr_key_sign(key, &params, message, sizeof(message), small,
                          &smallen) != SR_OK);
        free(small);
    }
    CHECK_RC(sr_key_decrypt(
                 key, &(sr_decrypt_params){SR_PAD_PKCS1, NULL, NULL, NULL, 0},
                 sig, siglen, sig2, &siglen2),
             SR_ERR_UNSUPPORTED);
}

static void test_types(sr_store *st)
{
    size_t i, len, info_len;
    sr_ref_info info;
    sr_key *key;
    EVP_PKEY *pub;

    for (i = 0; i < CASES; i++) {
        const struct key_case *c = &cases[i];
        const unsigned char *der;
        unsigned char peer[8];
        size_t plen = sizeof(peer);

        key = NULL;
        CHECK_RC(sr_key_open(st, c->name, &key), SR_OK);
        if (!key) {
            fprintf(stderr, "open %s: %s\n", c->name, sr_store_errmsg(st));
            continue;
        }
        CHECK(sr_key_get_type(key) == c->type);
        if (sr_key_bits(key) != c->bits)
            fprintf(stderr, "%s: %d bits, want %d\n", c->name, sr_key_bits(key),
                    c->bits);
        CHECK(sr_key_bits(key) == c->bits);
        if (c->curve)
            CHECK_STR(sr_key_curve(key), c->curve);
        else
            CHECK(sr_key_curve(key) == NULL);
        CHECK_STR(sr_key_name(key), c->name);
        CHECK(sr_key_version(key) == 1);
        CHECK(sr_key_cert_chain_pem(key) == NULL);
        /* The public key equals the reference's, read without the key. */
        der = sr_key_public_der(key, &len);
        memset(&info, 0, sizeof(info));
        CHECK_RC(sr_ref_lookup(st, c->name, &info), SR_OK);
        info_len = info.public_key_len;
        CHECK(der && len == info_len &&
              memcmp(der, info.public_key_der, len) == 0);
        sr_ref_info_clear(&info);
        if (!(pub = public_of(key))) {
            CHECK(0);
            sr_key_free(key);
            continue;
        }
        switch (c->type) {
        case SR_KEY_RSA:
            test_rsa_sign(key, pub, c->digest);
            test_rsa_decrypt(key, pub);
            /* RSA keys do not derive. */
            CHECK_RC(sr_key_derive(key, der, len, peer, &plen),
                     SR_ERR_UNSUPPORTED);
            break;
        case SR_KEY_EC:
            test_ecdsa(key, pub, c->digest);
            test_ecdh(key, pub, c->curve);
            break;
        case SR_KEY_ED25519:
            test_ed25519(key, pub);
            CHECK_RC(sr_key_derive(key, der, len, peer, &plen),
                     SR_ERR_UNSUPPORTED);
            break;
        }
        EVP_PKEY_free(pub);
        sr_key_free(key);
    }
}

/* ---- threads ------------------------------------------------------------ */

#define THREADS 8

struct worker {
    sr_key *key;
    const unsigned char *der;
    size_t der_len;
    int count;
    int signed_ok, verified;
    pthread_barrier_t *start;
};

/* Verifies one signature of a worker: over the digest for RSA-PSS and
 * ECDSA, over the digest's bytes as the message for Ed25519. */
static int worker_verify(EVP_PKEY *pub, sr_key_type type,
                         const unsigned char *dgst, size_t dlen,
                         const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    EVP_MD_CTX *md;
    int ok = 0;

    if (type == SR_KEY_ED25519) {
        if (!(md = EVP_MD_CTX_new()))
            return 0;
        ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) == 1 &&
             EVP_DigestVerify(md, sig, siglen, dgst, dlen) == 1;
        EVP_MD_CTX_free(md);
        return ok;
    }
    if (!(ctx = EVP_PKEY_CTX_new(pub, NULL)))
        return 0;
    ok = EVP_PKEY_verify_init(ctx) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
         (type != SR_KEY_RSA ||
          (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) == 1)) &&
         EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    const unsigned char *p = w->der;
    sr_key_type type = sr_key_get_type(w->key);
    unsigned char dgst[32], sig[512];
    unsigned int dlen = 0;
    sr_sign_params params;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)w->der_len);
    size_t siglen;
    int i;

    memset(&params, 0, sizeof(params));
    params.padding = type == SR_KEY_RSA ? SR_PAD_PSS : SR_PAD_NONE;
    params.digest = type == SR_KEY_ED25519 ? NULL : "SHA256";
    params.salt_len = -1;
    pthread_barrier_wait(w->start);
    for (i = 0; i < w->count && pub; i++) {
        unsigned char msg[64];
        int n = snprintf((char *)msg, sizeof(msg), "message %d from %p", i,
                         (void *)w);
        EVP_Digest(msg, (size_t)n, dgst, &dlen, EVP_sha256(), NULL);
        siglen = sizeof(sig);
        if (sr_key_sign(w->key, &params, dgst, dlen, sig, &siglen) != SR_OK)
            continue;
        w->signed_ok++;
        if (worker_verify(pub, type, dgst, dlen, sig, siglen))
            w->verified++;
    }
    EVP_PKEY_free(pub);
    return NULL;
}

static void test_threads(sr_store *st, const char *name, int count)
{
    struct worker workers[THREADS];
    pthread_barrier_t start;
    sr_key *key = NULL;
    int i;

    CHECK_RC(sr_key_open(st, name, &key), SR_OK);
    if (!key)
        return;
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof(workers[i]));
        workers[i].key = key;
        workers[i].der = sr_key_public_der(key, &workers[i].der_len);
        workers[i].count = count;
        workers[i].start = &start;
    }
    test_threads_run(THREADS, worker_run, workers, sizeof(workers[0]));
    for (i = 0; i < THREADS; i++) {
        CHECK(workers[i].signed_ok == count);
        CHECK(workers[i].verified == count);
    }
    pthread_barrier_destroy(&start);
    sr_key_free(key);
}

/* ---- fork --------------------------------------------------------------- */

static int read_full(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* A key opened in the parent signs in a forked child; the parent verifies.
 * Parent and child sign the same digest with ECDSA after the fork: the
 * signatures must differ, or the child reused the parent's nonce. */
static void test_fork(sr_store *st)
{
    unsigned char dgst[32], sig[256], child_sig[256];
    unsigned int dlen = 0;
    size_t siglen, child_len = 0;
    sr_sign_params params;
    sr_key *key = NULL;
    EVP_PKEY *pub;
    EVP_PKEY_CTX *ctx;
    int fds[2], status = 0;
    uint32_t len32 = 0;
    pid_t pid;

    CHECK_RC(sr_key_open(st, "k-ec-p256", &key), SR_OK);
    if (!key)
        return;
    pub = public_of(key);
    EVP_Digest(message, sizeof(message), dgst, &dlen, EVP_sha256(), NULL);
    memset(&params, 0, sizeof(params));
    params.digest = "SHA256";
    /* Use the key once before the fork, so its state is warm. */
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_OK);
    CHECK(pipe(fds) == 0);
    (void)fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        siglen = sizeof(sig);
        if (sr_key_sign(key, &params, dgst, dlen, sig, &siglen) != SR_OK)
            _exit(2);
        len32 = (uint32_t)siglen;
        if (write(fds[1], &len32, sizeof(len32)) != sizeof(len32) ||
            write(fds[1], sig, siglen) != (ssize_t)siglen)
            _exit(3);
        _exit(0);
    }
    close(fds[1]);
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(key, &params, dgst, dlen, sig, &siglen), SR_OK);
    CHECK(read_full(fds[0], (unsigned char *)&len32, sizeof(len32)) == 0);
    child_len = len32;
    CHECK(child_len > 0 && child_len <= sizeof(child_sig) &&
          read_full(fds[0], child_sig, child_len) == 0);
    close(fds[0]);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
    if (pub && child_len > 0 && child_len <= sizeof(child_sig)) {
        ctx = EVP_PKEY_CTX_new(pub, NULL);
        CHECK(ctx && EVP_PKEY_verify_init(ctx) == 1 &&
              EVP_PKEY_verify(ctx, child_sig, child_len, dgst, dlen) == 1);
        EVP_PKEY_CTX_free(ctx);
        CHECK(child_len != siglen || memcmp(child_sig, sig, siglen) != 0);
    }
    EVP_PKEY_free(pub);
    sr_key_free(key);
}

/* ---- handles and refusals --------------------------------------------- */

static void test_refcount(void)
{
    unsigned char dgst[32] = {1}, sig[128];
    size_t siglen;
    sr_sign_params params;
    sr_store *st = open_store();
    sr_key *key = NULL, *again;
    EVP_PKEY *pub;

    if (!st)
        return;
    CHECK_RC(sr_key_open(st, "k-ed25519", &key), SR_OK);
    /* The handle needs no store: it outlives it. */
    sr_store_free(st);
    if (!key)
        return;
    memset(&params, 0, sizeof(params));
    again = sr_key_ref(key);
    CHECK(again == key);
    sr_key_ref(key);
    sr_key_free(key);
    sr_key_free(key);
    /* One reference is left: the key still works (ASan would see a use
     * after free otherwise). */
    siglen = sizeof(sig);
    CHECK_RC(sr_key_sign(again, &params, dgst, sizeof(dgst), sig, &siglen),
             SR_OK);
    pub = public_of(again);
    CHECK(pub != NULL);
    EVP_PKEY_free(pub);
    CHECK_STR(sr_key_name(again), "k-ed25519");
    sr_key_free(again);
}

static void test_refusals(sr_store *st)
{
    sr_ref_spec spec;
    sr_secret *secret = NULL;
    sr_key *key = (sr_key *)&key;
    sr_store *meta = NULL;
    sr_config cfg;
    char err[512] = "", *pem = NULL;

    /* A manual reference. */
    CHECK_RC(sr_secret_from("manual-7f3a9c", 13, &secret), SR_OK);
    memset(&spec, 0, sizeof(spec));
    spec.name = "manual-ref";
    spec.kind = SR_KIND_MANUAL;
    spec.secret = secret;
    CHECK_RC(sr_ref_create(st, &spec), SR_OK);
    sr_secret_free(secret);
    CHECK_RC(sr_key_open(st, "manual-ref", &key), SR_ERR_WRONG_KIND);
    CHECK(key == NULL);
    CHECK(strstr(sr_store_errmsg(st), "manual-ref") != NULL);
    /* A Key Vault reference. */
    memset(&spec, 0, sizeof(spec));
    spec.name = "vault-ref";
    spec.kind = SR_KIND_KEY_VAULT;
    spec.vault_client = "main-vault";
    spec.vault_secret = "orders";
    CHECK_RC(sr_ref_create(st, &spec), SR_OK);
    key = (sr_key *)&key;
    CHECK_RC(sr_key_open(st, "vault-ref", &key), SR_ERR_WRONG_KIND);
    CHECK(key == NULL);
    /* A missing name. */
    key = (sr_key *)&key;
    CHECK_RC(sr_key_open(st, "no-such-key", &key), SR_ERR_NOTFOUND);
    CHECK(key == NULL);
    /* A certificate reference whose key is not set. */
    memset(&spec, 0, sizeof(spec));
    spec.name = "unset-key";
    spec.kind = SR_KIND_CERTIFICATE;
    CHECK_RC(sr_ref_create(st, &spec), SR_OK);
    key = (sr_key *)&key;
    CHECK_RC(sr_key_open(st, "unset-key", &key), SR_ERR_NOT_SET);
    CHECK(key == NULL);

    /* Bound to another environment type. */
    CHECK_RC(create_generated(st, "prod-key", "ec-p256", "Production"), SR_OK);
    CHECK(sr_store_environment(st) == NULL);
    key = (sr_key *)&key;
    CHECK_RC(sr_key_open(st, "prod-key", &key), SR_ERR_ENVIRONMENT);
    CHECK(key == NULL);
    CHECK(strstr(sr_store_errmsg(st), "Production") != NULL);
    CHECK_RC(sr_store_set_environment(st, "Test"), SR_OK);
    CHECK_RC(sr_key_open(st, "prod-key", &key), SR_ERR_ENVIRONMENT);
    CHECK_RC(sr_store_set_environment(st, "production"), SR_OK);
    key = NULL;
    CHECK_RC(sr_key_open(st, "prod-key", &key), SR_OK);
    sr_key_free(key);
    /* Names without a type still resolve under an active type. */
    key = NULL;
    CHECK_RC(sr_key_open(st, "k-ec-p256", &key), SR_OK);
    sr_key_free(key);
    CHECK_RC(sr_store_set_environment(st, NULL), SR_OK);

    /* Without the encryption key: metadata and public keys, no keys. */
    config(&cfg);
    CHECK_RC(sr_store_open_metadata(&cfg, &meta, err, sizeof(err)), SR_OK);
    if (meta) {
        key = (sr_key *)&key;
        CHECK_RC(sr_key_open(meta, "k-ec-p256", &key), SR_ERR_WRONG_KEY);
        CHECK(key == NULL);
        CHECK_RC(sr_ref_pubkey(meta, "k-ec-p256", SR_PUBKEY_PEM, &pem), SR_OK);
        CHECK(pem && strstr(pem, "BEGIN PUBLIC KEY") != NULL);
        free(pem);
        pem = NULL;
        CHECK_RC(sr_ref_pubkey(meta, "k-ed25519", SR_PUBKEY_OPENSSH, &pem),
                 SR_OK);
        CHECK(pem && strncmp(pem, "ssh-ed25519 ", 12) == 0);
        free(pem);
        sr_store_free(meta);
    }

    /* A bad generate spec creates nothing. */
    CHECK_RC(create_generated(st, "bad-type", "rsa-1024", NULL), SR_ERR_USAGE);
    key = (sr_key *)&key;
    CHECK_RC(sr_key_open(st, "bad-type", &key), SR_ERR_NOTFOUND);
}

static void test_audit(sr_store *st)
{
    sr_audit_entry *entries = NULL;
    size_t count = 0, i;
    int opens = 0;

    CHECK_RC(sr_audit_list(st, "k-rsa-2048", &entries, &count), SR_OK);
    for (i = 0; i < count; i++)
        if (strcmp(entries[i].action, "open") == 0)
            opens++;
    CHECK(opens >= 1);
    sr_audit_list_free(entries, count);
}

int main(void)
{
    char err[512] = "";
    sr_config cfg;
    sr_store *st = NULL;
    size_t i;

    if (!test_dir_make(tmpdir, sizeof(tmpdir), "test_keycore"))
        return 1;
    snprintf(store_path, sizeof(store_path), "%s/store/store.db", tmpdir);
    snprintf(key_path, sizeof(key_path), "%s/keys/master.key", tmpdir);

    config(&cfg);
    CHECK_RC(sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)),
             SR_OK);
    if (!st) {
        fprintf(stderr, "init: %s\n", err);
        return check_done("test_keycore");
    }
    for (i = 0; i < CASES; i++)
        CHECK_RC(create_generated(st, cases[i].name, cases[i].generate, NULL),
                 SR_OK);
    sr_store_free(st);

    /* Everything else on a store opened anew, as a consumer would. */
    if ((st = open_store())) {
        test_types(st);
        test_threads(st, "k-ec-p256", 200);
        test_threads(st, "k-ed25519", 200);
        test_threads(st, "k-rsa-2048", 25);
        test_fork(st);
        test_refusals(st);
        test_audit(st);
        sr_store_free(st);
    }
    test_refcount();

    test_dir_done(tmpdir, check_failures);
    return check_done("test_keycore");
}
