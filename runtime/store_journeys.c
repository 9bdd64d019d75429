/* Store: journey instances, their history of j: calls, and timers. */
#include "log.h"
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#define INSTANCE_COLUMNS                                                                 \
    "id, journey, version, profile_id, state, holdout, started_ms, ended_ms, goal_ms,"   \
    " trigger_event, steps, pending_kind, pending_event, pending_due_ms, pending_line,"  \
    " exit_reason, error"

static void bind_instance(sqlite3_stmt *st, const instance *in)
{
    store_bind_text(st, 1, in->journey);
    store_bind_text(st, 2, in->version);
    store_bind_text(st, 3, in->profile_id);
    sqlite3_bind_int(st, 4, in->state);
    sqlite3_bind_int(st, 5, in->holdout);
    sqlite3_bind_int64(st, 6, in->started_ms);
    sqlite3_bind_int64(st, 7, in->ended_ms);
    sqlite3_bind_int64(st, 8, in->goal_ms);
    sqlite3_bind_int64(st, 9, in->trigger_event_id);
    sqlite3_bind_int(st, 10, in->steps);
    store_bind_text(st, 11, in->pending_kind);
    store_bind_text(st, 12, in->pending_event);
    sqlite3_bind_int64(st, 13, in->pending_due_ms);
    sqlite3_bind_int(st, 14, in->pending_line);
    store_bind_text(st, 15, in->exit_reason);
    store_bind_text(st, 16, in->error);
}

static void read_instance(sqlite3_stmt *st, instance *out)
{
    out->id = sqlite3_column_int64(st, 0);
    out->journey = store_column_dup(st, 1);
    out->version = store_column_dup(st, 2);
    out->profile_id = store_column_dup(st, 3);
    out->state = sqlite3_column_int(st, 4);
    out->holdout = sqlite3_column_int(st, 5);
    out->started_ms = sqlite3_column_int64(st, 6);
    out->ended_ms = sqlite3_column_int64(st, 7);
    out->goal_ms = sqlite3_column_int64(st, 8);
    out->trigger_event_id = sqlite3_column_int64(st, 9);
    out->trigger_json = NULL;
    out->steps = sqlite3_column_int(st, 10);
    out->pending_kind = store_column_dup(st, 11);
    out->pending_event = store_column_dup(st, 12);
    out->pending_due_ms = sqlite3_column_int64(st, 13);
    out->pending_line = sqlite3_column_int(st, 14);
    out->exit_reason = store_column_dup(st, 15);
    out->error = store_column_dup(st, 16);
}

void store_instance_free(instance *in)
{
    free(in->journey), free(in->version), free(in->profile_id), free(in->trigger_json);
    free(in->pending_kind), free(in->pending_event), free(in->exit_reason),
        free(in->error);
    memset(in, 0, sizeof *in);
}

int store_instance_insert(store *s, instance *in)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_INSTANCE_INSERT,
        "INSERT INTO instances (journey, version, profile_id, state, holdout, started_ms,"
        " ended_ms, goal_ms, trigger_event, steps, pending_kind, pending_event, "
        "pending_due_ms,"
        " pending_line, exit_reason, error, id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return -1;
    bind_instance(st, in);
    if (in->id > 0) sqlite3_bind_int64(st, 17, in->id); /* else NULL: the next rowid */
    if (sqlite3_step(st) != SQLITE_DONE) return store_fail(s, "insert instance");
    in->id = sqlite3_last_insert_rowid(store_db(s));
    return 0;
}

/* Journey, version, profile, start and trigger never change: not rewritten. */
int store_instance_update(store *s, const instance *in)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_INSTANCE_UPDATE,
        "UPDATE instances SET state = ?, holdout = ?, ended_ms = ?, goal_ms = ?, steps = "
        "?,"
        " pending_kind = ?, pending_event = ?, pending_due_ms = ?, pending_line = ?,"
        " exit_reason = ?, error = ? WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_int(st, 1, in->state);
    sqlite3_bind_int(st, 2, in->holdout);
    sqlite3_bind_int64(st, 3, in->ended_ms);
    sqlite3_bind_int64(st, 4, in->goal_ms);
    sqlite3_bind_int(st, 5, in->steps);
    store_bind_text(st, 6, in->pending_kind);
    store_bind_text(st, 7, in->pending_event);
    sqlite3_bind_int64(st, 8, in->pending_due_ms);
    sqlite3_bind_int(st, 9, in->pending_line);
    store_bind_text(st, 10, in->exit_reason);
    store_bind_text(st, 11, in->error);
    sqlite3_bind_int64(st, 12, in->id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "update instance");
}

int64_t store_instance_next_id(store *s)
{
    return store_scalar(s, "SELECT coalesce(max(id), 0) + 1 FROM instances");
}

int64_t store_instances_live_count(store *s)
{
    return store_scalar(s, "SELECT count(*) FROM instances WHERE state < 2");
}

int store_instance_census(store *s, void (*fn)(void *ctx, const census_row *row),
                          void *ctx)
{
    sqlite3_stmt *st;
    const char *sql =
        "SELECT i.journey, substr(i.version, 1, 12), v.path, i.state,"
        " coalesce(i.pending_kind, ''), i.pending_line, count(*)"
        " FROM instances i LEFT JOIN recipe_versions v ON v.hash = i.version"
        " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 4, 6";
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "census");
    while (sqlite3_step(st) == SQLITE_ROW) {
        census_row row = {(const char *)sqlite3_column_text(st, 0),
                          (const char *)sqlite3_column_text(st, 1),
                          (const char *)sqlite3_column_text(st, 2),
                          (const char *)sqlite3_column_text(st, 4),
                          sqlite3_column_int(st, 3),
                          sqlite3_column_int(st, 5),
                          sqlite3_column_int64(st, 6)};
        fn(ctx, &row);
    }
    sqlite3_finalize(st);
    return 0;
}

int store_instance_load(store *s, int64_t id, instance *out)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_INSTANCE_LOAD, "SELECT " INSTANCE_COLUMNS " FROM instances WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_fail(s, "load instance");
    read_instance(st, out);
    sqlite3_reset(st);
    return 1;
}

/* Reads every instance the query selects (INSTANCE_COLUMNS), then calls
 * fn on each: fn may update instances, which would reset the cursor. */
static int walk_instances(store *s, sqlite3_stmt *st,
                          int (*fn)(void *ctx, instance *inst), void *ctx)
{
    instance *rows = NULL;
    int count = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            instance *bigger =
                realloc(rows, (size_t)(cap = cap ? cap * 2 : 4) * sizeof *rows);
            if (!bigger) break;
            rows = bigger;
        }
        read_instance(st, &rows[count++]);
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE ? 0 : store_fail(s, "live instances");
    for (int i = 0; i < count; i++) {
        if (!rc) rc = fn(ctx, &rows[i]);
        store_instance_free(&rows[i]);
    }
    free(rows);
    return rc;
}

int store_instances_live(store *s, const char *profile_id,
                         int (*fn)(void *ctx, instance *inst), void *ctx)
{
    sqlite3_stmt *st = store_stmt(s, STMT_INSTANCES_LIVE,
                                  "SELECT " INSTANCE_COLUMNS
                                  " FROM instances WHERE profile_id = ? AND state < 2"
                                  " ORDER BY id");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    return walk_instances(s, st, fn, ctx);
}

int store_instances_waiting_for(store *s, const char *profile_id, const char *event,
                                int (*fn)(void *ctx, instance *inst), void *ctx)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_INSTANCES_WAITING,
                   "SELECT " INSTANCE_COLUMNS " FROM instances WHERE profile_id = ?"
                   " AND state < 2 AND pending_event = ? ORDER BY id");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    return walk_instances(s, st, fn, ctx);
}

int store_live_versions(store *s, int (*fn)(void *ctx, const char *hash), void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(store_db(s),
                                "SELECT DISTINCT version FROM instances WHERE state < 2",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) return store_fail(s, "live versions");
    while (!rc && sqlite3_step(st) == SQLITE_ROW)
        rc = fn(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc;
}

/* The person's latest instance of JOURNEY: 1 (fields set), 0 none, -1. */
static int read_latest(store *s, const char *journey, const char *profile_id, int64_t *id,
                       int *state, int64_t *started_ms, int64_t *goal_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_INSTANCE_LATEST,
                                  "SELECT id, state, started_ms, goal_ms FROM instances"
                                  " WHERE journey = ? AND profile_id = ?"
                                  " ORDER BY started_ms DESC, id DESC LIMIT 1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, journey, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, profile_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        *state = sqlite3_column_int(st, 1);
        *started_ms = sqlite3_column_int64(st, 2);
        *goal_ms = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 0;
    return rc == SQLITE_ROW ? 1 : store_fail(s, "latest instance");
}

int store_instance_latest(store *s, const char *journey, const char *profile_id,
                          int *state, int64_t *started_ms)
{
    int64_t id, goal_ms;
    return read_latest(s, journey, profile_id, &id, state, started_ms, &goal_ms);
}

int store_instance_goal_after_end(store *s, const char *journey, const char *profile_id,
                                  int64_t now_ms, int64_t within_ms)
{
    /* a read first: most goal events meet a live instance or a goal
     * already reached, and then nothing is written */
    int64_t id, started, goal;
    int state, found = read_latest(s, journey, profile_id, &id, &state, &started, &goal);
    if (found <= 0) return found;
    if (state < 2 || goal || (within_ms && now_ms - started > within_ms)) return 0;
    sqlite3_stmt *st = store_stmt(s, STMT_INSTANCE_GOAL_SET,
                                  "UPDATE instances SET goal_ms = ? WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "goal after the end");
}

int store_history_load(store *s, int64_t instance_id, history_entry **entries, int *count)
{
    sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_LOAD,
                                  "SELECT kind, result FROM history WHERE instance_id = ?"
                                  " ORDER BY seq");
    int cap = 0, rc;
    *entries = NULL, *count = 0;
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, instance_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*count == cap) {
            history_entry *bigger =
                realloc(*entries, (cap = cap ? cap * 2 : 8) * sizeof **entries);
            if (!bigger) return store_history_free(*entries, *count), -1;
            *entries = bigger;
        }
        (*entries)[*count].kind = store_column_dup(st, 0);
        (*entries)[(*count)++].result = store_column_dup(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_history_free(*entries, *count), store_fail(s, "history");
    return 0;
}

void store_history_free(history_entry *entries, int count)
{
    for (int i = 0; i < count; i++)
        free(entries[i].kind), free(entries[i].result);
    free(entries);
}

int store_history_append(store *s, int64_t instance_id, int seq, const char *kind,
                         const char *result)
{
    sqlite3_stmt *st = store_stmt(s, STMT_HISTORY_APPEND,
                                  "INSERT INTO history (instance_id, seq, kind, result)"
                                  " VALUES (?, ?, ?, ?)");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, instance_id);
    sqlite3_bind_int(st, 2, seq);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, result, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "append history");
}

int store_timer_set(store *s, int64_t instance_id, int64_t due_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_TIMER_SET,
                   "INSERT OR IGNORE INTO timers (due_ms, instance_id) VALUES (?, ?)");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, due_ms);
    sqlite3_bind_int64(st, 2, instance_id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "set timer");
}

int store_timer_clear(store *s, int64_t instance_id, int64_t due_ms)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_TIMER_CLEAR, "DELETE FROM timers WHERE due_ms = ? AND instance_id = ?");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, due_ms);
    sqlite3_bind_int64(st, 2, instance_id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "clear timer");
}

int64_t store_timer_earliest(store *s)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_TIMER_EARLIEST, "SELECT min(due_ms) FROM timers");
    int64_t due = INT64_MAX;
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        due = sqlite3_column_int64(st, 0);
    if (st) sqlite3_reset(st);
    return due;
}

int store_timer_next(store *s, int64_t now_ms, int64_t *instance_id, int64_t *due_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_TIMER_NEXT,
                   "SELECT instance_id, due_ms FROM timers WHERE due_ms <= ?"
                   " ORDER BY due_ms, instance_id LIMIT 1");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_fail(s, "next timer");
    *instance_id = sqlite3_column_int64(st, 0);
    *due_ms = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return 1;
}
