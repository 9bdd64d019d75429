/* ISO-8601 time stamps and human durations ("30m", "3d"). */
#include "timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int parse_digits(const char **p, int count, int *out)
{
    int value = 0;
    for (int i = 0; i < count; i++, (*p)++) {
        if (!isdigit((unsigned char)**p)) return -1;
        value = value * 10 + (**p - '0');
    }
    *out = value;
    return 0;
}

/* Parses "Z", "+hh:mm", "+hhmm" or "+hh" into seconds east of UTC. */
static int parse_offset(const char *p, long *out_seconds)
{
    if (*p == 'Z' || *p == 'z') return p[1] ? -1 : (*out_seconds = 0, 0);
    if (*p != '+' && *p != '-') return -1;
    int sign = *p++ == '-' ? -1 : 1, hours, minutes = 0;
    if (parse_digits(&p, 2, &hours)) return -1;
    if (*p == ':') p++;
    if (*p && parse_digits(&p, 2, &minutes)) return -1;
    if (*p || hours > 23 || minutes > 59) return -1;
    *out_seconds = sign * (hours * 3600L + minutes * 60L);
    return 0;
}

int time_parse_iso8601(const char *text, int64_t *out_ms)
{
    const char *p = text;
    struct tm tm = {0};
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
    long offset = 0;
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &month) ||
        *p++ != '-' || parse_digits(&p, 2, &day))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &minute))
            return -1;
        if (*p == ':' && (p++, parse_digits(&p, 2, &second))) return -1;
        if (*p == '.' || *p == ',') {
            int scale = 100;
            for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
                millis += (*p - '0') * scale;
        }
        if (*p && parse_offset(p, &offset)) return -1;
    } else if (*p) {
        return -1;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60)
        return -1;
    tm.tm_year = year - 1900, tm.tm_mon = month - 1, tm.tm_mday = day;
    tm.tm_hour = hour, tm.tm_min = minute, tm.tm_sec = second;
    time_t t = timegm(&tm);
    if (tm.tm_mday != day) return -1; /* 31 February and friends */
    *out_ms = ((int64_t)t - offset) * 1000 + millis;
    return 0;
}

void time_format_iso8601(int64_t ms, char *buf)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int millis = (int)(ms - (int64_t)t * 1000);
    snprintf(buf, TIME_ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

static int64_t unit_ms(char unit)
{
    switch (unit) {
    case 's':
        return 1000;
    case 'm':
        return 60 * 1000;
    case 'h':
        return 3600 * 1000;
    case 'd':
        return 86400 * 1000LL;
    case 'w':
        return 7 * 86400 * 1000LL;
    default:
        return 0;
    }
}

/* Reads a decimal number made of digits and at most one '.' (no signs,
 * exponents or hex, which strtod alone would take). */
static int read_number(const char **p, double *value)
{
    char digits[32];
    size_t n = strspn(*p, "0123456789.");
    if (n == 0 || n >= sizeof digits) return -1;
    memcpy(digits, *p, n);
    digits[n] = 0;
    if (strchr(digits, '.') != strrchr(digits, '.') || !strcmp(digits, ".")) return -1;
    *value = strtod(digits, NULL);
    *p += n;
    return 0;
}

int duration_parse(const char *text, int64_t *out_ms)
{
    const char *p = text;
    double total = 0, value;
    int parts = 0;
    while (*p) {
        if (read_number(&p, &value)) return -1;
        int64_t scale = *p ? unit_ms(*p) : parts == 0 ? 1000 : 0;
        if (!scale) return -1;
        total += value * (double)scale;
        if (*p) p++;
        parts++;
    }
    if (parts == 0 || !isfinite(total) || total > 9.0e15) return -1;
    *out_ms = (int64_t)llround(total);
    return 0;
}

int64_t time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
