/* Audience triggers: journeys entered by whoever matches
 * `trigger.audience(profile)`, checked every `trigger.every` over all the
 * profiles.  A pass walks the profiles a page at a time in id order,
 * skips those the journey's entry rules bar, calls the audience function
 * on each one's profile (computed traits, PII masked) and enters the
 * matches with a synthetic "Audience Entered" event.  The schedule is kept
 * in the meta table.  Plain C: recipes are reached through host.h. */
#ifndef NUDGE_AUDIENCE_H
#define NUDGE_AUDIENCE_H
#include "engine.h"
#include "host.h"
#include "privacy.h"
#include "store.h"

#include <stdint.h>

#define AUDIENCE_EVENT "Audience Entered"
#define AUDIENCE_PAGE 500        /* profile ids per query */
#define AUDIENCE_COMMIT 20000    /* profiles walked between two commits */
#define AUDIENCE_SLICE 2000      /* profiles per slice of `nudge serve` */
#define AUDIENCE_NEVER INT64_MIN /* a journey never checked yet: due at once */

typedef struct audience audience;

/* Commits the work in hand and opens the next transaction (cmd_run.c's
 * batches).  0 or -1. */
typedef int (*audience_commit_fn)(void *ctx);

/* The scheduler over the engine's live recipes (engine_live_recipes):
 * those with an audience trigger are checked.  NULL when out of memory. */
audience *audience_new(store *s, host *h, engine *e, privacy *p);
void audience_free(audience *a);

/* 1 when a pass is under way or one is due at now_ms, 0 when not, -1 on a
 * store error.  Cheap: the schedule is read from the store once. */
int audience_due(audience *a, int64_t now_ms);

/* Runs every pass due at or before now_ms to its end, in the caller's
 * transaction, calling commit every AUDIENCE_COMMIT profiles (NULL: never).
 * Each pass runs at now_ms, or, with catch_up (the event clock of a
 * backtest), at its own due time with the engine's clock moved there
 * first, so a pass due daily runs once per day of the events.  0 or -1. */
int audience_run(audience *a, int64_t now_ms, int catch_up, audience_commit_fn commit,
                 void *ctx);

/* For `nudge serve`'s engine thread, once per loop: walks up to
 * AUDIENCE_SLICE profiles of the pass under way or due, in a transaction
 * of its own, so requests wait one slice at most.  1 when more is left,
 * 0 when nothing is, -1 on a store error (rolled back). */
int audience_slice(audience *a, int64_t now_ms);

/* The next due time after a pass that was due at due_ms ran at at_ms: the
 * first step of `every_ms` from due_ms that is later than at_ms, so the
 * schedule keeps its time of day however late a pass ran. */
int64_t audience_next_due(int64_t due_ms, int64_t at_ms, int64_t every_ms);

/* The messageId of the synthetic event that enters PROFILE into JOURNEY
 * on the pass due at due_ms ("aud-<journey>-<profile>-<due_ms>"): the same
 * when a pass is run again after a crash, so nobody enters twice.  A
 * malloc'd string, or NULL. */
char *audience_message_id(const char *journey, const char *profile_id, int64_t due_ms);

#endif
