/* `nudge test [FILE|DIR ...]`: runs the recipe tests (*_test.lua), each
 * case in a world of its own (test_kit.c) under a virtual clock.  Prints
 * "ok - FILE: CASE", or "not ok - FILE: CASE: what was expected, what
 * happened" followed by the story so far and the messages captured; the
 * last line is "N passed, N failed". */
#include "cli.h"
#include "log.h"
#include "test_kit.h"
#include "textfile.h"
#include "timeutil.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEST_SUFFIX "_test.lua"
#define STORY_PEOPLE 5 /* stories told for one failing case, at most */
#define WHY_LEN 2000

typedef struct paths {
    char **items;
    int count;
} paths;

typedef struct totals {
    int passed, failed;
} totals;

static int test_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int test_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nudge: test: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: nudge test [FILE|DIR ...]   (default: the *_test.lua files in the "
          "config's recipe folders)\n",
          stderr);
    return EXIT_USAGE;
}

static int ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n > m && !strcmp(name + n - m, suffix);
}

/* Adds a copy of PATH unless it is there already (the same file, when
 * SAME_FILE: by its real path).  0, or -1 when out of memory. */
static int paths_add(paths *p, const char *path, int same_file)
{
    char real[PATH_MAX], other[PATH_MAX];
    for (int i = 0; i < p->count; i++)
        if (!strcmp(p->items[i], path) ||
            (same_file && realpath(path, real) && realpath(p->items[i], other) &&
             !strcmp(real, other)))
            return 0;
    char **grown = realloc(p->items, (size_t)(p->count + 1) * sizeof *grown);
    if (!grown) return -1;
    p->items = grown;
    return (p->items[p->count] = strdup(path)) ? (p->count++, 0) : -1;
}

static void paths_free(paths *p)
{
    for (int i = 0; i < p->count; i++)
        free(p->items[i]);
    free(p->items);
    p->items = NULL, p->count = 0;
}

/* The files of DIR, in name order, that PICK accepts.  0, or -1. */
static int add_folder(paths *p, const char *dir, int (*pick)(const char *name))
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), rc = n < 0 ? -1 : 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (!rc && pick(names[i]->d_name)) rc = paths_add(p, path, 1);
        free(names[i]);
    }
    if (n >= 0) free(names);
    return rc;
}

static int is_test_file(const char *name)
{
    return ends_with(name, TEST_SUFFIX);
}

/* A FILE or DIR of the command line: a test file, a folder of them, or a
 * recipe whose test file is beside it. */
static int add_argument(paths *tests, const char *arg)
{
    struct stat st;
    char beside[4096];
    if (stat(arg, &st)) return test_usage("%s: no such test file or folder", arg);
    if (S_ISDIR(st.st_mode))
        return add_folder(tests, arg, is_test_file)
                   ? test_usage("cannot read the folder %s: %m", arg)
                   : EXIT_OK;
    if (is_test_file(arg))
        return paths_add(tests, arg, 1) ? EXIT_FAILURE_RUNTIME : EXIT_OK;
    if (!ends_with(arg, ".lua"))
        return test_usage("%s is not a test file (test files end in %s)", arg,
                          TEST_SUFFIX);
    snprintf(beside, sizeof beside, "%.*s%s", (int)strlen(arg) - 4, arg, TEST_SUFFIX);
    if (access(beside, R_OK))
        return test_usage(
            "%s is a recipe; its tests would be in %s, which does not exist "
            "(see \"Testing recipes\" in the README)",
            arg, beside);
    return paths_add(tests, beside, 1) ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}

/* The test files to run: those named, else those of the config's recipe
 * folders.  An exit code. */
static int collect(const cli *c, paths *tests)
{
    int rc = EXIT_OK;
    for (int i = 0; rc == EXIT_OK && i < c->arg_count; i++)
        rc = add_argument(tests, c->args[i]);
    if (!c->arg_count && !c->cfg.recipe_dir_count)
        return test_usage(
            "no test file named, and the config names no recipe folder: run "
            "`nudge test recipes/` (or set recipes = { \"recipes\" } in "
            "nudge.conf.lua)");
    for (int i = 0; rc == EXIT_OK && !c->arg_count && i < c->cfg.recipe_dir_count; i++)
        if (add_folder(tests, c->cfg.recipe_dirs[i], is_test_file))
            rc = test_usage("cannot read the recipe folder %s (from the config): %m",
                            c->cfg.recipe_dirs[i]);
    if (rc == EXIT_OK && !tests->count)
        rc =
            test_usage("no test files (*%s) found: write one beside the recipe it tests, "
                       "e.g. recipes/cart_abandonment%s",
                       TEST_SUFFIX, TEST_SUFFIX);
    return rc;
}

static int pick_recipe(const char *name)
{
    return textfile_is_recipe(name);
}

/* The recipes TEST tests: X.lua beside X_test.lua, else every recipe of
 * its folder; then those its t.recipe calls name. */
static int recipes_of(const char *test, const l_test_file *f, paths *out)
{
    char beside[4096], dir[4096];
    const char *slash = strrchr(test, '/');
    int rc = 0;
    snprintf(beside, sizeof beside, "%.*s.lua", (int)(strlen(test) - strlen(TEST_SUFFIX)),
             test);
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - test) : 1,
             slash ? test : ".");
    if (!access(beside, R_OK))
        rc = paths_add(out, beside, 1);
    else
        rc = add_folder(out, dir, pick_recipe);
    for (int i = 0; !rc && i < l_test_recipe_count(f); i++)
        rc = paths_add(out, l_test_recipe(f, i), 1);
    return rc;
}

/* ---- reporting ---------------------------------------------------------- */

/* TEXT on one line: newlines and tabs become spaces. */
static void flatten(char *text)
{
    for (char *p = text; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

static void print_indented(const char *text, const char *indent)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (n) printf("%s%.*s", indent, (int)n, text);
        printf("\n");
        text += n + (text[n] == '\n');
    }
}

static void print_messages(test_kit *k)
{
    const kit_message *m;
    int count = kit_captured(k, &m);
    printf("    %s\n",
           count ? "messages captured so far:" : "no message was captured so far");
    for (int i = 0; i < count; i++) {
        char at[TIME_ISO_LEN], text[100] = "";
        const char *body = m[i].text ? m[i].text : m[i].html ? m[i].html : m[i].subject;
        time_format_iso8601(m[i].at_ms, at);
        if (body)
            snprintf(text, sizeof text, "%.80s%s", body, strlen(body) > 80 ? "..." : "");
        flatten(text);
        for (size_t n = strlen(text); n && text[n - 1] == ' ';)
            text[--n] = 0;
        printf("      %s  %s to %s, template %s: %s%s%s%s%s%s%s\n", at, m[i].channel,
               m[i].profile, m[i].template_name, m[i].status, m[i].reason ? " (" : "",
               m[i].reason ? m[i].reason : "", m[i].reason ? ")" : "", body ? "  \"" : "",
               text, body ? "\"" : "");
    }
}

/* The story of each person involved, as `nudge explain` tells it, then
 * the messages captured. */
static void print_story(test_kit *k)
{
    const char *const *ids;
    int count = kit_story_profiles(k, &ids);
    for (int i = 0; i < count && i < STORY_PEOPLE; i++) {
        char *text = NULL;
        size_t len = 0;
        FILE *memory = open_memstream(&text, &len);
        if (!memory) continue;
        cli_explain_print(kit_store(k), ids[i], NULL, memory);
        fclose(memory);
        printf("    the story so far, as `nudge explain %s` would tell it:\n", ids[i]);
        print_indented(text, "      ");
        free(text);
    }
    if (count > STORY_PEOPLE) printf("    (and %d more people)\n", count - STORY_PEOPLE);
    print_messages(k);
}

/* "not ok - FILE[: CASE]: WHY", on one line. */
static void print_failure(const char *file, const char *name, char *why)
{
    flatten(why);
    printf("not ok - %s%s%s: %s\n", file, name ? ": " : "", name ? name : "", why);
}

/* ---- running ------------------------------------------------------------ */

static void run_case(cli *c, l_test_file *f, int i, const paths *recipes,
                     const char *shown, totals *t)
{
    char why[WHY_LEN + 40], err[WHY_LEN];
    const char *name = l_test_case_name(f, i);
    test_kit *k = NULL;
    int opened = kit_open(c, recipes->items, recipes->count, &k, err, sizeof err) == 0;
    if (!opened) snprintf(why, sizeof why, "the case cannot start: %s", err);
    if (opened && !l_test_run_case(f, i, k, why, sizeof why)) {
        printf("ok - %s: %s\n", shown, name);
        t->passed++;
    } else {
        print_failure(shown, name, why);
        if (opened) print_story(k);
        t->failed++;
    }
    kit_close(k);
    fflush(stdout);
}

static void run_file(cli *c, const char *path, totals *t)
{
    char why[WHY_LEN];
    const char *slash = strrchr(path, '/'), *shown = slash ? slash + 1 : path;
    paths recipes = {0};
    l_test_file *f = l_test_load(path, c->cfg.limits.memory_bytes, why, sizeof why);
    if (!f) {
        snprintf(why + strlen(why), sizeof why - strlen(why),
                 " (the test file stopped "
                 "there; no case ran)");
        print_failure(shown, NULL, why), t->failed++;
    } else if (!l_test_case_count(f)) {
        snprintf(why, sizeof why,
                 "no test case: add t.case(\"what it checks\", "
                 "function(s) ... end) after local t = require \"nudge.test\"");
        print_failure(shown, NULL, why), t->failed++;
    } else if (recipes_of(path, f, &recipes) || !recipes.count) {
        snprintf(why, sizeof why,
                 "no recipe to test: put %.*s.lua beside it, or name one "
                 "with t.recipe(\"other.lua\")",
                 (int)(strlen(shown) - strlen(TEST_SUFFIX)), shown);
        print_failure(shown, NULL, why), t->failed++;
    } else {
        for (int i = 0; i < l_test_case_count(f); i++)
            run_case(c, f, i, &recipes, shown, t);
    }
    fflush(stdout);
    paths_free(&recipes);
    l_test_close(f);
}

int cmd_test(cli *c)
{
    paths tests = {0};
    totals t = {0, 0};
    int rc = collect(c, &tests);
    for (int i = 0; rc == EXIT_OK && i < tests.count; i++)
        run_file(c, tests.items[i], &t);
    if (rc == EXIT_OK) printf("%d passed, %d failed\n", t.passed, t.failed);
    paths_free(&tests);
    return rc != EXIT_OK ? rc : t.failed ? EXIT_FAILURE_RUNTIME : EXIT_OK;
}
