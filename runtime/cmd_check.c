/* `nudge check`: loads and validates recipes, the templates their j:send
 * calls use and what the lints can tell (check_lints.h), then shows how
 * many journey instances sit at each step of each recipe version. */
#include "check_lints.h"
#include "check_templates.h"
#include "cli.h"
#include "log.h"
#include "textfile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *state_names[] = {"running", "waiting", "completed", "exited",
                                    "failed"};

static void print_row(void *ctx, const census_row *row)
{
    int *rows = ctx;
    char step[256] = "-";
    if (!(*rows)++)
        printf("%-24s %-12s %-10s %-44s %8s\n", "journey", "version", "state", "step",
               "count");
    if (row->pending_kind && row->pending_kind[0])
        snprintf(step, sizeof step, "j:%s at %s:%d", row->pending_kind,
                 row->path ? row->path : "?", row->pending_line);
    printf("%-24s %-12s %-10s %-44s %8lld\n", row->journey, row->version,
           row->state >= 0 && row->state <= 4 ? state_names[row->state] : "?", step,
           (long long)row->count);
}

static void print_census(store *s)
{
    int rows = 0;
    store_instance_census(s, print_row, &rows);
    if (!rows) printf("no journey instances yet\n");
}

/* ---- the recipe files cli_load_recipes loaded: templates and lints -------- */

typedef struct check_pass {
    const config *cfg;
    host *host;     /* the recipes, loaded: their own templates, triggers and goals */
    char **folders; /* recipe folders whose templates/ was checked already */
    int folder_count;
    char **paths;          /* the recipe files, in the order cli_load_recipes read them */
    recipe **recipes;      /* each path's recipe (NULL if it did not load) */
    const char **triggers; /* each recipe's trigger event */
    int path_count;
    lint_context lints;
    int errors, warnings;
} check_pass;

/* Appends a copy of the LEN bytes of TEXT to *LIST.  0, or -1 when out of
 * memory. */
static int push_copy(char ***list, int *count, const char *text, size_t len)
{
    char *copy = strndup(text, len);
    char **grown = copy ? realloc(*list, (size_t)(*count + 1) * sizeof *grown) : NULL;
    if (!grown) return free(copy), -1;
    *list = grown;
    (*list)[(*count)++] = copy;
    return 0;
}

static void free_list(char **list, int count)
{
    for (int i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

/* 1 the first time a recipe of PATH's folder is seen (its templates/ are
 * then checked once for all the recipes there). */
static int first_in_folder(check_pass *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    for (int i = 0; i < p->folder_count; i++)
        if (strlen(p->folders[i]) == len && !strncmp(p->folders[i], path, len)) return 0;
    /* out of memory: the folder is checked again next time, rather than never */
    push_copy(&p->folders, &p->folder_count, path, len);
    return 1;
}

static void check_recipe_file(check_pass *p, int index)
{
    const char *path = p->paths[index];
    char *source = textfile_read(path, NULL);
    if (!source) {
        log_error("cannot read %s: %m", path);
        p->errors++;
        return;
    }
    recipe *r = p->recipes[index];
    const char *inline_json = r ? r->templates_json : NULL;
    p->errors += first_in_folder(p, path)
                     ? check_recipe_templates(path, source, inline_json, p->cfg, stderr)
                     : check_recipe_sends(path, source, inline_json, p->cfg, stderr);
    p->errors += check_recipe_lints(&p->lints, path, source, r, &p->warnings);
    free(source);
}

/* Adds the recipe files of PATH (a file, or a folder's recipes) to P. */
static int add_paths(check_pass *p, const char *path)
{
    struct stat st;
    struct dirent **names;
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        return push_copy(&p->paths, &p->path_count, path, strlen(path));
    int n = scandir(path, &names, NULL, alphasort), rc = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
        if (!rc && textfile_is_recipe(names[i]->d_name))
            rc = push_copy(&p->paths, &p->path_count, file, strlen(file));
        free(names[i]);
    }
    if (n >= 0) free(names);
    return rc;
}

/* Each path's recipe, as loaded already, and its trigger event. */
static int find_recipes(check_pass *p)
{
    char err[800];
    p->recipes = calloc((size_t)p->path_count + 1, sizeof *p->recipes);
    p->triggers = calloc((size_t)p->path_count + 1, sizeof *p->triggers);
    if (!p->recipes || !p->triggers) return -1;
    for (int i = 0; i < p->path_count; i++) {
        p->recipes[i] = host_load_file(p->host, p->paths[i], err, sizeof err);
        p->triggers[i] = p->recipes[i] ? p->recipes[i]->trigger_event : NULL;
    }
    p->lints.triggers = p->triggers;
    p->lints.trigger_count = p->path_count;
    return 0;
}

/* --events FILE: the event names it holds, for the wait_for lint. */
static int read_sample(const cli *c, event_sample *sample)
{
    int from_stdin = !strcmp(c->events_path, "-");
    FILE *in = from_stdin ? stdin : fopen(c->events_path, "r");
    if (!in)
        return log_error("cannot open events file %s: %m (give --events a file of "
                         "sample events, or leave it out)",
                         c->events_path),
               -1;
    int rc = check_sample_read(in, from_stdin ? "stdin" : c->events_path, sample);
    if (!from_stdin) fclose(in);
    return rc;
}

/* The template problems and lints of the recipes named as cli_load_recipes
 * reads them (printed on stderr); the number of errors (warnings do not
 * count). */
static int check_recipes(cli *c, host *h)
{
    const char **paths = c->args;
    int count = c->arg_count, rc = 0;
    event_sample sample = {NULL, 0, 0};
    check_pass p = {.cfg = &c->cfg, .host = h};
    p.lints =
        (lint_context){.cfg = &c->cfg, .sample_label = c->events_path, .out = stderr};
    if (!count)
        paths = (const char **)c->cfg.recipe_dirs, count = c->cfg.recipe_dir_count;
    for (int i = 0; !rc && i < count; i++)
        rc = add_paths(&p, paths[i]);
    if (!rc) rc = find_recipes(&p);
    if (rc) log_error("out of memory checking the recipes");
    if (!rc && c->events_path) {
        rc = read_sample(c, &sample);
        p.lints.sample = &sample;
        if (!strcmp(c->events_path, "-")) p.lints.sample_label = "stdin";
    }
    for (int i = 0; !rc && i < p.path_count; i++)
        check_recipe_file(&p, i);
    free_list(p.folders, p.folder_count);
    free_list(p.paths, p.path_count);
    free(p.recipes);
    free(p.triggers);
    check_sample_free(&sample);
    return rc ? 1 : p.errors;
}

int cmd_check(cli *c)
{
    char err[600];
    store *s;
    if (store_open(c->db_path, &s, err, sizeof err))
        return log_error("%s", err), EXIT_FAILURE_RUNTIME;
    host *h = host_new(s, c->cfg.limits);
    int rc = cli_load_recipes(c, h, NULL) ? EXIT_USAGE : EXIT_OK;
    if (rc == EXIT_OK && check_recipes(c, h)) rc = EXIT_USAGE;
    if (rc == EXIT_OK) {
        printf("recipes ok\n");
        print_census(s);
    }
    host_free(h);
    store_close(s);
    return rc;
}
