/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite connection: pragmas, transactions, error mapping, and the
 * small tables (parameters, key ring, environment types). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Long enough for four readers and a writer (and a slow disk) to take
 * turns: a busy store waits rather than failing with "database is locked". */
#define BUSY_TIMEOUT_MS 30000

/* The schema version of an existing file, read without writing to it: 0
 * for an empty file or another program's database, -1 when it cannot be
 * read (the pragmas in sr_db_open then say why). */
static int existing_version(sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    int version = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return version;
}

/* Why SQLite failed, for the end of a message; "" when its words say
 * it all. A full disk or a read-only mount can also surface as an I/O
 * error (the -shm file), so errno decides then. */
static const char *fail_hint(sqlite3 *db)
{
    switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_FULL:
        return " (the disk is full; nothing was changed)";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return " (the store is damaged: restore it from a backup)";
    case SQLITE_READONLY:
        return " (the store is read-only)";
    case SQLITE_BUSY:
        return " (another process holds the store)";
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        if (sqlite3_system_errno(db) == ENOSPC)
            return " (the disk is full; nothing was changed)";
        if (sqlite3_system_errno(db) == EROFS)
            return " (the store is read-only)";
        return "";
    default:
        return "";
    }
}

/* Does PATH-wal or PATH-shm exist? */
static int log_files_exist(const char *path)
{
    char name[4096];
    struct stat sb;

    snprintf(name, sizeof(name), "%s-wal", path);
    if (lstat(name, &sb) == 0)
        return 1;
    snprintf(name, sizeof(name), "%s-shm", path);
    return lstat(name, &sb) == 0;
}

/* Opens PATH read-only and immutable (no locks, no -shm), through a URI
 * with the path percent-encoded. */
static int open_immutable(const char *path, sqlite3 **db)
{
    static const char digits[] = "0123456789ABCDEF";
    static const char suffix[] = "?immutable=1";
    size_t len = strlen(path), i, n = 0;
    char *uri = malloc(5 + 3 * len + sizeof(suffix));
    int rc;

    *db = NULL;
    if (!uri)
        return SQLITE_NOMEM;
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): ended below */
    memcpy(uri, "file:", 5);
    n = 5;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("/-._~", c)) {
            uri[n++] = (char)c;
        } else {
            uri[n++] = '%';
            uri[n++] = digits[c >> 4];
            uri[n++] = digits[c & 15];
        }
    }
    memcpy(uri + n, suffix, sizeof(suffix));
    rc = sqlite3_open_v2(uri, db,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
                             SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW |
                             SQLITE_OPEN_EXRESCODE,
                         NULL);
    free(uri);
    return rc;
}

sr_rc sr_db_open(const char *path, int create, sqlite3 **out,
                 struct sr_error *e)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX |
                SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE;
    sr_rc rc = SR_ERR_DB;
    struct stat sb;
    int fd;

    *out = NULL;
    if (create) {
        /* Create the file 0600 ourselves: SQLite would use the umask. */
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd < 0)
            return errno == EEXIST
                       ? sr_error_set(e, SR_ERR_EXISTS,
                                      "%s: a store already exists", path)
                       : sr_error_set(e, rc, "%s: %s", path,
                                      strerror(errno));
        close(fd);
    } else if (stat(path, &sb) != 0) {
        return sr_error_set(e, rc, "%s: %s%s", path, strerror(errno),
                            errno == ENOENT ? " (run secretref init)" : "");
    }
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        sr_error_set(e, rc, "%s: %s", path,
                     db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    /* A store this process cannot write (a read-only mount, or its
     * modes) can still be read: SQLite reads a WAL store only with its
     * -shm file, which a read-only folder cannot get, so a store with no
     * log files is read as immutable. Writes then fail as read-only. */
    if (!create && sqlite3_db_readonly(db, "main") == 1 &&
        !log_files_exist(path)) {
        sqlite3_close_v2(db);
        if (open_immutable(path, &db) != SQLITE_OK) {
            sr_error_set(e, rc, "%s: %s", path,
                         db ? sqlite3_errmsg(db) : "out of memory");
            goto out;
        }
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    /* Only init makes a store: an existing file without our schema is
     * refused before the pragmas and migrations below could change it. */
    if (!create && existing_version(db) == 0) {
        sr_error_set(e, rc,
                     "%s: not a secretref store (an empty file, or another "
                     "program's database)",
                     path);
        goto out;
    }
    /* journal_mode reads the header: a file that is not a database fails
     * here with a clear message rather than later. */
    if (sqlite3_exec(db,
                     "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = FULL;"
                     "PRAGMA secure_delete = ON;"
                     "PRAGMA foreign_keys = ON;"
                     "PRAGMA trusted_schema = OFF;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sr_error_set(e, rc, "%s: %s%s", path, sqlite3_errmsg(db),
                     fail_hint(db));
        goto out;
    }
    rc = sr_schema_migrate(db, e);
out:
    if (rc != SR_OK) {
        sqlite3_close_v2(db);
        if (create)
            unlink(path);
    } else {
        *out = db;
    }
    return rc;
}

sr_rc sr_db_fail(sr_store *st, const char *what)
{
    return sr_err(st, SR_ERR_DB, "store %s: %s: %s%s", st->path, what,
                  sqlite3_errmsg(st->db), fail_hint(st->db));
}

/* SQLite rolls a transaction back by itself after some errors (out of
 * memory, a full disk); a write after that would commit on its own, half
 * an operation. While we hold a transaction only our COMMIT, made with
 * in_transaction back at 0, may commit: any other is turned into a
 * rollback (SQLITE_CONSTRAINT_COMMITHOOK). */
static int commit_guard(void *arg)
{
    const sr_store *st = arg;

    return st->in_transaction > 0;
}

sr_rc sr_db_begin(sr_store *st)
{
    if (st->in_transaction++)
        return SR_OK;
    sqlite3_commit_hook(st->db, commit_guard, st);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
        SQLITE_OK) {
        st->in_transaction = 0;
        return sr_db_fail(st, "starting a transaction");
    }
    return SR_OK;
}

sr_rc sr_db_commit(sr_store *st)
{
    if (st->in_transaction <= 0 || --st->in_transaction)
        return SR_OK;
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sr_rc rc = sr_db_fail(st, "committing");
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return SR_OK;
}

void sr_db_rollback(sr_store *st)
{
    if (st->in_transaction <= 0)
        return;
    /* An inner failure aborts the whole outer transaction. */
    st->in_transaction = 0;
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

sr_rc sr_db_checkpoint(sr_store *st)
{
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
                                       SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                       NULL);

    /* BUSY: readers kept part of the log; the pragma form hides that. */
    if (rc == SQLITE_BUSY)
        return sr_err(st, SR_ERR_DB,
                      "store %s: other readers kept the log from being "
                      "checkpointed",
                      st->path);
    if (rc != SQLITE_OK)
        return sr_db_fail(st, "checkpointing the log");
    return SR_OK;
}

int sr_db_readonly(sr_store *st)
{
    return sqlite3_db_readonly(st->db, "main") == 1;
}

static char *column_strdup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text = sqlite3_column_text(stmt, col);

    return text ? strdup((const char *)text) : NULL;
}

sr_rc sr_db_param_get(sr_store *st, const char *name, char **value)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc;
    int step;

    *value = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT value FROM parameters WHERE name = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading a parameter");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        *value = column_strdup(stmt, 0);
        rc = *value ? SR_OK : sr_err(st, SR_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = sr_err(st, SR_ERR_NOTFOUND, "parameter %s is not set", name);
    } else {
        rc = sr_db_fail(st, "reading a parameter");
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_param_set(sr_store *st, const char *name, const char *value)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO parameters (name, value) VALUES (?, ?)"
                           " ON CONFLICT (name) DO UPDATE SET value = ?2",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "writing a parameter");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "writing a parameter");
    sqlite3_finalize(stmt);
    return rc;
}

void sr_keyring_row_clear(struct sr_keyring_row *row)
{
    if (!row)
        return;
    free(row->check_value);
    memset(row, 0, sizeof(*row));
}

sr_rc sr_db_keyring_get(sr_store *st, int key_id, struct sr_keyring_row *row)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    const void *blob;
    int step, len;

    memset(row, 0, sizeof(*row));
    if (sqlite3_prepare_v2(st->db,
                           "SELECT source, salt, scrypt_n, scrypt_r, scrypt_p,"
                           " check_value FROM keyring WHERE key_id = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading the key ring");
    sqlite3_bind_int(stmt, 1, key_id);
    step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = sr_err(st, SR_ERR_DB, "store %s: key %d is missing from the key "
                    "ring", st->path, key_id);
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = sr_db_fail(st, "reading the key ring");
        goto out;
    }
    row->key_id = key_id;
    snprintf(row->source, sizeof(row->source), "%s",
             (const char *)sqlite3_column_text(stmt, 0));
    blob = sqlite3_column_blob(stmt, 1);
    len = sqlite3_column_bytes(stmt, 1);
    if (blob && len > 0 && (size_t)len <= sizeof(row->salt)) {
        memcpy(row->salt, blob, (size_t)len);
        row->salt_len = (size_t)len;
    }
    row->n = (uint64_t)sqlite3_column_int64(stmt, 2);
    row->r = (uint32_t)sqlite3_column_int(stmt, 3);
    row->p = (uint32_t)sqlite3_column_int(stmt, 4);
    blob = sqlite3_column_blob(stmt, 5);
    len = sqlite3_column_bytes(stmt, 5);
    if (!blob || len <= 0 || !(row->check_value = malloc((size_t)len))) {
        rc = sr_err(st, SR_ERR_DB, "store %s: key ring entry %d is damaged",
                    st->path, key_id);
        goto out;
    }
    memcpy(row->check_value, blob, (size_t)len);
    row->check_len = (size_t)len;
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK)
        sr_keyring_row_clear(row);
    return rc;
}

sr_rc sr_db_keyring_add(sr_store *st, const struct sr_keyring_row *row,
                        int *key_id)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    char now[21];

    sr_now_iso(now);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO keyring (key_id, source, salt, "
                           "scrypt_n, scrypt_r, scrypt_p, check_value, "
                           "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "writing the key ring");
    sqlite3_bind_int(stmt, 1, row->key_id);
    sqlite3_bind_text(stmt, 2, row->source, -1, SQLITE_STATIC);
    if (row->salt_len) {
        sqlite3_bind_blob(stmt, 3, row->salt, (int)row->salt_len,
                          SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, (sqlite3_int64)row->n);
        sqlite3_bind_int(stmt, 5, (int)row->r);
        sqlite3_bind_int(stmt, 6, (int)row->p);
    }
    sqlite3_bind_blob(stmt, 7, row->check_value, (int)row->check_len,
                      SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, now, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "writing the key ring");
    else
        *key_id = row->key_id;
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_keyring_retire(sr_store *st, int key_id)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    char now[21];

    sr_now_iso(now);
    if (sqlite3_prepare_v2(st->db,
                           "UPDATE keyring SET retired = ? WHERE key_id = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "writing the key ring");
    sqlite3_bind_text(stmt, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, key_id);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = sr_db_fail(st, "writing the key ring");
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_env_find(sr_store *st, const char *name, int64_t *id,
                     char **canonical)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;
    int step;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, name FROM environment_types "
                           "WHERE name = ?",
                           -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading environment types");
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(stmt, 0);
        if (canonical && !(*canonical = column_strdup(stmt, 1)))
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = sr_err(st, SR_ERR_NOTFOUND,
                    "%s: no such environment type (see secretref "
                    "environments list)",
                    name);
    } else {
        rc = sr_db_fail(st, "reading environment types");
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Runs a query whose first column is text, into a malloc'd array. */
static sr_rc query_strings(sr_store *st, const char *sql, const char *arg,
                           char ***out, size_t *count, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    char **list = NULL, **grown;
    size_t n = 0;
    sr_rc rc = SR_OK;
    int step;

    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, what);
    if (arg)
        sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_STATIC);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!(grown = realloc(list, (n + 1) * sizeof(*list))) ||
            !(grown[n] = column_strdup(stmt, 0))) {
            if (grown)
                list = grown;
            rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        list = grown;
        n++;
    }
    if (step != SQLITE_DONE)
        rc = sr_db_fail(st, what);
out:
    sqlite3_finalize(stmt);
    if (rc != SR_OK) {
        sr_string_list_free(list, n);
    } else {
        *out = list;
        *count = n;
    }
    return rc;
}

void sr_string_list_free(char **list, size_t count)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

sr_rc sr_db_env_list(sr_store *st, char ***names, size_t *count)
{
    return query_strings(st, "SELECT name FROM environment_types ORDER BY id",
                         NULL, names, count, "reading environment types");
}

sr_rc sr_db_ref_envs(sr_store *st, const char *name, char ***envs,
                     size_t *count)
{
    return query_strings(st,
                         "SELECT coalesce(e.name, '(none)') FROM refs r "
                         "LEFT JOIN environment_types e ON e.id = r.env_id "
                         "WHERE r.name = ? ORDER BY e.id",
                         name, envs, count, "reading references");
}

/* Runs a statement with up to two text arguments and an id. */
static sr_rc exec_simple(sr_store *st, const char *sql, const char *text,
                         int64_t id, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, what);
    if (text)
        sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
    if (id)
        sqlite3_bind_int64(stmt, text ? 2 : 1, id);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = sr_err(st, SR_ERR_EXISTS, "%s: the name is taken", what);
        else
            rc = sr_db_fail(st, what);
    }
    sqlite3_finalize(stmt);
    return rc;
}

sr_rc sr_db_env_add(sr_store *st, const char *name)
{
    return exec_simple(st, "INSERT INTO environment_types (name) VALUES (?)",
                       name, 0, "adding an environment type");
}

sr_rc sr_db_env_delete(sr_store *st, int64_t id)
{
    return exec_simple(st, "DELETE FROM environment_types WHERE id = ?", NULL,
                       id, "removing an environment type");
}

sr_rc sr_db_env_rename(sr_store *st, int64_t id, const char *name)
{
    return exec_simple(st,
                       "UPDATE environment_types SET name = ? WHERE id = ?",
                       name, id, "renaming an environment type");
}

sr_rc sr_db_env_in_use(sr_store *st, int64_t id, int *in_use)
{
    sqlite3_stmt *stmt = NULL;
    sr_rc rc = SR_OK;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT count(*) FROM refs WHERE env_id = ?", -1,
                           &stmt, NULL) != SQLITE_OK)
        return sr_db_fail(st, "reading references");
    sqlite3_bind_int64(stmt, 1, id);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *in_use = sqlite3_column_int(stmt, 0);
    else
        rc = sr_db_fail(st, "reading references");
    sqlite3_finalize(stmt);
    return rc;
}
