#!/bin/sh
# Profiles, identity and privacy (SPEC §3, §8): PII encrypted at rest and
# never in clear in the database, its WAL or the logs; anonymous visitors
# linked and merged (the older of two live instances kept); computed traits
# in j:profile(); profile import/show/export/forget; suppression of
# forgotten people (transactional mail still goes); keygen and rotation;
# pii.expose.  Each scenario runs in its own folder, removed at its end.
. "$(dirname "$0")/lib.sh"
NUDGE=$NUDGE_OPEN # journeys send as written: no consent or quiet-hour rules here

R="$ROOT/tests/recipes"
D="$ROOT/tests/data"
SEND="$R/profile_send.lua"
RECEIPT="$R/profile_transactional.lua"
WAIT="$R/profile_wait.lua"



# jget FILE PATH: the value at PATH (SQLite JSON path) of the JSON in FILE;
# objects and arrays print as JSON, null and missing as nothing.
jget() {
    sqlite3 :memory: "select json_extract(cast(readfile('$1') as text), '$2')" 2>&1
}

# msg OUTBOX TEMPLATE PROFILE: the outbox lines of that template and profile.
msg() { grep -F "\"profile\":\"$3\"" "$1" 2>/dev/null | grep -F "\"template\":\"$2\""; }

# var OUTBOX TEMPLATE PROFILE KEY: vars.KEY of the first such message.
var() {
    msg "$1" "$2" "$3" | head -n 1 >"$W/line.json"
    jget "$W/line.json" "\$.vars.$4"
}

# count_msg OUTBOX TEMPLATE PROFILE
count_msg() { msg "$1" "$2" "$3" | wc -l | tr -d ' '; }

# epoch ISO: Unix seconds.
epoch() { date -u -d "$1" +%s; }

# expect_exit NAME WANT_RC PATTERN FILE: $rc is WANT_RC and FILE matches
# the extended regex PATTERN.
expect_exit() {
    if [ "$rc" -ne "$2" ]; then
        not_ok "$1" "exit $rc, want $2; stderr: $(head -c 400 "$4")"
    elif ! grep -qE -- "$3" "$4"; then
        not_ok "$1" "no /$3/ in: $(head -c 400 "$4")"
    else
        ok "$1"
    fi
}

# lacks NAME FILE TEXT...: none of the TEXTs (case-insensitive) is in FILE.
lacks() {
    name=$1 file=$2; shift 2
    found=""
    for v in "$@"; do
        if grep -qiF -- "$v" "$file"; then found="$found '$v'"; fi
    done
    if [ -z "$found" ]; then ok "$name"; else not_ok "$name" "found$found in $file"; fi
}

# no_plaintext NAME VALUES FILES...: `strings` over the FILES (all must
# exist) holds none of the lines of the file VALUES, case-insensitive.
no_plaintext() {
    name=$1 values=$2; shift 2
    : >"$W/strings.txt"
    for f in "$@"; do
        if [ ! -e "$f" ]; then not_ok "$name" "$f does not exist"; return; fi
        strings -a -n 4 "$f" >>"$W/strings.txt"
    done
    found=""
    while IFS= read -r v; do
        if grep -qiF -- "$v" "$W/strings.txt"; then
            found="$found '$v' ($(grep -iF -- "$v" "$W/strings.txt" | head -n 1 | cut -c 1-120))"
        fi
    done <"$values"
    if [ -z "$found" ]; then ok "$name"; else not_ok "$name" "in clear:$found"; fi
}

# scenario NAME: a fresh folder W for the scenario.
scenario() {
    W="$TMP/$1"
    mkdir "$W"
}
end_scenario() { rm -rf "$W"; }

# ==== 1. no plaintext PII in the database, its WAL or the logs =============

scenario privacy
DB="$W/p.db"
OUT="$W/outbox.ndjson"
CONF="$D/profile_pii.conf.lua"
E1=zephyrine.quell@northmail.test P1="+1 (555) 201-4477" P1E=+15552014477 F1=Zephyrine
L1=Quellington N1=Stormcrest
E2=Ottoline.Vance@EastMail.test P2=+442079460958 F2=Ottoline L2=Vanderquist
E3=bartholomew.nkemelu@westmail.test P3=+15559876543 F3=Bartholomew
E4=marisol.aguadero@southmail.test P4=+15553217654
E5=context.only@hiddenmail.test
E6=rejected.line@badmail.test P6=+15550009999 F6=Rejectolda
E7=alias.merge@aliasmail.test P7=+15554440000 F7=Anonymella
E8=csv.reject@rowmail.test F8=Rowenalda
cat >"$W/run1.ndjson" <<EOF
{"type":"page","anonymousId":"a-100","name":"Home","timestamp":"2026-11-01T08:00:00Z"}
{"type":"identify","anonymousId":"a-100","timestamp":"2026-11-01T09:00:00Z","traits":{"email":"$E1","phone":"$P1","first_name":"$F1","last_name":"$L1","nickname":"$N1","plan":"pro"}}
{"type":"identify","anonymousId":"a-100","userId":"p-100","timestamp":"2026-11-02T09:00:00Z","traits":{"plan":"pro"}}
{"type":"track","userId":"p-100","event":"Newsletter Signup","timestamp":"2026-11-02T09:30:00Z","properties":{"email":"$E4","phone":"$P4","list":"weekly"},"context":{"traits":{"email":"$E5"}}}
{"type":"identify","anonymousId":"a-200","timestamp":"2026-11-02T10:00:00Z","traits":{"email":"$E7","phone":"$P7","first_name":"$F7"}}
{"type":"alias","previousId":"a-200","userId":"p-200","timestamp":"2026-11-02T10:30:00Z"}
{"type":"identify","userId":"p-300","timestamp":"yesterday","traits":{"email":"$E6","phone":"$P6","first_name":"$F6"}}
{"type":"track","userId":"p-100","event":"Ping","timestamp":"2026-11-02T11:00:00Z"}
{"type":"track","anonymousId":"a-200","event":"Ping","timestamp":"2026-11-02T11:30:00Z"}
EOF
run_nudge run1 -v --config "$CONF" --db "$DB" --outbox "$OUT" run "$SEND" --events "$W/run1.ndjson" --clock event
equals "privacy: run with PII in identify traits exits 0" "$rc" 0
equals "privacy: 8 events accepted, the bad-timestamp one rejected" \
    "$(summary "$W/run1.out" events_accepted)/$(summary "$W/run1.out" events_rejected)" "8/1"

# Keep a second connection open so that the WAL stays on disk for the check.
mkfifo "$W/hold"
sqlite3 "$DB" <"$W/hold" >"$W/hold.out" 2>&1 &
HOLDER=$!
CHILDREN="$CHILDREN $HOLDER"
exec 7>"$W/hold"
echo "select count(*) from events;" >&7

cat >"$W/people.csv" <<EOF
id,email,phone,first_name,last_name,plan
i-200,$E2,$P2,$F2,$L2,gold
i-201,$E8,+15550001111,$F8,Rowe,gold,one too many
EOF
run_nudge import_csv --config "$CONF" --db "$DB" profile import "$W/people.csv"
equals "privacy: CSV import (1 imported, 1 rejected)" "$rc/$(cat "$W/import_csv.out")" \
    "0/profiles 1 imported, 1 rejected"
printf '{"userId":"n-300","traits":{"email":"%s","phone":"%s","first_name":"%s","nickname":"Brightwing"}}\n' \
    "$E3" "$P3" "$F3" >"$W/people.ndjson"
run_nudge import_nd --config "$CONF" --db "$DB" profile import "$W/people.ndjson"
equals "privacy: NDJSON import" "$rc/$(cat "$W/import_nd.out")" "0/profiles 1 imported, 0 rejected"
printf '{"type":"track","userId":"i-200","event":"Ping","timestamp":"2026-11-03T09:00:00Z"}\n' >"$W/run2.ndjson"
run_nudge run2 -v --log-format json --config "$CONF" --db "$DB" --outbox "$OUT" run "$SEND" \
    --events "$W/run2.ndjson" --clock event
equals "privacy: second run (imported profile triggered) exits 0" "$rc" 0

for id in p-100 p-200 i-200 n-300; do
    run_nudge "export_$id" --config "$CONF" --db "$DB" profile export "$id"
done
if grep -qF "\"$E1\"" "$W/export_p-100.out" && grep -qF "\"$P1\"" "$W/export_p-100.out" &&
    grep -qF "\"$F1\"" "$W/export_p-100.out" && grep -qF "\"$L1\"" "$W/export_p-100.out" &&
    grep -qF "\"$N1\"" "$W/export_p-100.out"; then
    ok "privacy: export decrypts email, phone, first/last name and a configured field (nickname)"
else
    not_ok "privacy: export decrypts email, phone, first/last name and a configured field (nickname)" \
        "$(jget "$W/export_p-100.out" '$.profile')"
fi
equals "privacy: export of the alias-merged profile shows the anonymous visitor's PII" \
    "$(jget "$W/export_p-200.out" '$.profile.email') $(jget "$W/export_p-200.out" '$.profile.first_name')" \
    "$E7 $F7"
equals "privacy: export of CSV-imported PII" \
    "$(jget "$W/export_i-200.out" '$.profile.email') $(jget "$W/export_i-200.out" '$.profile.phone') $(jget "$W/export_i-200.out" '$.profile.last_name')" \
    "$E2 $P2 $L2"
equals "privacy: export of NDJSON-imported PII" \
    "$(jget "$W/export_n-300.out" '$.profile.email') $(jget "$W/export_n-300.out" '$.profile.first_name')" \
    "$E3 $F3"
# the identify event as stored: masks only
equals "privacy: stored identify body holds masks (email, first_name, nickname)" \
    "$(jget "$W/export_p-100.out" '$.events[1].body.traits.email') $(jget "$W/export_p-100.out" '$.events[1].body.traits.first_name') $(jget "$W/export_p-100.out" '$.events[1].body.traits.nickname')" \
    "z***@northmail.test Z*** S***"
case $(jget "$W/export_p-100.out" '$.events[1].body.traits.phone') in
*4477) ok "privacy: stored identify body holds a phone mask ending in its last 4 digits" ;;
*) not_ok "privacy: stored identify body holds a phone mask ending in its last 4 digits" \
    "$(jget "$W/export_p-100.out" '$.events[1].body.traits.phone')" ;;
esac
equals "privacy: PII in track properties and context.traits is masked in the stored event" \
    "$(jget "$W/export_p-100.out" '$.events[3].body.properties.email') $(jget "$W/export_p-100.out" '$.events[3].body.context.traits.email') $(jget "$W/export_p-100.out" '$.events[3].body.properties.list')" \
    "m***@southmail.test c***@hiddenmail.test weekly"
run_nudge show_e7 --config "$CONF" --db "$DB" profile show "$E7"
equals "privacy: the anonymous visitor's email finds the profile it was aliased to" \
    "$rc/$(head -n 1 "$W/show_e7.out")" "0/profile p-200"
digest=$(sqlite3 "$DB" "select lower(hex(email_blind)) from profiles where id = 'p-100'")
sha=$("$NUDGE" hash email "$E1")
blake=$(printf 'email:%s' "$E1" | b2sum -l 256 | cut -d ' ' -f 1)
if [ ${#digest} -eq 64 ] && [ "$digest" != "$sha" ] && [ "$digest" != "$blake" ]; then
    ok "privacy: the email's blind index is keyed (not its plain SHA-256 or BLAKE2b)"
else
    not_ok "privacy: the email's blind index is keyed (not its plain SHA-256 or BLAKE2b)" \
        "digest '$digest', sha256 '$sha', blake2b '$blake'"
fi
run_nudge show_p --config "$CONF" --db "$DB" profile show p-100
contains "privacy: profile show masks the email" "$W/show_p.out" '"z***@northmail.test"'
contains "privacy: profile show masks the first name" "$W/show_p.out" '"Z***"'
lacks "privacy: profile show prints no raw PII" "$W/show_p.out" "$E1" "$P1" "$P1E" "$F1" "$L1" "$N1"
equals "privacy: a recipe's j:profile() sees masks only (email, first_name, phone end)" \
    "$(var "$OUT" hello p-100 email) $(var "$OUT" hello p-100 first_name) $(var "$OUT" hello p-100 phone | tail -c 5)" \
    "z***@northmail.test Z*** 4477"

printf '%s\n' "$E1" "$P1" "$P1E" "$F1" "$L1" "$N1" "$E2" "$P2" "$F2" "$L2" "$E3" "$P3" "$F3" Brightwing \
    "$E4" "$P4" "$E5" "$E6" "$P6" "$F6" "$E7" "$P7" "$F7" "$E8" "$F8" >"$W/values.txt"
if [ -e "$DB-wal" ] && [ -s "$DB-wal" ]; then
    ok "privacy: the WAL file is on disk for the check ($(wc -c <"$DB-wal") bytes)"
else
    not_ok "privacy: the WAL file is on disk for the check" "no $DB-wal"
fi
no_plaintext "privacy: no raw email, phone or name in the .db file" "$W/values.txt" "$DB"
no_plaintext "privacy: no raw email, phone or name in the .db-wal file" "$W/values.txt" "$DB-wal"
no_plaintext "privacy: no raw email, phone or name in the stderr logs (-v, text and json)" "$W/values.txt" \
    "$W/run1.err" "$W/run2.err" "$W/import_csv.err" "$W/import_nd.err" "$W/show_p.err"
no_plaintext "privacy: no raw email, phone or name in the outbox or the run/import output" "$W/values.txt" \
    "$OUT" "$W/run1.out" "$W/run2.out" "$W/import_csv.out"
contains "privacy: the rejected row is reported on stderr all the same" "$W/import_csv.err" "people.csv:3:"
exec 7>&-
wait "$HOLDER" 2>/dev/null
end_scenario

# PII nested inside a trait object (Segment allows any JSON in traits).
scenario nested
E9=nested.billing@deepmail.test P9=+15553330000
printf '{"type":"identify","userId":"q-1","timestamp":"2026-11-02T09:00:00Z","traits":{"email":"top.level@deepmail.test","billing":{"email":"%s","phone":"%s"}}}\n' \
    "$E9" "$P9" >"$W/nested.ndjson"
run_nudge nested --db "$W/n.db" --outbox "$W/o.ndjson" run "$SEND" --events "$W/nested.ndjson" --clock event
run_nudge nested_show --db "$W/n.db" profile show q-1
printf '%s\n' "$E9" "$P9" >"$W/values.txt"
no_plaintext "privacy: no raw email or phone in the .db when it is nested in a trait (traits.billing.email)" \
    "$W/values.txt" "$W/n.db"
lacks "privacy: profile show masks an email nested in a trait (traits.billing.email)" \
    "$W/nested_show.out" "$E9" "$P9"
end_scenario

# ==== 2. forget, re-import, re-trigger: suppressed; transactional sent ====

scenario forget
DB="$W/f.db"
OUT="$W/outbox.ndjson"
cat >"$W/run1.ndjson" <<'EOF'
{"type":"identify","anonymousId":"fa-1","userId":"f-1","timestamp":"2026-11-02T09:00:00Z","traits":{"email":"Forget.Me@Gone.test","phone":"+1 555 777 0101","first_name":"Obliviata"}}
{"type":"track","userId":"f-1","event":"Ping","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","userId":"f-1","event":"Trial Started","timestamp":"2026-11-02T10:05:00Z"}
{"type":"track","userId":"k-1","event":"Trial Started","timestamp":"2026-11-02T10:06:00Z"}
EOF
run_nudge run1 --db "$DB" --outbox "$OUT" run "$SEND" "$RECEIPT" "$WAIT" --events "$W/run1.ndjson" --clock event
equals "forget: before: marketing and transactional mail sent, one wait each for f-1 and k-1" \
    "$rc/$(count_msg "$OUT" hello f-1)/$(count_msg "$OUT" receipt f-1)/$(summary "$W/run1.out" journeys_waiting)" "0/1/1/2"
# A second Ping while the outbox cannot be written: two messages stay queued.
printf '{"type":"track","userId":"f-1","event":"Ping","timestamp":"2026-11-02T11:00:00Z"}\n' >"$W/run2.ndjson"
run_nudge run2 --db "$DB" --outbox "$W/no/such/dir/outbox.ndjson" run "$SEND" "$RECEIPT" "$WAIT" \
    --events "$W/run2.ndjson" --clock event
equals "forget: before: two messages of f-1 queued (outbox unwritable)" \
    "$(sqlite3 "$DB" "select count(*) from outbox where profile_id = 'f-1' and status = 'queued'")" 2
run_nudge forget --db "$DB" profile forget forget.me@gone.test
expect_exit "forget: by email (other case) exits 0 and names the profile" 0 "forgot profile f-1" "$W/forget.out"
run_nudge gone --db "$DB" profile export f-1
expect_exit "forget: export of the forgotten id says no profile matches (exit 1)" 1 "no profile matches f-1" "$W/gone.err"
run_nudge gone_email --db "$DB" profile show Forget.Me@Gone.test
expect_exit "forget: lookup by the forgotten email finds nothing (exit 1)" 1 "no profile matches" "$W/gone_email.err"
run_nudge gone_anon --db "$DB" profile show fa-1
expect_exit "forget: the linked anonymous id is unlinked (exit 1)" 1 "no profile matches" "$W/gone_anon.err"
equals "forget: data key, PII, traits, events, identities, history, message log deleted" \
    "$(sqlite3 "$DB" "select (select count(*) from profiles where id = 'f-1' and sealed_key not null) || ' ' ||
        (select count(*) from profiles where id = 'f-1' and pii not null) || ' ' ||
        (select count(*) from profiles where id = 'f-1') || ' ' ||
        (select count(*) from events where profile_id = 'f-1') || ' ' ||
        (select count(*) from identities where profile_id = 'f-1') || ' ' ||
        (select count(*) from history where instance_id in (select id from instances where profile_id = 'f-1')) || ' ' ||
        (select count(*) from message_log where profile_id = 'f-1')" 2>&1)" "0 0 0 0 0 0 0"
equals "forget: the live journey ends with exit_reason 'forgotten'" \
    "$(sqlite3 "$DB" "select state || ' ' || exit_reason from instances where profile_id = 'f-1' and journey = 'profile_wait'")" \
    "3 forgotten"
equals "forget: queued messages become 'cancelled'" \
    "$(sqlite3 "$DB" "select status || ' ' || count(*) from outbox where profile_id = 'f-1' and status <> 'delivered' group by status")" \
    "cancelled 2"
run_nudge tick --db "$DB" --outbox "$OUT" tick "$SEND" "$RECEIPT" "$WAIT" --now 2026-11-05T00:00:00Z
equals "forget: a later tick sends nothing more to f-1 (cancelled, ended) but k-1's wait ends" \
    "$rc/$(grep -c '"profile":"f-1"' "$OUT")/$(count_msg "$OUT" followup k-1)" "0/2/1"

# The same person again: re-imported under a new id, then by phone only.
printf 'id,email,first_name\nf-2,  FORGET.ME@gone.test ,Renata\n' >"$W/again.csv"
run_nudge again --db "$DB" profile import "$W/again.csv"
equals "forget: the person is re-imported under a new id" "$rc/$(cat "$W/again.out")" "0/profiles 1 imported, 0 rejected"
cat >"$W/run3.ndjson" <<'EOF'
{"type":"track","userId":"f-2","event":"Ping","timestamp":"2026-11-06T10:00:00Z"}
{"type":"identify","userId":"f-3","timestamp":"2026-11-06T11:00:00Z","traits":{"phone":"+15557770101"}}
{"type":"track","userId":"f-3","event":"Ping","timestamp":"2026-11-06T12:00:00Z"}
{"type":"track","userId":"k-1","event":"Ping","timestamp":"2026-11-06T12:30:00Z"}
EOF
run_nudge run3 --db "$DB" --outbox "$OUT" run "$SEND" "$RECEIPT" --events "$W/run3.ndjson" --clock event
equals "forget: re-triggered run exits 0" "$rc" 0
equals "forget: no marketing message to the re-imported person (same email, new id)" "$(count_msg "$OUT" hello f-2)" 0
equals "forget: no marketing message to the same phone under a third id" "$(count_msg "$OUT" hello f-3)" 0
equals "forget: transactional mail still sent to both" "$(count_msg "$OUT" receipt f-2)/$(count_msg "$OUT" receipt f-3)" "1/1"
equals "forget: someone else is not suppressed" "$(count_msg "$OUT" hello k-1)" 1
equals "forget: summary counts 2 suppressed (f-2, f-3), 4 delivered (3 receipts, k-1's hello)" \
    "$(summary "$W/run3.out" messages_suppressed)/$(summary "$W/run3.out" messages_delivered)" "2/4"
run_nudge export2 --db "$DB" profile export f-2
equals "forget: export shows the profile suppressed as 'forgotten'" "$(jget "$W/export2.out" '$.suppressed')" forgotten
equals "forget: message log records the send suppressed, reason forgotten" \
    "$(sqlite3 :memory: "select json_extract(value, '\$.outcome') || ' ' || json_extract(value, '\$.reason')
        from json_each(cast(readfile('$W/export2.out') as text), '\$.message_log')
        where json_extract(value, '\$.journey') = 'profile_send'")" "suppressed forgotten"
equals "forget: j:send returned status 'suppressed', reason 'forgotten'; transactional 'queued'" \
    "$(sqlite3 :memory: "select group_concat(json_extract(value, '\$.result'), ' | ')
        from json_each(cast(readfile('$W/export2.out') as text), '\$.journey_history')
        where json_extract(value, '\$.kind') = 'log'")" "send suppressed forgotten | send queued nil"
run_nudge show3 --db "$DB" profile show f-3
contains "forget: profile show of the phone-matched id says suppressed: forgotten" "$W/show3.out" "suppressed: forgotten"
end_scenario

# ==== 3 and 4. merges: anonymous visitor and user both mid-journey ========

scenario merge
DB="$W/m.db"
OUT="$W/outbox.ndjson"
cat >"$W/events.ndjson" <<'EOF'
{"type":"page","anonymousId":"v-1","name":"Pricing","timestamp":"2026-11-01T08:00:00Z"}
{"type":"track","anonymousId":"v-1","event":"Trial Started","timestamp":"2026-11-02T09:00:00Z"}
{"type":"track","userId":"m-1","event":"Trial Started","timestamp":"2026-11-02T10:00:00Z"}
{"type":"identify","anonymousId":"v-1","userId":"m-1","timestamp":"2026-11-02T11:00:00Z","traits":{"plan":"pro"}}
{"type":"track","userId":"m-2","event":"Trial Started","timestamp":"2026-11-02T12:00:00Z"}
{"type":"track","anonymousId":"v-2","event":"Trial Started","timestamp":"2026-11-02T13:00:00Z"}
{"type":"alias","previousId":"v-2","userId":"m-2","timestamp":"2026-11-02T14:00:00Z"}
{"type":"track","anonymousId":"v-1","event":"Ping","timestamp":"2026-11-02T15:00:00Z"}
EOF
run_nudge run --db "$DB" --outbox "$OUT" run "$WAIT" "$SEND" --events "$W/events.ndjson" --clock event
equals "merge: run exits 0" "$rc" 0
run_nudge export --db "$DB" profile export m-1
X="$W/export.out"
equals "merge: identify(anonymousId+userId): the older instance (1, the visitor's) waits on" \
    "$(jget "$X" '$.journeys[0].id') $(jget "$X" '$.journeys[0].journey') $(jget "$X" '$.journeys[0].pending_kind')" \
    "1 profile_wait wait"
equals "merge: the newer instance (2, the user's) ends 'merged into instance 1'" \
    "$(jget "$X" '$.journeys[1].id') $(jget "$X" '$.journeys[1].state') $(jget "$X" '$.journeys[1].exit_reason')" \
    "2 3 merged into instance 1"
equals "merge: recorded in export's merges" \
    "$(sqlite3 :memory: "select group_concat(json_extract(value, '\$.from_id') || '>' || json_extract(value, '\$.into_id') || ': ' || json_extract(value, '\$.detail'), ' | ')
        from json_each(cast(readfile('$X') as text), '\$.merges')")" \
    "v-1>m-1: journey profile_wait: instance 1 kept, 2 ended | v-1>m-1: profile merged"
equals "merge: export holds id, profile, suppressed, linked_ids, merges, events, journeys, journey_history, messages, message_log, consent" \
    "$(sqlite3 :memory: "select group_concat(key, ' ') from json_each(cast(readfile('$X') as text))")" \
    "id profile suppressed linked_ids merges events journeys journey_history messages message_log consent"
run_nudge export2 --db "$DB" profile export m-2
equals "merge: alias: the user's older instance (3) is kept, the visitor's (4) ends 'merged into instance 3'" \
    "$(jget "$W/export2.out" '$.journeys[0].id') $(jget "$W/export2.out" '$.journeys[0].pending_kind') / $(jget "$W/export2.out" '$.journeys[1].id') $(jget "$W/export2.out" '$.journeys[1].exit_reason')" \
    "3 wait / 4 merged into instance 3"
contains "merge: alias recorded in export's merges" "$W/export2.out" '"detail":	"journey profile_wait: instance 3 kept, 4 ended"'
started=$(summary "$W/run.out" journeys_started)
ended=$(($(summary "$W/run.out" journeys_exited) + $(summary "$W/run.out" journeys_completed) + \
    $(summary "$W/run.out" journeys_failed) + $(summary "$W/run.out" journeys_waiting)))
equals "merge: summary line accounts for merged-away instances (started = exited + completed + failed + waiting)" \
    "$started" "$ended"
run_nudge tick --db "$DB" --outbox "$OUT" tick "$WAIT" "$SEND" --now 2026-11-05T00:00:00Z
equals "merge: when the wait ends only one message goes to each merged person" \
    "$rc/$(count_msg "$OUT" followup m-1)/$(count_msg "$OUT" followup m-2)/$(grep -c '"template":"followup"' "$OUT")" "0/1/1/2"
contains "merge: it comes from the kept instance 1, a day after the visitor's start" "$OUT" \
    '"key":"nudge-1-2","at":"2026-11-03T09:00:00.000Z","journey":"profile_wait","profile":"m-1"'
equals "merge: a later event with only the anonymousId routes to the profile" \
    "$(count_msg "$OUT" hello m-1)/$(count_msg "$OUT" hello v-1)" "1/0"
# 4: the visitor's earlier events join the profile
equals "anonymous: events before identify join the profile (5 events in export)" \
    "$(sqlite3 :memory: "select json_array_length(cast(readfile('$X') as text), '\$.events')")" 5
equals "anonymous: first_seen is the visitor's first page view, before identify" \
    "$(jget "$X" '$.profile.first_seen')" "$(epoch 2026-11-01T08:00:00Z)"
equals "anonymous: the visitor's page view counts in the profile's events" \
    "$(jget "$X" '$.profile.events.Pricing.count') $(jget "$X" '$.profile.events."Trial Started".count')" "1 2"
equals "anonymous: the profile lists the linked anonymous id" "$(jget "$X" '$.linked_ids[0].anonymous_id')" v-1
run_nudge show_anon --db "$DB" profile show v-1
contains "anonymous: profile show by the anonymous id finds the profile" "$W/show_anon.out" "profile m-1"
equals "anonymous: a recipe's j:profile() counts the visitor's events too" \
    "$(var "$OUT" hello m-1 first_seen)" "$(epoch 2026-11-01T08:00:00Z)"
end_scenario

# ==== 5. computed traits read by a recipe ==================================

scenario traits
DB="$W/t.db"
OUT="$W/outbox.ndjson"
cat >"$W/events.ndjson" <<'EOF'
{"type":"track","userId":"c-1","event":"Product Viewed","timestamp":"2026-11-01T10:00:00Z"}
{"type":"track","userId":"c-1","event":"Order Completed","timestamp":"2026-11-01T11:00:00Z","properties":{"revenue":19.5}}
{"type":"track","userId":"c-1","event":"Product Viewed","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","userId":"c-1","event":"Product Viewed","timestamp":"2026-11-03T10:00:00Z"}
{"type":"track","userId":"c-1","event":"Order Completed","timestamp":"2026-11-04T11:00:00Z","properties":{"total":30}}
{"type":"track","userId":"c-1","event":"Order Completed","timestamp":"2026-11-05T11:00:00Z","properties":{"revenue":10,"total":12}}
{"type":"identify","userId":"c-1","timestamp":"2026-11-06T11:00:00Z","traits":{"plan":"free"}}
{"type":"identify","userId":"c-1","timestamp":"2026-11-06T12:00:00Z","traits":{"city":"Oslo"}}
{"type":"track","userId":"c-1","event":"Ping","timestamp":"2026-11-15T12:00:00Z"}
{"type":"track","userId":"c-2","event":"Ping","timestamp":"2026-11-15T12:00:00Z"}
EOF
run_nudge run --db "$DB" --outbox "$OUT" run "$SEND" --events "$W/events.ndjson" --clock event
equals "traits: run exits 0, two hellos" "$rc/$(grep -c '"template":"hello"' "$OUT")" "0/2"
equals "traits: order_count and the Order Completed count" \
    "$(var "$OUT" hello c-1 order_count)/$(var "$OUT" hello c-1 orders_counted)" "3/3"
equals "traits: revenue_total sums revenue, else total (19.5 + 30 + 10)" "$(var "$OUT" hello c-1 revenue_total)" 59.5
equals "traits: days_since_last_order under the event clock (Nov 5 11:00 to Nov 15 12:00)" \
    "$(var "$OUT" hello c-1 days_since_last_order)" 10
equals "traits: per-event count and last_at (Product Viewed)" \
    "$(var "$OUT" hello c-1 viewed) $(var "$OUT" hello c-1 viewed_last_at)" "3 $(epoch 2026-11-03T10:00:00Z)"
equals "traits: first_seen and last_seen in Unix seconds" \
    "$(var "$OUT" hello c-1 first_seen) $(var "$OUT" hello c-1 last_seen)" \
    "$(epoch 2026-11-01T10:00:00Z) $(epoch 2026-11-15T12:00:00Z)"
equals "traits: identify merges traits (plan from the first, still there after the second)" \
    "$(var "$OUT" hello c-1 plan)" free
equals "traits: without orders: order_count 0, revenue_total 0, no days_since_last_order" \
    "$(var "$OUT" hello c-2 order_count)/$(var "$OUT" hello c-2 revenue_total)/$(var "$OUT" hello c-2 days_since_last_order)" "0/0/"
printf '{"type":"track","userId":"c-1","event":"Ping","timestamp":"2026-11-20T12:00:00Z"}\n' >"$W/later.ndjson"
run_nudge later --db "$DB" --outbox "$OUT" run "$SEND" --events "$W/later.ndjson" --clock event
msg "$OUT" hello c-1 | tail -n 1 >"$W/line2.json"
equals "traits: computed traits are current at the next trigger (days 15, Ping count 2)" \
    "$(jget "$W/line2.json" '$.vars.days_since_last_order') $(jget "$W/line2.json" '$.vars.last_seen')" \
    "15 $(epoch 2026-11-20T12:00:00Z)"
run_nudge export --db "$DB" profile export c-1
equals "traits: profile export shows the computed traits and merged traits" \
    "$(jget "$W/export.out" '$.profile.order_count') $(jget "$W/export.out" '$.profile.revenue_total') $(jget "$W/export.out" '$.profile.events."Ping".count') $(jget "$W/export.out" '$.profile.plan') $(jget "$W/export.out" '$.profile.city')" \
    "3 59.5 2 free Oslo"
run_nudge show --db "$DB" profile show c-1
if grep -qE '^ +order_count +3$' "$W/show.out" && grep -qE '^ +revenue_total +59.5$' "$W/show.out" &&
    grep -qE '^ +days_since_last_order +[0-9]+$' "$W/show.out"; then
    ok "traits: profile show lists order_count, revenue_total, days_since_last_order"
else
    not_ok "traits: profile show lists order_count, revenue_total, days_since_last_order" "$(cat "$W/show.out")"
fi
end_scenario

# ==== 6. import ============================================================

scenario import
DB="$W/i.db"
# Line 3: too few fields; lines 4-5: one row with a quoted comma and a
# quoted newline; line 6: empty id; line 7: too many fields.
printf '%s\n' 'email,id,first_name,phone,plan' \
    'Ann.Lee@Imp.test,i1,Annabella,+1 (555) 000-0001,gold' \
    'short-row@imp.test,i2' \
    'q.jr@imp.test,i3,"Quillon, Jr",+15550000003,"two' \
    'lines"' \
    'x@imp.test,,Nobody,,free' \
    'bo@imp.test,i5,Boromira,+15550000005,gold,extra' \
    'cy@imp.test,i6,Cyrenne,+15550000006,' >"$W/people.csv"
run_nudge csv --db "$DB" profile import "$W/people.csv"
equals "import: CSV counts" "$rc/$(cat "$W/csv.out")" "0/profiles 3 imported, 3 rejected"
for n in 3 6 7; do
    if grep -qE "people\.csv:$n: .+" "$W/csv.err"; then ok "import: CSV bad row reported as people.csv:$n with a reason"
    else not_ok "import: CSV bad row reported as people.csv:$n with a reason" "$(cat "$W/csv.err")"; fi
done
equals "import: exactly 3 CSV rows reported" "$(grep -c 'people\.csv:[0-9]*:' "$W/csv.err")" 3
run_nudge csv_strict --strict --db "$DB" profile import "$W/people.csv"
equals "import: --strict exits 3 when a row was rejected" "$rc/$(cat "$W/csv_strict.out")" "3/profiles 3 imported, 3 rejected"
printf 'userId,plan\nu-a,silver\n' >"$W/userid.csv"
run_nudge csv_userid --strict --db "$DB" profile import "$W/userid.csv"
equals "import: CSV with a userId column, --strict, nothing rejected: exit 0" "$rc/$(cat "$W/csv_userid.out")" \
    "0/profiles 1 imported, 0 rejected"
printf 'plan,user_id,email\nbronze,u-b,ub@imp.test\n' >"$W/user_id.csv"
run_nudge csv_user_id --db "$DB" profile import "$W/user_id.csv"
run_nudge show_ub --db "$DB" profile show ub@imp.test
equals "import: CSV with a user_id column (not first)" "$rc/$(head -n 1 "$W/show_ub.out")" "0/profile u-b"
run_nudge export_i3 --db "$DB" profile export i3
equals "import: quoted comma and newline kept in CSV fields" \
    "$(jget "$W/export_i3.out" '$.profile.first_name')|$(jget "$W/export_i3.out" '$.profile.plan')" "Quillon, Jr|two
lines"
cat >"$W/people.ndjson" <<'EOF'
{"userId":"n1","traits":{"email":"nd.one@imp.test","first_name":"Ndolora","plan":"gold"}}
{"id":"n2","email":"nd.two@imp.test","plan":"silver"}
not json
{"traits":{"email":"noid@imp.test"}}
{"userId":"n5","traits":"x"}

[1,2]
EOF
run_nudge nd --db "$DB" profile import "$W/people.ndjson"
equals "import: NDJSON counts (traits object and flat rows)" "$rc/$(cat "$W/nd.out")" "0/profiles 2 imported, 4 rejected"
for n in 3 4 5 7; do
    if grep -qE "people\.ndjson:$n: .+" "$W/nd.err"; then ok "import: NDJSON bad line reported as people.ndjson:$n with a reason"
    else not_ok "import: NDJSON bad line reported as people.ndjson:$n with a reason" "$(cat "$W/nd.err")"; fi
done
run_nudge nd_strict --strict --db "$DB" profile import "$W/people.ndjson"
equals "import: NDJSON --strict exits 3" "$rc" 3
run_nudge show_n2 --db "$DB" profile show nd.two@imp.test
equals "import: flat NDJSON row found by its email" "$(head -n 1 "$W/show_n2.out")" "profile n2"
contains "import: flat NDJSON row keeps its other traits" "$W/show_n2.out" '"silver"'
run_nudge by_email --db "$DB" profile show ann.lee@imp.TEST
equals "import: profile show by email (any case)" "$rc/$(head -n 1 "$W/by_email.out")" "0/profile i1"
contains "import: profile show keeps imported plain traits" "$W/by_email.out" '"gold"'
contains "import: profile show masks the imported first name" "$W/by_email.out" '"A***"'
lacks "import: profile show prints no raw imported PII" "$W/by_email.out" Annabella Ann.Lee@Imp.test 5550000001
run_nudge by_phone --db "$DB" profile show +15550000001
equals "import: profile show by phone (E.164 of a formatted number)" "$rc/$(head -n 1 "$W/by_phone.out")" "0/profile i1"
run_nudge by_phone2 --db "$DB" profile show "+1 555-000-0006"
equals "import: profile show by phone (formatted lookup)" "$rc/$(head -n 1 "$W/by_phone2.out")" "0/profile i6"
run_nudge unknown_email --db "$DB" profile show nobody@imp.test
expect_exit "import: unknown email: exit 1, no profile matches" 1 "no profile matches" "$W/unknown_email.err"
run_nudge unknown_id --db "$DB" profile export nope-42
expect_exit "import: unknown id: exit 1, no profile matches nope-42" 1 "no profile matches nope-42" "$W/unknown_id.err"
printf 'id,tier\ni1,vip\n' >"$W/more.csv"
run_nudge more --db "$DB" profile import "$W/more.csv"
run_nudge export_i1 --db "$DB" profile export i1
equals "import: a second import merges traits (plan kept, tier added, email kept)" \
    "$(jget "$W/export_i1.out" '$.profile.plan') $(jget "$W/export_i1.out" '$.profile.tier') $(jget "$W/export_i1.out" '$.profile.email')" \
    "gold vip Ann.Lee@Imp.test"
awk 'BEGIN { print "id,email,phone,first_name,plan"
    for (i = 1; i <= 20000; i++) printf "b%05d,person%05d@bulk.test,+1555%07d,Name%05d,gold\n", i, i, i, i }' >"$W/big.csv"
run_nudge big --db "$W/big.db" profile import "$W/big.csv"
equals "import: a 20,000-row CSV" "$rc/$(cat "$W/big.out")" "0/profiles 20000 imported, 0 rejected"
run_nudge big_email --db "$W/big.db" profile show person19999@bulk.test
run_nudge big_phone --db "$W/big.db" profile show +15550012345
equals "import: rows of the big import found by email and by phone" \
    "$(head -n 1 "$W/big_email.out") / $(head -n 1 "$W/big_phone.out")" "profile b19999 / profile b12345"
end_scenario

# ==== 7. keygen, rotation, wrong and missing keys ==========================

scenario keys
mkdir "$W/a" "$W/b" "$W/cwd" "$W/other"
printf '{"type":"identify","userId":"k-1","timestamp":"2026-11-02T09:00:00Z","traits":{"email":"key.holder@keys.test"}}\n' >"$W/ev.ndjson"
(cd "$W/cwd" && "$NUDGE" -v --db "$W/a/a.db" --outbox "$W/a/out.ndjson" run "$SEND" --events "$W/ev.ndjson" \
    --clock event >"$W/first.out" 2>"$W/first.err")
equals "keys: first run without a key file exits 0" "$?" 0
equals "keys: it creates nudge.key beside the database, mode 600 (not in the working folder)" \
    "$(stat -c %a "$W/a/nudge.key" 2>&1) $(find "$W/cwd" -mindepth 1 | wc -l)" "600 0"
contains "keys: it says so (info message with -v)" "$W/first.err" "created key file $W/a/nudge.key"
run_nudge keygen --db "$W/b/b.db" keygen
equals "keys: nudge keygen writes the key file, mode 600" \
    "$rc $(stat -c %a "$W/b/nudge.key" 2>&1)" "0 600"
cp -p "$W/b/nudge.key" "$W/b/first.key"
run_nudge keygen2 --db "$W/b/b.db" keygen
expect_exit "keys: nudge keygen refuses to overwrite (exit 1)" 1 "exists" "$W/keygen2.err"
equals "keys: the key file is unchanged" "$(cmp -s "$W/b/nudge.key" "$W/b/first.key" && echo same)" same
printf 'id,email,phone,first_name\nr-1,Rota.Tion@keys.test,+15556660001,Rotavia\n' >"$W/rot.csv"
run_nudge import --db "$W/b/b.db" profile import "$W/rot.csv"
equals "keys: the generated key is used (import exits 0)" "$rc" 0
cp -p "$W/b/nudge.key" "$W/b/old.key"
run_nudge rotate --db "$W/b/b.db" keygen --rotate
if [ "$rc" -eq 0 ] && grep -qE "^key rotated: .*nudge\.key now holds key [0-9a-f]+ \(was [0-9a-f]+\)$" "$W/rotate.out"; then
    ok "keys: keygen --rotate exits 0 and reports the new and old key ids"
else
    not_ok "keys: keygen --rotate exits 0 and reports the new and old key ids" "exit $rc: $(cat "$W/rotate.out" "$W/rotate.err")"
fi
new_id=$(sed -n 's/.* now holds key \([0-9a-f]*\) (was \([0-9a-f]*\))$/\1/p' "$W/rotate.out")
old_id=$(sed -n 's/.* now holds key \([0-9a-f]*\) (was \([0-9a-f]*\))$/\2/p' "$W/rotate.out")
if [ -n "$new_id" ] && [ "$new_id" != "$old_id" ] && ! cmp -s "$W/b/nudge.key" "$W/b/old.key"; then
    ok "keys: the key file now holds a different key"
else
    not_ok "keys: the key file now holds a different key" "new '$new_id' old '$old_id'"
fi
equals "keys: the rotated key file is mode 600, no .new left behind" \
    "$(stat -c %a "$W/b/nudge.key") $(find "$W/b" -name '*.new' | wc -l)" "600 0"
run_nudge after --db "$W/b/b.db" profile export r-1
equals "keys: after rotation the data decrypts with the new key file" \
    "$rc $(jget "$W/after.out" '$.profile.email') $(jget "$W/after.out" '$.profile.first_name')" \
    "0 Rota.Tion@keys.test Rotavia"
run_nudge after_lookup --db "$W/b/b.db" profile show rota.tion@keys.test
equals "keys: after rotation lookups by email still work" "$rc/$(head -n 1 "$W/after_lookup.out")" "0/profile r-1"
printf '{"type":"track","userId":"r-1","event":"Ping","timestamp":"2026-11-03T09:00:00Z"}\n' >"$W/ping.ndjson"
run_nudge after_run --db "$W/b/b.db" --outbox "$W/b/out.ndjson" run "$SEND" --events "$W/ping.ndjson" --clock event
equals "keys: after rotation a run works" "$rc/$(count_msg "$W/b/out.ndjson" hello r-1)" "0/1"
printf 'return { key_file = "%s" }\n' "$W/b/old.key" >"$W/old.conf.lua"
run_nudge old --config "$W/old.conf.lua" --db "$W/b/b.db" profile export r-1
expect_exit "keys: a copy of the old key file no longer opens the database (error names it)" 1 "old\.key" "$W/old.err"
lacks "keys: nothing decrypted with the old key" "$W/old.out" Rota.Tion@keys.test
contains "keys: the old key file holds the key rotate reported as replaced" "$W/old.err" "key $old_id "
run_nudge keygen_other --db "$W/other/o.db" keygen
printf 'return { key_file = "%s" }\n' "$W/other/nudge.key" >"$W/other.conf.lua"
run_nudge wrong --config "$W/other.conf.lua" --db "$W/b/b.db" profile show r-1
expect_exit "keys: another database's key file: exit 1, error names the key file" 1 "other/nudge\.key" "$W/wrong.err"
run_nudge wrong_run --config "$W/other.conf.lua" --db "$W/b/b.db" --outbox "$W/b/out.ndjson" run "$SEND" \
    --events "$W/ping.ndjson" --clock event
expect_exit "keys: run with a wrong key file: exit 1" 1 "other/nudge\.key" "$W/wrong_run.err"
mv "$W/b/nudge.key" "$W/b/away.key"
events_before=$(sqlite3 "$W/b/b.db" "select count(*) from events")
run_nudge missing --db "$W/b/b.db" profile show r-1
expect_exit "keys: missing key file: exit 1, says to restore it" 1 "restore the key file" "$W/missing.err"
printf '{"type":"track","userId":"r-1","event":"Ping","timestamp":"2026-11-04T09:00:00Z"}\n' >"$W/ping2.ndjson"
run_nudge missing_run --db "$W/b/b.db" --outbox "$W/b/out.ndjson" run "$SEND" --events "$W/ping2.ndjson" --clock event
expect_exit "keys: run with the key file missing: exit 1, says to restore it" 1 "restore the key file" "$W/missing_run.err"
equals "keys: no new key file was made, no event taken in" \
    "$([ -e "$W/b/nudge.key" ] && echo made || echo none) $(sqlite3 "$W/b/b.db" "select count(*) from events")" \
    "none $events_before"
mv "$W/b/away.key" "$W/b/nudge.key"
chmod 644 "$W/b/nudge.key"
run_nudge loose --db "$W/b/b.db" profile show r-1
expect_exit "keys: a key file others can read is refused (exit 1)" 1 "chmod 600" "$W/loose.err"
chmod 600 "$W/b/nudge.key"
run_nudge restored --db "$W/b/b.db" profile show r-1
equals "keys: with the key file restored it works again" "$rc/$(head -n 1 "$W/restored.out")" "0/profile r-1"
end_scenario

# ==== 8. pii.expose ========================================================

scenario expose
cat >"$W/events.ndjson" <<'EOF'
{"type":"identify","userId":"x-1","timestamp":"2026-11-02T09:00:00Z","traits":{"first_name":"Philomena","last_name":"Exposito","email":"philomena@expose.test"}}
{"type":"track","userId":"x-1","event":"Ping","timestamp":"2026-11-02T10:00:00Z"}
EOF
run_nudge exposed --config "$D/profile_expose.conf.lua" --db "$W/e.db" --outbox "$W/e.ndjson" run "$SEND" \
    --events "$W/events.ndjson" --clock event
equals "expose: pii.expose = {\"first_name\"}: the recipe sees first_name in the clear" \
    "$rc $(var "$W/e.ndjson" hello x-1 first_name)" "0 Philomena"
equals "expose: other PII stays masked for the recipe (email)" "$(var "$W/e.ndjson" hello x-1 email)" "p***@expose.test"
run_nudge exposed_show --config "$D/profile_expose.conf.lua" --db "$W/e.db" profile show x-1
lacks "expose: stored traits still hold the mask (profile show)" "$W/exposed_show.out" Philomena Exposito
run_nudge exposed_where --config "$D/profile_expose.conf.lua" --db "$W/w.db" --outbox "$W/w.ndjson" \
    run "$R/profile_where.lua" --events "$W/events.ndjson" --clock event
equals "expose: trigger.where's profile sees the exposed first_name too (as j:profile() does)" \
    "$rc/$(count_msg "$W/w.ndjson" welcome_by_name x-1)" "0/1"
run_nudge masked --db "$W/m.db" --outbox "$W/m.ndjson" run "$SEND" --events "$W/events.ndjson" --clock event
equals "expose: without pii.expose the recipe sees the mask" "$rc $(var "$W/m.ndjson" hello x-1 first_name)" "0 P***"
end_scenario

# ==== 9. pii.blind =========================================================

scenario blind
cat >"$W/blind.lua" <<'LUA'
-- Sends the blind indexes pii.blind computes, for the checks below.
local pii = require "nudge.pii"
return journey {
  name = "blind",
  trigger = { event = "Ping" },
  run = function(j)
    local bad, why = pii.blind("not a phone")
    j:send("email", "hello", {
      a = pii.blind(" Jane@Example.COM "), b = pii.blind("jane@example.com"),
      phone = pii.blind("+1 (555) 123-4567"), bad = bad == nil and why ~= nil,
    })
  end,
}
LUA
echo '{"type":"track","userId":"b-1","event":"Ping","timestamp":"2026-11-02T10:00:00Z"}' >"$W/events.ndjson"
run_nudge blind1 --db "$W/one.db" --outbox "$W/one.ndjson" run "$W/blind.lua" --events "$W/events.ndjson" --clock event
a=$(var "$W/one.ndjson" hello b-1 a)
equals "blind: pii.blind normalizes the email (same index for ' Jane@Example.COM ')" \
    "$rc $a" "0 $(var "$W/one.ndjson" hello b-1 b)"
equals "blind: a 64-hex keyed digest, not the plain SHA-256" \
    "$(printf '%s' "$a" | grep -c '^[0-9a-f]\{64\}$')/$(printf '%s' 'jane@example.com' | sha256sum | cut -c1-64 | grep -c "$a")" "1/0"
equals "blind: a value that cannot be normalized gives nil and a message" "$(var "$W/one.ndjson" hello b-1 bad)" 1
run_nudge blind2 --db "$W/two.db" --outbox "$W/two.ndjson" run "$W/blind.lua" --events "$W/events.ndjson" --clock event
if [ -n "$a" ] && [ "$a" != "$(var "$W/two.ndjson" hello b-1 a)" ]; then
    ok "blind: another database (another key) gives another index"
else
    not_ok "blind: another database (another key) gives another index" "same or empty"
fi
end_scenario
