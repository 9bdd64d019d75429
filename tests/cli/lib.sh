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
    stop_sinks
    for pid in $CHILDREN; do kill -9 "$pid" 2>/dev/null; done
    rm -rf "$TMP"
}
# A signal ends the test too (exit runs the EXIT trap, so cleanup runs once).
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

# ---- the test servers (tests/servers/): a real HTTP and SMTP server on
# 127.0.0.1, one of each (or more) per test, stopped by stop_sinks and on
# exit.  They run under /usr/bin/python3 (the python3 on PATH may lack
# aiosmtpd), exit by themselves after SINK_MAX_SECONDS (300) and when this
# shell is gone.
PY=/usr/bin/python3
SINKS=""

# _sink_wait_port FILE PID: prints the port once FILE holds it (up to 5 s).
_sink_wait_port() {
    _sw_n=0
    while [ $_sw_n -lt 50 ]; do
        if [ -s "$1" ]; then cat "$1"; return 0; fi
        _sink_alive "$2" || return 1
        sleep 0.1; _sw_n=$((_sw_n + 1))
    done
    return 1
}

# _sink_alive PID: the process runs (and is not a zombie).
_sink_alive() {
    _sa_state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$_sa_state" ] && [ "$_sa_state" != Z ]
}

# start_http_sink DIR [RULES]: starts tests/servers/http_sink.py with its
# request log in DIR/http.log (one JSON line per request) and its rules in
# DIR/http_rules.json (RULES: JSON text, default []); sets HTTP_PORT,
# HTTP_PID and HTTP_URL (http://127.0.0.1:PORT).  Returns 1 (and prints a
# "not ok" line) when it does not listen within 5 s.
start_http_sink() {
    mkdir -p "$1"
    printf '%s\n' "${2:-[]}" >"$1/http_rules.json"
    rm -f "$1/http.port"
    "$PY" "$ROOT/tests/servers/http_sink.py" --port-file "$1/http.port" --log "$1/http.log" \
        --rules "$1/http_rules.json" --max-seconds "${SINK_MAX_SECONDS:-300}" --parent $$ \
        </dev/null >"$1/http_sink.out" 2>"$1/http_sink.err" &
    HTTP_PID=$!
    SINKS="$SINKS $HTTP_PID"
    if HTTP_PORT=$(_sink_wait_port "$1/http.port" "$HTTP_PID"); then
        HTTP_URL="http://127.0.0.1:$HTTP_PORT"
        return 0
    fi
    not_ok "http sink starts" "not listening after 5 s: $(tail -n 5 "$1/http_sink.err")"
    HTTP_PORT=""; HTTP_URL=""
    return 1
}

# http_rules DIR RULES: replaces the rules of the HTTP sink started on DIR
# (atomically; resets the rules' counters).
http_rules() {
    printf '%s\n' "$2" >"$1/http_rules.json.tmp" && mv -f "$1/http_rules.json.tmp" "$1/http_rules.json"
}

# start_smtp_sink DIR [ARGS...]: starts tests/servers/smtp_sink.py keeping
# each message as DIR/mail/N.eml + DIR/mail/N.json (and every RCPT answer in
# DIR/mail/rcpt.ndjson); ARGS go to the server: --reject ADDR=CODE[*N],
# --auth USER:PASS, --delay-ms N.  Sets SMTP_PORT, SMTP_PID and SMTP_URL
# (smtp://127.0.0.1:PORT).  Returns 1 (and prints a "not ok" line) when it
# does not listen within 5 s.
start_smtp_sink() {
    _ss_dir=$1; shift
    mkdir -p "$_ss_dir/mail"
    rm -f "$_ss_dir/smtp.port"
    "$PY" "$ROOT/tests/servers/smtp_sink.py" --port-file "$_ss_dir/smtp.port" --dir "$_ss_dir/mail" \
        --max-seconds "${SINK_MAX_SECONDS:-300}" --parent $$ "$@" \
        </dev/null >"$_ss_dir/smtp_sink.out" 2>"$_ss_dir/smtp_sink.err" &
    SMTP_PID=$!
    SINKS="$SINKS $SMTP_PID"
    if SMTP_PORT=$(_sink_wait_port "$_ss_dir/smtp.port" "$SMTP_PID"); then
        SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
        return 0
    fi
    not_ok "smtp sink starts" "not listening after 5 s: $(tail -n 5 "$_ss_dir/smtp_sink.err")"
    SMTP_PORT=""; SMTP_URL=""
    return 1
}

# stop_sinks: stops every sink this test started (SIGTERM, SIGKILL after
# 3 s) and waits for them.
stop_sinks() {
    for _st_pid in $SINKS; do kill "$_st_pid" 2>/dev/null; done
    for _st_pid in $SINKS; do
        _st_n=0
        while _sink_alive "$_st_pid" && [ $_st_n -lt 30 ]; do sleep 0.1; _st_n=$((_st_n + 1)); done
        kill -9 "$_st_pid" 2>/dev/null
        wait "$_st_pid" 2>/dev/null
    done
    SINKS=""
}

# json_eval FILE EXPR [ARGS...]: prints the Python expression EXPR evaluated
# over FILE, where L is the list of its lines parsed as JSON (NDJSON; []
# when FILE is missing or empty), d the first one and A the list of ARGS.
# A string prints as is, anything else as JSON:
#   json_eval "$W/http.log" 'L[0]["headers"]["idempotency-key"]'
#   json_eval "$W/mail/1.json" 'd["rcpt_tos"]'      -> ["a@example.com"]
json_eval() {
    "$PY" -c '
import json, sys
try:
    L = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8") if x.strip()]
except FileNotFoundError:
    L = []
d = L[0] if L else None
v = eval(sys.argv[2], {"json": json, "L": L, "d": d, "A": sys.argv[3:]})
print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}

# http_log_count DIR [MATCH]: how many requests the HTTP sink on DIR got
# (only those whose path contains MATCH, when given).
http_log_count() {
    json_eval "$1/http.log" 'len([r for r in L if A[0] in r["path"]])' "${2:-}"
}

# smtp_mail_count DIR: how many messages the SMTP sink on DIR accepted.
smtp_mail_count() {
    ls "$1/mail" 2>/dev/null | grep -c '^[0-9]*\.json$'
}

# wait_count N SECONDS COMMAND...: waits until COMMAND prints a number >= N
# (polling every 0.1 s, at most SECONDS); returns 1 at timeout.
wait_count() {
    _wc_want=$1; _wc_ticks=$(($2 * 10)); shift 2
    while :; do
        _wc_got=$("$@" 2>/dev/null)
        [ "${_wc_got:-0}" -ge "$_wc_want" ] 2>/dev/null && return 0
        [ $_wc_ticks -le 0 ] && return 1
        sleep 0.1; _wc_ticks=$((_wc_ticks - 1))
    done
}
