/* The libcurl multi loop behind the senders.  Each job becomes an easy
 * handle (HTTP POST with its headers and body, or an SMTP transfer whose
 * message libcurl builds as MIME); the multi handle keeps connections alive
 * between jobs and between calls.  See sender.h. */
#include "sender.h"

#include "log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sender {
    CURLM *multi;
};

/* What one transfer holds until it ends. */
typedef struct transfer {
    send_job *job;
    CURL *easy;
    struct curl_slist *headers, *rcpt;
    curl_mime *mime;
    size_t body_len; /* bytes of the response kept so far */
    enum { WAITING, RUNNING, FINISHED } state;
    char error[CURL_ERROR_SIZE];
} transfer;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sender *sender_new(void)
{
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc) return log_error("cannot start libcurl"), NULL;
    sender *s = calloc(1, sizeof *s);
    if (!s || !(s->multi = curl_multi_init())) {
        log_error("cannot start libcurl's multi interface");
        return free(s), NULL;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)SENDER_MAX_IN_FLIGHT);
    return s;
}

void sender_free(sender *s)
{
    if (!s) return;
    curl_multi_cleanup(s->multi);
    free(s);
}

/* Keeps the response's first SEND_RESPONSE_MAX bytes. */
static size_t keep_body(char *data, size_t size, size_t n, void *ctx)
{
    transfer *t = ctx;
    send_response *r = &t->job->response;
    size_t len = size * n, room = SEND_RESPONSE_MAX - t->body_len;
    if (!r->body && !(r->body = calloc(1, SEND_RESPONSE_MAX + 1))) return 0;
    if (len < room) room = len;
    memcpy(r->body + t->body_len, data, room);
    t->body_len += room;
    return len;
}

/* A Subject with bytes beyond ASCII as one RFC 2047 encoded word per
 * 45 bytes of UTF-8 (cut between characters).  malloc'd, or NULL. */
static char *encode_subject(const char *value)
{
    size_t len = strlen(value), cap = 16 + len * 2 + (len / 45 + 1) * 16, at = 0;
    char *out = malloc(cap);
    while (out && len) {
        size_t chunk = len < 45 ? len : 45;
        while (chunk < len && ((unsigned char)value[chunk] & 0xC0) == 0x80)
            chunk--;
        at += (size_t)snprintf(out + at, cap - at, "%s=?UTF-8?B?", at ? "\r\n " : "");
        sodium_bin2base64(out + at, cap - at, (const unsigned char *)value, chunk,
                          sodium_base64_VARIANT_ORIGINAL);
        at += strlen(out + at);
        at += (size_t)snprintf(out + at, cap - at, "?=");
        value += chunk, len -= chunk;
    }
    return out;
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return 0;
    return 1;
}

/* The request's headers as a curl list; SMTP subjects encoded.  -1 on
 * out of memory. */
static int add_headers(transfer *t, const send_request *r)
{
    for (int i = 0; i < r->header_count; i++) {
        const char *line = r->headers[i];
        char *encoded = NULL;
        if (r->kind == SEND_SMTP && !strncasecmp(line, "Subject: ", 9) &&
            !is_ascii(line + 9)) {
            char *word = encode_subject(line + 9);
            if (word && (encoded = malloc(strlen(word) + 10)))
                sprintf(encoded, "Subject: %s", word);
            free(word);
            if (!encoded) return -1;
        }
        struct curl_slist *next = curl_slist_append(t->headers, encoded ? encoded : line);
        free(encoded);
        if (!next) return -1;
        t->headers = next;
    }
    if (r->kind == SEND_HTTP) { /* no 100-continue round trip for larger bodies */
        struct curl_slist *next = curl_slist_append(t->headers, "Expect:");
        if (!next) return -1;
        t->headers = next;
    }
    return 0;
}

/* One text part of an SMTP message.  -1 on failure. */
static int add_part(curl_mime *mime, const char *text, const char *type)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    return part && !curl_mime_data(part, text, CURL_ZERO_TERMINATED) &&
                   !curl_mime_type(part, type) &&
                   !curl_mime_encoder(part, "quoted-printable")
               ? 0
               : -1;
}

/* The message body: one part, or text and HTML as multipart/alternative
 * inside the top-level multipart libcurl makes. */
static int build_mime(transfer *t, const send_request *r)
{
    static const char *text_type = "text/plain; charset=utf-8";
    static const char *html_type = "text/html; charset=utf-8";
    if (!(t->mime = curl_mime_init(t->easy))) return -1;
    if (!r->text || !r->html)
        return add_part(t->mime, r->text ? r->text : r->html,
                        r->text ? text_type : html_type);
    curl_mime *alternative = curl_mime_init(t->easy);
    curl_mimepart *part = alternative ? curl_mime_addpart(t->mime) : NULL;
    if (!part || add_part(alternative, r->text, text_type) ||
        add_part(alternative, r->html, html_type) ||
        curl_mime_subparts(part, alternative)) {
        curl_mime_free(alternative);
        return -1;
    }
    return curl_mime_type(part, "multipart/alternative") ? -1 : 0;
}

static int setup_smtp(transfer *t, const send_request *r)
{
    char from[1024];
    snprintf(from, sizeof from, "<%s>", r->mail_from ? r->mail_from : "");
    for (int i = 0; i < r->rcpt_count; i++) {
        struct curl_slist *next = curl_slist_append(t->rcpt, r->rcpt[i]);
        if (!next) return -1;
        t->rcpt = next;
    }
    return curl_easy_setopt(t->easy, CURLOPT_MAIL_FROM, from) ||
                   curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, t->rcpt) ||
                   curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps") ||
                   /* smtp://: STARTTLS whenever the server offers it */
                   curl_easy_setopt(t->easy, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY) ||
                   build_mime(t, r) ||
                   curl_easy_setopt(t->easy, CURLOPT_MIMEPOST, t->mime)
               ? -1
               : 0;
}

static int setup_http(transfer *t, const send_request *r)
{
    CURL *e = t->easy;
    const char *method = r->method ? r->method : "POST";
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")) return -1;
    if (!strcmp(method, "GET")) return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) ? -1 : 0;
    return curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len) ||
                   curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "") ||
                   (strcmp(method, "POST") &&
                    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method))
               ? -1
               : 0;
}

/* Sets up T's easy handle for its job.  -1 on failure. */
static int setup_transfer(transfer *t)
{
    const send_request *r = &t->job->request;
    CURL *e = t->easy = curl_easy_init();
    if (!e) return -1;
    long timeout = t->job->timeout_ms > 0 ? t->job->timeout_ms : 10000;
    if (curl_easy_setopt(e, CURLOPT_URL, r->url) ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, t) ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error) ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout) ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "nudge/1") ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body) ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, t) || add_headers(t, r) ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers))
        return -1;
    if (r->username &&
        (curl_easy_setopt(e, CURLOPT_USERNAME, r->username) ||
         curl_easy_setopt(e, CURLOPT_PASSWORD, r->password ? r->password : "") ||
         (r->kind == SEND_HTTP && curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC))))
        return -1;
    return r->kind == SEND_SMTP ? setup_smtp(t, r) : setup_http(t, r);
}

static void end_transfer(transfer *t)
{
    curl_mime_free(t->mime);
    curl_slist_free_all(t->headers);
    curl_slist_free_all(t->rcpt);
    if (t->easy) curl_easy_cleanup(t->easy);
    t->mime = NULL, t->headers = t->rcpt = NULL, t->easy = NULL;
}

/* Records how T's transfer ended into its job's response. */
static void finish_transfer(transfer *t, CURLcode code)
{
    send_response *r = &t->job->response;
    curl_off_t retry_after = 0;
    r->transport_error = (int)code;
    if (code)
        snprintf(r->error, sizeof r->error, "%s",
                 t->error[0] ? t->error : curl_easy_strerror(code));
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (!curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &retry_after) &&
        retry_after > 0)
        r->retry_after_ms = (int64_t)retry_after * 1000;
}

/* Ends T and hands it to the round's finished list. */
static void retire(transfer *t, int *busy, int lanes, send_job **finished, int *n)
{
    int lane = t->job->lane;
    if (t->state == RUNNING) busy[lane >= 0 && lane < lanes ? lane : 0]--;
    end_transfer(t);
    t->state = FINISHED;
    finished[(*n)++] = t->job;
}

/* Starts the waiting jobs that fit their lanes; those that cannot be set
 * up finish at once.  Returns how many are running. */
static int start_jobs(sender *s, transfer *ts, int count, int *busy, const int *limits,
                      int lanes, int running, send_job **finished, int *n)
{
    for (int i = 0; i < count && running < SENDER_MAX_IN_FLIGHT; i++) {
        transfer *t = &ts[i];
        int lane = t->job->lane >= 0 && t->job->lane < lanes ? t->job->lane : 0;
        if (t->state != WAITING || busy[lane] >= (limits[lane] > 0 ? limits[lane] : 1))
            continue;
        if (setup_transfer(t) || curl_multi_add_handle(s->multi, t->easy)) {
            t->job->response.transport_error = CURLE_OUT_OF_MEMORY;
            snprintf(t->job->response.error, SEND_ERROR_MAX, "cannot set up the request");
            retire(t, busy, lanes, finished, n);
            continue;
        }
        t->state = RUNNING, busy[lane]++, running++;
    }
    return running;
}

/* Collects the transfers that ended.  Returns how many. */
static int collect(sender *s, int *busy, int lanes, send_job **finished, int *n)
{
    CURLMsg *msg;
    int left, ended = 0;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        transfer *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(s->multi, t->easy);
        finish_transfer(t, code);
        retire(t, busy, lanes, finished, n);
        ended++;
    }
    return ended;
}

/* Fails every transfer still waiting or running (curl broke down). */
static void abandon(sender *s, transfer *ts, int count, int *busy, int lanes,
                    send_job **finished, int *n)
{
    for (int i = 0; i < count; i++) {
        if (ts[i].state == FINISHED) continue;
        if (ts[i].state == RUNNING) curl_multi_remove_handle(s->multi, ts[i].easy);
        ts[i].job->response.transport_error = CURLE_FAILED_INIT;
        snprintf(ts[i].job->response.error, SEND_ERROR_MAX, "the sender stopped");
        retire(&ts[i], busy, lanes, finished, n);
    }
}

int sender_run(sender *s, send_job *jobs, int count, const int *limits, int lanes,
               send_done_fn done, void *ctx)
{
    transfer *ts = calloc((size_t)count + 1, sizeof *ts);
    send_job **finished = calloc((size_t)count + 1, sizeof *finished);
    int *busy = calloc((size_t)lanes + 1, sizeof *busy);
    int running = 0, left = count, rc = 0, n = 0;
    if (!ts || !finished || !busy) {
        free(ts), free(finished), free(busy);
        return log_error("sender: out of memory"), -1;
    }
    for (int i = 0; i < count; i++)
        ts[i].job = &jobs[i];
    while (left > 0) {
        n = 0;
        running = start_jobs(s, ts, count, busy, limits, lanes, running, finished, &n);
        int still = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &still);
        running -= collect(s, busy, lanes, finished, &n);
        /* wait for the network only when nothing is ready to report */
        if (mc == CURLM_OK && !n && still)
            mc = curl_multi_poll(s->multi, NULL, 0, 200, NULL);
        if (mc != CURLM_OK) {
            log_error("sender: %s", curl_multi_strerror(mc));
            abandon(s, ts, count, busy, lanes, finished, &n);
            rc = -1;
        }
        left -= n;
        if (n) done(ctx, finished, n);
    }
    free(ts), free(finished), free(busy);
    return rc;
}
