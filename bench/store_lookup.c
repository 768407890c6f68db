/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How the cost of using a reference grows with the size of the store.
 *
 * Builds stores of 10, 10,000 and 100,000 references, then times
 * sr_ref_open_secret of one manual reference and sr_key_open of an EC P-256
 * and an RSA-2048 certificate reference in each, in interleaved rounds so
 * that drift (page cache, CPU frequency, a growing WAL) hits every size
 * alike. The ratio of the largest to the smallest store shows whether
 * lookups are indexed; the key parse alone, timed on the same key types,
 * shows how much of an open is OpenSSL rather than SQLite.
 */
#include "internal.h"
#include "samples.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SIZES "10,10000,100000"
/* Many short rounds rather than a few long ones: on a shared machine the
 * load changes within seconds, and short rounds spread it over every size.
 * The defaults total 2,000 resolves and 500 opens of each key per size. */
#define DEFAULT_ROUNDS 25
#define RESOLVE_OPS 80
#define OPEN_OPS 20
#define MAX_SIZES 16
#define WARMUP_RESOLVE 50
#define WARMUP_OPEN 20
/* Two certificate references plus at least the target. */
#define MIN_SIZE 3
#define MAX_SIZE 10000000

#define EC_NAME "cert-ec-p256"
#define RSA_NAME "cert-rsa-2048"

static const char secret_value[] = "bench-secret-value";

/* Set by SIGINT/SIGTERM so a stopped run still removes its temp folders. */
static volatile sig_atomic_t stop;

struct bench_store {
    size_t size;
    char dir[PATH_MAX];
    char target[32];
    sr_store *st;
    struct samples resolve, open_ec, open_rsa, audit;
};

/* A key type's PKCS#8 DER, encoded as the store seals it, for timing the
 * parse on its own. */
struct parse_input {
    unsigned char *der;
    int len;
    struct samples times;
};

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--sizes N,N,...] [--rounds N]\n"
            "\n"
            "Times resolving a manual secret and opening an EC P-256 and an\n"
            "RSA-2048 certificate key in stores of each size "
            "(default " DEFAULT_SIZES "),\n"
            "in interleaved rounds (default %d) of %d resolves and %d opens,\n"
            "and prints the median time per operation, the ratio of the\n"
            "largest to the smallest store, and the key parse's share of an\n"
            "open. Stores are built in a temp folder under $TMPDIR (or /tmp)\n"
            "and removed at the end.\n",
            prog, DEFAULT_ROUNDS, RESOLVE_OPS, OPEN_OPS);
}

/* A decimal in [min, max], the whole string and nothing else. */
static int parse_count(const char *s, const char **end, unsigned long min,
                       unsigned long max, unsigned long *out)
{
    char *e;
    unsigned long v;

    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoul(s, &e, 10);
    if (errno || v < min || v > max)
        return 0;
    if (end)
        *end = e;
    else if (*e)
        return 0;
    *out = v;
    return 1;
}

/* "10,10000,100000" into sizes, in the order given. */
static int parse_sizes(const char *arg, size_t sizes[MAX_SIZES], size_t *n)
{
    size_t parsed[MAX_SIZES], count = 0;
    const char *p = arg, *end;
    unsigned long v;

    for (;;) {
        if (count == MAX_SIZES ||
            !parse_count(p, &end, MIN_SIZE, MAX_SIZE, &v))
            return 0;
        parsed[count++] = (size_t)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return 0;
        p = end + 1;
    }
    memcpy(sizes, parsed, count * sizeof(*parsed));
    *n = count;
    return 1;
}

static int path_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    return n > 0 && (size_t)n < size;
}

/* Removes what the store left in its folder, then the folder. */
static void bench_store_clear(struct bench_store *b)
{
    static const char *const files[] = {"store.db", "store.db-wal",
                                        "store.db-shm", "master.key"};
    char path[PATH_MAX];
    size_t i;

    /* Closing first lets SQLite checkpoint and drop -wal and -shm. */
    sr_store_free(b->st);
    b->st = NULL;
    if (b->dir[0]) {
        for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            if (path_join(path, sizeof(path), b->dir, files[i]) &&
                unlink(path) != 0 && errno != ENOENT)
                fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        if (rmdir(b->dir) != 0)
            fprintf(stderr, "bench: %s: %s\n", b->dir, strerror(errno));
        b->dir[0] = '\0';
    }
    samples_free(&b->resolve);
    samples_free(&b->open_ec);
    samples_free(&b->open_rsa);
    samples_free(&b->audit);
}

static int create_manual(sr_store *st, const char *name,
                         const sr_secret *secret)
{
    sr_ref_spec spec;

    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.kind = SR_KIND_MANUAL;
    spec.secret = secret;
    return sr_ref_create(st, &spec) == SR_OK;
}

static int create_certificate(sr_store *st, const char *name,
                              const char *generate)
{
    sr_ref_spec spec;

    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.kind = SR_KIND_CERTIFICATE;
    spec.generate = generate;
    return sr_ref_create(st, &spec) == SR_OK;
}

/* A new store of exactly b->size references: size - 2 manual ones named
 * ref-NNNNNNN, the target among them in the middle of the name range, and
 * the two certificate references. */
static int bench_store_build(struct bench_store *b, const sr_secret *secret)
{
    char db_path[PATH_MAX], key_path[PATH_MAX], name[32], err[256];
    const char *tmp = getenv("TMPDIR");
    size_t manual = b->size - 2, mid = manual / 2, i;
    sr_config cfg;
    double t0;
    int ok = 0;

    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (!path_join(b->dir, sizeof(b->dir), tmp, "secretref-bench-XXXXXX") ||
        !mkdtemp(b->dir)) {
        fprintf(stderr, "bench: cannot create a temp folder in %s: %s\n", tmp,
                strerror(errno));
        b->dir[0] = '\0';
        return 0;
    }
    if (!path_join(db_path, sizeof(db_path), b->dir, "store.db") ||
        !path_join(key_path, sizeof(key_path), b->dir, "master.key")) {
        fprintf(stderr, "bench: %s: path too long\n", b->dir);
        return 0;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = db_path;
    cfg.key_file = key_path;
    cfg.program = "bench";
    if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &b->st, err, sizeof(err)) !=
        SR_OK) {
        fprintf(stderr, "bench: init %s: %s\n", db_path, err);
        return 0;
    }
    fprintf(stderr, "bench: building a store of %zu references in %s ...",
            b->size, b->dir);
    t0 = now_us();
    /* One transaction: a commit per reference would make 100,000 of them
     * take minutes of fsync rather than seconds. */
    if (sr_db_begin(b->st) != SR_OK)
        goto out;
    for (i = 0; i < manual && !stop; i++) {
        snprintf(name, sizeof(name), "ref-%07zu", i);
        if (i == mid)
            snprintf(b->target, sizeof(b->target), "%s", name);
        if (!create_manual(b->st, name, secret))
            goto rollback;
    }
    if (stop || !create_certificate(b->st, EC_NAME, "ec-p256") ||
        !create_certificate(b->st, RSA_NAME, "rsa-2048"))
        goto rollback;
    if (sr_db_commit(b->st) != SR_OK)
        goto out;
    /* Start every size from an empty WAL, so the first timed rounds do not
     * pay for checkpointing the bulk load. */
    if (sr_db_checkpoint(b->st) != SR_OK)
        goto out;
    fprintf(stderr, " %.1f s\n", (now_us() - t0) / 1e6);
    ok = 1;
    goto out;
rollback:
    sr_db_rollback(b->st);
out:
    if (!ok && stop)
        (void)fputc('\n', stderr);
    else if (!ok)
        fprintf(stderr, "\nbench: building %s: %s\n", b->dir,
                sr_store_errmsg(b->st));
    return ok;
}

static int time_resolve(struct bench_store *b, size_t ops, struct samples *out)
{
    sr_secret *secret = NULL;
    double t0;
    size_t i;

    for (i = 0; i < ops && !stop; i++) {
        t0 = now_us();
        if (sr_ref_open_secret(b->st, b->target, &secret) != SR_OK) {
            fprintf(stderr, "bench: open %s: %s\n", b->target,
                    sr_store_errmsg(b->st));
            return 0;
        }
        sr_secret_free(secret);
        secret = NULL;
        if (out && !samples_add(out, now_us() - t0))
            return 0;
    }
    return !stop;
}

static int time_open(struct bench_store *b, const char *name, size_t ops,
                     struct samples *out)
{
    sr_key *key = NULL;
    double t0;
    size_t i;

    for (i = 0; i < ops && !stop; i++) {
        t0 = now_us();
        if (sr_key_open(b->st, name, &key) != SR_OK) {
            fprintf(stderr, "bench: key open %s: %s\n", name,
                    sr_store_errmsg(b->st));
            return 0;
        }
        sr_key_free(key);
        key = NULL;
        if (out && !samples_add(out, now_us() - t0))
            return 0;
    }
    return !stop;
}

/* One audit row on its own: the INSERT and COMMIT that every use pays,
 * which with synchronous=FULL includes an fsync of the WAL. */
static int time_audit(struct bench_store *b, size_t ops, struct samples *out)
{
    double t0;
    size_t i;

    for (i = 0; i < ops && !stop; i++) {
        t0 = now_us();
        if (sr_audit(b->st, b->target, 1, "bench", "audit timing") != SR_OK) {
            fprintf(stderr, "bench: audit: %s\n", sr_store_errmsg(b->st));
            return 0;
        }
        if (out && !samples_add(out, now_us() - t0))
            return 0;
    }
    return !stop;
}

/* PKCS#8 DER of a fresh key of the given kind, encoded the way
 * sr_ref_create seals it, so the parse loop decodes what sr_key_open
 * decodes. */
static int parse_input_make(struct parse_input *in, const char *type,
                            const char *curve, size_t bits)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pkey;
    int ok = 0;

    in->der = NULL;
    in->len = 0;
    pkey = curve ? EVP_PKEY_Q_keygen(sr_libctx(), NULL, type, curve)
                 : EVP_PKEY_Q_keygen(sr_libctx(), NULL, type, bits);
    if (!pkey || !(p8 = EVP_PKEY2PKCS8(pkey)) ||
        (in->len = i2d_PKCS8_PRIV_KEY_INFO(p8, &in->der)) <= 0) {
        fprintf(stderr, "bench: making a %s key failed\n", type);
        in->der = NULL;
        in->len = 0;
        goto out;
    }
    ok = 1;
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    return ok;
}

static void parse_input_clear(struct parse_input *in)
{
    if (in->der)
        OPENSSL_clear_free(in->der, (size_t)in->len);
    in->der = NULL;
    in->len = 0;
    samples_free(&in->times);
}

/* The parse as sr_key_open does it, in the same library context, with the
 * EVP_PKEY_free that sr_key_free does. */
static int time_parse(struct parse_input *in, size_t ops, struct samples *out)
{
    const unsigned char *p;
    EVP_PKEY *pkey;
    double t0;
    size_t i;

    for (i = 0; i < ops && !stop; i++) {
        t0 = now_us();
        p = in->der;
        if (!(pkey = d2i_AutoPrivateKey_ex(NULL, &p, in->len, sr_libctx(),
                                           NULL))) {
            fprintf(stderr, "bench: the key does not decode\n");
            return 0;
        }
        EVP_PKEY_free(pkey);
        if (out && !samples_add(out, now_us() - t0))
            return 0;
    }
    return !stop;
}

static int measure_round(struct bench_store *b, int warmup)
{
    size_t resolves = warmup ? WARMUP_RESOLVE : RESOLVE_OPS;
    /* NOLINTNEXTLINE(bugprone-branch-clone): equal today, tuned apart */
    size_t opens = warmup ? WARMUP_OPEN : OPEN_OPS;

    return time_resolve(b, resolves, warmup ? NULL : &b->resolve) &&
           time_open(b, EC_NAME, opens, warmup ? NULL : &b->open_ec) &&
           time_open(b, RSA_NAME, opens, warmup ? NULL : &b->open_rsa) &&
           time_audit(b, opens, warmup ? NULL : &b->audit);
}

static double ratio(double num, double den)
{
    return den > 0.0 ? num / den : 0.0;
}

static double percent(double part, double whole)
{
    return whole > 0.0 ? 100.0 * part / whole : 0.0;
}

static void report(struct bench_store *stores, size_t n,
                   struct parse_input *ec, struct parse_input *rsa,
                   unsigned rounds)
{
    /* Zeros, not garbage, should no store have been measured. */
    double resolve[MAX_SIZES] = {0}, open_ec[MAX_SIZES] = {0},
           open_rsa[MAX_SIZES] = {0}, audit[MAX_SIZES] = {0};
    double parse_ec, parse_rsa;
    const char *env = sr_store_environment(stores[0].st);
    size_t i, lo = 0, hi = 0;

    for (i = 0; i < n; i++) {
        resolve[i] = samples_median(&stores[i].resolve);
        open_ec[i] = samples_median(&stores[i].open_ec);
        open_rsa[i] = samples_median(&stores[i].open_rsa);
        audit[i] = samples_median(&stores[i].audit);
        if (stores[i].size < stores[lo].size)
            lo = i;
        if (stores[i].size > stores[hi].size)
            hi = i;
    }
    parse_ec = samples_median(&ec->times);
    parse_rsa = samples_median(&rsa->times);

    printf("secretref store lookup: median time per operation over %u "
           "interleaved rounds\n"
           "(%d resolves, %d opens of each key and %d audit rows per round "
           "and size;\n"
           " active environment type: %s)\n"
           "Every use writes one audit row (INSERT + COMMIT, synchronous=FULL"
           " in WAL mode),\n"
           "so each resolve and open time includes one; the last column is "
           "that row alone.\n\n",
           rounds, RESOLVE_OPS, OPEN_OPS, OPEN_OPS, env ? env : "none");
    printf("%10s  %16s  %16s  %16s  %16s\n", "size", "resolve manual",
           "open EC P-256", "open RSA-2048", "audit row alone");
    printf("%10s  %16s  %16s  %16s  %16s\n", "", "µs/op", "µs/op", "µs/op",
           "µs/op");
    for (i = 0; i < n; i++)
        printf("%10zu  %16.1f  %16.1f  %16.1f  %16.1f\n", stores[i].size,
               resolve[i], open_ec[i], open_rsa[i], audit[i]);
    printf("\n");
    printf("ratio %zu/%zu resolve: %.2f (target < 1.5)\n", stores[hi].size,
           stores[lo].size, ratio(resolve[hi], resolve[lo]));
    printf("ratio %zu/%zu open-key: %.2f (target < 1.5) [EC; RSA: %.2f]\n",
           stores[hi].size, stores[lo].size, ratio(open_ec[hi], open_ec[lo]),
           ratio(open_rsa[hi], open_rsa[lo]));
    printf("key parse share of open (EC/RSA): %.0f%% / %.0f%%"
           " (at size %zu)\n",
           percent(parse_ec, open_ec[hi]), percent(parse_rsa, open_rsa[hi]),
           stores[hi].size);
    printf("  key parse alone (d2i_AutoPrivateKey_ex of PKCS#8 DER + free): "
           "EC %.1f µs, RSA %.1f µs\n",
           parse_ec, parse_rsa);
    printf("  audit row share of open (EC/RSA): %.0f%% / %.0f%%"
           " (at size %zu)\n",
           percent(audit[hi], open_ec[hi]), percent(audit[hi], open_rsa[hi]),
           stores[hi].size);
}

int main(int argc, char **argv)
{
    struct bench_store stores[MAX_SIZES];
    struct parse_input ec, rsa;
    size_t sizes[MAX_SIZES], nsizes = 0, i;
    sr_secret *secret = NULL;
    struct sigaction sa;
    unsigned long rounds = DEFAULT_ROUNDS;
    unsigned r;
    int a, ret = 1;

    memset(stores, 0, sizeof(stores));
    memset(&ec, 0, sizeof(ec));
    memset(&rsa, 0, sizeof(rsa));
    parse_sizes(DEFAULT_SIZES, sizes, &nsizes);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[a], "--sizes") == 0 && a + 1 < argc) {
            if (!parse_sizes(argv[++a], sizes, &nsizes)) {
                fprintf(stderr,
                        "bench: --sizes: up to %d comma-separated counts "
                        "from %d to %d\n",
                        MAX_SIZES, MIN_SIZE, MAX_SIZE);
                return 2;
            }
        } else if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) {
            if (!parse_count(argv[++a], NULL, 1, 1000, &rounds)) {
                fprintf(stderr, "bench: --rounds: a count from 1 to 1000\n");
                return 2;
            }
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

    if (sr_secret_from(secret_value, sizeof(secret_value) - 1, &secret) !=
        SR_OK) {
        fprintf(stderr, "bench: out of memory\n");
        goto out;
    }
    if (!parse_input_make(&ec, "EC", "P-256", 0) ||
        !parse_input_make(&rsa, "RSA", NULL, 2048))
        goto out;

    /* All stores exist before any timing, so every round sees the same
     * machine state for each size. */
    for (i = 0; i < nsizes; i++) {
        stores[i].size = sizes[i];
        if (!bench_store_build(&stores[i], secret))
            goto out;
    }
    fprintf(stderr, "bench: warming up\n");
    for (i = 0; i < nsizes; i++)
        if (!measure_round(&stores[i], 1))
            goto out;
    if (!time_parse(&ec, WARMUP_OPEN, NULL) ||
        !time_parse(&rsa, WARMUP_OPEN, NULL))
        goto out;
    fprintf(stderr, "bench: %lu rounds ", rounds);
    for (r = 0; r < rounds; r++) {
        (void)fputc('.', stderr);
        for (i = 0; i < nsizes; i++)
            if (!measure_round(&stores[i], 0))
                goto out;
        if (!time_parse(&ec, OPEN_OPS, &ec.times) ||
            !time_parse(&rsa, OPEN_OPS, &rsa.times))
            goto out;
    }
    (void)fputc('\n', stderr);
    report(stores, nsizes, &ec, &rsa, (unsigned)rounds);
    ret = 0;
out:
    if (stop)
        fprintf(stderr, "\nbench: stopped; removing the temp stores\n");
    for (i = 0; i < nsizes; i++)
        bench_store_clear(&stores[i]);
    parse_input_clear(&ec);
    parse_input_clear(&rsa);
    sr_secret_free(secret);
    return stop ? 130 : ret;
}
