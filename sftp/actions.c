/* SPDX-License-Identifier: Apache-2.0 */
/* The other file actions: ls, rm, mkdir, rmdir, rename, stat, cd. */
#include "sftpc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Resolves path and runs op on it; reports a failure as op. */
#define WITH_PATH(c, path, full)                                             \
    char *full = sftpc_remote_path(c, path);                                 \
    if (!(full))                                                             \
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory")

static void mode_string(unsigned long perm, char out[11])
{
    static const char rwx[] = "rwxrwxrwx";
    int i;

    if (LIBSSH2_SFTP_S_ISDIR(perm))
        out[0] = 'd';
    else if (LIBSSH2_SFTP_S_ISLNK(perm))
        out[0] = 'l';
    else
        out[0] = '-';
    for (i = 0; i < 9; i++) {
        if (perm & (1UL << (8 - i)))
            out[i + 1] = rwx[i];
        else
            out[i + 1] = '-';
    }
    out[10] = '\0';
}

static void print_entry(const char *name, const LIBSSH2_SFTP_ATTRIBUTES *a,
                        int long_format)
{
    char mode[11], when[32] = "";
    struct tm tm;
    time_t t;

    if (!long_format) {
        printf("%s\n", name);
        return;
    }
    mode_string((a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ? a->permissions : 0,
                mode);
    if (a->flags & LIBSSH2_SFTP_ATTR_ACMODTIME) {
        t = (time_t)a->mtime;
        /* The server's time: one out of range prints as none. */
        if (!gmtime_r(&t, &tm) ||
            !strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm))
            when[0] = '\0';
    }
    printf("%s %12llu %s %s\n", mode,
           (unsigned long long)((a->flags & LIBSSH2_SFTP_ATTR_SIZE)
                                    ? a->filesize
                                    : 0),
           when, name);
}

sftpc_rc sftpc_ls(struct sftpc_conn *c, const char *path, int long_format)
{
    LIBSSH2_SFTP_HANDLE *dir;
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    char name[1024];
    sftpc_rc rc = SFTPC_OK;
    int n;
    WITH_PATH(c, path ? path : ".", full);

    if (libssh2_sftp_stat(c->sftp, full, &attrs) == 0 &&
        !LIBSSH2_SFTP_S_ISDIR(attrs.permissions)) {
        print_entry(path, &attrs, long_format);
        free(full);
        return SFTPC_OK;
    }
    if (!(dir = libssh2_sftp_opendir(c->sftp, full))) {
        rc = sftpc_fail_sftp(c, "ls", full);
        free(full);
        return rc;
    }
    while ((n = libssh2_sftp_readdir(dir, name, sizeof(name), &attrs)) > 0)
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
            print_entry(name, &attrs, long_format);
    if (n < 0)
        rc = sftpc_fail_sftp(c, "ls", full);
    libssh2_sftp_closedir(dir);
    free(full);
    return rc;
}

sftpc_rc sftpc_rm(struct sftpc_conn *c, const char *path)
{
    sftpc_rc rc = SFTPC_OK;
    WITH_PATH(c, path, full);

    if (libssh2_sftp_unlink(c->sftp, full) != 0)
        rc = sftpc_fail_sftp(c, "rm", full);
    free(full);
    return rc;
}

sftpc_rc sftpc_mkdir(struct sftpc_conn *c, const char *path)
{
    sftpc_rc rc = SFTPC_OK;
    WITH_PATH(c, path, full);

    if (libssh2_sftp_mkdir(c->sftp, full, 0755) != 0)
        rc = sftpc_fail_sftp(c, "mkdir", full);
    free(full);
    return rc;
}

sftpc_rc sftpc_rmdir(struct sftpc_conn *c, const char *path)
{
    sftpc_rc rc = SFTPC_OK;
    WITH_PATH(c, path, full);

    if (libssh2_sftp_rmdir(c->sftp, full) != 0)
        rc = sftpc_fail_sftp(c, "rmdir", full);
    free(full);
    return rc;
}

sftpc_rc sftpc_rename(struct sftpc_conn *c, const char *from, const char *to)
{
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    char *target;
    sftpc_rc rc = SFTPC_OK;
    WITH_PATH(c, from, full);

    if (!(target = sftpc_remote_path(c, to))) {
        free(full);
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    }
    /* Like Azure, never replace: a rename onto an existing name is an
     * error here too, said before the server is asked. */
    if (libssh2_sftp_stat(c->sftp, target, &attrs) == 0)
        rc = sftpc_fail(SFTPC_ERR_REMOTE,
                        "rename %s: %s exists (Azure Blob Storage SFTP "
                        "refuses to rename onto an existing name; rm it "
                        "first)",
                        full, target);
    else if (libssh2_sftp_rename_ex(c->sftp, full, (unsigned int)strlen(full),
                                    target, (unsigned int)strlen(target),
                                    LIBSSH2_SFTP_RENAME_ATOMIC |
                                        LIBSSH2_SFTP_RENAME_NATIVE) != 0)
        rc = sftpc_fail_sftp(c, "rename", full);
    free(target);
    free(full);
    return rc;
}

sftpc_rc sftpc_stat(struct sftpc_conn *c, const char *path)
{
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    sftpc_rc rc = SFTPC_OK;
    WITH_PATH(c, path, full);

    if (libssh2_sftp_stat(c->sftp, full, &attrs) != 0) {
        rc = sftpc_fail_sftp(c, "stat", full);
    } else {
        printf("path: %s\n", full);
        printf("type: %s\n",
               LIBSSH2_SFTP_S_ISDIR(attrs.permissions) ? "folder" : "file");
        printf("size: %llu\n", (unsigned long long)attrs.filesize);
        if (attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS)
            printf("mode: %04lo\n", attrs.permissions & 07777);
        if (attrs.flags & LIBSSH2_SFTP_ATTR_ACMODTIME)
            printf("mtime: %lu\n", attrs.mtime);
    }
    free(full);
    return rc;
}

sftpc_rc sftpc_cd(struct sftpc_conn *c, const char *path)
{
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    WITH_PATH(c, path, full);

    if (libssh2_sftp_stat(c->sftp, full, &attrs) != 0) {
        sftpc_rc rc = sftpc_fail_sftp(c, "cd", full);
        free(full);
        return rc;
    }
    if (!LIBSSH2_SFTP_S_ISDIR(attrs.permissions)) {
        free(full);
        return sftpc_fail(SFTPC_ERR_REMOTE, "cd %s: not a folder", path);
    }
    free(c->cwd);
    c->cwd = full;
    return SFTPC_OK;
}
