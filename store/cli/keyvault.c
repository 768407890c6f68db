/* SPDX-License-Identifier: Apache-2.0 */
/* secretref keyvault: Azure Key Vault clients ("Set up the Azure Key Vault
 * client"): where a vault is, and how to get a token for it. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: secretref keyvault add NAME --vault-url https://VAULT.vault.azure.net\n"
    "           [--tenant TENANT] --client-id ID\n"
    "           (--client-secret-ref REF | --client-certificate-ref REF\n"
    "            | --managed-identity)\n"
    "           [--authority URL] [--ca-file FILE] [--assertion ps256|rs256]\n"
    "       secretref keyvault list [--json]\n"
    "       secretref keyvault show NAME [--json]\n"
    "       secretref keyvault delete NAME\n\n"
    "The client secret or certificate is itself a reference (a manual one, or a\n"
    "certificate reference with its certificate), never stored in clear. Without\n"
    "--tenant, the tenant is discovered from the vault's challenge. --authority\n"
    "is Entra ID's URL for sovereign clouds (default\n"
    "https://login.microsoftonline.com), or for a managed identity the instance\n"
    "metadata service's (default http://169.254.169.254). A client certificate\n"
    "signs a JWT assertion: PS256 with x5t#S256 (default), or RS256 with x5t.\n";

static json_t *client_json(const sr_keyvault_client *c)
{
    json_t *o = json_object();

#define STR(k, v) json_object_set_new(o, k, (v) ? json_string(v) : json_null())
    STR("name", c->name);
    STR("vault_url", c->vault_url);
    STR("tenant", c->tenant);
    STR("client_id", c->client_id);
    STR("credential", c->credential);
    STR("credential_ref", c->credential_ref);
    STR("authority", c->authority);
    STR("ca_file", c->ca_file);
    STR("assertion", c->assertion);
    STR("created", c->created);
#undef STR
    return o;
}

static int print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (text) {
        puts(text);
        free(text);
    }
    json_decref(value);
    return 0;
}

static int add(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"vault-url", required_argument, NULL, 'u'},
        {"tenant", required_argument, NULL, 't'},
        {"client-id", required_argument, NULL, 'c'},
        {"client-secret-ref", required_argument, NULL, 's'},
        {"client-certificate-ref", required_argument, NULL, 'C'},
        {"managed-identity", no_argument, NULL, 'm'},
        {"authority", required_argument, NULL, 'a'},
        {"ca-file", required_argument, NULL, 'f'},
        {"assertion", required_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sr_keyvault_client c;
    sr_store *st = NULL;
    int opt, status, kinds = 0;
    sr_rc rc;

    memset(&c, 0, sizeof(c));
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        switch (opt) {
        case 'u': c.vault_url = optarg; break;
        case 't': c.tenant = optarg; break;
        case 'c': c.client_id = optarg; break;
        case 's': c.credential = (char *)"client-secret"; c.credential_ref = optarg; kinds++; break;
        case 'C': c.credential = (char *)"client-certificate"; c.credential_ref = optarg; kinds++; break;
        case 'm': c.credential = (char *)"managed-identity"; kinds++; break;
        case 'a': c.authority = optarg; break;
        case 'f': c.ca_file = optarg; break;
        case 'A': c.assertion = optarg; break;
        case 'h': (void)fputs(help, stdout); return 0;
        default: return cli_unknown_option("keyvault add");
        }
    }
    if (argc - optind != 1)
        return cli_usage("keyvault add", "give the client's NAME");
    if (kinds != 1)
        return cli_usage("keyvault add",
                         "give one of --client-secret-ref, "
                         "--client-certificate-ref and --managed-identity");
    if (!c.vault_url)
        return cli_usage("keyvault add", "give --vault-url");
    c.name = argv[optind];
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if ((rc = sr_keyvault_add(st, &c)) != SR_OK)
        status = cli_fail_store(st, rc);
    else
        fprintf(stderr, "secretref: %s: Key Vault client added\n", c.name);
    sr_store_free(st);
    return status;
}

int cli_keyvault(struct cli *cli, int argc, char **argv)
{
    const char *action = argc > 1 ? argv[1] : "";
    sr_keyvault_client c, *list = NULL;
    size_t count = 0, i;
    sr_store *st = NULL;
    json_t *array;
    int json, status;
    sr_rc rc = SR_OK;

    if (strcmp(action, "add") == 0)
        return add(cli, argc - 1, argv + 1);
    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        (void)fputs(help, stdout);
        return 0;
    }
    json = argc > 2 && strcmp(argv[argc - 1], "--json") == 0;
    if (!((strcmp(action, "list") == 0 && argc == 2 + json) ||
          ((strcmp(action, "show") == 0 || strcmp(action, "delete") == 0) &&
           argc == 3 + json)))
        return cli_usage("keyvault", "give add, list, show NAME or delete "
                                     "NAME");
    memset(&c, 0, sizeof(c));
    if ((status = cli_open(cli, 0, &st)) != 0)
        return status;
    if (strcmp(action, "list") == 0) {
        if ((rc = sr_keyvault_list(st, &list, &count)) == SR_OK) {
            if (json) {
                array = json_array();
                for (i = 0; i < count; i++)
                    json_array_append_new(array, client_json(&list[i]));
                print_json(array);
            } else {
                for (i = 0; i < count; i++)
                    printf("%-20s %-40s %s\n", list[i].name,
                           list[i].vault_url, list[i].credential);
            }
        }
    } else if (strcmp(action, "show") == 0) {
        if ((rc = sr_keyvault_get(st, argv[2], &c)) == SR_OK) {
            if (json) {
                print_json(client_json(&c));
            } else {
                printf("name: %s\nvault_url: %s\ntenant: %s\nclient_id: %s\n"
                       "credential: %s\ncredential_ref: %s\nauthority: %s\n",
                       c.name, c.vault_url, c.tenant ? c.tenant : "(discovered)",
                       c.client_id ? c.client_id : "-", c.credential,
                       c.credential_ref ? c.credential_ref : "-",
                       c.authority ? c.authority : "(default)");
            }
        }
    } else {
        if ((rc = sr_keyvault_delete(st, argv[2])) == SR_OK)
            fprintf(stderr, "secretref: %s: Key Vault client deleted\n",
                    argv[2]);
    }
    if (rc != SR_OK)
        status = cli_fail_store(st, rc);
    sr_keyvault_client_clear(&c);
    sr_keyvault_list_free(list, count);
    sr_store_free(st);
    return status;
}
