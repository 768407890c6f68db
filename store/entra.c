/* SPDX-License-Identifier: Apache-2.0 */
/* Tokens from Microsoft Entra ID for a Key Vault client: client
 * credentials with a client secret, with a JWT client assertion signed by
 * the store's key core (the certificate's key is never exported), or a
 * managed identity through the instance metadata service. Tokens are kept
 * in memory per client and refreshed when under 2 minutes remain. */
#include "internal.h"
#include "http.h"
#include "keyvault.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REFRESH_MARGIN 120.0
#define CACHE_SLOTS 16

struct cached_token {
    char *key;   /* authority|tenant|client|credential */
    char *token;
    double expires;
};

static struct cached_token cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void cache_slot_clear(struct cached_token *t)
{
    free(t->key);
    if (t->token)
        OPENSSL_clear_free(t->token, strlen(t->token));
    memset(t, 0, sizeof(*t));
}

/* A copy of the cached token for key, if it has time left. */
static char *cache_get(const char *key)
{
    char *token = NULL;
    int i;

    pthread_mutex_lock(&cache_lock);
    for (i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].key && strcmp(cache[i].key, key) == 0 &&
            cache[i].expires - sr_http_now() > REFRESH_MARGIN) {
            token = strdup(cache[i].token);
            break;
        }
    pthread_mutex_unlock(&cache_lock);
    return token;
}

static void cache_put(const char *key, const char *token, double expires)
{
    int i, slot = -1;

    pthread_mutex_lock(&cache_lock);
    for (i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (!cache[i].key || strcmp(cache[i].key, key) == 0)
            slot = i;
    if (slot < 0)
        slot = 0;
    cache_slot_clear(&cache[slot]);
    if ((cache[slot].key = strdup(key)) &&
        (cache[slot].token = strdup(token)))
        cache[slot].expires = expires;
    else
        cache_slot_clear(&cache[slot]);
    pthread_mutex_unlock(&cache_lock);
}

static void entra_forget(const char *key)
{
    int i;

    pthread_mutex_lock(&cache_lock);
    for (i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].key && strcmp(cache[i].key, key) == 0)
            cache_slot_clear(&cache[i]);
    pthread_mutex_unlock(&cache_lock);
}

/* Percent-encoding for form bodies and query strings. */
char *sr_url_encode(const unsigned char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = OPENSSL_malloc(3 * len + 1), *o = out;
    size_t i;

    if (!out)
        return NULL;
    for (i = 0; i < len; i++) {
        unsigned char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

static char *b64url(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    int n, i;

    if (!out)
        return NULL;
    n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

static char *b64url_json(json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER), *out;

    if (!text)
        return NULL;
    out = b64url((unsigned char *)text, strlen(text));
    free(text);
    return out;
}

/* The leaf certificate's DER from a PEM chain. */
static unsigned char *leaf_der(const char *chain, int *len)
{
    unsigned char *der = NULL;
    X509 *leaf = NULL;
    BIO *bio;

    if (!chain || !(bio = BIO_new_mem_buf(chain, -1)))
        return NULL;
    leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (leaf && (*len = i2d_X509(leaf, &der)) <= 0)
        der = NULL;
    X509_free(leaf);
    return der;
}

/* A client assertion: a JWT for the token endpoint, signed by the key of
 * the client's certificate reference in the key core. */
static sr_rc client_assertion(sr_store *st, const sr_keyvault_client *c,
                              const char *token_url, char **out)
{
    unsigned char *der = NULL, thumb[32], digest[32], sig[1024], jti_raw[16];
    char *header = NULL, *payload = NULL, *input = NULL, *sig64 = NULL,
         *x5t = NULL, *jti = NULL;
    int rs256 = c->assertion && strcmp(c->assertion, "rs256") == 0, der_len = 0;
    size_t siglen = sizeof(sig), len;
    json_t *h = NULL, *p = NULL;
    sr_sign_params params;
    sr_key *key = NULL;
    time_t now = time(NULL);
    sr_rc rc;

    *out = NULL;
    if ((rc = sr_key_open(st, c->credential_ref, &key)) != SR_OK)
        return rc;
    rc = SR_ERR_NOMEM;
    if (!(der = leaf_der(sr_key_cert_chain_pem(key), &der_len))) {
        rc = sr_err(st, SR_ERR_WRONG_KIND,
                    "reference %s has no certificate", c->credential_ref);
        goto out;
    }
    if (!EVP_Q_digest(sr_libctx(), rs256 ? "SHA1" : "SHA256", NULL, der,
                      (size_t)der_len, thumb, NULL) ||
        !(x5t = b64url(thumb, rs256 ? 20 : 32)) ||
        RAND_bytes(jti_raw, sizeof(jti_raw)) != 1 || !(jti = sr_hex(jti_raw,
                                                                 16)))
        goto out;
    h = json_pack("{s:s, s:s, s:s}", "alg", rs256 ? "RS256" : "PS256", "typ",
                  "JWT", rs256 ? "x5t" : "x5t#S256", x5t);
    p = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", token_url,
                  "iss", c->client_id, "sub", c->client_id, "jti", jti, "nbf",
                  (json_int_t)now, "iat", (json_int_t)now, "exp",
                  (json_int_t)now + 600);
    if (!h || !p || !(header = b64url_json(h)) || !(payload = b64url_json(p)))
        goto out;
    len = strlen(header) + strlen(payload) + 2;
    if (!(input = malloc(len)))
        goto out;
    snprintf(input, len, "%s.%s", header, payload);
    if (!EVP_Q_digest(sr_libctx(), "SHA256", NULL, input, strlen(input),
                      digest, NULL))
        goto out;
    memset(&params, 0, sizeof(params));
    params.padding = rs256 ? SR_PAD_PKCS1 : SR_PAD_PSS;
    params.digest = "SHA256";
    params.salt_len = -1; /* PS256: the salt is the digest's length */
    if ((rc = sr_key_sign(key, &params, digest, sizeof(digest), sig,
                          &siglen)) != SR_OK) {
        sr_err(st, rc, "signing the assertion: %s", sr_key_errmsg(key));
        goto out;
    }
    rc = SR_ERR_NOMEM;
    if (!(sig64 = b64url(sig, siglen)))
        goto out;
    len = strlen(input) + strlen(sig64) + 2;
    if (!(*out = malloc(len)))
        goto out;
    snprintf(*out, len, "%s.%s", input, sig64);
    rc = SR_OK;
out:
    if (rc == SR_ERR_NOMEM && !st->err.msg[0])
        sr_err(st, rc, "out of memory");
    json_decref(h);
    json_decref(p);
    OPENSSL_free(der);
    free(header);
    free(payload);
    free(input);
    free(sig64);
    free(x5t);
    free(jti);
    sr_key_free(key);
    return rc;
}

/* "AADSTS7000215" from Entra's error_description, else its error. */
void sr_entra_error_code(const struct sr_http_response *r, char *code,
                         size_t size)
{
    json_t *root = r->body ? json_loads(r->body, 0, NULL) : NULL;
    const char *desc = NULL, *err = NULL, *p;
    size_t n;

    if (root) {
        desc = json_string_value(json_object_get(root, "error_description"));
        err = json_string_value(json_object_get(root, "error"));
    }
    if (desc && (p = strstr(desc, "AADSTS"))) {
        n = 6 + strspn(p + 6, "0123456789");
        snprintf(code, size, "%.*s", (int)(n < 24 ? n : 24), p);
    } else if (err) {
        snprintf(code, size, "%.60s", err);
    } else {
        snprintf(code, size, "HTTP %ld", r->status);
    }
    json_decref(root);
}

sr_rc sr_entra_reply_read(const char *body, char **token, double *expires_in)
{
    json_t *root = body ? json_loads(body, 0, NULL) : NULL, *exp;
    const char *access;
    double secs = 0;
    sr_rc rc = SR_ERR_REMOTE;

    *token = NULL;
    *expires_in = 0;
    access = root ? json_string_value(json_object_get(root, "access_token"))
                  : NULL;
    exp = root ? json_object_get(root, "expires_in") : NULL;
    if (json_is_integer(exp))
        secs = (double)json_integer_value(exp);
    else if (json_is_string(exp))
        secs = strtod(json_string_value(exp), NULL);
    /* "nan" or "inf" from strtod is no lifetime: the token would be
     * cached forever, or never. */
    if (!access || !(secs > 0) || !isfinite(secs))
        goto out;
    rc = SR_ERR_NOMEM;
    if (!(*token = strdup(access)))
        goto out;
    *expires_in = secs;
    rc = SR_OK;
out:
    if (root) {
        /* The token lives in the JSON tree's strings: cleanse them. */
        if (access)
            OPENSSL_cleanse((char *)access, strlen(access));
        json_decref(root);
    }
    return rc;
}

sr_rc sr_entra_token(sr_store *st, const sr_keyvault_client *c,
                     const char *authority, const char *tenant,
                     const char *resource, double deadline, int refresh,
                     char **token)
{
    struct sr_http_request req;
    struct sr_http_response r;
    const char *headers[3] = {NULL, NULL, NULL};
    char *key = NULL, *url = NULL, *body = NULL, *enc_secret = NULL,
         *enc_res = NULL, *assertion = NULL;
    sr_secret *secret = NULL;
    double expires_in = 0;
    size_t len;
    char code[64];
    int managed = strcmp(c->credential, "managed-identity") == 0;
    sr_rc rc = SR_ERR_NOMEM;

    *token = NULL;
    memset(&req, 0, sizeof(req));
    memset(&r, 0, sizeof(r));
    len = strlen(authority) + strlen(tenant ? tenant : "") +
          strlen(c->client_id ? c->client_id : "") + strlen(c->credential) +
          8;
    if (!(key = malloc(len)))
        goto nomem;
    snprintf(key, len, "%s|%s|%s|%s", authority, tenant ? tenant : "",
             c->client_id ? c->client_id : "", c->credential);
    if (refresh)
        entra_forget(key);
    else if ((*token = cache_get(key))) {
        rc = SR_OK;
        goto out;
    }
    if (!(enc_res = sr_url_encode((const unsigned char *)resource,
                                  strlen(resource))))
        goto nomem;
    len = strlen(authority) + strlen(enc_res) + 256 +
          (c->client_id ? strlen(c->client_id) : 0) +
          (tenant ? strlen(tenant) : 0);
    if (!(url = malloc(len)))
        goto nomem;
    req.ca_file = c->ca_file;
    req.url = url;
    req.headers = headers;
    if (managed) {
        snprintf(url, len,
                 "%s/metadata/identity/oauth2/token?api-version=2018-02-01"
                 "&resource=%s%s%s",
                 authority, enc_res, c->client_id ? "&client_id=" : "",
                 c->client_id ? c->client_id : "");
        headers[0] = "Metadata: true";
        req.what = "the instance metadata service";
        req.allow_http = 1;
    } else {
        /* Checked when the client is added; a damaged row is refused. */
        if (!c->client_id) {
            rc = sr_err(st, SR_ERR_USAGE, "%s: give the client id", c->name);
            goto out;
        }
        snprintf(url, len, "%s/%s/oauth2/v2.0/token", authority, tenant);
        headers[0] = "Content-Type: application/x-www-form-urlencoded";
        req.what = "Entra ID";
        if (strcmp(c->credential, "client-secret") == 0) {
            if ((rc = sr_ref_open_secret(st, c->credential_ref, &secret)) !=
                SR_OK)
                goto out;
            if (!(enc_secret = sr_url_encode(secret->data, secret->len)))
                goto nomem;
        } else if ((rc = client_assertion(st, c, url, &assertion)) != SR_OK) {
            goto out;
        }
        len = strlen(c->client_id) + strlen(enc_res) + 256 +
              (enc_secret ? strlen(enc_secret) : strlen(assertion));
        if (!(body = OPENSSL_zalloc(len)))
            goto nomem;
        snprintf(body, len,
                 "client_id=%s&scope=%s%%2F.default&grant_type=client_"
                 "credentials&%s%s",
                 c->client_id, enc_res,
                 enc_secret ? "client_secret="
                            : "client_assertion_type=urn%3Aietf%3Aparams%3A"
                              "oauth%3Aclient-assertion-type%3Ajwt-bearer&"
                              "client_assertion=",
                 enc_secret ? enc_secret : assertion);
        req.body = body;
    }
    if ((rc = sr_http_send(&req, deadline, &r, &st->err)) != SR_OK)
        goto out;
    if (r.status != 200) {
        sr_entra_error_code(&r, code, sizeof(code));
        rc = sr_err(st, SR_ERR_REMOTE,
                    "%s refused the %s: %s (HTTP %ld)", req.what,
                    managed ? "managed identity"
                    : enc_secret ? "client secret"
                                 : "client certificate",
                    code, r.status);
        goto out;
    }
    if ((rc = sr_entra_reply_read(r.body, token, &expires_in)) != SR_OK) {
        if (rc == SR_ERR_NOMEM)
            goto nomem;
        rc = sr_err(st, SR_ERR_REMOTE,
                    "%s answered without a token", req.what);
        goto out;
    }
    cache_put(key, *token, sr_http_now() + expires_in);
    rc = SR_OK;
    goto out;
nomem:
    rc = sr_err(st, SR_ERR_NOMEM, "out of memory");
out:
    sr_http_response_clear(&r);
    if (body)
        OPENSSL_clear_free(body, strlen(body));
    if (enc_secret)
        OPENSSL_clear_free(enc_secret, strlen(enc_secret));
    if (assertion)
        OPENSSL_clear_free(assertion, strlen(assertion));
    OPENSSL_free(enc_res);
    sr_secret_free(secret);
    free(url);
    free(key);
    return rc;
}
