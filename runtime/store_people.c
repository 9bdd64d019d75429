/* Store: operations on all of a person's rows at once — merging an
 * anonymous profile into the profile it was linked to, and forgetting a
 * person (erasure).  Both run inside the caller's transaction. */
#include "log.h"
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records one merge step in the merges table. */
static int record_merge(store *s, const char *from, const char *into, int64_t now_ms,
                        const char *detail)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s),
                           "INSERT INTO merges (from_id, into_id, at_ms, detail)"
                           " VALUES (?, ?, ?, ?)",
                           -1, &st, NULL))
        return store_fail(s, "record merge");
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, into, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_fail(s, "record merge");
}

/* Ends instance DROP, a duplicate of KEEP. */
static int end_duplicate(store *s, int64_t keep, int64_t drop, int64_t now_ms)
{
    char reason[64], ids[64];
    snprintf(reason, sizeof reason, "merged into instance %lld", (long long)keep);
    snprintf(ids, sizeof ids, "%lld", (long long)drop);
    return store_run(s, "DELETE FROM timers WHERE instance_id = ?2", NULL, ids, 0) ||
                   store_run(s,
                             "UPDATE instances SET state = 3, ended_ms = ?3,"
                             " pending_due_ms = 0, exit_reason = ?1 WHERE id = ?2",
                             reason, ids, now_ms)
               ? -1
               : 0;
}

/* Live instances of FROM whose journey INTO also has live: the newer of
 * each pair ends ("merged into instance N") and the merge is recorded.
 * Returns how many ended, or -1. */
static int end_duplicate_instances(store *s, const char *from, const char *into,
                                   int64_t now_ms)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT a.id, b.id, a.journey FROM instances a JOIN instances b"
                      " ON b.journey = a.journey AND b.profile_id = ?2 AND b.state < 2"
                      " WHERE a.profile_id = ?1 AND a.state < 2";
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL))
        return store_fail(s, "merge");
    sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, into, -1, SQLITE_STATIC);
    int rc = 0, ended = 0;
    while (!rc && sqlite3_step(st) == SQLITE_ROW) {
        int64_t a = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1);
        int64_t keep = a < b ? a : b, drop = a < b ? b : a; /* ids grow with time */
        char detail[300];
        snprintf(detail, sizeof detail, "journey %s: instance %lld kept, %lld ended",
                 (const char *)sqlite3_column_text(st, 2), (long long)keep,
                 (long long)drop);
        rc = end_duplicate(s, keep, drop, now_ms) ||
             record_merge(s, from, into, now_ms, detail);
        ended++;
    }
    sqlite3_finalize(st);
    return rc ? -1 : ended;
}

int store_profile_merge(store *s, const char *from, const char *into, int64_t now_ms)
{
    static const char *const moves[] = {
        "UPDATE events SET profile_id = ?2 WHERE profile_id = ?1",
        "UPDATE instances SET profile_id = ?2 WHERE profile_id = ?1",
        "UPDATE outbox SET profile_id = ?2 WHERE profile_id = ?1",
        "UPDATE message_log SET profile_id = ?2 WHERE profile_id = ?1",
        "UPDATE identities SET profile_id = ?2 WHERE profile_id = ?1",
        "UPDATE consent SET profile_id = ?2 WHERE profile_id = ?1",
        /* traits: the identified profile's win */
        "INSERT INTO profiles (id, traits) SELECT ?2, traits FROM profiles WHERE id = ?1"
        " ON CONFLICT (id) DO UPDATE SET traits = json_patch(excluded.traits, traits)",
        "DELETE FROM profiles WHERE id = ?1", NULL};
    int ended = end_duplicate_instances(s, from, into, now_ms);
    if (ended < 0) return -1;
    for (int i = 0; moves[i]; i++)
        if (store_run(s, moves[i], from, into, 0)) return -1;
    return record_merge(s, from, into, now_ms, "profile merged") ? -1 : ended;
}

int store_profile_forget(store *s, const char *id, int64_t now_ms)
{
    static const char *const steps[] = {
        "INSERT OR IGNORE INTO suppressions (kind, digest, reason, at_ms)"
        " SELECT 'email', email_blind, 'forgotten', ?3 FROM profiles"
        " WHERE id = ?1 AND email_blind NOT NULL",
        "INSERT OR IGNORE INTO suppressions (kind, digest, reason, at_ms)"
        " SELECT 'phone', phone_blind, 'forgotten', ?3 FROM profiles"
        " WHERE id = ?1 AND phone_blind NOT NULL",
        /* the data key goes with the row: crypto-shredding */
        "DELETE FROM profiles WHERE id = ?1", "DELETE FROM events WHERE profile_id = ?1",
        "DELETE FROM identities WHERE profile_id = ?1",
        "DELETE FROM consent WHERE profile_id = ?1",
        "DELETE FROM timers WHERE instance_id IN"
        " (SELECT id FROM instances WHERE profile_id = ?1 AND state < 2)",
        "DELETE FROM history WHERE instance_id IN"
        " (SELECT id FROM instances WHERE profile_id = ?1)",
        "UPDATE instances SET state = 3, ended_ms = ?3, pending_due_ms = 0,"
        " pending_kind = NULL, pending_event = NULL, exit_reason = 'forgotten'"
        " WHERE profile_id = ?1 AND state < 2",
        "UPDATE outbox SET status = 'cancelled', vars = '{}', updated_ms = ?3"
        " WHERE profile_id = ?1 AND status = 'queued'",
        "DELETE FROM message_log WHERE profile_id = ?1", NULL};
    for (int i = 0; steps[i]; i++)
        if (store_run(s, steps[i], id, NULL, now_ms)) return -1;
    return 0;
}
