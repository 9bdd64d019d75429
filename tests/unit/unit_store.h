/* Shared by the unit tests that open a store: one-value queries. */
#ifndef NUDGE_UNIT_STORE_H
#define NUDGE_UNIT_STORE_H
#include "store.h"

#include <stdint.h>
#include <stdio.h>

/* The first column of the first row as an integer, INT64_MIN for none. */
static inline int64_t query_int(store *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t value = INT64_MIN;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return value;
    if (sqlite3_step(st) == SQLITE_ROW) value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return value;
}

/* The first column of the first row as text, in `buf`. */
static inline const char *query_text(store *s, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st;
    snprintf(buf, len, "(no row)");
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return buf;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(st, 0);
        snprintf(buf, len, "%s", text ? (const char *)text : "(null)");
    }
    sqlite3_finalize(st);
    return buf;
}

#endif
