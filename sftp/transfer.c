/* SPDX-License-Identifier: Apache-2.0 */
/* get and put of one file. Both write to a temporary name that did not
 * exist and rename it into place once its size is checked, so a transfer
 * that stops never leaves a truncated file under the final name. Uploads
 * open write-only and create exclusively: Azure has no read-write or
 * append opens, and refuses a rename onto an existing name, so an existing
 * target is removed just before the rename. */
#include "sftpc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "DIR/.NAME.part-RANDOM" beside path. */
static char *temp_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0, len, base_len;
    unsigned char rnd[6];
    char *out;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return NULL;
    /* A name may have 255 bytes: the temporary's "." and ".part-" plus 12
     * hex digits must fit too, so a long name is cut (at a UTF-8 character
     * boundary) in the temporary's. */
    base_len = strlen(path + dir_len);
    if (base_len > 255 - 19) {
        base_len = 255 - 19;
        while (base_len > 0 && ((unsigned char)path[dir_len + base_len] &
                                0xC0) == 0x80)
            base_len--;
    }
    len = strlen(path) + 32;
    if (!(out = malloc(len)))
        return NULL;
    snprintf(out, len, "%.*s.%.*s.part-%02x%02x%02x%02x%02x%02x",
             (int)dir_len, path, (int)base_len, path + dir_len, rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    return out;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* put's buffer: twice what it reads at once, so that reading goes on
 * while the requests already sent wait for their acknowledgements. */
#define PUT_BUFFER (2 * SFTPC_WRITE_CHUNK)

static void keepalive(struct sftpc_conn *c)
{
    int next;

    libssh2_keepalive_send(c->ssh, &next);
}

sftpc_rc sftpc_put(struct sftpc_conn *c, const char *local, const char *remote)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    struct sftpc_progress progress;
    char *path = NULL, *temp = NULL, *buf = NULL;
    uint64_t sent = 0;
    struct stat sb;
    sftpc_rc rc = SFTPC_ERR_OTHER;
    ssize_t n, w;
    size_t start = 0, len = 0;
    int fd, eof = 0;

    memset(&progress, 0, sizeof(progress));
    if ((fd = open(local, O_RDONLY | O_CLOEXEC)) < 0)
        return sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", local, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: not a regular file (use put -r "
                        "for folders)", local);
        goto out;
    }
    if (!(path = sftpc_remote_path(c, remote)) || !(temp = temp_name(path)) ||
        !(buf = malloc(PUT_BUFFER))) {
        rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        goto out;
    }
    h = libssh2_sftp_open_ex(c->sftp, temp, (unsigned int)strlen(temp),
                             LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
                                 LIBSSH2_FXF_EXCL,
                             0644, LIBSSH2_SFTP_OPENFILE);
    if (!h) {
        rc = sftpc_fail_sftp(c, "put", path);
        goto out;
    }
    sftpc_progress_start(&progress, base_name(local), (uint64_t)sb.st_size,
                         c->opts->progress);
    /* libssh2 sends what it is given as pipelined 30,000-byte requests
     * and returns once the first are acknowledged; the rest must come
     * back at the front of the next call. Reading more in behind them
     * keeps requests in flight: handing over one buffer at a time would
     * wait for every acknowledgement, a round trip per buffer. */
    while (!eof || len > 0) {
        if (!eof && start + len < PUT_BUFFER) {
            n = read(fd, buf + start + len, PUT_BUFFER - start - len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", local,
                                strerror(errno));
                goto abandon;
            }
            if (n == 0)
                eof = 1;
            len += (size_t)n;
        }
        if (len == 0)
            continue;
        w = libssh2_sftp_write(h, buf + start, len);
        if (w < 0) {
            rc = sftpc_fail_sftp(c, "put", path);
            if (rc == SFTPC_ERR_REMOTE)
                goto abandon;
            rc = SFTPC_ERR_INCOMPLETE;
            goto out;
        }
        start += (size_t)w;
        len -= (size_t)w;
        sent += (uint64_t)w;
        /* libssh2 copied what it sent: the unacknowledged rest may move. */
        if (len == 0) {
            start = 0;
        } else if (start >= PUT_BUFFER / 2) {
            memmove(buf, buf + start, len);
            start = 0;
        }
        sftpc_progress_update(&progress, sent);
        keepalive(c);
    }
    if (libssh2_sftp_close_handle(h) != 0) {
        h = NULL;
        rc = sftpc_fail_sftp(c, "put", path);
        goto abandon;
    }
    h = NULL;
    if (libssh2_sftp_stat(c->sftp, temp, &attrs) != 0 ||
        !(attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) ||
        attrs.filesize != (uint64_t)sb.st_size) {
        rc = sftpc_fail(SFTPC_ERR_INCOMPLETE,
                        "put %s: the server has %llu bytes, not %llu", path,
                        (unsigned long long)attrs.filesize,
                        (unsigned long long)sb.st_size);
        goto abandon;
    }
    /* Azure refuses rename onto an existing name: remove it first. */
    if (libssh2_sftp_stat(c->sftp, path, &attrs) == 0 &&
        libssh2_sftp_unlink(c->sftp, path) != 0) {
        rc = sftpc_fail_sftp(c, "put (replacing)", path);
        goto abandon;
    }
    if (libssh2_sftp_rename_ex(c->sftp, temp, (unsigned int)strlen(temp),
                               path, (unsigned int)strlen(path),
                               LIBSSH2_SFTP_RENAME_OVERWRITE |
                                   LIBSSH2_SFTP_RENAME_ATOMIC |
                                   LIBSSH2_SFTP_RENAME_NATIVE) != 0) {
        rc = sftpc_fail_sftp(c, "rename", path);
        goto abandon;
    }
    sftpc_progress_end(&progress);
    sftpc_verbose(c->opts, "put %s -> %s (%llu bytes)", local, path,
                  (unsigned long long)sent);
    rc = SFTPC_OK;
    goto out;
abandon:
    /* The temporary file is not the final name; remove it if we can. */
    if (h) {
        libssh2_sftp_close_handle(h);
        h = NULL;
    }
    libssh2_sftp_unlink(c->sftp, temp);
out:
    sftpc_progress_end(&progress);
    if (h)
        libssh2_sftp_close_handle(h);
    close(fd);
    free(buf);
    free(temp);
    free(path);
    return rc;
}

sftpc_rc sftpc_get(struct sftpc_conn *c, const char *remote, const char *local)
{
    LIBSSH2_SFTP_HANDLE *h = NULL;
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    struct sftpc_progress progress;
    char *path = NULL, *temp = NULL, *buf = NULL, *target = NULL;
    uint64_t got = 0, size;
    struct stat sb;
    sftpc_rc rc = SFTPC_ERR_OTHER;
    ssize_t n, w;
    size_t off, len;
    int fd = -1;

    memset(&progress, 0, sizeof(progress));
    if (!(path = sftpc_remote_path(c, remote)))
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    if (libssh2_sftp_stat(c->sftp, path, &attrs) != 0) {
        rc = sftpc_fail_sftp(c, "get", path);
        goto out;
    }
    if (LIBSSH2_SFTP_S_ISDIR(attrs.permissions)) {
        rc = sftpc_fail(SFTPC_ERR_REMOTE,
                        "get %s: a folder (use get -r)", path);
        goto out;
    }
    size = attrs.filesize;
    /* A local folder receives the file under its own name. */
    if (stat(local, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        len = strlen(local) + strlen(base_name(path)) + 2;
        if (!(target = malloc(len)))
            goto nomem;
        snprintf(target, len, "%s/%s", local, base_name(path));
    } else if (!(target = strdup(local))) {
        goto nomem;
    }
    if (!(temp = temp_name(target)) || !(buf = malloc(SFTPC_READ_CHUNK)))
        goto nomem;
    if ((fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
        rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", target, strerror(errno));
        goto out;
    }
    if (!(h = libssh2_sftp_open_ex(c->sftp, path, (unsigned int)strlen(path),
                                   LIBSSH2_FXF_READ, 0,
                                   LIBSSH2_SFTP_OPENFILE))) {
        rc = sftpc_fail_sftp(c, "get", path);
        goto abandon;
    }
    sftpc_progress_start(&progress, base_name(path), size, c->opts->progress);
    while ((n = libssh2_sftp_read(h, buf, SFTPC_READ_CHUNK)) > 0) {
        for (off = 0; off < (size_t)n; off += (size_t)w) {
            w = write(fd, buf + off, (size_t)n - off);
            if (w < 0 && errno == EINTR) {
                w = 0;
                continue;
            }
            if (w <= 0) {
                rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", target,
                                strerror(errno ? errno : ENOSPC));
                goto abandon;
            }
        }
        got += (uint64_t)n;
        sftpc_progress_update(&progress, got);
        keepalive(c);
    }
    if (n < 0) {
        rc = sftpc_fail_sftp(c, "get", path);
        if (rc != SFTPC_ERR_REMOTE)
            rc = SFTPC_ERR_INCOMPLETE;
        goto abandon;
    }
    if (got != size) {
        rc = sftpc_fail(SFTPC_ERR_INCOMPLETE,
                        "get %s: received %llu bytes of %llu", path,
                        (unsigned long long)got, (unsigned long long)size);
        goto abandon;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", target, strerror(errno));
        goto abandon;
    }
    fd = -1;
    if (rename(temp, target) != 0) {
        rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: %s", target, strerror(errno));
        goto abandon;
    }
    sftpc_progress_end(&progress);
    sftpc_verbose(c->opts, "get %s -> %s (%llu bytes)", path, target,
                  (unsigned long long)got);
    rc = SFTPC_OK;
    goto out;
nomem:
    rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    goto out;
abandon:
    if (fd >= 0) {
        close(fd);
        fd = -1;
    }
    unlink(temp);
out:
    sftpc_progress_end(&progress);
    if (h)
        libssh2_sftp_close_handle(h);
    if (fd >= 0)
        close(fd);
    free(buf);
    free(temp);
    free(target);
    free(path);
    return rc;
}
