/* Shared by the store_*.c files only: the statement cache and helpers. */
#ifndef NUDGE_STORE_INTERNAL_H
#define NUDGE_STORE_INTERNAL_H
#include "store.h"

enum stmt_id {
    STMT_BEGIN,
    STMT_SNAPSHOT_BEGIN,
    STMT_SNAPSHOT_END,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_META_GET,
    STMT_META_SET,
    STMT_EVENT_INSERT,
    STMT_EVENT_BODY,
    STMT_PROFILE_TRAITS_SET,
    STMT_PROFILE_GET,
    STMT_PROFILE_TRAIT,
    STMT_PROFILE_CONTEXT_TZ,
    STMT_RECIPE_PUT,
    STMT_RECIPE_GET,
    STMT_RECIPE_TEMPLATES,
    STMT_INSTANCE_INSERT,
    STMT_INSTANCE_UPDATE,
    STMT_INSTANCE_LOAD,
    STMT_INSTANCES_LIVE,
    STMT_INSTANCES_WAITING,
    STMT_INSTANCE_LATEST,
    STMT_INSTANCE_GOAL_SET,
    STMT_HISTORY_LOAD,
    STMT_HISTORY_APPEND,
    STMT_TIMER_SET,
    STMT_TIMER_CLEAR,
    STMT_TIMER_NEXT,
    STMT_TIMER_EARLIEST,
    STMT_OUTBOX_INSERT,
    STMT_OUTBOX_FETCH,
    STMT_OUTBOX_STATUS,
    STMT_OUTBOX_MOVE,
    STMT_OUTBOX_HOLD,
    STMT_OUTBOX_RELEASE,
    STMT_OUTBOX_RETRIES,
    STMT_OUTBOX_DUE,
    STMT_OUTBOX_NEXT_RETRY,
    STMT_OUTBOX_OUTCOME,
    STMT_OUTBOX_DEPTH,
    STMT_MESSAGE_LOG,
    STMT_MESSAGE_COUNT,
    STMT_PROFILE_EVENT_STATS,
    STMT_PROFILE_REVENUE,
    STMT_PROFILE_EXISTS,
    STMT_SECRET_GET,
    STMT_SECRET_PUT,
    STMT_SUPPRESSED,
    STMT_SUPPRESSION_OF,
    STMT_SUPPRESS,
    STMT_UNSUPPRESS,
    STMT_PROFILE_SECRET_GET,
    STMT_PROFILE_SECRET_PUT,
    STMT_PROFILE_SEALED_NEXT,
    STMT_PROFILE_SEALED_SET,
    STMT_FIND_EMAIL,
    STMT_FIND_PHONE,
    STMT_IDENTITY_GET,
    STMT_EVENT_COUNT,
    STMT_EVENT_LAST,
    STMT_CONSENT_APPEND,
    STMT_CONSENT_LATEST,
    STMT_PROFILE_PAGE,
    STMT_COUNT
};

/* Returns the cached statement, preparing `sql` on first use; reset and
 * with bindings cleared.  NULL on error (logged). */
sqlite3_stmt *store_stmt(store *s, enum stmt_id id, const char *sql);

/* Logs the connection's last error with `what` and returns -1. */
int store_fail(store *s, const char *what);

/* Binds a possibly-NULL text. */
void store_bind_text(sqlite3_stmt *st, int index, const char *text);

/* Steps a bound one-column query: a malloc'd copy of its text, or NULL
 * for no row or a value that is not text.  Resets the statement. */
char *store_text_row(sqlite3_stmt *st);

/* A malloc'd copy of column text, or NULL for SQL NULL. */
char *store_column_dup(sqlite3_stmt *st, int col);

#endif
