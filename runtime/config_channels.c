/* The delivery settings of one channels.NAME table: its adapter, the
 * sender's knobs (concurrency, timeout, attempts, backoff) and the whole
 * table as JSON for the adapter.  Credentials must come from the
 * environment (KEY_env), never from the file. */
#include "config.h"

#include "l_modules.h"
#include "timeutil.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Keys that hold secrets: given in the file, they are refused. */
static const char *const secret_keys[] = {
    "password",   "token",        "auth_token",   "api_key",     "secret",
    "server_key", "server_token", "access_token", "webhook_url", NULL};

static int is_secret_key(const char *key)
{
    for (int i = 0; secret_keys[i]; i++)
        if (!strcasecmp(key, secret_keys[i])) return 1;
    return 0;
}

/* Refuses secrets given in the clear, and KEY_env that is not a variable
 * name.  [-0, +0, -] */
static int check_credentials(lua_State *L, const char *what, char *err, size_t err_len)
{
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        size_t n = strlen(key);
        int is_env = n > 4 && !strcmp(key + n - 4, "_env");
        if (is_secret_key(key)) {
            snprintf(err, err_len,
                     "%s.%s': credentials never go in the config file; name the "
                     "environment variable that holds it: %s_env = \"VARIABLE\"",
                     what, key, key);
            return lua_pop(L, 2), -1;
        }
        const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (is_env && (!v || !v[0] ||
                       strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(v))) {
            snprintf(err, err_len,
                     "%s.%s': must be the name of an environment variable, like "
                     "\"TWILIO_AUTH_TOKEN\"",
                     what, key);
            return lua_pop(L, 2), -1;
        }
        lua_pop(L, 1);
    }
    return 0;
}

/* Field NAME of the table at -1, a duration ("10s") or seconds, into *ms
 * (a whole number of ms from 1 to INT_MAX).  0 when absent.  [-0, +0, -] */
static int duration_field(lua_State *L, const char *name, int *ms)
{
    int type = lua_getfield(L, -1, name);
    int64_t v = 0;
    int rc = 0;
    if (type == LUA_TSTRING)
        rc = duration_parse(lua_tostring(L, -1), &v);
    else if (type == LUA_TNUMBER && isfinite(lua_tonumber(L, -1)))
        v = (int64_t)llround(lua_tonumber(L, -1) * 1000);
    else if (type != LUA_TNIL)
        rc = -1;
    lua_pop(L, 1);
    if (type == LUA_TNIL) return 0;
    if (rc || v < 1 || v > INT_MAX) return -1;
    *ms = (int)v;
    return 0;
}

/* Field NAME of the table at -1, a whole number from 1 to MAX, into *out. */
static int count_field(lua_State *L, const char *name, int max, int *out)
{
    int type = lua_getfield(L, -1, name), is_int = 0;
    lua_Integer v = type == LUA_TNUMBER ? lua_tointegerx(L, -1, &is_int) : 0;
    lua_pop(L, 1);
    if (type == LUA_TNIL) return 0;
    if (!is_int || v < 1 || v > max) return -1;
    *out = (int)v;
    return 0;
}

/* The sender's knobs of the table at -1.  [-0, +0, -] */
static int read_knobs(lua_State *L, channel_config *ch, const char *what, char *err,
                      size_t err_len)
{
    const char *bad = NULL, *like = NULL;
    if (count_field(L, "concurrency", 1024, &ch->concurrency))
        bad = "concurrency", like = "a whole number from 1 to 1024, like 8";
    else if (count_field(L, "max_attempts", 100, &ch->max_attempts))
        bad = "max_attempts", like = "a whole number from 1 to 100, like 6";
    else if (duration_field(L, "timeout", &ch->timeout_ms))
        bad = "timeout", like = "a duration like \"10s\" or seconds";
    else if (duration_field(L, "retry_base", &ch->retry_base_ms))
        bad = "retry_base", like = "a duration like \"1s\" or seconds (0.1)";
    else if (duration_field(L, "retry_max", &ch->retry_max_ms))
        bad = "retry_max", like = "a duration like \"1h\" or seconds";
    if (!bad) return 0;
    snprintf(err, err_len, "%s.%s': must be %s", what, bad, like);
    return -1;
}

/* The adapter name, or a path made relative to the config file's folder. */
static char *adapter_of(const char *given, const char *file)
{
    size_t n = strlen(given);
    int is_path = strchr(given, '/') || (n > 4 && !strcmp(given + n - 4, ".lua"));
    const char *slash = strrchr(file, '/');
    if (!is_path || given[0] == '/' || !slash) return strdup(given);
    size_t dir = (size_t)(slash - file) + 1;
    char *path = malloc(dir + n + 1);
    if (path) memcpy(path, file, dir), memcpy(path + dir, given, n + 1);
    return path;
}

int config_read_channel(lua_State *L, const char *file, const char *name,
                        channel_config *ch, char *err, size_t err_len)
{
    char what[300];
    snprintf(what, sizeof what, "%s: key 'channels.%s", file, name);
    memset(ch, 0, sizeof *ch);
    snprintf(ch->name, sizeof ch->name, "%s", name);
    ch->concurrency = CHANNEL_DEFAULT_CONCURRENCY;
    ch->timeout_ms = CHANNEL_DEFAULT_TIMEOUT_MS;
    ch->max_attempts = CHANNEL_DEFAULT_ATTEMPTS;
    ch->retry_base_ms = CHANNEL_DEFAULT_RETRY_BASE_MS;
    ch->retry_max_ms = CHANNEL_DEFAULT_RETRY_MAX_MS;
    int type = lua_getfield(L, -1, "adapter");
    const char *adapter = type == LUA_TSTRING ? lua_tostring(L, -1) : "file";
    if ((type != LUA_TNIL && type != LUA_TSTRING) || !adapter[0]) {
        lua_pop(L, 1);
        return snprintf(err, err_len,
                        "%s.adapter': must be a name like \"twilio\" or "
                        "the path of an adapter file",
                        what),
               -1;
    }
    if (!strcmp(adapter, "stdout")) {
        lua_pop(L, 1);
        return snprintf(err, err_len,
                        "%s.adapter': the file channel prints to stdout "
                        "when the config says outbox = \"-\"; leave the "
                        "adapter out (it defaults to \"file\")",
                        what),
               -1;
    }
    ch->adapter = adapter_of(adapter, file);
    lua_pop(L, 1);
    if (check_credentials(L, what, err, err_len) || read_knobs(L, ch, what, err, err_len))
        goto fail;
    ch->settings_json = l_to_json_text(L, -1, err, err_len);
    if (!ch->settings_json) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, err_len, "%s': %s", what, why);
        goto fail;
    }
    return 0;
fail: /* the channel is not counted: nothing else frees it */
    free(ch->adapter);
    ch->adapter = NULL;
    return -1;
}

void config_free_channels(config *c)
{
    for (int i = 0; i < c->channel_count; i++)
        free(c->channels[i].adapter), free(c->channels[i].settings_json);
    c->channel_count = 0;
}

const channel_config *config_channel(const config *c, const char *name)
{
    for (int i = 0; i < c->channel_count; i++)
        if (!strcmp(c->channels[i].name, name)) return &c->channels[i];
    return NULL;
}
