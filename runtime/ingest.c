/* Event ingest: NDJSON, JSON arrays and Segment batch envelopes, checked
 * against the Segment Tracking API shapes.  Nothing here touches the store:
 * accepted events go to a callback, rejected ones to stderr with their line. */
#include "ingest.h"

#include "log.h"
#include "timeutil.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *source;
    ingest_fn on_event;
    void *ctx;
    ingest_stats *stats;
    int64_t receive_ms;
} reader;

static const char *known_types[] = {"track", "identify", "page", "screen",
                                    "group", "alias",    NULL};

/* Returns the string member `key`, NULL when absent, empty or not a string. */
static const char *string_member(cJSON *obj, const char *key, int *wrong_type)
{
    cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) return NULL;
    if (!cJSON_IsString(item)) {
        if (wrong_type) *wrong_type = 1;
        return NULL;
    }
    return item->valuestring[0] ? item->valuestring : NULL;
}

static const char *event_type(cJSON *obj, char *why, size_t why_len)
{
    int wrong = 0;
    const char *type = string_member(obj, "type", &wrong);
    if (!type && !wrong && cJSON_GetObjectItemCaseSensitive(obj, "event")) return "track";
    if (!type) {
        snprintf(why, why_len, "missing \"type\"");
        return NULL;
    }
    for (int i = 0; known_types[i]; i++)
        if (strcmp(type, known_types[i]) == 0) return known_types[i];
    snprintf(why, why_len, "unknown type \"%.40s\"", type);
    return NULL;
}

static int event_time(cJSON *obj, int64_t receive_ms, int64_t *ts, char *why,
                      size_t why_len)
{
    static const char *keys[] = {"timestamp", "originalTimestamp", NULL};
    for (int i = 0; keys[i]; i++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, keys[i]);
        if (!item || cJSON_IsNull(item)) continue;
        if (!cJSON_IsString(item) || time_parse_iso8601(item->valuestring, ts)) {
            snprintf(why, why_len, "bad %s %.40s%s%s", keys[i],
                     cJSON_IsString(item) ? "\"" : "(not a string)",
                     cJSON_IsString(item) ? item->valuestring : "",
                     cJSON_IsString(item) ? "\"" : "");
            return -1;
        }
        return 0;
    }
    *ts = receive_ms;
    return 0;
}

static void derive_message_id(cJSON *obj, nudge_event *event)
{
    unsigned char hash[16];
    char *text = event->raw ? NULL : cJSON_PrintUnformatted(obj);
    const char *bytes = text ? text : event->raw;
    size_t len = text ? strlen(text) : event->raw_len;
    crypto_generichash(hash, sizeof hash, (const unsigned char *)bytes, len, NULL, 0);
    memcpy(event->derived_id, "h-", 2);
    sodium_bin2hex(event->derived_id + 2, sizeof event->derived_id - 2, hash,
                   sizeof hash);
    event->message_id = event->derived_id;
    free(text);
}

int event_from_json(cJSON *obj, int64_t receive_ms, nudge_event *event, char *why,
                    size_t why_len)
{
    int wrong = 0;
    if (!cJSON_IsObject(obj)) return snprintf(why, why_len, "not a JSON object"), -1;
    event->json = obj;
    if (!(event->type = event_type(obj, why, why_len))) return -1;
    event->user_id = string_member(obj, "userId", &wrong);
    event->anonymous_id = string_member(obj, "anonymousId", &wrong);
    if (wrong)
        return snprintf(why, why_len, "userId and anonymousId must be strings"), -1;
    if (!event->user_id && !event->anonymous_id)
        return snprintf(why, why_len, "missing userId or anonymousId"), -1;
    event->profile_id = event->user_id ? event->user_id : event->anonymous_id;
    event->name = NULL;
    if (strcmp(event->type, "track") == 0) {
        if (!(event->name = string_member(obj, "event", NULL)))
            return snprintf(why, why_len, "track without \"event\" name"), -1;
    } else if (!strcmp(event->type, "page") || !strcmp(event->type, "screen")) {
        event->name = string_member(obj, "name", NULL);
    }
    event->previous_id = NULL;
    if (!strcmp(event->type, "alias") &&
        !(event->previous_id = string_member(obj, "previousId", NULL)))
        return snprintf(why, why_len, "alias without \"previousId\""), -1;
    if (event_time(obj, receive_ms, &event->ts_ms, why, why_len)) return -1;
    wrong = 0;
    event->message_id = string_member(obj, "messageId", &wrong);
    if (wrong) return snprintf(why, why_len, "messageId must be a string"), -1;
    if (!event->message_id) derive_message_id(obj, event);
    return 0;
}

/* Strict UTF-8 check (no overlongs, no surrogates, nothing past U+10FFFF). */
static int utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        int extra = c < 0x80         ? 0
                    : (c >> 5) == 6  ? 1
                    : (c >> 4) == 14 ? 2
                    : (c >> 3) == 30 ? 3
                                     : -1;
        if (extra < 0 || i + extra >= len + (extra == 0)) return 0;
        if (extra == 1 && c < 0xC2) return 0;
        for (int k = 1; k <= extra; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        if (extra == 2) {
            unsigned cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6);
            if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        }
        if (extra == 3) {
            unsigned cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12);
            if (cp < 0x10000 || cp > 0x10FFFF) return 0;
        }
        i += extra + 1;
    }
    return 1;
}

static int blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static void reject(reader *r, long line, long element, const char *why)
{
    r->stats->rejected++;
    if (element >= 0)
        log_warn("%s:%ld: element %ld rejected: %s", r->source, line, element, why);
    else
        log_warn("%s:%ld: rejected: %s", r->source, line, why);
}

/* One event object; `raw` is its text when the object was a whole line. */
static int accept_object(reader *r, cJSON *obj, long line, long element, const char *raw,
                         size_t raw_len)
{
    nudge_event event = {.line = line, .raw = raw, .raw_len = raw_len};
    char why[160];
    if (event_from_json(obj, r->receive_ms, &event, why, sizeof why)) {
        reject(r, line, element, why);
        return 0;
    }
    r->stats->accepted++;
    return r->on_event(r->ctx, &event);
}

/* An element of an array or batch: measured and stored as its own text. */
static int accept_element(reader *r, cJSON *item, long line, long element)
{
    char *text = cJSON_PrintUnformatted(item);
    if (!text) return log_error("%s: out of memory", r->source), -1;
    int rc = 0;
    if (strlen(text) > EVENT_MAX_BYTES)
        reject(r, line, element, "event over 32 KB");
    else
        rc = accept_object(r, item, line, element, text, strlen(text));
    free(text);
    return rc;
}

/* An object that may be a batch envelope, or an array of events. */
static int accept_value(reader *r, cJSON *value, long line, const char *raw,
                        size_t raw_len)
{
    cJSON *batch = cJSON_IsObject(value)
                       ? cJSON_GetObjectItemCaseSensitive(value, "batch")
                   : cJSON_IsArray(value) ? value
                                          : NULL;
    if (!batch) return accept_object(r, value, line, -1, raw, raw_len);
    if (!cJSON_IsArray(batch)) {
        reject(r, line, -1, "\"batch\" is not an array");
        return 0;
    }
    long element = 0;
    int rc = 0;
    for (cJSON *item = batch->child; item && !rc; item = item->next, element++)
        rc = accept_element(r, item, line, element);
    return rc;
}

/* One NDJSON line (NUL-terminated at len): an event of up to 32 KB or a
 * batch envelope of up to 500 KB. */
static int accept_text(reader *r, const char *text, size_t len, long line)
{
    if (len > BATCH_MAX_BYTES) {
        reject(r, line, -1, "line over 500 KB");
        return 0;
    }
    if (!utf8_valid((const unsigned char *)text, len)) {
        reject(r, line, -1, "invalid UTF-8");
        return 0;
    }
    const char *end = NULL;
    cJSON *value = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!value) {
        char why[96];
        long at = end ? (long)(end - text) : (long)len;
        snprintf(why, sizeof why, "not valid JSON (at byte %ld)", at + 1);
        reject(r, line, -1, why);
        return 0;
    }
    int rc = 0;
    if (len > EVENT_MAX_BYTES &&
        !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(value, "batch")))
        reject(r, line, -1, "line over 32 KB");
    else
        rc = accept_value(r, value, line, text, len);
    cJSON_Delete(value);
    return rc;
}

/* Every line of buf (writable, len bytes) as NDJSON from line `line` on. */
static int accept_lines(reader *r, char *buf, size_t len, long line)
{
    int rc = 0;
    for (char *p = buf, *end = buf + len; p < end && !rc; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *next = p + n + 1;
        while (n > 0 && p[n - 1] == '\r')
            n--;
        p[n] = 0;
        if (!blank(p, n)) rc = accept_text(r, p, n, line);
        p = next;
    }
    return rc;
}

/* Line numbers inside a buffer, counted forward only. */
typedef struct line_counter {
    const char *counted; /* lines before this point are counted */
    long line;
} line_counter;

static long line_of(line_counter *lc, const char *p)
{
    for (; lc->counted < p; lc->counted++)
        lc->line += *lc->counted == '\n';
    return lc->line;
}

#define SPACE " \t\r\n"

/* A top-level array, one element at a time, so that each element is
 * reported at its own line.  Returns the callback's value; *after is
 * where the array ends (or `end` when the rest had to be skipped). */
static int accept_array(reader *r, const char *p, const char *end, line_counter *lc,
                        const char **after)
{
    long element = 0;
    int rc = 0;
    *after = end;
    for (p++; !rc; element++) {
        const char *item_end = NULL;
        if ((p += strspn(p, SPACE)) < end && *p == ']') return *after = p + 1, 0;
        cJSON *item = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &item_end, 0);
        long at = line_of(lc, p);
        if (!item) {
            reject(r, at, element, "not valid JSON (the rest of the input is skipped)");
            return 0;
        }
        rc = accept_element(r, item, at, element);
        cJSON_Delete(item);
        p = item_end + strspn(item_end, SPACE);
        if (p < end && *p == ',') {
            p++;
        } else if (p >= end || *p != ']') {
            reject(r, line_of(lc, p), -1,
                   "expected ',' or ']' (the rest of the input is skipped)");
            return rc;
        }
    }
    return rc;
}

/* JSON documents one after another (arrays, batch envelopes, pretty-printed
 * events).  If the first does not parse, the input is NDJSON after all
 * and every line is read on its own. */
static int accept_documents(reader *r, char *buf, size_t len, long line)
{
    const char *p = buf, *end = buf + len, *after = NULL;
    line_counter lc = {buf, line};
    int rc = 0;
    if (!utf8_valid((const unsigned char *)buf, len))
        return accept_lines(r, buf, len, line);
    while (!rc && (p += strspn(p, SPACE)) < end) {
        if (*p == '[') {
            rc = accept_array(r, p, end, &lc, &after);
            p = after;
            continue;
        }
        cJSON *value = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &after, 0);
        long at = line_of(&lc, p);
        if (!value && p == buf + strspn(buf, SPACE))
            return accept_lines(r, buf, len, line);
        if (!value) {
            reject(r, at, -1, "not valid JSON (the rest of the input is skipped)");
            break;
        }
        rc = accept_value(r, value, at, NULL, 0);
        cJSON_Delete(value);
        p = after;
    }
    return rc;
}

/* The input is JSON documents (an array or a pretty-printed object): read
 * it whole, starting with the line already read. */
static int accept_document(reader *r, FILE *in, char *first, size_t first_len, long line)
{
    size_t cap = first_len + 65536, len = first_len, n;
    char *buf = malloc(cap + 1);
    if (!buf) return log_error("%s: out of memory", r->source), -1;
    memcpy(buf, first, first_len);
    while ((n = fread(buf + len, 1, cap - len, in)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(buf, (cap *= 2) + 1);
            if (!bigger) return free(buf), log_error("%s: out of memory", r->source), -1;
            buf = bigger;
        }
    }
    buf[len] = 0;
    int rc = accept_documents(r, buf, len, line);
    free(buf);
    return rc;
}

/* Whether the first line opens a whole-file document rather than NDJSON:
 * an array, or an object that does not parse on its own line. */
static int starts_document(const char *line, size_t len)
{
    const char *p = line + strspn(line, " \t");
    if (*p == '[') return 1;
    if (*p != '{') return 0;
    cJSON *alone = cJSON_ParseWithLength(line, len);
    cJSON_Delete(alone);
    return alone == NULL;
}

int ingest_stream(FILE *in, const char *source, ingest_fn on_event, void *ctx,
                  ingest_stats *stats)
{
    reader r = {source, on_event, ctx, stats, time_wall_ms()};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0, seen_content = 0;
    while (!rc && (len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (blank(line, (size_t)len)) continue;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        line[len] = 0;
        if (!seen_content++ && starts_document(line, (size_t)len)) {
            line[len] = '\n'; /* the document goes on past this line */
            rc = accept_document(&r, in, line, (size_t)len + 1, lineno);
            break;
        }
        rc = accept_text(&r, line, (size_t)len, lineno);
    }
    free(line);
    return rc;
}
