#!/bin/sh
# Runs every test: the C unit tests (build/tests/test_*) and the black-box
# CLI tests (tests/cli/test_*.sh).  Each prints "ok"/"not ok" lines; the
# last line of the run is "N passed, N failed".
BUILD=${BUILD:-build}
export BUILD
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
out=$(mktemp)
all=$(mktemp)
for t in "$BUILD"/tests/test_* tests/cli/test_*.sh; do
    [ -e "$t" ] || continue
    echo "# $t" | tee -a "$all"
    case "$t" in
    *.sh) timeout 900 sh "$t" >"$out" 2>"$out.err" ;;
    *) timeout 300 "$t" >"$out" 2>"$out.err" ;;
    esac
    rc=$?
    tee -a "$all" <"$out"
    if [ $rc -ne 0 ] && ! grep -q '^not ok' "$out"; then
        echo "not ok - $t exited with status $rc" | tee -a "$all"
    elif ! grep -q '^ok\|^not ok' "$out"; then
        echo "not ok - $t reported no results" | tee -a "$all"
    fi
    if [ $rc -ne 0 ]; then tail -n 15 "$out.err" | sed 's/^/#   /'; fi
done
passed=$(grep -c '^ok' "$all")
failed=$(grep -c '^not ok' "$all")
rm -f "$out" "$out.err" "$all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
