#!/bin/sh
# bench/service.sh BUILD: `nudge serve` (docs/service.md) over real HTTP.
#
# Ingest: each run starts the service on a fresh database (the three rules
# of bench/run.sh, the file channel, write-key auth, consent opt_out) and
# loads it with wrk over keep-alive: bench/wrk_batch.lua POSTs /v1/batch
# bodies of 100 new Segment events (views, checkouts, orders, identifies
# and sign-ups of 5,000 users), -t2 -c32 -d10s, each connection pausing
# 100 ms after each answer (BENCH_PAUSE_MS; 0 for a closed loop at
# saturation, whose latency is only queueing).  events/s = 100 x the
# requests answered 200 per second; p50 and p99 are wrk's (the pause not
# counted).  A 200 means the events are in the inbox; after each run the
# service is stopped with SIGTERM (it must exit 0 once the inbox has run)
# and the events table must hold every acknowledged event.  "run" is the
# events stored over the time from the load's start to the service's exit:
# the rate at which the journeys kept up.  3 runs, the medians.
# WRK_CONNECTIONS, BENCH_BATCH, BENCH_PAUSE_MS and BENCH_BACKLOG (the
# config's server.backlog) change the load.
#
# Trigger-to-send: bench/latency.py posts 500 single "Latency Probe"
# events, one every 10 ms, each carrying its send time;
# bench/recipes/send_on_event.lua sends a webhook for each at once to the
# script's own sink, which records arrival - send time.
#
# Run by bench/run.sh (BENCH_ONLY=service runs this part alone).
set -u

BUILD=${1:?usage: sh bench/service.sh BUILD_DIR}
NUDGE=$BUILD/nudge
SWORK=$BUILD/bench/service
RUNS=3
BATCH=${BENCH_BATCH:-100}
USERS=5000
WRK_THREADS=2
WRK_CONNECTIONS=${WRK_CONNECTIONS:-32}
PAUSE_MS=${BENCH_PAUSE_MS:-100}
WRK_DURATION=10s
PROBES=500
PROBE_INTERVAL_MS=10
PYTHON=/usr/bin/python3
RECIPES="recipes/cart_abandonment.lua bench/recipes/browse_followup.lua bench/recipes/signup_welcome.lua"
PROBE_RECIPE=bench/recipes/send_on_event.lua
NUDGE_WRITE_KEYS=bench-service-key
export NUDGE_WRITE_KEYS
# libcurl (the webhook sender) must not send the bench's requests through a proxy.
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
SERVE_PID=
PROBE_PID=

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$NUDGE" ] || die "$NUDGE not found; run 'make' first"
command -v wrk >/dev/null || die "wrk not found (Debian package 'wrk'; 'make deps' installs it)"
command -v sqlite3 >/dev/null || die "sqlite3 not found (Debian package 'sqlite3'; 'make deps' installs it)"
[ -x "$PYTHON" ] || die "$PYTHON not found (Debian package 'python3'; 'make deps' installs it)"
mkdir -p "$SWORK" || die "cannot create $SWORK"

# stop_serve: SIGTERM to the service, then its exit status (0 when none runs).
stop_serve() {
    [ -n "$SERVE_PID" ] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null
    wait "$SERVE_PID"
    serve_status=$?
    SERVE_PID=
    return $serve_status
}

stop_probe() {
    if [ -n "$PROBE_PID" ]; then
        kill -TERM "$PROBE_PID" 2>/dev/null
        wait "$PROBE_PID" 2>/dev/null
        PROBE_PID=
    fi
}

# Everything this script starts is stopped on every way out of it.
cleanup() {
    stop_probe
    stop_serve
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# write_config DIR [CHANNEL_ENTRY]: DIR/nudge.conf.lua, every channel at
# the file channel unless one entry is given.
write_config() {
    cat >"$1/nudge.conf.lua" <<EOF || die "cannot write $1/nudge.conf.lua"
-- Written by bench/service.sh.
return {
  consent_default = "opt_out",
  server = { write_keys_env = "NUDGE_WRITE_KEYS"${BENCH_BACKLOG:+, backlog = $BENCH_BACKLOG} },
  channels = { ${2:-} },
}
EOF
}

# wait_for_file FILE PID WHAT LOG: until FILE is written (10 s at most)
# while PID runs.
wait_for_file() {
    tries=0
    while [ ! -s "$1" ]; do
        if ! kill -0 "$2" 2>/dev/null || [ $tries -ge 100 ]; then
            tail -n 20 "$4" >&2
            die "$3 did not start (log: $4)"
        fi
        tries=$((tries + 1))
        sleep 0.1
    done
}

# start_serve DIR RECIPE...: the service on a free port over DIR/bench.db
# (its key beside it); sets SERVE_PID and SERVE_PORT.
start_serve() {
    dir=$1
    shift
    rm -f "$dir/port"
    "$NUDGE" --config "$dir/nudge.conf.lua" --db "$dir/bench.db" \
        --outbox "$dir/outbox.ndjson" -q serve "$@" \
        --listen 127.0.0.1:0 --port-file "$dir/port" >"$dir/serve.log" 2>&1 &
    SERVE_PID=$!
    wait_for_file "$dir/port" "$SERVE_PID" "nudge serve" "$dir/serve.log"
    SERVE_PORT=$(cat "$dir/port")
}

# field NAME LINE: the word after NAME in LINE.
field() {
    echo "$2" | awk -v name="$1" '{ for (i = 1; i < NF; i++) if ($i == name) { print $(i + 1); exit } }'
}

# ingest_once RUN: one wrk run on a fresh database; appends
# "EVENTS_PER_S P50_MS P99_MS" to the results.
ingest_once() {
    dir=$SWORK/ingest$1
    rm -rf "$dir"
    mkdir -p "$dir" || die "cannot create $dir"
    write_config "$dir"
    # shellcheck disable=SC2086  # RECIPES is a list of paths without spaces
    start_serve "$dir" $RECIPES
    t0=$(date +%s%N)
    if ! wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency \
        -s bench/wrk_batch.lua "http://127.0.0.1:$SERVE_PORT" -- \
        "$NUDGE_WRITE_KEYS" $USERS $BATCH $PAUSE_MS >"$dir/wrk.log" 2>&1; then
        cat "$dir/wrk.log" >&2
        die "wrk failed (log: $dir/wrk.log)"
    fi
    t1=$(date +%s%N)
    stop_serve || die "nudge serve exited with status $? on SIGTERM (log: $dir/serve.log)"
    t2=$(date +%s%N) # SIGTERM returns once the inbox has run
    line=$(grep '^wrk_batch:' "$dir/wrk.log") || die "wrk printed no counts (log: $dir/wrk.log)"
    ok=$(field ok "$line")
    other=$(field other "$line")
    sent=$(field sent "$line")
    errors=$(field errors "$line")
    [ "$other" = 0 ] ||
        die "run $1: $other answers were not 200 ($(field statuses "$line"); logs: $dir/wrk.log, $dir/serve.log)"
    [ "$ok" -gt 0 ] || die "run $1: no request was answered 200 (log: $dir/wrk.log)"
    # Every acknowledged event is durable.  wrk also abandons the requests
    # it has in flight when its time is up (one per connection at most,
    # plus the one it builds to check the script); the service commits
    # those it has read whole, so they may be there too, in whole batches.
    stored=$(sqlite3 "$dir/bench.db" "select count(*) from events") ||
        die "cannot read the events of $dir/bench.db"
    [ "$stored" -ge $((ok * BATCH)) ] ||
        die "run $1: $ok requests were answered 200 ($((ok * BATCH)) events) but the events table holds $stored"
    if [ "$stored" -gt $((sent * BATCH)) ] || [ $((stored % BATCH)) != 0 ]; then
        die "run $1: the events table holds $stored events; $sent batches of $BATCH were sent"
    fi
    echo "$line $stored" | awk -v run="$1" -v batch=$BATCH -v results="$SWORK/results.txt" \
        -v load_s="$(((t1 - t0) / 1000000))" -v all_s="$(((t2 - t0) / 1000000))" '{
        for (i = 1; i < NF; i++) v[$i] = $(i + 1)
        secs = v["duration_us"] / 1e6
        rate = v["ok"] * batch / secs
        run_rate = $NF / (all_s / 1000)
        printf "%d %.2f %.2f %d\n", rate, v["p50_us"] / 1000, v["p99_us"] / 1000, run_rate >> results
        printf "bench: serve run %d: %d events/s (%d requests/s answered 200), p50 %.1f ms, p99 %.1f ms; ", run, rate, v["ok"] / secs, v["p50_us"] / 1000, v["p99_us"] / 1000
        printf "%d socket errors; %d events stored = %d acknowledged + %d of the %d requests unanswered at the stop; ", v["errors"], $NF, v["ok"] * batch, ($NF - v["ok"] * batch) / batch, v["sent"] - v["ok"]
        printf "all run %.1f s after the load (%.1f s) began: %d events run/s\n", all_s / 1000, load_s / 1000, run_rate
    }'
    [ "$errors" = 0 ] || echo "bench: serve run $1: wrk counted $errors socket errors (log: $dir/wrk.log)"
}

# The trigger-to-send latency, with the webhook channel at latency.py's sink.
latency_run() {
    dir=$SWORK/latency
    rm -rf "$dir"
    mkdir -p "$dir" || die "cannot create $dir"
    "$PYTHON" bench/latency.py --sink-port-file "$dir/sink.port" \
        --server-port-file "$dir/port" --key "$NUDGE_WRITE_KEYS" --count $PROBES \
        --interval-ms $PROBE_INTERVAL_MS >"$dir/latency.out" 2>"$dir/latency.err" &
    PROBE_PID=$!
    wait_for_file "$dir/sink.port" "$PROBE_PID" "bench/latency.py" "$dir/latency.err"
    write_config "$dir" "hook = { adapter = \"webhook\", url = \"http://127.0.0.1:$(cat "$dir/sink.port")/hook\" },"
    # shellcheck disable=SC2086  # RECIPES is a list of paths without spaces
    start_serve "$dir" $RECIPES $PROBE_RECIPE
    wait "$PROBE_PID"
    probe_status=$?
    PROBE_PID=
    stop_serve || die "nudge serve exited with status $? on SIGTERM (log: $dir/serve.log)"
    if [ $probe_status -ne 0 ]; then
        cat "$dir/latency.out" >&2
        tail -n 20 "$dir/latency.err" >&2
        die "bench/latency.py failed (logs: $dir/latency.err, $dir/serve.log)"
    fi
    delivered=$(sqlite3 "$dir/bench.db" \
        "select count(*) from outbox where channel = 'hook' and status = 'delivered'") ||
        die "cannot read the outbox of $dir/bench.db"
    [ "$delivered" = $PROBES ] ||
        die "$delivered probe messages delivered, not $PROBES (log: $dir/serve.log)"
    awk '$1 == "latency:" {
        for (i = 2; i < NF; i++) v[$i] = $(i + 1)
        printf "bench: trigger-to-send: p50 %s ms, p99 %s ms over %d events\n", v["trigger_p50_ms"], v["trigger_p99_ms"], v["arrived"]
        printf "bench: single-event POST /v1/track answered 200: p50 %s ms, p99 %s ms\n", v["accepted_p50_ms"], v["accepted_p99_ms"]
    }' "$dir/latency.out"
}

: >"$SWORK/results.txt"
i=1
while [ $i -le $RUNS ]; do
    ingest_once $i
    i=$((i + 1))
done
awk 'function sort(a, k,    i, j, t) {
        for (i = 2; i <= k; i++)
            for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    }
    function median(a, k) { return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
    { k++; rate[k] = $1; p50[k] = $2; p99[k] = $3; ran[k] = $4 }
    END {
        sort(rate, k); sort(p50, k); sort(p99, k); sort(ran, k)
        printf "bench: nudge serve ingest: median %d events/s over %d runs (p50 %.1f ms, p99 %.1f ms); run: median %d events/s\n", median(rate, k), k, median(p50, k), median(p99, k), median(ran, k)
        printf "bench: events/s min %d max %d; p99 min %.1f ms max %.1f ms\n", rate[1], rate[k], p99[1], p99[k]
    }' "$SWORK/results.txt"

latency_run
