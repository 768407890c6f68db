/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libsecretref: one encrypted store of secret references.
 *
 * This is the only public header of the library and its API reference.
 * Every function that can fail returns an sr_rc; the message of the last
 * failure is kept on the store handle (sr_store_errmsg). Out-parameters are
 * set only on success. Strings returned through out-parameters are owned by
 * the caller and freed with free(); secret buffers are freed with
 * sr_secret_free(), which cleanses them first.
 */
#ifndef SECRETREF_H
#define SECRETREF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sr_rc {
    SR_OK = 0,
    SR_ERR_USAGE,       /* an argument is invalid */
    SR_ERR_NOTFOUND,    /* no such reference, type, client or version */
    SR_ERR_EXISTS,      /* the name is taken */
    SR_ERR_ENVIRONMENT, /* bound to another environment type */
    SR_ERR_EXPIRED,     /* denied by the expiry policy */
    SR_ERR_NOT_SET,     /* the reference has no secret yet (imported) */
    SR_ERR_IN_USE,      /* still used by a connector, reference or client */
    SR_ERR_WRONG_KEY,   /* the encryption key does not open this store */
    SR_ERR_TAMPER,      /* a sealed value failed authentication */
    SR_ERR_KEY_FILE,    /* key file missing, unreadable or too open */
    SR_ERR_DB,          /* the store file cannot be read or written */
    SR_ERR_IO,          /* another file cannot be read or written */
    SR_ERR_FORMAT,      /* malformed input: key file, import, date, name */
    SR_ERR_PASSWORD,    /* wrong password for an encrypted input file */
    SR_ERR_UNSUPPORTED, /* valid, but not something we do */
    SR_ERR_CRYPTO,      /* a cryptographic operation failed */
    SR_ERR_REMOTE,      /* a remote service failed */
    SR_ERR_NOMEM,
    SR_ERR_WRONG_KIND,  /* the reference is of another kind */
    SR_RC_COUNT
} sr_rc;

/* The library context the key core does its cryptography in: OpenSSL's
 * default provider, never the application's context (which may route back
 * into the secretref provider). Created on first use; never freed. */
OSSL_LIB_CTX *sr_libctx(void);

/* A short, constant description of rc ("wrong encryption key"). */
const char *sr_strerror(sr_rc rc);

typedef struct sr_store sr_store;
typedef struct sr_key sr_key;

/* Where the store and its key are. NULL fields take the next source of
 * configuration: environment, config file, defaults (sr_config_resolve). */
typedef struct sr_config {
    const char *store_path;
    const char *key_file;
    const char *environment;     /* active environment type, or NULL */
    const char *passphrase;      /* for passphrase stores; NUL-terminated */
    const char *passphrase_file; /* alternative to passphrase */
    const char *program;         /* recorded in the audit log */
    /* Settings from a module's own configuration (openssl.cnf provider
     * parameters, p11-kit's x-init-reserved): they rank below the
     * environment and above the config files. */
    const char *module_store_path;
    const char *module_key_file;
    const char *module_environment;
    /* Asked for a passphrase store's passphrase when neither passphrase
     * nor passphrase_file is given: writes at most size - 1 bytes and a
     * NUL into buf, returns 0 on success. */
    int (*passphrase_cb)(char *buf, size_t size, void *arg);
    void *passphrase_arg;
} sr_config;

/* Fills every NULL path of cfg from SECRETREF_* variables, the config files
 * and the defaults, into strings owned by resolved (free with
 * sr_config_clear). Returns SR_OK or SR_ERR_IO/SR_ERR_FORMAT for a bad
 * config file. */
typedef struct sr_resolved_config {
    char *store_path;
    char *key_file;
    char *environment; /* NULL when none is configured */
    char *passphrase_file;
} sr_resolved_config;
sr_rc sr_config_resolve(const sr_config *cfg, sr_resolved_config *resolved,
                        char *err, size_t errlen);
void sr_config_clear(sr_resolved_config *resolved);

/* How init seals the store: a new key file, or a passphrase. */
typedef enum sr_key_source {
    SR_KEY_SOURCE_FILE = 0,
    SR_KEY_SOURCE_PASSPHRASE
} sr_key_source;

/* Creates a new store at cfg->store_path (folder 0700, file 0600). With
 * SR_KEY_SOURCE_FILE, creates cfg->key_file (0600, refused if it exists);
 * with a passphrase, derives the key with scrypt. environment, when set,
 * becomes the store's default active environment type. */
sr_rc sr_store_init(const sr_config *cfg, sr_key_source source,
                    sr_store **out, char *err, size_t errlen);

/* Opens an existing store and checks the encryption key against the key
 * ring's check value (SR_ERR_WRONG_KEY when it does not match). On failure
 * *out is NULL and err holds one line. */
sr_rc sr_store_open(const sr_config *cfg, sr_store **out, char *err,
                    size_t errlen);

/* Opens the store without its encryption key: metadata, listing, export,
 * public keys and the audit log work; anything that seals or opens a
 * secret fails with SR_ERR_WRONG_KEY. */
sr_rc sr_store_open_metadata(const sr_config *cfg, sr_store **out, char *err,
                             size_t errlen);

void sr_store_free(sr_store *st);

/* The last failure's message on this handle: one line, never a secret. */
const char *sr_store_errmsg(const sr_store *st);

/* The active environment type (NULL: none), set from the config or the
 * store's parameter "environment". sr_store_set_environment validates the
 * name against the store's environment types. */
const char *sr_store_environment(const sr_store *st);
sr_rc sr_store_set_environment(sr_store *st, const char *environment);

/* ---- parameters ---------------------------------------------------- */

/* Known names: "environment", "expiry-policy" (warn|deny),
 * "expiry-warning-days", "token-label". Read-only: "store-id",
 * "key-source", "active-key-id", "schema-version". */
sr_rc sr_param_get(sr_store *st, const char *name, char **value);
sr_rc sr_param_set(sr_store *st, const char *name, const char *value);

/* ---- secrets --------------------------------------------------------- */

/* A secret in memory: locked when possible, cleansed on free. */
typedef struct sr_secret {
    unsigned char *data;
    size_t len;
} sr_secret;
sr_rc sr_secret_new(size_t len, sr_secret **out);
sr_rc sr_secret_from(const void *data, size_t len, sr_secret **out);
void sr_secret_free(sr_secret *secret);

/* ---- references ------------------------------------------------------ */

typedef enum sr_kind {
    SR_KIND_MANUAL = 1,
    SR_KIND_KEY_VAULT = 2,
    SR_KIND_CERTIFICATE = 3
} sr_kind;
const char *sr_kind_name(sr_kind kind);
sr_rc sr_kind_parse(const char *name, sr_kind *kind);

/* Metadata of one reference row; strings owned by the struct
 * (sr_ref_info_clear). environment is NULL for a row without a type,
 * expires is "" when none. version is 0 while the secret is not set. */
typedef struct sr_ref_info {
    int64_t id;
    char *uuid;
    char *name;
    char *description;
    char *environment;
    char *expires;
    sr_kind kind;
    int version;
    char *created;
    char *updated;
    /* key-vault locator (kind key-vault) */
    char *vault_client;
    char *vault_secret;
    char *vault_version;
    /* public parts (kind certificate) */
    unsigned char *public_key_der; /* SubjectPublicKeyInfo */
    size_t public_key_len;
    char *cert_chain_pem; /* may be NULL */
} sr_ref_info;
void sr_ref_info_clear(sr_ref_info *info);

/* What a new version carries. Exactly one of the kinds' fields is used. */
typedef struct sr_ref_spec {
    const char *name;
    const char *description;   /* NULL: keep (set) or "" (new) */
    const char *environment;   /* NULL: none (new) or keep (set) */
    int clear_environment;     /* set: drop the environment type */
    const char *expires;       /* YYYY-MM-DD; "" clears; NULL keeps */
    sr_kind kind;
    /* manual: the secret */
    const sr_secret *secret;
    /* key-vault: locator */
    const char *vault_client;
    const char *vault_secret;
    const char *vault_version;
    /* certificate: a key file's bytes and its password, or generate */
    const unsigned char *key_file_data;
    size_t key_file_len;
    const sr_secret *key_file_password;
    const char *generate; /* "rsa-2048", "ec-p256", "ed25519", ... */
} sr_ref_spec;

/* Creates a reference (version 1 when a secret is given, else "not set"). */
sr_rc sr_ref_create(sr_store *st, const sr_ref_spec *spec);

/* Changes fields of the reference that name resolves to; a new secret,
 * locator or key makes a new version. */
sr_rc sr_ref_update(sr_store *st, const char *name, const sr_ref_spec *spec);

/* Splits vault://CLIENT/SECRET[/VERSION] into malloc'd parts (*version
 * NULL when absent); SR_ERR_USAGE when it is not of that form. */
sr_rc sr_vault_uri_split(const char *uri, char **client, char **secret,
                         char **version);

/* The reference name of a "secretref:NAME" URI, percent-decoded
 * (RFC 3986); malloc'd. SR_ERR_USAGE for another scheme, an empty name,
 * a bad escape or a decoded NUL. */
sr_rc sr_uri_name(const char *uri, char **name);

/* "secretref:NAME" with NAME percent-encoded (all but RFC 3986's
 * unreserved characters); malloc'd, or NULL when out of memory. */
char *sr_uri_from_name(const char *name);

/* Attaches a certificate (DER) to the certificate reference name as a new
 * version; it must match the reference's key (SR_ERR_FORMAT otherwise).
 * The certificate's notAfter becomes the expiry date when none is set. */
sr_rc sr_ref_attach_certificate(sr_store *st, const char *name,
                                const unsigned char *der, size_t len);

/* Looks name up for the active environment type: its row, else the row
 * without a type. A row bound only to another type gives
 * SR_ERR_ENVIRONMENT. */
sr_rc sr_ref_lookup(sr_store *st, const char *name, sr_ref_info *info);

/* Lists the rows for environment (NULL: every row), ordered by name then
 * type. The array and its entries are freed by sr_ref_list_free. */
sr_rc sr_ref_list(sr_store *st, const char *environment, sr_ref_info **infos,
                  size_t *count);
void sr_ref_list_free(sr_ref_info *infos, size_t count);

/* Deletes the resolved row and its versions (SR_ERR_IN_USE while a
 * connector or Key Vault client uses it). */
sr_rc sr_ref_delete(sr_store *st, const char *name);

/* The connectors and Key Vault clients that use name, as one line
 * ("connector a, Key Vault client b"), or "" when none does. */
sr_rc sr_ref_users(sr_store *st, const char *name, char **users);

/* Opens the secret of a manual reference (audited as "use"); applies the
 * environment type and the expiry policy. */
sr_rc sr_ref_open_secret(sr_store *st, const char *name, sr_secret **out);

/* Checks that name resolves and its current version opens, without
 * returning anything (audited as "verify"). */
sr_rc sr_ref_verify(sr_store *st, const char *name);

/* Versions: number, time, user, action of each. */
typedef struct sr_version_info {
    int version;
    char *created;
    char *created_by;
    char *note;
    int key_id;
} sr_version_info;
sr_rc sr_ref_history(sr_store *st, const char *name, sr_version_info **out,
                     size_t *count);
void sr_version_list_free(sr_version_info *versions, size_t count);

/* Makes a new version equal to version (which must exist). */
sr_rc sr_ref_rollback(sr_store *st, const char *name, int version);

/* Expiry of info at now: 0 fine, 1 within days, 2 expired. */
int sr_ref_expiry_state(const sr_ref_info *info, time_t now, int days);

/* ---- environment types ----------------------------------------------- */

sr_rc sr_env_list(sr_store *st, char ***names, size_t *count);
void sr_string_list_free(char **list, size_t count);
sr_rc sr_env_add(sr_store *st, const char *name);
sr_rc sr_env_remove(sr_store *st, const char *name); /* refused in use */
sr_rc sr_env_rename(sr_store *st, const char *name, const char *new_name);

/* ---- the key core ------------------------------------------------------ */

/* The only way to use a private key: an opaque, reference-counted handle.
 * Private key bytes never leave it and are cleansed when the last
 * reference is freed. Safe to use from many threads at once. */
typedef enum sr_key_type {
    SR_KEY_RSA = 1,
    SR_KEY_EC = 2,
    SR_KEY_ED25519 = 3
} sr_key_type;

/* Opens the certificate reference name (audited as "open"). */
sr_rc sr_key_open(sr_store *st, const char *name, sr_key **out);
sr_key *sr_key_ref(sr_key *key);
void sr_key_free(sr_key *key);

sr_key_type sr_key_get_type(const sr_key *key);
int sr_key_bits(const sr_key *key);
/* "P-256", "P-384", "P-521" for EC keys, else NULL. */
const char *sr_key_curve(const sr_key *key);
/* The reference's name and version this key was opened from. */
const char *sr_key_name(const sr_key *key);
int sr_key_version(const sr_key *key);
/* SubjectPublicKeyInfo DER; owned by the key. */
const unsigned char *sr_key_public_der(const sr_key *key, size_t *len);
/* Leaf certificate and chain as PEM, or NULL; owned by the key. */
const char *sr_key_cert_chain_pem(const sr_key *key);

typedef enum sr_padding {
    SR_PAD_NONE = 0,  /* EC, Ed25519 */
    SR_PAD_PKCS1 = 1, /* RSA PKCS#1 v1.5 */
    SR_PAD_PSS = 2,   /* RSA-PSS (sign) */
    SR_PAD_OAEP = 3   /* RSA-OAEP (decrypt) */
} sr_padding;

typedef struct sr_sign_params {
    sr_padding padding;
    const char *digest;      /* "SHA256"...; NULL: raw input (PKCS#1 with a
                                DigestInfo already applied, or Ed25519) */
    const char *mgf1_digest; /* PSS; NULL: same as digest */
    int salt_len;            /* PSS, as OpenSSL: -1 digest length,
                                -2 auto, -3 maximum, or a length */
} sr_sign_params;

/* Signs tbs: a digest of params->digest for RSA and ECDSA, the whole
 * message for Ed25519. ECDSA signatures are DER. With sig NULL, *siglen
 * gets the maximum size. */
sr_rc sr_key_sign(sr_key *key, const sr_sign_params *params,
                  const unsigned char *tbs, size_t tbslen, unsigned char *sig,
                  size_t *siglen);

typedef struct sr_decrypt_params {
    sr_padding padding;      /* SR_PAD_PKCS1 or SR_PAD_OAEP */
    const char *oaep_digest; /* NULL: SHA1 */
    const char *mgf1_digest; /* NULL: oaep_digest */
    const unsigned char *label;
    size_t label_len;
} sr_decrypt_params;
sr_rc sr_key_decrypt(sr_key *key, const sr_decrypt_params *params,
                     const unsigned char *in, size_t inlen, unsigned char *out,
                     size_t *outlen);

/* ECDH with a peer public key (SubjectPublicKeyInfo DER). */
sr_rc sr_key_derive(sr_key *key, const unsigned char *peer_der,
                    size_t peer_len, unsigned char *out, size_t *outlen);

/* The message of the last key failure, for callers that hold no store. */
const char *sr_key_errmsg(const sr_key *key);

/* ---- public keys ------------------------------------------------------ */

/* The public key of a certificate reference without opening the secret:
 * PEM ("-----BEGIN PUBLIC KEY-----") or an OpenSSH line. */
typedef enum sr_pubkey_format {
    SR_PUBKEY_PEM = 0,
    SR_PUBKEY_OPENSSH
} sr_pubkey_format;
sr_rc sr_ref_pubkey(sr_store *st, const char *name, sr_pubkey_format format,
                    char **out);

/* What a public key (SubjectPublicKeyInfo DER) is: "RSA", "EC" or
 * "Ed25519", its size in bits, its curve ("P-256"...) and its OpenSSH
 * SHA256 fingerprint as ssh-keygen -l prints it. */
typedef struct sr_pubkey_desc {
    char type[16];
    char curve[16];
    int bits;
    char fingerprint[64];
} sr_pubkey_desc;
sr_rc sr_pubkey_describe(const unsigned char *der, size_t len,
                         sr_pubkey_desc *desc);

/* The SSH public key blob (RFC 4253/5656/8709) of a public or private key
 * and its algorithm name ("ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519");
 * *blob is freed with free(). */
sr_rc sr_pubkey_ssh_blob(const EVP_PKEY *pkey, unsigned char **blob,
                         size_t *len, const char **algorithm);
/* "SHA256:..." of an SSH blob, as ssh-keygen -l prints it; free(). */
char *sr_ssh_blob_fingerprint(const unsigned char *blob, size_t len);

/* ---- audit -------------------------------------------------------------- */

typedef struct sr_audit_entry {
    int64_t id;
    char *time;
    char *user;
    char *program;
    char *reference;
    char *environment;
    int version;
    char *action;
    char *detail;
} sr_audit_entry;
sr_rc sr_audit_list(sr_store *st, const char *name, sr_audit_entry **out,
                    size_t *count);
void sr_audit_list_free(sr_audit_entry *entries, size_t count);

/* ---- connectors ----------------------------------------------------------- */

/* A named use of references: an SFTP connection. Several connectors may
 * share one reference; a reference in use by one cannot be deleted. */
typedef struct sr_connector {
    char *name;
    char *kind;         /* "sftp" */
    char *host;
    int port;           /* 22 when 0 */
    char *user;         /* Azure: ACCOUNT.LOCALUSER or
                           ACCOUNT.CONTAINER.LOCALUSER */
    char *key_uri;      /* "secretref:NAME", "pkcs11:...", a file; or NULL */
    char *password_ref; /* a manual or key-vault reference; or NULL */
    char *host_key;     /* pinned "SHA256:..." fingerprint; or NULL */
    char *folder;       /* remote folder; or NULL */
    char *created;
} sr_connector;

/* Adds c (SR_ERR_EXISTS for a taken name). The references it names must
 * exist: SR_ERR_NOTFOUND otherwise. Audited. */
sr_rc sr_connector_add(sr_store *st, const sr_connector *c);
sr_rc sr_connector_get(sr_store *st, const char *name, sr_connector *out);
sr_rc sr_connector_list(sr_store *st, sr_connector **out, size_t *count);
sr_rc sr_connector_delete(sr_store *st, const char *name);
void sr_connector_clear(sr_connector *c);
void sr_connector_list_free(sr_connector *list, size_t count);

/* ---- Azure Key Vault clients ------------------------------------------------ */

/* How a client authenticates to Microsoft Entra ID (or, for a managed
 * identity, to the instance metadata service). */
typedef struct sr_keyvault_client {
    char *name;
    char *vault_url;      /* https://VAULT.vault.azure.net */
    char *tenant;         /* NULL: discovered from the vault's challenge */
    char *client_id;      /* NULL only for a system-assigned identity */
    char *credential;     /* "client-secret", "client-certificate",
                             "managed-identity" */
    char *credential_ref; /* the reference holding the secret or key */
    char *authority;      /* Entra ID (or metadata) base URL; NULL: default */
    char *ca_file;        /* extra CA certificates; NULL: the system's */
    char *assertion;      /* "ps256" (default) or "rs256" */
    char *created;
} sr_keyvault_client;

/* Adds c: its credential reference must exist and be of the right kind
 * (a manual secret, or a certificate with its certificate). Audited. */
sr_rc sr_keyvault_add(sr_store *st, const sr_keyvault_client *c);
sr_rc sr_keyvault_get(sr_store *st, const char *name,
                      sr_keyvault_client *out);
sr_rc sr_keyvault_list(sr_store *st, sr_keyvault_client **out,
                       size_t *count);
/* Refused (SR_ERR_IN_USE) while a key-vault reference uses the client. */
sr_rc sr_keyvault_delete(sr_store *st, const char *name);
void sr_keyvault_client_clear(sr_keyvault_client *c);
void sr_keyvault_list_free(sr_keyvault_client *list, size_t count);

/* What Key Vault said of the secret a key-vault reference resolved to, for
 * people: "version V, expires YYYY-MM-DD" and a warning when that
 * disagrees with the reference's own expiry date. Resolves like
 * sr_ref_verify (audited as "verify"); *details is malloc'd. */
sr_rc sr_ref_verify_details(sr_store *st, const char *name, char **details);

/* ---- export, import, rekey --------------------------------------------- */

/* The project configuration as JSON text, never with a secret. */
sr_rc sr_export(sr_store *st, char **json);

/* Validates everything, then writes in one transaction or not at all.
 * summary (optional) gets a one-line account of what was imported. */
sr_rc sr_import(sr_store *st, const char *json, size_t len, char **summary);

/* Re-wraps every data key under a new encryption key in one transaction,
 * then checkpoints the WAL. */
sr_rc sr_rekey(sr_store *st, const sr_config *new_key, sr_key_source source);

#ifdef __cplusplus
}
#endif
#endif
