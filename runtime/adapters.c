/* The channel adapters' Lua state: loads each channel's adapter (a built-in
 * from stdlib/channels/ or the config's file) with its cfg, calls its
 * request and outcome functions under the sandbox's limits, and checks the
 * tables they return before they become a send_request or a verdict. */
#include "adapters.h"

#include "textfile.h"

#include "l_modules.h"
#include "sandbox.h"
#include "stdlib_embed.h"

#include <curl/curl.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUILTIN_PREFIX "channels." /* stdlib/channels/NAME.lua's module name */
#define HEADERS_MAX 100            /* headers one request may set */
#define RCPT_MAX 100               /* envelope recipients of one SMTP request */
#define RETRY_AFTER_MAX 31536000.0 /* seconds: one year */

typedef struct adapter_channel {
    char name[GUARD_CHANNEL_MAX];
    char *address;   /* the adapter's `address` (NULL: none) */
    int is_email;    /* its `email = true` */
    int adapter_ref; /* registry references: the adapter table and cfg */
    int cfg_ref;
} adapter_channel;

struct adapters {
    lua_State *L; /* NULL when no channel has an adapter */
    adapter_channel *channels;
    int count;
};

/* ---- loading ---------------------------------------------------------- */

/* What load_adapter needs, passed to it as a light userdata. */
typedef struct open_job {
    const channel_config *config;
    adapter_channel *slot;
    const char *text; /* an adapter file's source (NULL: a built-in) */
    size_t len;
} open_job;

static int uses_adapter(const channel_config *ch)
{
    return ch->adapter && strcmp(ch->adapter, "file") && strcmp(ch->adapter, "stdout");
}

/* The config loader has resolved paths already; a name is a built-in. */
static int is_path(const char *adapter)
{
    size_t n = strlen(adapter);
    return strchr(adapter, '/') || (n > 4 && !strcmp(adapter + n - 4, ".lua"));
}

static const struct embedded_file *builtin(const char *name)
{
    size_t prefix = strlen(BUILTIN_PREFIX);
    for (const struct embedded_file *f = nudge_stdlib; f->name; f++)
        if (!strncmp(f->name, BUILTIN_PREFIX, prefix) && !strcmp(f->name + prefix, name))
            return f;
    return NULL;
}

/* Raises "unknown adapter 'NAME'", listing the built-in ones. */
static int raise_unknown_adapter(lua_State *L, const char *name)
{
    size_t prefix = strlen(BUILTIN_PREFIX);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const struct embedded_file *f = nudge_stdlib; f->name; f++) {
        if (strncmp(f->name, BUILTIN_PREFIX, prefix)) continue;
        if (luaL_bufflen(&b)) luaL_addstring(&b, ", ");
        luaL_addstring(&b, f->name + prefix);
    }
    luaL_pushresult(&b);
    return luaL_error(L,
                      "unknown adapter '%s': the built-in ones are %s; or give the path "
                      "of your own adapter file, like \"providers/acme.lua\"",
                      name, lua_tostring(L, -1));
}

/* Pushes the value the adapter's file returns.  [-0, +1, e] */
static void push_adapter(lua_State *L, const open_job *job)
{
    const char *adapter = job->config->adapter;
    if (job->text) {
        const char *chunkname = lua_pushfstring(L, "@%s", adapter);
        sandbox_push_env(L);
        if (sandbox_load(L, job->text, job->len, chunkname) != LUA_OK) lua_error(L);
        lua_remove(L, -2);
        lua_call(L, 0, 1);
        return;
    }
    if (!builtin(adapter)) raise_unknown_adapter(L, adapter);
    sandbox_push_env(L);
    lua_getfield(L, -1, "require");
    lua_pushfstring(L, "nudge." BUILTIN_PREFIX "%s", adapter);
    lua_call(L, 1, 1);
    lua_remove(L, -2);
}

/* Checks the adapter table at the top and copies address and email into
 * the slot.  [-0, +0, e] */
static void read_adapter(lua_State *L, const char *adapter, adapter_channel *slot)
{
    static const char *const example =
        "return { address = \"phone\", request = function(msg, cfg) ... end }";
    if (!lua_istable(L, -1))
        luaL_error(L, "adapter %s returned %s, not a table like %s", adapter,
                   luaL_typename(L, -1), example);
    if (lua_getfield(L, -1, "request") != LUA_TFUNCTION)
        luaL_error(L, "adapter %s has no request function: %s", adapter, example);
    int outcome = lua_getfield(L, -2, "outcome");
    if (outcome != LUA_TNIL && outcome != LUA_TFUNCTION)
        luaL_error(L, "adapter %s: 'outcome' must be a function, not %s", adapter,
                   luaL_typename(L, -1));
    int email = lua_getfield(L, -3, "email");
    if (email != LUA_TNIL && email != LUA_TBOOLEAN)
        luaL_error(L, "adapter %s: 'email' must be true or false, not %s", adapter,
                   luaL_typename(L, -1));
    slot->is_email = lua_toboolean(L, -1);
    int address = lua_getfield(L, -4, "address");
    if (address != LUA_TNIL && (address != LUA_TSTRING || !lua_rawlen(L, -1)))
        luaL_error(L, "adapter %s: 'address' must be a profile field like \"email\"",
                   adapter);
    if (address == LUA_TSTRING && !(slot->address = strdup(lua_tostring(L, -1))))
        luaL_error(L, "out of memory");
    lua_pop(L, 4);
}

/* Replaces, in the cfg table at CFG, each KEY_env = "VARIABLE" by KEY =
 * the variable's value (both are kept).  [-0, +0, e] */
static void resolve_environment(lua_State *L, int cfg)
{
    lua_newtable(L);
    int resolved = lua_gettop(L);
    for (lua_pushnil(L); lua_next(L, cfg); lua_pop(L, 1)) {
        size_t n;
        if (lua_type(L, -2) != LUA_TSTRING) continue;
        const char *key = lua_tolstring(L, -2, &n);
        if (n <= 4 || strcmp(key + n - 4, "_env")) continue;
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "key '%s': must name an environment variable", key);
        const char *variable = lua_tostring(L, -1), *value = getenv(variable);
        if (!value)
            luaL_error(L, "key '%s': environment variable %s is not set", key, variable);
        if (!value[0])
            luaL_error(L, "key '%s': environment variable %s is empty", key, variable);
        lua_pushlstring(L, key, n - 4);
        lua_pushstring(L, value);
        lua_rawset(L, resolved);
    }
    for (lua_pushnil(L); lua_next(L, resolved);) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, cfg);
    }
    lua_pop(L, 1);
}

/* Runs in the sandbox: loads one channel's adapter and cfg and keeps both
 * in the registry. */
static int load_adapter(lua_State *L)
{
    open_job *job = lua_touserdata(L, 1);
    push_adapter(L, job);
    read_adapter(L, job->config->adapter, job->slot);
    l_push_json_text(L, job->config->settings_json ? job->config->settings_json : "{}");
    if (!lua_istable(L, -1)) luaL_error(L, "the channel's settings are not a table");
    resolve_environment(L, lua_gettop(L));
    job->slot->cfg_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    job->slot->adapter_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static char *read_adapter_source(const char *path, size_t *len, char *err, size_t err_len)
{
    char *text = textfile_read(path, len);
    if (!text)
        snprintf(err, err_len, "cannot read the adapter file %s: %s", path,
                 strerror(errno));
    return text;
}

/* Loads CH's adapter into SLOT; -1 with ERR naming the channel. */
static int open_channel(lua_State *L, const channel_config *ch, adapter_channel *slot,
                        char *err, size_t err_len)
{
    char reason[400];
    open_job job = {ch, slot, NULL, 0};
    char *text = NULL;
    snprintf(slot->name, sizeof slot->name, "%s", ch->name);
    errno = 0;
    if (is_path(ch->adapter) &&
        !(text = read_adapter_source(ch->adapter, &job.len, reason, sizeof reason))) {
        snprintf(err, err_len, "channel '%s': %s", ch->name, reason);
        return -1;
    }
    job.text = text;
    lua_pushcfunction(L, load_adapter);
    lua_pushlightuserdata(L, &job);
    int status = sandbox_pcall(L, 1, 0);
    if (status != LUA_OK) {
        const char *message = lua_tostring(L, -1);
        snprintf(err, err_len, "channel '%s': %s", ch->name, message ? message : "error");
        lua_pop(L, 1);
        free(slot->address);
        slot->address = NULL;
    }
    free(text);
    return status == LUA_OK ? 0 : -1;
}

adapters *adapters_open(const channel_config *channels, int count, char *err,
                        size_t err_len)
{
    static const luaL_Reg modules[] = {{"nudge.codec", luaopen_nudge_codec},
                                       {NULL, NULL}};
    adapters *a = calloc(1, sizeof *a);
    int needed = 0;
    for (int i = 0; i < count; i++)
        needed += uses_adapter(&channels[i]);
    if (!a || !(a->channels = calloc(needed ? (size_t)needed : 1, sizeof *a->channels)) ||
        (needed && !(a->L = sandbox_new((sandbox_limits){0, 0}, modules)))) {
        snprintf(err, err_len, "channel adapters: cannot create a Lua state");
        adapters_close(a);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        if (!uses_adapter(&channels[i])) continue;
        if (open_channel(a->L, &channels[i], &a->channels[a->count], err, err_len)) {
            adapters_close(a);
            return NULL;
        }
        a->count++;
    }
    return a;
}

void adapters_close(adapters *a)
{
    if (!a) return;
    for (int i = 0; i < a->count; i++)
        free(a->channels[i].address);
    free(a->channels);
    sandbox_close(a->L);
    free(a);
}

static adapter_channel *find_channel(const adapters *a, const char *channel)
{
    for (int i = 0; a && channel && i < a->count; i++)
        if (!strcmp(a->channels[i].name, channel)) return &a->channels[i];
    return NULL;
}

const char *adapters_address(const adapters *a, const char *channel)
{
    const adapter_channel *slot = find_channel(a, channel);
    return slot ? slot->address : NULL;
}

int adapters_is_email(const adapters *a, const char *channel)
{
    const adapter_channel *slot = find_channel(a, channel);
    return slot ? slot->is_email : 0;
}

/* ---- calling the adapter ---------------------------------------------- */

static void set_string(lua_State *L, const char *name, const char *value)
{
    if (!value) return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, name);
}

/* Pushes the msg table.  [-0, +1, m] */
static void push_message(lua_State *L, const adapter_message *m)
{
    lua_createtable(L, 0, 18);
    set_string(L, "key", m->key);
    set_string(L, "channel", m->channel);
    set_string(L, "template", m->template_name);
    set_string(L, "journey", m->journey);
    set_string(L, "profile_id", m->profile_id);
    set_string(L, "purpose", m->purpose);
    set_string(L, "to", m->to);
    set_string(L, "subject", m->subject);
    set_string(L, "text", m->text);
    set_string(L, "html", m->html);
    set_string(L, "unsubscribe_url", m->unsubscribe_url);
    set_string(L, "list_unsubscribe", m->list_unsubscribe);
    set_string(L, "list_unsubscribe_post", m->list_unsubscribe_post);
    l_push_json_text(L, m->vars_json ? m->vars_json : "{}");
    if (!lua_istable(L, -1)) lua_pop(L, 1), lua_newtable(L);
    lua_setfield(L, -2, "vars");
    lua_pushinteger(L, m->created_ms / 1000 - (m->created_ms % 1000 < 0));
    lua_setfield(L, -2, "created_at");
    lua_pushinteger(L, m->attempt);
    lua_setfield(L, -2, "attempt");
}

/* Pushes the adapter's function NAME (or nil) and the channel's cfg.
 * [-0, +2, e] */
static void push_function_and_cfg(lua_State *L, const adapter_channel *slot,
                                  const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->adapter_ref);
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, slot->cfg_ref);
}

/* Raises "FILE:LINE: NAME: ...", FILE:LINE being where the adapter
 * function at FUNCTION (named NAME, like "request()") starts. */
static int raise_returned(lua_State *L, int function, const char *name, const char *fmt,
                          ...)
{
    lua_Debug ar;
    va_list args;
    lua_pushvalue(L, function);
    if (!lua_getinfo(L, ">S", &ar)) ar.short_src[0] = 0, ar.linedefined = 0;
    lua_pushfstring(L, "%s:%d: %s: ", ar.short_src, ar.linedefined, name);
    va_start(args, fmt);
    lua_pushvfstring(L, fmt, args);
    va_end(args);
    lua_concat(L, 2);
    return lua_error(L);
}

/* ---- the request table ------------------------------------------------ */

/* What run_request needs, passed to it as a light userdata. */
typedef struct request_job {
    const adapter_channel *slot;
    const adapter_message *message;
    send_request *out;
    int function; /* stack index of request(), for messages */
} request_job;

#define RAISE_FIELD(L, job, ...)                                                         \
    raise_returned(L, (job)->function, "request()", __VA_ARGS__)

/* RFC 9110 token characters: header names and methods. */
static int is_token(const char *s, size_t len)
{
    static const char *const extra = "!#$%&'*+-.^_`|~";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c >= '0' && c <= '9') && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
            !(c && strchr(extra, c)))
            return 0;
    }
    return len > 0;
}

/* Whether LEN bytes of S hold CR, LF, NUL or another control character
 * (a tab is fine): in a header they would start a new one. */
static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) return 1;
    return 0;
}

/* A malloc'd copy of LEN bytes of S, NUL-ended.  [-0, +0, m] */
static char *copy_bytes(lua_State *L, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) luaL_error(L, "out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    return copy;
}

/* A copy of the string field NAME of the table at T, or NULL when it is
 * absent (an error if REQUIRED).  Refuses NUL bytes.  [-0, +0, e] */
static char *string_field(lua_State *L, const request_job *job, int t, const char *name,
                          int required)
{
    size_t len;
    int type = lua_getfield(L, t, name);
    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        if (required) RAISE_FIELD(L, job, "'%s' is missing", name);
        return NULL;
    }
    if (type != LUA_TSTRING)
        RAISE_FIELD(L, job, "'%s' must be a string, not %s", name, luaL_typename(L, -1));
    const char *s = lua_tolstring(L, -1, &len);
    if (strlen(s) != len) RAISE_FIELD(L, job, "'%s' holds a NUL byte", name);
    char *copy = copy_bytes(L, s, len);
    lua_pop(L, 1);
    return copy;
}

static void check_url(lua_State *L, const request_job *job)
{
    const char *url = job->out->url;
    int smtp = job->out->kind == SEND_SMTP;
    const char *first = smtp ? "smtp://" : "http://",
               *second = smtp ? "smtps://" : "https://";
    /* the URL itself stays out of the message: it may hold a secret */
    if (strncasecmp(url, first, strlen(first)) &&
        strncasecmp(url, second, strlen(second)))
        RAISE_FIELD(L, job, "'url' must start with %s or %s", first, second);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            RAISE_FIELD(L, job, "'url' holds a space or a control character");
}

/* "Name: value" of the header whose name and value are at -2 and -1,
 * checked.  [-0, +0, e] */
static char *header_line(lua_State *L, const request_job *job)
{
    size_t name_len, value_len;
    if (lua_type(L, -2) != LUA_TSTRING)
        RAISE_FIELD(L, job, "'headers' keys must be header names, not %s",
                    luaL_typename(L, -2));
    const char *name = lua_tolstring(L, -2, &name_len);
    if (!is_token(name, name_len))
        RAISE_FIELD(L, job, "header '%s': not a valid header name", name);
    int type = lua_type(L, -1);
    if (type != LUA_TSTRING && type != LUA_TNUMBER)
        RAISE_FIELD(L, job, "header '%s' must be a string, not %s", name,
                    luaL_typename(L, -1));
    const char *value = lua_tolstring(L, -1, &value_len); /* a value may be converted */
    if (has_control(value, value_len))
        RAISE_FIELD(L, job, "header '%s' holds CR, LF, NUL or another control character",
                    name);
    char *line = malloc(name_len + 2 + value_len + 1);
    if (!line) luaL_error(L, "out of memory");
    memcpy(line, name, name_len);
    memcpy(line + name_len, ": ", 2);
    memcpy(line + name_len + 2, value, value_len + 1);
    return line;
}

static int header_name_equals(const char *line, const char *name)
{
    size_t n = strcspn(line, ":");
    return n == strlen(name) && !strncasecmp(line, name, n);
}

/* By name, ignoring case, then by bytes so the order is always the same. */
static int compare_headers(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t nx = strcspn(x, ":"), ny = strcspn(y, ":"), n = nx < ny ? nx : ny;
    int c = strncasecmp(x, y, n);
    if (!c) c = (nx > ny) - (nx < ny);
    return c ? c : strncmp(x, y, n);
}

/* Appends Idempotency-Key (HTTP, unless set), sorts, refuses a name
 * given twice.  [-0, +0, e] */
static void finish_headers(lua_State *L, const request_job *job)
{
    send_request *out = job->out;
    const char *key = job->message->key;
    int has_key = 0;
    for (int i = 0; i < out->header_count; i++)
        has_key |= header_name_equals(out->headers[i], "Idempotency-Key");
    if (out->kind == SEND_HTTP && !has_key && key) {
        size_t len = strlen(key);
        if (has_control(key, len))
            luaL_error(L, "the message key holds a control character");
        char *line = malloc(len + sizeof "Idempotency-Key: ");
        if (!line) luaL_error(L, "out of memory");
        memcpy(line, "Idempotency-Key: ", sizeof "Idempotency-Key: " - 1);
        memcpy(line + sizeof "Idempotency-Key: " - 1, key, len + 1);
        out->headers[out->header_count++] = line;
    }
    qsort(out->headers, (size_t)out->header_count, sizeof *out->headers, compare_headers);
    for (int i = 1; i < out->header_count; i++) {
        size_t n = strcspn(out->headers[i], ":");
        if (n == strcspn(out->headers[i - 1], ":") &&
            !strncasecmp(out->headers[i], out->headers[i - 1], n)) {
            const char *name = lua_pushlstring(L, out->headers[i], n);
            RAISE_FIELD(L, job, "header '%s' is given twice (names ignore case)", name);
        }
    }
}

/* The `headers` table of the request table at T.  [-0, +0, e] */
static void read_headers(lua_State *L, const request_job *job, int t)
{
    send_request *out = job->out;
    int type = lua_getfield(L, t, "headers"), n = 0;
    if (type != LUA_TNIL && type != LUA_TTABLE)
        RAISE_FIELD(L, job, "'headers' must be a table of name = value, not %s",
                    luaL_typename(L, -1));
    int headers = lua_gettop(L);
    if (type == LUA_TTABLE)
        for (lua_pushnil(L); lua_next(L, headers); lua_pop(L, 1))
            if (++n > HEADERS_MAX)
                RAISE_FIELD(L, job, "more than %d headers", HEADERS_MAX);
    if (!(out->headers = calloc((size_t)n + 1, sizeof *out->headers)))
        luaL_error(L, "out of memory");
    if (type == LUA_TTABLE)
        for (lua_pushnil(L); lua_next(L, headers); lua_pop(L, 1))
            out->headers[out->header_count++] = header_line(L, job);
    lua_pop(L, 1);
    finish_headers(L, job);
}

static void read_http(lua_State *L, const request_job *job, int t)
{
    send_request *out = job->out;
    size_t len;
    out->method = string_field(L, job, t, "method", 0);
    if (out->method && !is_token(out->method, strlen(out->method)))
        RAISE_FIELD(L, job, "'method' must be an HTTP method like \"POST\"");
    int type = lua_getfield(L, t, "body");
    if (type != LUA_TNIL && type != LUA_TSTRING)
        RAISE_FIELD(L, job, "'body' must be a string, not %s", luaL_typename(L, -1));
    if (type == LUA_TSTRING) {
        const char *body = lua_tolstring(L, -1, &len); /* may hold NUL bytes */
        out->body = copy_bytes(L, body, len);
        out->body_len = len;
    }
    lua_pop(L, 1);
}

/* An envelope address: no angle brackets, spaces or control characters,
 * which would change the SMTP command it goes into. */
static int is_envelope_address(const char *s)
{
    return s[0] && !s[strcspn(s, "<> \t\r\n")] && !has_control(s, strlen(s));
}

static void read_rcpt(lua_State *L, const request_job *job, int t)
{
    send_request *out = job->out;
    if (lua_getfield(L, t, "rcpt") != LUA_TTABLE)
        RAISE_FIELD(L, job, "'rcpt' must be a list of addresses, like { msg.to }");
    int rcpt = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, rcpt);
    if (n < 1 || n > RCPT_MAX)
        RAISE_FIELD(L, job, "'rcpt' must list 1 to %d addresses", RCPT_MAX);
    if (!(out->rcpt = calloc((size_t)n, sizeof *out->rcpt)))
        luaL_error(L, "out of memory");
    for (lua_Integer i = 1; i <= n; i++) {
        if (lua_rawgeti(L, rcpt, i) != LUA_TSTRING ||
            !is_envelope_address(lua_tostring(L, -1)))
            RAISE_FIELD(L, job, "'rcpt[%d]' must be an address like \"ana@example.com\"",
                        (int)i);
        out->rcpt[out->rcpt_count++] =
            copy_bytes(L, lua_tostring(L, -1), lua_rawlen(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void read_smtp(lua_State *L, const request_job *job, int t)
{
    send_request *out = job->out;
    out->mail_from = string_field(L, job, t, "mail_from", 1);
    if (!is_envelope_address(out->mail_from))
        RAISE_FIELD(L, job,
                    "'mail_from' must be a bare address like \"shop@example.com\"");
    read_rcpt(L, job, t);
    out->text = string_field(L, job, t, "text", 0);
    out->html = string_field(L, job, t, "html", 0);
    if (!out->text && !out->html)
        RAISE_FIELD(L, job, "an SMTP request needs text or html");
    if (lua_getfield(L, t, "body") != LUA_TNIL)
        RAISE_FIELD(L, job, "'body' is for HTTP; an SMTP request gives text and/or html");
    lua_pop(L, 1);
}

/* Fills job->out from the table at T.  [-0, +0, e] */
static void read_request(lua_State *L, const request_job *job, int t)
{
    send_request *out = job->out;
    if (!lua_istable(L, t))
        raise_returned(L, job->function, "request()", "returned %s, not a table",
                       luaL_typename(L, t));
    lua_getfield(L, t, "smtp");
    out->kind = lua_toboolean(L, -1) ? SEND_SMTP : SEND_HTTP;
    lua_pop(L, 1);
    out->url = string_field(L, job, t, "url", 1);
    check_url(L, job);
    out->username = string_field(L, job, t, "username", 0);
    out->password = string_field(L, job, t, "password", 0);
    read_headers(L, job, t);
    if (out->kind == SEND_HTTP)
        read_http(L, job, t);
    else
        read_smtp(L, job, t);
}

/* Runs in the sandbox: request(msg, cfg), then its table into job->out. */
static int run_request(lua_State *L)
{
    request_job *job = lua_touserdata(L, 1);
    luaL_checkstack(L, 20, NULL);
    push_function_and_cfg(L, job->slot, "request");
    job->function = lua_gettop(L) - 1;
    lua_pushvalue(L, job->function);
    push_message(L, job->message);
    lua_pushvalue(L, job->function + 1);
    lua_call(L, 2, 1);
    read_request(L, job, lua_gettop(L));
    return 0;
}

int adapters_request(adapters *a, const char *channel, const adapter_message *m,
                     send_request *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    adapter_channel *slot = find_channel(a, channel);
    if (!slot) {
        snprintf(err, err_len, "channel '%s' has no adapter", channel ? channel : "");
        return -1;
    }
    request_job job = {slot, m, out, 0};
    lua_pushcfunction(a->L, run_request);
    lua_pushlightuserdata(a->L, &job);
    if (sandbox_pcall(a->L, 1, 0) == LUA_OK) return 0;
    const char *message = lua_tostring(a->L, -1);
    snprintf(err, err_len, "%s", message ? message : "adapter error");
    lua_pop(a->L, 1);
    send_request_free(out);
    return -1;
}

/* ---- the verdict ------------------------------------------------------- */

/* What run_outcome needs, passed to it as a light userdata. */
typedef struct outcome_job {
    const adapter_channel *slot;
    const adapter_message *message;
    const send_response *response;
    send_verdict *verdict; /* the default, changed by what outcome() returns */
    int function;          /* stack index of outcome(), for messages */
} outcome_job;

static const char *const outcome_names[] = {"delivered", "retry", "failed", NULL};

#define RAISE_VERDICT(L, job, ...)                                                       \
    raise_returned(L, (job)->function, "outcome()", __VA_ARGS__)

/* Pushes resp = { status, body, error }.  [-0, +1, m] */
static void push_response(lua_State *L, const send_response *r)
{
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    set_string(L, "body", r->body);
    if (r->transport_error)
        set_string(L, "error",
                   r->error[0] ? r->error
                               : curl_easy_strerror((CURLcode)r->transport_error));
}

/* Pushes verdict = { outcome, bounce, detail, retry_after }.  [-0, +1, m] */
static void push_verdict(lua_State *L, const send_verdict *v)
{
    lua_createtable(L, 0, 4);
    int known = v->outcome >= SEND_DELIVERED && v->outcome <= SEND_FAILED;
    set_string(L, "outcome", outcome_names[known ? v->outcome - SEND_DELIVERED : 2]);
    lua_pushboolean(L, v->bounce);
    lua_setfield(L, -2, "bounce");
    set_string(L, "detail", v->detail);
    if (v->retry_after_ms > 0) {
        lua_pushnumber(L, (lua_Number)v->retry_after_ms / 1000);
        lua_setfield(L, -2, "retry_after");
    }
}

static void read_outcome_name(lua_State *L, const outcome_job *job, int t)
{
    int type = lua_getfield(L, t, "outcome");
    const char *name = type == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int i = 0;
    while (name && outcome_names[i] && strcmp(outcome_names[i], name))
        i++;
    if (name && outcome_names[i])
        job->verdict->outcome = SEND_DELIVERED + i;
    else if (type != LUA_TNIL)
        RAISE_VERDICT(L, job, "'outcome' must be \"delivered\", \"retry\" or \"failed\"");
    lua_pop(L, 1);
}

static void read_retry_after(lua_State *L, const outcome_job *job, int t)
{
    int type = lua_getfield(L, t, "retry_after");
    lua_Number seconds = lua_tonumber(L, -1);
    if (type != LUA_TNIL &&
        (type != LUA_TNUMBER || !(seconds >= 0) || seconds > RETRY_AFTER_MAX))
        RAISE_VERDICT(L, job, "'retry_after' must be seconds from 0 to %d",
                      (int)RETRY_AFTER_MAX);
    if (type == LUA_TNUMBER) job->verdict->retry_after_ms = (int64_t)(seconds * 1000);
    lua_pop(L, 1);
}

/* Changes job->verdict by the fields of the table at T.  [-0, +0, e] */
static void read_verdict(lua_State *L, const outcome_job *job, int t)
{
    send_verdict *v = job->verdict;
    if (!lua_istable(L, t))
        RAISE_VERDICT(L, job, "returned %s; return a table or nothing",
                      luaL_typename(L, t));
    read_outcome_name(L, job, t);
    int type = lua_getfield(L, t, "bounce");
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        RAISE_VERDICT(L, job, "'bounce' must be true or false");
    if (type == LUA_TBOOLEAN) v->bounce = lua_toboolean(L, -1);
    type = lua_getfield(L, t, "detail");
    if (type != LUA_TNIL && type != LUA_TSTRING)
        RAISE_VERDICT(L, job, "'detail' must be a string");
    if (type == LUA_TSTRING)
        snprintf(v->detail, sizeof v->detail, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    read_retry_after(L, job, t);
    if (v->outcome != SEND_FAILED) v->bounce = 0; /* a bounce is a failure */
    if (v->outcome != SEND_RETRY) v->retry_after_ms = 0;
}

/* Runs in the sandbox: outcome(msg, cfg, resp, verdict), if the adapter
 * has one, into job->verdict. */
static int run_outcome(lua_State *L)
{
    outcome_job *job = lua_touserdata(L, 1);
    luaL_checkstack(L, 20, NULL);
    push_function_and_cfg(L, job->slot, "outcome");
    job->function = lua_gettop(L) - 1;
    if (lua_isnil(L, job->function)) return 0;
    lua_pushvalue(L, job->function);
    push_message(L, job->message);
    lua_pushvalue(L, job->function + 1);
    push_response(L, job->response);
    push_verdict(L, job->verdict);
    lua_call(L, 4, 1);
    if (!lua_isnil(L, -1)) read_verdict(L, job, lua_gettop(L));
    return 0;
}

void adapters_outcome(adapters *a, const char *channel, const adapter_message *m,
                      int kind, const send_response *r, send_verdict *v)
{
    send_judge(kind, r, v);
    adapter_channel *slot = find_channel(a, channel);
    if (!slot) return;
    send_verdict changed = *v;
    outcome_job job = {slot, m, r, &changed, 0};
    lua_pushcfunction(a->L, run_outcome);
    lua_pushlightuserdata(a->L, &job);
    if (sandbox_pcall(a->L, 1, 0) == LUA_OK) {
        *v = changed;
        return;
    }
    char detail[SEND_DETAIL_MAX];
    const char *message = lua_tostring(a->L, -1);
    /* the default detail is cut to leave the note room */
    if (snprintf(detail, sizeof detail, "%.*s (adapter outcome: %s)", SEND_DETAIL_MAX / 2,
                 v->detail, message ? message : "error") >= 0)
        memcpy(v->detail, detail, sizeof v->detail);
    lua_pop(a->L, 1);
}
