/* SPDX-License-Identifier: Apache-2.0 */
/* secretref exec: runs a command with manual and Key Vault secrets in its
 * environment only: never in an argument, never in ours. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define VARS_MAX 64

static const char help[] =
    "usage: secretref exec --env VAR=NAME [--env VAR=NAME ...] -- CMD [ARGS]\n\n"
    "Resolves each reference NAME (manual or Key Vault) and runs CMD with its\n"
    "secret in the environment variable VAR, in the child's environment only.\n"
    "Exits with the child's status (128+N for a signal).\n";

static int valid_var(const char *name, size_t len)
{
    size_t i;

    if (!len || (name[0] >= '0' && name[0] <= '9'))
        return 0;
    for (i = 0; i < len; i++)
        if (!((name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= 'a' && name[i] <= 'z') ||
              (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
            return 0;
    return 1;
}

int cli_exec(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"env", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *vars[VARS_MAX];
    sr_secret *values[VARS_MAX];
    char *entries[VARS_MAX];
    size_t n = 0, i, len;
    sr_store *st = NULL;
    const char *eq;
    int opt, status = 0, wstatus;
    pid_t pid;
    sr_rc rc;

    memset(values, 0, sizeof(values));
    memset(entries, 0, sizeof(entries));
    while ((opt = cli_getopt_long(argc, argv, "+h", options)) != -1) {
        if (opt == 'h') {
            (void)fputs(help, stdout);
            return 0;
        }
        if (opt != 'e')
            return cli_unknown_option("exec");
        eq = strchr(optarg, '=');
        if (!eq || !valid_var(optarg, (size_t)(eq - optarg)) || !eq[1])
            return cli_usage("exec", "--env takes VAR=NAME");
        if (n == VARS_MAX)
            return cli_usage("exec", "at most %d --env", VARS_MAX);
        vars[n++] = optarg;
    }
    if (optind >= argc || n == 0)
        return cli_usage("exec", "give --env VAR=NAME and -- CMD");
    if ((status = cli_open(cli, 1, &st)) != 0)
        return status;
    for (i = 0; i < n; i++) {
        eq = strchr(vars[i], '=');
        if ((rc = sr_ref_open_secret(st, eq + 1, &values[i])) != SR_OK) {
            status = cli_fail_store(st, rc);
            goto out;
        }
        if (memchr(values[i]->data, '\0', values[i]->len)) {
            status = cli_fail(SR_ERR_FORMAT, "%s: the secret holds a NUL "
                              "byte and cannot be an environment value",
                              eq + 1);
            goto out;
        }
    }
    /* The store is closed before the child runs: it inherits nothing of
     * it. */
    sr_store_free(st);
    st = NULL;
    (void)fflush(NULL);
    if ((pid = fork()) < 0) {
        status = cli_fail(SR_ERR_IO, "exec: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        for (i = 0; i < n; i++) {
            eq = strchr(vars[i], '=');
            len = (size_t)(eq - vars[i]);
            /* VAR=value, built in the child only, handed to putenv. */
            if (!(entries[i] = malloc(len + values[i]->len + 2)))
                _exit(127);
            memcpy(entries[i], vars[i], len + 1);
            memcpy(entries[i] + len + 1, values[i]->data, values[i]->len);
            entries[i][len + 1 + values[i]->len] = '\0';
            putenv(entries[i]);
        }
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "secretref: exec %s: %s\n", argv[optind],
                strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (i = 0; i < n; i++) {
        sr_secret_free(values[i]);
        values[i] = NULL;
    }
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    status = WIFEXITED(wstatus)     ? WEXITSTATUS(wstatus)
             : WIFSIGNALED(wstatus) ? 128 + WTERMSIG(wstatus)
                                    : 1;
out:
    for (i = 0; i < n; i++)
        sr_secret_free(values[i]);
    sr_store_free(st);
    return status;
}
