/* `nudge check`: loads and validates recipes, then shows how many journey
 * instances sit at each step of each recipe version. */
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

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

int cmd_check(cli *c)
{
    char err[600];
    store *s;
    if (store_open(c->db_path, &s, err, sizeof err))
        return log_error("%s", err), EXIT_FAILURE_RUNTIME;
    host *h = host_new(s, c->cfg.limits);
    int rc = cli_load_recipes(c, h, NULL) ? EXIT_USAGE : EXIT_OK;
    if (rc == EXIT_OK) {
        printf("recipes ok\n");
        print_census(s);
    }
    host_free(h);
    store_close(s);
    return rc;
}
