/* Deterministic replay of one journey activation: recorded j: calls answer
 * from the history, new ones do their work and are recorded in the same
 * transaction as everything else the step does. */
#include "activation.h"

#include "consent.h"
#include "guardrails.h"
#include "privacy.h"

#include "log.h"
#include "timeutil.h"

#include <cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int act_begin(activation *a)
{
    a->seq = 0;
    a->outcome = ACT_RUNNING;
    a->error[0] = 0;
    a->history = NULL, a->history_len = 0;
    if (a->inst->steps == 0) return 0; /* a new instance has no history yet */
    return store_history_load(a->store, a->inst->id, &a->history, &a->history_len);
}

void act_end(activation *a)
{
    store_history_free(a->history, a->history_len);
    a->history = NULL;
    a->history_len = 0;
}

int act_replay(activation *a, const char *kind, const char **result)
{
    if (a->seq >= a->history_len) return 0;
    history_entry *e = &a->history[a->seq];
    if (strcmp(e->kind, kind) != 0) {
        snprintf(a->error, sizeof a->error,
                 "journey is not deterministic: step %d was j:%s and is now j:%s "
                 "(read time, randomness and profile data only through j)",
                 a->seq + 1, e->kind, kind);
        return -1;
    }
    *result = e->result;
    a->seq++;
    return 1;
}

int act_record(activation *a, const char *kind, const char *result)
{
    if (store_history_append(a->store, a->inst->id, a->seq, kind, result)) return -1;
    a->seq++;
    a->inst->steps = a->seq;
    return 0;
}

enum act_block act_block(activation *a, const char *kind, int64_t wait_ms,
                         const char *event, int line)
{
    instance *in = a->inst;
    if (!in->pending_kind) {
        in->pending_kind = strdup(kind);
        in->pending_event = event ? strdup(event) : NULL;
        in->pending_due_ms = a->now_ms + wait_ms;
        in->pending_line = line;
        return BLOCK_SUSPEND;
    }
    if (a->wake == WAKE_EVENT && in->pending_event && a->wake_event_name &&
        strcmp(in->pending_event, a->wake_event_name) == 0)
        return BLOCK_EVENT;
    if (a->now_ms >= in->pending_due_ms) return BLOCK_TIMEOUT;
    return BLOCK_SUSPEND;
}

int act_unblock(activation *a)
{
    instance *in = a->inst;
    /* a timer wake: the engine took the timer off already */
    int rc = a->wake == WAKE_TIMER
                 ? 0
                 : store_timer_clear(a->store, in->id, in->pending_due_ms);
    free(in->pending_kind), free(in->pending_event);
    in->pending_kind = in->pending_event = NULL;
    in->pending_due_ms = 0;
    in->pending_line = 0;
    return rc;
}

const char *act_trigger_json(activation *a)
{
    instance *in = a->inst;
    if (!in->trigger_json)
        in->trigger_json = store_event_body(a->store, in->trigger_event_id);
    return in->trigger_json;
}

/* The guardrails' verdict on a new message (guardrails.h); a held-out
 * instance queues nothing and asks nothing. */
static int decide(activation *a, const char *channel, guard_outcome *g)
{
    instance *in = a->inst;
    char zone[TZ_NAME_MAX + 1];
    if (in->holdout) {
        memset(g, 0, sizeof *g);
        g->status = "holdout";
        snprintf(g->reason, sizeof g->reason, "holdout");
        snprintf(g->detail, sizeof g->detail, "control group");
        return 0;
    }
    guard_config none = {.consent_default = "opt_out"};
    const guard_config *rules = a->guard ? a->guard : &none;
    int quiet = guard_quiet_active(rules->quiet, rules->quiet_count, channel);
    if (quiet) act_timezone(a, zone); /* a query or two: only when it matters */
    guard_message m = {.profile_id = in->profile_id,
                       .journey = in->journey,
                       .channel = channel,
                       .purpose = a->purpose,
                       .zone = quiet ? zone : NULL,
                       .now_ms = a->now_ms,
                       .journey_caps = a->journey_caps,
                       .journey_cap_count = a->journey_cap_count};
    return guardrails_at_queue(a->store, rules, &m, g);
}

static void count_outcome(activation *a, const char *status)
{
    if (!strcmp(status, "queued") || !strcmp(status, "deferred"))
        a->counters->messages_queued++;
    if (!strcmp(status, "deferred")) a->counters->messages_deferred++;
    if (!strcmp(status, "holdout")) a->counters->messages_holdout++;
    if (!strcmp(status, "suppressed")) a->counters->messages_suppressed++;
    if (!strcmp(status, "capped")) a->counters->messages_capped++;
}

/* Queues the message (held to not_before when deferred). */
static int queue(activation *a, const char *channel, const char *template_name,
                 const char *vars_json, const guard_outcome *g)
{
    instance *in = a->inst;
    char key[64];
    snprintf(key, sizeof key, "nudge-%lld-%d", (long long)in->id, a->seq);
    int transactional = a->purpose && !strcmp(a->purpose, "transactional");
    if (store_outbox_insert(a->store, key, in->id, in->journey, in->profile_id, channel,
                            template_name, vars_json, a->now_ms))
        return -1;
    return g->not_before_ms || transactional
               ? store_outbox_hold(a->store, key,
                                   transactional ? "transactional" : "marketing",
                                   g->not_before_ms)
               : 0;
}

int act_send(activation *a, const char *channel, const char *template_name,
             const char *vars_json, const char **status, const char **result)
{
    instance *in = a->inst;
    guard_outcome g;
    if (decide(a, channel, &g)) return -1;
    int sending = !strcmp(g.status, "queued") || !strcmp(g.status, "deferred");
    if (sending && queue(a, channel, template_name, vars_json, &g)) return -1;
    count_outcome(a, g.status);
    message_log_row row = {in->id,   in->profile_id, in->journey, channel,  template_name,
                           g.status, g.reason,       g.detail,    a->now_ms};
    if (store_message_log(a->store, &row)) return -1;
    *status = g.status;
    if (!strcmp(g.status, "queued")) return *result = "{\"status\":\"queued\"}", 0;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "reason", g.reason);
    cJSON_AddStringToObject(r, "status", g.status);
    int rc =
        cJSON_PrintPreallocated(r, a->send_result, sizeof a->send_result, 0) ? 0 : -1;
    cJSON_Delete(r);
    *result = a->send_result;
    return rc;
}

char *act_profile_json(activation *a)
{
    char *text = store_profile_json(a->store, a->inst->profile_id, a->now_ms);
    return privacy_expose(a->privacy, a->store, a->inst->profile_id, text);
}

int act_set_trait(activation *a, const char *trait, const char *value_json)
{
    static const char *const computed[] = {"id",
                                           "first_seen",
                                           "last_seen",
                                           "order_count",
                                           "revenue_total",
                                           "days_since_last_order",
                                           "events",
                                           NULL};
    for (int i = 0; computed[i]; i++)
        if (!strcmp(trait, computed[i])) return 1;
    cJSON *patch = cJSON_CreateObject(), *value = cJSON_Parse(value_json);
    if (!patch || !value) return cJSON_Delete(patch), cJSON_Delete(value), -1;
    cJSON_AddItemToObject(patch, trait, value);
    const char *id = a->inst->profile_id;
    int rc = a->privacy ? privacy_apply_object(a->privacy, a->store, id, patch) : -1;
    if (!a->privacy) {
        char *text = cJSON_PrintUnformatted(patch);
        rc = text ? store_profile_merge_traits(a->store, id, text) : -1;
        free(text);
    }
    cJSON_Delete(patch);
    return rc;
}

void act_timezone(activation *a, char *zone)
{
    const char *id = a->inst->profile_id;
    char *trait = store_profile_trait(a->store, id, "timezone");
    if (!trait || !tz_valid(trait)) {
        free(trait);
        trait = store_profile_context_timezone(a->store, id);
    }
    const char *chosen = trait && tz_valid(trait) ? trait : a->default_timezone;
    snprintf(zone, TZ_NAME_MAX + 1, "%s", chosen ? chosen : "UTC");
    free(trait);
}

int act_due_time(activation *a, const char *when, int64_t *due_ms)
{
    int hour, minute;
    char zone[TZ_NAME_MAX + 1];
    if (tz_parse_hhmm(when, &hour, &minute) == 0) {
        act_timezone(a, zone);
        return tz_next_time_of_day(zone, a->now_ms, hour, minute, due_ms);
    }
    return time_parse_iso8601(when, due_ms);
}

int act_consented(activation *a, const char *channel, const char *purpose)
{
    return consent_status(a->store, a->inst->profile_id, channel,
                          purpose ? purpose : "marketing", a->consent_default);
}

double act_stable_fraction(const char *journey, const char *profile_id, const char *salt)
{
    crypto_generichash_state st;
    unsigned char hash[8];
    crypto_generichash_init(&st, NULL, 0, sizeof hash);
    crypto_generichash_update(&st, (const unsigned char *)journey, strlen(journey) + 1);
    crypto_generichash_update(&st, (const unsigned char *)profile_id,
                              strlen(profile_id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)salt, strlen(salt));
    crypto_generichash_final(&st, hash, sizeof hash);
    uint64_t v = 0;
    for (int i = 0; i < 7; i++)
        v = v << 8 | hash[i];
    return (double)v / (double)(1ULL << 56);
}

int act_split(activation *a, const double *weights, int count)
{
    char salt[32];
    double total = 0, at = 0;
    for (int i = 0; i < count; i++)
        total += weights[i];
    snprintf(salt, sizeof salt, "split-%d", a->seq);
    double point =
        act_stable_fraction(a->inst->journey, a->inst->profile_id, salt) * total;
    for (int i = 0; i < count; i++)
        if (point < (at += weights[i])) return i;
    return count - 1;
}
