/* SPDX-License-Identifier: Apache-2.0 */
/* SQL for Key Vault clients. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_COLUMNS                                                       \
    "name, vault_url, tenant, client_id, credential_kind, credential_ref,"   \
    " authority, ca_file, created"

static char *text_dup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);

    return t ? strdup((const char *)t) : NULL;
}

/* The assertion style rides in credential_kind: "client-certificate" or
 * "client-certificate:rs256". */
static int client_read(sqlite3_stmt *stmt, sr_keyvault_client *c)
{
    char *kind, *colon = NULL;

    memset(c, 0, sizeof(*c));
    c->name = text_dup(stmt, 0);
    c->vault_url = text_dup(stmt, 1);
    c->tenant = text_dup(stmt, 2);
    c->client_id = text_dup(stmt, 3);
    kind = text_dup(stmt, 4);
    c->credential_ref = text_dup(stmt, 5);
    c->authority = text_dup(stmt, 6);
    c->ca_file = text_dup(stmt, 7);
    c->created = text_dup(stmt, 8);
    if (kind && (colon = strchr(kind, ':'))) {
        *colon = '\0';
        c->assertion = strdup(colon + 1);
    }
    c->credential = kind;
    /* A NULL copy of a value that is there is out of memory. */
    return c->name && c->vault_url && c->credential && c->created &&
           (c->tenant || sqlite3_column_type(stmt, 2) == SQLITE_NULL) &&
           (c->client_id || sqlite3_column_type(stmt, 3) == SQLITE_NULL) &&
           (c->credential_ref ||
            sqlite3_column_type(stmt, 5) == SQLITE_NULL) &&
           (c->authority || sqlite3_column_type(stmt, 6) == SQLITE_NULL) &&
           (c->ca_file || sqlite3_column_type(stmt, 7) == SQLITE_NULL) &&
           (c->assertion || !colon);
}

sr_rc sr_db_keyvault_insert(sr_store *st, const sr_keyvault_client *c)
{
    sqlite3_stmt *stmt = NULL;
    char now[21], kind[64];
    sr_rc rc = SR_OK;

    sr_now_iso(now);
    snprintf(kind, sizeof(kind), "%s%s%s", c->credential,
             c->assertion ? ":" : "", c->assertion ? c->assertion : "");
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO keyvault_clients (" CLIENT_COLUMNS
                           ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "adding a Key Vault client");
    sqlite3_bind_text(stmt, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, c->vault_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, c->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, c->client_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 5, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 6, c->credential_ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 7, c->authority, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, c->ca_file, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 9, now, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sr_err(st, SR_ERR_EXISTS,
                        "%s: a Key Vault client of this name exists",
                        c->name);
        else
            rc = sr_db_fail(st, "adding a Key Vault client");
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_keyvault_get(sr_store *st, const char *name,
                         sr_keyvault_client *out)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc;
    int step;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT " CLIENT_COLUMNS
                           " FROM keyvault_clients WHERE name = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading Key Vault clients");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        rc = client_read(stmt, out) ? SR_OK
                                    : sr_err(st, SR_ERR_NOMEM, "out of memory");
    else if (step == SQLITE_DONE)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such Key Vault client",
                    name);
    else
        rc = sr_db_fail(st, "reading Key Vault clients");
    if (rc != SR_OK && step == SQLITE_ROW)
        sr_keyvault_client_clear(out);
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_keyvault_list(sr_store *st, sr_keyvault_client **out,
                          size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    sr_keyvault_client *list = NULL, *grown;
    size_t n = 0;
    sr_rc rc = SR_OK;
    int step;

    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " CLIENT_COLUMNS
                           " FROM keyvault_clients ORDER BY name",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading Key Vault clients");
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!(grown = realloc(list, (n + 1) * sizeof(*list)))) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            break;
        }
        list = grown;
        if (!client_read(stmt, &list[n++])) {
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            break;
        }
    }
    if (rc == SR_OK && step != SQLITE_DONE)
        rc = sr_db_fail(st, "reading Key Vault clients");
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        sr_keyvault_list_free(list, n);
    } else {
        *out = list;
        *count = n;
    }
    return rc;
}

sr_rc sr_db_keyvault_delete(sr_store *st, const char *name)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "DELETE FROM keyvault_clients WHERE name = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "deleting a Key Vault client");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "deleting a Key Vault client");
    else if (sqlite3_changes(st->db) == 0)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such Key Vault client",
                    name);
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_keyvault_users(sr_store *st, const char *name, int *count)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT count(*) FROM refs r JOIN ref_versions v"
                           " ON v.ref_id = r.id AND v.version ="
                           " r.current_version WHERE v.vault_client = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading references");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int(stmt, 0);
    else
        rc = sr_db_fail(st, "reading references");
    sqlite3_finalize(stmt);
    return rc;
}
