/* Store: events (de-duplicated by messageId), profiles and their traits,
 * and recipe versions kept by content hash. */
#include "log.h"
#include "store_internal.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

int store_event_insert(store *s, const char *message_id, const char *type,
                       const char *name, const char *profile_id, const char *user_id,
                       const char *anonymous_id, int64_t ts_ms, const char *json,
                       int json_len)
{
    sqlite3_stmt *st = store_stmt(s, STMT_EVENT_INSERT,
                                  "INSERT INTO events (message_id, type, name,"
                                  " profile_id, user_id, anonymous_id, ts_ms, body,"
                                  " revenue) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                                  " CASE WHEN ?3 = 'Order Completed' THEN coalesce("
                                  "json_extract(?8, '$.properties.revenue'),"
                                  " json_extract(?8, '$.properties.total')) END)"
                                  " ON CONFLICT (message_id) DO NOTHING");
    if (!st) return -1;
    store_bind_text(st, 1, message_id);
    store_bind_text(st, 2, type);
    store_bind_text(st, 3, name);
    store_bind_text(st, 4, profile_id);
    store_bind_text(st, 5, user_id);
    store_bind_text(st, 6, anonymous_id);
    sqlite3_bind_int64(st, 7, ts_ms);
    sqlite3_bind_text(st, 8, json, json_len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) return store_fail(s, "insert event");
    return sqlite3_changes(store_db(s)) ? 1 : 0;
}

int64_t store_last_insert_id(store *s)
{
    return sqlite3_last_insert_rowid(store_db(s));
}

char *store_event_body(store *s, int64_t event_id)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_EVENT_BODY, "SELECT body FROM events WHERE id = ?");
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, event_id);
    return store_text_row(st);
}

/* identify merges traits as a JSON merge patch (RFC 7396): nested objects
 * such as `consent` merge key by key, and null removes a trait. */
int store_profile_merge_traits(store *s, const char *profile_id, const char *traits_json)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_TRAITS_SET,
                   "INSERT INTO profiles (id, traits) VALUES (?1, json_patch('{}', ?2))"
                   " ON CONFLICT (id) DO UPDATE SET traits = json_patch(traits, ?2)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, traits_json, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "merge traits");
}

char *store_profile_trait(store *s, const char *profile_id, const char *trait)
{
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_TRAIT,
                                  "SELECT json_extract(traits, '$.' || ?) FROM profiles"
                                  " WHERE id = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, trait, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, profile_id, -1, SQLITE_STATIC);
    return store_text_row(st);
}

char *store_profile_context_timezone(store *s, const char *profile_id)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_PROFILE_CONTEXT_TZ,
        "SELECT json_extract(body, '$.context.timezone') AS tz FROM events"
        " WHERE profile_id = ? AND tz IS NOT NULL ORDER BY ts_ms DESC LIMIT 1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    return store_text_row(st);
}

int64_t store_event_count(store *s, const char *profile_id, const char *event,
                          int64_t since_ms, int64_t until_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_EVENT_COUNT,
                                  "SELECT count(*) FROM events WHERE profile_id = ?"
                                  " AND name = ? AND ts_ms > ? AND ts_ms <= ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, since_ms);
    sqlite3_bind_int64(st, 4, until_ms);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

char *store_event_last(store *s, const char *profile_id, const char *event,
                       int64_t until_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_EVENT_LAST,
                   "SELECT body FROM events WHERE profile_id = ?"
                   " AND name = ? AND ts_ms <= ? ORDER BY ts_ms DESC, id DESC"
                   " LIMIT 1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, until_ms);
    return store_text_row(st);
}

int store_recipe_put(store *s, const char *hash, const char *name, const char *path,
                     const char *source, int64_t now_ms)
{
    sqlite3_stmt *st = store_stmt(s, STMT_RECIPE_PUT,
                                  "INSERT OR IGNORE INTO recipe_versions"
                                  " (hash, name, path, source, first_loaded_ms)"
                                  " VALUES (?, ?, ?, ?, ?)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "save recipe version");
}

int store_recipe_set_templates(store *s, const char *hash, const char *templates_json)
{
    sqlite3_stmt *st = store_stmt(s, STMT_RECIPE_TEMPLATES,
                                  "UPDATE recipe_versions SET templates = ? WHERE hash = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, templates_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "save recipe templates");
}

int store_recipe_get(store *s, const char *hash, char **source, char **path)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_RECIPE_GET, "SELECT source, path FROM recipe_versions WHERE hash = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_fail(s, "load recipe version");
    *source = store_column_dup(st, 0);
    *path = store_column_dup(st, 1);
    sqlite3_reset(st);
    return 1;
}
