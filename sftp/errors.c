/* SPDX-License-Identifier: Apache-2.0 */
/* Errors: libssh2's session errors and SFTP status codes mapped to our
 * exit statuses in one place, each reported as one line. */
#include "sftpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

sftpc_rc sftpc_fail(sftpc_rc rc, const char *fmt, ...)
{
    va_list ap;

    (void)fputs("secretref-sftp: ", stderr);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
    return rc;
}

void sftpc_verbose(const struct sftpc_options *opts, const char *fmt, ...)
{
    va_list ap;

    if (!opts->verbose)
        return;
    (void)fputs("secretref-sftp: ", stderr);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
}

sftpc_rc sftpc_fail_ssh(struct sftpc_conn *c, sftpc_rc rc, const char *what)
{
    char *msg = NULL;
    int code = libssh2_session_last_error(c->ssh, &msg, NULL, 0);

    switch (code) {
    case LIBSSH2_ERROR_SOCKET_SEND:
    case LIBSSH2_ERROR_SOCKET_RECV:
    case LIBSSH2_ERROR_SOCKET_DISCONNECT:
    case LIBSSH2_ERROR_SOCKET_TIMEOUT:
    case LIBSSH2_ERROR_TIMEOUT:
    case LIBSSH2_ERROR_BANNER_RECV:
    case LIBSSH2_ERROR_KEX_FAILURE:
        /* The connection itself went: during a transfer, it is an
         * incomplete transfer; before it, a failed connection. */
        if (rc != SFTPC_ERR_INCOMPLETE)
            rc = SFTPC_ERR_CONNECT;
        break;
    case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
    case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
        rc = SFTPC_ERR_AUTH;
        break;
    default:
        break;
    }
    return sftpc_fail(rc, "%s@%s: %s: %s", c->target->user, c->target->host,
                      what, msg && *msg ? msg : "failed");
}

sftpc_rc sftpc_fail_sftp(struct sftpc_conn *c, const char *op,
                         const char *path)
{
    unsigned long status;
    const char *why, *azure = "";
    sftpc_rc rc = SFTPC_ERR_REMOTE;

    if (libssh2_session_last_errno(c->ssh) != LIBSSH2_ERROR_SFTP_PROTOCOL)
        return sftpc_fail_ssh(c, SFTPC_ERR_INCOMPLETE, op);
    status = libssh2_sftp_last_error(c->sftp);
    switch (status) {
    case LIBSSH2_FX_NO_SUCH_FILE:
    case LIBSSH2_FX_NO_SUCH_PATH:
        why = "no such file or folder";
        break;
    case LIBSSH2_FX_PERMISSION_DENIED:
        why = "permission denied";
        break;
    case LIBSSH2_FX_FILE_ALREADY_EXISTS:
        why = "it already exists";
        azure = " (Azure Blob Storage SFTP does not rename or create onto an "
                "existing name)";
        break;
    case LIBSSH2_FX_OP_UNSUPPORTED:
        why = "the server does not support this operation";
        azure = " (Azure Blob Storage SFTP has no random writes, appends, "
                "chmod, chown, links, statvfs or fsync)";
        break;
    case LIBSSH2_FX_DIR_NOT_EMPTY:
        why = "the folder is not empty";
        break;
    case LIBSSH2_FX_NOT_A_DIRECTORY:
        why = "not a folder";
        break;
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
    case LIBSSH2_FX_QUOTA_EXCEEDED:
        why = "no space left on the server";
        break;
    case LIBSSH2_FX_WRITE_PROTECT:
        why = "the server is read-only";
        break;
    case LIBSSH2_FX_FAILURE:
        why = "the server refused it";
        /* Azure answers a plain failure for what it does not support. */
        if (strcmp(op, "rename") == 0)
            azure = " (Azure Blob Storage SFTP refuses to rename onto an "
                    "existing name)";
        break;
    default:
        why = "the server refused it";
        break;
    }
    return sftpc_fail(rc, "%s %s: %s (SFTP status %lu)%s", op, path, why,
                      status, azure);
}
