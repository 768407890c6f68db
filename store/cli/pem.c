/* SPDX-License-Identifier: Apache-2.0 */
/* secretref pem: a PEM file that holds only a reference, for programs that
 * read a key file (curl --key, nginx ssl_certificate_key) rather than a
 * URI. The secretref provider decodes it into the key by reference. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

int cli_pem(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    sr_ref_info info;
    sr_store *st = NULL;
    char *uri = NULL, *text = NULL;
    unsigned char *b64 = NULL;
    size_t ulen, len, i, used;
    int opt, status, n;
    sr_rc rc;

    memset(&info, 0, sizeof(info));
    while ((opt = cli_getopt_long(argc, argv, "ho:", options)) != -1) {
        if (opt == 'o') {
            output = optarg;
        } else if (opt == 'h') {
            printf("usage: secretref pem NAME [--output FILE]\n\n"
                   "Writes a PEM file (-----BEGIN SECRETREF KEY-----) that "
                   "holds only the name of\nthe certificate reference NAME, "
                   "no key. With the secretref provider loaded,\nOpenSSL "
                   "programs that read a private key file use it as the "
                   "key.\n");
            return 0;
        } else {
            return cli_unknown_option("pem");
        }
    }
    if (argc - optind != 1)
        return cli_usage("pem", "give one reference NAME");
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_ref_lookup(st, argv[optind], &info)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    if (info.kind != SR_KIND_CERTIFICATE) {
        status = cli_fail(SR_ERR_WRONG_KIND,
                          "%s: is a %s reference, not a certificate",
                          info.name, sr_kind_name(info.kind));
        goto out;
    }
    if (!(uri = sr_uri_from_name(info.name)) ||
        !(b64 = malloc(4 * ((strlen(uri) + 2) / 3) + 1))) {
        status = cli_fail(SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    ulen = strlen(uri);
    n = EVP_EncodeBlock(b64, (unsigned char *)uri, (int)ulen);
    len = strlen(info.name) + (size_t)n + (size_t)n / 64 + 512;
    if (!(text = malloc(len))) {
        status = cli_fail(SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    used = (size_t)snprintf(text, len,
                            "secretref reference: %s\n"
                            "This file holds no key, only the name of a "
                            "certificate reference in a\nsecretref store. "
                            "OpenSSL programs with the secretref provider "
                            "loaded\nuse it as the private key.\n"
                            "-----BEGIN " "SECRETREF KEY" "-----\n",
                            info.name);
    for (i = 0; i < (size_t)n; i += 64) {
        size_t chunk = (size_t)n - i < 64 ? (size_t)n - i : 64;
        memcpy(text + used, b64 + i, chunk);
        used += chunk;
        text[used++] = '\n';
    }
    used += (size_t)snprintf(text + used, len - used,
                             "-----END SECRETREF KEY-----\n");
    if (!output) {
        if (fwrite(text, 1, used, stdout) != used || fflush(stdout) != 0)
            status = cli_fail(SR_ERR_IO, "standard output: %s",
                              strerror(errno));
    } else if (cli_write_file(output, text, used, 0644) != 0)
        status = cli_fail(SR_ERR_IO, "%s: %s", output, strerror(errno));
out:
    free(text);
    free(b64);
    free(uri);
    sr_ref_info_clear(&info);
    sr_store_free(st);
    return status;
}
