/* Store: rows as JSON, for `nudge profile export` and `show`. */
#include "store_internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

/* The length of NAME without a "_json" suffix, or 0 when it has none. */
static size_t json_column(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, "_json") ? n - 5 : 0;
}

/* One column's value; columns named *_json hold JSON text and are parsed. */
static cJSON *column_value(sqlite3_stmt *st, int col)
{
    switch (sqlite3_column_type(st, col)) {
    case SQLITE_INTEGER:
        return cJSON_CreateNumber((double)sqlite3_column_int64(st, col));
    case SQLITE_FLOAT:
        return cJSON_CreateNumber(sqlite3_column_double(st, col));
    case SQLITE_TEXT: {
        const char *text = (const char *)sqlite3_column_text(st, col);
        cJSON *parsed =
            json_column(sqlite3_column_name(st, col)) ? cJSON_Parse(text) : NULL;
        return parsed ? parsed : cJSON_CreateString(text);
    }
    default:
        return cJSON_CreateNull();
    }
}

cJSON *store_rows_json(store *s, const char *sql, const char *id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL)) {
        store_fail(s, "export");
        return NULL;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    cJSON *rows = cJSON_CreateArray();
    while (rows && sqlite3_step(st) == SQLITE_ROW) {
        cJSON *row = cJSON_CreateObject();
        for (int i = 0; row && i < sqlite3_column_count(st); i++) {
            const char *name = sqlite3_column_name(st, i);
            size_t n = json_column(name);
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)(n ? n : strlen(name)), name);
            cJSON_AddItemToObject(row, key, column_value(st, i));
        }
        cJSON_AddItemToArray(rows, row);
    }
    sqlite3_finalize(st);
    return rows;
}
