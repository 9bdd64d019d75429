/* Unit tests for runtime/unsubscribe.c (tokens, URL, RFC 8058 headers) and
 * privacy_unsubscribe_key (made once, kept, re-sealed by key rotation)
 * against a real SQLite file and key file in a mkdtemp() folder.  Every
 * tamper is tried: each byte of payload and MAC flipped, truncation,
 * extension, another key, the other base64 alphabet, empty and oversize
 * input; no refusal repeats the token's content. */
#include "privacy.h"
#include "store.h"
#include "unsubscribe.h"
#include "vault.h"

#include "unit.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define PROFILE "jane@example.com" /* an id that looks like PII: never echoed */
#define ISSUED INT64_C(1793631600) /* 2026-11-02T15:00:00Z */

static unsigned char key[UNSUB_KEY_LEN], other_key[UNSUB_KEY_LEN];
static char err[200];

/* ---- helpers ----------------------------------------------------------- */

static void fixed_key(unsigned char *k, unsigned char seed)
{
    for (int i = 0; i < UNSUB_KEY_LEN; i++)
        k[i] = (unsigned char)(seed + i);
}

/* Reads TOKEN under KEY; the code, with the claims in *CL. */
static int read_token(const unsigned char *k, const char *token, unsub_claims *cl)
{
    err[0] = '\0';
    return unsub_token_read(k, token, cl, err, sizeof err);
}

/* The reason, and that it does not repeat the profile. */
static int refused(const char *token, int want)
{
    unsub_claims cl;
    int got = read_token(key, token, &cl);
    if (got != want) printf("# got %d, want %d (%s)\n", got, want, err);
    return got == want && err[0] && !strstr(err, "jane") && !cl.profile[0];
}

/* TOKEN decoded into RAW; its length. */
static size_t decode(const char *token, unsigned char *raw, size_t cap)
{
    size_t len = 0;
    if (sodium_base642bin(raw, cap, token, strlen(token), NULL, &len, NULL, VARIANT))
        return 0;
    return len;
}

static void encode(const unsigned char *raw, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, raw, len, VARIANT);
}

/* A signed token over an arbitrary PAYLOAD (as a key holder could make). */
static void sign(const unsigned char *payload, size_t len, char *out, size_t cap)
{
    unsigned char raw[1024];
    memcpy(raw, payload, len);
    crypto_auth(raw + len, raw, len, key);
    encode(raw, len + UNSUB_MAC_LEN, out, cap);
}

/* ---- tokens ------------------------------------------------------------ */

static void test_round_trip(void)
{
    char token[UNSUB_TOKEN_MAX + 1];
    unsub_claims cl;
    CHECK(unsub_token_make(key, PROFILE, "email", "marketing", ISSUED, token,
                           sizeof token) == 0,
          "make: a token");
    CHECK(strspn(token,
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              strlen(token),
          "make: base64url characters only, no padding");
    CHECK(read_token(key, token, &cl) == UNSUB_OK, "read: the token verifies");
    CHECK(cl.version == UNSUB_VERSION, "claims: version");
    CHECK_STR(cl.profile, PROFILE, "claims: profile");
    CHECK_STR(cl.channel, "email", "claims: channel");
    CHECK_STR(cl.purpose, "marketing", "claims: purpose");
    CHECK(cl.issued_s == ISSUED, "claims: issued_s");
    /* Tokens sent in mail must keep verifying across releases: the layout
     * is pinned (HMAC is deterministic; checked against Python's
     * hmac.new(key, payload, sha512).digest()[:32]). */
    CHECK_STR(token,
              "AQAAAABq6KVwEGphbmVAZXhhbXBsZS5jb20FZW1haWwJbWFya2V0aW5n"
              "svfRJjwC4oeIHjCWjwTAnI793ZpTPVjNx96CnIdXrRw",
              "make: the version-1 layout is stable (known answer)");
    CHECK(unsub_token_make(key, "u2", "sms", "transactional", -5, token, sizeof token) ==
                  0 &&
              read_token(key, token, &cl) == UNSUB_OK && cl.issued_s == -5 &&
              !strcmp(cl.purpose, "transactional") && !strcmp(cl.profile, "u2"),
          "read: another person, channel, purpose and time");
}

static void test_limits(void)
{
    char token[UNSUB_TOKEN_MAX + 1], profile[UNSUB_PROFILE_MAX + 2],
        channel[UNSUB_CHANNEL_MAX + 1], purpose[UNSUB_PURPOSE_MAX + 1];
    unsub_claims cl;
    memset(profile, 'p', sizeof profile - 1), profile[UNSUB_PROFILE_MAX] = '\0';
    memset(channel, 'c', sizeof channel - 1), channel[UNSUB_CHANNEL_MAX] = '\0';
    memset(purpose, 'u', sizeof purpose - 1), purpose[UNSUB_PURPOSE_MAX] = '\0';
    CHECK(unsub_token_make(key, profile, channel, purpose, INT64_MAX, token,
                           sizeof token) == 0 &&
              strlen(token) == UNSUB_TOKEN_MAX,
          "limits: the largest token is UNSUB_TOKEN_MAX characters");
    CHECK(read_token(key, token, &cl) == UNSUB_OK && !strcmp(cl.profile, profile) &&
              cl.issued_s == INT64_MAX,
          "limits: ... and verifies");
    CHECK(unsub_token_make(key, profile, channel, purpose, 0, token, UNSUB_TOKEN_MAX) ==
              -1,
          "make: refuses an output buffer too small");
    profile[UNSUB_PROFILE_MAX] = 'p', profile[UNSUB_PROFILE_MAX + 1] = '\0';
    CHECK(unsub_token_make(key, profile, "email", "marketing", 0, token, sizeof token) ==
              -1,
          "make: refuses a profile id over UNSUB_PROFILE_MAX bytes");
    CHECK(unsub_token_make(key, "", "email", "marketing", 0, token, sizeof token) == -1 &&
              unsub_token_make(key, "u", "", "marketing", 0, token, sizeof token) == -1 &&
              unsub_token_make(key, "u", "email", "", 0, token, sizeof token) == -1,
          "make: refuses an empty profile, channel or purpose");
}

/* Every byte of payload and MAC flipped, in the decoded token. */
static void test_flips(const char *token)
{
    unsigned char raw[1024];
    char bad[UNSUB_TOKEN_MAX + 1];
    size_t len = decode(token, raw, sizeof raw), payload = len - UNSUB_MAC_LEN;
    int payload_ok = 1, mac_ok = 1;
    for (size_t i = 0; i < len; i++) {
        raw[i] ^= 0x01;
        encode(raw, len, bad, sizeof bad);
        int want = i == 0 ? UNSUB_BAD_VERSION : UNSUB_BAD_MAC;
        if (!refused(bad, want)) *(i < payload ? &payload_ok : &mac_ok) = 0;
        raw[i] ^= 0x01;
    }
    CHECK(len > UNSUB_MAC_LEN && payload_ok,
          "tamper: every payload byte flipped is refused (version byte: bad version)");
    CHECK(mac_ok, "tamper: every MAC byte flipped is refused (bad MAC)");
}

static void test_truncated_extended(const char *token)
{
    unsigned char raw[1024];
    char bad[UNSUB_TOKEN_MAX + 2];
    size_t len = decode(token, raw, sizeof raw);
    int all = 1;
    for (size_t n = 0; n < strlen(token); n++) {
        unsub_claims cl;
        snprintf(bad, sizeof bad, "%.*s", (int)n, token);
        if (read_token(key, bad, &cl) == UNSUB_OK || strstr(err, "jane")) all = 0;
    }
    CHECK(all, "tamper: every prefix of the text is refused");
    encode(raw, len - 1, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_BAD_MAC), "tamper: the last byte cut off: bad MAC");
    encode(raw, 20, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_TRUNCATED),
          "tamper: shorter than payload and MAC: truncated");
    raw[len] = 'x';
    encode(raw, len + 1, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_BAD_MAC), "tamper: a byte appended: bad MAC");
    snprintf(bad, sizeof bad, "%sA", token);
    CHECK(read_token(key, bad, &(unsub_claims){0}) < 0,
          "tamper: a character appended: refused");
}

static void test_encodings(const char *token)
{
    unsigned char raw[1024];
    char bad[UNSUB_TOKEN_MAX + 8], mine[UNSUB_TOKEN_MAX + 1];
    size_t len = decode(token, raw, sizeof raw);
    sodium_bin2base64(bad, sizeof bad, raw, len, sodium_base64_VARIANT_ORIGINAL);
    CHECK(refused(bad, UNSUB_BAD_ENCODING),
          "encoding: standard base64 with padding refused");
    /* A token holding '-' or '_', spelled with '+' and '/' instead. */
    int64_t t = ISSUED;
    do
        unsub_token_make(key, PROFILE, "email", "marketing", t++, mine, sizeof mine);
    while (!strpbrk(mine, "-_"));
    for (char *p = mine; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    CHECK(refused(mine, UNSUB_BAD_ENCODING), "encoding: the '+' '/' alphabet refused");
    snprintf(bad, sizeof bad, "%.10s %s", token, token + 10);
    CHECK(refused(bad, UNSUB_BAD_ENCODING), "encoding: a space inside refused");
    CHECK(refused("", UNSUB_EMPTY), "empty: refused");
    CHECK(refused(NULL, UNSUB_EMPTY), "NULL: refused as empty");
    char huge[UNSUB_TOKEN_MAX + 2];
    memset(huge, 'A', sizeof huge - 1), huge[sizeof huge - 1] = '\0';
    CHECK(refused(huge, UNSUB_TOO_LONG), "oversize: over UNSUB_TOKEN_MAX refused unread");
}

static void test_keys_and_layout(const char *token)
{
    char bad[UNSUB_TOKEN_MAX + 1];
    unsub_claims cl;
    CHECK(read_token(other_key, token, &cl) == UNSUB_BAD_MAC && !cl.profile[0],
          "another key: bad MAC, claims zeroed");
    CHECK(strstr(err, "another database") != NULL, "another key: the reason says so");
    unsigned char v2[] = {2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'u', 1, 'c', 1, 'p'};
    sign(v2, sizeof v2, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_BAD_VERSION), "version: a signed version-2 token refused");
    unsigned char extra[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'u', 1, 'c', 1, 'p', 0};
    sign(extra, sizeof extra, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_MALFORMED), "layout: signed, a byte left over: malformed");
    unsigned char zero[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'c', 1, 'p', 1, 'x'};
    sign(zero, sizeof zero, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_MALFORMED), "layout: signed, an empty profile: malformed");
    unsigned char nul[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 'u', 0, 1, 'c', 1, 'p'};
    sign(nul, sizeof nul, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_MALFORMED), "layout: signed, a NUL in a string: malformed");
    unsigned char over[] = {1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'u', 1, 'c', 9, 'p'};
    sign(over, sizeof over, bad, sizeof bad);
    CHECK(refused(bad, UNSUB_MALFORMED),
          "layout: signed, a length past the end: malformed");
}

/* ---- URL and headers --------------------------------------------------- */

static void test_url(void)
{
    char url[700];
    CHECK(unsub_url("https://x.test/u", "T0k", url, sizeof url) == 0 &&
              !strcmp(url, "https://x.test/u?token=T0k"),
          "url: token as the query");
    CHECK(unsub_url("https://x.test/u?list=news", "T0k", url, sizeof url) == 0 &&
              !strcmp(url, "https://x.test/u?list=news&token=T0k"),
          "url: token added to a query");
    CHECK(unsub_url("https://x.test/u?", "T0k", url, sizeof url) == 0 &&
              !strcmp(url, "https://x.test/u?token=T0k"),
          "url: after a bare '?'");
    CHECK(unsub_url("http://x.test/u", "T0k", url, sizeof url) == -1,
          "url: http refused (RFC 8058 wants https)");
    CHECK(unsub_url("https://x.test/u#f", "T0k", url, sizeof url) == -1,
          "url: a fragment refused");
    CHECK(unsub_url("https://x.test/a b", "T0k", url, sizeof url) == -1 &&
              unsub_url("https://x.test/a,b", "T0k", url, sizeof url) == -1 &&
              unsub_url("https://", "T0k", url, sizeof url) == -1,
          "url: a space, a comma or no host refused");
    CHECK(unsub_url("https://x.test/u", "T0k", url, 20) == -1,
          "url: a short buffer refused");
}

static void test_headers(void)
{
    char h[1200], long_url[1000];
    CHECK(unsub_headers("https://x.test/u?token=T0k", NULL, h, sizeof h) == 0,
          "headers: made");
    CHECK_STR(h,
              "List-Unsubscribe: <https://x.test/u?token=T0k>\r\n"
              "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
              "headers: the two RFC 8058 lines, exact");
    CHECK(unsub_headers("https://x.test/u?token=T0k",
                        "mailto:unsub@x.test?subject=unsubscribe", h, sizeof h) == 0,
          "headers: with a mailto");
    CHECK_STR(h,
              "List-Unsubscribe: <https://x.test/u?token=T0k>, "
              "<mailto:unsub@x.test?subject=unsubscribe>\r\n"
              "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
              "headers: https first, then the mailto, exact");
    CHECK(unsub_headers("http://x.test/u", NULL, h, sizeof h) == -1 &&
              unsub_headers("https://x.test/u", "unsub@x.test", h, sizeof h) == -1 &&
              unsub_headers("https://x.test/u>", NULL, h, sizeof h) == -1 &&
              unsub_headers("https://x.test/u\r\nBcc: a@b.test", NULL, h, sizeof h) == -1,
          "headers: no https, no mailto:, '>' or CRLF injection refused");
    memset(long_url, 'a', sizeof long_url - 1), long_url[sizeof long_url - 1] = '\0';
    memcpy(long_url, "https://", 8);
    CHECK(unsub_headers(long_url, NULL, h, sizeof h) == -1,
          "headers: a line over 998 characters refused");
    CHECK(unsub_headers("https://x.test/u", NULL, h, 40) == -1,
          "headers: a short buffer refused");
}

/* ---- the key in the database ------------------------------------------- */

static privacy *open_privacy(store *s, const char *key_file)
{
    privacy *p = NULL;
    char e[800];
    privacy_options o = {.key_file = key_file};
    if (privacy_open(s, &o, &p, e, sizeof e)) printf("# privacy_open: %s\n", e);
    return p;
}

static void test_database_key(void)
{
    char dir[] = "/tmp/nudge-unsub-XXXXXX", db[80], kf[80], next[80], e[800];
    unsigned char k1[32], k2[32], k3[32];
    store *s = NULL;
    if (!mkdtemp(dir)) return;
    snprintf(db, sizeof db, "%s/u.db", dir), snprintf(kf, sizeof kf, "%s/nudge.key", dir);
    snprintf(next, sizeof next, "%s/nudge.key.new", dir);
    CHECK(store_open(db, &s, e, sizeof e) == 0, "key: store opened");
    privacy *p = open_privacy(s, kf);
    CHECK(p && privacy_unsubscribe_key(p, s, k1) == 0, "key: made on first use");
    CHECK(store_scalar(s, "SELECT count(*) FROM secrets WHERE name = 'unsubscribe'") == 1,
          "key: sealed in the secrets table");
    CHECK(privacy_unsubscribe_key(p, s, k2) == 0 && !memcmp(k1, k2, 32),
          "key: the same on the next call");
    CHECK(vault_write_new(next, e, sizeof e) == 0 && store_begin(s) == 0 &&
              privacy_reseal(p, s, next, e, sizeof e) == 0 && store_commit(s) == 0 &&
              rename(next, kf) == 0,
          "key: master key rotated");
    privacy_free(p);
    p = open_privacy(s, kf);
    CHECK(p && privacy_unsubscribe_key(p, s, k3) == 0 && !memcmp(k1, k3, 32),
          "key: the same unsubscribe key under the new master key");
    privacy_free(p);
    store_close(s);
    unlink(db), unlink(kf);
    char wal[90];
    snprintf(wal, sizeof wal, "%s-wal", db), unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db), unlink(wal);
    rmdir(dir);
}

int main(void)
{
    char token[UNSUB_TOKEN_MAX + 1];
    if (sodium_init() < 0) return 2;
    fixed_key(key, 1), fixed_key(other_key, 2);
    test_round_trip();
    test_limits();
    unsub_token_make(key, PROFILE, "email", "marketing", ISSUED, token, sizeof token);
    test_flips(token);
    test_truncated_extended(token);
    test_encodings(token);
    test_keys_and_layout(token);
    test_url();
    test_headers();
    test_database_key();
    UNIT_DONE();
}
