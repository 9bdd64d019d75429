/* The token bucket as a generic cell rate algorithm: `due_ns` is when the
 * bucket would be full again.  A take is allowed while that lies no more
 * than burst - 1 tokens ahead of now, and moves it one token on. */
#include "bucket.h"

#include <math.h>

#define BUCKET_MAX_NS 100000000000000000LL /* 1e17 ns, about 3 years */

/* x nanoseconds rounded, kept within [lo, BUCKET_MAX_NS]; NaN gives lo. */
static int64_t clamp_ns(double x, int64_t lo)
{
    if (!(x >= (double)lo)) return lo;
    if (x >= (double)BUCKET_MAX_NS) return BUCKET_MAX_NS;
    return (int64_t)llround(x);
}

void bucket_init(bucket *b, double rate_per_s, double burst)
{
    if (!(burst > 0)) burst = rate_per_s > 1 ? rate_per_s : 1;
    if (burst < 1) burst = 1;
    b->interval_ns = clamp_ns(1e9 / rate_per_s, 1);
    b->slack_ns = clamp_ns((burst - 1) * (double)b->interval_ns, 0);
    b->due_ns = INT64_MIN;
}

int64_t bucket_take(bucket *b, int64_t now_ns)
{
    /* an empty bucket's due time is now: the tokens of a long gap are
     * capped at burst by never letting due_ns fall behind the clock */
    int64_t due = b->due_ns > now_ns ? b->due_ns : now_ns;
    int64_t ahead = due - now_ns; /* >= 0, at most slack + interval */
    if (ahead > b->slack_ns) return ahead - b->slack_ns;
    b->due_ns = due > INT64_MAX - b->interval_ns ? INT64_MAX : due + b->interval_ns;
    return 0;
}
