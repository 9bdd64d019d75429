/* Unit tests for the consent ledger (runtime/consent.h over
 * runtime/store_consent.c) against a real SQLite file in a fresh mkdtemp()
 * folder: records and dedupe, latest-wins by time, the opt-in and opt-out
 * regimes, the transactional rule, bad input, the append-only trigger, the
 * identify trait and "Consent Updated" readers, history and merge/forget. */
#include "consent.h"

#include "unit.h"
#include "unit_store.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */
#define MIN INT64_C(60000)

static char dir[64];
static char db_path[128];

/* How many records the profile has. */
static int64_t records(store *s, const char *profile_id)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM consent WHERE profile_id = '%s'",
             profile_id);
    return query_int(s, sql);
}

static int status(store *s, const char *id, const char *channel, const char *purpose,
                  const char *regime)
{
    return consent_status(s, id, channel, purpose, regime);
}

static void test_check(void)
{
    char err[160] = "";
    CHECK(consent_check("sms", "marketing", err, sizeof err) == 0,
          "check: sms/marketing");
    CHECK(consent_check("web-push_2", "transactional", err, sizeof err) == 0,
          "check: [a-z0-9_-] channel, transactional");
    CHECK(consent_check("SMS", "marketing", err, sizeof err) == -1 &&
              strstr(err, "channel"),
          "check: uppercase channel refused, the message names the channel");
    CHECK(consent_check("", "marketing", err, sizeof err) == -1, "check: empty channel");
    CHECK(consent_check(NULL, "marketing", err, sizeof err) == -1, "check: NULL channel");
    CHECK(consent_check("e mail", "marketing", err, sizeof err) == -1,
          "check: a blank in the channel");
    char long_name[80];
    memset(long_name, 'a', 65), long_name[65] = 0;
    CHECK(consent_check(long_name, "marketing", err, sizeof err) == -1,
          "check: a channel of 65 characters");
    CHECK(consent_check("sms", "promo", err, sizeof err) == -1 && strstr(err, "purpose"),
          "check: unknown purpose refused, the message names the purpose");
    CHECK(consent_check("sms", NULL, err, sizeof err) == -1, "check: NULL purpose");
}

static void test_record_and_dedupe(store *s)
{
    CHECK(consent_record(s, "r1", "sms", "marketing", 1, T0, "cli", "form 12") ==
              CONSENT_RECORDED,
          "record: the first grant is appended");
    CHECK(consent_record(s, "r1", "sms", "marketing", 1, T0 + MIN, "identify", NULL) ==
              CONSENT_UNCHANGED,
          "record: the same status again is not appended");
    CHECK(records(s, "r1") == 1, "record: a repeated grant does not grow the ledger");
    CHECK(consent_record(s, "r1", "sms", "marketing", 0, T0 + 2 * MIN, "event", NULL) ==
              CONSENT_RECORDED,
          "record: a revocation is appended");
    CHECK(consent_record(s, "r1", "sms", "transactional", 0, T0 + 2 * MIN, "event",
                         NULL) == CONSENT_RECORDED,
          "record: another purpose of the same channel is its own record");
    CHECK(consent_record(s, "r1", "email", "marketing", 0, T0, "cli", NULL) ==
              CONSENT_RECORDED,
          "record: another channel is its own record");
    CHECK(records(s, "r1") == 4, "record: four records");
    CHECK(query_int(
              s, "SELECT count(*) FROM consent WHERE profile_id = 'r1' AND"
                 " proof = 'form 12' AND source = 'cli' AND at_ms = 1793631600000") == 1,
          "record: source, proof and time are kept");
}

static void test_latest_wins(store *s)
{
    consent_record(s, "l1", "sms", "marketing", 0, T0 + 10 * MIN, "event", NULL);
    CHECK(consent_record(s, "l1", "sms", "marketing", 1, T0, "identify", NULL) ==
              CONSENT_RECORDED,
          "latest: an older grant arriving late joins the history");
    CHECK(status(s, "l1", "sms", "marketing", "opt_in") == 0,
          "latest: but the newer revocation stays in force");
    CHECK(consent_record(s, "l1", "sms", "marketing", 1, T0 + MIN, "identify", NULL) ==
              CONSENT_UNCHANGED,
          "latest: a late grant already in force at its time is not appended");
    consent_record(s, "l1", "sms", "marketing", 1, T0 + 20 * MIN, "cli", NULL);
    CHECK(status(s, "l1", "sms", "marketing", "opt_in") == 1,
          "latest: a newer grant is in force");
    consent_record(s, "l1", "sms", "marketing", 0, T0 + 20 * MIN, "event", NULL);
    CHECK(status(s, "l1", "sms", "marketing", "opt_in") == 0,
          "latest: at the same time, the later record wins");
}

static void test_regimes(store *s)
{
    CHECK(status(s, "nobody", "sms", "marketing", "opt_in") == 0,
          "regime: opt_in, no record means no");
    CHECK(status(s, "nobody", "sms", "marketing", "opt_out") == 1,
          "regime: opt_out, no record means yes");
    CHECK(status(s, "nobody", "sms", "marketing", NULL) == 0,
          "regime: no regime given is opt_in");
    consent_record(s, "g1", "sms", "marketing", 0, T0, "cli", NULL);
    CHECK(status(s, "g1", "sms", "marketing", "opt_out") == 0,
          "regime: opt_out, a revocation means no");
    consent_record(s, "g1", "email", "marketing", 1, T0, "cli", NULL);
    CHECK(status(s, "g1", "email", "marketing", "opt_in") == 1,
          "regime: opt_in, a grant means yes");
    CHECK(status(s, "g1", "push", "marketing", "opt_in") == 0,
          "regime: a record on another channel does not count");
}

static void test_transactional(store *s)
{
    CHECK(status(s, "t1", "email", "transactional", "opt_in") == 1,
          "transactional: no record is granted under opt_in");
    CHECK(status(s, "t1", "email", "transactional", "opt_out") == 1,
          "transactional: no record is granted under opt_out");
    consent_record(s, "t1", "email", "marketing", 0, T0, "event", NULL);
    CHECK(status(s, "t1", "email", "transactional", "opt_in") == 1,
          "transactional: a marketing revocation does not stop it");
    consent_record(s, "t1", "email", "transactional", 0, T0 + MIN, "cli", NULL);
    CHECK(status(s, "t1", "email", "transactional", "opt_out") == 0,
          "transactional: a transactional revocation does");
}

static void test_bad_input(store *s)
{
    int64_t before = query_int(s, "SELECT count(*) FROM consent");
    CHECK(consent_record(s, "b1", "SMS", "marketing", 1, T0, "cli", NULL) ==
              CONSENT_INVALID,
          "bad input: uppercase channel");
    CHECK(consent_record(s, "b1", "", "marketing", 1, T0, "cli", NULL) == CONSENT_INVALID,
          "bad input: empty channel");
    CHECK(consent_record(s, "b1", "sms", "promo", 1, T0, "cli", NULL) == CONSENT_INVALID,
          "bad input: unknown purpose");
    CHECK(consent_record(s, "b1", "sms", "marketing", 1, T0, "", NULL) == CONSENT_INVALID,
          "bad input: empty source");
    CHECK(consent_record(s, NULL, "sms", "marketing", 1, T0, "cli", NULL) ==
              CONSENT_INVALID,
          "bad input: no profile");
    CHECK(query_int(s, "SELECT count(*) FROM consent") == before,
          "bad input: nothing recorded");
    CHECK(status(s, "b1", "SMS", "marketing", "opt_out") == 0,
          "bad input: consent_status of an invalid channel is 0, even under opt_out");
    CHECK(status(s, "b1", "sms", "promo", "opt_out") == 0,
          "bad input: consent_status of an invalid purpose is 0");
}

/* Runs SQL; 0 or the SQLite error code, its message in err. */
static int exec(store *s, const char *sql, char *err, size_t len)
{
    char *msg = NULL;
    int rc = sqlite3_exec(store_db(s), sql, NULL, NULL, &msg);
    snprintf(err, len, "%s", msg ? msg : "");
    sqlite3_free(msg);
    return rc;
}

static void test_append_only(store *s)
{
    char err[200];
    consent_record(s, "a1", "sms", "marketing", 1, T0, "cli", "signed");
    int rc = exec(s, "UPDATE consent SET status = 'revoked' WHERE profile_id = 'a1'", err,
                  sizeof err);
    CHECK(rc != SQLITE_OK && strstr(err, "append-only"),
          "append-only: an UPDATE of status fails");
    rc = exec(s, "UPDATE consent SET proof = 'forged' WHERE profile_id = 'a1'", err,
              sizeof err);
    CHECK(rc != SQLITE_OK, "append-only: an UPDATE of proof fails");
    rc = exec(s, "UPDATE consent SET at_ms = 0 WHERE profile_id = 'a1'", err, sizeof err);
    CHECK(rc != SQLITE_OK, "append-only: an UPDATE of the time fails");
    CHECK(query_int(
              s,
              "SELECT count(*) FROM consent WHERE profile_id = 'a1' AND"
              " status = 'granted' AND proof = 'signed' AND at_ms = 1793631600000") == 1,
          "append-only: the record is unchanged");
    rc = exec(s,
              "INSERT INTO consent (profile_id, channel, purpose, status, at_ms, source)"
              " VALUES ('a1', 'sms', 'marketing', 'maybe', 0, 'x')",
              err, sizeof err);
    CHECK(rc != SQLITE_OK, "append-only: a status other than granted/revoked is refused");
}

static void test_merge_and_forget(store *s)
{
    consent_record(s, "anon-9", "sms", "marketing", 1, T0, "identify", NULL);
    store_profile_merge_traits(s, "anon-9", "{\"plan\":\"pro\"}");
    store_profile_merge_traits(s, "user-9", "{\"plan\":\"pro\"}");
    CHECK(store_profile_merge(s, "anon-9", "user-9", T0) >= 0 &&
              records(s, "anon-9") == 0 && records(s, "user-9") == 1,
          "merge: the anonymous visitor's records move to the profile");
    CHECK(status(s, "user-9", "sms", "marketing", "opt_in") == 1,
          "merge: and are in force there");
    CHECK(store_profile_forget(s, "user-9", T0) == 0 && records(s, "user-9") == 0,
          "forget: the person's records are erased");
}

static void test_from_traits(store *s)
{
    const char *traits = "{\"plan\":\"pro\",\"consent\":{\"sms\":true,\"email\":false,"
                         "\"push\":{\"marketing\":true,\"transactional\":false}}}";
    CHECK(consent_from_traits(s, "i1", traits, T0) == 0, "traits: read");
    CHECK(status(s, "i1", "sms", "marketing", "opt_in") == 1,
          "traits: consent.sms = true grants marketing sms");
    CHECK(status(s, "i1", "email", "marketing", "opt_out") == 0,
          "traits: consent.email = false revokes marketing email");
    CHECK(status(s, "i1", "push", "marketing", "opt_in") == 1 &&
              status(s, "i1", "push", "transactional", "opt_in") == 0,
          "traits: consent.push = { marketing, transactional } names the purposes");
    CHECK(status(s, "i1", "sms", "transactional", "opt_in") == 1,
          "traits: a plain boolean is marketing only");
    CHECK(query_int(s, "SELECT count(*) FROM consent WHERE profile_id = 'i1' AND"
                       " source = 'identify' AND at_ms = 1793631600000") == 4,
          "traits: four records, source identify, at the identify's time");
    CHECK(consent_from_traits(s, "i1", traits, T0 + MIN) == 0 && records(s, "i1") == 4,
          "traits: a repeated identify does not grow the ledger");
    consent_from_traits(s, "i1", "{\"consent\":{\"sms\":false}}", T0 + 2 * MIN);
    CHECK(status(s, "i1", "sms", "marketing", "opt_in") == 0 && records(s, "i1") == 5,
          "traits: a later identify with consent.sms = false revokes");
    consent_from_traits(s, "i2",
                        "{\"consent\":{\"sms\":\"yes\",\"SMS\":true,\"email\":null,"
                        "\"push\":{\"promo\":true,\"marketing\":1}}}",
                        T0);
    CHECK(records(s, "i2") == 0, "traits: strings, numbers, null, bad channels and"
                                 " purposes are skipped");
    consent_from_traits(s, "i3", "{\"consent\":true}", T0);
    consent_from_traits(s, "i3", "{\"plan\":\"consent\"}", T0);
    consent_from_traits(s, "i3", "not json \"consent\"", T0);
    consent_from_traits(s, "i3", NULL, T0);
    CHECK(records(s, "i3") == 0, "traits: consent not an object, no consent, bad JSON");
    cJSON *row = cJSON_Parse("{\"consent\":{\"sms\":true}}");
    CHECK(consent_from_object(s, "i4", row, T0, "import") == 0 &&
              query_int(s, "SELECT count(*) FROM consent WHERE profile_id = 'i4' AND"
                           " source = 'import'") == 1,
          "traits: parsed traits with another source (import)");
    cJSON_Delete(row);
}

/* An event's JSON with the given properties. */
static int event(store *s, const char *id, const char *props)
{
    char json[600];
    snprintf(json, sizeof json,
             "{\"type\":\"track\",\"event\":\"Consent Updated\",\"userId\":\"%s\","
             "\"properties\":%s}",
             id, props);
    return consent_from_event(s, id, json, "msg-1", T0);
}

static void test_from_event(store *s)
{
    CHECK(event(s, "e1",
                "{\"channel\":\"sms\",\"status\":\"granted\","
                "\"proof\":\"keyword START\"}") == 0 &&
              status(s, "e1", "sms", "marketing", "opt_in") == 1,
          "event: status granted");
    CHECK(query_int(s, "SELECT count(*) FROM consent WHERE profile_id = 'e1' AND"
                       " source = 'event' AND proof = 'keyword START'") == 1,
          "event: source event, proof kept");
    event(s, "e2", "{\"channel\":\"email\",\"granted\":false}");
    CHECK(status(s, "e2", "email", "marketing", "opt_out") == 0 && records(s, "e2") == 1,
          "event: boolean granted = false revokes");
    event(s, "e3",
          "{\"channel\":\"email\",\"status\":\"revoked\","
          "\"purpose\":\"transactional\"}");
    CHECK(status(s, "e3", "email", "transactional", "opt_in") == 0 &&
              status(s, "e3", "email", "marketing", "opt_out") == 1,
          "event: purpose transactional");
    event(s, "e4", "{\"status\":\"granted\"}");
    event(s, "e4", "{\"channel\":\"SMS\",\"status\":\"granted\"}");
    event(s, "e4", "{\"channel\":\"sms\",\"status\":\"maybe\"}");
    event(s, "e4", "{\"channel\":\"sms\",\"status\":true}");
    event(s, "e4", "{\"channel\":\"sms\"}");
    event(s, "e4", "{\"channel\":\"sms\",\"granted\":\"yes\"}");
    event(s, "e4", "{\"channel\":\"sms\",\"granted\":true,\"purpose\":\"promo\"}");
    event(s, "e4", "{\"channel\":\"sms\",\"granted\":true,\"proof\":42}");
    event(s, "e4", "\"not an object\"");
    CHECK(consent_from_event(s, "e4", "{\"type\":\"track\"}", "m", T0) == 0 &&
              consent_from_event(s, "e4", "not json", NULL, T0) == 0,
          "event: no properties or bad JSON is a warning, not an error");
    CHECK(records(s, "e4") == 0, "event: bad properties record nothing");
}

typedef struct walk {
    int count;
    char seen[400];
} walk;

static int collect(void *ctx, const consent_row *r)
{
    walk *w = ctx;
    size_t n = strlen(w->seen);
    snprintf(w->seen + n, sizeof w->seen - n, "%s%s/%s/%s/%s/%s", w->count ? " " : "",
             r->channel, r->purpose, r->status, r->source, r->proof ? r->proof : "-");
    return ++w->count == 3 ? 7 : 0;
}

static void test_history(store *s)
{
    consent_record(s, "h1", "sms", "marketing", 1, T0 + 2 * MIN, "cli", "b");
    consent_record(s, "h1", "email", "marketing", 1, T0, "identify", NULL);
    consent_record(s, "h1", "sms", "marketing", 0, T0 + 3 * MIN, "event", NULL);
    consent_record(s, "h1", "sms", "marketing", 1, T0 + 4 * MIN, "cli", NULL);
    walk w = {0, ""};
    int rc = store_consent_history(s, "h1", collect, &w);
    CHECK(rc == 7, "history: the callback's non-zero return stops the walk");
    CHECK_STR(w.seen,
              "email/marketing/granted/identify/- sms/marketing/granted/cli/b"
              " sms/marketing/revoked/event/-",
              "history: oldest first, by time");
    cJSON *rows = store_consent_json(s, "h1");
    cJSON *last = cJSON_GetArrayItem(rows, 3);
    CHECK(cJSON_GetArraySize(rows) == 4 &&
              cJSON_GetNumberValue(cJSON_GetObjectItem(last, "at_ms")) ==
                  (double)(T0 + 4 * MIN) &&
              cJSON_IsNull(cJSON_GetObjectItem(last, "proof")),
          "history: as JSON rows (at_ms, proof null)");
    cJSON_Delete(rows);
    rows = store_consent_json(s, "nobody");
    CHECK(cJSON_IsArray(rows) && cJSON_GetArraySize(rows) == 0,
          "history: an empty array for a profile without records");
    cJSON_Delete(rows);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/nudge-consent-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(db_path, sizeof db_path, "%s/nudge.db", dir);
    store *s = NULL;
    char err[256] = "";
    CHECK(store_open(db_path, &s, err, sizeof err) == 0, "open: a new database");
    if (s) {
        test_check();
        test_record_and_dedupe(s);
        test_latest_wins(s);
        test_regimes(s);
        test_transactional(s);
        test_bad_input(s);
        test_append_only(s);
        test_merge_and_forget(s);
        test_from_traits(s);
        test_from_event(s);
        test_history(s);
        store_close(s);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    UNIT_DONE();
}
