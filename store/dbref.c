/* SPDX-License-Identifier: Apache-2.0 */
/* SQL for references, their versions, their users and the audit log. */
#include "internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* The columns of a reference row joined with its current version. */
#define REF_SELECT                                                           \
    "SELECT r.id, r.uuid, r.name, r.description, e.name, r.expires,"        \
    " r.kind, r.current_version, r.created, r.updated, r.env_id,"           \
    " v.vault_client, v.vault_secret, v.vault_version, v.public_key,"       \
    " v.cert_chain FROM refs r"                                             \
    " LEFT JOIN environment_types e ON e.id = r.env_id"                     \
    " LEFT JOIN ref_versions v ON v.ref_id = r.id"                          \
    " AND v.version = r.current_version "

static char *dup_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);

    return text ? strdup((const char *)text) : NULL;
}

/* A text column that is NULL in the row, or was copied: a NULL copy of
 * a value is out of memory, not an absent field. */
static int copied(sqlite3_stmt *stmt, int col, const char *copy)
{
    return copy || sqlite3_column_type(stmt, col) == SQLITE_NULL;
}

static int dup_blob(sqlite3_stmt *stmt, int col, unsigned char **out,
                    size_t *len)
{
    const void *blob = sqlite3_column_blob(stmt, col);
    int n = sqlite3_column_bytes(stmt, col);

    *out = NULL;
    *len = 0;
    if (!blob || n <= 0)
        return 1;
    if (!(*out = malloc((size_t)n)))
        return 0;
    memcpy(*out, blob, (size_t)n);
    *len = (size_t)n;
    return 1;
}

void sr_ref_info_clear(sr_ref_info *info)
{
    if (!info)
        return;
    free(info->uuid);
    free(info->name);
    free(info->description);
    free(info->environment);
    free(info->expires);
    free(info->created);
    free(info->updated);
    free(info->vault_client);
    free(info->vault_secret);
    free(info->vault_version);
    free(info->public_key_der);
    free(info->cert_chain_pem);
    memset(info, 0, sizeof(*info));
}

void sr_ref_row_clear(struct sr_ref_row *row)
{
    if (!row)
        return;
    sr_ref_info_clear(&row->info);
    row->env_id = 0;
}

static sr_rc row_read(sr_store *st, sqlite3_stmt *stmt, struct sr_ref_row *row)
{
    sr_ref_info *in = &row->info;
    const char *kind = (const char *)sqlite3_column_text(stmt, 6);

    memset(row, 0, sizeof(*row));
    in->id = sqlite3_column_int64(stmt, 0);
    in->uuid = dup_text(stmt, 1);
    in->name = dup_text(stmt, 2);
    in->description = dup_text(stmt, 3);
    in->environment = dup_text(stmt, 4);
    in->expires = sqlite3_column_type(stmt, 5) == SQLITE_NULL
                      ? strdup("")
                      : dup_text(stmt, 5);
    if (!kind || sr_kind_parse(kind, &in->kind) != SR_OK)
        in->kind = 0;
    in->version = sqlite3_column_int(stmt, 7);
    in->created = dup_text(stmt, 8);
    in->updated = dup_text(stmt, 9);
    row->env_id = sqlite3_column_int64(stmt, 10);
    in->vault_client = dup_text(stmt, 11);
    in->vault_secret = dup_text(stmt, 12);
    in->vault_version = dup_text(stmt, 13);
    in->cert_chain_pem = dup_text(stmt, 15);
    if (!dup_blob(stmt, 14, &in->public_key_der, &in->public_key_len) ||
        !in->uuid || !in->name || !in->description || !in->expires ||
        !in->created || !in->updated || !copied(stmt, 4, in->environment) ||
        !copied(stmt, 11, in->vault_client) ||
        !copied(stmt, 12, in->vault_secret) ||
        !copied(stmt, 13, in->vault_version) ||
        !copied(stmt, 15, in->cert_chain_pem)) {
        sr_ref_row_clear(row);
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    if (!in->kind) {
        sr_ref_row_clear(row);
        return sr_err(st, SR_ERR_DB, "store %s: a reference has an unknown "
                      "kind", st->path);
    }
    return SR_OK;
}

sr_rc sr_db_ref_get(sr_store *st, const char *name, int64_t env_id,
                    struct sr_ref_row *row)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc;
    int step;

    if (sqlite3_prepare_v2(st->db,
                           REF_SELECT "WHERE r.name = ?"
                                      " AND coalesce(r.env_id, 0) = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading references");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, env_id);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        rc = row_read(st, stmt, row);
    else if (step == SQLITE_DONE)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such reference", name);
    else
        rc = sr_db_fail(st, "reading references");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_ref_list(sr_store *st, int64_t env_id, struct sr_ref_row **rows,
                     size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    struct sr_ref_row *list = NULL, *grown;
    size_t n = 0, i;
    sr_rc rc = SR_OK;
    int step;

    *rows = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           env_id < 0
                               ? REF_SELECT "ORDER BY r.name, r.env_id"
                               : REF_SELECT "WHERE coalesce(r.env_id, 0) = ?"
                                            " ORDER BY r.name",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "listing references");
    if (env_id >= 0)
        sqlite3_bind_int64(stmt, 1, env_id);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!(grown = realloc(list, (n + 1) * sizeof(*list)))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        list = grown;
        if ((rc = row_read(st, stmt, &list[n])) != SR_OK)
            goto out;
        n++;
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, "listing references");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        for (i = 0; i < n; i++)
            sr_ref_row_clear(&list[i]);
        free(list);
    } else {
        *rows = list;
        *count = n;
    }
    return rc;
}

sr_rc sr_db_ref_insert(sr_store *st, struct sr_ref_row *row)
{
    const sr_ref_info *in = &row->info;
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO refs (uuid, name, description, env_id,"
                           " expires, kind, current_version, created, updated)"
                           " VALUES (?, ?, ?, nullif(?, 0), nullif(?, ''), ?,"
                           " 0, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "adding a reference");
    sqlite3_bind_text(stmt, 1, in->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, in->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, in->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, row->env_id);
    sqlite3_bind_text(stmt, 5, in->expires ? in->expires : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, sr_kind_name(in->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, in->created, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, in->updated, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sr_err(st, SR_ERR_EXISTS,
                        "%s: a reference of this name already exists for "
                        "%s",
                        in->name,
                        in->environment ? in->environment
                                        : "no environment type");
        else
            rc = sr_db_fail(st, "adding a reference");
    } else {
        row->info.id = sqlite3_last_insert_rowid(st->db);
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_ref_update_meta(sr_store *st, const struct sr_ref_row *row)
{
    const sr_ref_info *in = &row->info;
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE refs SET description = ?,"
                           " env_id = nullif(?, 0), expires = nullif(?, ''),"
                           " updated = ? WHERE id = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "changing a reference");
    sqlite3_bind_text(stmt, 1, in->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, row->env_id);
    sqlite3_bind_text(stmt, 3, in->expires ? in->expires : "", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, in->updated, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, in->id);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sr_err(st, SR_ERR_EXISTS,
                        "%s: a reference of this name already exists for "
                        "that environment type",
                        in->name);
        else
            rc = sr_db_fail(st, "changing a reference");
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_ref_delete(sr_store *st, int64_t id)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db, "DELETE FROM refs WHERE id = ?", -1, &stmt,
                           NULL) != SQLITE_OK)
        return sr_db_fail(st, "deleting a reference");
    sqlite3_bind_int64(stmt, 1, id);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "deleting a reference");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_ref_users(sr_store *st, const char *name, char **users)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    size_t used = 0, len;
    char *list = NULL, *grown;
    int step;

    *users = NULL;
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT 'connector ' || name FROM connectors"
            " WHERE reference = ?1 OR password_ref = ?1"
            " OR key_uri = 'secretref:' || ?1"
            " UNION ALL SELECT 'Key Vault client ' || name"
            " FROM keyvault_clients WHERE credential_ref = ?1",
            -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading connectors");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *user = (const char *)sqlite3_column_text(stmt, 0);
        /* NULL only when SQLite ran out of memory making the text. */
        if (!user || !(grown = realloc(list, used + strlen(user) + 3))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        len = strlen(user);
        list = grown;
        if (used) {
            list[used++] = ',';
            list[used++] = ' ';
        }
        memcpy(list + used, user, len + 1);
        used += len;
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, "reading connectors");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK)
        free(list);
    else
        *users = list;
    return rc;
}

void sr_version_row_clear(struct sr_version_row *v)
{
    if (!v)
        return;
    if (v->sealed)
        OPENSSL_cleanse(v->sealed, v->sealed_len);
    free(v->sealed);
    free(v->vault_client);
    free(v->vault_secret);
    free(v->vault_version);
    free(v->public_key);
    free(v->cert_chain_pem);
    free(v->created);
    free(v->created_by);
    free(v->note);
    memset(v, 0, sizeof(*v));
}

sr_rc sr_db_version_get(sr_store *st, int64_t ref_id, int version,
                        struct sr_version_row *v)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    int step;

    memset(v, 0, sizeof(*v));
    if (sqlite3_prepare_v2(st->db,
                           "SELECT key_id, sealed, vault_client, vault_secret,"
                           " vault_version, public_key, cert_chain, created,"
                           " created_by, note FROM ref_versions"
                           " WHERE ref_id = ? AND version = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading a version");
    sqlite3_bind_int64(stmt, 1, ref_id);
    sqlite3_bind_int(stmt, 2, version);
    step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = sr_err(st, SR_ERR_NOTFOUND, "version %d does not exist",
                    version);
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = sr_db_fail(st, "reading a version");
        goto out;
    }
    v->version = version;
    v->key_id = sqlite3_column_int(stmt, 0);
    v->vault_client = dup_text(stmt, 2);
    v->vault_secret = dup_text(stmt, 3);
    v->vault_version = dup_text(stmt, 4);
    v->cert_chain_pem = dup_text(stmt, 6);
    v->created = dup_text(stmt, 7);
    v->created_by = dup_text(stmt, 8);
    v->note = dup_text(stmt, 9);
    if (!dup_blob(stmt, 1, &v->sealed, &v->sealed_len) ||
        !dup_blob(stmt, 5, &v->public_key, &v->public_key_len) ||
        !v->created || !v->created_by || !v->note ||
        !copied(stmt, 2, v->vault_client) ||
        !copied(stmt, 3, v->vault_secret) ||
        !copied(stmt, 4, v->vault_version) ||
        !copied(stmt, 6, v->cert_chain_pem))
        rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK)
        sr_version_row_clear(v);
    return rc;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int col, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, col);
}

sr_rc sr_db_version_add(sr_store *st, int64_t ref_id, struct sr_version_row *v)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO ref_versions (ref_id, version, key_id,"
                           " sealed, vault_client, vault_secret, vault_version,"
                           " public_key, cert_chain, created, created_by, note)"
                           " VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, ?6, ?7, ?8,"
                           " ?9, ?10, ?11, ?12)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "adding a version");
    sqlite3_bind_int64(stmt, 1, ref_id);
    sqlite3_bind_int(stmt, 2, v->version);
    sqlite3_bind_int(stmt, 3, v->key_id);
    if (v->sealed)
        sqlite3_bind_blob(stmt, 4, v->sealed, (int)v->sealed_len,
                          SQLITE_STATIC);
    bind_text_or_null(stmt, 5, v->vault_client);
    bind_text_or_null(stmt, 6, v->vault_secret);
    bind_text_or_null(stmt, 7, v->vault_version);
    if (v->public_key)
        sqlite3_bind_blob(stmt, 8, v->public_key, (int)v->public_key_len,
                          SQLITE_STATIC);
    bind_text_or_null(stmt, 9, v->cert_chain_pem);
    sqlite3_bind_text(stmt, 10, v->created, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, v->created_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 12, v->note ? v->note : "", -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = sr_db_fail(st, "adding a version");
        goto out;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE refs SET current_version = ?, updated = ?"
                           " WHERE id = ?",
                           -1, &stmt, NULL) != SQLITE_OK) {
        rc = sr_db_fail(st, "adding a version");
        goto out;
    }
    sqlite3_bind_int(stmt, 1, v->version);
    sqlite3_bind_text(stmt, 2, v->created, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, ref_id);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "adding a version");
out:
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_version_reseal(sr_store *st, int64_t ref_id,
                           const struct sr_version_row *v)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE ref_versions SET sealed = ?, key_id = ?"
                           " WHERE ref_id = ? AND version = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "re-sealing a version");
    sqlite3_bind_blob(stmt, 1, v->sealed, (int)v->sealed_len, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, v->key_id);
    sqlite3_bind_int64(stmt, 3, ref_id);
    sqlite3_bind_int(stmt, 4, v->version);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "re-sealing a version");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_version_list(sr_store *st, int64_t ref_id, sr_version_info **out,
                         size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    sr_version_info *list = NULL, *grown;
    size_t n = 0;
    sr_rc rc = SR_OK;
    int step;

    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT version, created, created_by, note,"
                           " coalesce(key_id, 0) FROM ref_versions"
                           " WHERE ref_id = ? ORDER BY version",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading versions");
    sqlite3_bind_int64(stmt, 1, ref_id);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!(grown = realloc(list, (n + 1) * sizeof(*list)))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        list = grown;
        list[n].version = sqlite3_column_int(stmt, 0);
        list[n].created = dup_text(stmt, 1);
        list[n].created_by = dup_text(stmt, 2);
        list[n].note = dup_text(stmt, 3);
        list[n].key_id = sqlite3_column_int(stmt, 4);
        n++;
        if (!list[n - 1].created || !list[n - 1].created_by ||
            !list[n - 1].note) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, "reading versions");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        sr_version_list_free(list, n);
    } else {
        *out = list;
        *count = n;
    }
    return rc;
}

void sr_version_list_free(sr_version_info *versions, size_t count)
{
    size_t i;

    if (!versions)
        return;
    for (i = 0; i < count; i++) {
        free(versions[i].created);
        free(versions[i].created_by);
        free(versions[i].note);
    }
    free(versions);
}

/* One sealed version to visit: its reference's binding fields. */
struct sealed_key {
    int64_t ref_id, env_id;
    int version;
    sr_kind kind;
    char *uuid;
};

sr_rc sr_db_sealed_foreach(sr_store *st, sr_sealed_fn fn, void *arg)
{
    sqlite3_stmt *select = NULL, *update = NULL;
    struct sealed_key *keys = NULL, *grown;
    struct sr_version_row v;
    struct sr_ref_row ref;
    unsigned char *replacement = NULL;
    size_t replacement_len = 0, n = 0, i;
    const char *kind;
    sr_rc rc = SR_OK;
    int step;

    memset(&ref, 0, sizeof(ref));
    memset(&v, 0, sizeof(v));
    /* First the list, then the updates: a table updated while a scan of
     * it is open may show a row twice. */
    if (sqlite3_prepare_v2(st->db,
                           "SELECT r.uuid, r.kind, coalesce(r.env_id, 0),"
                           " v.ref_id, v.version FROM ref_versions v"
                           " JOIN refs r ON r.id = v.ref_id"
                           " WHERE v.sealed IS NOT NULL",
                           -1, &select, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading sealed values");
    while ((step = sqlite3_step(select)) == SQLITE_ROW) {
        if (!(grown = realloc(keys, (n + 1) * sizeof(*keys)))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        keys = grown;
        kind = (const char *)sqlite3_column_text(select, 1);
        keys[n].uuid = dup_text(select, 0);
        keys[n].env_id = sqlite3_column_int64(select, 2);
        keys[n].ref_id = sqlite3_column_int64(select, 3);
        keys[n].version = sqlite3_column_int(select, 4);
        n++;
        if (!keys[n - 1].uuid) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (!kind || sr_kind_parse(kind, &keys[n - 1].kind) != SR_OK) {
            rc = sr_err(st, SR_ERR_DB, "a reference has an unknown kind");
            goto out;
        }
    }
    if (step != SQLITE_DONE) {
        rc = sr_db_fail(st, "reading sealed values");
        goto out;
    }
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE ref_versions SET sealed = ?, key_id = ?"
                           " WHERE ref_id = ? AND version = ?",
                           -1, &update, NULL) != SQLITE_OK) {
        rc = sr_db_fail(st, "re-sealing");
        goto out;
    }
    for (i = 0; i < n; i++) {
        ref.info.uuid = keys[i].uuid;
        ref.info.kind = keys[i].kind;
        ref.info.id = keys[i].ref_id;
        ref.env_id = keys[i].env_id;
        if ((rc = sr_db_version_get(st, keys[i].ref_id, keys[i].version,
                                    &v)) != SR_OK ||
            (rc = fn(st, &ref, &v, &replacement, &replacement_len, arg)) !=
                SR_OK)
            goto out;
        sr_version_row_clear(&v);
        if (!replacement)
            continue;
        sqlite3_reset(update);
        sqlite3_bind_blob(update, 1, replacement, (int)replacement_len,
                          SQLITE_STATIC);
        sqlite3_bind_int(update, 2,
                         sr_sealed_key_id(replacement, replacement_len));
        sqlite3_bind_int64(update, 3, keys[i].ref_id);
        sqlite3_bind_int(update, 4, keys[i].version);
        step = sqlite3_step(update);
        free(replacement);
        replacement = NULL;
        if (step != SQLITE_DONE) {
            rc = sr_db_fail(st, "re-sealing");
            goto out;
        }
    }
out:
    sr_version_row_clear(&v);
    free(replacement);
    for (i = 0; i < n; i++)
        free(keys[i].uuid);
    free(keys);
    sqlite3_finalize(select);
    sqlite3_finalize(update);
    return rc;
}

sr_rc sr_db_audit_add(sr_store *st, const char *reference, int version,
                      const char *action, const char *detail)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    char now[21];

    sr_now_iso(now);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO audit (time, user, program, reference,"
                           " environment, version, action, detail)"
                           " VALUES (?, ?, ?, ?, ?, nullif(?, 0), ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "writing the audit log");
    sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, st->user, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, st->program, -1, SQLITE_STATIC);
    bind_text_or_null(stmt, 4, reference);
    bind_text_or_null(stmt, 5, st->environment);
    sqlite3_bind_int(stmt, 6, version);
    sqlite3_bind_text(stmt, 7, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, detail ? detail : "", -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "writing the audit log");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_audit_list(sr_store *st, const char *name, sr_audit_entry **out,
                       size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    sr_audit_entry *list = NULL, *grown, *a;
    size_t n = 0;
    sr_rc rc = SR_OK;
    int step;

    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, time, user, program, reference,"
                           " environment, coalesce(version, 0), action, detail"
                           " FROM audit WHERE ?1 IS NULL OR reference = ?1"
                           " ORDER BY id",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading the audit log");
    bind_text_or_null(stmt, 1, name);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!(grown = realloc(list, (n + 1) * sizeof(*list)))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        list = grown;
        a = &list[n++];
        a->id = sqlite3_column_int64(stmt, 0);
        a->time = dup_text(stmt, 1);
        a->user = dup_text(stmt, 2);
        a->program = dup_text(stmt, 3);
        a->reference = dup_text(stmt, 4);
        a->environment = dup_text(stmt, 5);
        a->version = sqlite3_column_int(stmt, 6);
        a->action = dup_text(stmt, 7);
        a->detail = dup_text(stmt, 8);
        if (!a->time || !a->user || !a->program || !a->action ||
            !a->detail || !copied(stmt, 4, a->reference) ||
            !copied(stmt, 5, a->environment)) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, "reading the audit log");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        sr_audit_list_free(list, n);
    } else {
        *out = list;
        *count = n;
    }
    return rc;
}

void sr_audit_list_free(sr_audit_entry *entries, size_t count)
{
    size_t i;

    if (!entries)
        return;
    for (i = 0; i < count; i++) {
        free(entries[i].time);
        free(entries[i].user);
        free(entries[i].program);
        free(entries[i].reference);
        free(entries[i].environment);
        free(entries[i].action);
        free(entries[i].detail);
    }
    free(entries);
}
