/* Unit tests for runtime/pii_hash.c: per-kind, per-target normalization,
 * SHA-256 against the worked examples the platforms publish (each cited),
 * masking, and the errors.  Other expected hashes: printf '%s' X | sha256sum. */
#include "pii_hash.h"
#include "unit.h"

#include <sodium.h>

static const char *norm(const char *kind, const char *value, const char *target)
{
    static char out[256];
    char err[300];
    return pii_normalize(kind, value, target, out, sizeof out, err, sizeof err) ? NULL
                                                                                : out;
}

static const char *hash(const char *kind, const char *value, const char *target)
{
    static char hex[65];
    char err[300];
    return pii_hash(kind, value, target, hex, err, sizeof err) ? NULL : hex;
}

/* The message of a failing pii_hash, or "" when it unexpectedly succeeds. */
static const char *hash_error(const char *kind, const char *value, const char *target)
{
    static char err[300];
    char hex[65];
    return pii_hash(kind, value, target, hex, err, sizeof err) ? err : "";
}

static const char *mask(const char *value)
{
    static char out[128];
    pii_mask(value, out, sizeof out);
    return out;
}

/* Meta, "Customer Information Parameters" (Conversions API),
 * https://developers.facebook.com/docs/marketing-api/conversions-api/parameters/customer-information-parameters
 * (same table at
 * .../documentation/ads-commerce/conversions-api/parameters/customer-information-parameters.md)
 */
static void meta_published_examples(void)
{
    /* em: "John_Smith@gmail.com" -> "john_smith@gmail.com" -> 62a14e44... */
    CHECK_STR(hash("email", "John_Smith@gmail.com", "meta"),
              "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f",
              "meta doc: em John_Smith@gmail.com");
    /* ph: US "(650)555-1212" -> "16505551212" -> e323ec62...  The doc's input
     * leaves the US country code implicit; we require it, so "+1 (650)555-1212". */
    CHECK_STR(norm("phone", "+1 (650)555-1212", "meta"), "16505551212",
              "meta doc: ph normalized");
    CHECK_STR(hash("phone", "+1 (650)555-1212", "meta"),
              "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176",
              "meta doc: ph (650)555-1212 with country code");
    /* fn: "Mary" -> "mary" -> 6915771b...; "정" kept as UTF-8 -> 8fa8cd9c...;
     * "Valéry" -> "valéry" -> 08e1996b... (ASCII lowered, é kept) */
    CHECK_STR(hash("first_name", "Mary", "meta"),
              "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec",
              "meta doc: fn Mary");
    CHECK_STR(hash("first_name", "\xEC\xA0\x95", "meta"),
              "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14",
              "meta doc: fn UTF-8 jeong kept as is");
    CHECK_STR(hash("last_name", "Val\xC3\xA9ry", "meta"),
              "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c",
              "meta doc: Valery with accent, ASCII lowered only (ln uses fn rules)");
    /* db: "2/16/1997" -> "19970216" -> 01acdbf6...  We take ISO input. */
    CHECK_STR(hash("dob", "1997-02-16", "meta"),
              "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c",
              "meta doc: db 19970216 from 1997-02-16");
    /* country: "United States" -> "us" -> 79adb2a2... */
    CHECK_STR(hash("country", "US", "meta"),
              "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621",
              "meta doc: country us");
}

/* Snap, Conversions API "Parameters" (same rules as Meta),
 * https://developers.snap.com/api/marketing-api/Conversions-API/Parameters */
static void snap_published_examples(void)
{
    /* em: "Person@Example.com" -> "person@example.com" -> 542d2401... */
    CHECK_STR(hash("email", "Person@Example.com", "meta"),
              "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345",
              "snap doc: em Person@Example.com");
    /* ph: "+44 844 412 4653" -> "448444124653" -> dc008fda... */
    CHECK_STR(norm("phone", "+44 844 412 4653", "meta"), "448444124653",
              "snap doc: ph normalized");
    CHECK_STR(hash("phone", "+44 844 412 4653", "meta"),
              "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383",
              "snap doc: ph +44 844 412 4653");
    CHECK_STR(hash("phone", "0044 844 412 4653", "meta"),
              "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383",
              "snap doc: ph with 00 instead of +");
}

/* Google Data Manager API, "Format user data",
 * https://developers.google.com/data-manager/api/get-started/formatting :
 * US "(800)555-0100" -> "+18005550100" (the doc gives no hash; expected one
 * from sha256sum).  Google Ads API "Manage online click conversions" /
 * CM360 "Enhanced Conversions": trim, lowercase, E.164, drop '.' before
 * @gmail.com / @googlemail.com; country, state, city, zip not hashed. */
static void google_rules(void)
{
    CHECK_STR(norm("phone", "+1 (800) 555-0100", "google"), "+18005550100",
              "google doc: phone E.164 with +");
    CHECK_STR(hash("phone", "+1 (800) 555-0100", "google"),
              "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30",
              "google doc: phone +18005550100 hash");
    CHECK_STR(norm("phone", "18005550100", "google"), "+18005550100",
              "google: digits with country code get the +");
    CHECK_STR(norm("email", " John.Smith@Gmail.com ", "google"), "johnsmith@gmail.com",
              "google: gmail dots removed");
    CHECK_STR(norm("email", "a.b.c@GoogleMail.com", "google"), "abc@googlemail.com",
              "google: googlemail dots removed");
    CHECK_STR(norm("email", "John.Smith@example.com", "google"), "john.smith@example.com",
              "google: other domains keep their dots");
    CHECK_STR(norm("email", "john smith@gmail.com", "google"), "johnsmith@gmail.com",
              "google: inner whitespace removed");
    CHECK_STR(hash("email", " John.Smith@Gmail.com ", "google"),
              "3586de92bb3636d0885a12eff961429a32e4ebd764b96f50d85d016f9338d586",
              "google: hash of johnsmith@gmail.com");
    CHECK_STR(norm("first_name", " Mary-Ann ", "google"), "mary-ann",
              "google: names trimmed and lowercased only");
    CHECK_STR(norm("city", "New York", "google"), "new york",
              "google: city normalized (plain)");
    CHECK_STR(norm("zip", "94035-1234", "google"), "94035-1234",
              "google: zip kept (plain)");
    CHECK_STR(norm("country", "US", "google"), "us", "google: country code");
    CHECK_STR(norm("external_id", " U-42 ", "google"), "U-42",
              "google: external_id trimmed");
    CHECK(strstr(hash_error("city", "Paris", "google"), "plain text") != NULL,
          "google: city is not hashed");
    CHECK(strstr(hash_error("country", "fr", "google"), "plain text") != NULL,
          "google: country is not hashed");
    CHECK(norm("dob", "1997-02-16", "google") == NULL, "google: no date of birth");
}

/* Meta rules for every other kind (the doc's descriptions: ct "newyork",
 * st "ca", zp "94035" / UK "m11ae", external_id as given). */
static void meta_rules(void)
{
    CHECK_STR(norm("email", " John.Smith@Gmail.com ", NULL), "john.smith@gmail.com",
              "meta (default): email trim + lowercase, gmail dots kept");
    CHECK_STR(hash("email", " John.Smith@Gmail.com ", "meta"),
              "d0c648bc36f12061bec770df216cea2ab95851b9350fd54b658de53b0407767a",
              "meta: hash of john.smith@gmail.com");
    CHECK_STR(norm("phone", "+1 (555) 123-4567", "meta"), "15551234567",
              "meta: phone without +");
    CHECK_STR(norm("phone", "15551234567", "meta"), "15551234567",
              "meta: digits already with country code");
    CHECK_STR(norm("first_name", " O'Brien ", "meta"), "obrien",
              "meta: name punctuation dropped");
    CHECK_STR(norm("last_name", "Smith-Jones", "meta"), "smithjones", "meta: last name");
    CHECK_STR(norm("city", " New York ", "meta"), "newyork", "meta: city no spaces");
    CHECK_STR(hash("city", "New York", "meta"),
              "350c754ba4d38897693aa077ef43072a859d23f613443133fecbbd90a3512ca5",
              "meta: hash of newyork");
    CHECK_STR(norm("state", "CA", "meta"), "ca", "meta: state lowercase");
    CHECK_STR(norm("state", "New South Wales", "meta"), "newsouthwales",
              "meta: non-US state compacted");
    CHECK_STR(norm("zip", "94035-1234", "meta"), "94035", "meta: US ZIP+4 to 5 digits");
    CHECK_STR(norm("zip", "M1 1AE", "meta"), "m11ae", "meta: UK postcode");
    CHECK_STR(hash("zip", "M1 1AE", "meta"),
              "1dc694c2070e697769fb959b50671d76cafd430d8ca191fbdd0affcaea344ac5",
              "meta: hash of m11ae");
    CHECK_STR(norm("zip", "1987", "meta"), "1987", "meta: Australian postcode");
    CHECK_STR(norm("country", " gb ", "meta"), "gb", "meta: country");
    CHECK_STR(norm("dob", "19970216", "meta"), "19970216", "meta: dob YYYYMMDD");
    CHECK_STR(norm("dob", "2000-02-29", "meta"), "20000229", "meta: dob leap day");
    CHECK_STR(norm("external_id", "  User-42 ", "meta"), "User-42",
              "meta: external_id trimmed, case kept");
}

/* TikTok: email trim + lowercase; phone E.164 WITH '+' (see
 * docs/pii-hashing.md for the sources); other kinds as Meta. */
static void tiktok_rules(void)
{
    CHECK_STR(norm("email", " John.Smith@Gmail.com ", "tiktok"), "john.smith@gmail.com",
              "tiktok: email keeps gmail dots");
    CHECK_STR(norm("phone", "+1 (555) 123-4567", "tiktok"), "+15551234567",
              "tiktok: phone with +");
    CHECK_STR(hash("phone", "+1 (555) 123-4567", "tiktok"),
              "8a59780bb8cd2ba022bfa5ba2ea3b6e07af17a7d8b30c1f9b3390e36f69019e4",
              "tiktok: hash of +15551234567");
    CHECK_STR(hash("phone", "+1 (555) 123-4567", "meta"),
              "d6736136ea896c1bfdc553e0e86e702c70d060d805696ca3e4e9e0961353860a",
              "meta: hash of 15551234567 differs from tiktok");
    CHECK_STR(norm("first_name", "John", "tiktok"), "john", "tiktok: first name");
    CHECK_STR(hash("first_name", "John", "tiktok"),
              "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a",
              "tiktok: hash of john");
    CHECK_STR(norm("last_name", "Smith", "tiktok"), "smith", "tiktok: last name");
    CHECK_STR(norm("city", "San Francisco", "tiktok"), "sanfrancisco", "tiktok: city");
    CHECK_STR(norm("state", "Ca", "tiktok"), "ca", "tiktok: state");
    CHECK_STR(norm("zip", "94035", "tiktok"), "94035", "tiktok: zip");
    CHECK_STR(norm("country", "US", "tiktok"), "us", "tiktok: country");
    CHECK_STR(norm("dob", "1997-02-16", "tiktok"), "19970216", "tiktok: dob");
    CHECK_STR(norm("external_id", "abc ", "tiktok"), "abc", "tiktok: external_id");
}

static void errors(void)
{
    CHECK(strstr(hash_error("shoe_size", "42", NULL), "unknown kind 'shoe_size'") != NULL,
          "error: unknown kind named");
    CHECK(strstr(hash_error("email", "a@b.com", "bing"), "unknown target 'bing'") != NULL,
          "error: unknown target named");
    CHECK(strstr(hash_error("phone", "0612345678", "meta"), "+ or 00") != NULL,
          "error: national phone says what is expected");
    CHECK(strstr(hash_error("phone", "555-CALL-NOW", "meta"), "only digits") != NULL,
          "error: phone with letters");
    CHECK(hash("phone", "+1 555", "google") == NULL, "error: phone too short");
    CHECK(hash("phone", "+1234567890123456", "meta") == NULL, "error: phone too long");
    CHECK(hash("email", "not-an-email", "meta") == NULL, "error: email without @");
    CHECK(hash("email", "a@b@c", "meta") == NULL, "error: email with two @");
    CHECK(hash("email", "john smith@example.com", "meta") == NULL,
          "error: meta email with space");
    CHECK(hash("email", "   ", "meta") == NULL, "error: empty value");
    CHECK(hash("country", "United States", "meta") == NULL,
          "error: country name, not code");
    CHECK(hash("dob", "2/16/1997", "meta") == NULL, "error: ambiguous M/D/YYYY date");
    CHECK(hash("dob", "1997-02-30", "meta") == NULL, "error: no such day");
    CHECK(hash("dob", "1899-12-31", "meta") == NULL, "error: before 1900");
    CHECK(strstr(hash_error("phone", "0612345678", "meta"), "0612345678") == NULL,
          "error messages do not repeat the value");
    char small[8], err[300];
    CHECK(pii_normalize("email", "john@example.com", "meta", small, sizeof small, err,
                        sizeof err) == -1,
          "error: output buffer too small");
}

static void masking(void)
{
    CHECK_STR(mask("john@example.com"), "j***@example.com", "mask: email");
    CHECK_STR(mask("+15551234567"), "+1******4567", "mask: phone keeps last 4");
    CHECK_STR(mask("+1 (555) 123-4567"), "+1******4567", "mask: formatted phone");
    CHECK_STR(mask("Valentina"), "V***", "mask: other text");
    CHECK_STR(mask("\xC3\x89lodie"), "\xC3\x89***", "mask: UTF-8 first character whole");
    CHECK_STR(mask(""), "", "mask: empty");
    char tiny[4];
    pii_mask("john@example.com", tiny, sizeof tiny);
    CHECK_STR(tiny, "j**", "mask: truncates to fit");
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    meta_published_examples();
    snap_published_examples();
    google_rules();
    meta_rules();
    tiktok_rules();
    errors();
    masking();
    UNIT_DONE();
}
