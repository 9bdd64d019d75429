/* The C modules recipes can `require`, and the Lua<->JSON converters the
 * bindings share.  Each module lives in its own lua/l_*.c file. */
#ifndef NUDGE_L_MODULES_H
#define NUDGE_L_MODULES_H
#include <cJSON.h>
#include <lua.h>
#include <stddef.h>

int luaopen_nudge_time(lua_State *L);
int luaopen_nudge_pii(lua_State *L);
/* require "nudge.codec": JSON, form and URL escapes, base64, HMAC-SHA256
 * for the channel adapters (lua/l_codec.c). */
int luaopen_nudge_codec(lua_State *L);
/* The database whose blind-index key pii.blind uses (NULL: none). */
struct privacy;
void l_pii_use(const struct privacy *p);

/* Pushes a JSON value as Lua (objects and arrays become tables, null
 * becomes nil).  [-0, +1, m] */
void l_push_json(lua_State *L, const cJSON *value);

/* Pushes the Lua value of JSON text (nil for "null" or bad text). [-0, +1, m] */
void l_push_json_text(lua_State *L, const char *text);

/* Returns the JSON text (malloc'd) of a lazily decoded table, or NULL
 * when it cannot be read. */
typedef char *(*l_json_loader)(void *ctx);

/* Pushes a table that stands for the JSON object load(ctx) returns,
 * loaded and decoded on first use (index, assignment, pairs, #) under the
 * sandbox's limits.  It stays empty to next() and rawget().  `name` (a
 * static string) names it in errors.  [-0, +1, m] */
void l_push_lazy_json(lua_State *L, l_json_loader load, void *ctx, const char *name);

/* Ends the lazy table at `index` (any other value is left alone): its
 * content is dropped, load(ctx) is never called again, and any later use
 * raises.  [-0, +0, -] */
void l_lazy_json_close(lua_State *L, int index);

/* Converts the Lua value at `index` to JSON text (malloc'd) with keys in
 * sorted order, so the text is the same on every run.  Returns NULL and a
 * message in `err` for values JSON cannot hold (functions, cycles, mixed
 * keys, NaN). */
char *l_to_json_text(lua_State *L, int index, char *err, size_t err_len);

#endif
