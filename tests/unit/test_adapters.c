/* Unit tests for runtime/adapters.c, the built-in adapters of stdlib/channels/
 * and require "nudge.codec": the exact request each adapter makes for one
 * sample message (URL, method, every header, the body's bytes), the checks on
 * what an adapter returns, and the verdicts its outcome gives. */
#include "adapters.h"

#include "l_modules.h"
#include "sandbox.h"
#include "unit.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BASE "http://127.0.0.1:9"
#define TEXT "Hi Ana, 10% off & more"
#define FORM_TEXT "Hi%20Ana%2C%2010%25%20off%20%26%20more"
#define LIST_UNSUBSCRIBE "<https://shop.example.com/u/T0K>"
#define ONE_CLICK "List-Unsubscribe=One-Click"

static char err[1024];

/* The sample message every adapter gets: marketing email fields included. */
static adapter_message sample(const char *channel, const char *to)
{
    adapter_message m = {0};
    m.key = "nudge-7-3";
    m.channel = channel;
    m.template_name = "cart_reminder";
    m.journey = "cart_abandonment";
    m.profile_id = "u42";
    m.purpose = "marketing";
    m.to = to;
    m.vars_json = "{\"discount\":10,\"items\":[\"Mug\"]}";
    m.subject = "Your cart is waiting";
    m.text = TEXT;
    m.html = "<p>Hi Ana</p>";
    m.unsubscribe_url = "https://shop.example.com/u/T0K";
    m.list_unsubscribe = LIST_UNSUBSCRIBE;
    m.list_unsubscribe_post = ONE_CLICK;
    m.created_ms = 1790000000123;
    m.attempt = 1;
    return m;
}

/* Adapters for one channel NAME using ADAPTER with SETTINGS (JSON). */
static adapters *open_one(const char *name, const char *adapter, const char *settings)
{
    channel_config ch = {0};
    snprintf(ch.name, sizeof ch.name, "%s", name);
    ch.adapter = (char *)adapter;
    ch.settings_json = (char *)settings;
    err[0] = 0;
    adapters *a = adapters_open(&ch, 1, err, sizeof err);
    if (!a) printf("# adapters_open: %s\n", err);
    return a;
}

/* The request's headers, one a line. */
static const char *headers_of(const send_request *r)
{
    static char text[4096];
    size_t used = 0;
    text[0] = 0;
    for (int i = 0; i < r->header_count && used < sizeof text; i++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%s", i ? "\n" : "",
                                 r->headers[i]);
    return text;
}

static int body_is(const send_request *r, const char *want)
{
    int same =
        r->body && r->body_len == strlen(want) && !memcmp(r->body, want, r->body_len);
    if (!same) printf("# body   %.*s\n# wanted %s\n", (int)r->body_len, r->body, want);
    return same;
}

/* Runs CHANNEL's request for M into R; prints the error on failure. */
static int request(adapters *a, const char *channel, const adapter_message *m,
                   send_request *r)
{
    err[0] = 0;
    int rc = adapters_request(a, channel, m, r, err, sizeof err);
    if (rc) printf("# adapters_request: %s\n", err);
    return rc;
}

/* ---- the built-in adapters, request by request ------------------------ */

static void webhook(void)
{
    static const char *body =
        "{\"channel\":\"push\",\"created_at\":1790000000,\"html\":\"<p>Hi Ana</p>\","
        "\"journey\":\"cart_abandonment\",\"key\":\"nudge-7-3\",\"profile_id\":\"u42\","
        "\"purpose\":\"marketing\",\"subject\":\"Your cart is waiting\","
        "\"template\":\"cart_reminder\",\"text\":\"" TEXT "\","
        "\"vars\":{\"discount\":10,\"items\":[\"Mug\"]}}";
    setenv("NUDGE_TEST_HOOK_SECRET", "hook-secret", 1);
    adapters *a = open_one("push", "webhook",
                           "{\"adapter\":\"webhook\",\"url\":\"" BASE "/hook\","
                           "\"secret_env\":\"NUDGE_TEST_HOOK_SECRET\"}");
    send_request r;
    adapter_message m = sample("push", NULL);
    CHECK(a && adapters_address(a, "push") == NULL && !adapters_is_email(a, "push"),
          "webhook: no address, not email");
    CHECK(a && request(a, "push", &m, &r) == 0, "webhook: request");
    if (!a) return;
    CHECK(r.kind == SEND_HTTP, "webhook: HTTP");
    CHECK_STR(r.url, BASE "/hook", "webhook: url");
    CHECK_STR(r.method, "POST", "webhook: method");
    CHECK(body_is(&r, body), "webhook: body is the message as JSON");

    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * sizeof mac + 1], want[512];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)"hook-secret", 11);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"1790000000.", 11);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(want, sizeof want,
             "Content-Type: application/json\nIdempotency-Key: nudge-7-3\n"
             "X-Nudge-Signature: sha256=%s\nX-Nudge-Timestamp: 1790000000",
             hex);
    CHECK_STR(headers_of(&r), want, "webhook: headers, signed over timestamp.body");
    CHECK(!r.username && !r.password, "webhook: no basic auth");
    send_request_free(&r);
    adapters_close(a);

    a = open_one("push", "webhook", "{\"url\":\"" BASE "/hook\"}");
    CHECK(a && request(a, "push", &m, &r) == 0, "webhook: unsigned request");
    if (a)
        CHECK_STR(headers_of(&r),
                  "Content-Type: application/json\nIdempotency-Key: nudge-7-3",
                  "webhook: no secret, no signature");
    send_request_free(&r);
    adapters_close(a);
}

static void twilio(void)
{
    setenv("NUDGE_TEST_TWILIO_TOKEN", "tw-secret", 1);
    adapters *a = open_one("sms", "twilio",
                           "{\"adapter\":\"twilio\",\"account_sid\":\"AC123\","
                           "\"auth_token_env\":\"NUDGE_TEST_TWILIO_TOKEN\","
                           "\"from\":\"+15550001111\",\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("sms", "+15551234567");
    CHECK_STR(adapters_address(a, "sms"), "phone", "twilio: address phone");
    CHECK(a && request(a, "sms", &m, &r) == 0, "twilio: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/2010-04-01/Accounts/AC123/Messages.json", "twilio: url");
    CHECK(r.method == NULL, "twilio: method POST by default");
    CHECK_STR(
        headers_of(&r),
        "Content-Type: application/x-www-form-urlencoded\nIdempotency-Key: nudge-7-3",
        "twilio: headers");
    CHECK(body_is(&r, "Body=" FORM_TEXT "&From=%2B15550001111&To=%2B15551234567"),
          "twilio: form body, keys sorted");
    CHECK_STR(r.username, "AC123", "twilio: basic auth user = account sid");
    CHECK_STR(r.password, "tw-secret",
              "twilio: basic auth password from the environment");
    send_request_free(&r);
    adapters_close(a);

    a = open_one(
        "sms", "twilio",
        "{\"account_sid\":\"AC123\",\"auth_token_env\":\"NUDGE_TEST_TWILIO_TOKEN\","
        "\"messaging_service_sid\":\"MG9\",\"base_url\":\"" BASE "\"}");
    CHECK(a && request(a, "sms", &m, &r) == 0 &&
              body_is(&r, "Body=" FORM_TEXT "&MessagingServiceSid=MG9&To=%2B15551234567"),
          "twilio: MessagingServiceSid instead of From");
    send_request_free(&r);
    adapters_close(a);
}

static void sendgrid(void)
{
    setenv("NUDGE_TEST_SENDGRID_KEY", "sg-secret", 1);
    adapters *a =
        open_one("email", "sendgrid",
                 "{\"api_key_env\":\"NUDGE_TEST_SENDGRID_KEY\","
                 "\"from\":\"Shop <shop@example.com>\",\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("email", "ana@example.com");
    CHECK_STR(adapters_address(a, "email"), "email", "sendgrid: address email");
    CHECK(adapters_is_email(a, "email"), "sendgrid: email adapter");
    CHECK(a && request(a, "email", &m, &r) == 0, "sendgrid: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/v3/mail/send", "sendgrid: url");
    CHECK_STR(headers_of(&r),
              "Authorization: Bearer sg-secret\nContent-Type: application/json\n"
              "Idempotency-Key: nudge-7-3",
              "sendgrid: headers");
    CHECK(body_is(&r, "{\"content\":[{\"type\":\"text/plain\",\"value\":\"" TEXT "\"},"
                      "{\"type\":\"text/html\",\"value\":\"<p>Hi Ana</p>\"}],"
                      "\"custom_args\":{\"nudge_key\":\"nudge-7-3\"},"
                      "\"from\":{\"email\":\"shop@example.com\",\"name\":\"Shop\"},"
                      "\"headers\":{\"List-Unsubscribe\":\"" LIST_UNSUBSCRIBE "\","
                      "\"List-Unsubscribe-Post\":\"" ONE_CLICK "\"},"
                      "\"personalizations\":[{\"to\":[{\"email\":\"ana@example.com\"}]}],"
                      "\"subject\":\"Your cart is waiting\"}"),
          "sendgrid: body");
    CHECK(!r.username && !r.password, "sendgrid: no basic auth");
    send_request_free(&r);

    m.list_unsubscribe = m.list_unsubscribe_post = NULL; /* transactional */
    m.html = NULL;
    CHECK(request(a, "email", &m, &r) == 0 &&
              body_is(&r,
                      "{\"content\":[{\"type\":\"text/plain\",\"value\":\"" TEXT "\"}],"
                      "\"custom_args\":{\"nudge_key\":\"nudge-7-3\"},"
                      "\"from\":{\"email\":\"shop@example.com\",\"name\":\"Shop\"},"
                      "\"personalizations\":[{\"to\":[{\"email\":\"ana@example.com\"}]}],"
                      "\"subject\":\"Your cart is waiting\"}"),
          "sendgrid: text only, no unsubscribe headers");
    send_request_free(&r);
    adapters_close(a);
}

static void mailgun(void)
{
    setenv("NUDGE_TEST_MAILGUN_KEY", "mg-secret", 1);
    adapters *a =
        open_one("email", "mailgun",
                 "{\"domain\":\"mg.example.com\",\"api_key_env\":"
                 "\"NUDGE_TEST_MAILGUN_KEY\",\"from\":\"Shop <shop@example.com>\","
                 "\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("email", "ana@example.com");
    CHECK(a && adapters_is_email(a, "email") && request(a, "email", &m, &r) == 0,
          "mailgun: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/v3/mg.example.com/messages", "mailgun: url");
    CHECK_STR(
        headers_of(&r),
        "Content-Type: application/x-www-form-urlencoded\nIdempotency-Key: nudge-7-3",
        "mailgun: headers");
    CHECK(body_is(&r,
                  "from=Shop%20%3Cshop%40example.com%3E"
                  "&h%3AList-Unsubscribe=%3Chttps%3A%2F%2Fshop.example.com%2Fu%2FT0K%3E"
                  "&h%3AList-Unsubscribe-Post=List-Unsubscribe%3DOne-Click"
                  "&html=%3Cp%3EHi%20Ana%3C%2Fp%3E&subject=Your%20cart%20is%20waiting"
                  "&text=" FORM_TEXT "&to=ana%40example.com&v%3Anudge-key=nudge-7-3"),
          "mailgun: form body");
    CHECK_STR(r.username, "api", "mailgun: basic auth user api");
    CHECK_STR(r.password, "mg-secret", "mailgun: basic auth password = api key");
    send_request_free(&r);
    adapters_close(a);
}

static void postmark(void)
{
    setenv("NUDGE_TEST_POSTMARK_TOKEN", "pm-secret", 1);
    adapters *a =
        open_one("email", "postmark",
                 "{\"server_token_env\":\"NUDGE_TEST_POSTMARK_TOKEN\","
                 "\"from\":\"Shop <shop@example.com>\",\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("email", "ana@example.com");
    CHECK(a && adapters_is_email(a, "email") && request(a, "email", &m, &r) == 0,
          "postmark: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/email", "postmark: url");
    CHECK_STR(headers_of(&r),
              "Accept: application/json\nContent-Type: application/json\n"
              "Idempotency-Key: nudge-7-3\nX-Postmark-Server-Token: pm-secret",
              "postmark: headers");
    CHECK(body_is(
              &r,
              "{\"From\":\"Shop <shop@example.com>\","
              "\"Headers\":[{\"Name\":\"List-Unsubscribe\",\"Value\":\"" LIST_UNSUBSCRIBE
              "\"},{\"Name\":\"List-Unsubscribe-Post\",\"Value\":\"" ONE_CLICK "\"}],"
              "\"HtmlBody\":\"<p>Hi Ana</p>\",\"MessageStream\":\"outbound\","
              "\"Metadata\":{\"nudge_key\":\"nudge-7-3\"},"
              "\"Subject\":\"Your cart is waiting\",\"TextBody\":\"" TEXT "\","
              "\"To\":\"ana@example.com\"}"),
          "postmark: body");
    send_request_free(&r);
    adapters_close(a);
}

static void fcm(void)
{
    setenv("NUDGE_TEST_FCM_TOKEN", "ya29.fcm", 1);
    adapters *a = open_one("push", "fcm",
                           "{\"project_id\":\"shop-app\",\"access_token_env\":"
                           "\"NUDGE_TEST_FCM_TOKEN\",\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("push", "tok-123");
    CHECK_STR(adapters_address(a, "push"), "fcm_token",
              "fcm: address is the fcm_token trait");
    CHECK(a && !adapters_is_email(a, "push") && request(a, "push", &m, &r) == 0,
          "fcm: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/v1/projects/shop-app/messages:send", "fcm: url");
    CHECK_STR(headers_of(&r),
              "Authorization: Bearer ya29.fcm\nContent-Type: application/json\n"
              "Idempotency-Key: nudge-7-3",
              "fcm: headers");
    CHECK(body_is(&r, "{\"message\":{\"data\":{\"nudge_key\":\"nudge-7-3\"},"
                      "\"notification\":{\"body\":\"" TEXT "\",\"title\":"
                      "\"Your cart is waiting\"},\"token\":\"tok-123\"}}"),
          "fcm: body");
    send_request_free(&r);
    adapters_close(a);
}

static void slack(void)
{
    setenv("NUDGE_TEST_SLACK_URL", BASE "/services/T0/B0/XYZ", 1);
    adapters *a =
        open_one("ops", "slack", "{\"webhook_url_env\":\"NUDGE_TEST_SLACK_URL\"}");
    send_request r;
    adapter_message m = sample("ops", NULL);
    CHECK(a && !adapters_address(a, "ops") && request(a, "ops", &m, &r) == 0,
          "slack: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/services/T0/B0/XYZ", "slack: url from the environment");
    CHECK_STR(headers_of(&r),
              "Content-Type: application/json\nIdempotency-Key: nudge-7-3",
              "slack: headers");
    CHECK(body_is(&r, "{\"text\":\"" TEXT "\"}"), "slack: body");
    send_request_free(&r);
    adapters_close(a);
}

static void smtp(void)
{
    setenv("NUDGE_TEST_SMTP_PASSWORD", "smtp-secret", 1);
    adapters *a =
        open_one("email", "smtp",
                 "{\"url\":\"smtp://127.0.0.1:9\",\"from\":\"Shop <shop@example.com>\","
                 "\"username\":\"shop\",\"password_env\":\"NUDGE_TEST_SMTP_PASSWORD\"}");
    send_request r;
    adapter_message m = sample("email", "ana@example.com");
    CHECK(a && adapters_is_email(a, "email") && request(a, "email", &m, &r) == 0,
          "smtp: request");
    if (!a) return;
    CHECK(r.kind == SEND_SMTP, "smtp: SMTP kind");
    CHECK_STR(r.url, "smtp://127.0.0.1:9", "smtp: url");
    CHECK_STR(r.mail_from, "shop@example.com",
              "smtp: envelope sender is the bare address");
    CHECK(r.rcpt_count == 1 && !strcmp(r.rcpt[0], "ana@example.com"), "smtp: rcpt");
    CHECK_STR(headers_of(&r),
              "From: Shop <shop@example.com>\nList-Unsubscribe: " LIST_UNSUBSCRIBE "\n"
              "List-Unsubscribe-Post: " ONE_CLICK "\nSubject: Your cart is waiting\n"
              "To: ana@example.com",
              "smtp: message headers, no Idempotency-Key");
    CHECK_STR(r.text, TEXT, "smtp: text part");
    CHECK_STR(r.html, "<p>Hi Ana</p>", "smtp: html part");
    CHECK(!r.body, "smtp: no HTTP body");
    CHECK_STR(r.username, "shop", "smtp: username");
    CHECK_STR(r.password, "smtp-secret", "smtp: password from the environment");
    send_request_free(&r);
    adapters_close(a);
}

/* ---- opening ----------------------------------------------------------- */

static void open_errors(void)
{
    unsetenv("NUDGE_TEST_UNSET_VAR");
    adapters *a =
        open_one("sms", "twilio",
                 "{\"account_sid\":\"AC1\",\"auth_token_env\":\"NUDGE_TEST_UNSET_VAR\"}");
    CHECK(!a, "open: an unset variable stops it");
    CHECK_STR(err,
              "channel 'sms': key 'auth_token_env': environment variable "
              "NUDGE_TEST_UNSET_VAR is not set",
              "open: the error names channel, key and variable");

    a = open_one("sms", "twillio", "{}");
    CHECK(
        !a && strstr(err, "channel 'sms': unknown adapter 'twillio'") &&
            strstr(err, "fcm, mailgun, postmark, sendgrid, slack, smtp, twilio, webhook"),
        "open: an unknown adapter lists the built-in ones");

    a = open_one("sms", "/nonexistent/acme.lua", "{}");
    CHECK(!a && strstr(err, "channel 'sms': cannot read the adapter file "
                            "/nonexistent/acme.lua"),
          "open: a missing adapter file");

    channel_config channels[2] = {{.name = "email", .adapter = "file"},
                                  {.name = "log", .adapter = "stdout"}};
    a = adapters_open(channels, 2, err, sizeof err);
    CHECK(a && !adapters_address(a, "email") && !adapters_is_email(a, "email"),
          "open: file and stdout channels have no adapter");
    send_request r;
    adapter_message m = sample("email", "ana@example.com");
    CHECK(a && adapters_request(a, "email", &m, &r, err, sizeof err) == -1 &&
              strstr(err, "channel 'email' has no adapter"),
          "request: a channel without adapter");
    adapters_close(a);
    adapters_close(NULL);
}

static char temp_dir[256];

/* Writes an adapter file NAME with TEXT in the temp folder; its path. */
static const char *write_adapter(const char *name, const char *text)
{
    static char path[sizeof temp_dir + 64];
    snprintf(path, sizeof path, "%s/%.60s", temp_dir, name);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
    return path;
}

static void adapter_file(void)
{
    const char *path = write_adapter(
        "acme.lua",
        "-- acme: an adapter of one's own\n"
        "local codec = require \"nudge.codec\"\n"
        "return {\n"
        "  address = \"acme_id\",\n"
        "  request = function(msg, cfg)\n"
        "    return { url = cfg.base_url .. \"/v1/send\", method = \"PUT\",\n"
        "             headers = { [\"idempotency-key\"] = \"mine\",\n"
        "                         ['X-Attempt'] = msg.attempt },\n"
        "             body = \"a\\0b\" .. msg.vars.items[1] .. msg.created_at,\n"
        "             username = cfg.account, password = cfg.api_key }\n"
        "  end,\n"
        "}\n");
    setenv("NUDGE_TEST_ACME_KEY", "acme-secret", 1);
    adapters *a =
        open_one("sms", path,
                 "{\"account\":\"shop\",\"api_key_env\":\"NUDGE_TEST_ACME_KEY\","
                 "\"base_url\":\"" BASE "\"}");
    send_request r;
    adapter_message m = sample("sms", "A-1");
    CHECK_STR(adapters_address(a, "sms"), "acme_id", "file: its address");
    CHECK(a && request(a, "sms", &m, &r) == 0, "file: request");
    if (!a) return;
    CHECK_STR(r.url, BASE "/v1/send", "file: url");
    CHECK_STR(r.method, "PUT", "file: method");
    CHECK_STR(headers_of(&r), "idempotency-key: mine\nX-Attempt: 1",
              "file: its own Idempotency-Key (any case) is kept, numbers allowed");
    CHECK(r.body_len == 16 && !memcmp(r.body, "a\0bMug1790000000", 16),
          "file: a body with a NUL byte, vars and created_at");
    CHECK_STR(r.username, "shop", "file: username");
    CHECK_STR(r.password, "acme-secret", "file: password from KEY_env");
    send_request_free(&r);
    adapters_close(a);

    path = write_adapter("broken.lua",
                         "return {\n  request = function(msg, cfg)\n  end end\n");
    CHECK(!open_one("sms", path, "{}") && strstr(err, "broken.lua:3:"),
          "file: a syntax error names file and line");
    path = write_adapter("empty.lua", "return 42\n");
    CHECK(!open_one("sms", path, "{}") && strstr(err, "returned number, not a table"),
          "file: must return a table");
    path = write_adapter("norequest.lua", "return { address = 'phone' }\n");
    CHECK(!open_one("sms", path, "{}") && strstr(err, "has no request function"),
          "file: must have request");
    path = write_adapter("address.lua",
                         "return { address = 5, request = function() end }\n");
    CHECK(!open_one("sms", path, "{}") &&
              strstr(err, "'address' must be a profile field"),
          "file: address must be a field name");
    path = write_adapter("print.lua", "return { request = print }\n");
    CHECK(!open_one("sms", path, "{}") && strstr(err, "undeclared global 'print'"),
          "file: runs in the sandbox (no print)");
    path = write_adapter("global.lua", "x = 1\nreturn { request = function() end }\n");
    CHECK(!open_one("sms", path, "{}") && strstr(err, "global.lua:1:") &&
              strstr(err, "undeclared global 'x'"),
          "file: globals are refused");
}

/* Opens an adapter file whose request function has BODY; the request's
 * error (or "" when it succeeded). */
static const char *request_error(const char *body)
{
    static char message[sizeof err + 16];
    char text[2048];
    snprintf(text, sizeof text,
             "return {\n  request = function(msg, cfg)\n    %s\n  end,\n}\n", body);
    adapters *a = open_one("sms", write_adapter("check.lua", text), "{}");
    send_request r;
    adapter_message m = sample("sms", "+15551234567");
    message[0] = 0;
    if (!a) return snprintf(message, sizeof message, "OPEN: %s", err), message;
    if (adapters_request(a, "sms", &m, &r, message, sizeof message) == 0) message[0] = 0;
    CHECK(r.url == NULL || message[0] == 0, "request: OUT is zeroed on error");
    send_request_free(&r);
    adapters_close(a);
    return message;
}

static int error_has(const char *body, const char *want)
{
    const char *got = request_error(body);
    int ok = strstr(got, want) != NULL;
    if (!ok) printf("# got \"%s\", want \"%s\"\n", got, want);
    return ok;
}

static void request_errors(void)
{
    CHECK(error_has("return 'nope'",
                    "check.lua:2: request(): returned string, not a table"),
          "request: not a table");
    CHECK(error_has("return {}", "check.lua:2: request(): 'url' is missing"),
          "request: no url");
    CHECK(
        error_has("return { url = 'ftp://127.0.0.1/' }", "'url' must start with http://"),
        "request: a scheme other than http(s)");
    CHECK(error_has("return { url = 'http://127.0.0.1/a b' }", "'url' holds a space"),
          "request: a space in the url");
    CHECK(error_has("return { smtp = true, url = 'http://127.0.0.1:9' }",
                    "'url' must start with smtp://"),
          "request: an SMTP request needs smtp://");
    CHECK(error_has("return { url = 'http://127.0.0.1:9/', headers = { ['X-Evil'] = "
                    "'a\\r\\nBcc: x@example.com' } }",
                    "header 'X-Evil' holds CR, LF, NUL or another control character"),
          "request: a header value with CR LF is refused");
    CHECK(error_has(
              "return { url = 'http://127.0.0.1:9/', headers = { ['X-Nul'] = 'a\\0b' } }",
              "header 'X-Nul' holds CR, LF, NUL"),
          "request: a header value with NUL is refused");
    CHECK(error_has(
              "return { url = 'http://127.0.0.1:9/', headers = { ['Bad Name'] = 'x' } }",
              "header 'Bad Name': not a valid header name"),
          "request: a header name that is not a token");
    CHECK(error_has(
              "return { url = 'http://127.0.0.1:9/', headers = { a = 'x', A = 'y' } }",
              "header 'a' is given twice"),
          "request: one header twice in two cases");
    CHECK(error_has("return { url = 'http://127.0.0.1:9/', headers = { 'x' } }",
                    "'headers' keys must be header names, not number"),
          "request: headers as a list");
    CHECK(error_has("return { url = 'http://127.0.0.1:9/', body = 5 }",
                    "'body' must be a string, not number"),
          "request: body not a string");
    CHECK(error_has("return { url = 'http://127.0.0.1:9/', method = 'GET /x' }",
                    "'method' must be an HTTP method"),
          "request: a method that is not a token");
    CHECK(
        error_has("return { smtp = true, url = 'smtp://127.0.0.1:9', rcpt = { 'a@b.c' }, "
                  "text = 'hi' }",
                  "'mail_from' is missing"),
        "request: SMTP without mail_from");
    CHECK(error_has(
              "return { smtp = true, url = 'smtp://127.0.0.1:9', mail_from = 'a@b.c', "
              "rcpt = {}, text = 'hi' }",
              "'rcpt' must list 1 to 100 addresses"),
          "request: SMTP with no recipient");
    CHECK(error_has(
              "return { smtp = true, url = 'smtp://127.0.0.1:9', mail_from = 'a@b.c', "
              "rcpt = { 'x@y.z> NOTIFY=NEVER' }, text = 'hi' }",
              "'rcpt[1]' must be an address"),
          "request: SMTP recipient with an injection");
    CHECK(error_has(
              "return { smtp = true, url = 'smtp://127.0.0.1:9', mail_from = 'a@b.c', "
              "rcpt = { 'x@y.z' } }",
              "an SMTP request needs text or html"),
          "request: SMTP without text or html");
    CHECK(error_has("local t = nil\n    return t.x", "check.lua:4: attempt to index"),
          "request: a Lua error names file and line");
    CHECK(error_has("while true do end", "CPU budget of 100 ms exceeded"),
          "request: the CPU budget holds");
    CHECK(request_error("return { url = 'https://127.0.0.1:9/' }")[0] == 0,
          "request: https accepted, no headers needed");
}

/* A built-in adapter's own error, and the state going on after a trip. */
static void request_after_errors(void)
{
    adapters *a = open_one("sms", "twilio", "{\"account_sid\":\"AC1\"}");
    send_request r;
    adapter_message m = sample("sms", "+15551234567");
    CHECK(a && adapters_request(a, "sms", &m, &r, err, sizeof err) == -1 &&
              strstr(err, "twilio.lua:") && strstr(err, "channels.sms needs from"),
          "twilio: a missing setting is named, with the adapter's line");
    adapters_close(a);

    const char *path =
        write_adapter("slow.lua", "return { request = function(msg)\n"
                                  "  if msg.attempt == 1 then while true do end end\n"
                                  "  return { url = 'http://127.0.0.1:9/' }\nend }\n");
    a = open_one("sms", path, "{}");
    CHECK(a && adapters_request(a, "sms", &m, &r, err, sizeof err) == -1 &&
              strstr(err, "slow.lua:2: CPU budget"),
          "limits: the runaway call fails");
    m.attempt = 2;
    CHECK(a && request(a, "sms", &m, &r) == 0 && !strcmp(r.url, "http://127.0.0.1:9/"),
          "limits: the next call runs normally");
    send_request_free(&r);
    adapters_close(a);
}

/* ---- verdicts ---------------------------------------------------------- */

static send_verdict outcome(adapters *a, const char *channel, int kind, long status,
                            const char *body, int64_t retry_after_ms)
{
    send_response r = {0};
    send_verdict v;
    adapter_message m = sample(channel, "+15551234567");
    r.status = status;
    r.body = (char *)body;
    r.retry_after_ms = retry_after_ms;
    adapters_outcome(a, channel, &m, kind, &r, &v);
    return v;
}

static void verdicts(void)
{
    setenv("NUDGE_TEST_TWILIO_TOKEN", "tw-secret", 1);
    adapters *a = open_one("sms", "twilio",
                           "{\"account_sid\":\"AC1\",\"auth_token_env\":"
                           "\"NUDGE_TEST_TWILIO_TOKEN\",\"from\":\"+15550001111\"}");
    send_verdict v =
        outcome(a, "sms", SEND_HTTP, 400,
                "{\"code\": 21211, \"message\": \"The 'To' number +1555 is not "
                "a valid phone number.\", \"more_info\": "
                "\"https://www.twilio.com/docs/errors/21211\", \"status\": 400}",
                0);
    CHECK(v.outcome == SEND_FAILED && v.bounce, "twilio: 21211 is a bounce");
    CHECK_STR(v.detail, "Twilio: invalid 'To' number", "twilio: the bounce's detail");
    v = outcome(a, "sms", SEND_HTTP, 400, "{\"code\":21610,\"status\":400}", 0);
    CHECK(v.outcome == SEND_FAILED && v.bounce,
          "twilio: 21610 (unsubscribed) is a bounce");
    v = outcome(a, "sms", SEND_HTTP, 400, "{\"code\":21606,\"status\":400}", 0);
    CHECK(v.outcome == SEND_FAILED && !v.bounce, "twilio: another 400 fails, no bounce");
    v = outcome(a, "sms", SEND_HTTP, 429, "{\"code\":20429,\"status\":429}", 30000);
    CHECK(v.outcome == SEND_RETRY && !v.bounce && v.retry_after_ms == 30000,
          "twilio: 429 retried after Retry-After");
    v = outcome(a, "sms", SEND_HTTP, 201, "{\"sid\":\"SM1\"}", 0);
    CHECK(v.outcome == SEND_DELIVERED, "twilio: 201 delivered");
    adapters_close(a);

    setenv("NUDGE_TEST_POSTMARK_TOKEN", "pm-secret", 1);
    a = open_one(
        "email", "postmark",
        "{\"server_token_env\":\"NUDGE_TEST_POSTMARK_TOKEN\",\"from\":\"s@e.com\"}");
    v = outcome(
        a, "email", SEND_HTTP, 422,
        "{\"ErrorCode\":406,\"Message\":\"You tried to send to a recipient that has "
        "been marked as inactive.\"}",
        0);
    CHECK(v.outcome == SEND_FAILED && v.bounce, "postmark: ErrorCode 406 is a bounce");
    v = outcome(a, "email", SEND_HTTP, 422, "{\"ErrorCode\":300,\"Message\":\"Invalid\"}",
                0);
    CHECK(v.outcome == SEND_FAILED && v.bounce, "postmark: ErrorCode 300 is a bounce");
    v = outcome(a, "email", SEND_HTTP, 422, "{\"ErrorCode\":405,\"Message\":\"No\"}", 0);
    CHECK(v.outcome == SEND_FAILED && !v.bounce, "postmark: ErrorCode 405 is no bounce");
    adapters_close(a);

    setenv("NUDGE_TEST_FCM_TOKEN", "ya29.fcm", 1);
    a = open_one("push", "fcm",
                 "{\"project_id\":\"p\",\"access_token_env\":\"NUDGE_TEST_FCM_TOKEN\"}");
    v = outcome(
        a, "push", SEND_HTTP, 404,
        "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\",\"details\":[{\"errorCode\":"
        "\"UNREGISTERED\"}]}}",
        0);
    CHECK(v.outcome == SEND_FAILED && !v.bounce && strstr(v.detail, "unregistered"),
          "fcm: UNREGISTERED fails without retry");
    adapters_close(a);

    a = open_one("email", "smtp",
                 "{\"url\":\"smtp://127.0.0.1:9\",\"from\":\"s@e.com\"}");
    v = outcome(a, "email", SEND_SMTP, 550, "5.1.1 user unknown", 0);
    CHECK(v.outcome == SEND_FAILED && v.bounce,
          "smtp: 550 is a bounce (default verdict)");
    adapters_close(a);
}

static void outcome_functions(void)
{
    const char *path = write_adapter(
        "judge.lua",
        "return {\n"
        "  request = function() return { url = 'http://127.0.0.1:9/' } end,\n"
        "  outcome = function(msg, cfg, resp, verdict)\n"
        "    if resp.status == 418 then error('boom') end\n"
        "    if resp.status == 400 and resp.body == 'busy' and verdict.outcome == "
        "'failed' then\n"
        "      return { outcome = 'retry', retry_after = 2.5, detail = 'provider busy' "
        "}\n"
        "    end\n"
        "    if resp.status == 401 then return { outcome = 'sent' } end\n"
        "    if resp.status == 402 then return 'no' end\n"
        "    if resp.status == 403 then return { bounce = true } end\n"
        "    if resp.status == 0 then return { detail = resp.error } end\n"
        "  end,\n"
        "}\n");
    adapters *a = open_one("sms", path, "{}");
    send_verdict v = outcome(a, "sms", SEND_HTTP, 418, "teapot", 0);
    CHECK(v.outcome == SEND_FAILED && !v.bounce,
          "outcome raising: the default verdict holds");
    CHECK(strstr(v.detail, "HTTP 418: teapot (adapter outcome: ") &&
              strstr(v.detail, "judge.lua:4: boom)"),
          "outcome raising: the detail says why, with file and line");
    v = outcome(a, "sms", SEND_HTTP, 400, "busy", 0);
    CHECK(v.outcome == SEND_RETRY && v.retry_after_ms == 2500 &&
              !strcmp(v.detail, "provider busy"),
          "outcome: a table changes outcome, retry_after and detail");
    v = outcome(a, "sms", SEND_HTTP, 401, NULL, 0);
    CHECK(v.outcome == SEND_FAILED && strstr(v.detail, "'outcome' must be \"delivered\""),
          "outcome: an unknown outcome keeps the default, says why");
    v = outcome(a, "sms", SEND_HTTP, 402, NULL, 0);
    CHECK(v.outcome == SEND_FAILED &&
              strstr(v.detail, "judge.lua:3: outcome(): returned string; return a table"),
          "outcome: a string is refused");
    v = outcome(a, "sms", SEND_HTTP, 403, NULL, 0);
    CHECK(v.outcome == SEND_FAILED && v.bounce,
          "outcome: fields not given keep the default");
    v = outcome(a, "sms", SEND_HTTP, 200, NULL, 0);
    CHECK(v.outcome == SEND_DELIVERED && !strcmp(v.detail, "HTTP 200"),
          "outcome: returning nothing keeps the default");
    send_response r = {0};
    adapter_message m = sample("sms", "+1");
    r.transport_error = 7;
    snprintf(r.error, sizeof r.error, "Failed to connect");
    adapters_outcome(a, "sms", &m, SEND_HTTP, &r, &v);
    CHECK(v.outcome == SEND_RETRY && !strcmp(v.detail, "Failed to connect"),
          "outcome: resp.error carries the network error");
    adapters_close(a);

    v = outcome(NULL, "sms", SEND_HTTP, 503, NULL, 0);
    CHECK(v.outcome == SEND_RETRY, "outcome: no adapters, send_judge's verdict");
}

/* ---- require "nudge.codec" ------------------------------------------- */

/* The string CODE returns in a sandbox with nudge.codec, or "ERR: ...". */
static const char *lua_result(lua_State *L, const char *code)
{
    static char result[1024];
    sandbox_push_env(L);
    int status = sandbox_load(L, code, strlen(code), "=codec_test");
    if (status == LUA_OK) status = sandbox_pcall(L, 0, 1);
    const char *text = lua_tostring(L, -1);
    snprintf(result, sizeof result, "%s%s",
             status == LUA_OK ? "" : "ERR: ", text ? text : "(not a string)");
    lua_pop(L, 1);
    return result;
}

static void codec(void)
{
    static const luaL_Reg modules[] = {{"nudge.codec", luaopen_nudge_codec},
                                       {NULL, NULL}};
    lua_State *L = sandbox_new((sandbox_limits){0, 0}, modules);
#define C "local c = require 'nudge.codec'; "
    CHECK_STR(lua_result(L, C "return c.json{ b = 1, a = { 1, 2 }, s = 'x\"y' }"),
              "{\"a\":[1,2],\"b\":1,\"s\":\"x\\\"y\"}",
              "codec.json: sorted keys, arrays");
    CHECK(strstr(lua_result(L, C "return c.json{ f = print }"), "ERR: "),
          "codec.json: a function cannot be JSON");
    CHECK(strstr(lua_result(L, C "return c.json{ f = function() end }"),
                 "json: a function value cannot be stored"),
          "codec.json: the error says why");
    CHECK(strstr(lua_result(L, C "local t = {}; t.t = t; return c.json(t)"), "cycle"),
          "codec.json: a cycle raises");
    CHECK(strstr(lua_result(L, C "return c.json(0/0)"), "cannot be stored"),
          "codec.json: NaN raises");
    CHECK_STR(lua_result(L, C "return c.json('a\\nb')"), "\"a\\nb\"",
              "codec.json: a string value, escaped");
    CHECK_STR(lua_result(L, C "local v = c.json_decode('{\"code\":21211,\"a\":[1,2]}');"
                               " return v.code .. '/' .. #v.a"),
              "21211/2", "codec.json_decode: an object with a list");
    CHECK_STR(lua_result(L, C "local v, why = c.json_decode('<html>'); return tostring(v) .. "
                               "' ' .. why"),
              "nil not JSON", "codec.json_decode: not JSON is nil and a message");
    CHECK_STR(lua_result(L, C "return c.form{ b = '2 3', a = 1, c = true, d = 1.5 }"),
              "a=1&b=2%203&c=true&d=1.5", "codec.form: sorted, escaped, typed values");
    CHECK_STR(lua_result(L, C "return c.form{}"), "", "codec.form: empty");
    CHECK_STR(lua_result(L, C "return c.form{ ['k y'] = 'a&b=c' }"), "k%20y=a%26b%3Dc",
              "codec.form: keys escaped too");
    CHECK(strstr(lua_result(L, C "return c.form{ 'x' }"), "keys must be strings"),
          "codec.form: a list is refused");
    CHECK(strstr(lua_result(L, C "return c.form{ a = {} }"),
                 "field 'a' must be a string, number or boolean"),
          "codec.form: a table value is refused");
    CHECK_STR(lua_result(L, C "return c.url_escape('a b&c/\\195\\169~-._')"),
              "a%20b%26c%2F%C3%A9~-._", "codec.url_escape");
    CHECK_STR(lua_result(L, C "return c.url_escape('')"), "", "codec.url_escape: empty");
    CHECK_STR(lua_result(L, C "return c.url_escape('a\\0b')"), "a%00b",
              "codec.url_escape: a NUL byte");
    CHECK(strstr(lua_result(L, C "return c.url_escape()"), "bad argument #1"),
          "codec.url_escape: argument checked");
    CHECK_STR(lua_result(L, C "return c.base64('')"), "", "codec.base64: empty");
    CHECK_STR(lua_result(L, C "return c.base64('f')"), "Zg==", "codec.base64: padding");
    CHECK_STR(lua_result(L, C "return c.base64('foobar')"), "Zm9vYmFy", "codec.base64");
    CHECK_STR(lua_result(L, C "return c.base64('\\255\\254\\253')"), "//79",
              "codec.base64: the original alphabet (+ and /)");
    CHECK_STR(
        lua_result(L,
                   C "return c.hmac_sha256_hex('Jefe', 'what do ya want for nothing?')"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "codec.hmac_sha256_hex: RFC 4231 case 2");
    CHECK_STR(lua_result(L, C "return c.hmac_sha256_base64('Jefe', 'what do ya want for "
                              "nothing?')"),
              "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=", "codec.hmac_sha256_base64");
    CHECK_STR(lua_result(L, C "return c.hmac_sha256_hex(('k'):rep(100), 'data')"),
              "09380ee4b802da2363bc96e8e0d133ba275458ea8ddbc564f986fc12b31f8cb1",
              "codec.hmac_sha256_hex: a key longer than a block");
    CHECK(strstr(lua_result(L, C "return c.hmac_sha256_hex('k')"), "bad argument #2"),
          "codec.hmac: argument checked");
    CHECK(strstr(lua_result(L, C "c.json = nil"), "read-only"),
          "codec: the module is read-only");
#undef C
    sandbox_close(L);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    snprintf(temp_dir, sizeof temp_dir, "%s/nudge-adapters-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(temp_dir)) return perror("mkdtemp"), 1;
    webhook();
    twilio();
    sendgrid();
    mailgun();
    postmark();
    fcm();
    slack();
    smtp();
    open_errors();
    adapter_file();
    request_errors();
    request_after_errors();
    verdicts();
    outcome_functions();
    codec();
    char command[sizeof temp_dir + 16];
    snprintf(command, sizeof command, "rm -rf '%s'", temp_dir);
    if (system(command)) printf("# could not remove %s\n", temp_dir);
    UNIT_DONE();
}
