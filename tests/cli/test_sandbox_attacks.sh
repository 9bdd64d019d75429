#!/bin/sh
# Attacks on the recipe sandbox, black-box: each tests/attacks/NAME.lua
# tries one way out of the sandbox (or to hang, crash or poison the host).
# Only the attacking instance (u1) may fail, within seconds, with an error
# naming the recipe line marked "-- error here" and the cause; the run goes
# on for u2.
. "$(dirname "$0")/lib.sh"
NUDGE=$NUDGE_OPEN # journeys send as written: no consent or quiet-hour rules here
cd "$ROOT" || exit 1
A=tests/attacks
LIMIT=5 # seconds before a run counts as hung (a normal run takes well under 1 s)
# ATTACK_CONFIG: a config for the next attack, after open.conf.lua.
ATTACK_CONFIG=""

# run NAME RECIPE...: runs the recipes over go.ndjson (u1, then u2) into
# $TMP/NAME.{db,out,err,sum}; sets rc.
run() {
    name=$1
    shift
    timeout "$LIMIT" "$NUDGE" run "$@" --events "$A/go.ndjson" --clock event \
        --db "$TMP/$name.db" --outbox "$TMP/$name.out" 2>"$TMP/$name.err" >"$TMP/$name.sum"
    rc=$?
    touch "$TMP/$name.out"
}

# show FILE: the start of FILE on one line, for a "not ok" reason.
show() { head -c 400 "$1" | tr '\n' ' '; }

# marked_line FILE: the number of the line marked "-- error here".
marked_line() { grep -n -- '-- error here' "$1" | head -n 1 | cut -d: -f1; }

# has NAME FILE TEXT: ok when FILE contains TEXT.
has() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else not_ok "$1" "'$3' not in: $(show "$2")"; fi
}

# finished NAME WANT: ok when the last run ended by itself with exit code WANT.
finished() {
    if [ "$rc" -eq "$2" ]; then
        ok "$1"
    elif [ "$rc" -eq 124 ]; then
        not_ok "$1" "still running after $LIMIT s, killed"
    else
        not_ok "$1" "exit code $rc, want $2: $(show "$TMP/$name.err")"
    fi
}

# failed_at NAME WHERE [WHERE2]: ok when u1's failure is reported as
# "(profile u1) failed: WHERE..." ("file:line: cause"), or with WHERE2.
failed_at() {
    reported=$(grep -F '(profile u1) failed: ' "$TMP/$name.err")
    case $reported in
    *"(profile u1) failed: $2"*) ok "$1" ;;
    *"(profile u1) failed: ${3:-$2}"*) ok "$1" ;;
    *) not_ok "$1" "no '(profile u1) failed: $2' in: $(show "$TMP/$name.err")" ;;
    esac
}

# sent NAME JOURNEY PROFILE TEXT: ok when the outbox line of JOURNEY for
# PROFILE contains TEXT.
sent() {
    line=$(grep -F "\"journey\":\"$2\"" "$TMP/$name.out" | grep -F "\"profile\":\"$3\"")
    case $line in
    *"$4"*) ok "$1" ;;
    "") not_ok "$1" "no message to $3 from $2 in: $(show "$TMP/$name.out")" ;;
    *) not_ok "$1" "'$4' not in: $line" ;;
    esac
}

# hung NAME: after a run that was killed, reports check NAME as not ok for
# that reason and succeeds (so the caller skips the check's own test).
hung() {
    [ "$rc" -eq 124 ] || return 1
    not_ok "$1" "the run hung (killed after $LIMIT s)"
}

# attack NAME [CAUSE [CAUSE2]]: runs tests/attacks/NAME.lua.  u1's instance
# must fail with "tests/attacks/NAME.lua:LINE: CAUSE" (or CAUSE2), u2's must
# complete.
attack() {
    name=$1
    file=$A/$1.lua
    where="$file:$(marked_line "$file"): "
    run "$name" ${ATTACK_CONFIG:+--config "$ATTACK_CONFIG"} "$file"
    finished "$name: finishes in time" 0
    hung "$name: only the attacker's instance fails" ||
        has "$name: only the attacker's instance fails" "$TMP/$name.sum" \
            "journeys 2 started, 0 exited, 1 completed, 1 failed"
    hung "$name: the error names the recipe line and the cause" ||
        failed_at "$name: the error names the recipe line and the cause" \
            "$where${2:-}" "$where${3:-${2:-}}"
    hung "$name: the run goes on for others" ||
        sent "$name: the run goes on for others" "$name" u2 '"template":"ok"'
}

# harmless NAME: tests/attacks/NAME.lua is disarmed: the run finishes in
# time and both instances complete.
harmless() {
    name=$1
    run "$name" "$A/$1.lua"
    finished "$name: finishes in time" 0
    hung "$name: is harmless, both instances complete" ||
        has "$name: is harmless, both instances complete" "$TMP/$name.sum" \
            "journeys 2 started, 0 exited, 2 completed, 0 failed"
}

# load_attack NAME CAUSE: tests/attacks/NAME.lua fails while loading:
# exit code 2 and "nudge: error: FILE:LINE: CAUSE".
load_attack() {
    name=$1
    file=$A/$1.lua
    run "$name" "$file"
    finished "$name: refused at load time with exit code 2" 2
    has "$name: the error names the recipe line and the cause" "$TMP/$name.err" \
        "nudge: error: $file:$(marked_line "$file"): $2"
}

# no_crash NAME: a recipe that the host must survive: exit code 0 (accepted)
# or 2 (refused, naming the recipe), never a hang, abort or crash.
no_crash() {
    name=$1
    file=$A/$1.lua
    run "$name" "$file"
    case $rc in
    0) ok "$name: the host survives it" ;;
    2) has "$name: the host survives it" "$TMP/$name.err" "nudge: error: $file:" ;;
    124) not_ok "$name: the host survives it" "still running after $LIMIT s, killed" ;;
    *) not_ok "$name: the host survives it" "exit code $rc: $(show "$TMP/$name.err")" ;;
    esac
}

# ---- the libraries a recipe must not reach ------------------------------
attack io "undeclared global 'io'"
attack os "undeclared global 'os'"
attack debug "undeclared global 'debug'"
attack package "undeclared global 'package'"
attack dofile "undeclared global 'dofile'"
attack require "module 'os' not found"
attack load_binary "load: binary chunks are not allowed"
attack string_dump "attempt to call a nil value (field 'dump')"

# ---- poisoning what other code relies on --------------------------------
attack string_metatable "attempt to index a string value"
sent "string_metatable: getmetatable(\"\") hides the metatable" string_metatable u2 '"mt":"protected"'
sent "string_metatable: u2's strings are unpoisoned" string_metatable u2 '"v":"A"'
attack rawset "rawset: table is read-only"
attack readonly "attempt to modify read-only table (field 'insert')"
attack gc "setmetatable: __gc metamethods are not allowed"
attack module_poison "attempt to modify read-only table (field 'iso')"
sent "module_poison: u2's module is unpoisoned" module_poison u2 '"at":"1970-01-01T00:00:00.000Z"'

run poison $A/poison_attacker.lua $A/poison_victim.lua
finished "poison: two recipes in one run finish in time" 0
has "poison: every instance completes" "$TMP/poison.sum" "journeys 4 started, 0 exited, 4 completed, 0 failed"
for p in u1 u2; do
    # each attempt is recorded as pcall's status: false when it failed
    for how in load_assign load_rawset load_metatable load_setmetatable \
        assign rawset metatable setmetatable; do
        sent "poison: attempt $how fails ($p)" poison_attacker $p "\"$how\":false"
    done
    sent "poison: the attacker's own strings are unpoisoned ($p)" poison_attacker $p '"upper":"A"'
    sent "poison: the victim's strings are unpoisoned ($p)" poison_victim $p '"vars":{"v":"AA"}'
done

# ---- running away with CPU, memory or stack ------------------------------
attack loop "CPU budget of 100 ms exceeded"
attack loop_pcall "CPU budget of 100 ms exceeded"
attack loop_pcall_once "CPU budget of 100 ms exceeded"
attack loop_coroutine "CPU budget of 100 ms exceeded"
attack loop_coroutine_resume "CPU budget of 100 ms exceeded"
attack xpcall_loop "CPU budget of 100 ms exceeded"
attack coroutine_close "setmetatable: __close metamethods are not allowed"
# Filling 64 MiB can take more than 100 ms of CPU (slow machine, sanitizers).
ATTACK_CONFIG=$ROOT/tests/data/memory_attack.conf.lua
attack memory_rep "memory limit of 64 MiB exceeded"
attack memory_table "memory limit of 64 MiB exceeded"
ATTACK_CONFIG=""
attack recursion "stack overflow" "CPU budget of 100 ms exceeded"
attack recursion_metamethod "C stack overflow"
attack pattern "pattern too complex for a subject of 400 bytes"
attack error_table "error object is a table value"
# Long C loops that the instruction-count hook does not see: refused, or
# (string.rep of "") answered at once.
harmless rep_empty
attack table_move
attack pattern_loop

# ---- top-level code, run while the recipe loads --------------------------
load_attack load_loop "CPU budget of 100 ms exceeded"
load_attack load_exit "undeclared global 'os'"

# ---- recipes that hand the host tables it reads without the sandbox ------
no_crash trigger_metatable
no_crash trigger_metatable_error
no_crash exit_on_hole
