/* SPDX-License-Identifier: Apache-2.0 */
/* The import of an exported configuration (sr_import, store/import.c)
 * into a key-file store made once per process, holding references of each
 * kind and a connector. Each input is imported inside an outer
 * transaction that is then rolled back, so every input meets the same
 * store. A refused import must leave the store as it was: a hash of every
 * row of every table is compared before the rollback. */
#include "fuzz.h"
#include "internal.h"

#include <sqlite3.h>

static sr_store *st;
static uint64_t baseline;

static void hash_bytes(uint64_t *h, const void *data, size_t len) {
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < len; i++) {
        *h ^= p[i];
        *h *= 0x100000001b3ULL;
    }
}

/* FNV-1a over every row of every table, in rowid order. */
static uint64_t store_hash(void) {
    sqlite3_stmt *tables = NULL, *rows = NULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    char sql[256];
    int i, n, type;

    if (sqlite3_prepare_v2(st->db,
                           "SELECT name FROM sqlite_master WHERE type = "
                           "'table' ORDER BY name",
                           -1, &tables, NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(tables) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(tables, 0);
        hash_bytes(&h, name, strlen(name) + 1);
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
        if (sqlite3_prepare_v2(st->db, sql, -1, &rows, NULL) != SQLITE_OK)
            abort();
        while (sqlite3_step(rows) == SQLITE_ROW) {
            n = sqlite3_column_count(rows);
            for (i = 0; i < n; i++) {
                type = sqlite3_column_type(rows, i);
                hash_bytes(&h, &type, sizeof(type));
                if (type != SQLITE_NULL)
                    hash_bytes(&h, sqlite3_column_blob(rows, i),
                               (size_t)sqlite3_column_bytes(rows, i));
            }
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    return h;
}

static void create(const char *name, const char *env, sr_kind kind,
                   const char *generate) {
    sr_ref_spec spec;
    sr_secret *secret = NULL;

    memset(&spec, 0, sizeof(spec));
    spec.name = name;
    spec.environment = env;
    spec.description = "fuzz";
    spec.kind = kind;
    spec.generate = generate;
    if (kind == SR_KIND_MANUAL) {
        if (sr_secret_from("not-a-secret", 12, &secret) != SR_OK)
            abort();
        spec.secret = secret;
    } else if (kind == SR_KIND_KEY_VAULT) {
        spec.vault_client = "corp-vault";
        spec.vault_secret = "partner-api-key";
    }
    if (sr_ref_create(st, &spec) != SR_OK) {
        fprintf(stderr, "%s: %s\n", name, sr_store_errmsg(st));
        abort();
    }
    sr_secret_free(secret);
}

static void setup(void) {
    char store_path[PATH_MAX + 16], key_path[PATH_MAX + 16], err[512];
    sr_keyvault_client kv;
    sr_connector c;
    sr_config cfg;

    snprintf(store_path, sizeof(store_path), "%s/store.db", fuzz_tmpdir());
    snprintf(key_path, sizeof(key_path), "%s/master.key", fuzz_tmpdir());
    memset(&cfg, 0, sizeof(cfg));
    cfg.store_path = store_path;
    cfg.key_file = key_path;
    cfg.program = "fuzz_import";
    if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) !=
        SR_OK) {
        fprintf(stderr, "sr_store_init: %s\n", err);
        abort();
    }
    create("orders-db", NULL, SR_KIND_MANUAL, NULL);
    create("kv-secret", NULL, SR_KIND_MANUAL, NULL);
    memset(&kv, 0, sizeof(kv));
    kv.name = (char *)"corp-vault";
    kv.vault_url = (char *)"https://corp-vault.vault.azure.net";
    kv.tenant = (char *)"72f988bf-86f1-41af-91ab-2d7cd011db47";
    kv.client_id = (char *)"11111111-2222-3333-4444-555555555555";
    kv.credential = (char *)"client-secret";
    kv.credential_ref = (char *)"kv-secret";
    if (sr_keyvault_add(st, &kv) != SR_OK) {
        fprintf(stderr, "Key Vault client: %s\n", sr_store_errmsg(st));
        abort();
    }
    create("orders-db", "Production", SR_KIND_MANUAL, NULL);
    create("partner-api", NULL, SR_KIND_KEY_VAULT, NULL);
    create("azure-sftp", NULL, SR_KIND_CERTIFICATE, "ec-p256");
    memset(&c, 0, sizeof(c));
    c.name = (char *)"partner-sftp";
    c.kind = (char *)"sftp";
    c.host = (char *)"acct.blob.core.windows.net";
    c.user = (char *)"acct.cont.user";
    c.key_uri = (char *)"secretref:azure-sftp";
    c.folder = (char *)"/in";
    if (sr_connector_add(st, &c) != SR_OK) {
        fprintf(stderr, "connector: %s\n", sr_store_errmsg(st));
        abort();
    }
    baseline = store_hash();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *summary = NULL;
    sr_rc rc;

    if (!st)
        setup();
    if (sr_db_begin(st) != SR_OK)
        abort();
    rc = sr_import(st, (const char *)data, size, &summary);
    if (rc == SR_OK) {
        if (!summary)
            abort();
        free(summary);
    } else {
        if (summary || !sr_store_errmsg(st)[0])
            abort();
        if (store_hash() != baseline) {
            fprintf(stderr, "a refused import changed the store: %s\n",
                    sr_store_errmsg(st));
            abort();
        }
    }
    sr_db_rollback(st);
    if (st->in_transaction != 0 || store_hash() != baseline)
        abort();
    return 0;
}
