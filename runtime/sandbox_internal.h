/* Shared by sandbox.c (building states) and sandbox_limits.c (enforcing
 * the memory cap and CPU budget).  Not for other files. */
#ifndef NUDGE_SANDBOX_INTERNAL_H
#define NUDGE_SANDBOX_INTERNAL_H
#include "sandbox.h"

typedef struct sandbox {
    size_t used, limit;
    int64_t budget_ns, deadline_ns; /* thread CPU time */
    int64_t wall_deadline_ns;       /* CPU time cannot pass the budget before this */
    int running;                    /* recipe code runs: limits apply */
    int mem_refused;                /* the allocator refused while running */
    char trip[400];                 /* a limit's message, once tripped */
} sandbox;

sandbox *sandbox_of(lua_State *L);
void *sandbox_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* Starts and ends the limits around recipe code on thread T. */
void limits_arm(sandbox *sb, lua_State *T);
void limits_disarm(sandbox *sb, lua_State *T);

/* Whether a limit tripped (or the allocator refused) in this run. */
int limits_tripped(sandbox *sb);

/* Pushes the limit's message, naming `where` ("file:line: ") if the trip
 * has no position of its own yet.  [-0, +1, m] */
void limits_push_message(lua_State *L, const char *where);

/* Wraps the C library functions that can run long without reaching the
 * instruction hook (patterns, string.rep, table.move, table.sort) and
 * xpcall; `strlib`, `tablib` and `base` are the real library tables. */
void limits_guard_libraries(lua_State *L, int strlib, int tablib, int base);

/* "file:line: " of the innermost Lua frame of T, or "". */
void limits_innermost_line(lua_State *T, char *buf, size_t len);

#endif
