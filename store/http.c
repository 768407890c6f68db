/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS for Key Vault and Entra ID, through libcurl: certificate checks
 * always on, an overall deadline, and retries as Azure asks (408, 429 and
 * 5xx gateway answers and transport errors; Retry-After in seconds or as
 * an HTTP date; exponential backoff with jitter). Bodies may hold secrets:
 * they live in buffers that are cleansed when freed. */
#include "internal.h"
#include "http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_MAX ((size_t)1024 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

double sr_http_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sr_http_response_clear(struct sr_http_response *r)
{
    if (!r)
        return;
    if (r->body)
        OPENSSL_clear_free(r->body, r->cap);
    free(r->www_authenticate);
    free(r->retry_after);
    memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sr_http_response *r = arg;
    size_t len = size * n, cap;
    char *grown;

    if (r->len + len + 1 > BODY_MAX)
        return 0;
    if (r->len + len + 1 > r->cap) {
        cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + len + 1)
            cap *= 2;
        /* Grow by copying, so the old buffer is cleansed, not left. */
        if (!(grown = OPENSSL_zalloc(cap)))
            return 0;
        if (r->body) {
            memcpy(grown, r->body, r->len);
            OPENSSL_clear_free(r->body, r->cap);
        }
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

/* Keeps the headers we act on: the challenge and Retry-After. */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct sr_http_response *r = arg;
    size_t len = size * n, name_len;
    char **slot = NULL;
    const char *value;

    if (len >= 17 && strncasecmp(data, "WWW-Authenticate:", 17) == 0) {
        slot = &r->www_authenticate;
        name_len = 17;
    } else if (len >= 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        slot = &r->retry_after;
        name_len = 12;
    }
    if (slot && len < 8192) {
        value = data + name_len;
        while (value < data + len && (*value == ' ' || *value == '\t'))
            value++;
        free(*slot);
        if ((*slot = strndup(value, (size_t)(data + len - value))))
            (*slot)[strcspn(*slot, "\r\n")] = '\0';
    }
    return len;
}

/* SECRETREF_KEYVAULT_CONNECT_TO: curl CONNECT_TO entries, comma-separated
 * ("HOST:PORT:CONNECT-HOST:CONNECT-PORT"), for private endpoints, split
 * DNS and tests. */
static struct curl_slist *connect_to_list(void)
{
    const char *env = getenv("SECRETREF_KEYVAULT_CONNECT_TO");
    struct curl_slist *list = NULL, *next;
    char *copy, *p, *comma;

    if (!env || !*env || !(copy = strdup(env)))
        return NULL;
    for (p = copy; p && *p; p = comma) {
        if ((comma = strchr(p, ',')))
            *comma++ = '\0';
        if (!*p)
            continue;
        if (!(next = curl_slist_append(list, p))) {
            curl_slist_free_all(list);
            list = NULL;
            break;
        }
        list = next;
    }
    free(copy);
    return list;
}

/* One request, no retry. A transport failure sets status 0 and errbuf. */
static void request_once(const struct sr_http_request *req, double deadline,
                         struct sr_http_response *r)
{
    struct curl_slist *headers = NULL, *connect_to = NULL, *next;
    double left = deadline - sr_http_now();
    CURL *curl;
    size_t i;
    CURLcode cc;

    r->status = 0;
    r->errbuf[0] = '\0';
    if (left <= 0) {
        snprintf(r->errbuf, sizeof(r->errbuf), "deadline reached");
        return;
    }
    if (!(curl = curl_easy_init())) {
        snprintf(r->errbuf, sizeof(r->errbuf), "out of memory");
        return;
    }
    for (i = 0; req->headers && req->headers[i]; i++) {
        if (!(next = curl_slist_append(headers, req->headers[i])))
            goto out;
        headers = next;
    }
    connect_to = connect_to_list();
    curl_easy_setopt(curl, CURLOPT_URL, req->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(left * 1000) + 1);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(left < 10 ? left * 1000 : 10000) + 1);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    /* Plain HTTP only where asked for: the instance metadata service. */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
                     req->allow_http ? "https,http" : "https");
    if (req->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, req->ca_file);
    if (connect_to)
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
    if (req->body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
    }
    cc = curl_easy_perform(curl);
    /* A certificate that does not verify will not verify next time. */
    r->permanent = cc == CURLE_PEER_FAILED_VERIFICATION ||
                   cc == CURLE_SSL_CACERT_BADFILE ||
                   cc == CURLE_SSL_CERTPROBLEM ||
                   cc == CURLE_UNSUPPORTED_PROTOCOL;
    if (cc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    else if (!r->errbuf[0])
        snprintf(r->errbuf, sizeof(r->errbuf), "%s", curl_easy_strerror(cc));
out:
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    curl_slist_free_all(connect_to);
}

static int retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status == 500 ||
           status == 502 || status == 503 || status == 504;
}

/* Seconds to wait before attempt (1, 2, ...): Retry-After when the server
 * gave one, else 0.5 s doubling to 8 s, with jitter of +-25%. */
static double backoff(const struct sr_http_response *r, int attempt)
{
    unsigned char rnd;
    double wait, jitter;
    char *end;
    long secs;
    time_t when;

    if (r->retry_after && *r->retry_after) {
        secs = strtol(r->retry_after, &end, 10);
        if (!*end && secs >= 0)
            return (double)secs;
        if ((when = curl_getdate(r->retry_after, NULL)) > 0)
            return when > time(NULL) ? (double)(when - time(NULL)) : 0;
    }
    wait = 0.5 * (double)(1 << (attempt < 5 ? attempt - 1 : 4));
    if (RAND_bytes(&rnd, 1) != 1)
        rnd = 128;
    jitter = ((double)rnd / 255.0 - 0.5) / 2.0;
    return wait * (1.0 + jitter);
}

sr_rc sr_http_send(const struct sr_http_request *req, double deadline,
                   struct sr_http_response *r, struct sr_error *e)
{
    struct sr_http_response answered; /* the last attempt that had one */
    struct timespec ts;
    double wait, left;
    int attempt = 0;

    pthread_once(&curl_once, curl_start);
    memset(r, 0, sizeof(*r));
    memset(&answered, 0, sizeof(answered));
    for (;;) {
        if (r->status) {
            /* Kept in case the deadline cuts the next attempt short. */
            sr_http_response_clear(&answered);
            answered = *r;
            memset(r, 0, sizeof(*r));
        } else {
            if (r->body)
                OPENSSL_cleanse(r->body, r->cap);
            r->len = 0;
            free(r->retry_after);
            r->retry_after = NULL;
        }
        request_once(req, deadline, r);
        r->attempts = ++attempt;
        if (!retryable(r->status))
            break;
        if (r->permanent)
            break;
        wait = backoff(r, attempt);
        left = deadline - sr_http_now();
        if (wait >= left) {
            /* A server that asked for later is not asked sooner; else the
             * time left is used for one last attempt. */
            if ((r->retry_after && *r->retry_after) || left < 0.5)
                break;
            wait = left - 0.25;
        }
        ts.tv_sec = (time_t)wait;
        ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
    /* The deadline ended the last attempt before its answer: the answer
     * before it (a 503, say) says more than "timed out". */
    if (!r->status && answered.status && deadline - sr_http_now() < 0.05) {
        sr_http_response_clear(r);
        *r = answered;
        memset(&answered, 0, sizeof(answered));
        r->attempts = attempt;
    }
    sr_http_response_clear(&answered);
    if (r->status)
        return SR_OK; /* the last answer, for the caller to report */
    return sr_error_set(e, SR_ERR_REMOTE, "%s: %s (after %d attempts)",
                        req->what, r->errbuf[0] ? r->errbuf : "no answer",
                        attempt);
}
