/* Frequency caps and quiet hours (runtime/guard.h): which cap a new message
 * would exceed, given counts from the caller, and whether the person's local
 * time is inside a channel's quiet hours, with the instant they end. */
#include "guard.h"

#include "tz.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- frequency caps ---------------------------------------------------- */

/* The reason text of a cap that bites: "sms 1/24h", "j: email 1/3d". */
static void describe_cap(const guard_cap *cap, const char *journey, char *buf, size_t len)
{
    char window[32];
    guard_format_window(cap->window_ms, window, sizeof window);
    if (journey)
        snprintf(buf, len, "%s: %s %d/%s", journey, cap->channel, cap->count, window);
    else
        snprintf(buf, len, "%s %d/%s", cap->channel, cap->count, window);
}

/* Checks one cap: 1 reached (fills *out), 0 not, -1 count failed. */
static int cap_reached(const guard_cap *cap, const guard_counter *counter,
                       guard_verdict *out)
{
    int all = strcmp(cap->channel, GUARD_ALL) == 0;
    int64_t counted = 0;
    if (cap->count > 0) {
        counted = counter->count(counter->ctx, all ? NULL : cap->channel,
                                 counter->journey, counter->now_ms - cap->window_ms);
        if (counted < 0) return -1;
        if (counted < cap->count) return 0;
    }
    out->capped = 1;
    out->cap = *cap;
    out->counted = counted;
    describe_cap(cap, counter->journey, out->reason, sizeof out->reason);
    return 1;
}

int guard_cap_check(const guard_cap *caps, int n, const char *channel,
                    const guard_counter *counter, guard_verdict *out)
{
    memset(out, 0, sizeof *out);
    /* Pass 0: the channel's own caps; pass 1: the caps over all channels. */
    for (int pass = 0; pass < 2; pass++) {
        const char *wanted = pass == 0 ? channel : GUARD_ALL;
        if (pass == 0 && strcmp(channel, GUARD_ALL) == 0) continue;
        for (int i = 0; i < n; i++) {
            if (strcmp(caps[i].channel, wanted)) continue;
            int rc = cap_reached(&caps[i], counter, out);
            if (rc) return rc;
        }
    }
    return 0;
}

/* ---- quiet hours -------------------------------------------------------- */

/* The channel's own entry, else the "all" entry, else NULL. */
static const guard_quiet *quiet_rule(const guard_quiet *q, int n, const char *channel)
{
    const guard_quiet *all = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(q[i].channel, channel) == 0) return &q[i];
        if (!all && strcmp(q[i].channel, GUARD_ALL) == 0) all = &q[i];
    }
    return all;
}

int guard_quiet_check(const guard_quiet *q, int n, const char *channel, const char *zone,
                      int64_t now_ms, int64_t *defer_until_ms)
{
    const guard_quiet *rule = quiet_rule(q, n, channel);
    int64_t end_ms = 0;
    if (!rule || !rule->enabled) return 0;
    int rc = tz_in_window(zone, now_ms, rule->start_hour, rule->start_minute,
                          rule->end_hour, rule->end_minute, &end_ms);
    if (rc == 1 && defer_until_ms) *defer_until_ms = end_ms;
    return rc;
}

int guard_quiet_active(const guard_quiet *q, int n, const char *channel)
{
    const guard_quiet *rule = quiet_rule(q, n, channel);
    return rule && rule->enabled;
}

int guard_quiet_defaults(guard_quiet *out)
{
    memset(&out[0], 0, sizeof out[0]);
    strcpy(out[0].channel, "sms");
    out[0].enabled = 1;
    out[0].start_hour = 21;
    out[0].end_hour = 9;
    return 1;
}

/* ---- names and windows -------------------------------------------------- */

int guard_channel_valid(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len > 0 && len < GUARD_CHANNEL_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == len;
}

void guard_format_window(int64_t window_ms, char *buf, size_t len)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    /* Days from two on: a day reads "24h", as caps are mostly written. */
    size_t used = 0, first = window_ms < 2 * units[0].ms ? 1 : 0;
    if (len) buf[0] = 0;
    for (size_t i = first; i < sizeof units / sizeof units[0] && used < len; i++) {
        int64_t amount = window_ms / units[i].ms;
        if (!amount) continue;
        window_ms -= amount * units[i].ms;
        int w = snprintf(buf + used, len - used, "%" PRId64 "%s", amount, units[i].unit);
        used += w > 0 ? (size_t)w : 0;
    }
    if (len && !buf[0]) snprintf(buf, len, "0s");
}
