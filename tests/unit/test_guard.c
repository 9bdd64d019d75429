/* Unit tests for runtime/guard.h (frequency caps, quiet hours) and for the
 * caps / quiet_hours / channels (rates) keys of nudge.conf.lua.  DST instants are the
 * 2026 changes, computed apart with `TZ=zone date -d '2026-03-07 21:00' +%s`. */
#include "config.h"
#include "guard.h"
#include "tz.h"

#include "unit.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NY "America/New_York"
#define BERLIN "Europe/Berlin"
#define KOLKATA "Asia/Kolkata"
#define S(seconds) (INT64_C(seconds) * 1000) /* Unix seconds → ms */
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
#define JUNE_15 S(1781481600) /* 2026-06-15 00:00 UTC */

/* ---- a person's message history, counted like the send path would ------- */

typedef struct sent {
    const char *channel, *journey;
    int64_t at_ms;
} sent;

typedef struct history {
    sent msgs[16];
    int n, calls, fail;
} history;

static int64_t count_history(void *ctx, const char *channel, const char *journey,
                             int64_t after_ms)
{
    history *h = ctx;
    int64_t n = 0;
    h->calls++;
    if (h->fail) return -1;
    for (int i = 0; i < h->n; i++)
        if (h->msgs[i].at_ms > after_ms &&
            (!channel || !strcmp(channel, h->msgs[i].channel)) &&
            (!journey || !strcmp(journey, h->msgs[i].journey)))
            n++;
    return n;
}

static void got(history *h, const char *channel, const char *journey, int64_t at_ms)
{
    h->msgs[h->n++] = (sent){channel, journey, at_ms};
}

static guard_cap cap(const char *channel, int count, int64_t window_ms)
{
    guard_cap c = {{0}, count, window_ms};
    snprintf(c.channel, sizeof c.channel, "%s", channel);
    return c;
}

/* guard_cap_check at now_ms over global caps (journey NULL) or a journey's. */
static int check_at(const guard_cap *caps, int n, const char *channel, history *h,
                    int64_t now_ms, const char *journey, guard_verdict *v)
{
    guard_counter counter = {count_history, h, now_ms, journey};
    return guard_cap_check(caps, n, channel, &counter, v);
}

/* 1 when the verdict says capped by `reason`; prints what it got otherwise. */
static int capped_by(int rc, const guard_verdict *v, const char *reason)
{
    int ok = rc == 1 && v->capped && !strcmp(v->reason, reason);
    if (!ok) printf("# rc %d capped %d reason \"%s\"\n", rc, v->capped, v->reason);
    return ok;
}

/* ---- caps ------------------------------------------------------------------ */

static void test_cap_count(void)
{
    guard_cap caps[] = {cap("sms", 1, DAY_MS), cap("email", 3, 7 * DAY_MS)};
    history h = {0};
    guard_verdict v;
    int64_t now = JUNE_15;
    CHECK(check_at(caps, 2, "sms", &h, now, NULL, &v) == 0 && !v.capped,
          "caps: first sms allowed");
    got(&h, "sms", "cart", now - HOUR_MS);
    CHECK(capped_by(check_at(caps, 2, "sms", &h, now, NULL, &v), &v, "sms 1/24h"),
          "caps: sms {1, 24h} with one sms an hour ago: capped");
    CHECK(v.counted == 1 && v.cap.count == 1 && v.cap.window_ms == DAY_MS,
          "caps: verdict carries the cap and the count");
    got(&h, "email", "cart", now - 2 * DAY_MS);
    got(&h, "email", "cart", now - 6 * DAY_MS);
    CHECK(check_at(caps, 2, "email", &h, now, NULL, &v) == 0,
          "caps: email {3, 7d} with two: one below, allowed");
    got(&h, "email", "winback", now - HOUR_MS);
    CHECK(capped_by(check_at(caps, 2, "email", &h, now, NULL, &v), &v, "email 3/7d") &&
              v.counted == 3,
          "caps: email {3, 7d} with three: exactly at the cap, capped");
    CHECK(check_at(caps, 2, "push", &h, now, NULL, &v) == 0 && h.calls == 4,
          "caps: a channel without caps is not counted");
}

static void test_cap_window_boundary(void)
{
    guard_cap caps[] = {cap("sms", 1, DAY_MS)};
    history h = {0};
    guard_verdict v;
    int64_t sent_at = JUNE_15 + 15 * HOUR_MS;
    got(&h, "sms", "cart", sent_at);
    CHECK(capped_by(check_at(caps, 1, "sms", &h, sent_at + DAY_MS - 1, NULL, &v), &v,
                    "sms 1/24h"),
          "boundary: 24h minus 1 ms later still capped");
    CHECK(check_at(caps, 1, "sms", &h, sent_at + DAY_MS, NULL, &v) == 0 && !v.capped,
          "boundary: exactly 24h later allowed (counts while now - sent < window)");
    CHECK(check_at(caps, 1, "sms", &h, sent_at, NULL, &v) == 1,
          "boundary: at the same ms as the last one, capped");
}

static void test_cap_all_channels(void)
{
    guard_cap caps[] = {cap("all", 5, 7 * DAY_MS)};
    history h = {0};
    guard_verdict v;
    int64_t now = JUNE_15;
    got(&h, "sms", "cart", now - 1 * DAY_MS);
    got(&h, "email", "cart", now - 2 * DAY_MS);
    got(&h, "push", "onboarding", now - 3 * DAY_MS);
    got(&h, "email", "winback", now - 4 * DAY_MS);
    got(&h, "sms", "cart", now - 8 * DAY_MS); /* outside the 7 days */
    CHECK(check_at(caps, 1, "email", &h, now, NULL, &v) == 0,
          "all: four across channels in 7d (a fifth 8d ago): allowed");
    got(&h, "slack", "cart", now - HOUR_MS);
    CHECK(capped_by(check_at(caps, 1, "email", &h, now, NULL, &v), &v, "all 5/7d") &&
              v.counted == 5,
          "all: five across sms, email, push, slack: an email is capped");
    CHECK(capped_by(check_at(caps, 1, "webhook", &h, now, NULL, &v), &v, "all 5/7d"),
          "all: so is a channel never used before");
}

static void test_cap_tightest(void)
{
    guard_cap caps[] = {cap("all", 5, 7 * DAY_MS), cap("sms", 1, DAY_MS),
                        cap("email", 3, 7 * DAY_MS)};
    history h = {0};
    guard_verdict v;
    int64_t now = JUNE_15;
    got(&h, "sms", "cart", now - 2 * DAY_MS);
    got(&h, "email", "cart", now - HOUR_MS);
    CHECK(check_at(caps, 3, "sms", &h, now, NULL, &v) == 0,
          "multiple: no sms in 24h, 2 of 5 overall: allowed");
    got(&h, "sms", "cart", now - HOUR_MS);
    CHECK(capped_by(check_at(caps, 3, "sms", &h, now, NULL, &v), &v, "sms 1/24h"),
          "multiple: sms cap bites first, named although listed after all");
    CHECK(check_at(caps, 3, "email", &h, now, NULL, &v) == 0,
          "multiple: the sms cap does not touch email (1 of 3, 3 of 5)");
    got(&h, "push", "cart", now - HOUR_MS);
    got(&h, "push", "cart", now - HOUR_MS);
    CHECK(capped_by(check_at(caps, 3, "email", &h, now, NULL, &v), &v, "all 5/7d"),
          "multiple: email under its own cap (1/3) but the all cap (5/5) bites");
    CHECK(capped_by(check_at(caps, 3, "sms", &h, now, NULL, &v), &v, "sms 1/24h"),
          "multiple: both reached: the channel's own cap is named");
}

static void test_cap_zero_and_errors(void)
{
    guard_cap caps[] = {cap("sms", 0, DAY_MS)};
    history h = {0};
    guard_verdict v;
    CHECK(capped_by(check_at(caps, 1, "sms", &h, JUNE_15, NULL, &v), &v, "sms 0/24h") &&
              h.calls == 0,
          "zero: {0, 24h} blocks the first sms without counting");
    CHECK(check_at(caps, 1, "email", &h, JUNE_15, NULL, &v) == 0,
          "zero: other channels unaffected");
    guard_cap all_zero[] = {cap("all", 0, DAY_MS)};
    CHECK(
        capped_by(check_at(all_zero, 1, "email", &h, JUNE_15, NULL, &v), &v, "all 0/24h"),
        "zero: all {0, 24h} blocks every channel");
    guard_cap sms[] = {cap("sms", 1, DAY_MS)};
    h.fail = 1;
    CHECK(check_at(sms, 1, "sms", &h, JUNE_15, NULL, &v) == -1 && !v.capped,
          "a failing count is -1, not a verdict");
    CHECK(check_at(NULL, 0, "sms", &h, JUNE_15, NULL, &v) == 0, "no caps: allowed");
}

static void test_cap_per_journey(void)
{
    guard_cap journey_caps[] = {cap("email", 1, 3 * DAY_MS)};
    history h = {0};
    guard_verdict v;
    int64_t now = JUNE_15;
    got(&h, "email", "winback", now - HOUR_MS);
    CHECK(check_at(journey_caps, 1, "email", &h, now, "cart", &v) == 0,
          "journey: another journey's email does not count");
    got(&h, "email", "cart", now - 2 * DAY_MS);
    CHECK(capped_by(check_at(journey_caps, 1, "email", &h, now, "cart", &v), &v,
                    "cart: email 1/3d"),
          "journey: cart's own email 2d ago caps it, named with the journey");
    CHECK(check_at(journey_caps, 1, "email", &h, now + DAY_MS, "cart", &v) == 0,
          "journey: 3d after it, allowed");
    guard_cap journey_all[] = {cap("all", 2, 3 * DAY_MS)};
    got(&h, "sms", "cart", now - HOUR_MS);
    CHECK(capped_by(check_at(journey_all, 1, "push", &h, now, "cart", &v), &v,
                    "cart: all 2/3d"),
          "journey: all {2, 3d} counts the journey's sms and email");
}

static void test_format_window(void)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {{DAY_MS, "24h"},
                 {7 * DAY_MS, "7d"},
                 {14 * DAY_MS, "14d"},
                 {90 * 60000, "1h30m"},
                 {90000, "1m30s"},
                 {1500, "1s500ms"},
                 {36 * HOUR_MS, "36h"},
                 {60 * HOUR_MS, "2d12h"},
                 {2 * DAY_MS, "2d"},
                 {HOUR_MS, "1h"},
                 {0, "0s"}};
    char buf[32], name[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        guard_format_window(cases[i].ms, buf, sizeof buf);
        snprintf(name, sizeof name, "window %" PRId64 " ms reads %s", cases[i].ms,
                 cases[i].text);
        CHECK_STR(buf, cases[i].text, name);
    }
    CHECK(guard_channel_valid("sms") && guard_channel_valid("all") &&
              guard_channel_valid("web_push2"),
          "channel names: sms, all, web_push2");
    CHECK(!guard_channel_valid("SMS") && !guard_channel_valid("e-mail") &&
              !guard_channel_valid("") && !guard_channel_valid(NULL) &&
              !guard_channel_valid("a_very_long_channel_name_over_31b"),
          "channel names: SMS, e-mail, empty, NULL, 33 bytes refused");
}

/* ---- quiet hours --------------------------------------------------------- */

static guard_quiet quiet(const char *channel, int sh, int sm, int eh, int em)
{
    guard_quiet q = {{0}, 1, sh, sm, eh, em};
    snprintf(q.channel, sizeof q.channel, "%s", channel);
    return q;
}

/* 1 when `at` is quiet with the deferral ending at want_end (0: not quiet). */
static int deferred_to(const guard_quiet *q, int n, const char *channel, const char *zone,
                       int64_t at, int64_t want_end)
{
    int64_t end = INT64_MIN;
    int rc = guard_quiet_check(q, n, channel, zone, at, &end);
    int ok = want_end ? rc == 1 && end == want_end : rc == 0;
    if (!ok)
        printf("# %s %s at %" PRId64 ": rc %d end %" PRId64 " want %" PRId64 "\n",
               channel, zone, at, rc, end, want_end);
    return ok;
}

/* 1 when utc_ms reads hh:mm:00 on the local clock of zone. */
static int local_reads(const char *zone, int64_t utc_ms, int hour, int minute)
{
    tz_local l;
    return tz_to_local(zone, utc_ms, &l) == 0 && l.hour == hour && l.minute == minute &&
           l.second == 0;
}

static void test_quiet_basics(void)
{
    guard_quiet q[GUARD_RULES_MAX];
    int n = guard_quiet_defaults(q);
    int64_t nine = JUNE_15 + 9 * HOUR_MS, next_nine = nine + DAY_MS;
    CHECK(n == 1 && !strcmp(q[0].channel, "sms") && q[0].enabled &&
              q[0].start_hour == 21 && q[0].end_hour == 9 && !q[0].start_minute &&
              !q[0].end_minute,
          "defaults: sms 21:00-09:00 only");
    CHECK(deferred_to(q, n, "sms", "UTC", JUNE_15 + 22 * HOUR_MS, next_nine),
          "quiet: sms at 22:00 deferred to 09:00 next day");
    CHECK(deferred_to(q, n, "sms", "UTC", JUNE_15 + 2 * HOUR_MS, nine),
          "quiet: sms at 02:00 (past midnight) deferred to 09:00 that day");
    CHECK(deferred_to(q, n, "sms", "UTC", JUNE_15 + 21 * HOUR_MS, next_nine),
          "quiet: 21:00 exactly is inside");
    CHECK(deferred_to(q, n, "sms", "UTC", JUNE_15 + 21 * HOUR_MS - 1000, 0),
          "quiet: 20:59:59 is outside");
    CHECK(deferred_to(q, n, "sms", "UTC", JUNE_15 + 12 * HOUR_MS, 0),
          "quiet: noon is outside");
    CHECK(deferred_to(q, n, "sms", "UTC", nine - 1000, nine),
          "quiet: 08:59:59 deferred to 09:00, 1 s later");
    CHECK(deferred_to(q, n, "sms", "UTC", nine, 0), "quiet: 09:00 exactly is not quiet");
    CHECK(deferred_to(q, n, "email", "UTC", JUNE_15 + 22 * HOUR_MS, 0),
          "quiet: email has none by default");
    guard_quiet lunch[] = {quiet("push", 12, 0, 13, 30)};
    CHECK(deferred_to(lunch, 1, "push", "UTC", JUNE_15 + 13 * HOUR_MS,
                      JUNE_15 + 13 * HOUR_MS + 30 * 60000),
          "quiet: a daytime window 12:00-13:30 (no wrap) at 13:00 ends 13:30");
    CHECK(deferred_to(lunch, 1, "push", "UTC", JUNE_15 + 23 * HOUR_MS, 0),
          "quiet: 23:00 is outside 12:00-13:30");
    CHECK(guard_quiet_check(q, n, "sms", "UTC", JUNE_15, NULL) == 1,
          "quiet: defer_until_ms may be NULL");
}

static void test_quiet_rules(void)
{
    guard_quiet q[] = {quiet("all", 22, 0, 7, 0), quiet("sms", 21, 0, 9, 0)};
    q[1].enabled = 0;
    int64_t night = JUNE_15 + 23 * HOUR_MS;
    CHECK(deferred_to(q, 2, "email", "UTC", night, JUNE_15 + DAY_MS + 7 * HOUR_MS),
          "rules: all 22:00-07:00 covers email");
    CHECK(deferred_to(q, 2, "sms", "UTC", night, 0),
          "rules: sms = false shields sms from the all entry");
    int64_t end = 0;
    CHECK(guard_quiet_check(q, 2, "email", "Mars/Olympus", night, &end) == -1,
          "rules: a bad zone is -1");
    CHECK(guard_quiet_check(q, 2, "email", NULL, night, &end) == -1,
          "rules: no zone is -1");
    CHECK(guard_quiet_check(q, 2, "sms", "Mars/Olympus", night, &end) == 0,
          "rules: a channel without quiet hours never looks at the zone");
}

/* One 21:00-09:00 night across a change: start, start + 5 h, end - 1 s and
 * end; the deferral always reads 09:00 on the local clock. */
typedef struct night {
    const char *zone, *what;
    int64_t start, end, hours;
} night;

static void check_night(const guard_quiet *q, const night *t)
{
    char name[160];
    snprintf(name, sizeof name, "%s %s: 21:00 deferred to 09:00 local (%" PRId64 " h)",
             t->zone, t->what, t->hours);
    CHECK(deferred_to(q, 1, "sms", t->zone, t->start, t->end) &&
              local_reads(t->zone, t->end, 9, 0) &&
              t->end - t->start == t->hours * HOUR_MS,
          name);
    snprintf(name, sizeof name, "%s %s: 5 h later, same end", t->zone, t->what);
    CHECK(deferred_to(q, 1, "sms", t->zone, t->start + 5 * HOUR_MS, t->end), name);
    snprintf(name, sizeof name, "%s %s: 1 s before the end, deferred 1 s", t->zone,
             t->what);
    CHECK(deferred_to(q, 1, "sms", t->zone, t->end - 1000, t->end), name);
    snprintf(name, sizeof name, "%s %s: at 09:00 not quiet", t->zone, t->what);
    CHECK(deferred_to(q, 1, "sms", t->zone, t->end, 0), name);
}

static void test_quiet_dst(void)
{
    static const night nights[] = {
        {NY, "spring Mar 7-8", S(1772935200), S(1772974800), 11},
        {NY, "fall Oct 31-Nov 1", S(1793494800), S(1793541600), 13},
        {BERLIN, "spring Mar 28-29", S(1774728000), S(1774767600), 11},
        {BERLIN, "fall Oct 24-25", S(1792868400), S(1792915200), 13},
        {KOLKATA, "+05:30 Mar 7-8", S(1772897400), S(1772940600), 12},
        {KOLKATA, "+05:30 Oct 24-25", S(1792855800), S(1792899000), 12},
    };
    guard_quiet q[1];
    guard_quiet_defaults(q);
    for (size_t i = 0; i < sizeof nights / sizeof nights[0]; i++)
        check_night(q, &nights[i]);
    CHECK(local_reads(KOLKATA, S(1772940600), 9, 0) &&
              S(1772940600) % HOUR_MS == 30 * 60000,
          "Kolkata: 09:00 IST is a half-hour UTC instant (03:30 UTC)");
}

/* A window ending in the spring-forward gap (02:00-03:00 does not exist in
 * New York on 2026-03-08): it ends when the clock jumps over 02:30. */
static void test_quiet_gap(void)
{
    guard_quiet ends_in_gap[] = {quiet("sms", 21, 0, 2, 30)};
    guard_quiet starts_in_gap[] = {quiet("sms", 2, 30, 5, 0)};
    int64_t jump = S(1772953200); /* 07:00 UTC: 01:59:59 EST → 03:00 EDT */
    CHECK(deferred_to(ends_in_gap, 1, "sms", NY, S(1772942400), jump),
          "gap: 23:00 EST, window to 02:30, deferred to the 03:00 EDT jump");
    CHECK(deferred_to(ends_in_gap, 1, "sms", NY, jump - 1000, jump),
          "gap: 01:59:59 EST deferred 1 s, to the jump");
    CHECK(deferred_to(ends_in_gap, 1, "sms", NY, jump, 0),
          "gap: 03:00 EDT is after 02:30, not quiet");
    CHECK(deferred_to(starts_in_gap, 1, "sms", NY, jump - 1000, 0),
          "gap: window 02:30-05:00 not yet begun at 01:59:59 EST");
    CHECK(deferred_to(starts_in_gap, 1, "sms", NY, jump, S(1772960400)),
          "gap: window 02:30-05:00 quiet from the jump, to 05:00 EDT");
}

/* ---- nudge.conf.lua ------------------------------------------------------ */

static char conf_dir[64];

/* Writes `text` as ./nudge.conf.lua (cwd is conf_dir) and loads it by the
 * default name, so errors start "nudge.conf.lua: ".  Returns config_load's
 * result; *c is filled (caller frees). */
static int load_conf(const char *text, config *c, char *err, size_t err_len)
{
    FILE *f = fopen("nudge.conf.lua", "w");
    if (!f) return printf("# cannot write nudge.conf.lua\n"), -2;
    fputs(text, f);
    fclose(f);
    err[0] = 0;
    return config_load(NULL, c, err, err_len);
}

static const guard_cap *find_cap(const config *c, const char *channel)
{
    for (int i = 0; i < c->cap_count; i++)
        if (!strcmp(c->caps[i].channel, channel)) return &c->caps[i];
    return NULL;
}

static const guard_quiet *find_quiet(const config *c, const char *channel)
{
    for (int i = 0; i < c->quiet_count; i++)
        if (!strcmp(c->quiet[i].channel, channel)) return &c->quiet[i];
    return NULL;
}

static void test_config_defaults(void)
{
    config c;
    char err[600] = "";
    CHECK(config_load(NULL, &c, err, sizeof err) == 0 && c.cap_count == 0 &&
              c.quiet_count == 1 && find_quiet(&c, "sms") &&
              find_quiet(&c, "sms")->enabled && find_quiet(&c, "sms")->start_hour == 21 &&
              find_quiet(&c, "sms")->end_hour == 9,
          "config: no file: no caps, sms quiet 21:00-09:00");
    config_free(&c);
    CHECK(load_conf("return { caps = {}, quiet_hours = {} }", &c, err, sizeof err) == 0 &&
              c.cap_count == 0 && c.quiet_count == 1 && find_quiet(&c, "sms")->enabled,
          "config: empty caps and quiet_hours keep the defaults");
    config_free(&c);
}

static void test_config_values(void)
{
    config c;
    char err[600] = "";
    int rc =
        load_conf("return {\n"
                  "  caps = { sms = {1, \"24h\"}, email = {3, \"7d\"},\n"
                  "           all = {5, \"1w\"}, push = {2, 5400}, slack = {0, 0.5} },\n"
                  "  quiet_hours = { email = false, push = {\"22:30\", \"7:05\"} },\n"
                  "}\n",
                  &c, err, sizeof err);
    if (rc) printf("# %s\n", err);
    const guard_cap *sms = find_cap(&c, "sms"), *email = find_cap(&c, "email"),
                    *all = find_cap(&c, "all"), *push = find_cap(&c, "push"),
                    *slack = find_cap(&c, "slack");
    CHECK(rc == 0 && c.cap_count == 5, "config: five caps read");
    CHECK(sms && sms->count == 1 && sms->window_ms == DAY_MS,
          "config: caps.sms {1, 24h}");
    CHECK(email && email->count == 3 && email->window_ms == 7 * DAY_MS,
          "config: caps.email {3, 7d}");
    CHECK(all && all->count == 5 && all->window_ms == 7 * DAY_MS,
          "config: caps.all {5, 1w}");
    CHECK(push && push->count == 2 && push->window_ms == 90 * 60000,
          "config: caps.push {2, 5400}: seconds");
    CHECK(slack && slack->count == 0 && slack->window_ms == 500,
          "config: caps.slack {0, 0.5}: a zero cap, half a second");
    const guard_quiet *qs = find_quiet(&c, "sms"), *qe = find_quiet(&c, "email"),
                      *qp = find_quiet(&c, "push");
    CHECK(c.quiet_count == 3 && qs && qs->enabled && qs->start_hour == 21,
          "config: quiet_hours without sms keeps the sms default");
    CHECK(qe && !qe->enabled, "config: quiet_hours.email = false");
    CHECK(qp && qp->enabled && qp->start_hour == 22 && qp->start_minute == 30 &&
              qp->end_hour == 7 && qp->end_minute == 5,
          "config: quiet_hours.push 22:30-7:05");
    config_free(&c);
    rc = load_conf("return { quiet_hours = { sms = false } }", &c, err, sizeof err);
    CHECK(rc == 0 && find_quiet(&c, "sms") && !find_quiet(&c, "sms")->enabled &&
              guard_quiet_check(c.quiet, c.quiet_count, "sms", "UTC", JUNE_15, NULL) == 0,
          "config: quiet_hours.sms = false turns the default off");
    config_free(&c);
    rc = load_conf("return { quiet_hours = { sms = {\"20:00\", \"08:00\"} } }", &c, err,
                   sizeof err);
    CHECK(rc == 0 && c.quiet_count == 1 && find_quiet(&c, "sms")->start_hour == 20 &&
              find_quiet(&c, "sms")->end_hour == 8,
          "config: quiet_hours.sms replaces the default");
    config_free(&c);
}

static void test_config_errors(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"caps = { sms = 1 }",
         "key 'caps.sms': expected {count, window} like {1, \"24h\"}"},
        {"caps = { sms = {1} }", "key 'caps.sms': expected {count, window}"},
        {"caps = { sms = {1, '24h', 3} }", "key 'caps.sms': expected {count, window}"},
        {"caps = { sms = {1, '24h', x = 1} }",
         "key 'caps.sms': expected {count, window}"},
        {"caps = { sms = {-1, '24h'} }",
         "key 'caps.sms': the count must be a whole number"},
        {"caps = { sms = {1.5, '24h'} }", "key 'caps.sms': the count must be"},
        {"caps = { sms = {'1', '24h'} }", "key 'caps.sms': the count must be"},
        {"caps = { email = {1, '24x'} }",
         "key 'caps.email': the window must be a duration"},
        {"caps = { email = {1, '0h'} }", "key 'caps.email': the window must be"},
        {"caps = { email = {1, 0} }", "key 'caps.email': the window must be"},
        {"caps = { email = {1, -60} }", "key 'caps.email': the window must be"},
        {"caps = { all = {1, true} }", "key 'caps.all': the window must be"},
        {"caps = { {1, '24h'} }", "key 'caps': expected channel = {1, \"24h\"}"},
        {"caps = { SMS = {1, '24h'} }", "key 'caps.SMS': a channel name is lowercase"},
        {"caps = 5", "key 'caps' must be a table, not a number"},
        {"quiet_hours = { sms = true }", "key 'quiet_hours.sms': expected {start, end} "
                                         "like {\"21:00\", \"09:00\"}, or false"},
        {"quiet_hours = { sms = {'9pm', '09:00'} }",
         "key 'quiet_hours.sms': the start must be a time like \"21:00\", not \"9pm\""},
        {"quiet_hours = { sms = {'21:00', 9} }",
         "key 'quiet_hours.sms': the end must be a time like \"21:00\", not a number"},
        {"quiet_hours = { email = {'21:00', '24:00'} }",
         "key 'quiet_hours.email': the end"},
        {"quiet_hours = { sms = {'21:00', '21:00'} }",
         "key 'quiet_hours.sms': start and end are the same time"},
        {"quiet_hours = { sms = {'21:00'} }",
         "key 'quiet_hours.sms': expected {start, end}"},
        {"quiet_hours = { 'x' }", "key 'quiet_hours': expected channel ="},
        {"quiet_hours = { ['e-mail'] = false }",
         "key 'quiet_hours.e-mail': a channel name"},
        {"quiet_hours = 'none'", "key 'quiet_hours' must be a table, not a string"},
        {"channels = { sms = { rate = 0 } }",
         "key 'channels.sms.rate': must be messages per second, a number > 0"},
        {"channels = { sms = { rate = -1 } }", "key 'channels.sms.rate': must be"},
        {"channels = { sms = { rate = '10' } }", "key 'channels.sms.rate': must be"},
        {"channels = { sms = { rate = 0/0 } }", "key 'channels.sms.rate': must be"},
        {"channels = { sms = { rate = math.huge } }", "key 'channels.sms.rate': must be"},
        {"channels = { sms = { rate = 10, burst = 0.5 } }",
         "key 'channels.sms.burst': must be a number >= 1"},
        {"channels = { sms = { rate = 10, burst = true } }",
         "key 'channels.sms.burst': must be a number >= 1"},
        {"channels = { sms = { burst = 5 } }",
         "key 'channels.sms.burst': a burst needs a rate"},
        {"channels = { sms = 10 }",
         "key 'channels.sms' must be a table like { rate = 10 }"},
        {"channels = { all = { rate = 10 } }",
         "key 'channels.all': rates are per channel"},
        {"channels = { { rate = 10 } }",
         "key 'channels': expected channel = { rate = 10 }"},
    };
    char text[300], want[300], err[600], name[400];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config c;
        snprintf(text, sizeof text, "return { %s }", cases[i].text);
        snprintf(want, sizeof want, "nudge.conf.lua: %s", cases[i].want);
        int rc = load_conf(text, &c, err, sizeof err);
        int ok = rc == -1 && strncmp(err, want, strlen(want)) == 0;
        if (!ok) printf("# rc %d err \"%s\"\n", rc, err);
        snprintf(name, sizeof name, "config error: %s → %s", cases[i].text,
                 cases[i].want);
        CHECK(ok, name);
        config_free(&c);
    }
    config c;
    CHECK(load_conf("return { caps = { sms = 1 } }", &c, err, sizeof err) == -1 &&
              !strcmp(err, "nudge.conf.lua: key 'caps.sms': expected {count, window} "
                           "like {1, \"24h\"}"),
          "config error: the whole message");
    config_free(&c);
    CHECK(load_conf("return { channels = { SMS = { rate = 10 } } }", &c, err,
                    sizeof err) == -1 &&
              !strcmp(err, "nudge.conf.lua: key 'channels.SMS': a channel name is "
                           "lowercase letters, digits and _ (like sms or email)"),
          "config error: a bad channel name in channels (no 'or all')");
    config_free(&c);
}

static const guard_rate *find_rate(const config *c, const char *channel)
{
    for (int i = 0; i < c->rate_count; i++)
        if (!strcmp(c->rates[i].channel, channel)) return &c->rates[i];
    return NULL;
}

static void test_config_rates(void)
{
    config c;
    char err[600] = "";
    CHECK(load_conf("return { channels = { sms = {} } }", &c, err, sizeof err) == 0 &&
              c.rate_count == 0,
          "config rates: none by default (a channel entry without a rate)");
    config_free(&c);
    int rc = load_conf("return { channels = {\n"
                       "  sms = { rate = 10, burst = 20 }, email = { rate = 0.5 },\n"
                       "  push = { adapter = 'fcm', url = 'https://x' } } }\n",
                       &c, err, sizeof err);
    if (rc) printf("# %s\n", err);
    const guard_rate *sms = find_rate(&c, "sms"), *email = find_rate(&c, "email");
    CHECK(rc == 0 && c.rate_count == 2 && !find_rate(&c, "push"),
          "config rates: two channels with a rate; push's other keys accepted");
    CHECK(sms && sms->rate == 10 && sms->burst == 20, "config rates: sms 10/s, burst 20");
    CHECK(email && email->rate == 0.5 && email->burst == 0,
          "config rates: email 0.5/s, default burst (0)");
    config_free(&c);
}

/* config_read_caps is meant for journey{ caps = ... } too: it leaves the
 * stack as it found it, on success and on error. */
static void test_read_caps_stack(void)
{
    lua_State *L = luaL_newstate();
    guard_cap caps[GUARD_RULES_MAX];
    int count = -1;
    char err[300] = "";
    int loaded = luaL_dostring(L, "return { email = {1, '3d'} }") == LUA_OK;
    int top = lua_gettop(L);
    CHECK(loaded &&
              config_read_caps(L, -1, "recipes/cart.lua", "caps", caps, &count, err,
                               sizeof err) == 0 &&
              count == 1 && !strcmp(caps[0].channel, "email") &&
              caps[0].window_ms == 3 * DAY_MS && lua_gettop(L) == top,
          "read_caps: journey caps read, stack kept");
    loaded = luaL_dostring(L, "return { email = {1, '3d'}, sms = {1} }") == LUA_OK;
    top = lua_gettop(L);
    CHECK(loaded &&
              config_read_caps(L, -1, "recipes/cart.lua", "caps", caps, &count, err,
                               sizeof err) == -1 &&
              lua_gettop(L) == top &&
              !strncmp(err, "recipes/cart.lua: key 'caps.sms': expected", 42),
          "read_caps: error names the recipe and key, stack kept");
    lua_close(L);
}

static void test_config(void)
{
    char cwd[4096];
    snprintf(conf_dir, sizeof conf_dir, "/tmp/nudge_guard_XXXXXX");
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(conf_dir) || chdir(conf_dir)) {
        CHECK(0, "config: temp dir");
        return;
    }
    test_config_defaults();
    test_config_values();
    test_config_errors();
    test_config_rates();
    test_read_caps_stack();
    unlink("nudge.conf.lua");
    CHECK(chdir(cwd) == 0 && rmdir(conf_dir) == 0, "config: temp dir removed");
}

int main(void)
{
    test_cap_count();
    test_cap_window_boundary();
    test_cap_all_channels();
    test_cap_tightest();
    test_cap_zero_and_errors();
    test_cap_per_journey();
    test_format_window();
    test_quiet_basics();
    test_quiet_rules();
    test_quiet_dst();
    test_quiet_gap();
    test_config();
    UNIT_DONE();
}
