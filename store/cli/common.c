/* SPDX-License-Identifier: Apache-2.0 */
/* What the subcommands share: errors and exit statuses, opening the
 * store, prompts and reading secrets. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX ((size_t)64 * 1024)

int cli_exit_status(sr_rc rc)
{
    switch (rc) {
    case SR_OK:
        return EXIT_OK;
    case SR_ERR_USAGE:
        return EXIT_USAGE;
    case SR_ERR_NOTFOUND:
        return EXIT_NOT_FOUND;
    case SR_ERR_ENVIRONMENT:
    case SR_ERR_EXPIRED:
        return EXIT_DENIED;
    case SR_ERR_WRONG_KEY:
    case SR_ERR_TAMPER:
    case SR_ERR_KEY_FILE:
        return EXIT_KEY;
    case SR_ERR_DB:
        return EXIT_STORE;
    case SR_ERR_REMOTE:
        return EXIT_REMOTE;
    case SR_ERR_IO:
    case SR_ERR_FORMAT:
    case SR_ERR_PASSWORD:
        return EXIT_INPUT;
    case SR_ERR_EXISTS:
    case SR_ERR_IN_USE:
    case SR_ERR_NOT_SET:
    case SR_ERR_WRONG_KIND:
        return EXIT_CONFLICT;
    default:
        return EXIT_FAILURE_OTHER;
    }
}

int cli_fail(sr_rc rc, const char *fmt, ...)
{
    va_list ap;

    (void)fputs("secretref: ", stderr);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stderr);
    return cli_exit_status(rc);
}

int cli_fail_store(sr_store *st, sr_rc rc)
{
    return cli_fail(rc, "%s", sr_store_errmsg(st));
}

int cli_usage(const char *command, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "secretref %s: ", command);
    va_start(ap, fmt);
    (void)vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'secretref %s --help'\n", command);
    return EXIT_USAGE;
}

int cli_interactive(void)
{
    return isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
}

static int passphrase_prompt(char *buf, size_t size, void *arg)
{
    sr_secret *pass = NULL;

    (void)arg;
    if (!cli_interactive() ||
        cli_prompt_secret("Store passphrase: ", 0, &pass) != 0)
        return -1;
    if (pass->len >= size) {
        sr_secret_free(pass);
        return -1;
    }
    memcpy(buf, pass->data, pass->len);
    buf[pass->len] = '\0';
    sr_secret_free(pass);
    return 0;
}

int cli_open(struct cli *cli, int need_key, sr_store **st)
{
    char err[512];
    sr_rc rc;

    cli->cfg.passphrase_cb = passphrase_prompt;
    rc = need_key ? sr_store_open(&cli->cfg, st, err, sizeof(err))
                  : sr_store_open_metadata(&cli->cfg, st, err, sizeof(err));
    if (rc != SR_OK)
        return cli_fail(rc, "%s", err);
    return 0;
}

int cli_prompt_line(const char *prompt, char *buf, size_t size)
{
    size_t len;

    (void)fputs(prompt, stderr);
    (void)fflush(stderr);
    if (!fgets(buf, (int)size, stdin))
        return -1;
    len = strlen(buf);
    if (len && buf[len - 1] == '\n')
        buf[--len] = '\0';
    return 0;
}

/* Reads one line from the terminal with echo off. */
static int read_noecho(const char *prompt, sr_secret *into)
{
    struct termios old, quiet;
    int ok = -1, restore = 0;
    size_t len;

    (void)fputs(prompt, stderr);
    (void)fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
    }
    if (fgets((char *)into->data, (int)into->len, stdin)) {
        len = strlen((char *)into->data);
        if (len && into->data[len - 1] == '\n')
            into->data[--len] = '\0';
        into->len = len;
        ok = 0;
    }
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    (void)fputc('\n', stderr);
    return ok;
}

int cli_prompt_secret(const char *prompt, int confirm, sr_secret **out)
{
    sr_secret *first = NULL, *again = NULL;
    int rc = -1;

    *out = NULL;
    if (sr_secret_new(4096, &first) != SR_OK)
        return -1;
    if (read_noecho(prompt, first) != 0)
        goto out;
    if (first->len == 0) {
        fprintf(stderr, "secretref: the secret is empty\n");
        goto out;
    }
    if (confirm) {
        if (sr_secret_new(4096, &again) != SR_OK ||
            read_noecho("Again, to confirm: ", again) != 0)
            goto out;
        if (again->len != first->len ||
            CRYPTO_memcmp(again->data, first->data, first->len) != 0) {
            fprintf(stderr, "secretref: the two entries differ\n");
            goto out;
        }
    }
    rc = 0;
out:
    sr_secret_free(again);
    if (rc != 0)
        sr_secret_free(first);
    else
        *out = first;
    return rc;
}

/* Reads all of fd into a secret buffer, growing it as needed. */
static int read_all(int fd, sr_secret **out)
{
    sr_secret *buf = NULL, *grown = NULL;
    size_t cap = 4096, used = 0;
    ssize_t n;

    *out = NULL;
    if (sr_secret_new(cap, &buf) != SR_OK)
        return -1;
    for (;;) {
        if (used == cap) {
            if (cap >= SECRET_MAX ||
                sr_secret_new(cap * 2, &grown) != SR_OK) {
                sr_secret_free(buf);
                errno = EFBIG;
                return -1;
            }
            memcpy(grown->data, buf->data, used);
            sr_secret_free(buf);
            buf = grown;
            cap *= 2;
        }
        n = read(fd, buf->data + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sr_secret_free(buf);
            return -1;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    buf->len = used;
    *out = buf;
    return 0;
}

int cli_read_secret(const char *file, const char *prompt, sr_secret **out)
{
    sr_secret *secret = NULL;
    int fd;

    *out = NULL;
    if (!file && cli_interactive())
        return cli_prompt_secret(prompt, 1, out) == 0 ? 0 : EXIT_INPUT;
    if (file) {
        if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
            return cli_fail(SR_ERR_IO, "%s: %s", file, strerror(errno));
        if (read_all(fd, &secret) != 0) {
            int status = cli_fail(SR_ERR_IO, "%s: %s", file,
                                  errno == EFBIG ? "larger than 64 KiB"
                                                 : strerror(errno));
            close(fd);
            return status;
        }
        close(fd);
    } else if (read_all(STDIN_FILENO, &secret) != 0) {
        return cli_fail(SR_ERR_IO, "standard input: %s",
                        errno == EFBIG ? "larger than 64 KiB"
                                       : strerror(errno));
    }
    /* One trailing newline belongs to the file or the pipe, not to the
     * secret. */
    if (secret->len && secret->data[secret->len - 1] == '\n')
        secret->data[--secret->len] = '\0';
    if (secret->len && secret->data[secret->len - 1] == '\r')
        secret->data[--secret->len] = '\0';
    if (secret->len == 0) {
        sr_secret_free(secret);
        return cli_fail(SR_ERR_USAGE, "the secret is empty");
    }
    *out = secret;
    return 0;
}

int cli_read_file_secret(const char *path, int strip_newline,
                         sr_secret **out)
{
    sr_secret *data = NULL;
    int fd, err;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return cli_fail(SR_ERR_IO, "%s: %s", path, strerror(errno));
    if (read_all(fd, &data) != 0) {
        err = errno;
        close(fd);
        return cli_fail(err == EFBIG ? SR_ERR_FORMAT : SR_ERR_IO, "%s: %s",
                        path,
                        err == EFBIG ? "larger than 64 KiB" : strerror(err));
    }
    close(fd);
    if (strip_newline && data->len && data->data[data->len - 1] == '\n')
        data->data[--data->len] = '\0';
    *out = data;
    return 0;
}

int cli_parse_int(const char *text, long min, long max, long *out)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

int cli_write_file(const char *path, const char *data, size_t len, int mode)
{
    size_t plen = strlen(path), written = 0;
    char *tmp = malloc(plen + 16);
    ssize_t n;
    int fd, saved;

    if (!tmp)
        return -1;
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        saved = errno;
        free(tmp);
        errno = saved;
        return -1;
    }
    while (written < len) {
        n = write(fd, data + written, len - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        written += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return 0;
fail:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    errno = saved;
    return -1;
}

static int options_checked;
static char bad_option[48];

void cli_getopt_reset(void)
{
    /* glibc: 0 re-initialises getopt completely. */
    optind = 0;
    /* Ours say which option, in one line (cli_unknown_option). */
    opterr = 0;
    options_checked = 0;
    bad_option[0] = '\0';
}

/* getopt_long takes any unique prefix of a long option: "--secret x"
 * would be read as "--secret-file x", and a secret typed on the command
 * line would end up in an error message. Every long option must be
 * spelled out; this refuses the rest before getopt sees them, naming the
 * option and never its value. */
static int long_options_exact(int argc, char **argv,
                              const struct option *longopts)
{
    const struct option *o;
    size_t len;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strncmp(argv[i], "--", 2) != 0)
            continue;
        len = strcspn(argv[i] + 2, "=");
        for (o = longopts; o->name; o++)
            if (strlen(o->name) == len &&
                strncmp(o->name, argv[i] + 2, len) == 0)
                break;
        if (!o->name) {
            snprintf(bad_option, sizeof(bad_option), "--%.*s",
                     (int)(len > 40 ? 40 : len), argv[i] + 2);
            return 0;
        }
        /* Its argument is the next word: not an option to check. */
        if (o->has_arg == required_argument && !argv[i][2 + len])
            i++;
    }
    return 1;
}

int cli_getopt_long(int argc, char **argv, const char *shortopts,
                    const struct option *longopts)
{
    if (!options_checked) {
        options_checked = 1;
        if (!long_options_exact(argc, argv, longopts))
            return '?';
    }
    int opt = getopt_long(argc, argv, shortopts, longopts, NULL);

    if (opt == '?' && !bad_option[0]) {
        if (optopt)
            snprintf(bad_option, sizeof(bad_option), "-%c", optopt);
        else if (optind > 0 && optind <= argc)
            snprintf(bad_option, sizeof(bad_option), "%.*s",
                     (int)strcspn(argv[optind - 1], "="),
                     argv[optind - 1]);
    }
    return opt;
}

int cli_unknown_option(const char *command)
{
    return cli_usage(command, "unknown option %s, or a missing value",
                     bad_option[0] ? bad_option : "");
}

int cli_operands(const char *command, int argc, char **argv,
                 const char *help, int count, const char **operands)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, i;

    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'h') {
            (void)fputs(help, stdout);
            return -1;
        }
        return cli_unknown_option(command);
    }
    if (argc - optind != count)
        return cli_usage(command, "expected %d argument%s", count,
                         count == 1 ? "" : "s");
    for (i = 0; i < count; i++)
        operands[i] = argv[optind + i];
    return 0;
}
