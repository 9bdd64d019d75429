#!/bin/sh
# Goals count within their window even after the journey has ended: a
# journey that sends and finishes, then the person buys a day later.
. "$(dirname "$0")/lib.sh"

W="$TMP/goals"
mkdir -p "$W"
event() { # event USER NAME ID TIME
    printf '{"type":"track","userId":"%s","event":"%s","messageId":"%s","timestamp":"%s"}\n' "$1" "$2" "$3" "$4"
}
{
    event a "Checkout Started" c1 2026-11-02T10:00:00Z
    event a "Order Completed" o1 2026-11-03T10:00:00Z   # a day after: counts
    event b "Checkout Started" c2 2026-11-02T10:00:00Z
    event b "Order Completed" o2 2026-11-08T10:00:00Z   # 6 days after: too late
    event c "Order Completed" o3 2026-11-02T09:00:00Z   # before any journey: nothing
} >"$W/events.ndjson"
"$NUDGE_OPEN" --db "$W/nudge.db" --outbox "$W/outbox.ndjson" run \
    "$ROOT/tests/recipes/goal_after_end.lua" --events "$W/events.ndjson" --clock event \
    >"$W/run.out" 2>"$W/run.err"
equals "goals: the run exits 0" "$?" 0
goal() { sqlite3 "$W/nudge.db" "SELECT goal_ms > 0 FROM instances WHERE profile_id = '$1'"; }
equals "goals: both journeys ended at once" \
    "$(sqlite3 "$W/nudge.db" "SELECT group_concat(state) FROM instances")" "2,2"
equals "goals: an order a day after the journey ended counts" "$(goal a)" 1
equals "goals: an order past the window does not" "$(goal b)" 0
equals "goals: the goal time is the order's" \
    "$(sqlite3 "$W/nudge.db" "SELECT goal_ms FROM instances WHERE profile_id = 'a'")" \
    1793700000000
