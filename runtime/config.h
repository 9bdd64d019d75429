/* nudge.conf.lua: a Lua file returning a table of settings, run in the
 * sandbox.  Unknown keys and wrong types are errors naming the key. */
#ifndef NUDGE_CONFIG_H
#define NUDGE_CONFIG_H
#include "channel.h"
#include "guard.h"
#include "sandbox.h"

#include <stdint.h>

typedef struct config {
    char *db_path;         /* "nudge.db" */
    char *key_file;        /* NULL: nudge.key beside the database */
    char *outbox_path;     /* the file channel's output: "outbox.ndjson" */
    char *consent_default; /* "opt_in" or "opt_out" */
    char *timezone;        /* default time zone for profiles: "UTC" */
    char **recipe_dirs;    /* folders searched when no recipe is named */
    int recipe_dir_count;
    sandbox_limits limits;
    char **pii_fields; /* pii.fields: PII traits beyond the defaults */
    int pii_field_count;
    char **pii_exposed; /* pii.expose: PII fields recipes see in the clear */
    int pii_exposed_count;
    guard_cap caps[GUARD_RULES_MAX]; /* caps: none by default */
    int cap_count;
    guard_quiet quiet[GUARD_RULES_MAX]; /* quiet_hours: SMS 21:00–09:00 by default */
    int quiet_count;
    guard_rate rates[GUARD_RULES_MAX]; /* channels.NAME.rate/burst: none by default */
    int rate_count;
    channel_config channels[GUARD_RULES_MAX]; /* channels.NAME: adapters, senders */
    int channel_count;
    char *server_listen;         /* server.listen: "127.0.0.1:8080" */
    char *server_write_keys_env; /* server.write_keys_env, or NULL: no auth */
    int server_threads;          /* server.threads; 0: the server's default */
    int64_t server_backlog;      /* server.backlog; 0: SERVE_BACKLOG_MAX */
} config;

/* Fills `out` with defaults, then with `path` when given (or when
 * ./nudge.conf.lua exists and `path` is NULL).  0, or -1 with `err`. */
int config_load(const char *path, config *out, char *err, size_t err_len);
void config_free(config *c);

/* Reads frequency caps, { sms = {1, "24h"}, all = {5, "7d"} }, from the
 * table at `idx` into caps (room for GUARD_RULES_MAX), setting *count.
 * Errors name the key: "FILE: key 'KEY.sms': expected {count, window} ...".
 * Used for the config's `caps`; meant for journey{ caps = ... } too.
 * 0, or -1 with `err`.  [-0, +0, m] */
int config_read_caps(lua_State *L, int idx, const char *file, const char *key,
                     guard_cap *caps, int *count, char *err, size_t err_len);

/* The delivery settings of the channels.NAME table at -1 into *CH
 * (config_channels.c): adapter (a path is made relative to FILE's folder),
 * concurrency, timeout, max_attempts, retry_base, retry_max, and the table
 * as JSON.  A secret given in the clear (password = "...") is an error
 * that says to use password_env.  0, or -1 with ERR.  [-0, +0, m] */
int config_read_channel(lua_State *L, const char *file, const char *name,
                        channel_config *ch, char *err, size_t err_len);
void config_free_channels(config *c);

/* The `server` table of the config at -1 (config_server.c).  [-0, +0, m] */
int config_read_server(lua_State *L, config *c, const char *file, char *err,
                       size_t err_len);
/* Splits "HOST:PORT" (PORT 0 to 65535).  0, or -1 when malformed. */
int config_parse_listen(const char *text, char *host, size_t host_len, int *port);

/* The settings of channel NAME, or NULL when the config does not name it
 * (it then goes to the file channel). */
const channel_config *config_channel(const config *c, const char *name);

#endif
