/* `nudge suppress add|remove|show VALUE [--reason R]`: manual entries on
 * the global suppression list, by the blind index of an email address or
 * phone number (the value itself is never stored).  Entries for forgotten
 * people cannot be removed. */
#include "cli.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "nudge: usage: nudge suppress add|remove|show EMAIL|PHONE"
                    " [--reason R]\n");
    return EXIT_USAGE;
}

static int apply(store *s, const char *verb, const char *kind,
                 const unsigned char *digest, const char *reason)
{
    char *now = store_suppression_of(s, kind, digest);
    int rc = 0;
    if (!strcmp(verb, "show")) {
        printf("%s\n", now ? now : "not suppressed");
    } else if (!strcmp(verb, "add")) {
        rc = store_suppress(s, kind, digest, reason ? reason : "manual", time_wall_ms());
        if (!rc) printf("suppressed (%s)\n", reason ? reason : "manual");
    } else if (now && !strcmp(now, "forgotten")) {
        log_error("this entry belongs to a forgotten person and stays");
        rc = -1;
    } else {
        rc = store_unsuppress(s, kind, digest);
        if (!rc) printf("%s\n", now ? "removed" : "not suppressed");
    }
    free(now);
    return rc;
}

int cmd_suppress(cli *c)
{
    char err[800];
    unsigned char digest[32];
    const char *verb = c->arg_count == 2 ? c->args[0] : "";
    if (strcmp(verb, "add") && strcmp(verb, "remove") && strcmp(verb, "show"))
        return usage();
    const char *value = c->args[1], *kind = strchr(value, '@') ? "email" : "phone";
    store *s;
    privacy *p = NULL;
    if (store_open(c->db_path, &s, err, sizeof err)) return log_error("%s", err), 1;
    int rc = cli_open_privacy(c, s, &p);
    if (!rc && privacy_blind(p, kind, value, digest, err, sizeof err)) {
        log_error("suppress: %s", err);
        rc = EXIT_USAGE;
    } else if (!rc) {
        rc = store_begin(s) || apply(s, verb, kind, digest, c->reason) || store_commit(s);
        store_rollback(s);
    }
    privacy_free(p);
    store_close(s);
    return rc == EXIT_USAGE ? EXIT_USAGE : rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}
