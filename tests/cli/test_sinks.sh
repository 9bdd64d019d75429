#!/bin/sh
# The test servers themselves (tests/servers/http_sink.py and smtp_sink.py),
# so the delivery tests can trust them: curl against the HTTP sink (default
# answer, rules with times, Retry-After, delay_ms, drop, keep-alive, rule
# reload, the request log), smtplib and curl against the SMTP sink (stored
# message, rejected recipients, AUTH), and that nothing outlives stop_sinks.
. "$(dirname "$0")/lib.sh"

# ---- HTTP ----
H=$TMP/http
start_http_sink "$H" '[
  {"match": "/flaky", "times": 2, "status": 500, "body": "{\"error\":\"boom\"}"},
  {"match": "/busy", "status": 429, "headers": {"Retry-After": "7"}, "body": "slow down"},
  {"match": "/slow", "delay_ms": 2000},
  {"match": "/drop", "drop": true},
  {"match": "/bye", "close": true},
  {"match": "/text", "method": "POST", "status": 201, "headers": {"Content-Type": "text/plain"}, "body": "made"}
]'
equals "http sink: listens on a port" "$(printf '%s' "$HTTP_PORT" | grep -c '^[0-9][0-9]*$')" 1

out=$(curl -s -D "$TMP/h1" -o "$TMP/b1" -w '%{http_code}' "$HTTP_URL/hello?x=1&y=%20z" \
    -H 'X-Probe: One' --data-binary '{"a":"é"}' -H 'Content-Type: application/json')
equals "http sink: default answer is 200" "$out" 200
equals "http sink: default body is {\"ok\":true}" "$(cat "$TMP/b1")" '{"ok":true}'
contains "http sink: default Content-Type is application/json" "$TMP/h1" "Content-Type: application/json"
contains "http sink: answers carry Content-Length" "$TMP/h1" "Content-Length: 11"
equals "http sink: log has one line" "$(http_log_count "$H")" 1
equals "http sink: log method and path with query" \
    "$(json_eval "$H/http.log" 'L[0]["method"] + " " + L[0]["path"]')" "POST /hello?x=1&y=%20z"
equals "http sink: log headers by lower-case name" "$(json_eval "$H/http.log" 'L[0]["headers"]["x-probe"]')" One
equals "http sink: log body as utf-8 text" "$(json_eval "$H/http.log" 'L[0]["body"]')" '{"a":"é"}'
equals "http sink: log status and at_ms" \
    "$(json_eval "$H/http.log" '[L[0]["status"], L[0]["at_ms"] > 1.6e12, L[0]["rule"]]')" '[200, true, null]'

# (curl: one -o per URL, or the later bodies go to stdout)
N='-o /dev/null'
codes=$(curl -s -w '%{http_code} ' $N "$HTTP_URL/flaky" $N "$HTTP_URL/flaky" $N "$HTTP_URL/flaky" $N "$HTTP_URL/flaky")
equals "http sink: times=2 answers 500 twice, then the default 200" "$codes" "500 500 200 200 "
equals "http sink: the log records the statuses answered" \
    "$(json_eval "$H/http.log" '[r["status"] for r in L if r["path"] == "/flaky"]')" '[500, 500, 200, 200]'
equals "http_log_count: by path substring" "$(http_log_count "$H" /fla)" 4

out=$(curl -s -D "$TMP/h2" -o "$TMP/b2" -w '%{http_code}' "$HTTP_URL/busy/1")
equals "http sink: 429 rule" "$out" 429
contains "http sink: 429 carries Retry-After" "$TMP/h2" "Retry-After: 7"
equals "http sink: 429 body" "$(cat "$TMP/b2")" "slow down"

out=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'x' "$HTTP_URL/text")
equals "http sink: method rule with its own status" "$out" 201
out=$(curl -s -o /dev/null -w '%{http_code}' "$HTTP_URL/text")
equals "http sink: method rule does not match GET" "$out" 200

start=$(date +%s%N)
curl -s -o /dev/null --max-time 0.5 "$HTTP_URL/slow"
rc=$?
took=$((($(date +%s%N) - start) / 1000000))
equals "http sink: delay_ms stall makes curl --max-time 0.5 time out (28)" "$rc" 28
check "http sink: the timeout came after ~0.5 s, not at once ($took ms)" \
    test "$took" -ge 400 -a "$took" -lt 1900
out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$HTTP_URL/slow")
equals "http sink: delay_ms stall then answers" "${out%% *}" 200
check "http sink: the stall lasted ~2 s (${out#* } s)" \
    "$PY" -c "import sys; sys.exit(not 1.9 <= float('${out#* }') < 4)"

curl -s -o /dev/null --max-time 5 "$HTTP_URL/drop"
equals "http sink: drop closes without an answer (curl 52)" "$?" 52
equals "http sink: a dropped request is logged with status 0" \
    "$(json_eval "$H/http.log" '[r["status"] for r in L if r["path"] == "/drop"]')" '[0]'

: >"$H/http.log"
curl -s $N "$HTTP_URL/ka/1" $N "$HTTP_URL/ka/2"
curl -s -o /dev/null "$HTTP_URL/ka/3"
equals "http sink: keep-alive: two URLs in one curl share a connection" \
    "$(json_eval "$H/http.log" 'L[0]["connection"] == L[1]["connection"]')" true
equals "http sink: a second curl is a new connection" \
    "$(json_eval "$H/http.log" 'L[2]["connection"] != L[1]["connection"]')" true
: >"$H/http.log"
curl -s $N "$HTTP_URL/bye" $N "$HTTP_URL/ka/4"
equals "http sink: a close rule ends the connection after its answer" \
    "$(json_eval "$H/http.log" '[L[0]["status"], L[0]["connection"] != L[1]["connection"]]')" '[200, true]'

http_rules "$H" '[{"match": "/flaky", "times": 1, "status": 503, "headers": {"Retry-After": "1"}}]'
codes=$(curl -s -w '%{http_code} ' $N "$HTTP_URL/flaky" $N "$HTTP_URL/flaky" $N "$HTTP_URL/busy")
equals "http sink: new rules apply at once, counters reset" "$codes" "503 200 200 "
http_rules "$H" '[{"match": "/flaky", "times": 1, "status": 503, "headers": {"Retry-After": "1"}}]'
codes=$(curl -s -w '%{http_code} ' $N "$HTTP_URL/flaky" $N "$HTTP_URL/flaky")
equals "http sink: rewriting the same rules resets the counters" "$codes" "503 200 "

# A large body (libcurl sends Expect: 100-continue) and a chunked one.
head -c 300000 /dev/zero | tr '\0' a >"$TMP/big"
out=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big" -H 'Expect: 100-continue' "$HTTP_URL/big")
equals "http sink: 100-continue body answered" "$out" 200
out=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big" -H 'Transfer-Encoding: chunked' "$HTTP_URL/chunked")
equals "http sink: chunked body answered" "$out" 200
equals "http sink: both bodies read whole" \
    "$(json_eval "$H/http.log" '[r["bytes"] for r in L if r["path"] in ("/big", "/chunked")]')" '[300000, 300000]'
equals "http sink: nothing on its stderr" "$(cat "$H/http_sink.err")" ""

# ---- SMTP ----
S=$TMP/smtp
start_smtp_sink "$S" --reject bad@example.com=550 --reject later@example.com=450 \
    --reject once@example.com=451*1
equals "smtp sink: listens on a port" "$(printf '%s' "$SMTP_PORT" | grep -c '^[0-9][0-9]*$')" 1

cat >"$TMP/send.py" <<'PY'
import smtplib, sys
port, who = int(sys.argv[1]), sys.argv[2]
msg = ("From: Shop <shop@example.com>\r\nTo: Ann <ann@example.com>\r\n"
       "Subject: =?utf-8?q?Caf=C3=A9?=\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=utf-8\r\n\r\n"
       "Hello Ann\r\n.leading dot\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=5)
if len(sys.argv) > 3:
    try:
        s.login(sys.argv[3], sys.argv[4])
    except smtplib.SMTPAuthenticationError as e:
        print("auth", e.smtp_code)
        sys.exit(0)
try:
    refused = s.sendmail("shop@example.com", who.split(","), msg)
    print("sent", " ".join("%s=%d" % (k, v[0]) for k, v in sorted(refused.items())))
except smtplib.SMTPRecipientsRefused as e:
    print("refused", " ".join("%s=%d" % (k, v[0]) for k, v in sorted(e.recipients.items())))
except smtplib.SMTPSenderRefused as e:
    print("sender", e.smtp_code)
s.quit()
PY

equals "smtp sink: a message is accepted" "$("$PY" "$TMP/send.py" "$SMTP_PORT" ann@example.com)" "sent "
check "smtp sink: stored as mail/1.eml and mail/1.json" test -s "$S/mail/1.eml" -a -s "$S/mail/1.json"
equals "smtp sink: envelope in 1.json" \
    "$(json_eval "$S/mail/1.json" '[d["mail_from"], d["rcpt_tos"], d["peer"].startswith("127.0.0.1:"), d["auth"]]')" \
    '["shop@example.com", ["ann@example.com"], true, null]'
parsed=$("$PY" -c '
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
print(m["Subject"], "|", m["To"].addresses[0].addr_spec, "|", m.get_content().replace("\r\n", "\n").replace("\n", "/"))
' "$S/mail/1.eml")
equals "smtp sink: the .eml parses back with the email module" "$parsed" \
    "Café | ann@example.com | Hello Ann/.leading dot/"
check "smtp sink: the .eml keeps CRLF line ends" grep -q "$(printf 'Hello Ann\r')" "$S/mail/1.eml"

equals "smtp sink: 550 for a rejected RCPT, others still delivered" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" ann@example.com,bad@example.com)" "sent bad@example.com=550"
equals "smtp sink: message 2 went only to the accepted recipient" \
    "$(json_eval "$S/mail/2.json" 'd["rcpt_tos"]')" '["ann@example.com"]'
equals "smtp sink: 450 when the only RCPT is deferred" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" later@example.com)" "refused later@example.com=450"
equals "smtp sink: CODE*1 rejects the first try (451)" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" once@example.com)" "refused once@example.com=451"
equals "smtp sink: CODE*1 accepts the second try" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" once@example.com)" "sent "
equals "smtp sink: rcpt.ndjson logs every RCPT answer" \
    "$(json_eval "$S/mail/rcpt.ndjson" '[r["code"] for r in L if r["rcpt"] == "once@example.com"]')" '[451, 250]'
equals "smtp_mail_count: three messages kept" "$(smtp_mail_count "$S")" 3

# libcurl (what nudge itself uses) against the sink.
printf 'From: a@example.com\r\nTo: c@example.com\r\nSubject: via curl\r\n\r\nhi\r\n' >"$TMP/curl.eml"
curl -s --max-time 5 "$SMTP_URL" --mail-from a@example.com --mail-rcpt c@example.com \
    --upload-file "$TMP/curl.eml"
equals "smtp sink: curl smtp:// delivers" "$?" 0
equals "smtp sink: curl's message stored as 4" "$(json_eval "$S/mail/4.json" 'd["rcpt_tos"]')" '["c@example.com"]'
curl -s --max-time 5 "$SMTP_URL" --mail-from a@example.com --mail-rcpt bad@example.com \
    --upload-file "$TMP/curl.eml" -w '%{response_code}' >"$TMP/curl550.out"
equals "smtp sink: curl sees the 550" "$(cat "$TMP/curl550.out")" 550

# AUTH required.
A=$TMP/smtp_auth
start_smtp_sink "$A" --auth shop:s3cret
equals "smtp sink --auth: MAIL before AUTH gets 530" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" ann@example.com)" "sender 530"
equals "smtp sink --auth: a wrong password gets 535" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" ann@example.com shop wrong)" "auth 535"
equals "smtp sink --auth: the right login sends" \
    "$("$PY" "$TMP/send.py" "$SMTP_PORT" ann@example.com shop s3cret)" "sent "
equals "smtp sink --auth: 1.json records the login" "$(json_eval "$A/mail/1.json" 'd["auth"]')" shop
curl -s --max-time 5 "$SMTP_URL" --user shop:s3cret --mail-from a@example.com \
    --mail-rcpt c@example.com --upload-file "$TMP/curl.eml"
equals "smtp sink --auth: curl --user logs in and delivers" "$?" 0
curl -s --max-time 5 "$SMTP_URL" --user shop:nope --mail-from a@example.com \
    --mail-rcpt c@example.com --upload-file "$TMP/curl.eml"
equals "smtp sink --auth: curl with a bad password fails (67 login denied)" "$?" 67
equals "smtp sink --auth: two messages kept" "$(smtp_mail_count "$A")" 2
equals "smtp sink: nothing on its stderr" "$(cat "$S/smtp_sink.err" "$A/smtp_sink.err")" ""

# ---- nothing lingers ----
pids="$SINKS"
stop_sinks
alive=""
for p in $pids; do _sink_alive "$p" && alive="$alive $p"; done
equals "stop_sinks: every sink is gone" "$alive" ""
equals "stop_sinks: SINKS is empty" "$SINKS" ""
curl -s -o /dev/null --max-time 2 "$HTTP_URL/after"
equals "stop_sinks: the HTTP port no longer answers (curl 7)" "$?" 7

SINK_MAX_SECONDS=1 start_http_sink "$TMP/short"
sleep 2.5
if _sink_alive "$HTTP_PID"; then gone=no; else gone=yes; fi
equals "http sink: --max-seconds ends it by itself" "$gone" yes
stop_sinks
