/* Time zones: local calendar time, wall clock → UTC, "next 10:00" and quiet
 * hours in an IANA zone ("America/New_York"), read from the system tz
 * database (/usr/share/zoneinfo, Debian package tzdata) through the C
 * library.  Thread-safe.  The calls leave the process's TZ set to the last
 * zone used (so a run of calls in one zone loads its file once): nothing
 * else in nudge reads local time. */
#ifndef NUDGE_TZ_H
#define NUDGE_TZ_H
#include <stdint.h>

/* Longest zone name accepted (the longest IANA name is ~30 bytes). */
#define TZ_NAME_MAX 64

/* Local calendar time: like struct tm but month 1–12, year in full,
 * weekday 0 = Sunday, yearday 0–365, utc_offset in seconds east of UTC. */
typedef struct tz_local {
    int year, month, day, hour, minute, second, weekday, yearday, utc_offset, is_dst;
} tz_local;

/* 1 when `zone` is a well-formed IANA name ([A-Za-z0-9/_+-], no empty
 * component, not absolute, not "right/…") naming a TZif file under
 * /usr/share/zoneinfo; else 0.  Unknown zones never fall back to UTC. */
int tz_valid(const char *zone);

/* The local calendar time of `utc_ms` in `zone`.  0, or -1 (bad zone). */
int tz_to_local(const char *zone, int64_t utc_ms, tz_local *out);

/* The UTC instant of a local wall-clock time in `zone`.  A time that exists
 * twice (fall back) maps to the earlier instant.  A time that does not exist
 * (spring-forward gap) is read with the offset in force before the gap, so
 * it lands after the gap at the same distance: 02:30 on the US spring day
 * → 03:30 EDT (as glibc mktime does).  0, or -1 (bad zone or field). */
int tz_from_local(const char *zone, int year, int month, int day, int hour, int minute,
                  int second, int64_t *utc_ms);

/* The first instant at or after `utc_ms` at which the local wall clock in
 * `zone` reads hour:minute — today if not yet passed, else tomorrow.  On a
 * fall-back day a time in the repeated hour can be returned twice (first
 * the earlier, then, once that has passed, the later instant).  A time in
 * the spring-forward gap is reached when the clock jumps over it: 02:30 →
 * the 03:00 EDT transition instant.  0, or -1. */
int tz_next_time_of_day(const char *zone, int64_t utc_ms, int hour, int minute,
                        int64_t *out_ms);

/* Quiet hours: 1 when the local time of day of `utc_ms` in `zone` lies in
 * the daily window [start, end) (it may wrap midnight, e.g. 21:00–09:00),
 * with *end_ms (may be NULL) set to the instant the window ends, always
 * > utc_ms, DST-correct (the end is the next local end time, found as in
 * tz_next_time_of_day).  0 when outside or when start == end (an empty
 * window); -1 on a bad zone or time. */
int tz_in_window(const char *zone, int64_t utc_ms, int start_h, int start_m, int end_h,
                 int end_m, int64_t *end_ms);

/* Parses "10:00" or "9:05" (hour 0–23, minute exactly two digits 00–59,
 * nothing else) into hour and minute.  0, or -1 if malformed. */
int tz_parse_hhmm(const char *text, int *hour, int *minute);

#endif
