/* Unit tests for runtime/send.c: send_judge's default verdict for HTTP and
 * SMTP statuses and transport errors (outcome, bounce, Retry-After, the
 * detail's words), and the free functions on full and zeroed structs. */
#include "send.h"
#include "unit.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static send_verdict judge(int kind, long status, const char *body, int64_t retry_after_ms)
{
    send_response r = {0};
    send_verdict v;
    r.status = status;
    r.retry_after_ms = retry_after_ms;
    r.body = body ? strdup(body) : NULL;
    send_judge(kind, &r, &v);
    send_response_free(&r);
    return v;
}

static void http_table(void)
{
    static const struct {
        long status;
        int outcome;
    } table[] = {{200, SEND_DELIVERED}, {201, SEND_DELIVERED}, {202, SEND_DELIVERED},
                 {204, SEND_DELIVERED}, {299, SEND_DELIVERED}, {301, SEND_FAILED},
                 {400, SEND_FAILED},    {401, SEND_FAILED},    {403, SEND_FAILED},
                 {404, SEND_FAILED},    {408, SEND_RETRY},     {409, SEND_FAILED},
                 {422, SEND_FAILED},    {425, SEND_RETRY},     {429, SEND_RETRY},
                 {500, SEND_RETRY},     {502, SEND_RETRY},     {503, SEND_RETRY},
                 {504, SEND_RETRY},     {599, SEND_RETRY},     {600, SEND_FAILED},
                 {0, SEND_FAILED}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char name[64];
        send_verdict v = judge(SEND_HTTP, table[i].status, NULL, 0);
        snprintf(name, sizeof name, "http: %ld -> outcome %d", table[i].status,
                 table[i].outcome);
        CHECK(v.outcome == table[i].outcome && !v.bounce, name);
    }
}

static void http_retry_after(void)
{
    send_verdict v = judge(SEND_HTTP, 429, "slow down", 30000);
    CHECK(v.outcome == SEND_RETRY && v.retry_after_ms == 30000,
          "http: 429 keeps Retry-After");
    v = judge(SEND_HTTP, 503, NULL, 120000);
    CHECK(v.outcome == SEND_RETRY && v.retry_after_ms == 120000,
          "http: 503 keeps Retry-After");
    v = judge(SEND_HTTP, 500, NULL, 120000);
    CHECK(v.outcome == SEND_RETRY && v.retry_after_ms == 0,
          "http: 500 ignores Retry-After (backoff)");
    v = judge(SEND_HTTP, 408, NULL, 5000);
    CHECK(v.retry_after_ms == 0, "http: 408 ignores Retry-After");
    v = judge(SEND_HTTP, 400, NULL, 5000);
    CHECK(v.outcome == SEND_FAILED && v.retry_after_ms == 0,
          "http: 400 has no retry time");
}

static void http_detail(void)
{
    send_verdict v = judge(SEND_HTTP, 503, "{\"error\":\"busy\"}", 0);
    CHECK_STR(v.detail, "HTTP 503: {\"error\":\"busy\"}", "detail: status and body");
    v = judge(SEND_HTTP, 202, NULL, 0);
    CHECK_STR(v.detail, "HTTP 202", "detail: no body, status only");
    v = judge(SEND_HTTP, 204, "", 0);
    CHECK_STR(v.detail, "HTTP 204", "detail: empty body, status only");
    v = judge(SEND_HTTP, 400, "line one\r\nline two\n\n", 0);
    CHECK_STR(v.detail, "HTTP 400: line one  line two",
              "detail: one line, no trailing space");

    char body[1000];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = 0;
    v = judge(SEND_HTTP, 500, body, 0);
    CHECK(strlen(v.detail) == strlen("HTTP 500: ") + 200,
          "detail: the body's first 200 bytes");

    memset(body, 'a', 199); /* "é" (2 bytes) straddles byte 200 */
    memcpy(body + 199, "\xc3\xa9tail", 7);
    v = judge(SEND_HTTP, 500, body, 0);
    CHECK(strlen(v.detail) == strlen("HTTP 500: ") + 199 &&
              v.detail[strlen(v.detail) - 1] == 'a',
          "detail: not cut inside a UTF-8 sequence");
}

static void smtp_table(void)
{
    static const struct {
        long status;
        int outcome, bounce;
    } table[] = {
        {250, SEND_DELIVERED, 0}, {221, SEND_DELIVERED, 0}, {354, SEND_DELIVERED, 0},
        {421, SEND_RETRY, 0},     {450, SEND_RETRY, 0},     {451, SEND_RETRY, 0},
        {452, SEND_RETRY, 0},     {500, SEND_FAILED, 0},    {530, SEND_FAILED, 0},
        {535, SEND_FAILED, 0},    {550, SEND_FAILED, 1},    {551, SEND_FAILED, 1},
        {552, SEND_FAILED, 0},    {553, SEND_FAILED, 1},    {554, SEND_FAILED, 0}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        char name[64];
        send_verdict v = judge(SEND_SMTP, table[i].status, NULL, 0);
        snprintf(name, sizeof name, "smtp: %ld -> outcome %d bounce %d", table[i].status,
                 table[i].outcome, table[i].bounce);
        CHECK(v.outcome == table[i].outcome && v.bounce == table[i].bounce, name);
    }
    send_verdict v = judge(SEND_SMTP, 550, "5.1.1 <ana@example.com>: user unknown", 0);
    CHECK_STR(v.detail, "SMTP 550: 5.1.1 <ana@example.com>: user unknown",
              "smtp: detail names the reply");
    v = judge(SEND_SMTP, 451, NULL, 60000);
    CHECK(v.retry_after_ms == 0, "smtp: no Retry-After for SMTP");
}

static void transport_errors(void)
{
    send_response r = {0};
    send_verdict v;
    r.transport_error = CURLE_COULDNT_CONNECT;
    snprintf(r.error, sizeof r.error, "Failed to connect to 127.0.0.1 port 9");
    send_judge(SEND_HTTP, &r, &v);
    CHECK(v.outcome == SEND_RETRY && !v.bounce, "network: an error is retried");
    CHECK_STR(v.detail, "network: Failed to connect to 127.0.0.1 port 9",
              "network: curl's words");
    r.error[0] = 0;
    r.transport_error = CURLE_OPERATION_TIMEDOUT;
    send_judge(SEND_SMTP, &r, &v);
    CHECK(v.outcome == SEND_RETRY, "network: SMTP timeout retried");
    CHECK(strncmp(v.detail, "network: ", 9) == 0 && strlen(v.detail) > 9,
          "network: curl_easy_strerror when curl gave no words");
}

static void freeing(void)
{
    send_request q = {0};
    send_response r = {0};
    send_request_free(&q);
    send_response_free(&r);
    CHECK(1, "free: zeroed structs are fine");

    q.kind = SEND_SMTP;
    q.url = strdup("smtp://127.0.0.1:9");
    q.headers = calloc(2, sizeof *q.headers);
    q.headers[0] = strdup("From: a@example.com");
    q.header_count = 1; /* a slot left NULL is fine too */
    q.rcpt = calloc(1, sizeof *q.rcpt);
    q.rcpt[0] = strdup("b@example.com");
    q.rcpt_count = 1;
    q.text = strdup("hi");
    send_request_free(&q);
    CHECK(!q.url && !q.headers && !q.rcpt && !q.text && q.kind == 0 &&
              q.header_count == 0,
          "free: request zeroed");
    send_request_free(&q);
    CHECK(1, "free: twice is harmless");
    r.body = strdup("ok");
    r.status = 200;
    send_response_free(&r);
    CHECK(!r.body && r.status == 0, "free: response zeroed");
}

int main(void)
{
    http_table();
    http_retry_after();
    http_detail();
    smtp_table();
    transport_errors();
    freeing();
    UNIT_DONE();
}
