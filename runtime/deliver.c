/* The file channel, exactly once.  A batch is marked "sending" together
 * with the file's length before the write; after a crash, the lines past
 * that length belong to the unfinished batch, so the file is cut back
 * there and the batch written again.  An exclusive flock on the file keeps
 * two processes from delivering to it at once. */
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

/* Moves the batch from one status to the next; entering "sending", also
 * saves the file's length.  The batch is a run of ids in one status. */
static int mark(store *s, const outbox_message *msgs, int count, const char *from,
                const char *to, int64_t offset)
{
    if (store_begin(s)) return -1;
    if ((!strcmp(to, "sending") && store_meta_set(s, OFFSET_KEY, offset)) ||
        store_outbox_move(s, msgs[0].id, msgs[count - 1].id, from, to, time_wall_ms()))
        return store_rollback(s), -1;
    return store_commit(s);
}

/* Sends one batch with the given status: "sending" (left by a crash) or
 * "queued".  Returns the number delivered, 0 when none, -1 on error. */
static int deliver_batch(store *s, int fd, int is_file, const char *status)
{
    outbox_message *msgs;
    int count, rc = -1;
    if (store_outbox_fetch(s, status, BATCH, &msgs, &count)) return -1;
    if (count == 0) return store_outbox_free(msgs, 0), 0;
    off_t end = is_file ? lseek(fd, 0, SEEK_END) : 0;
    if (!strcmp(status, "sending")) {
        int64_t offset = end;
        if (is_file && store_meta_get(s, OFFSET_KEY, &offset) == 1 && offset < end &&
            ftruncate(fd, (off_t)offset) == 0)
            lseek(fd, (off_t)offset, SEEK_SET);
    } else if (mark(s, msgs, count, "queued", "sending", end)) {
        goto done;
    }
    if (write_batch(fd, msgs, count, is_file)) {
        log_error("file channel: write failed: %m");
        goto done;
    }
    rc = mark(s, msgs, count, "sending", "delivered", 0) ? -1 : count;
done:
    store_outbox_free(msgs, count);
    return rc;
}

/* Deferred messages whose time has come join the queue. */
static int release_due(store *s, int64_t now_ms)
{
    if (store_begin(s)) return -1;
    if (store_outbox_release(s, now_ms) < 0) return store_rollback(s), -1;
    return store_commit(s);
}

int deliver_outbox(store *s, const char *path, int64_t now_ms, long *delivered)
{
    if (release_due(s, now_ms)) return -1;
    int is_file = strcmp(path, "-") != 0;
    int fd = is_file ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)
                     : STDOUT_FILENO;
    if (fd < 0) {
        log_error("file channel: cannot open %s: %m", path);
        return -1;
    }
    if (is_file && flock(fd, LOCK_EX)) { /* another nudge may be delivering */
        log_error("file channel: cannot lock %s: %m", path);
        return close(fd), -1;
    }
    int n;
    while ((n = deliver_batch(s, fd, is_file, "sending")) > 0)
        *delivered += n;
    if (n == 0)
        while ((n = deliver_batch(s, fd, is_file, "queued")) > 0)
            *delivered += n;
    if (is_file) close(fd);
    return n < 0 ? -1 : 0;
}
