/* SPDX-License-Identifier: Apache-2.0 */
/* secretref connector: add, list, show and delete connectors, the named
 * SFTP connections that use references. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: secretref connector add NAME (--host HOST [--port N] --user USER\n"
    "                                     | --azure "
    "ACCOUNT[.CONTAINER].LOCALUSER)\n"
    "                               [--key URI | --key-ref REFNAME]\n"
    "                               [--password-ref REFNAME]\n"
    "                               [--host-key SHA256:FP] [--folder PATH]\n"
    "       secretref connector list [--json]\n"
    "       secretref connector show NAME [--json]\n"
    "       secretref connector delete NAME\n\n"
    "A connector names an SFTP connection and the references it uses, for\n"
    "secretref-sftp. It holds no secret: the key is a URI (a certificate\n"
    "reference, a pkcs11: URI or a file) and the password a manual or Key\n"
    "Vault reference. A reference in use by a connector cannot be deleted.\n";

static const char add_help[] =
    "usage: secretref connector add NAME --host HOST [--port N] --user USER\n"
    "           [--key URI | --key-ref REFNAME] [--password-ref REFNAME]\n"
    "           [--host-key SHA256:FP] [--folder PATH]\n"
    "       secretref connector add NAME --azure "
    "ACCOUNT[.CONTAINER].LOCALUSER ...\n\n"
    "Adds a connector. At least one of a key and a password reference:\n"
    "  --key URI              secretref:NAME (a certificate reference), "
    "pkcs11:...\n"
    "                         (without pin-value) or a private key file\n"
    "  --key-ref REFNAME      the same as --key secretref:REFNAME\n"
    "  --password-ref REFNAME a manual or Key Vault reference holding the "
    "password\n"
    "  --host-key SHA256:FP   the server's host key fingerprint, as "
    "ssh-keygen -l\n"
    "                         prints it\n"
    "  --folder PATH          the remote folder (absolute, or relative to "
    "the login\n"
    "                         folder)\n"
    "  --port N               22 when not given\n"
    "  --azure A[.C].U        Azure Blob Storage: host A.blob.core.windows.net,"
    "\n"
    "                         port 22, user A[.C].U\n";

/* One connector as JSON, every field. */
static json_t *connector_json(const sr_connector *c)
{
    json_t *obj = json_object();

    if (!obj)
        return NULL;
    json_object_set_new(obj, "name", json_string(c->name));
    json_object_set_new(obj, "kind", json_string(c->kind));
    json_object_set_new(obj, "host", json_string(c->host));
    json_object_set_new(obj, "port", json_integer(c->port));
    json_object_set_new(obj, "user", json_string(c->user));
    json_object_set_new(obj, "key_uri",
                        c->key_uri ? json_string(c->key_uri) : json_null());
    json_object_set_new(obj, "password_ref",
                        c->password_ref ? json_string(c->password_ref)
                                        : json_null());
    json_object_set_new(obj, "host_key",
                        c->host_key ? json_string(c->host_key) : json_null());
    json_object_set_new(obj, "folder",
                        c->folder ? json_string(c->folder) : json_null());
    json_object_set_new(obj, "created", json_string(c->created));
    return obj;
}

static int print_json(json_t *value)
{
    char *text;

    if (!value || !(text = json_dumps(value, JSON_INDENT(2) |
                                                 JSON_PRESERVE_ORDER)))
        return cli_fail(SR_ERR_NOMEM, "out of memory");
    puts(text);
    free(text);
    return 0;
}

/* --azure ACCOUNT[.CONTAINER].LOCALUSER: the account is 3 to 24 lowercase
 * letters and digits, as Azure names storage accounts. *host is
 * malloc'd. */
static int azure_host(const char *spec, char **host)
{
    static const char suffix[] = ".blob.core.windows.net";
    const char *dot = strchr(spec, '.'), *p;
    size_t account = dot ? (size_t)(dot - spec) : 0, parts = 1;

    *host = NULL;
    for (p = spec; *p; p++)
        if (*p == '.') {
            parts++;
            if (p[1] == '.' || p[1] == '\0')
                parts = 0;
        }
    for (p = spec; p < spec + account; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            account = 0;
    if (parts < 2 || parts > 3 || account < 3 || account > 24)
        return cli_fail(SR_ERR_USAGE,
                        "--azure %.200s: not ACCOUNT[.CONTAINER].LOCALUSER "
                        "(the account is 3 to 24 lowercase letters and "
                        "digits)",
                        spec);
    if (!(*host = malloc(account + sizeof(suffix))))
        return cli_fail(SR_ERR_NOMEM, "out of memory");
    memcpy(*host, spec, account);
    memcpy(*host + account, suffix, sizeof(suffix));
    return 0;
}

static int connector_add(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},
        {"key", required_argument, NULL, 'k'},
        {"key-ref", required_argument, NULL, 'K'},
        {"password-ref", required_argument, NULL, 'p'},
        {"host-key", required_argument, NULL, 'f'},
        {"folder", required_argument, NULL, 'd'},
        {"azure", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *azure = NULL, *key_ref = NULL, *port_text = NULL;
    char *host = NULL, *key_uri = NULL;
    sr_connector c;
    sr_store *st = NULL;
    long port = 0;
    int opt, status = 0;
    sr_rc rc;

    memset(&c, 0, sizeof(c));
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        switch (opt) {
        case 'H':
            c.host = optarg;
            break;
        case 'P':
            port_text = optarg;
            break;
        case 'u':
            c.user = optarg;
            break;
        case 'k':
            c.key_uri = optarg;
            break;
        case 'K':
            key_ref = optarg;
            break;
        case 'p':
            c.password_ref = optarg;
            break;
        case 'f':
            c.host_key = optarg;
            break;
        case 'd':
            c.folder = optarg;
            break;
        case 'a':
            azure = optarg;
            break;
        case 'h':
            (void)fputs(add_help, stdout);
            return 0;
        default:
            return cli_unknown_option("connector add");
        }
    }
    if (argc - optind != 1)
        return cli_usage("connector add", "give one connector NAME");
    c.name = argv[optind];
    if (c.key_uri && key_ref)
        return cli_usage("connector add", "give --key or --key-ref, not both");
    if (azure && (c.host || c.user || port_text))
        return cli_usage("connector add",
                         "--azure sets the host, port and user: give it "
                         "without --host, --port and --user");
    if (port_text && cli_parse_int(port_text, 1, 65535, &port) != 0)
        return cli_fail(SR_ERR_USAGE, "%s: --port %.32s is not a number in "
                        "1..65535", c.name, port_text);
    c.port = (int)port;
    if (azure) {
        if ((status = azure_host(azure, &host)) != 0)
            return status;
        c.host = host;
        c.user = (char *)azure;
        c.port = 22;
    }
    if (key_ref && !(c.key_uri = key_uri = sr_uri_from_name(key_ref))) {
        status = cli_fail(SR_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((status = cli_open(cli, 0, &st)) != 0)
        goto out;
    if ((rc = sr_connector_add(st, &c)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: %s: connector added (%s@%s:%d)\n",
                c.name, c.user, c.host, c.port ? c.port : 22);
out:
    sr_store_free(st);
    free(key_uri);
    free(host);
    return status;
}

/* list and show: [--json] and the given number of operands. */
static int parse_json_option(const char *command, const char *usage,
                             int argc, char **argv, int operands, int *json)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *json = 0;
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        if (opt == 'j') {
            *json = 1;
        } else if (opt == 'h') {
            (void)fputs(usage, stdout);
            return -1;
        } else {
            return cli_unknown_option(command);
        }
    }
    if (argc - optind > operands)
        return cli_usage(command, "unexpected argument %s",
                         argv[optind + operands]);
    if (argc - optind < operands)
        return cli_usage(command, "give one connector NAME");
    return 0;
}

static int connector_list(struct cli *cli, int argc, char **argv)
{
    sr_connector *list = NULL;
    size_t count = 0, i;
    sr_store *st = NULL;
    json_t *array = NULL;
    int json, status;
    sr_rc rc;

    status = parse_json_option("connector list",
                               "usage: secretref connector list [--json]\n\n"
                               "Lists the connectors: host, port, user and "
                               "how they authenticate.\n",
                               argc, argv, 0, &json);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_connector_list(st, &list, &count)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    if (json) {
        if (!(array = json_array())) {
            status = cli_fail(SR_ERR_NOMEM, "out of memory");
            goto out;
        }
        for (i = 0; i < count; i++)
            json_array_append_new(array, connector_json(&list[i]));
        status = print_json(array);
        goto out;
    }
    if (count)
        printf("%-20s %-36s %5s %-24s %s\n", "NAME", "HOST", "PORT", "USER",
               "AUTHENTICATION");
    for (i = 0; i < count; i++) {
        const sr_connector *c = &list[i];
        printf("%-20s %-36s %5d %-24s ", c->name, c->host, c->port,
               c->user);
        if (c->key_uri)
            printf("key %s", c->key_uri);
        if (c->password_ref)
            printf("%spassword-ref %s", c->key_uri ? ", " : "",
                   c->password_ref);
        putchar('\n');
    }
out:
    json_decref(array);
    sr_connector_list_free(list, count);
    sr_store_free(st);
    return status;
}

static int connector_show(struct cli *cli, int argc, char **argv)
{
    static const char *const fields[] = {"name",     "kind",    "host",
                                         "port",     "user",    "key_uri",
                                         "password_ref", "host_key",
                                         "folder",   "created", NULL};
    sr_connector c;
    sr_store *st = NULL;
    json_t *obj = NULL, *v;
    int json, status, i;
    sr_rc rc;

    memset(&c, 0, sizeof(c));
    status = parse_json_option("connector show",
                               "usage: secretref connector show NAME "
                               "[--json]\n\n"
                               "Shows a connector: host, port, user, key "
                               "URI, password reference,\npinned host key "
                               "and remote folder.\n",
                               argc, argv, 1, &json);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_connector_get(st, argv[optind], &c)) != SR_OK) {
        status = cli_fail_store(st, rc);
        goto out;
    }
    obj = connector_json(&c);
    if (json) {
        status = print_json(obj);
        goto out;
    }
    for (i = 0; obj && fields[i]; i++) {
        v = json_object_get(obj, fields[i]);
        if (json_is_integer(v))
            printf("%s: %lld\n", fields[i], (long long)json_integer_value(v));
        else
            printf("%s: %s\n", fields[i],
                   json_is_string(v) ? json_string_value(v) : "-");
    }
out:
    json_decref(obj);
    sr_connector_clear(&c);
    sr_store_free(st);
    return status;
}

static int connector_delete(struct cli *cli, int argc, char **argv)
{
    const char *name;
    sr_store *st = NULL;
    int status;
    sr_rc rc;

    status = cli_operands("connector delete", argc, argv,
                          "usage: secretref connector delete NAME\n\n"
                          "Deletes the connector; the references it used "
                          "stay.\n",
                          1, &name);
    if (status)
        return status < 0 ? 0 : status;
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_connector_delete(st, name)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: %s: connector deleted\n", name);
    sr_store_free(st);
    return status;
}

int cli_connector(struct cli *cli, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";

    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        (void)fputs(help, stdout);
        return 0;
    }
    /* Each action parses its options with the action as argv[0]. */
    if (strcmp(action, "add") == 0)
        return connector_add(cli, argc - 1, argv + 1);
    if (strcmp(action, "list") == 0)
        return connector_list(cli, argc - 1, argv + 1);
    if (strcmp(action, "show") == 0)
        return connector_show(cli, argc - 1, argv + 1);
    if (strcmp(action, "delete") == 0)
        return connector_delete(cli, argc - 1, argv + 1);
    return cli_usage("connector", "give add, list, show or delete");
}
