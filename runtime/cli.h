/* The command line: parsed options shared by the commands, and the
 * commands themselves (cmd_*.c). */
#ifndef NUDGE_CLI_H
#define NUDGE_CLI_H
#include "config.h"
#include "engine.h"
#include "guardrails.h"

enum exit_code {
    EXIT_OK = 0,
    EXIT_FAILURE_RUNTIME = 1,
    EXIT_USAGE = 2,
    EXIT_REJECTED = 3
};

typedef struct cli {
    const char *command;
    const char **args; /* positional arguments after the command */
    int arg_count;
    const char *config_path, *db_path, *outbox_path, *events_path, *clock, *now;
    const char *target;
    const char *purpose, *source, *proof; /* nudge consent set */
    const char *reason;                   /* nudge suppress add */
    int dry_run, strict, quiet, verbose, rotate;
    int make;        /* nudge unsubscribe --make */
    int no_delivery; /* --no-deliver, nudge simulate: queued messages stay in the outbox
                      */
    const char *format, *timeline;  /* nudge simulate --format json, --timeline all */
    const char *listen, *port_file; /* nudge serve --listen HOST:PORT, --port-file F */
    config cfg;
} cli;

int cmd_run(cli *c);
int cmd_tick(cli *c);
int cmd_check(cli *c);
int cmd_hash(cli *c);
int cmd_keygen(cli *c);
int cmd_profile(cli *c);
int cmd_explain(cli *c);
int cmd_suppress(cli *c);
int cmd_consent(cli *c);
int cmd_unsubscribe(cli *c);
int cmd_simulate(cli *c);
int cmd_serve(cli *c);
int cmd_test(cli *c);

/* `nudge run`'s work under C's options: loads the recipes, runs the events
 * and (unless c->quiet) prints the summary line; *stats (may be NULL) gets
 * the run's counts.  An exit code. */
int cli_run(cli *c, engine_stats *stats);

/* Shared by the commands: loads the recipes named on the command line (or
 * found in the config's folders) into the host.  0, or -1 (reported). */
int cli_load_recipes(cli *c, host *h, engine *e);
/* Opens the key file and the database's keys for PII (the config's
 * key_file and pii settings).  0, or -1 (logged). */
int cli_open_privacy(cli *c, store *s, privacy **out);

/* For commands about people already known: 0 when the database exists,
 * else -1 with an error (so a typo in --db creates nothing). */
int cli_require_db(const cli *c);

/* The guardrails the config sets (its arrays are borrowed from c). */
guard_config cli_guard_config(const cli *c);

/* The profile GIVEN names on the command line: an email, a profile id, a
 * linked anonymous id, or a phone number.  malloc'd, or NULL. */
char *cli_find_profile(privacy *p, store *s, const char *given);

/* Prints the story of profile ID (journey JOURNEY only, when not NULL) to
 * OUT, as `nudge explain` shows it.  0, or -1 when the store cannot be
 * read. */
int cli_explain_print(store *s, const char *id, const char *journey, FILE *out);

/* Prints the summary line of SPEC §8. */
void cli_print_summary(const cli *c, const engine_stats *st, store *s);

#endif
