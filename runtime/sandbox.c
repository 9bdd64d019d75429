/* The one place that creates Lua states: safe libraries only, text chunks
 * only, per-recipe environments over a read-only stdlib.  The memory cap
 * and CPU budget live in sandbox_limits.c. */
#include "sandbox_internal.h"

#include "l_modules.h"
#include "log.h"
#include "stdlib_embed.h"
#include "timeutil.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys: addresses of these bytes. */
static char STDLIB_KEY, PROTECTED_KEY, LOADED_KEY, MODULES_KEY, PROXIES_KEY, THREAD_KEY;

static int panic(lua_State *L)
{
    log_error("lua: unprotected error: %s", lua_tostring(L, -1));
    abort();
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
    /* finalizers and to-be-closed handlers could run where no limit holds */
    static const char *const refused[] = {"__gc", "__close", NULL};
    for (int i = 0; lua_istable(L, 2) && refused[i]; i++) {
        int present = lua_getfield(L, 2, refused[i]) != LUA_TNIL;
        lua_pop(L, 1);
        if (present)
            return luaL_error(L, "setmetatable: %s metamethods are not allowed",
                              refused[i]);
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
            while (f->name && strcmp(f->name, name + 6))
                f++;
        if (strncmp(name, "nudge.", 6) || !f->name)
            luaL_error(L,
                       "module '%s' not found (recipes may require only nudge.* modules)",
                       name);
        char file[256]; /* "channels.smtp" is stdlib/channels/smtp.lua */
        snprintf(file, sizeof file, "%s", f->name);
        for (char *dot = strchr(file, '.'); dot; dot = strchr(dot, '.'))
            *dot = '/';
        const char *chunkname = lua_pushfstring(L, "=stdlib/%s.lua", file);
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

/* ---- building the state ---------------------------------------------- */

static const char *const base_names[] = {
    "assert",   "error",    "getmetatable", "ipairs",   "next",   "pairs",
    "pcall",    "rawequal", "rawget",       "rawlen",   "select", "tonumber",
    "tostring", "type",     "xpcall",       "_VERSION", NULL};
static const char *const library_names[] = {"string", "table",     "math",
                                            "utf8",   "coroutine", NULL};

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
    lua_getfield(L, globals, "math"); /* randomness comes through j:split */
    lua_pushnil(L), lua_setfield(L, -2, "random");
    lua_pushnil(L), lua_setfield(L, -2, "randomseed");
    lua_getfield(L, globals, "string");
    lua_getfield(L, globals, "table");
    limits_guard_libraries(L, lua_gettop(L) - 1, lua_gettop(L), globals);
    lua_pop(L, 3);
    for (int i = 0; base_names[i]; i++) {
        lua_getfield(L, globals, base_names[i]);
        lua_setfield(L, stdlib, base_names[i]);
    }
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
    lua_pushcfunction(L, luaopen_nudge_pii);
    lua_setfield(L, -2, "nudge.pii");
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
    static const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base},
                                    {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_UTF8LIBNAME, luaopen_utf8},
                                    {LUA_COLIBNAME, luaopen_coroutine},
                                    {NULL, NULL}};
    sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) return NULL;
    sb->limit = limits.memory_bytes ? limits.memory_bytes : SANDBOX_DEFAULT_MEMORY;
    sb->budget_ns =
        (int64_t)(limits.cpu_ms ? limits.cpu_ms : SANDBOX_DEFAULT_CPU_MS) * 1000000;
    lua_State *L = lua_newstate(sandbox_alloc, sb);
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

static int has_position(const char *msg)
{
    const char *colon = strchr(msg, ':');
    if (!colon || colon[1] < '0' || colon[1] > '9') return 0;
    colon++;
    while (*colon >= '0' && *colon <= '9')
        colon++;
    return *colon == ':';
}

/* Rewrites the error at the top of T so it names the recipe line and,
 * when one tripped, the limit (in the words of its first trip). */
static void describe_error(lua_State *T, int status)
{
    sandbox *sb = sandbox_of(T);
    const char *msg = lua_tostring(T, -1);
    char where[256];
    limits_innermost_line(T, where, sizeof where);
    if (status == LUA_ERRMEM || limits_tripped(sb))
        limits_push_message(T, where);
    else if (!msg)
        lua_pushfstring(T, "%serror object is a %s value", where, luaL_typename(T, -1));
    else if (!has_position(msg) && where[0])
        lua_pushfstring(T, "%s%s", where, msg);
    else
        return;
    lua_remove(T, -2);
}

const char *sandbox_tripped(lua_State *L)
{
    sandbox *sb = sandbox_of(L);
    return sb->trip[0] ? sb->trip : sb->mem_refused ? "memory limit exceeded" : NULL;
}

int sandbox_resume(lua_State *L, lua_State *co, int nargs, int *nresults)
{
    sandbox *sb = sandbox_of(L);
    limits_arm(sb, co);
    int status = lua_resume(co, L, nargs, nresults);
    limits_disarm(sb, co);
    if (status != LUA_OK && status != LUA_YIELD) {
        describe_error(co, status);
    } else if (limits_tripped(sb)) { /* swallowed by a pcall or coroutine */
        char where[256];
        limits_innermost_line(co, where, sizeof where);
        limits_push_message(co, where);
        status = LUA_ERRRUN;
    }
    return status;
}

lua_State *sandbox_push_thread(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &THREAD_KEY) != LUA_TTHREAD) {
        lua_pop(L, 1);
        return lua_newthread(L);
    }
    lua_pushnil(L); /* taken: a nested call gets a new one */
    lua_rawsetp(L, LUA_REGISTRYINDEX, &THREAD_KEY);
    return lua_tothread(L, -1);
}

/* A coroutine that returned is empty already; resetting one that yielded
 * drops its frames without running recipe code (setmetatable refuses
 * __close).  One that failed is left to the collector. */
void sandbox_keep_thread(lua_State *L, int index)
{
    lua_State *co = lua_tothread(L, index);
    lua_Debug ar;
    int status = lua_status(co);
    if (status == LUA_OK && !lua_getstack(co, 0, &ar))
        lua_settop(co, 0);
    else if (status != LUA_YIELD || lua_resetthread(co) != LUA_OK)
        return;
    lua_pushvalue(L, index);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &THREAD_KEY);
}

/* Runs as a coroutine too, so that after an error the frames are still
 * there to name the recipe line (a memory error unwinds a plain pcall
 * before any handler runs). */
int sandbox_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs, nres = 0;
    lua_State *co = sandbox_push_thread(L);
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
    sandbox_keep_thread(L, base);
    lua_remove(L, base);
    return status;
}
