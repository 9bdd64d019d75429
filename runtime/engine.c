/* The journey engine: event routing (triggers, wait_for, exit_on, goals),
 * timers, the clock, and what happens to an instance after each
 * activation. */
#include "engine.h"

#include "consent.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine {
    store *store;
    host *host;
    engine_options options;
    engine_stats *stats;
    recipe **live; /* recipes whose triggers are live */
    int live_count;
    int64_t now_ms;           /* event clock */
    int64_t next_instance_id; /* new instances are saved once, after their first step */
    int64_t next_due;         /* no timer is due before this (a lower bound) */
};

#define CLOCK_KEY "event_clock_ms"

/* Loads the version of every live instance, so that host_watches knows
 * every event that may end one. */
static int preload_version(void *ctx, const char *hash)
{
    char err[300];
    if (!host_recipe(ctx, hash, err, sizeof err)) log_warn("%s", err);
    return 0;
}

engine *engine_new(store *s, host *h, engine_options options, engine_stats *stats)
{
    engine *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->store = s, e->host = h, e->options = options, e->stats = stats;
    e->next_due = INT64_MIN; /* unknown: look */
    if (!e->options.consent_default) e->options.consent_default = "opt_in";
    if (!e->options.timezone) e->options.timezone = "UTC";
    if (store_meta_get(s, CLOCK_KEY, &e->now_ms) < 0 ||
        (e->next_instance_id = store_instance_next_id(s)) < 0 ||
        store_live_versions(s, preload_version, h))
        return free(e), NULL;
    return e;
}

void engine_free(engine *e)
{
    if (!e) return;
    free(e->live);
    free(e);
}

int engine_add_recipe(engine *e, recipe *r)
{
    recipe **bigger = realloc(e->live, (size_t)(e->live_count + 1) * sizeof *bigger);
    if (!bigger) return -1;
    e->live = bigger;
    e->live[e->live_count++] = r;
    return 0;
}

recipe *const *engine_live_recipes(engine *e, int *count)
{
    *count = e->live_count;
    return e->live;
}

void engine_clear_recipes(engine *e)
{
    e->live_count = 0;
}

void engine_reconfigure(engine *e, engine_options options)
{
    options.event_clock = e->options.event_clock;
    e->options = options;
}

int64_t engine_now(engine *e)
{
    return e->options.event_clock ? e->now_ms : time_wall_ms();
}

int engine_checkpoint(engine *e)
{
    return e->options.event_clock ? store_meta_set(e->store, CLOCK_KEY, e->now_ms) : 0;
}

/* Ends the instance for good: clears its timer and records why. */
static void finish(engine *e, instance *in, int state, int64_t now)
{
    if (in->pending_due_ms) store_timer_clear(e->store, in->id, in->pending_due_ms);
    in->state = state;
    in->ended_ms = now;
    in->pending_due_ms = 0;
    if (state == INSTANCE_EXITED) e->stats->journeys_exited++;
    if (state == INSTANCE_COMPLETED) e->stats->journeys_completed++;
    if (state == INSTANCE_FAILED) e->stats->journeys_failed++;
}

static void fail_instance(engine *e, instance *in, const char *why, int64_t now)
{
    char shown[600]; /* recipe text may hold newlines or escapes: one line */
    snprintf(shown, sizeof shown, "%s", why);
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    why = shown;
    log_error("journey %s instance %lld (profile %s) failed: %s", in->journey,
              (long long)in->id, in->profile_id, why);
    free(in->error);
    in->error = strdup(why);
    finish(e, in, INSTANCE_FAILED, now);
}

/* Journeys match track events by name and other calls by type
 * ("identify", "page", ...). */
static const char *route_name(const nudge_event *ev)
{
    return strcmp(ev->type, "track") == 0 ? ev->name : ev->type;
}

/* Runs one activation and saves what it left (a new instance is
 * inserted then).  -1 only on store errors. */
static int activate(engine *e, recipe *r, instance *in, enum wake_kind wake,
                    const nudge_event *ev, const char *event_json)
{
    int is_new = wake == WAKE_START;
    int64_t now = engine_now(e);
    activation a = {.store = e->store,
                    .inst = in,
                    .now_ms = now,
                    .wake = wake,
                    .consent_default = e->options.consent_default,
                    .default_timezone = e->options.timezone,
                    .wake_event_name = ev ? route_name(ev) : NULL,
                    .wake_event_json = event_json,
                    .purpose = r->purpose,
                    .privacy = e->options.privacy,
                    .guard = e->options.guard,
                    .journey_caps = r->caps,
                    .journey_cap_count = r->cap_count,
                    .counters = &e->stats->sends};
    if (act_begin(&a)) return -1;
    host_activate(e->host, r, &a);
    act_end(&a);
    switch (a.outcome) {
    case ACT_SUSPENDED:
        in->state = INSTANCE_WAITING;
        if (store_timer_set(e->store, in->id, in->pending_due_ms)) return -1;
        if (in->pending_due_ms < e->next_due) e->next_due = in->pending_due_ms;
        break;
    case ACT_COMPLETED:
        finish(e, in, INSTANCE_COMPLETED, now);
        break;
    case ACT_EXITED:
        finish(e, in, INSTANCE_EXITED, now);
        break;
    default:
        fail_instance(e, in, a.error[0] ? a.error : "unknown failure", now);
        break;
    }
    return is_new ? store_instance_insert(e->store, in)
                  : store_instance_update(e->store, in);
}

/* Wakes the instance a timer was set for, unless it has moved on since. */
static int fire_timer(engine *e, int64_t id, int64_t due)
{
    instance in = {0};
    char err[300];
    int rc = store_instance_load(e->store, id, &in);
    if (rc <= 0) return rc; /* -1 error, 0 gone */
    rc = 0;
    if (in.state == INSTANCE_WAITING && in.pending_due_ms == due) {
        recipe *r = host_recipe(e->host, in.version, err, sizeof err);
        if (r) {
            rc = activate(e, r, &in, WAKE_TIMER, NULL, NULL);
        } else {
            fail_instance(e, &in, err, engine_now(e));
            rc = store_instance_update(e->store, &in);
        }
    }
    store_instance_free(&in);
    return rc;
}

int engine_advance(engine *e, int64_t now_ms)
{
    int64_t id, due;
    int found = 0;
    if (now_ms < e->next_due) goto done; /* nothing can be due yet */
    while ((found = store_timer_next(e->store, now_ms, &id, &due)) == 1) {
        if (store_timer_clear(e->store, id, due)) return -1;
        if (e->options.event_clock && due > e->now_ms) e->now_ms = due;
        if (fire_timer(e, id, due)) return -1;
    }
    if (found == 0) e->next_due = store_timer_earliest(e->store);
done:
    if (e->options.event_clock && now_ms > e->now_ms) e->now_ms = now_ms;
    return found < 0 ? -1 : 0;
}

static int listed(char **names, int count, const char *name)
{
    for (int i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

typedef struct routing {
    engine *e;
    const nudge_event *ev;
    int64_t event_id; /* its row in the events table */
    const char *name; /* the track event's name, else the event type */
    const char *json;
} routing;

/* One live instance of the event's profile: goal, exit_on, wait_for. */
static int route_to_instance(void *ctx, instance *in)
{
    routing *rt = ctx;
    engine *e = rt->e;
    char err[300];
    int64_t now = engine_now(e);
    recipe *r = host_recipe(e->host, in->version, err, sizeof err);
    if (!r) {
        fail_instance(e, in, err, now);
        return store_instance_update(e->store, in);
    }
    int changed = 0;
    if (r->goal_event && !in->goal_ms && strcmp(r->goal_event, rt->name) == 0 &&
        (!r->goal_within_ms || now - in->started_ms <= r->goal_within_ms))
        in->goal_ms = now, changed = 1;
    if (listed(r->exit_on, r->exit_on_count, rt->name)) {
        free(in->exit_reason);
        in->exit_reason = strdup(rt->name);
        finish(e, in, INSTANCE_EXITED, now);
        return store_instance_update(e->store, in);
    }
    if (in->state == INSTANCE_WAITING && in->pending_event &&
        strcmp(in->pending_event, rt->name) == 0)
        return activate(e, r, in, WAKE_EVENT, rt->ev, rt->json);
    return changed ? store_instance_update(e->store, in) : 0;
}

/* Whether the profile may enter journey r now (one live instance at most,
 * then the recipe's reentry rule). */
static int may_enter(engine *e, recipe *r, const char *profile_id, int64_t now)
{
    int state;
    int64_t started;
    int found = store_instance_latest(e->store, r->name, profile_id, &state, &started);
    if (found <= 0) return found < 0 ? -1 : 1;
    if (state < INSTANCE_COMPLETED || !r->reentry) return 0;
    return !r->reentry_ms || now - started >= r->reentry_ms;
}

int engine_may_enter(engine *e, recipe *r, const char *profile_id)
{
    return may_enter(e, r, profile_id, engine_now(e));
}

/* A new instance of r for the profile, started by the stored event
 * EVENT_ID (whose text is JSON), and its first activation. */
static int enter(engine *e, recipe *r, const char *profile_id, int64_t event_id,
                 const char *json, const nudge_event *ev)
{
    /* owned copies: activate() may replace some of the strings */
    instance in = {.id = e->next_instance_id++,
                   .journey = strdup(r->name),
                   .version = strdup(r->hash),
                   .profile_id = strdup(profile_id),
                   .state = INSTANCE_RUNNING,
                   .started_ms = engine_now(e),
                   .trigger_event_id = event_id,
                   .trigger_json = strdup(json),
                   .holdout =
                       act_stable_fraction(r->name, profile_id, "holdout") < r->holdout};
    e->stats->journeys_started++;
    int rc = activate(e, r, &in, WAKE_START, ev, json);
    store_instance_free(&in);
    return rc;
}

int engine_enter(engine *e, recipe *r, const char *profile_id, int64_t event_id,
                 const char *event_json)
{
    return enter(e, r, profile_id, event_id, event_json, NULL);
}

static int start_instance(engine *e, recipe *r, routing *rt)
{
    int64_t now = engine_now(e);
    const char *profile_id = rt->ev->profile_id;
    int ok = may_enter(e, r, profile_id, now);
    if (ok <= 0) return ok;
    if (r->has_where) {
        char err[600];
        where_profile profile = {profile_id, now, e->options.privacy};
        ok = host_where(e->host, r, rt->json, &profile, err, sizeof err);
        if (ok < 0)
            log_error("journey %s: trigger.where failed for profile %s: %s", r->name,
                      profile_id, err);
        if (ok <= 0) return 0;
    }
    return enter(e, r, profile_id, rt->event_id, rt->json, rt->ev);
}

/* The identify call's traits join the profile (PII encrypted); a
 * `consent` trait goes to the consent ledger at the event's time. */
static int apply_identify(engine *e, const nudge_event *ev)
{
    if (!ev->traits_json) return 0;
    if (!e->options.privacy)
        return store_profile_merge_traits(e->store, ev->profile_id, ev->traits_json) ||
                       consent_from_traits(e->store, ev->profile_id, ev->traits_json,
                                           ev->ts_ms)
                   ? -1
                   : 0;
    /* one parse for both: the consent ledger reads first, then the privacy
     * pass masks PII members in place (consent flags are booleans, kept) */
    cJSON *traits = cJSON_Parse(ev->traits_json);
    int rc =
        consent_from_object(e->store, ev->profile_id, traits, ev->ts_ms, "identify") ||
        privacy_apply_object(e->options.privacy, e->store, ev->profile_id, traits);
    cJSON_Delete(traits);
    return rc ? -1 : 0;
}

/* Links FROM (an anonymous id, or alias's previousId) to profile INTO:
 * FROM's events, traits, PII and journeys move there.  An id already
 * linked keeps its first link. */
static int link_identity(engine *e, const char *from, const char *into)
{
    if (!from || !into || !strcmp(from, into)) return 0;
    char *linked = store_identity_resolve(e->store, from);
    if (linked) {
        if (strcmp(linked, into))
            log_warn("%s is linked to profile %s already; not linked to %s", from, linked,
                     into);
        return free(linked), 0;
    }
    int64_t now = engine_now(e);
    if (store_identity_link(e->store, from, into, now)) return -1;
    if (store_profile_exists(e->store, from) <= 0) return 0;
    if (e->options.privacy && privacy_merge(e->options.privacy, e->store, from, into))
        return -1;
    int ended = store_profile_merge(e->store, from, into, now);
    if (ended > 0) e->stats->journeys_exited += ended; /* duplicates merged away */
    return ended < 0 ? -1 : 0;
}

/* The profile an event belongs to: its userId, else the profile its
 * anonymousId was linked to, else the anonymousId.  *owned is set when
 * the id is malloc'd. */
static const char *event_profile(engine *e, const nudge_event *ev, char **owned)
{
    *owned = NULL;
    if (ev->user_id || !ev->anonymous_id) return ev->profile_id;
    *owned = store_identity_resolve(e->store, ev->anonymous_id);
    return *owned ? *owned : ev->profile_id;
}

/* Links made by the event: identify with both ids, alias. */
static int apply_links(engine *e, const nudge_event *ev)
{
    if (!strcmp(ev->type, "alias")) return link_identity(e, ev->previous_id, ev->user_id);
    if (!strcmp(ev->type, "identify") && ev->user_id)
        return link_identity(e, ev->anonymous_id, ev->user_id);
    return 0;
}

static int route_event(engine *e, const nudge_event *ev, const char *json, int json_len);

int engine_event(engine *e, const nudge_event *given)
{
    char *owned;
    nudge_event ev = *given;
    /* timers due before the event fire first, under the profiles they had */
    if (e->options.event_clock &&
        engine_advance(e, ev.ts_ms > e->now_ms ? ev.ts_ms : e->now_ms))
        return -1;
    ev.profile_id = event_profile(e, given, &owned);
    int rc = -1;
    if (ev.profile_id && !apply_links(e, &ev)) {
        char *printed = ev.raw ? NULL : cJSON_PrintUnformatted(ev.json);
        const char *json = printed ? printed : ev.raw;
        if (json)
            rc = route_event(e, &ev, json,
                             printed ? (int)strlen(printed) : (int)ev.raw_len);
        free(printed);
    }
    free(owned);
    return rc;
}

/* A goal reached after the journey ended (it sent its last message and
 * finished, or the person left) still counts within the goal's window:
 * the person's latest instance of R's journey, if it has ended, gets it. */
static int goal_after_end(engine *e, const recipe *r, const char *profile_id,
                          const char *name)
{
    if (!r->goal_event || strcmp(r->goal_event, name)) return 0;
    return store_instance_goal_after_end(e->store, r->name, profile_id, engine_now(e),
                                         r->goal_within_ms);
}

/* Stores the event, then routes it: goals, exits and waits of the
 * profile's live instances, then the triggers. */
static int route_event(engine *e, const nudge_event *ev, const char *json, int json_len)
{
    int rc = -1;
    int inserted =
        store_event_insert(e->store, ev->message_id, ev->type, ev->name, ev->profile_id,
                           ev->user_id, ev->anonymous_id, ev->ts_ms, json, json_len);
    if (inserted <= 0) {
        if (inserted == 0) e->stats->events_duplicate++;
        rc = inserted;
        goto done;
    }
    if (!strcmp(ev->type, "identify") && apply_identify(e, ev)) goto done;
    if (!strcmp(ev->type, "track") && ev->name && !strcmp(ev->name, CONSENT_EVENT) &&
        consent_from_event(e->store, ev->profile_id, json, ev->message_id, ev->ts_ms))
        goto done;
    routing rt = {e, ev, store_last_insert_id(e->store), route_name(ev), json};
    if (host_watches(e->host, rt.name))
        rc = store_instances_live(e->store, ev->profile_id, route_to_instance, &rt);
    else
        rc = store_instances_waiting_for(e->store, ev->profile_id, rt.name,
                                         route_to_instance, &rt);
    for (int i = 0; !rc && i < e->live_count; i++)
        rc = goal_after_end(e, e->live[i], ev->profile_id, rt.name);
    for (int i = 0; !rc && i < e->live_count; i++)
        if (e->live[i]->trigger_event && !strcmp(e->live[i]->trigger_event, rt.name))
            rc = start_instance(e, e->live[i], &rt);
done:
    return rc;
}
