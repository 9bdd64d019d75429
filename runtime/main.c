/* nudge: a customer-journey rules runtime.  main parses the global options
 * and hands over to one command (cmd_*.c). */
#include "cli.h"
#include "log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: nudge [--config FILE] [--db FILE] [-q|-v] COMMAND ...\n"
    "\n"
    "  nudge run [RECIPE|DIR ...] [--events FILE|-] [--clock wall|event] [--dry-run] "
    "[--no-deliver] [--strict]\n"
    "  nudge tick [RECIPE|DIR ...] [--now TIME]   fire due timers, deliver the outbox, "
    "exit\n"
    "  nudge simulate RECIPE ... --events FILE [--format json] [--timeline all]   "
    "backtest "
    "into a throwaway store, nothing sent\n"
    "  nudge serve [RECIPE|DIR ...] [--listen HOST:PORT] [--port-file FILE]   the "
    "service\n"
    "  nudge check [RECIPE|DIR ...] [--events FILE]   validate recipes; instances per "
    "version and step\n"
    "  nudge test [FILE|DIR ...]                  run the recipe tests (*_test.lua) "
    "under a virtual clock\n"
    "  nudge hash KIND VALUE [--target meta|google|tiktok]   normalized SHA-256 for ad "
    "matching\n"
    "  nudge profile import FILE | show ID | export ID | forget ID   (ID: id, email or "
    "phone)\n"
    "  nudge suppress add|remove|show EMAIL|PHONE [--reason R]   the suppression list\n"
    "  nudge explain PROFILE [JOURNEY]            why a person did or did not get each "
    "message\n"
    "  nudge consent set ID CHANNEL granted|revoked [--purpose P] [--source S] [--proof "
    "TEXT]\n"
    "  nudge consent show ID                      the person's consent history\n"
    "  nudge unsubscribe TOKEN                    apply a one-click unsubscribe token\n"
    "  nudge unsubscribe --make ID CHANNEL [--purpose P]   print a token for the "
    "person\n"
    "  nudge keygen [--rotate]                    write the key file, or rotate the "
    "master key\n"
    "\n"
    "global options: --config FILE, --db FILE, --outbox FILE, --log-format text|json, "
    "-q, -v\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 rejected input with "
    "--strict\n";

/* Options that take a value, and where each goes. */
static const char **option_slot(cli *c, const char *name)
{
    if (!strcmp(name, "--config")) return &c->config_path;
    if (!strcmp(name, "--db")) return &c->db_path;
    if (!strcmp(name, "--outbox")) return &c->outbox_path;
    if (!strcmp(name, "--events")) return &c->events_path;
    if (!strcmp(name, "--clock")) return &c->clock;
    if (!strcmp(name, "--now")) return &c->now;
    if (!strcmp(name, "--target")) return &c->target;
    if (!strcmp(name, "--purpose")) return &c->purpose;
    if (!strcmp(name, "--source")) return &c->source;
    if (!strcmp(name, "--proof")) return &c->proof;
    if (!strcmp(name, "--reason")) return &c->reason;
    if (!strcmp(name, "--format")) return &c->format;
    if (!strcmp(name, "--timeline")) return &c->timeline;
    if (!strcmp(name, "--listen")) return &c->listen;
    if (!strcmp(name, "--port-file")) return &c->port_file;
    return NULL;
}

static int parse_flag(cli *c, const char *arg, const char *value, int *used)
{
    const char **slot = option_slot(c, arg);
    *used = 0;
    if (slot) {
        if (!value) return fprintf(stderr, "nudge: option %s needs a value\n", arg), -1;
        *slot = value, *used = 1;
    } else if (!strcmp(arg, "--log-format") && value) {
        if (strcmp(value, "json") && strcmp(value, "text"))
            return fprintf(stderr, "nudge: --log-format must be text or json\n"), -1;
        log_set_json(!strcmp(value, "json")), *used = 1;
    } else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
        c->quiet = 1;
    } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
        c->verbose = 1;
    } else if (!strcmp(arg, "--dry-run")) {
        c->dry_run = 1;
    } else if (!strcmp(arg, "--no-deliver")) {
        c->no_delivery = 1;
    } else if (!strcmp(arg, "--strict")) {
        c->strict = 1;
    } else if (!strcmp(arg, "--rotate")) {
        c->rotate = 1;
    } else if (!strcmp(arg, "--make")) {
        c->make = 1;
    } else {
        return fprintf(stderr, "nudge: unknown option %s\n%s", arg, usage), -1;
    }
    return 0;
}

static int parse(cli *c, int argc, char **argv)
{
    c->args = calloc((size_t)argc, sizeof *c->args);
    for (int i = 1; i < argc; i++) {
        int used;
        if (argv[i][0] == '-' && argv[i][1]) {
            if (parse_flag(c, argv[i], i + 1 < argc ? argv[i + 1] : NULL, &used))
                return -1;
            i += used;
        } else if (!c->command) {
            c->command = argv[i];
        } else {
            c->args[c->arg_count++] = argv[i];
        }
    }
    if (c->clock && strcmp(c->clock, "wall") && strcmp(c->clock, "event"))
        return fprintf(stderr, "nudge: --clock must be wall or event\n"), -1;
    return 0;
}

static int dispatch(cli *c)
{
    if (!strcmp(c->command, "run")) return cmd_run(c);
    if (!strcmp(c->command, "tick")) return cmd_tick(c);
    if (!strcmp(c->command, "check")) return cmd_check(c);
    if (!strcmp(c->command, "hash")) return cmd_hash(c);
    if (!strcmp(c->command, "keygen")) return cmd_keygen(c);
    if (!strcmp(c->command, "profile")) return cmd_profile(c);
    if (!strcmp(c->command, "explain")) return cmd_explain(c);
    if (!strcmp(c->command, "suppress")) return cmd_suppress(c);
    if (!strcmp(c->command, "consent")) return cmd_consent(c);
    if (!strcmp(c->command, "unsubscribe")) return cmd_unsubscribe(c);
    if (!strcmp(c->command, "simulate")) return cmd_simulate(c);
    if (!strcmp(c->command, "serve")) return cmd_serve(c);
    if (!strcmp(c->command, "test")) return cmd_test(c);
    fprintf(stderr, "nudge: unknown command '%s'\n%s", c->command, usage);
    return EXIT_USAGE;
}

/* The default key file: nudge.key in the database's folder (./nudge.key
 * for the default ./nudge.db), so one database always finds its key. */
static char *key_beside(const char *db_path)
{
    const char *slash = strrchr(db_path, '/');
    char *path = malloc(strlen(db_path) + sizeof "nudge.key");
    if (!path) return NULL;
    int dir = slash ? (int)(slash - db_path + 1) : 0;
    sprintf(path, "%.*snudge.key", dir, db_path);
    return path;
}

int main(int argc, char **argv)
{
    cli c = {0};
    char err[600];
    int rc;
    if (sodium_init() < 0)
        return fprintf(stderr, "nudge: libsodium failed to start\n"), 1;
    if (parse(&c, argc, argv) || !c.command) {
        if (!c.command) fputs(usage, stderr);
        free(c.args);
        return EXIT_USAGE;
    }
    log_set_level(c.quiet ? LOG_ERROR : c.verbose ? LOG_DEBUG : LOG_WARN);
    if (config_load(c.config_path, &c.cfg, err, sizeof err)) {
        log_error("%s", err);
        rc = EXIT_USAGE;
    } else {
        if (!c.db_path) c.db_path = c.cfg.db_path;
        if (!c.outbox_path) c.outbox_path = c.cfg.outbox_path;
        if (!c.cfg.key_file) c.cfg.key_file = key_beside(c.db_path);
        rc = dispatch(&c);
    }
    config_free(&c.cfg);
    free(c.args);
    return rc;
}
