/* Lua <-> JSON converters shared by the bindings.  Lua tables with keys
 * 1..n become arrays; other tables become objects with sorted keys, so the
 * recorded history and outbox text of a run are reproducible. */
#include "l_modules.h"

#include <lauxlib.h>
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
        lua_newtable(L);
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

void l_push_json_text(lua_State *L, const char *text)
{
    if (text && push_scalar_text(L, text)) return; /* the common replayed results */
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    l_push_json(L, v);
    cJSON_Delete(v);
}

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static cJSON *to_json(lua_State *L, int index, int depth, char *err, size_t err_len);

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

static cJSON *array_to_json(lua_State *L, int index, lua_Integer n, int depth, char *err,
                            size_t err_len)
{
    cJSON *array = cJSON_CreateArray();
    for (lua_Integer i = 1; i <= n && array; i++) {
        lua_rawgeti(L, index, i);
        cJSON *item = to_json(L, lua_gettop(L), depth + 1, err, err_len);
        lua_pop(L, 1);
        if (!item) return cJSON_Delete(array), NULL;
        cJSON_AddItemToArray(array, item);
    }
    return array;
}

static cJSON *object_to_json(lua_State *L, int index, int depth, char *err,
                             size_t err_len)
{
    size_t count = 0, cap = 16;
    const char **keys = malloc(cap * sizeof *keys);
    cJSON *object = NULL;
    if (!keys) return snprintf(err, err_len, "out of memory"), NULL;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            snprintf(err, err_len,
                     "table key of type %s cannot be stored (use string keys)",
                     luaL_typename(L, -1));
            lua_pop(L, 1);
            goto done;
        }
        if (count == cap) {
            const char **bigger = realloc(keys, (cap *= 2) * sizeof *keys);
            if (!bigger) {
                snprintf(err, err_len, "out of memory");
                lua_pop(L, 1);
                goto done;
            }
            keys = bigger;
        }
        keys[count++] = lua_tostring(L, -1); /* anchored by the table */
    }
    qsort(keys, count, sizeof *keys, compare_keys);
    object = cJSON_CreateObject();
    for (size_t i = 0; i < count && object; i++) {
        lua_getfield(L, index, keys[i]);
        cJSON *item = to_json(L, lua_gettop(L), depth + 1, err, err_len);
        lua_pop(L, 1);
        if (!item) {
            cJSON_Delete(object);
            object = NULL;
            break;
        }
        cJSON_AddItemToObject(object, keys[i], item);
    }
done:
    free(keys);
    return object;
}

static cJSON *to_json(lua_State *L, int index, int depth, char *err, size_t err_len)
{
    if (depth > MAX_DEPTH)
        return snprintf(err, err_len, "table nested deeper than %d (a cycle?)",
                        MAX_DEPTH),
               NULL;
    switch (lua_type(L, index)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, index));
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, index));
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, index);
        if (!isfinite(d))
            return snprintf(err, err_len, "number %g cannot be stored", d), NULL;
        return cJSON_CreateNumber(d);
    }
    case LUA_TTABLE: {
        luaL_checkstack(L, 6, "table too deep");
        lua_Integer n = sequence_length(L, index);
        return n ? array_to_json(L, index, n, depth, err, err_len)
                 : object_to_json(L, index, depth, err, err_len);
    }
    default:
        snprintf(err, err_len, "a %s value cannot be stored", luaL_typename(L, index));
        return NULL;
    }
}

char *l_to_json_text(lua_State *L, int index, char *err, size_t err_len)
{
    char buf[64];
    int type = lua_type(L, index);
    if (type == LUA_TNIL || type == LUA_TBOOLEAN) /* no cJSON for scalars */
        return strdup(type == LUA_TNIL          ? "null"
                      : lua_toboolean(L, index) ? "true"
                                                : "false");
    if (type == LUA_TNUMBER && isfinite(lua_tonumber(L, index))) {
        double d = lua_tonumber(L, index);
        if (d == floor(d) && fabs(d) < 9.0e15)
            snprintf(buf, sizeof buf, "%lld", (long long)d);
        else
            snprintf(buf, sizeof buf, "%.17g", d);
        return strdup(buf);
    }
    cJSON *json = l_to_json(L, index, err, err_len);
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    if (json && !text) snprintf(err, err_len, "out of memory");
    cJSON_Delete(json);
    return text;
}

cJSON *l_to_json(lua_State *L, int index, char *err, size_t err_len)
{
    return to_json(L, lua_absindex(L, index), 0, err, err_len);
}
