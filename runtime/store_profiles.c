/* Store: profiles and what is kept about a person — traits, computed
 * traits (read from the events index), encrypted PII rows and the sealed
 * keys behind them, blind-index lookups, the suppression list, and
 * anonymous ids linked to profiles. */
#include "log.h"
#include "store_internal.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORDER_EVENT "Order Completed"
#define DAY_MS 86400000LL

typedef struct text_buf {
    char *text;
    size_t len, cap;
} text_buf;

/* Appends LEN bytes; on allocation failure the buffer is dropped (text
 * NULL) and later appends do nothing. */
static void put_text(text_buf *b, const char *text, size_t len)
{
    if (!b->text && b->cap) return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = (b->len + len + 1) * 2 + 256;
        char *bigger = realloc(b->text, cap);
        if (!bigger) return free(b->text), (void)(b->text = NULL, b->cap = 1);
        b->text = bigger, b->cap = cap;
    }
    memcpy(b->text + b->len, text, len);
    b->len += len;
    b->text[b->len] = 0;
}

#define PUT(b, literal) put_text(b, literal, sizeof literal - 1)

/* Integers are written by hand: printf is most of this function's cost. */
static void put_int(text_buf *b, int64_t v)
{
    char digits[24], *at = digits + sizeof digits;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--at = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--at = '-';
    put_text(b, at, (size_t)(digits + sizeof digits - at));
}

static void put_member(text_buf *b, const char *name_literal, size_t len, int64_t v)
{
    put_text(b, name_literal, len);
    put_int(b, v);
}

#define PUT_MEMBER(b, literal, v) put_member(b, literal, sizeof literal - 1, v)

/* Appends the computed traits as JSON members (",name":value...) from one
 * pass over the profile's events index (per name: count, first, last);
 * *orders is the order count. */
static int event_stats(store *s, const char *id, int64_t now_ms, text_buf *b,
                       int64_t *orders)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_EVENT_STATS,
                   "SELECT json_quote(name), count(*), min(ts_ms), max(ts_ms)"
                   " FROM events WHERE profile_id = ? GROUP BY name");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int64_t first = INT64_MAX, last = INT64_MIN, last_order = 0;
    int named = 0;
    *orders = 0;
    PUT(b, ",\"events\":{");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1), lo = sqlite3_column_int64(st, 2),
                hi = sqlite3_column_int64(st, 3);
        first = lo < first ? lo : first, last = hi > last ? hi : last;
        if (!strcmp(name, "null")) continue; /* identify and other unnamed calls */
        if (named++) PUT(b, ",");
        put_text(b, name, strlen(name));
        PUT_MEMBER(b, ":{\"count\":", n);
        PUT_MEMBER(b, ",\"last_at\":", hi / 1000);
        PUT(b, "}");
        if (!strcmp(name, "\"" ORDER_EVENT "\"")) *orders = n, last_order = hi;
    }
    sqlite3_reset(st);
    PUT_MEMBER(b, "},\"order_count\":", *orders);
    if (first != INT64_MAX) {
        PUT_MEMBER(b, ",\"first_seen\":", first / 1000);
        PUT_MEMBER(b, ",\"last_seen\":", last / 1000);
    }
    if (*orders)
        PUT_MEMBER(b, ",\"days_since_last_order\":", (now_ms - last_order) / DAY_MS);
    return 0;
}

static double revenue_total(store *s, const char *id)
{
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_REVENUE,
                                  "SELECT total(revenue) FROM events"
                                  " WHERE profile_id = ? AND name = '" ORDER_EVENT "'");
    double sum = 0;
    if (!st) return 0;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) sum = sqlite3_column_double(st, 0);
    sqlite3_reset(st);
    return sum;
}

/* The stored traits without members named like computed ones, and with
 * "id", as JSON text missing its closing brace (malloc'd). */
static char *open_traits(store *s, const char *id)
{
    static const char *computed[] = {
        "id",          "first_seen",    "last_seen",
        "order_count", "revenue_total", "days_since_last_order",
        "events"};
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_GET, "SELECT traits FROM profiles WHERE id = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char *traits = store_text_row(st);
    cJSON *obj = cJSON_Parse(traits ? traits : "{}");
    free(traits);
    if (!cJSON_IsObject(obj)) cJSON_Delete(obj), obj = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof computed / sizeof *computed; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(obj, computed[i]);
    cJSON_AddStringToObject(obj, "id", id);
    char *text = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (text) text[strlen(text) - 1] = 0; /* the closing brace */
    return text;
}

/* Computed traits are read from the events index when asked for, so they
 * are always current, follow events when profiles merge, and recording an
 * event never rewrites its profile.  They replace traits of the same
 * name.  Built as text: cJSON prints numbers slowly. */
char *store_profile_json(store *s, const char *profile_id, int64_t now_ms)
{
    int64_t orders = 0;
    char *traits = open_traits(s, profile_id);
    if (!traits) return NULL;
    text_buf b = {0};
    put_text(&b, traits, strlen(traits));
    free(traits);
    if (event_stats(s, profile_id, now_ms, &b, &orders)) return free(b.text), NULL;
    double revenue = orders ? revenue_total(s, profile_id) : 0;
    char number[40];
    snprintf(number, sizeof number, "%.15g", revenue);
    if (strtod(number, NULL) != revenue)
        snprintf(number, sizeof number, "%.17g", revenue);
    PUT(&b, ",\"revenue_total\":");
    put_text(&b, number, strlen(number));
    PUT(&b, "}");
    return b.text;
}

int store_profile_exists(store *s, const char *profile_id)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_EXISTS,
                   "SELECT EXISTS (SELECT 1 FROM profiles WHERE id = ?1)"
                   " OR EXISTS (SELECT 1 FROM events WHERE profile_id = ?1)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_reset(st);
    return found;
}

/* Both sides walk an index in id order and SQLite merges them (MERGE
 * UNION), so LIMIT stops the walk after the page.  ?2 admits AFTER itself,
 * for the first page (an id may be ""). */
int store_profile_page(store *s, const char *after, char **ids, int max)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_PAGE,
                   "SELECT id FROM profiles WHERE id >= ?1 AND (id > ?1 OR ?2)"
                   " UNION SELECT profile_id FROM events WHERE profile_id >= ?1"
                   " AND (profile_id > ?1 OR ?2) ORDER BY 1 LIMIT ?3");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, !after);
    sqlite3_bind_int(st, 3, max);
    int n = 0, rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!(ids[n] = store_column_dup(st, 0))) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        while (n)
            free(ids[--n]);
        if (rc == SQLITE_NOMEM) log_error("store: walk profiles: out of memory");
        int failed = rc == SQLITE_NOMEM ? -1 : store_fail(s, "walk profiles");
        sqlite3_reset(st);
        return failed;
    }
    sqlite3_reset(st);
    return n;
}

/* A blob column into `out` (exactly `len` bytes): 1, 0 for no row, -1. */
static int blob_row(store *s, sqlite3_stmt *st, unsigned char *out, size_t len)
{
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) {
        memcpy(out, sqlite3_column_blob(st, 0), len);
        found = 1;
    } else if (rc == SQLITE_ROW) {
        found = -1;
        log_error("store: a sealed key has the wrong length");
    } else if (rc != SQLITE_DONE) {
        found = store_fail(s, "read sealed key");
    }
    sqlite3_reset(st);
    return found;
}

int store_secret_get(store *s, const char *name, unsigned char *sealed, size_t len)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_SECRET_GET, "SELECT sealed FROM secrets WHERE name = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return blob_row(s, st, sealed, len);
}

int store_secret_put(store *s, const char *name, const unsigned char *sealed, size_t len)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_SECRET_PUT,
                   "INSERT OR REPLACE INTO secrets (name, sealed) VALUES (?, ?)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, sealed, (int)len, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "save secret");
}

int store_profile_secret_get(store *s, const char *profile_id, unsigned char *sealed,
                             size_t sealed_len, unsigned char **pii, size_t *pii_len)
{
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_SECRET_GET,
                                  "SELECT sealed_key, pii FROM profiles WHERE id = ?");
    *pii = NULL, *pii_len = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        found = (size_t)sqlite3_column_bytes(st, 0) == sealed_len ? 1 : -1;
        if (found == 1) memcpy(sealed, sqlite3_column_blob(st, 0), sealed_len);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        if (found == 1 && n && (*pii = malloc(n)))
            memcpy(*pii, sqlite3_column_blob(st, 1), n), *pii_len = n;
        if (found < 0)
            log_error("store: profile %s: a sealed key of the wrong length", profile_id);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        found = store_fail(s, "read profile key");
    }
    sqlite3_reset(st);
    return found;
}

static void bind_blob(sqlite3_stmt *st, int index, const void *blob, size_t len)
{
    if (blob)
        sqlite3_bind_blob(st, index, blob, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, index);
}

int store_profile_secret_put(store *s, const char *profile_id, const char *traits_json,
                             const store_secret_row *row)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_PROFILE_SECRET_PUT,
                   "INSERT INTO profiles (id, traits, sealed_key, pii, email_blind,"
                   " phone_blind) VALUES (?1, json_patch('{}', ?2), ?3, ?4, ?5, ?6)"
                   " ON CONFLICT (id) DO UPDATE SET traits = json_patch(traits, ?2),"
                   " sealed_key = ?3, pii = ?4, email_blind = ?5, phone_blind = ?6");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, traits_json, -1, SQLITE_STATIC);
    bind_blob(st, 3, row->sealed, row->sealed_len);
    bind_blob(st, 4, row->pii, row->pii_len);
    bind_blob(st, 5, row->email_blind, 32);
    bind_blob(st, 6, row->phone_blind, 32);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "save profile");
}

int store_profile_sealed_next(store *s, char *after, size_t after_len,
                              unsigned char *sealed, size_t sealed_len)
{
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_SEALED_NEXT,
                                  "SELECT id, sealed_key FROM profiles WHERE id > ?"
                                  " AND sealed_key NOT NULL ORDER BY id LIMIT 1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, after, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 1) == sealed_len) {
        snprintf(after, after_len, "%s", (const char *)sqlite3_column_text(st, 0));
        memcpy(sealed, sqlite3_column_blob(st, 1), sealed_len);
        found = 1;
    } else if (rc == SQLITE_ROW) {
        found = -1;
    }
    sqlite3_reset(st);
    return found;
}

int store_profile_sealed_set(store *s, const char *profile_id,
                             const unsigned char *sealed, size_t len)
{
    sqlite3_stmt *st = store_stmt(s, STMT_PROFILE_SEALED_SET,
                                  "UPDATE profiles SET sealed_key = ? WHERE id = ?");
    if (!st) return -1;
    sqlite3_bind_blob(st, 1, sealed, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, profile_id, -1, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "re-seal profile key");
}

char *store_profile_find(store *s, const char *kind, const unsigned char digest[32])
{
    int email = !strcmp(kind, "email");
    sqlite3_stmt *st =
        email ? store_stmt(s, STMT_FIND_EMAIL,
                           "SELECT id FROM profiles WHERE email_blind = ? ORDER BY id")
              : store_stmt(s, STMT_FIND_PHONE,
                           "SELECT id FROM profiles WHERE phone_blind = ? ORDER BY id");
    if (!st) return NULL;
    sqlite3_bind_blob(st, 1, digest, 32, SQLITE_STATIC);
    return store_text_row(st);
}

/* The reason one of the profile's addresses is on the suppression list
 * (malloc'd), or NULL; the email's first.  The profile row is read once
 * (every message is screened twice, at queue and at delivery). */
char *store_suppression_reason(store *s, const char *profile_id)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_SUPPRESSED,
        "SELECT coalesce("
        "(SELECT reason FROM suppressions WHERE kind = 'email' AND digest = p.email_blind),"
        "(SELECT reason FROM suppressions WHERE kind = 'phone' AND digest = p.phone_blind))"
        " FROM profiles AS p WHERE p.id = ?1");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC);
    return store_text_row(st);
}

char *store_suppression_of(store *s, const char *kind, const unsigned char digest[32])
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_SUPPRESSION_OF,
                   "SELECT reason FROM suppressions WHERE kind = ? AND digest = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, 32, SQLITE_STATIC);
    return store_text_row(st);
}

int store_suppress(store *s, const char *kind, const unsigned char digest[32],
                   const char *reason, int64_t now_ms)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_SUPPRESS,
                   "INSERT INTO suppressions (kind, digest, reason, at_ms)"
                   " VALUES (?, ?, ?, ?) ON CONFLICT (kind, digest) DO UPDATE"
                   " SET reason = excluded.reason, at_ms = excluded.at_ms"
                   " WHERE reason <> 'forgotten'");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "suppress");
}

int store_unsuppress(store *s, const char *kind, const unsigned char digest[32])
{
    sqlite3_stmt *st = store_stmt(s, STMT_UNSUPPRESS,
                                  "DELETE FROM suppressions WHERE kind = ? AND digest = ?"
                                  " AND reason <> 'forgotten'");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, digest, 32, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "unsuppress");
}

char *store_identity_resolve(store *s, const char *anonymous_id)
{
    sqlite3_stmt *st = store_stmt(
        s, STMT_IDENTITY_GET, "SELECT profile_id FROM identities WHERE anonymous_id = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, anonymous_id, -1, SQLITE_STATIC);
    return store_text_row(st);
}

int store_identity_link(store *s, const char *anonymous_id, const char *profile_id,
                        int64_t now_ms)
{
    return store_run(s,
                     "INSERT OR IGNORE INTO identities (anonymous_id, profile_id, at_ms)"
                     " VALUES (?1, ?2, ?3)",
                     anonymous_id, profile_id, now_ms);
}
