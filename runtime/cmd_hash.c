/* nudge hash KIND VALUE [--target meta|google|tiktok]: prints the normalized
 * SHA-256 hex an ad platform expects for audience matching.  Opens no
 * database and writes nothing; the rules live in pii_hash.c. */
#include "cli.h"
#include "pii_hash.h"

#include <stdio.h>

int cmd_hash(cli *c)
{
    char hex[65], err[300];
    if (c->arg_count != 2) {
        fprintf(stderr,
                "nudge: usage: nudge hash KIND VALUE [--target meta|google|tiktok]\n"
                "  KIND is one of: %s\n",
                PII_KINDS);
        return EXIT_USAGE;
    }
    if (pii_hash(c->args[0], c->args[1], c->target, hex, err, sizeof err)) {
        fprintf(stderr, "nudge hash: %s\n", err);
        return EXIT_USAGE;
    }
    printf("%s\n", hex);
    return EXIT_OK;
}
