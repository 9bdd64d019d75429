/* Consent: validation, dedupe and regimes over the append-only ledger,
 * and the readers of `consent` traits (identify, import) and of "Consent
 * Updated" events.  Logs name fields and message ids, never values. */
#include "consent.h"

#include "log.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

#define CHANNEL_MAX 64

static int valid_channel(const char *channel)
{
    size_t n = channel ? strlen(channel) : 0;
    if (n == 0 || n > CHANNEL_MAX) return 0;
    return strspn(channel, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int valid_purpose(const char *purpose)
{
    return purpose &&
           (!strcmp(purpose, "marketing") || !strcmp(purpose, "transactional"));
}

int consent_check(const char *channel, const char *purpose, char *err, size_t err_len)
{
    if (!valid_channel(channel)) {
        snprintf(err, err_len,
                 "a channel is 1 to %d lowercase letters, digits, '_' or '-' (e.g. "
                 "\"sms\", \"email\")",
                 CHANNEL_MAX);
        return -1;
    }
    if (!valid_purpose(purpose)) {
        snprintf(err, err_len, "the purpose must be \"marketing\" or \"transactional\"");
        return -1;
    }
    return 0;
}

int consent_record(store *s, const char *profile_id, const char *channel,
                   const char *purpose, int granted, int64_t at_ms, const char *source,
                   const char *proof)
{
    char err[160];
    if (!profile_id || !source || !*source ||
        consent_check(channel, purpose, err, sizeof err))
        return CONSENT_INVALID;
    int in_force = 0;
    int found = store_consent_latest(s, profile_id, channel, purpose, at_ms, &in_force);
    if (found < 0) return CONSENT_ERROR;
    if (found && !in_force == !granted) return CONSENT_UNCHANGED;
    consent_row r = {.profile_id = profile_id,
                     .channel = channel,
                     .purpose = purpose,
                     .status = granted ? "granted" : "revoked",
                     .at_ms = at_ms,
                     .source = source,
                     .proof = proof};
    return store_consent_append(s, &r) ? CONSENT_ERROR : CONSENT_RECORDED;
}

int consent_status(store *s, const char *profile_id, const char *channel,
                   const char *purpose, const char *default_regime)
{
    char err[160];
    int granted = 0;
    if (!profile_id || consent_check(channel, purpose, err, sizeof err)) return 0;
    int found =
        store_consent_latest(s, profile_id, channel, purpose, INT64_MAX, &granted);
    if (found < 0) return 0; /* logged; a store error never grants */
    if (found) return granted;
    /* no record: transactional messages need no grant, marketing follows
     * the regime */
    if (!strcmp(purpose, "transactional")) return 1;
    return default_regime && !strcmp(default_regime, "opt_out");
}

/* Where consent traits come from: whose, which call, when. */
typedef struct trait_origin {
    store *s;
    const char *profile_id, *source; /* source: "identify", "import" */
    int64_t at_ms;
} trait_origin;

/* One trait value: consent.CHANNEL (marketing, PURPOSE NULL) or
 * consent.CHANNEL.PURPOSE.  0, or -1 on a store error. */
static int trait_value(const trait_origin *o, const char *channel, const char *purpose,
                       const cJSON *value)
{
    char field[200], err[160];
    snprintf(field, sizeof field, "consent.%s%s%s", channel, purpose ? "." : "",
             purpose ? purpose : "");
    /* null: a merge patch removing the trait, no statement about consent */
    if (cJSON_IsNull(value)) return 0;
    if (!cJSON_IsBool(value)) {
        log_warn("%s of profile %s: trait %s is not true or false; not recorded",
                 o->source, o->profile_id, field);
        return 0;
    }
    if (!purpose) purpose = "marketing";
    if (consent_check(channel, purpose, err, sizeof err)) {
        log_warn("%s of profile %s: trait %s: %s; not recorded", o->source, o->profile_id,
                 field, err);
        return 0;
    }
    int rc = consent_record(o->s, o->profile_id, channel, purpose, cJSON_IsTrue(value),
                            o->at_ms, o->source, NULL);
    return rc == CONSENT_ERROR ? -1 : 0;
}

/* consent.CHANNEL: a boolean (marketing) or { PURPOSE = boolean, ... }. */
static int trait_channel(const trait_origin *o, const cJSON *item)
{
    if (!cJSON_IsObject(item)) return trait_value(o, item->string, NULL, item);
    int rc = 0;
    for (const cJSON *p = item->child; p && !rc; p = p->next)
        rc = trait_value(o, item->string, p->string, p);
    return rc;
}

int consent_from_object(store *s, const char *profile_id, const cJSON *traits,
                        int64_t at_ms, const char *source)
{
    trait_origin o = {s, profile_id, source, at_ms};
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive(traits, "consent");
    int rc = 0;
    if (consent && !cJSON_IsObject(consent) && !cJSON_IsNull(consent))
        log_warn("%s of profile %s: trait consent is not an object such as"
                 " { sms = true }; not recorded",
                 source, profile_id);
    for (const cJSON *c = cJSON_IsObject(consent) ? consent->child : NULL; c && !rc;
         c = c->next)
        rc = trait_channel(&o, c);
    return rc;
}

int consent_from_traits(store *s, const char *profile_id, const char *traits_json,
                        int64_t at_ms)
{
    /* most identify calls carry no consent: no second parse for them */
    if (!traits_json || !strstr(traits_json, "\"consent\"")) return 0;
    cJSON *traits = cJSON_Parse(traits_json);
    int rc = consent_from_object(s, profile_id, traits, at_ms, "identify");
    cJSON_Delete(traits);
    return rc;
}

/* What a "Consent Updated" event asks for, or which property is bad. */
typedef struct event_consent {
    const char *channel, *purpose, *proof;
    int granted;
    const char *bad, *why; /* the first bad property and what is wrong with it */
} event_consent;

static int refuse(event_consent *ec, const char *property, const char *why)
{
    ec->bad = property, ec->why = why;
    return -1;
}

/* Reads the event's properties into ec.  0, or -1 with ec->bad set. */
static int read_properties(const cJSON *props, event_consent *ec)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(props, "status");
    const cJSON *granted = cJSON_GetObjectItemCaseSensitive(props, "granted");
    const cJSON *purpose = cJSON_GetObjectItemCaseSensitive(props, "purpose");
    const cJSON *proof = cJSON_GetObjectItemCaseSensitive(props, "proof");
    const char *word = cJSON_GetStringValue(status);
    ec->channel =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(props, "channel"));
    ec->purpose = purpose ? cJSON_GetStringValue(purpose) : "marketing";
    ec->proof = cJSON_GetStringValue(proof);
    if (!valid_channel(ec->channel))
        return refuse(ec, "channel", "is missing or not a name of a-z, 0-9, '_' and '-'");
    if (status && (!word || (strcmp(word, "granted") && strcmp(word, "revoked"))))
        return refuse(ec, "status", "must be \"granted\" or \"revoked\"");
    if (!status && !granted)
        return refuse(ec, "status", "is missing (or give granted = true/false)");
    if (!status && !cJSON_IsBool(granted))
        return refuse(ec, "granted", "must be true or false");
    if (!valid_purpose(ec->purpose))
        return refuse(ec, "purpose", "must be \"marketing\" or \"transactional\"");
    if (proof && !ec->proof && !cJSON_IsNull(proof))
        return refuse(ec, "proof", "must be text");
    ec->granted = status ? !strcmp(word, "granted") : cJSON_IsTrue(granted);
    return 0;
}

int consent_from_event(store *s, const char *profile_id, const char *event_json,
                       const char *message_id, int64_t at_ms)
{
    cJSON *event = cJSON_Parse(event_json);
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(event, "properties");
    event_consent ec = {0};
    int rc = 0;
    if (!message_id) message_id = "-";
    if (!cJSON_IsObject(props))
        log_warn("event %s (" CONSENT_EVENT "): no properties; nothing recorded",
                 message_id);
    else if (read_properties(props, &ec))
        log_warn("event %s (" CONSENT_EVENT "): property %s %s; nothing recorded",
                 message_id, ec.bad, ec.why);
    else
        rc = consent_record(s, profile_id, ec.channel, ec.purpose, ec.granted, at_ms,
                            "event", ec.proof);
    cJSON_Delete(event);
    return rc == CONSENT_ERROR ? -1 : 0;
}
