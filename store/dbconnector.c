/* SPDX-License-Identifier: Apache-2.0 */
/* SQL for connectors, and the reference kinds their checks need. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CONNECTOR_SELECT                                                     \
    "SELECT name, kind, host, port, user, key_uri, password_ref, host_key,"  \
    " folder, created FROM connectors "

static char *dup_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);

    return text ? strdup((const char *)text) : NULL;
}

/* A text column that is NULL in the row, or was copied. */
static int copied(sqlite3_stmt *stmt, int col, const char *copy)
{
    return copy || sqlite3_column_type(stmt, col) == SQLITE_NULL;
}

static sr_rc row_read(sr_store *st, sqlite3_stmt *stmt, sr_connector *c)
{
    memset(c, 0, sizeof(*c));
    if (sqlite3_column_type(stmt, 2) == SQLITE_NULL ||
        sqlite3_column_type(stmt, 4) == SQLITE_NULL)
        return sr_err(st, SR_ERR_DB, "store %s: a connector has no host or "
                      "user", st->path);
    c->name = dup_text(stmt, 0);
    c->kind = dup_text(stmt, 1);
    c->host = dup_text(stmt, 2);
    c->port = sqlite3_column_int(stmt, 3);
    c->user = dup_text(stmt, 4);
    c->key_uri = dup_text(stmt, 5);
    c->password_ref = dup_text(stmt, 6);
    c->host_key = dup_text(stmt, 7);
    c->folder = dup_text(stmt, 8);
    c->created = dup_text(stmt, 9);
    if (!c->name || !c->kind || !c->host || !c->user || !c->created ||
        !copied(stmt, 5, c->key_uri) || !copied(stmt, 6, c->password_ref) ||
        !copied(stmt, 7, c->host_key) || !copied(stmt, 8, c->folder)) {
        sr_connector_clear(c);
        return sr_err(st, SR_ERR_NOMEM, "out of memory");
    }
    return SR_OK;
}

sr_rc sr_db_connector_get(sr_store *st, const char *name, sr_connector *out)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc;
    int step;

    if (sqlite3_prepare_v2(st->db, CONNECTOR_SELECT "WHERE name = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading connectors");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        rc = row_read(st, stmt, out);
    else if (step == SQLITE_DONE)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such connector", name);
    else
        rc = sr_db_fail(st, "reading connectors");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_connector_list(sr_store *st, sr_connector **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    sr_connector *list = NULL, *grown;
    size_t n = 0;
    sr_rc rc = SR_OK;
    int step;

    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db, CONNECTOR_SELECT "ORDER BY name", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "listing connectors");
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
        rc = sr_db_fail(st, "listing connectors");
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        sr_connector_list_free(list, n);
    } else {
        *out = list;
        *count = n;
    }
    return rc;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int col, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, col);
}

/* Binds ?1..?10 of the insert and update statements below. */
static void bind_fields(sqlite3_stmt *stmt, const sr_connector *c,
                        const char *reference, const char *created)
{
    sqlite3_bind_text(stmt, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, c->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, c->host, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, c->port);
    sqlite3_bind_text(stmt, 5, c->user, -1, SQLITE_STATIC);
    bind_text_or_null(stmt, 6, c->key_uri);
    bind_text_or_null(stmt, 7, c->password_ref);
    bind_text_or_null(stmt, 8, reference);
    bind_text_or_null(stmt, 9, c->host_key);
    bind_text_or_null(stmt, 10, c->folder);
    if (created)
        sqlite3_bind_text(stmt, 11, created, -1, SQLITE_STATIC);
}

sr_rc sr_db_connector_insert(sr_store *st, const sr_connector *c,
                             const char *reference)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    char now[21];

    sr_now_iso(now);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO connectors (name, kind, host, port,"
                           " user, key_uri, password_ref, reference, host_key,"
                           " folder, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                           " ?7, ?8, ?9, ?10, ?11)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "adding a connector");
    bind_fields(stmt, c, reference, now);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sr_err(st, SR_ERR_EXISTS,
                        "%s: a connector of this name already exists",
                        c->name);
        else
            rc = sr_db_fail(st, "adding a connector");
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_connector_update(sr_store *st, const sr_connector *c,
                             const char *reference)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "UPDATE connectors SET kind = ?2, host = ?3,"
                           " port = ?4, user = ?5, key_uri = ?6,"
                           " password_ref = ?7, reference = ?8,"
                           " host_key = ?9, folder = ?10 WHERE name = ?1",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "changing a connector");
    bind_fields(stmt, c, reference, NULL);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "changing a connector");
    else if (sqlite3_changes(st->db) == 0)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such connector", c->name);
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_connector_delete(sr_store *st, const char *name)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db, "DELETE FROM connectors WHERE name = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "deleting a connector");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "deleting a connector");
    else if (sqlite3_changes(st->db) == 0)
        rc = sr_err(st, SR_ERR_NOTFOUND, "%s: no such connector", name);
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_ref_kinds(sr_store *st, const char *name, unsigned *kinds)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    sr_kind kind;
    unsigned mask = 0;
    int step;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT DISTINCT kind FROM refs WHERE name = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading references");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        if (text && sr_kind_parse(text, &kind) == SR_OK)
            mask |= 1u << kind;
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, "reading references");
    else
        *kinds = mask;
    sqlite3_finalize(stmt);
    return rc;
}
