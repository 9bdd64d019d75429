/* Group commit for `nudge serve`: request threads hand their events to the
 * inbox writer (or a small job, such as a consent statement, to the engine
 * thread) and wait; that thread takes everything that waits, writes it in
 * one SQLite transaction, and wakes them all with the outcome.  Plain C,
 * pthreads. */
#ifndef NUDGE_INTAKE_H
#define NUDGE_INTAKE_H
#include "ingest.h"
#include "store.h"

#include <stdint.h>

/* One waiting request, on its submitter's stack. */
typedef struct intake_request {
    nudge_event *events; /* flattened (ingest_flatten) */
    int count;
    /* or, instead of events, a job run in the transaction: 0, or -1 */
    int (*job)(void *ctx, store *s);
    void *job_ctx;
    int64_t after; /* a job runs once the inbox has run up to this row */
    int done, rc;
    struct intake_request *next;
} intake_request;

typedef struct intake intake;

intake *intake_new(void);
void intake_free(intake *q);

/* Queues R and waits until the engine thread has committed it (0) or
 * could not (-1).  After intake_close, fails at once. */
int intake_submit(intake *q, intake_request *r);

/* The taking thread: waits up to TIMEOUT_MS for requests (or a kick),
 * then takes those waiting whose `after` is at most READY (whole requests
 * from the oldest, at least one, until MAX_EVENTS events).  Returns the
 * list (NULL: none), oldest first. */
intake_request *intake_take(intake *q, int64_t timeout_ms, int max_events,
                            int64_t ready);

/* Ends the taking thread's current wait (other work came). */
void intake_kick(intake *q);

/* Wakes the submitters of LIST with RC. */
void intake_finish(intake *q, intake_request *list, int rc);

/* New submits fail at once; intake_take still returns what waits. */
void intake_close(intake *q);

/* Requests waiting now. */
int intake_waiting(intake *q);

#endif
