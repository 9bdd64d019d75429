/* Whole files as text (textfile.h). */
#include "textfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *textfile_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t used = 0, cap = 4096;
    char *text = f ? malloc(cap) : NULL;
    while (text) {
        used += fread(text + used, 1, cap - 1 - used, f);
        if (used < cap - 1) break; /* the end, or an error: ferror says */
        char *bigger = realloc(text, cap *= 2);
        if (!bigger) free(text);
        text = bigger;
    }
    int failed = !text || ferror(f), saved = text ? errno : ENOMEM;
    if (f) fclose(f);
    if (failed) {
        free(text);
        if (f) errno = saved;
        return NULL;
    }
    text[used] = 0;
    if (len) *len = used;
    return text;
}

int textfile_is_recipe(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".lua") &&
           (n < 9 || strcmp(name + n - 9, "_test.lua"));
}
