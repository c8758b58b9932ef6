/* camstream keygen PREFIX: a CURVE key pair for camstreamd, camstreamctl and camstream sub
 * (docs/PROTOCOL.md "CURVE"): PREFIX.key (public + secret, mode 0600) and PREFIX.pub. */
#include "cli.h"

#include "curve_keys.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void keygen_usage(FILE *f)
{
    fprintf(f,
            "usage: camstream keygen [--force] PREFIX\n\n"
            "Writes a new CURVE key pair: PREFIX.key (public and secret key, mode 0600: give it\n"
            "only to the program that owns the pair) and PREFIX.pub (public key only: give it\n"
            "to the peers; a server's authorized-keys file lists clients' public keys).\n\n"
            "  --force  replace existing files\n");
}

int cmd_keygen(int argc, char **argv)
{
    const char *prefix = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            keygen_usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "camstream keygen: unknown option '%s'\n", argv[i]);
            keygen_usage(stderr);
            return CLI_USAGE;
        } else if (prefix) {
            fprintf(stderr, "camstream keygen: one PREFIX only ('%s' and '%s')\n", prefix, argv[i]);
            return CLI_USAGE;
        } else {
            prefix = argv[i];
        }
    }
    if (!prefix || !*prefix) {
        keygen_usage(stderr);
        return CLI_USAGE;
    }
    char key[4096], pub[4096];
    snprintf(key, sizeof key, "%s.key", prefix);
    snprintf(pub, sizeof pub, "%s.pub", prefix);
    if (!force) {
        const char *exists = access(key, F_OK) == 0 ? key : access(pub, F_OK) == 0 ? pub : NULL;
        if (exists) {
            fprintf(stderr, "camstream keygen: %s exists (use --force to replace the pair)\n",
                    exists);
            return CLI_FAIL;
        }
    }
    csd_curve_keys k;
    csd_error err;
    if (csd_curve_keys_generate(&k, &err) || csd_curve_keys_save(key, &k, 1, &err) ||
        csd_curve_keys_save(pub, &k, 0, &err)) {
        fprintf(stderr, "camstream keygen: %s\n", err.msg);
        memset(&k, 0, sizeof k);
        return CLI_FAIL;
    }
    printf("%s: key pair (secret, mode 0600)\n%s: public key %s\n", key, pub, k.public_key);
    memset(&k, 0, sizeof k);
    return CLI_OK;
}
