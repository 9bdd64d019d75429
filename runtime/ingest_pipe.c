/* Threaded ingest: a reader thread reads, checks and parses events and
 * hands them over in chunks, flattened to plain strings, so that JSON
 * parsing runs on the second core while this one runs the engine. */
#include "ingest.h"

#include "privacy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256
#define DEPTH 8

typedef struct chunk {
    nudge_event events[CHUNK];
    char *texts[CHUNK]; /* each event's strings, one allocation */
    int count;
} chunk;

typedef struct pipe_state {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    chunk *queue[DEPTH];
    int head, size, done, stop;
    chunk *filling; /* the reader's chunk in progress */
    FILE *in;
    const char *source;
    char *const *pii_fields;
    int pii_count;
    ingest_stats *stats;
    int rc;
} pipe_state;

static void push_chunk(pipe_state *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->size == DEPTH && !p->stop)
        pthread_cond_wait(&p->changed, &p->lock);
    if (p->stop) {
        for (int i = 0; i < p->filling->count; i++)
            free(p->filling->texts[i]);
        free(p->filling);
    } else {
        p->queue[(p->head + p->size++) % DEPTH] = p->filling;
    }
    p->filling = NULL;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

/* Whether the raw text may hold a PII member (a quoted field name). */
static int may_hold_pii(char *const *pii_fields, int pii_count, const nudge_event *ev)
{
    if (!ev->raw) return pii_count > 0;
    for (int i = 0; i < pii_count; i++) {
        char quoted[256];
        int n = snprintf(quoted, sizeof quoted, "\"%s\"", pii_fields[i]);
        if (n > 0 && (size_t)n < sizeof quoted &&
            memmem(ev->raw, ev->raw_len, quoted, (size_t)n))
            return 1;
    }
    return 0;
}

char *ingest_flatten(char *const *pii_fields, int pii_count, const nudge_event *ev,
                     nudge_event *out)
{
    char *traits = NULL, *printed = NULL;
    if (!strcmp(ev->type, "identify")) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(ev->json, "traits");
        traits = cJSON_IsObject(t) ? cJSON_PrintUnformatted(t) : NULL;
    }
    int scrubbed = may_hold_pii(pii_fields, pii_count, ev) &&
                   privacy_scrub_event(pii_fields, pii_count, ev->json) > 0;
    if (!ev->raw || scrubbed) printed = cJSON_PrintUnformatted(ev->json);
    const char *raw = printed ? printed : ev->raw ? ev->raw : "{}";
    const char *fields[] = {raw,      ev->type,       ev->user_id, ev->anonymous_id,
                            ev->name, ev->message_id, traits,      ev->previous_id};
    const char **slots[] = {&out->raw,          &out->type,       &out->user_id,
                            &out->anonymous_id, &out->name,       &out->message_id,
                            &out->traits_json,  &out->previous_id};
    size_t total = 0;
    for (int i = 0; i < 8; i++)
        total += fields[i] ? strlen(fields[i]) + 1 : 0;
    char *text = malloc(total), *at = text;
    *out = *ev;
    for (int i = 0; text && i < 8; i++) {
        *slots[i] = fields[i] ? at : NULL;
        if (fields[i]) at = stpcpy(at, fields[i]) + 1;
    }
    out->json = NULL;
    out->raw_len = strlen(raw);
    out->profile_id = out->user_id ? out->user_id : out->anonymous_id;
    free(traits), free(printed);
    return text;
}

static int reader_callback(void *ctx, nudge_event *ev)
{
    pipe_state *p = ctx;
    if (__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) return 1;
    if (!p->filling && !(p->filling = calloc(1, sizeof *p->filling))) return -1;
    chunk *c = p->filling;
    if (!(c->texts[c->count] =
              ingest_flatten(p->pii_fields, p->pii_count, ev, &c->events[c->count])))
        return -1;
    if (++c->count == CHUNK) push_chunk(p);
    return 0;
}

static void *reader_main(void *arg)
{
    pipe_state *p = arg;
    p->rc = ingest_stream(p->in, p->source, reader_callback, p, p->stats);
    if (p->filling) push_chunk(p);
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static chunk *pop_chunk(pipe_state *p)
{
    chunk *c = NULL;
    pthread_mutex_lock(&p->lock);
    while (!p->size && !p->done)
        pthread_cond_wait(&p->changed, &p->lock);
    if (p->size) {
        c = p->queue[p->head];
        p->head = (p->head + 1) % DEPTH, p->size--;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return c;
}

/* Consumes one chunk; after the callback stops, only frees. */
static int consume(pipe_state *p, chunk *c, ingest_fn on_event, void *ctx, int rc)
{
    for (int i = 0; i < c->count; i++) {
        if (!rc && (rc = on_event(ctx, &c->events[i]))) {
            pthread_mutex_lock(&p->lock);
            p->stop = 1;
            pthread_cond_broadcast(&p->changed);
            pthread_mutex_unlock(&p->lock);
        }
        free(c->texts[i]);
    }
    free(c);
    return rc;
}

/* Without a second thread: each event flattened, then handed over. */
struct direct {
    const pipe_state *p;
    ingest_fn on_event;
    void *ctx;
};

static int flatten_and_call(void *ctx, nudge_event *ev)
{
    struct direct *d = ctx;
    nudge_event flat;
    char *text = ingest_flatten(d->p->pii_fields, d->p->pii_count, ev, &flat);
    int rc = text ? d->on_event(d->ctx, &flat) : -1;
    free(text);
    return rc;
}

int ingest_stream_threaded(FILE *in, const char *source, char *const *pii_fields,
                           int pii_count, ingest_fn on_event, void *ctx,
                           ingest_stats *stats)
{
    pipe_state p = {.in = in,
                    .source = source,
                    .pii_fields = pii_fields,
                    .pii_count = pii_count,
                    .stats = stats};
    pthread_t reader;
    int rc = 0;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    if (pthread_create(&reader, NULL, reader_main, &p)) {
        struct direct d = {&p, on_event, ctx};
        rc = ingest_stream(in, source, flatten_and_call, &d, stats);
    } else {
        chunk *c;
        while ((c = pop_chunk(&p)))
            rc = consume(&p, c, on_event, ctx, rc);
        pthread_join(reader, NULL);
        if (!rc && p.rc > 0) rc = p.rc;
        if (!rc && p.rc < 0) rc = -1;
    }
    pthread_cond_destroy(&p.changed);
    pthread_mutex_destroy(&p.lock);
    return rc;
}
