/* `nudge profile import FILE | show ID | export ID | forget ID`.  ID is a
 * profile id, a linked anonymous id, an email or a phone number (found
 * through the blind index).  export prints everything held about the
 * person as JSON, PII decrypted; show is the human view, PII masked. */
#include "cli.h"
#include "consent.h"
#include "import.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_BATCH 20000

typedef struct session {
    cli *c;
    store *store;
    privacy *privacy;
} session;

static int open_session(cli *c, session *ss)
{
    char err[800];
    memset(ss, 0, sizeof *ss);
    ss->c = c;
    if (store_open(c->db_path, &ss->store, err, sizeof err))
        return log_error("%s", err), -1;
    return cli_open_privacy(c, ss->store, &ss->privacy);
}

static void close_session(session *ss)
{
    privacy_free(ss->privacy);
    store_close(ss->store);
}

typedef struct import_state {
    session *ss;
    long in_batch;
    int64_t now_ms; /* when consent traits in the file are recorded */
} import_state;

static int import_row_cb(void *ctx, const import_row *row)
{
    import_state *st = ctx;
    store *s = st->ss->store;
    if (privacy_apply_object(st->ss->privacy, s, row->profile_id, row->traits)) return -1;
    if (consent_from_object(s, row->profile_id, row->traits, st->now_ms, "import"))
        return -1;
    if (++st->in_batch < IMPORT_BATCH) return 0;
    st->in_batch = 0;
    return store_commit(s) || store_begin(s) ? -1 : 0;
}

static int import_file(session *ss, const char *path)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) return log_error("cannot open %s: %m", path), EXIT_FAILURE_RUNTIME;
    import_state st = {ss, 0, time_wall_ms()};
    import_stats stats = {0};
    int rc = store_begin(ss->store);
    if (!rc)
        rc = import_stream(in, strcmp(path, "-") ? path : "stdin", import_row_cb, &st,
                           &stats);
    if (!rc) rc = store_commit(ss->store);
    store_rollback(ss->store);
    if (in != stdin) fclose(in);
    if (!ss->c->quiet)
        printf("profiles %ld imported, %ld rejected\n", rc ? 0 : stats.accepted,
               stats.rejected);
    if (rc) return EXIT_FAILURE_RUNTIME;
    return ss->c->strict && stats.rejected ? EXIT_REJECTED : EXIT_OK;
}

/* Everything held about the person, PII decrypted. */
static cJSON *export_profile(session *ss, const char *id)
{
    store *s = ss->store;
    cJSON *out = cJSON_CreateObject();
    char *text = store_profile_json(s, id, time_wall_ms());
    cJSON *traits = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (traits) privacy_reveal_all(ss->privacy, s, id, traits);
    cJSON_AddStringToObject(out, "id", id);
    cJSON_AddItemToObject(out, "profile", traits ? traits : cJSON_CreateObject());
    char *suppressed = store_suppression_reason(s, id);
    cJSON_AddItemToObject(out, "suppressed",
                          suppressed ? cJSON_CreateString(suppressed)
                                     : cJSON_CreateNull());
    free(suppressed);
    static const struct {
        const char *name, *sql;
    } parts[] = {
        {"linked_ids",
         "SELECT anonymous_id, at_ms FROM identities WHERE profile_id = ?1"},
        {"merges", "SELECT from_id, into_id, at_ms, detail FROM merges"
                   " WHERE from_id = ?1 OR into_id = ?1 ORDER BY rowid"},
        {"events", "SELECT id, message_id, type, name, ts_ms, body AS body_json"
                   " FROM events WHERE profile_id = ?1 ORDER BY ts_ms, id"},
        {"journeys", "SELECT id, journey, version, state, holdout, started_ms, ended_ms,"
                     " goal_ms, pending_kind, pending_event, pending_due_ms, exit_reason,"
                     " error FROM instances WHERE profile_id = ?1 ORDER BY id"},
        {"journey_history", "SELECT instance_id, seq, kind, result AS result_json"
                            " FROM history WHERE instance_id IN (SELECT id FROM instances"
                            " WHERE profile_id = ?1) ORDER BY instance_id, seq"},
        {"messages",
         "SELECT id, idempotency_key, instance_id, journey, channel, template,"
         " vars AS vars_json, status, created_ms, updated_ms FROM outbox"
         " WHERE profile_id = ?1 ORDER BY id"},
        {"message_log", "SELECT instance_id, journey, channel, template, outcome, reason,"
                        " at_ms FROM message_log WHERE profile_id = ?1 ORDER BY id"},
        {"consent", STORE_CONSENT_HISTORY_SQL}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        cJSON_AddItemToObject(out, parts[i].name, store_rows_json(s, parts[i].sql, id));
    return out;
}

static int export_cmd(session *ss, const char *id)
{
    cJSON *all = export_profile(ss, id);
    char *text = all ? cJSON_Print(all) : NULL;
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(all);
    return text ? EXIT_OK : EXIT_FAILURE_RUNTIME;
}

static void show_rows(const char *title, cJSON *rows, const char *const *keys)
{
    printf("%s: %d\n", title, cJSON_GetArraySize(rows));
    for (cJSON *row = rows ? rows->child : NULL; row; row = row->next) {
        printf("  ");
        for (int k = 0; keys[k]; k++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(row, keys[k]);
            char *t = v && !cJSON_IsNull(v) ? cJSON_PrintUnformatted(v) : NULL;
            if (t) printf("%s%s=%s", k ? " " : "", keys[k], t);
            free(t);
        }
        printf("\n");
    }
}

/* The human view: masked traits, computed traits, journeys, messages. */
static int show_cmd(session *ss, const char *id)
{
    char *text = store_profile_json(ss->store, id, time_wall_ms());
    cJSON *profile = text ? cJSON_Parse(text) : NULL, *all = export_profile(ss, id);
    free(text);
    printf("profile %s\n", id);
    for (cJSON *t = profile ? profile->child : NULL; t; t = t->next) {
        char *v = cJSON_PrintUnformatted(t);
        printf("  %-22s %s\n", t->string, v ? v : "");
        free(v);
    }
    cJSON *sup = cJSON_GetObjectItemCaseSensitive(all, "suppressed");
    printf("suppressed: %s\n", cJSON_IsString(sup) ? sup->valuestring : "no");
    static const char *const journeys[] = {
        "id", "journey", "state", "pending_kind", "exit_reason", "error", NULL};
    static const char *const messages[] = {"id",       "journey", "channel",
                                           "template", "status",  NULL};
    static const char *const linked[] = {"anonymous_id", NULL};
    show_rows("linked ids", cJSON_GetObjectItemCaseSensitive(all, "linked_ids"), linked);
    show_rows("journeys", cJSON_GetObjectItemCaseSensitive(all, "journeys"), journeys);
    show_rows("messages", cJSON_GetObjectItemCaseSensitive(all, "messages"), messages);
    printf("events: %d\n",
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(all, "events")));
    cJSON_Delete(profile);
    cJSON_Delete(all);
    return EXIT_OK;
}

/* Erasure, then a checkpoint so that no old page of the person's rows
 * stays behind in the write-ahead log; deleted content is zeroed
 * (secure_delete). */
static int forget_cmd(session *ss, const char *id)
{
    store *s = ss->store;
    int rc = store_run(s, "PRAGMA secure_delete = ON", NULL, NULL, 0) || store_begin(s) ||
             store_profile_forget(s, id, time_wall_ms()) || store_commit(s);
    store_rollback(s);
    if (rc) return EXIT_FAILURE_RUNTIME;
    store_run(s, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, 0);
    printf("forgot profile %s: data key destroyed; traits, events, history and message "
           "log deleted; journeys and queued messages cancelled; email and phone kept "
           "as blind-index suppression entries\n",
           id);
    return EXIT_OK;
}

int cmd_profile(cli *c)
{
    const char *sub = c->arg_count == 2 ? c->args[0] : NULL;
    if (!sub || (strcmp(sub, "import") && strcmp(sub, "show") && strcmp(sub, "export") &&
                 strcmp(sub, "forget"))) {
        fprintf(stderr, "nudge: usage: nudge profile import FILE | show ID | export ID |"
                        " forget ID\n");
        return EXIT_USAGE;
    }
    session ss;
    int rc = EXIT_FAILURE_RUNTIME;
    if (strcmp(sub, "import") && cli_require_db(c)) return rc;
    if (open_session(c, &ss)) return close_session(&ss), rc;
    if (!strcmp(sub, "import")) {
        rc = import_file(&ss, c->args[1]);
    } else {
        char *id = cli_find_profile(ss.privacy, ss.store, c->args[1]);
        if (!id)
            log_error("no profile matches %s",
                      strchr(c->args[1], '@') ? "that email" : c->args[1]);
        else if (!strcmp(sub, "show"))
            rc = show_cmd(&ss, id);
        else if (!strcmp(sub, "export"))
            rc = export_cmd(&ss, id);
        else
            rc = forget_cmd(&ss, id);
        free(id);
    }
    close_session(&ss);
    return rc;
}
