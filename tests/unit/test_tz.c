/* Unit tests for runtime/tz.h against the 2026 DST changes of New York and
 * Berlin and Kolkata's fixed +05:30; expected instants were computed apart
 * with `date -u -d ... +%s` / `TZ=zone date -d ... +%s`. */
#include "tz.h"

#include "unit.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NY "America/New_York"
#define BERLIN "Europe/Berlin"
#define KOLKATA "Asia/Kolkata"
#define S(seconds) (INT64_C(seconds) * 1000) /* Unix seconds → ms */
#define HOUR_MS INT64_C(3600000)

/* ---- helpers: each prints a "#" line saying what it got on a mismatch ---- */

/* 1 when utc_ms reads as hh:mm:ss with this offset and DST flag in zone. */
static int local_is(const char *zone, int64_t utc_ms, int hour, int minute, int second,
                    int offset, int is_dst)
{
    tz_local l;
    if (tz_to_local(zone, utc_ms, &l) != 0) {
        printf("# %s %" PRId64 ": tz_to_local failed\n", zone, utc_ms);
        return 0;
    }
    int ok = l.hour == hour && l.minute == minute && l.second == second &&
             l.utc_offset == offset && l.is_dst == is_dst;
    if (!ok)
        printf("# %s %" PRId64 ": got %02d:%02d:%02d offset %d dst %d\n", zone, utc_ms,
               l.hour, l.minute, l.second, l.utc_offset, l.is_dst);
    return ok;
}

static int from_local_is(const char *zone, int y, int mo, int d, int h, int mi,
                         int64_t want)
{
    int64_t got = INT64_MIN;
    int rc = tz_from_local(zone, y, mo, d, h, mi, 0, &got);
    if (rc != 0 || got != want)
        printf("# %s %04d-%02d-%02d %02d:%02d: rc %d got %" PRId64 " want %" PRId64 "\n",
               zone, y, mo, d, h, mi, rc, got, want);
    return rc == 0 && got == want;
}

static int next_is(const char *zone, int64_t from, int h, int m, int64_t want)
{
    int64_t got = INT64_MIN;
    int rc = tz_next_time_of_day(zone, from, h, m, &got);
    if (rc != 0 || got != want)
        printf("# %s next %02d:%02d after %" PRId64 ": rc %d got %" PRId64 "\n", zone, h,
               m, from, rc, got);
    return rc == 0 && got == want;
}

/* Quiet window 21:00–09:00: 1 when inside with the given end, or outside
 * when want_end is 0. */
static int quiet_is(const char *zone, int64_t at, int64_t want_end)
{
    int64_t end = INT64_MIN;
    int rc = tz_in_window(zone, at, 21, 0, 9, 0, &end);
    int ok = want_end ? rc == 1 && end == want_end : rc == 0;
    if (!ok)
        printf("# %s quiet at %" PRId64 ": rc %d end %" PRId64 "\n", zone, at, rc, end);
    return ok;
}

/* ---- offsets on both sides of each change -------------------------------- */

static void test_offsets(void)
{
    /* New York: 2026-03-08 07:00 UTC and 2026-11-01 06:00 UTC. */
    CHECK(local_is(NY, S(1772953199), 1, 59, 59, -18000, 0),
          "NY: 01:59:59 EST before spring");
    CHECK(local_is(NY, S(1772953200), 3, 0, 0, -14400, 1),
          "NY: 03:00 EDT at spring change");
    CHECK(local_is(NY, S(1793512799), 1, 59, 59, -14400, 1),
          "NY: 01:59:59 EDT before fall");
    CHECK(local_is(NY, S(1793512800), 1, 0, 0, -18000, 0),
          "NY: 01:00 EST at fall change");
    /* Berlin: 2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC. */
    CHECK(local_is(BERLIN, S(1774745999), 1, 59, 59, 3600, 0), "Berlin: 01:59:59 CET");
    CHECK(local_is(BERLIN, S(1774746000), 3, 0, 0, 7200, 1),
          "Berlin: 03:00 CEST at spring");
    CHECK(local_is(BERLIN, S(1792889999), 2, 59, 59, 7200, 1), "Berlin: 02:59:59 CEST");
    CHECK(local_is(BERLIN, S(1792890000), 2, 0, 0, 3600, 0), "Berlin: 02:00 CET at fall");
    /* Kolkata: +05:30 on both US change days; 04:30 UTC is 10:00 IST. */
    CHECK(local_is(KOLKATA, S(1772953200), 12, 30, 0, 19800, 0),
          "Kolkata: 12:30 on Mar 8");
    CHECK(local_is(KOLKATA, S(1793512800), 11, 30, 0, 19800, 0),
          "Kolkata: 11:30 on Nov 1");
    CHECK(local_is(KOLKATA, S(1781497800), 10, 0, 0, 19800, 0),
          "Kolkata: 04:30 UTC = 10:00");
    CHECK(local_is("Etc/GMT+5", S(1781524800), 7, 0, 0, -18000, 0), "Etc/GMT+5 is UTC-5");

    tz_local l = {0};
    CHECK(tz_to_local(NY, S(1772953200), &l) == 0 && l.year == 2026 && l.month == 3 &&
              l.day == 8 && l.weekday == 0 && l.yearday == 66,
          "NY: calendar fields of 2026-03-08 (Sunday, yearday 66)");
    CHECK(tz_to_local(NY, S(1772953200) + 999, &l) == 0 && l.second == 0,
          "milliseconds are truncated");
    CHECK(tz_to_local(NY, -1, &l) == 0 && l.year == 1969 && l.month == 12 &&
              l.day == 31 && l.hour == 18 && l.minute == 59 && l.second == 59,
          "negative ms floor to the previous second (1969-12-31 18:59:59 EST)");
}

/* ---- wall clock → UTC ------------------------------------------------------ */

static void test_from_local(void)
{
    CHECK(from_local_is(NY, 2026, 3, 8, 1, 30, S(1772951400)),
          "NY: 01:30 EST on spring day");
    CHECK(from_local_is(NY, 2026, 3, 8, 3, 0, S(1772953200)),
          "NY: 03:00 EDT on spring day");
    CHECK(from_local_is(NY, 2026, 3, 8, 2, 30, S(1772955000)),
          "NY: gap 02:30 → 03:30 EDT (pre-gap offset)");
    CHECK(from_local_is(NY, 2026, 3, 8, 2, 0, S(1772953200)),
          "NY: gap 02:00 → 03:00 EDT");
    CHECK(from_local_is(NY, 2026, 11, 1, 1, 30, S(1793511000)),
          "NY: repeated 01:30 → the earlier (EDT, 05:30 UTC)");
    CHECK(from_local_is(NY, 2026, 11, 1, 2, 0, S(1793516400)),
          "NY: 02:00 EST after fall");
    CHECK(from_local_is(BERLIN, 2026, 3, 29, 2, 30, S(1774747800)),
          "Berlin: gap 02:30 → 03:30 CEST");
    CHECK(from_local_is(BERLIN, 2026, 10, 25, 2, 30, S(1792888200)),
          "Berlin: repeated 02:30 → the earlier (CEST, 00:30 UTC)");
    CHECK(from_local_is(BERLIN, 2026, 10, 25, 3, 0, S(1792893600)), "Berlin: 03:00 CET");
    CHECK(from_local_is(KOLKATA, 2026, 6, 15, 10, 0, S(1781497800)),
          "Kolkata: 10:00 IST = 04:30 UTC");
    CHECK(from_local_is(KOLKATA, 2026, 3, 8, 2, 30, S(1772917200)),
          "Kolkata: 02:30 on the US spring day is an ordinary time");
    CHECK(from_local_is("UTC", 2028, 2, 29, 12, 0, S(1835438400)),
          "UTC: 2028-02-29 12:00");

    int64_t out = 0;
    CHECK(tz_from_local(NY, 2026, 2, 29, 12, 0, 0, &out) == -1, "2026-02-29 rejected");
    CHECK(tz_from_local(NY, 2026, 4, 31, 12, 0, 0, &out) == -1, "April 31 rejected");
    CHECK(tz_from_local(NY, 2026, 13, 1, 12, 0, 0, &out) == -1, "month 13 rejected");
    CHECK(tz_from_local(NY, 2026, 3, 8, 24, 0, 0, &out) == -1, "hour 24 rejected");
    CHECK(tz_from_local(NY, 2026, 3, 8, 12, 0, 60, &out) == -1, "second 60 rejected");
}

/* ---- next hh:mm ------------------------------------------------------------ */

static void test_next_time_of_day(void)
{
    /* Daily 10:00 across each change: 23 h after spring, 25 h after fall. */
    CHECK(next_is(NY, S(1772895600) + 1000, 10, 0, S(1772978400)),
          "NY: next 10:00 after spring");
    CHECK(S(1772978400) - S(1772895600) == 23 * HOUR_MS,
          "NY: spring 10:00s are 23 h apart");
    CHECK(next_is(NY, S(1793455200) + 1000, 10, 0, S(1793545200)),
          "NY: next 10:00 after fall");
    CHECK(S(1793545200) - S(1793455200) == 25 * HOUR_MS,
          "NY: fall 10:00s are 25 h apart");
    CHECK(next_is(BERLIN, S(1774688400) + 1000, 10, 0, S(1774771200)),
          "Berlin: next 10:00 after spring (23 h)");
    CHECK(next_is(BERLIN, S(1792828800) + 1000, 10, 0, S(1792918800)),
          "Berlin: next 10:00 after fall (25 h)");
    CHECK(next_is(KOLKATA, S(1772857800) + 1000, 10, 0, S(1772944200)),
          "Kolkata: next 10:00 is 24 h later");
    CHECK(next_is(NY, S(1772978400), 10, 0, S(1772978400)),
          "NY: exactly 10:00 is 'at or after'");
    CHECK(next_is(NY, S(1772946000), 10, 0, S(1772978400)),
          "NY: from midnight, today's 10:00");
    CHECK(next_is(NY, S(1772946000), 2, 30, S(1772953200)),
          "NY: 02:30 on the spring day is reached at the 03:00 EDT jump");
    CHECK(next_is(NY, S(1772953200) + 1000, 2, 30, S(1773037800)),
          "NY: just after the jump, 02:30 is tomorrow's (06:30 UTC Mar 9)");
    CHECK(next_is(NY, S(1793505600), 1, 30, S(1793511000)),
          "NY: fall 01:30, first the EDT one");
    CHECK(next_is(NY, S(1793511000) + 1000, 1, 30, S(1793514600)),
          "NY: fall 01:30, then the EST one");
    CHECK(next_is(BERLIN, S(1792879200), 2, 30, S(1792888200)),
          "Berlin: fall 02:30, first the CEST one");
    int64_t out;
    CHECK(tz_next_time_of_day(NY, 0, 24, 0, &out) == -1, "next: hour 24 rejected");
}

/* ---- quiet hours 21:00–09:00 ------------------------------------------------ */

/* A June night, no change: start (inside), inside, end - 1 s, end, outside. */
static void check_plain_night(const char *zone, int64_t start, int64_t end,
                              int64_t morning)
{
    char name[96];
    snprintf(name, sizeof name, "%s: quiet at 21:00 exactly (inside, ends 09:00)", zone);
    CHECK(quiet_is(zone, start, end), name);
    snprintf(name, sizeof name, "%s: quiet at 23:00", zone);
    CHECK(quiet_is(zone, start + 2 * HOUR_MS, end), name);
    snprintf(name, sizeof name, "%s: quiet at 08:59:59 (inside)", zone);
    CHECK(quiet_is(zone, end - 1000, end), name);
    snprintf(name, sizeof name, "%s: not quiet at 09:00 exactly", zone);
    CHECK(quiet_is(zone, end, 0), name);
    snprintf(name, sizeof name, "%s: not quiet at 20:59:59", zone);
    CHECK(quiet_is(zone, start - 1000, 0), name);
    snprintf(name, sizeof name, "%s: not quiet at 10:00", zone);
    CHECK(quiet_is(zone, morning, 0), name);
}

static void test_quiet_hours(void)
{
    check_plain_night(NY, S(1781571600), S(1781614800), S(1781532000));
    check_plain_night(BERLIN, S(1781550000), S(1781593200), S(1781510400));
    check_plain_night(KOLKATA, S(1781537400), S(1781580600), S(1781497800));
    /* Nights that span a change end at 09:00 of the new offset. */
    CHECK(quiet_is(NY, S(1772935200), S(1772974800)),
          "NY: spring night ends 09:00 EDT (11 h)");
    CHECK(quiet_is(NY, S(1772953200), S(1772974800)),
          "NY: at the spring jump, still quiet");
    CHECK(quiet_is(NY, S(1772974799), S(1772974800)), "NY: 08:59:59 EDT quiet");
    CHECK(quiet_is(NY, S(1772974800), 0), "NY: 09:00 EDT not quiet");
    CHECK(quiet_is(NY, S(1793494800), S(1793541600)),
          "NY: fall night ends 09:00 EST (13 h)");
    CHECK(quiet_is(NY, S(1793514600), S(1793541600)),
          "NY: repeated 01:30 EST still quiet");
    CHECK(quiet_is(NY, S(1793541600), 0), "NY: 09:00 EST not quiet");
    CHECK(quiet_is(BERLIN, S(1774728000), S(1774767600)),
          "Berlin: spring night ends 09:00 CEST");
    CHECK(quiet_is(BERLIN, S(1792868400), S(1792915200)),
          "Berlin: fall night ends 09:00 CET");
    CHECK(quiet_is(BERLIN, S(1792915200) - 1000, S(1792915200)),
          "Berlin: 08:59:59 CET quiet");

    int64_t end = 0;
    CHECK(tz_in_window(NY, S(1781532000), 9, 0, 17, 0, &end) == 1 && end == S(1781557200),
          "NY: day window 09:00–17:00 at 10:00 ends 17:00 EDT");
    CHECK(tz_in_window(NY, S(1781532000), 9, 0, 9, 0, &end) == 0,
          "empty window never quiet");
    CHECK(tz_in_window(NY, S(1781532000), 9, 0, 17, 0, NULL) == 1, "end_ms may be NULL");
    CHECK(tz_in_window(NY, S(1781532000), 21, 0, 9, 60, &end) == -1,
          "minute 60 rejected");
    /* Window 22:00–01:30 on the fall night: 01:45 EDT is after it, but the
     * clock falls back to 01:00 EST, which is inside again until 01:30 EST. */
    CHECK(tz_in_window(NY, S(1793511900), 22, 0, 1, 30, &end) == 0,
          "NY: 01:45 EDT outside");
    CHECK(tz_in_window(NY, S(1793512800), 22, 0, 1, 30, &end) == 1 &&
              end == S(1793514600),
          "NY: 01:00 EST inside again, ends 01:30 EST (not the past EDT one)");
}

/* ---- zone names and hh:mm -------------------------------------------------- */

static void test_zone_names(void)
{
    static const char *const bad[] = {
        "Mars/Olympus",
        "../etc/passwd",
        "",
        "/usr/share/zoneinfo/UTC",
        "America",
        "zone.tab",
        "tzdata.zi",
        "right/UTC",
        "America/New York",
        "America//New_York",
        "America/New_York/",
        "America/../Europe/Berlin",
        "Europe/Berlin\n",
        "EST5EDT,M3.2.0",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/UTC"};
    char name[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "zone rejected: \"%.60s\"", bad[i]);
        for (char *c = name; *c; c++)
            if (*c == '\n') *c = '~'; /* keep the result on one line */
        CHECK(!tz_valid(bad[i]), name);
    }
    CHECK(!tz_valid(NULL), "zone rejected: NULL");
    tz_local none;
    int64_t none_ms;
    CHECK(tz_to_local(NULL, S(1781532000), &none) == -1 &&
              tz_next_time_of_day(NULL, S(1781532000), 9, 0, &none_ms) == -1 &&
              tz_in_window(NULL, S(1781532000), 9, 0, 17, 0, NULL) == -1,
          "a NULL zone is an error for every lookup (not a cache hit)");
    CHECK(tz_valid(NY) && tz_valid(BERLIN) && tz_valid(KOLKATA),
          "the three test zones valid");
    CHECK(tz_valid("UTC") && tz_valid("Etc/GMT+5") && tz_valid("Etc/GMT-14"),
          "UTC, Etc/GMT±N");
    CHECK(tz_valid("America/Argentina/Buenos_Aires"), "three-part name valid");
    CHECK(tz_valid("US/Eastern"), "link name valid");
}

/* Every entry point refuses a bad zone instead of falling back to UTC. */
static void test_bad_zone_errors(void)
{
    tz_local l;
    int64_t out;
    CHECK(tz_to_local("Mars/Olympus", 0, &l) == -1,
          "tz_to_local: unknown zone is an error");
    CHECK(tz_from_local("../etc/passwd", 2026, 1, 1, 0, 0, 0, &out) == -1,
          "tz_from_local: bad zone is an error");
    CHECK(tz_next_time_of_day("", 0, 10, 0, &out) == -1,
          "tz_next_time_of_day: empty zone");
    CHECK(tz_in_window("Mars/Olympus", 0, 21, 0, 9, 0, &out) == -1,
          "tz_in_window: bad zone");
}

static int parses_hhmm(const char *text, int want_h, int want_m)
{
    int h = -1, m = -1;
    return tz_parse_hhmm(text, &h, &m) == 0 && h == want_h && m == want_m;
}

static void test_parse_hhmm(void)
{
    static const char *const bad[] = {
        "24:00", "9:60",  "10",    "ab:cd", "",      "10:0",  "10:000", "100:00",
        " 9:00", "9:00 ", "-1:00", ":30",   "10:5a", "10.00", "1:2:3",  "009:00"};
    char name[64];
    CHECK(parses_hhmm("10:00", 10, 0), "hhmm: 10:00");
    CHECK(parses_hhmm("9:05", 9, 5), "hhmm: 9:05");
    CHECK(parses_hhmm("00:00", 0, 0), "hhmm: 00:00");
    CHECK(parses_hhmm("23:59", 23, 59), "hhmm: 23:59");
    CHECK(parses_hhmm("07:30", 7, 30), "hhmm: 07:30");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int h, m;
        snprintf(name, sizeof name, "hhmm rejected: \"%s\"", bad[i]);
        CHECK(tz_parse_hhmm(bad[i], &h, &m) == -1, name);
    }
    int h, m;
    CHECK(tz_parse_hhmm(NULL, &h, &m) == -1, "hhmm rejected: NULL");
}

/* ---- the day cache against glibc, zones interleaved ------------------------ */

/* glibc's own reading of utc_ms in zone (sets TZ; tz.c copes with that). */
static struct tm glibc_local(const char *zone, int64_t utc_ms)
{
    char value[128];
    struct tm tm;
    time_t t = (time_t)(utc_ms / 1000);
    snprintf(value, sizeof value, ":/usr/share/zoneinfo/%s", zone);
    setenv("TZ", value, 1);
    tzset();
    localtime_r(&t, &tm);
    return tm;
}

static int same_as_glibc(const char *zone, int64_t utc_ms)
{
    tz_local l;
    int64_t end_ms = 0;
    int quiet = tz_in_window(zone, utc_ms, 21, 0, 9, 0, &end_ms);
    if (tz_to_local(zone, utc_ms, &l)) return 0;
    /* the window's end: 09:00:00 there, and the first one (within 13 hours) */
    struct tm e = glibc_local(zone, end_ms);
    int end_ok = !quiet || (e.tm_hour == 9 && e.tm_min == 0 && e.tm_sec == 0 &&
                            end_ms > utc_ms && end_ms - utc_ms <= 13 * 3600000);
    struct tm g = glibc_local(zone, utc_ms);
    int ok = l.year == g.tm_year + 1900 && l.month == g.tm_mon + 1 && l.day == g.tm_mday &&
             l.hour == g.tm_hour && l.minute == g.tm_min && l.second == g.tm_sec &&
             l.weekday == g.tm_wday && l.yearday == g.tm_yday &&
             l.utc_offset == g.tm_gmtoff && l.is_dst == (g.tm_isdst > 0) &&
             quiet == (g.tm_hour >= 21 || g.tm_hour < 9) && end_ok;
    if (!ok)
        printf("# %s %" PRId64 ": got %04d-%02d-%02d %02d:%02d:%02d wd %d yd %d off %d dst %d"
               " quiet %d end %" PRId64 "; glibc %02d:%02d off %ld dst %d\n",
               zone, utc_ms, l.year, l.month, l.day, l.hour, l.minute, l.second, l.weekday,
               l.yearday, l.utc_offset, l.is_dst, quiet, end_ms, g.tm_hour, g.tm_min, g.tm_gmtoff,
               g.tm_isdst);
    return ok;
}

/* Every 47 minutes and 13 seconds from 2025 to 2027, in zones taken in turn
 * (so each lookup finds another zone loaded), transition days included:
 * Lord Howe moves by 30 minutes, Santiago and Sydney in the south. */
static void test_matches_glibc(void)
{
    static const char *const zones[] = {NY,
                                        BERLIN,
                                        KOLKATA,
                                        "Australia/Lord_Howe",
                                        "America/Santiago",
                                        "Australia/Sydney",
                                        "UTC"};
    int n = (int)(sizeof zones / sizeof zones[0]), bad = 0, checked = 0;
    for (int64_t t = S(1735689600); t < S(1798761600) && bad < 5;
         t += 47 * 60000 + 13000, checked++)
        bad += !same_as_glibc(zones[checked % n], t);
    unsetenv("TZ");
    tzset();
    CHECK(bad == 0 && checked > 20000, "cached days read as glibc does, 3 years, 7 zones");
}

/* ---- the day cache holds a run's days ------------------------------------- */

/* The bench's eight zones over the 45 days from 2026-11-02 (no change in any
 * of them), taken in turn.  Once looked up, every day is answered again from
 * the cache: no lookup sets TZ (a miss would), and the offsets are the same. */
static void test_cache_holds_run(void)
{
    static const char *const zones[] = {"America/Chicago", "America/Denver",
                                        "America/Los_Angeles", NY, "Asia/Tokyo",
                                        "Australia/Sydney", BERLIN, "Europe/London"};
    enum { ZONES = sizeof zones / sizeof zones[0], DAYS = 45 };
    int offsets[ZONES][DAYS], same = 1;
    tz_local l;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) setenv("TZ", "UTC", 1);
        for (int day = 0; day < DAYS; day++)
            for (int z = 0; z < ZONES; z++) {
                int64_t at = S(1793577600) + (day * 24 + 12) * HOUR_MS;
                if (tz_to_local(zones[z], at, &l))
                    same = 0;
                else if (pass == 0)
                    offsets[z][day] = l.utc_offset;
                else
                    same &= offsets[z][day] == l.utc_offset;
            }
    }
    const char *now = getenv("TZ");
    CHECK(same && now && strcmp(now, "UTC") == 0,
          "day cache: 8 zones × 45 days, all answered again without a zone file");
    unsetenv("TZ");
    tzset();
}

/* ---- right whatever the process TZ says ----------------------------------- */

static void test_process_tz_kept(void)
{
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    CHECK(local_is(NY, S(1781524800), 8, 0, 0, -14400, 1),
          "NY reads right under TZ=Asia/Tokyo");
    unsetenv("TZ");
    tzset();
    CHECK(local_is(BERLIN, S(1781524800), 14, 0, 0, 7200, 1),
          "Berlin reads right, TZ unset");
    setenv("TZ", "UTC", 1);
    tzset();
    int64_t out;
    CHECK(tz_from_local("Mars/Olympus", 2026, 1, 1, 0, 0, 0, &out) == -1 &&
              strcmp(getenv("TZ"), "UTC") == 0,
          "a failed call leaves TZ alone");
    unsetenv("TZ");
    tzset();
}

/* ---- two threads at once ---------------------------------------------------- */

typedef struct hammer {
    const char *zone;
    int offset_winter, offset_summer; /* at 2026-01-15 and 2026-07-15 12:00 UTC */
    int hour_winter, hour_summer;
    int failures;
} hammer;

#define HAMMER_ROUNDS 1500

static void *hammer_run(void *arg)
{
    hammer *h = arg;
    tz_local l;
    int64_t back;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        int summer = i & 1;
        int64_t at = summer ? S(1784116800) : S(1768478400);
        if (tz_to_local(h->zone, at, &l) != 0 ||
            l.utc_offset != (summer ? h->offset_summer : h->offset_winter) ||
            l.hour != (summer ? h->hour_summer : h->hour_winter) ||
            l.minute != l.utc_offset / 60 % 60)
            h->failures++;
        else if (tz_from_local(h->zone, l.year, l.month, l.day, l.hour, l.minute, 0,
                               &back) ||
                 back != at)
            h->failures++;
    }
    return NULL;
}

static void test_threads(void)
{
    hammer work[] = {{NY, -18000, -14400, 7, 8, 0},
                     {BERLIN, 3600, 7200, 13, 14, 0},
                     {KOLKATA, 19800, 19800, 17, 17, 0},
                     {"UTC", 0, 0, 12, 12, 0}};
    pthread_t threads[4];
    int started = 0;
    for (int i = 0; i < 4; i++)
        if (pthread_create(&threads[i], NULL, hammer_run, &work[i]) == 0) started++;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    CHECK(started == 4, "threads: 4 started");
    char name[96];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "threads: %s right %d times in a row", work[i].zone,
                 HAMMER_ROUNDS);
        if (work[i].failures)
            printf("# %s: %d failures\n", work[i].zone, work[i].failures);
        CHECK(work[i].failures == 0, name);
    }
}

int main(void)
{
    test_offsets();
    test_from_local();
    test_next_time_of_day();
    test_quiet_hours();
    test_zone_names();
    test_bad_zone_errors();
    test_parse_hhmm();
    test_matches_glibc();
    test_cache_holds_run();
    test_process_tz_kept();
    test_threads();
    UNIT_DONE();
}
