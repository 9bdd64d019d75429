/* Time stamps and durations.  Times are int64 milliseconds since the Unix
 * epoch (UTC); durations are int64 milliseconds. */
#ifndef NUDGE_TIMEUTIL_H
#define NUDGE_TIMEUTIL_H
#include <stdint.h>

#define TIME_ISO_LEN 64

/* Parses ISO-8601 / RFC 3339 ("2026-11-02T15:00:00Z", fractional seconds,
 * "+02:00" offsets, or a date alone).  Returns 0, or -1 if malformed. */
int time_parse_iso8601(const char *text, int64_t *out_ms);

/* Writes "2026-11-02T15:00:00.000Z" into buf (TIME_ISO_LEN bytes). */
void time_format_iso8601(int64_t ms, char *buf);

/* Parses "90s", "30m", "24h", "3d", "2w", "1h30m", or plain seconds
 * ("45", "1.5").  Returns 0, or -1 if malformed or negative. */
int duration_parse(const char *text, int64_t *out_ms);

/* Wall clock now, and a monotonic clock for budgets. */
int64_t time_wall_ms(void);
int64_t time_mono_ns(void);
/* CPU time used by the calling thread, for the recipe CPU budget. */
int64_t time_thread_cpu_ns(void);

#endif
