/* The recipe host: one sandboxed Lua state per recipe version (kept by
 * content hash), trigger filters, and journey activations as fresh
 * coroutines that replay the instance's history from the top. */
#include "host.h"

#include "config.h"

#include "l_journey.h"
#include "l_modules.h"
#include "log.h"
#include "textfile.h"
#include "timeutil.h"

#include <ctype.h>
#include <lauxlib.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct host {
    store *store;
    sandbox_limits limits;
    recipe **recipes;
    int count, cap;
};

/* Whether the where function at the top of L declares a second parameter
 * (or is variadic): the profile is loaded and converted only then. */
static int where_reads_profile(lua_State *L)
{
    lua_Debug ar;
    lua_pushvalue(L, -1);
    if (!lua_getinfo(L, ">u", &ar)) return 1;
    return ar.nparams >= 2 || ar.isvararg;
}

static const luaL_Reg recipe_modules[] = {{"nudge.time", luaopen_nudge_time},
                                          {NULL, NULL}};

host *host_new(store *s, sandbox_limits limits)
{
    host *h = calloc(1, sizeof *h);
    if (h) h->store = s, h->limits = limits;
    return h;
}

static void recipe_free(recipe *r)
{
    if (!r) return;
    sandbox_close(r->L);
    for (int i = 0; i < r->exit_on_count; i++)
        free(r->exit_on[i]);
    free(r->exit_on), free(r->name), free(r->path), free(r->purpose);
    free(r->templates_json);
    free(r->trigger_event), free(r->goal_event);
    free(r);
}

void host_free(host *h)
{
    if (!h) return;
    for (int i = 0; i < h->count; i++)
        recipe_free(h->recipes[i]);
    free(h->recipes);
    free(h);
}

static char *read_file(const char *path, size_t *len, char *err, size_t err_len)
{
    char *text = textfile_read(path, len);
    if (!text) snprintf(err, err_len, "%s: cannot read recipe: %m", path);
    return text;
}

static void hash_source(const char *text, size_t len, char *hex)
{
    unsigned char digest[32];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)text, len, NULL, 0);
    sodium_bin2hex(hex, RECIPE_HASH_LEN + 1, digest, sizeof digest);
}

/* Pushes t[key] without metamethods.  [-0, +1, -] */
static int raw_field(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t < 0 ? t - 1 : t);
}

static char *string_field(lua_State *L, int table, const char *key)
{
    raw_field(L, table, key);
    char *value = lua_type(L, -1) == LUA_TSTRING ? strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return value;
}

/* Copies the journey table that journey{} built (fresh tables, checked
 * types) at the top of L into r.  [-0, +0, m] */
static void read_journey(lua_State *L, recipe *r)
{
    int t = lua_gettop(L);
    r->name = string_field(L, t, "name");
    r->purpose = string_field(L, t, "purpose");
    raw_field(L, t, "holdout");
    r->holdout = lua_tonumber(L, -1);
    raw_field(L, t, "run");
    r->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    raw_field(L, t, "trigger");
    r->trigger_event = string_field(L, lua_gettop(L), "event");
    raw_field(L, -1, "where");
    r->has_where = lua_isfunction(L, -1);
    r->where_reads_profile = r->has_where && where_reads_profile(L);
    r->where_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    raw_field(L, -1, "audience");
    r->has_audience = lua_isfunction(L, -1);
    r->audience_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    raw_field(L, -1, "every"); /* seconds, at least 60 (journey{} checked) */
    lua_Number every = lua_tonumber(L, -1) * 1000;
    r->audience_every_ms = every < 9e15 ? (int64_t)every : (int64_t)9e15;
    lua_pop(L, 1);
    raw_field(L, t, "exit_on");
    int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : 0;
    r->exit_on = calloc((size_t)n + 1, sizeof *r->exit_on);
    for (int i = 0; i < n && r->exit_on; i++, lua_pop(L, 1))
        if (lua_rawgeti(L, -1, i + 1) == LUA_TSTRING)
            r->exit_on[r->exit_on_count++] = strdup(lua_tostring(L, -1));
    if (raw_field(L, t, "goal") == LUA_TTABLE) {
        r->goal_event = string_field(L, lua_gettop(L), "event");
        raw_field(L, -1, "within");
        r->goal_within_ms = (int64_t)(lua_tonumber(L, -1) * 1000);
    }
    lua_settop(L, t);
    raw_field(L, t, "reentry");
    r->reentry = lua_toboolean(L, -1);
    r->reentry_ms =
        lua_type(L, -1) == LUA_TNUMBER ? (int64_t)(lua_tonumber(L, -1) * 1000) : 0;
    lua_settop(L, t);
}

/* The line of the recipe's `journey {` (1 if there is none). */
static int journey_line(const char *text)
{
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') line++;
        if (!strncmp(p, "journey", 7) && (p == text || !isalnum((unsigned char)p[-1])) &&
            p[7 + strspn(p + 7, " \t\r\n")] == '{')
            return line;
    }
    return 1;
}

/* An error raised inside the stdlib (journey{} checking a tail-called
 * `return journey {...}`, whose recipe frame is gone) is moved to the
 * recipe's own `journey {` line. */
static void recipe_error(const char *path, const char *text, const char *msg, char *err,
                         size_t err_len)
{
    if (strncmp(msg, "stdlib/", 7)) {
        snprintf(err, err_len, "%s", msg);
        return;
    }
    const char *rest = strstr(msg, ": ");
    snprintf(err, err_len, "%s:%d: %s", path, journey_line(text), rest ? rest + 2 : msg);
}

/* Runs the recipe chunk and checks what it returns through journey{}. */
static recipe *compile(host *h, const char *path, const char *text, size_t len,
                       const char *hash, char *err, size_t err_len)
{
    recipe *r = calloc(1, sizeof *r);
    char chunkname[512];
    if (!r || !(r->L = sandbox_new(h->limits, recipe_modules))) {
        snprintf(err, err_len, "%s: cannot create a Lua state", path);
        return recipe_free(r), NULL;
    }
    lua_State *L = r->L;
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    sandbox_push_env(L);
    lua_getfield(L, -1, "journey");
    lua_insert(L, -2);
    if (sandbox_load(L, text, len, chunkname) != LUA_OK ||
        sandbox_pcall(L, 0, 1) != LUA_OK)
        goto fail;
    if (!lua_istable(L, -1)) {
        lua_pushfstring(L, "%s: the recipe must end with 'return journey { ... }'", path);
        goto fail;
    }
    if (sandbox_pcall(L, 1, 1) != LUA_OK)
        goto fail; /* journey{} again checks the result */
    read_journey(L, r);
    if (raw_field(L, -1, "templates") == LUA_TTABLE &&
        !(r->templates_json = l_to_json_text(L, -1, err, err_len)))
        return recipe_free(r), NULL;
    lua_pop(L, 1);
    if (raw_field(L, -1, "caps") == LUA_TTABLE &&
        config_read_caps(L, lua_gettop(L), path, "caps", r->caps, &r->cap_count, err,
                         err_len))
        return recipe_free(r), NULL;
    lua_settop(L, 0);
    memcpy(r->hash, hash, sizeof r->hash);
    r->path = strdup(path);
    return r;
fail:
    recipe_error(path, text, lua_tostring(L, -1), err, err_len);
    recipe_free(r);
    return NULL;
}

static recipe *find(host *h, const char *hash)
{
    for (int i = 0; i < h->count; i++)
        if (strcmp(h->recipes[i]->hash, hash) == 0) return h->recipes[i];
    return NULL;
}

static recipe *add(host *h, recipe *r)
{
    if (h->count == h->cap) {
        recipe **bigger = realloc(h->recipes, (size_t)(h->cap = h->cap ? h->cap * 2 : 8) *
                                                  sizeof *bigger);
        if (!bigger) return recipe_free(r), NULL;
        h->recipes = bigger;
    }
    return h->recipes[h->count++] = r;
}

recipe *host_load_file(host *h, const char *path, char *err, size_t err_len)
{
    size_t len;
    char hash[RECIPE_HASH_LEN + 1];
    char *text = read_file(path, &len, err, err_len);
    if (!text) return NULL;
    hash_source(text, len, hash);
    recipe *r = find(h, hash);
    if (!r && (r = compile(h, path, text, len, hash, err, err_len)) && add(h, r) &&
        (store_recipe_put(h->store, hash, r->name, path, text, time_wall_ms()) ||
         (r->templates_json &&
          store_recipe_set_templates(h->store, hash, r->templates_json)))) {
        snprintf(err, err_len, "%s: cannot save the recipe version", path);
        r = NULL;
    }
    free(text);
    return r;
}

recipe *host_recipe(host *h, const char *hash, char *err, size_t err_len)
{
    char *text = NULL, *path = NULL;
    recipe *r = find(h, hash);
    if (r) return r;
    int found = store_recipe_get(h->store, hash, &text, &path);
    if (found == 1)
        r = compile(h, path, text, strlen(text), hash, err, err_len);
    else
        snprintf(err, err_len, "recipe version %.12s is not in the store", hash);
    if (r) r = add(h, r);
    free(text), free(path);
    return r;
}

int host_watches(host *h, const char *event)
{
    for (int i = 0; i < h->count; i++) {
        recipe *r = h->recipes[i];
        if (r->goal_event && !strcmp(r->goal_event, event)) return 1;
        for (int k = 0; k < r->exit_on_count; k++)
            if (!strcmp(r->exit_on[k], event)) return 1;
    }
    return 0;
}

/* Pairs with a where_profile and the host's store. */
typedef struct profile_source {
    store *store;
    const where_profile *profile;
} profile_source;

/* As act_profile_json does for j:profile. */
static char *load_profile(void *ctx)
{
    const profile_source *source = ctx;
    const where_profile *p = source->profile;
    char *text = store_profile_json(source->store, p->id, p->now_ms);
    return privacy_expose(p->privacy, source->store, p->id, text);
}

/* The profile reaches `where` as a lazy table: most filters read only
 * the event, and the profile is then never loaded nor decoded. */
int host_where(host *h, recipe *r, const char *event_json, const where_profile *profile,
               char *err, size_t err_len)
{
    lua_State *L = r->L;
    profile_source source = {h->store, profile};
    if (r->where_reads_profile)
        l_push_lazy_json(L, load_profile, &source, "the profile passed to trigger.where");
    else
        lua_pushnil(L);
    int lazy = lua_gettop(L); /* kept to close it after the call */
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->where_ref);
    l_push_json_text(L, event_json);
    lua_pushvalue(L, lazy);
    int status = sandbox_pcall(L, 2, 1);
    int match = status == LUA_OK ? lua_toboolean(L, -1) : -1;
    if (status != LUA_OK) snprintf(err, err_len, "%s", lua_tostring(L, -1));
    l_lazy_json_close(L, lazy);
    lua_settop(L, lazy - 1);
    return match;
}

/* The audience function always reads its profile: it gets a plain table,
 * decoded before the call (a lazy one would only add a metamethod to every
 * read). */
int host_audience(host *h, recipe *r, const where_profile *profile, char *err,
                  size_t err_len)
{
    lua_State *L = r->L;
    profile_source source = {h->store, profile};
    char *text = load_profile(&source);
    if (!text) return snprintf(err, err_len, "the profile cannot be read"), -1;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->audience_ref);
    l_push_json_text(L, text);
    free(text);
    int status = sandbox_pcall(L, 1, 1);
    int match = status == LUA_OK ? lua_toboolean(L, -1) : -1;
    if (status != LUA_OK) snprintf(err, err_len, "%s", lua_tostring(L, -1));
    lua_settop(L, top);
    return match;
}

void host_activate(host *h, recipe *r, activation *a)
{
    (void)h;
    lua_State *L = r->L;
    int top = lua_gettop(L), nresults;
    lua_State *co = sandbox_push_thread(L);
    lua_rawgeti(co, LUA_REGISTRYINDEX, r->run_ref);
    l_journey_push(L, a, co); /* kept at top + 2 to detach it afterwards */
    lua_pushvalue(L, -1);
    lua_xmove(L, co, 1);
    int status = sandbox_resume(L, co, 1, &nresults);
    if (status == LUA_OK) {
        a->outcome = ACT_COMPLETED;
    } else if (status == LUA_YIELD) {
        if (a->outcome != ACT_SUSPENDED && a->outcome != ACT_EXITED) {
            a->outcome = ACT_FAILED;
            snprintf(a->error, sizeof a->error,
                     "%s: coroutine.yield() called outside a coroutine of the recipe",
                     r->path);
        }
    } else {
        a->outcome = ACT_FAILED;
        snprintf(a->error, sizeof a->error, "%s", lua_tostring(co, -1));
    }
    l_journey_detach(L, top + 2);
    sandbox_keep_thread(L, top + 1);
    lua_settop(L, top);
}
