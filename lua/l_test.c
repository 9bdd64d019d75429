/* require "nudge.test" in *_test.lua files: t.case(name, fn) and
 * t.recipe(path) while the file loads, and the handle `s` each case gets.
 * The methods check their arguments, call the test kit
 * (runtime/test_kit.c) and raise its messages at the test file's line. */
#include "test_kit.h"

#include "l_modules.h"
#include "sandbox.h"
#include "textfile.h"
#include "timeutil.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HANDLE "nudge.test.scenario"
#define CASE_CPU_MS 10000 /* one case, the journeys it runs included */
#define ERR_LEN 1500

struct l_test_file {
    lua_State *L;
    char *dir; /* the test file's folder, "" for the current one */
    char **names, **recipes;
    int count, recipe_count;
    int loading; /* the top level runs: t.case and t.recipe may be called */
};

/* Registry keys: the file (a light userdata) and its cases' functions. */
static char FILE_KEY, CASES_KEY;

typedef struct scenario {
    test_kit *kit; /* NULL once its case ended */
} scenario;

static l_test_file *file_of(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &FILE_KEY);
    l_test_file *f = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!f || !f->loading)
        luaL_error(L, "t.case and t.recipe belong at the top of the test file, not "
                      "inside a case");
    return f;
}

/* Appends a copy of TEXT to *LIST.  [-0, +0, e] */
static void append(lua_State *L, char ***list, int *count, const char *text)
{
    char **grown = realloc(*list, (size_t)(*count + 1) * sizeof *grown);
    if (!grown) luaL_error(L, "out of memory");
    *list = grown;
    if (!(grown[*count] = strdup(text))) luaL_error(L, "out of memory");
    (*count)++;
}

/* t.case(name, function(s) ... end) */
static int t_case(lua_State *L)
{
    l_test_file *f = file_of(L);
    const char *name = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CASES_KEY);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, f->count + 1);
    append(L, &f->names, &f->count, name);
    return 0;
}

/* t.recipe("other.lua"): one more recipe, beside the test file. */
static int t_recipe(lua_State *L)
{
    l_test_file *f = file_of(L);
    const char *name = luaL_checkstring(L, 1);
    const char *path =
        name[0] == '/' || !f->dir[0] ? name : lua_pushfstring(L, "%s/%s", f->dir, name);
    if (access(path, R_OK))
        return luaL_error(L,
                          "t.recipe: cannot read %s (%s; the path is relative to the "
                          "test file)",
                          path, strerror(errno));
    append(L, &f->recipes, &f->recipe_count, path);
    return 0;
}

static int luaopen_nudge_test(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"case", t_case}, {"recipe", t_recipe}, {NULL, NULL}};
    luaL_newlib(L, funcs);
    return 1;
}

/* ---- the handle s ------------------------------------------------------ */

static test_kit *check_kit(lua_State *L)
{
    scenario *h = luaL_checkudata(L, 1, HANDLE);
    if (!h->kit) luaL_error(L, "s used after its test case ended");
    return h->kit;
}

/* Raises ERR when RC is non-zero.  [-0, +0, e] */
static void check(lua_State *L, int rc, const char *err)
{
    if (rc) luaL_error(L, "%s", err);
}

/* A non-empty string argument: a profile id, an event or page name. */
static const char *check_name(lua_State *L, int arg, const char *what)
{
    const char *name = luaL_checkstring(L, arg);
    luaL_argcheck(L, name[0], arg, what);
    return name;
}

/* An optional ISO-8601 time argument, else KIT_NOW. */
static int64_t opt_time(lua_State *L, int arg)
{
    int64_t ms;
    if (lua_isnoneornil(L, arg)) return KIT_NOW;
    const char *text = luaL_checkstring(L, arg);
    if (time_parse_iso8601(text, &ms))
        luaL_argerror(L, arg,
                      lua_pushfstring(L,
                                      "expected a time like \"2026-11-02T15:00:00Z\", "
                                      "got \"%s\"",
                                      text));
    return ms;
}

/* The table at ARG (0 or nil: none) as JSON text, malloc'd.  [-0, +0, e] */
static char *table_json(lua_State *L, int arg)
{
    char err[200];
    if (!arg || lua_isnoneornil(L, arg)) return strdup("{}");
    luaL_checktype(L, arg, LUA_TTABLE);
    char *text = l_to_json_text(L, arg, err, sizeof err);
    if (!text) luaL_argerror(L, arg, err);
    return text;
}

/* s:profile(id, traits[, time]), also s:identify */
static int s_profile(lua_State *L)
{
    test_kit *k = check_kit(L);
    const char *id = check_name(L, 2, "expected a profile id like \"u1\"");
    int64_t at = opt_time(L, 4);
    char *traits = table_json(L, 3), err[ERR_LEN];
    int rc = kit_event(k, "identify", id, NULL, traits, at, err, sizeof err);
    free(traits);
    check(L, rc, err);
    return 0;
}

/* s:track(id, event[, properties][, time]) and s:page(id, name[, ...]) */
static int track_or_page(lua_State *L, int page)
{
    test_kit *k = check_kit(L);
    const char *id = check_name(L, 2, "expected a profile id like \"u1\"");
    const char *name = check_name(L, 3,
                                  page ? "expected a page name like \"Pricing\""
                                       : "expected an event like \"Order Completed\"");
    int time_arg = lua_type(L, 4) == LUA_TSTRING ? 4 : 5;
    int64_t at = opt_time(L, time_arg);
    char *properties = table_json(L, time_arg == 5 ? 4 : 0), err[ERR_LEN];
    int rc =
        kit_event(k, page ? "page" : "track", id, name, properties, at, err, sizeof err);
    free(properties);
    check(L, rc, err);
    return 0;
}

static int s_track(lua_State *L)
{
    return track_or_page(L, 0);
}

static int s_page(lua_State *L)
{
    return track_or_page(L, 1);
}

/* s:consent(id, channel, true|false|"granted"|"revoked"[, purpose][, time]) */
static int s_consent(lua_State *L)
{
    test_kit *k = check_kit(L);
    const char *id = check_name(L, 2, "expected a profile id like \"u1\"");
    const char *channel = luaL_checkstring(L, 3);
    int granted = lua_toboolean(L, 4);
    if (lua_type(L, 4) == LUA_TSTRING) {
        const char *word = lua_tostring(L, 4);
        luaL_argcheck(L, !strcmp(word, "granted") || !strcmp(word, "revoked"), 4,
                      "expected true, false, \"granted\" or \"revoked\"");
        granted = !strcmp(word, "granted");
    } else {
        luaL_checktype(L, 4, LUA_TBOOLEAN);
    }
    const char *purpose = luaL_optstring(L, 5, NULL);
    char err[ERR_LEN];
    check(L,
          kit_consent(k, id, channel, purpose, granted, opt_time(L, 6), err, sizeof err),
          err);
    return 0;
}

/* s:holdout(id[, false]): the person is in the journeys' control groups
 * (nobody is, in a test, unless this says so). */
static int s_holdout(lua_State *L)
{
    test_kit *k = check_kit(L);
    const char *id = check_name(L, 2, "expected a profile id like \"u1\"");
    int held = lua_isnoneornil(L, 3) || lua_toboolean(L, 3);
    check(L, kit_holdout(k, id, held), "out of memory");
    return 0;
}

/* s:advance("30m" | seconds | "2026-11-03T09:00:00Z") */
static int s_advance(lua_State *L)
{
    test_kit *k = check_kit(L);
    int64_t by = -1, to = 0;
    char err[ERR_LEN];
    if (lua_type(L, 2) == LUA_TNUMBER) {
        luaL_argcheck(L, lua_tonumber(L, 2) >= 0, 2, "the clock only moves forward");
        by = (int64_t)(lua_tonumber(L, 2) * 1000);
    } else {
        const char *text = luaL_checkstring(L, 2);
        int is_duration = duration_parse(text, &by) == 0;
        if (!is_duration) by = -1;
        if (!is_duration && time_parse_iso8601(text, &to))
            luaL_argerror(L, 2,
                          lua_pushfstring(L,
                                          "expected a duration like \"30m\" or \"2d\", "
                                          "or a time like \"2026-11-03T09:00:00Z\", "
                                          "got \"%s\"",
                                          text));
    }
    check(L, kit_advance(k, by, to, err, sizeof err), err);
    return 0;
}

/* s:now(): the virtual time in Unix seconds, as j:now() gives it. */
static int s_now(lua_State *L)
{
    char err[ERR_LEN];
    int64_t now = kit_now(check_kit(L), err, sizeof err);
    check(L, now < 0, err);
    lua_pushnumber(L, (lua_Number)now / 1000);
    return 1;
}

static void set_text(lua_State *L, const char *key, const char *value)
{
    if (!value) return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* Pushes one captured message as a table.  [-0, +1, m] */
static void push_message(lua_State *L, const kit_message *m)
{
    char at[TIME_ISO_LEN];
    time_format_iso8601(m->at_ms, at);
    lua_createtable(L, 0, 12);
    set_text(L, "channel", m->channel), set_text(L, "profile", m->profile);
    set_text(L, "template", m->template_name), set_text(L, "journey", m->journey);
    set_text(L, "status", m->status), set_text(L, "reason", m->reason);
    set_text(L, "to", m->to), set_text(L, "subject", m->subject);
    set_text(L, "text", m->text), set_text(L, "html", m->html), set_text(L, "at", at);
    l_push_json_text(L, m->vars_json);
    lua_setfield(L, -2, "vars");
}

/* s:messages(): every message captured so far, in order. */
static int s_messages(lua_State *L)
{
    const kit_message *messages;
    int count;
    char err[ERR_LEN];
    check(L, kit_messages(check_kit(L), &messages, &count, err, sizeof err), err);
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        push_message(L, &messages[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* Reads the table at 2 into F: string fields by name, `count` when
 * allowed; an unknown key is an error naming the keys there are. */
static void read_filter(lua_State *L, const char *method, int with_count, kit_filter *f)
{
    static const char *const keys[] = {"channel", "profile", "template", "journey",
                                       "text",    "status",  "count",    NULL};
    const char **slots[] = {&f->channel, &f->profile, &f->template_name,
                            &f->journey, &f->text,    &f->status};
    memset(f, 0, sizeof *f);
    f->count = -1;
    luaL_checktype(L, 2, LUA_TTABLE);
    for (lua_pushnil(L); lua_next(L, 2); lua_pop(L, 1)) {
        int i = 0;
        while (keys[i] &&
               (lua_type(L, -2) != LUA_TSTRING || strcmp(keys[i], lua_tostring(L, -2))))
            i++;
        if (!keys[i] || (i == 6 && !with_count))
            luaL_error(L,
                       "%s: unknown key '%s' (it takes channel, profile, template, "
                       "journey, text and status%s)",
                       method, luaL_tolstring(L, -2, NULL),
                       with_count ? ", and count" : "");
        if (i == 6 && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0))
            luaL_error(L, "%s: count must be a whole number like 1", method);
        if (i == 6)
            f->count = (int)lua_tointeger(L, -1);
        else if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: %s must be a string", method, keys[i]);
        else
            *slots[i] = lua_tostring(L, -1); /* anchored in the table */
    }
}

static int expect_messages(lua_State *L, int want_sent)
{
    test_kit *k = check_kit(L);
    kit_filter f;
    char why[ERR_LEN];
    read_filter(L, want_sent ? "expect_sent" : "expect_not_sent", want_sent, &f);
    check(L, kit_expect_sent(k, &f, want_sent, why, sizeof why), why);
    return 0;
}

/* s:expect_sent{ channel =, profile =, template =, journey =, text =,
 * status =, count = } */
static int s_expect_sent(lua_State *L)
{
    return expect_messages(L, 1);
}

static int s_expect_not_sent(lua_State *L)
{
    return expect_messages(L, 0);
}

/* s:expect_state{ profile =, journey =, state = } */
static int s_expect_state(lua_State *L)
{
    test_kit *k = check_kit(L);
    const char *values[3] = {NULL, NULL, NULL},
               *names[] = {"profile", "journey", "state"};
    char why[ERR_LEN];
    luaL_checktype(L, 2, LUA_TTABLE);
    for (int i = 0; i < 3; i++) {
        int type = lua_getfield(L, 2, names[i]);
        if (type != LUA_TNIL && type != LUA_TSTRING)
            luaL_error(L, "expect_state: %s must be a string", names[i]);
        values[i] = lua_tostring(L, -1); /* anchored in the table */
        lua_pop(L, 1);
    }
    if (!values[2])
        luaL_error(L,
                   "expect_state: say which state (state = \"waiting\", \"completed\", "
                   "\"exited\", \"failed\" or \"running\")");
    check(L, kit_expect_state(k, values[0], values[1], values[2], why, sizeof why), why);
    return 0;
}

static void push_metatable(lua_State *L)
{
    static const luaL_Reg methods[] = {{"profile", s_profile},
                                       {"identify", s_profile},
                                       {"consent", s_consent},
                                       {"holdout", s_holdout},
                                       {"track", s_track},
                                       {"page", s_page},
                                       {"advance", s_advance},
                                       {"now", s_now},
                                       {"messages", s_messages},
                                       {"expect_sent", s_expect_sent},
                                       {"expect_not_sent", s_expect_not_sent},
                                       {"expect_state", s_expect_state},
                                       {NULL, NULL}};
    if (!luaL_newmetatable(L, HANDLE)) return;
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "protected");
    lua_setfield(L, -2, "__metatable");
}

/* ---- test files -------------------------------------------------------- */

void l_test_close(l_test_file *f)
{
    if (!f) return;
    sandbox_close(f->L);
    for (int i = 0; i < f->count; i++)
        free(f->names[i]);
    for (int i = 0; i < f->recipe_count; i++)
        free(f->recipes[i]);
    free(f->names), free(f->recipes), free(f->dir);
    free(f);
}

/* Runs the file's top level: its t.case and t.recipe calls register. */
static int run_top_level(l_test_file *f, const char *path, char *err, size_t err_len)
{
    lua_State *L = f->L;
    size_t len;
    char *text = textfile_read(path, &len);
    if (!text)
        return snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno)), -1;
    lua_pushlightuserdata(L, f);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &FILE_KEY);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &CASES_KEY);
    lua_pushfstring(L, "@%s", path);
    sandbox_push_env(L);
    int status = sandbox_load(L, text, len, lua_tostring(L, -2));
    free(text);
    f->loading = 1;
    if (status == LUA_OK) status = sandbox_pcall(L, 0, 0);
    f->loading = 0;
    if (status != LUA_OK) snprintf(err, err_len, "%s", lua_tostring(L, -1));
    lua_settop(L, 0);
    return status == LUA_OK ? 0 : -1;
}

l_test_file *l_test_load(const char *path, size_t memory_bytes, char *err, size_t err_len)
{
    static const luaL_Reg modules[] = {{"nudge.test", luaopen_nudge_test}, {NULL, NULL}};
    l_test_file *f = calloc(1, sizeof *f);
    const char *slash = strrchr(path, '/');
    if (!f || !(f->dir = strndup(path, slash ? (size_t)(slash - path) : 0)) ||
        !(f->L = sandbox_new((sandbox_limits){memory_bytes, CASE_CPU_MS}, modules))) {
        snprintf(err, err_len, "cannot create a Lua state for %s", path);
        return l_test_close(f), NULL;
    }
    if (run_top_level(f, path, err, err_len)) return l_test_close(f), NULL;
    return f;
}

int l_test_case_count(const l_test_file *f)
{
    return f->count;
}

const char *l_test_case_name(const l_test_file *f, int i)
{
    return f->names[i];
}

int l_test_recipe_count(const l_test_file *f)
{
    return f->recipe_count;
}

const char *l_test_recipe(const l_test_file *f, int i)
{
    return f->recipes[i];
}

int l_test_run_case(l_test_file *f, int i, test_kit *k, char *why, size_t why_len)
{
    lua_State *L = f->L;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &CASES_KEY);
    lua_rawgeti(L, -1, i + 1);
    scenario *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->kit = NULL;
    push_metatable(L);
    lua_setmetatable(L, -2);
    h->kit = k;
    lua_pushvalue(L, -1);
    lua_insert(L, -3); /* [cases, s, fn, s] */
    int status = sandbox_pcall(L, 1, 0);
    const char *message = status == LUA_OK ? NULL : lua_tostring(L, -1);
    if (status != LUA_OK)
        snprintf(why, why_len, "%s%s", message ? message : "error",
                 message && strstr(message, "CPU budget") ? " (a test case may run that "
                                                            "long: look for a loop that "
                                                            "never ends)"
                                                          : "");
    h->kit = NULL; /* a copy kept by the test cannot reach the next case */
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT);
    return status == LUA_OK ? 0 : 1;
}
