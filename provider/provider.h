/* SPDX-License-Identifier: Apache-2.0 */
/* The secretref OpenSSL 3 provider: shared by its files only. */
#ifndef SECRETREF_PROVIDER_H
#define SECRETREF_PROVIDER_H

#include "secretref.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>

#define PROV_NAME "secretref"
#define PROV_PROPS "provider=secretref"

/* The provider's context: its settings and one store handle shared by
 * every key load, opened on first use. */
struct prov_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_FUNC_core_new_error_fn *core_new_error;
    OSSL_FUNC_core_set_error_debug_fn *core_set_error_debug;
    OSSL_FUNC_core_vset_error_fn *core_vset_error;
    OSSL_FUNC_BIO_write_ex_fn *core_bio_write_ex;
    OSSL_FUNC_BIO_read_ex_fn *core_bio_read_ex;
    char *store_path, *key_file, *environment;
    pthread_mutex_t lock;
    sr_store *store;  /* guarded by lock */
    pid_t store_pid;  /* the process that opened it */
};

/* Raises an error through the core: reason is an sr_rc (our reason
 * strings are sr_strerror's), the text one line. */
void prov_raise(struct prov_ctx *ctx, sr_rc reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Opens the certificate reference name through the shared store. */
sr_rc prov_key_open_ref(struct prov_ctx *ctx, const char *name,
                        sr_key **out);

/* The metadata of a reference (its certificate chain), without its key. */
sr_rc prov_ref_lookup(struct prov_ctx *ctx, const char *name,
                      sr_ref_info *info);

/* ---- keys -------------------------------------------------------------- */

enum prov_alg { PROV_RSA = 1, PROV_RSA_PSS, PROV_EC, PROV_ED25519 };

#define PROV_SHADOWS 4
struct prov_shadow;

/* A key as OpenSSL sees it. A store key holds its private half only by
 * reference (sk, in the key core); a local key (an imported public key,
 * an ephemeral key made here) is an ordinary EVP_PKEY. pub is always
 * the public half, in the key core's library context. */
struct prov_key {
    atomic_int refs;
    struct prov_ctx *ctx;
    enum prov_alg alg;
    sr_key *sk;      /* a store key, or NULL */
    EVP_PKEY *local; /* a local key (may be private), or NULL */
    EVP_PKEY *pub;   /* the public half, or NULL for an empty key */
    /* Verify contexts over pub, one per digest, made on first use and
     * copied for each signature context (signature.c). */
    _Atomic(struct prov_shadow *) shadows[PROV_SHADOWS];
};

struct prov_key *prov_key_new(struct prov_ctx *ctx, enum prov_alg alg);
struct prov_key *prov_key_from_store(struct prov_ctx *ctx, sr_key *sk);
struct prov_key *prov_key_ref(struct prov_key *key);
void prov_key_free(struct prov_key *key);
/* The key that does private operations on a local key: local, or NULL. */
int prov_key_is_private(const struct prov_key *key);
const char *prov_alg_name(enum prov_alg alg);
/* Frees the shadows signature.c made for key. */
void prov_shadows_free(struct prov_key *key);

/* ---- dispatch tables ----------------------------------------------------- */

extern const OSSL_DISPATCH prov_rsa_keymgmt[];
extern const OSSL_DISPATCH prov_rsa_pss_keymgmt[];
extern const OSSL_DISPATCH prov_ec_keymgmt[];
extern const OSSL_DISPATCH prov_ed25519_keymgmt[];
extern const OSSL_DISPATCH prov_store_loader[];
extern const OSSL_DISPATCH prov_rsa_signature[];
extern const OSSL_DISPATCH prov_ecdsa_signature[];
extern const OSSL_DISPATCH prov_ed25519_signature[];
extern const OSSL_DISPATCH prov_rsa_asym_cipher[];
extern const OSSL_DISPATCH prov_ecdh_keyexch[];
extern const OSSL_DISPATCH prov_text_encoder[];
extern const OSSL_DISPATCH prov_pem_decoder[];
extern const OSSL_DISPATCH prov_rsa_reference_decoder[];
extern const OSSL_DISPATCH prov_ec_reference_decoder[];
extern const OSSL_DISPATCH prov_ed25519_reference_decoder[];

/* The names the default provider uses, so libssl, CMS and X.509 treat
 * our keys as theirs (provider-notes.md, "Names"). */
#define PROV_NAMES_RSA "RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define PROV_NAMES_RSA_PSS "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10"
#define PROV_NAMES_EC "EC:id-ecPublicKey:1.2.840.10045.2.1"
#define PROV_NAMES_ED25519 "ED25519:1.3.101.112"

/* The PEM type of a file that holds only a reference. */
#define PROV_PEM_NAME "SECRETREF KEY"

#endif
