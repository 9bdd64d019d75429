/* The one place that creates Lua states: safe libraries only, text chunks
 * only, per-recipe environments over a read-only stdlib, a memory cap in
 * the allocator and a CPU budget in an instruction-count hook that, once
 * tripped, fires on every instruction so pcall cannot swallow it. */
#include "sandbox.h"

#include "l_modules.h"
#include "log.h"
#include "stdlib_embed.h"
#include "timeutil.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

typedef struct sandbox {
    size_t used, limit;
    int64_t budget_ns, deadline_ns;
    int running, cpu_tripped, mem_tripped;
} sandbox;

/* Registry keys: addresses of these bytes. */
static char STDLIB_KEY, PROTECTED_KEY, LOADED_KEY, MODULES_KEY, PROXIES_KEY;

static sandbox *sandbox_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* The cap holds while recipe code runs; the host's own pushes around it
 * may go past it by a little, so an error message can always be built. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (sb->running && nsize > old && sb->used - old + nsize > sb->limit) {
        sb->mem_tripped = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) sb->used = sb->used - old + nsize;
    return p;
}

static int panic(lua_State *L)
{
    log_error("lua: unprotected error: %s", lua_tostring(L, -1));
    abort();
}

/* Once tripped, the hook fires on every instruction: each time recipe code
 * regains control, the error is raised again, so pcall cannot keep it. */
static void budget_hook(lua_State *L, lua_Debug *ar)
{
    sandbox *sb = sandbox_of(L);
    if (!sb->cpu_tripped && !sb->mem_tripped) {
        if (time_mono_ns() < sb->deadline_ns) return;
        sb->cpu_tripped = 1;
    }
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    lua_getinfo(L, "Sl", ar);
    if (sb->mem_tripped)
        lua_pushfstring(L, "%s:%d: memory limit of %d MiB exceeded", ar->short_src,
                        ar->currentline, (int)(sb->limit >> 20));
    else
        lua_pushfstring(L, "%s:%d: CPU budget of %d ms exceeded", ar->short_src,
                        ar->currentline, (int)(sb->budget_ns / 1000000));
    lua_error(L);
}

/* ---- read-only tables ------------------------------------------------ */

void sandbox_protect(lua_State *L, int index)
{
    index = lua_absindex(L, index);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &PROTECTED_KEY);
    lua_pushvalue(L, index);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int is_protected(lua_State *L, int index)
{
    index = lua_absindex(L, index);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &PROTECTED_KEY);
    lua_pushvalue(L, index);
    int yes = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return yes;
}

static int readonly_newindex(lua_State *L)
{
    return luaL_error(L, "attempt to modify read-only table (field '%s')",
                      luaL_tolstring(L, 2, NULL));
}

/* Pushes a read-only proxy of the table at `index`.  [-0, +1, m] */
static void push_readonly(lua_State *L, int index)
{
    index = lua_absindex(L, index);
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    sandbox_protect(L, -1);
}

/* ---- environments ---------------------------------------------------- */

static int env_index(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STDLIB_KEY);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    return luaL_error(L, "undeclared global '%s' (declare it with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

static int env_newindex(lua_State *L)
{
    return luaL_error(L, "assignment to undeclared global '%s' (declare it with 'local')",
                      luaL_tolstring(L, 2, NULL));
}

void sandbox_push_env(lua_State *L)
{
    lua_newtable(L);
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, env_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, env_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    sandbox_protect(L, -1);
}

int sandbox_load(lua_State *L, const char *text, size_t len, const char *chunkname)
{
    int status = luaL_loadbufferx(L, text, len, chunkname, "t");
    if (status == LUA_OK) {
        lua_pushvalue(L, -2);
        lua_setupvalue(L, -2, 1); /* _ENV */
    }
    lua_remove(L, -2);
    return status;
}

/* ---- safe replacements for base functions ---------------------------- */

static int safe_load(lua_State *L)
{
    size_t len;
    const char *text = lua_tolstring(L, 1, &len);
    if (!text) return luaL_error(L, "load: only text chunks (strings) are allowed");
    if (len && text[0] == LUA_SIGNATURE[0])
        return luaL_error(L, "load: binary chunks are not allowed");
    const char *name = luaL_optstring(L, 2, "=(load)");
    if (lua_istable(L, 4))
        lua_pushvalue(L, 4);
    else
        sandbox_push_env(L);
    if (sandbox_load(L, text, len, name) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int safe_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 3);
    if (is_protected(L, 1)) return luaL_error(L, "rawset: table is read-only");
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int safe_setmetatable(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_istable(L, 2)) {
        int has_gc = lua_getfield(L, 2, "__gc") != LUA_TNIL;
        lua_pop(L, 1);
        if (has_gc) return luaL_error(L, "setmetatable: __gc metamethods are not allowed");
    }
    if (is_protected(L, 1)) return luaL_error(L, "setmetatable: table is read-only");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* Pushes module `name`, loading it once per state: C modules registered
 * at creation, then stdlib/ files by "nudge.<file>".  [-0, +1, e] */
static void load_module(lua_State *L, const char *name)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &LOADED_KEY);
    if (lua_getfield(L, -1, name) != LUA_TNIL) return lua_remove(L, -2);
    lua_pop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &MODULES_KEY);
    if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
        lua_remove(L, -2);
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
    } else {
        lua_pop(L, 2);
        const struct embedded_file *f = nudge_stdlib;
        if (strncmp(name, "nudge.", 6) == 0)
            while (f->name && strcmp(f->name, name + 6)) f++;
        if (strncmp(name, "nudge.", 6) || !f->name)
            luaL_error(L, "module '%s' not found (recipes may require only nudge.* modules)", name);
        const char *chunkname = lua_pushfstring(L, "=stdlib/%s.lua", f->name);
        sandbox_push_env(L);
        if (sandbox_load(L, f->text, (size_t)f->len, chunkname) != LUA_OK) lua_error(L);
        lua_remove(L, -2);
        lua_call(L, 0, 1);
    }
    if (lua_isnil(L, -1)) lua_pushboolean(L, 1), lua_remove(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
    lua_remove(L, -2);
}

/* require: a module's table reaches recipes read-only, so one recipe
 * cannot change it under another. */
static int safe_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &PROXIES_KEY);
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    load_module(L, name);
    if (!lua_istable(L, -1)) return 1;
    push_readonly(L, -1);
    lua_pushvalue(L, -1);
    lua_setfield(L, -5, name);
    return 1;
}

/* ---- pattern guards -------------------------------------------------- */

/* Index just past the set that starts at p[i] == '[' (Lua's classEnd). */
static size_t skip_set(const char *p, size_t len, size_t i)
{
    i++;
    if (i < len && p[i] == '^') i++;
    do {
        if (i >= len) return len;
        if (p[i] == '%') i++;
        i++;
    } while (i < len && p[i] != ']');
    return i + 1;
}

/* An upper bound on the steps of Lua's backtracking matcher for pattern p
 * over n bytes: each quantified item (*, +, -), %b and back-reference can
 * multiply the work by n + 1, '?' by 2, and every try walks the pattern's
 * items; an unanchored search tries n + 1 starting points. */
static double pattern_cost(const char *p, size_t len, size_t n, int anchored)
{
    double per = (double)n + 1, cost = anchored ? 1 : per;
    size_t i = anchored, items = 0;
    while (i < len && cost < 1e30) {
        size_t end;
        items++;
        if (p[i] == '(' || p[i] == ')') {
            i++;
            continue;
        }
        if (p[i] == '%' && i + 1 < len && p[i + 1] == 'b') {
            cost *= per, i += 4;
            continue;
        }
        if (p[i] == '%' && i + 1 < len && p[i + 1] == 'f') {
            i = skip_set(p, len, i + 2);
            continue;
        }
        if (p[i] == '%' && i + 1 < len && p[i + 1] >= '1' && p[i + 1] <= '9') {
            cost *= per, i += 2;
            continue;
        }
        end = p[i] == '[' ? skip_set(p, len, i) : p[i] == '%' ? i + 2 : i + 1;
        if (end < len && (p[end] == '*' || p[end] == '+' || p[end] == '-'))
            cost *= per, end++;
        else if (end < len && p[end] == '?')
            cost *= 2, end++;
        i = end;
    }
    return cost * (double)(items ? items : 1);
}

enum pattern_call { CALL_FIND, CALL_MATCH, CALL_GMATCH, CALL_GSUB };

/* string.find / match / gmatch / gsub with the original as upvalue 1 and
 * the kind of call as upvalue 2. */
static int guarded_pattern(lua_State *L)
{
    size_t n, plen;
    luaL_checklstring(L, 1, &n);
    const char *p = luaL_checklstring(L, 2, &plen);
    int call = (int)lua_tointeger(L, lua_upvalueindex(2));
    int plain = call == CALL_FIND && lua_toboolean(L, 4);
    int anchored = call != CALL_GMATCH && plen && p[0] == '^';
    double cost = plain || !strpbrk(p, "^$*+?.([%-")
                      ? (double)n * (double)plen /* a plain substring search */
                      : pattern_cost(p, plen, n, anchored);
    if (cost > SANDBOX_PATTERN_STEPS) {
        char why[200];
        snprintf(why, sizeof why,
                 "pattern too complex for a subject of %zu bytes (worst case %.1e steps, "
                 "limit %.0e): simplify the pattern or shorten the text",
                 n, cost, SANDBOX_PATTERN_STEPS);
        return luaL_error(L, "%s", why);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static void guard_string_library(lua_State *L, int strlib)
{
    static const char *names[] = {"find", "match", "gmatch", "gsub", NULL};
    for (int i = 0; names[i]; i++) {
        lua_getfield(L, strlib, names[i]);
        lua_pushinteger(L, i); /* enum pattern_call */
        lua_pushcclosure(L, guarded_pattern, 2);
        lua_setfield(L, strlib, names[i]);
    }
    lua_pushnil(L);
    lua_setfield(L, strlib, "dump");
}

/* ---- building the state ---------------------------------------------- */

static const char *const base_names[] = {
    "assert", "error",  "getmetatable", "ipairs", "next",     "pairs",    "pcall",
    "rawequal", "rawget", "rawlen",     "select", "tonumber", "tostring", "type",
    "xpcall", "_VERSION", NULL};
static const char *const library_names[] = {"string", "table", "math", "utf8", "coroutine",
                                            NULL};

static void add_safe_functions(lua_State *L, int globals, int stdlib)
{
    lua_pushcfunction(L, safe_load);
    lua_setfield(L, stdlib, "load");
    lua_pushcfunction(L, safe_rawset);
    lua_setfield(L, stdlib, "rawset");
    lua_pushcfunction(L, safe_require);
    lua_setfield(L, stdlib, "require");
    lua_getfield(L, globals, "setmetatable");
    lua_pushcclosure(L, safe_setmetatable, 1);
    lua_setfield(L, stdlib, "setmetatable");
}

/* Fills the registry's stdlib table from the real globals.  [-0, +0, m] */
static void build_stdlib(lua_State *L)
{
    lua_pushglobaltable(L);
    int globals = lua_gettop(L);
    lua_newtable(L);
    int stdlib = lua_gettop(L);
    for (int i = 0; base_names[i]; i++) {
        lua_getfield(L, globals, base_names[i]);
        lua_setfield(L, stdlib, base_names[i]);
    }
    lua_getfield(L, globals, "math"); /* randomness comes through j:split */
    lua_pushnil(L), lua_setfield(L, -2, "random");
    lua_pushnil(L), lua_setfield(L, -2, "randomseed");
    lua_getfield(L, globals, "string");
    guard_string_library(L, lua_gettop(L));
    lua_pop(L, 2);
    for (int i = 0; library_names[i]; i++) {
        lua_getfield(L, globals, library_names[i]);
        push_readonly(L, -1);
        lua_setfield(L, stdlib, library_names[i]);
        lua_pop(L, 1);
    }
    add_safe_functions(L, globals, stdlib);
    lua_pushvalue(L, stdlib);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &STDLIB_KEY);
    lua_settop(L, globals - 1);
}

static void protect_string_metatable(lua_State *L)
{
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    sandbox_protect(L, -1);
    lua_pop(L, 2);
}

static void create_registry_tables(lua_State *L, const luaL_Reg *modules)
{
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &PROTECTED_KEY);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &LOADED_KEY);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &PROXIES_KEY);
    lua_newtable(L);
    lua_pushcfunction(L, luaopen_nudge_time); /* the prelude needs it */
    lua_setfield(L, -2, "nudge.time");
    for (; modules && modules->name; modules++) {
        lua_pushcfunction(L, modules->func);
        lua_setfield(L, -2, modules->name);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MODULES_KEY);
}

static int load_prelude(lua_State *L)
{
    load_module(L, "nudge.prelude");
    return 1;
}

/* Runs stdlib/prelude.lua; the table it returns joins the stdlib. */
static int run_prelude(lua_State *L)
{
    lua_pushcfunction(L, load_prelude);
    lua_pushnil(L);
    if (sandbox_pcall(L, 1, 1) != LUA_OK) {
        log_error("stdlib prelude: %s", lua_tostring(L, -1));
        return -1;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &STDLIB_KEY);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pop(L, 2);
    return 0;
}

lua_State *sandbox_new(sandbox_limits limits, const luaL_Reg *modules)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},        {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL}};
    sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return NULL;
    sb->limit = limits.memory_bytes ? limits.memory_bytes : SANDBOX_DEFAULT_MEMORY;
    sb->budget_ns = (int64_t)(limits.cpu_ms ? limits.cpu_ms : SANDBOX_DEFAULT_CPU_MS) * 1000000;
    lua_State *L = lua_newstate(limited_alloc, sb);
    if (!L) return free(sb), NULL;
    lua_atpanic(L, panic);
    for (const luaL_Reg *lib = libs; lib->name; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    create_registry_tables(L, modules);
    protect_string_metatable(L);
    build_stdlib(L);
    if (run_prelude(L)) {
        sandbox_close(L);
        return NULL;
    }
    return L;
}

void sandbox_close(lua_State *L)
{
    if (!L) return;
    sandbox *sb = sandbox_of(L);
    lua_close(L);
    free(sb);
}

/* ---- running recipe code --------------------------------------------- */

static void arm(sandbox *sb, lua_State *T)
{
    sb->deadline_ns = time_mono_ns() + sb->budget_ns;
    sb->cpu_tripped = sb->mem_tripped = 0;
    sb->running = 1;
    lua_sethook(T, budget_hook, LUA_MASKCOUNT, 1000);
}

static void disarm(sandbox *sb, lua_State *T)
{
    sb->running = 0;
    lua_sethook(T, NULL, 0, 0);
}

/* "file:line: " of the innermost Lua frame of T, or "". */
static void innermost_line(lua_State *T, char *buf, size_t len)
{
    lua_Debug ar;
    buf[0] = 0;
    for (int level = 0; lua_getstack(T, level, &ar); level++) {
        lua_getinfo(T, "Sl", &ar);
        if (ar.currentline > 0) {
            snprintf(buf, len, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
}

static int has_position(const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon || colon[1] < '0' || colon[1] > '9') return 0;
    colon++;
    while (*colon >= '0' && *colon <= '9') colon++;
    return *colon == ':';
}

/* Rewrites the error at the top of T so it names the recipe line and the
 * limit that tripped.  `stack` says T's frames are still there to read. */
static void describe_error(lua_State *T, int status, int stack)
{
    sandbox *sb = sandbox_of(T);
    const char *msg = lua_tostring(T, -1);
    char where[256] = "";
    if (stack) innermost_line(T, where, sizeof where);
    if (status == LUA_ERRMEM || (sb->mem_tripped && !sb->cpu_tripped && msg &&
                                 strstr(msg, "not enough memory")))
        lua_pushfstring(T, "%smemory limit of %d MiB exceeded", where, (int)(sb->limit >> 20));
    else if (!msg)
        lua_pushfstring(T, "%serror object is a %s value", where, luaL_typename(T, -1));
    else if (!has_position(msg) && where[0])
        lua_pushfstring(T, "%s%s", where, msg);
    else
        return;
    lua_remove(T, -2);
}

int sandbox_resume(lua_State *L, lua_State *co, int nargs, int *nresults)
{
    sandbox *sb = sandbox_of(L);
    arm(sb, co);
    int status = lua_resume(co, L, nargs, nresults);
    disarm(sb, co);
    if (status != LUA_OK && status != LUA_YIELD) describe_error(co, status, 1);
    return status;
}

/* Runs as a coroutine too, so that after an error the frames are still
 * there to name the recipe line (a memory error unwinds a plain pcall
 * before any handler runs). */
int sandbox_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs, nres = 0;
    lua_State *co = lua_newthread(L);
    lua_insert(L, base); /* anchored below the function */
    lua_xmove(L, co, nargs + 1);
    int status = sandbox_resume(L, co, nargs, &nres);
    if (status == LUA_YIELD) {
        lua_pushliteral(co, "coroutine.yield() called outside a coroutine");
        status = LUA_ERRRUN;
    }
    if (status == LUA_OK) {
        if (nresults != LUA_MULTRET) lua_settop(co, nres = nresults);
        lua_xmove(co, L, nres);
    } else {
        lua_xmove(co, L, 1);
    }
    lua_remove(L, base);
    return status;
}
