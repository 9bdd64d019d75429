/* `nudge simulate RECIPE ... --events FILE`: a backtest.  Replays the events
 * under the event clock into a throwaway store (a fresh mkdtemp folder with
 * its own key), delivers nothing, and prints the timeline of the message log
 * and per-journey totals, as text or one JSON object; then removes the folder. */
#include "cli.h"
#include "log.h"
#include "timeutil.h"
#include "vault.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMELINE_LINES 200

/* The throwaway folder and the paths inside it. */
typedef struct workspace {
    char dir[4096], db[4200], outbox[4200], key[4200];
    int made; /* the folder exists: remove it */
} workspace;

static int simulate_usage(const char *why)
{
    fprintf(stderr,
            "nudge: %s\nusage: nudge simulate RECIPE [RECIPE ...] --events FILE "
            "[--format text|json] [--timeline all] [--strict]\n",
            why);
    return EXIT_USAGE;
}

/* Makes the folder (under $TMPDIR, else /tmp) and its key file.  0, or -1. */
static int workspace_make(workspace *w)
{
    char err[600];
    const char *tmp = getenv("TMPDIR");
    snprintf(w->dir, sizeof w->dir, "%s/nudge-simulate.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(w->dir)) return log_error("cannot make a folder in %s: %m", w->dir), -1;
    w->made = 1;
    snprintf(w->db, sizeof w->db, "%s/simulate.db", w->dir);
    snprintf(w->outbox, sizeof w->outbox, "%s/outbox.ndjson", w->dir);
    snprintf(w->key, sizeof w->key, "%s/nudge.key", w->dir);
    if (vault_write_new(w->key, err, sizeof err)) return log_error("%s", err), -1;
    return 0;
}

/* Removes every file of the folder, then the folder. */
static void workspace_remove(const workspace *w)
{
    DIR *d = opendir(w->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[8192];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", w->dir, e->d_name);
        if (unlink(path)) log_warn("cannot remove %s: %m", path);
    }
    if (d) closedir(d);
    if (rmdir(w->dir)) log_warn("cannot remove the folder %s: %m", w->dir);
}

/* Runs the events as `nudge run --clock event` would, into W, quietly and
 * without delivery: queued messages stay in the throwaway outbox table. */
static int run_into(const cli *c, const workspace *w, engine_stats *stats)
{
    cli sim = *c;
    sim.db_path = w->db;
    sim.outbox_path = w->outbox;
    sim.cfg.key_file = (char *)w->key;
    sim.clock = "event";
    sim.dry_run = 0;
    sim.quiet = 1;
    sim.no_delivery = 1;
    return cli_run(&sim, stats);
}

static cJSON *child(cJSON *object, const char *key)
{
    cJSON *found = cJSON_GetObjectItemCaseSensitive(object, key);
    return found ? found : cJSON_AddObjectToObject(object, key);
}

static const char *text_of(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static double number_of(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The journey object named NAME in the array JOURNEYS, or NULL. */
static cJSON *journey_named(cJSON *journeys, const char *name)
{
    cJSON *j;
    cJSON_ArrayForEach(j, journeys) if (!strcmp(text_of(j, "journey"), name)) return j;
    return NULL;
}

/* Adds {entered, reached, rate} for one arm to J's "goals", then drops the
 * flat columns the query gave. */
static void add_goal_arm(cJSON *j, const char *arm, const char *entered,
                         const char *reached)
{
    double n = number_of(j, entered), got = number_of(j, reached);
    cJSON *o = cJSON_AddObjectToObject(child(j, "goals"), arm);
    cJSON_AddNumberToObject(o, "entered", n);
    cJSON_AddNumberToObject(o, "reached", got);
    cJSON_AddNumberToObject(o, "rate", n > 0 ? got / n : 0);
    cJSON_DeleteItemFromObjectCaseSensitive(j, entered);
    cJSON_DeleteItemFromObjectCaseSensitive(j, reached);
}

/* Per journey: instances by state, exits by reason, messages by channel and
 * outcome (as logged when queued), goals by treatment and holdout. */
static cJSON *journey_totals(store *s)
{
    cJSON *journeys = store_rows_json(
        s,
        "SELECT journey, count(*) AS entered, sum(state = 2) AS completed,"
        " sum(state = 3) AS exited, sum(state = 4) AS failed, sum(state < 2) AS waiting,"
        " sum(NOT holdout) AS t_n, sum(NOT holdout AND goal_ms > 0) AS t_goal,"
        " sum(holdout) AS h_n, sum(holdout AND goal_ms > 0) AS h_goal"
        " FROM instances GROUP BY journey ORDER BY journey",
        NULL);
    cJSON *exits = store_rows_json(s,
                                   "SELECT journey, coalesce(exit_reason, '-') AS reason,"
                                   " count(*) AS n FROM instances WHERE state = 3"
                                   " GROUP BY 1, 2 ORDER BY 1, 2",
                                   NULL);
    cJSON *sends =
        store_rows_json(s,
                        "SELECT coalesce(journey, '-') AS journey, channel,"
                        " outcome, count(*) AS n FROM message_log"
                        " WHERE coalesce(detail, '') <> 'checked again at delivery'"
                        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                        NULL);
    cJSON *row, *j;
    cJSON_ArrayForEach(j, journeys)
    {
        add_goal_arm(j, "treatment", "t_n", "t_goal");
        add_goal_arm(j, "holdout", "h_n", "h_goal");
        cJSON_AddObjectToObject(j, "exit_reasons");
        cJSON_AddObjectToObject(j, "messages");
    }
    cJSON_ArrayForEach(row,
                       exits) if ((j = journey_named(journeys, text_of(row, "journey"))))
        cJSON_AddNumberToObject(child(j, "exit_reasons"), text_of(row, "reason"),
                                number_of(row, "n"));
    cJSON_ArrayForEach(row,
                       sends) if ((j = journey_named(journeys, text_of(row, "journey"))))
        cJSON_AddNumberToObject(child(child(j, "messages"), text_of(row, "channel")),
                                text_of(row, "outcome"), number_of(row, "n"));
    cJSON_Delete(exits), cJSON_Delete(sends);
    return journeys;
}

/* Every message-log row in time order, the first LIMIT (< 0: all) with the
 * time as ISO-8601; "timeline_more" counts the rest. */
static cJSON *timeline(store *s, cJSON *report, long limit)
{
    cJSON *rows = store_rows_json(s,
                                  "SELECT at_ms, profile_id AS profile, journey, channel,"
                                  " template, outcome, reason, detail FROM message_log"
                                  " ORDER BY at_ms, id",
                                  NULL);
    long count = cJSON_GetArraySize(rows), more = 0;
    while (rows && limit >= 0 && count > limit)
        cJSON_DeleteItemFromArray(rows, (int)--count), more++;
    cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        char at[TIME_ISO_LEN];
        time_format_iso8601((int64_t)number_of(row, "at_ms"), at);
        cJSON_DeleteItemFromObjectCaseSensitive(row, "at_ms");
        cJSON_AddStringToObject(row, "at", at);
    }
    cJSON_AddNumberToObject(report, "timeline_more", (double)more);
    return rows;
}

/* The whole report of the throwaway store at PATH, or NULL (logged). */
static cJSON *read_report(const cli *c, const char *path, const engine_stats *st)
{
    char err[600];
    store *s;
    if (store_open(path, &s, err, sizeof err)) return log_error("%s", err), NULL;
    long limit = c->timeline && !strcmp(c->timeline, "all") ? -1 : TIMELINE_LINES;
    cJSON *report = cJSON_CreateObject(),
          *events = cJSON_AddObjectToObject(report, "events");
    cJSON_AddNumberToObject(events, "accepted", (double)st->events_accepted);
    cJSON_AddNumberToObject(events, "rejected", (double)st->events_rejected);
    cJSON_AddNumberToObject(events, "duplicate", (double)st->events_duplicate);
    cJSON *lines = timeline(s, report, limit), *journeys = journey_totals(s);
    store_close(s);
    if (!lines || !journeys) {
        cJSON_Delete(lines), cJSON_Delete(journeys), cJSON_Delete(report);
        return log_error("cannot read the simulated store"), NULL;
    }
    cJSON_AddItemToObject(report, "timeline", lines);
    cJSON_AddItemToObject(report, "journeys", journeys);
    return report;
}

static void print_timeline(const cJSON *report)
{
    const cJSON *row, *lines = cJSON_GetObjectItemCaseSensitive(report, "timeline");
    printf("timeline (event time)\n");
    cJSON_ArrayForEach(row, lines)
    {
        printf("  %s  %s  %s  %s %s: %s", text_of(row, "at"), text_of(row, "profile"),
               text_of(row, "journey"), text_of(row, "channel"), text_of(row, "template"),
               text_of(row, "outcome"));
        if (strcmp(text_of(row, "reason"), "-")) printf(" (%s)", text_of(row, "reason"));
        if (strcmp(text_of(row, "detail"), "-")) printf(" [%s]", text_of(row, "detail"));
        printf("\n");
    }
    if (!lines || !lines->child) printf("  no messages\n");
    long more = (long)number_of(report, "timeline_more");
    if (more) printf("  ... %ld more (--timeline all shows them)\n", more);
}

/* "  LABEL: key n, key n" for the numbers of OBJECT, or nothing if empty. */
static void print_counts(const char *label, const cJSON *object)
{
    const cJSON *v;
    if (!object || !object->child) return;
    printf("  %s:", label);
    for (v = object->child; v; v = v->next)
        printf("%s %s %.0f", v == object->child ? "" : ",", v->string, v->valuedouble);
    printf("\n");
}

static void print_arm(const cJSON *goals, const char *arm)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(goals, arm);
    printf("%s %.0f of %.0f (%.1f%%)", arm, number_of(o, "reached"),
           number_of(o, "entered"), 100 * number_of(o, "rate"));
}

static void print_journey(const cJSON *j)
{
    const cJSON *m, *messages = cJSON_GetObjectItemCaseSensitive(j, "messages");
    const cJSON *goals = cJSON_GetObjectItemCaseSensitive(j, "goals");
    printf("\njourney %s\n  entered %.0f, completed %.0f, exited %.0f, failed %.0f, "
           "waiting %.0f\n",
           text_of(j, "journey"), number_of(j, "entered"), number_of(j, "completed"),
           number_of(j, "exited"), number_of(j, "failed"), number_of(j, "waiting"));
    print_counts("exited by reason", cJSON_GetObjectItemCaseSensitive(j, "exit_reasons"));
    cJSON_ArrayForEach(m, messages)
    {
        char label[200];
        snprintf(label, sizeof label, "messages %s", m->string);
        print_counts(label, m);
    }
    printf("  goals: ");
    print_arm(goals, "treatment");
    printf(", ");
    print_arm(goals, "holdout");
    printf("\n");
}

static void print_text(const cJSON *report)
{
    const cJSON *j, *events = cJSON_GetObjectItemCaseSensitive(report, "events");
    print_timeline(report);
    printf("\nevents %.0f accepted, %.0f rejected, %.0f duplicate\n",
           number_of(events, "accepted"), number_of(events, "rejected"),
           number_of(events, "duplicate"));
    cJSON_ArrayForEach(j, cJSON_GetObjectItemCaseSensitive(report, "journeys"))
        print_journey(j);
}

static int print_report(const cli *c, const cJSON *report)
{
    if (!c->format || !strcmp(c->format, "text")) return print_text(report), 0;
    char *json = cJSON_PrintUnformatted(report);
    if (!json) return log_error("out of memory"), -1;
    printf("%s\n", json);
    free(json);
    return 0;
}

int cmd_simulate(cli *c)
{
    if (!c->arg_count) return simulate_usage("simulate needs at least one recipe");
    if (!c->events_path) return simulate_usage("simulate needs --events FILE");
    if (c->format && strcmp(c->format, "text") && strcmp(c->format, "json"))
        return simulate_usage("--format must be text or json");
    if (c->timeline && strcmp(c->timeline, "all"))
        return simulate_usage("--timeline takes only 'all'");
    if (c->clock && strcmp(c->clock, "event"))
        return simulate_usage("simulate replays under the event clock only");
    workspace w = {.made = 0};
    engine_stats stats = {0};
    cJSON *report = NULL;
    int rc = EXIT_FAILURE_RUNTIME;
    if (workspace_make(&w)) goto done;
    rc = run_into(c, &w, &stats);
    if (rc != EXIT_OK && rc != EXIT_REJECTED) goto done;
    report = read_report(c, w.db, &stats);
    if (!report || print_report(c, report)) rc = EXIT_FAILURE_RUNTIME;
done:
    cJSON_Delete(report);
    if (w.made) workspace_remove(&w);
    return rc;
}
