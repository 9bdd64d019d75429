/* The recipe test kit: one test case's world (a throwaway store with its
 * own key, the recipes, the engine under the event clock), its virtual
 * clock, its steps, and the expectations that say, when they are not met,
 * what was expected and what happened instead. */
#include "test_kit.h"

#include "audience.h"
#include "consent.h"
#include "deliver_capture.h"
#include "l_modules.h"
#include "log.h"
#include "timeutil.h"
#include "vault.h"

#include <cJSON.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUDIENCE_DUE "audience_due:" /* + journey: audience.c's schedule key */
#define STORE_FAILED "the test's database failed (see the messages above)"

static const char *const state_names[] = {"running", "waiting", "completed", "exited",
                                          "failed"};

struct test_kit {
    cli c; /* the user's options, pointed at the folder */
    char dir[4096], db[4200], outbox[4200], key[4200];
    int made; /* the folder exists: remove it */
    store *store;
    privacy *privacy;
    host *host;
    engine *engine;
    audience *audience;
    deliver_senders *capture;
    guard_config guard;
    engine_stats stats;
    recipe **recipes;
    double *holdout; /* each recipe's own holdout fraction */
    int recipe_count;
    char **held; /* the people s:holdout put in the control groups */
    int held_count;
    int64_t now_ms;
    int clock_set;
    cJSON *pending; /* steps made before the clock started */
    long next_event;
    int failures_seen; /* failed instances already reported */
    kit_message *messages;
    int message_count, message_cap;
    char **profiles; /* everyone the case touched */
    int profile_count;
    char *focus; /* the person a failed expectation named */
};

/* ---- the folder ------------------------------------------------------- */

/* Makes the folder (under $TMPDIR, else /tmp) and its key file. */
static int folder_make(test_kit *k, char *err, size_t err_len)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(k->dir, sizeof k->dir, "%s/nudge-test-case.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(k->dir))
        return snprintf(err, err_len, "cannot make a folder in %s: %m (check $TMPDIR)",
                        tmp && *tmp ? tmp : "/tmp"),
               -1;
    k->made = 1;
    snprintf(k->db, sizeof k->db, "%s/test.db", k->dir);
    snprintf(k->outbox, sizeof k->outbox, "%s/outbox.ndjson", k->dir);
    snprintf(k->key, sizeof k->key, "%s/nudge.key", k->dir);
    return vault_write_new(k->key, err, err_len);
}

/* Removes every file of the folder, then the folder. */
static void folder_remove(const test_kit *k)
{
    DIR *d = opendir(k->dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[8192];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", k->dir, e->d_name);
        if (unlink(path)) log_warn("cannot remove %s: %m", path);
    }
    if (d) closedir(d);
    if (rmdir(k->dir)) log_warn("cannot remove the folder %s: %m", k->dir);
}

/* ---- opening ---------------------------------------------------------- */

static int load_recipes(test_kit *k, char *const *paths, int count, char *err,
                        size_t err_len)
{
    k->recipes = calloc((size_t)count + 1, sizeof *k->recipes);
    k->holdout = calloc((size_t)count + 1, sizeof *k->holdout);
    if (!k->recipes || !k->holdout) return snprintf(err, err_len, "out of memory"), -1;
    for (int i = 0; i < count; i++) {
        recipe *r = host_load_file(k->host, paths[i], err, err_len);
        if (!r) return -1;
        if (engine_add_recipe(k->engine, r))
            return snprintf(err, err_len, "out of memory"), -1;
        k->holdout[k->recipe_count] = r->holdout;
        k->recipes[k->recipe_count++] = r;
    }
    if (!(k->audience = audience_new(k->store, k->host, k->engine, k->privacy)))
        return snprintf(err, err_len, "out of memory"), -1;
    return 0;
}

int kit_open(const cli *c, char *const *recipes, int recipe_count, test_kit **out,
             char *err, size_t err_len)
{
    test_kit *k = calloc(1, sizeof *k);
    *out = k;
    if (!k) return snprintf(err, err_len, "out of memory"), -1;
    k->c = *c;
    k->c.db_path = k->db, k->c.outbox_path = k->outbox, k->c.cfg.key_file = k->key;
    if (folder_make(k, err, err_len) || store_open(k->db, &k->store, err, err_len))
        return -1;
    /* a throwaway database: no need to wait for the disk */
    sqlite3_exec(store_db(k->store), "PRAGMA synchronous = OFF", NULL, NULL, NULL);
    if (cli_open_privacy(&k->c, k->store, &k->privacy))
        return snprintf(err, err_len, "cannot open the test's keys (see above)"), -1;
    k->guard = cli_guard_config(c);
    if (deliver_capture_open(c->cfg.channels, c->cfg.channel_count, k->privacy, k->store,
                             &k->capture, err, err_len))
        return -1;
    engine_options options = {.event_clock = 1,
                              .consent_default = c->cfg.consent_default,
                              .timezone = c->cfg.timezone,
                              .privacy = k->privacy,
                              .guard = &k->guard};
    k->host = host_new(k->store, c->cfg.limits);
    k->engine = k->host ? engine_new(k->store, k->host, options, &k->stats) : NULL;
    if (!k->engine || !(k->pending = cJSON_CreateArray()))
        return snprintf(err, err_len, "cannot start the engine"), -1;
    return load_recipes(k, recipes, recipe_count, err, err_len);
}

static void message_free(kit_message *m)
{
    free(m->channel), free(m->profile), free(m->template_name), free(m->journey);
    free(m->vars_json), free(m->status), free(m->reason);
    free(m->to), free(m->subject), free(m->text), free(m->html);
}

void kit_close(test_kit *k)
{
    if (!k) return;
    audience_free(k->audience);
    engine_free(k->engine);
    host_free(k->host);
    deliver_senders_close(k->capture);
    if (k->privacy) l_pii_use(NULL);
    privacy_free(k->privacy);
    store_close(k->store);
    if (k->made) folder_remove(k);
    for (int i = 0; i < k->message_count; i++)
        message_free(&k->messages[i]);
    for (int i = 0; i < k->profile_count; i++)
        free(k->profiles[i]);
    for (int i = 0; i < k->held_count; i++)
        free(k->held[i]);
    free(k->messages), free(k->profiles), free(k->recipes), free(k->holdout);
    free(k->held), free(k->focus);
    cJSON_Delete(k->pending);
    free(k);
}

store *kit_store(test_kit *k)
{
    return k->store;
}

int kit_story_profiles(const test_kit *k, const char *const **ids)
{
    *ids = (const char *const *)(k->focus ? &k->focus : k->profiles);
    return k->focus ? 1 : k->profile_count;
}

/* ---- capture ---------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int on_captured(void *ctx, const captured *c)
{
    test_kit *k = ctx;
    if (k->message_count == k->message_cap) {
        int cap = k->message_cap ? 2 * k->message_cap : 16;
        kit_message *grown = realloc(k->messages, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        k->messages = grown, k->message_cap = cap;
    }
    const outbox_message *m = c->m;
    kit_message copy = {
        strdup(m->channel),     strdup(m->profile_id), strdup(m->template_name),
        strdup(m->journey),     strdup(m->vars_json),  strdup(c->status),
        dup_or_null(c->reason), dup_or_null(c->to),    dup_or_null(c->subject),
        dup_or_null(c->text),   dup_or_null(c->html),  k->now_ms};
    k->messages[k->message_count++] = copy;
    return 0;
}

/* ---- steps ------------------------------------------------------------ */

/* A journey that failed in the last step is the recipe's error. */
static int new_failures(test_kit *k, char *err, size_t err_len)
{
    if (k->stats.journeys_failed <= k->failures_seen) return 0;
    cJSON *rows = store_rows_json(k->store,
                                  "SELECT journey, profile_id AS profile, error FROM"
                                  " instances WHERE state = 4 ORDER BY ended_ms, id",
                                  NULL);
    const cJSON *row = cJSON_GetArrayItem(rows, k->failures_seen);
    if (row)
        snprintf(err, err_len,
                 "the journey %s failed for %s: %s (fix the recipe; the story below "
                 "shows where it stopped)",
                 cJSON_GetStringValue(cJSON_GetObjectItem(row, "journey")),
                 cJSON_GetStringValue(cJSON_GetObjectItem(row, "profile")),
                 cJSON_GetStringValue(cJSON_GetObjectItem(row, "error")));
    k->failures_seen = (int)k->stats.journeys_failed;
    cJSON_Delete(rows);
    return row ? -1 : 0;
}

static int apply_consent(test_kit *k, const cJSON *item)
{
    const char *profile = cJSON_GetStringValue(cJSON_GetObjectItem(item, "profile"));
    const char *channel = cJSON_GetStringValue(cJSON_GetObjectItem(item, "channel"));
    const char *purpose = cJSON_GetStringValue(cJSON_GetObjectItem(item, "purpose"));
    int granted = cJSON_IsTrue(cJSON_GetObjectItem(item, "granted"));
    return consent_record(k->store, profile, channel, purpose, granted, k->now_ms, "test",
                          NULL) < 0
               ? -1
               : 0;
}

/* Nobody is held out unless s:holdout said so: then the person is in the
 * control group of every journey that has one. */
static void set_holdout(test_kit *k, const char *profile)
{
    int held = 0;
    for (int i = 0; profile && i < k->held_count; i++)
        held |= !strcmp(k->held[i], profile);
    for (int i = 0; i < k->recipe_count; i++)
        k->recipes[i]->holdout = held && k->holdout[i] > 0 ? 1.0 : 0.0;
}

/* The Segment event ITEM at the current time, as `nudge serve` takes one. */
static int apply_event(test_kit *k, cJSON *item)
{
    char at[TIME_ISO_LEN], id[32], why[200];
    nudge_event ev = {.line = 1}, flat;
    time_format_iso8601(k->now_ms, at);
    snprintf(id, sizeof id, "test-%ld", ++k->next_event);
    cJSON_DeleteItemFromObjectCaseSensitive(item, "timestamp");
    cJSON_DeleteItemFromObjectCaseSensitive(item, "messageId");
    cJSON_AddStringToObject(item, "timestamp", at);
    cJSON_AddStringToObject(item, "messageId", id);
    if (event_from_json(item, k->now_ms, &ev, why, sizeof why))
        return log_error("test event: %s", why), -1;
    int pii_count;
    char *const *pii = privacy_fields(k->privacy, &pii_count);
    char *text = ingest_flatten(pii, pii_count, &ev, &flat);
    if (text) set_holdout(k, flat.profile_id);
    int rc = text ? engine_event(k->engine, &flat) : -1;
    free(text);
    return rc;
}

/* The audience passes due now, each at its own due time, as `nudge run
 * --clock event` runs them. */
static int run_audiences(test_kit *k)
{
    int due = audience_due(k->audience, k->now_ms);
    return due > 0 ? audience_run(k->audience, k->now_ms, 1, NULL, NULL) : due;
}

/* One transaction: ITEM (an event or a consent record; NULL: the
 * audience passes and timers due now), then the capture of what is due. */
static int run_step(test_kit *k, cJSON *item, char *err, size_t err_len)
{
    int rc = store_begin(k->store);
    err[0] = 0;
    if (!rc && !item) rc = run_audiences(k) || engine_advance(k->engine, k->now_ms);
    if (!rc && item)
        rc = cJSON_GetObjectItem(item, "type") ? apply_event(k, item)
                                               : apply_consent(k, item);
    if (!rc) rc = engine_checkpoint(k->engine);
    if (!rc)
        rc = deliver_capture(k->capture, k->store, &k->guard, k->now_ms, on_captured, k);
    if (!rc) rc = store_commit(k->store);
    if (rc) {
        store_rollback(k->store);
        return snprintf(err, err_len, STORE_FAILED), -1;
    }
    return new_failures(k, err, err_len);
}

/* Starts the clock at AT and runs the steps that waited for it. */
static int start_clock(test_kit *k, int64_t at, char *err, size_t err_len)
{
    k->clock_set = 1, k->now_ms = at;
    cJSON *item;
    cJSON_ArrayForEach(item, k->pending) if (run_step(k, item, err, err_len)) return -1;
    cJSON_Delete(k->pending);
    if (!(k->pending = cJSON_CreateArray())) return -1;
    return run_step(k, NULL, err, err_len); /* the audiences' first passes */
}

static int ensure_clock(test_kit *k, char *err, size_t err_len)
{
    int64_t start;
    if (k->clock_set) return 0;
    time_parse_iso8601(KIT_START, &start);
    return start_clock(k, start, err, err_len);
}

/* The earliest timer, deferred message or audience pass (one never run is
 * due now), INT64_MAX when none. */
static int64_t next_due(test_kit *k)
{
    int64_t next = store_timer_earliest(k->store), due;
    int64_t held = store_scalar(k->store, "SELECT coalesce(min(not_before_ms), "
                                          "9223372036854775807) FROM outbox"
                                          " WHERE status = 'deferred'");
    if (held >= 0 && held < next) next = held;
    for (int i = 0; i < k->recipe_count; i++) {
        char key[300];
        if (!k->recipes[i]->has_audience) continue;
        snprintf(key, sizeof key, AUDIENCE_DUE "%s", k->recipes[i]->name);
        if (store_meta_get(k->store, key, &due) != 1) due = k->now_ms;
        if (due < next) next = due;
    }
    return next;
}

/* Moves the clock to TARGET, stopping at each timer, deferred message and
 * audience pass due on the way, so that each happens (and what it sends
 * is delivered) at its own time. */
static int advance_to(test_kit *k, int64_t target, char *err, size_t err_len)
{
    int64_t last = INT64_MIN;
    for (;;) {
        int64_t next = next_due(k);
        if (next < k->now_ms) next = k->now_ms;
        if (next > target || next <= last) break;
        k->now_ms = next;
        if (run_step(k, NULL, err, err_len)) return -1;
        last = next;
    }
    k->now_ms = target;
    return run_step(k, NULL, err, err_len);
}

/* Runs ITEM (owned) at AT: queued until the clock starts, when AT is
 * KIT_NOW and no time was given yet. */
static int step_at(test_kit *k, cJSON *item, int64_t at, char *err, size_t err_len)
{
    char now[TIME_ISO_LEN];
    int rc = 0;
    if (!item) return snprintf(err, err_len, "out of memory"), -1;
    if (at == KIT_NOW && !k->clock_set) return cJSON_AddItemToArray(k->pending, item), 0;
    if (!k->clock_set) {
        rc = start_clock(k, at, err, err_len);
    } else if (at != KIT_NOW && at < k->now_ms) {
        time_format_iso8601(k->now_ms, now);
        rc = -1;
        snprintf(err, err_len,
                 "this time is before the test's clock (%s): give the steps' times in "
                 "order, or leave the time out to mean now",
                 now);
    } else if (at != KIT_NOW && at > k->now_ms) {
        rc = advance_to(k, at, err, err_len);
    }
    if (!rc) rc = run_step(k, item, err, err_len);
    cJSON_Delete(item);
    return rc;
}

static void touch(test_kit *k, const char *profile)
{
    for (int i = 0; i < k->profile_count; i++)
        if (!strcmp(k->profiles[i], profile)) return;
    char **grown = realloc(k->profiles, (size_t)(k->profile_count + 1) * sizeof *grown);
    if (!grown) return;
    k->profiles = grown;
    if ((k->profiles[k->profile_count] = strdup(profile))) k->profile_count++;
}

int kit_event(test_kit *k, const char *type, const char *profile, const char *name,
              const char *body_json, int64_t at_ms, char *err, size_t err_len)
{
    int identify = !strcmp(type, "identify");
    cJSON *e = cJSON_CreateObject(), *body = cJSON_Parse(body_json ? body_json : "{}");
    touch(k, profile);
    if (!e || !body) cJSON_Delete(e), cJSON_Delete(body), e = NULL;
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddStringToObject(e, "userId", profile);
    if (name) cJSON_AddStringToObject(e, !strcmp(type, "track") ? "event" : "name", name);
    cJSON_AddItemToObject(e, identify ? "traits" : "properties", e ? body : NULL);
    return step_at(k, e, at_ms, err, err_len);
}

int kit_consent(test_kit *k, const char *profile, const char *channel,
                const char *purpose, int granted, int64_t at_ms, char *err,
                size_t err_len)
{
    if (!purpose) purpose = "marketing";
    if (consent_check(channel, purpose, err, err_len)) return -1;
    cJSON *item = cJSON_CreateObject();
    touch(k, profile);
    cJSON_AddStringToObject(item, "profile", profile);
    cJSON_AddStringToObject(item, "channel", channel);
    cJSON_AddStringToObject(item, "purpose", purpose);
    cJSON_AddBoolToObject(item, "granted", granted);
    return step_at(k, item, at_ms, err, err_len);
}

int kit_holdout(test_kit *k, const char *profile, int held)
{
    for (int i = 0; i < k->held_count; i++)
        if (!strcmp(k->held[i], profile)) {
            if (!held) free(k->held[i]), k->held[i] = k->held[--k->held_count];
            return 0;
        }
    if (!held) return 0;
    char **grown = realloc(k->held, (size_t)(k->held_count + 1) * sizeof *grown);
    if (!grown) return -1;
    k->held = grown;
    return (grown[k->held_count] = strdup(profile)) ? (k->held_count++, 0) : -1;
}

int kit_advance(test_kit *k, int64_t by_ms, int64_t to_ms, char *err, size_t err_len)
{
    char now[TIME_ISO_LEN];
    if (ensure_clock(k, err, err_len)) return -1;
    int64_t target = by_ms >= 0 ? k->now_ms + by_ms : to_ms;
    if (target >= k->now_ms) return advance_to(k, target, err, err_len);
    time_format_iso8601(k->now_ms, now);
    snprintf(err, err_len, "the clock is at %s already: it only moves forward", now);
    return -1;
}

int64_t kit_now(test_kit *k, char *err, size_t err_len)
{
    return ensure_clock(k, err, err_len) ? -1 : k->now_ms;
}

int kit_messages(test_kit *k, const kit_message **messages, int *count, char *err,
                 size_t err_len)
{
    *messages = NULL, *count = 0;
    if (ensure_clock(k, err, err_len)) return -1;
    return kit_captured(k, messages), *count = k->message_count, 0;
}

int kit_captured(const test_kit *k, const kit_message **messages)
{
    *messages = k->messages;
    return k->message_count;
}

/* ---- expectations ----------------------------------------------------- */

static void set_focus(test_kit *k, const char *profile)
{
    free(k->focus);
    k->focus = profile ? strdup(profile) : NULL;
}

static int has_text(const kit_message *m, const char *text)
{
    return (m->text && strstr(m->text, text)) || (m->html && strstr(m->html, text)) ||
           (m->subject && strstr(m->subject, text));
}

/* Whether M matches F (its status and text only when CHECK_ALL). */
static int matches(const kit_message *m, const kit_filter *f, int check_all)
{
    const char *status = f->status ? f->status : "delivered";
    if ((f->channel && strcmp(m->channel, f->channel)) ||
        (f->profile && strcmp(m->profile, f->profile)) ||
        (f->template_name && strcmp(m->template_name, f->template_name)) ||
        (f->journey && strcmp(m->journey, f->journey)))
        return 0;
    return !check_all ||
           (!strcmp(m->status, status) && (!f->text || has_text(m, f->text)));
}

/* Appends to the text in BUF (of LEN bytes), like snprintf. */
static void add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t len, const char *fmt, ...)
{
    size_t n = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (n < len) vsnprintf(buf + n, len - n, fmt, ap);
    va_end(ap);
}

/* "a message on sms to u1 with template cart_sms", after WHAT. */
static void describe(const kit_filter *f, const char *what, char *buf, size_t len)
{
    snprintf(buf, len, "%s", what);
    if (f->channel) add(buf, len, " on %s", f->channel);
    if (f->profile) add(buf, len, " to %s", f->profile);
    if (f->template_name) add(buf, len, " with template %s", f->template_name);
    if (f->journey) add(buf, len, " from journey %s", f->journey);
    if (f->text) add(buf, len, " whose text contains \"%s\"", f->text);
    if (f->status && strcmp(f->status, "delivered"))
        add(buf, len, " with status %s", f->status);
}

static void summarize(const kit_message *m, char *buf, size_t len)
{
    char at[TIME_ISO_LEN];
    time_format_iso8601(m->at_ms, at);
    snprintf(buf, len, "%s to %s, template %s, at %s (%s)", m->channel, m->profile,
             m->template_name, at, m->status);
}

static int64_t number(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(row, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static const char *field(const cJSON *row, const char *key)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(row, key));
    return v ? v : "";
}

/* What to do about a send the guardrails stopped at queue time (ROW of
 * the message log), appended to BUF. */
static void add_advice(const cJSON *row, char *buf, size_t len)
{
    const char *outcome = field(row, "outcome"), *reason = field(row, "reason");
    if (!strcmp(reason, "no_consent"))
        add(buf, len, ": record consent first, e.g. s:consent(\"%s\", \"%s\", true)",
            field(row, "profile"), field(row, "channel"));
    else if (!strcmp(outcome, "deferred"))
        add(buf, len, ": advance the clock past the quiet hours");
    else if (!strcmp(outcome, "holdout"))
        add(buf, len,
            ": %s is in the journey's control group; test with another "
            "profile id",
            field(row, "profile"));
    else if (!strcmp(outcome, "capped"))
        add(buf, len, ": the config's frequency caps allow no more");
    else
        add(buf, len, ": the person or the address is on the suppression list");
}

/* Why nothing matching was sent: a near miss among the captured messages,
 * else the latest matching j:send the guardrails stopped when queued. */
static void why_not_sent(test_kit *k, const kit_filter *f, char *buf, size_t len)
{
    char at[TIME_ISO_LEN];
    buf[0] = 0;
    for (int i = 0; i < k->message_count; i++) {
        const kit_message *m = &k->messages[i];
        if (!matches(m, f, 0)) continue;
        if (strcmp(m->status, f->status ? f->status : "delivered"))
            return snprintf(buf, len, "; one was captured as %s: %s", m->status,
                            m->reason ? m->reason : "-"),
                   (void)0;
        return snprintf(buf, len, "; one was sent, with the text \"%.200s\"",
                        m->text   ? m->text
                        : m->html ? m->html
                                  : "(none: no template)"),
               (void)0;
    }
    cJSON *log =
        store_rows_json(k->store,
                        "SELECT profile_id AS profile, journey, channel, template,"
                        " outcome, reason, detail, at_ms FROM message_log"
                        " ORDER BY at_ms DESC, id DESC",
                        NULL);
    const cJSON *row;
    cJSON_ArrayForEach(row, log)
    {
        kit_message m = {.channel = (char *)field(row, "channel"),
                         .profile = (char *)field(row, "profile"),
                         .template_name = (char *)field(row, "template"),
                         .journey = (char *)field(row, "journey")};
        if (!matches(&m, f, 0) || !strcmp(field(row, "detail"), DELIVER_AT_DELIVERY))
            continue;
        if (!strcmp(field(row, "outcome"), "queued")) break;
        time_format_iso8601(number(row, "at_ms"), at);
        snprintf(buf, len, "; the j:send at %s was %s (%s%s%s)", at,
                 field(row, "outcome"), field(row, "reason"),
                 *field(row, "detail") ? ": " : "", field(row, "detail"));
        add_advice(row, buf, len);
        break;
    }
    cJSON_Delete(log);
    time_format_iso8601(k->now_ms, at);
    if (!buf[0] && k->message_count)
        snprintf(buf, len, "; %d other message%s captured (listed below)",
                 k->message_count, k->message_count == 1 ? " was" : "s were");
    else if (!buf[0])
        snprintf(buf, len,
                 "; no j:send has made one yet (the clock is at %s: if a journey "
                 "still waits, advance the clock further; its story is below)",
                 at);
}

int kit_expect_sent(test_kit *k, const kit_filter *f, int want_sent, char *why,
                    size_t why_len)
{
    char wanted[600], more[700], what[64];
    const kit_message *first = NULL;
    int found = 0;
    if (ensure_clock(k, why, why_len)) return -1;
    for (int i = 0; i < k->message_count; i++)
        if (matches(&k->messages[i], f, 1))
            found++, first = first ? first : &k->messages[i];
    if (want_sent ? (f->count >= 0 ? found == f->count : found > 0) : !found) return 0;
    set_focus(k, f->profile);
    if (f->count >= 0)
        snprintf(what, sizeof what, "%d message%s", f->count, f->count == 1 ? "" : "s");
    describe(f,
             !want_sent      ? "no message"
             : f->count >= 0 ? what
                             : "a message",
             wanted, sizeof wanted);
    if (found) {
        summarize(first, more, sizeof more);
        snprintf(why, why_len, "expected %s, but %d %s sent (the first: %s)", wanted,
                 found, found == 1 ? "was" : "were", more);
        return 1;
    }
    why_not_sent(k, f, more, sizeof more);
    snprintf(why, why_len, "expected %s, but none was sent%s", wanted, more);
    return 1;
}

/* The default person or journey when the case has just one, else NULL. */
static const char *only(const char *given, int count, const char *first)
{
    return given ? given : count == 1 ? first : NULL;
}

static int state_index(const char *name)
{
    for (int i = 0; i < 5; i++)
        if (!strcmp(name, state_names[i])) return i;
    return -1;
}

/* "waiting (j:wait until ...)", "exited (Order Completed)", "failed: ...". */
static void state_text(const cJSON *in, char *buf, size_t len)
{
    char due[TIME_ISO_LEN];
    int64_t state = number(in, "state");
    time_format_iso8601(number(in, "pending_due_ms"), due);
    snprintf(buf, len, "%s", state >= 0 && state <= 4 ? state_names[state] : "?");
    if (state == INSTANCE_WAITING)
        add(buf, len, " (j:%s%s%s until %s)", field(in, "pending_kind"),
            *field(in, "pending_event") ? " " : "", field(in, "pending_event"), due);
    if (state == INSTANCE_EXITED) add(buf, len, " (%s)", field(in, "exit_reason"));
    if (state == INSTANCE_FAILED) add(buf, len, ": %s", field(in, "error"));
}

/* The person's latest instance of JOURNEY vs STATE: 0 met, 1 not (WHY). */
static int compare_state(test_kit *k, const cJSON *rows, const char *profile,
                         const char *journey, const char *state, char *why, size_t len)
{
    const cJSON *in = NULL, *row;
    char now[400];
    cJSON_ArrayForEach(row, rows) if (!in && !strcmp(field(row, "journey"), journey)) in =
        row;
    if (in && number(in, "state") == state_index(state)) return 0;
    set_focus(k, profile);
    snprintf(why, len, "expected %s in journey %s to be %s, but ", profile, journey,
             state);
    const char *trigger = NULL;
    for (int i = 0; i < k->recipe_count; i++)
        if (!strcmp(k->recipes[i]->name, journey)) trigger = k->recipes[i]->trigger_event;
    if (in)
        state_text(in, now, sizeof now), add(why, len, "it is %s", now);
    else
        add(why, len, "%s never entered it (it starts on \"%s\")", profile,
            trigger ? trigger : "its audience");
    return 1;
}

int kit_expect_state(test_kit *k, const char *profile, const char *journey,
                     const char *state, char *why, size_t why_len)
{
    if (state_index(state) < 0)
        return snprintf(why, why_len,
                        "state must be running, waiting, completed, exited "
                        "or failed, not '%s'",
                        state),
               -1;
    if (!(profile = only(profile, k->profile_count, k->profiles ? k->profiles[0] : NULL)))
        return snprintf(why, why_len,
                        "say whose state (profile = \"...\"): this case "
                        "touched %d people",
                        k->profile_count),
               -1;
    if (!(journey = only(journey, k->recipe_count,
                         k->recipe_count ? k->recipes[0]->name : NULL)))
        return snprintf(why, why_len,
                        "say which journey (journey = \"...\"): %d recipes "
                        "are loaded",
                        k->recipe_count),
               -1;
    if (ensure_clock(k, why, why_len)) return -1;
    cJSON *rows =
        store_rows_json(k->store,
                        "SELECT journey, state, exit_reason, error, pending_kind,"
                        " pending_event, pending_due_ms FROM instances"
                        " WHERE profile_id = ?1 ORDER BY started_ms DESC, id DESC",
                        profile);
    int rc = rows ? compare_state(k, rows, profile, journey, state, why, why_len)
                  : (snprintf(why, why_len, STORE_FAILED), -1);
    cJSON_Delete(rows);
    return rc;
}
