/* gen_events: synthetic Segment-format NDJSON for demos, tests and benches.
 * Usage: gen_events --users N --events M --seed S [--start ISO] [--days D].
 * Output is exactly M lines, time-ordered, byte-for-byte stable per arguments. */
#include "tool_args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_PER_SECOND 1000LL
#define MS_PER_MINUTE (60 * MS_PER_SECOND)
#define MS_PER_HOUR (60 * MS_PER_MINUTE)
#define MS_PER_DAY (24 * MS_PER_HOUR)
#define MAX_CART_ITEMS 3
#define MAX_VIEWS_IN_CART_SESSION 6
#define MAX_EVENTS_PER_BROWSE_SESSION 8

/* ---- options ---------------------------------------------------------- */

struct options {
    uint64_t users, events, seed;
    int64_t start_ms;
    int64_t days;
};

/* ---- deterministic randomness (splitmix64) ---------------------------- */

struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static struct rng rng_for(uint64_t seed, uint64_t stream, uint64_t index)
{
    struct rng r = {seed ^ (stream * 0xD1B54A32D192ED03ULL) ^
                    (index * 0x9E3779B97F4A7C15ULL)};
    rng_next(&r);
    return r;
}

/* Uniform in [0, n); n > 0.  Modulo bias is negligible for our small n. */
static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

static int64_t rng_between(struct rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

static int rng_percent(struct rng *r, unsigned percent)
{
    return rng_below(r, 100) < percent;
}

/* ---- fixed vocabularies ----------------------------------------------- */

struct product {
    const char *sku, *name;
    int price_cents;
};

static const struct product CATALOG[] = {
    {"SKU-1001", "Trail Runner Shoes", 8900},
    {"SKU-1002", "Merino Wool Socks", 1800},
    {"SKU-1003", "Rain Shell Jacket", 14900},
    {"SKU-1004", "Insulated Water Bottle", 2900},
    {"SKU-1005", "Canvas Daypack", 5900},
    {"SKU-1006", "Packable Down Vest", 11900},
    {"SKU-1007", "Running Cap", 2200},
    {"SKU-1008", "Headlamp 300", 3900},
    {"SKU-1009", "Cork Yoga Mat", 4900},
    {"SKU-1010", "Enamel Camp Mug", 1400},
    {"SKU-1011", "Fleece Pullover", 6900},
    {"SKU-1012", "Trekking Poles", 9900},
};
static const char *const FIRST_NAMES[] = {
    "Ada",  "Ben",   "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro",
    "Ines", "Jonas", "Kemi",  "Liam",  "Maya", "Noor",  "Oscar", "Priya",
};
static const char *const PLANS[] = {"free", "free", "basic", "pro"};
static const char *const TIMEZONES[] = {
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London",    "Europe/Berlin",   "Asia/Tokyo",     "Australia/Sydney",
};
static const char *const SIGNUP_METHODS[] = {"email", "google", "apple"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- compact event records -------------------------------------------- */

enum event_kind {
    IDENTIFY,
    SIGNED_UP,
    PRODUCT_VIEWED,
    PRODUCT_ADDED,
    CHECKOUT_STARTED,
    ORDER_COMPLETED
};

struct cart {
    uint8_t count;
    uint8_t product[MAX_CART_ITEMS];
    uint8_t quantity[MAX_CART_ITEMS];
};

struct traits {
    uint8_t first_name, plan, timezone, sms_consent;
};

/* One output line, 24 bytes; the JSON is rendered only when printing. */
struct event_rec {
    int64_t at_ms; /* offset from the user's first event, then absolute */
    uint32_t user;
    uint32_t seq; /* position in the user's own journey */
    uint8_t kind;
    union {
        struct cart cart; /* PRODUCT_*: product[0]; CHECKOUT/ORDER: whole cart */
        struct traits traits;
        uint8_t signup_method;
    } detail;
};

struct event_list {
    struct event_rec *items;
    size_t count, capacity;
};

/* Appends an event for `user` at offset `at_ms` and returns it for details. */
static struct event_rec *emit(struct event_list *list, uint32_t user, int64_t at_ms,
                              enum event_kind kind)
{
    if (list->count == list->capacity) {
        fprintf(stderr, "gen_events: internal error: event budget exceeded\n");
        exit(1);
    }
    struct event_rec *e = &list->items[list->count++];
    memset(e, 0, sizeof *e);
    e->at_ms = at_ms;
    e->user = user;
    e->kind = (uint8_t)kind;
    return e;
}

/* ---- per-user journey builder ----------------------------------------- */

enum journey_kind { BUYER, ABANDONER, REENTRY, BROWSER, IDENTIFY_ONLY };

/* What one user's timeline is being built from. */
struct journey {
    struct rng rng;
    struct event_list *out;
    size_t first; /* index of the user's first record in out */
    uint32_t user;
    int64_t now_ms;
    struct cart cart;
    uint8_t last_viewed;
};

static void journey_emit(struct journey *j, enum event_kind kind, int64_t gap_ms)
{
    j->now_ms += gap_ms;
    struct event_rec *e = emit(j->out, j->user, j->now_ms, kind);
    e->seq = (uint32_t)(j->out->count - 1 - j->first);
    if (kind == CHECKOUT_STARTED || kind == ORDER_COMPLETED) e->detail.cart = j->cart;
}

/* A gap between two clicks of one visit: 15 s to 4 min. */
static int64_t click_gap(struct journey *j)
{
    return rng_between(&j->rng, 15 * MS_PER_SECOND, 4 * MS_PER_MINUTE);
}

static void view_product(struct journey *j)
{
    j->last_viewed = (uint8_t)rng_below(&j->rng, COUNT_OF(CATALOG));
    journey_emit(j, PRODUCT_VIEWED, click_gap(j));
    j->out->items[j->out->count - 1].detail.cart.product[0] = j->last_viewed;
}

/* Puts `qty` of `product` in the cart: one more line, or a bigger quantity. */
static void cart_put(struct cart *cart, uint8_t product, uint8_t qty)
{
    for (int i = 0; i < cart->count; i++) {
        if (cart->product[i] == product) {
            cart->quantity[i] = (uint8_t)(cart->quantity[i] + qty);
            return;
        }
    }
    if (cart->count == MAX_CART_ITEMS)
        cart->count = 0; /* starts over with a fresh cart */
    cart->product[cart->count] = product;
    cart->quantity[cart->count] = qty;
    cart->count++;
}

/* Adds the product last viewed to the cart. */
static void add_product(struct journey *j)
{
    uint8_t product = j->last_viewed;
    uint8_t qty = rng_percent(&j->rng, 80) ? 1 : (uint8_t)rng_between(&j->rng, 2, 3);
    cart_put(&j->cart, product, qty);
    journey_emit(j, PRODUCT_ADDED, click_gap(j));
    struct cart *c = &j->out->items[j->out->count - 1].detail.cart;
    c->product[0] = product;
    c->quantity[0] = qty;
}

static void identify(struct journey *j)
{
    journey_emit(j, IDENTIFY, 0);
    struct traits *t = &j->out->items[j->out->count - 1].detail.traits;
    t->first_name = (uint8_t)rng_below(&j->rng, COUNT_OF(FIRST_NAMES));
    t->plan = (uint8_t)rng_below(&j->rng, COUNT_OF(PLANS));
    t->timezone = (uint8_t)rng_below(&j->rng, COUNT_OF(TIMEZONES));
    t->sms_consent = (uint8_t)rng_percent(&j->rng, 60);
}

static void signed_up(struct journey *j)
{
    journey_emit(j, SIGNED_UP,
                 rng_between(&j->rng, 2 * MS_PER_SECOND, 30 * MS_PER_SECOND));
    j->out->items[j->out->count - 1].detail.signup_method =
        (uint8_t)rng_below(&j->rng, COUNT_OF(SIGNUP_METHODS));
}

/* Browsing visits (views, some adds, never a checkout), `events` in all. */
static void browse_sessions(struct journey *j, uint64_t events)
{
    int first_visit = 1;
    while (events > 0) {
        uint64_t visit = 1 + rng_below(&j->rng, MAX_EVENTS_PER_BROWSE_SESSION);
        if (visit > events) visit = events;
        if (!first_visit)
            j->now_ms += rng_between(&j->rng, 2 * MS_PER_HOUR, 2 * MS_PER_DAY);
        first_visit = 0;
        view_product(j);
        for (uint64_t i = 1; i < visit; i++) {
            if (rng_percent(&j->rng, 25))
                add_product(j);
            else
                view_product(j);
        }
        events -= visit;
    }
    j->cart.count = 0; /* a browser's cart is left behind */
}

/* A visit that ends at checkout: `views` views, one add, Checkout Started. */
static void checkout_session(struct journey *j, uint64_t views)
{
    j->cart.count = 0;
    j->last_viewed = (uint8_t)rng_below(&j->rng, COUNT_OF(CATALOG));
    for (uint64_t i = 0; i < views; i++) {
        if (i > 0 && rng_percent(&j->rng, 30))
            add_product(j);
        else
            view_product(j);
    }
    add_product(j);
    journey_emit(j, CHECKOUT_STARTED, click_gap(j));
}

/* ---- choosing a journey that fits the user's event budget and window --- */

struct plan {
    enum journey_kind kind;
    int signs_up, late_order;
    uint64_t extras; /* events beyond the journey's required ones */
};

/* Required events after identify: add + checkout (+ order), twice for re-entry. */
static uint64_t core_events(enum journey_kind kind, int late_order)
{
    switch (kind) {
    case BUYER:
        return 3;
    case ABANDONER:
        return 2 + (uint64_t)late_order;
    case REENTRY:
        return 4;
    case BROWSER:
        return 1;
    default:
        return 0;
    }
}

static struct plan choose_plan(struct rng *r, uint64_t after_identify, int64_t days)
{
    struct plan p = {IDENTIFY_ONLY, 0, 0, 0};
    if (after_identify == 0) return p;
    uint64_t roll = rng_below(r, 100);
    p.kind = roll < 30 ? BUYER : roll < 70 ? ABANDONER : roll < 80 ? REENTRY : BROWSER;
    p.late_order = p.kind == ABANDONER && days >= 3 && rng_percent(r, 35);
    if (p.kind == REENTRY && days < 12) p.kind = ABANDONER;
    if (core_events(p.kind, p.late_order) > after_identify) p.late_order = 0;
    if (p.kind == REENTRY && core_events(p.kind, 0) > after_identify) p.kind = ABANDONER;
    if (core_events(p.kind, p.late_order) > after_identify) p.kind = BROWSER;
    p.extras = after_identify - core_events(p.kind, p.late_order);
    p.signs_up = p.extras > 0 && rng_percent(r, 15);
    p.extras -= (uint64_t)p.signs_up;
    return p;
}

/* Splits the extra events between visits before checkout and views within it. */
static uint64_t views_in_session(struct rng *r, uint64_t *extras)
{
    uint64_t views = *extras == 0 ? 0 : rng_below(r, MAX_VIEWS_IN_CART_SESSION + 1);
    if (views > *extras) views = *extras;
    *extras -= views;
    return views;
}

/* Re-entry: abandons, browses a little, abandons again 8-10 days later. */
static void abandon_again(struct journey *j, uint64_t views, uint64_t browse_events)
{
    int64_t second_checkout_ms =
        j->now_ms + rng_between(&j->rng, 8 * MS_PER_DAY, 10 * MS_PER_DAY);
    if (browse_events > 0) {
        j->now_ms += rng_between(&j->rng, 2 * MS_PER_HOUR, 2 * MS_PER_DAY);
        browse_sessions(j, browse_events);
    }
    if (j->now_ms < second_checkout_ms) j->now_ms = second_checkout_ms;
    checkout_session(j, views);
}

static void run_plan(struct journey *j, struct plan p)
{
    identify(j);
    if (p.kind == IDENTIFY_ONLY) return;
    if (p.signs_up) signed_up(j);
    j->now_ms += rng_between(&j->rng, 1 * MS_PER_MINUTE, 6 * MS_PER_HOUR);
    if (p.kind == BROWSER) {
        browse_sessions(j, p.extras + 1);
        return;
    }
    uint64_t first_views = views_in_session(&j->rng, &p.extras);
    uint64_t second_views = p.kind == REENTRY ? views_in_session(&j->rng, &p.extras) : 0;
    if (p.kind != REENTRY && p.extras > 0) {
        browse_sessions(j, p.extras);
        j->now_ms += rng_between(&j->rng, 1 * MS_PER_HOUR, 1 * MS_PER_DAY);
    }
    checkout_session(j, first_views);
    if (p.kind == BUYER)
        journey_emit(j, ORDER_COMPLETED,
                     rng_between(&j->rng, 2 * MS_PER_MINUTE, 25 * MS_PER_MINUTE));
    if (p.late_order)
        journey_emit(j, ORDER_COMPLETED,
                     rng_between(&j->rng, 1 * MS_PER_DAY, 2 * MS_PER_DAY));
    if (p.kind == REENTRY) abandon_again(j, second_views, p.extras);
}

/* ---- one user's events, placed inside the time window ----------------- */

/* Events for user u: M/N each, with pairs of users trading a few so that
 * journeys differ in length while the total stays exactly M. */
static uint64_t user_budget(const struct options *o, uint64_t u)
{
    uint64_t base = o->events / o->users, remainder = o->events % o->users;
    uint64_t pair = u / 2, even = pair * 2, odd = even + 1;
    uint64_t even_budget = base + (even < remainder),
             odd_budget = base + (odd < remainder);
    if (odd >= o->users) return even_budget;
    uint64_t smaller = even_budget < odd_budget ? even_budget : odd_budget;
    int64_t room = smaller > 5 ? (int64_t)(smaller - 5) : 0;
    struct rng r = rng_for(o->seed, 2, pair);
    int64_t shift = room > 0 ? rng_between(&r, -room, room) : 0;
    return u == even ? (uint64_t)((int64_t)even_budget + shift)
                     : (uint64_t)((int64_t)odd_budget - shift);
}

/* Moves the user's events (offsets from 0) to absolute times in the window;
 * a journey longer than the window (tiny --days, huge budgets) is squeezed. */
static void place_in_window(struct journey *j, const struct options *o)
{
    struct event_rec *first = &j->out->items[j->first];
    size_t count = j->out->count - j->first;
    int64_t window_ms = o->days * MS_PER_DAY;
    int64_t span_ms = first[count - 1].at_ms;
    int64_t offset_ms = 0;
    if (span_ms >= window_ms) {
        double squeeze = (double)(window_ms - 1) / (double)span_ms;
        for (size_t i = 0; i < count; i++)
            first[i].at_ms = (int64_t)((double)first[i].at_ms * squeeze);
    } else {
        offset_ms = (int64_t)rng_below(&j->rng, (uint64_t)(window_ms - span_ms));
    }
    for (size_t i = 0; i < count; i++)
        first[i].at_ms += o->start_ms + offset_ms;
}

static void generate_user(struct event_list *out, const struct options *o, uint64_t u)
{
    uint64_t budget = user_budget(o, u);
    if (budget == 0) return;
    struct journey j = {.rng = rng_for(o->seed, 1, u),
                        .out = out,
                        .first = out->count,
                        .user = (uint32_t)u};
    struct plan p = choose_plan(&j.rng, budget - 1, o->days);
    run_plan(&j, p);
    place_in_window(&j, o);
}

static int by_time_then_user(const void *a, const void *b)
{
    const struct event_rec *x = a, *y = b;
    if (x->at_ms != y->at_ms) return x->at_ms < y->at_ms ? -1 : 1;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* ---- rendering -------------------------------------------------------- */

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static int64_t days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void print_timestamp(FILE *out, int64_t at_ms)
{
    int64_t days = at_ms / MS_PER_DAY, ms_of_day = at_ms % MS_PER_DAY;
    if (ms_of_day < 0) ms_of_day += MS_PER_DAY, days--;
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    fprintf(out, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", year, month, day,
            (int)(ms_of_day / MS_PER_HOUR), (int)(ms_of_day / MS_PER_MINUTE % 60),
            (int)(ms_of_day / MS_PER_SECOND % 60), (int)(ms_of_day % MS_PER_SECOND));
}

static void print_money(FILE *out, long cents)
{
    fprintf(out, "%ld.%02ld", cents / 100, cents % 100);
}

static long cart_total_cents(const struct cart *c)
{
    long total = 0;
    for (int i = 0; i < c->count; i++)
        total += (long)CATALOG[c->product[i]].price_cents * c->quantity[i];
    return total;
}

/* {"sku":..,"name":..,"price":..} without the closing brace. */
static void print_product_fields(FILE *out, uint8_t product)
{
    const struct product *p = &CATALOG[product];
    fprintf(out, "{\"product_id\":\"p%s\",\"sku\":\"%s\",\"name\":\"%s\",\"price\":",
            p->sku + 4, p->sku, p->name);
    print_money(out, p->price_cents);
}

static void print_cart(FILE *out, const struct cart *c)
{
    fputs("{\"products\":[", out);
    for (int i = 0; i < c->count; i++) {
        if (i > 0) fputc(',', out);
        print_product_fields(out, c->product[i]);
        fprintf(out, ",\"quantity\":%d}", c->quantity[i]);
    }
    fputs("],\"revenue\":", out);
    print_money(out, cart_total_cents(c));
    fputs(",\"currency\":\"USD\"}", out);
}

static void print_identify_traits(FILE *out, const struct traits *t)
{
    fprintf(out,
            ",\"traits\":{\"first_name\":\"%s\",\"plan\":\"%s\",\"timezone\":\"%s\","
            "\"consent\":{\"sms\":%s,\"email\":true}}}\n",
            FIRST_NAMES[t->first_name], PLANS[t->plan], TIMEZONES[t->timezone],
            t->sms_consent ? "true" : "false");
}

static void print_track_properties(FILE *out, const struct event_rec *e, int id_width)
{
    fputs(",\"properties\":", out);
    switch (e->kind) {
    case SIGNED_UP:
        fprintf(out, "{\"method\":\"%s\"}", SIGNUP_METHODS[e->detail.signup_method]);
        break;
    case PRODUCT_VIEWED:
        print_product_fields(out, e->detail.cart.product[0]);
        fputc('}', out);
        break;
    case PRODUCT_ADDED:
        print_product_fields(out, e->detail.cart.product[0]);
        fprintf(out, ",\"quantity\":%d}", e->detail.cart.quantity[0]);
        break;
    case CHECKOUT_STARTED:
        print_cart(out, &e->detail.cart);
        break;
    default:
        fprintf(out,
                "{\"order_id\":\"o%0*" PRIu32 "-%" PRIu32 "\",\"revenue\":", id_width,
                e->user, e->seq);
        print_money(out, cart_total_cents(&e->detail.cart));
        fputs(",\"currency\":\"USD\"}", out);
    }
    fputs("}\n", out);
}

static const char *const EVENT_NAMES[] = {
    [SIGNED_UP] = "Signed Up",
    [PRODUCT_VIEWED] = "Product Viewed",
    [PRODUCT_ADDED] = "Product Added",
    [CHECKOUT_STARTED] = "Checkout Started",
    [ORDER_COMPLETED] = "Order Completed",
};

static void print_event(FILE *out, const struct event_rec *e, uint64_t seed, int id_width)
{
    if (e->kind == IDENTIFY)
        fputs("{\"type\":\"identify\"", out);
    else
        fprintf(out, "{\"type\":\"track\",\"event\":\"%s\"", EVENT_NAMES[e->kind]);
    fprintf(out,
            ",\"messageId\":\"gen-%" PRIu64 "-%0*" PRIu32 "-%" PRIu32
            "\",\"userId\":\"u%0*" PRIu32 "\",",
            seed, id_width, e->user, e->seq, id_width, e->user);
    fputs("\"timestamp\":\"", out);
    print_timestamp(out, e->at_ms);
    fputc('"', out);
    if (e->kind == IDENTIFY)
        print_identify_traits(out, &e->detail.traits);
    else
        print_track_properties(out, e, id_width);
}

/* ---- command line ------------------------------------------------------ */

static void usage(const char *why)
{
    if (why) fprintf(stderr, "gen_events: %s\n", why);
    fprintf(stderr, "usage: gen_events --users N --events M --seed S"
                    " [--start 2026-11-02T00:00:00Z] [--days D]\n");
    exit(2);
}

static uint64_t parse_count(const char *text, const char *flag, uint64_t min,
                            uint64_t max)
{
    return tool_parse_count("gen_events", text, flag, min, max);
}

/* "YYYY-MM-DDTHH:MM:SSZ" (optionally with .mmm) to epoch milliseconds. */
static int64_t parse_start(const char *text)
{
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0,
        used = 0;
    if (!text || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour,
                        &minute, &second, &used) != 6)
        usage("--start must look like 2026-11-02T00:00:00Z");
    const char *rest = text + used;
    if (rest[0] == '.' && sscanf(rest, ".%3d%n", &millis, &used) == 1) rest += used;
    if (strcmp(rest, "Z") != 0 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour > 23 || minute > 59 || second > 59 || year < 1970)
        usage("--start must be a UTC time like 2026-11-02T00:00:00Z");
    int64_t days = days_from_civil(year, month, day);
    return days * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE +
           second * MS_PER_SECOND + millis;
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {0, 0, 0, parse_start("2026-11-02T00:00:00Z"), 14};
    int have_users = 0, have_events = 0, have_seed = 0;
    for (int i = 1; i < argc; i += 2) { /* each flag takes a value */
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--users") == 0)
            o.users = parse_count(value, flag, 1, UINT32_MAX), have_users = 1;
        else if (strcmp(flag, "--events") == 0)
            o.events = parse_count(value, flag, 0, 500000000), have_events = 1;
        else if (strcmp(flag, "--seed") == 0)
            o.seed = parse_count(value, flag, 0, UINT64_MAX), have_seed = 1;
        else if (strcmp(flag, "--start") == 0)
            o.start_ms = parse_start(value);
        else if (strcmp(flag, "--days") == 0)
            o.days = (int64_t)parse_count(value, flag, 1, 3650);
        else if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0)
            usage(NULL);
        else
            usage("unknown argument");
    }
    if (!have_users || !have_events || !have_seed)
        usage("--users, --events and --seed are required");
    return o;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    struct event_list events = {calloc(o.events ? o.events : 1, sizeof(struct event_rec)),
                                0, o.events};
    if (!events.items) {
        fprintf(stderr, "gen_events: out of memory for %" PRIu64 " events\n", o.events);
        return 1;
    }
    for (uint64_t u = 0; u < o.users && events.count < o.events; u++)
        generate_user(&events, &o, u);
    qsort(events.items, events.count, sizeof(struct event_rec), by_time_then_user);
    int id_width = 5;
    for (uint64_t n = o.users - 1; n >= 100000; n /= 10)
        id_width++;
    static char buffer[1 << 16];
    setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
    for (size_t i = 0; i < events.count; i++)
        print_event(stdout, &events.items[i], o.seed, id_width);
    free(events.items);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_events: stdout");
        return 1;
    }
    return 0;
}
