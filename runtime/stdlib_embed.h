/* The stdlib/ Lua files, compiled into the binary by tools/embed.c. */
#ifndef NUDGE_STDLIB_EMBED_H
#define NUDGE_STDLIB_EMBED_H
#include <stddef.h>

struct embedded_file {
    const char *name; /* the path under stdlib/ without ".lua", "/" as ".":
                         "prelude", "channels.smtp" */
    const char *text;
    int len;
};

extern const struct embedded_file nudge_stdlib[]; /* ends with name == NULL */

#endif
