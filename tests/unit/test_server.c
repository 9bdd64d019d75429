/* Unit tests for runtime/server.c: the HTTP face of `nudge serve`, started
 * in-process on a free port with fake hooks and driven with libcurl over
 * 127.0.0.1: every endpoint and status, auth, limits, keep-alive, metrics
 * and concurrent requests. */
#include "server.h"
#include "timeutil.h"
#include "unit.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECORDED 64

/* ---- the fake hooks ---- */

typedef struct recorded {
    char type[16], profile[64], message_id[64];
    char *raw, *traits;
} recorded;

typedef struct fake {
    pthread_mutex_t lock;
    recorded events[MAX_RECORDED];
    int count, submits, fail_submit, sleep_ms, healthy, unsubscribed;
    char consent[256];
} fake;

static char *copy(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int fake_submit(void *ctx, nudge_event *events, int count)
{
    fake *f = ctx;
    pthread_mutex_lock(&f->lock);
    f->submits++;
    for (int i = 0; i < count && f->count < MAX_RECORDED; i++) {
        recorded *r = &f->events[f->count++];
        snprintf(r->type, sizeof r->type, "%s", events[i].type);
        snprintf(r->profile, sizeof r->profile, "%s", events[i].profile_id);
        snprintf(r->message_id, sizeof r->message_id, "%s", events[i].message_id);
        r->raw = copy(events[i].raw);
        r->traits = copy(events[i].traits_json);
    }
    pthread_mutex_unlock(&f->lock);
    if (f->sleep_ms) {
        struct timespec pause = {0, (long)f->sleep_ms * 1000000L};
        nanosleep(&pause, NULL);
    }
    return f->fail_submit ? -1 : 0;
}

static int fake_consent(void *ctx, const consent_post *c, char *err, size_t err_len)
{
    fake *f = ctx;
    if (!strcmp(c->profile, "nobody")) return snprintf(err, err_len, "unknown person"), 1;
    pthread_mutex_lock(&f->lock);
    snprintf(f->consent, sizeof f->consent, "%s %s %s %s %s %s", c->profile, c->channel,
             c->purpose, c->status, c->source, c->proof ? c->proof : "-");
    pthread_mutex_unlock(&f->lock);
    return 0;
}

static int fake_unsubscribe(void *ctx, const char *token, int apply, char *done,
                            size_t done_len, char *err, size_t err_len)
{
    fake *f = ctx;
    if (strcmp(token, "good-token") != 0)
        return snprintf(err, err_len, "the token's signature does not match"), 1;
    snprintf(done, done_len, "email (marketing) & <more>");
    if (apply) __atomic_add_fetch(&f->unsubscribed, 1, __ATOMIC_RELAXED);
    return 0;
}

static void fake_metrics(void *ctx, text_buf *b)
{
    (void)ctx;
    text_printf(b, "nudge_test_gauge %d\n", 7);
}

static int fake_healthy(void *ctx)
{
    return ((fake *)ctx)->healthy;
}

static void fake_reset(fake *f)
{
    for (int i = 0; i < f->count; i++)
        free(f->events[i].raw), free(f->events[i].traits);
    f->count = 0;
}

static char *pii[] = {"email", "phone", "birthday"};

static server *start(fake *f, char *const *keys, int key_count)
{
    server_hooks hooks = {
        f, fake_submit, fake_consent, fake_unsubscribe, fake_metrics, fake_healthy};
    server_options o = {.host = "127.0.0.1",
                        .write_keys = keys,
                        .write_key_count = key_count,
                        .pii_fields = pii,
                        .pii_count = 3};
    char err[256] = "";
    server *s = server_start(&o, &hooks, err, sizeof err);
    if (!s) printf("# server_start: %s\n", err);
    return s;
}

/* ---- the client ---- */

typedef struct reply {
    long status;
    char body[65536], headers[8192];
    size_t body_len, headers_len;
} reply;

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    reply *r = user;
    size_t len = size * n, room = sizeof r->body - 1 - r->body_len;
    memcpy(r->body + r->body_len, data, len < room ? len : room);
    r->body_len += len < room ? len : room;
    r->body[r->body_len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    reply *r = user;
    size_t len = size * n, room = sizeof r->headers - 1 - r->headers_len;
    memcpy(r->headers + r->headers_len, data, len < room ? len : room);
    r->headers_len += len < room ? len : room;
    r->headers[r->headers_len] = '\0';
    return len;
}

typedef struct call {
    const char *method, *path, *body, *user;
    long body_len; /* -1: strlen(body) */
    const char *headers[6];
} call;

static int port;

/* Runs C on H (keeping H's connections) into OUT; the status, or -1. */
static long run(CURL *h, const call *c, reply *out)
{
    char url[512];
    struct curl_slist *list = NULL;
    memset(out, 0, sizeof *out);
    curl_easy_reset(h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, c->path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    if (c->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
                         c->body_len >= 0 ? c->body_len : (long)strlen(c->body));
    }
    if (c->method) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    if (c->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERPWD, c->user);
    }
    for (int i = 0; i < 6 && c->headers[i]; i++)
        list = curl_slist_append(list, c->headers[i]);
    if (!c->headers[0] && c->body)
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) printf("# curl %s: %s\n", c->path, curl_easy_strerror(rc));
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    return rc == CURLE_OK ? out->status : -1;
}

static long post(CURL *h, const char *path, const char *body, reply *out)
{
    call c = {.path = path, .body = body, .body_len = -1};
    return run(h, &c, out);
}

static long get(CURL *h, const char *path, reply *out)
{
    call c = {.path = path, .body_len = -1};
    return run(h, &c, out);
}

static int has(const char *text, const char *part)
{
    return strstr(text, part) != NULL;
}

/* ---- the tests ---- */

static void event_routes(CURL *h, fake *f)
{
    static const struct {
        const char *path, *body, *type, *profile;
    } table[] = {
        {"/v1/track",
         "{\"userId\":\"u1\",\"event\":\"Order Completed\","
         "\"properties\":{\"email\":\"buyer@example.com\",\"total\":5}}",
         "track", "u1"},
        {"/v1/identify",
         "{\"userId\":\"u2\",\"traits\":{\"email\":\"jane@example.com\","
         "\"plan\":\"pro\"}}",
         "identify", "u2"},
        {"/v1/page", "{\"anonymousId\":\"a1\",\"name\":\"Home\"}", "page", "a1"},
        {"/v1/screen", "{\"userId\":\"u3\",\"name\":\"Cart\",\"type\":\"screen\"}",
         "screen", "u3"},
        {"/v1/group", "{\"userId\":\"u4\",\"groupId\":\"g1\"}", "group", "u4"},
        {"/v1/alias", "{\"userId\":\"u5\",\"previousId\":\"a1\"}", "alias", "u5"},
    };
    reply out;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char name[96];
        fake_reset(f);
        long status = post(h, table[i].path, table[i].body, &out);
        snprintf(name, sizeof name, "POST %s: 200 {\"success\":true}", table[i].path);
        CHECK(status == 200 && !strcmp(out.body, "{\"success\":true}"), name);
        snprintf(name, sizeof name, "POST %s: one %s event for %s", table[i].path,
                 table[i].type, table[i].profile);
        CHECK(f->count == 1 && !strcmp(f->events[0].type, table[i].type) &&
                  !strcmp(f->events[0].profile, table[i].profile),
              name);
        snprintf(name, sizeof name, "POST %s: JSON content type", table[i].path);
        CHECK(has(out.headers, "Content-Type: application/json"), name);
    }
    fake_reset(f);
}

/* What the hooks receive: the type in raw, PII masked, traits kept. */
static void event_contents(CURL *h, fake *f)
{
    reply out;
    fake_reset(f);
    post(h, "/v1/track",
         "{\"userId\":\"u1\",\"event\":\"Order Completed\","
         "\"properties\":{\"email\":\"buyer@example.com\",\"total\":5}}",
         &out);
    CHECK(f->count == 1 && f->events[0].raw &&
              has(f->events[0].raw, "\"type\":\"track\""),
          "track: raw carries the type set from the path");
    CHECK(f->count == 1 && !has(f->events[0].raw, "buyer@example.com") &&
              has(f->events[0].raw, "\"total\":5"),
          "track: PII property masked in raw, the rest kept");
    fake_reset(f);
    post(h, "/v1/identify",
         "{\"userId\":\"u2\",\"traits\":{\"email\":\"jane@example.com\",\"plan\":\"pro\"}"
         "}",
         &out);
    CHECK(f->count == 1 && !has(f->events[0].raw, "jane@example.com"),
          "identify: PII trait masked in raw");
    CHECK(f->count == 1 && f->events[0].traits &&
              has(f->events[0].traits, "jane@example.com"),
          "identify: traits_json keeps the PII for the encrypted store");
    CHECK(f->count == 1 && !strncmp(f->events[0].message_id, "h-", 2),
          "identify: a derived messageId");
    fake_reset(f);
}

static void batch_route(CURL *h, fake *f)
{
    reply out;
    fake_reset(f);
    long status =
        post(h, "/v1/batch",
             "{\"batch\":[{\"type\":\"track\",\"userId\":\"b1\",\"event\":\"A\","
             "\"messageId\":\"m1\"},{\"type\":\"identify\",\"userId\":\"b2\","
             "\"traits\":{\"plan\":\"x\"},\"context\":{\"own\":1}}],"
             "\"context\":{\"library\":{\"name\":\"unit\"}},\"writeKey\":\"x\"}",
             &out);
    CHECK(status == 200, "batch: 200");
    CHECK(f->count == 2 && !strcmp(f->events[0].type, "track") &&
              !strcmp(f->events[1].type, "identify") &&
              !strcmp(f->events[0].message_id, "m1"),
          "batch: both events, in order, with their types");
    CHECK(f->count == 2 && has(f->events[0].raw, "\"library\"") &&
              !has(f->events[1].raw, "\"library\"") && has(f->events[1].raw, "\"own\""),
          "batch: the envelope's context goes to elements without one");
    fake_reset(f);
    int submits = f->submits;
    status = post(h, "/v1/batch", "{\"batch\":[]}", &out);
    CHECK(status == 200 && f->submits == submits,
          "batch: an empty batch is 200, no submit");
    status = post(h, "/v1/batch",
                  "{\"batch\":[{\"type\":\"track\",\"userId\":\"b1\",\"event\":\"A\"},"
                  "{\"type\":\"track\",\"event\":\"B\"}]}",
                  &out);
    CHECK(status == 400 && has(out.body, "element 1") &&
              has(out.body, "missing userId or anonymousId"),
          "batch: a bad element is 400 naming its index and reason");
    CHECK(f->count == 0, "batch: nothing of a bad batch is submitted");
    status =
        post(h, "/v1/batch", "{\"batch\":[{\"userId\":\"b1\",\"event\":\"A\"}]}", &out);
    CHECK(status == 400 && has(out.body, "element 0") && has(out.body, "type"),
          "batch: an element without its type is 400");
    status = post(h, "/v1/batch", "{\"batch\":{}}", &out);
    CHECK(status == 400 && has(out.body, "batch"), "batch: batch not an array is 400");
    status = post(h, "/v1/batch", "[{\"type\":\"track\"}]", &out);
    CHECK(status == 400, "batch: a bare array is 400");
}

static void bad_requests(CURL *h, fake *f)
{
    reply out;
    long status = post(h, "/v1/track", "{\"userId\":", &out);
    CHECK(status == 400 && has(out.body, "\"success\":false") &&
              has(out.body, "bad JSON"),
          "bad JSON: 400 {\"success\":false,\"message\":\"bad JSON: ...\"}");
    status = post(h, "/v1/track", "{\"type\":\"identify\",\"userId\":\"u\"}", &out);
    CHECK(status == 400 && has(out.body, "type"), "track with type identify: 400");
    status = post(h, "/v1/track", "{\"userId\":\"u\"}", &out);
    CHECK(status == 400 && has(out.body, "event"), "track without event name: 400");
    status = post(h, "/v1/page", "{\"name\":\"x\"}", &out);
    CHECK(status == 400 && has(out.body, "userId"), "page without ids: 400");
    status = post(h, "/v1/track", "[1,2]", &out);
    CHECK(status == 400, "an array to /v1/track: 400");
    status = post(h, "/v1/track", "", &out);
    CHECK(status == 400 && has(out.body, "empty"), "empty body: 400");
    call nul = {.path = "/v1/track",
                .body = "{\"userId\":\"u\0\",\"event\":\"e\"}",
                .body_len = 28};
    CHECK(run(h, &nul, &out) == 400 && has(out.body, "NUL"), "a NUL byte: 400");
    status = post(h, "/v1/track", "{\"userId\":\"\xff\xfe\",\"event\":\"e\"}", &out);
    CHECK(status == 400 && has(out.body, "UTF-8"), "invalid UTF-8: 400");
    status = post(h, "/v1/track", "{\"userId\":\"\xed\xa0\x80\",\"event\":\"e\"}", &out);
    CHECK(status == 400 && has(out.body, "UTF-8"), "an encoded surrogate: 400");
    char deep[20001];
    memset(deep, '[', 10000), memset(deep + 10000, ']', 10000), deep[20000] = '\0';
    status = post(h, "/v1/batch", deep, &out);
    CHECK(status == 400 && has(out.body, "bad JSON"), "nesting 10000 deep: 400");
    status = post(h, "/v1/track",
                  "{\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"n\":1e999999,"
                  "\"m\":-123456789012345678901234567890}}",
                  &out);
    CHECK(status == 200, "huge numbers: accepted");
    status = post(h, "/v1/track",
                  "{\"userId\":\"u\",\"event\":\"e\",\"timestamp\":\"soon\"}", &out);
    CHECK(status == 400 && has(out.body, "timestamp"), "a bad timestamp: 400");
    status = post(h, "/v1/track", "{\"userId\":\"u\",\"event\":\"e\"} trailing", &out);
    CHECK(status == 400 && has(out.body, "bad JSON"), "trailing garbage: 400");
    fake_reset(f);
}

static void auth(fake *f)
{
    char *keys[] = {"wk_live_123", "wk_other"};
    server *s = start(f, keys, 2);
    CHECK(s != NULL, "auth: server starts");
    if (!s) return;
    port = server_port(s);
    CURL *h = curl_easy_init();
    reply out;
    const char *body = "{\"userId\":\"u\",\"event\":\"e\"}";
    long status = post(h, "/v1/track", body, &out);
    CHECK(status == 401 && has(out.body, "\"success\":false"), "auth: no key is 401");
    CHECK(has(out.headers, "WWW-Authenticate: Basic realm=\"nudge\""),
          "auth: 401 asks for Basic auth");
    call bad = {.path = "/v1/track", .body = body, .body_len = -1, .user = "wk_live_12:"};
    CHECK(run(h, &bad, &out) == 401, "auth: an unknown key is 401");
    call good = {
        .path = "/v1/track", .body = body, .body_len = -1, .user = "wk_other:pw"};
    CHECK(run(h, &good, &out) == 200, "auth: a write key as Basic user name is 200");
    fake_reset(f);
    status =
        post(h, "/v1/track",
             "{\"userId\":\"u\",\"event\":\"e\",\"writeKey\":\"wk_live_123\"}", &out);
    CHECK(status == 200, "auth: writeKey in the body is 200");
    CHECK(f->count == 1 && !has(f->events[0].raw, "wk_live_123"),
          "auth: the writeKey is not stored with the event");
    status = post(h, "/v1/batch", "{\"batch\":[],\"writeKey\":\"nope\"}", &out);
    CHECK(status == 401, "auth: a wrong writeKey in a batch is 401");
    status = post(h, "/v1/track", "{bad", &out);
    CHECK(status == 401, "auth: bad JSON without a key is 401, not 400");
    status = post(h, "/v1/consent",
                  "{\"userId\":\"u\",\"channel\":\"sms\",\"status\":\"granted\"}", &out);
    CHECK(status == 401, "auth: consent needs the key too");
    CHECK(get(h, "/healthz", &out) == 200, "auth: healthz needs no key");
    server_counts counts;
    server_get_counts(s, &counts);
    CHECK(counts.rejected_auth == 5, "auth: counted as unauthorized");
    curl_easy_cleanup(h);
    server_stop(s);
    fake_reset(f);
}

/* An event of about SIZE bytes, starting with PREFIX ("{" or "{\"type\":...,"). */
static char *big_event(const char *prefix, size_t size)
{
    char *text = malloc(size + 64);
    int n = snprintf(
        text, 128, "%s\"userId\":\"u\",\"event\":\"e\",\"properties\":{\"p\":\"", prefix);
    memset(text + n, 'x', size - (size_t)n);
    strcpy(text + size, "\"}}");
    return text;
}

static char *big_batch(size_t size)
{
    const char *one = "{\"type\":\"track\",\"userId\":\"u\",\"event\":\"e\"},";
    size_t len = strlen(one), at = 10;
    char *text = malloc(size + len + 16);
    memcpy(text, "{\"batch\":[", 10);
    while (at < size)
        memcpy(text + at, one, len), at += len;
    strcpy(text + at - 1, "]}");
    return text;
}

static void limits(CURL *h, fake *f)
{
    reply out;
    char *event = big_event("{", 33 * 1024);
    long status = post(h, "/v1/track", event, &out);
    CHECK(status == 413 && has(out.body, "\"success\":false"), "a 33 KB event is 413");
    free(event);
    event = big_event("{", 31 * 1024);
    CHECK(post(h, "/v1/track", event, &out) == 200, "a 31 KB event is 200");
    free(event);
    char *batch = malloc(40 * 1024);
    event = big_event("{\"type\":\"track\",", 31 * 1024);
    snprintf(batch, 40 * 1024, "{\"batch\":[%s]}", event);
    CHECK(post(h, "/v1/batch", batch, &out) == 200,
          "a batch with a 31 KB element is 200");
    free(event);
    event = big_event("{\"type\":\"track\",", 33 * 1024);
    snprintf(batch, 40 * 1024, "{\"batch\":[{\"type\":\"page\",\"userId\":\"u\"},%s]}",
             event);
    status = post(h, "/v1/batch", batch, &out);
    CHECK(status == 413 && has(out.body, "element 1") && has(out.body, "32 KB"),
          "a batch element over 32 KB is 413 naming it");
    free(batch), free(event);
    fake_reset(f);
    batch = big_batch(501 * 1024);
    CHECK(post(h, "/v1/batch", batch, &out) == 413, "a 501 KB batch is 413 (Expect)");
    call no_expect = {.path = "/v1/batch",
                      .body = batch,
                      .body_len = -1,
                      .headers = {"Content-Type: application/json", "Expect:"}};
    CHECK(run(h, &no_expect, &out) == 413, "a 501 KB batch is 413 (no Expect)");
    free(batch);
    batch = big_batch(499 * 1024);
    CHECK(post(h, "/v1/batch", batch, &out) == 200, "a 499 KB batch is 200");
    free(batch);
    CHECK(f->count == MAX_RECORDED, "the 499 KB batch was submitted");
    fake_reset(f);
}

/* Reads *USER more blanks: a body of unannounced length. */
static size_t read_blanks(char *buffer, size_t size, size_t n, void *user)
{
    size_t *left = user, len = size * n < *left ? size * n : *left;
    memset(buffer, ' ', len);
    *left -= len;
    return len;
}

/* A body sent chunked (no Content-Length) is cut off at the limit too. */
static void chunked_limit(CURL *h)
{
    reply out;
    size_t left = 600 * 1024;
    char url[128];
    struct curl_slist *list = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    list = curl_slist_append(list, "Content-Type: application/json");
    memset(&out, 0, sizeof out);
    curl_easy_reset(h);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/batch", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_blanks);
    curl_easy_setopt(h, CURLOPT_READDATA, &left);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    CHECK(rc == CURLE_OK && status == 413, "a 600 KB chunked body is 413");
}

static void methods_and_media(CURL *h)
{
    reply out;
    call gzip = {.path = "/v1/track",
                 .body = "{}",
                 .body_len = -1,
                 .headers = {"Content-Type: application/json", "Content-Encoding: gzip"}};
    CHECK(run(h, &gzip, &out) == 415 && has(out.body, "Content-Encoding"),
          "Content-Encoding gzip is 415");
    call form = {.path = "/v1/track",
                 .body = "{}",
                 .body_len = -1,
                 .headers = {"Content-Type: application/x-www-form-urlencoded"}};
    CHECK(run(h, &form, &out) == 415, "a form Content-Type is 415");
    call text = {.path = "/v1/track",
                 .body = "{\"userId\":\"u\",\"event\":\"e\"}",
                 .body_len = -1,
                 .headers = {"Content-Type: text/plain;charset=UTF-8"}};
    CHECK(run(h, &text, &out) == 200, "text/plain is accepted");
    CHECK(get(h, "/nope", &out) == 404 && has(out.headers, "application/json") &&
              has(out.body, "\"success\":false"),
          "an unknown path is 404 JSON");
    CHECK(post(h, "/v1/track/", "{}", &out) == 404, "a trailing slash is 404");
    CHECK(get(h, "/v1/track", &out) == 405 && has(out.headers, "Allow: POST"),
          "GET /v1/track is 405 with Allow: POST");
    call put = {.method = "PUT", .path = "/healthz", .body = "x", .body_len = -1};
    CHECK(run(h, &put, &out) == 405 && has(out.headers, "Allow: GET, HEAD"),
          "PUT /healthz is 405");
    call del = {.method = "DELETE", .path = "/unsubscribe", .body_len = -1};
    CHECK(run(h, &del, &out) == 405 && has(out.headers, "Allow: GET, HEAD, POST"),
          "DELETE /unsubscribe is 405");
}

static void consent(CURL *h, fake *f)
{
    reply out;
    long status = post(h, "/v1/consent",
                       "{\"userId\":\"u1\",\"channel\":\"sms\",\"status\":\"granted\","
                       "\"proof\":\"form 12\"}",
                       &out);
    CHECK(status == 200 && !strcmp(out.body, "{\"success\":true}"), "consent: 200");
    CHECK_STR(f->consent, "u1 sms marketing granted api form 12",
              "consent: defaults purpose and source");
    status = post(
        h, "/v1/consent",
        "{\"anonymousId\":\"a1\",\"channel\":\"email\",\"purpose\":\"transactional\","
        "\"granted\":false,\"source\":\"crm\"}",
        &out);
    CHECK(status == 200, "consent: granted false, anonymousId");
    CHECK_STR(f->consent, "a1 email transactional revoked crm -",
              "consent: fields passed");
    status = post(h, "/v1/consent", "{\"userId\":\"u1\",\"status\":\"granted\"}", &out);
    CHECK(status == 400 && has(out.body, "channel"), "consent: missing channel is 400");
    status = post(h, "/v1/consent", "{\"userId\":\"u1\",\"channel\":\"sms\"}", &out);
    CHECK(status == 400 && has(out.body, "status"), "consent: missing status is 400");
    status = post(h, "/v1/consent",
                  "{\"userId\":\"u1\",\"channel\":\"sms\",\"status\":\"maybe\"}", &out);
    CHECK(status == 400 && has(out.body, "status"), "consent: a bad status is 400");
    status =
        post(h, "/v1/consent",
             "{\"userId\":\"u1\",\"channel\":\"SMS!\",\"status\":\"granted\"}", &out);
    CHECK(status == 400 && has(out.body, "channel"), "consent: a bad channel is 400");
    status = post(h, "/v1/consent",
                  "{\"userId\":\"u1\",\"channel\":\"sms\",\"purpose\":\"spam\","
                  "\"status\":\"granted\"}",
                  &out);
    CHECK(status == 400 && has(out.body, "purpose"), "consent: a bad purpose is 400");
    status = post(h, "/v1/consent", "{\"channel\":\"sms\",\"status\":\"granted\"}", &out);
    CHECK(status == 400 && has(out.body, "userId"), "consent: no person is 400");
    status =
        post(h, "/v1/consent",
             "{\"userId\":\"nobody\",\"channel\":\"sms\",\"status\":\"revoked\"}", &out);
    CHECK(status == 404 && has(out.body, "unknown person"),
          "consent: unknown person is 404");
}

static void unsubscribe(CURL *h, fake *f)
{
    reply out;
    long status = get(h, "/unsubscribe?token=good-token", &out);
    CHECK(status == 200 && has(out.headers, "text/html; charset=utf-8"),
          "unsubscribe GET: 200 HTML");
    CHECK(has(out.body, "Unsubscribe from email (marketing) &amp; &lt;more&gt;?") &&
              has(out.body, "<form method=\"post\">"),
          "unsubscribe GET: escaped question and a post form");
    CHECK(f->unsubscribed == 0, "unsubscribe GET: applies nothing");
    call one_click = {.path = "/unsubscribe?token=good-token",
                      .body = "List-Unsubscribe=One-Click",
                      .body_len = -1,
                      .headers = {"Content-Type: application/x-www-form-urlencoded"}};
    status = run(h, &one_click, &out);
    CHECK(status == 200 && has(out.body, "You are unsubscribed from email (marketing)"),
          "unsubscribe POST (RFC 8058): 200 page");
    CHECK(!has(out.headers, "Location:") && f->unsubscribed == 1,
          "unsubscribe POST: applied, no redirect");
    call in_form = {.path = "/unsubscribe",
                    .body = "token=good-token",
                    .body_len = -1,
                    .headers = {"Content-Type: application/x-www-form-urlencoded"}};
    CHECK(run(h, &in_form, &out) == 200 && f->unsubscribed == 2,
          "unsubscribe POST: token in the form body");
    call button = {.path = "/unsubscribe?token=good-token",
                   .body = "",
                   .body_len = 0,
                   .headers = {"Content-Type: application/x-www-form-urlencoded"}};
    CHECK(run(h, &button, &out) == 200 && f->unsubscribed == 3,
          "unsubscribe POST: the page's button");
    status = get(h, "/unsubscribe?token=forged", &out);
    CHECK(status == 400 && has(out.body, "signature does not match") &&
              !has(out.body, "forged"),
          "unsubscribe: a bad token is 400 with the reason");
    CHECK(get(h, "/unsubscribe", &out) == 400 && has(out.body, "no token"),
          "unsubscribe: no token is 400");
    CHECK(get(h, "/unsubscribe?token=", &out) == 400,
          "unsubscribe: an empty token is 400");
}

static void health_and_metrics(CURL *h, fake *f)
{
    reply out;
    CHECK(get(h, "/healthz", &out) == 200 && !strcmp(out.body, "ok\n"),
          "healthz: 200 ok");
    f->healthy = 0;
    CHECK(get(h, "/healthz", &out) == 503 && !strcmp(out.body, "stopping\n"),
          "healthz: 503 stopping");
    f->healthy = 1;
    CHECK(get(h, "/metrics", &out) == 200 &&
              has(out.headers, "Content-Type: text/plain; version=0.0.4"),
          "metrics: 200 Prometheus text");
    CHECK(
        has(out.body, "nudge_http_requests_total{path=\"/v1/track\",code=\"200\"}") &&
            has(out.body, "nudge_http_requests_total{path=\"/v1/batch\",code=\"413\"}") &&
            has(out.body, "nudge_http_requests_total{path=\"other\",code=\"404\"}"),
        "metrics: requests by path and code");
    CHECK(has(out.body, "nudge_events_received_total ") &&
              !has(out.body, "nudge_events_received_total 0\n"),
          "metrics: events received");
    CHECK(has(out.body, "nudge_events_rejected_total{reason=\"bad_json\"}") &&
              has(out.body, "nudge_events_rejected_total{reason=\"bad_shape\"}") &&
              has(out.body, "nudge_events_rejected_total{reason=\"too_large\"}") &&
              has(out.body, "nudge_events_rejected_total{reason=\"unauthorized\"} 0"),
          "metrics: rejections by reason");
    CHECK(
        has(out.body, "nudge_http_request_duration_seconds_bucket{le=\"0.001\"}") &&
            has(out.body, "nudge_http_request_duration_seconds_bucket{le=\"0.0025\"}") &&
            has(out.body, "nudge_http_request_duration_seconds_bucket{le=\"+Inf\"}") &&
            has(out.body, "nudge_http_request_duration_seconds_sum ") &&
            has(out.body, "nudge_http_request_duration_seconds_count "),
        "metrics: the duration histogram");
    CHECK(has(out.body, "nudge_test_gauge 7\n"), "metrics: the hooks' lines follow");
}

static void keep_alive(CURL *h)
{
    reply out;
    long connects = -1;
    get(h, "/healthz", &out);
    post(h, "/v1/track", "{\"userId\":\"k\",\"event\":\"e\"}", &out);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
    CHECK(out.status == 200 && connects == 0, "keep-alive: the second request reuses it");
}

static void *one_request(void *arg)
{
    long *status = arg;
    CURL *h = curl_easy_init();
    reply *out = malloc(sizeof *out);
    *status =
        h && out ? post(h, "/v1/track", "{\"userId\":\"c\",\"event\":\"e\"}", out) : -1;
    free(out);
    curl_easy_cleanup(h);
    return NULL;
}

static void concurrency(fake *f)
{
    pthread_t threads[32];
    long statuses[32];
    f->sleep_ms = 100;
    int64_t start = time_mono_ns();
    for (int i = 0; i < 32; i++)
        pthread_create(&threads[i], NULL, one_request, &statuses[i]);
    int ok = 1;
    for (int i = 0; i < 32; i++) {
        pthread_join(threads[i], NULL);
        ok = ok && statuses[i] == 200;
    }
    int64_t ms = (time_mono_ns() - start) / 1000000;
    f->sleep_ms = 0;
    printf("# 32 concurrent requests with a 100 ms submit: %lld ms\n", (long long)ms);
    CHECK(ok, "concurrency: 32 requests at once all 200");
    CHECK(ms < 1600, "concurrency: they overlap (well under 32 x 100 ms)");
    fake_reset(f);
}

static void failing_submit(fake *f)
{
    f->fail_submit = 1;
    server *s = start(f, NULL, 0);
    CHECK(s != NULL, "failing submit: server starts");
    if (!s) return;
    port = server_port(s);
    CURL *h = curl_easy_init();
    reply out;
    long status = post(h, "/v1/track", "{\"userId\":\"u\",\"event\":\"e\"}", &out);
    CHECK(status == 503 && has(out.headers, "Retry-After: 1") &&
              has(out.body, "\"success\":false"),
          "a failing submit is 503 with Retry-After: 1");
    server_counts counts;
    server_get_counts(s, &counts);
    CHECK(counts.events_accepted == 0 && counts.requests == 1,
          "a failed submit accepts nothing");
    curl_easy_cleanup(h);
    server_stop(s);
    f->fail_submit = 0;
    fake_reset(f);
}

/* server_stop answers a request blocked in submit before it returns. */
static void stop_in_flight(fake *f)
{
    server *s = start(f, NULL, 0);
    CHECK(s != NULL, "stop: server starts");
    if (!s) return;
    port = server_port(s);
    f->sleep_ms = 300;
    long status = 0;
    pthread_t thread;
    pthread_create(&thread, NULL, one_request, &status);
    struct timespec pause = {0, 100 * 1000000L};
    nanosleep(&pause, NULL);
    server_stop(s);
    pthread_join(thread, NULL);
    f->sleep_ms = 0;
    CHECK(status == 200, "stop: the request in hand is answered");
    fake_reset(f);
}

static void start_errors(fake *f)
{
    server *s = start(f, NULL, 0);
    if (!s) return;
    server_hooks hooks = {.ctx = f, .submit = fake_submit};
    server_options o = {.host = "127.0.0.1", .port = server_port(s)};
    char err[256] = "";
    server *again = server_start(&o, &hooks, err, sizeof err);
    printf("# port in use: %s\n", err);
    CHECK(!again && err[0], "a port in use is refused with a reason");
    server_stop(again);
    o.host = "no such host.invalid";
    o.port = 0;
    again = server_start(&o, &hooks, err, sizeof err);
    printf("# bad host: %s\n", err);
    CHECK(!again && err[0], "a bad host is refused with a reason");
    server_stop(again);
    server_stop(s);
    server_stop(NULL);
}

int main(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
    fake f = {.lock = PTHREAD_MUTEX_INITIALIZER, .healthy = 1};
    server *s = start(&f, NULL, 0);
    CHECK(s != NULL && server_port(s) > 0, "the server listens on a free port");
    if (s) {
        port = server_port(s);
        CURL *h = curl_easy_init();
        event_routes(h, &f);
        event_contents(h, &f);
        batch_route(h, &f);
        bad_requests(h, &f);
        limits(h, &f);
        chunked_limit(h);
        methods_and_media(h);
        consent(h, &f);
        unsubscribe(h, &f);
        keep_alive(h);
        concurrency(&f);
        health_and_metrics(h, &f);
        server_counts counts;
        server_get_counts(s, &counts);
        CHECK(counts.requests > 50 && counts.events_accepted > 40 &&
                  counts.rejected_bad_json >= 5 && counts.rejected_bad_shape >= 5 &&
                  counts.rejected_too_large >= 4 && counts.rejected_auth == 0,
              "server_get_counts: the intake counters");
        curl_easy_cleanup(h);
        server_stop(s);
    }
    auth(&f);
    failing_submit(&f);
    stop_in_flight(&f);
    start_errors(&f);
    fake_reset(&f);
    curl_global_cleanup();
    UNIT_DONE();
}
