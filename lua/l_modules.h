/* The C modules recipes can `require`, and the Lua<->JSON converters the
 * bindings share.  Each module lives in its own lua/l_*.c file. */
#ifndef NUDGE_L_MODULES_H
#define NUDGE_L_MODULES_H
#include <cJSON.h>
#include <lua.h>
#include <stddef.h>

int luaopen_nudge_time(lua_State *L);
int luaopen_nudge_pii(lua_State *L);
/* The database whose blind-index key pii.blind uses (NULL: none). */
struct privacy;
void l_pii_use(const struct privacy *p);

/* Pushes a JSON value as Lua (objects and arrays become tables, null
 * becomes nil).  [-0, +1, m] */
void l_push_json(lua_State *L, const cJSON *value);

/* Pushes the Lua value of JSON text (nil for "null" or bad text). [-0, +1, m] */
void l_push_json_text(lua_State *L, const char *text);

/* Converts the Lua value at `index` to JSON with keys in sorted order, so
 * the text is the same on every run.  Returns NULL and a message in `err`
 * for values JSON cannot hold (functions, cycles, mixed keys, NaN). */
cJSON *l_to_json(lua_State *L, int index, char *err, size_t err_len);

/* The same as JSON text (malloc'd); scalars skip cJSON.  NULL and a
 * message in `err` when it cannot be stored. */
char *l_to_json_text(lua_State *L, int index, char *err, size_t err_len);

#endif
