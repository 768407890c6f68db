/* SPDX-License-Identifier: Apache-2.0 */
/* secretref: manage a store of secret references. Global options, then a
 * subcommand from the table below, each in its own file. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static const struct cli_command commands[] = {
    {"init", cli_init, "create a store and its encryption key"},
    {"new", cli_new, "create a secret reference"},
    {"set", cli_set, "change a reference or rotate its secret"},
    {"show", cli_show, "show a reference's metadata (never its secret)"},
    {"list", cli_list, "list references, marking expired and expiring"},
    {"delete", cli_delete, "delete a reference (refused while in use)"},
    {"pubkey", cli_pubkey, "print a certificate reference's public key"},
    {"pem", cli_pem, "write a PEM file that holds only a reference"},
    {"history", cli_history, "list a reference's versions"},
    {"rollback", cli_rollback, "make a new version equal to an old one"},
    {"audit", cli_audit, "show the audit log"},
    {"verify", cli_verify, "check that a reference can be used here, now"},
    {"check", cli_check, "fail when anything is expired or expiring"},
    {"export", cli_export, "write the configuration as JSON, no secrets"},
    {"import", cli_import, "read an export, all or nothing"},
    {"rekey", cli_rekey, "re-seal everything under a new encryption key"},
    {"environments", cli_environments, "list, add, remove environment types"},
    {"parameters", cli_parameters, "list, get, set the store's parameters"},
    {"keyvault", cli_keyvault, "add, list, show, delete Key Vault clients"},
    {"exec", cli_exec, "run a command with secrets in its environment"},
    {"connector", cli_connector, "add, list, show, delete SFTP connectors"},
};

static void usage(FILE *out)
{
    size_t i;

    fprintf(out,
            "usage: secretref [--store PATH] [--key-file PATH] "
            "[--environment TYPE]\n"
            "                 [--passphrase-file FILE] COMMAND [ARGS]\n\n"
            "commands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'secretref COMMAND --help' describes each; see also "
                 "secretref(1).\n");
}

/* No core file and no ptrace by other users: a crash must not write the
 * secrets this process holds to disk. */
static void protect_process(void)
{
    struct rlimit none = {0, 0};

    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"store", required_argument, NULL, 's'},
        {"key-file", required_argument, NULL, 'k'},
        {"environment", required_argument, NULL, 'e'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli;
    size_t i;
    int opt;

    protect_process();
    memset(&cli, 0, sizeof(cli));
    cli.cfg.program = "secretref";
    /* "+": stop at the subcommand, whose options are its own. */
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            cli.cfg.store_path = optarg;
            break;
        case 'k':
            cli.cfg.key_file = optarg;
            break;
        case 'e':
            cli.cfg.environment = optarg;
            break;
        case 'p':
            cli.cfg.passphrase_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("secretref %s\n", SECRETREF_VERSION);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            cli_getopt_reset();
            return commands[i].run(&cli, sub_argc, sub_argv);
        }
    fprintf(stderr, "secretref: %s: no such command\n", argv[optind]);
    usage(stderr);
    return EXIT_USAGE;
}
