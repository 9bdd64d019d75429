/* The parts of `nudge serve` (docs/service.md): cmd_serve.c starts and
 * stops it (lock, signals, server), serve_engine.c is its engine thread
 * (group commit, timers, delivery, reload), serve_hooks.c answers the
 * server's hooks on the request threads. */
#ifndef NUDGE_SERVE_H
#define NUDGE_SERVE_H
#include "intake.h"
#include "run.h"
#include "server.h"
#include "unsubscribe.h"

#include <pthread.h>

#define SERVE_BATCH_EVENTS 20000 /* events in one group commit at most */
#define SERVE_TICK_MS 200        /* the engine thread wakes this often for timers */
#define SERVE_MAX_CONFIGS 64     /* reloads kept alive until the end */

typedef struct serve_state {
    cli *c;
    run_state run; /* the engine thread's: store, engine, delivery */
    host *host;
    intake *intake;
    pthread_t engine_thread;
    int engine_started;
    int stop;            /* atomic: end once the intake is empty */
    int reload;          /* atomic: SIGHUP came */
    int failed;          /* atomic: the engine thread stopped on an error */
    int healthy;         /* atomic: taking events */
    store *reader;       /* the request threads' reads (metrics, lookups) */
    store *checkpointer; /* the main thread's WAL checkpoints */
    pthread_mutex_t reader_lock;
    unsigned char unsub_key[UNSUB_KEY_LEN];
    config old_configs[SERVE_MAX_CONFIGS]; /* replaced by reloads, still pointed at */
    int old_config_count;
} serve_state;

/* Starts the engine thread (after run_open).  0, or -1 (logged). */
int serve_engine_start(serve_state *sv);
/* Ends it once the intake (closed first) is empty, then delivers what
 * is due.  0, or -1 when it had failed. */
int serve_engine_stop(serve_state *sv);

/* The hooks the server calls, over SV. */
server_hooks serve_hooks(serve_state *sv);

#endif
