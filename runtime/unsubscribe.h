/* One-click unsubscribe (SPEC §5, RFC 8058): signed tokens naming a
 * profile, channel and purpose, verified by their MAC alone (no database
 * row per token), and the URL and List-Unsubscribe headers that carry
 * them.  Plain C on libsodium: no Lua, no database. */
#ifndef NUDGE_UNSUBSCRIBE_H
#define NUDGE_UNSUBSCRIBE_H
#include <stddef.h>
#include <stdint.h>

#define UNSUB_KEY_LEN 32      /* crypto_auth_KEYBYTES (HMAC-SHA512-256) */
#define UNSUB_VERSION 1       /* the payload layout below */
#define UNSUB_PROFILE_MAX 255 /* bytes of a profile id a token can carry */
#define UNSUB_CHANNEL_MAX 64  /* as consent_check allows */
#define UNSUB_PURPOSE_MAX 32  /* "marketing", "transactional" */
#define UNSUB_MAC_LEN 32      /* crypto_auth_BYTES */
/* The largest payload: version, issued_s (8 bytes, big-endian), then each
 * string as a length byte and its bytes. */
#define UNSUB_PAYLOAD_MAX                                                                \
    (1 + 8 + 3 + UNSUB_PROFILE_MAX + UNSUB_CHANNEL_MAX + UNSUB_PURPOSE_MAX)
/* The longest token text, without its NUL: base64url (no padding) of the
 * largest payload and the MAC.  Longer input is refused before decoding. */
#define UNSUB_TOKEN_MAX ((4 * (UNSUB_PAYLOAD_MAX + UNSUB_MAC_LEN) + 2) / 3)

/* Why a token was refused.  The messages never repeat the token's content. */
enum unsub_error {
    UNSUB_OK = 0,
    UNSUB_EMPTY = -1,        /* no token at all */
    UNSUB_TOO_LONG = -2,     /* over UNSUB_TOKEN_MAX characters */
    UNSUB_BAD_ENCODING = -3, /* not base64url without padding */
    UNSUB_TRUNCATED = -4,    /* too short to hold a payload and a MAC */
    UNSUB_BAD_VERSION = -5,  /* a layout this build does not know */
    UNSUB_BAD_MAC = -6,      /* tampered, or signed with another key */
    UNSUB_MALFORMED = -7,    /* signed, but its fields do not parse */
};

/* What a valid token says. */
typedef struct unsub_claims {
    int version;
    char profile[UNSUB_PROFILE_MAX + 1];
    char channel[UNSUB_CHANNEL_MAX + 1];
    char purpose[UNSUB_PURPOSE_MAX + 1];
    int64_t issued_s; /* Unix seconds when the token was made */
} unsub_claims;

/* Writes into OUT (OUT_LEN bytes; UNSUB_TOKEN_MAX + 1 always suffice) the
 * token for PROFILE, CHANNEL and PURPOSE issued at ISSUED_S: base64url (no
 * padding) of the payload {version, issued_s, profile, channel, purpose}
 * followed by its crypto_auth MAC under KEY.  The strings must be
 * non-empty and within the limits above (validate channel and purpose
 * with consent_check first).  0, or -1 when they are not or OUT is too
 * small. */
int unsub_token_make(const unsigned char key[UNSUB_KEY_LEN], const char *profile,
                     const char *channel, const char *purpose, int64_t issued_s,
                     char *out, size_t out_len);

/* Checks TOKEN against KEY (the MAC compared in constant time) and fills
 * OUT with its claims.  UNSUB_OK, or an enum unsub_error with the reason
 * in ERR (which never quotes the token); OUT is zeroed on failure. */
int unsub_token_read(const unsigned char key[UNSUB_KEY_LEN], const char *token,
                     unsub_claims *out, char *err, size_t err_len);

/* BASE_URL with the token appended as the query parameter `token` ("?" or
 * "&" as BASE_URL needs).  BASE_URL must be an https:// URL without a
 * fragment.  0, or -1 when it is not or OUT is too small. */
int unsub_url(const char *base_url, const char *token, char *out, size_t out_len);

/* The RFC 8058 header lines for URL (from unsub_url) and, when MAILTO is
 * not NULL, a mailto: URI offered after it (RFC 2369 order: preferred
 * first), each line ending in CRLF:
 *   List-Unsubscribe: <https://...>, <mailto:...>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 * Not folded: 0, or -1 when URL is not https://, MAILTO not mailto:,
 * either holds a character the header cannot carry (space, control,
 * '<', '>', '"', ','), a line would pass 998 characters (RFC 5322), or
 * OUT is too small. */
int unsub_headers(const char *url, const char *mailto, char *out, size_t out_len);

#endif
