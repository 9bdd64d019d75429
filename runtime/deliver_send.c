/* The senders' half of delivery: each message of a batch that belongs to
 * an adapter's channel is composed, turned into a request by its adapter,
 * run on the libcurl multi sender, judged, and its outcome committed with
 * the others of the same round.  A message whose outcome was not yet
 * committed when the process died is still "sending" and is sent again,
 * with the same Idempotency-Key (and SMTP Message-ID). */
#include "deliver_internal.h"

#include "log.h"
#include "timeutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One message on its way. */
typedef struct pending {
    outbox_message *m;
    int channel; /* index into the senders' channels */
    composed parts;
    adapter_message am;
} pending;

typedef struct round {
    deliver_senders *d;
    store *s;
    pending *pendings;
    deliver_counts *counts;
    int failed; /* a store error */
} round;

static int channel_index(const deliver_senders *d, const char *channel)
{
    for (int i = 0; d && i < d->channel_count; i++)
        if (!strcmp(d->channels[i].name, channel)) return i;
    return -1;
}

void deliver_senders_set_clock(deliver_senders *d, int64_t now_ms)
{
    d->now_ms = now_ms;
}

int deliver_senders_owns(const deliver_senders *d, const char *channel)
{
    int i = channel_index(d, channel);
    return i >= 0 && strcmp(d->channels[i].adapter, "file");
}

int deliver_check_email_channel(const deliver_senders *d, int i, char *err,
                                size_t err_len)
{
    const char *url =
        cJSON_GetStringValue(cJSON_GetObjectItem(d->settings[i], "unsubscribe_url"));
    if (!adapters_is_email(d->adapters, d->channels[i].name) ||
        (url && !strncmp(url, "https://", 8)))
        return 0;
    snprintf(err, err_len,
             "channel '%s': key 'unsubscribe_url': an email channel needs "
             "unsubscribe_url = \"https://...\" (every marketing email carries a "
             "signed one-click unsubscribe link there, RFC 8058)",
             d->channels[i].name);
    return -1;
}

int deliver_senders_open(const channel_config *channels, int count,
                         struct privacy *privacy, store *s, deliver_senders **out,
                         char *err, size_t err_len)
{
    *out = NULL;
    deliver_senders *d = calloc(1, sizeof *d);
    if (!d) return snprintf(err, err_len, "out of memory"), -1;
    d->channels = channels, d->channel_count = count, d->privacy = privacy;
    d->settings = calloc((size_t)count + 1, sizeof *d->settings);
    d->limits = calloc((size_t)count + 1, sizeof *d->limits);
    int owned = 0;
    for (int i = 0; i < count; i++) {
        owned += deliver_senders_owns(d, channels[i].name);
        d->limits[i] = channels[i].concurrency;
    }
    if (!owned) return deliver_senders_close(d), 0;
    int rc =
        !d->settings || !d->limits ? (snprintf(err, err_len, "out of memory"), -1) : 0;
    if (!rc && !(d->adapters = adapters_open(channels, count, err, err_len))) rc = -1;
    for (int i = 0; !rc && i < count; i++) {
        d->settings[i] = cJSON_Parse(channels[i].settings_json);
        rc = deliver_check_email_channel(d, i, err, err_len);
    }
    if (!rc && !(d->sender = sender_new()))
        rc = -1, snprintf(err, err_len, "cannot start libcurl");
    if (!rc && privacy && privacy_unsubscribe_key(privacy, s, d->unsub_key))
        rc = -1, snprintf(err, err_len, "cannot read the unsubscribe key");
    if (rc) return deliver_senders_close(d), -1;
    *out = d;
    return 0;
}

void deliver_senders_close(deliver_senders *d)
{
    if (!d) return;
    for (int i = 0; d->settings && i < d->channel_count; i++)
        cJSON_Delete(d->settings[i]);
    compose_forget_templates(d);
    free(d->settings), free(d->limits);
    adapters_close(d->adapters);
    sender_free(d->sender);
    sodium_memzero(d->unsub_key, sizeof d->unsub_key);
    free(d);
}

/* ---- outcomes ------------------------------------------------------------ */

/* The wait before try ATTEMPTS + 1: retry_base doubled per try, capped at
 * retry_max, with "equal jitter" (half fixed, half random), and never
 * shorter than the provider's Retry-After. */
static int64_t backoff_ms(const channel_config *ch, int attempts, int64_t retry_after_ms)
{
    int64_t wait = ch->retry_base_ms;
    for (int i = 1; i < attempts && wait < ch->retry_max_ms; i++)
        wait *= 2;
    if (wait > ch->retry_max_ms) wait = ch->retry_max_ms;
    wait = wait / 2 + (int64_t)randombytes_uniform((uint32_t)(wait / 2 + 1));
    return wait > retry_after_ms ? wait : retry_after_ms;
}

/* A bounced address joins the suppression list (reason "bounce"). */
static int suppress_address(deliver_senders *d, store *s, const pending *p)
{
    const char *field = adapters_address(d->adapters, p->m->channel);
    unsigned char digest[32];
    char err[200];
    if (!field || !p->parts.to || (strcmp(field, "email") && strcmp(field, "phone")))
        return 0;
    if (privacy_blind(d->privacy, field, p->parts.to, digest, err, sizeof err)) return 0;
    return store_suppress(s, field, digest, "bounce", time_wall_ms());
}

/* Writes what became of P after its try (no try: ATTEMPTS stays).  -1 on
 * a store error. */
static int record(round *r, pending *p, const send_verdict *v, int tried)
{
    const channel_config *ch = &r->d->channels[p->channel];
    int attempts = p->m->attempts + tried;
    const char *status = v->outcome == SEND_DELIVERED ? "delivered" : "failed";
    int64_t retry_at = 0, now = time_wall_ms();
    if (v->outcome == SEND_RETRY && tried && attempts < ch->max_attempts) {
        status = "retry";
        retry_at = now + backoff_ms(ch, attempts, v->retry_after_ms);
    }
    if (!strcmp(status, "delivered"))
        r->counts->delivered++;
    else if (!strcmp(status, "failed"))
        r->counts->failed++;
    if (!strcmp(status, "failed"))
        log_warn("message %s to %s failed for good after %d %s: %s",
                 p->m->idempotency_key, p->m->channel, attempts,
                 attempts == 1 ? "try" : "tries", v->detail);
    if (v->bounce && suppress_address(r->d, r->s, p)) return -1;
    return store_outbox_outcome(r->s, p->m->id, status, attempts, retry_at,
                                v->detail[0] ? v->detail : NULL, now);
}

/* The sender's callback: the jobs of one round, judged and committed in
 * one transaction. */
static void on_finished(void *ctx, send_job **jobs, int count)
{
    round *r = ctx;
    if (r->failed || store_begin(r->s)) {
        r->failed = 1;
        return;
    }
    for (int i = 0; i < count && !r->failed; i++) {
        pending *p = jobs[i]->user;
        send_verdict v;
        adapters_outcome(r->d->adapters, p->m->channel, &p->am, jobs[i]->request.kind,
                         &jobs[i]->response, &v);
        if (record(r, p, &v, 1)) r->failed = 1;
    }
    if (r->failed || store_commit(r->s)) store_rollback(r->s), r->failed = 1;
}

/* A failure found before sending (no address, a template or adapter
 * error): the message fails for good, in the transaction in hand. */
static int fail_now(round *r, pending *p, const char *detail)
{
    send_verdict v = {.outcome = SEND_FAILED};
    snprintf(v.detail, sizeof v.detail, "%.*s", SEND_DETAIL_MAX - 1, detail);
    return record(r, p, &v, 0);
}

/* SMTP messages get a Message-ID made from the idempotency key (the same
 * on every try) and a Date, unless the adapter gave them. */
static int add_mail_headers(send_request *q, const outbox_message *m)
{
    char id[300], date[64], **grown;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "Date: %a, %d %b %Y %H:%M:%S +0000", &tm);
    snprintf(id, sizeof id, "Message-ID: <%s@nudge>", m->idempotency_key);
    if (!(grown = realloc(q->headers, sizeof *grown * (size_t)(q->header_count + 2))))
        return -1;
    q->headers = grown;
    q->headers[q->header_count++] = strdup(id);
    q->headers[q->header_count++] = strdup(date);
    return 0;
}

static void fill_adapter_message(pending *p)
{
    outbox_message *m = p->m;
    adapter_message am = {m->idempotency_key,
                          m->channel,
                          m->template_name,
                          m->journey,
                          m->profile_id,
                          m->purpose,
                          p->parts.to,
                          m->vars_json,
                          p->parts.subject,
                          p->parts.text,
                          p->parts.html,
                          p->parts.unsubscribe_url,
                          p->parts.list_unsubscribe,
                          p->parts.list_unsubscribe ? "List-Unsubscribe=One-Click" : NULL,
                          m->created_ms,
                          m->attempts + 1};
    p->am = am;
}

/* Composes P and asks its adapter for the request into JOB: 0, 1 when
 * the message failed for good (recorded), -1 on a store error. */
static int prepare(round *r, pending *p, send_job *job)
{
    char err[700];
    int rc = compose_message(r->d, r->s, p->m, p->channel, &p->parts);
    if (rc < 0) return -1;
    if (rc) return fail_now(r, p, p->parts.detail) ? -1 : 1;
    fill_adapter_message(p);
    if (adapters_request(r->d->adapters, p->m->channel, &p->am, &job->request, err,
                         sizeof err) ||
        (job->request.kind == SEND_SMTP && add_mail_headers(&job->request, p->m)))
        return fail_now(r, p, err) ? -1 : 1;
    job->lane = p->channel;
    job->timeout_ms = r->d->channels[p->channel].timeout_ms;
    job->user = p;
    return 0;
}

/* Prepares every message of the batch that is the senders'; those that
 * fail at once are committed together.  How many jobs, or -1. */
static int prepare_all(round *r, outbox_message *msgs, int count, send_job *jobs)
{
    int n = 0, rc = store_begin(r->s);
    for (int i = 0; i < count && !rc; i++) {
        outbox_message *m = &msgs[i];
        if (m->blocked || !deliver_senders_owns(r->d, m->channel)) continue;
        m->sent = 1;
        pending *p = &r->pendings[i];
        p->m = m, p->channel = channel_index(r->d, m->channel);
        int prepared = prepare(r, p, &jobs[n]);
        if (prepared < 0) rc = -1;
        if (prepared == 0) n++;
    }
    if (rc || store_commit(r->s)) return store_rollback(r->s), -1;
    return n;
}

int deliver_senders_run(deliver_senders *d, store *s, outbox_message *msgs, int count,
                        deliver_counts *counts)
{
    round r = {d, s, calloc((size_t)count + 1, sizeof(pending)), counts, 0};
    send_job *jobs = calloc((size_t)count + 1, sizeof *jobs);
    int n = r.pendings && jobs ? prepare_all(&r, msgs, count, jobs) : -1;
    if (n > 0 &&
        sender_run(d->sender, jobs, n, d->limits, d->channel_count, on_finished, &r))
        log_warn("the sender stopped early; unsent messages will be tried again");
    for (int i = 0; i < n; i++)
        send_request_free(&jobs[i].request), send_response_free(&jobs[i].response);
    for (int i = 0; r.pendings && i < count; i++)
        composed_free(&r.pendings[i].parts);
    compose_forget_templates(d);
    free(r.pendings), free(jobs);
    return n < 0 || r.failed ? -1 : 0;
}
