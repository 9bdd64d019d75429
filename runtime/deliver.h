/* Delivery of the outbox.  For now every channel goes to the `file`
 * channel: one JSON line per message appended to an NDJSON file (or "-"
 * for stdout), exactly once across crashes, within each channel's rate. */
#ifndef NUDGE_DELIVER_H
#define NUDGE_DELIVER_H
#include "bucket.h"
#include "guardrails.h"
#include "store.h"

/* The rate limits of the channels (the config's channels.NAME.rate): a
 * token bucket per channel with a rate; other channels are unlimited.
 * Owned by the caller so that the buckets last across deliver_outbox
 * calls; one thread at a time. */
typedef struct deliver_rates {
    int count;
    struct {
        char channel[GUARD_CHANNEL_MAX];
        bucket bucket;
    } limit[GUARD_RULES_MAX];
} deliver_rates;

/* Full buckets for the COUNT rates (at most GUARD_RULES_MAX). */
void deliver_rates_init(deliver_rates *r, const guard_rate *rates, int count);

typedef struct deliver_options {
    const char *path;          /* the file channel's file, "-" for stdout */
    int64_t now_ms;            /* the run's clock: deferred messages due by then go */
    const guard_config *guard; /* the second check: consent, suppression */
    deliver_rates *rates;      /* NULL: no rate limits */
} deliver_options;

/* Delivers every queued message, and the deferred ones now due, after
 * checking consent and suppression again (a message stopped there is
 * "suppressed", logged with its reason).  Within the channels' rates: it
 * sleeps until a token comes, so the call lasts as long as the rates need.
 * Adds the counts to *delivered and *stopped (may be NULL).  Returns 0,
 * or -1 on a store or file error (logged); nothing is lost either way. */
int deliver_outbox(store *s, const deliver_options *o, long *delivered, long *stopped);

/* A delivery thread with its own store connection, for `nudge run`. */
typedef struct deliverer deliverer;

/* Opens DB_PATH again and starts the thread; NULL (logged) on failure.
 * GUARD and RATES (may be NULL) must outlive the thread, which alone uses
 * RATES until deliverer_finish. */
deliverer *deliverer_start(const char *db_path, const char *outbox_path,
                           const guard_config *guard, deliver_rates *rates);

/* Tells the thread a batch was committed, with the run's clock.  -1 if an
 * earlier round failed (logged there): the caller should stop. */
int deliverer_kick(deliverer *d, int64_t now_ms);

/* Delivers what is left, stops the thread, adds its counts to *delivered
 * and *stopped.  0, or -1 if any round failed.  NULL is fine. */
int deliverer_finish(deliverer *d, long *delivered, long *stopped);

#endif
