/* `nudge check`'s look at message templates: syntax errors in the files
 * beside a recipe, j:send calls naming a template that is not there, and
 * values a template needs that the call does not pass (docs/templates.md).
 * Its Lua source scanner also serves the other lints (check_lints.h). */
#ifndef NUDGE_CHECK_TEMPLATES_H
#define NUDGE_CHECK_TEMPLATES_H
#include "config.h"
#include "template.h"

#include <stdio.h>

#define CHECK_MAX_KEYS 64     /* top-level keys of one vars table */
#define CHECK_MAX_LITERAL 256 /* bytes of a channel, template or receiver name */
#define CHECK_MAX_LITERALS 2  /* leading literal arguments kept of one call */

/* One `j:send("CHANNEL", "TEMPLATE"[, vars])` found in a recipe's source. */
typedef struct send_call {
    int line;                         /* the recipe line of `j:send` */
    char receiver[CHECK_MAX_LITERAL]; /* "j" */
    char channel[CHECK_MAX_LITERAL];
    char template_name[CHECK_MAX_LITERAL];
    int vars_known; /* 1: no vars, nil or a literal table whose keys follow */
    int key_count;
    char keys[CHECK_MAX_KEYS][TEMPLATE_MAX_NAME + 1]; /* `name =`, `["name"] =` */
} send_call;

/* Calls FN once per NAME:send(...) in the Lua SOURCE whose channel and
 * template are literal strings, in source order.  Comments, long strings
 * and the insides of strings are skipped. */
void check_find_sends(const char *source, void (*fn)(void *ctx, const send_call *call),
                      void *ctx);

/* One `NAME:METHOD(...)` call found in a recipe's source: its leading
 * arguments that are each a string literal alone (`"Order Completed"`, not
 * `"Order " .. x` nor a variable), up to CHECK_MAX_LITERALS. */
typedef struct literal_call {
    int line;                         /* the recipe line of `NAME:METHOD` */
    char receiver[CHECK_MAX_LITERAL]; /* "j" */
    int literal_count;                /* 0 when the first argument is no literal */
    char literals[CHECK_MAX_LITERALS][CHECK_MAX_LITERAL];
} literal_call;

/* Calls FN once per NAME:METHOD(...) in the Lua SOURCE (METHOD: "wait_for",
 * "send", ...), in source order, skipping comments and strings as
 * check_find_sends does. */
void check_find_calls(const char *source, const char *method,
                      void (*fn)(void *ctx, const literal_call *call), void *ctx);

/* The line of SOURCE's `journey {` (or `journey(`) outside comments and
 * strings; 1 when there is none. */
int check_journey_line(const char *source);

/* Checks the templates RECIPE_PATH's j:send calls use (SOURCE is the recipe text,
 * INLINE_JSON its journey{ templates } as JSON or NULL; those come first);
 * prints one line per problem to OUT as "FILE:LINE: message"; returns the number of
 * errors. */
int check_recipe_templates(const char *recipe_path, const char *source,
                           const char *inline_json, const config *cfg, FILE *out);

/* The two halves of check_recipe_templates, for recipes sharing a folder:
 * the syntax of every template in RECIPE_PATH's folder's templates/, and
 * the j:send calls of SOURCE.  Each returns its number of errors. */
int check_template_folder(const char *recipe_path, FILE *out);
int check_recipe_sends(const char *recipe_path, const char *source,
                       const char *inline_json, const config *cfg, FILE *out);

#endif
