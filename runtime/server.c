/* The HTTP server of `nudge serve` on libmicrohttpd (one thread per
 * connection): the daemon, the life of a request (routing, header checks,
 * the body under its size limit, write-key auth) and the counted, logged
 * replies.  What each route does is in server_routes.c and server_pages.c. */
#include "server_internal.h"

#include "log.h"
#include "timeutil.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECTION_TIMEOUT_S 30u
#define DEFAULT_THREADS 64
/* An over-size body of up to this many bytes, sent without waiting for
 * "100 Continue", is read and dropped so that the 413 reaches the client;
 * past it the connection is closed. */
#define DRAIN_MAX (4u * BATCH_MAX_BYTES)
#define STOP_WAIT_MS 30000 /* server_stop waits this long for requests in hand */

static const struct route_info {
    const char *path, *allow;
} routes[ROUTE_COUNT] = {
    [ROUTE_TRACK] = {"/v1/track", "POST"},
    [ROUTE_IDENTIFY] = {"/v1/identify", "POST"},
    [ROUTE_PAGE] = {"/v1/page", "POST"},
    [ROUTE_SCREEN] = {"/v1/screen", "POST"},
    [ROUTE_GROUP] = {"/v1/group", "POST"},
    [ROUTE_ALIAS] = {"/v1/alias", "POST"},
    [ROUTE_BATCH] = {"/v1/batch", "POST"},
    [ROUTE_CONSENT] = {"/v1/consent", "POST"},
    [ROUTE_UNSUBSCRIBE] = {"/unsubscribe", "GET, HEAD, POST"},
    [ROUTE_HEALTHZ] = {"/healthz", "GET, HEAD"},
    [ROUTE_METRICS] = {"/metrics", "GET, HEAD"},
    [ROUTE_OTHER] = {"other", NULL},
};

const long server_bucket_us[SERVER_BUCKETS - 1] = {1000,   2500,    5000,    10000,
                                                   25000,  50000,   100000,  250000,
                                                   500000, 1000000, 2500000, 5000000};

const char *server_route_path(enum route route)
{
    return routes[route].path;
}

static int is_intake(enum route route)
{
    return route <= ROUTE_CONSENT;
}

static enum route route_of(const char *url)
{
    for (int i = 0; i < ROUTE_OTHER; i++)
        if (strcmp(url, routes[i].path) == 0) return (enum route)i;
    return ROUTE_OTHER;
}

static int method_allowed(enum route route, const char *method)
{
    if (!strcmp(method, "POST")) return route != ROUTE_HEALTHZ && route != ROUTE_METRICS;
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) return !is_intake(route);
    return 0;
}

/* ---- counting and logging the answers ---- */

static void count_answer(request *r, unsigned status)
{
    server *s = r->server;
    unsigned code = status < SERVER_STATUS_MAX ? status : 0;
    __atomic_add_fetch(&s->answers[r->route][code], 1, __ATOMIC_RELAXED);
    long us = (long)((time_mono_ns() - r->start_ns) / 1000);
    int bucket = 0;
    while (bucket < SERVER_BUCKETS - 1 && us > server_bucket_us[bucket])
        bucket++;
    __atomic_add_fetch(&s->duration_buckets[bucket], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->duration_us_total, us, __ATOMIC_RELAXED);
}

/* Copies TEXT for a log line: printable ASCII only, at most OUT_LEN - 1. */
static void printable(const char *text, char *out, size_t out_len)
{
    size_t n = 0;
    for (; text && *text && n + 1 < out_len; text++)
        out[n++] = *text > ' ' && *text < 127 ? *text : '?';
    out[n] = '\0';
}

static void log_answer(const request *r, unsigned status, const char *reason)
{
    char method[16], path[96];
    printable(r->method ? r->method : "-", method, sizeof method);
    printable(r->route == ROUTE_OTHER ? r->url : routes[r->route].path, path,
              sizeof path);
    if (status >= 500 && status != MHD_HTTP_SERVICE_UNAVAILABLE)
        log_error("http %s %s: %u %s", method, path, status, reason ? reason : "");
    else
        log_warn("http %s %s: %u %s", method, path, status, reason ? reason : "");
}

/* ---- replies ---- */

enum MHD_Result server_reply(request *r, unsigned status, const char *content_type,
                             const char *body, size_t len, const char *const *headers,
                             const char *reason)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!response) return MHD_NO;
    enum MHD_Result ok =
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (int i = 0; ok == MHD_YES && headers && headers[i]; i += 2)
        ok = MHD_add_response_header(response, headers[i], headers[i + 1]);
    if (ok == MHD_YES && __atomic_load_n(&r->server->stopping, __ATOMIC_RELAXED))
        ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    if (ok == MHD_YES) ok = MHD_queue_response(r->connection, status, response);
    MHD_destroy_response(response);
    if (ok != MHD_YES) return MHD_NO;
    r->answered = 1;
    count_answer(r, status);
    if (status >= 400) log_answer(r, status, reason);
    return MHD_YES;
}

enum MHD_Result server_reply_json(request *r, unsigned status, const char *const *headers,
                                  const char *message)
{
    static const char success[] = "{\"success\":true}";
    static const char no_memory[] = "{\"success\":false,\"message\":\"out of memory\"}";
    if (!message)
        return server_reply(r, status, "application/json", success, sizeof success - 1,
                            headers, NULL);
    cJSON *answer = cJSON_CreateObject();
    char *text = NULL;
    if (answer && cJSON_AddFalseToObject(answer, "success") &&
        cJSON_AddStringToObject(answer, "message", message))
        text = cJSON_PrintUnformatted(answer);
    cJSON_Delete(answer);
    enum MHD_Result ok = text ? server_reply(r, status, "application/json", text,
                                             strlen(text), headers, message)
                              : server_reply(r, status, "application/json", no_memory,
                                             sizeof no_memory - 1, headers, message);
    free(text);
    return ok;
}

enum MHD_Result server_reject(request *r, unsigned status, enum reject_reason why,
                              const char *message)
{
    static const char *const challenge[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                            "Basic realm=\"nudge\"", NULL};
    __atomic_add_fetch(&r->server->rejected[why], 1, __ATOMIC_RELAXED);
    return server_reply_json(r, status, why == REJECT_UNAUTHORIZED ? challenge : NULL,
                             message);
}

/* ---- write keys ---- */

/* Whether KEY is one of the write keys, compared in constant time. */
static int key_known(const server *s, const char *key)
{
    size_t len = strlen(key);
    int found = 0;
    for (int i = 0; len && i < s->options.write_key_count; i++) {
        const char *want = s->options.write_keys[i];
        if (want && strlen(want) == len && sodium_memcmp(want, key, len) == 0) found = 1;
    }
    return found;
}

static int basic_authorized(request *r)
{
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(r->connection, &password);
    int ok = user && key_known(r->server, user);
    if (user) MHD_free(user);
    if (password) MHD_free(password);
    return ok;
}

int server_authorized(const request *r, const cJSON *root)
{
    if (r->authorized) return 1;
    const cJSON *key =
        cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "writeKey") : NULL;
    return cJSON_IsString(key) && key_known(r->server, key->valuestring);
}

/* ---- the body ---- */

/* The length of the valid UTF-8 sequence at S (LEFT bytes), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n = c < 0x80                 ? 1
               : c >= 0xC2 && c <= 0xDF ? 2
               : (c >> 4) == 0xE        ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4
                                        : 0;
    if (!n || n > left) return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    if (n == 3) {
        unsigned cp = ((c & 0x0F) << 12) | ((s[1] & 0x3Fu) << 6);
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    if (n == 4) {
        unsigned cp = ((c & 0x07) << 18) | ((s[1] & 0x3Fu) << 12);
        if (cp < 0x10000 || cp > 0x10FFFF) return 0;
    }
    return n;
}

cJSON *server_parse_body(const request *r, char *why, size_t why_len)
{
    const char *text = r->body ? r->body : "";
    size_t len = r->body_len, at = 0;
    if (strspn(text, " \t\r\n") == len) return snprintf(why, why_len, "empty body"), NULL;
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return snprintf(why, why_len, "NUL byte at byte %zu", (size_t)(nul - text) + 1),
               NULL;
    for (size_t n; at < len; at += n)
        if (!(n = utf8_sequence((const unsigned char *)text + at, len - at)))
            return snprintf(why, why_len, "invalid UTF-8 at byte %zu", at + 1), NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (!root)
        snprintf(why, why_len, "cannot parse at byte %zu",
                 end && end >= text ? (size_t)(end - text) + 1 : len);
    return root;
}

/* Appends N bytes to the body, keeping it NUL-terminated. */
static int body_append(request *r, const char *data, size_t n)
{
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *grown = realloc(r->body, cap);
        if (!grown) return -1;
        r->body = grown, r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* ---- the life of a request ---- */

static request *request_new(server *s, struct MHD_Connection *connection)
{
    request *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->server = s;
    r->connection = connection;
    r->start_ns = time_mono_ns();
    __atomic_add_fetch(&s->in_hand, 1, __ATOMIC_RELAXED);
    return r;
}

/* Called by MHD when the request line arrives: the request's first byte. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)uri;
    return request_new(cls, connection);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **state,
                         enum MHD_RequestTerminationCode why)
{
    (void)connection, (void)why;
    request *r = *state;
    if (!r) return;
    if (r->form) MHD_destroy_post_processor(r->form);
    free(r->body);
    __atomic_sub_fetch(&((server *)cls)->in_hand, 1, __ATOMIC_RELAXED);
    free(r);
    *state = NULL;
}

static const char *header(const request *r, const char *name)
{
    return MHD_lookup_connection_value(r->connection, MHD_HEADER_KIND, name);
}

/* Whether the media type of VALUE ("application/json; charset=utf-8") is TYPE. */
static int media_is(const char *value, const char *type)
{
    size_t n = strlen(type);
    value += strspn(value, " \t");
    return strncasecmp(value, type, n) == 0 &&
           (value[n] == '\0' || value[n] == ';' || value[n] == ' ' || value[n] == '\t');
}

/* The reason a body in this encoding is refused (415), or NULL. */
static const char *unsupported_body(const request *r)
{
    const char *encoding = header(r, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (encoding && !media_is(encoding, "identity"))
        return "Content-Encoding must be identity: send the body uncompressed";
    const char *type = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (is_intake(r->route) && type && !media_is(type, "application/json") &&
        !media_is(type, "text/plain"))
        return "Content-Type must be application/json";
    return NULL;
}

/* The body's declared length, or -1 when not declared (chunked). */
static long long declared_length(const request *r)
{
    const char *value = header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end = NULL;
    long long n = value ? strtoll(value, &end, 10) : -1;
    return value && end != value && n >= 0 ? n : -1;
}

static enum MHD_Result reply_too_large(request *r)
{
    char message[64];
    snprintf(message, sizeof message, "request body over %zu KB", r->limit / 1024);
    return server_reject(r, MHD_HTTP_CONTENT_TOO_LARGE, REJECT_TOO_LARGE, message);
}

/* Checks the size the client declares: a 413 now when it waits for "100
 * Continue" or would send too much to drain, else after reading it. */
static enum MHD_Result check_declared_size(request *r)
{
    long long declared = declared_length(r);
    if (declared < 0 || (unsigned long long)declared <= r->limit) {
        if (declared > 0 && r->keep_body) {
            r->body_cap = (size_t)declared + 1;
            if (!(r->body = malloc(r->body_cap))) r->body_cap = 0;
        }
        return MHD_YES;
    }
    const char *expect = header(r, MHD_HTTP_HEADER_EXPECT);
    if ((expect && strcasecmp(expect, "100-continue") == 0) || declared > DRAIN_MAX)
        return reply_too_large(r);
    r->too_large = 1;
    return MHD_YES;
}

/* The first call, once the headers are in: answers what can be answered
 * without the body, and prepares for it. */
static enum MHD_Result request_begin(request *r, const char *url, const char *method)
{
    static const char *const retry[] = {MHD_HTTP_HEADER_RETRY_AFTER, "1", NULL};
    r->started = 1, r->url = url, r->method = method;
    r->route = route_of(url);
    __atomic_add_fetch(&r->server->requests, 1, __ATOMIC_RELAXED);
    if (r->route == ROUTE_OTHER)
        return server_reply_json(r, MHD_HTTP_NOT_FOUND, NULL, "no such endpoint");
    if (!method_allowed(r->route, method)) {
        const char *allow[] = {MHD_HTTP_HEADER_ALLOW, routes[r->route].allow, NULL};
        return server_reply_json(r, MHD_HTTP_METHOD_NOT_ALLOWED, allow,
                                 "method not allowed");
    }
    const char *unsupported = unsupported_body(r);
    if (unsupported)
        return server_reply_json(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, unsupported);
    if (is_intake(r->route) && __atomic_load_n(&r->server->stopping, __ATOMIC_RELAXED))
        return server_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, retry,
                                 "the server is stopping");
    r->limit = r->route == ROUTE_BATCH ? BATCH_MAX_BYTES : EVENT_MAX_BYTES;
    r->keep_body = is_intake(r->route);
    r->authorized = r->server->options.write_key_count <= 0 || basic_authorized(r);
    if (r->route == ROUTE_UNSUBSCRIBE && !strcmp(method, "POST")) pages_form_begin(r);
    return check_declared_size(r);
}

/* A piece of the body: kept (or parsed as a form) within the limit,
 * dropped past it. */
static enum MHD_Result request_upload(request *r, const char *data, size_t *size)
{
    size_t n = *size;
    *size = 0;
    if (r->answered) return MHD_YES;
    r->received += n;
    if (!r->too_large && r->received > r->limit) {
        r->too_large = 1;
        free(r->body);
        r->body = NULL, r->body_len = r->body_cap = 0;
    }
    if (r->too_large) return r->received > DRAIN_MAX ? MHD_NO : MHD_YES;
    if (r->form && MHD_post_process(r->form, data, n) != MHD_YES) {
        MHD_destroy_post_processor(r->form);
        r->form = NULL;
    }
    if (r->keep_body && !r->out_of_memory && body_append(r, data, n))
        r->out_of_memory = 1;
    return MHD_YES;
}

/* The last call, with the whole body in hand. */
static enum MHD_Result request_finish(request *r)
{
    if (r->too_large) return reply_too_large(r);
    if (r->out_of_memory)
        return server_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, "out of memory");
    switch (r->route) {
    case ROUTE_CONSENT:
        return route_consent(r);
    case ROUTE_UNSUBSCRIBE:
        return route_unsubscribe(r);
    case ROUTE_HEALTHZ:
        return route_healthz(r);
    case ROUTE_METRICS:
        return route_metrics(r);
    default:
        return route_events(r);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
                                  const char *url, const char *method,
                                  const char *version, const char *data, size_t *size,
                                  void **state)
{
    (void)version;
    request *r = *state;
    if (!r && !(r = *state = request_new(cls, connection))) return MHD_NO;
    if (!r->started) return request_begin(r, url, method);
    if (*size) return request_upload(r, data, size);
    if (r->answered) return MHD_YES;
    return request_finish(r);
}

/* ---- the daemon ---- */

static void on_mhd_log(void *cls, const char *format, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof text, format, ap);
    text[strcspn(text, "\r\n")] = '\0';
    /* libmicrohttpd 0.9.75 says this even when the logger is given first */
    if (strstr(text, "MHD_OPTION_EXTERNAL_LOGGER is not the first option")) return;
    log_warn("http: %s", text);
}

static struct addrinfo *resolve(const char *host, int port, char *err, size_t err_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc) snprintf(err, err_len, "unknown host \"%s\": %s", host, gai_strerror(rc));
    return rc ? NULL : found;
}

server *server_start(const server_options *o, const server_hooks *hooks, char *err,
                     size_t err_len)
{
    if (o->port < 0 || o->port > 65535)
        return snprintf(err, err_len, "port %d is out of range", o->port), NULL;
    server *s = calloc(1, sizeof *s);
    if (!s) return snprintf(err, err_len, "out of memory"), NULL;
    s->hooks = *hooks, s->options = *o;
    if (!s->options.host || !*s->options.host) s->options.host = "127.0.0.1";
    if (s->options.threads <= 0) s->options.threads = DEFAULT_THREADS;
    struct addrinfo *address = resolve(s->options.host, o->port, err, err_len);
    if (!address) goto fail;
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG |
                     (address->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, address->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->options.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S, MHD_OPTION_URI_LOG_CALLBACK,
        on_uri, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(address);
    if (!s->daemon) {
        snprintf(err, err_len, "%s",
                 saved ? strerror(saved) : "the HTTP server did not start");
        goto fail;
    }
    return s;
fail:
    free(s);
    return NULL;
}

int server_port(const server *s)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : -1;
}

void server_stop(server *s)
{
    if (!s) return;
    __atomic_store_n(&s->stopping, 1, __ATOMIC_RELAXED);
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int waited = 0;
         waited < STOP_WAIT_MS && __atomic_load_n(&s->in_hand, __ATOMIC_RELAXED) > 0;
         waited += 10)
        nanosleep(&pause, NULL);
    MHD_stop_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
    free(s);
}

void server_get_counts(const server *s, server_counts *out)
{
    out->requests = __atomic_load_n(&s->requests, __ATOMIC_RELAXED);
    out->events_accepted = __atomic_load_n(&s->events_accepted, __ATOMIC_RELAXED);
    out->rejected_bad_json =
        __atomic_load_n(&s->rejected[REJECT_BAD_JSON], __ATOMIC_RELAXED);
    out->rejected_bad_shape =
        __atomic_load_n(&s->rejected[REJECT_BAD_SHAPE], __ATOMIC_RELAXED);
    out->rejected_too_large =
        __atomic_load_n(&s->rejected[REJECT_TOO_LARGE], __ATOMIC_RELAXED);
    out->rejected_auth =
        __atomic_load_n(&s->rejected[REJECT_UNAUTHORIZED], __ATOMIC_RELAXED);
}
