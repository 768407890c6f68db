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

#endif
