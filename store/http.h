/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS requests for the Key Vault client (store/ only). */
#ifndef SECRETREF_HTTP_H
#define SECRETREF_HTTP_H

#include "internal.h"

struct sr_http_request {
    const char *what;           /* for messages: "Key Vault", "Entra ID" */
    const char *url;
    const char *const *headers; /* NULL-terminated "Name: value" */
    const char *body;           /* POST body, or NULL for GET */
    const char *ca_file;
    int allow_http;
};

struct sr_http_response {
    long status; /* 0: no answer */
    char *body;  /* NUL-terminated; cleansed when cleared */
    size_t len, cap;
    char *www_authenticate;
    char *retry_after;
    int attempts;
    int permanent; /* a failure retrying cannot mend (certificates) */
    char errbuf[256];
};

/* Seconds on a monotonic clock. */
double sr_http_now(void);

/* Sends req, retrying retryable answers until deadline (sr_http_now()
 * seconds). SR_OK with the last answer (any status), or SR_ERR_REMOTE
 * when no answer came. */
sr_rc sr_http_send(const struct sr_http_request *req, double deadline,
                   struct sr_http_response *r, struct sr_error *e);
void sr_http_response_clear(struct sr_http_response *r);

#endif
