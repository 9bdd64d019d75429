/* Consent: the rules over the append-only ledger (store_consent.c).  A
 * person's consent is kept per channel and purpose ("marketing",
 * "transactional"); the latest record wins; with no record the config's
 * regime decides ("opt_in": no, "opt_out": yes), except that transactional
 * messages need no grant: only a transactional revocation stops them.
 * Plain C, used by the engine, j:consented and `nudge consent`. */
#ifndef NUDGE_CONSENT_H
#define NUDGE_CONSENT_H
#include "store.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum consent_result {
    CONSENT_INVALID = -2,  /* bad channel, purpose or source: nothing recorded */
    CONSENT_ERROR = -1,    /* a store error (logged) */
    CONSENT_UNCHANGED = 0, /* already the status in force then: nothing recorded */
    CONSENT_RECORDED = 1,
};

/* Whether CHANNEL (non-empty, at most 64 of [a-z0-9_-]) and PURPOSE
 * ("marketing" or "transactional") are valid.  0, or -1 with the reason
 * in err. */
int consent_check(const char *channel, const char *purpose, char *err, size_t err_len);

/* Records that the person granted (1) or revoked (0) consent for the
 * channel and purpose at AT_MS, from SOURCE ("identify", "event", "cli",
 * ...) with PROOF (free text, may be NULL).  Appends only when this
 * differs from the status in force at that time, so a repeated identify
 * does not grow the ledger.  Returns an enum consent_result. */
int consent_record(store *s, const char *profile_id, const char *channel,
                   const char *purpose, int granted, int64_t at_ms, const char *source,
                   const char *proof);

/* 1 when the person may get a message of PURPOSE on CHANNEL now, else 0:
 * the latest record; without one, 1 for "transactional", else 1 only when
 * DEFAULT_REGIME is "opt_out".  0 on an invalid channel or purpose or a
 * store error (logged). */
int consent_status(store *s, const char *profile_id, const char *channel,
                   const char *purpose, const char *default_regime);

/* An identify's traits (JSON text): `consent = { sms = true, email =
 * false }` records marketing consent per channel; `consent = { email = {
 * marketing = true, transactional = true } }` names the purposes.  Source
 * "identify".  Values other than true/false are skipped with a warning.
 * 0, or -1 on a store error. */
int consent_from_traits(store *s, const char *profile_id, const char *traits_json,
                        int64_t at_ms);

/* The same over traits already parsed (a cJSON object), recorded with
 * SOURCE ("import" for `nudge profile import`). */
int consent_from_object(store *s, const char *profile_id, const struct cJSON *traits,
                        int64_t at_ms, const char *source);

/* A track "Consent Updated" event (its JSON text): properties `channel`,
 * `status` ("granted"/"revoked") or boolean `granted`, optional `purpose`
 * (default "marketing") and `proof`.  Source "event".  Bad properties: a
 * warning naming the event's messageId and the field, nothing recorded.
 * 0, or -1 on a store error. */
int consent_from_event(store *s, const char *profile_id, const char *event_json,
                       const char *message_id, int64_t at_ms);

#define CONSENT_EVENT "Consent Updated"

#endif
