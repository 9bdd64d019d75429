#!/bin/sh
# `nudge test` (SPEC §9): recipe tests under a virtual clock, each case in
# a throwaway store.  tests/recipes/kit/ holds a recipe with templates, a
# test file whose cases pass and one whose cases fail in each way; this
# script checks the ok/not ok lines, the story printed under a failure, the
# final count and the exit code.  nudge test's own output goes to files,
# never to this script's stdout (tests/run.sh counts "ok" lines there).
. "$(dirname "$0")/lib.sh"

KIT="$ROOT/tests/recipes/kit"

# scenario NAME [EXTRA CONFIG]: a folder $W with a config $CONF (opt-in
# consent, an SMTP email channel whose password variable is unset, the
# kit as the recipe folder) whose database, key and outbox must stay
# absent, and $W/tmp as TMPDIR, which must stay empty.
scenario() {
    W="$TMP/$1"; mkdir -p "$W/tmp"
    CONF="$W/nudge.conf.lua"
    cat >"$CONF" <<CONF
return {
  db = "$W/user.db", key_file = "$W/user.key", outbox = "$W/user.out",
  consent_default = "opt_in",
  recipes = { "$KIT" },
  channels = {
    email = { adapter = "smtp", url = "smtp://127.0.0.1:9", from = "Shop <shop@example.com>",
              username = "shop", password_env = "NUDGE_TEST_PASSWORD_NOT_SET",
              unsubscribe_url = "${UNSUB_URL:-https://shop.example.com/unsubscribe}" },
  },
}
CONF
}

# kit NAME ARGS...: nudge test with the scenario's config and TMPDIR; the
# output in $W/NAME.out and .err, the exit code in $rc.
kit() {
    kit_name=$1; shift
    env -u NUDGE_TEST_PASSWORD_NOT_SET TMPDIR="$W/tmp" "$NUDGE" --config "$CONF" test "$@" \
        >"$W/$kit_name.out" 2>"$W/$kit_name.err"
    rc=$?
}

# untouched NAME: no user file was made and no temp folder is left.
untouched() {
    left=""
    for f in "$W/user.db" "$W/user.key" "$W/user.out"; do [ -e "$f" ] && left="$left $f"; done
    equals "$1: user's db, key and outbox untouched" "$left" ""
    equals "$1: no temp folder left" "$(ls -A "$W/tmp")" ""
}

last_line() { tail -n 1 "$1"; }

# ---- the passing cases -----------------------------------------------------
scenario pass
kit pass "$KIT/kit_cart_test.lua"
equals "passing file: exit code 0" "$rc" 0
equals "passing file: ends with the count" "$(last_line "$W/pass.out")" "8 passed, 0 failed"
equals "passing file: one ok line per case" "$(grep -c '^ok - kit_cart_test.lua: ' "$W/pass.out")" 8
contains "passing file: a case line names file and case" "$W/pass.out" \
    "ok - kit_cart_test.lua: SMS after 30 minutes when consented"
equals "passing file: nothing on stderr" "$(cat "$W/pass.err")" ""
untouched "passing file"

# a recipe named instead of its test runs the test beside it
kit recipe "$KIT/kit_cart.lua"
equals "a recipe named: its test runs" "$(last_line "$W/recipe.out")" "8 passed, 0 failed"

# ---- the failing cases -----------------------------------------------------
scenario fail
kit fail "$KIT/failing_test.lua"
OUT="$W/fail.out"
equals "failing file: exit code 1" "$rc" 1
equals "failing file: ends with the count" "$(last_line "$OUT")" "1 passed, 5 failed"
equals "failing file: five not ok lines" "$(grep -c '^not ok - failing_test.lua: ' "$OUT")" 5
contains "wrong channel: what was expected, at the test's line" "$OUT" \
    "not ok - failing_test.lua: wrong channel: $KIT/failing_test.lua:12: expected a message on push to f1, but none was sent; 1 other message was captured"
contains "not sent yet: says to advance the clock" "$OUT" \
    "not ok - failing_test.lua: not sent yet: $KIT/failing_test.lua:20: expected a message on email to f2, but none was sent; no j:send has made one yet (the clock is at 2026-03-02T17:00:00.000Z: if a journey still waits, advance the clock further"
contains "no consent: the guardrail and what to do" "$OUT" \
    'was suppressed (no_consent: marketing): record consent first, e.g. s:consent("f3", "email", true)'
contains "wrong state: expected and actual state" "$OUT" \
    "not ok - failing_test.lua: wrong state: $KIT/failing_test.lua:33: expected f4 in journey kit_cart to be completed, but it is waiting (j:wait until 2026-03-03T15:30:00.000Z)"
contains "a Lua error: names the test file line" "$OUT" \
    "not ok - failing_test.lua: a Lua error: $KIT/failing_test.lua:39: attempt to index a nil value (local 'plan')"
contains "the passing case passes" "$OUT" "ok - failing_test.lua: passes"
contains "a failure tells the story so far" "$OUT" \
    '    the story so far, as `nudge explain f1` would tell it:'
contains "the story is nudge explain's" "$OUT" \
    "j:send sms kit_cart_sms: queued, then delivered 2026-03-02T15:30:00.000Z"
contains "the story shows where the journey waits" "$OUT" \
    "waiting: j:wait until 2026-03-03T15:30:00.000Z"
contains "a failure lists the messages captured" "$OUT" \
    '      2026-03-02T15:30:00.000Z  sms to f1, template kit_cart_sms: delivered  "Hi, your cart is waiting."'
equals "story lines never look like results" \
    "$(grep -c '^ok\|^not ok' "$OUT")" 6
untouched "failing file"

# the same story as nudge explain on a real run of the same events
W2="$W/real"; mkdir -p "$W2"
cat >"$W2/events.ndjson" <<'EOF'
{"type":"identify","userId":"f1","traits":{"phone":"+15551230001","consent":{"sms":true}},"timestamp":"2026-03-02T15:00:00Z","messageId":"e1"}
{"type":"track","userId":"f1","event":"Checkout Started","properties":{},"timestamp":"2026-03-02T15:00:00Z","messageId":"e2"}
{"type":"track","userId":"f1","event":"Page Viewed","timestamp":"2026-03-02T15:30:00Z","messageId":"e3"}
EOF
"$NUDGE" --db "$W2/real.db" --outbox "$W2/out.ndjson" run "$KIT/kit_cart.lua" \
    --events "$W2/events.ndjson" --clock event >/dev/null 2>&1
"$NUDGE" --db "$W2/real.db" explain f1 >"$W2/explain.out" 2>&1
contains "nudge explain still prints the story" "$W2/explain.out" \
    "j:send sms kit_cart_sms: queued, then delivered"
contains "nudge explain's lines are the ones shown" "$OUT" \
    "$(grep 'entered' "$W2/explain.out" | head -n 1 | sed 's/^ *//')"

# ---- discovery ---------------------------------------------------------------
scenario all
kit all
equals "no argument: the config's recipe folders, exit 1" "$rc" 1
equals "no argument: both files run" "$(last_line "$W/all.out")" "9 passed, 5 failed"
kit folder "$KIT"
equals "a folder: both files run" "$(last_line "$W/folder.out")" "9 passed, 5 failed"
untouched "all files"

scenario usage
mkdir -p "$W/empty"
kit empty "$W/empty"
equals "no test files: exit code 2" "$rc" 2
contains "no test files: says what to write" "$W/empty.err" "no test files (*_test.lua) found"
kit missing "$W/nowhere_test.lua"
equals "a missing file: exit code 2" "$rc" 2
contains "a missing file: named" "$W/missing.err" "nowhere_test.lua: no such test file or folder"
printf 'x\n' >"$W/notes.txt"
kit notes "$W/notes.txt"
equals "not a test file: exit code 2" "$rc" 2
contains "not a test file: says what one is" "$W/notes.err" "test files end in _test.lua"
printf 'return {}\n' >"$W/bare.conf.lua"
TMPDIR="$W/tmp" "$NUDGE" --config "$W/bare.conf.lua" test >"$W/bare.out" 2>"$W/bare.err"
equals "no folder in the config: exit code 2" "$?" 2
contains "no folder in the config: what to run" "$W/bare.err" "run \`nudge test recipes/\`"

# ---- errors in test files and recipes --------------------------------------
scenario errors
D="$W/recipes"; mkdir -p "$D/templates"
cat >"$D/boom.lua" <<'EOF'
return journey {
  name = "boom",
  trigger = { event = "Go" },
  run = function(j)
    j:wait("1h")
    local plan = nil
    return plan.next
  end,
}
EOF
cat >"$D/boom_test.lua" <<'EOF'
local t = require "nudge.test"
t.case("a recipe error fails the case", function(s)
  s:track("b1", "Go", {}, "2026-05-01T10:00:00Z")
  s:advance("2h")
end)
local kept
t.case("keeps s", function(s) kept = s end)
t.case("uses s of another case", function(s) kept:advance("1m") end)
t.case("t.case inside a case", function(s) t.case("x", function() end) end)
t.case("bad arguments", function(s) s:advance("soon") end)
t.case("typo in an expectation", function(s) s:expect_sent{ chanel = "sms" } end)
EOF
kit boom "$D/boom_test.lua"
OUT="$W/boom.out"
equals "recipe error: exit code 1" "$rc" 1
contains "recipe error: the step fails with the recipe's line" "$OUT" \
    "boom_test.lua:4: the journey boom failed for b1: $D/boom.lua:7: attempt to index a nil value (local 'plan')"
contains "recipe error: the story shows the failure" "$OUT" "failed: $D/boom.lua:7:"
contains "s after its case" "$OUT" "boom_test.lua:8: s used after its test case ended"
contains "t.case inside a case" "$OUT" "t.case and t.recipe belong at the top of the test file"
contains "a bad duration says what is expected" "$OUT" \
    "bad argument #1 to 'advance' (expected a duration like \"30m\" or \"2d\", or a time like"
contains "a typo in a key is named" "$OUT" "expect_sent: unknown key 'chanel'"
equals "errors: the count" "$(last_line "$OUT")" "1 passed, 5 failed"

printf 'local t = require "nudge.test"\nt.case("x", function(s)\n' >"$D/syntax_test.lua"
kit syntax "$D/syntax_test.lua"
equals "test file syntax error: exit code 1" "$rc" 1
contains "test file syntax error: named" "$W/syntax.out" "not ok - syntax_test.lua: $D/syntax_test.lua:3:"
equals "test file syntax error: counted" "$(last_line "$W/syntax.out")" "0 passed, 1 failed"

printf 'local t = require "nudge.test"\n' >"$D/empty_test.lua"
kit nocase "$D/empty_test.lua"
contains "no case: says how to write one" "$W/nocase.out" \
    "not ok - empty_test.lua: no test case: add t.case("

mkdir -p "$W/broken"
printf 'return journey {\n  name = "broken",\n  trigger = { event = "Go" }\n  run = 1,\n}\n' >"$W/broken/broken.lua"
printf 'local t = require "nudge.test"\nt.case("starts", function(s) end)\n' >"$W/broken/broken_test.lua"
kit broken "$W/broken/broken_test.lua"
contains "recipe syntax error: the case cannot start, recipe line named" "$W/broken.out" \
    "not ok - broken_test.lua: starts: the case cannot start: $W/broken/broken.lua:4:"

printf 'local t = require "nudge.test"\nt.recipe("nope.lua")\n' >"$W/broken/nope_test.lua"
kit nope "$W/broken/nope_test.lua"
contains "t.recipe of a missing file" "$W/nope.out" "t.recipe: cannot read $W/broken/nope.lua"
untouched "errors"

# an email channel without an https unsubscribe_url is refused, as by nudge run
UNSUB_URL="http://shop.example.com/u" scenario unsub
kit unsub "$KIT/kit_cart_test.lua"
contains "an email channel needs an https unsubscribe link" "$W/unsub.out" \
    "the case cannot start: channel 'email': key 'unsubscribe_url'"

# ---- the README's example, against the shipped recipe ------------------------
scenario readme
mkdir -p "$W/recipes"
cp "$ROOT/recipes/cart_abandonment.lua" "$W/recipes/"
awk '/^## Testing recipes/ { on = 1 } on && /^```lua$/ { grab = 1; next }
     grab && /^```$/ { exit } grab { print }' "$ROOT/README.md" \
    >"$W/recipes/cart_abandonment_test.lua"
kit readme "$W/recipes"
equals "the README's example passes" "$(last_line "$W/readme.out")" "1 passed, 0 failed"
untouched "readme"
