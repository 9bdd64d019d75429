#!/bin/sh
# Rate limits per channel (SPEC §5): channels = { sms = { rate, burst } }
# in the config, a token bucket per channel applied by the sender (the
# file channel for now).  The real binary with its own config, event-clock
# runs over real SQLite files.  Timing: only a lower bound, which the
# bucket guarantees however slow the machine is.
. "$(dirname "$0")/lib.sh"

SEND="$ROOT/tests/recipes/guard_send.lua" # "Send" {channel, template}
W="$TMP/rates"
mkdir "$W"
DB="$W/r.db" OUT="$W/outbox.ndjson" CONF="$W/nudge.conf.lua"

# send USER N CHANNEL TEMPLATE: a "Send" track at 12:00:N.
send() {
    printf '{"type":"track","userId":"%s","timestamp":"2026-05-04T12:00:%02dZ","messageId":"r-%s","event":"Send","properties":{"channel":"%s","template":"%s"}}\n' \
        "$1" "$2" "$4" "$3" "$4"
}
# templates: the template of each line of the outbox file, in file order.
templates() { grep -o '"template":"[^"]*"' "$OUT" | cut -d'"' -f4 | tr '\n' ' '; }

cat >"$CONF" <<'EOS'
return {
  consent_default = "opt_out",
  quiet_hours = { sms = false },
  channels = {
    sms = { rate = 20, burst = 1 },
    email = {},                    -- no rate: unlimited
  },
}
EOS
# 10 SMS (s01..s10) with 5 emails (e1..e5) among them, in this order.
order="s01 e1 s02 s03 e2 s04 s05 s06 e3 s07 s08 e4 s09 s10 e5"
i=0
for t in $order; do
    i=$((i + 1))
    case $t in s*) ch=sms ;; *) ch=email ;; esac
    send "p$i" "$i" "$ch" "$t"
done >"$W/events.ndjson"

start=$(date +%s%N)
"$NUDGE" --config "$CONF" --db "$DB" --outbox "$OUT" run "$SEND" \
    --events "$W/events.ndjson" --clock event >"$W/run.out" 2>"$W/run.err"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
equals "rates: the run exits 0" "$rc" 0
contains "rates: summary: all 15 delivered" "$W/run.out" "messages 15 delivered, 0 suppressed"
equals "rates: every message is in the outbox file, in id (queue) order" \
    "$(templates)" "$order "
equals "rates: the outbox file's order is the outbox table's id order" \
    "$(templates)" "$(sqlite3 "$DB" "select template from outbox order by id" | tr '\n' ' ')"
equals "rates: the 10 sms are delivered" \
    "$(sqlite3 "$DB" "select count(*) from outbox where channel = 'sms' and status = 'delivered'")" 10
equals "rates: the 5 emails (no rate) are delivered too" \
    "$(sqlite3 "$DB" "select count(*) from outbox where channel = 'email' and status = 'delivered'")" 5
# burst 1 at 20/s: the 10th sms token comes 9 x 50 ms after the first.
if [ "$elapsed_ms" -ge 400 ]; then
    ok "rates: 10 sms at 20/s, burst 1 take at least 0.4 s: 9 waits of 50 ms (took ${elapsed_ms} ms)"
else
    not_ok "rates: 10 sms at 20/s, burst 1 take at least 0.4 s: 9 waits of 50 ms" "took ${elapsed_ms} ms"
fi

# A later run continues the same outbox file.
send p99 59 sms s11 >"$W/events2.ndjson"
"$NUDGE" --config "$CONF" --db "$DB" --outbox "$OUT" run "$SEND" \
    --events "$W/events2.ndjson" --clock event >"$W/run2.out" 2>"$W/run2.err"
equals "rates: a second run appends its sms after them" "$?/$(templates)" "0/$order s11 "

# Bad rates: exit 2 naming the key, before anything is delivered.
for bad in 'rate = 0' 'rate = "fast"' 'rate = -5' 'rate = 10, burst = 0'; do
    printf 'return { channels = { sms = { %s } } }\n' "$bad" >"$W/bad.conf.lua"
    rm -f "$W/bad.ndjson"
    "$NUDGE" --config "$W/bad.conf.lua" --db "$W/bad.db" --outbox "$W/bad.ndjson" run "$SEND" \
        --events "$W/events.ndjson" --clock event >"$W/bad.out" 2>"$W/bad.err"
    rc=$?
    case $bad in *burst*) key=channels.sms.burst ;; *) key=channels.sms.rate ;; esac
    if [ "$rc" -eq 2 ] && grep -qF "bad.conf.lua: key '$key': " "$W/bad.err" && [ ! -e "$W/bad.ndjson" ]; then
        ok "rates: { $bad } exits 2 naming '$key', nothing delivered"
    else
        not_ok "rates: { $bad } exits 2 naming '$key', nothing delivered" "rc=$rc $(cat "$W/bad.err")"
    fi
done
