#!/bin/sh
# The guardrails on every j:send, end to end (SPEC §5, §8): consent per
# channel and purpose under opt_in and opt_out, checked again at delivery;
# frequency caps over rolling windows; quiet hours in the person's zone,
# across DST, deferring rather than dropping; the suppression list of
# forgotten people; and `nudge explain`.  The real binary with each
# scenario's own config (not NUDGE_OPEN), event-clock runs over real
# SQLite files; each scenario runs in its own folder, removed at its end.
. "$(dirname "$0")/lib.sh"

R="$ROOT/tests/recipes"
SEND="$R/guard_send.lua"       # marketing: "Send" {channel, template}
RECEIPT="$R/guard_receipt.lua" # transactional: "Receipt" {channel, template}


# messages FILE: "delivered/suppressed/deferred" from the summary line in FILE.
messages() {
    echo "$(summary "$1" messages_delivered)/$(summary "$1" messages_suppressed)/$(summary "$1" messages_deferred)"
}


# run_events NAME RECIPE...: runs the recipes over $W/NAME.ndjson on the
# event clock with the scenario's $CONF, $DB and $OUT.
run_events() {
    ev_name=$1; shift
    run_nudge "$ev_name" --config "$CONF" --db "$DB" --outbox "$OUT" run "$@" \
        --events "$W/$ev_name.ndjson" --clock event
}

# ev USER TIME EVENT [PROPERTIES [CONTEXT]]: a track line with a fresh messageId.
SEQ=0
ev() {
    SEQ=$((SEQ + 1))
    printf '{"type":"track","userId":"%s","timestamp":"%s","messageId":"g-%d","event":"%s","properties":%s,"context":%s}\n' \
        "$1" "$2" "$SEQ" "$3" "${4:-{\}}" "${5:-{\}}"
}
# identify USER TIME TRAITS
identify() {
    SEQ=$((SEQ + 1))
    printf '{"type":"identify","userId":"%s","timestamp":"%s","messageId":"g-%d","traits":%s}\n' \
        "$1" "$2" "$SEQ" "$3"
}
# send USER TIME CHANNEL TEMPLATE [CONTEXT]: guard_send.lua sends at once.
send() { ev "$1" "$2" Send "{\"channel\":\"$3\",\"template\":\"$4\"}" "${5:-{\}}"; }
# receipt USER TIME CHANNEL TEMPLATE: guard_receipt.lua sends at once.
receipt() { ev "$1" "$2" Receipt "{\"channel\":\"$3\",\"template\":\"$4\"}"; }
# consent_event USER TIME PROPERTIES: a "Consent Updated" track.
consent_event() { ev "$1" "$2" "Consent Updated" "$3"; }

# said PROFILE TEMPLATE: what j:send returned for that message ("status
# reason", "-" for none), from the journey's history.
said() {
    sqlite3 "$DB" "select json_extract(h.result, '\$') from history h
        where h.kind = 'log' and h.instance_id = (select instance_id from message_log
        where profile_id = '$1' and template = '$2' order by id limit 1)"
}

# logged PROFILE TEMPLATE [N]: the Nth (default first) message-log row of
# that message as "outcome reason detail" ("-" for none).
logged() {
    sqlite3 -separator ' ' "$DB" "select outcome, coalesce(reason, '-'), coalesce(detail, '-')
        from message_log where profile_id = '$1' and template = '$2'
        order by id limit 1 offset ${3:-1} - 1"
}

# status PROFILE TEMPLATE: the message's status in the outbox table.
status() {
    sqlite3 "$DB" "select group_concat(status) from outbox where profile_id = '$1' and template = '$2'"
}

# sent PROFILE TEMPLATE: how many lines of that message the outbox file holds.
sent() {
    grep -F "\"profile\":\"$1\"" "$OUT" 2>/dev/null | grep -cF "\"template\":\"$2\""
}

# story PROFILE TEMPLATE: "said | logged | sent" in one line.
story() { echo "$(said "$1" "$2") | $(logged "$1" "$2") | $(sent "$1" "$2")"; }

# in_order NAME FILE PATTERN...: each fixed-string PATTERN is on a line of
# FILE after the previous one's.
in_order() {
    name=$1 file=$2; shift 2
    last=0
    for p in "$@"; do
        n=$(grep -nF -- "$p" "$file" | cut -d: -f1 | awk -v after="$last" '$1 > after { print; exit }')
        if [ -z "$n" ]; then
            not_ok "$name" "'$p' not after line $last in: $(cat "$file")"
            return
        fi
        last=$n
    done
    ok "$name"
}

# scenario NAME: a fresh folder W with DB, OUT and CONF (write it) in it.
scenario() {
    W="$TMP/$1"
    mkdir "$W"
    DB="$W/g.db" OUT="$W/outbox.ndjson" CONF="$W/nudge.conf.lua"
}
end_scenario() { rm -rf "$W"; }

# ==== 1. consent at queue time =============================================

scenario consent
echo 'return {}' >"$CONF" # the defaults: opt_in, SMS quiet 21:00-09:00 UTC
{
    send n1 2026-05-04T12:00:00Z sms c_none_sms
    send n1 2026-05-04T12:01:00Z email c_none_email
    receipt n1 2026-05-04T12:02:00Z sms c_receipt
    identify g1 2026-05-04T11:00:00Z '{"consent":{"sms":true}}'
    send g1 2026-05-04T12:00:00Z sms c_granted_sms
    send g1 2026-05-04T12:01:00Z email c_granted_email
    consent_event g2 2026-05-04T11:00:00Z '{"channel":"email","status":"granted"}'
    send g2 2026-05-04T12:00:00Z email c_event_email
    identify v1 2026-05-04T10:00:00Z '{"consent":{"sms":true}}'
    consent_event v1 2026-05-04T11:00:00Z '{"channel":"sms","status":"revoked","proof":"replied STOP"}'
    send v1 2026-05-04T12:00:00Z sms c_revoked_sms
    identify v2 2026-05-04T10:00:00Z '{"consent":{"sms":true}}'
    consent_event v2 2026-05-04T11:00:00Z '{"channel":"sms","granted":false}'
    send v2 2026-05-04T12:00:00Z sms c_revoked_bool
    consent_event t1 2026-05-04T11:00:00Z '{"channel":"sms","status":"revoked","purpose":"transactional"}'
    receipt t1 2026-05-04T12:00:00Z sms c_receipt_revoked
    ev h1 2026-05-04T12:00:00Z Held
} >"$W/run1.ndjson"
run_events run1 "$SEND" "$RECEIPT" "$R/guard_holdout.lua"
equals "consent: run exits 0" "$rc" 0
equals "consent: opt_in, no record: marketing sms suppressed (no_consent), not sent" \
    "$(story n1 c_none_sms)" "suppressed no_consent | suppressed no_consent marketing | 0"
equals "consent: opt_in, no record: marketing email suppressed too" \
    "$(logged n1 c_none_email)/$(sent n1 c_none_email)" "suppressed no_consent marketing/0"
equals "consent: opt_in, no record: transactional sms queued and sent" \
    "$(story n1 c_receipt)" "queued - | queued - - | 1"
equals "consent: identify consent = { sms = true }: marketing sms sent" \
    "$(story g1 c_granted_sms)" "queued - | queued - - | 1"
equals "consent: ... per channel: their marketing email is still suppressed" \
    "$(said g1 c_granted_email)/$(sent g1 c_granted_email)" "suppressed no_consent/0"
equals "consent: \"Consent Updated\" status granted: marketing email sent" \
    "$(said g2 c_event_email)/$(sent g2 c_event_email)" "queued -/1"
equals "consent: \"Consent Updated\" status revoked: the later sms suppressed" \
    "$(story v1 c_revoked_sms)" "suppressed no_consent | suppressed no_consent marketing | 0"
equals "consent: \"Consent Updated\" granted = false: the later sms suppressed" \
    "$(said v2 c_revoked_bool)/$(sent v2 c_revoked_bool)" "suppressed no_consent/0"
equals "consent: a transactional revocation stops transactional sms" \
    "$(said t1 c_receipt_revoked)/$(sent t1 c_receipt_revoked)" "suppressed no_consent/0"
equals "consent: holdout comes first: no record, yet j:send says holdout; nothing queued" \
    "$(story h1 held)/$(status h1 held)" "holdout holdout | holdout holdout control group | 0/"
equals "consent: summary: 3 delivered, 6 suppressed, 0 deferred, 1 holdout" \
    "$(messages "$W/run1.out")/$(summary "$W/run1.out" messages_holdout)" "3/6/0/1"

run_nudge set1 --db "$DB" --config "$CONF" consent set n1 sms granted --now 2026-05-05T00:00:00Z
rc1=$rc
run_nudge set2 --db "$DB" --config "$CONF" consent set g1 sms revoked --now 2026-05-05T00:00:00Z
equals "consent: nudge consent set granted / revoked exit 0" "$rc1/$rc" 0/0
{
    send n1 2026-05-05T12:00:00Z sms c_cli_granted
    send g1 2026-05-05T12:00:00Z sms c_cli_revoked
    send v1 2026-05-05T12:00:00Z sms c_still_revoked
} >"$W/run2.ndjson"
run_events run2 "$SEND" "$RECEIPT"
equals "consent: after nudge consent set granted: marketing sms sent" \
    "$(said n1 c_cli_granted)/$(sent n1 c_cli_granted)" "queued -/1"
equals "consent: after nudge consent set revoked: marketing sms suppressed" \
    "$(said g1 c_cli_revoked)/$(sent g1 c_cli_revoked)" "suppressed no_consent/0"
equals "consent: a revocation holds for sends in later runs" \
    "$(said v1 c_still_revoked)/$(sent v1 c_still_revoked)" "suppressed no_consent/0"

echo 'return { consent_default = "opt_out" }' >"$CONF"
{
    send o1 2026-05-06T12:00:00Z sms c_opt_out
    send v1 2026-05-06T12:00:00Z sms c_opt_out_revoked
} >"$W/run3.ndjson"
run_events run3 "$SEND" "$RECEIPT"
equals "consent: opt_out config: marketing sms sent without a record" \
    "$(story o1 c_opt_out)" "queued - | queued - - | 1"
equals "consent: opt_out config: an explicit revocation still suppresses" \
    "$(said v1 c_opt_out_revoked)/$(sent v1 c_opt_out_revoked)" "suppressed no_consent/0"
end_scenario

# ==== 2. consent and suppression checked again at delivery =================

scenario delivery
echo 'return { quiet_hours = { sms = false } }' >"$CONF" # opt_in
{
    identify r1 2026-05-04T10:00:00Z '{"consent":{"sms":true,"email":true}}'
    identify r2 2026-05-04T10:00:00Z '{"consent":{"sms":true,"email":true}}'
    send r1 2026-05-04T10:01:00Z sms d_revoked
    receipt r1 2026-05-04T10:01:00Z sms d_receipt_kept
    send r2 2026-05-04T10:01:00Z sms d_control
    receipt r3 2026-05-04T10:01:00Z sms d_receipt_revoked
    consent_event r1 2026-05-04T10:02:00Z '{"channel":"sms","status":"revoked"}'
    consent_event r2 2026-05-04T10:02:00Z '{"channel":"email","status":"revoked"}'
    consent_event r3 2026-05-04T10:02:00Z '{"channel":"sms","status":"revoked","purpose":"transactional"}'
} >"$W/run1.ndjson"
run_events run1 "$SEND" "$RECEIPT"
equals "delivery: run exits 0" "$rc" 0
equals "delivery: the send was queued when the journey ran (j:send said queued)" \
    "$(said r1 d_revoked)/$(logged r1 d_revoked 1)" "queued -/queued - -"
equals "delivery: sms revoked later in the same input: not in the outbox file" \
    "$(sent r1 d_revoked)" 0
equals "delivery: message_log: suppressed, no_consent, checked again at delivery" \
    "$(logged r1 d_revoked 2)" "suppressed no_consent checked again at delivery"
equals "delivery: the outbox row is marked suppressed" "$(status r1 d_revoked)" suppressed
equals "delivery: control: revoking email does not stop the queued sms" \
    "$(sent r2 d_control)/$(status r2 d_control)" "1/delivered"
equals "delivery: a marketing revocation does not stop a transactional sms" \
    "$(sent r1 d_receipt_kept)" 1
equals "delivery: a transactional revocation stops a queued transactional sms" \
    "$(sent r3 d_receipt_revoked)/$(logged r3 d_receipt_revoked 2)" \
    "0/suppressed no_consent checked again at delivery"
equals "delivery: summary counts the stopped ones as suppressed (2 delivered, 2 suppressed)" \
    "$(messages "$W/run1.out")" "2/2/0"

# A message deferred by quiet hours, whose person revokes before it is due.
echo 'return {}' >"$CONF" # opt_in, SMS quiet 21:00-09:00 UTC
{
    identify r4 2026-05-05T20:00:00Z '{"consent":{"sms":true}}'
    identify r5 2026-05-05T20:00:00Z '{"consent":{"sms":true}}'
    send r4 2026-05-05T22:00:00Z sms d_deferred_revoked
    send r5 2026-05-05T22:00:00Z sms d_deferred_kept
} >"$W/run2.ndjson"
run_events run2 "$SEND"
equals "delivery: two sms deferred by quiet hours" \
    "$(status r4 d_deferred_revoked)/$(status r5 d_deferred_kept)" "deferred/deferred"
run_nudge revoke --db "$DB" --config "$CONF" consent set r4 sms revoked --now 2026-05-05T23:00:00Z
ev r9 2026-05-06T10:00:00Z Ping >"$W/run3.ndjson"
run_events run3 "$SEND"
equals "delivery: a deferred sms whose consent was revoked meanwhile is not sent when due" \
    "$(sent r4 d_deferred_revoked)/$(status r4 d_deferred_revoked)/$(logged r4 d_deferred_revoked 2)" \
    "0/suppressed/suppressed no_consent checked again at delivery"
equals "delivery: the other deferred sms is sent when due" \
    "$(sent r5 d_deferred_kept)/$(status r5 d_deferred_kept)" "1/delivered"
equals "delivery: summary of the run that released them: 1 delivered, 1 suppressed" \
    "$(messages "$W/run3.out")" "1/1/0"
end_scenario

# ==== 3. frequency caps ====================================================

scenario caps
cat >"$CONF" <<'EOF'
return {
  consent_default = "opt_out",
  caps = { sms = { 1, "24h" }, all = { 3, "7d" }, whatsapp = { 0, "1h" } },
}
EOF
{
    send k1 2026-05-04T10:00:00.000Z sms k_first
    send k1 2026-05-04T11:00:00Z sms k_second
    send k1 2026-05-04T11:30:00Z email k_email
    send k1 2026-05-04T11:40:00Z whatsapp k_zero
    send k2 2026-05-04T22:00:00Z sms k_deferred
    send k2 2026-05-04T23:00:00Z sms k_after_deferred
} >"$W/run1.ndjson"
run_events run1 "$SEND" "$RECEIPT"
equals "caps: run exits 0" "$rc" 0
equals "caps: the first sms goes" "$(story k1 k_first)" "queued - | queued - - | 1"
equals "caps: the second sms within 24h is capped: j:send result, message_log 'sms 1/24h', not sent" \
    "$(story k1 k_second)" "capped capped | capped capped sms 1/24h | 0"
equals "caps: an sms cap does not cap email" "$(said k1 k_email)/$(sent k1 k_email)" "queued -/1"
equals "caps: a count of 0 blocks the channel" "$(logged k1 k_zero)" "capped capped whatsapp 0/1h"
equals "caps: a deferred sms counts against the cap" \
    "$(logged k2 k_deferred)|$(logged k2 k_after_deferred)" \
    "deferred quiet_hours 2026-05-05T09:00:00.000Z|capped capped sms 1/24h"
equals "caps: summary counts capped as suppressed (2 delivered, 3 suppressed, 1 deferred)" \
    "$(messages "$W/run1.out")" "2/3/1"
{
    send k1 2026-05-05T09:59:59.999Z sms k_before
    send k1 2026-05-05T10:00:00.000Z sms k_exact
    send k1 2026-05-05T10:00:01Z push k_all
    send k1 2026-05-05T10:00:02Z sms k_both
    receipt k1 2026-05-05T10:00:03Z sms k_receipt
} >"$W/run2.ndjson"
run_events run2 "$SEND" "$RECEIPT"
equals "caps: 1 ms before 24h have passed (next run): still capped" \
    "$(said k1 k_before)/$(logged k1 k_before)" "capped capped/capped capped sms 1/24h"
equals "caps: exactly 24h after the first sms (to the ms): allowed" \
    "$(story k1 k_exact)" "queued - | queued - - | 1"
equals "caps: the all cap counts across channels (2 sms + 1 email: push capped, 'all 3/7d')" \
    "$(said k1 k_all)/$(logged k1 k_all)/$(sent k1 k_all)" "capped capped/capped capped all 3/7d/0"
equals "caps: both caps reached: the channel's own cap is reported" \
    "$(logged k1 k_both)" "capped capped sms 1/24h"
equals "caps: a transactional sms skips the caps" \
    "$(story k1 k_receipt)" "queued - | queued - - | 1"
equals "caps: the deferred sms went out in the next run" "$(sent k2 k_deferred)" 1
equals "caps: summary of run 2 (3 delivered, 3 suppressed)" "$(messages "$W/run2.out")" "3/3/0"
end_scenario

# ==== 4. quiet hours =======================================================

scenario quiet
# Default quiet hours (SMS 21:00-09:00); config zone Berlin for people
# without a zone of their own.
printf 'return { consent_default = "opt_out", timezone = "Europe/Berlin" }\n' >"$CONF"
KOL='{"timezone":"Asia/Kolkata"}'
# In time order: the event clock never goes back, so an event older than
# one before it would run at the later time.
{
    identify ny 2026-06-01T00:00:00Z '{"timezone":"America/New_York"}'
    identify mars 2026-06-01T00:00:00Z '{"timezone":"Mars/Olympus"}'
    identify both 2026-06-01T00:00:00Z '{"timezone":"America/New_York"}'
    send kol 2026-06-15T15:29:59Z sms q_kol_2059 "$KOL"
    send both 2026-06-15T15:30:00Z sms q_trait_wins "$KOL"
    send kol 2026-06-15T15:30:00Z sms q_kol_2100 "$KOL"
    send mars 2026-06-15T19:00:00Z sms q_bad_zone
    send ny 2026-06-16T00:59:59Z sms q_2059
    send ny 2026-06-16T01:00:00Z sms q_2100
    send ny 2026-06-16T01:00:00Z email q_email
    send ny 2026-06-16T12:59:59Z sms q_0859
} >"$W/run1.ndjson"
run_events run1 "$SEND"
equals "quiet: run exits 0" "$rc" 0
equals "quiet: New York, 20:59:59 local: sms goes" "$(story ny q_2059)" "queued - | queued - - | 1"
equals "quiet: New York, 21:00:00 local: deferred until 09:00 EDT (13:00Z)" \
    "$(story ny q_2100)" "deferred quiet_hours | deferred quiet_hours 2026-06-16T13:00:00.000Z | 0"
equals "quiet: 08:59:59 local: deferred one second, to 09:00:00" \
    "$(logged ny q_0859)" "deferred quiet_hours 2026-06-16T13:00:00.000Z"
equals "quiet: email has no quiet hours by default" "$(said ny q_email)/$(sent ny q_email)" "queued -/1"
equals "quiet: the deferred sms wait in the outbox with status deferred" \
    "$(status ny q_2100)/$(status ny q_0859)" "deferred/deferred"
equals "quiet: summary counts the 4 deferred sms (New York 2, Kolkata, Berlin)" \
    "$(summary "$W/run1.out" messages_deferred)" 4
equals "quiet: zone from the event's context.timezone (Kolkata): 20:59:59 IST goes" \
    "$(said kol q_kol_2059)" "queued -"
equals "quiet: Kolkata (+05:30) 21:00 IST deferred to 09:00 IST = 03:30Z" \
    "$(logged kol q_kol_2100)" "deferred quiet_hours 2026-06-16T03:30:00.000Z"
equals "quiet: the timezone trait wins over context.timezone (11:30 in New York)" \
    "$(said both q_trait_wins)" "queued -"
equals "quiet: an unknown zone trait falls back to the config's zone (Berlin 21:00 CEST)" \
    "$(logged mars q_bad_zone)" "deferred quiet_hours 2026-06-16T07:00:00.000Z"
ev x 2026-06-16T12:59:59.999Z Ping >"$W/run2.ndjson"
run_events run2 "$SEND"
equals "quiet: a later run whose clock stops 1 ms before 09:00 local delivers nothing" \
    "$(sent ny q_2100)$(sent ny q_0859)/$(status ny q_2100)" "00/deferred"
send ny 2026-06-16T13:00:00Z sms q_0900 >"$W/run3.ndjson"
run_events run3 "$SEND"
equals "quiet: 09:00:00 local (the window's end) is outside: sms goes" "$(said ny q_0900)/$(sent ny q_0900)" "queued -/1"
equals "quiet: once the clock reaches 09:00 local the deferred sms are delivered" \
    "$(sent ny q_2100)$(sent ny q_0859)/$(status ny q_2100)/$(status ny q_0859)" "11/delivered/delivered"
equals "quiet: summary of that run: 3 delivered" "$(summary "$W/run3.out" messages_delivered)" 3
end_scenario

scenario quiet_dst
printf 'return { consent_default = "opt_out", timezone = "Europe/Berlin" }\n' >"$CONF"
{
    identify ny 2026-01-01T00:00:00Z '{"timezone":"America/New_York"}'
    send ny 2026-03-08T02:00:00Z sms dst_ny_spring
    send ny 2026-03-08T07:30:00Z sms dst_ny_spring_after
    send ny 2026-03-08T12:59:59Z sms dst_ny_spring_0859
    send ny 2026-03-08T13:00:00Z sms dst_ny_spring_0900
    send ber 2026-03-28T20:00:00Z sms dst_ber_spring
    send ber 2026-10-24T19:00:00Z sms dst_ber_fall
    send ny 2026-11-01T01:00:00Z sms dst_ny_fall
    send ny 2026-11-01T13:30:00Z sms dst_ny_fall_0830
} >"$W/run1.ndjson"
run_events run1 "$SEND"
equals "dst: run exits 0" "$rc" 0
equals "dst: New York spring forward (2026-03-08): 21:00 EST deferred to 09:00 EDT = 13:00Z" \
    "$(logged ny dst_ny_spring)" "deferred quiet_hours 2026-03-08T13:00:00.000Z"
equals "dst: New York spring forward: 03:30 EDT (after the jump) deferred to 13:00Z" \
    "$(logged ny dst_ny_spring_after)" "deferred quiet_hours 2026-03-08T13:00:00.000Z"
equals "dst: New York spring forward: 08:59:59 EDT deferred 1 s; 09:00:00 EDT goes" \
    "$(logged ny dst_ny_spring_0859)|$(said ny dst_ny_spring_0900)" \
    "deferred quiet_hours 2026-03-08T13:00:00.000Z|queued -"
equals "dst: Berlin spring forward (2026-03-29): 21:00 CET deferred to 09:00 CEST = 07:00Z" \
    "$(logged ber dst_ber_spring)" "deferred quiet_hours 2026-03-29T07:00:00.000Z"
equals "dst: Berlin fall back (2026-10-25): 21:00 CEST deferred to 09:00 CET = 08:00Z" \
    "$(logged ber dst_ber_fall)" "deferred quiet_hours 2026-10-25T08:00:00.000Z"
equals "dst: New York fall back (2026-11-01): 21:00 EDT deferred to 09:00 EST = 14:00Z" \
    "$(logged ny dst_ny_fall)" "deferred quiet_hours 2026-11-01T14:00:00.000Z"
equals "dst: New York fall back: 08:30 EST (13:30Z) still quiet, deferred to 14:00Z" \
    "$(logged ny dst_ny_fall_0830)" "deferred quiet_hours 2026-11-01T14:00:00.000Z"
end_scenario

scenario quiet_config
cat >"$CONF" <<'EOF'
return {
  consent_default = "opt_out",
  quiet_hours = { sms = { "01:00", "02:30" }, push = { "01:00", "01:30" } },
}
EOF
{
    identify ny 2026-01-01T00:00:00Z '{"timezone":"America/New_York"}'
    send ny 2026-03-08T06:30:00Z sms cfg_gap
    send ny 2026-03-08T07:00:00Z sms cfg_gap_end
    send ny 2026-11-01T05:10:00Z push cfg_first_pass
    send ny 2026-11-01T05:45:00Z push cfg_between
    send ny 2026-11-01T06:10:00Z push cfg_second_pass
} >"$W/run1.ndjson"
run_events run1 "$SEND"
equals "quiet config: a window ending in the skipped hour (01:00-02:30, 2026-03-08 New York) ends at the jump, 03:00 EDT = 07:00Z" \
    "$(logged ny cfg_gap)" "deferred quiet_hours 2026-03-08T07:00:00.000Z"
equals "quiet config: at the jump itself (07:00Z) the sms goes" "$(said ny cfg_gap_end)" "queued -"
equals "quiet config: fall-back night, 01:00-01:30: the first 01:10 EDT is deferred to the first 01:30 (05:30Z)" \
    "$(logged ny cfg_first_pass)" "deferred quiet_hours 2026-11-01T05:30:00.000Z"
equals "quiet config: 01:45 EDT (between the two passes) goes" "$(said ny cfg_between)" "queued -"
equals "quiet config: the second 01:10 (EST) is quiet again, deferred to 01:30 EST (06:30Z)" \
    "$(logged ny cfg_second_pass)" "deferred quiet_hours 2026-11-01T06:30:00.000Z"
printf 'return { consent_default = "opt_out", quiet_hours = { sms = false } }\n' >"$CONF"
send ny 2026-11-02T02:00:00Z sms cfg_off >"$W/run2.ndjson"
run_events run2 "$SEND"
equals "quiet config: quiet_hours = { sms = false }: an sms at 21:00 local goes" \
    "$(said ny cfg_off)/$(sent ny cfg_off)" "queued -/1"
end_scenario

# ==== 5. nudge explain =====================================================

scenario explain
printf 'return { caps = { email = { 1, "24h" } } }\n' >"$CONF" # opt_in, SMS quiet 21-09 UTC
{
    identify x 2026-05-04T20:00:00Z '{"consent":{"email":true,"sms":true}}'
    ev x 2026-05-04T22:00:00Z Story
    send x 2026-05-06T12:00:00Z email x_other
    identify y 2026-05-06T11:00:00Z '{"consent":{"email":true,"sms":true}}'
    ev y 2026-05-06T12:00:00Z Two
    consent_event y 2026-05-06T12:10:00Z '{"channel":"sms","status":"revoked"}'
} >"$W/run1.ndjson"
run_events run1 "$R/guard_story.lua" "$SEND" "$R/guard_two.lua"
ev y 2026-05-06T14:00:00Z Ping >"$W/run2.ndjson"
run_events run2 "$R/guard_story.lua" "$SEND" "$R/guard_two.lua"
run_nudge x --config "$CONF" --db "$DB" explain x
equals "explain: exits 0" "$rc" 0
in_order "explain: the journey entered, then a suppressed, a queued, a capped and a deferred send, in order" \
    "$W/x.out" "guard_story" "2026-05-04T22:00:00.000Z  entered" \
    "j:send push story_push: suppressed (no_consent" \
    "j:send email story_email1: queued" \
    "j:send email story_email2: capped (capped: email 1/24h)" \
    "j:send sms story_sms: deferred (quiet_hours: 2026-05-05T09:00:00.000Z)"
contains "explain: the other journey is shown too" "$W/x.out" "j:send email x_other: queued"
run_nudge x_story --config "$CONF" --db "$DB" explain x guard_story
if [ "$rc" -eq 0 ] && grep -qF story_sms "$W/x_story.out" && ! grep -qF x_other "$W/x_story.out"; then
    ok "explain: explain PROFILE JOURNEY shows only that journey"
else
    not_ok "explain: explain PROFILE JOURNEY shows only that journey" "exit $rc: $(cat "$W/x_story.out")"
fi
run_nudge x_send --config "$CONF" --db "$DB" explain x guard_send
if [ "$rc" -eq 0 ] && grep -qF x_other "$W/x_send.out" && ! grep -qF story_ "$W/x_send.out"; then
    ok "explain: ... and the other way round"
else
    not_ok "explain: ... and the other way round" "exit $rc: $(cat "$W/x_send.out")"
fi
run_nudge nobody --config "$CONF" --db "$DB" explain nobody
if [ "$rc" -eq 1 ] && grep -qF "no profile matches nobody" "$W/nobody.err"; then
    ok "explain: an unknown profile exits 1 naming it"
else
    not_ok "explain: an unknown profile exits 1 naming it" "exit $rc: $(cat "$W/nobody.err")"
fi
# y: an sms queued, then stopped at delivery (consent revoked in the same
# input), then an hour later (next run) an email queued.
equals "explain: (setup) y's sms stopped at delivery, the email queued an hour later" \
    "$(logged y two_sms 2)|$(logged y two_email)" \
    "suppressed no_consent checked again at delivery|queued - -"
run_nudge y --config "$CONF" --db "$DB" explain y
if grep -qF "j:send sms two_sms: queued" "$W/y.out" && grep -qF "j:send email two_email: queued" "$W/y.out"; then
    ok "explain: each j:send shown with its own outcome (sms stopped at delivery, then an email)"
else
    not_ok "explain: each j:send shown with its own outcome (sms stopped at delivery, then an email)" \
        "$(grep -F 'j:send' "$W/y.out" | tr -s ' ' | tr '\n' ';')"
fi
end_scenario

# ==== 6. the suppression list: forgotten people ============================

scenario forget
echo 'return { consent_default = "opt_out", quiet_hours = { sms = false } }' >"$CONF"
{
    identify f1 2026-05-04T09:00:00Z '{"email":"Forget.Me@guard.test","phone":"+15557770001"}'
    identify keep 2026-05-04T09:00:00Z '{"email":"keep.me@guard.test"}'
    send f1 2026-05-04T10:00:00Z email f_before
} >"$W/run1.ndjson"
run_events run1 "$SEND" "$RECEIPT"
equals "forget: before forget, marketing email goes" "$(sent f1 f_before)" 1
run_nudge forget --config "$CONF" --db "$DB" profile forget f1
equals "forget: nudge profile forget exits 0" "$rc" 0
cat >"$W/people.ndjson" <<'EOF'
{"userId":"f2","traits":{"email":"forget.me@GUARD.test"}}
{"userId":"f3","traits":{"phone":"+1 (555) 777-0001"}}
{"userId":"f1","traits":{"email":"Forget.Me@guard.test"}}
EOF
run_nudge import --config "$CONF" --db "$DB" profile import "$W/people.ndjson"
equals "forget: re-import with the same email and phone" "$rc/$(cat "$W/import.out")" \
    "0/profiles 3 imported, 0 rejected"
{
    send f2 2026-05-05T10:00:00Z email f_marketing
    receipt f2 2026-05-05T10:00:01Z email f_receipt
    send f3 2026-05-05T10:00:02Z sms f_phone
    send f1 2026-05-05T10:00:03Z email f_same_id
    send keep 2026-05-05T10:00:04Z email f_control
} >"$W/run2.ndjson"
run_events run2 "$SEND" "$RECEIPT"
equals "forget: same email under a new id: marketing suppressed (forgotten), not sent" \
    "$(story f2 f_marketing)" "suppressed forgotten | suppressed forgotten - | 0"
equals "forget: ... but the transactional email goes" \
    "$(story f2 f_receipt)" "queued - | queued - - | 1"
equals "forget: same phone (formatted otherwise): marketing sms suppressed (forgotten)" \
    "$(said f3 f_phone)/$(sent f3 f_phone)" "suppressed forgotten/0"
equals "forget: the same id re-imported: marketing suppressed (forgotten)" \
    "$(said f1 f_same_id)/$(sent f1 f_same_id)" "suppressed forgotten/0"
equals "forget: another person is not affected" "$(sent keep f_control)" 1
run_nudge explain_f2 --config "$CONF" --db "$DB" explain f2
contains "forget: explain shows the suppressed send with its reason" "$W/explain_f2.out" \
    "j:send email f_marketing: suppressed (forgotten)"
contains "forget: explain says the person is on the suppression list" "$W/explain_f2.out" \
    "suppressed: forgotten"
end_scenario

# ==== per-journey caps: journey{ caps = ... } counts that journey only =====

scenario journey_caps
printf 'return { consent_default = "opt_out" }\n' >"$CONF"
{
    ev jc 2026-05-04T10:00:00Z Nudge '{"template":"jc_first"}'
    send jc 2026-05-04T10:30:00Z email jc_other_journey
    ev jc 2026-05-05T10:00:00Z Nudge '{"template":"jc_second"}'
    ev jc 2026-05-07T10:00:00Z Nudge '{"template":"jc_third"}'
} >"$W/run1.ndjson"
run_events run1 "$R/guard_journey_cap.lua" "$SEND"
equals "journey caps: the journey's first email goes" "$(logged jc jc_first)" "queued - -"
equals "journey caps: another journey's email is not counted against it" \
    "$(logged jc jc_other_journey)" "queued - -"
equals "journey caps: its second email within 3 days is capped, naming the journey's cap" \
    "$(logged jc jc_second)" "capped capped guard_journey_cap: email 1/3d"
equals "journey caps: 3 days after its first email, one goes again" "$(logged jc jc_third)" "queued - -"
printf 'return journey { name = "bad_caps", trigger = { event = "X" },\n  caps = { email = { "one", "3d" } },\n  run = function(j) end }\n' >"$W/bad_caps.lua"
run_nudge bad_caps --config "$CONF" --db "$DB" check "$W/bad_caps.lua"
if [ "$rc" -eq 2 ] && grep -qF "bad_caps.lua: key 'caps.email'" "$W/bad_caps.err"; then
    ok "journey caps: a bad cap in a recipe is a recipe error naming the file and key (exit 2)"
else
    not_ok "journey caps: a bad cap in a recipe is a recipe error naming the file and key (exit 2)" \
        "rc=$rc $(cat "$W/bad_caps.err")"
fi
end_scenario

# ==== manual suppression entries: nudge suppress ==========================

scenario manual
printf 'return { consent_default = "opt_out" }\n' >"$CONF"
printf '%s\n' '{"type":"identify","userId":"ms","messageId":"ms-id","timestamp":"2026-05-04T09:00:00Z","traits":{"email":"Manual.Stop@Example.test","phone":"+1 555 010 9999"}}' >"$W/id.ndjson"
run_nudge ms_id --config "$CONF" --db "$DB" --outbox "$OUT" run --events "$W/id.ndjson" --clock event
run_nudge add --config "$CONF" --db "$DB" suppress add " manual.stop@example.test " --reason complaint
equals "suppress: add by email (any case, padded) exits 0" "$rc $(cat "$W/add.out")" "0 suppressed (complaint)"
run_nudge show --config "$CONF" --db "$DB" suppress show manual.stop@example.test
equals "suppress: show gives the reason" "$(cat "$W/show.out")" "complaint"
send ms 2026-05-04T10:00:00Z email ms_after_add >"$W/run1.ndjson"
run_events run1 "$SEND"
equals "suppress: a marketing send to a manually suppressed person is suppressed with the reason" \
    "$(logged ms ms_after_add)" "suppressed complaint -"
receipt ms 2026-05-04T10:05:00Z email ms_receipt >"$W/run2.ndjson"
run_events run2 "$RECEIPT"
equals "suppress: a manual entry stops transactional mail too" "$(logged ms ms_receipt)" \
    "suppressed complaint -"
run_nudge rm --config "$CONF" --db "$DB" suppress remove MANUAL.STOP@example.test
equals "suppress: remove exits 0" "$rc $(cat "$W/rm.out")" "0 removed"
send ms 2026-05-04T11:00:00Z email ms_after_remove >"$W/run3.ndjson"
run_events run3 "$SEND"
equals "suppress: after remove, marketing goes again" "$(logged ms ms_after_remove)" "queued - -"
run_nudge addphone --config "$CONF" --db "$DB" suppress add "+15550109999"
send ms 2026-05-04T12:00:00Z sms ms_sms >"$W/run4.ndjson"
run_events run4 "$SEND"
equals "suppress: by phone in another format (reason manual)" "$(logged ms ms_sms)" \
    "suppressed manual -"
run_nudge bad --config "$CONF" --db "$DB" suppress add "not a phone"
equals "suppress: a value that is neither email nor phone is a usage error (exit 2)" "$rc" 2
if strings "$DB" "$DB-wal" 2>/dev/null | grep -qiF "manual.stop"; then
    not_ok "suppress: the database holds no plaintext of the suppressed address" "found"
else
    ok "suppress: the database holds no plaintext of the suppressed address"
fi
end_scenario
