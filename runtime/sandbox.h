/* The one place that creates Lua states.  A sandboxed state opens only the
 * safe libraries, loads text chunks only, gives each recipe a private
 * environment over a read-only stdlib in which undeclared globals are
 * errors, and enforces a memory cap and a CPU budget per activation that
 * recipe code cannot catch with pcall. */
#ifndef NUDGE_SANDBOX_H
#define NUDGE_SANDBOX_H
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define SANDBOX_DEFAULT_MEMORY (64u << 20)
#define SANDBOX_DEFAULT_CPU_MS 100
/* Pattern calls whose worst case passes this many matcher steps are refused. */
#define SANDBOX_PATTERN_STEPS 1e8

typedef struct sandbox_limits {
    size_t memory_bytes; /* 0: SANDBOX_DEFAULT_MEMORY */
    int cpu_ms;          /* 0: SANDBOX_DEFAULT_CPU_MS */
} sandbox_limits;

/* A new sandboxed state, or NULL when out of memory or when the stdlib
 * prelude fails (logged).  `modules` (may be NULL) are C modules offered to
 * `require`, e.g. {"nudge.time", luaopen_nudge_time}.  stdlib/prelude.lua
 * then runs and the globals it returns join the read-only stdlib. */
lua_State *sandbox_new(sandbox_limits limits, const luaL_Reg *modules);
void sandbox_close(lua_State *L);

/* Pushes a fresh environment table for one recipe: reads fall through to
 * the read-only stdlib, unknown names and all writes raise.  [-0, +1, m] */
void sandbox_push_env(lua_State *L);

/* Loads a text chunk named `chunkname` ("@path") with the environment at
 * the top of the stack (popped).  Pushes the function or an error message.
 * Returns a lua_load status.  [-1, +1, m] */
int sandbox_load(lua_State *L, const char *text, size_t len, const char *chunkname);

/* Calls the function below `nargs` arguments under the CPU budget and the
 * memory cap: sandbox_resume as a coroutine on thread `co` (lua_resume),
 * sandbox_pcall on L (lua_pcall).  Returns the Lua status; on error the message (with
 * recipe file and line, naming the limit that tripped) is at the top of the stack of the
 * thread that ran. */
int sandbox_resume(lua_State *L, lua_State *co, int nargs, int *nresults);
int sandbox_pcall(lua_State *L, int nargs, int nresults);

/* Pushes a coroutine to run recipe code on: the one the last run left,
 * else a new one.  [-0, +1, m] */
lua_State *sandbox_push_thread(lua_State *L);

/* Resets the coroutine at `index` after its run and keeps it for the
 * next sandbox_push_thread (not one that failed).  [-0, +0, m] */
void sandbox_keep_thread(lua_State *L, int index);

/* The message of a limit that tripped in the current run, or NULL: the
 * bindings refuse to act once one has.  */
const char *sandbox_tripped(lua_State *L);

/* Marks the table at `index` read-only to rawset.  [-0, +0, m] */
void sandbox_protect(lua_State *L, int index);

#endif
