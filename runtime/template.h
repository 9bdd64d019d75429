/* Message templates: a small Mustache subset ({{var}}, {{a.b}}, {{{raw}}},
 * {{#section}}, {{^inverted}}, {{! comment}}) rendered over cJSON data, the
 * names a template needs (for `nudge check`), and where template files live.
 * Plain C: no Lua, no database.  The syntax is documented in docs/templates.md. */
#ifndef NUDGE_TEMPLATE_H
#define NUDGE_TEMPLATE_H
#include <stddef.h>

struct cJSON;

#define TEMPLATE_MAX_DEPTH 32             /* sections nested inside each other */
#define TEMPLATE_MAX_OUTPUT (1024 * 1024) /* bytes of rendered text */
#define TEMPLATE_MAX_NAME 128             /* bytes of one tag's name */
#define TEMPLATE_MAX_STEPS 10000000L      /* tags visited, loops included */

/* Renders TEXT with DATA (an object; NULL = no vars).  {{name}} is looked up
 * in the innermost section's value first, then outward to DATA; {{a.b.c}}
 * looks up `a` that way and then b and c inside it.  With HTML_ESCAPE,
 * {{name}} escapes & < > " ' ({{{name}}} and {{& name}} never do).
 * Numbers print as JSON does, null as nothing, booleans as true/false.
 * 0 with *OUT malloc'd (NUL-terminated; the caller frees), or -1 with a
 * message in ERR that starts "line N: " where the line is known: a variable
 * with no value, a list or object printed as a variable, a syntax error,
 * output over TEMPLATE_MAX_OUTPUT, too much work, out of memory. */
int template_render(const char *text, const struct cJSON *data, int html_escape,
                    char **out, char *err, size_t err_len);

/* Checks TEXT's syntax and calls FN once per name a tag uses, in order
 * (variables and section names; not comments, closing tags or {{.}}).
 * IN_SECTION is 1 when the tag sits inside a section, where the name may
 * come from the section's value rather than from the message's vars.
 * FN is called only when the whole template is valid.  0, or -1 with a
 * "line N: ..." message in ERR. */
int template_names(const char *text,
                   void (*fn)(void *ctx, const char *name, int line, int in_section),
                   void *ctx, char *err, size_t err_len);

/* "RECIPE_DIR/templates/NAME.CHANNEL.EXT", malloc'd (the caller frees).
 * NULL when NAME, CHANNEL or EXT is empty, contains "/", "\" or "..",
 * starts with "." or holds a character other than letters, digits, "_",
 * "-" and "."; or on out of memory.  An empty RECIPE_DIR means ".". */
char *template_path(const char *recipe_dir, const char *name, const char *channel,
                    const char *ext);

#endif
