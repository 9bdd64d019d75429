#!/bin/sh
# `nudge hash` and require "nudge.pii" end to end: per-target email and
# phone rules, the usage error for an unknown kind, and pii.hash / pii.mask
# called from a recipe.  Expected hashes: printf '%s' VALUE | sha256sum.
. "$(dirname "$0")/lib.sh"
NUDGE=$NUDGE_OPEN # journeys send as written: no consent or quiet-hour rules here

email=' John.Smith@Gmail.com '
out=$("$NUDGE" hash email "$email")
equals "hash: email, default target meta (john.smith@gmail.com)" "$out" \
    d0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a
out=$("$NUDGE" hash email "$email" --target meta)
equals "hash: email --target meta keeps gmail dots" "$out" \
    d0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a
out=$("$NUDGE" hash email "$email" --target google)
equals "hash: email --target google removes gmail dots (johnsmith@gmail.com)" "$out" \
    3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586
out=$("$NUDGE" hash email "$email" --target tiktok)
equals "hash: email --target tiktok (john.smith@gmail.com)" "$out" \
    d0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a

out=$("$NUDGE" hash phone '+1 (555) 123-4567' --target meta)
equals "hash: phone --target meta has no + (15551234567)" "$out" \
    d6736136ea896c1bfdc553e0e86e702c70d060d805696ca3e4e9e0961353860a
out=$("$NUDGE" hash phone '+1 (555) 123-4567' --target google)
equals "hash: phone --target google keeps the + (+15551234567)" "$out" \
    8a59780bb8cd2ba022bfa5ba2ea3b6e07af17a7d8b30c1f9b3390e36f69019e4

"$NUDGE" hash shoe_size 42 >"$TMP/kind.out" 2>"$TMP/kind.err"
equals "hash: unknown kind exits 2" "$?" 2
contains "hash: unknown kind is named" "$TMP/kind.err" "unknown kind 'shoe_size'"
equals "hash: unknown kind prints nothing on stdout" "$(cat "$TMP/kind.out")" ""

"$NUDGE" hash phone 0612345678 >/dev/null 2>"$TMP/phone.err"
equals "hash: national phone exits 2" "$?" 2
contains "hash: national phone says what is expected" "$TMP/phone.err" "leading + or 00"

cat >"$TMP/r.lua" <<'LUA'
-- pii.hash and pii.mask from a recipe.
return journey {
  name = "pii",
  trigger = { event = "Go" },
  run = function(j)
    local pii = require "nudge.pii"
    j:send("email", "x", { h = pii.hash("email", "A@B.com"), m = pii.mask("john@example.com") })
  end,
}
LUA
echo '{"type":"track","userId":"u1","event":"Go","timestamp":"2026-11-02T15:00:00Z","messageId":"g1"}' \
    >"$TMP/go.ndjson"
"$NUDGE" run "$TMP/r.lua" --events "$TMP/go.ndjson" --clock event --db "$TMP/x.db" \
    --outbox "$TMP/x.out" >"$TMP/run.out" 2>"$TMP/run.err"
equals "pii recipe: run exits 0" "$?" 0
contains "pii recipe: pii.hash of a@b.com in the outbox" "$TMP/x.out" \
    '"h":"fb98d44ad7501a959f3f4f4a3f004fe2d9e581ea6207e218c4b02c08a4d75adf"'
contains "pii recipe: pii.mask in the outbox" "$TMP/x.out" '"m":"j***@example.com"'
