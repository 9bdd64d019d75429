/* The senders: send_requests run on the libcurl multi interface, many in
 * flight at once, each channel (a "lane") within its own concurrency, with
 * connections kept alive from one call to the next.  Plain C over libcurl:
 * no Lua, no database; one thread at a time per sender. */
#ifndef NUDGE_SENDER_H
#define NUDGE_SENDER_H
#include "send.h"

typedef struct sender sender;

typedef struct send_job {
    send_request request;   /* filled by the caller */
    send_response response; /* filled by sender_run */
    int lane;               /* the channel's index into sender_run's limits */
    int timeout_ms;         /* the whole transfer, connecting included */
    void *user;             /* the caller's */
} send_job;

/* Called with the jobs that finished in one round of the event loop, so
 * the caller can commit their outcomes together. */
typedef void (*send_done_fn)(void *ctx, send_job **finished, int count);

/* NULL when libcurl cannot be set up (logged). */
sender *sender_new(void);
void sender_free(sender *s);

/* Runs the COUNT jobs, at most LIMITS[lane] at once on each of the LANES
 * lanes and SENDER_MAX_IN_FLIGHT in all, calling DONE after each round
 * that finished any, until every job has finished (a failed transfer is
 * a finished job with response.transport_error set).  0, or -1 when curl
 * itself fails (logged); every job is still reported to DONE. */
int sender_run(sender *s, send_job *jobs, int count, const int *limits, int lanes,
               send_done_fn done, void *ctx);

#define SENDER_MAX_IN_FLIGHT 256

#endif
