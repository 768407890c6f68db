/* SPDX-License-Identifier: Apache-2.0 */
/* Rekey: every data key is re-wrapped under a new encryption key in one
 * IMMEDIATE transaction, so a crash leaves the old key or the new one in
 * force, never a mix. The WAL is then checkpointed so the old wrapping is
 * not left in the log (secure_delete clears the freed pages). */
#include "internal.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRYPT_N ((uint64_t)1 << 17)

struct rekey_ctx {
    const unsigned char *new_kek;
    int new_key_id;
    size_t count;
};

static sr_rc rewrap_one(sr_store *st, const struct sr_ref_row *ref,
                        const struct sr_version_row *v,
                        unsigned char **replacement, size_t *replacement_len,
                        void *arg)
{
    struct rekey_ctx *ctx = arg;
    struct sr_seal_binding b;
    sr_rc rc;

    sr_binding_of(st, ref, v->version, &b);
    sr_binding_public(&b, v->public_key, v->public_key_len,
                      v->cert_chain_pem);
    rc = sr_reseal_wrap(st->kek->data, ctx->new_kek, ctx->new_key_id, &b,
                        v->sealed, v->sealed_len, replacement,
                        replacement_len, &st->err);
    if (rc != SR_OK)
        return sr_err(st, rc, "re-wrapping a version of %s: %s",
                      ref->info.uuid, st->err.msg);
    ctx->count++;
    return SR_OK;
}

static sr_rc next_key_id(sr_store *st, int *id)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT coalesce(max(key_id), 0) + 1 FROM keyring",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading the key ring");
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *id = sqlite3_column_int(stmt, 0);
    else
        rc = sr_db_fail(st, "reading the key ring");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_rekey(sr_store *st, const sr_config *new_key, sr_key_source source)
{
    struct sr_keyring_row ring;
    struct rekey_ctx ctx;
    sr_secret *kek = NULL, *pass = NULL;
    char detail[96], id_text[16];
    int created_file = 0;
    struct stat sb;
    sr_rc rc;

    memset(&ring, 0, sizeof(ring));
    memset(&ctx, 0, sizeof(ctx));
    if ((rc = sr_store_need_key(st)) != SR_OK)
        return rc;
    if ((rc = sr_secret_new(SR_KEK_LEN, &kek)) != SR_OK)
        return sr_err(st, rc, "out of memory");
    if (source == SR_KEY_SOURCE_FILE) {
        snprintf(ring.source, sizeof(ring.source), "file");
        if (!new_key->key_file) {
            rc = sr_err(st, SR_ERR_USAGE, "rekey needs a new key file");
            goto out;
        }
        /* An existing file is a key the admin prepared; else make one. */
        if (stat(new_key->key_file, &sb) == 0) {
            rc = sr_kek_read_file(new_key->key_file, kek->data, &st->err);
        } else if (errno == ENOENT) {
            rc = sr_kek_create_file(new_key->key_file, kek->data, &st->err);
            created_file = rc == SR_OK;
        } else {
            rc = sr_err(st, SR_ERR_KEY_FILE, "%s: %s", new_key->key_file,
                        strerror(errno));
        }
    } else {
        snprintf(ring.source, sizeof(ring.source), "passphrase");
        ring.salt_len = 16;
        ring.n = SCRYPT_N;
        ring.r = 8;
        ring.p = 1;
        if (new_key->passphrase)
            rc = sr_secret_from(new_key->passphrase,
                                strlen(new_key->passphrase), &pass);
        else if (new_key->passphrase_file)
            rc = sr_file_read_secret(new_key->passphrase_file, 1024, &pass,
                                     &st->err);
        else
            rc = sr_err(st, SR_ERR_USAGE, "rekey needs a new passphrase");
        if (rc == SR_OK) {
            while (pass->len && pass->data[pass->len - 1] == '\n')
                pass->data[--pass->len] = '\0';
            if (pass->len == 0)
                rc = sr_err(st, SR_ERR_USAGE, "the passphrase is empty");
        }
        if (rc == SR_OK &&
            RAND_bytes_ex(sr_libctx(), ring.salt, ring.salt_len, 0) != 1)
            rc = sr_err(st, SR_ERR_CRYPTO, "no random bytes");
        if (rc == SR_OK)
            rc = sr_kek_from_passphrase((const char *)pass->data, pass->len,
                                        ring.salt, ring.salt_len, ring.n,
                                        ring.r, ring.p, kek->data, &st->err);
    }
    if (rc != SR_OK)
        goto out;
    if (CRYPTO_memcmp(kek->data, st->kek->data, SR_KEK_LEN) == 0) {
        rc = sr_err(st, SR_ERR_USAGE, "the new key is the current key");
        goto out;
    }
    if ((rc = sr_db_begin(st)) != SR_OK)
        goto out;
    ctx.new_kek = kek->data;
    if ((rc = next_key_id(st, &ring.key_id)) != SR_OK ||
        (rc = sr_check_value_make(kek->data, ring.key_id, st->store_id,
                                  &ring.check_value, &ring.check_len,
                                  &st->err)) != SR_OK ||
        (rc = sr_db_keyring_add(st, &ring, &ctx.new_key_id)) != SR_OK ||
        (rc = sr_db_sealed_foreach(st, rewrap_one, &ctx)) != SR_OK ||
        (rc = sr_db_keyring_retire(st, st->key_id)) != SR_OK)
        goto rollback;
    snprintf(id_text, sizeof(id_text), "%d", ctx.new_key_id);
    snprintf(detail, sizeof(detail), "key %d -> key %d (%s), %zu values",
             st->key_id, ctx.new_key_id, ring.source, ctx.count);
    if ((rc = sr_db_param_set(st, "active-key-id", id_text)) != SR_OK ||
        (rc = sr_db_param_set(st, "key-source", ring.source)) != SR_OK ||
        (rc = sr_audit(st, NULL, 0, "rekey", detail)) != SR_OK ||
        (rc = sr_db_commit(st)) != SR_OK)
        goto rollback;
    /* Committed: the new key is in force from here on. */
    memcpy(st->kek->data, kek->data, SR_KEK_LEN);
    st->key_id = ctx.new_key_id;
    created_file = 0;
    /* The new key is in force: an incomplete checkpoint is worth a
     * warning (the old wrapping stays in the log until the next one), not
     * a failure. */
    if (sr_db_checkpoint(st) != SR_OK)
        fprintf(stderr, "secretref: rekey: warning: %s; the old wrapping "
                        "stays in the log until the next checkpoint\n",
                st->err.msg);
    sr_err_clear(st);
    rc = SR_OK;
    goto out;
rollback:
    sr_db_rollback(st);
out:
    if (created_file)
        unlink(new_key->key_file);
    sr_keyring_row_clear(&ring);
    sr_secret_free(pass);
    sr_secret_free(kek);
    return rc;
}
