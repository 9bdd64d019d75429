/* The server's hooks for `nudge serve`, run on the request threads: events
 * go through the intake to the inbox writer, consent statements to the
 * engine thread (each one writer, group commit); reads (metrics, is this
 * person known) use the reader connection under its lock. */
#include "serve.h"

#include "consent.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int submit(void *ctx, nudge_event *events, int count)
{
    serve_state *sv = ctx;
    intake_request r = {.events = events, .count = count};
    return intake_submit(sv->intake, &r);
}

/* A consent statement, recorded by the engine thread. */
typedef struct consent_job {
    const char *profile, *channel, *purpose, *source, *proof;
    int granted;
    int result; /* enum consent_result */
} consent_job;

static int record_consent(void *ctx, store *s)
{
    consent_job *j = ctx;
    j->result = consent_record(s, j->profile, j->channel, j->purpose, j->granted,
                               time_wall_ms(), j->source, j->proof);
    return j->result == CONSENT_ERROR ? -1 : 0;
}

static int run_consent_job(serve_state *sv, consent_job *j)
{
    /* after the events acknowledged so far, which may not have run yet */
    intake_request r = {.job = record_consent,
                        .job_ctx = j,
                        .after = __atomic_load_n(&sv->inbox_committed, __ATOMIC_ACQUIRE)};
    return intake_submit(sv->jobs, &r) ? -1 : 0;
}

/* The profile ID names now: itself, or the one a linked anonymous id
 * belongs to.  malloc'd, or NULL. */
static char *known_profile(serve_state *sv, const char *id)
{
    pthread_mutex_lock(&sv->reader_lock);
    char *found = store_profile_exists(sv->reader, id) > 0
                      ? strdup(id)
                      : store_identity_resolve(sv->reader, id);
    pthread_mutex_unlock(&sv->reader_lock);
    return found;
}

static int consent(void *ctx, const consent_post *c, char *err, size_t err_len)
{
    serve_state *sv = ctx;
    const char *purpose = c->purpose ? c->purpose : "marketing";
    if (consent_check(c->channel, purpose, err, err_len)) return 2;
    char *id = known_profile(sv, c->profile);
    if (!id) return snprintf(err, err_len, "no profile %s", c->profile), 1;
    consent_job j = {id,       c->channel,
                     purpose,  c->source ? c->source : "api",
                     c->proof, !strcmp(c->status, "granted"),
                     0};
    int rc = run_consent_job(sv, &j);
    free(id);
    if (rc || j.result < 0)
        return snprintf(err, err_len, "the consent could not be recorded"), -1;
    return 0;
}

static int unsubscribe(void *ctx, const char *token, int apply, char *done,
                       size_t done_len, char *err, size_t err_len)
{
    serve_state *sv = ctx;
    unsub_claims cl;
    char issued[TIME_ISO_LEN], proof[TIME_ISO_LEN + 32];
    if (unsub_token_read(sv->unsub_key, token, &cl, err, err_len) ||
        consent_check(cl.channel, cl.purpose, err, err_len))
        return 1;
    snprintf(done, done_len, "%s (%s)", cl.channel, cl.purpose);
    char *id = known_profile(sv, cl.profile);
    if (!id) return snprintf(err, err_len, "this link's person is no longer known"), 1;
    time_format_iso8601(cl.issued_s * 1000, issued);
    snprintf(proof, sizeof proof, "token issued %s", issued);
    consent_job j = {id, cl.channel, cl.purpose, "unsubscribe", proof, 0, 0};
    int rc = apply ? run_consent_job(sv, &j) : 0;
    free(id);
    if (rc || j.result < 0)
        return snprintf(err, err_len, "the unsubscribe could not be recorded"), -1;
    return 0;
}

/* Each row of SQL (a label and a count) as a Prometheus sample. */
static void gauge_rows(serve_state *sv, text_buf *b, const char *metric,
                       const char *labels_sql)
{
    cJSON *rows = store_rows_json(sv->reader, labels_sql, NULL);
    for (const cJSON *row = rows ? rows->child : NULL; row; row = row->next) {
        const cJSON *label = cJSON_GetObjectItem(row, "label");
        const cJSON *n = cJSON_GetObjectItem(row, "n");
        text_printf(b, "%s{%s} %.0f\n", metric, cJSON_GetStringValue(label),
                    cJSON_GetNumberValue(n));
    }
    cJSON_Delete(rows);
}

static void metrics(void *ctx, text_buf *b)
{
    serve_state *sv = ctx;
    int64_t now = time_wall_ms();
    pthread_mutex_lock(&sv->reader_lock);
    text_printf(b, "# TYPE nudge_journeys gauge\n");
    gauge_rows(sv, b, "nudge_journeys",
               "SELECT 'journey=\"' || journey || '\",state=\"' || CASE state WHEN 0 THEN"
               " 'running' WHEN 1 THEN 'waiting' WHEN 2 THEN 'completed' WHEN 3 THEN"
               " 'exited' ELSE 'failed' END || '\"' AS label, count(*) AS n"
               " FROM instances GROUP BY journey, state ORDER BY 1");
    text_printf(b, "# TYPE nudge_messages gauge\n");
    gauge_rows(
        sv, b, "nudge_messages",
        "SELECT 'channel=\"' || channel || '\",status=\"' || status || '\"' AS label,"
        " count(*) AS n FROM outbox GROUP BY channel, status ORDER BY 1");
    int64_t depth = store_outbox_depth(sv->reader),
            earliest = store_timer_earliest(sv->reader);
    pthread_mutex_unlock(&sv->reader_lock);
    text_printf(b, "# TYPE nudge_outbox_depth gauge\nnudge_outbox_depth %lld\n",
                (long long)depth);
    text_printf(b, "# TYPE nudge_timer_lag_seconds gauge\nnudge_timer_lag_seconds %.3f\n",
                earliest > 0 && earliest < now ? (double)(now - earliest) / 1000 : 0.0);
    text_printf(b, "# TYPE nudge_intake_waiting gauge\nnudge_intake_waiting %d\n",
                intake_waiting(sv->intake));
    text_printf(b, "# TYPE nudge_inbox_backlog gauge\nnudge_inbox_backlog %lld\n",
                (long long)__atomic_load_n(&sv->backlog, __ATOMIC_ACQUIRE));
}

static int healthy(void *ctx)
{
    serve_state *sv = ctx;
    return __atomic_load_n(&sv->healthy, __ATOMIC_ACQUIRE);
}

server_hooks serve_hooks(serve_state *sv)
{
    server_hooks h = {sv, submit, consent, unsubscribe, metrics, healthy};
    return h;
}
