/* SPDX-License-Identifier: Apache-2.0 */
/* A connection: the socket, the SSH handshake, the host key check,
 * authentication (key first, then password) and the SFTP channel. */
#include "sftpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 15000
#define SESSION_TIMEOUT_MS 60000
/* Azure closes idle connections after 2 minutes. */
#define KEEPALIVE_SECONDS 30

static int connect_with_timeout(int fd, const struct sockaddr *addr,
                                socklen_t len)
{
    struct pollfd pfd = {fd, POLLOUT, 0};
    int flags = fcntl(fd, F_GETFL), err = 0;
    socklen_t errlen = sizeof(err);

    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, addr, len) != 0) {
        if (errno != EINPROGRESS)
            return -1;
        if (poll(&pfd, 1, CONNECT_TIMEOUT_MS) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0 || err) {
            errno = err ? err : EIO;
            return -1;
        }
    }
    fcntl(fd, F_SETFL, flags);
    return 0;
}

static sftpc_rc open_socket(const struct sftpc_target *t, int *out)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int fd = -1, gai, saved = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", t->port);
    if ((gai = getaddrinfo(t->host, port, &hints, &res)) != 0)
        return sftpc_fail(SFTPC_ERR_CONNECT, "%s: %s", t->host,
                          gai_strerror(gai));
    for (ai = res; ai; ai = ai->ai_next) {
        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                         ai->ai_protocol)) < 0)
            continue;
        if (connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return sftpc_fail(SFTPC_ERR_CONNECT, "%s port %d: %s", t->host,
                          t->port, strerror(saved ? saved : ECONNREFUSED));
    *out = fd;
    return SFTPC_OK;
}

/* base64 without padding, as OpenSSH prints fingerprints. */
static void fingerprint(LIBSSH2_SESSION *ssh, char *out, size_t size)
{
    const unsigned char *hash =
        (const unsigned char *)libssh2_hostkey_hash(ssh,
                                                    LIBSSH2_HOSTKEY_HASH_SHA256);
    unsigned char b64[48];
    int n;

    if (!hash) {
        snprintf(out, size, "(unknown)");
        return;
    }
    n = EVP_EncodeBlock(b64, hash, 32);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    snprintf(out, size, "SHA256:%.*s", n, (const char *)b64);
}

static int knownhost_keytype(int hostkey_type)
{
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
        return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
        return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
        return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default:
        return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

/* Appends the host's key to known_hosts, as OpenSSH writes it. */
static int knownhost_append(LIBSSH2_KNOWNHOSTS *hosts, const char *file,
                            const char *host, int port, const char *key,
                            size_t key_len, int type)
{
    struct libssh2_knownhost *entry = NULL;
    char name[300], line[8192];
    size_t len = 0;
    FILE *f;
    int ok;

    if (port == 22)
        snprintf(name, sizeof(name), "%s", host);
    else
        snprintf(name, sizeof(name), "[%s]:%d", host, port);
    if (libssh2_knownhost_addc(hosts, name, NULL, key, key_len, NULL, 0,
                               LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                   LIBSSH2_KNOWNHOST_KEYENC_RAW | type,
                               &entry) != 0 ||
        libssh2_knownhost_writeline(hosts, entry, line, sizeof(line), &len,
                                    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
        return 0;
    if (!(f = fopen(file, "ae")))
        return 0;
    ok = fwrite(line, 1, len, f) == len;
    if (ok && (len == 0 || line[len - 1] != '\n'))
        ok = fputc('\n', f) != EOF;
    return fclose(f) == 0 && ok;
}

int sftpc_knownhost_check(LIBSSH2_KNOWNHOSTS *hosts, const char *file,
                          const char *host, int port, const char *key,
                          size_t key_len, int hostkey_type)
{
    struct libssh2_knownhost *found = NULL;

    /* A missing file is an empty one: every host is then unknown. */
    if (access(file, F_OK) == 0 &&
        libssh2_knownhost_readfile(hosts, file,
                                   LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
        return -1;
    return libssh2_knownhost_checkp(hosts, host, port, key, key_len,
                                    LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                        LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                        knownhost_keytype(hostkey_type),
                                    &found);
}

static sftpc_rc check_host_key(struct sftpc_conn *c)
{
    const struct sftpc_options *o = c->opts;
    const struct sftpc_target *t = c->target;
    LIBSSH2_KNOWNHOSTS *hosts = NULL;
    const char *key, *pin = o->host_key ? o->host_key : t->host_key;
    char fp[64], *file = NULL;
    const char *home;
    size_t key_len;
    int type, check;
    sftpc_rc rc = SFTPC_ERR_HOSTKEY_UNKNOWN;

    fingerprint(c->ssh, fp, sizeof(fp));
    if (!(key = libssh2_session_hostkey(c->ssh, &key_len, &type)))
        return sftpc_fail_ssh(c, SFTPC_ERR_CONNECT, "host key");
    sftpc_verbose(o, "host key %s", fp);
    if (pin) {
        if (strcmp(pin, fp) == 0)
            return SFTPC_OK;
        return sftpc_fail(SFTPC_ERR_HOSTKEY_CHANGED,
                          "%s: host key %s is not the pinned %s: not "
                          "connecting",
                          t->host, fp, pin);
    }
    if (o->known_hosts) {
        file = strdup(o->known_hosts);
    } else if ((home = getenv("HOME")) &&
               (file = malloc(strlen(home) + 24))) {
        snprintf(file, strlen(home) + 24, "%s/.ssh/known_hosts", home);
    }
    if (!file || !(hosts = libssh2_knownhost_init(c->ssh))) {
        free(file);
        return sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
    }
    check = sftpc_knownhost_check(hosts, file, t->host, t->port, key, key_len,
                                  type);
    if (check < 0) {
        rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: not a known_hosts file", file);
        goto out;
    }
    switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        rc = SFTPC_OK;
        break;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        rc = sftpc_fail(SFTPC_ERR_HOSTKEY_CHANGED,
                        "%s: the host key changed: it is now %s, not the "
                        "one in %s; not connecting",
                        t->host, fp, file);
        break;
    default:
        if (!o->accept_new) {
            rc = sftpc_fail(SFTPC_ERR_HOSTKEY_UNKNOWN,
                            "%s: unknown host key %s (not in %s): check it, "
                            "then pin it with --host-key or accept it with "
                            "--accept-new",
                            t->host, fp, file);
        } else if (!knownhost_append(hosts, file, t->host, t->port, key,
                                     key_len, knownhost_keytype(type))) {
            rc = sftpc_fail(SFTPC_ERR_LOCAL, "%s: cannot record the host key",
                            file);
        } else {
            if (!o->quiet)
                fprintf(stderr, "secretref-sftp: %s: recorded new host key "
                                "%s in %s\n",
                        t->host, fp, file);
            rc = SFTPC_OK;
        }
        break;
    }
out:
    libssh2_knownhost_free(hosts);
    free(file);
    return rc;
}

/* keyboard-interactive: every prompt gets the password. */
static void kbd_answer(const char *name, int name_len, const char *instr,
                       int instr_len, int count,
                       const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
                       LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses,
                       void **abstract)
{
    const sr_secret *password = *abstract;
    int i;

    (void)name, (void)name_len, (void)instr, (void)instr_len, (void)prompts;
    for (i = 0; i < count; i++) {
        responses[i].text = malloc(password->len + 1);
        if (!responses[i].text) {
            responses[i].length = 0;
            continue;
        }
        memcpy(responses[i].text, password->data, password->len);
        responses[i].length = (unsigned int)password->len;
    }
}

static sftpc_rc authenticate(struct sftpc_conn *c, const struct sftpc_key *key,
                             const sr_secret *password)
{
    const struct sftpc_target *t = c->target;
    const char *methods;
    void **abstract;
    int rc;

    methods = libssh2_userauth_list(c->ssh, t->user,
                                    (unsigned int)strlen(t->user));
    if (!methods) {
        if (libssh2_userauth_authenticated(c->ssh))
            return SFTPC_OK;
        return sftpc_fail_ssh(c, SFTPC_ERR_AUTH, "authentication methods");
    }
    sftpc_verbose(c->opts, "the server offers %s", methods);
    if (key && strstr(methods, "publickey")) {
        sftpc_verbose(c->opts, "trying the key (%s)", key->algorithm);
        rc = libssh2_userauth_publickey(c->ssh, t->user, key->blob,
                                        key->blob_len, sftpc_sign,
                                        (void **)&key);
        if (rc == 0)
            return SFTPC_OK;
        sftpc_verbose(c->opts, "the key was refused");
    }
    if (password && strstr(methods, "password")) {
        rc = libssh2_userauth_password_ex(
            c->ssh, t->user, (unsigned int)strlen(t->user),
            (const char *)password->data, (unsigned int)password->len, NULL);
        if (rc == 0)
            return SFTPC_OK;
    }
    if (password && strstr(methods, "keyboard-interactive")) {
        abstract = libssh2_session_abstract(c->ssh);
        *abstract = (void *)password;
        rc = libssh2_userauth_keyboard_interactive(c->ssh, t->user,
                                                   kbd_answer);
        *abstract = NULL;
        if (rc == 0)
            return SFTPC_OK;
    }
    return sftpc_fail(SFTPC_ERR_AUTH, "%s@%s: authentication failed (%s%s%s)",
                      t->user, t->host, key ? "key refused" : "",
                      key && password ? ", " : "",
                      password ? "password refused" : key ? "" : "no key "
                                                                 "or password");
}

sftpc_rc sftpc_connect(const struct sftpc_target *t,
                       const struct sftpc_options *opts,
                       const struct sftpc_key *key, const sr_secret *password,
                       struct sftpc_conn *c)
{
    sftpc_rc rc;
    int ignored;

    memset(c, 0, sizeof(*c));
    c->sock = -1;
    c->target = t;
    c->opts = opts;
    if ((rc = open_socket(t, &c->sock)) != SFTPC_OK)
        return rc;
    if (!(c->ssh = libssh2_session_init())) {
        rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        goto fail;
    }
    libssh2_session_set_blocking(c->ssh, 1);
    libssh2_session_set_timeout(c->ssh, SESSION_TIMEOUT_MS);
    if (libssh2_session_handshake(c->ssh, c->sock) != 0) {
        rc = sftpc_fail_ssh(c, SFTPC_ERR_CONNECT, "SSH handshake");
        goto fail;
    }
    sftpc_verbose(opts, "kex %s, host key %s, cipher %s, mac %s",
                  libssh2_session_methods(c->ssh, LIBSSH2_METHOD_KEX),
                  libssh2_session_methods(c->ssh, LIBSSH2_METHOD_HOSTKEY),
                  libssh2_session_methods(c->ssh, LIBSSH2_METHOD_CRYPT_CS),
                  libssh2_session_methods(c->ssh, LIBSSH2_METHOD_MAC_CS));
    if ((rc = check_host_key(c)) != SFTPC_OK ||
        (rc = authenticate(c, key, password)) != SFTPC_OK)
        goto fail;
    libssh2_keepalive_config(c->ssh, 1, KEEPALIVE_SECONDS);
    libssh2_keepalive_send(c->ssh, &ignored);
    if (!(c->sftp = libssh2_sftp_init(c->ssh))) {
        rc = sftpc_fail_ssh(c, SFTPC_ERR_CONNECT, "SFTP subsystem");
        goto fail;
    }
    if (!(c->cwd = strdup(t->path ? t->path : "."))) {
        rc = sftpc_fail(SFTPC_ERR_OTHER, "out of memory");
        goto fail;
    }
    return SFTPC_OK;
fail:
    sftpc_disconnect(c);
    return rc;
}

void sftpc_disconnect(struct sftpc_conn *c)
{
    if (c->sftp)
        libssh2_sftp_shutdown(c->sftp);
    if (c->ssh) {
        libssh2_session_disconnect(c->ssh, "bye");
        libssh2_session_free(c->ssh);
    }
    if (c->sock >= 0)
        close(c->sock);
    free(c->cwd);
    c->sftp = NULL;
    c->ssh = NULL;
    c->sock = -1;
    c->cwd = NULL;
}

char *sftpc_remote_path(const struct sftpc_conn *c, const char *path)
{
    size_t len;
    char *out;

    if (path[0] == '/' || !c->cwd || strcmp(c->cwd, ".") == 0)
        return strdup(path);
    len = strlen(c->cwd) + strlen(path) + 2;
    if ((out = malloc(len)))
        snprintf(out, len, "%s%s%s", c->cwd,
                 c->cwd[strlen(c->cwd) - 1] == '/' ? "" : "/", path);
    return out;
}
