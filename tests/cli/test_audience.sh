#!/bin/sh
# Audience triggers (trigger = { audience = function(p) ... end, every = ... }):
# a backtest under the event clock checks the audience daily and enters the
# right people on the right day; nobody enters twice; later ticks respect
# the reentry rule; the schedule persists across runs; an audience function
# that fails for one person skips only that person, with the recipe line;
# `nudge check` accepts the trigger and rejects a missing or bad `every`;
# `nudge simulate` and `nudge serve` check audiences too.
. "$(dirname "$0")/lib.sh"
NUDGE=$NUDGE_OPEN # sends go out as written: no consent or quiet-hour rules here
cd "$ROOT" || exit 1
WINBACK=tests/recipes/audience_winback.lua
FAILING=tests/recipes/audience_error.lua
DB=$TMP/a.db
OUT=$TMP/a.out

q() { sqlite3 "$DB" "$1"; }
# entered AT: the profiles whose instance started at AT (ISO), in id order.
entered() {
    q "select group_concat(profile_id, ' ') from (select profile_id from instances
       where journey = 'audience_winback' and started_ms = 1000 * strftime('%s', '$1')
       order by profile_id)"
}
tick() { run_nudge "$1" --db "$DB" --outbox "$OUT" tick $WINBACK --now "$2"; }

# u1 last ordered on Jan 1 (60 days on Mar 2), u2 on Feb 15 (Apr 16), u4
# on Jan 1 and again on Feb 19 at noon (60 days on Apr 20 at noon); u3
# never ordered.
cat >"$TMP/events.ndjson" <<'EOF'
{"type":"track","userId":"u1","event":"Order Completed","timestamp":"2026-01-01T00:00:00Z","properties":{"revenue":10}}
{"type":"track","userId":"u4","event":"Order Completed","timestamp":"2026-01-01T00:00:00Z","properties":{"revenue":10}}
{"type":"identify","userId":"u3","timestamp":"2026-01-01T00:00:00Z","traits":{"plan":"free"}}
{"type":"track","userId":"u2","event":"Order Completed","timestamp":"2026-02-15T00:00:00Z","properties":{"revenue":20}}
{"type":"track","userId":"u4","event":"Order Completed","timestamp":"2026-02-19T12:00:00Z","properties":{"revenue":5}}
{"type":"page","userId":"u3","name":"Home","timestamp":"2026-03-10T00:00:00Z"}
EOF

# ---- the backtest: daily passes from the first event's time ---------------
run_nudge backtest --db "$DB" --outbox "$OUT" run $WINBACK --events "$TMP/events.ndjson" \
    --clock event
equals "backtest: exits 0" "$rc" 0
contains "backtest: one person enters" "$TMP/backtest.out" "journeys 1 started"
equals "backtest: u1 enters on the day of their 60th day without an order" \
    "$(entered 2026-03-02T00:00:00Z)" "u1"
equals "backtest: j.trigger is the stored Audience Entered event" \
    "$(q "select e.name || ' ' || e.message_id || ' ' || json_extract(e.body, '$.properties.audience')
          from instances i join events e on e.id = i.trigger_event")" \
    "Audience Entered aud-audience_winback-u1-1772409600000 audience_winback"
contains "backtest: the recipe reads j.trigger and the computed traits" "$OUT" \
    '"vars":{"audience":"audience_winback","days":60,"event":"Audience Entered"}'
equals "backtest: the next pass is due the day after the last event" \
    "$(q "select value from meta where key = 'audience_due:audience_winback'")" 1773187200000

run_nudge rerun --db "$DB" --outbox "$OUT" run $WINBACK --events "$TMP/events.ndjson" \
    --clock event
contains "rerun: the same events again start nobody" "$TMP/rerun.out" "journeys 0 started"
equals "rerun: still one instance" "$(q "select count(*) from instances")" 1

# ---- later ticks: reentry and the schedule ----------------------------------
tick later 2026-04-20T00:00:00Z
equals "tick: u2 enters at 64 days; u1 (reentry 90d) and u4 (59 days) do not" \
    "$(entered 2026-04-20T00:00:00Z)" "u2"
tick same_day 2026-04-20T12:00:00Z
contains "schedule: a tick before a day has passed checks nobody (u4 is at 60 days)" \
    "$TMP/same_day.out" "journeys 0 started"
tick next_day 2026-04-21T00:00:00Z
equals "schedule: the next day's tick enters u4" "$(entered 2026-04-21T00:00:00Z)" "u4"
tick quarter 2026-06-05T00:00:00Z
equals "reentry: u1 enters again after 90 days, u2 and u4 not yet" \
    "$(entered 2026-06-05T00:00:00Z)" "u1"
equals "nobody twice: one instance per entry" \
    "$(q "select group_concat(profile_id, ' ') from (select profile_id from instances order by id)")" \
    "u1 u2 u4 u1"

# ---- a failing audience function ------------------------------------------
cp "$DB" "$TMP/fail.db"
run_nudge failing --db "$TMP/fail.db" --outbox "$TMP/fail.out" tick $FAILING \
    --now 2026-06-05T00:00:00Z
equals "failing: the tick exits 0" "$rc" 0
contains "failing: the error names the recipe line and the profile" "$TMP/failing.err" \
    "trigger.audience failed for profile u2 (skipped): $FAILING:8: no verdict for u2"
contains "failing: a CPU limit tripped for one profile is reported" "$TMP/failing.err" \
    "profile u3 (skipped): $FAILING:9: CPU budget of 100 ms exceeded"
equals "failing: everyone else enters" \
    "$(sqlite3 "$TMP/fail.db" "select group_concat(profile_id, ' ') from (select profile_id
        from instances where journey = 'audience_error' order by profile_id)")" "u1 u4"

# ---- the wall clock: checked once, at the end of the run --------------------
run_nudge wall --db "$TMP/wall.db" --outbox "$TMP/wall.out" run $WINBACK \
    --events "$TMP/events.ndjson"
contains "wall clock: everyone 60 days past their last order enters" "$TMP/wall.out" \
    "journeys 3 started"

# ---- nudge simulate ---------------------------------------------------------
run_nudge simulate --format json simulate $WINBACK --events "$TMP/events.ndjson"
equals "simulate: the backtest enters u1" \
    "$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))
print([j["entered"] for j in r["journeys"] if j["journey"] == "audience_winback"])' \
        "$TMP/simulate.out" 2>&1)" "[1]"

# ---- nudge check -----------------------------------------------------------
run_nudge check_ok --db "$TMP/check.db" check $WINBACK
equals "check: accepts an audience trigger" "$rc" 0
# bad_every NAME EVERY MESSAGE: a recipe with `every = EVERY` is refused.
bad_every() {
    cat >"$TMP/$1.lua" <<EOF
return journey {
  name = "$1",
  trigger = { audience = function(p) return true end, $2 },
  run = function(j) end,
}
EOF
    run_nudge "$1" --db "$TMP/check.db" check "$TMP/$1.lua"
    equals "check: $1 exits 2" "$rc" 2
    contains "check: $1 says why" "$TMP/$1.err" "$TMP/$1.lua:1: journey: $3"
}
bad_every every_missing 'reentry_typo = 1' 'trigger.every is required with trigger.audience'
bad_every every_word 'every = "daily"' 'trigger.every: expected a duration like'
bad_every every_short 'every = "30s"' 'trigger.every must be at least "1m"'
bad_every every_with_event 'every = "1d", event = "X"' \
    'trigger: either { event = ..., where = ... } or { audience = ..., every = ... }, not both'
cat >"$TMP/every_alone.lua" <<'EOF'
return journey { name = "every_alone", trigger = { event = "X", every = "1d" }, run = function(j) end }
EOF
run_nudge every_alone --db "$TMP/check.db" check "$TMP/every_alone.lua"
contains "check: every without an audience is refused" "$TMP/every_alone.err" \
    "trigger.every goes with trigger.audience"

# ---- nudge serve: the engine thread checks the audience ---------------------
SRV_DB=$TMP/serve.db
run_nudge serve_seed --db "$SRV_DB" --outbox "$TMP/serve.out" run --events "$TMP/events.ndjson"
cat >"$TMP/serve.conf.lua" <<'EOF'
return { consent_default = "opt_out", server = { write_keys_env = "NUDGE_WRITE_KEYS" } }
EOF
NUDGE_WRITE_KEYS=wk_test "$NUDGE_BIN" --config "$TMP/serve.conf.lua" --db "$SRV_DB" \
    --outbox "$TMP/serve.out" serve $WINBACK --listen 127.0.0.1:0 --port-file "$TMP/port" \
    </dev/null >"$TMP/serve.log" 2>&1 &
SRV_PID=$!
CHILDREN="$CHILDREN $SRV_PID"
n=0
while [ $n -lt 100 ] && [ "$(sqlite3 -cmd '.timeout 2000' "$SRV_DB" \
    "select count(*) from instances" 2>/dev/null)" != 3 ]; do
    sleep 0.1; n=$((n + 1))
done
kill -TERM "$SRV_PID" 2>/dev/null
wait "$SRV_PID"
equals "serve: exits 0 on SIGTERM" "$?" 0
equals "serve: the first pass runs at once and enters everyone due" \
    "$(sqlite3 "$SRV_DB" "select group_concat(profile_id, ' ') from (select profile_id
        from instances order by profile_id)")" "u1 u2 u4"
equals "serve: their messages are delivered" "$(grep -c '"template":"winback"' "$TMP/serve.out")" 3
