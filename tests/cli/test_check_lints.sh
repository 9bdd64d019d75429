#!/bin/sh
# `nudge check` lints a recipe the way a marketer needs, one case per kind
# of mistake: errors (exit 2, "FILE:LINE: message" on stderr, no "recipes
# ok") for a syntax error, a channel the config does not name, a template
# that is not there and a value a template needs that the call does not
# pass; warnings ("FILE:LINE: warning: message", exit 0, "recipes ok") for
# a j:wait_for on an event that neither the --events sample nor any trigger
# produces, and for a goal that does not end the journey.
. "$(dirname "$0")/lib.sh"

CONF="$TMP/nudge.conf.lua"
cat >"$CONF" <<'CONF'
return {
  channels = { email = { adapter = "smtp", url = "smtp://127.0.0.1:9", from = "a@example.test",
                         unsubscribe_url = "https://example.test/u" },
               sms = { adapter = "file" } },
}
CONF
NO_CHANNELS="$TMP/no_channels.conf.lua"
echo 'return {}' >"$NO_CHANNELS"
cd "$TMP" || exit 1

# The sample: what the events of the shop look like.
cat >events.ndjson <<'EOF'
{"type":"identify","userId":"u1","traits":{"email":"ana@example.test"},"timestamp":"2026-11-01T10:00:00Z"}
{"type":"track","event":"Checkout Started","userId":"u1","timestamp":"2026-11-01T10:01:00Z"}
{"type":"track","event":"Order Shipped","userId":"u1","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","event":"Order Completed","userId":"u1","timestamp":"2026-11-01T10:30:00Z"}
EOF

EXITS='exit_on = { "Order Completed" }, goal = { event = "Order Completed", within = "3d" },'

# recipe CASE BODY [HEAD]: CASE/cart.lua, a journey whose line 2 is
# `return journey {`, line 5 HEAD (default: it exits on its goal) and line
# 7 BODY.  Line 1 is a comment whose calls must not count.
recipe() {
    mkdir -p "$1/templates"
    cat >"$1/cart.lua" <<LUA
-- j:send("smz", "x") and j:wait_for("Nowhere", "1d") in a comment are no calls
return journey {
  name = "lint_$1",
  trigger = { event = "Checkout Started" },
  ${3:-$EXITS}
  run = function(j)
    $2
  end,
}
LUA
}

# check_case CASE [ARGS...]: nudge check CASE/cart.lua ARGS; output in
# CASE.out/.err, $rc.
check_case() {
    case_name=$1; shift
    run_nudge "$case_name" --config "${CASE_CONF:-$CONF}" --db "$TMP/check.db" check \
        "$case_name/cart.lua" "$@"
}

no_recipes_ok() {
    if grep -q 'recipes ok' "$1.out"; then not_ok "$1: no 'recipes ok'" "$(cat "$1.out")"
    else ok "$1: no 'recipes ok'"; fi
}

# fails CASE MESSAGE [ARGS...]: exits 2 with exactly MESSAGE on stderr and
# without "recipes ok".
fails() {
    name=$1 message=$2; shift 2
    check_case "$name" "$@"
    equals "$name: exits 2" "$rc" 2
    equals "$name: says what is wrong, with file and line" "$(cat "$name.err")" "$message"
    no_recipes_ok "$name"
}

# warns CASE MESSAGE [ARGS...]: exits 0 and prints "recipes ok", with
# exactly MESSAGE on stderr.
warns() {
    name=$1 message=$2; shift 2
    check_case "$name" "$@"
    equals "$name: exits 0" "$rc" 0
    contains "$name: recipes ok" "$name.out" "recipes ok"
    equals "$name: the warning, with file and line" "$(cat "$name.err")" "$message"
}

# passes CASE [ARGS...]: exits 0, prints "recipes ok" and nothing on stderr.
passes() {
    name=$1; shift
    check_case "$name" "$@"
    equals "$name: exits 0" "$rc" 0
    contains "$name: recipes ok" "$name.out" "recipes ok"
    equals "$name: nothing on stderr" "$(cat "$name.err")" ""
}

# ---- errors ------------------------------------------------------------------

recipe syntax 'j:wait("1h"'
fails syntax "nudge: error: syntax/cart.lua:8: ')' expected (to close '(' at line 7) near 'end'"

recipe channel 'j:send("smz", "cart_sms")'
fails channel "channel/cart.lua:7: j:send(\"smz\", \"cart_sms\"): no channel 'smz' in the config (it has: email, sms); did you mean 'sms'?"

recipe channel_case 'j:send("SMS", "cart_sms")'
fails channel_case "channel_case/cart.lua:7: j:send(\"SMS\", \"cart_sms\"): no channel 'SMS' in the config (it has: email, sms); did you mean 'sms'?"

recipe channel_far 'j:send("fax", "cart_" .. j:split{ a = 50, b = 50 })'
fails channel_far "channel_far/cart.lua:7: j:send(\"fax\", ...): no channel 'fax' in the config (it has: email, sms); use one of those, or add channels.fax to the config"

recipe channel_named 'j:send("sms", "cart_sms")'
passes channel_named

# With no channels in the config, every channel goes to the file channel.
recipe no_channels 'j:send("smz", "cart_sms")'
CASE_CONF=$NO_CHANNELS passes no_channels

recipe template 'j:send("email", "cart_reminder", { items = {} })'
fails template 'template/cart.lua:7: j:send("email", "cart_reminder"): no template template/templates/cart_reminder.email.txt (or .html)'

recipe vars 'j:send("email", "cart")'
printf 'Subject: Your cart\n\nTake {{discount}}%% off today.\n' >vars/templates/cart.email.txt
fails vars "vars/cart.lua:7: template vars/templates/cart.email.txt line 3 uses {{discount}}, but this j:send passes no 'discount'"

# ---- j:wait_for on an event nothing produces (warning, with --events) ----------

recipe wait_nowhere 'if not j:wait_for("Order Delivered", "2d") then j:send("sms", "late") end'
warns wait_nowhere 'wait_nowhere/cart.lua:7: warning: j:wait_for("Order Delivered"): no event "Order Delivered" in events.ndjson and no journey is triggered by it; this wait will always time out' \
    --events events.ndjson
passes wait_nowhere # without --events, nothing is known about the events

recipe wait_typo 'local shipped = j:wait_for("order shiped", "2d")'
warns wait_typo 'wait_typo/cart.lua:7: warning: j:wait_for("order shiped"): no event "order shiped" in events.ndjson and no journey is triggered by it; this wait will always time out; did you mean "Order Shipped"?' \
    --events events.ndjson

recipe wait_sample 'j:wait_for("Order Shipped", "2d") j:wait_for("identify", "1d") j:wait_for("Order " .. "Lost", "1d")'
passes wait_sample --events events.ndjson # track events by name, other calls by type; a built name is not read

recipe wait_stdin 'j:wait_for("Order Delivered", "2d")'
check_case wait_stdin --events - <events.ndjson
equals "wait_stdin: exits 0" "$rc" 0
contains "wait_stdin: the sample read from stdin" wait_stdin.err 'no event "Order Delivered" in stdin and'

# An event some loaded journey is triggered by may come from elsewhere.
recipe wait_trigger 'j:wait_for("Review Requested", "7d")'
sed 's/lint_wait_trigger/review/; s/Checkout Started/Review Requested/; s/j:wait_for.*/j:send("email", "review")/' \
    wait_trigger/cart.lua >wait_trigger/review.lua
printf 'Subject: How was it?\n\nTell us.\n' >wait_trigger/templates/review.email.txt
run_nudge wait_trigger --config "$CONF" --db "$TMP/check.db" check wait_trigger --events events.ndjson
equals "wait_trigger: exits 0" "$rc" 0
equals "wait_trigger: no warning for another journey's trigger" "$(cat wait_trigger.err)" ""

run_nudge no_sample --config "$CONF" --db "$TMP/check.db" check wait_nowhere/cart.lua --events nowhere.ndjson
equals "no_sample: exits 2" "$rc" 2
equals "no_sample: says which file" "$(cat no_sample.err)" \
    "nudge: error: cannot open events file nowhere.ndjson: No such file or directory (give --events a file of sample events, or leave it out)"
no_recipes_ok no_sample

# ---- a goal that does not end the journey (warning) ----------------------------

recipe goal 'j:send("sms", "cart_sms")' 'goal = { event = "Order Completed", within = "3d" },'
warns goal 'goal/cart.lua:2: warning: the goal "Order Completed" is not in exit_on, so a person who reaches it still gets the rest of the journey; add exit_on = { "Order Completed" } if that is not what you want'

recipe goal_other 'j:send("sms", "cart_sms")' 'exit_on = { "Unsubscribed" }, goal = { event = "Order Completed" },'
warns goal_other 'goal_other/cart.lua:2: warning: the goal "Order Completed" is not in exit_on, so a person who reaches it still gets the rest of the journey; make it exit_on = { "Unsubscribed", "Order Completed" } if that is not what you want'

# A journey that waits for its goal itself means to see it: an exit would
# end the journey before its wait_for returns.
recipe goal_waited 'if not j:wait_for("Order Completed", "3d") then j:send("sms", "cart_sms") end' \
    'goal = { event = "Order Completed", within = "3d" },'
passes goal_waited

recipe no_goal 'j:send("sms", "cart_sms")' 'exit_on = { "Order Completed" },'
passes no_goal

# Errors and warnings together: every line, and the exit code of the errors.
recipe both 'j:send("smz", "cart_sms")' 'goal = { event = "Order Completed" },'
fails both "both/cart.lua:7: j:send(\"smz\", \"cart_sms\"): no channel 'smz' in the config (it has: email, sms); did you mean 'sms'?
both/cart.lua:2: warning: the goal \"Order Completed\" is not in exit_on, so a person who reaches it still gets the rest of the journey; add exit_on = { \"Order Completed\" } if that is not what you want"
