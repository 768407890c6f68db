/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What signing through our PKCS#11 module costs next to SoftHSMv2 holding
 * the same key, and next to raw OpenSSL.
 *
 * For ECDSA P-256 and RSA-2048 a key is made with OpenSSL and written as
 * PKCS#8 PEM; the PEM is imported into a certificate reference of a new
 * store and, with softhsm2-util, into a new SoftHSMv2 token. Per signature
 * each token gets C_SignInit + C_Sign as OpenSSH calls them: CKM_ECDSA over
 * a SHA-256 digest, CKM_RSA_PKCS over a SHA-256 DigestInfo. Raw OpenSSL
 * does what the token does with the same input: EVP_PKEY_sign_init (with
 * PKCS#1 padding for RSA) + EVP_PKEY_sign. The three sides alternate in
 * rounds of equal CPU time, the first side rotating from round to round,
 * so drift in machine load hits all alike; the report gives each side's
 * median signs per CPU second and the ratios against the targets.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "secretref.h"
#include "samples.h"
#include "testdir.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef SECRETREF_MODULE_DIR
#define SECRETREF_MODULE_DIR "."
#endif
#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

#define DEFAULT_ROUNDS 10
#define DEFAULT_SECONDS 1.0
#define SIG_MAX 512
#define TARGET_SOFTHSM 1.5
#define TARGET_OPENSSL 0.9
#define PIN "1234"

enum { SIDE_OURS, SIDE_SOFTHSM, SIDE_OPENSSL, SIDES };
static const char *side_names[SIDES] = {"secretref", "SoftHSMv2", "OpenSSL"};

struct key_type {
    const char *label; /* as printed */
    const char *name;  /* reference name and SoftHSM CKA_LABEL */
    unsigned char id;  /* SoftHSM CKA_ID */
    CK_MECHANISM_TYPE mech;
    EVP_PKEY *pkey;        /* the key, as OpenSSL made it */
    EVP_PKEY_CTX *ctx;     /* raw OpenSSL's signing context */
    unsigned char tbs[64]; /* the digest, or the DigestInfo */
    size_t tbs_len;
    CK_OBJECT_HANDLE key[2]; /* in our token, in SoftHSM */
    struct samples rate[SIDES], vs_softhsm, vs_openssl;
};

/* The fields after mech are filled at run time. */
static struct key_type types[] = {
    {.label = "ECDSA P-256",
     .name = "bench-ec-p256",
     .id = 1,
     .mech = CKM_ECDSA},
    {.label = "RSA-2048",
     .name = "bench-rsa-2048",
     .id = 2,
     .mech = CKM_RSA_PKCS},
};
#define TYPES (sizeof(types) / sizeof(types[0]))

/* A loaded PKCS#11 module and the session it signs in. */
struct token {
    const char *path;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE session;
    int initialized;
};
static struct token tokens[2];

static char tmpdir[PATH_MAX], store_path[PATH_MAX], key_path[PATH_MAX],
    reserved[2 * PATH_MAX + 32];

/* Set by SIGINT/SIGTERM so a stopped run still removes its temp folder. */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--rounds N] [--seconds S] [--module PATH]\n"
            "          [--softhsm PATH]\n"
            "\n"
            "Signs with C_SignInit + C_Sign through the secretref PKCS#11\n"
            "module and through SoftHSMv2 holding the same key, and with raw\n"
            "OpenSSL (EVP_PKEY_sign_init + EVP_PKEY_sign) on the same input,\n"
            "for ECDSA P-256 (CKM_ECDSA over a SHA-256 digest) and RSA-2048\n"
            "(CKM_RSA_PKCS over a SHA-256 DigestInfo), in alternating rounds\n"
            "(default %d) of S seconds of CPU time per side and key type\n"
            "(default %.1f). Prints the median signatures per CPU second of\n"
            "each side and the ratios: secretref / SoftHSMv2 (target at\n"
            "least %.1f) and secretref / OpenSSL (target at least %.1f).\n"
            "PATH defaults: %s/secretref-pkcs11.so and\n"
            "%s (skipped when missing). The store\n"
            "and the SoftHSM token are made in a temp folder under $TMPDIR\n"
            "(or /tmp) and removed at the end; softhsm2-util must be on the\n"
            "PATH.\n",
            prog, DEFAULT_ROUNDS, DEFAULT_SECONDS, TARGET_SOFTHSM,
            TARGET_OPENSSL, SECRETREF_MODULE_DIR, SOFTHSM_MODULE);
}

/* ---- the temp folder ----------------------------------------------------- */

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void tmpdir_remove(void)
{
    if (tmpdir[0] && nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench: could not remove %s\n", tmpdir);
}

static int path_join(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", tmpdir, name);

    return n > 0 && (size_t)n < size;
}

/* ---- the keys, the store, the SoftHSM token ---------------------------- */

/* Writes key as PKCS#8 PEM to path (mode 0600) and hands back the bytes,
 * which the caller frees with OPENSSL_clear_free. */
static int pem_write(EVP_PKEY *key, const char *path, unsigned char **out,
                     size_t *outlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    int fd = -1, ok = 0;

    if (!bio ||
        PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        (len = BIO_get_mem_data(bio, &data)) <= 0)
        goto out;
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        write(fd, data, (size_t)len) != (ssize_t)len)
        goto out;
    if (!(*out = OPENSSL_memdup(data, (size_t)len)))
        goto out;
    *outlen = (size_t)len;
    ok = 1;
out:
    if (fd >= 0)
        close(fd);
    BIO_free(bio);
    return ok;
}

/* Runs a shell command quietly; 1 when it exits 0. */
static int run(const char *cmd)
{
    int status = system(cmd);

    if (status != 0)
        fprintf(stderr, "bench: failed (%d): %s\n", status, cmd);
    return status == 0;
}

/* A SoftHSM token "bench" of its own, in the temp folder. */
static int softhsm_token_make(void)
{
    char conf[PATH_MAX], tokens_dir[PATH_MAX], cmd[PATH_MAX + 256];
    FILE *f;

    if (!path_join(conf, sizeof(conf), "softhsm2.conf") ||
        !path_join(tokens_dir, sizeof(tokens_dir), "tokens") ||
        mkdir(tokens_dir, 0700) != 0 || !(f = fopen(conf, "w")))
        return 0;
    fprintf(f,
            "directories.tokendir = %s\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n",
            tokens_dir);
    if (fclose(f) != 0)
        return 0;
    setenv("SOFTHSM2_CONF", conf, 1);
    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --init-token --free --label bench --so-pin %s "
             "--pin %s >/dev/null",
             PIN, PIN);
    return run(cmd);
}

static int softhsm_import(const char *pem_path, const struct key_type *t)
{
    char cmd[PATH_MAX + 256];

    snprintf(cmd, sizeof(cmd),
             "softhsm2-util --import '%s' --token bench --label %s "
             "--id %02x --pin %s >/dev/null",
             pem_path, t->name, t->id, PIN);
    return run(cmd);
}

/* What the token is given: the digest (ECDSA) or a DigestInfo around it
 * (RSA PKCS#1 v1.5, as OpenSSH sends it). */
static int tbs_make(struct key_type *t)
{
    static const unsigned char sha256_prefix[] = {
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    static const char message[] = "signed by the pkcs11_sign benchmark";
    size_t off = t->mech == CKM_RSA_PKCS ? sizeof(sha256_prefix) : 0;
    size_t len = 0;

    memcpy(t->tbs, sha256_prefix, off);
    if (EVP_Q_digest(NULL, "SHA256", NULL, message, sizeof(message) - 1,
                     t->tbs + off, &len) != 1)
        return 0;
    t->tbs_len = off + len;
    return 1;
}

/* Makes each key, its PEM file, its reference and its SoftHSM object. */
static int keys_make(int with_softhsm)
{
    char pem_path[PATH_MAX], err[512] = "";
    unsigned char *pem = NULL;
    size_t pem_len = 0, i;
    sr_config cfg;
    sr_ref_spec spec;
    sr_store *st = NULL;
    int ok = 0;

    if (!path_join(store_path, sizeof(store_path), "store/store.db") ||
        !path_join(key_path, sizeof(key_path), "keys/master.key"))
        return 0;
    snprintf(reserved, sizeof(reserved), "store=%s key_file=%s", store_path,
             key_path);
    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "bench_pkcs11_sign";
    if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) !=
        SR_OK) {
        fprintf(stderr, "bench: store: %s\n", err);
        return 0;
    }
    if (with_softhsm && !softhsm_token_make())
        goto out;
    for (i = 0; i < TYPES; i++) {
        struct key_type *t = &types[i];
        t->pkey = t->mech == CKM_ECDSA
                      ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                      : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        if (!t->pkey || !path_join(pem_path, sizeof(pem_path), t->name) ||
            !pem_write(t->pkey, pem_path, &pem, &pem_len) || !tbs_make(t)) {
            fprintf(stderr, "bench: %s: making the key failed\n", t->label);
            goto out;
        }
        memset(&spec, 0, sizeof(spec));
        spec.name = t->name;
        spec.kind = SR_KIND_CERTIFICATE;
        spec.key_file_data = pem;
        spec.key_file_len = pem_len;
        if (sr_ref_create(st, &spec) != SR_OK) {
            fprintf(stderr, "bench: %s: %s\n", t->name, sr_store_errmsg(st));
            goto out;
        }
        OPENSSL_clear_free(pem, pem_len);
        pem = NULL;
        if (with_softhsm && !softhsm_import(pem_path, t))
            goto out;
        if (!(t->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, t->pkey, NULL)))
            goto out;
    }
    ok = 1;
out:
    OPENSSL_clear_free(pem, pem_len);
    sr_store_free(st);
    return ok;
}

/* ---- the tokens ------------------------------------------------------------
 */

static CK_RV token_open(struct token *t, const char *token_label,
                        const char *init_reserved, const char *pin)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slots[16];
    CK_TOKEN_INFO info;
    CK_ULONG n = 16, i;
    size_t len = strlen(token_label);
    CK_RV rv;

    if (!(t->dl = dlopen(t->path, RTLD_NOW | RTLD_LOCAL))) {
        fprintf(stderr, "bench: %s\n", dlerror());
        return CKR_GENERAL_ERROR;
    }
    *(void **)&get_list = dlsym(t->dl, "C_GetFunctionList");
    if (!get_list || get_list(&t->f) != CKR_OK)
        return CKR_GENERAL_ERROR;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    args.pReserved = (void *)init_reserved;
    if ((rv = t->f->C_Initialize(&args)) != CKR_OK)
        return rv;
    t->initialized = 1;
    if ((rv = t->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
        return rv;
    for (i = 0; i < n; i++) {
        if (t->f->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
            memcmp(info.label, token_label, len) != 0 ||
            (len < sizeof(info.label) && info.label[len] != ' '))
            continue;
        if ((rv = t->f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL,
                                      &t->session)) != CKR_OK)
            return rv;
        if (pin &&
            (rv = t->f->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin,
                                strlen(pin))) != CKR_OK)
            return rv;
        return CKR_OK;
    }
    return CKR_TOKEN_NOT_PRESENT;
}

static CK_OBJECT_HANDLE token_find_key(struct token *t, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG n = 0;

    if (t->f->C_FindObjectsInit(t->session, tmpl, 2) != CKR_OK)
        return CK_INVALID_HANDLE;
    if (t->f->C_FindObjects(t->session, &h, 1, &n) != CKR_OK || n != 1)
        h = CK_INVALID_HANDLE;
    t->f->C_FindObjectsFinal(t->session);
    return h;
}

static void token_close(struct token *t)
{
    if (t->initialized)
        t->f->C_Finalize(NULL);
    t->initialized = 0;
    /* Modules stay mapped: SoftHSM's and OpenSSL's exit handlers may still
     * run in them. */
}

/* ---- signing ---------------------------------------------------------------
 */

static int sign_one(int side, struct key_type *t, unsigned char *sig,
                    size_t *siglen)
{
    CK_MECHANISM m = {t->mech, NULL, 0};
    struct token *tok;
    CK_ULONG len = SIG_MAX;

    if (side == SIDE_OPENSSL) {
        *siglen = SIG_MAX;
        return EVP_PKEY_sign_init(t->ctx) == 1 &&
               (t->mech != CKM_RSA_PKCS ||
                EVP_PKEY_CTX_set_rsa_padding(t->ctx, RSA_PKCS1_PADDING) == 1) &&
               EVP_PKEY_sign(t->ctx, sig, siglen, t->tbs, t->tbs_len) == 1;
    }
    tok = &tokens[side];
    if (tok->f->C_SignInit(tok->session, &m, t->key[side]) != CKR_OK ||
        tok->f->C_Sign(tok->session, t->tbs, t->tbs_len, sig, &len) != CKR_OK)
        return 0;
    *siglen = len;
    return 1;
}

/* Signs for about seconds of CPU time; *rate gets signatures per CPU
 * second. */
static int sign_for(int side, struct key_type *t, double seconds, double *rate)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    unsigned long n = 0;
    double start = cpu_s(), elapsed;

    do {
        if (!sign_one(side, t, sig, &siglen))
            return 0;
        n++;
        elapsed = cpu_s() - start;
    } while (elapsed < seconds && !stop);
    *rate = (double)n / elapsed;
    return 1;
}

/* Every side's signature verifies with the key OpenSSL made, so all hold
 * one key (and the tokens' r || s is what ECDSA should be). */
static int sides_agree(struct key_type *t, int sides_on)
{
    unsigned char sig[SIG_MAX], *der = NULL;
    size_t siglen = 0, der_len;
    EVP_PKEY_CTX *v = EVP_PKEY_CTX_new_from_pkey(NULL, t->pkey, NULL);
    ECDSA_SIG *es;
    BIGNUM *r, *s;
    int side, ok = v != NULL, n;

    for (side = 0; ok && side < SIDES; side++) {
        if (!(sides_on & (1 << side)))
            continue;
        ok = sign_one(side, t, sig, &siglen);
        der = NULL;
        der_len = siglen;
        if (ok && t->mech == CKM_ECDSA && side != SIDE_OPENSSL) {
            /* PKCS#11 gives r || s; OpenSSL verifies DER. */
            es = ECDSA_SIG_new();
            r = BN_bin2bn(sig, (int)siglen / 2, NULL);
            s = BN_bin2bn(sig + siglen / 2, (int)siglen / 2, NULL);
            if (siglen != 64 || !es || !r || !s ||
                ECDSA_SIG_set0(es, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                ok = 0;
            } else if ((n = i2d_ECDSA_SIG(es, &der)) > 0) {
                der_len = (size_t)n;
            } else {
                ok = 0;
            }
            ECDSA_SIG_free(es);
        }
        ok = ok && EVP_PKEY_verify_init(v) == 1 &&
             (t->mech != CKM_RSA_PKCS ||
              EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PADDING) == 1) &&
             EVP_PKEY_verify(v, der ? der : sig, der_len, t->tbs, t->tbs_len) ==
                 1;
        OPENSSL_free(der);
        if (!ok)
            fprintf(stderr, "bench: %s: %s's signature does not verify\n",
                    t->label, side_names[side]);
    }
    EVP_PKEY_CTX_free(v);
    return ok;
}

/* One round: every side of every key type, the side that goes first
 * rotating from round to round. */
static int measure_round(unsigned round, double seconds, int sides_on)
{
    double rate[SIDES] = {0};
    size_t i;
    int k, side;

    for (i = 0; i < TYPES && !stop; i++) {
        struct key_type *t = &types[i];
        for (k = 0; k < SIDES; k++) {
            side = (int)((round + (unsigned)k) % SIDES);
            if (!(sides_on & (1 << side)))
                continue;
            if (!sign_for(side, t, seconds, &rate[side])) {
                fprintf(stderr, "\nbench: %s: %s: signing failed\n", t->label,
                        side_names[side]);
                return 0;
            }
        }
        for (side = 0; side < SIDES; side++)
            if ((sides_on & (1 << side)) &&
                !samples_add(&t->rate[side], rate[side]))
                return 0;
        if ((sides_on & (1 << SIDE_SOFTHSM)) &&
            !samples_add(&t->vs_softhsm, rate[SIDE_OURS] / rate[SIDE_SOFTHSM]))
            return 0;
        if (!samples_add(&t->vs_openssl, rate[SIDE_OURS] / rate[SIDE_OPENSSL]))
            return 0;
    }
    return 1;
}

static void report(unsigned rounds, double seconds, int sides_on)
{
    double med[SIDES], lo, hi, ratio;
    size_t i;
    int side;

    printf("bench_pkcs11_sign: %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("%u rounds of %.2f CPU s per side and key type, one thread\n",
           rounds, seconds);
    printf("tokens: C_SignInit + C_Sign (CKM_ECDSA over a SHA-256 digest; "
           "CKM_RSA_PKCS over a SHA-256 DigestInfo)\n");
    printf("OpenSSL: EVP_PKEY_sign_init + EVP_PKEY_sign on the same input\n");
    printf("secretref: %s\n", tokens[SIDE_OURS].path);
    printf("SoftHSMv2: %s\n\n", (sides_on & (1 << SIDE_SOFTHSM))
                                    ? tokens[SIDE_SOFTHSM].path
                                    : "not available: skipped");
    printf("%-12s %12s %12s %12s   %-26s %s\n", "key type", "secretref",
           "SoftHSMv2", "OpenSSL", "secretref/SoftHSMv2", "secretref/OpenSSL");
    printf("%-12s %12s %12s %12s   %-26s %s\n", "", "signs/CPU s",
           "signs/CPU s", "signs/CPU s", "median (min-max)",
           "median (min-max)");
    for (i = 0; i < TYPES; i++) {
        struct key_type *t = &types[i];
        for (side = 0; side < SIDES; side++)
            med[side] = samples_median(&t->rate[side]);
        printf("%-12s %12.1f ", t->label, med[SIDE_OURS]);
        if (sides_on & (1 << SIDE_SOFTHSM))
            printf("%12.1f ", med[SIDE_SOFTHSM]);
        else
            printf("%12s ", "-");
        printf("%12.1f   ", med[SIDE_OPENSSL]);
        if (sides_on & (1 << SIDE_SOFTHSM)) {
            ratio = med[SIDE_OURS] / med[SIDE_SOFTHSM];
            samples_median(&t->vs_softhsm);
            lo = t->vs_softhsm.v[0];
            hi = t->vs_softhsm.v[t->vs_softhsm.n - 1];
            printf("%5.2f (%5.2f-%5.2f) %-7s ", ratio, lo, hi,
                   ratio >= TARGET_SOFTHSM ? "ok" : "BELOW");
        } else {
            printf("%-26s ", "-");
        }
        ratio = med[SIDE_OURS] / med[SIDE_OPENSSL];
        samples_median(&t->vs_openssl);
        lo = t->vs_openssl.v[0];
        hi = t->vs_openssl.v[t->vs_openssl.n - 1];
        printf("%5.3f (%5.3f-%5.3f) %s\n", ratio, lo, hi,
               ratio >= TARGET_OPENSSL ? "ok" : "BELOW");
    }
    printf("\nratios: of the median rates; targets secretref/SoftHSMv2 >= "
           "%.1f, secretref/OpenSSL >= %.1f\n",
           TARGET_SOFTHSM, TARGET_OPENSSL);
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR");
    static char module[PATH_MAX]; /* tokens[] outlives main's frame */
    struct sigaction sa;
    unsigned long rounds = DEFAULT_ROUNDS;
    double seconds = DEFAULT_SECONDS;
    unsigned r;
    size_t i;
    char *end;
    int a, side, ret = 1, sides_on = (1 << SIDE_OURS) | (1 << SIDE_OPENSSL);
    CK_RV rv;

    snprintf(module, sizeof(module), "%s/secretref-pkcs11.so",
             SECRETREF_MODULE_DIR);
    tokens[SIDE_OURS].path = module;
    tokens[SIDE_SOFTHSM].path = SOFTHSM_MODULE;
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) {
            errno = 0;
            rounds = strtoul(argv[++a], &end, 10);
            if (errno || *end || argv[a][0] < '0' || argv[a][0] > '9' ||
                rounds < 1 || rounds > 1000) {
                fprintf(stderr, "bench: --rounds: a count from 1 to 1000\n");
                return 2;
            }
        } else if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc) {
            errno = 0;
            seconds = strtod(argv[++a], &end);
            if (errno || *end || !(seconds >= 0.01 && seconds <= 60)) {
                fprintf(stderr, "bench: --seconds: from 0.01 to 60\n");
                return 2;
            }
        } else if (strcmp(argv[a], "--module") == 0 && a + 1 < argc) {
            tokens[SIDE_OURS].path = argv[++a];
        } else if (strcmp(argv[a], "--softhsm") == 0 && a + 1 < argc) {
            tokens[SIDE_SOFTHSM].path = argv[++a];
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (access(tokens[SIDE_SOFTHSM].path, R_OK) == 0)
        sides_on |= 1 << SIDE_SOFTHSM;
    else
        fprintf(stderr, "bench: %s: not found; SoftHSMv2 is skipped\n",
                tokens[SIDE_SOFTHSM].path);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!base || !*base)
        base = "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/bench_pkcs11_sign.XXXXXX", base);
    /* The folder's name goes into shell commands between single quotes. */
    if (strchr(tmpdir, '\'') || !mkdtemp(tmpdir)) {
        fprintf(stderr, "bench: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        tmpdir[0] = '\0';
        return 1;
    }
    /* Nothing from the user's configuration reaches the module. */
    test_env_isolate(tmpdir);

    fprintf(stderr,
            "bench: making the keys, the store and the SoftHSM "
            "token in %s\n",
            tmpdir);
    if (!keys_make(sides_on & (1 << SIDE_SOFTHSM)))
        goto out;
    if ((rv = token_open(&tokens[SIDE_OURS], "secretref", reserved, NULL)) !=
        CKR_OK) {
        fprintf(stderr, "bench: %s: %#lx\n", tokens[SIDE_OURS].path, rv);
        goto out;
    }
    if ((sides_on & (1 << SIDE_SOFTHSM)) &&
        (rv = token_open(&tokens[SIDE_SOFTHSM], "bench", NULL, PIN)) !=
            CKR_OK) {
        fprintf(stderr, "bench: %s: %#lx\n", tokens[SIDE_SOFTHSM].path, rv);
        goto out;
    }
    for (i = 0; i < TYPES; i++) {
        for (side = 0; side < 2; side++) {
            if (!(sides_on & (1 << side)))
                continue;
            types[i].key[side] = token_find_key(&tokens[side], types[i].name);
            if (types[i].key[side] == CK_INVALID_HANDLE) {
                fprintf(stderr, "bench: %s: no private key %s\n",
                        side_names[side], types[i].name);
                goto out;
            }
        }
        if (!sides_agree(&types[i], sides_on))
            goto out;
    }

    fprintf(stderr, "bench: warming up\n");
    if (!measure_round(0, seconds / 10, sides_on))
        goto out;
    for (i = 0; i < TYPES; i++) {
        for (side = 0; side < SIDES; side++)
            types[i].rate[side].n = 0;
        types[i].vs_softhsm.n = types[i].vs_openssl.n = 0;
    }
    fprintf(stderr, "bench: %lu rounds of %.2f s per side and key type ",
            rounds, seconds);
    for (r = 0; r < rounds && !stop; r++) {
        (void)fputc('.', stderr);
        if (!measure_round(r, seconds, sides_on))
            goto out;
    }
    (void)fputc('\n', stderr);
    if (!stop) {
        report((unsigned)rounds, seconds, sides_on);
        ret = 0;
    }
out:
    if (ret && !stop)
        ERR_print_errors_fp(stderr);
    if (stop)
        fprintf(stderr, "\nbench: stopped; removing the temp folder\n");
    token_close(&tokens[SIDE_OURS]);
    token_close(&tokens[SIDE_SOFTHSM]);
    for (i = 0; i < TYPES; i++) {
        EVP_PKEY_CTX_free(types[i].ctx);
        EVP_PKEY_free(types[i].pkey);
        for (side = 0; side < SIDES; side++)
            free(types[i].rate[side].v);
        free(types[i].vs_softhsm.v);
        free(types[i].vs_openssl.v);
    }
    tmpdir_remove();
    return stop ? 130 : ret;
}
