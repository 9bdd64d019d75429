/* `nudge check`: loads and validates recipes, then shows how many journey
 * instances sit at each step of each recipe version. */
#include "cli.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

static const char *state_names[] = {"running", "waiting", "completed", "exited",
                                    "failed"};

static void print_census(store *s)
{
    sqlite3_stmt *st;
    const char *sql =
        "SELECT i.journey, substr(i.version, 1, 12), v.path, i.state,"
        " coalesce(i.pending_kind, ''), i.pending_line, count(*)"
        " FROM instances i LEFT JOIN recipe_versions v ON v.hash = i.version"
        " GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 4, 6";
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return;
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!rows++)
            printf("%-24s %-12s %-10s %-44s %8s\n", "journey", "version", "state", "step",
                   "count");
        int state = sqlite3_column_int(st, 3);
        char step[256] = "-";
        if (sqlite3_column_bytes(st, 4))
            snprintf(step, sizeof step, "j:%s at %s:%d", sqlite3_column_text(st, 4),
                     sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2)
                                                : "?",
                     sqlite3_column_int(st, 5));
        printf("%-24s %-12s %-10s %-44s %8lld\n", sqlite3_column_text(st, 0),
               sqlite3_column_text(st, 1),
               state >= 0 && state <= 4 ? state_names[state] : "?", step,
               (long long)sqlite3_column_int64(st, 6));
    }
    if (!rows) printf("no journey instances yet\n");
    sqlite3_finalize(st);
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
