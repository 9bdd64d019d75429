/* Unit tests for runtime/store.h against a real SQLite file in a fresh
 * mkdtemp() folder: schema and pragmas, events, profiles, recipes,
 * instances, history, timers, outbox, transactions and metadata. */
#include "store.h"

#include "unit.h"
#include "unit_store.h"

#include <cJSON.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */

static char dir[64];
static char db_path[128];

/* ---- helpers ----------------------------------------------------------- */

static int str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static store *open_store(const char *path)
{
    store *s = NULL;
    char err[256] = "";
    if (store_open(path, &s, err, sizeof err) != 0) {
        printf("# store_open %s: %s\n", path, err);
        return NULL;
    }
    return s;
}

/* ---- schema ------------------------------------------------------------ */

static void test_schema(store *s)
{
    char buf[64];
    CHECK(query_int(s, "PRAGMA user_version") == STORE_SCHEMA_VERSION,
          "schema: PRAGMA user_version is STORE_SCHEMA_VERSION");
    CHECK_STR(query_text(s, "PRAGMA journal_mode", buf, sizeof buf), "wal",
              "schema: journal_mode is wal");
    static const char *tables[] = {"meta",        "profiles", "events", "recipe_versions",
                                   "instances",   "history",  "timers", "outbox",
                                   "message_log", NULL};
    int all = 1;
    for (int i = 0; tables[i]; i++) {
        char sql[160];
        snprintf(
            sql, sizeof sql,
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
            tables[i]);
        if (query_int(s, sql) != 1) printf("# missing table %s\n", tables[i]), all = 0;
    }
    CHECK(all, "schema: every table exists");
}

static void test_newer_schema_refused(void)
{
    char path[160];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/newer.db", dir);
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    store *s = NULL;
    char err[256] = "";
    int rc = store_open(path, &s, err, sizeof err);
    CHECK(ok && rc == -1 && strstr(err, "newer") != NULL,
          "schema: a database from a newer nudge is refused with a message");
    if (rc == 0) store_close(s);
    unlink(path);
}

/* A version 4 database (consent_by_profile, no status in the index) with a
 * consent record moves to version 5 on open and keeps its records. */
static void test_migration_to_5(void)
{
    char path[160];
    sqlite3 *db;
    snprintf(path, sizeof path, "%s/v4.db", dir);
    store *s = open_store(path);
    store_close(s);
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db,
                          "DROP INDEX consent_latest;"
                          "CREATE INDEX consent_by_profile ON consent (profile_id,"
                          " channel, purpose, at_ms, id);"
                          "INSERT INTO consent (profile_id, channel, purpose, status,"
                          " at_ms, source) VALUES ('u1', 'email', 'marketing',"
                          " 'revoked', 5, 'test');"
                          "PRAGMA user_version = 4",
                          NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    s = open_store(path);
    CHECK(ok && s && query_int(s, "PRAGMA user_version") == 5,
          "schema: a version 4 database moves to 5");
    CHECK(s && query_int(s, "SELECT count(*) FROM sqlite_master WHERE name ="
                            " 'consent_latest'") == 1 &&
              query_int(s, "SELECT count(*) FROM sqlite_master WHERE name ="
                           " 'consent_by_profile'") == 0,
          "schema: version 5 answers the latest consent from consent_latest");
    CHECK(s && query_int(s, "SELECT count(*) FROM consent WHERE status = 'revoked'") == 1,
          "schema: the consent records stay");
    store_close(s);
    unlink(path);
}

/* ---- meta -------------------------------------------------------------- */

static void test_meta(store *s)
{
    int64_t value = -1;
    CHECK(store_meta_get(s, "clock", &value) == 0, "meta: missing key is 0");
    CHECK(store_meta_set(s, "clock", 42) == 0, "meta: set");
    value = -1;
    CHECK(store_meta_get(s, "clock", &value) == 1 && value == 42,
          "meta: get what was set");
    CHECK(store_meta_set(s, "clock", INT64_C(9007199254740993)) == 0, "meta: overwrite");
    CHECK(store_meta_get(s, "clock", &value) == 1 && value == INT64_C(9007199254740993),
          "meta: overwritten value, full int64 precision");
    CHECK(store_meta_set(s, "offset", -7) == 0 &&
              store_meta_get(s, "offset", &value) == 1 && value == -7,
          "meta: a second key, negative");
}

/* ---- events ------------------------------------------------------------ */

static void test_events(store *s)
{
    const char *json = "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\"}";
    int len = (int)strlen(json);
    CHECK(store_event_insert(s, "m1", "track", "A", "u1", "u1", NULL, T0, json, len) == 1,
          "event: insert returns 1");
    CHECK(store_event_insert(s, "m1", "track", "A", "u1", "u1", NULL, T0 + 5, json,
                             len) == 0,
          "event: duplicate messageId returns 0");
    CHECK(store_event_insert(s, "m2", "identify", NULL, "a1", NULL, "a1", T0, "{}", 2) ==
              1,
          "event: another messageId returns 1");
    CHECK(query_int(s, "SELECT count(*) FROM events") == 2, "event: two rows stored");
    CHECK(query_int(s, "SELECT ts_ms FROM events WHERE message_id = 'm1'") == T0,
          "event: the duplicate did not overwrite the first");
    char buf[128];
    CHECK_STR(
        query_text(s, "SELECT body FROM events WHERE message_id = 'm1'", buf, sizeof buf),
        json, "event: body stored as given");
    /* json_len bounds the body: a raw line may be followed by more bytes. */
    CHECK(store_event_insert(s, "m3", "track", "B", "u1", "u1", NULL, T0,
                             "{\"a\":1}GARBAGE", 7) == 1,
          "event: insert with a length shorter than the text");
    CHECK_STR(
        query_text(s, "SELECT body FROM events WHERE message_id = 'm3'", buf, sizeof buf),
        "{\"a\":1}", "event: body cut at json_len");
}

/* ---- profiles ---------------------------------------------------------- */

static void test_profiles(store *s)
{
    /* first_seen / last_seen come from the profile's events (store.h). */
    const char *ev = "{}";
    store_event_insert(s, "p1-a", "track", "A", "p1", "p1", NULL, T0 + 2000, ev, 2);
    store_event_insert(s, "p1-b", "track", "B", "p1", "p1", NULL, T0 + 1000, ev, 2);
    store_event_insert(s, "p1-c", "identify", NULL, "p1", "p1", NULL, T0 + 9000, ev, 2);
    store_event_insert(s, "p9-a", "track", "A", "p9", "p9", NULL, T0 - 5000, ev, 2);
    CHECK(store_profile_merge_traits(s, "p1",
                                     "{\"plan\":\"free\",\"opt\":true,\"age\":20,"
                                     "\"consent\":{\"sms\":true}}") == 0,
          "profile: merge traits");
    CHECK(store_profile_merge_traits(s, "p1",
                                     "{\"plan\":\"pro\",\"city\":\"Oslo\",\"age\":null,"
                                     "\"consent\":{\"email\":false}}") == 0,
          "profile: merge more traits");

    char *text = store_profile_json(s, "p1", T0);
    cJSON *p = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_IsObject(p), "profile: json is an object");
    cJSON *plan = cJSON_GetObjectItemCaseSensitive(p, "plan");
    cJSON *city = cJSON_GetObjectItemCaseSensitive(p, "city");
    cJSON *consent = cJSON_GetObjectItemCaseSensitive(p, "consent");
    cJSON *first = cJSON_GetObjectItemCaseSensitive(p, "first_seen");
    cJSON *last = cJSON_GetObjectItemCaseSensitive(p, "last_seen");
    cJSON *id = cJSON_GetObjectItemCaseSensitive(p, "id");
    CHECK(cJSON_IsString(plan) && strcmp(plan->valuestring, "pro") == 0,
          "profile: a later trait overwrites");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "opt")),
          "profile: an earlier trait is kept");
    CHECK(cJSON_IsString(city) && strcmp(city->valuestring, "Oslo") == 0,
          "profile: a new trait is added");
    CHECK(!cJSON_GetObjectItemCaseSensitive(p, "age"),
          "profile: a null trait is removed");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(consent, "sms")) &&
              cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(consent, "email")),
          "profile: nested objects merge key by key");
    CHECK(cJSON_IsString(id) && strcmp(id->valuestring, "p1") == 0, "profile: id");
    CHECK(cJSON_IsNumber(first) && first->valuedouble == (double)((T0 + 1000) / 1000),
          "profile: first_seen is the earliest event (Unix seconds)");
    CHECK(cJSON_IsNumber(last) && last->valuedouble == (double)((T0 + 9000) / 1000),
          "profile: last_seen is the latest event (Unix seconds)");
    if (text && (!cJSON_IsNumber(first) || !cJSON_IsNumber(last))) printf("# %s\n", text);
    cJSON_Delete(p);
    free(text);

    /* A trait named like a computed field does not shadow it. */
    store_profile_merge_traits(s, "p9", "{\"first_seen\":1,\"id\":\"forged\"}");
    text = store_profile_json(s, "p9", T0);
    p = text ? cJSON_Parse(text) : NULL;
    first = cJSON_GetObjectItemCaseSensitive(p, "first_seen");
    id = cJSON_GetObjectItemCaseSensitive(p, "id");
    CHECK(cJSON_IsNumber(first) && first->valuedouble == (double)((T0 - 5000) / 1000) &&
              cJSON_IsString(id) && strcmp(id->valuestring, "p9") == 0,
          "profile: traits cannot forge id or first_seen");
    cJSON_Delete(p);
    free(text);

    /* Traits may arrive before any event (identify first). */
    CHECK(store_profile_merge_traits(s, "p2", "{\"email_opt_in\":false}") == 0,
          "profile: merge traits for a new profile");
    text = store_profile_json(s, "p2", T0);
    p = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(p, "email_opt_in")),
          "profile: traits of a profile created by merge");
    cJSON_Delete(p);
    free(text);

    /* An unknown profile has no traits: NULL, or just its id. */
    text = store_profile_json(s, "nobody", T0);
    p = text ? cJSON_Parse(text) : NULL;
    CHECK(!text || (cJSON_IsObject(p) && !cJSON_GetObjectItemCaseSensitive(p, "plan") &&
                    !cJSON_GetObjectItemCaseSensitive(p, "first_seen")),
          "profile: an unknown profile has no traits");
    cJSON_Delete(p);
    free(text);
}

/* ---- recipes ----------------------------------------------------------- */

static void test_recipes(store *s)
{
    char *source = NULL, *path = NULL;
    CHECK(store_recipe_put(s, "abc123", "cart", "recipes/cart.lua", "return journey{}",
                           T0) == 0,
          "recipe: put");
    CHECK(store_recipe_get(s, "abc123", &source, &path) == 1, "recipe: get finds it");
    CHECK_STR(source, "return journey{}", "recipe: source round trip");
    CHECK_STR(path, "recipes/cart.lua", "recipe: path round trip");
    free(source), free(path);
    source = path = NULL;
    CHECK(store_recipe_get(s, "nope", &source, &path) == 0 && !source && !path,
          "recipe: unknown hash is 0");
    CHECK(store_recipe_put(s, "abc123", "cart", "recipes/cart.lua", "return journey{}",
                           T0 + 1) == 0,
          "recipe: putting the same version again is fine");
    CHECK(query_int(s, "SELECT count(*) FROM recipe_versions") == 1,
          "recipe: one row per content hash");
}

/* ---- instances --------------------------------------------------------- */

static instance sample_instance(const char *profile, int state)
{
    instance in = {0};
    in.journey = "cart_abandonment";
    in.version = "v1hash";
    in.profile_id = (char *)profile;
    in.state = state;
    in.holdout = 1;
    in.started_ms = T0;
    in.ended_ms = T0 + 11;
    in.goal_ms = T0 + 22;
    in.trigger_event_id = 4242;
    in.steps = 3;
    in.pending_kind = "wait_for";
    in.pending_event = "Order Completed";
    in.pending_due_ms = T0 + 33;
    in.pending_line = 17;
    in.exit_reason = "bought";
    in.error = "none";
    return in;
}

static int same_instance(const instance *a, const instance *b)
{
    int same = a->id == b->id && str_eq(a->journey, b->journey) &&
               str_eq(a->version, b->version) && str_eq(a->profile_id, b->profile_id) &&
               a->state == b->state && a->holdout == b->holdout &&
               a->started_ms == b->started_ms && a->ended_ms == b->ended_ms &&
               a->goal_ms == b->goal_ms && a->trigger_event_id == b->trigger_event_id &&
               a->steps == b->steps && str_eq(a->pending_kind, b->pending_kind) &&
               str_eq(a->pending_event, b->pending_event) &&
               a->pending_due_ms == b->pending_due_ms &&
               a->pending_line == b->pending_line &&
               str_eq(a->exit_reason, b->exit_reason) && str_eq(a->error, b->error);
    if (!same) printf("# instance %" PRId64 " differs after the round trip\n", a->id);
    return same;
}

typedef struct live_seen {
    int64_t ids[128];
    int states[128];
    int count, stop_at;
} live_seen;

static int on_live(void *ctx, instance *in)
{
    live_seen *l = ctx;
    if (l->count < 128) l->ids[l->count] = in->id, l->states[l->count] = in->state;
    l->count++;
    return l->stop_at && l->count == l->stop_at ? 99 : 0;
}

static void test_instances(store *s)
{
    instance in = sample_instance("u1", INSTANCE_WAITING), out = {0};
    CHECK(store_instance_insert(s, &in) == 0 && in.id > 0, "instance: insert sets id");
    CHECK(store_instance_load(s, in.id, &out) == 1, "instance: load finds it");
    CHECK(same_instance(&in, &out), "instance: every field round trips through insert");
    store_instance_free(&out);
    CHECK(out.journey == NULL && out.error == NULL, "instance: free clears the struct");

    /* Journey, version, profile, start and trigger never change after the
     * insert; every other field is rewritten by an update. */
    instance upd = in;
    upd.state = INSTANCE_COMPLETED, upd.holdout = 0;
    upd.ended_ms = T0 + 2, upd.goal_ms = T0 + 3;
    upd.steps = 9;
    upd.pending_kind = NULL, upd.pending_event = NULL;
    upd.pending_due_ms = 0, upd.pending_line = 0;
    upd.exit_reason = NULL, upd.error = "boom at line 3";
    CHECK(store_instance_update(s, &upd) == 0, "instance: update");
    CHECK(store_instance_load(s, in.id, &out) == 1, "instance: load after update");
    CHECK(same_instance(&upd, &out),
          "instance: every field round trips through update (NULLs too)");
    store_instance_free(&out);
    CHECK(store_instance_load(s, in.id + 1000, &out) == 0, "instance: unknown id is 0");

    /* Live instances: only state < 2, only this profile, in id order. */
    int64_t want[2];
    int n = 0;
    for (int state = INSTANCE_RUNNING; state <= INSTANCE_FAILED; state++) {
        instance x = sample_instance("live-p", state);
        store_instance_insert(s, &x);
        if (state < INSTANCE_COMPLETED) want[n++] = x.id;
    }
    instance other = sample_instance("someone-else", INSTANCE_WAITING);
    store_instance_insert(s, &other);
    live_seen l = {0};
    CHECK(store_instances_live(s, "live-p", on_live, &l) == 0, "live: walk returns 0");
    CHECK(l.count == 2 && l.ids[0] == want[0] && l.ids[1] == want[1] &&
              l.states[0] == INSTANCE_RUNNING && l.states[1] == INSTANCE_WAITING,
          "live: only running and waiting instances of the profile, in id order");
    live_seen stop = {.stop_at = 1};
    CHECK(store_instances_live(s, "live-p", on_live, &stop) == 99 && stop.count == 1,
          "live: the callback's non-zero return stops the walk and is returned");
    live_seen none = {0};
    CHECK(store_instances_live(s, "nobody", on_live, &none) == 0 && none.count == 0,
          "live: a profile without instances");

    int state = -1;
    int64_t started = 0;
    instance later = sample_instance("live-p", INSTANCE_EXITED);
    later.started_ms = T0 + 500;
    store_instance_insert(s, &later);
    CHECK(store_instance_latest(s, "cart_abandonment", "live-p", &state, &started) == 1 &&
              state == INSTANCE_EXITED && started == T0 + 500,
          "latest: the most recently started instance");
    CHECK(store_instance_latest(s, "nope", "live-p", &state, &started) == 0,
          "latest: none for another journey");

    /* A walk sees every live instance, however many a profile has. */
    for (int i = 0; i < 70; i++) {
        instance x = sample_instance("busy", INSTANCE_WAITING);
        store_instance_insert(s, &x);
    }
    live_seen busy = {0};
    store_instances_live(s, "busy", on_live, &busy);
    CHECK(busy.count == 70, "live: all 70 live instances of one profile are visited");
    if (busy.count != 70) printf("# visited %d of 70\n", busy.count);
}

/* ---- history ----------------------------------------------------------- */

static void test_history(store *s)
{
    history_entry *h = NULL;
    int count = -1;
    CHECK(store_history_append(s, 500, 0, "now", "1793631600") == 0, "history: append 0");
    CHECK(store_history_append(s, 500, 2, "wait", "true") == 0, "history: append 2");
    CHECK(store_history_append(s, 500, 1, "send", "{\"status\":\"queued\"}") == 0,
          "history: append 1");
    CHECK(store_history_append(s, 501, 0, "other", "null") == 0,
          "history: another instance");
    CHECK(store_history_append(s, 500, 1, "send", "again") != 0,
          "history: a step cannot be recorded twice");
    CHECK(store_history_load(s, 500, &h, &count) == 0 && count == 3,
          "history: load 3 entries");
    if (count == 3) {
        CHECK(str_eq(h[0].kind, "now") && str_eq(h[1].kind, "send") &&
                  str_eq(h[2].kind, "wait"),
              "history: loaded in step order");
        CHECK_STR(h[1].result, "{\"status\":\"queued\"}", "history: result round trip");
    }
    store_history_free(h, count > 0 ? count : 0);
    h = NULL;
    CHECK(store_history_load(s, 999, &h, &count) == 0 && count == 0, "history: empty");
    store_history_free(h, 0);
}

/* ---- timers ------------------------------------------------------------ */

static void test_timers(store *s)
{
    int64_t id = -1, due = -1;
    CHECK(store_timer_next(s, T0 + 1000000, &id, &due) == 0, "timer: none at first");
    CHECK(store_timer_set(s, 1, T0 + 5000) == 0, "timer: set 1");
    CHECK(store_timer_set(s, 2, T0 + 3000) == 0, "timer: set 2");
    CHECK(store_timer_set(s, 3, T0 + 9000) == 0, "timer: set 3");
    CHECK(store_timer_set(s, 4, T0 + 3000) == 0, "timer: set 4 (same due as 2)");
    CHECK(store_timer_next(s, T0 + 2999, &id, &due) == 0,
          "timer: nothing due before 3000");
    CHECK(store_timer_next(s, T0 + 3000, &id, &due) == 1 && id == 2 && due == T0 + 3000,
          "timer: due exactly now counts (<= now)");
    CHECK(store_timer_next(s, T0 + 100000, &id, &due) == 1 && id == 2 && due == T0 + 3000,
          "timer: the earliest comes first");
    CHECK(store_timer_clear(s, 2, T0 + 3000) == 0, "timer: clear 2");
    CHECK(store_timer_next(s, T0 + 100000, &id, &due) == 1 && id == 4 && due == T0 + 3000,
          "timer: then the tie at the same time");
    store_timer_clear(s, 4, T0 + 3000);
    CHECK(store_timer_next(s, T0 + 100000, &id, &due) == 1 && id == 1 && due == T0 + 5000,
          "timer: then the next earliest");
    CHECK(store_timer_clear(s, 1, T0 + 9999) == 0 &&
              store_timer_next(s, T0 + 100000, &id, &due) == 1 && id == 1,
          "timer: clearing with another due time leaves it");
    store_timer_clear(s, 1, T0 + 5000);
    store_timer_clear(s, 3, T0 + 9000);
    CHECK(store_timer_next(s, INT64_MAX, &id, &due) == 0,
          "timer: none after clearing all");
}

/* ---- outbox ------------------------------------------------------------ */

static void test_outbox(store *s)
{
    outbox_message *m = NULL;
    int count = -1;
    CHECK(store_outbox_insert(s, "k1", 7, "cart", "u1", "email", "cart_reminder",
                              "{\"discount\":10}", T0) == 0,
          "outbox: insert k1");
    CHECK(store_outbox_insert(s, "k2", 7, "cart", "u1", "sms", "cart_sms", "{}",
                              T0 + 1) == 0,
          "outbox: insert k2");
    CHECK(store_outbox_insert(s, "k3", 8, "cart", "u2", "email", "cart_reminder", "{}",
                              T0 + 2) == 0,
          "outbox: insert k3");
    CHECK(store_outbox_insert(s, "k1", 7, "cart", "u1", "email", "x", "{}", T0) != 0,
          "outbox: an idempotency key is queued once");

    CHECK(store_outbox_fetch(s, "queued", 10, &m, &count) == 0 && count == 3,
          "outbox: fetch 3 queued");
    int64_t first_id = count > 0 ? m[0].id : -1;
    if (count == 3) {
        CHECK(m[0].id < m[1].id && m[1].id < m[2].id, "outbox: in id order");
        CHECK(str_eq(m[0].idempotency_key, "k1") && m[0].instance_id == 7 &&
                  m[0].created_ms == T0 && str_eq(m[0].journey, "cart") &&
                  str_eq(m[0].profile_id, "u1") && str_eq(m[0].channel, "email") &&
                  str_eq(m[0].template_name, "cart_reminder") &&
                  str_eq(m[0].vars_json, "{\"discount\":10}"),
              "outbox: every field round trips");
    }
    store_outbox_free(m, count > 0 ? count : 0);

    CHECK(store_outbox_fetch(s, "queued", 2, &m, &count) == 0 && count == 2,
          "outbox: fetch honours max");
    store_outbox_free(m, count);

    CHECK(store_outbox_set_status(s, first_id, "sending", T0 + 100) == 0,
          "outbox: set sending");
    CHECK(store_outbox_fetch(s, "queued", 10, &m, &count) == 0 && count == 2 &&
              str_eq(m[0].idempotency_key, "k2"),
          "outbox: a sending message is no longer queued");
    store_outbox_free(m, count);
    CHECK(store_outbox_fetch(s, "sending", 10, &m, &count) == 0 && count == 1 &&
              m[0].id == first_id,
          "outbox: fetch by status sending");
    store_outbox_free(m, count);
    CHECK(store_outbox_set_status(s, first_id, "delivered", T0 + 200) == 0 &&
              store_outbox_fetch(s, "sending", 10, &m, &count) == 0 && count == 0,
          "outbox: delivered leaves sending");
    store_outbox_free(m, count);

    message_log_row row = {7,           "u1", "cart", "email", "cart_reminder",
                           "delivered", NULL, NULL,   T0 + 200};
    CHECK(store_message_log(s, &row) == 0 &&
              query_int(
                  s, "SELECT count(*) FROM message_log WHERE outcome = 'delivered'") == 1,
          "message log: a row is written");
}

/* ---- transactions ------------------------------------------------------ */

static void test_transactions(store *s)
{
    CHECK(store_begin(s) == 0, "tx: begin");
    CHECK(store_event_insert(s, "tx-1", "track", "T", "u9", "u9", NULL, T0, "{}", 2) == 1,
          "tx: insert inside a transaction");
    CHECK(store_meta_set(s, "tx-key", 5) == 0, "tx: meta inside a transaction");
    CHECK(store_rollback(s) == 0, "tx: rollback");
    CHECK(query_int(s, "SELECT count(*) FROM events WHERE message_id = 'tx-1'") == 0,
          "tx: the rollback undid the event");
    int64_t v = 0;
    CHECK(store_meta_get(s, "tx-key", &v) == 0, "tx: the rollback undid the meta key");
    CHECK(store_event_insert(s, "tx-1", "track", "T", "u9", "u9", NULL, T0, "{}", 2) == 1,
          "tx: the rolled-back messageId is new again");

    CHECK(store_begin(s) == 0 &&
              store_event_insert(s, "tx-2", "track", "T", "u9", "u9", NULL, T0, "{}",
                                 2) == 1 &&
              store_commit(s) == 0,
          "tx: begin, insert, commit");
    CHECK(query_int(s, "SELECT count(*) FROM events WHERE message_id = 'tx-2'") == 1,
          "tx: a committed insert stays");
    CHECK(store_rollback(s) == 0, "tx: rollback outside a transaction is harmless");
}

/* Two connections on one file (e.g. `nudge serve` and a `nudge tick`):
 * a read on one must not pin an old snapshot that hides the other's
 * writes or makes its next write transaction fail. */
static void test_two_connections(void)
{
    store *a = open_store(db_path), *b = open_store(db_path);
    CHECK(a && b, "two connections: both open");
    if (!a || !b) return store_close(a), store_close(b);
    char *text = store_profile_json(a, "p1", T0); /* reads that find rows */
    free(text);
    instance in = {0};
    store_instance_load(a, 1, &in);
    store_instance_free(&in);
    CHECK(store_meta_set(b, "shared", 2) == 0, "two connections: b writes");
    int64_t v = 0;
    CHECK(store_meta_get(a, "shared", &v) == 1 && v == 2,
          "two connections: a sees b's committed write after its own reads");
    int began = store_begin(a);
    CHECK(began == 0, "two connections: a can begin a write transaction after b wrote");
    if (began == 0) store_rollback(a);
    store_close(a);
    store_close(b);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    snprintf(dir, sizeof dir, "/tmp/nudge-store-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(db_path, sizeof db_path, "%s/nudge.db", dir);

    store *s = open_store(db_path);
    CHECK(s != NULL, "open: creates a new database");
    if (s) {
        test_schema(s);
        test_meta(s);
        test_events(s);
        test_profiles(s);
        test_recipes(s);
        test_instances(s);
        test_history(s);
        test_timers(s);
        test_outbox(s);
        test_transactions(s);
        store_close(s);
    }

    s = open_store(db_path);
    CHECK(s != NULL, "reopen: opens the existing database");
    if (s) {
        int64_t v = 0;
        char *src = NULL, *path = NULL;
        CHECK(query_int(s, "PRAGMA user_version") == STORE_SCHEMA_VERSION,
              "reopen: schema version unchanged");
        CHECK(store_meta_get(s, "clock", &v) == 1 && v == INT64_C(9007199254740993),
              "reopen: meta survives");
        CHECK(store_event_insert(s, "m1", "track", "A", "u1", "u1", NULL, T0, "{}", 2) ==
                  0,
              "reopen: events survive (m1 is still a duplicate)");
        CHECK(store_recipe_get(s, "abc123", &src, &path) == 1, "reopen: recipes survive");
        free(src), free(path);
        store_close(s);
    }
    test_two_connections();
    test_newer_schema_refused();
    test_migration_to_5();

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    UNIT_DONE();
}
