/* SPDX-License-Identifier: Apache-2.0 */
/* Small utilities: secret buffers, the private library context, files,
 * dates and names. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

sr_rc sr_secret_new(size_t len, sr_secret **out)
{
    sr_secret *s;

    *out = NULL;
    if (!(s = calloc(1, sizeof(*s))))
        return SR_ERR_NOMEM;
    /* One spare byte so text secrets can be NUL-terminated in place. */
    if (!(s->data = OPENSSL_zalloc(len + 1))) {
        free(s);
        return SR_ERR_NOMEM;
    }
    /* Best effort: keep the secret out of swap. */
    (void)mlock(s->data, len + 1);
    s->len = len;
    *out = s;
    return SR_OK;
}

sr_rc sr_secret_from(const void *data, size_t len, sr_secret **out)
{
    sr_rc rc = sr_secret_new(len, out);

    if (rc == SR_OK && len)
        memcpy((*out)->data, data, len);
    return rc;
}

void sr_secret_free(sr_secret *secret)
{
    if (!secret)
        return;
    if (secret->data) {
        OPENSSL_cleanse(secret->data, secret->len + 1);
        (void)munlock(secret->data, secret->len + 1);
        OPENSSL_free(secret->data);
    }
    free(secret);
}

static OSSL_LIB_CTX *private_libctx;
static pthread_once_t private_libctx_once = PTHREAD_ONCE_INIT;

static void libctx_create(void)
{
    OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

    if (!ctx)
        return;
    if (!OSSL_PROVIDER_load(ctx, "default")) {
        OSSL_LIB_CTX_free(ctx);
        return;
    }
    private_libctx = ctx;
}

OSSL_LIB_CTX *sr_libctx(void)
{
    pthread_once(&private_libctx_once, libctx_create);
    return private_libctx;
}

sr_rc sr_file_read_secret(const char *path, size_t max, sr_secret **out,
                          struct sr_error *e)
{
    sr_rc rc = SR_ERR_IO;
    sr_secret *buf = NULL;
    struct stat sb;
    size_t got = 0;
    int fd;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sr_error_set(e, SR_ERR_IO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        sr_error_set(e, SR_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        sr_error_set(e, SR_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((uintmax_t)sb.st_size > max) {
        rc = sr_error_set(e, SR_ERR_FORMAT, "%s: larger than %zu bytes", path,
                          max);
        goto out;
    }
    if (sr_secret_new((size_t)sb.st_size, &buf) != SR_OK) {
        rc = sr_error_set(e, SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    while (got < buf->len) {
        ssize_t n = read(fd, buf->data + got, buf->len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sr_error_set(e, SR_ERR_IO, "%s: %s", path,
                         n < 0 ? strerror(errno) : "shorter than its size");
            goto out;
        }
        got += (size_t)n;
    }
    rc = SR_OK;
out:
    close(fd);
    if (rc != SR_OK)
        sr_secret_free(buf);
    else
        *out = buf;
    return rc;
}

char *sr_hex(const unsigned char *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(len * 2 + 1);
    size_t i;

    if (!hex)
        return NULL;
    for (i = 0; i < len; i++) {
        hex[2 * i] = digits[data[i] >> 4];
        hex[2 * i + 1] = digits[data[i] & 15];
    }
    hex[2 * len] = '\0';
    return hex;
}

void sr_now_iso(char buf[21])
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    (void)strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm); /* always 20 */
}

int sr_date_valid(const char *date)
{
    static const int days[] = {31, 29, 31, 30, 31, 30,
                               31, 31, 30, 31, 30, 31};
    int year, month, day, i;

    if (!date || strlen(date) != 10 || date[4] != '-' || date[7] != '-')
        return 0;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9'))
            return 0;
    year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 +
           (date[2] - '0') * 10 + (date[3] - '0');
    month = (date[5] - '0') * 10 + (date[6] - '0');
    day = (date[8] - '0') * 10 + (date[9] - '0');
    if (year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > days[month - 1])
        return 0;
    if (month == 2 && day == 29 &&
        !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 0;
    return 1;
}

/* Length of the UTF-8 sequence at s, or 0 when it is not valid UTF-8. */
static size_t utf8_length(const unsigned char *s)
{
    size_t n, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

sr_rc sr_name_check(const char *what, const char *name, struct sr_error *e)
{
    const unsigned char *p = (const unsigned char *)name;
    size_t len, step;

    if (!name || !*name)
        return sr_error_set(e, SR_ERR_USAGE, "%s name is empty", what);
    len = strlen(name);
    if (len > 200)
        return sr_error_set(e, SR_ERR_USAGE,
                            "%s name is longer than 200 bytes", what);
    if (name[0] == ' ' || name[len - 1] == ' ')
        return sr_error_set(e, SR_ERR_USAGE,
                            "%s name starts or ends with a space", what);
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return sr_error_set(e, SR_ERR_USAGE,
                                "%s name contains a control character",
                                what);
        if (!(step = utf8_length(p)))
            return sr_error_set(e, SR_ERR_USAGE,
                                "%s name is not valid UTF-8", what);
        p += step;
    }
    return SR_OK;
}
