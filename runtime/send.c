/* The default verdict on a provider's answer (send_judge) and the freeing
 * of requests and responses.  The rules are docs/delivery.md's: what is
 * worth a retry, what fails for good, and which SMTP replies are bounces. */
#include "send.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 200 /* bytes of the response body a detail quotes */

/* Copies the start of BODY (at most QUOTE_MAX bytes, not ending inside a
 * UTF-8 sequence) into OUT as one line: control characters become spaces
 * and trailing white space is dropped. */
static void quote_body(const char *body, char *out, size_t out_len)
{
    size_t n = strnlen(body, QUOTE_MAX);
    if (n == QUOTE_MAX)
        while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
            n--; /* body[n] continues a sequence: cut before its lead byte */
    if (n >= out_len) n = out_len - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? ' ' : body[i];
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = 0;
}

/* "HTTP 503: <body start>", or "HTTP 503" when the body is empty. */
static void describe_status(const char *protocol, const send_response *r, send_verdict *v)
{
    char quoted[QUOTE_MAX + 1] = "";
    if (r->body) quote_body(r->body, quoted, sizeof quoted);
    snprintf(v->detail, sizeof v->detail, "%s %ld%s%s", protocol, r->status,
             quoted[0] ? ": " : "", quoted);
}

static void judge_http(const send_response *r, send_verdict *v)
{
    long s = r->status;
    describe_status("HTTP", r, v);
    if (s >= 200 && s < 300) {
        v->outcome = SEND_DELIVERED;
    } else if (s == 408 || s == 425 || s == 429 || (s >= 500 && s < 600)) {
        v->outcome = SEND_RETRY;
        if (s == 429 || s == 503) v->retry_after_ms = r->retry_after_ms;
    } else {
        v->outcome = SEND_FAILED;
    }
}

static void judge_smtp(const send_response *r, send_verdict *v)
{
    long s = r->status;
    describe_status("SMTP", r, v);
    if (s >= 200 && s < 400) {
        v->outcome = SEND_DELIVERED;
    } else if (s >= 400 && s < 500) {
        v->outcome = SEND_RETRY;
    } else {
        v->outcome = SEND_FAILED;
        v->bounce = s == 550 || s == 551 || s == 553;
    }
}

void send_judge(int kind, const send_response *r, send_verdict *v)
{
    memset(v, 0, sizeof *v);
    /* an SMTP server that refused (RCPT 550) ends curl's transfer with an
     * error, but its reply code says what it means */
    if (r->transport_error && kind == SEND_SMTP && r->status >= 400) {
        judge_smtp(r, v);
    } else if (r->transport_error) {
        const char *words =
            r->error[0] ? r->error : curl_easy_strerror((CURLcode)r->transport_error);
        v->outcome = SEND_RETRY;
        snprintf(v->detail, sizeof v->detail, "network: %s", words);
    } else if (kind == SEND_SMTP) {
        judge_smtp(r, v);
    } else {
        judge_http(r, v);
    }
}

static void free_list(char **list, int count)
{
    for (int i = 0; list && i < count; i++)
        free(list[i]);
    free(list);
}

void send_request_free(send_request *r)
{
    free(r->url), free(r->method), free(r->body);
    free(r->username), free(r->password), free(r->mail_from);
    free(r->text), free(r->html);
    free_list(r->headers, r->header_count);
    free_list(r->rcpt, r->rcpt_count);
    memset(r, 0, sizeof *r);
}

void send_response_free(send_response *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}
