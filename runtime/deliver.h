/* Delivery of the outbox: the file channel (one JSON line per message
 * appended to an NDJSON file, or "-" for stdout, exactly once across
 * crashes) and the senders (the channels whose config names an adapter:
 * libcurl over HTTP or SMTP, retried, dead-lettered), each channel within
 * its rate.  docs/delivery.md tells the whole story. */
#ifndef NUDGE_DELIVER_H
#define NUDGE_DELIVER_H
#include "bucket.h"
#include "channel.h"
#include "guardrails.h"
#include "store.h"

struct privacy;

/* The senders' side of delivery: the channels' adapters, a libcurl
 * sender, the keys to decrypt addresses and sign unsubscribe links.  One
 * thread at a time. */
typedef struct deliver_senders deliver_senders;

/* Opens the adapters of the CHANNELS whose adapter is not "file" or
 * "stdout"; *OUT stays NULL when there are none.  PRIVACY (kept, not
 * owned) decrypts addresses; S reads (or first makes) the unsubscribe key.
 * An email channel without an https unsubscribe_url is refused.  0, or -1
 * with ERR naming the channel and key. */
int deliver_senders_open(const channel_config *channels, int count,
                         struct privacy *privacy, store *s, deliver_senders **out,
                         char *err, size_t err_len);
void deliver_senders_close(deliver_senders *d);

/* The run's clock (NOW_MS; 0: the wall clock): templates see the computed
 * traits (days_since_last_order...) as of then. */
void deliver_senders_set_clock(deliver_senders *d, int64_t now_ms);

/* 1 when CHANNEL goes to a sender rather than the file channel. */
int deliver_senders_owns(const deliver_senders *d, const char *channel);

/* The detail of a message-log row written by the second check. */
#define DELIVER_AT_DELIVERY "checked again at delivery"

/* The second check of M, just before it goes: suppression and consent at
 * NOW_MS.  A message stopped there gets OUT's status (dated UPDATED_MS) and
 * a message-log row with its reason; OUT->status is "queued" when it may
 * go.  0, or -1 on a store error. */
int deliver_check_again(store *s, const guard_config *guard, const outbox_message *m,
                        int64_t now_ms, int64_t updated_ms, guard_outcome *out);

/* What deliveries came to. */
typedef struct deliver_counts {
    long delivered, stopped, failed; /* failed: dead letters */
} deliver_counts;

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

/* A batch already in the file and still "sending": the next transaction
 * marks it delivered along with its own work, so that a batch costs one
 * write transaction.  After a crash it is written again from the saved
 * length, like any batch cut off. */
typedef struct deliver_pending {
    int64_t first, last; /* its ids; last 0: none */
} deliver_pending;

typedef struct deliver_options {
    const char *path;          /* the file channel's file, "-" for stdout */
    int64_t now_ms;            /* the run's clock: deferred messages due by then go */
    const guard_config *guard; /* the second check: consent, suppression */
    deliver_rates *rates;      /* NULL: no rate limits */
    deliver_senders *senders;  /* NULL: every channel to the file channel */
    int finish; /* also wait for retries due within DELIVER_RETRY_WAIT_MS */
    /* NULL: each call marks its last batch delivered before it returns;
     * else that batch may stay here until the next call (deliver_close) */
    deliver_pending *pending;
} deliver_options;

/* How long a one-shot run waits for a retry before leaving it to the next
 * `nudge tick`. */
#define DELIVER_RETRY_WAIT_MS 60000

/* Sends the messages of a batch (marked "sending") whose channel belongs
 * to the senders and that are not blocked, and commits each outcome
 * (delivered, retry, failed; a bounce also suppresses the address) as it
 * comes.  Sets their `sent`.  0, or -1 on a store error. */
int deliver_senders_run(deliver_senders *d, store *s, outbox_message *msgs, int count,
                        deliver_counts *counts);

/* Delivers every queued message, the deferred ones now due and the
 * retries whose time has come, after checking consent and suppression
 * again (a message stopped there is "suppressed", logged with its
 * reason).  Within the channels' rates: it sleeps until a token comes, so
 * the call lasts as long as the rates need.  Adds to *COUNTS.  Returns 0,
 * or -1 on a store or file error (logged); nothing is lost either way. */
int deliver_outbox(store *s, const deliver_options *o, deliver_counts *counts);

/* Marks P's batch delivered, in a transaction of its own.  0 or -1. */
int deliver_close(store *s, deliver_pending *p);

/* A delivery thread with its own store connection, for `nudge run`. */
typedef struct deliverer deliverer;

/* Opens DB_PATH again and starts the thread; NULL (logged) on failure.
 * ENGINE, the caller's connection to it, takes turns at the write lock
 * with the thread's until deliverer_finish; the caller must not be inside
 * a transaction when it calls deliverer_finish.  GUARD and RATES (may be
 * NULL) must outlive the thread, which alone uses RATES until
 * deliverer_finish. */
deliverer *deliverer_start(store *engine, const char *db_path,
                           const char *outbox_path, const guard_config *guard,
                           deliver_rates *rates, deliver_senders *senders);

/* Tells the thread a batch was committed, with the run's clock.  -1 if an
 * earlier round failed (logged there): the caller should stop. */
int deliverer_kick(deliverer *d, int64_t now_ms);

/* The last round will not wait for retries (a service that stops: they
 * stay in the outbox for its next start). */
void deliverer_skip_retry_wait(deliverer *d);

/* Delivers what is left (waiting for retries due soon), stops the
 * thread, adds its counts to *COUNTS.  0, or -1 if any round failed.
 * NULL is fine. */
int deliverer_finish(deliverer *d, deliver_counts *counts);

#endif
