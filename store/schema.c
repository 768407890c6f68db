/* SPDX-License-Identifier: Apache-2.0 */
/* The schema and its migrations, one step per PRAGMA user_version. */
#include "internal.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE parameters ("
    "  name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE keyring ("
    "  key_id INTEGER PRIMARY KEY,"
    "  source TEXT NOT NULL CHECK (source IN ('file', 'passphrase')),"
    "  salt BLOB, scrypt_n INTEGER, scrypt_r INTEGER, scrypt_p INTEGER,"
    "  check_value BLOB NOT NULL,"
    "  created TEXT NOT NULL, retired TEXT);"
    "CREATE TABLE environment_types ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE);"
    "INSERT INTO environment_types (name) VALUES"
    "  ('Development'), ('Test'), ('Acceptance'), ('Production');"
    "CREATE TABLE refs ("
    "  id INTEGER PRIMARY KEY,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  env_id INTEGER REFERENCES environment_types (id),"
    "  expires TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN ('manual','key-vault','certificate')),"
    "  current_version INTEGER NOT NULL DEFAULT 0,"
    "  created TEXT NOT NULL, updated TEXT NOT NULL);"
    /* A name exists once per environment type and once without one. */
    "CREATE UNIQUE INDEX refs_name_env ON refs (name, coalesce(env_id, 0));"
    "CREATE TABLE ref_versions ("
    "  ref_id INTEGER NOT NULL REFERENCES refs (id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL,"
    "  key_id INTEGER REFERENCES keyring (key_id),"
    "  sealed BLOB,"
    "  vault_client TEXT, vault_secret TEXT, vault_version TEXT,"
    "  public_key BLOB, cert_chain TEXT,"
    "  created TEXT NOT NULL, created_by TEXT NOT NULL,"
    "  note TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (ref_id, version)) WITHOUT ROWID;"
    "CREATE TABLE keyvault_clients ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  vault_url TEXT NOT NULL, tenant TEXT, client_id TEXT,"
    "  credential_kind TEXT NOT NULL, credential_ref TEXT,"
    "  authority TEXT, ca_file TEXT, created TEXT NOT NULL);"
    "CREATE TABLE connectors ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL DEFAULT 'sftp', host TEXT, port INTEGER,"
    "  user TEXT, key_uri TEXT, password_ref TEXT, reference TEXT,"
    "  host_key TEXT, folder TEXT, created TEXT NOT NULL);"
    "CREATE TABLE audit ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time TEXT NOT NULL, user TEXT NOT NULL, program TEXT NOT NULL,"
    "  reference TEXT, environment TEXT, version INTEGER,"
    "  action TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX audit_reference ON audit (reference);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
};

#define MIGRATION_COUNT (int)(sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(MIGRATION_COUNT == SR_SCHEMA_VERSION,
               "one migration per schema version");

static int user_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        *version = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_schema_migrate(sqlite3 *db, struct sr_error *e)
{
    int version = 0, step;
    char pragma[64];

    if (user_version(db, &version) != SQLITE_OK)
        return sr_error_set(e, SR_ERR_DB, "reading the schema version: %s",
                            sqlite3_errmsg(db));
    if (version > SR_SCHEMA_VERSION)
        return sr_error_set(e, SR_ERR_DB,
                            "%s: the store has schema version %d, newer "
                            "than this program's %d: upgrade secretref",
                            sqlite3_db_filename(db, "main"), version,
                            SR_SCHEMA_VERSION);
    if (version == SR_SCHEMA_VERSION)
        return SR_OK;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sr_error_set(e, SR_ERR_DB, "migrating the schema: %s",
                            sqlite3_errmsg(db));
    /* Another process may have migrated while we waited for the lock. */
    if (user_version(db, &version) != SQLITE_OK)
        goto fail;
    for (step = version; step < SR_SCHEMA_VERSION; step++)
        if (sqlite3_exec(db, migrations[step], NULL, NULL, NULL) != SQLITE_OK)
            goto fail;
    snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
             SR_SCHEMA_VERSION);
    if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return SR_OK;
fail:
    sr_error_set(e, SR_ERR_DB, "migrating the schema: %s",
                 sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SR_ERR_DB;
}
