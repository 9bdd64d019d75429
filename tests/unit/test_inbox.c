/* Unit tests for `nudge serve`'s inbox (runtime/inbox.c, inbox_pack.c) on
 * a real SQLite file: events packed and unpacked field for field, rows
 * read back after a cursor in whole rows, pruned, kept across a reopen,
 * sealed (no PII in the file, a wrong key or a moved row does not open),
 * and a damaged row refused rather than misread. */
#include "inbox.h"

#include "unit.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static char dir[64], path[128];
static unsigned char key[VAULT_KEY_LEN];

static nudge_event event(const char *user, const char *message_id, const char *raw)
{
    nudge_event e = {.type = "track",
                     .user_id = user,
                     .profile_id = user,
                     .name = "Cart Viewed",
                     .message_id = message_id,
                     .raw = raw,
                     .ts_ms = 1793631600123,
                     .line = 7};
    e.raw_len = strlen(raw);
    return e;
}

static void test_pack_round_trip(void)
{
    nudge_event in[2] = {event("u1", "m1", "{\"a\":1}"), {0}};
    in[1] = (nudge_event){.type = "identify",
                          .anonymous_id = "anon-2",
                          .profile_id = "anon-2",
                          .message_id = "m2",
                          .raw = "{}",
                          .traits_json = "{\"email\":\"p@example.test\"}",
                          .previous_id = "old",
                          .ts_ms = -5,
                          .line = 2};
    size_t len = 0;
    char *packed = inbox_pack(in, 2, &len);
    nudge_event out[2];
    CHECK(packed && inbox_unpack(packed, len, 2, out) == 0, "pack: two events unpack");
    CHECK_STR(out[0].raw, "{\"a\":1}", "pack: raw text");
    CHECK(out[0].raw_len == 7 && out[0].ts_ms == 1793631600123 && out[0].line == 7,
          "pack: length, timestamp and line");
    CHECK(!out[0].anonymous_id && !out[0].traits_json && !out[0].previous_id,
          "pack: absent fields stay absent");
    CHECK_STR(out[0].name, "Cart Viewed", "pack: name");
    CHECK_STR(out[1].profile_id, "anon-2", "pack: the profile is the anonymous id");
    CHECK_STR(out[1].traits_json, "{\"email\":\"p@example.test\"}", "pack: traits");
    CHECK(out[1].ts_ms == -5 && !out[1].user_id && !out[1].name, "pack: negative time");
    CHECK(inbox_unpack(packed, len - 1, 2, out) == -1, "pack: a cut row is refused");
    CHECK(inbox_unpack(packed, len, 3, out) == -1, "pack: a wrong count is refused");
    CHECK(inbox_unpack(packed, len, 1, out) == -1, "pack: left-over bytes are refused");
    free(packed);
}

/* Adds a row of N events, user U, in its own transaction. */
static int add_row(inbox *b, int64_t id, int n, const char *user)
{
    nudge_event ev[8];
    char ids[8][16];
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "r%lld-%d", (long long)id, i);
        ev[i] = event(user, ids[i], "{\"email\":\"secret.person@example.test\"}");
    }
    size_t len = 0;
    void *packed = inbox_pack(ev, n, &len);
    int rc = inbox_begin(b) || inbox_add(b, id, packed, len, n) || inbox_commit(b);
    free(packed);
    return rc;
}

static void test_rows(void)
{
    char err[300] = "";
    inbox *b = inbox_open(path, key, err, sizeof err);
    CHECK(b != NULL, "open: a new inbox");
    if (!b) return (void)printf("# %s\n", err);
    CHECK(inbox_last_id(b) == 0, "open: empty");
    CHECK(!add_row(b, 1, 3, "u1") && !add_row(b, 2, 2, "u2") && !add_row(b, 3, 4, "u3"),
          "add: three rows");
    CHECK(inbox_last_id(b) == 3 && inbox_events_after(b, 1) == 6, "add: ids and counts");
    inbox_batch got;
    CHECK(inbox_read(b, 0, 4, &got) == 1 && got.row_count == 2 && got.count == 5 &&
              got.last_id == 2,
          "read: whole rows until the limit");
    CHECK_STR(got.events[3].message_id, "r2-0", "read: events in order");
    inbox_batch_free(&got);
    CHECK(inbox_read(b, 0, 1, &got) == 1 && got.row_count == 1 && got.count == 3,
          "read: at least one row, even over the limit");
    inbox_batch_free(&got);
    CHECK(inbox_read(b, 2, 100, &got) == 1 && got.count == 4 && got.last_id == 3,
          "read: after the cursor");
    CHECK_STR(got.events[0].profile_id, "u3", "read: the event's profile");
    inbox_batch_free(&got);
    CHECK(inbox_read(b, 3, 100, &got) == 0, "read: nothing after the last");
    CHECK(!inbox_begin(b) && !inbox_prune(b, 2) && !inbox_commit(b), "prune: up to 2");
    CHECK(inbox_read(b, 0, 100, &got) == 1 && got.row_count == 1 && got.last_id == 3,
          "prune: only row 3 is left");
    inbox_batch_free(&got);
    inbox_close(b);
    b = inbox_open(path, key, err, sizeof err);
    CHECK(b && inbox_last_id(b) == 3, "reopen: the rows are kept");
    inbox_close(b);
}

/* 1 when the inbox file or its WAL holds TEXT. */
static int file_has(const char *text)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "cat '%s' '%s-wal' 2>/dev/null | grep -qa '%s'", path, path,
             text);
    return system(cmd) == 0;
}

static void test_sealed(void)
{
    char err[300] = "";
    unsigned char other[VAULT_KEY_LEN];
    inbox_batch got;
    CHECK(!file_has("secret.person@example.test"), "sealed: no PII in the file");
    CHECK(file_has("CREATE TABLE inbox"), "sealed: (the file is the one read)");
    randombytes_buf(other, sizeof other);
    inbox *b = inbox_open(path, other, err, sizeof err);
    CHECK(b && inbox_read(b, 0, 100, &got) == -1, "sealed: a wrong key does not open");
    inbox_close(b);
    /* a row's blob moved under another id fails: the id is bound in */
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    CHECK(sqlite3_exec(db, "UPDATE inbox SET id = 9 WHERE id = 3", NULL, NULL, NULL) ==
              SQLITE_OK,
          "sealed: (row moved)");
    sqlite3_close(db);
    b = inbox_open(path, key, err, sizeof err);
    CHECK(b && inbox_read(b, 0, 100, &got) == -1, "sealed: a moved row does not open");
    inbox_close(b);
}

static void test_newer_schema(void)
{
    char err[300] = "", other[160];
    snprintf(other, sizeof other, "%s/newer.inbox", dir);
    sqlite3 *db = NULL;
    sqlite3_open(other, &db);
    sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL);
    sqlite3_close(db);
    inbox *b = inbox_open(other, key, err, sizeof err);
    CHECK(!b && strstr(err, "schema version is 7"), "open: a newer inbox is refused");
    inbox_close(b);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    snprintf(dir, sizeof dir, "/tmp/nudge-inbox-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(path, sizeof path, "%s/t.db.inbox", dir);
    randombytes_buf(key, sizeof key);
    test_pack_round_trip();
    test_rows();
    test_sealed();
    test_newer_schema();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) printf("# cannot remove %s\n", dir);
    UNIT_DONE();
}
