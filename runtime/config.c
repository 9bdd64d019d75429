/* nudge.conf.lua loading: defaults, then the file's table, checked key by
 * key.  Settings for later subsystems (channels, caps, quiet hours, the
 * server) are accepted when they have the right shape. */
#include "config.h"

#include "l_modules.h"

#include <lauxlib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "nudge.conf.lua"

/* Keys a config may hold, with the Lua type each needs. */
static const struct {
    const char *key;
    int type;
} known_keys[] = {{"db", LUA_TSTRING},
                  {"key_file", LUA_TSTRING},
                  {"outbox", LUA_TSTRING},
                  {"consent_default", LUA_TSTRING},
                  {"timezone", LUA_TSTRING},
                  {"recipes", LUA_TTABLE},
                  {"limits", LUA_TTABLE},
                  {"channels", LUA_TTABLE},
                  {"caps", LUA_TTABLE},
                  {"quiet_hours", LUA_TTABLE},
                  {"pii", LUA_TTABLE},
                  {"server", LUA_TTABLE},
                  {NULL, 0}};

static void set_string(char **slot, const char *value)
{
    free(*slot);
    *slot = strdup(value);
}

static int check_keys(lua_State *L, const char *path, char *err, size_t err_len)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int i = 0;
        while (known_keys[i].key && strcmp(known_keys[i].key, key))
            i++;
        if (!known_keys[i].key)
            return snprintf(err, err_len, "%s: unknown key '%s'", path, key), -1;
        if (lua_type(L, -1) != known_keys[i].type)
            return snprintf(err, err_len, "%s: key '%s' must be a %s, not a %s", path,
                            key, lua_typename(L, known_keys[i].type),
                            luaL_typename(L, -1)),
                   -1;
        lua_pop(L, 1);
    }
    return 0;
}

static int read_limits(lua_State *L, config *c, const char *path, char *err,
                       size_t err_len)
{
    if (lua_getfield(L, -1, "limits") != LUA_TTABLE) return lua_pop(L, 1), 0;
    lua_getfield(L, -1, "memory_mb");
    lua_getfield(L, -2, "cpu_ms");
    lua_Integer mb = lua_isnil(L, -2) ? 64 : lua_tointeger(L, -2);
    lua_Integer ms = lua_isnil(L, -1) ? 100 : lua_tointeger(L, -1);
    lua_pop(L, 3);
    if (mb < 1 || mb > 4096 || ms < 1 || ms > 60000)
        return snprintf(err, err_len,
                        "%s: key 'limits': memory_mb must be 1-4096 and "
                        "cpu_ms 1-60000",
                        path),
               -1;
    c->limits.memory_bytes = (size_t)mb << 20;
    c->limits.cpu_ms = (int)ms;
    return 0;
}

/* A list of strings at key `name` of the table on top; 0, or -1 with err. */
static int read_names(lua_State *L, const char *name, char ***out, int *count,
                      const char *what, char *err, size_t err_len)
{
    int type = lua_getfield(L, -1, name);
    int n = type == LUA_TTABLE ? (int)lua_rawlen(L, -1) : 0;
    if (type != LUA_TNIL && type != LUA_TTABLE)
        return lua_pop(L, 1), snprintf(err, err_len, "%s must be a list of names", what), -1;
    *out = calloc((size_t)n + 1, sizeof **out);
    for (int i = 1; i <= n && *out; i++, lua_pop(L, 1)) {
        if (lua_rawgeti(L, -1, i) != LUA_TSTRING || !lua_rawlen(L, -1))
            return lua_pop(L, 2), snprintf(err, err_len, "%s must be a list of names", what),
                   -1;
        (*out)[(*count)++] = strdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    return 0;
}

/* pii = { fields = {...}, expose = {...} } */
static int read_pii(lua_State *L, config *c, const char *path, char *err, size_t err_len)
{
    char what[600];
    if (lua_getfield(L, -1, "pii") != LUA_TTABLE) return lua_pop(L, 1), 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        lua_pop(L, 1);
        if (strcmp(key, "fields") && strcmp(key, "expose"))
            return lua_pop(L, 2),
                   snprintf(err, err_len, "%s: key 'pii': unknown key '%s'", path, key), -1;
    }
    snprintf(what, sizeof what, "%s: key 'pii.fields'", path);
    int rc = read_names(L, "fields", &c->pii_fields, &c->pii_field_count, what, err,
                        err_len);
    snprintf(what, sizeof what, "%s: key 'pii.expose'", path);
    if (!rc)
        rc = read_names(L, "expose", &c->pii_exposed, &c->pii_exposed_count, what, err,
                        err_len);
    lua_pop(L, 1);
    return rc;
}

static int read_settings(lua_State *L, config *c, const char *path, char *err,
                         size_t err_len)
{
    static const struct {
        const char *key;
        size_t offset;
    } strings[] = {{"db", offsetof(config, db_path)},
                   {"key_file", offsetof(config, key_file)},
                   {"outbox", offsetof(config, outbox_path)},
                   {"timezone", offsetof(config, timezone)},
                   {"consent_default", offsetof(config, consent_default)}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (lua_getfield(L, -1, strings[i].key) == LUA_TSTRING)
            set_string((char **)((char *)c + strings[i].offset), lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    if (strcmp(c->consent_default, "opt_in") && strcmp(c->consent_default, "opt_out"))
        return snprintf(err, err_len,
                        "%s: key 'consent_default' must be \"opt_in\" or "
                        "\"opt_out\"",
                        path),
               -1;
    if (lua_getfield(L, -1, "recipes") == LUA_TTABLE) {
        int n = (int)lua_rawlen(L, -1);
        c->recipe_dirs = calloc((size_t)n + 1, sizeof *c->recipe_dirs);
        for (int i = 1; i <= n && c->recipe_dirs; i++, lua_pop(L, 1)) {
            if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
                return snprintf(err, err_len,
                                "%s: key 'recipes' must be a list of folders", path),
                       -1;
            c->recipe_dirs[c->recipe_dir_count++] = strdup(lua_tostring(L, -1));
        }
    }
    lua_pop(L, 1);
    return read_limits(L, c, path, err, err_len) || read_pii(L, c, path, err, err_len)
               ? -1
               : 0;
}

static int load_file(const char *path, config *c, char *err, size_t err_len)
{
    static const luaL_Reg modules[] = {{"nudge.time", luaopen_nudge_time}, {NULL, NULL}};
    lua_State *L = sandbox_new((sandbox_limits){0}, modules);
    char chunkname[512];
    int rc = -1;
    if (!L) return snprintf(err, err_len, "%s: cannot create a Lua state", path), -1;
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    if (!f || getdelim(&text, &len, 0, f) < 0) {
        snprintf(err, err_len, "%s: cannot read config: %m", path);
    } else {
        sandbox_push_env(L);
        if (sandbox_load(L, text, strlen(text), chunkname) || sandbox_pcall(L, 0, 1))
            snprintf(err, err_len, "%s", lua_tostring(L, -1));
        else if (!lua_istable(L, -1))
            snprintf(err, err_len, "%s: the config must return a table", path);
        else if (!check_keys(L, path, err, err_len))
            rc = read_settings(L, c, path, err, err_len);
    }
    if (f) fclose(f);
    free(text);
    sandbox_close(L);
    return rc;
}

int config_load(const char *path, config *c, char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    c->db_path = strdup("nudge.db");
    c->outbox_path = strdup("outbox.ndjson");
    c->consent_default = strdup("opt_in");
    c->timezone = strdup("UTC");
    if (!path && access(DEFAULT_CONFIG, F_OK) == 0) path = DEFAULT_CONFIG;
    return path ? load_file(path, c, err, err_len) : 0;
}

void config_free(config *c)
{
    free(c->db_path), free(c->key_file), free(c->outbox_path);
    free(c->consent_default), free(c->timezone);
    for (int i = 0; i < c->recipe_dir_count; i++)
        free(c->recipe_dirs[i]);
    free(c->recipe_dirs);
    for (int i = 0; i < c->pii_field_count; i++)
        free(c->pii_fields[i]);
    for (int i = 0; i < c->pii_exposed_count; i++)
        free(c->pii_exposed[i]);
    free(c->pii_fields), free(c->pii_exposed);
    memset(c, 0, sizeof *c);
}
