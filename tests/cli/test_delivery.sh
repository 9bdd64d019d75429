#!/bin/sh
# Delivery through the adapters and the libcurl senders, against a real
# HTTP server and a real SMTP server on 127.0.0.1 (tests/servers/): request
# shapes, retries and backoff, Retry-After, dead letters, bounces,
# templates, MIME, unsubscribe links, credentials, and idempotency keys
# that hold across a kill -9 during delivery.
. "$(dirname "$0")/lib.sh"

export T_TWILIO=tw-secret T_HOOK=hook-secret T_FCM=fcm-token T_SG=sg-key T_MG=mg-key \
    T_PM=pm-token

# config DIR [EXTRA]: the test config in DIR/nudge.conf.lua, every channel
# at the sinks started on DIR; EXTRA is Lua spliced into the sms channel.
config() {
    export T_SLACK="$HTTP_URL/slack/T000/B000"
    unsub='unsubscribe_url = "https://shop.example.test/unsubscribe"'
    cat >"$1/nudge.conf.lua" <<EOF
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
  channels = {
    sms = { adapter = "twilio", base_url = "$HTTP_URL", account_sid = "AC123",
            auth_token_env = "T_TWILIO", from = "+15550001111", retry_base = 0.2,
            timeout = "2s", ${2:-} },
    email = { adapter = "smtp", url = "$SMTP_URL", from = "Shop <shop@example.test>",
              $unsub, retry_base = 0.2 },
    hook = { adapter = "webhook", url = "$HTTP_URL/hook", secret_env = "T_HOOK",
             retry_base = 0.2 },
    slack = { adapter = "slack", webhook_url_env = "T_SLACK" },
    push = { adapter = "fcm", base_url = "$HTTP_URL", project_id = "demo",
             access_token_env = "T_FCM" },
    sg = { adapter = "sendgrid", base_url = "$HTTP_URL", api_key_env = "T_SG",
           from = "shop@example.test", $unsub },
    mg = { adapter = "mailgun", base_url = "$HTTP_URL", domain = "mg.example.test",
           api_key_env = "T_MG", from = "shop@example.test", $unsub },
    pm = { adapter = "postmark", base_url = "$HTTP_URL", server_token_env = "T_PM",
           from = "shop@example.test", $unsub },
  },
}
EOF
}

# person ID EMAIL PHONE: an identify line.
person() {
    printf '{"type":"identify","userId":"%s","messageId":"id-%s","timestamp":"2026-11-02T10:00:00Z","traits":{"email":"%s","phone":"%s","first_name":"Ana","fcm_token":"tok-%s"}}\n' \
        "$1" "$1" "$2" "$3" "$1"
}

# signup ID N CHANNELS...: a "Signed Up" naming the channels to send on.
signup() {
    _id=$1 _n=$2; shift 2
    _list=$(printf '"%s",' "$@")
    printf '{"type":"track","userId":"%s","event":"Signed Up","messageId":"su-%s-%s","timestamp":"2026-11-02T10:01:00Z","properties":{"channels":[%s]}}\n' \
        "$_id" "$_id" "$_n" "${_list%,}"
}

# setup NAME: a fresh scenario folder W with both sinks and the config.
setup() { # setup NAME [RULES] [SMTP-ARGS] [SMS-EXTRA]
    stop_sinks
    W="$TMP/$1"
    mkdir -p "$W"
    start_http_sink "$W" "${2:-[]}" && start_smtp_sink "$W" ${3:-} && config "$W" "${4:-}"
}

deliver() { # deliver NAME EVENTS-FILE: nudge run over the file with W's config
    run_nudge "$1" --config "$W/nudge.conf.lua" --db "$W/nudge.db" --outbox "$W/outbox.ndjson" \
        run "$ROOT/tests/recipes/deliver_now.lua" "$ROOT/tests/recipes/deliver_receipt.lua" \
        --events "$2" --clock event
}

status_of() { # status_of CHANNEL: the outbox status of W's message on CHANNEL
    sqlite3 "$W/nudge.db" "SELECT status || ' ' || attempts FROM outbox WHERE channel = '$1'"
}

req() { # req MATCH EXPR: EXPR over the first logged request whose path has MATCH
    json_eval "$W/http.log" "(lambda r: $2)([r for r in L if A[0] in r['path']][0])" "$1"
}

# ---- every adapter, end to end -------------------------------------------
if setup all; then
    { person u1 ana@example.test +15551234567
      signup u1 1 sms email hook slack push sg mg pm; } >"$W/events.ndjson"
    deliver all "$W/events.ndjson"
    equals "all: exit 0" "$rc" 0
    contains "all: 8 delivered" "$W/all.out" "messages 8 delivered, 0 suppressed, 0 deferred, 0 holdout, 0 failed"
    equals "all: every message delivered" \
        "$(sqlite3 "$W/nudge.db" "SELECT group_concat(status || ':' || attempts) FROM outbox")" \
        "delivered:1,delivered:1,delivered:1,delivered:1,delivered:1,delivered:1,delivered:1,delivered:1"
    equals "all: the file channel got nothing" "$(cat "$W/outbox.ndjson" 2>/dev/null | wc -l)" 0
    # twilio: form-encoded, basic auth AccountSid:token, the idempotency key
    equals "twilio: path" "$(req Messages.json 'r["path"]')" "/2010-04-01/Accounts/AC123/Messages.json"
    equals "twilio: basic auth" "$(req Messages.json 'r["headers"]["authorization"]')" \
        "Basic $(printf 'AC123:tw-secret' | base64)"
    equals "twilio: form body" "$(req Messages.json 'r["body"]')" \
        "Body=Hi%20Ana%2C%20your%20code%20is%20A1.%0A&From=%2B15550001111&To=%2B15551234567"
    equals "twilio: content type" "$(req Messages.json 'r["headers"]["content-type"]')" \
        "application/x-www-form-urlencoded"
    equals "twilio: idempotency key" "$(req Messages.json 'r["headers"]["idempotency-key"]')" "nudge-1-0"
    # webhook: JSON of the message, HMAC-SHA256 of "timestamp.body"
    body=$(req /hook 'r["body"]')
    ts=$(req /hook 'r["headers"]["x-nudge-timestamp"]')
    want=$("$PY" -c 'import hmac, hashlib, sys; print(hmac.new(b"hook-secret", (sys.argv[1] + "." + sys.argv[2]).encode(), hashlib.sha256).hexdigest())' "$ts" "$body")
    equals "webhook: signature" "$(req /hook 'r["headers"]["x-nudge-signature"]')" "sha256=$want"
    equals "webhook: body" "$(req /hook 'json.loads(r["body"])["text"] + "|" + json.loads(r["body"])["key"]')" \
        "Your code is A1.
|nudge-1-2"
    equals "slack: text" "$(req /slack/T000 'json.loads(r["body"])["text"]')" "New sign-up, code A1."
    equals "fcm: bearer and token" \
        "$(req messages:send 'r["path"] + " " + r["headers"]["authorization"] + " " + json.loads(r["body"])["message"]["token"]')" \
        "/v1/projects/demo/messages:send Bearer fcm-token tok-u1"
    equals "fcm: title from the Subject line" \
        "$(req messages:send 'json.loads(r["body"])["message"]["notification"]["title"]')" "Welcome"
    equals "sendgrid: bearer, to, subject" \
        "$(req /v3/mail/send 'r["headers"]["authorization"] + " " + json.loads(r["body"])["personalizations"][0]["to"][0]["email"] + " " + json.loads(r["body"])["subject"]')" \
        "Bearer sg-key ana@example.test Welcome, Ana — café time"
    equals "sendgrid: unsubscribe headers" \
        "$(req /v3/mail/send 'json.loads(r["body"])["headers"]["List-Unsubscribe-Post"]')" \
        "List-Unsubscribe=One-Click"
    equals "mailgun: path and auth" "$(req /v3/mg.example.test 'r["path"] + " " + r["headers"]["authorization"]')" \
        "/v3/mg.example.test/messages Basic $(printf 'api:mg-key' | base64)"
    equals "postmark: token and recipient" \
        "$(req /email 'r["headers"]["x-postmark-server-token"] + " " + json.loads(r["body"])["To"]')" \
        "pm-token ana@example.test"
    # SMTP: a MIME message that parses back
    mail=$(ls "$W"/mail/*.eml 2>/dev/null | head -n 1)
    "$PY" - "$mail" >"$W/mime.txt" 2>&1 <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print("subject:", m["Subject"])
print("to:", m["To"])
print("message-id:", m["Message-ID"])
print("post:", m["List-Unsubscribe-Post"])
print("unsub:", m["List-Unsubscribe"])
print("defects:", sum(len(p.defects) for p in m.walk()))
for p in m.walk():
    print("part:", p.get_content_type())
print("text:", m.get_body(("plain",)).get_content().replace("\n", "|"))
print("html:", m.get_body(("html",)).get_content().strip())
EOF
    contains "smtp: subject decoded" "$W/mime.txt" "subject: Welcome, Ana — café time"
    contains "smtp: to" "$W/mime.txt" "to: ana@example.test"
    contains "smtp: message-id from the key" "$W/mime.txt" "message-id: <nudge-1-1@nudge>"
    contains "smtp: no MIME defects" "$W/mime.txt" "defects: 0"
    contains "smtp: multipart/alternative" "$W/mime.txt" "part: multipart/alternative"
    contains "smtp: text part" "$W/mime.txt" "text: Hi Ana,|- Mug: \$12|- Tee & Cap: \$19.5|Your code is A1.||Unsubscribe: https://shop.example.test/unsubscribe?token="
    contains "smtp: html part escaped" "$W/mime.txt" "<li>Tee &amp; Cap: \$19.5</li>"
    contains "smtp: html unsubscribe link" "$W/mime.txt" '<a href="https://shop.example.test/unsubscribe?token='
    contains "smtp: one-click header" "$W/mime.txt" "post: List-Unsubscribe=One-Click"
    contains "smtp: envelope" "$W/mail/1.json" '"rcpt_tos": ["ana@example.test"]'
    # the link's token unsubscribes; a tampered one is refused
    token=$(sed -n 's/^unsub: <https:[^>]*token=\([A-Za-z0-9_-]*\)>.*/\1/p' "$W/mime.txt")
    last=$(printf '%s' "$token" | tail -c 1)
    case "$last" in A) other=B ;; *) other=A ;; esac
    run_nudge tamper --db "$W/nudge.db" unsubscribe "${token%?}$other"
    check "unsubscribe: a tampered token is refused" test "$rc" -ne 0
    run_nudge unsub --db "$W/nudge.db" unsubscribe "$token"
    equals "unsubscribe: the link's token works" "$rc" 0
    run_nudge consent --db "$W/nudge.db" consent show u1
    contains "unsubscribe: email marketing revoked" "$W/consent.out" "revoked"
    # privacy: the addresses never reach the database
    if strings "$W/nudge.db" "$W/nudge.db-wal" 2>/dev/null | grep -q "ana@example.test\|15551234567"; then
        not_ok "privacy: no address in the database" "found"
    else ok "privacy: no address in the database"; fi
fi

# ---- a transactional email carries no unsubscribe link --------------------
if setup receipt; then
    { person u2 bo@example.test +15550000002
      printf '{"type":"track","userId":"u2","event":"Order Completed","messageId":"oc-1","timestamp":"2026-11-02T10:05:00Z","properties":{"order_id":"R-77"}}\n'
    } >"$W/events.ndjson"
    deliver receipt "$W/events.ndjson"
    mail=$(ls "$W"/mail/*.eml 2>/dev/null | head -n 1)
    contains "receipt: subject" "$mail" "Subject: Your receipt for order R-77"
    if grep -qi "List-Unsubscribe" "$mail"; then not_ok "receipt: no unsubscribe header" "found"
    else ok "receipt: no unsubscribe header"; fi
fi

# ---- retries: two 500s, then 200; backoff grows ---------------------------
if setup retry '[{"match":"Messages.json","times":2,"status":500,"body":"oops"}]'; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    deliver retry "$W/events.ndjson"
    equals "retry: delivered on the third try" "$(status_of sms)" "delivered 3"
    equals "retry: three requests, same key" \
        "$(json_eval "$W/http.log" '",".join(r["headers"]["idempotency-key"] + ":" + str(r["status"]) for r in L)')" \
        "nudge-1-0:500,nudge-1-0:500,nudge-1-0:200"
    gaps=$(json_eval "$W/http.log" '" ".join(str(L[i+1]["at_ms"] - L[i]["at_ms"]) for i in range(len(L)-1))')
    g1=${gaps% *} g2=${gaps#* }
    check "retry: first wait 100-250 ms ($g1)" test "$g1" -ge 90 -a "$g1" -le 400
    check "retry: second wait 200-450 ms ($g2)" test "$g2" -ge 190 -a "$g2" -le 700
fi

# ---- 429 with Retry-After: 1 waits at least a second ----------------------
if setup limited '[{"match":"Messages.json","times":1,"status":429,"headers":{"Retry-After":"1"}}]'; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    deliver limited "$W/events.ndjson"
    equals "429: delivered on the second try" "$(status_of sms)" "delivered 2"
    gap=$(json_eval "$W/http.log" 'L[1]["at_ms"] - L[0]["at_ms"]')
    check "429: waited Retry-After ($gap ms)" test "$gap" -ge 950
fi

# ---- a stalled server times out and is retried ----------------------------
if setup stall '[{"match":"Messages.json","times":1,"status":200,"delay_ms":4000}]' "" "timeout = 0.5,"; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    deliver stall "$W/events.ndjson"
    equals "stall: delivered on the second try" "$(status_of sms)" "delivered 2"
fi

# ---- permanent failures: a dead letter, with the response kept ------------
if setup dead '[{"match":"Messages.json","status":401,"body":"{\"code\":20003,\"message\":\"Authenticate\"}"}]'; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    deliver dead "$W/events.ndjson"
    equals "dead letter: failed after one try" "$(status_of sms)" "failed 1"
    contains "dead letter: counted" "$W/dead.out" "0 holdout, 1 failed"
    equals "dead letter: response" "$(sqlite3 "$W/nudge.db" "SELECT response FROM outbox")" \
        'HTTP 401: {"code":20003,"message":"Authenticate"}'
    run_nudge explain --db "$W/nudge.db" explain u1
    contains "dead letter: explain tells" "$W/explain.out" 'then failed'
    contains "dead letter: explain quotes the answer" "$W/explain.out" 'after 1 try: HTTP 401'
fi

# ---- retries run out: max_attempts ---------------------------------------
if setup exhausted '[{"match":"Messages.json","status":503}]' "" "max_attempts = 3, retry_base = 0.05,"; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    deliver exhausted "$W/events.ndjson"
    equals "max_attempts: failed after 3 tries" "$(status_of sms)" "failed 3"
    equals "max_attempts: 3 requests" "$(http_log_count "$W")" 3
fi

# ---- bounces: an invalid number and a rejected mailbox are suppressed -----
if setup bounce '[{"match":"Messages.json","status":400,"body":"{\"code\":21211,\"message\":\"Invalid To\"}"}]' \
    "--reject gone@example.test=550"; then
    { person u3 gone@example.test +15550000003; signup u3 1 sms email; } >"$W/events.ndjson"
    deliver bounce "$W/events.ndjson"
    equals "bounce: sms failed" "$(status_of sms)" "failed 1"
    equals "bounce: email failed" "$(status_of email)" "failed 1"
    run_nudge sup1 --db "$W/nudge.db" suppress show +15550000003
    contains "bounce: the number is suppressed" "$W/sup1.out" "bounce"
    run_nudge sup2 --db "$W/nudge.db" suppress show gone@example.test
    contains "bounce: the address is suppressed" "$W/sup2.out" "bounce"
    # the next message to them is stopped by the guardrails
    signup u3 2 sms >"$W/again.ndjson"
    deliver again "$W/again.ndjson"
    contains "bounce: no second try at a dead number" "$W/again.out" "0 delivered, 1 suppressed"
fi

# ---- a missing template is a recorded failure, not a crash ----------------
if setup notemplate; then
    { person u1 ana@example.test +15551234567
      printf '{"type":"track","userId":"u1","event":"Signed Up","messageId":"nt-1","timestamp":"2026-11-02T10:01:00Z","properties":{"channels":["hook"],"template":"nope"}}\n'
    } >"$W/events.ndjson"
    deliver notemplate "$W/events.ndjson"
    equals "no template: failed, never tried" "$(status_of hook)" "failed 0"
    contains "no template: the file is named" "$W/notemplate.err" "templates/nope.hook.txt"
    equals "no template: nothing sent" "$(http_log_count "$W")" 0
fi

# ---- templates written in the recipe ------------------------------------
if setup inline; then
    { person u1 ana@example.test +15551234567
      printf '{"type":"track","userId":"u1","event":"Trial Started","messageId":"tr-1","timestamp":"2026-11-02T10:01:00Z"}\n'
    } >"$W/events.ndjson"
    run_nudge inline --config "$W/nudge.conf.lua" --db "$W/nudge.db" run \
        "$ROOT/tests/recipes/deliver_inline.lua" --events "$W/events.ndjson" --clock event
    contains "inline: both delivered" "$W/inline.out" "messages 2 delivered"
    equals "inline: the hook's text" "$(req /hook 'json.loads(r["body"])["text"]')" "Trial T9 for Ana"
    mail=$(ls "$W"/mail/*.eml 2>/dev/null | head -n 1)
    contains "inline: the email's subject" "$mail" "Subject: Your trial, Ana"
    contains "inline: the HTML part" "$mail" "<p>Code <b>T9</b>"
    printf 'return journey { name = "x", trigger = { event = "A" }, templates = { t = { sms = 3 } }, run = function(j) end }\n' >"$W/bad.lua"
    run_nudge badinline --config "$W/nudge.conf.lua" --db "$W/bad.db" check "$W/bad.lua"
    equals "inline: a bad templates table exits 2" "$rc" 2
    contains "inline: the error names the template" "$W/badinline.err" "bad.lua:1: journey: 'templates.t.sms': a text, or a table of subject, text and html texts"
fi

# ---- credentials ----------------------------------------------------------
if setup creds; then
    { person u1 ana@example.test +15551234567; signup u1 1 sms; } >"$W/events.ndjson"
    (unset T_TWILIO; "$NUDGE" --config "$W/nudge.conf.lua" --db "$W/nudge.db" run \
        "$ROOT/tests/recipes/deliver_now.lua" --events "$W/events.ndjson" >"$W/unset.out" 2>"$W/unset.err")
    equals "credentials: an unset variable exits 2" "$?" 2
    contains "credentials: the variable is named" "$W/unset.err" "environment variable T_TWILIO is not set"
    equals "credentials: nothing was sent" "$(http_log_count "$W")" 0
    sed 's/auth_token_env = "T_TWILIO"/auth_token = "tw-secret"/' "$W/nudge.conf.lua" >"$W/clear.conf.lua"
    run_nudge clear --config "$W/clear.conf.lua" --db "$W/clear.db" check
    equals "credentials: a secret in the file exits 2" "$rc" 2
    contains "credentials: says to use _env" "$W/clear.err" "auth_token_env"
fi

# ---- kill -9 during delivery: no message lost, none doubled ---------------
if setup crash '[{"match":"/hook","times":5,"status":200,"delay_ms":3000}]'; then
    person u1 ana@example.test +15551234567 >"$W/events.ndjson"
    for i in 1 2 3 4 5 6 7 8 9 10; do signup u1 "$i" hook sms; done >>"$W/events.ndjson"
    "$NUDGE" --config "$W/nudge.conf.lua" --db "$W/nudge.db" run "$ROOT/tests/recipes/deliver_now.lua" \
        --events "$W/events.ndjson" --clock event >"$W/crash1.out" 2>"$W/crash1.err" &
    pid=$!
    CHILDREN="$CHILDREN $pid"
    wait_count 2 10 http_log_count "$W" /hook
    sleep 0.3
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    before=$(http_log_count "$W")
    http_rules "$W" '[]'
    deliver crash2 "$W/events.ndjson"
    equals "crash: the rerun exits 0" "$rc" 0
    equals "crash: 20 messages, all delivered" \
        "$(sqlite3 "$W/nudge.db" "SELECT count(*) || ' ' || sum(status = 'delivered') FROM outbox")" "20 20"
    equals "crash: every key reached the server" \
        "$(json_eval "$W/http.log" 'len(set(r["headers"]["idempotency-key"] for r in L))')" 20
    # a key sent twice was in flight when the process died, and went again once
    equals "crash: only the unfinished were sent again, with their key" \
        "$(json_eval "$W/http.log" '(lambda keys: all(keys.count(k) <= 2 and k in keys[:int(A[0])] for k in keys if keys.count(k) > 1))([r["headers"]["idempotency-key"] for r in L])' "$before")" "true"
    check "crash: some were in flight at the kill" test "$(http_log_count "$W")" -gt 20
fi

stop_sinks
