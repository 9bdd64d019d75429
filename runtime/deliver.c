/* The outbox's delivery loop, and the file channel, exactly once.  A batch is marked
 * "sending" together with the file's length before the write; after a crash, the lines
 * past that length belong to the unfinished batch, so the file is cut back there and the
 * batch written again.  An exclusive flock on the file keeps two processes from
 * delivering to it at once.
 *
 * Rate limits: a queued batch takes a token per message in id order and
 * ends before the first message whose channel has none, so it stays a run
 * of ids; after it, the deliverer sleeps until that token comes.  A
 * crashed "sending" batch is written again whole without taking tokens:
 * its messages took theirs before the crash, and cutting it would break
 * the saved file length. */
#include "deliver.h"

#include "log.h"
#include "timeutil.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 5000
#define OFFSET_KEY "file_channel_offset"

static char *message_line(const outbox_message *m)
{
    char at[TIME_ISO_LEN];
    time_format_iso8601(m->created_ms, at);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "key", m->idempotency_key);
    cJSON_AddStringToObject(line, "at", at);
    cJSON_AddStringToObject(line, "journey", m->journey);
    cJSON_AddStringToObject(line, "profile", m->profile_id);
    cJSON_AddStringToObject(line, "channel", m->channel);
    cJSON_AddStringToObject(line, "template", m->template_name);
    cJSON *vars = cJSON_Parse(m->vars_json);
    cJSON_AddItemToObject(line, "vars", vars ? vars : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    return text;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        buf += n, len -= (size_t)n;
    }
    return 0;
}

/* Writes the batch as lines in one write and makes them durable. */
static int write_batch(int fd, const outbox_message *msgs, int count, int is_file)
{
    size_t len = 0, cap = 65536;
    char *buf = malloc(cap);
    int rc = buf ? 0 : -1;
    for (int i = 0; i < count && !rc; i++) {
        if (msgs[i].blocked || msgs[i].sent) continue;
        char *text = message_line(&msgs[i]);
        size_t n = text ? strlen(text) : 0;
        if (!text) rc = -1;
        while (!rc && len + n + 1 > cap) {
            char *bigger = realloc(buf, cap *= 2);
            if (bigger)
                buf = bigger;
            else
                rc = -1;
        }
        if (!rc) memcpy(buf + len, text, n), buf[len + n] = '\n', len += n + 1;
        free(text);
    }
    if (!rc) rc = write_all(fd, buf, len);
    free(buf);
    return rc ? -1 : is_file ? fsync(fd) : 0;
}

static guard_message guard_message_of(const outbox_message *m, int64_t now_ms)
{
    guard_message gm = {.profile_id = m->profile_id,
                        .journey = m->journey,
                        .channel = m->channel,
                        .purpose = m->purpose,
                        .now_ms = now_ms};
    return gm;
}

/* The second check, inside the transaction that marks the batch: a
 * message whose person was suppressed or revoked consent since it was
 * queued becomes "suppressed" and is not written.  How many, or -1. */
int deliver_check_again(store *s, const guard_config *guard, const outbox_message *m,
                        int64_t now_ms, int64_t updated_ms, guard_outcome *out)
{
    guard_message gm = guard_message_of(m, now_ms);
    memset(out, 0, sizeof *out);
    out->status = "queued";
    if (!guard) return 0;
    if (guardrails_at_delivery(s, guard, &gm, out)) return -1;
    if (!strcmp(out->status, "queued")) return 0;
    message_log_row row = {m->instance_id, m->profile_id,       m->journey,
                           m->channel,     m->template_name,    out->status,
                           out->reason,    DELIVER_AT_DELIVERY, now_ms};
    return store_outbox_set_status(s, m->id, out->status, updated_ms) ||
                   store_message_log(s, &row)
               ? -1
               : 0;
}

/* The second check over a batch, read only, in the snapshot the batch was
 * read in: marks those it would stop.  Done there, beside the engine, so
 * that the write transaction (while the engine waits) checks again only
 * those.  0 or -1. */
static int screen_read(store *s, const deliver_options *o, outbox_message *msgs,
                       int count)
{
    for (int i = 0; i < count && o->guard; i++) {
        guard_message gm = guard_message_of(&msgs[i], o->now_ms);
        guard_outcome out;
        if (guardrails_at_delivery(s, o->guard, &gm, &out)) return -1;
        msgs[i].blocked = strcmp(out.status, "queued") != 0;
    }
    return 0;
}

/* The marked messages checked again and recorded, in the transaction that
 * marks the batch; a message that passes now goes.  How many stopped, or
 * -1. */
static int screen(store *s, const deliver_options *o, outbox_message *msgs, int count)
{
    int stopped = 0;
    for (int i = 0; i < count && o->guard; i++) {
        guard_outcome out;
        if (!msgs[i].blocked) continue;
        if (deliver_check_again(s, o->guard, &msgs[i], o->now_ms, time_wall_ms(), &out))
            return -1;
        msgs[i].blocked = strcmp(out.status, "queued") != 0;
        stopped += msgs[i].blocked;
    }
    return stopped;
}

/* Marks the batch of P, already in the file, delivered; nothing when P
 * holds none.  Inside the caller's transaction. */
static int close_written(store *s, const deliver_pending *p)
{
    if (!p->last) return 0;
    return store_outbox_move(s, p->first, p->last, "sending", "delivered",
                             time_wall_ms()) < 0
               ? -1
               : 0;
}

/* Deferred messages whose time has come (the run's clock), and retries
 * whose time has come (the wall clock), join the queue.  Inside the
 * caller's transaction. */
static int release_due(store *s, int64_t now_ms)
{
    return store_outbox_release(s, now_ms) < 0 ||
                   store_outbox_release_retries(s, time_wall_ms()) < 0
               ? -1
               : 0;
}

#define MARK_RACED (-2) /* the batch changed since it was read: read it again */

/* The one write transaction of a batch: marks the batch before it (P)
 * delivered, saves the file's length, screens MSGS and moves them from
 * "queued" to "sending", then releases what came due (after the move, so
 * that a released message never joins the batch unread).  COUNT may be 0:
 * only P and the release.  The number screened out, MARK_RACED when the
 * queue no longer holds the batch as read (a person forgotten meanwhile),
 * or -1. */
static int mark_sending(store *s, const deliver_options *o, deliver_pending *p,
                        outbox_message *msgs, int count, int64_t offset)
{
    int stopped = 0, moved = 0;
    if (store_begin(s)) return -1;
    if (close_written(s, p) ||
        (count && (store_meta_set(s, OFFSET_KEY, offset) ||
                   (stopped = screen(s, o, msgs, count)) < 0 ||
                   (moved = store_outbox_move(s, msgs[0].id, msgs[count - 1].id, "queued",
                                              "sending", time_wall_ms())) < 0)) ||
        release_due(s, o->now_ms))
        return store_rollback(s), -1;
    if (moved != count - stopped) return store_rollback(s), MARK_RACED;
    if (store_commit(s)) return store_rollback(s), -1;
    p->first = p->last = 0;
    return stopped;
}

/* ---- rate limits --------------------------------------------------------- */

void deliver_rates_init(deliver_rates *r, const guard_rate *rates, int count)
{
    r->count = 0;
    for (int i = 0; i < count && r->count < GUARD_RULES_MAX; i++, r->count++) {
        snprintf(r->limit[r->count].channel, GUARD_CHANNEL_MAX, "%s", rates[i].channel);
        bucket_init(&r->limit[r->count].bucket, rates[i].rate, rates[i].burst);
    }
}

/* The bucket of CHANNEL, NULL when the channel has no rate. */
static bucket *rate_bucket(deliver_rates *r, const char *channel)
{
    for (int i = 0; i < r->count && channel; i++)
        if (!strcmp(r->limit[i].channel, channel)) return &r->limit[i].bucket;
    return NULL;
}

/* Takes a token for each message in id order, up to the first whose
 * channel has none: how many may go now (a prefix of the run of ids),
 * and in *wait_ns how long until the first left out has its token. */
static int within_rates(deliver_rates *r, const outbox_message *msgs, int count,
                        int64_t *wait_ns)
{
    int64_t now = time_mono_ns();
    *wait_ns = 0;
    for (int i = 0; r && r->count && i < count; i++) {
        bucket *b = rate_bucket(r, msgs[i].channel);
        if (b && (*wait_ns = bucket_take(b, now)) > 0) return i;
    }
    return count;
}

static void pause_ns(int64_t ns)
{
    struct timespec left = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&left, &left) && errno == EINTR)
        ;
}

/* ---- batches ------------------------------------------------------------- */

/* Writes the batch: the senders' messages first, so that their outcomes
 * leave "sending" before the file channel's are marked delivered as a run
 * of ids, then the file channel's lines.  0 or -1. */
static int send_batch(const deliver_options *o, store *s, int fd, int is_file,
                      outbox_message *msgs, int count, deliver_counts *counts)
{
    if (o->senders) deliver_senders_set_clock(o->senders, o->now_ms);
    if (o->senders && deliver_senders_run(o->senders, s, msgs, count, counts)) return -1;
    if (write_batch(fd, msgs, count, is_file)) {
        log_error("file channel: write failed: %m");
        return -1;
    }
    for (int i = 0; i < count; i++)
        counts->delivered += !msgs[i].blocked && !msgs[i].sent;
    return 0;
}

/* Sends again a batch left "sending" by a crash, whole and without taking
 * tokens: the file is cut back to the length saved when it was marked.
 * Returns the number handled, 0 when none, -1 on error. */
static int deliver_unfinished(store *s, const deliver_options *o, int fd, int is_file,
                              deliver_counts *counts)
{
    outbox_message *msgs;
    int count, rc = -1;
    deliver_pending done = {0, 0};
    if (store_outbox_fetch(s, "sending", BATCH, &msgs, &count)) return -1;
    if (count == 0) return store_outbox_free(msgs, 0), 0;
    off_t end = is_file ? lseek(fd, 0, SEEK_END) : 0;
    int64_t offset = end;
    if (is_file && store_meta_get(s, OFFSET_KEY, &offset) == 1 && offset < end &&
        ftruncate(fd, (off_t)offset) == 0)
        lseek(fd, (off_t)offset, SEEK_SET);
    done.first = msgs[0].id, done.last = msgs[count - 1].id;
    if (!send_batch(o, s, fd, is_file, msgs, count, counts) && !deliver_close(s, &done))
        rc = count;
    store_outbox_free(msgs, count);
    return rc;
}

/* The queued batch and the second check's first look, in one read
 * snapshot.  0 or -1. */
static int read_batch(store *s, const deliver_options *o, outbox_message **msgs,
                      int *count)
{
    if (store_snapshot_begin(s)) return -1;
    int rc = store_outbox_fetch(s, "queued", BATCH, msgs, count);
    if (!rc && screen_read(s, o, *msgs, *count)) rc = -1, store_outbox_free(*msgs, *count);
    store_snapshot_end(s);
    return rc;
}

/* Sends the next queued batch within the rates (sleeping for a token
 * first when the first message has none, and after the batch when it left
 * messages out), in one write transaction that also marks the batch
 * before it delivered; the batch sent is left in *P.  With nothing queued,
 * the transaction is only made when P holds a batch and CLOSE is set, or
 * when something is due for release.  Returns the number sent, 1 after a
 * release alone or a race (read the queue again), 0 when done, -1 on
 * error. */
static int deliver_queued(store *s, const deliver_options *o, int fd, int is_file,
                          deliver_pending *p, int close, deliver_counts *counts)
{
    outbox_message *msgs;
    int fetched, count, rc = -1, blocked;
    int64_t wait_ns = 0;
    if (read_batch(s, o, &msgs, &fetched)) return -1;
    if (fetched == 0) {
        store_outbox_free(msgs, 0);
        int due = store_outbox_due(s, o->now_ms, time_wall_ms());
        if (due < 0 || (!due && !(close && p->last))) return due;
        return mark_sending(s, o, p, NULL, 0, 0) < 0 ? -1 : due;
    }
    while ((count = within_rates(o->rates, msgs, fetched, &wait_ns)) == 0)
        pause_ns(wait_ns);
    off_t end = is_file ? lseek(fd, 0, SEEK_END) : 0;
    blocked = mark_sending(s, o, p, msgs, count, end);
    if (blocked == MARK_RACED) rc = 1;
    if (blocked < 0 || send_batch(o, s, fd, is_file, msgs, count, counts)) goto done;
    p->first = msgs[0].id, p->last = msgs[count - 1].id;
    counts->stopped += blocked;
    rc = count;
    if (count < fetched) pause_ns(wait_ns);
done:
    store_outbox_free(msgs, fetched);
    return rc;
}

static int deliver_round(store *s, const deliver_options *o, deliver_counts *counts);

int deliver_outbox(store *s, const deliver_options *o, deliver_counts *counts)
{
    int rc;
    while (!(rc = deliver_round(s, o, counts)) && o->finish) {
        int64_t next = store_outbox_next_retry(s), now = time_wall_ms();
        if (next <= 0 || next - now > DELIVER_RETRY_WAIT_MS) break;
        if (next > now) pause_ns((next - now) * 1000000);
    }
    return rc;
}

int deliver_close(store *s, deliver_pending *p)
{
    if (!p->last) return 0;
    if (store_begin(s) || close_written(s, p) || store_commit(s))
        return store_rollback(s), -1;
    p->first = p->last = 0;
    return 0;
}

/* Opens the file channel's file, locked; -1 (logged) on failure. */
static int open_channel_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_error("file channel: cannot open %s: %m", path);
        return -1;
    }
    if (flock(fd, LOCK_EX)) { /* another nudge may be delivering */
        log_error("file channel: cannot lock %s: %m", path);
        return close(fd), -1;
    }
    return fd;
}

/* One pass over what is due now.  A batch of ours still "sending" (the
 * options' pending) is in the file already; any other was cut off by a
 * crash and goes again first. */
static int deliver_round(store *s, const deliver_options *o, deliver_counts *counts)
{
    deliver_pending own = {0, 0}, *p = o->pending ? o->pending : &own;
    int is_file = strcmp(o->path, "-") != 0, n = 0, first = 1;
    int fd = is_file ? open_channel_file(o->path) : STDOUT_FILENO;
    if (fd < 0) return -1;
    if (!p->last)
        while ((n = deliver_unfinished(s, o, fd, is_file, counts)) > 0)
            ;
    /* a round's first look closes the batch left by the last round: an
     * idle service still marks its last batch delivered at the next kick */
    while (n >= 0 && (n = deliver_queued(s, o, fd, is_file, p, first, counts)) > 0)
        first = 0;
    if (n == 0 && !o->pending) n = deliver_close(s, p);
    if (is_file) close(fd);
    return n < 0 ? -1 : 0;
}
