/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by store/ only: never installed, never included outside store/,
 * tests/ and bench/. */
#ifndef SECRETREF_INTERNAL_H
#define SECRETREF_INTERNAL_H

#include "secretref.h"

#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sqlite3.h>

/* ---- errors ------------------------------------------------------------ */

#define SR_ERRMSG_MAX 512

/* One failure: its code and one line that says what and why. */
struct sr_error {
    sr_rc rc;
    char msg[SR_ERRMSG_MAX];
};

/* Records rc with a printf-style message in e (which may be NULL) and
 * returns rc, so callers write: return sr_error_set(e, SR_ERR_X, "...");
 * An SR_OK rc clears e. */
sr_rc sr_error_set(struct sr_error *e, sr_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, valued rc itself: the static analyzer does not look into
 * variadic functions, and so saw every error path as a possible success. */
#define sr_error_set(e, rc, ...)                                             \
    __extension__({                                                          \
        sr_rc sr_error_rc_ = (rc);                                           \
        (sr_error_set)((e), sr_error_rc_, __VA_ARGS__);                      \
        sr_error_rc_;                                                        \
    })

/* Clears e and returns SR_OK. */
sr_rc sr_error_clear(struct sr_error *e);

/* Appends the first queued OpenSSL error reason to e's message and clears
 * the OpenSSL error queue. */
void sr_error_add_openssl(struct sr_error *e);

/* ---- the private library context ---------------------------------------- */

/* sr_libctx() (public): the key core and the key-file readers do all their
 * cryptography there. */

/* ---- reading key files (keyfile.c, sshkey.c) ---------------------------- */

/* What a key file held: the private key (in sr_libctx()) and, when present,
 * its certificate chain with the leaf that matches the key first. */
struct sr_keymaterial {
    EVP_PKEY *pkey;
    STACK_OF(X509) *chain; /* NULL when the file had no certificate */
};

/* Reads a private key from data: PEM (PKCS#1, PKCS#8, encrypted PKCS#8,
 * SEC1 EC), DER (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8), PKCS#12 with or
 * without a password, or an unencrypted OpenSSH private key (RSA, ECDSA
 * P-256/384/521, Ed25519). Certificates found in the same file are kept;
 * one that matches no key is refused (SR_ERR_FORMAT). password may be NULL.
 * Errors: SR_ERR_FORMAT (not a key file, truncated, encrypted OpenSSH key:
 * the message says how to convert it), SR_ERR_PASSWORD (wrong or missing
 * password), SR_ERR_UNSUPPORTED (a key type we do not hold), SR_ERR_NOMEM.
 * On failure out is untouched. The caller clears out. */
sr_rc sr_keyfile_read(const unsigned char *data, size_t len,
                      const sr_secret *password, struct sr_keymaterial *out,
                      struct sr_error *e);
void sr_keymaterial_clear(struct sr_keymaterial *km);

/* The bound on the iterations a key file's PBKDF2, PBE or PKCS#12 MAC may
 * ask for: far above any exporter's (2048 to 600000), and a few seconds. */
#define SR_KDF_ITER_MAX 10000000L

/* The work a password-based encryption asks for (pbecost.c), checked
 * before any of it is done: SR_OK, or SR_ERR_FORMAT with a message when
 * its iterations or scrypt's N*r*p are beyond the bound. Parameters that do
 * not parse pass, for the decoder to report. sr_pkcs8_check_cost reads an
 * EncryptedPrivateKeyInfo; sr_pkcs12_check_cost every shrouded key bag of
 * a PKCS#12 file and every encrypted part, which it decrypts with pass
 * (NULL or a C string, as PKCS12_parse takes it) to reach the bags inside. */
sr_rc sr_pbe_check_cost(const X509_ALGOR *alg, struct sr_error *e);
sr_rc sr_pkcs8_check_cost(const unsigned char *der, size_t len,
                          struct sr_error *e);
sr_rc sr_pkcs12_check_cost(const PKCS12 *p12, const char *pass,
                           struct sr_error *e);

/* The key types we hold: RSA (2048 bits and more), EC P-256/384/521,
 * Ed25519. Returns SR_OK or SR_ERR_UNSUPPORTED with a message. */
sr_rc sr_pkey_check_supported(const EVP_PKEY *pkey, struct sr_error *e);

/* SSH public key blob (RFC 4253 / 5656 / 8709) of a public or private key,
 * and its algorithm name ("ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519").
 * *blob is freed with OPENSSL_free. */
sr_rc sr_ssh_pubkey_blob(const EVP_PKEY *pkey, unsigned char **blob,
                         size_t *bloblen, const char **algorithm,
                         struct sr_error *e);
/* "ALG BASE64 COMMENT\n" (comment may be NULL); freed with free(). */
sr_rc sr_ssh_pubkey_line(const EVP_PKEY *pkey, const char *comment,
                         char **line, struct sr_error *e);
/* "SHA256:..." of the SSH blob, as ssh-keygen -l prints; free(). */
sr_rc sr_ssh_fingerprint(const EVP_PKEY *pkey, char **fingerprint,
                         struct sr_error *e);

/* Parses an OpenSSH "openssh-key-v1" private key (PEM armoured). */
sr_rc sr_openssh_private_read(const unsigned char *data, size_t len,
                              EVP_PKEY **out, struct sr_error *e);

/* ---- sealing (seal.c) ----------------------------------------------------- */

#define SR_KEK_LEN 32
#define SR_STORE_ID_LEN 16

/* The row a sealed value belongs to: all of it is authenticated. */
struct sr_seal_binding {
    const char *store_id;  /* hex */
    const char *ref_uuid;  /* immutable id of the reference */
    sr_kind kind;
    int version;
    int64_t env_id; /* 0: no environment type */
    /* Certificate versions: SHA-256 of the public key and certificate
     * chain kept beside the sealed key, so neither can be swapped. */
    int has_public;
    unsigned char public_digest[32];
};

/* Binds b to a version's public parts (a no-op without a public key).
 * When the digest cannot be made (out of memory) has_public is -1, and
 * sr_seal, sr_unseal and sr_reseal_wrap refuse b with SR_ERR_NOMEM. */
void sr_binding_public(struct sr_seal_binding *b,
                       const unsigned char *public_key, size_t public_len,
                       const char *chain_pem);

/* Seals plaintext under a fresh data key wrapped by kek (key id key_id).
 * *sealed is malloc'd. */
sr_rc sr_seal(const unsigned char kek[SR_KEK_LEN], int key_id,
              const struct sr_seal_binding *b, const unsigned char *plaintext,
              size_t len, unsigned char **sealed, size_t *sealed_len,
              struct sr_error *e);
/* Opens a sealed value: SR_ERR_TAMPER when anything was changed or it was
 * moved to another row. */
sr_rc sr_unseal(const unsigned char kek[SR_KEK_LEN],
                const struct sr_seal_binding *b, const unsigned char *sealed,
                size_t sealed_len, sr_secret **out, struct sr_error *e);
/* The key id a sealed value records (no key needed); -1 if malformed. */
int sr_sealed_key_id(const unsigned char *sealed, size_t sealed_len);
/* Re-wraps the data key of sealed under new_kek/new_key_id, leaving the
 * ciphertext as it is. *out is malloc'd. */
sr_rc sr_reseal_wrap(const unsigned char old_kek[SR_KEK_LEN],
                     const unsigned char new_kek[SR_KEK_LEN], int new_key_id,
                     const struct sr_seal_binding *b,
                     const unsigned char *sealed, size_t sealed_len,
                     unsigned char **out, size_t *out_len, struct sr_error *e);

/* The key ring's check value: a seal of a constant bound to the store and
 * key id, so a wrong key gives SR_ERR_WRONG_KEY rather than a tamper error
 * on the first secret. */
sr_rc sr_check_value_make(const unsigned char kek[SR_KEK_LEN], int key_id,
                          const char *store_id, unsigned char **out,
                          size_t *out_len, struct sr_error *e);
sr_rc sr_check_value_verify(const unsigned char kek[SR_KEK_LEN], int key_id,
                            const char *store_id, const unsigned char *value,
                            size_t len, struct sr_error *e);

/* scrypt N=2^17 r=8 p=1 through EVP_KDF "SCRYPT". */
sr_rc sr_kek_from_passphrase(const char *passphrase, size_t len,
                             const unsigned char *salt, size_t salt_len,
                             uint64_t n, uint32_t r, uint32_t p,
                             unsigned char kek[SR_KEK_LEN],
                             struct sr_error *e);
/* Reads a 32-byte key file (hex or raw) after checking it is not group- or
 * world-accessible; creates one with mode 0600. */
sr_rc sr_kek_read_file(const char *path, unsigned char kek[SR_KEK_LEN],
                       struct sr_error *e);
sr_rc sr_kek_create_file(const char *path, unsigned char kek[SR_KEK_LEN],
                         struct sr_error *e);

/* ---- small utilities (util.c) -------------------------------------------- */

/* Reads a whole file (at most max bytes) into a secret buffer. */
sr_rc sr_file_read_secret(const char *path, size_t max, sr_secret **out,
                          struct sr_error *e);
/* Hex of len bytes into a malloc'd string. */
char *sr_hex(const unsigned char *data, size_t len);
/* "YYYY-MM-DDTHH:MM:SSZ" of now, in a caller buffer of 21 bytes. */
void sr_now_iso(char buf[21]);
/* Validates "YYYY-MM-DD" (a real calendar date). */
int sr_date_valid(const char *date);
/* Validates a reference, environment or client name: 1 to 200 bytes of
 * printable UTF-8, no control characters, no leading or trailing space. */
sr_rc sr_name_check(const char *what, const char *name, struct sr_error *e);

/* ---- the store handle ------------------------------------------------------ */

#define SR_SCHEMA_VERSION 1

struct sr_store {
    sqlite3 *db;
    char *path;
    char store_id[2 * SR_STORE_ID_LEN + 1];
    sr_secret *kek;   /* NULL when opened for metadata only */
    int key_id;       /* the active key ring entry */
    char *environment; /* active environment type, canonical name */
    int64_t env_id;    /* its id, 0 for none */
    char *user;
    char *program;
    int in_transaction;
    struct sr_error err;
};

/* Sets the handle's error and returns rc. */
#define sr_err(st, rc, ...) sr_error_set(&(st)->err, (rc), __VA_ARGS__)
#define sr_err_clear(st) sr_error_clear(&(st)->err)

/* ---- the SQL layer (db.c, schema.c, dbref.c): the only files with SQL ------ */

/* Opens or creates the database file with WAL, a busy timeout,
 * secure_delete and foreign keys on; the folder must exist. */
sr_rc sr_db_open(const char *path, int create, sqlite3 **out,
                 struct sr_error *e);
/* Brings the schema to SR_SCHEMA_VERSION; refuses a newer one. */
sr_rc sr_schema_migrate(sqlite3 *db, struct sr_error *e);
/* Maps the connection's last SQLite error to an sr_rc with a message
 * naming what was being done. */
sr_rc sr_db_fail(sr_store *st, const char *what);

/* Write transactions always start IMMEDIATE, so a reader that later writes
 * never meets SQLITE_BUSY without the busy handler. Nested calls join the
 * outer transaction. */
sr_rc sr_db_begin(sr_store *st);
sr_rc sr_db_commit(sr_store *st);
void sr_db_rollback(sr_store *st);
/* 1 when this process cannot write the store (read-only media or modes). */
int sr_db_readonly(sr_store *st);
/* PRAGMA wal_checkpoint(TRUNCATE). */
sr_rc sr_db_checkpoint(sr_store *st);

sr_rc sr_db_param_get(sr_store *st, const char *name, char **value);
sr_rc sr_db_param_set(sr_store *st, const char *name, const char *value);

struct sr_keyring_row {
    int key_id;
    char source[16];
    unsigned char salt[32];
    size_t salt_len;
    uint64_t n;
    uint32_t r, p;
    unsigned char *check_value;
    size_t check_len;
};
sr_rc sr_db_keyring_get(sr_store *st, int key_id, struct sr_keyring_row *row);
sr_rc sr_db_keyring_add(sr_store *st, const struct sr_keyring_row *row,
                        int *key_id);
sr_rc sr_db_keyring_retire(sr_store *st, int key_id);
void sr_keyring_row_clear(struct sr_keyring_row *row);

/* Environment types by name (case-insensitive): id, or SR_ERR_NOTFOUND. */
sr_rc sr_db_env_find(sr_store *st, const char *name, int64_t *id,
                     char **canonical);
sr_rc sr_db_env_list(sr_store *st, char ***names, size_t *count);
sr_rc sr_db_env_add(sr_store *st, const char *name);
sr_rc sr_db_env_delete(sr_store *st, int64_t id);
sr_rc sr_db_env_rename(sr_store *st, int64_t id, const char *name);
sr_rc sr_db_env_in_use(sr_store *st, int64_t id, int *in_use);

/* A reference row with its current version's public fields. */
struct sr_ref_row {
    sr_ref_info info;
    int64_t env_id;
};
void sr_ref_row_clear(struct sr_ref_row *row);

/* The row for name in env_id exactly (0: the row without a type). */
sr_rc sr_db_ref_get(sr_store *st, const char *name, int64_t env_id,
                    struct sr_ref_row *row);
/* Every row with this name (any type): for "bound to another type". */
sr_rc sr_db_ref_envs(sr_store *st, const char *name, char ***envs,
                     size_t *count);
/* Rows for env_id (-1: all rows), ordered by name then type. */
sr_rc sr_db_ref_list(sr_store *st, int64_t env_id, struct sr_ref_row **rows,
                     size_t *count);
sr_rc sr_db_ref_insert(sr_store *st, struct sr_ref_row *row);
sr_rc sr_db_ref_update_meta(sr_store *st, const struct sr_ref_row *row);
sr_rc sr_db_ref_delete(sr_store *st, int64_t id);
/* Connectors and Key Vault clients that use the reference name. */
sr_rc sr_db_ref_users(sr_store *st, const char *name, char **users);

/* One version of a reference. */
struct sr_version_row {
    int version;
    int key_id;
    unsigned char *sealed;
    size_t sealed_len;
    char *vault_client, *vault_secret, *vault_version;
    unsigned char *public_key;
    size_t public_key_len;
    char *cert_chain_pem;
    char *created, *created_by, *note;
};
void sr_version_row_clear(struct sr_version_row *v);
sr_rc sr_db_version_get(sr_store *st, int64_t ref_id, int version,
                        struct sr_version_row *v);
/* Inserts v as the next version and makes it current; v->version is set. */
sr_rc sr_db_version_add(sr_store *st, int64_t ref_id,
                        struct sr_version_row *v);
/* Replaces the sealed value (and key id) of an existing version. */
sr_rc sr_db_version_reseal(sr_store *st, int64_t ref_id,
                           const struct sr_version_row *v);
sr_rc sr_db_version_list(sr_store *st, int64_t ref_id,
                         sr_version_info **out, size_t *count);

/* Every sealed value, for rekey: calls fn for each version (its row read
 * whole), which may replace its sealed value. The versions are listed
 * first and updated after, never while a scan of the table is open. */
typedef sr_rc (*sr_sealed_fn)(sr_store *st, const struct sr_ref_row *ref,
                              const struct sr_version_row *v,
                              unsigned char **replacement,
                              size_t *replacement_len, void *arg);
sr_rc sr_db_sealed_foreach(sr_store *st, sr_sealed_fn fn, void *arg);

sr_rc sr_db_audit_add(sr_store *st, const char *reference, int version,
                      const char *action, const char *detail);
sr_rc sr_db_audit_list(sr_store *st, const char *name, sr_audit_entry **out,
                       size_t *count);

/* Connectors (dbconnector.c). reference is the certificate reference a
 * "secretref:" key URI names, kept for "where used"; NULL otherwise. */
sr_rc sr_db_connector_get(sr_store *st, const char *name, sr_connector *out);
sr_rc sr_db_connector_list(sr_store *st, sr_connector **out, size_t *count);
/* SR_ERR_EXISTS when the name is taken. */
sr_rc sr_db_connector_insert(sr_store *st, const sr_connector *c,
                             const char *reference);
/* Replaces every field of the connector named c->name but its creation
 * time; SR_ERR_NOTFOUND when there is none. */
sr_rc sr_db_connector_update(sr_store *st, const sr_connector *c,
                             const char *reference);
sr_rc sr_db_connector_delete(sr_store *st, const char *name);
/* The kinds of every row named name, any environment type, as a mask of
 * 1u << sr_kind (0: no such reference). */
sr_rc sr_db_ref_kinds(sr_store *st, const char *name, unsigned *kinds);

/* Key Vault clients (dbkeyvault.c). */
sr_rc sr_db_keyvault_insert(sr_store *st, const sr_keyvault_client *c);
sr_rc sr_db_keyvault_get(sr_store *st, const char *name,
                         sr_keyvault_client *out);
sr_rc sr_db_keyvault_list(sr_store *st, sr_keyvault_client **out,
                          size_t *count);
sr_rc sr_db_keyvault_delete(sr_store *st, const char *name);
/* How many key-vault references use the client name. */
sr_rc sr_db_keyvault_users(sr_store *st, const char *name, int *count);

/* ---- inside the store ------------------------------------------------------ */

/* Records a use or change in the audit log; a failure to audit fails the
 * operation. */
sr_rc sr_audit(sr_store *st, const char *reference, int version,
               const char *action, const char *detail);
/* The seal binding of a reference version. */
void sr_binding_of(const sr_store *st, const struct sr_ref_row *ref,
                   int version, struct sr_seal_binding *b);
/* Resolves name for the active environment type and applies the expiry
 * policy when use is set. */
sr_rc sr_ref_resolve(sr_store *st, const char *name, int use,
                     struct sr_ref_row *row);
/* Opens a reference's current secret bytes (manual secret, PKCS#8 DER). */
sr_rc sr_ref_unseal_current(sr_store *st, const struct sr_ref_row *row,
                            sr_secret **out);
/* Requires the store's key: SR_ERR_WRONG_KEY for a metadata handle. */
sr_rc sr_store_need_key(sr_store *st);

/* vault://CLIENT/SECRET[/VERSION] into its parts (malloc'd). */
sr_rc sr_vault_uri_parse(const char *uri, char **client, char **secret,
                         char **version, struct sr_error *e);

/* Checks a connector's fields, not whether the references it names exist:
 * SR_ERR_USAGE with a one-line message when one is invalid. *reference
 * gets the reference name of a "secretref:" key URI (malloc'd), else
 * NULL; *port the port to store (22 for 0). */
sr_rc sr_connector_check(sr_store *st, const sr_connector *c,
                         char **reference, int *port);
/* Is fp a pinned host key: "SHA256:" and 43 unpadded base64 digits? */
int sr_host_key_valid(const char *fp);

#endif
