/* Unit tests for the file channel's delivery loop (runtime/deliver.c) on a
 * real SQLite file, and for the turns at the write lock
 * (runtime/write_turn.c) with real threads: a batch costs one write
 * transaction, the batch last written stays "sending" until the next one,
 * a crash in between writes it again from the saved length, and a waiting
 * deliverer goes before the engine's next transaction. */
#include "deliver.h"
#include "write_turn.h"

#include "unit.h"
#include "unit_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 INT64_C(1793631600000) /* 2026-11-02T15:00:00Z */

static char dir[64], db_path[128], outbox_path[128];
static int commits;

static int count_commit(void *ctx)
{
    (void)ctx;
    commits++;
    return 0;
}

static store *open_store(void)
{
    store *s = NULL;
    char err[256] = "";
    if (store_open(db_path, &s, err, sizeof err)) printf("# store_open: %s\n", err);
    if (s) sqlite3_commit_hook(store_db(s), count_commit, NULL);
    return s;
}

static void queue(store *s, const char *key)
{
    if (store_outbox_insert(s, key, 1, "cart", "u1", "email", "hello", "{}", T0))
        printf("# cannot queue %s\n", key);
}

static int64_t status_count(store *s, const char *status)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM outbox WHERE status = '%s'", status);
    return query_int(s, sql);
}

/* Lines in the outbox file, and whether every key in it is there once. */
static int file_lines(int *unique)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "sort '%s' | uniq -d | wc -l; wc -l < '%s'", outbox_path,
             outbox_path);
    FILE *p = popen(cmd, "r");
    int dups = -1, lines = -1;
    if (p && fscanf(p, "%d %d", &dups, &lines) != 2) lines = -1;
    if (p) pclose(p);
    *unique = dups == 0;
    return lines;
}

static deliver_options options(deliver_pending *pending)
{
    deliver_options o = {outbox_path, T0, NULL, NULL, NULL, 0, pending};
    return o;
}

static void test_one_transaction_per_batch(void)
{
    store *s = open_store();
    deliver_pending pending = {0, 0};
    deliver_options o = options(&pending);
    deliver_counts counts = {0, 0, 0};
    int unique;
    queue(s, "k1"), queue(s, "k2"), queue(s, "k3");
    commits = 0;
    CHECK(deliver_outbox(s, &o, &counts) == 0 && counts.delivered == 3,
          "pending: the first call delivers 3");
    CHECK(commits == 1, "pending: one write transaction for the batch");
    CHECK(file_lines(&unique) == 3 && unique, "pending: 3 lines in the file");
    CHECK(status_count(s, "sending") == 3 && pending.last > 0,
          "pending: the batch written stays sending, held in pending");
    queue(s, "k4"), queue(s, "k5");
    commits = 0;
    CHECK(deliver_outbox(s, &o, &counts) == 0 && counts.delivered == 5,
          "pending: the second call delivers 2 more");
    CHECK(commits == 1, "pending: still one write transaction for the next batch");
    CHECK(status_count(s, "delivered") == 3 && status_count(s, "sending") == 2,
          "pending: it marked the batch before delivered");
    commits = 0;
    CHECK(deliver_outbox(s, &o, &counts) == 0 && counts.delivered == 5 && commits == 1,
          "pending: an idle call closes the last batch (one transaction)");
    CHECK(status_count(s, "delivered") == 5 && pending.last == 0,
          "pending: all delivered, nothing pending");
    commits = 0;
    CHECK(deliver_outbox(s, &o, &counts) == 0 && commits == 0,
          "pending: with nothing to do no write transaction at all");
    CHECK(deliver_close(s, &pending) == 0 && commits == 0,
          "pending: closing nothing writes nothing");
    store_close(s);
}

/* The process dies after the write, before the next transaction: the next
 * process writes the batch again from the saved length. */
static void test_crash_after_write(void)
{
    store *s = open_store();
    deliver_pending pending = {0, 0};
    deliver_options o = options(&pending);
    deliver_counts counts = {0, 0, 0};
    int unique;
    queue(s, "k6"), queue(s, "k7");
    CHECK(deliver_outbox(s, &o, &counts) == 0 && status_count(s, "sending") == 2,
          "crash: a batch written and left sending");
    store_close(s); /* the crash: pending is lost with the process */
    s = open_store();
    deliver_options fresh = options(NULL);
    counts.delivered = 0;
    CHECK(deliver_outbox(s, &fresh, &counts) == 0 && counts.delivered == 2,
          "crash: the next run writes the batch again");
    CHECK(file_lines(&unique) == 7 && unique, "crash: each key in the file once");
    CHECK(status_count(s, "delivered") == 7 && status_count(s, "sending") == 0,
          "crash: without pending the call closes its batch itself");
    store_close(s);
}

static void test_release_in_the_same_call(void)
{
    store *s = open_store();
    deliver_options o = options(NULL);
    deliver_counts counts = {0, 0, 0};
    queue(s, "k8");
    store_outbox_hold(s, "k8", "marketing", T0 - 1000); /* deferred, due already */
    CHECK(status_count(s, "deferred") == 1, "release: a deferred message");
    CHECK(deliver_outbox(s, &o, &counts) == 0 && counts.delivered == 1,
          "release: a due deferred message goes in the same call");
    CHECK(status_count(s, "delivered") == 8, "release: and is delivered");
    store_close(s);
}

/* ---- turns --------------------------------------------------------------- */

static char order[8];
static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;

static void note(char who)
{
    pthread_mutex_lock(&order_lock);
    order[strlen(order)] = who;
    pthread_mutex_unlock(&order_lock);
}

static void *deliverer_turn(void *arg)
{
    write_turn_enter(arg, TURN_DELIVERER);
    note('D');
    write_turn_leave(arg);
    return NULL;
}

static void test_turns(void)
{
    write_turn *t = write_turn_new();
    pthread_t thread;
    write_turn_enter(t, TURN_ENGINE);
    pthread_create(&thread, NULL, deliverer_turn, t);
    struct timespec pause = {0, 50000000};
    nanosleep(&pause, NULL); /* the deliverer is waiting by now */
    CHECK(order[0] == 0, "turns: the deliverer waits while the engine writes");
    write_turn_leave(t);
    write_turn_enter(t, TURN_ENGINE); /* at once, as the engine does */
    note('E');
    write_turn_leave(t);
    pthread_join(thread, NULL);
    CHECK_STR(order, "DE", "turns: a waiting deliverer goes before the engine's next");
    write_turn_free(t);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/nudge-deliver-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    snprintf(db_path, sizeof db_path, "%s/t.db", dir);
    snprintf(outbox_path, sizeof outbox_path, "%s/outbox.ndjson", dir);
    test_one_transaction_per_batch();
    test_crash_after_write();
    test_release_in_the_same_call();
    test_turns();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) printf("# cannot remove %s\n", dir);
    UNIT_DONE();
}
