/* The channel adapters: one Lua file per provider (stdlib/channels/NAME.lua,
 * or a file the config names) that turns a message into a send_request and
 * may judge the provider's answer.  This file owns the adapters' Lua state
 * (a sandboxed one, like a recipe's); one thread at a time per adapters.
 * The contract an adapter file keeps is in docs/delivery.md#adapters. */
#ifndef NUDGE_ADAPTERS_H
#define NUDGE_ADAPTERS_H
#include "channel.h"
#include "send.h"

#include <stddef.h>
#include <stdint.h>

typedef struct adapters adapters;

/* A message as the adapter sees it (the `msg` table).  Strings may be
 * NULL where noted; vars_json is a JSON object's text. */
typedef struct adapter_message {
    const char *key; /* idempotency key "nudge-<instance>-<step>" */
    const char *channel, *template_name, *journey, *profile_id;
    const char *purpose;   /* "marketing" or "transactional" */
    const char *to;        /* the address, resolved at delivery (NULL: none needed) */
    const char *vars_json; /* j:send's vars */
    const char *subject;   /* rendered subject line (NULL: none) */
    const char *text;      /* rendered text template (NULL: none) */
    const char *html;      /* rendered HTML template (NULL: none) */
    const char *unsubscribe_url;  /* marketing email: the one-click link (NULL: none) */
    const char *list_unsubscribe; /* its List-Unsubscribe header value */
    const char *list_unsubscribe_post; /* "List-Unsubscribe=One-Click" */
    int64_t created_ms;
    int attempt; /* 1 on the first try */
} adapter_message;

/* Loads the adapter of each channel in CHANNELS whose adapter is not
 * "file" or "stdout", with its settings (the `cfg` table: the channel's
 * config table, each KEY_env replaced by KEY = the environment variable's
 * value).  Fails, with ERR naming the channel and key, when an adapter
 * cannot be found or loaded, does not return a table with a `request`
 * function, or a KEY_env names an unset variable.  NULL on failure. */
adapters *adapters_open(const channel_config *channels, int count, char *err,
                        size_t err_len);
void adapters_close(adapters *a);

/* What CHANNEL's adapter sends to: the profile field of its `address`
 * ("email", "phone", or a trait name such as "fcm_token"), or NULL when it
 * needs none (webhook, slack) or CHANNEL has no adapter here. */
const char *adapters_address(const adapters *a, const char *channel);

/* 1 when CHANNEL's adapter sends email (its `email = true`): it gets a
 * subject, an HTML part and, for marketing, the unsubscribe link. */
int adapters_is_email(const adapters *a, const char *channel);

/* Calls CHANNEL's adapter request(msg, cfg) under the sandbox's limits and
 * fills OUT from the table it returns (see docs/delivery.md#adapters).
 * 0, or -1 with ERR (the adapter's file and line, or the field that is
 * wrong); OUT is then zeroed. */
int adapters_request(adapters *a, const char *channel, const adapter_message *m,
                     send_request *out, char *err, size_t err_len);

/* The verdict on R: send_judge's, then the adapter's outcome(msg, cfg,
 * resp) when it has one, which may change it (e.g. an HTTP 400 whose body
 * says the number is invalid becomes a bounce).  Always fills V. */
void adapters_outcome(adapters *a, const char *channel, const adapter_message *m,
                      int kind, const send_response *r, send_verdict *v);

#endif
