/* SPDX-License-Identifier: Apache-2.0 */
/* One command, from the command line or a batch file. */
#include "sftpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *base_name(const char *path)
{
    const char *slash;
    size_t len = strlen(path);

    /* "dir/" names dir. */
    while (len > 1 && path[len - 1] == '/')
        len--;
    /* len is unsigned: "len - 1 > 0" was true for "" (a read past it). */
    slash = memrchr(path, '/', len > 1 ? len - 1 : 0);
    return slash ? slash + 1 : path;
}

/* Takes "-r"/"-R" and "-l" flags off the front of argv. */
static int flags(int *argc, char ***argv, int *recursive, int *long_format)
{
    while (*argc > 1 && (*argv)[1][0] == '-' && (*argv)[1][1]) {
        const char *f;
        for (f = (*argv)[1] + 1; *f; f++) {
            if ((*f == 'r' || *f == 'R') && recursive)
                *recursive = 1;
            else if (*f == 'l' && long_format)
                *long_format = 1;
            else
                return 0;
        }
        (*argv)[1] = (*argv)[0];
        (*argv)++;
        (*argc)--;
    }
    return 1;
}

sftpc_rc sftpc_command(struct sftpc_conn *c, const struct sftpc_pool *pool,
                       int argc, char **argv)
{
    const char *cmd = argv[0];
    int recursive = 0, long_format = 0;
    char *name = NULL;
    sftpc_rc rc;

    if (!flags(&argc, &argv, &recursive, &long_format))
        return sftpc_fail(SFTPC_ERR_USAGE, "%s: unknown option", cmd);
    if (strcmp(cmd, "ls") == 0 && argc <= 2)
        return sftpc_ls(c, argc == 2 ? argv[1] : NULL, long_format);
    if (long_format)
        return sftpc_fail(SFTPC_ERR_USAGE, "%s: unknown option -l", cmd);
    if ((strcmp(cmd, "get") == 0 || strcmp(cmd, "put") == 0) &&
        (argc == 2 || argc == 3)) {
        /* The other side's name defaults to the file's own name. */
        if (argc == 2 && !(name = strdup(base_name(argv[1]))))
            return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        if (cmd[0] == 'g')
            rc = recursive ? sftpc_get_tree(c, pool, argv[1],
                                            argc == 3 ? argv[2] : name)
                           : sftpc_get(c, argv[1], argc == 3 ? argv[2] : name);
        else
            rc = recursive ? sftpc_put_tree(c, pool, argv[1],
                                            argc == 3 ? argv[2] : name)
                           : sftpc_put(c, argv[1], argc == 3 ? argv[2] : name);
        free(name);
        return rc;
    }
    if (recursive)
        return sftpc_fail(SFTPC_ERR_USAGE, "%s: unknown option -r", cmd);
    if (argc == 2) {
        if (strcmp(cmd, "rm") == 0)
            return sftpc_rm(c, argv[1]);
        if (strcmp(cmd, "mkdir") == 0)
            return sftpc_mkdir(c, argv[1]);
        if (strcmp(cmd, "rmdir") == 0)
            return sftpc_rmdir(c, argv[1]);
        if (strcmp(cmd, "stat") == 0)
            return sftpc_stat(c, argv[1]);
        if (strcmp(cmd, "cd") == 0)
            return sftpc_cd(c, argv[1]);
        if (strcmp(cmd, "lcd") == 0)
            return chdir(argv[1]) == 0
                       ? SFTPC_OK
                       : sftpc_fail(SFTPC_ERR_LOCAL, "lcd %s: %s", argv[1],
                                    strerror(errno));
    }
    if (argc == 3 && (strcmp(cmd, "rename") == 0 || strcmp(cmd, "mv") == 0))
        return sftpc_rename(c, argv[1], argv[2]);
    if (argc == 1 && strcmp(cmd, "pwd") == 0) {
        printf("%s\n", c->cwd);
        return SFTPC_OK;
    }
    return sftpc_fail(SFTPC_ERR_USAGE,
                      "%s: unknown command or wrong number of arguments "
                      "(ls, get, put, rm, mkdir, rmdir, rename, stat, cd, "
                      "lcd, pwd)",
                      cmd);
}
