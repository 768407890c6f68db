/* SPDX-License-Identifier: Apache-2.0 */
/* The secretref provider: initialisation, the algorithms it offers, its
 * settings from openssl.cnf, errors, and the store its keys come from. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ALG(names, table) {names, PROV_PROPS, table, NULL}

static const OSSL_ALGORITHM keymgmt_algs[] = {
    ALG(PROV_NAMES_RSA, prov_rsa_keymgmt),
    ALG(PROV_NAMES_RSA_PSS, prov_rsa_pss_keymgmt),
    ALG(PROV_NAMES_EC, prov_ec_keymgmt),
    ALG(PROV_NAMES_ED25519, prov_ed25519_keymgmt),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM signature_algs[] = {
    ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", prov_rsa_signature),
    ALG("ECDSA", prov_ecdsa_signature),
    ALG("ED25519:Ed25519:1.3.101.112", prov_ed25519_signature),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM asym_cipher_algs[] = {
    ALG("RSA:rsaEncryption:1.2.840.113549.1.1.1", prov_rsa_asym_cipher),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM keyexch_algs[] = {
    ALG("ECDH", prov_ecdh_keyexch),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM store_algs[] = {
    ALG("secretref", prov_store_loader),
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM encoder_algs[] = {
    {PROV_NAMES_RSA, PROV_PROPS ",output=text", prov_text_encoder, NULL},
    {PROV_NAMES_RSA_PSS, PROV_PROPS ",output=text", prov_text_encoder, NULL},
    {PROV_NAMES_EC, PROV_PROPS ",output=text", prov_text_encoder, NULL},
    {PROV_NAMES_ED25519, PROV_PROPS ",output=text", prov_text_encoder, NULL},
    {NULL, NULL, NULL, NULL},
};

/* A "SECRETREF KEY" PEM file: PEM to its DER body, then the body (a
 * secretref: URI) to a key by reference. */
static const OSSL_ALGORITHM decoder_algs[] = {
    {"DER", PROV_PROPS ",input=pem", prov_pem_decoder, NULL},
    {PROV_NAMES_RSA, PROV_PROPS ",input=der,structure=secretref",
     prov_rsa_reference_decoder, NULL},
    {PROV_NAMES_EC, PROV_PROPS ",input=der,structure=secretref",
     prov_ec_reference_decoder, NULL},
    {PROV_NAMES_ED25519, PROV_PROPS ",input=der,structure=secretref",
     prov_ed25519_reference_decoder, NULL},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *query(void *provctx, int operation_id,
                                   int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher_algs;
    case OSSL_OP_KEYEXCH:
        return keyexch_algs;
    case OSSL_OP_STORE:
        return store_algs;
    case OSSL_OP_ENCODER:
        return encoder_algs;
    case OSSL_OP_DECODER:
        return decoder_algs;
    default:
        return NULL;
    }
}

/* Our reason codes are sr_rc values; their strings are sr_strerror's. */
static OSSL_ITEM reasons[SR_RC_COUNT + 1];

/* The EC TLS groups, as the default provider declares them. libssl 3.0
 * keeps a group only if the keymgmt it fetches for it is the declaring
 * provider's: when ours wins the fetch for "EC" (secretref loaded first),
 * the default provider's EC groups drop out, so we declare them too;
 * their ephemeral keys are local keys, made by the default provider. */
struct tls_group {
    const char *name, *internal;
    unsigned int id, bits;
};

static const struct tls_group tls_groups[] = {
    {"secp256r1", "prime256v1", 23, 128},
    {"secp384r1", "secp384r1", 24, 192},
    {"secp521r1", "secp521r1", 25, 256},
    {"P-256", "prime256v1", 23, 128},
    {"P-384", "secp384r1", 24, 192},
    {"P-521", "secp521r1", 25, 256},
};

static int get_capabilities(void *provctx, const char *capability,
                            OSSL_CALLBACK *cb, void *arg)
{
    unsigned int is_kem = 0;
    int min_tls = 0x0301, max_tls = 0, min_dtls = 0xFEFF, max_dtls = 0;
    OSSL_PARAM params[11];
    size_t i;

    (void)provctx;
    if (strcasecmp(capability, "TLS-GROUP") != 0)
        return 0;
    for (i = 0; i < sizeof(tls_groups) / sizeof(tls_groups[0]); i++) {
        const struct tls_group *g = &tls_groups[i];
        unsigned int id = g->id, bits = g->bits;
        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_CAPABILITY_TLS_GROUP_NAME, (char *)g->name, 0);
        params[1] = OSSL_PARAM_construct_utf8_string(
            OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL, (char *)g->internal, 0);
        params[2] = OSSL_PARAM_construct_uint(OSSL_CAPABILITY_TLS_GROUP_ID,
                                              &id);
        params[3] = OSSL_PARAM_construct_utf8_string(
            OSSL_CAPABILITY_TLS_GROUP_ALG, (char *)"EC", 0);
        params[4] = OSSL_PARAM_construct_uint(
            OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS, &bits);
        params[5] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS,
                                             &min_tls);
        params[6] = OSSL_PARAM_construct_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS,
                                             &max_tls);
        params[7] = OSSL_PARAM_construct_int(
            OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS, &min_dtls);
        params[8] = OSSL_PARAM_construct_int(
            OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS, &max_dtls);
        params[9] = OSSL_PARAM_construct_uint(
            OSSL_CAPABILITY_TLS_GROUP_IS_KEM, &is_kem);
        params[10] = OSSL_PARAM_construct_end();
        if (!cb(params, arg))
            return 0;
    }
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return reasons;
}

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL,
                        0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
        OSSL_PARAM_END,
    };

    (void)provctx;
    return params;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    (void)provctx;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) &&
        !OSSL_PARAM_set_utf8_ptr(p, "secretref: keys by reference"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) &&
        !OSSL_PARAM_set_utf8_ptr(p, SECRETREF_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) &&
        !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

/* The live contexts, for the fork handlers. Before fork() each context's
 * lock is taken, so the child inherits no half-done key load and no held
 * lock, and its store is closed, so no SQLite connection crosses into the
 * child; each process reopens the store on next use. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static struct prov_ctx **live;
static size_t live_count;

static void fork_prepare(void)
{
    size_t i;

    pthread_mutex_lock(&live_lock);
    for (i = 0; i < live_count; i++) {
        pthread_mutex_lock(&live[i]->lock);
        /* A handle of an earlier parent is abandoned, as below. */
        if (live[i]->store && live[i]->store_pid == getpid())
            sr_store_free(live[i]->store);
        live[i]->store = NULL;
    }
}

/* After fork(), in the parent and in the child alike. */
static void fork_release(void)
{
    size_t i;

    for (i = 0; i < live_count; i++)
        pthread_mutex_unlock(&live[i]->lock);
    pthread_mutex_unlock(&live_lock);
}

static void atfork_register(void)
{
    /* The module stays loaded (-z nodelete), so the handlers stay valid. */
    pthread_atfork(fork_prepare, fork_release, fork_release);
}

static int live_add(struct prov_ctx *ctx)
{
    struct prov_ctx **grown;
    int ok = 0;

    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&live_lock);
    if ((grown = realloc(live,
                         (live_count + 1) * sizeof(struct prov_ctx *)))) {
        live = grown;
        live[live_count++] = ctx;
        ok = 1;
    }
    pthread_mutex_unlock(&live_lock);
    return ok;
}

static void live_remove(const struct prov_ctx *ctx)
{
    size_t i;

    pthread_mutex_lock(&live_lock);
    for (i = 0; i < live_count; i++) {
        if (live[i] == ctx) {
            live[i] = live[--live_count];
            break;
        }
    }
    pthread_mutex_unlock(&live_lock);
}

static void teardown(void *provctx)
{
    struct prov_ctx *ctx = provctx;

    if (!ctx)
        return;
    live_remove(ctx);
    /* A handle opened by a parent process is not ours to close. */
    if (ctx->store && ctx->store_pid == getpid())
        sr_store_free(ctx->store);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->store_path);
    free(ctx->key_file);
    free(ctx->environment);
    free(ctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS,
     (void (*)(void))get_reason_strings},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))get_capabilities},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {0, NULL},
};

void prov_raise(struct prov_ctx *ctx, sr_rc reason, const char *fmt, ...)
{
    va_list ap;

    if (!ctx || !ctx->core_new_error)
        return;
    ctx->core_new_error(ctx->handle);
    ctx->core_set_error_debug(ctx->handle, OPENSSL_FILE, OPENSSL_LINE,
                              "secretref");
    va_start(ap, fmt);
    ctx->core_vset_error(ctx->handle, (uint32_t)reason, fmt, ap);
    va_end(ap);
}

/* The store, opened on first use and again in a forked child: SQLite
 * connections must not cross fork(). Called with the lock held. */
static sr_rc store_get_locked(struct prov_ctx *ctx, sr_store **out)
{
    sr_config cfg;
    char err[512];
    sr_rc rc;

    if (ctx->store && ctx->store_pid == getpid()) {
        *out = ctx->store;
        return SR_OK;
    }
    /* The parent's handle is abandoned, not closed, in a child. */
    ctx->store = NULL;
    memset(&cfg, 0, sizeof(cfg));
    cfg.program = "openssl-provider";
    cfg.module_store_path = ctx->store_path;
    cfg.module_key_file = ctx->key_file;
    cfg.module_environment = ctx->environment;
    rc = sr_store_open(&cfg, &ctx->store, err, sizeof(err));
    if (rc != SR_OK) {
        prov_raise(ctx, rc, "%s", err);
        return rc;
    }
    ctx->store_pid = getpid();
    *out = ctx->store;
    return SR_OK;
}

sr_rc prov_key_open_ref(struct prov_ctx *ctx, const char *name, sr_key **out)
{
    sr_store *st = NULL;
    sr_rc rc;

    pthread_mutex_lock(&ctx->lock);
    if ((rc = store_get_locked(ctx, &st)) == SR_OK &&
        (rc = sr_key_open(st, name, out)) != SR_OK)
        prov_raise(ctx, rc, "%s", sr_store_errmsg(st));
    pthread_mutex_unlock(&ctx->lock);
    return rc;
}

sr_rc prov_ref_lookup(struct prov_ctx *ctx, const char *name,
                      sr_ref_info *info)
{
    sr_store *st = NULL;
    sr_rc rc;

    memset(info, 0, sizeof(*info));
    pthread_mutex_lock(&ctx->lock);
    if ((rc = store_get_locked(ctx, &st)) == SR_OK &&
        (rc = sr_ref_lookup(st, name, info)) != SR_OK)
        prov_raise(ctx, rc, "%s", sr_store_errmsg(st));
    pthread_mutex_unlock(&ctx->lock);
    return rc;
}

/* Reads our settings from the provider's section in openssl.cnf. */
static int read_settings(struct prov_ctx *ctx, const OSSL_DISPATCH *in)
{
    OSSL_FUNC_core_get_params_fn *core_get_params = NULL;
    char *store = NULL, *key_file = NULL, *environment = NULL;
    OSSL_PARAM params[4];

    for (; in->function_id; in++)
        if (in->function_id == OSSL_FUNC_CORE_GET_PARAMS)
            core_get_params = OSSL_FUNC_core_get_params(in);
    if (!core_get_params)
        return 1;
    params[0] = OSSL_PARAM_construct_utf8_ptr("store", &store, 0);
    params[1] = OSSL_PARAM_construct_utf8_ptr("key_file", &key_file, 0);
    params[2] = OSSL_PARAM_construct_utf8_ptr("environment", &environment,
                                              0);
    params[3] = OSSL_PARAM_construct_end();
    if (!core_get_params(ctx->handle, params))
        return 1;
    if ((store && !(ctx->store_path = strdup(store))) ||
        (key_file && !(ctx->key_file = strdup(key_file))) ||
        (environment && !(ctx->environment = strdup(environment))))
        return 0;
    return 1;
}

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle,
                       const OSSL_DISPATCH *in, const OSSL_DISPATCH **out,
                       void **provctx)
{
    const OSSL_DISPATCH *f;
    struct prov_ctx *ctx;
    int i;

    if (!(ctx = calloc(1, sizeof(*ctx))))
        return 0;
    ctx->handle = handle;
    pthread_mutex_init(&ctx->lock, NULL);
    for (f = in; f->function_id; f++) {
        switch (f->function_id) {
        case OSSL_FUNC_CORE_NEW_ERROR:
            ctx->core_new_error = OSSL_FUNC_core_new_error(f);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            ctx->core_set_error_debug = OSSL_FUNC_core_set_error_debug(f);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            ctx->core_vset_error = OSSL_FUNC_core_vset_error(f);
            break;
        case OSSL_FUNC_BIO_READ_EX:
            ctx->core_bio_read_ex = OSSL_FUNC_BIO_read_ex(f);
            break;
        case OSSL_FUNC_BIO_WRITE_EX:
            ctx->core_bio_write_ex = OSSL_FUNC_BIO_write_ex(f);
            break;
        default:
            break;
        }
    }
    if (!ctx->core_new_error || !ctx->core_set_error_debug ||
        !ctx->core_vset_error) {
        ctx->core_new_error = NULL;
    }
    if (!read_settings(ctx, in) || !live_add(ctx)) {
        teardown(ctx);
        return 0;
    }
    for (i = 1; i < SR_RC_COUNT; i++) {
        reasons[i - 1].id = (unsigned long)i;
        reasons[i - 1].ptr = (void *)sr_strerror((sr_rc)i);
    }
    *out = provider_functions;
    *provctx = ctx;
    return 1;
}
