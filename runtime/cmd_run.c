/* `nudge run` and `nudge tick`: ingest events through the engine in
 * batched transactions, fire due timers, deliver the outbox, and end with
 * the summary line. */
#include "cli.h"
#include "run.h"
#include "audience.h"
#include "l_modules.h"
#include "deliver.h"
#include "inbox.h"
#include "log.h"
#include "textfile.h"
#include "timeutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_EVENTS 20000
#define BATCH_NS (1000 * 1000000LL)


static int load_recipe(host *h, engine *e, const char *path)
{
    char err[800];
    recipe *r = host_load_file(h, path, err, sizeof err);
    if (!r) return log_error("%s", err), -1;
    log_info("loaded journey %s from %s (version %.12s)", r->name, path, r->hash);
    return e ? engine_add_recipe(e, r) : 0;
}

/* Every recipe file of a folder, in name order (tests and templates aside). */
static int load_folder(host *h, engine *e, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), rc = 0;
    if (n < 0) return log_error("cannot read recipe folder %s: %m", dir), -1;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (!rc && textfile_is_recipe(names[i]->d_name)) rc = load_recipe(h, e, path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int cli_open_privacy(cli *c, store *s, privacy **out)
{
    char err[800];
    privacy_options o = {.key_file = c->cfg.key_file,
                         .fields = c->cfg.pii_fields,
                         .field_count = c->cfg.pii_field_count,
                         .exposed = c->cfg.pii_exposed,
                         .exposed_count = c->cfg.pii_exposed_count};
    if (privacy_open(s, &o, out, err, sizeof err)) return log_error("%s", err), -1;
    l_pii_use(*out);
    return 0;
}

int cli_require_db(const cli *c)
{
    if (access(c->db_path, F_OK) == 0) return 0;
    log_error("no database at %s: nothing is known about anyone yet (pass --db, or run "
              "`nudge run` or `nudge profile import` first)",
              c->db_path);
    return -1;
}

guard_config cli_guard_config(const cli *c)
{
    guard_config g = {c->cfg.caps, c->cfg.cap_count, c->cfg.quiet, c->cfg.quiet_count,
                      c->cfg.consent_default};
    return g;
}

char *cli_find_profile(privacy *p, store *s, const char *given)
{
    if (strchr(given, '@')) return privacy_find(p, s, "email", given);
    if (store_profile_exists(s, given) > 0) return strdup(given);
    char *linked = store_identity_resolve(s, given);
    return linked ? linked : privacy_find(p, s, "phone", given);
}

int cli_load_recipes(cli *c, host *h, engine *e)
{
    const char **paths = c->args;
    int count = c->arg_count;
    if (!count)
        paths = (const char **)c->cfg.recipe_dirs, count = c->cfg.recipe_dir_count;
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (stat(paths[i], &st))
            return log_error("%s: no such recipe file or folder", paths[i]), -1;
        if ((S_ISDIR(st.st_mode) ? load_folder(h, e, paths[i])
                                 : load_recipe(h, e, paths[i])))
            return -1;
    }
    return 0;
}

void cli_print_summary(const cli *c, const engine_stats *st, store *s)
{
    if (c->quiet) return;
    printf(
        "events %ld accepted, %ld rejected, %ld duplicate; "
        "journeys %ld started, %ld exited, %ld completed, %ld failed, %ld waiting; "
        "messages %ld delivered, %ld suppressed, %ld deferred, %ld holdout, %ld failed\n",
        st->events_accepted, st->events_rejected, st->events_duplicate,
        st->journeys_started, st->journeys_exited, st->journeys_completed,
        st->journeys_failed, (long)store_instances_live_count(s), st->messages_delivered,
        st->sends.messages_suppressed + st->sends.messages_capped + st->messages_stopped,
        st->sends.messages_deferred, st->sends.messages_holdout, st->messages_failed);
    if (c->verbose) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        log_info("peak RSS %ld KB", ru.ru_maxrss);
    }
}

void run_add_counts(run_state *r, const deliver_counts *counts)
{
    r->stats.messages_delivered += counts->delivered;
    r->stats.messages_stopped += counts->stopped;
    r->stats.messages_failed += counts->failed;
}

/* Commits the batch in hand, delivers what it queued, opens the next. */
static int commit_batch(run_state *r, int reopen)
{
    if (engine_checkpoint(r->engine)) return -1;
    r->in_batch = 0;
    r->batch_started_ns = time_mono_ns();
    if (r->c->dry_run) return 0;
    if (store_commit(r->store)) return -1;
    deliver_options o = {r->c->outbox_path, engine_now(r->engine), &r->guard,
                         &r->rates,          r->senders,           !reopen,
                         NULL};
    deliver_counts counts = {0, 0, 0};
    if (!r->c->no_delivery && (r->deliverer ? deliverer_kick(r->deliverer, o.now_ms)
                                            : deliver_outbox(r->store, &o, &counts)))
        return -1;
    run_add_counts(r, &counts);
    if (!reopen) return 0;
    if (store_begin(r->store)) return -1;
    /* under the wall clock, timers that came due meanwhile fire first */
    return r->c->clock && !strcmp(r->c->clock, "event")
               ? 0
               : engine_advance(r->engine, time_wall_ms());
}

static void show_progress(run_state *r, int final)
{
    int64_t now = time_mono_ns();
    if (!r->progress || (!final && now - r->progress_ns < 500000000LL)) return;
    r->progress_ns = now;
    fprintf(stderr, "\r%ld events, %ld journeys started, %ld messages queued%s", r->seen,
            r->stats.journeys_started, r->stats.sends.messages_queued, final ? "\n" : "");
}

/* A run with its audience scheduler (audience.c). */
typedef struct run_job {
    run_state *run;
    audience *audience;
} run_job;

static int commit_and_continue(void *ctx)
{
    return commit_batch(ctx, 1);
}

/* The audience passes due at now_ms, committed in the run's batches;
 * catch_up (the event clock): each at its own due time. */
static int run_audiences(run_state *r, audience *a, int64_t now_ms, int catch_up)
{
    int due = audience_due(a, now_ms);
    if (due <= 0) return due;
    return audience_run(a, now_ms, catch_up, commit_and_continue, r);
}

static int on_event(void *ctx, nudge_event *ev)
{
    run_job *job = ctx;
    run_state *r = job->run;
    /* under the event clock, a pass due before the event runs first, at
     * its due time: a backtest over months checks a daily audience daily */
    int64_t clock = engine_now(r->engine);
    if (r->event_clock &&
        run_audiences(r, job->audience, ev->ts_ms > clock ? ev->ts_ms : clock, 1))
        return -1;
    if (engine_event(r->engine, ev)) return -1;
    r->seen++;
    show_progress(r, 0);
    /* under the event clock batches end by count only, so that a replay
     * delivers in the same order; under the wall clock also after 1 s */
    if (++r->in_batch >= BATCH_EVENTS ||
        (!r->event_clock && time_mono_ns() - r->batch_started_ns > BATCH_NS))
        return commit_batch(r, 1);
    return 0;
}

int run_open(run_state *r, cli *c, host **h)
{
    char err[600];
    memset(r, 0, sizeof *r);
    r->c = c;
    if (store_open(c->db_path, &r->store, err, sizeof err))
        return log_error("%s", err), EXIT_FAILURE_RUNTIME;
    if (cli_open_privacy(c, r->store, &r->privacy)) return EXIT_FAILURE_RUNTIME;
    r->guard = cli_guard_config(c);
    deliver_rates_init(&r->rates, c->cfg.rates, c->cfg.rate_count);
    if (!c->dry_run && !c->no_delivery &&
        deliver_senders_open(c->cfg.channels, c->cfg.channel_count, r->privacy, r->store,
                             &r->senders, err, sizeof err))
        return log_error("%s", err), EXIT_USAGE;
    engine_options options = {.event_clock = c->clock && !strcmp(c->clock, "event"),
                              .consent_default = c->cfg.consent_default,
                              .timezone = c->cfg.timezone,
                              .privacy = r->privacy,
                              .guard = &r->guard};
    *h = host_new(r->store, c->cfg.limits);
    r->engine = *h ? engine_new(r->store, *h, options, &r->stats) : NULL;
    if (!r->engine) return log_error("cannot start the engine"), EXIT_FAILURE_RUNTIME;
    if (cli_load_recipes(c, *h, r->engine)) return EXIT_USAGE;
    r->progress = !c->quiet && isatty(STDERR_FILENO);
    r->event_clock = options.event_clock;
    r->batch_started_ns = time_mono_ns();
    return EXIT_OK;
}

/* Events a killed `nudge serve` acknowledged run when the service starts
 * again, not here (docs/service.md): say so rather than seem to lose them. */
static void warn_inbox_waiting(run_state *r)
{
    char path[4200];
    int64_t done = 0;
    snprintf(path, sizeof path, "%s.inbox", r->c->db_path);
    if (store_meta_get(r->store, "inbox_done", &done) < 0) return;
    int64_t waiting = inbox_waiting(path, done);
    if (waiting > 0)
        log_warn("%s: %lld events nudge serve acknowledged have not run; the next "
                 "`nudge serve` on this database runs them first",
                 path, (long long)waiting);
}

void run_close(run_state *r, host *h)
{
    engine_free(r->engine);
    host_free(h);
    deliver_senders_close(r->senders);
    l_pii_use(NULL);
    privacy_free(r->privacy);
    store_close(r->store);
}

/* Reads the events, each batch in one transaction; timers due before an
 * event fire before it under the event clock.  The audiences are checked
 * at the end, at the run's clock (under an event clock that never moved,
 * there is no time to check them at). */
static int run_events(run_state *r, audience *a)
{
    run_job job = {r, a};
    cli *c = r->c;
    int event_clock = c->clock && !strcmp(c->clock, "event");
    FILE *in = stdin;
    if (c->events_path && strcmp(c->events_path, "-") &&
        !(in = fopen(c->events_path, "r")))
        return log_error("cannot open events file %s: %m", c->events_path), -1;
    const char *source =
        c->events_path && strcmp(c->events_path, "-") ? c->events_path : "stdin";
    if (!c->dry_run && !c->no_delivery &&
        !(r->deliverer =
              deliverer_start(r->store, c->db_path, c->outbox_path, &r->guard, &r->rates,
                              r->senders))) {
        if (in != stdin) fclose(in);
        return -1;
    }
    if (r->deliverer) /* it checkpoints after each round */
        store_run(r->store, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, 0);
    int rc = store_begin(r->store);
    if (!rc && !event_clock) rc = engine_advance(r->engine, time_wall_ms());
    int pii_count;
    char *const *pii = privacy_fields(r->privacy, &pii_count);
    if (!rc && c->events_path)
        rc = ingest_stream_threaded(in, source, pii, pii_count, on_event, &job,
                                    &r->ingest);
    if (!rc && !event_clock) rc = engine_advance(r->engine, time_wall_ms());
    if (!rc && (!event_clock || engine_now(r->engine) > 0))
        rc = run_audiences(r, a, engine_now(r->engine), event_clock);
    if (in != stdin) fclose(in);
    show_progress(r, 1);
    r->stats.events_accepted = r->ingest.accepted - r->stats.events_duplicate;
    r->stats.events_rejected = r->ingest.rejected;
    if (!rc) rc = commit_batch(r, 0);
    store_rollback(r->store); /* after an error, or the dry run's work */
    deliver_counts counts = {0, 0, 0};
    if (deliverer_finish(r->deliverer, &counts)) rc = -1;
    run_add_counts(r, &counts);
    r->deliverer = NULL;
    return rc;
}

int cli_run(cli *c, engine_stats *stats)
{
    run_state r;
    host *h = NULL;
    audience *a = NULL;
    int rc = run_open(&r, c, &h);
    if (rc == EXIT_OK && !(a = audience_new(r.store, h, r.engine, r.privacy)))
        rc = EXIT_FAILURE_RUNTIME;
    if (rc == EXIT_OK) {
        warn_inbox_waiting(&r);
        if (!c->arg_count && !c->cfg.recipe_dir_count)
            log_warn("no recipes named: events are stored, no journey starts");
        rc = run_events(&r, a) ? EXIT_FAILURE_RUNTIME : EXIT_OK;
        cli_print_summary(c, &r.stats, r.store);
        if (rc == EXIT_OK && c->strict && r.stats.events_rejected) rc = EXIT_REJECTED;
    }
    if (stats) *stats = r.stats;
    audience_free(a);
    run_close(&r, h);
    return rc;
}

int cmd_run(cli *c)
{
    return cli_run(c, NULL);
}

/* `nudge tick [--now TIME]`: fire what is due, check the audiences due, deliver,
 * exit. */
int cmd_tick(cli *c)
{
    run_state r;
    host *h = NULL;
    int64_t now = time_wall_ms();
    if (c->now && time_parse_iso8601(c->now, &now))
        return log_error("--now: not an ISO-8601 time: %s", c->now), EXIT_USAGE;
    if (c->now && !c->clock) c->clock = "event";
    audience *a = NULL;
    int rc = run_open(&r, c, &h);
    if (rc == EXIT_OK && !(a = audience_new(r.store, h, r.engine, r.privacy)))
        rc = EXIT_FAILURE_RUNTIME;
    if (rc == EXIT_OK) {
        warn_inbox_waiting(&r);
        rc = store_begin(r.store) || engine_advance(r.engine, now) ||
             run_audiences(&r, a, now, 0) || commit_batch(&r, 0);
        store_rollback(r.store);
        cli_print_summary(c, &r.stats, r.store);
        rc = rc ? EXIT_FAILURE_RUNTIME : EXIT_OK;
    }
    audience_free(a);
    run_close(&r, h);
    return rc;
}
