/* Store: the transactional outbox and the message log. */
#include "log.h"
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

int store_outbox_insert(store *s, const char *key, int64_t instance_id,
                        const char *journey, const char *profile_id, const char *channel,
                        const char *template_name, const char *vars_json,
                        int64_t created_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_OUTBOX_INSERT,
                   "INSERT INTO outbox (idempotency_key, instance_id, journey,"
                   " profile_id, channel, template, vars, created_ms)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return -1;
    store_bind_text(st, 1, key);
    sqlite3_bind_int64(st, 2, instance_id);
    store_bind_text(st, 3, journey);
    store_bind_text(st, 4, profile_id);
    store_bind_text(st, 5, channel);
    store_bind_text(st, 6, template_name);
    store_bind_text(st, 7, vars_json);
    sqlite3_bind_int64(st, 8, created_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "queue message");
}

int store_outbox_hold(store *s, const char *key, const char *purpose,
                      int64_t not_before_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_OUTBOX_HOLD,
                   "UPDATE outbox SET purpose = ?1, not_before_ms = ?2,"
                   " status = CASE WHEN ?2 > 0 THEN 'deferred' ELSE status END"
                   " WHERE idempotency_key = ?3");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, purpose, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, not_before_ms);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "hold message");
}

int store_outbox_release(store *s, int64_t now_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_RELEASE,
                                  "UPDATE outbox SET status = 'queued'"
                                  " WHERE status = 'deferred' AND not_before_ms <= ?");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    if (sqlite3_step(st) != SQLITE_DONE)
        return store_fail(s, "release deferred messages");
    return sqlite3_changes(store_db(s));
}

int store_outbox_release_retries(store *s, int64_t wall_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_RETRIES,
                                  "UPDATE outbox SET status = 'queued'"
                                  " WHERE status = 'retry' AND retry_at_ms <= ?");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, wall_ms);
    if (sqlite3_step(st) != SQLITE_DONE) return store_fail(s, "release retries");
    return sqlite3_changes(store_db(s));
}

int store_outbox_due(store *s, int64_t now_ms, int64_t wall_ms)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_OUTBOX_DUE,
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'deferred'"
        " AND not_before_ms <= ?1) OR EXISTS (SELECT 1 FROM outbox"
        " WHERE status = 'retry' AND retry_at_ms <= ?2)");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, wall_ms);
    int due = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st); /* an open statement would pin an old snapshot */
    return due < 0 ? store_fail(s, "outbox due") : due;
}

int64_t store_outbox_depth(store *s)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_DEPTH,
                                  "SELECT count(*) FROM outbox WHERE status IN"
                                  " ('queued', 'sending', 'retry', 'deferred')");
    if (!st) return -1;
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

int64_t store_outbox_next_retry(store *s)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_NEXT_RETRY,
                                  "SELECT coalesce(min(retry_at_ms), 0) FROM outbox"
                                  " WHERE status = 'retry'");
    if (!st) return -1;
    int64_t at = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return at;
}

int store_outbox_outcome(store *s, int64_t id, const char *status, int attempts,
                         int64_t retry_at_ms, const char *response, int64_t at_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_OUTCOME,
                                  "UPDATE outbox SET status = ?, attempts = ?,"
                                  " retry_at_ms = ?, response = ?, updated_ms = ?"
                                  " WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, retry_at_ms);
    store_bind_text(st, 4, response);
    sqlite3_bind_int64(st, 5, at_ms);
    sqlite3_bind_int64(st, 6, id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "outbox outcome");
}

int store_outbox_fetch(store *s, const char *status, int max, outbox_message **out,
                       int *count)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_OUTBOX_FETCH,
                   "SELECT o.id, o.instance_id, o.created_ms, o.idempotency_key,"
                   " o.journey, o.profile_id, o.channel, o.template, o.vars, o.purpose,"
                   " o.attempts, r.path, r.templates FROM outbox o"
                   " LEFT JOIN instances i ON i.id = o.instance_id"
                   " LEFT JOIN recipe_versions r ON r.hash = i.version"
                   " WHERE o.status = ? ORDER BY o.id LIMIT ?");
    int rc;
    *count = 0;
    if (!st || !(*out = calloc((size_t)max, sizeof **out))) return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        outbox_message *m = &(*out)[(*count)++];
        m->id = sqlite3_column_int64(st, 0);
        m->instance_id = sqlite3_column_int64(st, 1);
        m->created_ms = sqlite3_column_int64(st, 2);
        m->idempotency_key = store_column_dup(st, 3);
        m->journey = store_column_dup(st, 4);
        m->profile_id = store_column_dup(st, 5);
        m->channel = store_column_dup(st, 6);
        m->template_name = store_column_dup(st, 7);
        m->vars_json = store_column_dup(st, 8);
        m->purpose = store_column_dup(st, 9);
        m->attempts = sqlite3_column_int(st, 10);
        m->recipe_path = store_column_dup(st, 11);
        m->recipe_templates = store_column_dup(st, 12);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_outbox_free(*out, *count), store_fail(s, "outbox");
    return 0;
}

void store_outbox_free(outbox_message *msgs, int count)
{
    for (int i = 0; i < count; i++) {
        outbox_message *m = &msgs[i];
        free(m->idempotency_key), free(m->journey), free(m->profile_id);
        free(m->channel), free(m->template_name), free(m->vars_json), free(m->purpose);
        free(m->recipe_path), free(m->recipe_templates);
    }
    free(msgs);
}

int store_outbox_set_status(store *s, int64_t id, const char *status, int64_t at_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_OUTBOX_STATUS,
                   "UPDATE outbox SET status = ?, updated_ms = ? WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_int64(st, 3, id);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "outbox status");
}

int store_outbox_move(store *s, int64_t first, int64_t last, const char *from,
                      const char *to, int64_t at_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_OUTBOX_MOVE,
                                  "UPDATE outbox SET status = ?, updated_ms = ?"
                                  " WHERE id BETWEEN ? AND ? AND status = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at_ms);
    sqlite3_bind_int64(st, 3, first);
    sqlite3_bind_int64(st, 4, last);
    sqlite3_bind_text(st, 5, from, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) return store_fail(s, "outbox status");
    return sqlite3_changes(store_db(s));
}

int64_t store_message_count(store *s, const char *profile_id, const char *channel,
                            const char *journey, int64_t after_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_MESSAGE_COUNT,
                                  "SELECT count(*) FROM message_log WHERE profile_id = ?1"
                                  " AND at_ms > ?2 AND outcome IN ('queued', 'deferred')"
                                  " AND (?3 IS NULL OR channel = ?3)"
                                  " AND (?4 IS NULL OR journey = ?4)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after_ms);
    store_bind_text(st, 3, channel);
    store_bind_text(st, 4, journey);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

int store_message_log(store *s, const message_log_row *row)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_MESSAGE_LOG,
                   "INSERT INTO message_log (instance_id, profile_id, journey,"
                   " channel, template, outcome, reason, detail, at_ms)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st) return -1;
    sqlite3_bind_int64(st, 1, row->instance_id);
    store_bind_text(st, 2, row->profile_id);
    store_bind_text(st, 3, row->journey);
    store_bind_text(st, 4, row->channel);
    store_bind_text(st, 5, row->template_name);
    store_bind_text(st, 6, row->outcome);
    store_bind_text(st, 7, row->reason && row->reason[0] ? row->reason : NULL);
    store_bind_text(st, 8, row->detail && row->detail[0] ? row->detail : NULL);
    sqlite3_bind_int64(st, 9, row->at_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "message log");
}
