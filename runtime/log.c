/* Leveled logging to stderr, text or JSON lines. */
#include "log.h"

#include <cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static enum log_level current_level = LOG_WARN;
static int json_format;

void log_set_level(enum log_level level)
{
    current_level = level;
}

void log_set_json(int on)
{
    json_format = on;
}

int log_enabled(enum log_level level)
{
    return level <= current_level;
}

static const char *level_names[] = {"error", "warning", "info", "debug"};

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level)) return;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!json_format) {
        fprintf(stderr, "nudge: %s%s%s\n",
                level == LOG_INFO || level == LOG_DEBUG ? "" : level_names[level],
                level == LOG_INFO || level == LOG_DEBUG ? "" : ": ", text);
        return;
    }
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "level", level_names[level]);
    cJSON_AddStringToObject(line, "msg", text);
    char *out = cJSON_PrintUnformatted(line);
    if (out) fprintf(stderr, "%s\n", out);
    free(out);
    cJSON_Delete(line);
}
