/* Whole files as text, and the recipe-file rule: the few file helpers the
 * commands and the runtime share. */
#ifndef NUDGE_TEXTFILE_H
#define NUDGE_TEXTFILE_H
#include <stddef.h>

/* The bytes of PATH, malloc'd and NUL-terminated (*LEN, may be NULL, gets
 * their count).  NULL with errno set when it cannot be read. */
char *textfile_read(const char *path, size_t *len);

/* 1 when NAME (a file name) is a recipe: "*.lua" but not "*_test.lua". */
int textfile_is_recipe(const char *name);

#endif
