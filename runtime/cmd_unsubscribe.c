/* `nudge unsubscribe TOKEN`: applies a one-click unsubscribe token (records
 * the consent revocation it names, source "unsubscribe").  `nudge
 * unsubscribe --make ID CHANNEL [--purpose P] [--now TIME]`: prints a token
 * for the person (operators, tests).  See docs/guardrails.md#unsubscribe. */
#include "cli.h"
#include "consent.h"
#include "log.h"
#include "timeutil.h"
#include "unsubscribe.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char unsubscribe_usage[] =
    "usage: nudge unsubscribe TOKEN\n"
    "       nudge unsubscribe --make ID CHANNEL [--purpose marketing|transactional] "
    "[--now TIME]\n";

static int usage_error(const char *why)
{
    fprintf(stderr, "nudge: unsubscribe: %s\n%s", why, unsubscribe_usage);
    return EXIT_USAGE;
}

/* The database, its keys and the unsubscribe key, opened together. */
typedef struct session {
    store *store;
    privacy *privacy;
    unsigned char key[UNSUB_KEY_LEN];
} session;

static int open_session(cli *c, session *ss)
{
    char err[800];
    if (cli_require_db(c)) return -1;
    if (store_open(c->db_path, &ss->store, err, sizeof err))
        return log_error("%s", err), -1;
    if (cli_open_privacy(c, ss->store, &ss->privacy)) return -1;
    return privacy_unsubscribe_key(ss->privacy, ss->store, ss->key);
}

static void close_session(session *ss)
{
    sodium_memzero(ss->key, sizeof ss->key);
    privacy_free(ss->privacy);
    store_close(ss->store);
}

/* The profile a token names now: itself, or the profile it was merged
 * into (an anonymous id linked since).  malloc'd, or NULL. */
static char *token_profile(store *s, const char *id)
{
    if (store_profile_exists(s, id) > 0) return strdup(id);
    return store_identity_resolve(s, id);
}

/* Records the revocation the claims name for profile ID, in one transaction. */
static int revoke(session *ss, const char *id, const unsub_claims *cl)
{
    char issued[TIME_ISO_LEN], proof[TIME_ISO_LEN + 32];
    time_format_iso8601(cl->issued_s * 1000, issued);
    snprintf(proof, sizeof proof, "token issued %s", issued);
    int result = store_begin(ss->store)
                     ? CONSENT_ERROR
                     : consent_record(ss->store, id, cl->channel, cl->purpose, 0,
                                      time_wall_ms(), "unsubscribe", proof);
    if (result >= 0 && store_commit(ss->store)) result = CONSENT_ERROR;
    store_rollback(ss->store);
    if (result < 0) return EXIT_FAILURE_RUNTIME;
    printf("unsubscribed profile %s from %s (%s): %s (%s)\n", id, cl->channel,
           cl->purpose,
           result == CONSENT_RECORDED ? "revoked, recorded"
                                      : "already revoked; nothing recorded",
           proof);
    return EXIT_OK;
}

static int apply_token(cli *c, const char *token)
{
    session ss = {0};
    unsub_claims cl = {0};
    char why[160], *id = NULL;
    int rc = EXIT_FAILURE_RUNTIME;
    if (open_session(c, &ss)) goto done;
    if (unsub_token_read(ss.key, token, &cl, why, sizeof why) ||
        consent_check(cl.channel, cl.purpose, why, sizeof why)) {
        log_error("unsubscribe: %s; nothing recorded", why);
        rc = EXIT_USAGE;
        goto done;
    }
    id = token_profile(ss.store, cl.profile);
    if (!id)
        log_error("unsubscribe: the token's person is not in this database (forgotten?); "
                  "nothing recorded");
    else
        rc = revoke(&ss, id, &cl);
    free(id);
done:
    sodium_memzero(&cl, sizeof cl);
    close_session(&ss);
    return rc;
}

static int make_token(cli *c, const char *given, const char *channel, const char *purpose)
{
    session ss = {0};
    char token[UNSUB_TOKEN_MAX + 1], *id = NULL;
    int64_t issued_ms = time_wall_ms();
    int rc = EXIT_FAILURE_RUNTIME;
    if (c->now && time_parse_iso8601(c->now, &issued_ms))
        return usage_error("--now must be an ISO-8601 time");
    if (open_session(c, &ss)) goto done;
    id = cli_find_profile(ss.privacy, ss.store, given);
    if (!id)
        log_error("no profile matches %s", strchr(given, '@') ? "that email" : given);
    else if (unsub_token_make(ss.key, id, channel, purpose, issued_ms / 1000, token,
                              sizeof token))
        log_error("profile id longer than %d bytes: no token", UNSUB_PROFILE_MAX);
    else
        rc = (puts(token), EXIT_OK);
done:
    free(id);
    close_session(&ss);
    return rc;
}

int cmd_unsubscribe(cli *c)
{
    char why[160];
    if (!c->make) {
        if (c->arg_count != 1) return usage_error("give one TOKEN");
        return apply_token(c, c->args[0]);
    }
    if (c->arg_count != 2) return usage_error("--make takes ID CHANNEL");
    const char *purpose = c->purpose ? c->purpose : "marketing";
    if (consent_check(c->args[1], purpose, why, sizeof why)) return usage_error(why);
    return make_token(c, c->args[0], c->args[1], purpose);
}
