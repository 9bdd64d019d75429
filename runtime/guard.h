/* Guardrails as plain decisions (SPEC §5): frequency caps and quiet hours
 * (and the settings of rate limits, which the sender applies).
 * Pure functions over numbers the caller supplies — message counts through
 * a callback, the person's time zone — so the send path can call them at
 * queue time and again at delivery time.  No SQLite, no Lua. */
#ifndef NUDGE_GUARD_H
#define NUDGE_GUARD_H
#include <stddef.h>
#include <stdint.h>

#define GUARD_CHANNEL_MAX 32 /* a channel name: [a-z0-9_], 1–31 bytes */
#define GUARD_RULES_MAX 32   /* caps, or quiet-hour entries, in one set */
#define GUARD_ALL "all"      /* the channel name that means every channel */

/* At most `count` messages on `channel` ("all": on all channels together)
 * in any rolling window of `window_ms`.  A message counts while
 * now - its time < window_ms, so exactly window_ms later it no longer
 * does.  A count of 0 blocks the channel. */
typedef struct guard_cap {
    char channel[GUARD_CHANNEL_MAX];
    int count;         /* >= 0 */
    int64_t window_ms; /* > 0 */
} guard_cap;

/* Quiet hours of `channel`: the daily local window [start, end), which may
 * wrap midnight (21:00–09:00).  An "all" entry applies to channels without
 * an entry of their own; enabled = 0 is an explicit "none" (sms = false),
 * which also shields the channel from an "all" entry. */
typedef struct guard_quiet {
    char channel[GUARD_CHANNEL_MAX];
    int enabled;
    int start_hour, start_minute, end_hour, end_minute;
} guard_quiet;

/* The rate limit of `channel` (channels = { sms = { rate = 10 } }): at
 * most `rate` messages a second, `burst` at once after a pause.  Applied
 * by the sender with a token bucket (bucket.h, deliver.h). */
typedef struct guard_rate {
    char channel[GUARD_CHANNEL_MAX];
    double rate;  /* messages per second, > 0 */
    double burst; /* >= 1; 0: the default, max(1, rate) */
} guard_rate;

/* How many of the person's messages count against a cap: those with a
 * time > after_ms, on `channel` (NULL: every channel), of `journey` (NULL:
 * every journey).  The caller decides what a counted message is (every
 * queued one: delivered, waiting or deferred; not capped, suppressed or
 * held-out ones) and must not count the message being checked.  >= 0, or
 * -1 on an error. */
typedef int64_t (*guard_count_fn)(void *ctx, const char *channel, const char *journey,
                                  int64_t after_ms);

typedef struct guard_counter {
    guard_count_fn count;
    void *ctx;
    int64_t now_ms;      /* the time of the message being checked */
    const char *journey; /* NULL: global caps; a name: that journey's caps */
} guard_counter;

typedef struct guard_verdict {
    int capped;      /* 1: a new message would exceed `cap` */
    guard_cap cap;   /* the cap that bites (when capped) */
    int64_t counted; /* messages already in its window */
    /* "sms 1/24h", "all 5/7d"; a journey's cap: "cart_abandonment: email 1/3d" */
    char reason[96];
} guard_verdict;

/* Would one more message on `channel` exceed a cap?  Checks the channel's
 * own caps first, then the "all" caps, stopping at the first that is
 * reached (count already >= the cap's count).  Returns 1 (capped, *out
 * names the cap), 0 (allowed, out->capped = 0), or -1 when a count failed.
 * Transactional messages skip caps: the caller does not call this. */
int guard_cap_check(const guard_cap *caps, int n, const char *channel,
                    const guard_counter *counter, guard_verdict *out);

/* Is `now_ms` inside `channel`'s quiet hours in `zone` (an IANA name)?
 * 1 with *defer_until_ms (may be NULL) set to the window's end: the next
 * local end time, DST-correct, always > now_ms; 0 when outside or when the
 * channel has no quiet hours (the zone is not looked at then); -1 for a
 * bad zone (fall back to the default zone and call again). */
int guard_quiet_check(const guard_quiet *q, int n, const char *channel, const char *zone,
                      int64_t now_ms, int64_t *defer_until_ms);

/* 1 when `channel` has quiet hours (its own entry or "all"), so the
 * caller need not look up the person's zone otherwise. */
int guard_quiet_active(const guard_quiet *q, int n, const char *channel);

/* Writes the default quiet hours (SMS 21:00–09:00) into `out` (room for
 * GUARD_RULES_MAX) and returns how many entries it wrote. */
int guard_quiet_defaults(guard_quiet *out);

/* 1 when `name` is a channel name a rule may carry: [a-z0-9_], 1–31 bytes
 * (as j:send accepts), "all" included. */
int guard_channel_valid(const char *name);

/* Writes a window as the largest units that add up to it, days only from
 * two days on: "24h", "36h", "7d", "2d12h", "1h30m", 90 s → "1m30s",
 * 1500 ms → "1s500ms". */
void guard_format_window(int64_t window_ms, char *buf, size_t len);

#endif
