/* SPDX-License-Identifier: Apache-2.0 */
/* secretref show: a reference's metadata, never its secret. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *expiry_word(const sr_ref_info *info)
{
    switch (sr_ref_expiry_state(info, time(NULL), 30)) {
    case 2:
        return "expired";
    case 1:
        return "expiring";
    default:
        return NULL;
    }
}

/* The leaf certificate's subject, issuer, serial and validity. */
static json_t *certificate_json(const char *chain_pem)
{
    BIO *bio = BIO_new_mem_buf(chain_pem, -1), *mem = NULL;
    json_t *out = NULL;
    X509 *leaf = NULL, *next;
    char *text;
    int count = 0;
    long len;

    if (!bio)
        return NULL;
    while ((next = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        if (!leaf)
            leaf = next;
        else
            X509_free(next);
        count++;
    }
    if (!leaf || !(out = json_object()) || !(mem = BIO_new(BIO_s_mem())))
        goto out;
    X509_NAME_print_ex(mem, X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(mem, &text);
    json_object_set_new(out, "subject", json_stringn(text, (size_t)len));
    (void)BIO_reset(mem);
    X509_NAME_print_ex(mem, X509_get_issuer_name(leaf), 0, XN_FLAG_RFC2253);
    len = BIO_get_mem_data(mem, &text);
    json_object_set_new(out, "issuer", json_stringn(text, (size_t)len));
    (void)BIO_reset(mem);
    i2a_ASN1_INTEGER(mem, X509_get0_serialNumber(leaf));
    len = BIO_get_mem_data(mem, &text);
    json_object_set_new(out, "serial", json_stringn(text, (size_t)len));
    (void)BIO_reset(mem);
    ASN1_TIME_print(mem, X509_get0_notAfter(leaf));
    len = BIO_get_mem_data(mem, &text);
    json_object_set_new(out, "not_after", json_stringn(text, (size_t)len));
    json_object_set_new(out, "chain_length", json_integer(count));
out:
    ERR_clear_error();
    BIO_free(mem);
    BIO_free(bio);
    X509_free(leaf);
    return out;
}

static json_t *info_json(const sr_ref_info *info, const char *users)
{
    json_t *obj = json_object(), *part;
    const char *state = expiry_word(info);
    sr_pubkey_desc desc;

    json_object_set_new(obj, "name", json_string(info->name));
    json_object_set_new(obj, "description", json_string(info->description));
    json_object_set_new(obj, "environment_type",
                        info->environment ? json_string(info->environment)
                                          : json_null());
    json_object_set_new(obj, "kind", json_string(sr_kind_name(info->kind)));
    json_object_set_new(obj, "expires", *info->expires
                                            ? json_string(info->expires)
                                            : json_null());
    json_object_set_new(obj, "expiry_state",
                        state ? json_string(state) : json_null());
    json_object_set_new(obj, "secret",
                        json_string(info->version ? "set" : "not set"));
    json_object_set_new(obj, "version", json_integer(info->version));
    json_object_set_new(obj, "id", json_string(info->uuid));
    json_object_set_new(obj, "created", json_string(info->created));
    json_object_set_new(obj, "updated", json_string(info->updated));
    if (info->vault_secret) {
        part = json_object();
        json_object_set_new(part, "client", json_string(info->vault_client));
        json_object_set_new(part, "secret", json_string(info->vault_secret));
        json_object_set_new(part, "version",
                            info->vault_version
                                ? json_string(info->vault_version)
                                : json_null());
        json_object_set_new(obj, "key_vault", part);
    }
    if (info->public_key_der &&
        sr_pubkey_describe(info->public_key_der, info->public_key_len,
                           &desc) == SR_OK) {
        part = json_object();
        json_object_set_new(part, "type", json_string(desc.type));
        json_object_set_new(part, "bits", json_integer(desc.bits));
        if (desc.curve[0])
            json_object_set_new(part, "curve", json_string(desc.curve));
        json_object_set_new(part, "fingerprint",
                            json_string(desc.fingerprint));
        json_object_set_new(obj, "key", part);
    }
    if (info->cert_chain_pem && (part = certificate_json(info->cert_chain_pem)))
        json_object_set_new(obj, "certificate", part);
    if (users)
        json_object_set_new(obj, "used_by", json_string(users));
    return obj;
}

/* key: value lines, in the order of the JSON object. */
/* NOLINTNEXTLINE(misc-no-recursion): our own object, two levels deep */
static void print_text(json_t *obj, const char *prefix)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value) {
        if (json_is_object(value)) {
            print_text(value, key);
            continue;
        }
        if (prefix)
            printf("%s.", prefix);
        if (json_is_string(value))
            printf("%s: %s\n", key, json_string_value(value));
        else if (json_is_integer(value))
            printf("%s: %lld\n", key, (long long)json_integer_value(value));
        else if (json_is_null(value))
            printf("%s: -\n", key);
    }
}

int cli_show(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_ref_info info;
    sr_store *st = NULL;
    char *users = NULL, *text;
    json_t *obj = NULL;
    int opt, json = 0, status;
    sr_rc rc;

    memset(&info, 0, sizeof(info));
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'j') {
            json = 1;
        } else if (opt == 'h') {
            printf("usage: secretref show NAME [--json]\n\n"
                   "Shows a reference's metadata: kind, environment type, "
                   "expiry, version,\nkey type and fingerprint, certificate, "
                   "and the connectors that use it.\nNever the secret.\n");
            return 0;
        } else {
            return cli_unknown_option("show");
        }
    }
    if (argc - optind != 1)
        return cli_usage("show", "give one reference NAME");
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_ref_lookup(st, argv[optind], &info)) != SR_OK ||
        (rc = sr_ref_users(st, info.name, &users)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    obj = info_json(&info, *users ? users : NULL);
    if (json) {
        if ((text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
            puts(text);
            free(text);
        }
    } else {
        print_text(obj, NULL);
    }
out:
    json_decref(obj);
    free(users);
    sr_ref_info_clear(&info);
    sr_store_free(st);
    return status;
}
