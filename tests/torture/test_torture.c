/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation-failure testing, as curl's torture tests do it: each store
 * operation runs again and again in a forked child whose Nth allocation
 * fails (alloc.c replaces the process's allocator, so our code, SQLite,
 * OpenSSL, jansson and libcurl all see it), for N = 1, 2, ... until the
 * operation makes fewer than N allocations. Every run must end in a clean
 * error with a message (no crash, no abort), leave no block allocated by
 * the operation behind, and leave the store as it was (the same rows in
 * every table, integrity_check ok); a run that succeeds anyway must give
 * the same result as an undisturbed run.
 *
 * The parent runs each operation once undisturbed first (on a scratch
 * copy of the store) so that the one-time state of OpenSSL, SQLite and
 * NSS exists before the children fork from it: what a child allocates and
 * keeps is then a leak, not a cache being filled.
 *
 * test_torture [--full] [--jobs J] [--op NAME] [--from N] [--to N]
 *              [--trace K] [-v]
 *   --full   every N (default: every N up to STRIDE_FROM, then every
 *            STRIDE-th, to keep the ctest run short)
 *   --jobs   operations run in J workers at once (default 2)
 *   --trace  prints a backtrace (into the kept folder's stderrJ file) at
 *            the run's Kth allocation: the number a leak report gives.
 *   -v       a line per run: its sr_rc, allocations and message */
#include "alloc.h"
#include "secretref.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STRIDE_FROM 200
#define SQLITE_STRIDE 3
#define STRIDE 10

/* Secret values: no message may contain one. */
#define SECRET1 "t0rture-first-S3CRET"
#define SECRET2 "t0rture-second-S3CRET"
#define SECRET3 "t0rture-third-S3CRET"
#define SECRET_OLD "t0rture-old-S3CRET"
#define SECRET_PROD "t0rture-prod-S3CRET"
static const char *const secrets[] = {SECRET1, SECRET2, SECRET3, SECRET_OLD,
                                      SECRET_PROD};

static char topdir[1024];
static char base_store[PATH_MAX + 64], base_key[PATH_MAX + 64];
static char work_dir[PATH_MAX + 64], work_store[PATH_MAX + 64];
static char new_dir[PATH_MAX + 64], new_store[PATH_MAX + 64],
    new_key[PATH_MAX + 64];
static char capture_path[PATH_MAX + 64];

static unsigned char *cert_pem, *cert_pub;
static size_t cert_pem_len, cert_pub_len;
static char *import_json;
static int verbose;

/* ---- what a child reports ------------------------------------------------ */

enum outcome { OUT_NONE = 0, OUT_DONE, OUT_SETUP };

struct result {
  int outcome;
  int rc;
  int hit;
  uint64_t seen;
  int post_failed; /* the undisturbed checks after a success failed */
  int bad_out;     /* an out-parameter was set on failure */
  size_t leaked;   /* blocks allocated during the run, still live */
  uint64_t leak_seq[8];
  size_t leak_size[8];
  char msg[512];
  char summary[8192];
};
static struct result *shared;

/* The run's summary: what a read operation returned, without times. */
static void summary_add(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void summary_add(const char *fmt, ...) {
  size_t used = strlen(shared->summary);
  va_list ap;

  if (used + 1 >= sizeof(shared->summary))
    return;
  va_start(ap, fmt);
  /* Cut at the end is fine: runs compare summaries cut alike. */
  (void)vsnprintf(shared->summary + used, sizeof(shared->summary) - used, fmt,
                  ap);
  va_end(ap);
}

#define SENTINEL ((void *)&shared)
/* An out-parameter after a failure: untouched or NULL, never a value. */
#define OUT_CHECK(rc, p)                                                       \
  do {                                                                         \
    if ((rc) != SR_OK && (void *)(p) != SENTINEL && (p) != NULL)               \
      shared->bad_out = 1;                                                     \
  } while (0)

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  fprintf(stderr, "test_torture: ");
  (void)vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static sr_config config_of(const char *store, const char *key) {
  sr_config cfg;

  memset(&cfg, 0, sizeof(cfg));
  cfg.store_path = store;
  cfg.key_file = key;
  cfg.environment = "";
  cfg.program = "test_torture";
  return cfg;
}

/* In a child: the run's failing allocation, and the first number of its
 * allocations (for --trace and leak reports). 0 in the parent. */
static uint64_t arm_n, arm_seq, trace_rel;

/* Starts failing the arm_n-th allocation from here: the driver calls it
 * before the run, or the run itself (OP_ARMS_ITSELF) after preparing. */
static unsigned char by[1 << 16]; /* who makes each allocation of a run */
static int warming;

static void arm(void) {
  if (!arm_n) {
    /* The undisturbed run records who makes each allocation. */
    if (warming)
      torture_record(by, sizeof(by));
    return;
  }
  arm_seq = torture_next_seq();
  if (trace_rel)
    torture_trace_at(arm_seq + trace_rel - 1);
  torture_arm(arm_n);
}

/* ---- the operations -------------------------------------------------------
 */

static sr_rc manual_spec(sr_ref_spec *spec, const char *name, const char *value,
                         sr_secret **secret) {
  sr_rc rc = sr_secret_from(value, strlen(value), secret);

  memset(spec, 0, sizeof(*spec));
  spec->name = name;
  spec->kind = SR_KIND_MANUAL;
  spec->secret = *secret;
  return rc;
}

static sr_rc op_init(sr_store *unused, char *msg, size_t len) {
  sr_config cfg = config_of(new_store, new_key);
  sr_store *st = SENTINEL;
  sr_rc rc;

  (void)unused;
  rc = sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, msg, len);
  OUT_CHECK(rc, st);
  if (rc == SR_OK)
    sr_store_free(st);
  return rc;
}

static sr_rc open_with(int metadata, char *msg, size_t len) {
  sr_config cfg = config_of(work_store, base_key);
  sr_store *st = SENTINEL;
  sr_rc rc;

  rc = metadata ? sr_store_open_metadata(&cfg, &st, msg, len)
                : sr_store_open(&cfg, &st, msg, len);
  OUT_CHECK(rc, st);
  if (rc == SR_OK) {
    summary_add("env=%s",
                sr_store_environment(st) ? sr_store_environment(st) : "-");
    sr_store_free(st);
  }
  return rc;
}

static sr_rc op_open(sr_store *unused, char *msg, size_t len) {
  (void)unused;
  return open_with(0, msg, len);
}

static sr_rc op_open_metadata(sr_store *unused, char *msg, size_t len) {
  (void)unused;
  return open_with(1, msg, len);
}

static sr_rc op_new_manual(sr_store *st, char *msg, size_t len) {
  sr_secret *s = NULL;
  sr_ref_spec spec;
  sr_rc rc;

  (void)msg;
  (void)len;
  if ((rc = manual_spec(&spec, "new-secret", SECRET3, &s)) != SR_OK)
    return rc;
  spec.description = "made under torture";
  spec.expires = "2031-01-31";
  rc = sr_ref_create(st, &spec);
  sr_secret_free(s);
  return rc;
}

static sr_rc op_new_cert(sr_store *st, char *msg, size_t len) {
  sr_ref_spec spec;

  (void)msg;
  (void)len;
  memset(&spec, 0, sizeof(spec));
  spec.name = "new-cert";
  spec.kind = SR_KIND_CERTIFICATE;
  spec.key_file_data = cert_pem;
  spec.key_file_len = cert_pem_len;
  return sr_ref_create(st, &spec);
}

static sr_rc op_new_generated(sr_store *st, char *msg, size_t len) {
  sr_ref_spec spec;

  (void)msg;
  (void)len;
  memset(&spec, 0, sizeof(spec));
  spec.name = "new-key";
  spec.kind = SR_KIND_CERTIFICATE;
  spec.generate = "ec-p256";
  spec.environment = "Production";
  return sr_ref_create(st, &spec);
}

static sr_rc op_new_keyvault(sr_store *st, char *msg, size_t len) {
  sr_ref_spec spec;

  (void)msg;
  (void)len;
  memset(&spec, 0, sizeof(spec));
  spec.name = "new-vault-ref";
  spec.kind = SR_KIND_KEY_VAULT;
  spec.vault_client = "kv1";
  spec.vault_secret = "another-secret";
  spec.vault_version = "0123abcd";
  return sr_ref_create(st, &spec);
}

static sr_rc op_set_secret(sr_store *st, char *msg, size_t len) {
  sr_secret *s = NULL;
  sr_ref_spec spec;
  sr_rc rc;

  (void)msg;
  (void)len;
  if ((rc = manual_spec(&spec, NULL, SECRET3, &s)) != SR_OK)
    return rc;
  rc = sr_ref_update(st, "db-pass", &spec);
  sr_secret_free(s);
  return rc;
}

static sr_rc op_set_meta(sr_store *st, char *msg, size_t len) {
  sr_ref_spec spec;

  (void)msg;
  (void)len;
  /* A new environment type re-seals every version. */
  memset(&spec, 0, sizeof(spec));
  spec.description = "moved to Test";
  spec.environment = "Test";
  spec.expires = "2032-02-29";
  return sr_ref_update(st, "db-pass", &spec);
}

static sr_rc op_set_expiry(sr_store *st, char *msg, size_t len) {
  sr_ref_spec spec;

  (void)msg;
  (void)len;
  memset(&spec, 0, sizeof(spec));
  spec.expires = "";
  return sr_ref_update(st, "old-pass", &spec);
}

static sr_rc op_resolve(sr_store *st, char *msg, size_t len) {
  sr_secret *s = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_ref_open_secret(st, "db-pass", &s);
  OUT_CHECK(rc, s);
  if (rc == SR_OK) {
    summary_add("%s", s->len == strlen(SECRET2) &&
                              memcmp(s->data, SECRET2, s->len) == 0
                          ? "right secret"
                          : "WRONG secret");
    sr_secret_free(s);
  }
  return rc;
}

static sr_rc op_resolve_env(sr_store *st, char *msg, size_t len) {
  sr_secret *s = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  if ((rc = sr_store_set_environment(st, "production")) != SR_OK)
    return rc;
  rc = sr_ref_open_secret(st, "prod-pass", &s);
  OUT_CHECK(rc, s);
  if (rc == SR_OK) {
    summary_add("%s %s", sr_store_environment(st),
                s->len == strlen(SECRET_PROD) &&
                        memcmp(s->data, SECRET_PROD, s->len) == 0
                    ? "right secret"
                    : "WRONG secret");
    sr_secret_free(s);
  }
  return rc;
}

static sr_rc op_verify(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_ref_verify(st, "tls-cert");
}

static unsigned char signature[256];
static size_t signature_len;
static unsigned char signed_pub[512];
static size_t signed_pub_len;
static const unsigned char tbs[32] = "0123456789abcdef0123456789abcde";

static sr_rc op_key_open(sr_store *st, char *msg, size_t len) {
  sr_key *key = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_key_open(st, "gen-key", &key);
  OUT_CHECK(rc, key);
  if (rc == SR_OK) {
    summary_add("%s v%d %s %d", sr_key_name(key), sr_key_version(key),
                sr_key_curve(key) ? sr_key_curve(key) : "-", sr_key_bits(key));
    sr_key_free(key);
  }
  return rc;
}

/* The key is opened before the failures start (key-open tests that):
 * this is the key core's signing alone. */
static sr_rc op_sign(sr_store *st, char *msg, size_t len) {
  sr_sign_params params = {SR_PAD_NONE, "SHA256", NULL, 0};
  const unsigned char *pub;
  sr_key *key = NULL;
  size_t publen = 0;
  sr_rc rc;

  if ((rc = sr_key_open(st, "gen-key", &key)) != SR_OK) {
    snprintf(msg, len, "preparing: %s", sr_store_errmsg(st));
    return rc;
  }
  arm();
  signature_len = sizeof(signature);
  rc = sr_key_sign(key, &params, tbs, sizeof(tbs), signature, &signature_len);
  if (rc == SR_OK) {
    pub = sr_key_public_der(key, &publen);
    if (pub && publen <= sizeof(signed_pub)) {
      memcpy(signed_pub, pub, publen);
      signed_pub_len = publen;
    }
    summary_add("%s v%d %s", sr_key_name(key), sr_key_version(key),
                sr_key_curve(key) ? sr_key_curve(key) : "-");
  } else {
    snprintf(msg, len, "%s", sr_key_errmsg(key));
  }
  sr_key_free(key);
  return rc;
}

/* The signature verifies under the public key the core handed out. */
static int post_sign(sr_store *st) {
  const unsigned char *p = signed_pub;
  EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, (long)signed_pub_len);
  EVP_PKEY_CTX *ctx = pub ? EVP_PKEY_CTX_new(pub, NULL) : NULL;
  int ok =
      ctx && EVP_PKEY_verify_init(ctx) == 1 &&
      EVP_PKEY_verify(ctx, signature, signature_len, tbs, sizeof(tbs)) == 1;

  (void)st;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(pub);
  return ok ? 0 : -1;
}

static sr_rc op_pubkey(sr_store *st, char *msg, size_t len) {
  static const char *const names[] = {"gen-key", "tls-cert"};
  char *out;
  sr_rc rc = SR_OK;
  size_t i;
  int f;

  (void)msg;
  (void)len;
  for (i = 0; i < 2 && rc == SR_OK; i++)
    for (f = 0; f < 2 && rc == SR_OK; f++) {
      out = SENTINEL;
      rc = sr_ref_pubkey(st, names[i], f ? SR_PUBKEY_OPENSSH : SR_PUBKEY_PEM,
                         &out);
      OUT_CHECK(rc, out);
      if (rc == SR_OK) {
        summary_add("%s", out);
        free(out);
      }
    }
  return rc;
}

static void summary_info(const sr_ref_info *r) {
  summary_add("%s|%s|%s|%s|%s|v%d|%s|%s|%s|%zu|%s\n", r->name,
              r->description ? r->description : "(null)",
              r->environment ? r->environment : "-",
              r->expires ? r->expires : "(null)", sr_kind_name(r->kind),
              r->version, r->vault_client ? r->vault_client : "-",
              r->vault_secret ? r->vault_secret : "-",
              r->vault_version ? r->vault_version : "-", r->public_key_len,
              r->cert_chain_pem ? "chain" : "-");
}

static sr_rc op_list(sr_store *st, char *msg, size_t len) {
  sr_ref_info *infos = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_ref_list(st, NULL, &infos, &count);
  OUT_CHECK(rc, infos);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++) {
    summary_info(&infos[i]);
    summary_add("expiry %d\n", sr_ref_expiry_state(&infos[i], 1893456000, 30));
  }
  sr_ref_list_free(infos, count);
  return rc;
}

static sr_rc op_lookup(sr_store *st, char *msg, size_t len) {
  sr_ref_info info;
  char *users = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  memset(&info, 0, sizeof(info));
  if ((rc = sr_ref_lookup(st, "tls-cert", &info)) != SR_OK)
    return rc;
  summary_info(&info);
  sr_ref_info_clear(&info);
  rc = sr_ref_users(st, "gen-key", &users);
  OUT_CHECK(rc, users);
  if (rc == SR_OK) {
    summary_add("users: %s", users);
    free(users);
  }
  return rc;
}

static sr_rc op_history(sr_store *st, char *msg, size_t len) {
  sr_version_info *v = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_ref_history(st, "db-pass", &v, &count);
  OUT_CHECK(rc, v);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++)
    summary_add("%d %s %s %d\n", v[i].version,
                v[i].created_by ? v[i].created_by : "(null)",
                v[i].note ? v[i].note : "(null)", v[i].key_id);
  sr_version_list_free(v, count);
  return rc;
}

static sr_rc op_rollback(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_ref_rollback(st, "db-pass", 1);
}

static sr_rc op_delete(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_ref_delete(st, "old-pass");
}

static sr_rc op_env_list(sr_store *st, char *msg, size_t len) {
  char **names = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_env_list(st, &names, &count);
  OUT_CHECK(rc, names);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++)
    summary_add("%s\n", names[i]);
  sr_string_list_free(names, count);
  return rc;
}

static sr_rc op_env_add(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_env_add(st, "Staging");
}

static sr_rc op_env_use(sr_store *st, char *msg, size_t len) {
  sr_rc rc;

  (void)msg;
  (void)len;
  if ((rc = sr_store_set_environment(st, "production")) != SR_OK)
    return rc;
  return sr_param_set(st, "environment", sr_store_environment(st));
}

static sr_rc op_env_rename(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_env_rename(st, "Acceptance", "Preproduction");
}

static sr_rc op_env_remove(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_env_remove(st, "Development");
}

static sr_rc op_param(sr_store *st, char *msg, size_t len) {
  char *value = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_param_get(st, "expiry-policy", &value);
  OUT_CHECK(rc, value);
  if (rc != SR_OK)
    return rc;
  summary_add("policy %s", value);
  free(value);
  return sr_param_set(st, "expiry-warning-days", "14");
}

static sr_rc op_audit(sr_store *st, char *msg, size_t len) {
  sr_audit_entry *e = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_audit_list(st, NULL, &e, &count);
  OUT_CHECK(rc, e);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++)
    summary_add("%lld %s %s %s %s %d %s %s\n", (long long)e[i].id,
                e[i].user ? e[i].user : "(null)",
                e[i].program ? e[i].program : "(null)",
                e[i].reference ? e[i].reference : "-",
                e[i].environment ? e[i].environment : "-", e[i].version,
                e[i].action ? e[i].action : "(null)",
                e[i].detail ? e[i].detail : "-");
  sr_audit_list_free(e, count);
  return rc;
}

static sr_rc op_export(sr_store *st, char *msg, size_t len) {
  char *json = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_export(st, &json);
  OUT_CHECK(rc, json);
  if (rc == SR_OK) {
    char *t = strstr(json, "\"exported\": \"");

    /* The export's time differs from run to run. */
    if (t)
      memset(t + 13, 'T', strlen("2026-01-01T00:00:00Z"));
    summary_add("%s", json);
    free(json);
  }
  return rc;
}

static sr_rc op_import(sr_store *st, char *msg, size_t len) {
  char *summary = SENTINEL;
  sr_rc rc;

  (void)msg;
  (void)len;
  rc = sr_import(st, import_json, strlen(import_json), &summary);
  OUT_CHECK(rc, summary);
  if (rc == SR_OK) {
    summary_add("%s", summary ? summary : "(null)");
    free(summary);
  }
  return rc;
}

static sr_rc op_rekey(sr_store *st, char *msg, size_t len) {
  sr_config cfg = config_of(NULL, new_key);

  (void)msg;
  (void)len;
  return sr_rekey(st, &cfg, SR_KEY_SOURCE_FILE);
}

static sr_rc op_connector_add(sr_store *st, char *msg, size_t len) {
  sr_connector c;

  (void)msg;
  (void)len;
  memset(&c, 0, sizeof(c));
  c.name = (char *)"conn2";
  c.host = (char *)"acct2.blob.core.windows.net";
  c.user = (char *)"acct2.files.user";
  c.key_uri = (char *)"secretref:tls-cert";
  c.password_ref = (char *)"db-pass";
  c.host_key = (char *)"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  c.folder = (char *)"/out";
  return sr_connector_add(st, &c);
}

static sr_rc op_connector_get(sr_store *st, char *msg, size_t len) {
  sr_connector c, *list = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  memset(&c, 0, sizeof(c));
  if ((rc = sr_connector_get(st, "sftp1", &c)) != SR_OK)
    return rc;
  summary_add("%s %s %s %d %s %s\n", c.name, c.kind, c.host, c.port, c.user,
              c.key_uri ? c.key_uri : "-");
  sr_connector_clear(&c);
  rc = sr_connector_list(st, &list, &count);
  OUT_CHECK(rc, list);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++)
    summary_add("%s %s\n", list[i].name, list[i].folder ? list[i].folder : "-");
  sr_connector_list_free(list, count);
  return rc;
}

static sr_rc op_connector_delete(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_connector_delete(st, "sftp1");
}

static sr_rc op_keyvault_add(sr_store *st, char *msg, size_t len) {
  sr_keyvault_client c;

  (void)msg;
  (void)len;
  memset(&c, 0, sizeof(c));
  c.name = (char *)"kv2";
  c.vault_url = (char *)"https://other-vault.vault.azure.net";
  c.tenant = (char *)"contoso.onmicrosoft.com";
  c.client_id = (char *)"00000000-1111-2222-3333-444444444444";
  c.credential = (char *)"client-certificate";
  c.credential_ref = (char *)"tls-cert";
  c.assertion = (char *)"rs256";
  return sr_keyvault_add(st, &c);
}

static sr_rc op_keyvault_get(sr_store *st, char *msg, size_t len) {
  sr_keyvault_client c, *list = SENTINEL;
  size_t count = 0, i;
  sr_rc rc;

  (void)msg;
  (void)len;
  memset(&c, 0, sizeof(c));
  if ((rc = sr_keyvault_get(st, "kv1", &c)) != SR_OK)
    return rc;
  summary_add("%s %s %s %s %s\n", c.name, c.vault_url,
              c.tenant ? c.tenant : "-", c.credential,
              c.credential_ref ? c.credential_ref : "-");
  sr_keyvault_client_clear(&c);
  rc = sr_keyvault_list(st, &list, &count);
  OUT_CHECK(rc, list);
  if (rc != SR_OK)
    return rc;
  for (i = 0; i < count; i++)
    summary_add("%s %s\n", list[i].name, list[i].credential);
  sr_keyvault_list_free(list, count);
  return rc;
}

static sr_rc op_keyvault_delete(sr_store *st, char *msg, size_t len) {
  (void)msg;
  (void)len;
  return sr_keyvault_delete(st, "kv-unused");
}

/* ---- checks after an undisturbed-looking success ------------------------ */

static int secret_is(sr_store *st, const char *name, const char *value) {
  sr_secret *s = NULL;
  int ok = sr_ref_open_secret(st, name, &s) == SR_OK &&
           s->len == strlen(value) && memcmp(s->data, value, s->len) == 0;

  sr_secret_free(s);
  return ok ? 0 : -1;
}

static int post_new_manual(sr_store *st) {
  sr_ref_info info;
  int ok;

  memset(&info, 0, sizeof(info));
  ok = sr_ref_lookup(st, "new-secret", &info) == SR_OK &&
       strcmp(info.description, "made under torture") == 0 &&
       strcmp(info.expires, "2031-01-31") == 0 && info.version == 1;
  sr_ref_info_clear(&info);
  return ok ? secret_is(st, "new-secret", SECRET3) : -1;
}

static int key_opens(sr_store *st, const char *name, const unsigned char *pub,
                     size_t publen) {
  const unsigned char *der;
  sr_key *key = NULL;
  size_t len = 0;
  int ok;

  if (sr_key_open(st, name, &key) != SR_OK)
    return -1;
  der = sr_key_public_der(key, &len);
  ok = der && (!pub || (len == publen && memcmp(der, pub, len) == 0));
  sr_key_free(key);
  return ok ? 0 : -1;
}

static int post_new_cert(sr_store *st) {
  sr_ref_info info;
  int ok;

  memset(&info, 0, sizeof(info));
  ok = sr_ref_lookup(st, "new-cert", &info) == SR_OK && info.cert_chain_pem &&
       info.public_key_len == cert_pub_len &&
       memcmp(info.public_key_der, cert_pub, cert_pub_len) == 0;
  sr_ref_info_clear(&info);
  return ok ? key_opens(st, "new-cert", cert_pub, cert_pub_len) : -1;
}

static int post_new_generated(sr_store *st) {
  if (sr_store_set_environment(st, "Production") != SR_OK)
    return -1;
  return key_opens(st, "new-key", NULL, 0);
}

static int post_new_keyvault(sr_store *st) {
  sr_ref_info info;
  int ok;

  memset(&info, 0, sizeof(info));
  ok = sr_ref_lookup(st, "new-vault-ref", &info) == SR_OK &&
       strcmp(info.vault_client, "kv1") == 0 &&
       strcmp(info.vault_secret, "another-secret") == 0 &&
       strcmp(info.vault_version, "0123abcd") == 0;
  sr_ref_info_clear(&info);
  return ok ? 0 : -1;
}

static int post_set_secret(sr_store *st) {
  return secret_is(st, "db-pass", SECRET3);
}

static int post_set_meta(sr_store *st) {
  sr_ref_info info;
  int ok;

  memset(&info, 0, sizeof(info));
  if (sr_store_set_environment(st, "Test") != SR_OK)
    return -1;
  ok = sr_ref_lookup(st, "db-pass", &info) == SR_OK &&
       strcmp(info.description, "moved to Test") == 0 &&
       strcmp(info.environment, "Test") == 0 &&
       strcmp(info.expires, "2032-02-29") == 0;
  sr_ref_info_clear(&info);
  /* The re-sealed versions open under their new binding. */
  return ok && sr_ref_rollback(st, "db-pass", 1) == SR_OK
             ? secret_is(st, "db-pass", SECRET1)
             : -1;
}

static int post_set_expiry(sr_store *st) {
  sr_ref_info info;
  int ok;

  memset(&info, 0, sizeof(info));
  ok = sr_ref_lookup(st, "old-pass", &info) == SR_OK && !*info.expires;
  sr_ref_info_clear(&info);
  return ok ? 0 : -1;
}

static int post_rollback(sr_store *st) {
  return secret_is(st, "db-pass", SECRET1);
}

static int post_delete(sr_store *st) {
  sr_ref_info info;

  memset(&info, 0, sizeof(info));
  return sr_ref_lookup(st, "old-pass", &info) == SR_ERR_NOTFOUND ? 0 : -1;
}

static int env_exists(sr_store *st, const char *name) {
  char **names = NULL;
  size_t count = 0, i;
  int found = 0;

  if (sr_env_list(st, &names, &count) != SR_OK)
    return -1;
  for (i = 0; i < count; i++)
    found |= strcmp(names[i], name) == 0;
  sr_string_list_free(names, count);
  return found;
}

static int post_env_add(sr_store *st) {
  return env_exists(st, "Staging") == 1 ? 0 : -1;
}

static int post_env_use(sr_store *st) {
  char *value = NULL;
  int ok = sr_param_get(st, "environment", &value) == SR_OK &&
           strcmp(value, "Production") == 0;

  free(value);
  return ok ? 0 : -1;
}

static int post_env_rename(sr_store *st) {
  return env_exists(st, "Preproduction") == 1 &&
                 env_exists(st, "Acceptance") == 0
             ? 0
             : -1;
}

static int post_env_remove(sr_store *st) {
  return env_exists(st, "Development") == 0 ? 0 : -1;
}

static int post_param(sr_store *st) {
  char *value = NULL;
  int ok = sr_param_get(st, "expiry-warning-days", &value) == SR_OK &&
           strcmp(value, "14") == 0;

  free(value);
  return ok ? 0 : -1;
}

static int post_import(sr_store *st) {
  sr_ref_info info;
  sr_connector c;
  int ok;

  memset(&info, 0, sizeof(info));
  memset(&c, 0, sizeof(c));
  if (env_exists(st, "Staging") != 1 ||
      sr_store_set_environment(st, "Staging") != SR_OK)
    return -1;
  ok = sr_ref_lookup(st, "imp-a", &info) == SR_OK && info.version == 0 &&
       info.environment && strcmp(info.environment, "Staging") == 0;
  sr_ref_info_clear(&info);
  ok = ok && sr_connector_get(st, "imp-conn", &c) == SR_OK &&
       strcmp(c.key_uri, "secretref:imp-cert") == 0;
  sr_connector_clear(&c);
  memset(&info, 0, sizeof(info));
  ok = ok && sr_ref_lookup(st, "imp-cert", &info) == SR_OK &&
       info.public_key_len == cert_pub_len && info.cert_chain_pem;
  sr_ref_info_clear(&info);
  return ok ? 0 : -1;
}

static int post_rekey(sr_store *st) {
  sr_config cfg = config_of(work_store, new_key);
  sr_store *again = NULL;
  char err[256];
  int ok;

  /* The handle goes on with the new key, and the file opens with it. */
  if (secret_is(st, "db-pass", SECRET2) != 0)
    return -1;
  ok = sr_store_open(&cfg, &again, err, sizeof(err)) == SR_OK &&
       secret_is(again, "db-pass", SECRET2) == 0;
  sr_store_free(again);
  return ok ? 0 : -1;
}

static int post_connector_add(sr_store *st) {
  sr_connector c;
  int ok;

  memset(&c, 0, sizeof(c));
  ok = sr_connector_get(st, "conn2", &c) == SR_OK && c.port == 22 &&
       strcmp(c.host, "acct2.blob.core.windows.net") == 0 && c.password_ref &&
       strcmp(c.password_ref, "db-pass") == 0 && c.host_key && c.folder &&
       strcmp(c.folder, "/out") == 0;
  sr_connector_clear(&c);
  return ok ? 0 : -1;
}

static int post_connector_delete(sr_store *st) {
  sr_connector c;

  memset(&c, 0, sizeof(c));
  return sr_connector_get(st, "sftp1", &c) == SR_ERR_NOTFOUND ? 0 : -1;
}

static int post_keyvault_add(sr_store *st) {
  sr_keyvault_client c;
  int ok;

  memset(&c, 0, sizeof(c));
  ok = sr_keyvault_get(st, "kv2", &c) == SR_OK && c.tenant &&
       strcmp(c.tenant, "contoso.onmicrosoft.com") == 0 && c.assertion &&
       strcmp(c.assertion, "rs256") == 0 && c.credential_ref &&
       strcmp(c.credential_ref, "tls-cert") == 0;
  sr_keyvault_client_clear(&c);
  return ok ? 0 : -1;
}

static int post_keyvault_delete(sr_store *st) {
  sr_keyvault_client c;

  memset(&c, 0, sizeof(c));
  return sr_keyvault_get(st, "kv-unused", &c) == SR_ERR_NOTFOUND ? 0 : -1;
}

/* ---- the table ------------------------------------------------------------
 */

#define OP_OWN_STORE 1   /* run opens (or creates) the store itself */
#define OP_ARMS_ITSELF 2 /* run prepares (changing the store), then arms */

struct op {
  const char *name;
  int flags;
  sr_rc (*run)(sr_store *st, char *msg, size_t len);
  int (*post)(sr_store *st);
  uint64_t allocations; /* of an undisturbed run */
};

static struct op ops[] = {
    {"init", OP_OWN_STORE, op_init, NULL, 0},
    {"open", OP_OWN_STORE, op_open, NULL, 0},
    {"open-metadata", OP_OWN_STORE, op_open_metadata, NULL, 0},
    {"new-manual", 0, op_new_manual, post_new_manual, 0},
    {"new-certificate-pem", 0, op_new_cert, post_new_cert, 0},
    {"new-generated-ec", 0, op_new_generated, post_new_generated, 0},
    {"new-keyvault-ref", 0, op_new_keyvault, post_new_keyvault, 0},
    {"set-secret", 0, op_set_secret, post_set_secret, 0},
    {"set-environment", 0, op_set_meta, post_set_meta, 0},
    {"set-expiry", 0, op_set_expiry, post_set_expiry, 0},
    {"resolve", 0, op_resolve, NULL, 0},
    {"resolve-environment", 0, op_resolve_env, NULL, 0},
    {"verify", 0, op_verify, NULL, 0},
    {"key-open", 0, op_key_open, NULL, 0},
    {"sign", OP_ARMS_ITSELF, op_sign, post_sign, 0},
    {"pubkey", 0, op_pubkey, NULL, 0},
    {"list", 0, op_list, NULL, 0},
    {"lookup-users", 0, op_lookup, NULL, 0},
    {"history", 0, op_history, NULL, 0},
    {"rollback", 0, op_rollback, post_rollback, 0},
    {"delete", 0, op_delete, post_delete, 0},
    {"environments-list", 0, op_env_list, NULL, 0},
    {"environments-add", 0, op_env_add, post_env_add, 0},
    {"environments-use", 0, op_env_use, post_env_use, 0},
    {"environments-rename", 0, op_env_rename, post_env_rename, 0},
    {"environments-remove", 0, op_env_remove, post_env_remove, 0},
    {"parameters", 0, op_param, post_param, 0},
    {"audit", 0, op_audit, NULL, 0},
    {"export", 0, op_export, NULL, 0},
    {"import", 0, op_import, post_import, 0},
    {"rekey", 0, op_rekey, post_rekey, 0},
    {"connector-add", 0, op_connector_add, post_connector_add, 0},
    {"connector-get", 0, op_connector_get, NULL, 0},
    {"connector-delete", 0, op_connector_delete, post_connector_delete, 0},
    {"keyvault-add", 0, op_keyvault_add, post_keyvault_add, 0},
    {"keyvault-get", 0, op_keyvault_get, NULL, 0},
    {"keyvault-delete", 0, op_keyvault_delete, post_keyvault_delete, 0},
};
#define OPS (sizeof(ops) / sizeof(ops[0]))

/* ---- files and the store's logical content ------------------------------ */

static void copy_file(const char *from, const char *to) {
  char buf[65536];
  int in, out;
  ssize_t n;

  if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
    die("%s: %s", from, strerror(errno));
  if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
    die("%s: %s", to, strerror(errno));
  while ((n = read(in, buf, sizeof(buf))) > 0)
    if (write(out, buf, (size_t)n) != n)
      die("%s: %s", to, strerror(errno));
  if (n < 0 || close(out) != 0)
    die("copy %s: %s", from, strerror(errno));
  close(in);
}

static void remove_store_files(const char *path) {
  char side[PATH_MAX + 80];

  unlink(path);
  snprintf(side, sizeof(side), "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof(side), "%s-shm", path);
  unlink(side);
  snprintf(side, sizeof(side), "%s-journal", path);
  unlink(side);
}

static int exists(const char *path) {
  struct stat sb;

  return stat(path, &sb) == 0;
}

static unsigned char *base_bytes;
static size_t base_len;

/* Is the work store byte for byte the base store, with no log? Then it
 * is unchanged without reading it through SQLite, and need not be copied
 * again. */
static int work_is_base(void) {
  char wal[PATH_MAX + 80], buf[65536];
  struct stat sb;
  size_t off = 0;
  ssize_t n;
  int fd, same;

  snprintf(wal, sizeof(wal), "%s-wal", work_store);
  if ((stat(wal, &sb) == 0 && sb.st_size) || stat(work_store, &sb) != 0 ||
      (size_t)sb.st_size != base_len ||
      (fd = open(work_store, O_RDONLY | O_CLOEXEC)) < 0)
    return 0;
  same = 1;
  while (same && (n = read(fd, buf, sizeof(buf))) > 0) {
    same = off + (size_t)n <= base_len &&
           memcmp(buf, base_bytes + off, (size_t)n) == 0;
    off += (size_t)n;
  }
  close(fd);
  return same && off == base_len;
}

static void load_base(void) {
  struct stat sb;
  int fd;

  if ((fd = open(base_store, O_RDONLY | O_CLOEXEC)) < 0 ||
      fstat(fd, &sb) != 0 || !(base_bytes = malloc((size_t)sb.st_size)) ||
      read(fd, base_bytes, (size_t)sb.st_size) != sb.st_size)
    die("%s: cannot read", base_store);
  base_len = (size_t)sb.st_size;
  close(fd);
}

/* A fresh copy of the base store as the work store, and no new files. */
static void work_reset(void) {
  if (work_is_base()) {
    char side[PATH_MAX + 80];

    snprintf(side, sizeof(side), "%s-wal", work_store);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", work_store);
    unlink(side);
  } else {
    remove_store_files(work_store);
    copy_file(base_store, work_store);
  }
  remove_store_files(new_store);
  unlink(new_key);
  if (mkdir(new_dir, 0700) != 0 && errno != EEXIST)
    die("mkdir %s: %s", new_dir, strerror(errno));
}

/* SHA-256 over every table's rows (in key order: a full scan) and the schema,
 * and PRAGMA integrity_check. Returns 0, or -1 when the file is not sound. */
static int store_digest(const char *path, unsigned char md[32]) {
  sqlite3 *db = NULL;
  sqlite3_stmt *tables = NULL, *rows = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  char sql[512];
  int ok = 0, i, rc;

  if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
      sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    goto out;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &rows, NULL) !=
          SQLITE_OK ||
      sqlite3_step(rows) != SQLITE_ROW ||
      strcmp((const char *)sqlite3_column_text(rows, 0), "ok") != 0)
    goto out;
  sqlite3_finalize(rows);
  rows = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT name, sql FROM sqlite_master WHERE "
                         "type = 'table' ORDER BY name",
                         -1, &tables, NULL) != SQLITE_OK)
    goto out;
  while ((rc = sqlite3_step(tables)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tables, 0);
    const char *def = (const char *)sqlite3_column_text(tables, 1);

    EVP_DigestUpdate(ctx, def ? def : "", def ? strlen(def) + 1 : 1);
    if (strncmp(name, "sqlite_", 7) == 0)
      continue;
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
    if (sqlite3_prepare_v2(db, sql, -1, &rows, NULL) != SQLITE_OK)
      goto out;
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW)
      for (i = 0; i < sqlite3_column_count(rows); i++) {
        int type = sqlite3_column_type(rows, i);
        const void *v = sqlite3_column_blob(rows, i);
        int n = sqlite3_column_bytes(rows, i);

        EVP_DigestUpdate(ctx, &type, sizeof(type));
        EVP_DigestUpdate(ctx, &n, sizeof(n));
        if (v && n)
          EVP_DigestUpdate(ctx, v, (size_t)n);
      }
    if (rc != SQLITE_DONE)
      goto out;
    sqlite3_finalize(rows);
    rows = NULL;
  }
  ok = rc == SQLITE_DONE && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
out:
  sqlite3_finalize(rows);
  sqlite3_finalize(tables);
  sqlite3_close(db);
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : -1;
}

static unsigned char base_digest[32];

/* ---- setup ------------------------------------------------------------------
 */

/* A P-256 key with a self-signed certificate, as one PEM file. */
static void make_cert_pem(void) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *name;
  BIO *bio = BIO_new(BIO_s_mem());
  unsigned char *der = NULL;
  char *data;
  long len;
  int n;

  if (!pkey || !x || !bio || !X509_set_version(x, 2) ||
      !ASN1_INTEGER_set(X509_get_serialNumber(x), 7) ||
      !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365) ||
      !(name = X509_get_subject_name(x)) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  (const unsigned char *)"torture", -1, -1,
                                  0) ||
      !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey) ||
      !X509_sign(x, pkey, EVP_sha256()) ||
      !PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) ||
      !PEM_write_bio_X509(bio, x) ||
      (len = BIO_get_mem_data(bio, &data)) <= 0 ||
      (n = i2d_PUBKEY(pkey, &der)) <= 0)
    die("cannot make a certificate");
  if (!(cert_pem = malloc((size_t)len)) || !(cert_pub = malloc((size_t)n)))
    die("cannot make a certificate: out of memory");
  memcpy(cert_pem, data, (size_t)len);
  cert_pem_len = (size_t)len;
  memcpy(cert_pub, der, (size_t)n);
  cert_pub_len = (size_t)n;
  OPENSSL_free(der);
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

#define MUST(expr)                                                             \
  do {                                                                         \
    sr_rc must_rc = (expr);                                                    \
    if (must_rc != SR_OK)                                                      \
      die("setup: %s: %s", #expr, sr_store_errmsg(st));                        \
  } while (0)

static void create_manual(sr_store *st, const char *name, const char *value,
                          const char *environment, const char *expires) {
  sr_secret *s = NULL;
  sr_ref_spec spec;

  MUST(manual_spec(&spec, name, value, &s));
  spec.environment = environment;
  spec.expires = expires;
  MUST(sr_ref_create(st, &spec));
  sr_secret_free(s);
}

static void create_cert(sr_store *st, const char *name) {
  sr_ref_spec spec;

  memset(&spec, 0, sizeof(spec));
  spec.name = name;
  spec.kind = SR_KIND_CERTIFICATE;
  spec.key_file_data = cert_pem;
  spec.key_file_len = cert_pem_len;
  MUST(sr_ref_create(st, &spec));
}

/* The store every operation starts from. */
static void make_base(void) {
  sr_config cfg = config_of(base_store, base_key);
  sr_keyvault_client kv;
  sr_connector conn;
  sr_secret *s = NULL;
  sr_ref_spec spec;
  sr_store *st = NULL;
  char err[512];

  if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) != SR_OK)
    die("init %s: %s", base_store, err);
  create_manual(st, "db-pass", SECRET1, NULL, "2030-12-31");
  MUST(manual_spec(&spec, NULL, SECRET2, &s));
  MUST(sr_ref_update(st, "db-pass", &spec));
  sr_secret_free(s);
  create_manual(st, "old-pass", SECRET_OLD, NULL, "2020-01-01");
  create_manual(st, "prod-pass", SECRET_PROD, "Production", NULL);
  create_cert(st, "tls-cert");
  memset(&spec, 0, sizeof(spec));
  spec.name = "gen-key";
  spec.kind = SR_KIND_CERTIFICATE;
  spec.generate = "ec-p256";
  MUST(sr_ref_create(st, &spec));
  memset(&kv, 0, sizeof(kv));
  kv.name = (char *)"kv1";
  kv.vault_url = (char *)"https://corp-vault.vault.azure.net";
  kv.client_id = (char *)"0000-1111";
  kv.credential = (char *)"client-secret";
  kv.credential_ref = (char *)"db-pass";
  MUST(sr_keyvault_add(st, &kv));
  memset(&kv, 0, sizeof(kv));
  kv.name = (char *)"kv-unused";
  kv.vault_url = (char *)"https://spare-vault.vault.azure.net";
  kv.credential = (char *)"managed-identity";
  MUST(sr_keyvault_add(st, &kv));
  memset(&spec, 0, sizeof(spec));
  spec.name = "kv-ref";
  spec.kind = SR_KIND_KEY_VAULT;
  spec.vault_client = "kv1";
  spec.vault_secret = "partner";
  MUST(sr_ref_create(st, &spec));
  memset(&conn, 0, sizeof(conn));
  conn.name = (char *)"sftp1";
  conn.host = (char *)"acct.blob.core.windows.net";
  conn.user = (char *)"acct.user";
  conn.key_uri = (char *)"secretref:gen-key";
  conn.folder = (char *)"/in";
  MUST(sr_connector_add(st, &conn));
  sr_store_free(st);
}

/* The configuration of another store, for import. */
static void make_import_json(void) {
  char path[PATH_MAX + 64], key[PATH_MAX + 64], err[512];
  sr_config cfg;
  sr_connector conn;
  sr_store *st = NULL;

  snprintf(path, sizeof(path), "%s/src/store.db", topdir);
  snprintf(key, sizeof(key), "%s/src/master.key", topdir);
  cfg = config_of(path, key);
  if (sr_store_init(&cfg, SR_KEY_SOURCE_FILE, &st, err, sizeof(err)) != SR_OK)
    die("init %s: %s", path, err);
  MUST(sr_env_add(st, "Staging"));
  create_manual(st, "imp-a", "never exported", "Staging", "2029-03-01");
  create_cert(st, "imp-cert");
  memset(&conn, 0, sizeof(conn));
  conn.name = (char *)"imp-conn";
  conn.host = (char *)"imp.blob.core.windows.net";
  conn.port = 2222;
  conn.user = (char *)"imp.user";
  conn.key_uri = (char *)"secretref:imp-cert";
  MUST(sr_connector_add(st, &conn));
  MUST(sr_export(st, &import_json));
  sr_store_free(st);
}

/* ---- one run ----------------------------------------------------------------
 */

/* In the child: one run of op with the nth allocation failing. */
static void child(const struct op *op, uint64_t n) {
  sr_config cfg = config_of(work_store, base_key);
  sr_store *st = NULL;
  uint64_t since;
  size_t live;
  char err[512];
  sr_rc rc;

  ERR_clear_error();
  live = torture_live_blocks();
  since = torture_next_seq();
  arm_n = n;
  if (!(op->flags & OP_OWN_STORE) &&
      sr_store_open(&cfg, &st, err, sizeof(err)) != SR_OK) {
    snprintf(shared->msg, sizeof(shared->msg), "%s", err);
    shared->outcome = OUT_SETUP;
    _exit(0);
  }
  if (!(op->flags & OP_ARMS_ITSELF))
    arm();
  rc = op->run(st, shared->msg, sizeof(shared->msg));
  shared->seen = torture_disarm(&shared->hit);
  shared->rc = (int)rc;
  if (rc != SR_OK && st && !shared->msg[0])
    snprintf(shared->msg, sizeof(shared->msg), "%s", sr_store_errmsg(st));
  if (rc == SR_OK && op->post && op->post(st) != 0) {
    shared->post_failed = 1;
    snprintf(shared->msg, sizeof(shared->msg), "%s",
             st ? sr_store_errmsg(st) : "");
  }
  sr_store_free(st);
  ERR_clear_error();
  /* The walk of every live block is the slow part: only when the count
   * says there may be something to find. */
  if (torture_live_blocks() != live)
    shared->leaked =
        torture_live_since(since, shared->leak_seq, shared->leak_size, 8);
  /* Numbered from the run's first allocation, as --trace takes them
   * (allocations of the preparation before it, as 0 or less). */
  for (size_t i = 0; i < shared->leaked && i < 8; i++)
    shared->leak_seq[i] -= arm_seq - 1;
  shared->outcome = OUT_DONE;
  _exit(0);
}

static int capture_fd = -1;
static char *captured;

/* What the child wrote to stderr. */
static const char *capture_read(void) {
  struct stat sb;
  ssize_t got;

  free(captured);
  captured = NULL;
  if (fstat(capture_fd, &sb) != 0 || !(captured = malloc(sb.st_size + 1)))
    return "";
  got = pread(capture_fd, captured, (size_t)sb.st_size, 0);
  captured[got > 0 ? got : 0] = '\0';
  return captured;
}

static int failures;

static void fail(const struct op *op, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(const struct op *op, uint64_t n, const char *fmt, ...) {
  va_list ap;

  failures++;
  fprintf(stderr, "FAIL %s, allocation %llu failing: ", op->name,
          (unsigned long long)n);
  va_start(ap, fmt);
  (void)vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
}

static int contains_secret(const char *text) {
  size_t i;

  for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
    if (strstr(text, secrets[i]))
      return 1;
  return 0;
}

/* The store after a failed run: as it was. */
static void check_unchanged(const struct op *op, uint64_t n) {
  unsigned char md[32];

  if (op->flags & OP_OWN_STORE && op->run == op_init) {
    if (exists(new_store) || exists(new_key))
      fail(op, n, "a failed init left %s",
           exists(new_store) ? new_store : new_key);
    return;
  }
  if (work_is_base())
    return;
  if (store_digest(work_store, md) != 0)
    fail(op, n, "the store is damaged (integrity_check)");
  else if (!(op->flags & OP_ARMS_ITSELF) &&
           memcmp(md, base_digest, sizeof(md)) != 0)
    fail(op, n, "the failed operation changed the store");
}

/* The next allocation to fail: every one with --full; else every one up
 * to STRIDE_FROM, and after it every one our code, libc or jansson makes,
 * but only every SQLITE_STRIDE-th of SQLite's (hundreds per statement
 * prepared: each statement still gets several) and every STRIDE-th of
 * OpenSSL's (thousands, in parsing key files and certificates), as the
 * undisturbed run recorded them. */
static uint64_t next_n(uint64_t n, int full, size_t recorded) {
  if (full)
    return n + 1;
  for (n++;; n++)
    if (n <= STRIDE_FROM || n > recorded || by[n - 1] == TORTURE_BY_OTHER ||
        (by[n - 1] == TORTURE_BY_SQLITE && n % SQLITE_STRIDE == 0) ||
        n % STRIDE == 0)
      return n;
}

/* Runs op once undisturbed (the warm-up, and the expected summary), then
 * with each allocation failing in turn. */
static void torture_op(struct op *op, uint64_t from, uint64_t to, int full) {
  char expected[sizeof(shared->summary)];
  uint64_t n, runs = 0, failed = 0, tolerated = 0, by_openssl = 0,
              by_sqlite = 0;
  size_t recorded = 0, i;
  struct timeval t0, t1;
  int pass;
  int status;
  pid_t pid;

  gettimeofday(&t0, NULL);
  /* Warm-up in this process: the children inherit what it caches. The
   * second run, with the caches filled, is the one the children repeat:
   * it records who makes each allocation. */
  for (pass = 0; pass < 2; pass++) {
    sr_config cfg = config_of(work_store, base_key);
    sr_store *st = NULL;
    char err[512] = "";
    sr_rc rc;

    work_reset();
    memset(shared, 0, sizeof(*shared));
    if (!(op->flags & OP_OWN_STORE) &&
        sr_store_open(&cfg, &st, err, sizeof(err)) != SR_OK)
      die("%s: warm-up open: %s", op->name, err);
    warming = pass;
    if (!(op->flags & OP_ARMS_ITSELF))
      arm();
    rc = op->run(st, err, sizeof(err));
    recorded = torture_record_stop();
    warming = 0;
    if (rc != SR_OK)
      die("%s: undisturbed: %s", op->name, st ? sr_store_errmsg(st) : err);
    if (op->post && op->post(st) != 0)
      die("%s: undisturbed: the check after it fails", op->name);
    sr_store_free(st);
  }
  memcpy(expected, shared->summary, sizeof(expected));
  for (i = 0; i < recorded; i++)
    by_openssl += by[i] == TORTURE_BY_OPENSSL,
        by_sqlite += by[i] == TORTURE_BY_SQLITE;

  for (n = from; !to || n <= to;) {
    work_reset();
    memset(shared, 0, sizeof(*shared));
    if (ftruncate(capture_fd, 0) != 0)
      die("ftruncate: %s", strerror(errno));
    (void)fflush(NULL); /* before fork, or both print the buffer */
    if ((pid = fork()) < 0)
      die("fork: %s", strerror(errno));
    if (pid == 0) {
      dup2(capture_fd, 2);
      child(op, n);
    }
    if (waitpid(pid, &status, 0) != pid)
      die("waitpid: %s", strerror(errno));
    runs++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        shared->outcome != OUT_DONE) {
      fail(op, n, "the child %s %d%s%s",
           WIFSIGNALED(status) ? "died of signal" : "exited",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
           shared->outcome == OUT_SETUP ? ": " : "",
           shared->outcome == OUT_SETUP ? shared->msg : "");
      fprintf(stderr, "%s", capture_read());
      goto next;
    }
    if (verbose)
      fprintf(stderr, "%s %llu: rc %d hit %d seen %llu: %s\n", op->name,
              (unsigned long long)n, shared->rc, shared->hit,
              (unsigned long long)shared->seen, shared->msg);
    if (shared->leaked) {
      char list[256] = "";
      size_t j, used = 0;

      for (j = 0; j < shared->leaked && j < 8; j++)
        used += (size_t)snprintf(
            list + used, sizeof(list) - used, " #%lld (%zu bytes)",
            (long long)shared->leak_seq[j], shared->leak_size[j]);
      fail(op, n,
           "%zu block%s leaked (%s: %s), allocation number "
           "in the run (see --trace):%s",
           shared->leaked, shared->leaked == 1 ? "" : "s",
           sr_strerror((sr_rc)shared->rc), shared->msg, list);
    }
    if (shared->bad_out)
      fail(op, n, "an out-parameter was set on failure");
    if (contains_secret(shared->msg) || contains_secret(capture_read()))
      fail(op, n, "a secret value in the message or on stderr");
    if (!shared->hit) {
      if (shared->rc != SR_OK)
        fail(op, n, "failed with no allocation failing: %s", shared->msg);
      op->allocations = shared->seen;
      break;
    }
    if (shared->rc != SR_OK) {
      failed++;
      if (!shared->msg[0])
        fail(op, n, "failed (%s) with no message",
             sr_strerror((sr_rc)shared->rc));
      check_unchanged(op, n);
    } else {
      tolerated++;
      if (shared->post_failed)
        fail(op, n, "succeeded, but its result is wrong (%s)", shared->msg);
      if (strcmp(shared->summary, expected) != 0) {
        size_t at = 0;

        while (shared->summary[at] == expected[at])
          at++;
        at = at > 60 ? at - 60 : 0;
        fail(op, n,
             "succeeded, but returned something else:\n"
             "got:  ...%.160s\nwant: ...%.160s",
             shared->summary + at, expected + at);
      }
    }
  next:
    n = next_n(n, full, recorded);
  }
  gettimeofday(&t1, NULL);
  printf("%-20s %5llu allocations (OpenSSL %4llu, SQLite %4llu), %5llu "
         "runs: %5llu failed cleanly, %4llu succeeded anyway (%.1f s)\n",
         op->name, (unsigned long long)op->allocations,
         (unsigned long long)by_openssl, (unsigned long long)by_sqlite,
         (unsigned long long)runs, (unsigned long long)failed,
         (unsigned long long)tolerated,
         (double)(t1.tv_sec - t0.tv_sec) +
             (double)(t1.tv_usec - t0.tv_usec) / 1e6);
  (void)fflush(stdout); /* a progress line: best effort */
}

static int *next_op;

/* One worker: its own work folder, then operations until none is left. */
static int worker(int idx, const char *only, uint64_t from, uint64_t to,
                  int full) {
  size_t k;

  snprintf(work_dir, sizeof(work_dir), "%s/work%d", topdir, idx);
  snprintf(work_store, sizeof(work_store), "%s/work%d/store.db", topdir, idx);
  snprintf(new_dir, sizeof(new_dir), "%s/new%d", topdir, idx);
  snprintf(new_store, sizeof(new_store), "%s/new%d/store.db", topdir, idx);
  snprintf(new_key, sizeof(new_key), "%s/new%d/master.key", topdir, idx);
  snprintf(capture_path, sizeof(capture_path), "%s/stderr%d", topdir, idx);
  if (mkdir(work_dir, 0700) != 0)
    die("mkdir %s: %s", work_dir, strerror(errno));
  if ((capture_fd = open(capture_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
    die("%s: %s", capture_path, strerror(errno));
  shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED)
    die("mmap: %s", strerror(errno));
  while ((k = (size_t)__atomic_fetch_add(next_op, 1, __ATOMIC_SEQ_CST)) < OPS)
    if (!only || strcmp(only, ops[k].name) == 0)
      torture_op(&ops[k], from, to, full);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  const char *only = NULL, *tmp = getenv("SECRETREF_TEST_TMP");
  uint64_t from = 1, to = 0;
  int full = 0, i, ran = 0, jobs = 2;
  pid_t pids[8];
  size_t k;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--full") == 0)
      full = 1;
    else if (strcmp(argv[i], "-v") == 0)
      verbose = 1;
    else if (strcmp(argv[i], "--op") == 0 && i + 1 < argc)
      only = argv[++i];
    else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
      from = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
      to = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc)
      trace_rel = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
      jobs = (int)strtol(argv[++i], NULL, 10);
    else
      die("usage: test_torture [--full] [--jobs J] [--op NAME] "
          "[--from N] [--to N] [--trace K] [-v]");
  }
  if (!from)
    from = 1;
  if (jobs < 1 || jobs > 8)
    die("--jobs takes 1 to 8");
  if (trace_rel) {
    /* The first backtrace loads libgcc_s: not in a run. */
    void *frames[4];
    backtrace(frames, 4);
  }
  /* A tmpfs when there is one: the store syncs every commit, and the
   * runs commit thousands of times. */
  if (access("/dev/shm", W_OK) == 0)
    tmp = "/dev/shm";
  else if (tmp && *tmp)
    mkdir(tmp, 0700);
  snprintf(topdir, sizeof(topdir), "%s/secretref-torture-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(topdir))
    die("mkdtemp %s: %s", topdir, strerror(errno));
  snprintf(base_store, sizeof(base_store), "%s/base/store.db", topdir);
  snprintf(base_key, sizeof(base_key), "%s/base/master.key", topdir);

  /* A name no service knows loads every NSS module of passwd now: when
   * the first module fails a lookup in a run, glibc goes on to the next
   * one and would load it there, once. */
  /* cppcheck-suppress getpwnamCalled ; one thread yet, and no result kept */
  (void)getpwnam("secretref-torture-nobody");
  /* Each slot of OpenSSL's error queue keeps the buffer its message
   * data was written to, for the next error: give every slot one now,
   * or the first run to raise an error there would seem to leak it. */
  for (i = 0; i < 64; i++)
    ERR_raise_data(ERR_LIB_USER, ERR_R_INTERNAL_ERROR, "%0*d", 900, i);
  ERR_clear_error();
  make_cert_pem();
  make_base();
  make_import_json();
  if (store_digest(base_store, base_digest) != 0)
    die("the base store does not read back");
  load_base();

  for (k = 0; k < OPS; k++)
    ran += !only || strcmp(only, ops[k].name) == 0;
  if (!ran)
    die("no operation named %s", only);
  /* Workers take the next operation in turn, each in its own folder. */
  next_op = mmap(NULL, sizeof(*next_op), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (next_op == MAP_FAILED)
    die("mmap: %s", strerror(errno));
  *next_op = 0;
  (void)fflush(NULL); /* before fork, or both print the buffer */
  for (i = 0; i < jobs; i++) {
    if ((pids[i] = fork()) < 0)
      die("fork: %s", strerror(errno));
    if (pids[i] == 0)
      _exit(worker(i, only, from, to, full));
  }
  for (i = 0; i < jobs; i++) {
    int status;

    if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      failures++;
  }
  if (!ran)
    die("no operation named %s", only);
  if (!failures) {
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", topdir);
    if (system(cmd) != 0)
      fprintf(stderr, "could not remove %s\n", topdir);
  } else {
    fprintf(stderr, "kept %s\n", topdir);
  }
  printf("test_torture: %d operations, %s%s\n", ran,
         failures ? "FAILED" : "no failures",
         full ? " (every allocation)" : "");
  return failures ? 1 : 0;
}
