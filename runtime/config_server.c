/* The config's `server` table for `nudge serve`: the listen address, the
 * environment variable holding the write keys, the connection limit, the
 * backlog limit.
 * Unknown keys and wrong types are errors naming the key. */
#include "config.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_EXAMPLE                                                                   \
    "server = { listen = \"127.0.0.1:8080\", write_keys_env = \"NUDGE_WRITE_KEYS\" }"

int config_parse_listen(const char *text, char *host, size_t host_len, int *port)
{
    const char *colon = text ? strrchr(text, ':') : NULL;
    char *end;
    if (!colon || colon == text || (size_t)(colon - text) >= host_len) return -1;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535) return -1;
    snprintf(host, host_len, "%.*s", (int)(colon - text), text);
    *port = (int)p;
    return 0;
}

/* The value at -1 for server.KEY: 1 fits, 0 has the wrong type, -1 the
 * key is unknown.  [-0, +0, -] */
static int server_value_ok(lua_State *L, const char *key)
{
    if (!strcmp(key, "listen") || !strcmp(key, "write_keys_env"))
        return lua_type(L, -1) == LUA_TSTRING;
    if (!strcmp(key, "threads"))
        return lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
               lua_tointeger(L, -1) <= 4096;
    if (!strcmp(key, "backlog"))
        return lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
               lua_tointeger(L, -1) <= 100000000;
    return -1;
}

/* Each key of the table at -1 is known and of its type.  [-0, +0, -] */
static int check_server_keys(lua_State *L, const char *file, char *err, size_t err_len)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        int ok = server_value_ok(L, key);
        if (ok < 0)
            snprintf(err, err_len,
                     "%s: key 'server.%s': unknown (write keys come from "
                     "the environment), like %s",
                     file, key, SERVER_EXAMPLE);
        else if (!ok)
            snprintf(err, err_len, "%s: key 'server.%s': wrong type, like %s%s", file,
                     key, SERVER_EXAMPLE,
                     !strcmp(key, "threads")   ? " (threads: 1 to 4096)"
                     : !strcmp(key, "backlog") ? " (backlog: 1 to 100000000 events)"
                                               : "");
        lua_pop(L, 1);
        if (ok <= 0) return lua_pop(L, 1), -1;
    }
    return 0;
}

int config_read_server(lua_State *L, config *c, const char *file, char *err,
                       size_t err_len)
{
    char host[256];
    int port;
    if (lua_getfield(L, -1, "server") != LUA_TTABLE) return lua_pop(L, 1), 0;
    if (check_server_keys(L, file, err, err_len)) return lua_pop(L, 1), -1;
    lua_getfield(L, -1, "listen");
    lua_getfield(L, -2, "write_keys_env");
    lua_getfield(L, -3, "threads");
    const char *listen = lua_tostring(L, -3), *keys_env = lua_tostring(L, -2);
    if (listen && config_parse_listen(listen, host, sizeof host, &port)) {
        snprintf(err, err_len,
                 "%s: key 'server.listen': must be HOST:PORT, like \"127.0.0.1:8080\"",
                 file);
        return lua_pop(L, 4), -1;
    }
    if (listen) free(c->server_listen), c->server_listen = strdup(listen);
    if (keys_env) c->server_write_keys_env = strdup(keys_env);
    if (!lua_isnil(L, -1)) c->server_threads = (int)lua_tointeger(L, -1);
    lua_pop(L, 3);
    if (lua_getfield(L, -1, "backlog") == LUA_TNUMBER)
        c->server_backlog = lua_tointeger(L, -1);
    lua_pop(L, 2); /* backlog, server */
    return 0;
}
