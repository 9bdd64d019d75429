/* A channel's delivery settings, read from the config's channels.NAME
 * table (config.c).  Channels the config does not name, and those whose
 * adapter is "file", go to the file channel; "stdout" prints the lines. */
#ifndef NUDGE_CHANNEL_H
#define NUDGE_CHANNEL_H
#include "guard.h"

#define CHANNEL_DEFAULT_CONCURRENCY 8
#define CHANNEL_DEFAULT_TIMEOUT_MS 10000
#define CHANNEL_DEFAULT_ATTEMPTS 6
#define CHANNEL_DEFAULT_RETRY_BASE_MS 1000
#define CHANNEL_DEFAULT_RETRY_MAX_MS 3600000

typedef struct channel_config {
    char name[GUARD_CHANNEL_MAX]; /* what recipes pass to j:send */
    char
        *adapter; /* "file", "stdout", a stdlib/channels name, or a path to a .lua file */
    char *settings_json; /* the whole channels.NAME table as a JSON object */
    int concurrency;     /* requests in flight at once */
    int timeout_ms;      /* one request, connect included */
    int max_attempts;    /* tries before the message is dead-lettered */
    int retry_base_ms;   /* the first retry's backoff; doubles each time */
    int retry_max_ms;    /* the largest backoff */
} channel_config;

#endif
