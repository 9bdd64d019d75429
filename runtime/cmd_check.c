/* `nudge check`: loads and validates recipes and the templates their
 * j:send calls use, then shows how many journey instances sit at each step
 * of each recipe version. */
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

/* ---- templates: the recipe files cli_load_recipes loaded ------------------ */

typedef struct template_pass {
    const config *cfg;
    host *host; /* the recipes, loaded: their own templates */
    char **folders; /* recipe folders whose templates/ was checked already */
    int folder_count;
    int errors;
} template_pass;

/* 1 the first time a recipe of PATH's folder is seen (its templates/ are
 * then checked once for all the recipes there). */
static int first_in_folder(template_pass *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    for (int i = 0; i < p->folder_count; i++)
        if (strlen(p->folders[i]) == len && !strncmp(p->folders[i], path, len)) return 0;
    char *folder = strndup(path, len);
    char **grown =
        folder ? realloc(p->folders, (p->folder_count + 1) * sizeof *grown) : NULL;
    if (!grown)
        return free(folder), 1; /* out of memory: check it again rather than never */
    p->folders = grown;
    p->folders[p->folder_count++] = folder;
    return 1;
}

static void check_recipe_file(template_pass *p, const char *path)
{
    char *source = textfile_read(path, NULL);
    if (!source) {
        log_error("cannot read %s: %m", path);
        p->errors++;
        return;
    }
    char err[800];
    recipe *r = host_load_file(p->host, path, err, sizeof err); /* loaded already */
    const char *inline_json = r ? r->templates_json : NULL;
    p->errors += first_in_folder(p, path)
                     ? check_recipe_templates(path, source, inline_json, p->cfg, stderr)
                     : check_recipe_sends(path, source, inline_json, p->cfg, stderr);
    free(source);
}

static void check_folder_recipes(template_pass *p, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (textfile_is_recipe(names[i]->d_name)) check_recipe_file(p, path);
        free(names[i]);
    }
    if (n >= 0) free(names);
}

/* The template problems of the recipes named as cli_load_recipes reads
 * them (printed on stderr); the number of errors. */
static int check_templates(cli *c, host *h)
{
    const char **paths = c->args;
    int count = c->arg_count;
    template_pass p = {&c->cfg, h, NULL, 0, 0};
    if (!count)
        paths = (const char **)c->cfg.recipe_dirs, count = c->cfg.recipe_dir_count;
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
            check_folder_recipes(&p, paths[i]);
        else
            check_recipe_file(&p, paths[i]);
    }
    for (int i = 0; i < p.folder_count; i++)
        free(p.folders[i]);
    free(p.folders);
    return p.errors;
}

int cmd_check(cli *c)
{
    char err[600];
    store *s;
    if (store_open(c->db_path, &s, err, sizeof err))
        return log_error("%s", err), EXIT_FAILURE_RUNTIME;
    host *h = host_new(s, c->cfg.limits);
    int rc = cli_load_recipes(c, h, NULL) ? EXIT_USAGE : EXIT_OK;
    if (rc == EXIT_OK && check_templates(c, h)) rc = EXIT_USAGE;
    if (rc == EXIT_OK) {
        printf("recipes ok\n");
        print_census(s);
    }
    host_free(h);
    store_close(s);
    return rc;
}
