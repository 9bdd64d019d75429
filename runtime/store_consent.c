/* Store: the consent ledger.  Records are appended, never changed (a
 * trigger refuses updates); a person's consent for a channel and purpose
 * is the record with the latest time, ties going to the later record.
 * The rules on top (regimes, dedupe, validation) are in consent.c. */
#include "store_internal.h"

#include <cJSON.h>

int store_consent_append(store *s, const consent_row *r)
{
    sqlite3_stmt *st = store_stmt(s, STMT_CONSENT_APPEND,
                                  "INSERT INTO consent (profile_id, channel, purpose,"
                                  " status, at_ms, source, proof)"
                                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!st) return -1;
    store_bind_text(st, 1, r->profile_id);
    store_bind_text(st, 2, r->channel);
    store_bind_text(st, 3, r->purpose);
    store_bind_text(st, 4, r->status);
    sqlite3_bind_int64(st, 5, r->at_ms);
    store_bind_text(st, 6, r->source);
    store_bind_text(st, 7, r->proof);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "append consent record");
    sqlite3_reset(st);
    return rc;
}

int store_consent_latest(store *s, const char *profile_id, const char *channel,
                         const char *purpose, int64_t at_ms, int *granted)
{
    sqlite3_stmt *st = store_stmt(s, STMT_CONSENT_LATEST,
                                  "SELECT status = 'granted' FROM consent"
                                  " WHERE profile_id = ?1 AND channel = ?2"
                                  " AND purpose = ?3 AND at_ms <= ?4"
                                  " ORDER BY at_ms DESC, id DESC LIMIT 1");
    if (!st) return -1;
    store_bind_text(st, 1, profile_id);
    store_bind_text(st, 2, channel);
    store_bind_text(st, 3, purpose);
    sqlite3_bind_int64(st, 4, at_ms);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *granted = sqlite3_column_int(st, 0);
    rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_fail(s, "read consent");
    sqlite3_reset(st);
    return rc;
}

/* The text of a column, "" for NULL where a record needs a string. */
static const char *column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return text ? (const char *)text : "";
}

int store_consent_history(store *s, const char *profile_id,
                          int (*fn)(void *ctx, const consent_row *r), void *ctx)
{
    sqlite3_stmt *st;
    /* not cached: the callback may walk another profile's history */
    if (sqlite3_prepare_v2(store_db(s), STORE_CONSENT_HISTORY_SQL, -1, &st, NULL))
        return store_fail(s, "consent history");
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    int rc = 0, step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        consent_row r = {.profile_id = profile_id,
                         .channel = column_text(st, 0),
                         .purpose = column_text(st, 1),
                         .status = column_text(st, 2),
                         .at_ms = sqlite3_column_int64(st, 3),
                         .source = column_text(st, 4),
                         .proof = (const char *)sqlite3_column_text(st, 5)};
        rc = fn(ctx, &r);
    }
    if (!rc && step != SQLITE_DONE) rc = store_fail(s, "consent history");
    sqlite3_finalize(st);
    return rc;
}

cJSON *store_consent_json(store *s, const char *profile_id)
{
    return store_rows_json(s, STORE_CONSENT_HISTORY_SQL, profile_id);
}
