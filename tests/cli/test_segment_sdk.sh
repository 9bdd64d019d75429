#!/bin/sh
# A real Segment client against `nudge serve`: Segment's Node SDK
# (@segment/analytics-node, pinned by tests/node/package-lock.json,
# installed with `npm ci` into the scratch folder) posts identify, page and
# track calls to /v1/batch with its write key; the events arrive, a
# messageId sent twice is stored once, a wrong write key is refused, and a
# "Checkout Started" starts the cart recipe (recipes/cart_abandonment.lua).
# Needs node and the npm registry: without them the test fails, it does
# not skip.
. "$(dirname "$0")/lib.sh"

# sqlite3 reads the database while the server writes it: wait for locks.
sqlite3() { command sqlite3 -cmd '.timeout 5000' "$@"; }

NUDGE_WRITE_KEYS=wk_test
export NUDGE_WRITE_KEYS
W="$TMP/sdk"
DB="$W/nudge.db"
mkdir -p "$W"

sdk() {
    # -- node and the SDK
    if ! command -v node >/dev/null 2>&1; then
        not_ok "sdk: node is installed" "no 'node' on PATH (the test needs Node.js 18 or later)"
        return 1
    fi
    if ! command -v npm >/dev/null 2>&1; then
        not_ok "sdk: npm is installed" "no 'npm' on PATH"
        return 1
    fi
    mkdir -p "$TMP/node"
    cp "$ROOT/tests/node/package.json" "$ROOT/tests/node/package-lock.json" \
        "$ROOT/tests/node/segment_client.js" "$TMP/node/"
    if ! (cd "$TMP/node" && timeout 300 npm ci --no-audit --no-fund --fetch-retries=1 \
        --fetch-timeout=60000 >"$W/npm.out" 2>&1); then
        not_ok "sdk: npm ci installs @segment/analytics-node" \
            "npm failed (no network or registry $(npm config get registry 2>/dev/null)?): $(tail -n 6 "$W/npm.out" | tr '\n' ' ')"
        return 1
    fi
    ok "sdk: npm ci installs @segment/analytics-node $(cd "$TMP/node" && node -p 'require("@segment/analytics-node/package.json").version' 2>/dev/null)"

    # -- the server
    cat >"$W/nudge.conf.lua" <<'EOF'
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
  server = { write_keys_env = "NUDGE_WRITE_KEYS" },
}
EOF
    "$NUDGE" --config "$W/nudge.conf.lua" --db "$DB" --outbox "$W/outbox.ndjson" serve \
        "$ROOT/recipes/cart_abandonment.lua" --listen 127.0.0.1:0 --port-file "$W/port" \
        </dev/null >"$W/serve.out" 2>"$W/serve.err" &
    SRV_PID=$!
    CHILDREN="$CHILDREN $SRV_PID"
    n=0 SRV=""
    while [ $n -lt 100 ] && _sink_alive "$SRV_PID"; do
        if [ -s "$W/port" ]; then
            SRV="http://127.0.0.1:$(cat "$W/port")"
            [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$SRV/healthz")" = 200 ] && break
        fi
        sleep 0.1; n=$((n + 1))
    done
    if [ $n -ge 100 ] || ! _sink_alive "$SRV_PID"; then
        not_ok "sdk: the server starts" "no /healthz 200 within 10 s: $(tail -n 5 "$W/serve.err")"
        return 1
    fi

    # -- the client
    (cd "$TMP/node" && timeout 60 node segment_client.js "$SRV" wk_test >"$W/client.out" 2>"$W/client.err")
    rc=$?
    if [ $rc -eq 0 ]; then ok "sdk: every call acknowledged, the wrong key refused"
    else not_ok "sdk: every call acknowledged, the wrong key refused" "exit $rc: $(head -c 600 "$W/client.out") $(tail -n 5 "$W/client.err")"; fi

    # -- what arrived (read while the server runs: a 200 means committed)
    equals "sdk: the events arrived" \
        "$(sqlite3 "$DB" "SELECT group_concat(message_id || '=' || type || ':' || coalesce(name, ''), ' ') FROM (SELECT * FROM events ORDER BY message_id)")" \
        "sdk-checkout-1=track:Checkout Started sdk-dup-1=track:Coupon Applied sdk-identify-1=identify: sdk-page-1=page:Home sdk-page-2=page:Pricing sdk-viewed-1=track:Product Viewed"
    equals "sdk: the messageId sent twice is stored once" \
        "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id = 'sdk-dup-1'")" 1
    equals "sdk: the wrong write key stored nothing" \
        "$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE message_id = 'sdk-wrongkey-1'")" 0
    equals "sdk: the SDK's context is kept" \
        "$(sqlite3 "$DB" "SELECT json_extract(body, '\$.context.library.name') FROM events WHERE message_id = 'sdk-checkout-1'")" \
        "@segment/analytics-node"
    equals "sdk: the anonymous page is the visitor's" \
        "$(sqlite3 "$DB" "SELECT profile_id FROM events WHERE message_id = 'sdk-page-2'")" "sdk-anon-1"
    equals "sdk: Checkout Started started the cart journey, now waiting" \
        "$(sqlite3 "$DB" "SELECT journey || ' ' || profile_id || ' ' || state FROM instances")" \
        "cart_abandonment sdk-u1 1"
    run_nudge profile --config "$W/nudge.conf.lua" --db "$DB" profile show sdk-u1
    contains "sdk: the identify's traits are on the profile" "$W/profile.out" "Europe/Paris"

    # -- stop
    kill -TERM "$SRV_PID"
    n=0
    while _sink_alive "$SRV_PID" && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
    kill -9 "$SRV_PID" 2>/dev/null
    wait "$SRV_PID"
    equals "sdk: the server stops with SIGTERM, exit 0" "$?" 0
    contains "sdk: its summary counts six events and the duplicate" "$W/serve.out" "events 6 accepted, 0 rejected, 1 duplicate"
}

sdk
