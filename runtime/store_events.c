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
                                  "INSERT OR IGNORE INTO events (message_id, type, name,"
                                  " profile_id, user_id, anonymous_id, ts_ms, body)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
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

int store_profile_touch(store *s, const char *profile_id, int64_t ts_ms)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_PROFILE_TOUCH,
        "INSERT INTO profiles (id, first_seen_ms, last_seen_ms) VALUES (?1, ?2, ?2)"
        " ON CONFLICT (id) DO UPDATE SET"
        " first_seen_ms = min(first_seen_ms, ?2), last_seen_ms = max(last_seen_ms, ?2)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ts_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "touch profile");
}

/* Copies each member of `traits` over `into` (a shallow merge). */
static void merge_members(cJSON *into, cJSON *traits)
{
    for (cJSON *item = traits->child; item; item = item->next) {
        cJSON *copy = cJSON_Duplicate(item, 1);
        if (!copy) continue;
        if (cJSON_GetObjectItemCaseSensitive(into, item->string))
            cJSON_ReplaceItemInObjectCaseSensitive(into, item->string, copy);
        else
            cJSON_AddItemToObject(into, item->string, copy);
    }
}

int store_profile_merge_traits(store *s, const char *profile_id, const char *traits_json)
{
    cJSON *traits = cJSON_Parse(traits_json), *current = NULL;
    char *merged = NULL;
    int rc = -1;
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_TRAITS_GET,
                                  "SELECT traits FROM profiles WHERE id = ?");
    if (!st || !cJSON_IsObject(traits)) goto done;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        current = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    if (!cJSON_IsObject(current)) {
        cJSON_Delete(current);
        current = cJSON_CreateObject();
    }
    merge_members(current, traits);
    merged = cJSON_PrintUnformatted(current);
    st = store_stmt(s, STMT_PROFILE_TRAITS_SET,
                    "INSERT INTO profiles (id, traits) VALUES (?1, ?2)"
                    " ON CONFLICT (id) DO UPDATE SET traits = ?2");
    if (!st || !merged) goto done;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, merged, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "merge traits");
done:
    cJSON_Delete(traits);
    cJSON_Delete(current);
    free(merged);
    return rc;
}

char *store_profile_json(store *s, const char *profile_id)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_PROFILE_GET,
        "SELECT traits, first_seen_ms, last_seen_ms FROM profiles WHERE id = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) return NULL;
    cJSON *profile = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
    if (!cJSON_IsObject(profile)) {
        cJSON_Delete(profile);
        profile = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(profile, "id");
    cJSON_AddStringToObject(profile, "id", profile_id);
    cJSON_AddNumberToObject(profile, "first_seen", (double)(sqlite3_column_int64(st, 1) / 1000));
    cJSON_AddNumberToObject(profile, "last_seen", (double)(sqlite3_column_int64(st, 2) / 1000));
    char *text = cJSON_PrintUnformatted(profile);
    cJSON_Delete(profile);
    return text;
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

int store_recipe_get(store *s, const char *hash, char **source, char **path)
{
    sqlite3_stmt *st = store_stmt(s, STMT_RECIPE_GET,
                                  "SELECT source, path FROM recipe_versions WHERE hash = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return store_fail(s, "load recipe version");
    *source = store_column_dup(st, 0);
    *path = store_column_dup(st, 1);
    return 1;
}
