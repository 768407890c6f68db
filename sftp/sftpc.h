/* SPDX-License-Identifier: Apache-2.0 */
/* The secretref SFTP client: shared by its files only. */
#ifndef SECRETREF_SFTPC_H
#define SECRETREF_SFTPC_H

#include "secretref.h"

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses of secretref-sftp, documented in secretref-sftp(1). */
typedef enum sftpc_rc {
    SFTPC_OK = 0,
    SFTPC_ERR_OTHER = 1,
    SFTPC_ERR_USAGE = 2,
    SFTPC_ERR_CONNECT = 10,      /* name lookup, refused, timeout, lost */
    SFTPC_ERR_HOSTKEY_UNKNOWN = 11,
    SFTPC_ERR_HOSTKEY_CHANGED = 12,
    SFTPC_ERR_AUTH = 13,
    SFTPC_ERR_REMOTE = 14,       /* the server refused a file operation */
    SFTPC_ERR_LOCAL = 15,        /* a local file could not be used */
    SFTPC_ERR_INCOMPLETE = 16,   /* a transfer stopped or did not add up */
    SFTPC_ERR_KEY = 17           /* the key or password reference */
} sftpc_rc;

/* Where to connect. */
struct sftpc_target {
    char *host;
    int port;
    char *user;
    char *path;     /* remote folder: base of relative paths, or NULL */
    char *key_uri;  /* from a connector, when not given */
    char *password_ref;
    char *host_key; /* pinned SHA256:..., from a connector */
};

struct sftpc_options {
    const char *key_uri;
    const char *password_ref;
    const char *known_hosts;
    const char *host_key; /* pinned SHA256:... */
    int accept_new;
    int parallel;
    int quiet, verbose;
    int progress; /* a bar on standard error */
    sr_config store_cfg;
};

/* A connection: socket, SSH session, SFTP channel. */
struct sftpc_conn {
    int sock;
    LIBSSH2_SESSION *ssh;
    LIBSSH2_SFTP *sftp;
    const struct sftpc_target *target;
    const struct sftpc_options *opts;
    char *cwd; /* remote base folder for relative paths */
};

/* One line of an error: "secretref-sftp: ..." on standard error; returns
 * rc. */
sftpc_rc sftpc_fail(sftpc_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The libssh2 session's last error, mapped and reported with what. */
sftpc_rc sftpc_fail_ssh(struct sftpc_conn *c, sftpc_rc rc, const char *what);
/* An SFTP status (LIBSSH2_FX_*) of an operation on path, with Azure's
 * limits named where they explain it. */
sftpc_rc sftpc_fail_sftp(struct sftpc_conn *c, const char *op,
                         const char *path);
/* Prints only with --verbose. */
void sftpc_verbose(const struct sftpc_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- destination.c ------------------------------------------------------- */
sftpc_rc sftpc_target_parse(const char *destination, int azure,
                            struct sftpc_target *t, sr_config *store_cfg);
void sftpc_target_clear(struct sftpc_target *t);

/* ---- sign.c: the key, loaded through OSSL_STORE ----------------------------- */
struct sftpc_key {
    EVP_PKEY *pkey;
    unsigned char *blob; /* SSH public key blob */
    size_t blob_len;
    const char *algorithm;
};
/* Loads the secretref provider (and the default one) into OpenSSL's
 * default library context, once. */
int sftpc_providers_load(void);
sftpc_rc sftpc_key_load(const char *uri, struct sftpc_key *key);
void sftpc_key_clear(struct sftpc_key *key);
/* libssh2's sign callback; abstract is the struct sftpc_key. */
int sftpc_sign(LIBSSH2_SESSION *session, unsigned char **sig,
               size_t *sig_len, const unsigned char *data, size_t data_len,
               void **abstract);

/* ---- session.c ------------------------------------------------------------ */
/* Connects, checks the host key, authenticates and opens SFTP. key may be
 * NULL (password only); password may be NULL. */
sftpc_rc sftpc_connect(const struct sftpc_target *t,
                       const struct sftpc_options *opts,
                       const struct sftpc_key *key, const sr_secret *password,
                       struct sftpc_conn *c);
void sftpc_disconnect(struct sftpc_conn *c);
/* Reads known_hosts file into hosts (a missing file is an empty one) and
 * looks up host:port with key of libssh2 type hostkey_type: a
 * LIBSSH2_KNOWNHOST_CHECK_* value, or -1 when file is not a known_hosts
 * file. */
int sftpc_knownhost_check(LIBSSH2_KNOWNHOSTS *hosts, const char *file,
                          const char *host, int port, const char *key,
                          size_t key_len, int hostkey_type);
/* The absolute remote path of path (relative to the folder). */
char *sftpc_remote_path(const struct sftpc_conn *c, const char *path);

/* ---- transfer.c: get and put -------------------------------------------------- */
sftpc_rc sftpc_put(struct sftpc_conn *c, const char *local,
                   const char *remote);
sftpc_rc sftpc_get(struct sftpc_conn *c, const char *remote,
                   const char *local);

/* ---- tree.c: recursive and parallel transfers ---------------------------------- */
/* A factory of connections for parallel workers. */
struct sftpc_pool {
    const struct sftpc_target *target;
    const struct sftpc_options *opts;
    const struct sftpc_key *key;
    const sr_secret *password;
};
sftpc_rc sftpc_put_tree(struct sftpc_conn *c, const struct sftpc_pool *pool,
                        const char *local, const char *remote);
sftpc_rc sftpc_get_tree(struct sftpc_conn *c, const struct sftpc_pool *pool,
                        const char *remote, const char *local);

/* ---- actions.c: the other file actions ---------------------------------------- */
sftpc_rc sftpc_ls(struct sftpc_conn *c, const char *path, int long_format);
sftpc_rc sftpc_rm(struct sftpc_conn *c, const char *path);
sftpc_rc sftpc_mkdir(struct sftpc_conn *c, const char *path);
sftpc_rc sftpc_rmdir(struct sftpc_conn *c, const char *path);
sftpc_rc sftpc_rename(struct sftpc_conn *c, const char *from,
                      const char *to);
sftpc_rc sftpc_stat(struct sftpc_conn *c, const char *path);
sftpc_rc sftpc_cd(struct sftpc_conn *c, const char *path);

/* ---- command.c: one command line (from argv or a batch file) -------------------- */
sftpc_rc sftpc_command(struct sftpc_conn *c, const struct sftpc_pool *pool,
                       int argc, char **argv);

/* ---- batch.c: OpenSSH sftp batch syntax --------------------------------------- */
/* Splits one batch line into words (quotes and backslashes as OpenSSH
 * sftp), with *ignore_errors set for a leading '-'. *argv is malloc'd, the
 * words point into a copy owned by *argv[0]'s block: free with
 * sftpc_words_free. Returns 0, or -1 for an unterminated quote. */
int sftpc_words_split(const char *line, int *argc, char ***argv,
                      int *ignore_errors);
void sftpc_words_free(char **argv);
sftpc_rc sftpc_batch_run(struct sftpc_conn *c, const struct sftpc_pool *pool,
                         const char *file);

/* ---- progress.c ------------------------------------------------------------- */
struct sftpc_progress {
    const char *name;
    uint64_t total, done;
    double start, last;
    int active;
};
void sftpc_progress_start(struct sftpc_progress *p, const char *name,
                          uint64_t total, int enabled);
void sftpc_progress_update(struct sftpc_progress *p, uint64_t done);
void sftpc_progress_end(struct sftpc_progress *p);

/* I/O buffers: a multiple of libssh2's 30,000-byte SFTP requests, so every
 * request is full and many are in flight. */
#define SFTPC_WRITE_CHUNK ((size_t)140 * 30000)
#define SFTPC_READ_CHUNK ((size_t)70 * 30000)

#endif
