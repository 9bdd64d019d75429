#!/bin/sh
# The shipped recipes (recipes/): their own story tests pass under
# `nudge test`, `nudge check` finds nothing to warn about with the lifecycle
# sample, and each backtests over examples/lifecycle.ndjson.
. "$(dirname "$0")/lib.sh"

cd "$ROOT" || exit 1
"$NUDGE" --db "$TMP/test.db" test recipes >"$TMP/test.out" 2>&1
equals "nudge test recipes: exits 0" "$?" 0
last=$(tail -n 1 "$TMP/test.out")
case $last in
*" passed, 0 failed") ok "nudge test recipes: $last" ;;
*) not_ok "nudge test recipes: every case passes" "$(grep '^not ok' "$TMP/test.out" | head -n 3)" ;;
esac
"$NUDGE" --db "$TMP/check.db" check recipes --events examples/lifecycle.ndjson \
    >"$TMP/check.out" 2>"$TMP/check.err"
equals "nudge check recipes: exits 0" "$?" 0
equals "nudge check recipes: no warning with the lifecycle sample" "$(cat "$TMP/check.err")" ""
for r in cart_abandonment browse_abandonment onboarding win_back post_purchase order_receipt; do
    "$NUDGE" simulate "recipes/$r.lua" --events examples/lifecycle.ndjson >"$TMP/$r.out" 2>&1
    equals "simulate $r: exits 0" "$?" 0
    contains "simulate $r: people entered" "$TMP/$r.out" "journey $r"
done
