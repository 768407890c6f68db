/* SPDX-License-Identifier: Apache-2.0 */
/* The names users write: "secretref:NAME" (sr_uri_name) and
 * vault://CLIENT/SECRET[/VERSION] (sr_vault_uri_split). A name survives
 * sr_uri_from_name then sr_uri_name unchanged, and parsed vault parts
 * rebuild to the same parts. */
#include "fuzz.h"
#include "secretref.h"

static void name_round_trip(const char *name) {
    char *uri, *back = NULL;

    if (!*name)
        return;
    if (!(uri = sr_uri_from_name(name)))
        abort();
    if (sr_uri_name(uri, &back) != SR_OK || strcmp(back, name) != 0) {
        fprintf(stderr, "round trip: \"%s\" -> \"%s\" -> \"%s\"\n", name, uri,
                back ? back : "(refused)");
        abort();
    }
    free(back);
    free(uri);
}

static void vault_round_trip(const char *client, const char *secret,
                             const char *version) {
    char *uri, *c = NULL, *s = NULL, *v = NULL;
    size_t len =
        strlen(client) + strlen(secret) + (version ? strlen(version) : 0) + 16;

    if (strchr(client, '/') || strchr(secret, '/') ||
        (version && strchr(version, '/')) || !*client || !*secret ||
        (version && !*version))
        abort();
    if (!(uri = malloc(len)))
        abort();
    snprintf(uri, len, "vault://%s/%s%s%s", client, secret, version ? "/" : "",
             version ? version : "");
    if (sr_vault_uri_split(uri, &c, &s, &v) != SR_OK ||
        strcmp(c, client) != 0 || strcmp(s, secret) != 0 ||
        (!v != !version) || (v && strcmp(v, version) != 0)) {
        fprintf(stderr, "vault round trip: \"%s\"\n", uri);
        abort();
    }
    free(c);
    free(s);
    free(v);
    free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = fuzz_string(data, size), *name = NULL, *client, *secret,
         *version;
    sr_rc rc;

    rc = sr_uri_name(in, &name);
    if (rc == SR_OK) {
        if (!name || !*name)
            abort();
        name_round_trip(name);
        free(name);
    } else if (name) {
        abort();
    }
    rc = sr_vault_uri_split(in, &client, &secret, &version);
    if (rc == SR_OK) {
        vault_round_trip(client, secret, version);
        free(client);
        free(secret);
        free(version);
    } else if (client || secret || version) {
        abort();
    }
    /* Any string is a name: it must survive the URI form. */
    name_round_trip(in);
    free(in);
    return 0;
}
