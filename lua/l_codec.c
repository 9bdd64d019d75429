/* require "nudge.codec": the encoders channel adapters build requests with
 * (JSON, form bodies, URL escapes, base64, HMAC-SHA256), thin bindings
 * over l_json.c, libcurl and libsodium. */
#include "l_modules.h"

#include <curl/curl.h>
#include <lauxlib.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define BOX_METATABLE "nudge.codec.box"

/* A C buffer in flight: a Lua call that raises while it is held (out of
 * memory) leaves it to the box's __gc. */
typedef struct text_box {
    void *text;
    void (*release)(void *);
} text_box;

static int box_gc(lua_State *L)
{
    text_box *box = luaL_checkudata(L, 1, BOX_METATABLE);
    if (box->text) box->release(box->text);
    box->text = NULL;
    return 0;
}

/* Pushes an empty box whose content RELEASE frees.  [-0, +1, m] */
static text_box *push_box(lua_State *L, void (*release)(void *))
{
    text_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->text = NULL;
    box->release = release;
    luaL_setmetatable(L, BOX_METATABLE);
    return box;
}

/* Pushes the box's text as a string and frees it.  [-0, +1, m] */
static void push_box_text(lua_State *L, text_box *box)
{
    lua_pushstring(L, box->text);
    box->release(box->text);
    box->text = NULL;
}

/* Pushes the cJSON value passed as light userdata (run protected). */
static int l_push_json_protected(lua_State *L)
{
    l_push_json(L, lua_touserdata(L, 1));
    return 1;
}

/* codec.json(value) -> JSON text, keys sorted; raises for values JSON
 * cannot hold (functions, cycles, mixed keys, NaN). */
static int l_json(lua_State *L)
{
    char err[256];
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    text_box *box = push_box(L, free);
    if (!(box->text = l_to_json_text(L, 1, err, sizeof err)))
        return luaL_error(L, "json: %s", err);
    push_box_text(L, box);
    return 1;
}

/* codec.json_decode(text) -> the value (objects and arrays as tables,
 * null as nil), or nil and a message when TEXT is not JSON: for reading a
 * provider's answer in outcome(). */
static int l_json_decode(lua_State *L)
{
    const char *text = luaL_checkstring(L, 1);
    cJSON *value = cJSON_Parse(text);
    if (!value) {
        luaL_pushfail(L);
        lua_pushstring(L, "not JSON");
        return 2;
    }
    lua_pushcfunction(L, l_push_json_protected);
    lua_pushlightuserdata(L, value);
    int status = lua_pcall(L, 1, 1, 0);
    cJSON_Delete(value); /* freed before any error goes on */
    if (status != LUA_OK) return lua_error(L);
    return 1;
}

/* URL-escapes S (LEN bytes) into the box; raises when curl cannot. */
static void escape_into(lua_State *L, text_box *box, const char *s, size_t len)
{
    if (len > INT_MAX) luaL_error(L, "url_escape: string too long");
    /* length 0 makes curl use strlen, which is 0 too for "" */
    if (!(box->text = curl_easy_escape(NULL, s, (int)len)))
        luaL_error(L, "url_escape: cannot escape (out of memory, or longer than 8 MB)");
}

static void release_curl(void *p)
{
    curl_free(p);
}

/* codec.url_escape(s): every byte but A-Z a-z 0-9 - . _ ~ as %XX. */
static int l_url_escape(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    text_box *box = push_box(L, release_curl);
    escape_into(L, box, s, len);
    push_box_text(L, box);
    return 1;
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The string keys of the table at 1, sorted, in a userdata at the top
 * (the table anchors the strings).  Raises on a key that is not a
 * string.  [-0, +1, e] */
static const char **sorted_form_keys(lua_State *L, size_t *count)
{
    size_t n = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1), n++)
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "form: keys must be strings, not %s", luaL_typename(L, -2));
    const char **keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof *keys, 0);
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1))
        keys[i++] = lua_tostring(L, -2);
    qsort(keys, n, sizeof *keys, compare_keys);
    *count = n;
    return keys;
}

/* The text of form field KEY's value (at the top): strings and numbers as
 * Lua writes them, booleans as true/false.  [-0, +0, e] */
static const char *form_value(lua_State *L, const char *key, size_t *len)
{
    int type = lua_type(L, -1);
    if (type == LUA_TBOOLEAN) {
        const char *word = lua_toboolean(L, -1) ? "true" : "false";
        *len = strlen(word);
        return word;
    }
    if (type != LUA_TSTRING && type != LUA_TNUMBER)
        luaL_error(L, "form: field '%s' must be a string, number or boolean, not %s", key,
                   luaL_typename(L, -1));
    return lua_tolstring(L, -1, len); /* a number is converted on the stack */
}

/* Adds "key=value" (escaped) to B; the value's text is escaped before it
 * leaves the stack, since a converted number is anchored only there. */
static void add_form_field(lua_State *L, luaL_Buffer *b, text_box *box, const char *key)
{
    size_t len;
    escape_into(L, box, key, strlen(key));
    luaL_addstring(b, box->text);
    curl_free(box->text), box->text = NULL;
    luaL_addchar(b, '=');
    lua_pushstring(L, key);
    lua_rawget(L, 1);
    const char *value = form_value(L, key, &len);
    escape_into(L, box, value, len);
    lua_pop(L, 1);
    luaL_addstring(b, box->text);
    curl_free(box->text), box->text = NULL;
}

/* codec.form{ To = "+1555", Body = "Hi" } -> "Body=Hi&To=%2B1555": an
 * application/x-www-form-urlencoded body, keys sorted. */
static int l_form(lua_State *L)
{
    size_t count;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    const char **keys = sorted_form_keys(L, &count);
    text_box *box = push_box(L, release_curl);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < count; i++) {
        if (i > 0) luaL_addchar(&b, '&');
        add_form_field(L, &b, box, keys[i]);
    }
    luaL_pushresult(&b);
    return 1;
}

/* codec.base64(s): standard base64 with padding (RFC 4648 section 4). */
static int l_base64(lua_State *L)
{
    size_t len;
    const unsigned char *bin = (const unsigned char *)luaL_checklstring(L, 1, &len);
    if (len > SIZE_MAX / 4 * 3 - 3) return luaL_error(L, "base64: string too long");
    size_t size = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, size);
    if (!sodium_bin2base64(out, size, bin, len, sodium_base64_VARIANT_ORIGINAL))
        return luaL_error(L, "base64: libsodium cannot encode");
    luaL_pushresultsize(&b, size - 1);
    return 1;
}

/* HMAC-SHA256 of argument 2 under the key at argument 1 (any length). */
static void hmac_sha256(lua_State *L, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    size_t key_len, data_len;
    const unsigned char *key = (const unsigned char *)luaL_checklstring(L, 1, &key_len);
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &data_len);
    crypto_auth_hmacsha256_state state;
    int rc = crypto_auth_hmacsha256_init(&state, key, key_len) ||
             crypto_auth_hmacsha256_update(&state, data, data_len) ||
             crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
    if (rc) luaL_error(L, "hmac_sha256: libsodium failed");
}

/* codec.hmac_sha256_hex(key, data) -> 64 lowercase hex digits. */
static int l_hmac_sha256_hex(lua_State *L)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    hmac_sha256(L, mac);
    if (!sodium_bin2hex(hex, sizeof hex, mac, sizeof mac))
        return luaL_error(L, "hmac_sha256_hex: libsodium cannot encode");
    lua_pushstring(L, hex);
    return 1;
}

/* codec.hmac_sha256_base64(key, data) -> the MAC in standard base64. */
static int l_hmac_sha256_base64(lua_State *L)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char b64[sodium_base64_ENCODED_LEN(crypto_auth_hmacsha256_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];
    hmac_sha256(L, mac);
    if (!sodium_bin2base64(b64, sizeof b64, mac, sizeof mac,
                           sodium_base64_VARIANT_ORIGINAL))
        return luaL_error(L, "hmac_sha256_base64: libsodium cannot encode");
    lua_pushstring(L, b64);
    return 1;
}

int luaopen_nudge_codec(lua_State *L)
{
    static const luaL_Reg funcs[] = {{"json", l_json},
                                     {"json_decode", l_json_decode},
                                     {"form", l_form},
                                     {"url_escape", l_url_escape},
                                     {"base64", l_base64},
                                     {"hmac_sha256_hex", l_hmac_sha256_hex},
                                     {"hmac_sha256_base64", l_hmac_sha256_base64},
                                     {NULL, NULL}};
    if (sodium_init() < 0) return luaL_error(L, "nudge.codec: libsodium cannot start");
    if (luaL_newmetatable(L, BOX_METATABLE)) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, funcs);
    return 1;
}
