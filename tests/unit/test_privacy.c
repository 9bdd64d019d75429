/* Unit tests for runtime/privacy.c with runtime/store_people.c and
 * store_profiles.c against a real SQLite file and key file in a fresh
 * mkdtemp() folder: the master key file, PII encrypted and masked, blind
 * index lookups, event scrubbing, exposure, merges, erasure, key rotation,
 * computed traits and event windows. */
#include "log.h"
#include "pii_hash.h"
#include "privacy.h"
#include "store.h"
#include "vault.h"

#include "unit.h"
#include "unit_store.h"

#include <cJSON.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */
#define HOUR_MS INT64_C(3600000)
#define DAY_MS INT64_C(86400000)

static char dir[64];
static char db_path[128], key_path[128];
static char err[800];
static char *extra_fields[] = {"birthday"};

/* Every plaintext PII value the tests hand to privacy_apply_traits: none may
 * reach the database file, its WAL or the log. */
static const char *const plaintexts[] = {"john.smith@example.com",
                                         "+1 (555) 123-4567",
                                         "15551234567",
                                         "Zebulon",
                                         "Quixotic",
                                         "1987-06-05",
                                         "billing.person@corp.test",
                                         "gone.soon@example.org",
                                         "+44 20 7946 0958",
                                         "Adalinde",
                                         "anon.visitor@example.net",
                                         "Bartholomew",
                                         "Cornelius",
                                         "+33 6 12 34 56 78",
                                         "+33 7 98 76 54 32",
                                         "target.two@example.net",
                                         "forget.me@example.com",
                                         "+49 30 901820",
                                         "Friedhelm",
                                         "not-an-email",
                                         "4915112345678",
                                         NULL};

/* ---- helpers ----------------------------------------------------------- */

/* DIR "/" NAME, in a rotating set of static buffers. */
static const char *temp_path(const char *name)
{
    static char paths[4][160];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    return path;
}

static store *open_store(const char *path)
{
    store *s = NULL;
    if (store_open(path, &s, err, sizeof err) != 0) {
        printf("# store_open %s: %s\n", path, err);
        return NULL;
    }
    return s;
}

/* privacy_open with KEY_FILE, the extra field "birthday" and EXPOSED; NULL
 * with `err` set on failure. */
static privacy *open_privacy(store *s, const char *key_file, char *const *exposed,
                             int exposed_count)
{
    privacy_options o = {.key_file = key_file,
                         .fields = extra_fields,
                         .field_count = 1,
                         .exposed = exposed,
                         .exposed_count = exposed_count};
    privacy *p = NULL;
    err[0] = '\0';
    if (privacy_open(s, &o, &p, err, sizeof err) != 0) return NULL;
    return p;
}

/* Whether GOT (malloc'd, freed here) is WANT; NULL matches NULL only. */
static int text_is(char *got, const char *want)
{
    int ok = got && want ? strcmp(got, want) == 0 : got == want;
    if (!ok)
        printf("# got \"%s\", want \"%s\"\n", got ? got : "(null)",
               want ? want : "(null)");
    free(got);
    return ok;
}

static int apply(privacy *p, store *s, const char *id, const char *traits_json)
{
    int rc = privacy_apply_traits(p, s, id, traits_json);
    if (rc) printf("# privacy_apply_traits %s failed\n", id);
    return rc;
}

static int add_event(store *s, const char *message_id, const char *name,
                     const char *profile_id, int64_t ts_ms, const char *body)
{
    return store_event_insert(s, message_id, name ? "track" : "identify", name,
                              profile_id, profile_id, NULL, ts_ms, body,
                              (int)strlen(body)) == 1;
}

/* A live (waiting) instance of JOURNEY with a timer; its id, or -1. */
static int64_t add_instance(store *s, const char *journey, const char *profile_id)
{
    instance in = {0};
    in.journey = (char *)journey;
    in.version = "v1";
    in.profile_id = (char *)profile_id;
    in.state = INSTANCE_WAITING;
    in.started_ms = T0;
    in.pending_kind = "wait";
    in.pending_due_ms = T0 + DAY_MS;
    if (store_instance_insert(s, &in) || store_timer_set(s, in.id, in.pending_due_ms))
        return -1;
    return in.id;
}

/* Whether instance ID has STATE, PROFILE_ID and EXIT_REASON (NULL: none). */
static int instance_is(store *s, int64_t id, int state, const char *profile_id,
                       const char *exit_reason)
{
    instance in = {0};
    if (store_instance_load(s, id, &in) != 1) return printf("# no instance\n"), 0;
    int ok = in.state == state && in.profile_id && !strcmp(in.profile_id, profile_id) &&
             (exit_reason ? in.exit_reason && !strcmp(in.exit_reason, exit_reason)
                          : !in.exit_reason);
    if (!ok)
        printf("# instance %" PRId64 ": state %d, profile %s, exit_reason %s\n", id,
               in.state, in.profile_id ? in.profile_id : "(null)",
               in.exit_reason ? in.exit_reason : "(null)");
    store_instance_free(&in);
    return ok;
}

/* The member at PATH ("billing.email", "events.Order Completed.count"). */
static cJSON *member(cJSON *obj, const char *path)
{
    char buf[160], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    for (char *name = strtok_r(buf, ".", &save); name && obj;
         name = strtok_r(NULL, ".", &save))
        obj = cJSON_GetObjectItemCaseSensitive(obj, name);
    return obj;
}

static const char *member_text(cJSON *obj, const char *path)
{
    cJSON *m = member(obj, path);
    return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* A number member, or -1 when absent or not a number. */
static double member_number(cJSON *obj, const char *path)
{
    cJSON *m = member(obj, path);
    return cJSON_IsNumber(m) ? m->valuedouble : -1;
}

/* store_profile_json of ID at T0, parsed (NULL on error). */
static cJSON *load_profile(store *s, const char *id)
{
    char *text = store_profile_json(s, id, T0);
    cJSON *profile = text ? cJSON_Parse(text) : NULL;
    free(text);
    return profile;
}

/* Reads all of PATH (malloc'd, *len set); NULL when it does not exist. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    *len = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        data = size >= 0 ? malloc((size_t)size + 1) : NULL;
        rewind(f);
        if (data) *len = fread(data, 1, (size_t)size, f), data[*len] = '\0';
    }
    fclose(f);
    return data;
}

static int file_holds(const char *path, const void *needle, size_t needle_len)
{
    size_t len;
    char *data = slurp(path, &len);
    int found = data && memmem(data, len, needle, needle_len) != NULL;
    free(data);
    return found;
}

/* Whether the database file or its WAL holds NEEDLE. */
static int on_disk(const void *needle, size_t len)
{
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", db_path);
    return file_holds(db_path, needle, len) || file_holds(wal, needle, len);
}

/* How many of the plaintexts appear in the database (or, with PATH, in
 * that file); each is named. */
static int plaintexts_found(const char *path)
{
    int found = 0;
    for (int i = 0; plaintexts[i]; i++) {
        size_t len = strlen(plaintexts[i]);
        if (path ? file_holds(path, plaintexts[i], len) : on_disk(plaintexts[i], len)) {
            printf("# plaintext found: %s\n", plaintexts[i]);
            found++;
        }
    }
    return found;
}

static int copy_file(const char *from, const char *to)
{
    size_t len;
    char *data = slurp(from, &len);
    int fd = data ? open(to, O_WRONLY | O_CREAT | O_EXCL, 0600) : -1;
    int ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;
    if (fd >= 0) close(fd);
    free(data);
    return ok ? 0 : -1;
}

static void key_id_of(const char *path, char id[17])
{
    vault *v = NULL;
    snprintf(id, 17, "(none)");
    if (vault_load(path, 0, NULL, &v, err, sizeof err) == 0) vault_key_id(v, id);
    vault_free(v);
}

/* stderr goes to a file while privacy works on plaintext, so the log can be
 * searched for it; capture_end copies it back to stderr. */
static int saved_stderr = -1;

static void capture_begin(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(temp_path("stderr.log"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved_stderr < 0 || fd < 0 || dup2(fd, 2) < 0) perror("capture stderr");
    if (fd >= 0) close(fd);
    log_set_level(LOG_DEBUG);
    printf("# stderr goes to %s until the data tests end\n", temp_path("stderr.log"));
}

static void capture_end(void)
{
    size_t len;
    fflush(stderr);
    log_set_level(LOG_WARN);
    if (saved_stderr >= 0) dup2(saved_stderr, 2), close(saved_stderr);
    char *log = slurp(temp_path("stderr.log"), &len);
    if (log) fwrite(log, 1, len, stderr);
    free(log);
    CHECK(plaintexts_found(temp_path("stderr.log")) == 0,
          "log: no plaintext PII in anything logged");
}

/* ---- the master key file ------------------------------------------------ */

static void test_key_file_refusals(store *s, const char *key_id)
{
    unsigned char before[VAULT_SEALED_LEN], after[VAULT_SEALED_LEN];
    char id[17];
    store_secret_get(s, "blind-index", before, sizeof before);
    CHECK(vault_write_new(temp_path("other.key"), err, sizeof err) == 0,
          "key file: another key written elsewhere");
    CHECK(open_privacy(s, temp_path("other.key"), NULL, 0) == NULL,
          "key file: another database's key fails to open");
    CHECK(strstr(err, temp_path("other.key")) != NULL,
          "key file: the wrong-key error names the key file");
    CHECK(rename(key_path, temp_path("nudge.key.saved")) == 0, "key file: moved away");
    CHECK(open_privacy(s, key_path, NULL, 0) == NULL,
          "key file: missing with data sealed: privacy_open fails");
    CHECK(strstr(err, key_path) != NULL && strstr(err, "restore") != NULL,
          "key file: the missing-key error names the file and asks to restore it");
    CHECK(access(key_path, F_OK) != 0, "key file: missing key not silently recreated");
    CHECK(store_secret_get(s, "blind-index", after, sizeof after) == 1 &&
              memcmp(before, after, sizeof before) == 0,
          "key file: failed opens leave the sealed blind-index key as it was");
    CHECK(rename(temp_path("nudge.key.saved"), key_path) == 0, "key file: restored");
    privacy *p = open_privacy(s, key_path, NULL, 0);
    if (p) privacy_key_id(p, id);
    CHECK(p != NULL && !strcmp(id, key_id), "key file: the restored key opens again");
    privacy_free(p);
}

static privacy *test_key_file(store *s)
{
    struct stat st;
    char id1[17] = "", id2[17] = "";
    CHECK(access(key_path, F_OK) != 0, "key file: none before the first open");
    privacy *p = open_privacy(s, key_path, NULL, 0);
    CHECK(p != NULL, "key file: privacy_open on a new database");
    if (!p) return printf("# %s\n", err), NULL;
    CHECK(stat(key_path, &st) == 0 && (st.st_mode & 07777) == 0600,
          "key file: created with mode 0600");
    CHECK(query_int(s, "SELECT count(*) FROM secrets") == 1,
          "key file: the blind-index key is sealed in the database");
    privacy_key_id(p, id1);
    key_id_of(key_path, id2);
    CHECK(strlen(id1) == 16 && !strcmp(id1, id2), "key file: privacy_key_id names it");
    privacy_free(p);
    p = open_privacy(s, key_path, NULL, 0);
    CHECK(p != NULL, "key file: reopening with the same key works");
    if (p) privacy_key_id(p, id2);
    CHECK_STR(id2, id1, "key file: same key after reopening");
    test_key_file_refusals(s, id1);
    return p;
}

/* ---- traits, reveal and find -------------------------------------------- */

static const char *u1_traits =
    "{\"email\":\"john.smith@example.com\",\"phone\":\"+1 (555) 123-4567\","
    "\"first_name\":\"Zebulon\",\"last_name\":\"Quixotic\",\"birthday\":\"1987-06-05\","
    "\"plan\":\"gold\",\"age\":41,\"vip\":true,\"tags\":[\"a\",\"b\"],"
    "\"consent\":{\"email\":true,\"sms\":false},"
    "\"billing\":{\"email\":\"billing.person@corp.test\",\"city\":\"Lyon\"}}";

static void test_masks(store *s)
{
    char mask[64];
    cJSON *u1 = load_profile(s, "u1");
    CHECK(u1 != NULL, "traits: store_profile_json parses");
    CHECK_STR(member_text(u1, "email"), "j***@example.com", "traits: email masked");
    CHECK_STR(member_text(u1, "phone"), "+1******4567", "traits: phone masked");
    CHECK_STR(member_text(u1, "first_name"), "Z***", "traits: first_name masked");
    CHECK_STR(member_text(u1, "last_name"), "Q***", "traits: last_name masked");
    (void)mask; /* fields other than email and phone keep one character */
    CHECK_STR(
        member_text(u1, "birthday"), "1***",
        "traits: the configured extra field (birthday) masked to its first character");
    CHECK_STR(member_text(u1, "plan"), "gold", "traits: a string trait unchanged");
    CHECK(member_number(u1, "age") == 41, "traits: a number trait unchanged");
    CHECK(cJSON_IsTrue(member(u1, "vip")), "traits: a boolean trait unchanged");
    CHECK(cJSON_GetArraySize(member(u1, "tags")) == 2, "traits: an array trait kept");
    CHECK(cJSON_IsTrue(member(u1, "consent.email")),
          "traits: boolean consent.email is not masked");
    CHECK(cJSON_IsFalse(member(u1, "consent.sms")), "traits: consent.sms kept");
    CHECK_STR(member_text(u1, "billing.email"), "b***@corp.test",
              "traits: nested billing.email masked");
    CHECK_STR(member_text(u1, "billing.city"), "Lyon", "traits: billing.city kept");
    CHECK_STR(member_text(u1, "id"), "u1", "traits: id added");
    cJSON_Delete(u1);
}

static void test_apply_traits(privacy *p, store *s)
{
    int count = 0;
    privacy_fields(p, &count);
    CHECK(count == 5, "fields: the four defaults plus the configured one");
    CHECK(privacy_is_pii(p, "birthday") && privacy_is_pii(p, "email") &&
              !privacy_is_pii(p, "plan"),
          "fields: privacy_is_pii");
    store_begin(s);
    CHECK(apply(p, s, "u1", u1_traits) == 0, "traits: privacy_apply_traits");
    CHECK(apply(p, s, "u-num", "{\"phone\":4915112345678}") == 0,
          "traits: a phone given as a number");
    CHECK(apply(p, s, "u-bad", "{\"email\":\"not-an-email\"}") == 0,
          "traits: an email that cannot be normalized is still accepted");
    CHECK(store_commit(s) == 0, "traits: committed");
    test_masks(s);
    CHECK(query_int(s, "SELECT length(pii) > 0 FROM profiles WHERE id = 'u1'") == 1,
          "traits: an encrypted PII record (nested billing.email not stored)");
    CHECK(privacy_reveal(p, s, "u1", "billing") == NULL,
          "traits: no PII row for the nested object");
    CHECK(query_int(s, "SELECT length(sealed_key) FROM profiles WHERE id = 'u1'") == 72,
          "traits: one sealed data key for the profile");
}

static void test_reveal_and_find(privacy *p, store *s)
{
    CHECK(text_is(privacy_reveal(p, s, "u1", "email"), "john.smith@example.com"),
          "reveal: email");
    CHECK(text_is(privacy_reveal(p, s, "u1", "phone"), "+1 (555) 123-4567"),
          "reveal: phone as given");
    CHECK(text_is(privacy_reveal(p, s, "u1", "first_name"), "Zebulon"),
          "reveal: first_name");
    CHECK(text_is(privacy_reveal(p, s, "u1", "birthday"), "1987-06-05"),
          "reveal: the extra field");
    CHECK(text_is(privacy_reveal(p, s, "u1", "plan"), NULL),
          "reveal: a non-PII trait is not in the PII store");
    CHECK(text_is(privacy_reveal(p, s, "nobody", "email"), NULL),
          "reveal: unknown profile gives NULL");
    CHECK(text_is(privacy_reveal(p, s, "u-num", "phone"), "4915112345678"),
          "reveal: a numeric phone as its digits");
    CHECK(text_is(privacy_find(p, s, "email", "  John.Smith@EXAMPLE.com "), "u1"),
          "find: email in another case with spaces");
    CHECK(text_is(privacy_find(p, s, "phone", "15551234567"), "u1"),
          "find: phone as bare digits");
    CHECK(text_is(privacy_find(p, s, "phone", "+1-555-123-4567"), "u1"),
          "find: phone with dashes");
    CHECK(text_is(privacy_find(p, s, "phone", "+49 151 12345678"), "u-num"),
          "find: a phone stored as a number");
    CHECK(text_is(privacy_find(p, s, "email", "nobody@example.com"), NULL),
          "find: unknown email gives NULL");
    CHECK(text_is(privacy_find(p, s, "email", "not-an-email"), NULL),
          "find: an unnormalizable email is not indexed");
    CHECK(text_is(privacy_reveal(p, s, "u-bad", "email"), "not-an-email"),
          "reveal: an unnormalizable email is still kept encrypted");
    char a[65] = "", b[65] = "";
    CHECK(privacy_blind_hex(p, "email", "john.smith@example.com", a, err, sizeof err) ==
                  0 &&
              privacy_blind_hex(p, "email", " JOHN.smith@example.com", b, err,
                                sizeof err) == 0 &&
              strlen(a) == 64 && !strcmp(a, b),
          "blind hex: same for both spellings");
    CHECK(privacy_blind_hex(p, "first_name", "Zebulon", a, err, sizeof err) == -1 &&
              !strstr(err, "Zebulon"),
          "blind hex: other kinds refused without echoing the value");
}

static void test_null_removes(privacy *p, store *s)
{
    store_begin(s);
    apply(p, s, "u2",
          "{\"email\":\"gone.soon@example.org\",\"phone\":\"+44 20 7946 0958\","
          "\"first_name\":\"Adalinde\"}");
    store_commit(s);
    CHECK(text_is(privacy_find(p, s, "email", "gone.soon@example.org"), "u2"),
          "null: email indexed before");
    store_begin(s);
    CHECK(apply(p, s, "u2", "{\"email\":null,\"phone\":null}") == 0,
          "null: privacy_apply_traits with nulls");
    store_commit(s);
    CHECK(text_is(privacy_reveal(p, s, "u2", "email"), NULL), "null: email removed");
    CHECK(text_is(privacy_reveal(p, s, "u2", "phone"), NULL), "null: phone removed");
    CHECK(text_is(privacy_find(p, s, "email", "gone.soon@example.org"), NULL),
          "null: email blind index removed");
    CHECK(text_is(privacy_find(p, s, "phone", "+44 20 7946 0958"), NULL),
          "null: phone blind index removed");
    CHECK(text_is(privacy_reveal(p, s, "u2", "first_name"), "Adalinde"),
          "null: other PII kept");
    cJSON *u2 = load_profile(s, "u2");
    CHECK(u2 && !member(u2, "email") && !member(u2, "phone"),
          "null: the masks leave the traits");
    CHECK_STR(member_text(u2, "first_name"), "A***", "null: other masks kept");
    cJSON_Delete(u2);
}

/* A PII-named member whose value is an array (or object) is masked leaf by
 * leaf, in traits and in events (it once stayed in the clear). */
static void test_pii_arrays(privacy *p, store *s)
{
    const char *address = "array.leak@example.com";
    store_begin(s);
    apply(p, s, "u-array", "{\"email\":[\"array.leak@example.com\"]}");
    store_commit(s);
    char *text = store_profile_json(s, "u-array", T0);
    CHECK(text && !strstr(text, address),
          "arrays: an email trait given as an array is not stored in the clear");
    free(text);
    cJSON *event =
        cJSON_Parse("{\"properties\":{\"email\":[\"array.leak@example.com\"]}}");
    int count = 0;
    char *const *fields = privacy_fields(p, &count);
    privacy_scrub_event(fields, count, event);
    text = cJSON_PrintUnformatted(event);
    CHECK(text && !strstr(text, address),
          "arrays: privacy_scrub_event masks an email array");
    free(text);
    cJSON_Delete(event);
}

/* ---- events and exposure ------------------------------------------------ */

static void test_scrub_event(privacy *p)
{
    int count = 0;
    char *const *fields = privacy_fields(p, &count);
    cJSON *event = cJSON_Parse(
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":\"u1\","
        "\"traits\":{\"email\":\"a.b@c.de\",\"plan\":\"x\"},"
        "\"properties\":{\"order\":{\"shipping\":{\"phone\":\"+33 6 11 22 33 44\","
        "\"first_name\":\"Marianne\",\"city\":\"Paris\"}},"
        "\"items\":[{\"email\":\"x.y@z.com\",\"sku\":\"S1\"}],\"birthday\":19870605,"
        "\"email_opt_in\":true,\"consent\":{\"email\":false},\"total\":12.5},"
        "\"context\":{\"traits\":{\"last_name\":\"Dupont\",\"email\":true},"
        "\"ip\":\"1.2.3.4\"}}");
    CHECK(privacy_scrub_event(fields, count, event) == 6, "scrub: returns the count (6)");
    CHECK_STR(member_text(event, "traits.email"), "a***@c.de", "scrub: traits.email");
    CHECK_STR(member_text(event, "traits.plan"), "x", "scrub: other traits kept");
    CHECK_STR(member_text(event, "properties.order.shipping.phone"), "+3******3344",
              "scrub: nested properties phone");
    CHECK_STR(member_text(event, "properties.order.shipping.first_name"), "M***",
              "scrub: nested properties first_name");
    CHECK_STR(member_text(event, "properties.order.shipping.city"), "Paris",
              "scrub: nested non-PII kept");
    cJSON *item = cJSON_GetArrayItem(member(event, "properties.items"), 0);
    CHECK_STR(member_text(item, "email"), "x***@z.com",
              "scrub: an object inside an array");
    CHECK(cJSON_IsString(member(event, "properties.birthday")),
          "scrub: a number in an extra field becomes its mask");
    CHECK(cJSON_IsTrue(member(event, "properties.email_opt_in")) &&
              cJSON_IsFalse(member(event, "properties.consent.email")),
          "scrub: booleans left alone");
    CHECK(member_number(event, "properties.total") == 12.5, "scrub: numbers kept");
    CHECK_STR(member_text(event, "context.traits.last_name"), "D***",
              "scrub: context.traits");
    CHECK(cJSON_IsTrue(member(event, "context.traits.email")),
          "scrub: boolean context.traits.email kept");
    CHECK_STR(member_text(event, "context.ip"), "1.2.3.4", "scrub: other context kept");
    CHECK(privacy_scrub_event(fields, count, event) == 6,
          "scrub: masks are masked again (idempotent count)");
    cJSON_Delete(event);
    event = cJSON_Parse("{\"type\":\"page\",\"name\":\"Home\"}");
    CHECK(privacy_scrub_event(fields, count, event) == 0, "scrub: nothing to mask is 0");
    cJSON_Delete(event);
}

static void test_expose(privacy *p, store *s)
{
    char *exposed[] = {"first_name"};
    privacy *open = open_privacy(s, key_path, exposed, 1);
    CHECK(open != NULL, "expose: privacy_open with exposed = {first_name}");
    if (!open) return;
    char *text = store_profile_json(s, "u1", T0);
    text = privacy_expose(open, s, "u1", text);
    cJSON *u1 = text ? cJSON_Parse(text) : NULL;
    CHECK_STR(member_text(u1, "first_name"), "Zebulon", "expose: first_name revealed");
    CHECK_STR(member_text(u1, "last_name"), "Q***", "expose: last_name still masked");
    CHECK_STR(member_text(u1, "email"), "j***@example.com", "expose: email still masked");
    CHECK_STR(member_text(u1, "phone"), "+1******4567", "expose: phone still masked");
    CHECK(member_number(u1, "order_count") == 0, "expose: computed traits kept");
    cJSON_Delete(u1);
    free(text);
    text = store_profile_json(s, "u1", T0);
    CHECK(privacy_expose(p, s, "u1", text) == text,
          "expose: without exposed fields the text is returned as is");
    free(text);
    privacy_free(open);
}

/* ---- merge ---------------------------------------------------------------- */

typedef struct merge_ids {
    int64_t target_welcome, anon_welcome, anon_browse;
} merge_ids;

static void merge_setup(privacy *p, store *s, merge_ids *ids)
{
    store_begin(s);
    apply(p, s, "anon-7",
          "{\"email\":\"anon.visitor@example.net\",\"first_name\":\"Bartholomew\","
          "\"plan\":\"trial\",\"source\":\"ad\"}");
    apply(p, s, "u-merge", "{\"first_name\":\"Cornelius\",\"plan\":\"gold\"}");
    add_event(s, "m-anon-1", "Product Viewed", "anon-7", T0 - 2 * HOUR_MS, "{}");
    add_event(s, "m-anon-2", "Product Viewed", "anon-7", T0 - HOUR_MS, "{}");
    add_event(s, "m-user-1", "Product Viewed", "u-merge", T0 - 3 * HOUR_MS, "{}");
    ids->target_welcome = add_instance(s, "welcome", "u-merge"); /* the older */
    ids->anon_welcome = add_instance(s, "welcome", "anon-7");
    ids->anon_browse = add_instance(s, "browse", "anon-7");
    store_commit(s);
}

static void test_merge(privacy *p, store *s)
{
    merge_ids ids;
    char reason[64], buf[64];
    merge_setup(p, s, &ids);
    store_begin(s);
    CHECK(privacy_merge(p, s, "anon-7", "u-merge") == 0, "merge: privacy_merge");
    CHECK(store_profile_merge(s, "anon-7", "u-merge", T0) == 1,
          "merge: one duplicate live instance ended (returns 1)");
    CHECK(store_commit(s) == 0, "merge: committed");
    CHECK(text_is(privacy_reveal(p, s, "u-merge", "email"), "anon.visitor@example.net"),
          "merge: PII the target lacked is revealable via the target");
    CHECK(text_is(privacy_reveal(p, s, "u-merge", "first_name"), "Cornelius"),
          "merge: PII the target has is kept (target wins)");
    CHECK(text_is(privacy_reveal(p, s, "anon-7", "email"), NULL),
          "merge: nothing revealable via the source");
    CHECK(query_int(s, "SELECT count(*) FROM profiles WHERE id = 'anon-7'") == 0,
          "merge: the source's row, with its PII record and data key, deleted");
    CHECK(text_is(privacy_find(p, s, "email", "Anon.Visitor@example.net"), "u-merge"),
          "merge: the moved email finds the target");
    cJSON *u = load_profile(s, "u-merge");
    CHECK_STR(member_text(u, "plan"), "gold",
              "merge: traits merge, the target's winning");
    CHECK_STR(member_text(u, "source"), "ad", "merge: the source's other traits join");
    CHECK_STR(member_text(u, "first_name"), "C***", "merge: the target's mask wins");
    CHECK_STR(member_text(u, "email"), "a***@example.net", "merge: the email mask joins");
    CHECK(member_number(u, "events.Product Viewed.count") == 3,
          "merge: computed traits count the moved events");
    cJSON_Delete(u);
    CHECK(store_event_count(s, "u-merge", "Product Viewed", 0, INT64_MAX) == 3 &&
              store_event_count(s, "anon-7", "Product Viewed", 0, INT64_MAX) == 0,
          "merge: events moved to the target");
    CHECK(store_profile_exists(s, "anon-7") == 0, "merge: the source profile is gone");
    CHECK(store_profile_exists(s, "u-merge") == 1, "merge: the target exists");
    snprintf(reason, sizeof reason, "merged into instance %" PRId64, ids.target_welcome);
    CHECK(instance_is(s, ids.target_welcome, INSTANCE_WAITING, "u-merge", NULL),
          "merge: the older instance (smaller id) stays live");
    CHECK(instance_is(s, ids.anon_welcome, INSTANCE_EXITED, "u-merge", reason),
          "merge: the newer is exited 'merged into instance N'");
    CHECK(instance_is(s, ids.anon_browse, INSTANCE_WAITING, "u-merge", NULL),
          "merge: a non-duplicate instance moves and stays live");
    snprintf(buf, sizeof buf, "SELECT count(*) FROM timers WHERE instance_id = %" PRId64,
             ids.anon_welcome);
    CHECK(query_int(s, buf) == 0, "merge: the ended instance's timer is removed");
    CHECK(query_int(s, "SELECT count(*) FROM merges WHERE from_id = 'anon-7'"
                       " AND into_id = 'u-merge'") == 2,
          "merge: recorded (the profile and the ended instance)");
    privacy *fresh = open_privacy(s, key_path, NULL, 0);
    CHECK(fresh && text_is(privacy_reveal(fresh, s, "u-merge", "email"),
                           "anon.visitor@example.net"),
          "merge: re-encrypted PII revealable by a fresh handle (no cached key)");
    privacy_free(fresh);
}

/* The other way round: the source's instance is the older, so it is kept. */
static void test_merge_source_older(privacy *p, store *s)
{
    char reason[64];
    store_begin(s);
    apply(p, s, "anon-8", "{\"phone\":\"+33 6 12 34 56 78\"}");
    apply(p, s, "u-merge2",
          "{\"phone\":\"+33 7 98 76 54 32\",\"email\":\"target.two@example.net\"}");
    int64_t anon_cart = add_instance(s, "cart", "anon-8");
    int64_t target_cart = add_instance(s, "cart", "u-merge2");
    store_commit(s);
    store_begin(s);
    int merged = privacy_merge(p, s, "anon-8", "u-merge2");
    CHECK(merged == 0 && store_profile_merge(s, "anon-8", "u-merge2", T0) == 1,
          "merge 2: one duplicate ended");
    store_commit(s);
    snprintf(reason, sizeof reason, "merged into instance %" PRId64, anon_cart);
    CHECK(instance_is(s, anon_cart, INSTANCE_WAITING, "u-merge2", NULL),
          "merge 2: the source's older instance is kept, now the target's");
    CHECK(instance_is(s, target_cart, INSTANCE_EXITED, "u-merge2", reason),
          "merge 2: the target's newer instance is exited");
    CHECK(text_is(privacy_reveal(p, s, "u-merge2", "phone"), "+33 7 98 76 54 32"),
          "merge 2: the target's phone is kept");
    CHECK(text_is(privacy_find(p, s, "phone", "+33798765432"), "u-merge2"),
          "merge 2: the target's phone still finds it");
    char *found = privacy_find(p, s, "phone", "+33 6 12 34 56 78");
    CHECK(!found, "merge 2: the source's phone, replaced by the target's, finds nobody");
    free(found);
}

/* ---- forget ---------------------------------------------------------------- */

static int64_t forget_setup(privacy *p, store *s)
{
    store_begin(s);
    apply(p, s, "u-forget",
          "{\"email\":\"forget.me@example.com\",\"phone\":\"+49 30 901820\","
          "\"first_name\":\"Friedhelm\",\"plan\":\"pro\"}");
    add_event(s, "m-forget-1", "Order Completed", "u-forget", T0 - DAY_MS,
              "{\"properties\":{\"revenue\":5}}");
    int64_t inst = add_instance(s, "welcome", "u-forget");
    store_history_append(s, inst, 0, "now", "1793631600000");
    store_outbox_insert(s, "k-forget-1", inst, "welcome", "u-forget", "email", "hello",
                        "{\"first\":\"F***\"}", T0);
    store_outbox_insert(s, "k-forget-2", inst, "welcome", "u-forget", "email", "sent",
                        "{}", T0);
    store_run(s, "UPDATE outbox SET status = 'delivered' WHERE idempotency_key = ?1",
              "k-forget-2", NULL, 0);
    message_log_row row = {inst,        "u-forget", "welcome", "email", "sent",
                           "delivered", NULL,       NULL,      T0};
    store_message_log(s, &row);
    store_identity_link(s, "anon-forget", "u-forget", T0);
    store_commit(s);
    return inst;
}

static void test_forget(privacy *p, store *s)
{
    char buf[64];
    int64_t inst = forget_setup(p, s);
    CHECK(text_is(privacy_find(p, s, "email", "forget.me@example.com"), "u-forget"),
          "forget: findable before");
    store_begin(s);
    CHECK(store_profile_forget(s, "u-forget", T0) == 0, "forget: store_profile_forget");
    CHECK(store_commit(s) == 0, "forget: committed");
    CHECK(text_is(privacy_reveal(p, s, "u-forget", "email"), NULL),
          "forget: privacy_reveal gives NULL");
    CHECK(store_profile_exists(s, "u-forget") == 0, "forget: the profile is gone");
    CHECK(text_is(privacy_find(p, s, "email", "forget.me@example.com"), NULL),
          "forget: the email no longer finds it");
    CHECK(query_int(s, "SELECT count(*) FROM profiles WHERE id = 'u-forget'") == 0,
          "forget: the data key is destroyed (with its row)");
    CHECK(instance_is(s, inst, INSTANCE_EXITED, "u-forget", "forgotten"),
          "forget: a live instance is exited 'forgotten'");
    CHECK_STR(query_text(s,
                         "SELECT status FROM outbox WHERE idempotency_key = 'k-forget-1'",
                         buf, sizeof buf),
              "cancelled", "forget: a queued message is cancelled");
    CHECK_STR(query_text(s,
                         "SELECT vars FROM outbox WHERE idempotency_key = 'k-forget-1'",
                         buf, sizeof buf),
              "{}", "forget: the cancelled message's variables are cleared");
    CHECK_STR(query_text(s,
                         "SELECT status FROM outbox WHERE idempotency_key = 'k-forget-2'",
                         buf, sizeof buf),
              "delivered", "forget: a delivered message keeps its status");
    CHECK(query_int(
              s, "SELECT count(*) FROM message_log WHERE profile_id = 'u-forget'") == 0 &&
              query_int(s, "SELECT count(*) FROM identities"
                           " WHERE profile_id = 'u-forget'") == 0,
          "forget: message log and linked ids deleted");
    CHECK(query_int(s, "SELECT count(*) FROM history") == 0 &&
              query_int(s, "SELECT count(*) FROM suppressions") == 2,
          "forget: history deleted; email and phone suppressed");
    store_begin(s);
    apply(p, s, "u-new", "{\"email\":\" Forget.Me@Example.COM\"}");
    apply(p, s, "u-new2", "{\"phone\":\"0049 30 901820\"}");
    store_commit(s);
    CHECK(text_is(store_suppression_reason(s, "u-new"), "forgotten"),
          "forget: a new profile with the same email is suppressed 'forgotten'");
    CHECK(text_is(store_suppression_reason(s, "u-new2"), "forgotten"),
          "forget: a new profile with the same phone is suppressed 'forgotten'");
    CHECK(text_is(store_suppression_reason(s, "u1"), NULL),
          "forget: other profiles are not suppressed");
}

/* PII given to a forgotten id afterwards, through the same handle, gets a
 * new data key and survives a restart (a cached key once outlived the
 * crypto-shredding). */
static void test_forget_then_reuse(privacy *p, store *s)
{
    store_begin(s);
    apply(p, s, "u-reuse", "{\"first_name\":\"Ottoline\"}");
    store_profile_forget(s, "u-reuse", T0);
    apply(p, s, "u-reuse", "{\"last_name\":\"Wimsey\"}");
    store_commit(s);
    privacy *fresh = open_privacy(s, key_path, NULL, 0);
    CHECK(
        fresh && text_is(privacy_reveal(fresh, s, "u-reuse", "last_name"), "Wimsey"),
        "forget: PII given to a forgotten id through the same handle survives a restart");
    privacy_free(fresh);
}

/* ---- computed traits and event windows ------------------------------------ */

static void computed_setup(store *s)
{
    store_begin(s);
    store_profile_merge_traits(s, "shopper",
                               "{\"plan\":\"pro\",\"order_count\":999,"
                               "\"revenue_total\":\"lots\",\"id\":\"fake\","
                               "\"events\":\"x\",\"first_seen\":1,\"last_seen\":2}");
    add_event(s, "c-id", NULL, "shopper", T0 - 20 * DAY_MS, "{}");
    add_event(s, "c-o1", "Order Completed", "shopper", T0 - 10 * DAY_MS,
              "{\"properties\":{\"revenue\":30.5,\"total\":40}}");
    add_event(s, "c-o2", "Order Completed", "shopper", T0 - 5 * DAY_MS,
              "{\"properties\":{\"total\":20}}");
    add_event(s, "c-o3", "Order Completed", "shopper", T0 - 3 * DAY_MS + HOUR_MS,
              "{\"properties\":{\"revenue\":12.25}}");
    add_event(s, "c-v1", "Product Viewed", "shopper", T0 - 4 * DAY_MS, "{}");
    add_event(s, "c-v2", "Product Viewed", "shopper", T0 - HOUR_MS, "{}");
    store_profile_merge_traits(s, "browser", "{\"days_since_last_order\":77}");
    add_event(s, "c-b1", "Product Viewed", "browser", T0 - HOUR_MS, "{}");
    store_commit(s);
}

static void test_computed_traits(store *s)
{
    computed_setup(s);
    char *text = store_profile_json(s, "shopper", T0);
    cJSON *shopper = text ? cJSON_Parse(text) : NULL;
    CHECK(shopper != NULL, "computed: profile JSON parses");
    CHECK(member_number(shopper, "order_count") == 3, "computed: order_count");
    CHECK(member_number(shopper, "revenue_total") == 62.75,
          "computed: revenue_total sums revenue, else total");
    CHECK(member_number(shopper, "days_since_last_order") == 2,
          "computed: days_since_last_order in whole days");
    CHECK(member_number(shopper, "first_seen") == (T0 - 20 * DAY_MS) / 1000,
          "computed: first_seen (an identify counts)");
    CHECK(member_number(shopper, "last_seen") == (T0 - HOUR_MS) / 1000,
          "computed: last_seen");
    CHECK(member_number(shopper, "events.Order Completed.count") == 3 &&
              member_number(shopper, "events.Order Completed.last_at") ==
                  (T0 - 3 * DAY_MS + HOUR_MS) / 1000,
          "computed: events[Order Completed] count and last_at");
    CHECK(member_number(shopper, "events.Product Viewed.count") == 2,
          "computed: events[Product Viewed] count");
    CHECK(cJSON_GetArraySize(member(shopper, "events")) == 2,
          "computed: unnamed (identify) events are not listed");
    CHECK_STR(member_text(shopper, "id"), "shopper", "computed: id overrides a trait");
    CHECK_STR(member_text(shopper, "plan"), "pro", "computed: other traits kept");
    const char *at = text ? strstr(text, "\"order_count\"") : NULL;
    CHECK(at && !strstr(at + 1, "\"order_count\"") && !strstr(text, "lots") &&
              !strstr(text, "fake"),
          "computed: traits named like computed ones are overridden, not duplicated");
    cJSON_Delete(shopper);
    free(text);
    cJSON *browser = load_profile(s, "browser");
    CHECK(member_number(browser, "order_count") == 0 &&
              member_number(browser, "revenue_total") == 0,
          "computed: no orders: order_count and revenue_total 0");
    CHECK(!member(browser, "days_since_last_order"),
          "computed: no orders: no days_since_last_order (the trait is dropped)");
    cJSON_Delete(browser);
    cJSON *nobody = load_profile(s, "nobody");
    CHECK(nobody && !member(nobody, "first_seen") &&
              cJSON_GetArraySize(member(nobody, "events")) == 0,
          "computed: a profile without events has no first_seen and no events");
    cJSON_Delete(nobody);
}

static void windows_setup(store *s)
{
    store_begin(s);
    add_event(s, "pv1", "Page Viewed", "counter", T0 - 5000, "{\"messageId\":\"pv1\"}");
    add_event(s, "pv2", "Page Viewed", "counter", T0 - 1000, "{\"messageId\":\"pv2\"}");
    add_event(s, "pv3", "Page Viewed", "counter", T0, "{\"messageId\":\"pv3\"}");
    add_event(s, "pv4", "Page Viewed", "counter", T0 + 1000, "{\"messageId\":\"pv4\"}");
    add_event(s, "pv5a", "Page Viewed", "counter", T0 + 9000, "{\"messageId\":\"pv5a\"}");
    add_event(s, "pv5b", "Page Viewed", "counter", T0 + 9000, "{\"messageId\":\"pv5b\"}");
    add_event(s, "ot1", "Other", "counter", T0, "{\"messageId\":\"ot1\"}");
    add_event(s, "pv-x", "Page Viewed", "counter2", T0, "{\"messageId\":\"pv-x\"}");
    store_commit(s);
}

static void test_event_windows(store *s)
{
    const char *pv = "Page Viewed";
    windows_setup(s);
    CHECK(store_event_count(s, "counter", pv, T0 - 2000, T0) == 2,
          "count: within 2 s of now: (now-2s, now]");
    CHECK(store_event_count(s, "counter", pv, T0 - 1000, T0) == 1,
          "count: the lower bound is exclusive");
    CHECK(store_event_count(s, "counter", pv, T0 - 6000, T0 - 5000) == 1,
          "count: the upper bound (until) is inclusive");
    CHECK(store_event_count(s, "counter", pv, T0 - 6000, T0) == 3,
          "count: events after until are not counted");
    CHECK(store_event_count(s, "counter", pv, 0, INT64_MAX) == 6, "count: all");
    CHECK(store_event_count(s, "counter", pv, T0, T0) == 0, "count: an empty window");
    CHECK(store_event_count(s, "counter", "Other", 0, INT64_MAX) == 1,
          "count: only the named event");
    CHECK(store_event_count(s, "counter", "Nope", 0, INT64_MAX) == 0,
          "count: an unknown event is 0");
    CHECK(store_event_count(s, "nobody", pv, 0, INT64_MAX) == 0,
          "count: another profile's events are not counted");
    CHECK(text_is(store_event_last(s, "counter", pv, T0), "{\"messageId\":\"pv3\"}"),
          "last: the latest at or before until");
    CHECK(text_is(store_event_last(s, "counter", pv, T0 - 1), "{\"messageId\":\"pv2\"}"),
          "last: until excludes later events");
    CHECK(
        text_is(store_event_last(s, "counter", pv, T0 - 5000), "{\"messageId\":\"pv1\"}"),
        "last: until is inclusive");
    CHECK(text_is(store_event_last(s, "counter", pv, T0 - 5001), NULL),
          "last: none before the first");
    CHECK(text_is(store_event_last(s, "counter", pv, INT64_MAX),
                  "{\"messageId\":\"pv5b\"}"),
          "last: a tie in time goes to the later insert");
    CHECK(text_is(store_event_last(s, "counter", "Nope", INT64_MAX), NULL),
          "last: an unknown event is NULL");
}

/* ---- on disk, and key rotation -------------------------------------------- */

static void test_nothing_plain_on_disk(store *s)
{
    char base64[64] = "";
    unsigned char master[64];
    size_t len = 0, master_len = 0;
    char *text = slurp(key_path, &len);
    if (text) sscanf(text, "nudge-key-v1 %63s", base64);
    free(text);
    int decoded = sodium_base642bin(master, sizeof master, base64, strlen(base64), NULL,
                                    &master_len, NULL, sodium_base64_VARIANT_ORIGINAL);
    CHECK(store_run(s, "SELECT 1", NULL, NULL, 0) == 0 && plaintexts_found(NULL) == 0,
          "disk: no plaintext PII in the database or its WAL");
    CHECK(decoded == 0 && master_len == VAULT_KEY_LEN && !on_disk(master, master_len) &&
              !on_disk(base64, strlen(base64)),
          "disk: the master key is not in the database");
    CHECK(on_disk("j***@example.com", 16),
          "disk: the masks are (the check can see text)");
}

static void test_rotation(privacy **pp, store *s)
{
    char old_id[17], new_id[17], id[17];
    const char *next = temp_path("nudge.key.new");
    CHECK(copy_file(key_path, temp_path("old.key")) == 0, "rotate: old key kept aside");
    key_id_of(key_path, old_id);
    CHECK(vault_write_new(next, err, sizeof err) == 0, "rotate: new key written");
    key_id_of(next, new_id);
    store_begin(s);
    CHECK(privacy_reseal(*pp, s, next, err, sizeof err) == 0, "rotate: privacy_reseal");
    CHECK(store_commit(s) == 0, "rotate: committed");
    CHECK(rename(next, key_path) == 0, "rotate: new key renamed over the old");
    privacy_free(*pp);
    *pp = open_privacy(s, key_path, NULL, 0);
    CHECK(*pp != NULL, "rotate: the new key opens the database");
    if (!*pp) return (void)printf("# %s\n", err);
    privacy_key_id(*pp, id);
    CHECK(!strcmp(id, new_id) && strcmp(id, old_id), "rotate: the new key is in use");
    CHECK(text_is(privacy_reveal(*pp, s, "u1", "email"), "john.smith@example.com"),
          "rotate: data still revealable");
    CHECK(text_is(privacy_reveal(*pp, s, "u-merge", "email"), "anon.visitor@example.net"),
          "rotate: merged data still revealable");
    CHECK(text_is(privacy_find(*pp, s, "phone", "15551234567"), "u1"),
          "rotate: the blind index still finds");
    privacy *old = open_privacy(s, temp_path("old.key"), NULL, 0);
    CHECK(old == NULL && strstr(err, temp_path("old.key")) != NULL,
          "rotate: the old key no longer opens, naming it");
    privacy_free(old);
}

/* A rotation that committed but did not rename is finished by the next
 * open; one that never committed leaves the old key in force. */
static void test_interrupted_rotation(privacy **pp, store *s)
{
    char id[17], next_id[17];
    const char *next = temp_path("nudge.key.new");
    vault_write_new(next, err, sizeof err);
    key_id_of(next, next_id);
    store_begin(s);
    privacy_reseal(*pp, s, next, err, sizeof err);
    store_commit(s);
    privacy_free(*pp);
    *pp = open_privacy(s, key_path, NULL, 0);
    CHECK(*pp != NULL, "interrupted rotation: the next open succeeds");
    if (!*pp) return (void)printf("# %s\n", err);
    privacy_key_id(*pp, id);
    CHECK(!strcmp(id, next_id) && access(next, F_OK) != 0,
          "interrupted rotation: KEY.new took the key file's place");
    key_id_of(key_path, id);
    CHECK_STR(id, next_id, "interrupted rotation: the key file holds the new key");
    CHECK(text_is(privacy_reveal(*pp, s, "u1", "first_name"), "Zebulon"),
          "interrupted rotation: data revealable");
    vault_write_new(next, err, sizeof err);
    store_begin(s);
    privacy_reseal(*pp, s, next, err, sizeof err);
    store_rollback(s);
    privacy_free(*pp);
    *pp = open_privacy(s, key_path, NULL, 0);
    if (*pp) privacy_key_id(*pp, id);
    CHECK(*pp && !strcmp(id, next_id) && access(next, F_OK) == 0,
          "rolled-back rotation: the old key stays in force, KEY.new not adopted");
    CHECK(*pp && text_is(privacy_reveal(*pp, s, "u1", "email"), "john.smith@example.com"),
          "rolled-back rotation: data revealable");
    unlink(next);
}

int main(void)
{
    if (vault_init() != 0) return 1;
    snprintf(dir, sizeof dir, "/tmp/nudge-privacy-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(db_path, sizeof db_path, "%s/nudge.db", dir);
    snprintf(key_path, sizeof key_path, "%s/nudge.key", dir);

    store *s = open_store(db_path);
    CHECK(s != NULL, "open: a new database");
    privacy *p = s ? test_key_file(s) : NULL;
    if (p) {
        capture_begin();
        test_apply_traits(p, s);
        test_reveal_and_find(p, s);
        test_null_removes(p, s);
        test_scrub_event(p);
        test_expose(p, s);
        test_merge(p, s);
        test_merge_source_older(p, s);
        test_forget(p, s);
        test_computed_traits(s);
        test_event_windows(s);
        capture_end();
        test_nothing_plain_on_disk(s);
        test_pii_arrays(p, s);
        test_forget_then_reuse(p, s);
        test_rotation(&p, s);
        if (p) test_interrupted_rotation(&p, s);
    }
    privacy_free(p);
    store_close(s);
    CHECK(plaintexts_found(db_path) == 0, "disk: no plaintext PII after close");

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    UNIT_DONE();
}
