/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What signing through the secretref provider costs next to the default
 * provider with the same key read from a PEM file.
 *
 * For ECDSA P-256, RSA-2048 and Ed25519 a key is made outside the store,
 * written as PKCS#8 PEM, and imported into a certificate reference. Both
 * copies then sign in one library context that has both providers loaded,
 * as an application would: per signature EVP_MD_CTX_reset,
 * EVP_DigestSignInit_ex and EVP_DigestSign. The two sides take turns in
 * short slices of CPU time within each round, so changes in machine load
 * hit both alike; the report gives the median, over the rounds, of each
 * side's signatures per CPU second and their ratio, and the time of one
 * OSSL_STORE open-and-load of a secretref: key.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "secretref.h"
#include "samples.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef SECRETREF_MODULE_DIR
#define SECRETREF_MODULE_DIR "."
#endif

#define DEFAULT_ROUNDS 10
#define DEFAULT_SECONDS 1.0
#define LOAD_OPS 50
#define SIG_MAX 512
#define TARGET 0.95
/* CPU seconds of one side before the other takes over, within a round. */
#define SLICE 0.05
#define DEFAULT_PROPS "?provider=default"

struct key_type {
    const char *label; /* as printed */
    const char *ref;   /* the reference name */
    const char *md;    /* NULL for Ed25519 */
    EVP_PKEY *ref_key; /* loaded from secretref:ref */
    EVP_PKEY *pem_key; /* read from the PEM file, default provider */
    struct samples ref_rate, pem_rate, ratio;
};

static struct key_type types[] = {
    {"ECDSA P-256", "bench-ec-p256", "SHA256", NULL, NULL, {0}, {0}, {0}},
    {"RSA-2048", "bench-rsa-2048", "SHA256", NULL, NULL, {0}, {0}, {0}},
    {"Ed25519", "bench-ed25519", NULL, NULL, NULL, {0}, {0}, {0}},
};
#define TYPES (sizeof(types) / sizeof(types[0]))

/* What is signed: about the size of a TLS 1.3 CertificateVerify input. */
static unsigned char message[130];

static OSSL_LIB_CTX *libctx;
static char tmpdir[PATH_MAX];

/* Set by SIGINT/SIGTERM so a stopped run still removes its temp folder. */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--rounds N] [--seconds S] [--module-dir DIR]\n"
            "\n"
            "Signs with EVP_DigestSign with a secretref: key and with the\n"
            "same key read from PEM into the default provider, in\n"
            "alternating rounds (default %d) of S seconds of CPU time per\n"
            "side and key type (default %.1f), for ECDSA P-256, RSA-2048 and\n"
            "Ed25519, and prints the median signatures per CPU second of\n"
            "each side and their ratio (target at least %.2f), then times an\n"
            "OSSL_STORE open-and-load of a secretref: key. DIR holds\n"
            "secretref.so (default %s). The store is made in a temp folder\n"
            "under $TMPDIR (or /tmp) and removed at the end.\n",
            prog, DEFAULT_ROUNDS, DEFAULT_SECONDS, TARGET,
            SECRETREF_MODULE_DIR);
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
    if (tmpdir[0] &&
        nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "bench: could not remove %s\n", tmpdir);
}

static int path_join(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", tmpdir, name);

    return n > 0 && (size_t)n < size;
}

/* ---- the keys ------------------------------------------------------------ */

static EVP_PKEY *keygen(size_t i)
{
    switch (i) {
    case 0:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case 1:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    default:
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    }
}

/* Writes key as PKCS#8 PEM to path (mode 0600) and hands back the bytes,
 * which the caller frees with OPENSSL_clear_free. */
static int pem_write(EVP_PKEY *key, const char *path, unsigned char **out,
                     size_t *outlen)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len;
    int fd = -1, ok = 0;

    if (!bio || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
                                         NULL) != 1 ||
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

/* The key of a PEM file, decoded by the default provider. */
static EVP_PKEY *pem_read(const char *path)
{
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *key = NULL;

    if (bio)
        key = PEM_read_bio_PrivateKey_ex(bio, NULL, NULL, NULL, libctx,
                                         "provider=default");
    BIO_free(bio);
    return key;
}

/* Makes type i's key, its PEM file and its certificate reference. */
static int key_import(sr_store *st, size_t i)
{
    char path[PATH_MAX];
    unsigned char *pem = NULL;
    size_t pem_len = 0;
    EVP_PKEY *key;
    sr_ref_spec spec;
    int ok = 0;

    if (!(key = keygen(i)) ||
        !path_join(path, sizeof(path), types[i].ref) ||
        !pem_write(key, path, &pem, &pem_len)) {
        fprintf(stderr, "bench: %s: making the key failed\n", types[i].label);
        goto out;
    }
    memset(&spec, 0, sizeof(spec));
    spec.name = types[i].ref;
    spec.kind = SR_KIND_CERTIFICATE;
    spec.key_file_data = pem;
    spec.key_file_len = pem_len;
    if (sr_ref_create(st, &spec) != SR_OK) {
        fprintf(stderr, "bench: %s: %s\n", types[i].ref, sr_store_errmsg(st));
        goto out;
    }
    if (!(types[i].pem_key = pem_read(path))) {
        fprintf(stderr, "bench: %s: reading the PEM file failed\n", path);
        goto out;
    }
    ok = 1;
out:
    OPENSSL_clear_free(pem, pem_len);
    EVP_PKEY_free(key);
    return ok;
}

static int store_make(void)
{
    char store_path[PATH_MAX], key_path[PATH_MAX], err[512] = "";
    sr_config cfg;
    sr_store *st = NULL;
    size_t i;
    int ok = 1;

    if (!path_join(store_path, sizeof(store_path), "store/store.db") ||
        !path_join(key_path, sizeof(key_path), "keys/master.key"))
        return 0;
    /* The provider finds the store through these, and nothing else. */
    setenv("SECRETREF_STORE", store_path, 1);
    setenv("SECRETREF_KEY_FILE", key_path, 1);
    unsetenv("SECRETREF_ENVIRONMENT");
    unsetenv("SECRETREF_PASSPHRASE_FILE");
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    setenv("XDG_DATA_HOME", tmpdir, 1);
    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "bench_provider_sign";
    if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) !=
        SR_OK) {
        fprintf(stderr, "bench: store: %s\n", err);
        return 0;
    }
    for (i = 0; ok && i < TYPES; i++)
        ok = key_import(st, i);
    sr_store_free(st);
    return ok;
}

/* The private key "secretref:NAME" gives, or NULL. */
static EVP_PKEY *store_load(const char *name)
{
    char uri[128];
    OSSL_STORE_CTX *sc;
    OSSL_STORE_INFO *info;
    EVP_PKEY *key = NULL;

    snprintf(uri, sizeof(uri), "secretref:%s", name);
    if (!(sc = OSSL_STORE_open_ex(uri, libctx, NULL, NULL, NULL, NULL, NULL,
                                  NULL)))
        return NULL;
    while (!key && !OSSL_STORE_eof(sc) && (info = OSSL_STORE_load(sc))) {
        if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
            key = OSSL_STORE_INFO_get1_PKEY(info);
        OSSL_STORE_INFO_free(info);
    }
    OSSL_STORE_close(sc);
    return key;
}

/* ---- signing ------------------------------------------------------------- */

/* One signature as an application makes it: a reset context, an init,
 * a one-shot sign. */
static int sign_one(EVP_MD_CTX *mctx, EVP_PKEY *key, const char *md,
                    unsigned char *sig, size_t *siglen)
{
    *siglen = SIG_MAX;
    return EVP_MD_CTX_reset(mctx) == 1 &&
           EVP_DigestSignInit_ex(mctx, NULL, md, libctx, NULL, key, NULL) ==
               1 &&
           EVP_DigestSign(mctx, sig, siglen, message, sizeof(message)) == 1;
}

/* Signs for about seconds of CPU time, adding the signatures made and
 * the CPU time taken to *count and *cpu. */
static int sign_for(EVP_MD_CTX *mctx, EVP_PKEY *key, const char *md,
                    double seconds, unsigned long *count, double *cpu)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    double start = cpu_s(), elapsed;

    do {
        if (!sign_one(mctx, key, md, sig, &siglen))
            return 0;
        ++*count;
        elapsed = cpu_s() - start;
    } while (elapsed < seconds && !stop);
    *cpu += elapsed;
    return 1;
}

/* Each side's signature verifies with the other side's key, so the two
 * really hold one key. */
static int keys_agree(struct key_type *t)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
    int ok = s && v && EVP_PKEY_eq(t->ref_key, t->pem_key) == 1 &&
             sign_one(s, t->ref_key, t->md, sig, &siglen) &&
             EVP_DigestVerifyInit_ex(v, NULL, t->md, libctx, NULL,
                                     t->pem_key, NULL) == 1 &&
             EVP_DigestVerify(v, sig, siglen, message, sizeof(message)) == 1;

    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(v);
    return ok;
}

/* One round: seconds per side for every key type, in slices of SLICE
 * seconds that alternate between the sides (ABBA...), so a change in
 * machine load within the round hits both alike. */
static int measure_round(EVP_MD_CTX *mctx, double seconds)
{
    unsigned long ref_n, pem_n;
    double ref_cpu, pem_cpu, ref, pem, slice;
    unsigned k, slices;
    size_t i;
    int ok;

    slices = seconds > SLICE ? (unsigned)(seconds / SLICE + 0.5) : 1;
    slice = seconds / slices;
    for (i = 0; i < TYPES && !stop; i++) {
        struct key_type *t = &types[i];
        ref_n = pem_n = 0;
        ref_cpu = pem_cpu = 0;
        for (k = 0, ok = 1; ok && k < 2 * slices && !stop; k++) {
            if ((k + k / 2) % 2 == 0)
                ok = sign_for(mctx, t->ref_key, t->md, slice, &ref_n,
                              &ref_cpu);
            else
                ok = sign_for(mctx, t->pem_key, t->md, slice, &pem_n,
                              &pem_cpu);
        }
        if (!ok) {
            fprintf(stderr, "\nbench: %s: signing failed\n", t->label);
            return 0;
        }
        if (stop)
            return 1;
        ref = (double)ref_n / ref_cpu;
        pem = (double)pem_n / pem_cpu;
        if (!samples_add(&t->ref_rate, ref) ||
            !samples_add(&t->pem_rate, pem) ||
            !samples_add(&t->ratio, ref / pem))
            return 0;
    }
    return 1;
}

/* Times OSSL_STORE open, load and close of name, plus freeing the key. */
static int time_store_load(const char *name, size_t ops, struct samples *out)
{
    EVP_PKEY *key;
    double start;
    size_t i;

    for (i = 0; i < ops && !stop; i++) {
        start = now_s();
        if (!(key = store_load(name)))
            return 0;
        EVP_PKEY_free(key);
        if (!samples_add(out, now_s() - start))
            return 0;
    }
    return 1;
}

/* ---- main ---------------------------------------------------------------- */

/* Both providers, and the default properties the README's openssl.cnf
 * sets: without them either provider may win a fetch, and the PEM key
 * would be signed by ours (imported as a local key), not by default. */
static int load_providers(const char *module_dir, OSSL_PROVIDER **ours,
                          OSSL_PROVIDER **deflt)
{
    if (!(libctx = OSSL_LIB_CTX_new()) ||
        OSSL_PROVIDER_set_default_search_path(libctx, module_dir) != 1 ||
        !(*ours = OSSL_PROVIDER_load(libctx, "secretref")) ||
        !(*deflt = OSSL_PROVIDER_load(libctx, "default")) ||
        EVP_set_default_properties(libctx, DEFAULT_PROPS) != 1) {
        fprintf(stderr, "bench: loading the providers from %s failed\n",
                module_dir);
        return 0;
    }
    return 1;
}

/* The name of the provider that signs with key. */
static const char *signer_of(EVP_MD_CTX *mctx, EVP_PKEY *key, const char *md)
{
    unsigned char sig[SIG_MAX];
    size_t siglen;
    const OSSL_PROVIDER *prov;

    if (!sign_one(mctx, key, md, sig, &siglen) ||
        !(prov = EVP_PKEY_CTX_get0_provider(EVP_MD_CTX_get_pkey_ctx(mctx))))
        return "?";
    return OSSL_PROVIDER_get0_name(prov);
}

static void report(EVP_MD_CTX *mctx, unsigned rounds, double seconds,
                   double first_load, struct samples *loads)
{
    double ref, pem, ratio, lo, hi;
    size_t i;

    printf("bench_provider_sign: %s\n", OpenSSL_version(OPENSSL_VERSION));
    printf("%u rounds of %.2f CPU s per side and key type\n", rounds,
           seconds);
    printf("each signature: EVP_MD_CTX_reset, EVP_DigestSignInit_ex, "
           "EVP_DigestSign of %zu bytes\n",
           sizeof(message));
    printf("one library context, providers secretref and default, "
           "properties \"%s\"\n",
           DEFAULT_PROPS);
    for (i = 0; i < TYPES; i++)
        printf("  %-12s secretref: key signed by %s, PEM key by %s\n",
               types[i].label,
               signer_of(mctx, types[i].ref_key, types[i].md),
               signer_of(mctx, types[i].pem_key, types[i].md));
    printf("\n");
    printf("%-12s %14s %14s %7s %17s\n", "key type", "secretref:",
           "PEM (default)", "ratio", "per-round ratio");
    printf("%-12s %14s %14s %7s %17s\n", "", "signs/CPU s", "signs/CPU s",
           "", "min - max");
    for (i = 0; i < TYPES; i++) {
        struct key_type *t = &types[i];
        ref = samples_median(&t->ref_rate);
        pem = samples_median(&t->pem_rate);
        ratio = pem > 0 ? ref / pem : 0;
        samples_median(&t->ratio);
        lo = t->ratio.n ? t->ratio.v[0] : 0;
        hi = t->ratio.n ? t->ratio.v[t->ratio.n - 1] : 0;
        printf("%-12s %14.1f %14.1f %7.3f %8.3f - %6.3f  %s\n", t->label, ref,
               pem, ratio, lo, hi, ratio >= TARGET ? "ok" : "BELOW TARGET");
    }
    printf("\nratio = median secretref: rate / median PEM rate; "
           "target >= %.2f\n",
           TARGET);
    printf("\nOSSL_STORE open + load + close of secretref:%s "
           "(each audited):\n",
           types[0].ref);
    printf("  first, which opens the provider's store: %9.3f ms\n",
           first_load * 1e3);
    printf("  median of %zu after it:                  %9.3f ms\n", loads->n,
           samples_median(loads) * 1e3);
}

int main(int argc, char **argv)
{
    const char *base = getenv("TMPDIR"), *module_dir = SECRETREF_MODULE_DIR;
    OSSL_PROVIDER *ours = NULL, *deflt = NULL;
    EVP_MD_CTX *mctx = NULL;
    struct samples loads = {0};
    struct sigaction sa;
    unsigned long rounds = DEFAULT_ROUNDS;
    double seconds = DEFAULT_SECONDS, first_load = 0, start;
    unsigned r;
    size_t i;
    char *end;
    int a, ret = 1;

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
        } else if (strcmp(argv[a], "--module-dir") == 0 && a + 1 < argc) {
            module_dir = argv[++a];
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!base || !*base)
        base = "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/bench_provider_sign.XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "bench: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        tmpdir[0] = '\0';
        return 1;
    }
    for (i = 0; i < sizeof(message); i++)
        message[i] = (unsigned char)(i * 7 + 1);

    fprintf(stderr, "bench: making the keys and the store in %s\n", tmpdir);
    if (!load_providers(module_dir, &ours, &deflt) || !store_make())
        goto out;
    for (i = 0; i < TYPES; i++) {
        start = now_s();
        types[i].ref_key = store_load(types[i].ref);
        if (i == 0)
            first_load = now_s() - start;
        if (!types[i].ref_key || !keys_agree(&types[i])) {
            fprintf(stderr, "bench: %s: secretref:%s does not load or does "
                            "not match its PEM file\n",
                    types[i].label, types[i].ref);
            goto out;
        }
    }
    if (!(mctx = EVP_MD_CTX_new()))
        goto out;

    fprintf(stderr, "bench: warming up\n");
    if (!measure_round(mctx, seconds / 10) ||
        !time_store_load(types[0].ref, 5, &loads))
        goto out;
    for (i = 0; i < TYPES; i++)
        types[i].ref_rate.n = types[i].pem_rate.n = types[i].ratio.n = 0;
    loads.n = 0;

    fprintf(stderr, "bench: %lu rounds of %.2f CPU s per side and key type ",
            rounds, seconds);
    for (r = 0; r < rounds && !stop; r++) {
        (void)fputc('.', stderr);
        if (!measure_round(mctx, seconds))
            goto out;
    }
    (void)fputc('\n', stderr);
    if (!stop && !time_store_load(types[0].ref, LOAD_OPS, &loads))
        goto out;
    if (!stop) {
        report(mctx, (unsigned)rounds, seconds, first_load, &loads);
        ret = 0;
    }
out:
    if (ret && !stop)
        ERR_print_errors_fp(stderr);
    if (stop)
        fprintf(stderr, "\nbench: stopped; removing the temp folder\n");
    EVP_MD_CTX_free(mctx);
    for (i = 0; i < TYPES; i++) {
        EVP_PKEY_free(types[i].ref_key);
        EVP_PKEY_free(types[i].pem_key);
        free(types[i].ref_rate.v);
        free(types[i].pem_rate.v);
        free(types[i].ratio.v);
    }
    free(loads.v);
    OSSL_PROVIDER_unload(ours);
    OSSL_PROVIDER_unload(deflt);
    OSSL_LIB_CTX_free(libctx);
    tmpdir_remove();
    return stop ? 130 : ret;
}
