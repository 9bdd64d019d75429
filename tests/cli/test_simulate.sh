#!/bin/sh
# `nudge simulate` (SPEC §8, issue 6): a backtest into a throwaway store.
# Its totals must match what a real `nudge run --clock event` into a fresh
# database records; it must never write the user's --db, key or outbox,
# must leave no temp folder behind (also on errors), and must say the same
# as JSON.  The real binary, each scenario's own config, real SQLite files.
. "$(dirname "$0")/lib.sh"

CART="$ROOT/recipes/cart_abandonment.lua"
EVENTS="$ROOT/examples/events.ndjson"
HOLD="$ROOT/tests/recipes/sim_holdout.lua"

# scenario NAME: a fresh folder $W with a config $CONF whose database,
# key and outbox ($DB, $KEY, $OUT) must stay absent, and a $W/tmp for
# TMPDIR that must stay empty.
scenario() {
    W="$TMP/$1"; mkdir -p "$W/tmp"
    DB="$W/user.db"; KEY="$W/user.key"; OUT="$W/user.out"
    CONF="$W/nudge.conf.lua"
    config "$DB" "$KEY" "$OUT" >"$CONF"
    config "$W/real.db" "$W/real.key" "$W/real.out" >"$W/real.conf.lua"
}

# config DB KEY OUTBOX: the scenario's settings with those files.
config() {
    cat <<CONF
return { db = "$1", key_file = "$2", outbox = "$3",
         consent_default = "${CONSENT:-opt_in}", quiet_hours = ${QUIET:-nil} }
CONF
}

# simulate NAME ARGS...: nudge simulate with the scenario's config and TMPDIR.
simulate() {
    sim_name=$1; shift
    TMPDIR="$W/tmp" "$NUDGE" --config "$CONF" simulate "$@" \
        >"$W/$sim_name.out" 2>"$W/$sim_name.err"
    rc=$?
}

# real NAME RECIPE EVENTS: the same events and settings through `nudge run`
# into $W/real.db (its own key and outbox); the summary line in $W/NAME.out.
real() {
    run_nudge "$1" --config "$W/real.conf.lua" run "$2" --events "$3" --clock event
}

# js FILE EXPR: a Python expression over the JSON object in FILE (as r).
js() {
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# untouched NAME: the user's files are absent and no temp folder is left.
untouched() {
    left=""
    for f in "$DB" "$DB-wal" "$KEY" "$OUT"; do [ -e "$f" ] && left="$left $f"; done
    equals "$1: user's db, key and outbox untouched" "$left" ""
    equals "$1: no temp folder left" "$(ls -A "$W/tmp")" ""
}

# queue-time message-log counts of a database: "channel outcome n" lines.
logged_counts() {
    sqlite3 -separator ' ' "$1" "select channel, outcome, count(*) from message_log
        where coalesce(detail, '') <> 'checked again at delivery'
        group by 1, 2 order by 1, 2"
}

# the cart recipe over the example events: the totals match a real run
scenario cart
simulate sim "$CART" --events "$EVENTS" --format json
equals "cart: exit 0" "$rc" 0
untouched cart
real run "$CART" "$EVENTS"
J='r["journeys"][0]'
for k in started:entered exited:exited completed:completed failed:failed waiting:waiting; do
    equals "cart: journeys ${k%%:*} as in the run" "$(js "$W/sim.out" "$J[\"${k#*:}\"]")" \
        "$(summary "$W/run.out" "journeys_${k%%:*}")"
done
equals "cart: events accepted as in the run" "$(js "$W/sim.out" 'r["events"]["accepted"]')" \
    "$(summary "$W/run.out" events_accepted)"
equals "cart: messages by channel and outcome as in the run's message log" \
    "$(js "$W/sim.out" "'\n'.join('%s %s %d' % (c, o, n) for c, m in sorted($J['messages'].items()) for o, n in sorted(m.items()))")" \
    "$(logged_counts "$W/real.db")"
equals "cart: deferred as in the summary line" \
    "$(js "$W/sim.out" "sum(m.get('deferred', 0) for m in $J['messages'].values())")" \
    "$(summary "$W/run.out" messages_deferred)"
equals "cart: holdout as in the summary line" \
    "$(js "$W/sim.out" "sum(m.get('holdout', 0) for m in $J['messages'].values())")" \
    "$(summary "$W/run.out" messages_holdout)"
equals "cart: exits by reason as in the run" \
    "$(js "$W/sim.out" "' '.join('%s=%d' % kv for kv in sorted($J['exit_reasons'].items()))")" \
    "$(sqlite3 "$W/real.db" "select group_concat(r || '=' || n, ' ') from (select exit_reason r, count(*) n from instances where state = 3 group by 1 order by 1)")"
equals "cart: goals per arm as in the run" \
    "$(js "$W/sim.out" "'%d/%d %d/%d' % ($J['goals']['treatment']['reached'], $J['goals']['treatment']['entered'], $J['goals']['holdout']['reached'], $J['goals']['holdout']['entered'])")" \
    "$(sqlite3 "$W/real.db" "select sum(not holdout and goal_ms > 0) || '/' || sum(not holdout) || ' ' || sum(holdout and goal_ms > 0) || '/' || sum(holdout) from instances")"
equals "cart: json timeline capped at 200" "$(js "$W/sim.out" 'len(r["timeline"]) + r["timeline_more"]')" \
    "$(logged_counts "$W/real.db" | awk '{ n += $3 } END { print n }')"
equals "cart: the run delivered while the simulation did not" \
    "$(test -s "$W/real.out" && echo yes)" yes

# the text form: one timeline line per message, then the totals
simulate text "$CART" --events "$EVENTS" --timeline all
equals "text: exit 0" "$rc" 0
equals "text: one line per message-log row" \
    "$(grep -c '^  20[0-9-]*T.*cart_abandonment' "$W/text.out")" \
    "$(sqlite3 "$W/real.db" "select count(*) from message_log")"
contains "text: first message in time order" "$W/text.out" \
    "$(sqlite3 -separator '  ' "$W/real.db" "select strftime('%Y-%m-%dT%H:%M:%fZ', at_ms / 1000.0, 'unixepoch'), profile_id from message_log order by at_ms, id limit 1")"
contains "text: totals line" "$W/text.out" \
    "entered $(summary "$W/run.out" journeys_started), completed $(summary "$W/run.out" journeys_completed)"
contains "text: goals line" "$W/text.out" "goals: treatment"
simulate capped "$CART" --events "$EVENTS"
contains "text: timeline capped with a count of the rest" "$W/capped.out" "... "
equals "text: 200 timeline lines by default" "$(grep -c '^  20[0-9-]*T' "$W/capped.out")" 200
untouched text

# holdout vs treatment: the goal counts per arm, and the config applies
CONSENT=opt_out QUIET="{ email = false }" scenario hold
{
    for i in $(seq 1 20); do
        printf '{"type":"track","userId":"h%02d","timestamp":"2026-03-02T10:%02d:00Z","messageId":"s-%d","event":"Signed Up"}\n' "$i" "$i" "$i"
    done
    for i in $(seq 1 2 20); do
        printf '{"type":"track","userId":"h%02d","timestamp":"2026-03-02T12:%02d:00Z","messageId":"p-%d","event":"Purchased"}\n' "$i" "$i" "$i"
    done
    printf '{"type":"track","userId":"h01","timestamp":"2026-03-03T09:00:00Z","messageId":"c-1","event":"Account Closed"}\n'
} >"$W/events.ndjson"
simulate sim "$HOLD" --events "$W/events.ndjson" --format json
equals "hold: exit 0" "$rc" 0
real run "$HOLD" "$W/events.ndjson"
H='r["journeys"][0]["goals"]'
equals "hold: treatment goals as in the run" \
    "$(js "$W/sim.out" "'%d/%d' % ($H['treatment']['reached'], $H['treatment']['entered'])")" \
    "$(sqlite3 "$W/real.db" "select sum(goal_ms > 0) || '/' || count(*) from instances where not holdout")"
equals "hold: holdout goals as in the run" \
    "$(js "$W/sim.out" "'%d/%d' % ($H['holdout']['reached'], $H['holdout']['entered'])")" \
    "$(sqlite3 "$W/real.db" "select sum(goal_ms > 0) || '/' || count(*) from instances where holdout")"
equals "hold: both arms have people and 10 goals in all" \
    "$(js "$W/sim.out" "($H['holdout']['entered'] > 0, $H['treatment']['entered'] > 0, $H['holdout']['reached'] + $H['treatment']['reached'])")" \
    "(True, True, 10)"
equals "hold: rate is reached over entered" \
    "$(js "$W/sim.out" "abs($H['treatment']['rate'] - $H['treatment']['reached'] / $H['treatment']['entered']) < 1e-9")" True
equals "hold: opt_out config applies (welcome queued, not suppressed)" \
    "$(js "$W/sim.out" 'r["journeys"][0]["messages"]["email"].get("queued", 0) + r["journeys"][0]["messages"]["email"].get("holdout", 0)')" \
    20
equals "hold: exit reasons, waiting as in the run" \
    "$(js "$W/sim.out" "(r['journeys'][0]['exit_reasons'], r['journeys'][0]['waiting'])")" \
    "({'Account Closed': $(summary "$W/run.out" journeys_exited)}, $(summary "$W/run.out" journeys_waiting))"
untouched hold

# errors: usage exits 2, a rejected line with --strict exits 3, and the
# throwaway folder goes also when the run fails
scenario errors
simulate none --events "$EVENTS"
equals "usage: no recipe exits 2" "$rc" 2
simulate noev "$CART"
equals "usage: no --events exits 2" "$rc" 2
simulate fmt "$CART" --events "$EVENTS" --format xml
equals "usage: a bad --format exits 2" "$rc" 2
simulate clock "$CART" --events "$EVENTS" --clock wall
equals "usage: --clock wall exits 2" "$rc" 2
printf 'return journey { name = "broken", trigger = { event = "X" }, run = function(j) j:nope( end }\n' >"$W/broken.lua"
simulate broken "$W/broken.lua" --events "$EVENTS"
equals "a recipe that does not load exits 2" "$rc" 2
simulate missing "$CART" --events "$W/no-such.ndjson"
equals "a missing events file exits 1" "$rc" 1
{ head -n 50 "$EVENTS"; echo 'not json'; } >"$W/bad.ndjson"
simulate strict "$CART" --events "$W/bad.ndjson" --strict --format json
equals "--strict with a rejected line exits 3" "$rc" 3
equals "--strict still reports, with the rejected count" \
    "$(js "$W/strict.out" 'r["events"]["rejected"]')" 1
untouched errors
