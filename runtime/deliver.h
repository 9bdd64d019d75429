/* Delivery of the outbox.  For now every channel goes to the `file`
 * channel: one JSON line per message appended to an NDJSON file (or "-"
 * for stdout), exactly once across crashes. */
#ifndef NUDGE_DELIVER_H
#define NUDGE_DELIVER_H
#include "store.h"

/* Delivers every queued message.  Adds the count to *delivered.  Returns 0,
 * or -1 on a store or file error (logged); nothing is lost either way. */
int deliver_outbox(store *s, const char *path, long *delivered);

#endif
