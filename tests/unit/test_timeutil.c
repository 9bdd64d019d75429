/* Unit tests for runtime/timeutil.h: ISO-8601 time stamps (parse, format,
 * round trip) and human durations ("30m", "1h30m", plain seconds). */
#include "timeutil.h"

#include "unit.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>

#define T_2026_11_02_1500Z INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */
#define T_2026_11_02 INT64_C(1793577600000)       /* 2026-11-02T00:00:00Z */
#define T_2024_02_29 INT64_C(1709164800000)       /* 2024-02-29T00:00:00Z */

/* Parses `text`; 1 when it parses to `want` ms. */
static int parses_to(const char *text, int64_t want)
{
    int64_t got = INT64_MIN;
    if (time_parse_iso8601(text, &got) != 0) {
        printf("# %s: rejected\n", text);
        return 0;
    }
    if (got != want) printf("# %s: got %" PRId64 ", want %" PRId64 "\n", text, got, want);
    return got == want;
}

static int rejected(const char *text)
{
    int64_t got = 0;
    int rc = time_parse_iso8601(text, &got);
    if (rc != -1) printf("# %s: accepted as %" PRId64 " (rc %d)\n", text, got, rc);
    return rc == -1;
}

static void test_parse(void)
{
    CHECK(parses_to("2026-11-02T15:00:00Z", T_2026_11_02_1500Z), "parse: Z");
    CHECK(parses_to("2026-11-02t15:00:00z", T_2026_11_02_1500Z),
          "parse: lower-case t and z");
    CHECK(parses_to("2026-11-02T15:00:00.123Z", T_2026_11_02_1500Z + 123),
          "parse: fractional seconds .123");
    CHECK(parses_to("2026-11-02T15:00:00.5Z", T_2026_11_02_1500Z + 500),
          "parse: fractional seconds .5 is 500 ms");
    CHECK(parses_to("2026-11-02T15:00:00.123456Z", T_2026_11_02_1500Z + 123),
          "parse: microseconds are cut to milliseconds");
    CHECK(parses_to("2026-11-02T17:00:00+02:00", T_2026_11_02_1500Z),
          "parse: +02:00 offset");
    CHECK(parses_to("2026-11-02T09:30:00-0530", T_2026_11_02_1500Z),
          "parse: -0530 offset");
    CHECK(parses_to("2026-11-02T17:00:00.250+02:00", T_2026_11_02_1500Z + 250),
          "parse: fraction with an offset");
    CHECK(parses_to("2026-11-02T03:00:00-12:00", T_2026_11_02_1500Z),
          "parse: offset crossing the day");
    CHECK(parses_to("2026-11-02", T_2026_11_02), "parse: date only is midnight UTC");
    CHECK(parses_to("2026-11-02T15:00Z", T_2026_11_02_1500Z),
          "parse: seconds may be left out");
    CHECK(parses_to("2024-02-29", T_2024_02_29), "parse: 29 February of a leap year");
    CHECK(parses_to("1970-01-01T00:00:00Z", 0), "parse: the epoch is 0");
    CHECK(parses_to("1969-12-31T23:59:59.999Z", -1), "parse: before the epoch");

    CHECK(rejected("2026-02-30"), "parse: rejects 2026-02-30");
    CHECK(rejected("2025-02-29"), "parse: rejects 29 February of a common year");
    CHECK(rejected("2026-04-31T00:00:00Z"), "parse: rejects 31 April");
    CHECK(rejected("2026-13-01"), "parse: rejects month 13");
    CHECK(rejected("2026-00-10"), "parse: rejects month 0");
    CHECK(rejected("2026-11-00"), "parse: rejects day 0");
    CHECK(rejected("2026-11-02T24:00:00Z"), "parse: rejects hour 24");
    CHECK(rejected("2026-11-02T15:60:00Z"), "parse: rejects minute 60");
    CHECK(rejected("garbage"), "parse: rejects garbage");
    CHECK(rejected(""), "parse: rejects the empty string");
    CHECK(rejected("2026-11-02junk"), "parse: rejects trailing junk after a date");
    CHECK(rejected("2026-11-02T15:00:00Zjunk"), "parse: rejects trailing junk after Z");
    CHECK(rejected("2026-11-02T15:00:00+02:00x"),
          "parse: rejects trailing junk after an offset");
    CHECK(rejected("2026-11-02T15:00:00 junk"), "parse: rejects a trailing word");
    CHECK(rejected("2026-11-02T15"), "parse: rejects an hour without minutes");
    CHECK(rejected("2026-11-02T15:00:00+25:00"), "parse: rejects offset +25:00");
    CHECK(rejected("26-11-02"), "parse: rejects a two-digit year");
}

static int round_trips(int64_t ms, const char *want_text)
{
    char buf[TIME_ISO_LEN];
    int64_t back = INT64_MIN;
    memset(buf, 'X', sizeof buf);
    time_format_iso8601(ms, buf);
    if (want_text && strcmp(buf, want_text) != 0) {
        printf("# format %" PRId64 ": got \"%.*s\", want \"%s\"\n", ms, TIME_ISO_LEN, buf,
               want_text);
        return 0;
    }
    if (time_parse_iso8601(buf, &back) != 0 || back != ms) {
        printf("# %s parses back to %" PRId64 ", want %" PRId64 "\n", buf, back, ms);
        return 0;
    }
    return 1;
}

static void test_format(void)
{
    char buf[TIME_ISO_LEN];
    time_format_iso8601(T_2026_11_02_1500Z + 123, buf);
    CHECK_STR(buf, "2026-11-02T15:00:00.123Z", "format: milliseconds and Z");
    time_format_iso8601(0, buf);
    CHECK_STR(buf, "1970-01-01T00:00:00.000Z", "format: the epoch");
    time_format_iso8601(-1, buf);
    CHECK_STR(buf, "1969-12-31T23:59:59.999Z", "format: one ms before the epoch");

    CHECK(round_trips(T_2026_11_02_1500Z, "2026-11-02T15:00:00.000Z"),
          "round trip: 2026-11-02");
    CHECK(round_trips(T_2024_02_29 + 86399999, "2024-02-29T23:59:59.999Z"),
          "round trip: last ms of a leap day");
    CHECK(round_trips(-1001, "1969-12-31T23:59:58.999Z"), "round trip: -1001 ms");
    CHECK(round_trips(INT64_C(4102444799999), "2099-12-31T23:59:59.999Z"),
          "round trip: end of 2099");
    int all = 1;
    for (int64_t ms = -86400000; ms < INT64_C(4102444800000);
         ms += INT64_C(86400000) * 97 + 7919)
        all &= round_trips(ms, NULL);
    CHECK(all, "round trip: a sweep of instants from 1969 to 2099");
}

static int duration_is(const char *text, int64_t want)
{
    int64_t got = INT64_MIN;
    int rc = duration_parse(text, &got);
    if (rc != 0 || got != want)
        printf("# duration \"%s\": rc %d, got %" PRId64 ", want %" PRId64 "\n", text, rc,
               got, want);
    return rc == 0 && got == want;
}

static int duration_rejected(const char *text)
{
    int64_t got = INT64_MIN;
    int rc = duration_parse(text, &got);
    if (rc != -1) printf("# duration \"%s\": accepted as %" PRId64 "\n", text, got);
    return rc == -1;
}

static void test_duration(void)
{
    CHECK(duration_is("90s", 90000), "duration: 90s");
    CHECK(duration_is("30m", 30 * 60000), "duration: 30m");
    CHECK(duration_is("24h", INT64_C(24) * 3600000), "duration: 24h");
    CHECK(duration_is("3d", INT64_C(3) * 86400000), "duration: 3d");
    CHECK(duration_is("2w", INT64_C(14) * 86400000), "duration: 2w");
    CHECK(duration_is("1h30m", 90 * 60000), "duration: 1h30m");
    CHECK(duration_is("1d12h", INT64_C(36) * 3600000), "duration: 1d12h");
    CHECK(duration_is("45", 45000), "duration: 45 is plain seconds");
    CHECK(duration_is("1.5", 1500), "duration: 1.5 is 1500 ms");
    CHECK(duration_is("0", 0), "duration: 0");
    CHECK(duration_is("1.5h", 90 * 60000), "duration: 1.5h");
    CHECK(duration_rejected(""), "duration: rejects the empty string");
    CHECK(duration_rejected("5x"), "duration: rejects an unknown unit 5x");
    CHECK(duration_rejected("-3m"), "duration: rejects a negative -3m");
    CHECK(duration_rejected("-45"), "duration: rejects negative plain seconds");
    CHECK(duration_rejected("m"), "duration: rejects a unit alone");
    CHECK(duration_rejected("30m5"), "duration: rejects a number after a unit");
    CHECK(duration_rejected("3d "), "duration: rejects a trailing space");
    CHECK(duration_rejected("1e300"),
          "duration: rejects plain seconds too large for int64 ms");
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    test_parse();
    test_format();
    test_duration();
    UNIT_DONE();
}
