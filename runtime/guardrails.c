/* The guardrails on the send path: the store-facing half (suppression,
 * consent, message counts) around the pure rules of guard.c and
 * consent.c.  See guardrails.h and docs/guardrails.md. */
#include "guardrails.h"

#include "consent.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int transactional(const guard_message *m)
{
    return m->purpose && !strcmp(m->purpose, "transactional");
}

static void set(guard_outcome *out, const char *status, const char *reason,
                const char *detail)
{
    out->status = status;
    snprintf(out->reason, sizeof out->reason, "%s", reason ? reason : "");
    snprintf(out->detail, sizeof out->detail, "%s", detail ? detail : "");
}

/* Suppression and consent, checked at queue and at delivery.  1 when they
 * stop the message (*out set), 0 when they let it pass, -1. */
static int blocked(store *s, const guard_config *g, const guard_message *m,
                   guard_outcome *out)
{
    char *why = store_suppression_reason(s, m->profile_id);
    if (why && !(transactional(m) && !strcmp(why, "forgotten"))) {
        set(out, "suppressed", why, NULL);
        return free(why), 1;
    }
    free(why);
    const char *purpose = transactional(m) ? "transactional" : "marketing";
    if (!consent_status(s, m->profile_id, m->channel, purpose, g->consent_default)) {
        set(out, "suppressed", "no_consent", purpose);
        return 1;
    }
    return 0;
}

/* Messages that count against caps: queued (later delivered or not) and
 * deferred ones, from the message log. */
typedef struct count_ctx {
    store *s;
    const char *profile_id;
} count_ctx;

static int64_t count_sent(void *ctx, const char *channel, const char *journey,
                          int64_t after_ms)
{
    count_ctx *c = ctx;
    return store_message_count(c->s, c->profile_id, channel, journey, after_ms);
}

/* The config's caps over all the person's messages, then the journey's
 * own over that journey's.  1 capped (*out set), 0 not, -1. */
static int capped(store *s, const guard_config *g, const guard_message *m,
                  guard_outcome *out)
{
    count_ctx ctx = {s, m->profile_id};
    guard_counter all = {count_sent, &ctx, m->now_ms, NULL};
    guard_counter own = {count_sent, &ctx, m->now_ms, m->journey};
    guard_verdict v;
    int rc =
        g->cap_count ? guard_cap_check(g->caps, g->cap_count, m->channel, &all, &v) : 0;
    if (!rc && m->journey_cap_count)
        rc = guard_cap_check(m->journey_caps, m->journey_cap_count, m->channel, &own, &v);
    if (rc == 1) set(out, "capped", "capped", v.reason);
    return rc;
}

/* Quiet hours, for every purpose (the spec exempts transactional messages
 * from consent and caps only).  1 deferred (*out set), 0 not, -1. */
static int quiet(const guard_config *g, const guard_message *m, guard_outcome *out)
{
    int64_t until;
    int rc = guard_quiet_check(g->quiet, g->quiet_count, m->channel, m->zone, m->now_ms,
                               &until);
    if (rc < 0) /* an unknown zone: the default's rules are UTC's */
        rc = guard_quiet_check(g->quiet, g->quiet_count, m->channel, "UTC", m->now_ms,
                               &until);
    if (rc != 1) return rc < 0 ? -1 : 0;
    char at[TIME_ISO_LEN];
    time_format_iso8601(until, at);
    out->not_before_ms = until;
    set(out, "deferred", "quiet_hours", at);
    return 1;
}

int guardrails_at_queue(store *s, const guard_config *g, const guard_message *m,
                        guard_outcome *out)
{
    memset(out, 0, sizeof *out);
    int rc = blocked(s, g, m, out);
    if (rc) return rc < 0 ? -1 : 0;
    if (!transactional(m) && (rc = capped(s, g, m, out))) return rc < 0 ? -1 : 0;
    if ((rc = quiet(g, m, out))) return rc < 0 ? -1 : 0;
    set(out, "queued", NULL, NULL);
    return 0;
}

int guardrails_at_delivery(store *s, const guard_config *g, const guard_message *m,
                           guard_outcome *out)
{
    memset(out, 0, sizeof *out);
    int rc = blocked(s, g, m, out);
    if (!rc) set(out, "queued", NULL, NULL);
    return rc < 0 ? -1 : 0;
}
