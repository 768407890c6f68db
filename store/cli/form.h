/* SPDX-License-Identifier: Apache-2.0 */
/* The reference form of new and set: options, prompts, and the spec they
 * make. */
#ifndef SECRETREF_CLI_FORM_H
#define SECRETREF_CLI_FORM_H

#include "cli.h"

struct ref_form {
    sr_ref_spec spec;
    int kind_given;
    int manual;              /* --manual: a manual secret comes */
    const char *secret_file;
    const char *certificate; /* --certificate FILE */
    const char *password_file;
    int expires_given, description_given, environment_given;
    /* Owned buffers behind spec's pointers. */
    sr_secret *secret, *key_data, *password;
    char *vault_client, *vault_secret, *vault_version;
    char name_buf[256], description_buf[1024], environment_buf[256],
        expires_buf[32], kind_buf[32], text_buf[1024];
};

/* Parses new's or set's options into form; returns 0 or an exit status.
 * *name is the NAME operand (NULL if none was given). */
int form_parse(const char *command, int argc, char **argv,
               struct ref_form *form, const char **name);
/* Asks for the missing fields on a terminal, in the order of the form. */
int form_prompt(struct ref_form *form, const char **name, int creating);
/* Reads the secret, key file and password the options name. */
int form_load(struct ref_form *form, int creating);
void form_clear(struct ref_form *form);

#endif
