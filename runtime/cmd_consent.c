/* `nudge consent set ID CHANNEL granted|revoked [--purpose P] [--source S]
 * [--proof TEXT] [--now TIME]` and `nudge consent show ID`: the consent
 * ledger from the command line.  ID is what `nudge profile` takes: a
 * profile id, a linked anonymous id, an email or a phone number. */
#include "cli.h"
#include "consent.h"
#include "log.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char consent_usage[] =
    "usage: nudge consent set ID CHANNEL granted|revoked\n"
    "           [--purpose marketing|transactional] [--source S] [--proof TEXT]\n"
    "           [--now TIME]\n"
    "       nudge consent show ID\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nudge: consent: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", consent_usage);
    return EXIT_USAGE;
}

/* What `consent set` records, checked before the database is opened. */
typedef struct set_request {
    const char *channel, *purpose, *source;
    int granted;
    int64_t at_ms;
} set_request;

static int parse_set(const cli *c, set_request *rq)
{
    char err[160];
    if (c->arg_count != 4)
        return usage_error("set takes ID CHANNEL granted|revoked (%d argument%s given)",
                           c->arg_count - 1, c->arg_count == 2 ? "" : "s");
    const char *status = c->args[3];
    if (strcmp(status, "granted") && strcmp(status, "revoked"))
        return usage_error("the status must be granted or revoked, not '%s'", status);
    rq->channel = c->args[2];
    rq->purpose = c->purpose ? c->purpose : "marketing";
    rq->source = c->source ? c->source : "cli";
    rq->granted = !strcmp(status, "granted");
    if (consent_check(rq->channel, rq->purpose, err, sizeof err))
        return usage_error("%s (given: channel '%s', purpose '%s')", err, rq->channel,
                           rq->purpose);
    if (!*rq->source) return usage_error("--source must not be empty");
    rq->at_ms = time_wall_ms();
    if (c->now && time_parse_iso8601(c->now, &rq->at_ms))
        return usage_error("--now must be an ISO-8601 time, not '%s'", c->now);
    return EXIT_OK;
}

static int set_cmd(const cli *c, store *s, const char *id, const set_request *rq)
{
    int rc = store_begin(s);
    int result = rc ? CONSENT_ERROR
                    : consent_record(s, id, rq->channel, rq->purpose, rq->granted,
                                     rq->at_ms, rq->source, c->proof);
    if (result >= 0 && store_commit(s)) result = CONSENT_ERROR;
    store_rollback(s);
    if (result < 0) return EXIT_FAILURE_RUNTIME;
    const char *status = rq->granted ? "granted" : "revoked";
    if (result == CONSENT_RECORDED)
        printf("consent of profile %s for %s (%s): %s, recorded\n", id, rq->channel,
               rq->purpose, status);
    else
        printf("consent of profile %s for %s (%s): already %s; nothing recorded\n", id,
               rq->channel, rq->purpose, status);
    return EXIT_OK;
}

/* Prints text on one line: control characters become spaces. */
static void print_one_line(const char *text)
{
    for (const char *p = text; *p; p++)
        putchar((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
}

static int print_record(void *ctx, const consent_row *r)
{
    char at[TIME_ISO_LEN];
    int *count = ctx;
    if (!(*count)++)
        printf("  %-24s  %-10s %-13s %-7s  %-10s proof\n", "time", "channel", "purpose",
               "status", "source");
    time_format_iso8601(r->at_ms, at);
    printf("  %-24s  %-10s %-13s %-7s  %-10s ", at, r->channel, r->purpose, r->status,
           r->source);
    print_one_line(r->proof ? r->proof : "-");
    putchar('\n');
    return 0;
}

static int show_cmd(const cli *c, store *s, const char *id)
{
    int count = 0;
    printf("consent of profile %s, oldest first (the latest record per channel and "
           "purpose is in force)\n",
           id);
    if (store_consent_history(s, id, print_record, &count)) return EXIT_FAILURE_RUNTIME;
    if (!count)
        printf("  no records: the default applies (%s; transactional: granted)\n",
               c->cfg.consent_default ? c->cfg.consent_default : "opt_in");
    return EXIT_OK;
}

/* Opens the database and keys, finds the person, runs the subcommand. */
static int run_on_profile(cli *c, const set_request *rq)
{
    char err[800];
    store *s = NULL;
    privacy *p = NULL;
    int rc = EXIT_FAILURE_RUNTIME;
    if (cli_require_db(c)) return rc;
    if (store_open(c->db_path, &s, err, sizeof err)) {
        log_error("%s", err);
        goto done;
    }
    if (cli_open_privacy(c, s, &p)) goto done;
    char *id = cli_find_profile(p, s, c->args[1]);
    if (!id)
        log_error("no profile matches %s",
                  strchr(c->args[1], '@') ? "that email" : c->args[1]);
    else
        rc = rq ? set_cmd(c, s, id, rq) : show_cmd(c, s, id);
    free(id);
done:
    privacy_free(p);
    store_close(s);
    return rc;
}

int cmd_consent(cli *c)
{
    const char *sub = c->arg_count ? c->args[0] : NULL;
    set_request rq;
    if (sub && !strcmp(sub, "set")) {
        int rc = parse_set(c, &rq);
        return rc ? rc : run_on_profile(c, &rq);
    }
    if (sub && !strcmp(sub, "show")) {
        if (c->arg_count != 2) return usage_error("show takes one ID");
        return run_on_profile(c, NULL);
    }
    if (!sub) return usage_error("say set or show");
    return usage_error("unknown subcommand '%s'", sub);
}
