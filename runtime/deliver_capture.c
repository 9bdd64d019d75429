/* Captured delivery for `nudge test`: the deliverer's second check and the
 * senders' composition (compose_message), without a sender.  A message is
 * marked in the throwaway outbox as it would be after a real delivery, so
 * `nudge explain`'s story reads the same. */
#include "deliver_capture.h"

#include "deliver_internal.h"
#include "template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAPTURE_BATCH 1000

static int has_adapter(const channel_config *ch)
{
    return ch->adapter && strcmp(ch->adapter, "file") && strcmp(ch->adapter, "stdout");
}

/* The settings without their KEY_env entries (malloc'd JSON), so that
 * loading an adapter reads no environment variable. */
static char *without_environment(const cJSON *settings)
{
    cJSON *copy = cJSON_Duplicate(settings, 1), *item = copy ? copy->child : NULL;
    while (item) {
        cJSON *next = item->next;
        size_t n = item->string ? strlen(item->string) : 0;
        if (n > 4 && !strcmp(item->string + n - 4, "_env"))
            cJSON_Delete(cJSON_DetachItemViaPointer(copy, item));
        item = next;
    }
    char *text = copy ? cJSON_PrintUnformatted(copy) : NULL;
    cJSON_Delete(copy);
    return text;
}

/* Loads the adapters from copies of the channels without KEY_env. */
static int open_adapters(deliver_senders *d, char *err, size_t err_len)
{
    channel_config *bare = calloc((size_t)d->channel_count + 1, sizeof *bare);
    int rc = bare ? 0 : -1;
    for (int i = 0; !rc && i < d->channel_count; i++) {
        bare[i] = d->channels[i];
        bare[i].settings_json =
            d->settings[i] ? without_environment(d->settings[i]) : NULL;
    }
    if (rc) snprintf(err, err_len, "out of memory");
    if (!rc && !(d->adapters = adapters_open(bare, d->channel_count, err, err_len)))
        rc = -1;
    for (int i = 0; bare && i < d->channel_count; i++)
        free(bare[i].settings_json);
    free(bare);
    return rc;
}

int deliver_capture_open(const channel_config *channels, int count,
                         struct privacy *privacy, store *s, deliver_senders **out,
                         char *err, size_t err_len)
{
    deliver_senders *d = calloc(1, sizeof *d);
    *out = d;
    if (!d || !(d->settings = calloc((size_t)count + 1, sizeof *d->settings)))
        return snprintf(err, err_len, "out of memory"), -1;
    d->channels = channels, d->channel_count = count, d->privacy = privacy;
    for (int i = 0; i < count; i++)
        d->settings[i] =
            cJSON_Parse(channels[i].settings_json ? channels[i].settings_json : "{}");
    if (open_adapters(d, err, err_len)) return -1;
    for (int i = 0; i < count; i++)
        if (deliver_check_email_channel(d, i, err, err_len)) return -1;
    if (privacy && privacy_unsubscribe_key(privacy, s, d->unsub_key))
        return snprintf(err, err_len, "cannot read the unsubscribe key"), -1;
    return 0;
}

static int channel_index(const deliver_senders *d, const char *channel)
{
    for (int i = 0; i < d->channel_count; i++)
        if (!strcmp(d->channels[i].name, channel)) return i;
    return -1;
}

/* Whether M's recipe version has a template for M: its own table, else a
 * text file beside it (what compose_message would find). */
static int has_template(const outbox_message *m)
{
    cJSON *own = m->recipe_templates ? cJSON_Parse(m->recipe_templates) : NULL;
    int found =
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(own, m->template_name), m->channel) != NULL;
    cJSON_Delete(own);
    if (found) return 1;
    char dir[4096] = "";
    const char *recipe = m->recipe_path ? m->recipe_path : "";
    const char *slash = strrchr(recipe, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - recipe), recipe);
    char *path = template_path(dir, m->template_name, m->channel, "txt");
    found = path && access(path, R_OK) == 0;
    free(path);
    return found;
}

/* One queued message: checked, composed, handed to FN, marked. */
static int capture_one(deliver_senders *d, store *s, const guard_config *guard,
                       int64_t now_ms, const outbox_message *m,
                       int (*fn)(void *ctx, const captured *c), void *ctx)
{
    guard_outcome g;
    if (deliver_check_again(s, guard, m, now_ms, now_ms, &g)) return -1;
    if (strcmp(g.status, "queued")) {
        captured stopped = {m, g.status, g.reason, NULL, NULL, NULL, NULL};
        return fn(ctx, &stopped) ? -1 : 0;
    }
    int channel = channel_index(d, m->channel), rc = 0;
    composed parts = {0};
    d->now_ms = now_ms; /* the test's virtual clock, for computed traits */
    if ((channel >= 0 && has_adapter(&d->channels[channel])) || has_template(m))
        rc = compose_message(d, s, m, channel, &parts);
    if (rc >= 0) {
        captured c = {m,
                      rc ? "failed" : "delivered",
                      rc ? parts.detail : NULL,
                      parts.to,
                      parts.subject,
                      parts.text,
                      parts.html};
        rc = store_outbox_outcome(s, m->id, c.status, m->attempts + 1, 0, c.reason,
                                  now_ms) ||
                     fn(ctx, &c)
                 ? -1
                 : 0;
    }
    composed_free(&parts);
    return rc;
}

int deliver_capture(deliver_senders *d, store *s, const guard_config *guard,
                    int64_t now_ms, int (*fn)(void *ctx, const captured *c), void *ctx)
{
    if (store_outbox_release(s, now_ms) < 0) return -1;
    for (;;) {
        outbox_message *msgs = NULL;
        int count = 0, rc = store_outbox_fetch(s, "queued", CAPTURE_BATCH, &msgs, &count);
        for (int i = 0; !rc && i < count; i++)
            rc = capture_one(d, s, guard, now_ms, &msgs[i], fn, ctx);
        store_outbox_free(msgs, count);
        compose_forget_templates(d);
        if (rc) return -1;
        if (count < CAPTURE_BATCH) return 0;
    }
}
