/* A delivery request as a channel adapter describes it, what the provider
 * answered, and the verdict on it.  Plain C: the adapters (adapters.c)
 * fill a send_request from Lua, the sender (sender.c) runs it on the
 * libcurl multi interface and fills a send_response, and send_judge
 * (or the adapter's own `outcome`) turns that into a send_verdict. */
#ifndef NUDGE_SEND_H
#define NUDGE_SEND_H
#include <stddef.h>
#include <stdint.h>

#define SEND_ERROR_MAX 256     /* bytes of a transport error message */
#define SEND_RESPONSE_MAX 4096 /* bytes of a response body kept */
#define SEND_DETAIL_MAX 512    /* bytes of a verdict's detail */

enum send_kind { SEND_HTTP = 1, SEND_SMTP = 2 };

typedef struct send_request {
    int kind;       /* SEND_HTTP or SEND_SMTP */
    char *url;      /* http(s)://... or smtp(s)://host:port */
    char *method;   /* HTTP: "POST" when NULL */
    char **headers; /* "Name: value", header_count of them; SMTP: the
                       message's own headers (From, To, Subject, ...) */
    int header_count;
    char *body; /* HTTP body (may be NULL), body_len bytes */
    size_t body_len;
    char *username; /* HTTP basic auth or SMTP AUTH; NULL: none */
    char *password;
    char *mail_from; /* SMTP: the envelope sender (an address) */
    char **rcpt;     /* SMTP: the envelope recipients */
    int rcpt_count;
    char *text; /* SMTP: the text/plain part (NULL: none) */
    char *html; /* SMTP: the text/html part (NULL: none) */
} send_request;

typedef struct send_response {
    int transport_error;        /* 0, or the CURLcode of a failed transfer */
    char error[SEND_ERROR_MAX]; /* curl's words for it */
    long status;                /* HTTP status or the last SMTP reply code */
    int64_t retry_after_ms;     /* from Retry-After; 0: none */
    char *body; /* the first SEND_RESPONSE_MAX bytes, NUL-ended; may be NULL */
} send_response;

enum send_outcome { SEND_DELIVERED = 1, SEND_RETRY = 2, SEND_FAILED = 3 };

typedef struct send_verdict {
    int outcome;                  /* enum send_outcome */
    int bounce;                   /* 1: the address is dead; suppress it */
    int64_t retry_after_ms;       /* SEND_RETRY: at least this long (0: backoff) */
    char detail[SEND_DETAIL_MAX]; /* e.g. "HTTP 400: {\"code\":21211,...}" */
} send_verdict;

/* The default verdict: a transport error, 408, 425, 429 and 5xx (SMTP 4xx)
 * are worth retrying (429 and 503 honour Retry-After); 2xx (SMTP 2xx/3xx)
 * is delivered; any other status fails for good, and an SMTP 550, 551 or
 * 553 is also a bounce.  The detail names the status and quotes the
 * response's start. */
void send_judge(int kind, const send_response *r, send_verdict *v);

/* Frees what a request or response holds (not the struct itself) and
 * zeroes it; safe on a zeroed struct. */
void send_request_free(send_request *r);
void send_response_free(send_response *r);

#endif
