/* One-click unsubscribe tokens: a small binary payload and its
 * HMAC-SHA512-256 (crypto_auth) under the database's unsubscribe key,
 * base64url without padding; and the RFC 8058 URL and headers.  See
 * docs/guardrails.md#unsubscribe. */
#include "unsubscribe.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define RAW_MAX (UNSUB_PAYLOAD_MAX + UNSUB_MAC_LEN)
#define RAW_MIN (1 + 8 + 3 + 3 + UNSUB_MAC_LEN) /* three one-byte strings */
#define HEADER_LINE_MAX 998                     /* RFC 5322 §2.1.1 */

_Static_assert(UNSUB_KEY_LEN == crypto_auth_KEYBYTES, "unsubscribe key length");
_Static_assert(UNSUB_MAC_LEN == crypto_auth_BYTES, "unsubscribe MAC length");

/* Appends a length byte and S to BUF at *AT.  -1 when S is empty or over MAX. */
static int put_string(unsigned char *buf, size_t *at, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (!len || len > max) return -1;
    buf[(*at)++] = (unsigned char)len;
    memcpy(buf + *at, s, len);
    *at += len;
    return 0;
}

/* The payload for the claims into BUF (UNSUB_PAYLOAD_MAX bytes): its length,
 * or 0 when a string is empty or too long. */
static size_t encode_payload(unsigned char *buf, const char *profile, const char *channel,
                             const char *purpose, int64_t issued_s)
{
    size_t at = 0;
    uint64_t t = (uint64_t)issued_s;
    buf[at++] = UNSUB_VERSION;
    for (int shift = 56; shift >= 0; shift -= 8)
        buf[at++] = (unsigned char)(t >> shift);
    if (put_string(buf, &at, profile, UNSUB_PROFILE_MAX) ||
        put_string(buf, &at, channel, UNSUB_CHANNEL_MAX) ||
        put_string(buf, &at, purpose, UNSUB_PURPOSE_MAX))
        return 0;
    return at;
}

int unsub_token_make(const unsigned char key[UNSUB_KEY_LEN], const char *profile,
                     const char *channel, const char *purpose, int64_t issued_s,
                     char *out, size_t out_len)
{
    unsigned char raw[RAW_MAX];
    size_t len = encode_payload(raw, profile, channel, purpose, issued_s);
    if (!len || out_len < sodium_base64_ENCODED_LEN(len + UNSUB_MAC_LEN, VARIANT))
        return -1;
    if (crypto_auth(raw + len, raw, len, key)) return -1;
    sodium_bin2base64(out, out_len, raw, len + UNSUB_MAC_LEN, VARIANT);
    return 0;
}

/* Reads a length byte and that many bytes (no NUL among them) from
 * BUF[*AT..END) into OUT (MAX + 1 bytes).  -1 when they do not fit. */
static int get_string(const unsigned char *buf, size_t *at, size_t end, char *out,
                      size_t max)
{
    if (*at >= end) return -1;
    size_t len = buf[(*at)++];
    if (!len || len > max || len > end - *at || memchr(buf + *at, 0, len)) return -1;
    memcpy(out, buf + *at, len);
    out[len] = '\0';
    *at += len;
    return 0;
}

/* The signed payload's fields into OUT.  -1 when they do not parse or
 * bytes are left over. */
static int decode_payload(const unsigned char *buf, size_t len, unsub_claims *out)
{
    uint64_t t = 0;
    size_t at = 1;
    for (; at < 9; at++)
        t = t << 8 | buf[at];
    out->version = buf[0];
    out->issued_s = (int64_t)t;
    if (get_string(buf, &at, len, out->profile, UNSUB_PROFILE_MAX) ||
        get_string(buf, &at, len, out->channel, UNSUB_CHANNEL_MAX) ||
        get_string(buf, &at, len, out->purpose, UNSUB_PURPOSE_MAX))
        return -1;
    return at == len ? 0 : -1;
}

static int refuse(unsub_claims *out, int code, const char *why, char *err, size_t err_len)
{
    sodium_memzero(out, sizeof *out);
    snprintf(err, err_len, "%s", why);
    return code;
}

/* Decodes TOKEN into RAW (RAW_MAX bytes).  UNSUB_OK with *len set, or the
 * reason (checked in this order: empty, too long, encoding, too short). */
static int decode_token(const char *token, unsigned char *raw, size_t *len)
{
    size_t text_len = strnlen(token, UNSUB_TOKEN_MAX + 1);
    const char *end = NULL;
    if (!text_len) return UNSUB_EMPTY;
    if (text_len > UNSUB_TOKEN_MAX) return UNSUB_TOO_LONG;
    if (sodium_base642bin(raw, RAW_MAX, token, text_len, NULL, len, &end, VARIANT) ||
        end != token + text_len)
        return UNSUB_BAD_ENCODING;
    return *len < RAW_MIN ? UNSUB_TRUNCATED : UNSUB_OK;
}

int unsub_token_read(const unsigned char key[UNSUB_KEY_LEN], const char *token,
                     unsub_claims *out, char *err, size_t err_len)
{
    unsigned char raw[RAW_MAX];
    size_t len = 0;
    switch (decode_token(token ? token : "", raw, &len)) {
    case UNSUB_EMPTY:
        return refuse(out, UNSUB_EMPTY, "empty token", err, err_len);
    case UNSUB_TOO_LONG:
        return refuse(out, UNSUB_TOO_LONG, "token too long", err, err_len);
    case UNSUB_BAD_ENCODING:
        return refuse(out, UNSUB_BAD_ENCODING, "not a token (expected base64url)", err,
                      err_len);
    case UNSUB_TRUNCATED:
        return refuse(out, UNSUB_TRUNCATED, "token truncated", err, err_len);
    default:
        break;
    }
    if (raw[0] != UNSUB_VERSION)
        return refuse(out, UNSUB_BAD_VERSION, "unknown token version", err, err_len);
    size_t payload = len - UNSUB_MAC_LEN;
    if (crypto_auth_verify(raw + payload, raw, payload, key))
        return refuse(out, UNSUB_BAD_MAC,
                      "token signature does not match (altered, or made for another "
                      "database)",
                      err, err_len);
    if (decode_payload(raw, payload, out))
        return refuse(out, UNSUB_MALFORMED, "token fields malformed", err, err_len);
    return UNSUB_OK;
}

/* Whether TEXT holds only characters a List-Unsubscribe entry may carry. */
static int header_safe(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>\",", *p)) return 0;
    return 1;
}

static int starts_with(const char *text, const char *prefix)
{
    return !strncmp(text, prefix, strlen(prefix));
}

int unsub_url(const char *base_url, const char *token, char *out, size_t out_len)
{
    size_t len = strlen(base_url);
    if (!starts_with(base_url, "https://") || len <= strlen("https://") ||
        strchr(base_url, '#') || !header_safe(base_url) || !header_safe(token))
        return -1;
    const char *joint = !strchr(base_url, '?')                                 ? "?"
                        : base_url[len - 1] == '?' || base_url[len - 1] == '&' ? ""
                                                                               : "&";
    int n = snprintf(out, out_len, "%s%stoken=%s", base_url, joint, token);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

int unsub_headers(const char *url, const char *mailto, char *out, size_t out_len)
{
    if (!starts_with(url, "https://") || !header_safe(url) ||
        (mailto && (!starts_with(mailto, "mailto:") || !header_safe(mailto))))
        return -1;
    size_t line = strlen("List-Unsubscribe: <>") + strlen(url) +
                  (mailto ? strlen(", <>") + strlen(mailto) : 0);
    if (line > HEADER_LINE_MAX) return -1;
    int n = snprintf(out, out_len,
                     "List-Unsubscribe: <%s>%s%s%s\r\n"
                     "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                     url, mailto ? ", <" : "", mailto ? mailto : "", mailto ? ">" : "");
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}
