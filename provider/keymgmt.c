/* SPDX-License-Identifier: Apache-2.0 */
/* Key management for RSA, RSA-PSS, EC and Ed25519. A store key exports
 * its public half and never its private one; local keys (imported peers,
 * ephemeral keys) are ordinary keys in the key core's library context, so
 * whichever provider wins a fetch, public operations keep working. */
#include "provider.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static const char *const alg_names[] = {
    [PROV_RSA] = "RSA",
    [PROV_RSA_PSS] = "RSA-PSS",
    [PROV_EC] = "EC",
    [PROV_ED25519] = "ED25519",
};

const char *prov_alg_name(enum prov_alg alg)
{
    return alg_names[alg];
}

struct prov_key *prov_key_new(struct prov_ctx *ctx, enum prov_alg alg)
{
    struct prov_key *key = calloc(1, sizeof(*key));
    size_t i;

    if (!key)
        return NULL;
    atomic_init(&key->refs, 1);
    for (i = 0; i < PROV_SHADOWS; i++)
        atomic_init(&key->shadows[i], NULL);
    key->ctx = ctx;
    key->alg = alg;
    return key;
}

struct prov_key *prov_key_from_store(struct prov_ctx *ctx, sr_key *sk)
{
    const unsigned char *p;
    struct prov_key *key;
    enum prov_alg alg;
    size_t len;

    switch (sr_key_get_type(sk)) {
    case SR_KEY_RSA:
        alg = PROV_RSA;
        break;
    case SR_KEY_EC:
        alg = PROV_EC;
        break;
    case SR_KEY_ED25519:
        alg = PROV_ED25519;
        break;
    default:
        return NULL;
    }
    if (!(key = prov_key_new(ctx, alg)))
        return NULL;
    p = sr_key_public_der(sk, &len);
    if (!(key->pub = d2i_PUBKEY_ex(NULL, &p, (long)len, sr_libctx(),
                                   NULL))) {
        free(key);
        return NULL;
    }
    key->sk = sr_key_ref(sk);
    return key;
}

struct prov_key *prov_key_ref(struct prov_key *key)
{
    if (key)
        atomic_fetch_add(&key->refs, 1);
    return key;
}

void prov_key_free(struct prov_key *key)
{
    if (!key || atomic_fetch_sub(&key->refs, 1) != 1)
        return;
    sr_key_free(key->sk);
    prov_shadows_free(key);
    EVP_PKEY_free(key->local);
    EVP_PKEY_free(key->pub);
    free(key);
}

int prov_key_is_private(const struct prov_key *key)
{
    /* local is set only for a private key (import of a key pair, gen);
     * it is then the same object as pub. */
    return key->sk || key->local;
}

/* ---- the functions of the dispatch tables ----------------------------- */

static void *new_key(void *provctx, enum prov_alg alg)
{
    return prov_key_new(provctx, alg);
}

static void *rsa_new(void *provctx) { return new_key(provctx, PROV_RSA); }
static void *rsa_pss_new(void *provctx)
{
    return new_key(provctx, PROV_RSA_PSS);
}
static void *ec_new(void *provctx) { return new_key(provctx, PROV_EC); }
static void *ed25519_new(void *provctx)
{
    return new_key(provctx, PROV_ED25519);
}

static void km_free(void *key)
{
    prov_key_free(key);
}

/* The store loader hands over a pointer to its key as the reference. */
static void *km_load(const void *reference, size_t reference_sz)
{
    struct prov_key *key;

    if (!reference || reference_sz != sizeof(struct prov_key *))
        return NULL;
    memcpy(&key, reference, sizeof(struct prov_key *));
    return prov_key_ref(key);
}

static int km_has(const void *keydata, int selection)
{
    const struct prov_key *key = keydata;

    if (!key)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) &&
        !prov_key_is_private(key))
        return 0;
    if ((selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY |
                      OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) &&
        !key->pub)
        return 0;
    return 1;
}

static int km_match(const void *a, const void *b, int selection)
{
    const struct prov_key *ka = a, *kb = b;

    (void)selection;
    if (!ka->pub || !kb->pub)
        return 0;
    /* Two keys match when their public halves do (X509_check_private_key,
     * s_server's key and certificate, openssl ca). */
    return EVP_PKEY_eq(ka->pub, kb->pub) == 1;
}

static int km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct prov_key *key = keydata;

    if (!key->pub)
        return 1;
    return EVP_PKEY_get_params(key->pub, params);
}

/* The default provider's keymgmt for alg, fetched once, for its tables. */
static EVP_KEYMGMT *default_keymgmt(enum prov_alg alg)
{
    static EVP_KEYMGMT *cache[PROV_ED25519 + 1];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    EVP_KEYMGMT *km;

    pthread_mutex_lock(&lock);
    if (!cache[alg])
        cache[alg] = EVP_KEYMGMT_fetch(sr_libctx(), alg_names[alg],
                                       "provider=default");
    km = cache[alg];
    pthread_mutex_unlock(&lock);
    return km;
}

#define TABLE_FN(alg_id, suffix, getter)                                     \
    static const OSSL_PARAM *suffix(void *provctx)                           \
    {                                                                        \
        EVP_KEYMGMT *km = default_keymgmt(alg_id);                           \
        (void)provctx;                                                       \
        return km ? getter(km) : NULL;                                       \
    }

TABLE_FN(PROV_RSA, rsa_gettable, EVP_KEYMGMT_gettable_params)
TABLE_FN(PROV_RSA_PSS, rsa_pss_gettable, EVP_KEYMGMT_gettable_params)
TABLE_FN(PROV_EC, ec_gettable, EVP_KEYMGMT_gettable_params)
TABLE_FN(PROV_ED25519, ed25519_gettable, EVP_KEYMGMT_gettable_params)
TABLE_FN(PROV_RSA, rsa_settable, EVP_KEYMGMT_settable_params)
TABLE_FN(PROV_RSA_PSS, rsa_pss_settable, EVP_KEYMGMT_settable_params)
TABLE_FN(PROV_EC, ec_settable, EVP_KEYMGMT_settable_params)
TABLE_FN(PROV_ED25519, ed25519_settable, EVP_KEYMGMT_settable_params)

/* Import and export types: what the default provider takes, so a key can
 * move between it and us. */
static const OSSL_PARAM rsa_types[] = {
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_D, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_FACTOR1, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_FACTOR2, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_EXPONENT1, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_EXPONENT2, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, NULL, 0),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ec_types[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL,
                           0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_USE_COFACTOR_ECDH, NULL),
    OSSL_PARAM_END,
};
static const OSSL_PARAM ed25519_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *rsa_io_types(int selection)
{
    (void)selection;
    return rsa_types;
}
static const OSSL_PARAM *ec_io_types(int selection)
{
    (void)selection;
    return ec_types;
}
static const OSSL_PARAM *ed25519_io_types(int selection)
{
    (void)selection;
    return ed25519_types;
}

static int km_export(void *keydata, int selection, OSSL_CALLBACK *cb,
                     void *cbarg)
{
    struct prov_key *key = keydata;

    /* The private half of a store key never leaves. This is tried on
     * every operation when another provider's implementation is fetched
     * first, so it fails at once, quietly, before anything else. */
    if (key->sk && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
        return 0;
    if (key->local)
        return EVP_PKEY_export(key->local, selection, cb, cbarg);
    if (!key->pub)
        return 0;
    return EVP_PKEY_export(key->pub, selection, cb, cbarg);
}

static int km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct prov_key *key = keydata;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_PKEY *pkey = NULL;
    int what, ok = 0;

    if (key->sk || key->pub)
        return 0;
    if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY)
        what = EVP_PKEY_KEYPAIR;
    else if (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY)
        what = EVP_PKEY_PUBLIC_KEY;
    else
        what = EVP_PKEY_KEY_PARAMETERS;
    if (!(pctx = EVP_PKEY_CTX_new_from_name(sr_libctx(),
                                            alg_names[key->alg],
                                            "provider=default")) ||
        EVP_PKEY_fromdata_init(pctx) != 1 ||
        EVP_PKEY_fromdata(pctx, &pkey, what, (OSSL_PARAM *)params) != 1)
        goto out;
    key->local = pkey;
    key->pub = pkey;
    /* The public half is the same object; count it twice. */
    EVP_PKEY_up_ref(pkey);
    if (what != EVP_PKEY_KEYPAIR) {
        EVP_PKEY_free(key->local);
        key->local = NULL;
    }
    ok = 1;
out:
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static const char *ec_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_KEYEXCH ? "ECDH" : "ECDSA";
}
static const char *rsa_operation_name(int operation_id)
{
    (void)operation_id;
    return "RSA";
}
static const char *ed25519_operation_name(int operation_id)
{
    (void)operation_id;
    return "ED25519";
}

/* EVP_PKEY_dup: the key is immutable once made, so a copy is a count. */
static void *km_dup(const void *keydata, int selection)
{
    (void)selection;
    return prov_key_ref((struct prov_key *)keydata);
}

/* ---- generation: ephemeral keys (ECDHE in TLS), if our keymgmt is the
 * one fetched. Made by the default provider in the key core's context. */

struct gen_ctx {
    struct prov_ctx *ctx;
    enum prov_alg alg;
    int params_only;
    EVP_PKEY_CTX *pctx;
};

static void *gen_init(void *provctx, int selection, const OSSL_PARAM params[],
                      enum prov_alg alg)
{
    struct gen_ctx *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    g->ctx = provctx;
    g->alg = alg;
    /* Parameters alone: libssl makes a TLS peer's key this way, then sets
     * its public point (km_set_params). */
    g->params_only = !(selection & OSSL_KEYMGMT_SELECT_KEYPAIR);
    if (!(g->pctx = EVP_PKEY_CTX_new_from_name(
              sr_libctx(), alg_names[alg], "provider=default")) ||
        (g->params_only ? EVP_PKEY_paramgen_init(g->pctx)
                        : EVP_PKEY_keygen_init(g->pctx)) != 1 ||
        (params && EVP_PKEY_CTX_set_params(g->pctx, params) != 1)) {
        EVP_PKEY_CTX_free(g->pctx);
        free(g);
        return NULL;
    }
    return g;
}

static void *rsa_gen_init(void *c, int s, const OSSL_PARAM p[])
{
    return gen_init(c, s, p, PROV_RSA);
}
static void *rsa_pss_gen_init(void *c, int s, const OSSL_PARAM p[])
{
    return gen_init(c, s, p, PROV_RSA_PSS);
}
static void *ec_gen_init(void *c, int s, const OSSL_PARAM p[])
{
    return gen_init(c, s, p, PROV_EC);
}
static void *ed25519_gen_init(void *c, int s, const OSSL_PARAM p[])
{
    return gen_init(c, s, p, PROV_ED25519);
}

static int gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    struct gen_ctx *g = genctx;

    return EVP_PKEY_CTX_set_params(g->pctx, params) == 1;
}

static int gen_set_template(void *genctx, void *templ)
{
    struct gen_ctx *g = genctx;
    struct prov_key *t = templ;
    char group[64];
    OSSL_PARAM params[2];

    if (!t->pub)
        return 0;
    if (g->alg != PROV_EC)
        return 1;
    if (EVP_PKEY_get_utf8_string_param(t->pub, OSSL_PKEY_PARAM_GROUP_NAME,
                                       group, sizeof(group), NULL) != 1)
        return 0;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 group, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_PKEY_CTX_set_params(g->pctx, params) == 1;
}

static const OSSL_PARAM *gen_settable(enum prov_alg alg)
{
    static const OSSL_PARAM *cache[PROV_ED25519 + 1];
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    EVP_PKEY_CTX *pctx;

    pthread_mutex_lock(&lock);
    if (!cache[alg] &&
        (pctx = EVP_PKEY_CTX_new_from_name(sr_libctx(), alg_names[alg],
                                           "provider=default"))) {
        /* The table belongs to the default provider and outlives pctx. */
        if (EVP_PKEY_keygen_init(pctx) == 1)
            cache[alg] = EVP_PKEY_CTX_settable_params(pctx);
        EVP_PKEY_CTX_free(pctx);
    }
    pthread_mutex_unlock(&lock);
    return cache[alg];
}

static const OSSL_PARAM *rsa_gen_settable(void *g, void *p)
{
    (void)g, (void)p;
    return gen_settable(PROV_RSA);
}
static const OSSL_PARAM *rsa_pss_gen_settable(void *g, void *p)
{
    (void)g, (void)p;
    return gen_settable(PROV_RSA_PSS);
}
static const OSSL_PARAM *ec_gen_settable(void *g, void *p)
{
    (void)g, (void)p;
    return gen_settable(PROV_EC);
}
static const OSSL_PARAM *ed25519_gen_settable(void *g, void *p)
{
    (void)g, (void)p;
    return gen_settable(PROV_ED25519);
}

static void *gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    struct gen_ctx *g = genctx;
    struct prov_key *key;
    EVP_PKEY *pkey = NULL;

    (void)cb, (void)cbarg;
    if (EVP_PKEY_generate(g->pctx, &pkey) != 1)
        return NULL;
    if (!(key = prov_key_new(g->ctx, g->alg))) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (g->params_only) {
        /* No private half: a peer's key once its point is set. */
        key->pub = pkey;
        return key;
    }
    key->local = pkey;
    key->pub = pkey;
    EVP_PKEY_up_ref(pkey);
    return key;
}

/* Only local keys change (libssl sets a TLS peer's point); a store key's
 * public half is bound to its seal and never changes here. */
static int km_set_params(void *keydata, const OSSL_PARAM params[])
{
    struct prov_key *key = keydata;

    if (!params || !params[0].key)
        return 1;
    if (key->sk || !key->pub)
        return 0;
    return EVP_PKEY_set_params(key->pub, (OSSL_PARAM *)params) == 1;
}

static void gen_cleanup(void *genctx)
{
    struct gen_ctx *g = genctx;

    if (!g)
        return;
    EVP_PKEY_CTX_free(g->pctx);
    free(g);
}

#define KEYMGMT_TABLE(table, prefix, io_types, op_name)                      \
    const OSSL_DISPATCH table[] = {                                          \
        {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))prefix##_new},               \
        {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free},                   \
        {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))km_load},                   \
        {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has},                     \
        {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match},                 \
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params},       \
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,                                  \
         (void (*)(void))prefix##_gettable},                                 \
        {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export},               \
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))(io_types)},        \
        {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import},               \
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))(io_types)},        \
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))(op_name)}, \
        {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup},                     \
        {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))prefix##_gen_init},     \
        {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))gen_set_params},  \
        {OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE,                                 \
         (void (*)(void))gen_set_template},                                  \
        {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS,                              \
         (void (*)(void))prefix##_gen_settable},                             \
        {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))gen},                        \
        {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))gen_cleanup},        \
        {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))km_set_params},       \
        {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS,                                  \
         (void (*)(void))prefix##_settable},                                 \
        {0, NULL},                                                           \
    }

KEYMGMT_TABLE(prov_rsa_keymgmt, rsa, rsa_io_types, rsa_operation_name);
KEYMGMT_TABLE(prov_rsa_pss_keymgmt, rsa_pss, rsa_io_types,
              rsa_operation_name);
KEYMGMT_TABLE(prov_ec_keymgmt, ec, ec_io_types, ec_operation_name);
KEYMGMT_TABLE(prov_ed25519_keymgmt, ed25519, ed25519_io_types,
              ed25519_operation_name);
