#!/bin/sh
# bench/audience.sh BUILD: profiles/s and peak RSS of one audience pass
# (trigger = { audience = ..., every = "1d" }) over 200,000 imported
# profiles (tools/gen_profiles, fixed seed; AUDIENCE_PROFILES=1000000 for a
# million).  The profiles are imported once; each of 3 runs copies that
# database and times `nudge tick` with the audience recipe: a walk over
# every profile with its computed traits, about 3% entering a journey
# that sends an email (suppressed: no consent).  Median, min and max.
# Peak RSS must not grow with the number of profiles.  Run by bench/run.sh.
set -u

BUILD=${1:?usage: sh bench/audience.sh BUILD_DIR}
NUDGE=$BUILD/nudge
GEN=$BUILD/tools/gen_profiles
WORK=$BUILD/bench/audience
PROFILE_COUNT=${AUDIENCE_PROFILES:-200000}
SEED=20261102
RUNS=3
RECIPE=$WORK/audience_bench.lua

die() {
    echo "bench: $*" >&2
    exit 1
}

[ -x "$NUDGE" ] || die "$NUDGE not found; run 'make' first"
[ -x "$GEN" ] || die "$GEN not found; run 'make $GEN' first"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (Debian package 'time'; 'make deps' installs it)"
mkdir -p "$WORK/base" "$WORK/run" || die "cannot create $WORK"

cat >"$RECIPE" <<'EOF'
-- bench/audience.sh: a simple predicate over traits, checked daily.
return journey {
  name = "audience_bench",
  trigger = { audience = function(p) return p.plan == "pro" and p.city == "Berlin" end,
              every = "1d" },
  run = function(j) j:send("email", "win_back") end,
}
EOF

# The profiles, imported once into WORK/base (database and key).
rm -f "$WORK/base/"*
"$GEN" --count "$PROFILE_COUNT" --seed $SEED --format csv >"$WORK/profiles.csv" ||
    die "gen_profiles failed"
"$NUDGE" --db "$WORK/base/bench.db" profile import "$WORK/profiles.csv" -q --strict \
    >"$WORK/import.log" 2>&1 || die "nudge profile import failed (log: $WORK/import.log)"
echo "bench: imported $PROFILE_COUNT profiles (seed $SEED) for the audience pass"

# One pass on a fresh copy; prints "SECONDS PEAK_KB".
pass_once() {
    rm -f "$WORK/run/"*
    cp "$WORK/base/bench.db" "$WORK/base/nudge.key" "$WORK/run/" || die "cannot copy the database"
    /usr/bin/time -o "$WORK/time.txt" -f '%e %M' "$NUDGE" -v --db "$WORK/run/bench.db" \
        --outbox "$WORK/run/outbox.ndjson" tick "$RECIPE" >"$WORK/pass.log" 2>&1
    status=$?
    if [ $status -ne 0 ]; then
        tail -n 20 "$WORK/pass.log" >&2
        die "nudge tick exited with status $status (log: $WORK/pass.log)"
    fi
    grep -q "over $PROFILE_COUNT profiles" "$WORK/pass.log" ||
        die "the pass did not walk $PROFILE_COUNT profiles (log: $WORK/pass.log)"
    tail -n 1 "$WORK/time.txt"
}

results=$WORK/results.txt
: >"$results"
i=1
while [ $i -le $RUNS ]; do
    measured=$(pass_once) || exit 1
    echo "$measured" >>"$results"
    entered=$(sed -n 's/.*profiles: \([0-9]*\) entered.*/\1/p' "$WORK/pass.log")
    echo "$measured" | awk -v run=$i -v n="$PROFILE_COUNT" -v entered="$entered" '{
        secs = ($1 > 0) ? $1 : 0.01
        printf "bench: audience pass %d: %.2f s, %d profiles/s, %d entered, peak RSS %.1f MB\n",
            run, $1, n / secs, entered, $2 / 1024
    }'
    i=$((i + 1))
done
awk -v n="$PROFILE_COUNT" -v what="audience pass" -v unit=profiles/s -f bench/summarize.awk "$results"
