#!/bin/sh
# `nudge serve` (docs/service.md), black box: the real server on 127.0.0.1
# (port 0, --port-file) with a webhook channel at the test HTTP server
# (tests/servers/http_sink.py).  Every endpoint and status code; a 200 means
# committed; de-duplication by messageId; journeys, timers and delivery as
# events arrive; SIGHUP reloads recipes while instances in flight keep
# their version; SIGTERM answers the requests in hand and exits 0; the
# database lock; kill -9 under load loses no acknowledged event and
# doubles no message; --log-format json.
. "$(dirname "$0")/lib.sh"

# sqlite3 reads the database while the server writes it: wait for locks.
sqlite3() { command sqlite3 -cmd '.timeout 5000' "$@"; }

NUDGE_WRITE_KEYS=wk_test
export NUDGE_WRITE_KEYS
RECIPES="$ROOT/tests/recipes"

# now_ms: the wall clock in Unix milliseconds.
now_ms() { date +%s%3N; }

# config DIR [EXTRA]: the scenario's config, the hook channel at the sink
# on DIR; EXTRA is Lua spliced into the hook channel.
config() {
    cat >"$1/nudge.conf.lua" <<EOF
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
  server = { write_keys_env = "NUDGE_WRITE_KEYS" },
  channels = {
    hook = { adapter = "webhook", url = "$HTTP_URL/hook", retry_base = 0.2, ${2:-} },
  },
}
EOF
}

# setup NAME [RULES] [HOOK-EXTRA]: a fresh scenario folder W with an HTTP
# sink and the config; DB is its database.
setup() {
    stop_sinks
    W="$TMP/$1"
    DB="$W/nudge.db"
    mkdir -p "$W"
    start_http_sink "$W" "${2:-[]}" && config "$W" "${3:-}"
}

# wait_serve PORTFILE PID: once PORTFILE names a port and /healthz answers
# 200 (at most 10 s), sets SRV_PORT and SRV (http://127.0.0.1:PORT).
wait_serve() {
    _ws_n=0
    SRV_PORT="" SRV=""
    while [ $_ws_n -lt 100 ]; do
        _sink_alive "$2" || return 1
        if [ -s "$1" ]; then
            SRV_PORT=$(cat "$1")
            SRV="http://127.0.0.1:$SRV_PORT"
            [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$SRV/healthz")" = 200 ] && return 0
        fi
        sleep 0.1; _ws_n=$((_ws_n + 1))
    done
    return 1
}

# start_serve NAME [ARGS...]: starts `nudge serve ARGS` on W's config and
# database at a free port, stdout in W/NAME.out and stderr in W/NAME.err;
# sets SRV_PID, SRV_PORT and SRV.  Returns 1 (with a "not ok" line) when it
# does not answer /healthz within 10 s.
start_serve() {
    _ss_name=$1; shift
    rm -f "$W/port"
    "$NUDGE" --config "$W/nudge.conf.lua" --db "$DB" --outbox "$W/outbox.ndjson" serve "$@" \
        --listen 127.0.0.1:0 --port-file "$W/port" </dev/null >"$W/$_ss_name.out" 2>"$W/$_ss_name.err" &
    SRV_PID=$!
    CHILDREN="$CHILDREN $SRV_PID"
    wait_serve "$W/port" "$SRV_PID" && return 0
    not_ok "$_ss_name: the server starts" "no /healthz 200 within 10 s: $(tail -n 5 "$W/$_ss_name.err")"
    kill -9 "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
    return 1
}

# stop_serve [SIGNAL] [SECONDS]: sends SIGNAL (TERM) to the server and waits
# at most SECONDS (10) for it to exit; its status in $serve_rc (killed
# with -9 after the time: "timeout"), the time taken in $serve_ms.
stop_serve() {
    _sp_t0=$(now_ms)
    kill "-${1:-TERM}" "$SRV_PID" 2>/dev/null
    _sp_n=0
    while _sink_alive "$SRV_PID" && [ $_sp_n -lt $((${2:-10} * 20)) ]; do
        sleep 0.05; _sp_n=$((_sp_n + 1))
    done
    if _sink_alive "$SRV_PID"; then
        kill -9 "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
        serve_rc=timeout
    else
        wait "$SRV_PID"; serve_rc=$?
    fi
    serve_ms=$(($(now_ms) - _sp_t0))
}

# http NAME CURL-ARGS...: one request with curl; the status in $code (000:
# no answer), the body in W/NAME.body, the headers in W/NAME.hdr.
http() {
    _h_name=$1; shift
    code=$(curl -s -m 20 -o "$W/$_h_name.body" -D "$W/$_h_name.hdr" -w '%{http_code}' "$@")
    [ -n "$code" ] || code=000
}

# post NAME PATH DATA [CURL-ARGS...]: an authorized POST of JSON DATA (text,
# or @FILE) to the server.
post() {
    _p_name=$1 _p_path=$2 _p_data=$3; shift 3
    http "$_p_name" -u wk_test: -H 'Content-Type: application/json' --data-binary "$_p_data" \
        "$@" "$SRV$_p_path"
}

# status_body NAME WANT-STATUS TEXT LABEL: ok when the last request answered
# WANT-STATUS and its body has TEXT.
status_body() {
    if [ "$code" = "$2" ] && grep -qF -- "$3" "$W/$1.body"; then ok "$4"
    else not_ok "$4" "status $code (want $2), body: $(head -c 300 "$W/$1.body")"; fi
}

# settle: waits (10 s at most) until every acknowledged event has run: a
# 200 means the events are in the inbox, and the engine thread runs them
# just after.
settle() {
    _s_n=0
    while [ $_s_n -lt 100 ]; do
        curl -s -m 2 "$SRV/metrics" 2>/dev/null | grep -q '^nudge_inbox_backlog 0$' && return 0
        sleep 0.1
        _s_n=$((_s_n + 1))
    done
    return 1
}

# events_with ID: how many rows of the events table have messageId ID, once
# what was acknowledged has run.
events_with() {
    [ -z "$SRV_PID" ] || ! _sink_alive "$SRV_PID" || settle
    sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id = '$1'"
}

# hook_count [MATCH]: webhook requests the sink got whose body has MATCH.
hook_count() {
    json_eval "$W/http.log" 'len([r for r in L if "/hook" in r["path"] and A[0] in r["body"]])' "${1:-}"
}

# track USER EVENT MESSAGE-ID [PROPERTIES]: a track event's JSON.
track() {
    printf '{"type":"track","userId":"%s","event":"%s","messageId":"%s","properties":%s}' \
        "$1" "$2" "$3" "${4:-{\}}"
}

# flip TOKEN: the token with its 20th character changed (still base64url).
flip() {
    _f_c=$(printf '%s' "$1" | cut -c 20)
    if [ "$_f_c" = A ]; then _f_n=B; else _f_n=A; fi
    printf '%s%s%s' "$(printf '%s' "$1" | cut -c 1-19)" "$_f_n" "$(printf '%s' "$1" | cut -c 21-)"
}

# pad N: N x's (for events over the size limits).
pad() { head -c "$1" /dev/zero | tr '\0' x; }

# ==== 1. the endpoints ======================================================
if setup api && start_serve api "$RECIPES/serve_hook.lua" "$RECIPES/serve_timer.lua"; then
    contains "api: the port file names the port it listens on" "$W/api.err" "127.0.0.1:$SRV_PORT"

    # -- the six event endpoints and batch: 200 {"success":true}, committed
    post track /v1/track "$(track u-api "Api Event" api-track)"
    status_body track 200 '"success":true' "track: 200 {\"success\":true}"
    equals "track: in the events table once it has run" "$(events_with api-track)" 1
    post identify /v1/identify '{"userId":"u-api","messageId":"api-identify","traits":{"email":"api.person@example.test","plan":"pro"}}'
    status_body identify 200 '"success":true' "identify: 200"
    post page /v1/page '{"userId":"u-api","messageId":"api-page","name":"Home","properties":{"path":"/"}}'
    status_body page 200 '"success":true' "page: 200"
    post screen /v1/screen '{"anonymousId":"anon-api","messageId":"api-screen","name":"Cart"}'
    status_body screen 200 '"success":true' "screen: 200"
    post group /v1/group '{"userId":"u-api","messageId":"api-group","groupId":"g1","traits":{"name":"Acme"}}'
    status_body group 200 '"success":true' "group: 200"
    post alias /v1/alias '{"userId":"u-api","previousId":"anon-api","messageId":"api-alias"}'
    status_body alias 200 '"success":true' "alias: 200"
    post batch /v1/batch "{\"batch\":[$(track u-api "Api Event" api-b1),{\"type\":\"identify\",\"userId\":\"u-b\",\"messageId\":\"api-b2\",\"traits\":{\"plan\":\"free\"}},{\"type\":\"page\",\"userId\":\"u-b\",\"messageId\":\"api-b3\",\"name\":\"Docs\"}]}"
    status_body batch 200 '"success":true' "batch: 200"
    if strings "$DB.inbox" "$DB.inbox-wal" 2>/dev/null | grep -q "api.person@example.test"; then
        not_ok "identify: the inbox holds the address sealed" "found in clear in $DB.inbox"
    else ok "identify: the inbox holds the address sealed"; fi
    settle
    equals "every endpoint's event is stored with the path's type" \
        "$(sqlite3 "$DB" "SELECT group_concat(message_id || '=' || type, ' ') FROM (SELECT * FROM events WHERE message_id LIKE 'api-%' ORDER BY message_id)")" \
        "api-alias=alias api-b1=track api-b2=identify api-b3=page api-group=group api-identify=identify api-page=page api-screen=screen api-track=track"
    if strings "$DB" "$DB-wal" 2>/dev/null | grep -q "api.person@example.test"; then
        not_ok "identify: the address is not stored in clear" "found in the database"
    else ok "identify: the address is not stored in clear"; fi

    # -- 400: JSON that does not parse, events of the wrong shape
    post badjson /v1/track '{"userId":"u-api","event":'
    status_body badjson 400 '"success":false' "400: JSON that does not parse"
    check "400: bad JSON says so ($(head -c 120 "$W/badjson.body"))" grep -qi 'json' "$W/badjson.body"
    post noevent /v1/track '{"userId":"u-api","messageId":"api-noevent"}'
    status_body noevent 400 'event' "400: a track without an event name, named"
    post nouser /v1/track '{"event":"X","messageId":"api-nouser"}'
    status_body nouser 400 'userId' "400: no userId or anonymousId, named"
    post notobject /v1/track '[1,2]'
    check "400: an event that is not an object (got $code)" test "$code" = 400
    post badbatch /v1/batch "{\"batch\":[$(track u-api "Api Event" api-bb1),{\"type\":\"track\",\"event\":\"X\",\"messageId\":\"api-bb2\"}]}"
    status_body badbatch 400 'userId' "400: a bad batch element, with why"
    check "400: the bad element is named by its place ($(head -c 160 "$W/badbatch.body"))" \
        grep -q 'element 1\|element 2\|\[1\]\|#2' "$W/badbatch.body"
    equals "400: a bad element rejects the whole batch" "$(events_with api-bb1)" 0
    post nobatch /v1/batch '{"events":[]}'
    check "400: a batch without \"batch\" (got $code)" test "$code" = 400
    post notype /v1/batch "{\"batch\":[$(track u-api "Api Event" api-nt1),{\"userId\":\"u-api\",\"event\":\"X\",\"messageId\":\"api-nt2\"}]}"
    status_body notype 400 'type' "400: a batch element without its type, named"
    post notbatcharray /v1/batch '{"batch":{"a":1}}'
    check "400: a \"batch\" that is not a list (got $code)" test "$code" = 400

    # -- 401: no key, a wrong key
    http nokey -H 'Content-Type: application/json' --data-binary "$(track u-api "Api Event" api-nokey)" "$SRV/v1/track"
    equals "401: no write key" "$code" 401
    http wrongkey -u nope: -H 'Content-Type: application/json' --data-binary "$(track u-api "Api Event" api-wrongkey)" "$SRV/v1/track"
    equals "401: a wrong write key" "$code" 401
    http wrongbatch -u nope: -H 'Content-Type: application/json' --data-binary "{\"batch\":[$(track u-api "Api Event" api-wrongbatch)]}" "$SRV/v1/batch"
    equals "401: a wrong write key on batch" "$code" 401
    settle
    equals "401: nothing stored" \
        "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id IN ('api-nokey', 'api-wrongkey', 'api-wrongbatch')")" 0
    http keypass -u wk_test:anything -H 'Content-Type: application/json' --data-binary "$(track u-api "Api Event" api-keypass)" "$SRV/v1/track"
    equals "auth: the password is ignored" "$code" 200

    # -- 413: an event over 32 KB, a request over 500 KB
    track u-api "Api Event" api-big "{\"pad\":\"$(pad 33000)\"}" >"$W/big.json"
    post big /v1/track "@$W/big.json"
    equals "413: an event over 32 KB" "$code" 413
    check "413: says why ($(head -c 120 "$W/big.body"))" grep -qi 'KB\|large\|bytes\|size' "$W/big.body"
    {   printf '{"batch":['
        i=0
        while [ $i -lt 20 ]; do
            [ $i -gt 0 ] && printf ','
            track u-api "Api Event" "api-huge-$i" "{\"pad\":\"$(pad 26000)\"}"
            i=$((i + 1))
        done
        printf ']}'
    } >"$W/huge.json"
    printf '{"batch":[%s,%s]}' "$(track u-api "Api Event" api-bigel-1)" "$(cat "$W/big.json")" >"$W/bigel.json"
    post bigel /v1/batch "@$W/bigel.json"
    equals "413: a batch element over 32 KB" "$code/$(events_with api-bigel-1)" "413/0"
    post huge /v1/batch "@$W/huge.json"
    equals "413: a request over 500 KB ($(wc -c <"$W/huge.json") bytes)" "$code" 413
    settle
    equals "413: nothing stored" \
        "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id = 'api-big' OR message_id LIKE 'api-huge-%'")" 0
    {   printf '{"batch":['
        i=0
        while [ $i -lt 15 ]; do
            [ $i -gt 0 ] && printf ','
            track u-api "Api Event" "api-fat-$i" "{\"pad\":\"$(pad 30000)\"}"
            i=$((i + 1))
        done
        printf ']}'
    } >"$W/fat.json"
    post fat /v1/batch "@$W/fat.json"
    settle
    equals "batch: 15 events of 30 KB (450 KB) are fine" "$code/$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id LIKE 'api-fat-%'")" "200/15"

    # -- 404, 405
    http nopath "$SRV/nope"
    equals "404: an unknown path" "$code" 404
    post nov1 /v1/nope "$(track u-api "Api Event" api-nov1)"
    equals "404: an unknown /v1 path" "$code" 404
    http gettrack -u wk_test: "$SRV/v1/track"
    equals "405: GET /v1/track" "$code" 405
    http puthealth -X DELETE "$SRV/healthz"
    check "405: DELETE /healthz (got $code)" test "$code" = 405

    # -- /v1/consent
    post consent /v1/consent '{"userId":"u-api","channel":"sms","purpose":"marketing","status":"granted","source":"signup-form","proof":"form #12"}'
    status_body consent 200 '"success":true' "consent: 200"
    run_nudge consent_show --config "$W/nudge.conf.lua" --db "$DB" consent show u-api
    contains "consent: nudge consent show lists it (while the server runs)" "$W/consent_show.out" \
        "sms        marketing     granted  signup-form form #12"
    post consent2 /v1/consent '{"userId":"u-api","channel":"email","status":"revoked"}'
    equals "consent: purpose and source have defaults" "$code/$(sqlite3 "$DB" "SELECT purpose || '/' || source FROM consent WHERE profile_id = 'u-api' AND channel = 'email'")" \
        "200/marketing/api"
    post consent404 /v1/consent '{"userId":"nobody-here","channel":"sms","status":"granted"}'
    equals "consent: 404 for an unknown person" "$code" 404
    post consentbad /v1/consent '{"userId":"u-api","channel":"SMS!","status":"granted"}'
    status_body consentbad 400 'channel' "consent: 400 for a bad channel, named"
    post consentpurpose /v1/consent '{"userId":"u-api","channel":"sms","purpose":"spam","status":"granted"}'
    check "consent: 400 for a bad purpose (got $code)" test "$code" = 400
    post consentstatus /v1/consent '{"userId":"u-api","channel":"sms","status":"maybe"}'
    check "consent: 400 for a bad status (got $code)" test "$code" = 400
    http consentauth -H 'Content-Type: application/json' --data-binary '{"userId":"u-api","channel":"sms","status":"revoked"}' "$SRV/v1/consent"
    equals "consent: 401 without a key" "$code" 401

    # -- one-click unsubscribe
    post unsub_person /v1/identify '{"userId":"u-unsub","messageId":"api-unsub-identify","traits":{"email":"unsub.person@example.test"}}'
    settle
    run_nudge mk --config "$W/nudge.conf.lua" --db "$DB" unsubscribe --make u-unsub email
    token=$(cat "$W/mk.out")
    equals "unsubscribe: a token made while the server runs" "$rc" 0
    http unsub_get "$SRV/unsubscribe?token=$token"
    equals "unsubscribe: GET 200" "$code" 200
    check "unsubscribe: GET is an HTML page" grep -qi '^content-type: text/html' "$W/unsub_get.hdr"
    check "unsubscribe: the page has a form with a button" grep -qi '<form[^>]*method="\{0,1\}post' "$W/unsub_get.body"
    check "unsubscribe: the page has a button" grep -qi '<button\|type="submit"' "$W/unsub_get.body"
    run_nudge show_get --config "$W/nudge.conf.lua" --db "$DB" consent show u-unsub
    if grep -q "email .*marketing .*revoked" "$W/show_get.out"; then
        not_ok "unsubscribe: GET alone changes nothing" "$(cat "$W/show_get.out")"
    else ok "unsubscribe: GET alone changes nothing"; fi
    http unsub_bad "$SRV/unsubscribe?token=$(flip "$token")"
    equals "unsubscribe: a tampered token is 400" "$code" 400
    http unsub_none "$SRV/unsubscribe"
    equals "unsubscribe: no token is 400" "$code" 400
    http unsub_post -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary 'List-Unsubscribe=One-Click' "$SRV/unsubscribe?token=$token"
    equals "unsubscribe: one-click POST 200" "$code" 200
    if grep -qi '^location:' "$W/unsub_post.hdr"; then not_ok "unsubscribe: no redirect" "$(cat "$W/unsub_post.hdr")"
    else ok "unsubscribe: no redirect"; fi
    run_nudge show_post --config "$W/nudge.conf.lua" --db "$DB" consent show u-unsub
    check "unsubscribe: consent show says revoked, by the unsubscribe ($(grep unsubscribe "$W/show_post.out"))" \
        grep -q "email .*marketing .*revoked .*unsubscribe" "$W/show_post.out"
    http unsub_bad_post -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-binary 'List-Unsubscribe=One-Click' "$SRV/unsubscribe?token=$(flip "$token")"
    equals "unsubscribe: a tampered token's POST is 400" "$code" 400

    # -- health and metrics
    http healthz "$SRV/healthz"
    status_body healthz 200 ok "healthz: 200 ok"
    http metrics "$SRV/metrics"
    equals "metrics: 200" "$code" 200
    contains "metrics: nudge_events_received_total" "$W/metrics.body" "nudge_events_received_total"
    contains "metrics: the request duration histogram" "$W/metrics.body" "nudge_http_request_duration_seconds_bucket"
    contains "metrics: nudge_outbox_depth" "$W/metrics.body" "nudge_outbox_depth"
    if "$PY" - "$W/metrics.body" >"$W/metrics.check" 2>&1 <<'EOF'
import re, sys
bad = [l for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")
       and not re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+(Inf)?$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [+-]Inf$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? NaN$', l.strip())]
print("".join(bad[:5]))
sys.exit(1 if bad else 0)
EOF
    then ok "metrics: every sample line is Prometheus text"
    else not_ok "metrics: every sample line is Prometheus text" "$(head -c 300 "$W/metrics.check")"; fi

    # -- durable acks and de-duplication by messageId
    post dup1 /v1/track "$(track u-dup "Api Event" api-dup-1)"
    c1=$code
    post dup2 /v1/track "$(track u-dup "Api Event" api-dup-1 '{"second":true}')"
    equals "dedupe: the same messageId twice is 200 both times" "$c1/$code" "200/200"
    post dup3 /v1/batch "{\"batch\":[$(track u-dup "Api Event" api-dup-1),$(track u-dup "Api Event" api-dup-2),$(track u-dup "Api Event" api-dup-2)]}"
    equals "dedupe: a batch repeating it is 200" "$code" 200

    # -- a journey runs as the event arrives, the webhook gets the message
    post ping /v1/track "$(track u-ping "Serve Ping" api-ping '{"n":7}')"
    if wait_count 1 5 hook_count '"template":"serve_ping"'; then ok "journey: the webhook got the message"
    else not_ok "journey: the webhook got the message" "nothing within 5 s: $(tail -c 400 "$W/http.log" 2>/dev/null)"; fi
    hook=$(json_eval "$W/http.log" '[r for r in L if "serve_ping" in r["body"]][0]["headers"].get("idempotency-key", "")' 2>/dev/null)
    check "journey: it carries an Idempotency-Key ($hook)" expr "$hook" : 'nudge-[0-9][0-9]*-[0-9][0-9]*$'
    equals "journey: the key is the outbox's" "$(sqlite3 "$DB" "SELECT idempotency_key FROM outbox WHERE template = 'serve_ping'")" "$hook"
    equals "journey: the rendered text" \
        "$(json_eval "$W/http.log" 'json.loads([r for r in L if "serve_ping" in r["body"]][0]["body"])["text"]' 2>/dev/null)" "Ping 7."
    wait_count 1 5 sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE template = 'serve_ping' AND status = 'delivered'"
    equals "journey: the outbox says delivered" \
        "$(sqlite3 "$DB" "SELECT status FROM outbox WHERE template = 'serve_ping'")" delivered

    # -- timers: j:wait("2s") then a send, on the wall clock
    t0=$(now_ms)
    post timer /v1/track "$(track u-timer "Serve Timer" api-timer '{"n":3}')"
    t1=$(now_ms)
    equals "timer: 200" "$code" 200
    wait_count 1 8 hook_count '"template":"serve_timer"'
    at=$(json_eval "$W/http.log" '([r["at_ms"] for r in L if "serve_timer" in r["body"]] or [0])[0]')
    made=$(sqlite3 "$DB" "SELECT created_ms FROM outbox WHERE template = 'serve_timer'")
    check "timer: fired within 1 s of its due time (queued $((${made:-0} - t0)) ms after the post)" \
        test "${made:-0}" -ge $((t0 + 2000)) -a "${made:-0}" -le $((t1 + 3000))
    check "timer: the message arrived 2-3 s after the event ($((at - t0)) ms after the post)" \
        test "$at" -ge $((t0 + 2000)) -a "$at" -le $((t1 + 3000))

    # -- the lock: a second server on the same database is refused at once
    t0=$(now_ms)
    timeout 10 "$NUDGE" --config "$W/nudge.conf.lua" --db "$DB" serve "$RECIPES/serve_hook.lua" \
        --listen 127.0.0.1:0 --port-file "$W/port2" </dev/null >"$W/second.out" 2>"$W/second.err"
    rc=$? took=$(($(now_ms) - t0))
    check "lock: a second nudge serve exits non-zero (rc $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
    check "lock: at once ($took ms)" test "$took" -lt 3000
    contains "lock: the message names the other server" "$W/second.err" "another nudge serve"
    contains "lock: and its pid" "$W/second.err" "$SRV_PID"
    check "lock: it wrote no port file" test ! -e "$W/port2"
    http after_lock "$SRV/healthz"
    equals "lock: the first server still answers" "$code" 200

    stop_serve TERM 10
    equals "api: SIGTERM exits 0" "$serve_rc" 0
    check "api: within a few seconds ($serve_ms ms)" test "$serve_ms" -lt 5000
    equals "dedupe: after the stop, the messageId is stored once" "$(events_with api-dup-1)" 1
    equals "dedupe: the first one is kept" \
        "$(sqlite3 "$DB" "SELECT json_extract(body, '\$.properties.second') IS NULL FROM events WHERE message_id = 'api-dup-1'")" 1
    equals "dedupe: a batch's repeat is stored once" "$(events_with api-dup-2)" 1
    equals "api: one instance per Serve Ping" "$(sqlite3 "$DB" "SELECT count(*) FROM instances WHERE journey = 'serve_hook'")" 1
fi

# ==== 2. SIGHUP: new versions for new entries, old ones finish on theirs ====
if setup hup; then
    cp "$RECIPES/serve_hup.lua" "$W/hup.lua"
    ln -s "$RECIPES/templates" "$W/templates"
    if start_serve hup "$W/hup.lua"; then
        post before /v1/track "$(track u-old "Serve Hup" hup-1)"
        equals "hup: the first event 200" "$code" 200
        sed 's/serve_hup_v1/serve_hup_v2/' "$W/hup.lua" >"$W/hup.lua.new" && mv "$W/hup.lua.new" "$W/hup.lua"
        kill -HUP "$SRV_PID"
        # the reload is logged; wait for it before the next event
        _n=0
        while ! grep -q "reload" "$W/hup.err" && [ $_n -lt 50 ]; do sleep 0.1; _n=$((_n + 1)); done
        sleep 0.3
        contains "hup: the reload is logged" "$W/hup.err" "reload"
        post after /v1/track "$(track u-new "Serve Hup" hup-2)"
        equals "hup: the second event 200" "$code" 200
        check "hup: the server survives SIGHUP" _sink_alive "$SRV_PID"
        wait_count 2 10 sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE status = 'delivered'"
        equals "hup: the instance from before the reload finishes on the old version" \
            "$(sqlite3 "$DB" "SELECT group_concat(template) FROM outbox WHERE profile_id = 'u-old'")" serve_hup_v1
        equals "hup: the new instance runs the new version" \
            "$(sqlite3 "$DB" "SELECT group_concat(template) FROM outbox WHERE profile_id = 'u-new'")" serve_hup_v2
        equals "hup: after the reload, the messages still go to the webhook" \
            "$(json_eval "$W/http.log" '",".join(sorted(json.loads(r["body"])["template"] for r in L if "/hook" in r["path"]))')" \
            "serve_hup_v1,serve_hup_v2"
        equals "hup: after the reload, nothing goes to the file channel instead" \
            "$(cat "$W/outbox.ndjson" 2>/dev/null | wc -l)" 0
        equals "hup: two versions in the instances table" \
            "$(sqlite3 "$DB" "SELECT count(DISTINCT version) FROM instances WHERE journey = 'serve_hup'")" 2
        run_nudge census --config "$W/nudge.conf.lua" --db "$DB" check "$W/hup.lua"
        equals "hup: nudge check's census shows two versions" \
            "$(awk '$1 == "serve_hup" { print $2 }' "$W/census.out" | sort -u | wc -l)" 2
        # a reload with a broken recipe keeps the running ones
        printf 'return journey { name = "serve_hup", trigger = { event = "Serve Hup" }, run = 42 }\n' >"$W/hup.lua"
        kill -HUP "$SRV_PID"
        sleep 1
        post broken /v1/track "$(track u-third "Serve Hup" hup-3)"
        equals "hup: a broken recipe on reload: the server goes on" "$code" 200
        wait_count 1 8 sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE profile_id = 'u-third'"
        equals "hup: ... on the last good version" \
            "$(sqlite3 "$DB" "SELECT group_concat(template) FROM outbox WHERE profile_id = 'u-third'")" serve_hup_v2
        stop_serve TERM 10
        equals "hup: SIGTERM exits 0" "$serve_rc" 0
    fi
fi

# ==== 3. SIGTERM while requests are in flight ===============================
if setup term && start_serve term "$RECIPES/serve_hook.lua"; then
    # five slow uploads of a 40-event batch (about 2 s each at 50 KB/s)
    for k in 1 2 3 4 5; do
        {   printf '{"batch":['
            i=0
            while [ $i -lt 40 ]; do
                [ $i -gt 0 ] && printf ','
                track "u-term-$k" "Term Event" "term-$k-$i" "{\"pad\":\"$(pad 2500)\"}"
                i=$((i + 1))
            done
            printf ']}'
        } >"$W/slow$k.json"
    done
    pids=""
    for k in 1 2 3 4 5; do
        curl -s -m 30 --limit-rate 50K -o "$W/slow$k.body" -w '%{http_code}' -u wk_test: \
            -H 'Content-Type: application/json' --data-binary "@$W/slow$k.json" "$SRV/v1/batch" \
            >"$W/slow$k.code" 2>/dev/null &
        pids="$pids $!"
    done
    CHILDREN="$CHILDREN $pids"
    sleep 0.8
    t0=$(now_ms)
    kill -TERM "$SRV_PID"
    sleep 0.2
    http term_health -m 2 "$SRV/healthz"
    check "term: while stopping, /healthz is not 200 (got $code)" test "$code" != 200
    stop_serve 0 15 # the TERM is sent: wait for the exit
    took=$(($(now_ms) - t0))
    equals "term: SIGTERM exits 0" "$serve_rc" 0
    check "term: within a few seconds ($took ms)" test "$took" -lt 10000
    for p in $pids; do wait "$p" 2>/dev/null; done
    equals "term: every request in hand got 200" \
        "$(cat "$W"/slow1.code "$W"/slow2.code "$W"/slow3.code "$W"/slow4.code "$W"/slow5.code | tr -d '\n ')" \
        "200200200200200"
    equals "term: their events are in the database" \
        "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id LIKE 'term-%'")" 200
    contains "term: the stop is logged" "$W/term.err" "SIGTERM"
fi

# ==== 4. kill -9 under load: no acknowledged event lost, no message doubled ==
cat >"$TMP/load_client.py" <<'EOF'
# The load client: sends batches of 25 events (batch B: messageIds
# load-B-0..24, two "Load Send" for users lB-a and lB-b, then "Load Event")
# to URL/v1/batch from 4 threads over keep-alive connections; appends B to
# ACKED (flushed) for each 200.  Batches: 0..N-1, or those in --only FILE
# not in --skip FILES.  Ends after --max-seconds whatever happens.
import argparse, base64, http.client, json, sys, threading, time, urllib.parse
ap = argparse.ArgumentParser()
ap.add_argument("--url"); ap.add_argument("--batches", type=int, default=400)
ap.add_argument("--skip", nargs="*", default=[]); ap.add_argument("--acked")
ap.add_argument("--max-seconds", type=float, default=60); ap.add_argument("--pause", type=float, default=0)
a = ap.parse_args()
done = set()
for f in a.skip:
    try: done |= {int(x) for x in open(f) if x.strip()}
    except FileNotFoundError: pass
todo = [b for b in range(a.batches) if b not in done]
lock = threading.Lock(); out = open(a.acked, "a")
deadline = time.time() + a.max_seconds
u = urllib.parse.urlparse(a.url)
auth = "Basic " + base64.b64encode(b"wk_test:").decode()
def body(b):
    ev = []
    for i in range(25):
        name = "Load Send" if i < 2 else "Load Event"
        user = "l%d-%s" % (b, "ab"[i]) if i < 2 else "l%d-a" % b
        ev.append({"type": "track", "userId": user, "event": name, "messageId": "load-%d-%d" % (b, i),
                   "properties": {"b": b, "i": i}})
    return json.dumps({"batch": ev})
def worker():
    conn = None
    while time.time() < deadline:
        with lock:
            if not todo: return
            b = todo.pop(0)
        try:
            if conn is None: conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("POST", "/v1/batch", body(b), {"Content-Type": "application/json", "Authorization": auth})
            r = conn.getresponse(); r.read()
            if r.status == 200:
                with lock: out.write("%d\n" % b); out.flush()
        except (OSError, http.client.HTTPException):
            if conn: conn.close()
            conn = None
        if a.pause: time.sleep(a.pause)
ts = [threading.Thread(target=worker) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
EOF
# (concurrency 4: the test sink's listen backlog is 5, and a connection it
# drops waits for a SYN retry, 1 s, which would stall delivery at the start)
if setup crash '[{"match":"/hook","status":200,"delay_ms":30}]' "concurrency = 4" &&
    start_serve crash1 "$RECIPES/serve_load.lua"; then
    "$PY" "$TMP/load_client.py" --url "$SRV" --batches 400 --acked "$W/acked1" --max-seconds 60 \
        --pause 0.02 >"$W/client1.out" 2>&1 &
    client=$!
    CHILDREN="$CHILDREN $client"
    # mid-load and mid-delivery
    wait_count 120 30 sh -c "cat '$W/acked1' 2>/dev/null | wc -l"
    wait_count 30 5 hook_count
    kill -9 "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null
    kill_ms=$(now_ms) # the first server is gone: what the sink got before came from it
    acked1=$(wc -l <"$W/acked1")
    # the client fails fast on a dead server; bound it anyway
    _n=0
    while _sink_alive "$client" && [ $_n -lt 300 ]; do sleep 0.1; _n=$((_n + 1)); done
    kill -9 "$client" 2>/dev/null; wait "$client" 2>/dev/null
    check "crash: some batches acknowledged before the kill ($acked1)" test "$acked1" -ge 100
    check "crash: the kill came mid-load ($acked1 of 400 acknowledged)" test "$acked1" -lt 400
    before=$(hook_count "")
    check "crash: deliveries had begun at the kill ($before)" test "$before" -gt 0
    if start_serve crash2 "$RECIPES/serve_load.lua"; then
        "$PY" "$TMP/load_client.py" --url "$SRV" --batches 400 --skip "$W/acked1" --acked "$W/acked2" \
            --max-seconds 60 >"$W/client2.out" 2>&1
        equals "crash: every batch is acknowledged in the end" \
            "$(cat "$W/acked1" "$W/acked2" | sort -u | wc -l)" 400
        wait_count 800 40 sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE status = 'delivered'"
        stop_serve TERM 20
        equals "crash: the restarted server exits 0" "$serve_rc" 0
        "$PY" - "$DB" "$W/http.log" "$kill_ms" "$W/acked1" "$W/acked2" >"$W/crash.check" 2>&1 <<'EOF'
import json, sqlite3, sys
db, log, kill_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
acked = set()
for f in sys.argv[4:]:
    acked |= {int(x) for x in open(f) if x.strip()}
c = sqlite3.connect(db)
rows = c.execute("SELECT message_id, count(*) FROM events WHERE message_id LIKE 'load-%' GROUP BY message_id").fetchall()
stored = {m: n for m, n in rows}
want = {"load-%d-%d" % (b, i) for b in acked for i in range(25)}
print("acked_missing", len(want - set(stored)))
print("stored_twice", sum(1 for n in stored.values() if n > 1))
print("stored", len(stored))
sends = c.execute("SELECT count(*) FROM events WHERE name = 'Load Send'").fetchone()[0]
out = c.execute("SELECT idempotency_key, status FROM outbox WHERE journey = 'serve_load'").fetchall()
print("outbox_rows", len(out), "sends", sends)
print("undelivered", sum(1 for k, s in out if s != "delivered"))
L = [json.loads(x) for x in open(log) if x.strip()]
hooks = [r for r in L if "/hook" in r["path"]]
keys = [r["headers"].get("idempotency-key") for r in hooks]
print("keys_missing", len({k for k, s in out} - set(keys)))
print("keys_unknown", len(set(keys) - {k for k, s in out}))
twice = [k for k in set(keys) if keys.count(k) > 1]
bad = [k for k in twice if keys.count(k) > 2 or
       min(r["at_ms"] for r in hooks if r["headers"].get("idempotency-key") == k) > kill_ms]
for k in bad[:5]:
    print("# doubled", k, [(r["at_ms"] - kill_ms, r["connection"], r["status"]) for r in hooks if r["headers"].get("idempotency-key") == k])
print("doubled", len(twice))
print("doubled_not_in_flight", len(bad))
EOF
        val() { awk -v k="$1" '$1 == k { print $2 }' "$W/crash.check"; }
        equals "crash: every acknowledged event is stored" "$(val acked_missing)" 0
        equals "crash: each once" "$(val stored_twice)" 0
        equals "crash: 10000 events stored (re-sent batches de-duplicated)" "$(val stored)" 10000
        equals "crash: one message per Load Send, none made twice" \
            "$(awk '$1 == "outbox_rows" { print $2 " " $4 }' "$W/crash.check")" "800 800"
        equals "crash: the outbox has every message delivered" "$(val undelivered)" 0
        equals "crash: the webhook got every message's key" "$(val keys_missing)/$(val keys_unknown)" "0/0"
        equals "crash: no key delivered twice except those in flight at the kill" \
            "$(val doubled_not_in_flight)" 0
        grep '^# ' "$W/crash.check"
        echo "# crash: $acked1 batches acknowledged before the kill, $before deliveries; $(val doubled) keys sent again after the restart"
    fi
fi

# ==== 5. the inbox: acknowledged before they run, run after a kill -9 =====
# slow_batch FILE FIRST N: a batch of N "Slow Event"s, messageIds slow-FIRST...
slow_batch() {
    {   printf '{"batch":['
        _sb_i=$2
        while [ $_sb_i -lt $(($2 + $3)) ]; do
            [ $_sb_i -gt $2 ] && printf ','
            track "u-slow-$_sb_i" "Slow Event" "slow-$_sb_i"
            _sb_i=$((_sb_i + 1))
        done
        printf ']}'
    } >"$1"
}
# backlog: the metric nudge_inbox_backlog now.
backlog() { curl -s -m 2 "$SRV/metrics" | awk '$1 == "nudge_inbox_backlog" { print $2 }'; }
if setup inbox && start_serve inbox1 "$RECIPES/serve_slow.lua"; then
    slow_batch "$W/slow1.json" 0 100
    t0=$(now_ms)
    post slow1 /v1/batch "@$W/slow1.json"
    took=$(($(now_ms) - t0))
    waiting=$(backlog)
    equals "inbox: 100 slow events are acknowledged" "$code" 200
    check "inbox: the 200 does not wait for them to run ($took ms, $waiting waiting)" \
        test "${waiting:-0}" -gt 0
    kill -9 "$SRV_PID"
    wait "$SRV_PID" 2>/dev/null
    ran=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id LIKE 'slow-%'")
    check "inbox: the kill came before they had all run ($ran of 100)" test "$ran" -lt 100
    check "inbox: the file is beside the database" test -s "$DB.inbox"
    "$NUDGE" --config "$W/nudge.conf.lua" --db "$DB" --outbox "$W/outbox.ndjson" tick \
        >"$W/inbox-tick.out" 2>"$W/inbox-tick.err"
    contains "inbox: nudge tick says acknowledged events wait for the service" \
        "$W/inbox-tick.err" "nudge serve acknowledged have not run"
    if start_serve inbox2 "$RECIPES/serve_slow.lua"; then
        contains "inbox: the restart says what waits" "$W/inbox2.err" "acknowledged events wait"
        wait_count 100 60 sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id LIKE 'slow-%'"
        stop_serve TERM 60
        equals "inbox: the restart exits 0" "$serve_rc" 0
        equals "inbox: every acknowledged event ran after the restart, once" \
            "$(sqlite3 "$DB" "SELECT count(*) || '/' || count(DISTINCT message_id) FROM events WHERE message_id LIKE 'slow-%'")" \
            "100/100"
        equals "inbox: one journey each" \
            "$(sqlite3 "$DB" "SELECT count(*) FROM instances WHERE journey = 'serve_slow'")" 100
        equals "inbox: the rows that ran are deleted" \
            "$(sqlite3 "$DB.inbox" "SELECT count(*) FROM inbox WHERE id <= (SELECT value FROM meta WHERE key = 'inbox_done')" 2>/dev/null || echo 0)" 0
    fi
    # server.backlog: past it, a 503 the client retries
    sed 's/write_keys_env = "NUDGE_WRITE_KEYS"/&, backlog = 150/' "$W/nudge.conf.lua" >"$W/small.conf.lua"
    rm -f "$W/port"
    "$NUDGE" --config "$W/small.conf.lua" --db "$DB" --outbox "$W/outbox.ndjson" serve \
        "$RECIPES/serve_slow.lua" --listen 127.0.0.1:0 --port-file "$W/port" </dev/null \
        >"$W/inbox3.out" 2>"$W/inbox3.err" &
    SRV_PID=$!
    CHILDREN="$CHILDREN $SRV_PID"
    if wait_serve "$W/port" "$SRV_PID"; then
        slow_batch "$W/slow2.json" 100 100
        slow_batch "$W/slow3.json" 200 100
        post slow2 /v1/batch "@$W/slow2.json"
        c2=$code
        post slow3 /v1/batch "@$W/slow3.json"
        equals "backlog: past server.backlog the next batch is refused" "$c2/$code" "200/503"
        contains "backlog: it says why" "$W/slow3.body" "behind"
        check "backlog: with Retry-After" grep -qi '^retry-after: 1' "$W/slow3.hdr"
        stop_serve TERM 60
        equals "backlog: what was acknowledged ran, the refused did not" \
            "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id LIKE 'slow-%'")" 200
    else not_ok "backlog: the server starts" "$(tail -n 5 "$W/inbox3.err")"; fi
    equals "inbox: a clean stop leaves no row in it" \
        "$(sqlite3 "$DB.inbox" "SELECT count(*) FROM inbox")" 0
    # a database made again from nothing beside an inbox still holding the
    # old one's events: refused with the reason, the events kept
    if start_serve inbox4 "$RECIPES/serve_slow.lua"; then
        slow_batch "$W/slow4.json" 300 100
        post slow4 /v1/batch "@$W/slow4.json"
        kill -9 "$SRV_PID"
        wait "$SRV_PID" 2>/dev/null
        rm -f "$DB" "$DB-wal" "$DB-shm"
        timeout 20 "$NUDGE" --config "$W/nudge.conf.lua" --db "$DB" --outbox "$W/outbox.ndjson" \
            serve "$RECIPES/serve_slow.lua" --listen 127.0.0.1:0 </dev/null \
            >"$W/inbox5.out" 2>"$W/inbox5.err"
        orphan_rc=$?
        check "inbox: another database's inbox is refused at the start (status $orphan_rc)" \
            test "$orphan_rc" = 1
        contains "inbox: the refusal says whose it may be" "$W/inbox5.err" "belongs to another database"
        equals "inbox: its events are kept" \
            "$(sqlite3 "$DB.inbox" "SELECT coalesce(sum(count), 0) FROM inbox")" 100
        for f in "$DB.inbox" "$DB.inbox-wal" "$DB.inbox-shm"; do
            [ -e "$f" ] && mv "$f" "$f.old"
        done
        if start_serve inbox6 "$RECIPES/serve_slow.lua"; then
            stop_serve TERM 10
            equals "inbox: moved aside, the service starts and stops" "$serve_rc" 0
        fi
    fi
fi

# ==== 6. --log-format json ==================================================
if setup json && start_serve json --log-format json "$RECIPES/serve_hook.lua"; then
    post j1 /v1/track "$(track u-json "Serve Ping" json-1)"
    post j2 /v1/track '{"userId":'
    http j3 "$SRV/nope"
    kill -HUP "$SRV_PID"
    sleep 0.5
    stop_serve TERM 10
    equals "json: exits 0" "$serve_rc" 0
    check "json: it logged something" test -s "$W/json.err"
    if "$PY" -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.strip(): continue
    if not isinstance(json.loads(line), dict): raise SystemExit("not an object: " + line)
    n += 1
print(n)' "$W/json.err" >"$W/json.check" 2>&1; then
        ok "json: every stderr line is a JSON object ($(cat "$W/json.check") lines)"
    else not_ok "json: every stderr line is a JSON object" "$(tail -n 3 "$W/json.check"); $(head -c 300 "$W/json.err")"; fi
fi

# ==== 7. the server table's bad values ====================================
mkdir -p "$TMP/badconf"
for bad in 'backlog = 0' 'backlog = "many"' 'threads = 5000' 'bogus = 1'; do
    key=${bad%% *}
    printf 'return { server = { %s } }\n' "$bad" >"$TMP/badconf/nudge.conf.lua"
    timeout 10 "$NUDGE" --config "$TMP/badconf/nudge.conf.lua" --db "$TMP/badconf/nudge.db" \
        serve --listen 127.0.0.1:0 </dev/null >/dev/null 2>"$TMP/badconf/err"
    equals "config: server = { $bad } is a usage error" "$?" 2
    contains "config: server = { $bad } names the key" "$TMP/badconf/err" "'server.$key'"
done

stop_sinks
