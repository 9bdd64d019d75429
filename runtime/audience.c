/* Audience triggers: the schedule of each audience journey (in the meta
 * table), and its passes over the profiles, a page of ids at a time, each
 * match entered through the engine with a synthetic event. */
#include "audience.h"

#include "log.h"
#include "timeutil.h"

#include <cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUE_KEY "audience_due:" /* + journey: when its next pass is due */
#define ERRORS_SHOWN 20         /* audience errors logged per pass */

/* When a journey's next pass is due (AUDIENCE_NEVER: at once). */
typedef struct schedule {
    char *journey;
    int64_t due_ms;
} schedule;

/* The pass under way: it may span commits (and the service's slices). */
typedef struct pass {
    char *journey;  /* NULL: none */
    int64_t due_ms; /* when it was due: names its events */
    int64_t at_ms;  /* the time it runs at: the profiles' clock */
    char *cursor;   /* the last profile walked; NULL before the first */
    long walked, entered, failed;
} pass;

struct audience {
    store *store;
    host *host;
    engine *engine;
    privacy *privacy;
    schedule **schedules; /* each apart: pointers to them stay valid */
    int schedule_count;
    pass pass;
    long since_commit; /* profiles walked since the last commit */
};

audience *audience_new(store *s, host *h, engine *e, privacy *p)
{
    audience *a = calloc(1, sizeof *a);
    if (a) a->store = s, a->host = h, a->engine = e, a->privacy = p;
    return a;
}

static void drop_pass(audience *a)
{
    free(a->pass.journey), free(a->pass.cursor);
    memset(&a->pass, 0, sizeof a->pass);
}

/* Forgets what is held in memory: read again from the store next time
 * (after a rollback). */
static void forget(audience *a)
{
    drop_pass(a);
    for (int i = 0; i < a->schedule_count; i++)
        free(a->schedules[i]->journey), free(a->schedules[i]);
    free(a->schedules);
    a->schedules = NULL, a->schedule_count = 0;
}

void audience_free(audience *a)
{
    if (!a) return;
    forget(a);
    free(a);
}

int64_t audience_next_due(int64_t due_ms, int64_t at_ms, int64_t every_ms)
{
    if (every_ms < 1) every_ms = 60000;
    if (due_ms > at_ms) return due_ms;
    return due_ms + ((at_ms - due_ms) / every_ms + 1) * every_ms;
}

char *audience_message_id(const char *journey, const char *profile_id, int64_t due_ms)
{
    int len = snprintf(NULL, 0, "aud-%s-%s-%lld", journey, profile_id, (long long)due_ms);
    char *id = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (id)
        snprintf(id, (size_t)len + 1, "aud-%s-%s-%lld", journey, profile_id,
                 (long long)due_ms);
    return id;
}

/* "audience_due:<journey>" (malloc'd), or NULL. */
static char *due_key(const char *journey)
{
    size_t len = sizeof DUE_KEY + strlen(journey);
    char *key = malloc(len);
    if (key) snprintf(key, len, DUE_KEY "%s", journey);
    return key;
}

static int save_due(audience *a, schedule *sc, int64_t due_ms)
{
    char *key = due_key(sc->journey);
    int rc = key ? store_meta_set(a->store, key, due_ms) : -1;
    free(key);
    if (!rc) sc->due_ms = due_ms;
    return rc;
}

/* The journey's schedule, read from the store the first time.  NULL on a
 * store error or out of memory. */
static schedule *schedule_of(audience *a, const char *journey)
{
    for (int i = 0; i < a->schedule_count; i++)
        if (!strcmp(a->schedules[i]->journey, journey)) return a->schedules[i];
    schedule **bigger =
        realloc(a->schedules, (size_t)(a->schedule_count + 1) * sizeof *bigger);
    if (!bigger) return NULL;
    a->schedules = bigger;
    schedule *sc = calloc(1, sizeof *sc);
    char *key = due_key(journey);
    int found = key && sc ? store_meta_get(a->store, key, &sc->due_ms) : -1;
    free(key);
    if (found < 0 || !(sc->journey = strdup(journey))) return free(sc), NULL;
    if (!found) sc->due_ms = AUDIENCE_NEVER;
    return a->schedules[a->schedule_count++] = sc;
}

/* The live audience recipe whose pass is due first (NULL: none), with its
 * schedule; *failed is set on a store error. */
static recipe *first_due(audience *a, schedule **out, int *failed)
{
    int count;
    recipe *const *live = engine_live_recipes(a->engine, &count);
    recipe *best = NULL;
    for (int i = 0; i < count; i++) {
        if (!live[i]->has_audience) continue;
        schedule *sc = schedule_of(a, live[i]->name);
        if (!sc) return *failed = 1, NULL;
        if (!best || sc->due_ms < (*out)->due_ms) best = live[i], *out = sc;
    }
    return best;
}

/* The live recipe of the pass under way (a reload may have dropped it). */
static recipe *pass_recipe(audience *a)
{
    int count;
    recipe *const *live = engine_live_recipes(a->engine, &count);
    for (int i = 0; i < count; i++)
        if (live[i]->has_audience && !strcmp(live[i]->name, a->pass.journey))
            return live[i];
    return NULL;
}

int audience_due(audience *a, int64_t now_ms)
{
    schedule *sc = NULL;
    int failed = 0;
    if (a->pass.journey) return 1;
    recipe *r = first_due(a, &sc, &failed);
    if (failed) return -1;
    return r && sc->due_ms <= now_ms;
}

/* Starts the pass due first if it is due at now_ms: 1 started, 0 none
 * due, -1.  Timers due before it fire first.  Its due time is saved
 * before any profile is walked, so a pass cut short by a crash is run
 * again under the same due time and names its events alike. */
static int begin_due(audience *a, int64_t now_ms, int catch_up)
{
    schedule *sc = NULL;
    int failed = 0;
    recipe *r = first_due(a, &sc, &failed);
    if (failed) return -1;
    if (!r || sc->due_ms > now_ms) return 0;
    int64_t at = catch_up && sc->due_ms != AUDIENCE_NEVER ? sc->due_ms : now_ms;
    if (engine_advance(a->engine, at)) return -1;
    int64_t clock = engine_now(a->engine);
    if (clock > at) at = clock; /* the event clock never goes back */
    int64_t due = sc->due_ms == AUDIENCE_NEVER ? at : sc->due_ms;
    if (save_due(a, sc, due) || !(a->pass.journey = strdup(r->name))) return -1;
    a->pass.due_ms = due, a->pass.at_ms = at;
    return 1;
}

/* Ends the pass: the next one is due a step of `every` later. */
static int end_pass(audience *a, recipe *r)
{
    pass *p = &a->pass;
    schedule *sc = schedule_of(a, p->journey);
    int64_t next = audience_next_due(p->due_ms, p->at_ms, r->audience_every_ms);
    if (!sc || save_due(a, sc, next)) return -1;
    char at[TIME_ISO_LEN];
    time_format_iso8601(p->at_ms, at);
    log_info(
        "journey %s: audience checked at %s over %ld profiles: %ld entered, %ld failed",
        p->journey, at, p->walked, p->entered, p->failed);
    if (p->failed > ERRORS_SHOWN)
        log_error(
            "journey %s: trigger.audience failed for %ld profiles (the first %d shown)",
            p->journey, p->failed, ERRORS_SHOWN);
    drop_pass(a);
    return 0;
}

static void report_failure(audience *a, recipe *r, const char *profile_id, char *err)
{
    if (++a->pass.failed > ERRORS_SHOWN) return;
    for (char *c = err; *c; c++) /* one line, whatever the recipe raised */
        if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = ' ';
    log_error("journey %s: trigger.audience failed for profile %s (skipped): %s", r->name,
              profile_id, err);
}

/* The synthetic trigger event as JSON text, keys in sorted order
 * (malloc'd), or NULL. */
static char *entered_json(const char *journey, const char *profile_id,
                          const char *message_id, int64_t at_ms)
{
    char at[TIME_ISO_LEN];
    time_format_iso8601(at_ms, at);
    cJSON *ev = cJSON_CreateObject(), *props = cJSON_CreateObject();
    char *text = NULL;
    if (ev && props && cJSON_AddStringToObject(props, "audience", journey) &&
        cJSON_AddStringToObject(ev, "event", AUDIENCE_EVENT) &&
        cJSON_AddStringToObject(ev, "messageId", message_id) &&
        cJSON_AddItemToObject(ev, "properties", props) &&
        (props = NULL, cJSON_AddStringToObject(ev, "timestamp", at)) &&
        cJSON_AddStringToObject(ev, "type", "track") &&
        cJSON_AddStringToObject(ev, "userId", profile_id))
        text = cJSON_PrintUnformatted(ev);
    cJSON_Delete(props);
    cJSON_Delete(ev);
    return text;
}

/* Enters a matching profile: the event is stored like any other (a
 * duplicate messageId means this pass entered them before a crash), then
 * the instance starts with it as j.trigger. */
static int enter(audience *a, recipe *r, const char *profile_id)
{
    pass *p = &a->pass;
    char *id = audience_message_id(r->name, profile_id, p->due_ms);
    char *json = id ? entered_json(r->name, profile_id, id, p->at_ms) : NULL;
    int rc = -1;
    if (!json) {
        log_error("journey %s: out of memory entering profile %s", r->name, profile_id);
    } else {
        int inserted =
            store_event_insert(a->store, id, "track", AUDIENCE_EVENT, profile_id,
                               profile_id, NULL, p->at_ms, json, (int)strlen(json));
        rc = inserted < 0 ? -1 : 0;
        if (inserted == 1) {
            rc = engine_enter(a->engine, r, profile_id, store_last_insert_id(a->store),
                              json);
            p->entered++;
        }
    }
    free(id), free(json);
    return rc;
}

/* One profile: the entry rules first (cheap), then the audience function
 * on its profile.  -1 only on store errors. */
static int visit(audience *a, recipe *r, const char *profile_id)
{
    char err[600];
    int ok = engine_may_enter(a->engine, r, profile_id);
    if (ok <= 0) return ok;
    where_profile profile = {profile_id, a->pass.at_ms, a->privacy};
    ok = host_audience(a->host, r, &profile, err, sizeof err);
    if (ok < 0) report_failure(a, r, profile_id, err);
    return ok > 0 ? enter(a, r, profile_id) : 0;
}

/* Walks pages of the pass until `limit` profiles are done or it ends,
 * calling commit (when given) every AUDIENCE_COMMIT profiles.  1 when
 * the pass goes on, 0 when it ended, -1. */
static int walk(audience *a, recipe *r, long limit, audience_commit_fn commit, void *ctx)
{
    char *ids[AUDIENCE_PAGE];
    for (long done = 0; done < limit;) {
        int n = store_profile_page(a->store, a->pass.cursor, ids, AUDIENCE_PAGE), rc = 0;
        if (n < 0) return -1;
        for (int i = 0; i < n; i++)
            if (!rc) rc = visit(a, r, ids[i]);
        for (int i = 0; i < n - 1; i++)
            free(ids[i]);
        if (n) free(a->pass.cursor), a->pass.cursor = ids[n - 1];
        if (rc) return -1;
        done += n, a->pass.walked += n, a->since_commit += n;
        if (n < AUDIENCE_PAGE) return end_pass(a, r) ? -1 : 0;
        if (commit && a->since_commit >= AUDIENCE_COMMIT) {
            a->since_commit = 0;
            if (commit(ctx)) return -1;
        }
    }
    return 1;
}

/* Walks up to `limit` profiles of the pass under way, or of the one due
 * at now_ms.  1 when work is left, 0 when none is due, -1. */
static int advance(audience *a, int64_t now_ms, int catch_up, long limit,
                   audience_commit_fn commit, void *ctx)
{
    if (!a->pass.journey) {
        int started = begin_due(a, now_ms, catch_up);
        if (started <= 0) return started;
    }
    recipe *r = pass_recipe(a);
    if (!r) {
        log_warn("journey %s is no longer loaded: its audience pass stops",
                 a->pass.journey);
        drop_pass(a);
        return 1;
    }
    return walk(a, r, limit, commit, ctx) < 0 ? -1 : 1;
}

int audience_run(audience *a, int64_t now_ms, int catch_up, audience_commit_fn commit,
                 void *ctx)
{
    int rc;
    while ((rc = advance(a, now_ms, catch_up, LONG_MAX, commit, ctx)) > 0)
        ;
    return rc;
}

int audience_slice(audience *a, int64_t now_ms)
{
    int due = audience_due(a, now_ms);
    if (due <= 0) return due;
    int rc = store_begin(a->store);
    if (!rc) rc = advance(a, now_ms, 0, AUDIENCE_SLICE, NULL, NULL) < 0;
    if (!rc) rc = engine_checkpoint(a->engine) || store_commit(a->store);
    if (rc) {
        store_rollback(a->store);
        forget(a); /* the store has what was committed: start from there */
        return -1;
    }
    return audience_due(a, now_ms) > 0;
}
