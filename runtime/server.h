/* The HTTP face of `nudge serve` (SPEC §10), on libmicrohttpd: the
 * Segment-compatible intake endpoints with write-key auth and Segment's
 * size limits and status codes, consent, the one-click unsubscribe page,
 * health and Prometheus metrics.  It parses and checks requests and calls
 * the hooks; what the events do is the hooks' business (cmd_serve.c).
 * Plain C: no Lua, no database. */
#ifndef NUDGE_SERVER_H
#define NUDGE_SERVER_H
#include "ingest.h"

#include <stddef.h>
#include <stdint.h>

typedef struct server server;

/* A consent statement posted to /v1/consent. */
typedef struct consent_post {
    const char *profile; /* userId (or anonymousId) */
    const char *channel; /* "email", "sms", ... */
    const char *purpose; /* "marketing" (default) or "transactional" */
    const char *status;  /* "granted" or "revoked" */
    const char *source;  /* default "api" */
    const char *proof;   /* may be NULL */
} consent_post;

/* Growable text for /metrics. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
    int failed; /* out of memory: the text is cut */
} text_buf;

/* printf onto B (sets b->failed when out of memory). */
void text_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct server_hooks {
    void *ctx;
    /* The accepted events of one request (COUNT of them, each flattened by
     * ingest_flatten, PII masked in raw): blocks until they are committed.
     * 0, 1 when the service is too far behind to take them, or -1 when
     * they could not be committed (both a 503: the client retries). */
    int (*submit)(void *ctx, nudge_event *events, int count);
    /* Applies a consent statement: 0, 1 when the profile is unknown (404),
     * 2 when a field is wrong (400: channel or purpose), -1 on failure
     * (503); ERR says why. */
    int (*consent)(void *ctx, const consent_post *c, char *err, size_t err_len);
    /* Checks a one-click unsubscribe token and, with APPLY, records the
     * revocation.  0 (DONE describes it: "email (marketing)"), 1 when the
     * token is refused (ERR says why, never quoting it), -1 on failure. */
    int (*unsubscribe)(void *ctx, const char *token, int apply, char *done,
                       size_t done_len, char *err, size_t err_len);
    /* Appends the Prometheus gauges the hooks own (journeys by state,
     * messages by channel and status, outbox depth, timer lag) to B. */
    void (*metrics)(void *ctx, text_buf *b);
    /* 1 when the service can take events (the engine runs). */
    int (*healthy)(void *ctx);
} server_hooks;

typedef struct server_options {
    const char *host;        /* "127.0.0.1" (default) */
    int port;                /* 0: a free port (see server_port) */
    char *const *write_keys; /* accepted Basic-auth user names; none: no auth */
    int write_key_count;
    char *const *pii_fields; /* masked in stored events (privacy_fields) */
    int pii_count;
    int threads; /* connections served at once (default 64) */
} server_options;

/* Starts listening; NULL with ERR on failure (address in use...). */
server *server_start(const server_options *o, const server_hooks *hooks, char *err,
                     size_t err_len);

/* The port it listens on. */
int server_port(const server *s);

/* Stops accepting connections, waits for the requests in hand to finish,
 * and frees S.  NULL is fine. */
void server_stop(server *s);

/* The intake counters /metrics shows, readable by the hooks too. */
typedef struct server_counts {
    long requests, events_accepted;
    long rejected_bad_json, rejected_bad_shape, rejected_too_large, rejected_auth;
} server_counts;
void server_get_counts(const server *s, server_counts *out);

#endif
