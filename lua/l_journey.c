/* The journey handle `j`: each method checks its arguments, asks the
 * replay cursor (runtime/activation.c) for a recorded result, else does
 * the work through runtime/ and records it.  Blocking calls yield to the
 * engine, which never resumes the coroutine: the next wake replays. */
#include "l_journey.h"

#include "l_modules.h"
#include "sandbox.h"
#include "timeutil.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define HANDLE "nudge.journey"

typedef struct handle {
    activation *a;
    lua_State *thread;
} handle;

static activation *check_handle(lua_State *L)
{
    handle *h = luaL_checkudata(L, 1, HANDLE);
    if (!h->a) luaL_error(L, "journey handle used after its step ended");
    if (L != h->thread)
        luaL_error(
            L,
            "j: calls must be made by the journey itself, not from inside a coroutine");
    const char *tripped = sandbox_tripped(L); /* no side effect after a limit */
    if (tripped) luaL_error(L, "%s", tripped);
    return h->a;
}

/* Raises unless `rc` is 0, with the replay or store error. */
static void check_rc(lua_State *L, activation *a, int rc)
{
    if (rc >= 0) return;
    luaL_error(L, "%s", a->error[0] ? a->error : "store failure (see the log above)");
}

/* Records `value` (at index) as the result of `kind`.  [-0, +0, e] */
static void record_value(lua_State *L, activation *a, const char *kind, int index)
{
    char err[200];
    char *text = l_to_json_text(L, index, err, sizeof err);
    if (!text) luaL_error(L, "j:%s: %s", kind, err);
    int rc = act_record(a, kind, text);
    free(text);
    check_rc(L, a, rc);
}

/* Pushes the recorded result of `kind` and returns 1, or returns 0 at new
 * ground.  [-0, +(0|1), e] */
static int replayed(lua_State *L, activation *a, const char *kind)
{
    const char *result;
    int rc = act_replay(a, kind, &result);
    check_rc(L, a, rc);
    if (rc == 1) l_push_json_text(L, result);
    return rc == 1;
}

static int caller_line(lua_State *L)
{
    lua_Debug ar;
    if (!lua_getstack(L, 1, &ar)) return 0;
    lua_getinfo(L, "l", &ar);
    return ar.currentline;
}

/* The instance was parked on another call: the recipe took another path. */
static void check_pending(lua_State *L, activation *a, const char *kind)
{
    const char *pending = a->inst->pending_kind;
    if (pending && strcmp(pending, kind))
        luaL_error(L, "journey is not deterministic: step %d was j:%s and is now j:%s",
                   a->seq + 1, pending, kind);
}

static int suspend(lua_State *L, activation *a)
{
    a->outcome = ACT_SUSPENDED;
    return lua_yield(L, 0);
}

static int64_t check_duration(lua_State *L, int arg)
{
    int64_t ms;
    if (lua_type(L, arg) == LUA_TNUMBER) {
        lua_Number s = lua_tonumber(L, arg);
        luaL_argcheck(L, s >= 0, arg, "duration must not be negative");
        return (int64_t)(s * 1000);
    }
    const char *text = luaL_checkstring(L, arg);
    if (duration_parse(text, &ms))
        luaL_argerror(
            L, arg,
            lua_pushfstring(L, "expected a duration like \"30m\" or \"3d\", got \"%s\"",
                            text));
    return ms;
}

static int j_now(lua_State *L)
{
    activation *a = check_handle(L);
    if (replayed(L, a, "now")) return 1;
    lua_pushnumber(L, (lua_Number)a->now_ms / 1000);
    record_value(L, a, "now", -1);
    return 1;
}

/* j:wait(d): sleeps for a duration. */
static int j_wait(lua_State *L)
{
    activation *a = check_handle(L);
    int64_t ms = check_duration(L, 2);
    if (replayed(L, a, "wait")) return 0;
    check_pending(L, a, "wait");
    if (act_block(a, "wait", ms, NULL, caller_line(L)) == BLOCK_SUSPEND)
        return suspend(L, a);
    check_rc(L, a, act_unblock(a));
    lua_pushnumber(L, (lua_Number)a->now_ms / 1000);
    record_value(L, a, "wait", -1);
    return 0;
}

/* j:wait_until("10:00"): sleeps until that local time of day in the
 * person's zone (today, else tomorrow), or until an ISO-8601 instant. */
static int j_wait_until(lua_State *L)
{
    activation *a = check_handle(L);
    const char *when = luaL_checkstring(L, 2);
    int64_t due = a->now_ms;
    if (replayed(L, a, "wait_until")) return 0;
    check_pending(L, a, "wait_until");
    if (!a->inst->pending_kind && act_due_time(a, when, &due))
        return luaL_argerror(L, 2,
                             lua_pushfstring(L,
                                             "expected a time of day like \"10:00\" "
                                             "or an ISO-8601 time, got \"%s\"",
                                             when));
    int64_t wait_ms = due > a->now_ms ? due - a->now_ms : 0;
    if (act_block(a, "wait_until", wait_ms, NULL, caller_line(L)) == BLOCK_SUSPEND)
        return suspend(L, a);
    check_rc(L, a, act_unblock(a));
    lua_pushnumber(L, (lua_Number)a->now_ms / 1000);
    record_value(L, a, "wait_until", -1);
    return 0;
}

/* j:local_time() -> { year, month, day, hour, minute, second, weekday
 * (1 = Sunday), zone, utc_offset (seconds) } in the person's time zone. */
static int j_local_time(lua_State *L)
{
    activation *a = check_handle(L);
    if (replayed(L, a, "local_time")) return 1;
    char zone[TZ_NAME_MAX + 1];
    tz_local t;
    act_timezone(a, zone);
    if (tz_to_local(zone, a->now_ms, &t))
        return luaL_error(L, "unknown time zone '%s'", zone);
    const struct {
        const char *name;
        int value;
    } fields[] = {
        {"year", t.year},           {"month", t.month},          {"day", t.day},
        {"hour", t.hour},           {"minute", t.minute},        {"second", t.second},
        {"weekday", t.weekday + 1}, {"utc_offset", t.utc_offset}};
    lua_createtable(L, 0, 9);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        lua_pushinteger(L, fields[i].value);
        lua_setfield(L, -2, fields[i].name);
    }
    lua_pushstring(L, zone);
    lua_setfield(L, -2, "zone");
    record_value(L, a, "local_time", -1);
    return 1;
}

/* j:wait_for(event, timeout[, where]): the next matching event or nil. */
static int j_wait_for(lua_State *L)
{
    activation *a = check_handle(L);
    const char *event = luaL_checkstring(L, 2);
    int64_t ms = check_duration(L, 3);
    if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TFUNCTION);
    lua_settop(L, 4); /* pushes below refer to slot 4 as `where` */
    if (replayed(L, a, "wait_for")) return 1;
    check_pending(L, a, "wait_for");
    enum act_block got = act_block(a, "wait_for", ms, event, caller_line(L));
    if (got == BLOCK_SUSPEND) return suspend(L, a);
    int filtered = got == BLOCK_EVENT && !lua_isnoneornil(L, 4);
    if (got == BLOCK_EVENT) {
        l_push_json_text(L, a->wake_event_json);
        if (filtered) { /* no yields inside `where` */
            lua_pushvalue(L, 4);
            lua_pushvalue(L, -2);
            lua_call(L, 1, 1);
            int match = lua_toboolean(L, -1);
            lua_pop(L, 1);
            if (!match) return suspend(L, a);
        }
    } else {
        lua_pushnil(L);
    }
    check_rc(L, a, act_unblock(a));
    if (filtered) /* `where` may have changed the table: record what it left */
        record_value(L, a, "wait_for", -1);
    else /* replay decodes the same table from the event's own text */
        check_rc(
            L, a,
            act_record(a, "wait_for", got == BLOCK_EVENT ? a->wake_event_json : "null"));
    return 1;
}

/* j:send(channel, template[, vars]) -> { status =, reason = } */
static int j_send(lua_State *L)
{
    activation *a = check_handle(L);
    const char *channel = luaL_checkstring(L, 2);
    const char *template_name = luaL_checkstring(L, 3);
    luaL_argcheck(L,
                  channel[0] &&
                      strspn(channel, "abcdefghijklmnopqrstuvwxyz_0123456789") ==
                          strlen(channel),
                  2, "channel must be a lowercase name such as \"email\" or \"sms\"");
    if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
    if (replayed(L, a, "send")) return 1;
    char err[200];
    const char *status, *result;
    char *vars =
        lua_isnoneornil(L, 4) ? strdup("{}") : l_to_json_text(L, 4, err, sizeof err);
    if (!vars) return luaL_argerror(L, 4, err);
    int rc = act_send(a, channel, template_name, vars, &status, &result);
    free(vars);
    check_rc(L, a, rc);
    check_rc(L, a, act_record(a, "send", result));
    if (strcmp(status, "queued")) return l_push_json_text(L, result), 1;
    lua_createtable(L, 0, 1); /* {status = "queued"}, without parsing it */
    lua_pushstring(L, status);
    lua_setfield(L, -2, "status");
    return 1;
}

static int j_profile(lua_State *L)
{
    activation *a = check_handle(L);
    if (replayed(L, a, "profile")) return 1;
    char *text = act_profile_json(a);
    int rc = act_record(a, "profile", text ? text : "{}");
    l_push_json_text(L, text ? text : "{}");
    free(text);
    check_rc(L, a, rc);
    return 1;
}

/* j:count(event[, within]): how many of the person's events of that name
 * (within the last `within`, else ever) up to now. */
static int j_count(lua_State *L)
{
    activation *a = check_handle(L);
    const char *event = luaL_checkstring(L, 2);
    int64_t within = lua_isnoneornil(L, 3) ? 0 : check_duration(L, 3);
    if (replayed(L, a, "count")) return 1;
    int64_t n = store_event_count(a->store, a->inst->profile_id, event,
                                  within ? a->now_ms - within : INT64_MIN, a->now_ms);
    check_rc(L, a, n < 0 ? -1 : 0);
    lua_pushinteger(L, (lua_Integer)n);
    record_value(L, a, "count", -1);
    return 1;
}

/* j:last(event): the person's latest event of that name up to now, or nil. */
static int j_last(lua_State *L)
{
    activation *a = check_handle(L);
    const char *event = luaL_checkstring(L, 2);
    if (replayed(L, a, "last")) return 1;
    char *body = store_event_last(a->store, a->inst->profile_id, event, a->now_ms);
    int rc = act_record(a, "last", body ? body : "null");
    l_push_json_text(L, body ? body : "null");
    free(body);
    check_rc(L, a, rc);
    return 1;
}

/* j:set(trait, value): sets (nil: removes) a trait of the person; PII
 * traits are stored encrypted like identify's. */
static int j_set(lua_State *L)
{
    activation *a = check_handle(L);
    char err[300];
    const char *trait = luaL_checkstring(L, 2);
    lua_settop(L, 3);
    if (replayed(L, a, "set")) return 0;
    char *value =
        lua_isnil(L, 3) ? strdup("null") : l_to_json_text(L, 3, err, sizeof err);
    if (!value) return luaL_argerror(L, 3, err);
    int rc = act_set_trait(a, trait, value);
    free(value);
    if (rc == 1) return luaL_argerror(L, 2, "a computed trait cannot be set");
    check_rc(L, a, rc);
    check_rc(L, a, act_record(a, "set", "true"));
    return 0;
}

static int j_consented(lua_State *L)
{
    activation *a = check_handle(L);
    const char *channel = luaL_checkstring(L, 2);
    const char *purpose = luaL_optstring(L, 3, "marketing");
    if (replayed(L, a, "consented")) return 1;
    lua_pushboolean(L, act_consented(a, channel, purpose));
    record_value(L, a, "consented", -1);
    return 1;
}

/* j:split{ a = 50, b = 50 } -> "a" or "b", stable per person and journey. */
static int j_split(lua_State *L)
{
    activation *a = check_handle(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    if (replayed(L, a, "split")) return 1;
    /* insertion-sort the variants by name: Lua's own order is not stable */
    const char *names[32];
    double weights[32];
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        luaL_argcheck(L,
                      lua_type(L, -2) == LUA_TSTRING && lua_isnumber(L, -1) &&
                          lua_tonumber(L, -1) >= 0 && count < 32,
                      2, "expected variant names with weights, e.g. { a = 50, b = 50 }");
        int at = count++;
        while (at > 0 && strcmp(names[at - 1], lua_tostring(L, -2)) > 0) {
            names[at] = names[at - 1], weights[at] = weights[at - 1];
            at--;
        }
        names[at] = lua_tostring(L, -2), weights[at] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    luaL_argcheck(L, count > 0, 2, "no variants given");
    lua_pushstring(L, names[act_split(a, weights, count)]);
    record_value(L, a, "split", -1);
    return 1;
}

/* j:log(...): a line in the instance's history and, with -v, on stderr. */
static int j_log(lua_State *L)
{
    activation *a = check_handle(L);
    if (replayed(L, a, "log")) return 0;
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 2; i <= n; i++) {
        if (i > 2) luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    record_value(L, a, "log", -1);
    return 0;
}

/* j:exit(reason): ends the journey now. */
static int j_exit(lua_State *L)
{
    activation *a = check_handle(L);
    const char *reason = luaL_optstring(L, 2, "exit");
    free(a->inst->exit_reason);
    a->inst->exit_reason = strdup(reason);
    a->outcome = ACT_EXITED;
    return lua_yield(L, 0);
}

/* Methods come from the table in upvalue 1; j.trigger is decoded on
 * first use and kept in the handle. */
static int handle_index(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        lua_pop(L, 1);
    }
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "trigger") != 0)
        return luaL_error(L, "j has no field or method '%s'", key);
    handle *h = luaL_checkudata(L, 1, HANDLE);
    if (lua_getiuservalue(L, 1, 1) == LUA_TNIL && h->a) {
        l_push_json_text(L, act_trigger_json(h->a));
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, 1, 1);
    }
    return 1;
}

static void push_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"now", j_now},
                                       {"wait", j_wait},
                                       {"wait_for", j_wait_for},
                                       {"send", j_send},
                                       {"profile", j_profile},
                                       {"count", j_count},
                                       {"last", j_last},
                                       {"set", j_set},
                                       {"consented", j_consented},
                                       {"split", j_split},
                                       {"wait_until", j_wait_until},
                                       {"local_time", j_local_time},
                                       {"log", j_log},
                                       {"exit", j_exit},
                                       {NULL, NULL}};
    if (!luaL_newmetatable(L, HANDLE)) return;
    luaL_newlib(L, methods);
    lua_pushcclosure(L, handle_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
}

void l_journey_push(lua_State *L, activation *a, lua_State *co)
{
    handle *h = lua_newuserdatauv(L, sizeof *h, 1);
    h->a = NULL;
    h->thread = co;
    push_metatable(L);
    lua_setmetatable(L, -2);
    h->a = a;
}

void l_journey_detach(lua_State *L, int index)
{
    handle *h = luaL_checkudata(L, index, HANDLE);
    h->a = NULL;
}
