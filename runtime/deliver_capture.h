/* Delivery for `nudge test`: every message due passes the second guardrail
 * check and is composed by the senders' own code (deliver_compose.c:
 * address, templates, subject, unsubscribe link), then handed to the
 * caller instead of a provider.  Nothing is ever sent. */
#ifndef NUDGE_DELIVER_CAPTURE_H
#define NUDGE_DELIVER_CAPTURE_H
#include "deliver.h"

struct privacy;

/* One message as it would have gone out.  Strings are borrowed for the
 * callback only. */
typedef struct captured {
    const outbox_message *m;
    const char *status; /* "delivered"; "failed": it could not be composed;
                           "suppressed" (or another guardrail status): stopped
                           at the second check */
    const char *reason; /* why it failed or was stopped; NULL when delivered */
    const char *to, *subject, *text, *html; /* as composed; NULL when none */
} captured;

/* Composing only: opens the adapters of the CHANNELS whose adapter is not
 * "file" or "stdout" for their address kind and whether they send email
 * (no sender, no network; KEY_env settings are not read, so no secret is
 * needed), and reads (or first makes) S's unsubscribe key.  An email
 * channel without an https unsubscribe_url is refused, as `nudge run`
 * refuses it.  *OUT is closed with deliver_senders_close.  0, or -1 with
 * ERR naming the channel and key. */
int deliver_capture_open(const channel_config *channels, int count,
                         struct privacy *privacy, store *s, deliver_senders **out,
                         char *err, size_t err_len);

/* Releases the deferred messages due by NOW_MS, then takes every queued
 * message in id order: the second check of consent and suppression (a
 * stopped one is logged as the deliverer logs it), then composition — for
 * a channel without an adapter only when a template exists, else it keeps
 * its template name and vars — and calls FN with the result; the outbox
 * row becomes delivered, failed (the reason kept as its response) or
 * suppressed at NOW_MS.  Runs inside the caller's transaction.  0, or -1
 * on a store error or when FN returns non-zero. */
int deliver_capture(deliver_senders *d, store *s, const guard_config *guard,
                    int64_t now_ms, int (*fn)(void *ctx, const captured *c), void *ctx);

#endif
