/* The inbox file (inbox.h): its SQLite connection, rows in and out. */
#include "inbox.h"

#include "log.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INBOX_SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 10000
/* the events in the rows after ?, for the writer and for inbox_waiting */
#define WAITING_SQL "SELECT coalesce(sum(count), 0) FROM inbox WHERE id > ?"

struct inbox {
    sqlite3 *db;
    sqlite3_stmt *add, *prune, *read, *last, *pending;
    unsigned char key[VAULT_KEY_LEN];
};

static const char *const schema =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
    "CREATE TABLE IF NOT EXISTS inbox ("
    "  id INTEGER PRIMARY KEY, count INTEGER NOT NULL, sealed BLOB NOT NULL);";

static int prepare_all(inbox *b)
{
    const char *sql[] = {"INSERT INTO inbox (id, count, sealed) VALUES (?, ?, ?)",
                         "DELETE FROM inbox WHERE id <= ?",
                         "SELECT id, count, sealed FROM inbox WHERE id > ? ORDER BY id",
                         "SELECT coalesce(max(id), 0) FROM inbox", WAITING_SQL};
    sqlite3_stmt **slots[] = {&b->add, &b->prune, &b->read, &b->last, &b->pending};
    for (int i = 0; i < 5; i++)
        if (sqlite3_prepare_v3(b->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, slots[i],
                               NULL))
            return -1;
    return 0;
}

/* A newer nudge's inbox is refused rather than misread. */
static int check_version(inbox *b, char *err, size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(b->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version == 0)
        return sqlite3_exec(b->db, "PRAGMA user_version = 1", NULL, NULL, NULL) ? -1 : 0;
    if (version == INBOX_SCHEMA_VERSION) return 0;
    snprintf(err, err_len, "its schema version is %d; this nudge knows %d", version,
             INBOX_SCHEMA_VERSION);
    return -1;
}

inbox *inbox_open(const char *path, const unsigned char key[VAULT_KEY_LEN], char *err,
                  size_t err_len)
{
    inbox *b = calloc(1, sizeof *b);
    char why[300] = "";
    if (!b) return snprintf(err, err_len, "%s: out of memory", path), NULL;
    memcpy(b->key, key, VAULT_KEY_LEN);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &b->db, flags, NULL) ||
        sqlite3_busy_timeout(b->db, BUSY_TIMEOUT_MS) ||
        sqlite3_exec(b->db, schema, NULL, NULL, NULL) ||
        check_version(b, why, sizeof why) || prepare_all(b)) {
        snprintf(err, err_len, "cannot open the inbox %s: %s", path,
                 why[0]  ? why
                 : b->db ? sqlite3_errmsg(b->db)
                         : "out of memory");
        inbox_close(b);
        return NULL;
    }
    return b;
}

void inbox_close(inbox *b)
{
    if (!b) return;
    sqlite3_stmt *all[] = {b->add, b->prune, b->read, b->last, b->pending};
    for (int i = 0; i < 5; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(b->db);
    sodium_memzero(b->key, sizeof b->key);
    free(b);
}

static int fail(inbox *b, const char *what)
{
    log_error("inbox: %s: %s", what, sqlite3_errmsg(b->db));
    return -1;
}

/* Steps ST once and resets it.  The step's result code. */
static int step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

int64_t inbox_last_id(inbox *b)
{
    if (sqlite3_step(b->last) != SQLITE_ROW)
        return sqlite3_reset(b->last), fail(b, "max id");
    int64_t id = sqlite3_column_int64(b->last, 0);
    sqlite3_reset(b->last);
    return id;
}

int64_t inbox_events_after(inbox *b, int64_t after)
{
    sqlite3_bind_int64(b->pending, 1, after);
    if (sqlite3_step(b->pending) != SQLITE_ROW)
        return sqlite3_reset(b->pending), fail(b, "count the rows");
    int64_t n = sqlite3_column_int64(b->pending, 0);
    sqlite3_reset(b->pending);
    return n;
}

int64_t inbox_waiting(const char *path, int64_t after)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (access(path, F_OK)) return 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, WAITING_SQL, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, after);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

int inbox_begin(inbox *b)
{
    return sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ? fail(b, "begin")
                                                                    : 0;
}

int inbox_commit(inbox *b)
{
    return sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL) ? fail(b, "commit") : 0;
}

void inbox_rollback(inbox *b)
{
    if (!sqlite3_get_autocommit(b->db)) sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
}

static void row_label(int64_t id, char label[32])
{
    snprintf(label, 32, "inbox/%lld", (long long)id);
}

int inbox_add(inbox *b, int64_t id, const void *packed, size_t len, int count)
{
    char label[32];
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    row_label(id, label);
    if (vault_encrypt(b->key, label, packed, len, &sealed, &sealed_len))
        return log_error("inbox: cannot seal a row (out of memory)"), -1;
    sqlite3_bind_int64(b->add, 1, id);
    sqlite3_bind_int(b->add, 2, count);
    sqlite3_bind_blob(b->add, 3, sealed, (int)sealed_len, SQLITE_STATIC);
    int rc = step_once(b->add);
    free(sealed);
    return rc == SQLITE_DONE ? 0 : fail(b, "add a row");
}

int inbox_prune(inbox *b, int64_t upto)
{
    sqlite3_bind_int64(b->prune, 1, upto);
    return step_once(b->prune) == SQLITE_DONE ? 0 : fail(b, "delete the rows that ran");
}

/* Opens the row under the cursor into BATCH (rows and events grown). */
static int take_row(inbox *b, inbox_batch *batch)
{
    int64_t id = sqlite3_column_int64(b->read, 0);
    int count = sqlite3_column_int(b->read, 1);
    const unsigned char *sealed = sqlite3_column_blob(b->read, 2);
    size_t sealed_len = (size_t)sqlite3_column_bytes(b->read, 2);
    char label[32], *plain = NULL, **rows;
    size_t plain_len = 0, *lens;
    nudge_event *events;
    row_label(id, label);
    if (count < 0 || vault_decrypt(b->key, label, sealed, sealed_len, &plain, &plain_len))
        return log_error("inbox: row %lld does not open (wrong key or damaged)",
                         (long long)id),
               -1;
    if (!(rows = realloc(batch->rows, (size_t)(batch->row_count + 1) * sizeof *rows)))
        return free(plain), -1;
    batch->rows = rows;
    if (!(lens = realloc(batch->row_lens, (size_t)(batch->row_count + 1) * sizeof *lens)))
        return free(plain), -1;
    batch->row_lens = lens;
    rows[batch->row_count] = plain, lens[batch->row_count++] = plain_len;
    events = realloc(batch->events, (size_t)(batch->count + count + 1) * sizeof *events);
    if (!events) return -1;
    batch->events = events;
    if (inbox_unpack(plain, plain_len, count, events + batch->count))
        return log_error("inbox: row %lld does not unpack", (long long)id), -1;
    batch->count += count, batch->last_id = id;
    return 0;
}

int inbox_read(inbox *b, int64_t after, int max_events, inbox_batch *batch)
{
    int rc = 0;
    memset(batch, 0, sizeof *batch);
    sqlite3_bind_int64(b->read, 1, after);
    while (!rc && (batch->row_count == 0 || batch->count < max_events)) {
        int step = sqlite3_step(b->read);
        if (step == SQLITE_DONE) break;
        rc = step == SQLITE_ROW ? take_row(b, batch) : fail(b, "read");
    }
    sqlite3_reset(b->read);
    if (rc) return inbox_batch_free(batch), -1;
    return batch->row_count > 0;
}

void inbox_batch_free(inbox_batch *batch)
{
    for (int i = 0; i < batch->row_count; i++) {
        sodium_memzero(batch->rows[i], batch->row_lens[i]);
        free(batch->rows[i]);
    }
    free(batch->rows), free(batch->row_lens), free(batch->events);
    memset(batch, 0, sizeof *batch);
}
