/* SPDX-License-Identifier: Apache-2.0 */
/* The host-key check of the SFTP client (sftp/session.c): the input is a
 * known_hosts file, read with libssh2's knownhost API through
 * sftpc_knownhost_check and searched for two hosts on two ports with the
 * test host keys below (plain and hashed entries match alike). Each line
 * is also a --host-key pin for sr_host_key_valid ("SHA256:" and 43
 * base64 digits). */
#include "fuzz.h"
#include "internal.h"
#include "sftpc.h"

#include <openssl/evp.h>

/* Test host keys (ssh-keygen, no use elsewhere): the blobs of the .pub
 * lines. */
static const char *const host_keys[] = {
    "AAAAC3NzaC1lZDI1NTE5AAAAICfPARHIUe6h36Z+n4j56jgLFttft6YrEptUMLaltgMz",
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJhDwnnoacBhyzvHFe5"
    "jv0KSeK5Pops4Foh7zBqgrgHq6BR5Mr4tQcBacBTeseHzRQ2DInTaOpXnFh1ZkXOwcL4=",
};
static const int host_key_types[] = {LIBSSH2_HOSTKEY_TYPE_ED25519,
                                     LIBSSH2_HOSTKEY_TYPE_ECDSA_256};

struct host_key {
    unsigned char blob[256];
    size_t len;
};

static LIBSSH2_SESSION *ssh;
static struct host_key keys[2];
static char file[PATH_MAX + 16];

static void setup(void) {
    size_t i, n;
    int len;

    if (libssh2_init(0) != 0 || !(ssh = libssh2_session_init()))
        abort();
    for (i = 0; i < 2; i++) {
        n = strlen(host_keys[i]);
        len = EVP_DecodeBlock(keys[i].blob, (const unsigned char *)host_keys[i],
                              (int)n);
        if (len < 0)
            abort();
        /* EVP_DecodeBlock counts the padding's zero bytes in. */
        while (n && host_keys[i][n - 1] == '=') {
            n--;
            len--;
        }
        keys[i].len = (size_t)len;
    }
    snprintf(file, sizeof(file), "%s/known_hosts", fuzz_tmpdir());
}

static void pins(const char *in) {
    const char *p = in, *nl;
    char line[128];
    size_t len;

    for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
        nl = strchr(p, '\n');
        len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= sizeof(line))
            continue;
        memcpy(line, p, len);
        line[len] = '\0';
        (void)sr_host_key_valid(line);
        if (!nl)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const hosts[] = {"example.com", "10.0.0.7"};
    static const int ports[] = {22, 2222};
    LIBSSH2_KNOWNHOSTS *kh;
    char *in;
    FILE *f;
    size_t h, p, k;
    int check;

    if (!ssh)
        setup();
    if (!(f = fopen(file, "wb")) || fwrite(data, 1, size, f) != size ||
        fclose(f) != 0)
        abort();
    for (h = 0; h < 2; h++) {
        for (p = 0; p < 2; p++) {
            for (k = 0; k < 2; k++) {
                if (!(kh = libssh2_knownhost_init(ssh)))
                    abort();
                check = sftpc_knownhost_check(kh, file, hosts[h], ports[p],
                                              (const char *)keys[k].blob,
                                              keys[k].len, host_key_types[k]);
                if (check != -1 && check != LIBSSH2_KNOWNHOST_CHECK_MATCH &&
                    check != LIBSSH2_KNOWNHOST_CHECK_MISMATCH &&
                    check != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND &&
                    check != LIBSSH2_KNOWNHOST_CHECK_FAILURE)
                    abort();
                libssh2_knownhost_free(kh);
                if (check == -1)
                    goto pin; /* the file fails alike for every host */
            }
        }
    }
pin:
    in = fuzz_string(data, size);
    pins(in);
    free(in);
    return 0;
}
