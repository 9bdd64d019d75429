/* The guardrails every message passes, in C, whatever the recipe does
 * (SPEC §5): suppression, consent, frequency caps and quiet hours when it
 * is queued; suppression and consent again when it is delivered.  Each
 * verdict carries the reason recorded in the message log. */
#ifndef NUDGE_GUARDRAILS_H
#define NUDGE_GUARDRAILS_H
#include "guard.h"
#include "store.h"

typedef struct guard_config {
    const guard_cap *caps;
    int cap_count;
    const guard_quiet *quiet;
    int quiet_count;
    const char *consent_default; /* "opt_in" or "opt_out" */
} guard_config;

/* What becomes of a message. */
typedef struct guard_outcome {
    const char *status;    /* "queued", "suppressed", "capped", "deferred" */
    char reason[32];       /* e.g. "no_consent", "forgotten", "quiet_hours" */
    char detail[128];      /* e.g. the cap "sms 1/24h", the deferral's end */
    int64_t not_before_ms; /* deferred: until then */
} guard_outcome;

/* The message the person would get. */
typedef struct guard_message {
    const char *profile_id, *journey, *channel, *purpose; /* purpose: NULL = marketing */
    const char *zone; /* the person's IANA time zone */
    int64_t now_ms;
    const guard_cap *journey_caps; /* the journey's own caps (journey{ caps = }) */
    int journey_cap_count;
} guard_message;

/* At queue time: suppression (a "forgotten" entry stops marketing only),
 * consent for the message's purpose, caps (marketing only), then quiet
 * hours.  0 with *out set, or -1 on a store error. */
int guardrails_at_queue(store *s, const guard_config *g, const guard_message *m,
                        guard_outcome *out);

/* At delivery time: suppression and consent again, so a revocation
 * between queue and delivery stops the message.  0 with *out set
 * ("queued" when it may go), or -1. */
int guardrails_at_delivery(store *s, const guard_config *g, const guard_message *m,
                           guard_outcome *out);

#endif
