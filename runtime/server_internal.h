/* Private to the HTTP server (server.c, server_routes.c, server_pages.c):
 * the server and per-request state, the reply helpers the routes answer
 * with, and the route handlers.  Nothing else includes it. */
#ifndef NUDGE_SERVER_INTERNAL_H
#define NUDGE_SERVER_INTERNAL_H
#include "server.h"

#include <microhttpd.h>
#include <stdint.h>

/* The routes as the counters fold them: the six event routes, then batch
 * and consent (all of /v1), then the rest. */
enum route {
    ROUTE_TRACK,
    ROUTE_IDENTIFY,
    ROUTE_PAGE,
    ROUTE_SCREEN,
    ROUTE_GROUP,
    ROUTE_ALIAS,
    ROUTE_BATCH,
    ROUTE_CONSENT,
    ROUTE_UNSUBSCRIBE,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_OTHER,
    ROUTE_COUNT
};

enum reject_reason {
    REJECT_BAD_JSON,
    REJECT_BAD_SHAPE,
    REJECT_TOO_LARGE,
    REJECT_UNAUTHORIZED,
    REJECT_COUNT
};

#define SERVER_STATUS_MAX 600 /* statuses counted per route: 0..599 */
#define SERVER_BUCKETS 13     /* the duration histogram's, +Inf last */
#define FORM_TOKEN_MAX 1024   /* a longer form token is refused */

/* Upper bounds of the duration buckets, in microseconds (+Inf follows). */
extern const long server_bucket_us[SERVER_BUCKETS - 1];
/* "/v1/batch", ..., "other": the path label of ROUTE. */
const char *server_route_path(enum route route);

/* Every counter is read and written with __atomic builtins. */
struct server {
    struct MHD_Daemon *daemon;
    server_hooks hooks;
    server_options options;
    int stopping; /* server_stop has begun: intake answers 503 */
    long in_hand; /* requests between their request line and completion */
    long requests, events_accepted, rejected[REJECT_COUNT];
    long answers[ROUTE_COUNT][SERVER_STATUS_MAX];
    long duration_buckets[SERVER_BUCKETS];
    long duration_us_total;
};

/* One HTTP request, from its request line to its completion. */
typedef struct request {
    server *server;
    struct MHD_Connection *connection;
    enum route route;
    const char *method, *url;
    int64_t start_ns;
    int started;    /* the headers were seen */
    int answered;   /* a response is queued */
    int authorized; /* no keys configured, or Basic auth named one */
    char *body;     /* NUL-terminated when set */
    size_t body_len, body_cap, limit;
    uint64_t received;
    int keep_body, too_large, out_of_memory;
    struct MHD_PostProcessor *form; /* POST /unsubscribe, form-encoded */
    char form_token[FORM_TOKEN_MAX + 1];
    size_t form_token_len;
    int form_token_too_long;
} request;

/* Replies (server.c).  Each queues the response, counts it, and logs a
 * 4xx/5xx with REASON (never the body).  HEADERS: NULL, or name, value,
 * ..., NULL. */
enum MHD_Result server_reply(request *r, unsigned status, const char *content_type,
                             const char *body, size_t len, const char *const *headers,
                             const char *reason);
/* {"success":true} when MESSAGE is NULL, else {"success":false,"message":...}. */
enum MHD_Result server_reply_json(request *r, unsigned status, const char *const *headers,
                                  const char *message);
/* A rejected intake request: counted under WHY, answered as JSON (401 adds
 * WWW-Authenticate). */
enum MHD_Result server_reject(request *r, unsigned status, enum reject_reason why,
                              const char *message);

/* The body parsed as JSON, or NULL with WHY ("empty body", "invalid
 * UTF-8 at byte 3", ...). */
cJSON *server_parse_body(const request *r, char *why, size_t why_len);
/* 1 when no write keys are set, Basic auth named one, or ROOT (may be
 * NULL) is an object whose "writeKey" is one. */
int server_authorized(const request *r, const cJSON *root);

/* The routes (server_routes.c, server_pages.c), on the complete request. */
enum MHD_Result route_events(request *r);
enum MHD_Result route_consent(request *r);
enum MHD_Result route_unsubscribe(request *r);
enum MHD_Result route_healthz(request *r);
enum MHD_Result route_metrics(request *r);
/* At the headers of POST /unsubscribe: a form parser for the body when it
 * is form-encoded (r->form stays NULL otherwise). */
void pages_form_begin(request *r);

#endif
