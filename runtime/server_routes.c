/* The intake routes of the HTTP server: POST /v1/track ... /v1/alias (one
 * event, its type from the path), /v1/batch (a Segment envelope; one bad
 * element rejects it all) and /v1/consent, checked and handed to the hooks. */
#include "server_internal.h"

#include "consent.h"
#include "timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_MAX 64 /* bytes of a consent statement's "source" */

static const char *const route_types[] = {
    [ROUTE_TRACK] = "track",   [ROUTE_IDENTIFY] = "identify", [ROUTE_PAGE] = "page",
    [ROUTE_SCREEN] = "screen", [ROUTE_GROUP] = "group",       [ROUTE_ALIAS] = "alias",
};

static const char *const retry_after[] = {MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL};

/* A verdict's reason when the fault is ours (a 503), not the client's. */
#define NOT_REJECTED REJECT_COUNT

/* Why a request is refused: its status, counter and message. */
typedef struct verdict {
    unsigned status;
    enum reject_reason reason;
    char message[224];
} verdict;

/* The checked, flattened events of one request. */
typedef struct intake {
    nudge_event *events;
    char **texts; /* each event's strings (ingest_flatten) */
    int count;
} intake;

__attribute__((format(printf, 4, 5))) static int
refuse(verdict *v, unsigned status, enum reject_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
    v->status = status, v->reason = reason;
    return -1;
}

/* Out of memory is no client mistake: a 503 the client may retry. */
static int out_of_memory(verdict *v)
{
    return refuse(v, MHD_HTTP_SERVICE_UNAVAILABLE, NOT_REJECTED, "out of memory");
}

static enum MHD_Result reply_verdict(request *r, const verdict *v)
{
    if (v->reason == NOT_REJECTED)
        return server_reply_json(r, v->status, retry_after, v->message);
    return server_reject(r, v->status, v->reason, v->message);
}

static int intake_alloc(intake *in, int count)
{
    in->events = calloc((size_t)count, sizeof *in->events);
    in->texts = calloc((size_t)count, sizeof *in->texts);
    return in->events && in->texts ? 0 : -1;
}

static void intake_free(intake *in)
{
    for (int i = 0; in->texts && i < in->count; i++)
        free(in->texts[i]);
    free(in->texts), free(in->events);
    memset(in, 0, sizeof *in);
}

/* Checks OBJ (element INDEX of a batch, or -1 for the whole body) and
 * appends it, flattened, to IN. */
static int intake_add(const request *r, intake *in, cJSON *obj, long index,
                      int64_t receive_ms, verdict *v)
{
    nudge_event event = {.line = index < 0 ? 1 : index};
    char why[160];
    if (event_from_json(obj, receive_ms, &event, why, sizeof why)) {
        if (index < 0)
            return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE, "%s", why);
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE, "element %ld: %s", index,
                      why);
    }
    const server_options *o = &r->server->options;
    char *text =
        ingest_flatten(o->pii_fields, o->pii_count, &event, &in->events[in->count]);
    if (!text) return out_of_memory(v);
    in->texts[in->count++] = text;
    return 0;
}

/* One event posted to /v1/<type>: the path sets its "type". */
static int take_one(const request *r, cJSON *root, intake *in, int64_t receive_ms,
                    verdict *v)
{
    const char *type = route_types[r->route];
    if (!cJSON_IsObject(root))
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "the body must be one event, a JSON object");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "writeKey");
    cJSON *given = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (given && !cJSON_IsNull(given)) {
        if (!cJSON_IsString(given) || strcmp(given->valuestring, type) != 0)
            return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                          "\"type\" does not match the path /v1/%s", type);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(root, "type");
        if (!cJSON_AddStringToObject(root, "type", type)) return out_of_memory(v);
    }
    if (intake_alloc(in, 1)) return out_of_memory(v);
    return intake_add(r, in, root, -1, receive_ms, v);
}

/* Copies the envelope's member KEY into EVENT when EVENT has none. */
static int inherit(cJSON *event, const cJSON *root, const char *key)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!from || cJSON_GetObjectItemCaseSensitive(event, key)) return 0;
    cJSON *copy = cJSON_Duplicate(from, 1);
    if (copy && cJSON_AddItemToObject(event, key, copy)) return 0;
    cJSON_Delete(copy);
    return -1;
}

static int take_element(const request *r, const cJSON *root, cJSON *event, long index,
                        intake *in, int64_t receive_ms, verdict *v)
{
    if (!cJSON_IsObject(event))
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "element %ld: not a JSON object", index);
    char *printed = cJSON_PrintUnformatted(event);
    if (!printed) return out_of_memory(v);
    size_t size = strlen(printed);
    free(printed);
    if (size > EVENT_MAX_BYTES)
        return refuse(v, MHD_HTTP_CONTENT_TOO_LARGE, REJECT_TOO_LARGE,
                      "element %ld: event over 32 KB", index);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(event, "type");
    if (!cJSON_IsString(type) || !type->valuestring[0])
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "element %ld: missing \"type\"", index);
    cJSON_DeleteItemFromObjectCaseSensitive(event, "writeKey");
    if (inherit(event, root, "context") || inherit(event, root, "integrations"))
        return out_of_memory(v);
    return intake_add(r, in, event, index, receive_ms, v);
}

/* {"batch":[...]}: every element is checked before any is submitted. */
static int take_batch(const request *r, const cJSON *root, intake *in, int64_t receive_ms,
                      verdict *v)
{
    cJSON *batch =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "batch") : NULL;
    if (!cJSON_IsArray(batch))
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "the body must be {\"batch\":[...]}");
    int count = cJSON_GetArraySize(batch);
    if (count == 0) return 0;
    if (intake_alloc(in, count)) return out_of_memory(v);
    long index = 0;
    for (cJSON *event = batch->child; event; event = event->next, index++)
        if (take_element(r, root, event, index, in, receive_ms, v)) return -1;
    return 0;
}

/* Hands the events to the group commit and answers once it is done. */
static enum MHD_Result submit(request *r, intake *in)
{
    server *s = r->server;
    int count = in->count;
    int rc = count == 0        ? 0
             : s->hooks.submit ? s->hooks.submit(s->hooks.ctx, in->events, count)
                               : -1;
    intake_free(in);
    if (rc != 0)
        return server_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, retry_after,
                                 rc > 0 ? "the service is behind; retry"
                                        : "the events could not be committed; retry");
    __atomic_add_fetch(&s->events_accepted, count, __ATOMIC_RELAXED);
    return server_reply_json(r, MHD_HTTP_OK, NULL, NULL);
}

/* The body parsed, or NULL after answering 401 or 400. */
static cJSON *parse_authorized(request *r, enum MHD_Result *answer)
{
    char why[96], message[128];
    cJSON *root = server_parse_body(r, why, sizeof why);
    if (!server_authorized(r, root)) {
        cJSON_Delete(root);
        *answer = server_reject(r, MHD_HTTP_UNAUTHORIZED, REJECT_UNAUTHORIZED,
                                "missing or unknown write key: send it as the HTTP Basic "
                                "user name");
        return NULL;
    }
    if (!root) {
        snprintf(message, sizeof message, "bad JSON: %s", why);
        *answer = server_reject(r, MHD_HTTP_BAD_REQUEST, REJECT_BAD_JSON, message);
    }
    return root;
}

enum MHD_Result route_events(request *r)
{
    enum MHD_Result answer = MHD_NO;
    cJSON *root = parse_authorized(r, &answer);
    if (!root) return answer;
    intake in = {0};
    verdict v = {0};
    int64_t now = time_wall_ms();
    int rc = r->route == ROUTE_BATCH ? take_batch(r, root, &in, now, &v)
                                     : take_one(r, root, &in, now, &v);
    cJSON_Delete(root);
    if (rc) {
        intake_free(&in);
        return reply_verdict(r, &v);
    }
    return submit(r, &in);
}

/* ---- /v1/consent ---- */

/* The non-empty string member KEY, or NULL; *WRONG set when it is there but
 * not a string. */
static const char *text_member(const cJSON *obj, const char *key, int *wrong)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) return NULL;
    if (!cJSON_IsString(item)) return *wrong = 1, NULL;
    return item->valuestring[0] ? item->valuestring : NULL;
}

static int consent_status_of(const cJSON *root, consent_post *c, verdict *v)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *granted = cJSON_GetObjectItemCaseSensitive(root, "granted");
    if (cJSON_IsString(status) && !strcmp(status->valuestring, "granted"))
        c->status = "granted";
    else if (cJSON_IsString(status) && !strcmp(status->valuestring, "revoked"))
        c->status = "revoked";
    else if (!status && cJSON_IsBool(granted))
        c->status = cJSON_IsTrue(granted) ? "granted" : "revoked";
    else
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "\"status\" must be \"granted\" or \"revoked\"");
    return 0;
}

static int consent_parse(const cJSON *root, consent_post *c, verdict *v)
{
    int wrong = 0;
    char err[160];
    if (!cJSON_IsObject(root))
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "the body must be a JSON object");
    if (!(c->profile = text_member(root, "userId", &wrong)))
        c->profile = text_member(root, "anonymousId", &wrong);
    if (wrong || !c->profile)
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "\"userId\" (or \"anonymousId\") must be a non-empty string");
    c->channel = text_member(root, "channel", &wrong);
    c->purpose = text_member(root, "purpose", &wrong);
    c->source = text_member(root, "source", &wrong);
    c->proof = text_member(root, "proof", &wrong);
    if (!c->purpose) c->purpose = "marketing";
    if (!c->source) c->source = "api";
    if (wrong)
        return refuse(
            v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
            "\"channel\", \"purpose\", \"source\" and \"proof\" must be strings");
    if (!c->channel)
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE, "missing \"channel\"");
    if (consent_check(c->channel, c->purpose, err, sizeof err))
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE, "%s", err);
    if (strlen(c->source) > SOURCE_MAX)
        return refuse(v, MHD_HTTP_BAD_REQUEST, REJECT_BAD_SHAPE,
                      "\"source\" is over %d bytes", SOURCE_MAX);
    return consent_status_of(root, c, v);
}

enum MHD_Result route_consent(request *r)
{
    enum MHD_Result answer = MHD_NO;
    cJSON *root = parse_authorized(r, &answer);
    if (!root) return answer;
    consent_post c = {0};
    verdict v = {0};
    server *s = r->server;
    char err[200] = "";
    int rc = consent_parse(root, &c, &v);
    if (rc == 0 && !s->hooks.consent)
        rc = refuse(&v, MHD_HTTP_SERVICE_UNAVAILABLE, NOT_REJECTED,
                    "consent is not served");
    if (rc == 0) rc = s->hooks.consent(s->hooks.ctx, &c, err, sizeof err);
    cJSON_Delete(root);
    if (rc < 0 && v.status) return reply_verdict(r, &v);
    if (rc == 0) return server_reply_json(r, MHD_HTTP_OK, NULL, NULL);
    if (rc == 1)
        return server_reply_json(r, MHD_HTTP_NOT_FOUND, NULL,
                                 err[0] ? err : "unknown person");
    return server_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, retry_after,
                             err[0] ? err : "the consent could not be recorded; retry");
}
