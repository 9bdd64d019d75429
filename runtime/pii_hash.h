/* Normalized SHA-256 of personal data for ad-platform audience matching
 * (Meta, Google, TikTok rules; see docs/pii-hashing.md), and masking for
 * display.  Plain C: no Lua, no database; SHA-256 comes from libsodium. */
#ifndef NUDGE_PII_HASH_H
#define NUDGE_PII_HASH_H
#include <stddef.h>

#define PII_KINDS                                                                        \
    "email, phone, first_name, last_name, city, state, zip, country, dob, external_id"
#define PII_TARGETS "meta, google, tiktok"

enum pii_check_result { PII_OK = 0, PII_BAD_KIND = -1, PII_BAD_TARGET = -2 };

/* Whether KIND and TARGET (NULL = "meta") are known and go together; with
 * `for_hash`, also whether the target wants that kind hashed (Google takes
 * city, state, zip and country in plain text).  PII_OK, or PII_BAD_KIND /
 * PII_BAD_TARGET with a message in `err`. */
int pii_check(const char *kind, const char *target, int for_hash, char *err,
              size_t err_len);

/* Writes the normalized form of VALUE to `out` (NUL-terminated).  0, or -1
 * with a message in `err` (unknown kind or target, a value that cannot be
 * normalized, `out` too small).  Messages never repeat the value itself. */
int pii_normalize(const char *kind, const char *value, const char *target, char *out,
                  size_t out_len, char *err, size_t err_len);

/* The lowercase SHA-256 hex of the normalized value.  Call only after
 * sodium_init().  0, or -1 with a message in `err`. */
int pii_hash(const char *kind, const char *value, const char *target, char hex[65],
             char *err, size_t err_len);

/* A display form that hides most of VALUE: "j***@example.com",
 * "+1******4567", otherwise the first character and "***".  Truncates to
 * fit; out_len of strlen(value) + 8 is always enough. */
void pii_mask(const char *value, char *out, size_t out_len);

#endif
