/* `nudge serve`'s engine thread: it reads the inbox's rows that have not
 * run (serve_inbox.c writes them), runs their events, the due timers and
 * the jobs waiting (consent statements) in one transaction that also moves
 * meta `inbox_done`, commits, wakes the jobs, and kicks the delivery
 * thread; between batches it fires timers on time and reloads on SIGHUP.
 * A store error stops the service: the requests in hand get a 503, and a
 * restart picks up from the last commit (the rows after it run again). */
#include "serve.h"

#include "audience.h"
#include "log.h"
#include "timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One transaction: the due timers, the inbox rows read, then the jobs. */
static int run_batch(serve_state *sv, const inbox_batch *in, intake_request *jobs)
{
    run_state *r = &sv->run;
    long duplicates = r->stats.events_duplicate;
    int rc = store_begin(r->store);
    if (!rc) rc = engine_advance(r->engine, time_wall_ms());
    for (int i = 0; i < in->count && !rc; i++)
        rc = engine_event(r->engine, &in->events[i]);
    if (!rc && in->row_count) rc = store_meta_set(r->store, "inbox_done", in->last_id);
    for (intake_request *q = jobs; q && !rc; q = q->next)
        rc = q->job(q->job_ctx, r->store);
    if (!rc) rc = engine_checkpoint(r->engine);
    if (!rc) rc = store_commit(r->store);
    if (rc) return store_rollback(r->store), -1;
    r->stats.events_accepted += in->count - (r->stats.events_duplicate - duplicates);
    if (in->row_count) {
        __atomic_store_n(&sv->inbox_done, in->last_id, __ATOMIC_RELEASE);
        __atomic_sub_fetch(&sv->backlog, in->count, __ATOMIC_ACQ_REL);
    }
    return 0;
}

/* The delivery thread, for the current config. */
static int start_delivery(serve_state *sv)
{
    run_state *r = &sv->run;
    r->deliverer =
        deliverer_start(r->store, sv->c->db_path, sv->c->outbox_path, &r->guard, &r->rates,
                        r->senders);
    return r->deliverer ? 0 : -1;
}

static void stop_delivery(serve_state *sv, int wait_for_retries)
{
    deliver_counts counts = {0, 0, 0};
    if (!sv->run.deliverer) return;
    if (!wait_for_retries) deliverer_skip_retry_wait(sv->run.deliverer);
    if (deliverer_finish(sv->run.deliverer, &counts))
        log_error("serve: the delivery thread failed; undelivered messages stay queued");
    run_add_counts(&sv->run, &counts);
    sv->run.deliverer = NULL;
}

/* Applies a new config, whose senders are tried first, so a bad one
 * changes nothing.  The senders point into the config: they are opened
 * again on the config's final place. */
static int swap_config(serve_state *sv, config *fresh)
{
    cli *c = sv->c;
    run_state *r = &sv->run;
    char err[800];
    deliver_senders *trial = NULL;
    if (deliver_senders_open(fresh->channels, fresh->channel_count, r->privacy, r->store,
                             &trial, err, sizeof err))
        return log_error("reload: %s; keeping the old config", err), -1;
    deliver_senders_close(trial);
    if (sv->old_config_count == SERVE_MAX_CONFIGS)
        return log_error("reload: too many reloads; restart the service"), -1;
    stop_delivery(sv, 0);
    deliver_senders_close(r->senders);
    r->senders = NULL;
    sv->old_configs[sv->old_config_count++] = c->cfg; /* the engine may point into it */
    c->cfg = *fresh;
    if (deliver_senders_open(c->cfg.channels, c->cfg.channel_count, r->privacy, r->store,
                             &r->senders, err, sizeof err)) {
        /* without its senders a channel would fall to the file channel */
        log_error("reload: %s; stopping (the messages wait in the outbox)", err);
        __atomic_store_n(&sv->failed, 1, __ATOMIC_RELEASE);
        return 0;
    }
    r->guard = cli_guard_config(c);
    deliver_rates_init(&r->rates, c->cfg.rates, c->cfg.rate_count);
    engine_options options = {0, c->cfg.consent_default, c->cfg.timezone, r->privacy,
                              &r->guard};
    engine_reconfigure(r->engine, options);
    return start_delivery(sv);
}

/* SIGHUP: the config again, then the recipes (new versions for new
 * entries; instances in flight keep theirs). */
static void reload(serve_state *sv)
{
    cli *c = sv->c;
    char err[800];
    config fresh;
    log_warn("reload: reading %s and the recipes again", c->config_path ? c->config_path
                                                                         : "the config");
    if (config_load(c->config_path, &fresh, err, sizeof err)) {
        log_error("reload: %s; keeping the old config", err);
        return config_free(&fresh);
    }
    free(fresh.key_file); /* the database and its key stay as they are */
    fresh.key_file = strdup(c->cfg.key_file);
    if (swap_config(sv, &fresh)) return config_free(&fresh);
    if (cli_load_recipes(c, sv->host, NULL)) {
        log_error("reload: a recipe does not load; the recipes stay as they were");
        return;
    }
    engine_clear_recipes(sv->run.engine);
    if (cli_load_recipes(c, sv->host, sv->run.engine))
        log_error("reload: the recipes could not all be made live");
}

/* One turn: the next inbox rows, the jobs they let run (or, with no
 * rows, a wait for work up to a tick), the batch.  1 when there was
 * nothing to do and the service stops, 0 to go on, -1 on a store error. */
static int engine_turn(serve_state *sv, int slicing, int *had_events)
{
    inbox_batch in;
    int64_t done = __atomic_load_n(&sv->inbox_done, __ATOMIC_ACQUIRE);
    int got = inbox_read(sv->inbox_reader, done, SERVE_BATCH_EVENTS, &in);
    if (got < 0) return -1;
    int64_t upto = got ? in.last_id : done;
    intake_request *jobs =
        intake_take(sv->jobs, got || slicing ? 0 : SERVE_TICK_MS, SERVE_BATCH_EVENTS, upto);
    if (!got && !jobs && __atomic_load_n(&sv->stop, __ATOMIC_ACQUIRE)) return 1;
    int rc = run_batch(sv, &in, jobs);
    intake_finish(sv->jobs, jobs, rc);
    *had_events = got || jobs;
    inbox_batch_free(&in);
    return rc;
}

static void *engine_main(void *arg)
{
    serve_state *sv = arg;
    int64_t last_kick = 0;
    /* answers first: the inbox writer and the request threads go before
     * this thread when both want a core; it still has every idle one */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), SERVE_ENGINE_NICE))
        log_warn("serve: cannot lower the engine thread's priority: %m");
    /* audience triggers: one slice of a due pass per loop, between batches */
    audience *audiences =
        audience_new(sv->run.store, sv->host, sv->run.engine, sv->run.privacy);
    int slicing = 0; /* a pass is under way: take requests without waiting */
    if (!audiences) log_error("serve: out of memory; audience triggers are not checked");
    for (;;) {
        if (__atomic_exchange_n(&sv->reload, 0, __ATOMIC_ACQ_REL)) reload(sv);
        if (__atomic_load_n(&sv->failed, __ATOMIC_ACQUIRE)) break;
        int had_events = 0, rc = engine_turn(sv, slicing, &had_events);
        if (rc == 1) break;
        if (!rc && audiences)
            rc = (slicing = audience_slice(audiences, time_wall_ms())) < 0;
        if (rc) {
            log_error("serve: the store failed; stopping (acknowledged events are safe)");
            __atomic_store_n(&sv->failed, 1, __ATOMIC_RELEASE);
            break;
        }
        int64_t now = time_wall_ms();
        if ((had_events || now - last_kick >= 1000) && sv->run.deliverer) {
            deliverer_kick(sv->run.deliverer, now);
            last_kick = now;
        }
    }
    audience_free(audiences);
    __atomic_store_n(&sv->healthy, 0, __ATOMIC_RELEASE);
    return NULL;
}

int serve_engine_start(serve_state *sv)
{
    if (!(sv->jobs = intake_new()) || serve_inbox_start(sv) || start_delivery(sv))
        return -1;
    __atomic_store_n(&sv->healthy, 1, __ATOMIC_RELEASE);
    if (pthread_create(&sv->engine_thread, NULL, engine_main, sv)) {
        log_error("cannot start the engine thread");
        return -1;
    }
    sv->engine_started = 1;
    return 0;
}

/* The writer first (every acknowledged event is in the inbox), then the
 * engine thread once the inbox has run, then delivery. */
int serve_engine_stop(serve_state *sv)
{
    if (!sv->jobs) return -1;
    serve_inbox_stop(sv);
    intake_close(sv->jobs);
    __atomic_store_n(&sv->stop, 1, __ATOMIC_RELEASE);
    if (sv->engine_started) pthread_join(sv->engine_thread, NULL);
    sv->engine_started = 0;
    serve_inbox_finish(sv);
    /* jobs that came after the last batch (none once the server has
     * stopped) are refused */
    intake_request *late;
    while ((late = intake_take(sv->jobs, 0, SERVE_BATCH_EVENTS, INT64_MAX)))
        intake_finish(sv->jobs, late, -1);
    stop_delivery(sv, 0);
    return __atomic_load_n(&sv->failed, __ATOMIC_ACQUIRE) ? -1 : 0;
}
