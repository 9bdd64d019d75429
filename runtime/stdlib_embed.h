/* The stdlib/ Lua files, compiled into the binary by tools/embed.c. */
#ifndef NUDGE_STDLIB_EMBED_H
#define NUDGE_STDLIB_EMBED_H
#include <stddef.h>

struct embedded_file {
    const char *name; /* basename without ".lua", e.g. "journey" */
    const char *text;
    int len;
};

extern const struct embedded_file nudge_stdlib[]; /* ends with name == NULL */

#endif
