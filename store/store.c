/* SPDX-License-Identifier: Apache-2.0 */
/* Creating and opening a store: the file, its key and its parameters. */
#include "internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRYPT_N ((uint64_t)1 << 17)
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define PASSPHRASE_MAX 1024

static void copy_error(char *err, size_t errlen, const struct sr_error *e)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", e->msg[0] ? e->msg : sr_strerror(e->rc));
}

/* Creates the folder that will hold path, 0700, if it does not exist. */
static sr_rc make_parent(const char *path, struct sr_error *e)
{
    char *dir = strdup(path), *slash;
    sr_rc rc = SR_OK;
    size_t i;

    if (!dir)
        return sr_error_set(e, SR_ERR_NOMEM, "out of memory");
    if ((slash = strrchr(dir, '/')) && slash != dir) {
        *slash = '\0';
        /* Each missing component, like mkdir -p, with mode 0700. */
        for (i = 1; dir[i]; i++) {
            if (dir[i] != '/')
                continue;
            dir[i] = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                rc = sr_error_set(e, SR_ERR_IO, "%s: %s", dir,
                                  strerror(errno));
            dir[i] = '/';
            if (rc != SR_OK)
                goto out;
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            rc = sr_error_set(e, SR_ERR_IO, "%s: %s", dir, strerror(errno));
    }
out:
    free(dir);
    return rc;
}

static sr_rc fill_identity(sr_store *st, const sr_config *cfg)
{
    struct passwd pw, *found = NULL;
    char buf[1024], uid[32];
    int err = getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found);

    /* The audit log would name "uid N" instead of the user. */
    if (err == ENOMEM)
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    if (err == 0 && found)
        st->user = strdup(found->pw_name);
    else {
        snprintf(uid, sizeof(uid), "uid %u", (unsigned)geteuid());
        st->user = strdup(uid);
    }
    st->program = strdup(cfg->program ? cfg->program
                                      : program_invocation_short_name);
    if (!st->user || !st->program)
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    return SR_OK;
}

/* The passphrase: given, from a file, or asked for through the callback. */
static sr_rc passphrase_get(const sr_config *cfg,
                            const sr_resolved_config *rcfg, sr_secret **out,
                            struct sr_error *e)
{
    sr_secret *pass = NULL;
    sr_rc rc;

    *out = NULL;
    if (cfg->passphrase)
        return sr_secret_from(cfg->passphrase, strlen(cfg->passphrase), out);
    if (rcfg->passphrase_file) {
        rc = sr_file_read_secret(rcfg->passphrase_file, PASSPHRASE_MAX, &pass,
                                 e);
        if (rc != SR_OK)
            return rc;
        /* A trailing newline is the editor's, not the passphrase's. */
        while (pass->len && (pass->data[pass->len - 1] == '\n' ||
                             pass->data[pass->len - 1] == '\r'))
            pass->data[--pass->len] = '\0';
        *out = pass;
        return SR_OK;
    }
    if (cfg->passphrase_cb) {
        if ((rc = sr_secret_new(PASSPHRASE_MAX, &pass)) != SR_OK)
            return sr_error_set(e, rc, "out of memory");
        if (cfg->passphrase_cb((char *)pass->data, PASSPHRASE_MAX,
                               cfg->passphrase_arg) != 0) {
            sr_secret_free(pass);
            return sr_error_set(e, SR_ERR_KEY_FILE,
                                "the store is sealed with a passphrase and "
                                "none was given: give it with "
                                "--passphrase-file or "
                                "SECRETREF_PASSPHRASE_FILE");
        }
        pass->len = strnlen((char *)pass->data, PASSPHRASE_MAX - 1);
        *out = pass;
        return SR_OK;
    }
    return sr_error_set(e, SR_ERR_KEY_FILE,
                        "the store is sealed with a passphrase: give it "
                        "with --passphrase-file or SECRETREF_PASSPHRASE_FILE");
}

static sr_rc store_new(const sr_config *cfg, sr_resolved_config *rcfg,
                       sr_store **out, char *err, size_t errlen)
{
    sr_store *st;
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_config_resolve(cfg, rcfg, err, errlen)) != SR_OK)
        return rc;
    rc = SR_ERR_NOMEM;
    if (!(st = calloc(1, sizeof(*st))) ||
        !(st->path = strdup(rcfg->store_path)) ||
        sr_secret_new(SR_KEK_LEN, &st->kek) != SR_OK) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if ((rc = fill_identity(st, cfg)) != SR_OK)
        copy_error(err, errlen, &st->err);
out:
    if (rc != SR_OK) {
        sr_store_free(st);
        /* The callers clear rcfg only after a success. */
        sr_config_clear(rcfg);
    } else {
        *out = st;
    }
    return rc;
}

sr_rc sr_store_init(const sr_config *cfg, sr_key_source source,
                    sr_store **out, char *err, size_t errlen)
{
    sr_resolved_config rcfg;
    struct sr_keyring_row ring;
    unsigned char id[SR_STORE_ID_LEN];
    sr_secret *pass = NULL;
    sr_store *st = NULL;
    int created_db = 0, created_key = 0, key_id = 0;
    char *hex = NULL;
    sr_rc rc;

    *out = NULL;
    memset(&ring, 0, sizeof(ring));
    if ((rc = store_new(cfg, &rcfg, &st, err, errlen)) != SR_OK)
        return rc;
    if ((rc = make_parent(st->path, &st->err)) != SR_OK)
        goto out;
    if (source == SR_KEY_SOURCE_FILE) {
        if ((rc = make_parent(rcfg.key_file, &st->err)) != SR_OK)
            goto out;
    } else if ((rc = passphrase_get(cfg, &rcfg, &pass, &st->err)) != SR_OK) {
        goto out;
    }
    if ((rc = sr_db_open(st->path, 1, &st->db, &st->err)) != SR_OK)
        goto out;
    created_db = 1;
    rc = SR_ERR_CRYPTO;
    if (RAND_bytes_ex(sr_libctx(), id, sizeof(id), 0) != 1 ||
        RAND_bytes_ex(sr_libctx(), ring.salt, SALT_LEN, 0) != 1) {
        sr_err(st, rc, "no random bytes");
        goto out;
    }
    if (!(hex = sr_hex(id, sizeof(id)))) {
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(st->store_id, hex, sizeof(st->store_id) - 1);
    ring.key_id = 1;
    if (source == SR_KEY_SOURCE_FILE) {
        snprintf(ring.source, sizeof(ring.source), "file");
        rc = sr_kek_create_file(rcfg.key_file, st->kek->data, &st->err);
        if (rc != SR_OK)
            goto out;
        created_key = 1;
    } else {
        snprintf(ring.source, sizeof(ring.source), "passphrase");
        ring.salt_len = SALT_LEN;
        ring.n = SCRYPT_N;
        ring.r = SCRYPT_R;
        ring.p = SCRYPT_P;
        rc = sr_kek_from_passphrase((const char *)pass->data, pass->len,
                                    ring.salt, ring.salt_len, ring.n, ring.r,
                                    ring.p, st->kek->data, &st->err);
        if (rc != SR_OK)
            goto out;
    }
    if ((rc = sr_check_value_make(st->kek->data, ring.key_id, st->store_id,
                                  &ring.check_value, &ring.check_len,
                                  &st->err)) != SR_OK ||
        (rc = sr_db_begin(st)) != SR_OK)
        goto out;
    if ((rc = sr_db_keyring_add(st, &ring, &key_id)) != SR_OK ||
        (rc = sr_db_param_set(st, "store-id", st->store_id)) != SR_OK ||
        (rc = sr_db_param_set(st, "active-key-id", "1")) != SR_OK ||
        (rc = sr_db_param_set(st, "key-source", ring.source)) != SR_OK ||
        (rc = sr_db_param_set(st, "expiry-policy", "warn")) != SR_OK ||
        (rc = sr_db_param_set(st, "expiry-warning-days", "30")) != SR_OK ||
        (rc = sr_db_param_set(st, "token-label", "secretref")) != SR_OK) {
        sr_db_rollback(st);
        goto out;
    }
    st->key_id = key_id;
    if (rcfg.environment &&
        (rc = sr_store_set_environment(st, rcfg.environment)) == SR_OK)
        rc = sr_db_param_set(st, "environment", st->environment);
    if (rc != SR_OK) {
        sr_db_rollback(st);
        goto out;
    }
    if ((rc = sr_db_commit(st)) != SR_OK)
        goto out;
    rc = sr_audit(st, NULL, 0, "init", ring.source);
out:
    free(hex);
    sr_secret_free(pass);
    sr_keyring_row_clear(&ring);
    OPENSSL_cleanse(id, sizeof(id));
    if (rc != SR_OK) {
        copy_error(err, errlen, &st->err);
        if (created_db) {
            char wal[4096];
            sqlite3_close_v2(st->db);
            st->db = NULL;
            unlink(st->path);
            snprintf(wal, sizeof(wal), "%s-wal", st->path);
            unlink(wal);
            snprintf(wal, sizeof(wal), "%s-shm", st->path);
            unlink(wal);
        }
        if (created_key)
            unlink(rcfg.key_file);
        sr_store_free(st);
    } else {
        *out = st;
    }
    sr_config_clear(&rcfg);
    return rc;
}

/* Loads the active key and checks it against the key ring. */
static sr_rc unlock(sr_store *st, const sr_config *cfg,
                    const sr_resolved_config *rcfg)
{
    struct sr_keyring_row ring;
    sr_secret *pass = NULL;
    sr_rc rc;

    if ((rc = sr_db_keyring_get(st, st->key_id, &ring)) != SR_OK)
        return rc;
    if (strcmp(ring.source, "file") == 0) {
        rc = sr_kek_read_file(rcfg->key_file, st->kek->data, &st->err);
    } else if ((rc = passphrase_get(cfg, rcfg, &pass, &st->err)) == SR_OK &&
               pass) {
        rc = sr_kek_from_passphrase((const char *)pass->data, pass->len,
                                    ring.salt, ring.salt_len, ring.n, ring.r,
                                    ring.p, st->kek->data, &st->err);
    }
    if (rc == SR_OK)
        rc = sr_check_value_verify(st->kek->data, st->key_id, st->store_id,
                                   ring.check_value, ring.check_len,
                                   &st->err);
    sr_secret_free(pass);
    sr_keyring_row_clear(&ring);
    return rc;
}

static sr_rc store_open(const sr_config *cfg, int with_key, sr_store **out,
                        char *err, size_t errlen)
{
    sr_resolved_config rcfg;
    sr_store *st = NULL;
    char *value = NULL, *end;
    long key_id;
    sr_rc rc;

    *out = NULL;
    if ((rc = store_new(cfg, &rcfg, &st, err, errlen)) != SR_OK)
        return rc;
    if ((rc = sr_db_open(st->path, 0, &st->db, &st->err)) != SR_OK)
        goto out;
    if (sr_db_param_get(st, "store-id", &value) != SR_OK ||
        strlen(value) != sizeof(st->store_id) - 1) {
        rc = sr_err(st, SR_ERR_DB,
                    "store %s: has no store id: not a secretref store, or "
                    "damaged",
                    st->path);
        goto out;
    }
    memcpy(st->store_id, value, sizeof(st->store_id));
    free(value);
    value = NULL;
    if ((rc = sr_db_param_get(st, "active-key-id", &value)) != SR_OK)
        goto out;
    errno = 0;
    key_id = strtol(value, &end, 10);
    if (errno || *end || key_id <= 0 || key_id > INT32_MAX) {
        rc = sr_err(st, SR_ERR_DB, "store %s: damaged active-key-id",
                    st->path);
        goto out;
    }
    st->key_id = (int)key_id;
    free(value);
    value = NULL;
    if (with_key) {
        if ((rc = unlock(st, cfg, &rcfg)) != SR_OK)
            goto out;
    } else {
        sr_secret_free(st->kek);
        st->kek = NULL;
    }
    if (rcfg.environment) {
        rc = sr_store_set_environment(st, rcfg.environment);
    } else {
        rc = sr_db_param_get(st, "environment", &value);
        if (rc == SR_OK)
            rc = sr_store_set_environment(st, value);
        else if (rc == SR_ERR_NOTFOUND)
            rc = sr_err_clear(st);
    }
out:
    free(value);
    if (rc != SR_OK) {
        copy_error(err, errlen, &st->err);
        sr_store_free(st);
    } else {
        *out = st;
    }
    sr_config_clear(&rcfg);
    return rc;
}

sr_rc sr_store_open(const sr_config *cfg, sr_store **out, char *err,
                    size_t errlen)
{
    return store_open(cfg, 1, out, err, errlen);
}

sr_rc sr_store_open_metadata(const sr_config *cfg, sr_store **out, char *err,
                             size_t errlen)
{
    return store_open(cfg, 0, out, err, errlen);
}

void sr_store_free(sr_store *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close_v2(st->db);
    sr_secret_free(st->kek);
    free(st->path);
    free(st->environment);
    free(st->user);
    free(st->program);
    OPENSSL_cleanse(st, sizeof(*st));
    free(st);
}

const char *sr_store_errmsg(const sr_store *st)
{
    if (!st)
        return "no store";
    return st->err.msg[0] ? st->err.msg : sr_strerror(st->err.rc);
}

const char *sr_store_environment(const sr_store *st)
{
    return st->environment;
}

sr_rc sr_store_set_environment(sr_store *st, const char *environment)
{
    char *canonical = NULL;
    int64_t id = 0;
    sr_rc rc;

    if (!environment || !*environment) {
        free(st->environment);
        st->environment = NULL;
        st->env_id = 0;
        return SR_OK;
    }
    if ((rc = sr_db_env_find(st, environment, &id, &canonical)) != SR_OK)
        return rc;
    free(st->environment);
    st->environment = canonical;
    st->env_id = id;
    return SR_OK;
}

sr_rc sr_store_need_key(sr_store *st)
{
    if (!st->kek)
        return sr_err(st, SR_ERR_WRONG_KEY,
                      "the store was opened without its encryption key");
    return SR_OK;
}
