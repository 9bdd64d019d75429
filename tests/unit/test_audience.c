/* Unit tests for runtime/audience.h: the schedule's arithmetic, the
 * synthetic events' ids, the profile walk's pages (store_profile_page),
 * and one pass over a real store, host and engine (event clock). */
#include "audience.h"

#include "unit.h"
#include "unit_store.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY INT64_C(86400000)
#define T0 INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */

static char dir[64];

static void test_next_due(void)
{
    CHECK(audience_next_due(T0, T0, DAY) == T0 + DAY,
          "next due: a pass on time: a step on");
    CHECK(audience_next_due(T0, T0 + DAY / 2, DAY) == T0 + DAY,
          "next due: a late pass keeps the time of day");
    CHECK(audience_next_due(T0, T0 + DAY, DAY) == T0 + 2 * DAY,
          "next due: a pass exactly a step late: the step after");
    CHECK(audience_next_due(T0, T0 + 10 * DAY + 1, DAY) == T0 + 11 * DAY,
          "next due: ten days late: one pass, then back on the grid");
    CHECK(audience_next_due(T0 + DAY, T0, DAY) == T0 + DAY,
          "next due: not due yet: unchanged");
    CHECK(audience_next_due(T0, T0, 0) == T0 + 60000, "next due: no step: a minute");
}

static void test_message_id(void)
{
    char *id = audience_message_id("win_back", "u1", T0);
    CHECK_STR(id, "aud-win_back-u1-1793631600000",
              "message id: journey, profile, due time");
    free(id);
}

static store *open_store(const char *name)
{
    char path[160], err[256] = "";
    store *s = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (store_open(path, &s, err, sizeof err)) printf("# store_open: %s\n", err);
    return s;
}

static void free_page(char **ids, int n)
{
    for (int i = 0; i < n; i++)
        free(ids[i]);
}

/* Profiles with traits, profiles known by events only, one of each kind
 * both ways, and an empty id: every one once, in id order. */
static void test_pages(void)
{
    store *s = open_store("pages.db");
    char *ids[3];
    if (!s) return;
    int ok =
        !store_profile_merge_traits(s, "b", "{}") &&
        !store_profile_merge_traits(s, "d", "{}") &&
        !store_profile_merge_traits(s, "", "{}") &&
        store_event_insert(s, "m1", "track", "X", "a", "a", NULL, T0, "{}", 2) == 1 &&
        store_event_insert(s, "m2", "track", "X", "d", "d", NULL, T0, "{}", 2) == 1 &&
        store_event_insert(s, "m3", "track", "Y", "d", "d", NULL, T0, "{}", 2) == 1 &&
        store_event_insert(s, "m4", "track", "X", "e", "e", NULL, T0, "{}", 2) == 1;
    CHECK(ok, "pages: setup");
    int n = store_profile_page(s, NULL, ids, 3);
    CHECK(n == 3 && !strcmp(ids[0], "") && !strcmp(ids[1], "a") && !strcmp(ids[2], "b"),
          "pages: the first page starts at the lowest id, the empty one included");
    char *cursor = n == 3 ? strdup(ids[2]) : NULL;
    free_page(ids, n);
    n = cursor ? store_profile_page(s, cursor, ids, 3) : -1;
    CHECK(n == 2 && !strcmp(ids[0], "d") && !strcmp(ids[1], "e"),
          "pages: the next page after the cursor, each id once (traits and events)");
    free_page(ids, n > 0 ? n : 0);
    n = store_profile_page(s, "e", ids, 3);
    CHECK(n == 0, "pages: after the last id, an empty page");
    free(cursor);
    store_close(s);
}

static int write_recipe(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("return journey {\n"
          "  name = \"every_third\",\n"
          "  trigger = { audience = function(p) return p.n % 3 == 0 end, every = \"1d\" "
          "},\n"
          "  reentry = true,\n"
          "  run = function(j) j:log(j.trigger.event) end,\n"
          "}\n",
          f);
    return fclose(f);
}

static int commits;
static int count_commit(void *ctx)
{
    (void)ctx;
    return commits++, 0;
}

/* 1,234 profiles (more than two pages): a third enter; the schedule is
 * saved; a rerun of the same pass (a crash before its end) enters nobody
 * twice; under catch_up a pass runs at its own due time. */
static void test_pass(void)
{
    char recipe_path[160], err[600] = "", traits[32];
    engine_stats stats = {0};
    store *s = open_store("pass.db");
    if (!s) return;
    snprintf(recipe_path, sizeof recipe_path, "%s/every_third.lua", dir);
    host *h = host_new(s, (sandbox_limits){0, 0});
    engine_options o = {.event_clock = 1};
    engine *e = h ? engine_new(s, h, o, &stats) : NULL;
    recipe *r = e && !write_recipe(recipe_path)
                    ? host_load_file(h, recipe_path, err, sizeof err)
                    : NULL;
    audience *a = r && !engine_add_recipe(e, r) ? audience_new(s, h, e, NULL) : NULL;
    CHECK(a && r->has_audience && r->audience_every_ms == DAY && !r->trigger_event,
          "pass: the recipe keeps its audience function and its period");
    if (!a) goto done;
    int ok = !store_begin(s);
    for (int i = 0; ok && i < 1234; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%04d", i);
        snprintf(traits, sizeof traits, "{\"n\":%d}", i);
        ok = !store_profile_merge_traits(s, id, traits);
    }
    CHECK(ok && audience_due(a, T0) == 1, "pass: a journey never checked is due at once");
    CHECK(audience_run(a, T0, 1, count_commit, NULL) == 0 &&
              stats.journeys_started == 412,
          "pass: every third profile enters (412 of 1,234)");
    CHECK(query_int(s, "SELECT count(*) FROM events WHERE name = 'Audience Entered'"
                       " AND message_id LIKE 'aud-every_third-p%-1793631600000'") == 412,
          "pass: one synthetic event each, named by the due time");
    CHECK(query_int(s, "SELECT value FROM meta WHERE key = 'audience_due:every_third'") ==
              T0 + DAY,
          "pass: the next pass is due a day later");
    CHECK(audience_due(a, T0 + DAY - 1) == 0 && audience_due(a, T0 + DAY) == 1,
          "pass: due again once the day is over");
    CHECK(store_meta_set(s, "audience_due:every_third", T0) == 0, "pass: schedule reset");
    audience_free(a);
    a = audience_new(s, h, e, NULL); /* as after a crash before the end */
    stats.journeys_started = 0;
    CHECK(a && audience_run(a, T0 + 1000, 0, NULL, NULL) == 0 &&
              stats.journeys_started == 0,
          "pass: the same pass again enters nobody twice (reentry allowed)");
    stats.journeys_started = 0;
    CHECK(a && audience_run(a, T0 + 2 * DAY + 5, 1, NULL, NULL) == 0 &&
              stats.journeys_started == 2 * 412 && engine_now(e) == T0 + 2 * DAY,
          "pass: catching up, each day's pass runs at its own time");
    CHECK(commits == 0,
          "pass: fewer profiles than a commit's worth: no commit in between");
    store_commit(s);
done:
    audience_free(a);
    engine_free(e);
    host_free(h);
    store_close(s);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    snprintf(dir, sizeof dir, "/tmp/nudge-audience-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    test_next_due();
    test_message_id();
    test_pages();
    test_pass();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) printf("# could not remove %s\n", dir);
    UNIT_DONE();
}
