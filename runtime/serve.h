/* The parts of `nudge serve` (docs/service.md): cmd_serve.c starts and
 * stops it (lock, signals, server), serve_inbox.c is its inbox writer
 * (group commit of acknowledged events), serve_engine.c its engine thread
 * (the inbox's events, timers, delivery, reload), serve_hooks.c answers
 * the server's hooks on the request threads. */
#ifndef NUDGE_SERVE_H
#define NUDGE_SERVE_H
#include "inbox.h"
#include "intake.h"
#include "run.h"
#include "server.h"
#include "unsubscribe.h"

#include <pthread.h>

#define SERVE_BATCH_EVENTS 20000 /* events in one group commit at most */
#define SERVE_BACKLOG_MAX 200000 /* acknowledged events not yet run, at most */
#define SERVE_ENGINE_NICE 5     /* the engine thread's nice, above the others' */
#define SERVE_BUSY 1             /* a submit's result: the backlog is full, retry */
#define SERVE_TICK_MS 200        /* the engine thread wakes this often for timers */
#define SERVE_MAX_CONFIGS 64     /* reloads kept alive until the end */

typedef struct serve_state {
    cli *c;
    run_state run; /* the engine thread's: store, engine, delivery */
    host *host;
    intake *intake;      /* events, to the inbox writer */
    intake *jobs;        /* consent statements, to the engine thread */
    inbox *inbox_writer; /* the inbox writer's connection */
    inbox *inbox_reader; /* the engine thread's */
    int64_t inbox_committed; /* atomic: the last inbox row written */
    int64_t inbox_done;      /* atomic: the last row run (meta inbox_done) */
    int64_t backlog;         /* atomic: events acknowledged and not yet run */
    int64_t backlog_max;     /* server.backlog, read at the start */
    pthread_t engine_thread, writer_thread;
    int engine_started, writer_started;
    int stop;            /* atomic: end once the inbox has run */
    int writer_stop;     /* atomic: the inbox writer ends once the intake is empty */
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

/* Opens the inbox beside the database and starts its writer thread
 * (after run_open).  0, or -1 (logged). */
int serve_inbox_start(serve_state *sv);
/* Ends the writer once the intake (closed first) is empty. */
void serve_inbox_stop(serve_state *sv);
/* After the writer and the engine thread have ended: deletes the rows
 * that ran, so a clean stop leaves the inbox empty. */
void serve_inbox_finish(serve_state *sv);

/* The hooks the server calls, over SV. */
server_hooks serve_hooks(serve_state *sv);

#endif
