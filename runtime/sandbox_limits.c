/* The sandbox's limits: a memory cap in the allocator, a CPU budget in an
 * instruction-count hook, and guards around the C library functions that
 * can run long without executing a Lua instruction.  Once a limit trips,
 * the hook fires on every instruction and j: calls refuse to act, so
 * neither pcall, xpcall nor a coroutine can carry on past it. */
#include "sandbox_internal.h"

#include "timeutil.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOVE_MAX (1 << 24) /* table.move elements */
#define SORT_MAX (1 << 20) /* table.sort elements */

sandbox *sandbox_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* The cap holds while recipe code runs; the host's own pushes around it
 * may go past it by a little, so an error message can always be built. */
void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sandbox *sb = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (sb->running && nsize > old && sb->used - old + nsize > sb->limit) {
        sb->mem_refused = 1;
        return NULL;
    }
    void *p = ptr ? realloc(ptr, nsize) : malloc(nsize); /* most are new blocks */
    if (p) sb->used = sb->used - old + nsize;
    return p;
}

void limits_innermost_line(lua_State *T, char *buf, size_t len)
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

static void limit_text(sandbox *sb, const char *where, char *buf, size_t len)
{
    if (sb->mem_refused)
        snprintf(buf, len, "%smemory limit of %d MiB exceeded", where,
                 (int)(sb->limit >> 20));
    else
        snprintf(buf, len, "%sCPU budget of %d ms exceeded", where,
                 (int)(sb->budget_ns / 1000000));
}

/* Records the first trip with the position of `ar` (or of L's innermost
 * Lua frame): every later message repeats it. */
static void set_trip(lua_State *L, lua_Debug *ar)
{
    sandbox *sb = sandbox_of(L);
    char where[256] = "";
    if (sb->trip[0]) return;
    if (ar && lua_getinfo(L, "Sl", ar) && ar->currentline > 0)
        snprintf(where, sizeof where, "%s:%d: ", ar->short_src, ar->currentline);
    if (!where[0]) limits_innermost_line(L, where, sizeof where);
    limit_text(sb, where, sb->trip, sizeof sb->trip);
}

static void budget_hook(lua_State *L, lua_Debug *ar);

static int raise_trip(lua_State *L)
{
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    lua_pushstring(L, sandbox_of(L)->trip);
    return lua_error(L);
}

/* The thread CPU clock is a system call, the monotonic one is not: a
 * thread's CPU time grows no faster than wall time, so the CPU clock is
 * read only once the wall clock says the budget could be spent. */
static int over(sandbox *sb)
{
    return sb->trip[0] || sb->mem_refused ||
           (time_mono_ns() >= sb->wall_deadline_ns &&
            time_thread_cpu_ns() >= sb->deadline_ns);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    if (!over(sandbox_of(L))) return;
    set_trip(L, ar);
    raise_trip(L);
}

/* For the C guards: raises if a limit has tripped or the time is up. */
static void check_limits(lua_State *L)
{
    if (!over(sandbox_of(L))) return;
    set_trip(L, NULL);
    raise_trip(L);
}

/* The thread CPU clock is a system call, and a run arms a budget several
 * times per event: a reading younger than CPU_READING_NS stands, plus the
 * wall time since (an upper bound, CPU time growing no faster), so a budget
 * may end up to CPU_READING_NS late, never early. */
#define CPU_READING_NS 5000000
static _Thread_local int64_t cpu_seen_ns, cpu_seen_at_ns = INT64_MIN / 2;

static int64_t thread_cpu_estimate(int64_t mono_ns)
{
    if (mono_ns - cpu_seen_at_ns >= CPU_READING_NS) {
        cpu_seen_ns = time_thread_cpu_ns();
        cpu_seen_at_ns = mono_ns;
    }
    return cpu_seen_ns + (mono_ns - cpu_seen_at_ns);
}

void limits_arm(sandbox *sb, lua_State *T)
{
    int64_t mono_ns = time_mono_ns();
    sb->deadline_ns = thread_cpu_estimate(mono_ns) + sb->budget_ns;
    sb->wall_deadline_ns = mono_ns + sb->budget_ns;
    sb->mem_refused = 0;
    sb->trip[0] = 0;
    sb->running = 1;
    lua_sethook(T, budget_hook, LUA_MASKCOUNT, 1000);
}

void limits_disarm(sandbox *sb, lua_State *T)
{
    sb->running = 0;
    lua_sethook(T, NULL, 0, 0);
}

int limits_tripped(sandbox *sb)
{
    return sb->trip[0] || sb->mem_refused;
}

void limits_push_message(lua_State *L, const char *where)
{
    sandbox *sb = sandbox_of(L);
    char text[sizeof sb->trip];
    if (sb->trip[0])
        lua_pushstring(L, sb->trip);
    else
        limit_text(sb, where, text, sizeof text), lua_pushstring(L, text);
}

/* Calls upvalue 1 with this call's arguments, checking the limits before
 * and after: the C work in between cannot be interrupted. */
static int call_original(lua_State *L)
{
    check_limits(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    check_limits(L);
    return lua_gettop(L);
}

/* ---- patterns -------------------------------------------------------- */

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

/* string.find / match / gmatch / gsub: refused when the worst case is too
 * long; upvalue 2 is the enum pattern_call. */
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
    return call_original(L);
}

/* ---- string.rep, table.move, table.sort, xpcall ---------------------- */

static int guarded_rep(lua_State *L)
{
    size_t len, sep_len;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &sep_len);
    if (n <= 0 || len + sep_len == 0) /* Lua would loop n times for "" */
        return lua_pushliteral(L, ""), 1;
    if ((double)len * (double)n + (double)sep_len * (double)(n - 1) >
        (double)sandbox_of(L)->limit) {
        sandbox_of(L)->mem_refused = 1;
        check_limits(L);
    }
    return call_original(L);
}

static int guarded_move(lua_State *L)
{
    lua_Integer from = luaL_checkinteger(L, 2), to = luaL_checkinteger(L, 3);
    if (to >= from && (double)to - (double)from >= MOVE_MAX)
        return luaL_error(L, "table.move: at most %d elements at a time", MOVE_MAX);
    return call_original(L);
}

static int guarded_sort(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (luaL_len(L, 1) > SORT_MAX)
        return luaL_error(L, "table.sort: at most %d elements", SORT_MAX);
    return call_original(L);
}

/* The message handler of xpcall, skipped once a limit has tripped: Lua
 * runs handlers with hooks off after a hook's error. */
static int guarded_handler(lua_State *L)
{
    if (limits_tripped(sandbox_of(L))) return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int finish_xpcall(lua_State *L, int status, lua_KContext ctx)
{
    (void)status, (void)ctx;
    return lua_gettop(L);
}

static int guarded_xpcall(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, guarded_handler, 1);
    lua_replace(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, finish_xpcall); /* may yield */
    return lua_gettop(L);
}

/* Replaces lib[name] with fn closed over the original (and `extra`
 * upvalues already pushed). */
static void wrap(lua_State *L, int lib, const char *name, lua_CFunction fn, int extra)
{
    lua_getfield(L, lib, name);
    if (extra) lua_insert(L, -1 - extra);
    lua_pushcclosure(L, fn, 1 + extra);
    lua_setfield(L, lib, name);
}

void limits_guard_libraries(lua_State *L, int strlib, int tablib, int base)
{
    static const char *patterns[] = {"find", "match", "gmatch", "gsub", NULL};
    for (int i = 0; patterns[i]; i++) {
        lua_pushinteger(L, i); /* enum pattern_call */
        wrap(L, strlib, patterns[i], guarded_pattern, 1);
    }
    wrap(L, strlib, "rep", guarded_rep, 0);
    wrap(L, tablib, "move", guarded_move, 0);
    wrap(L, tablib, "sort", guarded_sort, 0);
    wrap(L, base, "xpcall", guarded_xpcall, 0);
    lua_pushnil(L);
    lua_setfield(L, strlib, "dump");
}
