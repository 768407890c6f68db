/* SPDX-License-Identifier: Apache-2.0 */
/* The reference form shared by new and set. Its fields and prompts follow
 * the product's form: Secret reference, Description, Environment types,
 * Expiring date, then the secret of the chosen kind. */
#include "form.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void form_help(const char *command)
{
    printf("usage: secretref %s NAME [--description TEXT] "
           "[--environment TYPE]%s\n"
           "                 [--expires YYYY-MM-DD|none]\n"
           "                 [ --manual [--secret-file FILE]\n"
           "                 | --key-vault CLIENT --vault-secret NAME "
           "[--vault-version V]\n"
           "                 | --key-vault vault://CLIENT/SECRET[/VERSION]\n"
           "                 | --certificate FILE [--password-file FILE]\n"
           "                 | --generate rsa-2048|rsa-3072|rsa-4096|ec-p256|"
           "ec-p384|ec-p521|ed25519 ]\n\n"
           "A manual secret is read from --secret-file, else from standard "
           "input when it is\nnot a terminal, else asked for without echo; "
           "never from the command line.\nOne trailing newline is removed. "
           "--certificate takes PEM, DER, PKCS#12 and\nOpenSSH private keys; "
           "a certificate in the file is kept and its expiry date\nbecomes "
           "the reference's unless --expires is given.\n",
           command, strcmp(command, "set") == 0 ? " [--no-environment]" : "");
    if (strcmp(command, "new") == 0)
        printf("\nOn a terminal, fields that are not given are asked for.\n");
}

static int set_kind(const char *command, struct ref_form *form, sr_kind kind)
{
    if (form->kind_given && form->spec.kind != kind)
        return cli_usage(command, "give only one of --manual, --key-vault, "
                                  "--certificate and --generate");
    form->kind_given = 1;
    form->spec.kind = kind;
    return 0;
}

int form_parse(const char *command, int argc, char **argv,
               struct ref_form *form, const char **name)
{
    static const struct option options[] = {
        {"description", required_argument, NULL, 'd'},
        {"environment", required_argument, NULL, 'e'},
        {"no-environment", no_argument, NULL, 'E'},
        {"expires", required_argument, NULL, 'x'},
        {"manual", no_argument, NULL, 'm'},
        {"secret-file", required_argument, NULL, 'f'},
        {"key-vault", required_argument, NULL, 'v'},
        {"vault-secret", required_argument, NULL, 'S'},
        {"vault-version", required_argument, NULL, 'R'},
        {"certificate", required_argument, NULL, 'c'},
        {"password-file", required_argument, NULL, 'P'},
        {"generate", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *vault = NULL;
    int opt, status;

    memset(form, 0, sizeof(*form));
    *name = NULL;
    while ((opt = cli_getopt_long(argc, argv, "h", options)) != -1) {
        status = 0;
        switch (opt) {
        case 'd':
            form->spec.description = optarg;
            form->description_given = 1;
            break;
        case 'e':
            form->spec.environment = optarg;
            form->environment_given = 1;
            break;
        case 'E':
            if (strcmp(command, "set") != 0)
                return cli_usage(command, "--no-environment is for set");
            form->spec.clear_environment = 1;
            form->environment_given = 1;
            break;
        case 'x':
            form->spec.expires = strcmp(optarg, "none") == 0 ? "" : optarg;
            form->expires_given = 1;
            break;
        case 'm':
            form->manual = 1;
            status = set_kind(command, form, SR_KIND_MANUAL);
            break;
        case 'f':
            form->secret_file = optarg;
            break;
        case 'v':
            vault = optarg;
            status = set_kind(command, form, SR_KIND_KEY_VAULT);
            break;
        case 'S':
            form->spec.vault_secret = optarg;
            break;
        case 'R':
            form->spec.vault_version = optarg;
            break;
        case 'c':
            form->certificate = optarg;
            status = set_kind(command, form, SR_KIND_CERTIFICATE);
            break;
        case 'P':
            form->password_file = optarg;
            break;
        case 'g':
            form->spec.generate = optarg;
            status = set_kind(command, form, SR_KIND_CERTIFICATE);
            break;
        case 'h':
            form_help(command);
            return -1;
        default:
            return cli_unknown_option(command);
        }
        if (status)
            return status;
    }
    if (form->certificate && form->spec.generate)
        return cli_usage(command, "give --certificate or --generate, not "
                                  "both");
    if (form->secret_file)
        form->manual = 1;
    if (vault) {
        if (strncmp(vault, "vault://", 8) == 0) {
            if (form->spec.vault_secret || form->spec.vault_version)
                return cli_usage(command, "a vault:// URI already names the "
                                          "secret and version");
            if (sr_vault_uri_split(vault, &form->vault_client,
                                   &form->vault_secret,
                                   &form->vault_version) != SR_OK)
                return cli_usage(command,
                                 "%s: not vault://CLIENT/SECRET[/VERSION]",
                                 vault);
            form->spec.vault_client = form->vault_client;
            form->spec.vault_secret = form->vault_secret;
            form->spec.vault_version = form->vault_version;
        } else {
            form->spec.vault_client = vault;
            if (!form->spec.vault_secret)
                return cli_usage(command, "--key-vault CLIENT needs "
                                          "--vault-secret NAME");
        }
    } else if (form->spec.vault_secret || form->spec.vault_version) {
        return cli_usage(command, "--vault-secret needs --key-vault");
    }
    if (form->password_file && !form->certificate)
        return cli_usage(command, "--password-file goes with --certificate");
    if (optind < argc)
        *name = argv[optind++];
    if (optind < argc)
        return cli_usage(command, "unexpected argument %s", argv[optind]);
    return 0;
}

/* Asks for one line unless the field was given; empty keeps it unset. */
static int ask(const char *prompt, char *buf, size_t size, const char **out)
{
    /* EXIT_USAGE spelled out: the analyzer cannot see through the
     * variadic cli_fail that the status is never 0. */
    if (cli_prompt_line(prompt, buf, size) != 0) {
        cli_fail(SR_ERR_USAGE, "no answer");
        return EXIT_USAGE;
    }
    *out = buf;
    return 0;
}

int form_prompt(struct ref_form *form, const char **name, int creating)
{
    const char *answer = NULL;
    int status;

    if (!cli_interactive() || !creating)
        return 0;
    if (!*name &&
        (status = ask("Secret reference: ", form->name_buf,
                      sizeof(form->name_buf), name)) != 0)
        return status;
    if (!form->description_given &&
        (status = ask("Description: ", form->description_buf,
                      sizeof(form->description_buf),
                      &form->spec.description)) != 0)
        return status;
    if (!form->environment_given) {
        if ((status = ask("Environment type (empty for none): ",
                          form->environment_buf,
                          sizeof(form->environment_buf), &answer)) != 0)
            return status;
        form->spec.environment = *answer ? answer : NULL;
    }
    if (!form->expires_given) {
        if ((status = ask("Expiring date (YYYY-MM-DD, empty for none): ",
                          form->expires_buf, sizeof(form->expires_buf),
                          &answer)) != 0)
            return status;
        form->spec.expires = *answer ? answer : NULL;
    }
    if (form->kind_given)
        return 0;
    if ((status = ask("Kind (manual, key-vault, certificate) [manual]: ",
                      form->kind_buf, sizeof(form->kind_buf), &answer)) != 0)
        return status;
    if (!*answer)
        answer = "manual";
    if (sr_kind_parse(answer, &form->spec.kind) != SR_OK)
        return cli_fail(SR_ERR_USAGE, "%s: not a kind", answer);
    form->kind_given = 1;
    switch (form->spec.kind) {
    case SR_KIND_MANUAL:
        form->manual = 1;
        break;
    case SR_KIND_KEY_VAULT:
        if ((status = ask("Key Vault client: ", form->text_buf, 256,
                          &answer)) != 0)
            return status;
        form->spec.vault_client = answer;
        if ((status = ask("Key Vault secret name: ", form->text_buf + 256,
                          256, &answer)) != 0)
            return status;
        form->spec.vault_secret = answer;
        if ((status = ask("Secret version (empty for the latest): ",
                          form->text_buf + 512, 256, &answer)) != 0)
            return status;
        form->spec.vault_version = *answer ? answer : NULL;
        break;
    case SR_KIND_CERTIFICATE:
        if ((status = ask("Private key file: ", form->text_buf,
                          sizeof(form->text_buf), &answer)) != 0)
            return status;
        form->certificate = answer;
        break;
    }
    return 0;
}

int form_load(struct ref_form *form, int creating)
{
    int status;

    if (creating && !form->kind_given)
        return cli_usage("new", "give the kind: --manual, --key-vault, "
                                "--certificate or --generate");
    if (form->manual) {
        if ((status = cli_read_secret(form->secret_file, "Manual secret: ",
                                      &form->secret)) != 0)
            return status;
        form->spec.secret = form->secret;
    }
    if (form->certificate && strncmp(form->certificate, "vault://", 8) == 0) {
        /* A Key Vault certificate: only its locator is kept. */
        if (sr_vault_uri_split(form->certificate, &form->vault_client,
                               &form->vault_secret,
                               &form->vault_version) != SR_OK)
            return cli_usage("new", "%s: not vault://CLIENT/CERT[/VERSION]",
                             form->certificate);
        form->spec.vault_client = form->vault_client;
        form->spec.vault_secret = form->vault_secret;
        form->spec.vault_version = form->vault_version;
    } else if (form->certificate) {
        if ((status = cli_read_file_secret(form->certificate, 0,
                                           &form->key_data)) != 0)
            return status;
        form->spec.key_file_data = form->key_data->data;
        form->spec.key_file_len = form->key_data->len;
    }
    if (form->password_file) {
        if ((status = cli_read_file_secret(form->password_file, 1,
                                           &form->password)) != 0)
            return status;
        form->spec.key_file_password = form->password;
    }
    return 0;
}

void form_clear(struct ref_form *form)
{
    sr_secret_free(form->secret);
    sr_secret_free(form->key_data);
    sr_secret_free(form->password);
    free(form->vault_client);
    free(form->vault_secret);
    free(form->vault_version);
    memset(form, 0, sizeof(*form));
}
