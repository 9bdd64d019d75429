/* Lua <-> JSON converters shared by the bindings.  Lua tables with keys
 * 1..n become arrays; other tables become objects with sorted keys, so the
 * recorded history and outbox text of a run are reproducible. */
#include "l_modules.h"

#include <lauxlib.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 32

void l_push_json(lua_State *L, const cJSON *v)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (cJSON_IsString(v)) {
        lua_pushstring(L, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9.0e15)
            lua_pushinteger(L, (lua_Integer)d);
        else
            lua_pushnumber(L, d);
    } else if (cJSON_IsBool(v)) {
        lua_pushboolean(L, cJSON_IsTrue(v));
    } else if (cJSON_IsArray(v)) {
        lua_createtable(L, cJSON_GetArraySize(v), 0);
        lua_Integer i = 1;
        for (const cJSON *item = v->child; item; item = item->next, i++) {
            l_push_json(L, item);
            lua_rawseti(L, -2, i);
        }
    } else if (cJSON_IsObject(v)) {
        lua_createtable(L, 0, cJSON_GetArraySize(v)); /* sized: no rehash */
        for (const cJSON *item = v->child; item; item = item->next) {
            l_push_json(L, item);
            lua_setfield(L, -2, item->string);
        }
    } else {
        lua_pushnil(L);
    }
}

/* Pushes nil, a boolean or a number written as JSON; 0 for anything else. */
static int push_scalar_text(lua_State *L, const char *text)
{
    char *end;
    if (!strcmp(text, "null")) return lua_pushnil(L), 1;
    if (!strcmp(text, "true") || !strcmp(text, "false"))
        return lua_pushboolean(L, text[0] == 't'), 1;
    if (!strchr("-0123456789", text[0])) return 0;
    double d = strtod(text, &end);
    if (*end || !isfinite(d)) return 0;
    if (d == floor(d) && fabs(d) < 9.0e15)
        lua_pushinteger(L, (lua_Integer)d);
    else
        lua_pushnumber(L, d);
    return 1;
}

/* Registry key of the state's box for a parse tree being pushed. */
static char TREE_KEY;

static int tree_gc(lua_State *L)
{
    cJSON **tree = lua_touserdata(L, 1);
    cJSON_Delete(*tree);
    *tree = NULL;
    return 0;
}

/* Pushes the state's box for a parse tree and returns it empty.  A push
 * that raises (out of memory) leaves its tree in the box, which frees it
 * on the next use or when the state closes.  [-0, +1, m] */
static cJSON **push_tree_box(lua_State *L)
{
    cJSON **tree;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TREE_KEY) == LUA_TUSERDATA) {
        tree = lua_touserdata(L, -1);
        cJSON_Delete(*tree);
        *tree = NULL;
        return tree;
    }
    lua_pop(L, 1);
    tree = lua_newuserdatauv(L, sizeof *tree, 0);
    *tree = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, tree_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &TREE_KEY);
    return tree;
}

/* Replaces the box at the top with the Lua value of its tree, which is
 * freed.  [-1, +1, m] */
static void push_boxed_tree(lua_State *L, cJSON **tree)
{
    l_push_json(L, *tree);
    cJSON_Delete(*tree);
    *tree = NULL;
    lua_remove(L, -2);
}

void l_push_json_text(lua_State *L, const char *text)
{
    if (text && push_scalar_text(L, text)) return; /* the common replayed results */
    cJSON **tree = push_tree_box(L);
    *tree = text ? cJSON_Parse(text) : NULL;
    push_boxed_tree(L, tree);
}

/* ---- tables loaded and decoded on first use -------------------------- */

/* One per state, in the registry at &LAZY_KEY.  User values: 1 the open
 * lazy table (nil when none), 2 its content once loaded, 3 the metatable
 * that every lazy table shares. */
static char LAZY_KEY;

typedef struct lazy_json {
    l_json_loader load; /* NULL when no lazy table is open */
    void *ctx;
    const char *name;
} lazy_json;

enum { LAZY_OPEN = 1, LAZY_CONTENT, LAZY_META };

static int lazy_index(lua_State *L);
static int lazy_newindex(lua_State *L);
static int lazy_len(lua_State *L);
static int lazy_pairs(lua_State *L);

/* Creates the state's lazy box and the shared metatable.  [-0, +1, m] */
static lazy_json *new_lazy_state(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__index", lazy_index},
                                    {"__newindex", lazy_newindex},
                                    {"__len", lazy_len},
                                    {"__pairs", lazy_pairs},
                                    {NULL, NULL}};
    lazy_json *box = lua_newuserdatauv(L, sizeof *box, 3);
    box->load = NULL, box->ctx = NULL, box->name = "a lazily loaded table";
    luaL_newlib(L, meta);
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
    lua_setiuservalue(L, -2, LAZY_META);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &LAZY_KEY);
    return box;
}

/* Pushes the state's lazy box.  [-0, +1, m] */
static lazy_json *push_lazy_state(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &LAZY_KEY) == LUA_TUSERDATA)
        return lua_touserdata(L, -1);
    lua_pop(L, 1);
    return new_lazy_state(L);
}

/* 1 if the value at `index` is the open lazy table, -1 if it is a
 * closed one, 0 for any other value.  [-0, +0, m] */
static int lazy_status(lua_State *L, int index)
{
    if (!lua_getmetatable(L, index)) return 0;
    index = lua_absindex(L, index);
    lazy_json *box = push_lazy_state(L);
    lua_getiuservalue(L, -1, LAZY_META);
    int status = lua_rawequal(L, -1, -3);
    lua_getiuservalue(L, -2, LAZY_OPEN);
    if (status && (!box->load || !lua_rawequal(L, -1, index))) status = -1;
    lua_pop(L, 4);
    return status;
}

/* Pushes the content of the open lazy table at `index`, loading it on
 * first use; raises for a closed one.  [-0, +1, e] */
static void push_lazy_content(lua_State *L, int index)
{
    index = lua_absindex(L, index);
    lazy_json *box = push_lazy_state(L);
    lua_getiuservalue(L, -1, LAZY_OPEN);
    if (!box->load || !lua_rawequal(L, -1, index))
        luaL_error(L, "%s used after the call returned (copy the fields you need)",
                   box->name);
    lua_pop(L, 1);
    if (lua_getiuservalue(L, -1, LAZY_CONTENT) == LUA_TNIL) {
        lua_pop(L, 1);
        cJSON **tree = push_tree_box(L);
        char *text = box->load(box->ctx);
        if (!text) luaL_error(L, "%s cannot be read (see the log)", box->name);
        *tree = cJSON_Parse(text);
        free(text);
        push_boxed_tree(L, tree);
        if (!lua_istable(L, -1)) lua_pop(L, 1), lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setiuservalue(L, -3, LAZY_CONTENT);
    }
    lua_remove(L, -2);
}

static int lazy_index(lua_State *L)
{
    push_lazy_content(L, 1);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int lazy_newindex(lua_State *L)
{
    push_lazy_content(L, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

static int lazy_len(lua_State *L)
{
    push_lazy_content(L, 1);
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
    return 1;
}

/* Hands over Lua's `next` and the content: the sandbox's pairs sorts the
 * content's keys (stdlib/prelude.lua). */
static int lazy_pairs(lua_State *L)
{
    push_lazy_content(L, 1);
    lua_getglobal(L, "next");
    lua_insert(L, -2);
    lua_pushnil(L);
    return 3;
}

void l_push_lazy_json(lua_State *L, l_json_loader load, void *ctx, const char *name)
{
    lazy_json *box = push_lazy_state(L);
    box->load = NULL; /* the previous lazy table, if any, is closed */
    lua_pushnil(L);
    lua_setiuservalue(L, -2, LAZY_CONTENT);
    lua_createtable(L, 0, 0); /* the table the recipe sees stays empty */
    lua_getiuservalue(L, -2, LAZY_META);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, -3, LAZY_OPEN);
    lua_remove(L, -2);
    box->load = load, box->ctx = ctx, box->name = name;
}

void l_lazy_json_close(lua_State *L, int index)
{
    if (!lua_istable(L, index)) return;
    index = lua_absindex(L, index);
    lazy_json *box = push_lazy_state(L);
    lua_getiuservalue(L, -1, LAZY_OPEN);
    if (lua_rawequal(L, -1, index)) {
        box->load = NULL, box->ctx = NULL;
        lua_pushnil(L), lua_setiuservalue(L, -3, LAZY_OPEN);
        lua_pushnil(L), lua_setiuservalue(L, -3, LAZY_CONTENT);
    }
    lua_pop(L, 2);
}

/* ---- Lua to JSON text ------------------------------------------------ */

/* JSON text being written, with cJSON's layout (no spaces, its escapes
 * and number forms) so the text matches what earlier runs recorded. */
typedef struct json_writer {
    char *text;
    size_t len, cap;
    char *err;
    size_t err_len;
} json_writer;

static int write_value(lua_State *L, int index, int depth, json_writer *w);

static int reserve(json_writer *w, size_t more)
{
    if (w->len + more < w->cap) return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap <= w->len + more)
        cap *= 2;
    char *bigger = realloc(w->text, cap);
    if (!bigger) return snprintf(w->err, w->err_len, "out of memory"), -1;
    w->text = bigger, w->cap = cap;
    return 0;
}

static int append(json_writer *w, const char *s, size_t n)
{
    if (reserve(w, n)) return -1;
    memcpy(w->text + w->len, s, n);
    w->len += n;
    return 0;
}

/* Writes the decimal digits of `v` (>= 0) ending just before `end`;
 * returns where they start. */
static char *write_digits(long long v, char *end)
{
    do
        *--end = (char)('0' + v % 10);
    while (v /= 10);
    return end;
}

/* The escape letter of a character JSON names (\n, \t, ...), or 0. */
static char named_escape(unsigned char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '\b':
        return 'b';
    case '\f':
        return 'f';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    default:
        return 0;
    }
}

/* A string up to its first NUL: ", \ and control characters escaped. */
static int write_string(json_writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (reserve(w, 6 * strlen(s) + 2)) return -1;
    char *p = w->text + w->len;
    *p++ = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char named = named_escape(c);
        if (named)
            *p++ = '\\', *p++ = named;
        else if (c < 32)
            memcpy(p, "\\u00", 4), p[4] = hex[c >> 4], p[5] = hex[c & 15], p += 6;
        else
            *p++ = (char)c;
    }
    *p++ = '"';
    w->len = (size_t)(p - w->text);
    return 0;
}

/* cJSON's number forms: %1.15g, or %1.17g when that does not read back
 * as (nearly) the value; whole numbers in int range skip printf. */
static int write_number(json_writer *w, double d)
{
    char buf[32], *end = buf + sizeof buf, *p;
    if (d >= -2147483648.0 && d <= 2147483647.0 && d == (int)d) {
        p = write_digits(llabs((long long)d), end);
        if (signbit(d)) *--p = '-'; /* -0 too, as %g writes it */
        return append(w, p, (size_t)(end - p));
    }
    int n = snprintf(buf, sizeof buf, "%1.15g", d);
    double back = strtod(buf, NULL);
    if (fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
        n = snprintf(buf, sizeof buf, "%1.17g", d);
    return append(w, buf, (size_t)n);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Length n when the table's keys are exactly 1..n (n > 0), else 0. */
static lua_Integer sequence_length(lua_State *L, int index)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, index), keys = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        keys++;
        lua_pop(L, 1);
    }
    return n > 0 && keys == n ? n : 0;
}

static int write_array(lua_State *L, int index, lua_Integer n, int depth, json_writer *w)
{
    if (append(w, "[", 1)) return -1;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, index, i);
        int rc =
            (i > 1 && append(w, ",", 1)) || write_value(L, lua_gettop(L), depth + 1, w);
        lua_pop(L, 1);
        if (rc) return -1;
    }
    return append(w, "]", 1);
}

/* The table's keys, which must all be strings, sorted; NULL on failure
 * (with the reason).  The table anchors the strings.  [-0, +0, m] */
static const char **sorted_keys(lua_State *L, int index, size_t *count, json_writer *w)
{
    size_t cap = 16;
    const char **keys = malloc(cap * sizeof *keys);
    if (!keys) return snprintf(w->err, w->err_len, "out of memory"), NULL;
    *count = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        const char **bigger =
            *count < cap ? keys : realloc(keys, (cap *= 2) * sizeof *keys);
        if (lua_type(L, -1) != LUA_TSTRING || !bigger) {
            if (!bigger)
                snprintf(w->err, w->err_len, "out of memory");
            else
                snprintf(w->err, w->err_len,
                         "table key of type %s cannot be stored (use string keys)",
                         luaL_typename(L, -1));
            lua_pop(L, 1);
            return free(keys), NULL;
        }
        keys = bigger;
        keys[(*count)++] = lua_tostring(L, -1);
    }
    qsort(keys, *count, sizeof *keys, compare_keys);
    return keys;
}

static int write_object(lua_State *L, int index, int depth, json_writer *w)
{
    size_t count = 0;
    const char **keys = sorted_keys(L, index, &count, w);
    int rc = !keys || append(w, "{", 1);
    for (size_t i = 0; i < count && !rc; i++) {
        lua_getfield(L, index, keys[i]);
        rc = (i > 0 && append(w, ",", 1)) || write_string(w, keys[i]) ||
             append(w, ":", 1) || write_value(L, lua_gettop(L), depth + 1, w);
        lua_pop(L, 1);
    }
    free(keys);
    return rc || append(w, "}", 1) ? -1 : 0;
}

/* A lazy table stands for its content; a closed one cannot be stored. */
static int write_table(lua_State *L, int index, int depth, json_writer *w)
{
    luaL_checkstack(L, 6, "table too deep");
    int lazy = lazy_status(L, index);
    if (lazy < 0) {
        push_lazy_state(L);
        snprintf(w->err, w->err_len, "%s used after the call returned",
                 ((lazy_json *)lua_touserdata(L, -1))->name);
        lua_pop(L, 1);
        return -1;
    }
    if (lazy) {
        push_lazy_content(L, index);
        int rc = write_table(L, lua_gettop(L), depth, w);
        lua_pop(L, 1);
        return rc;
    }
    lua_Integer n = sequence_length(L, index);
    return n ? write_array(L, index, n, depth, w) : write_object(L, index, depth, w);
}

static int write_value(lua_State *L, int index, int depth, json_writer *w)
{
    if (depth > MAX_DEPTH)
        return snprintf(w->err, w->err_len, "table nested deeper than %d (a cycle?)",
                        MAX_DEPTH),
               -1;
    switch (lua_type(L, index)) {
    case LUA_TNIL:
        return append(w, "null", 4);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, index) ? append(w, "true", 4) : append(w, "false", 5);
    case LUA_TSTRING:
        return write_string(w, lua_tostring(L, index));
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, index);
        if (!isfinite(d))
            return snprintf(w->err, w->err_len, "number %g cannot be stored", d), -1;
        return write_number(w, d);
    }
    case LUA_TTABLE:
        return write_table(L, index, depth, w);
    default:
        snprintf(w->err, w->err_len, "a %s value cannot be stored",
                 luaL_typename(L, index));
        return -1;
    }
}

/* Writes a finite number as JSON text that reads back as the same double.
 * Whole numbers and whole milliseconds (the times j: records) skip
 * printf's costly float formatting. */
static void format_number(double d, char *buf)
{
    char digits[32], *end = digits + sizeof digits, *p = end;
    long long ms = fabs(d) < 9.0e12 ? llround(d * 1000) : 0;
    if (d == floor(d) && fabs(d) < 9.0e15) {
        p = write_digits(llabs((long long)d), end);
    } else if (ms && (double)ms / 1000 == d) { /* both round m/1000 alike */
        long long fraction = llabs(ms) % 1000;
        int places = 3;
        for (; fraction % 10 == 0; fraction /= 10)
            places--;
        p = write_digits(fraction, end);
        while (end - p < places)
            *--p = '0';
        *--p = '.';
        p = write_digits(llabs(ms) / 1000, p);
    } else {
        snprintf(buf, 32, "%.17g", d);
        return;
    }
    if (d < 0) *--p = '-';
    memcpy(buf, p, (size_t)(end - p));
    buf[end - p] = 0;
}

char *l_to_json_text(lua_State *L, int index, char *err, size_t err_len)
{
    char buf[32];
    int type = lua_type(L, index);
    if (type == LUA_TNIL || type == LUA_TBOOLEAN) /* the forms replay reads fast */
        return strdup(type == LUA_TNIL          ? "null"
                      : lua_toboolean(L, index) ? "true"
                                                : "false");
    if (type == LUA_TNUMBER && isfinite(lua_tonumber(L, index))) {
        format_number(lua_tonumber(L, index), buf);
        return strdup(buf);
    }
    json_writer w = {NULL, 0, 0, err, err_len};
    if (write_value(L, lua_absindex(L, index), 0, &w) || append(&w, "", 1)) {
        free(w.text);
        return NULL;
    }
    return w.text;
}
