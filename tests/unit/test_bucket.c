/* Unit tests for runtime/bucket.h, the token bucket of the channels' rate
 * limits, on a fake clock: whole nanoseconds, exact answers. */
#include "bucket.h"

#include "unit.h"

#include <stdint.h>

#define MS INT64_C(1000000)
#define SECOND INT64_C(1000000000)

/* How many takes succeed at `now`, stopping at the first refusal (whose
 * wait goes to *wait) or at `most`. */
static int takes(bucket *b, int64_t now, int most, int64_t *wait)
{
    int n = 0;
    *wait = 0;
    while (n < most && (*wait = bucket_take(b, now)) == 0)
        n++;
    return n;
}

static void test_fresh(void)
{
    bucket b;
    int64_t wait;
    bucket_init(&b, 10, 20);
    CHECK(takes(&b, 5 * SECOND, 100, &wait) == 20,
          "fresh: rate 10, burst 20: 20 takes at once");
    CHECK(wait == 100 * MS, "fresh: then the 21st waits 1/rate = 100 ms");
    CHECK(bucket_take(&b, 5 * SECOND) == 100 * MS,
          "fresh: a refused take takes nothing: asking again waits the same");
    CHECK(bucket_take(&b, 5 * SECOND + 40 * MS) == 60 * MS,
          "fresh: 40 ms later the wait is 60 ms");
    CHECK(bucket_take(&b, 5 * SECOND + 100 * MS - 1) == 1,
          "fresh: 1 ns before the token: wait 1 ns");
    CHECK(bucket_take(&b, 5 * SECOND + 100 * MS) == 0, "fresh: after the wait, a take");
    CHECK(bucket_take(&b, 5 * SECOND + 100 * MS) == 100 * MS,
          "fresh: and the next waits 100 ms again");
    bucket_init(&b, 20, 1);
    CHECK(takes(&b, 0, 100, &wait) == 1 && wait == 50 * MS,
          "fresh: rate 20, burst 1: one take, then 50 ms");
    bucket_init(&b, 10, 0);
    CHECK(takes(&b, 0, 100, &wait) == 10 && wait == 100 * MS,
          "default burst: max(1, rate): rate 10 gives 10 at once");
    bucket_init(&b, 0.5, 0);
    CHECK(takes(&b, 0, 100, &wait) == 1 && wait == 2 * SECOND,
          "default burst: max(1, rate): rate 0.5 gives 1 at once");
    bucket_init(&b, 2.5, 0);
    CHECK(takes(&b, 0, 100, &wait) == 2 && wait == 200 * MS,
          "default burst: rate 2.5: burst 2.5, 2 at once, then half a token (200 ms)");
}

static void test_refill(void)
{
    bucket b;
    int64_t wait;
    bucket_init(&b, 10, 5);
    CHECK(takes(&b, 0, 100, &wait) == 5, "refill: burst 5 emptied at 0");
    CHECK(takes(&b, 250 * MS, 100, &wait) == 2 && wait == 50 * MS,
          "refill: 250 ms at 10/s: 2.5 tokens, 2 takes, the 3rd waits 50 ms");
    CHECK(takes(&b, 300 * MS, 100, &wait) == 1 && wait == 100 * MS,
          "refill: continuous: the half token is kept, 50 ms later one more");
    CHECK(takes(&b, 10 * SECOND, 100, &wait) == 5 && wait == 100 * MS,
          "refill: capped at burst: after 10 s idle, 5 takes, not 100");
    CHECK(takes(&b, 10 * SECOND + 150 * MS, 100, &wait) == 1 && wait == 50 * MS,
          "refill: 150 ms after emptying it: 1 take, the next in 50 ms");
    int64_t now = 20 * SECOND;
    int sent = takes(&b, now, 100, &wait);
    for (int i = 0; i < 100; i++) {
        now += wait;
        sent += takes(&b, now, 100, &wait);
    }
    CHECK(sent == 105 && now == 20 * SECOND + 10 * SECOND,
          "refill: taking as the waits allow: burst + rate x elapsed (5 + 100 in 10 s)");
}

static void test_fractional(void)
{
    bucket b;
    int64_t wait;
    bucket_init(&b, 0.5, 1);
    CHECK(bucket_take(&b, 0) == 0, "fractional: 0.5/s: the first take");
    CHECK(bucket_take(&b, 0) == 2 * SECOND, "fractional: 0.5/s: the next waits 2 s");
    CHECK(bucket_take(&b, 2 * SECOND - 1) == 1, "fractional: 1 ns short of 2 s: 1 ns");
    CHECK(bucket_take(&b, 2 * SECOND) == 0, "fractional: at 2 s: a take");
    bucket_init(&b, 1, 2.5);
    CHECK(takes(&b, 0, 100, &wait) == 2 && wait == 500 * MS,
          "fractional burst 2.5 at 1/s: 2 takes, then half a token: 500 ms");
    bucket_init(&b, 3, 1);
    CHECK(takes(&b, 0, 100, &wait) == 1 && wait == 333333333,
          "fractional: 3/s waits 333333333 ns");
    CHECK(bucket_take(&b, wait) == 0,
          "fractional: and the take succeeds after exactly that");
}

static void test_extremes(void)
{
    bucket b;
    int64_t wait;
    bucket_init(&b, 10, 5);
    CHECK(takes(&b, 0, 100, &wait) == 5, "gaps: emptied at 0");
    CHECK(takes(&b, INT64_C(9000000000000000000), 100, &wait) == 5 && wait == 100 * MS,
          "gaps: 285 years later: burst, not more, and the next in 100 ms");
    bucket_init(&b, 10, 5);
    CHECK(takes(&b, INT64_C(9000000000000000000), 100, &wait) == 5 && wait == 100 * MS,
          "gaps: a fresh bucket first used at a huge clock");
    bucket_init(&b, 1e-12, 1);
    CHECK(takes(&b, 0, 100, &wait) == 1 && wait == INT64_C(100000000000000000),
          "extremes: a tiny rate waits at most about 3 years (1e17 ns)");
    bucket_init(&b, 1e12, 1);
    CHECK(takes(&b, 0, 100, &wait) == 1 && wait == 1,
          "extremes: a huge rate: a token a nanosecond");
    bucket_init(&b, 1, 1e30);
    CHECK(takes(&b, 0, 100000, &wait) == 100000,
          "extremes: a huge burst does not overflow");
}

int main(void)
{
    test_fresh();
    test_refill();
    test_fractional();
    test_extremes();
    UNIT_DONE();
}
