/* A token bucket for rate limits (SPEC §5): `rate` tokens a second, room
 * for `burst`, one token per message.  Pure arithmetic over a monotonic
 * clock the caller passes in (time_mono_ns), so tests can drive it. */
#ifndef NUDGE_BUCKET_H
#define NUDGE_BUCKET_H
#include <stdint.h>

/* Kept as the time the next token is due (a GCRA, the exact equivalent of
 * a bucket refilled continuously): no fractions of tokens to drift. */
typedef struct bucket {
    int64_t interval_ns; /* time to earn one token: 1 s / rate */
    int64_t slack_ns; /* how far ahead of the clock takes may run: (burst - 1) tokens */
    int64_t due_ns;   /* when the bucket is full again; INT64_MIN: fresh */
} bucket;

/* A full bucket of `burst` tokens (<= 0: max(1, rate)) refilled at
 * `rate_per_s` (> 0) tokens a second.  Times are whole nanoseconds: a
 * token takes at least 1 ns and at most about 3 years to earn, and the
 * burst's extra room is capped at 3 years too. */
void bucket_init(bucket *b, double rate_per_s, double burst);

/* Takes a token at `now_ns` (never earlier than a previous call's): 0 when
 * one was taken, else the nanoseconds (> 0) until one is available, and
 * none is taken.  Taking again after that wait succeeds. */
int64_t bucket_take(bucket *b, int64_t now_ns);

#endif
