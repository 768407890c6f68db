/* SPDX-License-Identifier: Apache-2.0 */
/* The Key Vault client inside the store (store/ only). */
#ifndef SECRETREF_KEYVAULT_H
#define SECRETREF_KEYVAULT_H

#include "internal.h"

#include <time.h>

/* What Key Vault said of a secret besides its value. */
struct sr_vault_meta {
    char version[64];
    time_t exp, nbf; /* 0: none */
    char content_type[64];
};

/* Fetches the secret a key-vault reference names (its current locator).
 * Nothing is written anywhere; *value is cleansed when freed. */
sr_rc sr_keyvault_fetch(sr_store *st, const struct sr_ref_row *ref,
                        sr_secret **value, struct sr_vault_meta *meta);

/* A token for client c (see entra.c). */
sr_rc sr_entra_token(sr_store *st, const sr_keyvault_client *c,
                     const char *authority, const char *tenant,
                     const char *resource, double deadline, int refresh,
                     char **token);
char *sr_url_encode(const unsigned char *s, size_t len);

/* The parsers of what Key Vault and Entra ID answer (exposed for the fuzz
 * targets in tests/fuzz/). */
struct sr_http_response;
/* A secret bundle: *value (sr_secret_free) and meta; SR_ERR_REMOTE or
 * SR_ERR_EXPIRED with a message on st, naming where. */
sr_rc sr_keyvault_bundle_read(sr_store *st, const char *where,
                              const struct sr_http_response *r,
                              sr_secret **value, struct sr_vault_meta *meta);
/* Key Vault's error code of a failed answer, in code. */
void sr_keyvault_error_code(const struct sr_http_response *r, char *code,
                            size_t size);
/* The value of key="..." in a WWW-Authenticate challenge, or NULL; free(). */
char *sr_challenge_param(const char *header, const char *key);
/* Are two resource URLs the same, but for case and a trailing slash? */
int sr_same_resource(const char *a, const char *b);
/* A token reply of Entra ID or the instance metadata service: *token
 * (OPENSSL_clear_free) and its lifetime; SR_ERR_REMOTE without a token. */
sr_rc sr_entra_reply_read(const char *body, char **token, double *expires_in);
/* Entra's error code ("AADSTS7000215", else "error") of a failed answer. */
void sr_entra_error_code(const struct sr_http_response *r, char *code,
                         size_t size);

#endif
