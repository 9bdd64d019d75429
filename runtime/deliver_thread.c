/* Delivery on a second thread for `nudge run`: after each committed batch
 * the engine kicks the deliverer, which sends what that batch queued
 * through its own store connection while the engine reads on.  The
 * exactly-once bookkeeping is deliver_outbox's.  The two connections take
 * turns at the write lock (write_turn.h): the engine lets a waiting
 * deliverer in after each commit, and the deliverer needs one write
 * transaction per batch, since the batch it wrote last stays "sending"
 * until its next transaction (deliver_pending).  The WAL checkpoints are
 * run here too, at each kick, so that copying pages back into the database
 * happens beside the engine, not in its commits. */
#include "deliver.h"

#include "log.h"

#include <pthread.h>
#include <stdlib.h>

struct deliverer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    store *store, *engine; /* its own connection; the engine's */
    write_turn *turns;
    deliver_pending pending;
    const char *outbox_path;
    const guard_config *guard;
    deliver_rates *rates;     /* the caller's, used by this thread alone */
    deliver_senders *senders; /* likewise */
    int kicked, stopping, failed, no_retry_wait;
    deliver_counts counts;
    int64_t now_ms; /* the run's clock at the last kick */
};

/* Waits for a kick or the stop; 1 when this is the last round (stopping,
 * and every kick already served). */
static int wait_for_work(deliverer *d, int64_t *now_ms)
{
    pthread_mutex_lock(&d->lock);
    while (!d->kicked && !d->stopping)
        pthread_cond_wait(&d->wake, &d->lock);
    int last = !d->kicked;
    d->kicked = 0;
    *now_ms = d->now_ms;
    pthread_mutex_unlock(&d->lock);
    return last;
}

static void *deliverer_main(void *arg)
{
    deliverer *d = arg;
    int last, rc;
    do {
        deliver_counts counts = {0, 0, 0};
        deliver_options o = {d->outbox_path, 0,         d->guard, d->rates,
                             d->senders,     0,         &d->pending};
        last = wait_for_work(d, &o.now_ms);
        o.finish = last && !__atomic_load_n(&d->no_retry_wait, __ATOMIC_ACQUIRE);
        /* the batch just committed goes into the database file while the
         * engine works on the next one, and before this thread waits for
         * the write lock */
        store_run(d->store, "PRAGMA wal_checkpoint(PASSIVE)", NULL, NULL, 0);
        rc = deliver_outbox(d->store, &o, &counts);
        if (!rc && last) rc = deliver_close(d->store, &d->pending);
        pthread_mutex_lock(&d->lock);
        d->counts.delivered += counts.delivered;
        d->counts.stopped += counts.stopped;
        d->counts.failed += counts.failed;
        d->failed |= rc != 0;
        pthread_mutex_unlock(&d->lock);
    } while (!rc && !last);
    return NULL;
}

deliverer *deliverer_start(store *engine, const char *db_path, const char *outbox_path,
                           const guard_config *guard, deliver_rates *rates,
                           deliver_senders *senders)
{
    char err[600];
    deliverer *d = calloc(1, sizeof *d);
    if (!d || !(d->turns = write_turn_new())) return free(d), NULL;
    d->engine = engine;
    d->outbox_path = outbox_path;
    d->guard = guard;
    d->rates = rates;
    d->senders = senders;
    if (store_open(db_path, &d->store, err, sizeof err)) {
        log_error("%s", err);
        return write_turn_free(d->turns), free(d), NULL;
    }
    /* it reads a batch's messages and a few rows per person: a small cache */
    store_run(d->store, "PRAGMA cache_size = -8000", NULL, NULL, 0);
    store_run(d->store, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, 0);
    store_share_writes(d->store, d->turns, TURN_DELIVERER);
    store_share_writes(engine, d->turns, TURN_ENGINE);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    if (pthread_create(&d->thread, NULL, deliverer_main, d)) {
        log_error("cannot start the delivery thread");
        store_share_writes(engine, NULL, TURN_ENGINE);
        store_close(d->store);
        return write_turn_free(d->turns), free(d), NULL;
    }
    return d;
}

int deliverer_kick(deliverer *d, int64_t now_ms)
{
    pthread_mutex_lock(&d->lock);
    int failed = d->failed;
    d->kicked = 1;
    d->now_ms = now_ms;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    return failed ? -1 : 0;
}

void deliverer_skip_retry_wait(deliverer *d)
{
    __atomic_store_n(&d->no_retry_wait, 1, __ATOMIC_RELEASE);
}

int deliverer_finish(deliverer *d, deliver_counts *counts)
{
    if (!d) return 0;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    int rc = d->failed ? -1 : 0;
    counts->delivered += d->counts.delivered;
    counts->stopped += d->counts.stopped;
    counts->failed += d->counts.failed;
    store_close(d->store);
    store_share_writes(d->engine, NULL, TURN_ENGINE);
    write_turn_free(d->turns);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    free(d);
    return rc;
}
