/* require "nudge.pii": the normalized SHA-256 hex that ad platforms expect
 * for audience matching, the database's keyed blind index, and masking
 * for display.  The rules themselves live in runtime/pii_hash.c and
 * runtime/privacy.c; this file only checks arguments. */
#include "l_modules.h"
#include "pii_hash.h"
#include "privacy.h"

#include <lauxlib.h>
#include <string.h>

/* The string argument at `index`, refusing embedded NUL bytes. [-0, +0, v] */
static const char *check_text(lua_State *L, int index)
{
    size_t len;
    const char *s = luaL_checklstring(L, index, &len);
    luaL_argcheck(L, strlen(s) == len, index, "contains a NUL byte");
    return s;
}

/* The `target` field of the options table at `index`, "meta" when the
 * table or the field is absent.  Leaves one value on the stack. [-0, +1, v] */
static const char *check_target(lua_State *L, int index)
{
    if (lua_isnoneornil(L, index)) {
        lua_pushstring(L, "meta");
    } else {
        luaL_argexpected(L, lua_type(L, index) == LUA_TTABLE, index, "table or nil");
        if (lua_getfield(L, index, "target") == LUA_TNIL) {
            lua_pop(L, 1);
            lua_pushstring(L, "meta");
        } else if (lua_type(L, -1) != LUA_TSTRING) {
            luaL_argerror(L, index, "target must be \"meta\", \"google\" or \"tiktok\"");
        }
    }
    return lua_tostring(L, -1);
}

/* pii.hash(kind, value [, {target = "meta"|"google"|"tiktok"}]) -> hex.
 * An unknown kind or target raises; a value that cannot be normalized (a
 * phone with no country code) returns nil and a message. */
static int l_hash(lua_State *L)
{
    const char *kind = check_text(L, 1), *value = check_text(L, 2);
    const char *target = check_target(L, 3);
    char hex[65], err[300];
    int rc = pii_check(kind, target, 1, err, sizeof err);
    if (rc != PII_OK) return luaL_argerror(L, rc == PII_BAD_TARGET ? 3 : 1, err);
    if (pii_hash(kind, value, target, hex, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, hex);
    return 1;
}

/* pii.mask("john@example.com") -> "j***@example.com" */
static int l_mask(lua_State *L)
{
    size_t len;
    const char *value = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, len + 8);
    pii_mask(value, out, len + 8);
    luaL_pushresultsize(&b, strlen(out));
    return 1;
}

static const privacy *blind_keys; /* the process's open database, if any */

void l_pii_use(const privacy *p)
{
    blind_keys = p;
}

/* pii.blind(value [, kind]) -> hex of the keyed blind index the database
 * finds people by; kind "email" (the default when value holds an "@") or
 * "phone".  nil and a message when the value cannot be normalized. */
static int l_blind(lua_State *L)
{
    const char *value = check_text(L, 1);
    const char *kind = luaL_optstring(L, 2, strchr(value, '@') ? "email" : "phone");
    char hex[65], err[300];
    luaL_argcheck(L, !strcmp(kind, "email") || !strcmp(kind, "phone"), 2,
                  "kind must be \"email\" or \"phone\"");
    if (!blind_keys) return luaL_error(L, "pii.blind: no database key is open");
    if (privacy_blind_hex(blind_keys, kind, value, hex, err, sizeof err)) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushstring(L, hex);
    return 1;
}

int luaopen_nudge_pii(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"hash", l_hash}, {"mask", l_mask}, {"blind", l_blind}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
