/* Unit tests for runtime/ingest.h: ingest_stream over in-memory files
 * (fmemopen) holding NDJSON, JSON arrays and Segment batch envelopes, with
 * good and bad events; the callback records what it is handed. */
#include "ingest.h"

#include "timeutil.h"
#include "unit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define T_2026_11_02_1500Z INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */
#define MAX_SEEN 32

typedef struct seen_event {
    char type[16], profile_id[64], name[64], message_id[80];
    int has_name, has_json, raw_ok; /* raw_ok: 1 line text, 0 NULL, -1 wrong */
    int64_t ts_ms;
    long line;
} seen_event;

typedef struct collector {
    seen_event seen[MAX_SEEN];
    int count;
    int stop_at; /* return stop_rc when the stop_at-th event arrives (0: never) */
    int stop_rc;
} collector;

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "(null)");
}

static int on_event(void *ctx, nudge_event *event)
{
    collector *c = ctx;
    if (c->count < MAX_SEEN) {
        seen_event *s = &c->seen[c->count];
        copy(s->type, sizeof s->type, event->type);
        copy(s->profile_id, sizeof s->profile_id, event->profile_id);
        copy(s->name, sizeof s->name, event->name);
        copy(s->message_id, sizeof s->message_id, event->message_id);
        s->has_name = event->name != NULL;
        s->has_json = event->json != NULL;
        s->raw_ok = !event->raw ? 0
                    : event->raw_len == strlen(event->raw) && event->raw[0] == '{' &&
                            event->raw[event->raw_len - 1] == '}'
                        ? 1
                        : -1;
        s->ts_ms = event->ts_ms;
        s->line = event->line;
    }
    c->count++;
    return c->stop_at && c->count == c->stop_at ? c->stop_rc : 0;
}

/* Feeds `len` bytes of `text` to ingest_stream through fmemopen(). */
static int feed(const char *text, size_t len, collector *c, ingest_stats *stats)
{
    char *copy_of_text = malloc(len + 1);
    if (!copy_of_text) return -999;
    memcpy(copy_of_text, text, len);
    copy_of_text[len] = 0;
    FILE *in = fmemopen(copy_of_text, len, "r");
    if (!in) return free(copy_of_text), -999;
    stats->accepted = stats->rejected = 0;
    int rc = ingest_stream(in, "test", on_event, c, stats);
    fclose(in);
    free(copy_of_text);
    return rc;
}

static int feed_str(const char *text, collector *c, ingest_stats *stats)
{
    return feed(text, strlen(text), c, stats);
}

static int counts_are(const ingest_stats *st, long accepted, long rejected)
{
    if (st->accepted != accepted || st->rejected != rejected)
        printf("# accepted %ld rejected %ld, want %ld and %ld\n", st->accepted,
               st->rejected, accepted, rejected);
    return st->accepted == accepted && st->rejected == rejected;
}

static int is_derived_id(const char *id)
{
    return strncmp(id, "h-", 2) == 0 && strlen(id) > 10;
}

/* A track line whose properties hold `pad` bytes of padding. */
static char *big_line(size_t pad)
{
    const char *head = "{\"type\":\"track\",\"userId\":\"big\",\"event\":\"X\","
                       "\"properties\":{\"pad\":\"";
    const char *tail = "\"}}\n";
    size_t len = strlen(head) + pad + strlen(tail);
    char *line = malloc(len + 1);
    if (!line) return NULL;
    strcpy(line, head);
    memset(line + strlen(head), 'x', pad);
    strcpy(line + strlen(head) + pad, tail);
    return line;
}

static void test_ndjson(void)
{
    char *big = big_line(EVENT_MAX_BYTES + 100);
    const char *parts[] = {
        /* 1 */ "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Checkout Started\","
                "\"timestamp\":\"2026-11-02T15:00:00Z\",\"messageId\":\"m1\"}\n",
        /* 2 */ "{\"type\":\"track\", oops this is not JSON\n",
        /* 3 */ "{\"type\":\"track\",\"event\":\"No Id\"}\n",
        /* 4 */ "{\"type\":\"track\",\"userId\":\"u2\"}\n",
        /* 5 */
        "{\"type\":\"track\",\"userId\":\"u3\",\"event\":\"X\",\"timestamp\":\"2026-02-"
        "30T00:00:00Z\"}\n",
        /* 6 */ "{\"type\":\"track\",\"userId\":\"u\xff\xfe\",\"event\":\"X\"}\n",
        /* 7 */ big ? big : "\n",
        /* 8 */ "{\"type\":\"purchase\",\"userId\":\"u5\"}\n",
        /* 9 */ "\n",
        /* 10 */ "   \t \r\n",
        /* 11 */
        "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":\"pro\"}}\n",
        /* 12 */
        "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":\"pro\"}}\n",
        /* 13 */
        "{\"type\":\"page\",\"userId\":\"u6\",\"anonymousId\":\"a6\",\"name\":\"Home\","
        "\"timestamp\":\"2026-11-02T17:00:00.5+02:00\"}\n",
        /* 14 */
        "{\"type\":\"identify\",\"anonymousId\":\"a1\",\"traits\":{\"plan\":\"free\"}}"
        "\r\n",
        /* 15 */ "{\"userId\":\"u7\",\"event\":\"Typeless Track\",\"messageId\":\"m15\"}",
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        total += strlen(parts[i]);
    char *text = calloc(1, total + 1);
    for (size_t i = 0; text && i < sizeof parts / sizeof parts[0]; i++)
        strcat(text, parts[i]);
    CHECK(big && text, "ndjson: test input built");
    if (!big || !text) return free(big), free(text);

    collector c = {0};
    ingest_stats st = {0};
    int64_t before = time_wall_ms();
    int rc = feed_str(text, &c, &st);
    int64_t after = time_wall_ms();
    CHECK(rc == 0, "ndjson: ingest_stream returns 0");
    CHECK(counts_are(&st, 6, 7), "ndjson: 6 accepted, 7 rejected (blank lines ignored)");
    CHECK(c.count == 6, "ndjson: the callback saw exactly the accepted events");
    if (c.count < 6) return free(big), free(text);

    seen_event *e = c.seen;
    CHECK_STR(e[0].type, "track", "ndjson: line 1 type");
    CHECK_STR(e[0].profile_id, "u1", "ndjson: line 1 profile_id is userId");
    CHECK_STR(e[0].name, "Checkout Started", "ndjson: line 1 name is the track event");
    CHECK(e[0].ts_ms == T_2026_11_02_1500Z, "ndjson: line 1 ts_ms from timestamp");
    CHECK_STR(e[0].message_id, "m1", "ndjson: line 1 message_id as given");
    CHECK(e[0].line == 1, "ndjson: line 1 reported as line 1");
    CHECK(e[0].has_json, "ndjson: the event's JSON object is handed over");
    int raw_all = 1;
    for (int i = 0; i < 6; i++)
        raw_all &= e[i].raw_ok == 1;
    CHECK(raw_all, "ndjson: raw is the line's own text, NUL-terminated, without CR/LF");

    CHECK_STR(e[1].type, "identify", "ndjson: identify type");
    CHECK_STR(e[1].profile_id, "a1",
              "ndjson: anonymousId is the profile_id without userId");
    CHECK(!e[1].has_name, "ndjson: identify has no name");
    CHECK(e[1].ts_ms >= before && e[1].ts_ms <= after,
          "ndjson: missing timestamp means receive time");
    CHECK(is_derived_id(e[1].message_id), "ndjson: missing messageId is derived (h-...)");
    CHECK(e[1].line == 11, "ndjson: line numbers count blank and rejected lines");
    CHECK_STR(e[2].message_id, e[1].message_id,
              "ndjson: identical lines derive the same id");

    CHECK_STR(e[3].type, "page", "ndjson: page type");
    CHECK_STR(e[3].profile_id, "u6", "ndjson: userId wins over anonymousId");
    CHECK_STR(e[3].name, "Home", "ndjson: page name");
    CHECK(e[3].ts_ms == T_2026_11_02_1500Z + 500,
          "ndjson: page ts_ms with offset and fraction");
    CHECK(is_derived_id(e[3].message_id), "ndjson: page message_id derived");

    CHECK(is_derived_id(e[4].message_id) && strcmp(e[4].message_id, e[1].message_id) != 0,
          "ndjson: a different line derives a different id");
    CHECK(e[4].line == 14, "ndjson: a CRLF line is accepted");

    CHECK_STR(e[5].type, "track", "ndjson: an object with event and no type is a track");
    CHECK_STR(e[5].name, "Typeless Track", "ndjson: ... named by its event");
    CHECK(e[5].line == 15, "ndjson: a last line without newline is read");

    /* The same identify line fed again, alone: the derived id is stable
     * across reads, not just within one. */
    collector again = {0};
    feed_str(parts[10], &again, &st);
    CHECK(again.count == 1 && strcmp(again.seen[0].message_id, e[1].message_id) == 0,
          "ndjson: the derived id is stable across reads");
    free(big);
    free(text);
}

static void test_rejects_one_by_one(void)
{
    static const struct {
        const char *line, *name;
    } bad[] = {
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\"",
         "not JSON (unterminated)"},
        {"[1, 2", "not JSON (open array)"},
        {"{\"type\":\"track\",\"event\":\"X\"}", "missing userId and anonymousId"},
        {"{\"type\":\"track\",\"userId\":\"\",\"event\":\"X\"}", "empty userId"},
        {"{\"type\":\"track\",\"userId\":7,\"event\":\"X\"}", "userId not a string"},
        {"{\"type\":\"track\",\"userId\":\"u\"}", "track without event"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\",\"timestamp\":"
         "\"yesterday\"}",
         "bad timestamp"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\",\"timestamp\":12}",
         "timestamp not a string"},
        {"{\"type\":\"track\",\"userId\":\"\xc3\x28\",\"event\":\"X\"}",
         "invalid UTF-8 (bad continuation)"},
        {"{\"type\":\"track\",\"userId\":\"\xc0\xaf\",\"event\":\"X\"}",
         "invalid UTF-8 (overlong)"},
        {"{\"type\":\"track\",\"userId\":\"\xed\xa0\x80\",\"event\":\"X\"}",
         "invalid UTF-8 (surrogate)"},
        {"{\"type\":\"buy\",\"userId\":\"u\"}", "unknown type"},
        {"{\"type\":\"alias\",\"userId\":\"u\"}", "alias without previousId"},
        {"\"just a string\"", "a JSON string"},
        {"{\"type\":\"track\",\"userId\":\"u\",\"event\":\"X\",\"messageId\":5}",
         "messageId not a string"},
    };
    /* Each bad line sits between two good ones, so it is never the first line. */
    const char *good = "{\"type\":\"track\",\"userId\":\"g\",\"event\":\"Good\"}\n";
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024], name[160];
        snprintf(text, sizeof text, "%s%s\n%s", good, bad[i].line, good);
        collector c = {0};
        ingest_stats st = {0};
        int rc = feed_str(text, &c, &st);
        snprintf(name, sizeof name, "reject: %s", bad[i].name);
        CHECK(rc == 0 && counts_are(&st, 2, 1) && c.count == 2, name);
    }
    /* And the good UTF-8 a name may hold is kept. */
    collector c = {0};
    ingest_stats st = {0};
    feed_str("{\"type\":\"track\",\"userId\":\"Ren\xc3\xa9"
             "e \xf0\x9f\x98\x80\",\"event\":\"X\"}\n",
             &c, &st);
    CHECK(counts_are(&st, 1, 0) &&
              strcmp(c.seen[0].profile_id, "Ren\xc3\xa9"
                                           "e \xf0\x9f\x98\x80") == 0,
          "accept: valid multi-byte UTF-8");
}

static void test_array(void)
{
    const char *text =
        "[\n"
        "  {\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\",\"messageId\":\"arr-1\","
        "   \"timestamp\":\"2026-11-02T15:00:00Z\"},\n"
        "  {\"type\":\"track\",\"userId\":\"u1\"},\n"
        "  42,\n"
        "  {\"type\":\"screen\",\"anonymousId\":\"a2\",\"name\":\"Cart\"}\n"
        "]\n";
    collector c = {0};
    ingest_stats st = {0};
    int rc = feed_str(text, &c, &st);
    CHECK(rc == 0, "array: returns 0");
    CHECK(counts_are(&st, 2, 2), "array: 2 accepted, 2 rejected elements");
    CHECK(c.count == 2 && strcmp(c.seen[0].message_id, "arr-1") == 0 &&
              c.seen[0].ts_ms == T_2026_11_02_1500Z,
          "array: first element's fields");
    CHECK(c.count == 2 && strcmp(c.seen[1].type, "screen") == 0 &&
              strcmp(c.seen[1].name, "Cart") == 0 &&
              strcmp(c.seen[1].profile_id, "a2") == 0 &&
              is_derived_id(c.seen[1].message_id),
          "array: screen element with a derived id");

    collector one = {0};
    feed_str("[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}]", &one, &st);
    CHECK(counts_are(&st, 1, 0) && one.count == 1 && strcmp(one.seen[0].name, "E") == 0,
          "array: on a single line");

    CHECK(c.count == 2 && c.seen[0].raw_ok == 1 && c.seen[1].raw_ok == 1,
          "array: each element carries its own JSON text");

    collector none = {0};
    feed_str("[]\n", &none, &st);
    CHECK(counts_are(&st, 0, 0) && none.count == 0, "array: empty array accepts nothing");

    /* each element keeps its own line; the array starts on line 1 */
    CHECK(c.count == 2 && c.seen[0].line == 2 && c.seen[1].line == 5,
          "array: each element is reported at its own line");

    collector broken = {0};
    feed_str("[\n{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"},\n{oops},\n"
             "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"F\"}\n]\n",
             &broken, &st);
    CHECK(counts_are(&st, 1, 1) && broken.count == 1 &&
              strcmp(broken.seen[0].name, "E") == 0,
          "array: elements before a malformed one are kept, the rest is skipped");
}

static void test_batch(void)
{
    const char *one_line = "{\"batch\":[{\"type\":\"track\",\"userId\":\"u1\",\"event\":"
                           "\"A\",\"messageId\":\"b1\"},"
                           "{\"type\":\"identify\",\"userId\":\"u1\",\"traits\":{\"x\":1}"
                           ",\"messageId\":\"b2\"},"
                           "{\"type\":\"track\",\"anonymousId\":\"a1\"}],"
                           "\"sentAt\":\"2026-11-02T15:00:00Z\"}\n";
    collector c = {0};
    ingest_stats st = {0};
    int rc = feed_str(one_line, &c, &st);
    CHECK(rc == 0 && counts_are(&st, 2, 1), "batch on one line: 2 accepted, 1 rejected");
    CHECK(c.count == 2 && c.seen[0].raw_ok == 1,
          "batch on one line: each element carries its own JSON text");
    CHECK(c.count == 2 && strcmp(c.seen[0].message_id, "b1") == 0 &&
              strcmp(c.seen[1].message_id, "b2") == 0 &&
              strcmp(c.seen[1].type, "identify") == 0,
          "batch on one line: events in order with their fields");

    const char *pretty =
        "{\n"
        "  \"batch\": [\n"
        "    {\n"
        "      \"type\": \"track\",\n"
        "      \"userId\": \"u9\",\n"
        "      \"event\": \"Order Completed\",\n"
        "      \"timestamp\": \"2026-11-02T15:00:00.250Z\"\n"
        "    },\n"
        "    { \"type\": \"page\", \"userId\": \"u9\", \"name\": \"Thanks\" }\n"
        "  ],\n"
        "  \"context\": { \"library\": { \"name\": \"analytics.js\" } }\n"
        "}\n";
    collector p = {0};
    rc = feed_str(pretty, &p, &st);
    CHECK(rc == 0 && counts_are(&st, 2, 0), "batch pretty-printed: 2 accepted");
    CHECK(p.count == 2 && strcmp(p.seen[0].name, "Order Completed") == 0 &&
              p.seen[0].ts_ms == T_2026_11_02_1500Z + 250 &&
              strcmp(p.seen[1].name, "Thanks") == 0,
          "batch pretty-printed: fields of both events");

    collector b = {0};
    feed_str("{\"batch\":{\"type\":\"track\"}}\n", &b, &st);
    CHECK(counts_are(&st, 0, 1) && b.count == 0, "batch: a non-array batch is rejected");

    /* A pretty-printed single event (not a batch) is one event too. */
    collector s = {0};
    feed_str(
        "{\n  \"type\": \"track\",\n  \"userId\": \"u\",\n  \"event\": \"Solo\"\n}\n", &s,
        &st);
    CHECK(counts_are(&st, 1, 0) && s.count == 1 && strcmp(s.seen[0].name, "Solo") == 0,
          "pretty-printed single event is accepted");
}

static void test_blank_and_empty(void)
{
    collector c = {0};
    ingest_stats st = {0};
    int rc = feed_str("", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 0, 0) && c.count == 0, "empty input: nothing, rc 0");
    rc = feed_str("\n\n  \n\t\n", &c, &st);
    CHECK(rc == 0 && counts_are(&st, 0, 0) && c.count == 0,
          "blank lines only: nothing, rc 0");
    rc = feed_str("\n\n{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}\n\n", &c,
                  &st);
    CHECK(rc == 0 && counts_are(&st, 1, 0) && c.count == 1 && c.seen[0].line == 3,
          "leading blank lines are skipped and counted");
}

static void test_stop(void)
{
    const char *ndjson = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E1\"}\n"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E2\"}\n"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E3\"}\n"
                         "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E4\"}\n";
    collector c = {.stop_at = 2, .stop_rc = 42};
    ingest_stats st = {0};
    int rc = feed_str(ndjson, &c, &st);
    CHECK(rc == 42, "stop: the callback's non-zero return is returned (ndjson)");
    CHECK(c.count == 2, "stop: no event is handed over after the stop (ndjson)");

    const char *batch =
        "{\"batch\":[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E1\"},"
        "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E2\"},"
        "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E3\"}]}\n"
        "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E4\"}\n";
    collector b = {.stop_at = 1, .stop_rc = -5};
    rc = feed_str(batch, &b, &st);
    CHECK(rc == -5 && b.count == 1, "stop: inside a batch, with a negative value");

    const char *array = "[{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E1\"},"
                        " {\"type\":\"track\",\"userId\":\"u\",\"event\":\"E2\"}]";
    collector a = {.stop_at = 1, .stop_rc = 3};
    rc = feed_str(array, &a, &st);
    CHECK(rc == 3 && a.count == 1, "stop: inside a JSON array");
}

/* Cases where the SPEC (section 2) is stricter than a straightforward
 * reading: a bad first line must not sink the whole file, and the 32 KB
 * per-event limit holds for events inside arrays and batches too. */
static void test_spec_edges(void)
{
    const char *bad_first =
        "{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"Truncated\"\n"
        "{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"A\"}\n"
        "{\"type\":\"track\",\"userId\":\"u3\",\"event\":\"B\"}\n";
    collector c = {0};
    ingest_stats st = {0};
    int rc = feed_str(bad_first, &c, &st);
    CHECK(rc == 0 && counts_are(&st, 2, 1) && c.count == 2,
          "spec: a malformed first NDJSON line rejects only that line");

    /* Two documents one after the other (cat a.json b.json): the second
     * must be read or reported, never dropped in silence. */
    const char *two_arrays = "[{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\"}]\n"
                             "[{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"B\"}]\n";
    collector t = {0};
    feed_str(two_arrays, &t, &st);
    CHECK((st.accepted == 2 && st.rejected == 0) || st.rejected > 0,
          "spec: a second JSON array after the first is read or rejected, not dropped");
    if (st.accepted + st.rejected < 2)
        printf("# accepted %ld rejected %ld\n", st.accepted, st.rejected);
    const char *two_batches =
        "{\n \"batch\": [{\"type\":\"track\",\"userId\":\"u1\",\"event\":\"A\"}]\n}\n"
        "{\n \"batch\": [{\"type\":\"track\",\"userId\":\"u2\",\"event\":\"B\"}]\n}\n";
    collector tb = {0};
    feed_str(two_batches, &tb, &st);
    CHECK((st.accepted == 2 && st.rejected == 0) || st.rejected > 0,
          "spec: a second pretty-printed batch is read or rejected, not dropped");
    if (st.accepted + st.rejected < 2)
        printf("# accepted %ld rejected %ld\n", st.accepted, st.rejected);

    char *big = big_line(EVENT_MAX_BYTES + 100);
    if (!big) return;
    big[strlen(big) - 1] = 0; /* drop the newline */
    size_t len = strlen(big) + 128;
    char *array = malloc(len);
    if (array) {
        snprintf(array, len, "[%s,{\"type\":\"track\",\"userId\":\"u\",\"event\":\"E\"}]",
                 big);
        collector a = {0};
        feed_str(array, &a, &st);
        CHECK(counts_are(&st, 1, 1) && a.count == 1,
              "spec: an array element over 32 KB is rejected like an NDJSON line");
    }
    free(array);
    free(big);
}

/* ingest_stream_threaded hands over the same events, flattened: no json,
 * raw and traits_json set, across chunk boundaries, and stops the same. */
static int feed_threaded(const char *text, collector *c, ingest_stats *stats)
{
    size_t len = strlen(text);
    char *copy_of_text = strdup(text);
    FILE *in = copy_of_text ? fmemopen(copy_of_text, len, "r") : NULL;
    if (!in) return free(copy_of_text), -999;
    stats->accepted = stats->rejected = 0;
    int rc = ingest_stream_threaded(in, "threaded", NULL, 0, on_event, c, stats);
    fclose(in);
    free(copy_of_text);
    return rc;
}

static char *many_events(int count)
{
    size_t cap = (size_t)count * 96 + 64, len = 0;
    char *text = malloc(cap);
    for (int i = 0; text && i < count; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                i % 10 == 9 ? "{\"type\":\"track\",\"userId\":\"u%d\"}\n"
                                            : "{\"type\":\"track\",\"userId\":\"u%d\","
                                              "\"event\":\"E\",\"messageId\":\"m%d\"}\n",
                                i, i);
    return text;
}

static void test_threaded(void)
{
    char *text = many_events(1000); /* every tenth is bad */
    if (!text) return;
    collector c = {0};
    ingest_stats st = {0};
    int rc = feed_threaded(text, &c, &st);
    CHECK(rc == 0 && counts_are(&st, 900, 100) && c.count == 900,
          "threaded: same counts as ingest_stream over 1000 lines");
    CHECK(strcmp(c.seen[0].message_id, "m0") == 0 &&
              strcmp(c.seen[9].message_id, "m10") == 0 && c.seen[0].ts_ms > 0 &&
              c.seen[9].line == 11,
          "threaded: fields and line numbers of the events");
    CHECK(!c.seen[0].has_json && c.seen[0].raw_ok == 1,
          "threaded: no json, raw text set");

    collector stop = {.stop_at = 600, .stop_rc = 7};
    rc = feed_threaded(text, &stop, &st);
    CHECK(rc == 7 && stop.count == 600,
          "threaded: the callback's non-zero return stops and is returned");
    free(text);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    test_ndjson();
    test_rejects_one_by_one();
    test_array();
    test_batch();
    test_blank_and_empty();
    test_stop();
    test_threaded();
    test_spec_edges();
    UNIT_DONE();
}
