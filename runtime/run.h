/* What `nudge run`, `nudge tick` and `nudge serve` hold while they run:
 * the store, the engine and its host, privacy, the guardrails, and the
 * delivery side.  Opened and closed by cmd_run.c. */
#ifndef NUDGE_RUN_H
#define NUDGE_RUN_H
#include "cli.h"
#include "deliver.h"

typedef struct run_state {
    cli *c;
    store *store;
    engine *engine;
    deliverer *deliverer;     /* NULL: deliver on this thread */
    deliver_senders *senders; /* the adapters' channels; NULL: none */
    privacy *privacy;
    guard_config guard;
    deliver_rates rates; /* the channels' token buckets, for the whole run */
    engine_stats stats;
    ingest_stats ingest;
    long in_batch, seen; /* seen: events handed to the engine */
    int64_t batch_started_ns, progress_ns;
    int progress;    /* print a progress line: stderr is a terminal */
    int event_clock; /* --clock event */
} run_state;

/* Opens the store, privacy, the senders, the host and the engine, and
 * loads the recipes.  An exit code; run_close frees what was opened
 * either way. */
int run_open(run_state *r, cli *c, host **h);
void run_close(run_state *r, host *h);

/* Adds a delivery's counts to the run's. */
void run_add_counts(run_state *r, const deliver_counts *counts);

#endif
