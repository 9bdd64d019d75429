/* Normalized SHA-256 of personal data for ad-platform audience matching:
 * one normalizer per kind, with the per-target differences of Meta, Google
 * and TikTok (docs/pii-hashing.md cites the rules), plus masking. */
#include "pii_hash.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef enum { TARGET_META, TARGET_GOOGLE, TARGET_TIKTOK } pii_target;

/* How Google takes a kind: hashed, in plain text, or not at all. */
typedef enum { GOOGLE_HASHED, GOOGLE_PLAIN, GOOGLE_NONE } google_use;

/* An output buffer; callers size it so `put` never runs out (see
 * pii_normalize), and `put` still refuses to overrun. */
typedef struct text {
    char *data;
    size_t len, cap;
} text;

typedef int (*normalizer)(const char *s, size_t n, pii_target target, text *out,
                          char *err, size_t err_len);

static void put(text *t, char c)
{
    if (t->len + 1 < t->cap) t->data[t->len++] = c;
}

static void put_str(text *t, const char *s)
{
    while (*s)
        put(t, *s++);
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}
static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
static int is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* ASCII only: bytes of UTF-8 sequences (>= 0x80) pass through unchanged. */
static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

static int is_punct(unsigned char c)
{
    return c > ' ' && c < 0x7f && !is_digit(c) && !is_alpha(c);
}

/* ---- one normalizer per kind ------------------------------------------ */

/* Google: drop every '.' before the @ of a gmail.com / googlemail.com address. */
static void gmail_remove_dots(text *t, size_t at)
{
    const char *domain = t->data + at + 1;
    size_t domain_len = t->len - at - 1, w = 0;
    if (!(domain_len == 9 && !memcmp(domain, "gmail.com", 9)) &&
        !(domain_len == 14 && !memcmp(domain, "googlemail.com", 14)))
        return;
    for (size_t r = 0; r < t->len; r++)
        if (r >= at || t->data[r] != '.') t->data[w++] = t->data[r];
    t->len = w;
}

/* Trim (done by the caller) and lowercase; Google also removes inner
 * whitespace and the gmail dots. */
static int norm_email(const char *s, size_t n, pii_target target, text *out, char *err,
                      size_t err_len)
{
    size_t at = 0, ats = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_space((unsigned char)s[i])) {
            if (target == TARGET_GOOGLE) continue;
            return fail(err, err_len, "an email address cannot contain spaces");
        }
        if (s[i] == '@') at = out->len, ats++;
        put(out, lower(s[i]));
    }
    if (ats != 1 || at == 0 || at + 1 >= out->len)
        return fail(err, err_len, "expected an email address like name@example.com");
    if (target == TARGET_GOOGLE) gmail_remove_dots(out, at);
    return 0;
}

#define PHONE_EXPECTED                                                                   \
    "expected a phone number in international form: a leading + or 00 and the country "  \
    "code (e.g. +1 650 555 1212), or 7 to 15 digits that already start with the "        \
    "country code (not with 0)"

/* E.164: digits with the country code.  Meta wants them bare, Google and
 * TikTok with the leading '+'.  A national number (leading 0) is refused:
 * the country cannot be guessed. */
static int norm_phone(const char *s, size_t n, pii_target target, text *out, char *err,
                      size_t err_len)
{
    size_t i = 0, first;
    if (n && s[0] == '+')
        i = 1;
    else if (n >= 2 && s[0] == '0' && s[1] == '0')
        i = 2;
    if (target != TARGET_META) put(out, '+');
    first = out->len;
    for (; i < n; i++) {
        if (is_digit((unsigned char)s[i]))
            put(out, s[i]);
        else if (!s[i] || !memchr(" -.()/", s[i], 6))
            return fail(err, err_len,
                        "a phone number may hold only digits, spaces, "
                        "'-', '.', '(', ')', '/' and a leading '+'");
    }
    if (out->len - first < 7 || out->len - first > 15 || out->data[first] == '0')
        return fail(err, err_len, PHONE_EXPECTED);
    return 0;
}

/* Names: lowercase; Meta and TikTok also drop ASCII punctuation ("no
 * punctuation").  Inner spaces and UTF-8 letters stay. */
static int norm_name(const char *s, size_t n, pii_target target, text *out, char *err,
                     size_t err_len)
{
    for (size_t i = 0; i < n; i++)
        if (target == TARGET_GOOGLE || !is_punct((unsigned char)s[i]))
            put(out, lower(s[i]));
    return out->len ? 0 : fail(err, err_len, "a name needs at least one letter");
}

/* City and state: lowercase; Meta and TikTok drop spaces and punctuation
 * ("newyork", "ca"); Google takes them in plain text, only lowercased. */
static int norm_compact(const char *s, size_t n, pii_target target, text *out, char *err,
                        size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (target == TARGET_GOOGLE || !(is_space(c) || is_punct(c)))
            put(out, lower(s[i]));
    }
    return out->len ? 0 : fail(err, err_len, "expected letters or digits");
}

/* Zip: compact and lowercase ("m11ae"); a 9-digit code is a US ZIP+4, of
 * which Meta and TikTok take the first 5 digits. */
static int norm_zip(const char *s, size_t n, pii_target target, text *out, char *err,
                    size_t err_len)
{
    size_t digits = 0;
    if (norm_compact(s, n, target, out, err, err_len)) return -1;
    for (size_t i = 0; i < out->len; i++)
        digits += is_digit((unsigned char)out->data[i]);
    if (target != TARGET_GOOGLE && out->len == 9 && digits == 9) out->len = 5;
    return 0;
}

static int norm_country(const char *s, size_t n, pii_target target, text *out, char *err,
                        size_t err_len)
{
    (void)target;
    if (n != 2 || !is_alpha((unsigned char)s[0]) || !is_alpha((unsigned char)s[1]))
        return fail(err, err_len,
                    "expected a 2-letter ISO 3166-1 alpha-2 country code "
                    "such as \"us\" or \"GB\"");
    put(out, lower(s[0]));
    put(out, lower(s[1]));
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit((unsigned char)s[i])) return 0;
    return 1;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

static int this_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    return gmtime_r(&now, &tm) ? tm.tm_year + 1900 : 9999;
}

/* Date of birth: YYYY-MM-DD or YYYYMMDD in, YYYYMMDD out (Meta, TikTok). */
static int norm_dob(const char *s, size_t n, pii_target target, text *out, char *err,
                    size_t err_len)
{
    char d[8];
    int year, month, day;
    (void)target;
    if (n == 10 && s[4] == '-' && s[7] == '-' && all_digits(s, 4) &&
        all_digits(s + 5, 2) && all_digits(s + 8, 2)) {
        memcpy(d, s, 4), memcpy(d + 4, s + 5, 2), memcpy(d + 6, s + 8, 2);
    } else if (n == 8 && all_digits(s, 8)) {
        memcpy(d, s, 8);
    } else {
        return fail(err, err_len, "expected a date of birth as YYYY-MM-DD or YYYYMMDD");
    }
    year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    month = (d[4] - '0') * 10 + (d[5] - '0');
    day = (d[6] - '0') * 10 + (d[7] - '0');
    if (year < 1900 || year > this_year() || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month))
        return fail(err, err_len, "not a real date of birth between 1900 and this year");
    for (int i = 0; i < 8; i++)
        put(out, d[i]);
    return 0;
}

/* external_id: trimmed, otherwise as given (case kept). */
static int norm_verbatim(const char *s, size_t n, pii_target target, text *out, char *err,
                         size_t err_len)
{
    (void)target, (void)err, (void)err_len;
    for (size_t i = 0; i < n; i++)
        put(out, s[i]);
    return 0;
}

/* ---- kinds and targets ------------------------------------------------ */

static const struct kind_rule {
    const char *name;
    normalizer normalize;
    google_use google;
} kinds[] = {
    {"email", norm_email, GOOGLE_HASHED},
    {"phone", norm_phone, GOOGLE_HASHED},
    {"first_name", norm_name, GOOGLE_HASHED},
    {"last_name", norm_name, GOOGLE_HASHED},
    {"city", norm_compact, GOOGLE_PLAIN},
    {"state", norm_compact, GOOGLE_PLAIN},
    {"zip", norm_zip, GOOGLE_PLAIN},
    {"country", norm_country, GOOGLE_PLAIN},
    {"dob", norm_dob, GOOGLE_NONE},
    {"external_id", norm_verbatim, GOOGLE_HASHED},
};

static const struct kind_rule *find_kind(const char *kind)
{
    for (size_t i = 0; kind && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i].name, kind)) return &kinds[i];
    return NULL;
}

static int find_target(const char *target, pii_target *out)
{
    static const char *const names[] = {"meta", "google", "tiktok"};
    if (!target) target = "meta";
    for (int i = 0; i < 3; i++)
        if (!strcmp(names[i], target)) return *out = (pii_target)i, 0;
    return -1;
}

int pii_check(const char *kind, const char *target, int for_hash, char *err,
              size_t err_len)
{
    const struct kind_rule *rule = find_kind(kind);
    pii_target t;
    if (!rule)
        return fail(err, err_len, "unknown kind '%s' (expected one of: %s)",
                    kind ? kind : "", PII_KINDS),
               PII_BAD_KIND;
    if (find_target(target, &t))
        return fail(err, err_len, "unknown target '%s' (expected one of: %s)", target,
                    PII_TARGETS),
               PII_BAD_TARGET;
    if (t == TARGET_GOOGLE && rule->google == GOOGLE_NONE)
        return fail(err, err_len, "google has no %s identifier for matching", kind),
               PII_BAD_KIND;
    if (t == TARGET_GOOGLE && rule->google == GOOGLE_PLAIN && for_hash)
        return fail(err, err_len,
                    "google takes %s in plain text, not hashed "
                    "(send the normalized value)",
                    kind),
               PII_BAD_KIND;
    return PII_OK;
}

int pii_normalize(const char *kind, const char *value, const char *target, char *out,
                  size_t out_len, char *err, size_t err_len)
{
    const struct kind_rule *rule = find_kind(kind);
    text t = {out, 0, out_len};
    pii_target tg = TARGET_META;
    size_t n;
    if (pii_check(kind, target, 0, err, err_len)) return -1;
    find_target(target, &tg);
    if (!value) value = "";
    while (is_space((unsigned char)*value))
        value++;
    n = strlen(value);
    while (n && is_space((unsigned char)value[n - 1]))
        n--;
    if (!n) return fail(err, err_len, "%s is empty", kind);
    if (n + 2 > out_len) /* every normalizer writes at most n + 1 bytes */
        return fail(err, err_len, "%s is too long (at most %zu bytes)", kind,
                    out_len > 2 ? out_len - 2 : 0);
    if (rule->normalize(value, n, tg, &t, err, err_len)) return -1;
    out[t.len] = '\0';
    return 0;
}

int pii_hash(const char *kind, const char *value, const char *target, char hex[65],
             char *err, size_t err_len)
{
    char normal[1024];
    unsigned char digest[crypto_hash_sha256_BYTES];
    if (pii_check(kind, target, 1, err, err_len)) return -1;
    if (pii_normalize(kind, value, target, normal, sizeof normal, err, err_len))
        return -1;
    if (crypto_hash_sha256(digest, (const unsigned char *)normal, strlen(normal)) != 0)
        return fail(err, err_len, "libsodium could not compute SHA-256");
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

/* ---- masking ---------------------------------------------------------- */

/* The first character of `s`, whole even when it is a UTF-8 sequence. */
static void put_first_char(text *t, const char *s)
{
    size_t i = 1;
    while (s[i] && ((unsigned char)s[i] & 0xC0) == 0x80 && i < 4)
        i++;
    for (size_t k = 0; k < i; k++)
        put(t, s[k]);
}

/* "+15551234567" -> "+1******4567": '+', the first digit, the last four.
 * 0 when `s` does not look like a phone number. */
static int mask_phone(const char *s, text *t)
{
    size_t digits = 0, seen = 0;
    for (const char *p = s + (*s == '+'); *p; p++) {
        if (is_digit((unsigned char)*p))
            digits++;
        else if (!memchr(" -.()/", *p, 6))
            return 0;
    }
    if (digits < 7) return 0;
    if (*s == '+') put(t, '+');
    for (const char *p = s; *p; p++) {
        if (!is_digit((unsigned char)*p)) continue;
        seen++;
        put(t, seen == 1 || seen > digits - 4 ? *p : '*');
    }
    return 1;
}

void pii_mask(const char *value, char *out, size_t out_len)
{
    text t = {out, 0, out_len};
    const char *at;
    if (!out_len) return;
    if (!value) value = "";
    while (is_space((unsigned char)*value))
        value++;
    at = strchr(value, '@');
    if (at && at != value) {
        put_first_char(&t, value);
        put_str(&t, "***");
        put_str(&t, at);
    } else if (*value && !mask_phone(value, &t)) {
        put_first_char(&t, value);
        put_str(&t, "***");
    }
    out[t.len] = '\0';
}
