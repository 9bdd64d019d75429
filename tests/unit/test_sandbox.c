/* Unit tests for runtime/sandbox.h and the embedded stdlib prelude: what
 * recipe code can reach, what it cannot change, and the limits it cannot
 * escape (CPU budget, memory cap, pattern cost).  After every limit trip
 * the same state must go on running normal code. */
#include "sandbox.h"

#include "l_modules.h"
#include "timeutil.h"
#include "unit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static const luaL_Reg modules[] = {{"nudge.time", luaopen_nudge_time}, {NULL, NULL}};

typedef struct outcome {
    int status;     /* LUA_OK or the error status */
    char text[512]; /* the error message, or the returned value as text */
    double seconds; /* wall time of load + call */
} outcome;

/* Runs `code` as a fresh recipe chunk named "test" in L.  The stack is
 * left as it was found. */
static outcome run(lua_State *L, const char *code)
{
    outcome o = {0};
    int top = lua_gettop(L);
    int64_t start = time_mono_ns();
    sandbox_push_env(L);
    o.status = sandbox_load(L, code, strlen(code), "=test");
    if (o.status == LUA_OK) o.status = sandbox_pcall(L, 0, 1);
    o.seconds = (double)(time_mono_ns() - start) / 1e9;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
    case LUA_TNUMBER:
        snprintf(o.text, sizeof o.text, "%s", lua_tostring(L, -1));
        break;
    case LUA_TBOOLEAN:
        snprintf(o.text, sizeof o.text, "%s", lua_toboolean(L, -1) ? "true" : "false");
        break;
    default:
        snprintf(o.text, sizeof o.text, "(%s)", luaL_typename(L, -1));
        break;
    }
    lua_settop(L, top);
    if (getenv("UNIT_VERBOSE"))
        printf("# status %d, %.3f s: %s\n", o.status, o.seconds, o.text);
    return o;
}

/* The snippet fails and its message contains `want`. */
static int fails_with(lua_State *L, const char *code, const char *want)
{
    outcome o = run(L, code);
    int ok = o.status != LUA_OK && strstr(o.text, want) != NULL;
    if (!ok)
        printf("# status %d, message \"%s\", want an error with \"%s\"\n", o.status,
               o.text, want);
    return ok;
}

/* The snippet runs and returns a value whose text is `want`. */
static int returns(lua_State *L, const char *code, const char *want)
{
    outcome o = run(L, code);
    int ok = o.status == LUA_OK && strcmp(o.text, want) == 0;
    if (!ok) printf("# status %d, got \"%s\", want \"%s\"\n", o.status, o.text, want);
    return ok;
}

/* A normal snippet still runs: the state survived whatever came before. */
static int still_works(lua_State *L)
{
    return returns(L,
                   "local s = 0 for i = 1, 1000 do s = s + i end\n"
                   "local t = {} for i = 1, 100 do t[i] = ('x'):rep(i) end\n"
                   "return s + #t[100] + #table.concat(t)",
                   "505650");
}

/* The message, with a leading "file:line: " position taken off. */
static const char *after_position(const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon || colon[1] < '0' || colon[1] > '9') return msg;
    const char *p = colon + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p != ':') return msg;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

static void test_globals(lua_State *L)
{
    static const char *forbidden[] = {"io",     "os",       "debug",          "package",
                                      "dofile", "loadfile", "collectgarbage", "_G",
                                      NULL};
    for (int i = 0; forbidden[i]; i++) {
        char code[64], want[64], name[96];
        snprintf(code, sizeof code, "return %s", forbidden[i]);
        snprintf(want, sizeof want, "undeclared global '%s'", forbidden[i]);
        snprintf(name, sizeof name, "globals: %s is an undeclared-global error",
                 forbidden[i]);
        CHECK(fails_with(L, code, want), name);
    }
    CHECK(fails_with(L, "return require 'os'", "not found"), "require: 'os' fails");
    CHECK(fails_with(L, "return require 'io'", "not found"), "require: 'io' fails");
    CHECK(fails_with(L, "return require 'nudge.nope'", "not found"),
          "require: an unknown nudge module fails");
    CHECK(
        returns(L, "local t = require 'nudge.time' return t.duration('30m')", "1800.0") ||
            returns(L, "local t = require 'nudge.time' return t.duration('30m')", "1800"),
        "require: nudge.time works");
    CHECK(returns(L, "return require('nudge.time') == require('nudge.time')", "true"),
          "require: a module is loaded once per state");
    CHECK(returns(L,
                  "return type(string) .. type(table) .. type(math) .. type(utf8) .. "
                  "type(coroutine) .. type(pcall)",
                  "tabletabletabletabletablefunction"),
          "globals: the safe libraries are there");
}

static void test_load(lua_State *L)
{
    CHECK(
        returns(
            L,
            "local ok, f = pcall(load, '\\27LuaT\\0\\25\\147\\r\\n\\26\\n\\4\\8\\8xV')\n"
            "if not ok or f == nil then return 'rejected' end return 'loaded'",
            "rejected"),
        "load: a binary chunk (\\27Lua...) is refused");
    const char binary[] = "\x1bLuaT\x00\x19\x93\r\n\x1a\n";
    int top = lua_gettop(L);
    sandbox_push_env(L);
    int status = sandbox_load(L, binary, sizeof binary - 1, "=bin");
    CHECK(status != LUA_OK, "load: sandbox_load refuses a binary chunk");
    lua_settop(L, top);
    CHECK(returns(L, "return load('return 1+1')()", "2"),
          "load: load('return 1+1')() is 2");
    CHECK(fails_with(L, "return load('return os')()", "undeclared global 'os'"),
          "load: a loaded chunk gets a sandboxed environment");
    CHECK(returns(L, "return string.dump == nil and ('').dump == nil", "true"),
          "string.dump is nil");
}

static void test_readonly(lua_State *L)
{
    CHECK(returns(L, "return getmetatable('')", "protected"),
          "string metatable: getmetatable('') is \"protected\"");
    CHECK(fails_with(L, "setmetatable('', {})", "table expected"),
          "string metatable: setmetatable on a string fails");
    CHECK(run(L, "getmetatable('').__index = {}").status != LUA_OK,
          "string metatable: cannot be reached to change it");
    CHECK(returns(L, "return ('abc'):upper() .. string.upper('d')", "ABCD"),
          "string metatable: methods still work");
    CHECK(fails_with(L, "string.upper = nil", "read-only"),
          "stdlib: string.upper = nil raises");
    CHECK(fails_with(L, "rawset(string, 'x', 1)", "read-only"),
          "stdlib: rawset(string, 'x', 1) raises");
    CHECK(fails_with(L, "table.insert = nil", "read-only"),
          "stdlib: table is read-only too");
    CHECK(fails_with(L, "setmetatable(math, {})", "read-only"),
          "stdlib: setmetatable on a library fails");
    CHECK(fails_with(L, "x = 1", "assignment to undeclared global"),
          "globals: assigning a global raises");
    CHECK(fails_with(L, "rawset(_ENV, 'x', 1)", "read-only"),
          "globals: rawset(_ENV, ...) raises");
    CHECK(fails_with(L, "return y", "undeclared global 'y'"),
          "globals: reading an undeclared global raises");
    CHECK(fails_with(L, "pairs = nil", "assignment to undeclared global"),
          "globals: a stdlib name cannot be replaced");
    CHECK(fails_with(L, "setmetatable({}, {__gc = function() end})", "__gc"),
          "setmetatable with __gc raises");
    CHECK(returns(L, "return math.random == nil and math.randomseed == nil", "true"),
          "math.random is nil");
    CHECK(returns(L, "return string.upper('ok')", "OK"),
          "stdlib: string.upper is intact after the attempts");
}

/* The table a module returns is shared by every recipe of the state and
 * by the prelude: one recipe must not be able to change it for the rest.
 * Run in a state of its own so a failure cannot spill into other checks. */
static void test_module_tamper(void)
{
    lua_State *L = sandbox_new((sandbox_limits){0}, modules);
    if (!L) return;
    CHECK(fails_with(L, "require('nudge.time').duration = function() return 0 end",
                     "read-only"),
          "stdlib: a required module cannot be changed by a recipe");
    CHECK(returns(L, "return require('nudge.time').duration('1m')", "60.0"),
          "stdlib: nudge.time.duration is intact for the next recipe");
    CHECK(returns(L,
                  "return journey { name = 'n', trigger = { event = 'E' },"
                  " run = function() end, reentry = '7d' }.reentry",
                  "604800.0"),
          "stdlib: the prelude's journey{} is intact for the next recipe");
    sandbox_close(L);
}

static void test_cpu(lua_State *L)
{
    outcome o = run(L, "while true do end");
    CHECK(o.status != LUA_OK && strstr(o.text, "CPU budget"),
          "cpu: while true do end trips the budget");
    CHECK(strncmp(o.text, "test:1:", 7) == 0,
          "cpu: the message names the chunk and line");
    CHECK(o.seconds < 2.0, "cpu: the budget trips in well under 2 s");
    CHECK(still_works(L), "cpu: the state still works after the trip");

    o = run(L, "while true do pcall(function() while true do end end) end");
    CHECK(o.status != LUA_OK && strstr(o.text, "CPU budget"),
          "cpu: pcall cannot swallow the budget");
    CHECK(still_works(L), "cpu: the state still works after the pcall attempt");

    o = run(L, "while true do coroutine.resume(coroutine.create(function() while true do "
               "end end)) end");
    CHECK(o.status != LUA_OK && strstr(o.text, "CPU budget"),
          "cpu: coroutine.resume cannot swallow the budget");
    CHECK(still_works(L), "cpu: the state still works after the coroutine attempt");

    o = run(L, "local ok, e repeat ok, e = xpcall(function() while true do end end,"
               " function(m) return m end) until false");
    CHECK(o.status != LUA_OK && strstr(o.text, "CPU budget"),
          "cpu: xpcall with a handler cannot swallow the budget");
    CHECK(still_works(L), "cpu: the state still works after the xpcall attempt");
}

/* Fills a table until something gives.  Under the default 100 ms budget
 * the fill reaches 64 MiB in about 100-130 ms, so either limit may trip
 * first; test_memory runs it again with a budget that leaves only the cap. */
static void test_memory_default_budget(lua_State *L)
{
    outcome o = run(L, "local t = {} for i = 1, 1e9 do t[i] = i end");
    CHECK(o.status != LUA_OK &&
              (strstr(o.text, "memory limit") || strstr(o.text, "CPU budget")),
          "memory: a growing table is stopped under the default limits");
    CHECK(still_works(L),
          "memory: the state still works after the table (default limits)");
}

static void test_memory(void)
{
    lua_State *L = sandbox_new((sandbox_limits){.cpu_ms = 20000}, modules);
    CHECK(L != NULL, "memory: state with the default memory cap and a 20 s budget");
    if (!L) return;
    outcome o = run(L, "local t = {} for i = 1, 1e9 do t[i] = i end");
    CHECK(o.status != LUA_OK && strstr(o.text, "memory limit"),
          "memory: a growing table trips the memory limit");
    CHECK(strncmp(o.text, "test:1:", 7) == 0,
          "memory: the message names the chunk and line");
    if (strncmp(o.text, "test:1:", 7) != 0) printf("# message: %s\n", o.text);
    CHECK(still_works(L), "memory: the state still works after the table");

    o = run(L, "return string.rep('x', 1e9)");
    CHECK(o.status != LUA_OK && strstr(o.text, "memory limit"),
          "memory: string.rep('x', 1e9) trips the memory limit");
    CHECK(still_works(L), "memory: the state still works after string.rep");

    o = run(L, "local t = {} while true do pcall(function() t[#t + 1] = ('x'):rep(1e6 + "
               "#t) end) end");
    CHECK(o.status != LUA_OK && strstr(o.text, "memory limit"),
          "memory: pcall cannot swallow the memory limit");
    CHECK(still_works(L), "memory: the state still works after the pcall attempt");
    sandbox_close(L);
}

static void test_patterns(lua_State *L)
{
    outcome o = run(L, "return string.find(('a'):rep(400), ('.-'):rep(3) .. 'b')");
    CHECK(o.status != LUA_OK && strstr(o.text, "pattern too complex"),
          "pattern: a catastrophic pattern is refused");
    CHECK(o.seconds < 2.0, "pattern: ... quickly (< 2 s)");
    if (o.seconds >= 2.0) printf("# took %.1f s\n", o.seconds);
    CHECK(still_works(L), "pattern: the state still works after the refusal");

    o = run(L, "return (('a'):rep(400)):match(('.-'):rep(3) .. 'b')");
    CHECK(o.status != LUA_OK && strstr(o.text, "pattern too complex") && o.seconds < 2.0,
          "pattern: the method form is guarded too");
    o = run(L, "local n = 0 for _ in (('a'):rep(400)):gmatch(('.-'):rep(3) .. 'b') do n "
               "= n + 1 end return n");
    CHECK(o.status != LUA_OK && strstr(o.text, "pattern too complex") && o.seconds < 2.0,
          "pattern: gmatch is guarded too");
    o = run(L, "return (string.gsub(('a'):rep(400), ('.-'):rep(3) .. 'b', ''))");
    CHECK(o.status != LUA_OK && strstr(o.text, "pattern too complex") && o.seconds < 2.0,
          "pattern: gsub is guarded too");

    CHECK(returns(L, "return ('  hi  '):match('^%s*(.-)%s*$') == 'hi'", "true"),
          "pattern: a legitimate trim pattern works");
    CHECK(returns(L, "return select(2, ('a,b,,c'):gsub(',', ';'))", "3"),
          "pattern: a legitimate gsub works");
    CHECK(returns(L, "return ('x.y'):find('.', 1, true)", "2"),
          "pattern: plain find works");

    /* No single string call may run for seconds past a 100 ms budget: C
     * code is out of the count hook's reach.  Each case below takes 2-4 s
     * of uninterrupted CPU when let through (measured on a 2024 x86). */
    o = run(L, "return (('a'):rep(20000)):find('.-b')");
    CHECK(o.seconds < 1.0, "pattern: a pattern the guard lets through ends within 1 s");
    if (o.seconds >= 1.0) printf("# took %.1f s (status %d)\n", o.seconds, o.status);
    o = run(L, "return (('a'):rep(1e5)):find(('a'):rep(2500) .. '%d')");
    CHECK(o.seconds < 1.0,
          "pattern: a long literal pattern over a long subject ends within 1 s");
    if (o.seconds >= 1.0) printf("# took %.1f s (status %d)\n", o.seconds, o.status);
    /* gmatch does not treat a leading '^' as an anchor (Lua 5.4 manual,
     * string.gmatch): it is a literal that can match at every position. */
    o = run(L,
            "local n = 0 for _ in (('^'):rep(250)):gmatch('^.-.-.-b') do n = n + 1 end "
            "return n");
    CHECK(o.seconds < 1.0, "pattern: gmatch with a leading '^' ends within 1 s");
    if (o.seconds >= 1.0) printf("# took %.1f s (status %d)\n", o.seconds, o.status);
    o = run(L, "return (('a'):rep(2e6)):find(('a'):rep(5e4) .. 'b', 1, true)");
    CHECK(o.seconds < 1.0,
          "pattern: a long plain needle over a long subject ends within 1 s");
    if (o.seconds >= 1.0) printf("# took %.1f s (status %d)\n", o.seconds, o.status);
    CHECK(still_works(L), "pattern: the state still works after the long searches");
}

static void test_prelude(lua_State *L)
{
    CHECK(returns(L,
                  "local t, s = {b = 1, a = 2, c = 3}, ''\n"
                  "for k, v in pairs(t) do s = s .. k .. v end return s",
                  "a2b1c3"),
          "prelude: pairs visits keys in sorted order");
    CHECK(returns(L,
                  "local inner, s = {b = 1, a = 2, c = 3}, ''\n"
                  "local t = setmetatable({}, {__metatable = false,\n"
                  "  __pairs = function() return next, inner, nil end})\n"
                  "for k, v in pairs(t) do s = s .. k .. v end return s",
                  "a2b1c3"),
          "prelude: a __pairs handing over next and a table is sorted (locked "
          "metatable too)");
    CHECK(returns(L,
                  "local t, s = {[3] = 'c', [1] = 'a', x = 'X', [2] = 'b'}, ''\n"
                  "for k, v in pairs(t) do s = s .. tostring(k) .. v end return s",
                  "1a2b3cxX"),
          "prelude: pairs puts numbers before strings");

    outcome o = run(L, "local j = journey { name = 'x', bogus = 1 }\nreturn j");
    const char *msg = after_position(o.text);
    CHECK(o.status != LUA_OK && strncmp(msg, "journey:", 8) == 0 &&
              strstr(msg, "'bogus'"),
          "prelude: journey{} rejects an unknown field (\"journey: ...\" naming it)");
    if (o.status == LUA_OK || strncmp(msg, "journey:", 8) != 0)
        printf("# message: %s\n", o.text);
    CHECK(strncmp(o.text, "test:1:", 7) == 0,
          "prelude: ... at the recipe line that called it");

    /* The form every recipe uses (SPEC section 4) is a tail call. */
    o = run(L, "return journey { name = 'x', bogus = 1 }");
    msg = after_position(o.text);
    CHECK(o.status != LUA_OK && strncmp(msg, "journey:", 8) == 0 &&
              strstr(msg, "'bogus'"),
          "prelude: return journey{...} rejects an unknown field too");
    /* Its recipe frame is gone, so the sandbox can only name the stdlib
     * line; the recipe host moves the message to the recipe's `journey {`
     * line (tests/cli/test_cli.sh checks that). */
    CHECK(
        returns(L,
                "local ok, e = pcall(journey, { name = 'x', bogus = 1 })\n"
                "return (not ok) and e:sub(1, 8) == 'journey:' and e:find('bogus', 1, "
                "true) ~= nil",
                "true"),
        "prelude: caught by pcall, the message starts with journey: and names the field");
    CHECK(returns(L,
                  "local j = journey { name = 'cart', trigger = { event = 'Checkout "
                  "Started' },\n"
                  "  run = function(j) end, reentry = '7d', holdout = 0.1 }\n"
                  "return j.name .. ' ' .. j.reentry .. ' ' .. j.holdout",
                  "cart 604800.0 0.1"),
          "prelude: a valid journey{} passes");
}

/* A loader for lazy tables that counts its calls. */
typedef struct loads {
    int count;
    const char *text; /* NULL: the load fails */
} loads;

static char *load_text(void *ctx)
{
    loads *l = ctx;
    l->count++;
    return l->text ? strdup(l->text) : NULL;
}

/* Calls the function `code` with a lazy table over l->text as argument,
 * then closes the table.  The call's result stays on the stack. */
static outcome call_lazy(lua_State *L, const char *code, loads *l)
{
    outcome o = {0};
    sandbox_push_env(L);
    if (sandbox_load(L, code, strlen(code), "=lazy") != LUA_OK) {
        snprintf(o.text, sizeof o.text, "%s", lua_tostring(L, -1));
        o.status = LUA_ERRSYNTAX;
        return o;
    }
    l_push_lazy_json(L, load_text, l, "the test table");
    int lazy = lua_gettop(L);
    lua_pushvalue(L, lazy - 1);
    lua_pushvalue(L, lazy);
    o.status = sandbox_pcall(L, 1, 1);
    const char *text = lua_tostring(L, -1);
    snprintf(o.text, sizeof o.text, "%s", text ? text : luaL_typename(L, -1));
    l_lazy_json_close(L, lazy);
    lua_replace(L, lazy - 1);
    lua_settop(L, lazy - 1);
    return o;
}

/* The lazy result `code` gives is `want` (and no error). */
static int lazy_returns(lua_State *L, const char *code, loads *l, const char *want)
{
    outcome o = call_lazy(L, code, l);
    lua_pop(L, 1);
    int ok = o.status == LUA_OK && strcmp(o.text, want) == 0;
    if (!ok) printf("# status %d, got \"%s\", want \"%s\"\n", o.status, o.text, want);
    return ok;
}

/* The function `code` returns, called after the lazy table was closed,
 * fails with a message containing `want`. */
static int fails_after_close(lua_State *L, const char *code, loads *l, const char *want)
{
    outcome o = call_lazy(L, code, l);
    int status = o.status == LUA_OK ? sandbox_pcall(L, 0, 1) : o.status;
    const char *msg = lua_tostring(L, -1);
    int ok = status != LUA_OK && msg && strstr(msg, want);
    if (!ok) printf("# status %d, message \"%s\", want \"%s\"\n", status, msg, want);
    lua_pop(L, 1);
    return ok;
}

/* The profile reaches trigger.where as a lazy table (host_where). */
static void test_lazy_reads(lua_State *L)
{
    loads l = {0, "{\"plan\":\"pro\",\"b\":[1,2],\"a\":{\"x\":1}}"};
    CHECK(lazy_returns(L, "local p = ... return 'untouched'", &l, "untouched") &&
              l.count == 0,
          "lazy: a table nobody reads is never loaded");
    CHECK(lazy_returns(L,
                       "local p = ... return p.plan .. p.a.x .. p.b[2] .. tostring(p.no)",
                       &l, "pro12nil") &&
              l.count == 1,
          "lazy: fields read through it, loaded once");
    CHECK(
        lazy_returns(L,
                     "local p, s = ..., '' for k, v in pairs(p) do\n"
                     "s = s .. k .. '=' .. (type(v) == 'table' and #v or v) .. ';' end\n"
                     "return s",
                     &l, "a=0;b=2;plan=pro;"),
        "lazy: pairs walks the content in sorted order");
    CHECK(
        lazy_returns(
            L,
            "local p = ... return tostring(next(p) == nil and rawget(p, 'plan') == nil)",
            &l, "true"),
        "lazy: the table itself stays empty to next and rawget");
    CHECK(lazy_returns(L, "local p = ... p.plan = 'free' p.z = 5 return p.plan .. p.z",
                       &l, "free5"),
          "lazy: assignments land in the content");
    CHECK(lazy_returns(L, "return getmetatable(...)", &l, "protected"),
          "lazy: its metatable is locked");
    loads list = {0, "[10,20,30]"};
    CHECK(lazy_returns(L,
                       "local p, s = ..., 0 for _, v in ipairs(p) do s = s + v end\n"
                       "return #p .. ' ' .. s",
                       &list, "3 60"),
          "lazy: # and ipairs see an array's content");
}

/* A lazy table is usable only during the call it is passed to. */
static void test_lazy_closed(lua_State *L)
{
    loads l = {0, "{\"plan\":\"pro\"}"}, broken = {0, NULL};
    outcome o = call_lazy(L, "local p = ... return p.plan", &broken);
    lua_pop(L, 1);
    CHECK(o.status != LUA_OK && strstr(o.text, "the test table cannot be read"),
          "lazy: a failed load raises, naming the table");
    static const char *const uses[] = {"return p.plan", "return #p", "p.x = 1",
                                       "for k in pairs(p) do end", NULL};
    for (int i = 0; uses[i]; i++) {
        char code[200], name[120];
        snprintf(code, sizeof code, "local p = ... return function() %s end", uses[i]);
        snprintf(name, sizeof name, "lazy: `%s` after the call returned raises", uses[i]);
        CHECK(
            fails_after_close(L, code, &l, "the test table used after the call returned"),
            name);
    }
    loads other = {0, "{\"plan\":\"free\"}"};
    call_lazy(L, "local p = ... return function() return p.plan end", &l);
    l_push_lazy_json(L, load_text, &other, "the test table"); /* another call's */
    lua_pushvalue(L, -2);
    int status = sandbox_pcall(L, 0, 1);
    CHECK(status != LUA_OK && other.count == 0,
          "lazy: one kept from an earlier call does not read the open one");
    l_lazy_json_close(L, -2);
    lua_pop(L, 3);
    o = call_lazy(L, "return ...", &l); /* the closed table itself */
    char err[200] = "", *text = l_to_json_text(L, -1, err, sizeof err);
    CHECK(!text && strstr(err, "used after the call returned"),
          "lazy: a closed table cannot be stored as JSON");
    free(text);
    lua_pop(L, 1);
}

static void test_recursion(lua_State *L)
{
    outcome o = run(L, "local function f(n) return 1 + f(n + 1) end return f(1)");
    CHECK(o.status != LUA_OK && o.text[0] != '(',
          "recursion: deep recursion fails cleanly with a message");
    if (o.status != LUA_OK) printf("# recursion: %.120s\n", o.text);
    CHECK(still_works(L), "recursion: the state still works after the overflow");

    o = run(L, "local function f() return pcall(f) end return f()");
    CHECK(o.status == LUA_OK || o.text[0] != '(',
          "recursion: pcall recursion ends without a crash");
    CHECK(still_works(L), "recursion: the state still works after the pcall recursion");
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    lua_State *L = sandbox_new((sandbox_limits){0}, modules);
    CHECK(L != NULL, "sandbox_new with default limits");
    if (!L) UNIT_DONE();
    test_globals(L);
    test_load(L);
    test_readonly(L);
    test_prelude(L);
    test_cpu(L);
    test_memory_default_budget(L);
    test_patterns(L);
    test_recursion(L);
    test_lazy_reads(L);
    test_lazy_closed(L);
    CHECK(lua_gettop(L) == 0, "the stack of the state is balanced");
    sandbox_close(L);

    test_module_tamper();
    test_memory();

    /* sandbox.h: `modules` may be NULL. */
    lua_State *L2 = sandbox_new((sandbox_limits){0}, NULL);
    CHECK(L2 != NULL, "sandbox_new with no modules gives a state");
    CHECK(L2 && still_works(L2), "a state without modules runs code");
    sandbox_close(L2);
    UNIT_DONE();
}
