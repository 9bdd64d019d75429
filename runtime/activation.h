/* One activation of a journey instance: the deterministic-replay cursor.
 * Each j: call asks act_replay first; a call already in the history gets
 * its recorded result, a new one does its work and is recorded, all in the
 * caller's transaction.  Blocking calls (wait, wait_for) park the instance
 * with a pending call that a timer or an event later resolves.  Plain C:
 * the Lua side is lua/l_journey.c. */
#ifndef NUDGE_ACTIVATION_H
#define NUDGE_ACTIVATION_H
#include "guard.h"
#include "store.h"
#include "tz.h"

#include <stdint.h>

enum wake_kind { WAKE_START, WAKE_TIMER, WAKE_EVENT };
enum act_outcome { ACT_RUNNING, ACT_SUSPENDED, ACT_COMPLETED, ACT_EXITED, ACT_FAILED };
enum act_block { BLOCK_SUSPEND, BLOCK_TIMEOUT, BLOCK_EVENT };

typedef struct act_counters {
    long messages_queued, messages_holdout, messages_suppressed, messages_capped,
        messages_deferred;
} act_counters;

typedef struct activation {
    store *store;
    instance *inst;
    history_entry *history;
    int history_len;
    int seq; /* index of the next j: call */
    int64_t now_ms;
    const char *consent_default;  /* "opt_in" or "opt_out" */
    const char *default_timezone; /* for profiles without a `timezone` trait */
    enum wake_kind wake;
    const char *wake_event_name; /* WAKE_EVENT: the event's name ... */
    const char *wake_event_json; /* ... and its JSON */
    const char *purpose;         /* the journey's: "marketing" unless "transactional" */
    struct privacy *privacy;     /* for PII the config exposes; may be NULL */
    const struct guard_config *guard; /* caps, quiet hours, consent regime */
    const guard_cap *journey_caps;    /* the recipe's own caps */
    int journey_cap_count;
    enum act_outcome outcome;
    char error[600];
    char send_result[160]; /* act_send's result when it is not a fixed text */
    act_counters *counters;
} activation;

/* Loads the instance's history.  Returns 0 or -1. */
int act_begin(activation *a);
void act_end(activation *a);

/* 1: the call at this step is recorded (its JSON result in *result);
 * 0: new ground; -1: the history holds another call here (a->error). */
int act_replay(activation *a, const char *kind, const char **result);

/* Records a new call's JSON result and moves to the next step. */
int act_record(activation *a, const char *kind, const char *result);

/* A blocking call at new ground.  The first time it parks the instance
 * (due = now + wait_ms, awaiting `event` when not NULL) and returns
 * BLOCK_SUSPEND; on later wakes it says whether the timer ran out
 * (BLOCK_TIMEOUT) or the awaited event came (BLOCK_EVENT). */
enum act_block act_block(activation *a, const char *kind, int64_t wait_ms,
                         const char *event, int line);
/* Clears the pending call once its result is recorded. */
int act_unblock(activation *a);

/* The trigger event's JSON text, read from the store on first use; NULL
 * if it is gone. */
const char *act_trigger_json(activation *a);

/* j:send: queues the message, or records why not (holdout; suppressed:
 * an address of the person is on the suppression list — "forgotten"
 * entries stop marketing only); sets its status and the result to record
 * as JSON (static text, or a->send_result). */
int act_send(activation *a, const char *channel, const char *template_name,
             const char *vars_json, const char **status, const char **result);

/* j:profile: the profile's JSON with computed traits, PII masked except
 * what the config exposes (malloc'd), or NULL. */
char *act_profile_json(activation *a);

/* j:set: merges {trait = value} (VALUE_JSON; null removes) into the
 * profile, PII encrypted.  0, 1 for a computed trait's name, -1. */
int act_set_trait(activation *a, const char *trait, const char *value_json);

/* The person's IANA time zone: the `timezone` trait when it names a real
 * zone, else the latest `context.timezone` of their events, else the
 * default.  Writes it into zone (TZ_NAME_MAX + 1 bytes). */
void act_timezone(activation *a, char *zone);

/* j:wait_until's due time for "HH:MM" (the next such local time in the
 * person's zone) or an ISO-8601 instant.  0, or -1 if `when` is neither. */
int act_due_time(activation *a, const char *when, int64_t *due_ms);

/* j:consented: the consent ledger's latest record for the channel and
 * purpose (default "marketing"), else the config's regime; transactional
 * needs no grant, only no revocation (consent.h).  1 or 0. */
int act_consented(activation *a, const char *channel, const char *purpose);

/* j:split: index of the chosen variant, stable per person, journey and step. */
int act_split(activation *a, const double *weights, int count);

/* A fraction in [0, 1) stable for (journey, profile, salt). */
double act_stable_fraction(const char *journey, const char *profile_id, const char *salt);

#endif
