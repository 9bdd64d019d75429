/* Delivery of the outbox.  For now every channel goes to the `file`
 * channel: one JSON line per message appended to an NDJSON file (or "-"
 * for stdout), exactly once across crashes. */
#ifndef NUDGE_DELIVER_H
#define NUDGE_DELIVER_H
#include "store.h"

/* Delivers every queued message, and the deferred ones due at now_ms (the
 * run's clock).  Adds the count to *delivered.  Returns 0, or -1 on a store
 * or file error (logged); nothing is lost either way. */
int deliver_outbox(store *s, const char *path, int64_t now_ms, long *delivered);

/* A delivery thread with its own store connection, for `nudge run`. */
typedef struct deliverer deliverer;

/* Opens DB_PATH again and starts the thread; NULL (logged) on failure. */
deliverer *deliverer_start(const char *db_path, const char *outbox_path);

/* Tells the thread a batch was committed, with the run's clock.  -1 if an
 * earlier round failed (logged there): the caller should stop. */
int deliverer_kick(deliverer *d, int64_t now_ms);

/* Delivers what is left, stops the thread, adds its count to *delivered.
 * 0, or -1 if any round failed.  NULL is fine. */
int deliverer_finish(deliverer *d, long *delivered);

#endif
