/* gen_profiles: synthetic profiles for `nudge profile import` benches and tests.
 * Usage: gen_profiles --count N --seed S [--format csv|ndjson].  CSV has the
 * header id,email,phone,first_name,last_name,plan,city; emails and phones are
 * unique, and the output is byte-for-byte stable per arguments. */
#include "tool_args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COUNT 1000000ULL    /* emails are user + 6 digits */
#define EMAIL_SPACE 1000000ULL  /* user000000 .. user999999 */
#define PHONE_SPACE 10000000ULL /* +1555 and 7 digits */
#define EMAIL_STEP 7919ULL      /* primes, so i -> i * STEP + offset is a bijection */
#define PHONE_STEP 104729ULL

struct options {
    uint64_t count, seed;
    int ndjson;
};

/* ---- deterministic randomness (splitmix64, as in gen_events) ---------- */

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

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

/* ---- fixed vocabularies ----------------------------------------------- */

static const char *const FIRST_NAMES[] = {
    "Ada",  "Ben",   "Chloe", "Diego", "Emma", "Farid", "Grace", "Hiro",
    "Ines", "Jonas", "Kemi",  "Liam",  "Maya", "Noor",  "Oscar", "Priya",
};
static const char *const LAST_NAMES[] = {
    "Garcia", "Okafor", "Nguyen", "Schmidt", "Rossi", "Tanaka", "Silva", "Kowalski",
    "Haddad", "Murphy", "Larsen", "Dubois",  "Novak", "Patel",  "Cohen", "Moreau",
};
static const char *const PLANS[] = {"free", "free", "basic", "pro"};
static const char *const CITIES[] = {
    "New York", "Chicago", "Denver", "Los Angeles", "London", "Berlin", "Tokyo", "Sydney",
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[rng_below((r), COUNT_OF(a))])

/* ---- one profile ------------------------------------------------------ */

struct profile {
    uint64_t index, email_number, phone_number;
    const char *first_name, *last_name, *plan, *city;
};

static struct profile make_profile(const struct options *o, uint64_t i)
{
    struct rng r = {o->seed ^ (i * 0xD1B54A32D192ED03ULL)};
    struct profile p = {
        .index = i,
        .email_number = (i * EMAIL_STEP + o->seed) % EMAIL_SPACE,
        .phone_number = (i * PHONE_STEP + o->seed / 7) % PHONE_SPACE,
    };
    p.first_name = PICK(&r, FIRST_NAMES);
    p.last_name = PICK(&r, LAST_NAMES);
    p.plan = PICK(&r, PLANS);
    p.city = PICK(&r, CITIES);
    return p;
}

static void print_csv(FILE *out, const struct profile *p)
{
    fprintf(out,
            "p%07" PRIu64 ",user%06" PRIu64 "@example.com,+1555%07" PRIu64
            ",%s,%s,%s,%s\n",
            p->index, p->email_number, p->phone_number, p->first_name, p->last_name,
            p->plan, p->city);
}

static void print_ndjson(FILE *out, const struct profile *p)
{
    fprintf(out,
            "{\"userId\":\"p%07" PRIu64 "\",\"traits\":{\"email\":\"user%06" PRIu64
            "@example.com\",\"phone\":\"+1555%07" PRIu64 "\",\"first_name\":\"%s\","
            "\"last_name\":\"%s\",\"plan\":\"%s\",\"city\":\"%s\"}}\n",
            p->index, p->email_number, p->phone_number, p->first_name, p->last_name,
            p->plan, p->city);
}

/* ---- command line ------------------------------------------------------ */

static void usage(const char *why)
{
    if (why) fprintf(stderr, "gen_profiles: %s\n", why);
    fprintf(stderr, "usage: gen_profiles --count N --seed S [--format csv|ndjson]\n");
    exit(2);
}

static uint64_t parse_count(const char *text, const char *flag, uint64_t min,
                            uint64_t max)
{
    return tool_parse_count("gen_profiles", text, flag, min, max);
}

static struct options parse_options(int argc, char **argv)
{
    struct options o = {0, 0, 0};
    int have_count = 0, have_seed = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(flag, "--count") == 0)
            o.count = parse_count(value, flag, 0, MAX_COUNT), have_count = 1;
        else if (strcmp(flag, "--seed") == 0)
            o.seed = parse_count(value, flag, 0, UINT64_MAX), have_seed = 1;
        else if (strcmp(flag, "--format") == 0 && value && strcmp(value, "csv") == 0)
            o.ndjson = 0;
        else if (strcmp(flag, "--format") == 0 && value && strcmp(value, "ndjson") == 0)
            o.ndjson = 1;
        else if (strcmp(flag, "-h") == 0 || strcmp(flag, "--help") == 0)
            usage(NULL);
        else
            usage(strcmp(flag, "--format") ? "unknown argument"
                                           : "--format must be csv or ndjson");
    }
    if (!have_count || !have_seed) usage("--count and --seed are required");
    return o;
}

int main(int argc, char **argv)
{
    struct options o = parse_options(argc, argv);
    static char buffer[1 << 16];
    setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
    if (!o.ndjson) fputs("id,email,phone,first_name,last_name,plan,city\n", stdout);
    for (uint64_t i = 0; i < o.count; i++) {
        struct profile p = make_profile(&o, i);
        if (o.ndjson)
            print_ndjson(stdout, &p);
        else
            print_csv(stdout, &p);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_profiles: stdout");
        return 1;
    }
    return 0;
}
