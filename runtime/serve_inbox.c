/* `nudge serve`'s inbox writer: it takes every event request waiting in
 * the intake, writes each as one row of the inbox (inbox.h) in one
 * transaction, wakes the requests and kicks the engine thread.  So a 200
 * waits for one small commit in DB.inbox, never for the journeys.  It
 * also deletes the rows the engine thread has run, and refuses requests
 * (503) that would bring the events acknowledged and not yet run over
 * server.backlog (SERVE_BACKLOG_MAX by default). */
#include "serve.h"

#include "log.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* One group commit: the rows that ran are deleted, then each request
 * becomes the next row.  *LAST is the last row written. */
static int write_rows(serve_state *sv, intake_request *list, int64_t *pruned,
                      int64_t *last)
{
    inbox *b = sv->inbox_writer;
    int64_t id = *last, done = __atomic_load_n(&sv->inbox_done, __ATOMIC_ACQUIRE);
    int rc = inbox_begin(b);
    if (!rc && done > *pruned) rc = inbox_prune(b, done);
    for (intake_request *q = list; q && !rc; q = q->next) {
        size_t len = 0;
        void *packed = inbox_pack(q->events, q->count, &len);
        rc = packed ? inbox_add(b, ++id, packed, len, q->count) : -1;
        if (packed) sodium_memzero(packed, len);
        free(packed);
    }
    if (!rc) rc = inbox_commit(b);
    if (rc) return inbox_rollback(b), -1;
    if (done > *pruned) *pruned = done;
    *last = id;
    return 0;
}

static long events_in(const intake_request *list)
{
    long n = 0;
    for (; list; list = list->next)
        n += list->count;
    return n;
}

/* Writes LIST (or refuses it) and wakes its requests. */
static void take_in(serve_state *sv, intake_request *list, int64_t *pruned)
{
    long events = events_in(list);
    int64_t backlog = __atomic_load_n(&sv->backlog, __ATOMIC_ACQUIRE); /* never starves */
    int64_t last = __atomic_load_n(&sv->inbox_committed, __ATOMIC_ACQUIRE);
    int rc = -1;
    if (__atomic_load_n(&sv->failed, __ATOMIC_ACQUIRE))
        rc = -1; /* the engine has stopped: a 503 rather than a growing inbox */
    else if (backlog > 0 && backlog + events > sv->backlog_max)
        rc = SERVE_BUSY;
    else if ((rc = write_rows(sv, list, pruned, &last)) == 0)
        __atomic_add_fetch(&sv->backlog, events, __ATOMIC_ACQ_REL);
    if (rc == 0) __atomic_store_n(&sv->inbox_committed, last, __ATOMIC_RELEASE);
    intake_finish(sv->intake, list, rc);
    if (rc == 0) intake_kick(sv->jobs);
}

/* Deletes the rows up to DONE (those that ran) in one transaction. */
static int prune_to(inbox *b, int64_t done)
{
    if (inbox_begin(b) || inbox_prune(b, done) || inbox_commit(b))
        return inbox_rollback(b), -1;
    return 0;
}

/* Between requests: the rows that ran go. */
static void prune_idle(serve_state *sv, int64_t *pruned)
{
    int64_t done = __atomic_load_n(&sv->inbox_done, __ATOMIC_ACQUIRE);
    if (done > *pruned && prune_to(sv->inbox_writer, done) == 0) *pruned = done;
}

static void *writer_main(void *arg)
{
    serve_state *sv = arg;
    int64_t pruned = 0;
    for (;;) {
        intake_request *list =
            intake_take(sv->intake, SERVE_TICK_MS, SERVE_BATCH_EVENTS, INT64_MAX);
        /* the intake is closed before the stop: one last look is final */
        if (!list && __atomic_load_n(&sv->writer_stop, __ATOMIC_ACQUIRE) &&
            !(list = intake_take(sv->intake, 0, SERVE_BATCH_EVENTS, INT64_MAX)))
            break;
        if (list)
            take_in(sv, list, &pruned);
        else
            prune_idle(sv, &pruned);
    }
    return NULL;
}

/* 1 when the first row after DONE opens with the inbox's key. */
static int first_row_opens(inbox *b, int64_t done)
{
    inbox_batch first;
    int got = inbox_read(b, done, 1, &first);
    if (got > 0) inbox_batch_free(&first);
    return got > 0;
}

/* DB.inbox's two connections, and where the engine left off.  The rows
 * that ran are deleted at once, so a database made again from nothing
 * finds no row of the old one's. */
static int open_inbox(serve_state *sv)
{
    char path[4200], err[600];
    unsigned char key[VAULT_KEY_LEN];
    int64_t done = 0;
    snprintf(path, sizeof path, "%s.inbox", sv->c->db_path);
    if (privacy_inbox_key(sv->run.privacy, sv->run.store, key)) return -1;
    sv->inbox_writer = inbox_open(path, key, err, sizeof err);
    if (sv->inbox_writer) sv->inbox_reader = inbox_open(path, key, err, sizeof err);
    sodium_memzero(key, sizeof key);
    if (!sv->inbox_reader) return log_error("%s", err), -1;
    if (store_meta_get(sv->run.store, "inbox_done", &done) < 0) return -1;
    int64_t last = inbox_last_id(sv->inbox_writer);
    int64_t waiting = inbox_events_after(sv->inbox_writer, done);
    if (last < 0 || waiting < 0 || prune_to(sv->inbox_writer, done)) return -1;
    if (waiting && !first_row_opens(sv->inbox_reader, done))
        return log_error("%s: its %lld waiting events do not open with this database's "
                         "key, so it belongs to another database (was %s replaced?) or "
                         "is damaged; move it aside to start without them",
                         path, (long long)waiting, sv->c->db_path),
               -1;
    sv->inbox_done = done;
    sv->inbox_committed = last > done ? last : done; /* ids never go back */
    sv->backlog = waiting;
    sv->backlog_max =
        sv->c->cfg.server_backlog ? sv->c->cfg.server_backlog : SERVE_BACKLOG_MAX;
    if (waiting)
        log_warn("serve: %lld acknowledged events wait in %s; they run first",
                 (long long)waiting, path);
    return 0;
}

int serve_inbox_start(serve_state *sv)
{
    if (open_inbox(sv) || !(sv->intake = intake_new())) return -1;
    if (pthread_create(&sv->writer_thread, NULL, writer_main, sv))
        return log_error("cannot start the inbox writer thread"), -1;
    sv->writer_started = 1;
    return 0;
}

void serve_inbox_finish(serve_state *sv)
{
    if (sv->inbox_writer && !sv->writer_started)
        prune_to(sv->inbox_writer, __atomic_load_n(&sv->inbox_done, __ATOMIC_ACQUIRE));
}

void serve_inbox_stop(serve_state *sv)
{
    if (sv->intake) intake_close(sv->intake);
    __atomic_store_n(&sv->writer_stop, 1, __ATOMIC_RELEASE);
    if (sv->writer_started) pthread_join(sv->writer_thread, NULL);
    sv->writer_started = 0;
}
