#!/bin/sh
# The consent ledger end to end (SPEC §5, §8): an identify `consent` trait
# and a "Consent Updated" event set it, j:consented reads it, `nudge
# consent set/show` write and print it, the opt_out regime, the
# transactional rule, profile export, merge and forget, and usage errors.
# Each scenario runs in its own folder, removed at its end.
. "$(dirname "$0")/lib.sh"

RECIPE="$ROOT/tests/recipes/consent_check.lua"


# run_events NAME: runs the recipe over $W/NAME.ndjson on the event clock.
run_events() {
    run_nudge "$1" --db "$DB" --outbox "$OUT" ${CONF:+--config "$CONF"} run "$RECIPE" \
        --events "$W/$1.ndjson" --clock event
}

# jget FILE PATH: the value at PATH (SQLite JSON path) of the JSON in FILE.
jget() {
    sqlite3 :memory: "select json_extract(cast(readfile('$1') as text), '$2')" 2>&1
}

# said PROFILE N: "sms email receipt" as j:consented answered them in the
# PROFILE's Nth journey (1 yes, 0 no), read from the journey history.
said() {
    sqlite3 "$DB" "select json_extract(h.result, '\$') from history h
        join instances i on i.id = h.instance_id
        where i.profile_id = '$1' and h.kind = 'log' order by i.id limit 1 offset $2 - 1"
}

# ledger PROFILE: the profile's records as "channel/purpose/status/source" lines joined by " | ".
ledger() {
    sqlite3 "$DB" "select group_concat(channel || '/' || purpose || '/' || status || '/' || source, ' | ')
        from (select * from consent where profile_id = '$1' order by at_ms, id)"
}

# ev USER TIME ID identify TRAITS | ev USER TIME ID EVENT [PROPERTIES]
ev() {
    case $4 in
    identify) printf '{"type":"identify","userId":"%s","timestamp":"%s","messageId":"%s","traits":%s}\n' \
        "$1" "$2" "$3" "$5" ;;
    *) printf '{"type":"track","userId":"%s","timestamp":"%s","messageId":"%s","event":"%s","properties":%s}\n' \
        "$1" "$2" "$3" "$4" "${5:-{\}}" ;;
    esac
}

scenario() {
    W="$TMP/$1"
    mkdir "$W"
    DB="$W/c.db" OUT="$W/outbox.ndjson" CONF=""
}
end_scenario() { rm -rf "$W"; }

# ==== 1. events set the ledger; j:consented reads it =======================

scenario events
{
    ev c1 2026-11-02T09:00:00Z i-1 identify '{"plan":"pro","consent":{"sms":true,"email":{"marketing":true,"transactional":true}}}'
    ev c2 2026-11-02T09:00:00Z i-2 identify '{"plan":"free"}'
    ev c1 2026-11-02T09:30:00Z i-3 identify '{"consent":{"sms":true}}'
    ev c1 2026-11-02T10:00:00Z p-1 Ping
    ev c2 2026-11-02T10:00:00Z p-2 Ping
    ev c1 2026-11-02T11:00:00Z cu-1 "Consent Updated" '{"channel":"sms","status":"revoked","proof":"replied STOP"}'
    ev c1 2026-11-02T11:05:00Z cu-bad "Consent Updated" '{"channel":"sms","status":"maybe"}'
    ev c2 2026-11-02T11:10:00Z cu-2 "Consent Updated" '{"channel":"email","granted":true}'
    ev c1 2026-11-02T12:00:00Z p-3 Ping
    ev c2 2026-11-02T12:00:00Z p-4 Ping
} >"$W/run1.ndjson"
run_events run1
equals "events: run exits 0" "$rc" 0
equals "events: identify consent = { sms = true, email = {...} }: j:consented sms, email, receipt" \
    "$(said c1 1)" "1 1 1"
equals "events: no record under opt_in: sms and email no, transactional email yes" \
    "$(said c2 1)" "0 0 1"
equals "events: \"Consent Updated\" status revoked: sms no longer consented" "$(said c1 2)" "0 1 1"
equals "events: \"Consent Updated\" granted = true: email consented" "$(said c2 2)" "0 1 1"
equals "events: the ledger holds each change once (a repeated identify adds nothing)" \
    "$(ledger c1)" \
    "sms/marketing/granted/identify | email/marketing/granted/identify | email/transactional/granted/identify | sms/marketing/revoked/event"
contains "events: a bad \"Consent Updated\" is a warning naming its messageId and the field" \
    "$W/run1.err" "event cu-bad (Consent Updated): property status"
equals "events: ... and records nothing" \
    "$(sqlite3 "$DB" "select count(*) from consent where at_ms = $(date -u -d 2026-11-02T11:05:00Z +%s)000")" 0
equals "events: proof and the event's time are kept" \
    "$(sqlite3 "$DB" "select proof || ' ' || at_ms from consent where source = 'event' and profile_id = 'c1'")" \
    "replied STOP $(date -u -d 2026-11-02T11:00:00Z +%s)000"

# The same file again: every event is a duplicate, the ledger does not grow.
before=$(sqlite3 "$DB" "select count(*) from consent")
run_events run1
equals "events: re-running the same events records nothing new" \
    "$rc/$(sqlite3 "$DB" "select count(*) from consent")" "0/$before"

# ==== 2. nudge consent set / show ===========================================

run_nudge set1 --db "$DB" consent set c2 sms granted --source support --proof "paper form #12"
equals "cli: consent set exits 0 and says it was recorded" \
    "$rc/$(cat "$W/set1.out")" "0/consent of profile c2 for sms (marketing): granted, recorded"
run_nudge set2 --db "$DB" consent set c2 sms granted
equals "cli: the same status again records nothing" \
    "$rc/$(cat "$W/set2.out")" "0/consent of profile c2 for sms (marketing): already granted; nothing recorded"
run_nudge set3 --db "$DB" consent set c1 email revoked --purpose transactional
equals "cli: --purpose transactional" "$rc/$(sqlite3 "$DB" "select status || ' ' || source from consent
    where profile_id = 'c1' and purpose = 'transactional' order by id desc limit 1")" "0/revoked cli"
# An older identify arriving after the CLI's grant does not undo it.
ev c2 2026-11-02T13:00:00Z i-4 identify '{"consent":{"sms":false}}' >"$W/run2.ndjson"
ev c1 2026-11-02T13:00:00Z p-5 Ping >>"$W/run2.ndjson"
ev c2 2026-11-02T13:00:00Z p-6 Ping >>"$W/run2.ndjson"
run_events run2
equals "cli: the CLI's grant is in force for the next run" "$(said c2 3)" "1 1 1"
equals "cli: the CLI's transactional revocation stops transactional email" "$(said c1 3)" "0 1 0"
equals "cli: the older identify's revocation joins the history (latest time wins)" \
    "$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'c2' and source = 'identify'")" 1

run_nudge show1 --db "$DB" consent show c1
equals "cli: consent show exits 0" "$rc" 0
contains "cli: show prints time, channel, purpose, status, source and proof" "$W/show1.out" \
    "2026-11-02T11:00:00.000Z  sms        marketing     revoked  event      replied STOP"
contains "cli: show prints the identify's grant" "$W/show1.out" \
    "2026-11-02T09:00:00.000Z  sms        marketing     granted  identify   -"
equals "cli: show lists every record, oldest first" \
    "$(grep -c '^  20' "$W/show1.out")/$(grep '^  20' "$W/show1.out" | tail -n 1 | cut -c 3-12)" \
    "5/$(date -u +%Y-%m-%d)"
printf '{"type":"identify","userId":"c9","messageId":"i-9","timestamp":"2026-11-02T09:00:00Z","traits":{"email":"Nine@Consent.test","phone":"+1 555 300 0909"}}\n' >"$W/run3.ndjson"
run_events run3
run_nudge set_email --db "$DB" consent set nine@consent.test email granted
equals "cli: ID may be an email (found through the blind index)" \
    "$rc/$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'c9'")" "0/1"
run_nudge show_phone --db "$DB" consent show +15553000909
contains "cli: ID may be a phone number" "$W/show_phone.out" "consent of profile c9"
run_nudge show_c2 --db "$DB" consent show c2
contains "cli: show of the CLI's record carries its source and proof" "$W/show_c2.out" \
    "sms        marketing     granted  support    paper form #12"

# ==== 3. usage errors =======================================================

run_nudge u1 --db "$DB" consent set c1 sms maybe
equals "usage: a bad status exits 2 naming it" "$rc/$(grep -c "granted or revoked, not 'maybe'" "$W/u1.err")" "2/1"
run_nudge u2 --db "$DB" consent set c1 SMS granted
equals "usage: a bad channel exits 2 naming it" "$rc/$(grep -c "channel 'SMS'" "$W/u2.err")" "2/1"
run_nudge u3 --db "$DB" consent set c1 sms granted --purpose promo
equals "usage: a bad purpose exits 2 naming it" "$rc/$(grep -c "purpose 'promo'" "$W/u3.err")" "2/1"
run_nudge u4 --db "$DB" consent set c1 sms
equals "usage: a missing status exits 2" "$rc/$(grep -c "set takes ID CHANNEL" "$W/u4.err")" "2/1"
run_nudge u5 --db "$DB" consent show
equals "usage: show without an ID exits 2" "$rc/$(grep -c "show takes one ID" "$W/u5.err")" "2/1"
run_nudge u6 --db "$DB" consent forget c1
equals "usage: an unknown subcommand exits 2" "$rc/$(grep -c "unknown subcommand 'forget'" "$W/u6.err")" "2/1"
run_nudge u7 --db "$DB" consent set nobody sms granted
equals "usage: an unknown person exits 1" "$rc/$(grep -c "no profile matches nobody" "$W/u7.err")" "1/1"
run_nudge u8 --db "$DB" consent set c1 sms granted --source ""
equals "usage: an empty --source exits 2" "$rc" 2
run_nudge u9 --db "$DB" consent set c1 sms granted --now yesterday
equals "usage: a bad --now exits 2" "$rc" 2
equals "usage: nothing was recorded by the refused commands" \
    "$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'c1'")" 5

# ==== 4. export ==============================================================

run_nudge export --db "$DB" profile export c1
X="$W/export.out"
equals "export: profile export exits 0 with the consent history" \
    "$rc/$(sqlite3 :memory: "select json_array_length(cast(readfile('$X') as text), '\$.consent')")" "0/5"
equals "export: each record has channel, purpose, status, at_ms, source and proof" \
    "$(jget "$X" '$.consent[3].channel') $(jget "$X" '$.consent[3].purpose') $(jget "$X" '$.consent[3].status') $(jget "$X" '$.consent[3].source') $(jget "$X" '$.consent[3].proof') $(jget "$X" '$.consent[3].at_ms')" \
    "sms marketing revoked event replied STOP $(date -u -d 2026-11-02T11:00:00Z +%s)000"
equals "export: the consent trait is still merged into the profile's traits" \
    "$(jget "$X" '$.profile.consent.sms')" 1
end_scenario

# ==== 5. the opt_out regime ==================================================

scenario opt_out
printf 'return { consent_default = "opt_out" }\n' >"$W/optout.conf.lua"
CONF="$W/optout.conf.lua"
{
    ev o1 2026-11-02T09:00:00Z i-1 identify '{"plan":"pro"}'
    ev o2 2026-11-02T09:00:00Z i-2 identify '{"consent":{"sms":false}}'
    ev o1 2026-11-02T10:00:00Z p-1 Ping
    ev o2 2026-11-02T10:00:00Z p-2 Ping
    ev o1 2026-11-02T11:00:00Z cu-1 "Consent Updated" '{"channel":"email","status":"revoked"}'
    ev o1 2026-11-02T12:00:00Z p-3 Ping
    ev o3 2026-11-02T12:00:00Z i-3 identify '{"plan":"free"}'
} >"$W/run1.ndjson"
run_events run1
equals "opt_out: run exits 0" "$rc" 0
equals "opt_out: no record means yes" "$(said o1 1)" "1 1 1"
equals "opt_out: an identify's consent.sms = false means no" "$(said o2 1)" "0 1 1"
equals "opt_out: a \"Consent Updated\" revocation means no" "$(said o1 2)" "1 0 1"
run_nudge show --config "$CONF" --db "$DB" consent show o3
contains "opt_out: show of a person without records names the regime" \
    "$W/show.out" "no records: the default applies (opt_out; transactional: granted)"
# The regime is read when a journey asks, not stored: under opt_in (no
# config) the same person without an sms record is not consented.
CONF=""
ev o1 2026-11-02T13:00:00Z p-4 Ping >"$W/run2.ndjson"
run_events run2
equals "opt_in (the default) on the same database: no record means no again" "$(said o1 3)" "0 0 1"
end_scenario

# ==== 6. merge and forget ====================================================

scenario people
cat >"$W/run1.ndjson" <<'EOF'
{"type":"identify","anonymousId":"anon-1","messageId":"i-1","timestamp":"2026-11-02T09:00:00Z","traits":{"consent":{"sms":true}}}
{"type":"identify","anonymousId":"anon-1","userId":"m1","messageId":"i-2","timestamp":"2026-11-02T09:30:00Z","traits":{"plan":"pro"}}
{"type":"track","userId":"m1","messageId":"p-1","event":"Ping","timestamp":"2026-11-02T10:00:00Z"}
EOF
run_events run1
equals "merge: the anonymous visitor's consent follows them to the profile" \
    "$(said m1 1)/$(ledger m1)/$(ledger anon-1)" "1 0 1/sms/marketing/granted/identify/"
printf '{"userId":"m2","traits":{"plan":"pro","consent":{"sms":true,"email":{"transactional":false}}}}\n' >"$W/people.ndjson"
run_nudge import --db "$DB" profile import "$W/people.ndjson"
equals "import: an NDJSON profile's consent trait is recorded, source import" \
    "$rc/$(ledger m2)" "0/sms/marketing/granted/import | email/transactional/revoked/import"
run_nudge import2 --db "$DB" profile import "$W/people.ndjson"
equals "import: importing the same file again records nothing new" \
    "$rc/$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'm2'")" "0/2"
run_nudge forget --db "$DB" profile forget m1
run_nudge forget2 --db "$DB" profile forget m2
equals "forget: the person's consent records are erased" \
    "$rc/$(sqlite3 "$DB" "select count(*) from consent")" "0/0"
end_scenario
