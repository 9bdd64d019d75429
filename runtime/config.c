/* nudge.conf.lua loading: defaults, then the file's table, checked key by
 * key, down to each frequency cap, quiet-hours window and channel rate.
 * The channels' delivery settings are read by config_channels.c, the
 * server's by config_server.c. */
#include "config.h"

#include "l_modules.h"
#include "timeutil.h"
#include "tz.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
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
        return lua_pop(L, 1), snprintf(err, err_len, "%s must be a list of names", what),
               -1;
    *out = calloc((size_t)n + 1, sizeof **out);
    for (int i = 1; i <= n && *out; i++, lua_pop(L, 1)) {
        if (lua_rawgeti(L, -1, i) != LUA_TSTRING || !lua_rawlen(L, -1))
            return lua_pop(L, 2),
                   snprintf(err, err_len, "%s must be a list of names", what), -1;
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
                   snprintf(err, err_len, "%s: key 'pii': unknown key '%s'", path, key),
                   -1;
    }
    snprintf(what, sizeof what, "%s: key 'pii.fields'", path);
    int rc =
        read_names(L, "fields", &c->pii_fields, &c->pii_field_count, what, err, err_len);
    snprintf(what, sizeof what, "%s: key 'pii.expose'", path);
    if (!rc)
        rc = read_names(L, "expose", &c->pii_exposed, &c->pii_exposed_count, what, err,
                        err_len);
    lua_pop(L, 1);
    return rc;
}

/* ---- caps and quiet hours ------------------------------------------------ */

#define CAP_EXAMPLE "{1, \"24h\"}"
#define QUIET_EXAMPLE "{\"21:00\", \"09:00\"}"

/* 1 when the value at `idx` is a list of exactly two items.  [-0, +0, -] */
static int is_pair(lua_State *L, int idx)
{
    int entries = 0;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || lua_rawlen(L, idx) != 2) return 0;
    lua_pushnil(L);
    while (lua_next(L, idx))
        entries++, lua_pop(L, 1);
    return entries == 2;
}

/* The channel name of the key at -2 in a lua_next walk of table KEY,
 * checked and copied into `name`.  0, or -1 with err.  [-0, +0, -] */
static int rule_channel(lua_State *L, const char *file, const char *key,
                        const char *example, char *name, char *err, size_t err_len)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        return snprintf(err, err_len,
                        "%s: key '%s': expected channel = %s, like sms = %s", file, key,
                        example, example),
               -1;
    const char *channel = lua_tostring(L, -2);
    if (!guard_channel_valid(channel))
        return snprintf(err, err_len,
                        "%s: key '%s.%.40s': a channel name is lowercase letters, "
                        "digits and _ (like sms or email)%s",
                        file, key, channel, strcmp(key, "channels") ? ", or all" : ""),
               -1;
    snprintf(name, GUARD_CHANNEL_MAX, "%s", channel);
    return 0;
}

/* A cap's window at -1: a duration text or seconds, > 0.  [-0, +0, -] */
static int read_window(lua_State *L, int64_t *window_ms)
{
    if (lua_type(L, -1) == LUA_TSTRING)
        return duration_parse(lua_tostring(L, -1), window_ms) || *window_ms <= 0 ? -1 : 0;
    if (lua_type(L, -1) != LUA_TNUMBER) return -1;
    lua_Number seconds = lua_tonumber(L, -1);
    if (!(seconds > 0 && seconds <= 9.0e12)) return -1; /* NaN fails too */
    *window_ms = (int64_t)llround(seconds * 1000);
    return *window_ms > 0 ? 0 : -1;
}

/* {count, window} at -1 into *cap; `what` is "FILE: key 'caps.sms'".
 * [-0, +0, -] */
static int read_cap(lua_State *L, guard_cap *cap, const char *what, char *err,
                    size_t err_len)
{
    int is_integer = 0, window_rc;
    if (!is_pair(L, -1))
        return snprintf(err, err_len, "%s: expected {count, window} like %s", what,
                        CAP_EXAMPLE),
               -1;
    lua_rawgeti(L, -1, 1);
    lua_Integer count =
        lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &is_integer) : 0;
    lua_rawgeti(L, -2, 2);
    window_rc = read_window(L, &cap->window_ms);
    lua_pop(L, 2);
    if (!is_integer || count < 0 || count > INT_MAX)
        return snprintf(err, err_len,
                        "%s: the count must be a whole number >= 0, like %s", what,
                        CAP_EXAMPLE),
               -1;
    if (window_rc)
        return snprintf(err, err_len,
                        "%s: the window must be a duration like \"24h\" or \"7d\", or "
                        "seconds > 0",
                        what),
               -1;
    cap->count = (int)count;
    return 0;
}

int config_read_caps(lua_State *L, int idx, const char *file, const char *key,
                     guard_cap *caps, int *count, char *err, size_t err_len)
{
    char what[512];
    idx = lua_absindex(L, idx);
    *count = 0;
    if (lua_type(L, idx) != LUA_TTABLE)
        return snprintf(err, err_len, "%s: key '%s' must be a table like { sms = %s }",
                        file, key, CAP_EXAMPLE),
               -1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        guard_cap cap = {{0}, 0, 0};
        int rc = rule_channel(L, file, key, CAP_EXAMPLE, cap.channel, err, err_len);
        if (!rc) {
            snprintf(what, sizeof what, "%s: key '%s.%s'", file, key, cap.channel);
            rc = read_cap(L, &cap, what, err, err_len);
        }
        if (!rc && *count == GUARD_RULES_MAX) {
            snprintf(err, err_len, "%s: key '%s': at most %d channels", file, key,
                     GUARD_RULES_MAX);
            rc = -1;
        }
        lua_pop(L, 1);
        if (rc) return lua_pop(L, 1), -1;
        caps[(*count)++] = cap;
    }
    return 0;
}

/* One end of a quiet window, item i (1 start, 2 end) of the pair at -1.
 * [-0, +0, -] */
static int read_quiet_time(lua_State *L, int i, int *hour, int *minute, const char *what,
                           char *err, size_t err_len)
{
    const char *name = i == 1 ? "start" : "end";
    lua_rawgeti(L, -1, i);
    const char *text = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int rc = tz_parse_hhmm(text, hour, minute);
    if (rc && text)
        snprintf(err, err_len, "%s: the %s must be a time like \"21:00\", not \"%.20s\"",
                 what, name, text);
    else if (rc)
        snprintf(err, err_len, "%s: the %s must be a time like \"21:00\", not a %s", what,
                 name, luaL_typename(L, -1));
    lua_pop(L, 1);
    return rc;
}

/* {start, end} or false at -1 into *rule.  [-0, +0, -] */
static int read_quiet(lua_State *L, guard_quiet *rule, const char *what, char *err,
                      size_t err_len)
{
    rule->enabled = 0;
    if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) return 0;
    if (!is_pair(L, -1))
        return snprintf(err, err_len, "%s: expected {start, end} like %s, or false", what,
                        QUIET_EXAMPLE),
               -1;
    if (read_quiet_time(L, 1, &rule->start_hour, &rule->start_minute, what, err,
                        err_len) ||
        read_quiet_time(L, 2, &rule->end_hour, &rule->end_minute, what, err, err_len))
        return -1;
    if (rule->start_hour == rule->end_hour && rule->start_minute == rule->end_minute)
        return snprintf(err, err_len,
                        "%s: start and end are the same time (false means no quiet "
                        "hours)",
                        what),
               -1;
    rule->enabled = 1;
    return 0;
}

/* The entry for `channel` in c->quiet, added when missing; NULL when full. */
static guard_quiet *quiet_slot(config *c, const char *channel)
{
    for (int i = 0; i < c->quiet_count; i++)
        if (!strcmp(c->quiet[i].channel, channel)) return &c->quiet[i];
    if (c->quiet_count == GUARD_RULES_MAX) return NULL;
    guard_quiet *slot = &c->quiet[c->quiet_count++];
    memset(slot, 0, sizeof *slot);
    snprintf(slot->channel, sizeof slot->channel, "%s", channel);
    return slot;
}

/* quiet_hours = { sms = {"21:00", "09:00"}, email = false } over the
 * defaults: a channel given replaces its default.  [-0, +0, m] */
static int read_quiet_hours(lua_State *L, int idx, config *c, const char *file, char *err,
                            size_t err_len)
{
    char what[512];
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        guard_quiet rule = {{0}, 0, 0, 0, 0, 0};
        guard_quiet *slot = NULL;
        int rc = rule_channel(L, file, "quiet_hours", QUIET_EXAMPLE, rule.channel, err,
                              err_len);
        if (!rc) {
            snprintf(what, sizeof what, "%s: key 'quiet_hours.%s'", file, rule.channel);
            rc = read_quiet(L, &rule, what, err, err_len);
        }
        if (!rc && !(slot = quiet_slot(c, rule.channel))) {
            snprintf(err, err_len, "%s: key 'quiet_hours': at most %d channels", file,
                     GUARD_RULES_MAX);
            rc = -1;
        }
        lua_pop(L, 1);
        if (rc) return lua_pop(L, 1), -1;
        *slot = rule;
    }
    return 0;
}

/* ---- channels: rate limits ----------------------------------------------- */

#define RATE_EXAMPLE "{ rate = 10 }"

/* Field NAME of the table at -1 into *out: 1, or 0 when absent; -1 when
 * not a finite number >= least (> least unless `inclusive`).  [-0, +0, -] */
static int rate_field(lua_State *L, const char *name, double least, int inclusive,
                      double *out)
{
    int type = lua_getfield(L, -1, name);
    double value = type == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : NAN;
    lua_pop(L, 1);
    if (type == LUA_TNIL) return 0;
    if (!isfinite(value) || value < least || (!inclusive && value == least)) return -1;
    *out = value;
    return 1;
}

/* channels.NAME = { rate = R, burst = B, ... } at -1 into *rate: 1 when
 * it sets a rate, 0 when not (its other keys are the senders'), -1 with
 * err.  [-0, +0, -] */
static int read_channel(lua_State *L, const char *file, guard_rate *rate, char *err,
                        size_t err_len)
{
    const char *name = rate->channel;
    if (!strcmp(name, GUARD_ALL))
        return snprintf(err, err_len,
                        "%s: key 'channels.all': rates are per channel; give each "
                        "channel its own, like sms = %s",
                        file, RATE_EXAMPLE),
               -1;
    if (lua_type(L, -1) != LUA_TTABLE)
        return snprintf(err, err_len, "%s: key 'channels.%s' must be a table like %s",
                        file, name, RATE_EXAMPLE),
               -1;
    int has_rate = rate_field(L, "rate", 0, 0, &rate->rate);
    if (has_rate < 0)
        return snprintf(err, err_len,
                        "%s: key 'channels.%s.rate': must be messages per second, a "
                        "number > 0 like 10 or 0.5",
                        file, name),
               -1;
    int has_burst = rate_field(L, "burst", 1, 1, &rate->burst);
    if (has_burst < 0)
        return snprintf(err, err_len,
                        "%s: key 'channels.%s.burst': must be a number >= 1 (messages "
                        "at once after a pause), like 20",
                        file, name),
               -1;
    if (has_burst && !has_rate)
        return snprintf(err, err_len,
                        "%s: key 'channels.%s.burst': a burst needs a rate, like { "
                        "rate = 10, burst = 20 }",
                        file, name),
               -1;
    return has_rate;
}

/* channels = { sms = { rate = 10, burst = 20 }, email = { rate = 100 } }:
 * the channels with a rate go into c->rates.  [-0, +0, m] */
static int read_channels(lua_State *L, int idx, config *c, const char *file, char *err,
                         size_t err_len)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        guard_rate rate = {{0}, 0, 0};
        int rc =
            rule_channel(L, file, "channels", RATE_EXAMPLE, rate.channel, err, err_len);
        if (!rc) rc = read_channel(L, file, &rate, err, err_len);
        if (rc >= 0 && config_read_channel(L, file, rate.channel,
                                           &c->channels[c->channel_count], err, err_len))
            rc = -1;
        else if (rc >= 0)
            c->channel_count++;
        if (rc > 0 && c->rate_count == GUARD_RULES_MAX) {
            snprintf(err, err_len, "%s: key 'channels': at most %d channels with a rate",
                     file, GUARD_RULES_MAX);
            rc = -1;
        }
        lua_pop(L, 1);
        if (rc < 0) return lua_pop(L, 1), -1;
        if (rc > 0) c->rates[c->rate_count++] = rate;
    }
    return 0;
}

static int read_guardrails(lua_State *L, config *c, const char *path, char *err,
                           size_t err_len)
{
    int rc = 0;
    if (lua_getfield(L, -1, "channels") == LUA_TTABLE)
        rc = read_channels(L, lua_gettop(L), c, path, err, err_len);
    lua_pop(L, 1);
    if (rc) return -1;
    if (lua_getfield(L, -1, "caps") == LUA_TTABLE)
        rc = config_read_caps(L, -1, path, "caps", c->caps, &c->cap_count, err, err_len);
    lua_pop(L, 1);
    if (rc) return -1;
    if (lua_getfield(L, -1, "quiet_hours") == LUA_TTABLE)
        rc = read_quiet_hours(L, lua_gettop(L), c, path, err, err_len);
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
    return read_limits(L, c, path, err, err_len) || read_pii(L, c, path, err, err_len) ||
                   read_guardrails(L, c, path, err, err_len) ||
                   config_read_server(L, c, path, err, err_len)
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
    c->server_listen = strdup("127.0.0.1:8080");
    c->quiet_count = guard_quiet_defaults(c->quiet);
    if (!path && access(DEFAULT_CONFIG, F_OK) == 0) path = DEFAULT_CONFIG;
    return path ? load_file(path, c, err, err_len) : 0;
}

void config_free(config *c)
{
    free(c->db_path), free(c->key_file), free(c->outbox_path);
    free(c->consent_default), free(c->timezone);
    free(c->server_listen), free(c->server_write_keys_env);
    for (int i = 0; i < c->recipe_dir_count; i++)
        free(c->recipe_dirs[i]);
    free(c->recipe_dirs);
    for (int i = 0; i < c->pii_field_count; i++)
        free(c->pii_fields[i]);
    for (int i = 0; i < c->pii_exposed_count; i++)
        free(c->pii_exposed[i]);
    free(c->pii_fields), free(c->pii_exposed);
    config_free_channels(c);
    memset(c, 0, sizeof *c);
}
