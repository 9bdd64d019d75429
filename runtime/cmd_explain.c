/* `nudge explain PROFILE [JOURNEY]`: the person's story, journey by
 * journey in the order they were entered — the trigger, each recorded
 * step, each message with what became of it and why, and how the journey
 * ended or what it waits for.  Read-only; PII stays masked.  The printing
 * (cli_explain_print) also tells the story of a failing `nudge test` case. */
#include "cli.h"
#include "deliver.h"
#include "log.h"
#include "timeutil.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *state_names[] = {"running", "waiting", "completed", "exited",
                                    "failed"};

static const char *text_of(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t int_of(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *when(int64_t ms, char *buf)
{
    if (!ms) return "                        ";
    time_format_iso8601(ms, buf);
    return buf;
}

static int at_delivery(const cJSON *row)
{
    const char *detail = text_of(row, "detail");
    return detail && !strcmp(detail, DELIVER_AT_DELIVERY);
}

/* The next queue-time message-log row of instance ID after ROW (or the
 * first): one per j:send.  Rows written at delivery follow their message. */
static const cJSON *next_message(const cJSON *log, const cJSON *row, int64_t id)
{
    for (row = row ? row->next : log ? log->child : NULL; row; row = row->next)
        if (int_of(row, "instance_id") == id && !at_delivery(row)) return row;
    return NULL;
}

static int same_message(const cJSON *a, const cJSON *b)
{
    const char *ta = text_of(a, "template"), *tb = text_of(b, "template");
    return int_of(a, "instance_id") == int_of(b, "instance_id") &&
           !strcmp(text_of(a, "channel"), text_of(b, "channel")) && ta && tb &&
           !strcmp(ta, tb);
}

/* What the senders made of a message: its status, and for a retry or a
 * dead letter the tries so far and the provider's last answer. */
static void print_delivery(FILE *out, const cJSON *o, char *done)
{
    const char *status = text_of(o, "status"), *response = text_of(o, "response");
    long attempts = (long)int_of(o, "attempts");
    fprintf(out, ", then %s %s", status, when(int_of(o, "updated_ms"), done));
    if (response && (!strcmp(status, "failed") || !strcmp(status, "retry")))
        fprintf(out, " after %ld %s: %s", attempts, attempts == 1 ? "try" : "tries",
                response);
}

/* One queue-time message-log row: what happened to a send, and why; for a
 * queued one, what became of it (its outbox status, and the reason when
 * the second check stopped it). */
static void print_message(FILE *out, const cJSON *m, const cJSON *log,
                          const cJSON *outbox)
{
    char at[TIME_ISO_LEN], done[TIME_ISO_LEN];
    const char *outcome = text_of(m, "outcome"), *reason = text_of(m, "reason");
    const char *detail = text_of(m, "detail");
    fprintf(out, "  %s  j:send %s %s: %s", when(int_of(m, "at_ms"), at),
            text_of(m, "channel"), text_of(m, "template") ? text_of(m, "template") : "",
            outcome);
    if (reason)
        fprintf(out, " (%s%s%s)", reason, detail ? ": " : "", detail ? detail : "");
    for (const cJSON *o = outbox ? outbox->child : NULL; o; o = o->next)
        if (same_message(o, m) &&
            (!strcmp(outcome, "queued") || !strcmp(outcome, "deferred")) &&
            strcmp(text_of(o, "status"), outcome))
            print_delivery(out, o, done);
    for (const cJSON *d = log ? log->child : NULL; d; d = d->next)
        if (at_delivery(d) && same_message(d, m) &&
            int_of(d, "at_ms") >= int_of(m, "at_ms"))
            fprintf(out, " (%s, %s)", text_of(d, "reason") ? text_of(d, "reason") : "",
                    DELIVER_AT_DELIVERY);
    fprintf(out, "\n");
}

/* The recorded steps in order; each j:send is followed by its message. */
static void print_steps(FILE *out, store *s, int64_t id, const cJSON *log,
                        const cJSON *outbox)
{
    char key[32], at[TIME_ISO_LEN];
    const cJSON *m = NULL;
    snprintf(key, sizeof key, "%lld", (long long)id);
    cJSON *steps = store_rows_json(s,
                                   "SELECT seq, kind, result AS result_json FROM history"
                                   " WHERE instance_id = ?1 ORDER BY seq",
                                   key);
    for (const cJSON *h = steps ? steps->child : NULL; h; h = h->next) {
        const char *kind = text_of(h, "kind");
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(h, "result");
        char *shown = result ? cJSON_PrintUnformatted(result) : NULL;
        if (cJSON_IsNumber(result) &&
            (!strcmp(kind, "wait") || !strcmp(kind, "wait_until") ||
             !strcmp(kind, "now")))
            fprintf(out, "      j:%s -> %s\n", kind,
                    when((int64_t)result->valuedouble * 1000, at));
        else if (strcmp(kind, "send"))
            fprintf(out, "      j:%s -> %.100s\n", kind, shown ? shown : "nil");
        free(shown);
        if (!strcmp(kind, "send") && (m = next_message(log, m, id)))
            print_message(out, m, log, outbox);
    }
    cJSON_Delete(steps);
}

/* How the instance ended, or what it waits for. */
static void print_end(FILE *out, const cJSON *in)
{
    char at[TIME_ISO_LEN];
    int64_t state = int_of(in, "state");
    const char *name = state >= 0 && state <= 4 ? state_names[state] : "?";
    if (int_of(in, "goal_ms"))
        fprintf(out, "  %s  goal reached\n", when(int_of(in, "goal_ms"), at));
    if (state == 1) {
        const char *ev = text_of(in, "pending_event");
        fprintf(out, "  %s  waiting: j:%s%s%s until %s\n", when(0, at),
                text_of(in, "pending_kind"), ev ? " " : "", ev ? ev : "",
                when(int_of(in, "pending_due_ms"), at));
    } else if (state >= 2) {
        const char *why =
            text_of(in, "error") ? text_of(in, "error") : text_of(in, "exit_reason");
        fprintf(out, "  %s  %s%s%s\n", when(int_of(in, "ended_ms"), at), name,
                why ? ": " : "", why ? why : "");
    }
}

static void print_instance(FILE *out, store *s, const cJSON *in, const cJSON *log,
                           const cJSON *outbox)
{
    char at[TIME_ISO_LEN];
    const char *trigger = text_of(in, "trigger_name");
    fprintf(out, "%s %s (instance %lld, version %.12s)%s%s%s\n", text_of(in, "journey"),
            int_of(in, "holdout") ? "[holdout]" : "", (long long)int_of(in, "id"),
            text_of(in, "version"), trigger ? " on \"" : "", trigger ? trigger : "",
            trigger ? "\"" : "");
    fprintf(out, "  %s  entered\n", when(int_of(in, "started_ms"), at));
    print_steps(out, s, int_of(in, "id"), log, outbox);
    print_end(out, in);
}

int cli_explain_print(store *s, const char *id, const char *journey, FILE *out)
{
    cJSON *instances = store_rows_json(
        s,
        "SELECT i.id, i.journey, i.version, i.state, i.holdout, i.started_ms, i.ended_ms,"
        " i.goal_ms, i.pending_kind, i.pending_event, i.pending_due_ms, i.exit_reason,"
        " i.error, coalesce(e.name, e.type) AS trigger_name FROM instances i"
        " LEFT JOIN events e ON e.id = i.trigger_event WHERE i.profile_id = ?1"
        " ORDER BY i.started_ms, i.id",
        id);
    cJSON *log = store_rows_json(s,
                                 "SELECT instance_id, channel, template, outcome, reason,"
                                 " detail, at_ms FROM message_log WHERE profile_id = ?1"
                                 " ORDER BY at_ms, id",
                                 id);
    cJSON *outbox = store_rows_json(s,
                                    "SELECT instance_id, channel, template, status,"
                                    " updated_ms, attempts, response FROM outbox"
                                    " WHERE profile_id = ?1",
                                    id);
    int shown = 0;
    fprintf(out, "profile %s\n", id);
    for (const cJSON *in = instances ? instances->child : NULL; in; in = in->next)
        if (!journey || !strcmp(text_of(in, "journey"), journey))
            fprintf(out, "\n"), print_instance(out, s, in, log, outbox), shown++;
    if (!shown)
        fprintf(out, "\nno journey%s%s\n", journey ? " named " : "",
                journey ? journey : "");
    char *suppressed = store_suppression_reason(s, id);
    if (suppressed)
        fprintf(out, "\nsuppressed: %s (no marketing message goes out)\n", suppressed);
    free(suppressed);
    cJSON_Delete(instances), cJSON_Delete(log), cJSON_Delete(outbox);
    return instances && log && outbox ? 0 : -1;
}

int cmd_explain(cli *c)
{
    char err[800];
    store *s;
    privacy *p = NULL;
    if (c->arg_count < 1 || c->arg_count > 2) {
        fprintf(stderr, "nudge: usage: nudge explain PROFILE [JOURNEY]\n");
        return EXIT_USAGE;
    }
    if (cli_require_db(c)) return EXIT_FAILURE_RUNTIME;
    if (store_open(c->db_path, &s, err, sizeof err)) return log_error("%s", err), 1;
    int rc = EXIT_FAILURE_RUNTIME;
    char *id = cli_open_privacy(c, s, &p) ? NULL : cli_find_profile(p, s, c->args[0]);
    if (p && !id)
        log_error("no profile matches %s",
                  strchr(c->args[0], '@') ? "that email" : c->args[0]);
    if (id)
        rc = cli_explain_print(s, id, c->arg_count == 2 ? c->args[1] : NULL, stdout)
                 ? EXIT_FAILURE_RUNTIME
                 : EXIT_OK;
    free(id);
    privacy_free(p);
    store_close(s);
    return rc;
}
