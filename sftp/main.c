/* SPDX-License-Identifier: Apache-2.0 */
/* secretref-sftp: file actions against an SFTP server (Azure Blob Storage
 * SFTP in particular), authenticated by a key that stays in its provider
 * and a password from a secret reference. */
#include "sftpc.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: secretref-sftp [--key URI] [--password-ref NAME]\n"
            "          [--known-hosts FILE | --host-key SHA256:FP] "
            "[--accept-new]\n"
            "          [--parallel N] [--quiet | --verbose] [-b BATCHFILE]\n"
            "          [--store PATH] "
            "[--key-file PATH | --passphrase-file PATH]\n"
            "          [--environment TYPE] DESTINATION [COMMAND [ARGS...]]\n"
            "  DESTINATION  sftp://USER@HOST[:PORT][/PATH]\n"
            "               | --azure ACCOUNT[.CONTAINER].LOCALUSER | "
            "CONNECTOR\n"
            "  COMMAND      ls [-l] [PATH] | get [-r] REMOTE [LOCAL] "
            "| put [-r] LOCAL [REMOTE]\n"
            "               | rm PATH | mkdir PATH | rmdir PATH "
            "| rename OLD NEW | stat PATH\n"
            "--key takes any OpenSSL key URI: secretref:NAME, pkcs11:..., a "
            "PEM file.\nSee secretref-sftp(1).\n");
}

/* The password of a manual (or Key Vault) reference, from the store. */
static sftpc_rc password_open(sr_config *cfg, const char *name,
                              sr_secret **out)
{
    sr_store *st = NULL;
    char err[512];

    *out = NULL;
    if (sr_store_open(cfg, &st, err, sizeof(err)) != SR_OK)
        return sftpc_fail(SFTPC_ERR_KEY, "%s", err);
    if (sr_ref_open_secret(st, name, out) != SR_OK) {
        sftpc_fail(SFTPC_ERR_KEY, "%s", sr_store_errmsg(st));
        sr_store_free(st);
        return SFTPC_ERR_KEY;
    }
    sr_store_free(st);
    return SFTPC_OK;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"password-ref", required_argument, NULL, 'P'},
        {"known-hosts", required_argument, NULL, 'K'},
        {"host-key", required_argument, NULL, 'H'},
        {"accept-new", no_argument, NULL, 'A'},
        {"parallel", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"azure", no_argument, NULL, 'z'},
        {"store", required_argument, NULL, 's'},
        {"key-file", required_argument, NULL, 'f'},
        {"environment", required_argument, NULL, 'e'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct sftpc_options opts;
    struct sftpc_target target;
    struct sftpc_key key;
    struct sftpc_conn conn;
    struct sftpc_pool pool;
    struct rlimit none = {0, 0};
    const char *batch = NULL, *key_uri, *password_ref;
    sr_secret *password = NULL;
    int opt, azure = 0, connected = 0;
    char *end;
    long n;
    sftpc_rc rc = SFTPC_ERR_USAGE;

    /* No core file: this process holds a password and signs with a key. */
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    memset(&opts, 0, sizeof(opts));
    memset(&target, 0, sizeof(target));
    memset(&key, 0, sizeof(key));
    memset(&conn, 0, sizeof(conn));
    conn.sock = -1;
    opts.parallel = 4;
    opts.store_cfg.program = "secretref-sftp";
    /* "+": options end at the destination; the command's are its own. */
    while ((opt = getopt_long(argc, argv, "+b:hqvz", options, NULL)) != -1) {
        switch (opt) {
        case 'k':
            opts.key_uri = optarg;
            break;
        case 'P':
            opts.password_ref = optarg;
            break;
        case 'K':
            opts.known_hosts = optarg;
            break;
        case 'H':
            opts.host_key = optarg;
            break;
        case 'A':
            opts.accept_new = 1;
            break;
        case 'j':
            n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 64) {
                sftpc_fail(SFTPC_ERR_USAGE, "--parallel takes 1 to 64");
                return SFTPC_ERR_USAGE;
            }
            opts.parallel = (int)n;
            break;
        case 'q':
            opts.quiet = 1;
            break;
        case 'v':
            opts.verbose = 1;
            break;
        case 'z':
            azure = 1;
            break;
        case 's':
            opts.store_cfg.store_path = optarg;
            break;
        case 'f':
            opts.store_cfg.key_file = optarg;
            break;
        case 'e':
            opts.store_cfg.environment = optarg;
            break;
        case 'p':
            opts.store_cfg.passphrase_file = optarg;
            break;
        case 'b':
            batch = optarg;
            break;
        case 'h':
            usage(stdout);
            return SFTPC_OK;
        case 'V':
            printf("secretref-sftp %s (libssh2 %s)\n", SECRETREF_VERSION,
                   libssh2_version(0));
            return SFTPC_OK;
        default:
            usage(stderr);
            return SFTPC_ERR_USAGE;
        }
    }
    if (opts.host_key && opts.known_hosts) {
        sftpc_fail(SFTPC_ERR_USAGE, "give --known-hosts or --host-key, not "
                                    "both");
        return SFTPC_ERR_USAGE;
    }
    if (optind >= argc || (optind + 1 >= argc && !batch) ||
        (optind + 1 < argc && batch)) {
        usage(stderr);
        return SFTPC_ERR_USAGE;
    }
    opts.progress = !opts.quiet && isatty(STDERR_FILENO);
    /* The provider finds the same store as this command. */
    if (opts.store_cfg.store_path)
        setenv("SECRETREF_STORE", opts.store_cfg.store_path, 1);
    if (opts.store_cfg.key_file)
        setenv("SECRETREF_KEY_FILE", opts.store_cfg.key_file, 1);
    if (opts.store_cfg.environment)
        setenv("SECRETREF_ENVIRONMENT", opts.store_cfg.environment, 1);
    if (opts.store_cfg.passphrase_file)
        setenv("SECRETREF_PASSPHRASE_FILE", opts.store_cfg.passphrase_file,
               1);
    if (libssh2_init(0) != 0) {
        sftpc_fail(SFTPC_ERR_OTHER, "libssh2 does not start");
        return SFTPC_ERR_OTHER;
    }
    if ((rc = sftpc_target_parse(argv[optind], azure, &target,
                                 &opts.store_cfg)) != SFTPC_OK)
        goto out;
    key_uri = opts.key_uri ? opts.key_uri : target.key_uri;
    password_ref = opts.password_ref ? opts.password_ref : target.password_ref;
    if (!key_uri && !password_ref) {
        rc = sftpc_fail(SFTPC_ERR_USAGE, "give --key or --password-ref");
        goto out;
    }
    if (key_uri) {
        if (!sftpc_providers_load()) {
            rc = sftpc_fail(SFTPC_ERR_KEY, "cannot load the secretref "
                            "OpenSSL provider (set OPENSSL_MODULES)");
            goto out;
        }
        if ((rc = sftpc_key_load(key_uri, &key)) != SFTPC_OK)
            goto out;
    }
    if (password_ref &&
        (rc = password_open(&opts.store_cfg, password_ref, &password)) !=
            SFTPC_OK)
        goto out;
    if ((rc = sftpc_connect(&target, &opts, key_uri ? &key : NULL, password,
                            &conn)) != SFTPC_OK)
        goto out;
    connected = 1;
    pool.target = &target;
    pool.opts = &opts;
    pool.key = key_uri ? &key : NULL;
    pool.password = password;
    if (batch)
        rc = sftpc_batch_run(&conn, &pool, batch);
    else
        rc = sftpc_command(&conn, &pool, argc - optind - 1,
                           argv + optind + 1);
out:
    if (connected)
        sftpc_disconnect(&conn);
    sr_secret_free(password);
    sftpc_key_clear(&key);
    sftpc_target_clear(&target);
    libssh2_exit();
    return rc;
}
