#!/bin/sh
# bench/deliveries.sh BUILD: deliveries/s of the libcurl senders.  20,000
# messages queued by `nudge run --no-deliver` are sent by `nudge tick` over
# HTTP (webhook adapter, keep-alive) to a local sink (tools/http_sink); 5
# runs on a fresh store each, every message checked to reach the sink once.
# Run by bench/run.sh (BENCH_ONLY=deliveries runs this part alone).
set -u

BUILD=${1:?usage: sh bench/deliveries.sh BUILD_DIR}
NUDGE=$BUILD/nudge
SINK=$BUILD/tools/http_sink
DWORK=$BUILD/bench/deliver
DELIVERIES=20000
RUNS=5
SEND_RECIPE=bench/recipes/send_now.lua
SINK_PID=

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$NUDGE" ] || die "$NUDGE not found; run 'make' first"
[ -x "$SINK" ] || die "$SINK not found; run 'make $SINK' first"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time'; 'make deps' installs it)"
command -v sqlite3 >/dev/null || die "sqlite3 not found (Debian package 'sqlite3'; 'make deps' installs it)"
mkdir -p "$DWORK" || die "cannot create $DWORK"


# The sink is stopped on every way out of the script.
stop_sink() {
    if [ -n "$SINK_PID" ]; then
        kill -TERM "$SINK_PID" 2>/dev/null
        wait "$SINK_PID" 2>/dev/null
        SINK_PID=
    fi
}
trap stop_sink EXIT
trap 'stop_sink; exit 130' INT
trap 'stop_sink; exit 143' TERM
# libcurl must not send the bench's requests through a proxy.
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

# One "Signed Up" for each of DELIVERIES users, one second apart.
make_signups() {
    awk -v n=$DELIVERIES 'BEGIN {
        for (i = 0; i < n; i++)
            printf "{\"type\":\"track\",\"event\":\"Signed Up\",\"messageId\":\"send-%05d\",\"userId\":\"s%05d\",\"timestamp\":\"2026-11-02T%02d:%02d:%02d.000Z\",\"properties\":{}}\n",
                i, i, i / 3600, i / 60 % 60, i % 60
    }' >"$DWORK/signups.ndjson" || die "cannot write $DWORK/signups.ndjson"
    echo "bench: wrote $DWORK/signups.ndjson ($DELIVERIES sign-ups, one push message each)"
}

# Starts a fresh sink on a free port; sets SINK_PID and SINK_PORT.
start_sink() {
    rm -f "$DWORK/port" "$DWORK/sink.out"
    "$SINK" --port-file "$DWORK/port" >"$DWORK/sink.out" 2>"$DWORK/sink.err" &
    SINK_PID=$!
    tries=0
    while [ ! -s "$DWORK/port" ]; do
        if ! kill -0 "$SINK_PID" 2>/dev/null || [ $tries -ge 100 ]; then
            cat "$DWORK/sink.err" >&2
            die "http_sink did not start (log: $DWORK/sink.err)"
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
    SINK_PORT=$(cat "$DWORK/port")
}

# The run's config: the push channel posts to the sink.
write_send_config() {
    cat >"$DWORK/nudge.conf.lua" <<EOF || die "cannot write $DWORK/nudge.conf.lua"
-- Written by bench/run.sh for the delivery bench: push goes to tools/http_sink.
return {
  consent_default = "opt_out",
  quiet_hours = { push = false },
  channels = {
    push = { adapter = "webhook", url = "http://127.0.0.1:$SINK_PORT/hook", concurrency = 32 },
  },
}
EOF
}

# count_outbox STATUS: how many rows of the run's outbox are in STATUS.
count_outbox() {
    sqlite3 "$DWORK/bench.db" "select count(*) from outbox where status='$1'" ||
        die "cannot read the outbox of $DWORK/bench.db"
}

# Queues DELIVERIES messages on a fresh store (and key), delivering none.
queue_messages() {
    rm -f "$DWORK/bench.db" "$DWORK/bench.db-wal" "$DWORK/bench.db-shm" \
        "$DWORK/nudge.key" "$DWORK/outbox.ndjson"
    if ! "$NUDGE" --config "$DWORK/nudge.conf.lua" --db "$DWORK/bench.db" \
        --outbox "$DWORK/outbox.ndjson" -q run "$SEND_RECIPE" \
        --events "$DWORK/signups.ndjson" --clock wall --no-deliver >"$DWORK/run.log" 2>&1; then
        tail -n 20 "$DWORK/run.log" >&2
        die "nudge run --no-deliver failed (log: $DWORK/run.log)"
    fi
    queued=$(count_outbox queued) || exit 1
    [ "$queued" = $DELIVERIES ] ||
        die "nudge run --no-deliver left $queued messages queued, not $DELIVERIES"
}

# Times `nudge tick` delivering the queue, stops the sink, and checks that
# each message reached it exactly once; appends "SECONDS PEAK_KB" to FILE.
time_tick() {
    /usr/bin/time -o "$DWORK/time.txt" -f '%e %M' "$NUDGE" --config "$DWORK/nudge.conf.lua" \
        --db "$DWORK/bench.db" --outbox "$DWORK/outbox.ndjson" -q tick "$SEND_RECIPE" \
        >"$DWORK/tick.log" 2>&1
    status=$?
    stop_sink
    if [ $status -ne 0 ]; then
        tail -n 20 "$DWORK/tick.log" >&2
        die "nudge tick exited with status $status (log: $DWORK/tick.log)"
    fi
    requests=$(awk '$1 == "requests" { print $2 }' "$DWORK/sink.out")
    [ "$requests" = $DELIVERIES ] ||
        die "the sink answered ${requests:-no} requests, not $DELIVERIES (log: $DWORK/tick.log)"
    delivered=$(count_outbox delivered) || exit 1
    [ "$delivered" = $DELIVERIES ] ||
        die "$delivered messages delivered, not $DELIVERIES (log: $DWORK/tick.log)"
    tail -n 1 "$DWORK/time.txt" >>"$1"
}

# Runs in this shell, not in $(...): the shell that started the sink stops it.
make_signups
delivery_results=$DWORK/results.txt
: >"$delivery_results"
i=1
while [ $i -le $RUNS ]; do
    start_sink
    write_send_config
    queue_messages
    time_tick "$delivery_results"
    tail -n 1 "$delivery_results" | awk -v run=$i -v n=$DELIVERIES '{
        secs = ($1 > 0) ? $1 : 0.01
        printf "bench: delivery run %d: %.2f s, %d deliveries/s, peak RSS %.1f MB\n", run, $1, n / secs, $2 / 1024
    }'
    i=$((i + 1))
done

awk -v n=$DELIVERIES -v what="nudge tick over HTTP" -v unit=deliveries/s \
    -f bench/summarize.awk "$delivery_results"
