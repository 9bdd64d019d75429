/* require "nudge.time": durations and time stamps for recipes and stdlib. */
#include "l_modules.h"
#include "timeutil.h"

#include <lauxlib.h>

/* time.duration("30m") -> 1800 (seconds), or nil and a message. */
static int l_duration(lua_State *L)
{
    int64_t ms;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        lua_Number s = lua_tonumber(L, 1);
        if (s >= 0) return lua_pushnumber(L, s), 1;
    } else if (lua_type(L, 1) == LUA_TSTRING &&
               duration_parse(lua_tostring(L, 1), &ms) == 0) {
        lua_pushnumber(L, (lua_Number)ms / 1000);
        return 1;
    }
    const char *given = luaL_tolstring(L, 1, NULL); /* pushed: below the results */
    lua_pushnil(L);
    lua_pushfstring(
        L, "expected a duration like \"90s\", \"30m\", \"24h\", \"3d\" or \"2w\", got %s",
        given);
    return 2;
}

/* time.iso(seconds) -> "2026-11-02T15:00:00.000Z" */
static int l_iso(lua_State *L)
{
    char buf[TIME_ISO_LEN];
    time_format_iso8601((int64_t)(luaL_checknumber(L, 1) * 1000), buf);
    lua_pushstring(L, buf);
    return 1;
}

/* time.parse("2026-11-02T15:00:00Z") -> seconds, or nil and a message. */
static int l_parse(lua_State *L)
{
    int64_t ms;
    if (time_parse_iso8601(luaL_checkstring(L, 1), &ms)) {
        lua_pushnil(L);
        lua_pushfstring(L, "not an ISO-8601 time: %s", lua_tostring(L, 1));
        return 2;
    }
    lua_pushnumber(L, (lua_Number)ms / 1000);
    return 1;
}

int luaopen_nudge_time(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"duration", l_duration}, {"iso", l_iso}, {"parse", l_parse}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}
