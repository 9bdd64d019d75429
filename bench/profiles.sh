#!/bin/sh
# bench/profiles.sh BUILD: rows/s and peak RSS of `nudge profile import` over
# 200,000 generated profiles (fixed seed; CSV, 5 runs on a fresh database and
# key each, then the median, min and max; one NDJSON run to compare), then
# email lookups/s through the blind index on the imported database
# (tools/bench_lookup, median of 5 passes).  Run by bench/run.sh.
set -u

BUILD=${1:?usage: sh bench/profiles.sh BUILD_DIR}
NUDGE=$BUILD/nudge
GEN=$BUILD/tools/gen_profiles
LOOKUP=$BUILD/tools/bench_lookup
WORK=$BUILD/bench/profiles
CSV=$WORK/profiles.csv
NDJSON=$WORK/profiles.ndjson
PROFILE_COUNT=200000
LOOKUPS=200000
SEED=20261102
RUNS=5

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$NUDGE" ] || die "$NUDGE not found; run 'make' first"
[ -x "$GEN" ] || die "$GEN not found; run 'make $GEN' first"
[ -x "$LOOKUP" ] || die "$LOOKUP not found; run 'make $LOOKUP' first"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time'; 'make deps' installs it)"
mkdir -p "$WORK/csv" "$WORK/ndjson" || die "cannot create $WORK"

# make_profiles FILE FORMAT: writes the profiles as csv or ndjson.
make_profiles() {
    if ! "$GEN" --count $PROFILE_COUNT --seed $SEED --format "$2" >"$1.tmp"; then
        rm -f "$1.tmp"
        die "gen_profiles failed"
    fi
    mv "$1.tmp" "$1" || die "cannot write $1"
}

# import_once FILE DIR: imports FILE into a fresh DIR/bench.db, its key
# beside it (DIR/nudge.key); prints "SECONDS PEAK_KB".
import_once() {
    rm -f "$2/bench.db" "$2/bench.db-wal" "$2/bench.db-shm" "$2/nudge.key" "$2/nudge.key.new"
    # --strict: a rejected row fails the bench (exit 3) instead of passing unseen
    /usr/bin/time -o "$WORK/time.txt" -f '%e %M' "$NUDGE" profile import "$1" \
        --db "$2/bench.db" -q --strict >"$WORK/import.log" 2>&1
    status=$?
    if [ $status -ne 0 ]; then
        tail -n 20 "$WORK/import.log" >&2
        die "nudge profile import exited with status $status (log: $WORK/import.log)"
    fi
    tail -n 1 "$WORK/time.txt"
}

# print_run LABEL: "SECONDS PEAK_KB" on stdin to one report line.
print_run() {
    awk -v label="$1" -v n=$PROFILE_COUNT '{
        secs = ($1 > 0) ? $1 : 0.01
        printf "bench: %s: %.2f s, %d rows/s, peak RSS %.1f MB\n", label, $1, n / secs, $2 / 1024
    }'
}

# Median, min and max of rows/s and of peak RSS over the runs in FILE.
summarize() {
    awk -v n=$PROFILE_COUNT -v what="profile import" -v unit=rows/s -f bench/summarize.awk "$1"
}

make_profiles "$CSV" csv
make_profiles "$NDJSON" ndjson
echo "bench: wrote $CSV and $NDJSON ($PROFILE_COUNT profiles, seed $SEED)"

results=$WORK/results.txt
: >"$results"
i=1
while [ $i -le $RUNS ]; do
    measured=$(import_once "$CSV" "$WORK/csv") || exit 1
    echo "$measured" >>"$results"
    echo "$measured" | print_run "import run $i (CSV)"
    i=$((i + 1))
done
summarize "$results"

measured=$(import_once "$NDJSON" "$WORK/ndjson") || exit 1
echo "$measured" | print_run "profile import (NDJSON, 1 run)"

# Lookups on the database of the last CSV run; the CSV tells the right answers.
"$LOOKUP" --db "$WORK/csv/bench.db" --key "$WORK/csv/nudge.key" --profiles "$CSV" \
    --lookups $LOOKUPS --seed $SEED --passes $RUNS ||
    die "bench_lookup failed (a wrong answer, or the database would not open)"
