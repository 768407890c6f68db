/* SPDX-License-Identifier: Apache-2.0 */
/* What Key Vault answers (store/keyvault.c): the body of GET secrets as a
 * secret bundle (value, id, contentType, attributes enabled/nbf/exp), the
 * error shape {"error":{"code","message","innererror":{"code"}}}, and the
 * WWW-Authenticate challenge of a 401 (authorization="...",
 * resource="..."). The input is each of them in turn. */
#include "fuzz.h"
#include "http.h"
#include "keyvault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzz_string(data, size), *param;
    struct sr_http_response r;
    struct sr_vault_meta meta;
    sr_secret *value = NULL;
    char code[128];
    sr_store st;
    sr_rc rc;

    memset(&st, 0, sizeof(st));
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.body = in;
    r.len = strlen(in);
    rc = sr_keyvault_bundle_read(&st, "fuzz", &r, &value, &meta);
    if ((rc == SR_OK) != (value != NULL))
        abort();
    if (rc != SR_OK && !st.err.msg[0])
        abort();
    if (!memchr(meta.version, '\0', sizeof(meta.version)) ||
        !memchr(meta.content_type, '\0', sizeof(meta.content_type)))
        abort();
    sr_secret_free(value);

    r.status = 403;
    memset(code, 'x', sizeof(code));
    sr_keyvault_error_code(&r, code, sizeof(code));
    if (!memchr(code, '\0', sizeof(code)))
        abort();

    /* The challenge: its parameters, as tenant discovery reads them. */
    if ((param = sr_challenge_param(in, "resource"))) {
        (void)sr_same_resource(param, "https://vault.azure.net");
        free(param);
    }
    free(sr_challenge_param(in, "authorization"));
    (void)sr_same_resource(in, "https://vault.azure.net/");
    free(in);
    return 0;
}
