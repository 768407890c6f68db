/* SPDX-License-Identifier: Apache-2.0 */
/* What Entra ID and the instance metadata service answer
 * (store/entra.c): a token reply (access_token, expires_in as a number or,
 * from IMDS, a string) and an error reply (error, error_description with
 * an AADSTS code). */
#include "fuzz.h"
#include "http.h"
#include "keyvault.h"

#include <math.h>
#include <openssl/crypto.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzz_string(data, size), *token = NULL;
    struct sr_http_response r;
    double expires_in = -1;
    char code[64];
    sr_rc rc;

    rc = sr_entra_reply_read(in, &token, &expires_in);
    if (rc == SR_OK) {
        if (!token || !(expires_in > 0) || !isfinite(expires_in))
            abort();
        OPENSSL_clear_free(token, strlen(token));
    } else if (token) {
        abort();
    }

    memset(&r, 0, sizeof(r));
    r.status = 400;
    r.body = in;
    r.len = strlen(in);
    memset(code, 'x', sizeof(code));
    sr_entra_error_code(&r, code, sizeof(code));
    if (!memchr(code, '\0', sizeof(code)))
        abort();
    free(in);
    return 0;
}
