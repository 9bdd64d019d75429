/* The store's connection: open, pragmas, forward migrations, the prepared
 * statement cache, transactions and metadata. */
#include "store.h"

#include "log.h"
#include "store_internal.h"
#include "store_schema.h"
#include "write_turn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmts[STMT_COUNT];
    int in_transaction;
    int broken; /* SQLite rolled a transaction back on its own: stop */
    write_turn *turns; /* shared with another thread of this process, or NULL */
    enum write_role role;
    int holds_turn;
};

sqlite3 *store_db(store *s)
{
    return s->db;
}

/* An error inside a transaction that SQLite rolled back by itself (disk
 * full, I/O error) leaves later statements in autocommit mode, where they
 * would commit one by one: from then on every statement is refused. */
int store_fail(store *s, const char *what)
{
    log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
    if (s->in_transaction && sqlite3_get_autocommit(s->db) && !s->broken) {
        s->broken = 1;
        log_error("store: the transaction was rolled back; nothing more is written");
    }
    return -1;
}

sqlite3_stmt *store_stmt(store *s, enum stmt_id id, const char *sql)
{
    if (s->broken) return NULL;
    sqlite3_stmt *st = s->stmts[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id],
                           NULL)) {
        store_fail(s, "prepare");
        return NULL;
    }
    return s->stmts[id];
}

void store_bind_text(sqlite3_stmt *st, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(st, index, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, index);
}

char *store_text_row(sqlite3_stmt *st)
{
    char *text = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        text = store_column_dup(st, 0);
    sqlite3_reset(st);
    return text;
}

char *store_column_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *text = sqlite3_column_text(st, col);
    return text ? strdup((const char *)text) : NULL;
}

static int migrate(store *s, char *err, size_t err_len)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version > STORE_MIGRATION_COUNT) {
        snprintf(err, err_len, "database schema version %d is newer than this nudge (%d)",
                 version, STORE_MIGRATION_COUNT);
        return -1;
    }
    for (; version < STORE_MIGRATION_COUNT; version++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", version + 1);
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) ||
            sqlite3_exec(s->db, store_migrations[version], NULL, NULL, NULL) ||
            sqlite3_exec(s->db, bump, NULL, NULL, NULL) ||
            sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) {
            snprintf(err, err_len, "migrating schema to version %d: %s", version + 1,
                     sqlite3_errmsg(s->db));
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

/* Each connection is used by one thread at a time: SQLite's per-call
 * mutexes and memory statistics are pure cost.  Must run before SQLite
 * initializes; later calls fail harmlessly. */
static void configure_sqlite(void)
{
    static int done;
    if (done++) return;
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Waits for another connection's write lock in short steps, up to 60 s
 * (a tick may wait for a long run's batch).  SQLite's own busy timeout
 * sleeps up to 100 ms at a time, which would add to every request the
 * service's engine holds while the delivery thread writes. */
static int wait_for_lock(void *ctx, int tries)
{
    (void)ctx;
    enum { FAST_TRIES = 50, FAST_US = 100, SLOW_US = 1000 };
    if (tries > FAST_TRIES + 60000) return 0; /* about a minute: give up */
    struct timespec pause = {0, (tries < FAST_TRIES ? FAST_US : SLOW_US) * 1000L};
    nanosleep(&pause, NULL);
    return 1;
}

int store_open(const char *path, store **out, char *err, size_t err_len)
{
    configure_sqlite();
    store *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), -1;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)) {
        snprintf(err, err_len, "cannot open database %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_handler(s->db, wait_for_lock, NULL);
    if (sqlite3_exec(s->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=OFF; PRAGMA cache_size=-32000;"
                     "PRAGMA wal_autocheckpoint=8000; PRAGMA temp_store=MEMORY;",
                     NULL, NULL, NULL)) {
        snprintf(err, err_len, "database %s: %s", path, sqlite3_errmsg(s->db));
        goto fail;
    }
    if (migrate(s, err, err_len)) goto fail;
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

void store_close(store *s)
{
    if (!s) return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    sqlite3_close(s->db);
    free(s);
}

static int exec_cached(store *s, enum stmt_id id, const char *sql)
{
    sqlite3_stmt *st = store_stmt(s, id, sql);
    if (!st || sqlite3_step(st) != SQLITE_DONE) return store_fail(s, sql);
    return 0;
}

/* Runs a statement once with ?1 and ?2 bound to text (either may be NULL
 * and unused) and ?3 to an integer. */
int store_run(store *s, const char *sql, const char *a, const char *b, int64_t n)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "prepare");
    int params = sqlite3_bind_parameter_count(st);
    if (params >= 1) store_bind_text(st, 1, a);
    if (params >= 2) store_bind_text(st, 2, b);
    if (params >= 3) sqlite3_bind_int64(st, 3, n);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_fail(s, "statement");
}

void store_share_writes(store *s, write_turn *turns, enum write_role role)
{
    s->turns = turns;
    s->role = role;
}

static void leave_turn(store *s)
{
    if (s->holds_turn) write_turn_leave(s->turns);
    s->holds_turn = 0;
}

int store_begin(store *s)
{
    if (s->turns && !s->holds_turn) write_turn_enter(s->turns, s->role);
    s->holds_turn = s->turns != NULL;
    int rc = exec_cached(s, STMT_BEGIN, "BEGIN IMMEDIATE");
    s->in_transaction = rc == 0;
    if (rc) leave_turn(s);
    return rc;
}

int store_commit(store *s)
{
    int rc = exec_cached(s, STMT_COMMIT, "COMMIT");
    if (rc == 0) s->in_transaction = 0, leave_turn(s);
    return rc;
}

int store_rollback(store *s)
{
    s->in_transaction = 0;
    int rc = sqlite3_get_autocommit(s->db) ? 0
                                            : exec_cached(s, STMT_ROLLBACK, "ROLLBACK");
    leave_turn(s);
    return rc;
}

int store_snapshot_begin(store *s)
{
    return exec_cached(s, STMT_SNAPSHOT_BEGIN, "BEGIN DEFERRED");
}

void store_snapshot_end(store *s)
{
    if (!sqlite3_get_autocommit(s->db)) exec_cached(s, STMT_SNAPSHOT_END, "COMMIT");
}

int64_t store_scalar(store *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t value = -1;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, sql);
    if (sqlite3_step(st) == SQLITE_ROW) value = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return value;
}

int store_meta_get(store *s, const char *key, int64_t *value)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_META_GET, "SELECT value FROM meta WHERE key = ?");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st); /* an open statement would pin an old snapshot */
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_fail(s, "meta get");
}

int store_meta_set(store *s, const char *key, int64_t value)
{
    sqlite3_stmt *st =
        store_stmt(s, STMT_META_SET,
                   "INSERT INTO meta (key, value) VALUES (?, ?)"
                   " ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(s, "meta set");
}
