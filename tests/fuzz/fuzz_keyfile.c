/* SPDX-License-Identifier: Apache-2.0 */
/* The key-file readers behind "secretref new --certificate FILE"
 * (sr_keyfile_read): PEM, DER, PKCS#12 and OpenSSH private keys. Each
 * input is read without a password and, when one is asked for, again with
 * the test password "test", as the command asks for one. */
#include "fuzz.h"
#include "internal.h"

static void read_one(const uint8_t *data, size_t size, const sr_secret *pw,
                     sr_rc *out) {
    struct sr_keymaterial km = {NULL, NULL};
    struct sr_error e;
    sr_rc rc;

    memset(&e, 0, sizeof(e));
    rc = sr_keyfile_read(data, size, pw, &km, &e);
    if (rc == SR_OK) {
        if (!km.pkey || sr_pkey_check_supported(km.pkey, NULL) != SR_OK)
            abort();
    } else if (km.pkey || km.chain || !e.msg[0]) {
        abort();
    }
    sr_keymaterial_clear(&km);
    *out = rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static sr_secret *pw;
    sr_rc rc;

    if (!pw && sr_secret_from("test", 4, &pw) != SR_OK)
        abort();
    read_one(data, size, NULL, &rc);
    if (rc == SR_ERR_PASSWORD)
        read_one(data, size, pw, &rc);
    return 0;
}
