/* SPDX-License-Identifier: Apache-2.0 */
/* The secretref command: shared by its subcommands, one file each. */
#ifndef SECRETREF_CLI_H
#define SECRETREF_CLI_H

#include "secretref.h"

#include <stdio.h>

/* Exit statuses, documented in secretref(1) and the README. */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_NOT_FOUND = 3,
    EXIT_DENIED = 4,
    EXIT_KEY = 5,
    EXIT_STORE = 6,
    EXIT_REMOTE = 7,
    EXIT_INPUT = 8,
    EXIT_CONFLICT = 9,
    EXIT_EXPIRING = 10
};

/* The global options, and what every subcommand shares. */
struct cli {
    sr_config cfg;
};

typedef int (*cli_fn)(struct cli *cli, int argc, char **argv);

struct cli_command {
    const char *name;
    cli_fn run;
    const char *summary;
};

int cli_init(struct cli *cli, int argc, char **argv);
int cli_new(struct cli *cli, int argc, char **argv);
int cli_set(struct cli *cli, int argc, char **argv);
int cli_show(struct cli *cli, int argc, char **argv);
int cli_list(struct cli *cli, int argc, char **argv);
int cli_delete(struct cli *cli, int argc, char **argv);
int cli_pubkey(struct cli *cli, int argc, char **argv);
int cli_pem(struct cli *cli, int argc, char **argv);
int cli_keyvault(struct cli *cli, int argc, char **argv);
int cli_exec(struct cli *cli, int argc, char **argv);
int cli_history(struct cli *cli, int argc, char **argv);
int cli_rollback(struct cli *cli, int argc, char **argv);
int cli_audit(struct cli *cli, int argc, char **argv);
int cli_verify(struct cli *cli, int argc, char **argv);
int cli_check(struct cli *cli, int argc, char **argv);
int cli_export(struct cli *cli, int argc, char **argv);
int cli_import(struct cli *cli, int argc, char **argv);
int cli_rekey(struct cli *cli, int argc, char **argv);
int cli_environments(struct cli *cli, int argc, char **argv);
int cli_parameters(struct cli *cli, int argc, char **argv);
int cli_connector(struct cli *cli, int argc, char **argv);

/* The exit status for rc. */
int cli_exit_status(sr_rc rc);

/* Prints "secretref: MESSAGE" on standard error and returns the exit
 * status for rc. */
int cli_fail(sr_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with the store's last message. */
int cli_fail_store(sr_store *st, sr_rc rc);
/* A usage error: the message, then "try secretref CMD --help". */
int cli_usage(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Opens the store; with need_key 0, for metadata only. On failure prints
 * the error and returns its exit status, else 0. */
int cli_open(struct cli *cli, int need_key, sr_store **st);

/* Is standard input (and standard error, where prompts go) a terminal? */
int cli_interactive(void);
/* Asks for one line with echo; 0 on success, -1 at end of input. */
int cli_prompt_line(const char *prompt, char *buf, size_t size);
/* Asks for a secret without echo, twice when confirm is set. */
int cli_prompt_secret(const char *prompt, int confirm, sr_secret **out);
/* The secret from a file, or standard input when it is not a terminal,
 * else a prompt. One trailing newline is removed. */
int cli_read_secret(const char *file, const char *prompt, sr_secret **out);

/* Reads a whole file (a key file, a password file) into a secret buffer,
 * as it is; strip_newline removes one trailing newline. */
int cli_read_file_secret(const char *path, int strip_newline,
                         sr_secret **out);

/* Parses a whole decimal number in [min, max]; 0 on success. */
int cli_parse_int(const char *text, long min, long max, long *out);

/* Writes data to path through a temporary file and a rename, so readers
 * never see half a file; mode applies to the new file. */
int cli_write_file(const char *path, const char *data, size_t len, int mode);

/* Parses a subcommand that takes only --help and `count` operands:
 * returns 0 with operands set, -1 after printing help, or an exit
 * status. */
int cli_operands(const char *command, int argc, char **argv,
                 const char *help, int count, const char **operands);

/* getopt_long with a fresh state for each subcommand. */
void cli_getopt_reset(void);
/* getopt_long that refuses abbreviated long options (a prefix of
 * --secret-file must not take a secret typed on the command line). */
struct option;
int cli_getopt_long(int argc, char **argv, const char *shortopts,
                    const struct option *longopts);
/* The usage error for the option cli_getopt_long refused. */
int cli_unknown_option(const char *command);

#endif
