#!/bin/sh
# The command line as a user meets it (SPEC §2, §8): the demo scenario,
# bad input lines, the three file shapes and stdin, de-duplication by
# messageId, usage and config errors (exit 2), and an idle `nudge tick`.
. "$(dirname "$0")/lib.sh"
NUDGE=$NUDGE_OPEN # journeys send as written: no consent or quiet-hour rules here

RECIPE="$ROOT/recipes/cart_abandonment.lua"
DATA="$ROOT/tests/data"



# grep_count PATTERN FILE: lines of FILE matching PATTERN (fixed string).
grep_count() { grep -cF -- "$1" "$2" 2>/dev/null || true; }

# ---- the demo scenario ---------------------------------------------------

mkdir "$TMP/demo"
(cd "$TMP/demo" && "$NUDGE" run "$RECIPE" --events "$ROOT/examples/events.ndjson" --clock event \
    --db "$TMP/demo.db" --outbox "$TMP/demo.ndjson" >"$TMP/demo.out" 2>"$TMP/demo.err")
equals "demo: nudge run exits 0" "$?" 0
lines=$(wc -l <"$ROOT/examples/events.ndjson")
sent=$(wc -l <"$TMP/demo.ndjson" 2>/dev/null || echo 0)
if [ "$sent" -gt 0 ]; then ok "demo: outbox holds $sent messages"; else not_ok "demo: outbox non-empty" "empty"; fi
contains "demo: outbox has an sms" "$TMP/demo.ndjson" '"channel":"sms","template":"cart_sms"'
contains "demo: outbox has an email" "$TMP/demo.ndjson" '"channel":"email","template":"cart_reminder"'
if grep -F '"template":"cart_reminder"' "$TMP/demo.ndjson" | grep -F '"discount":10' | grep -qF '"items":[{"'; then
    ok "demo: email carries the cart and the discount"
else
    not_ok "demo: email carries the cart and the discount" "$(grep -m 1 -F cart_reminder "$TMP/demo.ndjson")"
fi
if grep -q '^events [0-9]* accepted, [0-9]* rejected, [0-9]* duplicate; journeys [0-9]* started, [0-9]* exited, [0-9]* completed, [0-9]* failed, [0-9]* waiting; messages [0-9]* delivered, [0-9]* suppressed, [0-9]* deferred, [0-9]* holdout, [0-9]* failed$' "$TMP/demo.out"; then
    ok "demo: summary line present"
else
    not_ok "demo: summary line present" "stdout: $(cat "$TMP/demo.out")"
fi
accepted=$(summary "$TMP/demo.out" events_accepted)
rejected=$(summary "$TMP/demo.out" events_rejected)
equals "demo: accepted = lines in the file - rejected" "${accepted:-?}" "$((lines - ${rejected:-0}))"
equals "demo: nothing rejected or duplicate in the sample" \
    "$rejected/$(summary "$TMP/demo.out" events_duplicate)" "0/0"
equals "demo: messages delivered = outbox lines" "$(summary "$TMP/demo.out" messages_delivered)" "$sent"
started=$(summary "$TMP/demo.out" journeys_started)
ended=$(($(summary "$TMP/demo.out" journeys_exited) + $(summary "$TMP/demo.out" journeys_completed) + \
    $(summary "$TMP/demo.out" journeys_failed) + $(summary "$TMP/demo.out" journeys_waiting)))
equals "demo: started = exited + completed + failed + waiting" "$started" "$ended"
equals "demo: no journey failed" "$(summary "$TMP/demo.out" journeys_failed)" 0
equals "demo: nothing written to the working folder" "$(find "$TMP/demo" -mindepth 1 ! -name nudge.key | wc -l)" 0

# ---- duplicates: the same file again is processed once -------------------

run_nudge demo2 run "$RECIPE" --events "$ROOT/examples/events.ndjson" --clock event \
    --db "$TMP/demo.db" --outbox "$TMP/demo.ndjson"
equals "duplicates: second run exits 0" "$rc" 0
equals "duplicates: second run reports every event duplicate" \
    "$(summary "$TMP/demo2.out" events_accepted)/$(summary "$TMP/demo2.out" events_duplicate)" "0/$lines"
equals "duplicates: second run starts no journey" "$(summary "$TMP/demo2.out" journeys_started)" 0
equals "duplicates: no new outbox line" "$(wc -l <"$TMP/demo.ndjson")" "$sent"
cat >"$TMP/dup.ndjson" <<'EOF'
{"type":"identify","userId":"d1","messageId":"dup-1","timestamp":"2026-11-02T10:00:00Z","traits":{"consent":{"sms":true}}}
{"type":"track","event":"Checkout Started","userId":"d1","messageId":"dup-2","timestamp":"2026-11-02T10:01:00Z"}
{"type":"track","event":"Checkout Started","userId":"d1","messageId":"dup-2","timestamp":"2026-11-02T10:01:00Z"}
{"type":"track","event":"Product Viewed","userId":"d2","messageId":"dup-3","timestamp":"2026-11-02T11:00:00Z"}
EOF
run_nudge dup run "$RECIPE" --events "$TMP/dup.ndjson" --clock event --db "$TMP/dup.db" --outbox "$TMP/dup.ndjson.out"
equals "duplicates: a messageId twice in one file counts once" \
    "$(summary "$TMP/dup.out" events_accepted)/$(summary "$TMP/dup.out" events_duplicate)/$(summary "$TMP/dup.out" journeys_started)" "3/1/1"
equals "duplicates: one sms for the twice-sent checkout" "$(grep_count '"channel":"sms"' "$TMP/dup.ndjson.out")" 1

# ---- bad input lines -----------------------------------------------------

# Good lines (1, 5, 10, 11) around one bad line of each kind; line 10 is
# exactly 32 KB, the most a line may hold.
bad="$TMP/mixed.ndjson"
{
    echo '{"type":"identify","userId":"g1","messageId":"m-1","timestamp":"2026-11-02T10:00:00Z","traits":{"consent":{"sms":true}}}'
    echo '{"type":"track","event":"Product Viewed",'
    echo '{"type":"track","event":"Product Viewed","messageId":"m-3","timestamp":"2026-11-02T10:00:01Z"}'
    echo '{"type":"track","userId":"g1","messageId":"m-4","timestamp":"2026-11-02T10:00:02Z"}'
    echo '{"type":"track","event":"Checkout Started","userId":"g1","messageId":"m-5","timestamp":"2026-11-02T10:00:03Z"}'
    echo '{"type":"track","event":"Product Viewed","userId":"g1","messageId":"m-6","timestamp":"2026-11-31T25:00:00Z"}'
    printf '{"type":"track","event":"Product Viewed \377","userId":"g1","messageId":"m-7","timestamp":"2026-11-02T10:00:04Z"}\n'
    printf '{"type":"track","event":"Big","userId":"g1","messageId":"m-8","timestamp":"2026-11-02T10:00:05Z","properties":{"pad":"%s"}}\n' \
        "$(head -c 33000 /dev/zero | tr '\0' x)"
    echo '{"type":"purchase","userId":"g1","messageId":"m-9","timestamp":"2026-11-02T10:00:06Z"}'
    head='{"type":"track","event":"Product Viewed","userId":"g2","messageId":"m-10","timestamp":"2026-11-02T10:00:07Z","properties":{"pad":"'
    printf '%s%s"}}\n' "$head" "$(head -c $((32768 - ${#head} - 3)) /dev/zero | tr '\0' y)"
    echo '{"type":"track","event":"Product Viewed","userId":"g3","messageId":"m-11","timestamp":"2026-11-02T11:00:00Z"}'
} >"$bad"
equals "bad input: line 10 is exactly 32768 bytes" "$(sed -n 10p "$bad" | tr -d '\n' | wc -c)" 32768

# expect_rejected NAME LINE WORD: stderr names mixed.ndjson:LINE as rejected
# with a reason that mentions WORD.
expect_rejected() {
    found=$(grep -F "mixed.ndjson:$2: rejected: " "$TMP/mixed.err" | head -n 1)
    case "$found" in
    *"$3"*) ok "bad input: $1 rejected with line $2 and a reason" ;;
    "") not_ok "bad input: $1 rejected with line $2 and a reason" "no 'mixed.ndjson:$2: rejected:' in: $(head -c 800 "$TMP/mixed.err")" ;;
    *) not_ok "bad input: $1 rejected with line $2 and a reason" "reason lacks '$3': $found" ;;
    esac
}

run_nudge mixed run "$RECIPE" --events "$bad" --clock event --db "$TMP/mixed.db" --outbox "$TMP/mixed.ndjson.out"
equals "bad input: exit 0 without --strict" "$rc" 0
expect_rejected "not JSON" 2 JSON
expect_rejected "no userId/anonymousId" 3 userId
expect_rejected "track without event" 4 event
expect_rejected "bad timestamp" 6 timestamp
expect_rejected "invalid UTF-8" 7 UTF-8
expect_rejected "line over 32 KB" 8 "32 KB"
expect_rejected "unknown type" 9 type
equals "bad input: exactly the 7 bad lines reported" "$(grep -c 'rejected' "$TMP/mixed.err")" 7
equals "bad input: summary counts" \
    "$(summary "$TMP/mixed.out" events_accepted)/$(summary "$TMP/mixed.out" events_rejected)/$(summary "$TMP/mixed.out" events_duplicate)" "4/7/0"
equals "bad input: every good event stored" \
    "$(sqlite3 "$TMP/mixed.db" "select group_concat(message_id, ' ') from (select message_id from events order by id)" 2>&1)" \
    "m-1 m-5 m-10 m-11"
equals "bad input: journey ran past the bad lines (sms for g1)" \
    "$(grep_count '"profile":"g1","channel":"sms"' "$TMP/mixed.ndjson.out")" 1

run_nudge strict run "$RECIPE" --events "$bad" --clock event --db "$TMP/strict.db" --outbox "$TMP/strict.ndjson.out" --strict
equals "bad input: exit 3 with --strict" "$rc" 3
equals "bad input: --strict keeps what was accepted" \
    "$(sqlite3 "$TMP/strict.db" "select count(*) from events" 2>&1)/$(grep_count '"channel":"sms"' "$TMP/strict.ndjson.out")" "4/1"
run_nudge strict_ok run "$RECIPE" --events "$DATA/events_batch.json" --clock event --db "$TMP/strict_ok.db" \
    --outbox "$TMP/strict_ok.ndjson.out" --strict
equals "bad input: --strict exits 0 when nothing is rejected" "$rc" 0

# ---- file shapes and stdin -----------------------------------------------

run_nudge array run "$RECIPE" --events "$DATA/events_array.json" --clock event --db "$TMP/array.db" --outbox "$TMP/array.ndjson.out"
equals "shapes: JSON array accepted (exit, accepted, rejected)" \
    "$rc/$(summary "$TMP/array.out" events_accepted)/$(summary "$TMP/array.out" events_rejected)" "0/3/0"
equals "shapes: JSON array events drive the journey" "$(grep_count '"profile":"arr1","channel":"sms"' "$TMP/array.ndjson.out")" 1

run_nudge batch run "$RECIPE" --events "$DATA/events_batch.json" --clock event --db "$TMP/batch.db" --outbox "$TMP/batch.ndjson.out"
equals "shapes: batch envelope accepted (exit, accepted, rejected)" \
    "$rc/$(summary "$TMP/batch.out" events_accepted)/$(summary "$TMP/batch.out" events_rejected)" "0/3/0"
equals "shapes: batch events drive the journey" "$(grep_count '"profile":"bat1","channel":"sms"' "$TMP/batch.ndjson.out")" 1

"$NUDGE" run "$RECIPE" --events - --clock event --db "$TMP/stdin.db" --outbox "$TMP/stdin.ndjson.out" \
    <"$TMP/dup.ndjson" >"$TMP/stdin.out" 2>"$TMP/stdin.err"
equals "shapes: NDJSON on stdin with --events - (exit, accepted, duplicate)" \
    "$?/$(summary "$TMP/stdin.out" events_accepted)/$(summary "$TMP/stdin.out" events_duplicate)" "0/3/1"
equals "shapes: stdin events stored" "$(sqlite3 "$TMP/stdin.db" "select count(*) from events" 2>&1)" 3
"$NUDGE" run "$RECIPE" --events - --clock event --db "$TMP/stdin2.db" --outbox "$TMP/stdin2.ndjson.out" \
    <"$DATA/events_array.json" >"$TMP/stdin2.out" 2>"$TMP/stdin2.err"
equals "shapes: JSON array on stdin" "$?/$(summary "$TMP/stdin2.out" events_accepted)" "0/3"

# ---- usage and config errors: exit 2 with a message that says what -------

# usage_error NAME TEXT ARGS...: nudge --db .. --outbox .. ARGS exits 2 and
# stderr matches TEXT (an extended regex).
usage_error() {
    what=$1 text=$2; shift 2
    run_nudge usage --db "$TMP/usage.db" --outbox "$TMP/usage.ndjson" "$@"
    if [ "$rc" -ne 2 ]; then
        not_ok "usage: $what exits 2" "exit $rc, stderr: $(head -c 400 "$TMP/usage.err")"
    elif ! grep -qE -- "$text" "$TMP/usage.err"; then
        not_ok "usage: $what exits 2" "stderr lacks /$text/: $(head -c 400 "$TMP/usage.err")"
    else
        ok "usage: $what exits 2"
    fi
}

usage_error "no command" "usage"
usage_error "unknown command" "frobnicate" frobnicate
usage_error "unknown option" "--frobnicate" run "$RECIPE" --frobnicate
usage_error "option without its value" "--events" run "$RECIPE" --events
usage_error "--clock bogus" "--clock" run "$RECIPE" --clock bogus --events "$TMP/dup.ndjson"
usage_error "missing recipe file" "no_such_recipe\.lua" run "$TMP/no_such_recipe.lua" --events "$TMP/dup.ndjson"
usage_error "recipe syntax error names file:line" "recipe_syntax_error\.lua:[0-9]+:" \
    run "$DATA/recipe_syntax_error.lua" --events "$TMP/dup.ndjson"
usage_error "unknown journey field" "unknown field .exit_when." \
    run "$DATA/recipe_unknown_field.lua" --events "$TMP/dup.ndjson"
if grep -qE "recipe_unknown_field\.lua:[0-9]+:" "$TMP/usage.err"; then
    ok "usage: unknown journey field error names the recipe line"
else
    not_ok "usage: unknown journey field error names the recipe line" "want recipe_unknown_field.lua:LINE (the field is on line 7): $(head -c 400 "$TMP/usage.err")"
fi
usage_error "bad config names the key" "'bogus'" --config "$DATA/config_unknown_key.lua" run "$RECIPE" \
    --events "$TMP/dup.ndjson"
usage_error "tick --now not a time" "--now" tick --now yesterday
if [ -e "$TMP/usage.db" ] && [ "$(sqlite3 "$TMP/usage.db" "select count(*) from events" 2>/dev/null)" != 0 ]; then
    not_ok "usage: no event ingested by a refused run" "$(sqlite3 "$TMP/usage.db" "select count(*) from events" 2>&1)"
else
    ok "usage: no event ingested by a refused run"
fi

# ---- tick with nothing due -----------------------------------------------

run_nudge tick_empty tick --db "$TMP/tick.db" --outbox "$TMP/tick.ndjson"
equals "tick: nothing due on a fresh db exits 0" "$rc" 0
before=$(wc -l <"$TMP/dup.ndjson.out")
run_nudge tick_early tick "$RECIPE" --now 2026-11-02T12:00:00Z --db "$TMP/dup.db" --outbox "$TMP/dup.ndjson.out"
equals "tick: before the next timer exits 0, delivers nothing" \
    "$rc/$(summary "$TMP/tick_early.out" messages_delivered)/$(wc -l <"$TMP/dup.ndjson.out")" "0/0/$before"

# ---- commands about known people need an existing database ----------------

mkdir "$TMP/nodb"
for cmd in "profile show u1" "profile export u1" "profile forget u1" "explain u1" \
    "consent show u1"; do
    # shellcheck disable=SC2086  # cmd is a list of words
    run_nudge nodb --db "$TMP/nodb/none.db" $cmd
    if [ "$rc" -eq 1 ] && grep -qF "no database at $TMP/nodb/none.db" "$TMP/nodb.err" &&
        [ -z "$(ls -A "$TMP/nodb")" ]; then
        ok "no database: '$cmd' exits 1, says so, creates nothing"
    else
        not_ok "no database: '$cmd' exits 1, says so, creates nothing" "rc=$rc $(cat "$TMP/nodb.err")"
    fi
done
