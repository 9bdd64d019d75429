/* Time zones over the system tz database.  glibc has no per-call zone API,
 * so a lookup sets TZ, runs tzset() + localtime_r under one mutex; wall
 * clock → UTC is solved here, not by mktime.  glibc holds one zone at a
 * time, so people in eight zones would load a zone file per call: UTC days
 * with a single offset are kept per zone (see day_cache). */
#include "tz.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
#define DAY_SECONDS 86400

/* Guards TZ, tzset() and localtime_r: held from zone_enter to zone_leave.
 * TZ stays set to the last zone used (nothing else in nudge reads local
 * time), so that a run of calls in one zone loads its file once. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* Zone names already found valid, so a name's file is checked once. */
#define KNOWN_ZONES 128
static char known_zones[KNOWN_ZONES][TZ_NAME_MAX + 1];
static int known_count;
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct zone_guard {
    int unused;
} zone_guard;

/* ---- names ------------------------------------------------------------ */

static int zone_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '/' || c == '_' || c == '+' || c == '-';
}

/* Syntax only: [A-Za-z0-9/_+-], relative, no empty component, no "..", and
 * not the "right/" zones (they count leap seconds, unlike Unix time). */
static int zone_name_ok(const char *zone)
{
    size_t len = strlen(zone);
    if (len == 0 || len > TZ_NAME_MAX || zone[0] == '/' || zone[len - 1] == '/') return 0;
    if (strstr(zone, "//") || strstr(zone, "..") || strncmp(zone, "right/", 6) == 0)
        return 0;
    for (const char *p = zone; *p; p++)
        if (!zone_char_ok(*p)) return 0;
    return 1;
}

/* 1 when `path` is a regular file starting with the TZif magic (so not a
 * directory such as "America", nor "zone.tab" or "tzdata.zi"). */
static int is_tzif_file(const char *path)
{
    char magic[4];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ok = 0;
    if (fd < 0) return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        read(fd, magic, sizeof magic) == (ssize_t)sizeof magic)
        ok = memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

static int known(const char *zone)
{
    pthread_mutex_lock(&known_lock);
    int found = 0;
    for (int i = 0; i < known_count && !found; i++)
        found = !strcmp(known_zones[i], zone);
    pthread_mutex_unlock(&known_lock);
    return found;
}

static void remember(const char *zone)
{
    pthread_mutex_lock(&known_lock);
    if (known_count < KNOWN_ZONES)
        snprintf(known_zones[known_count++], TZ_NAME_MAX + 1, "%s", zone);
    pthread_mutex_unlock(&known_lock);
}

int tz_valid(const char *zone)
{
    char path[sizeof ZONEINFO_DIR + TZ_NAME_MAX];
    if (!zone || !zone_name_ok(zone)) return 0;
    if (known(zone)) return 1;
    snprintf(path, sizeof path, "%s%s", ZONEINFO_DIR, zone);
    if (!is_tzif_file(path)) return 0;
    remember(zone);
    return 1;
}

/* ---- entering and leaving a zone ---------------------------------------- */

/* Validates `zone`, takes the lock and makes it the process zone.  The TZ
 * value is the file's absolute path, so glibc loads the file we checked
 * whatever TZDIR says.  0 (lock held), or -1 (lock not held). */
static int zone_enter(const char *zone, zone_guard *guard)
{
    char value[sizeof ZONEINFO_DIR + TZ_NAME_MAX + 1];
    (void)guard;
    if (!tz_valid(zone)) return -1;
    snprintf(value, sizeof value, ":%s%s", ZONEINFO_DIR, zone);
    pthread_mutex_lock(&tz_lock);
    const char *now = getenv("TZ"); /* someone else may have changed it */
    if (!now || strcmp(now, value)) {
        if (setenv("TZ", value, 1) != 0) {
            pthread_mutex_unlock(&tz_lock);
            return -1;
        }
        tzset();
    }
    return 0;
}

/* Releases the lock; TZ stays (see tz_lock). */
static void zone_leave(zone_guard *guard)
{
    (void)guard;
    pthread_mutex_unlock(&tz_lock);
}

/* ---- calendar arithmetic (proleptic Gregorian, H. Hinnant's algorithms) -- */

static int64_t days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_index = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * month_index + 2) / 5 + 1);
    *month = (int)(month_index < 10 ? month_index + 3 : month_index - 9);
    *year = (int)(year_of_era + era * 400 + (*month <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

static time_t seconds_floor(int64_t ms)
{
    return (time_t)floor_div(ms, 1000);
}

/* ---- whole UTC days with one offset, per zone (under tz_lock) ----------- */

/* A day is kept when its first and last second have the same offset and
 * DST flag: with at most one transition a day (wall_resolve's assumption
 * too), the whole day then has them.  Transition days are never kept. */
typedef struct day_offset {
    char zone[TZ_NAME_MAX + 1];
    int64_t day;
    long offset;
    int is_dst, used;
} day_offset;

/* 2,048 sets of two (384 KiB, pages never touched stay unmapped).  A zone's
 * days take consecutive sets from its name's hash, so the days a run looks
 * up (8 zones × 45 days in the bench) rarely meet three to a set. */
#define DAY_SETS 2048
#define DAY_WAYS 2
static day_offset day_cache[DAY_SETS][DAY_WAYS];
_Static_assert(sizeof day_cache <= 512 * 1024, "day_cache stays small");

static day_offset *day_set(const char *zone, int64_t day)
{
    uint32_t h = 2166136261u; /* FNV-1a over the name, high bits folded in */
    for (const char *p = zone; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h ^= h >> 15;
    return day_cache[(h + (uint64_t)day) % DAY_SETS];
}

/* A hit moves to the set's first way, so the way replaced is the least
 * recently used one. */
static int day_cached(const char *zone, int64_t day, long *offset, int *is_dst)
{
    day_offset *set = day_set(zone, day);
    for (int way = 0; way < DAY_WAYS; way++) {
        if (!set[way].used || set[way].day != day || strcmp(set[way].zone, zone))
            continue;
        day_offset hit = set[way];
        memmove(&set[1], &set[0], (size_t)way * sizeof set[0]);
        set[0] = hit;
        *offset = hit.offset;
        *is_dst = hit.is_dst;
        return 1;
    }
    return 0;
}

/* The zone is entered (lock held).  1 when the day was kept, in the set's
 * first way (the others move down one, the last one leaves). */
static int day_remember(const char *zone, int64_t day)
{
    struct tm first, last;
    time_t start = (time_t)(day * DAY_SECONDS), end = start + DAY_SECONDS - 1;
    if (!localtime_r(&start, &first) || !localtime_r(&end, &last) ||
        first.tm_gmtoff != last.tm_gmtoff || (first.tm_isdst > 0) != (last.tm_isdst > 0))
        return 0;
    day_offset *set = day_set(zone, day);
    memmove(&set[1], &set[0], (DAY_WAYS - 1) * sizeof set[0]);
    set[0] = (day_offset){
        .day = day, .offset = first.tm_gmtoff, .is_dst = first.tm_isdst > 0, .used = 1};
    snprintf(set[0].zone, sizeof set[0].zone, "%s", zone);
    return 1;
}

/* ---- lookups in the current zone (lock held) ---------------------------- */

static int offset_at(time_t t, long *offset)
{
    struct tm tm;
    if (!localtime_r(&t, &tm)) return -1;
    *offset = tm.tm_gmtoff;
    return 0;
}

/* The first instant in (lo, hi] whose offset differs from the one at lo;
 * the caller knows the offset at hi differs. */
static int transition_between(time_t lo, time_t hi, time_t *out)
{
    long lo_offset, offset;
    if (offset_at(lo, &lo_offset)) return -1;
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;
        if (offset_at(mid, &offset)) return -1;
        if (offset == lo_offset)
            lo = mid;
        else
            hi = mid;
    }
    *out = hi;
    return 0;
}

/* The instants at which the local clock reads `wall` (local seconds since
 * 1970-01-01 00:00, counted as if UTC).  Returns 0 with *earlier == *later
 * for a normal time, or the two instants of a repeated (fall-back) time.
 * Returns 1 for a time in a spring-forward gap: *earlier is the transition
 * instant (the clock jumps over `wall`), *later is `wall` read with the
 * offset before the gap.  Assumes at most one transition within ±1 day. */
static int wall_resolve(int64_t wall, time_t *earlier, time_t *later)
{
    long before, after, offset;
    if (offset_at(wall - DAY_SECONDS, &before) || offset_at(wall + DAY_SECONDS, &after))
        return -1;
    time_t with_before = wall - before, with_after = wall - after;
    int before_ok = offset_at(with_before, &offset) == 0 && offset == before;
    int after_ok = offset_at(with_after, &offset) == 0 && offset == after;
    if (before_ok && after_ok) {
        *earlier = with_before < with_after ? with_before : with_after;
        *later = with_before < with_after ? with_after : with_before;
        return 0;
    }
    if (before_ok || after_ok || after <= before) {
        *earlier = *later = after_ok && !before_ok ? with_after : with_before;
        return 0;
    }
    *later = with_before;
    return transition_between(with_after, with_before, earlier) ? -1 : 1;
}

/* The first instant at or after now_ms at which the local clock reads
 * hour:minute (a gap time: when the clock jumps over it). */
static int next_wall_time(int64_t now_ms, int hour, int minute, int64_t *out_ms)
{
    struct tm tm;
    time_t now = seconds_floor(now_ms), at[2];
    if (!localtime_r(&now, &tm)) return -1;
    int64_t today = days_from_civil(tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday);
    for (int64_t day = today; day < today + 3; day++) {
        int rc =
            wall_resolve(day * DAY_SECONDS + hour * 3600 + minute * 60, &at[0], &at[1]);
        if (rc < 0) return -1;
        for (int i = 0; i < (rc == 1 ? 1 : 2); i++) {
            if ((int64_t)at[i] * 1000 >= now_ms) {
                *out_ms = (int64_t)at[i] * 1000;
                return 0;
            }
        }
    }
    return -1;
}

/* ---- public API ------------------------------------------------------- */

/* The offset (seconds east of UTC) and DST flag of `t` in `zone`, from
 * day_cache when the day is there.  1 when t's whole UTC day has that
 * offset, 0 when it may not (a transition day), -1 for a bad zone. */
static int zone_offset(const char *zone, time_t t, long *offset, int *is_dst)
{
    zone_guard guard;
    struct tm tm;
    int64_t day = floor_div(t, DAY_SECONDS);
    pthread_mutex_lock(&tz_lock);
    int hit = zone && day_cached(zone, day, offset, is_dst); /* only valid zones are kept */
    pthread_mutex_unlock(&tz_lock);
    if (hit) return 1;
    if (zone_enter(zone, &guard)) return -1;
    int ok = localtime_r(&t, &tm) != NULL, uniform = ok && day_remember(zone, day);
    zone_leave(&guard);
    if (!ok) return -1;
    *offset = tm.tm_gmtoff;
    *is_dst = tm.tm_isdst > 0;
    return uniform;
}

/* tz_next_time_of_day without the zone file: when the days of now and of
 * the answer both have one offset, the same, no transition lies between
 * (the answer is within a day).  1 when answered, 0 to take the long way. */
static int next_time_same_offset(const char *zone, int64_t utc_ms, int hour, int minute,
                                 int64_t *out_ms)
{
    long offset, later_offset;
    int is_dst;
    time_t now = seconds_floor(utc_ms);
    if (zone_offset(zone, now, &offset, &is_dst) != 1) return 0;
    int64_t local_day = floor_div(now + offset, DAY_SECONDS);
    int64_t at = local_day * DAY_SECONDS + hour * 3600 + minute * 60 - offset;
    if (at * 1000 < utc_ms) at += DAY_SECONDS;
    if (zone_offset(zone, (time_t)at, &later_offset, &is_dst) != 1 || later_offset != offset)
        return 0;
    *out_ms = at * 1000;
    return 1;
}

int tz_to_local(const char *zone, int64_t utc_ms, tz_local *out)
{
    long offset;
    int is_dst, year, month, day;
    if (zone_offset(zone, seconds_floor(utc_ms), &offset, &is_dst) < 0) return -1;
    int64_t local = seconds_floor(utc_ms) + offset, days = floor_div(local, DAY_SECONDS);
    int second_of_day = (int)(local - days * DAY_SECONDS);
    civil_from_days(days, &year, &month, &day);
    *out = (tz_local){.year = year,
                      .month = month,
                      .day = day,
                      .hour = second_of_day / 3600,
                      .minute = second_of_day / 60 % 60,
                      .second = second_of_day % 60,
                      .weekday = (int)((days % 7 + 11) % 7), /* 1970-01-01 was a Thursday */
                      .yearday = (int)(days - days_from_civil(year, 1, 1)),
                      .utc_offset = (int)offset,
                      .is_dst = is_dst};
    return 0;
}

int tz_from_local(const char *zone, int year, int month, int day, int hour, int minute,
                  int second, int64_t *utc_ms)
{
    int check_year, check_month, check_day;
    zone_guard guard;
    time_t earlier, later;
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return -1;
    int64_t days = days_from_civil(year, month, day);
    civil_from_days(days, &check_year, &check_month, &check_day);
    if (check_month != month || check_day != day) return -1; /* 31 April, 29 Feb 2026 */
    if (zone_enter(zone, &guard)) return -1;
    int rc = wall_resolve(days * DAY_SECONDS + hour * 3600 + minute * 60 + second,
                          &earlier, &later);
    zone_leave(&guard);
    if (rc < 0) return -1;
    *utc_ms = (int64_t)(rc == 1 ? later : earlier) * 1000;
    return 0;
}

int tz_next_time_of_day(const char *zone, int64_t utc_ms, int hour, int minute,
                        int64_t *out_ms)
{
    zone_guard guard;
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return -1;
    if (next_time_same_offset(zone, utc_ms, hour, minute, out_ms)) return 0;
    if (zone_enter(zone, &guard)) return -1;
    int rc = next_wall_time(utc_ms, hour, minute, out_ms);
    zone_leave(&guard);
    return rc;
}

int tz_in_window(const char *zone, int64_t utc_ms, int start_h, int start_m, int end_h,
                 int end_m, int64_t *end_ms)
{
    long offset;
    int is_dst;
    time_t now = seconds_floor(utc_ms);
    if (start_h < 0 || start_h > 23 || start_m < 0 || start_m > 59 || end_h < 0 ||
        end_h > 23 || end_m < 0 || end_m > 59)
        return -1;
    int start = start_h * 3600 + start_m * 60, end = end_h * 3600 + end_m * 60;
    if (zone_offset(zone, now, &offset, &is_dst) < 0) return -1;
    int64_t local = now + offset;
    int time_of_day = (int)(local - floor_div(local, DAY_SECONDS) * DAY_SECONDS);
    int rc = start < end ? time_of_day >= start && time_of_day < end
                         : start > end && (time_of_day >= start || time_of_day < end);
    if (rc == 1 && end_ms && tz_next_time_of_day(zone, utc_ms, end_h, end_m, end_ms))
        rc = -1;
    return rc;
}

int tz_parse_hhmm(const char *text, int *hour, int *minute)
{
    const char *p = text;
    int h = 0, digits = 0;
    if (!text) return -1;
    for (; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
        h = h * 10 + (*p - '0');
    if (digits < 1 || digits > 2 || *p != ':') return -1;
    if (!(p[1] >= '0' && p[1] <= '5') || !(p[2] >= '0' && p[2] <= '9') || p[3]) return -1;
    if (h > 23) return -1;
    *hour = h;
    *minute = (p[1] - '0') * 10 + (p[2] - '0');
    return 0;
}
