/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes and messages: one code per failure, one line per message. */
#include "internal.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[SR_RC_COUNT] = {
    [SR_OK] = "success",
    [SR_ERR_USAGE] = "invalid argument",
    [SR_ERR_NOTFOUND] = "not found",
    [SR_ERR_EXISTS] = "already exists",
    [SR_ERR_ENVIRONMENT] = "bound to another environment type",
    [SR_ERR_EXPIRED] = "expired",
    [SR_ERR_NOT_SET] = "secret not set",
    [SR_ERR_IN_USE] = "in use",
    [SR_ERR_WRONG_KEY] = "wrong encryption key",
    [SR_ERR_TAMPER] = "sealed value failed authentication",
    [SR_ERR_KEY_FILE] = "key file unusable",
    [SR_ERR_DB] = "store unreadable or unwritable",
    [SR_ERR_IO] = "file I/O failed",
    [SR_ERR_FORMAT] = "malformed input",
    [SR_ERR_PASSWORD] = "wrong password",
    [SR_ERR_UNSUPPORTED] = "not supported",
    [SR_ERR_CRYPTO] = "cryptographic operation failed",
    [SR_ERR_REMOTE] = "remote service failed",
    [SR_ERR_NOMEM] = "out of memory",
    [SR_ERR_WRONG_KIND] = "reference of another kind",
};

const char *sr_strerror(sr_rc rc)
{
    if ((int)rc < 0 || rc >= SR_RC_COUNT || !messages[rc])
        return "unknown error";
    return messages[rc];
}

/* In parentheses: the name is also internal.h's macro. */
sr_rc (sr_error_set)(struct sr_error *e, sr_rc rc, const char *fmt, ...)
{
    char msg[sizeof(e->msg)];
    va_list ap;

    if (!e)
        return rc;
    e->rc = rc;
    if (rc == SR_OK) {
        e->msg[0] = '\0';
        return rc;
    }
    /* Format into a copy: callers wrap the previous message by passing
     * e->msg itself as an argument. */
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    memcpy(e->msg, msg, sizeof(msg));
    return rc;
}

sr_rc sr_error_clear(struct sr_error *e)
{
    if (e) {
        e->rc = SR_OK;
        e->msg[0] = '\0';
    }
    return SR_OK;
}

void sr_error_add_openssl(struct sr_error *e)
{
    unsigned long code = ERR_peek_last_error();
    const char *reason;
    size_t used;

    if (e && code) {
        reason = ERR_reason_error_string(code);
        used = strlen(e->msg);
        if (reason && used + 3 < sizeof(e->msg))
            snprintf(e->msg + used, sizeof(e->msg) - used, ": %s", reason);
    }
    ERR_clear_error();
}
