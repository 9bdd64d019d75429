#!/bin/sh
# One-click unsubscribe end to end (SPEC §5): `nudge unsubscribe --make`
# prints a signed token, `nudge unsubscribe TOKEN` records the revocation
# (source "unsubscribe") that `nudge consent show` lists and that stops a
# journey's later marketing email; tampered tokens, another database's
# tokens and forgotten people are refused; tokens survive `nudge keygen
# --rotate`.  The real binary with each scenario's own config.
. "$(dirname "$0")/lib.sh"

SEND="$ROOT/tests/recipes/guard_send.lua" # marketing: "Send" {channel, template}

# ev USER TIME EVENT [PROPERTIES]: a track line with a fresh messageId.
SEQ=0
ev() {
    SEQ=$((SEQ + 1))
    printf '{"type":"track","userId":"%s","timestamp":"%s","messageId":"u-%d","event":"%s","properties":%s}\n' \
        "$1" "$2" "$SEQ" "$3" "${4:-{\}}"
}
# identify USER TIME TRAITS [ANONYMOUS_ID]: USER "" for an anonymous visitor.
identify() {
    SEQ=$((SEQ + 1))
    ids=""
    [ -n "$1" ] && ids="\"userId\":\"$1\","
    [ -n "${4:-}" ] && ids="$ids\"anonymousId\":\"$4\","
    printf '{"type":"identify",%s"timestamp":"%s","messageId":"u-%d","traits":%s}\n' \
        "$ids" "$2" "$SEQ" "$3"
}
send_email() { ev "$1" "$2" Send "{\"channel\":\"email\",\"template\":\"$3\"}"; }

# said PROFILE TEMPLATE: what j:send returned ("status reason").
said() {
    sqlite3 "$DB" "select json_extract(h.result, '\$') from history h
        where h.kind = 'log' and h.instance_id = (select instance_id from message_log
        where profile_id = '$1' and template = '$2' order by id limit 1)"
}

# ledger PROFILE: "channel/purpose/status/source" of each record, oldest first.
ledger() {
    sqlite3 "$DB" "select group_concat(channel || '/' || purpose || '/' || status || '/' || source, ' | ')
        from (select * from consent where profile_id = '$1' order by at_ms, id)"
}

run_events() {
    run_nudge "$1" --config "$CONF" --db "$DB" --outbox "$W/outbox.ndjson" run "$SEND" \
        --events "$W/$1.ndjson" --clock event
}

# make NAME ID CHANNEL [OPTIONS...]: a token for ID, in $token (and $rc).
make_token() {
    mk_name=$1; shift
    run_nudge "$mk_name" --config "$CONF" --db "$DB" unsubscribe --make "$@"
    token=$(cat "$W/$mk_name.out")
}

# flip TOKEN: the token with its 20th character changed (still base64url).
flip() {
    c=$(printf '%s' "$1" | cut -c 20)
    if [ "$c" = A ]; then n=B; else n=A; fi
    printf '%s%s%s' "$(printf '%s' "$1" | cut -c 1-19)" "$n" "$(printf '%s' "$1" | cut -c 21-)"
}

scenario() {
    W="$TMP/$1"
    mkdir "$W"
    DB="$W/u.db" CONF="$W/nudge.conf.lua"
    echo 'return {}' >"$CONF" # opt_in: no record, no marketing email
}
end_scenario() { rm -rf "$W"; }

# ==== 1. make, apply, show, suppress ========================================

scenario apply
{
    identify u1 2026-05-04T10:00:00Z '{"email":"Jane.Unsub@example.com","consent":{"email":true}}'
    send_email u1 2026-05-04T11:00:00Z before
} >"$W/run1.ndjson"
run_events run1
equals "setup: the marketing email before unsubscribing is queued" "$(said u1 before)" "queued -"
equals "key: no unsubscribe key before the first token" \
    "$(sqlite3 "$DB" "select count(*) from secrets where name = 'unsubscribe'")" 0
make_token make1 u1 email --now 2026-05-04T11:30:00Z
equals "make: exits 0 with one base64url token" \
    "$rc/$(printf '%s' "$token" | tr -d 'A-Za-z0-9_-' | wc -c)/$(wc -l <"$W/make1.out")" "0/0/1"
equals "key: made on first use, sealed in secrets" \
    "$(sqlite3 "$DB" "select count(*) from secrets where name = 'unsubscribe'")" 1
make_token make2 jane.unsub@example.com email --now 2026-05-04T11:30:00Z
equals "make: ID may be an email; the token names the profile (same token)" \
    "$rc/$token" "0/$(cat "$W/make1.out")"
TOKEN=$token

run_nudge apply1 --config "$CONF" --db "$DB" unsubscribe "$TOKEN"
equals "apply: exits 0 and says what it did" "$rc/$(cat "$W/apply1.out")" \
    "0/unsubscribed profile u1 from email (marketing): revoked, recorded (token issued 2026-05-04T11:30:00.000Z)"
equals "apply: the ledger holds the revocation, source unsubscribe" "$(ledger u1)" \
    "email/marketing/granted/identify | email/marketing/revoked/unsubscribe"
run_nudge show --config "$CONF" --db "$DB" consent show u1
contains "apply: consent show lists it with its proof" "$W/show.out" \
    "email      marketing     revoked  unsubscribe token issued 2026-05-04T11:30:00.000Z"
run_nudge apply2 --config "$CONF" --db "$DB" unsubscribe "$TOKEN"
equals "apply: the same token again exits 0 and records nothing" \
    "$rc/$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'u1'")/$(grep -c 'already revoked; nothing recorded' "$W/apply2.out")" \
    "0/2/1"

send_email u1 2026-05-04T12:00:00Z after >"$W/run2.ndjson"
run_events run2
equals "suppress: a journey's later marketing email is suppressed no_consent" \
    "$(said u1 after)" "suppressed no_consent"
equals "suppress: it is not in the outbox file" \
    "$(grep -c '"template":"after"' "$W/outbox.ndjson")" 0

make_token make3 u1 email --purpose transactional
run_nudge apply3 --config "$CONF" --db "$DB" unsubscribe "$token"
equals "purpose: a transactional token revokes transactional email" \
    "$rc/$(sqlite3 "$DB" "select status || ' ' || source from consent where purpose = 'transactional'")" \
    "0/revoked unsubscribe"

# ==== 2. refused tokens ======================================================

before=$(sqlite3 "$DB" "select count(*) from consent")
BAD=$(flip "$TOKEN")
run_nudge tamper --config "$CONF" --db "$DB" unsubscribe "$BAD"
equals "tamper: a changed character exits 2 with the reason" \
    "$rc/$(grep -c 'signature does not match' "$W/tamper.err")" "2/1"
equals "tamper: the reason repeats neither the token nor the person" \
    "$(grep -cF -e "$BAD" -e u1 -e jane -e Jane "$W/tamper.err")" 0
run_nudge cut --config "$CONF" --db "$DB" unsubscribe "$(printf '%s' "$TOKEN" | cut -c 1-30)"
equals "tamper: a truncated token exits 2" "$rc" 2
run_nudge garbage --config "$CONF" --db "$DB" unsubscribe "not+a/token="
equals "tamper: standard base64 exits 2 (not a token)" \
    "$rc/$(grep -c 'not a token' "$W/garbage.err")" "2/1"
run_nudge empty --config "$CONF" --db "$DB" unsubscribe ""
equals "tamper: an empty token exits 2" "$rc/$(grep -c 'empty token' "$W/empty.err")" "2/1"
run_nudge huge --config "$CONF" --db "$DB" unsubscribe "$(printf '%0600d' 0)"
equals "tamper: an oversize token exits 2" "$rc/$(grep -c 'too long' "$W/huge.err")" "2/1"
equals "tamper: nothing was recorded by the refused tokens" \
    "$(sqlite3 "$DB" "select count(*) from consent")" "$before"

# Another database (its own key file) with a person of the same id.
W2="$W/other"
mkdir "$W2"
identify u1 2026-05-04T10:00:00Z '{"plan":"x"}' >"$W2/run.ndjson"
run_nudge other_run --config "$CONF" --db "$W2/o.db" run --events "$W2/run.ndjson"
run_nudge other_make --config "$CONF" --db "$W2/o.db" unsubscribe --make u1 email
OTHER=$(cat "$W/other_make.out")
run_nudge other --config "$CONF" --db "$DB" unsubscribe "$OTHER"
equals "another key: another database's token exits 2, nothing recorded" \
    "$rc/$(grep -c 'another database' "$W/other.err")/$(sqlite3 "$DB" "select count(*) from consent")" \
    "2/1/$before"
run_nudge other_ok --config "$CONF" --db "$W2/o.db" unsubscribe "$OTHER"
equals "another key: ... it verifies in its own database" "$rc" 0

# ==== 3. key rotation =======================================================

run_nudge grant --config "$CONF" --db "$DB" consent set u1 email granted --proof "signed up again"
run_nudge rotate --config "$CONF" --db "$DB" keygen --rotate
equals "rotate: keygen --rotate exits 0" "$rc/$(grep -c 'key rotated' "$W/rotate.out")" "0/1"
run_nudge rotated --config "$CONF" --db "$DB" unsubscribe "$TOKEN"
equals "rotate: a token made before the rotation still verifies and applies" \
    "$rc/$(sqlite3 "$DB" "select status || ' ' || source from consent where profile_id = 'u1'
        and purpose = 'marketing' order by at_ms desc, id desc limit 1")" "0/revoked unsubscribe"
make_token make4 u1 email --now 2026-05-04T11:30:00Z
equals "rotate: the same unsubscribe key makes the same token after it" "$token" "$TOKEN"

# ==== 4. people: merged, forgotten; usage ===================================

identify "" 2026-05-04T09:00:00Z '{"plan":"anon"}' anon-7 >"$W/run3.ndjson"
run_events run3
make_token make5 anon-7 email
ANON=$token
identify u7 2026-05-04T13:00:00Z '{"plan":"pro"}' anon-7 >"$W/run4.ndjson"
run_events run4
run_nudge merged --config "$CONF" --db "$DB" unsubscribe "$ANON"
equals "merge: a token for an anonymous visitor applies to the profile they became" \
    "$rc/$(ledger u7)" "0/email/marketing/revoked/unsubscribe"

make_token make6 u1 sms
GONE=$token
run_nudge forget --config "$CONF" --db "$DB" profile forget u1
run_nudge gone --config "$CONF" --db "$DB" unsubscribe "$GONE"
equals "forgotten: a forgotten person's token exits 1, nothing recorded" \
    "$rc/$(grep -c 'not in this database' "$W/gone.err")/$(sqlite3 "$DB" "select count(*) from consent where profile_id = 'u1'")" \
    "1/1/0"

run_nudge nobody --config "$CONF" --db "$DB" unsubscribe --make nobody email
equals "usage: --make for an unknown person exits 1" \
    "$rc/$(grep -c 'no profile matches nobody' "$W/nobody.err")" "1/1"
run_nudge bad_channel --config "$CONF" --db "$DB" unsubscribe --make u7 EMAIL
equals "usage: --make with a bad channel exits 2" "$rc" 2
run_nudge bad_purpose --config "$CONF" --db "$DB" unsubscribe --make u7 email --purpose promo
equals "usage: --make with a bad purpose exits 2" "$rc" 2
run_nudge no_token --config "$CONF" --db "$DB" unsubscribe
equals "usage: no token exits 2" "$rc/$(grep -c 'give one TOKEN' "$W/no_token.err")" "2/1"
run_nudge two --config "$CONF" --db "$DB" unsubscribe "$ANON" "$ANON"
equals "usage: two tokens exit 2" "$rc" 2

# The person's address is in no output and not in the database in the clear.
equals "privacy: no email address in the outputs or the database" \
    "$(cat "$W"/*.out "$W"/*.err | grep -ci 'jane.unsub@')/$(grep -c 'Jane.Unsub' "$DB")" "0/0"
end_scenario
