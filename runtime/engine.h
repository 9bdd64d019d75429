/* The journey engine: routes each event to the journeys it triggers, to
 * the instances waiting for it and to the instances it makes exit; fires
 * timers in due order; keeps the clock.  Plain C: recipes are reached only
 * through host.h.  Every call runs inside the caller's transaction. */
#ifndef NUDGE_ENGINE_H
#define NUDGE_ENGINE_H
#include "host.h"
#include "ingest.h"
#include "privacy.h"
#include "store.h"

typedef struct engine_stats {
    long events_accepted, events_rejected, events_duplicate;
    long journeys_started, journeys_exited, journeys_completed, journeys_failed;
    act_counters sends; /* queued and held out, counted as they happen */
    long messages_delivered, messages_failed;
    long messages_stopped; /* queued, then stopped at the second check */
} engine_stats;

typedef struct engine_options {
    int event_clock;                  /* 1: time follows event timestamps */
    const char *consent_default;      /* "opt_in" (default) or "opt_out" */
    const char *timezone;             /* for profiles without one (default "UTC") */
    privacy *privacy;                 /* PII encryption; NULL: traits kept as given */
    const struct guard_config *guard; /* caps, quiet hours, consent regime */
} engine_options;

typedef struct engine engine;

engine *engine_new(store *s, host *h, engine_options options, engine_stats *stats);
void engine_free(engine *e);

/* Makes a loaded recipe's trigger live for new events. */
int engine_add_recipe(engine *e, recipe *r);

/* Makes no recipe live (the versions stay in the host, for the instances
 * in flight); a reload then adds the recipes again. */
void engine_clear_recipes(engine *e);

/* The recipes made live by engine_add_recipe (the audience scheduler
 * walks them); valid until the next add or clear. */
recipe *const *engine_live_recipes(engine *e, int *count);

/* Takes new options (a reloaded config's), keeping the clock's kind. */
void engine_reconfigure(engine *e, engine_options options);

/* The clock: the event clock resumes from the store; wall time otherwise. */
int64_t engine_now(engine *e);
/* Fires every timer due at or before `now` (each at its own due time under
 * the event clock), then moves the clock to `now`.  0 or -1 (store error). */
int engine_advance(engine *e, int64_t now_ms);

/* Processes one accepted event.  0 or -1 (store error: abort the batch). */
int engine_event(engine *e, const nudge_event *ev);

/* Entering without an event (audience triggers, audience.c).  Whether the
 * profile may enter journey r now: no live instance of it, then the
 * recipe's reentry rule.  1 yes, 0 no, -1 store error. */
int engine_may_enter(engine *e, recipe *r, const char *profile_id);

/* Starts an instance of r for the profile at the engine's clock, with the
 * stored event EVENT_ID (its JSON text given) as j.trigger, and runs its
 * first activation.  Neither the entry rules nor a where filter are
 * checked here.  0 or -1 (store error). */
int engine_enter(engine *e, recipe *r, const char *profile_id, int64_t event_id,
                 const char *event_json);

/* Saves the event clock; call before each commit. */
int engine_checkpoint(engine *e);

#endif
