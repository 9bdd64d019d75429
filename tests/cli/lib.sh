# Shared by the black-box CLI tests: sourced, not run.  Each test script
# prints "ok - name" or "not ok - name: reason" lines; tests/run.sh counts.
# NUDGE is the binary under test; TMP a scratch folder removed on exit.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NUDGE="$ROOT/${BUILD:-build}/nudge"
# NUDGE_OPEN: the same binary with tests/data/open.conf.lua (opt_out, no
# quiet hours), for the tests that are not about the guardrails.
NUDGE_BIN=$NUDGE
NUDGE_OPEN_CONFIG="$ROOT/tests/data/open.conf.lua"
NUDGE_OPEN="$ROOT/tests/cli/open_nudge.sh"
export NUDGE_BIN NUDGE_OPEN_CONFIG
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nudge-test.XXXXXX")
CHILDREN=""
cleanup() {
    for pid in $CHILDREN; do kill -9 "$pid" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1: $2"; }

# check NAME COMMAND...: ok when the command succeeds.
check() {
    name=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name" "command failed: $*"; fi
}

# contains NAME FILE TEXT: ok when FILE contains TEXT (fixed string).
contains() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1" "'$3' not in $2: $(head -c 600 "$2")"; fi
}

# equals NAME GOT WANT
equals() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', want '$3'"; fi
}

# summary FILE KEY: a number from the summary line in FILE, by section and
# label: events_accepted, journeys_started, messages_suppressed, ...
summary() {
    awk -v want="$2" '/^events [0-9]/ {
        n = split($0, parts, ";")
        for (p = 1; p <= n; p++) {
            m = split(parts[p], w, /[ ,]+/); section = ""
            for (i = 1; i <= m; i++) {
                if (w[i] == "") continue
                if (section == "") { section = w[i]; continue }
                if (w[i] ~ /^[0-9]+$/) value = w[i]
                else if (section "_" w[i] == want) { print value; exit }
            }
        }
    }' "$1"
}

# run_nudge NAME ARGS...: runs $NUDGE with stdout in DIR/NAME.out, stderr in
# DIR/NAME.err and the exit code in $rc; DIR is $W (a scenario's folder)
# when set, else $TMP.
run_nudge() {
    out_name=$1; shift
    "$NUDGE" "$@" >"${W:-$TMP}/$out_name.out" 2>"${W:-$TMP}/$out_name.err"
    rc=$?
}
