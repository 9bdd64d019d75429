#!/bin/sh
# bench/run.sh BUILD: events/s and peak RSS of `nudge run` over 100,000 events
# (20,000 users, fixed seed) with three recipes; 5 runs on a fresh store each,
# then the median, min and max.  Then deliveries/s over HTTP
# (bench/deliveries.sh), the service's ingest and trigger-to-send latency
# (bench/service.sh), audience passes (bench/audience.sh), then profile
# import rows/s and email lookups/s (bench/profiles.sh).  BENCH_ONLY=events|deliveries|service|audience|profiles
# runs one part.
# Run from the repo root: sh bench/run.sh build
set -u

BUILD=${1:?usage: sh bench/run.sh BUILD_DIR}
NUDGE=$BUILD/nudge
GEN=$BUILD/tools/gen_events
WORK=$BUILD/bench
EVENTS=$WORK/events.ndjson
EVENT_COUNT=100000
USERS=20000
SEED=20261102
RUNS=5
RECIPES="recipes/cart_abandonment.lua bench/recipes/browse_followup.lua bench/recipes/signup_welcome.lua"

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$NUDGE" ] || die "$NUDGE not found; run 'make' first"
[ -x "$GEN" ] || die "$GEN not found; run 'make $GEN' first"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time'; 'make deps' installs it)"
mkdir -p "$WORK" || die "cannot create $WORK"

case ${BENCH_ONLY:-} in
"" | events) ;;
deliveries) exec sh bench/deliveries.sh "$BUILD" ;;
profiles) exec sh bench/profiles.sh "$BUILD" ;;
audience) exec sh bench/audience.sh "$BUILD" ;;
service) exec sh bench/service.sh "$BUILD" ;;
*) die "BENCH_ONLY must be events, deliveries, service, audience or profiles" ;;
esac

# Generates the event file unless one of the expected size is already there.
make_events() {
    expected_size=$("$GEN" --users $USERS --events $EVENT_COUNT --seed $SEED | wc -c) ||
        die "gen_events failed"
    if [ -f "$EVENTS" ] && [ "$(wc -c <"$EVENTS")" -eq "$expected_size" ]; then
        echo "bench: reusing $EVENTS ($EVENT_COUNT events, $USERS users)"
        return
    fi
    if ! "$GEN" --users $USERS --events $EVENT_COUNT --seed $SEED >"$EVENTS.tmp"; then
        rm -f "$EVENTS.tmp"
        die "gen_events failed"
    fi
    mv "$EVENTS.tmp" "$EVENTS" || die "cannot write $EVENTS"
    echo "bench: wrote $EVENTS ($EVENT_COUNT events, $USERS users, seed $SEED)"
}

# One run on a fresh store; prints "SECONDS PEAK_KB".
run_once() {
    rm -f "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm" "$WORK/outbox.ndjson"
    # shellcheck disable=SC2086  # RECIPES is a list of paths without spaces
    /usr/bin/time -o "$WORK/time.txt" -f '%e %M' "$NUDGE" run $RECIPES \
        --events "$EVENTS" --clock event --db "$WORK/bench.db" \
        --outbox "$WORK/outbox.ndjson" -q >"$WORK/run.log" 2>&1
    status=$?
    if [ $status -ne 0 ]; then
        tail -n 20 "$WORK/run.log" >&2
        die "nudge run exited with status $status (log: $WORK/run.log)"
    fi
    tail -n 1 "$WORK/time.txt"
}

make_events
results=$WORK/results.txt
: >"$results"
i=1
while [ $i -le $RUNS ]; do
    measured=$(run_once) || exit 1
    echo "$measured" >>"$results"
    echo "$measured" | awk -v run=$i -v n=$EVENT_COUNT '{
        secs = ($1 > 0) ? $1 : 0.01
        printf "bench: run %d: %.2f s, %d events/s, peak RSS %.1f MB\n", run, $1, n / secs, $2 / 1024
    }'
    i=$((i + 1))
done

awk -v n=$EVENT_COUNT -v what="nudge run" -v unit=events/s -f bench/summarize.awk "$results"

[ -n "${BENCH_ONLY:-}" ] && exit 0
sh bench/deliveries.sh "$BUILD" || exit 1
sh bench/service.sh "$BUILD" || exit 1
sh bench/audience.sh "$BUILD" || exit 1
sh bench/profiles.sh "$BUILD" || exit 1
