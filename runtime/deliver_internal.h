/* What the two halves of network delivery share: deliver_compose.c makes
 * a message's address, rendered templates and unsubscribe link;
 * deliver_send.c runs it through the adapters and the senders. */
#ifndef NUDGE_DELIVER_INTERNAL_H
#define NUDGE_DELIVER_INTERNAL_H
#include "adapters.h"
#include "deliver.h"
#include "privacy.h"
#include "sender.h"
#include "unsubscribe.h"

#include <cJSON.h>

#define TEMPLATE_CACHE 64 /* template files kept per delivery round */

struct deliver_senders {
    adapters *adapters;
    sender *sender;
    privacy *privacy;
    unsigned char unsub_key[UNSUB_KEY_LEN];
    const channel_config *channels; /* the config's, all of them */
    int channel_count;
    cJSON **settings; /* each channel's settings, parsed */
    int *limits;      /* each channel's concurrency, for sender_run */
    int64_t now_ms;   /* the run's clock: the computed traits templates see (0: wall) */
    struct {
        char *path, *text; /* text NULL: no such file */
    } cache[TEMPLATE_CACHE];
    int cached;
};

/* A message made ready for its adapter. */
typedef struct composed {
    char *to, *subject, *text, *html;
    char *unsubscribe_url, *list_unsubscribe;
    char reason[32];  /* when it cannot be made: "no_address", "template" */
    char detail[600]; /* and why, for the outbox's response */
} composed;

/* Composes M for channel CH (index CHANNEL): 0, 1 when the message cannot
 * be made (reason and detail set: a permanent failure), -1 on a store
 * error. */
int compose_message(deliver_senders *d, store *s, const outbox_message *m, int channel,
                    composed *out);
void composed_free(composed *c);

/* An email channel (I: its index) must say where its one-click
 * unsubscribe link points: 0, or -1 with ERR naming the channel's key. */
int deliver_check_email_channel(const deliver_senders *d, int i, char *err,
                                size_t err_len);

/* Forgets the template files read so far (each round reads them again). */
void compose_forget_templates(deliver_senders *d);

#endif
