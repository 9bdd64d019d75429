/* The server's answers that are not JSON: the one-click unsubscribe pages
 * (RFC 8058; small self-contained HTML, never a redirect), GET /healthz and
 * the Prometheus text of GET /metrics. */
#include "server_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void text_printf(text_buf *b, const char *fmt, ...)
{
    while (!b->failed) {
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
        } else if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = b->cap ? b->cap : 1024;
            while (cap - b->len <= (size_t)n)
                cap *= 2;
            char *grown = realloc(b->data, cap);
            if (grown)
                b->data = grown, b->cap = cap;
            else
                b->failed = 1;
        }
    }
}

/* ---- the unsubscribe pages ---- */

static void html_escape(text_buf *b, const char *text)
{
    for (; *text; text++) {
        switch (*text) {
        case '&':
            text_printf(b, "&amp;");
            break;
        case '<':
            text_printf(b, "&lt;");
            break;
        case '>':
            text_printf(b, "&gt;");
            break;
        case '"':
            text_printf(b, "&quot;");
            break;
        case '\'':
            text_printf(b, "&#39;");
            break;
        default:
            text_printf(b, "%c", *text);
        }
    }
}

/* A page: HEADING and LINE (may be NULL) as escaped text, then
 * TRUSTED_TAIL (HTML of ours, may be NULL). */
static enum MHD_Result reply_page(request *r, unsigned status, const char *heading,
                                  const char *line, const char *trusted_tail,
                                  const char *reason)
{
    static const char *const headers[] = {
        MHD_HTTP_HEADER_CACHE_CONTROL,
        "no-store",
        "Referrer-Policy",
        "no-referrer",
        MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS,
        "nosniff",
        MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'",
        NULL};
    text_buf b = {0};
    text_printf(&b,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                "<title>Unsubscribe</title><style>body{font-family:system-ui,sans-serif;"
                "max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
                "button{font-size:1rem;padding:.6rem 1.4rem;cursor:pointer}</style>"
                "</head><body><h1>");
    html_escape(&b, heading);
    text_printf(&b, "</h1>");
    if (line) {
        text_printf(&b, "<p>");
        html_escape(&b, line);
        text_printf(&b, "</p>");
    }
    text_printf(&b, "%s</body></html>\n", trusted_tail ? trusted_tail : "");
    enum MHD_Result ok = b.failed ? server_reply_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                                      NULL, "out of memory")
                                  : server_reply(r, status, "text/html; charset=utf-8",
                                                 b.data, b.len, headers, reason);
    free(b.data);
    return ok;
}

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data,
                                     uint64_t offset, size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding, (void)offset;
    request *r = cls;
    if (!key || strcmp(key, "token") != 0 || r->form_token_too_long) return MHD_YES;
    if (size > FORM_TOKEN_MAX - r->form_token_len) {
        r->form_token_too_long = 1;
        return MHD_YES;
    }
    memcpy(r->form_token + r->form_token_len, data, size);
    r->form_token_len += size;
    r->form_token[r->form_token_len] = '\0';
    return MHD_YES;
}

void pages_form_begin(request *r)
{
    r->form = MHD_create_post_processor(r->connection, 1024, on_form_field, r);
}

/* The token from the query string, else from the form body; NULL with
 * *TOO_LONG when the form's was refused. */
static const char *token_of(const request *r, int *too_long)
{
    const char *token =
        MHD_lookup_connection_value(r->connection, MHD_GET_ARGUMENT_KIND, "token");
    *too_long = 0;
    if (token && *token) return token;
    if (r->form_token_too_long) return *too_long = 1, NULL;
    return r->form_token_len ? r->form_token : NULL;
}

enum MHD_Result route_unsubscribe(request *r)
{
    static const char button[] =
        "<form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>";
    server *s = r->server;
    int apply = strcmp(r->method, "POST") == 0, too_long;
    const char *token = token_of(r, &too_long);
    if (!token)
        return reply_page(r, MHD_HTTP_BAD_REQUEST, "This unsubscribe link is not valid.",
                          too_long ? "Its token is too long." : "It has no token.", NULL,
                          too_long ? "token too long" : "no token");
    char done[160] = "", err[160] = "", heading[224];
    int rc = s->hooks.unsubscribe ? s->hooks.unsubscribe(s->hooks.ctx, token, apply, done,
                                                         sizeof done, err, sizeof err)
                                  : -1;
    if (rc == 1)
        return reply_page(r, MHD_HTTP_BAD_REQUEST, "This unsubscribe link is not valid.",
                          err[0] ? err : NULL, NULL, err[0] ? err : "token refused");
    if (rc != 0)
        return reply_page(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "Something went wrong on our side.",
                          "Nothing was changed. Please try again in a minute.", NULL,
                          err[0] ? err : "unsubscribe failed");
    if (apply) {
        snprintf(heading, sizeof heading, "You are unsubscribed from %s.", done);
        return reply_page(r, MHD_HTTP_OK, heading, NULL, NULL, NULL);
    }
    snprintf(heading, sizeof heading, "Unsubscribe from %s?", done);
    return reply_page(r, MHD_HTTP_OK, heading, NULL, button, NULL);
}

/* ---- health and metrics ---- */

enum MHD_Result route_healthz(request *r)
{
    server *s = r->server;
    int healthy = !__atomic_load_n(&s->stopping, __ATOMIC_RELAXED) &&
                  (!s->hooks.healthy || s->hooks.healthy(s->hooks.ctx));
    if (healthy) return server_reply(r, MHD_HTTP_OK, "text/plain", "ok\n", 3, NULL, NULL);
    return server_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "stopping\n", 9,
                        NULL, "not healthy");
}

static long load(const long *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static void metrics_requests(const server *s, text_buf *b)
{
    text_printf(b,
                "# HELP nudge_http_requests_total HTTP requests answered, by route and "
                "status.\n# TYPE nudge_http_requests_total counter\n");
    for (int route = 0; route < ROUTE_COUNT; route++)
        for (int code = 0; code < SERVER_STATUS_MAX; code++) {
            long n = load(&s->answers[route][code]);
            if (n)
                text_printf(b, "nudge_http_requests_total{path=\"%s\",code=\"%d\"} %ld\n",
                            server_route_path((enum route)route), code, n);
        }
}

static void metrics_intake(const server *s, text_buf *b)
{
    static const char *const reasons[REJECT_COUNT] = {[REJECT_BAD_JSON] = "bad_json",
                                                      [REJECT_BAD_SHAPE] = "bad_shape",
                                                      [REJECT_TOO_LARGE] = "too_large",
                                                      [REJECT_UNAUTHORIZED] =
                                                          "unauthorized"};
    text_printf(b,
                "# HELP nudge_events_received_total Events accepted and committed.\n"
                "# TYPE nudge_events_received_total counter\n"
                "nudge_events_received_total %ld\n",
                load(&s->events_accepted));
    text_printf(b,
                "# HELP nudge_events_rejected_total Intake requests (/v1/*) refused, by "
                "reason.\n# TYPE nudge_events_rejected_total counter\n");
    for (int i = 0; i < REJECT_COUNT; i++)
        text_printf(b, "nudge_events_rejected_total{reason=\"%s\"} %ld\n", reasons[i],
                    load(&s->rejected[i]));
}

static void metrics_durations(const server *s, text_buf *b)
{
    text_printf(b,
                "# HELP nudge_http_request_duration_seconds Time from a request's first "
                "byte to its response.\n"
                "# TYPE nudge_http_request_duration_seconds histogram\n");
    long total = 0;
    for (int i = 0; i < SERVER_BUCKETS; i++) {
        total += load(&s->duration_buckets[i]);
        if (i < SERVER_BUCKETS - 1)
            text_printf(b, "nudge_http_request_duration_seconds_bucket{le=\"%g\"} %ld\n",
                        server_bucket_us[i] / 1e6, total);
        else
            text_printf(b,
                        "nudge_http_request_duration_seconds_bucket{le=\"+Inf\"} %ld\n",
                        total);
    }
    text_printf(b,
                "nudge_http_request_duration_seconds_sum %.6f\n"
                "nudge_http_request_duration_seconds_count %ld\n",
                load(&s->duration_us_total) / 1e6, total);
}

enum MHD_Result route_metrics(request *r)
{
    server *s = r->server;
    text_buf b = {0};
    metrics_requests(s, &b);
    metrics_intake(s, &b);
    metrics_durations(s, &b);
    if (s->hooks.metrics) s->hooks.metrics(s->hooks.ctx, &b);
    enum MHD_Result ok = b.failed
                             ? server_reply(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                                            "out of memory\n", 14, NULL, "out of memory")
                             : server_reply(r, MHD_HTTP_OK, "text/plain; version=0.0.4",
                                            b.data, b.len, NULL, NULL);
    free(b.data);
    return ok;
}
